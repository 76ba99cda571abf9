/* Sampling: greedy argmax, or temperature -> top-k -> top-p -> draw from a seeded GSL
 * Mersenne Twister, so a seed always gives the same continuation. */
#include "engine/sampler.h"
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Sampler {
    SamplerCfg cfg;
    int vocab;
    gsl_rng *rng;
    float *probs;
    int *order;
};

int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

Sampler *sampler_new(SamplerCfg cfg, int vocab) {
    Sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->vocab = vocab;
    s->rng = gsl_rng_alloc(gsl_rng_mt19937);
    s->probs = malloc(sizeof(float) * (size_t)vocab);
    s->order = malloc(sizeof(int) * (size_t)vocab);
    if (!s->rng || !s->probs || !s->order) { sampler_free(s); return NULL; }
    sampler_set(s, cfg);
    return s;
}

void sampler_free(Sampler *s) {
    if (!s) return;
    if (s->rng) gsl_rng_free(s->rng);
    free(s->probs);
    free(s->order);
    free(s);
}

void sampler_set(Sampler *s, SamplerCfg cfg) {
    if (!(cfg.temperature > 0)) cfg.temperature = 1.0f;
    if (cfg.top_k < 0) cfg.top_k = 0;
    if (!(cfg.top_p > 0) || cfg.top_p > 1) cfg.top_p = 1.0f;
    s->cfg = cfg;
    gsl_rng_set(s->rng, (unsigned long)cfg.seed);
}

SamplerCfg sampler_cfg(const Sampler *s) { return s->cfg; }

int sampler_keep_count(const float *w, const int *order, int n, double rest, int top_k, float top_p) {
    if (n <= 0) return 0;
    int keep = top_k > 0 && top_k < n ? top_k : n;
    if (top_p > 0 && top_p < 1 && keep > 1) {
        double z = keep < n || (top_k > 0 && top_k <= n) ? 0 : rest, c = 0;
        for (int i = 0; i < keep; i++) z += w[order ? order[i] : i];
        int k = 0;
        while (k < keep) { c += w[order ? order[k] : k] / z; k++; if (c >= top_p) break; }
        keep = k;
    }
    return keep;
}

static const float *g_sort_p;
static int cmp_desc(const void *a, const void *b) {
    float x = g_sort_p[*(const int *)a], y = g_sort_p[*(const int *)b];
    return (x < y) - (x > y);
}

int sampler_sample(Sampler *s, const float *logits, float *probs_out) {
    const int V = s->vocab;
    if (s->cfg.greedy) {
        int a = argmax(logits, V);
        if (probs_out) { memset(probs_out, 0, sizeof(float) * (size_t)V); probs_out[a] = 1; }
        return a;
    }
    float *p = s->probs;
    float m = -INFINITY;
    for (int i = 0; i < V; i++) if (logits[i] > m) m = logits[i];
    double sum = 0;
    for (int i = 0; i < V; i++) { p[i] = expf((logits[i] - m) / s->cfg.temperature); sum += p[i]; }
    for (int i = 0; i < V; i++) p[i] = (float)(p[i] / sum);
    int keep = V;
    if (s->cfg.top_k > 0 || s->cfg.top_p < 1) {
        for (int i = 0; i < V; i++) s->order[i] = i;
        g_sort_p = p;
        qsort(s->order, (size_t)V, sizeof(int), cmp_desc);
        keep = sampler_keep_count(p, s->order, V, 0, s->cfg.top_k, s->cfg.top_p);
        double ks = 0;
        for (int i = 0; i < keep; i++) ks += p[s->order[i]];
        for (int i = keep; i < V; i++) p[s->order[i]] = 0;
        for (int i = 0; i < keep; i++) p[s->order[i]] = (float)(p[s->order[i]] / ks);
    }
    double r = gsl_rng_uniform(s->rng), c = 0;
    int pick = -1;
    for (int i = 0; i < V; i++) {
        if (p[i] <= 0) continue;
        c += p[i];
        pick = i;
        if (r < c) break;
    }
    if (pick < 0) pick = argmax(logits, V);
    if (probs_out) memcpy(probs_out, p, sizeof(float) * (size_t)V);
    return pick;
}
