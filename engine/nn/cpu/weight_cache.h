/* Convolution weights prepared once and reused while their sources do not change: batch
 * norm folded into the weights and bias (inference), and/or the weights reordered into the
 * layout a oneDNN primitive wants.
 *
 * An entry is keyed by its sources (the weight, bias and batch-norm tensors: each one's
 * storage id, version and offset, see sb_tensor_version) and by the target layout: any
 * in-place write to a source (load_state_dict's copy, t:mul_(), ...) bumps its version,
 * so the next lookup misses and prepares the weights again; the stale entry is dropped.
 * Bounded in count and bytes (oldest unused entry out first). Thread-safe; an entry handed
 * out stays valid until released. */
#ifndef SB_NN_CPU_WEIGHT_CACHE_H
#define SB_NN_CPU_WEIGHT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/backend.h"

typedef struct sb_prepared_weights {
    const float *w; /* in the requested layout (plain [O, C/groups, KH, KW] without one) */
    const float *b; /* [O]: the folded bias with batch norm; NULL without (use the conv's) */
} sb_prepared_weights;

/* Writes the target layout's bytes (w_bytes of them) from the plain weights. */
typedef bool (*sb_weight_layout_fn)(void *ctx, const float *plain, void *out);

/* The prepared weights of conv (weight [O, C/groups, KH, KW], bias [O] or NULL) with bn
 * folded in (NULL: none). layout (layout_size bytes, compared with layout_equal; NULL
 * for the plain layout) names the target layout, made by `reorder` (w_bytes bytes).
 * Returns NULL and sets *status on failure. Release the result with
 * sb_weight_cache_release. Contiguous float32 CPU tensors only. */
const sb_prepared_weights *sb_weight_cache_get(const sb_tensor *weight, const sb_tensor *bias,
                                               const sb_conv_bn *bn, const void *layout,
                                               size_t layout_size,
                                               bool (*layout_equal)(const void *, const void *),
                                               size_t w_bytes, sb_weight_layout_fn reorder,
                                               void *ctx, sb_status *status);
void sb_weight_cache_release(const sb_prepared_weights *p);

#endif
