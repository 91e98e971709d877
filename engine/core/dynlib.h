/* Optional libraries loaded on first use, not at start-up: libcurl (a transfer), OpenBLAS (the
 * first GEMM, after the kernel choice), oneDNN (a large convolution), libpq (a PostgreSQL
 * database). docs/architecture.md, "What loads when", says why each one waits. */
#ifndef SB_CORE_DYNLIB_H
#define SB_CORE_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

/* One entry point to resolve: `*slot = dlsym(lib, name)`. */
typedef struct sb_dynlib_symbol {
    const char *name;
    void **slot;
} sb_dynlib_symbol;

/* An entry of a symbol table: the function pointer variable and the library's name for it. */
#define SB_DYNLIB_SYMBOL(pointer, symbol)                                                          \
    {                                                                                              \
        (symbol), (void **)&(pointer)                                                              \
    }

/* dlopen(soname) for the life of the process. NULL when it fails, with "<soname> could not be
 * loaded (<dlerror>); install <package> (tools/setup)" in `err`. */
void *sb_dynlib_open(const char *soname, const char *package, char *err, size_t err_size);

/* Resolves every symbol of `symbols` in `lib`. false at the first missing one, with "<soname>
 * lacks <name>; install <package> (tools/setup)" in `err`. */
bool sb_dynlib_resolve(void *lib, const char *soname, const sb_dynlib_symbol *symbols, size_t count,
                       const char *package, char *err, size_t err_size);

#endif
