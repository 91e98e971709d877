/* The tensor core: dtypes, devices, refcounted storage and strided tensors.
 *
 * Torch7's TH split: a Storage is refcounted bytes plus the allocator that owns them;
 * a Tensor is (dtype, sizes, strides, offset) over a storage, so views share bytes.
 * No Lua here. Dimensions and indices in this C API are 0-based; the Lua binding
 * (engine/bindings/l_tensor.c) converts from Lua's 1-based convention.
 *
 * Ownership: every function that produces a tensor writes a new heap `sb_tensor *`
 * to `*out`, which the caller frees with sb_tensor_free(). Views retain the storage.
 * On failure nothing is written to `*out` and the message is in sb_error_message(). */
#ifndef SB_TENSOR_TENSOR_H
#define SB_TENSOR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/allocator.h" /* sb_allocator, sb_device */
#include "core/error.h"

#define SB_MAX_DIMS 8

typedef enum sb_dtype {
    SB_FLOAT32 = 0,
    SB_FLOAT64,
    SB_INT64,
    SB_INT32,
    SB_UINT8,
    SB_FLOAT16,  /* storage type on CUDA; compute in fp32 */
    SB_BFLOAT16, /* storage type on CUDA; compute in fp32 */
    SB_DTYPE_COUNT
} sb_dtype;

size_t sb_dtype_size(sb_dtype dtype);
const char *sb_dtype_name(sb_dtype dtype); /* "float32", ... */
bool sb_dtype_is_floating(sb_dtype dtype);
/* Accepts PyTorch's names and aliases: "float32"/"float", "float64"/"double", "int64"/"long",
 * "int32"/"int", "uint8"/"byte", "float16"/"half", "bfloat16". */
sb_status sb_dtype_from_name(const char *name, sb_dtype *out);
/* Type promotion of two operands, as PyTorch: float beats int, wider beats narrower. */
sb_dtype sb_dtype_promote(sb_dtype a, sb_dtype b);

/* "cpu", "cuda", "cuda:N". Does not check that the device exists. */
sb_status sb_device_parse(const char *text, sb_device *out);
/* Writes "cpu" or "cuda:N". */
void sb_device_format(sb_device device, char *buf, size_t bufsize);
bool sb_device_equal(sb_device a, sb_device b);

/* 64-byte aligned host memory; counts into the engine's CPU memory statistics. */
const sb_allocator *sb_cpu_allocator(void);

/* Bytes of tensor storage currently allocated on the host by sb_cpu_allocator, and the
 * peak since the last reset. Feeds "Max Memory Allocated (Total)" on CPU and lets the
 * Lua binding tell the GC about native memory. */
size_t sb_cpu_memory_allocated(void);
size_t sb_cpu_memory_peak(void);
void sb_cpu_memory_reset_peak(void);
/* Freed blocks of 1 MiB and more are kept (up to 512 MiB) for reuse by the next tensor of
 * the same size: bytes held that way, and a function that gives them back. */
size_t sb_cpu_memory_cached(void);
void sb_cpu_empty_cache(void);

typedef struct sb_storage {
    int refcount; /* atomically updated */
    void *data;
    size_t nbytes;
    sb_device device;
    const sb_allocator *allocator; /* NULL when `release` owns the bytes */
    /* Foreign memory (an mmap'd safetensors file, a Lua string's bytes kept alive...). */
    void (*release)(void *release_ctx, void *data, size_t nbytes);
    void *release_ctx;
    /* A process-unique number given at creation (never reused, unlike the address), and a
     * counter that every in-place write through the tensor API bumps (fill_, copy_, the
     * in-place arithmetic): together they say whether bytes derived from this storage (the
     * nn CPU kernels' folded and reordered weights) are still current. Plain integers
     * updated with the GCC __atomic builtins, as refcount. */
    uint64_t id;
    uint64_t version;
} sb_storage;

/* allocator NULL = the default for the device (CPU allocator, or the CUDA caching one). */
sb_status sb_storage_new(size_t nbytes, sb_device device, const sb_allocator *allocator,
                         sb_storage **out);
sb_status sb_storage_wrap(void *data, size_t nbytes, sb_device device,
                          void (*release)(void *release_ctx, void *data, size_t nbytes),
                          void *release_ctx, sb_storage **out);
void sb_storage_retain(sb_storage *storage);
void sb_storage_release(sb_storage *storage); /* frees at refcount 0; NULL is a no-op */

typedef struct sb_tensor {
    sb_storage *storage;
    sb_dtype dtype;
    int ndim; /* 0 = scalar */
    int64_t sizes[SB_MAX_DIMS];
    int64_t strides[SB_MAX_DIMS]; /* in elements */
    int64_t offset;               /* in elements, into storage */
} sb_tensor;

/* --- creation ---------------------------------------------------------------------- */
sb_status sb_tensor_empty(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out);
sb_status sb_tensor_zeros(int ndim, const int64_t *sizes, sb_dtype dtype, sb_device device,
                          sb_tensor **out);
/* A tensor over an existing storage (retained). Checks that every element is in bounds. */
sb_status sb_tensor_from_storage(sb_storage *storage, sb_dtype dtype, int ndim,
                                 const int64_t *sizes, const int64_t *strides, int64_t offset,
                                 sb_tensor **out);
void sb_tensor_free(sb_tensor *t); /* NULL is a no-op */
/* Same shape, dtype and device as t, contiguous, uninitialised. */
sb_status sb_tensor_empty_like(const sb_tensor *t, sb_tensor **out);
/* Every element = value, converted to an integer dtype as tensor/int_convert.h says
 * (saturate to int64, then wrap: -1 -> uint8 255), the same on every backend. */
sb_status sb_tensor_full(int ndim, const int64_t *sizes, double value, sb_dtype dtype,
                         sb_device device, sb_tensor **out);
sb_status sb_tensor_fill_(sb_tensor *t, double value);
/* Checks a shape: 0..SB_MAX_DIMS dims, sizes >= 0, element and byte counts that fit in
 * int64 (SB_ERANGE otherwise). numel_out may be NULL. */
sb_status sb_shape_check(int ndim, const int64_t *sizes, sb_dtype dtype, int64_t *numel_out);
/* Row-major strides (in elements) for `sizes`, sizes of 0 and 1 counting as 1 as in PyTorch;
 * saturating at INT64_MAX for a zero-element tensor whose other sizes would overflow. */
void sb_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides);
/* "[2, 3, 4]" */
void sb_shape_format(int ndim, const int64_t *sizes, char *buf, size_t bufsize);

/* --- facts ------------------------------------------------------------------------- */
int64_t sb_tensor_numel(const sb_tensor *t);
bool sb_tensor_is_contiguous(const sb_tensor *t);
sb_device sb_tensor_device(const sb_tensor *t);
/* Address of the first element (storage data + offset * element size). */
void *sb_tensor_data(const sb_tensor *t);
/* "[2, 3, 4]" */
void sb_tensor_format_shape(const sb_tensor *t, char *buf, size_t bufsize);
/* The same as a value, for messages: sb_fail(..., "%s", sb_tensor_shape_text(t).s). */
typedef struct sb_shape_text {
    char s[256];
} sb_shape_text;
sb_shape_text sb_tensor_shape_text(const sb_tensor *t);
bool sb_tensor_same_shape(const sb_tensor *a, const sb_tensor *b);
/* True when two positions of t share one element (a stride-0 dim of size > 1, as made by
 * expand): such a tensor cannot be written elementwise. */
bool sb_tensor_has_internal_overlap(const sb_tensor *t);
/* SB_EINVAL with a message when t cannot be written elementwise (see above). */
sb_status sb_tensor_check_writable(const sb_tensor *t);
/* Records that t's bytes are about to change (bumps its storage's version); every in-place
 * write of the tensor API calls it. Code that writes into an existing tensor's data behind
 * the API's back must call it too. */
void sb_tensor_mark_written(const sb_tensor *t);
/* The storage's (id, version): equal pairs mean the same unchanged bytes. */
uint64_t sb_tensor_storage_id(const sb_tensor *t);
uint64_t sb_tensor_version(const sb_tensor *t);

/* --- views (share storage) ----------------------------------------------------------- */
/* An alias: same storage, shape, strides. */
sb_status sb_tensor_alias(const sb_tensor *t, sb_tensor **out);
/* sizes may hold one -1 (inferred). Fails when strides do not allow a view. */
sb_status sb_tensor_view(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out);
/* A view when possible, else a contiguous copy. */
sb_status sb_tensor_reshape(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out);
sb_status sb_tensor_narrow(const sb_tensor *t, int dim, int64_t start, int64_t length,
                           sb_tensor **out);
sb_status sb_tensor_select(const sb_tensor *t, int dim, int64_t index, sb_tensor **out);
sb_status sb_tensor_transpose(const sb_tensor *t, int dim0, int dim1, sb_tensor **out);
sb_status sb_tensor_permute(const sb_tensor *t, const int *dims, sb_tensor **out);
/* Broadcast to `sizes` (size-1 dims get stride 0; new leading dims are added). */
sb_status sb_tensor_expand(const sb_tensor *t, int ndim, const int64_t *sizes, sb_tensor **out);
/* A size-1 dim inserted before `dim` (0 <= dim <= ndim). */
sb_status sb_tensor_unsqueeze(const sb_tensor *t, int dim, sb_tensor **out);

/* --- copies ------------------------------------------------------------------------ */
/* An alias when already contiguous, else a contiguous copy on the same device. */
sb_status sb_tensor_contiguous(const sb_tensor *t, sb_tensor **out);
sb_status sb_tensor_clone(const sb_tensor *t, sb_tensor **out);
/* dst[...] = src, broadcasting src to dst's shape, converting dtype, across devices. */
sb_status sb_tensor_copy_(sb_tensor *dst, const sb_tensor *src);
sb_status sb_tensor_to_dtype(const sb_tensor *t, sb_dtype dtype, sb_tensor **out);
sb_status sb_tensor_to_device(const sb_tensor *t, sb_device device, sb_tensor **out);

/* Element access as double (CPU only): `index` has t->ndim entries, 0-based. */
sb_status sb_tensor_get(const sb_tensor *t, const int64_t *index, double *value);
sb_status sb_tensor_set(sb_tensor *t, const int64_t *index, double value);

/* PyTorch-like text of a tensor ("tensor([[1., 2.],\n        [3., 4.]])"), summarised with
 * "..." when it has more than 1000 elements. Works for any device (copies to the host).
 * *out is a malloc'ed string the caller frees. */
sb_status sb_tensor_format(const sb_tensor *t, char **out);

#endif
