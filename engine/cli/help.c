/* `sbengine help [COMMAND]`, `sbengine COMMAND --help` and the "did you mean" of the command
 * line: everything here reads the command table of engine/main.c. */
#include "cli/cli.h"

#include "core/suggest.h"

#include <string.h>

const sb_command *sb_command_find(const char *name)
{
    for (const sb_command *c = sb_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

int sb_command_help(const sb_command *c, FILE *to)
{
    if (!c->help) { /* the handler knows its options: let it print them */
        char prog[] = "sbengine", help[] = "--help";
        char *argv[] = {prog, (char *)c->name, help, NULL};
        fflush(to);
        return c->run(c, 3, argv, 2);
    }
    fputs("usage: ", to);
    fputs(c->usage, to);
    fputs("\n\n", to);
    fputs(c->help, to);
    if (c->print_options) {
        fflush(to);
        c->print_options(c);
    }
    return EXIT_OK;
}

int sb_cli_usage_error(const sb_command *c, const char *fmt, const char *what)
{
    const char *name = c && strcmp(c->name, "run") != 0 ? c->name : NULL;
    fprintf(stderr, "sbengine%s%s: ", name ? " " : "", name ? name : "");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see sbengine%s%s --help)\n", name ? " " : "", name ? name : "");
    return EXIT_USAGE;
}

int sb_cli_unknown_command(const char *word)
{
    const char *names[64];
    size_t n = 0;
    for (const sb_command *c = sb_commands; c->name && n < 64; c++)
        names[n++] = c->name;
    const char *best = sb_closest_name(word, names, n);
    fprintf(stderr, "sbengine: unknown command '%s'", word);
    if (best) fprintf(stderr, " (did you mean '%s'?)", best);
    fputs("; `sbengine help` lists the commands\n", stderr);
    return EXIT_USAGE;
}

int sb_cli_help(const sb_command *self, int argc, char **argv, int first)
{
    if (first >= argc) {
        char prog[] = "sbengine", help[] = "--help";
        char *args[] = {prog, help, NULL};
        const sb_command *run = sb_command_find("run");
        return run->run(run, 2, args, 1);
    }
    if (first + 1 < argc)
        return sb_cli_usage_error(self, "takes one command name, got '%s'", argv[first + 1]);
    if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0)
        return sb_command_help(self, stdout);
    const sb_command *c = sb_command_find(argv[first]);
    if (!c) return sb_cli_unknown_command(argv[first]);
    return sb_command_help(c, stdout);
}
