/* MD5 (RFC 1321), for checking downloaded and fetched dataset files against the
 * checksums torchvision publishes. Not for anything security-related. */
#ifndef SB_CORE_MD5_H
#define SB_CORE_MD5_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/hash_blocks.h"

typedef struct sb_md5 {
    uint32_t state[4];
    sb_hash_blocks blocks;
} sb_md5;

void sb_md5_init(sb_md5 *ctx);
void sb_md5_update(sb_md5 *ctx, const void *data, size_t len);
/* Writes 32 lowercase hex digits and a NUL to `hex`. */
void sb_md5_final_hex(sb_md5 *ctx, char hex[33]);
void sb_md5_hex(const void *data, size_t len, char hex[33]);
/* The md5 of a whole file; SB_EIO (with the path and errno text) when it cannot be read. */
sb_status sb_md5_file(const char *path, char hex[33]);

#endif
