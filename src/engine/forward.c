/* The forward pass: one function for every architecture (a ModelSpec + Weights mapping),
 * prefill of n tokens at once (sgemm over the chunk) and decode of one token (threaded
 * matvec), on a per-layer KV cache. Hook sites are the only additions to the math; with no
 * hook registered each costs one predictable branch.
 *
 * Shapes (n = tokens in this chunk, T = keys visible = p0 + n, d = d_model, H/KV heads):
 *   x, xn, tmp  [n, d]          residual stream, normalized copy, sublayer output
 *   q           [n, H, dq]      dq = head_dim (MLA: qk_nope + qk_rope)
 *   k, v        [n, KV, hd]     (MLA: not materialised; the cache holds c_kv and k_pe)
 *   att         [H, n, T]       scores, then pattern (softmax rows)
 *   z           [n, H, dv]      attention-weighted values
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "engine/attn.h"
#include "engine/gemm.h"
#include "engine/kvround.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "engine/rope.h"

/* Prefill tokens processed together: 256, so each weight panel is widened once per 256
 * tokens; 64 when a hook wants the attention scores or pattern, whose
 * [heads, chunk, context] buffer is sized for 64 rows. */
#define CHUNK 256
#define CHUNK_ATT 64
/* Rows of logits computed at once for the hooks (hook_all_logits): each lm-head weight panel is
 * widened once per LOGIT_BLK rows, so 64 rows spent 0.45x of the lm-head micro-kernel's time
 * packing; 128 rows cut the lm-head's CPU time by 13% (as 256 did) for a 78 MB block at a
 * 151,936 vocabulary (39 MB more). The rows do not depend on it. */
#define LOGIT_BLK 128
#define MLA_LATENT_EPS 1e-6f   /* HF DeepSeek q_a/kv_a RMSNorm eps (module default) */
#define DEC_ROWS 3        /* up to this many query rows take the decode path */

struct Engine {
    Model *m;
    const ModelSpec *s;
    Hooks *hooks;
    int max_ctx, pos, steps;
    int dq, dv, ff_max;
    /* KV cache, per layer: standard [KV][max_ctx][hd] keys and values (head-major: each KV
     * head's keys are one contiguous stream, which decode reads at full memory speed; a
     * token-major layout puts consecutive keys of a head 4 KB apart for Qwen3-0.6B, a new
     * page per key); MLA [max_ctx][kv_lora] latents and [max_ctx][rope] rope keys. */
    float **kc, **vc;
    int n_kc;                       /* layers of kc and vc (engine_free reads no model: it may be gone) */
    float *dpart;                   /* decode partials (attn_decode) */
    size_t kv_elems_per_token;      /* all layers */
    /* run state for one chunk */
    float *x, *xn, *tmp, *q, *k, *v, *z, *att, *ff1, *ff2, *ff3, *lat, *qlat, *qabs, *olat;
    float *router, *ew, *inv_freq, *inv_freq_local, *logits_last, *scale_buf, *hookbuf;
    int *eidx;
    float *logits_all; size_t logits_all_cap;
    float *logits_blk;              /* [LOGIT_BLK, vocab] rows for the hooks (hook_all_logits), lazily */
    bool hook_all_logits;
    float attn_factor;
    DType kv_round;                 /* DT_F32: none; else what enters the cache is rounded through it (kvround.h) */
};

/* The thread count lives in the pool (pool.h); OpenBLAS (used by GSL in the analyses) is
 * kept to one thread so its own spinning workers never compete with ours. */
void openblas_set_num_threads(int);   /* OpenBLAS's cblas.h, which would bring <complex.h> */
void engine_set_threads(int n) {
    pool_set_threads(n);
    openblas_set_num_threads(1);
}
int engine_get_threads(void) { return pool_threads(); }
int engine_default_threads(void) { return pool_default_threads(); }

const Model *engine_model(const Engine *en) { return en->m; }
int engine_pos(const Engine *en) { return en->pos; }
int engine_max_ctx(const Engine *en) { return en->max_ctx; }
bool engine_set_kv_round(Engine *en, DType t, Err *e) {
    if (!kv_round_supported(t)) return err_set(e, ERR_ARG, "the KV cache cannot be rounded through %s (" KV_ROUND_TYPES ")", dtype_name(t));
    en->kv_round = t;
    return true;
}
DType engine_kv_round(const Engine *en) { return en->kv_round; }
int engine_step_count(const Engine *en) { return en->steps; }
void engine_truncate(Engine *en, int pos) { if (pos >= 0 && pos < en->pos) en->pos = pos; }
size_t engine_kv_bytes_per_token(const Engine *en) { return en->kv_elems_per_token * sizeof(float); }
size_t engine_kv_bytes(const Engine *en) { return engine_kv_bytes_per_token(en) * (size_t)en->pos; }
void engine_set_hook_all_logits(Engine *en, bool on) { en->hook_all_logits = on; }

void engine_set_hooks(Engine *en, Hooks *h) {
    en->hooks = h;
    if (h) hooks_set_layers(h, en->s->n_layers);
}

void engine_free(Engine *en) {
    if (!en) return;
    if (en->kc) for (int l = 0; l < en->n_kc; l++) free(en->kc[l]);
    if (en->vc) for (int l = 0; l < en->n_kc; l++) free(en->vc[l]);
    free(en->kc); free(en->vc);
    float *bufs[] = {en->x, en->xn, en->tmp, en->q, en->k, en->v, en->z, en->att, en->ff1, en->ff2, en->ff3, en->lat,
                     en->qlat, en->qabs, en->olat, en->router, en->ew, en->inv_freq, en->inv_freq_local, en->logits_last, en->scale_buf,
                     en->hookbuf, en->logits_all, en->logits_blk, en->dpart};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(en->eidx);
    free(en);
}

static float *falloc(size_t n, bool *ok) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *ok = false;
    return p;
}

Engine *engine_new(Model *m, int max_ctx, Err *e) {
    if (m->config_only) { err_set(e, ERR_ARG, "%s: this directory has only a config (no weights); it cannot be run", m->path); return NULL; }
    if (m->layout_only) { err_set(e, ERR_ARG, "%s: loaded with model_load_layout (no weight read); load it with model_load to run it", m->path); return NULL; }
    const ModelSpec *s = &m->spec;
    Engine *en = calloc(1, sizeof *en);
    if (!en) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    en->m = m;
    en->s = s;
    if (max_ctx <= 0) {
        /* learned positions end at max_pos; RoPE models may run past it (as HF allows) */
        max_ctx = s->max_pos < 2048 ? s->max_pos : 2048;
        if (s->pos == POS_ROPE && max_ctx < 512) max_ctx = 512;
    }
    if (s->pos == POS_LEARNED && max_ctx > s->max_pos) max_ctx = s->max_pos;
    en->max_ctx = max_ctx;
    const int d = s->d_model, H = s->n_heads, KV = s->n_kv_heads, L = s->n_layers;
    bool mla = s->attn_kind == ATTN_MLA;
    en->dq = mla ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim;
    en->dv = mla ? s->v_head_dim : s->head_dim;
    int ff = s->d_ff;
    if (s->moe_d_ff > ff) ff = s->moe_d_ff;
    if (s->n_shared_experts * s->moe_d_ff > ff) ff = s->n_shared_experts * s->moe_d_ff;
    en->ff_max = ff;
    size_t kdim = mla ? (size_t)s->kv_lora_rank : (size_t)KV * (size_t)s->head_dim;
    size_t vdim = mla ? (size_t)s->qk_rope_head_dim : (size_t)KV * (size_t)en->dv;
    en->kv_elems_per_token = (kdim + vdim) * (size_t)L;
    /* refuse a cache that cannot fit before touching it */
    double cache_bytes = (double)en->kv_elems_per_token * 4.0 * (double)max_ctx;
    if (cache_bytes > 64e9) {
        free(en);
        err_set(e, ERR_MEMORY, "a KV cache of %d tokens would need %.1f GB; choose a smaller context (--ctx)", max_ctx, cache_bytes / 1e9);
        return NULL;
    }
    bool ok = true;
    en->kc = calloc((size_t)L, sizeof(float *));
    en->vc = calloc((size_t)L, sizeof(float *));
    if (!en->kc || !en->vc) ok = false;
    else en->n_kc = L;
    for (int l = 0; ok && l < L; l++) {
        en->kc[l] = falloc((size_t)max_ctx * kdim, &ok);
        en->vc[l] = falloc((size_t)max_ctx * vdim, &ok);
    }
    const size_t B = CHUNK;
    size_t qdim = (size_t)H * (size_t)en->dq;
    size_t wide = qdim > (size_t)d ? qdim : (size_t)d;
    if ((size_t)H * (size_t)en->dv > wide) wide = (size_t)H * (size_t)en->dv;
    en->x = falloc(B * d, &ok);
    en->xn = falloc(B * d, &ok);
    en->tmp = falloc(B * d, &ok);
    en->q = falloc(B * qdim, &ok);
    en->k = falloc(B * (size_t)KV * (size_t)(s->head_dim > en->dq ? s->head_dim : en->dq) + B * (size_t)H * (size_t)en->dq, &ok);
    en->v = falloc(B * (size_t)(KV > H ? KV : H) * (size_t)en->dv, &ok);
    en->z = falloc(B * (size_t)H * (size_t)en->dv, &ok);
    en->att = falloc((size_t)H * CHUNK_ATT * (size_t)max_ctx, &ok);
    en->ff1 = falloc(B * (size_t)ff, &ok);
    en->ff2 = falloc(B * (size_t)ff, &ok);
    en->ff3 = falloc(B * (size_t)d, &ok);
    if (mla) {
        en->lat = falloc(B * (size_t)(s->kv_lora_rank + s->qk_rope_head_dim), &ok);
        en->qlat = falloc(B * (size_t)(s->q_lora_rank ? s->q_lora_rank : 1), &ok);
        en->qabs = falloc(B * (size_t)H * (size_t)s->kv_lora_rank, &ok);
        en->olat = falloc(B * (size_t)H * (size_t)s->kv_lora_rank, &ok);
    }
    if (s->n_experts) {
        en->router = falloc(B * (size_t)s->n_experts, &ok);
        en->ew = falloc(B * (size_t)s->n_experts_per_tok, &ok);
        en->eidx = calloc(B * (size_t)s->n_experts_per_tok, sizeof(int));
        if (!en->eidx) ok = false;
    }
    en->inv_freq = falloc((size_t)(s->rotary_dim > 0 ? s->rotary_dim : 2), &ok);
    if (s->rope_local_theta > 0 && (en->inv_freq_local = falloc((size_t)(s->rotary_dim > 0 ? s->rotary_dim : 2), &ok)))
        rope_inv_freq_local(s, en->inv_freq_local);   /* fixed: no scaling in these layers */
    en->logits_last = falloc((size_t)s->vocab_size, &ok);
    en->scale_buf = falloc(B, &ok);
    /* hookbuf holds what a hook must see contiguously: the KV append [n, k+v per token],
     * MLA latents [n, kv_lora + rope] and expert indices [n, top_k]. */
    size_t hb = kdim + vdim;
    if ((size_t)s->n_experts_per_tok > hb) hb = (size_t)s->n_experts_per_tok;
    en->hookbuf = falloc(B * hb, &ok);
    if (!mla) en->dpart = falloc(attn_decode_floats(DEC_ROWS, H, en->dv), &ok);
    if (!ok) {
        engine_free(en);
        err_set(e, ERR_MEMORY, "out of memory creating the run state (context %d)", max_ctx);
        return NULL;
    }
    return en;
}

bool engine_grow(Engine *en, int max_ctx, Err *e) {
    const ModelSpec *s = en->s;
    if (s->pos == POS_LEARNED && max_ctx > s->max_pos) max_ctx = s->max_pos;
    if (max_ctx <= en->max_ctx) return true;
    if ((double)en->kv_elems_per_token * 4.0 * (double)max_ctx > 64e9)
        return err_set(e, ERR_MEMORY, "a KV cache of %d tokens would need %.1f GB", max_ctx, (double)en->kv_elems_per_token * 4.0 * max_ctx / 1e9);
    const bool mla = s->attn_kind == ATTN_MLA;
    const int L = en->n_kc, KV = s->n_kv_heads, old = en->max_ctx;
    const size_t kdim = mla ? (size_t)s->kv_lora_rank : (size_t)KV * (size_t)s->head_dim;
    const size_t vdim = mla ? (size_t)s->qk_rope_head_dim : (size_t)KV * (size_t)en->dv;
    float **kc = calloc((size_t)L, sizeof(float *)), **vc = calloc((size_t)L, sizeof(float *));
    bool ok = kc && vc;
    for (int l = 0; ok && l < L; l++) {
        kc[l] = falloc((size_t)max_ctx * kdim, &ok);
        vc[l] = falloc((size_t)max_ctx * vdim, &ok);
    }
    float *att = ok ? falloc((size_t)s->n_heads * CHUNK_ATT * (size_t)max_ctx, &ok) : NULL;
    if (!ok) {
        for (int l = 0; kc && vc && l < L; l++) { free(kc[l]); free(vc[l]); }
        free(kc); free(vc); free(att);
        return err_set(e, ERR_MEMORY, "out of memory growing the KV cache to %d tokens", max_ctx);
    }
    /* the cached positions [0, pos) move: MLA rows are token-major (a prefix); standard K/V
     * are head-major, each KV head's block [max_ctx][hd] now max_ctx rows apart */
    const size_t used = (size_t)en->pos;
    for (int l = 0; l < L; l++) {
        if (mla) {
            memcpy(kc[l], en->kc[l], sizeof(float) * used * kdim);
            memcpy(vc[l], en->vc[l], sizeof(float) * used * vdim);
        } else {
            const size_t hk = (size_t)s->head_dim, hv = (size_t)en->dv;
            for (int kh = 0; kh < KV; kh++) {
                memcpy(kc[l] + (size_t)kh * (size_t)max_ctx * hk, en->kc[l] + (size_t)kh * (size_t)old * hk, sizeof(float) * used * hk);
                memcpy(vc[l] + (size_t)kh * (size_t)max_ctx * hv, en->vc[l] + (size_t)kh * (size_t)old * hv, sizeof(float) * used * hv);
            }
        }
        free(en->kc[l]);
        free(en->vc[l]);
    }
    free(en->kc); free(en->vc); free(en->att);
    en->kc = kc;
    en->vc = vc;
    en->att = att;
    en->max_ctx = max_ctx;
    return true;
}

/* ---- hooks --------------------------------------------------------------------------- */

static void fire(Engine *en, HookPoint p, int layer, float *data, int ndim, int s0, int s1, int s2,
                 int p0, int n, size_t bytes) {
    HookEvent ev = {0};
    ev.point = p;
    ev.layer = hook_point_is_global(p) ? -1 : layer;
    ev.ndim = ndim;
    ev.shape[0] = s0; ev.shape[1] = s1; ev.shape[2] = s2;
    ev.data = data;
    ev.pos0 = p0;
    ev.n_tokens = n;
    ev.bytes = bytes;
    ev.step = en->steps;
    hooks_fire(en->hooks, &ev);
}
#ifdef LLMSCOPE_NO_HOOKS
#define WANT(p, l) ((void)(p), (void)(l), false)   /* the unhooked build, for make bench */
#else
#define WANT(p, l) hooks_want(en->hooks, (p), (l))
#endif

/* ---- sublayers ----------------------------------------------------------------------- */

static void norm_rows(Engine *en, float *out, const float *x, const Tensor *w, const Tensor *b, int n,
                      HookPoint hp_scale, HookPoint hp_norm, int layer, int p0) {
    const ModelSpec *s = en->s;
    const int d = s->d_model;
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *o = out + (size_t)t * d;
        en->scale_buf[t] = s->norm == NORM_RMSNORM ? rmsnorm(o, xr, w, d, s->norm_eps, NULL)
                                                   : layernorm(o, xr, w, b, d, s->norm_eps, NULL, NULL);
    }
    if (WANT(hp_scale, layer)) fire(en, hp_scale, layer, en->scale_buf, 1, n, 0, 0, p0, n, 0);
    if (WANT(hp_norm, layer)) fire(en, hp_norm, layer, out, 2, n, d, 0, p0, n, 0);
}

static void linear(Engine *en, const Tensor *W, const Tensor *b, const float *X, int n, float *Y) {
    matmul(W, X, n, Y);
    if (b && b->data) add_bias(b, Y, n, W->rows);
}

/* In-place RMSNorm of one head vector (Qwen3 q_norm / k_norm). */
static void head_rms(float *x, const Tensor *w, int hd, float eps) { rmsnorm(x, x, w, hd, eps, NULL); }

/* The causal (and sliding-window) mask on the scores of layer l, masked = -inf; Gemma 2's
 * soft-capping first (transformers: scaled scores, then the cap, then the mask). */
static void attn_softmax_rows(Engine *en, int l, int H, int n, int p0, int T) {
    const int W = spec_layer_window(en->s, l);
    for (int h = 0; h < H; h++)
        for (int t = 0; t < n; t++) {
            float *row = en->att + ((size_t)h * n + t) * (size_t)T;
            int qpos = p0 + t;
            ops_softcap(row, (size_t)qpos + 1, en->s->attn_softcap);
            int lo = (W > 0 && qpos - W + 1 > 0) ? qpos - W + 1 : 0;
            for (int j = 0; j < lo; j++) row[j] = -INFINITY;
            for (int j = qpos + 1; j < T; j++) row[j] = -INFINITY;
        }
}

/* Keys of KV head kh in layer l: [max_ctx][hd] from there (values likewise). */
static inline float *kv_head(const Engine *en, float *const *c, int l, int kh) {
    return c[l] + (size_t)kh * (size_t)en->max_ctx * (size_t)en->s->head_dim;
}

typedef struct { Engine *en; int n, T; } SoftmaxTask;

static void softmax_task(void *ctx, int task, int thread) {
    (void)thread;
    const SoftmaxTask *a = ctx;
    for (int t = 0; t < a->n; t++) softmax_inplace(a->en->att + ((size_t)task * a->n + t) * (size_t)a->T, a->T);
}

/* The materialised path's scores to the hooks, softmax, pattern to the hooks. */
static void attn_pattern(Engine *en, int layer, int H, int n, int p0, int T) {
    if (WANT(HP_ATTN_SCORES, layer)) fire(en, HP_ATTN_SCORES, layer, en->att, 3, H, n, T, p0, n, 0);
    SoftmaxTask a = {en, n, T};
    if ((size_t)H * (size_t)n * (size_t)T > 16384) pool_run(softmax_task, &a, H);
    else for (int h = 0; h < H; h++) softmax_task(&a, h, 0);
    if (WANT(HP_PATTERN, layer)) fire(en, HP_PATTERN, layer, en->att, 3, H, n, T, p0, n, 0);
}

/* Does this layer take the materialised path: a hook wants its attention scores or pattern,
 * or the scores are soft-capped (Gemma 2; the fused kernels do not cap)? */
static bool wants_pattern(const Engine *en, int l) {
    (void)en; (void)l;
    return WANT(HP_ATTN_SCORES, l) || WANT(HP_PATTERN, l) || en->s->attn_softcap > 0;
}

static void attention_standard(Engine *en, int l, int n, int p0) {
    const ModelSpec *s = en->s;
    const LayerWeights *lw = &en->m->w.layers[l];
    const int d = s->d_model, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, T = p0 + n;
    const int qd = H * hd, kd = KV * hd;
    (void)d;
    linear(en, &lw->wq, &lw->bq, en->xn, n, en->q);
    linear(en, &lw->wk, &lw->bk, en->xn, n, en->k);
    linear(en, &lw->wv, &lw->bv, en->xn, n, en->v);
    if (s->qk_norm) {   /* Qwen3: RMSNorm per head on q and k, before RoPE */
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < H; h++) head_rms(en->q + (size_t)t * qd + (size_t)h * hd, &lw->q_norm, hd, s->norm_eps);
            for (int h = 0; h < KV; h++) head_rms(en->k + (size_t)t * kd + (size_t)h * hd, &lw->k_norm, hd, s->norm_eps);
        }
    }
    if (WANT(HP_Q, l)) fire(en, HP_Q, l, en->q, 3, n, H, hd, p0, n, 0);
    if (WANT(HP_K, l)) fire(en, HP_K, l, en->k, 3, n, KV, hd, p0, n, 0);
    if (WANT(HP_V, l)) fire(en, HP_V, l, en->v, 3, n, KV, hd, p0, n, 0);
    if (s->pos == POS_ROPE) {
        const bool local = rope_layer_local(s, l) && en->inv_freq_local;   /* Gemma 3's sliding layers */
        const float *inv = local ? en->inv_freq_local : en->inv_freq, af = local ? 1.0f : en->attn_factor;
        for (int t = 0; t < n; t++) {
            rope_apply_heads(en->q + (size_t)t * qd, H, hd, s->rotary_dim, s->rope_style, inv, af, p0 + t);
            rope_apply_heads(en->k + (size_t)t * kd, KV, hd, s->rotary_dim, s->rope_style, inv, af, p0 + t);
        }
        if (WANT(HP_ROT_Q, l)) fire(en, HP_ROT_Q, l, en->q, 3, n, H, hd, p0, n, 0);
        if (WANT(HP_ROT_K, l)) fire(en, HP_ROT_K, l, en->k, 3, n, KV, hd, p0, n, 0);
    }
    /* append to the cache (rounded first when the cache plays a smaller type) */
    if (en->kv_round != DT_F32)
        for (int t = 0; t < n; t++)
            for (int h = 0; h < KV; h++) {
                kv_round_vec(en->kv_round, en->k + (size_t)t * kd + (size_t)h * hd, hd);
                kv_round_vec(en->kv_round, en->v + (size_t)t * kd + (size_t)h * hd, hd);
            }
    for (int h = 0; h < KV; h++) {
        float *kc = kv_head(en, en->kc, l, h), *vc = kv_head(en, en->vc, l, h);
        for (int t = 0; t < n; t++) {
            memcpy(kc + (size_t)(p0 + t) * hd, en->k + (size_t)t * kd + (size_t)h * hd, sizeof(float) * (size_t)hd);
            memcpy(vc + (size_t)(p0 + t) * hd, en->v + (size_t)t * kd + (size_t)h * hd, sizeof(float) * (size_t)hd);
        }
    }
    if (WANT(HP_KV_APPEND, l)) {
        /* what entered the cache: [n, 2*KV*hd] (keys then values per token) */
        float *hb = en->hookbuf;
        for (int t = 0; t < n; t++) {
            memcpy(hb + (size_t)t * 2 * kd, en->k + (size_t)t * kd, sizeof(float) * (size_t)kd);
            memcpy(hb + (size_t)t * 2 * kd + kd, en->v + (size_t)t * kd, sizeof(float) * (size_t)kd);
        }
        fire(en, HP_KV_APPEND, l, hb, 2, n, 2 * kd, 0, p0, n, (size_t)n * 2 * (size_t)kd * sizeof(float));
    }
    /* z = softmax(q·k * scale) v over the visible cached keys (GQA: head h reads KV head h/grp) */
    AttnArgs a = {.q = en->q, .ldq = (size_t)qd, .k = en->kc[l], .v = en->vc[l], .ldkv = (size_t)en->max_ctx * (size_t)hd,
                  .z = en->z, .ldz = (size_t)qd, .n = n, .p0 = p0, .H = H, .KV = KV, .hd = hd,
                  .window = spec_layer_window(s, l), .scale = s->softmax_scale};
    if (wants_pattern(en, l)) {
        attn_scores_all(&a, en->att);
        attn_softmax_rows(en, l, H, n, p0, T);
        attn_pattern(en, l, H, n, p0, T);
        attn_values_all(&a, en->att);   /* z = pattern · v */
    } else if (n <= DEC_ROWS) {
        attn_decode(&a, en->dpart);
    } else {
        attn_prefill(&a);
    }
    if (WANT(HP_Z, l)) fire(en, HP_Z, l, en->z, 3, n, H, hd, p0, n, 0);
    linear(en, &lw->wo, &lw->bo, en->z, n, en->tmp);
}

/* Multi-head latent attention (DeepSeek-V2 §2.1). The cache holds, per token, the
 * normalized latent c_kv [kv_lora] and the rotated shared key k_pe [rope]; keys and values
 * are never decompressed into the cache. Scores use the absorbed form:
 *   score(h,t,j) = (W_UK_h^T q_nope_h) · c_kv_j + q_pe_h · k_pe_j
 *   z_h = W_UV_h (sum_j p_j c_kv_j)
 * which equals attention over the decompressed k_nope = W_UK c_kv, v = W_UV c_kv. */
static void attention_mla(Engine *en, int l, int n, int p0) {
    const ModelSpec *s = en->s;
    const LayerWeights *lw = &en->m->w.layers[l];
    const int H = s->n_heads, nope = s->qk_nope_head_dim, rope = s->qk_rope_head_dim, dv = s->v_head_dim;
    const int R = s->kv_lora_rank, dq = nope + rope, T = p0 + n, qd = H * dq;
    /* queries */
    if (s->q_lora_rank) {
        linear(en, &lw->wq_a, NULL, en->xn, n, en->qlat);
        for (int t = 0; t < n; t++) rmsnorm(en->qlat + (size_t)t * s->q_lora_rank, en->qlat + (size_t)t * s->q_lora_rank, &lw->q_a_norm, s->q_lora_rank, MLA_LATENT_EPS, NULL);
        if (WANT(HP_Q_LATENT, l)) fire(en, HP_Q_LATENT, l, en->qlat, 2, n, s->q_lora_rank, 0, p0, n, 0);
        linear(en, &lw->wq_b, NULL, en->qlat, n, en->q);
    } else {
        linear(en, &lw->wq, NULL, en->xn, n, en->q);
    }
    if (WANT(HP_Q, l)) fire(en, HP_Q, l, en->q, 3, n, H, dq, p0, n, 0);
    /* compressed kv: [c_kv | k_pe] */
    const int la = R + rope;
    linear(en, &lw->wkv_a, NULL, en->xn, n, en->lat);
    for (int t = 0; t < n; t++) {
        float *row = en->lat + (size_t)t * la;
        rmsnorm(row, row, &lw->kv_a_norm, R, MLA_LATENT_EPS, NULL);
        rope_apply(row + R, rope, s->rope_style, en->inv_freq, en->attn_factor, p0 + t);
        for (int h = 0; h < H; h++) rope_apply(en->q + (size_t)t * qd + (size_t)h * dq + nope, rope, s->rope_style, en->inv_freq, en->attn_factor, p0 + t);
    }
    if (WANT(HP_ROT_Q, l)) fire(en, HP_ROT_Q, l, en->q, 3, n, H, dq, p0, n, 0);
    float *cc = en->kc[l], *pc = en->vc[l];
    for (int t = 0; t < n; t++) {
        if (en->kv_round != DT_F32) {
            kv_round_vec(en->kv_round, en->lat + (size_t)t * la, R);
            kv_round_vec(en->kv_round, en->lat + (size_t)t * la + R, rope);
        }
        memcpy(cc + (size_t)(p0 + t) * R, en->lat + (size_t)t * la, sizeof(float) * (size_t)R);
        memcpy(pc + (size_t)(p0 + t) * rope, en->lat + (size_t)t * la + R, sizeof(float) * (size_t)rope);
    }
    if (WANT(HP_KV_LATENT, l)) {
        for (int t = 0; t < n; t++) memcpy(en->hookbuf + (size_t)t * R, en->lat + (size_t)t * la, sizeof(float) * (size_t)R);
        fire(en, HP_KV_LATENT, l, en->hookbuf, 2, n, R, 0, p0, n, 0);
        for (int t = 0; t < n; t++) memcpy(cc + (size_t)(p0 + t) * R, en->hookbuf + (size_t)t * R, sizeof(float) * (size_t)R);
    }
    if (WANT(HP_K_ROPE, l)) fire(en, HP_K_ROPE, l, pc + (size_t)p0 * rope, 2, n, rope, 0, p0, n, 0);
    if (WANT(HP_KV_APPEND, l)) {
        for (int t = 0; t < n; t++) memcpy(en->hookbuf + (size_t)t * la, en->lat + (size_t)t * la, sizeof(float) * (size_t)la);
        fire(en, HP_KV_APPEND, l, en->hookbuf, 2, n, la, 0, p0, n, (size_t)n * (size_t)la * sizeof(float));
    }
    /* Decompressed keys/values of this chunk's tokens, only when someone looks at them. */
    if (WANT(HP_K, l) || WANT(HP_V, l)) {
        for (int t = 0; t < n; t++) {
            float *kt = en->k + (size_t)t * H * dq, *vt = en->v + (size_t)t * H * dv;
            for (int h = 0; h < H; h++)
                for (int i = 0; i < nope + dv; i++) {
                    float acc = 0;
                    for (int r = 0; r < R; r++) acc += tensor_get(&lw->wkv_b, ((size_t)h * (nope + dv) + i) * R + r) * cc[(size_t)(p0 + t) * R + r];
                    if (i < nope) kt[(size_t)h * dq + i] = acc; else vt[(size_t)h * dv + i - nope] = acc;
                }
            for (int h = 0; h < H; h++) memcpy(kt + (size_t)h * dq + nope, pc + (size_t)(p0 + t) * rope, sizeof(float) * (size_t)rope);
        }
        if (WANT(HP_K, l)) fire(en, HP_K, l, en->k, 3, n, H, dq, p0, n, 0);
        if (WANT(HP_V, l)) fire(en, HP_V, l, en->v, 3, n, H, dv, p0, n, 0);
    }
    /* absorb W_UK into the query, then scores, softmax and values per head (attn.c) */
    MlaArgs ma = {.wkv_b = &lw->wkv_b, .q = en->q, .qabs = en->qabs, .olat = en->olat, .c = cc, .kpe = pc, .z = en->z,
                  .n = n, .p0 = p0, .H = H, .nope = nope, .rope = rope, .dv = dv, .R = R, .scale = s->softmax_scale};
    attn_mla_absorb(&ma);
    if (wants_pattern(en, l)) {
        attn_mla_scores_all(&ma, en->att);
        attn_softmax_rows(en, l, H, n, p0, T);
        attn_pattern(en, l, H, n, p0, T);
        attn_mla_values_all(&ma, en->att);
    } else {
        attn_mla_fused(&ma);
    }
    if (WANT(HP_Z, l)) fire(en, HP_Z, l, en->z, 3, n, H, dv, p0, n, 0);
    linear(en, &lw->wo, &lw->bo, en->z, n, en->tmp);
}

/* Gated or plain FFN on rows X[n, d] -> out[n, d] (out may alias nothing). */
static void ffn_dense(Engine *en, int l, const Tensor *g, const Tensor *u, const Tensor *dn,
                      const Tensor *bg, const Tensor *bu, const Tensor *bd, int ff, const float *X, int n,
                      float *out, bool fire_hooks, int p0) {
    const ModelSpec *s = en->s;
    if (s->gated_ffn) {
        linear(en, g, bg, X, n, en->ff1);
        linear(en, u, bu, X, n, en->ff2);
        if (fire_hooks && WANT(HP_MLP_PRE, l)) fire(en, HP_MLP_PRE, l, en->ff1, 2, n, ff, 0, p0, n, 0);
        if (fire_hooks && WANT(HP_MLP_PRE_LINEAR, l)) fire(en, HP_MLP_PRE_LINEAR, l, en->ff2, 2, n, ff, 0, p0, n, 0);
        size_t N = (size_t)n * (size_t)ff;
        ops_act_mul(s->act, en->ff1, en->ff2, N);
    } else {
        linear(en, u, bu, X, n, en->ff1);
        if (fire_hooks && WANT(HP_MLP_PRE, l)) fire(en, HP_MLP_PRE, l, en->ff1, 2, n, ff, 0, p0, n, 0);
        size_t N = (size_t)n * (size_t)ff;
        ops_act_mul(s->act, en->ff1, NULL, N);
    }
    if (fire_hooks && WANT(HP_MLP_POST, l)) fire(en, HP_MLP_POST, l, en->ff1, 2, n, ff, 0, p0, n, 0);
    linear(en, dn, bd, en->ff1, n, out);
}

/* Routing for one token: scores over experts -> chosen indices and weights.
 *   softmax (Mixtral, Qwen3-MoE, DeepSeek-V2): p = softmax(r); top-k of p (V2: within the
 *     topk_group groups with the largest max p); weights p_k, renormalised if norm_topk_prob,
 *     times routed_scaling_factor.
 *   sigmoid (DeepSeek-V3): s = sigmoid(r); choice by s + bias; group score = sum of the top 2
 *     in the group; weights s_k (without bias), renormalised if norm_topk_prob, times factor. */
static void route_token(const ModelSpec *s, const LayerWeights *lw, const float *r, int *idx, float *w) {
    const int E = s->n_experts, K = s->n_experts_per_tok;
    float sc[ROUTE_MAX_EXPERTS], ch[ROUTE_MAX_EXPERTS];
    const int En = E;   /* config_parse caps experts at ROUTE_MAX_EXPERTS */
    if (s->route_scoring == ROUTE_SOFTMAX) {
        float m = -INFINITY, sum = 0;
        for (int e = 0; e < En; e++) if (r[e] > m) m = r[e];
        for (int e = 0; e < En; e++) { sc[e] = expf(r[e] - m); sum += sc[e]; }
        for (int e = 0; e < En; e++) { sc[e] /= sum; ch[e] = sc[e]; }
    } else {
        for (int e = 0; e < En; e++) {
            sc[e] = 1.0f / (1.0f + expf(-r[e]));
            ch[e] = sc[e] + (lw->router_bias.data ? tensor_get(&lw->router_bias, (size_t)e) : 0.0f);
        }
    }
    if (s->n_group > 1) {
        const int G = s->n_group, per = En / G;
        float gs[ROUTE_MAX_EXPERTS];
        for (int g = 0; g < G; g++) {
            if (s->route_scoring == ROUTE_SIGMOID) {   /* sum of the two best in the group */
                float b1 = -INFINITY, b2 = -INFINITY;
                for (int i = 0; i < per; i++) {
                    float v = ch[g * per + i];
                    if (v > b1) { b2 = b1; b1 = v; } else if (v > b2) b2 = v;
                }
                gs[g] = b1 + (per > 1 ? b2 : 0);
            } else {
                float b = -INFINITY;
                for (int i = 0; i < per; i++) if (ch[g * per + i] > b) b = ch[g * per + i];
                gs[g] = b;
            }
        }
        unsigned char keep[ROUTE_MAX_EXPERTS] = {0};
        for (int k = 0; k < s->topk_group; k++) {
            int best = -1;
            for (int g = 0; g < G; g++) if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            if (best >= 0) keep[best] = 1;
        }
        /* experts of the other groups cannot be chosen (transformers 5.17 masks them with -inf;
         * V2's softmax scores are positive, so its mask of 0 chooses the same) */
        for (int e = 0; e < En; e++) if (!keep[e / per]) ch[e] = -INFINITY;
    }
    unsigned char used[ROUTE_MAX_EXPERTS] = {0};
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < En; e++) if (!used[e] && (best < 0 || ch[e] > ch[best])) best = e;
        used[best] = 1;
        idx[k] = best;
        w[k] = sc[best];
    }
    if (s->norm_topk_prob) {
        float sum = 0;
        for (int k = 0; k < K; k++) sum += w[k];
        if (s->route_scoring == ROUTE_SIGMOID) sum += 1e-20f;
        for (int k = 0; k < K; k++) w[k] /= sum;
    }
    for (int k = 0; k < K; k++) w[k] *= s->routed_scaling_factor;
}

static void ffn_moe(Engine *en, int l, int n, int p0) {
    const ModelSpec *s = en->s;
    const LayerWeights *lw = &en->m->w.layers[l];
    const int d = s->d_model, E = s->n_experts, K = s->n_experts_per_tok, I = s->moe_d_ff;
    linear(en, &lw->router, NULL, en->xn, n, en->router);
    if (WANT(HP_ROUTER_LOGITS, l)) fire(en, HP_ROUTER_LOGITS, l, en->router, 2, n, E, 0, p0, n, 0);
    for (int t = 0; t < n; t++) route_token(s, lw, en->router + (size_t)t * E, en->eidx + (size_t)t * K, en->ew + (size_t)t * K);
    if (WANT(HP_EXPERT_INDICES, l)) {
        for (int i = 0; i < n * K; i++) en->hookbuf[i] = (float)en->eidx[i];
        fire(en, HP_EXPERT_INDICES, l, en->hookbuf, 2, n, K, 0, p0, n, 0);
    }
    if (WANT(HP_EXPERT_WEIGHTS, l)) fire(en, HP_EXPERT_WEIGHTS, l, en->ew, 2, n, K, 0, p0, n, 0);
    /* routed experts, one token at a time (matvec on the chosen experts only) */
    for (int t = 0; t < n; t++) {
        float *out = en->tmp + (size_t)t * d;
        for (int i = 0; i < d; i++) out[i] = 0;
        const float *xr = en->xn + (size_t)t * d;
        for (int k = 0; k < K; k++) {
            const Expert *ex = &lw->experts[en->eidx[(size_t)t * K + k]];
            float wgt = en->ew[(size_t)t * K + k];
            matvec(&ex->gate, xr, en->ff1);
            matvec(&ex->up, xr, en->ff2);
            for (int i = 0; i < I; i++) en->ff1[i] = act_apply(s->act, en->ff1[i]) * en->ff2[i];
            matvec(&ex->down, en->ff1, en->ff3);
            for (int i = 0; i < d; i++) out[i] += wgt * en->ff3[i];
        }
    }
    if (s->n_shared_experts) {
        /* shared experts see every token; their activations are this layer's hook_post */
        ffn_dense(en, l, &lw->sh_gate, &lw->sh_up, &lw->sh_down, NULL, NULL, NULL, s->n_shared_experts * I, en->xn, n, en->ff3, true, p0);
        for (size_t i = 0; i < (size_t)n * d; i++) en->tmp[i] += en->ff3[i];
    }
}

static void embed_tokens(Engine *en, const int *tokens, int n, int p0) {
    const ModelSpec *s = en->s;
    const int d = s->d_model;
    for (int t = 0; t < n; t++) tensor_row_f32(&en->m->w.tok_emb, (size_t)tokens[t] * d, d, en->x + (size_t)t * d);
    if (s->embed_scale > 0)   /* Gemma: the rows times sqrt(d_model), what enters the residual stream */
        for (size_t i = 0; i < (size_t)n * d; i++) en->x[i] *= s->embed_scale;
    if (WANT(HP_EMBED, -1)) fire(en, HP_EMBED, -1, en->x, 2, n, d, 0, p0, n, 0);
    if (s->pos == POS_LEARNED) {
        for (int t = 0; t < n; t++) tensor_row_f32(&en->m->w.pos_emb, (size_t)(p0 + t) * d, d, en->tmp + (size_t)t * d);
        if (WANT(HP_POS_EMBED, -1)) fire(en, HP_POS_EMBED, -1, en->tmp, 2, n, d, 0, p0, n, 0);
        for (size_t i = 0; i < (size_t)n * d; i++) en->x[i] += en->tmp[i];
    }
}

/* One chunk of n <= CHUNK tokens at positions p0.. ; logits rows written to out (n rows if
 * all, else the last row only). */
static void forward_chunk(Engine *en, const int *tokens, int n, int p0, float *logits_out, bool all) {
    const ModelSpec *s = en->s;
    const Weights *w = &en->m->w;
    const int d = s->d_model;
    embed_tokens(en, tokens, n, p0);
    for (int l = 0; l < s->n_layers; l++) {
        const LayerWeights *lw = &w->layers[l];
        if (WANT(HP_RESID_PRE, l)) fire(en, HP_RESID_PRE, l, en->x, 2, n, d, 0, p0, n, 0);
        norm_rows(en, en->xn, en->x, &lw->ln1_w, &lw->ln1_b, n, HP_LN1_SCALE, HP_LN1_NORMALIZED, l, p0);
        if (s->attn_kind == ATTN_MLA) attention_mla(en, l, n, p0);
        else attention_standard(en, l, n, p0);
        if (lw->post_attn_norm.data)   /* Gemma 2/3: the output normalized before it joins the residual */
            for (int t = 0; t < n; t++) rmsnorm(en->tmp + (size_t)t * d, en->tmp + (size_t)t * d, &lw->post_attn_norm, d, s->norm_eps, NULL);
        if (WANT(HP_ATTN_OUT, l)) fire(en, HP_ATTN_OUT, l, en->tmp, 2, n, d, 0, p0, n, 0);
        for (size_t i = 0; i < (size_t)n * d; i++) en->x[i] += en->tmp[i];
        if (WANT(HP_RESID_MID, l)) fire(en, HP_RESID_MID, l, en->x, 2, n, d, 0, p0, n, 0);
        norm_rows(en, en->xn, en->x, &lw->ln2_w, &lw->ln2_b, n, HP_LN2_SCALE, HP_LN2_NORMALIZED, l, p0);
        if (lw->is_moe) ffn_moe(en, l, n, p0);
        else ffn_dense(en, l, &lw->w_gate, &lw->w_up, &lw->w_down, &lw->b_gate, &lw->b_up, &lw->b_down, lw->d_ff, en->xn, n, en->tmp, true, p0);
        if (lw->post_ffn_norm.data)
            for (int t = 0; t < n; t++) rmsnorm(en->tmp + (size_t)t * d, en->tmp + (size_t)t * d, &lw->post_ffn_norm, d, s->norm_eps, NULL);
        if (WANT(HP_MLP_OUT, l)) fire(en, HP_MLP_OUT, l, en->tmp, 2, n, d, 0, p0, n, 0);
        for (size_t i = 0; i < (size_t)n * d; i++) en->x[i] += en->tmp[i];
        if (WANT(HP_RESID_POST, l)) fire(en, HP_RESID_POST, l, en->x, 2, n, d, 0, p0, n, 0);
    }
    norm_rows(en, en->xn, en->x, &w->lnf_w, &w->lnf_b, n, HP_LNF_SCALE, HP_LNF_NORMALIZED, -1, p0);
    if (!all && en->hook_all_logits && WANT(HP_LOGITS, -1) && n > 1) {
        if (!en->logits_blk) en->logits_blk = malloc(sizeof(float) * LOGIT_BLK * (size_t)s->vocab_size);
        if (en->logits_blk) {
            for (int b = 0; b < n; b += LOGIT_BLK) {
                int nb = n - b < LOGIT_BLK ? n - b : LOGIT_BLK;
                linear(en, &w->lm_head, NULL, en->xn + (size_t)b * d, nb, en->logits_blk);
                ops_softcap(en->logits_blk, (size_t)nb * (size_t)s->vocab_size, s->final_softcap);
                fire(en, HP_LOGITS, -1, en->logits_blk, 2, nb, s->vocab_size, 0, p0 + b, nb, 0);
                if (logits_out && b + nb == n)
                    memcpy(logits_out, en->logits_blk + (size_t)(nb - 1) * s->vocab_size, sizeof(float) * (size_t)s->vocab_size);
            }
            return;
        }
    }
    if (!logits_out) return;   /* a prefill chunk before the last: no logits needed */
    if (all) {
        linear(en, &w->lm_head, NULL, en->xn, n, logits_out);
        ops_softcap(logits_out, (size_t)n * (size_t)s->vocab_size, s->final_softcap);
        if (WANT(HP_LOGITS, -1)) fire(en, HP_LOGITS, -1, logits_out, 2, n, s->vocab_size, 0, p0, n, 0);
    } else {
        matvec(&w->lm_head, en->xn + (size_t)(n - 1) * d, logits_out);
        ops_softcap(logits_out, (size_t)s->vocab_size, s->final_softcap);
        if (WANT(HP_LOGITS, -1)) fire(en, HP_LOGITS, -1, logits_out, 2, 1, s->vocab_size, 0, p0 + n - 1, 1, 0);
    }
}

float *engine_forward(Engine *en, const int *tokens, int n, bool all_logits, Err *e) {
    const ModelSpec *s = en->s;
    if (n <= 0) { err_set(e, ERR_ARG, "no tokens to run"); return NULL; }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->vocab_size) {
            err_set(e, ERR_ARG, "token id %d at position %d is outside the vocabulary (0..%d)", tokens[i], en->pos + i, s->vocab_size - 1);
            return NULL;
        }
    if (en->pos + n > en->max_ctx) {
        err_set(e, ERR_ARG, "context full: %d tokens in the cache + %d new exceed the context of %d tokens%s",
                en->pos, n, en->max_ctx, s->pos == POS_LEARNED ? " (learned positions cannot go further)" : " (use --ctx to enlarge it)");
        return NULL;
    }
    float *out;
    if (all_logits) {
        size_t need = (size_t)n * (size_t)s->vocab_size;
        if (need > en->logits_all_cap) {
            float *nb = realloc(en->logits_all, need * sizeof(float));
            if (!nb) { err_set(e, ERR_MEMORY, "out of memory for %d rows of logits", n); return NULL; }
            en->logits_all = nb;
            en->logits_all_cap = need;
        }
        out = en->logits_all;
    } else out = en->logits_last;
    /* RoPE frequencies for this call (dynamic NTK depends on the length reached) */
    const int seq_len = en->pos + n;
    if (s->pos == POS_ROPE) en->attn_factor = rope_inv_freq(s, seq_len, en->inv_freq);
    int chunk = CHUNK;
    for (int l = 0; l < s->n_layers && chunk > CHUNK_ATT; l++)
        if (wants_pattern(en, l)) chunk = CHUNK_ATT;
    int done = 0;
    while (done < n) {
        int c = n - done < chunk ? n - done : chunk;
        bool last = done + c == n;
        float *lo = all_logits ? out + (size_t)done * s->vocab_size : out;
        if (all_logits || last || en->hook_all_logits) forward_chunk(en, tokens + done, c, en->pos, all_logits || last ? lo : NULL, all_logits);
        else forward_chunk(en, tokens + done, c, en->pos, NULL, false);
        en->pos += c;
        done += c;
    }
    en->steps++;
    return out;
}
bool engine_attn_row(const Engine *en, int l, int pos, int h, const float *q, float *scores, float *pattern) {
    const ModelSpec *s = en->s;
    if (l < 0 || l >= s->n_layers || h < 0 || h >= s->n_heads || pos < 0 || pos >= en->pos || !q) return false;
    const int lo = attn_lo(spec_layer_window(s, l), pos);
    for (int j = 0; j < lo; j++) scores[j] = -INFINITY;
    if (s->attn_kind == ATTN_MLA) {
        const int nope = s->qk_nope_head_dim, rope = s->qk_rope_head_dim, dv = s->v_head_dim, R = s->kv_lora_rank;
        const Tensor *wb = &en->m->w.layers[l].wkv_b;
        float *qa = calloc((size_t)R + 1024, sizeof(float)), *rowbuf = qa ? qa + R : NULL;
        if (!qa) return false;
        for (int i = 0; i < nope; i++) {
            size_t off = ((size_t)h * (nope + dv) + (size_t)i) * (size_t)R;
            for (int r0 = 0; r0 < R; r0 += 1024) {
                int nr = R - r0 < 1024 ? R - r0 : 1024;
                tensor_row_f32(wb, off + (size_t)r0, nr, rowbuf);
                for (int r = 0; r < nr; r++) qa[r0 + r] += q[i] * rowbuf[r];
            }
        }
        for (int j = lo; j <= pos; j++)
            scores[j] = (ops_dot(qa, en->kc[l] + (size_t)j * R, R) + ops_dot(q + nope, en->vc[l] + (size_t)j * rope, rope)) * s->softmax_scale;
        free(qa);
    } else {
        const int hd = s->head_dim, kh = h / (s->n_heads / s->n_kv_heads);
        attn_row_scores(kv_head(en, en->kc, l, kh), hd, lo, pos, q, s->softmax_scale, scores + lo);
    }
    ops_softcap(scores + lo, (size_t)(pos + 1 - lo), s->attn_softcap);
    if (!pattern) return true;
    float m = -INFINITY;
    for (int j = 0; j <= pos; j++) { pattern[j] = j < lo ? 0 : scores[j]; if (j >= lo && scores[j] > m) m = scores[j]; }
    float inv = 1.0f / ops_exp_sum(pattern + lo, pos + 1 - lo, m);
    for (int j = lo; j <= pos; j++) pattern[j] *= inv;
    return true;
}
bool engine_mlp_post(const Engine *en, int l, const float *x_norm, float *out, float *tmp) {
    const ModelSpec *s = en->s;
    const LayerWeights *lw = l >= 0 && l < s->n_layers ? &en->m->w.layers[l] : NULL;
    if (!lw || lw->is_moe) return false;
    const Tensor *first = s->gated_ffn ? &lw->w_gate : &lw->w_up, *fb = s->gated_ffn ? &lw->b_gate : &lw->b_up;
    matmul(first, x_norm, 1, out);
    if (fb->data) add_bias(fb, out, 1, first->rows);
    if (s->gated_ffn) { matmul(&lw->w_up, x_norm, 1, tmp); if (lw->b_up.data) add_bias(&lw->b_up, tmp, 1, lw->w_up.rows); }
    ops_act_mul(s->act, out, s->gated_ffn ? tmp : NULL, (size_t)lw->d_ff);
    return true;
}
bool engine_q_proj(const Engine *en, int l, const float *x_norm, float *out) {
    const ModelSpec *s = en->s;
    if (l < 0 || l >= s->n_layers || s->attn_kind == ATTN_MLA) return false;
    const LayerWeights *lw = &en->m->w.layers[l];   /* then as attention_standard: */
    matmul(&lw->wq, x_norm, 1, out);
    if (lw->bq.data) add_bias(&lw->bq, out, 1, lw->wq.rows);
    for (int h = 0; s->qk_norm && h < s->n_heads; h++) head_rms(out + (size_t)h * s->head_dim, &lw->q_norm, s->head_dim, s->norm_eps);
    return true;
}
