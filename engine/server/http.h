/* The server's HTTP layer (libmicrohttpd). */
#ifndef SB_SERVER_HTTP_H
#define SB_SERVER_HTTP_H

#include <sys/socket.h>

#include "server/server.h"

typedef struct sb_http sb_http;

typedef struct sb_http_options {
    unsigned threads;         /* the thread pool */
    unsigned max_connections; /* open connections in all */
    unsigned max_per_ip;      /* open connections per client address */
    unsigned timeout_s;       /* an idle connection is closed after this */
} sb_http_options;

sb_status sb_http_start(sb_server *server, const struct sockaddr *addr, const sb_http_options *o,
                        sb_http **out);
int sb_http_port(sb_http *http);
void sb_http_stop(sb_http *http);

#endif
