/* Embeddings panel: the prompt's tokens as vectors at one residual layer (0 = the token
 * embedding, context-free; 1..L-1 = after that many blocks; L = after the final norm), shown
 * three ways:
 *   left   PCA of the prompt's vectors at that layer on axes fitted once on the prompt
 *          (analysis/embctx.c: decoded tokens are projected onto the same axes, so points
 *          stay put while stepping); or, with `v`, the vocabulary map: PCA of the first rows
 *          of tok_emb with the prompt's tokens placed on it;
 *   right  the vocabulary rows nearest (cosine) to the selected token's vector, and the
 *          labelled cosine matrix of the last tokens at that layer, with the value of the
 *          selected pair (row = the selected token, column = the cursor) written out.
 * Everything is read from the trace; the neighbour search and the maps are analysis/ code. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/embctx.h"
#include "analysis/derived.h"
#include "analysis/embedmap.h"
#include "tui/panel.h"
#include "tui/panels/emb_texts.h"
#include "tui/widgets/widgets.h"

#define EMB_MAX_PTS 256
#define EMB_NN 12
#define EMB_MAP_FIT 8192      /* vocabulary map: PCA of the first 8192 ids (all of a small vocabulary) */
#define EMB_MAP_DOTS 400      /* vocabulary points drawn (every k-th of the fitted ids) */

typedef struct {
    DerivedCache dc[2];        /* per side: the PCA at the layer, the vocabulary index and map, neighbours */
} EmbState;

static void *emb_create(void) {
    EmbState *s = calloc(1, sizeof *s);
    if (s) for (int i = 0; i < 2; i++) derived_cache_init(&s->dc[i]);
    return s;
}

static void emb_destroy(void *vst) {
    EmbState *s = vst;
    if (!s) return;
    for (int i = 0; i < 2; i++) derived_cache_done(&s->dc[i]);
    free(s);
}

/* The neighbours listed: of the token itself at layer 0 (its embedding row, as the lesson's
 * embed.nearest quotes), of the residual vector above it. */
static int update_nn(EmbState *st, int side, const Session *s, int pos, int layer) {
    const TraceTok *t = trace_tok(session_trace(s), pos);
    if (!t) return 0;
    if (layer == 0) return derived_neighbours(&st->dc[side], session_model(s), t->id);
    return derived_neighbours_vec(&st->dc[side], session_model(s), embctx_row(session_trace(s), pos, layer), -1);
}

static Color pt_color(const TraceTok *t) {
    return theme_color(t && t->phase == PHASE_PREFILL ? CR_PT_PREFILL : CR_PT_DECODE);
}

/* A header line in a narrow column: of the n candidate wordings (widest first), the index of
 * the first that fits w columns, or the last one (then drawn cut) when none does. */
#define EMB_HDR 160
static int emb_hdr_pick(char (*cand)[EMB_HDR], int n, int w, bool unicode) {
    const char *p[8];
    if (n > 8) n = 8;
    for (int f = 0; f < n; f++) p[f] = cand[f];
    return panel_pick_fit(p, n, w, unicode);
}

/* Left: the prompt's tokens at the layer on the fitted axes. */
static void draw_tokens_pca(EmbState *st, PanelCtx *ctx, Rect r, int layer, int sel) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const int L = session_model(s)->spec.n_layers, q = session_cursor(s);
    const EmbCtxPca *p = derived_embed_pca(&st->dc[ctx->side], s, layer);
    if (!p) p = &st->dc[ctx->side].pca;
    char lname[48], hdr[160];
    /* embctx_layer_name's words, in the UI's language */
    if (layer <= 0) snprintf(lname, sizeof lname, "%s", tr("token embedding"));
    else if (layer >= L) snprintf(lname, sizeof lname, "%s", tr("after the final norm"));
    else snprintf(lname, sizeof lname, tr("after block %d"), layer - 1);
    snprintf(hdr, sizeof hdr, tr("layer %d of %d: %s"), layer, L, lname);
    canvas_text_fit(c, r.x, r.y, hdr, r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    if (!p->ok) {
        panel_message(c, rect_make(r.x, r.y + 1, r.w, r.h - 1), tr("PCA needs at least two prompt tokens (BOS not counted)"));
        return;
    }
    /* "prompt" goes first, then the token count (the points show it) */
    const double e1 = 100 * (double)p->ax.explained[0], e2 = 100 * (double)p->ax.explained[1];
    const int nfit = p->n_fit - p->first;
    char pc[3][EMB_HDR];
    snprintf(pc[0], EMB_HDR, tr("PC1 %.1f%%  PC2 %.1f%%  fit on %d prompt tokens"), e1, e2, nfit);
    snprintf(pc[1], EMB_HDR, tr("PC1 %.1f%%  PC2 %.1f%%  fit on %d tokens"), e1, e2, nfit);
    snprintf(pc[2], EMB_HDR, "PC1 %.1f%%  PC2 %.1f%%", e1, e2);
    canvas_text_fit(c, r.x, r.y + 1, pc[emb_hdr_pick(pc, 3, r.w, c->unicode)], r.w, sty(CR_DIM));
    int t0 = p->first;
    int n = q + 1 - t0;
    if (n > EMB_MAX_PTS) { t0 = q + 1 - EMB_MAX_PTS; n = EMB_MAX_PTS; }
    ScatterPt pts[EMB_MAX_PTS];
    char labels[EMB_MAX_PTS][24];
    int m = 0;
    for (int i = 0; i < n; i++) {
        int pos = t0 + i;
        float xy[2];
        if (!embctx_project(p, s, pos, xy)) continue;
        const TraceTok *ti = trace_tok(session_trace(s), pos);
        panel_tok_label(s, ti ? ti->id : -1, labels[m], sizeof labels[m], 10, c->unicode);
        pts[m] = (ScatterPt){xy[0], xy[1], labels[m], pt_color(ti), pos == sel};
        m++;
    }
    const Rect mr = w_scatter_fit(rect_make(r.x, r.y + 2, r.w, r.h - 2), pts, m);   /* under the caption */
    w_scatter(c, mr, pts, m, true);
    canvas_target(c, mr, "embeddings.map");
}

/* Left, map mode: vocabulary rows on the map's axes (dim dots) and the prompt's tokens. */
static void draw_vocab_map(EmbState *st, PanelCtx *ctx, Rect r, int sel) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const int side = ctx->side;
    /* the interactive UI never waits for the fit: on a worker the first time (once per model),
     * and none is started once Esc cancelled one (work.cancel) until v asks again, nor for a
     * model that a load is about to replace (the switch would wait for it) */
    const bool loading = scene_load_slot(ctx->sc) == side;
    const bool hold = ctx->sc->view.emb_hold || loading;
    if (ctx->sc->chunked && !(hold ? derived_vocab_map_ready(&st->dc[side], session_model(s), EMB_MAP_FIT)
                                   : derived_vocab_map_prepare(&st->dc[side], session_model(s), EMB_MAP_FIT))) {
        char msg[200];
        int n = session_model(s)->spec.vocab_size < EMB_MAP_FIT ? session_model(s)->spec.vocab_size : EMB_MAP_FIT;
        if (loading) snprintf(msg, sizeof msg, "%s", tr("the map waits for the model being loaded"));
        else if (hold) snprintf(msg, sizeof msg, "%s", tr("vocabulary map fit cancelled: v starts it again"));
        else snprintf(msg, sizeof msg, tr("fitting the vocabulary map (PCA of %d rows of tok_emb, once per model): Esc cancels"), n);
        panel_message(c, r, msg);
        return;
    }
    VocabIndex *vi = derived_vocab(&st->dc[side], session_model(s));
    const PcaAxes *ax = derived_vocab_map(&st->dc[side], session_model(s), EMB_MAP_FIT);
    if (!vi || !ax) { panel_message(c, r, tr("no vocabulary map (no token-embedding matrix)")); return; }
    /* the widest wording that fits the column and leaves two blanks before the neighbours' header
     * beside it (80x24: one of the shorter ones) */
    char hdr[4][EMB_HDR];
    snprintf(hdr[0], EMB_HDR, tr("vocabulary map: PCA of the first %d rows of tok_emb"), ax->n_fit);
    snprintf(hdr[1], EMB_HDR, tr("vocabulary map: PCA of %d tok_emb rows"), ax->n_fit);
    snprintf(hdr[2], EMB_HDR, tr("vocabulary map: PCA of %d rows"), ax->n_fit);
    snprintf(hdr[3], EMB_HDR, "%s", tr("vocabulary map"));
    canvas_text_fit(c, r.x, r.y, hdr[emb_hdr_pick(hdr, 4, r.w - 1, c->unicode)], r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    const double e1 = 100 * ax->explained[0], e2 = 100 * ax->explained[1];
    snprintf(hdr[0], EMB_HDR, tr("PC1 %.1f%%  PC2 %.1f%%  dots: vocabulary, labels: the prompt"), e1, e2);
    snprintf(hdr[1], EMB_HDR, tr("PC1 %.1f%%  PC2 %.1f%%  dots: vocabulary"), e1, e2);
    snprintf(hdr[2], EMB_HDR, "PC1 %.1f%%  PC2 %.1f%%", e1, e2);
    canvas_text_fit(c, r.x, r.y + 1, hdr[emb_hdr_pick(hdr, 3, r.w - 1, c->unicode)], r.w, sty(CR_DIM));
    static ScatterPt pts[EMB_MAP_DOTS + EMB_MAX_PTS];
    static char labels[EMB_MAX_PTS][24];
    int m = 0, stride = ax->n_fit / EMB_MAP_DOTS > 1 ? ax->n_fit / EMB_MAP_DOTS : 1;
    float *row = malloc(sizeof(float) * (size_t)ax->d);
    if (!row) return;
    Color dot = theme_color(CR_DIM);
    for (int v = 0; v < ax->n_fit && m < EMB_MAP_DOTS; v += stride) {
        float xy[2];
        vocab_row(vi, v, row);
        pca_axes_project(ax, row, xy);
        pts[m++] = (ScatterPt){xy[0], xy[1], NULL, dot, false};
    }
    free(row);
    int q = session_cursor(s), t0 = q + 1 > EMB_MAX_PTS ? q + 1 - EMB_MAX_PTS : 0;
    for (int pos = t0, k = 0; pos <= q; pos++, k++) {
        const TraceTok *ti = trace_tok(session_trace(s), pos);
        if (!ti || !ti->embed) continue;
        float xy[2];
        pca_axes_project(ax, ti->embed, xy);
        panel_tok_label(s, ti->id, labels[k], sizeof labels[k], 10, c->unicode);
        pts[m++] = (ScatterPt){xy[0], xy[1], labels[k], pt_color(ti), pos == sel};
    }
    const Rect mr = w_scatter_fit(rect_make(r.x, r.y + 2, r.w, r.h - 2), pts, m);   /* under the caption */
    w_scatter(c, mr, pts, m, true);
    canvas_target(c, mr, "embeddings.map");
}

/* The labelled cosine matrix of the last m tokens at the layer. */
static void draw_cosines(PanelCtx *ctx, Rect r, int layer, int sel) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const int q = session_cursor(s);
    const int lab_w = 9;                       /* "12 token " */
    const int cw = 2;                          /* columns per cell */
    int m = (r.w - lab_w) / cw;
    if (m > r.h - 3) m = r.h - 3;
    if (m > q + 1) m = q + 1;
    if (m < 2) return;
    int c0 = q + 1 - m;
    if (sel < c0) sel = c0;
    /* the pair written out: the selected token against the cursor, or, when they are the same
     * token, against the most similar other token in view */
    int col = q;
    if (sel == q) {
        float best = -2;
        for (int j = c0; j < q; j++) { float v = embctx_cosine(s, layer, sel, j); if (!isnan(v) && v > best) { best = v; col = j; } }
    }
    /* the widest form that fits the column: the short "(max)" before shorter token labels,
     * the positions (the row labels show them) next, the note last; only then is it cut */
    static const struct { int lab_w; bool pos; int note; } forms[] = {
        {10, true, 2}, {10, true, 1}, {6, true, 1}, {6, false, 1}, {6, false, 0}, {3, false, 0}};
    const TraceTok *a = trace_tok(session_trace(s), sel), *b = trace_tok(session_trace(s), col);
    float v = embctx_cosine(s, layer, sel, col);
    enum { NF = sizeof forms / sizeof forms[0] };
    char line[NF][EMB_HDR];
    for (int f = 0; f < NF; f++) {
        char ta[32], tb[32], pa[16] = "", pb[16] = "";
        panel_tok_label(s, a ? a->id : -1, ta, sizeof ta, forms[f].lab_w, c->unicode);
        panel_tok_label(s, b ? b->id : -1, tb, sizeof tb, forms[f].lab_w, c->unicode);
        if (forms[f].pos) { snprintf(pa, sizeof pa, "@%d", sel); snprintf(pb, sizeof pb, "@%d", col); }
        const char *note = col == q || !forms[f].note ? "" : forms[f].note == 2 ? tr(" (most similar)") : tr(" (max)");
        snprintf(line[f], EMB_HDR, "cos(%s%s, %s%s) = %.3f%s", ta, pa, tb, pb, (double)v, note);
    }
    canvas_text_fit(c, r.x, r.y, line[emb_hdr_pick(line, NF, r.w, c->unicode)], r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    /* column header: position numbers, last digit under each cell (tens shown at multiples of 10) */
    int y = r.y + 1;
    canvas_text_fit(c, r.x, y, tr("pos"), lab_w, sty(CR_DIM));
    for (int j = 0; j < m; j++) {
        char d[4];
        int pos = c0 + j;
        snprintf(d, sizeof d, "%d", pos % 10 == 0 ? (pos / 10) % 10 : pos % 10);
        canvas_text(c, r.x + lab_w + j * cw, y, d, pos == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : pos % 10 == 0 ? sty_attr(CR_TEXT, ATTR_UNDERLINE) : sty(CR_DIM));
    }
    y++;
    for (int i = 0; i < m; i++, y++) {
        int pi = c0 + i;
        const TraceTok *ti = trace_tok(session_trace(s), pi);
        char tl[24], lab[40];
        panel_tok_label(s, ti ? ti->id : -1, tl, sizeof tl, 5, c->unicode);
        snprintf(lab, sizeof lab, "%2d %s", pi % 100, tl);
        canvas_text_fit(c, r.x, y, lab, lab_w - 1, pi == sel ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_TEXT));
        for (int j = 0; j < m; j++) {
            float cv = embctx_cosine(s, layer, pi, c0 + j);
            const char *g = NULL;
            Style st = w_ramp_style(c, isnan(cv) ? 0 : cv, true, &g);
            bool mark = pi == sel && c0 + j == col;
            if (mark) st.attr |= ATTR_REVERSE;
            if (mark) canvas_target(c, rect_make(r.x + lab_w + j * cw, y, cw, 1), "embeddings.cell");
            for (int k = 0; k < cw; k++) canvas_text(c, r.x + lab_w + j * cw + k, y, mark && k == 0 && (c->mono || !c->unicode) ? "&" : g, st);
        }
    }
    canvas_target(c, rect_make(r.x, r.y, r.w, y - r.y), "embeddings.matrix");
    if (y < r.y + r.h) w_legend(c, r.x + lab_w, y, r.w - lab_w < 30 ? r.w - lab_w : 30, -1, 1, true);
}

static void emb_draw(void *vst, PanelCtx *ctx) {
    EmbState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const Scene *sc = ctx->sc;
    Rect in = panel_frame(ctx, sc->view.emb_texts ? tr("Embeddings \xc2\xb7 texts compared as sentence vectors (retrieval)")
                                                  : tr("Embeddings \xc2\xb7 the prompt's vectors at a layer, neighbours, similarity"),
                          sc->view.emb_texts ? tr(", . query  - + layer  p pool  t tokens  E edit") : tr(", . token  - + layer  v map  t texts"));
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 24 || in.h < 6) return;
    const int L = session_model(s)->spec.n_layers, q = session_cursor(s);
    int layer = sc->view.emb_layer < 0 ? 0 : sc->view.emb_layer > L ? L : sc->view.emb_layer;
    int sel = sc->view.emb_sel >= 0 && sc->view.emb_sel <= q ? sc->view.emb_sel : q;
    if (sc->view.emb_texts) { emb_texts_draw(&st->dc[ctx->side], ctx, in, layer); return; }
    /* the interactive UI never waits for the vocabulary index: built on a worker the first time;
     * once Esc cancelled it (work.cancel) none is started until v asks again, nor for a model that
     * a load is about to replace, and the panel shows what needs no index */
    bool have_index = true;
    if (sc->chunked && (sc->view.emb_hold || scene_load_slot(sc) == ctx->side)) have_index = derived_vocab_ready(&st->dc[ctx->side], session_model(s));
    else if (sc->chunked && !derived_vocab_prepare(&st->dc[ctx->side], session_model(s))) {
        char msg[200];
        snprintf(msg, sizeof msg, tr("indexing the vocabulary for the neighbours and the map (%d tokens, once per model): Esc cancels"),
                 session_model(s)->spec.vocab_size);
        panel_message(c, in, msg);
        return;
    }

    int lw = in.w >= 70 ? in.w * 52 / 100 : in.w;
    Rect left = rect_make(in.x, in.y, lw, in.h);
    Rect right = rect_make(in.x + lw + 1, in.y, in.w - lw - 1, in.h);
    if (sc->view.emb_map) draw_vocab_map(st, ctx, left, sel);
    else draw_tokens_pca(st, ctx, left, layer, sel);
    if (right.w < 18) return;

    /* neighbours of the selected token's vector */
    int y = right.y;
    int nn_n = have_index ? update_nn(st, ctx->side, s, sel, layer) : 0;
    const DerivedCache *dc = &st->dc[ctx->side];
    const TraceTok *ts = trace_tok(session_trace(s), sel);
    /* the widest wording that fits: "rows" goes first, then the layer (the left header shows
     * it) or the id, then the token label shortens; only then is it cut */
    char hdr[4][EMB_HDR];
    const int tid = ts ? ts->id : -1;
    for (int f = 0; f < 4; f++) {
        char tl[40];
        panel_tok_label(s, tid, tl, sizeof tl, f < 3 ? 14 : 8, c->unicode);
        if (f == 0 && layer == 0) snprintf(hdr[f], EMB_HDR, tr("tok_emb rows nearest to '%s' (id %d)"), tl, tid);
        else if (f == 0) snprintf(hdr[f], EMB_HDR, tr("tok_emb rows nearest to '%s'@%d at layer %d"), tl, sel, layer);
        else if (f == 1 && layer == 0) snprintf(hdr[f], EMB_HDR, tr("tok_emb nearest to '%s' (id %d)"), tl, tid);
        else if (f == 1) snprintf(hdr[f], EMB_HDR, tr("tok_emb nearest to '%s'@%d at layer %d"), tl, sel, layer);
        else if (layer == 0) snprintf(hdr[f], EMB_HDR, tr("tok_emb nearest to '%s'"), tl);
        else snprintf(hdr[f], EMB_HDR, tr("tok_emb nearest to '%s'@%d"), tl, sel);
    }
    canvas_text_fit(c, right.x, y++, hdr[emb_hdr_pick(hdr, 4, right.w, c->unicode)], right.w, sty_attr(CR_TITLE, ATTR_BOLD));
    int rows = (right.h - 1) / 2 - 1;
    if (rows > nn_n) rows = nn_n;
    if (rows < 0) rows = 0;
    Bar bars[EMB_NN];
    char labels[EMB_NN][32], notes[EMB_NN][12];
    for (int i = 0; i < rows; i++) {
        float v = dc->nn_sim[i];
        panel_tok_label(s, dc->nn_ids[i], labels[i], sizeof labels[i], 12, c->unicode);
        snprintf(notes[i], sizeof notes[i], "%.3f", (double)v);
        bars[i] = (Bar){labels[i], v > 0 ? v : 0, notes[i], sty(CR_TITLE), false};
    }
    if (!have_index)
        canvas_text_fit(c, right.x, y, scene_load_slot(sc) == ctx->side ? tr("(neighbours after the load)") : tr("(indexing cancelled: v starts it)"),
                        right.w, sty(CR_DIM));
    else if (!nn_n) canvas_text_fit(c, right.x, y, tr("(no embedding table)"), right.w, sty(CR_DIM));
    w_bars(c, rect_make(right.x, y, right.w, rows), bars, rows, 1.0f, 13, 6);
    canvas_target(c, rect_make(right.x, y - 1, right.w, rows + 1), "embeddings.neighbours");
    y += rows + 1;
    if (right.y + right.h - y >= 5) draw_cosines(ctx, rect_make(right.x, y, right.w, right.y + right.h - y), layer, sel);
}

const PanelClass panel_embeddings = {
    .name = "embeddings", .title = N_("Embeddings"), .tab = N_("Embed"),
    .create = emb_create, .destroy = emb_destroy, .draw = emb_draw, .click = NULL,
    .help = N_(", .      select a token (Esc: follow the cursor)\n"
            "- +      residual layer down / up (0 = token embedding, L = after the final norm)\n"
            "0        back to layer 0\n"
            "v        the prompt's tokens / the vocabulary map\n"
            "Esc      while the vocabulary is indexed or its map fitted: cancel (v again)\n"
            "t        texts view: texts compared as sentence vectors (E edits them)\n"
            "p        texts view: mean / last-token pooling; , . choose the query\n"
            "Left: each token's vector at the chosen layer projected onto the prompt's two\n"
            "main directions of variation (PCA). The axes are fitted once on the prompt (a\n"
            "leading BOS left out); new tokens are placed on the same axes. At layer 0 a\n"
            "token always lands on the same point; higher up, its context moves it.\n"
            "Right: the vocabulary rows closest (cosine) to the selected vector, and the\n"
            "cosine of every pair of the last tokens at that layer.\n"
            "The matrix's cell in reverse video ('&' in ASCII or without colour) is the pair\n"
            "written out above it: the selected token's row against the cursor's column, or,\n"
            "when the cursor's own token is selected, against its most similar token in view.\n"
            "Texts view: each text runs alone; its vectors at the layer are pooled into one\n"
            "sentence vector; the matrix is their cosines and the list ranks the texts\n"
            "against the query, as retrieval (RAG) does, with layer 0 beside it."),
    .hint = N_(", . token  - + layer  v map  t texts"),
};
