/* A restricted reader of Python pickles, for the data files torchvision's datasets use
 * (CIFAR's python version). It builds values and executes nothing: only the opcodes such
 * files contain (protocols 0-4: containers, numbers, strings, memo, MARK) and four callables
 * (numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype, _codecs.encode) are
 * accepted; any other opcode or global is refused with a message naming it. numpy arrays
 * come out as raw bytes plus shape and dtype. */
#ifndef SB_DATA_PICKLE_H
#define SB_DATA_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sb_pv_kind {
    SB_PV_NONE,
    SB_PV_BOOL,
    SB_PV_INT,
    SB_PV_BYTES, /* bytes, or a Python 2 str */
    SB_PV_STR,   /* unicode text (UTF-8 here) */
    SB_PV_LIST,
    SB_PV_TUPLE,
    SB_PV_DICT, /* items: key, value, key, value, ... */
    SB_PV_GLOBAL,
    SB_PV_NDARRAY,
    SB_PV_DTYPE,
    SB_PV_MARK
} sb_pv_kind;

typedef struct sb_pv {
    sb_pv_kind kind;
    int64_t i;            /* INT, BOOL; GLOBAL: which callable */
    const uint8_t *s;     /* BYTES, STR; NDARRAY: the data; DTYPE: its name */
    size_t len;           /* bytes */
    struct sb_pv **items; /* LIST, TUPLE, DICT */
    size_t n, cap;
    int ndim; /* NDARRAY */
    int64_t shape[8];
    char dtype[8];            /* NDARRAY: numpy's dtype string ("u1") */
    struct sb_pv *next_alloc; /* every value of a document, to free them */
    uint8_t *owned;           /* bytes this value owns (decoded text) */
} sb_pv;

typedef struct sb_pickle {
    sb_pv *root;
    sb_pv *values; /* allocation list */
} sb_pickle;

/* Parses `bytes` (which must outlive the result: large strings point into it). `what`
 * names the file in messages. */
sb_status sb_pickle_load(const char *what, const uint8_t *bytes, size_t len, sb_pickle *out);
void sb_pickle_free(sb_pickle *p);

/* dict[key] for a str or bytes key, or NULL. */
const sb_pv *sb_pv_dict_get(const sb_pv *dict, const char *key);

#endif
