/* The engine's numeric kernels against plain reference loops: the packed GEMM (every kernel
 * set this CPU runs, f32/bf16/f16, B by rows and by columns, odd sizes and tails), the
 * four-row matvec, the row kernels of decode attention (scores over a run of keys, a pattern
 * row times a run of values), decode attention (attn_decode) against softmax in double, the
 * vectorised exp, the worker pool, and the three attention paths (fused prefill, fused decode,
 * materialised pattern) against each other on real models (standard and MLA). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/logitlens.h"
#include "analysis/stats.h"
#include "engine/attn.h"
#include "engine/engine.h"
#include "engine/gemm.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "harness.h"
#include "trace/export.h"

static uint64_t g_rng = 88172645463325252ull;
static float urand(void) {   /* [-1, 1) */
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (float)(g_rng >> 40) / (float)(1 << 23) - 1.0f;
}

static uint16_t to_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)(u >> 16); }
static uint16_t to_f16(float f) {   /* values in [-1, 1): normal or zero, truncated */
    uint32_t u; memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, e = (u >> 23) & 0xff;
    if (e < 113) return (uint16_t)sign;
    return (uint16_t)(sign | ((e - 112) << 10) | ((u >> 13) & 0x3ff));
}

/* B as given (dtype, layout) and its exact f32 values b[r*k + c]. */
typedef struct { void *data; float *ref; GemmB B; } TestB;

static TestB make_b(int rows, int k, DType dt, bool by_cols) {
    TestB t;
    size_t n = (size_t)rows * (size_t)k;
    t.ref = malloc(sizeof(float) * n);
    t.data = malloc(n * (dt == DT_F32 ? 4 : 2));
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < k; c++) {
            float v = urand();
            size_t at = by_cols ? (size_t)c * (size_t)rows + (size_t)r : (size_t)r * (size_t)k + (size_t)c;
            if (dt == DT_F32) ((float *)t.data)[at] = v;
            else if (dt == DT_BF16) { uint16_t h = to_bf16(v); ((uint16_t *)t.data)[at] = h; v = bf16_to_f32(h); }
            else { uint16_t h = to_f16(v); ((uint16_t *)t.data)[at] = h; v = f16_to_f32(h); }
            t.ref[(size_t)r * (size_t)k + (size_t)c] = v;
        }
    t.B = (GemmB){t.data, dt, by_cols ? (size_t)rows : (size_t)k, by_cols};
    return t;
}

TEST(gemm_matches_reference_loop_on_every_kernel_set) {
    const int ns[] = {1, 3, 7, 8, 9, 13}, rs[] = {1, 5, 31, 33, 70}, ks[] = {1, 17, 255, 256, 257, 600};
    const DType dts[] = {DT_F32, DT_BF16, DT_F16};
    int prev = gemm_isa(), tried = 0;
    double worst = 0;
    for (int isa = GEMM_ISA_GENERIC; isa <= GEMM_ISA_AVX512; isa++) {
        if (!gemm_set_isa(isa)) continue;
        tried++;
        for (int di = 0; di < 3; di++)
            for (int lay = 0; lay < 2; lay++)
                for (int ri = 0; ri < 5; ri++)
                    for (int ki = 0; ki < 6; ki++)
                        for (int ni = 0; ni < 6; ni += (ki == 2 ? 1 : 2)) {
                            const int n = ns[ni], rows = rs[ri], k = ks[ki];
                            TestB b = make_b(rows, k, dts[di], lay == 1);
                            float *X = malloc(sizeof(float) * (size_t)n * (size_t)(k + 3));
                            float *Y = malloc(sizeof(float) * (size_t)n * (size_t)(rows + 2));
                            for (size_t i = 0; i < (size_t)n * (size_t)(k + 3); i++) X[i] = urand();
                            for (size_t i = 0; i < (size_t)n * (size_t)(rows + 2); i++) Y[i] = urand();
                            float *Y0 = malloc(sizeof(float) * (size_t)n * (size_t)(rows + 2));
                            memcpy(Y0, Y, sizeof(float) * (size_t)n * (size_t)(rows + 2));
                            const bool acc = (ri + ki) % 2 == 1;
                            /* strided X and Y (ldx = k + 3, ldy = rows + 2) */
                            if (acc) gemm_rows(&b.B, 0, rows, X, (size_t)k + 3, n, k, Y, (size_t)rows + 2, true, 0);
                            else gemm(&b.B, rows, X, (size_t)k + 3, n, k, Y, (size_t)rows + 2);
                            for (int t = 0; t < n; t++)
                                for (int r = 0; r < rows + 2; r++) {
                                    size_t at = (size_t)t * (size_t)(rows + 2) + (size_t)r;
                                    if (r >= rows) { CHECK(Y[at] == Y0[at]); continue; }   /* untouched */
                                    double s = acc ? Y0[at] : 0, mag = acc ? fabs(Y0[at]) : 0;
                                    for (int c = 0; c < k; c++) {
                                        double p = (double)X[(size_t)t * (size_t)(k + 3) + (size_t)c] * b.ref[(size_t)r * (size_t)k + (size_t)c];
                                        s += p;
                                        mag += fabs(p);
                                    }
                                    double err = fabs(Y[at] - s) / (mag + 1e-30);
                                    if (err > worst) worst = err;
                                    if (err > 1e-6) {
                                        CHECK_MSG(0, "%s dtype %d cols %d n %d rows %d k %d acc %d: Y[%d][%d] = %.9g, want %.9g",
                                                  gemm_isa_name(isa), dts[di], lay, n, rows, k, acc, t, r, Y[at], s);
                                        t = n; break;
                                    }
                                }
                            free(X); free(Y); free(Y0); free(b.data); free(b.ref);
                        }
    }
    gemm_set_isa(prev);
    CHECK(tried >= 1);
    fprintf(stderr, "      kernel sets tried %d (in use: %s), worst relative error %.2g\n", tried, gemm_isa_name(prev), worst);
}

TEST(matvec_four_rows_matches_reference_loop) {
    const int rs[] = {1, 3, 4, 5, 7, 37, 1000}, cs[] = {1, 7, 15, 16, 17, 33, 100, 1030};
    const DType dts[] = {DT_F32, DT_BF16, DT_F16};
    const int prev = engine_get_threads();
    for (int th = 1; th <= 3; th += 2) {
        engine_set_threads(th);
        for (int di = 0; di < 3; di++)
            for (int ri = 0; ri < 7; ri++)
                for (int ci = 0; ci < 8; ci++) {
                    int rows = rs[ri], cols = cs[ci];
                    TestB b = make_b(rows, cols, dts[di], false);
                    Tensor W = {0};
                    W.data = b.data; W.dtype = dts[di]; W.rows = rows; W.cols = cols;
                    float *x = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)rows);
                    for (int i = 0; i < cols; i++) x[i] = urand();
                    matvec(&W, x, y);
                    for (int r = 0; r < rows; r++) {
                        double s = 0, mag = 0;
                        for (int c = 0; c < cols; c++) { double p = (double)b.ref[(size_t)r * cols + c] * x[c]; s += p; mag += fabs(p); }
                        if (fabs(y[r] - s) > 1e-6 * mag + 1e-30) {
                            CHECK_MSG(0, "threads %d dtype %d rows %d cols %d: y[%d] = %.9g, want %.9g", th, dts[di], rows, cols, r, y[r], s);
                            break;
                        }
                    }
                    T_->checks++;
                    free(x); free(y); free(b.data); free(b.ref);
                }
    }
    engine_set_threads(prev);
}

/* ops_rows_dot / ops_rows_axpy / ops_axpy (decode attention over a run of cached keys and
 * values, rows ld apart) against double loops, on run lengths around the four-row step and
 * widths around the vector width. */
TEST(attention_row_kernels_match_reference_loops) {
    const int rs[] = {1, 3, 4, 5, 8, 255, 257}, ns[] = {1, 7, 8, 9, 64, 128, 130};
    for (int ri = 0; ri < 7; ri++)
        for (int ni = 0; ni < 7; ni++) {
            const int rows = rs[ri], n = ns[ni];
            const size_t ld = (size_t)n + 3;   /* rows are not packed */
            float *W = malloc(sizeof(float) * (size_t)rows * ld), *x = malloc(sizeof(float) * (size_t)n);
            float *y = malloc(sizeof(float) * (size_t)rows), *p = malloc(sizeof(float) * (size_t)rows);
            float *z = malloc(sizeof(float) * (size_t)n), *z0 = malloc(sizeof(float) * (size_t)n), *z1 = malloc(sizeof(float) * (size_t)n);
            for (size_t i = 0; i < (size_t)rows * ld; i++) W[i] = urand();
            for (int i = 0; i < n; i++) { x[i] = urand(); z0[i] = z[i] = z1[i] = urand(); }
            for (int r = 0; r < rows; r++) p[r] = 0.5f * (urand() + 1.0f);
            ops_rows_dot(W, ld, rows, x, n, y);
            ops_rows_axpy(z, p, W, ld, rows, n);
            ops_axpy(z1, p[0], W, n);
            double worst = 0, worst_ax = 0, worst1 = 0;
            for (int r = 0; r < rows; r++) {
                double s = 0, mag = 0;
                for (int i = 0; i < n; i++) { double t = (double)W[(size_t)r * ld + i] * x[i]; s += t; mag += fabs(t); }
                worst = fmax(worst, fabs(y[r] - s) / (mag + 1e-30));
            }
            for (int i = 0; i < n; i++) {
                double s = z0[i], mag = fabs(z0[i]);
                for (int r = 0; r < rows; r++) { double t = (double)p[r] * W[(size_t)r * ld + i]; s += t; mag += fabs(t); }
                worst_ax = fmax(worst_ax, fabs(z[i] - s) / (mag + 1e-30));
                double s1 = (double)z0[i] + (double)p[0] * W[i];
                worst1 = fmax(worst1, fabs(z1[i] - s1) / (fabs(z0[i]) + fabs((double)p[0] * W[i]) + 1e-30));
            }
            CHECK_MSG(worst < 1e-6, "ops_rows_dot rows %d n %d: relative error %g", rows, n, worst);
            CHECK_MSG(worst_ax < 1e-6, "ops_rows_axpy rows %d n %d: relative error %g", rows, n, worst_ax);
            CHECK_MSG(worst1 < 1e-6, "ops_axpy n %d: relative error %g", n, worst1);
            free(W); free(x); free(y); free(p); free(z); free(z0); free(z1);
        }
}

/* attn_decode (key ranges, pipelined blocks, online softmax, merged partials) against the
 * softmax computed in double, on head sizes of every code path (AVX-512 registers for 64 and
 * 128, the any-width AVX-512 kernel for 16 and 48, the portable one for 24 and 144), group
 * sizes 1, 2, 3 and 8, contexts around the block (32) and range (256) edges, up to 3 query
 * rows, with and without a sliding window, at 1 and 2 threads; attn_row_scores against the
 * double dot. */
TEST(decode_attention_matches_softmax_in_double) {
    static const int shapes[][3] = {{16, 8, 128}, {4, 4, 64}, {6, 2, 16}, {3, 1, 48}, {8, 1, 24}, {2, 2, 144}, {16, 2, 128}};
    static const int ctxs[] = {1, 31, 33, 256, 257, 1000};
    const int prev = engine_get_threads();
    double worst = 0, worst_row = 0;
    int cases = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t ci = 0; ci < sizeof ctxs / sizeof ctxs[0]; ci++)
            for (int variant = 0; variant < 2; variant++) {
                const int H = shapes[si][0], KV = shapes[si][1], hd = shapes[si][2], T = ctxs[ci];
                const int n = 1 + (int)((si + ci) % 3) < T ? 1 + (int)((si + ci) % 3) : T, p0 = T - n;
                const int window = variant ? 50 : 0, cap = T + 5;
                engine_set_threads(variant ? 1 : 2);
                const size_t ldkv = (size_t)cap * hd;
                float *k = malloc(sizeof(float) * ldkv * KV), *v = malloc(sizeof(float) * ldkv * KV);
                float *q = malloc(sizeof(float) * (size_t)n * H * hd), *z = malloc(sizeof(float) * (size_t)n * H * hd);
                float *part = malloc(sizeof(float) * attn_decode_floats(n, H, hd)), *row = malloc(sizeof(float) * (size_t)T);
                double *p = malloc(sizeof(double) * (size_t)T);
                REQUIRE(k && v && q && z && part && row && p);
                for (size_t i = 0; i < ldkv * KV; i++) { k[i] = urand(); v[i] = urand(); }
                for (int i = 0; i < n * H * hd; i++) q[i] = 3.0f * urand();
                const float scale = 1.0f / sqrtf((float)hd);
                AttnArgs a = {.q = q, .ldq = (size_t)H * hd, .k = k, .v = v, .ldkv = ldkv, .z = z, .ldz = (size_t)H * hd,
                              .n = n, .p0 = p0, .H = H, .KV = KV, .hd = hd, .window = window, .scale = scale};
                attn_decode(&a, part);
                for (int t = 0; t < n; t++)
                    for (int h = 0; h < H; h++) {
                        const int pos = p0 + t, lo = attn_lo(window, pos), kh = h / (H / KV);
                        const float *qh = q + ((size_t)t * H + h) * hd, *kk = k + (size_t)kh * ldkv, *vv = v + (size_t)kh * ldkv;
                        double m = -INFINITY, l = 0;
                        for (int j = lo; j <= pos; j++) {
                            double s = 0;
                            for (int i = 0; i < hd; i++) s += (double)qh[i] * kk[(size_t)j * hd + i];
                            p[j] = s * scale;
                            if (p[j] > m) m = p[j];
                        }
                        attn_row_scores(kk, hd, lo, pos, qh, scale, row);
                        for (int j = lo; j <= pos; j++) worst_row = fmax(worst_row, fabs(row[j - lo] - p[j]) / (1.0 + fabs(p[j])));
                        for (int j = lo; j <= pos; j++) { p[j] = exp(p[j] - m); l += p[j]; }
                        for (int i = 0; i < hd; i++) {
                            double acc = 0;
                            for (int j = lo; j <= pos; j++) acc += p[j] * vv[(size_t)j * hd + i];
                            worst = fmax(worst, fabs(z[((size_t)t * H + h) * hd + i] - acc / l));
                        }
                    }
                cases++;
                free(k); free(v); free(q); free(z); free(part); free(row); free(p);
            }
    engine_set_threads(prev);
    printf("      %d cases, worst |z - z_double| %.2g, worst score %.2g (relative)\n", cases, worst, worst_row);
    CHECK_EQ_INT(cases, 84);
    CHECK_MSG(worst < 2e-6, "decode attention differs from softmax in double by %g", worst);
    CHECK_MSG(worst_row < 2e-6, "attn_row_scores differs from the double dot by %g", worst_row);
}

TEST(vectorised_exp_matches_libm) {
    enum { N = 4099 };
    static float x[N];
    double worst = 0;
    for (int i = 0; i < N; i++) x[i] = -100.0f + 180.0f * (float)i / (float)(N - 1);
    x[5] = -INFINITY;
    float sum = ops_exp_sum(x, N, 0.0f);
    double want_sum = 0;
    for (int i = 0; i < N; i++) {
        float in = -100.0f + 180.0f * (float)i / (float)(N - 1);
        if (i == 5) { CHECK(x[i] == 0.0f); continue; }
        double want = exp((double)in);
        want_sum += want;
        if (in < -87.0f) { CHECK(x[i] < 1e-37f); continue; }
        double rel = fabs(x[i] - want) / want;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 4e-7, "worst relative error %g", worst);
    CHECK_NEAR(sum / want_sum, 1.0, 1e-6);
    /* softmax rows still sum to one and keep -inf at zero */
    float row[13];
    for (int i = 0; i < 13; i++) row[i] = i == 4 ? -INFINITY : urand() * 30;
    softmax_inplace(row, 13);
    double s = 0;
    for (int i = 0; i < 13; i++) s += row[i];
    CHECK_NEAR(s, 1.0, 1e-6);
    CHECK(row[4] == 0.0f);
}

typedef struct { _Atomic int *hits; int n; } PoolT;
static void inner_task(void *ctx, int task, int thread) {
    PoolT *p = ctx;
    if (thread == 0) atomic_fetch_add(&p->hits[task], 1);   /* serial: on the calling thread */
}
static void count_task(void *ctx, int task, int thread) {
    PoolT *p = ctx;
    (void)thread;
    atomic_fetch_add(&p->hits[task], 1);
    if (task == 0) {   /* a nested run goes serially on this thread */
        _Atomic int inner[5];
        PoolT q = {inner, 5};
        for (int i = 0; i < 5; i++) atomic_store(&inner[i], 0);
        pool_run(inner_task, &q, 5);
        for (int i = 0; i < 5; i++) if (atomic_load(&inner[i]) != 1) atomic_fetch_add(&p->hits[0], 100);
    }
}

TEST(pool_runs_every_task_exactly_once) {
    const int prev = engine_get_threads();
    CHECK(engine_default_threads() >= 1);
    for (int th = 1; th <= 4; th++) {
        engine_set_threads(th);
        CHECK_EQ_INT(engine_get_threads(), th);
        for (int rep = 0; rep < 200; rep++) {
            int n = 1 + rep % 37;
            _Atomic int hits[40];
            for (int i = 0; i < 40; i++) atomic_store(&hits[i], 0);
            PoolT p = {hits, n};
            pool_run(count_task, &p, n);
            int bad = 0;
            for (int i = 0; i < 40; i++) if (atomic_load(&hits[i]) != (i < n)) bad++;
            if (bad) { CHECK_MSG(0, "threads %d run %d: %d tasks not run exactly once", th, rep, bad); break; }
        }
        T_->checks++;
    }
    engine_set_threads(prev);
}

/* logits of the last position after prefill of n ids, with or without a pattern hook. */
static float *run_logits(Model *m, const int *ids, int n, bool pattern_hook, bool one_by_one, int threads) {
    Err e = {0};
    engine_set_threads(threads);
    Engine *en = engine_new(m, 512, &e);
    if (!en) return NULL;
    Hooks *h = NULL;
    Export *x = NULL;
    if (pattern_hook) {
        h = hooks_new();
        x = export_new(h, "blocks.1.attn.hook_pattern", &e);
        if (x) export_set_positions(x, n);
        engine_set_hooks(en, h);
    }
    float *lg = NULL;
    if (one_by_one) for (int i = 0; i < n; i++) lg = engine_forward(en, &ids[i], 1, false, &e);
    else lg = engine_forward(en, ids, n, false, &e);
    float *out = NULL;
    if (lg) {
        out = malloc(sizeof(float) * (size_t)m->spec.vocab_size);
        memcpy(out, lg, sizeof(float) * (size_t)m->spec.vocab_size);
    }
    engine_free(en);
    if (x) export_free(x);
    if (h) hooks_free(h);
    return out;
}

TEST(attention_paths_agree_past_chunk_and_block_edges) {
    static const char *const models[] = {"assets/models/story-gqa", "assets/models/story-mla"};
    for (int mi = 0; mi < 2; mi++) {
        Err e = {0};
        Model *m = model_load(models[mi], false, &e);
        if (!m) SKIP("bundled %s not found: %s", models[mi], e.msg);
        enum { N = 300 };   /* > one 256-token chunk, > four 64-row attention blocks */
        int ids[N];
        for (int i = 0; i < N; i++) ids[i] = (i * 7919 + 3) % m->spec.vocab_size;
        const int prev = engine_get_threads();
        float *fused = run_logits(m, ids, N, false, false, 2);
        float *hooked = run_logits(m, ids, N, true, false, 2);
        float *decode = run_logits(m, ids, N, false, true, 2);
        float *single = run_logits(m, ids, N, false, false, 1);
        engine_set_threads(prev);
        REQUIRE(fused && hooked && decode && single);
        double d1 = 0, d2 = 0, d3 = 0, mag = 0;
        for (int i = 0; i < m->spec.vocab_size; i++) {
            d1 = fmax(d1, fabs(fused[i] - hooked[i]));
            d2 = fmax(d2, fabs(fused[i] - decode[i]));
            d3 = fmax(d3, fabs(fused[i] - single[i]));
            mag = fmax(mag, fabs(fused[i]));
        }
        printf("      %s: fused vs materialised %.2g, vs decode %.2g, 2 vs 1 threads %.2g (logits up to %.2g)\n",
               models[mi], d1, d2, d3, mag);
        CHECK(mag > 0.1);
        CHECK_MSG(d1 < 1e-4, "%s: fused prefill vs materialised pattern path: %g", models[mi], d1);
        CHECK_MSG(d2 < 1e-4, "%s: fused prefill vs token-by-token decode: %g", models[mi], d2);
        CHECK_MSG(d3 < 1e-4, "%s: 2 threads vs 1: %g", models[mi], d3);
        free(fused); free(hooked); free(decode); free(single);
        model_free(m);
    }
}

/* The logit lens of several rows in one GEMM pass (the Residual panel) and of one row
 * (logitlens_topk) against a plain reference: final RMSNorm, W_U x and the softmax in double. */
TEST(logit_lens_rows_match_reference) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    if (!m) SKIP("bundled story-gqa not found: %s", e.msg);
    const int d = m->spec.d_model, V = m->spec.vocab_size, n = 7;
    REQUIRE(m->spec.norm == NORM_RMSNORM);
    float *X = malloc(sizeof(float) * (size_t)n * d), *scratch = malloc(sizeof(float) * (size_t)(V + d));
    double *lg = malloc(sizeof(double) * (size_t)V), *xn = malloc(sizeof(double) * (size_t)d);
    int ids[7], id1;
    float probs[7], p1;
    for (int i = 0; i < n * d; i++) X[i] = 3.0f * urand();
    REQUIRE(logitlens_top1_rows(m, X, n, ids, probs));
    for (int r = 0; r < n; r++) {
        const float *x = X + (size_t)r * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)x[i] * x[i];
        double sc = 1.0 / sqrt(ss / d + m->spec.norm_eps);
        for (int i = 0; i < d; i++) xn[i] = (double)tensor_get(&m->w.lnf_w, (size_t)i) * (double)(float)(x[i] * (float)sc);
        int best = 0;
        for (int v = 0; v < V; v++) {
            double acc = 0;
            for (int i = 0; i < d; i++) acc += (double)tensor_get(&m->w.lm_head, (size_t)v * d + i) * xn[i];
            lg[v] = acc;
            if (acc > lg[best]) best = v;
        }
        double se = 0;
        for (int v = 0; v < V; v++) se += exp(lg[v] - lg[best]);
        CHECK_MSG(ids[r] == best, "row %d: lens top-1 %d, reference %d", r, ids[r], best);
        CHECK_MSG(fabs(probs[r] - 1.0 / se) < 1e-5 * (1.0 / se) + 1e-7, "row %d: p %.9g, reference %.9g", r, probs[r], 1.0 / se);
        REQUIRE(logitlens_topk(m, x, 1, &id1, &p1, scratch));
        CHECK_MSG(id1 == best && fabs(p1 - 1.0 / se) < 1e-5 * (1.0 / se) + 1e-7, "row %d single: %d %.9g, reference %d %.9g", r, id1, p1, best, 1.0 / se);
    }
    free(X); free(scratch); free(lg); free(xn);
    model_free(m);
}

/* The single-row lens (logitlens_topk, for lesson values and derived.c) finds its top-1 with the
 * rows' 8-lane routine when k is 1; the result must be what the compare-and-branch search
 * (stats_topk, the k > 1 route) gives, to the bit: k = 1 against the first of k = 2 and of k = V
 * over random rows at several scales, a row of zeros (every logit tied: the first id), and a row
 * of NaN (every logit NaN: id -1 and probability 0, where the k = 1 route used to read the logit
 * before the row, logits[-1]). */
TEST(logit_lens_single_row_top1_as_topk) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    if (!m) SKIP("bundled story-gqa not found: %s", e.msg);
    const int d = m->spec.d_model, V = m->spec.vocab_size, n = 64;
    float *x = malloc(sizeof(float) * (size_t)d), *scratch = malloc(sizeof(float) * (size_t)(V + d));
    int *ids = malloc(sizeof(int) * (size_t)V), id1;
    float *probs = malloc(sizeof(float) * (size_t)V), p1;
    REQUIRE(x && scratch && ids && probs);
    for (int r = 0; r < n + 2; r++) {
        for (int i = 0; i < d; i++) x[i] = r == n ? 0.0f : r == n + 1 ? NAN : (float)(r % 7 + 1) * urand();
        REQUIRE(logitlens_topk(m, x, 1, &id1, &p1, scratch));
        for (int k = 2; k <= V; k += V - 2) {
            REQUIRE(logitlens_topk(m, x, k, ids, probs, scratch));
            CHECK_MSG(id1 == ids[0] && !memcmp(&p1, &probs[0], sizeof p1), "row %d: k=1 gives %d %.9g, k=%d %d %.9g", r, id1, p1, k, ids[0], probs[0]);
        }
    }
    CHECK_MSG(id1 == -1 && p1 == 0.0f, "a row of NaN: %d %g", id1, p1);
    for (int i = 0; i < d; i++) x[i] = 0.0f;
    REQUIRE(logitlens_topk(m, x, 1, &id1, &p1, scratch));
    int first = 0;   /* the zero row's logits are lm_head's dot with 0 (no bias): all tied, unless the weights give otherwise */
    for (int v = 1; v < V; v++) if (scratch[v] > scratch[first]) first = v;
    CHECK_MSG(id1 == first, "the zero row: %d, the first maximum %d", id1, first);
    free(x); free(scratch); free(ids); free(probs);
    model_free(m);
}

/* The lens's top-1 and softmax over rows of logits (logitlens_top1_of_logits, the Residual panel's
 * tail, one pool task per row): against a plain reference in double, the same bits at 1, 2 and 3
 * threads, and the edge rows: a tie (the first id wins), the largest value first or last, NaN
 * skipped, a row of NaN only (-1, 0). Rows of a 151,936-token vocabulary (Qwen3's). */
TEST(logit_lens_top1_tail_rows_match_reference) {
    const int V = 151936, n = 9;
    float *L = malloc(sizeof(float) * (size_t)n * V);
    REQUIRE(L);
    for (size_t i = 0; i < (size_t)n * V; i++) L[i] = 4.0f * urand();
    float *r;
    r = L + (size_t)1 * V; r[100] = 50.0f; r[90000] = 50.0f;                      /* a tie: 100 */
    r = L + (size_t)2 * V; r[0] = 30.0f;                                           /* first */
    r = L + (size_t)3 * V; r[V - 1] = 30.0f;                                       /* last */
    r = L + (size_t)4 * V; r[7] = NAN; r[8] = 20.0f; r[9] = NAN;                   /* NaN skipped */
    r = L + (size_t)5 * V; for (int i = 0; i < V; i++) r[i] = NAN;                /* nothing to pick */
    r = L + (size_t)6 * V; for (int i = 0; i < V; i++) r[i] = -1e4f + 1e-3f * (float)(i % 1000);   /* flat, far below 0 */
    int ids[3][9];
    float probs[3][9];
    const int prev = engine_get_threads();
    for (int th = 1; th <= 3; th++) {
        engine_set_threads(th);
        logitlens_top1_of_logits(L, n, V, ids[th - 1], probs[th - 1]);
    }
    engine_set_threads(prev);
    for (int k = 0; k < n; k++) {
        const float *l = L + (size_t)k * V;
        int best = -1;
        for (int i = 0; i < V; i++)
            if (!isnan(l[i]) && (best < 0 || l[i] > l[best])) best = i;
        double se = 0;
        for (int i = 0; best >= 0 && i < V; i++)
            if (!isnan(l[i])) se += exp((double)l[i] - (double)l[best]);
        const double want = best >= 0 ? 1.0 / se : 0.0;
        CHECK_MSG(ids[0][k] == best, "row %d: top-1 %d, reference %d", k, ids[0][k], best);
        CHECK_MSG(fabs(probs[0][k] - want) <= 1e-5 * want, "row %d: p %.9g, reference %.9g", k, probs[0][k], want);
        for (int t = 1; t < 3; t++)
            CHECK_MSG(ids[t][k] == ids[0][k] && !memcmp(&probs[t][k], &probs[0][k], sizeof(float)), "row %d: %d threads %d %.9g, 1 thread %d %.9g",
                      k, t + 1, ids[t][k], probs[t][k], ids[0][k], probs[0][k]);
    }
    CHECK(ids[0][1] == 100 && ids[0][2] == 0 && ids[0][3] == V - 1 && ids[0][4] == 8 && ids[0][5] == -1 && probs[0][5] == 0);
    free(L);
    /* the top-1 is stats_topk's (the lens's rule before it ran in 8 lanes) on short rows too, whose
     * end is not a multiple of 8, and on rows of infinities and NaN */
    static const struct { int V, at; float fill, top; int nan_at; } sh[] = {
        {1003, 1001, 0.5f, 2.0f, -1}, {1003, 1002, 0.5f, 2.0f, 1001}, {7, 6, 0.0f, 1.0f, 0}, {8, 3, -1.0f, -0.5f, 2},
        {9, 8, -INFINITY, -INFINITY, 0}, {16, 5, -INFINITY, 1.0f, 4}, {12, 11, NAN, -INFINITY, -1}, {13, 0, 1.0f, 1.0f, 12}};
    for (size_t c = 0; c < sizeof sh / sizeof sh[0]; c++) {
        float row[1003];
        for (int i = 0; i < sh[c].V; i++) row[i] = sh[c].fill;
        row[sh[c].at] = sh[c].top;
        if (sh[c].nan_at >= 0) row[sh[c].nan_at] = NAN;
        int want, got;
        float p;
        stats_topk(row, sh[c].V, 1, &want);
        logitlens_top1_of_logits(row, 1, sh[c].V, &got, &p);
        CHECK_MSG(got == want, "row %zu (V %d): top-1 %d, stats_topk %d", c, sh[c].V, got, want);
    }
}

/* The Residual panel's lens in pieces (logitlens_job_*, a piece per frame): every logit is the
 * float one GEMM over the whole unembedding gives (matmul, what logitlens_top1_rows did in one
 * call before the pieces), and the top-1 and probabilities are the same bits, for pieces of 1,
 * 7, 32, 100, 1000 rows, random sizes, and at 1, 2 and 3 threads. */
TEST(logit_lens_in_pieces_same_bits) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    if (!m) SKIP("bundled story-gqa not found: %s", e.msg);
    const int d = m->spec.d_model, V = m->spec.vocab_size, n = 7;
    float *X = malloc(sizeof(float) * (size_t)n * d), *xn = malloc(sizeof(float) * (size_t)n * d);
    float *ref = malloc(sizeof(float) * (size_t)n * V);
    REQUIRE(X && xn && ref);
    for (int i = 0; i < n * d; i++) X[i] = 3.0f * urand();
    for (int r = 0; r < n; r++) rmsnorm(xn + (size_t)r * d, X + (size_t)r * d, &m->w.lnf_w, d, m->spec.norm_eps, NULL);
    const int prev = engine_get_threads();
    engine_set_threads(2);
    matmul(&m->w.lm_head, xn, n, ref);   /* the old route: one GEMM over every row of W_U */
    int rid[7], ids[7];
    float rp[7], probs[7];
    logitlens_top1_of_logits(ref, n, V, rid, rp);
    REQUIRE(logitlens_top1_rows(m, X, n, ids, probs));
    CHECK(!memcmp(ids, rid, sizeof ids) && !memcmp(probs, rp, sizeof probs));
    const int sizes[] = {1, 7, 32, 100, 1000, -1};
    for (int th = 1; th <= 3; th++) {
        engine_set_threads(th);
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            LensJob *j = logitlens_job_new(m, X, n);
            REQUIRE(j);
            int steps = 0;
            CHECK(!logitlens_job_finish(j, ids, probs));   /* nothing yet */
            for (bool done = false; !done; steps++) {
                int k = sizes[si] > 0 ? sizes[si] : 1 + (int)(urand() * 300.0f + 300.0f);
                done = logitlens_job_step(j, k);
                CHECK(logitlens_job_done(j) <= V);
            }
            CHECK_EQ_INT(logitlens_job_done(j), V);
            if (sizes[si] > 0) CHECK_EQ_INT(steps, (V + sizes[si] - 1) / sizes[si]);
            CHECK_MSG(!memcmp(logitlens_job_logits(j), ref, sizeof(float) * (size_t)n * V), "pieces of %d, %d threads: logits differ", sizes[si], th);
            REQUIRE(logitlens_job_finish(j, ids, probs));
            CHECK_MSG(!memcmp(ids, rid, sizeof ids) && !memcmp(probs, rp, sizeof probs), "pieces of %d, %d threads", sizes[si], th);
            logitlens_job_free(j);
        }
    }
    engine_set_threads(prev);
    free(X); free(xn); free(ref);
    model_free(m);
}
