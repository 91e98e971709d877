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

bool sb_file_exists(const char *path);
/* SB_OK when `dir` is a directory we can list and read; else SB_EIO naming it and why. */
sb_status sb_check_readable_dir(const char *dir);

/* mkdir -p; then checks the directory is readable. */
sb_status sb_make_dirs(const char *path);

#endif
