/* JPEG and PNG decoding (engine/image/), in each mode (RGB, L, a palette PNG's indices): any
 * bytes must give an image or a clean error. The pixel limit is lowered so that a declared size
 * cannot ask for more memory than the fuzzer allows. */
#include "fuzz_common.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sb_image_set_max_pixels(1 << 22);
    sb_image img = {0};
    sb_image_decode("fuzz input", data, size, &img);
    sb_image_free(&img);
    sb_image_decode_mode("fuzz input", data, size, SB_IMAGE_L, &img);
    sb_image_free(&img);
    sb_image_decode_mode("fuzz input", data, size, SB_IMAGE_P, &img);
    sb_image_free(&img);
    return 0;
}
