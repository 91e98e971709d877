#include "core/dir_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sb_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

sb_status sb_list_files(const char *dir, const char *suffix, char ***names, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) return sb_fail(SB_EIO, "cannot list folder '%s': %s", dir, strerror(errno));
    char **list = NULL;
    size_t n = 0, cap = 0, slen = strlen(suffix);
    sb_status s = SB_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        /* d_type may be DT_UNKNOWN on some file systems: ask stat then. */
        if (e->d_type != DT_REG && e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) continue;
        size_t plen = strlen(dir) + len + 2;
        char *path = malloc(plen);
        struct stat st;
        int regular = 0;
        if (path) {
            snprintf(path, plen, "%s/%s", dir, e->d_name);
            regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
            free(path);
        }
        if (!regular) continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **p = realloc(list, ncap * sizeof *p);
            if (!p) {
                s = sb_fail(SB_ENOMEM, "out of memory listing '%s'", dir);
                break;
            }
            list = p;
            cap = ncap;
        }
        list[n] = strdup(e->d_name);
        if (!list[n]) {
            s = sb_fail(SB_ENOMEM, "out of memory listing '%s'", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (s != SB_OK) {
        sb_free_names(list, n);
        return s;
    }
    if (n > 1) qsort(list, n, sizeof *list, by_name);
    *names = list;
    *count = n;
    return SB_OK;
}
