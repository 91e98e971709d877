/* The Lua runtime of the sbengine executable: one lua_State with the standard libraries,
 * the engine's Lua library on package.path, `sbengine.core` preloaded (statically linked),
 * `sb` as a global, and helpers to run chunks with tracebacks. */
#ifndef SB_RUNTIME_H
#define SB_RUNTIME_H

#include <lua.h>

/* Creates the state. `argv0` locates an installed library (<prefix>/share/lua/5.4)
 * next to the binary; the in-tree source directory is the fallback. Returns NULL and
 * prints to stderr when Lua itself cannot start or `require "sbengine"` fails. */
lua_State *runtime_new(const char *argv0);
void runtime_close(lua_State *L);

/* The directory holding sbengine/init.lua that this runtime uses. */
const char *runtime_lua_dir(void);

/* Calls the function on top of the stack (with `nargs` arguments below it) under a
 * message handler that appends a traceback. Returns a LUA_* status; on error the message
 * (with traceback) is left on the stack. */
int runtime_pcall(lua_State *L, int nargs, int nresults);

/* runtime_pcall under SIGINT/SIGTERM handlers, as `lua` does for its scripts: the first
 * signal raises a Lua error ("interrupted by SIGINT") at the next Lua instruction, so the
 * script unwinds and the end-of-run hooks still store its results; a second signal while
 * the script is still running kills the process the usual way. The handlers stay installed
 * afterwards: while the results are being stored (core/finish_guard.h) a signal waits for
 * the write, a second saves them to a rescue file, and once stored it says where. */
int runtime_pcall_interruptible(lua_State *L, int nargs, int nresults);
/* Installs those handlers for the end of the run (when no script ran under them). */
void runtime_guard_finish(void);
/* The signal that interrupted a script (SIGINT, SIGTERM), or 0. */
int runtime_interrupt_signal(void);

/* Prints the error on top of the stack to stderr as "sbengine: <msg>" and pops it. */
void runtime_report(lua_State *L);

#endif
