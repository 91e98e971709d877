#include "result/result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sb_result_keys[] = {"model",
                                      "model_description",
                                      "task",
                                      "dataset_name",
                                      "results",
                                      "speed_mem_metrics",
                                      "arxiv_id",
                                      "pwc_id",
                                      "pytorch_hub_id",
                                      "paper_results",
                                      "run_hash",
                                      "config",
                                      "extra",
                                      "environment",
                                      "idempotency_key",
                                      NULL};

static bool is_null(const sb_json *v)
{
    return v == NULL || v->type == SB_JSON_NULL;
}

/* A string field: NULL -> JSON null (or an error when required). */
static sb_status string_field(const char *name, const char *value, bool required, const char *what,
                              sb_json **out)
{
    if (!value) {
        if (required) return sb_fail(SB_EINVAL, "%s: required (%s)", name, what);
        return sb_json_null(out);
    }
    if (required && value[0] == '\0')
        return sb_fail(SB_EINVAL, "%s: must not be empty (%s)", name, what);
    sb_status s = sb_json_string(value, strlen(value), out);
    if (s != SB_OK) return sb_fail_context(s, "%s", name);
    return SB_OK;
}

/* {name = number}: every value a finite number (or null where `allow_null`). */
static sb_status check_number_table(const char *name, const sb_json *v, bool allow_null)
{
    if (is_null(v)) return SB_OK;
    if (v->type != SB_JSON_OBJECT) {
        if (v->type == SB_JSON_ARRAY && v->count == 0) return SB_OK; /* {} from Lua/cjson */
        return sb_fail(SB_EINVAL, "%s: expected a table of name = number, got %s", name,
                       sb_json_type_name(v->type));
    }
    for (size_t i = 0; i < v->count; i++) {
        const sb_json *item = v->items[i];
        if (sb_json_is_number(item) || (allow_null && item->type == SB_JSON_NULL)) continue;
        return sb_fail(SB_EINVAL, "%s[\"%s\"]: expected a number, got %s", name, v->keys[i],
                       sb_json_type_name(item->type));
    }
    return SB_OK;
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

bool sb_uuid_valid(const char *t)
{
    if (!t || strlen(t) != 36) return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? t[i] != '-' : !is_hex(t + i, 1)) return false;
    }
    return t[14] == '4' && strchr("89ab", t[19]) != NULL;
}

static sb_status validate(const sb_result_fields *f)
{
    SB_TRY(check_number_table("results", f->results, false));
    SB_TRY(check_number_table("speed_mem_metrics", f->speed_mem_metrics, true));
    SB_TRY(check_number_table("paper_results", f->paper_results, true));
    if (!is_null(f->config) && f->config->type != SB_JSON_OBJECT &&
        !(f->config->type == SB_JSON_ARRAY && f->config->count == 0))
        return sb_fail(SB_EINVAL, "config: expected a table, got %s",
                       sb_json_type_name(f->config->type));
    if (!is_null(f->extra) && f->extra->type != SB_JSON_OBJECT &&
        !(f->extra->type == SB_JSON_ARRAY && f->extra->count == 0))
        return sb_fail(SB_EINVAL,
                       "extra: expected a table of name = value (the meter values that are "
                       "not numbers), got %s",
                       sb_json_type_name(f->extra->type));
    if (!is_null(f->environment) && f->environment->type != SB_JSON_OBJECT)
        return sb_fail(SB_EINVAL, "environment: expected a table, got %s",
                       sb_json_type_name(f->environment->type));
    if (f->run_hash && !(strlen(f->run_hash) == 64 && is_hex(f->run_hash, 64)))
        return sb_fail(SB_EINVAL,
                       "run_hash: expected 64 lowercase hexadecimal digits (a sha256), got '%.80s'",
                       f->run_hash);
    if (!f->idempotency_key)
        return sb_fail(SB_EINVAL, "idempotency_key: required (a version 4 UUID)");
    if (!sb_uuid_valid(f->idempotency_key))
        return sb_fail(SB_EINVAL, "idempotency_key: expected a version 4 UUID, got '%.80s'",
                       f->idempotency_key);
    return SB_OK;
}

/* An empty table from Lua (or [] from cjson) is an empty object here. */
static sb_status as_object(sb_json **v)
{
    if (*v && (*v)->type == SB_JSON_ARRAY && (*v)->count == 0) {
        sb_json_free(*v);
        *v = NULL;
        return sb_json_object(v);
    }
    return SB_OK;
}

static sb_status take_or_null(sb_json **slot, sb_json **out)
{
    if (*slot) {
        *out = *slot;
        *slot = NULL;
        return SB_OK;
    }
    return sb_json_null(out);
}

void sb_result_fields_release(sb_result_fields *f)
{
    sb_json_free(f->results);
    sb_json_free(f->speed_mem_metrics);
    sb_json_free(f->paper_results);
    sb_json_free(f->config);
    sb_json_free(f->environment);
    sb_json_free(f->extra);
    f->results = f->speed_mem_metrics = f->paper_results = f->config = f->environment = NULL;
    f->extra = NULL;
}

static sb_status build(sb_result_fields *f, sb_json *dict)
{
    sb_json *v = NULL;
#define SET(key, expr)                                                                             \
    do {                                                                                           \
        v = NULL;                                                                                  \
        SB_TRY(expr);                                                                              \
        SB_TRY(sb_json_object_set(dict, key, v));                                                  \
    } while (0)
    SET("model", string_field("model", f->model, true,
                              "the model's name, a non-empty string such as \"LeNet-5\"", &v));
    SET("model_description",
        string_field("model_description", f->model_description, false, "", &v));
    SET("task", string_field("task", f->task, true,
                             "a non-empty string such as \"Image Classification\"", &v));
    SET("dataset_name",
        string_field("dataset", f->dataset, true,
                     "the dataset's name, a non-empty string such as \"MNIST\"", &v));
    if (!f->results) SB_TRY(sb_json_object(&f->results));
    SB_TRY(as_object(&f->results));
    SET("results", take_or_null(&f->results, &v));
    SB_TRY(as_object(&f->speed_mem_metrics));
    SET("speed_mem_metrics", take_or_null(&f->speed_mem_metrics, &v));
    SET("arxiv_id", string_field("arxiv_id", f->arxiv_id, false, "", &v));
    SET("pwc_id", string_field("pwc_id", f->pwc_id, false, "", &v));
    SET("pytorch_hub_id", string_field("pytorch_hub_id", f->pytorch_hub_id, false, "", &v));
    SB_TRY(as_object(&f->paper_results));
    SET("paper_results", take_or_null(&f->paper_results, &v));
    SET("run_hash", string_field("run_hash", f->run_hash, false, "", &v));
    SB_TRY(as_object(&f->config));
    SET("config", take_or_null(&f->config, &v));
    SB_TRY(as_object(&f->extra));
    SET("extra", take_or_null(&f->extra, &v));
    SET("environment", take_or_null(&f->environment, &v));
    SET("idempotency_key", string_field("idempotency_key", f->idempotency_key, true, "", &v));
#undef SET
    return SB_OK;
}

sb_status sb_result_new(sb_result_fields *f, sb_result **out)
{
    /* Required strings first, so a missing model is reported before a bad results table. */
    sb_json *dict = NULL;
    sb_status s = SB_OK;
    if (!f->model || !f->model[0])
        s = string_field("model", f->model, true,
                         "the model's name, a non-empty string such as \"LeNet-5\"", &dict);
    else if (!f->task || !f->task[0])
        s = string_field("task", f->task, true,
                         "a non-empty string such as \"Image Classification\"", &dict);
    else if (!f->dataset || !f->dataset[0])
        s = string_field("dataset", f->dataset, true,
                         "the dataset's name, a non-empty string such as \"MNIST\"", &dict);
    sb_json_free(dict);
    dict = NULL;
    if (s == SB_OK) s = validate(f);
    if (s == SB_OK) s = sb_json_object(&dict);
    if (s == SB_OK) s = build(f, dict);
    sb_result *r = NULL;
    if (s == SB_OK) {
        r = malloc(sizeof *r);
        if (!r) s = sb_fail(SB_ENOMEM, "out of memory allocating a BenchmarkResult");
    }
    sb_result_fields_release(f);
    if (s != SB_OK) {
        sb_json_free(dict);
        return s;
    }
    r->dict = dict;
    *out = r;
    return SB_OK;
}

void sb_result_free(sb_result *r)
{
    if (!r) return;
    sb_json_free(r->dict);
    free(r);
}

const sb_json *sb_result_get(const sb_result *r, const char *key)
{
    return sb_json_object_get(r->dict, key);
}

sb_status sb_result_to_json(const sb_result *r, bool pretty, sb_buf *out)
{
    return sb_json_write(r->dict, pretty, out);
}

static sb_status format_scalar(const sb_json *v, sb_buf *out)
{
    char num[40];
    switch (v->type) {
    case SB_JSON_STRING:
        return sb_buf_puts(out, v->string);
    case SB_JSON_NUMBER:
        sb_json_format_double(v->number, num, sizeof num);
        return sb_buf_puts(out, num);
    default:
        return sb_json_write(v, false, out);
    }
}

sb_status sb_result_format_table(const sb_result *r, sb_buf *out)
{
    const int width = 18;
    SB_TRY(sb_buf_puts(out, "BenchmarkResult"));
    for (size_t i = 0; i < r->dict->count; i++) {
        const char *key = r->dict->keys[i];
        const sb_json *v = r->dict->items[i];
        if (v->type == SB_JSON_NULL) continue;
        if (v->type == SB_JSON_OBJECT) {
            if (v->count == 0) continue;
            SB_TRY(sb_buf_printf(out, "\n  %s", key));
            size_t keyw = 0;
            for (size_t k = 0; k < v->count; k++)
                if (strlen(v->keys[k]) > keyw) keyw = strlen(v->keys[k]);
            for (size_t k = 0; k < v->count; k++) {
                SB_TRY(sb_buf_printf(out, "\n    %-*s  ", (int)keyw, v->keys[k]));
                SB_TRY(format_scalar(v->items[k], out));
            }
        } else {
            SB_TRY(sb_buf_printf(out, "\n  %-*s", width, key));
            SB_TRY(format_scalar(v, out));
        }
    }
    return SB_OK;
}
