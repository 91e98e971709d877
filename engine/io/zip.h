/* A read-only zip reader over a file image in memory (an mmap'd file), for the archives
 * torch.save writes.
 *
 * Why not libzip: its API reads an entry's bytes into a caller's buffer but never says
 * where they sit in the file, and PyTorch checkpoints are read zero-copy: torch.save
 * stores every record uncompressed and pads it to a 64-byte boundary so that the tensors
 * can view the mapped file in place. This reader gives each entry's data offset.
 *
 * What it accepts: the central directory found through the end-of-central-directory
 * record (zip64 records too), entries stored (method 0) or deflated (method 8, inflated
 * with zlib), not encrypted, one disk. Every offset and size is checked against the image
 * before use: the central directory, each local header, the data range, and the names of
 * the central and local headers must agree. */
#ifndef SB_IO_ZIP_H
#define SB_IO_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sb_zip_entry {
    char *name;           /* NUL-terminated; names holding a NUL byte are refused */
    uint64_t data_offset; /* of the (compressed) data in the image */
    uint64_t size;        /* uncompressed */
    uint64_t compressed_size;
    uint32_t crc32;
    uint16_t method; /* 0 stored, 8 deflated */
} sb_zip_entry;

typedef struct sb_zip {
    const unsigned char *image;
    size_t image_size;
    size_t count;
    sb_zip_entry *entries; /* in central-directory order */
} sb_zip;

/* True when the image starts with a local file header ("PK\3\4"). */
bool sb_zip_looks_like_zip(const void *image, size_t size);

/* Reads the directory of the archive in `image` (which must outlive the sb_zip). `what`
 * names the source in messages. */
sb_status sb_zip_open(const void *image, size_t size, const char *what, sb_zip **out);
void sb_zip_free(sb_zip *z); /* NULL is a no-op */

/* The entry called `name`, or NULL. */
const sb_zip_entry *sb_zip_find(const sb_zip *z, const char *name);

/* An entry's bytes: for a stored entry a pointer into the image (*owned = NULL), for a
 * deflated one a malloc'ed buffer (*owned = the same pointer; the caller frees it). With
 * check_crc the CRC-32 is verified (reading every byte). */
sb_status sb_zip_read(const sb_zip *z, const sb_zip_entry *e, const char *what, bool check_crc,
                      const unsigned char **data, void **owned);

#endif
