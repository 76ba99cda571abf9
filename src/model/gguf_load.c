/* GGUF -> Model: general.architecture and the <arch>.* keys onto the same ModelSpec as a
 * config.json, llama.cpp's tensor names onto Weights. Tensors stay in the memory-mapped
 * file in their stored type (F32, F16, BF16 or a block-quantized type; engine/quant.c).
 *
 * llama.cpp's converter stores the Q and K rows of "llama" models permuted for its RoPE,
 * which rotates adjacent pairs (2i, 2i+1) (convert_hf_to_gguf.py LlamaModel.permute):
 * GGUF row h·hd + 2i + j holds HF row h·hd + j·hd/2 + i. We copy those rows back into HF
 * order and rotate halves (HF's rotate_half), so every hook value (q, k, scores) equals the
 * Hugging Face checkpoint's, not only the logits. Files converted from llama2.c hold the
 * same (Meta) layout and are handled alike. */
#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/dtype.h"
#include "core/gguf_vocab.h"
#include "model/dequant.h"
#include "model/model.h"
#include "model/tensorfile.h"

#define CAP_DIM (1 << 20)
#define CAP_LAYERS 1024
#define CAP_POS (1 << 24)
#define CAP_VOCAB (1 << 24)

typedef struct {
    Model *m;
    GgufFile *g;
    const char *path;
    Err *e;
    bool bad;
    char arch[64];
} GL;

static bool ggml_to_dtype(uint32_t t, DType *out) {
    switch (t) {
    case 0: *out = DT_F32; return true;
    case 1: *out = DT_F16; return true;
    case 30: *out = DT_BF16; return true;
    case 2: *out = DT_Q4_0; return true;
    case 3: *out = DT_Q4_1; return true;
    case 6: *out = DT_Q5_0; return true;
    case 7: *out = DT_Q5_1; return true;
    case 8: *out = DT_Q8_0; return true;
    case 10: *out = DT_Q2_K; return true;
    case 11: *out = DT_Q3_K; return true;
    case 12: *out = DT_Q4_K; return true;
    case 13: *out = DT_Q5_K; return true;
    case 14: *out = DT_Q6_K; return true;
    case 15: *out = DT_Q8_K; return true;
    case 20: *out = DT_IQ4_NL; return true;
    case 23: *out = DT_IQ4_XS; return true;
    default: return false;
    }
}

static const GgufTensor *gl_find(GL *L, const char *name, bool required) {
    if (L->bad) return NULL;
    const GgufTensor *t = gguf_find_tensor(L->g, name);
    if (!t && required) {
        err_set(L->e, ERR_FORMAT, "%s: required tensor \"%s\" is missing (general.architecture \"%s\")", L->path, name, L->arch);
        L->bad = true;
    }
    return t;
}

static bool gl_dtype(GL *L, const GgufTensor *t, DType *dt) {
    if (ggml_to_dtype(t->type, dt)) return true;
    const char *tn = "?";
    ggml_type_info(t->type, &tn, NULL, NULL);
    err_set(L->e, ERR_UNSUPPORTED, "%s: tensor \"%.*s\" has type %s, which llmscope does not read "
            "(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS); "
            "requantize the file with llama-quantize to one of these", L->path, (int)t->name.len, t->name.s, tn);
    L->bad = true;
    return false;
}

static void shape_str(const GgufTensor *t, char *out, size_t cap) {
    int n = snprintf(out, cap, "[");
    for (int i = 0; i < t->n_dims && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%s%" PRId64, i ? ", " : "", t->ne[i]);
    if (n > 0 && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, "]");
}

/* A matrix [rows, cols] (GGUF ne = {cols, rows}) or, with rows = 0, a vector of cols. */
static Tensor gl_tensor(GL *L, const char *name, int rows, int cols, bool required) {
    Tensor t = {0};
    const GgufTensor *gt = gl_find(L, name, required);
    if (!gt) return t;
    DType dt;
    if (!gl_dtype(L, gt, &dt)) return t;
    bool ok = rows == 0 ? (gt->n_dims == 1 && gt->ne[0] == cols)
                        : (gt->n_dims == 2 && gt->ne[0] == cols && gt->ne[1] == rows);
    if (!ok) {
        char got[96];
        shape_str(gt, got, sizeof got);
        if (rows == 0) err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" has ne %s, expected [%d] from the metadata", L->path, name, got, cols);
        else err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" has ne %s, expected [%d, %d] (ne[0] = input width) from the metadata", L->path, name, got, cols, rows);
        L->bad = true;
        return t;
    }
    t.data = gt->data;
    t.dtype = dt;
    t.rows = rows == 0 ? 1 : rows;
    t.cols = cols;
    return t;
}

/* Rows [r0, r0+n) of a matrix (row slices keep whole blocks: blocks never cross rows). */
static Tensor tensor_rows(Tensor t, int r0, int n) {
    if (!t.data) return t;
    t.data = (const uint8_t *)t.data + (size_t)r0 * dtype_row_bytes(t.dtype, (size_t)t.cols);
    t.rows = n;
    return t;
}

static Tensor vec_slice(Tensor t, int c0, int n) {
    if (!t.data) return t;
    t.data = (const uint8_t *)t.data + dtype_row_bytes(t.dtype, (size_t)c0);
    t.cols = n;
    return t;
}

/* Undo llama.cpp's Q/K row permutation (see the top of this file) into an owned copy. */
static Tensor unpermute_rows(GL *L, Tensor t, int n_head) {
    if (!t.data || L->bad || L->m->layout_only) return t;   /* (same shape: the counts do not change) */
    int hd = t.rows / n_head, half = hd / 2;
    if (hd * n_head != t.rows || hd % 2) return t;
    size_t rb = dtype_row_bytes(t.dtype, (size_t)t.cols);
    uint8_t *dst = model_alloc(L->m, rb * (size_t)t.rows, L->e);
    if (!dst) { L->bad = true; return t; }
    const uint8_t *src = t.data;
    for (int h = 0; h < n_head; h++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < half; i++)
                memcpy(dst + ((size_t)h * hd + (size_t)j * half + i) * rb, src + ((size_t)h * hd + 2 * i + j) * rb, rb);
    t.data = dst;
    return t;
}

/* A 3-D expert tensor, GGUF ne = {cols, rows, E}. */
static const GgufTensor *gl_3d(GL *L, const char *name, int E, int rows, int cols) {
    const GgufTensor *gt = gl_find(L, name, true);
    if (!gt) return NULL;
    DType dt;
    if (!gl_dtype(L, gt, &dt)) return NULL;
    if (gt->n_dims != 3 || gt->ne[0] != cols || gt->ne[1] != rows || gt->ne[2] != E) {
        char got[96];
        shape_str(gt, got, sizeof got);
        err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" has ne %s, expected [%d, %d, %d] from the metadata", L->path, name, got, cols, rows, E);
        L->bad = true;
        return NULL;
    }
    return gt;
}

static Tensor expert_of(const GgufTensor *gt, int e) {
    Tensor t = {0};
    DType dt = DT_F32;
    ggml_to_dtype(gt->type, &dt);
    int cols = (int)gt->ne[0], rows = (int)gt->ne[1];
    t.data = gt->data + (size_t)e * (size_t)rows * dtype_row_bytes(dt, (size_t)cols);
    t.dtype = dt;
    t.rows = rows;
    t.cols = cols;
    return t;
}

/* ---- metadata --------------------------------------------------------------------------- */

static int meta_int(GL *L, const char *suffix, int def, int lo, int hi, bool required) {
    if (L->bad) return def;
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    int64_t v;
    const GgufKV *kv = gguf_find(L->g, key);
    if (!kv) {
        if (required) { err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s\" is missing", L->path, key); L->bad = true; }
        return def;
    }
    if (kv->type == GGUF_ARRAY) {
        /* per-layer values (e.g. head_count_kv): accepted when all equal */
        if (!gguf_arr_int(kv, 0, &v)) goto bad;
        for (uint64_t i = 1; i < kv->arr_n; i++) {
            int64_t w;
            if (!gguf_arr_int(kv, i, &w) || w != v) {
                err_set(L->e, ERR_UNSUPPORTED, "%s: metadata key \"%s\" differs between layers, which llmscope does not support", L->path, key);
                L->bad = true;
                return def;
            }
        }
    } else if (!gguf_get_int(L->g, key, &v)) goto bad;
    if (v < lo || v > hi) {
        err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s\" is %" PRId64 " (expected %d..%d)", L->path, key, v, lo, hi);
        L->bad = true;
        return def;
    }
    return (int)v;
bad:
    err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s\" must be an integer", L->path, key);
    L->bad = true;
    return def;
}

static double meta_float(GL *L, const char *suffix, double def) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    double v;
    if (!gguf_find(L->g, key)) return def;
    if (!gguf_get_float(L->g, key, &v) || !isfinite(v)) {
        if (!L->bad) err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s\" must be a finite number", L->path, key);
        L->bad = true;
        return def;
    }
    return v;
}

/* A norm's epsilon, as config.json's (config.c cfg_eps): a number >= 0 that a float holds. */
static double meta_eps(GL *L, const char *suffix, double def) {
    double v = meta_float(L, suffix, def);
    if (!(v >= 0 && v <= FLT_MAX)) {
        if (!L->bad) err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s.%s\" = %g is out of range (expected a number from 0 to %g)", L->path,
                             L->arch, suffix, v, (double)FLT_MAX);
        L->bad = true;
        return def;
    }
    return v;
}

/* A RoPE base: above 0 and within a float (0 made inv_freq inf; a base of 0 or below in
 * rope.freq_base_swa was taken as "none" and the sliding layers ran with rope.freq_base). */
static double meta_base(GL *L, const char *suffix, double def) {
    double v = meta_float(L, suffix, def);
    if (!(v > 0 && v <= FLT_MAX)) {
        if (!L->bad) err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s.%s\" = %g is out of range (expected a RoPE base above 0)", L->path,
                             L->arch, suffix, v);
        L->bad = true;
        return def;
    }
    return v;
}

static bool meta_bool(GL *L, const char *suffix, bool def) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", L->arch, suffix);
    bool b;
    return gguf_get_bool(L->g, key, &b) ? b : def;
}

static int tok_id(GL *L, const char *key, int vocab) {
    int64_t v;
    if (!gguf_get_int(L->g, key, &v) || v < 0 || v >= vocab) return -1;
    return (int)v;
}

static void spec_from_meta(GL *L) {
    ModelSpec *s = &L->m->spec;
    const char *a = L->arch;
    bool gpt2 = !strcmp(a, "gpt2"), ds = !strcmp(a, "deepseek2");
    bool llama = !strcmp(a, "llama"), qwen2 = !strcmp(a, "qwen2"), qwen3 = !strcmp(a, "qwen3");
    bool qwen3moe = !strcmp(a, "qwen3moe"), gemma3 = !strcmp(a, "gemma3"), gemma2 = !strcmp(a, "gemma2"), gemma1 = !strcmp(a, "gemma");
    if (!gpt2 && !ds && !llama && !qwen2 && !qwen3 && !qwen3moe && !gemma3 && !gemma2 && !gemma1) {
        err_set(L->e, ERR_UNSUPPORTED, "%s: general.architecture \"%s\" is not supported (supported: llama, qwen2, qwen3, qwen3moe, gemma, gemma2, gemma3, gpt2, deepseek2)", L->path, a);
        L->bad = true;
        return;
    }
    static const struct { const char *gguf, *hf; } names[] = {{"llama", "llama"}, {"qwen2", "qwen2"}, {"qwen3", "qwen3"},
        {"qwen3moe", "qwen3_moe"}, {"gpt2", "gpt2"}, {"deepseek2", "deepseek_v2"}, {"gemma3", "gemma3_text"}, {"gemma2", "gemma2"}, {"gemma", "gemma"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(a, names[i].gguf)) snprintf(s->model_type, sizeof s->model_type, "%s", names[i].hf);
    const GgufTensor *emb = gl_find(L, "token_embd.weight", true);
    if (!emb) return;
    if (emb->n_dims != 2 || emb->ne[1] > CAP_VOCAB || emb->ne[0] > CAP_DIM) {
        err_set(L->e, ERR_SHAPE, "%s: tensor \"token_embd.weight\" must be 2-D [d_model, vocab]", L->path);
        L->bad = true;
        return;
    }
    s->vocab_size = (int)emb->ne[1];
    s->d_model = meta_int(L, "embedding_length", 0, 1, CAP_DIM, true);
    s->n_layers = meta_int(L, "block_count", 0, 1, CAP_LAYERS, true);
    s->n_heads = meta_int(L, "attention.head_count", 0, 1, CAP_DIM, true);
    s->n_kv_heads = meta_int(L, "attention.head_count_kv", s->n_heads, 1, CAP_DIM, false);
    s->d_ff = meta_int(L, "feed_forward_length", 4 * s->d_model, 1, CAP_DIM, false);
    s->max_pos = meta_int(L, "context_length", 2048, 1, CAP_POS, false);
    s->pad_id = tok_id(L, "tokenizer.ggml.padding_token_id", s->vocab_size);
    if (L->bad) return;
    /* BOS and the ids that end generation as llama.cpp's library has them (llama_vocab_is_eog: EOS,
     * EOT, EOM and the end-of-turn tokens it knows by their text; its default ids where the file
     * names none), so run/generate stop where llama.cpp's would */
    s->bos_id = s->eos_id = -1;
    s->n_eos = 0;
    if (gguf_find(L->g, "tokenizer.ggml.tokens")) {
        GgufVocab gv;
        if (!gguf_vocab_read(L->g, &gv, L->e)) { L->bad = true; return; }
        s->bos_id = gv.bos >= 0 && gv.bos < s->vocab_size ? gv.bos : -1;
        if (gv.eos >= 0 && gv.eos < s->vocab_size) spec_add_eos(s, gv.eos);   /* eos_id = eos_ids[0] */
        for (int i = 0; i < gv.n_eog; i++)
            if (gv.eog[i] < s->vocab_size) spec_add_eos(s, gv.eog[i]);
        gguf_vocab_done(&gv);
    } else {
        s->bos_id = tok_id(L, "tokenizer.ggml.bos_token_id", s->vocab_size);
        spec_add_eos(s, tok_id(L, "tokenizer.ggml.eos_token_id", s->vocab_size));
    }
    if (s->d_model != emb->ne[0]) {
        err_set(L->e, ERR_SHAPE, "%s: %s.embedding_length is %d but token_embd.weight has width %" PRId64, L->path, a, s->d_model, emb->ne[0]);
        L->bad = true;
        return;
    }
    if (s->n_heads % s->n_kv_heads) {
        err_set(L->e, ERR_SHAPE, "%s: head_count %d is not a multiple of head_count_kv %d", L->path, s->n_heads, s->n_kv_heads);
        L->bad = true;
        return;
    }
    if (gpt2) {
        s->family = ARCH_GPT2;
        s->norm = NORM_LAYERNORM;
        s->norm_eps = (float)meta_eps(L, "attention.layer_norm_epsilon", 1e-5);
        s->act = ACT_GELU_TANH;
        s->pos = POS_LEARNED;
        s->qkv_bias = s->o_bias = s->mlp_bias = true;
        s->head_dim = s->d_model / s->n_heads;
        if (s->d_model % s->n_heads) { err_set(L->e, ERR_SHAPE, "%s: embedding_length %d is not divisible by head_count %d", L->path, s->d_model, s->n_heads); L->bad = true; return; }
        s->attn_kind = ATTN_MHA;
        s->softmax_scale = 1.0f / sqrtf((float)s->head_dim);
        return;
    }
    s->family = ds ? ARCH_DEEPSEEK : ARCH_LLAMA;
    s->norm = NORM_RMSNORM;
    s->norm_eps = (float)meta_eps(L, "attention.layer_norm_rms_epsilon", 1e-6);
    s->act = ACT_SILU;
    s->gated_ffn = true;
    s->pos = POS_ROPE;
    s->rope_theta = (float)meta_base(L, "rope.freq_base", 10000.0);
    s->rope_style = ROPE_HALF;   /* llama's rows are un-permuted at load (see the top) */
    s->qkv_bias = qwen2;
    s->qk_norm = qwen3 || qwen3moe || gemma3;
    s->head_dim = meta_int(L, "attention.key_length", s->d_model / s->n_heads, 1, CAP_DIM, false);
    if (gemma1 || gemma2 || gemma3) {
        /* as llama.cpp's llama_model_gemma / gemma2 / gemma3 read them: the converter stored the norm
         * weights with the 1 added (GemmaRMSNorm's 1 + w); embeddings times sqrtf(n_embd); GELU-tanh
         * gated FFN. Gemma 2/3: the post-attention and post-FFN norms; a window
         * (attention.sliding_window; Gemma 2: 4096 when absent) in the layers
         * attention.sliding_window_pattern marks (an array of bools, or n: layer il slides when
         * il % n < n - 1; Gemma 2: 2, Gemma 3: 6 when absent). Gemma 3's sliding layers rotate with
         * rope.freq_base_swa (10000 when absent) and no scaling (Gemma 2's with the same base); the
         * score scale is head_dim^-0.5, except n_embd/n_head for the 27B (Gemma 2: 46 layers, 3: 62);
         * Gemma 2 caps scores and logits (attn_logit_softcapping 50, final_logit_softcapping 30 when
         * absent), Gemma 3 caps logits only when the key is there. */
        s->act = ACT_GELU_TANH;
        s->embed_scale = sqrtf((float)s->d_model);
        s->sandwich_norm = !gemma1;
        if (gemma2) s->attn_softcap = (float)meta_float(L, "attn_logit_softcapping", 50.0);
        /* Gemma 1's graph in llama.cpp caps nothing, whatever the file holds */
        s->final_softcap = gemma1 ? 0.0f : (float)meta_float(L, "final_logit_softcapping", gemma2 ? 30.0 : 0.0);
        /* a cap present in the file divides the scores or logits: 0 or below is not a cap */
        char fk[160];
        snprintf(fk, sizeof fk, "%s.final_logit_softcapping", a);
        const char *bad_cap = gemma2 && !(s->attn_softcap > 0) ? "attn_logit_softcapping"
                            : !(s->final_softcap > 0) && (gemma2 || (gemma3 && gguf_find(L->g, fk))) ? "final_logit_softcapping" : NULL;
        if (bad_cap && !L->bad) {
            err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s.%s\" = %g must be above 0 (a soft-cap divides by it)", L->path, a, bad_cap,
                    (double)(bad_cap[0] == 'a' ? s->attn_softcap : s->final_softcap));
            L->bad = true;
            return;
        }
        const int W = gemma1 ? 0 : meta_int(L, "attention.sliding_window", gemma2 ? 4096 : 0, 0, CAP_POS, false);
        if (W > 0 && !L->bad) {
            s->sliding_window = W;
            s->swa_per_layer = true;
            char key[160];
            snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", a);
            const GgufKV *pk = gguf_find(L->g, key);
            if (pk && pk->type == GGUF_ARRAY) {
                for (int il = 0; il < s->n_layers; il++) {
                    int64_t v;
                    if ((uint64_t)il >= pk->arr_n || !gguf_arr_int(pk, (uint64_t)il, &v)) {
                        err_set(L->e, ERR_FORMAT, "%s: metadata key \"%s\" must hold a bool for each of the %d layers", L->path, key, s->n_layers);
                        L->bad = true;
                        return;
                    }
                    s->layer_swa[il] = v != 0;
                }
            } else {
                const int np = meta_int(L, "attention.sliding_window_pattern", gemma2 ? 2 : 6, 0, CAP_LAYERS + 1, false);
                for (int il = 0; il < s->n_layers; il++) s->layer_swa[il] = np == 0 || il % np < np - 1;
            }
            /* Gemma 2's sliding layers keep the model's base (and scaling) unless the file says */
            if (gemma3 || gguf_find(L->g, "gemma2.rope.freq_base_swa"))
                s->rope_local_theta = (float)meta_base(L, "rope.freq_base_swa", gemma3 ? 10000.0 : s->rope_theta);
            bool any = false;   /* pattern 1: every layer global, so no window (info said "in 0 of 7 layers") */
            for (int il = 0; il < s->n_layers; il++) any |= s->layer_swa[il];
            if (!any) { s->sliding_window = 0; s->swa_per_layer = false; }
        }
    }
    if (ds) {
        s->q_lora_rank = meta_int(L, "attention.q_lora_rank", 0, 0, CAP_DIM, false);
        s->kv_lora_rank = meta_int(L, "attention.kv_lora_rank", 0, 1, CAP_DIM, true);
        s->qk_rope_head_dim = meta_int(L, "rope.dimension_count", 64, 2, CAP_DIM, false);
        /* llama.cpp since its MLA rework (split attn_k_b/attn_v_b) writes the per-head sizes as
         * key_length_mla / value_length_mla and keeps key_length = kv_lora_rank + rope dims and
         * value_length = kv_lora_rank (the compressed "MQA" view, with head_count_kv 1); older
         * files have only key_length / value_length, the per-head sizes */
        int kl = meta_int(L, "attention.key_length_mla", 0, 0, CAP_DIM, false);
        int vl = meta_int(L, "attention.value_length_mla", 0, 0, CAP_DIM, false);
        if (!kl || !vl) {
            kl = meta_int(L, "attention.key_length", 192, 3, CAP_DIM, false);
            vl = meta_int(L, "attention.value_length", 128, 1, CAP_DIM, false);
        }
        s->qk_nope_head_dim = kl - s->qk_rope_head_dim;
        s->v_head_dim = vl;
        s->n_kv_heads = s->n_heads;   /* MLA: every head has its own k and v after kv_b */
        if (s->qk_nope_head_dim < 0) { err_set(L->e, ERR_SHAPE, "%s: key_length %d is smaller than rope.dimension_count %d", L->path, kl, s->qk_rope_head_dim); L->bad = true; return; }
        s->head_dim = kl;
        s->rope_style = ROPE_INTERLEAVED;   /* as HF's DeepSeek-V2 code and llama.cpp */
        s->n_experts = meta_int(L, "expert_count", 0, 0, ROUTE_MAX_EXPERTS, false);
        s->n_experts_per_tok = meta_int(L, "expert_used_count", 1, 1, 65536, false);
        s->moe_d_ff = meta_int(L, "expert_feed_forward_length", 1, 1, CAP_DIM, false);
        s->n_shared_experts = meta_int(L, "expert_shared_count", 0, 0, 65536, false);
        s->first_k_dense_replace = meta_int(L, "leading_dense_block_count", 0, 0, CAP_LAYERS + 1, false);
        s->moe_layer_freq = 1;
        s->routed_scaling_factor = (float)meta_float(L, "expert_weights_scale", 1.0);
        s->norm_topk_prob = meta_bool(L, "expert_weights_norm", false);
        s->route_scoring = meta_int(L, "expert_gating_func", 1, 0, 2, false) == 2 ? ROUTE_SIGMOID : ROUTE_SOFTMAX;
        s->n_group = meta_int(L, "expert_group_count", 1, 1, ROUTE_MAX_EXPERTS, false);
        s->topk_group = meta_int(L, "expert_group_used_count", 1, 1, ROUTE_MAX_EXPERTS, false);
        s->has_score_bias = gguf_find_tensor(L->g, "blk.0.exp_probs_b.bias") != NULL ||
                            (s->first_k_dense_replace < s->n_layers && s->first_k_dense_replace > 0 &&
                             gguf_find_tensor(L->g, "blk.1.exp_probs_b.bias"));
        {
            char key[64];
            snprintf(key, sizeof key, "blk.%d.exp_probs_b.bias", s->first_k_dense_replace);
            if (gguf_find_tensor(L->g, key)) s->has_score_bias = true;
        }
        s->v3_yarn_softmax_mscale = true;
    } else if (llama || qwen3moe) {
        s->n_experts = meta_int(L, "expert_count", 0, 0, ROUTE_MAX_EXPERTS, false);
        if (s->n_experts) {
            s->n_experts_per_tok = meta_int(L, "expert_used_count", 2, 1, 65536, false);
            s->moe_d_ff = qwen3moe ? meta_int(L, "expert_feed_forward_length", s->d_ff, 1, CAP_DIM, false) : s->d_ff;
            s->route_scoring = ROUTE_SOFTMAX;
            s->norm_topk_prob = true;   /* llama.cpp normalizes the chosen weights for both */
            s->routed_scaling_factor = 1.0f;
            s->moe_layer_freq = 1;
            snprintf(s->model_type, sizeof s->model_type, "%s", qwen3moe ? "qwen3_moe" : "mixtral");
        }
    }
    if (L->bad) return;
    int rd = ds ? s->qk_rope_head_dim : s->head_dim;
    s->rotary_dim = ds ? rd : meta_int(L, "rope.dimension_count", rd, 2, rd, false);
    if (s->rotary_dim % 2) { err_set(L->e, ERR_SHAPE, "%s: rope.dimension_count %d must be even", L->path, s->rotary_dim); L->bad = true; return; }
    char st[32] = "";
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    gguf_get_str(L->g, key, st, sizeof st);
    s->rope_factor = 1.0f;
    if (st[0] && strcmp(st, "none") != 0) {
        s->rope_factor = (float)meta_float(L, "rope.scaling.factor", 1.0);
        s->rope_orig_max_pos = meta_int(L, "rope.scaling.original_context_length", s->max_pos, 1, CAP_POS, false);
        if (!strcmp(st, "linear")) s->rope_scaling = ROPE_SCALE_LINEAR;
        else if (!strcmp(st, "yarn")) {
            s->rope_scaling = ROPE_SCALE_YARN;
            s->yarn_beta_fast = 32.0f;
            s->yarn_beta_slow = 1.0f;
            /* llama.cpp keeps 0.1·mscale_all_dim as rope.scaling.yarn_log_multiplier */
            s->yarn_mscale_all_dim = (float)(meta_float(L, "rope.scaling.yarn_log_multiplier", 0.0) / 0.1);
            s->yarn_mscale = s->yarn_mscale_all_dim;
            s->yarn_truncate = true;
            s->rope_attn_factor = -1.0f;
        } else {
            err_set(L->e, ERR_UNSUPPORTED, "%s: %s.rope.scaling.type \"%s\" is not supported (none, linear, yarn)", L->path, a, st);
            L->bad = true;
            return;
        }
    }
    const GgufTensor *rf = gguf_find_tensor(L->g, "rope_freqs.weight");
    if (rf) {   /* Llama 3.1: one divisor per rotary pair, F32 [rope.dimension_count / 2] */
        const int nf = s->rotary_dim / 2;
        if (rf->type != 0 || rf->n_dims != 1 || rf->ne[0] != nf || nf > ROPE_MAX_FACTORS) {
            err_set(L->e, ERR_SHAPE, "%s: tensor \"rope_freqs.weight\" must be F32 with %d elements (rope.dimension_count / 2)",
                    L->path, nf);
            L->bad = true;
            return;
        }
        for (int i = 0; i < nf; i++) {
            float f;
            memcpy(&f, rf->data + 4 * (size_t)i, 4);
            if (!(f > 0) || !isfinite(f)) {
                err_set(L->e, ERR_FORMAT, "%s: rope_freqs.weight[%d] = %g: a RoPE factor must be positive and finite", L->path, i, (double)f);
                L->bad = true;
                return;
            }
            s->rope_factors[i] = f;
        }
        s->n_rope_factors = nf;
    }
    int qk_dim = ds ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim;
    s->softmax_scale = 1.0f / sqrtf((float)qk_dim);
    if ((gemma3 && s->n_layers == 62) || (gemma2 && s->n_layers == 46))   /* llama.cpp: the 27B models */
        s->softmax_scale = 1.0f / sqrtf((float)(s->d_model / s->n_heads));
    if (s->v3_yarn_softmax_mscale && s->rope_scaling == ROPE_SCALE_YARN && s->yarn_mscale_all_dim != 0.0f && s->rope_factor > 1.0f) {
        float ms = 0.1f * s->yarn_mscale_all_dim * logf(s->rope_factor) + 1.0f;
        s->softmax_scale *= ms * ms;
    }
    if (s->n_experts && s->n_experts_per_tok > s->n_experts) {
        err_set(L->e, ERR_SHAPE, "%s: expert_used_count %d exceeds expert_count %d", L->path, s->n_experts_per_tok, s->n_experts);
        L->bad = true;
        return;
    }
    if (s->n_group < 1 || (s->n_experts && (s->n_experts % s->n_group || s->topk_group > s->n_group))) { s->n_group = 1; s->topk_group = 1; }
    if (ds) s->attn_kind = ATTN_MLA;
    else if (s->n_kv_heads == s->n_heads) s->attn_kind = ATTN_MHA;
    else if (s->n_kv_heads == 1) s->attn_kind = ATTN_MQA;
    else s->attn_kind = ATTN_GQA;
}

/* ---- tensors ---------------------------------------------------------------------------- */

static void load_gpt2(GL *L) {
    Model *m = L->m;
    const ModelSpec *s = &m->spec;
    const int d = s->d_model, ff = s->d_ff;
    char n[128];
    m->w.tok_emb = gl_tensor(L, "token_embd.weight", s->vocab_size, d, true);
    const GgufTensor *pe = gl_find(L, "position_embd.weight", true);
    if (pe && pe->n_dims == 2 && pe->ne[1] < s->max_pos) m->spec.max_pos = (int)pe->ne[1];
    m->w.pos_emb = gl_tensor(L, "position_embd.weight", s->max_pos, d, true);
    for (int l = 0; l < s->n_layers && !L->bad; l++) {
        LayerWeights *lw = &m->w.layers[l];
        lw->d_ff = ff;
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l); lw->ln1_w = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.attn_norm.bias", l); lw->ln1_b = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", l); lw->ln2_w = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.bias", l); lw->ln2_b = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", l);
        Tensor qkv = gl_tensor(L, n, 3 * d, d, true);
        lw->wq = tensor_rows(qkv, 0, d); lw->wk = tensor_rows(qkv, d, d); lw->wv = tensor_rows(qkv, 2 * d, d);
        snprintf(n, sizeof n, "blk.%d.attn_qkv.bias", l);
        Tensor b = gl_tensor(L, n, 0, 3 * d, true);
        lw->bq = vec_slice(b, 0, d); lw->bk = vec_slice(b, d, d); lw->bv = vec_slice(b, 2 * d, d);
        snprintf(n, sizeof n, "blk.%d.attn_output.weight", l); lw->wo = gl_tensor(L, n, d, d, true);
        snprintf(n, sizeof n, "blk.%d.attn_output.bias", l); lw->bo = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l); lw->w_up = gl_tensor(L, n, ff, d, true);
        snprintf(n, sizeof n, "blk.%d.ffn_up.bias", l); lw->b_up = gl_tensor(L, n, 0, ff, true);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l); lw->w_down = gl_tensor(L, n, d, ff, true);
        snprintf(n, sizeof n, "blk.%d.ffn_down.bias", l); lw->b_down = gl_tensor(L, n, 0, d, true);
    }
    m->w.lnf_w = gl_tensor(L, "output_norm.weight", 0, d, true);
    m->w.lnf_b = gl_tensor(L, "output_norm.bias", 0, d, true);
}

static bool layer_is_moe(const ModelSpec *s, int l) {
    if (!s->n_experts) return false;
    if (s->family == ARCH_DEEPSEEK) return l >= s->first_k_dense_replace;
    return true;
}

/* Elements [off, off+n) of a tensor as f32, whatever its type (quantized: n and off whole blocks). */
static void gguf_row_f32(const GgufTensor *t, DType dt, size_t off, int n, float *out) {
    if (dtype_is_quant(dt)) { quant_row_f32(dt, t->data, off, n, out); return; }
    for (int i = 0; i < n; i++) {
        const size_t k = off + (size_t)i;
        if (dt == DT_F32) { memcpy(&out[i], t->data + 4 * k, 4); continue; }
        const uint16_t h = (uint16_t)(t->data[2 * k] | t->data[2 * k + 1] << 8);
        out[i] = dt == DT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
}

/* Newer llama.cpp converters split DeepSeek's kv_b [H·(nope+v), kv_lora] for MLA's absorbed form:
 * attn_k_b = the first nope rows of each head transposed, ne {nope, kv_lora, H}; attn_v_b = the
 * other v rows, ne {kv_lora, v, H} (convert_hf_to_gguf.py DeepseekV2Model.modify_tensors). The
 * two are joined back into kv_b as F32 (owned by the model; quantized halves are dequantized
 * exactly as the engine would read them). */
static Tensor join_kv_b(GL *L, int l) {
    const ModelSpec *s = &L->m->spec;
    const int H = s->n_heads, nope = s->qk_nope_head_dim, v = s->v_head_dim, r = s->kv_lora_rank;
    char nk[96], nv[96];
    snprintf(nk, sizeof nk, "blk.%d.attn_k_b.weight", l);
    snprintf(nv, sizeof nv, "blk.%d.attn_v_b.weight", l);
    const GgufTensor *kb = gguf_find_tensor(L->g, nk), *vb = gguf_find_tensor(L->g, nv);
    Tensor none = {0};
    if (!kb || !vb) {
        err_set(L->e, ERR_FORMAT, "%s: tensor \"blk.%d.attn_kv_b.weight\" is missing, and so is its split form (%s and %s)", L->path, l, nk, nv);
        L->bad = true;
        return none;
    }
    const GgufTensor *ts[2] = {kb, vb};
    DType dts[2];
    const int64_t want[2][3] = {{nope, r, H}, {r, v, H}};
    for (int k = 0; k < 2; k++) {
        const GgufTensor *t = ts[k];
        if (t->n_dims != 3 || t->ne[0] != want[k][0] || t->ne[1] != want[k][1] || t->ne[2] != want[k][2]) {
            err_set(L->e, ERR_SHAPE, "%s: tensor \"%s\" must have ne {%" PRId64 ", %" PRId64 ", %" PRId64 "} (kv_lora_rank %d, %d heads)",
                    L->path, k ? nv : nk, want[k][0], want[k][1], want[k][2], r, H);
            L->bad = true;
            return none;
        }
        if (!gl_dtype(L, t, &dts[k])) return none;
    }
    if (L->m->layout_only) return (Tensor){kb->data, DT_F32, H * (nope + v), r};   /* the joined shape, nothing read */
    float *out = model_alloc(L->m, sizeof(float) * (size_t)H * (size_t)(nope + v) * (size_t)r, L->e);
    float *row = malloc(sizeof(float) * (size_t)(nope > r ? nope : r));
    if (!out || !row) { free(row); if (out) err_set(L->e, ERR_MEMORY, "out of memory"); L->bad = true; return none; }
    const size_t R = (size_t)r, NV = (size_t)(nope + v);
    for (size_t h = 0; h < (size_t)H; h++) {
        for (size_t c = 0; c < R; c++) {   /* k_b row (h, c) holds kv_b[h·(nope+v) + j][c], j < nope */
            gguf_row_f32(kb, dts[0], (h * R + c) * (size_t)nope, nope, row);
            for (size_t j = 0; j < (size_t)nope; j++) out[(h * NV + j) * R + c] = row[j];
        }
        for (size_t j = 0; j < (size_t)v; j++)   /* v_b row (h, j) is kv_b row h·(nope+v) + nope + j */
            gguf_row_f32(vb, dts[1], (h * (size_t)v + j) * R, r, out + (h * NV + (size_t)nope + j) * R);
    }
    free(row);
    return (Tensor){out, DT_F32, H * (nope + v), r};
}

static void load_llama_like(GL *L) {
    Model *m = L->m;
    ModelSpec *s = &m->spec;
    const int d = s->d_model, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim, V = s->vocab_size;
    const bool permuted = !strcmp(L->arch, "llama");
    char n[128];
    m->w.tok_emb = gl_tensor(L, "token_embd.weight", V, d, true);
    for (int l = 0; l < s->n_layers && !L->bad; l++) {
        LayerWeights *lw = &m->w.layers[l];
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l); lw->ln1_w = gl_tensor(L, n, 0, d, true);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", l); lw->ln2_w = gl_tensor(L, n, 0, d, true);
        if (s->sandwich_norm) {   /* gemma2, gemma3 */
            snprintf(n, sizeof n, "blk.%d.post_attention_norm.weight", l); lw->post_attn_norm = gl_tensor(L, n, 0, d, true);
            snprintf(n, sizeof n, "blk.%d.post_ffw_norm.weight", l); lw->post_ffn_norm = gl_tensor(L, n, 0, d, true);
        }
        if (s->family == ARCH_DEEPSEEK) {
            const int qk = s->qk_nope_head_dim + s->qk_rope_head_dim;
            if (s->q_lora_rank) {
                snprintf(n, sizeof n, "blk.%d.attn_q_a.weight", l); lw->wq_a = gl_tensor(L, n, s->q_lora_rank, d, true);
                snprintf(n, sizeof n, "blk.%d.attn_q_a_norm.weight", l); lw->q_a_norm = gl_tensor(L, n, 0, s->q_lora_rank, true);
                snprintf(n, sizeof n, "blk.%d.attn_q_b.weight", l); lw->wq_b = gl_tensor(L, n, H * qk, s->q_lora_rank, true);
            } else {
                snprintf(n, sizeof n, "blk.%d.attn_q.weight", l); lw->wq = gl_tensor(L, n, H * qk, d, true);
            }
            snprintf(n, sizeof n, "blk.%d.attn_kv_a_mqa.weight", l); lw->wkv_a = gl_tensor(L, n, s->kv_lora_rank + s->qk_rope_head_dim, d, true);
            snprintf(n, sizeof n, "blk.%d.attn_kv_a_norm.weight", l); lw->kv_a_norm = gl_tensor(L, n, 0, s->kv_lora_rank, true);
            snprintf(n, sizeof n, "blk.%d.attn_kv_b.weight", l);
            if (L->bad) return;
            if (gguf_find_tensor(L->g, n)) lw->wkv_b = gl_tensor(L, n, H * (s->qk_nope_head_dim + s->v_head_dim), s->kv_lora_rank, true);
            else lw->wkv_b = join_kv_b(L, l);
            snprintf(n, sizeof n, "blk.%d.attn_output.weight", l); lw->wo = gl_tensor(L, n, d, H * s->v_head_dim, true);
        } else {
            snprintf(n, sizeof n, "blk.%d.attn_q.weight", l); lw->wq = gl_tensor(L, n, H * hd, d, true);
            snprintf(n, sizeof n, "blk.%d.attn_k.weight", l); lw->wk = gl_tensor(L, n, KV * hd, d, true);
            snprintf(n, sizeof n, "blk.%d.attn_v.weight", l); lw->wv = gl_tensor(L, n, KV * hd, d, true);
            snprintf(n, sizeof n, "blk.%d.attn_output.weight", l); lw->wo = gl_tensor(L, n, d, H * hd, true);
            snprintf(n, sizeof n, "blk.%d.attn_q.bias", l);
            if (gguf_find_tensor(L->g, n)) {
                s->qkv_bias = true;
                lw->bq = gl_tensor(L, n, 0, H * hd, true);
                snprintf(n, sizeof n, "blk.%d.attn_k.bias", l); lw->bk = gl_tensor(L, n, 0, KV * hd, true);
                snprintf(n, sizeof n, "blk.%d.attn_v.bias", l); lw->bv = gl_tensor(L, n, 0, KV * hd, true);
            } else if (s->qkv_bias) { gl_find(L, n, true); return; }
            snprintf(n, sizeof n, "blk.%d.attn_output.bias", l);
            if (gguf_find_tensor(L->g, n)) { s->o_bias = true; lw->bo = gl_tensor(L, n, 0, d, true); }
            if (s->qk_norm) {
                snprintf(n, sizeof n, "blk.%d.attn_q_norm.weight", l); lw->q_norm = gl_tensor(L, n, 0, hd, true);
                snprintf(n, sizeof n, "blk.%d.attn_k_norm.weight", l); lw->k_norm = gl_tensor(L, n, 0, hd, true);
            }
            if (permuted) {
                lw->wq = unpermute_rows(L, lw->wq, H);
                lw->wk = unpermute_rows(L, lw->wk, KV);
                if (lw->bq.data) {   /* a vector is one row of H*hd: permute its elements */
                    Tensor bq = lw->bq, bk = lw->bk;
                    bq.rows = H * hd; bq.cols = 1; bk.rows = KV * hd; bk.cols = 1;
                    if (bq.dtype == DT_F32 && bk.dtype == DT_F32) {
                        lw->bq.data = unpermute_rows(L, bq, H).data;
                        lw->bk.data = unpermute_rows(L, bk, KV).data;
                    }
                }
            }
        }
        lw->is_moe = layer_is_moe(s, l);
        if (lw->is_moe) {
            const int E = s->n_experts, I = s->moe_d_ff;
            lw->d_ff = s->n_shared_experts * I;
            snprintf(n, sizeof n, "blk.%d.ffn_gate_inp.weight", l); lw->router = gl_tensor(L, n, E, d, true);
            if (s->has_score_bias) { snprintf(n, sizeof n, "blk.%d.exp_probs_b.bias", l); lw->router_bias = gl_tensor(L, n, 0, E, true); }
            /* gate and up are either two tensors or, from convert_hf_to_gguf --fuse-gate-up-exps, one
             * ffn_gate_up_exps of ne {d, 2I, E}: each expert's first I rows are its gate, the next I
             * its up (llama.cpp splits the product the same way); both become views, nothing copied */
            const GgufTensor *g = NULL, *u = NULL, *gu = NULL;
            char nf[128];
            snprintf(nf, sizeof nf, "blk.%d.ffn_gate_up_exps.weight", l);
            snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l);
            if (gguf_find_tensor(L->g, nf)) gu = gl_3d(L, nf, E, 2 * I, d);
            else if (!gguf_find_tensor(L->g, n)) {
                err_set(L->e, ERR_FORMAT, "%s: tensor \"%s\" is missing, and so is its fused form \"%s\" (general.architecture \"%s\")",
                        L->path, n, nf, L->arch);
                L->bad = true;
                return;
            } else {
                g = gl_3d(L, n, E, I, d);
                snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l); u = gl_3d(L, n, E, I, d);
            }
            snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l); const GgufTensor *dn = gl_3d(L, n, E, d, I);
            if (L->bad) return;
            lw->experts = calloc((size_t)E, sizeof(Expert));
            if (!lw->experts) { err_set(L->e, ERR_MEMORY, "out of memory"); L->bad = true; return; }
            for (int e = 0; e < E; e++) {
                if (gu) {
                    Tensor t = expert_of(gu, e);
                    t.rows = I;
                    lw->experts[e].gate = t;
                    t.data = (const char *)t.data + (size_t)I * dtype_row_bytes(t.dtype, (size_t)t.cols);
                    lw->experts[e].up = t;
                } else {
                    lw->experts[e].gate = expert_of(g, e);
                    lw->experts[e].up = expert_of(u, e);
                }
                lw->experts[e].down = expert_of(dn, e);
            }
            if (s->n_shared_experts) {
                int S = s->n_shared_experts * I;
                snprintf(n, sizeof n, "blk.%d.ffn_gate_shexp.weight", l); lw->sh_gate = gl_tensor(L, n, S, d, true);
                snprintf(n, sizeof n, "blk.%d.ffn_up_shexp.weight", l); lw->sh_up = gl_tensor(L, n, S, d, true);
                snprintf(n, sizeof n, "blk.%d.ffn_down_shexp.weight", l); lw->sh_down = gl_tensor(L, n, d, S, true);
            }
        } else {
            int ff = s->d_ff;
            lw->d_ff = ff;
            snprintf(n, sizeof n, "blk.%d.ffn_gate.weight", l); lw->w_gate = gl_tensor(L, n, ff, d, true);
            snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l); lw->w_up = gl_tensor(L, n, ff, d, true);
            snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l); lw->w_down = gl_tensor(L, n, d, ff, true);
        }
    }
    m->w.lnf_w = gl_tensor(L, "output_norm.weight", 0, d, true);
}

static GgufFile *parse_mapped(Model *m, const char *path, Err *e) {
    Mapped *mp = mapped_open(path, e);
    if (!mp) return NULL;
    m->maps = malloc(sizeof(Mapped *));
    if (!m->maps) { mapped_close(mp); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    m->maps[0] = mp;
    m->n_maps = 1;
    return gguf_parse(mapped_data(mp), mapped_size(mp), mapped_path(mp), e);
}

Model *gguf_load(const char *path, bool layout_only, Err *e) {
    Model *m = calloc(1, sizeof *m);
    if (!m) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    m->layout_only = layout_only;
    snprintf(m->path, sizeof m->path, "%s", path);
    snprintf(m->dir, sizeof m->dir, "%s", path);
    char *sl = strrchr(m->dir, '/');
    if (sl) *sl = 0; else snprintf(m->dir, sizeof m->dir, ".");
    GgufFile *g = parse_mapped(m, path, e);
    if (!g) { model_free(m); return NULL; }
    GL L = {m, g, mapped_path(m->maps[0]), e, false, ""};
    if (!gguf_get_str(g, "general.architecture", L.arch, sizeof L.arch)) {
        err_set(e, ERR_FORMAT, "%s: GGUF file without the metadata key \"general.architecture\" (a string naming the model family)", L.path);
        gguf_free(g);
        model_free(m);
        return NULL;
    }
    spec_from_meta(&L);
    /* llama.cpp's general.sampling.* keys: the model's sampling defaults (model/gendefaults.c) */
    if (!L.bad) gen_defaults_from_gguf(&m->spec.gen, g, L.path);
    if (!L.bad) {
        m->w.layers = calloc((size_t)m->spec.n_layers, sizeof(LayerWeights));
        if (!m->w.layers) { err_set(e, ERR_MEMORY, "out of memory"); L.bad = true; }
    }
    if (!L.bad) {
        if (m->spec.family == ARCH_GPT2) load_gpt2(&L);
        else load_llama_like(&L);
    }
    if (!L.bad) {
        if (gguf_find_tensor(g, "output.weight")) {
            m->w.lm_head = gl_tensor(&L, "output.weight", m->spec.vocab_size, m->spec.d_model, true);
        } else {
            m->w.lm_head = m->w.tok_emb;
            m->spec.tied_embeddings = true;
        }
    }
    gguf_free(g);
    if (L.bad) { model_free(m); return NULL; }
    /* the dtype of the bulk: that of the first layer's largest matrix */
    const LayerWeights *l0 = &m->w.layers[0];
    const Tensor *bulk = l0->w_up.data ? &l0->w_up : l0->is_moe && l0->experts ? &l0->experts[0].up : &m->w.tok_emb;
    m->spec.dtype = bulk->dtype;
    return m;
}
