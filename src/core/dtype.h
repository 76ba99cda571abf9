/* 16-bit float formats widened to f32. The loader (model/) checks weights with these and the
 * kernels (engine/ops.c) widen rows with them; they live in core/ so both floors can use them
 * without the model knowing the engine.
 *   bf16: the top 16 bits of an f32 (1 sign, 8 exponent, 7 mantissa bits)
 *   f16:  IEEE 754 half (1 sign, 5 exponent with bias 15, 10 mantissa bits; subnormals) */
#ifndef LLMSCOPE_CORE_DTYPE_H
#define LLMSCOPE_CORE_DTYPE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
float f16_to_f32(uint16_t h);
/* f32 -> IEEE half, rounded to nearest even (as F16C's vcvtps2ph and ggml's GGML_FP32_TO_FP16):
 * subnormal halves kept, overflow to infinity, NaN -> sign | 0x7E00. */
uint16_t f32_to_f16(float f);
/* out[i] = widen(p[i]) for i < n (F16C when the compiler targets it). */
void bf16_row_f32(const uint16_t *p, int n, float *out);
void f16_row_f32(const uint16_t *p, int n, float *out);
#endif
