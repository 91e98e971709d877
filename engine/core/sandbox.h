/* The kernel half of `sbengine --sandbox` (docs/cli.md, docs/reliability.md): Linux Landlock
 * for the file system (and TCP ports, from Landlock ABI 4), a seccomp filter against process
 * creation (execve, fork, vfork, clone without CLONE_THREAD), ptrace and sockets other than
 * TCP/IP to the results server. Applied once, to the whole process, before untrusted code
 * runs; it cannot be undone. The Lua half (lua/sbengine/_sandbox.lua) decides the paths. */
#ifndef SB_CORE_SANDBOX_H
#define SB_CORE_SANDBOX_H

#include <stddef.h>

#include "core/error.h"

typedef struct sb_sandbox_rules {
    const char *const *read; /* files and folders that may be read (folders: everything below) */
    int nread;
    const char *const *write; /* folders below which files may be created, written, removed */
    int nwrite;
    int tcp_port; /* the one TCP port that may be connected to (the results server); 0: none */
} sb_sandbox_rules;

typedef struct sb_sandbox_report {
    int landlock_abi; /* 0: the kernel has no Landlock (why: landlock_missing) */
    int fs_enforced;  /* file access limited by the kernel */
    int net_enforced; /* TCP connections limited to tcp_port by the kernel (Landlock ABI >= 4) */
    int scoped;       /* abstract unix sockets and signals limited to the process (ABI >= 6) */
    int seccomp;      /* the process-creation and socket filter is installed */
    char landlock_missing[160];
    char text[768];    /* one line saying all of the above, for the run's output */
    char summary[128]; /* the short form results record: "Landlock ABI 7, seccomp" */
} sb_sandbox_report;

/* The Landlock ABI version this kernel offers, or 0 with *why set to the reason. */
int sb_sandbox_landlock_abi(const char **why);

/* Applies the rules to the calling process, which must have one thread (a thread started
 * before would escape them: SB_EINVAL). What the kernel lacks is said in the report, not
 * an error; a failure of something the kernel offers is an error (SB_EIO) naming it. */
sb_status sb_sandbox_apply(const sb_sandbox_rules *rules, sb_sandbox_report *report);

/* The report of the sandbox this process runs in, or NULL when it runs in none. */
const sb_sandbox_report *sb_sandbox_status(void);

/* Overwrites the value of environment variable `name` in place (so that /proc/self/environ no
 * longer shows it either), then removes it. */
void sb_sandbox_forget_env(const char *name);

#endif
