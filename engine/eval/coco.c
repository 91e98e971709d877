/* COCO annotation and results files read for COCOeval (see coco.h): the ground truth's images,
 * categories and annotations (with their masks for iouType "segm"), and detections. The
 * evaluation itself is in coco_evaluate.c. */
#include "eval/coco.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/coco_internal.h"
#include "eval/coco_mask.h"
#include "eval/json_stream.h"

const char *const sb_coco_stat_names[SB_COCO_STATS] = {
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
};

/* ---- reading the annotation file ------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static size_t unique_sorted(int64_t *v, size_t n)
{
    if (n == 0) return 0; /* v may be NULL */
    qsort(v, n, sizeof *v, cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
    return k;
}

long sb_coco_find_id(const int64_t *v, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && v[lo] == id) ? (long)lo : -1;
}

bool sb_coco_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static bool read_bbox(const json_t *obj, double bbox[4])
{
    const sb_jansson_api *J = sb_jansson();
    json_t *b = J->object_get(obj, "bbox");
    if (!json_is_array(b) || J->array_size(b) != 4) return false;
    for (size_t i = 0; i < 4; i++) {
        json_t *v = J->array_get(b, i);
        if (!json_is_number(v)) return false;
        bbox[i] = J->number_value(v);
    }
    return true;
}

/* ---- masks: images' sizes and the annotations' segmentations (COCO.annToRLE) ----------- */

static sb_status read_image_size(sb_coco_gt *gt, const json_t *el, int64_t id)
{
    int64_t h, w;
    if (!sb_jstream_integer(el, "height", &h) || !sb_jstream_integer(el, "width", &w) || h < 0 ||
        w < 0 || h > UINT32_MAX || w > UINT32_MAX)
        return sb_fail(SB_EFORMAT,
                       "%s: image %lld needs whole numbers \"height\" and \"width\" (segmentation "
                       "masks are measured in its pixels)",
                       gt->what, (long long)id);
    if (!sb_coco_grow((void **)&gt->sizes, &gt->cap_sizes, gt->n_sizes + 1, sizeof *gt->sizes))
        return sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
    gt->sizes[gt->n_sizes++] = (image_size){id, (uint32_t)h, (uint32_t)w};
    gt->sizes_sorted = false;
    return SB_OK;
}

static int cmp_size(const void *pa, const void *pb)
{
    return cmp_i64(&((const image_size *)pa)->id, &((const image_size *)pb)->id);
}

static const image_size *find_size(sb_coco_gt *gt, int64_t id)
{
    if (!gt->sizes_sorted) {
        if (gt->n_sizes) qsort(gt->sizes, gt->n_sizes, sizeof *gt->sizes, cmp_size);
        gt->sizes_sorted = true;
    }
    size_t lo = 0, hi = gt->n_sizes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gt->sizes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < gt->n_sizes && gt->sizes[lo].id == id ? &gt->sizes[lo] : NULL;
}

/* The RLE of annotation `n`'s segmentation, stored in gt->rle_str. An annotation of an image
 * the file does not list is left without one (COCOeval never reads it). */
static sb_status convert_segm(sb_coco_gt *gt, size_t n, const json_t *segm)
{
    gt_ann *a = &gt->anns[n];
    const image_size *im = find_size(gt, gt->ann_image_ids[n]);
    if (!im) return SB_OK;
    char what[512];
    snprintf(what, sizeof what, "%s: annotation %lld", gt->what, (long long)a->id);
    sb_rle r = {0};
    SB_TRY(sb_coco_segm_from_json(segm, true, im->h, im->w, what, &r));
    char *str = NULL;
    sb_status st = sb_rle_to_string(&r, &str);
    size_t len = str ? strlen(str) : 0;
    if (st == SB_OK && (len > UINT32_MAX || !sb_coco_grow((void **)&gt->rle_str, &gt->cap_str,
                                                          gt->n_str + len, sizeof *gt->rle_str)))
        st = sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
    if (st == SB_OK) {
        memcpy(gt->rle_str + gt->n_str, str, len);
        a->rle_h = r.h;
        a->rle_w = r.w;
        a->rle_len = (uint32_t)len;
        a->rle_at = gt->n_str;
        gt->n_str += len;
    }
    free(str);
    sb_rle_free(&r);
    return st;
}

static sb_status read_segm(sb_coco_gt *gt, const json_t *el, size_t n)
{
    const json_t *segm = sb_jansson()->object_get(el, "segmentation");
    if (!segm)
        return sb_fail(SB_EFORMAT, "%s: annotation %lld has no \"segmentation\"", gt->what,
                       (long long)gt->anns[n].id);
    /* "images" came before "annotations" (as in COCO's files): convert now; else keep the
     * segmentation until the images' sizes are known */
    if (gt->n_sizes) return convert_segm(gt, n, segm);
    if (!sb_coco_grow((void **)&gt->deferred, &gt->cap_deferred, gt->n_deferred + 1,
                      sizeof *gt->deferred))
        return sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
    gt->deferred[gt->n_deferred++] = (deferred_segm){n, sb_jstream_keep(segm)};
    return SB_OK;
}

static sb_status gt_element(void *ctx, const char *key, const json_t *el, size_t index)
{
    sb_coco_gt *gt = ctx;
    const sb_jansson_api *J = sb_jansson();
    if (!json_is_object(el))
        return sb_fail(SB_EFORMAT, "%s: %s[%zu] must be an object", gt->what, key, index);
    int64_t id;
    if (!sb_jstream_integer(el, "id", &id))
        return sb_fail(SB_EFORMAT, "%s: %s[%zu] has no integer \"id\"", gt->what, key, index);
    if (strcmp(key, "images") == 0) {
        if (!sb_coco_grow((void **)&gt->image_ids, &gt->cap_images, gt->n_images + 1,
                          sizeof(int64_t)))
            return sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
        gt->image_ids[gt->n_images++] = id;
        if (gt->masks) SB_TRY(read_image_size(gt, el, id));
    } else if (strcmp(key, "categories") == 0) {
        if (!sb_coco_grow((void **)&gt->cat_ids, &gt->cap_cats, gt->n_cats + 1, sizeof(int64_t)))
            return sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
        gt->cat_ids[gt->n_cats++] = id;
    } else {
        size_t n = gt->n_anns;
        if (!sb_coco_grow((void **)&gt->anns, &gt->cap_anns, n + 1, sizeof(gt_ann)) ||
            !sb_coco_grow((void **)&gt->ann_image_ids, &gt->cap_ann_images, n + 1,
                          sizeof(int64_t)) ||
            !sb_coco_grow((void **)&gt->ann_cat_ids, &gt->cap_ann_cats, n + 1, sizeof(int64_t)))
            return sb_fail(SB_ENOMEM, "%s: out of memory", gt->what);
        gt_ann *a = &gt->anns[n];
        memset(a, 0, sizeof *a);
        a->id = id;
        a->order = (uint32_t)n;
        if (!sb_jstream_integer(el, "image_id", &gt->ann_image_ids[n]))
            return sb_fail(SB_EFORMAT, "%s: annotation %lld has no integer \"image_id\"", gt->what,
                           (long long)id);
        if (!sb_jstream_integer(el, "category_id", &gt->ann_cat_ids[n]))
            return sb_fail(SB_EFORMAT, "%s: annotation %lld has no integer \"category_id\"",
                           gt->what, (long long)id);
        if (!read_bbox(el, a->bbox))
            return sb_fail(SB_EFORMAT,
                           "%s: annotation %lld: \"bbox\" must be 4 numbers [x, y, width, height]",
                           gt->what, (long long)id);
        if (!sb_jstream_number(el, "area", &a->area))
            return sb_fail(SB_EFORMAT, "%s: annotation %lld has no number \"area\"", gt->what,
                           (long long)id);
        json_t *crowd = J->object_get(el, "iscrowd");
        if (crowd) {
            int64_t c = 0;
            if (json_is_boolean(crowd))
                c = json_is_true(crowd);
            else if (!sb_jstream_is_integer(crowd, &c))
                return sb_fail(SB_EFORMAT, "%s: annotation %lld: \"iscrowd\" must be 0 or 1",
                               gt->what, (long long)id);
            a->iscrowd = c != 0;
        }
        gt->n_anns = n + 1;
        if (gt->masks) SB_TRY(read_segm(gt, el, n));
    }
    return SB_OK;
}

static int cmp_ann(const void *pa, const void *pb)
{
    const gt_ann *a = pa, *b = pb;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    if (a->cat != b->cat) return a->cat < b->cat ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

sb_status sb_coco_gt_parse(const char *text, size_t len, const char *what, sb_coco_gt **out)
{
    return sb_coco_gt_parse_ex(text, len, what, false, out);
}

sb_status sb_coco_gt_parse_ex(const char *text, size_t len, const char *what, bool masks,
                              sb_coco_gt **out)
{
    sb_coco_gt *gt = calloc(1, sizeof *gt);
    if (!gt) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    gt->what = what;
    gt->masks = masks;
    static const char *const keys[] = {"images", "categories", "annotations", NULL};
    bool found[3] = {false, false, false};
    sb_status st = sb_jstream_each(text, len, what, keys, found, gt_element, gt);
    for (int k = 0; st == SB_OK && k < 3; k++)
        if (!found[k])
            st = sb_fail(SB_EFORMAT, "%s: no \"%s\" array (is it a COCO annotation file?)", what,
                         keys[k]);
    for (size_t i = 0; i < gt->n_deferred; i++) {
        if (st == SB_OK) st = convert_segm(gt, gt->deferred[i].ann, gt->deferred[i].segm);
        sb_jstream_free(gt->deferred[i].segm);
    }
    free(gt->deferred);
    gt->deferred = NULL;
    gt->n_deferred = 0;
    free(gt->sizes);
    gt->sizes = NULL;
    if (st == SB_OK) {
        gt->n_images = unique_sorted(gt->image_ids, gt->n_images);
        gt->n_cats = unique_sorted(gt->cat_ids, gt->n_cats);
        /* keep the annotations of listed images and categories (COCOeval's imgIds/catIds) */
        size_t kept = 0;
        for (size_t i = 0; i < gt->n_anns; i++) {
            long im = sb_coco_find_id(gt->image_ids, gt->n_images, gt->ann_image_ids[i]);
            long c = sb_coco_find_id(gt->cat_ids, gt->n_cats, gt->ann_cat_ids[i]);
            if (im < 0 || c < 0) continue;
            gt_ann a = gt->anns[i];
            a.image = (uint32_t)im;
            a.cat = (uint32_t)c;
            gt->anns[kept++] = a;
        }
        gt->n_anns = kept;
        if (kept) qsort(gt->anns, kept, sizeof *gt->anns, cmp_ann);
        gt->image_start = calloc(gt->n_images + 1, sizeof *gt->image_start);
        if (!gt->image_start) {
            st = sb_fail(SB_ENOMEM, "%s: out of memory", what);
        } else {
            for (size_t i = 0; i < kept; i++)
                gt->image_start[gt->anns[i].image + 1]++;
            for (size_t i = 0; i < gt->n_images; i++)
                gt->image_start[i + 1] += gt->image_start[i];
        }
    }
    free(gt->ann_image_ids);
    free(gt->ann_cat_ids);
    gt->ann_image_ids = gt->ann_cat_ids = NULL;
    gt->what = NULL;
    if (st != SB_OK) {
        sb_coco_gt_free(gt);
        return st;
    }
    *out = gt;
    return SB_OK;
}

sb_status sb_coco_gt_load(const char *path, sb_coco_gt **out)
{
    return sb_coco_gt_load_ex(path, false, out);
}

sb_status sb_coco_gt_load_ex(const char *path, bool masks, sb_coco_gt **out)
{
    char *text = NULL;
    size_t len = 0;
    SB_TRY(sb_jstream_read_file(path, &text, &len));
    sb_status st = sb_coco_gt_parse_ex(text, len, path, masks, out);
    free(text);
    return st;
}

void sb_coco_gt_free(sb_coco_gt *gt)
{
    if (!gt) return;
    free(gt->image_ids);
    free(gt->cat_ids);
    free(gt->anns);
    free(gt->image_start);
    free(gt->ann_image_ids);
    free(gt->ann_cat_ids);
    free(gt->rle_str);
    free(gt->sizes);
    for (size_t i = 0; i < gt->n_deferred; i++)
        sb_jstream_free(gt->deferred[i].segm);
    free(gt->deferred);
    free(gt);
}

bool sb_coco_gt_has_masks(const sb_coco_gt *gt)
{
    return gt->masks;
}

size_t sb_coco_gt_image_count(const sb_coco_gt *gt)
{
    return gt->n_images;
}
size_t sb_coco_gt_annotation_count(const sb_coco_gt *gt)
{
    return gt->n_anns;
}
size_t sb_coco_gt_category_count(const sb_coco_gt *gt)
{
    return gt->n_cats;
}

bool sb_coco_gt_has_image(const sb_coco_gt *gt, int64_t image_id)
{
    return sb_coco_find_id(gt->image_ids, gt->n_images, image_id) >= 0;
}

bool sb_coco_gt_has_category(const sb_coco_gt *gt, int64_t category_id)
{
    return sb_coco_find_id(gt->cat_ids, gt->n_cats, category_id) >= 0;
}

/* ---- reading a results file ------------------------------------------------------------ */

typedef struct dets_ctx {
    sb_coco_det *dets;
    size_t n, cap;
    const char *what;
    bool segm;     /* masks: read "segmentation" */
    int bbox_area; /* masks: -1 undecided, 1 loadRes's bbox branch (area = w * h), 0 mask area */
} dets_ctx;

/* A detection's mask and the area loadRes gives it. */
static sb_status det_mask(dets_ctx *c, const json_t *el, size_t index, sb_coco_det *d)
{
    const sb_jansson_api *J = sb_jansson();
    char what[512];
    snprintf(what, sizeof what, "%s: detection %zu (image %lld)", c->what, index + 1,
             (long long)d->image_id);
    json_t *b = J->object_get(el, "bbox");
    if (c->bbox_area < 0) c->bbox_area = json_is_array(b) && J->array_size(b) > 0;
    if (c->bbox_area && !read_bbox(el, d->bbox))
        return sb_fail(SB_EFORMAT,
                       "%s: \"bbox\" must be 4 numbers [x, y, width, height] (the first "
                       "detection has one, so loadRes takes every area from the boxes)",
                       what);
    json_t *segm = J->object_get(el, "segmentation");
    if (!segm) return sb_fail(SB_EFORMAT, "%s has no \"segmentation\"", what);
    sb_rle *r = calloc(1, sizeof *r);
    if (!r) return sb_fail(SB_ENOMEM, "%s: out of memory", c->what);
    sb_status st = sb_coco_segm_from_json(segm, false, 0, 0, what, r);
    if (st != SB_OK) {
        free(r);
        return st;
    }
    d->mask = r;
    d->area = c->bbox_area ? d->bbox[2] * d->bbox[3] : (double)sb_rle_area(r);
    return SB_OK;
}

static sb_status det_element(void *ctx, const char *key, const json_t *el, size_t index)
{
    (void)key;
    dets_ctx *c = ctx;
    if (!json_is_object(el))
        return sb_fail(SB_EFORMAT, "%s: detection %zu must be an object", c->what, index + 1);
    if (!sb_coco_grow((void **)&c->dets, &c->cap, c->n + 1, sizeof *c->dets))
        return sb_fail(SB_ENOMEM, "%s: out of memory", c->what);
    sb_coco_det *d = &c->dets[c->n];
    memset(d, 0, sizeof *d);
    if (!sb_jstream_integer(el, "image_id", &d->image_id))
        return sb_fail(SB_EFORMAT, "%s: detection %zu has no integer \"image_id\"", c->what,
                       index + 1);
    if (!sb_jstream_integer(el, "category_id", &d->category_id))
        return sb_fail(SB_EFORMAT, "%s: detection %zu has no integer \"category_id\"", c->what,
                       index + 1);
    if (!sb_jstream_number(el, "score", &d->score))
        return sb_fail(SB_EFORMAT, "%s: detection %zu has no number \"score\"", c->what, index + 1);
    if (c->segm) {
        SB_TRY(det_mask(c, el, index, d));
    } else if (!read_bbox(el, d->bbox)) {
        return sb_fail(SB_EFORMAT,
                       "%s: detection %zu: \"bbox\" must be 4 numbers [x, y, width, height]",
                       c->what, index + 1);
    }
    c->n++;
    return SB_OK;
}

static sb_status dets_load(const char *path, bool segm, sb_coco_det **dets, size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    SB_TRY(sb_jstream_read_file(path, &text, &len));
    dets_ctx c = {NULL, 0, 0, path, segm, -1};
    sb_status st = sb_jstream_each(text, len, path, NULL, NULL, det_element, &c);
    free(text);
    if (st != SB_OK) {
        sb_coco_dets_free(c.dets, c.n); /* a failing element holds no mask */
        return st;
    }
    *dets = c.dets;
    *count = c.n;
    return SB_OK;
}

sb_status sb_coco_dets_load(const char *path, sb_coco_det **dets, size_t *count)
{
    return dets_load(path, false, dets, count);
}

sb_status sb_coco_dets_load_segm(const char *path, sb_coco_det **dets, size_t *count)
{
    return dets_load(path, true, dets, count);
}

void sb_coco_dets_free(sb_coco_det *dets, size_t count)
{
    if (!dets) return;
    for (size_t i = 0; i < count; i++)
        if (dets[i].mask) {
            sb_rle *r = (sb_rle *)dets[i].mask;
            sb_rle_free(r);
            free(r);
        }
    free(dets);
}
