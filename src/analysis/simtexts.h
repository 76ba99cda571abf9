/* Sentence vectors of whole texts and their cosine matrix (prompt vs prompt): the one function
 * `llmscope similarity`, the Embeddings panel's texts view and the {sim.*} lesson placeholders
 * all call, so the screen, the narration and the CLI show the same numbers.
 *
 * Each text is tokenized as `run` does (session_encode, special tokens unless add_bos is
 * false) and runs alone from position 0 through a scratch engine (the session's own engine
 * and trace are never touched). One forward pass captures the residual rows of every layer
 * (0 = token embedding .. n_layers = after the final norm, analysis/similarity.h), and both
 * pooled vectors (mean with a leading BOS left out, last) are kept for every layer, so
 * changing the layer or the pooling never runs the model again.
 *
 * Memory is bounded: at most max_texts texts are kept per cache (least recently used
 * dropped first; the TUI and the lessons keep SIMCACHE_MAX), each 2 x (n_layers + 1) x d_model doubles (Qwen3-0.6B: 475 KB per text).
 * The cache is keyed by the model (pointer and path) and the exact text; another model
 * empties it. No engine is kept between calls (one is made for the texts not yet cached and
 * freed before returning), so a cache never outlives or points into a freed model.
 */
#ifndef LLMSCOPE_SIMTEXTS_H
#define LLMSCOPE_SIMTEXTS_H
#include <stdbool.h>
#include "analysis/similarity.h"
#include "session/session.h"

#define SIMCACHE_MAX 16
#define SIM_TEXTS_MAX 8       /* texts the TUI and the lessons compare at once */
#define SIM_TEXT_CAP 160      /* bytes of one such text, with the NUL */

/* The texts compared in the TUI (plain data: the scene keeps one, copied by value). */
typedef struct {
    int n;
    char text[SIM_TEXTS_MAX][SIM_TEXT_CAP];
} SimTexts;

typedef struct SimCache SimCache;
/* A cache of at most max_texts texts (< 1: SIMCACHE_MAX); one call compares at most that many. */
SimCache *simcache_new(int max_texts);
void simcache_free(SimCache *c);
/* Texts run through the model so far (every cache miss; tests check hits stay hits). */
long simcache_runs(const SimCache *c);

typedef struct {
    int n_tokens;             /* tokens the text became (special tokens included) */
    int pooled_from;          /* first row pooled (mean), or the row taken (last) */
} SimTextInfo;

/* mat[n][n] = cosines of the n texts' sentence vectors at residual layer `layer` with the
 * pooling `pool` (symmetric, diagonal exactly 1 for a nonzero vector); info[n] (may be NULL)
 * says how each text was tokenized and pooled. vecs (may be NULL) receives the pooled
 * vectors [n][d_model]. False (e names the text and what to do) on an empty text without a
 * BOS, a layer outside 0..n_layers, a text longer than the model's context, or no memory. */
bool simtexts_matrix(SimCache *c, Model *m, const struct Tokenizer *tok, const char *const *texts, int n,
                     bool add_bos, int layer, PoolKind pool, double *mat, SimTextInfo *info, double *vecs, Err *e);
#endif
