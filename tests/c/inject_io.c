/* Failure injection for the file writes that must not lose data (tests/cli/inject_store.sh,
 * docs/reliability.md), in the manner of SQLite's I/O-error tests: an LD_PRELOAD shim that
 * counts the calls the engine makes on files below one folder and fails the Nth.
 *
 * Only calls that touch $SBINJECT_DIR count: open/openat/fopen/mkstemp/mkostemp of a path
 * below it, rename/renameat to or from it, and write/fsync/fdatasync/close/flock/fread on a
 * descriptor (or FILE) opened there. Everything else (the Lua library, stderr, libraries
 * loaded later) passes straight through, so the count is that of the store write alone.
 *
 *   SBINJECT_DIR    absolute folder whose files are watched (required; unset: the shim is inert)
 *   SBINJECT_N      fail the Nth counted call (1-based); 0 or unset: count only
 *   SBINJECT_MODE   once (default: only the Nth fails) | persist (the Nth and every later one)
 *   SBINJECT_ERRNO  EIO (default) | ENOSPC | EDQUOT | EACCES
 *   SBINJECT_CALLS  comma-separated names of the calls that count (default: all of them)
 *   SBINJECT_LOG    file to which each counted call appends "N NAME PATH ok|FAIL"
 *
 * An injected close really closes the descriptor (as Linux does when close fails). The
 * shim writes its log with raw system calls so that it never counts itself. Built without
 * sanitizers; under ASan it is preloaded after the sanitizer runtime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FD 65536

static unsigned char watched[MAX_FD];
static int configured;  /* 0 not yet, 1 active, -1 inert */
static char dir[PATH_MAX];
static size_t dir_len;
static long fail_at;
static int persist;
static int inject_errno = EIO;
static char calls[256];
static char log_path[PATH_MAX];
static long counter;

static void configure(void)
{
    if (configured) return;
    const char *d = getenv("SBINJECT_DIR");
    if (!d || d[0] != '/' || strlen(d) >= sizeof dir) {
        configured = -1;
        return;
    }
    snprintf(dir, sizeof dir, "%s", d);
    dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/') dir[--dir_len] = '\0';
    const char *n = getenv("SBINJECT_N");
    fail_at = n ? strtol(n, NULL, 10) : 0;
    const char *mode = getenv("SBINJECT_MODE");
    persist = mode && strcmp(mode, "persist") == 0;
    const char *e = getenv("SBINJECT_ERRNO");
    if (e && strcmp(e, "ENOSPC") == 0) inject_errno = ENOSPC;
    if (e && strcmp(e, "EDQUOT") == 0) inject_errno = EDQUOT;
    if (e && strcmp(e, "EACCES") == 0) inject_errno = EACCES;
    const char *c = getenv("SBINJECT_CALLS");
    if (c) snprintf(calls, sizeof calls, ",%s,", c);
    const char *l = getenv("SBINJECT_LOG");
    if (l) snprintf(log_path, sizeof log_path, "%s", l);
    configured = 1;
}

static int below(int dirfd, const char *path)
{
    if (!path) return 0;
    char full[2 * PATH_MAX + 2];
    if (path[0] == '/') {
        snprintf(full, sizeof full, "%s", path);
    } else if (dirfd == AT_FDCWD) {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return 0;
        snprintf(full, sizeof full, "%s/%s", cwd, path);
    } else {
        char link[64], at[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        ssize_t k = readlink(link, at, sizeof at - 1);
        if (k < 0) return 0;
        at[k] = '\0';
        snprintf(full, sizeof full, "%s/%s", at, path);
    }
    return strncmp(full, dir, dir_len) == 0 && (full[dir_len] == '/' || full[dir_len] == '\0');
}

static void log_line(long n, const char *name, const char *what, int failed)
{
    if (!log_path[0]) return;
    char line[PATH_MAX + 128];
    int len = snprintf(line, sizeof line, "%ld %s %s %s\n", n, name, what ? what : "-",
                       failed ? "FAIL" : "ok");
    if (len < 0) return;
    if (len > (int)sizeof line - 1) len = (int)sizeof line - 1;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                          0644);
    if (fd < 0) return;
    if (syscall(SYS_write, fd, line, (size_t)len) < 0) { /* the log is best effort */
    }
    syscall(SYS_close, fd);
}

/* Counts one call; returns 1 when it must fail (errno is then set by the caller's return). */
static int hit(const char *name, const char *what)
{
    if (calls[0]) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", name);
        if (!strstr(calls, key)) return 0;
    }
    long n = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    int failed = fail_at > 0 && (n == fail_at || (persist && n > fail_at));
    log_line(n, name, what, failed);
    return failed;
}

static char *fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, buf, size - 1);
    if (k < 0) return NULL;
    buf[k] = '\0';
    return buf;
}

static int fd_watched(int fd) { return configured == 1 && fd >= 0 && fd < MAX_FD && watched[fd]; }
static void watch(int fd)
{
    if (fd >= 0 && fd < MAX_FD) watched[fd] = 1;
}

#define REAL(name, type) \
    static type real_##name; \
    if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

/* Counts an open of `path` (relative to `dirfd`); -1 when it must fail, else whether the
 * descriptor it returns is to be watched. */
static int open_check(int dirfd, const char *path)
{
    configure();
    int counts = configured == 1 && below(dirfd, path);
    if (counts && hit("open", path)) {
        errno = inject_errno;
        return -1;
    }
    return counts;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

typedef int (*openat_fn)(int, const char *, int, ...);
int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat, openat_fn);
    int counts = open_check(dirfd, path);
    if (counts < 0) return -1;
    int fd = real_openat(dirfd, path, flags, mode);
    if (counts) watch(fd);
    return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

/* open(path) is openat(AT_FDCWD, path) */
int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return openat(AT_FDCWD, path, flags, mode);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

typedef FILE *(*fopen_fn)(const char *, const char *);
FILE *fopen(const char *path, const char *mode)
{
    REAL(fopen, fopen_fn);
    int counts = open_check(AT_FDCWD, path);
    if (counts < 0) return NULL;
    FILE *f = real_fopen(path, mode);
    if (counts && f) watch(fileno(f));
    return f;
}
FILE *fopen64(const char *path, const char *mode) __attribute__((alias("fopen")));

typedef int (*mkostemp_fn)(char *, int);
int mkostemp(char *tmpl, int flags)
{
    REAL(mkostemp, mkostemp_fn);
    int counts = open_check(AT_FDCWD, tmpl);
    if (counts < 0) return -1;
    int fd = real_mkostemp(tmpl, flags);
    if (counts && fd >= 0) watch(fd);
    return fd;
}
int mkostemp64(char *tmpl, int flags) __attribute__((alias("mkostemp")));
int mkstemp(char *tmpl) { return mkostemp(tmpl, 0); }
int mkstemp64(char *tmpl) __attribute__((alias("mkstemp")));

typedef ssize_t (*write_fn)(int, const void *, size_t);
ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write, write_fn);
    if (fd_watched(fd)) {
        char p[PATH_MAX];
        if (hit("write", fd_path(fd, p, sizeof p))) {
            errno = inject_errno;
            return -1;
        }
    }
    return real_write(fd, buf, len);
}

typedef size_t (*fread_fn)(void *, size_t, size_t, FILE *);
size_t fread(void *buf, size_t size, size_t n, FILE *f)
{
    REAL(fread, fread_fn);
    if (fd_watched(fileno(f))) {
        char p[PATH_MAX];
        if (hit("read", fd_path(fileno(f), p, sizeof p))) {
            errno = inject_errno;
            /* as a real read error does: the stream's error flag set, nothing read */
            f->_flags |= _IO_ERR_SEEN;
            return 0;
        }
    }
    return real_fread(buf, size, n, f);
}

typedef int (*fd_fn)(int);
static int fd_call(const char *name, int fd, fd_fn real)
{
    if (fd_watched(fd)) {
        char p[PATH_MAX];
        if (hit(name, fd_path(fd, p, sizeof p))) {
            errno = inject_errno;
            return -1;
        }
    }
    return real(fd);
}
int fsync(int fd)
{
    REAL(fsync, fd_fn);
    return fd_call("fsync", fd, real_fsync);
}
int fdatasync(int fd)
{
    REAL(fdatasync, fd_fn);
    return fd_call("fsync", fd, real_fdatasync);
}

int close(int fd)
{
    REAL(close, fd_fn);
    if (fd_watched(fd)) {
        char p[PATH_MAX];
        int failed = hit("close", fd_path(fd, p, sizeof p));
        watched[fd] = 0;
        int r = real_close(fd); /* Linux closes the descriptor even when close fails */
        if (failed) {
            errno = inject_errno;
            return -1;
        }
        return r;
    }
    return real_close(fd);
}

typedef int (*fclose_fn)(FILE *);
int fclose(FILE *f)
{
    REAL(fclose, fclose_fn);
    int fd = f ? fileno(f) : -1;
    if (fd_watched(fd)) watched[fd] = 0; /* fclose's own close is glibc-internal: no count */
    return real_fclose(f);
}

typedef int (*flock_fn)(int, int);
int flock(int fd, int op)
{
    REAL(flock, flock_fn);
    if (fd_watched(fd) && !(op & LOCK_UN)) {
        char p[PATH_MAX];
        if (hit("flock", fd_path(fd, p, sizeof p))) {
            errno = inject_errno;
            return -1;
        }
    }
    return real_flock(fd, op);
}

typedef int (*rename_fn)(const char *, const char *);
int rename(const char *from, const char *to)
{
    configure();
    REAL(rename, rename_fn);
    if (configured == 1 && (below(AT_FDCWD, from) || below(AT_FDCWD, to)) && hit("rename", to)) {
        errno = inject_errno;
        return -1;
    }
    return real_rename(from, to);
}

typedef int (*renameat_fn)(int, const char *, int, const char *);
int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    configure();
    REAL(renameat, renameat_fn);
    if (configured == 1 && (below(fromfd, from) || below(tofd, to)) && hit("rename", to)) {
        errno = inject_errno;
        return -1;
    }
    return real_renameat(fromfd, from, tofd, to);
}
