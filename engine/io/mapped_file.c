/* sb_map_file: open, check, mmap, wrap (see mapped_file.h). */
#include "io/mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmap_release(void *ctx, void *data, size_t nbytes)
{
    (void)ctx;
    munmap(data, nbytes);
}

sb_status sb_map_file(const char *path, size_t min_size, const char *too_short, sb_storage **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat sbuf;
    if (fstat(fd, &sbuf) != 0) {
        int e = errno;
        close(fd);
        return sb_fail(SB_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sbuf.st_mode)) {
        close(fd);
        return sb_fail(SB_EIO, "%s is not a regular file", path);
    }
    size_t size = (size_t)sbuf.st_size;
    if (size < min_size || size == 0) {
        close(fd);
        return sb_fail(SB_EFORMAT, "%s: %s", path, too_short);
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) return sb_fail(SB_EIO, "cannot map %s: %s", path, strerror(map_errno));
    sb_status st = sb_storage_wrap(map, size, SB_CPU, unmap_release, NULL, out);
    if (st != SB_OK) munmap(map, size);
    return st;
}
