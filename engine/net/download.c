#include "net/download.h"

#include "net/curl_lazy.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/md5.h"
#include "core/version.h"

typedef struct transfer {
    sb_atomic_file *out;
    sb_md5 md5;
    int write_failed;
    const sb_download_options *opts;
    int aborted_by_progress;
} transfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    transfer *t = userp;
    size_t len = size * nmemb;
    if (sb_atomic_write(t->out, data, len) != SB_OK) {
        t->write_failed = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    sb_md5_update(&t->md5, data, len);
    return len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)ultotal;
    (void)ulnow;
    transfer *t = userp;
    if (!t->opts->progress) return 0;
    if (t->opts->progress(t->opts->progress_ctx, (uint64_t)dlnow, (uint64_t)dltotal)) {
        t->aborted_by_progress = 1;
        return 1;
    }
    return 0;
}

sb_status sb_download(const char *url, const char *dest, const sb_download_options *opts)
{
    static const sb_download_options none = {0};
    if (!opts) opts = &none;
    CURLcode init_code = curl_global_init(CURL_GLOBAL_DEFAULT); /* loads libcurl, once */
    if (init_code != CURLE_OK)
        return sb_fail(SB_ENET, "libcurl could not start: %s", curl_easy_strerror(init_code));

    sb_atomic_file out;
    SB_TRY(sb_atomic_open(&out, dest));
    transfer t = {.out = &out, .opts = opts};
    sb_md5_init(&t.md5);

    CURL *curl = curl_easy_init();
    if (!curl) {
        sb_atomic_abort(&out);
        return sb_fail(SB_ENET, "curl_easy_init failed");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     opts->connect_timeout_s ? opts->connect_timeout_s : 20L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     opts->stall_timeout_s ? opts->stall_timeout_s : 30L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "sbengine/" SBENGINE_VERSION);
    CURLcode rc = curl_easy_perform(curl);
    long http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_cleanup(curl);

    sb_status s = SB_OK;
    if (rc != CURLE_OK) {
        if (t.write_failed)
            s = SB_EIO; /* on_write recorded the message */
        else if (t.aborted_by_progress)
            s = sb_fail(SB_ESTATE, "download cancelled");
        else if (rc == CURLE_HTTP_RETURNED_ERROR)
            s = sb_fail(SB_ENET, "HTTP %ld", http);
        else
            s = sb_fail(SB_ENET, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (s == SB_OK && opts->md5) {
        char got[33];
        sb_md5_final_hex(&t.md5, got);
        if (strcasecmp(got, opts->md5) != 0)
            s = sb_fail(SB_EFORMAT, "md5 mismatch: got %s, expected %s", got, opts->md5);
    }
    if (s == SB_OK && opts->verify) s = opts->verify(opts->verify_ctx, out.tmp);
    if (s == SB_OK) return sb_atomic_commit(&out);
    sb_atomic_abort(&out);
    return s;
}

sb_status sb_download_first(const char *const *urls, int n, const char *dest,
                            const sb_download_options *opts, int *which)
{
    if (n <= 0) return sb_fail(SB_EINVAL, "no URL to download '%s' from", dest);
    size_t cap = 256 + (size_t)n * 1200, used = 0;
    char *tried = malloc(cap);
    if (!tried) return sb_fail(SB_ENOMEM, "cannot allocate a message");
    tried[0] = '\0';
    sb_status last = SB_ENET;
    for (int i = 0; i < n; i++) {
        sb_status s = sb_download(urls[i], dest, opts);
        if (s == SB_OK) {
            if (which) *which = i;
            free(tried);
            return SB_OK;
        }
        if (s == SB_ESTATE) {
            free(tried);
            return s; /* cancelled by the progress callback: no other URL either */
        }
        last = s;
        int w = snprintf(tried + used, cap - used, "\n  %s: %.1000s", urls[i], sb_error_message());
        if (w > 0) used += (size_t)w < cap - used ? (size_t)w : cap - used - 1;
    }
    sb_fail(last == SB_EFORMAT ? SB_EFORMAT : SB_ENET, "every URL failed:%s", tried);
    free(tried);
    return last == SB_EFORMAT ? SB_EFORMAT : SB_ENET;
}

sb_status sb_download_from_mirrors(const char *mirrors, const char *file, const char *dest,
                                   const sb_download_options *opts, const char *list_name)
{
    char list[4096];
    snprintf(list, sizeof list, "%s", mirrors ? mirrors : "");
    char urls[SB_DOWNLOAD_MAX_MIRRORS][1024];
    const char *url_ptrs[SB_DOWNLOAD_MAX_MIRRORS];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ", \t\n", &save);
         tok && n < SB_DOWNLOAD_MAX_MIRRORS; tok = strtok_r(NULL, ", \t\n", &save), n++) {
        size_t len = strlen(tok);
        snprintf(urls[n], sizeof urls[n], "%s%s%s", tok, len && tok[len - 1] == '/' ? "" : "/",
                 file);
        url_ptrs[n] = urls[n];
    }
    if (n == 0) return sb_fail(SB_EINVAL, "%s lists no URL", list_name);
    return sb_download_first(url_ptrs, n, dest, opts, NULL);
}
