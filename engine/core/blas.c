#include "core/blas.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu_features.h"
#include "core/dynlib.h"

#define OPENBLAS_SONAME "libopenblas.so.0"
#ifndef SBENGINE_OPENBLAS_LIBDIR
#define SBENGINE_OPENBLAS_LIBDIR ""
#endif

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint,
                         const float, float *, const blasint);
typedef void (*dgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const double, const double *, const blasint, const double *, const blasint,
                         const double, double *, const blasint);

/* The real entry points, resolved once from the loaded library. */
static struct {
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    void (*set_num_threads)(int);
    int (*get_num_threads)(void);
    char *(*get_config)(void);
    char *(*get_corename)(void);
} real;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool loaded;
static bool load_failed;
static int pending_threads; /* openblas_set_num_threads before the load; 0 = none */
static char load_error[768];
static char origin[160];

static void *open_library(char *tried, size_t tried_size)
{
    void *lib = dlopen(OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib) return lib;
    snprintf(tried, tried_size, "%s: %s", OPENBLAS_SONAME, dlerror());
    if (SBENGINE_OPENBLAS_LIBDIR[0]) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", SBENGINE_OPENBLAS_LIBDIR, OPENBLAS_SONAME);
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib) return lib;
        size_t used = strlen(tried);
        snprintf(tried + used, tried_size - used, "; %s: %s", path, dlerror());
    }
    return NULL;
}

static bool resolve(void *lib)
{
    const sb_dynlib_symbol symbols[] = {
        SB_DYNLIB_SYMBOL(real.sgemm, "cblas_sgemm"),
        SB_DYNLIB_SYMBOL(real.dgemm, "cblas_dgemm"),
        SB_DYNLIB_SYMBOL(real.set_num_threads, "openblas_set_num_threads"),
        SB_DYNLIB_SYMBOL(real.get_num_threads, "openblas_get_num_threads"),
        SB_DYNLIB_SYMBOL(real.get_config, "openblas_get_config"),
        SB_DYNLIB_SYMBOL(real.get_corename, "openblas_get_corename"),
    };
    return sb_dynlib_resolve(lib, OPENBLAS_SONAME, symbols, sizeof symbols / sizeof *symbols,
                             "libopenblas0", load_error, sizeof load_error);
}

/* Called with load_lock held. */
static void load_locked(void)
{
    char tried[600];
    void *lib = open_library(tried, sizeof tried);
    if (!lib) {
        snprintf(load_error, sizeof load_error,
                 "OpenBLAS could not be loaded (%s); install libopenblas0 (tools/setup)", tried);
        return;
    }
    if (!resolve(lib)) return;

    const char *user = getenv("OPENBLAS_CORETYPE");
    sb_cpu_features features;
    sb_cpu_features_detect(&features);
    const char *own = real.get_corename();
    const char *want = sb_blas_core_choice(user, own, &features);
    if (user && *user) {
        snprintf(origin, sizeof origin, "the user's OPENBLAS_CORETYPE=%s", user);
    } else if (!want) {
        snprintf(origin, sizeof origin, "OpenBLAS's own choice");
    } else {
        /* OpenBLAS fell back to its generic core: unload it (its destructor stops its
         * threads) and load it again with the core cpuid allows. OPENBLAS_CORETYPE is
         * only set for that second constructor, then removed, so that child processes see
         * the user's environment. */
        char fell_back[32];
        snprintf(fell_back, sizeof fell_back, "%s", own ? own : "?");
        dlclose(lib);
        memset(&real, 0, sizeof real);
        setenv("OPENBLAS_CORETYPE", want, 1);
        lib = open_library(tried, sizeof tried);
        unsetenv("OPENBLAS_CORETYPE");
        if (!lib) {
            snprintf(load_error, sizeof load_error,
                     "OpenBLAS could not be loaded again with OPENBLAS_CORETYPE=%s (%s)", want,
                     tried);
            return;
        }
        if (!resolve(lib)) return;
        snprintf(origin, sizeof origin, "cpuid: %s; OpenBLAS fell back to %s",
                 sb_cpu_features_summary(&features), fell_back);
    }
    if (pending_threads > 0) real.set_num_threads(pending_threads);
    atomic_store_explicit(&loaded, true, memory_order_release);
}

sb_status sb_blas_load(void)
{
    if (atomic_load_explicit(&loaded, memory_order_acquire)) return SB_OK;
    pthread_mutex_lock(&load_lock);
    if (!atomic_load_explicit(&loaded, memory_order_relaxed) && !load_failed) {
        load_locked();
        load_failed = !atomic_load_explicit(&loaded, memory_order_relaxed);
    }
    pthread_mutex_unlock(&load_lock);
    if (atomic_load_explicit(&loaded, memory_order_acquire)) return SB_OK;
    return sb_fail(SB_EUNSUPPORTED, "%s", load_error);
}

bool sb_blas_loaded(void)
{
    return atomic_load_explicit(&loaded, memory_order_acquire);
}

const char *sb_blas_kernel(void)
{
    return sb_blas_load() == SB_OK ? real.get_corename() : "";
}

const char *sb_blas_kernel_origin(void)
{
    return sb_blas_load() == SB_OK ? origin : "";
}

/* The kernels' BLAS calls have no way to return an error: without the library the process
 * cannot do what it was asked, as when the dynamic linker refused to start it. */
static void need_blas(void)
{
    if (atomic_load_explicit(&loaded, memory_order_acquire)) return;
    if (sb_blas_load() != SB_OK) {
        fprintf(stderr, "sbengine: %s\n", load_error);
        abort();
    }
}

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
                 const float alpha, const float *a, const blasint lda, const float *b,
                 const blasint ldb, const float beta, float *c, const blasint ldc)
{
    need_blas();
    real.sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cblas_dgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
                 const double alpha, const double *a, const blasint lda, const double *b,
                 const blasint ldb, const double beta, double *c, const blasint ldc)
{
    need_blas();
    real.dgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void openblas_set_num_threads(int n)
{
    pthread_mutex_lock(&load_lock);
    if (atomic_load_explicit(&loaded, memory_order_relaxed))
        real.set_num_threads(n);
    else
        pending_threads = n;
    pthread_mutex_unlock(&load_lock);
}

int openblas_get_num_threads(void)
{
    need_blas();
    return real.get_num_threads();
}

char *openblas_get_config(void)
{
    need_blas();
    return real.get_config();
}

char *openblas_get_corename(void)
{
    need_blas();
    return real.get_corename();
}
