#include "eval/coco_mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest image: h * w must fit maskApi's int arithmetic (rleFrPoly's x * h + y). */
#define MAX_PIXELS 0x7fffffffu
/* rleFrPoly upsamples the outline 5x: coordinates beyond this would overflow its ints, and
 * outlines longer than MAX_OUTLINE points are refused rather than allocated. */
#define MAX_COORD 1e8
#define MAX_OUTLINE ((size_t)1 << 27)

static uint32_t umin(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}
static uint32_t umax(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

void sb_rle_free(sb_rle *r)
{
    if (!r) return;
    free(r->cnts);
    r->cnts = NULL;
    r->m = 0;
}

/* rleInit: a copy of m counts. */
static sb_status rle_init(sb_rle *r, uint32_t h, uint32_t w, size_t m, const uint32_t *cnts)
{
    r->h = h;
    r->w = w;
    r->m = m;
    r->cnts = NULL;
    if (m == 0) return SB_OK;
    r->cnts = malloc(m * sizeof *r->cnts);
    if (!r->cnts) {
        r->m = 0;
        return sb_fail(SB_ENOMEM, "coco mask: out of memory");
    }
    if (cnts) memcpy(r->cnts, cnts, m * sizeof *cnts);
    return SB_OK;
}

static sb_status check_size(uint32_t h, uint32_t w, const char *what)
{
    if ((uint64_t)h * w > MAX_PIXELS)
        return sb_fail(SB_ERANGE, "%s: a %u x %u mask is too large (at most %u pixels)", what, h, w,
                       MAX_PIXELS);
    return SB_OK;
}

sb_status sb_rle_encode(const uint8_t *mask, uint32_t h, uint32_t w, sb_rle *out)
{
    SB_TRY(check_size(h, w, "coco mask encode"));
    size_t a = (size_t)h * w, k = 0;
    uint32_t *cnts = malloc((a + 1) * sizeof *cnts);
    if (!cnts) return sb_fail(SB_ENOMEM, "coco mask: out of memory");
    uint8_t p = 0;
    uint32_t c = 0;
    for (size_t j = 0; j < a; j++) {
        uint8_t v = mask[j] != 0;
        if (v != p) {
            cnts[k++] = c;
            c = 0;
            p = v;
        }
        c++;
    }
    cnts[k++] = c;
    sb_status st = rle_init(out, h, w, k, cnts);
    free(cnts);
    return st;
}

void sb_rle_decode(const sb_rle *r, uint8_t *mask)
{
    uint8_t v = 0;
    for (size_t j = 0; j < r->m; j++) {
        memset(mask, v, r->cnts[j]);
        mask += r->cnts[j];
        v = !v;
    }
}

sb_status sb_rle_merge(const sb_rle *R, size_t n, bool intersect, sb_rle *out)
{
    if (n == 0) return rle_init(out, 0, 0, 0, NULL);
    uint32_t h = R[0].h, w = R[0].w;
    size_t m = R[0].m;
    if (n == 1) return rle_init(out, h, w, m, R[0].cnts);
    /* maskApi allocates h * w + 1 runs; runs of length 0 in the inputs can make more, but each
     * step's loop takes a run of A or B every turn (their counts sum alike), so the result of
     * merging A and B has at most A.m + B.m + 1 runs */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += R[i].m + 1;
    uint32_t *cnts = malloc(cap * sizeof *cnts);
    uint32_t *acnts = malloc(cap * sizeof *acnts);
    if (!cnts || !acnts) {
        free(cnts);
        free(acnts);
        return sb_fail(SB_ENOMEM, "coco mask: out of memory");
    }
    if (m) memcpy(cnts, R[0].cnts, m * sizeof *cnts);
    for (size_t i = 1; i < n; i++) {
        sb_rle B = R[i];
        if (B.h != h || B.w != w) {
            h = w = 0;
            m = 0;
            break;
        }
        if (m == 0 || B.m == 0) { /* an empty image: nothing to merge */
            m = 0;
            continue;
        }
        size_t am = m;
        memcpy(acnts, cnts, am * sizeof *cnts);
        uint32_t ca = acnts[0], cb = B.cnts[0], c, cc = 0, ct = 1;
        int v = 0, va = 0, vb = 0, vp;
        size_t a = 1, b = 1;
        m = 0;
        while (ct > 0) {
            c = umin(ca, cb);
            cc += c;
            ct = 0;
            ca -= c;
            if (!ca && a < am) {
                ca = acnts[a++];
                va = !va;
            }
            ct += ca;
            cb -= c;
            if (!cb && b < B.m) {
                cb = B.cnts[b++];
                vb = !vb;
            }
            ct += cb;
            vp = v;
            v = intersect ? (va && vb) : (va || vb);
            if (v != vp || ct == 0) {
                cnts[m++] = cc;
                cc = 0;
            }
        }
    }
    sb_status st = rle_init(out, h, w, m, cnts);
    free(cnts);
    free(acnts);
    return st;
}

uint32_t sb_rle_area(const sb_rle *r)
{
    uint32_t a = 0;
    for (size_t j = 1; j < r->m; j += 2)
        a += r->cnts[j];
    return a;
}

void sb_rle_to_bbox(const sb_rle *r, double bb[4])
{
    uint32_t h = r->h, x, y, xs = r->w, ys = r->h, xe = 0, ye = 0, xp = 0, cc = 0, t;
    size_t m = (r->m / 2) * 2;
    if (m == 0 || h == 0) {
        bb[0] = bb[1] = bb[2] = bb[3] = 0;
        return;
    }
    for (size_t j = 0; j < m; j++) {
        cc += r->cnts[j];
        t = cc - (uint32_t)(j % 2);
        y = t % h;
        x = (t - y) / h;
        if (j % 2 == 0)
            xp = x;
        else if (xp < x) {
            ys = 0;
            ye = h - 1;
        }
        xs = umin(xs, x);
        xe = umax(xe, x);
        ys = umin(ys, y);
        ye = umax(ye, y);
    }
    bb[0] = xs;
    bb[2] = xe - xs + 1;
    bb[1] = ys;
    bb[3] = ye - ys + 1;
}

double sb_bb_iou(const double *D, const double *G, bool crowd)
{
    double ga = G[2] * G[3], da = D[2] * D[3];
    double w = fmin(D[2] + D[0], G[2] + G[0]) - fmax(D[0], G[0]);
    if (w <= 0) return 0;
    double h = fmin(D[3] + D[1], G[3] + G[1]) - fmax(D[1], G[1]);
    if (h <= 0) return 0;
    double i = w * h;
    double u = crowd ? da : da + ga - i;
    return i / u;
}

sb_status sb_rle_iou(const sb_rle *dt, size_t m, const sb_rle *gt, size_t n, const uint8_t *iscrowd,
                     double *o)
{
    double *db = malloc((m ? m : 1) * 4 * sizeof *db), *gb = malloc((n ? n : 1) * 4 * sizeof *gb);
    if (!db || !gb) {
        free(db);
        free(gb);
        return sb_fail(SB_ENOMEM, "coco mask iou: out of memory");
    }
    for (size_t d = 0; d < m; d++)
        sb_rle_to_bbox(&dt[d], db + 4 * d);
    for (size_t g = 0; g < n; g++)
        sb_rle_to_bbox(&gt[g], gb + 4 * g);
    for (size_t g = 0; g < n; g++) {
        bool crowd = iscrowd != NULL && iscrowd[g];
        for (size_t d = 0; d < m; d++) {
            o[g * m + d] = sb_bb_iou(db + 4 * d, gb + 4 * g, crowd);
            if (!(o[g * m + d] > 0)) continue;
            if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) {
                o[g * m + d] = -1;
                continue;
            }
            size_t ka = dt[d].m, kb = gt[g].m, a = 1, b = 1;
            uint32_t c, ca = dt[d].cnts[0], cb = gt[g].cnts[0], ct = 1, i = 0, u = 0;
            int va = 0, vb = 0;
            while (ct > 0) {
                c = umin(ca, cb);
                if (va || vb) {
                    u += c;
                    if (va && vb) i += c;
                }
                ct = 0;
                ca -= c;
                if (!ca && a < ka) {
                    ca = dt[d].cnts[a++];
                    va = !va;
                }
                ct += ca;
                cb -= c;
                if (!cb && b < kb) {
                    cb = gt[g].cnts[b++];
                    vb = !vb;
                }
                ct += cb;
            }
            if (i == 0)
                u = 1;
            else if (crowd)
                u = sb_rle_area(&dt[d]);
            o[g * m + d] = (double)i / (double)u;
        }
    }
    free(db);
    free(gb);
    return SB_OK;
}

static int cmp_u32(const void *pa, const void *pb)
{
    uint32_t c = *(const uint32_t *)pa, d = *(const uint32_t *)pb;
    return c > d ? 1 : c < d ? -1 : 0;
}

sb_status sb_rle_from_poly(const double *xy, size_t k, uint32_t h, uint32_t w, const char *what,
                           sb_rle *out)
{
    SB_TRY(check_size(h, w, what));
    if (k == 0) return sb_fail(SB_EFORMAT, "%s: a polygon without points", what);
    if (h == 0 || w == 0) { /* an image without pixels: maskApi's arithmetic wraps; one empty run */
        uint32_t zero = 0;
        return rle_init(out, h, w, 1, &zero);
    }
    for (size_t j = 0; j < 2 * k; j++)
        if (!(fabs(xy[j]) <= MAX_COORD))
            return sb_fail(SB_EFORMAT,
                           "%s: polygon coordinate %zu is %g (must be finite, at most %g in "
                           "magnitude)",
                           what, j, xy[j], MAX_COORD);
    /* upsample and get discrete points densely along the entire boundary */
    const double scale = 5;
    int *x = malloc((k + 1) * sizeof *x), *y = malloc((k + 1) * sizeof *y);
    int *u = NULL, *v = NULL;
    uint32_t *a = NULL, *b = NULL;
    sb_status st = SB_OK;
    if (!x || !y) goto nomem;
    for (size_t j = 0; j < k; j++)
        x[j] = (int)(scale * xy[j * 2 + 0] + .5);
    x[k] = x[0];
    for (size_t j = 0; j < k; j++)
        y[j] = (int)(scale * xy[j * 2 + 1] + .5);
    y[k] = y[0];
    size_t m = 0;
    for (size_t j = 0; j < k; j++)
        m += umax((uint32_t)abs(x[j] - x[j + 1]), (uint32_t)abs(y[j] - y[j + 1])) + 1;
    if (m > MAX_OUTLINE) {
        st = sb_fail(SB_ERANGE, "%s: the polygon's outline is too long (%zu points)", what, m);
        goto done;
    }
    u = malloc(m * sizeof *u);
    v = malloc(m * sizeof *v);
    if (!u || !v) goto nomem;
    m = 0;
    for (size_t j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, d;
        int flip;
        double s;
        dx = abs(xe - xs);
        dy = abs(ys - ye);
        flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            t = xs;
            xs = xe;
            xe = t;
            t = ys;
            ys = ye;
            ye = t;
        }
        /* a repeated point (dx = dy = 0): maskApi divides 0 by 0 and its one outline point is
         * never read for its y (its neighbours share its x), so any slope gives its result */
        if (dx == 0 && dy == 0)
            s = 0;
        else
            s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
        if (dx >= dy)
            for (d = 0; d <= dx; d++) {
                t = flip ? dx - d : d;
                u[m] = t + xs;
                v[m] = (int)(ys + s * t + .5);
                m++;
            }
        else
            for (d = 0; d <= dy; d++) {
                t = flip ? dy - d : d;
                v[m] = t + ys;
                u[m] = (int)(xs + s * t + .5);
                m++;
            }
    }
    /* get points along the y-boundary and downsample (in place: point m is written after
     * points j - 1 >= m and j were read) */
    k = m;
    m = 0;
    for (size_t j = 1; j < k; j++) {
        if (u[j] == u[j - 1]) continue;
        double xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
        xd = (xd + .5) / scale - .5;
        if (floor(xd) != xd || xd < 0 || xd > (double)((size_t)w - 1)) continue;
        double yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
        yd = (yd + .5) / scale - .5;
        if (yd < 0)
            yd = 0;
        else if (yd > h)
            yd = h;
        yd = ceil(yd);
        u[m] = (int)xd;
        v[m] = (int)yd;
        m++;
    }
    /* compute the rle encoding given the y-boundary points */
    k = m;
    a = malloc((k + 1) * sizeof *a);
    b = malloc((k + 1) * sizeof *b);
    if (!a || !b) goto nomem;
    for (size_t j = 0; j < k; j++)
        a[j] = (uint32_t)((int64_t)u[j] * (int64_t)h + v[j]);
    a[k++] = (uint32_t)((size_t)h * w);
    qsort(a, k, sizeof *a, cmp_u32);
    uint32_t p = 0;
    for (size_t j = 0; j < k; j++) {
        uint32_t t = a[j];
        a[j] -= p;
        p = t;
    }
    size_t j = 0;
    m = 0;
    b[m++] = a[j++];
    while (j < k)
        if (a[j] > 0)
            b[m++] = a[j++];
        else {
            j++;
            if (j < k) b[m - 1] += a[j++];
        }
    st = rle_init(out, h, w, m, b);
    goto done;
nomem:
    st = sb_fail(SB_ENOMEM, "%s: out of memory", what);
done:
    free(x);
    free(y);
    free(u);
    free(v);
    free(a);
    free(b);
    return st;
}

sb_status sb_rle_to_string(const sb_rle *r, char **out)
{
    /* a count (or a difference of two) needs at most 7 characters of 5 bits */
    char *s = malloc(r->m * 7 + 1);
    if (!s) return sb_fail(SB_ENOMEM, "coco mask: out of memory");
    size_t p = 0;
    for (size_t i = 0; i < r->m; i++) {
        long x = (long)r->cnts[i];
        if (i > 2) x -= (long)r->cnts[i - 2];
        int more = 1;
        while (more) {
            char c = (char)(x & 0x1f);
            x >>= 5; /* arithmetic, as maskApi's (gcc, clang) */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            c += 48;
            s[p++] = c;
        }
    }
    s[p] = 0;
    *out = s;
    return SB_OK;
}

static sb_status check_counts(const uint32_t *cnts, size_t m, uint32_t h, uint32_t w,
                              const char *what)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < m; i++)
        sum += cnts[i];
    if (sum != (uint64_t)h * w)
        return sb_fail(SB_EFORMAT,
                       "%s: the RLE counts sum to %llu, but a %u x %u mask has %llu pixels", what,
                       (unsigned long long)sum, h, w, (unsigned long long)((uint64_t)h * w));
    return SB_OK;
}

sb_status sb_rle_from_string(const char *s, size_t len, uint32_t h, uint32_t w, const char *what,
                             sb_rle *out)
{
    SB_TRY(check_size(h, w, what));
    uint32_t *cnts = malloc((len ? len : 1) * sizeof *cnts);
    if (!cnts) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    size_t m = 0, p = 0;
    sb_status st = SB_OK;
    while (p < len) {
        size_t start = p;
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len) {
                st = sb_fail(SB_EFORMAT, "%s: malformed RLE string: it ends inside count %zu", what,
                             m + 1);
                goto done;
            }
            unsigned char ch = (unsigned char)s[p];
            if (ch < 48 || ch > 111) {
                st = sb_fail(SB_EFORMAT,
                             "%s: malformed RLE string: character %zu (byte %u) is outside "
                             "'0'..'o'",
                             what, p + 1, ch);
                goto done;
            }
            int c = ch - 48;
            if (k >= 8) {
                st = sb_fail(SB_EFORMAT,
                             "%s: malformed RLE string: count %zu (at character %zu) is too long",
                             what, m + 1, start + 1);
                goto done;
            }
            x |= (int64_t)(c & 0x1f) << (5 * k);
            more = c & 0x20;
            p++;
            k++;
            if (!more && (c & 0x10)) x |= (int64_t)(UINT64_MAX << (5 * k));
        }
        if (m > 2) x += (int64_t)cnts[m - 2];
        if (x < 0 || x > (int64_t)h * w) {
            st = sb_fail(SB_EFORMAT,
                         "%s: malformed RLE string: count %zu is %lld, outside 0..%llu (the "
                         "mask's %u x %u pixels)",
                         what, m + 1, (long long)x, (unsigned long long)((uint64_t)h * w), h, w);
            goto done;
        }
        cnts[m++] = (uint32_t)x;
    }
    st = check_counts(cnts, m, h, w, what);
    if (st == SB_OK) st = rle_init(out, h, w, m, cnts);
done:
    free(cnts);
    return st;
}

sb_status sb_rle_from_counts(const uint32_t *cnts, size_t m, uint32_t h, uint32_t w,
                             const char *what, sb_rle *out)
{
    SB_TRY(check_size(h, w, what));
    SB_TRY(check_counts(cnts, m, h, w, what));
    return rle_init(out, h, w, m, cnts);
}

/* ---- COCO.annToRLE --------------------------------------------------------------------- */

static sb_status read_size(const json_t *segm, uint32_t *h, uint32_t *w, const char *what)
{
    const sb_jansson_api *J = sb_jansson();
    json_t *size = J->object_get(segm, "size");
    int64_t v[2];
    if (!json_is_array(size) || J->array_size(size) != 2 ||
        !sb_jstream_is_integer(J->array_get(size, 0), &v[0]) ||
        !sb_jstream_is_integer(J->array_get(size, 1), &v[1]) || v[0] < 0 || v[1] < 0 ||
        v[0] > UINT32_MAX || v[1] > UINT32_MAX)
        return sb_fail(SB_EFORMAT,
                       "%s: an RLE segmentation needs \"size\": [height, width] (two whole "
                       "numbers >= 0)",
                       what);
    *h = (uint32_t)v[0];
    *w = (uint32_t)v[1];
    return check_size(*h, *w, what);
}

static sb_status rle_from_json(const json_t *segm, const char *what, sb_rle *out)
{
    const sb_jansson_api *J = sb_jansson();
    uint32_t h = 0, w = 0;
    SB_TRY(read_size(segm, &h, &w, what));
    json_t *counts = J->object_get(segm, "counts");
    if (json_is_string(counts))
        return sb_rle_from_string(J->string_value(counts), J->string_length(counts), h, w, what,
                                  out);
    if (!json_is_array(counts))
        return sb_fail(SB_EFORMAT,
                       "%s: an RLE segmentation needs \"counts\": a string (compressed RLE) or a "
                       "list of run lengths",
                       what);
    size_t m = J->array_size(counts);
    uint32_t *cnts = malloc((m ? m : 1) * sizeof *cnts);
    if (!cnts) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < m; i++) {
        int64_t c;
        if (!sb_jstream_is_integer(J->array_get(counts, i), &c) || c < 0 || c > UINT32_MAX) {
            free(cnts);
            return sb_fail(SB_EFORMAT, "%s: RLE counts[%zu] must be a whole number >= 0", what, i);
        }
        cnts[i] = (uint32_t)c;
    }
    sb_status st = sb_rle_from_counts(cnts, m, h, w, what, out);
    free(cnts);
    return st;
}

sb_status sb_coco_segm_from_json(const json_t *segm, bool has_size, uint32_t h, uint32_t w,
                                 const char *what, sb_rle *out)
{
    const sb_jansson_api *J = sb_jansson();
    if (json_is_object(segm)) return rle_from_json(segm, what, out);
    if (!json_is_array(segm))
        return sb_fail(SB_EFORMAT,
                       "%s: \"segmentation\" must be a list of polygons or an RLE object "
                       "{size, counts}",
                       what);
    size_t n = J->array_size(segm);
    if (n == 0) return sb_fail(SB_EFORMAT, "%s: \"segmentation\" is an empty list", what);
    if (!has_size)
        return sb_fail(SB_EFORMAT,
                       "%s: polygon segmentations need the image's size; give an RLE {size, "
                       "counts} (pycocotools' loadRes reads only RLE results)",
                       what);
    json_t *first = J->array_get(segm, 0);
    if (!json_is_array(first))
        return sb_fail(SB_EFORMAT, "%s: segmentation[0] must be a list of coordinates", what);
    size_t n0 = J->array_size(first);
    /* frPyObjects reads a list whose first part has 4 numbers as boxes, which frBbox then
     * refuses (a list is not an ndarray); fewer is no polygon either */
    if (n0 <= 4)
        return sb_fail(SB_EFORMAT,
                       "%s: segmentation[0] has %zu coordinates; a polygon needs at least 3 "
                       "points (6 numbers)",
                       what, n0);
    sb_rle *parts = calloc(n, sizeof *parts);
    double *xy = NULL;
    size_t cap = 0;
    sb_status st = SB_OK;
    if (!parts) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < n && st == SB_OK; i++) {
        json_t *part = J->array_get(segm, i);
        size_t len = json_is_array(part) ? J->array_size(part) : 0;
        if (!json_is_array(part) || len == 0) {
            st = sb_fail(SB_EFORMAT, "%s: segmentation[%zu] must be a non-empty list of numbers",
                         what, i);
            break;
        }
        if (len % 2) {
            st = sb_fail(SB_EFORMAT,
                         "%s: polygon segmentation[%zu] has an odd number of coordinates (%zu)",
                         what, i, len);
            break;
        }
        if (len > cap) {
            double *q = realloc(xy, len * sizeof *xy);
            if (!q) {
                st = sb_fail(SB_ENOMEM, "%s: out of memory", what);
                break;
            }
            xy = q;
            cap = len;
        }
        for (size_t j = 0; j < len; j++) {
            json_t *v = J->array_get(part, j);
            if (!json_is_number(v)) {
                st = sb_fail(SB_EFORMAT, "%s: segmentation[%zu][%zu] must be a number", what, i, j);
                break;
            }
            xy[j] = J->number_value(v);
        }
        if (st != SB_OK) break;
        st = sb_rle_from_poly(xy, len / 2, h, w, what, &parts[i]);
    }
    if (st == SB_OK) st = sb_rle_merge(parts, n, false, out);
    for (size_t i = 0; i < n; i++)
        sb_rle_free(&parts[i]);
    free(parts);
    free(xy);
    return st;
}
