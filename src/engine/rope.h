/* Rotary position embedding (Su et al. 2021, RoFormer) and its context-extension variants,
 * following the formulas of HF transformers' rope utilities:
 *   default  inv_freq_i = theta^(-2i/dim)
 *   linear   inv_freq_i / factor                        (position interpolation)
 *   dynamic  theta' = theta * (factor*L/L0 - (factor-1))^(dim/(dim-2)) when L > L0 (NTK)
 *   llama3   per-wavelength blend of inv_freq and inv_freq/factor (Llama 3.1)
 *   yarn     ramp between interpolation and extrapolation + attention factor (Peng et al. 2023)
 *   factors  inv_freq_i / factor_i from a GGUF file's rope_freqs.weight (llama.cpp's converter
 *            writes Llama 3.1's llama3 scaling this way: factor_i = 1 / ((1-s)/f + s) in the
 *            band, f below it, 1 above it, so inv_freq_i / factor_i is the llama3 blend)
 * The rotated vector is multiplied by the attention factor (1 except YaRN), as HF scales
 * cos and sin. Two layouts: ROPE_HALF rotates (x_i, x_{i+dim/2}) (HF rotate_half),
 * ROPE_INTERLEAVED rotates (x_{2i}, x_{2i+1}) (llama2.c, DeepSeek). */
#ifndef LLMSCOPE_ROPE_H
#define LLMSCOPE_ROPE_H
#include "model/model.h"

/* Fills inv_freq[rotary_dim/2] for a forward whose largest position+1 is seq_len; returns the
 * attention factor. */
float rope_inv_freq(const ModelSpec *s, int seq_len, float *inv_freq);
/* Gemma 3's layers with a sliding window: inv_freq[rotary_dim/2] of base rope_local_theta, no
 * scaling (attention factor 1). */
void rope_inv_freq_local(const ModelSpec *s, float *inv_freq);
/* Does layer l rotate with rope_inv_freq_local? */
static inline bool rope_layer_local(const ModelSpec *s, int l) {
    return s->rope_local_theta > 0 && s->swa_per_layer && l >= 0 && l < 1024 && s->layer_swa[l];
}
/* Rotates x[0..rotary_dim) of one head vector in place at position pos. */
void rope_apply(float *x, int rotary_dim, RopeStyle style, const float *inv_freq, float attn_factor, int pos);
/* The same on n_heads head vectors stride floats apart, all at position pos (cos and sin
 * computed once; results equal to rope_apply on each). */
void rope_apply_heads(float *x, int n_heads, int stride, int rotary_dim, RopeStyle style, const float *inv_freq,
                      float attn_factor, int pos);
#endif
