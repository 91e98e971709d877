/* A small HTTP client over libcurl for the results server (DESIGN §4, docs/server-api.md).
 *
 * One call = one logical request with the retry policy of sotabench's client: up to
 * `max_retries` more attempts, waiting backoff_ms * 2^k before attempt k+1, when the
 * connection is refused, times out, is dropped before a full response, or the server answers
 * 500/502/503/504. A 429 waits for Retry-After (seconds) when it is at most
 * retry_after_max_ms, then retries. TLS certificates and host names are always verified.
 * Header values (the Authorization token) never enter error messages. */
#ifndef SB_NET_HTTP_H
#define SB_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sb_http_options {
    long connect_timeout_ms; /* 0 = 10 s */
    long timeout_ms;         /* whole request, per attempt; 0 = 60 s */
    int max_retries;         /* extra attempts after the first; < 0 = 3 */
    long backoff_ms;         /* first wait; doubles each retry; < 0 = 1000 */
    long retry_after_max_ms; /* longest Retry-After honoured; < 0 = 60 s */
    const char *ca_bundle;   /* PEM file of trusted CAs instead of the system's; NULL = system */
} sb_http_options;

typedef struct sb_http_response {
    long status; /* HTTP status of the last attempt */
    char *body;  /* NUL-terminated (may contain NULs before body_len) */
    size_t body_len;
    int attempts; /* how many requests were sent */
} sb_http_response;

/* Sends `method` (GET/POST) to `url` with `headers` ("Name: value" strings) and `body`.
 * Returns SB_OK with the last response whenever the server answered, whatever the status
 * (including 5xx after the retries ran out); SB_ENET when no answer came (message says what:
 * "connection refused", "timed out after 2.0 s", "connection dropped before a response"
 * and after how many attempts); resp->attempts is set in both cases. */
sb_status sb_http_request(const char *method, const char *url, const char *const *headers,
                          size_t nheaders, const char *body, size_t body_len,
                          const sb_http_options *options, sb_http_response *resp);
void sb_http_response_free(sb_http_response *resp);

/* The largest Retry-After honoured as such (one day); larger values count as this. */
#define SB_HTTP_RETRY_AFTER_CAP 86400L

/* Parses one response header line (`n` bytes, not NUL-terminated): true with *seconds when
 * it is "Retry-After: <delta-seconds>" (case-insensitive), clamped to
 * SB_HTTP_RETRY_AFTER_CAP; false for any other header, an HTTP-date or a negative value. */
bool sb_http_retry_after(const char *line, size_t n, long *seconds);

#endif
