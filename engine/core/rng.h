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

/* Inline: rand() of a large tensor draws once per element. */
static inline uint64_t sb_generator_next(sb_generator *g)
{
    uint64_t *s = g->s;
    uint64_t result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return result;
}

/* Uniform in [0, bound) without modulo bias (bound >= 1). */
uint64_t sb_generator_below(sb_generator *g, uint64_t bound);

#endif
