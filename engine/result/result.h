/* BenchmarkResult: one evaluation's outcome, as sotabench's BenchmarkResult (DESIGN §3, §4).
 *
 * A result is an ordered JSON object with exactly these keys, in sotabench's order:
 *   model, model_description, task, dataset_name, results, speed_mem_metrics, arxiv_id,
 *   pwc_id, pytorch_hub_id, paper_results, run_hash
 * followed by sbengine's additions: config, extra (meter values that are not numbers: lists,
 * matrices), environment, idempotency_key.
 * Absent optional fields are JSON null. Validation happens once, in sb_result_new; a
 * result that exists is valid. No I/O here except the store file's lock
 * (sb_write_file_atomic, core/atomic_file.h, writes it). */
#ifndef SB_RESULT_RESULT_H
#define SB_RESULT_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/json.h"

/* The fields a result is built from. Strings are borrowed (copied by sb_result_new), NULL
 * when absent. JSON values are OWNED by sb_result_new, also when it fails; NULL or a JSON
 * null when absent. */
typedef struct sb_result_fields {
    const char *model, *model_description, *task, *dataset, *arxiv_id, *pwc_id, *pytorch_hub_id,
        *run_hash, *idempotency_key;
    sb_json *results, *speed_mem_metrics, *paper_results, *config, *extra, *environment;
} sb_result_fields;

/* Frees the JSON values of `f` and sets them to NULL (for a caller that gives up before
 * handing them to sb_result_new). */
void sb_result_fields_release(sb_result_fields *f);

typedef struct sb_result {
    sb_json *dict; /* the ordered object described above */
} sb_result;

/* Validates `f` and builds a result. Errors name the field:
 *   "model: required (the model's name, a non-empty string)"
 *   "results[\"Top 1 Accuracy\"]: expected a number, got string" */
sb_status sb_result_new(sb_result_fields *f, sb_result **out);
void sb_result_free(sb_result *r);

/* The value under a key of the dict ("model", "dataset_name", ...); NULL when unknown. */
const sb_json *sb_result_get(const sb_result *r, const char *key);
sb_status sb_result_to_json(const sb_result *r, bool pretty, sb_buf *out);
/* A readable two-column table (tostring(r)). */
sb_status sb_result_format_table(const sb_result *r, sb_buf *out);

/* The keys of the dict in order; NULL-terminated. */
extern const char *const sb_result_keys[];

/* Checks "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx" (lowercase hex). */
bool sb_uuid_valid(const char *text);

#endif
