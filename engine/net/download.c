#include "net/download.h"

#include "net/curl_lazy.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/md5.h"
#include "core/version.h"

typedef struct transfer {
    int fd;
    sb_md5 md5;
    int write_errno;
    const sb_download_options *opts;
    int aborted_by_progress;
} transfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    transfer *t = userp;
    size_t len = size * nmemb, done = 0;
    while (done < len) {
        ssize_t n = write(t->fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            t->write_errno = errno;
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        done += (size_t)n;
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

    size_t dlen = strlen(dest);
    char *tmp = malloc(dlen + 16);
    if (!tmp) return sb_fail(SB_ENOMEM, "cannot allocate a path");
    snprintf(tmp, dlen + 16, "%s.part.XXXXXX", dest);
    transfer t = {.fd = mkstemp(tmp), .opts = opts};
    if (t.fd < 0) {
        sb_status s = sb_fail(SB_EIO, "cannot create a temporary file next to '%s': %s", dest,
                              strerror(errno));
        free(tmp);
        return s;
    }
    sb_md5_init(&t.md5);

    CURL *curl = curl_easy_init();
    if (!curl) {
        close(t.fd);
        unlink(tmp);
        free(tmp);
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
        if (t.write_errno)
            s = sb_fail(SB_EIO, "cannot write '%s': %s", tmp, strerror(t.write_errno));
        else if (t.aborted_by_progress)
            s = sb_fail(SB_ESTATE, "download cancelled");
        else if (rc == CURLE_HTTP_RETURNED_ERROR)
            s = sb_fail(SB_ENET, "HTTP %ld", http);
        else
            s = sb_fail(SB_ENET, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (s == SB_OK && fchmod(t.fd, 0644) != 0)
        s = sb_fail(SB_EIO, "cannot chmod '%s': %s", tmp, strerror(errno));
    if (s == SB_OK && fsync(t.fd) != 0)
        s = sb_fail(SB_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (close(t.fd) != 0 && s == SB_OK)
        s = sb_fail(SB_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (s == SB_OK && opts->md5) {
        char got[33];
        sb_md5_final_hex(&t.md5, got);
        if (strcasecmp(got, opts->md5) != 0)
            s = sb_fail(SB_EFORMAT, "md5 mismatch: got %s, expected %s", got, opts->md5);
    }
    if (s == SB_OK && opts->verify) s = opts->verify(opts->verify_ctx, tmp);
    if (s == SB_OK && rename(tmp, dest) != 0)
        s = sb_fail(SB_EIO, "cannot rename '%s' to '%s': %s", tmp, dest, strerror(errno));
    if (s != SB_OK) unlink(tmp);
    free(tmp);
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
