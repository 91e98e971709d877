/* The GPU host layer without a GPU: the plugin handshake refuses a plugin whose tables differ
 * from the engine's (each table, by size and by fingerprint), naming the table; the CUDA
 * tensor backend comes through the loader the layer installs, and without a GPU it says why. */
#include <string.h>

#include "gpu/cuda.h"
#include "gpu/cuda_plugin.h"
#include "sbtest.h"
#include "tensor/backend.h"

static const char *const table_words[SB_CUDA_TABLE_COUNT] = {
    [SB_CUDA_TABLE_HOST] = "host callbacks table (struct sb_cuda_host",
    [SB_CUDA_TABLE_PLUGIN] = "plugin table (struct sb_cuda_plugin",
    [SB_CUDA_TABLE_TENSOR] = "tensor kernel table (struct sb_backend",
    [SB_CUDA_TABLE_NN] = "nn kernel table (struct sb_nn_backend",
};

static void test_engine_tables_match_themselves(void)
{
    sb_cuda_tables_abi same = *sb_cuda_engine_tables();
    SB_CHECK(sb_cuda_check_tables(&same) == SB_OK);
}

static void test_every_table_size_is_checked(void)
{
    for (int i = 0; i < SB_CUDA_TABLE_COUNT; i++) {
        sb_cuda_tables_abi stale = *sb_cuda_engine_tables();
        stale.tables[i].size += sizeof(void *); /* one more kernel than the engine knows */
        SB_CHECK(sb_cuda_check_tables(&stale) == SB_EDEVICE);
        SB_CHECK_STR_CONTAINS(sb_error_message(), table_words[i]);
        SB_CHECK_STR_CONTAINS(sb_error_message(), "bytes, this engine's");
    }
}

static void test_every_table_fingerprint_is_checked(void)
{
    for (int i = 0; i < SB_CUDA_TABLE_COUNT; i++) {
        sb_cuda_tables_abi stale = *sb_cuda_engine_tables();
        stale.tables[i].fingerprint ^= 1; /* same size, other headers (an op enum reordered) */
        SB_CHECK(sb_cuda_check_tables(&stale) == SB_EDEVICE);
        SB_CHECK_STR_CONTAINS(sb_error_message(), table_words[i]);
        SB_CHECK_STR_CONTAINS(sb_error_message(), "was compiled from other headers");
    }
}

static void test_descriptor_of_another_layout_is_refused(void)
{
    sb_cuda_tables_abi other = *sb_cuda_engine_tables();
    other.magic = 0;
    SB_CHECK(sb_cuda_check_tables(&other) == SB_EDEVICE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "sb_cuda_plugin_tables is not one this engine reads");
    other = *sb_cuda_engine_tables();
    other.count = SB_CUDA_TABLE_COUNT + 1;
    SB_CHECK(sb_cuda_check_tables(&other) == SB_EDEVICE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "it exchanges 5 tables, this engine 4");
}

/* Before the loader is installed the tensor core cannot reach CUDA at all; once it is, a CUDA
 * request without a GPU fails with the host layer's reason. */
static void test_cuda_tensors_come_through_the_installed_loader(void)
{
    sb_device cuda = {SB_DEVICE_CUDA, 0};
    const sb_backend *b = NULL;
    SB_CHECK(sb_backend_for(cuda, &b) == SB_EDEVICE);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "CUDA is not available: no CUDA loader is installed");
    sb_cuda_register_loader();
    sb_cuda_register_loader(); /* idempotent */
    SB_CHECK(sb_cuda_device_count() >= 0);
    if (sb_cuda_available()) {
        SB_CHECK(sb_backend_for(cuda, &b) == SB_OK && strcmp(b->name, "cuda") == 0);
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) { /* the reason is remembered */
        SB_CHECK(sb_backend_for(cuda, &b) == SB_EDEVICE);
        SB_CHECK_STR_CONTAINS(sb_error_message(), "CUDA is not available: ");
        SB_CHECK_STR_CONTAINS(sb_error_message(), sb_cuda_unavailable_reason());
    }
}

int main(void)
{
    SB_RUN(test_engine_tables_match_themselves);
    SB_RUN(test_every_table_size_is_checked);
    SB_RUN(test_every_table_fingerprint_is_checked);
    SB_RUN(test_descriptor_of_another_layout_is_refused);
    SB_RUN(test_cuda_tensors_come_through_the_installed_loader);
    return sb_test_summary();
}
