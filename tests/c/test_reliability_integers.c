/* Integer fields at their boundaries (issue 16, defect 4): 0, 1, max, max + 1 for the sizes
 * and strides of tensors, the shapes and offsets of a safetensors header, the Retry-After
 * header and the IDX dimensions. Run under UBSan (the sanitizer build), where a signed
 * overflow fails the test; the checks here say what each boundary must give. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "net/http.h"
#include "sbtest.h"
#include "tensor/tensor.h"

static const int64_t TWO40 = (int64_t)1 << 40;

static void test_zero_element_tensors_with_huge_sizes(void)
{
    int64_t sizes[][3] = {{0, TWO40, TWO40}, {TWO40, TWO40, 0}, {0, INT64_MAX, INT64_MAX}};
    for (int k = 0; k < 3; k++) {
        sb_tensor *t = NULL;
        SB_CHECK(sb_tensor_zeros(3, sizes[k], SB_FLOAT32, SB_CPU, &t) == SB_OK);
        if (!t) continue;
        SB_CHECK(sb_tensor_numel(t) == 0);
        SB_CHECK(t->strides[2] == 1);
        sb_tensor_free(t);
    }
    int64_t s[3];
    sb_contiguous_strides(3, sizes[0], s);
    SB_CHECK(s[2] == 1 && s[1] == TWO40 && s[0] == INT64_MAX); /* saturated, never wrapped */
}

static void test_tensor_size_boundaries(void)
{
    sb_tensor *t = NULL;
    int64_t one[1] = {1}, zero[1] = {0}, max[1] = {INT64_MAX}, big[2] = {INT64_MAX / 2 + 1, 2};
    SB_CHECK(sb_tensor_zeros(1, zero, SB_FLOAT32, SB_CPU, &t) == SB_OK);
    sb_tensor_free(t);
    SB_CHECK(sb_tensor_zeros(1, one, SB_FLOAT32, SB_CPU, &t) == SB_OK);
    sb_tensor_free(t);
    SB_CHECK(sb_tensor_zeros(1, max, SB_FLOAT32, SB_CPU, &t) == SB_ERANGE); /* bytes overflow */
    SB_CHECK_STR_CONTAINS(sb_error_message(), "overflows");
    SB_CHECK(sb_tensor_zeros(2, big, SB_UINT8, SB_CPU, &t) == SB_ERANGE); /* elements overflow */
    int64_t negative[1] = {-1};
    SB_CHECK(sb_tensor_zeros(1, negative, SB_FLOAT32, SB_CPU, &t) != SB_OK);
}

/* A safetensors image: 8-byte little-endian header length, the header, then `data_len`
 * zero bytes. */
static size_t image(uint8_t *buf, const char *header, size_t data_len)
{
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, 0, data_len);
    return 8 + h + data_len;
}

static sb_status parse(const char *header, size_t data_len)
{
    static uint8_t buf[4096];
    size_t n = image(buf, header, data_len);
    sb_safetensors *st = NULL;
    sb_status s = sb_safetensors_parse(buf, n, NULL, "test.safetensors", &st);
    sb_safetensors_free(st);
    return s;
}

static void test_safetensors_shape_and_offset_boundaries(void)
{
    /* a zero-element tensor whose other dims are huge: valid, no overflow */
    SB_CHECK(parse("{\"t\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776,1099511627776],"
                   "\"data_offsets\":[0,0]}}",
                   0) == SB_OK);
    SB_CHECK(parse("{\"t\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776,0],"
                   "\"data_offsets\":[0,0]}}",
                   0) == SB_OK);
    /* 0, 1 */
    SB_CHECK(parse("{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0) == SB_OK);
    SB_CHECK(parse("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4) == SB_OK);
    /* max (2^63 - 1) and max + 1 of a shape entry */
    SB_CHECK(parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807],"
                   "\"data_offsets\":[0,4]}}",
                   4) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "needs a different number of bytes");
    SB_CHECK(parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808],"
                   "\"data_offsets\":[0,4]}}",
                   4) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "below 2^63");
    /* sizes whose product overflows 2^64 */
    SB_CHECK(parse("{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
                   "\"data_offsets\":[0,4]}}",
                   4) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "more than 2^64");
    /* offsets: 2^64 - 1 and 2^64 */
    SB_CHECK(parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],"
                   "\"data_offsets\":[0,18446744073709551615]}}",
                   4) == SB_EFORMAT);
    SB_CHECK(parse("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],"
                   "\"data_offsets\":[0,18446744073709551616]}}",
                   4) == SB_EFORMAT);
    SB_CHECK_STR_CONTAINS(sb_error_message(), "below 2^64");
}

static void test_safetensors_header_length_boundaries(void)
{
    uint8_t buf[16] = {0};
    sb_safetensors *st = NULL;
    /* header length 0, and 2^64 - 1 (far beyond the file and the cap) */
    SB_CHECK(sb_safetensors_parse(buf, 8, NULL, "zero", &st) == SB_EFORMAT);
    memset(buf, 0xff, 8);
    SB_CHECK(sb_safetensors_parse(buf, 16, NULL, "max", &st) == SB_EFORMAT);
    /* the cap and the cap + 1 */
    uint64_t lens[2] = {SB_SAFETENSORS_MAX_HEADER, SB_SAFETENSORS_MAX_HEADER + 1};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 8; i++)
            buf[i] = (uint8_t)(lens[k] >> (8 * i));
        SB_CHECK(sb_safetensors_parse(buf, 16, NULL, "cap", &st) == SB_EFORMAT);
    }
    SB_CHECK(st == NULL);
}

static void test_retry_after_boundaries(void)
{
    struct {
        const char *line;
        bool parsed;
        long seconds;
    } cases[] = {
        {"Retry-After: 0\r\n", true, 0},
        {"Retry-After: 1\r\n", true, 1},
        {"retry-after: 86400\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"RETRY-AFTER: 86401\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"Retry-After: 9223372036854776\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"Retry-After: 9223372036854775807\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"Retry-After: 9223372036854775808\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"Retry-After: 99999999999999999999999999999999999999\r\n", true, SB_HTTP_RETRY_AFTER_CAP},
        {"Retry-After: -1\r\n", false, 0},
        {"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", false, 0},
        {"Retry-After:\r\n", false, 0},
        {"Retry-After", false, 0},
        {"Content-Type: 5\r\n", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long s = -7;
        bool got = sb_http_retry_after(cases[i].line, strlen(cases[i].line), &s);
        SB_CHECK(got == cases[i].parsed);
        if (got != cases[i].parsed) fprintf(stderr, "  case: %s\n", cases[i].line);
        if (got && cases[i].parsed) SB_CHECK(s == cases[i].seconds);
    }
}

int main(void)
{
    SB_RUN(test_zero_element_tensors_with_huge_sizes);
    SB_RUN(test_tensor_size_boundaries);
    SB_RUN(test_safetensors_shape_and_offset_boundaries);
    SB_RUN(test_safetensors_header_length_boundaries);
    SB_RUN(test_retry_after_boundaries);
    return sb_test_summary();
}
