/* analysis/embedmap: PCA axes and the vocabulary map against an independent computation (the
 * covariance matrix eigen-decomposed by GSL's symmetric eigensolver), and the vocabulary
 * neighbour search against a brute-force cosine scan. */
#include <stdint.h>
#include <stdlib.h>
#include "analysis/embedmap.h"
#include "analysis/stats.h"
#include "harness.h"

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {   /* xorshift64, uniform in [0, 1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double nrand(void) { double u = urand() + 1e-12, v = urand(); return sqrt(-2 * log(u)) * cos(6.283185307179586 * v); }

/* rows with a planted spread: coordinate j has scale 5/(1+j) plus noise, then a fixed mixing */
static float *make_rows(int n, int d) {
    float *X = malloc(sizeof(float) * (size_t)n * (size_t)d);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) X[(size_t)i * d + j] = (float)(nrand() * 5.0 / (1 + j) + 0.3 * j);
    /* mix coordinates pairwise so the principal axes are not the coordinate axes */
    for (int i = 0; i < n; i++)
        for (int j = 0; j + 1 < d; j += 2) {
            float a = X[(size_t)i * d + j], b = X[(size_t)i * d + j + 1];
            X[(size_t)i * d + j] = 0.8f * a - 0.6f * b;
            X[(size_t)i * d + j + 1] = 0.6f * a + 0.8f * b;
        }
    return X;
}

static void check_axes(TestCtx *T_, const PcaAxes *ax, const float *X, int n, int d, double tol) {
    double mean[64], comp[2 * 64], expl[2];
    test_cov_pca(X, n, d, mean, comp, expl);
    for (int k = 0; k < 2; k++) {
        CHECK_NEAR(ax->explained[k], expl[k], tol);
        double dot = 0, amax = 0; int am = 0;
        for (int j = 0; j < d; j++) {
            dot += ax->comp[k * d + j] * comp[k * d + j];
            if (fabs(ax->comp[k * d + j]) > amax) { amax = fabs(ax->comp[k * d + j]); am = j; }
        }
        CHECK_NEAR(fabs(dot), 1.0, tol);          /* same direction up to sign */
        CHECK(ax->comp[k * d + am] > 0);          /* the sign rule */
    }
}

TEST(embedmap_pca_axes_match_covariance_eigenvectors) {
    const int n = 60, d = 10;
    float *X = make_rows(n, d);
    PcaAxes ax;
    REQUIRE(pca_axes_fit(&ax, X, n, d));
    check_axes(T_, &ax, X, n, d, 1e-6);
    /* projecting a fitted row = its score; the mean projects to 0 */
    float mean[10] = {0}, p[2];
    for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mean[j] += X[i * d + j] / (float)n;
    pca_axes_project(&ax, mean, p);
    CHECK_NEAR(p[0], 0, 1e-4); CHECK_NEAR(p[1], 0, 1e-4);
    pca_axes_done(&ax);
    /* fewer rows than dims (the n < d branch) */
    const int n2 = 5, d2 = 12;
    float *X2 = make_rows(n2, d2);
    REQUIRE(pca_axes_fit(&ax, X2, n2, d2));
    check_axes(T_, &ax, X2, n2, d2, 1e-6);
    pca_axes_done(&ax);
    CHECK(!pca_axes_fit(&ax, X2, 1, d2));
    free(X); free(X2);
}

static uint16_t to_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16); }

TEST(embedmap_vocab_map_and_neighbours) {
    const int V = 700, d = 24;
    float *E = make_rows(V, d);
    Tensor t = {.data = E, .dtype = DT_F32, .rows = V, .cols = d};
    Err e = {0};
    VocabIndex *vi = vocab_index_new(&t, &e);
    REQUIRE(vi);
    PcaAxes ax;
    REQUIRE(vocab_map_fit(vi, 0, &ax, &e));
    CHECK_EQ_INT(ax.n_fit, V);
    check_axes(T_, &ax, E, V, d, 1e-5);
    pca_axes_done(&ax);
    REQUIRE(vocab_map_fit(vi, 300, &ax, &e));    /* the first 300 ids only */
    check_axes(T_, &ax, E, 300, d, 1e-5);
    pca_axes_done(&ax);
    /* neighbours against brute force */
    for (int qi = 0; qi < 5; qi++) {
        int id = (qi * 137) % V;
        const float *q = E + (size_t)id * d;
        int ids[12]; float sims[12];
        int n = vocab_neighbours(vi, q, id, 12, ids, sims);
        CHECK_EQ_INT(n, 12);
        float all[700];
        for (int v = 0; v < V; v++) all[v] = v == id ? -INFINITY : stats_cosine(q, E + (size_t)v * d, d);
        int ref[12];
        stats_topk(all, V, 12, ref);
        for (int k = 0; k < 12; k++) { CHECK_NEAR(sims[k], all[ref[k]], 1e-5); CHECK_NEAR(all[ids[k]], sims[k], 1e-5); }
        for (int k = 1; k < 12; k++) CHECK(sims[k - 1] >= sims[k]);
    }
    vocab_index_free(vi);
    /* bf16 storage: same answers as on the f32 widening of the same bits */
    uint16_t *Eb = malloc(sizeof(uint16_t) * (size_t)V * d);
    float *Ew = malloc(sizeof(float) * (size_t)V * d);
    for (int i = 0; i < V * d; i++) { Eb[i] = to_bf16(E[i]); uint32_t u = (uint32_t)Eb[i] << 16; memcpy(&Ew[i], &u, 4); }
    Tensor tb = {.data = Eb, .dtype = DT_BF16, .rows = V, .cols = d};
    vi = vocab_index_new(&tb, &e);
    REQUIRE(vi);
    REQUIRE(vocab_map_fit(vi, 0, &ax, &e));
    check_axes(T_, &ax, Ew, V, d, 1e-5);
    pca_axes_done(&ax);
    int ids[3]; float sims[3];
    CHECK_EQ_INT(vocab_neighbours(vi, Ew + 5 * d, 5, 3, ids, sims), 3);
    for (int k = 0; k < 3; k++) CHECK_NEAR(sims[k], stats_cosine(Ew + 5 * d, Ew + (size_t)ids[k] * d, d), 1e-5);
    vocab_index_free(vi);
    free(Eb); free(Ew); free(E);
}
