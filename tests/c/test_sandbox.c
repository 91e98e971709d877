/* The kernel half of --sandbox (engine/core/sandbox.c): after sb_sandbox_apply a process
 * cannot start programs or processes, open sockets other than the allowed TCP, or touch files
 * outside its rules; threads still start. Each case runs in a child process (the sandbox
 * cannot be undone) that reports errno values through a pipe. The Landlock cases skip, with a
 * message, on a kernel without Landlock; the seccomp cases run everywhere. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sandbox.h"
#include "sbtest.h"

enum {
    P_APPLY,
    P_EXECVE,
    P_FORK,
    P_THREAD,
    P_SOCKET_INET,
    P_SOCKET_UNIX,
    P_PTRACE,
    P_READ_ETC,
    P_READ_ALLOWED,
    P_CREATE_READONLY,
    P_CREATE_WRITABLE,
    P_RENAME_WRITABLE,
    P_CONNECT_ALLOWED,
    P_CONNECT_OTHER,
    P_COUNT
};

static char base[64];
static int landlock_abi;

/* errno of a failed call, 0 on success */
#define PROBE(r) ((r) < 0 ? errno : 0)

static void *thread_main(void *arg) { return arg; }

static int connect_port(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    int err = r < 0 ? errno : 0;
    close(s);
    return err;
}

/* Runs the probes in a child sandboxed with `rules`; fills out[P_*] with errno values. */
static void run_probes(const sb_sandbox_rules *rules, int out[P_COUNT])
{
    int fds[2];
    SB_CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int r[P_COUNT] = {0};
        sb_sandbox_report rep;
        r[P_APPLY] = sb_sandbox_apply(rules, &rep) == SB_OK ? 0 : -1;
        if (r[P_APPLY] == 0) {
            char *argv[] = {"/bin/true", NULL};
            r[P_EXECVE] = PROBE(execve("/bin/true", argv, environ));
            pid_t child = fork();
            if (child == 0) _exit(0);
            if (child > 0) waitpid(child, NULL, 0);
            r[P_FORK] = PROBE(child);
            pthread_t t;
            r[P_THREAD] = pthread_create(&t, NULL, thread_main, NULL);
            if (r[P_THREAD] == 0) pthread_join(t, NULL);
            int s = socket(AF_INET, SOCK_STREAM, 0);
            r[P_SOCKET_INET] = PROBE(s);
            if (s >= 0) close(s);
            s = socket(AF_UNIX, SOCK_STREAM, 0);
            r[P_SOCKET_UNIX] = PROBE(s);
            if (s >= 0) close(s);
            r[P_PTRACE] = PROBE(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
            int fd = open("/etc/passwd", O_RDONLY);
            r[P_READ_ETC] = PROBE(fd);
            if (fd >= 0) close(fd);
            char path[128], path2[128];
            snprintf(path, sizeof path, "%s/ro/data.txt", base);
            fd = open(path, O_RDONLY);
            r[P_READ_ALLOWED] = PROBE(fd);
            if (fd >= 0) close(fd);
            snprintf(path, sizeof path, "%s/ro/new.txt", base);
            fd = open(path, O_WRONLY | O_CREAT, 0644);
            r[P_CREATE_READONLY] = PROBE(fd);
            if (fd >= 0) close(fd);
            snprintf(path, sizeof path, "%s/rw/new.tmp", base);
            fd = open(path, O_WRONLY | O_CREAT, 0644);
            r[P_CREATE_WRITABLE] = PROBE(fd);
            if (fd >= 0) close(fd);
            snprintf(path2, sizeof path2, "%s/rw/new.txt", base);
            r[P_RENAME_WRITABLE] = PROBE(rename(path, path2));
            if (rules->tcp_port > 0) {
                r[P_CONNECT_ALLOWED] = connect_port(rules->tcp_port);
                r[P_CONNECT_OTHER] = connect_port(rules->tcp_port + 1);
            }
        }
        ssize_t w = write(fds[1], r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1); /* _exit: no exit-time tracer under LSan */
    }
    close(fds[1]);
    memset(out, 0, sizeof(int) * P_COUNT);
    SB_CHECK(read(fds[0], out, sizeof(int) * P_COUNT) == (ssize_t)(sizeof(int) * P_COUNT));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    SB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void make_dirs(void)
{
    char p[128];
    snprintf(base, sizeof base, "/tmp/sb-sandbox-test-XXXXXX");
    SB_CHECK(mkdtemp(base) != NULL);
    snprintf(p, sizeof p, "%s/ro", base);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/rw", base);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/ro/data.txt", base);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("data\n", f);
        fclose(f);
    }
}

static void test_processes_and_sockets(void)
{
    char ro[96], rw[96];
    snprintf(ro, sizeof ro, "%s/ro", base);
    snprintf(rw, sizeof rw, "%s/rw", base);
    const char *read[] = {ro}, *write[] = {rw};
    sb_sandbox_rules rules = {.read = read, .nread = 1, .write = write, .nwrite = 1};
    int r[P_COUNT];
    run_probes(&rules, r);
    SB_CHECK(r[P_APPLY] == 0);
    SB_CHECK(r[P_EXECVE] == EPERM);
    SB_CHECK(r[P_FORK] == EPERM);
    SB_CHECK(r[P_THREAD] == 0);
    SB_CHECK(r[P_SOCKET_INET] == EACCES); /* no results server: no TCP/IP at all */
    SB_CHECK(r[P_SOCKET_UNIX] == EACCES);
    SB_CHECK(r[P_PTRACE] == EPERM);
    if (landlock_abi == 0) {
        printf("  (Landlock cases skipped: this kernel has no Landlock)\n");
        return;
    }
    SB_CHECK(r[P_READ_ETC] == EACCES);
    SB_CHECK(r[P_READ_ALLOWED] == 0);
    SB_CHECK(r[P_CREATE_READONLY] == EACCES);
    SB_CHECK(r[P_CREATE_WRITABLE] == 0);
    SB_CHECK(r[P_RENAME_WRITABLE] == 0);
}

static void test_results_server_port(void)
{
    sb_sandbox_rules rules = {.tcp_port = 9}; /* nothing listens on discard, 9, or on 10 */
    int r[P_COUNT];
    run_probes(&rules, r);
    SB_CHECK(r[P_APPLY] == 0);
    SB_CHECK(r[P_SOCKET_INET] == 0);
    SB_CHECK(r[P_SOCKET_UNIX] == EACCES);
    if (landlock_abi < 4) {
        printf("  (TCP port cases skipped: Landlock ABI %d < 4)\n", landlock_abi);
        return;
    }
    SB_CHECK(r[P_CONNECT_ALLOWED] == ECONNREFUSED);
    SB_CHECK(r[P_CONNECT_OTHER] == EACCES);
}

static void *sleeper(void *arg)
{
    pause();
    return arg;
}

static void test_refuses_a_threaded_process(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, sleeper, NULL) != 0) _exit(2);
        sb_sandbox_rules rules = {0};
        sb_sandbox_report rep;
        sb_status s = sb_sandbox_apply(&rules, &rep);
        _exit(s == SB_EINVAL && strstr(sb_error_message(), "threads") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    SB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const char *why = NULL;
    landlock_abi = sb_sandbox_landlock_abi(&why);
    if (landlock_abi == 0) printf("this kernel has no Landlock: %s\n", why);
    make_dirs();
    SB_RUN(test_processes_and_sockets);
    SB_RUN(test_results_server_port);
    SB_RUN(test_refuses_a_threaded_process);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
    return sb_test_summary();
}
