/* Embeddings panel: the prompt's token embeddings (hook_embed) projected to 2-D by PCA
 * (derived_embed_pca: GSL SVD) on a braille scatter with token labels, their cosine
 * similarity matrix, and the nearest vocabulary neighbours of the selected token
 * (derived_neighbours: cosine over the rows of tok_emb). The lesson placeholders embed.*
 * read the same functions (analysis/derived.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/derived.h"
#include "analysis/stats.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define EMB_MAX_PTS DERIVED_PCA_MAX
#define EMB_NN DERIVED_NN

typedef struct {
    DerivedCache dc;           /* PCA map and neighbours */
    /* cosine matrix source */
    const Session *cs;
    int c0;
} EmbState;

static void *emb_create(void) { EmbState *s = calloc(1, sizeof *s); if (s) derived_cache_init(&s->dc); return s; }
static void emb_destroy(void *st) { free(st); }

static float cos_get(void *ud, int r, int c) {
    const EmbState *st = ud;
    const TraceTok *a = trace_tok(st->cs->trace, st->c0 + r), *b = trace_tok(st->cs->trace, st->c0 + c);
    if (!a || !b || !a->embed || !b->embed) return NAN;
    return stats_cosine(a->embed, b->embed, trace_dims(st->cs->trace)->d_model);
}

static void emb_draw(void *vst, PanelCtx *ctx) {
    EmbState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    Rect in = panel_frame(ctx, "Embeddings \xc2\xb7 PCA of the tokens' embeddings, similarity, neighbours", ", . select token");
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, "no tokens yet: press n to run the prompt"); return; }
    if (in.w < 24 || in.h < 5) return;
    const int q = s->cursor;
    int n, t0;
    derived_pca_window(q, &t0, &n);
    int sel = ctx->sc->view.emb_sel >= 0 && ctx->sc->view.emb_sel <= q ? ctx->sc->view.emb_sel : q;
    if (sel < t0) sel = t0;
    const TraceTok *ts = trace_tok(s->trace, sel);

    int lw = in.w >= 70 ? in.w * 55 / 100 : in.w;
    Rect left = rect_make(in.x, in.y, lw, in.h);
    Rect right = rect_make(in.x + lw + 1, in.y, in.w - lw - 1, in.h);

    /* PCA scatter */
    if (n >= 2) {
        const DerivedCache *pca = derived_embed_pca(&st->dc, s->trace, q);
        char hdr[128];
        snprintf(hdr, sizeof hdr, "PC1 %.0f%%  PC2 %.0f%% of the variance (%d tokens)", 100 * st->dc.pca_expl[0], 100 * st->dc.pca_expl[1], n);
        canvas_text_fit(c, left.x, left.y, hdr, left.w, sty(CR_DIM));
        if (pca) {
            ScatterPt pts[EMB_MAX_PTS];
            char labels[EMB_MAX_PTS][24];
            for (int i = 0; i < n; i++) {
                const TraceTok *ti = trace_tok(s->trace, t0 + i);
                int id = ti ? ti->id : -1;
                bool dup = false;
                for (int j = 0; j < i && !dup; j++) { const TraceTok *tj = trace_tok(s->trace, t0 + j); dup = tj && tj->id == id; }
                panel_tok_label(s, id, labels[i], sizeof labels[i], 10, c->unicode);
                bool is_sel = t0 + i == sel;
                Color col = ti && ti->phase == PHASE_PREFILL ? theme_color(CR_PT_PREFILL) : theme_color(CR_PT_DECODE);
                pts[i] = (ScatterPt){pca->pca_xy[2 * i], pca->pca_xy[2 * i + 1], dup && !is_sel ? NULL : labels[i], col, is_sel};
            }
            w_scatter(c, rect_make(left.x, left.y + 1, left.w, left.h - 1), pts, n, true);
        }
    } else {
        panel_message(c, left, "PCA needs at least two tokens");
    }
    if (right.w < 16) return;

    /* neighbours of the selected token */
    int y = right.y;
    if (ts) {
        derived_neighbours(&st->dc, s->model, ts->id);
        char tl[40], hdr[96];
        panel_tok_label(s, ts->id, tl, sizeof tl, 14, c->unicode);
        snprintf(hdr, sizeof hdr, "nearest to '%s' (id %d) in tok_emb", tl, ts->id);
        canvas_text_fit(c, right.x, y++, hdr, right.w, sty_attr(CR_TITLE, ATTR_BOLD));
        int rows = right.h / 2 - 1;
        if (rows > st->dc.nn_n) rows = st->dc.nn_n;
        Bar bars[EMB_NN];
        char labels[EMB_NN][32], notes[EMB_NN][12];
        for (int i = 0; i < rows; i++) {
            panel_tok_label(s, st->dc.nn_ids[i], labels[i], sizeof labels[i], 12, c->unicode);
            snprintf(notes[i], sizeof notes[i], "%.3f", (double)st->dc.nn_sim[i]);
            bars[i] = (Bar){labels[i], st->dc.nn_sim[i] > 0 ? st->dc.nn_sim[i] : 0, notes[i], sty(CR_TITLE), false};
        }
        if (!st->dc.nn_n) canvas_text_fit(c, right.x, y, "(no embedding table)", right.w, sty(CR_DIM));
        w_bars(c, rect_make(right.x, y, right.w, rows), bars, rows, 1.0f, 13, 6);
        y += rows + 1;
    }
    /* cosine similarity of the tokens' embeddings */
    int hh = right.y + right.h - y;
    if (hh >= 3) {
        int cap = c->mono || !c->unicode ? hh - 2 : 2 * (hh - 2);
        int m = n < cap ? n : cap;
        if (m > right.w) m = right.w;
        st->cs = s;
        st->c0 = q + 1 - m;
        canvas_text_fit(c, right.x, y, "cos(embed_i, embed_j), last tokens", right.w, sty(CR_DIM));
        int sr = sel - st->c0;
        HeatSpec hs = {.rows = m, .cols = m, .get = cos_get, .ud = st, .lo = -1, .hi = 1, .diverging = true,
                       .sel_r = sr >= 0 ? sr : -1, .sel_c = sr >= 0 ? sr : -1, .max_cell = 2};
        HeatLayout hl = w_heatmap(c, rect_make(right.x, y + 1, right.w, hh - 2), &hs);
        int ly = hl.used.h > 0 ? hl.used.y + hl.used.h : y + hh - 1;     /* right under the map */
        if (ly > y + hh - 1) ly = y + hh - 1;
        w_legend(c, right.x, ly, right.w < 30 ? right.w : 30, hl.lo, hl.hi, true);
    }
}

const PanelClass panel_embeddings = {
    .name = "embeddings", .title = "Embeddings", .tab = "Embed",
    .create = emb_create, .destroy = emb_destroy, .draw = emb_draw, .click = NULL,
    .help = ", .      select a token (Esc: follow the cursor)\n"
            "Left: each token's embedding row (hook_embed, d_model numbers) projected onto\n"
            "its two main directions of variation (PCA). Tokens used in similar ways\n"
            "land close together. Right: the vocabulary rows most similar (cosine) to the\n"
            "selected token, and the similarity of every pair of prompt tokens.",
    .hint = ", . select",
};
