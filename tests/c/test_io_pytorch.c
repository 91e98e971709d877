/* The restricted unpickler, the zip reader and the checkpoint loader on hostile input:
 * hand-written pickles, every truncation and every single-byte corruption of the fixture
 * checkpoints (tests/fixtures/io/) must fail with a message or load, never crash or leak
 * (the sanitizer build runs this too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    SB_RUN(test_values);
    SB_RUN(test_refusals);
    SB_RUN(test_zip_reader);
    SB_RUN(test_hammer_zip);
    SB_RUN(test_hammer_legacy);
    return sb_test_summary();
}
