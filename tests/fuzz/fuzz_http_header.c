/* Response header lines as libcurl hands them over (Retry-After parsing, engine/net/http.c):
 * any line is either not a Retry-After or gives 0..SB_HTTP_RETRY_AFTER_CAP seconds. */
#include "fuzz_common.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long seconds = -1;
    if (sb_http_retry_after((const char *)data, size, &seconds) &&
        (seconds < 0 || seconds > SB_HTTP_RETRY_AFTER_CAP))
        abort();
    return 0;
}
