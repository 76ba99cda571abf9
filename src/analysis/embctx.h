/* Contextual embeddings of a prompt, read from the trace: the residual vector of every
 * position at one residual layer (0 = token embedding .. n_layers = after the final norm, as
 * in analysis/similarity.h), their PCA on axes that stay put, and their cosine matrix.
 *
 * Axes: fitted once on the prompt's positions (the prefill), a leading BOS left out (its
 * vector is the same in every prompt and, in later layers, often far larger than the rest:
 * it would take the first axis for itself). Positions decoded later are projected onto the
 * same axes, so nothing jumps while stepping; the fit is redone only when the layer or the
 * prompt changes. The panel, the lesson placeholders and `trace --emb-layer` all go through
 * embctx_fit / embctx_project, so they show the same numbers.
 */
#ifndef LLMSCOPE_EMBCTX_H
#define LLMSCOPE_EMBCTX_H
#include <stdbool.h>
#include "analysis/embedmap.h"
#include "session/session.h"

/* Row of position pos at residual layer `layer` (NULL if not recorded or out of range). */
const float *embctx_row(const Trace *t, int pos, int layer);
/* 1 when position 0 holds the model's (or tokenizer's) BOS and more tokens follow, else 0. */
int embctx_first(const Session *s);
/* Short description of a residual layer: "token embedding", "after block 3", "after the final norm". */
const char *embctx_layer_name(int layer, int n_layers, char *buf, size_t cap);

/* Fits axes on rows[first..n_fit) of rows[.][d]: the definition shared by every caller. */
bool embctx_fit_rows(PcaAxes *ax, const float *rows, int first, int n_fit, int d);

typedef struct {
    PcaAxes ax;
    bool ok;
    const void *trace; int layer, first, n_fit, step0, id0;   /* what the fit was made on */
} EmbCtxPca;

/* (Re)fits when the trace, the layer or the prompt changed; returns ax.ok. */
bool embctx_update(EmbCtxPca *p, const Session *s, int layer);
/* xy of position pos on the fitted axes; false if the row is missing. */
bool embctx_project(const EmbCtxPca *p, const Session *s, int pos, float xy[2]);
void embctx_done(EmbCtxPca *p);
/* cos(row_i, row_j) at the layer; NAN if either row is missing. */
float embctx_cosine(const Session *s, int layer, int i, int j);
#endif
