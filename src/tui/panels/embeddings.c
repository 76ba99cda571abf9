/* Embeddings panel: the prompt's token embeddings (hook_embed) projected to 2-D by PCA
 * (analysis/pca.c, GSL SVD) on a braille scatter with token labels, their cosine
 * similarity matrix, and the nearest vocabulary neighbours of the selected token (cosine
 * over the rows of tok_emb, cached per token id). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/pca.h"
#include "analysis/stats.h"
#include "engine/ops.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define EMB_MAX_PTS 128
#define EMB_NN 12

typedef struct {
    /* PCA cache */
    const void *trace;
    int t0, n, step_last;
    float xy[2 * EMB_MAX_PTS];
    double expl[2];
    bool pca_ok;
    /* neighbour cache */
    const void *model;
    int nn_id, nn_n;
    int nn_ids[EMB_NN];
    float nn_sim[EMB_NN];
    /* cosine matrix source */
    const Session *cs;
    int c0;
} EmbState;

static void *emb_create(void) { EmbState *s = calloc(1, sizeof *s); if (s) s->nn_id = -1; return s; }
static void emb_destroy(void *st) { free(st); }

static float cos_get(void *ud, int r, int c) {
    const EmbState *st = ud;
    const TraceTok *a = trace_tok(st->cs->trace, st->c0 + r), *b = trace_tok(st->cs->trace, st->c0 + c);
    if (!a || !b || !a->embed || !b->embed) return NAN;
    return stats_cosine(a->embed, b->embed, trace_dims(st->cs->trace)->d_model);
}

static void update_pca(EmbState *st, const Session *s, int t0, int n) {
    const TraceTok *last = trace_tok(s->trace, t0 + n - 1);
    int step = last ? last->step : -1;
    if (st->trace == (const void *)s->trace && st->t0 == t0 && st->n == n && st->step_last == step) return;
    st->trace = s->trace;
    st->t0 = t0;
    st->n = n;
    st->step_last = step;
    st->pca_ok = false;
    const int D = trace_dims(s->trace)->d_model;
    float *X = malloc(sizeof(float) * (size_t)n * (size_t)D);
    if (!X) return;
    for (int i = 0; i < n; i++) {
        const TraceTok *t = trace_tok(s->trace, t0 + i);
        if (t && t->embed) memcpy(X + (size_t)i * D, t->embed, sizeof(float) * (size_t)D);
        else memset(X + (size_t)i * D, 0, sizeof(float) * (size_t)D);
    }
    st->pca_ok = pca_project2(X, n, D, st->xy, st->expl);
    free(X);
}

static void update_nn(EmbState *st, const Model *m, int id) {
    if (st->model == (const void *)m && st->nn_id == id) return;
    st->model = m;
    st->nn_id = id;
    st->nn_n = 0;
    const Tensor *E = &m->w.tok_emb;
    const int D = m->spec.d_model, V = E->rows;
    if (!tensor_present(E) || E->cols != D || id < 0 || id >= V) return;
    float *row = malloc(sizeof(float) * (size_t)D * 2);
    float *sims = malloc(sizeof(float) * (size_t)V);
    if (row && sims) {
        float *q = row + D;
        tensor_row_f32(E, (size_t)id * D, D, q);
        for (int v = 0; v < V; v++) {
            tensor_row_f32(E, (size_t)v * D, D, row);
            sims[v] = v == id ? -INFINITY : stats_cosine(q, row, D);
        }
        int k = EMB_NN < V - 1 ? EMB_NN : V - 1;
        int idx[EMB_NN];
        stats_topk(sims, V, k, idx);
        for (int i = 0; i < k; i++) {
            if (idx[i] < 0) break;
            st->nn_ids[st->nn_n] = idx[i];
            st->nn_sim[st->nn_n++] = sims[idx[i]];
        }
    }
    free(row);
    free(sims);
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
    int n = q + 1 < EMB_MAX_PTS ? q + 1 : EMB_MAX_PTS;
    int t0 = q + 1 - n;
    int sel = ctx->sc->view.emb_sel >= 0 && ctx->sc->view.emb_sel <= q ? ctx->sc->view.emb_sel : q;
    if (sel < t0) sel = t0;
    const TraceTok *ts = trace_tok(s->trace, sel);

    int lw = in.w >= 70 ? in.w * 55 / 100 : in.w;
    Rect left = rect_make(in.x, in.y, lw, in.h);
    Rect right = rect_make(in.x + lw + 1, in.y, in.w - lw - 1, in.h);

    /* PCA scatter */
    if (n >= 2) {
        update_pca(st, s, t0, n);
        char hdr[128];
        snprintf(hdr, sizeof hdr, "PC1 %.0f%%  PC2 %.0f%% of the variance (%d tokens)", 100 * st->expl[0], 100 * st->expl[1], n);
        canvas_text_fit(c, left.x, left.y, hdr, left.w, sty(CR_DIM));
        if (st->pca_ok) {
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
                pts[i] = (ScatterPt){st->xy[2 * i], st->xy[2 * i + 1], dup && !is_sel ? NULL : labels[i], col, is_sel};
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
        update_nn(st, s->model, ts->id);
        char tl[40], hdr[96];
        panel_tok_label(s, ts->id, tl, sizeof tl, 14, c->unicode);
        snprintf(hdr, sizeof hdr, "nearest to '%s' (id %d) in tok_emb", tl, ts->id);
        canvas_text_fit(c, right.x, y++, hdr, right.w, sty_attr(CR_TITLE, ATTR_BOLD));
        int rows = right.h / 2 - 1;
        if (rows > st->nn_n) rows = st->nn_n;
        Bar bars[EMB_NN];
        char labels[EMB_NN][32], notes[EMB_NN][12];
        for (int i = 0; i < rows; i++) {
            panel_tok_label(s, st->nn_ids[i], labels[i], sizeof labels[i], 12, c->unicode);
            snprintf(notes[i], sizeof notes[i], "%.3f", (double)st->nn_sim[i]);
            bars[i] = (Bar){labels[i], st->nn_sim[i] > 0 ? st->nn_sim[i] : 0, notes[i], sty(CR_TITLE), false};
        }
        if (!st->nn_n) canvas_text_fit(c, right.x, y, "(no embedding table)", right.w, sty(CR_DIM));
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
