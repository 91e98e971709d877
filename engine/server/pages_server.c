/* The server's pages: reads the database, renders with pages.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static void not_found(sb_reply *reply, const char *what)
{
    reply->body.len = 0;
    sb_page_head(&reply->body, "Not found");
    sb_buf_puts(&reply->body, "<h1>Not found</h1><p>");
    sb_buf_puts(&reply->body, what); /* a fixed text, never the request's */
    sb_buf_puts(&reply->body, "</p><p><a href=\"/\">All benchmarks</a></p>");
    sb_page_tail(&reply->body);
    reply->status = 404;
    reply->content_type = "text/html; charset=utf-8";
}

static void db_error(sb_reply *reply)
{
    fprintf(stderr, "sbengine serve: database error: %s\n", sb_error_message());
    sb_reply_text(reply, 503, "text/plain; charset=utf-8", "the database is not available\n");
}

/* Parses the rows (id, created, submitter, body) into entries; bodies are owned by `keep`. */
static sb_entry *entries_of(const sb_rows *rows, int id_col, json_t *keep)
{
    sb_entry *e = calloc((size_t)rows->nrows + 1, sizeof *e);
    if (!e) return NULL;
    for (int i = 0; i < rows->nrows; i++) {
        json_t *r = json_loads(sb_cell(rows, i, rows->ncols - 1), 0, NULL);
        if (!r) r = json_object();
        json_array_append_new(keep, r);
        e[i] = (sb_entry){strtoll(sb_cell(rows, i, id_col), NULL, 10),
                          sb_cell(rows, i, 0 == id_col ? 1 : 0),
                          id_col == 0 ? sb_cell(rows, i, 2) : NULL, r};
    }
    return e;
}

static void page_index(sb_request *req, sb_reply *reply, const sb_links *links)
{
    sb_rows rows;
    if (sb_db_run(req->db, SQL_BENCHMARKS, 0, NULL, &rows) != SB_OK) return db_error(reply);
    json_t *keep = json_array();
    sb_bench *b = calloc((size_t)rows.nrows + 1, sizeof *b);
    for (int i = 0; b && i < rows.nrows; i++) {
        json_t *r = json_loads(sb_cell(&rows, i, 4), 0, NULL);
        if (!r) r = json_object();
        json_array_append_new(keep, r);
        b[i] = (sb_bench){sb_cell(&rows, i, 0),
                          sb_cell(&rows, i, 1),
                          strtoll(sb_cell(&rows, i, 2), NULL, 10),
                          {strtoll(sb_cell(&rows, i, 3), NULL, 10), NULL, NULL, r}};
    }
    sb_page_head(&reply->body, "Benchmarks");
    if (b) sb_page_index(&reply->body, b, rows.nrows, links);
    sb_page_tail(&reply->body);
    reply->status = 200;
    reply->content_type = "text/html; charset=utf-8";
    free(b);
    json_decref(keep);
    sb_rows_free(&rows);
}

static void page_leaderboard(sb_request *req, sb_reply *reply, const char *rest,
                             const sb_links *links)
{
    const char *slash = strchr(rest, '/');
    if (!slash || !slash[1]) return not_found(reply, "A leaderboard is /b/DATASET/TASK.");
    char *dataset = strndup(rest, (size_t)(slash - rest));
    const char *task = slash + 1;
    sb_rows rows, hist = {0};
    const char *p[] = {dataset, task};
    if (!dataset || sb_db_run(req->db, SQL_LEADERBOARD, 2, p, &rows) != SB_OK) {
        free(dataset);
        return db_error(reply);
    }
    if (rows.nrows == 0) {
        free(dataset);
        sb_rows_free(&rows);
        return not_found(reply, "There are no results for this dataset and task.");
    }
    if (sb_db_run(req->db, SQL_RECORDS, 2, p, &hist) != SB_OK) {
        free(dataset);
        sb_rows_free(&rows);
        return db_error(reply);
    }
    json_t *keep = json_array();
    sb_entry *entries = entries_of(&rows, 0, keep);
    /* records: created, result_id, body */
    sb_entry *history = calloc((size_t)hist.nrows + 1, sizeof *history);
    for (int i = 0; history && i < hist.nrows; i++) {
        json_t *r = json_loads(sb_cell(&hist, i, 2), 0, NULL);
        if (!r) r = json_object();
        json_array_append_new(keep, r);
        history[i] =
            (sb_entry){strtoll(sb_cell(&hist, i, 1), NULL, 10), sb_cell(&hist, i, 0), NULL, r};
    }
    const char *format = req->query(req->conn, "format");
    reply->status = 200;
    if (!entries || !history) {
        sb_reply_text(reply, 500, "text/plain", "out of memory\n");
    } else if (format && strcmp(format, "csv") == 0) {
        reply->content_type = "text/csv; charset=utf-8";
        sb_leaderboard_csv(&reply->body, entries, rows.nrows);
    } else if (format && strcmp(format, "json") == 0) {
        reply->content_type = "application/json";
        sb_leaderboard_json(&reply->body, entries, rows.nrows);
    } else {
        char title[600];
        snprintf(title, sizeof title, "%s · %s", dataset, task);
        reply->content_type = "text/html; charset=utf-8";
        sb_page_head(&reply->body, title);
        sb_page_leaderboard(&reply->body, dataset, task, entries, rows.nrows, history, hist.nrows,
                            req->query(req->conn, "sort"), req->query(req->conn, "order"), links);
        sb_page_tail(&reply->body);
    }
    free(entries);
    free(history);
    json_decref(keep);
    sb_rows_free(&rows);
    sb_rows_free(&hist);
    free(dataset);
}

static void page_result(sb_request *req, sb_reply *reply, const char *id, const sb_links *links)
{
    char *end = NULL;
    long long n = strtoll(id, &end, 10);
    if (end == id || *end || n <= 0) return not_found(reply, "A result is /r/NUMBER.");
    sb_rows rows;
    const char *p[] = {id};
    if (sb_db_run(req->db, SQL_RESULT_BY_ID, 1, p, &rows) != SB_OK) return db_error(reply);
    if (rows.nrows == 0) {
        sb_rows_free(&rows);
        return not_found(reply, "There is no result with this number.");
    }
    json_t *r = json_loads(sb_cell(&rows, 0, 3), 0, NULL);
    if (!r) r = json_object();
    sb_entry e = {n, sb_cell(&rows, 0, 1), sb_cell(&rows, 0, 2), r};
    char title[600];
    snprintf(title, sizeof title, "%s on %s", sb_jstr(r, "model") ? sb_jstr(r, "model") : "",
             sb_jstr(r, "dataset_name") ? sb_jstr(r, "dataset_name") : "");
    sb_page_head(&reply->body, title);
    sb_page_result(&reply->body, &e, links);
    sb_page_tail(&reply->body);
    reply->status = 200;
    reply->content_type = "text/html; charset=utf-8";
    json_decref(r);
    sb_rows_free(&rows);
}

void sb_pages_route(sb_request *req, sb_reply *reply)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return sb_reply_text(reply, 405, "text/plain; charset=utf-8", "method not allowed\n");
    sb_links links = {false, ""};
    const char *path = req->path;
    if (strcmp(path, "/") == 0) return page_index(req, reply, &links);
    if (strncmp(path, "/b/", 3) == 0) return page_leaderboard(req, reply, path + 3, &links);
    if (strncmp(path, "/r/", 3) == 0) return page_result(req, reply, path + 3, &links);
    not_found(reply, "There is no page here.");
}
