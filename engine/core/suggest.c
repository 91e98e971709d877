#include "core/suggest.h"

#include <stdint.h>
#include <string.h>

#define SUGGEST_MAX_LEN 63

size_t sb_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN) return SIZE_MAX;
    size_t prev[SUGGEST_MAX_LEN + 1], cur[SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best) best = prev[j - 1] + cost;
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *sb_closest_name(const char *name, const char *const *candidates, size_t count)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t k = 0; k < count; k++) {
        size_t d = sb_edit_distance(name, candidates[k]);
        if (d < best_d) {
            best = candidates[k];
            best_d = d;
        }
    }
    size_t limit = strlen(name) / 3;
    if (limit < 2) limit = 2;
    return best_d <= limit ? best : NULL;
}
