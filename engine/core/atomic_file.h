/* Writing a whole file so that no reader ever sees half of it: the store file, results,
 * safetensors, downloads and the dataset files extracted or inflated after them.
 *
 * The bytes go to a temporary file next to the final path; the commit syncs it, renames it
 * over the path and syncs the folder. A reader sees the old or the new content, never a mix;
 * a crash leaves the old file; a failure or an abort leaves no temporary file behind. New
 * files get mode 0666 & ~umask; a replaced file keeps its mode. A symbolic link is followed
 * (the link stays, the file it names is replaced). A path that names something other than a
 * regular file (a device such as /dev/null, a pipe, a folder) is refused with SB_EIO:
 * renaming over it would replace the device node itself. */
#ifndef SB_CORE_ATOMIC_FILE_H
#define SB_CORE_ATOMIC_FILE_H

#include <stddef.h>

#include "core/error.h"

typedef struct sb_atomic_file {
    int fd;       /* the temporary file, open for writing */
    char *tmp;    /* its path */
    char *target; /* the path the commit replaces */
} sb_atomic_file;

/* Starts writing `path`. On success *f must end in sb_atomic_commit or sb_atomic_abort. */
sb_status sb_atomic_open(sb_atomic_file *f, const char *path);
/* Appends `len` bytes; an error names the temporary file. */
sb_status sb_atomic_write(sb_atomic_file *f, const void *data, size_t len);
/* fsync, rename over the target, fsync of its folder; on failure the temporary file is
 * removed. Frees *f either way. */
sb_status sb_atomic_commit(sb_atomic_file *f);
/* Closes and removes the temporary file; frees *f. */
void sb_atomic_abort(sb_atomic_file *f);

/* The whole of `data` as one file: open, write, commit. */
sb_status sb_write_file_atomic(const char *path, const void *data, size_t len);

#endif
