/* sbengine.core.net: one HTTP request with sbengine's retry policy (engine/net/http.h).
 *
 *   core.net.request{method=, url=, headers={...}, body=, connect_timeout=, timeout=,
 *                    retries=, backoff=, retry_after_max=, ca_bundle=}   (times in seconds)
 *     -> status, body, attempts          when the server answered (any status)
 *     -> nil, message, attempts          when it did not (refused, timed out, dropped)
 * A failed request is an expected outcome here, so it is returned, not raised. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "bindings/l_util.h"
#include "net/http.h"

#define MAX_HEADERS 32

static long seconds_to_ms(lua_State *L, int idx, const char *field, double dflt)
{
    double s = sbL_optfield_number(L, idx, field, dflt);
    /* NaN fails both tests; the cap keeps the milliseconds (and their doublings) in a long */
    if (!(s >= 0 && s <= 1e6))
        luaL_error(L, "request: option '%s' must be from 0 to 1000000 seconds, got %f", field, s);
    return (long)(s * 1000.0 + 0.5);
}

static int net_request(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *method = sbL_optfield_string(L, 1, "method", "GET");
    const char *url = sbL_optfield_string(L, 1, "url", NULL);
    if (!url) return luaL_error(L, "request: option 'url' is required");
    size_t body_len = 0;
    const char *body = NULL;
    if (lua_getfield(L, 1, "body") == LUA_TSTRING)
        body = lua_tolstring(L, -1, &body_len);
    else if (!lua_isnil(L, -1))
        return luaL_error(L, "request: option 'body' must be a string");
    lua_pop(L, 1); /* the options table keeps it alive */
    const char *headers[MAX_HEADERS];
    size_t nheaders = 0;
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n > MAX_HEADERS) return luaL_error(L, "request: at most %d headers", MAX_HEADERS);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, i);
            if (!lua_isstring(L, -1))
                return luaL_error(L, "request: headers[%d] must be a \"Name: value\" string",
                                  (int)i);
            headers[nheaders++] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    sb_http_options options = {
        .connect_timeout_ms = seconds_to_ms(L, 1, "connect_timeout", 10),
        .timeout_ms = seconds_to_ms(L, 1, "timeout", 60),
        .max_retries = (int)sbL_optfield_integer(L, 1, "retries", 3),
        .backoff_ms = seconds_to_ms(L, 1, "backoff", 1),
        .retry_after_max_ms = seconds_to_ms(L, 1, "retry_after_max", 60),
        .ca_bundle = sbL_optfield_string(L, 1, "ca_bundle", NULL),
    };
    if (options.max_retries < 0) return luaL_error(L, "request: option 'retries' must be >= 0");
    sb_http_response resp;
    sb_status s = sb_http_request(method, url, headers, nheaders, body, body_len, &options, &resp);
    if (s != SB_OK) {
        lua_pushnil(L);
        lua_pushstring(L, sb_error_message());
        lua_pushinteger(L, resp.attempts);
        return 3;
    }
    lua_pushinteger(L, resp.status);
    lua_pushlstring(L, resp.body ? resp.body : "", resp.body_len);
    lua_pushinteger(L, resp.attempts);
    sb_http_response_free(&resp);
    return 3;
}

int sbL_open_net(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"request", net_request},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
