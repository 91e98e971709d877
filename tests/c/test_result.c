/* The results core: JSON writer, sha256, BenchmarkResult validation, run hash, atomic write. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "core/json.h"
#include "core/sys.h"
#include "result/result.h"
#include "result/run_hash.h"
#include "sbtest.h"

static char *write_json(const sb_json *v, bool pretty)
{
    static char text[4096];
    sb_buf b = {0};
    SB_CHECK(sb_json_write(v, pretty, &b) == SB_OK);
    snprintf(text, sizeof text, "%s", b.data ? b.data : "");
    sb_buf_free(&b);
    return text;
}

static void test_json_escaping(void)
{
    const char raw[] = "q\" b\\ n\n t\t c\x01 u\xc3\xa9 \x7f";
    sb_json *s = NULL;
    SB_CHECK(sb_json_string(raw, sizeof raw - 1, &s) == SB_OK);
    SB_CHECK(strcmp(write_json(s, false), "\"q\\\" b\\\\ n\\n t\\t c\\u0001 u\xc3\xa9 \x7f\"") ==
             0);
    sb_json_free(s);
    /* invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate, a truncation */
    const char *bad[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x82"};
    for (size_t i = 0; i < 4; i++) {
        s = NULL;
        SB_CHECK(sb_json_string(bad[i], strlen(bad[i]), &s) == SB_EINVAL);
        SB_CHECK(s == NULL);
    }
    SB_CHECK(sb_utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
}

static void test_json_numbers(void)
{
    double samples[] = {0.1, 1.0 / 3.0, 0.9912, 1e-300, 123456789.125, -2.5e20, 5e-324, 0.0};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        char buf[40];
        sb_json_format_double(samples[i], buf, sizeof buf);
        SB_CHECK(strtod(buf, NULL) == samples[i]);
    }
    char buf[40];
    sb_json_format_double(0.1, buf, sizeof buf);
    SB_CHECK(strcmp(buf, "0.1") == 0); /* the shortest spelling, not 0.10000000000000001 */
    sb_json_format_double(-0.0, buf, sizeof buf); /* "-0" would read back as the integer 0 */
    SB_CHECK(strcmp(buf, "-0.0") == 0 && signbit(strtod(buf, NULL)));
    sb_json *v = NULL;
    SB_CHECK(sb_json_number(NAN, &v) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "NaN");
    SB_CHECK(sb_json_number(-INFINITY, &v) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "-inf");
    SB_CHECK(v == NULL);
    SB_CHECK(sb_json_integer(9007199254740993LL, &v) == SB_OK);
    SB_CHECK(strcmp(write_json(v, false), "9007199254740993") == 0);
    sb_json_free(v);
}

static void test_json_objects_keep_order(void)
{
    sb_json *o = NULL, *a = NULL, *x = NULL;
    SB_CHECK(sb_json_object(&o) == SB_OK);
    SB_CHECK(sb_json_integer(1, &x) == SB_OK);
    SB_CHECK(sb_json_object_set(o, "zeta", x) == SB_OK);
    SB_CHECK(sb_json_array(&a) == SB_OK);
    SB_CHECK(sb_json_bool(true, &x) == SB_OK);
    SB_CHECK(sb_json_array_push(a, x) == SB_OK);
    SB_CHECK(sb_json_null(&x) == SB_OK);
    SB_CHECK(sb_json_array_push(a, x) == SB_OK);
    SB_CHECK(sb_json_object_set(o, "alpha", a) == SB_OK);
    SB_CHECK(sb_json_integer(2, &x) == SB_OK);
    SB_CHECK(sb_json_object_set(o, "zeta", x) == SB_OK); /* replaced in place */
    SB_CHECK(strcmp(write_json(o, false), "{\"zeta\":2,\"alpha\":[true,null]}") == 0);
    SB_CHECK(strcmp(write_json(o, true), "{\n  \"zeta\": 2,\n  \"alpha\": [\n    true,\n    "
                                         "null\n  ]\n}") == 0);
    sb_json *c = NULL;
    SB_CHECK(sb_json_clone(o, &c) == SB_OK);
    SB_CHECK(strcmp(write_json(c, false), "{\"zeta\":2,\"alpha\":[true,null]}") == 0);
    sb_json_free(c);
    sb_json_free(o);
    SB_CHECK(sb_json_object(&o) == SB_OK);
    SB_CHECK(strcmp(write_json(o, true), "{}") == 0);
    sb_json_free(o);
}

static void check_sha(const char *text, size_t repeat, const char *expected)
{
    sb_sha256 h;
    sb_sha256_init(&h);
    for (size_t i = 0; i < repeat; i++)
        sb_sha256_update(&h, text, strlen(text));
    char hex[65];
    sb_sha256_final_hex(&h, hex);
    SB_CHECK(strcmp(hex, expected) == 0);
    if (strcmp(hex, expected) != 0) fprintf(stderr, "  got %s\n", hex);
}

static void test_sha256_known_vectors(void)
{
    /* FIPS 180-4 examples and the NIST one-million-'a' vector. */
    check_sha("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_sha("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* 55, 56 and 64 bytes: the padding boundaries */
    check_sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
              "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    check_sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1,
              "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

static sb_result_fields valid_fields(void)
{
    sb_result_fields f = {0};
    f.model = "LeNet-5";
    f.task = "Image Classification";
    f.dataset = "MNIST";
    f.idempotency_key = "0b7c6c2e-4a43-4a5e-9c1e-2f0d1b8f6a10";
    return f;
}

static void test_result_validation_names_the_field(void)
{
    sb_result *r = NULL;
    sb_result_fields f = valid_fields();
    f.model = NULL;
    SB_CHECK(sb_result_new(&f, &r) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "model: required");
    f = valid_fields();
    f.dataset = "";
    SB_CHECK(sb_result_new(&f, &r) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "dataset: must not be empty");

    f = valid_fields();
    sb_json *s = NULL;
    SB_CHECK(sb_json_object(&f.results) == SB_OK);
    SB_CHECK(sb_json_string("high", 4, &s) == SB_OK);
    SB_CHECK(sb_json_object_set(f.results, "Top 1 Accuracy", s) == SB_OK);
    SB_CHECK(sb_result_new(&f, &r) == SB_EINVAL); /* frees f.results */
    SB_CHECK_STR_CONTAINS(sb_error_message(),
                          "results[\"Top 1 Accuracy\"]: expected a number, got string");

    f = valid_fields();
    f.run_hash = "abc";
    SB_CHECK(sb_result_new(&f, &r) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "run_hash: expected 64");
    f = valid_fields();
    f.idempotency_key = "not-a-uuid";
    SB_CHECK(sb_result_new(&f, &r) == SB_EINVAL);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "idempotency_key");
    SB_CHECK(r == NULL);
}

static void test_result_json_has_sotabench_key_order(void)
{
    sb_result_fields f = valid_fields();
    sb_json *n = NULL;
    SB_CHECK(sb_json_object(&f.results) == SB_OK);
    SB_CHECK(sb_json_number(0.9912, &n) == SB_OK);
    SB_CHECK(sb_json_object_set(f.results, "Top 1 Accuracy", n) == SB_OK);
    sb_result *r = NULL;
    SB_CHECK(sb_result_new(&f, &r) == SB_OK);
    sb_buf b = {0};
    SB_CHECK(sb_result_to_json(r, false, &b) == SB_OK);
    SB_CHECK(strcmp(b.data,
                    "{\"model\":\"LeNet-5\",\"model_description\":null,\"task\":\"Image "
                    "Classification\",\"dataset_name\":\"MNIST\",\"results\":{\"Top 1 "
                    "Accuracy\":0.9912},\"speed_mem_metrics\":null,\"arxiv_id\":null,\"pwc_id\":"
                    "null,\"pytorch_hub_id\":null,\"paper_results\":null,\"run_hash\":null,"
                    "\"config\":null,\"extra\":null,\"environment\":null,\"idempotency_key\":"
                    "\"0b7c6c2e-4a43-"
                    "4a5e-9c1e-2f0d1b8f6a10\"}") == 0);
    sb_buf_free(&b);
    SB_CHECK(sb_result_format_table(r, &b) == SB_OK);
    SB_CHECK_STR_CONTAINS(b.data, "Top 1 Accuracy  0.9912");
    sb_buf_free(&b);
    sb_result_free(r);
}

static void test_uuid4(void)
{
    char a[37], b[37];
    SB_CHECK(sb_uuid4(a) == SB_OK);
    SB_CHECK(sb_uuid4(b) == SB_OK);
    SB_CHECK(sb_uuid_valid(a) && sb_uuid_valid(b));
    SB_CHECK(strcmp(a, b) != 0);
}

static void test_run_hash_values(void)
{
    char buf[48];
    struct {
        double v;
        const char *text;
    } cases[] = {{0.12345, "0.123"}, {0.0005, "0.001"},   {-0.0004, "0.000"},
                 {-0.0, "0.000"},    {-4.0, "-4.000"},    {12.5, "12.500"},
                 {NAN, "nan"},       {-INFINITY, "-inf"}, {2e15, "2000000000000000"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sb_run_hash_format_value(cases[i].v, buf, sizeof buf);
        SB_CHECK(strcmp(buf, cases[i].text) == 0);
        if (strcmp(buf, cases[i].text) != 0) fprintf(stderr, "  %g -> %s\n", cases[i].v, buf);
    }
}

static void test_run_hash_recipe(void)
{
    /* The recipe of docs/results.md, spelled out, must give the same digest. */
    const char *text = "sbengine-run-hash-v1\nshape 2,2\n0.100\n0.200\n-1.000\n2.000\n"
                       "metrics 2\nTop 1 Accuracy=0.500\nTop 5 Accuracy=1.000\n";
    sb_sha256 sha;
    sb_sha256_init(&sha);
    sb_sha256_update(&sha, text, strlen(text));
    char expected[65], got[65];
    sb_sha256_final_hex(&sha, expected);
    sb_run_hasher h;
    int64_t shape[2] = {2, 2};
    double values[4] = {0.1000001, 0.19999, -1.0, 2.0004};
    const char *names[2] = {"Top 5 Accuracy", "Top 1 Accuracy"};
    double metrics[2] = {1.0, 0.5};
    SB_CHECK(sb_run_hash_begin(&h, 2, shape) == SB_OK);
    sb_run_hash_values(&h, values, 4);
    SB_CHECK(sb_run_hash_finish(&h, names, metrics, 2, got) == SB_OK);
    SB_CHECK(strcmp(got, expected) == 0);
}

static void test_atomic_write_replaces_whole_file(void)
{
    char dir[] = "/tmp/sbtest-result-XXXXXX";
    SB_CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/out.json", dir);
    SB_CHECK(sb_write_file_atomic(path, "[1,2,3]\n", 8) == SB_OK);
    SB_CHECK(sb_write_file_atomic(path, "[]\n", 3) == SB_OK);
    FILE *f = fopen(path, "r");
    char text[32] = "";
    SB_CHECK(f && fgets(text, sizeof text, f));
    if (f) fclose(f);
    SB_CHECK(strcmp(text, "[]\n") == 0);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.json", dir);
    SB_CHECK(sb_write_file_atomic(missing, "x", 1) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "cannot create a temporary file");
    unlink(path);
    rmdir(dir);
}

/* A link stays a link (its file is replaced); a pipe (like a device: --out /dev/null) is
 * refused and stays what it was, instead of being replaced by a regular file. */
static void test_atomic_write_follows_links_and_refuses_devices(void)
{
    char dir[] = "/tmp/sbtest-result-XXXXXX";
    SB_CHECK(mkdtemp(dir) != NULL);
    char file[128], link[128], fifo[128];
    snprintf(file, sizeof file, "%s/real.json", dir);
    snprintf(link, sizeof link, "%s/link.json", dir);
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    SB_CHECK(sb_write_file_atomic(file, "[1]\n", 4) == SB_OK);
    SB_CHECK(symlink("real.json", link) == 0);
    SB_CHECK(sb_write_file_atomic(link, "[2]\n", 4) == SB_OK);
    struct stat st;
    SB_CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    FILE *f = fopen(file, "r");
    char text[32] = "";
    SB_CHECK(f && fgets(text, sizeof text, f));
    if (f) fclose(f);
    SB_CHECK(strcmp(text, "[2]\n") == 0);

    /* A link made before its file exists: the file is created where the link points. */
    char early[128], later[128];
    snprintf(early, sizeof early, "%s/early.json", dir);
    snprintf(later, sizeof later, "%s/later.json", dir);
    SB_CHECK(symlink("later.json", early) == 0);
    SB_CHECK(sb_write_file_atomic(early, "[4]\n", 4) == SB_OK);
    SB_CHECK(lstat(early, &st) == 0 && S_ISLNK(st.st_mode));
    SB_CHECK(stat(later, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);

    /* Streaming, then abort: nothing is left, the old file is untouched. */
    sb_atomic_file af;
    SB_CHECK(sb_atomic_open(&af, file) == SB_OK);
    SB_CHECK(sb_atomic_write(&af, "[5, 6]", 6) == SB_OK);
    char tmp_copy[160];
    snprintf(tmp_copy, sizeof tmp_copy, "%s", af.tmp);
    sb_atomic_abort(&af);
    SB_CHECK(access(tmp_copy, F_OK) != 0);
    SB_CHECK(stat(file, &st) == 0 && st.st_size == 4);

    SB_CHECK(mkfifo(fifo, 0600) == 0);
    SB_CHECK(sb_write_file_atomic(fifo, "[3]\n", 4) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "is not a regular file");
    SB_CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    int fd = -1;
    SB_CHECK(sb_lock_file(fifo, &fd) == SB_EIO);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "is not a regular file");
    unlink(fifo);
    unlink(early);
    unlink(later);
    unlink(link);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    SB_RUN(test_json_escaping);
    SB_RUN(test_json_numbers);
    SB_RUN(test_json_objects_keep_order);
    SB_RUN(test_sha256_known_vectors);
    SB_RUN(test_result_validation_names_the_field);
    SB_RUN(test_result_json_has_sotabench_key_order);
    SB_RUN(test_uuid4);
    SB_RUN(test_run_hash_values);
    SB_RUN(test_run_hash_recipe);
    SB_RUN(test_atomic_write_replaces_whole_file);
    SB_RUN(test_atomic_write_follows_links_and_refuses_devices);
    return sb_test_summary();
}
