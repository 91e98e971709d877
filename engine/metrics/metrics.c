#include "metrics/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Host-readable values of a tensor: host float32/float64 contiguous tensors are read in
 * place; anything else (another dtype, a view, a CUDA tensor) is first copied to a host
 * float64 tensor, which `owned` then holds. */
typedef struct values {
    const float *f32;
    const double *f64;
    sb_tensor *owned;
} values;

static inline double at(const values *v, int64_t i)
{
    return v->f32 ? v->f32[i] : v->f64[i];
}

static sb_status read_values(const sb_tensor *t, values *v)
{
    v->f32 = NULL;
    v->f64 = NULL;
    v->owned = NULL;
    if (sb_tensor_device(t).kind == SB_DEVICE_CPU && sb_tensor_is_contiguous(t)) {
        if (t->dtype == SB_FLOAT32) {
            v->f32 = sb_tensor_data(t);
            return SB_OK;
        }
        if (t->dtype == SB_FLOAT64) {
            v->f64 = sb_tensor_data(t);
            return SB_OK;
        }
    }
    sb_tensor *host = NULL, *f64 = NULL;
    SB_TRY(sb_tensor_to_device(t, SB_CPU, &host));
    sb_status s = sb_tensor_to_dtype(host, SB_FLOAT64, &f64);
    sb_tensor_free(host);
    if (s != SB_OK) return s;
    s = sb_tensor_contiguous(f64, &v->owned);
    sb_tensor_free(f64);
    if (s == SB_OK) v->f64 = sb_tensor_data(v->owned);
    return s;
}

/* Reads output and target; on failure nothing is held. */
static sb_status read_pair(const sb_tensor *output, const sb_tensor *target, values *o, values *t)
{
    SB_TRY(read_values(output, o));
    sb_status s = read_values(target, t);
    if (s != SB_OK) sb_tensor_free(o->owned);
    return s;
}

static void release_pair(values *o, values *t)
{
    sb_tensor_free(o->owned);
    sb_tensor_free(t->owned);
}

static void shape_text(const sb_tensor *t, char *buf, size_t n)
{
    sb_tensor_format_shape(t, buf, n);
}

/* The class id at target[i]: a whole number in [0, num_classes) unless ignored. */
static sb_status class_id(double v, int64_t num_classes, const char *what, int64_t *out)
{
    if (!(v == floor(v)) || v < 0 || v >= (double)num_classes)
        return sb_fail(SB_EINVAL, "%s: class id %g is not a whole number in [0, %lld]", what, v,
                       (long long)num_classes - 1);
    *out = (int64_t)v;
    return SB_OK;
}

/* Checks (N, C) output against (N) or (N, 1) target. */
static sb_status check_rows(const sb_tensor *output, const sb_tensor *target)
{
    char os[64], ts[64];
    shape_text(output, os, sizeof os);
    shape_text(target, ts, sizeof ts);
    if (output->ndim != 2)
        return sb_fail(SB_EINVAL, "output must be 2-D (N, C) scores, got %d-D %s", output->ndim,
                       os);
    bool ok = (target->ndim == 1 && target->sizes[0] == output->sizes[0]) ||
              (target->ndim == 2 && target->sizes[0] == output->sizes[0] && target->sizes[1] == 1);
    if (!ok)
        return sb_fail(SB_EINVAL, "target must hold one class id per row of output %s, got %s", os,
                       ts);
    return SB_OK;
}

/* How many classes topk would put before `label` in this row, in torch.topk's order: larger
 * scores first, NaN larger than every number, ties (NaN with NaN too) by lower column. So an
 * all-NaN row predicts column 0, as in PyTorch. One loop per element type so the compiler
 * can vectorise the common float32 case. */
#define SB_DEFINE_RANK(name, type)                                                                 \
    static int64_t name(const type *row, int64_t c, int64_t label)                                 \
    {                                                                                              \
        type st = row[label];                                                                      \
        int64_t rank = 0;                                                                          \
        if (isnan(st)) {                                                                           \
            for (int64_t j = 0; j < label; j++)                                                    \
                rank += isnan(row[j]) != 0;                                                        \
            return rank;                                                                           \
        }                                                                                          \
        for (int64_t j = 0; j < label; j++)                                                        \
            rank += row[j] >= st || isnan(row[j]);                                                 \
        for (int64_t j = label + 1; j < c; j++)                                                    \
            rank += row[j] > st || isnan(row[j]);                                                  \
        return rank;                                                                               \
    }
SB_DEFINE_RANK(rank_f32, float)
SB_DEFINE_RANK(rank_f64, double)

sb_status sb_metric_topk_correct(const sb_tensor *output, const sb_tensor *target, int nk,
                                 const int64_t *ks, int64_t *correct, int64_t *rows)
{
    SB_TRY(check_rows(output, target));
    for (int i = 0; i < nk; i++)
        if (ks[i] < 1) return sb_fail(SB_EINVAL, "k must be >= 1, got %lld", (long long)ks[i]);
    values o, t;
    SB_TRY(read_pair(output, target, &o, &t));
    sb_status s = SB_OK;
    int64_t n = output->sizes[0], c = output->sizes[1];
    for (int i = 0; i < nk; i++)
        correct[i] = 0;
    for (int64_t r = 0; r < n && s == SB_OK; r++) {
        int64_t label = 0;
        s = class_id(at(&t, r), c, "target", &label);
        if (s != SB_OK) break;
        int64_t base = r * c;
        int64_t rank = o.f32 ? rank_f32(o.f32 + base, c, label) : rank_f64(o.f64 + base, c, label);
        for (int i = 0; i < nk; i++)
            if (rank < ks[i]) correct[i]++;
    }
    *rows = n;
    release_pair(&o, &t);
    return s;
}

sb_status sb_metric_confusion_add(const sb_tensor *output, const sb_tensor *target,
                                  int64_t num_classes, bool has_ignore, int64_t ignore_index,
                                  int64_t *counts, int64_t *counted)
{
    if (num_classes < 1) return sb_fail(SB_EINVAL, "num_classes must be >= 1");
    char os[64], ts[64];
    shape_text(output, os, sizeof os);
    shape_text(target, ts, sizeof ts);
    bool scores = output->ndim == target->ndim + 1;
    /* (N, C) against (N, 1): the (N, 1) target is a column of ids */
    if (output->ndim == 2 && target->ndim == 2 && target->sizes[1] == 1 && output->sizes[1] != 1)
        scores = true;
    int64_t classes = scores ? output->sizes[1] : num_classes;
    if (scores) {
        bool ok = output->ndim >= 2 && output->sizes[0] == target->sizes[0];
        for (int d = 2; ok && d < output->ndim; d++)
            ok = output->sizes[d] == target->sizes[d - 1];
        if (!ok)
            return sb_fail(SB_EINVAL,
                           "output %s must be scores (N, C, ...) matching target %s (N, ...), or "
                           "class ids of the target's shape",
                           os, ts);
        if (classes != num_classes)
            return sb_fail(SB_EINVAL, "output %s has %lld classes, the meter counts %lld", os,
                           (long long)classes, (long long)num_classes);
    } else if (!sb_tensor_same_shape(output, target)) {
        return sb_fail(SB_EINVAL,
                       "output %s must be scores (N, C, ...) or class ids of the target's shape %s",
                       os, ts);
    }
    values o, t;
    SB_TRY(read_pair(output, target, &o, &t));
    sb_status s = SB_OK;
    int64_t n = sb_tensor_numel(target);
    /* scores (N, C, S): element i = (b, s) with b = i / S, s = i % S */
    int64_t spatial = scores && output->sizes[0] > 0 ? n / output->sizes[0] : 1;
    int64_t added = 0;
    for (int64_t i = 0; i < n && s == SB_OK; i++) {
        double tv = at(&t, i);
        if (has_ignore && tv == (double)ignore_index) continue;
        int64_t truth = 0, pred = 0;
        s = class_id(tv, num_classes, "target", &truth);
        if (s != SB_OK) break;
        if (scores) {
            int64_t b = i / spatial, sp = i % spatial;
            int64_t base = b * classes * spatial + sp;
            double best = at(&o, base);
            /* torch.argmax: the first NaN wins, else the first maximum */
            for (int64_t c = 1; c < classes && !isnan(best); c++) {
                double x = at(&o, base + c * spatial);
                if (x > best || isnan(x)) best = x, pred = c;
            }
        } else {
            s = class_id(at(&o, i), num_classes, "output", &pred);
            if (s != SB_OK) break;
        }
        counts[truth * num_classes + pred]++;
        added++;
    }
    *counted = added;
    release_pair(&o, &t);
    return s;
}

sb_status sb_metric_error_sums(const sb_tensor *output, const sb_tensor *target, double *sum_sq,
                               double *sum_abs, int64_t *count)
{
    bool column = output->ndim == 2 && output->sizes[1] == 1 && target->ndim == 1 &&
                  target->sizes[0] == output->sizes[0];
    if (!column && !sb_tensor_same_shape(output, target)) {
        char os[64], ts[64];
        shape_text(output, os, sizeof os);
        shape_text(target, ts, sizeof ts);
        return sb_fail(SB_EINVAL, "output %s and target %s must have the same shape", os, ts);
    }
    values o, t;
    SB_TRY(read_pair(output, target, &o, &t));
    int64_t n = sb_tensor_numel(target);
    double sq = 0, ab = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = at(&o, i) - at(&t, i);
        sq += d * d;
        ab += fabs(d);
    }
    *sum_sq = sq;
    *sum_abs = ab;
    *count = n;
    release_pair(&o, &t);
    return SB_OK;
}

sb_status sb_metric_nll_sum(const sb_tensor *output, const sb_tensor *target, bool log_probs,
                            bool has_ignore, int64_t ignore_index, double *sum_nll, int64_t *count)
{
    SB_TRY(check_rows(output, target));
    values o, t;
    SB_TRY(read_pair(output, target, &o, &t));
    sb_status s = SB_OK;
    int64_t n = output->sizes[0], c = output->sizes[1];
    double total = 0;
    int64_t used = 0;
    for (int64_t r = 0; r < n && s == SB_OK; r++) {
        double tv = at(&t, r);
        if (has_ignore && tv == (double)ignore_index) continue;
        int64_t label = 0;
        s = class_id(tv, c, "target", &label);
        if (s != SB_OK) break;
        int64_t base = r * c;
        double logp = at(&o, base + label);
        if (!log_probs) { /* log-softmax: x - max - log(sum exp(x - max)) */
            double m = at(&o, base);
            for (int64_t j = 1; j < c; j++)
                if (at(&o, base + j) > m) m = at(&o, base + j);
            double z = 0;
            for (int64_t j = 0; j < c; j++)
                z += exp(at(&o, base + j) - m);
            logp -= m + log(z);
        }
        total -= logp;
        used++;
    }
    *sum_nll = total;
    *count = used;
    release_pair(&o, &t);
    return s;
}

sb_status sb_metric_nonfinite_rows(const sb_tensor *output, int64_t *rows)
{
    *rows = 0;
    if (!sb_dtype_is_floating(output->dtype)) return SB_OK;
    values o;
    SB_TRY(read_values(output, &o));
    int64_t n = output->ndim == 0 ? 1 : output->sizes[0];
    int64_t per = n > 0 ? sb_tensor_numel(output) / n : 0, bad = 0;
    for (int64_t r = 0; r < n; r++) {
        const int64_t base = r * per;
        bool finite = true;
        if (o.f32) {
            for (int64_t j = 0; j < per; j++)
                finite &= isfinite(o.f32[base + j]) != 0;
        } else {
            for (int64_t j = 0; j < per; j++)
                finite &= isfinite(o.f64[base + j]) != 0;
        }
        bad += !finite;
    }
    *rows = bad;
    sb_tensor_free(o.owned);
    return SB_OK;
}
