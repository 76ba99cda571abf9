/* Logit lens through the final norm and lm_head (engine kernels). */
#include "analysis/logitlens.h"
#include <math.h>
#include <stdlib.h>
#include "analysis/stats.h"
#include "engine/ops.h"

/* sum_i exp(l_i - mx) over a row: vectorised exp per block of 1024 (on a copy: the logits
 * stay), blocks summed in double (relative error about 1e-7 for any vocabulary; libm exp in
 * double took 20-30 ms per row of 151,936 under load). */
static double row_exp_sum(const float *l, int V, float mx) {
    float buf[1024];
    double se = 0;
    for (int i = 0; i < V; i += 1024) {
        const int nb = V - i < 1024 ? V - i : 1024;
        for (int j = 0; j < nb; j++) buf[j] = l[i + j];
        se += (double)ops_exp_sum(buf, nb, mx);
    }
    return se;
}

static bool lens_ok(const Model *m) {
    const Weights *w = &m->w;
    return tensor_present(&w->lm_head) && w->lm_head.rows == m->spec.vocab_size && w->lm_head.cols == m->spec.d_model;
}

static void final_norm(const Model *m, const float *x, float *xn) {
    const ModelSpec *s = &m->spec;
    if (s->norm == NORM_RMSNORM) rmsnorm(xn, x, &m->w.lnf_w, s->d_model, s->norm_eps, NULL);
    else layernorm(xn, x, &m->w.lnf_w, &m->w.lnf_b, s->d_model, s->norm_eps, NULL, NULL);
}

bool logitlens_topk(const Model *m, const float *x, int k, int *ids, float *probs, float *scratch) {
    if (!lens_ok(m) || k <= 0) return false;
    const int d = m->spec.d_model, V = m->spec.vocab_size;
    float *logits = scratch, *xn = scratch + V;
    final_norm(m, x, xn);
    matvec(&m->w.lm_head, xn, logits);
    if (k > V) k = V;
    stats_topk(logits, V, k, ids);
    const float mx = logits[ids[0]];
    const double se = row_exp_sum(logits, V, mx);
    for (int i = 0; i < k; i++) probs[i] = ids[i] >= 0 ? (float)(exp((double)logits[ids[i]] - mx) / se) : 0.0f;
    (void)d;
    return true;
}

bool logitlens_top1_rows(const Model *m, const float *X, int n, int *ids, float *probs) {
    if (!lens_ok(m) || n <= 0) return false;
    const int d = m->spec.d_model, V = m->spec.vocab_size;
    float *xn = malloc(sizeof(float) * (size_t)n * (size_t)d);
    float *logits = malloc(sizeof(float) * (size_t)n * (size_t)V);
    if (!xn || !logits) { free(xn); free(logits); return false; }
    for (int r = 0; r < n; r++) final_norm(m, X + (size_t)r * d, xn + (size_t)r * d);
    matmul(&m->w.lm_head, xn, n, logits);   /* one pass over the unembedding for all rows */
    for (int r = 0; r < n; r++) {
        float *l = logits + (size_t)r * V;
        int id;
        stats_topk(l, V, 1, &id);
        ids[r] = id;
        probs[r] = id >= 0 ? (float)(1.0 / row_exp_sum(l, V, l[id])) : 0.0f;
    }
    free(xn);
    free(logits);
    return true;
}
