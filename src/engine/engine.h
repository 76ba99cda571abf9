/* Engine: one forward pass for every architecture, prefill (n tokens at once, packed GEMM in
 * chunks of 256) and decode (n = 1, matvec four rows at a time), on weights kept in their
 * stored dtype, with a real
 * per-layer KV cache: MHA/GQA/MQA store n_kv_heads keys and values per token; MLA stores
 * the compressed latent c_kv and the shared rope key k_pe (DeepSeek-V2 §2.1), never the
 * decompressed K/V.
 *
 * Ownership: engine_new borrows the Model (which must outlive the engine) and owns its
 * run state and cache (one allocation at creation; nothing is allocated per token).
 */
#ifndef LLMSCOPE_ENGINE_H
#define LLMSCOPE_ENGINE_H
#include "model/model.h"
#include "engine/hooks.h"

typedef struct Engine Engine;

/* max_ctx <= 0 means the model's max_pos capped at 2048 to bound memory (RoPE models get at
 * least 512). A learned-position model never runs past its max_pos. */
Engine *engine_new(Model *m, int max_ctx, Err *e);
void engine_free(Engine *en);
void engine_set_hooks(Engine *en, Hooks *h);   /* NULL = no hooks */
const Model *engine_model(const Engine *en);

/* Runs tokens[0..n) at positions pos..pos+n-1 where pos = engine_pos() and appends them to
 * the cache. Returns the logits: the last position's [vocab] row, or, with all_logits,
 * [n, vocab] rows (valid until the next call). NULL on error (bad id, context full). */
float *engine_forward(Engine *en, const int *tokens, int n, bool all_logits, Err *e);

/* Enlarges the context to max_ctx (a learned-position model: at most its max_pos), keeping
 * the cached tokens: later steps give what an engine created with that context gives. Nothing
 * changes when max_ctx is not larger; false (e filled, the engine as it was) when out of
 * memory. */
bool engine_grow(Engine *en, int max_ctx, Err *e);
/* Rounds every key and value entering the cache through t (f16, bf16, q8_0, q4_0; DT_F32 = off,
 * the default): attention then reads what a cache of that type would hold (engine/kvround.h).
 * Tokens already cached stay as they are. False (e filled) for another type. */
bool engine_set_kv_round(Engine *en, DType t, Err *e);
DType engine_kv_round(const Engine *en);
int engine_pos(const Engine *en);              /* tokens in the cache */
int engine_max_ctx(const Engine *en);
void engine_truncate(Engine *en, int pos);     /* forget cache entries >= pos */
size_t engine_kv_bytes_per_token(const Engine *en);  /* all layers, as stored (f32) */
size_t engine_kv_bytes(const Engine *en);      /* bytes held for engine_pos() tokens */
int engine_step_count(const Engine *en);

/* Every row's logits to the hooks: with on, a forward pass whose caller wants only the last
 * row still computes every row's logits when a hook wants hook_logits, in blocks of 128 rows
 * fired as [rows, vocab] and dropped (the trace keeps the top-k of each; nothing of size
 * [n, vocab] is held). Off (the default): hook_logits sees the rows the caller asked for. */
void engine_set_hook_all_logits(Engine *en, bool on);

/* One attention row recomputed from the KV cache: query position pos of layer l, query head
 * h, q = that head's query as the attention consumed it (hook_rot_q, or hook_q without RoPE;
 * MLA: [qk_nope + qk_rope] with the rope part rotated). Writes scores (scaled, masked keys
 * -inf) and pattern (softmax; masked keys 0), pos + 1 values each, with the same formula
 * the engine's decode path uses (for prefill rows computed through the GEMM the results agree
 * within float rounding, ~1e-6). pos must be < engine_pos(). False if out of range. */
bool engine_attn_row(const Engine *en, int l, int pos, int h, const float *q, float *scores, float *pattern);
/* A dense layer's FFN activation (hook_post: act(W_gate x + b) * (W_up x + b), or act(W_up x
 * + b) ungated) for one normalized input row x_norm [d_model], as decode computes it. out and
 * tmp hold the layer's d_ff floats. False for a mixture-of-experts layer. */
bool engine_mlp_post(const Engine *en, int l, const float *x_norm, float *out, float *tmp);
/* The query projection of one normalized input row (hook_q: W_Q x + b, Qwen3's per-head
 * q_norm), n_heads * head_dim floats, as decode computes it. False for MLA. */
bool engine_q_proj(const Engine *en, int l, const float *x_norm, float *out);

#define ENGINE_MAX_THREADS 256
/* Threads of the engine's worker pool (engine/pool.h): n < 1 = the default, clamped to
 * [1, ENGINE_MAX_THREADS]. The default is the number of cores this process may run on
 * (sched_getaffinity), or $LLMSCOPE_THREADS when set. */
void engine_set_threads(int n);
int engine_get_threads(void);
int engine_default_threads(void);

#endif
