#include "data/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/sys.h"

/* The bound's state during one read: the limit once known (0 = not yet). */
typedef struct bound {
    const sb_read_limit *spec;
    const char *path;
    size_t limit;
} bound;

static sb_status too_large(const bound *b, bool inflated)
{
    return sb_fail(SB_EFORMAT,
                   "'%s' %s more than %zu bytes, the most %s allows (a corrupt file or a "
                   "decompression bomb); refusing to read further",
                   b->path, inflated ? "inflates to" : "holds", b->limit,
                   b->spec->allows ? b->spec->allows : "this file");
}

/* Decides the limit from the content so far, once; then checks `have` against it. */
static sb_status bound_check(bound *b, const uint8_t *head, size_t have, bool complete,
                             bool inflated)
{
    if (!b->spec) return SB_OK;
    if (b->limit == 0) {
        if (b->spec->from_head)
            SB_TRY(b->spec->from_head(b->spec->ctx, b->path, head, have, complete, &b->limit));
        else
            b->limit = b->spec->max_len;
    }
    if (b->limit && have > b->limit) return too_large(b, inflated);
    return SB_OK;
}

static sb_status read_plain(const char *path, bound *b, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return sb_fail(SB_EIO, "cannot read '%s': %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "'%s' is a folder, not a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (b->spec) {
        /* A plain file's size is known before reading: check it against the bound that its
         * first bytes give (the gzip magic defers the check to the inflation). */
        uint8_t head[4096];
        ssize_t n;
        do
            n = pread(fd, head, sizeof head, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            int err = errno;
            close(fd);
            return sb_fail(SB_EIO, "cannot read '%s': %s", path, strerror(err));
        }
        bool gz = n >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        if (!gz) {
            sb_status s = bound_check(b, head, (size_t)n, (size_t)n == size, false);
            if (s == SB_OK && b->limit && size > b->limit) s = too_large(b, false);
            if (s != SB_OK) {
                close(fd);
                return s;
            }
        }
    }
    sb_status s = sb_read_fd(fd, size, path, data);
    close(fd);
    if (s == SB_OK) *len = size;
    return s;
}

/* Inflates every gzip member of `in`; trailing zero padding is tolerated as gzip does. */
static sb_status gunzip(const char *path, bound *b, const uint8_t *in, size_t in_len,
                        uint8_t **data, size_t *len)
{
    size_t cap = in_len * 4 + 1024, used = 0;
    uint8_t *out = malloc(cap);
    if (!out) return sb_fail(SB_ENOMEM, "cannot allocate %zu bytes to inflate '%s'", cap, path);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return sb_fail(SB_ENOMEM, "cannot start zlib to inflate '%s'", path);
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len; /* dataset files are < 4 GiB compressed; checked below */
    if (in_len > UINT32_MAX) {
        inflateEnd(&zs);
        free(out);
        return sb_fail(SB_EUNSUPPORTED, "'%s' is larger than 4 GiB compressed", path);
    }
    for (;;) {
        sb_status bs = bound_check(b, out, used, false, true);
        if (bs != SB_OK) {
            inflateEnd(&zs);
            free(out);
            return bs;
        }
        if (used == cap) {
            size_t ncap = cap * 2;
            /* never past the bound + 1 byte, which is enough to see it exceeded (used <= limit
             * here, so this still grows) */
            if (b->limit && ncap > b->limit + 1) ncap = b->limit + 1;
            uint8_t *grown = realloc(out, ncap);
            if (!grown) {
                inflateEnd(&zs);
                free(out);
                return sb_fail(SB_ENOMEM, "cannot allocate %zu bytes to inflate '%s'", ncap, path);
            }
            out = grown;
            cap = ncap;
        }
        size_t room = cap - used;
        if (room > UINT32_MAX) room = UINT32_MAX;
        /* Small steps until the bound is known, then no further than one byte past it. */
        if (b->spec && b->limit == 0 && room > 65536) room = 65536;
        if (b->limit && room > b->limit + 1 - used) room = b->limit + 1 - used;
        zs.next_out = out + used;
        zs.avail_out = (uInt)room;
        int rc = inflate(&zs, Z_NO_FLUSH);
        used = (size_t)(zs.next_out - out);
        if (rc == Z_STREAM_END) {
            /* Another member may follow (concatenated .gz files). */
            size_t rest = zs.avail_in;
            const uint8_t *next = zs.next_in;
            while (rest && *next == 0)
                next++, rest--;
            if (rest == 0) break;
            if (rest < 2 || next[0] != 0x1f || next[1] != 0x8b) {
                inflateEnd(&zs);
                free(out);
                return sb_fail(SB_EFORMAT, "corrupt gzip file '%s': %zu stray bytes after the data",
                               path, rest);
            }
            inflateReset(&zs);
            zs.next_in = (Bytef *)next;
            zs.avail_in = (uInt)rest;
            continue;
        }
        if (rc == Z_OK) continue;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
            inflateEnd(&zs);
            free(out);
            return sb_fail(SB_EFORMAT, "truncated gzip file '%s': the stream ends early", path);
        }
        const char *why = zs.msg ? zs.msg : zError(rc);
        inflateEnd(&zs);
        free(out);
        return sb_fail(SB_EFORMAT, "corrupt gzip file '%s': %s", path, why);
    }
    inflateEnd(&zs);
    sb_status bs = bound_check(b, out, used, true, true);
    if (bs != SB_OK) {
        free(out);
        return bs;
    }
    *data = out;
    *len = used;
    return SB_OK;
}

sb_status sb_read_file_bounded(const char *path, const sb_read_limit *limit, uint8_t **data,
                               size_t *len)
{
    bound b = {limit, path, 0};
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    SB_TRY(read_plain(path, &b, &raw, &raw_len));
    if (raw_len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        sb_status s = gunzip(path, &b, raw, raw_len, data, len);
        free(raw);
        return s;
    }
    *data = raw;
    *len = raw_len;
    return SB_OK;
}

sb_status sb_read_file(const char *path, uint8_t **data, size_t *len)
{
    return sb_read_file_bounded(path, NULL, data, len);
}

bool sb_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool sb_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

sb_status sb_check_readable_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) return sb_fail(SB_EIO, "cannot access '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return sb_fail(SB_EIO, "'%s' is not a directory", dir);
    if (access(dir, R_OK | X_OK) != 0)
        return sb_fail(SB_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
    return SB_OK;
}

sb_status sb_make_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return sb_fail(SB_EIO, "cannot create directory '%s': %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return sb_check_readable_dir(path);
}
