/* The JSON writer (engine/result/json.c), round trip: the input is a small program that
 * builds a value (strings of any bytes, doubles, integers, nested arrays and objects); the
 * writer's text must pass the strict check, and reading it back (a decoder here) and writing
 * again must give the same text, compact and pretty. */
#include <math.h>

#include "core/buf.h"
#include "core/json_validate.h"
#include "fuzz_common.h"
#include "core/json.h"

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static uint8_t take(reader *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static sb_json *build(reader *r, int depth)
{
    sb_json *v = NULL;
    uint8_t op = take(r);
    switch (op % 7) {
    case 0:
        sb_json_null(&v);
        break;
    case 1:
        sb_json_bool(op & 8, &v);
        break;
    case 2: {
        int64_t x = 0;
        for (int i = 0; i < 8; i++)
            x = (int64_t)((uint64_t)x << 8 | take(r));
        sb_json_integer(x, &v);
        break;
    }
    case 3: {
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | take(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (sb_json_number(d, &v) != SB_OK) sb_json_null(&v); /* NaN/inf are refused */
        break;
    }
    case 4: {
        size_t n = take(r) % 24;
        if (n > (size_t)(r->end - r->p)) n = (size_t)(r->end - r->p);
        if (sb_json_string((const char *)r->p, n, &v) != SB_OK) sb_json_string("", 0, &v);
        r->p += n;
        break;
    }
    default: {
        bool array = op % 7 == 5;
        array ? sb_json_array(&v) : sb_json_object(&v);
        size_t n = depth < 6 ? take(r) % 5 : 0;
        for (size_t i = 0; i < n && v; i++) {
            char key[8];
            snprintf(key, sizeof key, "k%u", take(r) % 4u);
            sb_json *item = build(r, depth + 1);
            if (!item) continue;
            array ? sb_json_array_push(v, item) : sb_json_object_set(v, key, item);
        }
    }
    }
    return v;
}

/* ---- a decoder for the writer's output (strict input, so it can be short) ---- */
typedef struct dec {
    const char *p, *end;
} dec;

static void ws(dec *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\t' || *d->p == '\r'))
        d->p++;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v * 16 + (unsigned)(s[i] <= '9' ? s[i] - '0' : (s[i] | 32) - 'a' + 10);
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | (cp >> 6 & 63)),
               o[2] = (char)(0x80 | (cp & 63)), 3;
    return o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | (cp >> 12 & 63)),
           o[2] = (char)(0x80 | (cp >> 6 & 63)), o[3] = (char)(0x80 | (cp & 63)), 4;
}

static char *string(dec *d, size_t *len)
{
    char *out = malloc((size_t)(d->end - d->p) + 1);
    size_t n = 0;
    d->p++;
    while (*d->p != '"') {
        if (*d->p != '\\') {
            out[n++] = *d->p++;
            continue;
        }
        char e = d->p[1];
        d->p += 2;
        if (e == 'u') {
            unsigned cp = hex4(d->p);
            d->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && d->p[0] == '\\' && d->p[1] == 'u') {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(d->p + 2) - 0xdc00);
                d->p += 6;
            }
            n += put_utf8(out + n, cp);
        } else {
            out[n++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b'
                       : e == 'f' ? '\f' : e;
        }
    }
    d->p++;
    out[n] = '\0';
    *len = n;
    return out;
}

static sb_json *decode(dec *d)
{
    ws(d);
    sb_json *v = NULL;
    char c = *d->p;
    if (c == 'n') d->p += 4, sb_json_null(&v);
    else if (c == 't') d->p += 4, sb_json_bool(true, &v);
    else if (c == 'f') d->p += 5, sb_json_bool(false, &v);
    else if (c == '"') {
        size_t n;
        char *s = string(d, &n);
        if (sb_json_string(s, n, &v) != SB_OK) abort(); /* the writer wrote invalid text */
        free(s);
    } else if (c == '[' || c == '{') {
        c == '[' ? sb_json_array(&v) : sb_json_object(&v);
        d->p++;
        ws(d);
        while (*d->p != ']' && *d->p != '}') {
            ws(d);
            char *key = NULL;
            if (c == '{') {
                size_t n;
                key = string(d, &n);
                ws(d);
                d->p++; /* : */
            }
            sb_json *item = decode(d);
            c == '[' ? sb_json_array_push(v, item) : sb_json_object_set(v, key, item);
            free(key);
            ws(d);
            if (*d->p == ',') d->p++;
            ws(d);
        }
        d->p++;
    } else {
        const char *start = d->p;
        bool real = false;
        while (d->p < d->end && strchr("+-0123456789.eE", *d->p)) {
            real |= *d->p == '.' || *d->p == 'e' || *d->p == 'E';
            d->p++;
        }
        char num[64];
        snprintf(num, sizeof num, "%.*s", (int)(d->p - start), start);
        if (real) sb_json_number(strtod(num, NULL), &v);
        else sb_json_integer(strtoll(num, NULL, 10), &v);
    }
    return v;
}

static void check_round_trip(const sb_json *v, bool pretty)
{
    sb_buf a = {0}, b = {0};
    if (sb_json_write(v, pretty, &a) != SB_OK) abort();
    if (sb_json_validate(a.data, a.len, NULL) != SB_OK) {
        fprintf(stderr, "invalid JSON written: %s\n%.*s\n", sb_error_message(), (int)a.len, a.data);
        abort();
    }
    dec d = {a.data, a.data + a.len};
    sb_json *back = decode(&d);
    if (sb_json_write(back, pretty, &b) != SB_OK) abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "round trip differs:\n%.*s\n%.*s\n", (int)a.len, a.data, (int)b.len, b.data);
        abort();
    }
    sb_json_free(back);
    sb_buf_free(&a);
    sb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, data + size};
    sb_json *v = build(&r, 0);
    if (!v) return 0;
    check_round_trip(v, false);
    check_round_trip(v, true);
    sb_json_free(v);
    return 0;
}
