/* Logit lens through the final norm and lm_head (engine kernels). */
#include "analysis/logitlens.h"
#include <math.h>
#include "analysis/stats.h"
#include "engine/ops.h"

bool logitlens_topk(const Model *m, const float *x, int k, int *ids, float *probs, float *scratch) {
    const ModelSpec *s = &m->spec;
    const Weights *w = &m->w;
    if (!tensor_present(&w->lm_head) || k <= 0) return false;
    const int d = s->d_model, V = s->vocab_size;
    if (w->lm_head.rows != V || w->lm_head.cols != d) return false;
    float *logits = scratch, *xn = scratch + V;
    if (s->norm == NORM_RMSNORM) rmsnorm(xn, x, &w->lnf_w, d, s->norm_eps, NULL);
    else layernorm(xn, x, &w->lnf_w, &w->lnf_b, d, s->norm_eps, NULL, NULL);
    matvec(&w->lm_head, xn, logits);
    if (k > V) k = V;
    stats_topk(logits, V, k, ids);
    double mx = logits[ids[0]], se = 0;
    for (int i = 0; i < V; i++) se += exp((double)logits[i] - mx);
    for (int i = 0; i < k; i++) probs[i] = ids[i] >= 0 ? (float)(exp((double)logits[ids[i]] - mx) / se) : 0.0f;
    return true;
}
