/* Norms panel: one normalisation (ln1 / ln2 of the selected layer, or the final norm) at
 * the current token: the formula, statistics of its input (mean, variance, RMS, range),
 * the scale it applied (hook_scale), the learned gain gamma (and beta), and histograms of
 * the vector before and after (GSL). 'v' cycles ln1 -> ln2 -> final; by default the
 * panel follows the step-into stage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/stats.h"
#include "engine/ops.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"


static void hist_box(Canvas *c, Rect r, const char *title, const float *x, int n, Style st) {
    if (r.h < 3 || r.w < 8) return;
    canvas_text_fit(c, r.x, r.y, title, r.w, sty_attr(CR_TITLE, ATTR_BOLD));
    if (!x) { w_text(c, rect_make(r.x, r.y + 1, r.w, r.h - 1), tr("not recorded at this hook"), sty(CR_DIM)); return; }
    int bins = r.w < 48 ? r.w : 48;
    double counts[64], lo = 0, hi = 0;
    if (!stats_hist(x, n, bins, &lo, &hi, counts)) return;
    w_hist(c, rect_make(r.x, r.y + 1, r.w, r.h - 1), counts, bins, lo, hi, false, st);
}

static void norms_draw(void *vst, PanelCtx *ctx) {
    (void)vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const ModelSpec *sp = &session_model(s)->spec;
    const TraceDims *d = trace_dims(session_trace(s));
    const int l = ctx->sel.layer, D = d->d_model, which = scene_norms_which(ctx->sc);
    bool rms = sp->norm == NORM_RMSNORM;
    char title[128];
    const char *WN[3] = {tr("ln1 (before attention)"), tr("ln2 (before the MLP)"), tr("final norm (before the unembedding)")};
    if (which == 2) snprintf(title, sizeof title, tr("Norms \xc2\xb7 %s \xc2\xb7 %s"), WN[2], rms ? tr("RMSNorm") : tr("LayerNorm"));
    else snprintf(title, sizeof title, tr("Norms \xc2\xb7 L%d %s \xc2\xb7 %s"), l, WN[which], rms ? tr("RMSNorm") : tr("LayerNorm"));
    Rect in = panel_frame(ctx, title, ctx->sc->view.norms_which < 0 ? tr("v ln1/ln2/final (following stage)") : tr("v ln1/ln2/final"));
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 20 || in.h < 4) return;

    const NormStat *ns = which == 0 ? &t->ln1[l] : which == 1 ? &t->ln2[l] : &t->lnf;
    const float *xin = which == 0 ? t->resid + (size_t)l * D : which == 2 ? t->resid + (size_t)d->n_layers * D : t->resid_mid + (size_t)l * D;
    const float *xout = trace_norm_out(session_trace(s), session_cursor(s), which, l);
    const Tensor *gw = which == 2 ? &session_model(s)->w.lnf_w : which == 0 ? &session_model(s)->w.layers[l].ln1_w : &session_model(s)->w.layers[l].ln2_w;
    const Tensor *gb = which == 2 ? &session_model(s)->w.lnf_b : which == 0 ? &session_model(s)->w.layers[l].ln1_b : &session_model(s)->w.layers[l].ln2_b;

    int y = in.y;
    canvas_target(c, rect_make(in.x, y, in.w, 1), "norms.formula");
    static const char *const FR[2][3] = {
        {"y = (x - mean) / sqrt(var + eps) * gamma + beta   scale = 1/sqrt(var+eps)", "y = (x - mean) / sqrt(var + eps) * gamma + beta",
         "y = (x - mean) * scale * gamma + beta"},
        {"y = x / sqrt(mean(x^2) + eps) * gamma        scale = 1/sqrt(mean(x^2)+eps)", "y = x / sqrt(mean(x^2) + eps) * gamma",
         "y = x * scale * gamma"}};
    panel_text_pick(c, in.x, y++, FR[rms ? 1 : 0], 3, in.w, sty(CR_TITLE));
    char line[256], xs[4][256];
    int nx = 1;
    if (xin || which == 0) {   /* narrower: the width goes, then min/max, then digits */
        const double mn = ns->mean, va = ns->var, rm = ns->rms, lo = ns->min, hi = ns->max;
        snprintf(xs[0], sizeof xs[0], tr("input x: mean %.4g  var %.4g  rms %.4g  min %.3g  max %.3g  (d=%d)"), mn, va, rm, lo, hi, D);
        snprintf(xs[1], sizeof xs[1], tr("input x: mean %.4g  var %.4g  rms %.4g  min %.3g  max %.3g"), mn, va, rm, lo, hi);
        snprintf(xs[2], sizeof xs[2], tr("input x: mean %.3g  var %.3g  rms %.3g"), mn, va, rm);
        snprintf(xs[3], sizeof xs[3], tr("x: rms %.3g"), rm);
        nx = 4;
    } else {
        snprintf(xs[0], sizeof xs[0], "%s", tr("input x (hook_resid_mid) is not in the trace: only the scale is"));
    }
    const char *xc[4] = {xs[0], xs[1], xs[2], xs[3]};
    canvas_target(c, rect_make(in.x, y, in.w, 2), "norms.info");
    panel_text_pick(c, in.x, y++, xc, nx, in.w, sty(CR_TEXT));
    snprintf(line, sizeof line, tr("scale applied: %.5g   eps %.3g"), (double)ns->scale, (double)sp->norm_eps);
    if (text_width(line, c->unicode) > in.w)     /* narrow: the scale without eps (the formula above names it) */
        snprintf(line, sizeof line, tr("scale applied: %.5g"), (double)ns->scale);
    canvas_text_fit(c, in.x, y++, line, in.w, sty_attr(CR_ACCENT, ATTR_BOLD));

    float *gamma = NULL, *beta = NULL;
    if (tensor_present(gw) && gw->rows * gw->cols >= D) {
        gamma = malloc(sizeof(float) * (size_t)D);
        if (gamma) tensor_row_f32(gw, 0, D, gamma);
    }
    if (tensor_present(gb) && gb->rows * gb->cols >= D) {
        beta = malloc(sizeof(float) * (size_t)D);
        if (beta) tensor_row_f32(gb, 0, D, beta);
    }
    char gl[3][256];
    int ng = 1;
    if (gamma) {   /* narrower: beta's part goes, then gamma's range */
        double m, v;
        float mn, mx;
        stats_moments(gamma, D, &m, &v);
        stats_minmax(gamma, D, &mn, &mx);
        int n = snprintf(gl[0], sizeof gl[0], tr("gamma: mean %.4g  min %.3g  max %.3g"), m, (double)mn, (double)mx);
        snprintf(gl[1], sizeof gl[1], "%s", gl[0]);
        snprintf(gl[2], sizeof gl[2], tr("gamma: mean %.4g"), m);
        ng = 3;
        if (beta) {
            stats_moments(beta, D, &m, &v);
            snprintf(gl[0] + n, sizeof gl[0] - (size_t)n, tr("   beta: mean %.4g  sd %.3g"), m, sqrt(v));
        }
    } else {
        snprintf(gl[0], sizeof gl[0], "%s", tr("gamma: none (weight 1)"));
    }
    const char *gc[3] = {gl[0], gl[1], gl[2]};
    canvas_target(c, rect_make(in.x, y, in.w, 1), "norms.gamma");
    panel_text_pick(c, in.x, y++, gc, ng, in.w, sty(CR_DIM));

    /* rms of the residual entering each layer, this token */
    int rest = in.y + in.h - y;
    int spark = rest >= 8 ? 1 : 0;
    if (spark) {
        float rv[512];
        int L = d->n_layers < 511 ? d->n_layers : 511;
        for (int k = 0; k < L; k++) rv[k] = t->ln1[k].rms;
        rv[L] = t->lnf.rms;
        int x = canvas_text(c, in.x, y, tr("rms(x) by layer: "), sty(CR_DIM));
        w_sparkline(c, x, y, L + 1 < in.x + in.w - x ? L + 1 : in.x + in.w - x, rv, L + 1, 0, 0, sty(CR_TITLE));
        canvas_target(c, rect_make(in.x, y, x - in.x + (L + 1 < in.x + in.w - x ? L + 1 : in.x + in.w - x), 1), "norms.rms");
        y++;
    }
    rest = in.y + in.h - y;
    if (rest >= 3) {
        int nbox = gamma && in.w >= 90 ? 3 : 2;
        int bw = (in.w - (nbox - 1) * 2) / nbox;
        hist_box(c, rect_make(in.x, y, bw, rest), tr("before: x"), xin, D, sty(CR_TITLE));
        hist_box(c, rect_make(in.x + bw + 2, y, bw, rest), tr("after: y = norm(x)"), xout, D, sty(CR_GOOD));
        canvas_target(c, rect_make(in.x, y, bw, rest), "norms.before");
        canvas_target(c, rect_make(in.x + bw + 2, y, bw, rest), "norms.after");
        if (nbox == 3) hist_box(c, rect_make(in.x + 2 * (bw + 2), y, bw, rest), "gamma", gamma, D, sty(CR_WARN));
    }
    free(gamma);
    free(beta);
}

const PanelClass panel_norms = {
    .name = "norms", .title = N_("Norms"), .tab = N_("Norm"),
    .create = NULL, .destroy = NULL, .draw = norms_draw, .click = NULL,
    .help = N_("v        ln1 -> ln2 -> final norm (a: follow the step-into stage again)\n"
            "[ ]      layer\n"
            "The histograms show the d_model values of the vector before and after the\n"
            "norm: after RMSNorm the mean square is 1 (times gamma); LayerNorm also\n"
            "centres it. 'scale' is what the model multiplied by (hook_scale)."),
    .hint = N_("v which  [ ] layer"),
};
