/* Just enough tar (POSIX ustar and GNU long names) to unpack dataset archives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

sb_status sb_tar_extract(const char *archive, const char *dest_dir, const char *prefix,
                         size_t max_len, int *count)
{
    uint8_t *data;
    size_t len;
    sb_read_limit limit = {max_len, NULL, NULL, "this archive"};
    SB_TRY(sb_read_file_bounded(archive, &limit, &data, &len));
    sb_status s = SB_OK;
    size_t pos = 0;
    char long_name[4096] = "";
    int written = 0;
    while (s == SB_OK) {
        if (pos + 512 > len) {
            s = sb_fail(SB_EFORMAT, "truncated tar archive '%s' (no end-of-archive marker)",
                        archive);
            break;
        }
        const uint8_t *h = data + pos;
        if (zero_block(h)) break;
        bool ok_sum, ok_size;
        uint64_t want = tar_number(h + 148, 8, &ok_sum), sum = 0;
        for (int i = 0; i < 512; i++)
            sum += (i >= 148 && i < 156) ? ' ' : h[i];
        if (!ok_sum || sum != want) {
            s = sb_fail(SB_EFORMAT, "corrupt tar archive '%s': bad header checksum at byte %zu",
                        archive, pos);
            break;
        }
        uint64_t size = tar_number(h + 124, 12, &ok_size);
        if (!ok_size || size > len - pos - 512) {
            s = sb_fail(SB_EFORMAT,
                        "truncated tar archive '%s': member at byte %zu needs %llu bytes", archive,
                        pos, (unsigned long long)size);
            break;
        }
        const uint8_t *body = h + 512;
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
        if (type == 'L') { /* GNU: the next member's name */
            size_t n = size < sizeof long_name - 1 ? (size_t)size : sizeof long_name - 1;
            memcpy(long_name, body, n);
            long_name[n] = '\0';
        } else if ((type == '0' || type == '\0') && strncmp(name, prefix, strlen(prefix)) == 0 &&
                   safe_name(name)) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dest_dir, name);
            char *slash = strrchr(path, '/');
            *slash = '\0';
            s = sb_make_dirs(path);
            *slash = '/';
            if (s == SB_OK) s = sb_write_file_atomic(path, body, (size_t)size);
            if (s == SB_OK) written++;
        }
        pos += 512 + (size_t)((size + 511) / 512 * 512);
    }
    free(data);
    if (s == SB_OK && count) *count = written;
    return s;
}
