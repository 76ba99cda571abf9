/* Derived values: the one place where what a panel shows and what a lesson quotes is computed
 * from the trace and the model. A panel and a lesson placeholder that show the same quantity
 * call the same function here, so a lesson never quotes a number the screen does not show.
 *
 * The costly ones (the embedding PCA map, nearest neighbours in the vocabulary) are cached in
 * a DerivedCache the caller owns (a panel state, the lesson values), keyed by what they read:
 * the trace's generation and the positions, or the model and the token id. A cache is plain data: zero it to start (derived_cache_init).
 */
#ifndef LLMSCOPE_ANALYSIS_DERIVED_H
#define LLMSCOPE_ANALYSIS_DERIVED_H
#include "analysis/embctx.h"
#include <stdbool.h>
#include "analysis/sampling.h"
#include "analysis/simtexts.h"
#include "trace/trace.h"

#define DERIVED_PCA_MAX 128   /* tokens on the embeddings map: the last ones up to the cursor */
#define DERIVED_NN 12         /* nearest neighbours kept */

typedef struct {
    /* the Embeddings panel's PCA at one residual layer (axes fitted on the prompt, kept while
     * stepping: analysis/embctx.h) */
    EmbCtxPca pca;
    /* the vocabulary index of nn_model (1/|E_v| cached) and the neighbours last asked for */
    VocabIndex *vi;
    const void *nn_model;
    char nn_path[512];                  /* with the pointer: a new model may reuse the address */
    int nn_id, nn_n;                    /* nn_id: the token (or -2 for a vector query) */
    int nn_ids[DERIVED_NN];
    float nn_sim[DERIVED_NN];
    /* sentence vectors of the texts view (prompt vs prompt), made on first use */
    SimCache *sim;
    /* the vocabulary index being built on a worker thread (derived_vocab_prepare) */
    struct DerivedVocabJob *job;
    /* the vocabulary map of map_model (PCA of its first map_n rows of tok_emb) once map_done;
     * map_ok false: none could be fitted. map_job: the fit under way on a worker thread */
    PcaAxes map;
    const void *map_model;
    char map_path[512];
    int map_n;
    bool map_ok, map_done;
    struct DerivedMapJob *map_job;
} DerivedCache;

void derived_cache_init(DerivedCache *dc);
/* Frees what the cache holds (the vocabulary index, the PCA axes). */
void derived_cache_done(DerivedCache *dc);

/* The Embeddings panel's PCA of the prompt at residual layer `layer` (0 = token embedding ..
 * n_layers = after the final norm), cached; NULL when it cannot be fitted (fewer than two
 * prompt tokens besides a BOS). */
const EmbCtxPca *derived_embed_pca(DerivedCache *dc, const Session *s, int layer);
/* Nearest tokens to `id` (itself excluded) by cosine similarity of the embedding rows
 * (cached). Returns how many (0: no embedding table). dc->nn_ids / nn_sim, best first. */
int derived_neighbours(DerivedCache *dc, const Model *m, int id);
/* The vocabulary index of m kept in the cache (NULL: no embedding table). */
VocabIndex *derived_vocab(DerivedCache *dc, const Model *m);
/* For a UI that must not freeze (a 152k vocabulary takes seconds under load): true when m's
 * index is ready (or m has none), else starts building it on a worker thread (once) and returns
 * false; the UI redraws while derived_background_busy() and asks again. The other functions
 * wait for a build under way. */
bool derived_vocab_prepare(DerivedCache *dc, const Model *m);
/* The same without starting anything: true when m's index is ready (or m has none); takes
 * over a build that has ended. */
bool derived_vocab_ready(DerivedCache *dc, const Model *m);
bool derived_background_busy(void);
/* How many jobs have ended so far. A UI that drew a frame while a job ran (or started one in
 * that frame) must draw once more when this has changed since the frame began: a job can end
 * before the UI asks derived_background_busy() (a small vocabulary, a descheduled UI thread). */
unsigned derived_background_ended(void);
/* Asks every job running on a worker (index builds, map fits, of every cache) to stop: each
 * checks between rows or rounds, frees what it made and ends (within milliseconds); its cache
 * stays as before the job, and the next prepare starts it again. Returns how many were asked
 * (0: none running, or all already stopping). */
int derived_background_cancel(void);
/* The same for the jobs reading model m only (a model about to be freed: scene_set_session). */
int derived_background_cancel_model(const void *m);
/* Tests: while on, a job started on a worker waits at its start (until off, or cancelled), so
 * that a test can act while it is surely running. */
void derived_background_pause(bool on);
/* Waits until no worker thread reads a model's weights (the index build, the map fit's copy
 * of the rows). Call before freeing a model that a cache may have started a job on. */
void derived_wait_model_readers(void);
/* The vocabulary map of m: PCA axes of the first n_fit rows of tok_emb (vocab_map_fit; all
 * rows when n_fit <= 0 or >= V), cached per (model, n_fit). NULL when m has no embedding table
 * or the fit failed. Waits for a fit under way, or fits at once. */
const PcaAxes *derived_vocab_map(DerivedCache *dc, const Model *m, int n_fit);
/* For a UI that must not freeze (0.5 s on a 0.6B model, more under load): true when the map
 * is ready (or cannot be made), else starts the fit on a worker thread (after the vocabulary
 * index, itself on a worker: derived_vocab_prepare) and returns false. Ask again while
 * derived_background_busy(). */
bool derived_vocab_map_prepare(DerivedCache *dc, const Model *m, int n_fit);
/* The same without starting anything (a fit that has ended is taken over). */
bool derived_vocab_map_ready(DerivedCache *dc, const Model *m, int n_fit);
/* Nearest tokens to a vector q[d_model] (skip: an id left out, -1 none); not cached. */
int derived_neighbours_vec(DerivedCache *dc, const Model *m, const float *q, int skip);
/* The Embeddings panel's texts view: the cosine matrix mat[n][n] of the texts' sentence
 * vectors at residual layer `layer` with pooling `pool` (each text run alone from position 0,
 * special tokens added as `run` does: the same simtexts_matrix as `llmscope similarity`),
 * cached per text in dc. info[n] may be NULL. False (e filled) when the texts cannot be run. */
bool derived_similarity(DerivedCache *dc, const Session *s, const SimTexts *tx, int layer, PoolKind pool,
                        double *mat, SimTextInfo *info, Err *e);
/* Texts ranked against text q by the matrix (q left out): order[n-1], most similar first. */
void derived_similarity_rank(const double *mat, int n, int q, int *order);
/* Entropy in bits of query pos's attention row at (layer, head): H = -sum p log2 p. */
double derived_attn_entropy(const Trace *tr, int pos, int layer, int head);
/* Next-token probabilities at a position over the recorded top-K (exact at T = 1 without
 * filters: p_i = exp(l_i - lse)); see sampling_preview for the tail bounds. */
int derived_next_probs(const Trace *tr, int pos, SamplePreviewCfg cfg, float probs[TRACE_TOPK], double *tail_t1, double *tail_bound);
/* The whole-vocabulary distribution at temperature T, recomputed from the position's final
 * residual through the final norm and unembedding (the logit lens of the last layer, which is
 * the model's own output). pr[vocab]. Returns the argmax id, or -1 (e filled). */
int derived_full_probs(const Model *m, const Trace *tr, int pos, double T, double *pr, Err *e);
/* Tokens kept by nucleus sampling with top-p = p (smallest set whose mass reaches p) and
 * that mass; with k > 0 instead the mass of the k most likely tokens. pr is consumed. */
long derived_top_set(double *pr, int V, double p, long k, double *mass);
/* Mean next-token loss (nats) of ids[n] under the model, scored in windows of the engine's
 * context (max_ctx; 0 = the model's) overlapping by one token, so every token after the first
 * is scored once: loss = mean over t of logsumexp(l_t) - l_t[ids[t+1]]. `llmscope eval` and
 * the {eval.*} placeholders both call it. kv_round: DT_F32, or the type every key and value
 * entering the cache is rounded through (engine_set_kv_round). */
bool derived_eval_loss(const Model *m, const int *ids, int n, int max_ctx, DType kv_round, double *loss, long *scored, Err *e);
#endif
