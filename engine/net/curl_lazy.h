/* libcurl, loaded on first use.
 *
 * Linking libcurl pulls ~40 shared libraries (TLS, Kerberos, LDAP, ...) into every process:
 * about 6 ms of the ~12 ms `sbengine -e ''` took (measured, docs/perf.md). Most runs never
 * touch the network, so the engine dlopen()s libcurl.so.4 the first time a transfer starts.
 * Include this header instead of <curl/curl.h>: the curl_* names used by the engine are
 * redirected to wrappers that load the library (and run curl_global_init once) and behave
 * like the real calls; when libcurl cannot be loaded, curl_global_init and curl_easy_init
 * fail, and curl_easy_strerror(CURLE_FAILED_INIT) says why. */
#ifndef SB_NET_CURL_LAZY_H
#define SB_NET_CURL_LAZY_H

#define CURL_DISABLE_TYPECHECK 1 /* the type-checking macros would hide our redirection */
#include <curl/curl.h>

CURLcode sb_curl_global_init(long flags);
CURL *sb_curl_easy_init(void);
CURLcode sb_curl_easy_setopt(CURL *curl, CURLoption option, ...);
CURLcode sb_curl_easy_perform(CURL *curl);
CURLcode sb_curl_easy_getinfo(CURL *curl, CURLINFO info, ...);
void sb_curl_easy_cleanup(CURL *curl);
const char *sb_curl_easy_strerror(CURLcode code);
struct curl_slist *sb_curl_slist_append(struct curl_slist *list, const char *string);
void sb_curl_slist_free_all(struct curl_slist *list);

#define curl_global_init sb_curl_global_init
#define curl_easy_init sb_curl_easy_init
#undef curl_easy_setopt /* curl.h may define it as a pass-through macro */
#define curl_easy_setopt sb_curl_easy_setopt
#define curl_easy_perform sb_curl_easy_perform
#undef curl_easy_getinfo
#define curl_easy_getinfo sb_curl_easy_getinfo
#define curl_easy_cleanup sb_curl_easy_cleanup
#define curl_easy_strerror sb_curl_easy_strerror
#define curl_slist_append sb_curl_slist_append
#define curl_slist_free_all sb_curl_slist_free_all

#endif
