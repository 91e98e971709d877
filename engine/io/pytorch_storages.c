/* PyTorch checkpoints: from the pickle's records to tensors (see pytorch_records.h). */
#include "io/pytorch_records.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tensor/parallel.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pytorch_storages.c views little-endian storages in place: port the byte swaps first"
#endif

/* ---- storages and tensors -------------------------------------------------------------- */

static void swap_bytes(unsigned char *p, uint64_t numel, size_t esize)
{
    for (uint64_t i = 0; i < numel; i++, p += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Whether a record's bytes can be viewed where they lie in the file image. */
static bool viewable_in_place(const storage_rec *r, const sb_storage *image, bool big_endian)
{
    const torch_dtype *dt = r->dtype;
    return image && r->in_image && !(big_endian && dt->size > 1) && dt->convert == CONV_NONE &&
           r->image_offset % dt->size == 0;
}

/* Drops the file pages that lie wholly inside [p, p + n): once a record is copied nothing
 * reads them again, so a copied checkpoint costs its size once in memory rather than twice.
 * The mapping is private and read again from the file if anything touches those pages. */
static void drop_file_pages(const unsigned char *p, size_t n)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)p + page - 1) / page * page, to = ((uintptr_t)p + n) / page * page;
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

/* The plain copies (no conversion) of the records that cannot be viewed in place, as one
 * byte range split into blocks for sb_parallel_for. */
#define COPY_BLOCK ((int64_t)1 << 20)

typedef struct copy_plan {
    storage_rec **recs; /* the records copied byte for byte, in pool order */
    uint64_t *start;    /* nrecs + 1 prefix sums of their byte counts */
    size_t nrecs;
    unsigned char *pool;
    bool drop_source; /* records in the image are pages of a mapped file (not an inflated
                         zip entry, whose buffer is freed with the loader) */
} copy_plan;

static void copy_blocks(void *ctx, int64_t begin, int64_t end)
{
    const copy_plan *c = ctx;
    uint64_t lo = (uint64_t)begin * COPY_BLOCK, hi = (uint64_t)end * COPY_BLOCK;
    if (hi > c->start[c->nrecs]) hi = c->start[c->nrecs];
    size_t a = 0, b = c->nrecs; /* the last record starting at or before lo */
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (c->start[m] <= lo)
            a = m;
        else
            b = m;
    }
    for (size_t i = a; i < c->nrecs && c->start[i] < hi; i++) {
        const storage_rec *r = c->recs[i];
        uint64_t from = lo > c->start[i] ? lo - c->start[i] : 0;
        uint64_t to = hi < c->start[i + 1] ? hi - c->start[i] : c->start[i + 1] - c->start[i];
        if (to <= from) continue;
        memcpy(c->pool + (size_t)r->base * r->dtype->size + from, r->bytes + from, to - from);
        if (c->drop_source && r->in_image) drop_file_pages(r->bytes + from, to - from);
    }
}

static void convert_record(const storage_rec *r, unsigned char *dst, bool big_endian)
{
    const unsigned char *src = r->bytes;
    int64_t n = (int64_t)r->numel;
    switch (r->dtype->convert) {
    case CONV_NONE:
        if (n) memcpy(dst, src, (size_t)n * r->dtype->size);
        if (big_endian) swap_bytes(dst, r->numel, r->dtype->size);
        break;
    case CONV_I16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t u = big_endian ? (uint16_t)(src[2 * i] << 8 | src[2 * i + 1])
                                    : (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            ((int32_t *)dst)[i] = (int16_t)u;
        }
        break;
    case CONV_I8:
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)dst)[i] = (int8_t)src[i];
        break;
    case CONV_BOOL:
        for (int64_t i = 0; i < n; i++)
            dst[i] = src[i] != 0;
        break;
    }
}

/* Gives every located record its target storage: the file image itself where the bytes can
 * be viewed in place, else a slice of one pool that holds all the copies.
 *
 * Copies are what a legacy checkpoint costs (its float32 records sit at arbitrary offsets),
 * and on a virtual machine their cost is the first touch of fresh memory rather than the
 * copy: one pool with transparent huge pages takes one fault per 2 MiB instead of one per
 * 4 KiB, and the plain copies are split over the engine's threads, whose faults proceed in
 * parallel. Each copied stretch's file pages are given back as soon as it is copied, so the
 * peak stays near the file's size. */
static sb_status place_storages(loader *L, sb_storage *image, bool big_endian)
{
    uint64_t total = 0;
    size_t ncopy = 0;
    for (size_t i = 0; i < L->nrecs; i++) {
        storage_rec *r = L->recs[i];
        if (!r->located)
            return sb_fail(SB_EFORMAT, "%s: the data of storage '%s' is missing", L->what, r->key);
        if (viewable_in_place(r, image, big_endian)) {
            sb_storage_retain(image);
            r->target = image;
            r->base = (int64_t)(r->image_offset / r->dtype->size);
            continue;
        }
        /* 64-byte aligned slices: a multiple of every element size, and of a cache line. */
        uint64_t bytes = r->numel * (uint64_t)sb_dtype_size(r->dtype->loaded);
        r->base = (int64_t)(total / (uint64_t)sb_dtype_size(r->dtype->loaded));
        if (__builtin_add_overflow(total, (bytes + 63) / 64 * 64, &total))
            return sb_fail(SB_ENOMEM, "%s: the storages do not fit in memory", L->what);
        ncopy++;
    }
    if (ncopy == 0) return SB_OK;
    sb_storage *pool;
    SB_TRY(sb_storage_new(total ? (size_t)total : 64, SB_CPU, NULL, &pool));
    uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t from = ((uintptr_t)pool->data + huge - 1) / huge * huge;
    uintptr_t to = ((uintptr_t)pool->data + (uintptr_t)total) / huge * huge;
    if (to > from) madvise((void *)from, to - from, MADV_HUGEPAGE); /* a hint only */
    copy_plan plan = {NULL, NULL, 0, pool->data, image != NULL};
    plan.recs = malloc(ncopy * sizeof *plan.recs);
    plan.start = malloc((ncopy + 1) * sizeof *plan.start);
    if (!plan.recs || !plan.start) {
        free(plan.recs);
        free(plan.start);
        sb_storage_release(pool);
        return sb_fail(SB_ENOMEM, "%s: out of memory", L->what);
    }
    plan.start[0] = 0;
    for (size_t i = 0; i < L->nrecs; i++) {
        storage_rec *r = L->recs[i];
        if (r->target) continue; /* viewed in place */
        sb_storage_retain(pool);
        r->target = pool;
        unsigned char *dst =
            (unsigned char *)pool->data + (size_t)r->base * sb_dtype_size(r->dtype->loaded);
        if (r->dtype->convert != CONV_NONE || (big_endian && r->dtype->size > 1)) {
            convert_record(r, dst, big_endian);
            if (image && r->in_image) drop_file_pages(r->bytes, r->numel * r->dtype->size);
            continue;
        }
        plan.recs[plan.nrecs] = r;
        plan.start[plan.nrecs + 1] = plan.start[plan.nrecs] + r->numel * r->dtype->size;
        plan.nrecs++;
    }
    uint64_t bytes = plan.start[plan.nrecs];
    sb_parallel_for((int64_t)((bytes + COPY_BLOCK - 1) / COPY_BLOCK), 1, copy_blocks, &plan);
    /* The pages that straddled two blocks. */
    for (size_t i = 0; i < plan.nrecs; i++)
        if (plan.drop_source && plan.recs[i]->in_image)
            drop_file_pages(plan.recs[i]->bytes, plan.start[i + 1] - plan.start[i]);
    free(plan.recs);
    free(plan.start);
    sb_storage_release(pool); /* the records hold their references */
    return SB_OK;
}

sb_status sb_pytorch_make_tensors(loader *L, sb_storage *image, bool big_endian)
{
    SB_TRY(place_storages(L, image, big_endian));
    for (size_t i = 0; i < L->nspecs; i++) {
        tensor_spec *s = L->specs[i];
        storage_rec *r = s->view.rec;
        int64_t numel = 1;
        for (int d = 0; d < s->ndim; d++)
            numel *= s->sizes[d];
        sb_status st;
        if (numel == 0)
            st = sb_tensor_empty(s->ndim, s->sizes, r->dtype->loaded, SB_CPU, &s->tensor);
        else
            st = sb_tensor_from_storage(r->target, r->dtype->loaded, s->ndim, s->sizes, s->strides,
                                        r->base + (int64_t)s->view.offset + s->offset, &s->tensor);
        if (st != SB_OK) return sb_fail_context(st, "%s: storage '%s'", L->what, r->key);
    }
    return SB_OK;
}

sb_status sb_pytorch_check_record_size(const loader *L, const storage_rec *r, uint64_t bytes,
                                       const char *record)
{
    uint64_t want;
    if (__builtin_mul_overflow(r->numel, (uint64_t)r->dtype->size, &want) || want != bytes)
        return sb_fail(SB_EFORMAT,
                       "%s: storage '%s' (%s) has %llu bytes, but the pickle declares %llu "
                       "elements of %s (%llu bytes): a corrupt or mismatched checkpoint",
                       L->what, r->key, record, (unsigned long long)bytes,
                       (unsigned long long)r->numel, r->dtype->name,
                       (unsigned long long)(r->numel * r->dtype->size));
    return SB_OK;
}
