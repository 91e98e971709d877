#define _GNU_SOURCE
#include "net/http.h"

#include <errno.h>
#include <limits.h>

#include "core/buf.h"
#include "net/curl_lazy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct attempt_state {
    sb_buf body;
    long retry_after_s; /* -1 = none */
    int oom;
} attempt_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    attempt_state *a = user;
    size_t n = size * nmemb;
    if (sb_buf_append(&a->body, data, n) != SB_OK) {
        a->oom = 1;
        return 0;
    }
    return n;
}

bool sb_http_retry_after(const char *line, size_t n, long *seconds)
{
    static const char name[] = "retry-after:";
    if (n <= sizeof name - 1 || strncasecmp(line, name, sizeof name - 1) != 0) return false;
    char value[32];
    size_t vlen = n - (sizeof name - 1);
    if (vlen >= sizeof value) vlen = sizeof value - 1;
    memcpy(value, line + sizeof name - 1, vlen);
    value[vlen] = '\0';
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    /* Only the delta-seconds form; an HTTP-date (or a negative number) falls back to the
     * backoff. Beyond a day is as good as forever: it is refused by any sane maximum, and
     * the value stays far from overflowing once turned into milliseconds. */
    if (end == value || v < 0) return false;
    if (errno == ERANGE || v > SB_HTTP_RETRY_AFTER_CAP) v = SB_HTTP_RETRY_AFTER_CAP;
    *seconds = v;
    return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    attempt_state *a = user;
    size_t n = size * nmemb;
    long seconds;
    if (sb_http_retry_after(data, n, &seconds)) a->retry_after_s = seconds;
    return n;
}

/* `url` for messages, with its user name and password (if any) replaced by "***". */
static void url_for_message(const char *url, char *out, size_t size)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t authority = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority);
    if (!at) {
        snprintf(out, size, "%s", url);
        return;
    }
    snprintf(out, size, "%.*s***%s", (int)(host - url), url, at);
}

static void sleep_ms(long ms)
{
    if (ms <= 0) return;
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static int retryable_status(long status)
{
    return status == 500 || status == 502 || status == 503 || status == 504;
}

/* What went wrong, in the user's words; NULL when the error is not worth a retry. */
static const char *transient_failure(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        return "connection refused";
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out";
    case CURLE_GOT_NOTHING:
        return "connection dropped before a response";
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return "connection dropped during the response";
    default:
        return NULL;
    }
}

sb_status sb_http_request(const char *method, const char *url, const char *const *headers,
                          size_t nheaders, const char *body, size_t body_len,
                          const sb_http_options *options, sb_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    CURLcode init_code = curl_global_init(CURL_GLOBAL_DEFAULT); /* loads libcurl, once */
    if (init_code != CURLE_OK)
        return sb_fail(SB_ENET, "libcurl could not start: %s", curl_easy_strerror(init_code));
    long connect_ms =
        options && options->connect_timeout_ms > 0 ? options->connect_timeout_ms : 10000;
    long timeout_ms = options && options->timeout_ms > 0 ? options->timeout_ms : 60000;
    int max_retries = options && options->max_retries >= 0 ? options->max_retries : 3;
    long backoff_ms = options && options->backoff_ms >= 0 ? options->backoff_ms : 1000;
    long retry_after_max_ms =
        options && options->retry_after_max_ms >= 0 ? options->retry_after_max_ms : 60000;

    CURL *curl = curl_easy_init();
    if (!curl) return sb_fail(SB_ENET, "libcurl could not create a handle");
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < nheaders; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            curl_easy_cleanup(curl);
            return sb_fail(SB_ENOMEM, "out of memory building HTTP headers");
        }
        list = next;
    }
    char errbuf[CURL_ERROR_SIZE];
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (options && options->ca_bundle) curl_easy_setopt(curl, CURLOPT_CAINFO, options->ca_bundle);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sbengine");
    /* No redirects: a POST that is redirected would be replayed somewhere else. */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }

    sb_status status = SB_OK;
    for (int attempt = 0;; attempt++) {
        attempt_state a = {.retry_after_s = -1};
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
        errbuf[0] = '\0';
        CURLcode code = curl_easy_perform(curl);
        resp->attempts = attempt + 1;
        int last = attempt >= max_retries;
        long wait = backoff_ms; /* backoff_ms * 2^attempt, saturating */
        for (int k = 0; k < attempt && k < 20 && wait <= LONG_MAX / 2; k++)
            wait *= 2;
        char shown[1024];
        url_for_message(url, shown, sizeof shown);
        if (a.oom) {
            sb_buf_free(&a.body);
            status =
                sb_fail(SB_ENOMEM, "out of memory reading the response of %s %s", method, shown);
            break;
        }
        if (code != CURLE_OK) {
            sb_buf_free(&a.body);
            const char *what = transient_failure(code);
            if (what && !last) {
                sleep_ms(wait);
                continue;
            }
            char timeout_text[48] = "";
            if (code == CURLE_OPERATION_TIMEDOUT)
                snprintf(timeout_text, sizeof timeout_text, " (limit %.1f s)", timeout_ms / 1000.0);
            status = sb_fail(SB_ENET, "%s %s: %s%s after %d attempt%s (%s)", method, shown,
                             what ? what : curl_easy_strerror(code), timeout_text, attempt + 1,
                             attempt ? "s" : "", errbuf[0] ? errbuf : curl_easy_strerror(code));
            break;
        }
        long http_status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
        if (!last && retryable_status(http_status)) {
            sb_buf_free(&a.body);
            sleep_ms(wait);
            continue;
        }
        /* retry_after_s <= SB_HTTP_RETRY_AFTER_CAP: the product cannot overflow */
        if (!last && http_status == 429 && a.retry_after_s >= 0 &&
            a.retry_after_s * 1000 <= retry_after_max_ms) {
            sb_buf_free(&a.body);
            sleep_ms(a.retry_after_s * 1000 > wait ? a.retry_after_s * 1000 : wait);
            continue;
        }
        resp->status = http_status;
        if (!a.body.data) a.body.data = calloc(1, 1);
        resp->body = a.body.data;
        resp->body_len = a.body.len;
        break;
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return status;
}

void sb_http_response_free(sb_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
