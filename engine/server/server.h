/* The results server (`sbengine serve`) and the report writer (`sbengine report`): a plugin,
 * sbengine_server.so, that engine/server_cli.c loads only for those two commands, so that
 * libmicrohttpd, SQLite, libpq, libsodium and jansson never load for a benchmark run.
 *
 *   plugin.c    the commands: options, start/stop, --add-user, report
 *   http.c      libmicrohttpd: threads, limits, time-outs, routing, replies
 *   api.c       the JSON API under /api/v0/ (docs/server-api.md)
 *   validate.c  the rules a result must pass (check/results/ and results/)
 *   auth.c      users, tokens (stored hashed), passwords (argon2id), the rate limit
 *   pages.c     HTML pages, SVG plots, CSV/JSON export: one implementation for both commands
 *   db.c        SQLite / PostgreSQL
 *
 * JSON: requests are parsed with jansson (strict RFC 8259: UTF-8 checked, depth limited);
 * everything written goes through the engine's JSON writer (engine/result/json.c). */
#ifndef SB_SERVER_SERVER_H
#define SB_SERVER_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "server/db.h"

/* The entry point the loader looks up (engine/server_cli.c): argv[0] is the command,
 * "serve" or "report". Returns the process exit code. */
#define SB_SERVER_ENTRY "sb_server_command"
typedef int (*sb_server_command_fn)(int argc, char **argv);

/* ---- the running server ------------------------------------------------------------------ */

typedef struct sb_ratelimit sb_ratelimit;
typedef struct sb_writer sb_writer;

typedef struct sb_server {
    const char *db_where;    /* path or postgresql:// URL */
    const char *public_url;  /* for links in replies; NULL = relative links */
    size_t max_body;         /* bytes */
    sb_ratelimit *ratelimit; /* NULL = no limit */
    sb_writer *writer;       /* the one thread that writes results */
} sb_server;

/* ---- writer.c: submissions, group-committed ------------------------------------------------ */

/* One submission. The writer validates it against the benchmark's earlier results and stores
 * it; `errors` (a JSON array) receives validation messages, `status`/`message` a database
 * failure (nothing of this job is then stored). */
typedef struct sb_write_job {
    const json_t *result;
    const char *key;
    int64_t user;
    json_t *errors;
    int64_t id;
    bool created;
    sb_status status;
    char message[256];
    bool done;
    struct sb_write_job *next;
} sb_write_job;

sb_status sb_writer_start(const char *db_where, sb_writer **out);
/* Blocks until the job is stored durably (or refused); thread-safe. */
void sb_writer_submit(sb_writer *w, sb_write_job *job);
void sb_writer_stop(sb_writer *w); /* finishes the queued jobs first */
/* The time now as stored with results and tokens: "2026-11-29T12:00:00Z" (UTC). */
void sb_now_iso(char out[32]);

/* One request as the routes see it. */
typedef struct sb_request {
    sb_server *server;
    sb_db *db; /* this thread's connection */
    const char *method, *path;
    const char *body;
    size_t body_len;
    const char *(*header)(void *conn, const char *name);
    const char *(*query)(void *conn, const char *name);
    void *conn;
} sb_request;

typedef struct sb_reply {
    int status;
    const char *content_type;
    sb_buf body;
    long retry_after; /* > 0: a Retry-After header */
} sb_reply;

/* api.c: a route under /api/v0/ (path without that prefix). */
void sb_api_route(sb_request *req, const char *path, sb_reply *reply);
/* pages.c: the HTML pages of the server. */
void sb_pages_route(sb_request *req, sb_reply *reply);

/* Replies. */
void sb_reply_json(sb_reply *reply, int status, sb_json *value); /* takes ownership */
void sb_reply_errors(sb_reply *reply, int status, const char *message);
void sb_reply_text(sb_reply *reply, int status, const char *content_type, const char *text);

/* ---- JSON ------------------------------------------------------------------------------ */

/* jansson's tree as the engine's (for writing); NULL when out of memory. */
sb_json *sb_json_from_jansson(const json_t *value);
/* Parses a request body: strict, no duplicate keys, depth <= 64. On failure writes a message
 * to `err` and returns NULL. */
json_t *sb_json_parse_request(const char *text, size_t len, char *err, size_t err_size);
/* A string member, or NULL when absent or not a string. */
const char *sb_jstr(const json_t *obj, const char *key);

/* ---- validate.c ------------------------------------------------------------------------- */

/* The rules of docs/server-api.md. `bench_keys`: the benchmark's metric names from earlier
 * results ("\n"-separated, NULL for a new benchmark). Appends one message per problem to
 * `errors` (a JSON array of strings); returns the number appended. */
int sb_validate_result(const json_t *result, const char *bench_keys, json_t *errors);
/* The metric names of `results` in order, "\n"-separated (malloc'ed). */
char *sb_metric_keys(const json_t *results);
/* The headline metric of a benchmark: its first metric. Lower is better for names that say
 * error, loss, perplexity, MSE or MAE; the score is the value with that sign (higher wins). */
bool sb_metric_lower_is_better(const char *name);
double sb_headline_score(const json_t *result, const char *bench_keys);

/* ---- auth.c ------------------------------------------------------------------------------ */

/* Adds a user (password may be NULL: token only) and writes a new token to token[65]. */
sb_status sb_auth_add_user(sb_db *db, const char *name, const char *password, char token[65]);
/* A new token for user `name` when `password` matches; SB_EINVAL when it does not. */
sb_status sb_auth_login(sb_db *db, const char *name, const char *password, char token[65]);
/* The user id of an "Authorization: JWT|Token|Bearer <token>" header, or 0 when the header
 * is absent or the token unknown. */
sb_status sb_auth_user(sb_db *db, const char *authorization, int64_t *user);
/* The rate limit: `per_minute` requests per token, in a burst of as many. */
sb_ratelimit *sb_ratelimit_new(double per_minute);
void sb_ratelimit_free(sb_ratelimit *rl);
/* 0 when the request may go ahead, else the seconds to wait. */
long sb_ratelimit_take(sb_ratelimit *rl, const char *authorization);

/* ---- pages.c (also used by `sbengine report`) --------------------------------------------- */

/* One result on a page. */
typedef struct sb_entry {
    int64_t id;
    const char *created;   /* ISO 8601 UTC, may be NULL */
    const char *submitter; /* may be NULL */
    json_t *result;        /* the result object (borrowed) */
} sb_entry;

typedef struct sb_bench {
    const char *dataset, *task;
    int64_t n_results;
    sb_entry best;
} sb_bench;

/* How links are made: the server links to its own pages; a report file to anchors. */
typedef struct sb_links {
    bool report;      /* a self-contained file: anchors, no sort links */
    const char *base; /* the server's base URL path ("" = relative to /) */
} sb_links;

sb_status sb_page_head(sb_buf *out, const char *title);
sb_status sb_page_tail(sb_buf *out);
sb_status sb_page_index(sb_buf *out, const sb_bench *benches, int n, const sb_links *links);
/* The leaderboard of one benchmark: `entries` are the best result of each model; `history`
 * the results that set a new best, oldest first. sort: a column name or NULL (the headline
 * metric); order: "asc", "desc" or NULL (the headline's better direction). */
sb_status sb_page_leaderboard(sb_buf *out, const char *dataset, const char *task, sb_entry *entries,
                              int n, const sb_entry *history, int nhistory, const char *sort,
                              const char *order, const sb_links *links);
sb_status sb_page_result(sb_buf *out, const sb_entry *e, const sb_links *links);
sb_status sb_leaderboard_csv(sb_buf *out, sb_entry *entries, int n);
sb_status sb_leaderboard_json(sb_buf *out, sb_entry *entries, int n);
/* An entry as JSON for the API: {"id", "created", "submitter", "result"}. */
sb_json *sb_entry_json(const sb_entry *e);

/* report.c: `sbengine report STORE.json -o FILE.html`. */
int sb_report_command(int argc, char **argv);

#endif
