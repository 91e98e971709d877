/* The sbengine command line: one table of subcommands (engine/main.c), each with its usage,
 * a one-line summary, its help and its handler. A new subcommand is one row in that table,
 * one declaration here and its own file in engine/cli/. */
#ifndef SB_CLI_H
#define SB_CLI_H

#include <stdio.h>

enum { EXIT_OK = 0, EXIT_SCRIPT_ERROR = 1, EXIT_USAGE = 2, EXIT_SUBMIT_FAILED = 3 };

typedef struct sb_command sb_command;

/* A handler gets the whole argv; argv[first] is the first argument after the command's name
 * (for `sbengine SCRIPT.lua`, the implicit `run`, first is 1). Returns the exit code. */
typedef int (*sb_command_fn)(const sb_command *self, int argc, char **argv, int first);

struct sb_command {
    const char *name;
    const char *usage;   /* "sbengine NAME ..." lines, without the "usage: " */
    const char *summary; /* one line for `sbengine help` */
    const char *help;    /* what `sbengine NAME --help` prints after the usage; NULL when the
                          * handler prints its own help for --help (serve, report) */
    sb_command_fn run;
    void (*print_options)(const sb_command *self); /* after the help (run, check, submit,
                                                    * bench: from main.c's option table) */
};

/* The table (engine/main.c), ended by a row whose name is NULL. */
extern const sb_command sb_commands[];

/* The command called `name`, or NULL. */
const sb_command *sb_command_find(const char *name);

/* Prints "usage: ..." and the command's help to `to` (for commands whose handler prints its
 * own help, runs it with --help). Returns the exit code. */
int sb_command_help(const sb_command *c, FILE *to);

/* "sbengine[ CMD]: <message> (see sbengine[ CMD] --help)" on stderr; returns EXIT_USAGE. The
 * message is `fmt` with one %s filled by `what`. */
int sb_cli_usage_error(const sb_command *c, const char *fmt, const char *what);

/* An unknown word where a command was expected: "did you mean" from the table. */
int sb_cli_unknown_command(const char *word);

struct lua_State;
/* The interactive prompt of `sbengine -i` (cli/repl.c), on the run's state. */
void sb_cli_repl(struct lua_State *L);

/* Handlers with their own files. */
int sb_cli_help(const sb_command *self, int argc, char **argv, int first);    /* cli/help.c */
int sb_cli_fetch(const sb_command *self, int argc, char **argv, int first);   /* cli/fetch.c */
int sb_cli_results(const sb_command *self, int argc, char **argv, int first); /* cli/results.c */

#endif
