/* ImageFolder: torchvision's DatasetFolder over ROOT/<class>/.../<image>, decoded per
 * sample in the DataLoader's workers (engine/image/). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/image_folder.h"
#include "image/image.h"

const char *const sb_img_extensions[] = {".jpg", ".jpeg", ".png",  ".ppm",  ".bmp",
                                         ".pgm", ".tif",  ".tiff", ".webp", NULL};

typedef struct strlist {
    char **items;
    size_t n, cap;
} strlist;

static sb_status strlist_push(strlist *l, char *s)
{
    if (!s) return sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **grown = realloc(l->items, sizeof(char *) * cap);
        if (!grown) {
            free(s);
            return sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
        }
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = s;
    return SB_OK;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode); /* follows links, as is_dir() */
}

/* The entries of `dir`, split into sub-folders and the rest (os.walk's dirs and files). */
static sb_status list_dir(const char *dir, strlist *dirs, strlist *files)
{
    DIR *d = opendir(dir);
    if (!d)
        return sb_fail(SB_EIO, "ImageFolder: cannot read folder '%s': %s", dir, strerror(errno));
    sb_status s = SB_OK;
    struct dirent *e;
    while (s == SB_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *path = join(dir, e->d_name);
        if (!path) {
            s = sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
            break;
        }
        if (is_dir(path)) {
            s = dirs ? strlist_push(dirs, path) : SB_OK;
            if (!dirs) free(path);
        } else {
            free(path);
            s = files ? strlist_push(files, strdup(e->d_name)) : SB_OK;
        }
    }
    closedir(d);
    return s;
}

/* Every folder under `dir` (itself included), following links, as os.walk(followlinks=True). */
static sb_status walk(const char *dir, int depth, strlist *out)
{
    if (depth > 64)
        return sb_fail(SB_EFORMAT,
                       "ImageFolder: folders nested more than 64 deep at '%s' (a "
                       "symbolic link loop?)",
                       dir);
    SB_TRY(strlist_push(out, strdup(dir)));
    strlist subs = {0};
    sb_status s = list_dir(dir, &subs, NULL);
    for (size_t i = 0; s == SB_OK && i < subs.n; i++)
        s = walk(subs.items[i], depth + 1, out);
    strlist_free(&subs);
    return s;
}

static bool has_extension(const char *name, const char *const *exts)
{
    size_t n = strlen(name);
    for (; *exts; exts++) {
        size_t k = strlen(*exts);
        if (n >= k && strcasecmp(name + n - k, *exts) == 0) return true;
    }
    return false;
}

typedef struct folder_impl {
    strlist classes, paths;
    int64_t *targets;
} folder_impl;

static sb_status folder_get(const sb_dataset *ds, int64_t index, const void **input,
                            const void **target, void *scratch)
{
    (void)index;
    (void)input;
    (void)target;
    (void)scratch;
    return sb_fail(SB_EUNSUPPORTED, "%s: samples differ in size (read them with get_sized)",
                   ds->name);
}

static sb_status folder_get_sized(const sb_dataset *ds, int64_t index, sb_sample_buf *buf,
                                  const void **target)
{
    const folder_impl *f = ds->impl;
    sb_image img = {0, 0, 0, buf->data, buf->capacity};
    sb_status s = sb_image_load(f->paths.items[index], &img);
    buf->data = img.data;
    buf->capacity = img.capacity;
    if (s != SB_OK) return s;
    buf->spec = (sb_sample_spec){SB_UINT8, 3, {img.height, img.width, 3}};
    *target = &f->targets[index];
    return SB_OK;
}

static void folder_destroy(sb_dataset *ds)
{
    folder_impl *f = ds->impl;
    strlist_free(&f->classes);
    strlist_free(&f->paths);
    free(f->targets);
    free(f);
}

static const sb_dataset_ops folder_ops = {folder_get, folder_destroy, folder_get_sized};

/* Adds the images of one class folder (all its sub-folders, sorted as torchvision sorts
 * os.walk's tuples: by folder path, then file name). */
static sb_status add_class(folder_impl *f, const char *class_dir, int64_t class_index,
                           const char *const *exts, int64_t **targets, size_t *cap, bool *found)
{
    strlist dirs = {0};
    sb_status s = walk(class_dir, 0, &dirs);
    if (s == SB_OK) qsort(dirs.items, dirs.n, sizeof(char *), cmp_str);
    for (size_t d = 0; s == SB_OK && d < dirs.n; d++) {
        strlist files = {0};
        s = list_dir(dirs.items[d], NULL, &files);
        if (s == SB_OK) qsort(files.items, files.n, sizeof(char *), cmp_str);
        for (size_t i = 0; s == SB_OK && i < files.n; i++) {
            if (!has_extension(files.items[i], exts)) continue;
            s = strlist_push(&f->paths, join(dirs.items[d], files.items[i]));
            if (s != SB_OK) break;
            if (f->paths.n > *cap) {
                size_t ncap = *cap ? *cap * 2 : 256;
                int64_t *grown = realloc(*targets, sizeof(int64_t) * ncap);
                if (!grown) {
                    s = sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
                    break;
                }
                *targets = grown;
                *cap = ncap;
            }
            (*targets)[f->paths.n - 1] = class_index;
            *found = true;
        }
        strlist_free(&files);
    }
    strlist_free(&dirs);
    return s;
}

sb_status sb_image_folder_open(const char *name, const char *root, const char *const *extensions,
                               sb_dataset **out)
{
    const char *const *exts = extensions ? extensions : sb_img_extensions;
    folder_impl *f = calloc(1, sizeof *f);
    if (!f) return sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
    strlist class_dirs = {0};
    sb_status s = list_dir(root, &class_dirs, NULL);
    if (s == SB_OK && class_dirs.n == 0)
        s = sb_fail(SB_EFORMAT, "ImageFolder: couldn't find any class folder in '%s'", root);
    if (s == SB_OK) qsort(class_dirs.items, class_dirs.n, sizeof(char *), cmp_str);
    size_t cap = 0;
    char missing[1024] = "";
    for (size_t c = 0; s == SB_OK && c < class_dirs.n; c++) {
        const char *cls = strrchr(class_dirs.items[c], '/') + 1;
        s = strlist_push(&f->classes, strdup(cls));
        bool found = false;
        if (s == SB_OK)
            s = add_class(f, class_dirs.items[c], (int64_t)c, exts, &f->targets, &cap, &found);
        if (s == SB_OK && !found) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", cls);
        }
    }
    strlist_free(&class_dirs);
    if (s == SB_OK && missing[0]) {
        char list[512] = "";
        for (const char *const *e = exts; *e; e++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *e);
        }
        s = sb_fail(SB_EFORMAT,
                    "ImageFolder: found no valid file for the classes %s in '%s'. Supported "
                    "extensions are: %s",
                    missing, root, list);
    }
    sb_dataset *ds = s == SB_OK ? calloc(1, sizeof *ds) : NULL;
    if (s == SB_OK && !ds) s = sb_fail(SB_ENOMEM, "ImageFolder: out of memory");
    if (s != SB_OK) {
        folder_destroy(&(sb_dataset){.impl = f});
        return s;
    }
    ds->ops = &folder_ops;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->length = (int64_t)f->paths.n;
    ds->input = (sb_sample_spec){SB_UINT8, 3, {-1, -1, 3}};
    ds->target = (sb_sample_spec){SB_INT64, 0, {0}};
    ds->has_target = true;
    ds->refcount = 1;
    ds->impl = f;
    *out = ds;
    return SB_OK;
}

bool sb_image_folder_check(const sb_dataset *ds)
{
    return ds->ops == &folder_ops;
}

size_t sb_image_folder_classes(const sb_dataset *ds, const char *const **names)
{
    const folder_impl *f = ds->impl;
    *names = (const char *const *)f->classes.items;
    return f->classes.n;
}

const char *sb_image_folder_path(const sb_dataset *ds, int64_t index, int64_t *target)
{
    const folder_impl *f = ds->impl;
    if (target) *target = f->targets[index];
    return f->paths.items[index];
}
