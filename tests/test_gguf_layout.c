/* GGUF files in llama.cpp's converter layout, written here from the Hugging Face fixtures of
 * tests/fixtures/models (tiny random checkpoints with transformers' logits in reference.json),
 * for what llama.cpp's tools of the fetched version (February 2025) cannot make:
 *   - llama with rope_freqs.weight (Llama 3.1 "llama3" RoPE scaling stored as per-frequency
 *     factors, computed with convert_hf_to_gguf.py's formula) from rope-llama3;
 *   - deepseek2 (MLA with q compression, sigmoid routing with groups and a score bias, shared
 *     expert) from deepseek_v3, with attn_kv_b whole and split into attn_k_b / attn_v_b (k_b
 *     transposed) as newer converters write it;
 *   - qwen3 (q/k norms, head_dim != d/H) from qwen3.
 * The layout (names, ne order, the llama Q/K row permutation, the metadata keys) follows
 * convert_hf_to_gguf.py and gguf-py; the files are ours, not llama.cpp's: what they check is
 * that the loader maps such files onto the same model, to HF's logits (1e-3, the tolerance of
 * the safetensors fixtures) and to the safetensors model's logits through the same engine
 * (1e-5 of the largest logit). */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "engine/engine.h"
#include "core/dtype.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "model/tensorfile.h"

#define FXM "tests/fixtures/models"

/* ---- a small GGUF v3 writer (F32 tensors only) --------------------------------------------- */

typedef struct { uint8_t *p; size_t n, cap; } Wb;
static void wb_add(Wb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void wb_u32(Wb *b, uint32_t v) { uint8_t x[4]; for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i)); wb_add(b, x, 4); }
static void wb_u64(Wb *b, uint64_t v) { uint8_t x[8]; for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i)); wb_add(b, x, 8); }
static void wb_str(Wb *b, const char *s) { wb_u64(b, strlen(s)); wb_add(b, s, strlen(s)); }

typedef struct { char name[96]; int nd; int64_t ne[3]; float *data; uint32_t type; uint8_t *raw; size_t nbytes; } Wt;
typedef struct { char arch[32]; Wb kv; int n_kv; Wt *t; int nt; } Gw;

static void kv_key(Gw *g, const char *key, uint32_t type) {
    char k[160];
    if (!strncmp(key, "general.", 8)) snprintf(k, sizeof k, "%s", key);
    else snprintf(k, sizeof k, "%s.%s", g->arch, key);
    wb_str(&g->kv, k);
    wb_u32(&g->kv, type);
    g->n_kv++;
}
static void kv_u32(Gw *g, const char *key, uint32_t v) { kv_key(g, key, 4); wb_u32(&g->kv, v); }
static void kv_f32(Gw *g, const char *key, float f) { uint32_t u; memcpy(&u, &f, 4); kv_key(g, key, 6); wb_u32(&g->kv, u); }
static void kv_bool(Gw *g, const char *key, bool v) { uint8_t x = v; kv_key(g, key, 7); wb_add(&g->kv, &x, 1); }
static void kv_str(Gw *g, const char *key, const char *s) { kv_key(g, key, 8); wb_str(&g->kv, s); }

static void gw_init(Gw *g, const char *arch) {
    memset(g, 0, sizeof *g);
    snprintf(g->arch, sizeof g->arch, "%s", arch);
    kv_str(g, "general.architecture", arch);
    kv_u32(g, "general.alignment", 32);
}

/* A tensor of ne[0] x ne[1] x ne[2] floats (ne[0] fastest; 0 = dimension absent), copied. */
static float *gw_tensor(Gw *g, const char *name, int64_t n0, int64_t n1, int64_t n2) {
    g->t = realloc(g->t, sizeof(Wt) * (size_t)(g->nt + 1));
    Wt *t = &g->t[g->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ne[0] = n0; t->ne[1] = n1 ? n1 : 1; t->ne[2] = n2 ? n2 : 1;
    t->nd = n2 ? 3 : n1 ? 2 : 1;
    t->data = calloc((size_t)(t->ne[0] * t->ne[1] * t->ne[2]), sizeof(float));
    return t->data;
}
/* A model matrix [rows, cols] -> GGUF ne = {cols, rows}; perm_heads > 0: rows in llama.cpp's
 * order for its RoPE (GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i). */
static void gw_matrix(Gw *g, const char *name, const Tensor *w, int perm_heads) {
    float *d = gw_tensor(g, name, w->cols, w->rows, 0);
    const int hd = perm_heads ? w->rows / perm_heads : 0;
    for (int r = 0; r < w->rows; r++) {
        int src = r;
        if (perm_heads) {
            int h = r / hd, k = r % hd, i = k / 2, j = k % 2;
            src = h * hd + j * (hd / 2) + i;
        }
        tensor_row_f32(w, (size_t)src * (size_t)w->cols, w->cols, d + (size_t)r * (size_t)w->cols);
    }
}
static void gw_vector(Gw *g, const char *name, const Tensor *w, int n) {
    float *d = gw_tensor(g, name, n, 0, 0);
    tensor_row_f32(w, 0, n, d);
}

/* The last tensor added, stored as ggml type `type` (1 F16 or 8 Q8_0) instead of F32. */
static void gw_retype(Gw *g, uint32_t type) {
    Wt *t = &g->t[g->nt - 1];
    const size_t n = (size_t)(t->ne[0] * t->ne[1] * t->ne[2]);
    t->type = type;
    if (type == 1) {
        t->nbytes = 2 * n;
        t->raw = malloc(t->nbytes);
        for (size_t i = 0; i < n; i++) { uint16_t h = f32_to_f16(t->data[i]); t->raw[2 * i] = (uint8_t)h; t->raw[2 * i + 1] = (uint8_t)(h >> 8); }
    } else {
        t->nbytes = dtype_row_bytes(DT_Q8_0, n);
        t->raw = malloc(t->nbytes);
        quant_quantize(DT_Q8_0, t->data, n, t->raw);
    }
}

static bool gw_write(Gw *g, const char *path) {
    Wb b = {0};
    wb_add(&b, "GGUF", 4);
    wb_u32(&b, 3);
    wb_u64(&b, (uint64_t)g->nt);
    wb_u64(&b, (uint64_t)g->n_kv);
    wb_add(&b, g->kv.p, g->kv.n);
    uint64_t off = 0;
    for (int i = 0; i < g->nt; i++) {
        Wt *t = &g->t[i];
        wb_str(&b, t->name);
        wb_u32(&b, (uint32_t)t->nd);
        for (int k = 0; k < t->nd; k++) wb_u64(&b, (uint64_t)t->ne[k]);
        wb_u32(&b, t->type);
        wb_u64(&b, off);
        off += t->raw ? (uint64_t)t->nbytes : (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2]) * 4;
        off = (off + 31) / 32 * 32;
    }
    static const uint8_t zero[32] = {0};
    wb_add(&b, zero, (32 - b.n % 32) % 32);
    for (int i = 0; i < g->nt; i++) {
        Wt *t = &g->t[i];
        size_t n = t->raw ? t->nbytes : (size_t)(t->ne[0] * t->ne[1] * t->ne[2]) * 4;
        wb_add(&b, t->raw ? (const void *)t->raw : (const void *)t->data, n);
        wb_add(&b, zero, (32 - n % 32) % 32);
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b.p, 1, b.n, f) == b.n;
    if (f) ok = fclose(f) == 0 && ok;
    free(b.p);
    return ok;
}
static void gw_free(Gw *g) {
    for (int i = 0; i < g->nt; i++) { free(g->t[i].data); free(g->t[i].raw); }
    free(g->t);
    free(g->kv.p);
}

/* Writes g into a new file under $TMPDIR (its name in path, 512 bytes; the caller unlinks it;
 * on failure there is no file). */
static bool gw_write_tmp(Gw *g, char *path) {
    const char *t = getenv("TMPDIR");
    snprintf(path, 512, "%s/llmscope-layout-XXXXXX", t && *t ? t : "/tmp");
    const int fd = mkstemp(path);
    if (fd < 0) return false;
    close(fd);
    if (gw_write(g, path)) return true;
    unlink(path);
    return false;
}

/* The GGUF file `make` writes of model m for arch, as gw_write_tmp. */
static bool write_made(const char *arch, void (*make)(Gw *, const Model *, int), const Model *m, int variant, char *path) {
    Gw g;
    gw_init(&g, arch);
    make(&g, m, variant);
    const bool ok = gw_write_tmp(&g, path);
    gw_free(&g);
    return ok;
}

/* ---- HF model (loaded from safetensors) -> GGUF ---------------------------------------------- */

static void common_keys(Gw *g, const ModelSpec *s) {
    kv_u32(g, "embedding_length", (uint32_t)s->d_model);
    kv_u32(g, "block_count", (uint32_t)s->n_layers);
    kv_u32(g, "attention.head_count", (uint32_t)s->n_heads);
    kv_u32(g, "attention.head_count_kv", (uint32_t)s->n_kv_heads);
    kv_u32(g, "feed_forward_length", (uint32_t)s->d_ff);
    kv_u32(g, "context_length", (uint32_t)s->max_pos);
    kv_f32(g, "attention.layer_norm_rms_epsilon", s->norm_eps);
    kv_f32(g, "rope.freq_base", s->rope_theta);
}
static void common_tensors(Gw *g, const Model *m) {
    const ModelSpec *s = &m->spec;
    gw_matrix(g, "token_embd.weight", &m->w.tok_emb, 0);
    gw_vector(g, "output_norm.weight", &m->w.lnf_w, s->d_model);
    if (!s->tied_embeddings) gw_matrix(g, "output.weight", &m->w.lm_head, 0);
}
#define BLK(fmt) (snprintf(n, sizeof n, "blk.%d." fmt, l), n)

/* llama / qwen3: attention, norms, dense FFN. */
static void llama_like(Gw *g, const Model *m, bool permute) {
    const ModelSpec *s = &m->spec;
    char n[96];
    common_tensors(g, m);
    for (int l = 0; l < s->n_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        gw_vector(g, BLK("attn_norm.weight"), &w->ln1_w, s->d_model);
        gw_vector(g, BLK("ffn_norm.weight"), &w->ln2_w, s->d_model);
        gw_matrix(g, BLK("attn_q.weight"), &w->wq, permute ? s->n_heads : 0);
        gw_matrix(g, BLK("attn_k.weight"), &w->wk, permute ? s->n_kv_heads : 0);
        gw_matrix(g, BLK("attn_v.weight"), &w->wv, 0);
        gw_matrix(g, BLK("attn_output.weight"), &w->wo, 0);
        if (s->qk_norm) {
            gw_vector(g, BLK("attn_q_norm.weight"), &w->q_norm, s->head_dim);
            gw_vector(g, BLK("attn_k_norm.weight"), &w->k_norm, s->head_dim);
        }
        gw_matrix(g, BLK("ffn_gate.weight"), &w->w_gate, 0);
        gw_matrix(g, BLK("ffn_up.weight"), &w->w_up, 0);
        gw_matrix(g, BLK("ffn_down.weight"), &w->w_down, 0);
    }
}

/* convert_hf_to_gguf.py LlamaModel.generate_extra_tensors: the llama3 scaling as one divisor of
 * each inverse frequency (f32 arithmetic, as torch does it there). */
static void llama3_factors(const ModelSpec *s, float *out) {
    const int dim = s->rotary_dim;
    const float lo = s->rope_low_freq_factor, hi = s->rope_high_freq_factor, f = s->rope_factor;
    const float L0 = (float)s->rope_orig_max_pos, low_wl = L0 / lo, high_wl = L0 / hi;
    for (int i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf(s->rope_theta, (float)(2 * i) / (float)dim);
        float wl = (float)(2 * M_PI) / freq;
        if (wl < high_wl) out[i] = 1;
        else if (wl > low_wl) out[i] = f;
        else {
            float smooth = (L0 / wl - lo) / (hi - lo);
            out[i] = 1 / ((1 - smooth) / f + smooth);
        }
    }
}

/* split_kv_b: 0 attn_kv_b, 1 attn_k_b + attn_v_b, 2 neither (a broken file), 3 the split with
 * k_b in F16 and v_b in Q8_0, 4 attn_kv_b in F32 holding exactly the values of 3 */
/* split_kv_b: 0 whole attn_kv_b, 1 split, 2 neither, 3 split F16/Q8_0, 4 whole with F16/Q8_0 values;
 * 5-7 split with the experts' gate and up fused into ffn_gate_up_exps (as convert_hf_to_gguf
 * --fuse-gate-up-exps writes it): 5 as it should be, 6 with one row too many per expert, 7 with
 * neither the fused tensor nor ffn_gate_exps */
static void deepseek2(Gw *g, const Model *m, int split_kv_b) {
    const int fused = split_kv_b >= 5 ? split_kv_b : 0;
    if (fused) split_kv_b = 1;
    const ModelSpec *s = &m->spec;
    char n[96];
    const int H = s->n_heads, nope = s->qk_nope_head_dim, v = s->v_head_dim, r = s->kv_lora_rank;
    kv_u32(g, "attention.q_lora_rank", (uint32_t)s->q_lora_rank);
    kv_u32(g, "attention.kv_lora_rank", (uint32_t)r);
    if (split_kv_b == 1 || split_kv_b == 3) {   /* as llama.cpp writes the split form: the compressed sizes, */
        kv_u32(g, "attention.key_length", (uint32_t)(r + s->qk_rope_head_dim));   /* per-head ones as *_mla */
        kv_u32(g, "attention.value_length", (uint32_t)r);
        kv_u32(g, "attention.key_length_mla", (uint32_t)(nope + s->qk_rope_head_dim));
        kv_u32(g, "attention.value_length_mla", (uint32_t)v);
    } else {
        kv_u32(g, "attention.key_length", (uint32_t)(nope + s->qk_rope_head_dim));
        kv_u32(g, "attention.value_length", (uint32_t)v);
    }
    kv_u32(g, "rope.dimension_count", (uint32_t)s->qk_rope_head_dim);
    kv_u32(g, "leading_dense_block_count", (uint32_t)s->first_k_dense_replace);
    kv_u32(g, "expert_feed_forward_length", (uint32_t)s->moe_d_ff);
    kv_u32(g, "expert_count", (uint32_t)s->n_experts);
    kv_u32(g, "expert_shared_count", (uint32_t)s->n_shared_experts);
    kv_u32(g, "expert_used_count", (uint32_t)s->n_experts_per_tok);
    kv_f32(g, "expert_weights_scale", s->routed_scaling_factor);
    kv_bool(g, "expert_weights_norm", s->norm_topk_prob);
    kv_u32(g, "expert_gating_func", s->route_scoring == ROUTE_SIGMOID ? 2 : 1);
    kv_u32(g, "expert_group_count", (uint32_t)s->n_group);
    kv_u32(g, "expert_group_used_count", (uint32_t)s->topk_group);
    common_tensors(g, m);
    for (int l = 0; l < s->n_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        gw_vector(g, BLK("attn_norm.weight"), &w->ln1_w, s->d_model);
        gw_vector(g, BLK("ffn_norm.weight"), &w->ln2_w, s->d_model);
        if (s->q_lora_rank) {
            gw_matrix(g, BLK("attn_q_a.weight"), &w->wq_a, 0);
            gw_vector(g, BLK("attn_q_a_norm.weight"), &w->q_a_norm, s->q_lora_rank);
            gw_matrix(g, BLK("attn_q_b.weight"), &w->wq_b, 0);
        } else gw_matrix(g, BLK("attn_q.weight"), &w->wq, 0);
        gw_matrix(g, BLK("attn_kv_a_mqa.weight"), &w->wkv_a, 0);
        gw_vector(g, BLK("attn_kv_a_norm.weight"), &w->kv_a_norm, r);
        if (split_kv_b == 0) gw_matrix(g, BLK("attn_kv_b.weight"), &w->wkv_b, 0);
        else if (split_kv_b == 4) {   /* k rows rounded to f16, v rows through Q8_0 */
            float *kv = gw_tensor(g, BLK("attn_kv_b.weight"), r, H * (nope + v), 0);
            float *q = malloc(sizeof(float) * (size_t)r);
            uint8_t *blk = malloc(dtype_row_bytes(DT_Q8_0, (size_t)r));
            for (int row = 0; row < H * (nope + v); row++) {
                float *o = kv + (size_t)row * (size_t)r;
                tensor_row_f32(&w->wkv_b, (size_t)row * (size_t)r, r, o);
                if (row % (nope + v) < nope) for (int c = 0; c < r; c++) o[c] = f16_to_f32(f32_to_f16(o[c]));
                else {
                    quant_quantize(DT_Q8_0, o, (size_t)r, blk);
                    quant_dequant(DT_Q8_0, blk, (size_t)r / 32, q);
                    memcpy(o, q, sizeof(float) * (size_t)r);
                }
            }
            free(q);
            free(blk);
        } else if (split_kv_b == 1 || split_kv_b == 3) {
            /* kv_b viewed [H, nope + v, r]: k_b = its first nope rows per head, transposed to
             * [H, r, nope]; v_b = the other v rows, [H, v, r] */
            float *row = malloc(sizeof(float) * (size_t)r);
            float *kb = gw_tensor(g, BLK("attn_k_b.weight"), nope, r, H);
            if (split_kv_b == 3) gw_retype(g, 1);
            float *vb = gw_tensor(g, BLK("attn_v_b.weight"), r, v, H);
            const int vb_index = g->nt - 1;
            for (int h = 0; h < H; h++)
                for (int j = 0; j < nope + v; j++) {
                    tensor_row_f32(&w->wkv_b, ((size_t)h * (size_t)(nope + v) + (size_t)j) * (size_t)r, r, row);
                    for (int c = 0; c < r; c++) {
                        if (j < nope) kb[((size_t)h * (size_t)r + (size_t)c) * (size_t)nope + (size_t)j] = row[c];
                        else vb[((size_t)h * (size_t)v + (size_t)(j - nope)) * (size_t)r + (size_t)c] = row[c];
                    }
                }
            free(row);
            if (split_kv_b == 3) {   /* both filled: now store them in their types */
                Wt *tk = &g->t[vb_index - 1];
                for (size_t i = 0; i < (size_t)(nope * r * H); i++) {
                    uint16_t hh = f32_to_f16(tk->data[i]);
                    tk->raw[2 * i] = (uint8_t)hh;
                    tk->raw[2 * i + 1] = (uint8_t)(hh >> 8);
                }
                gw_retype(g, 8);
            }
        }
        gw_matrix(g, BLK("attn_output.weight"), &w->wo, 0);
        if (!w->is_moe) {
            gw_matrix(g, BLK("ffn_gate.weight"), &w->w_gate, 0);
            gw_matrix(g, BLK("ffn_up.weight"), &w->w_up, 0);
            gw_matrix(g, BLK("ffn_down.weight"), &w->w_down, 0);
            continue;
        }
        const int E = s->n_experts, I = s->moe_d_ff, d = s->d_model;
        gw_matrix(g, BLK("ffn_gate_inp.weight"), &w->router, 0);
        if (tensor_present(&w->router_bias)) gw_vector(g, BLK("exp_probs_b.bias"), &w->router_bias, E);
        float *de = gw_tensor(g, BLK("ffn_down_exps.weight"), I, d, E);
        if (fused) {   /* per expert: its I gate rows, then its I up rows (fused == 6: one spare row) */
            const int R = 2 * I + (fused == 6);
            float *gu = fused == 7 ? NULL : gw_tensor(g, BLK("ffn_gate_up_exps.weight"), d, R, E);
            float *ue = fused == 7 ? gw_tensor(g, BLK("ffn_up_exps.weight"), d, I, E) : NULL;
            for (int e = 0; e < E; e++) {
                if (gu) {
                    tensor_row_f32(&w->experts[e].gate, 0, I * d, gu + (size_t)e * (size_t)(R * d));
                    tensor_row_f32(&w->experts[e].up, 0, I * d, gu + (size_t)e * (size_t)(R * d) + (size_t)(I * d));
                } else tensor_row_f32(&w->experts[e].up, 0, I * d, ue + (size_t)e * (size_t)(I * d));
                tensor_row_f32(&w->experts[e].down, 0, I * d, de + (size_t)e * (size_t)(I * d));
            }
        } else {
            float *ge = gw_tensor(g, BLK("ffn_gate_exps.weight"), d, I, E);
            float *ue = gw_tensor(g, BLK("ffn_up_exps.weight"), d, I, E);
            for (int e = 0; e < E; e++) {
                tensor_row_f32(&w->experts[e].gate, 0, I * d, ge + (size_t)e * (size_t)(I * d));
                tensor_row_f32(&w->experts[e].up, 0, I * d, ue + (size_t)e * (size_t)(I * d));
                tensor_row_f32(&w->experts[e].down, 0, I * d, de + (size_t)e * (size_t)(I * d));
            }
        }
        gw_matrix(g, BLK("ffn_gate_shexp.weight"), &w->sh_gate, 0);
        gw_matrix(g, BLK("ffn_up_shexp.weight"), &w->sh_up, 0);
        gw_matrix(g, BLK("ffn_down_shexp.weight"), &w->sh_down, 0);
    }
}

/* ---- checks --------------------------------------------------------------------------------- */

static cJSON *read_ref(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/reference.json", dir);
    return test_read_json(p);
}

static float *all_logits(const Model *m, const int *ids, int n) {
    Err e = {0};
    Engine *en = engine_new((Model *)m, n, &e);
    if (!en) return NULL;
    const float *lg = engine_forward(en, ids, n, true, &e);
    float *out = NULL;
    if (lg) {
        out = malloc(sizeof(float) * (size_t)n * (size_t)m->spec.vocab_size);
        memcpy(out, lg, sizeof(float) * (size_t)n * (size_t)m->spec.vocab_size);
    }
    engine_free(en);
    return out;
}

/* The GGUF written by `make` loads, and its logits equal the safetensors model's and HF's. */
static void check_layout(TestCtx *T_, const char *fixture, const char *arch, int variant,
                         void (*make)(Gw *, const Model *, int), const char *want_in_info) {
    char dir[256], path[512];
    snprintf(dir, sizeof dir, FXM "/%s", fixture);
    cJSON *ref = read_ref(dir);
    if (!ref) { T_->skipped = 1; snprintf(T_->skip_reason, sizeof T_->skip_reason, "%s missing", dir); return; }
    Err e = {0};
    Model *hf = model_load(dir, false, &e);
    REQUIRE(hf);
    REQUIRE(write_made(arch, make, hf, variant, path));
    Model *gm = model_load(path, false, &e);
    CHECK_MSG(gm, "%s as %s: %s", fixture, arch, e.msg);
    if (gm) {
        CHECK(!want_in_info || !strcmp(gm->spec.model_type, want_in_info));
        const cJSON *ja = cJSON_GetObjectItem(ref, "ids");
        int ids[64], n = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, ja) if (n < 64) ids[n++] = it->valueint;
        const int V = hf->spec.vocab_size;
        float *a = all_logits(hf, ids, n), *b = all_logits(gm, ids, n);
        REQUIRE(a && b);
        double mx = 0, d_st = 0, d_hf = 0;
        int k = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItem(ref, "logits")) {
            const cJSON *x;
            cJSON_ArrayForEach(x, row) {
                if (k >= n * V) break;
                const double r = x->valuedouble;
                if (fabs(r) > mx) mx = fabs(r);
                if (fabs(b[k] - r) > d_hf) d_hf = fabs(b[k] - r);
                k++;
            }
        }
        for (int i = 0; i < n * V; i++) if (fabs((double)a[i] - b[i]) > d_st) d_st = fabs((double)a[i] - b[i]);
        CHECK_EQ_INT(k, n * V);
        CHECK_MSG(d_hf < 1e-3, "%s as %s (%d): max |logit - HF| = %g", fixture, arch, variant, d_hf);
        CHECK_MSG(d_st <= 1e-5 * mx, "%s as %s (%d): max |logit - safetensors| = %g (largest %g)", fixture, arch, variant, d_st, mx);
        fprintf(stderr, "    %s as GGUF %s%s: max |dlogit| vs HF %.2e, vs the safetensors model %.2e (largest %.2f)\n", fixture, arch,
                variant ? " (variant)" : "", d_hf, d_st, mx);
        free(a);
        free(b);
        model_free(gm);
    }
    unlink(path);
    model_free(hf);
    cJSON_Delete(ref);
}

static void make_llama3(Gw *g, const Model *m, int with_factors) {
    common_keys(g, &m->spec);
    kv_u32(g, "rope.dimension_count", (uint32_t)m->spec.rotary_dim);
    llama_like(g, m, true);
    if (with_factors) llama3_factors(&m->spec, gw_tensor(g, "rope_freqs.weight", m->spec.rotary_dim / 2, 0, 0));
}
static void make_qwen3(Gw *g, const Model *m, int unused) {
    (void)unused;
    common_keys(g, &m->spec);
    kv_u32(g, "attention.key_length", (uint32_t)m->spec.head_dim);
    kv_u32(g, "attention.value_length", (uint32_t)m->spec.head_dim);
    llama_like(g, m, false);
}
static void make_ds(Gw *g, const Model *m, int split) {
    common_keys(g, &m->spec);
    deepseek2(g, m, split);
}

TEST(gguf_layout_llama31_rope_freqs) {
    check_layout(T_, "rope-llama3", "llama", 1, make_llama3, "llama");
}

TEST(gguf_layout_qwen3) {
    check_layout(T_, "qwen3", "qwen3", 0, make_qwen3, "qwen3");
}

TEST(gguf_layout_deepseek2_kv_b_whole_and_split) {
    check_layout(T_, "deepseek_v3", "deepseek2", 0, make_ds, "deepseek_v2");
    check_layout(T_, "deepseek_v3", "deepseek2", 1, make_ds, "deepseek_v2");
}

/* Experts' gate and up fused into one ffn_gate_up_exps (each expert's I gate rows, then its I up
 * rows) compute what the checkpoint computes; a fused tensor of the wrong shape, and a file with
 * neither form, are errors naming the tensors. */
TEST(gguf_layout_deepseek2_fused_gate_up_exps) {
    check_layout(T_, "deepseek_v3", "deepseek2", 5, make_ds, "deepseek_v2");
    if (T_->skipped) return;
    Err e = {0};
    Model *hf = model_load(FXM "/deepseek_v3", false, &e);
    REQUIRE(hf);
    for (int variant = 6; variant <= 7; variant++) {
        char path[512];
        if (!write_made("deepseek2", make_ds, hf, variant, path)) { CHECK_MSG(0, "writing variant %d failed", variant); continue; }
        e = (Err){0};
        Model *m = model_load(path, false, &e);
        unlink(path);
        CHECK(!m);
        model_free(m);
        const int l = hf->spec.first_k_dense_replace;   /* the first MoE layer */
        char want[64];
        snprintf(want, sizeof want, "blk.%d.ffn_gate_up_exps.weight", l);
        if (variant == 6) CHECK_MSG(strstr(e.msg, want) && strstr(e.msg, "expected"), "%s", e.msg);
        else CHECK_MSG(strstr(e.msg, want) && strstr(e.msg, "ffn_gate_exps.weight") && strstr(e.msg, "missing"), "%s", e.msg);
    }
    model_free(hf);
}

/* Without its rope_freqs the same llama file is a different model (the factors matter here:
 * positions 8..11 pass the original context of 8), and a bad factor tensor is a clear error. */
TEST(gguf_layout_rope_freqs_matter_and_are_checked) {
    Err e = {0};
    Model *hf = model_load(FXM "/rope-llama3", false, &e);
    if (!hf) SKIP("rope-llama3 fixture missing");
    char path[512];
    REQUIRE(write_made("llama", make_llama3, hf, 0, path));
    Model *plain = model_load(path, false, &e);
    REQUIRE(plain);
    int ids[12] = {25, 33, 5, 88, 31, 75, 46, 51, 61, 60, 5, 12};
    float *a = all_logits(hf, ids, 12), *b = all_logits(plain, ids, 12);
    double d = 0;
    for (int i = 0; i < 12 * hf->spec.vocab_size; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    CHECK_MSG(d > 1e-2, "without rope_freqs the logits differ by only %g", d);
    free(a);
    free(b);
    model_free(plain);
    /* a factor tensor of the wrong length */
    Gw g;
    gw_init(&g, "llama");
    make_llama3(&g, hf, 0);
    gw_tensor(&g, "rope_freqs.weight", 3, 0, 0)[0] = 1;
    REQUIRE(gw_write(&g, path));
    gw_free(&g);
    CHECK(!model_load(path, false, &e) && strstr(e.msg, "rope_freqs.weight"));
    unlink(path);
    model_free(hf);
}

/* A DeepSeek file with neither attn_kv_b nor its split halves is an error naming both. */
TEST(gguf_layout_deepseek2_missing_kv_b) {
    Err e = {0};
    Model *hf = model_load(FXM "/deepseek_v3", false, &e);
    if (!hf) SKIP("deepseek_v3 fixture missing");
    char path[512];
    REQUIRE(write_made("deepseek2", make_ds, hf, 2, path));
    CHECK(!model_load(path, false, &e));
    CHECK_MSG(strstr(e.msg, "blk.0.attn_kv_b.weight") && strstr(e.msg, "attn_k_b") && strstr(e.msg, "attn_v_b"), "%s", e.msg);
    unlink(path);
    model_free(hf);
}

/* Quantized halves (k_b F16, v_b Q8_0) are joined into what an F32 kv_b of the same values gives. */
TEST(gguf_layout_deepseek2_split_quantized) {
    Err e = {0};
    Model *hf = model_load(FXM "/deepseek_v3", false, &e);
    if (!hf) SKIP("deepseek_v3 fixture missing");
    char paths[2][512];
    Model *m[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        REQUIRE(write_made("deepseek2", make_ds, hf, 3 + k, paths[k]));
        m[k] = model_load(paths[k], false, &e);
        CHECK_MSG(m[k], "%s", e.msg);
    }
    if (m[0] && m[1]) {
        int ids[12] = {25, 33, 5, 88, 31, 75, 46, 51, 61, 60, 5, 12};
        float *a = all_logits(m[0], ids, 12), *b = all_logits(m[1], ids, 12), *c = all_logits(hf, ids, 12);
        REQUIRE(a && b && c);
        double d = 0, dq = 0;
        for (int i = 0; i < 12 * hf->spec.vocab_size; i++) {
            d = fmax(d, fabs((double)a[i] - b[i]));
            dq = fmax(dq, fabs((double)a[i] - c[i]));
        }
        CHECK_MSG(d == 0, "split F16/Q8_0 halves vs the same values whole: max |dlogit| %g", d);
        CHECK_MSG(dq > 0 && dq < 0.5, "F16/Q8_0 kv_b vs the F32 checkpoint: max |dlogit| %g", dq);
        fprintf(stderr, "    deepseek_v3, attn_k_b F16 + attn_v_b Q8_0: equal to the joined values (0), %.2e from the F32 checkpoint\n", dq);
        free(a);
        free(b);
        free(c);
    }
    for (int k = 0; k < 2; k++) { model_free(m[k]); unlink(paths[k]); }
    model_free(hf);
}
