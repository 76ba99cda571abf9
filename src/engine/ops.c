#include "engine/ops.h"
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

static int g_threads = 1;

/* The one place the thread count is kept (engine_set_threads clamps and forwards here). */
void ops_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
    omp_set_num_threads(n);
    /* One thread pool only: OpenBLAS runs single-threaded inside our OpenMP threads, so its
     * spinning workers never compete with the matvec threads of the next decode step. */
    openblas_set_num_threads(1);
}
int ops_get_threads(void) { return g_threads; }

void tensor_row_f32(const Tensor *t, size_t off, int n, float *out) {
    if (t->dtype == DT_F32) { memcpy(out, (const float *)t->data + off, sizeof(float) * (size_t)n); return; }
    const uint16_t *p = (const uint16_t *)t->data + off;
    if (t->dtype == DT_BF16) bf16_row_f32(p, n, out);
    else f16_row_f32(p, n, out);
}

float tensor_get(const Tensor *t, size_t i) {
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
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float r = _mm_cvtss_f32(h);
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
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        r = _mm_cvtss_f32(h);
    } else {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (; i + 16 <= n; i += 16) {
            a0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
            a1 = _mm256_fmadd_ps(load_bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        }
        __m256 s = _mm256_add_ps(a0, a1);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        r = _mm_cvtss_f32(h);
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
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    r = _mm_cvtss_f32(h);
#endif
    for (; i < n; i++) r += f16_to_f32(w[i]) * x[i];
    return r;
}

void matvec(const Tensor *W, const float *x, float *y) {
    const int rows = W->rows, cols = W->cols;
    /* Small matrices are not worth waking threads for. */
    const int par = (size_t)rows * (size_t)cols >= 32768 && g_threads > 1;
    if (W->dtype == DT_F32) {
        const float *w = W->data;
        #pragma omp parallel for schedule(static) if (par)
        for (int r = 0; r < rows; r++) y[r] = dot_f32(w + (size_t)r * (size_t)cols, x, cols);
    } else if (W->dtype == DT_BF16) {
        const uint16_t *w = W->data;
        const float *xp = NULL;
#ifdef __AVX2__
        /* x split into even/odd halves per block of 16, on the stack (nothing to free); a
         * wider row than the buffer takes the unsplit path (same result, slower). */
        float xbuf[16384];
        if ((size_t)cols <= sizeof xbuf / sizeof xbuf[0]) {
            int blocks = cols / 16;
            for (int b = 0; b < blocks; b++)
                for (int k = 0; k < 8; k++) {
                    xbuf[b * 16 + k] = x[b * 16 + 2 * k];
                    xbuf[b * 16 + 8 + k] = x[b * 16 + 2 * k + 1];
                }
            xp = xbuf;
        }
#endif
        #pragma omp parallel for schedule(static) if (par)
        for (int r = 0; r < rows; r++) y[r] = dot_bf16(w + (size_t)r * (size_t)cols, x, xp, cols);
    } else {
        const uint16_t *w = W->data;
        #pragma omp parallel for schedule(static) if (par)
        for (int r = 0; r < rows; r++) y[r] = dot_f16(w + (size_t)r * (size_t)cols, x, cols);
    }
}

#define CHUNK_FLOATS (1u << 20)   /* 4 MB of widened weights per sgemm chunk */

size_t ops_scratch_floats(int max_cols) {
    size_t need = (size_t)max_cols * 16 * 8;   /* at least 16 rows per chunk for up to 8 threads */
    return need > CHUNK_FLOATS ? need : CHUNK_FLOATS;
}

void matmul(const Tensor *W, const float *X, int n, float *Y, float *scratch, size_t scratch_floats) {
    const int rows = W->rows, cols = W->cols;
    if (n == 1) { matvec(W, X, Y); return; }
    /* Rows of W are split across threads; each thread runs a single-threaded sgemm on its
     * block (16-bit weights are first widened into that thread's part of scratch). */
    int nt = g_threads;
    if ((size_t)rows * (size_t)cols * (size_t)n < (1u << 18)) nt = 1;
    if (nt > rows) nt = 1;
    const size_t per_thread = scratch_floats / (size_t)nt;
    #pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int ti = 0; ti < nt; ti++) {
        int r_lo = (int)((long long)rows * ti / nt), r_hi = (int)((long long)rows * (ti + 1) / nt);
        if (W->dtype == DT_F32) {
            if (r_hi > r_lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r_hi - r_lo, cols, 1.0f, X, cols,
                            (const float *)W->data + (size_t)r_lo * (size_t)cols, cols, 0.0f, Y + r_lo, rows);
            continue;
        }
        float *sc = scratch + (size_t)ti * per_thread;
        int chunk = (int)(per_thread / (size_t)cols);
        if (chunk < 1) chunk = 1;
        for (int r0 = r_lo; r0 < r_hi; r0 += chunk) {
            int nr = r_hi - r0 < chunk ? r_hi - r0 : chunk;
            for (int r = 0; r < nr; r++)
                tensor_row_f32(W, (size_t)(r0 + r) * (size_t)cols, cols, sc + (size_t)r * (size_t)cols);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nr, cols, 1.0f, X, cols,
                        sc, cols, 0.0f, Y + r0, rows);
        }
    }
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
    for (int i = 0; i < d; i++) ss += x[i] * x[i];
    ss /= (float)d;
    float scale = 1.0f / sqrtf(ss + eps);
    if (mean_sq) *mean_sq = ss;
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

void softmax_inplace(float *x, int n) {
    float m = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] > m) m = x[i];
    if (m == -INFINITY) { for (int i = 0; i < n; i++) x[i] = 0; return; }
    float s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
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
