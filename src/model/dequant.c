/* Dequantization of ggml's block types (in model/ so that the loader can read quantized
 * tensors it has to rearrange; the engine's kernels use it too). Layouts (ggml-common.h;
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
 *   IQ4_NL 32 el, 18 B: f16 d, u8 qs[16]           x = d·kvalues_iq4nl[nibble] (nibbles as Q4_0)
 *   IQ4_XS 256 el,136 B: f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128]
 *                      per 32: x = (d·(ls − 32))·kvalues_iq4nl[nibble], ls 6 bits
 * The element order inside each block is spelled out in the functions below. */
#include "model/dequant.h"
#include <string.h>
#include "core/dtype.h"

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

/* The 16 levels of IQ4_NL and IQ4_XS: a format constant, ggml's kvalues_iq4nl
 * (ggml/src/ggml-common.h; the same values in gguf-py/gguf/quants.py, IQ4_NL.kvalues). */
const int8_t iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* IQ4_NL: Q4_0's nibble order, a non-uniform level instead of nibble - 8; one f32 product */
static void dq_iq4_nl(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)iq4nl_values[qs[j] & 0x0F];
        y[j + 16] = d * (float)iq4nl_values[qs[j] >> 4];
    }
}

/* IQ4_XS: 8 groups of 32, each with a 6-bit scale ls (low 4 bits: nibble g%2 of scales_l[g/2];
 * high 2 bits: bits 2g, 2g+1 of scales_h); dl = d·(ls − 32) rounded to f32 first, as ggml does,
 * then dl·level. Inside a group the 16 bytes of qs give elements l (low nibble) and l+16 (high). */
static void dq_iq4_xs(const uint8_t *b, float *y) {
    const float d = h2f(b);
    const unsigned sh = (unsigned)b[2] | (unsigned)b[3] << 8;
    const uint8_t *sl = b + 4, *qs = b + 8;
    for (int g = 0; g < 8; g++, y += 32, qs += 16) {
        const int ls = ((sl[g / 2] >> (4 * (g % 2))) & 0x0F) | (int)((sh >> (2 * g)) & 3) << 4;
        const float dl = d * (float)(ls - 32);
        for (int l = 0; l < 16; l++) {
            y[l] = dl * (float)iq4nl_values[qs[l] & 0x0F];
            y[l + 16] = dl * (float)iq4nl_values[qs[l] >> 4];
        }
    }
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
    case DT_IQ4_NL: return dq_iq4_nl;
    case DT_IQ4_XS: return dq_iq4_xs;
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
