/* The oneDNN entry points the engine uses, resolved from libdnnl.so.2 on first use
 * (engine/nn/cpu/onednn_api.c). Only built with SBENGINE_HAVE_ONEDNN. */
#ifndef SB_NN_CPU_ONEDNN_API_H
#define SB_NN_CPU_ONEDNN_API_H

#include <stdbool.h>
#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

#define SB_DNNL_FUNCTIONS(X)                                                                       \
    X(dnnl_engine_create)                                                                          \
    X(dnnl_stream_create)                                                                          \
    X(dnnl_stream_wait)                                                                            \
    X(dnnl_memory_desc_init_by_tag)                                                                \
    X(dnnl_memory_desc_equal)                                                                      \
    X(dnnl_memory_desc_get_size)                                                                   \
    X(dnnl_memory_create)                                                                          \
    X(dnnl_memory_set_data_handle)                                                                 \
    X(dnnl_memory_destroy)                                                                         \
    X(dnnl_dilated_convolution_forward_desc_init)                                                  \
    X(dnnl_pooling_v2_forward_desc_init)                                                           \
    X(dnnl_primitive_attr_create)                                                                  \
    X(dnnl_primitive_attr_destroy)                                                                 \
    X(dnnl_primitive_attr_set_post_ops)                                                            \
    X(dnnl_primitive_attr_set_scratchpad_mode)                                                     \
    X(dnnl_post_ops_create)                                                                        \
    X(dnnl_post_ops_destroy)                                                                       \
    X(dnnl_post_ops_append_eltwise)                                                                \
    X(dnnl_post_ops_append_sum)                                                                    \
    X(dnnl_primitive_desc_create)                                                                  \
    X(dnnl_primitive_desc_destroy)                                                                 \
    X(dnnl_primitive_desc_query)                                                                   \
    X(dnnl_primitive_desc_query_md)                                                                \
    X(dnnl_reorder_primitive_desc_create)                                                          \
    X(dnnl_primitive_create)                                                                       \
    X(dnnl_primitive_destroy)                                                                      \
    X(dnnl_primitive_execute)                                                                      \
    X(dnnl_get_effective_cpu_isa)                                                                  \
    X(dnnl_version)

typedef struct sb_dnnl_api {
#define SB_DNNL_FIELD(name) __typeof__(&name) name;
    SB_DNNL_FUNCTIONS(SB_DNNL_FIELD)
#undef SB_DNNL_FIELD
    void (*omp_set_num_threads)(int);
    dnnl_engine_t engine;
    dnnl_stream_t stream;
} sb_dnnl_api;

/* The loaded API with a CPU engine and a stream, or NULL (then *why says why). */
const sb_dnnl_api *sb_dnnl(const char **why);

/* A cache of primitives per shape (the caller locks it): entries are structs whose first
 * member is their key, compared bytewise. */
#define SB_DNNL_CACHE_MAX 64
typedef struct sb_dnnl_cache {
    void *entries[SB_DNNL_CACHE_MAX];
    int size; /* entries used, <= SB_DNNL_CACHE_MAX; more than a call can hold at once */
    int next; /* the next to replace when all are taken (oldest first) */
} sb_dnnl_cache;

/* The entry whose leading key_bytes equal key, or NULL. */
void *sb_dnnl_cache_find(const sb_dnnl_cache *c, const void *key, size_t key_bytes);
/* Stores e in a free place, else in place of the oldest entry not among `busy` (those the
 * current call holds); returns the entry it displaced, for the caller to free, or NULL. */
void *sb_dnnl_cache_put(sb_dnnl_cache *c, void *e, void *const *busy, int nbusy);

/* SBENGINE_ONEDNN=0 in the environment (read once): the engine's own kernels everywhere. */
bool sb_dnnl_turned_off(void);

#endif
