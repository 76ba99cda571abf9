/* FFN panel. Dense layers: the histogram of the activation entering the down projection
 * (hook_post), the share of active neurons, the most active neurons, and that share
 * across layers for this token. MoE layers: router probabilities per token x expert
 * (softmax, or sigmoid for DeepSeek-V3-style scoring, of the recorded router logits), the
 * experts chosen for the current token with their weights, and how often each expert was
 * chosen so far. A dense model's activations are recomputed per position (trace_mlp_post), the
 * selected layer's first, the other layers' for the sparkline in pieces between frames when the
 * UI is interactive (PanelCtx.deadline). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/stats.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

typedef struct {
    HeatLayout hl[2];
    int t0[2];
} FfnState;

static void *ffn_create(void) { return calloc(1, sizeof(FfnState)); }
static void ffn_destroy(void *st) { free(st); }

static int layer_width(const Session *s, int l) {
    const TraceDims *d = trace_dims(session_trace(s));
    int w = session_model(s)->w.layers ? session_model(s)->w.layers[l].d_ff : 0;
    return w > 0 && w <= d->d_ff ? w : d->d_ff;
}

/* share of |h| > 0.1 max|h| */
static float active_share(const float *h, int F, float *pos_share) {
    float mx = 0;
    for (int i = 0; i < F; i++) mx = fmaxf(mx, fabsf(h[i]));
    int a = 0, p = 0;
    for (int i = 0; i < F; i++) { if (fabsf(h[i]) > 0.1f * mx) a++; if (h[i] > 0) p++; }
    if (pos_share) *pos_share = F ? (float)p / (float)F : 0;
    return F ? (float)a / (float)F : 0;
}

typedef struct { const Session *s; int layer, t0; } RouteSrc;

static float route_get(void *ud, int r, int c) {
    const RouteSrc *rs = ud;
    const TraceTok *t = trace_tok(session_trace(rs->s), rs->t0 + r);
    const TraceDims *d = trace_dims(session_trace(rs->s));
    if (!t || !t->router) return NAN;
    const float *lg = t->router + (size_t)rs->layer * d->n_experts;
    if (session_model(rs->s)->spec.route_scoring == ROUTE_SIGMOID) return 1.0f / (1.0f + expf(-lg[c]));
    float mx = lg[0];
    for (int e = 1; e < d->n_experts; e++) mx = fmaxf(mx, lg[e]);
    double z = 0;
    for (int e = 0; e < d->n_experts; e++) z += exp((double)(lg[e] - mx));
    return (float)(exp((double)(lg[c] - mx)) / z);
}

static void draw_dense(PanelCtx *ctx, Rect in, const TraceTok *t, int l, bool shared) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const ModelSpec *sp = &session_model(s)->spec;
    const TraceDims *d = trace_dims(session_trace(s));
    const int F = layer_width(s, l);
    bool ran = !trace_mlp_post_ready(session_trace(s), session_cursor(s), l);   /* this frame's first piece */
    const float *h = trace_mlp_post(session_trace(s), session_cursor(s), l);
    if (!h || F <= 0) { panel_message(c, in, tr("no MLP activation recorded for this layer")); return; }
    static const char *AN[] = {"GELU(tanh)", "GELU", "SiLU", "ReLU"};
    float pos;
    float act = active_share(h, F, &pos);
    /* the widest wording that fits: the share of positive h goes first, then the formula (the
     * activation's name stays), then the definition of "active" (the help gives it) */
    const char *pre = shared ? tr("shared experts: ") : "", *an = AN[sp->act < 4 ? sp->act : 0];
    const char *form = sp->gated_ffn ? "act(W_gate x) * W_up x, act=" : "act(W_in x), act=";
    char ln[5][256];
    snprintf(ln[0], sizeof ln[0], tr("%sh = %s%s  F=%d  active (|h|>0.1 max): %.1f%%  h>0: %.1f%%"), pre, form, an, F, 100 * (double)act,
             100 * (double)pos);
    snprintf(ln[1], sizeof ln[1], tr("%sh = %s%s  F=%d  active (|h|>0.1 max): %.1f%%"), pre, form, an, F, 100 * (double)act);
    snprintf(ln[2], sizeof ln[2], tr("%s%s  F=%d  active (|h|>0.1 max): %.1f%%"), pre, an, F, 100 * (double)act);
    snprintf(ln[3], sizeof ln[3], tr("%s%s  F=%d  active %.1f%%"), pre, an, F, 100 * (double)act);
    snprintf(ln[4], sizeof ln[4], "%s%s  F=%d", pre, an, F);
    const char *lnc[5] = {ln[0], ln[1], ln[2], ln[3], ln[4]};
    panel_text_pick(c, in.x, in.y, lnc, 5, in.w, sty(CR_TEXT));
    canvas_target(c, rect_make(in.x, in.y, in.w, 1), "ffn.info");
    int y = in.y + 1, rest = in.h - 1;
    bool spark = rest >= 8;
    int body_h = rest - (spark ? 1 : 0);
    int lw = in.w * 6 / 10;
    if (body_h >= 3) {
        int bins = lw < 60 ? lw : 60;
        double counts[64], lo = 0, hi = 0;
        const char *hc[3] = {tr("histogram of h (log counts)"), tr("histogram of h (log)"), tr("histogram of h")};
        panel_text_pick(c, in.x, y, hc, 3, lw, sty(CR_DIM));
        if (stats_hist(h, F, bins, &lo, &hi, counts))
            w_hist(c, rect_make(in.x, y + 1, lw, body_h - 1), counts, bins, lo, hi, true, sty(CR_WARN));
        canvas_target(c, rect_make(in.x, y, lw, body_h), "ffn.hist");
        /* top neurons by |h| */
        float *ab = malloc(sizeof(float) * (size_t)F);
        if (ab) {
            for (int i = 0; i < F; i++) ab[i] = fabsf(h[i]);
            int k = body_h - 1 < 16 ? body_h - 1 : 16;
            int idx[16];
            stats_topk(ab, F, k, idx);
            Bar bars[16];
            char labels[16][16], notes[16][16];
            int nb = 0;
            for (int i = 0; i < k; i++) {
                if (idx[i] < 0) break;
                snprintf(labels[nb], sizeof labels[nb], "#%d", idx[i]);
                snprintf(notes[nb], sizeof notes[nb], "%+.3g", (double)h[idx[i]]);
                bars[nb] = (Bar){labels[nb], ab[idx[i]], notes[nb], h[idx[i]] >= 0 ? sty(CR_WARN) : sty(CR_TITLE), false};
                nb++;
            }
            Rect br = rect_make(in.x + lw + 2, y, in.w - lw - 2, body_h);
            const char *tc[2] = {tr("top neurons |h|"), tr("top |h|")};
            panel_text_pick(c, br.x, br.y, tc, 2, br.w, sty(CR_DIM));
            w_bars(c, rect_make(br.x, br.y + 1, br.w, br.h - 1), bars, nb, nb ? bars[0].value : 1, 7, 8);
            canvas_target(c, rect_make(br.x, br.y, br.w, nb + 1), "ffn.bars");
            free(ab);
        }
    }
    if (spark) {
        float sh[512];
        int L = d->n_layers < 512 ? d->n_layers : 512;
        /* every layer's activation is two matvecs over its FFN weights (28 layers of 3072 x 1024
         * on Qwen3-0.6B: 0.9-1.2 s at load 10): in pieces of a layer until the frame's deadline,
         * the layers not computed yet drawn as '·' (ctx->more: the next frame goes on) */
        for (int k = 0; k < L; k++) {
            if (!trace_mlp_post_ready(session_trace(s), session_cursor(s), k)) {
                if (ran && !panel_time_left(ctx)) {
                    sh[k] = NAN;
                    ctx->more = true;
                    continue;
                }
                ran = true;
            }
            const float *hk = trace_mlp_post(session_trace(s), session_cursor(s), k);
            sh[k] = hk ? active_share(hk, layer_width(s, k), NULL) : 0;
        }
        int x = canvas_text(c, in.x, in.y + in.h - 1, tr("active share by layer: "), sty(CR_DIM));
        w_sparkline(c, x, in.y + in.h - 1, L < in.x + in.w - x ? L : in.x + in.w - x, sh, L, 0, 1, sty(CR_WARN));
    }
}

static void draw_moe(FfnState *st, PanelCtx *ctx, Rect in, const TraceTok *t, int l) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const TraceDims *d = trace_dims(session_trace(s));
    const int E = d->n_experts, K = d->top_k, q = session_cursor(s);
    char mo[3][256];
    const char *rs = session_model(s)->spec.route_scoring == ROUTE_SIGMOID ? "sigmoid" : "softmax";
    const char *shx = session_model(s)->spec.n_shared_experts ? tr(" + shared experts") : "";
    snprintf(mo[0], sizeof mo[0], tr("MoE: %d experts, top-%d per token, %s routing%s"), E, K, rs, shx);
    snprintf(mo[1], sizeof mo[1], tr("MoE: %d experts, top-%d, %s%s"), E, K, rs, shx);
    snprintf(mo[2], sizeof mo[2], tr("MoE: %d experts, top-%d"), E, K);
    const char *moc[3] = {mo[0], mo[1], mo[2]};
    panel_text_pick(c, in.x, in.y, moc, 3, in.w, sty(CR_TEXT));
    canvas_target(c, rect_make(in.x, in.y, in.w, 1), "ffn.info");
    int lw = in.w * 6 / 10;
    Rect hm = rect_make(in.x, in.y + 1, lw, in.h - 1);
    const char *rc[4] = {tr("router p(expert) per token (rows) x expert (columns)"), tr("router p(expert): token x expert"), tr("router p(expert)"),
                         "p(expert)"};
    panel_text_pick(c, hm.x, hm.y, rc, 4, hm.w, sty(CR_DIM));
    /* rows: title, expert numbers, map, legend */
    bool half = !c->mono && c->unicode;
    int map_h = hm.h - 3;
    if (map_h < 1) return;
    int cap = half ? 2 * map_h : map_h;
    int n = q + 1 < cap ? q + 1 : cap;
    RouteSrc src = {s, l, q + 1 - n};
    /* token labels when every token gets whole text rows (as in the attention panel) */
    int lab_w = hm.w >= 24 ? 9 : 0, maxk = 6;
    if (lab_w) {
        int kx = (hm.w - lab_w) / E, ky = half ? 2 * map_h / n : 2 * (map_h / n);
        int k = kx < ky ? kx : ky;
        if (k > 6) k = 6;
        if (half) k &= ~1;
        if (k < 1 || (half && k < 2)) lab_w = 0;
        else maxk = k;
    }
    Rect area = rect_make(hm.x + lab_w, hm.y + 2, hm.w - lab_w, map_h);
    HeatSpec hs = {.rows = n, .cols = E, .get = route_get, .ud = &src, .lo = 0, .hi = 0, .sel_r = n - 1, .sel_c = -1, .max_cell = maxk};
    HeatLayout hl = w_heatmap(c, area, &hs);
    st->hl[ctx->side] = hl;
    st->t0[ctx->side] = src.t0;
    canvas_target(c, hl.used, "ffn.map");
    canvas_target(c, w_heatmap_cell_rect(&hl, n - 1, -1), "ffn.map_row");
    if (hl.k > 0 && hl.units_x == E) {         /* expert numbers over their columns */
        int next = area.x;
        for (int e = 0; e < E; e++) {
            char en[16];
            snprintf(en, sizeof en, "%d", e);
            int ex = area.x + e * hl.k;
            if (ex < next || ex + (int)strlen(en) > area.x + area.w) continue;
            next = canvas_text(c, ex, hm.y + 1, en, sty(CR_DIM)) + 1;
        }
    } else {
        canvas_text_fit(c, area.x, hm.y + 1, tr("experts 0.."), area.w, sty(CR_DIM));
    }
    if (lab_w && hl.k > 0 && hl.units_y == n && !(hl.half && (hl.k & 1))) {
        int rows_per = hl.half ? hl.k / 2 : (hl.k / 2 > 1 ? hl.k / 2 : 1);
        for (int r = 0; r < n; r++) {
            int y = area.y + r * rows_per;
            if (y >= area.y + area.h) break;
            const TraceTok *tr = trace_tok(session_trace(s), src.t0 + r);
            char tl[32];
            panel_tok_label(s, tr ? tr->id : -1, tl, sizeof tl, lab_w - 1, c->unicode);
            int tw = text_width(tl, c->unicode);
            canvas_text(c, hm.x + lab_w - 1 - tw, y, tl, src.t0 + r == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
        }
    }
    int ly = hl.used.h > 0 ? hl.used.y + hl.used.h : hm.y + hm.h - 1;
    if (ly > hm.y + hm.h - 1) ly = hm.y + hm.h - 1;
    w_legend(c, hm.x + lab_w, ly, hm.w - lab_w < 30 ? hm.w - lab_w : 30, hl.lo, hl.hi, false);
    /* chosen experts of this token */
    Rect rr = rect_make(in.x + lw + 2, in.y + 1, in.w - lw - 2, in.h - 1);
    if (rr.w < 12) return;
    const char *cc[3] = {tr("chosen for this token"), tr("chosen experts"), tr("chosen")};
    panel_text_pick(c, rr.x, rr.y, cc, 3, rr.w, sty_attr(CR_TITLE, ATTR_BOLD));
    Bar bars[16];
    char labels[16][16], notes[16][16];
    int nb = 0;
    for (int k = 0; k < K && k < 16 && k < rr.h - 3; k++) {
        int e = t->expert_idx[(size_t)l * K + k];
        float w = t->expert_w[(size_t)l * K + k];
        snprintf(labels[nb], sizeof labels[nb], tr("expert %d"), e);
        if (text_width(labels[nb], c->unicode) > (rr.w / 2 < 10 ? rr.w / 2 : 10))   /* narrow: "#5" under "chosen experts" */
            snprintf(labels[nb], sizeof labels[nb], "#%d", e);
        snprintf(notes[nb], sizeof notes[nb], "%.3f", (double)w);
        bars[nb] = (Bar){labels[nb], w, notes[nb], sty(CR_GOOD), false};
        nb++;
    }
    float wmax = 0;
    for (int i = 0; i < nb; i++) wmax = fmaxf(wmax, bars[i].value);
    w_bars(c, rect_make(rr.x, rr.y + 1, rr.w, nb), bars, nb, wmax > 0 ? wmax : 1, 10, 6);
    canvas_target(c, rect_make(rr.x, rr.y, rr.w, nb + 1), "ffn.router");
    /* load: how often each expert was chosen so far at this layer */
    int y = rr.y + 2 + nb;
    if (rr.y + rr.h - y >= 2) {
        float *load = calloc((size_t)E, sizeof(float));
        if (load) {
            for (int p = 0; p <= q; p++) {
                const TraceTok *tp = trace_tok(session_trace(s), p);
                if (!tp || !tp->expert_idx) continue;
                for (int k = 0; k < K; k++) {
                    int e = tp->expert_idx[(size_t)l * K + k];
                    if (e >= 0 && e < E) load[e] += 1;
                }
            }
            const char *lc[3] = {tr("load so far (tokens per expert)"), tr("load so far"), tr("load")};
            panel_text_pick(c, rr.x, y, lc, 3, rr.w, sty(CR_DIM));
            w_sparkline(c, rr.x, y + 1, E < rr.w ? E : rr.w, load, E < rr.w ? E : rr.w, 0, 0, sty(CR_GOOD));
            canvas_target(c, rect_make(rr.x, y, rr.w, 2), "ffn.load");
            free(load);
        }
    }
}

static void ffn_draw(void *vst, PanelCtx *ctx) {
    FfnState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const int l = ctx->sel.layer;
    bool moe = session_model(s)->w.layers && session_model(s)->w.layers[l].is_moe && trace_dims(session_trace(s))->n_experts > 0;
    char title[96];
    snprintf(title, sizeof title, tr("FFN \xc2\xb7 L%d \xc2\xb7 %s"), l, moe ? tr("mixture of experts") : tr("dense MLP"));
    Rect in = panel_frame(ctx, title, "[ ] layer");
    st->hl[ctx->side] = (HeatLayout){0};
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 24 || in.h < 4) return;
    if (moe && t->router) draw_moe(st, ctx, in, t, l);
    else draw_dense(ctx, in, t, l, false);
}

static bool ffn_click(void *vst, const Scene *sc, int side, int x, int y, int button, PanelClick *out) {
    FfnState *st = vst;
    int r, c;
    (void)sc;
    if (button != MB_LEFT || !w_heatmap_hit(&st->hl[side], x, y, &r, &c)) return false;
    out->side = side;
    out->pos = st->t0[side] + r;
    return true;
}

const PanelClass panel_ffn = {
    .name = "ffn", .title = N_("FFN"), .tab = N_("FFN"),
    .create = ffn_create, .destroy = ffn_destroy, .draw = ffn_draw, .click = ffn_click,
    .help = N_("[ ]      layer\n"
            "Dense: h is the vector the down projection reads (hook_post): most neurons\n"
            "are near zero for a given token; a few fire strongly.\n"
            "MoE: the router scores every expert; only the top-k run for each token, and\n"
            "their outputs are mixed with the shown weights."),
    .hint = N_("[ ] layer"),
};
