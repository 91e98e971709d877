/* sbengine.core.data: datasets, transforms and the DataLoader's C side. The public API
 * (sb.data, sb.transforms) is lua/sbengine/data.lua and transforms.lua on top of this.
 *
 * Userdata: Dataset (a refcounted sb_dataset), Transform (an sb_transform chain),
 * Loader (an sb_loader) and LoaderIter (one pass; its threads stop on __close/__gc). */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "data/collate.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/transform.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "bindings/l_vision.h"
#include "net/download.h"

#define DATASET_MT "sbengine.Dataset"
#define TRANSFORM_MT "sbengine.Transform"
#define LOADER_MT "sbengine.Loader"
#define ITER_MT "sbengine.LoaderIter"

/* --- Dataset ------------------------------------------------------------------------------ */

static sb_dataset **dataset_box(lua_State *L, int idx)
{
    sb_dataset **box = luaL_checkudata(L, idx, DATASET_MT);
    if (!*box) luaL_error(L, "dataset was freed");
    return box;
}

static void push_dataset(lua_State *L, sb_dataset *ds)
{
    sb_dataset **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = ds;
    luaL_setmetatable(L, DATASET_MT);
}

static int dataset_gc(lua_State *L)
{
    sb_dataset **box = luaL_checkudata(L, 1, DATASET_MT);
    sb_dataset_release(*box);
    *box = NULL;
    return 0;
}

static int dataset_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(*dataset_box(L, 1))->length);
    return 1;
}

/* A new tensor holding a copy of one sample laid out as `spec`. */
static void push_sample_tensor(lua_State *L, const sb_sample_spec *spec, const void *data)
{
    sb_tensor *t;
    sbL_check(L, sb_tensor_empty(spec->ndim, spec->sizes, spec->dtype, SB_CPU, &t), "get");
    memcpy(sb_tensor_data(t), data, sb_sample_spec_nbytes(spec));
    sbL_push_tensor(L, t);
}

/* A scalar integer target (a class label) comes back as a Lua integer, as torchvision gives
 * a Python int; anything else as a tensor. */
static void push_target(lua_State *L, const sb_sample_spec *spec, const void *data)
{
    if (spec->ndim == 0 && spec->dtype == SB_INT64) {
        int64_t v;
        memcpy(&v, data, sizeof v);
        lua_pushinteger(L, (lua_Integer)v);
    } else if (spec->ndim == 0 && spec->dtype == SB_INT32) {
        int32_t v;
        memcpy(&v, data, sizeof v);
        lua_pushinteger(L, v);
    } else {
        push_sample_tensor(L, spec, data);
    }
}

/* ds:get(i) -> input tensor, target (1-based i), before any transform. */
static int dataset_get(lua_State *L)
{
    sb_dataset *ds = *dataset_box(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > ds->length)
        return luaL_error(L, "%s:get: index %I out of range 1..%I", ds->name, i,
                          (lua_Integer)ds->length);
    void *scratch = NULL;
    if (ds->input_scratch) {
        scratch = malloc(ds->input_scratch);
        if (!scratch) return luaL_error(L, "%s:get: out of memory", ds->name);
    }
    const void *input, *target;
    sb_status s = ds->ops->get(ds, (int64_t)i - 1, &input, &target, scratch);
    if (s != SB_OK) {
        free(scratch);
        sb_fail_context(s, "%s:get(%lld)", ds->name, (long long)i);
        return sbL_raise(L, NULL);
    }
    /* Copy out before anything can raise, so scratch is freed first. */
    sb_tensor *t = NULL;
    s = sb_tensor_empty(ds->input.ndim, ds->input.sizes, ds->input.dtype, SB_CPU, &t);
    if (s == SB_OK) memcpy(sb_tensor_data(t), input, sb_sample_spec_nbytes(&ds->input));
    free(scratch);
    sbL_check(L, s, "get");
    sbL_push_tensor(L, t);
    if (!ds->has_target) return 1;
    push_target(L, &ds->target, target);
    return 2;
}

static void push_spec(lua_State *L, const sb_sample_spec *spec)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, sb_dtype_name(spec->dtype));
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, spec->ndim, 0);
    for (int i = 0; i < spec->ndim; i++) {
        lua_pushinteger(L, (lua_Integer)spec->sizes[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "shape");
}

/* ds:info() -> {name, length, input = {dtype, shape}, target = {dtype, shape} | nil} */
static int dataset_info(lua_State *L)
{
    sb_dataset *ds = *dataset_box(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, ds->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, (lua_Integer)ds->length);
    lua_setfield(L, -2, "length");
    push_spec(L, &ds->input);
    lua_setfield(L, -2, "input");
    if (ds->has_target) {
        push_spec(L, &ds->target);
        lua_setfield(L, -2, "target");
    }
    return 1;
}

static int data_mnist(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int train = lua_toboolean(L, 2);
    sb_dataset *ds;
    sbL_check(L, sb_mnist_open(root, train, &ds), "MNIST");
    push_dataset(L, ds);
    return 1;
}

typedef struct lua_progress {
    lua_State *L;
    int fn; /* stack index of the Lua callback */
    int failed;
} lua_progress;

/* Runs the Lua callback under pcall: an error there must not longjmp through libcurl. */
static int call_lua_progress(lua_progress *p, const char *file, uint64_t done, uint64_t total)
{
    lua_State *L = p->L;
    if (p->failed) return 1;
    lua_pushvalue(L, p->fn);
    if (file)
        lua_pushstring(L, file);
    else
        lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)done);
    lua_pushinteger(L, (lua_Integer)total);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        /* Keep the message on the stack; the caller raises it after cleanup. */
        p->failed = 1;
        return 1;
    }
    return 0;
}

static int data_progress_cb(void *ctx, const char *file, uint64_t done, uint64_t total)
{
    return call_lua_progress(ctx, file, done, total);
}

/* mnist_download(root, train, mirrors|nil, progress(file, done, total)|nil) */
static int data_mnist_download(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int train = lua_toboolean(L, 2);
    const char *mirrors = luaL_optstring(L, 3, NULL);
    lua_progress p = {L, 4, 0};
    int has_cb = !lua_isnoneornil(L, 4);
    if (has_cb) luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    sb_status s = sb_mnist_download(root, train, mirrors, has_cb ? data_progress_cb : NULL, &p);
    if (p.failed) return lua_error(L); /* the callback's own error */
    sbL_check(L, s, NULL);
    return 0;
}

static int data_cifar(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int classes = (int)luaL_checkinteger(L, 2);
    int train = lua_toboolean(L, 3);
    int coarse = lua_toboolean(L, 4);
    sb_dataset *ds;
    sbL_check(L, sb_cifar_open(root, classes, train, coarse, &ds),
              classes == 100 ? "CIFAR100" : "CIFAR10");
    push_dataset(L, ds);
    return 1;
}

/* cifar_download(root, classes, train, mirrors|nil, md5|nil, progress(file, done, total)|nil) */
static int data_cifar_download(lua_State *L)
{
    const char *root = luaL_checkstring(L, 1);
    int classes = (int)luaL_checkinteger(L, 2);
    int train = lua_toboolean(L, 3);
    const char *mirrors = luaL_optstring(L, 4, NULL);
    const char *md5 = luaL_optstring(L, 5, NULL);
    lua_progress p = {L, 6, 0};
    int has_cb = !lua_isnoneornil(L, 6);
    if (has_cb) luaL_checktype(L, 6, LUA_TFUNCTION);
    lua_settop(L, 6);
    sb_status s =
        sb_cifar_download(root, classes, train, mirrors, md5, has_cb ? data_progress_cb : NULL, &p);
    if (p.failed) return lua_error(L);
    sbL_check(L, s, NULL);
    return 0;
}

static int data_tensor_dataset(lua_State *L)
{
    sb_tensor *input = sbL_check_tensor(L, 1);
    sb_tensor *target = lua_isnoneornil(L, 2) ? NULL : sbL_check_tensor(L, 2);
    sb_dataset *ds;
    sbL_check(L, sb_tensor_dataset_new(input, target, &ds), NULL);
    push_dataset(L, ds);
    return 1;
}

/* --- Transform ------------------------------------------------------------------------------ */

static sb_transform *check_transform(lua_State *L, int idx)
{
    sb_transform **box = luaL_checkudata(L, idx, TRANSFORM_MT);
    if (!*box) luaL_error(L, "transform was freed");
    return *box;
}

static int transform_gc(lua_State *L)
{
    sb_transform **box = luaL_checkudata(L, 1, TRANSFORM_MT);
    sb_transform_free(*box);
    *box = NULL;
    return 0;
}

/* Checks that the value at `idx` is a number or a list of numbers; returns the count. */
static int check_number_list(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) == LUA_TNUMBER) return 1;
    if (!lua_istable(L, idx))
        luaL_error(L, "Normalize: %s must be a number or a list of numbers, got %s", what,
                   luaL_typename(L, idx));
    int len = (int)lua_rawlen(L, idx);
    for (int i = 1; i <= len; i++) {
        if (lua_rawgeti(L, idx, i) != LUA_TNUMBER)
            luaL_error(L, "Normalize: %s[%d] must be a number, got %s", what, i,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    return len;
}

/* Copies a list checked by check_number_list into `out` (never raises). */
static void read_number_list(lua_State *L, int idx, int n, double *out)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        out[0] = lua_tonumber(L, idx);
        return;
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        out[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
}

/* transform({ {"to_tensor"}, {"normalize", mean, std}, ... }) -> Transform */
static int data_transform(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    sb_transform **box = lua_newuserdatauv(L, sizeof *box, 0); /* [steps, box] */
    *box = NULL;
    luaL_setmetatable(L, TRANSFORM_MT);
    sbL_check(L, sb_transform_new(box), "transform");
    int n = (int)lua_rawlen(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i); /* [steps, box, step] */
        luaL_checktype(L, -1, LUA_TTABLE);
        lua_rawgeti(L, -1, 1); /* [steps, box, step, kind] */
        const char *kind = lua_tostring(L, -1);
        if (kind && strcmp(kind, "to_tensor") == 0) {
            sbL_check(L, sb_transform_add_to_tensor(*box), "ToTensor");
        } else if (kind && strcmp(kind, "normalize") == 0) {
            lua_rawgeti(L, -2, 2);
            lua_rawgeti(L, -3, 3); /* [..., step, kind, mean, std] */
            int nm = check_number_list(L, -2, "mean");
            int ns = check_number_list(L, -1, "std");
            if (nm != ns)
                return luaL_error(L, "Normalize: mean has %d entries but std has %d", nm, ns);
            double *mean = malloc(sizeof(double) * (size_t)(nm + 1));
            double *std = malloc(sizeof(double) * (size_t)(ns + 1));
            sb_status s = SB_ENOMEM;
            if (mean && std) {
                read_number_list(L, -2, nm, mean);
                read_number_list(L, -1, ns, std);
                s = sb_transform_add_normalize(*box, nm, mean, std);
            } else {
                sb_fail(SB_ENOMEM, "out of memory");
            }
            free(mean);
            free(std);
            sbL_check(L, s, "Normalize");
            lua_pop(L, 2);
        } else if (!kind || !sbL_add_image_step(L, -2, *box, kind)) {
            return luaL_error(L, "transform: unknown step '%s'", kind ? kind : "?");
        }
        lua_pop(L, 2); /* [steps, box] */
    }
    return 1;
}

/* tf:apply(tensor) -> new tensor (CPU) */
static int transform_apply(lua_State *L)
{
    sb_transform *tf = check_transform(L, 1);
    sb_tensor *t = sbL_check_tensor(L, 2);
    if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
        return luaL_error(L, "transform: expected a CPU tensor (C transforms run on the host)");
    sb_sample_spec in = {t->dtype, t->ndim, {0}}, out;
    for (int i = 0; i < t->ndim; i++)
        in.sizes[i] = t->sizes[i];
    sbL_check(L, sb_transform_output_spec(tf, &in, &out), NULL);
    sb_tensor *src, *dst;
    sbL_check(L, sb_tensor_contiguous(t, &src), "transform");
    sb_status s = sb_tensor_empty(out.ndim, out.sizes, out.dtype, SB_CPU, &dst);
    if (s != SB_OK) {
        sb_tensor_free(src);
        sbL_check(L, s, "transform");
    }
    s = sb_transform_apply(tf, &in, sb_tensor_data(src), sb_tensor_data(dst));
    sb_tensor_free(src);
    if (s != SB_OK) sb_tensor_free(dst);
    sbL_check(L, s, "transform");
    sbL_push_tensor(L, dst);
    return 1;
}

/* --- Loader ---------------------------------------------------------------------------------- */

static sb_loader *check_loader(lua_State *L, int idx)
{
    sb_loader **box = luaL_checkudata(L, idx, LOADER_MT);
    if (!*box) luaL_error(L, "DataLoader was freed");
    return *box;
}

static int loader_gc(lua_State *L)
{
    sb_loader **box = luaL_checkudata(L, 1, LOADER_MT);
    sb_loader_free(*box);
    *box = NULL;
    return 0;
}

/* loader(dataset, transform|nil, {batch_size, shuffle, seed, num_workers, prefetch,
 *        drop_last, pin_memory}) -- option names are checked by data.lua */
static int data_loader(lua_State *L)
{
    sb_dataset *ds = *dataset_box(L, 1);
    sb_transform *tf = lua_isnoneornil(L, 2) ? NULL : check_transform(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    sb_loader_options o = {
        .batch_size = sbL_optfield_integer(L, 3, "batch_size", 1),
        .shuffle = sbL_optfield_boolean(L, 3, "shuffle", 0),
        .seed = (uint64_t)sbL_optfield_integer(L, 3, "seed", 0),
        .num_workers = (int)sbL_optfield_integer(L, 3, "num_workers", 0),
        .prefetch = (int)sbL_optfield_integer(L, 3, "prefetch", 2),
        .drop_last = sbL_optfield_boolean(L, 3, "drop_last", 0),
        .pin_memory = sbL_optfield_boolean(L, 3, "pin_memory", 0),
    };
    sb_loader **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, LOADER_MT);
    sbL_check(L, sb_loader_new(ds, tf, &o, box), "DataLoader");
    return 1;
}

static int loader_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_loader_num_batches(check_loader(L, 1)));
    return 1;
}

/* loader:pinned() -> bool, why|nil */
static int loader_pinned(lua_State *L)
{
    const char *why = NULL;
    lua_pushboolean(L, sb_loader_pinned(check_loader(L, 1), &why));
    lua_pushstring(L, why);
    return 2;
}

/* loader:input_spec() -> {dtype, shape} of one transformed sample */
static int loader_input_spec(lua_State *L)
{
    push_spec(L, sb_loader_input_spec(check_loader(L, 1)));
    return 1;
}

#define GC_OUTSTANDING 4

typedef struct iter_box {
    sb_loader_iter *it;
    lua_Integer batch; /* batches handed out so far */
    int gc_threshold;  /* outstanding batches that trigger a collection */
} iter_box;

static int iter_close(lua_State *L)
{
    iter_box *box = luaL_checkudata(L, 1, ITER_MT);
    sb_loader_iter_free(box->it);
    box->it = NULL;
    return 0;
}

/* The generic-for function: (iter, control) -> i, input, target | nil */
static int iter_next(lua_State *L)
{
    iter_box *box = luaL_checkudata(L, 1, ITER_MT);
    if (!box->it) return 0;
    sb_tensor *input, *target;
    bool done;
    sb_status s = sb_loader_iter_next(box->it, &input, &target, &done);
    if (s != SB_OK || done) {
        /* Threads and buffers go now, not when the GC gets to the iterator. */
        sb_loader_iter_free(box->it);
        box->it = NULL;
        sbL_check(L, s, "DataLoader");
        return 0;
    }
    /* The GC does not see batch memory: when earlier batches are still held (usually only
     * by garbage, the loop's previous variables), a step returns them to the pool so the
     * workers reuse warm buffers instead of faulting in new ones. */
    if (sb_loader_iter_outstanding(box->it) > box->gc_threshold) {
        lua_gc(L, LUA_GCCOLLECT);
        /* A loop that keeps its batches must not collect at every step. */
        int kept = sb_loader_iter_outstanding(box->it);
        box->gc_threshold =
            kept >= box->gc_threshold / 2 ? 2 * kept + GC_OUTSTANDING : GC_OUTSTANDING;
    }
    lua_pushinteger(L, ++box->batch);
    sbL_push_tensor(L, input);
    if (target)
        sbL_push_tensor(L, target);
    else
        lua_pushnil(L);
    return 3;
}

/* loader:iter() -> next, iter, nil, iter (iter is the to-be-closed value: `break` and
 * errors in the loop body stop the workers at once) */
static int loader_iter(lua_State *L)
{
    sb_loader *l = check_loader(L, 1);
    iter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->it = NULL;
    box->batch = 0;
    box->gc_threshold = GC_OUTSTANDING;
    luaL_setmetatable(L, ITER_MT);
    sbL_check(L, sb_loader_iter_new(l, &box->it), "DataLoader");
    lua_pushcfunction(L, iter_next);
    lua_pushvalue(L, -2);
    lua_pushnil(L);
    lua_pushvalue(L, -4); /* [iter, next, iter, nil, iter] */
    return 4;
}

/* --- helpers for the Lua-thread path ------------------------------------------------------ */

/* permutation(n, seed, pass) -> {1-based indices} */
static int data_permutation(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    uint64_t seed = (uint64_t)luaL_checkinteger(L, 2);
    uint64_t pass = (uint64_t)luaL_optinteger(L, 3, 0);
    if (n < 0) return luaL_error(L, "permutation: n must be >= 0, got %I", n);
    int64_t *order = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!order) return luaL_error(L, "permutation: out of memory");
    sb_permutation(n, seed, pass, order);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        lua_pushinteger(L, (lua_Integer)order[i] + 1);
        lua_rawseti(L, -2, i + 1);
    }
    free(order);
    return 1;
}

/* collate(list) -> a batch: tensors are stacked; integers become an int64 tensor and other
 * numbers a float64 one (torch's default_collate); anything else is returned unchanged. */
static int data_collate(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n == 0) return luaL_error(L, "collate: empty batch");
    lua_rawgeti(L, 1, 1);
    int first_type = lua_type(L, -1);
    int is_tensor = sbL_test_tensor(L, -1) != NULL;
    lua_pop(L, 1);
    if (is_tensor) {
        const sb_tensor **items = malloc(sizeof(*items) * (size_t)n);
        if (!items) return luaL_error(L, "collate: out of memory");
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            items[i - 1] = sbL_test_tensor(L, -1);
            lua_pop(L, 1); /* the list keeps it alive */
            if (!items[i - 1]) {
                free(items);
                return luaL_error(L, "collate: sample %I is not a tensor (sample 1 is)", i);
            }
        }
        sb_tensor *out;
        sb_status s = sb_data_stack(items, n, &out);
        free(items);
        sbL_check(L, s, "collate");
        sbL_push_tensor(L, out);
        return 1;
    }
    if (first_type == LUA_TNUMBER) {
        int all_int = 1;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "collate: sample %I is a %s, sample 1 a number", i,
                                  luaL_typename(L, -1));
            all_int = all_int && lua_isinteger(L, -1);
            lua_pop(L, 1);
        }
        int64_t size = n;
        sb_tensor *out;
        sbL_check(L, sb_tensor_empty(1, &size, all_int ? SB_INT64 : SB_FLOAT64, SB_CPU, &out),
                  "collate");
        void *data = sb_tensor_data(out);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            if (all_int)
                ((int64_t *)data)[i - 1] = (int64_t)lua_tointeger(L, -1);
            else
                ((double *)data)[i - 1] = (double)lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        sbL_push_tensor(L, out);
        return 1;
    }
    lua_pushvalue(L, 1);
    return 1;
}

static int download_progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    return call_lua_progress(ctx, NULL, done, total);
}

/* download(url | {urls}, dest, {md5 = hex, progress = fn(nil, done, total)}) -> index used */
static int data_download(lua_State *L)
{
    const char *urls[32];
    int n = 0;
    if (lua_istable(L, 1)) {
        n = (int)lua_rawlen(L, 1);
        if (n < 1 || n > 32) return luaL_error(L, "download: give 1..32 URLs, got %d", n);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            urls[i - 1] = lua_tostring(L, -1);
            if (!urls[i - 1]) return luaL_error(L, "download: URL %d is not a string", i);
            lua_pop(L, 1); /* the table keeps the string alive */
        }
    } else {
        urls[0] = luaL_checkstring(L, 1);
        n = 1;
    }
    const char *dest = luaL_checkstring(L, 2);
    const char *md5 = sbL_optfield_string(L, 3, "md5", NULL);
    lua_settop(L, 3);
    int has_cb = 0;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "progress"); /* [urls, dest, opts, progress] */
        has_cb = !lua_isnil(L, -1);
        if (has_cb) luaL_checktype(L, -1, LUA_TFUNCTION);
    } else {
        lua_pushnil(L);
    }
    lua_progress p = {L, 4, 0};
    sb_download_options o = {
        .md5 = md5, .progress = has_cb ? download_progress_cb : NULL, .progress_ctx = &p};
    int which = 0;
    sb_status s = sb_download_first(urls, n, dest, &o, &which);
    if (p.failed) return lua_error(L);
    sbL_check(L, s, "download");
    lua_pushinteger(L, which + 1);
    return 1;
}

int sbL_open_data(lua_State *L)
{
    static const luaL_Reg dataset_methods[] = {
        {"get", dataset_get}, {"info", dataset_info}, {NULL, NULL}};
    luaL_newmetatable(L, DATASET_MT);
    lua_pushcfunction(L, dataset_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, dataset_len);
    lua_setfield(L, -2, "__len");
    luaL_newlib(L, dataset_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    static const luaL_Reg transform_methods[] = {{"apply", transform_apply}, {NULL, NULL}};
    luaL_newmetatable(L, TRANSFORM_MT);
    lua_pushcfunction(L, transform_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, transform_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    static const luaL_Reg loader_methods[] = {{"iter", loader_iter},
                                              {"pinned", loader_pinned},
                                              {"input_spec", loader_input_spec},
                                              {NULL, NULL}};
    luaL_newmetatable(L, LOADER_MT);
    lua_pushcfunction(L, loader_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, loader_len);
    lua_setfield(L, -2, "__len");
    luaL_newlib(L, loader_methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_newmetatable(L, ITER_MT);
    lua_pushcfunction(L, iter_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, iter_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);

    static const luaL_Reg funcs[] = {
        {"mnist", data_mnist},
        {"mnist_download", data_mnist_download},
        {"cifar", data_cifar},
        {"cifar_download", data_cifar_download},
        {"tensor_dataset", data_tensor_dataset},
        {"transform", data_transform},
        {"loader", data_loader},
        {"permutation", data_permutation},
        {"collate", data_collate},
        {"download", data_download},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    lua_pushstring(L, sb_mnist_default_mirrors);
    lua_setfield(L, -2, "mnist_default_mirrors");
    return 1;
}
