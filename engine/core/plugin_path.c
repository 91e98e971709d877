#define _GNU_SOURCE /* dladdr */
#include "core/plugin_path.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SBENGINE_INSTALL_LIBDIR
#define SBENGINE_INSTALL_LIBDIR "lib"
#endif

/* Copies the directory part of `file` into `dir`; false when there is none. */
static bool dir_of(const char *file, char *dir, size_t size)
{
    const char *slash = strrchr(file, '/');
    if (!slash || (size_t)(slash - file) >= size) return false;
    memcpy(dir, file, (size_t)(slash - file));
    dir[slash - file] = '\0';
    return true;
}

bool sb_plugin_find(const char *file, const void *anchor, char *found, size_t found_size,
                    char *tried, size_t tried_size)
{
    char dirs[2][PATH_MAX];
    int ndirs = 0;
    Dl_info info;
    char real[PATH_MAX];
    /* A relative name (LUA_CPATH "lib/?.so") is relative to the directory it was loaded
     * from, normally still the current one. */
    if (dladdr(anchor, &info) && info.dli_fname &&
        (info.dli_fname[0] == '/' || realpath(info.dli_fname, real)) &&
        dir_of(info.dli_fname[0] == '/' ? info.dli_fname : real, dirs[ndirs], sizeof dirs[ndirs]))
        ndirs++;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (dir_of(exe, dirs[ndirs], sizeof dirs[ndirs])) ndirs++;
    }
    static const char *const layouts[] = {
        "%s/sbengine/%s",                                /* build/lib */
        "%s/../../sbengine/%s",                          /* lib/lua/5.4 */
        "%s/lib/sbengine/%s",                            /* build tree exe */
        "%s/../" SBENGINE_INSTALL_LIBDIR "/sbengine/%s", /* bin/ */
    };
    tried[0] = '\0';
    size_t used = 0;
    for (int d = 0; d < ndirs; d++) {
        if (d == 1 && strcmp(dirs[0], dirs[1]) == 0) break;
        for (size_t k = 0; k < sizeof layouts / sizeof *layouts; k++) {
            char candidate[PATH_MAX + 64];
            snprintf(candidate, sizeof candidate, layouts[k], dirs[d], file);
            char resolved[PATH_MAX];
            if (access(candidate, R_OK) == 0 && realpath(candidate, resolved)) {
                snprintf(found, found_size, "%s", resolved);
                return true;
            }
            if (used < tried_size)
                used += (size_t)snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "",
                                         candidate);
        }
    }
    return false;
}
