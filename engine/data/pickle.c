#include "data/pickle.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_RECONSTRUCT = 1, G_NDARRAY, G_DTYPE, G_ENCODE };

static const struct {
    const char *module, *name;
    int id;
} allowed_globals[] = {
    {"numpy.core.multiarray", "_reconstruct", G_RECONSTRUCT},
    {"numpy", "ndarray", G_NDARRAY},
    {"numpy", "dtype", G_DTYPE},
    {"_codecs", "encode", G_ENCODE},
};

typedef struct parser {
    const char *what;
    const uint8_t *start, *p, *end;
    sb_pickle *doc;
    sb_pv **stack;
    size_t depth, stack_cap;
    sb_pv **memo;
    size_t memo_cap;
} parser;

static sb_pv *new_value(parser *ps, sb_pv_kind kind)
{
    sb_pv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = kind;
    v->next_alloc = ps->doc->values;
    ps->doc->values = v;
    return v;
}

static sb_status push(parser *ps, sb_pv *v)
{
    if (!v) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
    if (ps->depth == ps->stack_cap) {
        size_t cap = ps->stack_cap ? ps->stack_cap * 2 : 64;
        sb_pv **grown = realloc(ps->stack, sizeof *grown * cap);
        if (!grown) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
        ps->stack = grown;
        ps->stack_cap = cap;
    }
    ps->stack[ps->depth++] = v;
    return SB_OK;
}

static sb_status add_item(parser *ps, sb_pv *c, sb_pv *v)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        sb_pv **grown = realloc(c->items, sizeof *grown * cap);
        if (!grown) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
        c->items = grown;
        c->cap = cap;
    }
    c->items[c->n++] = v;
    return SB_OK;
}

#define BAD(...) sb_fail(SB_EFORMAT, __VA_ARGS__)

static sb_status need(parser *ps, size_t n, const uint8_t **out)
{
    if ((size_t)(ps->end - ps->p) < n)
        return BAD("'%s': truncated pickle (a value runs past the end of the file)", ps->what);
    *out = ps->p;
    ps->p += n;
    return SB_OK;
}

static uint64_t le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* A text line (protocol 0 arguments), without its newline. */
static sb_status line(parser *ps, const uint8_t **s, size_t *len)
{
    const uint8_t *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
    if (!nl) return BAD("'%s': truncated pickle (a text argument has no end)", ps->what);
    *s = ps->p;
    *len = (size_t)(nl - ps->p);
    ps->p = nl + 1;
    return SB_OK;
}

static sb_status pop(parser *ps, sb_pv **v)
{
    if (ps->depth == 0 || ps->stack[ps->depth - 1]->kind == SB_PV_MARK)
        return BAD("'%s': malformed pickle (stack underflow)", ps->what);
    *v = ps->stack[--ps->depth];
    return SB_OK;
}

/* Index of the topmost MARK. */
static sb_status find_mark(parser *ps, size_t *at)
{
    for (size_t i = ps->depth; i > 0; i--)
        if (ps->stack[i - 1]->kind == SB_PV_MARK) {
            *at = i - 1;
            return SB_OK;
        }
    return BAD("'%s': malformed pickle (no MARK)", ps->what);
}

static sb_status memo_put(parser *ps, uint64_t index)
{
    if (ps->depth == 0) return BAD("'%s': malformed pickle (PUT on an empty stack)", ps->what);
    if (index > (1u << 26))
        return BAD("'%s': pickle memo index %llu is too large", ps->what,
                   (unsigned long long)index);
    if (index >= ps->memo_cap) {
        size_t cap = (size_t)index * 2 + 16;
        sb_pv **grown = realloc(ps->memo, sizeof *grown * cap);
        if (!grown) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
        memset(grown + ps->memo_cap, 0, sizeof *grown * (cap - ps->memo_cap));
        ps->memo = grown;
        ps->memo_cap = cap;
    }
    ps->memo[index] = ps->stack[ps->depth - 1];
    return SB_OK;
}

static sb_status memo_get(parser *ps, uint64_t index)
{
    if (index >= ps->memo_cap || !ps->memo[index])
        return BAD("'%s': malformed pickle (GET of unknown memo entry %llu)", ps->what,
                   (unsigned long long)index);
    return push(ps, ps->memo[index]);
}

static sb_status text_value(parser *ps, sb_pv_kind kind, const uint8_t *s, size_t len)
{
    sb_pv *v = new_value(ps, kind);
    if (v) {
        v->s = s;
        v->len = len;
    }
    return push(ps, v);
}

static sb_status global(parser *ps, const char *module, size_t mlen, const char *name, size_t nlen)
{
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++)
        if (strlen(allowed_globals[i].module) == mlen &&
            memcmp(allowed_globals[i].module, module, mlen) == 0 &&
            strlen(allowed_globals[i].name) == nlen &&
            memcmp(allowed_globals[i].name, name, nlen) == 0) {
            sb_pv *v = new_value(ps, SB_PV_GLOBAL);
            if (v) v->i = allowed_globals[i].id;
            return push(ps, v);
        }
    return BAD("'%s': the pickle calls %.*s.%.*s, which is refused (only numpy arrays and plain "
               "data are read; nothing is executed)",
               ps->what, (int)mlen, module, (int)nlen, name);
}

static bool is_text(const sb_pv *v, const char *s)
{
    return v && (v->kind == SB_PV_STR || v->kind == SB_PV_BYTES) && v->len == strlen(s) &&
           memcmp(v->s, s, v->len) == 0;
}

static sb_status reduce(parser *ps)
{
    sb_pv *args = NULL, *fn = NULL;
    SB_TRY(pop(ps, &args));
    SB_TRY(pop(ps, &fn));
    if (fn->kind != SB_PV_GLOBAL || args->kind != SB_PV_TUPLE)
        return BAD("'%s': malformed pickle (REDUCE without a callable and its arguments)",
                   ps->what);
    if (fn->i == G_RECONSTRUCT) {
        if (args->n < 1 || args->items[0]->kind != SB_PV_GLOBAL || args->items[0]->i != G_NDARRAY)
            return BAD("'%s': _reconstruct of something other than numpy.ndarray", ps->what);
        return push(ps, new_value(ps, SB_PV_NDARRAY));
    }
    if (fn->i == G_DTYPE) {
        if (args->n < 1 || args->items[0]->kind == SB_PV_NONE ||
            (args->items[0]->kind != SB_PV_STR && args->items[0]->kind != SB_PV_BYTES) ||
            args->items[0]->len >= 8)
            return BAD("'%s': numpy.dtype without a type name", ps->what);
        sb_pv *v = new_value(ps, SB_PV_DTYPE);
        if (v) {
            v->s = args->items[0]->s;
            v->len = args->items[0]->len;
        }
        return push(ps, v);
    }
    if (fn->i == G_ENCODE) { /* _codecs.encode(text, "latin1"): Python 3's bytes in protocol 2 */
        if (args->n != 2 || args->items[0]->kind != SB_PV_STR || !is_text(args->items[1], "latin1"))
            return BAD("'%s': _codecs.encode is accepted only as encode(text, 'latin1')", ps->what);
        const sb_pv *t = args->items[0];
        sb_pv *v = new_value(ps, SB_PV_BYTES);
        uint8_t *out = v ? malloc(t->len + 1) : NULL;
        if (!out) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
        v->owned = out;
        size_t n = 0;
        for (size_t i = 0; i < t->len;) { /* UTF-8 code points 0..255 -> bytes */
            uint8_t c = t->s[i];
            if (c < 0x80) {
                out[n++] = c;
                i++;
            } else if ((c & 0xE0) == 0xC0 && i + 1 < t->len && c <= 0xC3) {
                out[n++] = (uint8_t)(((c & 0x1F) << 6) | (t->s[i + 1] & 0x3F));
                i += 2;
            } else {
                return BAD("'%s': _codecs.encode of text outside latin-1", ps->what);
            }
        }
        v->s = out;
        v->len = n;
        return push(ps, v);
    }
    return BAD("'%s': numpy.ndarray called directly", ps->what);
}

static sb_status build(parser *ps)
{
    sb_pv *state = NULL, *obj = NULL;
    SB_TRY(pop(ps, &state));
    SB_TRY(pop(ps, &obj));
    if (obj->kind == SB_PV_DTYPE) return push(ps, obj); /* byte order etc.: uint8 needs none */
    if (obj->kind != SB_PV_NDARRAY || state->kind != SB_PV_TUPLE || state->n != 5)
        return BAD("'%s': BUILD of something other than a numpy array", ps->what);
    const sb_pv *shape = state->items[1], *dtype = state->items[2], *data = state->items[4];
    if (shape->kind != SB_PV_TUPLE || shape->n > 8 || dtype->kind != SB_PV_DTYPE ||
        (data->kind != SB_PV_BYTES && data->kind != SB_PV_STR))
        return BAD("'%s': a numpy array with an unsupported state (object arrays are refused)",
                   ps->what);
    if (state->items[3]->kind == SB_PV_BOOL && state->items[3]->i)
        return BAD("'%s': Fortran-ordered numpy arrays are not supported", ps->what);
    size_t count = 1;
    obj->ndim = (int)shape->n;
    for (size_t i = 0; i < shape->n; i++) {
        if (shape->items[i]->kind != SB_PV_INT || shape->items[i]->i < 0)
            return BAD("'%s': a numpy array with a bad shape", ps->what);
        obj->shape[i] = shape->items[i]->i;
        count *= (size_t)shape->items[i]->i;
    }
    snprintf(obj->dtype, sizeof obj->dtype, "%.*s", (int)dtype->len, (const char *)dtype->s);
    size_t item = strcmp(obj->dtype, "u1") == 0 || strcmp(obj->dtype, "i1") == 0 ? 1 : 0;
    if (!item)
        return BAD("'%s': numpy arrays of dtype '%s' are not supported", ps->what, obj->dtype);
    if (data->len != count * item)
        return BAD("'%s': a numpy array of %zu elements holds %zu bytes", ps->what, count,
                   data->len);
    obj->s = data->s;
    obj->len = data->len;
    return push(ps, obj);
}

static sb_status collect(parser *ps, sb_pv_kind kind, size_t from)
{
    sb_pv *c = new_value(ps, kind);
    if (!c) return sb_fail(SB_ENOMEM, "'%s': out of memory reading the pickle", ps->what);
    for (size_t i = from; i < ps->depth; i++)
        SB_TRY(add_item(ps, c, ps->stack[i]));
    ps->depth = from;
    return push(ps, c);
}

static sb_status add_to(parser *ps, size_t from, bool pairs)
{
    if (from == 0) return BAD("'%s': malformed pickle (nothing to add to)", ps->what);
    sb_pv *target = ps->stack[from - 1];
    if (target->kind != (pairs ? SB_PV_DICT : SB_PV_LIST) || (pairs && (ps->depth - from) % 2))
        return BAD("'%s': malformed pickle (%s on a non-%s)", ps->what,
                   pairs ? "SETITEMS" : "APPENDS", pairs ? "dict" : "list");
    for (size_t i = from; i < ps->depth; i++)
        SB_TRY(add_item(ps, target, ps->stack[i]));
    ps->depth = from;
    return SB_OK;
}

static sb_status step(parser *ps, bool *stop)
{
    const uint8_t *b = NULL;
    SB_TRY(need(ps, 1, &b));
    uint8_t op = *b;
    size_t at = 0;
    uint64_t n;
    switch (op) {
    case 0x80:
        return need(ps, 1, &b); /* PROTO */
    case 0x95:
        return need(ps, 8, &b); /* FRAME */
    case '.':
        *stop = true;
        return SB_OK;
    case '(':
        return push(ps, new_value(ps, SB_PV_MARK));
    case '}':
        return push(ps, new_value(ps, SB_PV_DICT));
    case ']':
        return push(ps, new_value(ps, SB_PV_LIST));
    case ')':
        return push(ps, new_value(ps, SB_PV_TUPLE));
    case 'N':
        return push(ps, new_value(ps, SB_PV_NONE));
    case 0x88:
    case 0x89: {
        sb_pv *v = new_value(ps, SB_PV_BOOL);
        if (v) v->i = op == 0x88;
        return push(ps, v);
    }
    case 'J':
    case 'K':
    case 'M': {
        int width = op == 'J' ? 4 : op == 'K' ? 1 : 2;
        SB_TRY(need(ps, (size_t)width, &b));
        sb_pv *v = new_value(ps, SB_PV_INT);
        if (v) v->i = op == 'J' ? (int32_t)(uint32_t)le(b, 4) : (int64_t)le(b, width);
        return push(ps, v);
    }
    case 0x8a: { /* LONG1 */
        SB_TRY(need(ps, 1, &b));
        int width = *b;
        if (width > 8) return BAD("'%s': an integer of %d bytes is too large", ps->what, width);
        SB_TRY(need(ps, (size_t)width, &b));
        uint64_t raw = le(b, width);
        if (width && width < 8 && (b[width - 1] & 0x80)) raw |= ~(uint64_t)0 << (8 * width);
        sb_pv *v = new_value(ps, SB_PV_INT);
        if (v) v->i = (int64_t)raw;
        return push(ps, v);
    }
    case 'T':
    case 'B':
    case 'X':
    case 'U':
    case 'C':
    case 0x8c:
    case 0x8d:
    case 0x8e: {
        int width = (op == 'U' || op == 'C' || op == 0x8c) ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        SB_TRY(need(ps, (size_t)width, &b));
        n = le(b, width);
        if (n > (uint64_t)(ps->end - ps->p))
            return BAD("'%s': truncated pickle (a string of %llu bytes runs past the end)",
                       ps->what, (unsigned long long)n);
        SB_TRY(need(ps, (size_t)n, &b));
        return text_value(ps, (op == 'X' || op == 0x8c || op == 0x8d) ? SB_PV_STR : SB_PV_BYTES, b,
                          (size_t)n);
    }
    case 'q':
        SB_TRY(need(ps, 1, &b));
        return memo_put(ps, b[0]);
    case 'r':
        SB_TRY(need(ps, 4, &b));
        return memo_put(ps, le(b, 4));
    case 'h':
        SB_TRY(need(ps, 1, &b));
        return memo_get(ps, b[0]);
    case 'j':
        SB_TRY(need(ps, 4, &b));
        return memo_get(ps, le(b, 4));
    case 'c': {
        const uint8_t *m = NULL, *nm = NULL;
        size_t ml = 0, nl = 0;
        SB_TRY(line(ps, &m, &ml));
        SB_TRY(line(ps, &nm, &nl));
        return global(ps, (const char *)m, ml, (const char *)nm, nl);
    }
    case 0x93: {
        sb_pv *name = NULL, *module = NULL;
        SB_TRY(pop(ps, &name));
        SB_TRY(pop(ps, &module));
        if (name->kind != SB_PV_STR || module->kind != SB_PV_STR)
            return BAD("'%s': malformed pickle (STACK_GLOBAL)", ps->what);
        return global(ps, (const char *)module->s, module->len, (const char *)name->s, name->len);
    }
    case 't':
        SB_TRY(find_mark(ps, &at));
        SB_TRY(collect(ps, SB_PV_TUPLE, at + 1));
        ps->stack[at] = ps->stack[at + 1]; /* drop the MARK */
        ps->depth = at + 1;
        return SB_OK;
    case 'l':
    case 'd':
        SB_TRY(find_mark(ps, &at));
        SB_TRY(collect(ps, op == 'l' ? SB_PV_LIST : SB_PV_DICT, at + 1));
        ps->stack[at] = ps->stack[at + 1];
        ps->depth = at + 1;
        return SB_OK;
    case 0x85:
    case 0x86:
    case 0x87: {
        size_t k = (size_t)(op - 0x84);
        if (ps->depth < k) return BAD("'%s': malformed pickle (stack underflow)", ps->what);
        for (size_t i = ps->depth - k; i < ps->depth; i++)
            if (ps->stack[i]->kind == SB_PV_MARK) return BAD("'%s': malformed pickle", ps->what);
        return collect(ps, SB_PV_TUPLE, ps->depth - k);
    }
    case 'a':
    case 's': {
        size_t k = op == 'a' ? 1 : 2;
        if (ps->depth < k + 1) return BAD("'%s': malformed pickle (stack underflow)", ps->what);
        return add_to(ps, ps->depth - k, op == 's');
    }
    case 'e':
    case 'u': {
        SB_TRY(find_mark(ps, &at));
        /* the container is below the MARK: remove the MARK, then add */
        memmove(ps->stack + at, ps->stack + at + 1, sizeof *ps->stack * (ps->depth - at - 1));
        ps->depth--;
        return add_to(ps, at, op == 'u');
    }
    case 'R':
        return reduce(ps);
    case 'b':
        return build(ps);
    default:
        return BAD("'%s': pickle opcode 0x%02x ('%c') at byte %zu is not allowed (only plain data "
                   "and numpy arrays are read)",
                   ps->what, op, op >= 32 && op < 127 ? op : '?', (size_t)(ps->p - 1 - ps->start));
    }
}

sb_status sb_pickle_load(const char *what, const uint8_t *bytes, size_t len, sb_pickle *out)
{
    memset(out, 0, sizeof *out);
    parser ps = {what, bytes, bytes, bytes + len, out, NULL, 0, 0, NULL, 0};
    bool stop = false;
    sb_status s = SB_OK;
    size_t memo_next = 0;
    while (s == SB_OK && !stop) {
        if (ps.p < ps.end && *ps.p == 0x94) { /* MEMOIZE: the next free memo index */
            ps.p++;
            s = memo_put(&ps, memo_next++);
            continue;
        }
        s = step(&ps, &stop);
        if (s == SB_OK && ps.memo_cap) { /* keep MEMOIZE's counter past explicit PUTs */
            while (memo_next < ps.memo_cap && ps.memo[memo_next])
                memo_next++;
        }
    }
    if (s == SB_OK && ps.depth != 1)
        s = BAD("'%s': malformed pickle (%zu values left at STOP)", what, ps.depth);
    if (s == SB_OK) out->root = ps.stack[0];
    free(ps.stack);
    free(ps.memo);
    if (s != SB_OK) sb_pickle_free(out);
    return s;
}

void sb_pickle_free(sb_pickle *p)
{
    for (sb_pv *v = p->values, *next; v; v = next) {
        next = v->next_alloc;
        free(v->items);
        free(v->owned);
        free(v);
    }
    memset(p, 0, sizeof *p);
}

const sb_pv *sb_pv_dict_get(const sb_pv *dict, const char *key)
{
    if (!dict || dict->kind != SB_PV_DICT) return NULL;
    for (size_t i = 0; i + 1 < dict->n; i += 2)
        if (is_text(dict->items[i], key)) return dict->items[i + 1];
    return NULL;
}
