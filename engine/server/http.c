/* HTTP on libmicrohttpd: a fixed pool of threads (each with its own database connection),
 * keep-alive, a connection limit overall and per client address, an idle time-out (a client
 * that stops sending is dropped: slow "slowloris" clients cannot hold threads), and a limit
 * on request bodies checked on Content-Length before any byte of the body is read. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

typedef struct request_state {
    sb_buf body;
    bool too_big;
} request_state;

static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

static void close_db(void *db)
{
    sb_db_close(db);
}
static void make_db_key(void)
{
    pthread_key_create(&db_key, close_db);
}

/* This thread's connection, opened on first use. */
static sb_db *thread_db(sb_server *server)
{
    pthread_once(&db_key_once, make_db_key);
    sb_db *db = pthread_getspecific(db_key);
    if (!db && sb_db_open(server->db_where, &db) == SB_OK) pthread_setspecific(db_key, db);
    if (!db) fprintf(stderr, "sbengine serve: %s\n", sb_error_message());
    return db;
}

static const char *get_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static const char *get_query(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, sb_reply *reply, bool head)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        head ? 0 : reply->body.len, reply->body.data ? reply->body.data : (char *)"",
        MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            reply->content_type ? reply->content_type : "application/json");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (reply->content_type && strncmp(reply->content_type, "text/html", 9) == 0)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    if (reply->retry_after > 0) {
        char v[24];
        snprintf(v, sizeof v, "%ld", reply->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)reply->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    sb_server *server = cls;
    request_state *rs = *con_cls;
    if (!rs) { /* first call: headers only */
        rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        *con_cls = rs;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > server->max_body) {
            sb_reply reply = {0};
            char msg[96];
            snprintf(msg, sizeof msg, "the body is larger than %zu bytes", server->max_body);
            sb_reply_errors(&reply, 413, msg);
            enum MHD_Result r = send_reply(conn, &reply, false);
            sb_buf_free(&reply.body);
            rs->too_big = true;
            return r;
        }
        return MHD_YES;
    }
    if (*upload_data_size) { /* a piece of the body (chunked bodies are counted as they come) */
        if (!rs->too_big) {
            if (rs->body.len + *upload_data_size > server->max_body) {
                rs->too_big = true;
                sb_buf_free(&rs->body);
            } else if (sb_buf_append(&rs->body, upload_data, *upload_data_size) != SB_OK) {
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    sb_reply reply = {0};
    if (rs->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", server->max_body);
        sb_reply_errors(&reply, 413, msg);
    } else {
        sb_request req = {server,       thread_db(server), method,    url, rs->body.data,
                          rs->body.len, get_header,        get_query, conn};
        if (!req.db) {
            sb_reply_errors(&reply, 503, "the database is not available; try again");
        } else if (strncmp(url, "/api/v0/", 8) == 0) {
            sb_api_route(&req, url + 8, &reply);
        } else {
            sb_pages_route(&req, &reply);
        }
        if (req.db && sb_db_broken(req.db)) { /* the next request on this thread reconnects */
            pthread_setspecific(db_key, NULL);
            sb_db_close(req.db);
        }
    }
    enum MHD_Result r = send_reply(conn, &reply, strcmp(method, "HEAD") == 0);
    sb_buf_free(&reply.body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)conn, (void)code;
    request_state *rs = *con_cls;
    if (!rs) return;
    sb_buf_free(&rs->body);
    free(rs);
    *con_cls = NULL;
}

/* Each connection's header buffer: 32 KiB, which libmicrohttpd takes from malloc; above that
 * it mmap()s and munmap()s a fresh region per connection, and the TLB shootdowns of those
 * munmaps cost more than the rest of a submission (perf record, docs/perf.md). */
sb_status sb_http_start(sb_server *server, const struct sockaddr *addr, const sb_http_options *o,
                        sb_http **out)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_THREAD_POOL_SIZE, o->threads, MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        o->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 256,
        MHD_OPTION_END);
    if (!d) return sb_fail(SB_ENET, "libmicrohttpd could not listen (the address may be in use)");
    *out = (sb_http *)d;
    return SB_OK;
}

int sb_http_port(sb_http *http)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info((struct MHD_Daemon *)http, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void sb_http_stop(sb_http *http)
{
    if (http) MHD_stop_daemon((struct MHD_Daemon *)http);
}
