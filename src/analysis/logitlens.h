/* Logit lens (nostalgebraist 2020): read an intermediate residual stream vector as if it
 * were the last one, through the model's final norm and unembedding:
 *   logits = W_U · norm_f(x),   p = softmax(logits)
 * using the model's own weights and the engine's kernels (16-bit weights are widened to
 * f32), so the lens of the final residual equals the model's real logits. */
#ifndef LLMSCOPE_LOGITLENS_H
#define LLMSCOPE_LOGITLENS_H
#include <stdbool.h>
#include "model/model.h"

/* Top-k ids and probabilities of x[d_model]. scratch must hold vocab + d_model floats.
 * Returns false when the model has no unembedding (config only). */
bool logitlens_topk(const Model *m, const float *x, int k, int *ids, float *probs, float *scratch);
/* Top-1 id and probability of each of the n rows X[n][d_model], with one pass over the
 * unembedding (the packed GEMM) instead of n matvecs: the Residual panel's lens over every
 * layer. Allocates n x (vocab + d_model) floats. False when the model has no unembedding or
 * out of memory. */
bool logitlens_top1_rows(const Model *m, const float *X, int n, int *ids, float *probs);
/* The tail of logitlens_top1_rows: for each of the n rows of logits[n][V], the first id of the
 * largest value (NaN skipped; -1 when the row is all NaN) and its softmax probability. The rows
 * run as tasks on the engine's pool (engine/pool.h), each computed as on one thread, so the
 * result is the same for any thread count. */
void logitlens_top1_of_logits(const float *logits, int n, int V, int *ids, float *probs);
#endif
