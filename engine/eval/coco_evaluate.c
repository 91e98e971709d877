/* COCOeval's evaluate + accumulate + summarize over the ground truth coco.c read (see coco.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/coco_internal.h"
#include "eval/coco_mask.h"

static const int max_dets[NMAXDET] = {1, 10, 100};
/* Params.areaRng: all, small, medium, large */
static const double area_lo[NAREA] = {0.0, 0.0, 32.0 * 32.0, 96.0 * 96.0};
static const double area_hi[NAREA] = {1e5 * 1e5, 32.0 * 32.0, 96.0 * 96.0, 1e5 * 1e5};

/* ---- evaluation ------------------------------------------------------------------------ */

/* One detection's outcome in one (category, area range) cell (COCOeval.evalImgs). */
typedef struct det_rec {
    double score;
    uint16_t matched; /* bit t: dtMatches[t] != 0 */
    uint16_t ignored; /* bit t: dtIgnore[t] */
    uint8_t rank;     /* position among its image's detections, by score */
} det_rec;

typedef struct cell {
    det_rec *recs; /* in image order, each image's detections by score */
    size_t n, cap;
    size_t npig; /* ground truths not ignored */
    bool any;    /* some image had ground truth or detections (COCOeval's E not empty) */
} cell;

/* Detections grouped like the ground truth: by image, then category, input order within. */
typedef struct det_ref {
    uint32_t image, cat;
    size_t order;
} det_ref;

static int cmp_det_ref(const void *pa, const void *pb)
{
    const det_ref *a = pa, *b = pb;
    if (a->image != b->image) return a->image < b->image ? -1 : 1;
    if (a->cat != b->cat) return a->cat < b->cat ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* numpy's stable argsort of -score: larger first, ties by position. */
typedef struct scored {
    double score;
    size_t pos;
} scored;

static int cmp_scored(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* numpy's pairwise summation (DOUBLE_pairwise_sum), so means equal np.mean's bit for bit. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

static double iou_threshold(int t)
{
    /* np.linspace(.5, .95, 10): start + i * step, the last one exactly the stop */
    return t == NTHR - 1 ? 0.95 : t * ((0.95 - 0.5) / (NTHR - 1)) + 0.5;
}

static double recall_threshold(int r)
{
    return r == NREC - 1 ? 1.0 : r * (1.0 / (NREC - 1)) + 0.0;
}

typedef struct work {
    /* per (image, category) scratch, sized for the largest group */
    double *ious;    /* D x G */
    size_t *gt_sort; /* gts in _ignore order */
    uint8_t *gt_ig;  /* _ignore of the sorted gts */
    uint8_t *gt_taken;
    scored *order;
    size_t cap_d, cap_g;
    /* masks: the sorted detections' and the ground truths' RLEs, rleIou's g x d result */
    sb_rle *dr, *gr;
    double *o;
    uint8_t *crowd;
} work;

static bool work_reserve(work *w, size_t d, size_t g)
{
    if (d > w->cap_d || g > w->cap_g) {
        size_t nd = d > w->cap_d ? d : w->cap_d, ng = g > w->cap_g ? g : w->cap_g;
        free(w->ious);
        free(w->gt_sort);
        free(w->gt_ig);
        free(w->gt_taken);
        free(w->order);
        free(w->dr);
        free(w->gr);
        free(w->o);
        free(w->crowd);
        w->dr = malloc((nd ? nd : 1) * sizeof *w->dr);
        w->gr = malloc((ng ? ng : 1) * sizeof *w->gr);
        w->o = malloc((nd ? nd : 1) * (ng ? ng : 1) * sizeof(double));
        w->crowd = malloc(ng ? ng : 1);
        w->ious = malloc((nd ? nd : 1) * (ng ? ng : 1) * sizeof(double));
        w->gt_sort = malloc((ng ? ng : 1) * sizeof(size_t));
        w->gt_ig = malloc(ng ? ng : 1);
        w->gt_taken = malloc(ng ? ng : 1);
        w->order = malloc((nd ? nd : 1) * sizeof(scored));
        w->cap_d = nd;
        w->cap_g = ng;
        if (!w->ious || !w->gt_sort || !w->gt_ig || !w->gt_taken || !w->order || !w->dr || !w->gr ||
            !w->o || !w->crowd) {
            w->cap_d = w->cap_g = 0;
            return false;
        }
    }
    return true;
}

static void work_free(work *w)
{
    free(w->dr);
    free(w->gr);
    free(w->o);
    free(w->crowd);
    free(w->ious);
    free(w->gt_sort);
    free(w->gt_ig);
    free(w->gt_taken);
    free(w->order);
}

/* COCOeval.evaluateImg for one image and category, all area ranges: appends one det_rec per
 * kept detection to cells[a] and counts the ground truths that are not ignored. */
static bool evaluate_group(const sb_coco_gt *gt, bool segm, const gt_ann *gts, size_t G,
                           const sb_coco_det *dets, const det_ref *refs, size_t n_refs, cell *cells,
                           work *w)
{
    if (!work_reserve(w, n_refs, G)) return false;
    for (size_t i = 0; i < n_refs; i++) {
        w->order[i].score = dets[refs[i].order].score;
        w->order[i].pos = i;
    }
    qsort(w->order, n_refs, sizeof *w->order, cmp_scored);
    size_t D = n_refs < MAXDET ? n_refs : MAXDET;
    if (segm && D && G) { /* maskUtils.iou(d, g, iscrowd) */
        for (size_t d = 0; d < D; d++)
            w->dr[d] = *dets[refs[w->order[d].pos].order].mask;
        bool ok = true;
        for (size_t g = 0; g < G; g++) {
            w->gr[g] = (sb_rle){0};
            /* strings this file wrote: only memory can fail */
            if (ok)
                ok = sb_rle_from_string(gt->rle_str + gts[g].rle_at, gts[g].rle_len, gts[g].rle_h,
                                        gts[g].rle_w, "coco_segmentation", &w->gr[g]) == SB_OK;
            w->crowd[g] = gts[g].iscrowd;
        }
        if (ok) ok = sb_rle_iou(w->dr, D, w->gr, G, w->crowd, w->o) == SB_OK;
        for (size_t g = 0; g < G; g++)
            sb_rle_free(&w->gr[g]);
        if (!ok) return false;
        for (size_t d = 0; d < D; d++)
            for (size_t g = 0; g < G; g++)
                w->ious[d * G + g] = w->o[g * D + d];
    } else {
        for (size_t d = 0; d < D; d++)
            for (size_t g = 0; g < G; g++)
                w->ious[d * G + g] =
                    sb_bb_iou(dets[refs[w->order[d].pos].order].bbox, gts[g].bbox, gts[g].iscrowd);
    }
    for (int a = 0; a < NAREA; a++) {
        cell *c = &cells[a];
        c->any = true;
        size_t k = 0;
        for (int pass = 0; pass < 2; pass++) /* stable sort by _ignore */
            for (size_t g = 0; g < G; g++) {
                bool ig = gts[g].iscrowd || gts[g].area < area_lo[a] || gts[g].area > area_hi[a];
                if ((int)ig != pass) continue;
                w->gt_sort[k] = g;
                w->gt_ig[k++] = ig;
                if (!ig) c->npig++;
            }
        if (!sb_coco_grow((void **)&c->recs, &c->cap, c->n + D, sizeof *c->recs)) return false;
        det_rec *recs = &c->recs[c->n];
        for (size_t d = 0; d < D; d++) {
            recs[d].score = w->order[d].score;
            recs[d].matched = recs[d].ignored = 0;
            recs[d].rank = (uint8_t)d;
        }
        for (int t = 0; t < NTHR && G > 0; t++) {
            memset(w->gt_taken, 0, G);
            for (size_t d = 0; d < D; d++) {
                double best = fmin(iou_threshold(t), 1 - 1e-10);
                long m = -1;
                for (size_t j = 0; j < G; j++) {
                    size_t g = w->gt_sort[j];
                    if (w->gt_taken[j] && !gts[g].iscrowd) continue;
                    if (m > -1 && w->gt_ig[m] == 0 && w->gt_ig[j] == 1) break;
                    double iou = w->ious[d * G + g];
                    if (iou < best) continue;
                    best = iou;
                    m = (long)j;
                }
                if (m == -1) continue;
                if (w->gt_ig[m]) recs[d].ignored |= (uint16_t)(1u << t);
                /* dtMatches holds the gt's id: an id of 0 reads as "no match" in COCOeval */
                if (gts[w->gt_sort[m]].id != 0) recs[d].matched |= (uint16_t)(1u << t);
                w->gt_taken[m] = 1;
            }
        }
        for (size_t d = 0; d < D; d++) {
            const sb_coco_det *det = &dets[refs[w->order[d].pos].order];
            double area = segm ? det->area : det->bbox[2] * det->bbox[3];
            bool out = area < area_lo[a] || area > area_hi[a];
            for (int t = 0; t < NTHR; t++)
                if (!(recs[d].matched >> t & 1) && out) recs[d].ignored |= (uint16_t)(1u << t);
        }
        c->n += D;
    }
    return true;
}

/* COCOeval.accumulate for one (category, area, maxDet) cell: precision[t][r] and recall[t]. */
static bool accumulate_cell(const cell *c, int max_det, double *precision /* [NTHR][NREC] */,
                            double *recall /* [NTHR] */, scored *order, double *rc, double *pr)
{
    size_t nd = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->recs[i].rank >= max_det) continue;
        order[nd].score = c->recs[i].score;
        order[nd++].pos = i;
    }
    qsort(order, nd, sizeof *order, cmp_scored);
    for (int t = 0; t < NTHR; t++) {
        double tp = 0, fp = 0;
        for (size_t j = 0; j < nd; j++) {
            const det_rec *r = &c->recs[order[j].pos];
            if (!(r->ignored >> t & 1)) {
                if (r->matched >> t & 1)
                    tp += 1;
                else
                    fp += 1;
            }
            rc[j] = tp / (double)c->npig;
            pr[j] = tp / (fp + tp + DBL_EPSILON);
        }
        recall[t] = nd ? rc[nd - 1] : 0;
        for (size_t j = nd; j-- > 1;)
            if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
        size_t j = 0;
        for (int r = 0; r < NREC; r++) {
            double thr = recall_threshold(r);
            while (j < nd && rc[j] < thr)
                j++; /* searchsorted(rc, thr, side="left") */
            precision[t * NREC + r] = j < nd ? pr[j] : 0;
        }
    }
    return true;
}

static double mean_defined(const double *v, size_t n, double *scratch)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > -1) scratch[k++] = v[i];
    return k ? pairwise_sum(scratch, k) / (double)k : -1;
}

static sb_status evaluate(const sb_coco_gt *gt, bool segm, const int64_t *image_ids,
                          size_t n_images, const sb_coco_det *dets, size_t n_dets,
                          double stats[SB_COCO_STATS])
{
    size_t I = gt->n_images, K = gt->n_cats;
    const char *name = segm ? "coco_segmentation" : "coco_detection";
    if (segm && !gt->masks)
        return sb_fail(SB_EINVAL, "%s: the annotations were read without their masks", name);
    sb_status st = SB_OK;
    uint8_t *evaluated = calloc(I ? I : 1, 1);
    det_ref *refs = malloc((n_dets ? n_dets : 1) * sizeof *refs);
    cell *cells = calloc((K ? K : 1) * NAREA, sizeof *cells);
    /* precision [K][A][M][T][R], recall [K][A][M][T]; -1 where COCOeval leaves -1 */
    size_t np = K * NAREA * NMAXDET * NTHR * NREC, nr = K * NAREA * NMAXDET * NTHR;
    double *precision = malloc((np ? np : 1) * sizeof(double));
    double *recall = malloc((nr ? nr : 1) * sizeof(double));
    work w = {0};
    if (!evaluated || !refs || !cells || !precision || !recall) {
        st = sb_fail(SB_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    if (image_ids) {
        for (size_t i = 0; i < n_images; i++) {
            long im = sb_coco_find_id(gt->image_ids, I, image_ids[i]);
            if (im < 0) {
                st = sb_fail(SB_EINVAL, "%s: image %lld is not in the annotations", name,
                             (long long)image_ids[i]);
                goto done;
            }
            evaluated[im] = 1;
        }
    } else {
        memset(evaluated, 1, I);
    }
    size_t n_refs = 0;
    for (size_t i = 0; i < n_dets; i++) {
        const sb_coco_det *d = &dets[i];
        long im = sb_coco_find_id(gt->image_ids, I, d->image_id);
        if (im < 0) {
            st = sb_fail(SB_EINVAL,
                         "%s: detection %zu is for image %lld, which is not in the annotations",
                         name, i + 1, (long long)d->image_id);
            goto done;
        }
        if (isnan(d->score)) {
            st = sb_fail(SB_EINVAL, "%s: detection %zu (image %lld) has a NaN score", name, i + 1,
                         (long long)d->image_id);
            goto done;
        }
        if (segm && !d->mask) {
            st = sb_fail(SB_EINVAL, "%s: detection %zu (image %lld) has no mask", name, i + 1,
                         (long long)d->image_id);
            goto done;
        }
        long c = sb_coco_find_id(gt->cat_ids, K, d->category_id);
        if (!evaluated[im] || c < 0) continue;
        refs[n_refs++] = (det_ref){(uint32_t)im, (uint32_t)c, i};
    }
    qsort(refs, n_refs, sizeof *refs, cmp_det_ref);

    /* evaluate: image by image (COCOeval's imgIds order), category by category */
    size_t r = 0;
    for (size_t im = 0; im < I; im++) {
        while (r < n_refs && refs[r].image < im)
            r++;
        if (!evaluated[im]) continue;
        const gt_ann *ga = gt->anns + gt->image_start[im],
                     *gend = gt->anns + gt->image_start[im + 1];
        size_t r_end = r;
        while (r_end < n_refs && refs[r_end].image == im)
            r_end++;
        size_t rr = r;
        while (ga < gend || rr < r_end) {
            uint32_t cat = ga < gend ? ga->cat : UINT32_MAX;
            if (rr < r_end && refs[rr].cat < cat) cat = refs[rr].cat;
            const gt_ann *g0 = ga;
            while (ga < gend && ga->cat == cat)
                ga++;
            size_t d0 = rr;
            while (rr < r_end && refs[rr].cat == cat)
                rr++;
            if (!evaluate_group(gt, segm, g0, (size_t)(ga - g0), dets, refs + d0, rr - d0,
                                cells + (size_t)cat * NAREA, &w)) {
                st = sb_fail(SB_ENOMEM, "%s: out of memory", name);
                goto done;
            }
        }
        r = r_end;
    }

    /* accumulate */
    size_t most = 0;
    for (size_t i = 0; i < K * NAREA; i++)
        if (cells[i].n > most) most = cells[i].n;
    scored *order = malloc((most ? most : 1) * sizeof *order);
    double *rc = malloc((most ? most : 1) * sizeof(double));
    double *pr = malloc((most ? most : 1) * sizeof(double));
    if (!order || !rc || !pr) {
        free(order);
        free(rc);
        free(pr);
        st = sb_fail(SB_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i < np; i++)
        precision[i] = -1;
    for (size_t i = 0; i < nr; i++)
        recall[i] = -1;
    for (size_t k = 0; k < K; k++)
        for (int a = 0; a < NAREA; a++) {
            const cell *c = &cells[k * NAREA + (size_t)a];
            if (!c->any || c->npig == 0) continue;
            for (int m = 0; m < NMAXDET; m++) {
                size_t at = (k * NAREA + (size_t)a) * NMAXDET + (size_t)m;
                accumulate_cell(c, max_dets[m], precision + at * NTHR * NREC, recall + at * NTHR,
                                order, rc, pr);
            }
        }
    free(order);
    free(rc);
    free(pr);

    /* summarize: the mean of the defined entries, in numpy's C order of the sliced arrays
     * (precision[t, r, k], recall[t, k]) */
    double *vals = malloc((NTHR * NREC * (K ? K : 1)) * sizeof(double));
    double *scratch = malloc((NTHR * NREC * (K ? K : 1)) * sizeof(double));
    if (!vals || !scratch) {
        free(vals);
        free(scratch);
        st = sb_fail(SB_ENOMEM, "%s: out of memory", name);
        goto done;
    }
    static const struct {
        bool ap;
        int thr; /* -1: all */
        int area, maxdet;
    } summary[SB_COCO_STATS] = {
        {true, -1, 0, 2},  {true, 0, 0, 2},   {true, 5, 0, 2},   {true, -1, 1, 2},
        {true, -1, 2, 2},  {true, -1, 3, 2},  {false, -1, 0, 0}, {false, -1, 0, 1},
        {false, -1, 0, 2}, {false, -1, 1, 2}, {false, -1, 2, 2}, {false, -1, 3, 2},
    };
    for (int s = 0; s < SB_COCO_STATS; s++) {
        int t0 = summary[s].thr < 0 ? 0 : summary[s].thr;
        int t1 = summary[s].thr < 0 ? NTHR : summary[s].thr + 1;
        size_t n = 0;
        for (int t = t0; t < t1; t++) {
            if (summary[s].ap) {
                for (int rr2 = 0; rr2 < NREC; rr2++)
                    for (size_t k = 0; k < K; k++) {
                        size_t at = (k * NAREA + (size_t)summary[s].area) * NMAXDET +
                                    (size_t)summary[s].maxdet;
                        vals[n++] = precision[(at * NTHR + (size_t)t) * NREC + (size_t)rr2];
                    }
            } else {
                for (size_t k = 0; k < K; k++) {
                    size_t at =
                        (k * NAREA + (size_t)summary[s].area) * NMAXDET + (size_t)summary[s].maxdet;
                    vals[n++] = recall[at * NTHR + (size_t)t];
                }
            }
        }
        stats[s] = mean_defined(vals, n, scratch);
    }
    free(vals);
    free(scratch);

done:
    work_free(&w);
    if (cells)
        for (size_t i = 0; i < K * NAREA; i++)
            free(cells[i].recs);
    free(cells);
    free(evaluated);
    free(refs);
    free(precision);
    free(recall);
    return st;
}

sb_status sb_coco_evaluate(const sb_coco_gt *gt, const int64_t *image_ids, size_t n_images,
                           const sb_coco_det *dets, size_t n_dets, double stats[SB_COCO_STATS])
{
    return evaluate(gt, false, image_ids, n_images, dets, n_dets, stats);
}

sb_status sb_coco_evaluate_segm(const sb_coco_gt *gt, const int64_t *image_ids, size_t n_images,
                                const sb_coco_det *dets, size_t n_dets, double stats[SB_COCO_STATS])
{
    return evaluate(gt, true, image_ids, n_images, dets, n_dets, stats);
}
