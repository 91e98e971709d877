/* SQuAD question answering: exact match and F1 as the official evaluation scripts compute
 * them (evaluate-v1.1.py, evaluate-v2.0.py run under Python 3.11): normalize_answer (lower
 * case as str.lower() with its full mappings and final sigma, ASCII punctuation removed, the
 * articles a/an/the removed at \b word boundaries, whitespace as str.split()), token F1 over
 * the multiset intersection, the maximum over the gold answers, sums in the dataset's order.
 * v2.0: gold answers that normalize to nothing are dropped, a question without any is
 * answered by "" only, and the scores split into HasAns/NoAns. */
#ifndef SB_EVAL_SQUAD_H
#define SB_EVAL_SQUAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

typedef struct sb_squad sb_squad;

/* Reads a SQuAD dataset file ({"version", "data": [{"paragraphs": [{"qas": [...]}]}]}).
 * `version` 1 or 2 says which script's rules the gold answers follow. */
sb_status sb_squad_load(const char *path, int version, sb_squad **out);
void sb_squad_free(sb_squad *s);

size_t sb_squad_count(const sb_squad *s);
/* The 0-based position of question `id` in the dataset, or -1. */
long sb_squad_find(const sb_squad *s, const char *id);
const char *sb_squad_id(const sb_squad *s, size_t i);

/* normalize_answer(text) appended to `out` (UTF-8). Fails on invalid UTF-8. */
sb_status sb_squad_normalize(const char *text, size_t len, sb_buf *out);

typedef struct sb_squad_scores {
    double exact, f1; /* percentages, as the scripts print them */
    int64_t total;
    /* v2.0 only: the same over the questions with answers and without */
    double has_ans_exact, has_ans_f1, no_ans_exact, no_ans_f1;
    int64_t has_ans_total, no_ans_total;
    int64_t missing; /* questions without a prediction */
    /* v2.0 with no-answer probabilities: evaluate-v2.0.py's find_all_best_thresh */
    bool has_best;
    double best_exact, best_exact_thresh, best_f1, best_f1_thresh;
} sb_squad_scores;

/* Scores `answers` (one per question in dataset order; NULL: no prediction). v1.1 counts a
 * missing prediction as 0 in `total`; v2.0 leaves it out, as its script's raw scores do. */
sb_status sb_squad_evaluate(const sb_squad *s, const char *const *answers, sb_squad_scores *out);

/* v2.0's no-answer probabilities, as evaluate-v2.0.py's --na-prob-file and --na-prob-thresh
 * use them: `positions` (0-based questions) and `probs` in the file's order (the order its
 * sort keeps for equal probabilities; a question given twice keeps its first place and its
 * last value, as the script's dict does). n == 0 is the script without a file: every answered
 * question's probability is 0.0 and no best thresholds are computed. */
typedef struct sb_squad_na {
    const size_t *positions;
    const double *probs;
    size_t n;
    double thresh; /* a question is answered "" when its probability exceeds it (1.0) */
} sb_squad_na;

/* sb_squad_evaluate with no-answer probabilities (v2.0 only): a question whose probability
 * exceeds na->thresh scores 1 when it has no answer and 0 otherwise; with a file (n > 0) every
 * answered question needs a probability, and best_exact/best_f1 and their thresholds are
 * computed from the raw scores. */
sb_status sb_squad_evaluate_na(const sb_squad *s, const char *const *answers, const sb_squad_na *na,
                               sb_squad_scores *out);

/* Reads a no-answer probability file ({question id: number}) in its order: *positions and
 * *probs (malloc()ed, *n of each). An id the dataset does not have, or a value that is not a
 * finite number, is an error naming it. */
sb_status sb_squad_read_na_probs(const sb_squad *s, const char *path, size_t **positions,
                                 double **probs, size_t *n);

#endif
