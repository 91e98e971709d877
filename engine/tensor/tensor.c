/* Strided tensors: creation, views, copies, element access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/backend.h"
#include "tensor/cpu_types.h"
#include "tensor/tensor.h"

/* ---- shapes -------------------------------------------------------------------------- */

static void format_sizes(int ndim, const int64_t *sizes, char *buf, size_t bufsize)
{
    size_t used = 0;
    if (bufsize == 0) return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, bufsize, "[");
    for (int i = 0; i < ndim && used < bufsize; i++)
        used += (size_t)snprintf(buf + used, bufsize - used, "%s%lld", i ? ", " : "",
                                 (long long)sizes[i]);
    if (used < bufsize) snprintf(buf + used, bufsize - used, "]");
}

void sb_shape_format(int ndim, const int64_t *sizes, char *buf, size_t bufsize)
{
    format_sizes(ndim, sizes, buf, bufsize);
}

void sb_tensor_format_shape(const sb_tensor *t, char *buf, size_t bufsize)
{
    format_sizes(t->ndim, t->sizes, buf, bufsize);
}

sb_shape_text sb_tensor_shape_text(const sb_tensor *t)
{
    sb_shape_text text;
    format_sizes(t->ndim, t->sizes, text.s, sizeof text.s);
    return text;
}

sb_status sb_shape_check(int ndim, const int64_t *sizes, sb_dtype dtype, int64_t *numel_out)
{
    if (ndim < 0 || ndim > SB_MAX_DIMS)
        return sb_fail(SB_EINVAL, "a tensor has at most %d dims, got %d", SB_MAX_DIMS, ndim);
    if ((unsigned)dtype >= SB_DTYPE_COUNT)
        return sb_fail(SB_EINVAL, "invalid dtype %d", (int)dtype);
    int64_t numel = 1;
    bool overflow = false;
    for (int i = 0; i < ndim; i++) {
        if (sizes[i] < 0) {
            char shape[256];
            format_sizes(ndim, sizes, shape, sizeof shape);
            return sb_fail(SB_ERANGE, "invalid shape %s: sizes must be non-negative", shape);
        }
        if (!overflow && __builtin_mul_overflow(numel, sizes[i], &numel)) overflow = true;
    }
    int64_t nbytes = 0;
    bool has_zero = false;
    for (int i = 0; i < ndim; i++)
        has_zero |= sizes[i] == 0;
    if (has_zero) numel = 0, overflow = false;
    if (overflow || __builtin_mul_overflow(numel, (int64_t)sb_dtype_size(dtype), &nbytes)) {
        char shape[256];
        format_sizes(ndim, sizes, shape, sizeof shape);
        return sb_fail(SB_ERANGE, "invalid shape %s: the number of bytes overflows", shape);
    }
    if (numel_out) *numel_out = numel;
    return SB_OK;
}

void sb_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides)
{
    /* Only a zero-element tensor can overflow here (sb_shape_check bounds the others): its
     * strides address nothing, so they saturate instead of overflowing. */
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        if (__builtin_mul_overflow(stride, sizes[i] > 1 ? sizes[i] : 1, &stride))
            stride = INT64_MAX;
    }
}

#define contiguous_strides sb_contiguous_strides

/* A header over `storage` (retained). Shape and strides already validated. */
static sb_status tensor_header(sb_storage *storage, sb_dtype dtype, int ndim, const int64_t *sizes,
                               const int64_t *strides, int64_t offset, sb_tensor **out)
{
    sb_tensor *t = calloc(1, sizeof *t);
    if (!t) return sb_fail(SB_ENOMEM, "out of memory allocating a tensor header");
    t->storage = storage;
    sb_storage_retain(storage);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->sizes[i] = sizes[i];
        t->strides[i] = strides[i];
    }
    t->offset = offset;
    *out = t;
    return SB_OK;
}

/* ---- creation ---------------------------------------------------------------------- */

sb_status sb_tensor_empty(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out)
{
    int64_t numel = 0;
    SB_TRY(sb_shape_check(ndim, sizes, dtype, &numel));
    sb_storage *storage = NULL;
    SB_TRY(sb_storage_new((size_t)numel * sb_dtype_size(dtype), device, NULL, &storage));
    int64_t strides[SB_MAX_DIMS];
    contiguous_strides(ndim, sizes, strides);
    sb_status st = tensor_header(storage, dtype, ndim, sizes, strides, 0, out);
    sb_storage_release(storage); /* the header holds the only reference now */
    return st;
}

sb_status sb_tensor_empty_like(const sb_tensor *t, sb_tensor **out)
{
    return sb_tensor_empty(t->ndim, t->sizes, t->dtype, sb_tensor_device(t), out);
}

sb_status sb_tensor_zeros(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out)
{
    return sb_tensor_full(ndim, sizes, 0.0, dtype, device, out);
}

sb_status sb_tensor_full(int ndim, const int64_t *sizes, double value, sb_dtype dtype,
                         sb_device device, sb_tensor **out)
{
    sb_tensor *t = NULL;
    SB_TRY(sb_tensor_empty(ndim, sizes, dtype, device, &t));
    sb_status st = sb_tensor_fill_(t, value);
    if (st != SB_OK) {
        sb_tensor_free(t);
        return st;
    }
    *out = t;
    return SB_OK;
}

sb_status sb_tensor_fill_(sb_tensor *t, double value)
{
    const sb_backend *backend = NULL;
    SB_TRY(sb_backend_for(sb_tensor_device(t), &backend));
    if (sb_tensor_numel(t) == 0) return SB_OK;
    sb_tensor_mark_written(t);
    return backend->fill(t, value);
}

sb_status sb_tensor_from_storage(sb_storage *storage, sb_dtype dtype, int ndim,
                                 const int64_t *sizes, const int64_t *strides, int64_t offset,
                                 sb_tensor **out)
{
    int64_t numel = 0;
    SB_TRY(sb_shape_check(ndim, sizes, dtype, &numel));
    if (offset < 0) return sb_fail(SB_ERANGE, "negative storage offset %lld", (long long)offset);
    int64_t last = offset;
    for (int i = 0; i < ndim; i++) {
        if (strides[i] < 0)
            return sb_fail(SB_EINVAL, "negative strides are not supported (stride %lld)",
                           (long long)strides[i]);
        int64_t reach = 0;
        if (numel > 0 && (__builtin_mul_overflow(sizes[i] - 1, strides[i], &reach) ||
                          __builtin_add_overflow(last, reach, &last)))
            return sb_fail(SB_ERANGE, "strides overflow the storage");
    }
    int64_t need = 0;
    size_t elsize = sb_dtype_size(dtype);
    if (numel > 0 && (__builtin_mul_overflow(last + 1, (int64_t)elsize, &need) ||
                      (uint64_t)need > storage->nbytes)) {
        char shape[256];
        format_sizes(ndim, sizes, shape, sizeof shape);
        return sb_fail(SB_ERANGE,
                       "a %s tensor %s at offset %lld reaches past the end of its storage "
                       "(%zu bytes)",
                       sb_dtype_name(dtype), shape, (long long)offset, storage->nbytes);
    }
    return tensor_header(storage, dtype, ndim, sizes, strides, offset, out);
}

void sb_tensor_free(sb_tensor *t)
{
    if (!t) return;
    sb_storage_release(t->storage);
    free(t);
}

/* ---- facts ------------------------------------------------------------------------- */

int64_t sb_tensor_numel(const sb_tensor *t)
{
    /* A zero size first: the product of the others may not fit ([2^40, 2^40, 0]); without
     * one, sb_shape_check made sure it does. */
    for (int i = 0; i < t->ndim; i++)
        if (t->sizes[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->sizes[i];
    return n;
}

bool sb_tensor_is_contiguous(const sb_tensor *t)
{
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->sizes[i] == 0) return true;
        if (t->sizes[i] == 1) continue;
        if (t->strides[i] != expected) return false;
        expected *= t->sizes[i];
    }
    return true;
}

sb_device sb_tensor_device(const sb_tensor *t)
{
    return t->storage->device;
}

void *sb_tensor_data(const sb_tensor *t)
{
    if (!t->storage->data) return NULL;
    return (char *)t->storage->data + t->offset * (int64_t)sb_dtype_size(t->dtype);
}

bool sb_tensor_same_shape(const sb_tensor *a, const sb_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->sizes[i] != b->sizes[i]) return false;
    return true;
}

bool sb_tensor_has_internal_overlap(const sb_tensor *t)
{
    for (int i = 0; i < t->ndim; i++)
        if (t->strides[i] == 0 && t->sizes[i] > 1) return true;
    return false;
}

sb_status sb_tensor_check_writable(const sb_tensor *t)
{
    if (!sb_tensor_has_internal_overlap(t)) return SB_OK;
    char shape[256];
    sb_tensor_format_shape(t, shape, sizeof shape);
    return sb_fail(SB_EINVAL,
                   "the tensor %s written to is an expanded view (several positions share one "
                   "element): clone() it first",
                   shape);
}

void sb_tensor_mark_written(const sb_tensor *t)
{
    if (t->storage) __atomic_add_fetch(&t->storage->version, 1, __ATOMIC_RELEASE);
}

uint64_t sb_tensor_storage_id(const sb_tensor *t)
{
    return t->storage ? t->storage->id : 0;
}

uint64_t sb_tensor_version(const sb_tensor *t)
{
    return t->storage ? __atomic_load_n(&t->storage->version, __ATOMIC_ACQUIRE) : 0;
}

/* ---- views ------------------------------------------------------------------------- */

static sb_status check_dim(const sb_tensor *t, int dim, const char *what)
{
    if (dim < 0 || dim >= t->ndim) {
        char shape[256];
        sb_tensor_format_shape(t, shape, sizeof shape);
        return sb_fail(SB_ERANGE, "%s %d out of range for a %d-D tensor %s (0-based)", what, dim,
                       t->ndim, shape);
    }
    return SB_OK;
}

sb_status sb_tensor_alias(const sb_tensor *t, sb_tensor **out)
{
    return tensor_header(t->storage, t->dtype, t->ndim, t->sizes, t->strides, t->offset, out);
}

/* Resolves one -1 in `sizes` against numel; writes the final sizes to `resolved`. */
static sb_status infer_sizes(const sb_tensor *t, int ndim, const int64_t *sizes, int64_t *resolved)
{
    if (ndim < 0 || ndim > SB_MAX_DIMS)
        return sb_fail(SB_EINVAL, "a tensor has at most %d dims, got %d", SB_MAX_DIMS, ndim);
    int infer = -1;
    int64_t known = 1;
    char shape[256], from[256];
    for (int i = 0; i < ndim; i++) {
        resolved[i] = sizes[i];
        if (sizes[i] == -1) {
            if (infer >= 0) {
                format_sizes(ndim, sizes, shape, sizeof shape);
                return sb_fail(SB_EINVAL, "shape %s has more than one -1", shape);
            }
            infer = i;
        } else if (sizes[i] < 0) {
            format_sizes(ndim, sizes, shape, sizeof shape);
            return sb_fail(SB_ERANGE, "invalid shape %s: sizes must be non-negative or -1", shape);
        } else if (__builtin_mul_overflow(known, sizes[i], &known)) {
            format_sizes(ndim, sizes, shape, sizeof shape);
            return sb_fail(SB_ERANGE, "invalid shape %s: the number of elements overflows", shape);
        }
    }
    int64_t numel = sb_tensor_numel(t);
    /* A -1 next to a 0 could be any size: refused, as PyTorch does. */
    bool fits = infer >= 0 ? known != 0 && numel % known == 0 : known == numel;
    if (!fits) {
        format_sizes(ndim, sizes, shape, sizeof shape);
        sb_tensor_format_shape(t, from, sizeof from);
        return sb_fail(SB_EINVAL, "shape %s is invalid for a tensor %s of %lld elements", shape,
                       from, (long long)numel);
    }
    if (infer >= 0) resolved[infer] = numel / known;
    return SB_OK;
}

/* PyTorch's computeStride: the strides that view t's elements with the new sizes without
 * copying, or false when the memory layout does not allow it. */
static bool view_strides(const sb_tensor *t, int ndim, const int64_t *sizes, int64_t *strides)
{
    int64_t numel = sb_tensor_numel(t);
    if (numel == 0 || t->ndim == 0) {
        contiguous_strides(ndim, sizes, strides);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_base_stride = t->strides[t->ndim - 1];
    int64_t tensor_numel = 1, view_numel = 1;
    for (int tensor_d = t->ndim - 1; tensor_d >= 0; tensor_d--) {
        tensor_numel *= t->sizes[tensor_d];
        if (tensor_d == 0 || (t->sizes[tensor_d - 1] != 1 &&
                              t->strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
            while (view_d >= 0 && (view_numel < tensor_numel || sizes[view_d] == 1)) {
                strides[view_d] = view_numel * chunk_base_stride;
                view_numel *= sizes[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (tensor_d > 0) {
                chunk_base_stride = t->strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

sb_status sb_tensor_view(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out)
{
    int64_t resolved[SB_MAX_DIMS], strides[SB_MAX_DIMS];
    SB_TRY(infer_sizes(t, ndim, sizes, resolved));
    if (!view_strides(t, ndim, resolved, strides)) {
        char shape[256], from[256];
        format_sizes(ndim, resolved, shape, sizeof shape);
        sb_tensor_format_shape(t, from, sizeof from);
        return sb_fail(SB_EINVAL,
                       "cannot view a non-contiguous tensor %s as %s (use reshape, or "
                       "contiguous() first)",
                       from, shape);
    }
    return tensor_header(t->storage, t->dtype, ndim, resolved, strides, t->offset, out);
}

sb_status sb_tensor_reshape(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out)
{
    int64_t resolved[SB_MAX_DIMS], strides[SB_MAX_DIMS];
    SB_TRY(infer_sizes(t, ndim, sizes, resolved));
    if (view_strides(t, ndim, resolved, strides))
        return tensor_header(t->storage, t->dtype, ndim, resolved, strides, t->offset, out);
    sb_tensor *copy = NULL;
    SB_TRY(sb_tensor_clone(t, &copy));
    sb_status st = sb_tensor_view(copy, ndim, resolved, out);
    sb_tensor_free(copy);
    return st;
}

sb_status sb_tensor_narrow(const sb_tensor *t, int dim, int64_t start, int64_t length,
                           sb_tensor **out)
{
    SB_TRY(check_dim(t, dim, "dim"));
    int64_t size = t->sizes[dim];
    if (start < 0 || length < 0 || start > size || length > size - start)
        return sb_fail(SB_ERANGE,
                       "range start %lld length %lld is out of bounds for dim %d of size %lld "
                       "(0-based)",
                       (long long)start, (long long)length, dim, (long long)size);
    sb_tensor *v = NULL;
    SB_TRY(sb_tensor_alias(t, &v));
    v->sizes[dim] = length;
    if (length > 0) v->offset += start * t->strides[dim];
    *out = v;
    return SB_OK;
}

sb_status sb_tensor_select(const sb_tensor *t, int dim, int64_t index, sb_tensor **out)
{
    SB_TRY(check_dim(t, dim, "dim"));
    if (index < 0 || index >= t->sizes[dim])
        return sb_fail(SB_ERANGE, "index %lld is out of range for dim %d of size %lld (0-based)",
                       (long long)index, dim, (long long)t->sizes[dim]);
    sb_tensor *v = NULL;
    SB_TRY(sb_tensor_alias(t, &v));
    v->offset += index * t->strides[dim];
    for (int i = dim; i < t->ndim - 1; i++) {
        v->sizes[i] = t->sizes[i + 1];
        v->strides[i] = t->strides[i + 1];
    }
    v->ndim = t->ndim - 1;
    *out = v;
    return SB_OK;
}

sb_status sb_tensor_transpose(const sb_tensor *t, int dim0, int dim1, sb_tensor **out)
{
    SB_TRY(check_dim(t, dim0, "dim0"));
    SB_TRY(check_dim(t, dim1, "dim1"));
    sb_tensor *v = NULL;
    SB_TRY(sb_tensor_alias(t, &v));
    v->sizes[dim0] = t->sizes[dim1];
    v->strides[dim0] = t->strides[dim1];
    v->sizes[dim1] = t->sizes[dim0];
    v->strides[dim1] = t->strides[dim0];
    *out = v;
    return SB_OK;
}

sb_status sb_tensor_permute(const sb_tensor *t, const int *dims, sb_tensor **out)
{
    bool seen[SB_MAX_DIMS] = {false};
    for (int i = 0; i < t->ndim; i++) {
        if (dims[i] < 0 || dims[i] >= t->ndim || seen[dims[i]]) {
            char shape[256];
            sb_tensor_format_shape(t, shape, sizeof shape);
            return sb_fail(SB_EINVAL,
                           "dims must be a permutation of the %d dims of a tensor %s (dim %d "
                           "is %s)",
                           t->ndim, shape, dims[i],
                           dims[i] < 0 || dims[i] >= t->ndim ? "out of range" : "repeated");
        }
        seen[dims[i]] = true;
    }
    sb_tensor *v = NULL;
    SB_TRY(sb_tensor_alias(t, &v));
    for (int i = 0; i < t->ndim; i++) {
        v->sizes[i] = t->sizes[dims[i]];
        v->strides[i] = t->strides[dims[i]];
    }
    *out = v;
    return SB_OK;
}

/* "cannot expand a tensor [from] to [sizes]: why", the one message of every expand failure. */
static sb_status expand_fail(const sb_tensor *t, int ndim, const int64_t *sizes, const char *why)
{
    char shape[256], from[256];
    format_sizes(ndim, sizes, shape, sizeof shape);
    sb_tensor_format_shape(t, from, sizeof from);
    return sb_fail(SB_EINVAL, "cannot expand a tensor %s to %s: %s", from, shape, why);
}

sb_status sb_tensor_expand(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out)
{
    if (ndim < t->ndim || ndim > SB_MAX_DIMS)
        return expand_fail(t, ndim, sizes,
                           ndim > SB_MAX_DIMS ? "too many dims" : "fewer dims than the tensor");
    int64_t new_sizes[SB_MAX_DIMS], new_strides[SB_MAX_DIMS];
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int src = i - lead;
        int64_t want = sizes[i];
        if (src < 0) {
            if (want < 0)
                return expand_fail(t, ndim, sizes, "new leading dims need a non-negative size");
            new_sizes[i] = want;
            new_strides[i] = 0;
            continue;
        }
        int64_t have = t->sizes[src];
        if (want == -1 || want == have) {
            new_sizes[i] = have;
            new_strides[i] = t->strides[src];
        } else if (have == 1 && want >= 0) {
            new_sizes[i] = want;
            new_strides[i] = 0;
        } else {
            char why[96];
            snprintf(why, sizeof why, "a size %lld can only expand from a size 1, got %lld",
                     (long long)want, (long long)have);
            return expand_fail(t, ndim, sizes, why);
        }
    }
    SB_TRY(sb_shape_check(ndim, new_sizes, t->dtype, NULL));
    return tensor_header(t->storage, t->dtype, ndim, new_sizes, new_strides, t->offset, out);
}

sb_status sb_tensor_unsqueeze(const sb_tensor *t, int dim, sb_tensor **out)
{
    if (dim < 0 || dim > t->ndim || t->ndim >= SB_MAX_DIMS)
        return sb_fail(SB_ERANGE, "unsqueeze dim %d out of range for a %d-D tensor (0-based)", dim,
                       t->ndim);
    sb_tensor *v = NULL;
    SB_TRY(sb_tensor_alias(t, &v));
    for (int i = t->ndim; i > dim; i--) {
        v->sizes[i] = t->sizes[i - 1];
        v->strides[i] = t->strides[i - 1];
    }
    v->sizes[dim] = 1;
    v->strides[dim] = dim < t->ndim ? t->sizes[dim] * t->strides[dim] : 1;
    v->ndim = t->ndim + 1;
    *out = v;
    return SB_OK;
}

/* ---- copies ------------------------------------------------------------------------- */

sb_status sb_tensor_contiguous(const sb_tensor *t, sb_tensor **out)
{
    if (sb_tensor_is_contiguous(t)) return sb_tensor_alias(t, out);
    return sb_tensor_clone(t, out);
}

sb_status sb_tensor_clone(const sb_tensor *t, sb_tensor **out)
{
    sb_tensor *c = NULL;
    SB_TRY(sb_tensor_empty_like(t, &c));
    sb_status st = sb_tensor_copy_(c, t);
    if (st != SB_OK) {
        sb_tensor_free(c);
        return st;
    }
    *out = c;
    return SB_OK;
}

static bool may_overlap(const sb_tensor *dst, const sb_tensor *src)
{
    if (dst->storage != src->storage) return false;
    /* Exactly the same elements in the same order is a harmless self-copy. */
    if (dst->offset == src->offset && sb_tensor_same_shape(dst, src)) {
        bool same = true;
        for (int i = 0; i < dst->ndim; i++)
            same &= dst->strides[i] == src->strides[i];
        if (same) return false;
    }
    return true;
}

sb_status sb_tensor_copy_(sb_tensor *dst, const sb_tensor *src)
{
    SB_TRY(sb_tensor_check_writable(dst));
    sb_tensor_mark_written(dst);
    sb_tensor *expanded = NULL;
    if (!sb_tensor_same_shape(dst, src)) {
        if (sb_tensor_expand(src, dst->ndim, dst->sizes, &expanded) != SB_OK) {
            char a[256], b[256];
            sb_tensor_format_shape(src, a, sizeof a);
            sb_tensor_format_shape(dst, b, sizeof b);
            return sb_fail(SB_EINVAL, "cannot broadcast the source %s to the destination %s", a, b);
        }
        src = expanded;
    }
    sb_status st = SB_OK;
    sb_device dd = sb_tensor_device(dst), sd = sb_tensor_device(src);
    if (sb_tensor_numel(dst) == 0) goto done;
    if (sb_device_equal(dd, sd)) {
        const sb_backend *backend = NULL;
        st = sb_backend_for(dd, &backend);
        if (st != SB_OK) goto done;
        if (may_overlap(dst, src)) {
            /* The source would be overwritten while it is read: stage it. */
            sb_tensor *staged = NULL;
            st = sb_tensor_empty(src->ndim, src->sizes, src->dtype, sd, &staged);
            if (st == SB_OK) st = backend->copy(staged, src);
            if (st == SB_OK) st = backend->copy(dst, staged);
            sb_tensor_free(staged);
        } else {
            st = backend->copy(dst, src);
        }
        goto done;
    }
    /* Across devices the backend is the non-CPU side's, and it is handed one contiguous
     * same-dtype pair: convert and compact on the source device, transfer, then scatter
     * on the destination device when dst is strided. */
    {
        const sb_backend *backend = NULL;
        st = sb_backend_for(dd.kind != SB_DEVICE_CPU ? dd : sd, &backend);
        if (st != SB_OK) goto done;
        if (dd.kind != SB_DEVICE_CPU && sd.kind != SB_DEVICE_CPU) {
            /* Between two GPUs: through the host, simple and rare. */
            sb_tensor *host = NULL;
            st = sb_tensor_to_device(src, SB_CPU, &host);
            if (st == SB_OK) st = sb_tensor_copy_(dst, host);
            sb_tensor_free(host);
            goto done;
        }
        sb_tensor *staged_src = NULL, *staged_dst = NULL;
        if (src->dtype == dst->dtype && sb_tensor_is_contiguous(src)) {
            st = sb_tensor_alias(src, &staged_src);
        } else {
            st = sb_tensor_empty(dst->ndim, dst->sizes, dst->dtype, sd, &staged_src);
            if (st == SB_OK) st = sb_tensor_copy_(staged_src, src);
        }
        if (st == SB_OK) {
            if (sb_tensor_is_contiguous(dst))
                st = backend->copy(dst, staged_src);
            else {
                st = sb_tensor_empty(dst->ndim, dst->sizes, dst->dtype, dd, &staged_dst);
                if (st == SB_OK) st = backend->copy(staged_dst, staged_src);
                if (st == SB_OK) st = sb_tensor_copy_(dst, staged_dst);
            }
        }
        sb_tensor_free(staged_src);
        sb_tensor_free(staged_dst);
    }
done:
    sb_tensor_free(expanded);
    return st;
}

sb_status sb_tensor_to_dtype(const sb_tensor *t, sb_dtype dtype, sb_tensor **out)
{
    if ((unsigned)dtype >= SB_DTYPE_COUNT) return sb_fail(SB_EINVAL, "invalid dtype %d", dtype);
    if (t->dtype == dtype) return sb_tensor_alias(t, out);
    sb_tensor *c = NULL;
    SB_TRY(sb_tensor_empty(t->ndim, t->sizes, dtype, sb_tensor_device(t), &c));
    sb_status st = sb_tensor_copy_(c, t);
    if (st != SB_OK) {
        sb_tensor_free(c);
        return st;
    }
    *out = c;
    return SB_OK;
}

sb_status sb_tensor_to_device(const sb_tensor *t, sb_device device, sb_tensor **out)
{
    if (sb_device_equal(sb_tensor_device(t), device)) return sb_tensor_alias(t, out);
    sb_tensor *c = NULL;
    SB_TRY(sb_tensor_empty(t->ndim, t->sizes, t->dtype, device, &c));
    sb_status st = sb_tensor_copy_(c, t);
    if (st != SB_OK) {
        sb_tensor_free(c);
        return st;
    }
    *out = c;
    return SB_OK;
}

/* ---- element access ------------------------------------------------------------------ */

static sb_status element_address(const sb_tensor *t, const int64_t *index, void **addr)
{
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        return sb_fail(SB_EDEVICE, "element access needs a CPU tensor (use :cpu() first)");
    int64_t offset = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->sizes[i])
            return sb_fail(SB_ERANGE,
                           "index %lld is out of range for dim %d of size %lld "
                           "(0-based)",
                           (long long)index[i], i, (long long)t->sizes[i]);
        offset += index[i] * t->strides[i];
    }
    *addr = (char *)t->storage->data + offset * (int64_t)sb_dtype_size(t->dtype);
    return SB_OK;
}

sb_status sb_tensor_get(const sb_tensor *t, const int64_t *index, double *value)
{
    void *p = NULL;
    SB_TRY(element_address(t, index, &p));
    *value = sb_load_double(p, t->dtype);
    return SB_OK;
}

sb_status sb_tensor_set(sb_tensor *t, const int64_t *index, double value)
{
    void *p = NULL;
    SB_TRY(element_address(t, index, &p));
    sb_store_double(p, t->dtype, value);
    return SB_OK;
}
