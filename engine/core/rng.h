/* The one pseudo-random generator: xoshiro256** (Blackman and Vigna), its state filled
 * from a 64-bit seed by splitmix64 as its authors recommend. Fast, 2^256 - 1 period, and
 * the same numbers on every machine: tensors' rand/randn and the DataLoader's shuffles are
 * reproducible from their seeds. Not for secrets (UUIDs use getrandom, core/sys.h). */
#ifndef SB_CORE_RNG_H
#define SB_CORE_RNG_H

#include <stdint.h>

typedef struct sb_generator {
    uint64_t s[4];
} sb_generator;

void sb_generator_seed(sb_generator *g, uint64_t seed);
uint64_t sb_generator_next(sb_generator *g);
/* Uniform in [0, bound) without modulo bias (bound >= 1). */
uint64_t sb_generator_below(sb_generator *g, uint64_t bound);

#endif
