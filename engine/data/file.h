/* Whole-file reads for dataset files: plain or gzip-compressed, with validation. */
#ifndef SB_DATA_FILE_H
#define SB_DATA_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Reads `path` into a new malloc'd buffer (*data, free() it). A file that starts with the
 * gzip magic (1f 8b) is inflated, all members, as gzip -d does. Errors (SB_EIO, SB_EFORMAT)
 * name the path: missing, unreadable, corrupt or truncated gzip stream. */
sb_status sb_read_file(const char *path, uint8_t **data, size_t *len);

/* How large a file's content may be, so that a small .gz cannot inflate without end (a
 * "decompression bomb"). Either a fixed bound (max_len), or one decided from the content's
 * first bytes by from_head: it is called as bytes arrive with the content read so far
 * (`complete` once there is no more) and sets *limit, or leaves it 0 while it needs more
 * bytes; a failure it returns (a wrong magic number) becomes the read's error. */
typedef sb_status (*sb_content_limit_fn)(void *ctx, const char *path, const uint8_t *head,
                                         size_t have, bool complete, size_t *limit);
typedef struct sb_read_limit {
    size_t max_len;                /* used when from_head is NULL */
    sb_content_limit_fn from_head; /* or NULL */
    void *ctx;
    const char *allows; /* what sets the bound, for the error: "its IDX header" */
} sb_read_limit;

/* sb_read_file that stops reading, or inflating, past the limit: a content larger than it
 * fails with SB_EFORMAT naming the path and the bound, after inflating at most limit + 64 KiB
 * (plain files are checked by their size before being read). */
sb_status sb_read_file_bounded(const char *path, const sb_read_limit *limit, uint8_t **data,
                               size_t *len);

bool sb_file_exists(const char *path);
/* Whether anything (a file, a folder, ...) is at `path`: a dataset file looked up with it and
 * then read says "is a folder" instead of "not found" when a folder took its place. */
bool sb_path_exists(const char *path);
/* SB_OK when `dir` is a directory we can list and read; else SB_EIO naming it and why. */
sb_status sb_check_readable_dir(const char *dir);

/* mkdir -p; then checks the directory is readable. */
sb_status sb_make_dirs(const char *path);

#endif
