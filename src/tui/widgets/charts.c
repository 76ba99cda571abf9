/* Sparkline, horizontal bars, histogram (eighth-block glyphs, ASCII fallbacks). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tui/widgets/widgets.h"

void w_sparkline(Canvas *c, int x, int y, int w, const float *v, int n, float lo, float hi, Style st) {
    if (w <= 0 || n <= 0 || !v) return;
    int first = n > w ? n - w : 0;
    if (!(lo < hi)) {
        lo = INFINITY; hi = -INFINITY;
        for (int i = first; i < n; i++) if (isfinite(v[i])) { lo = fminf(lo, v[i]); hi = fmaxf(hi, v[i]); }
        if (!(lo <= hi)) return;
    }
    canvas_push_clip(c, rect_make(x, y, w, 1));
    for (int i = first; i < n; i++) {
        if (!isfinite(v[i])) { canvas_glyph(c, x + i - first, y, c->unicode ? "\xc2\xb7" : ".", sty(CR_DIM)); continue; }
        float t = hi > lo ? (v[i] - lo) / (hi - lo) : 0.5f;
        int e = 1 + (int)lrintf(t * 7.0f);
        canvas_glyph(c, x + i - first, y, glyph_vbar(c, e), st);
    }
    canvas_pop_clip(c);
}

void w_bars(Canvas *c, Rect r, const Bar *bars, int n, float vmax, int label_w, int note_w) {
    if (r.w <= 0 || r.h <= 0) return;
    canvas_push_clip(c, r);
    if (label_w > r.w / 2) label_w = r.w / 2;
    int bar_x = r.x + label_w + (label_w > 0 ? 1 : 0);
    int bar_w = r.x + r.w - bar_x - (note_w > 0 ? note_w + 1 : 0);
    if (bar_w < 1) { note_w = 0; bar_w = r.x + r.w - bar_x; }
    for (int i = 0; i < n && i < r.h; i++) {
        int y = r.y + i;
        const Bar *b = &bars[i];
        if (label_w > 0 && b->label)
            canvas_text_fit(c, r.x, y, b->label, label_w, b->highlight ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_TEXT));
        float f = vmax > 0 && isfinite(b->value) ? b->value / vmax : 0;
        if (f < 0) f = 0;
        if (f > 1) f = 1;
        long e8 = lrintf(f * (float)bar_w * 8.0f);
        if (e8 == 0 && f > 0) e8 = 1;             /* a non-zero value stays visible */
        int full = (int)(e8 / 8), part = (int)(e8 % 8);
        for (int k = 0; k < full && k < bar_w; k++) canvas_glyph(c, bar_x + k, y, glyph_hbar(c, 8), b->style);
        if (part && full < bar_w) canvas_glyph(c, bar_x + full, y, glyph_hbar(c, part), b->style);
        if (note_w > 0 && b->note) {
            int tw = text_width(b->note, c->unicode);
            int nx = r.x + r.w - note_w + (tw < note_w ? note_w - tw : 0);
            canvas_text_fit(c, nx, y, b->note, note_w, b->highlight ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
        }
    }
    canvas_pop_clip(c);
}

void w_hist(Canvas *c, Rect r, const double *counts, int nbins, double lo, double hi, bool logy, Style st) {
    if (r.w <= 0 || r.h < 2 || nbins <= 0 || !counts) return;
    canvas_push_clip(c, r);
    int rows = r.h - 1;
    int cols = nbins < r.w ? nbins : r.w;
    int cw = nbins < r.w ? r.w / nbins : 1;      /* columns per bin when bins are few */
    if (cw < 1) cw = 1;
    double colv[512];
    if (cols > 512) cols = 512;
    double vmax = 0;
    for (int i = 0; i < cols; i++) {
        int b0 = (int)((long)i * nbins / cols), b1 = (int)((long)(i + 1) * nbins / cols);
        if (b1 <= b0) b1 = b0 + 1;
        double s = 0;
        for (int b = b0; b < b1; b++) s += counts[b];
        colv[i] = logy ? log1p(s) : s;
        if (colv[i] > vmax) vmax = colv[i];
    }
    for (int i = 0; i < cols; i++) {
        long e8 = vmax > 0 ? lrint(colv[i] / vmax * rows * 8) : 0;
        if (e8 == 0 && colv[i] > 0) e8 = 1;
        for (int k = 0; k < cw; k++) {
            int x = r.x + i * cw + k;
            for (int row = 0; row < rows; row++) {
                long lvl = e8 - (long)row * 8;
                if (lvl <= 0) break;
                canvas_glyph(c, x, r.y + rows - 1 - row, glyph_vbar(c, lvl >= 8 ? 8 : (int)lvl), st);
            }
        }
    }
    char a[32], b[32];
    snprintf(a, sizeof a, "%.3g", lo);
    snprintf(b, sizeof b, "%.3g", hi);
    int y = r.y + r.h - 1, plot_w = cols * cw;
    if (lo < 0 && hi > 0 && plot_w > 0) {          /* mark zero on the axis */
        int zx = r.x + (int)((0 - lo) / (hi - lo) * plot_w);
        canvas_glyph(c, zx, y, c->unicode ? "\xe2\x94\xb4" : "0", sty(CR_DIM));
    }
    canvas_text(c, r.x, y, a, sty(CR_DIM));
    int bw = (int)strlen(b);
    if (plot_w > (int)strlen(a) + bw + 1) canvas_text(c, r.x + plot_w - bw, y, b, sty(CR_DIM));
    canvas_pop_clip(c);
}
