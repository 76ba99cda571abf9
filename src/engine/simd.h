/* Small SIMD helpers shared by the engine's kernels (internal to engine/; inline, so each
 * kernel keeps the code it had when the helper was written out in it). */
#ifndef LLMSCOPE_SIMD_H
#define LLMSCOPE_SIMD_H
#ifdef __AVX2__
#include <immintrin.h>

/* Sum of the eight lanes of s: high half onto low, then pairs, then the last two. */
static inline float simd_hsum8(__m256 s) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
#endif
#endif
