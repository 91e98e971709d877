/* The rules a result must pass before the server stores it (docs/server-api.md, "Rules"). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

enum { MAX_NAME = 512, MAX_METRICS = 64 };

static const char *const speed_keys[] = {"Tasks / Evaluation Time", "Tasks", "Evaluation Time",
                                         "Max Memory Allocated (Total)"};

static int add(json_t *errors, const char *fmt, const char *a, const char *b)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, a, b);
    json_array_append_new(errors, json_string(msg));
    return 1;
}

static int required_string(const json_t *r, const char *key, json_t *errors)
{
    json_t *v = json_object_get(r, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return add(errors, "%s: required, a non-empty string%s", key, "");
    if (json_string_length(v) > MAX_NAME)
        return add(errors, "%s: longer than %s bytes", key, "512");
    return 0;
}

static int optional_string(const json_t *r, const char *key, json_t *errors)
{
    json_t *v = json_object_get(r, key);
    if (v && !json_is_null(v) && !json_is_string(v))
        return add(errors, "%s: must be a string or null%s", key, "");
    if (json_is_string(v) && json_string_length(v) > 4096)
        return add(errors, "%s: longer than %s bytes", key, "4096");
    return 0;
}

static int number_map(const json_t *r, const char *key, bool required, bool allow_null_values,
                      json_t *errors)
{
    json_t *m = json_object_get(r, key);
    if (!m || json_is_null(m)) {
        return required ? add(errors, "%s: required, an object of metric name -> number%s", key, "")
                        : 0;
    }
    if (!json_is_object(m))
        return add(errors, "%s: must be an object of metric name -> number%s", key, "");
    if (required && json_object_size(m) == 0) return add(errors, "%s: has no metrics%s", key, "");
    if (json_object_size(m) > MAX_METRICS)
        return add(errors, "%s: more than %s metrics", key, "64");
    int n = 0;
    const char *name;
    json_t *v;
    json_object_foreach(m, name, v)
    {
        if (strlen(name) == 0 || strlen(name) > MAX_NAME)
            n += add(errors, "%s: a metric name is empty or too long%s", key, "");
        else if (json_is_null(v) && allow_null_values)
            continue;
        else if (!json_is_number(v) || !isfinite(json_number_value(v)))
            n += add(errors, "%s: '%s' must be a finite number", key, name);
    }
    return n;
}

char *sb_metric_keys(const json_t *results)
{
    sb_buf b = {0};
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)results, name, v)
    {
        (void)v;
        if (b.len) sb_buf_puts(&b, "\n");
        sb_buf_puts(&b, name);
    }
    if (!b.data) return calloc(1, 1);
    return b.data;
}

/* Whether the "\n"-separated `keys` hold exactly the names of `results`. */
static bool same_keys(const char *keys, const json_t *results)
{
    size_t count = 0;
    for (const char *p = keys; *p;) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char name[MAX_NAME + 1];
        if (n > MAX_NAME) return false;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!json_object_get(results, name)) return false;
        count++;
        p += n + (end ? 1 : 0);
    }
    return count == json_object_size(results);
}

int sb_validate_result(const json_t *r, const char *bench_keys, json_t *errors)
{
    if (!json_is_object(r)) return add(errors, "a result must be a JSON object%s%s", "", "");
    int n = 0;
    n += required_string(r, "model", errors);
    n += required_string(r, "task", errors);
    n += required_string(r, "dataset_name", errors);
    const char *opt[] = {"model_description", "arxiv_id", "pwc_id",
                         "pytorch_hub_id",    "run_hash", "idempotency_key"};
    for (size_t i = 0; i < sizeof opt / sizeof *opt; i++)
        n += optional_string(r, opt[i], errors);
    n += number_map(r, "results", true, false, errors);
    n += number_map(r, "paper_results", false, true, errors);
    n += number_map(r, "speed_mem_metrics", false, true, errors);
    json_t *speed = json_object_get(r, "speed_mem_metrics");
    if (json_is_object(speed)) {
        const char *name;
        json_t *v;
        json_object_foreach(speed, name, v)
        {
            bool known = false;
            for (size_t i = 0; i < sizeof speed_keys / sizeof *speed_keys; i++)
                known = known || strcmp(name, speed_keys[i]) == 0;
            if (!known)
                n += add(errors,
                         "speed_mem_metrics: '%s' is not one of 'Tasks / Evaluation Time', "
                         "'Tasks', 'Evaluation Time', 'Max Memory Allocated (Total)'%s",
                         name, "");
            else if (json_is_number(v) && json_number_value(v) < 0)
                n += add(errors, "speed_mem_metrics: '%s' must not be negative%s", name, "");
        }
    }
    const char *hash = sb_jstr(r, "run_hash");
    if (hash) {
        bool hex = strlen(hash) <= 128;
        for (const char *p = hash; *p && hex; p++)
            hex = isxdigit((unsigned char)*p);
        if (!hex) n += add(errors, "run_hash: must be at most 128 hexadecimal digits%s%s", "", "");
    }
    const char *objects[] = {"config", "extra", "environment"};
    for (size_t i = 0; i < sizeof objects / sizeof *objects; i++) {
        json_t *v = json_object_get(r, objects[i]);
        if (v && !json_is_null(v) && !json_is_object(v))
            n += add(errors, "%s: must be an object or null%s", objects[i], "");
    }
    json_t *results = json_object_get(r, "results");
    if (bench_keys && json_is_object(results) && json_object_size(results) > 0 &&
        !same_keys(bench_keys, results)) {
        char *mine = sb_metric_keys(results);
        char want[2048], got[2048];
        snprintf(want, sizeof want, "%s", bench_keys);
        snprintf(got, sizeof got, "%s", mine ? mine : "");
        free(mine);
        for (char *p = want; *p; p++)
            if (*p == '\n') *p = ',';
        for (char *p = got; *p; p++)
            if (*p == '\n') *p = ',';
        n += add(errors,
                 "results: the metrics (%s) differ from this benchmark's earlier results (%s)", got,
                 want);
    }
    return n;
}

bool sb_metric_lower_is_better(const char *name)
{
    static const char *const lower[] = {"error", "loss", "perplexity", "mse", "mae"};
    char low[MAX_NAME + 1];
    size_t i = 0;
    for (; name[i] && i < MAX_NAME; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    for (size_t k = 0; k < sizeof lower / sizeof *lower; k++)
        if (strstr(low, lower[k])) return true;
    return false;
}

double sb_headline_score(const json_t *result, const char *bench_keys)
{
    json_t *results = json_object_get(result, "results");
    char name[MAX_NAME + 1] = "";
    if (bench_keys && *bench_keys) {
        size_t n = strcspn(bench_keys, "\n");
        if (n > MAX_NAME) n = MAX_NAME;
        memcpy(name, bench_keys, n);
        name[n] = '\0';
    } else {
        void *it = json_object_iter(results);
        if (it) snprintf(name, sizeof name, "%s", json_object_iter_key(it));
    }
    json_t *v = json_object_get(results, name);
    double x = json_is_number(v) ? json_number_value(v) : 0.0;
    return sb_metric_lower_is_better(name) ? -x : x;
}
