/* "Did you mean": the nearest of a list of names to a mistyped one (Levenshtein distance),
 * for the command line's unknown options and commands. */
#ifndef SB_CORE_SUGGEST_H
#define SB_CORE_SUGGEST_H

#include <stddef.h>

/* The edit distance (insertions, deletions, substitutions) between `a` and `b`; strings
 * longer than 63 bytes count as "far" (SIZE_MAX) rather than being measured. */
size_t sb_edit_distance(const char *a, const char *b);

/* The candidate nearest to `name` when it is close enough to be a typo of it (distance at most
 * max(2, strlen(name) / 3), the rule lua/sbengine/_util.lua's `closest` uses for benchmark
 * options), else NULL. Ties go to the earlier candidate. */
const char *sb_closest_name(const char *name, const char *const *candidates, size_t count);

#endif
