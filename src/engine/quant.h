/* Block-quantized weights (ggml's types, from GGUF files) kept quantized in memory.
 *
 * Dequantization follows ggml's reference C (ggml-quants.c dequantize_row_*) operation by
 * operation, so quant_dequant gives bit-identical floats (checked in the tests against F32
 * files written by llama.cpp's llama-quantize). Decode reads the quantized rows directly:
 * quant_matvec computes each row's dot product from the blocks (scale times the sum of
 * quant·x, minus min times the sum of x), so only the quantized bytes cross the memory bus;
 * prefill dequantizes rows by blocks into scratch and runs sgemm (engine/ops.c matmul).
 * Activations are never quantized: results equal the F32 twin's within float rounding. */
#ifndef LLMSCOPE_QUANT_H
#define LLMSCOPE_QUANT_H
#include <stddef.h>
#include "model/model.h"

/* Dequantizes nblocks whole blocks starting at blocks into out (nblocks*dtype_block(t) floats). */
void quant_dequant(DType t, const void *blocks, size_t nblocks, float *out);
/* Elements [off, off+n) of a quantized tensor whose data starts at base (any range: partial
 * blocks at either end are dequantized whole and cut). */
void quant_row_f32(DType t, const void *base, size_t off, int n, float *out);
/* y[rows] = W x for a quantized W (rows split across the engine's pool like matvec). */
void quant_matvec(const Tensor *W, const float *x, float *y);
#endif
