#include "data/text_corpus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/utf8.h"

/* ---- the vocabulary: words in one NUL-separated arena, an open-addressing index -------- */

/* An index entry: the word's id + 1 (0: empty), its hash, length and place in the arena, so
 * that a lookup reads one entry and the word (memory latency is most of a lookup's cost). */
typedef struct slot {
    uint32_t id1, hash, len;
    uint32_t offset; /* the arena stays under 4 GiB (checked when a word is added) */
} slot;

struct sb_vocab {
    sb_buf text;     /* the words, each followed by NUL */
    size_t *offsets; /* offsets[id] in text */
    size_t *lengths;
    size_t n, cap;
    slot *slots; /* a power of two of them, at most half full */
    size_t n_slots;
};

static uint32_t hash_word(const char *w, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, folded to 32 bits */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

sb_status sb_vocab_new(sb_vocab **out)
{
    sb_vocab *v = calloc(1, sizeof *v);
    if (!v) return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
    v->n_slots = 1024;
    v->slots = calloc(v->n_slots, sizeof *v->slots);
    if (!v->slots) {
        free(v);
        return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
    }
    *out = v;
    return SB_OK;
}

void sb_vocab_free(sb_vocab *v)
{
    if (!v) return;
    sb_buf_free(&v->text);
    free(v->offsets);
    free(v->lengths);
    free(v->slots);
    free(v);
}

size_t sb_vocab_size(const sb_vocab *v)
{
    return v->n;
}

const char *sb_vocab_word(const sb_vocab *v, size_t id, size_t *len)
{
    if (len) *len = v->lengths[id];
    return v->text.data + v->offsets[id];
}

/* The slot that holds `word`, or the empty slot where it would go. */
static size_t slot_of(const sb_vocab *v, const char *word, size_t len, uint32_t hash)
{
    size_t mask = v->n_slots - 1, i = (size_t)hash & mask;
    for (;;) {
        const slot *e = &v->slots[i];
        if (e->id1 == 0) return i;
        if (e->hash == hash && e->len == len && memcmp(v->text.data + e->offset, word, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

/* The id in slot i, or -1. */
static int64_t slot_id(const sb_vocab *v, size_t i)
{
    return (int64_t)v->slots[i].id1 - 1;
}

int64_t sb_vocab_find(const sb_vocab *v, const char *word, size_t len)
{
    return slot_id(v, slot_of(v, word, len, hash_word(word, len)));
}

static sb_status rehash(sb_vocab *v)
{
    size_t n = v->n_slots * 2;
    slot *slots = calloc(n, sizeof *slots);
    if (!slots) return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
    free(v->slots);
    v->slots = slots;
    v->n_slots = n;
    for (size_t id = 0; id < v->n; id++) {
        const char *w = v->text.data + v->offsets[id];
        uint32_t h = hash_word(w, v->lengths[id]);
        v->slots[slot_of(v, w, v->lengths[id], h)] =
            (slot){(uint32_t)id + 1, h, (uint32_t)v->lengths[id], (uint32_t)v->offsets[id]};
    }
    return SB_OK;
}

/* Adds a word known to be new and well-formed into the empty slot `at`. */
static sb_status add_new(sb_vocab *v, const char *word, size_t len, size_t at, uint32_t hash,
                         int64_t *id)
{
    if (v->n >= UINT32_MAX - 1 || v->text.len + len + 1 > UINT32_MAX)
        return sb_fail(SB_ERANGE, "vocabulary: more than 2^32 words or 4 GiB of them");
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        size_t *o = realloc(v->offsets, cap * sizeof *o);
        if (!o) return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
        v->offsets = o;
        size_t *l = realloc(v->lengths, cap * sizeof *l);
        if (!l) return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
        v->lengths = l;
        v->cap = cap;
    }
    v->offsets[v->n] = v->text.len;
    v->lengths[v->n] = len;
    if (sb_buf_append(&v->text, word, len) != SB_OK || sb_buf_append(&v->text, "", 1) != SB_OK)
        return sb_fail(SB_ENOMEM, "vocabulary: out of memory");
    v->slots[at] = (slot){(uint32_t)v->n + 1, hash, (uint32_t)len, (uint32_t)v->offsets[v->n]};
    if (id) *id = (int64_t)v->n;
    v->n++;
    if (2 * v->n > v->n_slots) return rehash(v);
    return SB_OK;
}

/* ---- reading text as Python's text mode and str.split() do ----------------------------- */

/* The length of the whitespace character str.split() splits on at p (n bytes available), or
 * 0. Line ends are handled by the caller. */
static size_t space_length(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c == ' ' || c == '\t' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f)) return 1;
    if (c == 0xC2 && n >= 2 && (p[1] == 0x85 || p[1] == 0xA0)) return 2; /* U+0085, U+00A0 */
    if (n < 3) return 0;
    if (c == 0xE1 && p[1] == 0x9A && p[2] == 0x80) return 3; /* U+1680 */
    if (c == 0xE2 && p[1] == 0x80 &&
        ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
        return 3;                                            /* U+2000-200A, 2028/9, 202F */
    if (c == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) return 3; /* U+205F */
    if (c == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* Called with each token, and with word == NULL at the end of each line. */
typedef sb_status (*token_fn)(void *ctx, const char *word, size_t len, size_t line);

/* word_language_model's "<eos>" for the end of a line. */
static void end_of_line(const char **word, size_t *len)
{
    if (*word) return;
    *word = "<eos>";
    *len = 5;
}

#define CHUNK (1u << 20)

static sb_status emit_bytes(const char *w, size_t len, token_fn fn, void *ctx, size_t line,
                            const char *path)
{
    if (!sb_utf8_valid(w, len))
        return sb_fail(SB_EFORMAT, "%s: line %zu is not valid UTF-8", path, line);
    return fn(ctx, w, len, line);
}

/* The word gathered across pieces, if any. */
static sb_status emit(sb_buf *word, token_fn fn, void *ctx, size_t line, const char *path)
{
    if (word->len == 0) return SB_OK;
    sb_status st = emit_bytes(word->data, word->len, fn, ctx, line, path);
    word->len = 0;
    return st;
}

/* Calls fn for each token of the file, "<eos>" at the end of each line. */
static sb_status each_token(const char *path, token_fn fn, void *ctx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sb_fail(SB_EIO, "%s: %s", path, strerror(errno));
    unsigned char *buf = malloc(CHUNK + 4);
    if (!buf) {
        close(fd);
        return sb_fail(SB_ENOMEM, "%s: out of memory", path);
    }
    sb_buf word = {0};
    sb_status st = SB_OK;
    size_t have = 0, line = 1;
    bool in_line = false, eof = false;
    while (st == SB_OK && !eof) {
        ssize_t got = read(fd, buf + have, CHUNK);
        if (got < 0) {
            if (errno == EINTR) continue;
            st = sb_fail(SB_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        eof = got == 0;
        have += (size_t)got;
        /* before the end of the file, keep the last 3 bytes for the next piece: a whitespace
         * character or a "\r\n" may continue there */
        size_t stop = eof ? have : (have > 3 ? have - 3 : 0), i = 0;
        while (i < stop && st == SB_OK) {
            unsigned char c = buf[i];
            if (c == '\n' || c == '\r') {
                st = emit(&word, fn, ctx, line, path);
                if (st == SB_OK) st = fn(ctx, NULL, 0, line);
                i += (c == '\r' && i + 1 < have && buf[i + 1] == '\n') ? 2 : 1;
                line++;
                in_line = false;
                continue;
            }
            in_line = true;
            size_t s = space_length(buf + i, have - i);
            if (s) {
                st = emit(&word, fn, ctx, line, path);
                i += s;
                continue;
            }
            size_t j = i + 1; /* a run of word bytes */
            while (j < stop && buf[j] != '\n' && buf[j] != '\r' && !space_length(buf + j, have - j))
                j++;
            if (word.len == 0 && j < stop) /* the whole word is in this piece */
                st = emit_bytes((const char *)buf + i, j - i, fn, ctx, line, path);
            else if (sb_buf_append(&word, (const char *)buf + i, j - i) != SB_OK)
                st = sb_fail(SB_ENOMEM, "%s: out of memory", path);
            i = j;
        }
        memmove(buf, buf + i, have - i);
        have -= i;
    }
    if (st == SB_OK) st = emit(&word, fn, ctx, line, path);
    if (st == SB_OK && in_line) st = fn(ctx, NULL, 0, line); /* a last line without "\n" */
    close(fd);
    free(buf);
    sb_buf_free(&word);
    return st;
}

static sb_status add_token(void *ctx, const char *word, size_t len, size_t line)
{
    (void)line;
    sb_vocab *v = ctx;
    end_of_line(&word, &len);
    uint32_t h = hash_word(word, len);
    size_t at = slot_of(v, word, len, h);
    if (v->slots[at].id1) return SB_OK;
    return add_new(v, word, len, at, h, NULL);
}

sb_status sb_vocab_add_text_file(sb_vocab *v, const char *path)
{
    return each_token(path, add_token, v);
}

sb_status sb_vocab_add(sb_vocab *v, const char *word, size_t len, int64_t *id)
{
    if (len == 0) return sb_fail(SB_EINVAL, "vocabulary: a word cannot be empty");
    if (!sb_utf8_valid(word, len))
        return sb_fail(SB_EINVAL, "vocabulary: a word is not valid UTF-8");
    for (size_t i = 0; i < len; i++)
        if (word[i] == '\n' || word[i] == '\r' ||
            space_length((const unsigned char *)word + i, len - i))
            return sb_fail(SB_EINVAL, "vocabulary: the word \"%.*s\" holds whitespace", (int)len,
                           word);
    uint32_t h = hash_word(word, len);
    size_t at = slot_of(v, word, len, h);
    if (v->slots[at].id1) {
        if (id) *id = slot_id(v, at);
        return SB_OK;
    }
    return add_new(v, word, len, at, h, id);
}

typedef struct list_reader {
    sb_vocab *v;
    const char *path;
    size_t fields; /* tokens seen on the line being read */
} list_reader;

static sb_status list_token(void *ctx, const char *word, size_t len, size_t line)
{
    list_reader *r = ctx;
    if (!word) {
        if (r->fields == 0)
            return sb_fail(SB_EFORMAT, "%s: line %zu is blank; expected one token per line",
                           r->path, line);
        r->fields = 0;
        return SB_OK;
    }
    if (r->fields++ > 0) return SB_OK; /* a count after the word */
    uint32_t h = hash_word(word, len);
    size_t at = slot_of(r->v, word, len, h);
    if (r->v->slots[at].id1)
        return sb_fail(SB_EFORMAT,
                       "%s: line %zu: \"%.*s\" is already in the vocabulary (line %lld)", r->path,
                       line, (int)len, word, (long long)slot_id(r->v, at) + 1);
    return add_new(r->v, word, len, at, h, NULL);
}

sb_status sb_vocab_add_list_file(sb_vocab *v, const char *path)
{
    list_reader r = {v, path, 0};
    return each_token(path, list_token, &r);
}

/* ---- ids ------------------------------------------------------------------------------- */

typedef struct encoder {
    const sb_vocab *v;
    const char *path;
    int64_t unk;
    int64_t *ids; /* room for cap ids */
    size_t n, cap;
} encoder;

static sb_status count_token(void *ctx, const char *word, size_t len, size_t line)
{
    (void)word, (void)len, (void)line;
    ((encoder *)ctx)->n++;
    return SB_OK;
}

static sb_status encode_token(void *ctx, const char *word, size_t len, size_t line)
{
    encoder *e = ctx;
    end_of_line(&word, &len);
    if (e->n == e->cap) return sb_fail(SB_EIO, "%s: the file changed while it was read", e->path);
    int64_t id = sb_vocab_find(e->v, word, len);
    if (id < 0) {
        if (e->unk < 0)
            return sb_fail(SB_EFORMAT,
                           "%s: line %zu: \"%.*s\" is not in the vocabulary (and it has no "
                           "\"<unk>\")",
                           e->path, line, (int)(len > 200 ? 200 : len), word);
        id = e->unk;
    }
    e->ids[e->n++] = id;
    return SB_OK;
}

sb_status sb_vocab_encode_file(const sb_vocab *v, const char *path, int64_t unk, sb_tensor **out)
{
    encoder e = {v, path, unk, NULL, 0, 0};
    SB_TRY(each_token(path, count_token, &e));
    int64_t size = (int64_t)e.n;
    sb_tensor *t = NULL;
    SB_TRY(sb_tensor_empty(1, &size, SB_INT64, SB_CPU, &t));
    size_t expected = e.n;
    e.ids = sb_tensor_data(t);
    e.cap = expected;
    e.n = 0;
    sb_status st = expected == 0 ? SB_OK : each_token(path, encode_token, &e);
    if (st == SB_OK && e.n != expected)
        st = sb_fail(SB_EIO, "%s: the file changed while it was read", path);
    if (st != SB_OK) {
        sb_tensor_free(t);
        return st;
    }
    *out = t;
    return SB_OK;
}
