#ifdef SBENGINE_HAVE_ONEDNN
#include "nn/cpu/onednn_api.h"

#include "core/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static sb_dnnl_api api;
static const sb_dnnl_api *loaded;
static char load_error[512];

static void load_libdnnl(void)
{
    void *lib = sb_dynlib_open("libdnnl.so.2", "libdnnl2", load_error, sizeof load_error);
#define SB_DNNL_SYMBOL(name) SB_DYNLIB_SYMBOL(api.name, #name),
    const sb_dynlib_symbol symbols[] = {SB_DNNL_FUNCTIONS(SB_DNNL_SYMBOL)};
#undef SB_DNNL_SYMBOL
    if (!lib || !sb_dynlib_resolve(lib, "libdnnl.so.2", symbols, sizeof symbols / sizeof *symbols,
                                   "libdnnl2", load_error, sizeof load_error)) {
        return;
    }
    /* libgomp, loaded as libdnnl's dependency; absent in a threadpool/TBB build of oneDNN,
     * which then keeps its own thread count. */
    *(void **)&api.omp_set_num_threads = dlsym(lib, "omp_set_num_threads");
    if (api.dnnl_engine_create(&api.engine, dnnl_cpu, 0) != dnnl_success ||
        api.dnnl_stream_create(&api.stream, api.engine, dnnl_stream_default_flags) !=
            dnnl_success) {
        snprintf(load_error, sizeof load_error, "oneDNN could not create a CPU engine");
        return;
    }
    loaded = &api;
}

const sb_dnnl_api *sb_dnnl(const char **why)
{
    pthread_once(&load_once, load_libdnnl);
    if (!loaded && why) *why = load_error;
    return loaded;
}

void *sb_dnnl_cache_find(const sb_dnnl_cache *c, const void *key, size_t key_bytes)
{
    for (int i = 0; i < c->size; i++)
        if (c->entries[i] && memcmp(c->entries[i], key, key_bytes) == 0) return c->entries[i];
    return NULL;
}

void *sb_dnnl_cache_put(sb_dnnl_cache *c, void *e, void *const *busy, int nbusy)
{
    for (int i = 0; i < c->size; i++)
        if (!c->entries[i]) {
            c->entries[i] = e;
            return NULL;
        }
    for (;;) { /* size > nbusy: one is free to go */
        const int candidate = c->next;
        c->next = (c->next + 1) % c->size;
        bool in_use = false;
        for (int b = 0; b < nbusy; b++)
            in_use = in_use || busy[b] == c->entries[candidate];
        if (in_use) continue;
        void *old = c->entries[candidate];
        c->entries[candidate] = e;
        return old;
    }
}

static pthread_once_t off_once = PTHREAD_ONCE_INIT;
static bool off;

static void read_off(void)
{
    const char *v = getenv("SBENGINE_ONEDNN");
    off = v && strcmp(v, "0") == 0;
}

bool sb_dnnl_turned_off(void)
{
    pthread_once(&off_once, read_off);
    return off;
}
#else
/* Built without oneDNN: nothing here (engine/nn/cpu/onednn_conv.c reports it). */
typedef int sb_onednn_api_unused;
#endif
