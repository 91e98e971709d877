/* The plugin's entry point: `sbengine serve [...]` and `sbengine report [...]`. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/http.h"
#include "server/server.h"

#define SB_EXPORT __attribute__((visibility("default")))

static const char serve_usage[] =
    "usage: sbengine serve [--db PATH|postgresql://...] [--listen HOST:PORT] [--public-url URL]\n"
    "                      [--threads N] [--rate-limit N] [--max-body BYTES] [--timeout S]\n"
    "                      [--max-connections N]\n"
    "       sbengine serve [--db ...] --add-user NAME [--password-stdin]\n"
    "\n"
    "Runs the results server: the API of docs/server-api.md under /api/v0/ and the leaderboard\n"
    "pages (docs/server.md).\n"
    "  --db WHERE          SQLite file (default ./sbengine-results.sqlite) or a PostgreSQL URL\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --public-url URL    the address users reach the server at (behind a proxy): printed,\n"
    "                      and the base of the result pages' addresses in replies\n"
    "  --threads N         request threads, each with its own database connection (default 8)\n"
    "  --rate-limit N      requests per minute per token, in bursts of as many (default 600;\n"
    "                      0 = no limit)\n"
    "  --max-body BYTES    largest request body (default 1048576)\n"
    "  --timeout S         idle connections are closed after S seconds (default 15)\n"
    "  --max-connections N open connections in all (default 512; a quarter per client address)\n"
    "  --add-user NAME     add a user and print a new token for it (once; it is stored hashed)\n"
    "  --password-stdin    with --add-user: read a password for POST auth/token/ from stdin\n";

static int usage(const char *fmt, const char *what)
{
    fputs("sbengine serve: ", stderr);
    fprintf(stderr, fmt, what);
    fputs(" (see sbengine serve --help)\n", stderr);
    return 2;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-') return false;
    *out = v;
    return true;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" -> an address. */
static bool parse_listen(const char *listen, struct sockaddr_storage *ss, char *host, size_t hn,
                         int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon) return false;
    size_t n = (size_t)(colon - listen);
    if (n >= hn) return false;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (!*host) snprintf(host, hn, "0.0.0.0");
    unsigned long p;
    if (!parse_uint(colon + 1, 65535, &p)) return false;
    *port = (int)p;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) return false;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return true;
}

static int serve_command(int argc, char **argv)
{
    const char *where = "./sbengine-results.sqlite", *listen = "127.0.0.1:8080";
    const char *public_url = NULL, *add_user = NULL;
    bool password_stdin = false;
    unsigned long threads = 8, rate = 600, max_body = 1 << 20, timeout = 15, max_conn = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE()                                                                                    \
    do {                                                                                           \
        if (!v) return usage("option '%s' needs a value", a);                                      \
        i++;                                                                                       \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(serve_usage, stdout);
            return 0;
        } else if (strcmp(a, "--db") == 0) {
            VALUE();
            where = v;
        } else if (strcmp(a, "--listen") == 0) {
            VALUE();
            listen = v;
        } else if (strcmp(a, "--public-url") == 0) {
            VALUE();
            public_url = v;
        } else if (strcmp(a, "--add-user") == 0) {
            VALUE();
            add_user = v;
        } else if (strcmp(a, "--password-stdin") == 0) {
            password_stdin = true;
        } else if (strcmp(a, "--threads") == 0) {
            VALUE();
            if (!parse_uint(v, 256, &threads) || threads == 0)
                return usage("--threads needs a number from 1 to 256, got '%s'", v);
        } else if (strcmp(a, "--rate-limit") == 0) {
            VALUE();
            if (!parse_uint(v, 1000000000, &rate))
                return usage("--rate-limit needs a number of requests per minute, got '%s'", v);
        } else if (strcmp(a, "--max-body") == 0) {
            VALUE();
            if (!parse_uint(v, 1ul << 30, &max_body) || max_body < 1024)
                return usage("--max-body needs a number of bytes from 1024 to 1 GiB, got '%s'", v);
        } else if (strcmp(a, "--timeout") == 0) {
            VALUE();
            if (!parse_uint(v, 3600, &timeout) || timeout == 0)
                return usage("--timeout needs a number of seconds from 1 to 3600, got '%s'", v);
        } else if (strcmp(a, "--max-connections") == 0) {
            VALUE();
            if (!parse_uint(v, 100000, &max_conn) || max_conn < 4)
                return usage("--max-connections needs a number from 4 to 100000, got '%s'", v);
        } else {
            return usage("unknown option '%s'", a);
        }
#undef VALUE
    }
    if (password_stdin && !add_user) return usage("%s goes with --add-user", "--password-stdin");
    struct sockaddr_storage addr;
    char host[256];
    int port = 0;
    if (!add_user && !parse_listen(listen, &addr, host, sizeof host, &port))
        return usage("--listen needs HOST:PORT (e.g. 127.0.0.1:8080), got '%s'", listen);

    sb_db *db = NULL;
    if (sb_db_open(where, &db) != SB_OK) {
        fprintf(stderr, "sbengine serve: %s\n", sb_error_message());
        return 1;
    }
    if (add_user) {
        char password[1024] = "", token[65];
        if (password_stdin) {
            if (!fgets(password, sizeof password, stdin) || password[0] == '\n') {
                sb_db_close(db);
                fprintf(stderr, "sbengine serve: --password-stdin: no password on stdin\n");
                return 2;
            }
            password[strcspn(password, "\r\n")] = '\0';
        }
        sb_status st = sb_auth_add_user(db, add_user, password_stdin ? password : NULL, token);
        sb_db_close(db);
        if (st != SB_OK) {
            fprintf(stderr, "sbengine serve: --add-user: %s\n", sb_error_message());
            return 1;
        }
        printf("%s\n", token);
        fprintf(stderr,
                "sbengine serve: user '%s' added; its token is printed above, once (the server "
                "keeps only a hash): SOTABENCH_TOKEN=<token>\n",
                add_user);
        return 0;
    }
    sb_db_close(db); /* request threads open their own; the writer has one */

    /* Signals are taken by sigwait below: block them before any thread starts. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    sb_server server = {where, public_url, max_body, NULL, NULL};
    if (rate > 0 && !(server.ratelimit = sb_ratelimit_new((double)rate))) {
        fprintf(stderr, "sbengine serve: out of memory\n");
        return 1;
    }
    if (sb_writer_start(where, &server.writer) != SB_OK) {
        fprintf(stderr, "sbengine serve: %s\n", sb_error_message());
        sb_ratelimit_free(server.ratelimit);
        return 1;
    }
    sb_http_options o = {(unsigned)threads, (unsigned)max_conn,
                         (unsigned)(max_conn / 4 > 0 ? max_conn / 4 : 1), (unsigned)timeout};
    sb_http *http = NULL;
    if (sb_http_start(&server, (struct sockaddr *)&addr, &o, &http) != SB_OK) {
        fprintf(stderr, "sbengine serve: cannot listen on %s: %s\n", listen, sb_error_message());
        sb_writer_stop(server.writer);
        sb_ratelimit_free(server.ratelimit);
        return 1;
    }
    port = sb_http_port(http);
    bool v6 = strchr(host, ':') != NULL;
    printf("sbengine serve: listening on http://%s%s%s:%d/ (%s database %s; API at "
           "http://%s%s%s:%d/api/v0/)\n",
           v6 ? "[" : "", host, v6 ? "]" : "", port,
           sb_db_is_postgres(where) ? "PostgreSQL" : "SQLite",
           sb_db_is_postgres(where) ? "(URL not shown)" : where, v6 ? "[" : "", host, v6 ? "]" : "",
           port);
    if (public_url) printf("sbengine serve: public URL %s\n", public_url);
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "sbengine serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sb_http_stop(http);
    sb_writer_stop(server.writer);
    sb_ratelimit_free(server.ratelimit);
    return 0;
}

SB_EXPORT int sb_server_command(int argc, char **argv)
{
    if (strcmp(argv[0], "serve") == 0) return serve_command(argc, argv);
    if (strcmp(argv[0], "report") == 0) return sb_report_command(argc, argv);
    fprintf(stderr, "sbengine: the server plugin has no command '%s'\n", argv[0]);
    return 2;
}
