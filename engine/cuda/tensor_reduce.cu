// The reductions (sum, mean, max, min) and topk of the CUDA tensor table
// (engine/tensor/backend.h), assembled in tensor_backend.cu. Semantics follow the CPU
// backend: floating sums in double, NaN wins, ties keep the lowest position.
#include <math.h>

#include "cuda/kernels.cuh"
#include "cuda/tensor_backend.h"

// --- reductions ----------------------------------------------------------------------------

static_assert(SB_REDUCE_OP_COUNT == 4,
              "a new reduction (tensor/op_tables.h) needs its kernel here");

// One accumulator for every reduction: floating sums in double (as the CPU), integer sums
// in int64, the best value and its position for max/min.
struct racc {
    double fsum;
    long long isum;
    double fbest;
    long long ibest;
    long long pos; // -1: nothing seen
};

__device__ __forceinline__ racc racc_empty()
{
    racc r;
    r.fsum = 0;
    r.isum = 0;
    r.fbest = 0;
    r.ibest = 0;
    r.pos = -1;
    return r;
}

// Whether (v, pos) beats the accumulator's best: NaN wins, then the larger (max) or smaller
// (min) value, then the lower position.
template <bool FLOATING>
__device__ __forceinline__ bool better(bool is_max, double fv, long long iv, long long pos,
                                       const racc &r)
{
    if (r.pos < 0) return true;
    if (FLOATING) {
        bool nv = fv != fv, nb = r.fbest != r.fbest;
        if (nv || nb) return nv && (!nb || pos < r.pos);
        if (fv == r.fbest) return pos < r.pos;
        return is_max ? fv > r.fbest : fv < r.fbest;
    }
    if (iv == r.ibest) return pos < r.pos;
    return is_max ? iv > r.ibest : iv < r.ibest;
}

template <typename T>
__device__ __forceinline__ void racc_add(sb_reduce_op op, racc &r, T x, long long pos)
{
    constexpr bool F = num<T>::floating;
    if (op == SB_REDUCE_SUM || op == SB_REDUCE_MEAN) {
        if (F)
            r.fsum += (double)num<T>::load(x);
        else
            r.isum += (long long)num<T>::load(x);
        r.pos = 0;
        return;
    }
    double fv = F ? (double)num<T>::load(x) : 0.0;
    long long iv = F ? 0 : (long long)num<T>::load(x);
    if (better<F>(op == SB_REDUCE_MAX, fv, iv, pos, r)) {
        r.fbest = fv;
        r.ibest = iv;
        r.pos = pos;
    }
}

template <typename T>
__device__ __forceinline__ void racc_merge(sb_reduce_op op, racc &r, const racc &o)
{
    constexpr bool F = num<T>::floating;
    if (o.pos < 0) return;
    if (op == SB_REDUCE_SUM || op == SB_REDUCE_MEAN) {
        r.fsum += o.fsum;
        r.isum += o.isum;
        r.pos = 0;
        return;
    }
    if (better<F>(op == SB_REDUCE_MAX, o.fbest, o.ibest, o.pos, r)) r = o;
}

// values: T, or int64 for integer sums.
template <typename T>
__device__ __forceinline__ void racc_store(sb_reduce_op op, const racc &r, long long count,
                                           void *values, int64_t voff, int64_t *indices,
                                           int64_t ioff)
{
    constexpr bool F = num<T>::floating;
    switch (op) {
    case SB_REDUCE_SUM:
        if (F)
            ((T *)values)[voff] = from_double<T>(r.fsum);
        else
            ((int64_t *)values)[voff] = r.isum;
        break;
    case SB_REDUCE_MEAN:
        ((T *)values)[voff] = from_double<T>(count ? r.fsum / count : NAN);
        break;
    default:
        if (F)
            ((T *)values)[voff] = from_double<T>(r.fbest);
        else
            ((T *)values)[voff] = (T)r.ibest;
        if (indices) indices[ioff] = r.pos < 0 ? 0 : r.pos;
        break;
    }
}

// The reduced elements of one output: `inner` walks them (row-major positions are the
// indices reported), starting at the output's base offset in a.
struct reduce_args {
    strided_iter<3> outer; // over the output shape: values, indices, a
    strided_iter<1> inner; // over the reduced dims of a
    int64_t outputs, count;
};

template <typename T>
__global__ void reduce_thread_kernel(sb_reduce_op op, void *values, int64_t *indices, const T *a,
                                     reduce_args args)
{
    SB_GRID_STRIDE_LOOP(o, args.outputs)
    {
        int64_t off[3];
        args.outer.offsets(o, off);
        racc r = racc_empty();
        for (int64_t j = 0; j < args.count; j++) {
            int64_t in;
            args.inner.offsets(j, &in);
            racc_add<T>(op, r, a[off[2] + in], j);
        }
        racc_store<T>(op, r, args.count, values, off[0], indices, off[1]);
    }
}

// Block-wide merge of every thread's accumulator into shared[0].
template <typename T> __device__ void block_merge(sb_reduce_op op, racc *shared, racc mine)
{
    shared[threadIdx.x] = mine;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) racc_merge<T>(op, shared[threadIdx.x], shared[threadIdx.x + s]);
        __syncthreads();
    }
}

// One block per output: long reductions (a row of logits, a whole channel).
template <typename T>
__global__ void reduce_block_kernel(sb_reduce_op op, void *values, int64_t *indices, const T *a,
                                    reduce_args args)
{
    __shared__ racc shared[kThreads];
    for (int64_t o = blockIdx.x; o < args.outputs; o += gridDim.x) {
        int64_t off[3];
        args.outer.offsets(o, off);
        racc r = racc_empty();
        for (int64_t j = threadIdx.x; j < args.count; j += blockDim.x) {
            int64_t in;
            args.inner.offsets(j, &in);
            racc_add<T>(op, r, a[off[2] + in], j);
        }
        block_merge<T>(op, shared, r);
        if (threadIdx.x == 0)
            racc_store<T>(op, shared[0], args.count, values, off[0], indices, off[1]);
        __syncthreads();
    }
}

// Column reductions (a [N, C] tensor reduced over N): neighbouring outputs are neighbours in
// memory while each output's own elements are C apart. A block covers 32 neighbouring outputs
// (threadIdx.x, so every read of a warp is one coalesced row segment) and splits each one's
// elements over kColumnRows row groups (threadIdx.y), merged in shared memory at the end.
constexpr int kColumnRows = 8;

template <typename T>
__global__ void reduce_columns_kernel(sb_reduce_op op, void *values, int64_t *indices, const T *a,
                                      reduce_args args)
{
    __shared__ racc shared[kColumnRows][32];
    for (int64_t base = (int64_t)blockIdx.x * 32; base < args.outputs;
         base += (int64_t)gridDim.x * 32) {
        int64_t o = base + threadIdx.x;
        int64_t off[3] = {0, 0, 0};
        racc r = racc_empty();
        if (o < args.outputs) {
            args.outer.offsets(o, off);
            for (int64_t j = threadIdx.y; j < args.count; j += kColumnRows) {
                int64_t in;
                args.inner.offsets(j, &in);
                racc_add<T>(op, r, a[off[2] + in], j);
            }
        }
        shared[threadIdx.y][threadIdx.x] = r;
        __syncthreads();
        if (threadIdx.y == 0 && o < args.outputs) {
            for (int y = 1; y < kColumnRows; y++)
                racc_merge<T>(op, r, shared[y][threadIdx.x]);
            racc_store<T>(op, r, args.count, values, off[0], indices, off[1]);
        }
        __syncthreads();
    }
}

// One output over many blocks: each block leaves a partial, a second pass merges them.
template <typename T>
__global__ void reduce_partial_kernel(sb_reduce_op op, racc *partials, const T *a, reduce_args args)
{
    __shared__ racc shared[kThreads];
    racc r = racc_empty();
    SB_GRID_STRIDE_LOOP(j, args.count)
    {
        int64_t in;
        args.inner.offsets(j, &in);
        racc_add<T>(op, r, a[in], j);
    }
    block_merge<T>(op, shared, r);
    if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

template <typename T>
__global__ void reduce_final_kernel(sb_reduce_op op, void *values, int64_t *indices,
                                    const racc *partials, int nparts, int64_t count)
{
    __shared__ racc shared[kThreads];
    racc r = racc_empty();
    for (int i = threadIdx.x; i < nparts; i += blockDim.x)
        racc_merge<T>(op, r, partials[i]);
    block_merge<T>(op, shared, r);
    if (threadIdx.x == 0) racc_store<T>(op, shared[0], count, values, 0, indices, 0);
}

template <typename T>
static sb_status reduce_typed(sb_reduce_op op, sb_tensor *values, sb_tensor *indices,
                              const sb_tensor *a, int dim, cudaStream_t stream)
{
    reduce_args args;
    int64_t out_sizes[SB_MAX_DIMS] = {0}, a_outer[SB_MAX_DIMS] = {0}, v_strides[SB_MAX_DIMS] = {0},
            i_strides[SB_MAX_DIMS] = {0};
    int nd = 0;
    if (dim >= 0) {
        for (int d = 0; d < a->ndim; d++) {
            if (d == dim) continue;
            out_sizes[nd] = a->sizes[d];
            a_outer[nd] = a->strides[d];
            // values/indices have a's shape without dim: their own strides, in order
            v_strides[nd] = values->strides[nd];
            i_strides[nd] = indices ? indices->strides[nd] : 0;
            nd++;
        }
        const int64_t *inner_strides[1] = {&a->strides[dim]};
        args.inner = make_iter<1>(1, &a->sizes[dim], inner_strides);
        args.count = a->sizes[dim];
    } else {
        const int64_t *inner_strides[1] = {a->strides};
        args.inner = make_iter<1>(a->ndim, a->sizes, inner_strides);
        args.count = numel_of(a);
    }
    const int64_t *outer_strides[3] = {v_strides, i_strides, a_outer};
    args.outer = make_iter<3>(nd, out_sizes, outer_strides);
    args.outputs = 1;
    for (int d = 0; d < nd; d++)
        args.outputs *= out_sizes[d];
    if (args.outputs == 0) return SB_OK;

    void *v = data_of(values);
    int64_t *ix = indices ? (int64_t *)data_of(indices) : NULL;
    const T *pa = (const T *)data_of(a);
    if (args.outputs == 1 && args.count > 65536) {
        int nparts = (int)((args.count + kThreads * 16 - 1) / (kThreads * 16));
        if (nparts > 1024) nparts = 1024;
        void *scratch = NULL;
        SB_TRY(sb_cuda_host_services->device_alloc(device_of(a), nparts * sizeof(racc), &scratch));
        // A whole-tensor reduction: the outer offset is 0, a's data pointer is the start.
        reduce_partial_kernel<T><<<nparts, kThreads, 0, stream>>>(op, (racc *)scratch, pa, args);
        sb_status st = SB_CUDA_LAUNCH_CHECK("reduce_partial_kernel");
        if (st == SB_OK) {
            reduce_final_kernel<T>
                <<<1, kThreads, 0, stream>>>(op, v, ix, (const racc *)scratch, nparts, args.count);
            st = SB_CUDA_LAUNCH_CHECK("reduce_final_kernel");
        }
        sb_cuda_host_services->device_free(device_of(a), scratch);
        return st;
    }
    // Neighbouring outputs adjacent in a, each output's elements strided: the column kernel.
    bool columns = args.outer.strides[2][args.outer.ndim - 1] == 1 &&
                   args.inner.strides[0][args.inner.ndim - 1] != 1 && args.count >= kColumnRows;
    if (columns && nd > 0) {
        int64_t groups = (args.outputs + 31) / 32;
        unsigned blocks = groups < 65535 * 16 ? (unsigned)groups : 65535u * 16;
        reduce_columns_kernel<T><<<blocks, dim3(32, kColumnRows), 0, stream>>>(op, v, ix, pa, args);
        return SB_CUDA_LAUNCH_CHECK("reduce_columns_kernel");
    }
    if (args.count >= 256 && args.outputs < 65536 * 4) {
        unsigned blocks = args.outputs < 65535 ? (unsigned)args.outputs : 65535u;
        reduce_block_kernel<T><<<blocks, kThreads, 0, stream>>>(op, v, ix, pa, args);
        return SB_CUDA_LAUNCH_CHECK("reduce_block_kernel");
    }
    reduce_thread_kernel<T><<<blocks_for(args.outputs), kThreads, 0, stream>>>(op, v, ix, pa, args);
    return SB_CUDA_LAUNCH_CHECK("reduce_thread_kernel");
}

sb_status cuda_reduce(sb_reduce_op op, sb_tensor *values, sb_tensor *indices, const sb_tensor *a,
                      int dim)
{
    if (sb_reduce_op_floating(op) && !dtype_is_floating(a->dtype))
        return unsupported_dtype(sb_reduce_op_name(op), a->dtype);
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(a), &stream));
    SB_CUDA_DISPATCH_ALL(a->dtype, return unsupported_dtype("reduction", a->dtype),
                         return reduce_typed<T>(op, values, indices, a, dim, stream))
}

// --- topk ----------------------------------------------------------------------------------

// Larger first; NaN counts as the largest (as PyTorch); ties by lower position. Compared
// in the element's arithmetic type: int64 values above 2^53 do not survive a double.
template <typename A>
__device__ __forceinline__ bool ranks_before(A a, long long ia, A b, long long ib)
{
    bool na = a != a, nb = b != b;
    if (na || nb) return na && (!nb || ia < ib);
    return a > b || (a == b && ia < ib);
}

struct topk_args {
    strided_iter<3> rows; // over a's shape without dim: values, indices, a
    int64_t nrows, n, k;
    int64_t a_stride, v_stride, i_stride; // along dim, in elements
};

// Larger k: one block per row, k passes: pass r picks the element ranked first among those
// ranked after pick r-1. O(k n) per row, no scratch memory.
template <typename T>
__global__ void topk_kernel(T *values, int64_t *indices, const T *a, topk_args args)
{
    using A = typename num<T>::acc;
    __shared__ A best_v[kThreads];
    __shared__ long long best_i[kThreads];
    for (int64_t row = blockIdx.x; row < args.nrows; row += gridDim.x) {
        int64_t off[3];
        args.rows.offsets(row, off);
        const T *in = a + off[2];
        A prev_v = A(0);
        long long prev_i = -1;
        for (int64_t r = 0; r < args.k; r++) {
            A bv = A(0);
            long long bi = -1;
            for (int64_t j = threadIdx.x; j < args.n; j += blockDim.x) {
                A v = num<T>::load(in[j * args.a_stride]);
                if (prev_i >= 0 && !ranks_before(prev_v, prev_i, v, j)) continue;
                if (bi < 0 || ranks_before(v, j, bv, bi)) {
                    bv = v;
                    bi = j;
                }
            }
            best_v[threadIdx.x] = bv;
            best_i[threadIdx.x] = bi;
            __syncthreads();
            for (int s = blockDim.x / 2; s > 0; s >>= 1) {
                if ((int)threadIdx.x < s) {
                    long long oi = best_i[threadIdx.x + s];
                    if (oi >= 0 && (best_i[threadIdx.x] < 0 ||
                                    ranks_before(best_v[threadIdx.x + s], oi, best_v[threadIdx.x],
                                                 best_i[threadIdx.x]))) {
                        best_v[threadIdx.x] = best_v[threadIdx.x + s];
                        best_i[threadIdx.x] = oi;
                    }
                }
                __syncthreads();
            }
            prev_v = best_v[0];
            prev_i = best_i[0];
            if (threadIdx.x == 0) {
                values[off[0] + r * args.v_stride] = in[prev_i * args.a_stride];
                indices[off[1] + r * args.i_stride] = prev_i;
            }
            __syncthreads();
        }
    }
}

// Small k (top-1, top-5 of an accuracy): one pass over the row. Each thread keeps its own k
// best in registers, sorted; then the block merges those lists pairwise in shared memory
// (log2(threads) rounds of an O(k) merge) and the first k are the answer.
constexpr int kTopkSmall = 16;   // the most a thread keeps
constexpr int kTopkThreads = 64; // 64 lists of 16 (value, position) pairs fit shared memory

template <typename T>
__global__ void topk_small_kernel(T *values, int64_t *indices, const T *a, topk_args args)
{
    using A = typename num<T>::acc;
    __shared__ A list_v[kTopkThreads][kTopkSmall];
    __shared__ long long list_i[kTopkThreads][kTopkSmall];
    const int k = (int)args.k;
    for (int64_t row = blockIdx.x; row < args.nrows; row += gridDim.x) {
        int64_t off[3];
        args.rows.offsets(row, off);
        const T *in = a + off[2];
        A mv[kTopkSmall];
        long long mi[kTopkSmall];
        int have = 0;
        for (int64_t j = threadIdx.x; j < args.n; j += blockDim.x) {
            A v = num<T>::load(in[j * args.a_stride]);
            if (have == k && !ranks_before(v, j, mv[k - 1], mi[k - 1])) continue;
            int p = have < k ? have++ : k - 1; // insertion: shift the lower-ranked down
            while (p > 0 && ranks_before(v, j, mv[p - 1], mi[p - 1])) {
                mv[p] = mv[p - 1];
                mi[p] = mi[p - 1];
                p--;
            }
            mv[p] = v;
            mi[p] = j;
        }
        for (int r = 0; r < k; r++) {
            list_v[threadIdx.x][r] = r < have ? mv[r] : A(0);
            list_i[threadIdx.x][r] = r < have ? mi[r] : -1; // -1: an empty slot
        }
        __syncthreads();
        for (int step = blockDim.x / 2; step > 0; step >>= 1) {
            if ((int)threadIdx.x < step) {
                int other = threadIdx.x + step, x = 0, y = 0;
                for (int r = 0; r < k; r++) { // the k best of two sorted lists
                    long long xi = list_i[threadIdx.x][x], yi = list_i[other][y];
                    bool take_x = yi < 0 || (xi >= 0 && ranks_before(list_v[threadIdx.x][x], xi,
                                                                     list_v[other][y], yi));
                    mv[r] = take_x ? list_v[threadIdx.x][x] : list_v[other][y];
                    mi[r] = take_x ? xi : yi;
                    take_x ? x++ : y++;
                }
                for (int r = 0; r < k; r++) {
                    list_v[threadIdx.x][r] = mv[r];
                    list_i[threadIdx.x][r] = mi[r];
                }
            }
            __syncthreads();
        }
        if ((int)threadIdx.x < k) {
            long long pos = list_i[0][threadIdx.x];
            values[off[0] + threadIdx.x * args.v_stride] = in[pos * args.a_stride];
            indices[off[1] + threadIdx.x * args.i_stride] = pos;
        }
        __syncthreads();
    }
}

sb_status cuda_topk(sb_tensor *values, sb_tensor *indices, const sb_tensor *a, int64_t k, int dim)
{
    cudaStream_t stream;
    SB_TRY(sb_cuda_use_device(device_of(a), &stream));
    int64_t sizes[SB_MAX_DIMS] = {0}, strides[3][SB_MAX_DIMS] = {{0}}; // values, indices, a
    const sb_tensor *operands[3] = {values, indices, a};
    int nd = sb_drop_dim(a, dim, 3, operands, sizes, strides);
    topk_args args;
    const int64_t *row_strides[3] = {strides[0], strides[1], strides[2]};
    args.rows = make_iter<3>(nd, sizes, row_strides);
    args.nrows = 1;
    for (int d = 0; d < nd; d++)
        args.nrows *= sizes[d];
    args.n = a->sizes[dim];
    args.k = k;
    args.a_stride = a->strides[dim];
    args.v_stride = values->strides[dim];
    args.i_stride = indices->strides[dim];
    if (args.nrows == 0 || k == 0) return SB_OK;
    unsigned blocks = args.nrows < 65535 ? (unsigned)args.nrows : 65535u;
    if (k <= kTopkSmall) {
        SB_CUDA_DISPATCH_ALL(
            a->dtype, return unsupported_dtype("topk", a->dtype),
            topk_small_kernel<T><<<blocks, kTopkThreads, 0, stream>>>(
                (T *)data_of(values), (int64_t *)data_of(indices), (const T *)data_of(a), args))
        return SB_CUDA_LAUNCH_CHECK("topk_small_kernel");
    }
    SB_CUDA_DISPATCH_ALL(
        a->dtype, return unsupported_dtype("topk", a->dtype),
        topk_kernel<T><<<blocks, kThreads, 0, stream>>>(
            (T *)data_of(values), (int64_t *)data_of(indices), (const T *)data_of(a), args))
    return SB_CUDA_LAUNCH_CHECK("topk_kernel");
}
