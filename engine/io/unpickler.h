/* A restricted unpickler: reads Python pickles (protocols 0-5) into a tree of plain values
 * and never runs code.
 *
 * The safety rule: a pickle can only name a global (GLOBAL / STACK_GLOBAL / INST / OBJ)
 * that the caller put in its allow-list, and "calling" it (REDUCE, NEWOBJ) runs the
 * caller's C handler for that name, which builds a value from the arguments or fails.
 * Any other global is refused with the message
 *     refusing to call pickle global 'os.system'
 * Opcodes that only make sense with live Python objects (EXT*, out-of-band buffers,
 * PERSID without a persistent_load handler) are refused too, naming the opcode and its
 * byte offset. Nothing in the input can make the reader allocate more than a small multiple
 * of the input's size, and nesting is capped.
 *
 * Values live in an arena (sb_pickle) and are freed together with sb_pickle_free(), so
 * the shared references and even cycles a pickle can make (memo GET of a list inside
 * itself) need no reference counting. Strings are UTF-8 and NUL-terminated (a string
 * holding NUL is refused); Python 2 byte strings (BINSTRING, SHORT_BINSTRING) are BYTES.
 * Integers beyond int64 are refused.
 *
 * A caller (engine/io/pytorch.c for torch.save files; engine/data/numpy_pickle.c for the
 * numpy arrays of CIFAR's python version) passes:
 *   - globals: {module, name, call, build} entries. `call` (may be NULL: the global can
 *     only be passed around as a value, e.g. a storage type) receives the argument tuple;
 *     `build` (may be NULL: BUILD refused) receives an object made by `call` and the
 *     state. Handlers make values with the sb_pickle_new_* functions.
 *   - persistent_load: called for PERSID/BINPERSID with the persistent id (NULL refuses).
 * sb_unpickle() reads one pickle (up to its STOP) and says how many bytes it used, so
 * files that are several pickles in a row (torch's legacy format) read in steps. */
#ifndef SB_IO_UNPICKLER_H
#define SB_IO_UNPICKLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sb_pickle_kind {
    SB_PICKLE_NONE,
    SB_PICKLE_BOOL,
    SB_PICKLE_INT,
    SB_PICKLE_FLOAT,
    SB_PICKLE_STR,   /* UTF-8 text */
    SB_PICKLE_BYTES, /* bytes, bytearray, Python 2 str */
    SB_PICKLE_TUPLE,
    SB_PICKLE_LIST,
    SB_PICKLE_DICT,   /* insertion-ordered, as Python's */
    SB_PICKLE_SET,    /* set and frozenset */
    SB_PICKLE_GLOBAL, /* a reference to an allowed global (a class or function) */
    SB_PICKLE_OBJECT  /* made by a caller's handler */
} sb_pickle_kind;

typedef struct sb_pickle sb_pickle; /* the arena of one or more unpickled values */
typedef struct sb_pickle_value sb_pickle_value;
typedef struct sb_pickle_global sb_pickle_global;

struct sb_pickle_value {
    sb_pickle_kind kind;
    const sb_pickle_global *maker; /* the global whose call made it (for BUILD), or NULL */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *data; /* NUL-terminated */
            size_t len;
        } str; /* STR and BYTES */
        struct {
            sb_pickle_value **items;
            size_t len, cap;
        } seq; /* TUPLE, LIST, SET */
        struct {
            sb_pickle_value **keys, **values;
            size_t len, cap;
        } dict;
        const sb_pickle_global *global;
        struct {
            const char *type; /* the handler's name for it, e.g. "torch.Tensor" */
            void *ptr;
        } object;
    } u;
};

struct sb_pickle_global {
    const char *module, *name; /* "collections", "OrderedDict" */
    /* REDUCE / NEWOBJ: args is a TUPLE. Writes the result to *out or fails. */
    sb_status (*call)(sb_pickle *p, void *ctx, const sb_pickle_global *self, sb_pickle_value *args,
                      sb_pickle_value **out);
    /* BUILD on a value `call` returned (NULL: BUILD is refused). */
    sb_status (*build)(sb_pickle *p, void *ctx, sb_pickle_value *obj, sb_pickle_value *state);
};

typedef struct sb_unpickle_config {
    const sb_pickle_global *globals;
    size_t nglobals;
    sb_status (*persistent_load)(sb_pickle *p, void *ctx, sb_pickle_value *pid,
                                 sb_pickle_value **out);
    void *ctx;
    const char *what; /* names the source in messages ("model.pth: data.pkl") */
} sb_unpickle_config;

sb_pickle *sb_pickle_new(void);    /* NULL when out of memory */
void sb_pickle_free(sb_pickle *p); /* frees every value made in it; NULL is a no-op */

/* Reads one pickle from data[0, size) into the arena `p`: *root is the value at STOP,
 * *consumed (may be NULL) the bytes read up to and including STOP. */
sb_status sb_unpickle(sb_pickle *p, const void *data, size_t size, const sb_unpickle_config *cfg,
                      sb_pickle_value **root, size_t *consumed);

/* Values for handlers, allocated in the arena (NULL after sb_fail on out of memory). */
sb_pickle_value *sb_pickle_new_value(sb_pickle *p, sb_pickle_kind kind);
sb_pickle_value *sb_pickle_new_int(sb_pickle *p, int64_t v);
sb_pickle_value *sb_pickle_new_str(sb_pickle *p, const char *s, size_t len);
sb_pickle_value *sb_pickle_new_bytes(sb_pickle *p, const void *s, size_t len);
/* An object owning `ptr`, released with free_fn(ptr) (may be NULL) with the arena. */
sb_pickle_value *sb_pickle_new_object(sb_pickle *p, const char *type, void *ptr,
                                      void (*free_fn)(void *));
/* Appends `item` to a tuple, list or set (handlers that build sequences). */
sb_status sb_pickle_seq_push(sb_pickle_value *seq, sb_pickle_value *item);
sb_status sb_pickle_dict_set(sb_pickle *p, sb_pickle_value *dict, sb_pickle_value *key,
                             sb_pickle_value *value);

/* Lookups for handlers. */
/* dict[key] for a STR key or a BYTES one (a Python 2 str); NULL when absent. */
sb_pickle_value *sb_pickle_dict_get(const sb_pickle_value *dict, const char *key);
bool sb_pickle_is_object(const sb_pickle_value *v, const char *type);
/* "int", "str", "tuple", ..., "global 'torch.FloatStorage'" for messages. */
void sb_pickle_describe(const sb_pickle_value *v, char *buf, size_t size);

#endif
