/* Loads the server plugin for `sbengine serve` and `sbengine report` (engine/server/). */
#ifndef SB_SERVER_CLI_H
#define SB_SERVER_CLI_H

/* argv[1..argc-1]: the command's arguments (argv[0] is ignored). Returns the exit code. */
int sb_server_cli(const char *command, int argc, char **argv);

#endif
