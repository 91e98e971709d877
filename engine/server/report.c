/* `sbengine report STORE.json -o report.html`: the leaderboards of a local store file as one
 * self-contained HTML file (no server, no JavaScript), rendered by pages.c like the server's
 * pages. A result's time is its environment.created_at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "server/server.h"

static const char report_usage[] = "usage: sbengine report STORE.json -o REPORT.html\n";

typedef struct group {
    const char *dataset, *task;
    char *keys;
    sb_entry *best; /* one per model */
    int nbest;
    sb_entry *history; /* new bests, in file order */
    int nhistory;
    int64_t n;
} group;

static const char *created_of(const json_t *r)
{
    return sb_jstr(json_object_get(r, "environment"), "created_at");
}

int sb_report_command(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(report_usage, stdout);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] != '-' && !in) {
            in = argv[i];
        } else {
            fprintf(stderr, "sbengine report: unexpected argument '%s'\n%s", argv[i], report_usage);
            return 2;
        }
    }
    if (!in || !out) {
        fputs(report_usage, stderr);
        return 2;
    }
    json_error_t e;
    json_t *store = json_load_file(in, JSON_REJECT_DUPLICATES, &e);
    if (!store) {
        fprintf(stderr, "sbengine report: cannot read the store file '%s': %s (line %d)\n", in,
                e.text, e.line);
        return 2;
    }
    if (!json_is_array(store)) {
        fprintf(stderr, "sbengine report: '%s' is not a store file (a JSON array of results)\n",
                in);
        json_decref(store);
        return 2;
    }
    size_t n = json_array_size(store);
    group *groups = calloc(n + 1, sizeof *groups);
    int ng = 0;
    sb_entry *all = calloc(n + 1, sizeof *all);
    double *best_score = calloc(n + 1, sizeof *best_score);
    if (!groups || !all || !best_score) {
        fprintf(stderr, "sbengine report: out of memory\n");
        return 1;
    }
    int skipped = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(store, i);
        json_t *errors = json_array();
        int bad = sb_validate_result(r, NULL, errors);
        json_decref(errors);
        if (bad) {
            skipped++;
            continue;
        }
        all[i] = (sb_entry){(int64_t)i + 1, created_of(r), NULL, r};
        const char *dataset = sb_jstr(r, "dataset_name"), *task = sb_jstr(r, "task");
        group *g = NULL;
        for (int k = 0; k < ng && !g; k++)
            if (strcmp(groups[k].dataset, dataset) == 0 && strcmp(groups[k].task, task) == 0)
                g = &groups[k];
        if (!g) {
            g = &groups[ng++];
            g->dataset = dataset, g->task = task;
            g->keys = sb_metric_keys(json_object_get(r, "results"));
            g->best = calloc(n, sizeof *g->best);
            g->history = calloc(n, sizeof *g->history);
            best_score[g - groups] = -1e308;
        }
        g->n++;
        double s = sb_headline_score(r, g->keys);
        int m = 0;
        for (; m < g->nbest; m++)
            if (strcmp(sb_jstr(g->best[m].result, "model"), sb_jstr(r, "model")) == 0) break;
        if (m == g->nbest)
            g->best[g->nbest++] = all[i];
        else if (s > sb_headline_score(g->best[m].result, g->keys))
            g->best[m] = all[i];
        if (g->nhistory == 0 || s > best_score[g - groups]) {
            g->history[g->nhistory++] = all[i];
            best_score[g - groups] = s;
        }
    }
    sb_links links = {true, ""};
    sb_buf html = {0};
    sb_page_head(&html, "sbengine report");
    sb_bench *benches = calloc((size_t)ng + 1, sizeof *benches);
    for (int k = 0; k < ng && benches; k++) {
        benches[k] = (sb_bench){groups[k].dataset, groups[k].task, groups[k].n,
                                groups[k].history[groups[k].nhistory - 1]};
    }
    if (benches) sb_page_index(&html, benches, ng, &links);
    for (int k = 0; k < ng; k++) {
        sb_buf_printf(&html, "<section id=\"b-%d\">\n", k + 1);
        sb_page_leaderboard(&html, groups[k].dataset, groups[k].task, groups[k].best,
                            groups[k].nbest, groups[k].history, groups[k].nhistory, NULL, NULL,
                            &links);
        sb_buf_puts(&html, "</section>\n");
    }
    sb_buf_puts(&html, "<h1>Results</h1>\n");
    for (size_t i = 0; i < n; i++)
        if (all[i].result) sb_page_result(&html, &all[i], &links);
    sb_page_tail(&html);
    int code = 0;
    if (sb_write_file_atomic(out, html.data, html.len) != SB_OK) {
        fprintf(stderr, "sbengine report: %s\n", sb_error_message());
        code = 1;
    } else {
        fprintf(stderr, "sbengine report: %zu result%s in %d benchmark%s written to %s\n",
                n - (size_t)skipped, n - (size_t)skipped == 1 ? "" : "s", ng, ng == 1 ? "" : "s",
                out);
        if (skipped)
            fprintf(stderr, "sbengine report: %d result%s of %s left out (not valid results)\n",
                    skipped, skipped == 1 ? "" : "s", in);
    }
    for (int k = 0; k < ng; k++) {
        free(groups[k].keys);
        free(groups[k].best);
        free(groups[k].history);
    }
    free(benches);
    free(groups);
    free(all);
    free(best_score);
    sb_buf_free(&html);
    json_decref(store);
    return code;
}
