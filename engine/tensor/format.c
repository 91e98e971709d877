/* tostring: PyTorch's tensor printing (torch/_tensor_str.py), simplified: the same number
 * modes (integers as "1.", fixed "%.4f", or scientific "%.4e" when the magnitudes span
 * more than 1000x or leave [1e-4, 1e8)), common width, 80-column wrapping and "..."
 * summaries of 3 edge items per dim when there are more than 1000 elements. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tensor/cpu_types.h"
#include "tensor/tensor.h"

#define EDGE 3
#define THRESHOLD 1000
#define LINEWIDTH 80

static void put(sb_buf *b, const char *s)
{
    (void)sb_buf_puts(b, s); /* a failure is seen once, at the end (b->failed) */
}

typedef struct fmt {
    const sb_tensor *t;
    bool summarize, floating;
    enum { MODE_INT, MODE_FIXED, MODE_SCI } mode;
    int width;
    /* stats */
    bool any_finite;
    double max_abs, min_abs; /* over finite non-zero values */
    bool all_integral;
} fmt;

static const char *elem_ptr(const sb_tensor *t, const int64_t *idx)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++)
        off += idx[d] * t->strides[d];
    return (const char *)t->storage->data + off * (int64_t)sb_dtype_size(t->dtype);
}

static int format_elem(const fmt *f, const char *p, char *out, size_t size)
{
    if (!f->floating) {
        long long v;
        switch (f->t->dtype) {
        case SB_INT64:
            v = *(const int64_t *)p;
            break;
        case SB_INT32:
            v = *(const int32_t *)p;
            break;
        default:
            v = *(const uint8_t *)p;
            break;
        }
        return snprintf(out, size, "%lld", v);
    }
    double v = sb_load_double(p, f->t->dtype);
    if (isnan(v)) return snprintf(out, size, "nan");
    if (isinf(v)) return snprintf(out, size, v > 0 ? "inf" : "-inf");
    switch (f->mode) {
    case MODE_INT:
        return snprintf(out, size, "%.0f.", v);
    case MODE_SCI:
        return snprintf(out, size, "%.4e", v);
    default:
        return snprintf(out, size, "%.4f", v);
    }
}

/* Calls fn on every displayed element, in order. */
typedef void (*visit_fn)(fmt *f, const char *p);

static void visit(fmt *f, int dim, int64_t *idx, visit_fn fn)
{
    const sb_tensor *t = f->t;
    if (dim == t->ndim) {
        fn(f, elem_ptr(t, idx));
        return;
    }
    int64_t n = t->sizes[dim];
    for (int64_t i = 0; i < n; i++) {
        if (f->summarize && n > 2 * EDGE && i == EDGE) i = n - EDGE;
        idx[dim] = i;
        visit(f, dim + 1, idx, fn);
    }
}

static void collect_stats(fmt *f, const char *p)
{
    if (!f->floating) {
        char buf[32];
        int n = format_elem(f, p, buf, sizeof buf);
        if (n > f->width) f->width = n;
        return;
    }
    double v = sb_load_double(p, f->t->dtype);
    if (!isfinite(v)) return;
    if (v != floor(v)) f->all_integral = false;
    double a = fabs(v);
    if (a == 0) return;
    if (!f->any_finite || a > f->max_abs) f->max_abs = a;
    if (!f->any_finite || a < f->min_abs) f->min_abs = a;
    f->any_finite = true;
}

static void measure_width(fmt *f, const char *p)
{
    char buf[64];
    int n = format_elem(f, p, buf, sizeof buf);
    if (n > f->width) f->width = n;
}

typedef struct printer {
    fmt *f;
    sb_buf *b;
} printer;

static void print_elem(const printer *pr, const char *p)
{
    char buf[64];
    int n = format_elem(pr->f, p, buf, sizeof buf);
    if (pr->f->width > n) (void)sb_buf_repeat(pr->b, ' ', (size_t)(pr->f->width - n));
    (void)sb_buf_append(pr->b, buf, (size_t)n);
}

/* Prints dim `dim` onwards; `indent` is the column of this dim's '['. */
static void print_dim(const printer *pr, int dim, int64_t *idx, int indent)
{
    const sb_tensor *t = pr->f->t;
    sb_buf *b = pr->b;
    int64_t n = t->sizes[dim];
    bool cut = pr->f->summarize && n > 2 * EDGE;
    put(b, "[");
    if (dim == t->ndim - 1) {
        int per_line = (LINEWIDTH - indent - 1) / (pr->f->width + 2);
        if (per_line < 1) per_line = 1;
        int on_line = 0;
        for (int64_t i = 0; i < n; i++) {
            if (cut && i == EDGE) {
                put(b, " ..., "); /* PyTorch's spacing */
                i = n - EDGE;
            }
            if (on_line == per_line) {
                put(b, "\n");
                (void)sb_buf_repeat(b, ' ', (size_t)indent + 1);
                on_line = 0;
            }
            idx[dim] = i;
            print_elem(pr, elem_ptr(t, idx));
            on_line++;
            if (i + 1 < n) put(b, ", ");
        }
    } else {
        int blank_lines = t->ndim - dim - 2; /* 2-D blocks are separated by a blank line */
        for (int64_t i = 0; i < n; i++) {
            if (i > 0) {
                put(b, ",");
                for (int k = 0; k <= blank_lines; k++)
                    put(b, "\n");
                (void)sb_buf_repeat(b, ' ', (size_t)indent + 1);
            }
            if (cut && i == EDGE) {
                put(b, "...,");
                for (int k = 0; k <= blank_lines; k++)
                    put(b, "\n");
                (void)sb_buf_repeat(b, ' ', (size_t)indent + 1);
                i = n - EDGE;
            }
            idx[dim] = i;
            print_dim(pr, dim + 1, idx, indent + 1);
        }
    }
    put(b, "]");
}

sb_status sb_tensor_format(const sb_tensor *t, char **out)
{
    sb_tensor *host = NULL;
    SB_TRY(sb_tensor_to_device(t, SB_CPU, &host));
    fmt f = {0};
    f.t = host;
    f.floating = sb_dtype_is_floating(host->dtype);
    f.summarize = sb_tensor_numel(host) > THRESHOLD;
    f.all_integral = true;
    int64_t idx[SB_MAX_DIMS] = {0};
    int64_t numel = sb_tensor_numel(host);
    if (numel > 0) {
        visit(&f, 0, idx, collect_stats);
        if (f.floating) {
            if (f.all_integral)
                f.mode = f.any_finite && (f.max_abs > 1e8 || f.max_abs / f.min_abs > 1000)
                             ? MODE_SCI
                             : MODE_INT;
            else
                f.mode = f.any_finite && (f.max_abs / f.min_abs > 1000 || f.max_abs > 1e8 ||
                                          f.min_abs < 1e-4)
                             ? MODE_SCI
                             : MODE_FIXED;
            f.width = 0;
            visit(&f, 0, idx, measure_width);
        }
    }
    sb_buf b = {0};
    put(&b, "tensor(");
    printer pr = {&f, &b};
    if (host->ndim == 0) {
        print_elem(&pr, elem_ptr(host, idx));
    } else if (numel == 0) {
        put(&b, "[]");
    } else {
        print_dim(&pr, 0, idx, 7);
    }
    char extra[160];
    if (numel == 0 && host->ndim > 1) {
        /* PyTorch prints a tuple: size=(1, 0) */
        char shape[128];
        sb_tensor_format_shape(host, shape, sizeof shape);
        shape[0] = '(';
        shape[strlen(shape) - 1] = ')';
        snprintf(extra, sizeof extra, ", size=%s", shape);
        put(&b, extra);
    }
    /* PyTorch leaves out its defaults, float32 and int64. */
    if (host->dtype != SB_FLOAT32 && host->dtype != SB_INT64) {
        snprintf(extra, sizeof extra, ", dtype=%s", sb_dtype_name(host->dtype));
        put(&b, extra);
    }
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU) {
        char dev[32];
        sb_device_format(sb_tensor_device(t), dev, sizeof dev);
        snprintf(extra, sizeof extra, ", device='%s'", dev);
        put(&b, extra);
    }
    put(&b, ")");
    sb_tensor_free(host);
    if (b.failed) {
        free(b.data);
        return sb_fail(SB_ENOMEM, "out of memory formatting a tensor");
    }
    *out = b.data;
    return SB_OK;
}
