#define _GNU_SOURCE
#include "core/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12's kernel headers know Landlock ABI 1-2; newer kernels offer more. The values are
 * the kernel's ABI (include/uapi/linux/landlock.h), stable by design. */
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_FS_READ (LL_FS_READ_FILE | LL_FS_READ_DIR)
/* What may be done to a file (not a folder) in a rule */
#define LL_FS_FILE_RIGHTS                                                                          \
    (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

static uint64_t fs_rights_for_abi(int abi)
{
    uint64_t all = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2) all |= LL_FS_REFER;
    if (abi >= 3) all |= LL_FS_TRUNCATE;
    if (abi >= 5) all |= LL_FS_IOCTL_DEV;
    return all;
}

int sb_sandbox_landlock_abi(const char **why)
{
#ifdef SYS_landlock_create_ruleset
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi > 0) return (int)abi;
    if (why)
        *why = errno == ENOSYS ? "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK)"
               : errno == EOPNOTSUPP ? "Landlock is turned off at boot (add landlock to lsm=)"
                                     : strerror(errno);
    return 0;
#else
    if (why) *why = "this build's system headers do not know Landlock";
    return 0;
#endif
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Adds a rule for `path` (a folder: everything below; a file: that file). A path that does not
 * exist is skipped (*skipped is set); any other failure is an error. */
static sb_status add_path(int ruleset, const char *path, uint64_t rights, uint64_t handled)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return SB_OK;
        return sb_fail(SB_EIO, "sandbox: cannot open '%s' for its rule: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= LL_FS_FILE_RIGHTS;
    struct ll_path_beneath_attr attr = {.allowed_access = rights & handled, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0);
    int err = errno;
    close(fd);
    if (r != 0)
        return sb_fail(SB_EIO, "sandbox: Landlock refused the rule for '%s': %s", path,
                       strerror(err));
    return SB_OK;
}

/* Files and folders the engine itself reads whatever the script: shared libraries loaded on
 * first use (OpenBLAS, libcurl, oneDNN, the CUDA runtime), TLS certificates, name resolution,
 * the CPU's description. Never /home, /root, /tmp or the process's environment. */
static const char *const system_read[] = {
    "/usr",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/OpenCL",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/self/maps",   /* the sanitizers' reports */
    "/proc/self/status", /* peak memory (speed_mem_metrics) */
    "/proc/self/stat",
    "/proc/driver/nvidia",
    "/dev/urandom",
    "/dev/random",
};
/* Devices opened for writing: the GPU's and /dev/null. */
static const char *const system_write[] = {
    "/dev/null",    "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0",
    "/dev/nvidia1", "/dev/nvidia2",   "/dev/nvidia3",    "/dev/nvidia4",          "/dev/nvidia5",
    "/dev/nvidia6", "/dev/nvidia7",   "/dev/shm",
};

static sb_status apply_landlock(const sb_sandbox_rules *rules, int abi, sb_sandbox_report *rep)
{
    struct ll_ruleset_attr attr = {.handled_access_fs = fs_rights_for_abi(abi)};
    size_t attr_size = offsetof(struct ll_ruleset_attr, handled_access_net);
    if (abi >= 4) {
        attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
        attr_size = offsetof(struct ll_ruleset_attr, scoped);
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (ruleset < 0)
        return sb_fail(SB_EIO, "sandbox: cannot create a Landlock ruleset: %s", strerror(errno));
    uint64_t handled = attr.handled_access_fs;
    uint64_t read = LL_FS_READ | LL_FS_EXECUTE;
    uint64_t write = LL_FS_READ | LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_MAKE_REG |
                     LL_FS_MAKE_DIR | LL_FS_REMOVE_FILE | LL_FS_REMOVE_DIR | LL_FS_REFER;
    sb_status s = SB_OK;
    for (size_t i = 0; s == SB_OK && i < sizeof system_read / sizeof *system_read; i++)
        s = add_path(ruleset, system_read[i], read, handled);
    for (size_t i = 0; s == SB_OK && i < sizeof system_write / sizeof *system_write; i++)
        s = add_path(ruleset, system_write[i], LL_FS_READ | LL_FS_WRITE_FILE | LL_FS_IOCTL_DEV,
                     handled);
    /* the engine's own plugins (CUDA, results server) beside the executable or in ../lib */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 8);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash && slash != exe) {
            *slash = '\0';
            if (s == SB_OK) s = add_path(ruleset, exe, read, handled);
            char *up = strrchr(exe, '/');
            if (up && s == SB_OK) {
                snprintf(up, sizeof exe - (size_t)(up - exe), "/lib");
                s = add_path(ruleset, exe, read, handled);
            }
        }
    }
    for (int i = 0; s == SB_OK && i < rules->nread; i++)
        s = add_path(ruleset, rules->read[i], LL_FS_READ, handled);
    for (int i = 0; s == SB_OK && i < rules->nwrite; i++)
        s = add_path(ruleset, rules->write[i], write, handled);
    if (s == SB_OK && abi >= 4 && rules->tcp_port > 0) {
        struct ll_net_port_attr port = {.allowed_access = LL_NET_CONNECT_TCP,
                                        .port = (uint64_t)rules->tcp_port};
        if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &port, 0) != 0)
            s = sb_fail(SB_EIO, "sandbox: Landlock refused the rule for TCP port %d: %s",
                        rules->tcp_port, strerror(errno));
    }
    if (s == SB_OK && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
        s = sb_fail(SB_EIO, "sandbox: Landlock could not restrict the process: %s",
                    strerror(errno));
    close(ruleset);
    if (s != SB_OK) return s;
    rep->fs_enforced = 1;
    rep->net_enforced = abi >= 4;
    rep->scoped = abi >= 6;
    return SB_OK;
}

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define DENY(nr)                                                                                   \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                               \
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* execve/fork/vfork/clone-without-CLONE_THREAD/ptrace fail with EPERM; clone3 with ENOSYS
 * (glibc then creates threads with clone, which the filter can inspect); socket() only for
 * AF_NETLINK and, when a results server is allowed, AF_INET/AF_INET6. */
static sb_status apply_seccomp(int allow_inet)
{
#ifdef SB_AUDIT_ARCH
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __x86_64__
        /* the x32 ABI's numbers alias the same calls */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
#endif
        DENY(__NR_execve),
        DENY(__NR_execveat),
#ifdef __NR_fork
        DENY(__NR_fork),
#endif
#ifdef __NR_vfork
        DENY(__NR_vfork),
#endif
        DENY(__NR_ptrace),
        DENY(__NR_process_vm_readv),
        DENY(__NR_process_vm_writev),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 6),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allow_inet ? AF_INET : 0xffff, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, allow_inet ? AF_INET6 : 0xffff, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof filter / sizeof *filter),
                              .filter = filter};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
        return sb_fail(SB_EIO, "sandbox: cannot install the seccomp filter: %s", strerror(errno));
    return SB_OK;
#else
    (void)allow_inet;
    return sb_fail(SB_EIO, "sandbox: no seccomp filter for this CPU architecture");
#endif
}

static sb_sandbox_report applied;
static int applied_set;

const sb_sandbox_report *sb_sandbox_status(void)
{
    return applied_set ? &applied : NULL;
}

sb_status sb_sandbox_apply(const sb_sandbox_rules *rules, sb_sandbox_report *rep)
{
    memset(rep, 0, sizeof *rep);
    int threads = thread_count();
    if (threads > 1)
        return sb_fail(SB_EINVAL,
                       "sandbox: the process already runs %d threads; the sandbox must be "
                       "applied before any thread starts",
                       threads);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return sb_fail(SB_EIO, "sandbox: cannot set no_new_privs: %s", strerror(errno));
    const char *why = "";
    rep->landlock_abi = sb_sandbox_landlock_abi(&why);
    if (rep->landlock_abi > 0) {
        SB_TRY(apply_landlock(rules, rep->landlock_abi, rep));
    } else {
        snprintf(rep->landlock_missing, sizeof rep->landlock_missing, "%s", why);
    }
    SB_TRY(apply_seccomp(rules->tcp_port > 0));
    rep->seccomp = 1;
    char net[160];
    if (rules->tcp_port <= 0)
        snprintf(net, sizeof net, "none (seccomp: no TCP/IP sockets)");
    else if (rep->net_enforced)
        snprintf(net, sizeof net, "TCP to port %d only (Landlock)", rules->tcp_port);
    else
        snprintf(net, sizeof net, "TCP to any port: NOT limited by the kernel (Landlock ABI < 4)");
    if (rep->fs_enforced)
        snprintf(rep->text, sizeof rep->text,
                 "file system: Landlock ABI %d (read: the script's folder, the data root, the "
                 "allowed paths, the engine's files; write: the data root and the store's "
                 "folder); processes: seccomp (no exec, no fork); network: %s%s",
                 rep->landlock_abi, net,
                 rep->scoped ? "; signals and abstract sockets: this process only" : "");
    else
        snprintf(rep->text, sizeof rep->text,
                 "file system: NOT enforced by the kernel (no Landlock: %s), only the Lua "
                 "functions are limited, not the engine's own file access; processes: seccomp "
                 "(no exec, no fork); network: %s",
                 rep->landlock_missing, net);
    if (rep->fs_enforced)
        snprintf(rep->summary, sizeof rep->summary, "Landlock ABI %d (files%s), seccomp",
                 rep->landlock_abi, rep->net_enforced ? ", TCP ports" : "");
    else
        snprintf(rep->summary, sizeof rep->summary,
                 "seccomp only (no Landlock: files not limited)");
    applied = *rep;
    applied_set = 1;
    return SB_OK;
}

extern char **environ;

void sb_sandbox_forget_env(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            char *value = *e + n + 1;
            memset(value, 'x', strlen(value));
        }
    }
    unsetenv(name);
}
