/* safetensors reading (mmap + a strict header parser) and atomic writing. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "io/mapped_file.h"
#include "io/pytorch.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian data in place: port the byte swaps first"
#endif

#define MAX_JSON_DEPTH 64

/* ---- dtypes ---------------------------------------------------------------------------- */

typedef struct st_dtype {
    const char *name;
    size_t size;
    sb_dtype loaded;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F32", 4, SB_FLOAT32}, {"F64", 8, SB_FLOAT64}, {"I64", 8, SB_INT64},     {"I32", 4, SB_INT32},
    {"U8", 1, SB_UINT8},    {"F16", 2, SB_FLOAT16}, {"BF16", 2, SB_BFLOAT16},
};

static const st_dtype *st_dtype_find(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
    return NULL;
}

static const char *st_dtype_name_of(sb_dtype d)
{
    switch (d) {
    case SB_FLOAT32:
        return "F32";
    case SB_FLOAT64:
        return "F64";
    case SB_INT64:
        return "I64";
    case SB_INT32:
        return "I32";
    case SB_UINT8:
        return "U8";
    case SB_FLOAT16:
        return "F16";
    case SB_BFLOAT16:
        return "BF16";
    default:
        return NULL;
    }
}

/* ---- the header parser ---------------------------------------------------------------------
 * A strict JSON reader over [p, end): the grammar of RFC 8259, UTF-8 validated, nesting
 * capped at MAX_JSON_DEPTH. It reads the shapes safetensors uses directly and skips (after
 * validating) any other value, as the reference implementation ignores unknown fields. */

typedef struct parser {
    const unsigned char *start, *p, *end;
    const char *what;
} parser;

static sb_status perr(parser *ps, const char *expected)
{
    size_t at = (size_t)(ps->p - ps->start);
    if (ps->p >= ps->end)
        return sb_fail(SB_EFORMAT,
                       "%s: malformed safetensors header: %s, got the end of the "
                       "header at byte %zu",
                       ps->what, expected, at);
    unsigned char c = *ps->p;
    if (c >= 0x20 && c < 0x7f)
        return sb_fail(SB_EFORMAT, "%s: malformed safetensors header: %s, got '%c' at byte %zu",
                       ps->what, expected, c, at);
    return sb_fail(SB_EFORMAT, "%s: malformed safetensors header: %s, got byte 0x%02x at byte %zu",
                   ps->what, expected, c, at);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool take(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (unsigned char)c) {
        ps->p++;
        return true;
    }
    return false;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *ps, uint32_t *out)
{
    if (ps->end - ps->p < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(ps->p[i]);
        if (h < 0) return false;
        v = v * 16 + (uint32_t)h;
    }
    ps->p += 4;
    *out = v;
    return true;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xc0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xe0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        dst[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    dst[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return n;
}

/* Parses a string; with `out` non-NULL returns it decoded (malloc'd, NUL-terminated; a
 * string holding "\u0000" is refused since names are C strings). */
static sb_status parse_string(parser *ps, char **out)
{
    if (out) *out = NULL;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "expected a string");
    ps->p++;
    const unsigned char *s = ps->p;
    /* First pass: validate and find the end; the decoded form is never longer. */
    size_t raw = 0;
    while (true) {
        if (ps->p >= ps->end) return perr(ps, "expected the closing quote of a string");
        unsigned char c = *ps->p;
        if (c == '"') break;
        if (c < 0x20) return perr(ps, "expected no raw control characters in a string");
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end) return perr(ps, "expected the closing quote of a string");
            c = *ps->p;
            if (c == 'u') {
                ps->p++;
                uint32_t cp;
                if (!read_hex4(ps, &cp)) return perr(ps, "expected 4 hex digits after \\u");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                        return perr(ps, "expected a low surrogate after a high surrogate");
                    ps->p += 2;
                    if (!read_hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return perr(ps, "expected a low surrogate after a high surrogate");
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    return perr(ps, "expected no unpaired low surrogate");
                } else if (cp == 0 && out) {
                    return perr(ps, "expected no \\u0000 in a name or value");
                }
                raw += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", c) || c == '\0') return perr(ps, "expected a valid escape");
            ps->p++;
            raw += 2;
            continue;
        }
        size_t n = utf8_len(ps->p, ps->end);
        if (n == 0) return perr(ps, "expected valid UTF-8");
        ps->p += n;
        raw += n;
    }
    const unsigned char *e = ps->p;
    ps->p++; /* closing quote */
    if (!out) return SB_OK;
    char *buf = malloc(raw + 1);
    if (!buf) return sb_fail(SB_ENOMEM, "%s: out of memory reading the header", ps->what);
    size_t n = 0;
    for (const unsigned char *q = s; q < e;) {
        if (*q != '\\') {
            buf[n++] = (char)*q++;
            continue;
        }
        q++;
        char c = (char)*q++;
        switch (c) {
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++)
                cp = cp * 16 + (uint32_t)hex_value(*q++);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo = 0;
                q += 2;
                for (int i = 0; i < 4; i++)
                    lo = lo * 16 + (uint32_t)hex_value(*q++);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            buf[n++] = c;
            break; /* " \ / */
        }
    }
    buf[n] = '\0';
    *out = buf;
    return SB_OK;
}

/* A non-negative integer without sign, fraction or exponent (shapes, offsets). */
static sb_status parse_uint(parser *ps, const char *what_value, uint64_t *out)
{
    skip_ws(ps);
    const unsigned char *s = ps->p;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return perr(ps, what_value);
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = *ps->p - '0';
        if (v > (UINT64_MAX - d) / 10) {
            ps->p = s;
            return perr(ps, "expected an integer below 2^64");
        }
        v = v * 10 + d;
        ps->p++;
    }
    if (ps->p - s > 1 && *s == '0') {
        ps->p = s;
        return perr(ps, "expected a number without leading zeros");
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')) {
        ps->p = s;
        return perr(ps, what_value);
    }
    *out = v;
    return SB_OK;
}

static sb_status skip_value(parser *ps, int depth);

static sb_status skip_number(parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    if (p < end && *p == '-') p++;
    if (p >= end || *p < '0' || *p > '9') return perr(ps, "expected a JSON value");
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            ps->p = p;
            return perr(ps, "expected digits after the decimal point");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') {
            ps->p = p;
            return perr(ps, "expected digits in the exponent");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    return SB_OK;
}

static sb_status skip_value(parser *ps, int depth)
{
    if (depth > MAX_JSON_DEPTH) return perr(ps, "expected nesting at most 64 levels deep");
    skip_ws(ps);
    if (ps->p >= ps->end) return perr(ps, "expected a JSON value");
    unsigned char c = *ps->p;
    if (c == '"') return parse_string(ps, NULL);
    if (c == '{') {
        ps->p++;
        if (take(ps, '}')) return SB_OK;
        do {
            SB_TRY(parse_string(ps, NULL));
            if (!take(ps, ':')) return perr(ps, "expected ':'");
            SB_TRY(skip_value(ps, depth + 1));
        } while (take(ps, ','));
        if (!take(ps, '}')) return perr(ps, "expected ',' or '}'");
        return SB_OK;
    }
    if (c == '[') {
        ps->p++;
        if (take(ps, ']')) return SB_OK;
        do {
            SB_TRY(skip_value(ps, depth + 1));
        } while (take(ps, ','));
        if (!take(ps, ']')) return perr(ps, "expected ',' or ']'");
        return SB_OK;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i], n) == 0) {
            ps->p += n;
            return SB_OK;
        }
    }
    return skip_number(ps);
}

/* ---- header -> entries ------------------------------------------------------------------ */

typedef struct st_info {
    char *name;
    const st_dtype *dtype;
    int ndim;
    int64_t shape[SB_MAX_DIMS];
    uint64_t begin, end;
} st_info;

typedef struct st_header {
    st_info *infos;
    size_t count, cap;
    sb_safetensors_meta *meta;
    size_t meta_count, meta_cap;
} st_header;

static void header_free(st_header *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->infos[i].name);
    free(h->infos);
    for (size_t i = 0; i < h->meta_count; i++) {
        free(h->meta[i].key);
        free(h->meta[i].value);
    }
    free(h->meta);
    memset(h, 0, sizeof *h);
}

static bool grow(void **items, size_t *cap, size_t count, size_t item_size)
{
    if (count < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *n = realloc(*items, ncap * item_size);
    if (!n) return false;
    *items = n;
    *cap = ncap;
    return true;
}

static sb_status parse_metadata(parser *ps, st_header *h)
{
    if (!take(ps, '{')) return perr(ps, "expected '{' (__metadata__ must be an object)");
    if (take(ps, '}')) return SB_OK;
    do {
        char *key = NULL, *value = NULL;
        SB_TRY(parse_string(ps, &key));
        if (!take(ps, ':')) {
            free(key);
            return perr(ps, "expected ':'");
        }
        sb_status st = parse_string(ps, &value);
        if (st != SB_OK) {
            free(key);
            return sb_fail_context(st, "__metadata__ values must be strings");
        }
        if (!grow((void **)&h->meta, &h->meta_cap, h->meta_count, sizeof *h->meta)) {
            free(key);
            free(value);
            return sb_fail(SB_ENOMEM, "%s: out of memory reading the header", ps->what);
        }
        h->meta[h->meta_count++] = (sb_safetensors_meta){key, value};
    } while (take(ps, ','));
    if (!take(ps, '}')) return perr(ps, "expected ',' or '}'");
    return SB_OK;
}

static sb_status parse_tensor_info(parser *ps, st_info *info)
{
    if (!take(ps, '{')) return perr(ps, "expected '{' (a tensor's entry must be an object)");
    bool have_dtype = false, have_shape = false, have_offsets = false;
    if (!take(ps, '}')) {
        do {
            char *key = NULL;
            SB_TRY(parse_string(ps, &key));
            if (!take(ps, ':')) {
                free(key);
                return perr(ps, "expected ':'");
            }
            if (strcmp(key, "dtype") == 0) {
                free(key);
                if (have_dtype) return perr(ps, "expected one \"dtype\" per tensor");
                char *name = NULL;
                SB_TRY(parse_string(ps, &name));
                info->dtype = st_dtype_find(name);
                if (!info->dtype) {
                    sb_status st =
                        sb_fail(SB_EFORMAT,
                                "%s: tensor '%s' has dtype '%.16s', which sbengine does not read "
                                "(F32, F64, F16, BF16, I64, I32, U8)",
                                ps->what, info->name, name);
                    free(name);
                    return st;
                }
                free(name);
                have_dtype = true;
            } else if (strcmp(key, "shape") == 0) {
                free(key);
                if (have_shape) return perr(ps, "expected one \"shape\" per tensor");
                if (!take(ps, '[')) return perr(ps, "expected '[' (shape must be an array)");
                info->ndim = 0;
                if (!take(ps, ']')) {
                    do {
                        uint64_t v;
                        SB_TRY(parse_uint(ps, "expected a non-negative integer size in shape", &v));
                        if (info->ndim == SB_MAX_DIMS)
                            return sb_fail(SB_EFORMAT,
                                           "%s: tensor '%s' has more than %d dimensions", ps->what,
                                           info->name, SB_MAX_DIMS);
                        if (v > (uint64_t)INT64_MAX) return perr(ps, "expected a size below 2^63");
                        info->shape[info->ndim++] = (int64_t)v;
                    } while (take(ps, ','));
                    if (!take(ps, ']')) return perr(ps, "expected ',' or ']'");
                }
                have_shape = true;
            } else if (strcmp(key, "data_offsets") == 0) {
                free(key);
                if (have_offsets) return perr(ps, "expected one \"data_offsets\" per tensor");
                if (!take(ps, '['))
                    return perr(ps, "expected '[' (data_offsets must be [begin, end])");
                SB_TRY(parse_uint(ps, "expected a non-negative integer offset", &info->begin));
                if (!take(ps, ',')) return perr(ps, "expected ',' (data_offsets is [begin, end])");
                SB_TRY(parse_uint(ps, "expected a non-negative integer offset", &info->end));
                if (!take(ps, ']')) return perr(ps, "expected ']' (data_offsets is [begin, end])");
                have_offsets = true;
            } else {
                free(key);
                SB_TRY(skip_value(ps, 2));
            }
        } while (take(ps, ','));
        if (!take(ps, '}')) return perr(ps, "expected ',' or '}'");
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return sb_fail(SB_EFORMAT, "%s: tensor '%s' lacks %s", ps->what, info->name,
                       !have_dtype   ? "\"dtype\""
                       : !have_shape ? "\"shape\""
                                     : "\"data_offsets\"");
    return SB_OK;
}

static sb_status parse_header(parser *ps, st_header *h)
{
    if (!take(ps, '{')) return perr(ps, "expected '{' (the header is a JSON object)");
    bool have_meta = false;
    if (!take(ps, '}')) {
        do {
            char *name = NULL;
            SB_TRY(parse_string(ps, &name));
            if (!take(ps, ':')) {
                free(name);
                return perr(ps, "expected ':'");
            }
            if (strcmp(name, "__metadata__") == 0) {
                free(name);
                if (have_meta) return perr(ps, "expected one \"__metadata__\"");
                have_meta = true;
                SB_TRY(parse_metadata(ps, h));
                continue;
            }
            if (!grow((void **)&h->infos, &h->cap, h->count, sizeof *h->infos)) {
                free(name);
                return sb_fail(SB_ENOMEM, "%s: out of memory reading the header", ps->what);
            }
            st_info *info = &h->infos[h->count++];
            memset(info, 0, sizeof *info);
            info->name = name;
            SB_TRY(parse_tensor_info(ps, info));
        } while (take(ps, ','));
        if (!take(ps, '}')) return perr(ps, "expected ',' or '}'");
    }
    skip_ws(ps);
    if (ps->p != ps->end) return perr(ps, "expected only whitespace after the header object");
    return SB_OK;
}

/* ---- validation and tensors -------------------------------------------------------------- */

static int by_begin(const void *a, const void *b)
{
    const st_info *x = *(const st_info *const *)a, *y = *(const st_info *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const st_info *const *)a)->name, (*(const st_info *const *)b)->name);
}

static sb_status check_layout(const char *what, st_header *h, uint64_t data_len,
                              st_info ***sorted_out)
{
    st_info **sorted = malloc((h->count ? h->count : 1) * sizeof *sorted);
    if (!sorted) return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < h->count; i++)
        sorted[i] = &h->infos[i];
    qsort(sorted, h->count, sizeof *sorted, by_name);
    for (size_t i = 1; i < h->count; i++) {
        if (strcmp(sorted[i]->name, sorted[i - 1]->name) == 0) {
            sb_status st = sb_fail(SB_EFORMAT, "%s: tensor '%s' appears twice in the header", what,
                                   sorted[i]->name);
            free(sorted);
            return st;
        }
    }
    for (size_t i = 0; i < h->count; i++) {
        st_info *t = &h->infos[i];
        sorted[i] = t;
        if (t->end < t->begin) {
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' has data_offsets [%llu, %llu]: end before begin", what,
                           t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
        }
        if (t->end > data_len) {
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' has data_offsets [%llu, %llu] beyond the %llu data "
                           "bytes of the file",
                           what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)data_len);
        }
        uint64_t bytes = t->dtype->size;
        bool overflow = false;
        for (int d = 0; d < t->ndim; d++)
            overflow |= __builtin_mul_overflow(bytes, (uint64_t)t->shape[d], &bytes);
        if (overflow || bytes != t->end - t->begin) {
            char shape[160];
            size_t n = 0;
            n += (size_t)snprintf(shape + n, sizeof shape - n, "[");
            for (int d = 0; d < t->ndim && n < sizeof shape; d++)
                n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%lld", d ? ", " : "",
                                      (long long)t->shape[d]);
            if (n < sizeof shape) snprintf(shape + n, sizeof shape - n, "]");
            free(sorted);
            return sb_fail(SB_EFORMAT,
                           "%s: tensor '%s' (%s, shape %s) needs %s bytes but its data_offsets "
                           "[%llu, %llu] hold %llu",
                           what, t->name, t->dtype->name, shape,
                           overflow ? "more than 2^64" : "a different number of",
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)(t->end - t->begin));
        }
    }
    qsort(sorted, h->count, sizeof *sorted, by_begin);
    uint64_t expected = 0;
    for (size_t i = 0; i < h->count; i++) {
        st_info *t = sorted[i];
        if (t->begin != expected) {
            sb_status st;
            if (t->begin < expected)
                st =
                    sb_fail(SB_EFORMAT,
                            "%s: tensor '%s' (data_offsets [%llu, %llu]) overlaps tensor '%s' "
                            "(data_offsets [%llu, %llu])",
                            what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            sorted[i - 1]->name, (unsigned long long)sorted[i - 1]->begin,
                            (unsigned long long)sorted[i - 1]->end);
            else
                st = sb_fail(SB_EFORMAT,
                             "%s: %llu unused data bytes before tensor '%s' (data_offsets "
                             "[%llu, %llu]); tensors must be stored back to back",
                             what, (unsigned long long)(t->begin - expected), t->name,
                             (unsigned long long)t->begin, (unsigned long long)t->end);
            free(sorted);
            return st;
        }
        expected = t->end;
    }
    if (expected != data_len) {
        free(sorted);
        return sb_fail(SB_EFORMAT,
                       "%s: the file has %llu data bytes after the last tensor's end (%llu of "
                       "%llu used); truncated header or trailing garbage",
                       what, (unsigned long long)(data_len - expected),
                       (unsigned long long)expected, (unsigned long long)data_len);
    }
    *sorted_out = sorted;
    return SB_OK;
}

static sb_status make_tensor(const char *what, const st_info *t, const unsigned char *data,
                             size_t data_pos, sb_storage *storage, sb_tensor **out)
{
    const unsigned char *src = data + data_pos + t->begin;
    const size_t esize = t->dtype->size;
    const sb_dtype dtype = t->dtype->loaded;
    if (storage && (data_pos + t->begin) % esize == 0) {
        int64_t strides[SB_MAX_DIMS];
        int64_t s = 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            strides[d] = s;
            s *= t->shape[d];
        }
        /* An empty tensor may sit at the very end; its offset is then clamped to 0. */
        int64_t numel = (int64_t)((t->end - t->begin) / esize);
        int64_t offset = numel ? (int64_t)((data_pos + t->begin) / esize) : 0;
        sb_status st =
            sb_tensor_from_storage(storage, dtype, t->ndim, t->shape, strides, offset, out);
        if (st != SB_OK) return sb_fail_context(st, "%s: tensor '%s'", what, t->name);
        return SB_OK;
    }
    sb_tensor *x;
    SB_TRY(sb_tensor_empty(t->ndim, t->shape, dtype, SB_CPU, &x));
    const size_t n = (size_t)((t->end - t->begin) / esize);
    if (n) memcpy(sb_tensor_data(x), src, n * esize);
    *out = x;
    return SB_OK;
}

void sb_safetensors_free(sb_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->entries[i].name);
        sb_tensor_free(st->entries[i].tensor);
    }
    free(st->entries);
    for (size_t i = 0; i < st->meta_count; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    free(st);
}

sb_status sb_safetensors_parse(const void *data, size_t size, sb_storage *storage, const char *what,
                               sb_safetensors **out)
{
    const unsigned char *bytes = data;
    const char *format = sb_pytorch_sniff(data, size);
    if (format && (strcmp(format, "zip") == 0 || strcmp(format, "legacy") == 0))
        return sb_fail(SB_EFORMAT,
                       "%s: this is a PyTorch checkpoint (torch.save, %s format), not a "
                       "safetensors file: load it with sb.io.load_pytorch",
                       what, format);
    if (size < 8)
        return sb_fail(SB_EFORMAT,
                       "%s: not a safetensors file: %zu bytes, shorter than the 8-byte header "
                       "length",
                       what, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | bytes[i];
    if (hlen > SB_SAFETENSORS_MAX_HEADER)
        return sb_fail(SB_EFORMAT,
                       "%s: header length %llu is above the limit of %llu bytes (not a "
                       "safetensors file?)",
                       what, (unsigned long long)hlen, SB_SAFETENSORS_MAX_HEADER);
    if (hlen > size - 8)
        return sb_fail(SB_EFORMAT,
                       "%s: header length %llu runs past the end of the file (%zu bytes): "
                       "truncated or not a safetensors file",
                       what, (unsigned long long)hlen, size);
    parser ps = {bytes + 8, bytes + 8, bytes + 8 + hlen, what};
    st_header h = {0};
    sb_status st = parse_header(&ps, &h);
    st_info **sorted = NULL;
    if (st == SB_OK) st = check_layout(what, &h, size - 8 - hlen, &sorted);
    if (st != SB_OK) {
        header_free(&h);
        return st;
    }
    sb_safetensors *res = calloc(1, sizeof *res);
    if (res) res->entries = calloc(h.count ? h.count : 1, sizeof *res->entries);
    if (!res || !res->entries) {
        free(res);
        free(sorted);
        header_free(&h);
        return sb_fail(SB_ENOMEM, "%s: out of memory", what);
    }
    for (size_t i = 0; i < h.count && st == SB_OK; i++) {
        st_info *t = sorted[i];
        st = make_tensor(what, t, bytes, 8 + hlen, storage, &res->entries[i].tensor);
        if (st != SB_OK) break;
        res->entries[i].name = t->name;
        snprintf(res->entries[i].dtype, sizeof res->entries[i].dtype, "%s", t->dtype->name);
        t->name = NULL; /* moved */
        res->count = i + 1;
    }
    free(sorted);
    res->meta = h.meta;
    res->meta_count = h.meta_count;
    h.meta = NULL;
    h.meta_count = 0;
    header_free(&h);
    if (st != SB_OK) {
        sb_safetensors_free(res);
        return st;
    }
    *out = res;
    return SB_OK;
}

sb_status sb_safetensors_load(const char *path, sb_safetensors **out)
{
    sb_storage *storage;
    SB_TRY(sb_map_file(path, 8, "not a safetensors file: shorter than the 8-byte header length",
                       &storage));
    sb_status st = sb_safetensors_parse(storage->data, storage->nbytes, storage, path, out);
    sb_storage_release(storage); /* the tensors hold their own references */
    return st;
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct strbuf {
    char *s;
    size_t n, cap;
    bool oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_puts(strbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void put_json_string(strbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            sb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_puts(b, esc);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_puts(b, "\"");
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        size_t n = utf8_len(p, end);
        if (n == 0) return false;
        p += n;
    }
    return true;
}

sb_status sb_safetensors_save(const char *path, size_t count, const char *const *names,
                              const sb_tensor *const *tensors, size_t meta_count,
                              const char *const *meta_keys, const char *const *meta_values)
{
    sb_tensor **cpu = calloc(count ? count : 1, sizeof *cpu);
    if (!cpu) return sb_fail(SB_ENOMEM, "save_safetensors: out of memory");
    strbuf hb = {0};
    sb_status st = SB_OK;
    uint64_t offset = 0;
    sb_puts(&hb, "{");
    for (size_t i = 0; i < count && st == SB_OK; i++) {
        const char *name = names[i];
        if (!name[0] || strcmp(name, "__metadata__") == 0 || !valid_utf8(name)) {
            st = sb_fail(SB_EINVAL,
                         "tensor name '%s' is not allowed (empty, \"__metadata__\" "
                         "or not UTF-8)",
                         name);
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], name) == 0)
                st = sb_fail(SB_EINVAL, "tensor name '%s' appears twice", name);
        if (st != SB_OK) break;
        const sb_tensor *t = tensors[i];
        const char *dname = st_dtype_name_of(t->dtype);
        if (!dname) {
            st = sb_fail(SB_EINVAL, "tensor '%s' has dtype %s, which safetensors cannot store",
                         name, sb_dtype_name(t->dtype));
            break;
        }
        sb_tensor *c;
        if (sb_tensor_device(t).kind != SB_DEVICE_CPU)
            st = sb_tensor_to_device(t, SB_CPU, &c);
        else
            st = sb_tensor_contiguous(t, &c);
        if (st == SB_OK && !sb_tensor_is_contiguous(c)) {
            sb_tensor *c2;
            st = sb_tensor_contiguous(c, &c2);
            sb_tensor_free(c);
            c = st == SB_OK ? c2 : NULL;
        }
        if (st != SB_OK) {
            st = sb_fail_context(st, "tensor '%s'", name);
            break;
        }
        cpu[i] = c;
        uint64_t bytes = (uint64_t)sb_tensor_numel(c) * sb_dtype_size(c->dtype);
        char buf[96];
        if (i) sb_puts(&hb, ",");
        put_json_string(&hb, name);
        snprintf(buf, sizeof buf, ":{\"dtype\":\"%s\",\"shape\":[", dname);
        sb_puts(&hb, buf);
        for (int d = 0; d < c->ndim; d++) {
            snprintf(buf, sizeof buf, "%s%lld", d ? "," : "", (long long)c->sizes[d]);
            sb_puts(&hb, buf);
        }
        snprintf(buf, sizeof buf, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                 (unsigned long long)(offset + bytes));
        sb_puts(&hb, buf);
        offset += bytes;
    }
    if (st == SB_OK && meta_count > 0) {
        sb_puts(&hb, count ? ",\"__metadata__\":{" : "\"__metadata__\":{");
        for (size_t i = 0; i < meta_count; i++) {
            if (!valid_utf8(meta_keys[i]) || !valid_utf8(meta_values[i])) {
                st = sb_fail(SB_EINVAL, "metadata '%s' is not valid UTF-8", meta_keys[i]);
                break;
            }
            if (i) sb_puts(&hb, ",");
            put_json_string(&hb, meta_keys[i]);
            sb_puts(&hb, ":");
            put_json_string(&hb, meta_values[i]);
        }
        sb_puts(&hb, "}");
    }
    sb_puts(&hb, "}");
    /* Pad with spaces so the data (and so every tensor) starts 8-byte aligned. */
    while (hb.n % 8 != 0)
        sb_puts(&hb, " ");
    if (st == SB_OK && hb.oom) st = sb_fail(SB_ENOMEM, "save_safetensors: out of memory");

    sb_atomic_file out;
    if (st == SB_OK) st = sb_atomic_open(&out, path);
    if (st == SB_OK) {
        unsigned char len8[8];
        uint64_t hlen = hb.n;
        for (int i = 0; i < 8; i++)
            len8[i] = (unsigned char)(hlen >> (8 * i));
        st = sb_atomic_write(&out, len8, 8);
        if (st == SB_OK) st = sb_atomic_write(&out, hb.s, hb.n);
        for (size_t i = 0; i < count && st == SB_OK; i++)
            st = sb_atomic_write(&out, sb_tensor_data(cpu[i]),
                                 (size_t)sb_tensor_numel(cpu[i]) * sb_dtype_size(cpu[i]->dtype));
        if (st == SB_OK)
            st = sb_atomic_commit(&out);
        else
            sb_atomic_abort(&out);
    }
    free(hb.s);
    for (size_t i = 0; i < count; i++)
        sb_tensor_free(cpu[i]);
    free(cpu);
    return st;
}
