#include "eval/squad.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "eval/json_stream.h"
#include "eval/unicode.h"

/* ---- normalize_answer ------------------------------------------------------------------ */

/* CPython's handle_capital_sigma: final when a cased character precedes (skipping
 * case-ignorable ones) and none follows. */
static uint32_t lower_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    uint32_t c = 0;
    bool found = false;
    while (j-- > 0) {
        c = s[j];
        if (!sb_uni_is_case_ignorable(c)) {
            found = true;
            break;
        }
    }
    bool final = found && sb_uni_is_cased(c);
    if (final && i + 1 < n) {
        size_t k;
        for (k = i + 1; k < n; k++) {
            c = s[k];
            if (!sb_uni_is_case_ignorable(c)) break;
        }
        final = k == n || !sb_uni_is_cased(c);
    }
    return final ? 0x3C2 : 0x3C3;
}

static bool ascii_punctuation(uint32_t c)
{
    return c < 128 && c > 32 && c != 127 &&
           !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* Code points of UTF-8 `text`; *n of them in a malloc()ed array. */
static sb_status decode(const char *text, size_t len, uint32_t **out, size_t *n)
{
    if (!sb_utf8_valid(text, len)) return sb_fail(SB_EINVAL, "the text is not valid UTF-8");
    uint32_t *cps = malloc((len ? len : 1) * sizeof *cps);
    if (!cps) return sb_fail(SB_ENOMEM, "out of memory");
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    size_t k = 0;
    while (p < end)
        cps[k++] = sb_uni_next(&p, end);
    *out = cps;
    *n = k;
    return SB_OK;
}

static bool starts_word(const uint32_t *s, size_t n, size_t i, const char *w)
{
    size_t k = 0;
    for (; w[k]; k++)
        if (i + k >= n || s[i + k] != (uint32_t)w[k]) return false;
    return i + k == n || !sb_uni_is_word(s[i + k]); /* \b after it */
}

sb_status sb_squad_normalize(const char *text, size_t len, sb_buf *out)
{
    uint32_t *src = NULL;
    size_t n = 0;
    SB_TRY(decode(text, len, &src, &n));
    /* lower() can double a character (U+0130); the later steps only shrink */
    uint32_t *a = malloc((2 * n + 1) * sizeof *a), *b = malloc((2 * n + 1) * sizeof *b);
    if (!a || !b) {
        free(src);
        free(a);
        free(b);
        return sb_fail(SB_ENOMEM, "out of memory");
    }
    size_t na = 0;
    for (size_t i = 0; i < n; i++) { /* lower */
        uint32_t c = src[i];
        if (c == 0x3A3) {
            a[na++] = lower_sigma(src, n, i);
            continue;
        }
        uint32_t second;
        a[na++] = sb_uni_lower(c, &second);
        if (second) a[na++] = second;
    }
    size_t nb = 0;
    for (size_t i = 0; i < na; i++) /* remove_punc: string.punctuation */
        if (!ascii_punctuation(a[i])) b[nb++] = a[i];
    na = 0;
    for (size_t i = 0; i < nb;) { /* remove_articles: re.sub(r'\b(a|an|the)\b', ' ', text) */
        bool boundary = i == 0 || !sb_uni_is_word(b[i - 1]);
        size_t len_match = 0;
        if (boundary) {
            if (starts_word(b, nb, i, "a"))
                len_match = 1;
            else if (starts_word(b, nb, i, "an"))
                len_match = 2;
            else if (starts_word(b, nb, i, "the"))
                len_match = 3;
        }
        if (len_match) {
            a[na++] = ' ';
            i += len_match;
        } else {
            a[na++] = b[i++];
        }
    }
    sb_status st = SB_OK;
    bool first = true;
    for (size_t i = 0; i < na && st == SB_OK;) { /* ' '.join(text.split()) */
        while (i < na && sb_uni_is_space(a[i]))
            i++;
        if (i >= na) break;
        if (!first) st = sb_buf_append(out, " ", 1);
        first = false;
        while (i < na && !sb_uni_is_space(a[i]) && st == SB_OK) {
            char enc[4];
            size_t l = sb_utf8_encode(a[i++], enc);
            st = sb_buf_append(out, enc, l);
        }
    }
    free(src);
    free(a);
    free(b);
    return st;
}

/* ---- the dataset ----------------------------------------------------------------------- */

typedef struct question {
    size_t id;           /* offset of the id in `text` */
    size_t gold, n_gold; /* first gold answer in `golds`, how many */
    bool has_ans;        /* v2.0: bool(qa['answers']) */
} question;

struct sb_squad {
    int version;
    question *qs;
    size_t n, cap;
    size_t *golds; /* offsets of normalized gold answers in `text` */
    size_t n_golds, cap_golds;
    sb_buf text;   /* NUL-separated strings */
    size_t *by_id; /* question indices sorted by id */
    const char *what;
};

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 256;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static sb_status add_string(sb_squad *s, const char *str, size_t len, size_t *at)
{
    *at = s->text.len;
    SB_TRY(sb_buf_append(&s->text, str, len));
    return sb_buf_append(&s->text, "", 1);
}

static sb_status add_question(sb_squad *s, const json_t *qa, size_t index)
{
    const sb_jansson_api *J = sb_jansson();
    json_t *id = J->object_get(qa, "id");
    if (!json_is_string(id))
        return sb_fail(SB_EFORMAT, "%s: question %zu has no string \"id\"", s->what, index + 1);
    json_t *answers = J->object_get(qa, "answers");
    if (!json_is_array(answers))
        return sb_fail(SB_EFORMAT, "%s: question %s has no \"answers\" list", s->what,
                       J->string_value(id));
    if (!grow((void **)&s->qs, &s->cap, s->n + 1, sizeof *s->qs))
        return sb_fail(SB_ENOMEM, "%s: out of memory", s->what);
    question *q = &s->qs[s->n];
    SB_TRY(add_string(s, J->string_value(id), J->string_length(id), &q->id));
    q->gold = s->n_golds;
    q->n_gold = 0;
    size_t na = J->array_size(answers);
    q->has_ans = na > 0;
    sb_buf norm = {0};
    for (size_t k = 0; k < na; k++) {
        json_t *text = J->object_get(J->array_get(answers, k), "text");
        if (!json_is_string(text)) {
            sb_buf_free(&norm);
            return sb_fail(SB_EFORMAT, "%s: question %s: answer %zu has no string \"text\"",
                           s->what, J->string_value(id), k + 1);
        }
        norm.len = 0;
        sb_status st = sb_squad_normalize(J->string_value(text), J->string_length(text), &norm);
        if (st != SB_OK) {
            sb_buf_free(&norm);
            return sb_fail_context(st, "%s: question %s: answer %zu", s->what, J->string_value(id),
                                   k + 1);
        }
        if (s->version == 2 && norm.len == 0) continue; /* v2.0 drops them */
        if (!grow((void **)&s->golds, &s->cap_golds, s->n_golds + 1, sizeof *s->golds)) {
            sb_buf_free(&norm);
            return sb_fail(SB_ENOMEM, "%s: out of memory", s->what);
        }
        st = add_string(s, norm.len ? norm.data : "", norm.len, &s->golds[s->n_golds]);
        if (st != SB_OK) {
            sb_buf_free(&norm);
            return st;
        }
        s->n_golds++;
        q->n_gold++;
    }
    sb_buf_free(&norm);
    if (s->version == 2 && q->n_gold == 0) { /* only "" answers it */
        if (!grow((void **)&s->golds, &s->cap_golds, s->n_golds + 1, sizeof *s->golds))
            return sb_fail(SB_ENOMEM, "%s: out of memory", s->what);
        SB_TRY(add_string(s, "", 0, &s->golds[s->n_golds]));
        s->n_golds++;
        q->n_gold = 1;
    }
    if (q->n_gold == 0)
        return sb_fail(SB_EFORMAT, "%s: question %s has no answers (evaluate-v1.1.py fails on it)",
                       s->what, J->string_value(id));
    s->n++;
    return SB_OK;
}

static sb_status article(void *ctx, const char *key, const json_t *art, size_t index)
{
    (void)key;
    sb_squad *s = ctx;
    const sb_jansson_api *J = sb_jansson();
    json_t *paragraphs = J->object_get(art, "paragraphs");
    if (!json_is_array(paragraphs))
        return sb_fail(SB_EFORMAT, "%s: data[%zu] has no \"paragraphs\" list", s->what, index);
    for (size_t p = 0; p < J->array_size(paragraphs); p++) {
        json_t *qas = J->object_get(J->array_get(paragraphs, p), "qas");
        if (!json_is_array(qas))
            return sb_fail(SB_EFORMAT, "%s: data[%zu].paragraphs[%zu] has no \"qas\" list", s->what,
                           index, p);
        for (size_t k = 0; k < J->array_size(qas); k++)
            SB_TRY(add_question(s, J->array_get(qas, k), s->n));
    }
    return SB_OK;
}

static const sb_squad *sort_ctx;

static int cmp_by_id(const void *a, const void *b)
{
    const char *t = sort_ctx->text.data;
    int c =
        strcmp(t + sort_ctx->qs[*(const size_t *)a].id, t + sort_ctx->qs[*(const size_t *)b].id);
    if (c) return c;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

sb_status sb_squad_load(const char *path, int version, sb_squad **out)
{
    if (version != 1 && version != 2) return sb_fail(SB_EINVAL, "SQuAD version must be 1.1 or 2.0");
    char *text = NULL;
    size_t len = 0;
    SB_TRY(sb_jstream_read_file(path, &text, &len));
    sb_squad *s = calloc(1, sizeof *s);
    if (!s) {
        free(text);
        return sb_fail(SB_ENOMEM, "%s: out of memory", path);
    }
    s->version = version;
    s->what = path;
    static const char *const keys[] = {"data", NULL};
    bool found[1] = {false};
    sb_status st = sb_jstream_each(text, len, path, keys, found, article, s);
    free(text);
    if (st == SB_OK && !found[0])
        st = sb_fail(SB_EFORMAT, "%s: no \"data\" list (is it a SQuAD dataset file?)", path);
    if (st == SB_OK && !(s->by_id = malloc((s->n ? s->n : 1) * sizeof *s->by_id)))
        st = sb_fail(SB_ENOMEM, "%s: out of memory", path);
    if (st == SB_OK) {
        for (size_t i = 0; i < s->n; i++)
            s->by_id[i] = i;
        sort_ctx = s; /* qsort has no context argument; loading is not concurrent */
        qsort(s->by_id, s->n, sizeof *s->by_id, cmp_by_id);
        sort_ctx = NULL;
    }
    s->what = NULL;
    if (st != SB_OK) {
        sb_squad_free(s);
        return st;
    }
    *out = s;
    return SB_OK;
}

void sb_squad_free(sb_squad *s)
{
    if (!s) return;
    free(s->qs);
    free(s->golds);
    free(s->by_id);
    sb_buf_free(&s->text);
    free(s);
}

size_t sb_squad_count(const sb_squad *s)
{
    return s->n;
}
const char *sb_squad_id(const sb_squad *s, size_t i)
{
    return s->text.data + s->qs[i].id;
}

long sb_squad_find(const sb_squad *s, const char *id)
{
    /* the first of equal ids: a dict keeps the first key's position */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->text.data + s->qs[s->by_id[mid]].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && strcmp(s->text.data + s->qs[s->by_id[lo]].id, id) == 0 ? (long)s->by_id[lo]
                                                                               : -1;
}

/* ---- scores ---------------------------------------------------------------------------- */

typedef struct token {
    const char *p;
    size_t len;
} token;

typedef struct tokens {
    token *t;
    size_t n, cap;
} tokens;

/* Splits a normalized string on ' ' (normalize_answer leaves single spaces only). */
static bool split(const char *s, tokens *t)
{
    t->n = 0;
    const char *p = s;
    while (*p) {
        const char *q = strchr(p, ' ');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (!grow((void **)&t->t, &t->cap, t->n + 1, sizeof *t->t)) return false;
        t->t[t->n++] = (token){p, l};
        p += l;
        if (*p == ' ') p++;
    }
    return true;
}

/* sum((Counter(a) & Counter(b)).values()) */
static size_t common(const tokens *a, const tokens *b, unsigned char *used)
{
    memset(used, 0, b->n);
    size_t same = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (!used[j] && a->t[i].len == b->t[j].len &&
                memcmp(a->t[i].p, b->t[j].p, a->t[i].len) == 0) {
                used[j] = 1;
                same++;
                break;
            }
    return same;
}

static double f1_of(int version, const tokens *gold, const tokens *pred, unsigned char *used)
{
    if (version == 2 && (gold->n == 0 || pred->n == 0)) {
        if (gold->n != pred->n) return 0;
        return 1; /* both empty: int(gold_toks == pred_toks) */
    }
    size_t same = common(pred, gold, used);
    if (same == 0) return 0;
    double precision = 1.0 * (double)same / (double)pred->n;
    double recall = 1.0 * (double)same / (double)gold->n;
    return (2 * precision * recall) / (precision + recall);
}

/* The raw scores of each answered question (get_raw_scores): em[i], f1[i]. */
static sb_status raw_scores(const sb_squad *s, const char *const *answers, double *em_raw,
                            double *f1_raw)
{
    sb_buf norm = {0};
    tokens gold = {0}, pred = {0};
    unsigned char *used = NULL;
    size_t used_cap = 0;
    sb_status st = SB_OK;
    for (size_t i = 0; i < s->n && st == SB_OK; i++) {
        const question *q = &s->qs[i];
        if (!answers[i]) continue;
        norm.len = 0;
        st = sb_squad_normalize(answers[i], strlen(answers[i]), &norm);
        if (st != SB_OK) {
            sb_fail_context(st, "the answer to %s", s->text.data + q->id);
            break;
        }
        const char *p = norm.len ? norm.data : "";
        if (!split(p, &pred)) {
            st = sb_fail(SB_ENOMEM, "out of memory");
            break;
        }
        double em = 0, f1 = 0;
        for (size_t g = 0; g < q->n_gold; g++) {
            const char *gs = s->text.data + s->golds[q->gold + g];
            double e = strcmp(gs, p) == 0;
            if (!split(gs, &gold) || !grow((void **)&used, &used_cap, gold.n + 1, 1)) {
                st = sb_fail(SB_ENOMEM, "out of memory");
                break;
            }
            double f = f1_of(s->version, &gold, &pred, used);
            if (g == 0 || e > em) em = e;
            if (g == 0 || f > f1) f1 = f;
        }
        em_raw[i] = em;
        f1_raw[i] = f1;
    }
    sb_buf_free(&norm);
    free(gold.t);
    free(pred.t);
    free(used);
    return st;
}

typedef struct na_entry {
    size_t question, rank; /* rank: the place of the question's first probability */
    double prob;
} na_entry;

/* sorted(na_probs, key=lambda k: na_probs[k]): a stable sort keeps the file's order */
static int cmp_na(const void *a, const void *b)
{
    const na_entry *x = a, *y = b;
    if (x->prob < y->prob) return -1;
    if (x->prob > y->prob) return 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* find_best_thresh: *best (percentage) and *thresh over the raw scores `raw`. */
static void best_thresh(const sb_squad *s, const char *const *answers, const double *raw,
                        const na_entry *order, size_t n_order, double answered, double *best,
                        double *thresh)
{
    double cur = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->qs[i].has_ans) cur += 1; /* num_no_ans, over the whole dataset */
    double best_score = cur, best_at = 0.0;
    for (size_t k = 0; k < n_order; k++) {
        size_t q = order[k].question;
        if (!answers[q]) continue;
        double diff = s->qs[q].has_ans ? raw[q] : (answers[q][0] ? -1 : 0);
        cur += diff;
        if (cur > best_score) {
            best_score = cur;
            best_at = order[k].prob;
        }
    }
    *best = 100.0 * best_score / answered;
    *thresh = best_at;
}

sb_status sb_squad_evaluate_na(const sb_squad *s, const char *const *answers, const sb_squad_na *na,
                               sb_squad_scores *out)
{
    memset(out, 0, sizeof *out);
    if (na && s->version != 2)
        return sb_fail(SB_EINVAL, "no-answer probabilities are for SQuAD v2.0 only");
    size_t n = s->n ? s->n : 1, n_na = na ? na->n : 0;
    double *em_raw = calloc(n, sizeof *em_raw), *f1_raw = calloc(n, sizeof *f1_raw);
    na_entry *by_question = malloc(n * sizeof *by_question);
    na_entry *order = malloc((n_na ? n_na : 1) * sizeof *order);
    if (!em_raw || !f1_raw || !by_question || !order) {
        free(em_raw);
        free(f1_raw);
        free(by_question);
        free(order);
        return sb_fail(SB_ENOMEM, "out of memory");
    }
    sb_status st = raw_scores(s, answers, em_raw, f1_raw);
    for (size_t i = 0; i < s->n; i++)
        by_question[i] = (na_entry){i, SIZE_MAX, 0.0};
    for (size_t k = 0; k < n_na && st == SB_OK; k++) {
        size_t q = na->positions[k];
        if (q >= s->n) {
            st = sb_fail(SB_ERANGE, "no-answer probability %zu: question %zu of %zu", k + 1, q + 1,
                         s->n);
            break;
        }
        if (by_question[q].rank == SIZE_MAX) by_question[q].rank = k;
        by_question[q].prob = na->probs[k];
    }
    double em_sum = 0, f1_sum = 0, em_has = 0, f1_has = 0, em_no = 0, f1_no = 0;
    for (size_t i = 0; i < s->n && st == SB_OK; i++) {
        const question *q = &s->qs[i];
        if (s->version == 1) out->total++;
        if (!answers[i]) {
            out->missing++;
            continue;
        }
        double em = em_raw[i], f1 = f1_raw[i];
        if (na) { /* apply_no_ans_threshold */
            if (n_na && by_question[i].rank == SIZE_MAX) {
                st = sb_fail(SB_EINVAL,
                             "question %s has an answer but no no-answer probability "
                             "(evaluate-v2.0.py fails with a KeyError)",
                             s->text.data + q->id);
                break;
            }
            if (by_question[i].prob > na->thresh) em = f1 = q->has_ans ? 0.0 : 1.0;
        }
        em_sum += em;
        f1_sum += f1;
        if (s->version == 2) {
            out->total++;
            if (q->has_ans) {
                em_has += em;
                f1_has += f1;
                out->has_ans_total++;
            } else {
                em_no += em;
                f1_no += f1;
                out->no_ans_total++;
            }
        }
    }
    if (st == SB_OK && n_na && out->total) {
        size_t n_order = 0;
        for (size_t i = 0; i < s->n; i++)
            if (by_question[i].rank != SIZE_MAX) order[n_order++] = by_question[i];
        qsort(order, n_order, sizeof *order, cmp_na);
        out->has_best = true;
        best_thresh(s, answers, em_raw, order, n_order, (double)out->total, &out->best_exact,
                    &out->best_exact_thresh);
        best_thresh(s, answers, f1_raw, order, n_order, (double)out->total, &out->best_f1,
                    &out->best_f1_thresh);
    }
    free(em_raw);
    free(f1_raw);
    free(by_question);
    free(order);
    if (st != SB_OK) return st;
    if (out->total) {
        out->exact = 100.0 * em_sum / (double)out->total;
        out->f1 = 100.0 * f1_sum / (double)out->total;
    }
    if (out->has_ans_total) {
        out->has_ans_exact = 100.0 * em_has / (double)out->has_ans_total;
        out->has_ans_f1 = 100.0 * f1_has / (double)out->has_ans_total;
    }
    if (out->no_ans_total) {
        out->no_ans_exact = 100.0 * em_no / (double)out->no_ans_total;
        out->no_ans_f1 = 100.0 * f1_no / (double)out->no_ans_total;
    }
    return SB_OK;
}

sb_status sb_squad_evaluate(const sb_squad *s, const char *const *answers, sb_squad_scores *out)
{
    if (s->version == 1) return sb_squad_evaluate_na(s, answers, NULL, out);
    sb_squad_na none = {NULL, NULL, 0, 1.0};
    return sb_squad_evaluate_na(s, answers, &none, out);
}

/* ---- the no-answer probability file ---------------------------------------------------- */

typedef struct na_reader {
    const sb_squad *s;
    const char *path;
    size_t *positions;
    double *probs;
    size_t n, cap;
} na_reader;

static sb_status na_member(void *ctx, const char *key, const json_t *value, size_t index)
{
    (void)index;
    na_reader *r = ctx;
    const sb_jansson_api *J = sb_jansson();
    long q = sb_squad_find(r->s, key);
    if (q < 0) return sb_fail(SB_EINVAL, "%s: question %s is not in the dataset", r->path, key);
    double p = json_is_number(value) ? J->number_value(value) : NAN;
    if (!json_is_number(value) || !isfinite(p))
        return sb_fail(SB_EFORMAT, "%s: the no-answer probability of %s must be a number", r->path,
                       key);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        size_t *pos = realloc(r->positions, cap * sizeof *pos);
        if (!pos) return sb_fail(SB_ENOMEM, "%s: out of memory", r->path);
        r->positions = pos;
        double *pr = realloc(r->probs, cap * sizeof *pr);
        if (!pr) return sb_fail(SB_ENOMEM, "%s: out of memory", r->path);
        r->probs = pr;
        r->cap = cap;
    }
    r->positions[r->n] = (size_t)q;
    r->probs[r->n++] = p;
    return SB_OK;
}

sb_status sb_squad_read_na_probs(const sb_squad *s, const char *path, size_t **positions,
                                 double **probs, size_t *n)
{
    char *text = NULL;
    size_t len = 0;
    SB_TRY(sb_jstream_read_file(path, &text, &len));
    na_reader r = {s, path, NULL, NULL, 0, 0};
    sb_status st = sb_jstream_each_member(text, len, path, na_member, &r);
    free(text);
    if (st != SB_OK) {
        free(r.positions);
        free(r.probs);
        return st;
    }
    *positions = r.positions;
    *probs = r.probs;
    *n = r.n;
    return SB_OK;
}
