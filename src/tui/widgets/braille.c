/* Braille plots: 2x4 dots per cell (U+2800 + bits). Dot (dx, dy) -> bit:
 *   dx=0: dy 0..3 -> 0x01 0x02 0x04 0x40;  dx=1: dy 0..3 -> 0x08 0x10 0x20 0x80.
 * In ASCII a cell with any dot draws '*'. Allocates one dot grid per call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tui/widgets/widgets.h"

typedef struct {
    int w, h;              /* cells */
    uint8_t *bits;         /* [h][w] */
    Color *col;            /* [h][w] */
    uint8_t *busy;         /* [h][w] occupied by a label or marker */
} Dots;

static bool dots_init(Dots *d, int w, int h) {
    d->w = w;
    d->h = h;
    size_t n = (size_t)w * (size_t)h;
    d->bits = calloc(n, 1);
    d->col = calloc(n, sizeof(Color));
    d->busy = calloc(n, 1);
    return d->bits && d->col && d->busy;
}

static void dots_free(Dots *d) { free(d->bits); free(d->col); free(d->busy); }

static void dot_set(Dots *d, int px, int py, Color col) {
    static const uint8_t BIT[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};
    if (px < 0 || py < 0 || px >= 2 * d->w || py >= 4 * d->h) return;
    int cx = px / 2, cy = py / 4;
    d->bits[cy * d->w + cx] |= BIT[px & 1][py & 3];
    d->col[cy * d->w + cx] = col;
}

static void dot_line(Dots *d, int x0, int y0, int x1, int y1, Color col) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 100000; guard++) {
        dot_set(d, x0, y0, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

static void dots_blit(Canvas *c, const Dots *d, int x, int y) {
    for (int j = 0; j < d->h; j++)
        for (int i = 0; i < d->w; i++) {
            uint8_t b = d->bits[j * d->w + i];
            if (!b || d->busy[j * d->w + i]) continue;
            Style st = {d->col[j * d->w + i], color_default(), 0};
            if (c->mono) st = sty(CR_TEXT);
            if (c->unicode) {
                char g[4] = {(char)0xe2, (char)(0xa0 + (b >> 6)), (char)(0x80 + (b & 0x3f)), 0};
                canvas_glyph(c, x + i, y + j, g, st);
            } else {
                canvas_glyph(c, x + i, y + j, "*", st);
            }
        }
}

/* Places a label at (cx, cy) if every cell is free of dots and labels. */
static bool try_label(Canvas *c, Dots *d, int ox, int oy, int cx, int cy, const char *s, Style st) {
    int lw = text_width(s, c->unicode);
    if (cy < 0 || cy >= d->h || cx < 0 || cx + lw > d->w) return false;
    for (int i = 0; i < lw; i++)
        if (d->bits[cy * d->w + cx + i] || d->busy[cy * d->w + cx + i]) return false;
    for (int i = 0; i < lw; i++) d->busy[cy * d->w + cx + i] = 1;
    canvas_text(c, ox + cx, oy + cy, s, st);
    return true;
}

Rect w_scatter_fit(Rect r, const ScatterPt *pts, int n) {
    float x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].y)) continue;
        x0 = fminf(x0, pts[i].x); x1 = fmaxf(x1, pts[i].x);
        y0 = fminf(y0, pts[i].y); y1 = fmaxf(y1, pts[i].y);
    }
    if (!(x0 <= x1) || r.w <= 0 || r.h <= 0) return r;
    /* the scale w_scatter picks (one dot is as wide as it is tall), and the dot rows it needs */
    float xr = x1 - x0 > 1e-12f ? x1 - x0 : 1, yr = y1 - y0 > 1e-12f ? y1 - y0 : 1;
    float W = (float)(2 * r.w - 1), H = (float)(4 * r.h - 1);
    float s = fminf(W / xr, H / yr);
    int rows = (int)ceilf((yr * s + 1) / 4) + 2;    /* a row above and below for the labels */
    if (rows < r.h) r.h = rows;
    return r;
}

void w_scatter(Canvas *c, Rect r, const ScatterPt *pts, int n, bool keep_aspect) {
    if (r.w <= 0 || r.h <= 0 || n <= 0) return;
    Dots d;
    if (!dots_init(&d, r.w, r.h)) { dots_free(&d); return; }
    float x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].y)) continue;
        x0 = fminf(x0, pts[i].x); x1 = fmaxf(x1, pts[i].x);
        y0 = fminf(y0, pts[i].y); y1 = fmaxf(y1, pts[i].y);
    }
    if (!(x0 <= x1)) { dots_free(&d); return; }
    float xr = x1 - x0 > 1e-12f ? x1 - x0 : 1, yr = y1 - y0 > 1e-12f ? y1 - y0 : 1;
    float W = (float)(2 * r.w - 1), H = (float)(4 * r.h - 1);
    float sx = W / xr, sy = H / yr;
    float offx = 0, offy = 0;
    if (keep_aspect) {
        float s = fminf(sx, sy);
        offx = (W - xr * s) / 2;
        offy = (H - yr * s) / 2;
        sx = sy = s;
    }
    int *px = malloc(sizeof(int) * (size_t)n * 2);
    if (!px) { dots_free(&d); return; }
    for (int i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].y)) { px[2 * i] = -1; continue; }
        px[2 * i] = (int)lrintf(offx + (pts[i].x - x0) * sx);
        px[2 * i + 1] = (int)lrintf(H - offy - (pts[i].y - y0) * sy);
        dot_set(&d, px[2 * i], px[2 * i + 1], pts[i].color);
    }
    canvas_push_clip(c, r);
    /* selected points: a marker glyph and their label first (they always get room) */
    for (int i = 0; i < n; i++) {
        if (!pts[i].sel || px[2 * i] < 0) continue;
        int cx = px[2 * i] / 2, cy = px[2 * i + 1] / 4;
        d.busy[cy * d.w + cx] = 1;
        canvas_glyph(c, r.x + cx, r.y + cy, c->unicode ? "\xe2\x97\x86" : "@", sty_attr(CR_ACCENT, ATTR_BOLD));
        if (c->owner[0]) canvas_target(c, rect_make(r.x + cx, r.y + cy, 1, 1), "%s.point", c->owner);   /* lesson target */
    }
    dots_blit(c, &d, r.x, r.y);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (px[2 * i] < 0 || !pts[i].label || !*pts[i].label || pts[i].sel != (pass == 0)) continue;
            int cx = px[2 * i] / 2, cy = px[2 * i + 1] / 4;
            Style st = pts[i].sel ? sty_attr(CR_ACCENT, ATTR_BOLD) : (Style){pts[i].color, color_default(), 0};
            if (c->mono) st = pts[i].sel ? sty_attr(CR_TEXT, ATTR_BOLD | ATTR_UNDERLINE) : sty(CR_TEXT);
            int lw = text_width(pts[i].label, c->unicode);
            if (!try_label(c, &d, r.x, r.y, cx + 1, cy, pts[i].label, st))
                if (!try_label(c, &d, r.x, r.y, cx - lw - 1, cy, pts[i].label, st))
                    if (!try_label(c, &d, r.x, r.y, cx - lw / 2, cy - 1, pts[i].label, st))
                        try_label(c, &d, r.x, r.y, cx - lw / 2, cy + 1, pts[i].label, st);
        }
    canvas_pop_clip(c);
    free(px);
    dots_free(&d);
}

static void fmt_default(double v, char *buf, int cap) { snprintf(buf, (size_t)cap, "%.3g", v); }

void w_lineplot(Canvas *c, Rect r, const Series *s, int ns, double x0, double x1, double ylo, double yhi,
                int ylabel_w, AxisFmt yfmt, AxisFmt xfmt) {
    if (!yfmt) yfmt = fmt_default;
    if (!xfmt) xfmt = fmt_default;
    if (ylabel_w < 0) ylabel_w = 0;
    int pw = r.w - ylabel_w, ph = r.h - 1;
    if (pw < 2 || ph < 1) return;
    if (!(ylo < yhi)) {
        ylo = INFINITY; yhi = -INFINITY;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++)
                if (isfinite(s[k].y[i])) { ylo = fmin(ylo, s[k].y[i]); yhi = fmax(yhi, s[k].y[i]); }
        if (!(ylo <= yhi)) { ylo = 0; yhi = 1; }
        if (yhi - ylo < 1e-12) { yhi += 0.5; ylo -= 0.5; }
    }
    Dots d;
    if (!dots_init(&d, pw, ph)) { dots_free(&d); return; }
    int W = 2 * pw - 1, H = 4 * ph - 1;
    for (int k = 0; k < ns; k++) {
        int lx = 0, ly = 0;
        bool have = false;
        for (int i = 0; i < s[k].n; i++) {
            double v = s[k].y[i];
            if (!isfinite(v)) { have = false; continue; }
            int xx = s[k].n > 1 ? (int)lrint((double)i * W / (s[k].n - 1)) : 0;
            double t = (v - ylo) / (yhi - ylo);
            if (t < 0) t = 0;
            if (t > 1) t = 1;
            int yy = (int)lrint(H - t * H);
            if (have) dot_line(&d, lx, ly, xx, yy, s[k].color);
            else dot_set(&d, xx, yy, s[k].color);
            lx = xx; ly = yy; have = true;
        }
    }
    canvas_push_clip(c, r);
    dots_blit(c, &d, r.x + ylabel_w, r.y);
    char buf[32];
    if (ylabel_w > 1) {
        for (int row = 0; row < ph; row++)
            canvas_glyph(c, r.x + ylabel_w - 1, r.y + row, c->unicode ? "\xe2\x94\x82" : "|", sty(CR_FRAME));
        yfmt(yhi, buf, sizeof buf);
        canvas_text_fit(c, r.x, r.y, buf, ylabel_w - 1, sty(CR_DIM));
        if (ph > 1) {
            yfmt(ylo, buf, sizeof buf);
            canvas_text_fit(c, r.x, r.y + ph - 1, buf, ylabel_w - 1, sty(CR_DIM));
        }
    }
    xfmt(x0, buf, sizeof buf);
    canvas_text(c, r.x + ylabel_w, r.y + ph, buf, sty(CR_DIM));
    xfmt(x1, buf, sizeof buf);
    int bw = text_width(buf, c->unicode);
    canvas_text(c, r.x + r.w - bw, r.y + ph, buf, sty(CR_DIM));
    canvas_pop_clip(c);
    dots_free(&d);
}

void w_dial(Canvas *c, Rect r, const DialHand *hands, int n) {
    if (r.w < 3 || r.h < 2) return;
    Dots d;
    if (!dots_init(&d, r.w, r.h)) { dots_free(&d); return; }
    /* dots are about square: a cell is 2 dots wide and 4 tall, twice as tall as wide */
    int W = 2 * r.w, H = 4 * r.h;
    float cx = (float)(W - 1) / 2, cy = (float)(H - 1) / 2;
    float R = fminf(cx, cy);
    Color ring = theme_color(CR_FRAME);
    int steps = (int)(R * 8) + 16;
    for (int i = 0; i < steps; i++) {
        float a = 2.0f * (float)M_PI * (float)i / (float)steps;
        dot_set(&d, (int)lrintf(cx + R * cosf(a)), (int)lrintf(cy - R * sinf(a)), ring);
    }
    for (int k = 0; k < n; k++) {
        float len = hands[k].len < 0 ? 0 : hands[k].len > 1 ? 1 : hands[k].len;
        if (!isfinite(hands[k].angle)) continue;
        int x1 = (int)lrintf(cx + R * len * cosf(hands[k].angle));
        int y1 = (int)lrintf(cy - R * len * sinf(hands[k].angle));
        dot_line(&d, (int)lrintf(cx), (int)lrintf(cy), x1, y1, hands[k].color);
    }
    canvas_push_clip(c, r);
    dots_blit(c, &d, r.x, r.y);
    canvas_pop_clip(c);
    dots_free(&d);
}
