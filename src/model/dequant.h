/* Dequantization of ggml's block types (GGUF files), following ggml's reference C
 * (ggml-quants.c dequantize_row_*) operation by operation, so the floats are bit-identical to
 * llama.cpp's (checked against F32 files written by llama-quantize). In model/ because the
 * loader reads quantized tensors it has to rearrange (a split attn_k_b/attn_v_b); the engine's
 * kernels (engine/quant.c) use the same functions. Layouts: model/dequant.c, docs/formats.md. */
#ifndef LLMSCOPE_MODEL_DEQUANT_H
#define LLMSCOPE_MODEL_DEQUANT_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "model/model.h"

/* Dequantizes nblocks whole blocks starting at blocks into out (nblocks*dtype_block(t) floats). */
void quant_dequant(DType t, const void *blocks, size_t nblocks, float *out);
/* Elements [off, off+n) of a quantized tensor whose data starts at base (any range: partial
 * blocks at either end are dequantized whole and cut). */
void quant_row_f32(DType t, const void *base, size_t off, int n, float *out);

/* ggml's kvalues_iq4nl: the 16 levels an IQ4_NL / IQ4_XS nibble indexes (model/dequant.c). */
extern const int8_t iq4nl_values[16];

/* An f16 stored little-endian at p. */
static inline float h2f(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }
/* ggml get_scale_min_k4: the j-th 6-bit scale and min of a Q4_K/Q5_K block. */
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else { *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)); *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4)); }
}
#endif
