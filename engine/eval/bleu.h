/* Corpus BLEU exactly as sacrebleu's default BLEU() computes it (sacrebleu/metrics/bleu.py):
 * the 13a tokenizer (mteval-v13a's rules, tokenizers/tokenizer_13a.py and tokenizer_re.py),
 * mixed case, n-grams up to 4, the reference n-gram counts maximised over the references, the
 * closest reference length (the shorter on a tie), exponential smoothing ("exp"), no effective
 * order; the statistics of a segment add up over the corpus, so they merge exactly. */
#ifndef SB_EVAL_BLEU_H
#define SB_EVAL_BLEU_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SB_BLEU_ORDER 4
#define SB_BLEU_STATS (2 + 2 * SB_BLEU_ORDER)

/* Tokenizer13a()(text.rstrip()) appended to `out`. Fails on invalid UTF-8. */
sb_status sb_bleu_tokenize_13a(const char *text, size_t len, sb_buf *out);

/* The statistics of one segment: hypothesis length, closest reference length, correct[4],
 * total[4], added to stats[SB_BLEU_STATS]. NULL references are left out (sacrebleu's
 * variable number of references). */
sb_status sb_bleu_add_segment(const char *hyp, const char *const *refs, size_t n_refs,
                              int64_t stats[SB_BLEU_STATS]);

typedef struct sb_bleu_score {
    double score; /* 0..100 */
    double precisions[SB_BLEU_ORDER];
    double bp;
    int64_t sys_len, ref_len;
} sb_bleu_score;

/* BLEU.compute_bleu over summed statistics. */
void sb_bleu_compute(const int64_t stats[SB_BLEU_STATS], sb_bleu_score *out);

#endif
