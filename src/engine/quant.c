/* Dot-product kernels for ggml's block types (layouts: model/dequant.c), and quantizers. */
#include "engine/quant.h"
#include <math.h>
#include <string.h>
#include "core/dtype.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "engine/simd.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* ---- quantization (llama.cpp's reference quantizers, no importance matrix) ---------------
 * Every step is the reference's f32 arithmetic in the reference's order, so the bytes are the
 * same; a fused multiply-add would change roundings, hence no contraction here (GCC contracts
 * nothing in ISO C mode; clang is told below). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static inline void put_f16(uint8_t *p, float f) {
    uint16_t h = f32_to_f16(f);
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}

/* Round to nearest (ties to even) through the mantissa of 1.5·2^23, as ggml's nearest_int;
 * valid for |v| <= 4194303. */
static inline int nearest_int(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* (int)v for lo < v < hi; lo or hi outside, NaN -> lo. For finite weights the reference's values
 * never leave the range (so the bytes are the reference's); NaN or infinite ones would make the
 * plain cast undefined. */
static inline int trunc_clamp(float v, int lo, int hi) { return v > (float)lo ? (v < (float)hi ? (int)v : hi) : lo; }

static void q_q8_0(const float *x, uint8_t *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) { float a = fabsf(x[j]); amax = amax > a ? amax : a; }
    const float d = amax / 127.f, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)trunc_clamp(roundf(x[j] * id), -128, 127);
}

static void q_q4_0(const float *x, uint8_t *b) {
    float amax = 0, max = 0;   /* the element of largest magnitude, the first one on ties */
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 8.5f, 0, 15), q1 = trunc_clamp(x[j + 16] * id + 8.5f, 0, 15);
        b[2 + j] = (uint8_t)(q0 | q1 << 4);
    }
}

static void q_q5_0(const float *x, uint8_t *b) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    const float d = max / -16, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 16.5f, 0, 31), q1 = trunc_clamp(x[j + 16] * id + 16.5f, 0, 31);
        b[6 + j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        qh |= (uint32_t)(q0 >> 4 & 1) << j | (uint32_t)(q1 >> 4 & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++) b[2 + k] = (uint8_t)(qh >> (8 * k));
}

/* ggml make_qkx2_quants: scale and min of n values on levels 0..nmax, minimising the weighted
 * squared error over nstep+1 trial scales around nmax/(max - min). Returns the scale; *neg_min
 * receives -min (>= 0). */
static float qkx2_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                            uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -min;
        return 0.f;
    }
    float iscale = (float)nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        l = l < 0 ? 0 : l > nmax ? nmax : l;
        L[i] = (uint8_t)l;
        float diff = scale * (float)L[i] + min - x[i];
        best += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) { this_min = 0; this_scale = sum_xl / sum_l2; }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                err += w[i] * (diff * diff);
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

static void q_q4_k(const float *x, uint8_t *b) {
    uint8_t L[256], Laux[32], *sc = b + 4, *q = b + 16;
    float w[32], mins[8], scales[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xj[l] * xj[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xj[l]);
        scales[j] = qkx2_scale_min(32, 15, xj, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(sc, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) { sc[j] = ls; sc[j + 4] = lm; }
        else {
            sc[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
            sc[j - 4] = (uint8_t)(sc[j - 4] | (ls >> 4) << 6);
            sc[j] = (uint8_t)(sc[j] | (lm >> 4) << 6);
        }
    }
    put_f16(b, max_scale / 63.f);
    put_f16(b + 2, max_min / 63.f);
    const float D = h2f(b), M = h2f(b + 2);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        scale_min_k4(j, sc, &s, &m);
        const float d = D * (float)s;
        if (d == 0) continue;   /* the levels of the first pass stay */
        const float dm = M * (float)m;
        for (int i = 0; i < 32; i++) {
            int l = nearest_int((x[32 * j + i] + dm) / d);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
        }
    }
    for (int j = 0; j < 256; j += 64, q += 32)
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
}

/* ggml best_index_int8 over the IQ4 levels: the level nearest v (the upper one on a tie), by
 * bisection; v beyond either end takes that end. */
static inline int iq4_nearest(float v) {
    const int8_t *K = iq4nl_values;
    if (v <= (float)K[0]) return 0;
    if (v >= (float)K[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < (float)K[mid]) hi = mid;
        else lo = mid;
    }
    return v - (float)K[hi - 1] < (float)K[hi] - v ? hi - 1 : hi;
}

/* ggml quantize_row_iq4_nl_impl for one group of 32 without an importance matrix (weights x²,
 * 7 trials either side): the f32 scale that maximises (Σ w·q·x)² / Σ w·q² over the levels chosen
 * for the start scale max/127 and for 15 scales (t − 127)/max, t = −7..7. 0 for a group whose
 * largest magnitude is below 1e-15. */
static float iq4_group_scale(const float *x) {
    const int8_t *K = iq4nl_values;
    float w[32], amax = 0, max = 0;
    for (int j = 0; j < 32; j++) w[j] = x[j] * x[j];
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    if (amax < 1e-15f) return 0;
    float id = 1 / (-max / (float)K[0]), sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        const float q = (float)K[iq4_nearest(id * x[j])], wq = w[j] * q;
        sumqx += wq * x[j];
        sumq2 += wq * q;
    }
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f, best = d * sumqx;
    for (int t = -7; t <= 7; t++) {
        id = (float)(t + K[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = (float)K[iq4_nearest(id * x[j])], wq = w[j] * q;
            sumqx += wq * x[j];
            sumq2 += wq * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) { d = sumqx / sumq2; best = d * sumqx; }
    }
    return d;
}

/* IQ4_NL: the group's scale as f16, every element re-indexed with the f32 scale */
static void q_iq4_nl(const float *x, uint8_t *b) {
    const float d = iq4_group_scale(x), id = d != 0 ? 1 / d : 0.f;
    put_f16(b, d);
    for (int j = 0; j < 16; j++)
        b[2 + j] = (uint8_t)(iq4_nearest(id * x[j]) | iq4_nearest(id * x[j + 16]) << 4);
}

/* IQ4_XS: the 8 group scales against the one of largest magnitude m: d = −m/32 (f16), each group
 * l = round(scale/d) clamped to −32..31 (stored + 32 in 6 bits), elements re-indexed with d·l */
static void q_iq4_xs(const float *x, uint8_t *b) {
    float sc[8], max_scale = 0, amax_scale = 0;
    for (int g = 0; g < 8; g++) {
        sc[g] = iq4_group_scale(x + 32 * g);
        if (fabsf(sc[g]) > amax_scale) { amax_scale = fabsf(sc[g]); max_scale = sc[g]; }
    }
    const float d = -max_scale / 32, id = d != 0 ? 1 / d : 0.f;
    put_f16(b, d);
    unsigned sh = 0;
    uint8_t *sl = b + 4, *qs = b + 8;
    memset(sl, 0, 4);
    for (int g = 0; g < 8; g++, qs += 16) {
        int l = nearest_int(id * sc[g]);
        l = l < -32 ? -32 : l > 31 ? 31 : l;
        const float dl = d * (float)l, idl = dl != 0 ? 1 / dl : 0.f;
        const float *xg = x + 32 * g;
        for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(iq4_nearest(idl * xg[j]) | iq4_nearest(idl * xg[j + 16]) << 4);
        l += 32;
        sl[g / 2] = (uint8_t)(sl[g / 2] | (l & 0xF) << (4 * (g % 2)));
        sh |= (unsigned)(l >> 4) << (2 * g);
    }
    b[2] = (uint8_t)(sh & 0xFF);
    b[3] = (uint8_t)(sh >> 8);
}

bool quant_can_quantize(DType t) {
    return t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_Q4_K || t == DT_IQ4_NL || t == DT_IQ4_XS;
}

bool quant_quantize(DType t, const float *x, size_t n, void *out) {
    void (*f)(const float *, uint8_t *) = t == DT_Q8_0 ? q_q8_0 : t == DT_Q4_0 ? q_q4_0 : t == DT_Q5_0 ? q_q5_0 : t == DT_Q4_K ? q_q4_k
                                        : t == DT_IQ4_NL ? q_iq4_nl : t == DT_IQ4_XS ? q_iq4_xs : NULL;
    if (!f) return false;
    const size_t qk = (size_t)dtype_block(t), bb = (size_t)dtype_block_bytes(t);
    uint8_t *p = out;
    for (size_t i = 0; i < n / qk; i++) f(x + i * qk, p + i * bb);
    return true;
}

/* ---- dot products: row (quantized) · x (f32) ------------------------------------------ */

#ifdef __AVX2__
/* 8 signed bytes (low 64 bits of v) -> 8 floats */
static inline __m256 i8x8_ps(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }
/* sum over 32 elements of q[i]·x[i], q 32 signed bytes */
static inline __m256 dot32_i8(__m256i q, const float *x) {
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m256 a = _mm256_mul_ps(i8x8_ps(lo), _mm256_loadu_ps(x));
    a = _mm256_fmadd_ps(i8x8_ps(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8), a);
    a = _mm256_fmadd_ps(i8x8_ps(hi), _mm256_loadu_ps(x + 16), a);
    a = _mm256_fmadd_ps(i8x8_ps(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), a);
    return a;
}
/* the same over 16 elements (q in the low 128 bits) */
static inline __m256 dot16_i8(__m128i q, const float *x) {
    __m256 a = _mm256_mul_ps(i8x8_ps(q), _mm256_loadu_ps(x));
    return _mm256_fmadd_ps(i8x8_ps(_mm_srli_si128(q, 8)), _mm256_loadu_ps(x + 8), a);
}

/* Q8_0: sum_b d_b · sum_i q_i x_i */
static float dot_q8_0(const uint8_t *b, const float *x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i++, b += 34, x += 32) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(b + 2));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(b)), dot32_i8(q, x), acc);
    }
    return simd_hsum8(acc);
}

/* Q4_0: low nibbles are elements 0..15, high nibbles 16..31; q - 8 fits a signed byte */
static float dot_q4_0(const uint8_t *b, const float *x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    const __m128i m4 = _mm_set1_epi8(0x0F), e8 = _mm_set1_epi8(8);
    for (int i = 0; i < nb; i++, b += 18, x += 32) {
        __m128i v = _mm_loadu_si128((const __m128i *)(b + 2));
        __m128i lo = _mm_sub_epi8(_mm_and_si128(v, m4), e8);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), m4), e8);
        __m256 s = _mm256_add_ps(dot16_i8(lo, x), dot16_i8(hi, x + 16));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(b)), s, acc);
    }
    return simd_hsum8(acc);
}

/* IQ4_NL / IQ4_XS: a nibble indexes the 16 signed levels of kvalues_iq4nl; one byte shuffle
 * maps 16 nibbles to their levels, then the sum of level·x as for Q4_0. */
static inline __m128i iq4_levels(void) { return _mm_loadu_si128((const __m128i *)iq4nl_values); }

/* the 32 elements of one IQ4 group (16 bytes at q): sum of level·x, 8 partial sums */
static inline __m256 dot_iq4_group(const uint8_t *q, __m128i lv, const float *x) {
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i v = _mm_loadu_si128((const __m128i *)q);
    __m128i lo = _mm_shuffle_epi8(lv, _mm_and_si128(v, m4));
    __m128i hi = _mm_shuffle_epi8(lv, _mm_and_si128(_mm_srli_epi16(v, 4), m4));
    return _mm256_add_ps(dot16_i8(lo, x), dot16_i8(hi, x + 16));
}

/* IQ4_NL: sum_b d_b · sum_i level_i x_i */
static float dot_iq4_nl(const uint8_t *b, const float *x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    const __m128i lv = iq4_levels();
    for (int i = 0; i < nb; i++, b += 18, x += 32)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(b)), dot_iq4_group(b + 2, lv, x), acc);
    return simd_hsum8(acc);
}

/* IQ4_XS: per group g of 32, d·(ls_g − 32) · sum level·x */
static float dot_iq4_xs(const uint8_t *b, const float *x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    const __m128i lv = iq4_levels();
    for (int i = 0; i < nb; i++, b += 136) {
        const float d = h2f(b);
        const unsigned sh = (unsigned)b[2] | (unsigned)b[3] << 8;
        const uint8_t *sl = b + 4, *qs = b + 8;
        for (int g = 0; g < 8; g++, qs += 16, x += 32) {
            const int ls = ((sl[g / 2] >> (4 * (g % 2))) & 0x0F) | (int)((sh >> (2 * g)) & 3) << 4;
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)(ls - 32)), dot_iq4_group(qs, lv, x), acc);
        }
    }
    return simd_hsum8(acc);
}

/* Q4_K: per 32-element group g, x = d·sc_g·q - dmin·m_g, so the group contributes
 * d·sc_g·sum(q·x) - dmin·m_g·sum(x); xs holds sum(x) per 32 elements. */
static float dot_q4_k(const uint8_t *b, const float *x, const float *xs, int nb) {
    __m256 acc = _mm256_setzero_ps();
    float accm = 0;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int i = 0; i < nb; i++, b += 144, x += 256, xs += 8) {
        const float d = h2f(b), mn = h2f(b + 2);
        const uint8_t *sc = b + 4, *q = b + 16;
        for (int j = 0; j < 4; j++) {
            uint8_t s0, m0, s1, m1;
            scale_min_k4(2 * j, sc, &s0, &m0);
            scale_min_k4(2 * j + 1, sc, &s1, &m1);
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * j));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)s0), dot32_i8(lo, x + 64 * j), acc);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)s1), dot32_i8(hi, x + 64 * j + 32), acc);
            accm += mn * (float)m0 * xs[2 * j] + mn * (float)m1 * xs[2 * j + 1];
        }
    }
    return simd_hsum8(acc) - accm;
}

/* Q6_K: 4 interleaved 32-element groups per 128; scale per 16 elements */
static float dot_q6_k(const uint8_t *b, const float *x, int nb) {
    __m256 acc = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), e32 = _mm256_set1_epi8(32);
    for (int i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = h2f(b + 208);
        for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8, x += 128) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
            for (int k = 0; k < 4; k++) {
                __m256i qq = _mm256_sub_epi8(q[k], e32);
                __m128i lo = _mm256_castsi256_si128(qq), hi = _mm256_extracti128_si256(qq, 1);
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)sc[2 * k]), dot16_i8(lo, x + 32 * k), acc);
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d * (float)sc[2 * k + 1]), dot16_i8(hi, x + 32 * k + 16), acc);
            }
        }
    }
    return simd_hsum8(acc);
}
#endif

/* Any type: dequantize one block at a time onto the stack and dot it with x. */
static float dot_generic(DType t, const uint8_t *b, const float *x, int nb) {
    const int qk = dtype_block(t), bb = dtype_block_bytes(t);
    float tmp[256], r = 0;
    for (int i = 0; i < nb; i++) {
        quant_dequant(t, b + (size_t)i * (size_t)bb, 1, tmp);
        r += ops_dot(tmp, x + (size_t)i * (size_t)qk, qk);
    }
    return r;
}

typedef struct {
    const Tensor *W;
    const float *x, *xs;   /* xs: sum of x per 32 elements (Q4_K's min terms), or NULL */
    float *y;
    int per;
} QTask;

static void quant_task(void *ctx, int task, int thread) {
    (void)thread;
    const QTask *q = ctx;
    const DType t = q->W->dtype;
    const int cols = q->W->cols, nb = cols / dtype_block(t);
    const size_t rb = dtype_row_bytes(t, (size_t)cols);
    const uint8_t *base = q->W->data;
    int lo = task * q->per, hi = lo + q->per < q->W->rows ? lo + q->per : q->W->rows;
    for (int r = lo; r < hi; r++) {
        const uint8_t *row = base + (size_t)r * rb;
#ifdef __AVX2__
        if (t == DT_Q8_0) { q->y[r] = dot_q8_0(row, q->x, nb); continue; }
        if (t == DT_Q4_0) { q->y[r] = dot_q4_0(row, q->x, nb); continue; }
        if (t == DT_Q6_K) { q->y[r] = dot_q6_k(row, q->x, nb); continue; }
        if (t == DT_IQ4_NL) { q->y[r] = dot_iq4_nl(row, q->x, nb); continue; }
        if (t == DT_IQ4_XS) { q->y[r] = dot_iq4_xs(row, q->x, nb); continue; }
        if (t == DT_Q4_K && q->xs) { q->y[r] = dot_q4_k(row, q->x, q->xs, nb); continue; }
#endif
        q->y[r] = dot_generic(t, row, q->x, nb);
    }
}

void quant_matvec(const Tensor *W, const float *x, float *y) {
    const int rows = W->rows, cols = W->cols;
    float xs_stack[2048];   /* up to 65,536 columns; wider rows take the generic kernel */
    const float *xs = NULL;
    if (W->dtype == DT_Q4_K && cols / 32 <= 2048) {
        for (int g = 0; g < cols / 32; g++) {
            float s = 0;
            for (int k = 0; k < 32; k++) s += x[g * 32 + k];
            xs_stack[g] = s;
        }
        xs = xs_stack;
    }
    /* about eight tasks per thread; small matrices are not worth waking threads for */
    const int nt = pool_threads();
    int per = rows;
    if ((size_t)rows * (size_t)cols >= 32768 && nt > 1) {
        per = (rows + 8 * nt - 1) / (8 * nt);
        if (per < 16) per = 16;
    }
    QTask q = {W, x, xs, y, per};
    pool_run(quant_task, &q, (rows + per - 1) / per);
}
