/* Trace: what the UI needs about every token, captured from hook points during the
 * forward pass (the recorder is an ordinary hook observer), so the UI can step back and
 * jump to any earlier token without recomputing. Panels read the trace, never the engine.
 *
 * Per token position t (0-based) the trace keeps (L layers, H query heads, KV kv heads,
 * hd head dim, d model dim, F ffn width, E experts, K top-k):
 *   qa       [L][H][dq]    each head's query as attention consumed it (after RoPE; MLA:
 *                          [qk_nope + qk_rope]); attention rows are not stored: trace_attn_row
 *                          recomputes query t's scores and pattern from it and the engine's
 *                          KV cache, so memory per token does not grow with the context
 *   resid    [L+1][d]      residual stream entering layer l (resid_pre), [L] = final resid_post
 *   attn_out_norm, mlp_out_norm [L]   ||hook_attn_out||, ||hook_mlp_out||
 *   ln1, ln2 [L] NormStat  statistics of the norm input/output; lnf: final norm
 *   ln1_out, ln2_out [L][d] normalized outputs (after gamma/beta)
 *   q, q_rot [L][H*hd], k, k_rot [L][KV*hd]   before/after RoPE (MLA: rope part only, see mla_*);
 *                          k and k_rot only for MLA (k_rot = the cached rope key) or without an
 *                          engine; ln1_out/ln2_out and (dense models) mlp_post are computed on
 *                          demand: trace_norm_out, trace_mlp_post
 *   embed [d], pos_embed [d] (learned positions only, else NULL)
 *   mlp_post [L][F]        FFN activation (input of down projection); MoE: the routed mix is not stored
 *   router [L][E], expert_idx [L][k], expert_w [L][k]   (MoE layers; else NULL)
 *   kv_latent [L][kv_lora], q_latent [L][q_lora] (MLA)
 *   top_ids/top_logits [K]  largest logits at this position (K = TRACE_TOPK), plus lse
 *   kv_bytes               cache bytes after this token was appended
 * Memory is bounded by max tokens (the engine context) and documented in docs/hooks.md.
 */
#ifndef LLMSCOPE_TRACE_H
#define LLMSCOPE_TRACE_H
#include <stdbool.h>
#include <stddef.h>
#include "engine/engine.h"

#define TRACE_TOPK 64

typedef struct { float mean, var, rms, scale, min, max; } NormStat;  /* of the norm input */

typedef enum { PHASE_PREFILL = 0, PHASE_DECODE = 1 } Phase;

typedef struct {
    int id;                 /* token id at this position */
    Phase phase;
    int step;               /* forward call that computed it */
    float *qa;              /* [L][H][dq] attention queries (see trace_attn_row) */
    float *attn, *scores;   /* [L][H][t+1] only in a trace with no engine bound (tests' fake
                             * traces fire rows themselves); else NULL: use trace_attn_row */
    float *resid;           /* [L+1][d] */
    float *attn_out_norm, *mlp_out_norm;   /* [L] */
    NormStat *ln1, *ln2;    /* [L] */
    NormStat lnf;
    float *ln1_out, *ln2_out;             /* [L][d] (no engine bound only: use trace_norm_out) */
    float *resid_mid;                     /* [L][d] input of ln2 (resid_pre + attn_out) */
    float *lnf_out;                       /* [d] final norm output */
    float *q, *q_rot, *k, *k_rot;         /* [L][H*hd_r], [L][KV*hd_r] (hd_r: roped dims per head) */
    float *embed, *pos_embed;             /* [d] */
    float *mlp_post;                      /* [L][F] (F = max ffn width over layers); NULL for a
                                           * dense model with an engine: use trace_mlp_post */
    float *router, *expert_w;             /* [L][E], [L][topk] */
    int *expert_idx;                      /* [L][topk] */
    float *kv_latent, *q_latent;          /* [L][kv_lora], [L][q_lora] */
    int top_ids[TRACE_TOPK];
    float top_logits[TRACE_TOPK];
    float logit_lse;        /* log-sum-exp of all logits (so probs = exp(l - lse)) */
    float logit_entropy;    /* entropy of softmax(logits) over the whole vocabulary, bits */
    size_t kv_bytes;
    int next_id;            /* token chosen after this position (-1 if not yet) */
} TraceTok;

typedef struct Trace Trace;

/* Dims the trace was laid out for (copied from the model). */
typedef struct {
    int n_layers, n_heads, n_kv_heads, d_model, head_dim, rot_dim, d_ff, n_experts, top_k;
    int q_dim;              /* per head of qa: head_dim (MLA: qk_nope + qk_rope) */
    int kv_lora, q_lora, vocab;
} TraceDims;

Trace *trace_new(const Model *m, int max_tokens, Err *e);
/* The engine whose KV cache the attention rows are recomputed from (the one that ran the
 * recorded tokens; the session binds it). */
void trace_bind_engine(Trace *t, const Engine *en);
/* Query pos's attention row of (layer, head): scores (pre-softmax, scaled, masked keys
 * -inf) or the pattern (softmax, masked keys 0), pos + 1 values. Recomputed on demand from
 * the recorded query and the bound engine's cache by the engine's own formula
 * (engine_attn_row), kept in a small cache of rows (bounded: TRACE_ROW_CACHE_BYTES). The
 * pointer is valid until the next trace_attn_row call or change of the trace. NULL when the
 * position is not recorded or no engine is bound. */
#define TRACE_ROW_CACHE_BYTES (32u << 20)
const float *trace_attn_row(const Trace *t, int pos, int layer, int head, bool scores);
/* Output of a norm at position pos: which 0 = ln1 of layer (of resid_pre), 1 = ln2 (of
 * resid_mid), 2 = the final norm. ln1/ln2 are not stored when an engine is bound: they are
 * computed from the recorded input with the engine's own norm function and the model's gamma
 * (and beta), which gives the same floats. d_model values, valid until the next call. */
const float *trace_norm_out(const Trace *t, int pos, int which, int layer);
/* FFN activation (hook_post) of a layer at pos, d_ff values. For a dense model with an engine
 * bound it is not stored but computed from the ln2 output by engine_mlp_post (equal to the
 * prefill's within float rounding); a model with mixture-of-experts layers stores it. The
 * values of one position are kept for all its layers until another position is asked. NULL
 * when not available. */
const float *trace_mlp_post(const Trace *t, int pos, int layer);
/* Whether trace_mlp_post(t, pos, layer) returns without computing: stored, or kept from an
 * earlier call for this position (a UI computing layers in pieces asks first). */
bool trace_mlp_post_ready(const Trace *t, int pos, int layer);
/* The query before RoPE of a layer at pos in q's layout ([H][R], the roped dims of each head).
 * Not stored for standard attention with an engine bound: computed from the ln1 output by
 * engine_q_proj (equal to hook_q within float rounding). Valid until the next call. */
const float *trace_q_pre(const Trace *t, int pos, int layer);
void trace_free(Trace *t);
/* Registers the recorder's observers on h. */
void trace_attach(Trace *t, Hooks *h);
int trace_len(const Trace *t);                 /* positions recorded */
const TraceTok *trace_tok(const Trace *t, int pos);
TraceTok *trace_tok_mut(Trace *t, int pos);
const TraceDims *trace_dims(const Trace *t);
void trace_truncate(Trace *t, int len);        /* forget positions >= len */
size_t trace_bytes(const Trace *t);            /* memory held now */
/* Changes whenever the recorded contents may have changed (a forward step, a truncation);
 * unique across all traces of the process: a key for caches of derived values. */
unsigned long trace_generation(const Trace *t);
/* Called by the session before each forward: phase of the tokens about to be computed. */
void trace_begin_step(Trace *t, Phase ph, int step);
#endif
