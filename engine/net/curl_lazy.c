#include "net/curl_lazy.h"

#include "core/dynlib.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

/* The real entry points, resolved from libcurl.so.4 once. */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} real;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static CURLcode init_code = CURLE_FAILED_INIT;
static char load_error[512];

static void load_libcurl(void)
{
    void *lib = sb_dynlib_open("libcurl.so.4", "libcurl4", load_error, sizeof load_error);
    const sb_dynlib_symbol symbols[] = {
        SB_DYNLIB_SYMBOL(real.global_init, "curl_global_init"),
        SB_DYNLIB_SYMBOL(real.easy_init, "curl_easy_init"),
        SB_DYNLIB_SYMBOL(real.easy_setopt, "curl_easy_setopt"),
        SB_DYNLIB_SYMBOL(real.easy_perform, "curl_easy_perform"),
        SB_DYNLIB_SYMBOL(real.easy_getinfo, "curl_easy_getinfo"),
        SB_DYNLIB_SYMBOL(real.easy_cleanup, "curl_easy_cleanup"),
        SB_DYNLIB_SYMBOL(real.easy_strerror, "curl_easy_strerror"),
        SB_DYNLIB_SYMBOL(real.slist_append, "curl_slist_append"),
        SB_DYNLIB_SYMBOL(real.slist_free_all, "curl_slist_free_all"),
    };
    if (!lib || !sb_dynlib_resolve(lib, "libcurl.so.4", symbols, sizeof symbols / sizeof *symbols,
                                   "libcurl4", load_error, sizeof load_error)) {
        return;
    }
    /* The library stays loaded for the life of the process (curl keeps global state). */
    init_code = real.global_init(CURL_GLOBAL_DEFAULT);
}

static int loaded(void)
{
    pthread_once(&load_once, load_libcurl);
    return init_code == CURLE_OK;
}

/* The engine only ever asks for CURL_GLOBAL_DEFAULT; the first call decides. */
CURLcode sb_curl_global_init(long flags)
{
    (void)flags;
    pthread_once(&load_once, load_libcurl);
    return init_code;
}

CURL *sb_curl_easy_init(void)
{
    return loaded() ? real.easy_init() : NULL;
}

/* Forwards the one argument the way libcurl reads it: by the option's type range. */
CURLcode sb_curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    if (!loaded()) return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, option);
    CURLcode code;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long value = va_arg(ap, long);
        code = real.easy_setopt(curl, option, value);
    } else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
        curl_off_t value = va_arg(ap, curl_off_t);
        code = real.easy_setopt(curl, option, value);
    } else { /* object, string, slist, function pointers and blobs travel as pointers */
        void *value = va_arg(ap, void *);
        code = real.easy_setopt(curl, option, value);
    }
    va_end(ap);
    return code;
}

CURLcode sb_curl_easy_perform(CURL *curl)
{
    return loaded() ? real.easy_perform(curl) : CURLE_FAILED_INIT;
}

CURLcode sb_curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    if (!loaded()) return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, info);
    void *out = va_arg(ap, void *); /* every CURLINFO writes through one pointer */
    va_end(ap);
    return real.easy_getinfo(curl, info, out);
}

void sb_curl_easy_cleanup(CURL *curl)
{
    if (curl && loaded()) real.easy_cleanup(curl);
}

const char *sb_curl_easy_strerror(CURLcode code)
{
    pthread_once(&load_once, load_libcurl);
    if (!real.easy_strerror || (code == CURLE_FAILED_INIT && load_error[0])) return load_error;
    return real.easy_strerror(code);
}

struct curl_slist *sb_curl_slist_append(struct curl_slist *list, const char *string)
{
    return loaded() ? real.slist_append(list, string) : NULL;
}

void sb_curl_slist_free_all(struct curl_slist *list)
{
    if (list && loaded()) real.slist_free_all(list);
}
