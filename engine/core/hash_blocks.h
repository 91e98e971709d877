/* The framing MD5 (core/md5.c) and SHA-256 (core/sha256.c) share (Merkle-Damgard): the
 * message goes through a compression function 64 bytes at a time, and ends with 0x80,
 * zeros up to 56 bytes mod 64 and the message length in bits as 8 bytes. */
#ifndef SB_CORE_HASH_BLOCKS_H
#define SB_CORE_HASH_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*sb_hash_compress)(uint32_t *state, const uint8_t block[64]);

/* A hash in progress: `state` is the algorithm's own; `block` holds length % 64 bytes. */
typedef struct sb_hash_blocks {
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
} sb_hash_blocks;

void sb_hash_blocks_update(sb_hash_blocks *b, uint32_t *state, sb_hash_compress compress,
                           const void *data, size_t n);
/* The padding and the length (little-endian for MD5, big-endian for SHA-256). */
void sb_hash_blocks_finish(sb_hash_blocks *b, uint32_t *state, sb_hash_compress compress,
                           bool little_endian_length);
/* Writes 2 * n lowercase hex digits of `bytes` and a NUL. */
void sb_hex(const uint8_t *bytes, size_t n, char *hex);

#endif
