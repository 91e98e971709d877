/* `sbengine -i`: the interactive prompt, as `lua -i` gives it. Expressions (and `=expr`) print
 * their values through the global print, incomplete statements continue on the next line.
 * On a terminal, line editing, history (~/.sbengine_history) and tab completion of globals and
 * table fields come from libedit (or GNU readline), loaded with dlopen() when the prompt
 * starts, so that no other run pays for it; without either, plain lines. */
#include "cli/cli.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buildinfo.h"
#include "core/dynlib.h"
#include "runtime.h"

/* The readline API that libedit and GNU readline share. */
typedef char **(*completion_fn)(const char *, int, int);
typedef char *(*generator_fn)(const char *, int);
static struct {
    char *(*readline)(const char *);
    void (*add_history)(const char *);
    int (*read_history)(const char *);
    int (*write_history)(const char *);
    char **(*completion_matches)(const char *, generator_fn);
    completion_fn *attempted_completion;
    const char **word_break_characters;
    int *completion_append_character;
} rl;

static lua_State *completion_state; /* the prompt's state, for the completion callbacks */

static bool load_line_editor(void)
{
    static const char *const libraries[][2] = {{"libedit.so.2", "libedit2"},
                                               {"libreadline.so.8", "libreadline8"}};
    const sb_dynlib_symbol symbols[] = {
        SB_DYNLIB_SYMBOL(rl.readline, "readline"),
        SB_DYNLIB_SYMBOL(rl.add_history, "add_history"),
        SB_DYNLIB_SYMBOL(rl.read_history, "read_history"),
        SB_DYNLIB_SYMBOL(rl.write_history, "write_history"),
        SB_DYNLIB_SYMBOL(rl.completion_matches, "rl_completion_matches"),
        SB_DYNLIB_SYMBOL(rl.attempted_completion, "rl_attempted_completion_function"),
        SB_DYNLIB_SYMBOL(rl.word_break_characters, "rl_basic_word_break_characters"),
        SB_DYNLIB_SYMBOL(rl.completion_append_character, "rl_completion_append_character"),
    };
    char err[512];
    for (size_t k = 0; k < sizeof libraries / sizeof *libraries; k++) {
        void *lib = sb_dynlib_open(libraries[k][0], libraries[k][1], err, sizeof err);
        if (lib &&
            sb_dynlib_resolve(lib, libraries[k][0], symbols, sizeof symbols / sizeof *symbols,
                              libraries[k][1], err, sizeof err))
            return true;
    }
    return false;
}

/* --- completion: `sb.nn.Lin<TAB>` (sbengine._cli.complete walks the globals and fields) ---- */

static char **matches;
static size_t nmatches, next_match;

static void forget_matches(void)
{
    for (size_t k = next_match; k < nmatches; k++)
        free(matches[k]);
    free(matches);
    matches = NULL;
    nmatches = next_match = 0;
}

/* Asks Lua for the completions of `text`; errors mean "no completion". */
static void find_matches(const char *text)
{
    lua_State *L = completion_state;
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "sbengine._cli");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        lua_getfield(L, -1, "complete");
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            size_t n = (size_t)lua_rawlen(L, -1);
            matches = calloc(n ? n : 1, sizeof *matches);
            for (size_t k = 0; matches && k < n; k++) {
                lua_rawgeti(L, -1, (lua_Integer)k + 1);
                const char *m = lua_tostring(L, -1);
                if (m && (matches[nmatches] = malloc(strlen(m) + 1)))
                    strcpy(matches[nmatches++], m);
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top);
}

/* readline calls it with state 0 first, then until it returns NULL; it frees what it gets. */
static char *next_completion(const char *text, int state)
{
    if (state == 0) {
        forget_matches();
        find_matches(text);
    }
    return next_match < nmatches ? matches[next_match++] : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    *rl.completion_append_character = '\0';
    return rl.completion_matches(text, next_completion);
}

/* --- reading lines ----------------------------------------------------------------------- */

static bool editing;
static char history_path[4096];

static void start_line_editor(lua_State *L)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || !load_line_editor()) return;
    editing = true;
    completion_state = L;
    *rl.attempted_completion = complete;
    /* '.' and ':' are not word breaks: `sb.nn.Lin` is completed as one word */
    *rl.word_break_characters = " \t\n\"\\'><=;+-*/%^~#,(){}[]";
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(history_path, sizeof history_path, "%s/.sbengine_history", home);
        rl.read_history(history_path);
    }
}

/* One line without its newline (malloc'ed), or NULL at the end of input. */
static char *read_line(const char *prompt)
{
    if (editing) {
        char *line = rl.readline(prompt);
        if (line && *line) rl.add_history(line);
        return line;
    }
    fputs(prompt, stdout);
    fflush(stdout);
    char buf[4096];
    if (!fgets(buf, sizeof buf, stdin)) return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    char *line = malloc(strlen(buf) + 1);
    if (line) strcpy(line, buf);
    return line;
}

/* Runs the chunk on top of the stack and prints its results with the global print, as lua.c. */
static void run_and_print(lua_State *L)
{
    int top = lua_gettop(L) - 1;
    if (runtime_pcall(L, 0, LUA_MULTRET) != LUA_OK) {
        runtime_report(L);
        return;
    }
    int n = lua_gettop(L) - top;
    if (n > 0) {
        lua_getglobal(L, "print");
        lua_insert(L, top + 1);
        if (runtime_pcall(L, n, 0) != LUA_OK) runtime_report(L);
    }
    lua_settop(L, top);
}

static bool incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX) return false;
    size_t ml;
    const char *msg = lua_tolstring(L, -1, &ml);
    return ml >= 5 && strcmp(msg + ml - 5, "<eof>") == 0;
}

void sb_cli_repl(lua_State *L)
{
    printf("sbengine %s, %s -- `sb` is loaded; Ctrl-D exits\n", sb_engine_version(), LUA_RELEASE);
    start_line_editor(L);
    lua_pushliteral(L, ""); /* [pending] */
    for (;;) {
        bool first = lua_rawlen(L, -1) == 0;
        char *line = read_line(first ? "> " : ">> ");
        if (!line) break;
        /* `=expr` is `return expr` on a first line, as lua 5.4 still allows */
        if (first && line[0] == '=')
            lua_pushfstring(L, "return %s", line + 1);
        else
            lua_pushfstring(L, "%s%s\n", lua_tostring(L, -1), line); /* [pending, code] */
        free(line);
        lua_remove(L, -2); /* [code] */
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        int status = LUA_ERRSYNTAX;
        if (first) { /* an expression first, as lua.c: `1 + 1` prints 2 */
            const char *ret = lua_pushfstring(L, "return %s;", code); /* [code, ret] */
            status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
            lua_remove(L, -2); /* [code, fn|err] */
            if (status != LUA_OK) lua_pop(L, 1);
        }
        if (status != LUA_OK) {
            status = luaL_loadbuffer(L, code, len, "=stdin"); /* [code, fn|err] */
            if (incomplete(L, status)) {
                lua_pop(L, 1); /* [code]: keep reading */
                continue;
            }
            if (status != LUA_OK) {
                runtime_report(L); /* [code] */
                lua_pop(L, 1);
                lua_pushliteral(L, "");
                continue;
            }
        }
        lua_remove(L, -2); /* [fn] */
        run_and_print(L);
        lua_pushliteral(L, "");
    }
    lua_pop(L, 1);
    fputs("\n", stdout);
    forget_matches();
    if (editing && history_path[0]) rl.write_history(history_path);
}
