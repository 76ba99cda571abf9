/* Output panel: the top-k next-token probabilities at the current position as bars (from
 * the recorded top logits and the log-sum-exp, exact), the token that was sampled, and a
 * preview of the same distribution under other settings (temperature, top-k, top-p,
 * greedy) recomputed by analysis/sampling.c from the same recorded numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/derived.h"
#include "analysis/stats.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"


static void out_draw(void *vst, PanelCtx *ctx) {
    (void)vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    Rect in = panel_frame(ctx, "Output \xc2\xb7 next-token probabilities", "t/T temp  k/K top-k  p/P top-p  g greedy");
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, "no tokens yet: press n to run the prompt"); return; }
    if (in.w < 20 || in.h < 4) return;
    float p1[TRACE_TOPK], p2[TRACE_TOPK];
    SamplePreviewCfg one = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .greedy = false};
    double tail1 = 0, tailb = 0, dummy;
    int n1 = derived_next_probs(s->trace, s->cursor, one, p1, &tail1, &dummy);
    int n2 = derived_next_probs(s->trace, s->cursor, ctx->sc->view.preview, p2, NULL, &tailb);
    char cur[40], nxt[40], line[256];
    panel_tok_label(s, t->id, cur, sizeof cur, 14, c->unicode);
    if (t->next_id >= 0) panel_tok_label(s, t->next_id, nxt, sizeof nxt, 14, c->unicode);
    else snprintf(nxt, sizeof nxt, "-");
    SamplerCfg sc = s->sampler ? sampler_cfg(s->sampler) : (SamplerCfg){.greedy = true};
    char samp[64];
    if (sc.greedy) snprintf(samp, sizeof samp, "greedy");
    else snprintf(samp, sizeof samp, "T=%.2f k=%d p=%.2f seed %llu", (double)sc.temperature, sc.top_k, (double)sc.top_p, (unsigned long long)sc.seed);
    snprintf(line, sizeof line, "after '%s' (pos %d): next = '%s'%s  \xc2\xb7  sampler: %s", cur, s->cursor, nxt,
             t->next_id >= 0 ? "" : " (not chosen yet)", samp);
    canvas_text_fit(c, in.x, in.y, line, in.w, sty(CR_TEXT));
    double ent = t->logit_entropy;   /* over the whole vocabulary, computed when recorded */
    char pvs[96];
    if (ctx->sc->view.preview.greedy) snprintf(pvs, sizeof pvs, "preview: greedy");
    else {
        int m = snprintf(pvs, sizeof pvs, "preview: T=%.2f", (double)ctx->sc->view.preview.temperature);
        if (ctx->sc->view.preview.top_k) m += snprintf(pvs + m, sizeof pvs - (size_t)m, " top-k %d", ctx->sc->view.preview.top_k);
        if (ctx->sc->view.preview.top_p < 1) snprintf(pvs + m, sizeof pvs - (size_t)m, " top-p %.2f", (double)ctx->sc->view.preview.top_p);
    }
    char hold[16], tb[16];
    panel_fmt_prob(1 - tail1, hold, sizeof hold);
    panel_fmt_prob(tailb, tb, sizeof tb);
    snprintf(line, sizeof line, "entropy %.2f bits  \xc2\xb7  top-%d hold %s  \xc2\xb7  %s (tail <= %s)", ent, n1, hold, pvs, tb);
    canvas_text_fit(c, in.x, in.y + 1, line, in.w, sty(CR_DIM));

    int rows = in.h - 3;
    if (rows > n1) rows = n1;
    if (rows <= 0) return;
    bool two = in.w >= 56;
    int lab_w = 16;
    int colw = two ? (in.w - lab_w) / 2 : in.w - lab_w;
    canvas_text_fit(c, in.x + lab_w, in.y + 2, "T=1 (as computed)", colw - 1, sty_attr(CR_TITLE, ATTR_UNDERLINE));
    if (two) canvas_text_fit(c, in.x + lab_w + colw, in.y + 2, pvs + 9, colw, sty_attr(CR_WARN, ATTR_UNDERLINE));
    for (int i = 0; i < rows; i++) {
        int y = in.y + 3 + i, id = t->top_ids[i];
        bool chosen = id == t->next_id;
        char tl[40], lab[48], n_a[16], n_b[16];
        panel_tok_label(s, id, tl, sizeof tl, lab_w - 3, c->unicode);
        snprintf(lab, sizeof lab, "%s%s", chosen ? (c->unicode ? "\xe2\x96\xb6 " : "> ") : "  ", tl);
        panel_fmt_prob((double)p1[i], n_a, sizeof n_a);
        Bar a = {lab, p1[i], n_a, sty(CR_TITLE), chosen};
        w_bars(c, rect_make(in.x, y, lab_w + colw - 1, 1), &a, 1, p1[0] > 0 ? p1[0] : 1, lab_w, 6);
        if (two) {
            if (i < n2 && p2[i] > 0) panel_fmt_prob((double)p2[i], n_b, sizeof n_b);
            else snprintf(n_b, sizeof n_b, "  -");
            Bar b = {NULL, p2[i], n_b, sty(CR_WARN), chosen};
            w_bars(c, rect_make(in.x + lab_w + colw, y, colw, 1), &b, 1, p2[0] > 0 ? p2[0] : 1, 0, 6);
        }
    }
    if (t->next_id >= 0) {
        bool in_top = false;
        for (int i = 0; i < n1; i++) in_top |= t->top_ids[i] == t->next_id;
        if (!in_top && in.h > rows + 3)
            canvas_text_fit(c, in.x, in.y + 3 + rows, "the sampled token is outside the recorded top-64", in.w, sty(CR_WARN));
    }
}

const PanelClass panel_output = {
    .name = "output", .title = N_("Output"), .tab = N_("Out"),
    .create = NULL, .destroy = NULL, .draw = out_draw, .click = NULL,
    .help = N_("t T      preview temperature - / +     k K  top-k halve / double (0 = off)\n"
            "p P      preview top-p - / +            g    greedy      0  copy the sampler\n"
            "Left: p = exp(logit - logsumexp), exactly what the model computed.\n"
            "Right: the same logits at another temperature, cut by top-k / top-p and\n"
            "renormalised. Only the recorded top-64 logits are known; the bound says how\n"
            "much probability the other tokens could hold at that temperature.\n"
            "s opens the real sampler settings."),
    .hint = N_("t/T k/K p/P g"),
};
