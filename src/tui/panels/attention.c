/* Attention panel: the query x key pattern of the selected layer/head with the causal
 * mask, all heads of the layer as small multiples grouped by the KV head they share (GQA:
 * n_heads / n_kv_heads query heads per KV head), per-head entropy of the current query's
 * row, the selected cell's value, and for MLA the cached latent c_kv and rope key.
 *
 * Everything drawn is query t's hook_pattern / hook_attn_scores row as the engine computes it:
 * trace_attn_row (recomputed from the recorded query and the KV cache, cached). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/derived.h"
#include "analysis/stats.h"
#include "engine/attn.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define MAX_TILES 128

typedef struct {
    HeatLayout main[2];
    int main_q0[2];            /* first query row shown */
    Rect tiles[2][MAX_TILES];
    int n_tiles[2];
} AttnState;

typedef struct {
    const Session *s;
    int layer, head, q0;
    bool scores;
    int window;                /* the layer's sliding window (0: none) */
} AttnSrc;

static float attn_get(void *ud, int r, int c) {
    const AttnSrc *a = ud;
    int q = a->q0 + r;
    if (c > q) return NAN;                          /* causal mask: key after query */
    if (c < attn_lo(a->window, q)) return NAN;      /* before the layer's sliding window */
    const float *row = trace_attn_row(session_trace(a->s), q, a->layer, a->head, a->scores);
    if (!row) return NAN;
    float v = row[c];
    return isfinite(v) ? v : NAN;
}

static void *attn_create(void) { return calloc(1, sizeof(AttnState)); }
static void attn_destroy(void *st) { free(st); }

/* Entropy (bits) of query q's pattern row for head h. */
static void draw_tiles(AttnState *st, PanelCtx *ctx, Rect r, int layer, int q0) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const TraceDims *d = trace_dims(session_trace(s));
    const int H = d->n_heads, KV = d->n_kv_heads > 0 ? d->n_kv_heads : 1, G = H / KV > 0 ? H / KV : 1;
    const int sel = ctx->sel.head, q = session_cursor(s);
    st->n_tiles[ctx->side] = 0;
    if (r.w < 8 || r.h < 3) return;
    bool grouped = KV > 1 && KV < H;
    int label_w = grouped ? 4 : 0;
    /* tiles per row: one GQA group per row when it fits, else a near-square grid */
    int per_row = grouped ? G : (int)ceil(sqrt((double)H * 2.0));
    if (per_row > H) per_row = H;
    int tile_w = (r.w - label_w) / per_row - 1;
    if (grouped && tile_w < 6) { grouped = false; label_w = 0; per_row = (int)ceil(sqrt((double)H * 2.0)); tile_w = r.w / per_row - 1; }
    while (per_row > 1 && tile_w < 6) { per_row--; tile_w = (r.w - label_w) / per_row - 1; }
    int nrows = (H + per_row - 1) / per_row;
    int tile_h = r.h / nrows;
    if (tile_h < 2) { tile_h = 2; }
    int y = r.y;
    for (int h = 0; h < H && st->n_tiles[ctx->side] < MAX_TILES; h++) {
        int row = h / per_row, col = h % per_row;
        int ty = y + row * tile_h, tx = r.x + label_w + col * (tile_w + 1);
        if (ty + tile_h > r.y + r.h) break;
        char lab[32];
        double hb = derived_attn_entropy(session_trace(s), q, layer, h);     /* shortest form that fits the tile */
        snprintf(lab, sizeof lab, "h%d %.1fb", h, hb);
        if ((int)strlen(lab) > tile_w) snprintf(lab, sizeof lab, "h%d %.1f", h, hb);
        if ((int)strlen(lab) > tile_w) snprintf(lab, sizeof lab, "h%d", h);
        bool is_sel = h == sel;
        canvas_text_fit(c, tx, ty, lab, tile_w, is_sel ? sty_attr(CR_ACCENT, ATTR_BOLD | ATTR_UNDERLINE) : sty(CR_DIM));
        AttnSrc src = {s, layer, h, q0, ctx->sc->view.attn_scores, spec_layer_window(&session_model(s)->spec, layer)};
        HeatSpec hs = {.rows = q - q0 + 1, .cols = q + 1, .get = attn_get, .ud = &src,
                       .lo = ctx->sc->view.attn_scores ? 0 : 0, .hi = ctx->sc->view.attn_scores ? 0 : 1, .sel_r = -1, .sel_c = -1, .max_cell = 4};
        HeatLayout thl = w_heatmap(c, rect_make(tx, ty + 1, tile_w, tile_h - 1), &hs);
        if (grouped && col == 0) {               /* the KV head's name beside its row of tiles */
            char g[16];
            snprintf(g, sizeof g, "kv%d", h / G);
            int used = thl.used.h > 0 ? thl.used.h : tile_h - 1;
            canvas_text_fit(c, r.x, ty + 1 + (used - 1) / 2, g, label_w, sty(CR_DIM));
        }
        st->tiles[ctx->side][st->n_tiles[ctx->side]++] = rect_make(tx, ty, tile_w, tile_h);
        canvas_target(c, rect_make(tx, ty, tile_w, tile_h), "attention.tile:%d", h);
        if (is_sel) canvas_target(c, rect_make(tx, ty, tile_w, tile_h), "attention.tile");
    }
}

static void draw_mla(PanelCtx *ctx, Rect r, const TraceTok *t, int layer) {
    Canvas *c = ctx->c;
    const TraceDims *d = trace_dims(session_trace(ctx->s));
    if (r.h <= 0) return;
    if (t->kv_latent && d->kv_lora > 0) {
        const float *lat = t->kv_latent + (size_t)layer * d->kv_lora;
        char lab[64];
        snprintf(lab, sizeof lab, "c_kv[%d] ", d->kv_lora);
        int x = canvas_text(c, r.x, r.y, lab, sty_attr(CR_TITLE, ATTR_BOLD));
        float mn, mx;
        stats_minmax(lat, d->kv_lora, &mn, &mx);
        float m = fmaxf(fabsf(mn), fabsf(mx));
        int w = r.x + r.w - x;
        /* one column per bin of latent dims, diverging colour by the bin's mean */
        for (int i = 0; i < w && i < d->kv_lora; i++) {
            int a = (int)((long)i * d->kv_lora / w), b = (int)((long)(i + 1) * d->kv_lora / w);
            if (b <= a) b = a + 1;
            double sum = 0;
            for (int j = a; j < b; j++) sum += lat[j];
            float v = (float)(sum / (b - a));
            const char *g;
            Style s = w_ramp_style(c, m > 0 ? v / m : 0, true, &g);
            canvas_glyph(c, x + i, r.y, g, s);
        }
    }
    if (r.h > 1 && t->k_rot && d->rot_dim > 0) {
        const float *kr = t->k_rot + (size_t)layer * d->rot_dim;
        char lab[64];
        snprintf(lab, sizeof lab, tr("k_rope[%d] (shared by all heads) "), d->rot_dim);
        int x = canvas_text(c, r.x, r.y + 1, lab, sty_attr(CR_TITLE, ATTR_BOLD));
        w_sparkline(c, x, r.y + 1, r.x + r.w - x, kr, d->rot_dim, 0, 0, sty(CR_ACCENT));
    }
}

static void attn_draw(void *vst, PanelCtx *ctx) {
    AttnState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const TraceDims *d = trace_dims(session_trace(s));
    const int layer = ctx->sel.layer, head = ctx->sel.head;
    const int KV = d->n_kv_heads > 0 ? d->n_kv_heads : 1, G = d->n_heads / KV > 0 ? d->n_heads / KV : 1;
    char ttl[3][160];
    bool mla = session_model(s)->spec.attn_kind == ATTN_MLA;
    const char *kind = mla ? "MLA" : KV == d->n_heads ? "MHA" : KV == 1 ? "MQA" : "GQA";
    if (mla) snprintf(ttl[0], sizeof ttl[0], tr("Attention \xc2\xb7 L%d head %d \xc2\xb7 MLA (latent KV)"), layer, head);
    else if (KV == d->n_heads) snprintf(ttl[0], sizeof ttl[0], tr("Attention \xc2\xb7 L%d head %d \xc2\xb7 MHA"), layer, head);
    else snprintf(ttl[0], sizeof ttl[0], tr("Attention \xc2\xb7 L%d head %d \xc2\xb7 %s: kv head %d serves q %d-%d"),
                  layer, head, kind, head / G, (head / G) * G, (head / G) * G + G - 1);
    /* narrower (compare mode): the kv head the query head reads, then the kind alone */
    if (!mla && KV != d->n_heads) snprintf(ttl[1], sizeof ttl[1], tr("Attention \xc2\xb7 L%d head %d \xc2\xb7 %s kv head %d"), layer, head, kind, head / G);
    else snprintf(ttl[1], sizeof ttl[1], "%s", ttl[0]);
    snprintf(ttl[2], sizeof ttl[2], tr("Attention \xc2\xb7 L%d head %d \xc2\xb7 %s"), layer, head, kind);
    /* a layer with a sliding window says so first (Gemma 3: 5 of every 6 layers; Mistral: all) */
    /* ... and keeps saying so in a narrower panel (compare mode), before the kv head's detail */
    char ttw[3][200];
    const int win = spec_layer_window(&session_model(s)->spec, layer);
    for (int i = 0; i < 3; i++) snprintf(ttw[i], sizeof ttw[i], tr("%s \xc2\xb7 window %d"), ttl[i], win);
    const char *tc[6] = {ttw[0], ttw[1], ttw[2], ttl[0], ttl[1], ttl[2]};
    const int pick = win > 0 ? panel_pick_fit(tc, 6, ctx->r.w - 6, c->unicode) : 3 + panel_pick_fit(tc + 3, 3, ctx->r.w - 6, c->unicode);
    const char *title = tc[pick];
    Rect in = panel_frame(ctx, title, ctx->sc->view.attn_scores ? tr("v pattern  ,/. key  [ ] { }") : tr("v scores  ,/. key  [ ] { }"));
    st->n_tiles[ctx->side] = 0;
    st->main[ctx->side] = (HeatLayout){0};
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n (or Space) to run the prompt")); return; }
    if (in.w < 10 || in.h < 4) return;
    const int q = session_cursor(s);
    int sk = ctx->sel.key >= 0 && ctx->sel.key <= q ? ctx->sel.key : -1;

    /* info line: current query, entropy, selected cell */
    char qt[48], kt[48], info[256];
    panel_tok_label(s, t->id, qt, sizeof qt, 12, c->unicode);
    double ent = derived_attn_entropy(session_trace(s), q, layer, head);
    int n = snprintf(info, sizeof info, tr("query %d '%s'  H=%.2f bits (max %.2f)"), q, qt, ent, log2((double)(q + 1)));
    /* the row and its scores, copied: later rows (heatmap, tiles) reuse the trace's row cache */
    float *row = malloc(sizeof(float) * 2 * (size_t)(q + 1));
    if (!row) return;
    float *srow = row + q + 1;
    const float *pr = trace_attn_row(session_trace(s), q, layer, head, false), *sr = trace_attn_row(session_trace(s), q, layer, head, true);
    for (int j = 0; j <= q; j++) { row[j] = pr ? pr[j] : 0; srow[j] = sr ? sr[j] : -INFINITY; }
    if (sk >= 0) {
        const TraceTok *kt_ = trace_tok(session_trace(s), sk);
        panel_tok_label(s, kt_ ? kt_->id : -1, kt, sizeof kt, 10, c->unicode);
        snprintf(info + n, sizeof info - (size_t)n, tr("  \xc2\xb7 key %d '%s': p=%.3f score=%.2f"), sk, kt, (double)row[sk], (double)srow[sk]);
    }
    /* narrower: the selected key's part goes, then the entropy's maximum */
    char inf2[160], inf3[160];
    snprintf(inf2, sizeof inf2, tr("query %d '%s'  H=%.2f bits (max %.2f)"), q, qt, ent, log2((double)(q + 1)));
    snprintf(inf3, sizeof inf3, tr("query %d '%s'  H=%.2f bits"), q, qt, ent);
    const char *ic[3] = {info, inf2, inf3};
    int info_w = panel_text_pick(c, in.x, in.y, ic, 3, in.w, sty(CR_TEXT));
    canvas_target(c, rect_make(in.x, in.y, info_w, 1), "attention.info");

    /* bottom: where the current query looks (top keys) */
    int bottom_h = in.h >= 14 ? 3 : (in.h >= 10 ? 2 : 0);
    int mla_h = mla && in.h >= 12 ? 2 : 0;
    Rect body = rect_make(in.x, in.y + 1, in.w, in.h - 1 - bottom_h - mla_h);
    if (bottom_h) {
        int topn = bottom_h;
        int idx[8];
        stats_topk(row, q + 1, topn, idx);
        Rect br = rect_make(in.x, body.y + body.h + mla_h, in.w < 64 ? in.w : 64, bottom_h);
        Bar bars[8];
        char labels[8][48], notes[8][16];
        int nb = 0;
        for (int i = 0; i < topn && i < q + 1; i++) {
            if (idx[i] < 0) continue;
            const TraceTok *kt_ = trace_tok(session_trace(s), idx[i]);
            char tl[32];
            panel_tok_label(s, kt_ ? kt_->id : -1, tl, sizeof tl, 10, c->unicode);
            snprintf(labels[nb], sizeof labels[nb], "k%-3d %s", idx[i], tl);
            panel_fmt_prob((double)row[idx[i]], notes[nb], sizeof notes[nb]);
            bars[nb] = (Bar){labels[nb], row[idx[i]], notes[nb], {ramp_seq(row[idx[i]]), color_default(), 0}, idx[i] == sk};
            if (c->mono) bars[nb].style = sty(CR_TEXT);
            nb++;
        }
        w_bars(c, br, bars, nb, 1.0f, 18, 7);
        canvas_target(c, rect_make(br.x, br.y, br.w, nb), "attention.topk");
    }
    if (mla_h) {
        draw_mla(ctx, rect_make(in.x, body.y + body.h, in.w, mla_h), t, layer);
        canvas_target(c, rect_make(in.x, body.y + body.h, in.w, mla_h), "attention.mla");
    }

    /* main heatmap (left) and small multiples (right) */
    int tiles_w = body.w >= 60 ? body.w * 2 / 5 : 0;
    Rect hm = rect_make(body.x, body.y, body.w - (tiles_w ? tiles_w + 1 : 0), body.h);
    int cap_rows = c->mono || !c->unicode ? hm.h - 1 : 2 * (hm.h - 1);
    int nq = q + 1;
    int q0 = nq > cap_rows && cap_rows > 0 ? nq - cap_rows : 0;
    /* one text row per query (with its label) when the rows fit, else half blocks */
    bool labels = (nq - q0) <= hm.h - 1 && hm.w >= 24;
    int lab_w = labels ? 9 : 0;
    bool half = !c->mono && c->unicode;
    int maxk = 6;
    if (labels) {
        /* square cells of k columns x k half-rows; k even so a query fills whole text rows
         * and its label lines up */
        int kx = (hm.w - lab_w) / nq, ky = half ? 2 * (hm.h - 1) / (nq - q0) : 2 * ((hm.h - 1) / (nq - q0));
        int k = kx < ky ? kx : ky;
        if (k > 10) k = 10;                      /* big cells on a big (projected) screen */
        if (half) k &= ~1;
        if (k < 2 && half) { labels = false; lab_w = 0; }
        else maxk = k < 1 ? 1 : k;
    }
    AttnSrc src = {s, layer, head, q0, ctx->sc->view.attn_scores, spec_layer_window(&session_model(s)->spec, layer)};
    HeatSpec hs = {.rows = nq - q0, .cols = nq, .get = attn_get, .ud = &src,
                   .lo = 0, .hi = ctx->sc->view.attn_scores ? 0 : 1, .diverging = false,
                   .sel_r = q - q0, .sel_c = sk, .max_cell = maxk};
    if (sk < 0) hs.sel_r = -1;
    Rect area = rect_make(hm.x + lab_w, hm.y, hm.w - lab_w, hm.h - 1);
    HeatLayout hl = w_heatmap(c, area, &hs);
    st->main[ctx->side] = hl;
    st->main_q0[ctx->side] = q0;
    canvas_target(c, hl.used, "attention.map");
    canvas_target(c, w_heatmap_cell_rect(&hl, q - q0, -1), "attention.row");
    if (sk >= 0) {
        canvas_target(c, w_heatmap_cell_rect(&hl, -1, sk), "attention.col");
        canvas_target(c, w_heatmap_cell_rect(&hl, q - q0, sk), "attention.cell");
    }
    if (labels && hl.k > 0 && !(hl.half && (hl.k & 1))) {
        int rows_per = hl.half ? hl.k / 2 : (hl.k / 2 > 1 ? hl.k / 2 : 1);
        if (rows_per < 1) rows_per = 1;
        for (int r = 0; r < nq - q0; r++) {
            int y = hm.y + r * rows_per;
            if (y >= area.y + area.h) break;
            const TraceTok *tq = trace_tok(session_trace(s), q0 + r);
            char tl[32];
            panel_tok_label(s, tq ? tq->id : -1, tl, sizeof tl, lab_w - 1, c->unicode);
            int tw = text_width(tl, c->unicode);
            canvas_text(c, hm.x + lab_w - 1 - tw, y, tl, q0 + r == q ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
        }
    }
    char leg[64];
    snprintf(leg, sizeof leg, tr("keys 0..%d%s"), q, q0 ? tr(" (last queries)") : "");
    int ly = hm.y + hm.h - 1;
    int lx = canvas_text(c, hm.x, ly, leg, sty(CR_DIM));
    if (hm.x + hm.w - lx > 16) w_legend(c, lx + 1, ly, hm.x + hm.w - lx - 1, hl.lo, hl.hi, false);
    if (tiles_w) {
        for (int y = body.y; y < body.y + body.h; y++) canvas_glyph(c, hm.x + hm.w, y, glyph_vline(c), sty(CR_FRAME));
        draw_tiles(st, ctx, rect_make(hm.x + hm.w + 1, body.y, tiles_w, body.h), layer, q0);
    }
    free(row);
}

static bool attn_click(void *vst, const Scene *sc, int side, int x, int y, int button, PanelClick *out) {
    AttnState *st = vst;
    (void)sc;
    if (button != MB_LEFT) return false;
    int r, c;
    if (w_heatmap_hit(&st->main[side], x, y, &r, &c)) {
        const int q = st->main_q0[side] + r;
        out->side = side;
        out->pos = q;
        out->key = c <= q ? c : q;
        return true;
    }
    for (int i = 0; i < st->n_tiles[side]; i++)
        if (rect_contains(st->tiles[side][i], x, y)) { out->head = i; return true; }
    return false;
}

const PanelClass panel_attention = {
    .name = "attention", .title = N_("Attention"), .tab = N_("Attn"),
    .create = attn_create, .destroy = attn_destroy, .draw = attn_draw, .click = attn_click,
    .help = N_(", .      select the key column (Esc clears)\n"
            "v        pattern (softmax) / raw scores q\xc2\xb7k/sqrt(d)\n"
            "[ ] { }  layer / head; click a cell: query row + key, click a head tile: select it\n"
            "Hatched cells are masked: a query never sees later keys (causal mask),\n"
            "nor, in a layer with a sliding window, the keys before it.\n"
            "GQA: query heads that share one KV head are drawn on one row (kvN)."),
    .hint = N_("v ,/. [ ] { }"),
};
