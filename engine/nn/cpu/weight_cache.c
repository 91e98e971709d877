/* Prepared convolution weights (see weight_cache.h). */
#include "nn/cpu/weight_cache.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One source tensor: all zero when absent. */
typedef struct source {
    uint64_t id, version;
    int64_t offset, numel;
} source;

typedef struct sources {
    source t[6]; /* weight, bias, bn mean, var, weight, bias */
    double eps;
    int64_t has_bn;
} sources;

typedef struct entry {
    sb_prepared_weights out; /* first: the handle given out */
    sources key;
    void *layout; /* a copy of the layout key; NULL for plain */
    size_t layout_size;
    bool (*layout_equal)(const void *, const void *);
    void *w, *b;
    size_t bytes;
    int pins;
    uint64_t age; /* insertion order: the smallest goes first */
} entry;

#define MAX_ENTRIES 1024
#define MAX_BYTES ((size_t)1 << 30)

/* Sources seen once: weights are kept only from their second use on, so that a weight
 * tensor made for one call (a test's sb.rand) does not hold cache memory. */
#define SEEN 256
static sources seen[SEEN];
static int seen_next;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries[MAX_ENTRIES];
static size_t total_bytes;
static uint64_t next_age;

static source source_of(const sb_tensor *t)
{
    if (!t) return (source){0};
    return (source){.id = sb_tensor_storage_id(t),
                    .version = sb_tensor_version(t),
                    .offset = t->offset,
                    .numel = sb_tensor_numel(t)};
}

static bool same_layout(const entry *e, const void *layout, size_t size)
{
    if (!e->layout || !layout) return !e->layout && !layout;
    return e->layout_size == size && e->layout_equal(e->layout, layout);
}

static void entry_free(int i)
{
    entry *e = entries[i];
    total_bytes -= e->bytes;
    free(e->layout);
    free(e->w);
    free(e->b);
    free(e);
    entries[i] = NULL;
}

/* Folds bn into the weights (scale per output channel) and makes the bias, in double. */
static void fold(const sb_tensor *weight, const sb_tensor *bias, const sb_conv_bn *bn, float *w,
                 float *b)
{
    const int64_t o = weight->sizes[0], per = sb_tensor_numel(weight) / (o ? o : 1);
    const float *wi = sb_tensor_data(weight), *bi = bias ? sb_tensor_data(bias) : NULL;
    const float *mean = sb_tensor_data(bn->mean), *var = sb_tensor_data(bn->var);
    const float *gamma = bn->weight ? sb_tensor_data(bn->weight) : NULL;
    const float *beta = bn->bias ? sb_tensor_data(bn->bias) : NULL;
    for (int64_t c = 0; c < o; c++) {
        const double scale = (gamma ? gamma[c] : 1.0) / sqrt((double)var[c] + bn->eps);
        for (int64_t k = 0; k < per; k++)
            w[c * per + k] = (float)(wi[c * per + k] * scale);
        b[c] = (float)(((bi ? bi[c] : 0.0) - mean[c]) * scale + (beta ? beta[c] : 0.0));
    }
}

/* Makes an entry's buffers (called without the lock: preparing can take a while). */
static bool prepare(entry *e, const sb_tensor *weight, const sb_tensor *bias, const sb_conv_bn *bn,
                    size_t w_bytes, sb_weight_layout_fn reorder, void *ctx)
{
    const size_t plain_bytes = (size_t)sb_tensor_numel(weight) * sizeof(float);
    const int64_t o = weight->sizes[0];
    float *plain = (float *)sb_tensor_data(weight);
    float *folded = NULL;
    if (bn) {
        e->b = malloc((size_t)(o ? o : 1) * sizeof(float));
        folded = malloc(plain_bytes ? plain_bytes : 1);
        if (!e->b || !folded) {
            free(folded);
            return false;
        }
        fold(weight, bias, bn, folded, e->b);
        plain = folded;
    }
    if (!e->layout) { /* plain: the folded weights are the result */
        e->w = folded;
        e->bytes = plain_bytes;
        return true;
    }
    e->w = aligned_alloc(64, (w_bytes + 63) / 64 * 64);
    bool ok = e->w && reorder(ctx, plain, e->w);
    free(folded);
    e->bytes = w_bytes;
    return ok;
}

const sb_prepared_weights *sb_weight_cache_get(const sb_tensor *weight, const sb_tensor *bias,
                                               const sb_conv_bn *bn, const void *layout,
                                               size_t layout_size,
                                               bool (*layout_equal)(const void *, const void *),
                                               size_t w_bytes, sb_weight_layout_fn reorder,
                                               void *ctx, sb_status *status)
{
    sources key;
    memset(&key, 0, sizeof key); /* compared bytewise */
    key.t[0] = source_of(weight);
    key.t[1] = source_of(bias);
    if (bn) {
        key.t[2] = source_of(bn->mean);
        key.t[3] = source_of(bn->var);
        key.t[4] = source_of(bn->weight);
        key.t[5] = source_of(bn->bias);
        key.eps = bn->eps;
        key.has_bn = 1;
    }
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_ENTRIES; i++) {
        entry *e = entries[i];
        if (e && memcmp(&e->key, &key, sizeof key) == 0 && same_layout(e, layout, layout_size)) {
            e->pins++;
            pthread_mutex_unlock(&lock);
            return &e->out;
        }
    }
    bool keep = false;
    for (int i = 0; i < SEEN && !keep; i++)
        keep = memcmp(&seen[i], &key, sizeof key) == 0;
    if (!keep) {
        memcpy(&seen[seen_next], &key, sizeof key);
        seen_next = (seen_next + 1) % SEEN;
    }
    pthread_mutex_unlock(&lock);

    entry *e = calloc(1, sizeof *e);
    if (!e) goto oom;
    memcpy(&e->key, &key, sizeof key);
    e->layout_equal = layout_equal;
    e->layout_size = layout_size;
    if (layout) {
        e->layout = malloc(layout_size);
        if (!e->layout) goto oom;
        memcpy(e->layout, layout, layout_size);
    }
    if (!prepare(e, weight, bias, bn, w_bytes, reorder, ctx)) goto oom;
    e->out = (sb_prepared_weights){.w = e->w, .b = e->b};
    e->pins = 1;
    if (!keep) {
        e->age = UINT64_MAX; /* freed when released */
        return &e->out;
    }

    pthread_mutex_lock(&lock);
    e->age = next_age++;
    /* Entries made from an older version of the same weights are stale for good. */
    for (int i = 0; i < MAX_ENTRIES; i++) {
        entry *s = entries[i];
        if (s && !s->pins && s->key.t[0].id == key.t[0].id &&
            s->key.t[0].offset == key.t[0].offset && memcmp(&s->key, &key, sizeof key) != 0)
            entry_free(i);
    }
    total_bytes += e->bytes;
    for (;;) {
        int free_slot = -1, oldest = -1;
        for (int i = 0; i < MAX_ENTRIES; i++) {
            if (!entries[i]) {
                if (free_slot < 0) free_slot = i;
                continue;
            }
            if (!entries[i]->pins && (oldest < 0 || entries[i]->age < entries[oldest]->age))
                oldest = i;
        }
        if (free_slot >= 0 && (total_bytes <= MAX_BYTES || oldest < 0)) {
            entries[free_slot] = e;
            break;
        }
        if (oldest < 0) { /* every entry pinned and no room: this one is not kept */
            total_bytes -= e->bytes;
            e->age = UINT64_MAX; /* released below by its own pin count reaching 0 */
            break;
        }
        entry_free(oldest);
    }
    pthread_mutex_unlock(&lock);
    return &e->out;

oom:
    if (e) {
        free(e->layout);
        free(e->w);
        free(e->b);
        free(e);
    }
    *status =
        sb_fail(SB_ENOMEM, "conv2d: could not prepare the convolution's weights (out of memory, or "
                           "oneDNN's reorder failed)");
    return NULL;
}

void sb_weight_cache_release(const sb_prepared_weights *p)
{
    if (!p) return;
    entry *e = (entry *)p; /* out is the first member */
    pthread_mutex_lock(&lock);
    e->pins--;
    if (e->pins == 0 && e->age == UINT64_MAX) { /* never entered the table */
        free(e->layout);
        free(e->w);
        free(e->b);
        free(e);
    }
    pthread_mutex_unlock(&lock);
}
