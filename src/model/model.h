/* Model = spec (dimensions and choices, from config.json or a llama2.c header) + weights.
 *
 * Every architecture is a mapping onto this one struct and the one forward pass in
 * engine/forward.c:  gpt2, llama/mistral/qwen2/qwen3 (SmolLM is llama), gemma/gemma2/
 * gemma3_text, mixtral, qwen3_moe, deepseek_v2/v3 (MLA + MoE), and llama2.c .bin checkpoints.
 *
 * Ownership: model_load() returns a Model the caller frees with model_free(). Weight
 * tensors point into memory-mapped files (bf16/f16/f32 kept in their stored dtype) or
 * into buffers owned by the Model (transposed GPT-2 Conv1D weights, split fused
 * tensors, llama2.c weights). Matrices are row-major [rows=out, cols=in]: y = W x.
 */
#ifndef LLMSCOPE_MODEL_H
#define LLMSCOPE_MODEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* Storage types. F32/F16/BF16 are dense; the rest are ggml's block-quantized types (GGUF
 * files), kept quantized in memory: a row of n elements is n/dtype_block(t) blocks of
 * dtype_block_bytes(t) bytes (layouts in docs/formats.md, kernels in engine/quant.c). */
typedef enum { DT_F32 = 0, DT_F16, DT_BF16,
               DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1, DT_Q8_0,
               DT_Q2_K, DT_Q3_K, DT_Q4_K, DT_Q5_K, DT_Q6_K, DT_Q8_K,
               DT_IQ4_NL, DT_IQ4_XS, DT_COUNT } DType;
/* Bytes per element of a dense type. For a quantized type: 2, the f16 element a KV cache
 * of such a model is usually held in (use dtype_row_bytes for weights). */
size_t dtype_size(DType t);
const char *dtype_name(DType t);
static inline bool dtype_is_quant(DType t) { return t >= DT_Q4_0; }
int dtype_block(DType t);              /* elements per block (1 for dense types) */
int dtype_block_bytes(DType t);        /* bytes per block */
/* Bytes of n elements (n a multiple of the block). */
static inline size_t dtype_row_bytes(DType t, size_t n) { return n / (size_t)dtype_block(t) * (size_t)dtype_block_bytes(t); }

/* A weight matrix [rows, cols] (row-major, y[r] = sum_c W[r,c] x[c]) or vector (rows=1). */
typedef struct {
    const void *data;  /* NULL = absent */
    DType dtype;
    int rows, cols;
} Tensor;

static inline bool tensor_present(const Tensor *t) { return t->data != NULL; }

typedef enum { ARCH_GPT2 = 0, ARCH_LLAMA, ARCH_DEEPSEEK } ArchFamily;
typedef enum { NORM_LAYERNORM = 0, NORM_RMSNORM } NormKind;
typedef enum { ACT_GELU_TANH = 0, ACT_GELU, ACT_SILU, ACT_RELU } ActKind;
typedef enum { POS_LEARNED = 0, POS_ROPE } PosKind;
typedef enum { ROPE_HALF = 0, ROPE_INTERLEAVED } RopeStyle; /* rotate_half (HF) vs pairs (2i,2i+1) */
typedef enum { ROPE_SCALE_NONE = 0, ROPE_SCALE_LINEAR, ROPE_SCALE_DYNAMIC, ROPE_SCALE_LLAMA3,
               ROPE_SCALE_YARN } RopeScaling;
typedef enum { ATTN_MHA = 0, ATTN_GQA, ATTN_MQA, ATTN_MLA } AttnKind;
typedef enum { ROUTE_SOFTMAX = 0, ROUTE_SIGMOID } RouteScoring;
#define ROUTE_MAX_EXPERTS 4096
#define ROPE_MAX_FACTORS 512     /* rotary pairs that rope_freqs.weight may hold (head_dim <= 1024) */   /* routed experts per layer (DeepSeek-V3 has 256) */

/* A model's own sampling defaults, as transformers' generate() and llama.cpp read them:
 * generation_config.json beside config.json (do_sample, temperature, top_k, top_p), or a GGUF
 * file's general.sampling.temp / top_k / top_p (llama.cpp's keys; any of them present means
 * sampling, as llama.cpp samples). What the source leaves out, and a model without one, takes
 * transformers' GenerationConfig default: do_sample false (greedy), temperature 1, top_k 50,
 * top_p 1. model/gendefaults.c reads them; engine/gencfg.c merges them with a command's options. */
typedef enum { GEN_SRC_NONE = 0, GEN_SRC_JSON, GEN_SRC_GGUF } GenSource;
typedef enum { GEN_DO_SAMPLE = 0, GEN_TEMPERATURE, GEN_TOP_K, GEN_TOP_P, GEN_NFIELDS } GenField;
typedef struct {
    GenSource source;
    char file[24];                     /* "generation_config.json" or "the GGUF file"; "" without a source */
    bool do_sample;
    float temperature;                 /* >= 0; 0 (GGUF only) = greedy, as llama.cpp; generation_config.json's 0 is in bad[] */
    int top_k;                         /* 0 = off (null in the file) */
    float top_p;                       /* (0, 1]; 1 = off */
    bool given[GEN_NFIELDS];           /* the source set this field (null included) */
    /* A field the source gives with a wrong type or value: the whole message (file, field, value,
     * what is expected), "" when fine. The model still loads; a command that would use the field
     * fails with it, as transformers' generate() fails only when sampling uses the value. */
    char bad[GEN_NFIELDS][320];
    /* With do_sample false (or left out), a bad[] field that transformers' GenerationConfig.validate()
     * says nothing of: its value equals validate()'s default as Python compares ("top_k": 50.0 == 50),
     * or it is top_k while penalty_alpha is set (gen_defaults_bad_is_quiet): why, NULL when it warns. */
    const char *bad_quiet[GEN_NFIELDS];
    /* Fields the source sets that its own tool would apply and our sampler lacks (transformers'
     * repetition_penalty, min_p, ...; llama.cpp's general.sampling.min_p, ...): the whole note,
     * naming the file and each field with its value ("" if none). unapplied: those that act in a
     * greedy decode too (repetition_penalty, no_repeat_ngram_size; penalty_repeat, xtc_probability);
     * unapplied_sampling: every one, for a decode that samples (gen_defaults_unapplied picks). Only
     * commands that decode print it (run, generate, trace -n N, tui), for the decode they run; info
     * lists the one of the model's default decode. For a GGUF file both also name the
     * general.sampling keys that hold no number, which llama.cpp ignores too. */
    char unapplied[400];
    char unapplied_sampling[400];
    /* The sampling fields a generation_config.json whose "do_sample" is false (or left out) sets
     * where transformers' GenerationConfig.validate() warns that the flag "is only used in
     * sample-based generation modes", its value being valid (a wrong one is in bad[]): temperature
     * and top_p other than 1, top_k other than 50 (unless penalty_alpha is set: contrastive search
     * reads it), min_p of any value, typical_p other than 1, epsilon_cutoff and eta_cutoff other
     * than 0, compared as Python compares (null is None: no warning; true equals 1). In
     * validate()'s order. text: `FILE: "temperature" is 0.6` (the value as the file writes it);
     * key: the field; opt: the option that replaces it, NULL for a field our sampler lacks. */
    struct { char text[320]; const char *key, *opt; } greedy_unused[7];
    int n_greedy_unused;
} GenDefaults;

typedef struct {
    char model_type[64];       /* as in config.json ("llama", "qwen3", "gpt2", "llama2c", ...) */
    ArchFamily family;
    int vocab_size, d_model, n_layers, n_heads, n_kv_heads, head_dim, d_ff, max_pos;
    NormKind norm; float norm_eps;
    ActKind act; bool gated_ffn;       /* SwiGLU: down(act(gate x) * up x) */
    PosKind pos;
    bool qkv_bias, o_bias, mlp_bias, qk_norm, tied_embeddings;
    int sliding_window;                /* 0 = none; in which layers: spec_layer_window */
    AttnKind attn_kind;
    /* Layers with the sliding window, where only some have it (Gemma 2/3 layer_types: the others
     * attend to every earlier key); swa_per_layer false: every layer has it. */
    bool swa_per_layer;
    unsigned char layer_swa[1024];

    /* Gemma */
    float embed_scale;                 /* > 0: token embeddings are multiplied by it (Gemma: sqrt(d_model)) */
    bool norm_plus_one;                /* RMSNorm weights stored as w and applied as 1 + w (Gemma's HF
                                          checkpoints); the loader adds the 1 into its own f32 copy */
    bool sandwich_norm;                /* Gemma 2/3: the attention and FFN outputs are RMS-normalized again
                                          (post_attn_norm, post_ffn_norm) before they join the residual */
    float attn_softcap, final_softcap; /* > 0: cap * tanh(x / cap) on attention scores / output logits (Gemma 2) */
    float rope_local_theta;            /* > 0: layers with the sliding window rotate with this base and no
                                          scaling (Gemma 3's rope_local_base_freq); the others with rope_theta */

    /* RoPE */
    float rope_theta; RopeStyle rope_style; int rotary_dim;   /* dims rotated per head */
    RopeScaling rope_scaling; float rope_factor;
    int rope_orig_max_pos;             /* original_max_position_embeddings */
    float rope_low_freq_factor, rope_high_freq_factor;        /* llama3 */
    float yarn_beta_fast, yarn_beta_slow, yarn_mscale, yarn_mscale_all_dim, rope_attn_factor;
    bool yarn_truncate;
    /* Per-frequency divisors of the inverse frequencies (a GGUF file's rope_freqs.weight: Llama
     * 3.1's "llama3" scaling as llama.cpp's converter stores it); n_rope_factors = 0: none. */
    int n_rope_factors;
    float rope_factors[ROPE_MAX_FACTORS];

    /* MLA (DeepSeek-V2/V3) */
    int q_lora_rank;                   /* 0 = no q compression */
    int kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
    float softmax_scale;               /* 1/sqrt(d) incl. YaRN mscale^2 where it applies */
    bool v3_yarn_softmax_mscale;

    /* MoE */
    int n_experts, n_experts_per_tok, moe_d_ff, n_shared_experts;
    int first_k_dense_replace, moe_layer_freq;   /* deepseek */
    RouteScoring route_scoring;
    bool norm_topk_prob, has_score_bias;
    float routed_scaling_factor;
    int n_group, topk_group;
    unsigned char mlp_only[1024];      /* qwen3_moe mlp_only_layers: layer stays dense */
    /* The model's own sampling defaults (generation_config.json, or GGUF general.sampling.*;
     * transformers' GenerationConfig defaults for what the source leaves out). */
    GenDefaults gen;

    /* tokens */
    int bos_id, eos_id, pad_id;        /* -1 when unknown; eos_id = eos_ids[0] */
    /* Every end-of-sequence id: eos_token_id of config.json and of generation_config.json, each
     * an int or a list (Qwen3 lists <|endoftext|> and <|im_end|>, Llama-3-Instruct three), in
     * that order without repeats; for a GGUF file the EOS id, then every id llama.cpp's
     * llama_vocab_is_eog accepts (core/gguf_vocab.h). Generation stops at any of them (spec_is_eos). */
    int eos_ids[32], n_eos;
    DType dtype;                       /* dtype of the bulk of the weights */
} ModelSpec;

typedef struct {
    Tensor gate, up, down;             /* [moe_d_ff, d], [moe_d_ff, d], [d, moe_d_ff] */
} Expert;

typedef struct {
    bool is_moe;
    Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    /* standard attention */
    Tensor wq, wk, wv, wo;             /* [H*hd, d], [KV*hd, d], [KV*hd, d], [d, H*hd] */
    Tensor bq, bk, bv, bo;
    Tensor q_norm, k_norm;             /* [hd] (qwen3, gemma3) */
    Tensor post_attn_norm, post_ffn_norm;  /* [d] (gemma2/3: spec.sandwich_norm) */
    /* MLA */
    Tensor wq_a, q_a_norm, wq_b;       /* [q_lora, d], [q_lora], [H*(nope+rope), q_lora] */
    Tensor wkv_a, kv_a_norm, wkv_b;    /* [kv_lora+rope, d], [kv_lora], [H*(nope+v), kv_lora] */
    /* dense FFN */
    Tensor w_gate, w_up, w_down, b_gate, b_up, b_down;  /* [ff, d], [ff, d], [d, ff]; biases (gpt2) */
    /* MoE */
    Tensor router, router_bias;        /* [E, d], [E] e_score_correction_bias */
    Expert *experts;                   /* n_experts */
    Tensor sh_gate, sh_up, sh_down;    /* shared experts fused: [n_shared*moe_ff, d] ... */
    int d_ff;                          /* this layer's dense ff width (or shared width) */
} LayerWeights;

typedef struct {
    Tensor tok_emb;                    /* [vocab, d] */
    Tensor pos_emb;                    /* [max_pos, d] (gpt2) */
    LayerWeights *layers;
    Tensor lnf_w, lnf_b;
    Tensor lm_head;                    /* [vocab, d]; == tok_emb when tied */
} Weights;

typedef struct Mapped Mapped;          /* a memory-mapped file (model/loader.c) */

typedef struct Model {
    ModelSpec spec;
    Weights w;
    char path[1024];                   /* what was loaded (dir or file) */
    char dir[1024];                    /* directory holding tokenizer.json etc. */
    bool config_only;                  /* config.json without weights (info only) */
    bool layout_only;                  /* model_load_layout: shapes, dtypes and places of the weights,
                                          none of their bytes read (info); cannot be run */
    /* owned storage */
    Mapped **maps; int n_maps;
    void **owned; int n_owned, cap_owned;
    size_t weight_bytes;               /* bytes of weights read per decoded token (approx.) */
    long long n_params;
    int n_nonfinite;                   /* NaN/Inf found in weights (warned) */
    char nonfinite_first[64];          /* where the first one is ("layers.0.wq", "lm_head"); "" if none */
    char warning[512];                 /* what the loader noticed but accepted ("" if nothing): the
                                          loader prints nothing; the CLI prints it, the TUI shows it */
    unsigned long long serial;         /* model_load: a number no other model of this process had, so a
                                          reload at a freed model's address is not taken for it (0: not
                                          from model_load) */
} Model;

/* Loads a HF directory (config.json + safetensors), a HF cache repo id ("Qwen/Qwen3-0.6B"),
 * or a llama2.c .bin file. With config_only_ok, a directory with config.json but no weights
 * loads as spec only (m->config_only). Returns NULL and fills e on error. */
Model *model_load(const char *path, bool config_only_ok, Err *e);
/* As model_load(path, true, e), but reads no weight: the headers, config.json and
 * generation_config.json only (a GGUF file's metadata and tensor table, a llama2.c header).
 * Every check model_load makes on names, shapes, dtypes, offsets and the size against memory
 * is made, and n_params / weight_bytes are the same; nothing is transposed, un-permuted or
 * scanned for NaN/Inf (n_nonfinite stays 0, m->layout_only is set). For `info`, which must
 * answer at once on a model of any size; engine_new refuses such a model. */
Model *model_load_layout(const char *path, Err *e);

/* What a model path holds, decided from its bytes (model/detect.c): the one place that tells
 * formats apart, so a new loader (GGUF) only adds a case. `what` (may be NULL) receives a
 * short description of what was found ("GGUF version 3", "a text file starting ...") for
 * messages. A path that does not exist is MODEL_FMT_UNKNOWN with what = "no such file". */
typedef enum {
    MODEL_FMT_UNKNOWN = 0, MODEL_FMT_HF_DIR, MODEL_FMT_CONFIG_JSON, MODEL_FMT_SAFETENSORS,
    MODEL_FMT_GGUF, MODEL_FMT_LLAMA2C, MODEL_FMT_PYTORCH
} ModelFormat;
ModelFormat model_detect_format(const char *path, char *what, size_t cap);
const char *model_format_name(ModelFormat f);
void model_free(Model *m);

/* Parses config.json text into a spec (buffer-based, fuzzable). `name` is used in messages. */
bool config_parse(const char *json, size_t len, const char *name, ModelSpec *s, Err *e);

/* The sliding window of layer l (0: it attends to every earlier key). */
static inline int spec_layer_window(const ModelSpec *s, int l) {
    if (!s->sliding_window) return 0;
    if (!s->swa_per_layer) return s->sliding_window;
    return l >= 0 && l < 1024 && s->layer_swa[l] ? s->sliding_window : 0;
}

/* KV-cache bytes per token per layer as this model stores them (dtype bytes: cache_elt). */
size_t spec_kv_elems_per_token_layer(const ModelSpec *s);
const char *attn_kind_name(AttnKind k);
/* True when id is one of s->eos_ids. */
bool spec_is_eos(const ModelSpec *s, int id);
/* Adds an end-of-sequence id (ignored when negative, already there or the list is full) and
 * keeps eos_id = eos_ids[0]. */
void spec_add_eos(ModelSpec *s, int id);

/* transformers' GenerationConfig defaults, what generate() uses for a field generation_config.json
 * leaves out and for a model without that file: do_sample false (greedy), temperature 1.0,
 * top_k 50, top_p 1.0; no source, nothing given, nothing bad. */
void gen_defaults_reset(GenDefaults *g);
/* generation_config.json text (model/gendefaults.c): eos/bos ids are read by the loader; this
 * reads do_sample, temperature, top_k, top_p into g (on top of gen_defaults_reset), recording a
 * field of the wrong type or value in g->bad (named with `path`). Fields transformers' generate()
 * would apply and llmscope does not (repetition_penalty, no_repeat_ngram_size; when sampling
 * min_p, typical_p, epsilon_cutoff, eta_cutoff) at a value that acts are listed in g->unapplied
 * and g->unapplied_sampling.
 * False only when the text is not a JSON object (transformers then ignores the file; so does the
 * loader, with a warning). */
bool gen_defaults_from_json(GenDefaults *g, const char *json, size_t len, const char *path);
struct GgufFile;
/* GGUF general.sampling.temp / top_k / top_p into g (on top of gen_defaults_reset); any of them
 * present means do_sample. Keys llama.cpp would apply that llmscope does not (min_p,
 * penalty_repeat, mirostat, xtc_probability) at a value that does something are listed in
 * g->unapplied (penalty_repeat, xtc_probability: they act at temperature 0 too) and
 * g->unapplied_sampling (all). */
void gen_defaults_from_gguf(GenDefaults *g, const struct GgufFile *f, const char *path);
/* The note on fields our sampler lacks that apply to a decode that samples (sampling) or a greedy
 * one; "" when none. */
const char *gen_defaults_unapplied(const GenDefaults *g, bool sampling);
/* Whether bad field f (temperature, top_k, top_p) of a generation_config.json that says
 * "do_sample": false (or none) is a warning rather than a problem, as transformers has it:
 * GenerationConfig.validate() only warns that the flag is used in sample-based generation modes
 * alone, and generate() decodes greedily without reading it. A sampling decode that takes it
 * still fails (engine/gencfg.c), as transformers' warpers raise then. do_sample left out is
 * false too (transformers' default, and validate() warns alike); false for a do_sample that is
 * itself wrong, for do_sample and for a GGUF file (llama.cpp samples with every key it has). */
bool gen_defaults_bad_is_warning(const GenDefaults *g, GenField f);
/* The same case where validate() warns on nothing: the value equals its default as Python compares
 * ("top_k": 50.0 == 50) or top_k is read by contrastive search (penalty_alpha set). No warning, and
 * generate() decodes greedily; a sampling decode that takes the field fails as above. */
bool gen_defaults_bad_is_quiet(const GenDefaults *g, GenField f);

/* Owned allocation registered with the model (freed by model_free). */
void *model_alloc(Model *m, size_t bytes, Err *e);

/* KV-cache arithmetic (DeepSeek-V2, Table 1): elements cached per token per layer.
 *   MHA 2·n_h·d_h   GQA 2·n_g·d_h   MQA 2·d_h   MLA d_c + d_h^R
 * kv_elems_as() gives the figure for this model's dims under another attention kind
 * (GQA uses n_groups; MLA uses kv_lora_rank and qk_rope_head_dim, or for non-MLA models
 * d_c = 4·d_h and d_h^R = d_h/2 as in DeepSeek-V2's own configuration). */
size_t kv_elems_as(const ModelSpec *s, AttnKind kind, int n_groups);
#endif
