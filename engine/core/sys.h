/* What a run asks of the system: a random UUID (idempotency keys), the host's name and OS
 * (the environment block of a result), an advisory lock on a file (the store file), a whole
 * file read into memory (dataset files, images). */
#ifndef SB_CORE_SYS_H
#define SB_CORE_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A random (version 4) UUID from the kernel's CSPRNG (getrandom). */
sb_status sb_uuid4(char out[37]);

/* Takes an exclusive lock (flock) on the file at `path`, creating it empty when missing, and
 * makes sure the lock is on the file the path names now (a writer that renamed a new file
 * over it in the meantime is detected, and the lock is taken again). *fd is then the open,
 * locked file; sb_unlock_file releases it. Serialises read-modify-write of the store file
 * between processes. */
sb_status sb_lock_file(const char *path, int *fd);
void sb_unlock_file(int fd);

/* Host name and "sysname release machine" (uname) for the environment block. */
sb_status sb_host_info(char *host, size_t host_size, char *os, size_t os_size);

/* Reads `size` bytes from the start of the open file `fd` into a new buffer (*data, freed by
 * the caller; at least one byte is allocated, so an empty file gives a valid pointer). A file
 * that ends early ("file shrank while reading") or a read error is SB_EIO naming `path`. The
 * caller keeps, and closes, fd. */
sb_status sb_read_fd(int fd, size_t size, const char *path, uint8_t **data);

#endif
