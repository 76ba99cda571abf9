/* Maps of embedding spaces: PCA axes that stay put, a vocabulary map and a fast
 * nearest-neighbour search over the token-embedding matrix.
 *
 * PcaAxes: the two leading principal directions of a set of rows, fitted once and then used
 * to project any further vector, so points do not jump while the cursor moves or new tokens
 * are decoded (a refit would rotate and flip the whole picture). Signs are fixed by the data
 * alone: each direction is flipped so that its largest-magnitude coefficient is positive.
 * fit: Xc = X - mean; directions = right singular vectors of Xc (GSL SVD);
 * explained[k] = S_k^2 / sum S^2.
 *
 * VocabIndex: the embedding matrix E[V, d] (in its stored dtype) with 1/|E_v| precomputed, so
 * the neighbours of a vector q are one threaded matvec (E q, the same kernel the unembedding
 * uses) and a top-k: cos(q, E_v) = (E q)_v / (|q| |E_v|).
 *
 * The vocabulary map fits PcaAxes to the first `n_fit` token ids (byte-level BPE and
 * sentencepiece number their pieces in merge order, so low ids are roughly the most frequent
 * pieces) by subspace iteration on the centred rows: V <- orth(Xc^T (Xc V)), then a 2x2
 * Rayleigh-Ritz step orders the two directions; cheap for any vocabulary.
 *
 * Ownership: the fit and new functions allocate, pca_axes_done / vocab_index_free release; a VocabIndex
 * borrows the Tensor (the model must outlive it).
 */
#ifndef LLMSCOPE_EMBEDMAP_H
#define LLMSCOPE_EMBEDMAP_H
#include <stdatomic.h>
#include <stdbool.h>
#include "core/err.h"
#include "model/model.h"

typedef struct {
    int d;
    double *mean;         /* [d] */
    double *comp;         /* [2][d] unit directions */
    double explained[2];  /* share of the total variance */
    int n_fit;            /* rows fitted */
} PcaAxes;

/* Fits on X[n][d] (n >= 2). False on bad input or allocation failure. */
bool pca_axes_fit(PcaAxes *ax, const float *X, int n, int d);
/* out = ((x - mean)·comp0, (x - mean)·comp1) */
void pca_axes_project(const PcaAxes *ax, const float *x, float out[2]);
void pca_axes_done(PcaAxes *ax);

typedef struct VocabIndex VocabIndex;
/* Builds the index over E (rows = vocabulary). NULL + message on failure. */
VocabIndex *vocab_index_new(const Tensor *E, Err *e);
/* The same, stopping early when *stop becomes true (checked every row; NULL: never): then
 * nothing is kept and the result is NULL with "cancelled" in e. */
VocabIndex *vocab_index_build(const Tensor *E, const atomic_bool *stop, Err *e);
void vocab_index_free(VocabIndex *vi);
int vocab_index_size(const VocabIndex *vi);
int vocab_index_dim(const VocabIndex *vi);
/* The k most cosine-similar rows to q[d] (excluding id `skip`, -1 for none), best first.
 * Returns the number written (<= k). */
int vocab_neighbours(const VocabIndex *vi, const float *q, int skip, int k, int *ids, float *sims);
/* Fits the vocabulary map on the first n_fit ids (all when n_fit <= 0 or >= V):
 * vocab_map_rows then vocab_map_fit_rows. */
bool vocab_map_fit(const VocabIndex *vi, int n_fit, PcaAxes *ax, Err *e);
/* The two halves, so the costly one can run where the model is not read (a worker thread):
 * the first n_fit rows of E widened to f32, malloc'd X[*n][d] (NULL + e on failure) ... */
float *vocab_map_rows(const VocabIndex *vi, int n_fit, int *n, const atomic_bool *stop, Err *e);
/* ... and the fit on them (X is centred in place; the caller still owns and frees it).
 * stop (NULL: never) is checked between rounds: once true, the fit ends with nothing kept,
 * false and "cancelled" in e (as do the rows above, returning NULL). */
bool vocab_map_fit_rows(float *X, int n, int d, PcaAxes *ax, const atomic_bool *stop, Err *e);
/* Row v of E widened to f32 (d floats). */
void vocab_row(const VocabIndex *vi, int v, float *out);
#endif
