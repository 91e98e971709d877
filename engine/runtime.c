#include "runtime.h"

#include "core/finish_guard.h"
#include "dist/dist.h"

#include <lauxlib.h>
#include <lualib.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int luaopen_sbengine_core(lua_State *L);

static char lua_dir[PATH_MAX + 64];

const char *runtime_lua_dir(void)
{
    return lua_dir;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int has_library(const char *dir)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/sbengine/init.lua", dir);
    return is_file(probe);
}

/* SBENGINE_LUA_DIR, else <exe>/../share/lua/5.4 (installed where lua5.4 looks), else the
 * source tree. */
static void locate_lua_dir(const char *argv0)
{
    const char *env = getenv("SBENGINE_LUA_DIR");
    if (env && *env) {
        snprintf(lua_dir, sizeof lua_dir, "%s", env);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 && argv0 && realpath(argv0, exe)) n = (ssize_t)strlen(exe);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char candidate[PATH_MAX + 32];
            snprintf(candidate, sizeof candidate, "%s/../share/lua/5.4", exe);
            if (has_library(candidate)) {
                snprintf(lua_dir, sizeof lua_dir, "%s", candidate);
                return;
            }
        }
    }
    snprintf(lua_dir, sizeof lua_dir, "%s", SBENGINE_SOURCE_LUA_DIR);
}

/* package.path = <lua_dir> entries, then whatever LUA_PATH/defaults gave, then the user's
 * LuaRocks tree (~/.luarocks), so installed rocks (benchmarks, metrics) are found. */
static void extend_path(lua_State *L, const char *field, const char *ours, const char *rocks)
{
    lua_getglobal(L, "package"); /* [package] */
    lua_getfield(L, -1, field);  /* [package, path] */
    const char *current = lua_tostring(L, -1);
    lua_pushfstring(L, "%s;%s%s%s", ours, current ? current : "", rocks ? ";" : "",
                    rocks ? rocks : ""); /* [package, path, newpath] */
    lua_setfield(L, -3, field);          /* [package, path] */
    lua_pop(L, 2);
}

static int message_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    /* An error inside a model, metric or transform: the library (lua/sbengine/_errors.lua)
     * puts the user's line and the failing part first, while the stack is still there. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "sbengine.decorate_error") == LUA_TFUNCTION) {
        lua_pushstring(L, msg);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int runtime_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

static lua_State *interrupt_state;
static volatile sig_atomic_t interrupt_signal;
static volatile sig_atomic_t in_script; /* the script runs: a signal unwinds it */
static volatile sig_atomic_t finishing; /* the script has ended: the results are next */
static volatile sig_atomic_t finishing_signals;

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted by %s", interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* --- async-signal-safe output: write(2) only, no stdio, no allocation --- */
static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void say_int(long v)
{
    char buf[24], *p = buf + sizeof buf - 1;
    *p = '\0';
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    say(p);
}

static const char *signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

/* Writes the whole payload to a new file at `path`; 1 on success. */
static int write_rescue(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    if (close(fd) != 0) ok = 0;
    if (!ok) unlink(path);
    return ok;
}

/* A second signal while the results are being stored: save them to a rescue file, say
 * what was kept, and end now. */
static void stop_storing(int sig, sb_finish_guard *g)
{
    const char *saved = NULL;
    for (int i = 0; i < SB_FINISH_MAX_RESCUES && g->rescues[i] && !saved; i++)
        if (write_rescue(g->rescues[i], g->payload, g->payload_len)) saved = g->rescues[i];
    say("sbengine: stopped by a second ");
    say(signal_name(sig));
    say(" while storing the results: ");
    if (saved) {
        say("the ");
        say_int(g->count);
        say(g->count == 1 ? " result of this run was saved to "
                          : " results of this run were saved to ");
        say(saved);
        say(" (sbengine submit ");
        say(saved);
        say(" sends them); ");
        say(g->store);
        say(" was left as it was or already holds them\n");
    } else {
        say("no rescue file could be written; the results of this run follow as JSON\n");
        say(g->payload);
        say("\n");
    }
    _exit(128 + sig);
}

/* Async-signal-safe. During the script: the first signal raises a Lua error at the next
 * instruction (lua_sethook is documented as safe here), a second kills the process. During
 * the end-of-run store write: the first signal waits for the write, a second saves the
 * results to a rescue file. After it: the signal says where the results are and ends. */
static void on_interrupt(int sig)
{
    sb_finish_guard *g = sb_finish_guard_get();
    if (g->phase == SB_FINISH_STORING) {
        if (!interrupt_signal) interrupt_signal = sig;
        if (g->signals++ == 0) {
            say("sbengine: ");
            say(signal_name(sig));
            say(" received while storing the results: finishing the write first (a second "
                "signal stops at once and saves them to a rescue file)\n");
            return;
        }
        stop_storing(sig, g);
    }
    if (g->phase == SB_FINISH_STORED) {
        say("sbengine: interrupted by ");
        say(signal_name(sig));
        say("; ");
        say(g->note);
        say("\n");
        _exit(128 + sig);
    }
    if (in_script && !interrupt_signal) {
        interrupt_signal = sig;
        lua_sethook(interrupt_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
        return;
    }
    if (finishing && !in_script && finishing_signals++ == 0) {
        /* between the script's end and the store write: let the results be stored */
        if (!interrupt_signal) interrupt_signal = sig;
        say("sbengine: ");
        say(signal_name(sig));
        say(" received: storing the results of this run first\n");
        return;
    }
    /* a second signal during the script, or after the end of the run: the usual end */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a store write blocked in flock() or write() resumes */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int runtime_pcall_interruptible(lua_State *L, int nargs, int nresults)
{
    /* A rank of an MPI job leaves SIGINT/SIGTERM to the launcher, which stops every rank
     * together: a rank that unwound on its own would leave the others waiting for it. */
    if (sb_dist_size() > 1) return runtime_pcall(L, nargs, nresults);
    interrupt_state = L;
    install(on_interrupt);
    in_script = 1;
    int status = runtime_pcall(L, nargs, nresults);
    in_script = 0;
    finishing = 1;
    return status;
}

void runtime_guard_finish(void)
{
    install(on_interrupt);
    finishing = 1;
}

int runtime_interrupt_signal(void)
{
    return interrupt_signal;
}

void runtime_report(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "sbengine: %s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
}

lua_State *runtime_new(const char *argv0)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "sbengine: cannot create the Lua state (out of memory)\n");
        return NULL;
    }
    luaL_openlibs(L);
    locate_lua_dir(argv0);

    char ours[2 * PATH_MAX + 64];
    snprintf(ours, sizeof ours, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
    const char *home = getenv("HOME");
    char rocks_path[2 * PATH_MAX + 128] = "", rocks_cpath[PATH_MAX + 64] = "";
    if (home && *home) {
        snprintf(rocks_path, sizeof rocks_path,
                 "%s/.luarocks/share/lua/5.4/?.lua;%s/.luarocks/share/lua/5.4/?/init.lua", home,
                 home);
        snprintf(rocks_cpath, sizeof rocks_cpath, "%s/.luarocks/lib/lua/5.4/?.so", home);
    }
    extend_path(L, "path", ours, rocks_path[0] ? rocks_path : NULL);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "cpath");
    lua_pushfstring(L, "%s%s%s", lua_tostring(L, -1), rocks_cpath[0] ? ";" : "", rocks_cpath);
    lua_setfield(L, -3, "cpath");
    lua_pop(L, 2);

    /* The C core is linked into the executable: preload it instead of searching. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_sbengine_core);
    lua_setfield(L, -2, "sbengine.core");
    lua_pop(L, 1);

    lua_getglobal(L, "require");
    lua_pushstring(L, "sbengine");
    if (runtime_pcall(L, 1, 1) != LUA_OK) {
        runtime_report(L);
        fprintf(stderr, "sbengine: the Lua library was looked for in %s\n", lua_dir);
        lua_close(L);
        return NULL;
    }
    lua_setglobal(L, "sb");
    return L;
}

void runtime_close(lua_State *L)
{
    if (L) lua_close(L);
}
