/* Internal to engine/io/pytorch*.c: what the unpickler's handlers build from a checkpoint
 * (records of storages, views, tensor specs) and the step that turns them into tensors
 * (pytorch_storages.c: viewed in place in the file image, or copied into one pool). */
#ifndef SB_IO_PYTORCH_RECORDS_H
#define SB_IO_PYTORCH_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

/* ---- dtypes ---------------------------------------------------------------------------- */

typedef enum convert_kind { CONV_NONE, CONV_I16, CONV_I8, CONV_BOOL } convert_kind;

typedef struct torch_dtype {
    const char *storage; /* the torch.*Storage class */
    const char *name;    /* torch's dtype name */
    size_t size;
    sb_dtype loaded;
    convert_kind convert;
    bool supported;
} torch_dtype;

/* ---- what the pickle makes ------------------------------------------------------------- */

typedef struct storage_rec {
    char *key;
    const torch_dtype *dtype;
    uint64_t numel;
    bool located;
    const unsigned char *bytes; /* the record's data */
    uint64_t image_offset;      /* where it sits in the file image, when it does */
    bool in_image;
    void *owned; /* inflated bytes */
    sb_storage *target;
    int64_t base; /* element offset of the record in target */
} storage_rec;

typedef struct storage_view {
    storage_rec *rec;
    uint64_t offset, numel; /* elements */
} storage_view;

typedef struct tensor_spec {
    storage_view view;
    int64_t offset;
    int ndim;
    int64_t sizes[SB_MAX_DIMS], strides[SB_MAX_DIMS];
    sb_tensor *tensor;
} tensor_spec;

typedef struct loader {
    const char *what;
    storage_rec **recs;
    size_t nrecs, recs_cap;
    tensor_spec **specs;
    size_t nspecs, specs_cap;
} loader;

/* Places every located record (in the file image `image` where its bytes can be viewed,
 * else in one pool of copies) and makes each spec's tensor. */
sb_status sb_pytorch_make_tensors(loader *L, sb_storage *image, bool big_endian);

/* Checks a record's byte count against the element count the pickle declares. */
sb_status sb_pytorch_check_record_size(const loader *L, const storage_rec *r, uint64_t bytes,
                                       const char *record);

#endif
