/* safetensors files (https://github.com/huggingface/safetensors): read memory-mapped,
 * write atomically.
 *
 * Layout: an 8-byte little-endian header length N; N bytes of JSON
 *   {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
 *    "__metadata__": {"key": "value", ...}}            (metadata optional, strings only)
 * then the raw little-endian data; offsets are relative to the byte after the header.
 *
 * Reading checks everything a hostile file could get wrong before touching the data:
 * a header length beyond the file or above SB_SAFETENSORS_MAX_HEADER, malformed JSON
 * (parsed in C by a small strict parser: RFC 8259 grammar, UTF-8 checked, nesting capped),
 * unknown dtypes, more than SB_MAX_DIMS dims, offsets out of range, end before begin,
 * overlapping tensors or gaps between them (the tensors must tile the data exactly, as
 * the reference implementation requires), a byte count that disagrees with the shape.
 * No allocation is larger than the file.
 *
 * Dtypes F32 F64 F16 BF16 I64 I32 U8 load as the matching sbengine dtypes (float16 and
 * bfloat16 are storage types on the CPU: convert with :float() to compute, or move them
 * to CUDA; load_state_dict converts into the parameters' dtype), as views of one
 * copy-on-write private mapping of the file: writes to a loaded tensor never reach the
 * file, and the mapping is unmapped when the last tensor using it is freed. A tensor
 * whose offset is not aligned to its element size is copied instead. */
#ifndef SB_IO_SAFETENSORS_H
#define SB_IO_SAFETENSORS_H

#include <stddef.h>

#include "tensor/tensor.h"

/* The reference implementation's cap (safetensors' MAX_HEADER_SIZE). */
#define SB_SAFETENSORS_MAX_HEADER 100000000ULL

typedef struct sb_safetensors_entry {
    char *name;
    sb_tensor *tensor;
    char dtype[8]; /* the file's dtype name ("F32", ...) */
} sb_safetensors_entry;

typedef struct sb_safetensors_meta {
    char *key;
    char *value;
} sb_safetensors_meta;

typedef struct sb_safetensors {
    size_t count;
    sb_safetensors_entry *entries; /* in data-offset order */
    size_t meta_count;
    sb_safetensors_meta *meta; /* in header order */
} sb_safetensors;

/* Loads every tensor of the file at `path` onto the CPU. */
sb_status sb_safetensors_load(const char *path, sb_safetensors **out);

/* The same checks and results over a file image in memory. `storage` (retained by every
 * tensor that views it) must hold exactly `size` bytes at `data`; NULL makes the tensors
 * copies. `what` names the source in messages (a path). */
sb_status sb_safetensors_parse(const void *data, size_t size, sb_storage *storage, const char *what,
                               sb_safetensors **out);

void sb_safetensors_free(sb_safetensors *st); /* NULL is a no-op */

/* Writes `count` tensors (any device, any strides; stored contiguous, in the given order)
 * and optional metadata to `path` atomically: a temporary file in the same folder,
 * fsync, rename over `path`, fsync of the folder. Names must be non-empty, unique and
 * not "__metadata__". */
sb_status sb_safetensors_save(const char *path, size_t count, const char *const *names,
                              const sb_tensor *const *tensors, size_t meta_count,
                              const char *const *meta_keys, const char *const *meta_values);

#endif
