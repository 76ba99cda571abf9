/* Output panel: the top-k next-token probabilities at the current position as bars (from
 * the recorded top logits and the log-sum-exp, exact), the token that was sampled, and a
 * preview of the same distribution under other settings (temperature, top-k, top-p,
 * greedy) recomputed by analysis/sampling.c from the same recorded numbers. With `w` it shows the
 * quantization lens instead (analysis/quantlens.h): the selected layer quantized, measured at the
 * cursor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/derived.h"
#include "analysis/quantlens.h"
#include "analysis/stats.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"


typedef struct { QuantLensCache ql; } OutState;

static void *out_new(void) { return calloc(1, sizeof(OutState)); }
static void out_free(void *st) {
    if (!st) return;
    quantlens_cache_done(&((OutState *)st)->ql);
    free(st);
}

static const DType k_lens_types[5] = {DT_F32, DT_Q8_0, DT_Q4_K, DT_Q4_0, QL_AS_LOADED};

/* The quantization lens: the selected layer's matrices quantized, the next-token distribution at
 * the cursor compared with the model as loaded (one layer, one position: said on screen). */
static void lens_draw(OutState *st, PanelCtx *ctx) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const DType to = k_lens_types[ctx->sc->view.quant_lens];
    const int L = ctx->sel.layer;
    char title[160], line[256];
    snprintf(title, sizeof title, tr("Output \xc2\xb7 quantization lens \xc2\xb7 layer %d \xe2\x86\x92 %s"), L,
             to == QL_AS_LOADED ? tr("as loaded") : dtype_name(to));
    Rect in = panel_frame(ctx, title, N_("w next type (then off)  [ ] layer"));
    if (!panel_tok(s)) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 20 || in.h < 6) return;
    Err e = {0};
    const QuantLens *q = st ? quantlens_cached(&st->ql, session_model(s), session_ids(s), session_n_ids(s), session_cursor(s), L, to, &e) : NULL;
    if (!q) { panel_message(c, in, st ? e.msg : tr("out of memory")); return; }
    char cur[40], tl[40], tq[40];
    panel_tok_label(s, session_ids(s)[session_cursor(s)], cur, sizeof cur, 14, c->unicode);
    panel_tok_label(s, q->top_loaded, tl, sizeof tl, 14, c->unicode);
    panel_tok_label(s, q->top_quant, tq, sizeof tq, 14, c->unicode);
    snprintf(line, sizeof line, tr("Measured: only layer %d's weight matrices quantized; only the next token after pos %d ('%s') compared."),
             L, session_cursor(s), cur);
    canvas_text_fit(c, in.x, in.y, line, in.w, sty(CR_WARN));
    canvas_text_fit(c, in.x, in.y + 1, tr("Everything else (other layers, embeddings, norms, activations) stays as loaded."), in.w, sty(CR_DIM));
    int y = in.y + 3;
    /* one fixed axis (0 .. 12 %, wider if needed) so that switching types shows the change */
    double emax = 0.12;
    for (int i = 0; i < q->n_mat; i++) if (q->mat[i].rel_err > emax) emax = q->mat[i].rel_err;
    /* header: each label at its column (translated labels are not padded with %-Ns) */
    const Style hs = sty_attr(CR_TITLE, ATTR_UNDERLINE);
    canvas_text_fit(c, in.x, y, tr("matrix"), 16, hs);
    canvas_text_fit(c, in.x + 17, y, tr("loaded"), 6, hs);
    canvas_text_fit(c, in.x + 24, y, tr("now"), 6, hs);
    canvas_text_fit(c, in.x + 31, y, tr("weights"), 10, hs);
    snprintf(line, sizeof line, tr("relative error |W-Q(W)|/|W|, bar 0 .. %.0f %%"), 100 * emax);
    if (in.w > 43) canvas_text_fit(c, in.x + 42, y, line, in.w - 42, hs);
    y++;
    const int bar_x = in.x + 42, bar_w = in.w - 42 - 10;
    for (int i = 0; i < q->n_mat && y < in.y + in.h - 4; i++, y++) {
        const QlMatrix *m = &q->mat[i];
        char nm[32];
        if (m->count > 1) snprintf(nm, sizeof nm, "%s x%d", m->name, m->count);
        else snprintf(nm, sizeof nm, "%s", m->name);
        snprintf(line, sizeof line, "%-16s %-6s %-6s %10lld", nm, dtype_name(m->from), dtype_name(m->to), m->n);
        canvas_text_fit(c, in.x, y, line, 41, sty(m->kept ? CR_DIM : CR_TEXT));
        if (m->kept) { canvas_text_fit(c, bar_x, y, tr("kept: width not a multiple of 32"), in.w - 42, sty(CR_DIM)); continue; }
        char note[48];
        snprintf(note, sizeof note, "%.4f%s", m->rel_err, m->fallback ? " Q5_0*" : "");
        if (bar_w >= 8) {
            Bar b = {NULL, (float)m->rel_err, note, sty(CR_ACCENT), false};
            w_bars(c, rect_make(bar_x, y, bar_w + 10, 1), &b, 1, (float)emax, 0, 12);
        } else canvas_text_fit(c, bar_x, y, note, in.w - 42, sty(CR_TEXT));
    }
    y++;
    snprintf(line, sizeof line, tr("layer %d: %.2f \xe2\x86\x92 %.2f bits per weight \xc2\xb7 relative error %.4f"), L, q->bpw_loaded,
             q->bpw, q->rel_err);
    if (q->n_fallback) {
        size_t k = strlen(line);
        snprintf(line + k, sizeof line - k, " \xc2\xb7 %s", tr("*Q4_K needs widths of 256: Q5_0 as llama-quantize"));
    }
    canvas_text_fit(c, in.x, y++, line, in.w, sty(CR_TEXT));
    snprintf(line, sizeof line, tr("KL(as loaded \xe2\x80\x96 layer %d quantized) = %.3g nats \xc2\xb7 max |\xce\x94logit| %.3g"), L, q->kl,
             q->max_dlogit);
    canvas_text_fit(c, in.x, y++, line, in.w, sty_attr(CR_TITLE, ATTR_BOLD));
    if (q->top_quant == q->top_loaded)
        snprintf(line, sizeof line, tr("top token '%s': p %.4g as loaded, %.4g quantized (still the top)"), tl, q->p_top_loaded, q->p_top_quant);
    else
        snprintf(line, sizeof line, tr("top token '%s': p %.4g as loaded, %.4g quantized; the top is now '%s'"), tl, q->p_top_loaded,
                 q->p_top_quant, tq);
    canvas_text_fit(c, in.x, y++, line, in.w, sty(q->top_quant == q->top_loaded ? CR_GOOD : CR_WARN));
    if (y < in.y + in.h) {
        snprintf(line, sizeof line, tr("quantizing and one forward pass of %d tokens: %.0f ms (cached per layer, type and position)"),
                 session_cursor(s) + 1, q->ms);
        canvas_text_fit(c, in.x, y, line, in.w, sty(CR_DIM));
    }
}

static void out_draw(void *vst, PanelCtx *ctx) {
    if (ctx->sc->view.quant_lens > 0 && ctx->sc->view.quant_lens < 5) { lens_draw(vst, ctx); return; }
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    Rect in = panel_frame(ctx, tr("Output \xc2\xb7 next-token probabilities"), tr("t/T temp  k/K top-k  p/P top-p  g greedy"));
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 20 || in.h < 4) return;
    float p1[TRACE_TOPK], p2[TRACE_TOPK];
    SamplePreviewCfg one = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .greedy = false};
    double tail1 = 0, tailb = 0, dummy;
    int n1 = derived_next_probs(session_trace(s), session_cursor(s), one, p1, &tail1, &dummy);
    int n2 = derived_next_probs(session_trace(s), session_cursor(s), ctx->sc->view.preview, p2, NULL, &tailb);
    char cur[40], nxt[40], line[256];
    panel_tok_label(s, t->id, cur, sizeof cur, 14, c->unicode);
    if (t->next_id >= 0) panel_tok_label(s, t->next_id, nxt, sizeof nxt, 14, c->unicode);
    else snprintf(nxt, sizeof nxt, "-");
    SamplerCfg sc = session_sampler(s) ? sampler_cfg(session_sampler(s)) : (SamplerCfg){.greedy = true};
    char samp[64];
    if (sc.greedy) snprintf(samp, sizeof samp, "%s", tr("greedy"));
    else snprintf(samp, sizeof samp, "T=%.2f k=%d p=%.2f seed %llu", (double)sc.temperature, sc.top_k, (double)sc.top_p, (unsigned long long)sc.seed);
    snprintf(line, sizeof line, tr("after '%s' (pos %d): next = '%s'%s  \xc2\xb7  sampler: %s"), cur, session_cursor(s), nxt,
             t->next_id >= 0 ? "" : tr(" (not chosen yet)"), samp);
    canvas_text_fit(c, in.x, in.y, line, in.w, sty(CR_TEXT));
    canvas_target(c, rect_make(in.x, in.y, in.w, 2), "output.info");
    double ent = t->logit_entropy;   /* over the whole vocabulary, computed when recorded */
    char pvb[96], pvs[128];        /* the preview's settings, and with "preview: " before them */
    if (ctx->sc->view.preview.greedy) snprintf(pvb, sizeof pvb, "%s", tr("greedy"));
    else {
        int m = snprintf(pvb, sizeof pvb, "T=%.2f", (double)ctx->sc->view.preview.temperature);
        if (ctx->sc->view.preview.top_k) m += snprintf(pvb + m, sizeof pvb - (size_t)m, " top-k %d", ctx->sc->view.preview.top_k);
        if (ctx->sc->view.preview.top_p < 1) snprintf(pvb + m, sizeof pvb - (size_t)m, " top-p %.2f", (double)ctx->sc->view.preview.top_p);
    }
    snprintf(pvs, sizeof pvs, tr("preview: %s"), pvb);
    char hold[16], tb[16];
    panel_fmt_prob(1 - tail1, hold, sizeof hold);
    panel_fmt_prob(tailb, tb, sizeof tb);
    /* the tail's bound: "<= 0.012%", or "< 0.001%" below what the format shows; narrower, the
     * preview's part goes, then the top-k's share */
    char el[3][256];
    if (tb[0] == '<') snprintf(el[0], sizeof el[0], tr("entropy %.2f bits  \xc2\xb7  top-%d hold %s  \xc2\xb7  %s (tail < %s)"), ent, n1, hold, pvs, tb + 1);
    else snprintf(el[0], sizeof el[0], tr("entropy %.2f bits  \xc2\xb7  top-%d hold %s  \xc2\xb7  %s (tail <= %s)"), ent, n1, hold, pvs, tb);
    snprintf(el[1], sizeof el[1], tr("entropy %.2f bits  \xc2\xb7  top-%d hold %s"), ent, n1, hold);
    snprintf(el[2], sizeof el[2], tr("entropy %.2f bits"), ent);
    const char *elc[3] = {el[0], el[1], el[2]};
    panel_text_pick(c, in.x, in.y + 1, elc, 3, in.w, sty(CR_DIM));

    /* two columns (as computed, the preview): 16 columns of token labels when there is room,
     * fewer below 56 columns (compare mode at 80 and 100 columns) but at least 8, and at least
     * 12 a column (a bar and "<0.001%"); narrower, the preview column goes with a note */
    bool two = in.w >= 56;
    int lab_w = 16;
    if (!two && in.w - 2 * 12 >= 8) {
        two = true;
        lab_w = in.w - 2 * 12 < 16 ? in.w - 2 * 12 : 16;
    }
    int colw = two ? (in.w - lab_w) / 2 : in.w - lab_w;
    const int lab_eff = lab_w < (lab_w + colw - 1) / 2 ? lab_w : (lab_w + colw - 1) / 2;   /* w_bars keeps half for the bar */
    int rows = in.h - 3 - (two ? 0 : 1);
    if (rows > n1) rows = n1;
    if (rows <= 0) return;
    if (!two) panel_hidden_note(c, in.x, in.y + 3 + rows, in.w, 1, pvb);
    const char *t1[2] = {tr("T=1 (as computed)"), "T=1"};
    panel_text_pick(c, in.x + lab_w, in.y + 2, t1, 2, colw - 1, sty_attr(CR_TITLE, ATTR_UNDERLINE));
    if (two) canvas_text_fit(c, in.x + lab_w + colw, in.y + 2, pvb, colw, sty_attr(CR_WARN, ATTR_UNDERLINE));
    for (int i = 0; i < rows; i++) {
        int y = in.y + 3 + i, id = t->top_ids[i];
        bool chosen = id == t->next_id;
        char tl[40], lab[48], n_a[16], n_b[16];
        panel_tok_label(s, id, tl, sizeof tl, lab_eff - 3, c->unicode);
        snprintf(lab, sizeof lab, "%s%s", chosen ? (c->unicode ? "\xe2\x96\xb6 " : "> ") : "  ", tl);
        panel_fmt_prob((double)p1[i], n_a, sizeof n_a);
        Bar a = {lab, p1[i], n_a, sty(CR_TITLE), chosen};
        w_bars(c, rect_make(in.x, y, lab_w + colw - 1, 1), &a, 1, p1[0] > 0 ? p1[0] : 1, lab_w, 7);
        if (two) {
            if (i < n2 && p2[i] > 0) panel_fmt_prob((double)p2[i], n_b, sizeof n_b);
            else snprintf(n_b, sizeof n_b, "  -");
            Bar b = {NULL, p2[i], n_b, sty(CR_WARN), chosen};
            w_bars(c, rect_make(in.x + lab_w + colw, y, colw, 1), &b, 1, p2[0] > 0 ? p2[0] : 1, 0, 7);
        }
        canvas_target(c, rect_make(in.x, y, in.w, 1), "output.row:%d", i);
    }
    canvas_target(c, rect_make(in.x, in.y + 2, in.w, rows + 1), "output.list");
    if (t->next_id >= 0) {
        bool in_top = false;
        for (int i = 0; i < n1; i++) in_top |= t->top_ids[i] == t->next_id;
        if (!in_top && in.h > rows + 3)
            canvas_text_fit(c, in.x, in.y + 3 + rows, tr("the sampled token is outside the recorded top-64"), in.w, sty(CR_WARN));
    }
}

const PanelClass panel_output = {
    .name = "output", .title = N_("Output"), .tab = N_("Out"),
    .create = out_new, .destroy = out_free, .draw = out_draw, .click = NULL,
    .help = N_("t T      preview temperature - / +     k K  top-k halve / double (0 = off)\n"
            "p P      preview top-p - / +            g    greedy      0  copy the sampler\n"
            "w        quantization lens: the selected layer as Q8_0, Q4_K, Q4_0, as loaded, off\n"
            "Left: p = exp(logit - logsumexp), exactly what the model computed.\n"
            "Right: the same logits at another temperature, cut by top-k / top-p and\n"
            "renormalised. Only the recorded top-64 logits are known; the bound says how\n"
            "much probability the other tokens could hold at that temperature.\n"
            "s opens the real sampler settings."),
    .hint = N_("t/T k/K p/P g  w quant"),
};
