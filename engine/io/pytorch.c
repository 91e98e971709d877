/* PyTorch checkpoints (see pytorch.h): the allow-list of globals, the zip and legacy layouts,
 * and the choice of the state dict inside a checkpoint; the storages and tensors the pickle
 * describes are made in pytorch_storages.c. */
#include "io/pytorch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/mapped_file.h"
#include "io/pytorch_records.h"
#include "io/unpickler.h"
#include "io/zip.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pytorch.c views little-endian storages in place: port the byte swaps first"
#endif

/* The legacy format's first pickle: 0x1950a86a20f9469cfc6c as a 10-byte LONG1. */
static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                               0x20, 0x6a, 0xa8, 0x50, 0x19};
#define LEGACY_PROTOCOL_VERSION 1001

/* ---- dtypes ---------------------------------------------------------------------------- */

static const torch_dtype torch_dtypes[] = {
    {"FloatStorage", "float32", 4, SB_FLOAT32, CONV_NONE, true},
    {"DoubleStorage", "float64", 8, SB_FLOAT64, CONV_NONE, true},
    {"HalfStorage", "float16", 2, SB_FLOAT16, CONV_NONE, true},
    {"BFloat16Storage", "bfloat16", 2, SB_BFLOAT16, CONV_NONE, true},
    {"LongStorage", "int64", 8, SB_INT64, CONV_NONE, true},
    {"IntStorage", "int32", 4, SB_INT32, CONV_NONE, true},
    {"ShortStorage", "int16", 2, SB_INT32, CONV_I16, true},
    {"CharStorage", "int8", 1, SB_INT32, CONV_I8, true},
    {"ByteStorage", "uint8", 1, SB_UINT8, CONV_NONE, true},
    {"BoolStorage", "bool", 1, SB_UINT8, CONV_BOOL, true},
    {"UntypedStorage", "uint8", 1, SB_UINT8, CONV_NONE, true},
    {"_UntypedStorage", "uint8", 1, SB_UINT8, CONV_NONE, true},
    {"ComplexFloatStorage", "complex64", 8, SB_FLOAT32, CONV_NONE, false},
    {"ComplexDoubleStorage", "complex128", 16, SB_FLOAT32, CONV_NONE, false},
    {"ComplexHalfStorage", "complex32", 4, SB_FLOAT32, CONV_NONE, false},
    {"QInt8Storage", "qint8", 1, SB_FLOAT32, CONV_NONE, false},
    {"QUInt8Storage", "quint8", 1, SB_FLOAT32, CONV_NONE, false},
    {"QInt32Storage", "qint32", 4, SB_FLOAT32, CONV_NONE, false},
    {"QUInt4x2Storage", "quint4x2", 1, SB_FLOAT32, CONV_NONE, false},
    {"QUInt2x4Storage", "quint2x4", 1, SB_FLOAT32, CONV_NONE, false},
};
#define N_DTYPES (sizeof torch_dtypes / sizeof torch_dtypes[0])

#define TENSOR_TYPE "torch.Tensor"
#define STORAGE_TYPE "torch.storage"

static void spec_free(void *ptr)
{
    tensor_spec *s = ptr;
    if (s) sb_tensor_free(s->tensor);
    free(s);
}

static void loader_free(loader *L)
{
    for (size_t i = 0; i < L->nrecs; i++) {
        free(L->recs[i]->key);
        free(L->recs[i]->owned);
        sb_storage_release(L->recs[i]->target);
        free(L->recs[i]);
    }
    free(L->recs);
    free(L->specs);
}

static const torch_dtype *dtype_of_global(const sb_pickle_global *g)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(torch_dtypes[i].storage, g->name) == 0) return &torch_dtypes[i];
    return NULL;
}

static bool is_int(const sb_pickle_value *v)
{
    return v && v->kind == SB_PICKLE_INT;
}

static sb_status bad_arg(const char *fn, const char *what, const sb_pickle_value *got)
{
    char d[96];
    sb_pickle_describe(got, d, sizeof d);
    return sb_fail(SB_EFORMAT, "%s: %s, got %s", fn, what, d);
}

/* ---- handlers -------------------------------------------------------------------------- */

static sb_status h_ordered_dict(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                                sb_pickle_value *args, sb_pickle_value **out)
{
    (void)ctx, (void)self;
    sb_pickle_value *d = sb_pickle_new_value(p, SB_PICKLE_DICT);
    if (!d) return SB_ENOMEM;
    if (args->u.seq.len == 1 && args->u.seq.items[0]->kind == SB_PICKLE_LIST) {
        sb_pickle_value *pairs = args->u.seq.items[0];
        for (size_t i = 0; i < pairs->u.seq.len; i++) {
            sb_pickle_value *kv = pairs->u.seq.items[i];
            if ((kv->kind != SB_PICKLE_TUPLE && kv->kind != SB_PICKLE_LIST) || kv->u.seq.len != 2)
                return bad_arg("OrderedDict", "expected (key, value) pairs", kv);
            SB_TRY(sb_pickle_dict_set(p, d, kv->u.seq.items[0], kv->u.seq.items[1]));
        }
    } else if (args->u.seq.len != 0) {
        return bad_arg("OrderedDict", "expected no arguments or a list of pairs", args);
    }
    *out = d;
    return SB_OK;
}

/* OrderedDict's state is its instance __dict__ ({"_metadata": ...} in a state dict), which
 * says nothing about the tensors: accepted and dropped. */
static sb_status h_ordered_dict_build(sb_pickle *p, void *ctx, sb_pickle_value *obj,
                                      sb_pickle_value *state)
{
    (void)p, (void)ctx, (void)obj;
    if (state->kind != SB_PICKLE_DICT && state->kind != SB_PICKLE_NONE)
        return bad_arg("OrderedDict", "expected a dict as its state", state);
    return SB_OK;
}

static sb_status h_size(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                        sb_pickle_value *args, sb_pickle_value **out)
{
    (void)ctx, (void)self;
    sb_pickle_value *src = args->u.seq.len == 1 ? args->u.seq.items[0] : NULL;
    if (!src || (src->kind != SB_PICKLE_TUPLE && src->kind != SB_PICKLE_LIST))
        return bad_arg("torch.Size", "expected one tuple of sizes", args);
    sb_pickle_value *t = sb_pickle_new_value(p, SB_PICKLE_TUPLE);
    if (!t) return SB_ENOMEM;
    for (size_t i = 0; i < src->u.seq.len; i++) {
        if (!is_int(src->u.seq.items[i]))
            return bad_arg("torch.Size", "expected integer sizes", src->u.seq.items[i]);
    }
    t->u.seq = src->u.seq; /* shares the items array: copy it */
    t->u.seq.items = malloc((src->u.seq.len ? src->u.seq.len : 1) * sizeof *t->u.seq.items);
    if (!t->u.seq.items) {
        t->u.seq.len = t->u.seq.cap = 0;
        return sb_fail(SB_ENOMEM, "out of memory");
    }
    memcpy(t->u.seq.items, src->u.seq.items, src->u.seq.len * sizeof *t->u.seq.items);
    t->u.seq.cap = src->u.seq.len;
    *out = t;
    return SB_OK;
}

static sb_status h_device(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                          sb_pickle_value *args, sb_pickle_value **out)
{
    (void)ctx, (void)self;
    size_t n = args->u.seq.len;
    if (n < 1 || n > 2 || args->u.seq.items[0]->kind != SB_PICKLE_STR ||
        (n == 2 && !is_int(args->u.seq.items[1])))
        return bad_arg("torch.device", "expected (type [, index])", args);
    char buf[96];
    if (n == 2)
        snprintf(buf, sizeof buf, "%.60s:%lld", args->u.seq.items[0]->u.str.data,
                 (long long)args->u.seq.items[1]->u.i);
    else
        snprintf(buf, sizeof buf, "%.60s", args->u.seq.items[0]->u.str.data);
    *out = sb_pickle_new_str(p, buf, strlen(buf));
    return *out ? SB_OK : SB_ENOMEM;
}

static storage_rec *find_rec(loader *L, const char *key)
{
    for (size_t i = 0; i < L->nrecs; i++)
        if (strcmp(L->recs[i]->key, key) == 0) return L->recs[i];
    return NULL;
}

/* ('storage', StorageClass, key, location, numel) in the zip format; the legacy format adds
 * view_metadata: None or (view_key, offset, size). */
static sb_status h_persistent_load(sb_pickle *p, void *ctx, sb_pickle_value *pid,
                                   sb_pickle_value **out)
{
    loader *L = ctx;
    const char *fn = "persistent id";
    if (pid->kind != SB_PICKLE_TUPLE || pid->u.seq.len < 5 || pid->u.seq.len > 6)
        return bad_arg(fn, "expected ('storage', type, key, location, numel)", pid);
    sb_pickle_value **it = pid->u.seq.items;
    if (it[0]->kind != SB_PICKLE_STR || strcmp(it[0]->u.str.data, "storage") != 0)
        return bad_arg(fn, "expected the tag 'storage'", it[0]);
    if (it[1]->kind != SB_PICKLE_GLOBAL || !dtype_of_global(it[1]->u.global))
        return bad_arg(fn, "expected a torch storage class", it[1]);
    const torch_dtype *dt = dtype_of_global(it[1]->u.global);
    if (!dt->supported)
        return sb_fail(SB_EUNSUPPORTED,
                       "%s tensors (torch.%s) are not supported by sbengine (supported: float32, "
                       "float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool)",
                       dt->name, dt->storage);
    if (it[2]->kind != SB_PICKLE_STR) return bad_arg(fn, "expected a string storage key", it[2]);
    if (it[3]->kind != SB_PICKLE_STR) return bad_arg(fn, "expected a location string", it[3]);
    if (!is_int(it[4]) || it[4]->u.i < 0)
        return bad_arg(fn, "expected a non-negative element count", it[4]);
    const char *key = it[2]->u.str.data;
    uint64_t numel = (uint64_t)it[4]->u.i;
    storage_rec *rec = find_rec(L, key);
    if (rec) {
        if (rec->dtype != dt)
            return sb_fail(SB_EUNSUPPORTED,
                           "storage '%s' is used both as %s and as %s (dtype views of one storage "
                           "are not supported)",
                           key, rec->dtype->name, dt->name);
        if (rec->numel != numel)
            return sb_fail(SB_EFORMAT, "storage '%s' is declared with %llu and %llu elements", key,
                           (unsigned long long)rec->numel, (unsigned long long)numel);
    } else {
        if (L->nrecs == L->recs_cap) {
            size_t cap = L->recs_cap ? L->recs_cap * 2 : 64;
            storage_rec **nr = realloc(L->recs, cap * sizeof *nr);
            if (!nr) return sb_fail(SB_ENOMEM, "out of memory");
            L->recs = nr;
            L->recs_cap = cap;
        }
        rec = calloc(1, sizeof *rec);
        if (rec) rec->key = strdup(key);
        if (!rec || !rec->key) {
            free(rec);
            return sb_fail(SB_ENOMEM, "out of memory");
        }
        rec->dtype = dt;
        rec->numel = numel;
        L->recs[L->nrecs++] = rec;
    }
    storage_view *v = calloc(1, sizeof *v);
    if (!v) return sb_fail(SB_ENOMEM, "out of memory");
    v->rec = rec;
    v->numel = numel;
    if (pid->u.seq.len == 6 && it[5]->kind != SB_PICKLE_NONE) {
        sb_pickle_value *vm = it[5];
        if (vm->kind != SB_PICKLE_TUPLE || vm->u.seq.len != 3 || !is_int(vm->u.seq.items[1]) ||
            !is_int(vm->u.seq.items[2]) || vm->u.seq.items[1]->u.i < 0 ||
            vm->u.seq.items[2]->u.i < 0 || (uint64_t)vm->u.seq.items[1]->u.i > numel ||
            (uint64_t)vm->u.seq.items[2]->u.i > numel - (uint64_t)vm->u.seq.items[1]->u.i) {
            free(v);
            return bad_arg(fn, "expected a storage view (key, offset, size) inside its storage",
                           vm);
        }
        v->offset = (uint64_t)vm->u.seq.items[1]->u.i;
        v->numel = (uint64_t)vm->u.seq.items[2]->u.i;
    }
    *out = sb_pickle_new_object(p, STORAGE_TYPE, v, free);
    return *out ? SB_OK : SB_ENOMEM;
}

static sb_status read_int_tuple(const char *fn, const char *what, const sb_pickle_value *v,
                                int64_t *dst, int *n)
{
    if (v->kind != SB_PICKLE_TUPLE && v->kind != SB_PICKLE_LIST) return bad_arg(fn, what, v);
    if (v->u.seq.len > SB_MAX_DIMS)
        return sb_fail(SB_EUNSUPPORTED, "%s: a tensor with %zu dims (sbengine allows %d)", fn,
                       v->u.seq.len, SB_MAX_DIMS);
    for (size_t i = 0; i < v->u.seq.len; i++) {
        if (!is_int(v->u.seq.items[i]) || v->u.seq.items[i]->u.i < 0)
            return bad_arg(fn, what, v->u.seq.items[i]);
        dst[i] = v->u.seq.items[i]->u.i;
    }
    *n = (int)v->u.seq.len;
    return SB_OK;
}

static void format_dims(int n, const int64_t *d, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "", (long long)d[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]) and the older _rebuild_tensor(storage, storage_offset, size, stride). */
static sb_status h_rebuild_tensor(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                                  sb_pickle_value *args, sb_pickle_value **out)
{
    loader *L = ctx;
    const char *fn = self->name;
    size_t n = args->u.seq.len;
    bool v2 = strcmp(fn, "_rebuild_tensor_v2") == 0;
    if (v2 ? (n < 6 || n > 7) : n != 4)
        return bad_arg(fn, v2 ? "expected 6 or 7 arguments" : "expected 4 arguments", args);
    sb_pickle_value **a = args->u.seq.items;
    if (!sb_pickle_is_object(a[0], STORAGE_TYPE)) return bad_arg(fn, "expected a storage", a[0]);
    if (!is_int(a[1]) || a[1]->u.i < 0) return bad_arg(fn, "expected a storage offset", a[1]);
    tensor_spec *s = calloc(1, sizeof *s);
    if (!s) return sb_fail(SB_ENOMEM, "out of memory");
    s->view = *(storage_view *)a[0]->u.object.ptr;
    s->offset = a[1]->u.i;
    int nstride = 0;
    sb_status st = read_int_tuple(fn, "expected a tuple of sizes", a[2], s->sizes, &s->ndim);
    if (st == SB_OK)
        st = read_int_tuple(fn, "expected a tuple of strides", a[3], s->strides, &nstride);
    if (st == SB_OK && nstride != s->ndim)
        st = sb_fail(SB_EFORMAT, "%s: %d sizes but %d strides", fn, s->ndim, nstride);
    /* The last element the tensor reaches must lie inside its storage. */
    uint64_t numel = 1, last = (uint64_t)s->offset;
    for (int d = 0; st == SB_OK && d < s->ndim; d++) {
        uint64_t reach;
        if (__builtin_mul_overflow((uint64_t)s->sizes[d], numel, &numel) ||
            (s->sizes[d] > 0 && (__builtin_mul_overflow((uint64_t)(s->sizes[d] - 1),
                                                        (uint64_t)s->strides[d], &reach) ||
                                 __builtin_add_overflow(last, reach, &last))))
            st = sb_fail(SB_EFORMAT, "%s: sizes and strides overflow", fn);
    }
    if (st == SB_OK && (numel > 0 ? last >= s->view.numel : (uint64_t)s->offset > s->view.numel)) {
        char sz[160], sd[160];
        format_dims(s->ndim, s->sizes, sz, sizeof sz);
        format_dims(s->ndim, s->strides, sd, sizeof sd);
        st = sb_fail(SB_EFORMAT,
                     "a tensor of size %s, stride %s at offset %lld reaches element %llu, past "
                     "the end of its storage '%s' (%llu elements of %s)",
                     sz, sd, (long long)s->offset, (unsigned long long)last, s->view.rec->key,
                     (unsigned long long)s->view.numel, s->view.rec->dtype->name);
    }
    if (st == SB_OK && L->nspecs == L->specs_cap) {
        size_t cap = L->specs_cap ? L->specs_cap * 2 : 256;
        tensor_spec **ns = realloc(L->specs, cap * sizeof *ns);
        if (!ns)
            st = sb_fail(SB_ENOMEM, "out of memory");
        else
            L->specs = ns, L->specs_cap = cap;
    }
    if (st != SB_OK) {
        free(s);
        return st;
    }
    *out = sb_pickle_new_object(p, TENSOR_TYPE, s, spec_free);
    if (!*out) return SB_ENOMEM;
    L->specs[L->nspecs++] = s;
    return SB_OK;
}

/* _rebuild_parameter(data, requires_grad, backward_hooks) and
 * _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state): the data. */
static sb_status h_rebuild_parameter(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                                     sb_pickle_value *args, sb_pickle_value **out)
{
    (void)p, (void)ctx;
    size_t want = strcmp(self->name, "_rebuild_parameter") == 0 ? 3 : 4;
    if (args->u.seq.len != want)
        return bad_arg(self->name, "expected (data, requires_grad, hooks)", args);
    if (!sb_pickle_is_object(args->u.seq.items[0], TENSOR_TYPE))
        return bad_arg(self->name, "expected a tensor", args->u.seq.items[0]);
    *out = args->u.seq.items[0];
    return SB_OK;
}

/* _rebuild_from_type_v2(func, new_type, args, state): func(*args) for plain tensors and
 * parameters (new_type torch.Tensor or torch.nn.Parameter) without extra state. */
static sb_status h_rebuild_from_type(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                                     sb_pickle_value *args, sb_pickle_value **out)
{
    const char *fn = self->name;
    if (args->u.seq.len != 4) return bad_arg(fn, "expected 4 arguments", args);
    sb_pickle_value **a = args->u.seq.items;
    if (a[0]->kind != SB_PICKLE_GLOBAL || !a[0]->u.global->call ||
        a[0]->u.global->call == h_rebuild_from_type)
        return bad_arg(fn, "expected a rebuild function", a[0]);
    if (a[1]->kind != SB_PICKLE_GLOBAL || a[1]->u.global->call)
        return bad_arg(fn, "expected torch.Tensor or torch.nn.Parameter", a[1]);
    if (a[2]->kind != SB_PICKLE_TUPLE) return bad_arg(fn, "expected an argument tuple", a[2]);
    if (!(a[3]->kind == SB_PICKLE_NONE || (a[3]->kind == SB_PICKLE_DICT && a[3]->u.dict.len == 0)))
        return bad_arg(fn, "expected no tensor-subclass state", a[3]);
    return a[0]->u.global->call(p, ctx, a[0]->u.global, a[2], out);
}

static const sb_pickle_global torch_globals[] = {
    {"collections", "OrderedDict", h_ordered_dict, h_ordered_dict_build},
    {"torch._utils", "_rebuild_tensor_v2", h_rebuild_tensor, NULL},
    {"torch._utils", "_rebuild_tensor", h_rebuild_tensor, NULL},
    {"torch._utils", "_rebuild_parameter", h_rebuild_parameter, NULL},
    {"torch._utils", "_rebuild_parameter_with_state", h_rebuild_parameter, NULL},
    {"torch._tensor", "_rebuild_from_type_v2", h_rebuild_from_type, NULL},
    {"torch._tensor", "Tensor", NULL, NULL},
    {"torch", "Tensor", NULL, NULL},
    {"torch.nn.parameter", "Parameter", NULL, NULL},
    {"torch", "Size", h_size, NULL},
    {"torch", "device", h_device, NULL},
    {"torch", "FloatStorage", NULL, NULL},
    {"torch", "DoubleStorage", NULL, NULL},
    {"torch", "HalfStorage", NULL, NULL},
    {"torch", "BFloat16Storage", NULL, NULL},
    {"torch", "LongStorage", NULL, NULL},
    {"torch", "IntStorage", NULL, NULL},
    {"torch", "ShortStorage", NULL, NULL},
    {"torch", "CharStorage", NULL, NULL},
    {"torch", "ByteStorage", NULL, NULL},
    {"torch", "BoolStorage", NULL, NULL},
    {"torch", "UntypedStorage", NULL, NULL},
    {"torch", "_UntypedStorage", NULL, NULL},
    {"torch", "ComplexFloatStorage", NULL, NULL},
    {"torch", "ComplexDoubleStorage", NULL, NULL},
    {"torch", "ComplexHalfStorage", NULL, NULL},
    {"torch", "QInt8Storage", NULL, NULL},
    {"torch", "QUInt8Storage", NULL, NULL},
    {"torch", "QInt32Storage", NULL, NULL},
    {"torch", "QUInt4x2Storage", NULL, NULL},
    {"torch", "QUInt2x4Storage", NULL, NULL},
};

/* ---- choosing the state dict ------------------------------------------------------------ */

static bool is_state_dict(const sb_pickle_value *v)
{
    if (!v || v->kind != SB_PICKLE_DICT || v->u.dict.len == 0) return false;
    for (size_t i = 0; i < v->u.dict.len; i++)
        if (v->u.dict.keys[i]->kind != SB_PICKLE_STR ||
            !sb_pickle_is_object(v->u.dict.values[i], TENSOR_TYPE))
            return false;
    return true;
}

/* "a (int), model (dict of 12 tensors), ..." */
static void list_keys(const sb_pickle_value *d, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->u.dict.len && at + 1 < size; i++) {
        const sb_pickle_value *k = d->u.dict.keys[i], *v = d->u.dict.values[i];
        char kd[80], vd[96];
        if (k->kind == SB_PICKLE_STR)
            snprintf(kd, sizeof kd, "'%.70s'", k->u.str.data);
        else
            sb_pickle_describe(k, kd, sizeof kd);
        if (is_state_dict(v))
            snprintf(vd, sizeof vd, "dict of %zu tensors", v->u.dict.len);
        else if (v->kind == SB_PICKLE_DICT)
            snprintf(vd, sizeof vd, "dict of %zu entries", v->u.dict.len);
        else
            sb_pickle_describe(v, vd, sizeof vd);
        at += (size_t)snprintf(buf + at, size - at, "%s%s (%s)", i ? ", " : "", kd, vd);
    }
    if (at >= size && size > 4) memcpy(buf + size - 4, "...", 4);
}

static sb_status choose(const loader *L, const sb_pickle_value *root,
                        const sb_pytorch_options *opts, const sb_pickle_value **out)
{
    char keys[1024];
    const sb_pickle_value *v = root;
    size_t nkey = opts ? opts->nkey : 0;
    for (size_t i = 0; i < nkey; i++) {
        const char *k = opts->key[i];
        if (v->kind != SB_PICKLE_DICT) {
            char d[96];
            sb_pickle_describe(v, d, sizeof d);
            return sb_fail(SB_EINVAL, "%s: key '%s': the checkpoint holds a %s there, not a dict",
                           L->what, k, d);
        }
        const sb_pickle_value *next = sb_pickle_dict_get(v, k);
        if (!next) {
            list_keys(v, keys, sizeof keys);
            return sb_fail(SB_EINVAL, "%s: no key '%s' in the checkpoint; its keys are: %s",
                           L->what, k, keys);
        }
        v = next;
    }
    if (is_state_dict(v) || (nkey > 0 && v->kind == SB_PICKLE_DICT && v->u.dict.len == 0)) {
        *out = v;
        return SB_OK;
    }
    if (nkey > 0 || v->kind != SB_PICKLE_DICT) {
        char d[96];
        sb_pickle_describe(v, d, sizeof d);
        if (v->kind == SB_PICKLE_DICT) list_keys(v, keys, sizeof keys);
        return sb_fail(SB_EINVAL, "%s: %s is not a state dict (a dict of tensors)%s%s", L->what,
                       nkey ? "the chosen entry" : "the checkpoint",
                       v->kind == SB_PICKLE_DICT ? "; its keys are: " : ": found ",
                       v->kind == SB_PICKLE_DICT ? keys : d);
    }
    const sb_pickle_value *found = NULL;
    size_t nfound = 0;
    for (size_t i = 0; i < v->u.dict.len; i++) {
        if (v->u.dict.keys[i]->kind == SB_PICKLE_STR && is_state_dict(v->u.dict.values[i])) {
            found = v->u.dict.values[i];
            nfound++;
        }
    }
    list_keys(v, keys, sizeof keys);
    if (nfound == 1) {
        *out = found;
        return SB_OK;
    }
    if (nfound == 0)
        return sb_fail(SB_EINVAL,
                       "%s: no state dict (a dict of tensors) in the checkpoint; its top-level "
                       "keys are: %s",
                       L->what, keys);
    return sb_fail(SB_EINVAL,
                   "%s: the checkpoint holds %zu state dicts: choose one with {key = ...}; its "
                   "top-level keys are: %s",
                   L->what, nfound, keys);
}

void sb_pytorch_free(sb_pytorch_state_dict *sd)
{
    if (!sd) return;
    for (size_t i = 0; i < sd->count; i++) {
        free(sd->entries[i].name);
        sb_tensor_free(sd->entries[i].tensor);
    }
    free(sd->entries);
    free(sd);
}

static sb_status flatten(const loader *L, const sb_pickle_value *d, const sb_pytorch_options *opts,
                         sb_pytorch_state_dict **out)
{
    sb_pytorch_state_dict *sd = calloc(1, sizeof *sd);
    if (sd) sd->entries = calloc(d->u.dict.len ? d->u.dict.len : 1, sizeof *sd->entries);
    if (!sd || !sd->entries) {
        free(sd);
        return sb_fail(SB_ENOMEM, "%s: out of memory", L->what);
    }
    const char *prefix = opts && opts->strip_prefix ? opts->strip_prefix : "";
    size_t plen = strlen(prefix);
    sb_status st = SB_OK;
    for (size_t i = 0; i < d->u.dict.len && st == SB_OK; i++) {
        const char *name = d->u.dict.keys[i]->u.str.data;
        if (plen && strncmp(name, prefix, plen) == 0) name += plen;
        for (size_t j = 0; j < sd->count && st == SB_OK; j++)
            if (strcmp(sd->entries[j].name, name) == 0)
                st = sb_fail(SB_EINVAL, "%s: two tensors are named '%s' after removing '%s'",
                             L->what, name, prefix);
        if (st != SB_OK) break;
        const tensor_spec *s = d->u.dict.values[i]->u.object.ptr;
        sb_pytorch_entry *e = &sd->entries[sd->count];
        e->name = strdup(name);
        if (!e->name) {
            st = sb_fail(SB_ENOMEM, "%s: out of memory", L->what);
            break;
        }
        sd->count++;
        e->saved_dtype = s->view.rec->dtype->name;
        st = sb_tensor_alias(s->tensor, &e->tensor);
    }
    if (st != SB_OK) {
        sb_pytorch_free(sd);
        return st;
    }
    *out = sd;
    return SB_OK;
}

/* ---- the two layouts ------------------------------------------------------------------- */

static sb_status load_zip(loader *L, sb_pickle *p, const unsigned char *img, size_t size,
                          sb_storage *image, const sb_pickle_value **root_out, bool *big_endian)
{
    sb_zip *z;
    SB_TRY(sb_zip_open(img, size, L->what, &z));
    sb_status st = SB_OK;
    const sb_zip_entry *pkl = NULL;
    size_t plen = 0;
    for (size_t i = 0; i < z->count; i++) {
        const char *n = z->entries[i].name;
        const char *slash = strchr(n, '/');
        if (slash && strcmp(slash, "/data.pkl") == 0) {
            if (pkl) {
                st = sb_fail(SB_EFORMAT, "%s: the archive holds two pickles ('%s' and '%s')",
                             L->what, pkl->name, n);
                break;
            }
            pkl = &z->entries[i];
            plen = (size_t)(slash - n) + 1;
        }
    }
    if (st == SB_OK && !pkl)
        st = sb_fail(SB_EFORMAT,
                     "%s: a zip archive without PREFIX/data.pkl: not a checkpoint written by "
                     "torch.save",
                     L->what);
    char name[1024];
    if (st == SB_OK && plen + 64 > sizeof name)
        st = sb_fail(SB_EFORMAT, "%s: archive prefix too long", L->what);
    *big_endian = false;
    if (st == SB_OK) {
        snprintf(name, sizeof name, "%.*sbyteorder", (int)plen, pkl->name);
        const sb_zip_entry *bo = sb_zip_find(z, name);
        if (bo) {
            const unsigned char *d;
            void *owned;
            st = sb_zip_read(z, bo, L->what, true, &d, &owned);
            if (st == SB_OK) {
                if (bo->size == 3 && memcmp(d, "big", 3) == 0)
                    *big_endian = true;
                else if (!(bo->size == 6 && memcmp(d, "little", 6) == 0))
                    st = sb_fail(SB_EFORMAT, "%s: byteorder record is neither 'little' nor 'big'",
                                 L->what);
                free(owned);
            }
        }
    }
    const unsigned char *pdata = NULL;
    void *powned = NULL;
    if (st == SB_OK) st = sb_zip_read(z, pkl, L->what, true, &pdata, &powned);
    if (st == SB_OK) {
        char what[512];
        snprintf(what, sizeof what, "%s: %s", L->what, pkl->name);
        sb_unpickle_config cfg = {torch_globals, sizeof torch_globals / sizeof torch_globals[0],
                                  h_persistent_load, L, what};
        sb_pickle_value *root = NULL;
        size_t used = 0;
        st = sb_unpickle(p, pdata, (size_t)pkl->size, &cfg, &root, &used);
        if (st == SB_OK && used != pkl->size)
            st = sb_fail(SB_EFORMAT, "%s: %zu bytes after the end of the pickle", what,
                         (size_t)pkl->size - used);
        *root_out = root;
    }
    free(powned);
    for (size_t i = 0; i < L->nrecs && st == SB_OK; i++) {
        storage_rec *r = L->recs[i];
        snprintf(name, sizeof name, "%.*sdata/%s", (int)plen, pkl->name, r->key);
        const sb_zip_entry *e = sb_zip_find(z, name);
        if (!e) {
            st = sb_fail(SB_EFORMAT, "%s: record '%s' of storage '%s' is missing", L->what, name,
                         r->key);
            break;
        }
        st = sb_pytorch_check_record_size(L, r, e->size, name);
        if (st == SB_OK) {
            void *owned;
            st = sb_zip_read(z, e, L->what, e->method != 0, &r->bytes, &owned);
            r->owned = owned;
            r->in_image = owned == NULL;
            r->image_offset = e->data_offset;
            r->located = st == SB_OK;
        }
    }
    if (st == SB_OK) st = sb_pytorch_make_tensors(L, image, *big_endian);
    sb_zip_free(z);
    return st;
}

/* The legacy magic-number pickle: [PROTO n] [FRAME] LONG1 10 <magic> STOP. */
static bool legacy_prefix(const unsigned char *d, size_t size, size_t *used)
{
    size_t at = 0;
    if (at + 2 <= size && d[at] == 0x80) at += 2;
    if (at + 9 <= size && d[at] == 0x95) at += 9;
    if (at + 13 > size || d[at] != 0x8a || d[at + 1] != 10 ||
        memcmp(d + at + 2, legacy_magic, 10) != 0 || d[at + 12] != '.')
        return false;
    *used = at + 13;
    return true;
}

static sb_status load_legacy(loader *L, sb_pickle *p, const unsigned char *img, size_t size,
                             sb_storage *image, const sb_pickle_value **root_out)
{
    size_t pos = 0, used = 0;
    if (!legacy_prefix(img, size, &used))
        return sb_fail(SB_EFORMAT, "%s: not a PyTorch checkpoint (bad magic number)", L->what);
    pos = used;
    char what[512];
    snprintf(what, sizeof what, "%s (legacy format)", L->what);
    sb_unpickle_config plain = {NULL, 0, NULL, NULL, what};
    sb_pickle_value *v = NULL;
    SB_TRY(sb_unpickle(p, img + pos, size - pos, &plain, &v, &used));
    pos += used;
    if (!is_int(v) || v->u.i != LEGACY_PROTOCOL_VERSION)
        return sb_fail(SB_EUNSUPPORTED, "%s: unsupported legacy protocol version (expected %d)",
                       what, LEGACY_PROTOCOL_VERSION);
    SB_TRY(sb_unpickle(p, img + pos, size - pos, &plain, &v, &used)); /* sys_info */
    pos += used;
    if (v->kind != SB_PICKLE_DICT)
        return sb_fail(SB_EFORMAT, "%s: the system-information record is not a dict", what);
    sb_unpickle_config cfg = {torch_globals, sizeof torch_globals / sizeof torch_globals[0],
                              h_persistent_load, L, what};
    sb_pickle_value *root = NULL;
    SB_TRY(sb_unpickle(p, img + pos, size - pos, &cfg, &root, &used));
    pos += used;
    *root_out = root;
    SB_TRY(sb_unpickle(p, img + pos, size - pos, &plain, &v, &used)); /* the storage keys */
    pos += used;
    if (v->kind != SB_PICKLE_LIST)
        return sb_fail(SB_EFORMAT, "%s: the list of storage keys is missing", what);
    for (size_t i = 0; i < v->u.seq.len; i++) {
        const sb_pickle_value *k = v->u.seq.items[i];
        if (k->kind != SB_PICKLE_STR)
            return sb_fail(SB_EFORMAT, "%s: a storage key that is not a string", what);
        storage_rec *r = find_rec(L, k->u.str.data);
        if (!r)
            return sb_fail(SB_EFORMAT, "%s: storage '%s' is in the file but not in the pickle",
                           what, k->u.str.data);
        if (r->located) return sb_fail(SB_EFORMAT, "%s: storage '%s' appears twice", what, r->key);
        if (size - pos < 8)
            return sb_fail(SB_EFORMAT, "%s: truncated file: the header of storage '%s' is missing",
                           what, r->key);
        uint64_t numel = 0;
        for (int b = 7; b >= 0; b--)
            numel = (numel << 8) | img[pos + (size_t)b];
        pos += 8;
        uint64_t bytes;
        if (__builtin_mul_overflow(numel, (uint64_t)r->dtype->size, &bytes)) bytes = UINT64_MAX;
        char record[64];
        snprintf(record, sizeof record, "its record in the file");
        SB_TRY(sb_pytorch_check_record_size(L, r, bytes, record));
        if (bytes > size - pos)
            return sb_fail(SB_EFORMAT,
                           "%s: truncated file: storage '%s' needs %llu bytes at %zu, the file has "
                           "%zu",
                           what, r->key, (unsigned long long)bytes, pos, size);
        r->bytes = img + pos;
        r->image_offset = pos;
        r->in_image = true;
        r->located = true;
        pos += (size_t)bytes;
    }
    return sb_pytorch_make_tensors(L, image, false);
}

const char *sb_pytorch_sniff(const void *data, size_t size)
{
    const unsigned char *d = data;
    size_t used;
    if (sb_zip_looks_like_zip(d, size)) return "zip";
    if (legacy_prefix(d, size, &used)) return "legacy";
    if (size >= 262 && memcmp(d + 257, "ustar", 5) == 0) return "tar";
    if (size >= 10 && d[8] == '{') {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--)
            hlen = (hlen << 8) | d[i];
        if (hlen <= size - 8) return "safetensors";
    }
    return NULL;
}

sb_status sb_pytorch_parse(const void *data, size_t size, sb_storage *storage, const char *what,
                           const sb_pytorch_options *opts, sb_pytorch_state_dict **out)
{
    const char *format = sb_pytorch_sniff(data, size);
    if (!format)
        return sb_fail(SB_EFORMAT,
                       "%s: not a PyTorch checkpoint (neither a zip archive written by torch.save "
                       "nor the legacy format's magic number)",
                       what);
    if (strcmp(format, "safetensors") == 0)
        return sb_fail(SB_EFORMAT,
                       "%s: this is a safetensors file, not a PyTorch checkpoint: load it with "
                       "sb.io.load_safetensors",
                       what);
    if (strcmp(format, "tar") == 0)
        return sb_fail(SB_EUNSUPPORTED,
                       "%s: the tar format of PyTorch < 0.4 is not supported: re-save it with a "
                       "newer torch.save",
                       what);
    loader L = {what, NULL, 0, 0, NULL, 0, 0};
    sb_pickle *p = sb_pickle_new();
    if (!p) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    const sb_pickle_value *root = NULL;
    bool big_endian = false;
    sb_status st;
    if (strcmp(format, "zip") == 0)
        st = load_zip(&L, p, data, size, storage, &root, &big_endian);
    else
        st = load_legacy(&L, p, data, size, storage, &root);
    const sb_pickle_value *sd = NULL;
    if (st == SB_OK) st = choose(&L, root, opts, &sd);
    if (st == SB_OK) st = flatten(&L, sd, opts, out);
    sb_pickle_free(p);
    loader_free(&L);
    return st;
}

sb_status sb_pytorch_load(const char *path, const sb_pytorch_options *opts,
                          sb_pytorch_state_dict **out)
{
    sb_storage *storage;
    SB_TRY(sb_map_file(path, 1, "empty file, not a PyTorch checkpoint", &storage));
    sb_status st = sb_pytorch_parse(storage->data, storage->nbytes, storage, path, opts, out);
    sb_storage_release(storage); /* the tensors hold their own references */
    return st;
}
