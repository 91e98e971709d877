/* The writer: one thread, one database connection, that stores every submission.
 *
 * Request threads queue a job and wait. The writer takes everything queued, opens one
 * transaction, stores each job inside its own SAVEPOINT (a job that fails leaves no trace and
 * does not disturb the others), COMMITs, and only then wakes the waiting threads: a reply is
 * sent only for a submission that is on disk. While one COMMIT waits for its fsync the next
 * submissions queue up, so one fsync acknowledges many of them (group commit): with SQLite,
 * where every COMMIT costs an fsync of the WAL, this is what lifts the rate above one commit
 * per fsync (docs/perf.md). Exactly-once per idempotency key is still the unique constraint's
 * doing (INSERT ... ON CONFLICT DO NOTHING), also between jobs of one batch and between
 * several servers on one PostgreSQL database. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server.h"

enum { MAX_BATCH = 256 };

struct sb_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    sb_write_job *head, *tail;
    bool stopping;
    const char *where;
    sb_db *db; /* NULL after a failed batch: reopened for the next one */
};

void sb_now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static sb_json *str(const char *s)
{
    sb_json *v = NULL;
    sb_json_string(s, strlen(s), &v);
    return v;
}

/* Stores one job inside the open transaction. SB_OK also when the job was refused
 * (job->errors then says why) or its key was known (job->created false). */
static sb_status store(sb_db *db, sb_write_job *job)
{
    const json_t *r = job->result;
    const char *dataset = sb_jstr(r, "dataset_name"), *task = sb_jstr(r, "task");
    const char *model = sb_jstr(r, "model"), *run_hash = sb_jstr(r, "run_hash");
    sb_rows rows = {0};
    char *bench_keys = NULL, *new_keys = NULL;
    sb_buf body = {0};
    const char *bp[] = {dataset ? dataset : "", task ? task : ""};
    sb_status st = sb_db_run(db, SQL_BENCH_KEYS, 2, bp, &rows);
    if (st == SB_OK && rows.nrows == 1 && sb_cell(&rows, 0, 0))
        bench_keys = strdup(sb_cell(&rows, 0, 0));
    sb_rows_free(&rows);
    if (st != SB_OK || sb_validate_result(r, bench_keys, job->errors) > 0) {
        free(bench_keys);
        return st;
    }
    sb_json *tree = sb_json_from_jansson(r);
    if (!tree) st = sb_fail(SB_ENOMEM, "out of memory");
    if (st == SB_OK) {
        /* The stored copy carries the key it was stored under. */
        sb_json_object_set(tree, "idempotency_key", str(job->key));
        st = sb_json_write(tree, false, &body);
    }
    sb_json_free(tree);
    char user[24], score[40], now[32], id[24];
    snprintf(user, sizeof user, "%lld", (long long)job->user);
    snprintf(score, sizeof score, "%.17g", sb_headline_score(r, bench_keys));
    sb_now_iso(now);
    if (st == SB_OK) {
        const char *p[] = {job->key, user, dataset, task, model, run_hash, score, now, body.data};
        st = sb_db_run(db, SQL_RESULT_INSERT, 9, p, &rows);
    }
    if (st == SB_OK && rows.nrows == 0) { /* the key is known: nothing new */
        const char *p[] = {job->key};
        st = sb_db_run(db, SQL_RESULT_ID_BY_KEY, 1, p, &rows);
        if (st == SB_OK && rows.nrows == 1) job->id = strtoll(sb_cell(&rows, 0, 0), NULL, 10);
        job->created = false;
    } else if (st == SB_OK) {
        job->id = strtoll(sb_cell(&rows, 0, 0), NULL, 10);
        job->created = true;
        snprintf(id, sizeof id, "%lld", (long long)job->id);
        sb_rows_free(&rows);
        const char *p[] = {dataset, task, model, id, score};
        st = sb_db_run(db, SQL_BEST_UPSERT, 5, p, NULL);
        new_keys = bench_keys ? NULL : sb_metric_keys(json_object_get(r, "results"));
        const char *q[] = {dataset, task, id, score, bench_keys ? bench_keys : new_keys};
        if (st == SB_OK) st = sb_db_run(db, SQL_BENCH_UPSERT, 5, q, &rows);
        /* A new best for the benchmark: a point of the "best over time" plot. */
        if (st == SB_OK && rows.nrows == 1 && strcmp(sb_cell(&rows, 0, 0), id) == 0) {
            const char *w[] = {dataset, task, id, score, now};
            st = sb_db_run(db, SQL_RECORD_INSERT, 5, w, NULL);
        }
    }
    sb_rows_free(&rows);
    free(new_keys);
    free(bench_keys);
    sb_buf_free(&body);
    return st;
}

static void fail_job(sb_write_job *job)
{
    job->status = SB_EIO;
    snprintf(job->message, sizeof job->message, "%s", sb_error_message());
}

static void run_batch(sb_writer *w, sb_write_job *batch)
{
    sb_status st = w->db ? sb_db_begin(w->db) : sb_fail(SB_EIO, "no database connection");
    for (sb_write_job *j = batch; j; j = j->next) {
        if (st != SB_OK) {
            fail_job(j);
            continue;
        }
        sb_status js = sb_db_exec(w->db, "SAVEPOINT job");
        if (js == SB_OK) js = store(w->db, j);
        if (js == SB_OK && json_array_size(j->errors) > 0)
            js = sb_db_exec(w->db, "ROLLBACK TO SAVEPOINT job");
        else if (js != SB_OK) {
            fail_job(j);
            js = sb_db_exec(w->db, "ROLLBACK TO SAVEPOINT job");
        }
        if (js == SB_OK) js = sb_db_exec(w->db, "RELEASE SAVEPOINT job");
        if (js != SB_OK) st = js; /* the transaction itself is broken */
    }
    if (st == SB_OK) st = sb_db_commit(w->db);
    if (st != SB_OK) {
        /* Nothing of the batch is stored: every job fails (its client retries). */
        if (w->db) sb_db_rollback(w->db);
        for (sb_write_job *j = batch; j; j = j->next)
            if (j->status == SB_OK) fail_job(j);
        /* A broken connection (PostgreSQL restarted): reconnect on the next batch. */
        sb_db_close(w->db);
        w->db = NULL;
    }
}

static void *writer_main(void *arg)
{
    sb_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work, &w->lock);
        if (!w->head && w->stopping) break;
        sb_write_job *batch = w->head, *last = batch;
        int n = 1;
        while (last->next && n < MAX_BATCH) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head) w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->lock);
        if (!w->db && sb_db_open(w->where, &w->db) != SB_OK) w->db = NULL;
        run_batch(w, batch);
        pthread_mutex_lock(&w->lock);
        for (sb_write_job *j = batch; j; j = j->next)
            j->done = true;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

sb_status sb_writer_start(const char *db_where, sb_writer **out)
{
    sb_writer *w = calloc(1, sizeof *w);
    if (!w) return sb_fail(SB_ENOMEM, "out of memory");
    w->where = db_where;
    sb_status st = sb_db_open(db_where, &w->db);
    if (st != SB_OK) {
        free(w);
        return st;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        sb_db_close(w->db);
        free(w);
        return sb_fail(SB_ENOMEM, "cannot start the writer thread");
    }
    *out = w;
    return SB_OK;
}

void sb_writer_submit(sb_writer *w, sb_write_job *job)
{
    job->done = false;
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    pthread_cond_signal(&w->work);
    while (!job->done)
        pthread_cond_wait(&w->done, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void sb_writer_stop(sb_writer *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    sb_db_close(w->db);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
