/* What the CUDA plugin needs of the GPU and of the driver, as text the user can act on.
 *
 * Architectures: which GPUs a plugin built for a list of CUDA architectures runs on, so that an
 * unsupported GPU is reported by sb.cuda.available() with the reason instead of failing at its
 * first kernel with "no kernel image is available for execution on the device".
 *
 * The list is CMake's CUDA_ARCHITECTURES, baked into the plugin at build time with commas:
 * "80-real,86-real,89-real,90". "NN-real" is machine code (SASS) for sm_NN, which runs on the
 * same major version with an equal or higher minor one (sm_80 code runs on 8.0, 8.6, 8.7, 8.9);
 * "NN-virtual" is PTX for compute_NN, which the driver compiles for any GPU of that capability
 * or newer; a bare "NN" is both; "NNa"/"NNf" (arch-specific features) run on that exact GPU only.
 *
 * Plain C, header only: compiled by nvcc into the plugin and by gcc into its CPU test
 * (tests/c/test_cuda_compat.c). */
#ifndef SB_CUDA_COMPAT_H
#define SB_CUDA_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* One entry of the list: capability (major * 10 + minor) and what it carries. */
typedef struct sb_cuda_arch_entry {
    int cc;
    bool sass, ptx, exact;
} sb_cuda_arch_entry;

/* Reads the entry starting at *p and moves *p past it and its comma; false at the end or on
 * a malformed entry (which is skipped). */
static inline bool sb_cuda_arch_next(const char **p, sb_cuda_arch_entry *e)
{
    const char *s = *p;
    while (*s == ',' || *s == ';' || *s == ' ')
        s++;
    if (!*s) return false;
    int cc = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        cc = cc * 10 + (*s++ - '0');
        digits++;
    }
    e->cc = cc;
    e->exact = *s == 'a' || *s == 'f';
    if (e->exact) s++;
    e->sass = e->ptx = true;
    if (s[0] == '-' && s[1] == 'r') /* -real */
        e->ptx = false;
    else if (s[0] == '-' && s[1] == 'v') /* -virtual */
        e->sass = false;
    bool ok = digits >= 2;
    while (*s && *s != ',' && *s != ';')
        s++;
    *p = s;
    return ok || sb_cuda_arch_next(p, e);
}

/* Whether code of `archs` runs on a GPU of compute capability major.minor. */
static inline bool sb_cuda_arch_runs(const char *archs, int major, int minor)
{
    int dev = major * 10 + minor;
    sb_cuda_arch_entry e;
    const char *p = archs;
    while (sb_cuda_arch_next(&p, &e)) {
        if (e.exact) {
            if (dev == e.cc) return true;
            continue;
        }
        if (e.sass && major == e.cc / 10 && minor >= e.cc % 10) return true;
        if (e.ptx && dev >= e.cc) return true;
    }
    return false;
}

/* "sm_80, sm_86, sm_89, sm_90 and PTX for compute_90 (newer GPUs)" into buf. */
static inline void sb_cuda_arch_describe(const char *archs, char *buf, size_t size)
{
    size_t used = 0;
    sb_cuda_arch_entry e;
    const char *p = archs;
    if (size) buf[0] = '\0';
    while (sb_cuda_arch_next(&p, &e) && used < size)
        if (e.sass)
            used += (size_t)snprintf(buf + used, size - used, "%ssm_%d%s", used ? ", " : "", e.cc,
                                     e.exact ? "a" : "");
    p = archs;
    while (sb_cuda_arch_next(&p, &e) && used < size)
        if (e.ptx && !e.exact)
            used += (size_t)snprintf(buf + used, size - used,
                                     "%sPTX for compute_%d (compiled by the driver for newer GPUs)",
                                     used ? " and " : "", e.cc);
}

/* --- the driver ------------------------------------------------------------------------- */

/* The oldest Linux driver branch that runs a CUDA runtime of this version (13000 = 13.0): CUDA
 * 13.x needs 580, 12.x 525 (NVIDIA's CUDA Toolkit release notes, "minor version compatibility").
 * NULL for a version this table does not know. */
static inline const char *sb_cuda_driver_needed(int runtime_version)
{
    switch (runtime_version / 1000) {
    case 13:
        return "580";
    case 12:
        return "525";
    default:
        return NULL;
    }
}

/* Why a runtime of `runtime_version` cannot use the installed driver, which supports CUDA up to
 * `driver_version` (cudaDriverGetVersion: 12040 = 12.4; 0 when unknown) and calls itself
 * `installed` (from /proc/driver/nvidia/version: "550.54.15"; NULL or "" when unknown):
 * "the NVIDIA driver is too old for this build: installed 550.54.15 (supports CUDA 12.4), required
 * 580 or newer (for CUDA 13.0); update the driver or use a build for an older CUDA". */
static inline void sb_cuda_driver_message(char *buf, size_t size, int runtime_version,
                                          int driver_version, const char *installed)
{
    const char *needed = sb_cuda_driver_needed(runtime_version);
    char have[96], supports[48] = "";
    if (driver_version > 0)
        snprintf(supports, sizeof supports, " (supports CUDA %d.%d)", driver_version / 1000,
                 driver_version % 1000 / 10);
    snprintf(have, sizeof have, "%s%s", installed && *installed ? installed : "unknown version",
             supports);
    snprintf(buf, size,
             "the NVIDIA driver is too old for this build: installed %s, required %s%s (for CUDA "
             "%d.%d); update the driver or use a build for an older CUDA",
             have, needed ? needed : "one supporting CUDA", needed ? " or newer" : "",
             runtime_version / 1000, runtime_version % 1000 / 10);
}

/* The driver's own version from the text of /proc/driver/nvidia/version ("NVRM version: NVIDIA
 * UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 ..."): "550.54.15" into out, "" when absent. */
static inline void sb_cuda_driver_version_text(const char *proc_text, char *out, size_t size)
{
    if (size) out[0] = '\0';
    const char *p = proc_text ? strstr(proc_text, "Kernel Module") : NULL;
    if (!p) return;
    p += sizeof "Kernel Module" - 1;
    while (*p == ' ')
        p++;
    size_t n = 0;
    while (((p[n] >= '0' && p[n] <= '9') || p[n] == '.') && n + 1 < size) {
        out[n] = p[n];
        n++;
    }
    if (size) out[n] = '\0';
}

#endif
