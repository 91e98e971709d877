/* The arithmetic of the shipped meters (lua/sbengine/metrics/), in C so that a
 * batch is reduced once, in float64, whatever the tensors' dtype and device.
 *
 * Conventions (DESIGN §3): class ids are data (MNIST labels 0..9); the output's column
 * c (0-based here; j = c+1 in Lua) scores class c. A target is a tensor of class ids of any
 * dtype holding whole numbers. Every function reads its tensors (copying them to the host
 * as float64 when needed) and writes plain C numbers; none keeps state. */
#ifndef SB_METRICS_METRICS_H
#define SB_METRICS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

/* For output (N, C) and target (N) or (N, 1): correct[i] = how many rows have their target
 * among the ks[i] highest scores (ranking as torch.topk: larger first, NaN above every number,
 * ties by lower column).
 * *rows = N. A k larger than C counts every row. */
sb_status sb_metric_topk_correct(const sb_tensor *output, const sb_tensor *target, int nk,
                                 const int64_t *ks, int64_t *correct, int64_t *rows);

/* Adds to counts[t * num_classes + p] (row = true class, column = predicted, as
 * sklearn's confusion_matrix) for each element. `output` is either scores with one more
 * dimension than `target` (dim 1 is the class dim: (N, C) or (N, C, H, W)), reduced by
 * argmax as torch.argmax (the first NaN, else the first maximum), or predicted class ids with the
 * target's shape. Targets equal to ignore_index (when has_ignore) are skipped. *counted = elements
 * added. */
sb_status sb_metric_confusion_add(const sb_tensor *output, const sb_tensor *target,
                                  int64_t num_classes, bool has_ignore, int64_t ignore_index,
                                  int64_t *counts, int64_t *counted);

/* Sums of (output - target)^2 and |output - target| over all elements (same shape or
 * output (N, 1) against target (N)). */
sb_status sb_metric_error_sums(const sb_tensor *output, const sb_tensor *target, double *sum_sq,
                               double *sum_abs, int64_t *count);

/* Sum over rows of -log p(target) for output (N, C): logits (log-softmax taken here, stably)
 * or, with log_probs, log-probabilities as they are. Targets equal to ignore_index (when
 * has_ignore) are skipped. */
sb_status sb_metric_nll_sum(const sb_tensor *output, const sb_tensor *target, bool log_probs,
                            bool has_ignore, int64_t ignore_index, double *sum_nll, int64_t *count);

/* How many rows (slices along dim 0; a 0-D tensor is one row) of `output` hold a NaN or an
 * infinity. Integer tensors have none. */
sb_status sb_metric_nonfinite_rows(const sb_tensor *output, int64_t *rows);

#endif
