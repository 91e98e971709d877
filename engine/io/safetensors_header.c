/* The safetensors header: a strict JSON reader over [p, end) and the entries it yields. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "io/safetensors_internal.h"

#define MAX_JSON_DEPTH 64

/* ---- dtypes ---------------------------------------------------------------------------- */

static const st_dtype st_dtypes[] = {
    {"F32", 4, SB_FLOAT32}, {"F64", 8, SB_FLOAT64}, {"I64", 8, SB_INT64},     {"I32", 4, SB_INT32},
    {"U8", 1, SB_UINT8},    {"F16", 2, SB_FLOAT16}, {"BF16", 2, SB_BFLOAT16},
};

/* The file's dtype named `name` ("F32", ...), or NULL. */
static const st_dtype *st_dtype_find(const char *name)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(st_dtypes[i].name, name) == 0) return &st_dtypes[i];
    return NULL;
}

const char *sb_st_dtype_name(sb_dtype d)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].loaded == d) return st_dtypes[i].name;
    return NULL;
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
        size_t n = sb_utf8_sequence_length(ps->p, ps->end);
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
        if (c != 'u') { /* one of the escapes the first pass accepted */
            static const char from[] = "bfnrt\"\\/", to[] = "\b\f\n\r\t\"\\/";
            buf[n++] = to[strchr(from, c) - from];
            continue;
        }
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
        n += sb_utf8_encode(cp, buf + n);
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

void sb_st_meta_free(sb_safetensors_meta *meta, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(meta[i].key);
        free(meta[i].value);
    }
    free(meta);
}

void sb_st_header_free(st_header *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->infos[i].name);
    free(h->infos);
    sb_st_meta_free(h->meta, h->meta_count);
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

/* An object member's key and the ':' after it; *key is malloc'd (free it). */
static sb_status parse_key(parser *ps, char **key)
{
    SB_TRY(parse_string(ps, key));
    if (take(ps, ':')) return SB_OK;
    free(*key);
    *key = NULL;
    return perr(ps, "expected ':'");
}

/* Reads one member's value; owns `key`. */
typedef sb_status (*member_fn)(parser *ps, char *key, void *ctx);

/* An object: `member` is called for each member with the parser at its value.
 * `expected_open` is the message when there is no '{'. */
static sb_status parse_object(parser *ps, const char *expected_open, member_fn member, void *ctx)
{
    if (!take(ps, '{')) return perr(ps, expected_open);
    if (take(ps, '}')) return SB_OK;
    do {
        char *key = NULL;
        SB_TRY(parse_key(ps, &key));
        SB_TRY(member(ps, key, ctx));
    } while (take(ps, ','));
    if (!take(ps, '}')) return perr(ps, "expected ',' or '}'");
    return SB_OK;
}

static sb_status metadata_member(parser *ps, char *key, void *ctx)
{
    st_header *h = ctx;
    char *value = NULL;
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
    return SB_OK;
}

static sb_status parse_dtype(parser *ps, st_info *info)
{
    char *name = NULL;
    SB_TRY(parse_string(ps, &name));
    info->dtype = st_dtype_find(name);
    sb_status st = SB_OK;
    if (!info->dtype)
        st = sb_fail(SB_EFORMAT,
                     "%s: tensor '%s' has dtype '%.16s', which sbengine does not read "
                     "(F32, F64, F16, BF16, I64, I32, U8)",
                     ps->what, info->name, name);
    free(name);
    return st;
}

static sb_status parse_shape(parser *ps, st_info *info)
{
    if (!take(ps, '[')) return perr(ps, "expected '[' (shape must be an array)");
    info->ndim = 0;
    if (take(ps, ']')) return SB_OK;
    do {
        uint64_t v;
        SB_TRY(parse_uint(ps, "expected a non-negative integer size in shape", &v));
        if (info->ndim == SB_MAX_DIMS)
            return sb_fail(SB_EFORMAT, "%s: tensor '%s' has more than %d dimensions", ps->what,
                           info->name, SB_MAX_DIMS);
        if (v > (uint64_t)INT64_MAX) return perr(ps, "expected a size below 2^63");
        info->shape[info->ndim++] = (int64_t)v;
    } while (take(ps, ','));
    if (!take(ps, ']')) return perr(ps, "expected ',' or ']'");
    return SB_OK;
}

static sb_status parse_offsets(parser *ps, st_info *info)
{
    if (!take(ps, '[')) return perr(ps, "expected '[' (data_offsets must be [begin, end])");
    SB_TRY(parse_uint(ps, "expected a non-negative integer offset", &info->begin));
    if (!take(ps, ',')) return perr(ps, "expected ',' (data_offsets is [begin, end])");
    SB_TRY(parse_uint(ps, "expected a non-negative integer offset", &info->end));
    if (!take(ps, ']')) return perr(ps, "expected ']' (data_offsets is [begin, end])");
    return SB_OK;
}

typedef struct tensor_entry {
    st_info *info;
    bool have_dtype, have_shape, have_offsets;
} tensor_entry;

/* A member of a tensor's entry: dtype, shape and data_offsets once each; other members
 * are checked and skipped, as the reference implementation ignores them. */
static sb_status tensor_member(parser *ps, char *key, void *ctx)
{
    tensor_entry *e = ctx;
    static const char *const fields[] = {"dtype", "shape", "data_offsets"};
    bool *have[] = {&e->have_dtype, &e->have_shape, &e->have_offsets};
    int field = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(key, fields[i]) == 0) field = i;
    free(key);
    if (field < 0) return skip_value(ps, 2);
    if (*have[field]) {
        char expected[64];
        snprintf(expected, sizeof expected, "expected one \"%s\" per tensor", fields[field]);
        return perr(ps, expected);
    }
    *have[field] = true;
    if (field == 0) return parse_dtype(ps, e->info);
    if (field == 1) return parse_shape(ps, e->info);
    return parse_offsets(ps, e->info);
}

typedef struct header_state {
    st_header *h;
    bool have_meta;
} header_state;

/* A member of the header: "__metadata__" once, or a tensor's entry. */
static sb_status header_member(parser *ps, char *name, void *ctx)
{
    header_state *hs = ctx;
    st_header *h = hs->h;
    if (strcmp(name, "__metadata__") == 0) {
        free(name);
        if (hs->have_meta) return perr(ps, "expected one \"__metadata__\"");
        hs->have_meta = true;
        return parse_object(ps, "expected '{' (__metadata__ must be an object)", metadata_member,
                            h);
    }
    if (!grow((void **)&h->infos, &h->cap, h->count, sizeof *h->infos)) {
        free(name);
        return sb_fail(SB_ENOMEM, "%s: out of memory reading the header", ps->what);
    }
    st_info *info = &h->infos[h->count++];
    memset(info, 0, sizeof *info);
    info->name = name;
    tensor_entry e = {info, false, false, false};
    SB_TRY(
        parse_object(ps, "expected '{' (a tensor's entry must be an object)", tensor_member, &e));
    if (!e.have_dtype || !e.have_shape || !e.have_offsets)
        return sb_fail(SB_EFORMAT, "%s: tensor '%s' lacks %s", ps->what, info->name,
                       !e.have_dtype   ? "\"dtype\""
                       : !e.have_shape ? "\"shape\""
                                       : "\"data_offsets\"");
    return SB_OK;
}

sb_status sb_st_parse_header(const unsigned char *start, const unsigned char *end, const char *what,
                             st_header *h)
{
    memset(h, 0, sizeof *h);
    parser ps = {start, start, end, what};
    header_state hs = {h, false};
    SB_TRY(parse_object(&ps, "expected '{' (the header is a JSON object)", header_member, &hs));
    skip_ws(&ps);
    if (ps.p != ps.end) return perr(&ps, "expected only whitespace after the header object");
    return SB_OK;
}
