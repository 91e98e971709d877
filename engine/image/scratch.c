#include "image/scratch.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct scratch {
    void *buf[SB_SCRATCH_SLOTS];
    size_t cap[SB_SCRATCH_SLOTS];
} scratch;

/* The thread-local pointer keeps the buffers reachable (leak checkers scan TLS); the key's
 * destructor frees them when the thread exits. */
static __thread scratch *mine;
static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void release(void *p)
{
    scratch *s = p;
    for (int i = 0; i < SB_SCRATCH_SLOTS; i++)
        free(s->buf[i]);
    free(s);
    mine = NULL;
}

static void make_key(void)
{
    pthread_key_create(&key, release);
}

void *sb_scratch(int slot, size_t nbytes)
{
    if (!mine) {
        pthread_once(&once, make_key);
        mine = calloc(1, sizeof *mine);
        if (!mine) return NULL;
        pthread_setspecific(key, mine);
    }
    if (nbytes == 0) nbytes = 1;
    if (mine->cap[slot] < nbytes) {
        free(mine->buf[slot]);
        mine->buf[slot] = malloc(nbytes);
        mine->cap[slot] = mine->buf[slot] ? nbytes : 0;
    }
    return mine->buf[slot];
}
