/* File downloads with libcurl: through a temporary file next to the destination, checked,
 * then renamed, so the destination name only ever holds a complete, verified file. */
#ifndef SB_NET_DOWNLOAD_H
#define SB_NET_DOWNLOAD_H

#include <stdint.h>

#include "core/error.h"

/* Called as bytes arrive (total 0 while unknown). Return non-zero to cancel the transfer
 * (sb_download then fails with SB_ESTATE and sb_download_first tries no other URL). */
typedef int (*sb_download_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* Called with the complete temporary file before it is renamed; a failure (sb_fail) rejects
 * the file, which is then deleted. */
typedef sb_status (*sb_download_verify_fn)(void *ctx, const char *tmp_path);

typedef struct sb_download_options {
    const char *md5;              /* expected md5 of the bytes (hex), or NULL */
    sb_download_verify_fn verify; /* extra check, or NULL */
    void *verify_ctx;
    sb_download_progress_fn progress; /* or NULL */
    void *progress_ctx;
    long connect_timeout_s; /* 0 = 20 s */
    long stall_timeout_s;   /* abort when under 1 KiB/s this long; 0 = 30 s */
} sb_download_options;

/* Downloads `url` (http, https, file) to `dest`. On failure nothing is left at `dest` or in
 * a temporary file, and the message says why ("HTTP 404", "md5 is X, expected Y",
 * "transfer closed with 100 bytes remaining to read"...). */
sb_status sb_download(const char *url, const char *dest, const sb_download_options *opts);

/* Tries `urls` in order until one succeeds (*which = its index, may be NULL). When all
 * fail, the message lists every URL with its reason, one per line. */
sb_status sb_download_first(const char *const *urls, int n, const char *dest,
                            const sb_download_options *opts, int *which);

/* The datasets' mirror lists: `mirrors` holds base URLs separated by commas or blanks (at most
 * SB_DOWNLOAD_MAX_MIRRORS); `file` is appended to each (with a '/' where the base has none) and
 * the results are tried in order as sb_download_first does. `list_name` names the list in the
 * error when it holds no URL (e.g. the environment variable it came from). */
#define SB_DOWNLOAD_MAX_MIRRORS 32
sb_status sb_download_from_mirrors(const char *mirrors, const char *file, const char *dest,
                                   const sb_download_options *opts, const char *list_name);

#endif
