/* PyTorch checkpoints (files written by torch.save), read without running any code.
 *
 * Two layouts:
 *   - zip (torch >= 1.6, the default): PREFIX/data.pkl (the pickle), PREFIX/data/KEY (one
 *     record per storage, raw bytes), PREFIX/byteorder ("little" or "big"; absent in files
 *     older than torch 2.1, which means little), PREFIX/version. torch.save stores the
 *     records uncompressed at 64-byte boundaries, so the tensors view the memory-mapped
 *     file in place (engine/io/zip.h).
 *   - legacy (_use_new_zipfile_serialization=False, and files from torch < 1.6): pickles
 *     of the magic number, the protocol version (1001) and the system info, then the
 *     object's pickle, then the list of storage keys, then per storage an int64 element
 *     count and the raw little-endian bytes.
 *
 * The pickle is read by the restricted unpickler (engine/io/unpickler.h) with an
 * allow-list of the globals state dicts use: collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter /
 * _rebuild_parameter_with_state, torch._tensor._rebuild_from_type_v2 (plain tensors and
 * parameters only), the torch.*Storage classes, torch.Size and torch.device. Any other
 * global fails with "refusing to call pickle global 'NAME'".
 *
 * dtypes: float32, float64, float16, bfloat16, int64, int32, uint8 load as themselves
 * (zero-copy when the record is aligned); int16 and int8 are converted to int32 and bool to
 * uint8 (0/1), since sbengine's CPU has no such dtypes; complex and quantized storages are
 * refused. Tensors that share a storage (views, tied weights) share one sb_storage;
 * non-contiguous tensors keep their strides. Every tensor is checked to lie inside its
 * storage, and every storage record to have exactly the byte size its pickle declares. */
#ifndef SB_IO_PYTORCH_H
#define SB_IO_PYTORCH_H

#include <stddef.h>

#include "tensor/tensor.h"

typedef struct sb_pytorch_entry {
    char *name;
    sb_tensor *tensor;
    const char *saved_dtype; /* torch's name in the file ("int16", "bool", ...) */
} sb_pytorch_entry;

typedef struct sb_pytorch_state_dict {
    size_t count;
    sb_pytorch_entry *entries; /* in the checkpoint's order */
} sb_pytorch_state_dict;

typedef struct sb_pytorch_options {
    /* The path to the state dict inside a wrapping dict ({"model": {"state_dict": ...}} is
     * {"model", "state_dict"}); nkey = 0 finds it: the top level when every value is a
     * tensor, else the one top-level entry that is a dict of tensors. */
    const char *const *key;
    size_t nkey;
    const char *strip_prefix; /* removed from the names that start with it ("module.") */
} sb_pytorch_options;

/* Loads the state dict of the checkpoint at `path` (tensors on the CPU). opts may be NULL. */
sb_status sb_pytorch_load(const char *path, const sb_pytorch_options *opts,
                          sb_pytorch_state_dict **out);

/* The same over a file image in memory; `storage` (may be NULL: every tensor is then a
 * copy) must hold exactly the `size` bytes at `data`, and be a private mapping of a file:
 * the pages of the records that are copied are given back with MADV_DONTNEED (read again
 * from the file if touched). `what` names the source. */
sb_status sb_pytorch_parse(const void *data, size_t size, sb_storage *storage, const char *what,
                           const sb_pytorch_options *opts, sb_pytorch_state_dict **out);

void sb_pytorch_free(sb_pytorch_state_dict *sd); /* NULL is a no-op */

/* The format of a file image's first bytes: "zip", "legacy", "safetensors", "tar" or NULL. */
const char *sb_pytorch_sniff(const void *data, size_t size);

#endif
