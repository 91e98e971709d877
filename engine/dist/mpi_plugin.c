/* The MPI plugin, sbengine_mpi.so: the few collectives the engine needs, over Open MPI's C
 * API. Built only when libopenmpi-dev is found; loaded by engine/dist/dist.c only when an MPI
 * launcher started the process. The ABI is dist/plugin.h: plain C in, MPI error codes out. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "dist/plugin.h"

static int world_size = 1, world_rank;
/* Progress messages travel apart from the collectives, so none can be taken for another. */
static MPI_Comm progress_comm = MPI_COMM_NULL;
static MPI_Request progress_request = MPI_REQUEST_NULL;
static int64_t progress_value;
enum { PROGRESS_TAG = 1 };

static int plugin_init(int *rank, int *size, int *local_rank)
{
    int initialized = 0, provided = 0, rc;
    MPI_Initialized(&initialized);
    if (!initialized) {
        /* A rank that waits in a collective yields its core rather than spinning on it: the
         * other ranks of a CPU evaluation, and the data loader's workers, need it more than
         * a collective needs microseconds. A user's own setting wins. */
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rc;
    }
    /* Errors come back as codes (and then as a Lua error on this rank) instead of killing
     * the job from inside the library. */
    rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm node;
    rc =
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Comm_rank(node, local_rank);
    MPI_Comm_free(&node);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_dup(MPI_COMM_WORLD, &progress_comm);
    *rank = world_rank;
    *size = world_size;
    return rc;
}

static int plugin_barrier(void)
{
    return MPI_Barrier(MPI_COMM_WORLD);
}

static MPI_Datatype datatype(int type)
{
    switch (type) {
    case SB_DIST_INT32:
        return MPI_INT32_T;
    case SB_DIST_INT64:
        return MPI_INT64_T;
    case SB_DIST_FLOAT32:
        return MPI_FLOAT;
    default:
        return MPI_DOUBLE;
    }
}

static int plugin_all_reduce(void *data, int64_t count, int type, int op)
{
    MPI_Op mpi_op = op == SB_DIST_MIN ? MPI_MIN : op == SB_DIST_MAX ? MPI_MAX : MPI_SUM;
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allreduce(MPI_IN_PLACE, data, (int)count, datatype(type), mpi_op, MPI_COMM_WORLD);
}

static int plugin_gather_lens(int64_t len, int64_t *lens)
{
    int64_t mine = len;
    return MPI_Gather(&mine, 1, MPI_INT64_T, lens, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
}

static int plugin_gather_bytes(const void *data, int64_t len, void *out, const int64_t *lens)
{
    if (len > INT_MAX) return MPI_ERR_COUNT;
    int *counts = NULL, *displs = NULL;
    if (world_rank == 0) {
        counts = malloc(sizeof(int) * (size_t)world_size);
        displs = malloc(sizeof(int) * (size_t)world_size);
        if (!counts || !displs) {
            free(counts);
            free(displs);
            return MPI_ERR_NO_MEM;
        }
        int64_t at = 0;
        for (int r = 0; r < world_size; r++) {
            if (lens[r] > INT_MAX || at > INT_MAX) {
                free(counts);
                free(displs);
                return MPI_ERR_COUNT;
            }
            counts[r] = (int)lens[r];
            displs[r] = (int)at;
            at += lens[r];
        }
    }
    int rc =
        MPI_Gatherv(data, (int)len, MPI_BYTE, out, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(counts);
    free(displs);
    return rc;
}

static int plugin_broadcast(void *data, int64_t len)
{
    if (len > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Bcast(data, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
}

static void plugin_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
    abort(); /* MPI_Abort does not return; should it, leave anyway */
}

static int plugin_finalize(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}

static void plugin_error_string(int code, char *buf, size_t size)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
    if (size) {
        strncpy(buf, len ? text : "unknown MPI error", size - 1);
        buf[size - 1] = '\0';
    }
}

static const char *plugin_library_version(void)
{
    static char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(version, &len) != MPI_SUCCESS) return "unknown";
    version[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
    char *newline = strchr(version, '\n');
    if (newline) *newline = '\0';
    return version;
}

static int plugin_progress_send(int64_t done, int final)
{
    if (progress_request != MPI_REQUEST_NULL) {
        int sent = 0;
        int rc = final ? MPI_Wait(&progress_request, MPI_STATUS_IGNORE)
                       : MPI_Test(&progress_request, &sent, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (!final && !sent) return MPI_SUCCESS; /* rank 0 has not taken the last one yet */
    }
    progress_value = final ? -done - 1 : done; /* negative: the last message */
    if (final) return MPI_Send(&progress_value, 1, MPI_INT64_T, 0, PROGRESS_TAG, progress_comm);
    return MPI_Isend(&progress_value, 1, MPI_INT64_T, 0, PROGRESS_TAG, progress_comm,
                     &progress_request);
}

static int plugin_progress_poll(int64_t *done, int *finished)
{
    for (;;) {
        int arrived = 0;
        MPI_Status status;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, PROGRESS_TAG, progress_comm, &arrived, &status);
        if (rc != MPI_SUCCESS || !arrived) return rc;
        int64_t v;
        rc = MPI_Recv(&v, 1, MPI_INT64_T, status.MPI_SOURCE, PROGRESS_TAG, progress_comm,
                      MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        done[status.MPI_SOURCE] = v < 0 ? -v - 1 : v;
        if (v < 0) finished[status.MPI_SOURCE] = 1;
    }
}

static const sb_dist_plugin table = {
    .abi = SB_DIST_PLUGIN_ABI,
    .size = sizeof(sb_dist_plugin),
    .init = plugin_init,
    .barrier = plugin_barrier,
    .all_reduce = plugin_all_reduce,
    .gather_lens = plugin_gather_lens,
    .gather_bytes = plugin_gather_bytes,
    .broadcast = plugin_broadcast,
    .abort = plugin_abort,
    .finalize = plugin_finalize,
    .error_string = plugin_error_string,
    .library_version = plugin_library_version,
    .progress_send = plugin_progress_send,
    .progress_poll = plugin_progress_poll,
};

__attribute__((visibility("default"))) const sb_dist_plugin *sb_dist_plugin_open(void)
{
    return &table;
}
