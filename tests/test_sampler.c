/* The one top-k / top-p rule: the sampler and the Output panel's preview keep exactly the
 * tokens transformers' warpers keep (TopKLogitsWarper then TopPLogitsWarper, transcribed
 * literally below from their definitions: top-k sets logits under the k-th largest to -inf;
 * top-p sorts ascending, and removes the tokens whose cumulative softmax is <= 1 - top_p,
 * keeping at least one). */
#include "harness.h"
#include "analysis/sampling.h"
#include "engine/sampler.h"
#include <stdlib.h>

static int cmp_asc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* HF's keep mask for logits l[n] at temperature T (1 = kept). */
static void hf_keep(const float *l, int n, double T, int top_k, double top_p, int *keep) {
    double *x = malloc(sizeof(double) * (size_t)n), *srt = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) { x[i] = l[i] / T; keep[i] = 1; }
    if (top_k > 0 && top_k < n) {
        for (int i = 0; i < n; i++) srt[i] = x[i];
        qsort(srt, (size_t)n, sizeof(double), cmp_asc);
        double kth = srt[n - top_k];
        for (int i = 0; i < n; i++) if (x[i] < kth) keep[i] = 0;
    }
    if (top_p < 1) {
        double m = -INFINITY, z = 0;
        for (int i = 0; i < n; i++) if (keep[i] && x[i] > m) m = x[i];
        for (int i = 0; i < n; i++) if (keep[i]) z += exp(x[i] - m);
        /* ascending order of the kept ones; cumulative share; drop while <= 1 - top_p */
        int *ord = malloc(sizeof(int) * (size_t)n), k = 0;
        for (int i = 0; i < n; i++) if (keep[i]) ord[k++] = i;
        for (int a = 1; a < k; a++)
            for (int b = a; b > 0 && x[ord[b]] < x[ord[b - 1]]; b--) { int t = ord[b]; ord[b] = ord[b - 1]; ord[b - 1] = t; }
        double c = 0;
        for (int a = 0; a < k - 1; a++) {       /* the largest one always stays */
            c += exp(x[ord[a]] - m) / z;
            if (c <= 1 - top_p) keep[ord[a]] = 0;
        }
        free(ord);
    }
    free(x); free(srt);
}

TEST(sampler_and_preview_keep_what_transformers_keeps) {
    enum { V = 200, K = 64 };
    float l[V], probs[V], lg[K], pp[K];
    int keep[V], idx[V];
    srand(7);
    const int ks[] = {0, 1, 5, 20, 50};
    const float ps[] = {1.0f, 0.95f, 0.8f, 0.5f, 0.1f};
    const float ts[] = {1.0f, 0.7f, 1.5f};
    int cases = 0, differ_old = 0;
    for (int trial = 0; trial < 8; trial++) {
        for (int i = 0; i < V; i++) l[i] = 4.0f * ((float)rand() / (float)RAND_MAX) * (i % 7 == 0 ? 2.0f : 1.0f);
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++)
                for (int t = 0; t < 3; t++) {
                    SamplerCfg cfg = {.greedy = false, .temperature = ts[t], .top_k = ks[a], .top_p = ps[b], .seed = 1};
                    Sampler *s = sampler_new(cfg, V);
                    REQUIRE(s);
                    sampler_sample(s, l, probs);
                    sampler_free(s);
                    hf_keep(l, V, ts[t], ks[a], ps[b], keep);
                    int same = 1, nk = 0;
                    for (int i = 0; i < V; i++) { nk += keep[i]; if ((probs[i] > 0) != (keep[i] == 1)) same = 0; }
                    CHECK_MSG(same, "sampler kept set differs from transformers' (T %.1f, k %d, p %.2f)", (double)ts[t], ks[a], (double)ps[b]);
                    /* the old rule (top-p over the full softmax) keeps more here: make sure the cases exercise it */
                    if (ks[a] > 0 && ps[b] < 1) {
                        double z = 0, c = 0;
                        for (int i = 0; i < V; i++) { idx[i] = i; z += exp(l[i] / ts[t]); }
                        for (int x = 1; x < V; x++)
                            for (int y = x; y > 0 && l[idx[y]] > l[idx[y - 1]]; y--) { int q = idx[y]; idx[y] = idx[y - 1]; idx[y - 1] = q; }
                        int old = 0;
                        while (old < ks[a] && old < V) { c += exp(l[idx[old]] / ts[t]) / z; old++; if (c >= ps[b]) break; }
                        if (old != nk) differ_old++;
                    }
                    /* the preview on the top-K recorded logits (these cases keep fewer than K):
                     * exact where the unrecorded mass is known (T = 1) or cut (top-k <= K), never
                     * fewer than the real set otherwise */
                    if (nk < K) {
                        for (int i = 0; i < V; i++) idx[i] = i;
                        for (int x = 1; x < V; x++)
                            for (int y = x; y > 0 && l[idx[y]] > l[idx[y - 1]]; y--) { int q = idx[y]; idx[y] = idx[y - 1]; idx[y - 1] = q; }
                        double m = l[idx[0]], z = 0;
                        for (int i = 0; i < V; i++) z += exp((double)l[i] - m);
                        for (int i = 0; i < K; i++) lg[i] = l[idx[i]];
                        SamplePreviewCfg pc = {.temperature = ts[t], .top_k = ks[a], .top_p = ps[b], .greedy = false};
                        int pk = sampling_preview(lg, K, (float)(m + log(z)), V, pc, pp, NULL, NULL);
                        if ((ks[a] > 0 && ks[a] <= K) || ts[t] == 1.0f) CHECK_EQ_INT(pk, nk);
                        else CHECK_MSG(pk >= nk, "preview keeps %d < %d (T %.1f p %.2f)", pk, nk, (double)ts[t], (double)ps[b]);
                    }
                    cases++;
                }
    }
    CHECK(cases == 8 * 75);
    CHECK_MSG(differ_old > 0, "no case where top-k then top-p differs from top-p over the full softmax");
}
