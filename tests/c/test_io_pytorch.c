/* The restricted unpickler, the zip reader and the checkpoint loader on hostile input:
 * hand-written pickles, every truncation and every single-byte corruption of the fixture
 * checkpoints (tests/fixtures/io/) must fail with a message or load, never crash or leak
 * (the sanitizer build runs this too). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/pytorch.h"
#include "io/unpickler.h"
#include "io/zip.h"
#include "sbtest.h"

static sb_status h_list(sb_pickle *p, void *ctx, const sb_pickle_global *self,
                        sb_pickle_value *args, sb_pickle_value **out)
{
    (void)ctx, (void)self, (void)args;
    *out = sb_pickle_new_value(p, SB_PICKLE_LIST);
    return *out ? SB_OK : SB_ENOMEM;
}

static const sb_pickle_global test_globals[] = {
    {"collections", "OrderedDict", h_list, NULL},
    {"torch", "FloatStorage", NULL, NULL},
};

/* Unpickles `data` (n bytes) with the test allow-list; returns the status, the message in
 * sb_error_message(), and the root's kind through *kind. */
static sb_status run(const char *data, size_t n, sb_pickle_kind *kind)
{
    sb_unpickle_config cfg = {test_globals, 2, NULL, NULL, "test"};
    sb_pickle *p = sb_pickle_new();
    sb_pickle_value *root = NULL;
    sb_error_clear();
    sb_status st = sb_unpickle(p, data, n, &cfg, &root, NULL);
    if (st == SB_OK && kind) *kind = root->kind;
    sb_pickle_free(p);
    return st;
}

#define RUN(lit, kind) run(lit, sizeof(lit) - 1, kind)

static void expect_fail(const char *data, size_t n, const char *needle)
{
    sb_status st = run(data, n, NULL);
    SB_CHECK(st != SB_OK);
    SB_CHECK_STR_CONTAINS(sb_error_message(), needle);
}

#define FAIL(lit, needle) expect_fail(lit, sizeof(lit) - 1, needle)

static void test_values(void)
{
    sb_pickle_kind k = SB_PICKLE_NONE;
    SB_CHECK(RUN("\x80\x02]q\x00(K\x01K\x02"
                 "e.",
                 &k) == SB_OK &&
             k == SB_PICKLE_LIST);
    SB_CHECK(RUN("\x80\x02}q\x00(X\x01\x00\x00\x00"
                 "aK\x01u.",
                 &k) == SB_OK &&
             k == SB_PICKLE_DICT);
    SB_CHECK(RUN("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\xff.", &k) == SB_OK); /* -2^63 */
    SB_CHECK(RUN("\x80\x02G?\xf0\x00\x00\x00\x00\x00\x00.", &k) == SB_OK && k == SB_PICKLE_FLOAT);
    SB_CHECK(RUN("\x80\x02\x88\x89\x86.", &k) == SB_OK && k == SB_PICKLE_TUPLE);
    SB_CHECK(RUN("\x80\x02\x63torch\nFloatStorage\n.", &k) == SB_OK && k == SB_PICKLE_GLOBAL);
    SB_CHECK(RUN("\x80\x02\x63\x63ollections\nOrderedDict\n)R.", &k) == SB_OK &&
             k == SB_PICKLE_LIST);
    /* A list that holds itself: the arena frees it without reference counting. */
    SB_CHECK(RUN("\x80\x02]q\x00h\x00"
                 "a.",
                 &k) == SB_OK &&
             k == SB_PICKLE_LIST);
    /* Protocol 4 with a frame, MEMOIZE, STACK_GLOBAL. */
    SB_CHECK(RUN("\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x05torch\x94\x8c\x0c"
                 "FloatStorage\x94\x93\x94.",
                 &k) == SB_OK &&
             k == SB_PICKLE_GLOBAL);
}

static void test_refusals(void)
{
    FAIL("\x80\x02\x63os\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.",
         "refusing to call pickle global 'os.system'");
    FAIL("\x80\x04\x8c\x08\x62uiltins\x8c\x04\x65val\x93.",
         "refusing to call pickle global 'builtins.eval'");
    FAIL("(X\x01\x00\x00\x00xi__main__\nEvil\n.", "refusing to call pickle global '__main__.Evil'");
    FAIL("\x80\x02\x63torch\nFloatStorage\n)R.",
         "refusing to call pickle global 'torch.FloatStorage' (byte 23): it is allowed only as a "
         "value");
    FAIL("\x80\x02]}b.", "refusing to set the state (BUILD) of a list");
    FAIL("\x80\x02\x82\x01.", "extension-registry opcode");
    FAIL("\x80\x02X\x01\x00\x00\x00"
         "aQ.",
         "a persistent id, and this reader loads none");
    FAIL("\x80\x02h\x05.", "GET of a memo entry that was never PUT");
    FAIL("\x80\x02"
         "a.",
         "stack underflow");
    FAIL("\x80\x02t.", "no MARK before this opcode");
    FAIL("\x80\x02X\xff\x00\x00\x00"
         "ab.",
         "a string runs past the end");
    FAIL("\x80\x02X\x01\x00\x00\x00\x00.", "not UTF-8 or holds a NUL");
    FAIL("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", "an integer beyond 64 bits");
    FAIL("\x80\x02K\x01K\x02.", "more than one value");
    FAIL("\x80\x02K\x01", "truncated pickle");
    FAIL("\x80\x02\xff.", "unknown pickle opcode (opcode 0xff at byte 2)");
    FAIL("\x80\x07.", "unsupported pickle protocol");
}

static unsigned char *read_file(const char *name, size_t *size)
{
    const char *dir = getenv("SBENGINE_FIXTURES");
    char path[1024];
    snprintf(path, sizeof path, "%s/io/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Every prefix fails; every byte flipped fails or loads; nothing crashes or leaks. */
static void hammer(const char *name)
{
    size_t size = 0;
    unsigned char *img = read_file(name, &size);
    SB_CHECK(img != NULL);
    if (!img) return;
    sb_pytorch_state_dict *sd = NULL;
    SB_CHECK(sb_pytorch_parse(img, size, NULL, name, NULL, &sd) == SB_OK);
    SB_CHECK(sd && sd->count == 17);
    sb_pytorch_free(sd);
    int truncations_failed = 0;
    for (size_t n = 0; n < size; n++) {
        sd = NULL;
        if (sb_pytorch_parse(img, n, NULL, name, NULL, &sd) != SB_OK)
            truncations_failed++;
        else
            sb_pytorch_free(sd);
    }
    SB_CHECK(truncations_failed == (int)size);
    unsigned char *copy = malloc(size);
    for (size_t i = 0; i < size; i++) {
        memcpy(copy, img, size);
        copy[i] ^= 0xff;
        sd = NULL;
        if (sb_pytorch_parse(copy, size, NULL, name, NULL, &sd) == SB_OK) sb_pytorch_free(sd);
        SB_CHECK(sb_error_message() != NULL);
    }
    free(copy);
    free(img);
}

static void test_hammer_zip(void)
{
    hammer("dtypes_zip.pth");
}

static void test_hammer_legacy(void)
{
    hammer("dtypes_legacy.pth");
}

static void test_zip_reader(void)
{
    size_t size = 0;
    unsigned char *img = read_file("deflated.pth", &size);
    SB_CHECK(img != NULL);
    if (!img) return;
    sb_zip *z = NULL;
    SB_CHECK(sb_zip_open(img, size, "deflated.pth", &z) == SB_OK);
    const sb_zip_entry *e = z ? sb_zip_find(z, "archive/data/0") : NULL;
    SB_CHECK(e && e->method == 8 && e->size == 40);
    if (e) {
        const unsigned char *data;
        void *owned;
        SB_CHECK(sb_zip_read(z, e, "deflated.pth", true, &data, &owned) == SB_OK);
        float f[10];
        memcpy(f, data, sizeof f);
        SB_CHECK(f[9] == 9.0f);
        free(owned);
    }
    sb_zip_free(z);
    z = NULL;
    SB_CHECK(sb_zip_open(img, size - 1, "cut", &z) != SB_OK);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "truncated or not a zip archive");
    free(img);
}

/* ---- a legacy checkpoint written here, with records of several MiB ---------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

#define PUT(b, lit) put(b, lit, sizeof(lit) - 1)

static void put_int(buf *b, int32_t v) /* BININT */
{
    unsigned char o[5] = {'J', (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, o, 5);
}

static void put_str(buf *b, const char *s) /* BINUNICODE */
{
    uint32_t n = (uint32_t)strlen(s);
    unsigned char o[5] = {'X', (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
    put(b, o, 5);
    put(b, s, n);
}

typedef struct legacy_storage {
    const char *key, *cls;
    int32_t numel;
    size_t esize;
} legacy_storage;

typedef struct legacy_tensor {
    const char *name;
    int storage, ndim;
    int32_t offset, sizes[2], strides[2];
} legacy_tensor;

/* What torch.save(..., _use_new_zipfile_serialization=False) writes for an OrderedDict of
 * tensors: the magic number, protocol and system-information pickles, the dict's pickle,
 * the storage keys, then each storage's element count and bytes. Element i of storage s is
 * the byte pattern fill(s, i). */
static unsigned char fill_byte(int s, size_t byte)
{
    return (unsigned char)(byte * 7 + (size_t)s * 31 + byte / 251);
}

static buf legacy_image(const legacy_storage *st, int nst, const legacy_tensor *tt, int nt,
                        size_t *first_record)
{
    buf b = {NULL, 0, 0};
    PUT(&b, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    PUT(&b, "\x80\x02M\xe9\x03.");
    PUT(&b, "\x80\x02}.");
    PUT(&b, "\x80\x02\x63\x63ollections\nOrderedDict\n)R(");
    for (int i = 0; i < nt; i++) {
        const legacy_tensor *t = &tt[i];
        const legacy_storage *s = &st[t->storage];
        put_str(&b, t->name);
        PUT(&b, "ctorch._utils\n_rebuild_tensor_v2\n((");
        put_str(&b, "storage");
        PUT(&b, "ctorch\n");
        put(&b, s->cls, strlen(s->cls));
        PUT(&b, "\n");
        put_str(&b, s->key);
        put_str(&b, "cpu");
        put_int(&b, s->numel);
        PUT(&b, "NtQ");
        put_int(&b, t->offset);
        PUT(&b, "(");
        for (int d = 0; d < t->ndim; d++)
            put_int(&b, t->sizes[d]);
        PUT(&b, "t(");
        for (int d = 0; d < t->ndim; d++)
            put_int(&b, t->strides[d]);
        PUT(&b, "t\x89\x63\x63ollections\nOrderedDict\n)RtR");
    }
    PUT(&b, "u.");
    PUT(&b, "\x80\x02](");
    for (int i = 0; i < nst; i++)
        put_str(&b, st[i].key);
    PUT(&b, "e.");
    *first_record = b.n + 8;
    for (int i = 0; i < nst; i++) {
        uint64_t n = (uint64_t)st[i].numel;
        unsigned char h[8];
        for (int k = 0; k < 8; k++)
            h[k] = (unsigned char)(n >> (8 * k));
        put(&b, h, 8);
        size_t bytes = (size_t)n * st[i].esize;
        unsigned char *data = malloc(bytes ? bytes : 1);
        for (size_t k = 0; k < bytes; k++)
            data[k] = fill_byte(i, k);
        put(&b, data, bytes);
        free(data);
    }
    return b;
}

static const sb_tensor *find_tensor(const sb_pytorch_state_dict *sd, const char *name)
{
    for (size_t i = 0; sd && i < sd->count; i++)
        if (strcmp(sd->entries[i].name, name) == 0) return sd->entries[i].tensor;
    return NULL;
}

/* Float records copied into the shared pool over several 1 MiB blocks (a record that spans
 * blocks, a block that spans records, a view into a shared storage, empty storages) and
 * converted ones beside them: every byte where it belongs, from memory and from a file. */
static void test_legacy_copies(void)
{
    const legacy_storage st[] = {
        {"big", "FloatStorage", 1000003, 4}, {"tiny", "FloatStorage", 5, 4},
        {"shorts", "ShortStorage", 3, 2},    {"mid", "FloatStorage", 600001, 4},
        {"empty", "FloatStorage", 0, 4},     {"flags", "BoolStorage", 3, 1},
        {"longs", "LongStorage", 300000, 8},
    };
    const legacy_tensor tt[] = {
        {"a", 0, 1, 0, {1000003, 0}, {1, 0}}, {"b", 0, 2, 999990, {3, 2}, {1, 3}},
        {"c", 1, 1, 0, {5, 0}, {1, 0}},       {"d", 2, 1, 0, {3, 0}, {1, 0}},
        {"e", 3, 2, 1, {600000, 1}, {1, 1}},  {"f", 4, 1, 0, {0, 0}, {1, 0}},
        {"g", 5, 1, 0, {3, 0}, {1, 0}},       {"h", 6, 1, 0, {300000, 0}, {1, 0}},
    };
    size_t first = 0;
    buf img = legacy_image(st, 7, tt, 8, &first);
    SB_CHECK(first % 4 != 0); /* the float records really are misaligned: copied */
    char path[] = "/tmp/sbengine-legacy-XXXXXX";
    int fd = mkstemp(path);
    SB_CHECK(fd >= 0);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (f) {
        fwrite(img.p, 1, img.n, f);
        fclose(f);
    }
    for (int from_file = 0; from_file < 2; from_file++) {
        sb_pytorch_state_dict *sd = NULL;
        sb_status s = from_file ? sb_pytorch_load(path, NULL, &sd)
                                : sb_pytorch_parse(img.p, img.n, NULL, "legacy", NULL, &sd);
        SB_CHECK(s == SB_OK);
        if (s != SB_OK) {
            fprintf(stderr, "%s\n", sb_error_message());
            continue;
        }
        SB_CHECK(sd->count == 8);
        /* a, c, e, h: every byte of their storages (e from element 1 on) */
        const char *plain[] = {"a", "c", "e", "h"};
        const int storage_of[] = {0, 1, 3, 6}, skip[] = {0, 0, 1, 0};
        for (int k = 0; k < 4; k++) {
            const sb_tensor *t = find_tensor(sd, plain[k]);
            SB_CHECK(t != NULL);
            if (!t) continue;
            const legacy_storage *ls = &st[storage_of[k]];
            const unsigned char *p = sb_tensor_data(t);
            SB_CHECK((uintptr_t)p % ls->esize == 0);
            size_t bad = 0, bytes = (size_t)sb_tensor_numel(t) * ls->esize;
            for (size_t i = 0; i < bytes; i++)
                bad += p[i] != fill_byte(storage_of[k], i + (size_t)skip[k] * ls->esize);
            SB_CHECK(bad == 0);
        }
        const sb_tensor *a = find_tensor(sd, "a"), *b = find_tensor(sd, "b");
        SB_CHECK(a && b && a->storage == b->storage); /* one storage, as in the file */
        if (a && b) {
            const float *pa = sb_tensor_data(a), *pb = sb_tensor_data(b);
            SB_CHECK(pb[0] == pa[999990] && pb[1 * 1 + 1 * 3] == pa[999994] &&
                     memcmp(&pb[2 + 3], &pa[999995], 4) == 0);
        }
        const sb_tensor *d = find_tensor(sd, "d"), *g = find_tensor(sd, "g");
        SB_CHECK(d && d->dtype == SB_INT32 && g && g->dtype == SB_UINT8);
        if (d) {
            const int32_t *pd = sb_tensor_data(d);
            for (int i = 0; i < 3; i++) {
                int16_t want =
                    (int16_t)(fill_byte(2, 2 * (size_t)i) | fill_byte(2, 2 * (size_t)i + 1) << 8);
                SB_CHECK(pd[i] == want);
            }
        }
        if (g) {
            const unsigned char *pg = sb_tensor_data(g);
            for (int i = 0; i < 3; i++)
                SB_CHECK(pg[i] == (fill_byte(5, (size_t)i) != 0));
        }
        const sb_tensor *e0 = find_tensor(sd, "f");
        SB_CHECK(e0 && sb_tensor_numel(e0) == 0);
        sb_pytorch_free(sd);
    }
    remove(path);
    free(img.p);
}

int main(void)
{
    SB_RUN(test_values);
    SB_RUN(test_refusals);
    SB_RUN(test_zip_reader);
    SB_RUN(test_hammer_zip);
    SB_RUN(test_hammer_legacy);
    SB_RUN(test_legacy_copies);
    return sb_test_summary();
}
