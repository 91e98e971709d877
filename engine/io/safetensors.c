/* safetensors reading: the layout checks, tensors over one private mapping of the file.
 * The header parser is safetensors_header.c, writing safetensors_write.c. */
#include "io/safetensors_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian data in place: port the byte swaps first"
#endif

/* ---- validation and tensors -------------------------------------------------------------- */

static int by_begin(const void *a, const void *b)
{
    const st_info *x = *(const st_info *const *)a, *y = *(const st_info *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const st_info *const *)a)->name, (*(const st_info *const *)b)->name);
}

static sb_status check_layout(const char *what, st_header *h, uint64_t data_len,
                              st_info ***sorted_out)
{
    st_info **sorted = malloc((h->count ? h->count : 1) * sizeof *sorted);
    if (!sorted) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < h->count; i++)
        sorted[i] = &h->infos[i];
    qsort(sorted, h->count, sizeof *sorted, by_name);
    for (size_t i = 1; i < h->count; i++) {
        if (strcmp(sorted[i]->name, sorted[i - 1]->name) == 0) {
            sb_status st = sb_fail(SB_EFORMAT, "%s: tensor '%s' appears twice in the header", what,
                                   sorted[i]->name);
            free(sorted);
            return st;
        }
    }
    for (size_t i = 0; i < h->count; i++) {
        st_info *t = &h->infos[i];
        sorted[i] = t;
        if (t->end < t->begin) {
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' has data_offsets [%llu, %llu]: end before begin", what,
                           t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
        }
        if (t->end > data_len) {
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' has data_offsets [%llu, %llu] beyond the %llu data "
                           "bytes of the file",
                           what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)data_len);
        }
        uint64_t bytes = t->dtype->size;
        bool overflow = false, empty = false;
        for (int d = 0; d < t->ndim; d++) {
            overflow |= __builtin_mul_overflow(bytes, (uint64_t)t->shape[d], &bytes);
            empty |= t->shape[d] == 0;
        }
        if (empty) bytes = 0, overflow = false; /* [0, 2^40, 2^40] holds nothing */
        if (overflow || bytes != t->end - t->begin) {
            char shape[160];
            sb_shape_format(t->ndim, t->shape, shape, sizeof shape);
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' (%s, shape %s) needs %s bytes but its data_offsets "
                           "[%llu, %llu] hold %llu",
                           what, t->name, t->dtype->name, shape,
                           overflow ? "more than 2^64" : "a different number of",
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)(t->end - t->begin));
        }
    }
    qsort(sorted, h->count, sizeof *sorted, by_begin);
    uint64_t expected = 0;
    for (size_t i = 0; i < h->count; i++) {
        st_info *t = sorted[i];
        if (t->begin != expected) {
            sb_status st;
            if (t->begin < expected)
                st =
                    sb_fail(SB_EFORMAT,
                            "%s: tensor '%s' (data_offsets [%llu, %llu]) overlaps tensor '%s' "
                            "(data_offsets [%llu, %llu])",
                            what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            sorted[i - 1]->name, (unsigned long long)sorted[i - 1]->begin,
                            (unsigned long long)sorted[i - 1]->end);
            else
                st = sb_fail(SB_EFORMAT,
                             "%s: %llu unused data bytes before tensor '%s' (data_offsets "
                             "[%llu, %llu]); tensors must be stored back to back",
                             what, (unsigned long long)(t->begin - expected), t->name,
                             (unsigned long long)t->begin, (unsigned long long)t->end);
            free(sorted);
            return st;
        }
        expected = t->end;
    }
    if (expected != data_len) {
        free(sorted);
        return sb_fail(SB_EFORMAT,
                       "%s: the file has %llu data bytes after the last tensor's end (%llu of "
                       "%llu used); truncated header or trailing garbage",
                       what, (unsigned long long)(data_len - expected),
                       (unsigned long long)expected, (unsigned long long)data_len);
    }
    *sorted_out = sorted;
    return SB_OK;
}

static sb_status make_tensor(const char *what, const st_info *t, const unsigned char *data,
                             size_t data_pos, sb_storage *storage, sb_tensor **out)
{
    const unsigned char *src = data + data_pos + t->begin;
    const size_t esize = t->dtype->size;
    const sb_dtype dtype = t->dtype->loaded;
    if (storage && (data_pos + t->begin) % esize == 0) {
        int64_t strides[SB_MAX_DIMS];
        sb_contiguous_strides(t->ndim, t->shape, strides);
        /* An empty tensor may sit at the very end; its offset is then clamped to 0. */
        int64_t numel = (int64_t)((t->end - t->begin) / esize);
        int64_t offset = numel ? (int64_t)((data_pos + t->begin) / esize) : 0;
        sb_status st =
            sb_tensor_from_storage(storage, dtype, t->ndim, t->shape, strides, offset, out);
        if (st != SB_OK) return sb_fail_context(st, "%s: tensor '%s'", what, t->name);
        return SB_OK;
    }
    sb_tensor *x;
    SB_TRY(sb_tensor_empty(t->ndim, t->shape, dtype, SB_CPU, &x));
    const size_t n = (size_t)((t->end - t->begin) / esize);
    if (n) memcpy(sb_tensor_data(x), src, n * esize);
    *out = x;
    return SB_OK;
}

void sb_safetensors_free(sb_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->entries[i].name);
        sb_tensor_free(st->entries[i].tensor);
    }
    free(st->entries);
    sb_st_meta_free(st->meta, st->meta_count);
    free(st);
}

sb_status sb_safetensors_parse(const void *data, size_t size, sb_storage *storage, const char *what,
                               sb_safetensors **out)
{
    const unsigned char *bytes = data;
    if (size < 8)
        return sb_fail(SB_EFORMAT,
                       "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header "
                       "length",
                       what, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | bytes[i];
    if (hlen > SB_SAFETENSORS_MAX_HEADER)
        return sb_fail(SB_EFORMAT,
                       "%s: header length %llu is above the limit of %llu bytes (not a "
                       "safetensors file?)",
                       what, (unsigned long long)hlen, SB_SAFETENSORS_MAX_HEADER);
    if (hlen > size - 8)
        return sb_fail(SB_EFORMAT,
                       "%s: header length %llu runs past the end of the file (%zu bytes): "
                       "truncated or not a safetensors file",
                       what, (unsigned long long)hlen, size);
    st_header h;
    sb_status st = sb_st_parse_header(bytes + 8, bytes + 8 + hlen, what, &h);
    st_info **sorted = NULL;
    if (st == SB_OK) st = check_layout(what, &h, size - 8 - hlen, &sorted);
    if (st != SB_OK) {
        sb_st_header_free(&h);
        return st;
    }
    sb_safetensors *res = calloc(1, sizeof *res);
    if (res) res->entries = calloc(h.count ? h.count : 1, sizeof *res->entries);
    if (!res || !res->entries) {
        free(res);
        free(sorted);
        sb_st_header_free(&h);
        return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    }
    for (size_t i = 0; i < h.count && st == SB_OK; i++) {
        st_info *t = sorted[i];
        st = make_tensor(what, t, bytes, 8 + hlen, storage, &res->entries[i].tensor);
        if (st != SB_OK) break;
        res->entries[i].name = t->name;
        snprintf(res->entries[i].dtype, sizeof res->entries[i].dtype, "%s", t->dtype->name);
        t->name = NULL; /* moved */
        res->count = i + 1;
    }
    free(sorted);
    res->meta = h.meta;
    res->meta_count = h.meta_count;
    h.meta = NULL;
    h.meta_count = 0;
    sb_st_header_free(&h);
    if (st != SB_OK) {
        sb_safetensors_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

static void unmap_release(void *ctx, void *data, size_t nbytes)
{
    (void)ctx;
    munmap(data, nbytes);
}

sb_status sb_safetensors_load(const char *path, sb_safetensors **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat sbuf;
    if (fstat(fd, &sbuf) != 0) {
        int e = errno;
        close(fd);
        return sb_fail(SB_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sbuf.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "%s is not a regular file", path);
    }
    size_t size = (size_t)sbuf.st_size;
    if (size < 8) {
        close(fd);
        return sb_fail(SB_EFORMAT,
                       "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header "
                       "length",
                       path, size);
    }
    /* Private and writable: a loaded tensor can be modified in place without touching the
     * file (copy-on-write pages). */
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) return sb_fail(SB_EIO, "cannot map %s: %s", path, strerror(map_errno));
    sb_storage *storage;
    sb_status st = sb_storage_wrap(map, size, SB_CPU, unmap_release, NULL, &storage);
    if (st != SB_OK) {
        munmap(map, size);
        return st;
    }
    st = sb_safetensors_parse(map, size, storage, path, out);
    sb_storage_release(storage); /* the tensors hold their own references */
    return st;
}
