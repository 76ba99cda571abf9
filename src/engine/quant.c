/* Dequantization and dot-product kernels for ggml's block types. Layouts (ggml-common.h;
 * all little-endian, "f16" an IEEE half):
 *   Q4_0  32 el, 18 B: f16 d, u8 qs[16]            x = (nibble - 8)·d   (low nibbles el 0..15)
 *   Q4_1  32 el, 20 B: f16 d, f16 m, u8 qs[16]     x = nibble·d + m
 *   Q5_0  32 el, 22 B: f16 d, u32 qh, u8 qs[16]    x = ((nibble | bit<<4) - 16)·d
 *   Q5_1  32 el, 24 B: f16 d, f16 m, u32 qh, qs[16] x = (nibble | bit<<4)·d + m
 *   Q8_0  32 el, 34 B: f16 d, i8 qs[32]            x = q·d
 *   Q2_K 256 el, 84 B: u8 scales[16], u8 qs[64], f16 d, f16 dmin
 *   Q3_K 256 el,110 B: u8 hmask[32], u8 qs[64], u8 scales[12], f16 d
 *   Q4_K 256 el,144 B: f16 d, f16 dmin, u8 scales[12] (8 6-bit scales + 8 6-bit mins), u8 qs[128]
 *   Q5_K 256 el,176 B: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 *   Q6_K 256 el,210 B: u8 ql[128], u8 qh[64], i8 scales[16], f16 d
 *   Q8_K 256 el,292 B: f32 d, i8 qs[256], i16 bsums[16]
 * The element order inside each block is spelled out in the functions below. */
#include "engine/quant.h"
#include <math.h>
#include <string.h>
#include "core/dtype.h"
#include "engine/ops.h"
#include "engine/pool.h"
#ifdef __AVX2__
#include <immintrin.h>
#endif

static inline float h2f(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

/* ggml get_scale_min_k4: the j-th 6-bit scale and min of a Q4_K/Q5_K block. */
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else { *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4)); *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4)); }
}

/* ---- one block -> floats (the reference order of operations) ----------------------- */

static void dq_q4_0(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y) {
    const float d = h2f(b), m = h2f(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        float p0 = (float)(qs[j] & 0x0F) * d, p1 = (float)(qs[j] >> 4) * d;
        y[j] = p0 + m;
        y[j + 16] = p1 + m;
    }
}

static void dq_q5_0(const uint8_t *b, float *y) {
    const float d = h2f(b);
    uint32_t qh = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        int h0 = (int)(((qh >> j) << 4) & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
        y[j] = (float)(((qs[j] & 0x0F) | h0) - 16) * d;
        y[j + 16] = (float)(((qs[j] >> 4) | h1) - 16) * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y) {
    const float d = h2f(b), m = h2f(b + 2);
    uint32_t qh = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        int h0 = (int)(((qh >> j) << 4) & 0x10), h1 = (int)((qh >> (j + 12)) & 0x10);
        float p0 = (float)((qs[j] & 0x0F) | h0) * d, p1 = (float)((qs[j] >> 4) | h1) * d;
        y[j] = p0 + m;
        y[j + 16] = p1 + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++) y[j] = (float)qs[j] * d;
}

static void dq_q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *q = b + 16;
    const float d = h2f(b + 80), mn = h2f(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                uint8_t s = sc[is++];
                float dl = d * (float)(s & 0xF), ml = mn * (float)(s >> 4);
                for (int l = 0; l < 16; l++) { float p = dl * (float)((q[l + 16 * half] >> shift) & 3); *y++ = p - ml; }
            }
        }
        q += 32;
    }
}

static void dq_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *q = b + 32, *s12 = b + 96;
    const float d = h2f(b + 108);
    /* 16 6-bit scales: low 4 bits from s12[0..7], high 2 bits from s12[8..11] */
    int8_t sc[16];
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (s12[i] & 0xF) : (s12[i - 8] >> 4);
        int hi = (s12[8 + (i % 4)] >> (2 * (i / 4))) & 3;
        sc[i] = (int8_t)((lo | hi << 4) - 32);
    }
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                float dl = d * (float)sc[is++];
                for (int l = 0; l < 16; l++) {
                    int qq = ((q[l + 16 * half] >> shift) & 3) - ((hm[l + 16 * half] & m) ? 0 : 4);
                    *y++ = dl * (float)qq;
                }
            }
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

static void dq_q4_k(const uint8_t *b, float *y) {
    const float d = h2f(b), mn = h2f(b + 2);
    const uint8_t *sc = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        uint8_t s, m;
        scale_min_k4(is, sc, &s, &m);
        const float d1 = d * (float)s, m1 = mn * (float)m;
        scale_min_k4(is + 1, sc, &s, &m);
        const float d2 = d * (float)s, m2 = mn * (float)m;
        for (int l = 0; l < 32; l++) { float p = d1 * (float)(q[l] & 0xF); *y++ = p - m1; }
        for (int l = 0; l < 32; l++) { float p = d2 * (float)(q[l] >> 4); *y++ = p - m2; }
    }
}

static void dq_q5_k(const uint8_t *b, float *y) {
    const float d = h2f(b), mn = h2f(b + 2);
    const uint8_t *sc = b + 4, *qh = b + 16, *ql = b + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32) {
        uint8_t s, m;
        scale_min_k4(is, sc, &s, &m);
        const float d1 = d * (float)s, m1 = mn * (float)m;
        scale_min_k4(is + 1, sc, &s, &m);
        const float d2 = d * (float)s, m2 = mn * (float)m;
        for (int l = 0; l < 32; l++) { float p = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)); *y++ = p - m1; }
        for (int l = 0; l < 32; l++) { float p = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)); *y++ = p - m2; }
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
    }
}

static void dq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = h2f(b + 208);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = (int)((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
            int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

static void dq_q8_k(const uint8_t *b, float *y) {
    float d;
    memcpy(&d, b, 4);
    const int8_t *qs = (const int8_t *)(b + 4);
    for (int j = 0; j < 256; j++) y[j] = d * (float)qs[j];
}

typedef void (*DqFn)(const uint8_t *, float *);
static DqFn dq_fn(DType t) {
    switch (t) {
    case DT_Q4_0: return dq_q4_0;
    case DT_Q4_1: return dq_q4_1;
    case DT_Q5_0: return dq_q5_0;
    case DT_Q5_1: return dq_q5_1;
    case DT_Q8_0: return dq_q8_0;
    case DT_Q2_K: return dq_q2_k;
    case DT_Q3_K: return dq_q3_k;
    case DT_Q4_K: return dq_q4_k;
    case DT_Q5_K: return dq_q5_k;
    case DT_Q6_K: return dq_q6_k;
    case DT_Q8_K: return dq_q8_k;
    default: return NULL;
    }
}

void quant_dequant(DType t, const void *blocks, size_t nblocks, float *out) {
    DqFn f = dq_fn(t);
    const int qk = dtype_block(t), bb = dtype_block_bytes(t);
    const uint8_t *p = blocks;
    for (size_t i = 0; i < nblocks; i++) f(p + i * (size_t)bb, out + i * (size_t)qk);
}

void quant_row_f32(DType t, const void *base, size_t off, int n, float *out) {
    const size_t qk = (size_t)dtype_block(t), bb = (size_t)dtype_block_bytes(t);
    const uint8_t *p = base;
    DqFn f = dq_fn(t);
    float tmp[256];
    size_t i = off, end = off + (size_t)n;
    while (i < end) {
        size_t blk = i / qk, in = i % qk;
        size_t take = qk - in < end - i ? qk - in : end - i;
        if (in == 0 && take == qk) f(p + blk * bb, out + (i - off));
        else { f(p + blk * bb, tmp); memcpy(out + (i - off), tmp + in, take * sizeof(float)); }
        i += take;
    }
}

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

static void q_q8_0(const float *x, uint8_t *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) { float a = fabsf(x[j]); amax = amax > a ? amax : a; }
    const float d = amax / 127.f, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

static void q_q4_0(const float *x, uint8_t *b) {
    float amax = 0, max = 0;   /* the element of largest magnitude, the first one on ties */
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
    put_f16(b, d);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
        q0 = q0 < 15 ? q0 : 15;
        q1 = q1 < 15 ? q1 : 15;
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
        int q0 = (int)(x[j] * id + 16.5f), q1 = (int)(x[j + 16] * id + 16.5f);
        q0 = q0 < 31 ? q0 : 31;
        q1 = q1 < 31 ? q1 : 31;
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

bool quant_can_quantize(DType t) { return t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_Q4_K; }

bool quant_quantize(DType t, const float *x, size_t n, void *out) {
    void (*f)(const float *, uint8_t *) = t == DT_Q8_0 ? q_q8_0 : t == DT_Q4_0 ? q_q4_0 : t == DT_Q5_0 ? q_q5_0 : t == DT_Q4_K ? q_q4_k : NULL;
    if (!f) return false;
    const size_t qk = (size_t)dtype_block(t), bb = (size_t)dtype_block_bytes(t);
    uint8_t *p = out;
    for (size_t i = 0; i < n / qk; i++) f(x + i * qk, p + i * bb);
    return true;
}

/* ---- dot products: row (quantized) · x (f32) ------------------------------------------ */

#ifdef __AVX2__
static inline float hsum8(__m256 s) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
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
    return hsum8(acc);
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
    return hsum8(acc);
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
    return hsum8(acc) - accm;
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
    return hsum8(acc);
}
#endif

/* Any type: dequantize one block at a time onto the stack and dot it with x. */
static float dot_generic(DType t, const uint8_t *b, const float *x, int nb) {
    DqFn f = dq_fn(t);
    const int qk = dtype_block(t), bb = dtype_block_bytes(t);
    float tmp[256], r = 0;
    for (int i = 0; i < nb; i++) {
        f(b + (size_t)i * (size_t)bb, tmp);
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
