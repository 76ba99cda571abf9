/* Attention kernels (see attn.h). */
#include "engine/attn.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/gemm.h"
#include "engine/ops.h"
#include "engine/pool.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#define DEC_SPLIT 256     /* keys per decode task (at least) */
#define DEC_MAX_SPLIT 32  /* key ranges per KV head in decode (at most) */
#define DEC_BLK 32        /* keys per block of the online softmax */
#define DEC_PF_BYTES 4096 /* software prefetch distance along the key and value streams */
#define DEC_QS_MAX 1024   /* head_dim handled with stack buffers (larger: heap) */

/* ---- one score: (q * scale) · k ------------------------------------------------------
 * With AVX-512 and hd a multiple of 16 the dot is two accumulators (even and odd 16-float
 * chunks) reduced at the end; the decode kernel keeps q in registers and runs the very same
 * sequence, so attn_row_scores and decode give identical scores. Otherwise ops_dot. */
#if defined(__AVX512F__)
static inline __attribute__((always_inline)) __m512 dot_acc512(const __m512 *Q, const float *k, const int nv) {
    __m512 a0 = _mm512_mul_ps(_mm512_loadu_ps(k), Q[0]);
    __m512 a1 = nv > 1 ? _mm512_mul_ps(_mm512_loadu_ps(k + 16), Q[1]) : _mm512_setzero_ps();
    for (int i = 2; i < nv; i++) {
        if (i & 1) a1 = _mm512_fmadd_ps(_mm512_loadu_ps(k + 16 * i), Q[i], a1);
        else a0 = _mm512_fmadd_ps(_mm512_loadu_ps(k + 16 * i), Q[i], a0);
    }
    return _mm512_add_ps(a0, a1);
}
static inline bool fast_hd(int hd) { return hd % 16 == 0 && hd / 16 <= 8; }
#endif

void attn_row_scores(const float *k, int hd, int lo, int hi, const float *q, float scale, float *out) {
    float buf[DEC_QS_MAX], *qs = hd <= DEC_QS_MAX ? buf : malloc(sizeof(float) * (size_t)hd);
    if (!qs) { for (int j = lo; j <= hi; j++) out[j - lo] = NAN; return; }
    for (int i = 0; i < hd; i++) qs[i] = q[i] * scale;
#if defined(__AVX512F__)
    if (fast_hd(hd)) {
        const int nv = hd / 16;
        __m512 Q[8];
        for (int i = 0; i < nv; i++) Q[i] = _mm512_loadu_ps(qs + 16 * i);
        for (int j = lo; j <= hi; j++) out[j - lo] = _mm512_reduce_add_ps(dot_acc512(Q, k + (size_t)j * hd, nv));
        if (qs != buf) free(qs);
        return;
    }
#endif
    for (int j = lo; j <= hi; j++) out[j - lo] = ops_dot(qs, k + (size_t)j * hd, hd);
    if (qs != buf) free(qs);
}

/* ---- decode ----------------------------------------------------------------------------
 * A task is (KV head, key range [lo, hi]) for every query row; it serves the grp query heads
 * of that KV head two at a time. Per head g it keeps the running max M, the exp-sum L and the
 * unnormalised Z = sum_j exp(s_j - M) v_j; blocks of DEC_BLK keys: while block b's scores
 * are computed, block b-1's values are summed with its probabilities, so the key and the
 * value stream are read side by side (one after the other, a stream stalls at every switch).
 * At the end of block b, a larger max rescales Z and L (exact: e^(M_old - M_new)). Each
 * (row, head, range) leaves Z, M, L in part; attn_decode merges the ranges. */
typedef struct {
    const AttnArgs *a;
    float *part;
    int nsplit, split;
} DecCtx;

static inline float *dec_part(const DecCtx *d, int t, int h, int r) {
    return d->part + (((size_t)t * d->a->H + (size_t)h) * (size_t)d->nsplit + (size_t)r) * ((size_t)d->a->hd + 2);
}

static inline void rescale(float *M, float *L, float bm, float *c) {
    *c = 1.0f;
    if (bm > *M) { *c = expf(*M - bm); *L *= *c; *M = bm; }
}

#if defined(__AVX512F__)
static inline void prefetch_row(const float *p, int hd) {
    const char *c = (const char *)p;
    for (int b = 0; b < hd * 4; b += 64) __builtin_prefetch(c + b, 0, 3);   /* read, keep in all levels */
}

/* G (1 or 2) heads of hd = 16*nv over keys [lo, hi]; q: the G heads' queries, hd apart. */
static inline __attribute__((always_inline)) void dec512_body(const int nv, const int G, const float *q, float scale,
                                                               const float *k, const float *v, int lo, int hi, float **out) {
    const int hd = 16 * nv, pf = DEC_PF_BYTES / (hd * 4) > 0 ? DEC_PF_BYTES / (hd * 4) : 1;
    __m512 Q[2][8], Z[2][8];
    const __m512 sv = _mm512_set1_ps(scale);
    for (int g = 0; g < G; g++)
        for (int i = 0; i < nv; i++) {
            Q[g][i] = _mm512_mul_ps(_mm512_loadu_ps(q + (size_t)g * hd + 16 * i), sv);
            Z[g][i] = _mm512_setzero_ps();
        }
    float M[2] = {-INFINITY, -INFINITY}, L[2] = {0, 0};
    float s[2][2][DEC_BLK];   /* [buffer][head][key]: this block's scores, the last block's p */
    int cur = 0, pj = 0, pn = 0;
    for (int j0 = lo;; j0 += DEC_BLK) {
        const int nb = j0 > hi ? 0 : (hi + 1 - j0 < DEC_BLK ? hi + 1 - j0 : DEC_BLK);
        const int nmax = nb > pn ? nb : pn;
        float bm[2] = {-INFINITY, -INFINITY};
        for (int j = 0; j < nmax; j++) {
            if (j < nb) {
                const float *kr = k + (size_t)(j0 + j) * hd;
                prefetch_row(kr + (size_t)pf * hd, hd);
                /* dot_acc512 for the G heads at once: each chunk of the key loaded once */
                __m512 A0[2], A1[2], x = _mm512_loadu_ps(kr);
                for (int g = 0; g < G; g++) A0[g] = _mm512_mul_ps(x, Q[g][0]);
                if (nv > 1) {
                    x = _mm512_loadu_ps(kr + 16);
                    for (int g = 0; g < G; g++) A1[g] = _mm512_mul_ps(x, Q[g][1]);
                } else {
                    for (int g = 0; g < G; g++) A1[g] = _mm512_setzero_ps();
                }
                for (int i = 2; i < nv; i++) {
                    x = _mm512_loadu_ps(kr + 16 * i);
                    for (int g = 0; g < G; g++) {
                        if (i & 1) A1[g] = _mm512_fmadd_ps(x, Q[g][i], A1[g]);
                        else A0[g] = _mm512_fmadd_ps(x, Q[g][i], A0[g]);
                    }
                }
                for (int g = 0; g < G; g++) {
                    const float sc = _mm512_reduce_add_ps(_mm512_add_ps(A0[g], A1[g]));
                    s[cur][g][j] = sc;
                    if (sc > bm[g]) bm[g] = sc;
                }
            }
            if (j < pn) {
                const float *vr = v + (size_t)(pj + j) * hd;
                prefetch_row(vr + (size_t)pf * hd, hd);
                __m512 P[2];
                for (int g = 0; g < G; g++) P[g] = _mm512_set1_ps(s[cur ^ 1][g][j]);
                for (int i = 0; i < nv; i++) {
                    const __m512 x = _mm512_loadu_ps(vr + 16 * i);
                    for (int g = 0; g < G; g++) Z[g][i] = _mm512_fmadd_ps(P[g], x, Z[g][i]);
                }
            }
        }
        if (!nb) break;
        for (int g = 0; g < G; g++) {
            float c;
            rescale(&M[g], &L[g], bm[g], &c);
            if (c != 1.0f) {
                const __m512 cv = _mm512_set1_ps(c);
                for (int i = 0; i < nv; i++) Z[g][i] = _mm512_mul_ps(Z[g][i], cv);
            }
            L[g] += ops_exp_sum(s[cur][g], nb, M[g]);
        }
        pj = j0; pn = nb; cur ^= 1;
    }
    for (int g = 0; g < G; g++) {
        for (int i = 0; i < nv; i++) _mm512_storeu_ps(out[g] + 16 * i, Z[g][i]);
        out[g][hd] = M[g];
        out[g][hd + 1] = L[g];
    }
}
#define DEC512(NV, G) static void dec512_##NV##_##G(const float *q, float sc, const float *k, const float *v, int lo, int hi, float **o) \
    { dec512_body(NV, G, q, sc, k, v, lo, hi, o); }
DEC512(8, 2) DEC512(8, 1) DEC512(4, 2) DEC512(4, 1)
static __attribute__((noinline)) void dec512_any(int nv, int G, const float *q, float sc, const float *k, const float *v, int lo, int hi, float **o) {
    if (G == 2) dec512_body(nv, 2, q, sc, k, v, lo, hi, o);
    else dec512_body(nv, 1, q, sc, k, v, lo, hi, o);
}
#endif

/* Any hd, any ISA: the same blocks and order through ops_dot / ops_axpy; Z accumulates in
 * out[g][0..hd). qs: G*hd floats of scratch. */
static void dec_generic(int hd, int G, const float *q, float scale, const float *k, const float *v, int lo, int hi,
                        float **out, float *qs) {
    float M[2] = {-INFINITY, -INFINITY}, L[2] = {0, 0};
    float s[2][2][DEC_BLK];
    for (int g = 0; g < G; g++) {
        for (int i = 0; i < hd; i++) { qs[(size_t)g * hd + i] = q[(size_t)g * hd + i] * scale; out[g][i] = 0; }
    }
    int cur = 0, pj = 0, pn = 0;
    for (int j0 = lo;; j0 += DEC_BLK) {
        const int nb = j0 > hi ? 0 : (hi + 1 - j0 < DEC_BLK ? hi + 1 - j0 : DEC_BLK);
        const int nmax = nb > pn ? nb : pn;
        float bm[2] = {-INFINITY, -INFINITY};
        for (int j = 0; j < nmax; j++) {
            if (j < nb)
                for (int g = 0; g < G; g++) {
                    const float x = ops_dot(qs + (size_t)g * hd, k + (size_t)(j0 + j) * hd, hd);
                    s[cur][g][j] = x;
                    if (x > bm[g]) bm[g] = x;
                }
            if (j < pn)
                for (int g = 0; g < G; g++) ops_axpy(out[g], s[cur ^ 1][g][j], v + (size_t)(pj + j) * hd, hd);
        }
        if (!nb) break;
        for (int g = 0; g < G; g++) {
            float c;
            rescale(&M[g], &L[g], bm[g], &c);
            if (c != 1.0f) for (int i = 0; i < hd; i++) out[g][i] *= c;
            L[g] += ops_exp_sum(s[cur][g], nb, M[g]);
        }
        pj = j0; pn = nb; cur ^= 1;
    }
    for (int g = 0; g < G; g++) { out[g][hd] = M[g]; out[g][hd + 1] = L[g]; }
}

static void dec_task(void *ctx, int task, int thread) {
    const DecCtx *d = ctx;
    const AttnArgs *a = d->a;
    const int hd = a->hd, grp = a->H / a->KV, kh = task / d->nsplit, r = task % d->nsplit;
    const float *k = a->k + (size_t)kh * a->ldkv, *v = a->v + (size_t)kh * a->ldkv;
    float *qs = pool_scratch(thread, 1, 2 * (size_t)hd);
    if (!qs) return;
    for (int t = 0; t < a->n; t++) {
        const int last = a->p0 + t;
        int lo = attn_lo(a->window, last), hi = last;
        if (lo < r * d->split) lo = r * d->split;
        if (hi > (r + 1) * d->split - 1) hi = (r + 1) * d->split - 1;
        for (int g0 = 0; g0 < grp; g0 += 2) {
            const int G = grp - g0 < 2 ? grp - g0 : 2, h0 = kh * grp + g0;
            float *out[2] = {dec_part(d, t, h0, r), G > 1 ? dec_part(d, t, h0 + 1, r) : NULL};
            if (hi < lo) {   /* a range this query cannot see */
                for (int g = 0; g < G; g++) { memset(out[g], 0, sizeof(float) * (size_t)hd); out[g][hd] = -INFINITY; out[g][hd + 1] = 0; }
                continue;
            }
            const float *q = a->q + (size_t)t * a->ldq + (size_t)h0 * hd;
#if defined(__AVX512F__)
            if (fast_hd(hd)) {
                const int nv = hd / 16;
                if (nv == 8 && G == 2) dec512_8_2(q, a->scale, k, v, lo, hi, out);
                else if (nv == 8) dec512_8_1(q, a->scale, k, v, lo, hi, out);
                else if (nv == 4 && G == 2) dec512_4_2(q, a->scale, k, v, lo, hi, out);
                else if (nv == 4) dec512_4_1(q, a->scale, k, v, lo, hi, out);
                else dec512_any(nv, G, q, a->scale, k, v, lo, hi, out);
                continue;
            }
#endif
            dec_generic(hd, G, q, a->scale, k, v, lo, hi, out, qs);
        }
    }
}

size_t attn_decode_floats(int n, int H, int hd) {
    return (size_t)n * (size_t)H * DEC_MAX_SPLIT * ((size_t)hd + 2);
}

void attn_decode(const AttnArgs *a, float *part) {
    const int T = a->p0 + a->n, hd = a->hd;
    DecCtx d = {a, part, (T + DEC_SPLIT - 1) / DEC_SPLIT, 0};
    if (d.nsplit > DEC_MAX_SPLIT) d.nsplit = DEC_MAX_SPLIT;
    d.split = (T + d.nsplit - 1) / d.nsplit;
    pool_run(dec_task, &d, a->KV * d.nsplit);
    /* merge: z = sum_r e^(M_r - M) Z_r / sum_r e^(M_r - M) L_r, M = max_r M_r */
    for (int t = 0; t < a->n; t++)
        for (int h = 0; h < a->H; h++) {
            const float *p0 = dec_part(&d, t, h, 0);
            float *zo = a->z + (size_t)t * a->ldz + (size_t)h * hd;
            if (d.nsplit == 1) {   /* one range: exactly Z / L */
                const float inv = 1.0f / p0[hd + 1];
                for (int i = 0; i < hd; i++) zo[i] = p0[i] * inv;
                continue;
            }
            float M = -INFINITY, l = 0;
            for (int r = 0; r < d.nsplit; r++) if (p0[(size_t)r * (hd + 2) + hd] > M) M = p0[(size_t)r * (hd + 2) + hd];
            for (int i = 0; i < hd; i++) zo[i] = 0;
            for (int r = 0; r < d.nsplit; r++) {
                const float *pr = p0 + (size_t)r * (hd + 2);
                if (pr[hd] == -INFINITY) continue;
                const float w = expf(pr[hd] - M);
                l += w * pr[hd + 1];
                ops_axpy(zo, w, pr, hd);
            }
            const float inv = 1.0f / l;
            for (int i = 0; i < hd; i++) zo[i] *= inv;
        }
}

/* ---- prefill and the materialised path ------------------------------------------------ */

typedef struct { const AttnArgs *a; float *att; const float *catt; int nblk; } BlkCtx;

/* (head, block of ATTN_TB rows): S = Q K^T over the keys the block can see, masked softmax
 * per row, Z = P V. */
static void prefill_task(void *ctx, int task, int thread) {
    const BlkCtx *c = ctx;
    const AttnArgs *a = c->a;
    const int h = task / c->nblk, b = task % c->nblk, kh = h / (a->H / a->KV), hd = a->hd;
    const int t0 = b * ATTN_TB, tb = a->n - t0 < ATTN_TB ? a->n - t0 : ATTN_TB;
    const int last_max = a->p0 + t0 + tb - 1, lo_min = attn_lo(a->window, a->p0 + t0);
    const int nk = last_max + 1 - lo_min;
    float *S = pool_scratch(thread, 1, (size_t)ATTN_TB * (size_t)nk);
    if (!S) return;
    GemmB K = {a->k + (size_t)kh * a->ldkv + (size_t)lo_min * hd, DT_F32, (size_t)hd, false};
    gemm_rows(&K, 0, nk, a->q + (size_t)t0 * a->ldq + (size_t)h * hd, a->ldq, tb, hd, S, (size_t)nk, false, thread);
    for (int t = 0; t < tb; t++) {
        float *row = S + (size_t)t * nk;
        const int qpos = a->p0 + t0 + t, lo = attn_lo(a->window, qpos) - lo_min, hi = qpos - lo_min;
        float m = -INFINITY;
        for (int j = lo; j <= hi; j++) { row[j] *= a->scale; if (row[j] > m) m = row[j]; }
        for (int j = 0; j < lo; j++) row[j] = 0;
        for (int j = hi + 1; j < nk; j++) row[j] = 0;
        const float inv = 1.0f / ops_exp_sum(row + lo, hi + 1 - lo, m);
        for (int j = lo; j <= hi; j++) row[j] *= inv;
    }
    GemmB V = {a->v + (size_t)kh * a->ldkv + (size_t)lo_min * hd, DT_F32, (size_t)hd, true};
    gemm_rows(&V, 0, hd, S, (size_t)nk, tb, nk, a->z + (size_t)t0 * a->ldz + (size_t)h * hd, a->ldz, false, thread);
}

void attn_prefill(const AttnArgs *a) {
    BlkCtx c = {a, NULL, NULL, (a->n + ATTN_TB - 1) / ATTN_TB};
    pool_run(prefill_task, &c, a->H * c.nblk);
}

static void scores_task(void *ctx, int h, int thread) {
    const BlkCtx *c = ctx;
    const AttnArgs *a = c->a;
    const int kh = h / (a->H / a->KV), T = a->p0 + a->n;
    GemmB K = {a->k + (size_t)kh * a->ldkv, DT_F32, (size_t)a->hd, false};
    float *S = c->att + (size_t)h * a->n * (size_t)T;
    gemm_rows(&K, 0, T, a->q + (size_t)h * a->hd, a->ldq, a->n, a->hd, S, (size_t)T, false, thread);
    for (size_t i = 0; i < (size_t)a->n * (size_t)T; i++) S[i] *= a->scale;
}

static void values_task(void *ctx, int h, int thread) {
    const BlkCtx *c = ctx;
    const AttnArgs *a = c->a;
    const int kh = h / (a->H / a->KV), T = a->p0 + a->n;
    GemmB V = {a->v + (size_t)kh * a->ldkv, DT_F32, (size_t)a->hd, true};
    gemm_rows(&V, 0, a->hd, c->catt + (size_t)h * a->n * (size_t)T, (size_t)T, a->n, T,
              a->z + (size_t)h * a->hd, a->ldz, false, thread);
}

void attn_scores_all(const AttnArgs *a, float *att) {
    BlkCtx c = {a, att, NULL, 0};
    pool_run(scores_task, &c, a->H);
}

void attn_values_all(const AttnArgs *a, const float *att) {
    BlkCtx c = {a, NULL, att, 0};
    pool_run(values_task, &c, a->H);
}

/* ---- MLA ------------------------------------------------------------------------------- */

typedef struct { const MlaArgs *m; float *att; const float *catt; int nblk; } MlaCtx;

/* qabs[t,h,r] = sum_i q_nope[t,h,i] * W_UK[h,i,r] */
static void mla_absorb_task(void *ctx, int h, int thread) {
    (void)thread;
    const MlaCtx *c = ctx;
    const MlaArgs *m = c->m;
    const int H = m->H, nope = m->nope, dv = m->dv, R = m->R, dq = nope + m->rope;
    float rowbuf[1024];
    for (int t = 0; t < m->n; t++) {
        float *qa = m->qabs + ((size_t)t * H + (size_t)h) * (size_t)R;
        const float *qn = m->q + ((size_t)t * H + (size_t)h) * (size_t)dq;
        for (int r = 0; r < R; r++) qa[r] = 0;
        for (int i = 0; i < nope; i++) {
            const size_t off = ((size_t)h * (size_t)(nope + dv) + (size_t)i) * (size_t)R;
            for (int r0 = 0; r0 < R; r0 += 1024) {
                const int nr = R - r0 < 1024 ? R - r0 : 1024;
                tensor_row_f32(m->wkv_b, off + (size_t)r0, nr, rowbuf);
                for (int r = 0; r < nr; r++) qa[r0 + r] += qn[i] * rowbuf[r];
            }
        }
    }
}

void attn_mla_absorb(const MlaArgs *m) {
    MlaCtx c = {m, NULL, NULL, 0};
    pool_run(mla_absorb_task, &c, m->H);
}

/* z[t,h,:] = W_UV_h olat[t,h] */
static void mla_unabsorb(const MlaArgs *m, int h, int t) {
    const int nope = m->nope, dv = m->dv, R = m->R, H = m->H;
    const float *ol = m->olat + ((size_t)t * H + (size_t)h) * (size_t)R;
    float *zo = m->z + ((size_t)t * H + (size_t)h) * (size_t)dv;
    float rowbuf[1024];
    for (int i = 0; i < dv; i++) {
        const size_t off = ((size_t)h * (size_t)(nope + dv) + (size_t)(nope + i)) * (size_t)R;
        float acc = 0;
        for (int r0 = 0; r0 < R; r0 += 1024) {
            const int nr = R - r0 < 1024 ? R - r0 : 1024;
            tensor_row_f32(m->wkv_b, off + (size_t)r0, nr, rowbuf);
            for (int r = 0; r < nr; r++) acc += rowbuf[r] * ol[r0 + r];
        }
        zo[i] = acc;
    }
}

static void mla_scores_task(void *ctx, int h, int thread) {
    (void)thread;
    const MlaCtx *c = ctx;
    const MlaArgs *m = c->m;
    const int H = m->H, rope = m->rope, R = m->R, dq = m->nope + rope, T = m->p0 + m->n;
    for (int t = 0; t < m->n; t++) {
        const float *qa = m->qabs + ((size_t)t * H + (size_t)h) * (size_t)R;
        const float *qp = m->q + ((size_t)t * H + (size_t)h) * (size_t)dq + m->nope;
        float *row = c->att + ((size_t)h * m->n + (size_t)t) * (size_t)T;
        for (int j = 0; j <= m->p0 + t; j++)
            row[j] = (ops_dot(qa, m->c + (size_t)j * R, R) + ops_dot(qp, m->kpe + (size_t)j * rope, rope)) * m->scale;
    }
}

/* olat[t,h] = sum_j p_j c_kv_j, then z */
static void mla_values_task(void *ctx, int h, int thread) {
    (void)thread;
    const MlaCtx *c = ctx;
    const MlaArgs *m = c->m;
    const int H = m->H, R = m->R, T = m->p0 + m->n;
    for (int t = 0; t < m->n; t++) {
        float *ol = m->olat + ((size_t)t * H + (size_t)h) * (size_t)R;
        const float *row = c->catt + ((size_t)h * m->n + (size_t)t) * (size_t)T;
        for (int r = 0; r < R; r++) ol[r] = 0;
        for (int j = 0; j <= m->p0 + t; j++)
            if (row[j] != 0) ops_axpy(ol, row[j], m->c + (size_t)j * R, R);
        mla_unabsorb(m, h, t);
    }
}

void attn_mla_scores_all(const MlaArgs *m, float *att) {
    MlaCtx c = {m, att, NULL, 0};
    pool_run(mla_scores_task, &c, m->H);
}

void attn_mla_values_all(const MlaArgs *m, const float *att) {
    MlaCtx c = {m, NULL, att, 0};
    pool_run(mla_values_task, &c, m->H);
}

/* Fused, (head, block of ATTN_TB rows): S = qabs C^T + q_pe K_pe^T over the keys the block
 * can see (GEMM; one row: dots), scaled, causal softmax, olat = P C, z = W_UV olat. */
static void mla_fused_task(void *ctx, int task, int thread) {
    const MlaCtx *c = ctx;
    const MlaArgs *m = c->m;
    const int H = m->H, R = m->R, rope = m->rope, dq = m->nope + rope;
    const int h = task / c->nblk, b = task % c->nblk;
    const int t0 = b * ATTN_TB, tb = m->n - t0 < ATTN_TB ? m->n - t0 : ATTN_TB;
    const int nk = m->p0 + t0 + tb;
    float *S = pool_scratch(thread, 1, (size_t)ATTN_TB * (size_t)nk);
    if (!S) return;
    const float *qa = m->qabs + ((size_t)t0 * H + (size_t)h) * (size_t)R;
    const float *qp = m->q + ((size_t)t0 * H + (size_t)h) * (size_t)dq + m->nope;
    float *ol = m->olat + ((size_t)t0 * H + (size_t)h) * (size_t)R;
    if (tb == 1) {
        float *S2 = pool_scratch(thread, 2, (size_t)nk);
        if (!S2) return;
        ops_rows_dot(m->c, (size_t)R, nk, qa, R, S);
        ops_rows_dot(m->kpe, (size_t)rope, nk, qp, rope, S2);
        for (int j = 0; j < nk; j++) S[j] += S2[j];
    } else {
        GemmB C = {m->c, DT_F32, (size_t)R, false}, P = {m->kpe, DT_F32, (size_t)rope, false};
        gemm_rows(&C, 0, nk, qa, (size_t)H * R, tb, R, S, (size_t)nk, false, thread);
        gemm_rows(&P, 0, nk, qp, (size_t)H * dq, tb, rope, S, (size_t)nk, true, thread);
    }
    for (int t = 0; t < tb; t++) {
        float *row = S + (size_t)t * nk;
        const int hi = m->p0 + t0 + t;
        float mx = -INFINITY;
        for (int j = 0; j <= hi; j++) { row[j] *= m->scale; if (row[j] > mx) mx = row[j]; }
        for (int j = hi + 1; j < nk; j++) row[j] = 0;
        const float inv = 1.0f / ops_exp_sum(row, hi + 1, mx);
        for (int j = 0; j <= hi; j++) row[j] *= inv;
    }
    if (tb == 1) {
        for (int r = 0; r < R; r++) ol[r] = 0;
        ops_rows_axpy(ol, S, m->c, (size_t)R, nk, R);
    } else {
        GemmB Ct = {m->c, DT_F32, (size_t)R, true};
        gemm_rows(&Ct, 0, R, S, (size_t)nk, tb, nk, ol, (size_t)H * R, false, thread);
    }
    for (int t = 0; t < tb; t++) mla_unabsorb(m, h, t0 + t);
}

void attn_mla_fused(const MlaArgs *m) {
    MlaCtx c = {m, NULL, NULL, (m->n + ATTN_TB - 1) / ATTN_TB};
    pool_run(mla_fused_task, &c, m->H * c.nblk);
}
