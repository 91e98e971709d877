#include "core/buildinfo.h"
#include "core/error.h"
#include "sbtest.h"

static sb_status fails_inner(void)
{
    return sb_fail(SB_EINVAL, "dim %d out of range", 5);
}

static sb_status fails_outer(void)
{
    sb_status s = fails_inner();
    if (s != SB_OK) return sb_fail_context(s, "narrow");
    return SB_OK;
}

static void test_message_and_context(void)
{
    sb_error_clear();
    SB_CHECK(sb_error_message()[0] == '\0');
    SB_CHECK(fails_outer() == SB_EINVAL);
    SB_CHECK(strcmp(sb_error_message(), "narrow: dim 5 out of range") == 0);
    SB_CHECK(strcmp(sb_status_name(SB_ENOMEM), "out of memory") == 0);
}

static void test_long_message_is_truncated_not_overflowed(void)
{
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sb_fail(SB_EINVAL, "%s", big);
    SB_CHECK(strlen(sb_error_message()) < sizeof big);
    sb_fail_context(SB_EINVAL, "%s", big);
    SB_CHECK(strlen(sb_error_message()) < sizeof big);
}

static void test_buildinfo(void)
{
    SB_CHECK(strlen(sb_engine_version()) > 0);
    SB_CHECK_STR_CONTAINS(sb_blas_info(), "OpenBLAS");
}

int main(void)
{
    SB_RUN(test_message_and_context);
    SB_RUN(test_long_message_is_truncated_not_overflowed);
    SB_RUN(test_buildinfo);
    return sb_test_summary();
}
