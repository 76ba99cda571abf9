/* Heatmap: half-block cells in colour (two data rows per text row), glyph ramp in mono.
 * Allocates one pooled grid per call (units_x * units_y floats). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tui/widgets/widgets.h"

/* theme colours, read when drawing (the theme can change between frames) */
#define MASK_BG theme_color(CR_MASK_BG)
#define MASK_FG theme_color(CR_MASK)
#define SEL_COL theme_color(CR_MARK)
#define SEL_MARK_U "\xe2\x96\x91"   /* ░ */
#define SEL_MARK_A "&"

static float scale_t(float v, float lo, float hi, bool div) {
    if (div) {
        float m = fmaxf(fabsf(lo), fabsf(hi));
        return m > 0 ? v / m : 0.0f;
    }
    return hi > lo ? (v - lo) / (hi - lo) : 0.5f;
}

/* One-character strings for every ASCII glyph (ramps return a char). */
static const char *ascii_str(char ch) {
    static const char T[] = " \0.\0:\0-\0=\0+\0*\0#\0%\0@\0x\0o\0/\0";
    for (size_t i = 0; i + 1 < sizeof T; i += 2)
        if (T[i] == ch) return &T[i];
    return "?";
}

Style w_ramp_style(const Canvas *c, float t, bool diverging, const char **glyph) {
    Style s = {diverging ? ramp_div(t) : ramp_seq(t), color_default(), 0};
    if (c->mono || !c->unicode) {
        if (glyph) *glyph = ascii_str(diverging ? ramp_ascii_div(t) : ramp_ascii(t));
        if (c->mono) s = sty(CR_TEXT);
    } else if (glyph) {
        *glyph = "\xe2\x96\x88";    /* full block */
    }
    return s;
}

HeatLayout w_heatmap(Canvas *c, Rect r, const HeatSpec *hs) {
    HeatLayout L;
    memset(&L, 0, sizeof L);
    L.rows = hs->rows;
    L.cols = hs->cols;
    if (r.w <= 0 || r.h <= 0 || hs->rows <= 0 || hs->cols <= 0 || !hs->get) return L;
    bool half = !c->mono && c->unicode;    /* half blocks need colour and UTF-8 */
    int maxk = hs->max_cell > 0 ? hs->max_cell : 4;
    int cap_y = half ? 2 * r.h : r.h;
    int k = 1;
    if (hs->cols <= r.w && hs->rows <= cap_y) {
        k = r.w / hs->cols;
        if (k > maxk) k = maxk;
        if (half) { while (k > 1 && hs->rows * k > 2 * r.h) k--; }
        else { while (k > 1 && hs->rows * (k / 2 > 1 ? k / 2 : 1) > r.h) k--; }
        if (k < 1) k = 1;
    }
    int ux = hs->cols < r.w ? hs->cols : r.w;
    int uy = hs->rows < cap_y ? hs->rows : cap_y;
    int hk = half ? k : (k / 2 > 1 ? k / 2 : 1);      /* unit height: half-rows or rows */
    L.units_x = ux;
    L.units_y = uy;
    L.k = k;
    L.half = half;
    float *grid = malloc(sizeof(float) * (size_t)ux * (size_t)uy);
    if (!grid) return L;
    float lo = INFINITY, hi = -INFINITY;
    for (int j = 0; j < uy; j++) {
        int r0 = (int)((long)j * hs->rows / uy), r1 = (int)((long)(j + 1) * hs->rows / uy);
        if (r1 <= r0) r1 = r0 + 1;
        for (int i = 0; i < ux; i++) {
            int c0 = (int)((long)i * hs->cols / ux), c1 = (int)((long)(i + 1) * hs->cols / ux);
            if (c1 <= c0) c1 = c0 + 1;
            float m = NAN;
            for (int rr = r0; rr < r1; rr++)
                for (int cc = c0; cc < c1; cc++) {
                    float v = hs->get(hs->ud, rr, cc);
                    if (isnan(v)) continue;
                    if (isnan(m) || v > m) m = v;
                }
            grid[j * ux + i] = m;
            if (!isnan(m) && isfinite(m)) { if (m < lo) lo = m; if (m > hi) hi = m; }
        }
    }
    if (hs->lo < hs->hi) { lo = hs->lo; hi = hs->hi; }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    L.lo = lo;
    L.hi = hi;
    int sel_ux = -1, sel_uy = -1;
    if (hs->sel_r >= 0 && hs->sel_c >= 0 && hs->sel_r < hs->rows && hs->sel_c < hs->cols) {
        sel_ux = (int)((long)hs->sel_c * ux / hs->cols);
        sel_uy = (int)((long)hs->sel_r * uy / hs->rows);
    }
    int text_h = half ? (uy * k + 1) / 2 : uy * hk;
    L.used = rect_make(r.x, r.y, ux * k, text_h < r.h ? text_h : r.h);
    canvas_push_clip(c, r);
    for (int y = 0; y < L.used.h; y++) {
        for (int x = 0; x < L.used.w; x++) {
            int ui = x / k;
            if (half) {
                int ut = (2 * y) / k, ub = (2 * y + 1) / k;
                bool has_b = ub < uy;
                float vt = grid[ut * ux + ui], vb = has_b ? grid[ub * ux + ui] : NAN;
                bool mt = isnan(vt), mb = has_b && isnan(vb);
                Color ct = mt ? MASK_BG : hs->diverging ? ramp_div(scale_t(vt, lo, hi, true)) : ramp_seq(scale_t(vt, lo, hi, false));
                Color cb = !has_b ? color_default() : mb ? MASK_BG
                         : hs->diverging ? ramp_div(scale_t(vb, lo, hi, true)) : ramp_seq(scale_t(vb, lo, hi, false));
                if (ui == sel_ux && ut == sel_uy) ct = SEL_COL;
                if (has_b && ui == sel_ux && ub == sel_uy) cb = SEL_COL;
                Style st = {ct, cb, 0};
                if (mt && (mb || !has_b) && !(ui == sel_ux && (ut == sel_uy || ub == sel_uy))) {
                    Style ms = {MASK_FG, has_b ? MASK_BG : color_default(), 0};
                    canvas_glyph(c, r.x + x, r.y + y, c->unicode ? "\xe2\x95\xb1" : "/", ms);
                } else {
                    canvas_glyph(c, r.x + x, r.y + y, c->unicode ? "\xe2\x96\x80" : "#", st);
                }
            } else {
                int uj = y / hk;
                if (uj >= uy) continue;
                float v = grid[uj * ux + ui];
                char g[2] = {0, 0};
                Style st = sty(CR_TEXT);
                bool sel = ui == sel_ux && uj == sel_uy;
                if (!c->mono) {             /* colour without UTF-8: one unit per row, bg colour */
                    g[0] = isnan(v) ? '/' : ' ';
                    st.fg = MASK_FG;
                    st.bg = isnan(v) ? MASK_BG : hs->diverging ? ramp_div(scale_t(v, lo, hi, true)) : ramp_seq(scale_t(v, lo, hi, false));
                    if (sel) st.bg = SEL_COL;
                } else {
                    if (isnan(v)) g[0] = '/';
                    else g[0] = hs->diverging ? ramp_ascii_div(scale_t(v, lo, hi, true)) : ramp_ascii(scale_t(v, lo, hi, false));
                    if (sel) st.attr |= ATTR_REVERSE;
                }
                /* A selected blank cell needs a mark that survives a plain-text dump (where
                 * reverse video is lost); it must not be a ramp glyph ('@' reads as "max"). */
                const char *gs = g;
                if (sel && c->mono && g[0] == ' ') gs = c->unicode ? SEL_MARK_U : SEL_MARK_A;
                canvas_glyph(c, r.x + x, r.y + y, gs, st);
            }
        }
    }
    canvas_pop_clip(c);
    free(grid);
    return L;
}

bool w_heatmap_hit(const HeatLayout *hl, int x, int y, int *row, int *col) {
    if (hl->k <= 0 || !rect_contains(hl->used, x, y)) return false;
    int ui = (x - hl->used.x) / hl->k;
    int uj = hl->half ? (2 * (y - hl->used.y)) / hl->k : (y - hl->used.y) / (hl->k / 2 > 1 ? hl->k / 2 : 1);
    if (ui >= hl->units_x || uj >= hl->units_y) return false;
    *col = (int)((long)ui * hl->cols / hl->units_x);
    *row = (int)((long)uj * hl->rows / hl->units_y);
    return true;
}

void w_legend(Canvas *c, int x, int y, int w, float lo, float hi, bool diverging) {
    char a[32], b[32];
    if (diverging) { float m = fmaxf(fabsf(lo), fabsf(hi)); lo = -m; hi = m; }
    snprintf(a, sizeof a, "%.3g ", (double)lo);
    snprintf(b, sizeof b, " %.3g", (double)hi);
    int aw = (int)strlen(a), bw = (int)strlen(b);
    int n = w - aw - bw;
    if (n < 2) return;
    if (n > 24) n = 24;
    canvas_push_clip(c, rect_make(x, y, w, 1));
    int cx = canvas_text(c, x, y, a, sty(CR_DIM));
    for (int i = 0; i < n; i++) {
        float t = n > 1 ? (float)i / (float)(n - 1) : 0.5f;
        if (diverging) t = 2 * t - 1;
        const char *g;
        Style s = w_ramp_style(c, t, diverging, &g);
        canvas_glyph(c, cx + i, y, g, s);
    }
    canvas_text(c, cx + n, y, b, sty(CR_DIM));
    canvas_pop_clip(c);
}

/* The screen unit that shows data index i of n, over `units` units (the inverse of the
 * pooling in w_heatmap_hit: unit u shows data u*n/units ..). */
static int unit_of(int i, int n, int units) {
    int u = 0;
    while (u + 1 < units && (long)(u + 1) * n / units <= i) u++;
    return u;
}

Rect w_heatmap_cell_rect(const HeatLayout *hl, int row, int col) {
    if (hl->k <= 0 || hl->units_x <= 0 || hl->units_y <= 0 || hl->used.w <= 0 || row >= hl->rows || col >= hl->cols)
        return rect_make(0, 0, 0, 0);
    Rect r = hl->used;
    if (col >= 0) {
        int ui = unit_of(col, hl->cols, hl->units_x);
        r.x = hl->used.x + ui * hl->k;
        r.w = hl->k;
    } else {
        r.w = hl->units_x * hl->k;
    }
    if (row >= 0) {
        int uj = unit_of(row, hl->rows, hl->units_y);
        if (hl->half) {
            int y0 = (uj * hl->k) / 2, y1 = ((uj + 1) * hl->k - 1) / 2;
            r.y = hl->used.y + y0;
            r.h = y1 - y0 + 1;
        } else {
            int per = hl->k / 2 > 1 ? hl->k / 2 : 1;
            r.y = hl->used.y + uj * per;
            r.h = per;
        }
    }
    return rect_intersect(r, hl->used);
}
