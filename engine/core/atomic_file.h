/* Writing a whole file so that no reader ever sees half of it (store file, results,
 * dataset files extracted or inflated after a download). */
#ifndef SB_CORE_ATOMIC_FILE_H
#define SB_CORE_ATOMIC_FILE_H

#include <stddef.h>

#include "core/error.h"

/* Writes `len` bytes to `path` atomically: a temporary file in the same folder, fsync,
 * rename over `path`, fsync of the folder. A reader sees the old or the new content,
 * never a mix; a crash leaves the old file; a failure leaves no temporary file behind.
 * New files get mode 0666 & ~umask; a replaced file keeps its mode. A symbolic link is
 * followed (the link stays, the file it names is replaced). A path that names something
 * other than a regular file (a device such as /dev/null, a pipe, a folder) is refused with
 * SB_EIO: renaming over it would replace the device node itself. */
sb_status sb_write_file_atomic(const char *path, const void *data, size_t len);

#endif
