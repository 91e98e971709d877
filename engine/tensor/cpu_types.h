/* Element access helpers shared by the CPU kernels (internal to engine/tensor/). */
#ifndef SB_TENSOR_CPU_TYPES_H
#define SB_TENSOR_CPU_TYPES_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tensor/int_convert.h"
#include "tensor/tensor.h"

/* A float's bits and back (memcpy: no aliasing questions). */
static inline float sb_float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t sb_float_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

/* IEEE binary16 <-> float, round to nearest even (storage format of float16 weights). */
static inline float sb_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return sb_float_from_bits(bits);
}

static inline uint16_t sb_float_to_half(float f)
{
    uint32_t x = sb_float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00);  /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (absx < 0x38800000u) {                                  /* subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;
        /* value = significand * 2^(e-150) in units of 2^-24 = significand >> (126 - e) */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;
        uint32_t value = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (value & 1))) value++;
        return (uint16_t)(sign | value);
    }
    uint32_t e = (absx >> 23) - 127 + 15;
    uint32_t m = absx & 0x7fffff;
    uint32_t value = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (value & 1))) value++;
    return (uint16_t)(sign | value);
}

static inline float sb_bfloat16_to_float(uint16_t h)
{
    return sb_float_from_bits((uint32_t)h << 16);
}

static inline uint16_t sb_float_to_bfloat16(float f)
{
    uint32_t x = sb_float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    uint32_t rounding = 0x7fff + ((x >> 16) & 1);
    return (uint16_t)((x + rounding) >> 16);
}

static inline double sb_load_double(const void *p, sb_dtype dtype)
{
    switch (dtype) {
    case SB_FLOAT32:
        return *(const float *)p;
    case SB_FLOAT64:
        return *(const double *)p;
    case SB_INT64:
        return (double)*(const int64_t *)p;
    case SB_INT32:
        return *(const int32_t *)p;
    case SB_UINT8:
        return *(const uint8_t *)p;
    case SB_FLOAT16:
        return sb_half_to_float(*(const uint16_t *)p);
    case SB_BFLOAT16:
        return sb_bfloat16_to_float(*(const uint16_t *)p);
    default:
        return 0;
    }
}

static inline void sb_store_double(void *p, sb_dtype dtype, double v)
{
    switch (dtype) {
    case SB_FLOAT32:
        *(float *)p = (float)v;
        break;
    case SB_FLOAT64:
        *(double *)p = v;
        break;
    case SB_INT64:
        *(int64_t *)p = sb_double_to_int64(v);
        break;
    case SB_INT32:
        *(int32_t *)p = sb_double_to_int32(v);
        break;
    case SB_UINT8:
        *(uint8_t *)p = sb_double_to_uint8(v);
        break;
    case SB_FLOAT16:
        *(uint16_t *)p = sb_float_to_half((float)v);
        break;
    case SB_BFLOAT16:
        *(uint16_t *)p = sb_float_to_bfloat16((float)v);
        break;
    default:
        break;
    }
}

#endif
