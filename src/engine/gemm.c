/* Packed GEMM with run-time kernel choice (see gemm.h).
 *
 * Loop order inside gemm_rows: for each panel of NR rows of B, for each KC block of the
 * inner dimension, B's block is packed (widened, transposed to [KC][NR]) once, then every
 * MR-row block of X runs the micro-kernel over it. The packed panel (KC*NR floats = 32 KiB)
 * stays in L1/L2; X's KC block for a 256-token chunk (256 KiB) stays in L2. */
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

static void pack_panel(const GemmB *B, int r0, int nr, int c0, int kc, int NR, float *out, float *row) {
    if (nr < NR)
        for (int c = 0; c < kc; c++) memset(out + (size_t)c * NR + nr, 0, sizeof(float) * (size_t)(NR - nr));
    if (B->by_cols) {
        for (int c = 0; c < kc; c++) widen(B->data, B->dtype, (size_t)(c0 + c) * B->ld + (size_t)r0, nr, out + (size_t)c * NR);
        return;
    }
    for (int j = 0; j < nr; j++) {
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
    float tile[MR_MAX * NR_MAX] __attribute__((aligned(64)));
    const float *ap[MR_MAX];
    for (int rp = r0; rp < r1; rp += NR) {
        const int nr = r1 - rp < NR ? r1 - rp : NR;
        for (int c0 = 0; c0 < k; c0 += KC) {
            const int kc = k - c0 < KC ? k - c0 : KC;
            const bool acc = accumulate || c0 > 0;
            pack_panel(B, rp, nr, c0, kc, NR, pack, row);
            for (int t0 = 0; t0 < n; t0 += MR) {
                const int mr = n - t0 < MR ? n - t0 : MR;
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
