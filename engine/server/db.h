/* The results server's database: one connection per thread, SQLite (embedded, the default)
 * or PostgreSQL (libpq). Both run the same SQL text: parameters are written $1, $2, ... (a
 * named parameter to SQLite, bound by position because each appears in order) and passed as
 * text; only the id column's type differs in the schema (db.c says where).
 *
 * Statements are prepared once per connection (sqlite3_prepare_v3 PERSISTENT / PQprepare)
 * and reused. A write is one transaction; SQLite runs in WAL mode with synchronous=FULL and
 * PostgreSQL with synchronous_commit on, so COMMIT returning means the write is durable. */
#ifndef SB_SERVER_DB_H
#define SB_SERVER_DB_H

#include <stdbool.h>

#include "core/error.h"

typedef struct sb_db sb_db;

/* The statements, by number (db.c holds their SQL). */
typedef enum sb_sql {
    SQL_USER_INSERT,      /* name, password_hash, created -> id */
    SQL_USER_BY_NAME,     /* name -> id, password_hash */
    SQL_USER_NAME,        /* id -> name */
    SQL_TOKEN_INSERT,     /* token_hash, user_id, created */
    SQL_TOKEN_USER,       /* token_hash -> user_id */
    SQL_RESULT_INSERT,    /* key, user, dataset, task, model, run_hash, score, created, body
                             -> id, or no row when the key exists */
    SQL_RESULT_ID_BY_KEY, /* key -> id */
    SQL_BEST_UPSERT,      /* dataset, task, model, result_id, score */
    SQL_BENCH_UPSERT,     /* dataset, task, result_id, score, metric_keys -> best_result_id */
    SQL_RECORD_INSERT,    /* dataset, task, result_id, score, created */
    SQL_BENCH_KEYS,       /* dataset, task -> metric_keys */
    SQL_BENCH_COUNT,      /* dataset, task -> n_results */
    SQL_RESULT_BY_HASH,   /* run_hash -> body */
    SQL_HASH_EXISTS,      /* run_hash -> 1 */
    SQL_RESULTS_FILTER,   /* dataset|'', task|'', model|'', limit -> id, created, body */
    SQL_BENCHMARKS,       /* -> dataset, task, n_results, best_result_id */
    SQL_LEADERBOARD,      /* dataset, task -> id, created, user name, body */
    SQL_RECORDS,          /* dataset, task -> created, result_id, body */
    SQL_RESULT_BY_ID,     /* id -> id, created, user name, body */
    SQL_COUNT
} sb_sql;

/* Rows of a query, every cell as text (NULL for SQL NULL). */
typedef struct sb_rows {
    int nrows, ncols;
    char **cells; /* nrows * ncols, row-major */
} sb_rows;

static inline const char *sb_cell(const sb_rows *r, int row, int col)
{
    return r->cells[row * r->ncols + col];
}
void sb_rows_free(sb_rows *rows);

/* `where`: a file path (SQLite) or a postgresql:// / postgres:// URL. Opening creates the
 * schema or migrates it to the current version. */
sb_status sb_db_open(const char *where, sb_db **out);
void sb_db_close(sb_db *db);
bool sb_db_is_postgres(const char *where);
const char *sb_db_kind(const sb_db *db); /* "SQLite" | "PostgreSQL" */
/* Whether the connection is lost (PostgreSQL restarted, network): close it and open anew. */
bool sb_db_broken(const sb_db *db);

/* A statement without parameters or rows (SAVEPOINT, RELEASE, ...). */
sb_status sb_db_exec(sb_db *db, const char *sql);
sb_status sb_db_begin(sb_db *db);
sb_status sb_db_commit(sb_db *db);
void sb_db_rollback(sb_db *db);
/* Runs statement `sql` with `nparams` text parameters (NULL = SQL NULL). `rows` may be
 * NULL when the caller wants none; otherwise it is filled (free with sb_rows_free). */
sb_status sb_db_run(sb_db *db, sb_sql sql, int nparams, const char *const *params, sb_rows *rows);

#endif
