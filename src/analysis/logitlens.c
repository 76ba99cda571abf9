/* Logit lens through the final norm and lm_head (engine kernels). */
#include "analysis/logitlens.h"
#include <math.h>
#include <stdlib.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include "analysis/stats.h"
#include "engine/ops.h"
#include "engine/pool.h"

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

/* The first id of the largest value of l[V], NaN skipped, -1 when every value is NaN: what
 * stats_topk(l, V, 1) gives, in two passes of 8 lanes (the maximum, then the first place that
 * holds it) instead of a compare and branch per value, which took about half of the lens's tail. */
static int row_top1(const float *l, int V) {
    float m = -INFINITY;
    int i = 0;
#ifdef __AVX2__
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= V; i += 8) mv = _mm256_max_ps(_mm256_loadu_ps(l + i), mv);   /* MAXPS returns mv where l is NaN */
    float lanes[8];
    _mm256_storeu_ps(lanes, mv);
    for (int k = 0; k < 8; k++) if (lanes[k] > m) m = lanes[k];
#endif
    for (; i < V; i++) if (l[i] > m) m = l[i];   /* NaN compares false */
    i = 0;
#ifdef __AVX2__
    const __m256 mm = _mm256_set1_ps(m);
    for (; i + 8 <= V; i += 8) {
        const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(l + i), mm, _CMP_EQ_OQ));
        if (hit) return i + __builtin_ctz((unsigned)hit);
    }
#endif
    for (; i < V; i++) if (l[i] == m) return i;
    return -1;   /* only NaN: m stayed -inf and nothing equals it */
}

bool logitlens_topk(const Model *m, const float *x, int k, int *ids, float *probs, float *scratch) {
    if (!lens_ok(m) || k <= 0) return false;
    const int d = m->spec.d_model, V = m->spec.vocab_size;
    float *logits = scratch, *xn = scratch + V;
    final_norm(m, x, xn);
    matvec(&m->w.lm_head, xn, logits);
    ops_softcap(logits, (size_t)V, m->spec.final_softcap);   /* as the model's own logits (Gemma 2) */
    if (k > V) k = V;
    if (k == 1) ids[0] = row_top1(logits, V);   /* the same id as stats_topk(logits, V, 1) */
    else stats_topk(logits, V, k, ids);
    if (ids[0] < 0) {   /* every logit NaN: no token, and no maximum to read */
        for (int i = 0; i < k; i++) probs[i] = 0.0f;
        return true;
    }
    const float mx = logits[ids[0]];
    const double se = row_exp_sum(logits, V, mx);
    for (int i = 0; i < k; i++) probs[i] = ids[i] >= 0 ? (float)(exp((double)logits[ids[i]] - mx) / se) : 0.0f;
    (void)d;
    return true;
}

/* One row of logitlens_top1_of_logits: a pool task. */
typedef struct { const float *logits; int V; int *ids; float *probs; } Top1Rows;

static void top1_row(void *ctx, int r, int thread) {
    const Top1Rows *t = ctx;
    (void)thread;
    const float *l = t->logits + (size_t)r * (size_t)t->V;
    const int id = row_top1(l, t->V);
    t->ids[r] = id;
    t->probs[r] = id >= 0 ? (float)(1.0 / row_exp_sum(l, t->V, l[id])) : 0.0f;
}

void logitlens_top1_of_logits(const float *logits, int n, int V, int *ids, float *probs) {
    Top1Rows t = {logits, V, ids, probs};
    pool_run(top1_row, &t, n);   /* rows are independent: one task each, on the engine's pool */
}

bool logitlens_top1_rows(const Model *m, const float *X, int n, int *ids, float *probs) {
    if (!lens_ok(m) || n <= 0) return false;
    const int d = m->spec.d_model, V = m->spec.vocab_size;
    float *xn = malloc(sizeof(float) * (size_t)n * (size_t)d);
    float *logits = malloc(sizeof(float) * (size_t)n * (size_t)V);
    if (!xn || !logits) { free(xn); free(logits); return false; }
    for (int r = 0; r < n; r++) final_norm(m, X + (size_t)r * d, xn + (size_t)r * d);
    matmul(&m->w.lm_head, xn, n, logits);   /* one pass over the unembedding for all rows */
    ops_softcap(logits, (size_t)n * (size_t)V, m->spec.final_softcap);
    logitlens_top1_of_logits(logits, n, V, ids, probs);
    free(xn);
    free(logits);
    return true;
}
