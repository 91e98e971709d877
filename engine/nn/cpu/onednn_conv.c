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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu_kernels.h"
#include "nn/cpu/onednn_api.h"
#include "tensor/parallel.h"

typedef struct conv_key {
    int64_t n, c, h, w, o, kh, kw, oh, ow, groups;
    int64_t stride[2], pad_l[2], pad_r[2], dilation[2];
    int64_t bias, relu;
} conv_key;

/* A convolution for one shape: the primitive, and the reorders between the caller's NCHW /
 * OIHW tensors and the layouts the primitive chose (NULL when they are the same). */
typedef struct conv_entry {
    conv_key key;
    dnnl_primitive_t conv, src_reorder, w_reorder, dst_reorder;
    dnnl_memory_t user_src, user_w, user_b, user_dst; /* the caller's buffers */
    dnnl_memory_t src, w, dst;                        /* the primitive's; workspace buffers */
    size_t src_bytes, w_bytes, dst_bytes;
} conv_entry;

#define CACHE_SIZE 64
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static conv_entry *cache[CACHE_SIZE];
static int cache_next; /* the slot to reuse when all are taken (oldest first) */

/* Reordered activations and weights live in buffers shared by all entries (one
 * convolution runs at a time), grown to the largest need: the input, the weights, the
 * output in the primitive's layouts, and the unpooled output of a fused max pooling. */
enum { WS_SRC, WS_WEIGHTS, WS_DST, WS_UNPOOLED, WS_COUNT };
static struct {
    void *ptr;
    size_t size;
} workspace[WS_COUNT];

static void *workspace_get(int i, size_t bytes)
{
    if (workspace[i].size < bytes) {
        free(workspace[i].ptr);
        workspace[i].size = 0;
        workspace[i].ptr = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!workspace[i].ptr) return NULL;
        workspace[i].size = bytes;
    }
    return workspace[i].ptr;
}

static int off_state = -1; /* SBENGINE_ONEDNN=0: 1; read once */

static bool turned_off(void)
{
    if (off_state < 0) {
        const char *v = getenv("SBENGINE_ONEDNN");
        off_state = v && strcmp(v, "0") == 0;
    }
    return off_state == 1;
}

static void entry_free(const sb_dnnl_api *d, conv_entry *e)
{
    if (!e) return;
    dnnl_primitive_t prims[] = {e->conv, e->src_reorder, e->w_reorder, e->dst_reorder};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i]) d->dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {e->user_src, e->user_w, e->user_b, e->user_dst, e->src, e->w, e->dst};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) d->dnnl_memory_destroy(mems[i]);
    free(e);
}

/* A reorder from `from` to `to` when the layouts differ: creates the primitive-side memory
 * and the reorder; otherwise leaves both NULL (the caller's memory is used directly). */
static bool make_reorder(const sb_dnnl_api *d, const dnnl_memory_desc_t *from,
                         const dnnl_memory_desc_t *to, bool into_primitive, dnnl_memory_t *mem,
                         dnnl_primitive_t *reorder, size_t *bytes)
{
    if (d->dnnl_memory_desc_equal(from, to)) return true;
    const dnnl_memory_desc_t *other = into_primitive ? to : from;
    if (d->dnnl_memory_create(mem, other, d->engine, DNNL_MEMORY_NONE) != dnnl_success)
        return false;
    *bytes = d->dnnl_memory_desc_get_size(other);
    dnnl_primitive_desc_t pd = NULL;
    if (d->dnnl_reorder_primitive_desc_create(&pd, from, d->engine, to, d->engine, NULL) !=
        dnnl_success)
        return false;
    dnnl_status_t s = d->dnnl_primitive_create(reorder, pd);
    d->dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success;
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
        d->dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nchw) ==
            dnnl_success &&
        d->dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nchw) ==
            dnnl_success &&
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
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if (ok && k->relu) {
        ok = d->dnnl_primitive_attr_create(&attr) == dnnl_success &&
             d->dnnl_post_ops_create(&ops) == dnnl_success &&
             d->dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f) ==
                 dnnl_success &&
             d->dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success;
    }
    ok = ok && d->dnnl_primitive_desc_create(&pd, &cd, attr, d->engine, NULL) == dnnl_success;
    if (ops) d->dnnl_post_ops_destroy(ops);
    if (attr) d->dnnl_primitive_attr_destroy(attr);
    if (ok) {
        const dnnl_memory_desc_t *p_src = d->dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *p_w =
            d->dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *p_dst = d->dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        ok =
            d->dnnl_primitive_create(&e->conv, pd) == dnnl_success &&
            d->dnnl_memory_create(&e->user_src, &src_md, d->engine, DNNL_MEMORY_NONE) ==
                dnnl_success &&
            d->dnnl_memory_create(&e->user_w, &w_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
            d->dnnl_memory_create(&e->user_b, &b_md, d->engine, DNNL_MEMORY_NONE) == dnnl_success &&
            d->dnnl_memory_create(&e->user_dst, &dst_md, d->engine, DNNL_MEMORY_NONE) ==
                dnnl_success &&
            make_reorder(d, &src_md, p_src, true, &e->src, &e->src_reorder, &e->src_bytes) &&
            make_reorder(d, &w_md, p_w, true, &e->w, &e->w_reorder, &e->w_bytes) &&
            make_reorder(d, p_dst, &dst_md, false, &e->dst, &e->dst_reorder, &e->dst_bytes);
    }
    if (pd) d->dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        entry_free(d, e);
        return NULL;
    }
    return e;
}

static conv_entry *entry_for(const sb_dnnl_api *d, const conv_key *k)
{
    for (int i = 0; i < CACHE_SIZE; i++)
        if (cache[i] && memcmp(&cache[i]->key, k, sizeof *k) == 0) return cache[i];
    conv_entry *e = entry_create(d, k);
    if (!e) return NULL;
    int slot = -1;
    for (int i = 0; i < CACHE_SIZE && slot < 0; i++)
        if (!cache[i]) slot = i;
    if (slot < 0) {
        slot = cache_next;
        cache_next = (cache_next + 1) % CACHE_SIZE;
        entry_free(d, cache[slot]);
    }
    cache[slot] = e;
    return e;
}

static bool run(const sb_dnnl_api *d, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *a)
{
    return d->dnnl_primitive_execute(prim, d->stream, nargs, a) == dnnl_success;
}

static sb_status execute(const sb_dnnl_api *d, conv_entry *e, const sb_tensor *x,
                         const sb_tensor *weight, const sb_tensor *bias, float *out)
{
    void *ws[3] = {NULL, NULL, NULL};
    size_t need[3] = {e->src_bytes, e->w_bytes, e->dst_bytes};
    for (int i = WS_SRC; i <= WS_DST; i++)
        if (need[i] && !(ws[i] = workspace_get(i, need[i])))
            return sb_fail(SB_ENOMEM, "conv2d: out of memory for oneDNN's layouts (%zu bytes)",
                           need[i]);
    d->dnnl_memory_set_data_handle(e->user_src, sb_tensor_data(x));
    d->dnnl_memory_set_data_handle(e->user_w, sb_tensor_data(weight));
    if (bias) d->dnnl_memory_set_data_handle(e->user_b, sb_tensor_data(bias));
    d->dnnl_memory_set_data_handle(e->user_dst, out);
    if (e->src) d->dnnl_memory_set_data_handle(e->src, ws[0]);
    if (e->w) d->dnnl_memory_set_data_handle(e->w, ws[1]);
    if (e->dst) d->dnnl_memory_set_data_handle(e->dst, ws[2]);
    if (d->omp_set_num_threads) d->omp_set_num_threads(sb_get_num_threads());
    dnnl_memory_t src = e->src ? e->src : e->user_src;
    dnnl_memory_t w = e->w ? e->w : e->user_w;
    dnnl_memory_t dst = e->dst ? e->dst : e->user_dst;
    bool ok = true;
    if (e->src_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, e->user_src}, {DNNL_ARG_TO, src}};
        ok = run(d, e->src_reorder, 2, a);
    }
    if (ok && e->w_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, e->user_w}, {DNNL_ARG_TO, w}};
        ok = run(d, e->w_reorder, 2, a);
    }
    if (ok) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, w},
                               {DNNL_ARG_DST, dst},
                               {DNNL_ARG_BIAS, e->user_b}};
        ok = run(d, e->conv, bias ? 4 : 3, a);
    }
    if (ok && e->dst_reorder) {
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, e->user_dst}};
        ok = run(d, e->dst_reorder, 2, a);
    }
    ok = ok && d->dnnl_stream_wait(d->stream) == dnnl_success;
    return ok ? SB_OK : sb_fail(SB_EUNSUPPORTED, "conv2d: oneDNN failed to run the convolution");
}

typedef struct pool_job {
    const float *full;
    float *out;
    int64_t oh, ow, poh, pow;
} pool_job;

static void pool_planes(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    for (int64_t i = begin; i < end; i++)
        sb_nn_cpu_max_pool_2x2(j->full + i * j->oh * j->ow, j->ow, j->poh, j->pow,
                               j->out + i * j->poh * j->pow);
}

bool sb_onednn_conv2d(sb_tensor *out, const sb_tensor *x, const sb_tensor *weight,
                      const sb_tensor *bias, const sb_conv2d_params *p, sb_status *status)
{
    if (x->dtype != SB_FLOAT32 || sb_tensor_numel(out) == 0) return false;
    if (turned_off()) return false;
    const sb_dnnl_api *d = sb_dnnl(NULL);
    if (!d) return false;
    conv_key k;
    memset(&k, 0, sizeof k); /* the key is compared bytewise */
    k.n = x->sizes[0], k.c = x->sizes[1], k.h = x->sizes[2], k.w = x->sizes[3];
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
    k.bias = bias != NULL;
    k.relu = p->relu;
    pthread_mutex_lock(&lock);
    conv_entry *e = entry_for(d, &k);
    if (!e) {
        pthread_mutex_unlock(&lock);
        return false; /* oneDNN has no implementation for this case: the engine's kernel */
    }
    if (!p->max_pool2) {
        *status = execute(d, e, x, weight, bias, sb_tensor_data(out));
    } else {
        /* The convolution (and ReLU) into a buffer, then the engine's 2x2 pooling: the same
         * numbers as conv2d followed by max_pool2d. */
        size_t bytes = (size_t)(k.n * k.o * k.oh * k.ow) * sizeof(float);
        float *full = workspace_get(WS_UNPOOLED, bytes);
        if (!full)
            *status = sb_fail(SB_ENOMEM, "conv2d: out of memory for the unpooled output");
        else
            *status = execute(d, e, x, weight, bias, full);
        if (*status == SB_OK) {
            pool_job j = {full, sb_tensor_data(out), k.oh, k.ow, out->sizes[2], out->sizes[3]};
            sb_parallel_for(k.n * k.o, 16, pool_planes, &j);
        }
    }
    pthread_mutex_unlock(&lock);
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
    if (turned_off()) return "off (SBENGINE_ONEDNN=0)";
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
