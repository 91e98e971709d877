#include "core/cpu_features.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void sb_cpu_features_detect(sb_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1 || !__get_cpuid(1, &a, &b, &c, &d)) return;
    f->sse3 = c & (1u << 0);
    f->ssse3 = c & (1u << 9);
    f->fma = c & (1u << 12);
    f->sse41 = c & (1u << 19);
    f->sse42 = c & (1u << 20);
    f->avx = c & (1u << 28);
    bool osxsave = c & (1u << 27);
    if (osxsave) {
        uint64_t xcr0 = xgetbv0();
        f->os_ymm = (xcr0 & 0x6) == 0x6;   /* SSE + AVX state */
        f->os_zmm = (xcr0 & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f->avx2 = b & (1u << 5);
        f->avx512f = b & (1u << 16);
        f->avx512dq = b & (1u << 17);
        f->avx512bw = b & (1u << 30);
        f->avx512vl = b & (1u << 31);
    }
}
#else
void sb_cpu_features_detect(sb_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif

static bool has_avx512(const sb_cpu_features *f)
{
    return f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->os_ymm && f->os_zmm;
}

static bool has_avx2(const sb_cpu_features *f)
{
    return f->avx2 && f->fma && f->avx && f->os_ymm;
}

const char *sb_blas_core_for(const sb_cpu_features *f)
{
    if (has_avx512(f)) return "SkylakeX";
    if (has_avx2(f)) return "Haswell";
    if (f->avx && f->os_ymm) return "Sandybridge";
    if (f->sse42) return "Nehalem";
    if (f->ssse3) return "Core2";
    return NULL;
}

const char *sb_cpu_features_summary(const sb_cpu_features *f)
{
    if (has_avx512(f)) return "AVX-512";
    if (has_avx2(f)) return "AVX2+FMA";
    if (f->avx && f->os_ymm) return "AVX";
    if (f->avx512f || f->avx2 || f->avx) return "SSE only (the OS does not save AVX state)";
    if (f->sse42) return "SSE4.2";
    if (f->ssse3) return "SSSE3";
    return "SSE3 or less";
}

bool sb_blas_core_is_generic(const char *core)
{
    /* dynamic.c in OpenBLAS: Prescott on x86-64, Katmai/Banias on 32-bit x86. */
    static const char *const generic[] = {"Prescott", "Katmai", "Banias"};
    if (!core) return true;
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(core, generic[i]) == 0) return true;
    return false;
}

const char *sb_blas_core_choice(const char *user_coretype, const char *openblas_core,
                                const sb_cpu_features *f)
{
    if (user_coretype && *user_coretype) return NULL;
    if (!sb_blas_core_is_generic(openblas_core)) return NULL;
    return sb_blas_core_for(f);
}
