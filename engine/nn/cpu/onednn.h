/* oneDNN (Debian's libdnnl 2.6, its C API) for the CPU nn kernels, optional twice over:
 * at build time (SBENGINE_HAVE_ONEDNN, set when dnnl.h is found) and at run time
 * (libdnnl.so.2 is dlopen()ed on the first convolution or pooling that uses it, which keeps its C++
 * and OpenMP runtimes out of startup; when it cannot be loaded the engine's own kernels
 * run). SBENGINE_ONEDNN=0 in the environment turns it off (to compare the two).
 *
 * Convolutions take NCHW or channels-last (NHWC-strided) tensors in and out: an input
 * whose layout differs from the one the primitive picked (on AVX-512, NHWC) is reordered
 * into it, the output back. The weights come from the weight cache (weight_cache.h):
 * batch norm folded in and reordered into the primitive's layout once per version of
 * their source tensors. Bias, residual (sum) and activation are post-ops. Primitives and
 * reorders are cached per shape. Threads: one single-threaded primitive per batch slice
 * on the engine's pool, or oneDNN's OpenMP team (sb_get_num_threads()) for one image. */
#ifndef SB_NN_CPU_ONEDNN_H
#define SB_NN_CPU_ONEDNN_H

#include <stdbool.h>

#include "nn/backend.h"

/* Runs conv2d with oneDNN when it is available and chosen for this shape: returns true and
 * sets *status; false means "not handled, run the engine's own kernel". */
bool sb_onednn_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                      const sb_tensor *bias, const sb_conv2d_params *p, sb_status *status);

/* Runs max_pool2d (is_max) or avg_pool2d with oneDNN when it is available and chosen
 * (sb_onednn_pool_chosen): returns true and sets *status; false: run the engine's kernel.
 * x and out are both NCHW (contiguous) or both channels-last; the primitive works in that
 * layout, so no reorder runs. */
bool sb_onednn_pool2d(bool is_max, sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p,
                      sb_status *status);

/* Pure (nothing loaded), so the rule is unit-tested in every build. Whether oneDNN's
 * pooling computes PyTorch's numbers for this case: not with divisor_override, nor for an
 * average counting the padding where ceil_mode lets the last window reach past the padded
 * input (PyTorch's divisor then clips the window, oneDNN's counts the whole kernel). Sets
 * pad_r to the far-side padding that gives PyTorch's output size. */
bool sb_onednn_pool_matches(bool is_max, const int64_t in[2], const int64_t out[2],
                            const sb_pool2d_params *p, int64_t pad_r[2]);
/* The choice by measurement (docs/perf.md, "Pooling: oneDNN or the engine's kernel"), given
 * that the numbers match: channels-last inputs always (the engine's kernel would copy
 * them into NCHW and back); NCHW average pooling always; NCHW max pooling except 2x2
 * stride 2 and planes larger than 64x64, where the engine's own loops win. */
bool sb_onednn_pool_chosen(bool is_max, bool channels_last, const int64_t in[2],
                           const int64_t out[2], const sb_pool2d_params *p);

/* "oneDNN 2.6.3 (avx512_core_bf16)", "not built with oneDNN", "off (SBENGINE_ONEDNN=0)" or
 * why libdnnl could not be loaded. Loads oneDNN. */
const char *sb_onednn_info(void);

#endif
