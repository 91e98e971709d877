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
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return; /* best effort: the rename itself already happened */
    fsync(fd);
    close(fd);
}

static void release(sb_atomic_file *f)
{
    free(f->tmp);
    free(f->target);
    f->tmp = f->target = NULL;
    f->fd = -1;
}

/* The path a link names when that file does not exist yet (the first write through a link
 * made in advance): its text, relative to the link's folder unless absolute. NULL (errno
 * set) when it cannot be read. */
static char *dangling_target(const char *link)
{
    char text[4096];
    ssize_t n = readlink(link, text, sizeof text - 1);
    if (n < 0) return NULL;
    if (n == (ssize_t)sizeof text - 1) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    text[n] = '\0';
    const char *slash = strrchr(link, '/');
    if (text[0] == '/' || !slash) return strdup(text);
    size_t dir_len = (size_t)(slash - link) + 1;
    char *out = malloc(dir_len + (size_t)n + 1);
    if (!out) return NULL;
    memcpy(out, link, dir_len);
    memcpy(out + dir_len, text, (size_t)n + 1);
    return out;
}

sb_status sb_atomic_open(sb_atomic_file *f, const char *path)
{
    f->fd = -1;
    f->tmp = f->target = NULL;
    if (path[0] == '\0') return sb_fail(SB_EINVAL, "path must not be empty");
    /* A symbolic link stays a link: the file it names is the one replaced. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        f->target = realpath(path, NULL);
        if (!f->target && errno == ENOENT) f->target = dangling_target(path);
        if (!f->target)
            return sb_fail(SB_EIO, "cannot follow the link '%s': %s", path, strerror(errno));
    } else {
        f->target = strdup(path);
        if (!f->target) return sb_fail(SB_ENOMEM, "out of memory");
    }
    /* mkstemp makes 0600; results and data files are ordinary files: 0666 & ~umask, or keep
     * the mode of the file being replaced. Only a regular file is replaced: renaming over
     * /dev/null would replace the device. */
    mode_t mode;
    if (stat(f->target, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            sb_status s =
                sb_fail(SB_EIO, "'%s' is not a regular file (a device, pipe or folder)", f->target);
            release(f);
            return s;
        }
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    size_t n = strlen(f->target) + 16;
    f->tmp = malloc(n);
    if (!f->tmp) {
        release(f);
        return sb_fail(SB_ENOMEM, "out of memory");
    }
    snprintf(f->tmp, n, "%s.tmp.XXXXXX", f->target);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        sb_status s = sb_fail(SB_EIO, "cannot create a temporary file next to '%s': %s", path,
                              strerror(errno));
        release(f);
        return s;
    }
    fchmod(f->fd, mode);
    return SB_OK;
}

sb_status sb_atomic_write(sb_atomic_file *f, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sb_fail(SB_EIO, "cannot write '%s': %s", f->tmp, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return SB_OK;
}

void sb_atomic_abort(sb_atomic_file *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    release(f);
}

sb_status sb_atomic_commit(sb_atomic_file *f)
{
    sb_status s = SB_OK;
    if (fsync(f->fd) != 0) s = sb_fail(SB_EIO, "cannot sync '%s': %s", f->tmp, strerror(errno));
    if (close(f->fd) != 0 && s == SB_OK)
        s = sb_fail(SB_EIO, "cannot close '%s': %s", f->tmp, strerror(errno));
    f->fd = -1;
    if (s == SB_OK && rename(f->tmp, f->target) != 0)
        s = sb_fail(SB_EIO, "cannot rename '%s' to '%s': %s", f->tmp, f->target, strerror(errno));
    if (s == SB_OK)
        fsync_folder(f->target);
    else
        unlink(f->tmp);
    release(f);
    return s;
}

sb_status sb_write_file_atomic(const char *path, const void *data, size_t len)
{
    sb_atomic_file f;
    SB_TRY(sb_atomic_open(&f, path));
    sb_status s = sb_atomic_write(&f, data, len);
    if (s != SB_OK) {
        sb_atomic_abort(&f);
        return s;
    }
    return sb_atomic_commit(&f);
}
