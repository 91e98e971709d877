/* A small persistent pthread pool (no OpenMP: its spinning workers would fight OpenBLAS's
 * own threads on small machines, and a pool we own can be resized at run time). */
#include "tensor/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int num_threads; /* 0 until the first use */

/* One region at a time; workers sleep on `wake` between regions. */
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_THREADS];
static int worker_count;    /* started workers */
static int worker_target;   /* workers wanted; extra ones exit */
static uint64_t generation; /* bumped per region */
/* The generation current when a worker was created: it must not wait for one it missed. */
static uint64_t start_generation[MAX_THREADS];
static int workers_busy; /* workers still inside the current region */

static struct {
    void (*fn)(void *, int64_t, int64_t);
    void *ctx;
    int64_t n, chunk, nchunks;
    atomic_llong next;
} job;

static int default_threads(void)
{
    const char *env = getenv("SBENGINE_NUM_THREADS");
    if (env && *env) {
        char *end = NULL;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n >= 1) return n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
}

int sb_get_num_threads(void)
{
    int n = atomic_load(&num_threads);
    if (n > 0) return n;
    pthread_mutex_lock(&config_lock);
    n = atomic_load(&num_threads);
    if (n == 0) {
        n = default_threads();
        /* An explicit engine setting wins over OpenBLAS's own environment variables. */
        if (getenv("SBENGINE_NUM_THREADS")) openblas_set_num_threads(n);
        atomic_store(&num_threads, n);
    }
    pthread_mutex_unlock(&config_lock);
    return n;
}

sb_status sb_set_num_threads(int n)
{
    if (n < 1) return sb_fail(SB_EINVAL, "the number of threads must be at least 1, got %d", n);
    if (n > MAX_THREADS) n = MAX_THREADS;
    pthread_mutex_lock(&config_lock);
    atomic_store(&num_threads, n);
    openblas_set_num_threads(n);
    pthread_mutex_unlock(&config_lock);
    return SB_OK;
}

static void run_chunks(void)
{
    for (;;) {
        int64_t c = atomic_fetch_add(&job.next, 1);
        if (c >= job.nchunks) break;
        int64_t begin = c * job.chunk;
        int64_t end = begin + job.chunk < job.n ? begin + job.chunk : job.n;
        job.fn(job.ctx, begin, end);
    }
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool_lock);
    uint64_t seen = start_generation[id];
    for (;;) {
        while (generation == seen && id < worker_target)
            pthread_cond_wait(&wake, &pool_lock);
        if (id >= worker_target) break;
        seen = generation;
        pthread_mutex_unlock(&pool_lock);
        run_chunks();
        pthread_mutex_lock(&pool_lock);
        if (--workers_busy == 0) pthread_cond_signal(&done);
    }
    pthread_mutex_unlock(&pool_lock);
    return NULL;
}

/* Grows or shrinks the set of workers to `want` (called with region_lock held). */
static void resize_pool(int want)
{
    pthread_mutex_lock(&pool_lock);
    if (want < worker_count) {
        worker_target = want;
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&pool_lock);
        for (int i = want; i < worker_count; i++)
            pthread_join(workers[i], NULL);
        pthread_mutex_lock(&pool_lock);
        worker_count = want;
    }
    worker_target = want;
    while (worker_count < want) {
        start_generation[worker_count] = generation;
        if (pthread_create(&workers[worker_count], NULL, worker_main,
                           (void *)(intptr_t)worker_count) != 0) {
            worker_target = worker_count; /* run with what we have */
            break;
        }
        worker_count++;
    }
    pthread_mutex_unlock(&pool_lock);
}

void sb_parallel_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end),
                     void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int threads = sb_get_num_threads();
    if (threads <= 1 || n < 2 * grain || pthread_mutex_trylock(&region_lock) != 0) {
        fn(ctx, 0, n);
        return;
    }
    if (worker_count != threads - 1) resize_pool(threads - 1);
    int participants = worker_count + 1;
    int64_t nchunks = n / grain;
    /* A few chunks per thread balance uneven progress without much bookkeeping. */
    if (nchunks > 4 * participants) nchunks = 4 * participants;
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.chunk = (n + nchunks - 1) / nchunks;
    job.nchunks = (n + job.chunk - 1) / job.chunk;
    atomic_store(&job.next, 0);
    pthread_mutex_lock(&pool_lock);
    workers_busy = worker_count;
    generation++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&pool_lock);
    run_chunks();
    pthread_mutex_lock(&pool_lock);
    while (workers_busy > 0)
        pthread_cond_wait(&done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&region_lock);
}
