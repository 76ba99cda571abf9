/* Multi-head latent attention, two ways (DeepSeek-V2, arXiv 2405.04434, §2.1.2-2.1.3).
 *
 * MLA caches, per token and layer, the latent c_kv (d_c numbers, after its RMSNorm) and one
 * shared rotated key k_pe (d_h^R numbers). For query head h at position t and key j:
 *
 *   naive     k_nope_j = W_UK_h c_j             (decompress: d_nope x d_c per key)
 *             s_j = (q_nope . k_nope_j + q_pe . k_pe_j) * scale
 *   absorbed  q_abs   = W_UK_h^T q_nope         (once per query: d_nope x d_c)
 *             s_j = (q_abs . c_j + q_pe . k_pe_j) * scale
 *
 * Both are the same number: q_nope . (W_UK c) = (W_UK^T q_nope) . c. The engine computes the
 * absorbed form (src/engine/forward.c) and never rebuilds K. The absorption only works because
 * no position-dependent rotation sits between q_nope and W_UK: RoPE lives in the separate
 * d_h^R dims, applied to q_pe and the shared k_pe (the "decoupled" key).
 *
 * mla_head_scores recomputes one row of scores both ways from what the trace recorded (each
 * head's query as attention consumed it, the cached latents and rope keys) and the model's
 * weights, and returns the engine's own scores (trace_attn_row: the engine's formula on its
 * cache, equal to hook_attn_scores) beside them. */
#ifndef LLMSCOPE_ANALYSIS_MLA_H
#define LLMSCOPE_ANALYSIS_MLA_H
#include <stdbool.h>
#include "core/err.h"
#include "trace/trace.h"

typedef struct {
    int layer, head, pos, n_keys;      /* query position pos sees keys 0..pos */
    float *naive, *absorbed, *engine;  /* [n_keys] scaled pre-softmax scores */
    double max_diff_forms;             /* max |naive - absorbed| over the keys */
    double max_diff_engine;            /* max |absorbed - engine| */
    int max_key;                       /* key with the largest engine score */
    /* cache per token, all layers (elements per layer x layers) */
    long long elems_latent;            /* d_c + d_h^R per layer */
    long long elems_full;              /* decompressed: H (d_nope + d_h^R) keys + H d_v values */
    /* multiply-adds x 2 for one query head against n_keys cached tokens (scores only) */
    double flops_naive;                /* n_keys (2 d_nope d_c + 2 (d_nope + d_h^R)) */
    double flops_absorbed;             /* 2 d_nope d_c + n_keys 2 (d_c + d_h^R) */
    double flops_full;                 /* from a decompressed cache: n_keys 2 (d_nope + d_h^R) */
} MlaScores;

/* One row of head `head`'s scores at layer `layer` for the query at `pos` (0 <= pos < trace
 * length), both ways. The model must be MLA and the trace recorded from it. out is filled and
 * owns its arrays (mla_scores_free). */
bool mla_head_scores(const Model *m, const Trace *tr, int layer, int head, int pos, MlaScores *out, Err *e);
void mla_scores_free(MlaScores *r);
#endif
