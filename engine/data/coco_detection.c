/* CocoDetection over a COCO annotation file: the text is kept, images and annotations are
 * indexed by their bytes in it (engine/eval/json_stream.c), images decoded per sample in the
 * DataLoader's workers (engine/image/). */
#include "data/coco_detection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "image/image.h"

typedef struct coco_image {
    int64_t id;
    uint32_t order;      /* position in the file: the last of equal ids wins */
    uint32_t name;       /* offset of its file name in `names` */
    size_t first, count; /* its annotations: ann_order[first .. first + count) */
} coco_image;

typedef struct coco_ann {
    int64_t image_id;
    size_t start, end; /* its bytes in `text` */
} coco_ann;

typedef struct coco_impl {
    char *root, *ann_file;
    char *text; /* the annotation file */
    size_t len;
    char *names; /* file names, NUL-separated */
    size_t names_len, names_cap;
    coco_image *images;
    size_t n_images, cap_images;
    coco_ann *anns;
    size_t n_anns, cap_anns;
    size_t *ann_order; /* annotations grouped by image (sorted order), file order within */
} coco_impl;

static sb_status element(void *ctx, const char *key, const json_t *el, size_t index, size_t start,
                         size_t end)
{
    coco_impl *c = ctx;
    const sb_jansson_api *J = sb_jansson();
    if (!json_is_object(el))
        return sb_fail(SB_EFORMAT, "%s: %s[%zu] must be an object", c->ann_file, key, index);
    if (strcmp(key, "images") == 0) {
        int64_t id;
        if (!sb_jstream_integer(el, "id", &id))
            return sb_fail(SB_EFORMAT, "%s: images[%zu] has no integer \"id\"", c->ann_file, index);
        json_t *name = J->object_get(el, "file_name");
        if (!json_is_string(name))
            return sb_fail(SB_EFORMAT, "%s: image %lld has no string \"file_name\"", c->ann_file,
                           (long long)id);
        size_t n = J->string_length(name);
        if (memchr(J->string_value(name), 0, n))
            return sb_fail(SB_EFORMAT, "%s: image %lld: \"file_name\" holds a NUL character",
                           c->ann_file, (long long)id);
        if (c->names_len + n + 1 > UINT32_MAX || c->n_images >= UINT32_MAX)
            return sb_fail(SB_ERANGE, "%s: too many images", c->ann_file);
        if (!sb_array_reserve((void **)&c->images, &c->cap_images, c->n_images + 1,
                              sizeof *c->images) ||
            !sb_array_reserve((void **)&c->names, &c->names_cap, c->names_len + n + 1, 1))
            return sb_fail(SB_ENOMEM, "%s: out of memory", c->ann_file);
        memcpy(c->names + c->names_len, J->string_value(name), n);
        c->names[c->names_len + n] = '\0';
        c->images[c->n_images] =
            (coco_image){id, (uint32_t)c->n_images, (uint32_t)c->names_len, 0, 0};
        c->names_len += n + 1;
        c->n_images++;
    } else {
        int64_t image_id;
        if (!sb_jstream_integer(el, "image_id", &image_id))
            return sb_fail(SB_EFORMAT, "%s: annotations[%zu] has no integer \"image_id\"",
                           c->ann_file, index);
        if (!sb_array_reserve((void **)&c->anns, &c->cap_anns, c->n_anns + 1, sizeof *c->anns))
            return sb_fail(SB_ENOMEM, "%s: out of memory", c->ann_file);
        c->anns[c->n_anns++] = (coco_ann){image_id, start, end};
    }
    return SB_OK;
}

static int cmp_image(const void *pa, const void *pb)
{
    const coco_image *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* The sample of image `id`, or -1. */
static long find_image(const coco_impl *c, int64_t id)
{
    size_t lo = 0, hi = c->n_images;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->images[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < c->n_images && c->images[lo].id == id) ? (long)lo : -1;
}

static sb_status coco_get(const sb_dataset *ds, int64_t index, const void **input,
                          const void **target, void *scratch)
{
    (void)index, (void)input, (void)target, (void)scratch;
    return sb_fail(SB_EUNSUPPORTED, "%s: samples differ in size (read them with get_sized)",
                   ds->name);
}

static sb_status coco_get_sized(const sb_dataset *ds, int64_t index, sb_sample_buf *buf,
                                const void **target)
{
    const coco_impl *c = ds->impl;
    const coco_image *im = &c->images[index];
    const char *name = c->names + im->name;
    size_t n = strlen(c->root) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return sb_fail(SB_ENOMEM, "CocoDetection: out of memory");
    /* os.path.join(root, file_name): an absolute file name stands alone */
    if (name[0] == '/')
        snprintf(path, n, "%s", name);
    else
        snprintf(path, n, "%s/%s", c->root, name);
    sb_image img = {0, 0, 0, buf->data, buf->capacity};
    sb_status s = sb_image_load(path, &img);
    free(path);
    buf->data = img.data;
    buf->capacity = img.capacity;
    if (s != SB_OK)
        return sb_fail_context(s, "CocoDetection: image %lld (\"%s\" in %s)", (long long)im->id,
                               name, c->ann_file);
    buf->spec = (sb_sample_spec){SB_UINT8, 3, {img.height, img.width, 3}};
    *target = &im->id;
    return SB_OK;
}

static void coco_destroy(sb_dataset *ds)
{
    coco_impl *c = ds->impl;
    if (!c) return;
    free(c->root);
    free(c->ann_file);
    free(c->text);
    free(c->names);
    free(c->images);
    free(c->anns);
    free(c->ann_order);
    free(c);
}

static const sb_dataset_ops coco_ops = {coco_get, coco_destroy, coco_get_sized};

/* Sorts the images, drops ids listed again before their last entry and groups the
 * annotations by image. */
static sb_status index_file(coco_impl *c)
{
    if (c->n_images) qsort(c->images, c->n_images, sizeof *c->images, cmp_image);
    size_t k = 0;
    for (size_t i = 0; i < c->n_images; i++) {
        if (k > 0 && c->images[k - 1].id == c->images[i].id)
            c->images[k - 1] = c->images[i];
        else
            c->images[k++] = c->images[i];
    }
    c->n_images = k;
    c->ann_order = malloc((c->n_anns ? c->n_anns : 1) * sizeof *c->ann_order);
    long *owner = malloc((c->n_anns ? c->n_anns : 1) * sizeof *owner);
    if (!c->ann_order || !owner) {
        free(owner);
        return sb_fail(SB_ENOMEM, "%s: out of memory", c->ann_file);
    }
    for (size_t a = 0; a < c->n_anns; a++) {
        owner[a] = find_image(c, c->anns[a].image_id);
        if (owner[a] >= 0) c->images[owner[a]].count++;
    }
    size_t at = 0;
    for (size_t i = 0; i < c->n_images; i++) {
        c->images[i].first = at;
        at += c->images[i].count;
        c->images[i].count = 0;
    }
    for (size_t a = 0; a < c->n_anns; a++) {
        if (owner[a] < 0) continue; /* an image the file does not list: never a sample */
        coco_image *im = &c->images[owner[a]];
        c->ann_order[im->first + im->count++] = a;
    }
    free(owner);
    return SB_OK;
}

/* Takes `text` (malloc()ed, len bytes) whether or not it succeeds. */
static sb_status open_text(const char *root, char *text, size_t len, const char *ann_file,
                           sb_dataset **out)
{
    coco_impl *c = calloc(1, sizeof *c);
    sb_dataset *ds = calloc(1, sizeof *ds);
    sb_status s = SB_OK;
    if (!c || !ds || !(c->root = strdup(root)) || !(c->ann_file = strdup(ann_file))) {
        free(text);
        s = sb_fail(SB_ENOMEM, "CocoDetection: out of memory");
    } else {
        c->text = text;
        c->len = len;
    }
    if (s == SB_OK) {
        static const char *const keys[] = {"images", "annotations", NULL};
        bool found[2] = {false, false};
        s = sb_jstream_each_span(c->text, c->len, ann_file, keys, found, element, c);
        if (s == SB_OK && !found[0])
            s = sb_fail(SB_EFORMAT,
                        "%s: no \"images\" array (is it a COCO annotation file, such as "
                        "annotations/instances_val2017.json?)",
                        ann_file);
    }
    if (s == SB_OK) s = index_file(c);
    if (s != SB_OK) {
        if (c) coco_destroy(&(sb_dataset){.impl = c});
        free(ds);
        return sb_fail_context(s, "CocoDetection");
    }
    ds->ops = &coco_ops;
    snprintf(ds->name, sizeof ds->name, "CocoDetection");
    ds->length = (int64_t)c->n_images;
    ds->input = (sb_sample_spec){SB_UINT8, 3, {-1, -1, 3}};
    ds->target = (sb_sample_spec){SB_INT64, 0, {0}};
    ds->has_target = true;
    ds->refcount = 1;
    ds->impl = c;
    *out = ds;
    return SB_OK;
}

sb_status sb_coco_detection_open(const char *root, const char *ann_file, sb_dataset **out)
{
    char *text;
    size_t len;
    sb_status s = sb_jstream_read_file(ann_file, &text, &len);
    if (s != SB_OK) return sb_fail_context(s, "CocoDetection");
    return open_text(root, text, len, ann_file, out);
}

sb_status sb_coco_detection_parse(const char *root, const char *text, size_t len, const char *what,
                                  sb_dataset **out)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) return sb_fail(SB_ENOMEM, "CocoDetection: out of memory");
    memcpy(copy, text, len);
    return open_text(root, copy, len, what, out);
}

bool sb_coco_detection_check(const sb_dataset *ds)
{
    return ds->ops == &coco_ops;
}

int64_t sb_coco_detection_image_id(const sb_dataset *ds, int64_t index, const char **file_name,
                                   size_t *n_annotations)
{
    const coco_impl *c = ds->impl;
    const coco_image *im = &c->images[index];
    if (file_name) *file_name = c->names + im->name;
    if (n_annotations) *n_annotations = im->count;
    return im->id;
}

sb_status sb_coco_detection_annotations(const sb_dataset *ds, int64_t index,
                                        const sb_jstream_visitor *v, void *ctx)
{
    const coco_impl *c = ds->impl;
    const coco_image *im = &c->images[index];
    SB_TRY(v->begin(ctx, true, im->count));
    for (size_t k = 0; k < im->count; k++) {
        const coco_ann *a = &c->anns[c->ann_order[im->first + k]];
        json_t *tree = NULL;
        SB_TRY(sb_jstream_parse(c->text + a->start, a->end - a->start, c->ann_file, &tree));
        sb_status s = sb_jstream_walk(tree, v, ctx);
        sb_jstream_free(tree);
        SB_TRY(s);
        SB_TRY(v->element(ctx, k));
    }
    return v->end(ctx, true);
}
