/* KV-cache panel: per-layer cache slots filling as tokens are appended, bytes per token
 * and in total (the engine's own count from the trace, next to the formula), the same
 * model's cache as if it were MHA / GQA / MQA / MLA (DeepSeek-V2 Table 1) and its growth
 * with context length, with a what-if context length (+ / -). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/kvcalc.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define KV_ELEM_BYTES 4        /* the engine caches f32 */

/* one colour per attention variant (MHA, GQA, MQA, MLA), from the theme */
#define VCOL(i) theme_color((ColorRole)(CR_CAT1 + (i)))


static void fmt_mib(double v, char *buf, int cap) { kv_fmt_bytes(v, buf, cap); }
static void fmt_tok(double v, char *buf, int cap) { snprintf(buf, (size_t)cap, "%.0f tok", v); }

/* A table cell "108 = d_c+d_h^R = 96+12 (d_c=4d_h, d_h^R=d_h/2)" in w columns: the assumption
 * in brackets (or after ", ") goes first (the help says the rows use assumed sizes), then the
 * symbols ("108 = 96+12"), then all but the count. */
static void kv_formula_cell(char *out, size_t cap, long long elems, const char *formula, int w, bool unicode) {
    char f[4][160], base[128];
    snprintf(f[0], sizeof f[0], "%lld = %s", elems, formula);
    snprintf(base, sizeof base, "%s", formula);
    char *q = strstr(base, " (");
    if (!q) q = strstr(base, ", ");
    if (q) *q = 0;
    snprintf(f[1], sizeof f[1], "%lld = %s", elems, base);
    const char *num = base, *eq;
    while ((eq = strstr(num, " = ")) != NULL) num = eq + 3;
    snprintf(f[2], sizeof f[2], "%lld = %s", elems, num);
    snprintf(f[3], sizeof f[3], "%lld", elems);
    const char *fc[4] = {f[0], f[1], f[2], f[3]};
    const int k = panel_pick_fit(fc, 4, w, unicode);
    snprintf(out, cap, "%s", text_width(fc[k], unicode) <= w ? fc[k] : "");   /* no room even for the count: nothing */
}

static void kv_draw(void *vst, PanelCtx *ctx) {
    (void)vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const ModelSpec *sp = &session_model(s)->spec;
    long long ctxlen = ctx->sc->view.kv_ctx > 0 ? ctx->sc->view.kv_ctx : (session_max_ctx(s) > 0 ? session_max_ctx(s) : sp->max_pos);
    char title[128];
    const KvPrec prec = (KvPrec)(ctx->sc->view.kv_prec % KVP_COUNT);
    const int pbits = kv_prec_bits(prec);
    snprintf(title, sizeof title, tr("KV cache \xc2\xb7 %s \xc2\xb7 what-if context %lld \xc2\xb7 %s"), attn_kind_name(sp->attn_kind), ctxlen,
             kv_prec_name(prec));
    Rect in = panel_frame(ctx, title, tr("+/- context  p precision  f trade-off"));
    if (in.w < 20 || in.h < 4) return;
    KvVariant v[KVA_COUNT];
    kv_variants(sp, v);
    long long own = kv_elems_actual(sp);
    const int L = sp->n_layers;
    const TraceTok *t = panel_tok(s);
    long long ntok = t ? session_cursor(s) + 1 : 0;
    char b1[32], b2[32], b3[32], line[256];
    int y = in.y;

    /* what this model stores; narrower: the sum's terms go, then the element count */
    char sto[4][256];
    const bool mla = sp->attn_kind == ATTN_MLA;
    if (mla)
        snprintf(sto[0], sizeof sto[0], tr("stores c_kv (%d) + k_rope (%d) = %lld elems/token/layer x %d B = %lld B"),
                 sp->kv_lora_rank, sp->qk_rope_head_dim, own, KV_ELEM_BYTES, own * KV_ELEM_BYTES);
    else
        snprintf(sto[0], sizeof sto[0],
                 sp->n_kv_heads == 1 ? tr("stores K,V: %d kv head x %d dims x 2 = %lld elems/token/layer x %d B = %lld B")
                                     : tr("stores K,V: %d kv heads x %d dims x 2 = %lld elems/token/layer x %d B = %lld B"),
                 sp->n_kv_heads, sp->head_dim, own, KV_ELEM_BYTES, own * KV_ELEM_BYTES);
    snprintf(sto[1], sizeof sto[1], mla ? tr("stores c_kv + k_rope: %lld elems/token/layer = %lld B") : tr("stores K,V: %lld elems/token/layer = %lld B"),
             own, own * KV_ELEM_BYTES);
    snprintf(sto[2], sizeof sto[2], mla ? tr("c_kv + k_rope per token, layer: %lld B") : tr("K,V per token, layer: %lld B"), own * KV_ELEM_BYTES);
    snprintf(sto[3], sizeof sto[3], mla ? tr("c_kv+k_rope: %lld B") : tr("K,V: %lld B"), own * KV_ELEM_BYTES);
    const char *stc[4] = {sto[0], sto[1], sto[2], sto[3]};
    canvas_target(c, rect_make(in.x, y, panel_text_pick(c, in.x, y, stc, 4, in.w, sty(CR_TEXT)), 1), "kv.stores");
    y++;
    kv_fmt_bytes(kv_bytes(own, L, ntok, KV_ELEM_BYTES), b1, sizeof b1);
    kv_fmt_bytes(kv_bytes(own, L, ctxlen, KV_ELEM_BYTES), b2, sizeof b2);
    /* the widest wording that fits: the engine's own count goes first when it says the same
     * number, then the words around the numbers (80x24: "... now  · at 512 tokens: 1.12 MiB") */
    char tot[6][256], eng[64] = "", engs[64] = "";
    if (t && t->kv_bytes) {
        kv_fmt_bytes((double)t->kv_bytes, b3, sizeof b3);
        snprintf(eng, sizeof eng, tr(" (engine: %s)"), b3);
        if (strcmp(b3, b1)) snprintf(engs, sizeof engs, "%s", eng);   /* kept while it differs */
    }
    snprintf(tot[0], sizeof tot[0], tr("%d layers x %lld tokens = %s now%s  \xc2\xb7 at %lld tokens: %s"), L, ntok, b1, eng, ctxlen, b2);
    snprintf(tot[1], sizeof tot[1], tr("%d layers x %lld tokens = %s now%s  \xc2\xb7 at %lld tokens: %s"), L, ntok, b1, engs, ctxlen, b2);
    snprintf(tot[2], sizeof tot[2], tr("%d layers x %lld tok = %s now%s \xc2\xb7 %lld tok: %s"), L, ntok, b1, engs, ctxlen, b2);
    snprintf(tot[3], sizeof tot[3], tr("%s now%s \xc2\xb7 %lld tok: %s"), b1, engs, ctxlen, b2);
    snprintf(tot[4], sizeof tot[4], tr("%s now \xc2\xb7 %lld tok: %s"), b1, ctxlen, b2);
    snprintf(tot[5], sizeof tot[5], tr("%s now"), b1);
    const char *tc[6] = {tot[0], tot[1], tot[2], tot[3], tot[4], tot[5]};
    canvas_target(c, rect_make(in.x, y, panel_text_pick(c, in.x, y, tc, 6, in.w, sty(CR_DIM)), 1), "kv.total");
    y++;
    if (sp->sliding_window > 0 && in.h >= 12) {
        /* a sliding window (Mistral; Gemma 2/3 in some layers): what a cache that keeps only the
         * window would hold; this engine keeps every key (the figures above) */
        const int nw = kv_window_layers(sp);
        char wb[32], wl[4][256];
        kv_fmt_bytes(kv_bytes_windowed(sp, own, ctxlen, KV_ELEM_BYTES), wb, sizeof wb);
        if (nw == L) snprintf(wl[0], sizeof wl[0], tr("window %d in every layer: keeping only the window, %s at %lld tokens (this engine keeps every key)"),
                              sp->sliding_window, wb, ctxlen);
        else snprintf(wl[0], sizeof wl[0], tr("window %d in %d of %d layers: keeping only the window, %s at %lld tokens (this engine keeps every key)"),
                      sp->sliding_window, nw, L, wb, ctxlen);
        snprintf(wl[1], sizeof wl[1], tr("window %d in %d of %d layers: %s at %lld tokens if only the window is kept"), sp->sliding_window, nw, L, wb, ctxlen);
        snprintf(wl[2], sizeof wl[2], tr("window %d (%d/%d layers): %s @%lld"), sp->sliding_window, nw, L, wb, ctxlen);
        snprintf(wl[3], sizeof wl[3], tr("window %d: %s"), sp->sliding_window, wb);
        const char *wc[4] = {wl[0], wl[1], wl[2], wl[3]};
        canvas_target(c, rect_make(in.x, y, panel_text_pick(c, in.x, y, wc, 4, in.w, sty(CR_DIM)), 1), "kv.window");
        y++;
    }

    /* the comparison table's cells and layout first: a narrow table leaves columns out with a
     * note under it (a row of its own), never silently */
    char hb[24], hn[24], hc[24];
    snprintf(hb, sizeof hb, "B/tok %s", kv_prec_name(prec));
    snprintf(hn, sizeof hn, tr("now %s"), kv_prec_name(prec));
    snprintf(hc, sizeof hc, tr("@ctx %s"), kv_prec_name(prec));
    /* the formula column's header: shorter as it narrows ("elems/tok/l…" in compare mode at 60
     * columns before) */
    const char *eh[3] = {tr("elems/tok/layer"), tr("elems/tok/L"), tr("elems")};
    char tc5[KVA_COUNT][5][96];
    int mw[5] = {text_width(tr("attention"), c->unicode), text_width(eh[2], c->unicode), text_width(hb, c->unicode),
                 text_width(hn, c->unicode), text_width(hc, c->unicode)};
    for (int i = 0; i < KVA_COUNT; i++) {
        snprintf(tc5[i][0], 96, "%s%s", v[i].name, v[i].actual ? " *" : "");
        snprintf(tc5[i][1], 96, "%lld", v[i].elems);          /* the narrowest: the count alone */
        kv_fmt_bytes(kv_bytes_bits(v[i].elems, L, 1, pbits), tc5[i][2], 96);
        kv_fmt_bytes(kv_bytes_bits(v[i].elems, L, ntok, pbits), tc5[i][3], 96);
        kv_fmt_bytes(kv_bytes_bits(v[i].elems, L, ctxlen, pbits), tc5[i][4], 96);
        for (int j = 0; j < 5; j++) {
            const int tw = text_width(tc5[i][j], c->unicode);
            if (tw > mw[j]) mw[j] = tw;
        }
    }
    /* narrower than every column at its narrowest: the formula column goes first, then "now"
     * (the line above says it for this model) */
    TableCol cols[] = {{tr("attention"), 10, false, mw[0], 0}, {eh[0], 0, false, mw[1], 2}, {hb, 10, true, mw[2], 0},
                       {hn, 10, true, mw[3], 1}, {hc, 11, true, mw[4], 0}};
    int widths[5];
    const int hidden = w_table_layout(cols, 5, in.w, widths);
    const int flexw = widths[1];
    cols[1].title = eh[panel_pick_fit(eh, 3, flexw, c->unicode)];
    for (int i = 0; i < KVA_COUNT && flexw > 0; i++) kv_formula_cell(tc5[i][1], 96, v[i].elems, v[i].formula, flexw, c->unicode);

    /* per-layer slots */
    int rest = in.y + in.h - y;
    int table_h = hidden ? 6 : 5;
    int chart_min = 5;
    int layer_rows = rest - table_h - 1 - chart_min;
    /* no room for the chart (4 rows at least) under one layer row: its rows go to the layers
     * (compare mode at 70x22 left two blank rows under the table) */
    if (layer_rows < 1) layer_rows = rest - table_h - 2 >= 4 ? 1 : rest - table_h - 1;
    if (layer_rows > L) layer_rows = L;
    if (layer_rows < 1 && rest >= table_h + 2) layer_rows = 1;
    if (layer_rows > 0) {
        int lab = 5;             /* the widest layer label and a space ("L5", "5 号层") */
        for (int k = 0; k < 2; k++) {
            char t0[32];
            snprintf(t0, sizeof t0, k ? tr("..%d") : tr("L%d"), L - 1);
            int tw = text_width(t0, c->unicode) + 1;
            if (tw > lab) lab = tw;
        }
        int cells = in.w - lab - 14;
        if (cells < 4) cells = 4;
        long long per = (ctxlen + cells - 1) / cells;
        if (per < 1) per = 1;
        int filled = (int)((ntok + per - 1) / per);
        int cur = ntok > 0 ? (int)((ntok - 1) / per) : -1;
        for (int l = 0; l < layer_rows; l++) {
            int ly = y + l;
            bool more = l == layer_rows - 1 && layer_rows < L;
            char lb[16];
            if (more) snprintf(lb, sizeof lb, tr("..%d"), L - 1);
            else snprintf(lb, sizeof lb, tr("L%d"), l);
            canvas_text_fit(c, in.x, ly, lb, lab, l == ctx->sel.layer ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
            for (int k = 0; k < cells && k < in.w - lab; k++) {
                bool full = k < filled, is_cur = k == cur;
                const char *g = c->unicode ? (full ? "\xe2\x96\x88" : "\xc2\xb7") : (full ? "#" : ".");
                Style cs = is_cur ? sty_attr(CR_ACCENT, ATTR_BOLD) : full ? sty(CR_TITLE) : sty(CR_FRAME);
                if (full && !is_cur && !c->mono) { cs.fg = VCOL(sp->attn_kind == ATTN_MLA ? KVA_MLA : sp->attn_kind == ATTN_MQA ? KVA_MQA : sp->attn_kind == ATTN_GQA ? KVA_GQA : KVA_MHA); }
                if (is_cur && c->mono) cs.attr |= ATTR_REVERSE;
                canvas_glyph(c, in.x + lab + k, ly, g, cs);
            }
            kv_fmt_bytes(kv_bytes(own, more ? L - l : 1, ntok, KV_ELEM_BYTES), b1, sizeof b1);
            canvas_text_fit(c, in.x + lab + cells + 1, ly, b1, 13, sty(CR_DIM));
            if (!more) {
                canvas_target(c, rect_make(in.x, ly, in.w, 1), "kv.layer:%d", l);
                if (l == ctx->sel.layer) canvas_target(c, rect_make(in.x, ly, in.w, 1), "kv.layer");
            }
        }
        y += layer_rows;
        if (per > 1 && y < in.y + in.h) {
            snprintf(line, sizeof line, tr("one cell = %lld tokens"), per);
            canvas_text_fit(c, in.x + lab, y, line, in.w - lab, sty(CR_DIM));
        }
        y++;
    }

    /* comparison table */
    if (in.y + in.h - y >= 3) {
        const char *cp[KVA_COUNT * 5];
        for (int i = 0; i < KVA_COUNT; i++)
            for (int j = 0; j < 5; j++) cp[i * 5 + j] = tc5[i][j];
        int sel = -1;
        for (int i = 0; i < KVA_COUNT; i++) if (v[i].actual) sel = i;
        int th = in.y + in.h - y < 5 ? in.y + in.h - y : 5;
        if (hidden && th == in.y + in.h - y) th--;             /* a row for the note */
        w_table(c, rect_make(in.x, y, in.w, th), cols, 5, cp, KVA_COUNT, sel);
        canvas_target(c, rect_make(in.x, y, in.w, th), "kv.table");
        static const char *const ROW[KVA_COUNT] = {"mha", "gqa", "mqa", "mla"};
        for (int i = 0; i < KVA_COUNT && i + 1 < th; i++) {
            canvas_target(c, rect_make(in.x, y + 1 + i, in.w, 1), "kv.row:%s", ROW[i]);
            if (i == sel) canvas_target(c, rect_make(in.x, y + 1 + i, in.w, 1), "kv.row");
        }
        if (!c->mono)
            for (int i = 0; i < KVA_COUNT && i + 1 < th; i++)
                canvas_restyle(c, rect_make(in.x, y + 1 + i, 3, 1), (Style){VCOL(i), i == sel ? theme_color(CR_SELECT) : color_default(), ATTR_BOLD});
        y += th;
        if (hidden) {
            char names[256] = "";
            for (int j = 0; j < 5; j++) {
                if (widths[j]) continue;
                const size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", j == 1 ? eh[0] : cols[j].title);
            }
            panel_hidden_note(c, in.x, y++, in.w, hidden, names);
        }
    }

    /* growth chart: total bytes vs tokens, one line per variant */
    int ch = in.y + in.h - y;
    if (ch >= 4 && in.w >= 30) {
        int npts = 64;
        float ys[KVA_COUNT][64];
        Series ser[KVA_COUNT];
        for (int i = 0; i < KVA_COUNT; i++) {
            for (int k = 0; k < npts; k++)
                ys[i][k] = (float)kv_bytes_bits(v[i].elems, L, (long long)((double)ctxlen * k / (npts - 1)), pbits);
            ser[i] = (Series){ys[i], npts, VCOL(i), v[i].name};
        }
        double top = kv_bytes_bits(v[KVA_MHA].elems > v[KVA_MLA].elems ? v[KVA_MHA].elems : v[KVA_MLA].elems, L, ctxlen, pbits);
        w_lineplot(c, rect_make(in.x, y, in.w - 8, ch), ser, KVA_COUNT, 0, (double)ctxlen, 0, top, 10, fmt_mib, fmt_tok);
        canvas_target(c, rect_make(in.x, y, in.w, ch), "kv.chart");
        /* each name beside the end of its line (the row w_lineplot put the last point on),
         * nudged apart when two lines end on the same text row */
        int lrow[KVA_COUNT], ord[KVA_COUNT];
        const int H = 4 * (ch - 1) - 1;
        for (int i = 0; i < KVA_COUNT; i++) {
            double tt = top > 0 ? (double)ys[i][npts - 1] / top : 0;
            tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
            lrow[i] = (int)lrint(H - tt * H) / 4;
            ord[i] = i;
        }
        for (int i = 1; i < KVA_COUNT; i++)            /* insertion sort: top row first, larger first */
            for (int j = i; j > 0; j--) {
                int a0 = ord[j - 1], b0 = ord[j];
                if (lrow[b0] > lrow[a0] || (lrow[b0] == lrow[a0] && ys[b0][npts - 1] <= ys[a0][npts - 1])) break;
                ord[j] = a0;
                ord[j - 1] = b0;
            }
        for (int i = 1; i < KVA_COUNT; i++)
            if (lrow[ord[i]] <= lrow[ord[i - 1]]) lrow[ord[i]] = lrow[ord[i - 1]] + 1;
        for (int i = KVA_COUNT - 1, lim = ch - 2; i >= 0; i--) {
            if (lrow[ord[i]] > lim) lrow[ord[i]] = lim;
            lim = lrow[ord[i]] - 1;
        }
        for (int i = 0; i < KVA_COUNT; i++) {
            if (lrow[i] < 0 || lrow[i] > ch - 2) continue;
            Style ls = c->mono ? sty(CR_TEXT) : (Style){VCOL(i), color_default(), ATTR_BOLD};
            canvas_text(c, in.x + in.w - 6, y + lrow[i], v[i].name, ls);
        }
        /* where we are now on the x axis */
        if (ntok > 0 && ctxlen > 0) {
            int px = in.x + 10 + (int)((double)ntok / (double)ctxlen * (in.w - 8 - 10 - 1));
            if (px < in.x + in.w - 8 && ch >= 3) canvas_glyph(c, px, y + ch - 2, c->unicode ? "\xe2\x96\xb2" : "^", sty_attr(CR_ACCENT, ATTR_BOLD));
        }
    }
}

const PanelClass panel_kv = {
    .name = "kv", .title = N_("KV cache"), .tab = N_("KV"),
    .create = NULL, .destroy = NULL, .draw = kv_draw, .click = NULL,
    .help = N_("+ -      double / halve the what-if context length (0 resets)\n"
            "p        what-if precision of the cached elements: f32, bf16, fp8, int4\n"
            "         (table and chart; fp8/int4 caches also keep block scales, not counted)\n"
            "Per token per layer the cache holds (DeepSeek-V2, Table 1):\n"
            "  MHA 2*n_h*d_h   GQA 2*n_g*d_h   MQA 2*d_h   MLA d_c + d_h^R\n"
            "Rows not matching this model use assumed n_g / d_c (shown in the formula).\n"
            "The engine caches f32; 'engine' is the byte count it reported.\n"
            "f        the trade-off view: measured bits/byte against these bytes for the family"),
    .hint = N_("+/- context  p precision  f trade-off"),
};
