/* The JSON API under /api/v0/ (docs/server-api.md). Every reply body is written by the
 * engine's JSON writer; request bodies are read with jansson. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

enum { MAX_HASHES = 1000, MAX_LIST = 1000 };

/* ---- small builders over sb_json (allocation failures end as a 500) ---------------------- */

static sb_json *obj(void)
{
    sb_json *o = NULL;
    sb_json_object(&o);
    return o;
}

static sb_json *arr(void)
{
    sb_json *a = NULL;
    sb_json_array(&a);
    return a;
}

static sb_json *str(const char *s)
{
    sb_json *v = NULL;
    if (s)
        sb_json_string(s, strlen(s), &v);
    else
        sb_json_null(&v);
    return v;
}

static sb_json *integer(int64_t x)
{
    sb_json *v = NULL;
    sb_json_integer(x, &v);
    return v;
}

static sb_json *boolean(bool b)
{
    sb_json *v = NULL;
    sb_json_bool(b, &v);
    return v;
}

static void set(sb_json *o, const char *key, sb_json *v)
{
    if (o && v)
        sb_json_object_set(o, key, v);
    else
        sb_json_free(v);
}

void sb_reply_json(sb_reply *reply, int status, sb_json *value)
{
    reply->status = status;
    reply->content_type = "application/json";
    reply->body.len = 0;
    if (!value || sb_json_write(value, false, &reply->body) != SB_OK) {
        reply->status = 500;
        reply->body.len = 0;
        sb_buf_puts(&reply->body, "{\"message\": \"out of memory\"}");
    }
    sb_json_free(value);
}

void sb_reply_errors(sb_reply *reply, int status, const char *message)
{
    sb_json *o = obj(), *list = arr();
    if (list) sb_json_array_push(list, str(message));
    set(o, "errors", list);
    set(o, "message", str(message));
    sb_reply_json(reply, status, o);
}

void sb_reply_text(sb_reply *reply, int status, const char *content_type, const char *text)
{
    reply->status = status;
    reply->content_type = content_type;
    reply->body.len = 0;
    sb_buf_puts(&reply->body, text);
}

static void reply_db_error(sb_reply *reply)
{
    /* The details (a path, a constraint) stay in the server's log, not in the reply. */
    fprintf(stderr, "sbengine serve: database error: %s\n", sb_error_message());
    sb_reply_errors(reply, 503, "the database is not available; try again");
}

static sb_json *errors_json(const json_t *errors)
{
    sb_json *list = arr();
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) if (list) sb_json_array_push(list, str(json_string_value(e)));
    return list;
}

static json_t *parse_body(sb_request *req, sb_reply *reply)
{
    char err[256];
    json_t *v = sb_json_parse_request(req->body ? req->body : "", req->body_len, err, sizeof err);
    if (!v) sb_reply_errors(reply, 400, err);
    return v;
}

/* ---- POST results/ ---------------------------------------------------------------------- */

static void api_submit(sb_request *req, sb_reply *reply, int64_t user)
{
    json_t *r = parse_body(req, reply);
    if (!r) return;
    const char *header_key = req->header(req->conn, "Idempotency-Key");
    const char *body_key = sb_jstr(r, "idempotency_key");
    const char *key = header_key && *header_key ? header_key : body_key;
    if (header_key && *header_key && body_key && strcmp(header_key, body_key) != 0) {
        sb_reply_errors(reply, 400,
                        "idempotency_key: the body's key differs from the "
                        "Idempotency-Key header");
    } else if (!key || !*key || strlen(key) > 200) {
        sb_reply_errors(reply, 400,
                        "idempotency_key: required (1 to 200 bytes), in the "
                        "Idempotency-Key header or the result's idempotency_key");
    } else if (!json_is_object(r)) {
        sb_reply_errors(reply, 400, "a result must be a JSON object");
    } else {
        sb_write_job job = {.result = r, .key = key, .user = user, .errors = json_array()};
        sb_writer_submit(req->server->writer, &job);
        if (job.status != SB_OK) {
            fprintf(stderr, "sbengine serve: database error: %s\n", job.message);
            sb_reply_errors(reply, 503, "the database is not available; try again");
        } else if (json_array_size(job.errors) > 0) {
            sb_json *o = obj();
            set(o, "errors", errors_json(job.errors));
            sb_reply_json(reply, 400, o);
        } else {
            /* Where the result's page is: under --public-url when the server is reached
             * through a proxy, else relative to the server's own address. */
            const char *base = req->server->public_url ? req->server->public_url : "";
            size_t bl = strlen(base);
            while (bl > 0 && base[bl - 1] == '/')
                bl--;
            char url[2048];
            snprintf(url, sizeof url, "%.*s/r/%lld", (int)(bl < 1900 ? bl : 1900), base,
                     (long long)job.id);
            sb_json *o = obj();
            set(o, "id", integer(job.id));
            set(o, "created", boolean(job.created));
            set(o, "url", str(url));
            sb_reply_json(reply, job.created ? 201 : 200, o);
        }
        json_decref(job.errors);
    }
    json_decref(r);
}

/* ---- POST check/results/ ------------------------------------------------------------------- */

static void api_check(sb_request *req, sb_reply *reply)
{
    json_t *body = parse_body(req, reply);
    if (!body) return;
    json_t *list = json_object_get(body, "results"), *single = NULL;
    if (!json_is_array(list)) { /* sbengine's own early shape: the bare result */
        single = json_array();
        json_array_append(single, body);
        list = single;
    }
    sb_json *errs = arr();
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        json_t *errors = json_array();
        char *bench_keys = NULL;
        if (json_is_object(r)) {
            const char *bp[] = {sb_jstr(r, "dataset_name") ? sb_jstr(r, "dataset_name") : "",
                                sb_jstr(r, "task") ? sb_jstr(r, "task") : ""};
            sb_rows rows;
            if (sb_db_run(req->db, SQL_BENCH_KEYS, 2, bp, &rows) != SB_OK) {
                json_decref(errors);
                sb_json_free(errs);
                json_decref(single);
                json_decref(body);
                return reply_db_error(reply);
            }
            if (rows.nrows == 1 && sb_cell(&rows, 0, 0)) bench_keys = strdup(sb_cell(&rows, 0, 0));
            sb_rows_free(&rows);
        }
        sb_validate_result(r, bench_keys, errors);
        free(bench_keys);
        size_t k;
        json_t *e;
        json_array_foreach(errors, k, e)
        {
            char msg[1200];
            if (json_array_size(list) > 1)
                snprintf(msg, sizeof msg, "result %zu: %s", i + 1, json_string_value(e));
            else
                snprintf(msg, sizeof msg, "%s", json_string_value(e));
            sb_json *item = obj();
            set(item, "error", str(msg));
            if (errs && item) sb_json_array_push(errs, item);
        }
        json_decref(errors);
    }
    if (json_array_size(list) == 0) {
        sb_json *item = obj();
        set(item, "error", str("results: the list is empty"));
        if (errs && item) sb_json_array_push(errs, item);
    }
    /* sotabench's reply shape: {"response": {"errors": [{"error": ...}]}} */
    sb_json *response = obj(), *o = obj();
    set(response, "errors", errs);
    set(o, "response", response);
    sb_reply_json(reply, 200, o);
    json_decref(single);
    json_decref(body);
}

/* ---- the cache and run hashes ------------------------------------------------------------- */

static bool is_hex(const char *s)
{
    if (!s || !*s || strlen(s) > 128) return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdefABCDEF", *s)) return false;
    return true;
}

static void api_results_by_hash(sb_request *req, sb_reply *reply)
{
    const char *hash = req->query(req->conn, "run_hash");
    if (!is_hex(hash)) return sb_reply_errors(reply, 400, "run_hash: expected hexadecimal digits");
    sb_rows rows;
    const char *p[] = {hash};
    if (sb_db_run(req->db, SQL_RESULT_BY_HASH, 1, p, &rows) != SB_OK) return reply_db_error(reply);
    sb_json *out = NULL;
    if (rows.nrows == 1) {
        json_t *r = json_loads(sb_cell(&rows, 0, 0), 0, NULL);
        /* sotabench's shape: the bare {metric: value} dict */
        out = r ? sb_json_from_jansson(json_object_get(r, "results")) : NULL;
        json_decref(r);
    }
    sb_rows_free(&rows);
    sb_reply_json(reply, 200, out ? out : obj());
}

static void api_run_hashes(sb_request *req, sb_reply *reply)
{
    json_t *body = parse_body(req, reply);
    if (!body) return;
    json_t *hashes = json_object_get(body, "hashes");
    if (!json_is_array(hashes) || json_array_size(hashes) > MAX_HASHES) {
        json_decref(body);
        return sb_reply_errors(reply, 400, "hashes: expected a list of at most 1000 run hashes");
    }
    sb_json *o = obj();
    size_t i;
    json_t *h;
    json_array_foreach(hashes, i, h)
    {
        const char *s = json_string_value(h);
        if (!is_hex(s)) {
            sb_json_free(o);
            json_decref(body);
            return sb_reply_errors(reply, 400, "hashes: every run hash must be hexadecimal digits");
        }
        sb_rows rows;
        const char *p[] = {s};
        if (sb_db_run(req->db, SQL_HASH_EXISTS, 1, p, &rows) != SB_OK) {
            sb_json_free(o);
            json_decref(body);
            return reply_db_error(reply);
        }
        set(o, s, boolean(rows.nrows > 0));
        sb_rows_free(&rows);
    }
    sb_reply_json(reply, 200, o);
    json_decref(body);
}

/* ---- POST auth/token/ --------------------------------------------------------------------- */

static void api_token(sb_request *req, sb_reply *reply)
{
    json_t *body = parse_body(req, reply);
    if (!body) return;
    const char *name = sb_jstr(body, "username"), *password = sb_jstr(body, "password");
    if (!name || !password) {
        json_decref(body);
        return sb_reply_errors(reply, 400, "username and password are required");
    }
    char token[65];
    sb_status st = sb_auth_login(req->db, name, password, token);
    json_decref(body);
    if (st == SB_EINVAL) return sb_reply_errors(reply, 401, "unknown user name or wrong password");
    if (st != SB_OK) return reply_db_error(reply);
    sb_json *o = obj();
    set(o, "token", str(token));
    sb_reply_json(reply, 200, o);
}

/* ---- reads ------------------------------------------------------------------------------ */

sb_json *sb_entry_json(const sb_entry *e)
{
    sb_json *o = obj();
    set(o, "id", integer(e->id));
    set(o, "created", str(e->created));
    set(o, "submitter", str(e->submitter));
    set(o, "result", sb_json_from_jansson(e->result));
    return o;
}

static void api_list(sb_request *req, sb_reply *reply)
{
    const char *dataset = req->query(req->conn, "dataset"), *task = req->query(req->conn, "task");
    const char *model = req->query(req->conn, "model"), *limit = req->query(req->conn, "limit");
    long n = limit ? strtol(limit, NULL, 10) : 100;
    if (n < 1 || n > MAX_LIST) n = n < 1 ? 1 : MAX_LIST;
    char n_s[16];
    snprintf(n_s, sizeof n_s, "%ld", n);
    const char *p[] = {dataset ? dataset : "", task ? task : "", model ? model : "", n_s};
    sb_rows rows;
    if (sb_db_run(req->db, SQL_RESULTS_FILTER, 4, p, &rows) != SB_OK) return reply_db_error(reply);
    sb_json *list = arr();
    for (int i = 0; i < rows.nrows; i++) {
        json_t *r = json_loads(sb_cell(&rows, i, 3), 0, NULL);
        sb_entry e = {strtoll(sb_cell(&rows, i, 0), NULL, 10), sb_cell(&rows, i, 1),
                      sb_cell(&rows, i, 2), r};
        if (list && r) sb_json_array_push(list, sb_entry_json(&e));
        json_decref(r);
    }
    sb_rows_free(&rows);
    sb_reply_json(reply, 200, list);
}

static void api_benchmarks(sb_request *req, sb_reply *reply)
{
    sb_rows rows;
    if (sb_db_run(req->db, SQL_BENCHMARKS, 0, NULL, &rows) != SB_OK) return reply_db_error(reply);
    sb_json *list = arr();
    for (int i = 0; i < rows.nrows; i++) {
        sb_json *o = obj();
        set(o, "dataset", str(sb_cell(&rows, i, 0)));
        set(o, "task", str(sb_cell(&rows, i, 1)));
        set(o, "results", integer(strtoll(sb_cell(&rows, i, 2), NULL, 10)));
        json_t *r = json_loads(sb_cell(&rows, i, 4), 0, NULL);
        void *it = json_object_iter(json_object_get(r, "results"));
        sb_json *best = obj();
        set(best, "id", integer(strtoll(sb_cell(&rows, i, 3), NULL, 10)));
        set(best, "model", str(sb_jstr(r, "model")));
        if (it) {
            set(best, "metric", str(json_object_iter_key(it)));
            set(best, "value", sb_json_from_jansson(json_object_iter_value(it)));
        }
        set(o, "best", best);
        json_decref(r);
        if (list && o) sb_json_array_push(list, o);
    }
    sb_rows_free(&rows);
    sb_reply_json(reply, 200, list);
}

/* ---- routing -------------------------------------------------------------------------- */

static bool is(const char *path, const char *route)
{
    size_t n = strlen(route); /* route ends in '/'; the slash may be left out */
    return strcmp(path, route) == 0 || (strncmp(path, route, n - 1) == 0 && path[n - 1] == '\0');
}

void sb_api_route(sb_request *req, const char *path, sb_reply *reply)
{
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    enum { PUBLIC_GET, NEEDS_TOKEN, LOGIN } kind;
    void (*read)(sb_request *, sb_reply *) = NULL;
    if (is(path, "results/") && get)
        kind = PUBLIC_GET, read = api_list;
    else if (is(path, "benchmarks/") && get)
        kind = PUBLIC_GET, read = api_benchmarks;
    else if (is(path, "check/get_results_by_hash/") && get)
        kind = PUBLIC_GET, read = api_results_by_hash;
    else if (is(path, "results/") && post)
        kind = NEEDS_TOKEN;
    else if (is(path, "check/results/") && post)
        kind = NEEDS_TOKEN;
    else if (is(path, "check/run-hashes/") && post)
        kind = NEEDS_TOKEN;
    else if (is(path, "auth/token/") && post)
        kind = LOGIN;
    else {
        bool known = is(path, "results/") || is(path, "benchmarks/") || is(path, "auth/token/") ||
                     is(path, "check/results/") || is(path, "check/run-hashes/") ||
                     is(path, "check/get_results_by_hash/");
        return sb_reply_errors(reply, known ? 405 : 404,
                               known ? "method not allowed" : "no such endpoint");
    }
    const char *auth = req->header(req->conn, "Authorization");
    long wait = sb_ratelimit_take(req->server->ratelimit, auth);
    if (wait > 0) {
        reply->retry_after = wait;
        return sb_reply_errors(reply, 429, "too many requests for this token; retry later");
    }
    if (kind == PUBLIC_GET) return read(req, reply);
    if (kind == LOGIN) return api_token(req, reply);
    int64_t user = 0;
    if (sb_auth_user(req->db, auth, &user) != SB_OK) return reply_db_error(reply);
    if (user == 0)
        return sb_reply_errors(reply, 401,
                               auth ? "the token is not valid"
                                    : "a token is needed "
                                      "(Authorization: JWT <token>)");
    if (is(path, "results/")) return api_submit(req, reply, user);
    if (is(path, "check/results/")) return api_check(req, reply);
    return api_run_hashes(req, reply);
}
