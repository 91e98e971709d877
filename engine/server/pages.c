/* The HTML pages (no JavaScript: links sort, SVG draws), CSV and JSON exports. The same
 * functions render the server's pages and `sbengine report`'s file; only links differ.
 * Every string that comes from a result goes through html() (or csv()/the JSON writer). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

static const char *const speed_keys[] = {"Tasks / Evaluation Time", "Tasks", "Evaluation Time",
                                         "Max Memory Allocated (Total)"};
enum { NSPEED = 4, MAX_COLS = 64 };

static void html(sb_buf *b, const char *s)
{
    if (!s) return;
    for (; *s; s++) {
        switch (*s) {
        case '&':
            sb_buf_puts(b, "&amp;");
            break;
        case '<':
            sb_buf_puts(b, "&lt;");
            break;
        case '>':
            sb_buf_puts(b, "&gt;");
            break;
        case '"':
            sb_buf_puts(b, "&quot;");
            break;
        case '\'':
            sb_buf_puts(b, "&#39;");
            break;
        default:
            sb_buf_append(b, s, 1);
        }
    }
}

/* Percent-encoding for a path segment or query value (then HTML-escaped by being safe). */
static void url(sb_buf *b, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~", c))
            sb_buf_append(b, (const char *)&c, 1);
        else
            sb_buf_printf(b, "%%%02X", c);
    }
}

static void number(sb_buf *b, double x)
{
    char t[40];
    if (fabs(x) >= 1e6 || (x != 0 && fabs(x) < 1e-3))
        snprintf(t, sizeof t, "%.4g", x);
    else if (x == floor(x))
        snprintf(t, sizeof t, "%.0f", x);
    else
        snprintf(t, sizeof t, "%.4f", x);
    sb_buf_puts(b, t);
}

static const char style[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border-bottom:1px solid #ddd;"
    "padding:.3em .6em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "th a{color:inherit}a{color:#0645ad}svg{background:#fafafa;border:1px solid #ddd;margin:.5em "
    "1em .5em 0}.front{fill:#c00}.pt{fill:#36c}pre{background:#f4f4f4;padding:.6em;"
    "overflow:auto}h1 small{color:#777;font-weight:normal}";

sb_status sb_page_head(sb_buf *out, const char *title)
{
    sb_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    html(out, title);
    sb_buf_printf(out, "</title><style>%s</style></head><body>\n", style);
    return SB_OK;
}

sb_status sb_page_tail(sb_buf *out)
{
    return sb_buf_puts(out, "</body></html>\n");
}

static void bench_link(sb_buf *out, const char *dataset, const char *task, const sb_links *l,
                       int index)
{
    if (l->report) {
        sb_buf_printf(out, "#b-%d", index);
        return;
    }
    sb_buf_printf(out, "%s/b/", l->base);
    url(out, dataset);
    sb_buf_puts(out, "/");
    url(out, task);
}

static void result_link(sb_buf *out, int64_t id, const sb_links *l)
{
    if (l->report)
        sb_buf_printf(out, "#r-%lld", (long long)id);
    else
        sb_buf_printf(out, "%s/r/%lld", l->base, (long long)id);
}

static json_t *metric(const sb_entry *e, const char *group, const char *name)
{
    return json_object_get(json_object_get(e->result, group), name);
}

static const char *headline_name(const sb_entry *entries, int n)
{
    for (int i = 0; i < n; i++) {
        void *it = json_object_iter(json_object_get(entries[i].result, "results"));
        if (it) return json_object_iter_key(it);
    }
    return NULL;
}

sb_status sb_page_index(sb_buf *out, const sb_bench *benches, int n, const sb_links *links)
{
    sb_buf_puts(out, "<h1>Benchmarks</h1>\n");
    if (n == 0) {
        sb_buf_puts(out, "<p>No results yet.</p>\n");
        return SB_OK;
    }
    sb_buf_puts(out, "<table id=\"benchmarks\"><thead><tr><th>Dataset</th><th>Task</th>"
                     "<th>Results</th><th>Best model</th><th>Headline metric</th><th>Value</th>"
                     "</tr></thead><tbody>\n");
    for (int i = 0; i < n; i++) {
        const sb_bench *b = &benches[i];
        const char *name = headline_name(&b->best, 1);
        sb_buf_puts(out, "<tr><td><a href=\"");
        bench_link(out, b->dataset, b->task, links, i + 1);
        sb_buf_puts(out, "\">");
        html(out, b->dataset);
        sb_buf_puts(out, "</a></td><td>");
        html(out, b->task);
        sb_buf_printf(out, "</td><td class=\"n\">%lld</td><td><a href=\"", (long long)b->n_results);
        result_link(out, b->best.id, links);
        sb_buf_puts(out, "\">");
        html(out, sb_jstr(b->best.result, "model"));
        sb_buf_puts(out, "</a></td><td>");
        html(out, name);
        sb_buf_puts(out, "</td><td class=\"n\">");
        json_t *v = name ? metric(&b->best, "results", name) : NULL;
        if (json_is_number(v)) number(out, json_number_value(v));
        sb_buf_puts(out, "</td></tr>\n");
    }
    sb_buf_puts(out, "</tbody></table>\n");
    return SB_OK;
}

/* ---- columns and sorting ----------------------------------------------------------------- */

typedef struct column {
    const char *name;
    const char *group; /* "results", "speed_mem_metrics", or NULL (model / submitted) */
} column;

static int collect_columns(sb_entry *entries, int n, column *cols)
{
    int nc = 0;
    cols[nc++] = (column){"Model", NULL};
    for (int i = 0; i < n; i++) {
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(entries[i].result, "results"), name, v)
        {
            (void)v;
            bool seen = false;
            for (int c = 0; c < nc && !seen; c++)
                seen = cols[c].group && strcmp(cols[c].name, name) == 0;
            if (!seen && nc < MAX_COLS - NSPEED - 1) cols[nc++] = (column){name, "results"};
        }
    }
    for (int k = 0; k < NSPEED; k++)
        for (int i = 0; i < n; i++)
            if (json_is_number(metric(&entries[i], "speed_mem_metrics", speed_keys[k]))) {
                cols[nc++] = (column){speed_keys[k], "speed_mem_metrics"};
                break;
            }
    cols[nc++] = (column){"Submitted", NULL};
    return nc;
}

typedef struct sort_spec {
    const column *col;
    int dir; /* +1 ascending, -1 descending */
} sort_spec;

static int compare_entries(const void *a, const void *b, void *ctx)
{
    const sort_spec *s = ctx;
    const sb_entry *x = a, *y = b;
    int r = 0;
    if (!s->col->group) {
        const char *p =
            strcmp(s->col->name, "Model") == 0 ? sb_jstr(x->result, "model") : x->created;
        const char *q =
            strcmp(s->col->name, "Model") == 0 ? sb_jstr(y->result, "model") : y->created;
        r = strcmp(p ? p : "", q ? q : "") * s->dir;
    } else {
        json_t *p = metric(x, s->col->group, s->col->name),
               *q = metric(y, s->col->group, s->col->name);
        if (!json_is_number(p) || !json_is_number(q)) /* missing values last, either way */
            r = json_is_number(p) ? -1 : json_is_number(q) ? 1 : 0;
        else
            r = (json_number_value(p) > json_number_value(q)) -
                (json_number_value(p) < json_number_value(q));
        if (json_is_number(p) && json_is_number(q)) r *= s->dir;
    }
    if (r == 0) r = (x->id > y->id) - (x->id < y->id);
    return r;
}

/* ---- SVG plots ------------------------------------------------------------------------- */

typedef struct point {
    double x, y;
    const sb_entry *e;
    bool front;
} point;

static int by_x_desc(const void *a, const void *b)
{
    const point *p = a, *q = b;
    return (p->x < q->x) - (p->x > q->x);
}

enum { W = 520, H = 320, L = 64, R = 16, T = 16, B = 44 };

static void axes(sb_buf *out, double x0, double x1, double y0, double y1, const char *xl,
                 const char *yl, bool xtime)
{
    sb_buf_printf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", L, H - B,
                  W - R, H - B);
    sb_buf_printf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", L, T, L,
                  H - B);
    for (int k = 0; k <= 4; k++) {
        double fx = x0 + (x1 - x0) * k / 4, fy = y0 + (y1 - y0) * k / 4;
        double px = L + (W - L - R) * k / 4.0, py = (H - B) - (H - B - T) * k / 4.0;
        sb_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">", px,
                      H - B + 14);
        if (xtime) {
            time_t t = (time_t)fx;
            struct tm tm;
            char d[24];
            gmtime_r(&t, &tm);
            strftime(d, sizeof d, x1 - x0 < 2 * 86400 ? "%m-%d %H:%M" : "%Y-%m-%d", &tm);
            sb_buf_puts(out, d);
        } else {
            number(out, fx);
        }
        sb_buf_printf(out,
                      "</text><text x=\"%d\" y=\"%.1f\" font-size=\"10\" "
                      "text-anchor=\"end\">",
                      L - 4, py + 3);
        number(out, fy);
        sb_buf_puts(out, "</text>");
    }
    sb_buf_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">",
                  (L + W - R) / 2, H - 8);
    html(out, xl);
    sb_buf_printf(out,
                  "</text><text x=\"12\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 12 %d)\">",
                  (T + H - B) / 2, (T + H - B) / 2);
    html(out, yl);
    sb_buf_puts(out, "</text>");
}

/* Widens an empty range (one point, or equal values) by `pad` on each side. */
static void range(double *lo, double *hi, double pad)
{
    if (*hi - *lo < 1e-12) *lo -= pad, *hi += pad;
}

static double sx(double x, double x0, double x1)
{
    return L + (W - L - R) * (x - x0) / (x1 - x0);
}
static double sy(double y, double y0, double y1)
{
    return (H - B) - (H - B - T) * (y - y0) / (y1 - y0);
}

/* The headline metric against throughput, the Pareto front (no other model is both faster
 * and better) in red and joined by a line. */
static void plot_pareto(sb_buf *out, sb_entry *entries, int n, const char *headline,
                        const sb_links *links)
{
    point *pts = calloc((size_t)n + 1, sizeof *pts);
    int np = 0;
    bool lower = sb_metric_lower_is_better(headline);
    for (int i = 0; i < n && pts; i++) {
        json_t *x = metric(&entries[i], "speed_mem_metrics", speed_keys[0]);
        json_t *y = metric(&entries[i], "results", headline);
        if (json_is_number(x) && json_is_number(y) && json_number_value(x) > 0)
            pts[np++] = (point){json_number_value(x), json_number_value(y), &entries[i], false};
    }
    if (np == 0) {
        sb_buf_puts(out, "<p>No throughput figures to plot.</p>\n");
        free(pts);
        return;
    }
    qsort(pts, (size_t)np, sizeof *pts, by_x_desc);
    double best = -INFINITY, x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < np; i++) {
        double s = lower ? -pts[i].y : pts[i].y;
        if (s > best) pts[i].front = true, best = s;
        x0 = fmin(x0, pts[i].x), x1 = fmax(x1, pts[i].x);
        y0 = fmin(y0, pts[i].y), y1 = fmax(y1, pts[i].y);
    }
    range(&x0, &x1, fabs(x0) > 0 ? fabs(x0) * 0.05 : 1);
    range(&y0, &y1, fabs(y0) > 0 ? fabs(y0) * 0.05 : 1);
    sb_buf_printf(out,
                  "<svg id=\"pareto\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" role=\"img\"><title>",
                  W, H);
    html(out, headline);
    sb_buf_puts(out, " against throughput</title>");
    axes(out, x0, x1, y0, y1, "Tasks / Evaluation Time", headline, false);
    sb_buf_puts(out, "<polyline fill=\"none\" stroke=\"#c00\" points=\"");
    for (int i = 0; i < np; i++)
        if (pts[i].front)
            sb_buf_printf(out, "%.1f,%.1f ", sx(pts[i].x, x0, x1), sy(pts[i].y, y0, y1));
    sb_buf_puts(out, "\"/>");
    for (int i = 0; i < np; i++) {
        sb_buf_puts(out, "<a href=\"");
        result_link(out, pts[i].e->id, links);
        sb_buf_printf(out, "\"><circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>",
                      pts[i].front ? "front" : "pt", sx(pts[i].x, x0, x1), sy(pts[i].y, y0, y1));
        html(out, sb_jstr(pts[i].e->result, "model"));
        sb_buf_puts(out, "</title></circle></a>");
        if (pts[i].front) {
            /* Labels in the right half end at their point, so they stay inside the plot. */
            bool right = sx(pts[i].x, x0, x1) > (L + W - R) / 2.0;
            sb_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\"%s>",
                          sx(pts[i].x, x0, x1) + (right ? -6 : 6), sy(pts[i].y, y0, y1) - 6,
                          right ? " text-anchor=\"end\"" : "");
            html(out, sb_jstr(pts[i].e->result, "model"));
            sb_buf_puts(out, "</text>");
        }
    }
    sb_buf_puts(out, "</svg>\n");
    free(pts);
}

static double parse_time(const char *iso)
{
    struct tm tm = {0};
    if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) return NAN;
    return (double)timegm(&tm);
}

/* The best headline value over time: one step per result that set a new best. */
static void plot_history(sb_buf *out, const sb_entry *history, int n, const char *headline,
                         const sb_links *links)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    int np = 0;
    for (int i = 0; i < n; i++) {
        json_t *y = metric(&history[i], "results", headline);
        double t = parse_time(history[i].created);
        if (!json_is_number(y) || isnan(t)) continue;
        x0 = fmin(x0, t), x1 = fmax(x1, t);
        y0 = fmin(y0, json_number_value(y)), y1 = fmax(y1, json_number_value(y));
        np++;
    }
    if (np == 0) return;
    range(&x0, &x1, 3600);
    range(&y0, &y1, fabs(y0) > 0 ? fabs(y0) * 0.05 : 1);
    sb_buf_printf(out,
                  "<svg id=\"history\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" role=\"img\"><title>best ",
                  W, H);
    html(out, headline);
    sb_buf_puts(out, " over time</title>");
    axes(out, x0, x1, y0, y1, "submitted", headline, true);
    sb_buf_puts(out, "<polyline fill=\"none\" stroke=\"#36c\" points=\"");
    double prev_y = NAN;
    for (int i = 0; i < n; i++) {
        json_t *y = metric(&history[i], "results", headline);
        double t = parse_time(history[i].created);
        if (!json_is_number(y) || isnan(t)) continue;
        if (!isnan(prev_y)) sb_buf_printf(out, "%.1f,%.1f ", sx(t, x0, x1), sy(prev_y, y0, y1));
        prev_y = json_number_value(y);
        sb_buf_printf(out, "%.1f,%.1f ", sx(t, x0, x1), sy(prev_y, y0, y1));
    }
    sb_buf_puts(out, "\"/>");
    for (int i = 0; i < n; i++) {
        json_t *y = metric(&history[i], "results", headline);
        double t = parse_time(history[i].created);
        if (!json_is_number(y) || isnan(t)) continue;
        sb_buf_puts(out, "<a href=\"");
        result_link(out, history[i].id, links);
        sb_buf_printf(out, "\"><circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>",
                      sx(t, x0, x1), sy(json_number_value(y), y0, y1));
        html(out, sb_jstr(history[i].result, "model"));
        sb_buf_puts(out, "</title></circle></a>");
    }
    sb_buf_puts(out, "</svg>\n");
}

/* ---- the leaderboard ------------------------------------------------------------------- */

static void paper_links(sb_buf *out, const json_t *r)
{
    const char *arxiv = sb_jstr(r, "arxiv_id"), *pwc = sb_jstr(r, "pwc_id");
    if (arxiv && *arxiv) {
        sb_buf_puts(out, "<a href=\"https://arxiv.org/abs/");
        url(out, arxiv);
        sb_buf_puts(out, "\">arXiv ");
        html(out, arxiv);
        sb_buf_puts(out, "</a> ");
    }
    if (pwc && *pwc) {
        sb_buf_puts(out, "<a href=\"https://paperswithcode.com/paper/");
        url(out, pwc);
        sb_buf_puts(out, "\">PwC</a>");
    }
}

sb_status sb_page_leaderboard(sb_buf *out, const char *dataset, const char *task, sb_entry *entries,
                              int n, const sb_entry *history, int nhistory, const char *sort,
                              const char *order, const sb_links *links)
{
    column cols[MAX_COLS];
    int nc = collect_columns(entries, n, cols);
    const char *headline = headline_name(entries, n);
    /* Default: the headline metric, best first. */
    int sc = nc > 2 && cols[1].group ? 1 : 0;
    for (int c = 0; sort && c < nc; c++)
        if (strcmp(cols[c].name, sort) == 0) sc = c;
    int dir;
    if (order && strcmp(order, "asc") == 0)
        dir = 1;
    else if (order && strcmp(order, "desc") == 0)
        dir = -1;
    else
        dir = cols[sc].group ? (sb_metric_lower_is_better(cols[sc].name) ? 1 : -1) : 1;
    sort_spec spec = {&cols[sc], dir};
    qsort_r(entries, (size_t)n, sizeof *entries, compare_entries, &spec);

    sb_buf_puts(out, "<h1>");
    html(out, dataset);
    sb_buf_puts(out, " <small>");
    html(out, task);
    sb_buf_printf(out, "</small></h1>\n<p>%d model%s, best result of each.", n, n == 1 ? "" : "s");
    if (!links->report) {
        sb_buf_printf(out, " <a href=\"%s/\">All benchmarks</a> · Export: <a href=\"", links->base);
        bench_link(out, dataset, task, links, 0);
        sb_buf_puts(out, "?format=csv\">CSV</a> <a href=\"");
        bench_link(out, dataset, task, links, 0);
        sb_buf_puts(out, "?format=json\">JSON</a>");
    }
    sb_buf_puts(out, "</p>\n<table class=\"leaderboard\"><thead><tr><th>Rank</th>");
    for (int c = 0; c < nc; c++) {
        sb_buf_puts(out, "<th>");
        if (!links->report) {
            bool again = c == sc;
            sb_buf_puts(out, "<a href=\"?sort=");
            url(out, cols[c].name);
            sb_buf_printf(out, "&amp;order=%s\">",
                          again && dir < 0 ? "asc"
                          : again          ? "desc"
                          : cols[c].group  ? "desc"
                                           : "asc");
        }
        html(out, cols[c].name);
        if (c == sc) sb_buf_puts(out, dir < 0 ? " ▼" : " ▲");
        if (!links->report) sb_buf_puts(out, "</a>");
        sb_buf_puts(out, "</th>");
        if (c == 0) sb_buf_puts(out, "<th>Paper</th>");
    }
    sb_buf_puts(out, "</tr></thead><tbody>\n");
    for (int i = 0; i < n; i++) {
        sb_buf_printf(out, "<tr><td class=\"n\">%d</td>", i + 1);
        for (int c = 0; c < nc; c++) {
            if (c == 0) {
                sb_buf_puts(out, "<td class=\"model\"><a href=\"");
                result_link(out, entries[i].id, links);
                sb_buf_puts(out, "\">");
                html(out, sb_jstr(entries[i].result, "model"));
                sb_buf_puts(out, "</a></td><td>");
                paper_links(out, entries[i].result);
                sb_buf_puts(out, "</td>");
            } else if (!cols[c].group) {
                sb_buf_puts(out, "<td>");
                html(out, entries[i].created);
                sb_buf_puts(out, "</td>");
            } else {
                json_t *v = metric(&entries[i], cols[c].group, cols[c].name);
                sb_buf_puts(out, "<td class=\"n\">");
                if (json_is_number(v)) number(out, json_number_value(v));
                sb_buf_puts(out, "</td>");
            }
        }
        sb_buf_puts(out, "</tr>\n");
    }
    sb_buf_puts(out, "</tbody></table>\n");
    if (headline) {
        plot_pareto(out, entries, n, headline, links);
        plot_history(out, history, nhistory, headline, links);
    }
    return SB_OK;
}

static void json_block(sb_buf *out, const json_t *v)
{
    sb_json *t = v ? sb_json_from_jansson(v) : NULL;
    sb_buf text = {0};
    if (t && sb_json_write(t, true, &text) == SB_OK) {
        sb_buf_puts(out, "<pre>");
        html(out, text.data);
        sb_buf_puts(out, "</pre>\n");
    } else {
        sb_buf_puts(out, "<p>none</p>\n");
    }
    sb_buf_free(&text);
    sb_json_free(t);
}

static void metric_table(sb_buf *out, const json_t *m)
{
    sb_buf_puts(out, "<table>");
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)m, name, v)
    {
        sb_buf_puts(out, "<tr><th>");
        html(out, name);
        sb_buf_puts(out, "</th><td class=\"n\">");
        if (json_is_number(v)) number(out, json_number_value(v));
        sb_buf_puts(out, "</td></tr>");
    }
    sb_buf_puts(out, "</table>\n");
}

sb_status sb_page_result(sb_buf *out, const sb_entry *e, const sb_links *links)
{
    const json_t *r = e->result;
    sb_buf_printf(out, "<div class=\"result\" id=\"r-%lld\"><h2>", (long long)e->id);
    html(out, sb_jstr(r, "model"));
    sb_buf_puts(out, " <small>on <a href=\"");
    bench_link(out, sb_jstr(r, "dataset_name"), sb_jstr(r, "task"), links, 0);
    sb_buf_puts(out, "\">");
    html(out, sb_jstr(r, "dataset_name"));
    sb_buf_puts(out, " · ");
    html(out, sb_jstr(r, "task"));
    sb_buf_puts(out, "</a></small></h2>\n<table>");
    const char *fields[][2] = {{"Description", "model_description"},
                               {"Run hash", "run_hash"},
                               {"PyTorch Hub", "pytorch_hub_id"}};
    for (size_t k = 0; k < 3; k++) {
        const char *v = sb_jstr(r, fields[k][1]);
        if (!v) continue;
        sb_buf_printf(out, "<tr><th>%s</th><td>", fields[k][0]);
        html(out, v);
        sb_buf_puts(out, "</td></tr>");
    }
    sb_buf_puts(out, "<tr><th>Paper</th><td>");
    paper_links(out, r);
    sb_buf_puts(out, "</td></tr><tr><th>Submitter</th><td>");
    html(out, e->submitter);
    sb_buf_puts(out, "</td></tr><tr><th>Submitted</th><td>");
    html(out, e->created);
    sb_buf_puts(out, "</td></tr></table>\n<h3>Results</h3>\n");
    metric_table(out, json_object_get(r, "results"));
    if (json_is_object(json_object_get(r, "speed_mem_metrics"))) {
        sb_buf_puts(out, "<h3>Speed and memory</h3>\n");
        metric_table(out, json_object_get(r, "speed_mem_metrics"));
    }
    if (json_is_object(json_object_get(r, "paper_results"))) {
        sb_buf_puts(out, "<h3>Paper results</h3>\n");
        metric_table(out, json_object_get(r, "paper_results"));
    }
    sb_buf_puts(out, "<h3>Config</h3>\n");
    json_block(out, json_object_get(r, "config"));
    sb_buf_puts(out, "<h3>Environment</h3>\n");
    json_block(out, json_object_get(r, "environment"));
    sb_buf_puts(out, "</div>\n");
    return SB_OK;
}

/* ---- exports -------------------------------------------------------------------------- */

static void csv(sb_buf *b, const char *s)
{
    /* RFC 4180 quoting; a leading = + - @ is prefixed with ' so spreadsheets do not run it. */
    sb_buf_puts(b, "\"");
    if (s && s[0] && strchr("=+-@", s[0])) sb_buf_puts(b, "'");
    for (; s && *s; s++) {
        if (*s == '"')
            sb_buf_puts(b, "\"\"");
        else
            sb_buf_append(b, s, 1);
    }
    sb_buf_puts(b, "\"");
}

sb_status sb_leaderboard_csv(sb_buf *out, sb_entry *entries, int n)
{
    column cols[MAX_COLS];
    int nc = collect_columns(entries, n, cols);
    sb_buf_puts(out, "id");
    for (int c = 0; c < nc; c++) {
        sb_buf_puts(out, ",");
        csv(out, cols[c].name);
    }
    sb_buf_puts(out, ",arxiv_id,pwc_id\r\n");
    for (int i = 0; i < n; i++) {
        sb_buf_printf(out, "%lld", (long long)entries[i].id);
        for (int c = 0; c < nc; c++) {
            sb_buf_puts(out, ",");
            if (c == 0) {
                csv(out, sb_jstr(entries[i].result, "model"));
            } else if (!cols[c].group) {
                csv(out, entries[i].created);
            } else {
                json_t *v = metric(&entries[i], cols[c].group, cols[c].name);
                if (json_is_number(v)) {
                    char t[40];
                    sb_json_format_double(json_number_value(v), t, sizeof t);
                    sb_buf_puts(out, t);
                }
            }
        }
        sb_buf_puts(out, ",");
        csv(out, sb_jstr(entries[i].result, "arxiv_id"));
        sb_buf_puts(out, ",");
        csv(out, sb_jstr(entries[i].result, "pwc_id"));
        sb_buf_puts(out, "\r\n");
    }
    return SB_OK;
}

sb_status sb_leaderboard_json(sb_buf *out, sb_entry *entries, int n)
{
    sb_json *list = NULL;
    SB_TRY(sb_json_array(&list));
    for (int i = 0; i < n; i++) {
        sb_json *e = sb_entry_json(&entries[i]);
        if (!e || sb_json_array_push(list, e) != SB_OK) {
            sb_json_free(list);
            return sb_fail(SB_ENOMEM, "out of memory");
        }
    }
    sb_status st = sb_json_write(list, true, out);
    sb_json_free(list);
    return st;
}
