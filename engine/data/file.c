#include "data/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static sb_status read_plain(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return sb_fail(SB_ENOMEM, "cannot allocate %zu bytes to read '%s'", size, path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            free(buf);
            close(fd);
            return sb_fail(SB_EIO, "cannot read '%s': %s", path,
                           n < 0 ? strerror(err) : "file shrank");
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = size;
    return SB_OK;
}

/* Inflates every gzip member of `in`; trailing zero padding is tolerated as gzip does. */
static sb_status gunzip(const char *path, const uint8_t *in, size_t in_len, uint8_t **data,
                        size_t *len)
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
        if (used == cap) {
            size_t ncap = cap * 2;
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
    *data = out;
    *len = used;
    return SB_OK;
}

sb_status sb_read_file(const char *path, uint8_t **data, size_t *len)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    SB_TRY(read_plain(path, &raw, &raw_len));
    if (raw_len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        sb_status s = gunzip(path, raw, raw_len, data, len);
        free(raw);
        return s;
    }
    *data = raw;
    *len = raw_len;
    return SB_OK;
}

bool sb_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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
