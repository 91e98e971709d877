/* The values the restricted unpickler builds (see unpickler.h): one arena per sb_pickle that
 * owns every value and every object a handler made, freed together. */
#include "io/unpickler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena ------------------------------------------------------------------------- */

typedef struct owned_object {
    void *ptr;
    void (*free_fn)(void *);
} owned_object;

struct sb_pickle {
    sb_pickle_value **values;
    size_t count, cap;
    owned_object *objects;
    size_t nobjects, objects_cap;
};

sb_pickle *sb_pickle_new(void)
{
    return calloc(1, sizeof(sb_pickle));
}

void sb_pickle_free(sb_pickle *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nobjects; i++)
        if (p->objects[i].free_fn) p->objects[i].free_fn(p->objects[i].ptr);
    for (size_t i = 0; i < p->count; i++) {
        sb_pickle_value *v = p->values[i];
        switch (v->kind) {
        case SB_PICKLE_STR:
        case SB_PICKLE_BYTES:
            free(v->u.str.data);
            break;
        case SB_PICKLE_TUPLE:
        case SB_PICKLE_LIST:
        case SB_PICKLE_SET:
            free(v->u.seq.items);
            break;
        case SB_PICKLE_DICT:
            free(v->u.dict.keys);
            free(v->u.dict.values);
            break;
        default:
            break;
        }
        free(v);
    }
    free(p->values);
    free(p->objects);
    free(p);
}

sb_pickle_value *sb_pickle_new_value(sb_pickle *p, sb_pickle_kind kind)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        sb_pickle_value **nv = realloc(p->values, cap * sizeof *nv);
        if (!nv) {
            sb_fail(SB_ENOMEM, "unpickler: out of memory");
            return NULL;
        }
        p->values = nv;
        p->cap = cap;
    }
    sb_pickle_value *v = calloc(1, sizeof *v);
    if (!v) {
        sb_fail(SB_ENOMEM, "unpickler: out of memory");
        return NULL;
    }
    v->kind = kind;
    p->values[p->count++] = v;
    return v;
}

sb_pickle_value *sb_pickle_new_int(sb_pickle *p, int64_t i)
{
    sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_INT);
    if (v) v->u.i = i;
    return v;
}

static sb_pickle_value *new_bytes(sb_pickle *p, sb_pickle_kind kind, const void *s, size_t len)
{
    char *data = malloc(len + 1);
    if (!data) {
        sb_fail(SB_ENOMEM, "unpickler: out of memory for a %zu-byte string", len);
        return NULL;
    }
    sb_pickle_value *v = sb_pickle_new_value(p, kind);
    if (!v) {
        free(data);
        return NULL;
    }
    if (len) memcpy(data, s, len);
    data[len] = '\0';
    v->u.str.data = data;
    v->u.str.len = len;
    return v;
}

sb_pickle_value *sb_pickle_new_str(sb_pickle *p, const char *s, size_t len)
{
    return new_bytes(p, SB_PICKLE_STR, s, len);
}

sb_pickle_value *sb_pickle_new_bytes(sb_pickle *p, const void *s, size_t len)
{
    return new_bytes(p, SB_PICKLE_BYTES, s, len);
}

sb_pickle_value *sb_pickle_new_object(sb_pickle *p, const char *type, void *ptr,
                                      void (*free_fn)(void *))
{
    if (p->nobjects == p->objects_cap) {
        size_t cap = p->objects_cap ? p->objects_cap * 2 : 64;
        owned_object *no = realloc(p->objects, cap * sizeof *no);
        if (!no) {
            if (free_fn) free_fn(ptr);
            sb_fail(SB_ENOMEM, "unpickler: out of memory");
            return NULL;
        }
        p->objects = no;
        p->objects_cap = cap;
    }
    p->objects[p->nobjects++] = (owned_object){ptr, free_fn}; /* freed even if the next fails */
    sb_pickle_value *v = sb_pickle_new_value(p, SB_PICKLE_OBJECT);
    if (!v) return NULL;
    v->u.object.type = type;
    v->u.object.ptr = ptr;
    return v;
}

sb_status sb_pickle_seq_push(sb_pickle_value *seq, sb_pickle_value *item)
{
    if (seq->u.seq.len == seq->u.seq.cap) {
        size_t cap = seq->u.seq.cap ? seq->u.seq.cap * 2 : 4;
        sb_pickle_value **ni = realloc(seq->u.seq.items, cap * sizeof *ni);
        if (!ni) return sb_fail(SB_ENOMEM, "unpickler: out of memory");
        seq->u.seq.items = ni;
        seq->u.seq.cap = cap;
    }
    seq->u.seq.items[seq->u.seq.len++] = item;
    return SB_OK;
}

static bool same_key(const sb_pickle_value *a, const sb_pickle_value *b)
{
    if (a->kind != b->kind) {
        /* Python: True == 1 as dict keys. */
        if ((a->kind == SB_PICKLE_BOOL || a->kind == SB_PICKLE_INT) &&
            (b->kind == SB_PICKLE_BOOL || b->kind == SB_PICKLE_INT)) {
            int64_t x = a->kind == SB_PICKLE_BOOL ? a->u.b : a->u.i;
            int64_t y = b->kind == SB_PICKLE_BOOL ? b->u.b : b->u.i;
            return x == y;
        }
        return false;
    }
    switch (a->kind) {
    case SB_PICKLE_NONE:
        return true;
    case SB_PICKLE_BOOL:
        return a->u.b == b->u.b;
    case SB_PICKLE_INT:
        return a->u.i == b->u.i;
    case SB_PICKLE_FLOAT:
        return a->u.f == b->u.f;
    case SB_PICKLE_STR:
    case SB_PICKLE_BYTES:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.data, b->u.str.data, a->u.str.len) == 0;
    case SB_PICKLE_GLOBAL:
        return a->u.global == b->u.global;
    default:
        return a == b; /* tuples of tuples as keys do not occur in checkpoints: identity */
    }
}

sb_status sb_pickle_dict_set(sb_pickle *p, sb_pickle_value *dict, sb_pickle_value *key,
                             sb_pickle_value *value)
{
    (void)p;
    /* Linear search keeps insertion order and Python's "last write wins" without a hash
     * table: quadratic in the number of keys, which is cheap for the few thousand keys of
     * the largest state dicts. */
    for (size_t i = 0; i < dict->u.dict.len; i++) {
        if (same_key(dict->u.dict.keys[i], key)) {
            dict->u.dict.values[i] = value;
            return SB_OK;
        }
    }
    if (dict->u.dict.len == dict->u.dict.cap) {
        size_t cap = dict->u.dict.cap ? dict->u.dict.cap * 2 : 8;
        sb_pickle_value **nk = realloc(dict->u.dict.keys, cap * sizeof *nk);
        if (!nk) return sb_fail(SB_ENOMEM, "unpickler: out of memory");
        dict->u.dict.keys = nk;
        sb_pickle_value **nv = realloc(dict->u.dict.values, cap * sizeof *nv);
        if (!nv) return sb_fail(SB_ENOMEM, "unpickler: out of memory");
        dict->u.dict.values = nv;
        dict->u.dict.cap = cap;
    }
    dict->u.dict.keys[dict->u.dict.len] = key;
    dict->u.dict.values[dict->u.dict.len] = value;
    dict->u.dict.len++;
    return SB_OK;
}

sb_pickle_value *sb_pickle_dict_get(const sb_pickle_value *dict, const char *key)
{
    if (!dict || dict->kind != SB_PICKLE_DICT) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < dict->u.dict.len; i++) {
        const sb_pickle_value *k = dict->u.dict.keys[i];
        if ((k->kind == SB_PICKLE_STR || k->kind == SB_PICKLE_BYTES) && k->u.str.len == len &&
            memcmp(k->u.str.data, key, len) == 0)
            return dict->u.dict.values[i];
    }
    return NULL;
}

bool sb_pickle_is_object(const sb_pickle_value *v, const char *type)
{
    return v && v->kind == SB_PICKLE_OBJECT && strcmp(v->u.object.type, type) == 0;
}

void sb_pickle_describe(const sb_pickle_value *v, char *buf, size_t size)
{
    static const char *const names[] = {"None",  "bool", "int",  "float", "str",    "bytes",
                                        "tuple", "list", "dict", "set",   "global", "object"};
    if (!v) {
        snprintf(buf, size, "nothing");
    } else if (v->kind == SB_PICKLE_GLOBAL) {
        snprintf(buf, size, "global '%s.%s'", v->u.global->module, v->u.global->name);
    } else if (v->kind == SB_PICKLE_OBJECT) {
        snprintf(buf, size, "%s", v->u.object.type);
    } else if (v->kind == SB_PICKLE_TUPLE || v->kind == SB_PICKLE_LIST) {
        snprintf(buf, size, "%s of %zu", names[v->kind], v->u.seq.len);
    } else {
        snprintf(buf, size, "%s", names[v->kind]);
    }
}
