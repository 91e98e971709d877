/* Just enough tar (POSIX ustar and GNU long names) to unpack dataset archives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "data/dataset.h"
#include "data/file.h"

static uint64_t tar_number(const uint8_t *field, size_t len, bool *ok)
{
    uint64_t v = 0;
    *ok = true;
    if (field[0] & 0x80) { /* GNU base-256 for large sizes */
        for (size_t i = 1; i < len; i++)
            v = v << 8 | field[i];
        return v;
    }
    size_t i = 0;
    while (i < len && field[i] == ' ')
        i++;
    for (; i < len && field[i] >= '0' && field[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(field[i] - '0');
    if (i < len && field[i] != '\0' && field[i] != ' ') *ok = false;
    return v;
}

static bool zero_block(const uint8_t *b)
{
    for (int i = 0; i < 512; i++)
        if (b[i]) return false;
    return true;
}

/* A relative path with no "..", no empty or "." component games: safe to join to a folder. */
static bool safe_name(const char *name)
{
    if (name[0] == '/' || name[0] == '\0') return false;
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n;
        if (*p == '/') p++;
    }
    return true;
}

/* Reads exactly n bytes (gzread inflates a .gz and passes a plain file through). */
static bool read_full(gzFile f, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static sb_status too_big(const char *archive, gzFile f, size_t max_len)
{
    return sb_fail(SB_EFORMAT,
                   "'%s' %s more than %zu bytes, the most this archive allows (a corrupt file or "
                   "a decompression bomb); refusing to read further",
                   archive, gzdirect(f) ? "holds" : "inflates to", max_len);
}

/* After the end-of-archive marker: what is left must still respect the bound. */
static sb_status drain(const char *archive, gzFile f, uint64_t pos, size_t max_len, uint8_t *buf,
                       size_t bufcap)
{
    for (;;) {
        size_t want = bufcap;
        if (pos + want > (uint64_t)max_len + 1) want = (size_t)((uint64_t)max_len + 1 - pos);
        if (want == 0) return too_big(archive, f, max_len);
        int got = gzread(f, buf, (unsigned)(want > (1u << 30) ? (1u << 30) : want));
        if (got < 0) return sb_fail(SB_EFORMAT, "corrupt archive '%s' after its end", archive);
        if (got == 0) return SB_OK;
        pos += (uint64_t)got;
        if (pos > max_len) return too_big(archive, f, max_len);
    }
}

/* Streams the archive: memory stays at one member's worth of buffer however large it is;
 * `max_len` bounds the bytes it may hold (inflate to), so a gzip bomb stops early. */
sb_status sb_tar_extract(const char *archive, const char *dest_dir, const char *prefix,
                         size_t max_len, int *count)
{
    gzFile f = gzopen(archive, "rb");
    if (!f) return sb_fail(SB_EIO, "cannot open tar archive '%s': %s", archive, strerror(errno));
    gzbuffer(f, 1 << 20);
    sb_status s = SB_OK;
    uint64_t pos = 0;
    char long_name[4096] = "";
    int written = 0;
    uint8_t h[512];
    size_t bufcap = 1 << 20;
    uint8_t *buf = malloc(bufcap);
    if (!buf) s = sb_fail(SB_ENOMEM, "cannot allocate a buffer to read '%s'", archive);
    while (s == SB_OK) {
        if (pos + 512 > max_len) {
            s = too_big(archive, f, max_len);
            break;
        }
        if (!read_full(f, h, 512)) {
            s = sb_fail(SB_EFORMAT, "truncated tar archive '%s' (no end-of-archive marker)",
                        archive);
            break;
        }
        if (zero_block(h)) {
            s = drain(archive, f, pos + 512, max_len, buf, bufcap);
            break;
        }
        bool ok_sum, ok_size;
        uint64_t want = tar_number(h + 148, 8, &ok_sum), sum = 0;
        for (int i = 0; i < 512; i++)
            sum += (i >= 148 && i < 156) ? ' ' : h[i];
        if (!ok_sum || sum != want) {
            s = sb_fail(SB_EFORMAT, "corrupt tar archive '%s': bad header checksum at byte %llu",
                        archive, (unsigned long long)pos);
            break;
        }
        uint64_t size = tar_number(h + 124, 12, &ok_size);
        uint64_t padded = (size + 511) / 512 * 512;
        if (ok_size && pos + 512 + padded > max_len) {
            s = too_big(archive, f, max_len);
            break;
        }
        char type = (char)h[156];
        char name[4096];
        if (long_name[0]) {
            snprintf(name, sizeof name, "%s", long_name);
            long_name[0] = '\0';
        } else if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
            snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
        } else {
            snprintf(name, sizeof name, "%.100s", (const char *)h);
        }
        bool keep = type == 'L' || ((type == '0' || type == '\0') &&
                                    strncmp(name, prefix, strlen(prefix)) == 0 && safe_name(name));
        if (!ok_size || (keep && padded > ((uint64_t)1 << 36))) {
            s = sb_fail(SB_EFORMAT, "corrupt tar archive '%s': member at byte %llu has a bad size",
                        archive, (unsigned long long)pos);
            break;
        }
        if (keep && padded > bufcap) {
            uint8_t *grown = realloc(buf, (size_t)padded);
            if (!grown) {
                s = sb_fail(SB_ENOMEM, "cannot allocate %llu bytes for a member of '%s'",
                            (unsigned long long)padded, archive);
                break;
            }
            buf = grown;
            bufcap = (size_t)padded;
        }
        if (keep) {
            if (!read_full(f, buf, (size_t)padded)) {
                s = sb_fail(SB_EFORMAT,
                            "truncated tar archive '%s': member at byte %llu needs %llu "
                            "bytes",
                            archive, (unsigned long long)pos, (unsigned long long)size);
                break;
            }
        } else if (padded && gzseek(f, (z_off_t)padded, SEEK_CUR) < 0) {
            s = sb_fail(SB_EFORMAT,
                        "truncated tar archive '%s': member at byte %llu needs %llu bytes", archive,
                        (unsigned long long)pos, (unsigned long long)size);
            break;
        }
        if (type == 'L') { /* GNU: the next member's name */
            size_t n = size < sizeof long_name - 1 ? (size_t)size : sizeof long_name - 1;
            memcpy(long_name, buf, n);
            long_name[n] = '\0';
        } else if (keep) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dest_dir, name);
            char *slash = strrchr(path, '/');
            *slash = '\0';
            s = sb_make_dirs(path);
            *slash = '/';
            if (s == SB_OK) s = sb_write_file_atomic(path, buf, (size_t)size);
            if (s == SB_OK) written++;
        }
        pos += 512 + padded;
    }
    free(buf);
    gzclose(f);
    if (s == SB_OK && count) *count = written;
    return s;
}
