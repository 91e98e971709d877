/* Evaluation across processes: the ranks of an MPI job (docs/distributed.md).
 *
 * The MPI part is a plugin, sbengine_mpi.so (dist/plugin.h), that this host layer dlopen()s
 * only when the environment says an MPI launcher started the process (mpirun, srun, any
 * launcher that sets the standard PMI/PMIx variables). A process started any other way is
 * rank 0 of 1 and never loads libmpi. */
#ifndef SB_DIST_DIST_H
#define SB_DIST_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

/* The environment variable (as "NAME=value") by which a launcher said it started this
 * process, or NULL. Only getenv(): cheap, loads nothing. */
const char *sb_dist_launcher(void);

/* Whether this build has the MPI plugin, and the MPI it was built against ("Open MPI
 * 4.1.4"); NULL when none. */
bool sb_built_with_mpi(void);
const char *sb_dist_built_against(void);

/* Joins the MPI job when a launcher started the process: loads the plugin, MPI_Init, learns
 * rank and size, and registers MPI_Finalize for the process's exit. Without a launcher,
 * a no-op: rank 0 of 1. Idempotent. Fails (naming the launcher's variable) when launched
 * for several ranks by a build without MPI support or when the plugin cannot be loaded. */
sb_status sb_dist_start(void);

/* After sb_dist_start: whether MPI runs under this process. Before it, or in a single
 * process: false, rank 0, size 1, local rank 0. */
bool sb_dist_active(void);
int sb_dist_rank(void);
int sb_dist_size(void);
int sb_dist_local_rank(void);
/* The MPI library's version line; NULL when MPI is not active. */
const char *sb_dist_library_version(void);

typedef enum sb_dist_op { SB_DIST_OP_SUM, SB_DIST_OP_MIN, SB_DIST_OP_MAX } sb_dist_op;

sb_status sb_dist_barrier(void);
/* Reduces a contiguous CPU tensor (float32, float64, int32, int64) in place over every rank.
 * Floating sums are added on rank 0 in rank order and sent back, so the value does not
 * depend on MPI's reduction tree or timing; integers, min and max go through
 * MPI_Allreduce, which is exact in any order. */
sb_status sb_dist_all_reduce(sb_tensor *t, sb_dist_op op);
/* Rank 0 receives every rank's `len` bytes of `data`: *out (malloc'd, the ranks' bytes one
 * after another in rank order) and *lens (malloc'd, size entries). Other ranks get NULL in
 * both. */
sb_status sb_dist_gather(const void *data, size_t len, void **out, int64_t **lens);
/* Rank 0's bytes on every rank: rank 0 passes `data`, `len`; every rank gets a malloc'd copy
 * in *out (*out_len bytes). */
sb_status sb_dist_broadcast(const void *data, size_t len, void **out, size_t *out_len);

/* Global progress for rank 0's progress bar. A rank > 0 reports how many of its batches are
 * done (cheap and non-blocking; an update is dropped while the previous one is in flight)
 * and, once, that it has finished (`final`). Rank 0 collects what has arrived: *done the
 * batches every other rank reported, *finished how many ranks have sent their final report;
 * when nothing new has arrived it waits up to `wait_s` seconds for something (0: returns at
 * once). No-ops in one process. */
sb_status sb_dist_progress_send(int64_t done, bool final);
sb_status sb_dist_progress_poll(int64_t *done, int *finished, double wait_s);
/* Rank 0, before a loop: forgets the reports of the previous one. */
void sb_dist_progress_reset(void);

/* Stops every rank of the job (MPI_Abort) with exit status `code`; returns only when MPI
 * is not active. */
void sb_dist_abort(int code);

#endif
