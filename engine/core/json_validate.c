#include "core/json_validate.h"

#include "core/utf8.h"

typedef struct parser {
    const char *s;
    size_t len, pos;
} parser;

static sb_status fail_at(const parser *p, size_t at, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    return sb_fail(SB_EFORMAT, "not valid JSON: %s at line %zu, column %zu (byte %zu)", what, line,
                   col, at);
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static sb_status parse_string(parser *p)
{
    size_t start = p->pos++; /* the opening quote */
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return SB_OK;
        }
        if (c < 0x20) return fail_at(p, p->pos, "a raw control character in a string");
        if (c == '\\') {
            if (p->pos + 1 >= p->len) break;
            char e = p->s[p->pos + 1];
            if (e == 'u') {
                if (p->len - p->pos < 6) break;
                for (int k = 2; k < 6; k++)
                    if (!is_hex(p->s[p->pos + k]))
                        return fail_at(p, p->pos, "a \\u escape without four hex digits");
                p->pos += 6;
                continue;
            }
            if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                  e == 'r' || e == 't'))
                return fail_at(p, p->pos, "an unknown escape in a string");
            p->pos += 2;
            continue;
        }
        if (c < 0x80) {
            p->pos++;
            continue;
        }
        /* one UTF-8 sequence */
        size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        if (n > p->len - p->pos || !sb_utf8_valid(p->s + p->pos, n) || n == 1)
            return fail_at(p, p->pos, "invalid UTF-8 in a string");
        p->pos += n;
    }
    return fail_at(p, start, "a string that never ends");
}

static sb_status parse_number(parser *p)
{
    size_t start = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos])) return fail_at(p, start, "a malformed number");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len &&
            (is_digit(p->s[p->pos]) || p->s[p->pos] == 'x' || p->s[p->pos] == 'X'))
            return fail_at(p, start, "a number with a leading zero (or hexadecimal)");
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail_at(p, start, "a number with no digit after its point");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail_at(p, start, "a number with an empty exponent");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    return SB_OK;
}

static sb_status parse_literal(parser *p, const char *word)
{
    size_t n = 0;
    while (word[n])
        n++;
    if (p->len - p->pos < n) return fail_at(p, p->pos, "an unknown word");
    for (size_t i = 0; i < n; i++)
        if (p->s[p->pos + i] != word[i]) return fail_at(p, p->pos, "an unknown word");
    p->pos += n;
    return SB_OK;
}

static sb_status parse_value(parser *p, int depth, size_t *members);

/* An array or object; *members counts its entries. */
static sb_status parse_container(parser *p, int depth, size_t *members)
{
    char open = p->s[p->pos], close = open == '[' ? ']' : '}';
    if (depth >= SB_JSON_MAX_DEPTH) return fail_at(p, p->pos, "nesting deeper than 512 levels");
    p->pos++;
    skip_ws(p);
    size_t count = 0;
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        if (members) *members = 0;
        return SB_OK;
    }
    for (;;) {
        skip_ws(p);
        if (open == '{') {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail_at(p, p->pos, "an object key that is not a string");
            SB_TRY(parse_string(p));
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail_at(p, p->pos, "a missing ':' after an object key");
            p->pos++;
        }
        SB_TRY(parse_value(p, depth + 1, NULL));
        count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            if (members) *members = count;
            return SB_OK;
        }
        return fail_at(p, p->pos,
                       open == '[' ? "a missing ',' or ']' in an array"
                                   : "a missing ',' or '}' in an object");
    }
}

static sb_status parse_value(parser *p, int depth, size_t *members)
{
    skip_ws(p);
    if (p->pos >= p->len) return fail_at(p, p->pos, "a missing value");
    char c = p->s[p->pos];
    switch (c) {
    case '[':
    case '{':
        return parse_container(p, depth, members);
    case '"':
        return parse_string(p);
    case 't':
        return parse_literal(p, "true");
    case 'f':
        return parse_literal(p, "false");
    case 'n':
        return parse_literal(p, "null");
    default:
        if (c == '-' || is_digit(c)) return parse_number(p);
        if (c == ']' || c == '}' || c == ',') return fail_at(p, p->pos, "a missing value");
        return fail_at(p, p->pos,
                       c == 'N' || c == 'I' ? "NaN or Infinity (not JSON numbers)"
                                            : "an unexpected character");
    }
}

sb_status sb_json_validate(const char *text, size_t len, sb_json_shape *shape)
{
    parser p = {text, len, 0};
    sb_json_shape got = {0, 0};
    skip_ws(&p);
    got.top = p.pos < len ? text[p.pos] : 0;
    SB_TRY(parse_value(&p, 0, &got.members));
    skip_ws(&p);
    if (p.pos != len) return fail_at(&p, p.pos, "text after the JSON value");
    if (shape) *shape = got;
    return SB_OK;
}
