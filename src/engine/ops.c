#include "engine/ops.h"
#include "engine/gemm.h"
#include "engine/pool.h"
#include "engine/simd.h"
#include "engine/quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

void tensor_row_f32(const Tensor *t, size_t off, int n, float *out) {
    if (dtype_is_quant(t->dtype)) { quant_row_f32(t->dtype, t->data, off, n, out); return; }
    if (t->dtype == DT_F32) { memcpy(out, (const float *)t->data + off, sizeof(float) * (size_t)n); return; }
    const uint16_t *p = (const uint16_t *)t->data + off;
    if (t->dtype == DT_BF16) bf16_row_f32(p, n, out);
    else f16_row_f32(p, n, out);
}

float tensor_get(const Tensor *t, size_t i) {
    if (dtype_is_quant(t->dtype)) { float v; quant_row_f32(t->dtype, t->data, i, 1, &v); return v; }
    if (t->dtype == DT_F32) return ((const float *)t->data)[i];
    uint16_t h = ((const uint16_t *)t->data)[i];
    return t->dtype == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

/* ---- dot products of one weight row with x ---------------------------------------- */

static inline float dot_f32(const float *w, const float *x, int n) {
#ifdef __AVX2__
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float r = simd_hsum8(s);
    for (; i < n; i++) r += w[i] * x[i];
    return r;
#else
    float r = 0;
    #pragma omp simd reduction(+:r)
    for (int i = 0; i < n; i++) r += w[i] * x[i];
    return r;
#endif
}

float ops_dot(const float *a, const float *b, int n) { return dot_f32(a, b, n); }

void ops_axpy(float *restrict y, float a, const float *restrict x, int n) {
    int i = 0;
#ifdef __AVX2__
    const __m256 av = _mm256_set1_ps(a);
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
    for (; i < n; i++) y[i] += a * x[i];
}

#ifdef __AVX2__
static inline __m256 load_bf16x8(const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#endif

/* bf16 row · x. With AVX2, x is first split per block of 16 into its even and odd elements
 * (xp, see matvec): a 32-bit lane holding two bf16 values gives the odd one as an f32 by
 * masking the low half and the even one by shifting left 16, so no widening shuffle is
 * needed. Without xp (or AVX2) the plain loop. */
static inline float dot_bf16(const uint16_t *w, const float *x, const float *xp, int n) {
    int i = 0;
    float r = 0;
#ifdef __AVX2__
    if (xp) {
        const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (; i + 32 <= n; i += 32) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(w + i));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(w + i + 16));
            a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), _mm256_loadu_ps(xp + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v0, hi)), _mm256_loadu_ps(xp + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v1, 16)), _mm256_loadu_ps(xp + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v1, hi)), _mm256_loadu_ps(xp + i + 24), a3);
        }
        for (; i + 16 <= n; i += 16) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(w + i));
            a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v0, 16)), _mm256_loadu_ps(xp + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v0, hi)), _mm256_loadu_ps(xp + i + 8), a1);
        }
        __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        r = simd_hsum8(s);
    } else {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
            a1 = _mm256_fmadd_ps(load_bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        }
        __m256 s = _mm256_add_ps(a0, a1);
        r = simd_hsum8(s);
    }
#else
    (void)xp;
#endif
    for (; i < n; i++) r += bf16_to_f32(w[i]) * x[i];
    return r;
}

static inline float dot_f16(const uint16_t *w, const float *x, int n) {
    int i = 0;
    float r = 0;
#if defined(__AVX2__) && defined(__F16C__)
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i))), _mm256_loadu_ps(x + i), a0);
    __m256 s = _mm256_add_ps(a0, a1);
    r = simd_hsum8(s);
#endif
    for (; i < n; i++) r += f16_to_f32(w[i]) * x[i];
    return r;
}

/* ---- four rows at once: four weight streams in flight, x loaded once per block ---------- */

#ifdef __AVX2__

static void dot4_f32(const float *w, size_t ld, const float *x, int n, float *y) {
    const float *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), x0, a0); b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), x1, b0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), x0, a1); b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), x1, b1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), x0, a2); b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), x1, b2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), x0, a3); b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), x1, b3);
    }
    y[0] = simd_hsum8(_mm256_add_ps(a0, b0)); y[1] = simd_hsum8(_mm256_add_ps(a1, b1));
    y[2] = simd_hsum8(_mm256_add_ps(a2, b2)); y[3] = simd_hsum8(_mm256_add_ps(a3, b3));
    for (; i < n; i++) { y[0] += w0[i] * x[i]; y[1] += w1[i] * x[i]; y[2] += w2[i] * x[i]; y[3] += w3[i] * x[i]; }
}

/* xp: x split per block of 16 into even and odd elements (see dot_bf16) */
static void dot4_bf16(const uint16_t *w, size_t ld, const float *x, const float *xp, int n, float *y) {
    const uint16_t *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int i = 0;
#define BF_STEP(wr, a, b) do { __m256i v = _mm256_loadu_si256((const __m256i *)((wr) + i)); \
        a = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(v, 16)), xe, a); \
        b = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(v, hi)), xo, b); } while (0)
    for (; i + 16 <= n; i += 16) {
        __m256 xe = _mm256_loadu_ps(xp + i), xo = _mm256_loadu_ps(xp + i + 8);
        BF_STEP(w0, a0, b0); BF_STEP(w1, a1, b1); BF_STEP(w2, a2, b2); BF_STEP(w3, a3, b3);
    }
#undef BF_STEP
    y[0] = simd_hsum8(_mm256_add_ps(a0, b0)); y[1] = simd_hsum8(_mm256_add_ps(a1, b1));
    y[2] = simd_hsum8(_mm256_add_ps(a2, b2)); y[3] = simd_hsum8(_mm256_add_ps(a3, b3));
    for (; i < n; i++) {
        y[0] += bf16_to_f32(w0[i]) * x[i]; y[1] += bf16_to_f32(w1[i]) * x[i];
        y[2] += bf16_to_f32(w2[i]) * x[i]; y[3] += bf16_to_f32(w3[i]) * x[i];
    }
}

#ifdef __F16C__
static void dot4_f16(const uint16_t *w, size_t ld, const float *x, int n, float *y) {
    const uint16_t *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x0 = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w0 + i))), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w1 + i))), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w2 + i))), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w3 + i))), x0, a3);
    }
    y[0] = simd_hsum8(a0); y[1] = simd_hsum8(a1); y[2] = simd_hsum8(a2); y[3] = simd_hsum8(a3);
    for (; i < n; i++) {
        y[0] += f16_to_f32(w0[i]) * x[i]; y[1] += f16_to_f32(w1[i]) * x[i];
        y[2] += f16_to_f32(w2[i]) * x[i]; y[3] += f16_to_f32(w3[i]) * x[i];
    }
}
#endif
#endif

void ops_rows_dot(const float *W, size_t ld, int rows, const float *x, int n, float *y) {
    int r = 0;
#ifdef __AVX2__
    for (; r + 4 <= rows; r += 4) dot4_f32(W + (size_t)r * ld, ld, x, n, y + r);
#endif
    for (; r < rows; r++) y[r] = dot_f32(W + (size_t)r * ld, x, n);
}

void ops_rows_axpy(float *restrict z, const float *p, const float *W, size_t ld, int rows, int n) {
    int r = 0;
#ifdef __AVX2__
    for (; r + 4 <= rows; r += 4) {
        const float *w0 = W + (size_t)r * ld, *w1 = w0 + ld, *w2 = w1 + ld, *w3 = w2 + ld;
        const __m256 p0 = _mm256_set1_ps(p[r]), p1 = _mm256_set1_ps(p[r + 1]), p2 = _mm256_set1_ps(p[r + 2]), p3 = _mm256_set1_ps(p[r + 3]);
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 a = _mm256_loadu_ps(z + i);
            a = _mm256_fmadd_ps(p0, _mm256_loadu_ps(w0 + i), a);
            a = _mm256_fmadd_ps(p1, _mm256_loadu_ps(w1 + i), a);
            a = _mm256_fmadd_ps(p2, _mm256_loadu_ps(w2 + i), a);
            a = _mm256_fmadd_ps(p3, _mm256_loadu_ps(w3 + i), a);
            _mm256_storeu_ps(z + i, a);
        }
        for (; i < n; i++) z[i] += p[r] * w0[i] + p[r + 1] * w1[i] + p[r + 2] * w2[i] + p[r + 3] * w3[i];
    }
#endif
    for (; r < rows; r++) ops_axpy(z, p[r], W + (size_t)r * ld, n);
}

typedef struct { const Tensor *W; const float *x, *xp; float *y; int per; } MatvecTask;

static void matvec_task(void *ctx, int task, int thread) {
    (void)thread;
    const MatvecTask *m = ctx;
    const Tensor *W = m->W;
    const int cols = W->cols, rows = W->rows;
    int r = task * m->per, hi = r + m->per < rows ? r + m->per : rows;
    const size_t ld = (size_t)cols;
    if (W->dtype == DT_F32) {
        const float *w = W->data;
#ifdef __AVX2__
        for (; r + 4 <= hi; r += 4) dot4_f32(w + (size_t)r * ld, ld, m->x, cols, m->y + r);
#endif
        for (; r < hi; r++) m->y[r] = dot_f32(w + (size_t)r * ld, m->x, cols);
    } else if (W->dtype == DT_BF16) {
        const uint16_t *w = W->data;
#ifdef __AVX2__
        if (m->xp) for (; r + 4 <= hi; r += 4) dot4_bf16(w + (size_t)r * ld, ld, m->x, m->xp, cols, m->y + r);
#endif
        for (; r < hi; r++) m->y[r] = dot_bf16(w + (size_t)r * ld, m->x, m->xp, cols);
    } else {
        const uint16_t *w = W->data;
#if defined(__AVX2__) && defined(__F16C__)
        for (; r + 4 <= hi; r += 4) dot4_f16(w + (size_t)r * ld, ld, m->x, cols, m->y + r);
#endif
        for (; r < hi; r++) m->y[r] = dot_f16(w + (size_t)r * ld, m->x, cols);
    }
}

void matvec(const Tensor *W, const float *x, float *y) {
    if (dtype_is_quant(W->dtype)) { quant_matvec(W, x, y); return; }
    const int rows = W->rows, cols = W->cols;
    const float *xp = NULL;
#ifdef __AVX2__
    /* x split into even/odd halves per block of 16, on the stack (nothing to free; it lives
     * until the pool has finished); a wider row than the buffer takes the unsplit path (same
     * result, slower). */
    float xbuf[16384];
    if (W->dtype == DT_BF16) {
        if ((size_t)cols <= sizeof xbuf / sizeof xbuf[0]) {
            int blocks = cols / 16;
            for (int b = 0; b < blocks; b++)
                for (int k = 0; k < 8; k++) {
                    xbuf[b * 16 + k] = x[b * 16 + 2 * k];
                    xbuf[b * 16 + 8 + k] = x[b * 16 + 2 * k + 1];
                }
            xp = xbuf;
        }
    }
#endif
    /* About eight tasks per thread, whole groups of four rows; small matrices are not worth
     * waking threads for. */
    const int nt = pool_threads();
    int per = rows;
    if ((size_t)rows * (size_t)cols >= 32768 && nt > 1) {
        per = (rows + 8 * nt - 1) / (8 * nt);
        per = (per + 3) / 4 * 4;
        if (per < 16) per = 16;
    }
    MatvecTask m = {W, x, xp, y, per};
    pool_run(matvec_task, &m, (rows + per - 1) / per);
}

void matmul(const Tensor *W, const float *X, int n, float *Y) {
    if (n == 1) { matvec(W, X, Y); return; }
    GemmB B = {W->data, W->dtype, (size_t)W->cols, false};
    gemm(&B, W->rows, X, (size_t)W->cols, n, W->cols, Y, (size_t)W->rows);
}

void add_bias(const Tensor *b, float *Y, int n, int rows) {
    if (!b || !b->data) return;
    if (b->dtype == DT_F32) {
        const float *bb = b->data;
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++) Y[(size_t)t * (size_t)rows + (size_t)r] += bb[r];
        return;
    }
    for (int t = 0; t < n; t++)
        for (int r = 0; r < rows; r++) Y[(size_t)t * (size_t)rows + (size_t)r] += tensor_get(b, (size_t)r);
}

float rmsnorm(float *out, const float *x, const Tensor *w, int d, float eps, float *mean_sq) {
    float ss = 0;
    int i0 = 0;
#ifdef __AVX2__
    /* 16 partial sums (the loop-carried add chain was the cost), then them in order */
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (; i0 + 16 <= d; i0 += 16) {
        __m256 a = _mm256_loadu_ps(x + i0), b = _mm256_loadu_ps(x + i0 + 8);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(s0, s1));
    for (int k = 0; k < 8; k++) ss += lanes[k];
#endif
    for (int i = i0; i < d; i++) ss += x[i] * x[i];
    ss /= (float)d;
    float scale = 1.0f / sqrtf(ss + eps);
    if (mean_sq) *mean_sq = ss;
#ifdef __AVX2__
    if (w && w->data && w->dtype == DT_BF16) {   /* out = w * (x * scale), 8 at a time */
        const uint16_t *ww = w->data;
        const __m256 sv = _mm256_set1_ps(scale);
        int i = 0;
        for (; i + 8 <= d; i += 8)
            _mm256_storeu_ps(out + i, _mm256_mul_ps(load_bf16x8(ww + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), sv)));
        for (; i < d; i++) out[i] = bf16_to_f32(ww[i]) * (x[i] * scale);
        return scale;
    }
#endif
    if (w && w->data && w->dtype == DT_F32) {
        const float *ww = w->data;
        for (int i = 0; i < d; i++) out[i] = ww[i] * (x[i] * scale);
        return scale;
    }
    for (int i = 0; i < d; i++) {
        float v = x[i] * scale;
        out[i] = w && w->data ? tensor_get(w, (size_t)i) * v : v;
    }
    return scale;
}

float layernorm(float *out, const float *x, const Tensor *w, const Tensor *b, int d, float eps,
                float *mean_out, float *var_out) {
    float mean = 0;
    for (int i = 0; i < d; i++) mean += x[i];
    mean /= (float)d;
    float var = 0;
    for (int i = 0; i < d; i++) { float t = x[i] - mean; var += t * t; }
    var /= (float)d;
    float scale = 1.0f / sqrtf(var + eps);
    if (mean_out) *mean_out = mean;
    if (var_out) *var_out = var;
    if (w && w->data && w->dtype == DT_F32 && (!b || !b->data || b->dtype == DT_F32)) {
        const float *ww = w->data, *bb = b && b->data ? b->data : NULL;
        for (int i = 0; i < d; i++) out[i] = (x[i] - mean) * scale * ww[i] + (bb ? bb[i] : 0.0f);
        return scale;
    }
    for (int i = 0; i < d; i++) {
        float v = (x[i] - mean) * scale;
        if (w && w->data) v *= tensor_get(w, (size_t)i);
        if (b && b->data) v += tensor_get(b, (size_t)i);
        out[i] = v;
    }
    return scale;
}

#ifdef __AVX2__
/* exp of 8 lanes (Cephes expf: range reduction by ln 2 in two parts, degree-6 polynomial,
 * about 1 ulp); inputs below -87.3 (and -inf) give exactly 0. */
static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3365447504f), hi = _mm256_set1_ps(88.3762626647f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, y);
}
#endif

float ops_exp_sum(float *x, int n, float m) {
    int i = 0;
    float s = 0;
#ifdef __AVX2__
    __m256 acc = _mm256_setzero_ps(), mv = _mm256_set1_ps(m);
    for (; i + 8 <= n; i += 8) {
        __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, v);
        acc = _mm256_add_ps(acc, v);
    }
    s = simd_hsum8(acc);
    if (i < n) {   /* the tail through the same kernel, so every element rounds alike */
        float buf[8];
        int r = n - i;
        for (int k = 0; k < 8; k++) buf[k] = k < r ? x[i + k] - m : -INFINITY;
        _mm256_storeu_ps(buf, exp8(_mm256_loadu_ps(buf)));
        for (int k = 0; k < r; k++) { x[i + k] = buf[k]; s += buf[k]; }
    }
#else
    for (; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
#endif
    return s;
}

/* max, then S = sum e^{d_i} and W = sum e^{d_i} d_i with d_i = x_i - max: e^{d} through the same
 * 8-lane kernel as ops_exp_sum, summed in f32 lanes over blocks of 2048 and the blocks in
 * double (relative error about 1e-7 on a 152k vocabulary). */
void ops_logit_stats(const float *x, int n, float *max_out, double *sum_exp, double *sum_wd) {
    float m = -INFINITY;
    int i = 0;
#ifdef __AVX2__
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, mv);
    for (int k = 0; k < 8; k++) if (lanes[k] > m) m = lanes[k];
#endif
    for (; i < n; i++) if (x[i] > m) m = x[i];
    *max_out = m;
    double se = 0, sd = 0;
    i = 0;
#ifdef __AVX2__
    const __m256 mb = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
    while (i + 8 <= n) {
        __m256 a = zero, b = zero;
        for (int e = i + 2048 < n ? i + 2048 : n; i + 8 <= e; i += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), mb), w = exp8(d);
            a = _mm256_add_ps(a, w);
            /* a -inf logit adds nothing (0 * -inf would be NaN) */
            b = _mm256_add_ps(b, _mm256_and_ps(_mm256_cmp_ps(w, zero, _CMP_GT_OQ), _mm256_mul_ps(w, d)));
        }
        float la[8], lb[8];
        _mm256_storeu_ps(la, a);
        _mm256_storeu_ps(lb, b);
        for (int k = 0; k < 8; k++) { se += la[k]; sd += lb[k]; }
    }
#endif
    for (; i < n; i++) {
        float d = x[i] - m, w = expf(d);
        se += w;
        if (w > 0) sd += (double)w * d;
    }
    *sum_exp = se;
    *sum_wd = sd;
}

int ops_top_k(const float *x, int n, int k, int *ids, float *vals) {
    int got = 0;
    float thr = -INFINITY;
    for (int i = 0; i < n; i++) {
#ifdef __AVX2__
        if (got == k) {   /* skip 8 at a time while none beats the k-th largest */
            const __m256 tv = _mm256_set1_ps(thr);
            while (i + 8 <= n && !_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), tv, _CMP_GT_OQ))) i += 8;
            if (i >= n) break;
        }
#endif
        float v = x[i];
        if (v != v || (got == k && !(v > thr))) continue;
        int j = got < k ? got++ : k - 1;
        while (j > 0 && vals[j - 1] < v) { vals[j] = vals[j - 1]; ids[j] = ids[j - 1]; j--; }
        vals[j] = v;
        ids[j] = i;
        if (got == k) thr = vals[k - 1];
    }
    return got;
}

void softmax_inplace(float *x, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] > m) m = x[i];
    if (m == -INFINITY) { for (int i = 0; i < n; i++) x[i] = 0; return; }
    float inv = 1.0f / ops_exp_sum(x, n, m);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void ops_act_mul(int act, float *a, const float *b, size_t n) {
    size_t i = 0;
#ifdef __AVX2__
    if (act == ACT_SILU) {   /* x / (1 + e^-x) with the 8-lane exp */
        const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
        for (; i + 8 <= n; i += 8) {
            __m256 x = _mm256_loadu_ps(a + i);
            __m256 y = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, x))));
            if (b) y = _mm256_mul_ps(y, _mm256_loadu_ps(b + i));
            _mm256_storeu_ps(a + i, y);
        }
    }
#endif
    for (; i < n; i++) a[i] = b ? act_apply(act, a[i]) * b[i] : act_apply(act, a[i]);
}

float act_apply(int act, float x) {
    switch (act) {
    case ACT_GELU_TANH: {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
    case ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case ACT_SILU: return x / (1.0f + expf(-x));
    case ACT_RELU: return x > 0 ? x : 0;
    }
    return x;
}

void ops_softcap(float *x, size_t n, float cap) {
    if (!(cap > 0)) return;
    for (size_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);   /* transformers: x / cap, tanh, * cap */
}
