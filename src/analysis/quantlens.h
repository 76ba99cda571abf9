/* The quantization lens: what quantizing ONE layer's weights does, measured at ONE position.
 *
 * For layer L and a target type (Q8_0, Q4_0, Q4_K, or "as loaded"), every weight matrix of the
 * layer (attention, MLA projections, dense FFN, experts and shared experts; norms, biases and
 * the router stay) is read as loaded (widened to f32), quantized with llama.cpp's reference
 * quantizers (engine/quant.c, byte-exact with llama-quantize without an imatrix) and compared:
 *   bits per weight      8 · block bytes / block elements of each matrix's type
 *   relative error       ‖W − Q(W)‖_F / ‖W‖_F per matrix, and over the whole layer
 *   KL                   KL(P ‖ P_L) in nats of the next-token distribution after position
 *                        pos: P from the model as loaded, P_L from the same model with only
 *                        layer L's matrices replaced by their quantized blocks (the engine
 *                        runs them quantized, as it runs a GGUF file). Both are full forward
 *                        passes of ids[0..pos] through the same code path, so "as loaded"
 *                        (the layer's own bytes copied) gives KL = 0 exactly.
 * A matrix whose width is not a multiple of 256 is quantized to Q5_0 when Q4_K was asked, as
 * llama-quantize does (n_fallback); one whose width is not a multiple of the type's block is kept
 * as loaded (n_kept). Memory: one layer's quantized copy and one small engine at a time.
 * Weights already quantized (a GGUF file) are requantized from their dequantized values; the
 * error is then against the weights as loaded, not against the original checkpoint. */
#ifndef LLMSCOPE_ANALYSIS_QUANTLENS_H
#define LLMSCOPE_ANALYSIS_QUANTLENS_H
#include <stdbool.h>
#include "model/model.h"

#define QL_AS_LOADED DT_COUNT   /* the "identity" target: each matrix keeps its own type */
#define QL_MAX_MATS 24          /* named matrices listed one by one; experts are summed per kind */

typedef struct {
    char name[24];              /* "attn_q", "ffn_down", "experts.up" (all experts together) ... */
    DType from, to;             /* to == from when kept or as loaded */
    long long n;                /* weights */
    int count;                  /* matrices summed into this row (experts: E) */
    bool kept;                  /* width not a multiple of the target block: left as loaded */
    bool fallback;              /* Q4_K asked, width not a multiple of 256: Q5_0, as llama-quantize does */
    double rel_err;             /* ‖W − Q(W)‖ / ‖W‖ */
} QlMatrix;

typedef struct {
    int layer, pos;             /* pos: the next-token distribution after ids[pos] */
    DType to;                   /* target (QL_AS_LOADED for the identity) */
    int n_mat; QlMatrix mat[QL_MAX_MATS];
    int n_kept, n_fallback;
    long long n_weights;        /* in the layer's matrices */
    double bpw_loaded, bpw;     /* bits per weight of the layer's matrices, as loaded and quantized */
    double rel_err;             /* whole layer: sqrt(Σ‖ΔW‖² / Σ‖W‖²) */
    double kl;                  /* KL(P_loaded ‖ P_quantized), nats */
    int top_loaded, top_quant;  /* argmax ids */
    double p_top_loaded, p_top_quant;   /* probability of top_loaded under each */
    double max_dlogit;          /* max |Δ logit| */
    double ms;                  /* wall time of the computation (quantize + forward) */
} QuantLens;

/* Target type by name: "q8_0", "q4_0", "q4_k", "loaded" (case-insensitive). False if unknown. */
bool quantlens_type_parse(const char *name, DType *out);
const char *quantlens_type_name(DType t);   /* "Q8_0" ... or "as loaded" */

/* Computes the lens (see above) for ids[0..pos] (pos < n_ids). Returns false with e filled. */
bool quantlens_run(const Model *m, const int *ids, int n_ids, int pos, int layer, DType to, QuantLens *out, Err *e);

/* A few results kept by (model, path, ids[0..pos], layer, type); plain data, zero it to start. */
#define QL_CACHE 16
typedef struct {
    struct { const void *model; unsigned long long key; QuantLens r; bool used; unsigned long long age; } slot[QL_CACHE];
    unsigned long long clock;
    /* the baseline logits of the last (model, ids prefix): one forward saved per lens */
    const void *base_model; unsigned long long base_key; float *base_logits; int base_v;
} QuantLensCache;
/* quantlens_run through the cache (hits return at once). NULL on error (e filled). */
const QuantLens *quantlens_cached(QuantLensCache *c, const Model *m, const int *ids, int n_ids, int pos, int layer,
                                  DType to, Err *e);
void quantlens_cache_done(QuantLensCache *c);
#endif
