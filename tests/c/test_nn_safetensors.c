/* safetensors reading and writing: valid files, every hostile-file check, atomic save. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "sbtest.h"

/* A file image: 8-byte LE header length, the header text, then `data`. */
static unsigned char *image(const char *header, const void *data, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    unsigned char *buf = malloc(*size ? *size : 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    if (data_len) memcpy(buf + 8 + h, data, data_len);
    return buf;
}

/* Parses the image and expects failure with `needle` in the message. */
static void expect_bad(const char *header, size_t data_len, const char *needle)
{
    unsigned char zeros[64] = {0};
    size_t size;
    unsigned char *buf = image(header, zeros, data_len, &size);
    sb_safetensors *st = NULL;
    sb_error_clear();
    sb_status s = sb_safetensors_parse(buf, size, NULL, "mem", &st);
    SB_CHECK(s != SB_OK);
    SB_CHECK(st == NULL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), needle);
    if (s == SB_OK) {
        fprintf(stderr, "  accepted: %s\n", header);
        sb_safetensors_free(st);
    }
    free(buf);
}

static const sb_safetensors_entry *find(const sb_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].name, name) == 0) return &st->entries[i];
    return NULL;
}

static void test_valid_file(void)
{
    unsigned char data[40];
    float f[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    int64_t i64 = -7;
    uint16_t half[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
    uint16_t bf16[2] = {0x3f80, 0x4049}; /* 1.0, 3.140625 */
    memcpy(data, f, 16);
    memcpy(data + 16, &i64, 8);
    memcpy(data + 24, half, 4);
    memcpy(data + 28, bf16, 4);
    memcpy(data + 32, "abc\0\0\0\0\0", 8);
    const char *header =
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
        " \"n\" : {\"data_offsets\":[16,24],\"shape\":[1],\"dtype\":\"I64\"},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28],"
        "\"extra\":[{\"x\":null},true,-1.5e3]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]},"
        "\"u\\u00e9\\n\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[32,40]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[40,40]},"
        "\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\\\"q\"}}   ";
    size_t size;
    unsigned char *buf = image(header, data, sizeof data, &size);
    sb_safetensors *st = NULL;
    sb_status s = sb_safetensors_parse(buf, size, NULL, "mem", &st);
    SB_CHECK(s == SB_OK);
    if (s != SB_OK) {
        fprintf(stderr, "  %s\n", sb_error_message());
        free(buf);
        return;
    }
    SB_CHECK(st->count == 6);
    SB_CHECK(strcmp(st->entries[0].name, "w") == 0); /* data-offset order */
    const sb_safetensors_entry *w = find(st, "w");
    SB_CHECK(w && w->tensor->dtype == SB_FLOAT32 && w->tensor->ndim == 2);
    if (w) SB_CHECK(((float *)sb_tensor_data(w->tensor))[2] == 3.25f);
    const sb_safetensors_entry *n = find(st, "n");
    SB_CHECK(n && n->tensor->dtype == SB_INT64 && *(int64_t *)sb_tensor_data(n->tensor) == -7);
    const sb_safetensors_entry *h = find(st, "h");
    SB_CHECK(h && h->tensor->dtype == SB_FLOAT16 && strcmp(h->dtype, "F16") == 0);
    if (h) SB_CHECK(((uint16_t *)sb_tensor_data(h->tensor))[1] == 0xc000);
    const sb_safetensors_entry *b = find(st, "b");
    SB_CHECK(b && b->tensor->dtype == SB_BFLOAT16);
    if (b) {
        sb_tensor *f = NULL;
        SB_CHECK(sb_tensor_to_dtype(b->tensor, SB_FLOAT32, &f) == SB_OK);
        if (f) SB_CHECK(((float *)sb_tensor_data(f))[1] == 3.140625f);
        sb_tensor_free(f);
    }
    const sb_safetensors_entry *u = find(st, "u\xc3\xa9\n");
    SB_CHECK(u && u->tensor->dtype == SB_UINT8 && u->tensor->sizes[0] == 8);
    if (u) SB_CHECK(((uint8_t *)sb_tensor_data(u->tensor))[1] == 'b');
    const sb_safetensors_entry *e = find(st, "e");
    SB_CHECK(e && sb_tensor_numel(e->tensor) == 0 && e->tensor->ndim == 2);
    SB_CHECK(st->meta_count == 2);
    if (st->meta_count == 2) SB_CHECK(strcmp(st->meta[1].value, "v\"q") == 0);
    sb_safetensors_free(st);
    free(buf);
}

static void test_empty_header(void)
{
    size_t size;
    unsigned char *buf = image("{}", NULL, 0, &size);
    sb_safetensors *st = NULL;
    SB_CHECK(sb_safetensors_parse(buf, size, NULL, "mem", &st) == SB_OK);
    SB_CHECK(st && st->count == 0);
    sb_safetensors_free(st);
    free(buf);
}

static void test_header_length(void)
{
    sb_safetensors *st = NULL;
    unsigned char tiny[5] = {1, 0, 0, 0, 0};
    SB_CHECK(sb_safetensors_parse(tiny, 5, NULL, "mem", &st) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "shorter than the 8-byte header length");

    unsigned char beyond[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    SB_CHECK(sb_safetensors_parse(beyond, 16, NULL, "mem", &st) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "runs past the end of the file");

    unsigned char huge[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}'}; /* 2^40 */
    SB_CHECK(sb_safetensors_parse(huge, 16, NULL, "mem", &st) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "above the limit");

    unsigned char all_ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    SB_CHECK(sb_safetensors_parse(all_ones, 8, NULL, "mem", &st) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "above the limit");
}

#define T4(dtype, shape, b, e)                                                                     \
    "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_malformed_json(void)
{
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4), 4, "expected ',' or '}'");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4) ",}", 4, "expected a string");
    expect_bad("{a:1}", 0, "expected a string");
    expect_bad("[]", 0, "expected '{'");
    expect_bad("", 0, "expected '{'");
    expect_bad("{\"a\\q\":1}", 0, "expected a valid escape");
    expect_bad("{\"a\xff\":1}", 0, "expected valid UTF-8");
    expect_bad("{\"a\xc0\xaf\":1}", 0, "expected valid UTF-8"); /* overlong '/' */
    expect_bad("{\"a\x01\":1}", 0, "control characters");
    expect_bad("{\"\\ud800\":1}", 0, "low surrogate");
    expect_bad("{\"a\\u0000b\":" T4("F32", "[1]", 0, 4) "}", 4, "\\u0000");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4) "} x", 4, "only whitespace after");
    expect_bad("{\"a\":" T4("F32", "[01]", 0, 4) "}", 4, "leading zeros");
    expect_bad("{\"a\":" T4("F32", "[1.0]", 0, 4) "}", 4, "integer size");
    expect_bad("{\"a\":" T4("F32", "[-1]", 0, 4) "}", 4, "integer size");
    expect_bad("{\"a\":" T4("F32", "[99999999999999999999]", 0, 4) "}", 4, "below 2^64");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4x) "}", 4, "expected ']'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":NaN}}", 4,
               "expected a JSON value");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1.}}", 4,
               "decimal point");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, "one \"dtype\"");
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks \"dtype\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
               "data_offsets is [begin, end]");
    expect_bad("{\"a\":7}", 0, "must be an object");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "must be strings");
    expect_bad("{\"__metadata__\":[]}", 0, "__metadata__ must be an object");

    /* Deep nesting in an ignored field is refused, not recursed into without bound. */
    char deep[600];
    strcpy(deep, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":");
    for (int i = 0; i < 200; i++)
        strcat(deep, "[");
    expect_bad(deep, 4, "nesting at most 64");
}

static void test_bad_tensors(void)
{
    expect_bad("{\"a\":" T4("I16", "[2]", 0, 4) "}", 4, "dtype 'I16'");
    expect_bad("{\"a\":" T4("F8_E4M3", "[4]", 0, 4) "}", 4, "which sbengine does not read");
    expect_bad("{\"a\":" T4("F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "more than 8 dimensions");
    expect_bad("{\"a\":" T4("F32", "[3]", 0, 8) "}", 8, "(F32, shape [3]) needs a different");
    expect_bad("{\"a\":" T4("F32", "[4611686018427387904,4]", 0, 8) "}", 8, "more than 2^64");
    expect_bad("{\"a\":" T4("F32", "[2]", 0, 8) ",\"a\":" T4("F32", "[2]", 8, 16) "}", 16,
               "appears twice");
    /* offsets */
    expect_bad("{\"a\":" T4("F32", "[2]", 0, 8) "}", 4, "beyond the 4 data bytes");
    expect_bad("{\"a\":" T4("F32", "[1]", 8, 4) "}", 8, "end before begin");
    expect_bad("{\"a\":" T4("F32", "[2]", 0, 8) ",\"b\":" T4("F32", "[2]", 4, 12) "}", 12,
               "overlaps");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4) ",\"b\":" T4("F32", "[1]", 8, 12) "}", 12,
               "unused data bytes before tensor 'b'");
    expect_bad("{\"a\":" T4("F32", "[1]", 4, 8) "}", 8, "unused data bytes before tensor 'a'");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 4) "}", 12, "8 data bytes after the last");
    expect_bad("{\"a\":" T4("F32", "[1]", 0, 18446744073709551615) "}", 4, "beyond the");
}

static char tmpdir[] = "/tmp/sb_nn_safetensors_XXXXXX";

static void test_load_mmap_and_misaligned(void)
{
    /* Header of odd length: the F32 data is not 4-byte aligned in the file (copied) while
     * the U8 tensor is viewed in place. */
    float f[2] = {0.5f, 7.0f};
    unsigned char data[10];
    memcpy(data, "xy", 2);
    memcpy(data + 2, f, 8);
    const char *header = "{\"u\":" T4("U8", "[2]", 0, 2) ",\"f\":" T4("F32", "[2]", 2, 10) "}";
    size_t size;
    unsigned char *buf = image(header, data, sizeof data, &size);
    char path[128];
    snprintf(path, sizeof path, "%s/odd.safetensors", tmpdir);
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, size, fp);
    fclose(fp);
    free(buf);
    sb_safetensors *st = NULL;
    SB_CHECK(sb_safetensors_load(path, &st) == SB_OK);
    if (!st) return;
    const sb_safetensors_entry *fe = find(st, "f"), *ue = find(st, "u");
    SB_CHECK(fe && ((float *)sb_tensor_data(fe->tensor))[1] == 7.0f);
    SB_CHECK(ue && ((uint8_t *)sb_tensor_data(ue->tensor))[0] == 'x');
    /* Writing to a loaded tensor changes the private mapping, never the file. */
    if (ue) ((uint8_t *)sb_tensor_data(ue->tensor))[0] = 'Z';
    sb_safetensors_free(st);
    sb_safetensors *again = NULL;
    SB_CHECK(sb_safetensors_load(path, &again) == SB_OK);
    if (again) {
        const sb_safetensors_entry *u2 = find(again, "u");
        SB_CHECK(u2 && ((uint8_t *)sb_tensor_data(u2->tensor))[0] == 'x');
    }
    sb_safetensors_free(again);

    SB_CHECK(sb_safetensors_load("/nonexistent/x.safetensors", &st) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "cannot open /nonexistent/x.safetensors");
    SB_CHECK(sb_safetensors_load(tmpdir, &st) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "not a regular file");
}

static void test_save_roundtrip(void)
{
    int64_t sizes[2] = {2, 3};
    sb_tensor *a = NULL, *b = NULL, *col = NULL;
    SB_CHECK(sb_tensor_empty(2, sizes, SB_FLOAT32, SB_CPU, &a) == SB_OK);
    SB_CHECK(sb_tensor_zeros(1, sizes, SB_INT64, SB_CPU, &b) == SB_OK);
    if (!a || !b) return;
    for (int i = 0; i < 6; i++)
        ((float *)sb_tensor_data(a))[i] = (float)i * 0.5f;
    ((int64_t *)sb_tensor_data(b))[1] = 42;
    /* a non-contiguous column view: stored contiguous */
    SB_CHECK(sb_tensor_select(a, 1, 2, &col) == SB_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmpdir);
    const char *names[3] = {"layer.\"w\"", "b", "col"};
    const sb_tensor *ts[3] = {a, b, col};
    const char *mk[1] = {"note"}, *mv[1] = {"line\nbreak"};
    SB_CHECK(sb_safetensors_save(path, 3, names, ts, 1, mk, mv) == SB_OK);
    sb_safetensors *st = NULL;
    SB_CHECK(sb_safetensors_load(path, &st) == SB_OK);
    if (st) {
        SB_CHECK(st->count == 3);
        const sb_safetensors_entry *w = find(st, "layer.\"w\"");
        SB_CHECK(w && w->tensor->sizes[1] == 3 && ((float *)sb_tensor_data(w->tensor))[5] == 2.5f);
        const sb_safetensors_entry *c = find(st, "col");
        SB_CHECK(c && c->tensor->ndim == 1 && ((float *)sb_tensor_data(c->tensor))[1] == 2.5f);
        const sb_safetensors_entry *bb = find(st, "b");
        SB_CHECK(bb && ((int64_t *)sb_tensor_data(bb->tensor))[1] == 42);
        SB_CHECK(st->meta_count == 1 && strcmp(st->meta[0].value, "line\nbreak") == 0);
    }
    sb_safetensors_free(st);

    /* refused: duplicate or reserved names; nothing is left behind */
    const char *dup[2] = {"x", "x"};
    const sb_tensor *two[2] = {a, b};
    SB_CHECK(sb_safetensors_save(path, 2, dup, two, 0, NULL, NULL) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "appears twice");
    const char *reserved[1] = {"__metadata__"};
    SB_CHECK(sb_safetensors_save(path, 1, reserved, two, 0, NULL, NULL) == SB_EINVAL);
    char bad_dir[160];
    snprintf(bad_dir, sizeof bad_dir, "%s/missing/dir/x.safetensors", tmpdir);
    SB_CHECK(sb_safetensors_save(bad_dir, 1, names, ts, 0, NULL, NULL) == SB_EIO);
    DIR *d = opendir(tmpdir);
    int files = 0;
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (ent->d_name[0] != '.') files++;
    closedir(d);
    SB_CHECK(files == 2); /* odd.safetensors, rt.safetensors: no temporary files */
    sb_tensor_free(col);
    sb_tensor_free(a);
    sb_tensor_free(b);
}

/* Mutations of a valid file (flipped bytes, truncations, a patched header length) must be
 * refused or parsed, never crash, leak or read out of bounds (the ASan build checks). */
static void test_mutations(void)
{
    float data[6] = {1, 2, 3, 4, 5, 6};
    const char *header = "{\"a\":" T4("F32", "[2,2]", 0, 16) ",\"b\":" T4(
        "F32", "[2]", 16, 24) ",\"__metadata__\":{\"k\":\"v\"}}";
    size_t size;
    unsigned char *valid = image(header, data, sizeof data, &size);
    unsigned char *buf = malloc(size);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    int parsed = 0, refused = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, valid, size);
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = size;
        int flips = 1 + (int)((state >> 60) & 3);
        for (int f = 0; f < flips; f++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)((state >> 33) % size);
            buf[at] = (unsigned char)(state >> 17);
        }
        if ((state & 15) == 0) n = (size_t)((state >> 40) % size); /* truncated */
        sb_safetensors *st = NULL;
        if (sb_safetensors_parse(buf, n, NULL, "mem", &st) == SB_OK) {
            parsed++;
            for (size_t i = 0; i < st->count; i++) /* touch every element */
                if (sb_tensor_numel(st->entries[i].tensor) > 0)
                    (void)((volatile unsigned char *)sb_tensor_data(st->entries[i].tensor))[0];
            sb_safetensors_free(st);
        } else {
            refused++;
            SB_CHECK(st == NULL);
            SB_CHECK(sb_error_message()[0] != '\0');
        }
    }
    SB_CHECK(parsed > 0 && refused > 0);
    free(buf);
    free(valid);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    SB_RUN(test_valid_file);
    SB_RUN(test_empty_header);
    SB_RUN(test_header_length);
    SB_RUN(test_malformed_json);
    SB_RUN(test_bad_tensors);
    SB_RUN(test_load_mmap_and_misaligned);
    SB_RUN(test_save_roundtrip);
    SB_RUN(test_mutations);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return sb_test_summary();
}
