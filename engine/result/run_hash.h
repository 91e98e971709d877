/* The run hash: a fingerprint of a run's first batch, so that a server can recognise a
 * model it has already evaluated (DESIGN §4, docs/results.md "Run hash" has the recipe).
 *
 * sha256 over this canonical UTF-8 text (every line ends with "\n"):
 *   sbengine-run-hash-v1
 *   shape <d1>,<d2>,...            (the output's sizes; "shape " alone for a scalar)
 *   <value>                        one line per output element, row-major order
 *   metrics <count>
 *   <name>=<value>                 one line per metric, names sorted bytewise
 * <value> is the number rounded half away from zero to 3 decimals and written with
 * exactly 3 decimals ("0.123", "-4.000", "12.500"); -0.000 is written "0.000"; NaN and
 * infinities are "nan", "inf", "-inf"; magnitudes of 1e15 and more are written with "%.17g".
 * Dtype and device never enter the text, so the same rounded values give the same hash. */
#ifndef SB_RESULT_RUN_HASH_H
#define SB_RESULT_RUN_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/sha256.h"

typedef struct sb_run_hasher {
    sb_sha256 sha;
} sb_run_hasher;

/* Writes the rounded spelling of `value` used by the recipe. */
void sb_run_hash_format_value(double value, char *buf, size_t bufsize);

sb_status sb_run_hash_begin(sb_run_hasher *h, int ndim, const int64_t *shape);
void sb_run_hash_values(sb_run_hasher *h, const double *values, size_t n);
/* Hashes the shape and values of a tensor of any dtype on any device (read as float64 on
 * the host, in row-major order). */
struct sb_tensor;
sb_status sb_run_hash_tensor(sb_run_hasher *h, const struct sb_tensor *t);
/* Hashes the metrics (any order; sorted here) and writes the 64-digit hex digest. */
sb_status sb_run_hash_finish(sb_run_hasher *h, const char *const *names, const double *values,
                             size_t n, char hex[65]);

#endif
