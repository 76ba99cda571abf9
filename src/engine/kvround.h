/* KV-cache rounding: what a cache stored in a smaller type would hand back to attention.
 *
 * The engine's cache holds f32. With engine_set_kv_round(en, t) every key and value written to
 * it (after RoPE; MLA: the normalized latent c_kv and the rotated shared key k_pe) is first
 * rounded through type t and back, so attention reads exactly the values a cache of type t
 * would give, and `llmscope eval --kv-round t` measures what storing the cache in t costs in
 * quality. The memory is not reduced (the values stay in f32 slots); the KV panel's what-if
 * (p) gives the bytes each type would take.
 *   f16   IEEE half, round to nearest even (core/dtype.c f32_to_f16; subnormals kept)
 *   bf16  the top 16 bits of the f32, round to nearest even (NaN kept a NaN)
 *   q8_0, q4_0  llama.cpp's cache types (--cache-type-k/-v): blocks of 32 consecutive values of
 *         one head's vector, quantized with the reference quantizers (engine/quant.c, byte-exact
 *         with llama.cpp) and dequantized. A vector whose length is not a multiple of 32 (e.g.
 *         a 24-dim head) ends in a shorter block, quantized as a block of 32 padded with zeros
 *         (llama.cpp refuses such shapes; zeros change neither block's absmax scale). */
#ifndef LLMSCOPE_KVROUND_H
#define LLMSCOPE_KVROUND_H
#include <stdbool.h>
#include "model/model.h"

#define KV_ROUND_TYPES "f32, f16, bf16, q8_0 or q4_0"   /* for messages */
bool kv_round_supported(DType t);          /* F32 (no rounding), F16, BF16, Q8_0, Q4_0 */
/* "f32", "f16", "bf16", "q8_0", "q4_0" (case-insensitive) -> type; false if unknown. */
bool kv_round_parse(const char *name, DType *out);
const char *kv_round_name(DType t);        /* lower-case name as parsed */
/* Rounds x[0..n) in place through t (F32: nothing). */
void kv_round_vec(DType t, float *x, int n);
#endif
