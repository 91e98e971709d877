#include "core/hash_blocks.h"

#include <string.h>

void sb_hash_blocks_update(sb_hash_blocks *b, uint32_t *state, sb_hash_compress compress,
                           const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t used = (size_t)(b->length % 64);
    b->length += n;
    if (used) {
        size_t take = 64 - used < n ? 64 - used : n;
        memcpy(b->block + used, p, take);
        p += take;
        n -= take;
        if (used + take < 64) return;
        compress(state, b->block);
    }
    for (; n >= 64; p += 64, n -= 64)
        compress(state, p);
    if (n) memcpy(b->block, p, n);
}

void sb_hash_blocks_finish(sb_hash_blocks *b, uint32_t *state, sb_hash_compress compress,
                           bool little_endian_length)
{
    static const uint8_t pad[64] = {0x80};
    uint64_t bits = b->length * 8;
    size_t used = (size_t)(b->length % 64);
    sb_hash_blocks_update(b, state, compress, pad, used < 56 ? 56 - used : 120 - used);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (little_endian_length ? 8 * i : 56 - 8 * i));
    sb_hash_blocks_update(b, state, compress, len, 8);
}

void sb_hex(const uint8_t *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}
