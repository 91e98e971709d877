#define _GNU_SOURCE
#include "core/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

sb_status sb_uuid4(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sb_fail(SB_EIO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return SB_OK;
}

sb_status sb_lock_file(const char *path, int *out)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return sb_fail(SB_EIO, "cannot open '%s' to lock it: %s", path, strerror(errno));
        struct stat opened;
        if (fstat(fd, &opened) == 0 && !S_ISREG(opened.st_mode)) {
            /* A device or a pipe: reading it back could block, and it cannot be replaced. */
            close(fd);
            return sb_fail(SB_EIO, "'%s' is not a regular file (a device, pipe or folder)", path);
        }
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                sb_status s = sb_fail(SB_EIO, "cannot lock '%s': %s", path, strerror(errno));
                close(fd);
                return s;
            }
        }
        struct stat held, named;
        if (fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
            held.st_ino == named.st_ino) {
            *out = fd;
            return SB_OK;
        }
        close(fd); /* another writer replaced the file while we waited: lock the new one */
    }
    return sb_fail(SB_EIO, "cannot lock '%s': it keeps being replaced", path);
}

void sb_unlock_file(int fd)
{
    if (fd >= 0) close(fd); /* closing releases the flock */
}

sb_status sb_host_info(char *host, size_t host_size, char *os, size_t os_size)
{
    if (gethostname(host, host_size) != 0) snprintf(host, host_size, "unknown");
    host[host_size - 1] = '\0';
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(os, os_size, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(os, os_size, "unknown");
    return SB_OK;
}

sb_status sb_read_fd(int fd, size_t size, const char *path, uint8_t **data)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return sb_fail(SB_ENOMEM, "cannot allocate %zu bytes to read '%s'", size, path);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            free(buf);
            return sb_fail(SB_EIO, "cannot read '%s': %s", path,
                           n < 0 ? strerror(err) : "file shrank while reading");
        }
        got += (size_t)n;
    }
    *data = buf;
    return SB_OK;
}
