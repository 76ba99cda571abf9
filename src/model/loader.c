/* Loads a model: HF directory (config.json + safetensors, single or sharded), a HF cache
 * repo id, or a llama2.c .bin. Maps every architecture's tensor names onto Weights and
 * checks every shape against the config before anything runs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>
#include "model/model.h"
#include "model/tensorfile.h"
#include "core/dtype.h"

void *model_alloc(Model *m, size_t bytes, Err *e) {
    if (m->n_owned == m->cap_owned) {
        int nc = m->cap_owned ? m->cap_owned * 2 : 16;
        void **no = realloc(m->owned, sizeof(void *) * (size_t)nc);
        if (!no) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
        m->owned = no;
        m->cap_owned = nc;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) { err_set(e, ERR_MEMORY, "out of memory allocating %zu bytes", bytes); return NULL; }
    m->owned[m->n_owned++] = p;
    return p;
}

void model_free(Model *m) {
    if (!m) return;
    if (m->w.layers) {
        for (int l = 0; l < m->spec.n_layers; l++) free(m->w.layers[l].experts);
        free(m->w.layers);
    }
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_maps; i++) mapped_close(m->maps[i]);
    free(m->maps);
    free(m);
}

typedef struct {
    Model *m;
    TensorSet *ts;
    const char *dir;
    Err *e;
    bool bad;
    char prefix[32];   /* "model." / "transformer." / "" */
} Ld;

static const TensorInfo *ld_find(Ld *L, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", L->prefix, name);
    const TensorInfo *t = tensorset_find(L->ts, full);
    if (!t) t = tensorset_find(L->ts, name);
    return t;
}

/* Required (or optional) 2-D/1-D tensor with an exact shape. rows=0 means 1-D of cols. */
static Tensor ld_tensor(Ld *L, const char *name, int rows, int cols, bool required) {
    Tensor t = {0};
    if (L->bad) return t;
    const TensorInfo *ti = ld_find(L, name);
    if (!ti) {
        if (required) {
            err_set(L->e, ERR_FORMAT, "%s: required tensor \"%s%s\" is missing from the safetensors files", L->dir, L->prefix, name);
            L->bad = true;
        }
        return t;
    }
    if (!ti->supported) {
        err_set(L->e, ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (supported: F32, F16, BF16)", ti->file, ti->name, ti->dtype_str);
        L->bad = true;
        return t;
    }
    bool ok = rows == 0 ? (ti->ndim == 1 && ti->shape[0] == cols)
                        : (ti->ndim == 2 && ti->shape[0] == rows && ti->shape[1] == cols);
    if (!ok) {
        char got[128] = "[", tmp[32];
        for (int i = 0; i < ti->ndim; i++) { snprintf(tmp, sizeof tmp, "%s%lld", i ? ", " : "", (long long)ti->shape[i]); strncat(got, tmp, sizeof got - strlen(got) - 2); }
        strncat(got, "]", sizeof got - strlen(got) - 1);
        if (rows == 0) err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" has shape %s, expected [%d] from config.json", ti->file, ti->name, got, cols);
        else err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" has shape %s, expected [%d, %d] from config.json", ti->file, ti->name, got, rows, cols);
        L->bad = true;
        return t;
    }
    t.data = ti->data;
    t.dtype = ti->dtype;
    t.rows = rows == 0 ? 1 : rows;
    t.cols = cols;
    return t;
}

/* A slice of a 3-D expert tensor [E, R, C]: expert e, rows [r0, r0+nr). */
static Tensor ld_expert_slice(const TensorInfo *ti, int e, int r0, int nr) {
    Tensor t = {0};
    size_t es = dtype_size(ti->dtype);
    size_t off = ((size_t)e * (size_t)ti->shape[1] + (size_t)r0) * (size_t)ti->shape[2] * es;
    t.data = (const uint8_t *)ti->data + off;
    t.dtype = ti->dtype;
    t.rows = nr;
    t.cols = (int)ti->shape[2];
    return t;
}

static const TensorInfo *ld_3d(Ld *L, const char *name, int a, int b, int c) {
    const TensorInfo *ti = ld_find(L, name);
    if (!ti || L->bad) return NULL;
    if (!ti->supported || ti->ndim != 3 || ti->shape[0] != a || ti->shape[1] != b || ti->shape[2] != c) {
        err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" must be a 3-D %s tensor of shape [%d, %d, %d] from config.json",
                ti->file, ti->name, "F32/F16/BF16", a, b, c);
        L->bad = true;
        return NULL;
    }
    return ti;
}

/* GPT-2 Conv1D stores [in, out]; we keep [out, in]. Copies columns [c0, c0+n) transposed. */
static Tensor ld_conv1d(Ld *L, const char *name, int in, int out_total, int c0, int n) {
    Tensor t = {0};
    if (L->bad) return t;
    const TensorInfo *ti = ld_find(L, name);
    if (!ti) {
        err_set(L->e, ERR_FORMAT, "%s: required tensor \"%s%s\" is missing", L->dir, L->prefix, name);
        L->bad = true;
        return t;
    }
    if (!ti->supported || ti->ndim != 2 || ti->shape[0] != in || ti->shape[1] != out_total) {
        err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" must have shape [%d, %d] (GPT-2 Conv1D, [in, out]) from config.json",
                ti->file, ti->name, in, out_total);
        L->bad = true;
        return t;
    }
    size_t es = dtype_size(ti->dtype);
    if (L->m->layout_only) return (Tensor){ti->data, ti->dtype, n, in};   /* the copy's shape, nothing read */
    uint8_t *dst = model_alloc(L->m, (size_t)n * (size_t)in * es, L->e);
    if (!dst) { L->bad = true; return t; }
    const uint8_t *src = ti->data;
    for (int o = 0; o < n; o++)
        for (int i = 0; i < in; i++)
            memcpy(dst + ((size_t)o * (size_t)in + (size_t)i) * es, src + ((size_t)i * (size_t)out_total + (size_t)(c0 + o)) * es, es);
    t.data = dst;
    t.dtype = ti->dtype;
    t.rows = n;
    t.cols = in;
    return t;
}

static Tensor ld_vec_slice(Ld *L, const char *name, int total, int c0, int n) {
    Tensor t = ld_tensor(L, name, 0, total, true);
    if (!t.data) return t;
    t.data = (const uint8_t *)t.data + (size_t)c0 * dtype_size(t.dtype);
    t.cols = n;
    return t;
}

static bool layer_is_moe(const ModelSpec *s, int l) {
    if (!s->n_experts) return false;
    if (s->family == ARCH_DEEPSEEK) return l >= s->first_k_dense_replace && l % (s->moe_layer_freq ? s->moe_layer_freq : 1) == 0;
    if (!strcmp(s->model_type, "qwen3_moe")) return (l + 1) % (s->moe_layer_freq ? s->moe_layer_freq : 1) == 0 && !s->mlp_only[l];
    return true;
}

static void load_experts(Ld *L, LayerWeights *lw, int l) {
    const ModelSpec *s = &L->m->spec;
    const int E = s->n_experts, I = s->moe_d_ff, d = s->d_model;
    char n[256];
    lw->experts = calloc((size_t)E, sizeof(Expert));
    if (!lw->experts) { err_set(L->e, ERR_MEMORY, "out of memory"); L->bad = true; return; }
    const char *mlp = !strcmp(s->model_type, "mixtral") ? "block_sparse_moe" : "mlp";
    /* router */
    snprintf(n, sizeof n, "layers.%d.%s.gate.weight", l, mlp);
    const TensorInfo *ti = ld_find(L, n);
    if (!ti && !strcmp(mlp, "block_sparse_moe")) { mlp = "mlp"; snprintf(n, sizeof n, "layers.%d.mlp.gate.weight", l); }
    if (!ld_find(L, n)) { snprintf(n, sizeof n, "layers.%d.%s.router.weight", l, mlp); }
    lw->router = ld_tensor(L, n, E, d, true);
    if (s->has_score_bias) {
        snprintf(n, sizeof n, "layers.%d.%s.gate.e_score_correction_bias", l, mlp);
        lw->router_bias = ld_tensor(L, n, 0, E, true);
    }
    /* fused 3-D layout (transformers >= 5 saves experts this way) */
    snprintf(n, sizeof n, "layers.%d.%s.experts.gate_up_proj", l, mlp);
    const TensorInfo *gu = ld_find(L, n);
    if (gu) {
        gu = ld_3d(L, n, E, 2 * I, d);
        snprintf(n, sizeof n, "layers.%d.%s.experts.down_proj", l, mlp);
        const TensorInfo *dn = ld_3d(L, n, E, d, I);
        if (!dn && !L->bad) { err_set(L->e, ERR_FORMAT, "%s: tensor \"%s\" is missing", L->dir, n); L->bad = true; }
        if (L->bad) return;
        for (int e = 0; e < E; e++) {
            lw->experts[e].gate = ld_expert_slice(gu, e, 0, I);
            lw->experts[e].up = ld_expert_slice(gu, e, I, I);
            lw->experts[e].down = ld_expert_slice(dn, e, 0, d);
        }
    } else {
        for (int e = 0; e < E && !L->bad; e++) {
            char a[256], b[256], c[256];
            snprintf(a, sizeof a, "layers.%d.%s.experts.%d.w1.weight", l, mlp, e);
            if (ld_find(L, a)) {
                snprintf(b, sizeof b, "layers.%d.%s.experts.%d.w3.weight", l, mlp, e);
                snprintf(c, sizeof c, "layers.%d.%s.experts.%d.w2.weight", l, mlp, e);
            } else {
                snprintf(a, sizeof a, "layers.%d.%s.experts.%d.gate_proj.weight", l, mlp, e);
                snprintf(b, sizeof b, "layers.%d.%s.experts.%d.up_proj.weight", l, mlp, e);
                snprintf(c, sizeof c, "layers.%d.%s.experts.%d.down_proj.weight", l, mlp, e);
            }
            lw->experts[e].gate = ld_tensor(L, a, I, d, true);
            lw->experts[e].up = ld_tensor(L, b, I, d, true);
            lw->experts[e].down = ld_tensor(L, c, d, I, true);
        }
    }
    if (s->n_shared_experts) {
        int S = s->n_shared_experts * I;
        snprintf(n, sizeof n, "layers.%d.mlp.shared_experts.gate_proj.weight", l);
        lw->sh_gate = ld_tensor(L, n, S, d, true);
        snprintf(n, sizeof n, "layers.%d.mlp.shared_experts.up_proj.weight", l);
        lw->sh_up = ld_tensor(L, n, S, d, true);
        snprintf(n, sizeof n, "layers.%d.mlp.shared_experts.down_proj.weight", l);
        lw->sh_down = ld_tensor(L, n, d, S, true);
    }
}

/* Gemma's RMSNorm weights are stored as w and applied as 1 + w (x * (1.0 + w.float()), in f32):
 * the 1 is added here into an f32 copy, so the engine's RMSNorm stays x * w. */
static void ld_plus_one(Ld *L, Tensor *t) {
    if (L->bad || !t->data || L->m->layout_only) return;
    const int n = t->cols;
    float *dst = model_alloc(L->m, sizeof(float) * (size_t)n, L->e);
    if (!dst) { L->bad = true; return; }
    for (int i = 0; i < n; i++) {
        float w;
        if (t->dtype == DT_F32) memcpy(&w, (const uint8_t *)t->data + 4 * (size_t)i, 4);
        else {
            uint16_t h;
            memcpy(&h, (const uint8_t *)t->data + 2 * (size_t)i, 2);
            w = t->dtype == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
        }
        dst[i] = 1.0f + w;
    }
    t->data = dst;
    t->dtype = DT_F32;
}

static void load_llama_like(Ld *L) {
    Model *m = L->m;
    const ModelSpec *s = &m->spec;
    const int d = s->d_model, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, V = s->vocab_size;
    char n[256];
    m->w.tok_emb = ld_tensor(L, "embed_tokens.weight", V, d, true);
    for (int l = 0; l < s->n_layers && !L->bad; l++) {
        LayerWeights *lw = &m->w.layers[l];
        snprintf(n, sizeof n, "layers.%d.input_layernorm.weight", l); lw->ln1_w = ld_tensor(L, n, 0, d, true);
        if (s->sandwich_norm) {   /* Gemma 2/3: post_attention_layernorm normalizes the attention output */
            snprintf(n, sizeof n, "layers.%d.post_attention_layernorm.weight", l); lw->post_attn_norm = ld_tensor(L, n, 0, d, true);
            snprintf(n, sizeof n, "layers.%d.pre_feedforward_layernorm.weight", l); lw->ln2_w = ld_tensor(L, n, 0, d, true);
            snprintf(n, sizeof n, "layers.%d.post_feedforward_layernorm.weight", l); lw->post_ffn_norm = ld_tensor(L, n, 0, d, true);
        } else {
            snprintf(n, sizeof n, "layers.%d.post_attention_layernorm.weight", l); lw->ln2_w = ld_tensor(L, n, 0, d, true);
        }
        if (s->family == ARCH_DEEPSEEK) {
            const int qk = s->qk_nope_head_dim + s->qk_rope_head_dim;
            if (s->q_lora_rank) {
                snprintf(n, sizeof n, "layers.%d.self_attn.q_a_proj.weight", l); lw->wq_a = ld_tensor(L, n, s->q_lora_rank, d, true);
                snprintf(n, sizeof n, "layers.%d.self_attn.q_a_layernorm.weight", l); lw->q_a_norm = ld_tensor(L, n, 0, s->q_lora_rank, true);
                snprintf(n, sizeof n, "layers.%d.self_attn.q_b_proj.weight", l); lw->wq_b = ld_tensor(L, n, H * qk, s->q_lora_rank, true);
            } else {
                snprintf(n, sizeof n, "layers.%d.self_attn.q_proj.weight", l); lw->wq = ld_tensor(L, n, H * qk, d, true);
            }
            snprintf(n, sizeof n, "layers.%d.self_attn.kv_a_proj_with_mqa.weight", l);
            lw->wkv_a = ld_tensor(L, n, s->kv_lora_rank + s->qk_rope_head_dim, d, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.kv_a_layernorm.weight", l); lw->kv_a_norm = ld_tensor(L, n, 0, s->kv_lora_rank, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.kv_b_proj.weight", l);
            lw->wkv_b = ld_tensor(L, n, H * (s->qk_nope_head_dim + s->v_head_dim), s->kv_lora_rank, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.o_proj.weight", l); lw->wo = ld_tensor(L, n, d, H * s->v_head_dim, true);
            if (s->o_bias) {
                snprintf(n, sizeof n, "layers.%d.self_attn.o_proj.bias", l); lw->bo = ld_tensor(L, n, 0, d, true);
            }
        } else {
            snprintf(n, sizeof n, "layers.%d.self_attn.q_proj.weight", l); lw->wq = ld_tensor(L, n, H * hd, d, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.k_proj.weight", l); lw->wk = ld_tensor(L, n, KV * hd, d, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.v_proj.weight", l); lw->wv = ld_tensor(L, n, KV * hd, d, true);
            snprintf(n, sizeof n, "layers.%d.self_attn.o_proj.weight", l); lw->wo = ld_tensor(L, n, d, H * hd, true);
            if (s->qkv_bias) {
                snprintf(n, sizeof n, "layers.%d.self_attn.q_proj.bias", l); lw->bq = ld_tensor(L, n, 0, H * hd, true);
                snprintf(n, sizeof n, "layers.%d.self_attn.k_proj.bias", l); lw->bk = ld_tensor(L, n, 0, KV * hd, true);
                snprintf(n, sizeof n, "layers.%d.self_attn.v_proj.bias", l); lw->bv = ld_tensor(L, n, 0, KV * hd, true);
            }
            if (s->o_bias) { snprintf(n, sizeof n, "layers.%d.self_attn.o_proj.bias", l); lw->bo = ld_tensor(L, n, 0, d, true); }
            if (s->qk_norm) {
                snprintf(n, sizeof n, "layers.%d.self_attn.q_norm.weight", l); lw->q_norm = ld_tensor(L, n, 0, hd, true);
                snprintf(n, sizeof n, "layers.%d.self_attn.k_norm.weight", l); lw->k_norm = ld_tensor(L, n, 0, hd, true);
            }
        }
        if (s->norm_plus_one) {
            Tensor *ns[] = {&lw->ln1_w, &lw->ln2_w, &lw->post_attn_norm, &lw->post_ffn_norm, &lw->q_norm, &lw->k_norm};
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) ld_plus_one(L, ns[i]);
        }
        lw->is_moe = layer_is_moe(s, l);
        if (lw->is_moe) {
            lw->d_ff = s->n_shared_experts * s->moe_d_ff;
            load_experts(L, lw, l);
        } else {
            int ff = s->d_ff;
            lw->d_ff = ff;
            snprintf(n, sizeof n, "layers.%d.mlp.gate_proj.weight", l); lw->w_gate = ld_tensor(L, n, ff, d, true);
            snprintf(n, sizeof n, "layers.%d.mlp.up_proj.weight", l); lw->w_up = ld_tensor(L, n, ff, d, true);
            snprintf(n, sizeof n, "layers.%d.mlp.down_proj.weight", l); lw->w_down = ld_tensor(L, n, d, ff, true);
            if (s->mlp_bias) {
                snprintf(n, sizeof n, "layers.%d.mlp.gate_proj.bias", l); lw->b_gate = ld_tensor(L, n, 0, ff, true);
                snprintf(n, sizeof n, "layers.%d.mlp.up_proj.bias", l); lw->b_up = ld_tensor(L, n, 0, ff, true);
                snprintf(n, sizeof n, "layers.%d.mlp.down_proj.bias", l); lw->b_down = ld_tensor(L, n, 0, d, true);
            }
        }
    }
    m->w.lnf_w = ld_tensor(L, "norm.weight", 0, d, true);
    if (s->norm_plus_one) ld_plus_one(L, &m->w.lnf_w);
}

static void load_gpt2(Ld *L) {
    Model *m = L->m;
    const ModelSpec *s = &m->spec;
    const int d = s->d_model, V = s->vocab_size, ff = s->d_ff;
    char n[256];
    m->w.tok_emb = ld_tensor(L, "wte.weight", V, d, true);
    m->w.pos_emb = ld_tensor(L, "wpe.weight", s->max_pos, d, true);
    /* The Conv1D matrices are copied (transposed) into owned memory: refuse a model whose
     * copies cannot fit before allocating any (per layer: c_attn 3·d·d + c_proj d·d + 2·d·ff). */
    if (!L->bad) {
        double copies = (double)s->n_layers * (4.0 * d * d + 2.0 * (double)d * ff) * (double)dtype_size(m->w.tok_emb.dtype);
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0 && copies > (double)pages * (double)psz) {
            err_set(L->e, ERR_MEMORY, "%s: the transposed GPT-2 Conv1D weights need %.1f GB but this machine has %.1f GB "
                    "of memory", L->dir, copies / 1e9, (double)pages * (double)psz / 1e9);
            L->bad = true;
        }
    }
    for (int l = 0; l < s->n_layers && !L->bad; l++) {
        LayerWeights *lw = &m->w.layers[l];
        lw->d_ff = ff;
        snprintf(n, sizeof n, "h.%d.ln_1.weight", l); lw->ln1_w = ld_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "h.%d.ln_1.bias", l); lw->ln1_b = ld_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "h.%d.ln_2.weight", l); lw->ln2_w = ld_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "h.%d.ln_2.bias", l); lw->ln2_b = ld_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "h.%d.attn.c_attn.weight", l);
        lw->wq = ld_conv1d(L, n, d, 3 * d, 0, d);
        lw->wk = ld_conv1d(L, n, d, 3 * d, d, d);
        lw->wv = ld_conv1d(L, n, d, 3 * d, 2 * d, d);
        snprintf(n, sizeof n, "h.%d.attn.c_attn.bias", l);
        lw->bq = ld_vec_slice(L, n, 3 * d, 0, d);
        lw->bk = ld_vec_slice(L, n, 3 * d, d, d);
        lw->bv = ld_vec_slice(L, n, 3 * d, 2 * d, d);
        snprintf(n, sizeof n, "h.%d.attn.c_proj.weight", l); lw->wo = ld_conv1d(L, n, d, d, 0, d);
        snprintf(n, sizeof n, "h.%d.attn.c_proj.bias", l); lw->bo = ld_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "h.%d.mlp.c_fc.weight", l); lw->w_up = ld_conv1d(L, n, d, ff, 0, ff);
        snprintf(n, sizeof n, "h.%d.mlp.c_fc.bias", l); lw->b_up = ld_tensor(L, n, 0, ff, true);
        snprintf(n, sizeof n, "h.%d.mlp.c_proj.weight", l); lw->w_down = ld_conv1d(L, n, ff, d, 0, d);
        snprintf(n, sizeof n, "h.%d.mlp.c_proj.bias", l); lw->b_down = ld_tensor(L, n, 0, d, true);
    }
    m->w.lnf_w = ld_tensor(L, "ln_f.weight", 0, d, true);
    m->w.lnf_b = ld_tensor(L, "ln_f.bias", 0, d, true);
}

static size_t tbytes(const Tensor *t) { return t->data ? (size_t)t->rows * dtype_row_bytes(t->dtype, (size_t)t->cols) : 0; }
static long long tnum(const Tensor *t) { return t->data ? (long long)t->rows * t->cols : 0; }

/* Parameters, bytes read per decoded token (embedding row + every matrix used + top-k
 * experts), and a scan for NaN/Inf. */
static void model_account(Model *m) {
    const ModelSpec *s = &m->spec;
    Weights *w = &m->w;
    long long np = tnum(&w->tok_emb) + tnum(&w->pos_emb) + tnum(&w->lnf_w) + tnum(&w->lnf_b);
    size_t rb = dtype_row_bytes(w->tok_emb.dtype, (size_t)s->d_model);
    if (!s->tied_embeddings) np += tnum(&w->lm_head);
    rb += tbytes(&w->lm_head);
    for (int l = 0; l < s->n_layers; l++) {
        LayerWeights *lw = &w->layers[l];
        const Tensor *ts[] = {&lw->ln1_w, &lw->ln1_b, &lw->ln2_w, &lw->ln2_b, &lw->wq, &lw->wk, &lw->wv, &lw->wo,
                              &lw->bq, &lw->bk, &lw->bv, &lw->bo, &lw->q_norm, &lw->k_norm, &lw->wq_a, &lw->q_a_norm,
                              &lw->wq_b, &lw->wkv_a, &lw->kv_a_norm, &lw->wkv_b, &lw->w_gate, &lw->w_up, &lw->w_down,
                              &lw->b_gate, &lw->b_up, &lw->b_down, &lw->router, &lw->router_bias, &lw->sh_gate, &lw->sh_up, &lw->sh_down,
                              &lw->post_attn_norm, &lw->post_ffn_norm};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) { np += tnum(ts[i]); rb += tbytes(ts[i]); }
        if (lw->is_moe && lw->experts) {
            size_t eb = tbytes(&lw->experts[0].gate) + tbytes(&lw->experts[0].up) + tbytes(&lw->experts[0].down);
            np += (long long)s->n_experts * (tnum(&lw->experts[0].gate) * 3);
            rb += eb * (size_t)s->n_experts_per_tok;
        }
    }
    m->n_params = np;
    m->weight_bytes = rb;
}

static bool tensor_scan_nonfinite(const Tensor *t, long long *count) {
    if (!t->data) return false;
    size_t n = (size_t)t->rows * (size_t)t->cols;
    long long c = 0;
    if (dtype_is_quant(t->dtype)) {
        /* quants are integers: only the f16 scales (f32 for Q8_K) can be NaN/Inf; counts blocks */
        static const int off[DT_COUNT][2] = {
            [DT_Q4_0] = {0, -1}, [DT_Q4_1] = {0, 2}, [DT_Q5_0] = {0, -1}, [DT_Q5_1] = {0, 2}, [DT_Q8_0] = {0, -1},
            [DT_Q2_K] = {80, 82}, [DT_Q3_K] = {108, -1}, [DT_Q4_K] = {0, 2}, [DT_Q5_K] = {0, 2}, [DT_Q6_K] = {208, -1},
            [DT_IQ4_NL] = {0, -1}, [DT_IQ4_XS] = {0, -1},
        };
        const uint8_t *p = t->data;
        size_t nb = n / (size_t)dtype_block(t->dtype), bb = (size_t)dtype_block_bytes(t->dtype);
        for (size_t i = 0; i < nb; i++, p += bb) {
            if (t->dtype == DT_Q8_K) { float f; memcpy(&f, p, 4); c += !isfinite(f); continue; }
            bool bad = false;
            for (int k = 0; k < 2; k++) {
                int o = off[t->dtype][k];
                if (o >= 0 && (((p[o] | p[o + 1] << 8) & 0x7c00) == 0x7c00)) bad = true;
            }
            c += bad;
        }
    } else if (t->dtype == DT_F32) { const float *p = t->data; for (size_t i = 0; i < n; i++) c += !isfinite(p[i]); }
    else {
        /* bf16/f16: exponent all ones = Inf/NaN */
        const uint16_t *p = t->data;
        uint16_t em = t->dtype == DT_BF16 ? 0x7f80 : 0x7c00;
        for (size_t i = 0; i < n; i++) c += (p[i] & em) == em;
    }
    *count += c;
    return c > 0;
}

/* Scans one tensor and remembers the name of the first that holds NaN/Inf (for the warning
 * and the UI): layer < 0 for model-level tensors. */
static void scan_named(Model *m, const Tensor *t, int layer, const char *name, long long *count) {
    if (tensor_scan_nonfinite(t, count) && !m->nonfinite_first[0]) {
        if (layer < 0) snprintf(m->nonfinite_first, sizeof m->nonfinite_first, "%s", name);
        else snprintf(m->nonfinite_first, sizeof m->nonfinite_first, "layers.%d.%s", layer, name);
    }
}

static void model_scan(Model *m) {
    const ModelSpec *s = &m->spec;
    long long c = 0;
    m->nonfinite_first[0] = 0;
    scan_named(m, &m->w.tok_emb, -1, "tok_emb", &c);
    if (!s->tied_embeddings) scan_named(m, &m->w.lm_head, -1, "lm_head", &c);
    for (int l = 0; l < s->n_layers; l++) {
        LayerWeights *lw = &m->w.layers[l];
        const Tensor *ts[] = {&lw->ln1_w, &lw->ln2_w, &lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->wq_a, &lw->wq_b,
                              &lw->wkv_a, &lw->wkv_b, &lw->w_gate, &lw->w_up, &lw->w_down, &lw->router};
        static const char *const names[] = {"ln1", "ln2", "q_proj", "k_proj", "v_proj", "o_proj", "q_a_proj", "q_b_proj",
                                            "kv_a_proj", "kv_b_proj", "gate_proj", "up_proj", "down_proj", "router"};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) scan_named(m, ts[i], l, names[i], &c);
        if (lw->is_moe && lw->experts)
            for (int e = 0; e < s->n_experts; e++) {
                scan_named(m, &lw->experts[e].gate, l, "experts.gate_proj", &c);
                scan_named(m, &lw->experts[e].up, l, "experts.up_proj", &c);
                scan_named(m, &lw->experts[e].down, l, "experts.down_proj", &c);
            }
    }
    m->n_nonfinite = c > 2147483647LL ? 2147483647 : (int)c;
}

/* generation_config.json: eos/bos ids and default sampling, where present. Optional: a
 * malformed file is reported as a warning and ignored, as transformers does. */
static void load_generation_config(Model *m, const char *dir) {
    char p[2048];
    path_join(p, sizeof p, dir, "generation_config.json");
    if (!file_exists(p)) return;
    Err e = {0};
    size_t len;
    char *js = file_read_all(p, &len, 1u << 20, &e);
    if (!js) return;
    cJSON *root = cJSON_ParseWithLength(js, len);
    if (!cJSON_IsObject(root)) {
        snprintf(m->warning, sizeof m->warning, "%s is not a JSON object; ignored", p);
        cJSON_Delete(root);
        free(js);
        return;
    }
    ModelSpec *s = &m->spec;
    const cJSON *v;
    /* every eos id of both files stops generation (transformers merges them the same way when
     * generation_config.json lists more than config.json) */
    v = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    if (cJSON_IsArray(v)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, v)
            if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < s->vocab_size) spec_add_eos(s, (int)x->valuedouble);
    } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < s->vocab_size) spec_add_eos(s, (int)v->valuedouble);
    v = cJSON_GetObjectItemCaseSensitive(root, "bos_token_id");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < s->vocab_size) s->bos_id = (int)v->valuedouble;
    cJSON_Delete(root);
    /* do_sample, temperature, top_k, top_p: a field of the wrong type or value is kept as a message
     * that a command sampling with it reports, and fields our sampler lacks as a note that commands
     * decoding print (model/gendefaults.c) */
    gen_defaults_from_json(&s->gen, js, len, p);
    free(js);
}

static Model *load_hf_dir(const char *dir, bool config_only_ok, bool layout_only, Err *e) {
    char p[2048];
    path_join(p, sizeof p, dir, "config.json");
    size_t len;
    char *js = file_read_all(p, &len, 16u << 20, e);
    if (!js) {
        if (access(p, F_OK) != 0) err_set(e, ERR_IO, "%s: no config.json in this directory (expected a Hugging Face model directory or a llama2.c .bin file)", dir);
        return NULL;
    }
    Model *m = calloc(1, sizeof *m);
    if (!m) { free(js); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    snprintf(m->path, sizeof m->path, "%s", dir);
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->layout_only = layout_only;
    bool ok = config_parse(js, len, p, &m->spec, e);
    free(js);
    if (!ok) { free(m); return NULL; }
    load_generation_config(m, dir);
    path_join(p, sizeof p, dir, "model.safetensors");
    char pi[2048];
    path_join(pi, sizeof pi, dir, "model.safetensors.index.json");
    if (!file_exists(p) && !file_exists(pi)) {
        if (config_only_ok) { m->config_only = true; m->layout_only = false; return m; }
        model_free(m);
        err_set(e, ERR_IO, "%s: no model.safetensors or model.safetensors.index.json (only a config: use `info` for config-only directories)", dir);
        return NULL;
    }
    TensorSet *ts = tensorset_open_dir(dir, e);
    if (!ts) { model_free(m); return NULL; }
    m->w.layers = calloc((size_t)m->spec.n_layers, sizeof(LayerWeights));
    if (!m->w.layers) { tensorset_free(ts); model_free(m); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    Ld L = {m, ts, dir, e, false, ""};
    const char *probe = m->spec.family == ARCH_GPT2 ? "wte.weight" : "embed_tokens.weight";
    /* "model.language_model." and "language_model.model.": the language model of a checkpoint
     * with a vision tower (Gemma 3; transformers 5 and 4 names) */
    const char *prefixes[] = {"model.", "transformer.", "", "model.language_model.", "language_model.model."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", prefixes[i], probe);
        if (tensorset_find(ts, full)) { snprintf(L.prefix, sizeof L.prefix, "%s", prefixes[i]); break; }
    }
    if (m->spec.family == ARCH_GPT2) load_gpt2(&L);
    else load_llama_like(&L);
    if (!L.bad) {
        const TensorInfo *lm = tensorset_find(ts, "lm_head.weight");
        if (lm && !m->spec.tied_embeddings) {
            Ld L2 = L;
            L2.prefix[0] = 0;
            m->w.lm_head = ld_tensor(&L2, "lm_head.weight", m->spec.vocab_size, m->spec.d_model, true);
            L.bad = L2.bad;
        } else if (!lm && !m->spec.tied_embeddings && m->spec.family != ARCH_GPT2) {
            err_set(e, ERR_FORMAT, "%s: tensor \"lm_head.weight\" is missing and tie_word_embeddings is false", dir);
            L.bad = true;
        } else {
            m->w.lm_head = m->w.tok_emb;
            m->spec.tied_embeddings = true;
        }
    }
    if (L.bad) { tensorset_free(ts); model_free(m); return NULL; }
    Mapped **maps; int nm;
    if (!tensorset_take_maps(ts, &maps, &nm, e)) { tensorset_free(ts); model_free(m); return NULL; }
    m->maps = maps;
    m->n_maps = nm;
    tensorset_free(ts);
    m->spec.dtype = m->w.tok_emb.dtype;
    return m;
}

static Model *load_any(const char *path, bool config_only_ok, bool layout_only, Err *e) {
    char resolved[1024];
    if (!model_resolve_path(path, resolved, sizeof resolved, e)) return NULL;
    Model *m = NULL;
    char what[160], d[1024];
    ModelFormat fmt = model_detect_format(resolved, what, sizeof what);
    switch (fmt) {
    case MODEL_FMT_HF_DIR:
        m = load_hf_dir(resolved, config_only_ok, layout_only, e);
        break;
    case MODEL_FMT_CONFIG_JSON:
    case MODEL_FMT_SAFETENSORS: {
        /* a config.json or a model.safetensors given directly: load the directory holding it */
        snprintf(d, sizeof d, "%s", resolved);
        char *sl = strrchr(d, '/');
        if (sl) *sl = 0; else snprintf(d, sizeof d, ".");
        char cfgp[1100];
        path_join(cfgp, sizeof cfgp, d, "config.json");
        if (fmt == MODEL_FMT_SAFETENSORS && !file_exists(cfgp)) {
            err_set(e, ERR_FORMAT, "%s: a safetensors file, but there is no config.json beside it to say what model it is; "
                    "give the Hugging Face model directory (config.json + weights) as --model", resolved);
            return NULL;
        }
        m = load_hf_dir(d, config_only_ok, layout_only, e);
        break;
    }
    case MODEL_FMT_LLAMA2C:
        m = llama2c_load(resolved, layout_only, e);
        if (m) {
            snprintf(m->dir, sizeof m->dir, "%s", resolved);
            char *sl = strrchr(m->dir, '/');
            if (sl) *sl = 0; else snprintf(m->dir, sizeof m->dir, ".");
        }
        break;
    case MODEL_FMT_GGUF:
        m = gguf_load(resolved, layout_only, e);
        break;
    case MODEL_FMT_PYTORCH:
        err_set(e, ERR_UNSUPPORTED, "%s: PyTorch checkpoint (%s): not supported (it is Python pickle code, not plain "
                "data); save the model as safetensors (save_pretrained(..., safe_serialization=True))", resolved, what);
        return NULL;
    case MODEL_FMT_UNKNOWN:
        err_set(e, ERR_FORMAT, "%s: not a model file: found %s; expected a Hugging Face model directory, a .safetensors, "
                "a GGUF or a llama2.c .bin file", resolved, what);
        return NULL;
    }
    if (!m) return NULL;
    /* no generation_config.json (none beside config.json), no GGUF sampling keys, a llama2.c
     * file: transformers' GenerationConfig defaults, greedy */
    if (m->spec.gen.source == GEN_SRC_NONE && !m->spec.gen.unapplied[0] && !m->spec.gen.unapplied_sampling[0]) gen_defaults_reset(&m->spec.gen);   /* (a note: read, and reset already) */
    if (!m->config_only) {
        model_account(m);
        /* refuse a model whose weights cannot fit in physical memory */
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        if (pages > 0 && psz > 0 && (double)m->weight_bytes > (double)pages * (double)psz) {
            err_set(e, ERR_MEMORY, "%s: the weights need %.1f GB but this machine has %.1f GB of memory",
                    resolved, (double)m->weight_bytes / 1e9, (double)pages * (double)psz / 1e9);
            model_free(m);
            return NULL;
        }
        if (!m->layout_only) model_scan(m);   /* reads every weight: not for a layout-only load */
        if (m->n_nonfinite) {   /* after what the loader noted, if anything */
            size_t k = strlen(m->warning);
            snprintf(m->warning + k, sizeof m->warning - k, "%s%s: %d weights are NaN or Inf (first in %s); outputs may be NaN",
                     k ? "; " : "", resolved, m->n_nonfinite, m->nonfinite_first);
        }
    }
    static atomic_ullong serials;
    m->serial = atomic_fetch_add(&serials, 1) + 1;
    return m;
}

Model *model_load(const char *path, bool config_only_ok, Err *e) { return load_any(path, config_only_ok, false, e); }

Model *model_load_layout(const char *path, Err *e) { return load_any(path, true, true, e); }
