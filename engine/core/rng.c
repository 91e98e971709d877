#include "core/rng.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sb_generator_seed(sb_generator *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
}

uint64_t sb_generator_below(sb_generator *g, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound, r;
    do
        r = sb_generator_next(g);
    while (r < threshold); /* rejection keeps every value equally likely */
    return r % bound;
}
