/* Embeddings panel, texts view (prompt vs prompt; `t`): the retrieval step of RAG made
 * visible. Each text the user entered (E, `--texts FILE`, a lesson's "texts" action) runs
 * alone from position 0; its rows at the panel's residual layer are pooled into one sentence
 * vector (mean, a leading BOS left out; or the last token's), and the panel shows
 *   top     the labelled cosine matrix of those vectors (texts numbered from 1 on both axes),
 *   bottom  the other texts ranked against the query text (`,` `.` choose it), with the
 *           cosine and rank they would get at layer 0, where nothing has been mixed in yet.
 * The numbers come from derived_similarity (analysis/derived.c), the same simtexts_matrix
 * `llmscope similarity` prints, cached per text, so changing the layer (- +) or the pooling
 * (p) never reruns a text. */
#include "tui/panels/emb_texts.h"
#include <stdio.h>
#include <string.h>
#include "core/i18n.h"
#include "tui/widgets/widgets.h"

/* Rank (1 = most similar) of text t against query q in row q of mat[n][n]. */
static int rank_of(const double *mat, int n, int q, int t) {
    int order[SIM_TEXTS_MAX];
    similarity_rank(mat, n, q, order);
    for (int r = 0; r < n - 1; r++) if (order[r] == t) return r + 1;
    return 0;
}

void emb_texts_draw(DerivedCache *dc, PanelCtx *ctx, Rect r, int layer) {
    Canvas *c = ctx->c;
    const Scene *sc = ctx->sc;
    const SimTexts *tx = &sc->view.texts;
    const int L = session_model(ctx->s)->spec.n_layers;
    const PoolKind pool = sc->view.emb_pool == POOL_LAST ? POOL_LAST : POOL_MEAN;
    char lname[48], line[256];
    /* embctx_layer_name's words, in the UI's language (as the tokens view) */
    if (layer <= 0) snprintf(lname, sizeof lname, "%s", tr("token embedding"));
    else if (layer >= L) snprintf(lname, sizeof lname, "%s", tr("after the final norm"));
    else snprintf(lname, sizeof lname, tr("after block %d"), layer - 1);
    snprintf(line, sizeof line, tr("texts at layer %d of %d (%s) \xc2\xb7 pool %s \xc2\xb7 cosine of sentence vectors"), layer, L, lname, pool == POOL_MEAN ? tr("mean") : tr("last"));
    canvas_text_fit(c, r.x, r.y, line, r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    canvas_text_fit(c, r.x, r.y + 1,
                    pool == POOL_MEAN ? tr("each text runs alone; its vector = the mean of its tokens' vectors (BOS left out)")
                                      : tr("each text runs alone; its vector = its last token's vector (the only one that saw it all)"),
                    r.w, sty(CR_DIM));
    canvas_target(c, rect_make(r.x, r.y, r.w, 2), "embeddings.texts_info");
    if (tx->n < 1) {
        panel_message(c, rect_make(r.x, r.y + 2, r.w, r.h - 2), tr("no texts yet: press E to enter two or more (or start with --texts-file FILE)"));
        return;
    }
    const int n = tx->n;
    double mat[SIM_TEXTS_MAX * SIM_TEXTS_MAX], mat0[SIM_TEXTS_MAX * SIM_TEXTS_MAX];
    SimTextInfo info[SIM_TEXTS_MAX];
    Err e = {0};
    if (!derived_similarity(dc, ctx->s, tx, layer, pool, mat, info, &e) ||
        (layer != 0 && !derived_similarity(dc, ctx->s, tx, 0, pool, mat0, NULL, &e))) {
        panel_message(c, rect_make(r.x, r.y + 2, r.w, r.h - 2), e.msg);
        return;
    }
    const int q = sc->view.emb_query >= 0 && sc->view.emb_query < n ? sc->view.emb_query : 0;

    /* the matrix: "  k " row labels, one 7-column cell per text, then the text */
    const int lab_w = 5, cw = 7;
    int y = r.y + 3;
    if (y >= r.y + r.h) return;
    canvas_text_fit(c, r.x, y - 1, tr("text"), lab_w, sty(CR_DIM));
    for (int j = 0; j < n; j++) {
        snprintf(line, sizeof line, "%6d", j + 1);
        canvas_text(c, r.x + lab_w + j * cw, y - 1, line, j == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
    }
    int tx_x = r.x + lab_w + n * cw + 1;
    for (int i = 0; i < n && y < r.y + r.h; i++, y++) {
        snprintf(line, sizeof line, "%s%2d ", i == q ? (c->unicode ? "\xe2\x96\xb8" : ">") : " ", i + 1);
        canvas_text(c, r.x, y, line, i == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_TEXT));
        for (int j = 0; j < n; j++) {
            double v = mat[i * n + j];
            const char *g = NULL;
            Style st = w_ramp_style(c, (float)v, true, &g);
            int x = r.x + lab_w + j * cw;
            if (!c->mono) canvas_text(c, x, y, g, st);   /* the colour swatch; mono reads the number */
            snprintf(line, sizeof line, "%6.3f", v);
            canvas_text(c, x + 1, y, line, i == j ? sty(CR_DIM) : (i == q ? sty_attr(CR_TEXT, ATTR_BOLD) : sty(CR_TEXT)));
        }
        if (tx_x < r.x + r.w - 4) canvas_text_fit(c, tx_x, y, tx->text[i], r.x + r.w - tx_x, i == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_TEXT));
        canvas_target(c, rect_make(r.x, y, r.w, 1), "embeddings.text:%d", i + 1);
        if (i == q) canvas_target(c, rect_make(r.x, y, r.w, 1), "embeddings.text");
    }
    canvas_target(c, rect_make(r.x, r.y + 2, r.w, y - r.y - 2), "embeddings.texts");
    if (n < 2 || y + 2 >= r.y + r.h) return;

    /* the ranking against the query, with layer 0 beside it */
    y++;
    if (layer) snprintf(line, sizeof line, tr("closest to text %d \"%s\" at layer %d (and at layer 0)"), q + 1, tx->text[q], layer);
    else snprintf(line, sizeof line, tr("closest to text %d \"%s\" at layer %d"), q + 1, tx->text[q], layer);
    canvas_text_fit(c, r.x, y++, line, r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    int order[SIM_TEXTS_MAX];
    similarity_rank(mat, n, q, order);
    const int bar_w = r.w >= 90 ? 12 : 6;
    const int y_rank = y - 1;
    const int l0_w = layer ? 22 : 0;
    for (int k = 0; k < n - 1 && y < r.y + r.h; k++, y++) {
        int t = order[k];
        double v = mat[q * n + t];
        int x = r.x;
        snprintf(line, sizeof line, "%d. %6.3f ", k + 1, v);
        x = canvas_text(c, x, y, line, k == 0 ? sty_attr(CR_TEXT, ATTR_BOLD) : sty(CR_TEXT));
        int fill = v > 0 ? (int)(v * bar_w + 0.5) : 0;
        for (int b = 0; b < bar_w; b++)
            canvas_text(c, x + b, y, b < fill ? (c->unicode ? "\xe2\x96\x88" : "#") : " ", sty(CR_TITLE));
        x += bar_w + 1;
        if (layer) {
            int r0 = rank_of(mat0, n, q, t);
            snprintf(line, sizeof line, tr("layer 0 %6.3f  #%d"), mat0[q * n + t], r0);
            canvas_text_fit(c, x, y, line, l0_w, r0 == k + 1 ? sty(CR_DIM) : sty(CR_WARN));
            x += l0_w;
        }
        snprintf(line, sizeof line, "%d %s", t + 1, tx->text[t]);
        if (x < r.x + r.w - 4) canvas_text_fit(c, x, y, line, r.x + r.w - x, sty(CR_TEXT));
        canvas_target(c, rect_make(r.x, y, r.w, 1), "embeddings.rank:%d", k + 1);
    }
    canvas_target(c, rect_make(r.x, y_rank, r.w, y - y_rank), "embeddings.ranking");
    if (y + 1 < r.y + r.h) {
        y++;
        canvas_text_fit(c, r.x, y++, tr("Retrieval (RAG) ranks documents by this cosine to the query and hands the closest to the model."), r.w, sty(CR_DIM));
    }
    if (y < r.y + r.h) {
        snprintf(line, sizeof line, "%s", tr("tokens per text:"));
        int x = canvas_text(c, r.x, y, line, sty(CR_DIM));
        for (int t = 0; t < n && x < r.x + r.w - 6; t++) {
            snprintf(line, sizeof line, " %d:%d", t + 1, info[t].n_tokens);
            x = canvas_text(c, x, y, line, sty(CR_DIM));
        }
    }
}
