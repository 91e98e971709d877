#include "core/finish_guard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static sb_finish_guard guard;

sb_finish_guard *sb_finish_guard_get(void)
{
    return &guard;
}

/* Blocks SIGINT and SIGTERM while the guard changes; restores the mask after. */
static void block(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, old);
}

static void unblock(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}

static void release(sb_finish_guard *g)
{
    free(g->payload);
    free(g->store);
    free(g->note);
    for (int i = 0; i < SB_FINISH_MAX_RESCUES; i++) {
        free(g->rescues[i]);
        g->rescues[i] = NULL;
    }
    g->payload = g->store = g->note = NULL;
    g->payload_len = 0;
    g->count = 0;
}

static char *copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

sb_status sb_finish_guard_arm(const char *store, const char *payload, size_t len, int count,
                              const char *const *rescues)
{
    sb_finish_guard next = {0};
    next.payload = copy(payload, len);
    next.payload_len = len;
    next.count = count;
    next.store = copy(store, strlen(store));
    bool ok = next.payload && next.store;
    for (int i = 0; ok && rescues[i] && i < SB_FINISH_MAX_RESCUES; i++) {
        next.rescues[i] = copy(rescues[i], strlen(rescues[i]));
        ok = next.rescues[i] != NULL;
    }
    if (!ok) {
        release(&next);
        return sb_fail(SB_ENOMEM, "finish guard: cannot hold %zu bytes of results", len);
    }
    sigset_t old;
    block(&old);
    release(&guard);
    guard.payload = next.payload;
    guard.payload_len = next.payload_len;
    guard.count = next.count;
    guard.store = next.store;
    memcpy(guard.rescues, next.rescues, sizeof guard.rescues);
    guard.signals = 0;
    guard.phase = SB_FINISH_STORING;
    unblock(&old);
    return SB_OK;
}

sb_status sb_finish_guard_stored(const char *note)
{
    char *n = copy(note, strlen(note));
    if (!n) return sb_fail(SB_ENOMEM, "finish guard: cannot hold the note");
    sigset_t old;
    block(&old);
    release(&guard);
    guard.note = n;
    guard.phase = SB_FINISH_STORED;
    unblock(&old);
    return SB_OK;
}

void sb_finish_guard_clear(void)
{
    sigset_t old;
    block(&old);
    release(&guard);
    guard.signals = 0;
    guard.phase = SB_FINISH_IDLE;
    unblock(&old);
}
