/* numpy arrays in Python pickles (CIFAR's python version), read with the restricted unpickler
 * of io/unpickler.h. The allow-list holds only what a pickled uint8/int8 array names:
 * numpy.core.multiarray._reconstruct, numpy.ndarray (as a value), numpy.dtype and
 * _codecs.encode(text, "latin1") (how Python 3 writes bytes in protocol 2, decoded here, not
 * called). Any other global is refused by name; object arrays, Fortran order and wider dtypes
 * are refused with a message. */
#ifndef SB_DATA_NUMPY_PICKLE_H
#define SB_DATA_NUMPY_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "io/unpickler.h"

typedef struct sb_numpy_array {
    int ndim;
    int64_t shape[8];
    char dtype[8];       /* numpy's type string: "u1" or "i1" */
    const uint8_t *data; /* C order, owned by the unpickler's arena */
    size_t len;          /* bytes */
} sb_numpy_array;

/* Reads one pickle of `bytes` into the arena `p` (free it with sb_pickle_free). `what` names
 * the file in messages. */
sb_status sb_numpy_unpickle(sb_pickle *p, const char *what, const uint8_t *bytes, size_t len,
                            sb_pickle_value **root);

/* The array `v` holds, or NULL when it is not a numpy array. */
const sb_numpy_array *sb_numpy_array_of(const sb_pickle_value *v);

#endif
