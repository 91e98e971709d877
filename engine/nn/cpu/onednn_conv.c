/* conv2d through oneDNN (see onednn.h). */
#include "nn/cpu/onednn.h"

#ifndef SBENGINE_HAVE_ONEDNN
bool sb_onednn_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                      const sb_tensor *bias, const sb_conv2d_params *p, sb_status *status)
{
    (void)out, (void)x, (void)weight, (void)bias, (void)p, (void)status;
    return false;
}

const char *sb_onednn_info(void)
{
    return "not built with oneDNN";
}
#else
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_kernels.h"
#include "nn/cpu/onednn_api.h"
#include "nn/cpu/weight_cache.h"
#include "tensor/parallel.h"

typedef struct conv_key {
    int64_t n, c, h, w, o, kh, kw, oh, ow, groups;
    int64_t stride[2], pad_l[2], pad_r[2], dilation[2];
    int64_t bias, act, sum;         /* sb_conv_act; sum: a residual added before the activation */
    int64_t src_cl, dst_cl, res_cl; /* the caller's tensor is channels-last (else NCHW) */
    int64_t slot; /* which batch slice (and so which workspace and stream) it runs on */
} conv_key;

/* A convolution for one shape: the primitive, and the reorders between the caller's NCHW /
 * OIHW tensors and the layouts the primitive chose (NULL when they are the same). */
typedef struct conv_entry {
    conv_key key;
    dnnl_primitive_t conv, src_reorder, w_reorder, dst_reorder, res_reorder;
    /* the caller's buffers (user_res: the residual, in the output's NCHW layout) */
    dnnl_memory_t user_src, user_w, user_b, user_dst, user_res;
    dnnl_memory_t src, w, dst; /* the primitive's; workspace buffers (w: prepared weights) */
    size_t src_bytes, w_bytes, dst_bytes;
    dnnl_memory_desc_t w_md; /* the primitive's weights layout (the weight cache's key) */
    /* Each primitive's scratchpad (user-managed: oneDNN's own is per creating thread, and
     * slices run on pool threads), all in the slot's scratch buffer; NULL when none. */
    dnnl_memory_t conv_scratch, src_scratch, w_scratch, dst_scratch, res_scratch;
    size_t scratch_bytes; /* the largest of them */
} conv_entry;

#define CACHE_SIZE 64
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sb_dnnl_cache cache = {.size = CACHE_SIZE};

/* Reordered activations and weights live in buffers shared by all entries of a slot (one
 * convolution runs at a time per slot), grown to the largest need: the input, the weights,
 * the output in the primitive's layouts, and the unpooled output of a fused max pooling.
 *
 * Slots: with T > 1 engine threads and a batch of at least 2, the batch is cut into up to
 * T slices that the engine's pool runs side by side, each through a single-threaded
 * primitive. oneDNN's own OpenMP team is used only for a batch of 1: OpenMP's barriers
 * spin, and on a loaded machine a descheduled team member stalls every layer (measured:
 * docs/perf.md), where the pool's slices just finish later. */
#define MAX_SLOTS 16
#define MIN_OUT_CHANNELS 32
enum { WS_SRC, WS_WEIGHTS, WS_DST, WS_SCRATCH, WS_UNPOOLED, WS_COUNT };
static struct {
    void *ptr;
    size_t size;
} workspace[MAX_SLOTS][WS_COUNT];
static dnnl_stream_t streams[MAX_SLOTS];

static void *workspace_get(int slot, int i, size_t bytes)
{
    if (workspace[slot][i].size < bytes) {
        free(workspace[slot][i].ptr);
        workspace[slot][i].size = 0;
        workspace[slot][i].ptr = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!workspace[slot][i].ptr) return NULL;
        workspace[slot][i].size = bytes;
    }
    return workspace[slot][i].ptr;
}

static void entry_free(const sb_dnnl_api *d, conv_entry *e)
{
    if (!e) return;
    dnnl_primitive_t prims[] = {e->conv, e->src_reorder, e->w_reorder, e->dst_reorder,
                                e->res_reorder};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i]) d->dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {e->user_src,     e->user_w,      e->user_b,    e->user_dst,
                            e->user_res,     e->src,         e->w,         e->dst,
                            e->conv_scratch, e->src_scratch, e->w_scratch, e->dst_scratch,
                            e->res_scratch};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) d->dnnl_memory_destroy(mems[i]);
    free(e);
}

/* The oneDNN eltwise post-op of an activation: kind and alpha, beta. */
static bool eltwise_of(int64_t act, dnnl_alg_kind_t *alg, float *alpha, float *beta)
{
    *alpha = 0.0f, *beta = 0.0f;
    switch (act) {
    case SB_CONV_ACT_RELU:
        *alg = dnnl_eltwise_relu;
        return true;
    case SB_CONV_ACT_RELU6: /* min(max(x, 0), 6) */
        *alg = dnnl_eltwise_clip_v2, *beta = 6.0f;
        return true;
    case SB_CONV_ACT_HARDSWISH:
        *alg = dnnl_eltwise_hardswish;
        return true;
    case SB_CONV_ACT_SILU: /* x * sigmoid(1 * x) */
        *alg = dnnl_eltwise_swish, *alpha = 1.0f;
        return true;
    default:
        return false;
    }
}

/* Attributes asking for a user-managed scratchpad, with the post-ops asked for: the sum
 * (the residual, which the output buffer holds when the convolution runs), then the
 * activation. */
static dnnl_primitive_attr_t make_attr(const sb_dnnl_api *d, int64_t act, bool sum)
{
    dnnl_primitive_attr_t attr = NULL;
    if (d->dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    bool ok =
        d->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    dnnl_alg_kind_t alg = dnnl_eltwise_relu;
    float alpha, beta;
    const bool eltwise = eltwise_of(act, &alg, &alpha, &beta);
    if (ok && (eltwise || sum)) {
        dnnl_post_ops_t ops = NULL;
        ok = d->dnnl_post_ops_create(&ops) == dnnl_success;
        if (ok && sum) ok = d->dnnl_post_ops_append_sum(ops, 1.0f) == dnnl_success;
        if (ok && eltwise)
            ok = d->dnnl_post_ops_append_eltwise(ops, 1.0f, alg, alpha, beta) == dnnl_success;
        ok = ok && d->dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success;
        if (ops) d->dnnl_post_ops_destroy(ops);
    }
    if (!ok) {
        d->dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

/* The primitive and the memory object of its scratchpad (none when it needs none). */
static bool make_primitive(const sb_dnnl_api *d, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                           dnnl_memory_t *scratch, size_t *scratch_bytes)
{
    const dnnl_memory_desc_t *md = d->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = md ? d->dnnl_memory_desc_get_size(md) : 0;
    if (bytes > 0) {
        if (d->dnnl_memory_create(scratch, md, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
            return false;
        if (bytes > *scratch_bytes) *scratch_bytes = bytes;
    }
    return d->dnnl_primitive_create(prim, pd) == dnnl_success;
}

/* A reorder from `from` to `to` when the layouts differ: creates the primitive-side memory
 * and the reorder; otherwise leaves both NULL (the caller's memory is used directly). */
static bool make_reorder(const sb_dnnl_api *d, const dnnl_memory_desc_t *from,
                         const dnnl_memory_desc_t *to, bool into_primitive, dnnl_memory_t *mem,
                         dnnl_primitive_t *reorder, size_t *bytes, dnnl_memory_t *scratch,
                         size_t *scratch_bytes)
{
    if (d->dnnl_memory_desc_equal(from, to)) return true;
    const dnnl_memory_desc_t *other = into_primitive ? to : from;
    if (d->dnnl_memory_create(mem, other, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
        return false;
    *bytes = d->dnnl_memory_desc_get_size(other);
    dnnl_primitive_attr_t attr = make_attr(d, SB_CONV_ACT_NONE, false);
    if (!attr) return false;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = d->dnnl_reorder_primitive_desc_create(&pd, from, d->engine, to, d->engine, attr) ==
              dnnl_success;
    d->dnnl_primitive_attr_destroy(attr);
    ok = ok && make_primitive(d, pd, reorder, scratch, scratch_bytes);
    if (pd) d->dnnl_primitive_desc_destroy(pd);
    return ok;
}

static conv_entry *entry_create(const sb_dnnl_api *d, const conv_key *k)
{
    conv_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = *k;
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md, any_src, any_w, any_dst;
    dnnl_dims_t src_dims = {k->n, k->c, k->h, k->w};
    dnnl_dims_t dst_dims = {k->n, k->o, k->oh, k->ow};
    dnnl_dims_t b_dims = {k->o};
    dnnl_dims_t w_dims = {k->groups, k->o / k->groups, k->c / k->groups, k->kh, k->kw};
    if (k->groups == 1) {
        dnnl_dims_t w4 = {k->o, k->c, k->kh, k->kw};
        memcpy(w_dims, w4, sizeof w4);
    }
    const int w_ndims = k->groups == 1 ? 4 : 5;
    dnnl_dims_t strides = {k->stride[0], k->stride[1]};
    dnnl_dims_t dilates = {k->dilation[0] - 1, k->dilation[1] - 1};
    dnnl_dims_t pad_l = {k->pad_l[0], k->pad_l[1]}, pad_r = {k->pad_r[0], k->pad_r[1]};
    bool ok =
        d->dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32,
                                        k->src_cl ? dnnl_nhwc : dnnl_nchw) == dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32,
                                        k->dst_cl ? dnnl_nhwc : dnnl_nchw) == dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x) == dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&w_md, w_ndims, w_dims, dnnl_f32,
                                        k->groups == 1 ? dnnl_oihw : dnnl_goihw) == dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&any_src, 4, src_dims, dnnl_f32, dnnl_format_tag_any) ==
            dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&any_dst, 4, dst_dims, dnnl_f32, dnnl_format_tag_any) ==
            dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&any_w, w_ndims, w_dims, dnnl_f32, dnnl_format_tag_any) ==
            dnnl_success;
    dnnl_convolution_desc_t cd;
    ok =
        ok && d->dnnl_dilated_convolution_forward_desc_init(
                  &cd, dnnl_forward_inference, dnnl_convolution_direct, &any_src, &any_w,
                  k->bias ? &b_md : NULL, &any_dst, strides, dilates, pad_l, pad_r) == dnnl_success;
    dnnl_primitive_attr_t attr = ok ? make_attr(d, k->act, k->sum) : NULL;
    dnnl_primitive_desc_t pd = NULL;
    ok = ok && attr &&
         d->dnnl_primitive_desc_create(&pd, &cd, attr, d->engine, NULL) == dnnl_success;
    if (attr) d->dnnl_primitive_attr_destroy(attr);
    if (ok) {
        const dnnl_memory_desc_t *p_src = d->dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *p_w =
            d->dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *p_dst = d->dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        ok =
            make_primitive(d, pd, &e->conv, &e->conv_scratch, &e->scratch_bytes) &&
            d->dnnl_memory_create(&e->user_src, &src_md, d->engine, DNNL_MEMORY_NONE) ==
                dnnl_success &&
            d->dnnl_memory_create(&e->user_w, &w_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
            d->dnnl_memory_create(&e->user_b, &b_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
            d->dnnl_memory_create(&e->user_dst, &dst_md, d->engine, DNNL_MEMORY_NONE) ==
                dnnl_success &&
            make_reorder(d, &src_md, p_src, true, &e->src, &e->src_reorder, &e->src_bytes,
                         &e->src_scratch, &e->scratch_bytes) &&
            make_reorder(d, &w_md, p_w, true, &e->w, &e->w_reorder, &e->w_bytes, &e->w_scratch,
                         &e->scratch_bytes) &&
            make_reorder(d, p_dst, &dst_md, false, &e->dst, &e->dst_reorder, &e->dst_bytes,
                         &e->dst_scratch, &e->scratch_bytes);
        if (ok) e->w_md = *p_w;
        /* the residual goes into the primitive's output buffer before it runs */
        if (ok && k->sum) {
            dnnl_memory_desc_t res_md;
            dnnl_memory_t unused = NULL;
            size_t unused_bytes = 0;
            ok = d->dnnl_memory_desc_init_by_tag(&res_md, 4, dst_dims, dnnl_f32,
                                                 k->res_cl ? dnnl_nhwc : dnnl_nchw) ==
                     dnnl_success &&
                 d->dnnl_memory_create(&e->user_res, &res_md, d->engine, DNNL_MEMORY_NONE) ==
                     dnnl_success &&
                 make_reorder(d, &res_md, p_dst, true, &unused, &e->res_reorder, &unused_bytes,
                              &e->res_scratch, &e->scratch_bytes);
            if (unused) d->dnnl_memory_destroy(unused);
        }
    }
    if (pd) d->dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        entry_free(d, e);
        return NULL;
    }
    return e;
}

/* The cached entry for k, else a new one (busy: the entries the current call holds). */
static conv_entry *entry_for(const sb_dnnl_api *d, const conv_key *k, void *const *busy, int nbusy)
{
    conv_entry *e = sb_dnnl_cache_find(&cache, k, sizeof *k);
    if (e) return e;
    e = entry_create(d, k);
    if (e) entry_free(d, sb_dnnl_cache_put(&cache, e, busy, nbusy));
    return e;
}

/* One slice: the reorders and the convolution on `slot`'s stream and workspace, then the
 * fused 2x2 pooling when asked. False on failure (the caller reports it: sb_fail's message
 * is per thread and this may run on a pool worker). */
typedef struct slice {
    conv_entry *e;
    const float *x, *w, *b, *res; /* w: in e's weights layout; res: NULL without a residual */
    const sb_prepared_weights *prepared; /* what w, b come from (released after the run) */
    float *out;                          /* pooled output when pool is set */
    int64_t poh, pow;
    bool pool;
} slice;

typedef struct conv_run {
    const sb_dnnl_api *d;
    slice slices[MAX_SLOTS];
    int omp_threads;
    atomic_bool failed;
    bool out_of_memory;
} conv_run;

static bool run_slice(conv_run *r, int slot)
{
    const sb_dnnl_api *d = r->d;
    const slice *sl = &r->slices[slot];
    conv_entry *e = sl->e;
    const conv_key *k = &e->key;
    void *ws[4] = {NULL, NULL, NULL, NULL};
    size_t need[4] = {e->src_bytes, 0, e->dst_bytes, e->scratch_bytes};
    for (int i = WS_SRC; i <= WS_SCRATCH; i++)
        if (need[i] && !(ws[i] = workspace_get(slot, i, need[i]))) {
            r->out_of_memory = true;
            return false;
        }
    float *dst_ptr = sl->out;
    if (sl->pool) {
        dst_ptr = workspace_get(slot, WS_UNPOOLED, (size_t)(k->n * k->o * k->oh * k->ow) * 4);
        if (!dst_ptr) {
            r->out_of_memory = true;
            return false;
        }
    }
    if (!streams[slot] &&
        d->dnnl_stream_create(&streams[slot], d->engine, dnnl_stream_default_flags) != dnnl_success)
        return false;
    dnnl_stream_t stream = streams[slot];
    d->dnnl_memory_set_data_handle(e->user_src, (void *)sl->x);
    d->dnnl_memory_set_data_handle(e->w ? e->w : e->user_w, (void *)sl->w);
    if (sl->b) d->dnnl_memory_set_data_handle(e->user_b, (void *)sl->b);
    d->dnnl_memory_set_data_handle(e->user_dst, dst_ptr);
    if (sl->res) d->dnnl_memory_set_data_handle(e->user_res, (void *)sl->res);
    if (e->src) d->dnnl_memory_set_data_handle(e->src, ws[0]);
    if (e->dst) d->dnnl_memory_set_data_handle(e->dst, ws[2]);
    dnnl_memory_t scratches[] = {e->conv_scratch, e->src_scratch, e->dst_scratch, e->res_scratch};
    for (int i = 0; i < 4; i++)
        if (scratches[i]) d->dnnl_memory_set_data_handle(scratches[i], ws[3]);
    if (d->omp_set_num_threads) d->omp_set_num_threads(r->omp_threads);
    dnnl_memory_t src = e->src ? e->src : e->user_src;
    dnnl_memory_t w = e->w ? e->w : e->user_w;
    dnnl_memory_t dst = e->dst ? e->dst : e->user_dst;
    bool ok = true;
    if (e->src_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, e->user_src},
                               {DNNL_ARG_TO, src},
                               {DNNL_ARG_SCRATCHPAD, e->src_scratch}};
        ok = d->dnnl_primitive_execute(e->src_reorder, stream, e->src_scratch ? 3 : 2, a) ==
             dnnl_success;
    }
    /* the residual into the output buffer, where the sum post-op adds it */
    if (ok && sl->res && e->res_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, e->user_res},
                               {DNNL_ARG_TO, dst},
                               {DNNL_ARG_SCRATCHPAD, e->res_scratch}};
        ok = d->dnnl_primitive_execute(e->res_reorder, stream, e->res_scratch ? 3 : 2, a) ==
             dnnl_success;
    } else if (ok && sl->res) { /* the same layout as the primitive's output */
        memcpy(e->dst ? ws[2] : dst_ptr, sl->res,
               (size_t)(k->n * k->o * k->oh * k->ow) * sizeof(float));
    }
    if (ok) {
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
        int nargs = 3;
        if (sl->b) a[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->user_b};
        if (e->conv_scratch) a[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->conv_scratch};
        ok = d->dnnl_primitive_execute(e->conv, stream, nargs, a) == dnnl_success;
    }
    if (ok && e->dst_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, dst},
                               {DNNL_ARG_TO, e->user_dst},
                               {DNNL_ARG_SCRATCHPAD, e->dst_scratch}};
        ok = d->dnnl_primitive_execute(e->dst_reorder, stream, e->dst_scratch ? 3 : 2, a) ==
             dnnl_success;
    }
    ok = ok && d->dnnl_stream_wait(stream) == dnnl_success;
    if (ok && sl->pool) /* the engine's 2x2 pooling: the numbers of conv2d + max_pool2d */
        for (int64_t i = 0; i < k->n * k->o; i++)
            sb_nn_cpu_max_pool_2x2(dst_ptr + i * k->oh * k->ow, k->ow, sl->poh, sl->pow,
                                   sl->out + i * sl->poh * sl->pow);
    return ok;
}

static void run_slices(void *ctx, int64_t begin, int64_t end)
{
    conv_run *r = ctx;
    for (int64_t s = begin; s < end; s++)
        if (!run_slice(r, (int)s)) atomic_store(&r->failed, true);
}

/* The weight cache's layout key: a oneDNN memory descriptor. */
static bool md_equal(const void *a, const void *b)
{
    const sb_dnnl_api *d = sb_dnnl(NULL);
    return d && d->dnnl_memory_desc_equal(a, b);
}

typedef struct weight_prep {
    const sb_dnnl_api *d;
    conv_entry *e;
} weight_prep;

/* Plain OIHW weights into the primitive's layout, with the entry's weight reorder on the
 * calling thread (under `lock`, before the slices run: slot 0's scratch buffer is free). */
static bool reorder_weights(void *ctx, const float *plain, void *out)
{
    const weight_prep *wp = ctx;
    const sb_dnnl_api *d = wp->d;
    conv_entry *e = wp->e;
    void *scratch = NULL;
    if (e->w_scratch && !(scratch = workspace_get(0, WS_SCRATCH, e->scratch_bytes))) return false;
    d->dnnl_memory_set_data_handle(e->user_w, (void *)plain);
    d->dnnl_memory_set_data_handle(e->w, out);
    if (e->w_scratch) d->dnnl_memory_set_data_handle(e->w_scratch, scratch);
    if (d->omp_set_num_threads) d->omp_set_num_threads(sb_get_num_threads());
    dnnl_exec_arg_t a[] = {
        {DNNL_ARG_FROM, e->user_w}, {DNNL_ARG_TO, e->w}, {DNNL_ARG_SCRATCHPAD, e->w_scratch}};
    return d->dnnl_primitive_execute(e->w_reorder, d->stream, e->w_scratch ? 3 : 2, a) ==
               dnnl_success &&
           d->dnnl_stream_wait(d->stream) == dnnl_success;
}

bool sb_onednn_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                      const sb_tensor *bias, const sb_conv2d_params *p, sb_status *status)
{
    if (x->dtype != SB_FLOAT32 || sb_tensor_numel(out) == 0) return false;
    if (sb_dnnl_turned_off()) return false;
    /* Per-op choice, measured (docs/perf.md): LeNet-5's convolutions (6 and 16 output
     * channels) run 3x faster in the engine's own kernel, where oneDNN's 16-channel blocks
     * are mostly padding; ResNet's (64 and up) 2.5x faster in oneDNN. */
    if (weight->sizes[0] < MIN_OUT_CHANNELS) return false;
    const sb_dnnl_api *d = sb_dnnl(NULL);
    if (!d) return false;
    conv_key k;
    memset(&k, 0, sizeof k); /* the key is compared bytewise */
    const int64_t n = x->sizes[0];
    k.c = x->sizes[1], k.h = x->sizes[2], k.w = x->sizes[3];
    k.o = weight->sizes[0], k.kh = weight->sizes[2], k.kw = weight->sizes[3];
    k.oh = p->max_pool2 ? p->out_h : out->sizes[2];
    k.ow = p->max_pool2 ? p->out_w : out->sizes[3];
    k.groups = p->groups;
    if (k.c == 0) return false;
    const int64_t in[2] = {k.h, k.w}, ker[2] = {k.kh, k.kw}, outs[2] = {k.oh, k.ow};
    for (int i = 0; i < 2; i++) {
        k.stride[i] = p->stride[i];
        k.dilation[i] = p->dilation[i];
        k.pad_l[i] = p->pad[i];
        /* The far-side padding that gives the output size (never negative for oneDNN: its
         * output size rounds down as PyTorch's does). */
        int64_t r =
            (outs[i] - 1) * p->stride[i] + (ker[i] - 1) * p->dilation[i] + 1 - in[i] - p->pad[i];
        k.pad_r[i] = r < 0 ? 0 : r;
    }
    const sb_conv2d_fusion *f = p->fusion;
    const sb_conv_bn *bn = f ? f->bn : NULL;
    k.bias = bias != NULL || bn != NULL;
    k.act = f ? f->act : p->relu ? SB_CONV_ACT_RELU : SB_CONV_ACT_NONE;
    k.sum = f && f->residual;
    /* the front-end passes 4-D tensors either contiguous or channels-last */
    k.src_cl = !sb_tensor_is_contiguous(x);
    k.dst_cl = !sb_tensor_is_contiguous(out);
    k.res_cl = k.sum && !sb_tensor_is_contiguous(f->residual);

    const int threads = sb_get_num_threads();
    int64_t slots = threads < MAX_SLOTS ? threads : MAX_SLOTS;
    if (slots > n) slots = n;
    const int64_t chunk = (n + slots - 1) / slots;
    slots = (n + chunk - 1) / chunk;
    conv_run r = {.d = d, .omp_threads = slots > 1 ? 1 : threads};
    atomic_init(&r.failed, false);
    const float *xd = sb_tensor_data(x);
    const float *rd = k.sum ? sb_tensor_data(f->residual) : NULL;
    float *od = sb_tensor_data(out);
    const int64_t x_image = k.c * k.h * k.w, out_image = k.o * out->sizes[2] * out->sizes[3];

    pthread_mutex_lock(&lock);
    bool handled = true;
    for (int64_t s = 0; s < slots && handled; s++) {
        k.slot = s;
        k.n = s == slots - 1 ? n - s * chunk : chunk;
        void *busy[MAX_SLOTS];
        for (int64_t b = 0; b < s; b++)
            busy[b] = r.slices[b].e;
        conv_entry *e = entry_for(d, &k, busy, (int)s);
        if (!e) {
            handled = false; /* oneDNN has no implementation for this case: the engine's kernel */
            break;
        }
        r.slices[s] = (slice){.e = e,
                              .x = xd + s * chunk * x_image,
                              .res = rd ? rd + s * chunk * out_image : NULL,
                              .out = od + s * chunk * out_image,
                              .poh = out->sizes[2],
                              .pow = out->sizes[3],
                              .pool = p->max_pool2};
    }
    /* The weights: the caller's when the primitive reads them as they are; else prepared
     * (batch norm folded in, reordered) once and kept while none of their sources changes. */
    sb_status st = SB_OK;
    for (int64_t s = 0; s < slots && handled && st == SB_OK; s++) {
        slice *sl = &r.slices[s];
        if (!bn && !sl->e->w_reorder) {
            sl->w = sb_tensor_data(weight);
            sl->b = bias ? sb_tensor_data(bias) : NULL;
            continue;
        }
        weight_prep wp = {.d = d, .e = sl->e};
        sl->prepared = sb_weight_cache_get(weight, bias, bn, sl->e->w_reorder ? &sl->e->w_md : NULL,
                                           sizeof sl->e->w_md, md_equal, sl->e->w_bytes,
                                           reorder_weights, &wp, &st);
        if (sl->prepared) {
            sl->w = sl->prepared->w;
            sl->b = sl->prepared->b ? sl->prepared->b : bias ? sb_tensor_data(bias) : NULL;
        }
    }
    if (handled && st == SB_OK) {
        if (slots > 1)
            sb_parallel_for(slots, 1, run_slices, &r);
        else
            run_slices(&r, 0, 1);
    }
    pthread_mutex_unlock(&lock);
    for (int64_t s = 0; s < slots; s++)
        sb_weight_cache_release(r.slices[s].prepared);
    if (!handled) return false;
    if (st != SB_OK)
        *status = st;
    else if (r.out_of_memory)
        *status = sb_fail(SB_ENOMEM, "conv2d: out of memory for oneDNN's buffers");
    else if (atomic_load(&r.failed))
        *status = sb_fail(SB_EUNSUPPORTED, "conv2d: oneDNN failed to run the convolution");
    else
        *status = SB_OK;
    return true;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41:
        return "sse41";
    case dnnl_cpu_isa_avx:
        return "avx";
    case dnnl_cpu_isa_avx2:
        return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
        return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
        return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
        return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
        return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
        return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
        return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
        return "avx512_core_amx";
    default:
        return "unknown ISA";
    }
}

const char *sb_onednn_info(void)
{
    static char info[600];
    if (sb_dnnl_turned_off()) return "off (SBENGINE_ONEDNN=0)";
    const char *why = "";
    const sb_dnnl_api *d = sb_dnnl(&why);
    if (!d) {
        snprintf(info, sizeof info, "not available: %s", why);
        return info;
    }
    const dnnl_version_t *v = d->dnnl_version();
    snprintf(info, sizeof info, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
             isa_name(d->dnnl_get_effective_cpu_isa()));
    return info;
}
#endif
