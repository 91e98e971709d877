/* What the plugin needs of the GPU and the driver (cuda/compat.h), run without a GPU: the same
 * functions the plugin calls when it counts devices. */
#include "cuda/compat.h"
#include "sbtest.h"

static const char *const BUILT = "80-real,86-real,89-real,90";

static void test_release_list(void)
{
    SB_CHECK(sb_cuda_arch_runs(BUILT, 8, 0));  /* A100 */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 8, 6));  /* RTX 30xx, A10 */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 8, 7));  /* Orin: sm_86 code runs there */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 8, 9));  /* L4, RTX 40xx */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 9, 0));  /* H100, H200 */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 10, 0)); /* B200: through compute_90 PTX */
    SB_CHECK(sb_cuda_arch_runs(BUILT, 12, 0));
    SB_CHECK(!sb_cuda_arch_runs(BUILT, 7, 5)); /* T4: older than anything in the plugin */
    SB_CHECK(!sb_cuda_arch_runs(BUILT, 7, 0));
    SB_CHECK(!sb_cuda_arch_runs(BUILT, 6, 1));
}

static void test_the_old_list(void)
{
    /* What the plugin carried before issue 20: sm_90 + compute_90 PTX only. An A100 or an L4
     * then saw "no kernel image is available" at its first kernel. */
    SB_CHECK(!sb_cuda_arch_runs("90", 8, 0));
    SB_CHECK(!sb_cuda_arch_runs("90", 8, 9));
    SB_CHECK(sb_cuda_arch_runs("90", 9, 0));
    SB_CHECK(!sb_cuda_arch_runs("90-real", 10, 0)); /* SASS only: no JIT for newer GPUs */
    SB_CHECK(sb_cuda_arch_runs("90-virtual", 10, 0));
    SB_CHECK(!sb_cuda_arch_runs("90a-real", 10, 0)); /* arch-specific code: that GPU only */
    SB_CHECK(sb_cuda_arch_runs("90a-real", 9, 0));
    SB_CHECK(sb_cuda_arch_runs("80;90", 8, 6)); /* CMake's own separator */
    SB_CHECK(!sb_cuda_arch_runs("", 9, 0));
    SB_CHECK(!sb_cuda_arch_runs("x,,", 9, 0));
}

static void test_description(void)
{
    char buf[256];
    sb_cuda_arch_describe(BUILT, buf, sizeof buf);
    SB_CHECK(strcmp(buf, "sm_80, sm_86, sm_89, sm_90 and PTX for compute_90 (compiled by the "
                         "driver for newer GPUs)") == 0);
    sb_cuda_arch_describe("90-real", buf, sizeof buf);
    SB_CHECK(strcmp(buf, "sm_90") == 0);
    char tiny[8];
    sb_cuda_arch_describe(BUILT, tiny, sizeof tiny); /* truncated, still terminated */
    SB_CHECK(strlen(tiny) < sizeof tiny);
}

static void test_driver_message(void)
{
    char installed[32], msg[512];
    sb_cuda_driver_version_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue "
                                "Mar  5 22:23:31 UTC 2024\nGCC version: gcc 12\n",
                                installed, sizeof installed);
    SB_CHECK(strcmp(installed, "550.54.15") == 0);
    sb_cuda_driver_message(msg, sizeof msg, 13000, 12040, installed);
    SB_CHECK_STR_CONTAINS(msg, "installed 550.54.15 (supports CUDA 12.4)");
    SB_CHECK_STR_CONTAINS(msg, "required 580 or newer (for CUDA 13.0)");
    sb_cuda_driver_message(msg, sizeof msg, 13000, 0, NULL); /* nothing known about it */
    SB_CHECK_STR_CONTAINS(msg, "installed unknown version, required 580 or newer");
    sb_cuda_driver_message(msg, sizeof msg, 99000, 12040, "");
    SB_CHECK_STR_CONTAINS(msg, "required one supporting CUDA (for CUDA 99.0)");
    sb_cuda_driver_version_text("garbage", installed, sizeof installed);
    SB_CHECK(installed[0] == '\0');
    sb_cuda_driver_version_text(NULL, installed, sizeof installed);
    SB_CHECK(installed[0] == '\0');
}

int main(void)
{
    SB_RUN(test_driver_message);
    SB_RUN(test_release_list);
    SB_RUN(test_the_old_list);
    SB_RUN(test_description);
    return sb_test_summary();
}
