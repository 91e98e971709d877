#include "server/db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SB_HAVE_LIBPQ
#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>
#endif

/* The same SQL for both databases (SQLite >= 3.35 for RETURNING, PostgreSQL >= 9.5 for
 * ON CONFLICT). An idempotent submission is one INSERT ... ON CONFLICT DO NOTHING: the unique
 * constraint on idempotency_key decides, so concurrent retries cannot both insert. */
static const char *const statements[SQL_COUNT] = {
    [SQL_USER_INSERT] = "INSERT INTO users (name, password_hash, created) VALUES ($1, $2, $3) "
                        "RETURNING id",
    [SQL_USER_BY_NAME] = "SELECT id, password_hash FROM users WHERE name = $1",
    [SQL_USER_NAME] = "SELECT name FROM users WHERE id = $1",
    [SQL_TOKEN_INSERT] = "INSERT INTO tokens (token_hash, user_id, created) VALUES ($1, $2, $3)",
    [SQL_TOKEN_USER] = "SELECT user_id FROM tokens WHERE token_hash = $1",
    [SQL_RESULT_INSERT] =
        "INSERT INTO results (idempotency_key, user_id, dataset, task, model, run_hash, score, "
        "created, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    [SQL_RESULT_ID_BY_KEY] = "SELECT id FROM results WHERE idempotency_key = $1",
    [SQL_BEST_UPSERT] = "INSERT INTO best (dataset, task, model, result_id, score) "
                        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dataset, task, model) "
                        "DO UPDATE SET result_id = excluded.result_id, score = excluded.score "
                        "WHERE excluded.score > best.score",
    [SQL_BENCH_UPSERT] =
        "INSERT INTO benchmarks (dataset, task, n_results, best_result_id, best_score, "
        "metric_keys) VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (dataset, task) DO UPDATE SET "
        "n_results = benchmarks.n_results + 1, "
        "best_result_id = CASE WHEN excluded.best_score > benchmarks.best_score "
        "THEN excluded.best_result_id ELSE benchmarks.best_result_id END, "
        "best_score = CASE WHEN excluded.best_score > benchmarks.best_score "
        "THEN excluded.best_score ELSE benchmarks.best_score END RETURNING best_result_id",
    [SQL_RECORD_INSERT] = "INSERT INTO records (dataset, task, result_id, score, created) "
                          "VALUES ($1, $2, $3, $4, $5)",
    [SQL_BENCH_KEYS] = "SELECT metric_keys FROM benchmarks WHERE dataset = $1 AND task = $2",
    [SQL_BENCH_COUNT] = "SELECT n_results FROM benchmarks WHERE dataset = $1 AND task = $2",
    [SQL_RESULT_BY_HASH] = "SELECT body FROM results WHERE run_hash = $1 ORDER BY id LIMIT 1",
    [SQL_HASH_EXISTS] = "SELECT 1 FROM results WHERE run_hash = $1 LIMIT 1",
    [SQL_RESULTS_FILTER] =
        "SELECT r.id, r.created, u.name, r.body FROM results r JOIN users u ON u.id = r.user_id "
        "WHERE ($1 = '' OR r.dataset = $1) AND ($2 = '' OR r.task = $2) "
        "AND ($3 = '' OR r.model = $3) ORDER BY r.id DESC LIMIT CAST($4 AS INTEGER)",
    [SQL_BENCHMARKS] = "SELECT b.dataset, b.task, b.n_results, b.best_result_id, r.body "
                       "FROM benchmarks b JOIN results r ON r.id = b.best_result_id "
                       "ORDER BY b.dataset, b.task",
    [SQL_LEADERBOARD] =
        "SELECT r.id, r.created, u.name, r.body FROM best b JOIN results r ON r.id = b.result_id "
        "JOIN users u ON u.id = r.user_id WHERE b.dataset = $1 AND b.task = $2 "
        "ORDER BY b.score DESC, r.id",
    [SQL_RECORDS] = "SELECT c.created, c.result_id, r.body FROM records c "
                    "JOIN results r ON r.id = c.result_id WHERE c.dataset = $1 AND c.task = $2 "
                    "ORDER BY c.id",
    [SQL_RESULT_BY_ID] = "SELECT r.id, r.created, u.name, r.body FROM results r "
                         "JOIN users u ON u.id = r.user_id WHERE r.id = $1",
};

/* Schema migrations, applied in order; sb_schema holds how many have run. "%ID%" is the one
 * spelling that differs: the auto-numbered primary key. Never edit a released migration:
 * add the next one. */
static const char *const migration_1[] = {
    "CREATE TABLE users (id %ID%, name TEXT NOT NULL UNIQUE, password_hash TEXT, "
    "created TEXT NOT NULL)",
    "CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES "
    "users (id), created TEXT NOT NULL)",
    "CREATE TABLE results (id %ID%, idempotency_key TEXT NOT NULL UNIQUE, user_id BIGINT NOT "
    "NULL REFERENCES users (id), dataset TEXT NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL, "
    "run_hash TEXT, score DOUBLE PRECISION NOT NULL, created TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX results_run_hash ON results (run_hash)",
    "CREATE INDEX results_benchmark ON results (dataset, task, model)",
    "CREATE TABLE best (dataset TEXT NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL, "
    "result_id BIGINT NOT NULL REFERENCES results (id), score DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (dataset, task, model))",
    "CREATE TABLE benchmarks (dataset TEXT NOT NULL, task TEXT NOT NULL, n_results BIGINT NOT "
    "NULL, best_result_id BIGINT NOT NULL, best_score DOUBLE PRECISION NOT NULL, metric_keys "
    "TEXT NOT NULL, PRIMARY KEY (dataset, task))",
    "CREATE TABLE records (id %ID%, dataset TEXT NOT NULL, task TEXT NOT NULL, result_id BIGINT "
    "NOT NULL REFERENCES results (id), score DOUBLE PRECISION NOT NULL, created TEXT NOT NULL)",
    "CREATE INDEX records_benchmark ON records (dataset, task)",
    NULL,
};
static const char *const *const migrations[] = {migration_1};
enum { SCHEMA_VERSION = sizeof migrations / sizeof *migrations };

struct sb_db {
    bool postgres;
    sqlite3 *lite;
    sqlite3_stmt *prepared[SQL_COUNT];
#ifdef SB_HAVE_LIBPQ
    PGconn *pg;
    bool pg_prepared[SQL_COUNT];
#endif
};

bool sb_db_is_postgres(const char *where)
{
    return strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0;
}

const char *sb_db_kind(const sb_db *db)
{
    return db->postgres ? "PostgreSQL" : "SQLite";
}

void sb_rows_free(sb_rows *rows)
{
    if (!rows || !rows->cells) return;
    for (int i = 0; i < rows->nrows * rows->ncols; i++)
        free(rows->cells[i]);
    free(rows->cells);
    rows->cells = NULL;
    rows->nrows = rows->ncols = 0;
}

static sb_status rows_add(sb_rows *rows, int ncols, int *cap)
{
    if (rows->nrows == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        char **cells = realloc(rows->cells, (size_t)ncap * (size_t)ncols * sizeof *cells);
        if (!cells) return sb_fail(SB_ENOMEM, "database: out of memory reading rows");
        rows->cells = cells;
        *cap = ncap;
    }
    rows->ncols = ncols;
    memset(rows->cells + (size_t)rows->nrows * (size_t)ncols, 0, (size_t)ncols * sizeof(char *));
    rows->nrows++;
    return SB_OK;
}

static char *dup_text(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* ---- SQLite ------------------------------------------------------------------------------ */

static sb_status lite_fail(sb_db *db, const char *what)
{
    return sb_fail(SB_EIO, "SQLite: %s: %s", what, sqlite3_errmsg(db->lite));
}

static sb_status lite_exec(sb_db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sb_status st = sb_fail(SB_EIO, "SQLite: %s: %s", sql, msg ? msg : "failed");
        sqlite3_free(msg);
        return st;
    }
    return SB_OK;
}

static sb_status lite_run(sb_db *db, sb_sql sql, int nparams, const char *const *params,
                          sb_rows *rows)
{
    sqlite3_stmt *st = db->prepared[sql];
    if (!st) {
        if (sqlite3_prepare_v3(db->lite, statements[sql], -1, SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK)
            return lite_fail(db, "preparing a statement");
        db->prepared[sql] = st;
    }
    for (int i = 0; i < nparams; i++) {
        int rc = params[i] ? sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT)
                           : sqlite3_bind_null(st, i + 1);
        if (rc != SQLITE_OK) {
            sqlite3_reset(st);
            return lite_fail(db, "binding a parameter");
        }
    }
    int cap = 0, rc;
    sb_status status = SB_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!rows) continue;
        int ncols = sqlite3_column_count(st);
        if ((status = rows_add(rows, ncols, &cap)) != SB_OK) break;
        for (int c = 0; c < ncols; c++) {
            const char *text = (const char *)sqlite3_column_text(st, c);
            if (text && !(rows->cells[(rows->nrows - 1) * ncols + c] = dup_text(text))) {
                status = sb_fail(SB_ENOMEM, "database: out of memory reading rows");
                break;
            }
        }
        if (status != SB_OK) break;
    }
    if (status == SB_OK && rc != SQLITE_DONE) status = lite_fail(db, "running a statement");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (status != SB_OK && rows) sb_rows_free(rows);
    return status;
}

static sb_status lite_open(const char *path, sb_db *db)
{
    if (sqlite3_open_v2(path, &db->lite,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sb_status st = sb_fail(SB_EIO, "cannot open the SQLite database '%s': %s", path,
                               db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
        return st;
    }
    /* Writers wait for each other (one at a time in SQLite) rather than fail. */
    sqlite3_busy_timeout(db->lite, 30000);
    /* WAL + synchronous=FULL: every COMMIT is on disk (the WAL fsync'ed) before it returns. */
    SB_TRY(lite_exec(db, "PRAGMA journal_mode = WAL"));
    SB_TRY(lite_exec(db, "PRAGMA synchronous = FULL"));
    SB_TRY(lite_exec(db, "PRAGMA foreign_keys = ON"));
    return SB_OK;
}

/* ---- PostgreSQL --------------------------------------------------------------------------- */

#ifdef SB_HAVE_LIBPQ
/* libpq is dlopen()ed on the first PostgreSQL connection: it brings Kerberos, LDAP and
 * OpenSSL (~30 libraries) that a server on SQLite never needs, and would triple the start. */
static struct {
    PGconn *(*connectdb)(const char *);
    ConnStatusType (*status)(const PGconn *);
    char *(*errorMessage)(const PGconn *);
    PGresult *(*exec)(PGconn *, const char *);
    PGresult *(*prepare)(PGconn *, const char *, const char *, int, const Oid *);
    PGresult *(*execPrepared)(PGconn *, const char *, int, const char *const *, const int *,
                              const int *, int);
    ExecStatusType (*resultStatus)(const PGresult *);
    int (*ntuples)(const PGresult *);
    int (*nfields)(const PGresult *);
    int (*getisnull)(const PGresult *, int, int);
    char *(*getvalue)(const PGresult *, int, int);
    void (*clear)(PGresult *);
    void (*finish)(PGconn *);
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[512];

static void load_libpq(void)
{
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(pq_error, sizeof pq_error,
                 "libpq could not be loaded (%s); install libpq5 (tools/setup)", dlerror());
        return;
    }
    static const char *const names[] = {
        "PQconnectdb",    "PQstatus",       "PQerrorMessage", "PQexec",    "PQprepare",
        "PQexecPrepared", "PQresultStatus", "PQntuples",      "PQnfields", "PQgetisnull",
        "PQgetvalue",     "PQclear",        "PQfinish"};
    void **slots = (void **)&pq;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(slots[i] = dlsym(lib, names[i]))) {
            snprintf(pq_error, sizeof pq_error, "libpq.so.5 lacks %s", names[i]);
            return;
        }
    }
}

static sb_status pg_check(sb_db *db, PGresult *res, const char *what)
{
    ExecStatusType s = pq.resultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return SB_OK;
    sb_status st = sb_fail(SB_EIO, "PostgreSQL: %s: %s", what, pq.errorMessage(db->pg));
    return st;
}

static sb_status pg_exec(sb_db *db, const char *sql)
{
    PGresult *res = pq.exec(db->pg, sql);
    sb_status st = pg_check(db, res, sql);
    pq.clear(res);
    return st;
}

static sb_status pg_run(sb_db *db, sb_sql sql, int nparams, const char *const *params,
                        sb_rows *rows)
{
    char name[16];
    snprintf(name, sizeof name, "sb%d", (int)sql);
    if (!db->pg_prepared[sql]) {
        PGresult *res = pq.prepare(db->pg, name, statements[sql], 0, NULL);
        sb_status st = pg_check(db, res, "preparing a statement");
        pq.clear(res);
        SB_TRY(st);
        db->pg_prepared[sql] = true;
    }
    PGresult *res = pq.execPrepared(db->pg, name, nparams, params, NULL, NULL, 0);
    sb_status st = pg_check(db, res, "running a statement");
    if (st == SB_OK && rows) {
        int n = pq.ntuples(res), ncols = pq.nfields(res), cap = 0;
        for (int r = 0; r < n && st == SB_OK; r++) {
            if ((st = rows_add(rows, ncols, &cap)) != SB_OK) break;
            for (int c = 0; c < ncols; c++) {
                if (pq.getisnull(res, r, c)) continue;
                if (!(rows->cells[r * ncols + c] = dup_text(pq.getvalue(res, r, c)))) {
                    st = sb_fail(SB_ENOMEM, "database: out of memory reading rows");
                    break;
                }
            }
        }
        if (st != SB_OK) sb_rows_free(rows);
    }
    pq.clear(res);
    return st;
}

static sb_status pg_open(const char *url, sb_db *db)
{
    pthread_once(&pq_once, load_libpq);
    if (!pq.finish) return sb_fail(SB_EUNSUPPORTED, "%s", pq_error);
    db->pg = pq.connectdb(url);
    if (!db->pg) return sb_fail(SB_ENOMEM, "PostgreSQL: out of memory connecting");
    if (pq.status(db->pg) != CONNECTION_OK) {
        /* The message may quote the URL's host but libpq never echoes the password. */
        return sb_fail(SB_EIO, "cannot connect to PostgreSQL: %s", pq.errorMessage(db->pg));
    }
    PGresult *res = pq.exec(db->pg, "SET client_min_messages = warning");
    pq.clear(res);
    return SB_OK;
}
#endif

/* ---- both ------------------------------------------------------------------------------- */

sb_status sb_db_exec(sb_db *db, const char *sql)
{
#ifdef SB_HAVE_LIBPQ
    if (db->postgres) return pg_exec(db, sql);
#endif
    return lite_exec(db, sql);
}

sb_status sb_db_run(sb_db *db, sb_sql sql, int nparams, const char *const *params, sb_rows *rows)
{
    if (rows) *rows = (sb_rows){0};
#ifdef SB_HAVE_LIBPQ
    if (db->postgres) return pg_run(db, sql, nparams, params, rows);
#endif
    return lite_run(db, sql, nparams, params, rows);
}

/* SQLite: BEGIN IMMEDIATE takes the write lock at once, so two writers never deadlock on
 * upgrading a read lock. */
sb_status sb_db_begin(sb_db *db)
{
    return sb_db_exec(db, db->postgres ? "BEGIN" : "BEGIN IMMEDIATE");
}

sb_status sb_db_commit(sb_db *db)
{
    return sb_db_exec(db, "COMMIT");
}

void sb_db_rollback(sb_db *db)
{
    char saved[512];
    snprintf(saved, sizeof saved, "%s", sb_error_message());
    sb_db_exec(db, "ROLLBACK");
    sb_fail(SB_EIO, "%s", saved); /* keep the message that made us roll back */
}

static sb_status one_value(sb_db *db, const char *sql, long *value)
{
    *value = -1;
#ifdef SB_HAVE_LIBPQ
    if (db->postgres) {
        PGresult *res = pq.exec(db->pg, sql);
        sb_status st = pg_check(db, res, sql);
        if (st == SB_OK && pq.ntuples(res) > 0) *value = atol(pq.getvalue(res, 0, 0));
        pq.clear(res);
        return st;
    }
#endif
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK)
        return lite_fail(db, "reading the schema version");
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SB_OK : lite_fail(db, "reading the schema");
}

static sb_status run_migration(sb_db *db, const char *const *ddl)
{
    for (; *ddl; ddl++) {
        char sql[1024];
        const char *id = db->postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY";
        const char *at = strstr(*ddl, "%ID%");
        if (at)
            snprintf(sql, sizeof sql, "%.*s%s%s", (int)(at - *ddl), *ddl, id, at + 4);
        else
            snprintf(sql, sizeof sql, "%s", *ddl);
        SB_TRY(sb_db_exec(db, sql));
    }
    return SB_OK;
}

/* Creates the schema or brings it to SCHEMA_VERSION, in one transaction. Several servers
 * starting at once on one PostgreSQL database queue on an advisory lock. */
static sb_status migrate(sb_db *db)
{
    SB_TRY(sb_db_begin(db));
    sb_status st = SB_OK;
    if (db->postgres) st = sb_db_exec(db, "SELECT pg_advisory_xact_lock(5326601)");
    if (st == SB_OK)
        st = sb_db_exec(db, "CREATE TABLE IF NOT EXISTS sb_schema (version INTEGER NOT NULL)");
    long version = -1;
    if (st == SB_OK) st = one_value(db, "SELECT version FROM sb_schema", &version);
    if (st == SB_OK && version < 0) {
        st = sb_db_exec(db, "INSERT INTO sb_schema (version) VALUES (0)");
        version = 0;
    }
    if (st == SB_OK && version > SCHEMA_VERSION)
        st = sb_fail(SB_EUNSUPPORTED,
                     "the database's schema is version %ld, newer than this sbengine's (%d): "
                     "run a newer sbengine serve",
                     version, SCHEMA_VERSION);
    for (long v = version; st == SB_OK && v < SCHEMA_VERSION; v++) {
        st = run_migration(db, migrations[v]);
        char sql[64];
        snprintf(sql, sizeof sql, "UPDATE sb_schema SET version = %ld", v + 1);
        if (st == SB_OK) st = sb_db_exec(db, sql);
    }
    if (st == SB_OK) st = sb_db_commit(db);
    if (st != SB_OK) {
        sb_db_rollback(db);
        return sb_fail_context(st, "creating the database schema");
    }
    return SB_OK;
}

sb_status sb_db_open(const char *where, sb_db **out)
{
    *out = NULL;
    sb_db *db = calloc(1, sizeof *db);
    if (!db) return sb_fail(SB_ENOMEM, "out of memory opening the database");
    db->postgres = sb_db_is_postgres(where);
    sb_status st;
    if (db->postgres) {
#ifdef SB_HAVE_LIBPQ
        st = pg_open(where, db);
#else
        st = sb_fail(SB_EUNSUPPORTED, "this sbengine was built without PostgreSQL support "
                                      "(libpq-dev was missing when it was configured)");
#endif
    } else {
        st = lite_open(where, db);
    }
    if (st == SB_OK) st = migrate(db);
    if (st != SB_OK) {
        sb_db_close(db);
        return st;
    }
    *out = db;
    return SB_OK;
}

void sb_db_close(sb_db *db)
{
    if (!db) return;
    for (int i = 0; i < SQL_COUNT; i++)
        if (db->prepared[i]) sqlite3_finalize(db->prepared[i]);
    if (db->lite) sqlite3_close(db->lite);
#ifdef SB_HAVE_LIBPQ
    if (db->pg && pq.finish) pq.finish(db->pg);
#endif
    free(db);
}

bool sb_db_broken(const sb_db *db)
{
#ifdef SB_HAVE_LIBPQ
    if (db->postgres) return !db->pg || pq.status(db->pg) != CONNECTION_OK;
#endif
    (void)db;
    return false;
}
