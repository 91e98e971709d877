/* The sbengine command line: argv, environment, exit codes. The heavy lifting lives in
 * the Lua library (lua/sbengine/) and the core C library; this file only parses options,
 * hands them to `sbengine.session`, runs the script and maps the outcome to an exit code.
 *
 * Exit codes: 0 ok, 1 script error, 2 usage error, 3 evaluated but submission failed. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/buildinfo.h"
#include "gpu/cuda.h"
#include "nn/cpu/onednn.h"
#include "runtime.h"
#include "eval_cli.h"
#include "server_cli.h"

enum { EXIT_OK = 0, EXIT_SCRIPT_ERROR = 1, EXIT_USAGE = 2, EXIT_SUBMIT_FAILED = 3 };

#define MAX_CHUNKS 64
#define MAX_METRIC_DIRS 16

typedef struct cli_options {
    const char *command;            /* "run", "check", "submit", "devices" */
    const char *chunks[MAX_CHUNKS]; /* -e CODE, in order */
    int nchunks;
    int interactive;
    int check_params; /* check --params */
    const char *out, *device, *data_root, *server, *profile;
    const char *metric_dirs[MAX_METRIC_DIRS];
    int nmetric_dirs;
    int submit, no_cache, quiet, progress;
    int allow_nonfinite, insecure_http;
    long threads;     /* 0 = default */
    int script_index; /* argv index of the script (or submit FILE); 0 = none */
} cli_options;

static const char usage_text[] =
    "usage: sbengine [OPTIONS] SCRIPT.lua [ARGS...]   run a script (same as `sbengine run`)\n"
    "       sbengine check [--params] [OPTIONS] SCRIPT.lua [ARGS...]\n"
    "       sbengine submit [OPTIONS] FILE\n"
    "       sbengine devices\n"
    "       sbengine serve [--db PATH|postgresql://...] [--listen HOST:PORT] [--public-url URL]\n"
    "       sbengine report STORE.json -o REPORT.html\n"
    "       sbengine -e CODE | -i | --version | --help\n";

static const char help_text[] =
    "\n"
    "Runs machine-learning evaluation benchmarks written in Lua. Options before the script\n"
    "belong to the engine; everything after it reaches the script in `arg` and `...`.\n"
    "\n"
    "Commands:\n"
    "  run SCRIPT          evaluate: run the script, print results, store them as JSON\n"
    "  check SCRIPT        check mode: run one batch and validate the result with the server;\n"
    "                      with --params build the result from the parameters only\n"
    "  submit FILE         send the results stored in FILE to the results server\n"
    "  devices             list the devices this engine can use\n"
    "  serve               run the results server and leaderboards (sbengine serve --help)\n"
    "  report STORE -o F   the leaderboards of a store file as one HTML file\n"
    "\n"
    "Options:\n"
    "  -e CODE             run CODE (may repeat; runs before SCRIPT)\n"
    "  -i                  interactive prompt with `sb` loaded (default with no arguments\n"
    "                      on a terminal); `-` as SCRIPT reads the script from stdin\n"
    "  --out FILE          store file (default $SOTABENCH_STORE_FILENAME or\n"
    "                      sotabench_results.json); results are appended, never truncated\n"
    "  --device D          cpu, cuda or cuda:N (default: cuda when available, else cpu)\n"
    "  --data-root DIR     root folder for datasets\n"
    "  --metrics DIR       also load metric scripts from DIR (may repeat;\n"
    "                      see $SBENGINE_METRICS_PATH)\n"
    "  --server URL        results server (default $SOTABENCH_URL)\n"
    "  --profile NAME      profile of ~/.sotabench/sotabenchapi.ini for the token\n"
    "  --submit            submit the results to the server after the run\n"
    "  --allow-nonfinite   submit results whose model gave NaN or infinite outputs\n"
    "                      (refused otherwise; also $SBENGINE_ALLOW_NONFINITE=1)\n"
    "  --insecure-http     send the token over plain http:// to a server that is not\n"
    "                      loopback (refused otherwise; also $SBENGINE_INSECURE_HTTP=1)\n"
    "  --no-cache          do not look the run hash up on the server; always evaluate\n"
    "  --quiet             no progress bars\n"
    "  --progress          progress bars even when stderr is not a terminal\n"
    "  --threads N         CPU threads for the engine and OpenBLAS\n"
    "  --version           print versions (engine, Lua, BLAS, CUDA) and visible GPUs\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 ok, 1 script error, 2 usage error, 3 evaluated but submission failed,\n"
    "130/143 interrupted by SIGINT/SIGTERM (the results created so far are still stored).\n";

static int usage_error(const char *fmt, const char *what)
{
    fputs("sbengine: ", stderr);
    fprintf(stderr, fmt, what);
    fputs(" (see sbengine --help)\n", stderr);
    return EXIT_USAGE;
}

static void print_version(void)
{
    printf("sbengine %s (%s)\n", sb_engine_version(), sb_engine_git_revision());
    printf("Lua: %s\n", LUA_RELEASE);
    printf("BLAS: %s\n", sb_blas_info());
    if (sb_blas_loaded())
        printf("BLAS kernel: %s (%s)\n", sb_blas_kernel(), sb_blas_kernel_origin());
    printf("oneDNN: %s\n", sb_onednn_info());
    if (!sb_built_with_cuda()) {
        printf("CUDA: not built with CUDA\n");
    } else if (!sb_cuda_plugin_loaded()) {
        printf("CUDA: plugin not loaded: %s\n", sb_cuda_plugin_error());
    } else {
        int rt = sb_cuda_runtime_version(), drv = sb_cuda_driver_version();
        int cublas = sb_cublas_version();
        printf("CUDA: runtime %d.%d, cuBLAS %d.%d.%d, driver ", rt / 1000, (rt % 1000) / 10,
               cublas / 10000, (cublas / 100) % 100, cublas % 100);
        if (drv)
            printf("%d.%d\n", drv / 1000, (drv % 1000) / 10);
        else
            printf("not found\n");
    }
    int gpus = sb_cuda_device_count();
    if (gpus == 0) {
        printf("GPU: none visible\n");
    } else {
        for (int i = 0; i < gpus; i++) {
            char name[256] = "";
            size_t mem = 0;
            sb_cuda_device_info(i, name, sizeof name, &mem);
            printf("GPU: cuda:%d %s (%.1f GiB)\n", i, name, (double)mem / (1u << 30));
        }
    }
}

static int print_devices(void)
{
    printf("cpu\t%ld cores\n", sysconf(_SC_NPROCESSORS_ONLN));
    int gpus = sb_cuda_device_count();
    for (int i = 0; i < gpus; i++) {
        char name[256] = "";
        size_t mem = 0;
        if (sb_cuda_device_info(i, name, sizeof name, &mem))
            printf("cuda:%d\t%s, %.1f GiB\n", i, name, (double)mem / (1u << 30));
    }
    fflush(stdout);
    if (gpus == 0) fprintf(stderr, "sbengine: no GPU: %s\n", sb_cuda_unavailable_reason());
    return EXIT_OK;
}

/* Takes the value of an option that needs one: "--out FILE" or "--out=FILE". */
static const char *option_value(int argc, char **argv, int *i, const char *name, int *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        usage_error("option '%s' needs a value", name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

static int matches(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* The form of a device name ("cpu", "cuda", "cuda:N"); whether that GPU exists is for the
 * run to find out, with its reason. */
static bool valid_device(const char *d)
{
    if (strcmp(d, "cpu") == 0 || strcmp(d, "cuda") == 0) return true;
    if (strncmp(d, "cuda:", 5) != 0 || !d[5]) return false;
    for (const char *p = d + 5; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

/* Returns -1 when parsing succeeded, else the exit code to leave with. */
static int parse_options(int argc, char **argv, cli_options *o)
{
    int i = 1;
    o->command = "run";
    if (argc > 1) {
        const char *commands[] = {"run", "check", "submit", "devices"};
        for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
            if (strcmp(argv[1], commands[c]) == 0) {
                o->command = commands[c];
                i = 2;
            }
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (a[0] != '-' || strcmp(a, "-") == 0) break; /* the script */
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            print_version();
            return EXIT_OK;
        } else if (strcmp(a, "-i") == 0) {
            o->interactive = 1;
        } else if (strncmp(a, "-e", 2) == 0) {
            const char *code = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!code) return usage_error("option '%s' needs a value", "-e");
            if (o->nchunks == MAX_CHUNKS) return usage_error("too many %s options", "-e");
            o->chunks[o->nchunks++] = code;
        } else if (strcmp(a, "--params") == 0 && strcmp(o->command, "check") == 0) {
            o->check_params = 1;
        } else if (matches(a, "--out")) {
            o->out = option_value(argc, argv, &i, "--out", &bad);
        } else if (matches(a, "--device")) {
            o->device = option_value(argc, argv, &i, "--device", &bad);
            if (!bad && !valid_device(o->device))
                return usage_error("--device must be cpu, cuda or cuda:N, got '%s'", o->device);
        } else if (matches(a, "--data-root")) {
            o->data_root = option_value(argc, argv, &i, "--data-root", &bad);
        } else if (matches(a, "--server")) {
            o->server = option_value(argc, argv, &i, "--server", &bad);
        } else if (matches(a, "--profile")) {
            o->profile = option_value(argc, argv, &i, "--profile", &bad);
        } else if (matches(a, "--metrics")) {
            const char *dir = option_value(argc, argv, &i, "--metrics", &bad);
            if (!bad && o->nmetric_dirs == MAX_METRIC_DIRS)
                return usage_error("too many %s options", "--metrics");
            if (!bad) o->metric_dirs[o->nmetric_dirs++] = dir;
        } else if (matches(a, "--threads")) {
            const char *v = option_value(argc, argv, &i, "--threads", &bad);
            if (!bad) {
                char *end = NULL;
                errno = 0;
                o->threads = strtol(v, &end, 10);
                if (errno || end == v || *end || o->threads < 1 || o->threads > 1024)
                    return usage_error("--threads needs a whole number from 1 to 1024, got '%s'",
                                       v);
            }
        } else if (strcmp(a, "--submit") == 0) {
            o->submit = 1;
        } else if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = 1;
        } else if (strcmp(a, "--allow-nonfinite") == 0) {
            o->allow_nonfinite = 1;
        } else if (strcmp(a, "--insecure-http") == 0) {
            o->insecure_http = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else {
            return usage_error("unknown option '%s'", a);
        }
        if (bad) return EXIT_USAGE;
    }
    if (i < argc) o->script_index = i;
    return -1;
}

static void set_string(lua_State *L, const char *key, const char *value)
{
    if (!value) return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void set_boolean(lua_State *L, const char *key, int value)
{
    lua_pushboolean(L, value);
    lua_setfield(L, -2, key);
}

/* Pushes require(module)[name] and returns 1, or leaves require's error on the stack and
 * returns 0. */
static int push_module_function(lua_State *L, const char *module, const char *name)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    if (runtime_pcall(L, 1, 1) != LUA_OK) return 0; /* [error] */
    lua_getfield(L, -1, name);                      /* [module, fn] */
    lua_remove(L, -2);                              /* [fn] */
    return 1;
}

/* require("sbengine.session").configure{...}: the one place CLI options enter Lua. */
static int configure_session(lua_State *L, const cli_options *o)
{
    if (!push_module_function(L, "sbengine.session", "configure")) return 0; /* [configure] */
    lua_newtable(L);                                                         /* [configure, cfg] */
    set_string(L, "command", o->command);
    set_string(L, "out", o->out);
    set_string(L, "device", o->device);
    set_string(L, "data_root", o->data_root);
    set_string(L, "server", o->server);
    set_string(L, "profile", o->profile);
    set_boolean(L, "submit", o->submit);
    set_boolean(L, "no_cache", o->no_cache);
    set_boolean(L, "allow_nonfinite", o->allow_nonfinite);
    set_boolean(L, "insecure_http", o->insecure_http);
    set_boolean(L, "quiet", o->quiet);
    set_boolean(L, "progress", o->progress);
    if (strcmp(o->command, "check") == 0)
        set_string(L, "check", o->check_params ? "params" : "full");
    if (o->threads > 0) {
        lua_pushinteger(L, o->threads);
        lua_setfield(L, -2, "threads");
    }
    lua_newtable(L);
    for (int k = 0; k < o->nmetric_dirs; k++) {
        lua_pushstring(L, o->metric_dirs[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "metric_dirs");
    return runtime_pcall(L, 1, 0) == LUA_OK;
}

/* require("sbengine.session").finish(ok): runs end-of-run hooks (the store file...) and
 * returns the exit code they ask for (3 when a submission failed), or nil. */
static int finish_session(lua_State *L, int ok)
{
    runtime_guard_finish();
    if (!push_module_function(L, "sbengine.session", "finish")) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    lua_pushboolean(L, ok);
    /* No traceback: finish re-raises a hook's error from session.lua, so a traceback would
     * only show the engine's own frames under a message that already says what failed
     * (a store file that cannot be written, and where the results went instead). */
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : -1;
    lua_pop(L, 1);
    return code;
}

/* arg = { [-n..-1] = interpreter and options, [0] = script, [1..] = script arguments } */
static void create_arg_table(lua_State *L, int argc, char **argv, int script_index)
{
    int base = script_index > 0 ? script_index : argc;
    lua_createtable(L, argc - base, base + 1);
    for (int k = 0; k < argc; k++) {
        lua_pushstring(L, argv[k]);
        lua_rawseti(L, -2, k - base);
    }
    lua_setglobal(L, "arg");
}

static int run_chunk_string(lua_State *L, const char *code)
{
    if (luaL_loadbuffer(L, code, strlen(code), "=(command line)") != LUA_OK) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    if (runtime_pcall_interruptible(L, 0, 0) != LUA_OK) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    return EXIT_OK;
}

static int run_script(lua_State *L, int argc, char **argv, int script_index)
{
    const char *path = argv[script_index];
    const char *chunkname = strcmp(path, "-") == 0 ? NULL : path;
    int status = luaL_loadfile(L, chunkname);
    if (status == LUA_ERRFILE) {
        lua_pop(L, 1);
        fprintf(stderr, "sbengine: cannot open script '%s': %s\n", path,
                errno ? strerror(errno) : "unreadable");
        return EXIT_USAGE;
    }
    if (status != LUA_OK) { /* syntax error: one line, file:line */
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    int nargs = argc - script_index - 1;
    luaL_checkstack(L, nargs + 2, "too many script arguments");
    for (int k = script_index + 1; k < argc; k++)
        lua_pushstring(L, argv[k]);
    if (runtime_pcall_interruptible(L, nargs, 0) != LUA_OK) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    return EXIT_OK;
}

/* A small REPL as `lua -i` gives: expressions print their values, incomplete statements
 * continue on the next line. No line editing (no readline dependency). */
static void run_interactive(lua_State *L)
{
    char line[4096];
    printf("sbengine %s, %s -- `sb` is loaded; Ctrl-D exits\n", sb_engine_version(), LUA_RELEASE);
    lua_pushliteral(L, ""); /* [pending] */
    for (;;) {
        fputs(lua_rawlen(L, -1) ? ">> " : "> ", stdout);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) break;
        lua_pushfstring(L, "%s%s", lua_tostring(L, -1), line); /* [pending, code] */
        lua_remove(L, -2);                                     /* [code] */
        size_t len;
        const char *code = lua_tolstring(L, -1, &len);
        const char *retcode = lua_pushfstring(L, "return %s", code); /* [code, ret] */
        int status = luaL_loadbuffer(L, retcode, strlen(retcode), "=stdin");
        lua_remove(L, -2); /* [code, fn|err] */
        if (status != LUA_OK) {
            lua_pop(L, 1);
            status = luaL_loadbuffer(L, code, len, "=stdin"); /* [code, fn|err] */
            if (status == LUA_ERRSYNTAX) {
                const char *msg = lua_tostring(L, -1);
                const char *eof = "<eof>";
                size_t ml = strlen(msg), el = strlen(eof);
                if (ml >= el && strcmp(msg + ml - el, eof) == 0) { /* incomplete: keep going */
                    lua_pop(L, 1);
                    continue;
                }
                runtime_report(L);
                lua_pop(L, 1);
                lua_pushliteral(L, "");
                continue;
            }
        }
        lua_remove(L, -2); /* [fn] */
        int top = lua_gettop(L) - 1;
        if (runtime_pcall(L, 0, LUA_MULTRET) != LUA_OK) {
            runtime_report(L);
        } else {
            int n = lua_gettop(L) - top;
            for (int k = 1; k <= n; k++) {
                luaL_tolstring(L, top + k, NULL);
                fputs(lua_tostring(L, -1), stdout);
                fputs(k < n ? "\t" : "\n", stdout);
                lua_pop(L, 1);
            }
            lua_settop(L, top);
        }
        lua_pushliteral(L, "");
    }
    lua_pop(L, 1);
    fputs("\n", stdout);
}

static int run_command(lua_State *L, int argc, char **argv, const cli_options *o)
{
    create_arg_table(L, argc, argv, o->script_index);
    if (strcmp(o->command, "submit") == 0) {
        /* sbengine submit FILE: the results client does the work. */
        if (!push_module_function(L, "sbengine._cli", "submit")) {
            runtime_report(L);
            return EXIT_SCRIPT_ERROR;
        }
        lua_pushstring(L, argv[o->script_index]);
        if (runtime_pcall(L, 1, 1) != LUA_OK) {
            runtime_report(L);
            return EXIT_SUBMIT_FAILED;
        }
        int code = (int)luaL_optinteger(L, -1, EXIT_OK);
        lua_pop(L, 1);
        return code;
    }
    int code = EXIT_OK;
    for (int k = 0; k < o->nchunks && code == EXIT_OK; k++)
        code = run_chunk_string(L, o->chunks[k]);
    if (code == EXIT_OK && o->script_index > 0) code = run_script(L, argc, argv, o->script_index);
    if (code == EXIT_USAGE) return code;
    int ran_something = o->nchunks > 0 || o->script_index > 0;
    if (code == EXIT_OK && (o->interactive || (!ran_something && isatty(STDIN_FILENO))))
        run_interactive(L);
    int finish = finish_session(L, code == EXIT_OK);
    if (finish >= 0 && code == EXIT_OK) code = finish;
    /* Interrupted: results are stored by now; exit as a shell expects (128 + signal). */
    if (runtime_interrupt_signal()) code = 128 + runtime_interrupt_signal();
    return code;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "report") == 0))
        return sb_server_cli(argv[1], argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "eval") == 0) return sb_eval_cli(argv[0], argc - 1, argv + 1);
    cli_options o = {0};
    int early = parse_options(argc, argv, &o);
    if (early >= 0) return early;

    if (strcmp(o.command, "devices") == 0) return print_devices();
    int needs_script = strcmp(o.command, "check") == 0 || strcmp(o.command, "submit") == 0;
    if (needs_script && o.script_index == 0)
        return usage_error("'%s' needs a file argument", o.command);

    lua_State *L = runtime_new(argv[0]);
    if (!L) return EXIT_SCRIPT_ERROR;
    if (!configure_session(L, &o)) {
        runtime_report(L);
        runtime_close(L);
        return EXIT_SCRIPT_ERROR;
    }
    int code;
    /* No script, no -e, no -i and stdin not a terminal: run stdin, as lua does. */
    static char dash[] = "-";
    if (strcmp(o.command, "run") == 0 && o.script_index == 0 && o.nchunks == 0 && !o.interactive &&
        !isatty(STDIN_FILENO)) {
        char *stdin_argv[] = {argv[0], dash};
        cli_options o2 = o;
        o2.script_index = 1;
        code = run_command(L, 2, stdin_argv, &o2);
    } else {
        code = run_command(L, argc, argv, &o);
    }
    fflush(stdout);
    runtime_close(L);
    return code;
}
