#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sb_sample_spec_numel(const sb_sample_spec *spec)
{
    size_t n = 1;
    for (int i = 0; i < spec->ndim; i++)
        n *= (size_t)spec->sizes[i];
    return n;
}

size_t sb_sample_spec_nbytes(const sb_sample_spec *spec)
{
    return sb_sample_spec_numel(spec) * sb_dtype_size(spec->dtype);
}

void sb_sample_spec_format(const sb_sample_spec *spec, char *buf, size_t bufsize)
{
    int n = snprintf(buf, bufsize, "%s [", sb_dtype_name(spec->dtype));
    for (int i = 0; i < spec->ndim && n > 0 && (size_t)n < bufsize; i++)
        n += snprintf(buf + n, bufsize - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)spec->sizes[i]);
    if (n > 0 && (size_t)n < bufsize) snprintf(buf + n, bufsize - (size_t)n, "]");
}

void sb_sample_buf_free(sb_sample_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->capacity = 0;
}

void sb_dataset_retain(sb_dataset *ds)
{
    __atomic_add_fetch(&ds->refcount, 1, __ATOMIC_RELAXED);
}

void sb_dataset_release(sb_dataset *ds)
{
    if (!ds) return;
    if (__atomic_sub_fetch(&ds->refcount, 1, __ATOMIC_ACQ_REL) == 0) {
        ds->ops->destroy(ds);
        free(ds);
    }
}

typedef struct array_impl {
    const uint8_t *inputs, *targets;
    size_t input_bytes, target_bytes;
    void (*release)(void *ctx);
    void *ctx;
} array_impl;

static sb_status array_get(const sb_dataset *ds, int64_t index, const void **input,
                           const void **target, void *scratch)
{
    (void)scratch;
    const array_impl *a = ds->impl;
    *input = a->inputs + (size_t)index * a->input_bytes;
    *target = a->targets ? a->targets + (size_t)index * a->target_bytes : NULL;
    return SB_OK;
}

static void array_destroy(sb_dataset *ds)
{
    array_impl *a = ds->impl;
    if (a->release) a->release(a->ctx);
    free(a);
}

static const sb_dataset_ops array_ops = {array_get, array_destroy, NULL};

sb_status sb_array_dataset_new(const char *name, int64_t length, const sb_sample_spec *input_spec,
                               const void *inputs, const sb_sample_spec *target_spec,
                               const void *targets, void (*release)(void *ctx), void *ctx,
                               sb_dataset **out)
{
    sb_dataset *ds = calloc(1, sizeof *ds);
    array_impl *a = calloc(1, sizeof *a);
    if (!ds || !a) {
        free(ds);
        free(a);
        return sb_fail(SB_ENOMEM, "cannot allocate a dataset");
    }
    a->inputs = inputs;
    a->targets = targets;
    a->input_bytes = sb_sample_spec_nbytes(input_spec);
    a->target_bytes = targets ? sb_sample_spec_nbytes(target_spec) : 0;
    a->release = release;
    a->ctx = ctx;
    ds->ops = &array_ops;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->length = length;
    ds->input = *input_spec;
    if (targets) ds->target = *target_spec;
    ds->has_target = targets != NULL;
    ds->refcount = 1;
    ds->impl = a;
    *out = ds;
    return SB_OK;
}

void sb_data_blocks_free(void *blocks)
{
    sb_data_blocks *b = blocks;
    if (!b) return;
    free(b->inputs);
    free(b->labels);
    free(b);
}

typedef struct tensor_pair {
    sb_tensor *input, *target;
} tensor_pair;

static void tensor_pair_free(void *ctx)
{
    tensor_pair *p = ctx;
    sb_tensor_free(p->input);
    sb_tensor_free(p->target);
    free(p);
}

static sb_status sample_spec_of(const char *what, const sb_tensor *t, sb_sample_spec *spec)
{
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        return sb_fail(SB_EINVAL, "TensorDataset: %s must be on the CPU (call :cpu() first)", what);
    if (t->ndim < 1)
        return sb_fail(SB_EINVAL,
                       "TensorDataset: %s must have a first (sample) dimension, got a scalar",
                       what);
    spec->dtype = t->dtype;
    spec->ndim = t->ndim - 1;
    for (int i = 1; i < t->ndim; i++)
        spec->sizes[i - 1] = t->sizes[i];
    return SB_OK;
}

sb_status sb_tensor_dataset_new(const sb_tensor *input, const sb_tensor *target, sb_dataset **out)
{
    sb_sample_spec ispec, tspec = {SB_INT64, 0, {0}};
    SB_TRY(sample_spec_of("input", input, &ispec));
    if (target) {
        SB_TRY(sample_spec_of("target", target, &tspec));
        if (target->sizes[0] != input->sizes[0])
            return sb_fail(SB_EINVAL,
                           "TensorDataset: input has %lld samples but target has %lld (first "
                           "dimensions must agree)",
                           (long long)input->sizes[0], (long long)target->sizes[0]);
    }
    tensor_pair *p = calloc(1, sizeof *p);
    if (!p) return sb_fail(SB_ENOMEM, "cannot allocate a TensorDataset");
    sb_status s = sb_tensor_contiguous(input, &p->input);
    if (s == SB_OK && target) s = sb_tensor_contiguous(target, &p->target);
    if (s == SB_OK)
        s = sb_array_dataset_new("TensorDataset", input->sizes[0], &ispec, sb_tensor_data(p->input),
                                 &tspec, p->target ? sb_tensor_data(p->target) : NULL,
                                 tensor_pair_free, p, out);
    if (s != SB_OK) tensor_pair_free(p);
    return s;
}
