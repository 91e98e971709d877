/* The CUDA allocators through the real plugin: device blocks are reused from the cache,
 * stats follow, pinned memory is page-locked host memory, an impossible request fails with
 * the explanation and the allocator keeps working. Exit 77 (skipped) without a GPU. */
#include <stdint.h>

#include "gpu/cuda.h"
#include "sbtest.h"
#include "tensor/tensor.h"

#define MiB ((size_t)1 << 20)

static void test_device_allocator_caches_and_counts(void)
{
    const sb_allocator *a = sb_cuda_device_allocator();
    sb_device dev = {SB_DEVICE_CUDA, 0};
    sb_cuda_empty_cache();
    sb_cuda_memory_stats s0, s1, s2;
    sb_cuda_memory_stats_get(0, &s0);
    void *p = a->alloc(a->ctx, 8 * MiB, dev);
    SB_CHECK(p != NULL);
    sb_cuda_memory_stats_get(0, &s1);
    SB_CHECK(s1.allocated == s0.allocated + 8 * MiB);
    SB_CHECK(s1.reserved >= s1.allocated);
    a->free(a->ctx, p, 8 * MiB, dev);
    void *q = a->alloc(a->ctx, 8 * MiB, dev);
    SB_CHECK(q == p); /* the cached block comes back */
    a->free(a->ctx, q, 8 * MiB, dev);
    for (int i = 0; i < 1000; i++) {
        void *r = a->alloc(a->ctx, (size_t)(i % 7 + 1) * 300000, dev);
        SB_CHECK(r != NULL);
        a->free(a->ctx, r, 0, dev);
    }
    sb_cuda_memory_stats_get(0, &s2);
    SB_CHECK(s2.allocated == s0.allocated);
    SB_CHECK(s2.reserved <= s1.reserved + 8 * MiB);
    SB_CHECK(sb_cuda_empty_cache() == SB_OK);
}

static void test_oversized_request_explains_and_recovers(void)
{
    const sb_allocator *a = sb_cuda_device_allocator();
    sb_device dev = {SB_DEVICE_CUDA, 0};
    void *p = a->alloc(a->ctx, (size_t)1 << 46, dev);
    SB_CHECK(p == NULL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "CUDA out of memory on cuda:0: tried to allocate");
    SB_CHECK_STR_CONTAINS(sb_error_message(), "free of");
    void *q = a->alloc(a->ctx, MiB, dev);
    SB_CHECK(q != NULL);
    a->free(a->ctx, q, MiB, dev);
}

static void test_pinned_memory_is_host_memory(void)
{
    const sb_allocator *a = sb_cuda_pinned_allocator();
    SB_CHECK(a != NULL);
    if (!a) return;
    unsigned char *p = a->alloc(a->ctx, 3 * MiB, SB_CPU);
    SB_CHECK(p != NULL);
    if (!p) return;
    for (size_t i = 0; i < 3 * MiB; i += 4096)
        p[i] = (unsigned char)i; /* writable */
    a->free(a->ctx, p, 3 * MiB, SB_CPU);
}

static void test_missing_device_is_named(void)
{
    int n = sb_cuda_device_count();
    SB_CHECK(sb_cuda_require(n) == SB_EDEVICE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "does not exist");
}

int main(void)
{
    if (!sb_cuda_available()) {
        fprintf(stderr, "skipped: %s\n", sb_cuda_unavailable_reason());
        return 77;
    }
    SB_RUN(test_device_allocator_caches_and_counts);
    SB_RUN(test_oversized_request_explains_and_recovers);
    SB_RUN(test_pinned_memory_is_host_memory);
    SB_RUN(test_missing_device_is_named);
    return sb_test_summary();
}
