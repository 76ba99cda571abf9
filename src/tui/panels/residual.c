/* Residual stream panel: ||x|| for every layer x token (the recorded resid_pre of each
 * layer and the final resid_post), the norms of what attention and the MLP wrote into the
 * stream at each layer for the current token (||hook_attn_out||, ||hook_mlp_out||), and the
 * logit lens: each layer's residual read through the final norm and the unembedding
 * (analysis/logitlens.c; cached per token; in pieces between frames when the UI is interactive). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/logitlens.h"
#include "analysis/stats.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define LENS_MAX_LAYERS 160

/* Rows of the unembedding the lens multiplies per piece when the UI is interactive: 1024 rows
 * x 29 residual rows x 1024 wide is 61 MFLOP, well under a frame at any load (149 pieces for a
 * 151,936-token vocabulary); a frame takes as many as its deadline allows. */
#define LENS_PIECE 1024

typedef struct {
    unsigned long gen;         /* cache key: trace_generation, cursor, rows */
    int pos, n;
    int ids[LENS_MAX_LAYERS + 1];
    float probs[LENS_MAX_LAYERS + 1];
    bool ok;                   /* ids and probs hold the lens of the key */
    LensJob *job;              /* the lens of the key, being computed (in pieces) */
} LensRow;

typedef struct {
    LensRow lens[2];
    HeatLayout hl[2];
    int t0[2];
} ResidState;

static void *resid_create(void) { return calloc(1, sizeof(ResidState)); }
static void resid_destroy(void *st) {
    ResidState *rs = st;
    if (rs) for (int i = 0; i < 2; i++) logitlens_job_free(rs->lens[i].job);
    free(st);
}

typedef struct { const Session *s; int t0; } NormSrc;

static float norm_get(void *ud, int r, int c) {
    const NormSrc *ns = ud;
    const TraceTok *t = trace_tok(session_trace(ns->s), ns->t0 + c);
    if (!t) return NAN;
    const TraceDims *d = trace_dims(session_trace(ns->s));
    return (float)stats_norm(t->resid + (size_t)r * d->d_model, d->d_model);
}

/* The lens of the cursor's token: rows 0..L-1 are resid_pre of each layer, row L the final
 * resid_post, all through the unembedding in one pass (one GEMM; L+1 matvecs took 1.5-1.9 s per
 * step on a 151,936-token vocabulary), in pieces of LENS_PIECE rows of the unembedding until the
 * frame's deadline (ctx->more: not done yet; lr->job holds what is done). */
static void lens_update(LensRow *lr, PanelCtx *ctx, const TraceTok *t) {
    const Session *s = ctx->s;
    const TraceDims *d = trace_dims(session_trace(s));
    int L = d->n_layers < LENS_MAX_LAYERS ? d->n_layers : LENS_MAX_LAYERS;
    const unsigned long gen = trace_generation(session_trace(s));
    if (lr->gen != gen || lr->pos != session_cursor(s) || lr->n != L + 1) {
        lr->gen = gen;
        lr->pos = session_cursor(s);
        lr->n = L + 1;
        lr->ok = false;
        logitlens_job_free(lr->job);
        lr->job = NULL;
        if (L == d->n_layers) lr->job = logitlens_job_new(session_model(s), t->resid, L + 1);
        else {
            float *X = malloc(sizeof(float) * (size_t)(L + 1) * (size_t)d->d_model);
            if (!X) return;
            memcpy(X, t->resid, sizeof(float) * (size_t)L * (size_t)d->d_model);
            memcpy(X + (size_t)L * d->d_model, t->resid + (size_t)d->n_layers * d->d_model, sizeof(float) * (size_t)d->d_model);
            lr->job = logitlens_job_new(session_model(s), X, L + 1);
            free(X);
        }
        if (!lr->job) return;   /* no unembedding (or out of memory): "(no unembedding)" */
    }
    if (!lr->job) return;
    for (;;) {
        if (logitlens_job_step(lr->job, ctx->deadline > 0 ? LENS_PIECE : 0)) {
            lr->ok = logitlens_job_finish(lr->job, lr->ids, lr->probs);
            logitlens_job_free(lr->job);
            lr->job = NULL;
            return;
        }
        if (!panel_time_left(ctx)) { ctx->more = true; return; }
    }
}

/* The per-layer table's columns in w columns: the row label (lw), the attn and mlp columns (bw
 * each: a bar with its value nw wide at its right end, or without bars the value alone), the
 * logit lens' token (tok) and its probability (right-aligned in pw after a blank, when prob).
 * Widest first (labels 5, tokens 10, the probability in 7 columns); then every column at its
 * narrowest (labels as wide as "L5"/"out", bars 2 + values, tokens 8, the probability as wide as
 * the widest shown); then the values without their bars (the bars draw the same numbers); then
 * the bars without their values, then without the probability too: hidden counts what was left
 * out, for the note. */
typedef struct { int lw, bw, nw, tok, pw, hidden; bool bars, values, prob; } ResidFit;
static ResidFit resid_fit(int w, int lab, int nw, int pw) {
    ResidFit f = {.lw = lab > 5 ? lab : 5, .nw = 6, .tok = 10, .pw = 7, .bars = true, .values = true, .prob = pw > 0};
    f.bw = (w - f.lw - 22) / 2;
    if (f.bw >= 8 && w - f.lw - 2 * (f.bw + 1) > 18) return f;         /* everything at its width */
    f.lw = lab, f.nw = nw, f.pw = pw > 0 ? pw : 0, f.tok = 8;
    const int lens = f.tok + (pw > 0 ? 1 + pw : 0);
    int cols = w - f.lw - lens - 2;                                    /* both attn/mlp columns, a blank after each */
    f.bw = cols / 2;
    if (cols >= 2 * (2 + 1 + nw)) return f;
    if (cols >= 2 * (nw > 4 ? nw : 4)) { f.bars = false; return f; }
    f.values = false, f.hidden = 2;
    if (cols < 2 * 4 && cols + 2 >= 2 * 4) f.tok = 6, cols += 2, f.bw = cols / 2;
    if (cols >= 2 * 3) return f;
    if (pw > 0) f.prob = false, f.hidden = 3;
    cols = w - f.lw - f.tok - 2;
    if (cols < 2 * 3) f.tok = 6, cols = w - f.lw - f.tok - 2;
    f.bw = cols / 2 > 1 ? cols / 2 : 1;
    return f;
}

static void resid_draw(void *vst, PanelCtx *ctx) {
    ResidState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const TraceDims *d = trace_dims(session_trace(s));
    const int L = d->n_layers, sel = ctx->sel.layer;
    Rect in = panel_frame(ctx, tr("Residual stream \xc2\xb7 ||x|| per layer x token, writes, logit lens"), tr("[ ] layer  click: token/layer"));
    st->hl[ctx->side] = (HeatLayout){0};
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 20 || in.h < 5) return;
    const int q = session_cursor(s);

    /* split: heatmap on top (or left when wide), per-layer table below */
    int rows_tab = L + 2 <= in.h / 2 + 2 ? L + 2 : in.h / 2;
    bool side_by_side = in.w >= 110;
    Rect hm, tab;
    if (side_by_side) {
        int tw = 56;
        hm = rect_make(in.x, in.y, in.w - tw - 1, in.h);
        tab = rect_make(in.x + in.w - tw, in.y, tw, in.h);
    } else {
        hm = rect_make(in.x, in.y, in.w, in.h - rows_tab);
        tab = rect_make(in.x, in.y + in.h - rows_tab, in.w, rows_tab);
    }

    /* the per-layer table's columns (resid_fit): what does not fit is left out with a note on
     * the row above the table, taken from the map */
    lens_update(&st->lens[ctx->side], ctx, t);
    const LensRow *lr = &st->lens[ctx->side];
    char lmax[32];                 /* the widest row label: "L5" (English), "5 号层" */
    snprintf(lmax, sizeof lmax, tr("L%d"), L - 1);
    const int lab_need = text_width(lmax, c->unicode) + 1;
    char lout[32];
    snprintf(lout, sizeof lout, "%s", tr("out"));
    const int lab_min = text_width(lout, c->unicode) + 1 > lab_need ? text_width(lout, c->unicode) + 1 : lab_need;
    int nw = 0, pw = 0;
    for (int l = 0; l < L; l++) {
        char b[16];
        snprintf(b, sizeof b, "%.3g", (double)t->attn_out_norm[l]);
        if ((int)strlen(b) > nw) nw = (int)strlen(b);
        snprintf(b, sizeof b, "%.3g", (double)t->mlp_out_norm[l]);
        if ((int)strlen(b) > nw) nw = (int)strlen(b);
    }
    for (int l = 0; lr->ok && l < lr->n; l++) {
        char b[16];
        panel_fmt_prob((double)lr->probs[l], b, sizeof b);
        if (text_width(b, c->unicode) > pw) pw = text_width(b, c->unicode);
    }
    const ResidFit rf = resid_fit(tab.w, lab_min, nw, lr->ok ? pw : 0);
    const int lw = rf.lw;
    if (rf.hidden && !side_by_side && hm.h >= 4) {
        hm.h--;
        char names[96];
        snprintf(names, sizeof names, "%s%s%s", rf.values ? "" : tr("attn/mlp norms"), !rf.values && !rf.prob && lr->ok ? ", " : "",
                 rf.prob || !lr->ok ? "" : tr("lens probability"));
        panel_hidden_note(c, in.x, hm.y + hm.h, in.w, rf.hidden, names);
    }

    /* heatmap: rows = resid_pre of each layer + final, cols = tokens (last ones that fit) */
    if (hm.h >= 3) {
        int lab = lab_need > 4 ? lab_need : 4;
        int avail = hm.w - lab;
        int ncols = q + 1;
        int t0 = ncols > avail ? ncols - avail : 0;
        NormSrc src = {s, t0};
        HeatSpec hs = {.rows = L + 1, .cols = ncols - t0, .get = norm_get, .ud = &src, .lo = 0, .hi = 0,
                       .sel_r = sel, .sel_c = q - t0, .max_cell = 8};
        const char *xc[3] = {tr("||x|| entering each layer (rows) at each token (columns)"), tr("||x||: layer (rows) x token (columns)"),
                             tr("||x||: layer x token")};
        panel_text_pick(c, hm.x, hm.y, xc, 3, hm.w, sty(CR_DIM));
        Rect area = rect_make(hm.x + lab, hm.y + 1, avail, hm.h - 2);
        HeatLayout hl = w_heatmap(c, area, &hs);
        st->hl[ctx->side] = hl;
        st->t0[ctx->side] = t0;
        canvas_target(c, hl.used, "residual.map");
        canvas_target(c, w_heatmap_cell_rect(&hl, sel, q - t0), "residual.cell");
        /* row labels: unit l starts at half-row l*k (colour) or row l*k' (mono) */
        if (hl.k > 0 && hl.units_y == L + 1) {
            int prev = -1;
            for (int l = 0; l <= L; l++) {
                int y = area.y + (hl.half ? l * hl.k / 2 : l * (hl.k / 2 > 1 ? hl.k / 2 : 1));
                if (y >= area.y + area.h) break;
                if (y == prev) continue;            /* two layers share a text row */
                prev = y;
                char lb[32];
                if (l == L) snprintf(lb, sizeof lb, "%s", tr("out"));
                else snprintf(lb, sizeof lb, tr("L%d"), l);
                canvas_text_fit(c, hm.x, y, lb, lab - 1, l == sel ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
            }
        }
        int ly = hl.used.h > 0 ? hl.used.y + hl.used.h : hm.y + hm.h - 1;     /* right under the map */
        if (ly > hm.y + hm.h - 1) ly = hm.y + hm.h - 1;
        w_legend(c, hm.x + lab, ly, hm.w - lab < 40 ? hm.w - lab : 40, hl.lo, hl.hi, false);
    }

    /* per-layer: attention write, MLP write, logit lens */
    if (tab.h >= 2) {
        float mx = 0;
        for (int l = 0; l < L; l++) mx = fmaxf(mx, fmaxf(t->attn_out_norm[l], t->mlp_out_norm[l]));
        const int bw = rf.bw;
        /* narrow bars: "attn" and "mlp" over them (the help names hook_attn_out, hook_mlp_out);
         * each caption underlined on its own, so the columns read apart ("attn mlp") */
        const bool wide = bw + 1 > 12;
        const int lens_w = tab.w - lw - 2 * (bw + 1);
        const char *lc[3] = {tr("logit lens top-1"), tr("lens top-1"), "top-1"};
        const Style hs = sty_attr(CR_TITLE, ATTR_UNDERLINE);
        /* without bars the captions stand right-aligned, over the values */
        const int ca = rf.bars ? 0 : bw - 4, cm = rf.bars ? 0 : bw - 3;
        canvas_text_fit(c, tab.x + lw + (ca > 0 ? ca : 0), tab.y, wide ? "||attn_out||" : "attn", bw, hs);
        canvas_text_fit(c, tab.x + lw + bw + 1 + (cm > 0 ? cm : 0), tab.y, wide ? "||mlp_out||" : "mlp", bw, hs);
        canvas_text_fit(c, tab.x + lw + 2 * (bw + 1), tab.y, lc[panel_pick_fit(lc, 3, lens_w, c->unicode)], lens_w, hs);
        int shown = tab.h - 1;
        canvas_target(c, tab, "residual.lens");
        int l0 = 0;
        if (L + 1 > shown) { l0 = sel - shown / 2; if (l0 < 0) l0 = 0; if (l0 > L + 1 - shown) l0 = L + 1 - shown; }
        for (int i = 0; i < shown && l0 + i <= L; i++) {
            int l = l0 + i, y = tab.y + 1 + i;
            char lb[32];
            if (l == L) snprintf(lb, sizeof lb, "%s", tr("out"));
            else snprintf(lb, sizeof lb, tr("L%d"), l);
            bool is_sel = l == sel;
            canvas_text(c, tab.x, y, lb, is_sel ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
            canvas_target(c, rect_make(tab.x, y, tab.w, 1), "residual.lens_row:%d", l);
            if (is_sel) canvas_target(c, rect_make(tab.x, y, tab.w, 1), "residual.lens_row");
            if (l < L) {
                char na[16], nm[16];
                snprintf(na, sizeof na, "%.3g", (double)t->attn_out_norm[l]);
                snprintf(nm, sizeof nm, "%.3g", (double)t->mlp_out_norm[l]);
                Bar ba = {NULL, t->attn_out_norm[l], na, sty(CR_TITLE), false};
                Bar bm = {NULL, t->mlp_out_norm[l], nm, sty(CR_WARN), false};
                if (rf.bars) {
                    w_bars(c, rect_make(tab.x + lw, y, bw, 1), &ba, 1, mx, 0, rf.values ? rf.nw : 0);
                    w_bars(c, rect_make(tab.x + lw + bw + 1, y, bw, 1), &bm, 1, mx, 0, rf.values ? rf.nw : 0);
                } else {                                /* the values alone, right-aligned */
                    canvas_text(c, tab.x + lw + bw - (int)strlen(na), y, na, sty(CR_TITLE));
                    canvas_text(c, tab.x + lw + 2 * bw + 1 - (int)strlen(nm), y, nm, sty(CR_WARN));
                }
            }
            if (lr->ok && l < lr->n) {
                /* label in rf.tok columns by display width (a CJK token is 2 columns a
                 * character), the probability after it, right-aligned in rf.pw columns */
                char tl[40], pr[16];
                panel_tok_label(s, lr->ids[l], tl, sizeof tl, rf.tok, c->unicode);
                panel_fmt_prob((double)lr->probs[l], pr, sizeof pr);
                Style ts = l == L ? sty_attr(CR_GOOD, ATTR_BOLD) : sty(CR_TEXT);
                int x0 = tab.x + lw + 2 * (bw + 1), room = tab.w - lw - 2 * (bw + 1);
                canvas_text_fit(c, x0, y, tl, room < rf.tok ? room : rf.tok, ts);
                int w = text_width(pr, c->unicode);
                if (rf.prob) canvas_text_fit(c, x0 + rf.tok + 1 + rf.pw - w, y, pr, w, ts);
            } else if (l == l0 && lr->job) {   /* in pieces between frames: how far */
                char pc[2][64];
                const int pct = (int)(100.0 * logitlens_job_done(lr->job) / logitlens_job_total(lr->job));
                snprintf(pc[0], sizeof pc[0], tr("computing: %d%%"), pct);
                snprintf(pc[1], sizeof pc[1], "%d%%", pct);
                const char *pcc[2] = {pc[0], pc[1]};
                panel_text_pick(c, tab.x + lw + 2 * (bw + 1), y, pcc, 2, tab.w - lw - 2 * (bw + 1), sty(CR_DIM));
            } else if (l == l0) {
                canvas_text_fit(c, tab.x + lw + 2 * (bw + 1), y, tr("(no unembedding)"), tab.w - lw - 2 * (bw + 1), sty(CR_DIM));
            }
        }
    }
}

static bool resid_click(void *vst, const Scene *sc, int side, int x, int y, int button, PanelClick *out) {
    ResidState *st = vst;
    int r, c;
    if (button != MB_LEFT || !w_heatmap_hit(&st->hl[side], x, y, &r, &c)) return false;
    out->side = side;
    out->pos = st->t0[side] + c;
    if (r < session_model(sc->ses[side])->spec.n_layers) out->layer = r;
    return true;
}

const PanelClass panel_residual = {
    .name = "residual", .title = N_("Residual"), .tab = N_("Resid"),
    .create = resid_create, .destroy = resid_destroy, .draw = resid_draw, .click = resid_click,
    .help = N_("Rows: the residual stream entering each layer (hook_resid_pre) and the final\n"
            "resid_post; columns: tokens. Bars: ||hook_attn_out|| and ||hook_mlp_out||,\n"
            "what each sublayer added at the current token.\n"
            "Logit lens: W_U norm_f(x) of each layer's residual: the token the model\n"
            "would predict if it stopped there (the 'out' row is the real prediction)."),
    .hint = N_("[ ] layer"),
};
