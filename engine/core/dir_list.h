/* Listing a folder: its regular files with a given suffix, in a stable order. */
#ifndef SB_CORE_DIR_LIST_H
#define SB_CORE_DIR_LIST_H

#include <stddef.h>

#include "core/error.h"

/* The names (not paths) of the regular files in `dir` ending in `suffix`, sorted bytewise
 * so that scripts load in a stable order. Free with sb_free_names. A folder that does not
 * exist is an error (SB_EIO) naming it. */
sb_status sb_list_files(const char *dir, const char *suffix, char ***names, size_t *count);
void sb_free_names(char **names, size_t count);

#endif
