/* The pooling kernel choice (nn/cpu/onednn.h): when oneDNN's pooling gives PyTorch's numbers,
 * the far-side padding it is given, and the choice by measurement. Pure functions, so this
 * runs the same with and without oneDNN (the ASan build has none). The numbers themselves
 * are checked against PyTorch in tests/lua/nn_pool_spec.lua. */
#include "nn/cpu/onednn.h"
#include "sbtest.h"

static sb_pool2d_params params(int64_t k, int64_t s, int64_t pad, int64_t dil)
{
    return (sb_pool2d_params){.kernel = {k, k},
                              .stride = {s, s},
                              .pad = {pad, pad},
                              .dilation = {dil, dil},
                              .count_include_pad = true};
}

/* ResNet's stem: 3x3, stride 2, padding 1 over 112x112 (224 input) and 16x16 (32 input). */
static void test_resnet_stem(void)
{
    sb_pool2d_params p = params(3, 2, 1, 1);
    const int64_t in[2] = {112, 112}, out[2] = {56, 56};
    int64_t pad_r[2] = {-1, -1};
    SB_CHECK(sb_onednn_pool_matches(true, in, out, &p, pad_r));
    SB_CHECK(pad_r[0] == 1 && pad_r[1] == 1); /* symmetric: PyTorch's floor size */
    SB_CHECK(sb_onednn_pool_chosen(true, true, in, out, &p));
    /* NCHW at 112x112: the engine's padded loop */
    SB_CHECK(!sb_onednn_pool_chosen(true, false, in, out, &p));
    const int64_t in32[2] = {16, 16}, out32[2] = {8, 8};
    SB_CHECK(sb_onednn_pool_chosen(true, true, in32, out32, &p));
    SB_CHECK(sb_onednn_pool_chosen(true, false, in32, out32, &p)); /* small NCHW planes */
    const int64_t in64[2] = {64, 64}, out64[2] = {32, 32}, in65[2] = {65, 64}, out65[2] = {33, 32};
    SB_CHECK(sb_onednn_pool_chosen(true, false, in64, out64, &p));
    SB_CHECK(!sb_onednn_pool_chosen(true, false, in65, out65, &p));
    /* average pooling: oneDNN in both layouts, at any size */
    SB_CHECK(sb_onednn_pool_chosen(false, false, in, out, &p));
}

/* 2x2 stride 2 (LeNet, VGG): the engine's own loop for NCHW, oneDNN for channels-last. */
static void test_two_by_two(void)
{
    sb_pool2d_params p = params(2, 2, 0, 1);
    const int64_t in[2] = {28, 28}, out[2] = {14, 14};
    SB_CHECK(!sb_onednn_pool_chosen(true, false, in, out, &p));
    SB_CHECK(sb_onednn_pool_chosen(true, true, in, out, &p));
    SB_CHECK(sb_onednn_pool_chosen(false, false, in, out, &p));
    sb_pool2d_params q = params(2, 1, 0, 1); /* stride 1: not the special loop */
    const int64_t outq[2] = {27, 27};
    SB_CHECK(sb_onednn_pool_chosen(true, false, in, outq, &q));
}

/* An odd size that floor division leaves a column of: pad_r is still the near side's. */
static void test_floor_leaves_a_remainder(void)
{
    sb_pool2d_params p = params(2, 2, 0, 1);
    const int64_t in[2] = {9, 7}, out[2] = {4, 3};
    int64_t pad_r[2];
    SB_CHECK(sb_onednn_pool_matches(true, in, out, &p, pad_r));
    SB_CHECK(pad_r[0] == 0 && pad_r[1] == 0);
    SB_CHECK(sb_onednn_pool_matches(false, in, out, &p, pad_r));
}

/* ceil_mode: the last window reaches past the input; max and an average that does not count
 * the padding follow it, an average counting padding does not (PyTorch clips its divisor). */
static void test_ceil_mode(void)
{
    sb_pool2d_params p = params(3, 2, 0, 1);
    const int64_t in[2] = {8, 8}, out[2] = {4, 4}; /* ceil((8 - 3) / 2) + 1 */
    int64_t pad_r[2];
    SB_CHECK(sb_onednn_pool_matches(true, in, out, &p, pad_r));
    SB_CHECK(pad_r[0] == 1 && pad_r[1] == 1);
    SB_CHECK(!sb_onednn_pool_matches(false, in, out, &p, pad_r));
    SB_CHECK(!sb_onednn_pool_chosen(false, true, in, out, &p));
    p.count_include_pad = false;
    SB_CHECK(sb_onednn_pool_matches(false, in, out, &p, pad_r));
    SB_CHECK(sb_onednn_pool_chosen(false, true, in, out, &p));
    /* ceil_mode whose last window ends inside the padding: nothing is clipped */
    sb_pool2d_params q = params(3, 2, 1, 1);
    const int64_t in7[2] = {7, 7}, out7[2] = {4, 4};
    SB_CHECK(sb_onednn_pool_matches(false, in7, out7, &q, pad_r));
    SB_CHECK(pad_r[0] == 1);
}

static void test_divisor_override_and_dilation(void)
{
    sb_pool2d_params p = params(3, 3, 0, 1);
    p.divisor_override = 3;
    const int64_t in[2] = {6, 6}, out[2] = {2, 2};
    int64_t pad_r[2];
    SB_CHECK(!sb_onednn_pool_matches(false, in, out, &p, pad_r));
    SB_CHECK(sb_onednn_pool_matches(true, in, out, &p, pad_r)); /* max ignores it */
    /* dilation 2, padding 1 over 10x9: extent 5 */
    sb_pool2d_params d = params(3, 1, 1, 2);
    const int64_t din[2] = {10, 9}, dout[2] = {8, 7};
    SB_CHECK(sb_onednn_pool_matches(true, din, dout, &d, pad_r));
    SB_CHECK(pad_r[0] == 1 && pad_r[1] == 1);
    SB_CHECK(sb_onednn_pool_chosen(true, true, din, dout, &d));
}

int main(void)
{
    SB_RUN(test_resnet_stem);
    SB_RUN(test_two_by_two);
    SB_RUN(test_floor_leaves_a_remainder);
    SB_RUN(test_ceil_mode);
    SB_RUN(test_divisor_override_and_dilation);
    return sb_test_summary();
}
