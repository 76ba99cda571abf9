/* Fuzzes the whole HF-directory loader (model/loader.c) and a short forward pass.
 * Input: config.json bytes, a NUL byte, then model.safetensors bytes (no NUL: config only).
 * Both are written into a scratch directory and model_load() maps every architecture's
 * tensor names and shapes onto the Model. A model that loads must have every tensor inside
 * its mapping (or in a heap buffer the Model owns); a small one is then run for two prefill
 * tokens and one decode step so that shapes the loader accepted are shapes the engine can use. */
#include "fuzz_common.h"
#include "engine/engine.h"
#include "model/tensorfile.h"

static void check_tensor(const Model *m, const Tensor *t, const char *what) {
    if (!t->data) return;
    if (t->rows <= 0 || t->cols <= 0) fuzz_fail("%s: rows %d cols %d", what, t->rows, t->cols);
    size_t n = (size_t)t->rows * (size_t)t->cols * dtype_size(t->dtype);
    const uint8_t *p = t->data;
    for (int i = 0; i < m->n_maps; i++) {
        const uint8_t *b = mapped_data(m->maps[i]);
        size_t sz = mapped_size(m->maps[i]);
        if (p >= b && p < b + sz) {
            if (n > (size_t)(b + sz - p)) fuzz_fail("%s: %zu bytes run past the end of %s", what, n, mapped_path(m->maps[i]));
            fuzz_touch(p, n);
            return;
        }
    }
    fuzz_touch(p, n);   /* an owned heap buffer: ASan checks the range */
}

static void check_model(const Model *m) {
    const ModelSpec *s = &m->spec;
    const Weights *w = &m->w;
    if (!w->tok_emb.data || !w->lm_head.data || !w->lnf_w.data || !w->layers) fuzz_fail("loaded model lacks a core tensor");
    check_tensor(m, &w->tok_emb, "tok_emb");
    check_tensor(m, &w->pos_emb, "pos_emb");
    check_tensor(m, &w->lnf_w, "lnf_w");
    check_tensor(m, &w->lnf_b, "lnf_b");
    check_tensor(m, &w->lm_head, "lm_head");
    if (w->tok_emb.rows != s->vocab_size || w->tok_emb.cols != s->d_model) fuzz_fail("tok_emb shape");
    if (w->lm_head.rows != s->vocab_size || w->lm_head.cols != s->d_model) fuzz_fail("lm_head shape");
    for (int l = 0; l < s->n_layers; l++) {
        const LayerWeights *lw = &w->layers[l];
        const Tensor *ts[] = {&lw->ln1_w, &lw->ln1_b, &lw->ln2_w, &lw->ln2_b, &lw->wq, &lw->wk, &lw->wv, &lw->wo,
                              &lw->bq, &lw->bk, &lw->bv, &lw->bo, &lw->q_norm, &lw->k_norm, &lw->wq_a, &lw->q_a_norm,
                              &lw->wq_b, &lw->wkv_a, &lw->kv_a_norm, &lw->wkv_b, &lw->w_gate, &lw->w_up, &lw->w_down,
                              &lw->b_gate, &lw->b_up, &lw->b_down, &lw->router, &lw->router_bias, &lw->sh_gate,
                              &lw->sh_up, &lw->sh_down};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) check_tensor(m, ts[i], "layer tensor");
        if (!lw->wo.data || !lw->ln1_w.data) fuzz_fail("layer %d lacks wo or ln1", l);
        if (lw->is_moe) {
            if (!lw->experts || !lw->router.data) fuzz_fail("MoE layer %d without experts/router", l);
            for (int e = 0; e < s->n_experts; e++) {
                check_tensor(m, &lw->experts[e].gate, "expert gate");
                check_tensor(m, &lw->experts[e].up, "expert up");
                check_tensor(m, &lw->experts[e].down, "expert down");
            }
        }
    }
}

static bool small_enough(const Model *m) {
    const ModelSpec *s = &m->spec;
    return m->weight_bytes < (8u << 20) && s->vocab_size <= 4096 && s->d_model <= 512 && s->n_layers <= 4 &&
           s->d_ff <= 2048 && s->n_heads <= 64 && s->head_dim <= 256 && s->n_experts <= 16 && s->moe_d_ff <= 2048 &&
           s->kv_lora_rank <= 512 && s->q_lora_rank <= 512 && s->v_head_dim <= 256 && s->n_shared_experts <= 4 &&
           s->qk_nope_head_dim <= 256 && s->qk_rope_head_dim <= 256;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) { engine_set_threads(1); init = 1; }
    const char *dir = fuzz_tmpdir();
    char cfg[1024], st[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    const uint8_t *nul = memchr(data, 0, size);
    size_t clen = nul ? (size_t)(nul - data) : size;
    fuzz_write(cfg, data, clen);
    if (nul) fuzz_write(st, nul + 1, size - clen - 1);
    else unlink(st);
    Err e = {0};
    Model *m = model_load(dir, !nul, &e);
    if (!m) {
        fuzz_check_err(&e, dir, "model_load");
        return 0;
    }
    if (!m->config_only) {
        check_model(m);
        if (small_enough(m)) {
            Engine *en = engine_new(m, 4, &e);
            if (en) {
                int V = m->spec.vocab_size;
                int toks[2] = {0, V - 1}, next = 1 % V;
                float *lg = engine_forward(en, toks, 2, true, &e);
                if (!lg) fuzz_fail("prefill failed on a loaded model: %s", e.msg);
                fuzz_touch(lg, 2 * (size_t)V * sizeof(float));
                lg = engine_forward(en, &next, 1, false, &e);
                if (!lg) fuzz_fail("decode failed on a loaded model: %s", e.msg);
                fuzz_touch(lg, (size_t)V * sizeof(float));
                engine_free(en);
            } else if (!e.msg[0]) fuzz_fail("engine_new failed without a message");
        }
    }
    model_free(m);
    return 0;
}
