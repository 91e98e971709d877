/* SHA-256 (FIPS 180-4). Used for the run hash of a benchmark (docs/results.md). */
#ifndef SB_CORE_SHA256_H
#define SB_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash_blocks.h"

typedef struct sb_sha256 {
    uint32_t state[8];
    sb_hash_blocks blocks;
} sb_sha256;

void sb_sha256_init(sb_sha256 *h);
void sb_sha256_update(sb_sha256 *h, const void *data, size_t n);
/* Writes the 32-byte digest; `h` must be re-initialised before reuse. */
void sb_sha256_final(sb_sha256 *h, uint8_t digest[32]);
/* Writes 64 lowercase hex digits and a NUL. */
void sb_sha256_final_hex(sb_sha256 *h, char hex[65]);

#endif
