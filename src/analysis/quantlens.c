/* The quantization lens (see quantlens.h). */
#include "analysis/quantlens.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "engine/engine.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "engine/quant.h"

bool quantlens_type_parse(const char *name, DType *out) {
    if (!strcasecmp(name, "q8_0")) *out = DT_Q8_0;
    else if (!strcasecmp(name, "q4_0")) *out = DT_Q4_0;
    else if (!strcasecmp(name, "q4_k")) *out = DT_Q4_K;
    else if (!strcasecmp(name, "loaded")) *out = QL_AS_LOADED;
    else return false;
    return true;
}

const char *quantlens_type_name(DType t) { return t == QL_AS_LOADED ? "as loaded" : dtype_name(t); }

static double bits_per_weight(DType t) { return 8.0 * dtype_block_bytes(t) / dtype_block(t); }

/* ---- one matrix: quantize row blocks on the pool ------------------------------------------ */

#define QL_ROWS 16   /* rows per task: a fixed split, so the error sums do not depend on threads */

typedef struct {
    const Tensor *src;
    DType to;
    uint8_t *dst;
    size_t rb;           /* bytes of one quantized row */
    double *num, *den;   /* per task */
    bool oom;
} QJob;

static void q_task(void *ctx, int task, int thread) {
    (void)thread;
    QJob *j = ctx;
    const int cols = j->src->cols, r0 = task * QL_ROWS;
    const int r1 = r0 + QL_ROWS < j->src->rows ? r0 + QL_ROWS : j->src->rows;
    float *x = malloc(sizeof(float) * 2 * (size_t)cols);
    if (!x) { j->oom = true; return; }
    float *y = x + cols;
    double num = 0, den = 0;
    for (int r = r0; r < r1; r++) {
        tensor_row_f32(j->src, (size_t)r * (size_t)cols, cols, x);
        uint8_t *q = j->dst + (size_t)r * j->rb;
        quant_quantize(j->to, x, (size_t)cols, q);
        quant_dequant(j->to, q, (size_t)cols / (size_t)dtype_block(j->to), y);
        for (int c = 0; c < cols; c++) {
            double d = (double)x[c] - (double)y[c];
            num += d * d;
            den += (double)x[c] * (double)x[c];
        }
    }
    j->num[task] = num;
    j->den[task] = den;
    free(x);
}

/* dst = src quantized to `to` (or copied, as loaded); *num and *den: Σ(ΔW)² and ΣW². The new blocks go
 * to *owned (the caller frees it). */
static bool quantize_matrix(const Tensor *src, DType to, Tensor *dst, void **owned, double *num, double *den, Err *e) {
    const size_t rows = (size_t)src->rows;
    *num = *den = 0;
    if (to == QL_AS_LOADED) {
        const size_t bytes = dtype_row_bytes(src->dtype, (size_t)src->cols) * rows;
        void *b = malloc(bytes ? bytes : 1);
        if (!b) return err_set(e, ERR_MEMORY, "quantization lens: out of memory copying a %d x %d matrix", src->rows, src->cols);
        memcpy(b, src->data, bytes);
        *dst = *src;
        dst->data = b;
        *owned = b;
        return true;
    }
    const size_t rb = dtype_row_bytes(to, (size_t)src->cols);
    const int n_tasks = (src->rows + QL_ROWS - 1) / QL_ROWS;
    uint8_t *b = malloc(rb * rows);
    double *acc = calloc(2 * (size_t)n_tasks, sizeof(double));
    if (!b || !acc) {
        free(b);
        free(acc);
        return err_set(e, ERR_MEMORY, "quantization lens: out of memory quantizing a %d x %d matrix", src->rows, src->cols);
    }
    QJob j = {src, to, b, rb, acc, acc + n_tasks, false};
    pool_run(q_task, &j, n_tasks);
    for (int t = 0; t < n_tasks; t++) { *num += j.num[t]; *den += j.den[t]; }
    free(acc);
    if (j.oom) { free(b); return err_set(e, ERR_MEMORY, "quantization lens: out of memory"); }
    *dst = (Tensor){b, to, src->rows, src->cols};
    *owned = b;
    return true;
}

/* ---- the layer ---------------------------------------------------------------------------- */

typedef struct { size_t off; const char *name; } MatField;
#define MF(f, n) {offsetof(LayerWeights, f), n}
static const MatField MATS[] = {
    MF(wq, "attn_q"), MF(wk, "attn_k"), MF(wv, "attn_v"), MF(wo, "attn_output"),
    MF(wq_a, "attn_q_a"), MF(wq_b, "attn_q_b"), MF(wkv_a, "attn_kv_a_mqa"), MF(wkv_b, "attn_kv_b"),
    MF(w_gate, "ffn_gate"), MF(w_up, "ffn_up"), MF(w_down, "ffn_down"),
    MF(sh_gate, "ffn_gate_shexp"), MF(sh_up, "ffn_up_shexp"), MF(sh_down, "ffn_down_shexp"),
};
#define N_MATS (sizeof MATS / sizeof MATS[0])

typedef struct {
    LayerWeights lw;          /* the quantized layer (tensors into owned) */
    LayerWeights *layers;     /* the model's layer array with layer L replaced */
    Expert *experts;
    void **owned; int n_owned;
} QLayer;

static void qlayer_free(QLayer *q) {
    for (int i = 0; i < q->n_owned; i++) free(q->owned[i]);
    free(q->owned);
    free(q->layers);
    free(q->experts);
}

/* One matrix into out->mat (row `row`, summed when several matrices share the row). */
static bool one_matrix(const Tensor *src, Tensor *dst, DType to, const char *name, QLayer *q, QuantLens *out,
                       double *num_all, double *den_all, double *bits_loaded, double *bits_q, Err *e) {
    if (!tensor_present(src) || src->rows <= 0 || src->cols <= 0) return true;
    int row = -1;
    for (int i = 0; i < out->n_mat; i++) if (!strcmp(out->mat[i].name, name)) row = i;
    if (row < 0) {
        if (out->n_mat >= QL_MAX_MATS) return err_set(e, ERR_ARG, "quantization lens: too many matrices in a layer");
        row = out->n_mat++;
        QlMatrix *m = &out->mat[row];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%s", name);
        m->from = src->dtype;
        m->to = src->dtype;
    }
    QlMatrix *m = &out->mat[row];
    const long long n = (long long)src->rows * src->cols;
    /* llama-quantize's fallback for rows that are not whole super-blocks: Q4_K -> Q5_0 */
    const bool fallback = to == DT_Q4_K && src->cols % 256 != 0 && src->cols % 32 == 0;
    if (fallback) to = DT_Q5_0;
    const bool kept = to != QL_AS_LOADED && src->cols % dtype_block(to) != 0;
    const DType t = to == QL_AS_LOADED || kept ? src->dtype : to;
    if (fallback) { m->fallback = true; out->n_fallback++; }
    double num = 0, den = 0;
    if (kept) {
        *dst = *src;
        m->kept = true;
        out->n_kept++;
        /* its squared norm still counts in the layer's denominator (its error is 0) */
        float *x = malloc(sizeof(float) * (size_t)src->cols);
        if (!x) return err_set(e, ERR_MEMORY, "quantization lens: out of memory");
        for (int r = 0; r < src->rows; r++) {
            tensor_row_f32(src, (size_t)r * (size_t)src->cols, src->cols, x);
            for (int c = 0; c < src->cols; c++) den += (double)x[c] * x[c];
        }
        free(x);
    } else {
        void *own = NULL;
        if (!quantize_matrix(src, to, dst, &own, &num, &den, e)) return false;
        q->owned[q->n_owned++] = own;
    }
    /* per-row error over all its matrices: keep the sums in rel_err as num/den until the end */
    m->rel_err += num;            /* numerator for now; den kept below */
    m->n += n;
    m->count++;
    m->to = t;
    *num_all += num;
    *den_all += den;
    *bits_loaded += bits_per_weight(src->dtype) * (double)n;
    *bits_q += bits_per_weight(t) * (double)n;
    return true;
}

static bool build_layer(const Model *m, int L, DType to, QLayer *q, QuantLens *out, double *dens, Err *e) {
    const LayerWeights *src = &m->w.layers[L];
    const int E = src->is_moe && src->experts ? m->spec.n_experts : 0;
    memset(q, 0, sizeof *q);
    q->owned = calloc(N_MATS + 3 * (size_t)E, sizeof(void *));
    q->layers = malloc(sizeof(LayerWeights) * (size_t)m->spec.n_layers);
    if (E) q->experts = malloc(sizeof(Expert) * (size_t)E);
    if (!q->owned || !q->layers || (E && !q->experts)) return err_set(e, ERR_MEMORY, "quantization lens: out of memory");
    memcpy(q->layers, m->w.layers, sizeof(LayerWeights) * (size_t)m->spec.n_layers);
    q->lw = *src;
    double num_all = 0, den_all = 0, bl = 0, bq = 0;
    for (size_t i = 0; i < N_MATS; i++) {
        const Tensor *s = (const Tensor *)((const char *)src + MATS[i].off);
        Tensor *d = (Tensor *)((char *)&q->lw + MATS[i].off);
        const int before = out->n_mat;
        double den_before = den_all;
        if (!one_matrix(s, d, to, MATS[i].name, q, out, &num_all, &den_all, &bl, &bq, e)) return false;
        if (out->n_mat > before) dens[out->n_mat - 1] = den_all - den_before;
    }
    if (E) {
        memcpy(q->experts, src->experts, sizeof(Expert) * (size_t)E);
        q->lw.experts = q->experts;
        static const char *names[3] = {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"};
        for (int k = 0; k < 3; k++)
            for (int x = 0; x < E; x++) {
                const Expert *se = &src->experts[x];
                Expert *de = &q->experts[x];
                const Tensor *s = k == 0 ? &se->gate : k == 1 ? &se->up : &se->down;
                Tensor *d = k == 0 ? &de->gate : k == 1 ? &de->up : &de->down;
                double den_before = den_all;
                if (!one_matrix(s, d, to, names[k], q, out, &num_all, &den_all, &bl, &bq, e)) return false;
                for (int r = 0; r < out->n_mat; r++)
                    if (!strcmp(out->mat[r].name, names[k])) dens[r] += den_all - den_before;
            }
    }
    for (int r = 0; r < out->n_mat; r++) {
        out->mat[r].rel_err = dens[r] > 0 ? sqrt(out->mat[r].rel_err / dens[r]) : 0;
        out->n_weights += out->mat[r].n;
    }
    out->rel_err = den_all > 0 ? sqrt(num_all / den_all) : 0;
    out->bpw_loaded = out->n_weights ? bl / (double)out->n_weights : 0;
    out->bpw = out->n_weights ? bq / (double)out->n_weights : 0;
    q->layers[L] = q->lw;
    return true;
}

/* Logits after ids[0..pos] (one prefill on a fresh engine sized to it). */
static bool logits_at(const Model *m, const int *ids, int pos, float *out, Err *e) {
    Engine *en = engine_new((Model *)m, pos + 1, e);
    if (!en) return false;
    const float *lg = engine_forward(en, ids, pos + 1, false, e);
    if (lg) memcpy(out, lg, sizeof(float) * (size_t)m->spec.vocab_size);
    engine_free(en);
    return lg != NULL;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* log-softmax in double: lp[i] = l_i - logsumexp(l) */
static void log_softmax(const float *l, int V, double *lp) {
    double mx = l[0], s = 0;
    for (int i = 1; i < V; i++) if (l[i] > mx) mx = l[i];
    for (int i = 0; i < V; i++) s += exp((double)l[i] - mx);
    const double lse = mx + log(s);
    for (int i = 0; i < V; i++) lp[i] = (double)l[i] - lse;
}

/* The lens with the baseline logits given (base: [vocab] of the model as loaded). */
static bool lens_with_base(const Model *m, const int *ids, int n_ids, int pos, int layer, DType to, const float *base,
                           QuantLens *out, Err *e) {
    const double t0 = now_ms();
    memset(out, 0, sizeof *out);
    out->layer = layer;
    out->pos = pos;
    out->to = to;
    (void)n_ids;
    const int V = m->spec.vocab_size;
    QLayer q;
    memset(&q, 0, sizeof q);
    double dens[QL_MAX_MATS] = {0};
    float *lq = malloc(sizeof(float) * (size_t)V);
    double *lp = malloc(sizeof(double) * 2 * (size_t)V);
    bool ok = lq && lp;
    if (!ok) err_set(e, ERR_MEMORY, "quantization lens: out of memory");
    ok = ok && build_layer(m, layer, to, &q, out, dens, e);
    if (ok) {
        Model mq = *m;          /* shallow: only the layer array differs; nothing is freed through it */
        mq.w.layers = q.layers;
        ok = logits_at(&mq, ids, pos, lq, e);
    }
    if (ok) {
        double *lpq = lp + V;
        log_softmax(base, V, lp);
        log_softmax(lq, V, lpq);
        double kl = 0, md = 0;
        int a = 0, b = 0;
        for (int i = 0; i < V; i++) {
            kl += exp(lp[i]) * (lp[i] - lpq[i]);
            double d = fabs((double)base[i] - (double)lq[i]);
            if (d > md) md = d;
            if (base[i] > base[a]) a = i;
            if (lq[i] > lq[b]) b = i;
        }
        out->kl = kl > 0 ? kl : 0;   /* rounding can leave -1e-17 for equal distributions */
        out->max_dlogit = md;
        out->top_loaded = a;
        out->top_quant = b;
        out->p_top_loaded = exp(lp[a]);
        out->p_top_quant = exp(lpq[a]);
    }
    qlayer_free(&q);
    free(lq);
    free(lp);
    out->ms = now_ms() - t0;
    return ok;
}

static bool check_args(const Model *m, int n_ids, int pos, int layer, DType to, Err *e) {
    if (m->config_only) return err_set(e, ERR_ARG, "%s: only a config was loaded (no weights)", m->path);
    if (layer < 0 || layer >= m->spec.n_layers)
        return err_set(e, ERR_ARG, "quantization lens: layer %d is out of range (the model has layers 0..%d)", layer, m->spec.n_layers - 1);
    if (pos < 0 || pos >= n_ids) return err_set(e, ERR_ARG, "quantization lens: position %d is out of range (0..%d)", pos, n_ids - 1);
    if (to != QL_AS_LOADED && !quant_can_quantize(to))
        return err_set(e, ERR_ARG, "quantization lens: cannot quantize to %s (choose q8_0, q4_0, q4_k or loaded)", dtype_name(to));
    return true;
}

bool quantlens_run(const Model *m, const int *ids, int n_ids, int pos, int layer, DType to, QuantLens *out, Err *e) {
    if (!check_args(m, n_ids, pos, layer, to, e)) return false;
    float *base = malloc(sizeof(float) * (size_t)m->spec.vocab_size);
    if (!base) return err_set(e, ERR_MEMORY, "quantization lens: out of memory");
    bool ok = logits_at(m, ids, pos, base, e) && lens_with_base(m, ids, n_ids, pos, layer, to, base, out, e);
    free(base);
    return ok;
}

/* ---- cache ---------------------------------------------------------------------------------- */

static unsigned long long fnv(unsigned long long h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

const QuantLens *quantlens_cached(QuantLensCache *c, const Model *m, const int *ids, int n_ids, int pos, int layer,
                                  DType to, Err *e) {
    if (!check_args(m, n_ids, pos, layer, to, e)) return NULL;
    unsigned long long base_key = fnv(0xcbf29ce484222325ull, m->path, strlen(m->path));
    base_key = fnv(base_key, ids, sizeof(int) * (size_t)(pos + 1));
    unsigned long long key = fnv(base_key, &layer, sizeof layer);
    const int ti = (int)to;
    key = fnv(key, &ti, sizeof ti);
    for (int i = 0; i < QL_CACHE; i++)
        if (c->slot[i].used && c->slot[i].model == m && c->slot[i].key == key) {
            c->slot[i].age = ++c->clock;
            return &c->slot[i].r;
        }
    const int V = m->spec.vocab_size;
    if (c->base_model != m || c->base_key != base_key || !c->base_logits || c->base_v != V) {
        free(c->base_logits);
        c->base_logits = malloc(sizeof(float) * (size_t)V);
        c->base_model = NULL;
        if (!c->base_logits) { err_set(e, ERR_MEMORY, "quantization lens: out of memory"); return NULL; }
        if (!logits_at(m, ids, pos, c->base_logits, e)) return NULL;
        c->base_model = m;
        c->base_key = base_key;
        c->base_v = V;
    }
    int k = 0;   /* the free or least recently used slot */
    for (int i = 0; i < QL_CACHE; i++) {
        if (!c->slot[i].used) { k = i; break; }
        if (c->slot[i].age < c->slot[k].age) k = i;
    }
    c->slot[k].used = false;
    if (!lens_with_base(m, ids, n_ids, pos, layer, to, c->base_logits, &c->slot[k].r, e)) return NULL;
    c->slot[k].used = true;
    c->slot[k].model = m;
    c->slot[k].key = key;
    c->slot[k].age = ++c->clock;
    return &c->slot[k].r;
}

void quantlens_cache_done(QuantLensCache *c) {
    free(c->base_logits);
    memset(c, 0, sizeof *c);
}
