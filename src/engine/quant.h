/* Block-quantized weights (ggml's types, from GGUF files) kept quantized in memory.
 *
 * Dequantization (model/dequant.h) follows ggml's reference C (ggml-quants.c dequantize_row_*)
 * operation by operation, so quant_dequant gives bit-identical floats (checked in the tests against F32
 * files written by llama.cpp's llama-quantize). Decode reads the quantized rows directly:
 * quant_matvec computes each row's dot product from the blocks (scale times the sum of
 * quant·x, minus min times the sum of x), so only the quantized bytes cross the memory bus;
 * prefill dequantizes rows by blocks into scratch and runs sgemm (engine/ops.c matmul).
 * Activations are never quantized: results equal the F32 twin's within float rounding. */
#ifndef LLMSCOPE_QUANT_H
#define LLMSCOPE_QUANT_H
#include <stddef.h>
#include "model/dequant.h"
#include "model/model.h"

/* quant_dequant and quant_row_f32 (dequantization) are in model/dequant.h, included here. */
/* Types quant_quantize can write: Q8_0, Q4_0, Q5_0, Q4_K, IQ4_NL and IQ4_XS. */
bool quant_can_quantize(DType t);
/* Quantizes x[0..n) (n a multiple of dtype_block(t)) into n/dtype_block(t) blocks at out, as
 * llama.cpp's reference quantizers without an importance matrix do (ggml-quants.c
 * quantize_row_q8_0_ref, quantize_row_q4_0_ref, quantize_row_q5_0_ref, quantize_row_q4_K_ref; llama-quantize calls these
 * when no imatrix is given; IQ4_NL and IQ4_XS as quantize_iq4_nl / quantize_iq4_xs without one): the same bytes, operation by operation in f32. False for another type. */
bool quant_quantize(DType t, const float *x, size_t n, void *out);
/* y[rows] = W x for a quantized W (rows split across the engine's pool like matvec). */
void quant_matvec(const Tensor *W, const float *x, float *y);
#endif
