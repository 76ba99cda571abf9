/* Packed GEMM with run-time kernel choice (see gemm.h).
 *
 * Loop order inside gemm_rows: for each panel of NR rows of B, for each KC block of the
 * inner dimension, B's block is packed (widened, transposed to [KC][NR]) once, then every
 * MR-row block of X runs the micro-kernel over it. The packed panel (KC*NR floats = 32 KiB)
 * stays in L1/L2; X's KC block for a 256-token chunk (256 KiB) stays in L2. With AVX-512 the
 * pack widens and transposes 16 x 16 blocks in registers, and while the micro-kernel runs over
 * one pack the weights of the next are prefetched (spread over the micro-kernel calls). */
#include "engine/gemm.h"
#include <stdint.h>
#include <string.h>
#include "engine/ops.h"
#include "engine/pool.h"
#include "engine/quant.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define KC 256
#define NR_MAX 32
#define MR_MAX 8

static const float k_zeros[KC] __attribute__((aligned(64)));
static int g_isa = -1;

const char *gemm_isa_name(int isa) {
    return isa == GEMM_ISA_AVX512 ? "avx512" : isa == GEMM_ISA_AVX2 ? "avx2" : "generic";
}

static bool isa_supported(int isa) {
#ifdef GEMM_X86
    __builtin_cpu_init();
    if (isa == GEMM_ISA_AVX512) return __builtin_cpu_supports("avx512f");
    if (isa == GEMM_ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == GEMM_ISA_GENERIC;
}

int gemm_isa(void) {
    if (g_isa < 0) g_isa = isa_supported(GEMM_ISA_AVX512) ? GEMM_ISA_AVX512
                         : isa_supported(GEMM_ISA_AVX2) ? GEMM_ISA_AVX2 : GEMM_ISA_GENERIC;
    return g_isa;
}

bool gemm_set_isa(int isa) {
    if (isa < GEMM_ISA_GENERIC || isa > GEMM_ISA_AVX512 || !isa_supported(isa)) return false;
    g_isa = isa;
    return true;
}

/* ---- packing: out[c][j] = B[r0 + j][c0 + c] for j < nr (zero for nr <= j < NR) ---------- */

#ifdef GEMM_X86
/* F16C and AVX usable: CPUID.1:ECX bits 29 (F16C), 28 (AVX), 27 (OSXSAVE), and the OS saves
 * the YMM state (XCR0 bits 1 and 2). Asked through cpuid directly: clang's
 * __builtin_cpu_supports does not know "f16c". */
static bool cpu_f16c_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const unsigned need = 1u << 29 | 1u << 28 | 1u << 27;
    if ((c & need) != need) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6u) == 6u;
}

__attribute__((target("f16c,avx")))
static void widen_f16(const uint16_t *p, int n, float *out) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + i))));
    for (; i < n; i++) out[i] = f16_to_f32(p[i]);
}
#endif

static void widen(const void *base, DType dt, size_t off, int n, float *out) {
    if (dtype_is_quant(dt)) { quant_row_f32(dt, base, off, n, out); return; }   /* blocks -> f32 */
    if (dt == DT_F32) { memcpy(out, (const float *)base + off, sizeof(float) * (size_t)n); return; }
    const uint16_t *p = (const uint16_t *)base + off;
    if (dt == DT_BF16) {
        for (int i = 0; i < n; i++) { uint32_t u = (uint32_t)p[i] << 16; memcpy(&out[i], &u, 4); }
        return;
    }
#ifdef GEMM_X86
    static int f16c = -1;
    if (f16c < 0) f16c = cpu_f16c_usable();
    if (f16c) { widen_f16(p, n, out); return; }
#endif
    for (int i = 0; i < n; i++) out[i] = f16_to_f32(p[i]);
}

#ifdef GEMM_X86
/* 16 rows of 16 floats, transposed in registers: on return r[j] holds column j. Unpacks of
 * 32-bit then 64-bit elements within 128-bit lanes, then a 4 x 4 transpose of the lanes. */
__attribute__((target("avx512f")))
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    __m512d u[16];   /* u[4g + c], lane L: rows 4g..4g+3 of column 4L + c */
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_unpacklo_pd(a, c);
        u[4 * g + 1] = _mm512_unpackhi_pd(a, c);
        u[4 * g + 2] = _mm512_unpacklo_pd(b, d);
        u[4 * g + 3] = _mm512_unpackhi_pd(b, d);
    }
    for (int c = 0; c < 4; c++) {
        __m512 a = _mm512_castpd_ps(u[c]), b = _mm512_castpd_ps(u[4 + c]);
        __m512 e = _mm512_castpd_ps(u[8 + c]), f = _mm512_castpd_ps(u[12 + c]);
        __m512 v0 = _mm512_shuffle_f32x4(a, b, 0x44), v1 = _mm512_shuffle_f32x4(a, b, 0xEE);
        __m512 v2 = _mm512_shuffle_f32x4(e, f, 0x44), v3 = _mm512_shuffle_f32x4(e, f, 0xEE);
        r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

/* Row-major B (f32, bf16 or f16), NR = 32: packs every whole group of 16 rows, widening and
 * transposing 16 x 16 blocks in registers (the scalar path stores one float per cycle at a
 * 128-byte stride, which cost as much as a quarter of the micro-kernel's time at 256 rows).
 * Returns the number of rows packed (a multiple of 16). */
__attribute__((target("avx512f")))
static int pack_rows_avx512(const GemmB *B, int r0, int nr, int c0, int kc, float *out) {
    const int kc16 = kc / 16 * 16;
    int jb = 0;
    for (; jb + 16 <= nr; jb += 16) {
        for (int cb = 0; cb < kc16; cb += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                size_t at = (size_t)(r0 + jb + i) * B->ld + (size_t)(c0 + cb);
                if (B->dtype == DT_F32) r[i] = _mm512_loadu_ps((const float *)B->data + at);
                else {
                    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)B->data + at));
                    r[i] = B->dtype == DT_BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
                                               : _mm512_cvtph_ps(h);
                }
            }
            transpose16(r);
            for (int i = 0; i < 16; i++) _mm512_store_ps(out + (size_t)(cb + i) * 32 + jb, r[i]);
        }
        for (int j = jb; j < jb + 16 && kc16 < kc; j++) {
            float v[16];
            widen(B->data, B->dtype, (size_t)(r0 + j) * B->ld + (size_t)(c0 + kc16), kc - kc16, v);
            for (int c = kc16; c < kc; c++) out[(size_t)c * 32 + j] = v[c - kc16];
        }
    }
    return jb;
}
#endif

static void pack_panel(const GemmB *B, int r0, int nr, int c0, int kc, int NR, float *out, float *row) {
    if (nr < NR)
        for (int c = 0; c < kc; c++) memset(out + (size_t)c * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
    if (B->by_cols) {
        for (int c = 0; c < kc; c++) widen(B->data, B->dtype, (size_t)(c0 + c) * B->ld + (size_t)r0, nr, out + (size_t)c * NR);
        return;
    }
    int j0 = 0;
#ifdef GEMM_X86
    if (NR == 32 && gemm_isa() == GEMM_ISA_AVX512 && (B->dtype == DT_F32 || B->dtype == DT_BF16 || B->dtype == DT_F16))
        j0 = pack_rows_avx512(B, r0, nr, c0, kc, out);
#endif
    for (int j = j0; j < nr; j++) {
        const float *src;
        if (B->dtype == DT_F32) src = (const float *)B->data + (size_t)(r0 + j) * B->ld + (size_t)c0;
        else { widen(B->data, B->dtype, (size_t)(r0 + j) * B->ld + (size_t)c0, kc, row); src = row; }
        for (int c = 0; c < kc; c++) out[(size_t)c * NR + j] = src[c];
    }
}

/* ---- micro-kernels: C[MR][NR] (+)= A[MR][kc] * P[kc][NR] -------------------------------- */
/* a[i] points at row i of A (already offset to the KC block); c has row stride ldc. */

#ifdef GEMM_X86
__attribute__((target("avx512f")))
static void ukr_avx512(int kc, const float *const *a, const float *p, float *c, size_t ldc, bool acc) {
    /* MR = 8, NR = 32: 16 accumulators */
    __m512 c0[8], c1[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        c0[i] = acc ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
        c1[i] = acc ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
    }
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(p + (size_t)k * 32), b1 = _mm512_load_ps(p + (size_t)k * 32 + 16);
        __m512 x;
        x = _mm512_set1_ps(a0[k]); c0[0] = _mm512_fmadd_ps(x, b0, c0[0]); c1[0] = _mm512_fmadd_ps(x, b1, c1[0]);
        x = _mm512_set1_ps(a1[k]); c0[1] = _mm512_fmadd_ps(x, b0, c0[1]); c1[1] = _mm512_fmadd_ps(x, b1, c1[1]);
        x = _mm512_set1_ps(a2[k]); c0[2] = _mm512_fmadd_ps(x, b0, c0[2]); c1[2] = _mm512_fmadd_ps(x, b1, c1[2]);
        x = _mm512_set1_ps(a3[k]); c0[3] = _mm512_fmadd_ps(x, b0, c0[3]); c1[3] = _mm512_fmadd_ps(x, b1, c1[3]);
        x = _mm512_set1_ps(a4[k]); c0[4] = _mm512_fmadd_ps(x, b0, c0[4]); c1[4] = _mm512_fmadd_ps(x, b1, c1[4]);
        x = _mm512_set1_ps(a5[k]); c0[5] = _mm512_fmadd_ps(x, b0, c0[5]); c1[5] = _mm512_fmadd_ps(x, b1, c1[5]);
        x = _mm512_set1_ps(a6[k]); c0[6] = _mm512_fmadd_ps(x, b0, c0[6]); c1[6] = _mm512_fmadd_ps(x, b1, c1[6]);
        x = _mm512_set1_ps(a7[k]); c0[7] = _mm512_fmadd_ps(x, b0, c0[7]); c1[7] = _mm512_fmadd_ps(x, b1, c1[7]);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(c + i * ldc, c0[i]);
        _mm512_storeu_ps(c + i * ldc + 16, c1[i]);
    }
}

__attribute__((target("avx2,fma")))
static void ukr_avx2(int kc, const float *const *a, const float *p, float *c, size_t ldc, bool acc) {
    /* MR = 6, NR = 16: 12 accumulators */
    __m256 c0[6], c1[6];
    #pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        c0[i] = acc ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
        c1[i] = acc ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
    }
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(p + (size_t)k * 16), b1 = _mm256_load_ps(p + (size_t)k * 16 + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a0 + k); c0[0] = _mm256_fmadd_ps(x, b0, c0[0]); c1[0] = _mm256_fmadd_ps(x, b1, c1[0]);
        x = _mm256_broadcast_ss(a1 + k); c0[1] = _mm256_fmadd_ps(x, b0, c0[1]); c1[1] = _mm256_fmadd_ps(x, b1, c1[1]);
        x = _mm256_broadcast_ss(a2 + k); c0[2] = _mm256_fmadd_ps(x, b0, c0[2]); c1[2] = _mm256_fmadd_ps(x, b1, c1[2]);
        x = _mm256_broadcast_ss(a3 + k); c0[3] = _mm256_fmadd_ps(x, b0, c0[3]); c1[3] = _mm256_fmadd_ps(x, b1, c1[3]);
        x = _mm256_broadcast_ss(a4 + k); c0[4] = _mm256_fmadd_ps(x, b0, c0[4]); c1[4] = _mm256_fmadd_ps(x, b1, c1[4]);
        x = _mm256_broadcast_ss(a5 + k); c0[5] = _mm256_fmadd_ps(x, b0, c0[5]); c1[5] = _mm256_fmadd_ps(x, b1, c1[5]);
    }
    #pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        _mm256_storeu_ps(c + i * ldc, c0[i]);
        _mm256_storeu_ps(c + i * ldc + 8, c1[i]);
    }
}
#endif

/* Portable: MR = 4, NR = 16, plain loops the compiler may vectorise. */
static void ukr_generic(int kc, const float *const *a, const float *p, float *c, size_t ldc, bool acc) {
    float t[4][16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++) t[i][j] = acc ? c[i * ldc + j] : 0.0f;
    for (int k = 0; k < kc; k++)
        for (int i = 0; i < 4; i++) {
            float x = a[i][k];
            for (int j = 0; j < 16; j++) t[i][j] += x * p[(size_t)k * 16 + j];
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++) c[i * ldc + j] = t[i][j];
}

typedef void (*Ukr)(int, const float *const *, const float *, float *, size_t, bool);

void gemm_rows(const GemmB *B, int r0, int r1, const float *X, size_t ldx, int n, int k,
               float *Y, size_t ldy, bool accumulate, int thread) {
    if (r1 <= r0 || n <= 0) return;
    const int isa = gemm_isa();
    Ukr ukr = ukr_generic;
    int MR = 4, NR = 16;
#ifdef GEMM_X86
    if (isa == GEMM_ISA_AVX512) { ukr = ukr_avx512; MR = 8; NR = 32; }
    else if (isa == GEMM_ISA_AVX2) { ukr = ukr_avx2; MR = 6; NR = 16; }
#endif
    if (k <= 0) {
        if (!accumulate)
            for (int t = 0; t < n; t++) memset(Y + (size_t)t * ldy + r0, 0, sizeof(float) * (size_t)(r1 - r0));
        return;
    }
    float *pack = pool_scratch(thread, 0, (size_t)KC * NR_MAX + (size_t)KC);
    if (!pack) {   /* out of memory for 33 KiB: a plain loop still gives the right answer */
        float *row = NULL;
        for (int t = 0; t < n; t++)
            for (int r = r0; r < r1; r++) {
                double s = 0;
                for (int c = 0; c < k; c++) {
                    size_t at = B->by_cols ? (size_t)c * B->ld + (size_t)r : (size_t)r * B->ld + (size_t)c;
                    float w;
                    if (dtype_is_quant(B->dtype)) { quant_row_f32(B->dtype, B->data, at, 1, &w); s += (double)w * X[(size_t)t * ldx + (size_t)c]; continue; }
                    w = B->dtype == DT_F32 ? ((const float *)B->data)[at]
                            : B->dtype == DT_BF16 ? bf16_to_f32(((const uint16_t *)B->data)[at]) : f16_to_f32(((const uint16_t *)B->data)[at]);
                    s += (double)w * X[(size_t)t * ldx + (size_t)c];
                }
                float *y = Y + (size_t)t * ldy + r;
                *y = accumulate ? *y + (float)s : (float)s;
            }
        (void)row;
        return;
    }
    float *row = pack + (size_t)KC * NR_MAX;
    /* bytes per element for prefetching row-major B (0: none) */
    const size_t pf_es = B->by_cols ? 0 : B->dtype == DT_F32 ? 4 : B->dtype == DT_BF16 || B->dtype == DT_F16 ? 2 : 0;
    float tile[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    const float *ap[MR_MAX];
    for (int rp = r0; rp < r1; rp += NR) {
        const int nr = r1 - rp < NR ? r1 - rp : NR;
        for (int c0 = 0; c0 < k; c0 += KC) {
            const int kc = k - c0 < KC ? k - c0 : KC;
            const bool acc = accumulate || c0 > 0;
            pack_panel(B, rp, nr, c0, kc, NR, pack, row);
            /* the weights of the next pack, fetched into cache while this one is used */
            int pr = rp, pc = c0 + KC;
            if (pc >= k) { pr = rp + NR; pc = 0; }
            const int pn = pr < r1 && pf_es ? (r1 - pr < NR ? r1 - pr : NR) : 0;
            const int pkc = k - pc < KC ? k - pc : KC, calls = (n + MR - 1) / MR, per = (pn + calls - 1) / calls;
            for (int t0 = 0, q = 0; t0 < n; t0 += MR, q++) {
                const int mr = n - t0 < MR ? n - t0 : MR;
                for (int j = q * per; j < (q + 1) * per && j < pn; j++) {
                    const char *src = (const char *)B->data + ((size_t)(pr + j) * B->ld + (size_t)pc) * pf_es;
                    for (size_t off = 0; off < (size_t)pkc * pf_es; off += 64) __builtin_prefetch(src + off, 0, 2);
                }
                for (int i = 0; i < MR; i++) ap[i] = i < mr ? X + (size_t)(t0 + i) * ldx + c0 : k_zeros;
                float *cy = Y + (size_t)t0 * ldy + rp;
                if (mr == MR && nr == NR) { ukr(kc, ap, pack, cy, ldy, acc); continue; }
                if (acc)
                    for (int i = 0; i < MR; i++)
                        for (int j = 0; j < NR; j++) tile[i * NR + j] = i < mr && j < nr ? cy[(size_t)i * ldy + j] : 0.0f;
                ukr(kc, ap, pack, tile, (size_t)NR, acc);
                for (int i = 0; i < mr; i++) memcpy(cy + (size_t)i * ldy, tile + i * NR, sizeof(float) * (size_t)nr);
            }
        }
    }
}

typedef struct {
    const GemmB *B;
    const float *X;
    float *Y;
    size_t ldx, ldy;
    int rows, n, k, per;
} GemmTask;

static void gemm_task(void *ctx, int task, int thread) {
    const GemmTask *g = ctx;
    int r0 = task * g->per, r1 = r0 + g->per < g->rows ? r0 + g->per : g->rows;
    gemm_rows(g->B, r0, r1, g->X, g->ldx, g->n, g->k, g->Y, g->ldy, false, thread);
}

void gemm(const GemmB *B, int rows, const float *X, size_t ldx, int n, int k, float *Y, size_t ldy) {
    const int nt = pool_threads();
    const int NR = NR_MAX;
    /* about four tasks per thread (a descheduled thread then holds up little), whole panels */
    int per = (rows + 4 * nt - 1) / (4 * nt);
    per = (per + NR - 1) / NR * NR;
    if (per < NR) per = NR;
    if ((double)rows * n * k < 262144.0) per = rows;   /* too small to share */
    GemmTask g = {B, X, Y, ldx, ldy, rows, n, k, per};
    pool_run(gemm_task, &g, (rows + per - 1) / per);
}
