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
/* logitlens_top1_rows in pieces, so a UI can answer keys between them (the Residual panel at a
 * real vocabulary: 29 rows x 151,936 took 0.7-1.2 s at load 10 on 2 cores): job_new puts the n
 * rows through the final norm (NULL: no unembedding, or out of memory); each job_step multiplies
 * the next `rows` rows of the unembedding (0: all the rest) into the logits, on the pool, and
 * returns true once every row is done; job_finish (once) then gives what logitlens_top1_rows
 * gives (false before), the model's soft cap applied to the logits first. Every logit is the same float whatever the pieces: the GEMM sums each one over
 * d_model in the same order whichever rows of the unembedding a call covers
 * (logitlens_top1_rows of n >= 2 rows is one job in one step; of one row it is the matvec,
 * which sums in another order). */
typedef struct LensJob LensJob;
LensJob *logitlens_job_new(const Model *m, const float *X, int n);
bool logitlens_job_step(LensJob *j, int rows);
int logitlens_job_done(const LensJob *j);    /* rows of the unembedding multiplied so far */
int logitlens_job_total(const LensJob *j);   /* the vocabulary */
bool logitlens_job_finish(LensJob *j, int *ids, float *probs);
void logitlens_job_free(LensJob *j);
const float *logitlens_job_logits(const LensJob *j);   /* [n][vocab]: rows done so far (tests) */
/* The tail of logitlens_top1_rows: for each of the n rows of logits[n][V], the first id of the
 * largest value (NaN skipped; -1 when the row is all NaN) and its softmax probability. The rows
 * run as tasks on the engine's pool (engine/pool.h), each computed as on one thread, so the
 * result is the same for any thread count. */
void logitlens_top1_of_logits(const float *logits, int n, int V, int *ids, float *probs);
#endif
