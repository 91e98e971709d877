/* Vocab (sbengine.core.data.vocab_new): a word-level vocabulary and the token ids of text
 * files (engine/data/text_corpus.h), for sb.data.WikiText103/WikiText2
 * (lua/sbengine/_wikitext.lua). Ids are 0-based here, as in PyTorch; the Lua side says so.
 *
 *   vocab_new() -> Vocab
 *   v:add(word) -> id          v:add_text_file(path)        v:add_list_file(path)
 *   v:find(word) -> id | nil   v:word(id) -> word           #v, v:size()
 *   v:encode_file(path[, unk_id]) -> int64 tensor of ids     v:close() */
#include <lauxlib.h>
#include <lua.h>

#include "bindings/l_data.h"
#include "bindings/l_tensor.h"
#include "bindings/l_util.h"
#include "data/text_corpus.h"

#define VOCAB_MT "sbengine.Vocab"

static sb_vocab *check_vocab(lua_State *L)
{
    return sbL_check_box(L, 1, VOCAB_MT, "Vocab");
}

static int vocab_new(lua_State *L)
{
    void **box = sbL_new_box(L, VOCAB_MT);
    sb_vocab *v = NULL;
    sbL_check(L, sb_vocab_new(&v), "vocabulary");
    *box = v;
    return 1;
}

static int vocab_add(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    size_t len = 0;
    const char *word = luaL_checklstring(L, 2, &len);
    int64_t id = -1;
    sbL_check(L, sb_vocab_add(v, word, len, &id), NULL);
    lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

static int vocab_add_text_file(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    sbL_check(L, sb_vocab_add_text_file(v, luaL_checkstring(L, 2)), NULL);
    return 0;
}

static int vocab_add_list_file(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    sbL_check(L, sb_vocab_add_list_file(v, luaL_checkstring(L, 2)), NULL);
    return 0;
}

static int vocab_find(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    size_t len = 0;
    const char *word = luaL_checklstring(L, 2, &len);
    int64_t id = sb_vocab_find(v, word, len);
    if (id < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

static int vocab_word(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    lua_Integer id = luaL_checkinteger(L, 2);
    if (id < 0 || (size_t)id >= sb_vocab_size(v))
        return luaL_error(L, "vocabulary: id %I is out of range (0 to %I)", id,
                          (lua_Integer)sb_vocab_size(v) - 1);
    size_t len = 0;
    const char *word = sb_vocab_word(v, (size_t)id, &len);
    lua_pushlstring(L, word, len);
    return 1;
}

static int vocab_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)sb_vocab_size(check_vocab(L)));
    return 1;
}

static int vocab_encode_file(lua_State *L)
{
    sb_vocab *v = check_vocab(L);
    const char *path = luaL_checkstring(L, 2);
    lua_Integer unk = luaL_optinteger(L, 3, -1);
    sb_tensor *t = NULL;
    sbL_check(L, sb_vocab_encode_file(v, path, (int64_t)unk, &t), NULL);
    sbL_push_tensor(L, t);
    return 1;
}

static int vocab_close(lua_State *L)
{
    sb_vocab_free(sbL_take_box(L, 1, VOCAB_MT));
    return 0;
}

void sbL_data_add_vocab(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"add", vocab_add},
        {"add_text_file", vocab_add_text_file},
        {"add_list_file", vocab_add_list_file},
        {"find", vocab_find},
        {"word", vocab_word},
        {"size", vocab_size},
        {"encode_file", vocab_encode_file},
        {"close", vocab_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__len", vocab_size}, {"__gc", vocab_close}, {"__close", vocab_close}, {NULL, NULL}};
    sbL_new_class(L, VOCAB_MT, methods, meta);
    lua_pushcfunction(L, vocab_new);
    lua_setfield(L, -2, "vocab_new");
}
