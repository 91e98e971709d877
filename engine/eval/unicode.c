#include "eval/unicode.h"

#include "core/utf8.h"
#include "eval/unicode_tables.h"

static bool in_ranges(const sb_uni_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c > r[mid].hi)
            lo = mid + 1;
        else if (c < r[mid].lo)
            hi = mid;
        else
            return true;
    }
    return false;
}

#define IN(table, c) in_ranges(table, sizeof table / sizeof *table, c)

bool sb_uni_is_space(uint32_t c)
{
    if (c < 128) return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
    return IN(sb_uni_space, c);
}

bool sb_uni_is_word(uint32_t c)
{
    return IN(sb_uni_word, c);
}
bool sb_uni_is_cased(uint32_t c)
{
    return IN(sb_uni_cased, c);
}
bool sb_uni_is_case_ignorable(uint32_t c)
{
    return IN(sb_uni_case_ignorable, c);
}

uint32_t sb_uni_lower(uint32_t c, uint32_t *second)
{
    *second = 0;
    if (c < 'A') return c;
    size_t n = sizeof sb_uni_lower_map / sizeof *sb_uni_lower_map, lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sb_uni_lower_map[mid].from < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n || sb_uni_lower_map[lo].from != c) return c;
    *second = sb_uni_lower_map[lo].to2;
    return sb_uni_lower_map[lo].to;
}

uint32_t sb_uni_next(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    size_t l = sb_utf8_sequence_length(p, end);
    uint32_t c;
    if (l <= 1) {
        c = p[0];
        l = 1;
    } else if (l == 2) {
        c = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    } else if (l == 3) {
        c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    } else {
        c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
            ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    }
    *pp = p + l;
    return c;
}
