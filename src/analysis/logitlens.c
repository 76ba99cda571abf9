/* Logit lens through the final norm and lm_head (engine kernels). */
#include "analysis/logitlens.h"
#include <math.h>
#include <stdlib.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include "analysis/stats.h"
#include "engine/gemm.h"
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

/* ---- the lens of n rows in pieces of the unembedding ----------------------------------- */

struct LensJob {
    const Model *m;
    int n, V, d, done;    /* done: rows of the unembedding multiplied so far */
    float *xn;            /* [n][d] the rows through the final norm */
    float *logits;        /* [n][V] */
};

LensJob *logitlens_job_new(const Model *m, const float *X, int n) {
    if (!lens_ok(m) || n <= 0) return NULL;
    LensJob *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->m = m;
    j->n = n;
    j->d = m->spec.d_model;
    j->V = m->spec.vocab_size;
    j->xn = malloc(sizeof(float) * (size_t)n * (size_t)j->d);
    j->logits = malloc(sizeof(float) * (size_t)n * (size_t)j->V);
    if (!j->xn || !j->logits) { logitlens_job_free(j); return NULL; }
    for (int r = 0; r < n; r++) final_norm(m, X + (size_t)r * j->d, j->xn + (size_t)r * j->d);
    return j;
}

typedef struct { const LensJob *j; const GemmB *B; int r0, r1, per; } LensPiece;

static void lens_piece_task(void *ctx, int task, int thread) {
    const LensPiece *p = ctx;
    const int a = p->r0 + task * p->per, b = a + p->per < p->r1 ? a + p->per : p->r1;
    gemm_rows(p->B, a, b, p->j->xn, (size_t)p->j->d, p->j->n, p->j->d, p->j->logits, (size_t)p->j->V, false, thread);
}

bool logitlens_job_step(LensJob *j, int rows) {
    if (!j) return true;
    if (rows <= 0 || rows > j->V - j->done) rows = j->V - j->done;
    if (rows > 0) {
        const Tensor *W = &j->m->w.lm_head;
        GemmB B = {W->data, W->dtype, (size_t)W->cols, false};
        /* rows done..done+rows of every logit row, as gemm splits them: about four tasks per thread,
         * whole panels of 32 rows of the unembedding */
        const int nt = pool_threads();
        int per = (rows + 4 * nt - 1) / (4 * nt);
        per = (per + 31) / 32 * 32;
        LensPiece p = {j, &B, j->done, j->done + rows, per};
        pool_run(lens_piece_task, &p, (rows + per - 1) / per);
        j->done += rows;
    }
    return j->done >= j->V;
}

int logitlens_job_done(const LensJob *j) { return j ? j->done : 0; }
int logitlens_job_total(const LensJob *j) { return j ? j->V : 0; }

bool logitlens_job_finish(LensJob *j, int *ids, float *probs) {
    if (!j || j->done < j->V) return false;
    ops_softcap(j->logits, (size_t)j->n * (size_t)j->V, j->m->spec.final_softcap);   /* as the model's own logits (Gemma 2) */
    logitlens_top1_of_logits(j->logits, j->n, j->V, ids, probs);
    return true;
}

void logitlens_job_free(LensJob *j) {
    if (!j) return;
    free(j->xn);
    free(j->logits);
    free(j);
}

const float *logitlens_job_logits(const LensJob *j) { return j ? j->logits : NULL; }

bool logitlens_top1_rows(const Model *m, const float *X, int n, int *ids, float *probs) {
    if (n == 1) {   /* one row: the matvec, as before (matmul's n = 1) */
        if (!lens_ok(m)) return false;
        const int d = m->spec.d_model, V = m->spec.vocab_size;
        float *buf = malloc(sizeof(float) * ((size_t)V + (size_t)d));
        if (!buf) return false;
        final_norm(m, X, buf + V);
        matvec(&m->w.lm_head, buf + V, buf);
        ops_softcap(buf, (size_t)V, m->spec.final_softcap);
        logitlens_top1_of_logits(buf, 1, V, ids, probs);
        free(buf);
        return true;
    }
    LensJob *j = logitlens_job_new(m, X, n);   /* one pass over the unembedding for all rows */
    if (!j) return false;
    logitlens_job_step(j, 0);
    bool ok = logitlens_job_finish(j, ids, probs);
    logitlens_job_free(j);
    return ok;
}
