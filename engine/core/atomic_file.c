#define _GNU_SOURCE
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fsync_folder(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return; /* best effort: the rename itself already happened */
    fsync(fd);
    close(fd);
}

/* The temporary file, fsync, rename and folder fsync, for a path that is a regular file or
 * does not exist yet. */
static sb_status write_replacing(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return sb_fail(SB_ENOMEM, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sb_status s = sb_fail(SB_EIO, "cannot create a temporary file next to '%s': %s", path,
                              strerror(errno));
        free(tmp);
        return s;
    }
    /* mkstemp makes 0600; results and data files are ordinary files: 0666 & ~umask, or keep
     * the mode of the file being replaced. */
    struct stat st;
    mode_t mode;
    if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    fchmod(fd, mode);
    size_t done = 0;
    sb_status s = SB_OK;
    while (done < len) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            s = sb_fail(SB_EIO, "cannot write '%s': %s", tmp, strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (s == SB_OK && fsync(fd) != 0)
        s = sb_fail(SB_EIO, "cannot sync '%s': %s", tmp, strerror(errno));
    if (close(fd) != 0 && s == SB_OK)
        s = sb_fail(SB_EIO, "cannot close '%s': %s", tmp, strerror(errno));
    if (s == SB_OK && rename(tmp, path) != 0)
        s = sb_fail(SB_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (s != SB_OK) unlink(tmp);
    free(tmp);
    if (s == SB_OK) fsync_folder(path);
    return s;
}

sb_status sb_write_file_atomic(const char *path, const void *data, size_t len)
{
    if (path[0] == '\0') return sb_fail(SB_EINVAL, "path must not be empty");
    /* A symbolic link stays a link: the file it names is the one replaced. */
    struct stat st;
    char *target = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        target = realpath(path, NULL);
        if (!target)
            return sb_fail(SB_EIO, "cannot follow the link '%s': %s", path, strerror(errno));
        path = target;
    }
    /* Only a regular file is replaced: renaming over /dev/null would replace the device. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        sb_status s =
            sb_fail(SB_EIO, "'%s' is not a regular file (a device, pipe or folder)", path);
        free(target);
        return s;
    }
    sb_status s = write_replacing(path, data, len);
    free(target);
    return s;
}
