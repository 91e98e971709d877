/* The restricted unpickler (see unpickler.h): a stack machine over pickle opcodes that
 * builds plain values in an arena (pickle_values.c) and hands every global to the caller's
 * allow-list. */
#include "io/unpickler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

/* ---- the memo: open addressing, uint32 keys ------------------------------------------ */

typedef struct memo {
    uint32_t *keys;
    sb_pickle_value **values; /* NULL = empty slot */
    size_t count, cap;        /* cap a power of two */
} memo;

static size_t memo_slot(const memo *m, uint32_t key)
{
    size_t h = (size_t)(key * 2654435761u) & (m->cap - 1);
    while (m->values[h] && m->keys[h] != key)
        h = (h + 1) & (m->cap - 1);
    return h;
}

static sb_status memo_put(memo *m, uint32_t key, sb_pickle_value *v)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        memo n = {calloc(cap, sizeof(uint32_t)), calloc(cap, sizeof(sb_pickle_value *)), 0, cap};
        if (!n.keys || !n.values) {
            free(n.keys);
            free(n.values);
            return sb_fail(SB_ENOMEM, "unpickler: out of memory");
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->values[i]) continue;
            size_t s = memo_slot(&n, m->keys[i]);
            n.keys[s] = m->keys[i];
            n.values[s] = m->values[i];
            n.count++;
        }
        free(m->keys);
        free(m->values);
        *m = n;
    }
    size_t s = memo_slot(m, key);
    if (!m->values[s]) m->count++;
    m->keys[s] = key;
    m->values[s] = v;
    return SB_OK;
}

static sb_pickle_value *memo_get(const memo *m, uint32_t key)
{
    if (!m->cap) return NULL;
    return m->values[memo_slot(m, key)];
}

/* ---- the machine ----------------------------------------------------------------------- */

typedef struct machine {
    sb_pickle *p;
    const sb_unpickle_config *cfg;
    const unsigned char *start, *pos, *end;
    size_t op_at; /* offset of the current opcode, for messages */
    unsigned char op;
    sb_pickle_value **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    memo memo;
} machine;

static const char *what_of(const machine *m)
{
    return m->cfg->what ? m->cfg->what : "pickle";
}

static sb_status fail_at(const machine *m, const char *fmt, const char *detail)
{
    char op[16];
    if (m->op >= 0x20 && m->op < 0x7f)
        snprintf(op, sizeof op, "'%c'", m->op);
    else
        snprintf(op, sizeof op, "0x%02x", m->op);
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    return sb_fail(SB_EFORMAT, "%s: %s (opcode %s at byte %zu)", what_of(m), msg, op, m->op_at);
}

static sb_status push(machine *m, sb_pickle_value *v)
{
    if (!v) return SB_ENOMEM; /* the allocator recorded the message */
    if (m->sp == m->stack_cap) {
        size_t cap = m->stack_cap ? m->stack_cap * 2 : 64;
        sb_pickle_value **ns = realloc(m->stack, cap * sizeof *ns);
        if (!ns) return sb_fail(SB_ENOMEM, "unpickler: out of memory");
        m->stack = ns;
        m->stack_cap = cap;
    }
    m->stack[m->sp++] = v;
    return SB_OK;
}

static sb_status need(machine *m, size_t n)
{
    if ((size_t)(m->end - m->pos) < n) return fail_at(m, "truncated pickle%s", NULL);
    return SB_OK;
}

static sb_status need_stack(machine *m, size_t n)
{
    size_t base = m->nmarks ? m->marks[m->nmarks - 1] : 0;
    if (m->sp < base + n) return fail_at(m, "stack underflow (a malformed pickle)%s", NULL);
    return SB_OK;
}

static uint64_t read_le(machine *m, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)m->pos[i] << (8 * i);
    m->pos += n;
    return v;
}

/* A text line (protocol 0 arguments), without its newline. */
static sb_status read_line(machine *m, const char **s, size_t *len)
{
    const unsigned char *nl = memchr(m->pos, '\n', (size_t)(m->end - m->pos));
    if (!nl) return fail_at(m, "truncated pickle (a line without its newline)%s", NULL);
    *s = (const char *)m->pos;
    *len = (size_t)(nl - m->pos);
    m->pos = nl + 1;
    return SB_OK;
}

static sb_status push_bytes(machine *m, sb_pickle_kind kind, uint64_t len)
{
    if ((uint64_t)(m->end - m->pos) < len)
        return fail_at(m, "truncated pickle (a string runs past the end)%s", NULL);
    if (kind == SB_PICKLE_STR &&
        (!sb_utf8_valid((const char *)m->pos, (size_t)len) || memchr(m->pos, 0, (size_t)len)))
        return fail_at(m, "a string that is not UTF-8 or holds a NUL%s", NULL);
    sb_pickle_value *v = kind == SB_PICKLE_STR
                             ? sb_pickle_new_str(m->p, (const char *)m->pos, (size_t)len)
                             : sb_pickle_new_bytes(m->p, m->pos, (size_t)len);
    m->pos += len;
    return push(m, v);
}

static sb_status push_long(machine *m, uint64_t nbytes)
{
    if ((uint64_t)(m->end - m->pos) < nbytes) return fail_at(m, "truncated pickle%s", NULL);
    /* Little-endian two's complement; must fit in int64. */
    const unsigned char *b = m->pos;
    m->pos += nbytes;
    int64_t v = 0;
    if (nbytes > 0) {
        bool neg = b[nbytes - 1] & 0x80;
        for (uint64_t i = 8; i < nbytes; i++)
            if (b[i] != (neg ? 0xff : 0x00)) return fail_at(m, "an integer beyond 64 bits%s", NULL);
        uint64_t u = neg ? UINT64_MAX : 0;
        for (uint64_t i = 0; i < nbytes && i < 8; i++) {
            u &= ~((uint64_t)0xff << (8 * i));
            u |= (uint64_t)b[i] << (8 * i);
        }
        if (nbytes > 8 && (bool)(u >> 63) != neg)
            return fail_at(m, "an integer beyond 64 bits%s", NULL);
        memcpy(&v, &u, sizeof v);
    }
    return push(m, sb_pickle_new_int(m->p, v));
}

static const sb_pickle_global *find_global(const machine *m, const char *module, size_t mlen,
                                           const char *name, size_t nlen)
{
    for (size_t i = 0; i < m->cfg->nglobals; i++) {
        const sb_pickle_global *g = &m->cfg->globals[i];
        if (strlen(g->module) == mlen && memcmp(g->module, module, mlen) == 0 &&
            strlen(g->name) == nlen && memcmp(g->name, name, nlen) == 0)
            return g;
    }
    return NULL;
}

static sb_status push_global(machine *m, const char *module, size_t mlen, const char *name,
                             size_t nlen)
{
    const sb_pickle_global *g = find_global(m, module, mlen, name, nlen);
    if (!g) {
        char full[256];
        snprintf(full, sizeof full, "%.*s.%.*s", (int)(mlen > 120 ? 120 : mlen), module,
                 (int)(nlen > 120 ? 120 : nlen), name);
        for (char *c = full; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) *c = '?';
        return sb_fail(SB_EFORMAT,
                       "%s: refusing to call pickle global '%s' (byte %zu): only the globals a "
                       "checkpoint of tensors needs are allowed, and no code is ever run",
                       what_of(m), full, m->op_at);
    }
    sb_pickle_value *v = sb_pickle_new_value(m->p, SB_PICKLE_GLOBAL);
    if (v) v->u.global = g;
    return push(m, v);
}

static sb_status call(machine *m, sb_pickle_value *callable, sb_pickle_value *args)
{
    char d[96];
    if (callable->kind != SB_PICKLE_GLOBAL) {
        sb_pickle_describe(callable, d, sizeof d);
        return fail_at(m, "cannot call a %s", d);
    }
    const sb_pickle_global *g = callable->u.global;
    if (!g->call) {
        snprintf(d, sizeof d, "%s.%s", g->module, g->name);
        return sb_fail(SB_EFORMAT,
                       "%s: refusing to call pickle global '%s' (byte %zu): it is allowed only "
                       "as a value",
                       what_of(m), d, m->op_at);
    }
    if (args->kind != SB_PICKLE_TUPLE) {
        sb_pickle_describe(args, d, sizeof d);
        return fail_at(m, "call arguments must be a tuple, got %s", d);
    }
    sb_pickle_value *out = NULL;
    sb_status st = g->call(m->p, m->cfg->ctx, g, args, &out);
    if (st != SB_OK) {
        return sb_fail_context(st, "%s: %s.%s (byte %zu)", what_of(m), g->module, g->name,
                               m->op_at);
    }
    if (!out->maker) out->maker = g;
    return push(m, out);
}

static sb_status new_container(machine *m, sb_pickle_kind kind, size_t from)
{
    sb_pickle_value *v = sb_pickle_new_value(m->p, kind);
    if (!v) return SB_ENOMEM;
    for (size_t i = from; i < m->sp; i++)
        SB_TRY(sb_pickle_seq_push(v, m->stack[i]));
    m->sp = from;
    return push(m, v);
}

static sb_status pop_mark(machine *m, size_t *base)
{
    if (!m->nmarks) return fail_at(m, "no MARK before this opcode%s", NULL);
    *base = m->marks[--m->nmarks];
    return SB_OK;
}

static sb_status dict_set_items(machine *m, sb_pickle_value *dict, size_t from)
{
    if ((m->sp - from) % 2) return fail_at(m, "an odd number of items for a dict%s", NULL);
    for (size_t i = from; i < m->sp; i += 2)
        SB_TRY(sb_pickle_dict_set(m->p, dict, m->stack[i], m->stack[i + 1]));
    m->sp = from;
    return SB_OK;
}

static sb_status step(machine *m, bool *stop)
{
    SB_TRY(need(m, 1));
    m->op_at = (size_t)(m->pos - m->start);
    m->op = *m->pos++;
    sb_pickle *p = m->p;
    size_t base = 0;
    const char *s = NULL;
    size_t len = 0;
    switch (m->op) {
    case 0x80: /* PROTO */
        SB_TRY(need(m, 1));
        if (*m->pos > 5) return fail_at(m, "unsupported pickle protocol%s", NULL);
        m->pos++;
        return SB_OK;
    case 0x95: /* FRAME: a hint only */
        SB_TRY(need(m, 8));
        m->pos += 8;
        return SB_OK;
    case '.': /* STOP */
        *stop = true;
        return SB_OK;
    case '(': /* MARK */
        if (m->nmarks == m->marks_cap) {
            size_t cap = m->marks_cap ? m->marks_cap * 2 : 16;
            size_t *nm = realloc(m->marks, cap * sizeof *nm);
            if (!nm) return sb_fail(SB_ENOMEM, "unpickler: out of memory");
            m->marks = nm;
            m->marks_cap = cap;
        }
        m->marks[m->nmarks++] = m->sp;
        return SB_OK;
    case '0': /* POP */
        if (m->nmarks && m->marks[m->nmarks - 1] == m->sp) {
            m->nmarks--; /* popping an empty mark, as CPython does */
            return SB_OK;
        }
        SB_TRY(need_stack(m, 1));
        m->sp--;
        return SB_OK;
    case '1': /* POP_MARK */
        SB_TRY(pop_mark(m, &base));
        m->sp = base;
        return SB_OK;
    case '2': /* DUP */
        SB_TRY(need_stack(m, 1));
        return push(m, m->stack[m->sp - 1]);
    case 'N':
        return push(m, sb_pickle_new_value(p, SB_PICKLE_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: {
        sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_BOOL);
        if (v) v->u.b = m->op == 0x88;
        return push(m, v);
    }
    case 'J': /* BININT */
        SB_TRY(need(m, 4));
        return push(m, sb_pickle_new_int(p, (int32_t)(uint32_t)read_le(m, 4)));
    case 'K': /* BININT1 */
        SB_TRY(need(m, 1));
        return push(m, sb_pickle_new_int(p, (int64_t)read_le(m, 1)));
    case 'M': /* BININT2 */
        SB_TRY(need(m, 2));
        return push(m, sb_pickle_new_int(p, (int64_t)read_le(m, 2)));
    case 0x8a: /* LONG1 */
        SB_TRY(need(m, 1));
        return push_long(m, read_le(m, 1));
    case 0x8b: { /* LONG4 */
        SB_TRY(need(m, 4));
        int32_t n = (int32_t)(uint32_t)read_le(m, 4);
        if (n < 0) return fail_at(m, "a negative LONG4 length%s", NULL);
        return push_long(m, (uint64_t)n);
    }
    case 'I':   /* INT (text) */
    case 'L': { /* LONG (text) */
        SB_TRY(read_line(m, &s, &len));
        char buf[32];
        if (len == 0 || len >= sizeof buf) return fail_at(m, "a malformed text integer%s", NULL);
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (m->op == 'L' && buf[len - 1] == 'L') buf[len - 1] = '\0';
        if (m->op == 'I' && (strcmp(buf, "00") == 0 || strcmp(buf, "01") == 0)) {
            sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_BOOL);
            if (v) v->u.b = buf[1] == '1';
            return push(m, v);
        }
        char *endp;
        long long x = strtoll(buf, &endp, 10);
        if (*endp || endp == buf) return fail_at(m, "a malformed text integer%s", NULL);
        return push(m, sb_pickle_new_int(p, x));
    }
    case 'G': { /* BINFLOAT: big-endian double */
        SB_TRY(need(m, 8));
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | m->pos[i];
        m->pos += 8;
        sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_FLOAT);
        if (v) memcpy(&v->u.f, &u, sizeof u);
        return push(m, v);
    }
    case 'F': { /* FLOAT (text) */
        SB_TRY(read_line(m, &s, &len));
        char buf[64];
        if (len == 0 || len >= sizeof buf) return fail_at(m, "a malformed text float%s", NULL);
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *endp;
        double x = strtod(buf, &endp);
        if (*endp) return fail_at(m, "a malformed text float%s", NULL);
        sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_FLOAT);
        if (v) v->u.f = x;
        return push(m, v);
    }
    case 'X': /* BINUNICODE */
        SB_TRY(need(m, 4));
        return push_bytes(m, SB_PICKLE_STR, read_le(m, 4));
    case 0x8c: /* SHORT_BINUNICODE */
        SB_TRY(need(m, 1));
        return push_bytes(m, SB_PICKLE_STR, read_le(m, 1));
    case 0x8d: /* BINUNICODE8 */
        SB_TRY(need(m, 8));
        return push_bytes(m, SB_PICKLE_STR, read_le(m, 8));
    case 'T': /* BINSTRING (Python 2 str) */
    case 'B': /* BINBYTES */
        SB_TRY(need(m, 4));
        return push_bytes(m, SB_PICKLE_BYTES, read_le(m, 4));
    case 'U': /* SHORT_BINSTRING */
    case 'C': /* SHORT_BINBYTES */
        SB_TRY(need(m, 1));
        return push_bytes(m, SB_PICKLE_BYTES, read_le(m, 1));
    case 0x8e: /* BINBYTES8 */
    case 0x96: /* BYTEARRAY8 */
        SB_TRY(need(m, 8));
        return push_bytes(m, SB_PICKLE_BYTES, read_le(m, 8));
    case ')':
        return push(m, sb_pickle_new_value(p, SB_PICKLE_TUPLE));
    case ']':
        return push(m, sb_pickle_new_value(p, SB_PICKLE_LIST));
    case '}':
        return push(m, sb_pickle_new_value(p, SB_PICKLE_DICT));
    case 0x8f: /* EMPTY_SET */
        return push(m, sb_pickle_new_value(p, SB_PICKLE_SET));
    case 0x85: /* TUPLE1..3 */
    case 0x86:
    case 0x87: {
        size_t n = (size_t)(m->op - 0x84);
        SB_TRY(need_stack(m, n));
        return new_container(m, SB_PICKLE_TUPLE, m->sp - n);
    }
    case 't': /* TUPLE */
        SB_TRY(pop_mark(m, &base));
        return new_container(m, SB_PICKLE_TUPLE, base);
    case 'l': /* LIST */
        SB_TRY(pop_mark(m, &base));
        return new_container(m, SB_PICKLE_LIST, base);
    case 0x91: /* FROZENSET */
        SB_TRY(pop_mark(m, &base));
        return new_container(m, SB_PICKLE_SET, base);
    case 'd': { /* DICT */
        SB_TRY(pop_mark(m, &base));
        sb_pickle_value *d = sb_pickle_new_value(p, SB_PICKLE_DICT);
        if (!d) return SB_ENOMEM;
        SB_TRY(dict_set_items(m, d, base));
        return push(m, d);
    }
    case 'a': { /* APPEND */
        SB_TRY(need_stack(m, 2));
        sb_pickle_value *list = m->stack[m->sp - 2];
        if (list->kind != SB_PICKLE_LIST)
            return fail_at(m, "APPEND to a value that is not a list%s", NULL);
        SB_TRY(sb_pickle_seq_push(list, m->stack[m->sp - 1]));
        m->sp--;
        return SB_OK;
    }
    case 'e':    /* APPENDS */
    case 0x90: { /* ADDITEMS */
        SB_TRY(pop_mark(m, &base));
        if (base == 0) return fail_at(m, "nothing to append to%s", NULL);
        sb_pickle_value *list = m->stack[base - 1];
        if (list->kind != (m->op == 'e' ? SB_PICKLE_LIST : SB_PICKLE_SET))
            return fail_at(m, "APPENDS or ADDITEMS to the wrong kind of value%s", NULL);
        for (size_t i = base; i < m->sp; i++)
            SB_TRY(sb_pickle_seq_push(list, m->stack[i]));
        m->sp = base;
        return SB_OK;
    }
    case 's': { /* SETITEM */
        SB_TRY(need_stack(m, 3));
        sb_pickle_value *d = m->stack[m->sp - 3];
        if (d->kind != SB_PICKLE_DICT)
            return fail_at(m, "SETITEM on a value that is not a dict%s", NULL);
        SB_TRY(sb_pickle_dict_set(p, d, m->stack[m->sp - 2], m->stack[m->sp - 1]));
        m->sp -= 2;
        return SB_OK;
    }
    case 'u': { /* SETITEMS */
        SB_TRY(pop_mark(m, &base));
        if (base == 0 || m->stack[base - 1]->kind != SB_PICKLE_DICT)
            return fail_at(m, "SETITEMS on a value that is not a dict%s", NULL);
        return dict_set_items(m, m->stack[base - 1], base);
    }
    case 'g':   /* GET (text) */
    case 'p': { /* PUT (text) */
        SB_TRY(read_line(m, &s, &len));
        char buf[16];
        if (len == 0 || len >= sizeof buf) return fail_at(m, "a malformed memo index%s", NULL);
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *endp;
        unsigned long long idx = strtoull(buf, &endp, 10);
        if (*endp || idx > UINT32_MAX) return fail_at(m, "a malformed memo index%s", NULL);
        if (m->op == 'p') {
            SB_TRY(need_stack(m, 1));
            return memo_put(&m->memo, (uint32_t)idx, m->stack[m->sp - 1]);
        }
        sb_pickle_value *v = memo_get(&m->memo, (uint32_t)idx);
        if (!v) return fail_at(m, "GET of a memo entry that was never PUT%s", NULL);
        return push(m, v);
    }
    case 'h':   /* BINGET */
    case 'j': { /* LONG_BINGET */
        size_t n = m->op == 'h' ? 1 : 4;
        SB_TRY(need(m, n));
        sb_pickle_value *v = memo_get(&m->memo, (uint32_t)read_le(m, n));
        if (!v) return fail_at(m, "GET of a memo entry that was never PUT%s", NULL);
        return push(m, v);
    }
    case 'q':   /* BINPUT */
    case 'r': { /* LONG_BINPUT */
        size_t n = m->op == 'q' ? 1 : 4;
        SB_TRY(need(m, n));
        uint32_t idx = (uint32_t)read_le(m, n);
        SB_TRY(need_stack(m, 1));
        return memo_put(&m->memo, idx, m->stack[m->sp - 1]);
    }
    case 0x94: /* MEMOIZE */
        SB_TRY(need_stack(m, 1));
        if (m->memo.count >= UINT32_MAX) return fail_at(m, "memo full%s", NULL);
        return memo_put(&m->memo, (uint32_t)m->memo.count, m->stack[m->sp - 1]);
    case 'c': { /* GLOBAL module\nname\n */
        const char *mod = NULL, *name = NULL;
        size_t mlen = 0, nlen = 0;
        SB_TRY(read_line(m, &mod, &mlen));
        SB_TRY(read_line(m, &name, &nlen));
        return push_global(m, mod, mlen, name, nlen);
    }
    case 0x93: { /* STACK_GLOBAL */
        SB_TRY(need_stack(m, 2));
        sb_pickle_value *mod = m->stack[m->sp - 2], *name = m->stack[m->sp - 1];
        if (mod->kind != SB_PICKLE_STR || name->kind != SB_PICKLE_STR)
            return fail_at(m, "STACK_GLOBAL needs two strings%s", NULL);
        m->sp -= 2;
        return push_global(m, mod->u.str.data, mod->u.str.len, name->u.str.data, name->u.str.len);
    }
    case 'R': { /* REDUCE */
        SB_TRY(need_stack(m, 2));
        sb_pickle_value *fn = m->stack[m->sp - 2], *args = m->stack[m->sp - 1];
        m->sp -= 2;
        return call(m, fn, args);
    }
    case 0x81: { /* NEWOBJ: cls.__new__(cls, *args) */
        SB_TRY(need_stack(m, 2));
        sb_pickle_value *cls = m->stack[m->sp - 2], *args = m->stack[m->sp - 1];
        m->sp -= 2;
        return call(m, cls, args);
    }
    case 0x92: { /* NEWOBJ_EX: only without keyword arguments */
        SB_TRY(need_stack(m, 3));
        sb_pickle_value *cls = m->stack[m->sp - 3], *args = m->stack[m->sp - 2],
                        *kw = m->stack[m->sp - 1];
        if (kw->kind != SB_PICKLE_DICT || kw->u.dict.len)
            return fail_at(m, "NEWOBJ_EX with keyword arguments is not supported%s", NULL);
        m->sp -= 3;
        return call(m, cls, args);
    }
    case 'o': { /* OBJ: MARK cls args... */
        SB_TRY(pop_mark(m, &base));
        if (m->sp == base) return fail_at(m, "OBJ without a class%s", NULL);
        sb_pickle_value *cls = m->stack[base];
        sb_pickle_value *args = sb_pickle_new_value(p, SB_PICKLE_TUPLE);
        if (!args) return SB_ENOMEM;
        for (size_t i = base + 1; i < m->sp; i++)
            SB_TRY(sb_pickle_seq_push(args, m->stack[i]));
        m->sp = base;
        return call(m, cls, args);
    }
    case 'i': { /* INST: MARK args... then module\nname\n */
        const char *mod = NULL, *name = NULL;
        size_t mlen = 0, nlen = 0;
        SB_TRY(read_line(m, &mod, &mlen));
        SB_TRY(read_line(m, &name, &nlen));
        SB_TRY(pop_mark(m, &base));
        sb_pickle_value *args = sb_pickle_new_value(p, SB_PICKLE_TUPLE);
        if (!args) return SB_ENOMEM;
        for (size_t i = base; i < m->sp; i++)
            SB_TRY(sb_pickle_seq_push(args, m->stack[i]));
        m->sp = base;
        SB_TRY(push_global(m, mod, mlen, name, nlen));
        sb_pickle_value *cls = m->stack[--m->sp];
        return call(m, cls, args);
    }
    case 'b': { /* BUILD */
        SB_TRY(need_stack(m, 2));
        sb_pickle_value *obj = m->stack[m->sp - 2], *state = m->stack[m->sp - 1];
        m->sp--;
        if (!obj->maker || !obj->maker->build) {
            char d[96];
            sb_pickle_describe(obj, d, sizeof d);
            return fail_at(m, "refusing to set the state (BUILD) of a %s", d);
        }
        sb_status st = obj->maker->build(p, m->cfg->ctx, obj, state);
        if (st != SB_OK)
            return sb_fail_context(st, "%s: %s.%s state (byte %zu)", what_of(m), obj->maker->module,
                                   obj->maker->name, m->op_at);
        return SB_OK;
    }
    case 'P':   /* PERSID (text) */
    case 'Q': { /* BINPERSID */
        sb_pickle_value *pid;
        if (m->op == 'P') {
            SB_TRY(read_line(m, &s, &len));
            pid = sb_pickle_new_str(p, s, len);
            if (!pid) return SB_ENOMEM;
        } else {
            SB_TRY(need_stack(m, 1));
            pid = m->stack[--m->sp];
        }
        if (!m->cfg->persistent_load)
            return fail_at(m, "a persistent id, and this reader loads none%s", NULL);
        sb_pickle_value *out = NULL;
        sb_status st = m->cfg->persistent_load(p, m->cfg->ctx, pid, &out);
        if (st != SB_OK) return sb_fail_context(st, "%s (byte %zu)", what_of(m), m->op_at);
        return push(m, out);
    }
    case 0x82: /* EXT1, EXT2, EXT4: the copyreg extension registry */
    case 0x83:
    case 0x84:
        return fail_at(m, "refusing an extension-registry opcode (EXT1/EXT2/EXT4)%s", NULL);
    case 0x97: /* NEXT_BUFFER, READONLY_BUFFER */
    case 0x98:
        return fail_at(m, "out-of-band buffers are not supported%s", NULL);
    case 'S': /* STRING, UNICODE: protocol 0 text forms */
    case 'V':
        return fail_at(m,
                       "protocol 0 text strings are not supported (save with protocol 2 or "
                       "later)%s",
                       NULL);
    default:
        return fail_at(m, "unknown pickle opcode%s", NULL);
    }
}

sb_status sb_unpickle(sb_pickle *p, const void *data, size_t size, const sb_unpickle_config *cfg,
                      sb_pickle_value **root, size_t *consumed)
{
    machine m = {0};
    m.p = p;
    m.cfg = cfg;
    m.start = m.pos = data;
    m.end = m.start + size;
    bool stop = false;
    sb_status st = SB_OK;
    while (st == SB_OK && !stop)
        st = step(&m, &stop);
    if (st == SB_OK) {
        if (m.sp != 1 || m.nmarks)
            st = fail_at(&m, "the pickle ends with %s on its stack (malformed)",
                         m.sp == 0 ? "nothing" : "more than one value");
        else
            *root = m.stack[0];
        if (consumed) *consumed = (size_t)(m.pos - m.start);
    }
    free(m.stack);
    free(m.marks);
    free(m.memo.keys);
    free(m.memo.values);
    return st;
}
