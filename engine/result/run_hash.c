#include "result/run_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

static const char run_hash_header[] = "sbengine-run-hash-v1\n";

void sb_run_hash_format_value(double value, char *buf, size_t bufsize)
{
    if (isnan(value)) {
        snprintf(buf, bufsize, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(buf, bufsize, value > 0 ? "inf" : "-inf");
        return;
    }
    if (fabs(value) >= 1e15) {
        snprintf(buf, bufsize, "%.17g", value);
        return;
    }
    long long milli = llround(value * 1000.0); /* half away from zero */
    unsigned long long mag = milli < 0 ? (unsigned long long)(-milli) : (unsigned long long)milli;
    /* Digits by hand: this runs once per output element, and snprintf dominated. */
    char digits[32];
    int n = 0;
    do {
        digits[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag > 0 || n < 4); /* at least "0.000" */
    size_t k = 0;
    if (milli < 0 && bufsize > 1) buf[k++] = '-';
    while (n > 0 && k + 2 < bufsize) {
        if (n == 3) buf[k++] = '.';
        buf[k++] = digits[--n];
    }
    buf[k] = '\0';
}

sb_status sb_run_hash_begin(sb_run_hasher *h, int ndim, const int64_t *shape)
{
    if (ndim < 0) return sb_fail(SB_EINVAL, "run_hash: negative number of dimensions");
    sb_sha256_init(&h->sha);
    sb_sha256_update(&h->sha, run_hash_header, strlen(run_hash_header));
    char line[32];
    sb_sha256_update(&h->sha, "shape ", 6);
    for (int d = 0; d < ndim; d++) {
        int n = snprintf(line, sizeof line, "%s%lld", d ? "," : "", (long long)shape[d]);
        sb_sha256_update(&h->sha, line, (size_t)n);
    }
    sb_sha256_update(&h->sha, "\n", 1);
    return SB_OK;
}

void sb_run_hash_values(sb_run_hasher *h, const double *values, size_t n)
{
    char line[48];
    for (size_t i = 0; i < n; i++) {
        sb_run_hash_format_value(values[i], line, sizeof line - 1);
        size_t len = strlen(line);
        line[len] = '\n';
        sb_sha256_update(&h->sha, line, len + 1);
    }
}

sb_status sb_run_hash_tensor(sb_run_hasher *h, const sb_tensor *t)
{
    sb_tensor *host = NULL, *f64 = NULL, *flat = NULL;
    SB_TRY(sb_tensor_to_device(t, SB_CPU, &host));
    sb_status s = sb_tensor_to_dtype(host, SB_FLOAT64, &f64);
    sb_tensor_free(host);
    if (s == SB_OK) s = sb_tensor_contiguous(f64, &flat);
    sb_tensor_free(f64);
    if (s != SB_OK) return s;
    s = sb_run_hash_begin(h, t->ndim, t->sizes);
    if (s == SB_OK) sb_run_hash_values(h, sb_tensor_data(flat), (size_t)sb_tensor_numel(flat));
    sb_tensor_free(flat);
    return s;
}

static const char *const *sort_names;

static int by_name(const void *a, const void *b)
{
    return strcmp(sort_names[*(const size_t *)a], sort_names[*(const size_t *)b]);
}

sb_status sb_run_hash_finish(sb_run_hasher *h, const char *const *names, const double *values,
                             size_t n, char hex[65])
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return sb_fail(SB_ENOMEM, "run_hash: out of memory sorting %zu metrics", n);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* qsort has no context argument in C11; the comparator reads a file-local pointer.
     * The run hash is computed on the Lua thread only. */
    sort_names = names;
    qsort(order, n, sizeof *order, by_name);
    char line[64];
    int len = snprintf(line, sizeof line, "metrics %zu\n", n);
    sb_sha256_update(&h->sha, line, (size_t)len);
    for (size_t i = 0; i < n; i++) {
        size_t k = order[i];
        if (i > 0 && strcmp(names[order[i - 1]], names[k]) == 0) {
            free(order);
            return sb_fail(SB_EINVAL, "run_hash: metric '%s' appears twice", names[k]);
        }
        sb_sha256_update(&h->sha, names[k], strlen(names[k]));
        sb_sha256_update(&h->sha, "=", 1);
        sb_run_hash_format_value(values[k], line, sizeof line);
        sb_sha256_update(&h->sha, line, strlen(line));
        sb_sha256_update(&h->sha, "\n", 1);
    }
    free(order);
    sb_sha256_final_hex(&h->sha, hex);
    return SB_OK;
}
