/* max_pool2d and avg_pool2d through oneDNN (see onednn.h). */
#include "nn/cpu/onednn.h"

bool sb_onednn_pool_matches(bool is_max, const int64_t in[2], const int64_t out[2],
                            const sb_pool2d_params *p, int64_t pad_r[2])
{
    if (!is_max && p->divisor_override > 0) return false;
    for (int i = 0; i < 2; i++) {
        const int64_t d = is_max ? p->dilation[i] : 1;
        const int64_t extent = (p->kernel[i] - 1) * d + 1;
        /* the last window's end past the input: at least the near side's padding (then
         * oneDNN's output size is PyTorch's floor), more with ceil_mode */
        const int64_t reach = (out[i] - 1) * p->stride[i] + extent - in[i] - p->pad[i];
        pad_r[i] = reach > p->pad[i] ? reach : p->pad[i];
        if (!is_max && p->count_include_pad && reach > p->pad[i]) return false;
        /* oneDNN wants every window to touch the input */
        if (pad_r[i] >= extent || p->pad[i] >= extent) return false;
    }
    return true;
}

bool sb_onednn_pool_chosen(bool is_max, bool channels_last, const int64_t in[2],
                           const int64_t out[2], const sb_pool2d_params *p)
{
    int64_t pad_r[2];
    if (!sb_onednn_pool_matches(is_max, in, out, p, pad_r)) return false;
    if (channels_last || !is_max) return true;
    /* NCHW max pooling: the engine's 2x2 stride-2 loop, and its padded loop on planes
     * larger than 64x64 (ResNet's stem at 224x224: 112x112), beat oneDNN's */
    const bool two_by_two = p->kernel[0] == 2 && p->kernel[1] == 2 && p->stride[0] == 2 &&
                            p->stride[1] == 2 && p->pad[0] == 0 && p->pad[1] == 0 &&
                            p->dilation[0] == 1 && p->dilation[1] == 1;
    return !two_by_two && in[0] * in[1] <= 64 * 64;
}

#ifndef SBENGINE_HAVE_ONEDNN
bool sb_onednn_pool2d(bool is_max, sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p,
                      sb_status *status)
{
    (void)is_max, (void)out, (void)x, (void)p, (void)status;
    return false;
}
#else
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_kernels.h"
#include "nn/cpu/onednn_api.h"
#include "tensor/parallel.h"

typedef struct pool_key {
    int64_t n, c, h, w, oh, ow;
    int64_t kernel[2], stride[2], dilation[2], pad_l[2], pad_r[2];
    int64_t alg, channels_last;
    int64_t slot; /* the batch slice it runs on (its stream and scratch buffer) */
} pool_key;

typedef struct pool_entry {
    pool_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scratch; /* scratch: NULL when the primitive needs none */
    size_t scratch_bytes;
} pool_entry;

/* Primitives per shape; the batch is cut into slices as for convolutions (onednn_conv.c):
 * one single-threaded primitive per engine thread, oneDNN's OpenMP team for one image. */
#define CACHE_SIZE 32
#define MAX_SLOTS 16
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sb_dnnl_cache cache = {.size = CACHE_SIZE};
static dnnl_stream_t streams[MAX_SLOTS];
static struct {
    void *ptr;
    size_t size;
} scratch[MAX_SLOTS];

static void entry_free(const sb_dnnl_api *d, pool_entry *e)
{
    if (!e) return;
    if (e->prim) d->dnnl_primitive_destroy(e->prim);
    dnnl_memory_t mems[] = {e->src, e->dst, e->scratch};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) d->dnnl_memory_destroy(mems[i]);
    free(e);
}

static pool_entry *entry_create(const sb_dnnl_api *d, const pool_key *k)
{
    pool_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = *k;
    const dnnl_format_tag_t tag = k->channels_last ? dnnl_nhwc : dnnl_nchw;
    dnnl_dims_t src_dims = {k->n, k->c, k->h, k->w}, dst_dims = {k->n, k->c, k->oh, k->ow};
    dnnl_dims_t strides = {k->stride[0], k->stride[1]}, kernel = {k->kernel[0], k->kernel[1]};
    dnnl_dims_t dilation = {k->dilation[0] - 1, k->dilation[1] - 1};
    dnnl_dims_t pad_l = {k->pad_l[0], k->pad_l[1]}, pad_r = {k->pad_r[0], k->pad_r[1]};
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_pooling_v2_desc_t pd_desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok =
        d->dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, tag) == dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, tag) == dnnl_success &&
        d->dnnl_pooling_v2_forward_desc_init(&pd_desc, dnnl_forward_inference,
                                             (dnnl_alg_kind_t)k->alg, &src_md, &dst_md, strides,
                                             kernel, dilation, pad_l, pad_r) == dnnl_success &&
        d->dnnl_primitive_attr_create(&attr) == dnnl_success &&
        d->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
            dnnl_success &&
        d->dnnl_primitive_desc_create(&pd, &pd_desc, attr, d->engine, NULL) == dnnl_success;
    if (attr) d->dnnl_primitive_attr_destroy(attr);
    if (ok) {
        const dnnl_memory_desc_t *md =
            d->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        e->scratch_bytes = md ? d->dnnl_memory_desc_get_size(md) : 0;
        ok = (e->scratch_bytes == 0 || d->dnnl_memory_create(&e->scratch, md, d->engine,
                                                             DNNL_MEMORY_NONE) == dnnl_success) &&
             d->dnnl_memory_create(&e->src, &src_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
             d->dnnl_memory_create(&e->dst, &dst_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
             d->dnnl_primitive_create(&e->prim, pd) == dnnl_success;
    }
    if (pd) d->dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        entry_free(d, e);
        return NULL;
    }
    return e;
}

/* The cached entry for k, else a new one (busy: the entries the current call holds). */
static pool_entry *entry_for(const sb_dnnl_api *d, const pool_key *k, void *const *busy, int nbusy)
{
    pool_entry *e = sb_dnnl_cache_find(&cache, k, sizeof *k);
    if (e) return e;
    e = entry_create(d, k);
    if (e) entry_free(d, sb_dnnl_cache_put(&cache, e, busy, nbusy));
    return e;
}

typedef struct pool_run {
    const sb_dnnl_api *d;
    pool_entry *entries[MAX_SLOTS];
    const float *x[MAX_SLOTS];
    float *y[MAX_SLOTS];
    int64_t x_floats[MAX_SLOTS];
    int omp_threads;
    bool check_nan;
    atomic_bool failed, nan;
} pool_run;

/* Whether x holds a NaN (or an infinity: x * 0 is NaN for both; the caller then takes the
 * engine's kernel, which is right for either). Independent lanes, so it vectorises. */
SB_NN_VECTOR_CLONES static bool has_nan(const float *x, int64_t n)
{
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            lanes[j] += x[i + j] * 0.0f;
    float sum = 0.0f;
    for (; i < n; i++)
        sum += x[i] * 0.0f;
    for (int j = 0; j < 16; j++)
        sum += lanes[j];
    return sum != sum;
}

static bool run_slice(pool_run *r, int slot)
{
    const sb_dnnl_api *d = r->d;
    pool_entry *e = r->entries[slot];
    /* oneDNN's max pooling drops NaNs, PyTorch's propagates them: such inputs go to the
     * engine's kernel (the scan costs one read of the input, the pooling's own cost) */
    if (r->check_nan && has_nan(r->x[slot], r->x_floats[slot])) {
        atomic_store(&r->nan, true);
        return true;
    }
    if (!streams[slot] &&
        d->dnnl_stream_create(&streams[slot], d->engine, dnnl_stream_default_flags) != dnnl_success)
        return false;
    if (scratch[slot].size < e->scratch_bytes) {
        free(scratch[slot].ptr);
        scratch[slot].size = 0;
        scratch[slot].ptr = aligned_alloc(64, (e->scratch_bytes + 63) / 64 * 64);
        if (!scratch[slot].ptr) return false;
        scratch[slot].size = e->scratch_bytes;
    }
    d->dnnl_memory_set_data_handle(e->src, (void *)r->x[slot]);
    d->dnnl_memory_set_data_handle(e->dst, r->y[slot]);
    if (e->scratch) d->dnnl_memory_set_data_handle(e->scratch, scratch[slot].ptr);
    if (d->omp_set_num_threads) d->omp_set_num_threads(r->omp_threads);
    dnnl_exec_arg_t a[] = {
        {DNNL_ARG_SRC, e->src}, {DNNL_ARG_DST, e->dst}, {DNNL_ARG_SCRATCHPAD, e->scratch}};
    return d->dnnl_primitive_execute(e->prim, streams[slot], e->scratch ? 3 : 2, a) ==
               dnnl_success &&
           d->dnnl_stream_wait(streams[slot]) == dnnl_success;
}

static void run_slices(void *ctx, int64_t begin, int64_t end)
{
    pool_run *r = ctx;
    for (int64_t s = begin; s < end; s++)
        if (!run_slice(r, (int)s)) atomic_store(&r->failed, true);
}

bool sb_onednn_pool2d(bool is_max, sb_tensor *out, const sb_tensor *x, const sb_pool2d_params *p,
                      sb_status *status)
{
    if (x->dtype != SB_FLOAT32 || sb_tensor_numel(out) == 0 || sb_dnnl_turned_off()) return false;
    const bool channels_last = !sb_tensor_is_contiguous(x);
    const int64_t in[2] = {x->sizes[2], x->sizes[3]}, outs[2] = {out->sizes[2], out->sizes[3]};
    if (!sb_onednn_pool_chosen(is_max, channels_last, in, outs, p)) return false;
    const sb_dnnl_api *d = sb_dnnl(NULL);
    if (!d) return false;
    pool_key k;
    memset(&k, 0, sizeof k); /* compared bytewise */
    k.c = x->sizes[1], k.h = in[0], k.w = in[1], k.oh = outs[0], k.ow = outs[1];
    sb_onednn_pool_matches(is_max, in, outs, p, k.pad_r);
    for (int i = 0; i < 2; i++) {
        k.kernel[i] = p->kernel[i];
        k.stride[i] = p->stride[i];
        k.dilation[i] = is_max ? p->dilation[i] : 1;
        k.pad_l[i] = p->pad[i];
    }
    k.alg = is_max                 ? dnnl_pooling_max
            : p->count_include_pad ? dnnl_pooling_avg_include_padding
                                   : dnnl_pooling_avg_exclude_padding;
    k.channels_last = channels_last;

    const int64_t n = x->sizes[0];
    const int threads = sb_get_num_threads();
    int64_t slots = threads < MAX_SLOTS ? threads : MAX_SLOTS;
    if (slots > n) slots = n;
    const int64_t chunk = (n + slots - 1) / slots;
    slots = (n + chunk - 1) / chunk;
    pool_run r = {.d = d, .omp_threads = slots > 1 ? 1 : threads, .check_nan = is_max};
    atomic_init(&r.failed, false);
    atomic_init(&r.nan, false);
    const float *xd = sb_tensor_data(x);
    float *yd = sb_tensor_data(out);
    const int64_t x_image = k.c * k.h * k.w, y_image = k.c * k.oh * k.ow;

    pthread_mutex_lock(&lock);
    bool handled = true;
    void *busy[MAX_SLOTS];
    for (int64_t s = 0; s < slots && handled; s++) {
        k.slot = s;
        k.n = s == slots - 1 ? n - s * chunk : chunk;
        pool_entry *e = entry_for(d, &k, busy, (int)s);
        busy[s] = e;
        handled = e != NULL; /* no implementation for this case: the engine's kernel */
        r.entries[s] = e;
        r.x[s] = xd + s * chunk * x_image;
        r.x_floats[s] = k.n * x_image;
        r.y[s] = yd + s * chunk * y_image;
    }
    if (handled) {
        if (slots > 1)
            sb_parallel_for(slots, 1, run_slices, &r);
        else
            run_slices(&r, 0, 1);
    }
    pthread_mutex_unlock(&lock);
    if (!handled || atomic_load(&r.nan)) return false;
    *status = atomic_load(&r.failed)
                  ? sb_fail(SB_EUNSUPPORTED, "%s: oneDNN failed to run the pooling",
                            is_max ? "max_pool2d" : "avg_pool2d")
                  : SB_OK;
    return true;
}
#endif
