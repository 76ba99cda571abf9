/* 16-bit float widening (see dtype.h). */
#include "core/dtype.h"
#ifdef __F16C__
#include <immintrin.h>
#endif

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            man &= 0x3ff;
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00);      /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);     /* >= 65520 rounds to infinity */
    if (a <= 0x33000000u) return sign;                          /* <= 2^-25: zero (the tie is even) */
    uint32_t h, rem, half;
    if (a < 0x38800000u) {                                      /* below 2^-14: a subnormal half */
        const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;   /* 14..23 */
        h = m >> shift;
        rem = m & ((1u << shift) - 1);
        half = 1u << (shift - 1);
    } else {
        h = ((a >> 23) - 112) << 10 | (a & 0x7fffffu) >> 13;
        rem = a & 0x1fffu;
        half = 0x1000u;
    }
    if (rem > half || (rem == half && (h & 1))) h++;           /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

void bf16_row_f32(const uint16_t *p, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = bf16_to_f32(p[i]);
}

void f16_row_f32(const uint16_t *p, int n, float *out) {
    int i = 0;
#ifdef __F16C__
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + i))));
#endif
    for (; i < n; i++) out[i] = f16_to_f32(p[i]);
}
