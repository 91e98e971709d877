/* The server's pages: reads the database, renders with pages.c. */
#include <pthread.h>
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

/* A benchmark's leaderboard as read from the database: the best result of each model and
 * the results that set a new best. Kept in a small per-process cache and reused while the
 * benchmark's result count is unchanged (every stored result raises it in the transaction
 * that updates the leaderboard, so an unchanged count means an unchanged leaderboard, also
 * when other servers write to the same PostgreSQL database). */
typedef struct board {
    char *dataset, *task, *count;
    sb_rows rows, hist;
    json_t *keep; /* owns the parsed results */
    sb_entry *entries, *history;
    int refs; /* the cache's own reference + readers' */
    unsigned long used;
} board;

enum { CACHE_SLOTS = 32 };
static struct {
    pthread_mutex_t lock;
    board *slot[CACHE_SLOTS];
    unsigned long clock;
} cache = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

static void board_free(board *b)
{
    if (!b) return;
    free(b->dataset), free(b->task), free(b->count);
    sb_rows_free(&b->rows);
    sb_rows_free(&b->hist);
    json_decref(b->keep);
    free(b->entries), free(b->history);
    free(b);
}

static void board_release(board *b)
{
    pthread_mutex_lock(&cache.lock);
    bool last = --b->refs == 0;
    pthread_mutex_unlock(&cache.lock);
    if (last) board_free(b);
}

/* Reads a leaderboard from the database (no cache). */
static sb_status board_load(sb_db *db, const char *dataset, const char *task, const char *count,
                            board **out)
{
    board *b = calloc(1, sizeof *b);
    if (!b) return sb_fail(SB_ENOMEM, "out of memory");
    b->dataset = strdup(dataset), b->task = strdup(task), b->count = strdup(count);
    b->keep = json_array();
    const char *p[] = {dataset, task};
    sb_status st = sb_db_run(db, SQL_LEADERBOARD, 2, p, &b->rows);
    if (st == SB_OK) st = sb_db_run(db, SQL_RECORDS, 2, p, &b->hist);
    if (st == SB_OK) {
        b->entries = entries_of(&b->rows, 0, b->keep);
        /* records: created, result_id, body */
        b->history = calloc((size_t)b->hist.nrows + 1, sizeof *b->history);
        for (int i = 0; b->history && i < b->hist.nrows; i++) {
            json_t *r = json_loads(sb_cell(&b->hist, i, 2), 0, NULL);
            if (!r) r = json_object();
            json_array_append_new(b->keep, r);
            b->history[i] = (sb_entry){strtoll(sb_cell(&b->hist, i, 1), NULL, 10),
                                       sb_cell(&b->hist, i, 0), NULL, r};
        }
        if (!b->entries || !b->history || !b->dataset || !b->task || !b->count)
            st = sb_fail(SB_ENOMEM, "out of memory");
    }
    if (st != SB_OK) {
        board_free(b);
        return st;
    }
    b->refs = 1;
    *out = b;
    return SB_OK;
}

/* The leaderboard of (dataset, task), from the cache when its count still matches; NULL with
 * SB_OK when the benchmark has no results. Release with board_release. */
static sb_status board_get(sb_db *db, const char *dataset, const char *task, board **out)
{
    *out = NULL;
    sb_rows count;
    const char *p[] = {dataset, task};
    SB_TRY(sb_db_run(db, SQL_BENCH_COUNT, 2, p, &count));
    if (count.nrows == 0) {
        sb_rows_free(&count);
        return SB_OK;
    }
    const char *n = sb_cell(&count, 0, 0);
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        board *b = cache.slot[i];
        if (b && strcmp(b->dataset, dataset) == 0 && strcmp(b->task, task) == 0 &&
            strcmp(b->count, n) == 0) {
            b->refs++;
            b->used = ++cache.clock;
            *out = b;
            break;
        }
    }
    pthread_mutex_unlock(&cache.lock);
    if (*out) {
        sb_rows_free(&count);
        return SB_OK;
    }
    board *b = NULL;
    sb_status st = board_load(db, dataset, task, n, &b);
    sb_rows_free(&count);
    SB_TRY(st);
    /* Into the cache: replaces this benchmark's stale copy, else the least recently used. */
    board *evicted = NULL;
    pthread_mutex_lock(&cache.lock);
    int victim = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        board *c = cache.slot[i];
        if (!c || (strcmp(c->dataset, dataset) == 0 && strcmp(c->task, task) == 0)) {
            victim = i;
            break;
        }
        if (c->used < cache.slot[victim]->used) victim = i;
    }
    evicted = cache.slot[victim];
    if (evicted && --evicted->refs > 0) evicted = NULL; /* a reader still has it */
    cache.slot[victim] = b;
    b->refs++; /* the cache's reference and the caller's */
    b->used = ++cache.clock;
    pthread_mutex_unlock(&cache.lock);
    board_free(evicted);
    *out = b;
    return SB_OK;
}

static void page_leaderboard(sb_request *req, sb_reply *reply, const char *rest,
                             const sb_links *links)
{
    const char *slash = strchr(rest, '/');
    if (!slash || !slash[1]) return not_found(reply, "A leaderboard is /b/DATASET/TASK.");
    char *dataset = strndup(rest, (size_t)(slash - rest));
    const char *task = slash + 1;
    board *b = NULL;
    if (!dataset || board_get(req->db, dataset, task, &b) != SB_OK) {
        free(dataset);
        return db_error(reply);
    }
    if (!b) {
        free(dataset);
        return not_found(reply, "There are no results for this dataset and task.");
    }
    /* Sorting is per request: on a copy of the entries. */
    int n = b->rows.nrows;
    sb_entry *entries = malloc(((size_t)n + 1) * sizeof *entries);
    const char *format = req->query(req->conn, "format");
    reply->status = 200;
    if (!entries) {
        sb_reply_text(reply, 500, "text/plain", "out of memory\n");
    } else if (format && strcmp(format, "csv") == 0) {
        memcpy(entries, b->entries, (size_t)n * sizeof *entries);
        reply->content_type = "text/csv; charset=utf-8";
        sb_leaderboard_csv(&reply->body, entries, n);
    } else if (format && strcmp(format, "json") == 0) {
        memcpy(entries, b->entries, (size_t)n * sizeof *entries);
        reply->content_type = "application/json";
        sb_leaderboard_json(&reply->body, entries, n);
    } else {
        memcpy(entries, b->entries, (size_t)n * sizeof *entries);
        char title[600];
        snprintf(title, sizeof title, "%s · %s", dataset, task);
        reply->content_type = "text/html; charset=utf-8";
        sb_page_head(&reply->body, title);
        sb_page_leaderboard(&reply->body, dataset, task, entries, n, b->history, b->hist.nrows,
                            req->query(req->conn, "sort"), req->query(req->conn, "order"), links);
        sb_page_tail(&reply->body);
    }
    free(entries);
    board_release(b);
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
