#ifdef SBENGINE_HAVE_ONEDNN
#include "nn/cpu/onednn_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static sb_dnnl_api api;
static const sb_dnnl_api *loaded;
static char load_error[512];

static void load_libdnnl(void)
{
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error,
                 "libdnnl.so.2 could not be loaded (%s); install libdnnl2 (tools/setup)",
                 dlerror());
        return;
    }
#define SB_DNNL_RESOLVE(name)                                                                      \
    *(void **)&api.name = dlsym(lib, #name);                                                       \
    if (!api.name) {                                                                               \
        snprintf(load_error, sizeof load_error, "libdnnl.so.2 lacks %s (oneDNN 2.x needed)",       \
                 #name);                                                                           \
        return;                                                                                    \
    }
    SB_DNNL_FUNCTIONS(SB_DNNL_RESOLVE)
#undef SB_DNNL_RESOLVE
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
#else
/* Built without oneDNN: nothing here (engine/nn/cpu/onednn_conv.c reports it). */
typedef int sb_onednn_api_unused;
#endif
