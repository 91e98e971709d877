/* The OpenBLAS core choice from cpuid features (core/cpu_features.h), on fake feature sets,
 * and the loader's choice on this machine (core/blas.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/blas.h"
#include "core/buildinfo.h"
#include "core/cpu_features.h"
#include "sbtest.h"

static sb_cpu_features sse_only(void)
{
    return (sb_cpu_features){.sse3 = true, .ssse3 = true, .sse41 = true, .sse42 = true};
}

static sb_cpu_features avx2(void)
{
    sb_cpu_features f = sse_only();
    f.avx = f.fma = f.avx2 = f.os_ymm = true;
    return f;
}

static sb_cpu_features avx512(void)
{
    sb_cpu_features f = avx2();
    f.avx512f = f.avx512bw = f.avx512dq = f.avx512vl = f.os_zmm = true;
    return f;
}

static void check_core(const sb_cpu_features *f, const char *want)
{
    const char *got = sb_blas_core_for(f);
    if (!want)
        SB_CHECK(got == NULL);
    else
        SB_CHECK(got && strcmp(got, want) == 0);
}

static void test_core_per_isa(void)
{
    sb_cpu_features f = avx512();
    check_core(&f, "SkylakeX");
    f = avx2();
    check_core(&f, "Haswell");
    f = sse_only();
    check_core(&f, "Nehalem");
    f = (sb_cpu_features){.sse3 = true, .ssse3 = true};
    check_core(&f, "Core2");
    f = (sb_cpu_features){.sse3 = true};
    check_core(&f, NULL);
    f = (sb_cpu_features){0};
    check_core(&f, NULL);
}

static void test_partial_avx512_is_not_skylakex(void)
{
    /* AVX-512 F alone (Knights Landing) lacks BW/DQ/VL that the SkylakeX kernels use. */
    sb_cpu_features f = avx2();
    f.avx512f = f.os_zmm = true;
    check_core(&f, "Haswell");
    f = avx512();
    f.avx512vl = false;
    check_core(&f, "Haswell");
}

static void test_os_support_decides(void)
{
    /* The CPU has AVX-512 but the OS does not save ZMM state: AVX2 kernels. */
    sb_cpu_features f = avx512();
    f.os_zmm = false;
    check_core(&f, "Haswell");
    SB_CHECK(strcmp(sb_cpu_features_summary(&f), "AVX2+FMA") == 0);
    /* No YMM state either (XSAVE off): SSE kernels only. */
    f.os_ymm = false;
    check_core(&f, "Nehalem");
    /* AVX without AVX2/FMA: Sandy Bridge. */
    f = sse_only();
    f.avx = f.os_ymm = true;
    check_core(&f, "Sandybridge");
    f.fma = true; /* FMA without AVX2 (AMD Piledriver) is still not Haswell */
    check_core(&f, "Sandybridge");
}

static void test_choice_only_replaces_the_generic_core(void)
{
    sb_cpu_features f = avx512();
    const char *c = sb_blas_core_choice(NULL, "Prescott", &f);
    SB_CHECK(c && strcmp(c, "SkylakeX") == 0);
    c = sb_blas_core_choice("", "prescott", &f);
    SB_CHECK(c && strcmp(c, "SkylakeX") == 0);
    /* OpenBLAS knew the CPU: its own choice stays (Cooperlake, Zen, ...). */
    SB_CHECK(sb_blas_core_choice(NULL, "Cooperlake", &f) == NULL);
    SB_CHECK(sb_blas_core_choice(NULL, "Zen", &f) == NULL);
    /* The user's OPENBLAS_CORETYPE always wins, even a slower one. */
    SB_CHECK(sb_blas_core_choice("Haswell", "Prescott", &f) == NULL);
    SB_CHECK(sb_blas_core_choice("Prescott", "Prescott", &f) == NULL);
    /* A CPU with nothing better than the generic core keeps it. */
    sb_cpu_features old = {.sse3 = true};
    SB_CHECK(sb_blas_core_choice(NULL, "Prescott", &old) == NULL);
    SB_CHECK(sb_blas_core_is_generic("Prescott"));
    SB_CHECK(!sb_blas_core_is_generic("Haswell"));
}

/* On this machine: whatever OPENBLAS_CORETYPE says (the environment may set it), the loaded
 * core is never the generic one when the CPU can do better, and its origin is named. */
static void test_loaded_core_on_this_machine(void)
{
    const char *user = getenv("OPENBLAS_CORETYPE");
    SB_CHECK(sb_blas_load() == SB_OK);
    SB_CHECK(sb_blas_loaded());
    const char *kernel = sb_blas_kernel();
    const char *origin = sb_blas_kernel_origin();
    SB_CHECK(kernel[0] != '\0');
    if (user && *user) {
        SB_CHECK_STR_CONTAINS(origin, "OPENBLAS_CORETYPE=");
        SB_CHECK(strcasecmp(kernel, user) == 0);
    } else {
        sb_cpu_features f;
        sb_cpu_features_detect(&f);
        if (sb_blas_core_for(&f)) SB_CHECK(!sb_blas_core_is_generic(kernel));
        SB_CHECK(strstr(origin, "OpenBLAS's own choice") || strstr(origin, "cpuid: "));
    }
    SB_CHECK_STR_CONTAINS(sb_blas_info(), kernel);
}

int main(void)
{
    SB_RUN(test_core_per_isa);
    SB_RUN(test_partial_avx512_is_not_skylakex);
    SB_RUN(test_os_support_decides);
    SB_RUN(test_choice_only_replaces_the_generic_core);
    SB_RUN(test_loaded_core_on_this_machine);
    return sb_test_summary();
}
