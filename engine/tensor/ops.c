/* Front-ends of the tensor ops (see ops.h). */
#include "tensor/ops.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tensor/cpu_types.h"

/* ---- helpers ----------------------------------------------------------------------- */

static sb_status backend_of(const sb_tensor *t, const sb_backend **out)
{
    return sb_backend_for(sb_tensor_device(t), out);
}

static sb_status same_device(const sb_tensor *a, const sb_tensor *b)
{
    if (sb_device_equal(sb_tensor_device(a), sb_tensor_device(b))) return SB_OK;
    char da[32], db[32];
    sb_device_format(sb_tensor_device(a), da, sizeof da);
    sb_device_format(sb_tensor_device(b), db, sizeof db);
    return sb_fail(SB_EDEVICE, "tensors are on different devices: %s and %s (move one with :to())",
                   da, db);
}

/* t converted to dtype (an alias when it already is). */
static sb_status as_dtype(const sb_tensor *t, sb_dtype dtype, sb_tensor **out)
{
    return sb_tensor_to_dtype(t, dtype, out);
}

static void free_all(sb_tensor *a, sb_tensor *b, sb_tensor *c)
{
    sb_tensor_free(a);
    sb_tensor_free(b);
    sb_tensor_free(c);
}

sb_status sb_broadcast_shapes(int andim, const int64_t *asizes, int bndim, const int64_t *bsizes,
                              int *ndim, int64_t *sizes)
{
    int n = andim > bndim ? andim : bndim;
    for (int i = 0; i < n; i++) {
        int ia = andim - n + i, ib = bndim - n + i;
        int64_t sa = ia >= 0 ? asizes[ia] : 1, sb = ib >= 0 ? bsizes[ib] : 1;
        if (sa == sb || sb == 1)
            sizes[i] = sa;
        else if (sa == 1)
            sizes[i] = sb;
        else {
            char a[256], b[256];
            sb_shape_format(andim, asizes, a, sizeof a);
            sb_shape_format(bndim, bsizes, b, sizeof b);
            return sb_fail(SB_EINVAL,
                           "shapes %s and %s cannot be broadcast together (size %lld vs %lld "
                           "at dim %d from the end)",
                           a, b, (long long)sa, (long long)sb, n - i);
        }
    }
    *ndim = n;
    return SB_OK;
}

/* a and b converted to dtype and expanded to their broadcast shape. */
static sb_status prepare_pair(const sb_tensor *a, const sb_tensor *b, sb_dtype dtype, int *ndim,
                              int64_t *sizes, sb_tensor **ea, sb_tensor **eb)
{
    SB_TRY(same_device(a, b));
    SB_TRY(sb_broadcast_shapes(a->ndim, a->sizes, b->ndim, b->sizes, ndim, sizes));
    sb_tensor *ca = NULL, *cb = NULL;
    sb_status st = as_dtype(a, dtype, &ca);
    if (st == SB_OK) st = as_dtype(b, dtype, &cb);
    if (st == SB_OK) st = sb_tensor_expand(ca, *ndim, sizes, ea);
    if (st == SB_OK) {
        st = sb_tensor_expand(cb, *ndim, sizes, eb);
        if (st != SB_OK) sb_tensor_free(*ea);
    }
    free_all(ca, cb, NULL);
    return st;
}

/* ---- elementwise ------------------------------------------------------------------- */

sb_status sb_tensor_unary(sb_unary_op op, const sb_tensor *a, sb_tensor **out)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    sb_dtype dtype = a->dtype;
    if (sb_unary_op_floating(op) && !sb_dtype_is_floating(dtype)) dtype = SB_FLOAT32;
    sb_tensor *in = NULL, *res = NULL;
    SB_TRY(as_dtype(a, dtype, &in));
    sb_status st = sb_tensor_empty(a->ndim, a->sizes, dtype, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0) st = backend->unary(op, res, in);
    sb_tensor_free(in);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

static sb_dtype binary_dtype(sb_binary_op op, sb_dtype promoted)
{
    if (sb_binary_op_floating(op) && !sb_dtype_is_floating(promoted)) return SB_FLOAT32;
    return promoted;
}

/* The front end shared by arithmetic and comparisons of two tensors: both operands
 * converted to `dtype` and broadcast, a new `result_dtype` output, then the backend's
 * binary kernel (arith_op) or compare kernel (compare_op, when arith_op < 0). */
static sb_status tensor_pair_op(int arith_op, sb_compare_op compare_op, const sb_tensor *a,
                                const sb_tensor *b, sb_dtype dtype, sb_dtype result_dtype,
                                sb_tensor **out)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    sb_tensor *ea = NULL, *eb = NULL, *res = NULL;
    SB_TRY(prepare_pair(a, b, dtype, &ndim, sizes, &ea, &eb));
    sb_status st = sb_tensor_empty(ndim, sizes, result_dtype, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0)
        st = arith_op >= 0 ? backend->binary((sb_binary_op)arith_op, res, ea, eb)
                           : backend->compare(compare_op, res, ea, eb);
    free_all(ea, eb, NULL);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

sb_status sb_tensor_binary(sb_binary_op op, const sb_tensor *a, const sb_tensor *b, sb_tensor **out)
{
    sb_dtype dtype = binary_dtype(op, sb_dtype_promote(a->dtype, b->dtype));
    return tensor_pair_op((int)op, SB_COMPARE_EQ /* unused */, a, b, dtype, dtype, out);
}

static bool is_integral(double s)
{
    return isfinite(s) && s == floor(s);
}

static sb_dtype scalar_dtype(sb_binary_op op, sb_dtype a, double s)
{
    if (!sb_dtype_is_floating(a) && !is_integral(s)) return SB_FLOAT32;
    return binary_dtype(op, a);
}

sb_status sb_tensor_binary_scalar(sb_binary_op op, const sb_tensor *a, double s, bool reversed,
                                  sb_tensor **out)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    sb_dtype dtype = scalar_dtype(op, a->dtype, s);
    sb_tensor *in = NULL, *res = NULL;
    SB_TRY(as_dtype(a, dtype, &in));
    sb_status st = sb_tensor_empty(a->ndim, a->sizes, dtype, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0)
        st = backend->binary_scalar(op, res, in, s, reversed);
    sb_tensor_free(in);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

static bool same_view(const sb_tensor *a, const sb_tensor *b)
{
    if (a->offset != b->offset || !sb_tensor_same_shape(a, b)) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->sizes[i] > 1 && a->strides[i] != b->strides[i]) return false;
    return true;
}

static sb_status inplace_dtype_check(const sb_tensor *self, sb_dtype needed)
{
    if (needed == self->dtype) return SB_OK;
    return sb_fail(SB_EINVAL, "the result would be %s but the tensor updated in place is %s",
                   sb_dtype_name(needed), sb_dtype_name(self->dtype));
}

sb_status sb_tensor_binary_(sb_binary_op op, sb_tensor *self, const sb_tensor *b)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(self, &backend));
    SB_TRY(same_device(self, b));
    SB_TRY(sb_tensor_check_writable(self));
    SB_TRY(inplace_dtype_check(self, binary_dtype(op, sb_dtype_promote(self->dtype, b->dtype))));
    sb_tensor *cb = NULL, *eb = NULL;
    sb_status st = as_dtype(b, self->dtype, &cb);
    /* b is read while self is written: another view of the same bytes is staged first
     * (the very same view is harmless: each element is read before it is written). */
    if (st == SB_OK && cb->storage == self->storage && !same_view(cb, self)) {
        sb_tensor *copy = NULL;
        st = sb_tensor_clone(cb, &copy);
        sb_tensor_free(cb);
        cb = copy;
    }
    if (st == SB_OK && sb_tensor_expand(cb, self->ndim, self->sizes, &eb) != SB_OK) {
        st = sb_fail(SB_EINVAL, "cannot broadcast the operand %s to the updated tensor %s",
                     sb_tensor_shape_text(b).s, sb_tensor_shape_text(self).s);
    }
    if (st == SB_OK && sb_tensor_numel(self) > 0) {
        sb_tensor_mark_written(self);
        st = backend->binary(op, self, self, eb);
    }
    free_all(cb, eb, NULL);
    return st;
}

sb_status sb_tensor_binary_scalar_(sb_binary_op op, sb_tensor *self, double s)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(self, &backend));
    SB_TRY(sb_tensor_check_writable(self));
    SB_TRY(inplace_dtype_check(self, scalar_dtype(op, self->dtype, s)));
    if (sb_tensor_numel(self) == 0) return SB_OK;
    sb_tensor_mark_written(self);
    return backend->binary_scalar(op, self, self, s, false);
}

sb_status sb_tensor_compare(sb_compare_op op, const sb_tensor *a, const sb_tensor *b,
                            sb_tensor **out)
{
    return tensor_pair_op(-1, op, a, b, sb_dtype_promote(a->dtype, b->dtype), SB_UINT8, out);
}

/* Whether s is exactly representable in an integer dtype. */
static bool fits_integer(sb_dtype d, double s)
{
    if (!is_integral(s)) return false;
    switch (d) {
    case SB_UINT8:
        return s >= 0 && s <= 255;
    case SB_INT32:
        return s >= -2147483648.0 && s <= 2147483647.0;
    case SB_INT64:
        return s >= -9223372036854775808.0 && s < 9223372036854775808.0;
    default:
        return false;
    }
}

sb_status sb_tensor_compare_scalar(sb_compare_op op, const sb_tensor *a, double s, sb_tensor **out)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    /* An integer tensor against a number it cannot hold (2.5, 300 for uint8) compares
     * in float64, so the answer is mathematically right rather than wrapped. */
    sb_dtype dtype = a->dtype;
    if (!sb_dtype_is_floating(dtype) && !fits_integer(dtype, s)) dtype = SB_FLOAT64;
    sb_tensor *in = NULL, *res = NULL;
    SB_TRY(as_dtype(a, dtype, &in));
    sb_status st = sb_tensor_empty(a->ndim, a->sizes, SB_UINT8, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0) st = backend->compare_scalar(op, res, in, s);
    sb_tensor_free(in);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

sb_status sb_tensor_clamp(const sb_tensor *a, double lo, double hi, sb_tensor **out)
{
    bool has_lo = !isnan(lo), has_hi = !isnan(hi);
    if (!has_lo && !has_hi) return sb_fail(SB_EINVAL, "at least one of min and max is required");
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    sb_dtype dtype = a->dtype;
    if (!sb_dtype_is_floating(dtype) &&
        ((has_lo && !is_integral(lo)) || (has_hi && !is_integral(hi))))
        dtype = SB_FLOAT32;
    sb_tensor *in = NULL, *res = NULL;
    SB_TRY(as_dtype(a, dtype, &in));
    sb_status st = sb_tensor_empty(a->ndim, a->sizes, dtype, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0) {
        if (has_lo) st = backend->binary_scalar(SB_BINARY_MAXIMUM, res, in, lo, false);
        if (st == SB_OK && has_hi)
            st = backend->binary_scalar(SB_BINARY_MINIMUM, res, has_lo ? res : in, hi, false);
    }
    sb_tensor_free(in);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

/* ---- reductions ------------------------------------------------------------------------ */

static sb_status check_reduce_dim(const sb_tensor *a, int dim)
{
    if (dim >= -1 && dim < a->ndim && !(a->ndim == 0 && dim >= 0)) return SB_OK;
    return sb_fail(SB_ERANGE, "dim %d out of range for a %d-D tensor %s (0-based)", dim, a->ndim,
                   sb_tensor_shape_text(a).s);
}

sb_status sb_tensor_reduce(sb_reduce_op op, const sb_tensor *a, int dim, bool keepdim,
                           sb_tensor **values, sb_tensor **indices)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    SB_TRY(check_reduce_dim(a, dim));
    bool floating = sb_dtype_is_floating(a->dtype);
    if (sb_reduce_op_floating(op) && !floating)
        return sb_fail(SB_EINVAL,
                       "%s needs a floating-point tensor, got %s (convert with "
                       ":float() first)",
                       sb_reduce_op_name(op), sb_dtype_name(a->dtype));
    bool best = sb_reduce_op_best(op);
    int64_t reduced = dim < 0 ? sb_tensor_numel(a) : a->sizes[dim];
    if (best && reduced == 0) {
        return sb_fail(SB_EINVAL, "an empty %s %s has no %s",
                       dim < 0 ? "tensor" : "dim of a tensor", sb_tensor_shape_text(a).s,
                       sb_reduce_op_noun(op));
    }
    sb_dtype vdtype = !best && !floating ? SB_INT64 : a->dtype; /* an integer sum */
    int ndim = 0;
    int64_t sizes[SB_MAX_DIMS];
    if (dim >= 0)
        for (int i = 0; i < a->ndim; i++)
            if (i != dim) sizes[ndim++] = a->sizes[i];
    sb_device device = sb_tensor_device(a);
    sb_tensor *v = NULL, *ix = NULL;
    sb_status st = sb_tensor_empty(ndim, sizes, vdtype, device, &v);
    if (st == SB_OK && best && indices) st = sb_tensor_empty(ndim, sizes, SB_INT64, device, &ix);
    if (st == SB_OK && sb_tensor_numel(v) > 0) {
        if (reduced == 0)
            st = backend->fill(v, op == SB_REDUCE_MEAN ? NAN : 0.0); /* sum of nothing */
        else
            st = backend->reduce(op, v, ix, a, dim);
    }
    if (st == SB_OK && keepdim) {
        sb_tensor *kv = NULL, *kix = NULL;
        int at = dim < 0 ? 0 : dim;
        if (dim < 0) {
            /* every dim kept with size 1 */
            int64_t ones[SB_MAX_DIMS];
            for (int i = 0; i < a->ndim; i++)
                ones[i] = 1;
            st = sb_tensor_view(v, a->ndim, ones, &kv);
            if (st == SB_OK && ix) st = sb_tensor_view(ix, a->ndim, ones, &kix);
        } else {
            st = sb_tensor_unsqueeze(v, at, &kv);
            if (st == SB_OK && ix) st = sb_tensor_unsqueeze(ix, at, &kix);
        }
        sb_tensor_free(v);
        sb_tensor_free(ix);
        v = kv;
        ix = kix;
    }
    if (st != SB_OK) {
        free_all(v, ix, NULL);
        return st;
    }
    *values = v;
    if (indices) *indices = ix;
    return SB_OK;
}

static sb_status arg_best(sb_reduce_op op, const sb_tensor *a, int dim, bool keepdim,
                          sb_tensor **out)
{
    sb_tensor *values = NULL, *indices = NULL;
    SB_TRY(sb_tensor_reduce(op, a, dim, keepdim, &values, &indices));
    sb_tensor_free(values);
    *out = indices;
    return SB_OK;
}

sb_status sb_tensor_argmax(const sb_tensor *a, int dim, bool keepdim, sb_tensor **out)
{
    return arg_best(SB_REDUCE_MAX, a, dim, keepdim, out);
}

sb_status sb_tensor_argmin(const sb_tensor *a, int dim, bool keepdim, sb_tensor **out)
{
    return arg_best(SB_REDUCE_MIN, a, dim, keepdim, out);
}

sb_status sb_tensor_topk(const sb_tensor *a, int64_t k, int dim, sb_tensor **values,
                         sb_tensor **indices)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    const sb_shape_text shape = sb_tensor_shape_text(a);
    if (a->ndim == 0) return sb_fail(SB_EINVAL, "needs at least 1 dim, got a 0-D tensor");
    if (dim < 0 || dim >= a->ndim)
        return sb_fail(SB_ERANGE, "dim %d out of range for a %d-D tensor %s (0-based)", dim,
                       a->ndim, shape.s);
    if (k < 0 || k > a->sizes[dim])
        return sb_fail(SB_ERANGE, "k = %lld is out of range for dim %d of size %lld in %s",
                       (long long)k, dim, (long long)a->sizes[dim], shape.s);
    int64_t sizes[SB_MAX_DIMS];
    memcpy(sizes, a->sizes, sizeof sizes);
    sizes[dim] = k;
    sb_device device = sb_tensor_device(a);
    sb_tensor *v = NULL, *ix = NULL;
    sb_status st = sb_tensor_empty(a->ndim, sizes, a->dtype, device, &v);
    if (st == SB_OK) st = sb_tensor_empty(a->ndim, sizes, SB_INT64, device, &ix);
    if (st == SB_OK && sb_tensor_numel(v) > 0) st = backend->topk(v, ix, a, k, dim);
    if (st != SB_OK) {
        free_all(v, ix, NULL);
        return st;
    }
    *values = v;
    *indices = ix;
    return SB_OK;
}

/* ---- matrix multiply --------------------------------------------------------------- */

/* out [B,M,N] = a [B,M,K] @ b [B,K,N], all 3-D with equal batch (0-stride allowed). */
static sb_status bmm_kernel(const sb_tensor *a, const sb_tensor *b, sb_tensor **out)
{
    const sb_backend *backend = NULL;
    SB_TRY(backend_of(a, &backend));
    sb_dtype dtype = sb_dtype_promote(a->dtype, b->dtype);
    sb_tensor *ca = NULL, *cb = NULL, *res = NULL;
    sb_status st = as_dtype(a, dtype, &ca);
    if (st == SB_OK) st = as_dtype(b, dtype, &cb);
    int64_t sizes[3] = {a->sizes[0], a->sizes[1], b->sizes[2]};
    if (st == SB_OK) st = sb_tensor_empty(3, sizes, dtype, sb_tensor_device(a), &res);
    if (st == SB_OK && sb_tensor_numel(res) > 0) st = backend->bmm(res, ca, cb);
    free_all(ca, cb, NULL);
    if (st != SB_OK) {
        sb_tensor_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

static sb_status mismatch(const sb_tensor *a, const sb_tensor *b, int64_t ka, int64_t kb)
{
    return sb_fail(SB_EINVAL,
                   "shapes %s and %s cannot be multiplied (%lld columns in the first, %lld rows "
                   "in the second)",
                   sb_tensor_shape_text(a).s, sb_tensor_shape_text(b).s, (long long)ka,
                   (long long)kb);
}

sb_status sb_tensor_mm(const sb_tensor *a, const sb_tensor *b, sb_tensor **out)
{
    SB_TRY(same_device(a, b));
    if (a->ndim != 2 || b->ndim != 2) {
        return sb_fail(SB_EINVAL, "expected two 2-D tensors, got %d-D %s and %d-D %s", a->ndim,
                       sb_tensor_shape_text(a).s, b->ndim, sb_tensor_shape_text(b).s);
    }
    if (a->sizes[1] != b->sizes[0]) return mismatch(a, b, a->sizes[1], b->sizes[0]);
    sb_tensor *a3 = NULL, *b3 = NULL, *r3 = NULL;
    sb_status st = sb_tensor_unsqueeze(a, 0, &a3);
    if (st == SB_OK) st = sb_tensor_unsqueeze(b, 0, &b3);
    if (st == SB_OK) st = bmm_kernel(a3, b3, &r3);
    int64_t sizes[2] = {a->sizes[0], b->sizes[1]};
    if (st == SB_OK) st = sb_tensor_view(r3, 2, sizes, out);
    free_all(a3, b3, r3);
    return st;
}

sb_status sb_tensor_bmm(const sb_tensor *a, const sb_tensor *b, sb_tensor **out)
{
    SB_TRY(same_device(a, b));
    const sb_shape_text sa = sb_tensor_shape_text(a), sb = sb_tensor_shape_text(b);
    if (a->ndim != 3 || b->ndim != 3)
        return sb_fail(SB_EINVAL, "expected two 3-D tensors, got %d-D %s and %d-D %s", a->ndim,
                       sa.s, b->ndim, sb.s);
    if (a->sizes[0] != b->sizes[0])
        return sb_fail(SB_EINVAL, "batch sizes differ: %s and %s", sa.s, sb.s);
    if (a->sizes[2] != b->sizes[1]) return mismatch(a, b, a->sizes[2], b->sizes[1]);
    return bmm_kernel(a, b, out);
}

sb_status sb_tensor_matmul(const sb_tensor *a, const sb_tensor *b, sb_tensor **out)
{
    SB_TRY(same_device(a, b));
    if (a->ndim == 0 || b->ndim == 0) {
        return sb_fail(SB_EINVAL, "both arguments need at least 1 dim, got %s and %s",
                       sb_tensor_shape_text(a).s, sb_tensor_shape_text(b).s);
    }
    /* 1-D operands become a row (a) or a column (b), dropped again from the result. */
    int64_t M = a->ndim == 1 ? 1 : a->sizes[a->ndim - 2];
    int64_t Ka = a->sizes[a->ndim - 1];
    int64_t Kb = b->ndim == 1 ? b->sizes[0] : b->sizes[b->ndim - 2];
    int64_t N = b->ndim == 1 ? 1 : b->sizes[b->ndim - 1];
    if (Ka != Kb) return mismatch(a, b, Ka, Kb);
    int abatch = a->ndim > 2 ? a->ndim - 2 : 0, bbatch = b->ndim > 2 ? b->ndim - 2 : 0;
    int nbatch = 0;
    int64_t batch[SB_MAX_DIMS];
    if (sb_broadcast_shapes(abatch, a->sizes, bbatch, b->sizes, &nbatch, batch) != SB_OK) {
        char sa[256], sb[256], ba[256], bb[256];
        sb_tensor_format_shape(a, sa, sizeof sa);
        sb_tensor_format_shape(b, sb, sizeof sb);
        sb_shape_format(abatch, a->sizes, ba, sizeof ba);
        sb_shape_format(bbatch, b->sizes, bb, sizeof bb);
        return sb_fail(SB_EINVAL,
                       "shapes %s and %s cannot be multiplied: their batch dims %s and %s "
                       "cannot be broadcast together",
                       sa, sb, ba, bb);
    }
    int64_t B = 1;
    for (int i = 0; i < nbatch; i++)
        B *= batch[i];

    sb_tensor *a2 = NULL, *b2 = NULL, *ea = NULL, *eb = NULL, *a3 = NULL, *b3 = NULL, *r3 = NULL;
    int64_t shape[SB_MAX_DIMS];
    sb_status st = SB_OK;
    int64_t am[2] = {M, Ka}, bm[2] = {Kb, N};
    /* a as [..., M, K] and b as [..., K, N] */
    if (a->ndim == 1)
        st = sb_tensor_view(a, 2, am, &a2);
    else
        st = sb_tensor_alias(a, &a2);
    if (st == SB_OK) st = b->ndim == 1 ? sb_tensor_view(b, 2, bm, &b2) : sb_tensor_alias(b, &b2);
    if (st != SB_OK) goto done;
    memcpy(shape, batch, (size_t)nbatch * sizeof *shape);
    shape[nbatch] = M;
    shape[nbatch + 1] = Ka;
    st = sb_tensor_expand(a2, nbatch + 2, shape, &ea);
    shape[nbatch] = Kb;
    shape[nbatch + 1] = N;
    if (st == SB_OK) st = sb_tensor_expand(b2, nbatch + 2, shape, &eb);
    int64_t s3a[3] = {B, M, Ka}, s3b[3] = {B, Kb, N};
    /* Flattening broadcast batch dims may need a copy; a single batch dim never does. */
    if (st == SB_OK) st = sb_tensor_reshape(ea, 3, s3a, &a3);
    if (st == SB_OK) st = sb_tensor_reshape(eb, 3, s3b, &b3);
    if (st == SB_OK) st = bmm_kernel(a3, b3, &r3);
    if (st != SB_OK) goto done;
    {
        int n = 0;
        for (int i = 0; i < nbatch; i++)
            shape[n++] = batch[i];
        if (a->ndim > 1) shape[n++] = M;
        if (b->ndim > 1) shape[n++] = N;
        st = sb_tensor_view(r3, n, shape, out);
    }
done:
    free_all(a2, b2, ea);
    free_all(eb, a3, b3);
    sb_tensor_free(r3);
    return st;
}

/* ---- concatenation ---------------------------------------------------------------------- */

sb_status sb_tensor_cat(int n, const sb_tensor *const *tensors, int dim, sb_tensor **out)
{
    if (n < 1) return sb_fail(SB_EINVAL, "needs at least one tensor");
    const sb_tensor *first = tensors[0];
    if (first->ndim == 0) return sb_fail(SB_EINVAL, "cannot concatenate 0-D tensors (use stack)");
    if (dim < 0 || dim >= first->ndim)
        return sb_fail(SB_ERANGE, "dim %d out of range for %d-D tensors (0-based)", dim,
                       first->ndim);
    sb_dtype dtype = first->dtype;
    int64_t sizes[SB_MAX_DIMS];
    memcpy(sizes, first->sizes, sizeof sizes);
    sizes[dim] = 0;
    for (int i = 0; i < n; i++) {
        const sb_tensor *t = tensors[i];
        bool fits = t->ndim == first->ndim;
        for (int d = 0; fits && d < t->ndim; d++)
            fits = d == dim || t->sizes[d] == first->sizes[d];
        if (!fits) {
            return sb_fail(SB_EINVAL,
                           "tensor %d has shape %s, which does not match the first one's %s "
                           "outside the concatenated dim",
                           i, sb_tensor_shape_text(t).s, sb_tensor_shape_text(first).s);
        }
        SB_TRY(same_device(first, t));
        dtype = sb_dtype_promote(dtype, t->dtype);
        if (__builtin_add_overflow(sizes[dim], t->sizes[dim], &sizes[dim]))
            return sb_fail(SB_ERANGE, "the concatenated size overflows");
    }
    sb_tensor *res = NULL;
    SB_TRY(sb_tensor_empty(first->ndim, sizes, dtype, sb_tensor_device(first), &res));
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        sb_tensor *slot = NULL;
        sb_status st = sb_tensor_narrow(res, dim, at, tensors[i]->sizes[dim], &slot);
        if (st == SB_OK) st = sb_tensor_copy_(slot, tensors[i]);
        sb_tensor_free(slot);
        if (st != SB_OK) {
            sb_tensor_free(res);
            return st;
        }
        at += tensors[i]->sizes[dim];
    }
    *out = res;
    return SB_OK;
}

sb_status sb_tensor_stack(int n, const sb_tensor *const *tensors, int dim, sb_tensor **out)
{
    if (n < 1) return sb_fail(SB_EINVAL, "needs at least one tensor");
    if (dim < 0 || dim > tensors[0]->ndim || tensors[0]->ndim >= SB_MAX_DIMS)
        return sb_fail(SB_ERANGE, "dim %d out of range for stacking %d-D tensors (0-based)", dim,
                       tensors[0]->ndim);
    for (int i = 1; i < n; i++) {
        if (!sb_tensor_same_shape(tensors[i], tensors[0])) {
            return sb_fail(SB_EINVAL,
                           "tensor %d has shape %s, the first one %s: stack needs "
                           "equal shapes",
                           i, sb_tensor_shape_text(tensors[i]).s,
                           sb_tensor_shape_text(tensors[0]).s);
        }
    }
    sb_tensor **views = calloc((size_t)n, sizeof *views);
    if (!views) return sb_fail(SB_ENOMEM, "out of memory in stack");
    sb_status st = SB_OK;
    for (int i = 0; i < n && st == SB_OK; i++)
        st = sb_tensor_unsqueeze(tensors[i], dim, &views[i]);
    if (st == SB_OK) st = sb_tensor_cat(n, (const sb_tensor *const *)views, dim, out);
    for (int i = 0; i < n; i++)
        sb_tensor_free(views[i]);
    free(views);
    return st;
}

/* ---- creation ------------------------------------------------------------------------ */

sb_status sb_tensor_arange(double start, double end, double step, sb_dtype dtype, sb_device device,
                           sb_tensor **out)
{
    if (step == 0 || !isfinite(step) || !isfinite(start) || !isfinite(end))
        return sb_fail(SB_EINVAL,
                       "start, end and step must be finite and step non-zero (got %g, "
                       "%g, %g)",
                       start, end, step);
    double count = ceil((end - start) / step);
    if (count < 0) count = 0;
    if (count > 9.0e18)
        return sb_fail(SB_ERANGE, "arange(%g, %g, %g) is too long", start, end, step);
    int64_t n = (int64_t)count;
    sb_tensor *host = NULL;
    SB_TRY(sb_tensor_empty(1, &n, dtype, SB_CPU, &host));
    char *p = sb_tensor_data(host);
    size_t elsize = sb_dtype_size(dtype);
    bool exact_int = !sb_dtype_is_floating(dtype) && is_integral(start) && is_integral(step);
    for (int64_t i = 0; i < n; i++) {
        if (exact_int && dtype == SB_INT64)
            *(int64_t *)(p + i * (int64_t)elsize) = (int64_t)start + i * (int64_t)step;
        else
            sb_store_double(p + i * (int64_t)elsize, dtype, start + (double)i * step);
    }
    if (device.kind == SB_DEVICE_CPU) {
        *out = host;
        return SB_OK;
    }
    sb_status st = sb_tensor_to_device(host, device, out);
    sb_tensor_free(host);
    return st;
}

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static sb_generator default_generator;
static bool default_seeded;

void sb_manual_seed(uint64_t seed)
{
    pthread_mutex_lock(&default_lock);
    sb_generator_seed(&default_generator, seed);
    default_seeded = true;
    pthread_mutex_unlock(&default_lock);
}

static double uniform53(sb_generator *g)
{
    return (double)(sb_generator_next(g) >> 11) * 0x1p-53;
}

static sb_status random_tensor(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                               bool normal, sb_tensor **out)
{
    if (!sb_dtype_is_floating(dtype))
        return sb_fail(SB_EINVAL, "random tensors need a floating dtype, got %s",
                       sb_dtype_name(dtype));
    sb_tensor *host = NULL;
    SB_TRY(sb_tensor_empty(ndim, sizes, dtype, SB_CPU, &host));
    int64_t n = sb_tensor_numel(host);
    char *p = sb_tensor_data(host);
    size_t elsize = sb_dtype_size(dtype);
    pthread_mutex_lock(&default_lock);
    if (!default_seeded) {
        /* Unseeded runs are reproducible too: a fixed default seed (docs/tensor.md). */
        sb_generator_seed(&default_generator, 0x5eed5eedull);
        default_seeded = true;
    }
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (normal) {
            /* Box-Muller; 1 - u keeps the log argument in (0, 1]. */
            double u1 = 1.0 - uniform53(&default_generator), u2 = uniform53(&default_generator);
            v = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        } else if (dtype == SB_FLOAT32) {
            /* 24 random bits: every float32 value in [0, 1) at spacing 2^-24, never 1.0 */
            v = (double)(sb_generator_next(&default_generator) >> 40) * 0x1p-24;
        } else {
            v = uniform53(&default_generator);
        }
        sb_store_double(p + i * (int64_t)elsize, dtype, v);
    }
    pthread_mutex_unlock(&default_lock);
    if (device.kind == SB_DEVICE_CPU) {
        *out = host;
        return SB_OK;
    }
    sb_status st = sb_tensor_to_device(host, device, out);
    sb_tensor_free(host);
    return st;
}

sb_status sb_tensor_rand(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                         sb_tensor **out)
{
    return random_tensor(ndim, sizes, dtype, device, false, out);
}

sb_status sb_tensor_randn(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out)
{
    return random_tensor(ndim, sizes, dtype, device, true, out);
}
