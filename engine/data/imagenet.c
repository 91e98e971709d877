#include "data/imagenet.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/md5.h"
#include "data/dataset.h"
#include "data/file.h"

#ifdef SBENGINE_HAVE_MATIO
#include <matio.h>
#endif

const char *const sb_imagenet_devkit_md5 = "fa75699e90414af021442c21a62c3abf";
const char *const sb_imagenet_val_md5 = "29b22e2961454d5413ddabcf34fc5622";

#define MAX_IDS 2000

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static sb_status check_archive(const char *root, const char *name, const char *md5, char *path,
                               size_t size)
{
    snprintf(path, size, "%s/%s", root, name);
    if (!sb_file_exists(path))
        return sb_fail(SB_EIO,
                       "ImageNet: the archive %s is not in '%s'. ImageNet cannot be downloaded "
                       "automatically (its licence requires registration): get it from "
                       "https://image-net.org/download.php and put it in '%s'",
                       name, root, root);
    char have[33];
    SB_TRY(sb_md5_file(path, have));
    if (strcmp(have, md5) != 0)
        return sb_fail(SB_EFORMAT,
                       "ImageNet: '%s' has md5 %s, expected %s (a damaged or different file)", path,
                       have, md5);
    return SB_OK;
}

#ifdef SBENGINE_HAVE_MATIO
/* A 1 x n char field as text (UTF-8/ASCII bytes, or 16-bit units taken as ASCII). */
static void mat_string(matvar_t *v, char *out, size_t size)
{
    out[0] = '\0';
    if (!v || v->class_type != MAT_C_CHAR || !v->data) return;
    size_t n = v->nbytes / (v->data_size ? v->data_size : 1);
    if (n >= size) n = size - 1;
    for (size_t i = 0; i < n; i++) {
        if (v->data_size == 2)
            out[i] = (char)((const uint16_t *)v->data)[i];
        else if (v->data_size == 4)
            out[i] = (char)((const uint32_t *)v->data)[i];
        else
            out[i] = ((const char *)v->data)[i];
    }
    out[n] = '\0';
}

static double mat_number(matvar_t *v)
{
    if (!v || !v->data) return -1;
    switch (v->class_type) {
    case MAT_C_DOUBLE:
        return *(const double *)v->data;
    case MAT_C_SINGLE:
        return *(const float *)v->data;
    case MAT_C_UINT8:
        return *(const uint8_t *)v->data;
    case MAT_C_INT32:
        return *(const int32_t *)v->data;
    case MAT_C_UINT16:
        return *(const uint16_t *)v->data;
    default:
        return -1;
    }
}

sb_status sb_imagenet_parse_meta(const char *mat_path, const char *tsv_path,
                                 char (*idx_to_wnid)[16], int *count)
{
    mat_t *mat = Mat_Open(mat_path, MAT_ACC_RDONLY);
    if (!mat) return sb_fail(SB_EFORMAT, "ImageNet: '%s' is not a MATLAB file", mat_path);
    matvar_t *syn = Mat_VarRead(mat, "synsets");
    if (!syn || syn->class_type != MAT_C_STRUCT) {
        if (syn) Mat_VarFree(syn);
        Mat_Close(mat);
        return sb_fail(SB_EFORMAT,
                       "ImageNet: '%s' has no 'synsets' struct array (not the "
                       "devkit's meta.mat)",
                       mat_path);
    }
    size_t n = 1;
    for (int i = 0; i < syn->rank; i++)
        n *= syn->dims[i];
    sb_atomic_file out;
    sb_status s = sb_atomic_open(&out, tsv_path);
    int leaves = 0, max_id = 0;
    for (size_t i = 0; s == SB_OK && i < n; i++) {
        double id = mat_number(Mat_VarGetStructFieldByName(syn, "ILSVRC2012_ID", i));
        double children = mat_number(Mat_VarGetStructFieldByName(syn, "num_children", i));
        char wnid[64], words[4096], line[4200];
        mat_string(Mat_VarGetStructFieldByName(syn, "WNID", i), wnid, sizeof wnid);
        mat_string(Mat_VarGetStructFieldByName(syn, "words", i), words, sizeof words);
        if (id < 1 || id > MAX_IDS || !wnid[0] || strlen(wnid) > 15 || children < 0) {
            s = sb_fail(SB_EFORMAT,
                        "ImageNet: synset %zu of '%s' lacks a valid ILSVRC2012_ID, "
                        "WNID or num_children",
                        i + 1, mat_path);
            break;
        }
        if (children != 0) continue;
        snprintf(idx_to_wnid[(int)id - 1], 16, "%s", wnid);
        if ((int)id > max_id) max_id = (int)id;
        leaves++;
        int len = snprintf(line, sizeof line, "%s\t%s\n", wnid, words);
        s = sb_atomic_write(&out, line, (size_t)len);
    }
    Mat_VarFree(syn);
    Mat_Close(mat);
    if (s == SB_OK && leaves == 0)
        s = sb_fail(SB_EFORMAT, "ImageNet: '%s' lists no leaf synsets", mat_path);
    if (s != SB_OK) {
        sb_atomic_abort(&out);
        return s;
    }
    *count = max_id;
    return sb_atomic_commit(&out);
}
#else
sb_status sb_imagenet_parse_meta(const char *mat_path, const char *tsv_path,
                                 char (*idx_to_wnid)[16], int *count)
{
    (void)tsv_path;
    (void)idx_to_wnid;
    (void)count;
    return sb_fail(SB_EUNSUPPORTED,
                   "ImageNet: cannot read '%s': this sbengine was built without libmatio (install "
                   "libmatio-dev and rebuild)",
                   mat_path);
}
#endif

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Moves the images of `dir` (sorted by name) into dir/<wnid>/, wnid from the ground truth. */
static sb_status sort_val_images(const char *dir, const int *truth, int ntruth,
                                 char (*idx_to_wnid)[16], int nids)
{
    DIR *d = opendir(dir);
    if (!d) return sb_fail(SB_EIO, "ImageNet: cannot read '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    sb_status s = SB_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **grown = realloc(names, sizeof(char *) * cap);
            if (!grown) {
                s = sb_fail(SB_ENOMEM, "ImageNet: out of memory");
                break;
            }
            names = grown;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (s == SB_OK && (int)n != ntruth)
        s = sb_fail(SB_EFORMAT,
                    "ImageNet: the validation archive has %zu images but the devkit's ground "
                    "truth lists %d",
                    n, ntruth);
    if (s == SB_OK) qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; s == SB_OK && i < n; i++) {
        int id = truth[i];
        if (id < 1 || id > nids || !idx_to_wnid[id - 1][0]) {
            s = sb_fail(SB_EFORMAT,
                        "ImageNet: ground truth line %zu names class %d, not a leaf "
                        "synset of meta.mat",
                        i + 1, id);
            break;
        }
        char sub[8192], from[8192], to[8192];
        snprintf(sub, sizeof sub, "%s/%s", dir, idx_to_wnid[id - 1]);
        snprintf(from, sizeof from, "%s/%s", dir, names[i]);
        snprintf(to, sizeof to, "%s/%s", sub, names[i]);
        if ((mkdir(sub, 0777) != 0 && errno != EEXIST) || rename(from, to) != 0)
            s = sb_fail(SB_EIO, "ImageNet: cannot move '%s' to '%s': %s", from, to,
                        strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

static sb_status read_truth(const char *path, int **out, int *count)
{
    uint8_t *text;
    size_t len;
    SB_TRY(sb_read_file(path, &text, &len));
    int *ids = malloc(sizeof(int) * (len / 2 + 1));
    if (!ids) {
        free(text);
        return sb_fail(SB_ENOMEM, "ImageNet: out of memory");
    }
    int n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (text[i] == '\n' || text[i] == '\r' || text[i] == ' '))
            i++;
        if (i >= len) break;
        int v = 0;
        size_t start = i;
        while (i < len && text[i] >= '0' && text[i] <= '9')
            v = v * 10 + (text[i++] - '0');
        if (i == start) {
            free(ids);
            free(text);
            return sb_fail(SB_EFORMAT, "ImageNet: '%s' line %d is not a class number", path, n + 1);
        }
        ids[n++] = v;
    }
    free(text);
    *out = ids;
    *count = n;
    return SB_OK;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[8192];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

sb_status sb_imagenet_prepare(const char *root, const char *split, const char *devkit_md5,
                              const char *val_md5)
{
    char meta[4096], split_dir[4096];
    snprintf(meta, sizeof meta, "%s/%s", root, SB_IMAGENET_META);
    snprintf(split_dir, sizeof split_dir, "%s/%s", root, split);
    bool have_split = is_directory(split_dir), have_meta = sb_file_exists(meta);
    if (have_split && have_meta) return SB_OK;
    if (strcmp(split, "val") != 0 && !have_split)
        return sb_fail(SB_EINVAL,
                       "ImageNet: '%s' is missing; sbengine prepares only split \"val\" from the "
                       "archives (put the %s images in %s/<wnid>/)",
                       split_dir, split, split_dir);
    char devkit[4096], tmp[4096], path[8192];
    snprintf(devkit, sizeof devkit, "%s/%s", root, SB_IMAGENET_DEVKIT);
    /* A prepared folder without the devkit: the classes have their WNIDs but no names. */
    if (have_split && !sb_file_exists(devkit)) return SB_OK;
    SB_TRY(check_archive(root, SB_IMAGENET_DEVKIT, devkit_md5 ? devkit_md5 : sb_imagenet_devkit_md5,
                         devkit, sizeof devkit));
    snprintf(tmp, sizeof tmp, "%s/.sbengine_devkit", root);
    remove_tree(tmp);
    int extracted = 0;
    sb_status s = sb_tar_extract(devkit, tmp, "ILSVRC2012_devkit_t12/data/", SB_IMAGENET_DEVKIT_MAX,
                                 &extracted);
    static char idx_to_wnid[MAX_IDS][16];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    memset(idx_to_wnid, 0, sizeof idx_to_wnid);
    int nids = 0, *truth = NULL, ntruth = 0;
    if (s == SB_OK) {
        snprintf(path, sizeof path, "%s/ILSVRC2012_devkit_t12/data/meta.mat", tmp);
        s = sb_imagenet_parse_meta(path, meta, idx_to_wnid, &nids);
    }
    if (s == SB_OK && !have_split) {
        snprintf(path, sizeof path,
                 "%s/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt", tmp);
        s = read_truth(path, &truth, &ntruth);
    }
    if (s == SB_OK && !have_split) {
        char archive[4096], staging[4096];
        s = check_archive(root, SB_IMAGENET_VAL, val_md5 ? val_md5 : sb_imagenet_val_md5, archive,
                          sizeof archive);
        snprintf(staging, sizeof staging, "%s/.sbengine_val", root);
        if (s == SB_OK) {
            remove_tree(staging);
            s = sb_make_dirs(staging);
        }
        if (s == SB_OK) s = sb_tar_extract(archive, staging, "", SB_IMAGENET_VAL_MAX, &extracted);
        if (s == SB_OK) s = sort_val_images(staging, truth, ntruth, idx_to_wnid, nids);
        /* The folder appears whole or not at all: a failed run leaves no half-made val/. */
        if (s == SB_OK && rename(staging, split_dir) != 0)
            s = sb_fail(SB_EIO, "ImageNet: cannot rename '%s' to '%s': %s", staging, split_dir,
                        strerror(errno));
        if (s != SB_OK) remove_tree(staging);
    }
    pthread_mutex_unlock(&lock);
    free(truth);
    remove_tree(tmp);
    return s;
}
