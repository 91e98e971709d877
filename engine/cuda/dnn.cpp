// cuDNN for the CUDA plugin's convolutions and pooling (see dnn.h): host code only, compiled by
// the host compiler. The library is dlopen()ed on first need and its entry points resolved by
// name, so the plugin has no link-time dependency on it; the decisions (which cuDNN is usable,
// which case goes to it) are cudnn_policy.h's, tested without a GPU.
//
// The legacy API of cuDNN 9 (cudnn_cnn, cudnn_ops): one call per convolution, with the
// algorithm chosen once per shape by cudnnFindConvolutionForwardAlgorithmEx (each candidate run
// and timed on the real buffers) and cached. Workspace comes from the host's caching allocator,
// whose out-of-memory path (empty the cache, collect Lua's garbage, retry) applies to it; when
// the best algorithm's workspace cannot be had even then, the fastest one that needs none runs.
#include "cuda/dnn.h"

#include <stdio.h>
#include <stdlib.h>

#include "cuda/common.h"
#include "cuda/cudnn_policy.h"

#if SB_HAVE_CUDNN

#include <cudnn.h>
#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

namespace
{

// --- the library, loaded on first need ------------------------------------------------------

#define SB_CUDNN_FUNCTIONS(X)                                                                      \
    X(cudnnGetVersion)                                                                             \
    X(cudnnGetCudartVersion)                                                                       \
    X(cudnnGetErrorString)                                                                         \
    X(cudnnCreate)                                                                                 \
    X(cudnnDestroy)                                                                                \
    X(cudnnSetStream)                                                                              \
    X(cudnnCreateTensorDescriptor)                                                                 \
    X(cudnnSetTensor4dDescriptor)                                                                  \
    X(cudnnDestroyTensorDescriptor)                                                                \
    X(cudnnCreateFilterDescriptor)                                                                 \
    X(cudnnSetFilter4dDescriptor)                                                                  \
    X(cudnnDestroyFilterDescriptor)                                                                \
    X(cudnnCreateConvolutionDescriptor)                                                            \
    X(cudnnSetConvolution2dDescriptor)                                                             \
    X(cudnnSetConvolutionGroupCount)                                                               \
    X(cudnnSetConvolutionMathType)                                                                 \
    X(cudnnDestroyConvolutionDescriptor)                                                           \
    X(cudnnGetConvolutionForwardAlgorithmMaxCount)                                                 \
    X(cudnnFindConvolutionForwardAlgorithmEx)                                                      \
    X(cudnnGetConvolutionForwardWorkspaceSize)                                                     \
    X(cudnnConvolutionForward)                                                                     \
    X(cudnnConvolutionBiasActivationForward)                                                       \
    X(cudnnCreateActivationDescriptor)                                                             \
    X(cudnnSetActivationDescriptor)                                                                \
    X(cudnnDestroyActivationDescriptor)                                                            \
    X(cudnnCreatePoolingDescriptor)                                                                \
    X(cudnnSetPooling2dDescriptor)                                                                 \
    X(cudnnDestroyPoolingDescriptor)                                                               \
    X(cudnnPoolingForward)

struct cudnn_api {
#define SB_CUDNN_POINTER(name) decltype(&::name) name;
    SB_CUDNN_FUNCTIONS(SB_CUDNN_POINTER)
#undef SB_CUDNN_POINTER
};

cudnn_api dnn;
std::once_flag load_once;
bool loaded;
size_t loaded_version;
char unused_reason[768];

void load_library()
{
    const char *env = getenv("SBENGINE_CUDNN");
    if (sb_cudnn_env_disabled(env)) {
        snprintf(unused_reason, sizeof unused_reason, "disabled by SBENGINE_CUDNN=%s", env);
        return;
    }
    char soname[64];
    snprintf(soname, sizeof soname, "libcudnn.so.%d", CUDNN_MAJOR);
    const char *path = getenv("SBENGINE_CUDNN_LIBRARY");
    const char *name = path && *path ? path : soname;
    // Found through the plugin's RUNPATH (the toolkit's library folder) or the usual search.
    void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(unused_reason, sizeof unused_reason, "cannot load cuDNN: %s", dlerror());
        return;
    }
#define SB_CUDNN_RESOLVE(fn)                                                                       \
    dnn.fn = (decltype(dnn.fn))dlsym(handle, #fn);                                                 \
    if (!dnn.fn) {                                                                                 \
        snprintf(unused_reason, sizeof unused_reason, "%s has no %s (not cuDNN %d)", name, #fn,    \
                 CUDNN_MAJOR);                                                                     \
        dlclose(handle);                                                                           \
        return;                                                                                    \
    }
    SB_CUDNN_FUNCTIONS(SB_CUDNN_RESOLVE)
#undef SB_CUDNN_RESOLVE
    size_t version = dnn.cudnnGetVersion();
    if (!sb_cudnn_versions_usable(version, dnn.cudnnGetCudartVersion(), CUDNN_MAJOR, CUDART_VERSION,
                                  unused_reason, sizeof unused_reason)) {
        dlclose(handle);
        return;
    }
    // Kept open for the life of the process, as the plugin itself.
    loaded_version = version;
    loaded = true;
}

// Set when the library, loaded and of the right version, still cannot work on this machine
// (cudnnCreate fails, a sub-library is missing or mismatched): from then on the plugin's own
// kernels run everything, and the reason is reported.
std::atomic<bool> given_up;
std::mutex given_up_mutex;

bool usable()
{
    std::call_once(load_once, load_library);
    return loaded && !given_up;
}

// --- errors ----------------------------------------------------------------------------------

bool out_of_memory(cudnnStatus_t st)
{
    return st == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
           st == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
}

// "cuDNN does not do this": the call returned before queueing any work.
bool not_supported(cudnnStatus_t st)
{
    return CUDNN_STATUS_CATEGORY(st) == CUDNN_STATUS_NOT_SUPPORTED;
}

// The library cannot work here at all: uncategorised statuses (not initialised, a sub-library
// that fails to load or does not match) and cudnnCreate's "not supported" (no driver or GPU it
// supports). Such a call queued nothing, so the plugin's own kernels can take over.
bool library_unusable(cudnnStatus_t st)
{
    return CUDNN_STATUS_CATEGORY(st) == 1000; // CUDNN_STATUS_NOT_INITIALIZED's category
}

void give_up(cudnnStatus_t st, const char *call)
{
    std::lock_guard<std::mutex> lock(given_up_mutex);
    if (given_up) return;
    char version[32];
    sb_cudnn_version_text(loaded_version, version, sizeof version);
    snprintf(unused_reason, sizeof unused_reason,
             "cuDNN %s was loaded but cannot run here: %s failed: %s (the plugin's own kernels "
             "run instead)",
             version, call, dnn.cudnnGetErrorString(st));
    given_up = true;
}

sb_status check(cudnnStatus_t st, const char *call, const char *file, int line)
{
    if (st == CUDNN_STATUS_SUCCESS) return SB_OK;
    return sb_cuda_fail(out_of_memory(st) ? SB_ENOMEM : SB_EDEVICE, "%s failed: %s (%s:%d)", call,
                        dnn.cudnnGetErrorString(st), sb_cuda_source_path(file), line);
}
#define SB_CUDNN_CHECK(call) check((call), #call, __FILE__, __LINE__)
#define SB_CUDNN_TRY(call) SB_TRY(SB_CUDNN_CHECK(call))

// --- handles, one per device, bound to its engine stream ---------------------------------------

std::atomic<cudnnHandle_t> handles[SB_CUDA_MAX_DEVICES];
std::mutex handles_mutex;

// *out is NULL (and SB_OK) when cuDNN turned out unusable here: the caller declines.
sb_status handle_for(int device, cudnnHandle_t *out)
{
    *out = nullptr;
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device, &stream));
    if (!handles[device]) {
        // Created without the lock: the retry after running out of memory runs the Lua
        // collector, whose finalizers may call back into the plugin.
        cudnnHandle_t handle;
        cudnnStatus_t created = dnn.cudnnCreate(&handle);
        if (out_of_memory(created)) {
            SB_TRY(sb_cuda_host_services->reclaim(device));
            created = dnn.cudnnCreate(&handle);
        }
        if (library_unusable(created) || not_supported(created)) {
            give_up(created, "cudnnCreate");
            return SB_OK;
        }
        SB_TRY(check(created, "cudnnCreate(&handle)", __FILE__, __LINE__));
        sb_status st = SB_CUDNN_CHECK(dnn.cudnnSetStream(handle, stream));
        if (st != SB_OK) {
            dnn.cudnnDestroy(handle);
            return st;
        }
        std::lock_guard<std::mutex> lock(handles_mutex);
        if (!handles[device])
            handles[device] = handle; // kept for the life of the process
        else
            dnn.cudnnDestroy(handle); // another thread was first
    }
    *out = handles[device].load();
    return SB_OK;
}

// --- types -----------------------------------------------------------------------------------

// The storage type and the accumulation type: the 16-bit floats accumulate in fp32, as the
// plugin's own kernels do.
bool types_of(sb_dtype dtype, cudnnDataType_t *data, cudnnDataType_t *compute)
{
    switch (dtype) {
    case SB_FLOAT32:
        *data = *compute = CUDNN_DATA_FLOAT;
        return true;
    case SB_FLOAT64:
        *data = *compute = CUDNN_DATA_DOUBLE;
        return true;
    case SB_FLOAT16:
        *data = CUDNN_DATA_HALF;
        *compute = CUDNN_DATA_FLOAT;
        return true;
    case SB_BFLOAT16:
        *data = CUDNN_DATA_BFLOAT16;
        *compute = CUDNN_DATA_FLOAT;
        return true;
    default:
        return false;
    }
}

// float32 is exact fp32 (FMA kernels only) unless sb.cuda.allow_tf32(true); the 16-bit floats
// use tensor cores; float64 has no choice.
cudnnMathType_t math_for(sb_dtype dtype, bool tf32)
{
    if (dtype == SB_FLOAT32) return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
    if (dtype == SB_FLOAT16 || dtype == SB_BFLOAT16) return CUDNN_TENSOR_OP_MATH;
    return CUDNN_DEFAULT_MATH;
}

bool math_allowed(sb_dtype dtype, bool tf32, cudnnMathType_t math)
{
    return dtype != SB_FLOAT32 || tf32 || math == CUDNN_FMA_MATH;
}

// alpha = 1 and beta = 0 in the type cuDNN reads them as (double for double data).
struct scaling {
    double d1 = 1, d0 = 0;
    float f1 = 1, f0 = 0;
    const void *one(sb_dtype t) const { return t == SB_FLOAT64 ? (const void *)&d1 : &f1; }
    const void *zero(sb_dtype t) const { return t == SB_FLOAT64 ? (const void *)&d0 : &f0; }
};

// --- descriptors, made per call (microseconds) and destroyed with the scope ------------------

struct tensor_desc {
    cudnnTensorDescriptor_t d = nullptr;
    ~tensor_desc()
    {
        if (d) dnn.cudnnDestroyTensorDescriptor(d);
    }
    sb_status set(cudnnDataType_t type, int64_t n, int64_t c, int64_t h, int64_t w)
    {
        SB_CUDNN_TRY(dnn.cudnnCreateTensorDescriptor(&d));
        return SB_CUDNN_CHECK(dnn.cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, type, (int)n,
                                                             (int)c, (int)h, (int)w));
    }
};

struct conv_descs {
    tensor_desc x, y, bias;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    cudnnActivationDescriptor_t act = nullptr;
    ~conv_descs()
    {
        if (w) dnn.cudnnDestroyFilterDescriptor(w);
        if (conv) dnn.cudnnDestroyConvolutionDescriptor(conv);
        if (act) dnn.cudnnDestroyActivationDescriptor(act);
    }
};

sb_status make_conv_descs(const sb_dnn_conv *c, conv_descs *d, bool fused)
{
    cudnnDataType_t data, compute;
    types_of(c->dtype, &data, &compute);
    SB_TRY(d->x.set(data, c->n, c->c, c->h, c->w));
    SB_TRY(d->y.set(data, c->n, c->o, c->oh, c->ow));
    SB_CUDNN_TRY(dnn.cudnnCreateFilterDescriptor(&d->w));
    SB_CUDNN_TRY(dnn.cudnnSetFilter4dDescriptor(d->w, data, CUDNN_TENSOR_NCHW, (int)c->o,
                                                (int)(c->c / c->groups), (int)c->kh, (int)c->kw));
    SB_CUDNN_TRY(dnn.cudnnCreateConvolutionDescriptor(&d->conv));
    // CROSS_CORRELATION: what deep learning calls convolution (no kernel flip).
    SB_CUDNN_TRY(dnn.cudnnSetConvolution2dDescriptor(
        d->conv, (int)c->pad[0], (int)c->pad[1], (int)c->stride[0], (int)c->stride[1],
        (int)c->dilation[0], (int)c->dilation[1], CUDNN_CROSS_CORRELATION, compute));
    SB_CUDNN_TRY(dnn.cudnnSetConvolutionGroupCount(d->conv, (int)c->groups));
    if (fused) {
        SB_TRY(d->bias.set(data, 1, c->o, 1, 1));
        SB_CUDNN_TRY(dnn.cudnnCreateActivationDescriptor(&d->act));
        // NaN stays NaN, as the plugin's relu and the CPU's.
        SB_CUDNN_TRY(dnn.cudnnSetActivationDescriptor(d->act, CUDNN_ACTIVATION_RELU,
                                                      CUDNN_PROPAGATE_NAN, 0.0));
    }
    return SB_OK;
}

// --- the algorithm of each shape -------------------------------------------------------------

struct conv_plan {
    bool usable; // false: cuDNN has no algorithm for this case; the plugin's kernels run it
    cudnnConvolutionFwdAlgo_t algo;
    cudnnMathType_t math;
    size_t workspace;
    // The fastest algorithm that needs no workspace, for when `workspace` cannot be had.
    cudnnConvolutionFwdAlgo_t lean_algo;
    cudnnMathType_t lean_math;
};

// Everything that makes two convolutions the same problem for cuDNN, as bytes (a map key).
std::string plan_key(const sb_dnn_conv *c, bool tf32)
{
    const int64_t k[] = {c->device,      (int64_t)c->dtype,
                         tf32,           c->n,
                         c->c,           c->h,
                         c->w,           c->o,
                         c->kh,          c->kw,
                         c->oh,          c->ow,
                         c->stride[0],   c->stride[1],
                         c->pad[0],      c->pad[1],
                         c->dilation[0], c->dilation[1],
                         c->groups};
    return std::string((const char *)k, sizeof k);
}

std::mutex plans_mutex;
std::unordered_map<std::string, conv_plan> plans;
// Shapes are few in evaluation (a model at one or two batch sizes); a program that makes
// endless new ones starts again rather than grow without bound.
const size_t kMaxPlans = 4096;

// The workspace cudnnFind may use to try the algorithms: the largest of these sizes the
// caching allocator can give (a fast algorithm wanting more is not considered).
const size_t kFindWorkspace = (size_t)512 << 20;

sb_status find_plan(cudnnHandle_t handle, const sb_dnn_conv *c, conv_descs *d, bool tf32,
                    conv_plan *plan)
{
    const cudnnMathType_t math = math_for(c->dtype, tf32);
    SB_CUDNN_TRY(dnn.cudnnSetConvolutionMathType(d->conv, math));
    int max_count = 0;
    SB_CUDNN_TRY(dnn.cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
    cudnnConvolutionFwdAlgoPerf_t perf[16];
    if (max_count > 16) max_count = 16;
    if (max_count < 1) max_count = 1;
    size_t ws_size = kFindWorkspace;
    void *ws = nullptr;
    while (ws_size >= ((size_t)1 << 20) &&
           sb_cuda_host_services->device_alloc(c->device, ws_size, &ws) != SB_OK) {
        ws = nullptr;
        ws_size /= 4;
    }
    if (!ws) ws_size = 0;
    int returned = 0;
    cudnnStatus_t st = dnn.cudnnFindConvolutionForwardAlgorithmEx(
        handle, d->x.d, c->x, d->w, c->weight, d->conv, d->y.d, c->out, max_count, &returned, perf,
        ws, ws_size);
    if (ws) sb_cuda_host_services->device_free(c->device, ws);
    *plan = conv_plan{};
    if (not_supported(st)) return SB_OK; // not usable
    if (library_unusable(st)) {
        give_up(st, "cudnnFindConvolutionForwardAlgorithmEx");
        return SB_OK;
    }
    SB_TRY(check(st, "cudnnFindConvolutionForwardAlgorithmEx", __FILE__, __LINE__));
    bool have_lean = false;
    for (int i = 0; i < returned; i++) { // fastest first
        const cudnnConvolutionFwdAlgoPerf_t &r = perf[i];
        if (r.status != CUDNN_STATUS_SUCCESS || !math_allowed(c->dtype, tf32, r.mathType)) continue;
        if (!plan->usable) {
            plan->usable = true;
            plan->algo = r.algo;
            plan->math = r.mathType;
            plan->workspace = r.memory;
        }
        if (r.memory == 0 && !have_lean) {
            have_lean = true;
            plan->lean_algo = r.algo;
            plan->lean_math = r.mathType;
        }
    }
    if (plan->usable && !have_lean) { // implicit GEMM needs no workspace for any shape
        plan->lean_algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
        plan->lean_math = math;
    }
    return SB_OK;
}

sb_status plan_for(cudnnHandle_t handle, const sb_dnn_conv *c, conv_descs *d, bool tf32,
                   conv_plan *out)
{
    const std::string key = plan_key(c, tf32);
    {
        std::lock_guard<std::mutex> lock(plans_mutex);
        auto it = plans.find(key);
        if (it != plans.end()) {
            *out = it->second;
            return SB_OK;
        }
    }
    SB_TRY(find_plan(handle, c, d, tf32, out));
    if (given_up) return SB_OK; // out->usable is false: declined, and not remembered
    std::lock_guard<std::mutex> lock(plans_mutex);
    if (plans.size() >= kMaxPlans) plans.clear();
    plans[key] = *out;
    return SB_OK;
}

} // namespace

int sb_dnn_version(char *text, size_t text_size)
{
    std::lock_guard<std::mutex> lock(given_up_mutex); // unused_reason may be rewritten
    if (usable()) {
        sb_cudnn_version_text(loaded_version, text, text_size);
        return (int)loaded_version;
    }
    if (text && text_size) snprintf(text, text_size, "%s", unused_reason);
    return 0;
}

sb_status sb_dnn_conv2d(const sb_dnn_conv *c, sb_dnn_result *result)
{
    *result = SB_DNN_DECLINED;
    const sb_cudnn_conv_case k = {c->dtype == SB_FLOAT32 || c->dtype == SB_FLOAT64 ||
                                      c->dtype == SB_FLOAT16 || c->dtype == SB_BFLOAT16,
                                  c->n,
                                  c->c,
                                  c->h,
                                  c->w,
                                  c->o,
                                  c->kh,
                                  c->kw,
                                  c->oh,
                                  c->ow,
                                  {c->stride[0], c->stride[1]},
                                  {c->pad[0], c->pad[1]},
                                  {c->dilation[0], c->dilation[1]},
                                  c->groups};
    if (!sb_cudnn_conv_eligible(&k) || !usable()) return SB_OK;
    cudnnHandle_t handle;
    SB_TRY(handle_for(c->device, &handle));
    if (!handle) return SB_OK;
    const bool tf32 = sb_cuda_host_services->tf32_allowed();
    const bool fused =
        sb_cudnn_fuse_epilogue(c->dtype == SB_FLOAT32 || c->dtype == SB_FLOAT64, c->bias != nullptr,
                               c->relu ? SB_CUDNN_ACT_RELU : SB_CUDNN_ACT_NONE);
    conv_descs d;
    SB_TRY(make_conv_descs(c, &d, fused));
    conv_plan plan;
    SB_TRY(plan_for(handle, c, &d, tf32, &plan));
    if (!plan.usable) return SB_OK;

    cudnnConvolutionFwdAlgo_t algo = plan.algo;
    cudnnMathType_t math = plan.math;
    size_t ws_size = plan.workspace;
    void *ws = nullptr;
    if (ws_size && sb_cuda_host_services->device_alloc(c->device, ws_size, &ws) != SB_OK) {
        // Out of memory even after the allocator emptied its cache and collected garbage:
        // the fastest algorithm that needs no workspace.
        ws = nullptr;
        algo = plan.lean_algo;
        math = plan.lean_math;
        ws_size = 0;
        SB_CUDNN_TRY(dnn.cudnnSetConvolutionMathType(d.conv, math));
        SB_CUDNN_TRY(dnn.cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.d, d.w, d.conv, d.y.d,
                                                                 algo, &ws_size));
        if (ws_size) SB_TRY(sb_cuda_host_services->device_alloc(c->device, ws_size, &ws));
    }
    sb_status st = SB_CUDNN_CHECK(dnn.cudnnSetConvolutionMathType(d.conv, math));
    const scaling s;
    if (st == SB_OK && fused) {
        // y = relu(conv(x) + alpha2 * z + bias); z is the residual, or y itself with alpha2 = 0.
        const void *z = c->residual ? c->residual : c->out;
        const void *alpha2 = c->residual ? s.one(c->dtype) : s.zero(c->dtype);
        cudnnStatus_t r = dnn.cudnnConvolutionBiasActivationForward(
            handle, s.one(c->dtype), d.x.d, c->x, d.w, c->weight, d.conv, algo, ws, ws_size, alpha2,
            d.y.d, z, d.bias.d, c->bias, d.act, d.y.d, c->out);
        if (r == CUDNN_STATUS_SUCCESS) {
            *result = SB_DNN_FUSED;
        } else if (library_unusable(r)) {
            give_up(r, "cudnnConvolutionBiasActivationForward");
        } else if (!not_supported(r)) {
            st = check(r, "cudnnConvolutionBiasActivationForward", __FILE__, __LINE__);
        }
    }
    if (st == SB_OK && *result == SB_DNN_DECLINED && !given_up) {
        cudnnStatus_t r =
            dnn.cudnnConvolutionForward(handle, s.one(c->dtype), d.x.d, c->x, d.w, c->weight,
                                        d.conv, algo, ws, ws_size, s.zero(c->dtype), d.y.d, c->out);
        if (r == CUDNN_STATUS_SUCCESS)
            *result = SB_DNN_CONV;
        else if (library_unusable(r))
            give_up(r, "cudnnConvolutionForward"); // declined: the plugin's kernels run it
        else
            st = check(r, "cudnnConvolutionForward", __FILE__, __LINE__);
    }
    // Freed into the cache of the engine stream, where the convolution runs: reused only by
    // work queued after it.
    if (ws) sb_cuda_host_services->device_free(c->device, ws);
    return st;
}

sb_status sb_dnn_pool2d(const sb_dnn_pool *p, bool *done)
{
    *done = false;
    const sb_cudnn_pool_case k = {p->dtype == SB_FLOAT32 || p->dtype == SB_FLOAT64 ||
                                      p->dtype == SB_FLOAT16 || p->dtype == SB_BFLOAT16,
                                  p->is_max,
                                  p->n,
                                  p->c,
                                  p->h,
                                  p->w,
                                  p->oh,
                                  p->ow,
                                  {p->kernel[0], p->kernel[1]},
                                  {p->stride[0], p->stride[1]},
                                  {p->pad[0], p->pad[1]},
                                  {p->dilation[0], p->dilation[1]},
                                  p->divisor_override};
    if (!sb_cudnn_pool_eligible(&k) || !usable()) return SB_OK;
    cudnnHandle_t handle;
    SB_TRY(handle_for(p->device, &handle));
    if (!handle) return SB_OK;
    cudnnDataType_t data, compute;
    types_of(p->dtype, &data, &compute);
    tensor_desc x, y;
    SB_TRY(x.set(data, p->n, p->c, p->h, p->w));
    SB_TRY(y.set(data, p->n, p->c, p->oh, p->ow));
    cudnnPoolingDescriptor_t pool;
    SB_CUDNN_TRY(dnn.cudnnCreatePoolingDescriptor(&pool));
    const cudnnPoolingMode_t mode = p->is_max ? CUDNN_POOLING_MAX
                                    : p->count_include_pad
                                        ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                        : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    sb_status st = SB_CUDNN_CHECK(dnn.cudnnSetPooling2dDescriptor(
        pool, mode, CUDNN_PROPAGATE_NAN, (int)p->kernel[0], (int)p->kernel[1], (int)p->pad[0],
        (int)p->pad[1], (int)p->stride[0], (int)p->stride[1]));
    if (st == SB_OK) {
        const scaling s;
        cudnnStatus_t r = dnn.cudnnPoolingForward(handle, pool, s.one(p->dtype), x.d, p->x,
                                                  s.zero(p->dtype), y.d, p->out);
        if (r == CUDNN_STATUS_SUCCESS)
            *done = true;
        else if (library_unusable(r))
            give_up(r, "cudnnPoolingForward");
        else if (!not_supported(r))
            st = check(r, "cudnnPoolingForward", __FILE__, __LINE__);
    }
    dnn.cudnnDestroyPoolingDescriptor(pool);
    return st;
}

#else // built without cudnn.h: the plugin's own kernels run everything

int sb_dnn_version(char *text, size_t text_size)
{
    if (text && text_size)
        snprintf(text, text_size,
                 "this sbengine_cuda.so was built without cuDNN (cudnn.h was not found at build "
                 "time)");
    return 0;
}

sb_status sb_dnn_conv2d(const sb_dnn_conv *, sb_dnn_result *result)
{
    *result = SB_DNN_DECLINED;
    return SB_OK;
}

sb_status sb_dnn_pool2d(const sb_dnn_pool *, bool *done)
{
    *done = false;
    return SB_OK;
}

#endif
