/* What the end of a run has kept, for a signal that arrives while it stores the results.
 *
 * The store write must finish, or its results must land in a rescue file: while the guard is
 * armed (sb_finish_guard_arm) the engine's SIGINT/SIGTERM handler (engine/runtime.c) lets a
 * first signal wait for the write, and on a second one writes the armed payload to the first
 * rescue path it can create, with async-signal-safe calls only (open, write, fsync, close).
 * Once the results are stored (sb_finish_guard_stored) a signal says where they are and ends
 * the run. The state is set from Lua between steps, never from the handler, and every change
 * happens with SIGINT and SIGTERM blocked so the handler never sees half of one. */
#ifndef SB_CORE_FINISH_GUARD_H
#define SB_CORE_FINISH_GUARD_H

#include <signal.h>
#include <stddef.h>

#include "core/error.h"

typedef enum sb_finish_phase {
    SB_FINISH_IDLE = 0, /* nothing to protect: signals act as during the script */
    SB_FINISH_STORING,  /* the results are being stored: the payload is armed */
    SB_FINISH_STORED,   /* they are stored: `note` says where */
} sb_finish_phase;

#define SB_FINISH_MAX_RESCUES 2

typedef struct sb_finish_guard {
    volatile sig_atomic_t phase;   /* sb_finish_phase */
    volatile sig_atomic_t signals; /* signals received since the guard was armed */
    char *payload;                 /* the results as JSON (STORING) */
    size_t payload_len;
    int count;                            /* how many results */
    char *rescues[SB_FINISH_MAX_RESCUES]; /* where a second signal saves them, in order */
    char *store;                          /* the store file's path */
    char *note;                           /* STORED: one line saying what was kept */
} sb_finish_guard;

/* The process's guard (read by the signal handler). */
sb_finish_guard *sb_finish_guard_get(void);

/* Arms the guard: `payload` (the results as JSON, `count` of them) goes to the first of
 * `rescues` (NULL-terminated, at most SB_FINISH_MAX_RESCUES) that can be created if a second
 * signal stops the write of `store`. Copies everything. */
sb_status sb_finish_guard_arm(const char *store, const char *payload, size_t len, int count,
                              const char *const *rescues);
/* The results are stored: a signal now prints `note` and ends the run. */
sb_status sb_finish_guard_stored(const char *note);
/* Back to idle; frees what the guard held. */
void sb_finish_guard_clear(void);

#endif
