/* Compare mode's measures, under the token strips: on A's text (the prompt and what A
 * generated, as A's token strip shows it), each model's teacher-forced loss per token, their
 * difference B - A and KL(A||B) of the two next-token distributions, with the means in the
 * band's header line. The numbers are analysis/compare.c's compare_run, the same function
 * `llmscope compare` prints (tests/test_tui.c checks the header against `compare --json`).
 * Token t's cell holds the loss of t given the tokens before it, and the KL of the two
 * distributions over t; the first token (nothing before it) has none. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/i18n.h"
#include "tui/app.h"
#include "tui/lesson_pane.h"
#include "tui/widgets/widgets.h"

static bool band_shown(const App *a) {
    if (a->sc->n_ses != 2 || !a->sc->ses[0] || !a->sc->ses[1]) return false;
    if (lesson_ui_player((App *)a)) return false;  /* a lesson's pane keeps its room */
    if (a->sc->view.tradeoff) return false;         /* the trade-off view is about the family, not this text */
    return true;
}

int compare_band_rows(const App *a, const Canvas *c) { return band_shown(a) ? (c->h >= 30 ? 5 : 3) : 0; }

bool compare_band_pending(const App *a) { return a->cmp.running && band_shown(a) && !scene_busy(a->sc); }

static double band_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool compare_band_work(App *a) {
    if (!compare_band_pending(a)) return false;
    static int chunk = 8;               /* positions per piece, sized to about a quarter of a second */
    Session *A = a->sc->ses[0], *B = a->sc->ses[1];
    int before = a->cmp.run.scored;
    double t = band_ms();
    Err e = {0};
    compare_cached_some(&a->cmp, session_model(A), session_model(B), session_ids(A), session_n_ids(A), chunk, &e);
    double dt = band_ms() - t;
    int ran = a->cmp.running ? a->cmp.run.scored - before : chunk;
    if (dt > 0 && ran > 0) {
        double c = (double)ran * 250.0 / dt;
        chunk = c < 1 ? 1 : c > 256 ? 256 : (int)c;
    }
    return true;
}

typedef struct { const char *name; const double *v; bool diverging; double scale; int side; } Strip;

#define BAND_LABEL_W 8          /* "KL(A‖B) " */
#define BAND_VALUE_W 8          /* " +0.123" at the cursor's token */

static void draw_strip(Canvas *c, int x, int y, int w, const Strip *s, int n_tok, int p0, int cursor) {
    const int lw = BAND_LABEL_W;
    canvas_text_fit(c, x, y, s->name, lw - 1, sty_attr(s->side ? CR_WARN : CR_TITLE, ATTR_BOLD));
    if (cursor >= 1 && cursor < n_tok) {
        char v[32];
        snprintf(v, sizeof v, s->diverging ? "%+.3f" : "%.3f", s->v[cursor - 1]);
        int vw = text_width(v, c->unicode);
        canvas_text(c, x + w - vw, y, v, sty(CR_TEXT));
    }
    w -= BAND_VALUE_W;
    for (int k = 0; k < w - lw; k++) {
        int t = p0 + k;                 /* token position */
        if (t >= n_tok) break;
        int cx = x + lw + k;
        if (t == cursor) { canvas_glyph(c, cx, y, " ", sty2(CR_TEXT, CR_CURRENT, ATTR_REVERSE)); continue; }
        if (t == 0) { canvas_glyph(c, cx, y, c->unicode ? "\xc2\xb7" : ".", sty(CR_DIM)); continue; }
        double v = s->v[t - 1];
        float tt = s->scale > 0 ? (float)(v / s->scale) : 0.0f;
        if (s->diverging) tt = tt < -1 ? -1 : tt > 1 ? 1 : tt;
        else tt = tt < 0 ? 0 : tt > 1 ? 1 : tt;
        const char *g = NULL;
        Style st = w_ramp_style(c, tt, s->diverging, &g);
        canvas_glyph(c, cx, y, g ? g : "#", st);
    }
}

int compare_band_draw(App *a, Canvas *c, Rect r) {
    int rows = compare_band_rows(a, c);
    if (!rows || r.h < rows) return 0;
    Session *A = a->sc->ses[0], *B = a->sc->ses[1];
    int n = session_n_ids(A);
    Rect band = rect_make(r.x, r.y, r.w, rows);
    canvas_fill(c, band, " ", sty(CR_TEXT));
    canvas_push_clip(c, band);
    Err e = {0};
    const bool engines = session_engine(A) && session_engine(B);     /* a session without an engine (tests' fakes) has nothing to run */
    if (!engines) err_set(&e, ERR_ARG, "%s", tr("no engine to run the models"));
    /* only look: the numbers are computed between frames (compare_band_work), or here at once
     * when no loop runs them (screenshot) */
    const CompareResult *cr = n >= 2 && engines ? compare_cached_some(&a->cmp, session_model(A), session_model(B), session_ids(A), n,
                                                                       a->sc->chunked ? -1 : 0, &e) : NULL;
    /* a run going on from the last text's result (a decode step): what is scored so far, so
     * the band does not flash "computing" at every step */
    CompareResult part;
    if (!cr && a->cmp.running && a->cmp.grown && a->cmp.run.scored >= 1) {
        const int k = a->cmp.run.scored;
        part = a->cmp.r;
        part.n = k;
        part.mean_loss_a = a->cmp.run.sa / k;
        part.mean_loss_b = a->cmp.run.sb / k;
        part.mean_kl_ab = a->cmp.run.sk / k;
        cr = &part;
    }
    char line[512];
    if (!cr && a->cmp.running) {
        snprintf(line, sizeof line, tr("loss and KL(A\xe2\x80\x96" "B) per token: computing %d/%d positions..."), a->cmp.run.scored, a->cmp.n - 1);
        canvas_text_fit(c, r.x + 1, r.y, line, r.w - 2, sty(CR_DIM));
        canvas_pop_clip(c);
        return rows;
    }
    if (!cr) {
        /* the reason in the UI's language where it is the common one (a model with another
         * vocabulary beside A); other analysis errors stay as the analysis wrote them */
        char why[256];
        const int Va = engines ? session_model(A)->spec.vocab_size : 0, Vb = engines ? session_model(B)->spec.vocab_size : 0;
        if (engines && Va != Vb) snprintf(why, sizeof why, tr("none (the two models have different vocabularies: %d and %d tokens)"), Va, Vb);
        else snprintf(why, sizeof why, "%s", n < 2 ? tr("the text needs two tokens") : e.msg);
        snprintf(line, sizeof line, tr("loss and KL(A\xe2\x80\x96" "B) per token: %s"), why);
        canvas_text_fit(c, r.x + 1, r.y, line, r.w - 2, sty(CR_WARN));
        canvas_pop_clip(c);
        return rows;
    }
    int cur = session_cursor(A) < 0 ? 0 : session_cursor(A);
    int n_tok = cr->n + 1;
    /* header: the means; each strip ends with its value at the cursor's token, which the header
     * names. The widest wording that fits (80x24: the shortest means with the token): fewer words
     * around the means, then the cursor's token text (its position stays), then the cursor */
    const char *bma = c->unicode ? "B\xe2\x88\x92" "A" : "B-A";
    const double la = cr->mean_loss_a, lb = cr->mean_loss_b, kl = cr->mean_kl_ab;
    char mean[4][256], at[2][160] = {"", ""}, vis[96] = "";
    if (c->unicode)
        snprintf(mean[0], sizeof mean[0], tr("A vs B on A's text, %d tokens, mean nats/token: loss A %.4f  B %.4f  B\xe2\x88\x92" "A %+.4f  KL(A\xe2\x80\x96" "B) %.4f"),
                 n_tok, la, lb, lb - la, kl);
    else        /* the same words without the math symbols */
        snprintf(mean[0], sizeof mean[0], tr("A vs B on A's text, %d tokens, mean nats/token: loss A %.4f  B %.4f  B-A %+.4f  KL(A||B) %.4f"),
                 n_tok, la, lb, lb - la, kl);
    snprintf(mean[1], sizeof mean[1], tr("on A's text (%d tok), mean nats: A %.4f B %.4f %s %+.4f KL %.4f"), n_tok, la, lb, bma, lb - la, kl);
    snprintf(mean[2], sizeof mean[2], tr("mean nats (%d tok): A %.4f B %.4f %s %+.4f KL %.4f"), n_tok, la, lb, bma, lb - la, kl);
    snprintf(mean[3], sizeof mean[3], tr("mean: A %.4f B %.4f %s %+.4f KL %.4f"), la, lb, bma, lb - la, kl);
    if (cur >= 1 && cur < n_tok) {
        char tk[64];
        panel_tok_text(A, session_ids(A)[cur], tk, sizeof tk);
        tok_visible(tk, vis, sizeof vis, c->unicode);
        snprintf(at[0], sizeof at[0], tr("  %s at %s (pos %d)"), c->unicode ? "\xe2\x94\x82" : "|", vis, cur);
        snprintf(at[1], sizeof at[1], tr("  %s pos %d"), c->unicode ? "\xe2\x94\x82" : "|", cur);
    }
    /* (means, cursor) pairs, widest first; cursor 2: the token cut to the room left, with an
     * ellipsis, when at least two of its columns fit ("│ at ␣ther… (pos 6)", not "│ pos 6") */
    static const int ORDER[][2] = {{0, 0}, {1, 0}, {1, 2}, {2, 0}, {2, 2}, {1, 1}, {2, 1}, {3, 2}, {3, 1}, {3, -1}};
    enum { NW = (int)(sizeof ORDER / sizeof ORDER[0]) };
    char words[NW][420];
    const char *wc[NW];
    int nw = 0;
    for (int k = 0; k < NW; k++) {
        const int m = ORDER[k][0], w = ORDER[k][1];
        char cut[160] = "";
        if (w == 2 && *at[0]) {
            char frame[160], tok[112];
            snprintf(frame, sizeof frame, tr("  %s at %s (pos %d)"), c->unicode ? "\xe2\x94\x82" : "|", "", cur);
            const int room = r.w - 2 - text_width(mean[m], c->unicode) - text_width(frame, c->unicode);
            int tw;
            if (room >= 3 && text_width(vis, c->unicode) > room) {
                size_t nb = text_fit_bytes(vis, room - 1, c->unicode, &tw);
                snprintf(tok, sizeof tok, "%.*s%s", (int)nb, vis, c->unicode ? "\xe2\x80\xa6" : "~");
                snprintf(cut, sizeof cut, tr("  %s at %s (pos %d)"), c->unicode ? "\xe2\x94\x82" : "|", tok, cur);
            }
        }
        if (w == 2 && !*cut) continue;       /* the whole token fits, or not two columns of it */
        snprintf(words[nw], sizeof words[nw], "%s%s", mean[m], w == 2 ? cut : w >= 0 ? at[w] : "");
        wc[nw] = words[nw];
        nw++;
    }
    panel_text_pick(c, r.x + 1, r.y, wc, nw, r.w - 2, sty(CR_TEXT));
    /* scales: one for both losses (so their colours compare), one for the difference, one for KL */
    double lmax = 0, dmax = 0, kmax = 0;
    int m = cr->n;
    double *diff = malloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
    if (!diff) { canvas_pop_clip(c); return rows; }
    for (int i = 0; i < m; i++) {
        lmax = fmax(lmax, fmax(cr->loss_a[i], cr->loss_b[i]));
        diff[i] = cr->loss_b[i] - cr->loss_a[i];
        dmax = fmax(dmax, fabs(diff[i]));
        kmax = fmax(kmax, cr->kl_ab[i]);
    }
    Strip s[4] = {{tr("loss A"), cr->loss_a, false, lmax, 0}, {tr("loss B"), cr->loss_b, false, lmax, 1},
                  {c->unicode ? "B\xe2\x88\x92" "A" : "B-A", diff, true, dmax, 0}, {c->unicode ? "KL(A\xe2\x80\x96" "B)" : "KL(A|B)", cr->kl_ab, false, kmax, 0}};
    int cols = rows == 5 ? 1 : 2, sw = (r.w - 2) / cols - (cols > 1 ? 1 : 0);
    int cells = sw - BAND_LABEL_W - BAND_VALUE_W;
    int p0 = 0;
    if (cells > 0 && n_tok > cells) {
        p0 = cur - cells * 3 / 4;
        if (p0 > n_tok - cells) p0 = n_tok - cells;
        if (p0 < 0) p0 = 0;
    }
    for (int k = 0; k < 4; k++) {
        int row = cols == 1 ? k : k / 2, col = cols == 1 ? 0 : k % 2;
        draw_strip(c, r.x + 1 + col * (sw + 2), r.y + 1 + row, sw, &s[k], n_tok, p0, cur);
    }
    free(diff);
    canvas_pop_clip(c);
    return rows;
}
