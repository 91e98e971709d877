/* What the binding files of sbengine.core.data share. The module is one table built by
 * sbL_open_data (l_data.c) from one file per Lua type:
 *   l_dataset.c    Dataset (a refcounted sb_dataset) and its constructors
 *   l_transform.c  Transform (an sb_transform chain)
 *   l_loader.c     Loader (an sb_loader) and LoaderIter (one pass; its threads stop on
 *                  __close/__gc), permutation
 *   l_download.c   downloads, with a Lua progress callback
 *   l_vocab.c      Vocab (a word-level vocabulary) and token ids of text files
 * Each sbL_data_add_* creates its metatables and sets its functions into the module table
 * on top of the stack. */
#ifndef SB_BINDINGS_L_DATA_H
#define SB_BINDINGS_L_DATA_H

#include <lua.h>

#include "data/dataset.h"
#include "data/transform.h"

#define SB_DATASET_MT "sbengine.Dataset"
#define SB_TRANSFORM_MT "sbengine.Transform"

sb_dataset *sbL_check_dataset(lua_State *L, int idx);
sb_transform *sbL_check_transform(lua_State *L, int idx);

void sbL_data_add_datasets(lua_State *L);
void sbL_data_add_transforms(lua_State *L);
void sbL_data_add_loaders(lua_State *L);
void sbL_data_add_downloads(lua_State *L);
void sbL_data_add_vocab(lua_State *L);

#endif
