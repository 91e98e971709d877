/* The DataLoader: batches of a C dataset, transformed and collated by worker threads.
 *
 * An iteration (one pass over the dataset) owns its worker threads. Workers claim batch
 * numbers in order, fill a whole batch (transform every sample straight into the batch
 * buffer), and park it in one of `num_workers * prefetch` slots; the consumer takes
 * batches strictly in order, so the sequence is the same for any number of workers.
 * Batch buffers come from a pool and go back to it when the tensor that wraps them is
 * freed (the Lua GC, t:free()), so a steady loop reuses a handful of buffers.
 *
 * With num_workers = 0 the batch is filled on the calling thread when asked for. */
#ifndef SB_DATA_LOADER_H
#define SB_DATA_LOADER_H

#include "data/dataset.h"
#include "data/transform.h"

typedef struct sb_loader_options {
    int64_t batch_size; /* >= 1 */
    bool shuffle;
    uint64_t seed;   /* the permutation of pass e is a function of (seed, e) */
    int num_workers; /* 0 = no threads */
    int prefetch;    /* batches in flight per worker, >= 1 */
    bool drop_last;
    bool pin_memory; /* page-locked buffers when the CUDA plugin provides them */
    /* Sharding across processes: the batches (as one loader over the whole dataset makes
     * them) are cut into `shards` contiguous parts, the first (nbatches mod shards) parts one
     * batch longer; this loader gives part `shard` (0-based). shards 0 or 1: every batch. */
    int64_t shard, shards;
} sb_loader_options;

typedef struct sb_loader sb_loader;
typedef struct sb_loader_iter sb_loader_iter;

/* Retains `ds`, copies `tf` (NULL = none) and checks that the transform accepts the
 * dataset's samples (the error names the transform step and the sample spec). */
sb_status sb_loader_new(sb_dataset *ds, const sb_transform *tf, const sb_loader_options *opts,
                        sb_loader **out);
void sb_loader_free(sb_loader *loader);                 /* live iterations keep what they need */
int64_t sb_loader_num_batches(const sb_loader *loader); /* of this shard */
/* The 0-based number, among every shard's batches, of this shard's first batch. */
int64_t sb_loader_first_batch(const sb_loader *loader);
/* Whether batches are in page-locked memory; when not although asked, *why says why. */
bool sb_loader_pinned(const sb_loader *loader, const char **why);

/* Permutation of 0..n-1 for (seed, pass): Fisher-Yates over core/rng.h (xoshiro256** seeded by
 * splitmix64), so it is the same on every machine and for every number of workers. */
void sb_permutation(int64_t n, uint64_t seed, uint64_t pass, int64_t *out);

/* Starts a pass (the loader's pass counter picks the shuffle) and its workers. */
sb_status sb_loader_iter_new(sb_loader *loader, sb_loader_iter **out);
/* The next batch: *input [B, ...] and *target [B, ...] (NULL when the dataset has no
 * targets), new tensors the caller frees. *done = true after the last batch.
 * A failure in a worker comes back here, naming the 1-based dataset index; the
 * iteration is then finished (its threads stopped). */
sb_status sb_loader_iter_next(sb_loader_iter *it, sb_tensor **input, sb_tensor **target,
                              bool *done);
/* Batches handed out by this pass whose buffers are still held (by tensors not yet freed).
 * The Lua binding collects garbage when this grows, so buffers return to the pool. */
int sb_loader_iter_outstanding(sb_loader_iter *it);
/* Stops and joins the workers and frees what is not handed out. NULL is a no-op. */
void sb_loader_iter_free(sb_loader_iter *it);

#endif
