#include "eval/bleu.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "eval/unicode.h"

/* ---- the 13a tokenizer ----------------------------------------------------------------- */

/* The first `from` (lf bytes) in s[0..n), or NULL. */
static const char *find(const char *s, size_t n, const char *from, size_t lf)
{
    for (size_t i = 0; i + lf <= n; i++)
        if (s[i] == from[0] && memcmp(s + i, from, lf) == 0) return s + i;
    return NULL;
}

/* str.replace(from, to) on b, into a fresh buffer that replaces b. */
static sb_status replace_all(sb_buf *b, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to);
    if (b->len < lf || !find(b->data, b->len, from, lf)) return SB_OK;
    sb_buf out = {0};
    size_t i = 0;
    while (i < b->len) {
        const char *hit = find(b->data + i, b->len - i, from, lf);
        size_t stop = hit ? (size_t)(hit - b->data) : b->len;
        sb_buf_append(&out, b->data + i, stop - i);
        if (!hit) break;
        sb_buf_append(&out, to, lt);
        i = stop + lf;
    }
    if (out.failed) {
        sb_buf_free(&out);
        return sb_fail(SB_ENOMEM, "out of memory");
    }
    sb_buf_free(b);
    *b = out;
    return SB_OK;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* [\{-\~\[-\` -\&\(-\+\:-\@\/] */
static bool split_char(unsigned char c)
{
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

sb_status sb_bleu_tokenize_13a(const char *text, size_t len, sb_buf *out)
{
    if (!sb_utf8_valid(text, len)) return sb_fail(SB_EINVAL, "the text is not valid UTF-8");
    /* rstrip(): trailing Unicode whitespace */
    const unsigned char *start = (const unsigned char *)text, *end = start + len, *p = start;
    const unsigned char *keep = start;
    while (p < end) {
        uint32_t c = sb_uni_next(&p, end);
        if (!sb_uni_is_space(c)) keep = p;
    }
    sb_buf a = {0}, b = {0};
    sb_buf_append(&a, text, (size_t)(keep - start));
    sb_status st = a.failed ? sb_fail(SB_ENOMEM, "out of memory") : SB_OK;
    if (st == SB_OK) st = replace_all(&a, "<skipped>", "");
    if (st == SB_OK) st = replace_all(&a, "-\n", "");
    if (st == SB_OK) st = replace_all(&a, "\n", " ");
    if (st == SB_OK && a.len && memchr(a.data, '&', a.len)) {
        if (st == SB_OK) st = replace_all(&a, "&quot;", "\"");
        if (st == SB_OK) st = replace_all(&a, "&amp;", "&");
        if (st == SB_OK) st = replace_all(&a, "&lt;", "<");
        if (st == SB_OK) st = replace_all(&a, "&gt;", ">");
    }
    if (st != SB_OK) {
        sb_buf_free(&a);
        return st;
    }
    /* f' {line} ', then the four regular expressions of TokenizerRegexp, one pass each; the
     * patterns are ASCII, so bytes stand for characters (a multi-byte character is neither a
     * digit nor one of the marks) */
    sb_buf_append(&b, " ", 1);
    for (size_t i = 0; i < a.len; i++) {
        unsigned char c = (unsigned char)a.data[i];
        if (split_char(c)) {
            char t[3] = {' ', (char)c, ' '};
            sb_buf_append(&b, t, 3);
        } else {
            sb_buf_append(&b, (const char *)&c, 1);
        }
    }
    sb_buf_append(&b, "   ", 3); /* the trailing ' ' of f' {line} ', split: ' ' + ' ' + ' ' */
    /* the leading ' ' matched the first pattern too: " " -> "   " (whitespace either way) */
    a.len = 0;
    for (size_t i = 0; i < b.len;) { /* ([^0-9])([\.,]) -> \1 \2 */
        unsigned char c = (unsigned char)b.data[i];
        if (!is_digit(c) && i + 1 < b.len && (b.data[i + 1] == '.' || b.data[i + 1] == ',')) {
            char t[4] = {(char)c, ' ', b.data[i + 1], ' '};
            sb_buf_append(&a, t, 4);
            i += 2;
        } else {
            sb_buf_append(&a, (const char *)&c, 1);
            i++;
        }
    }
    b.len = 0;
    for (size_t i = 0; i < a.len;) { /* ([\.,])([^0-9]) -> ' \1 \2' */
        unsigned char c = (unsigned char)a.data[i];
        if ((c == '.' || c == ',') && i + 1 < a.len && !is_digit((unsigned char)a.data[i + 1])) {
            char t[4] = {' ', (char)c, ' ', a.data[i + 1]};
            sb_buf_append(&b, t, 4);
            i += 2;
        } else {
            sb_buf_append(&b, (const char *)&c, 1);
            i++;
        }
    }
    a.len = 0;
    for (size_t i = 0; i < b.len;) { /* ([0-9])(-) -> \1 \2 */
        unsigned char c = (unsigned char)b.data[i];
        if (is_digit(c) && i + 1 < b.len && b.data[i + 1] == '-') {
            char t[4] = {(char)c, ' ', '-', ' '};
            sb_buf_append(&a, t, 4);
            i += 2;
        } else {
            sb_buf_append(&a, (const char *)&c, 1);
            i++;
        }
    }
    /* ' '.join(line.split()) */
    bool first = true;
    p = (const unsigned char *)a.data;
    end = p + a.len;
    while (p < end) {
        const unsigned char *q = p;
        uint32_t c = sb_uni_next(&q, end);
        if (sb_uni_is_space(c)) {
            p = q;
            continue;
        }
        const unsigned char *w = p;
        while (p < end) {
            q = p;
            c = sb_uni_next(&q, end);
            if (sb_uni_is_space(c)) break;
            p = q;
        }
        if (!first) sb_buf_append(out, " ", 1);
        first = false;
        sb_buf_append(out, (const char *)w, (size_t)(p - w));
    }
    bool failed = a.failed || b.failed || out->failed;
    sb_buf_free(&a);
    sb_buf_free(&b);
    return failed ? sb_fail(SB_ENOMEM, "out of memory") : SB_OK;
}

/* ---- n-gram statistics ----------------------------------------------------------------- */

typedef struct gram {
    const char *p; /* n tokens of a tokenized line: a substring */
    size_t len;
    int64_t count;
} gram;

static int cmp_gram(const void *x, const void *y)
{
    const gram *a = x, *b = y;
    int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* The distinct n-grams of every order of a tokenized line with their counts, sorted;
 * *n_tokens = its length. */
static gram *ngrams(const char *line, size_t *count, int64_t *n_tokens)
{
    size_t len = strlen(line), nt = 0;
    size_t *starts = malloc((len + 1) * sizeof *starts), *ends = malloc((len + 1) * sizeof *ends);
    gram *g = NULL;
    if (!starts || !ends) goto fail;
    for (size_t i = 0; i < len;) {
        starts[nt] = i;
        while (i < len && line[i] != ' ')
            i++;
        ends[nt++] = i;
        if (i < len) i++;
    }
    size_t total = 0;
    for (size_t n = 1; n <= SB_BLEU_ORDER; n++)
        total += nt >= n ? nt - n + 1 : 0;
    g = malloc((total ? total : 1) * sizeof *g);
    if (!g) goto fail;
    size_t k = 0;
    for (size_t n = 1; n <= SB_BLEU_ORDER; n++)
        for (size_t i = 0; i + n <= nt; i++)
            g[k++] = (gram){line + starts[i], ends[i + n - 1] - starts[i], 1};
    qsort(g, k, sizeof *g, cmp_gram);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && cmp_gram(&g[u - 1], &g[i]) == 0)
            g[u - 1].count++;
        else
            g[u++] = g[i];
    }
    free(starts);
    free(ends);
    *count = u;
    *n_tokens = (int64_t)nt;
    return g;
fail:
    free(starts);
    free(ends);
    free(g);
    return NULL;
}

static size_t order_of(const gram *g)
{
    size_t n = 1;
    for (size_t i = 0; i < g->len; i++)
        n += g->p[i] == ' ';
    return n;
}

sb_status sb_bleu_add_segment(const char *hyp, const char *const *refs, size_t n_refs,
                              int64_t stats[SB_BLEU_STATS])
{
    sb_status st = SB_OK;
    sb_buf th = {0};
    sb_buf *tr = calloc(n_refs ? n_refs : 1, sizeof *tr);
    gram *hg = NULL, *rg = NULL;
    size_t nh = 0, nr = 0;
    int64_t hyp_len = 0, closest_diff = -1, closest_len = -1;
    if (!tr) return sb_fail(SB_ENOMEM, "out of memory");
    st = sb_bleu_tokenize_13a(hyp, strlen(hyp), &th);
    /* reference n-grams: the maximum count over the references */
    for (size_t r = 0; r < n_refs && st == SB_OK; r++) {
        if (!refs[r]) continue;
        st = sb_bleu_tokenize_13a(refs[r], strlen(refs[r]), &tr[r]);
        if (st != SB_OK) break;
        size_t ng = 0;
        int64_t tokens = 0;
        gram *g = ngrams(tr[r].len ? tr[r].data : "", &ng, &tokens);
        if (!g) {
            st = sb_fail(SB_ENOMEM, "out of memory");
            break;
        }
        /* merge the sorted lists rg (nr) and g (ng), keeping the larger count */
        gram *m = malloc((nr + ng ? nr + ng : 1) * sizeof *m);
        if (!m) {
            free(g);
            st = sb_fail(SB_ENOMEM, "out of memory");
            break;
        }
        size_t i = 0, j = 0, k = 0;
        while (i < nr || j < ng) {
            int c = i == nr ? 1 : j == ng ? -1 : cmp_gram(&rg[i], &g[j]);
            if (c < 0) {
                m[k++] = rg[i++];
            } else if (c > 0) {
                m[k++] = g[j++];
            } else {
                m[k] = rg[i++];
                if (g[j].count > m[k].count) m[k].count = g[j].count;
                j++;
                k++;
            }
        }
        free(rg);
        free(g);
        rg = m;
        nr = k;
    }
    if (st == SB_OK) {
        hg = ngrams(th.len ? th.data : "", &nh, &hyp_len);
        if (!hg) st = sb_fail(SB_ENOMEM, "out of memory");
    }
    if (st == SB_OK) {
        for (size_t r = 0; r < n_refs; r++) {
            if (!refs[r]) continue;
            int64_t rlen = 0;
            const char *t = tr[r].len ? tr[r].data : "";
            if (*t) {
                rlen = 1;
                for (const char *c = t; *c; c++)
                    rlen += *c == ' ';
            }
            int64_t diff = hyp_len > rlen ? hyp_len - rlen : rlen - hyp_len;
            if (closest_diff == -1 || diff < closest_diff) {
                closest_diff = diff;
                closest_len = rlen;
            } else if (diff == closest_diff && rlen < closest_len) {
                closest_len = rlen;
            }
        }
        stats[0] += hyp_len;
        stats[1] += closest_len;
        for (size_t i = 0; i < nh; i++) {
            size_t n = order_of(&hg[i]);
            stats[2 + SB_BLEU_ORDER + n - 1] += hg[i].count;
            gram *hit = nr ? bsearch(&hg[i], rg, nr, sizeof *rg, cmp_gram) : NULL;
            if (hit) stats[2 + n - 1] += hg[i].count < hit->count ? hg[i].count : hit->count;
        }
    }
    free(hg);
    free(rg);
    sb_buf_free(&th);
    for (size_t r = 0; r < n_refs; r++)
        sb_buf_free(&tr[r]);
    free(tr);
    return st;
}

void sb_bleu_compute(const int64_t stats[SB_BLEU_STATS], sb_bleu_score *out)
{
    memset(out, 0, sizeof *out);
    int64_t sys_len = stats[0], ref_len = stats[1];
    const int64_t *correct = stats + 2, *total = stats + 2 + SB_BLEU_ORDER;
    out->sys_len = sys_len;
    out->ref_len = ref_len;
    double bp = 1.0;
    if (sys_len < ref_len) bp = sys_len > 0 ? exp(1 - (double)ref_len / (double)sys_len) : 0.0;
    out->bp = bp;
    bool any = false;
    for (int n = 0; n < SB_BLEU_ORDER; n++)
        any = any || correct[n] != 0;
    if (!any) return; /* score 0.0 */
    double smooth_mteval = 1.;
    for (int n = 0; n < SB_BLEU_ORDER; n++) {
        if (total[n] == 0) break;
        if (correct[n] == 0) {
            smooth_mteval *= 2;
            out->precisions[n] = 100. / (smooth_mteval * (double)total[n]);
        } else {
            out->precisions[n] = 100. * (double)correct[n] / (double)total[n];
        }
    }
    /* sum([my_log(p) for p in precisions]) / 4, summed one by one from 0 */
    double sum = 0;
    for (int n = 0; n < SB_BLEU_ORDER; n++)
        sum += out->precisions[n] == 0.0 ? -9999999999.0 : log(out->precisions[n]);
    out->score = bp * exp(sum / SB_BLEU_ORDER);
}
