/* `sbengine serve` and `sbengine report`: both live in a plugin, sbengine_server.so
 * (engine/server/), loaded here only for these commands, so that its libraries
 * (libmicrohttpd, SQLite, libpq, libsodium, jansson) never load for a benchmark run and
 * `sbengine -e ''` starts as fast as before. */
#include "server_cli.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SBENGINE_INSTALL_LIBDIR
#define SBENGINE_INSTALL_LIBDIR "lib"
#endif
#define PLUGIN_FILE "sbengine_server.so"
#define ENTRY "sb_server_command"

/* $SBENGINE_SERVER_PLUGIN, else next to the executable: build/lib/sbengine/ in the build
 * tree, <prefix>/<libdir>/sbengine/ when installed. */
static bool locate(char *path, size_t size, char *tried, size_t tried_size)
{
    const char *env = getenv("SBENGINE_SERVER_PLUGIN");
    if (env && *env) {
        snprintf(path, size, "%s", env);
        snprintf(tried, tried_size, "%s (SBENGINE_SERVER_PLUGIN)", env);
        return access(path, R_OK) == 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *layouts[] = {"%s/lib/sbengine/" PLUGIN_FILE,
                             "%s/../" SBENGINE_INSTALL_LIBDIR "/sbengine/" PLUGIN_FILE};
    tried[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        snprintf(path, size, layouts[k], exe);
        if (access(path, R_OK) == 0) return true;
        size_t used = strlen(tried);
        snprintf(tried + used, tried_size - used, "%s%s", used ? ", " : "", path);
    }
    return false;
}

int sb_server_cli(const char *command, int argc, char **argv)
{
    char path[PATH_MAX + 64], tried[2 * PATH_MAX + 128];
    if (!locate(path, sizeof path, tried, sizeof tried)) {
        fprintf(stderr,
                "sbengine %s: the server plugin is not there (looked for %s); this build has no "
                "server: install libmicrohttpd-dev, libsqlite3-dev, libsodium-dev and "
                "libjansson-dev (tools/setup) and build again\n",
                command, tried);
        return 1;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "sbengine %s: cannot load the server plugin: %s\n", command, dlerror());
        return 1;
    }
    int (*entry)(int, char **);
    *(void **)&entry = dlsym(lib, ENTRY);
    if (!entry) {
        fprintf(stderr, "sbengine %s: %s has no %s\n", command, path, ENTRY);
        return 1;
    }
    /* argv[0] becomes the command; the plugin parses the rest. */
    char *args[argc + 1];
    args[0] = (char *)command;
    for (int i = 1; i < argc; i++)
        args[i] = argv[i];
    args[argc] = NULL;
    return entry(argc, args);
}
