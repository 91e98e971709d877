/* The zip reader (see zip.h): the end-of-central-directory record, zip64 records, the
 * central directory, local headers; stored and deflated entries. */
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u
#define EOCD_SIZE 22
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30
#define MAX_COMMENT 65535

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* [off, off + len) lies inside an image of `size` bytes. */
static bool in_image(uint64_t off, uint64_t len, size_t size)
{
    return off <= size && len <= size - off;
}

bool sb_zip_looks_like_zip(const void *image, size_t size)
{
    return size >= 4 && rd32(image) == SIG_LOCAL;
}

void sb_zip_free(sb_zip *z)
{
    if (!z) return;
    for (size_t i = 0; i < z->count; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z);
}

/* The zip64 extended-information extra field replaces the 32-bit fields that hold
 * 0xffffffff, in the order size, compressed size, local header offset. */
static sb_status read_zip64_extra(const unsigned char *extra, size_t len, bool need_size,
                                  bool need_csize, bool need_offset, uint64_t *size,
                                  uint64_t *csize, uint64_t *offset, const char *what,
                                  const char *name)
{
    size_t p = 0;
    while (p + 4 <= len) {
        uint16_t id = rd16(extra + p), n = rd16(extra + p + 2);
        if (p + 4 + n > len) break;
        if (id == 0x0001) {
            const unsigned char *f = extra + p + 4;
            size_t need = 8 * ((size_t)need_size + need_csize + need_offset), at = 0;
            if (n < need)
                return sb_fail(SB_EFORMAT, "%s: zip entry '%s' has a short zip64 extra field", what,
                               name);
            if (need_size) *size = rd64(f + at), at += 8;
            if (need_csize) *csize = rd64(f + at), at += 8;
            if (need_offset) *offset = rd64(f + at);
            return SB_OK;
        }
        p += 4 + (size_t)n;
    }
    return sb_fail(SB_EFORMAT, "%s: zip entry '%s' needs a zip64 extra field and has none", what,
                   name);
}

/* Finds the central directory: (offset, size, entry count). */
static sb_status find_directory(const unsigned char *img, size_t size, const char *what,
                                uint64_t *cd_off, uint64_t *cd_size, uint64_t *count)
{
    if (size < EOCD_SIZE)
        return sb_fail(SB_EFORMAT,
                       "%s: truncated or not a zip archive (%zu bytes, no end-of-central-"
                       "directory record)",
                       what, size);
    size_t lowest = size - EOCD_SIZE > MAX_COMMENT ? size - EOCD_SIZE - MAX_COMMENT : 0;
    size_t eocd = SIZE_MAX;
    for (size_t p = size - EOCD_SIZE + 1; p-- > lowest;) {
        /* The comment length must reach exactly the end of the file. */
        if (rd32(img + p) == SIG_EOCD && p + EOCD_SIZE + rd16(img + p + 20) == size) {
            eocd = p;
            break;
        }
    }
    if (eocd == SIZE_MAX)
        return sb_fail(SB_EFORMAT,
                       "%s: truncated or not a zip archive (no end-of-central-directory record "
                       "in the last %zu bytes)",
                       what, size - lowest);
    const unsigned char *e = img + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return sb_fail(SB_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", what);
    *count = rd16(e + 10);
    *cd_size = rd32(e + 12);
    *cd_off = rd32(e + 16);
    if (*count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        if (eocd < 20 || rd32(img + eocd - 20) != SIG_EOCD64_LOCATOR)
            return sb_fail(SB_EFORMAT,
                           "%s: truncated zip archive (zip64 end-of-central-directory locator "
                           "missing)",
                           what);
        uint64_t rec = rd64(img + eocd - 20 + 8);
        if (!in_image(rec, 56, eocd - 20) || rd32(img + rec) != SIG_EOCD64)
            return sb_fail(SB_EFORMAT,
                           "%s: truncated zip archive (bad zip64 end-of-central-directory record "
                           "at %llu)",
                           what, (unsigned long long)rec);
        *count = rd64(img + rec + 32);
        *cd_size = rd64(img + rec + 40);
        *cd_off = rd64(img + rec + 48);
    }
    if (!in_image(*cd_off, *cd_size, eocd))
        return sb_fail(SB_EFORMAT,
                       "%s: truncated zip archive (central directory at %llu, %llu bytes, runs "
                       "past the end-of-central-directory record at %zu)",
                       what, (unsigned long long)*cd_off, (unsigned long long)*cd_size, eocd);
    if (*count > *cd_size / CENTRAL_SIZE)
        return sb_fail(SB_EFORMAT,
                       "%s: corrupt zip archive (%llu entries cannot fit in a %llu-byte central "
                       "directory)",
                       what, (unsigned long long)*count, (unsigned long long)*cd_size);
    return SB_OK;
}

static sb_status read_entry(const unsigned char *img, size_t size, const unsigned char *c,
                            size_t avail, const char *what, sb_zip_entry *out, size_t *used)
{
    if (avail < CENTRAL_SIZE || rd32(c) != SIG_CENTRAL)
        return sb_fail(SB_EFORMAT, "%s: corrupt zip central directory (bad entry header)", what);
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    uint32_t crc = rd32(c + 16);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24);
    size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
    uint64_t local = rd32(c + 42);
    if (CENTRAL_SIZE + nlen + xlen + clen > avail)
        return sb_fail(SB_EFORMAT, "%s: corrupt zip central directory (entry runs past its end)",
                       what);
    const unsigned char *name = c + CENTRAL_SIZE;
    if (memchr(name, 0, nlen))
        return sb_fail(SB_EFORMAT, "%s: zip entry name holds a NUL byte", what);
    char *n = malloc(nlen + 1);
    if (!n) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    memcpy(n, name, nlen);
    n[nlen] = '\0';
    out->name = n;
    *used = CENTRAL_SIZE + nlen + xlen + clen;
    if (usize == 0xffffffffu || csize == 0xffffffffu || local == 0xffffffffu)
        SB_TRY(read_zip64_extra(name + nlen, xlen, usize == 0xffffffffu, csize == 0xffffffffu,
                                local == 0xffffffffu, &usize, &csize, &local, what, n));
    if (flags & 1) return sb_fail(SB_EUNSUPPORTED, "%s: zip entry '%s' is encrypted", what, n);
    if (method != 0 && method != 8)
        return sb_fail(SB_EUNSUPPORTED,
                       "%s: zip entry '%s' uses compression method %u (only stored and deflated "
                       "are supported)",
                       what, n, method);
    if (method == 0 && csize != usize)
        return sb_fail(SB_EFORMAT, "%s: stored zip entry '%s' has size %llu but %llu stored bytes",
                       what, n, (unsigned long long)usize, (unsigned long long)csize);
    if (!in_image(local, LOCAL_SIZE, size) || rd32(img + local) != SIG_LOCAL)
        return sb_fail(SB_EFORMAT,
                       "%s: truncated or corrupt zip archive (local header of '%s' at %llu is "
                       "missing)",
                       what, n, (unsigned long long)local);
    const unsigned char *l = img + local;
    size_t lnlen = rd16(l + 26), lxlen = rd16(l + 28);
    if (lnlen != nlen || !in_image(local + LOCAL_SIZE, lnlen, size) ||
        memcmp(l + LOCAL_SIZE, name, nlen) != 0)
        return sb_fail(SB_EFORMAT,
                       "%s: corrupt zip archive (the local header of '%s' names another file)",
                       what, n);
    uint64_t data = local + LOCAL_SIZE + lnlen + lxlen;
    if (!in_image(data, csize, size))
        return sb_fail(SB_EFORMAT,
                       "%s: truncated zip archive (entry '%s' needs bytes %llu..%llu, the file has "
                       "%zu)",
                       what, n, (unsigned long long)data, (unsigned long long)(data + csize), size);
    out->data_offset = data;
    out->size = usize;
    out->compressed_size = csize;
    out->crc32 = crc;
    out->method = method;
    return SB_OK;
}

sb_status sb_zip_open(const void *image, size_t size, const char *what, sb_zip **out)
{
    const unsigned char *img = image;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    SB_TRY(find_directory(img, size, what, &cd_off, &cd_size, &count));
    sb_zip *z = calloc(1, sizeof *z);
    if (z) z->entries = calloc(count ? (size_t)count : 1, sizeof *z->entries);
    if (!z || !z->entries) {
        free(z);
        return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    }
    z->image = img;
    z->image_size = size;
    size_t pos = (size_t)cd_off, end = (size_t)(cd_off + cd_size);
    for (uint64_t i = 0; i < count; i++) {
        size_t used = 0;
        sb_status st = read_entry(img, size, img + pos, end - pos, what, &z->entries[i], &used);
        z->count = (size_t)i + 1; /* the name (if any) is freed with the rest */
        if (st != SB_OK) {
            sb_zip_free(z);
            return st;
        }
        pos += used;
    }
    *out = z;
    return SB_OK;
}

const sb_zip_entry *sb_zip_find(const sb_zip *z, const char *name)
{
    for (size_t i = 0; i < z->count; i++)
        if (strcmp(z->entries[i].name, name) == 0) return &z->entries[i];
    return NULL;
}

static uint32_t crc_of(const unsigned char *p, uint64_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

sb_status sb_zip_read(const sb_zip *z, const sb_zip_entry *e, const char *what, bool check_crc,
                      const unsigned char **data, void **owned)
{
    *owned = NULL;
    const unsigned char *src = z->image + e->data_offset;
    if (e->method == 0) {
        if (check_crc && crc_of(src, e->size) != e->crc32)
            return sb_fail(SB_EFORMAT, "%s: zip entry '%s' fails its CRC-32 check (corrupt file)",
                           what, e->name);
        *data = src;
        return SB_OK;
    }
    /* Deflated: no allocation larger than the declared size, and the stream must produce
     * exactly that many bytes. */
    if (e->size > (uint64_t)SIZE_MAX - 1 || e->size > (uint64_t)e->compressed_size * 1032 + 64)
        return sb_fail(
            SB_EFORMAT, "%s: zip entry '%s' declares %llu bytes from %llu compressed (corrupt)",
            what, e->name, (unsigned long long)e->size, (unsigned long long)e->compressed_size);
    unsigned char *buf = malloc(e->size ? (size_t)e->size : 1);
    if (!buf) return sb_fail(SB_ENOMEM, "%s: out of memory inflating '%s'", what, e->name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        free(buf);
        return sb_fail(SB_ENOMEM, "%s: cannot start zlib", what);
    }
    uint64_t in_left = e->compressed_size, out_done = 0;
    const unsigned char *in = src;
    int rc = Z_OK;
    while (rc == Z_OK) {
        uInt in_chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        uint64_t out_left = e->size - out_done;
        uInt out_chunk = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        zs.next_in = (Bytef *)in;
        zs.avail_in = in_chunk;
        zs.next_out = buf + out_done;
        zs.avail_out = out_chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        in += in_chunk - zs.avail_in;
        in_left -= in_chunk - zs.avail_in;
        out_done += out_chunk - zs.avail_out;
        if (rc == Z_OK && in_chunk == zs.avail_in && out_chunk == zs.avail_out) rc = Z_BUF_ERROR;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || out_done != e->size) {
        free(buf);
        return sb_fail(SB_EFORMAT,
                       "%s: zip entry '%s' does not inflate to its declared %llu bytes "
                       "(truncated or corrupt)",
                       what, e->name, (unsigned long long)e->size);
    }
    if (check_crc && crc_of(buf, e->size) != e->crc32) {
        free(buf);
        return sb_fail(SB_EFORMAT, "%s: zip entry '%s' fails its CRC-32 check (corrupt file)", what,
                       e->name);
    }
    *data = buf;
    *owned = buf;
    return SB_OK;
}
