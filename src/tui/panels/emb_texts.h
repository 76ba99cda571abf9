/* The Embeddings panel's texts view (prompt vs prompt): see emb_texts.c. */
#ifndef LLMSCOPE_TUI_EMB_TEXTS_H
#define LLMSCOPE_TUI_EMB_TEXTS_H
#include "analysis/derived.h"
#include "tui/panel.h"

/* Draws the cosine matrix of the scene's texts at residual layer `layer` and the ranking
 * against the query text into r, through derived_similarity (cached in dc). */
void emb_texts_draw(DerivedCache *dc, PanelCtx *ctx, Rect r, int layer);
#endif
