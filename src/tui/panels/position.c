/* Position panel.
 * RoPE models: one dial per frequency pair i showing the rotation angle pos*theta_i at the
 * current position (theta_i from the engine's rope_inv_freq, so scaling is included), and
 * the recorded q pair of the selected head before (hook_q) and after (hook_rot_q) the
 * rotation; the relative-distance decay (1/P) sum_i cos(m theta_i) beside the recorded
 * scores of the current query by distance; sinusoidal encodings for contrast, or the
 * effect of RoPE scaling on the frequencies ('v').
 * Learned positions (GPT-2): cosine similarity of the position embedding rows, the norms
 * of token vs position embedding, and the sinusoidal table for contrast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "analysis/stats.h"
#include "engine/ops.h"
#include "engine/rope.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

#define POS_SIM_N 64

typedef struct {
    int view;                  /* bottom-right: 0 sinusoid, 1 scaling */
    int pair0;                 /* first pair shown when zoomed (-1 = spread) */
    /* learned-position similarity cache */
    const void *model;
    int sim_n;
    float sim[POS_SIM_N * POS_SIM_N];
} PosState;

static void *pos_create(void) { PosState *s = calloc(1, sizeof *s); if (s) s->pair0 = -1; return s; }
static void pos_destroy(void *st) { free(st); }

typedef struct { int d; } SinSrc;
static float sin_get(void *ud, int r, int c) {
    const SinSrc *s = ud;
    /* PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...) (Vaswani et al. 2017) */
    int i = c / 2;
    double ang = r / pow(10000.0, 2.0 * i / s->d);
    return (float)((c & 1) ? cos(ang) : sin(ang));
}

static float sim_get(void *ud, int r, int c) {
    const PosState *st = ud;
    return st->sim[r * st->sim_n + c];
}

static void draw_sinusoid(Canvas *c, Rect r, int d) {
    if (r.h < 3 || r.w < 10) return;
    static const char *const CAP[] = {N_("sinusoidal PE[pos, dim] (Vaswani 2017), for contrast"),
                                      N_("sinusoidal PE[pos, dim] (Vaswani 2017)"), N_("sinusoidal PE")};
    int ci = 0;
    while (ci < 2 && text_width(tr(CAP[ci]), c->unicode) > r.w) ci++;
    canvas_text_fit(c, r.x, r.y, tr(CAP[ci]), r.w, sty(CR_DIM));
    SinSrc src = {d > 0 ? d : 64};
    int rows = c->mono || !c->unicode ? r.h - 2 : 2 * (r.h - 2);
    HeatSpec hs = {.rows = rows, .cols = r.w < src.d ? r.w : src.d, .get = sin_get, .ud = &src,
                   .lo = -1, .hi = 1, .diverging = true, .sel_r = -1, .sel_c = -1, .max_cell = 1};
    HeatLayout hl = w_heatmap(c, rect_make(r.x, r.y + 1, r.w, r.h - 2), &hs);
    /* the axes' legend, the longest form that fits the heatmap's width (it wrote over the frame's
     * border when the panel was narrow: compare mode at 80x24) */
    static const char *const LEG[] = {N_("pos 0..%d down, dims across"), N_("pos 0..%d down"), N_("pos down")};
    char leg[96];
    for (int li = 0; li < 3; li++) {
        snprintf(leg, sizeof leg, tr(LEG[li]), rows - 1);
        if (text_width(leg, c->unicode) <= r.w) break;
    }
    int x = r.x + canvas_text_fit(c, r.x, r.y + r.h - 1, leg, r.w, sty(CR_DIM));
    if (r.x + r.w - x > 14) w_legend(c, x + 1, r.y + r.h - 1, r.x + r.w - x - 1, hl.lo, hl.hi, true);
}

static void draw_scaling(Canvas *c, Rect r, const ModelSpec *sp, int seq_len) {
    if (r.h < 3 || r.w < 16) return;
    int P = sp->rotary_dim / 2;
    if (P <= 0 || P > 4096) return;
    float *a = malloc(sizeof(float) * (size_t)P * 4);
    if (!a) return;
    float *inv = a, *inv0 = a + P, *la = a + 2 * P, *lb = a + 3 * P;
    rope_inv_freq(sp, seq_len, inv);
    ModelSpec plain = *sp;
    plain.rope_scaling = ROPE_SCALE_NONE;
    plain.n_rope_factors = 0;
    rope_inv_freq(&plain, seq_len, inv0);
    for (int i = 0; i < P; i++) { la[i] = log10f(inv0[i]); lb[i] = log10f(inv[i]); }
    static const char *const SN[] = {N_("none"), N_("linear"), N_("dynamic NTK"), "llama3", "YaRN"};
    char t[128];
    snprintf(t, sizeof t, tr("log10 theta_i by pair: scaling %s (factor %.3g)"), tr(SN[sp->rope_scaling]), (double)sp->rope_factor);
    canvas_text_fit(c, r.x, r.y, t, r.w, sty(CR_DIM));
    Series s[2] = {{la, P, theme_color(CR_DIM), "unscaled"}, {lb, P, theme_color(CR_ACCENT), "model"}};
    w_lineplot(c, rect_make(r.x, r.y + 1, r.w, r.h - 1), s, 2, 0, P - 1, 0, 0, 6, NULL, NULL);
    free(a);
}

static void draw_learned(PosState *st, PanelCtx *ctx, Rect in, const TraceTok *t) {
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const Model *m = session_model(s);
    const int D = m->spec.d_model;
    double ne = t->embed ? stats_norm(t->embed, D) : 0, np = t->pos_embed ? stats_norm(t->pos_embed, D) : 0;
    const double cs = t->embed && t->pos_embed ? (double)stats_cosine(t->embed, t->pos_embed, D) : 0.0;
    /* the widest wording that fits: the words before the formula go first, then the formula */
    char ln[5][200];
    snprintf(ln[0], sizeof ln[0], tr("learned positions: x0 = tok_emb[id] + pos_emb[%d]   ||tok|| %.3g  ||pos|| %.3g  cos %.3f"),
             session_cursor(s), ne, np, cs);
    snprintf(ln[1], sizeof ln[1], tr("x0 = tok_emb[id] + pos_emb[%d]  ||tok|| %.3g  ||pos|| %.3g  cos %.3f"), session_cursor(s), ne, np, cs);
    snprintf(ln[2], sizeof ln[2], "||tok|| %.3g  ||pos[%d]|| %.3g  cos %.3f", ne, session_cursor(s), np, cs);
    snprintf(ln[3], sizeof ln[3], "||tok|| %.3g ||pos|| %.3g cos %.3f", ne, np, cs);
    snprintf(ln[4], sizeof ln[4], "cos(tok, pos) %.3f", cs);
    const char *lnc[5] = {ln[0], ln[1], ln[2], ln[3], ln[4]};
    panel_text_pick(c, in.x, in.y, lnc, 5, in.w, sty(CR_TEXT));
    Rect body = rect_make(in.x, in.y + 1, in.w, in.h - 1);
    int lw = body.w / 2;
    /* cosine similarity between position embedding rows 0..n-1 (from the weights) */
    const Tensor *pe = &m->w.pos_emb;
    if (tensor_present(pe) && pe->cols == D) {
        int n = pe->rows < POS_SIM_N ? pe->rows : POS_SIM_N;
        if (st->model != (const void *)m || st->sim_n != n) {
            float *rows = malloc(sizeof(float) * (size_t)n * (size_t)D);
            if (rows) {
                for (int i = 0; i < n; i++) tensor_row_f32(pe, (size_t)i * D, D, rows + (size_t)i * D);
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) st->sim[i * n + j] = stats_cosine(rows + (size_t)i * D, rows + (size_t)j * D, D);
                st->model = m;
                st->sim_n = n;
                free(rows);
            }
        }
        if (st->sim_n) {
            static const char *const PC[] = {"cos(pos_emb[i], pos_emb[j]), i,j < 64", "cos(pos_emb[i], pos_emb[j])", "cos(pe_i, pe_j)"};
            panel_text_pick(c, body.x, body.y, PC, 3, lw - 1, sty(CR_DIM));
            int sel = session_cursor(s) < st->sim_n ? session_cursor(s) : -1;
            HeatSpec hs = {.rows = st->sim_n, .cols = st->sim_n, .get = sim_get, .ud = st, .lo = -1, .hi = 1,
                           .diverging = true, .sel_r = sel, .sel_c = sel, .max_cell = 2};
            HeatLayout hl = w_heatmap(c, rect_make(body.x, body.y + 1, lw - 1, body.h - 2), &hs);
            w_legend(c, body.x, body.y + body.h - 1, lw - 1, hl.lo, hl.hi, true);
            canvas_target(c, hl.used, "position.map");
        }
    } else {
        panel_message(c, rect_make(body.x, body.y, lw - 1, body.h), tr("no position embedding table in the weights"));
    }
    draw_sinusoid(c, rect_make(body.x + lw, body.y, body.w - lw, body.h), D);
    canvas_target(c, rect_make(body.x + lw, body.y, body.w - lw, body.h), "position.plot");
}

static void pos_draw(void *vst, PanelCtx *ctx) {
    PosState *st = vst;
    Canvas *c = ctx->c;
    const Session *s = ctx->s;
    const ModelSpec *sp = &session_model(s)->spec;
    const TraceDims *d = trace_dims(session_trace(s));
    const int l = ctx->sel.layer, h = ctx->sel.head;
    bool rope = sp->pos == POS_ROPE && d->rot_dim > 0;
    char title[128];
    if (rope) snprintf(title, sizeof title, tr("Position \xc2\xb7 RoPE \xc2\xb7 L%d head %d \xc2\xb7 pos %d"), l, h, session_cursor(s) < 0 ? 0 : session_cursor(s));
    else snprintf(title, sizeof title, tr("Position \xc2\xb7 learned position embeddings"));
    Rect in = panel_frame(ctx, title, rope ? tr(", . pairs  v sinusoid/scaling  { } head") : "");
    const TraceTok *t = panel_tok(s);
    if (!t) { panel_message(c, in, tr("no tokens yet: press n to run the prompt")); return; }
    if (in.w < 24 || in.h < 6) return;
    if (!rope) { draw_learned(st, ctx, in, t); return; }

    const int R = d->rot_dim, P = R / 2, pos = session_cursor(s);
    float *inv = malloc(sizeof(float) * (size_t)(P > 0 ? P : 1));
    if (!inv) return;
    ModelSpec spr = *sp;
    spr.rotary_dim = R;
    if (rope_layer_local(sp, l)) {   /* Gemma 3: this layer slides, and rotates with the local base, unscaled */
        spr.rope_theta = sp->rope_local_theta;
        spr.rope_scaling = ROPE_SCALE_NONE;
        spr.rope_factor = 1.0f;
        spr.n_rope_factors = 0;
    }
    float attn_factor = rope_inv_freq(&spr, pos + 1, inv);
    char line[256];
    /* the widest wording that fits: q_rot's formula goes first, then the pairing's indices, then
     * the angle's formula (80x24: "... 12 pairs (rotate-half)  angle_i = pos*theta_i") */
    const bool half = sp->rope_style == ROPE_HALF;
    const char *pairs = half ? tr("rotate-half: (x_i, x_i+d/2)") : tr("interleaved: (x_2i, x_2i+1)");
    const char *pairs_short = half ? tr("rotate-half") : tr("interleaved");
    char th[6][256];
    snprintf(th[0], sizeof th[0], tr("theta_i = %g^(-2i/%d), %d pairs (%s)  angle_i = pos*theta_i  q_rot = R(pos*theta_i) q%s"),
             (double)spr.rope_theta, R, P, pairs, attn_factor != 1.0f ? " * mscale" : "");
    snprintf(th[1], sizeof th[1], tr("theta_i = %g^(-2i/%d), %d pairs (%s)  angle_i = pos*theta_i"), (double)spr.rope_theta, R, P, pairs);
    snprintf(th[2], sizeof th[2], tr("theta_i = %g^(-2i/%d), %d pairs (%s)  angle_i = pos*theta_i"), (double)spr.rope_theta, R, P, pairs_short);
    snprintf(th[3], sizeof th[3], tr("theta_i = %g^(-2i/%d), %d pairs (%s)"), (double)spr.rope_theta, R, P, pairs_short);
    snprintf(th[4], sizeof th[4], tr("theta_i = %g^(-2i/%d), %d pairs"), (double)spr.rope_theta, R, P);
    snprintf(th[5], sizeof th[5], "theta_i = %g^(-2i/%d)", (double)spr.rope_theta, R);
    const char *thc[6] = {th[0], th[1], th[2], th[3], th[4], th[5]};
    panel_text_pick(c, in.x, in.y, thc, 6, in.w, sty(CR_TEXT));

    /* dials */
    int dial_h = in.h >= 18 ? 7 : in.h >= 12 ? 5 : 4;
    int tile_w = dial_h * 2 + 2;
    if (tile_w < 10) tile_w = 10;
    int nd = in.w / (tile_w + 1);
    if (nd > P) nd = P;
    if (nd < 1) nd = 1;
    const float *ql = trace_q_pre(session_trace(s), session_cursor(s), l), *q = ql ? ql + (size_t)h * R : NULL;
    const float *qr = t->q_rot ? t->q_rot + ((size_t)l * d->n_heads + h) * R : NULL;
    int yd = in.y + 1;
    for (int k = 0; k < nd; k++) {
        /* the first pair chosen, or this model's last (compare mode: B may have fewer than A) */
        const int p0 = ctx->sc->view.pos_pair0 < P ? ctx->sc->view.pos_pair0 : P - 1;
        int i = p0 >= 0 ? p0 + k : (nd > 1 ? (int)lrint((double)k * (P - 1) / (nd - 1)) : 0);
        if (i >= P) break;
        int a = sp->rope_style == ROPE_HALF ? i : 2 * i, b = sp->rope_style == ROPE_HALF ? i + P : 2 * i + 1;
        float ang = inv[i] * (float)pos;
        DialHand hands[3];
        int nh = 0;
        hands[nh++] = (DialHand){ang, 1.0f, theme_color(CR_ACCENT)};
        if (q && qr) {
            float m = fmaxf(hypotf(q[a], q[b]), hypotf(qr[a], qr[b]));
            if (m > 0) {
                hands[nh++] = (DialHand){atan2f(q[b], q[a]), hypotf(q[a], q[b]) / m * 0.8f, theme_color(CR_PT_QUERY)};
                hands[nh++] = (DialHand){atan2f(qr[b], qr[a]), hypotf(qr[a], qr[b]) / m * 0.8f, theme_color(CR_GOOD)};
            }
        }
        int x = in.x + k * (tile_w + 1);
        w_dial(c, rect_make(x, yd, tile_w, dial_h), hands, nh);
        double wrapped = fmod((double)ang, 2 * M_PI);
        char il[4][40];                         /* theta_i with fewer digits before it is cut */
        snprintf(il[0], sizeof il[0], "i=%d %.3g", i, (double)inv[i]);
        snprintf(il[1], sizeof il[1], "i=%d %.2g", i, (double)inv[i]);
        snprintf(il[2], sizeof il[2], "i=%d %.1g", i, (double)inv[i]);
        snprintf(il[3], sizeof il[3], "i=%d", i);
        const char *ilc[4] = {il[0], il[1], il[2], il[3]};
        panel_text_pick(c, x, yd + dial_h, ilc, 4, tile_w, sty(CR_DIM));
        snprintf(line, sizeof line, "%.0f\xc2\xb0", wrapped * 180 / M_PI);
        canvas_text_fit(c, x, yd + dial_h + 1, line, tile_w, sty(CR_ACCENT));
        canvas_target(c, rect_make(x, yd, tile_w, dial_h + 2), "position.pair:%d", i);
        if (k == 0) canvas_target(c, rect_make(x, yd, tile_w, dial_h + 2), "position.pair");
    }
    canvas_target(c, rect_make(in.x, yd, in.w, dial_h + 2), "position.dials");
    int y = yd + dial_h + 2;
    canvas_text_fit(c, in.x, y, c->unicode ? tr("hand: angle pos\xc2\xb7\xce\xb8_i   blue: q pair before   green: after rotation")
                                           : "hand: angle pos*theta_i   blue: q before   green: after", in.w, sty(CR_DIM));
    y++;

    /* bottom: decay (left) and sinusoid / scaling (right) */
    int bh = in.y + in.h - y;
    if (bh >= 4) {
        int lw = in.w / 2;
        int M = pos + 1 > 64 ? pos + 1 : 64;
        if (M > 1024) M = 1024;
        float *theory = malloc(sizeof(float) * (size_t)M * 2);
        if (theory) {
            float *rec = theory + M;
            for (int m = 0; m < M; m++) {
                double sum = 0;
                for (int i = 0; i < P; i++) sum += cos((double)m * inv[i]);
                theory[m] = (float)(sum / P);
                rec[m] = NAN;
            }
            /* recorded scores of the current query by distance m = pos - key, scaled to max |.| */
            const float *srow = trace_attn_row(session_trace(s), pos, l, h, true);
            if (!srow) srow = theory + M;   /* NAN: nothing to plot */
            float mx = 0;
            for (int k = 0; k <= pos; k++) if (isfinite(srow[k])) mx = fmaxf(mx, fabsf(srow[k]));
            for (int k = 0; k <= pos && pos - k < M; k++)
                if (isfinite(srow[k]) && mx > 0) rec[pos - k] = srow[k] / mx;
            static const char *const CAP[] = {N_("decay: mean cos(m theta_i) vs distance m; dots: scores/max"),
                                              N_("mean cos(m theta_i) by distance m; dots: scores/max"),
                                              N_("mean cos(m theta_i); dots: scores"), "mean cos(m theta_i)", "cos(m theta_i)"};
            int ci = 0;
            while (ci < 4 && text_width(tr(CAP[ci]), c->unicode) > lw - 1) ci++;
            canvas_text_fit(c, in.x, y, tr(CAP[ci]), lw - 1, sty(CR_DIM));
            Series ser[2] = {{theory, M, theme_color(CR_ACCENT), "theory"}, {rec, M, theme_color(CR_GOOD), "scores"}};
            w_lineplot(c, rect_make(in.x, y + 1, lw - 1, bh - 1), ser, pos > 0 ? 2 : 1, 0, M - 1, -1, 1, 5, NULL, NULL);
            canvas_target(c, rect_make(in.x, y, lw - 1, bh), "position.decay");
            free(theory);
        }
        Rect rr = rect_make(in.x + lw, y, in.w - lw, bh);
        if (ctx->sc->view.pos_view == 1) draw_scaling(c, rr, &spr, pos + 1);
        else draw_sinusoid(c, rr, sp->d_model);
        canvas_target(c, rr, "position.plot");
    }
    free(inv);
}

const PanelClass panel_position = {
    .name = "position", .title = N_("Position"), .tab = N_("Pos"),
    .create = pos_create, .destroy = pos_destroy, .draw = pos_draw, .click = NULL,
    .help = N_(", .      consecutive pairs from i (',' before pair 0: spread over all pairs)\n"
            "v        bottom right: sinusoidal encodings / effect of RoPE scaling\n"
            "[ ] { }  layer / head of the q pairs shown\n"
            "RoPE rotates each pair (q_a, q_b) by pos*theta_i: fast pairs (small i) spin,\n"
            "slow pairs barely move, so q.k depends on the distance between tokens."),
    .hint = N_(", . v"),
};
