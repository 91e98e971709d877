/* Activations, inference batch norm and (log-)softmax on the CPU. */
#include <math.h>
#include <stdlib.h>

#include "nn/cpu/cpu_kernels.h"
#include "tensor/parallel.h"

#define SB_ELEMENTWISE_GRAIN 32768

/* One loop per activation, act_<kernel> for each row of nn/op_table.h. */
static void act_relu(const float *x, float *y, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++) {
        const float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v; /* NaN stays NaN, as PyTorch */
    }
}

static void act_gelu(const float *x, float *y, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

static void act_gelu_tanh(const float *x, float *y, int64_t begin, int64_t end)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = begin; i < end; i++) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

static void act_sigmoid(const float *x, float *y, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        y[i] = 1.0f / (1.0f + expf(-x[i]));
}

static void act_tanh(const float *x, float *y, int64_t begin, int64_t end)
{
    for (int64_t i = begin; i < end; i++)
        y[i] = tanhf(x[i]);
}

typedef void (*act_fn)(const float *x, float *y, int64_t begin, int64_t end);

static const act_fn act_kernels[SB_ACT_COUNT] = {
#define SB_ACT_KERNEL(E, kernel, name, binding) [SB_ACT_##E] = act_##kernel,
    SB_NN_ACTIVATIONS(SB_ACT_KERNEL)
#undef SB_ACT_KERNEL
};

typedef struct act_job {
    act_fn fn;
    const float *x;
    float *y;
} act_job;

static void act_range(void *ctx, int64_t begin, int64_t end)
{
    const act_job *j = ctx;
    j->fn(j->x, j->y, begin, end);
}

sb_status sb_nn_cpu_activation(sb_nn_activation act, sb_tensor *out, const sb_tensor *x)
{
    if ((unsigned)act >= SB_ACT_COUNT)
        return sb_fail(SB_EINVAL, "activation: unknown activation %d", (int)act);
    SB_TRY(sb_nn_cpu_require_float32(sb_nn_activation_name(act), x));
    act_job j = {act_kernels[act], sb_tensor_data(x), sb_tensor_data(out)};
    sb_parallel_for(sb_tensor_numel(x), SB_ELEMENTWISE_GRAIN, act_range, &j);
    return SB_OK;
}

typedef struct bn_job {
    const float *x;
    float *y;
    const float *scale, *shift; /* per channel */
    int64_t C, L;
} bn_job;

static void bn_rows(void *ctx, int64_t begin, int64_t end)
{
    const bn_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        const int64_t c = r % j->C;
        const float a = j->scale[c], b = j->shift[c];
        const float *x = j->x + r * j->L;
        float *y = j->y + r * j->L;
        for (int64_t i = 0; i < j->L; i++)
            y[i] = x[i] * a + b;
    }
}

sb_status sb_nn_cpu_batch_norm(sb_tensor *out, const sb_tensor *x, const sb_tensor *running_mean,
                               const sb_tensor *running_var, const sb_tensor *weight,
                               const sb_tensor *bias, double eps)
{
    SB_TRY(sb_nn_cpu_require_float32("batch_norm", x));
    const int64_t n = x->sizes[0], c = x->sizes[1], l = x->sizes[2];
    float *coef = malloc((size_t)(2 * (c > 0 ? c : 1)) * sizeof(float));
    if (!coef) return sb_fail(SB_ENOMEM, "batch_norm: out of memory");
    const float *mean = sb_tensor_data(running_mean), *var = sb_tensor_data(running_var);
    const float *w = weight ? sb_tensor_data(weight) : NULL;
    const float *b = bias ? sb_tensor_data(bias) : NULL;
    /* PyTorch's inference form: alpha = w / sqrt(var + eps), beta = b - mean * alpha. */
    for (int64_t i = 0; i < c; i++) {
        const float invstd = 1.0f / sqrtf(var[i] + (float)eps);
        const float alpha = w ? w[i] * invstd : invstd;
        coef[i] = alpha;
        coef[c + i] = (b ? b[i] : 0.0f) - mean[i] * alpha;
    }
    bn_job j = {sb_tensor_data(x), sb_tensor_data(out), coef, coef + c, c, l};
    int64_t grain = SB_ELEMENTWISE_GRAIN / (l > 0 ? l : 1);
    sb_parallel_for(n * c, grain > 0 ? grain : 1, bn_rows, &j);
    free(coef);
    return SB_OK;
}

typedef struct softmax_job {
    const float *x;
    float *y;
    int64_t dim, inner;
    bool log;
} softmax_job;

static void softmax_outer(void *ctx, int64_t begin, int64_t end)
{
    const softmax_job *j = ctx;
    const int64_t d = j->dim, inner = j->inner;
    for (int64_t o = begin; o < end; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *x = j->x + o * d * inner + i;
            float *y = j->y + o * d * inner + i;
            float max = -INFINITY;
            for (int64_t k = 0; k < d; k++)
                if (x[k * inner] > max || isnan(x[k * inner])) max = x[k * inner];
            double sum = 0.0;
            for (int64_t k = 0; k < d; k++)
                sum += expf(x[k * inner] - max);
            if (j->log) {
                const float lse = (float)log(sum);
                for (int64_t k = 0; k < d; k++)
                    y[k * inner] = x[k * inner] - max - lse;
            } else {
                const float inv = (float)(1.0 / sum);
                for (int64_t k = 0; k < d; k++)
                    y[k * inner] = expf(x[k * inner] - max) * inv;
            }
        }
    }
}

sb_status sb_nn_cpu_softmax(sb_tensor *out, const sb_tensor *x, int64_t outer, int64_t dim,
                            int64_t inner, bool log)
{
    SB_TRY(sb_nn_cpu_require_float32(log ? "log_softmax" : "softmax", x));
    softmax_job j = {sb_tensor_data(x), sb_tensor_data(out), dim, inner, log};
    int64_t work = dim * inner;
    int64_t grain = SB_ELEMENTWISE_GRAIN / (work > 0 ? work : 1);
    sb_parallel_for(outer, grain > 0 ? grain : 1, softmax_outer, &j);
    return SB_OK;
}
