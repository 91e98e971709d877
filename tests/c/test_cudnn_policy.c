/* When the CUDA plugin uses cuDNN and for what (cuda/cudnn_policy.h), run without a GPU and
 * without cuDNN: the same functions the plugin's dnn.cpp calls before any cuDNN call. */
#include "cuda/cudnn_policy.h"
#include "sbtest.h"

static void test_env_switch(void)
{
    SB_CHECK(!sb_cudnn_env_disabled(NULL));
    SB_CHECK(!sb_cudnn_env_disabled(""));
    SB_CHECK(!sb_cudnn_env_disabled("1"));
    SB_CHECK(!sb_cudnn_env_disabled("on"));
    SB_CHECK(!sb_cudnn_env_disabled("offline"));
    SB_CHECK(sb_cudnn_env_disabled("0"));
    SB_CHECK(sb_cudnn_env_disabled("off"));
    SB_CHECK(sb_cudnn_env_disabled("OFF"));
    SB_CHECK(sb_cudnn_env_disabled("False"));
    SB_CHECK(sb_cudnn_env_disabled("no"));
}

static void test_versions(void)
{
    char text[32], why[512];
    sb_cudnn_version_text(91900, text, sizeof text);
    SB_CHECK(strcmp(text, "9.19.0") == 0);
    sb_cudnn_version_text(90102, text, sizeof text);
    SB_CHECK(strcmp(text, "9.1.2") == 0);
    sb_cudnn_version_text(8907, text, sizeof text); /* cuDNN 8 numbered them differently */
    SB_CHECK(strcmp(text, "8.9.7") == 0);
    sb_cudnn_version_text(0, text, sizeof text);
    SB_CHECK(strcmp(text, "unknown") == 0);

    SB_CHECK(sb_cudnn_versions_usable(91900, 13000, 9, 13000, why, sizeof why));
    SB_CHECK(sb_cudnn_versions_usable(90100, 13020, 9, 13000, why, sizeof why));
    /* an old cuDNN next to a plugin built with cuDNN 9's headers */
    SB_CHECK(!sb_cudnn_versions_usable(8907, 12020, 9, 13000, why, sizeof why));
    SB_CHECK_STR_CONTAINS(why, "version 8.9.7");
    SB_CHECK_STR_CONTAINS(why, "built with the headers of cuDNN 9");
    /* cuDNN 9 for CUDA 12 next to CUDA 13 */
    SB_CHECK(!sb_cudnn_versions_usable(90800, 12080, 9, 13000, why, sizeof why));
    SB_CHECK_STR_CONTAINS(why, "built for CUDA 12.8");
    SB_CHECK_STR_CONTAINS(why, "install cuDNN 9 for CUDA 13");
    SB_CHECK(!sb_cudnn_versions_usable(100000, 13000, 9, 13000, NULL, 0)); /* no reason asked */
}

static sb_cudnn_conv_case conv(int64_t n, int64_t c, int64_t hw, int64_t o, int64_t k,
                               int64_t groups)
{
    sb_cudnn_conv_case x = {.floating = true,
                            .n = n,
                            .c = c,
                            .h = hw,
                            .w = hw,
                            .o = o,
                            .kh = k,
                            .kw = k,
                            .oh = hw - k + 1,
                            .ow = hw - k + 1,
                            .stride = {1, 1},
                            .pad = {0, 0},
                            .dilation = {1, 1},
                            .groups = groups};
    return x;
}

static void test_conv_eligibility(void)
{
    sb_cudnn_conv_case k = conv(32, 64, 56, 64, 3, 1); /* ResNet's 3x3 */
    SB_CHECK(sb_cudnn_conv_eligible(&k));
    k = conv(1, 32, 112, 32, 3, 32); /* depthwise */
    SB_CHECK(sb_cudnn_conv_eligible(&k));
    k = conv(4, 8, 17, 12, 3, 4); /* grouped, strided, dilated, padded */
    k.stride[0] = 2;
    k.dilation[1] = 2;
    k.pad[0] = 1;
    SB_CHECK(sb_cudnn_conv_eligible(&k));
    k.floating = false; /* integer tensors have no cuDNN convolution */
    SB_CHECK(!sb_cudnn_conv_eligible(&k));
    /* more elements than the legacy API's int sizes take: the plugin's own kernels */
    k = conv(1024, 256, 1500, 256, 1, 1);
    SB_CHECK(!sb_cudnn_conv_eligible(&k));
    k = conv(1, 3, 8, 4, 1, 1);
    k.w = (int64_t)INT32_MAX + 1;
    SB_CHECK(!sb_cudnn_conv_eligible(&k));
    k = conv(1, 3, 8, 4, 1, 0);
    SB_CHECK(!sb_cudnn_conv_eligible(&k));
    k = conv(2, 0, 5, 3, 3, 1); /* no input channels: the result is the bias */
    SB_CHECK(!sb_cudnn_conv_eligible(&k));
}

static void test_fused_epilogue(void)
{
    SB_CHECK(sb_cudnn_fuse_epilogue(true, true, SB_CUDNN_ACT_RELU));
    SB_CHECK(!sb_cudnn_fuse_epilogue(true, false, SB_CUDNN_ACT_RELU)); /* needs a bias */
    SB_CHECK(!sb_cudnn_fuse_epilogue(true, true, SB_CUDNN_ACT_NONE));
    SB_CHECK(!sb_cudnn_fuse_epilogue(false, true, SB_CUDNN_ACT_RELU)); /* float16, bfloat16 */
    SB_CHECK(!sb_cudnn_fuse_epilogue(true, true, 4));                  /* SiLU: own epilogue */
}

static sb_cudnn_pool_case pool(bool is_max, int64_t hw, int64_t k, int64_t s, int64_t p,
                               bool ceil_mode)
{
    int64_t span = hw + 2 * p - k;
    int64_t out = (ceil_mode ? (span + s - 1) : span) / s + 1;
    sb_cudnn_pool_case x = {.floating = true,
                            .is_max = is_max,
                            .n = 2,
                            .c = 3,
                            .h = hw,
                            .w = hw,
                            .oh = out,
                            .ow = out,
                            .kernel = {k, k},
                            .stride = {s, s},
                            .pad = {p, p},
                            .dilation = {1, 1}};
    return x;
}

static void test_pool_eligibility(void)
{
    sb_cudnn_pool_case k = pool(true, 112, 3, 2, 1, false); /* ResNet's stem pooling */
    SB_CHECK(sb_cudnn_pool_eligible(&k));
    k = pool(false, 7, 7, 7, 0, false);
    SB_CHECK(sb_cudnn_pool_eligible(&k));
    k = pool(false, 8, 3, 2, 1, false);
    SB_CHECK(sb_cudnn_pool_eligible(&k));
    /* ceil mode where it adds a clipped window: PyTorch's divisor differs from cuDNN's */
    k = pool(false, 8, 3, 2, 0, true);
    SB_CHECK(k.oh == 4);
    SB_CHECK(!sb_cudnn_pool_eligible(&k));
    /* ceil mode that adds nothing is the floor-mode result */
    k = pool(true, 7, 3, 2, 0, true);
    SB_CHECK(sb_cudnn_pool_eligible(&k));
    k = pool(true, 9, 3, 1, 1, false);
    k.dilation[0] = 2; /* cuDNN's pooling has no dilation */
    k.oh = 9 + 2 - 2 * 2 - 1 + 1;
    SB_CHECK(!sb_cudnn_pool_eligible(&k));
    k = pool(false, 8, 2, 2, 0, false);
    k.divisor_override = 3;
    SB_CHECK(!sb_cudnn_pool_eligible(&k));
    k.is_max = true; /* the override is average pooling's only */
    SB_CHECK(sb_cudnn_pool_eligible(&k));
    k.floating = false;
    SB_CHECK(!sb_cudnn_pool_eligible(&k));
}

int main(void)
{
    SB_RUN(test_env_switch);
    SB_RUN(test_versions);
    SB_RUN(test_conv_eligibility);
    SB_RUN(test_fused_epilogue);
    SB_RUN(test_pool_eligibility);
    return sb_test_summary();
}
