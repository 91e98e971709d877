#include "core/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

void *sb_dynlib_open(const char *soname, const char *package, char *err, size_t err_size)
{
    void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, err_size, "%s could not be loaded (%s); install %s (tools/setup)", soname,
                 dlerror(), package);
    }
    return lib;
}

bool sb_dynlib_resolve(void *lib, const char *soname, const sb_dynlib_symbol *symbols, size_t count,
                       const char *package, char *err, size_t err_size)
{
    for (size_t i = 0; i < count; i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(err, err_size, "%s lacks %s; install %s (tools/setup)", soname,
                     symbols[i].name, package);
            return false;
        }
    }
    return true;
}
