/* The ABI between the engine (engine/dist/dist.c) and the MPI plugin sbengine_mpi.so
 * (engine/dist/mpi_plugin.c). The plugin links Open MPI and nothing of the engine: plain C
 * types cross this line, and every function returns 0 or an MPI error code that
 * `error_string` turns into words. The engine dlopen()s the plugin only when an MPI launcher
 * started the process (dist/dist.h), so a single process never loads libmpi. */
#ifndef SB_DIST_PLUGIN_H
#define SB_DIST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define SB_DIST_PLUGIN_ABI 2u
#define SB_DIST_PLUGIN_FILE "sbengine_mpi.so"
#define SB_DIST_PLUGIN_ENTRY "sb_dist_plugin_open"

/* Element types of all_reduce. */
enum { SB_DIST_INT32, SB_DIST_INT64, SB_DIST_FLOAT32, SB_DIST_FLOAT64 };
/* Reductions of all_reduce that MPI does exactly in any order (integers; min and max). */
enum { SB_DIST_SUM, SB_DIST_MIN, SB_DIST_MAX };

typedef struct sb_dist_plugin {
    uint32_t abi;  /* SB_DIST_PLUGIN_ABI */
    uint32_t size; /* sizeof(sb_dist_plugin) */
    /* MPI_Init_thread (funneled: only the Lua thread calls MPI), errors returned rather than
     * fatal, and the process's place: rank and size in MPI_COMM_WORLD, rank among the ranks
     * of its node (MPI_COMM_TYPE_SHARED). */
    int (*init)(int *rank, int *size, int *local_rank);
    int (*barrier)(void);
    /* In place over `count` elements of `type`. */
    int (*all_reduce)(void *data, int64_t count, int type, int op);
    /* Rank 0 receives every rank's byte count into `lens` (size entries); others pass NULL. */
    int (*gather_lens)(int64_t len, int64_t *lens);
    /* Rank 0 receives the bytes of every rank, in rank order, into `out` (the sum of `lens`
     * bytes); the others pass NULL for `out` and `lens`. */
    int (*gather_bytes)(const void *data, int64_t len, void *out, const int64_t *lens);
    /* `len` bytes of rank 0's `data` into every rank's `data`. */
    int (*broadcast)(void *data, int64_t len);
    /* MPI_Abort(MPI_COMM_WORLD, code): the launcher stops every rank. Does not return. */
    void (*abort)(int code);
    int (*finalize)(void);
    void (*error_string)(int code, char *buf, size_t size);
    /* The MPI library's own version line ("Open MPI v4.1.4, ..."). */
    const char *(*library_version)(void);
    /* Progress, on a communicator of its own: a rank > 0 tells rank 0 how many batches it has
     * done. Not blocking, and skipped while its previous message is still in flight, unless
     * `final` (its last: blocking). */
    int (*progress_send)(int64_t done, int final);
    /* Rank 0 takes every progress message that has arrived, without blocking: done[r] becomes
     * rank r's latest count and finished[r] 1 after its final message. */
    int (*progress_poll)(int64_t *done, int *finished);
} sb_dist_plugin;

typedef const sb_dist_plugin *(*sb_dist_plugin_open_fn)(void);

#endif
