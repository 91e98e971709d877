/* The host side of distributed evaluation: knows from the environment whether an MPI
 * launcher started the process, loads the MPI plugin then and only then (dist/dist.h),
 * and turns its MPI error codes into messages. */
#define _GNU_SOURCE /* on_exit */
#include "dist/dist.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/plugin_path.h"
#include "dist/plugin.h"

static const sb_dist_plugin *plugin;
static bool started, aborting;
static char start_error[1024]; /* why joining the job failed, for every later call */
static int rank, size = 1, local_rank;

/* The variables launchers set in each process they start; `size_var` says how many ranks
 * (none for PMIx, whose size is only known from the library). */
static const struct {
    const char *rank_var, *size_var;
} launchers[] = {
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, /* Open MPI's mpirun */
    {"PMIX_RANK", NULL},                              /* PMIx: prterun, srun --mpi=pmix */
    {"PMI_RANK", "PMI_SIZE"},                         /* MPICH's hydra, srun --mpi=pmi2 */
    {"SLURM_PROCID", "SLURM_STEP_NUM_TASKS"},         /* srun, for a step of several tasks */
};

const char *sb_dist_launcher(void)
{
    static char said[256];
    for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++) {
        const char *r = getenv(launchers[k].rank_var);
        if (!r || !*r) continue;
        const char *n = launchers[k].size_var ? getenv(launchers[k].size_var) : NULL;
        /* A Slurm batch script also has SLURM_PROCID: only an srun step of several tasks
         * counts. */
        if (strcmp(launchers[k].rank_var, "SLURM_PROCID") == 0 && !(n && atol(n) > 1)) continue;
        if (n && *n)
            snprintf(said, sizeof said, "%s=%s", launchers[k].size_var, n);
        else
            snprintf(said, sizeof said, "%s=%s", launchers[k].rank_var, r);
        return said;
    }
    return NULL;
}

/* How many ranks the launcher said it started: 0 when it did not say. */
static long launched_size(void)
{
    for (size_t k = 0; k < sizeof launchers / sizeof *launchers; k++) {
        const char *r = getenv(launchers[k].rank_var);
        const char *n = launchers[k].size_var ? getenv(launchers[k].size_var) : NULL;
        if (r && *r && n && *n) return atol(n);
    }
    return 0;
}

bool sb_built_with_mpi(void)
{
#ifdef SBENGINE_HAVE_MPI
    return true;
#else
    return false;
#endif
}

const char *sb_dist_built_against(void)
{
#ifdef SBENGINE_MPI_VERSION
    return "Open MPI " SBENGINE_MPI_VERSION;
#else
    return NULL;
#endif
}

static sb_status mpi_fail(const char *what, int code)
{
    char text[512];
    plugin->error_string(code, text, sizeof text);
    return sb_fail(SB_EIO, "%s failed on rank %d of %d: %s", what, rank, size, text);
}

/* At the process's exit: MPI_Finalize after a success. A rank that leaves with a failure
 * (os.exit(2) after a usage error, a store file that could not be written) aborts the job
 * instead: MPI_Finalize would wait for ranks that may be waiting for this one. */
static void finalize_at_exit(int status, void *unused)
{
    (void)unused;
    if (!plugin || aborting) return;
    if (status != 0 && size > 1) {
        aborting = true;
        plugin->abort(status);
    }
    plugin->finalize();
}

/* Fills `path` with the plugin to load: $SBENGINE_MPI_PLUGIN, else beside the engine. */
static sb_status locate(char *path, size_t path_size)
{
    const char *env = getenv("SBENGINE_MPI_PLUGIN");
    if (env && *env) {
        if (access(env, R_OK) != 0)
            return sb_fail(SB_EUNSUPPORTED,
                           "cannot load the MPI plugin: %s: %s (SBENGINE_MPI_PLUGIN)", env,
                           strerror(errno));
        snprintf(path, path_size, "%s", env);
        return SB_OK;
    }
    char tried[2048];
    if (!sb_plugin_find(SB_DIST_PLUGIN_FILE, (const void *)&sb_dist_start, path, path_size, tried,
                        sizeof tried))
        return sb_fail(SB_EUNSUPPORTED,
                       "the MPI plugin " SB_DIST_PLUGIN_FILE " was not found (looked in: %s; set "
                       "SBENGINE_MPI_PLUGIN to its path)",
                       tried);
    return SB_OK;
}

static sb_status load(const char *launcher)
{
    char path[PATH_MAX];
    if (!sb_built_with_mpi())
        return sb_fail(SB_EUNSUPPORTED,
                       "an MPI launcher started this process (%s) but this build of sbengine has "
                       "no MPI support: install libopenmpi-dev (tools/setup) and build again, or "
                       "run it without mpirun/srun",
                       launcher);
    SB_TRY(locate(path, sizeof path));
    /* RTLD_GLOBAL: Open MPI dlopen()s its own components, which expect libmpi's symbols. */
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!handle)
        return sb_fail(SB_EUNSUPPORTED, "cannot load the MPI plugin: %s (install openmpi-bin)",
                       dlerror());
    sb_dist_plugin_open_fn open;
    *(void **)&open = dlsym(handle, SB_DIST_PLUGIN_ENTRY);
    const sb_dist_plugin *p = open ? open() : NULL;
    if (!p || p->abi != SB_DIST_PLUGIN_ABI || p->size != sizeof(sb_dist_plugin))
        return sb_fail(SB_EUNSUPPORTED,
                       "the MPI plugin %s does not match this engine (rebuild or reinstall both)",
                       path);
    /* The handle stays open: MPI cannot be unloaded. */
    plugin = p;
    return SB_OK;
}

sb_status sb_dist_start(void)
{
    if (started) return size > 0 ? SB_OK : sb_fail(SB_EUNSUPPORTED, "%s", start_error);
    started = true;
    const char *launcher = sb_dist_launcher();
    if (!launcher) return SB_OK;
    sb_status s = load(launcher);
    if (s != SB_OK) {
        /* One rank of one is a single process: go on without MPI. */
        if (launched_size() == 1) {
            sb_error_clear();
            return SB_OK;
        }
        size = 0; /* every later start fails too */
        snprintf(start_error, sizeof start_error, "%s", sb_error_message());
        return s;
    }
    int r = 0, n = 1, local = 0;
    int rc = plugin->init(&r, &n, &local);
    if (rc != 0) {
        char text[512];
        plugin->error_string(rc, text, sizeof text);
        plugin = NULL;
        size = 0;
        snprintf(start_error, sizeof start_error, "MPI_Init failed (%s): %s", launcher, text);
        return sb_fail(SB_EIO, "%s", start_error);
    }
    rank = r;
    size = n;
    local_rank = local;
    on_exit(finalize_at_exit, NULL);
    return SB_OK;
}

bool sb_dist_active(void)
{
    return plugin != NULL;
}

int sb_dist_rank(void)
{
    return rank;
}

int sb_dist_size(void)
{
    return size > 0 ? size : 1;
}

int sb_dist_local_rank(void)
{
    return local_rank;
}

const char *sb_dist_library_version(void)
{
    return plugin ? plugin->library_version() : NULL;
}

sb_status sb_dist_barrier(void)
{
    if (!plugin) return SB_OK;
    int rc = plugin->barrier();
    return rc ? mpi_fail("MPI_Barrier", rc) : SB_OK;
}

static sb_status gather_raw(const void *data, size_t len, void **out, int64_t **lens)
{
    *out = NULL;
    *lens = NULL;
    if ((uint64_t)len > (uint64_t)INT_MAX)
        return sb_fail(SB_ERANGE, "gather: %zu bytes from one rank; MPI takes at most %d", len,
                       INT_MAX);
    int64_t *all = NULL;
    if (rank == 0) {
        all = malloc(sizeof(int64_t) * (size_t)size);
        if (!all) return sb_fail(SB_ENOMEM, "gather: cannot allocate %d byte counts", size);
    }
    int rc = plugin->gather_lens((int64_t)len, all);
    if (rc) {
        free(all);
        return mpi_fail("MPI_Gather", rc);
    }
    char *bytes = NULL;
    if (rank == 0) {
        int64_t total = 0;
        for (int r = 0; r < size; r++)
            total += all[r];
        bytes = malloc(total ? (size_t)total : 1);
        if (!bytes) {
            free(all);
            return sb_fail(SB_ENOMEM, "gather: cannot allocate %lld bytes on rank 0",
                           (long long)total);
        }
    }
    rc = plugin->gather_bytes(data, (int64_t)len, bytes, all);
    if (rc) {
        free(all);
        free(bytes);
        return mpi_fail("MPI_Gatherv", rc);
    }
    *out = bytes;
    *lens = all;
    return SB_OK;
}

sb_status sb_dist_gather(const void *data, size_t len, void **out, int64_t **lens)
{
    if (plugin) return gather_raw(data, len, out, lens);
    /* One rank: its own bytes. */
    *out = malloc(len ? len : 1);
    *lens = malloc(sizeof(int64_t));
    if (!*out || !*lens) {
        free(*out);
        free(*lens);
        *out = NULL;
        *lens = NULL;
        return sb_fail(SB_ENOMEM, "gather: cannot allocate %zu bytes", len);
    }
    if (len) memcpy(*out, data, len);
    (*lens)[0] = (int64_t)len;
    return SB_OK;
}

sb_status sb_dist_broadcast(const void *data, size_t len, void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int64_t n = rank == 0 ? (int64_t)len : 0;
    if (plugin) {
        int rc = plugin->broadcast(&n, sizeof n);
        if (rc) return mpi_fail("MPI_Bcast", rc);
    }
    char *bytes = malloc(n ? (size_t)n : 1);
    if (!bytes) return sb_fail(SB_ENOMEM, "broadcast: cannot allocate %lld bytes", (long long)n);
    if (rank == 0 && n) memcpy(bytes, data, (size_t)n);
    if (plugin && n) {
        int rc = plugin->broadcast(bytes, n);
        if (rc) {
            free(bytes);
            return mpi_fail("MPI_Bcast", rc);
        }
    }
    *out = bytes;
    *out_len = (size_t)n;
    return SB_OK;
}

/* Adds rank 1..size-1's elements onto rank 0's, in rank order. */
#define SUM_IN_ORDER(ctype)                                                                        \
    do {                                                                                           \
        ctype *acc = (ctype *)sb_tensor_data(t);                                                   \
        const ctype *from = (const ctype *)all;                                                    \
        for (int r = 1; r < size; r++)                                                             \
            for (int64_t i = 0; i < count; i++)                                                    \
                acc[i] += from[(int64_t)r * count + i];                                            \
    } while (0)

sb_status sb_dist_all_reduce(sb_tensor *t, sb_dist_op op)
{
    sb_dtype dtype = t->dtype;
    int type = dtype == SB_FLOAT32   ? SB_DIST_FLOAT32
               : dtype == SB_FLOAT64 ? SB_DIST_FLOAT64
               : dtype == SB_INT32   ? SB_DIST_INT32
               : dtype == SB_INT64   ? SB_DIST_INT64
                                     : -1;
    if (type < 0)
        return sb_fail(SB_EINVAL, "tensor must be float32, float64, int32 or int64, got %s",
                       sb_dtype_name(dtype));
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        return sb_fail(SB_EINVAL, "tensor must be on the CPU (t:cpu() first)");
    if (!sb_tensor_is_contiguous(t))
        return sb_fail(SB_EINVAL, "tensor must be contiguous (t:contiguous() first)");
    if (!plugin || size == 1) return SB_OK;
    int64_t count = sb_tensor_numel(t);
    bool floating = type == SB_DIST_FLOAT32 || type == SB_DIST_FLOAT64;
    if (!(floating && op == SB_DIST_OP_SUM)) {
        int rc = plugin->all_reduce(sb_tensor_data(t), count, type,
                                    op == SB_DIST_OP_MIN   ? SB_DIST_MIN
                                    : op == SB_DIST_OP_MAX ? SB_DIST_MAX
                                                           : SB_DIST_SUM);
        return rc ? mpi_fail("MPI_Allreduce", rc) : SB_OK;
    }
    size_t nbytes = (size_t)count * sb_dtype_size(dtype);
    void *all = NULL;
    int64_t *lens = NULL;
    SB_TRY(gather_raw(sb_tensor_data(t), nbytes, &all, &lens));
    if (rank == 0) {
        if (type == SB_DIST_FLOAT32)
            SUM_IN_ORDER(float);
        else
            SUM_IN_ORDER(double);
    }
    free(all);
    free(lens);
    int rc = plugin->broadcast(sb_tensor_data(t), (int64_t)nbytes);
    return rc ? mpi_fail("MPI_Bcast", rc) : SB_OK;
}

sb_status sb_dist_progress_send(int64_t done, bool final)
{
    if (!plugin || rank == 0) return SB_OK;
    int rc = plugin->progress_send(done, final ? 1 : 0);
    return rc ? mpi_fail("sending progress to rank 0", rc) : SB_OK;
}

static int64_t *per_rank; /* rank 0: the last progress of every rank */
static int *finals;

void sb_dist_progress_reset(void)
{
    if (per_rank) memset(per_rank, 0, sizeof *per_rank * (size_t)size);
    if (finals) memset(finals, 0, sizeof *finals * (size_t)size);
}

/* Adds up the reports that have arrived. */
static sb_status progress_take(int64_t *done, int *finished)
{
    int rc = plugin->progress_poll(per_rank, finals);
    if (rc) return mpi_fail("receiving progress", rc);
    *done = 0;
    *finished = 0;
    for (int r = 1; r < size; r++) {
        *done += per_rank[r];
        *finished += finals[r];
    }
    return SB_OK;
}

sb_status sb_dist_progress_poll(int64_t *done, int *finished, double wait_s)
{
    *done = 0;
    *finished = 0;
    if (!plugin || rank != 0) return SB_OK;
    if (!per_rank) {
        per_rank = calloc((size_t)size, sizeof *per_rank);
        finals = calloc((size_t)size, sizeof *finals);
        if (!per_rank || !finals) {
            free(per_rank);
            free(finals);
            per_rank = NULL;
            finals = NULL;
            return sb_fail(SB_ENOMEM, "cannot allocate the progress of %d ranks", size);
        }
    }
    int64_t was_done = -1;
    int was_finished = -1;
    for (double waited = 0;; waited += 0.005) {
        SB_TRY(progress_take(done, finished));
        if (was_done >= 0 && (*done != was_done || *finished != was_finished)) return SB_OK;
        if (waited >= wait_s || *finished == size - 1) return SB_OK;
        was_done = *done;
        was_finished = *finished;
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
}

void sb_dist_abort(int code)
{
    if (!plugin) return;
    aborting = true;
    fflush(stdout);
    fflush(stderr);
    plugin->abort(code);
}
