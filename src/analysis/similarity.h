/* Contextual embeddings and sentence similarity (the retrieval step of RAG, made visible).
 *
 * "Layer" here counts residual-stream snapshots, not blocks: for a model with L blocks,
 *   layer 0      = blocks.0.hook_resid_pre   (token embedding, plus learned positions if any)
 *   layer l      = blocks.{l-1}.hook_resid_post, for 1 <= l < L
 *   layer L      = ln_final.hook_normalized  (the last residual after the final norm: what
 *                  the unembedding reads)
 * so layer 0 is context-free (the same token always gives the same vector) and every later
 * layer has mixed in the tokens before it.
 *
 * A sentence vector pools one text's rows at one layer: POOL_MEAN averages the rows from
 * `first` on (callers skip a BOS the encoder put in front, whose vector is the same for every
 * text and would pull all cosines up), POOL_LAST takes the last row (in a causal model the only
 * position that has seen the whole text).  cosine(a, b) = a·b / (|a| |b|), in double.
 */
#ifndef LLMSCOPE_SIMILARITY_H
#define LLMSCOPE_SIMILARITY_H
#include <stdbool.h>
#include "engine/hooks.h"

typedef enum { POOL_MEAN = 0, POOL_LAST } PoolKind;

/* "mean" | "last" -> kind; false if neither. */
bool pool_parse(const char *s, PoolKind *out);
const char *pool_name(PoolKind k);

/* The hook point and block index holding residual layer l (0..n_layers) as described above.
 * False if l is out of range. */
bool embed_layer_point(int n_layers, int l, HookPoint *point, int *block);

/* out[d] = pooled vector of rows[first..n) of rows[n][d] (POOL_LAST ignores first).
 * False if there is no row to pool. */
bool similarity_pool(const float *rows, int n, int d, int first, PoolKind pool, double *out);

/* Cosine of two d-vectors; 0 when either has zero norm. */
double similarity_cosine(const double *a, const double *b, int d);

/* out[n][n] cosine matrix of vecs[n][d] (symmetric; exactly 1 on the diagonal and between
 * identical rows, for nonzero vectors). */
void similarity_matrix(const double *vecs, int n, int d, double *out);

/* Indices of the other rows of a cosine matrix, most similar first (row `q` of out[n][n]);
 * writes n-1 indices into order. */
void similarity_rank(const double *mat, int n, int q, int *order);
#endif
