/* `sbengine eval NAME ...`: evaluates a predictions file with an evaluator of sb.eval
 * (lua/sbengine/_eval_cli.lua does the work; docs/evaluators.md). */
#ifndef SB_EVAL_CLI_H
#define SB_EVAL_CLI_H

/* argv[0] is "eval", argv[1..argc-1] its arguments; argv0 locates the Lua library. Returns
 * the exit code (0 ok, 1 evaluation error, 2 usage error, 3 stored but not submitted). */
int sb_eval_cli(const char *argv0, int argc, char **argv);

#endif
