/* Synthetic sessions for TUI tests (see tui_fake.h). */
#include "tui_fake.h"
#include "session/session_impl.h"
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Model model;
    Session s;
    float *buf[16];
    int nbuf;
    uint64_t rng;
} Fake;

static float frand(Fake *f) {
    f->rng ^= f->rng << 13; f->rng ^= f->rng >> 7; f->rng ^= f->rng << 17;
    return (float)((f->rng >> 11) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;   /* [-1, 1) */
}

static float *fbuf(Fake *f, size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (p && f->nbuf < 16) f->buf[f->nbuf++] = p;
    return p;
}

static Tensor ten(const float *d, int rows, int cols) { Tensor t = {d, DT_F32, rows, cols}; return t; }

static void fire(Hooks *h, HookPoint p, int layer, int pos, float *data, int ndim, int s0, int s1, int s2, size_t bytes) {
    HookEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.point = p; ev.layer = layer; ev.ndim = ndim;
    ev.shape[0] = s0; ev.shape[1] = s1; ev.shape[2] = s2;
    ev.data = data; ev.pos0 = pos; ev.n_tokens = 1; ev.bytes = bytes; ev.step = pos;
    hooks_fire(h, &ev);
}

static void softmax(float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++) if (x[i] > m) m = x[i];
    float s = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    for (int i = 0; i < n; i++) x[i] /= s;
}

static void spec_for(ModelSpec *s, const char *kind) {
    memset(s, 0, sizeof *s);
    s->vocab_size = 64; s->d_model = 32; s->n_layers = 2; s->n_heads = 4; s->head_dim = 8;
    s->d_ff = 48; s->max_pos = 64; s->norm_eps = 1e-5f; s->bos_id = 0; s->eos_id = 1; s->pad_id = -1;
    s->rope_theta = 10000; s->rope_factor = 1; s->dtype = DT_F32; s->tied_embeddings = true;
    if (!strcmp(kind, "mha")) {
        strcpy(s->model_type, "gpt2"); s->family = ARCH_GPT2; s->n_kv_heads = 4; s->attn_kind = ATTN_MHA;
        s->norm = NORM_LAYERNORM; s->act = ACT_GELU_TANH; s->pos = POS_LEARNED;
    } else if (!strcmp(kind, "mla")) {
        strcpy(s->model_type, "deepseek_v2"); s->family = ARCH_DEEPSEEK; s->n_kv_heads = 4; s->attn_kind = ATTN_MLA;
        s->norm = NORM_RMSNORM; s->act = ACT_SILU; s->gated_ffn = true; s->pos = POS_ROPE; s->rope_style = ROPE_INTERLEAVED;
        s->kv_lora_rank = 16; s->qk_nope_head_dim = 8; s->qk_rope_head_dim = 4; s->v_head_dim = 8; s->rotary_dim = 4;
        s->n_experts = 8; s->n_experts_per_tok = 2; s->moe_d_ff = 12; s->n_shared_experts = 1; s->first_k_dense_replace = 1;
        s->route_scoring = ROUTE_SOFTMAX;
    } else {
        strcpy(s->model_type, "llama"); s->family = ARCH_LLAMA; s->n_kv_heads = 2; s->attn_kind = ATTN_GQA;
        s->norm = NORM_RMSNORM; s->act = ACT_SILU; s->gated_ffn = true; s->pos = POS_ROPE; s->rope_style = ROPE_HALF;
        s->rotary_dim = 8;
    }
}

Session *tui_fake_session(const char *kind, int n_tokens, int n_prompt) {
    Fake *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->rng = 0x9e3779b97f4a7c15ull;
    Model *m = &f->model;
    ModelSpec *sp = &m->spec;
    spec_for(sp, kind);
    snprintf(m->path, sizeof m->path, "fake-%s", kind);
    const int L = sp->n_layers, D = sp->d_model, V = sp->vocab_size, H = sp->n_heads;
    bool mla = sp->attn_kind == ATTN_MLA;
    /* weights the panels read: embeddings (tied unembedding), norms, positions */
    float *emb = fbuf(f, (size_t)V * D), *ones = fbuf(f, (size_t)D), *pos = fbuf(f, (size_t)sp->max_pos * D);
    for (int i = 0; i < V * D; i++) emb[i] = frand(f);
    for (int i = 0; i < D; i++) ones[i] = 1.0f + 0.25f * frand(f);
    for (int p = 0; p < sp->max_pos; p++)
        for (int j = 0; j < D; j++) pos[p * D + j] = 0.3f * sinf((float)p / powf(10.0f, (float)j / (float)D)) + 0.05f * frand(f);
    m->w.tok_emb = ten(emb, V, D);
    m->w.lm_head = ten(emb, V, D);
    m->w.lnf_w = ten(ones, 1, D);
    if (sp->pos == POS_LEARNED) m->w.pos_emb = ten(pos, sp->max_pos, D);
    m->w.layers = calloc((size_t)L, sizeof(LayerWeights));
    for (int l = 0; l < L && m->w.layers; l++) {
        m->w.layers[l].ln1_w = ten(ones, 1, D);
        m->w.layers[l].ln2_w = ten(ones, 1, D);
        m->w.layers[l].d_ff = sp->d_ff;
        m->w.layers[l].is_moe = mla && l >= sp->first_k_dense_replace;
    }
    Session *s = &f->s;
    s->model = m;
    s->cursor = -1;
    s->ablate_layer = s->ablate_head = -1;
    s->max_ctx = 64;
    snprintf(s->model_path, sizeof s->model_path, "fake-%s", kind);
    Err e = {0};
    s->hooks = hooks_new();
    s->trace = trace_new(m, s->max_ctx, &e);
    s->cap_ids = s->max_ctx + 1;
    s->ids = calloc((size_t)s->cap_ids, sizeof(int));
    s->prompt_ids = calloc((size_t)s->cap_ids, sizeof(int));
    if (!s->hooks || !s->trace || !s->ids || !s->prompt_ids || !m->w.layers) { tui_fake_free(s); return NULL; }
    hooks_set_layers(s->hooks, L);
    trace_attach(s->trace, s->hooks);
    if (n_tokens > s->max_ctx) n_tokens = s->max_ctx;
    if (n_prompt > n_tokens) n_prompt = n_tokens;

    const TraceDims *d = trace_dims(s->trace);
    const int KV = mla ? 1 : sp->n_kv_heads, hs = mla ? sp->qk_nope_head_dim + sp->qk_rope_head_dim : sp->head_dim;
    const int R = d->rot_dim, E = sp->n_experts, K = sp->n_experts_per_tok, F = sp->d_ff;
    size_t big = (size_t)H * (n_tokens + 1) + (size_t)V + (size_t)D * 4 + (size_t)F + 256;
    float *x = fbuf(f, big), *y = fbuf(f, big);
    if (!x || !y) { tui_fake_free(s); return NULL; }
    for (int p = 0; p < n_tokens; p++) {
        int id = p == 0 ? 0 : 2 + (p * 7) % (V - 2);
        s->ids[p] = id;
        if (p < n_prompt) s->prompt_ids[p] = id;
        trace_begin_step(s->trace, p < n_prompt ? PHASE_PREFILL : PHASE_DECODE, p < n_prompt ? 0 : p - n_prompt + 1);
        memcpy(x, emb + (size_t)id * D, sizeof(float) * (size_t)D);
        fire(s->hooks, HP_EMBED, -1, p, x, 2, 1, D, 0, 0);
        if (sp->pos == POS_LEARNED) {
            memcpy(y, pos + (size_t)p * D, sizeof(float) * (size_t)D);
            fire(s->hooks, HP_POS_EMBED, -1, p, y, 2, 1, D, 0, 0);
        }
        for (int l = 0; l < L; l++) {
            float scale = 1.0f / (1.0f + 0.5f * (float)l);
            for (int j = 0; j < D; j++) x[j] = emb[(size_t)id * D + j] * (1.0f + (float)l) + 0.1f * frand(f);
            fire(s->hooks, HP_RESID_PRE, l, p, x, 2, 1, D, 0, 0);
            fire(s->hooks, HP_LN1_SCALE, l, p, &scale, 1, 1, 0, 0, 0);
            for (int j = 0; j < D; j++) y[j] = x[j] * scale;
            fire(s->hooks, HP_LN1_NORMALIZED, l, p, y, 2, 1, D, 0, 0);
            if (R) {
                for (int i = 0; i < H * hs; i++) y[i] = frand(f);
                fire(s->hooks, HP_Q, l, p, y, 3, 1, H, hs, 0);
                for (int i = 0; i < H * hs; i++) y[i] = y[i] * cosf((float)p * 0.3f) ;
                fire(s->hooks, HP_ROT_Q, l, p, y, 3, 1, H, hs, 0);
                if (!mla) {
                    for (int i = 0; i < KV * hs; i++) y[i] = frand(f);
                    fire(s->hooks, HP_K, l, p, y, 3, 1, KV, hs, 0);
                    fire(s->hooks, HP_ROT_K, l, p, y, 3, 1, KV, hs, 0);
                } else {
                    for (int i = 0; i < R; i++) y[i] = frand(f);
                    fire(s->hooks, HP_K_ROPE, l, p, y, 2, 1, R, 0, 0);
                    for (int i = 0; i < sp->kv_lora_rank; i++) y[i] = frand(f);
                    fire(s->hooks, HP_KV_LATENT, l, p, y, 2, 1, sp->kv_lora_rank, 0, 0);
                }
            }
            /* scores and pattern [H, 1, p+1]: head h prefers the key h steps back */
            for (int h = 0; h < H; h++)
                for (int k = 0; k <= p; k++) {
                    float sc = -0.5f * fabsf((float)(p - k - h)) + 0.2f * frand(f) + (k == 0 ? 1.0f : 0.0f);
                    x[h * (p + 1) + k] = sc;
                    y[h * (p + 1) + k] = sc;
                }
            fire(s->hooks, HP_ATTN_SCORES, l, p, x, 3, H, 1, p + 1, 0);
            for (int h = 0; h < H; h++) softmax(y + h * (p + 1), p + 1);
            fire(s->hooks, HP_PATTERN, l, p, y, 3, H, 1, p + 1, 0);
            for (int j = 0; j < D; j++) x[j] = 0.3f * frand(f) * (float)(l + 1);
            fire(s->hooks, HP_ATTN_OUT, l, p, x, 2, 1, D, 0, 0);
            float s2 = 0.8f;
            fire(s->hooks, HP_LN2_SCALE, l, p, &s2, 1, 1, 0, 0, 0);
            for (int j = 0; j < D; j++) y[j] = frand(f);
            fire(s->hooks, HP_LN2_NORMALIZED, l, p, y, 2, 1, D, 0, 0);
            if (mla && l >= sp->first_k_dense_replace) {
                for (int ei = 0; ei < E; ei++) x[ei] = frand(f) * 2 + (ei == (p % E) ? 2.0f : 0.0f);
                fire(s->hooks, HP_ROUTER_LOGITS, l, p, x, 2, 1, E, 0, 0);
                y[0] = (float)(p % E); y[1] = (float)((p + 3) % E);
                fire(s->hooks, HP_EXPERT_INDICES, l, p, y, 2, 1, K, 0, 0);
                y[0] = 0.7f; y[1] = 0.3f;
                fire(s->hooks, HP_EXPERT_WEIGHTS, l, p, y, 2, 1, K, 0, 0);
            } else {
                for (int j = 0; j < F; j++) y[j] = (j % 5 == 0) ? 2.0f * frand(f) : 0.05f * frand(f);
                fire(s->hooks, HP_MLP_POST, l, p, y, 2, 1, F, 0, 0);
            }
            for (int j = 0; j < D; j++) x[j] = 0.5f * frand(f) * (float)(l + 1);
            fire(s->hooks, HP_MLP_OUT, l, p, x, 2, 1, D, 0, 0);
            for (int j = 0; j < D; j++) x[j] = emb[(size_t)id * D + j] * (2.0f + (float)l) + 0.1f * frand(f);
            fire(s->hooks, HP_RESID_POST, l, p, x, 2, 1, D, 0, 0);
            long long elems = mla ? sp->kv_lora_rank + sp->qk_rope_head_dim : 2LL * KV * hs;
            fire(s->hooks, HP_KV_APPEND, l, p, y, 2, 1, (int)elems, 0, (size_t)elems * 4);
        }
        float sf = 0.9f;
        fire(s->hooks, HP_LNF_SCALE, -1, p, &sf, 1, 1, 0, 0, 0);
        for (int v = 0; v < V; v++) x[v] = frand(f) * 3 + (v == (id * 3 + 1) % V ? 6.0f : 0.0f);
        fire(s->hooks, HP_LOGITS, -1, p, x, 2, 1, V, 0, 0);
        TraceTok *t = trace_tok_mut(s->trace, p);
        if (t) { t->id = id; t->phase = p < n_prompt ? PHASE_PREFILL : PHASE_DECODE; t->next_id = p + 1 < n_tokens ? 2 + ((p + 1) * 7) % (V - 2) : t->top_ids[0]; }
    }
    s->n_prompt = n_prompt;
    s->n_ids = n_tokens;
    s->prefilled = n_tokens > 0;
    s->cursor = n_tokens - 1;
    return s;
}

void tui_fake_free(Session *s) {
    if (!s) return;
    Fake *f = (Fake *)((char *)s - offsetof(Fake, s));
    trace_free(s->trace);
    hooks_free(s->hooks);
    free(s->ids);
    free(s->prompt_ids);
    free(f->model.w.layers);
    for (int i = 0; i < f->nbuf; i++) free(f->buf[i]);
    free(f);
}
