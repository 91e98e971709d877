/* The floor for the results server's write rate (tools/perf/server, docs/perf.md): a plain C
 * loop inserting results into SQLite with the server's durability (WAL, synchronous=FULL,
 * one transaction per result, a prepared statement), with nothing else around it.
 * Usage: server_sqlite_floor [N] [DIR]  (default 2000 results, in $TMPDIR or /tmp). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *dir = argc > 2 ? argv[2] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    char path[4096];
    snprintf(path, sizeof path, "%s/sbengine-floor-%d.sqlite", dir, (int)getpid());
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "server_sqlite_floor: cannot open %s\n", path);
        return 1;
    }
    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL, NULL);
    sqlite3_exec(db,
                 "CREATE TABLE results (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL "
                 "UNIQUE, body TEXT NOT NULL)",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO results (idempotency_key, body) VALUES (?, ?)", -1, &ins,
                       NULL);
    char body[900];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    double t0 = now();
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, body, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "server_sqlite_floor: insert failed: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(ins);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    double dt = now() - t0;
    printf("server_sqlite_floor: %d durable single-row transactions in %.3f s: %.0f commits/s "
           "(SQLite %s, WAL, synchronous=FULL, %s)\n",
           n, dt, n / dt, sqlite3_libversion(), dir);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    char side[4200];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return 0;
}
