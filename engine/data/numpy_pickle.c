#include "data/numpy_pickle.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDARRAY_TYPE "numpy.ndarray"
#define DTYPE_TYPE "numpy.dtype"

static bool is_text(const sb_pickle_value *v, const char *s)
{
    return v && (v->kind == SB_PICKLE_STR || v->kind == SB_PICKLE_BYTES) &&
           v->u.str.len == strlen(s) && memcmp(v->u.str.data, s, v->u.str.len) == 0;
}

static bool is_global(const sb_pickle_value *v, const char *module, const char *name)
{
    return v && v->kind == SB_PICKLE_GLOBAL && strcmp(v->u.global->module, module) == 0 &&
           strcmp(v->u.global->name, name) == 0;
}

/* _reconstruct(numpy.ndarray, (0,), b"b"): an empty array that BUILD fills. */
static sb_status reconstruct(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                             sb_pickle_value *args, sb_pickle_value **out)
{
    (void)self;
    if (args->u.seq.len < 1 || !is_global(args->u.seq.items[0], "numpy", "ndarray"))
        return sb_fail(SB_EFORMAT, "'%s': _reconstruct of something other than numpy.ndarray",
                       (const char *)ctx);
    sb_numpy_array *a = calloc(1, sizeof *a);
    if (!a) return sb_fail(SB_ENOMEM, "'%s': out of memory", (const char *)ctx);
    *out = sb_pickle_new_object(p, NDARRAY_TYPE, a, free);
    return *out ? SB_OK : SB_ENOMEM;
}

/* numpy.dtype("u1", False, True): its name; BUILD's state (byte order, ...) matters not for
 * one-byte types, the only ones accepted. */
static sb_status dtype(sb_pickle *p, void *ctx, const sb_pickle_global *self, sb_pickle_value *args,
                       sb_pickle_value **out)
{
    (void)self;
    const sb_pickle_value *name = args->u.seq.len ? args->u.seq.items[0] : NULL;
    if (!name || (name->kind != SB_PICKLE_STR && name->kind != SB_PICKLE_BYTES) ||
        name->u.str.len >= sizeof((sb_numpy_array *)0)->dtype)
        return sb_fail(SB_EFORMAT, "'%s': numpy.dtype without a type name", (const char *)ctx);
    char *copy = malloc(name->u.str.len + 1);
    if (!copy) return sb_fail(SB_ENOMEM, "'%s': out of memory", (const char *)ctx);
    memcpy(copy, name->u.str.data, name->u.str.len + 1);
    *out = sb_pickle_new_object(p, DTYPE_TYPE, copy, free);
    return *out ? SB_OK : SB_ENOMEM;
}

static sb_status dtype_state(sb_pickle *p, void *ctx, sb_pickle_value *obj, sb_pickle_value *state)
{
    (void)p, (void)ctx, (void)obj, (void)state;
    return SB_OK;
}

/* _codecs.encode(text, "latin1"): the text's code points 0..255 as bytes. */
static sb_status encode_latin1(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                               sb_pickle_value *args, sb_pickle_value **out)
{
    (void)self;
    const char *what = ctx;
    if (args->u.seq.len != 2 || args->u.seq.items[0]->kind != SB_PICKLE_STR ||
        !is_text(args->u.seq.items[1], "latin1"))
        return sb_fail(SB_EFORMAT,
                       "'%s': _codecs.encode is accepted only as encode(text, 'latin1')", what);
    const sb_pickle_value *t = args->u.seq.items[0];
    const uint8_t *s = (const uint8_t *)t->u.str.data;
    uint8_t *bytes = malloc(t->u.str.len + 1);
    if (!bytes) return sb_fail(SB_ENOMEM, "'%s': out of memory", what);
    size_t n = 0;
    for (size_t i = 0; i < t->u.str.len;) { /* UTF-8 code points 0..255 -> bytes */
        if (s[i] < 0x80) {
            bytes[n++] = s[i++];
        } else if ((s[i] & 0xE0) == 0xC0 && s[i] <= 0xC3 && i + 1 < t->u.str.len) {
            bytes[n++] = (uint8_t)(((s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F));
            i += 2;
        } else {
            free(bytes);
            return sb_fail(SB_EFORMAT, "'%s': _codecs.encode of text outside latin-1", what);
        }
    }
    *out = sb_pickle_new_bytes(p, bytes, n);
    free(bytes);
    return *out ? SB_OK : SB_ENOMEM;
}

/* BUILD of an array: (version, shape, dtype, is_fortran, raw data). */
static sb_status array_state(sb_pickle *p, void *ctx, sb_pickle_value *obj, sb_pickle_value *state)
{
    (void)p;
    const char *what = ctx;
    sb_numpy_array *a = obj->u.object.ptr;
    if (state->kind != SB_PICKLE_TUPLE || state->u.seq.len != 5)
        return sb_fail(SB_EFORMAT, "'%s': a numpy array with an unsupported state", what);
    sb_pickle_value **item = state->u.seq.items;
    const sb_pickle_value *shape = item[1], *type = item[2], *data = item[4];
    if (shape->kind != SB_PICKLE_TUPLE || shape->u.seq.len > 8 ||
        !sb_pickle_is_object(type, DTYPE_TYPE) ||
        (data->kind != SB_PICKLE_BYTES && data->kind != SB_PICKLE_STR))
        return sb_fail(SB_EFORMAT,
                       "'%s': a numpy array with an unsupported state (object arrays are refused)",
                       what);
    if (item[3]->kind == SB_PICKLE_BOOL && item[3]->u.b)
        return sb_fail(SB_EFORMAT, "'%s': Fortran-ordered numpy arrays are not supported", what);
    size_t count = 1;
    a->ndim = (int)shape->u.seq.len;
    for (int i = 0; i < a->ndim; i++) {
        const sb_pickle_value *d = shape->u.seq.items[i];
        if (d->kind != SB_PICKLE_INT || d->u.i < 0 || (d->u.i && count > SIZE_MAX / (size_t)d->u.i))
            return sb_fail(SB_EFORMAT, "'%s': a numpy array with a bad shape", what);
        a->shape[i] = d->u.i;
        count *= (size_t)d->u.i;
    }
    snprintf(a->dtype, sizeof a->dtype, "%s", (const char *)type->u.object.ptr);
    if (strcmp(a->dtype, "u1") != 0 && strcmp(a->dtype, "i1") != 0)
        return sb_fail(SB_EFORMAT, "'%s': numpy arrays of dtype '%s' are not supported", what,
                       a->dtype);
    if (data->u.str.len != count)
        return sb_fail(SB_EFORMAT, "'%s': a numpy array of %zu elements holds %zu bytes", what,
                       count, data->u.str.len);
    a->data = (const uint8_t *)data->u.str.data;
    a->len = data->u.str.len;
    return SB_OK;
}

static const sb_pickle_global numpy_globals[] = {
    {"numpy.core.multiarray", "_reconstruct", reconstruct, array_state},
    {"numpy", "ndarray", NULL, NULL},
    {"numpy", "dtype", dtype, dtype_state},
    {"_codecs", "encode", encode_latin1, NULL},
};

sb_status sb_numpy_unpickle(sb_pickle *p, const char *what, const uint8_t *bytes, size_t len,
                            sb_pickle_value **root)
{
    sb_unpickle_config cfg = {numpy_globals, sizeof numpy_globals / sizeof *numpy_globals, NULL,
                              (void *)what, what};
    return sb_unpickle(p, bytes, len, &cfg, root, NULL);
}

const sb_numpy_array *sb_numpy_array_of(const sb_pickle_value *v)
{
    if (!sb_pickle_is_object(v, NDARRAY_TYPE)) return NULL;
    const sb_numpy_array *a = v->u.object.ptr;
    return a->data ? a : NULL;
}
