/* `sbengine --sandbox`: the CLI side (lua/sbengine/_sandbox.lua does the work, the kernel part
 * is engine/core/sandbox.c). */
#ifndef SB_SANDBOX_CLI_H
#define SB_SANDBOX_CLI_H

#include <lua.h>

/* Seals the results client, applies the kernel's protections, prints which are active and
 * keeps the script's environment. `script` may be NULL. Returns 0 with the error on the stack
 * (to report) when the sandbox could not be set up. */
int sandbox_cli_enter(lua_State *L, const char *script);

/* When the sandbox is on: gives the function on top of the stack (a chunk just loaded) the
 * script's environment as its _ENV. Does nothing otherwise. */
void sandbox_cli_set_env(lua_State *L);

#endif
