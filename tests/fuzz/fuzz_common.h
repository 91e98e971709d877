/* Shared by the fuzz targets: a private scratch folder (under $TMPDIR, made once per
 * process) for the readers that take paths, and writing the input into a file there. */
#ifndef SB_FUZZ_COMMON_H
#define SB_FUZZ_COMMON_H

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_dir[512];

static int fuzz_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static void fuzz_remove_tree(const char *path);

static void fuzz_cleanup(void)
{
    if (fuzz_dir[0]) fuzz_remove_tree(fuzz_dir);
}

static const char *fuzz_scratch(void)
{
    if (!fuzz_dir[0]) {
        atexit(fuzz_cleanup);
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/sbengine-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort();
    }
    return fuzz_dir;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

static int fuzz_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Empties (and removes) a folder tree. */
static void fuzz_remove_tree(const char *path)
{
    nftw(path, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
