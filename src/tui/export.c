/* Canvas export as SVG and HTML (see export.h). */
#include "tui/export.h"
#include "tui/theme.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *p; size_t n, cap; bool fail; } XB;

static void xb_put(XB *b, const char *s, size_t n) {
    if (b->fail) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->fail = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void xb_str(XB *b, const char *s) { xb_put(b, s, strlen(s)); }

static void xb_printf(XB *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xb_printf(XB *b, const char *fmt, ...) {
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    if (n < 0) { b->fail = true; return; }
    xb_put(b, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
}

/* XML text/attribute escaping; bytes below 0x20 (never produced by canvas_text) dropped. */
static void xb_esc(XB *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '&': xb_str(b, "&amp;"); break;
        case '<': xb_str(b, "&lt;"); break;
        case '>': xb_str(b, "&gt;"); break;
        case '"': xb_str(b, "&quot;"); break;
        case '\'': xb_str(b, "&#39;"); break;
        default:
            if (ch >= 0x20) xb_put(b, s + i, 1);
        }
    }
}

static char *xb_done(XB *b) {
    if (b->fail) { free(b->p); return NULL; }
    if (!b->p) xb_put(b, "", 0);
    return b->fail ? NULL : b->p;
}

bool export_format_parse(const char *name, ExportFormat *out) {
    static const char *N[] = {"text", "ansi", "svg", "html"};
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, N[i])) { *out = (ExportFormat)i; return true; }
    return false;
}

const char *export_format_ext(ExportFormat f) {
    switch (f) {
    case EXPORT_ANSI: return "ansi";
    case EXPORT_SVG: return "svg";
    case EXPORT_HTML: return "html";
    default: return "txt";
    }
}

/* Resolved colours of a cell: defaults filled in, reverse video applied. bg_set says the
 * background differs from the page (a non-default colour, or reversed). */
typedef struct { Color fg, bg; bool bg_set; uint8_t attr; } Look;

static Look cell_look(const Cell *cell, Color dfg, Color dbg) {
    Look k;
    k.fg = cell->fg.role == CR_DEFAULT ? dfg : cell->fg;
    k.bg = cell->bg.role == CR_DEFAULT ? dbg : cell->bg;
    k.bg_set = cell->bg.role != CR_DEFAULT;
    k.attr = cell->attr;
    if (cell->attr & ATTR_REVERSE) {
        Color t = k.fg;
        k.fg = k.bg;
        k.bg = t;
        k.bg_set = true;
    }
    return k;
}

static bool same_rgb(Color a, Color b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static void hex(char out[8], Color c) { snprintf(out, 8, "#%02x%02x%02x", c.r, c.g, c.b); }

/* Block elements drawn as rectangles so they tile without gaps: fraction of the cell
 * covered, from the left (lx..rx) and from the top (ty..by), in eighths. */
static bool block_shape(const Cell *cell, int *lx, int *rx, int *ty, int *by) {
    if (cell->len != 3 || (unsigned char)cell->ch[0] != 0xe2 || (unsigned char)cell->ch[1] != 0x96) return false;
    unsigned c = (unsigned char)cell->ch[2];
    *lx = 0; *rx = 8; *ty = 0; *by = 8;
    if (c == 0x80) { *by = 4; return true; }                       /* ▀ upper half */
    if (c >= 0x81 && c <= 0x88) { *ty = 8 - (int)(c - 0x80); return true; }   /* ▁..█ lower eighths */
    if (c >= 0x89 && c <= 0x8f) { *rx = 8 - (int)(c - 0x88); return true; }   /* ▉..▏ left eighths */
    if (c == 0x90) { *lx = 4; return true; }                       /* ▐ right half */
    if (c == 0x94) { *by = 1; return true; }                       /* ▔ upper eighth */
    if (c == 0x95) { *lx = 7; return true; }                       /* ▕ right eighth */
    return false;
}

/* Light box-drawing characters drawn as strokes so frames join without gaps: the arms
 * from the cell centre, as bits (1 left, 2 right, 4 up, 8 down); 0 for any other glyph. */
static int box_arms(const Cell *cell) {
    if (cell->len != 3 || (unsigned char)cell->ch[0] != 0xe2 || (unsigned char)cell->ch[1] != 0x94) return 0;
    switch ((unsigned char)cell->ch[2]) {
    case 0x80: return 1 | 2;            /* ─ */
    case 0x82: return 4 | 8;            /* │ */
    case 0x8c: return 2 | 8;            /* ┌ */
    case 0x90: return 1 | 8;            /* ┐ */
    case 0x94: return 2 | 4;            /* └ */
    case 0x98: return 1 | 4;            /* ┘ */
    case 0x9c: return 2 | 4 | 8;        /* ├ */
    case 0xa4: return 1 | 4 | 8;        /* ┤ */
    case 0xac: return 1 | 2 | 8;        /* ┬ */
    case 0xb4: return 1 | 2 | 4;        /* ┴ */
    case 0xbc: return 1 | 2 | 4 | 8;    /* ┼ */
    default: return 0;
    }
}

static void svg_attrs(XB *b, const Look *k) {
    char f[8];
    hex(f, k->fg);
    xb_printf(b, " fill=\"%s\"", f);
    if (k->attr & ATTR_BOLD) xb_str(b, " font-weight=\"bold\"");
    if (k->attr & ATTR_UNDERLINE) xb_str(b, " text-decoration=\"underline\"");
    if (k->attr & ATTR_DIM) xb_str(b, " opacity=\"0.6\"");
}

static bool look_same_text(const Look *a, const Look *b) {
    return same_rgb(a->fg, b->fg) && (a->attr & ~ATTR_REVERSE) == (b->attr & ~ATTR_REVERSE);
}

static bool is_space(const Cell *cell) { return cell->len == 1 && cell->ch[0] == ' '; }

char *canvas_to_svg_colors(const Canvas *c, Color dfg, Color dbg) {
    XB b = {0};
    const double cw = EXPORT_CELL_W;
    const int ch = EXPORT_CELL_H;
    const double W = cw * c->w;
    const int H = ch * c->h;
    char bgx[8];
    hex(bgx, dbg);
    xb_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.1f\" height=\"%d\" viewBox=\"0 0 %.1f %d\" "
                  "font-size=\"14\" xml:space=\"preserve\" font-family=\"", W, H, W, H);
    xb_esc(&b, EXPORT_FONT_STACK, strlen(EXPORT_FONT_STACK));
    xb_str(&b, "\">\n");
    xb_printf(&b, "<rect width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", W, H, bgx);
    /* backgrounds: runs of one colour per row */
    xb_str(&b, "<g shape-rendering=\"crispEdges\">\n");
    for (int y = 0; y < c->h; y++) {
        int x = 0;
        while (x < c->w) {
            const Cell *cell = canvas_cell(c, x, y);
            if (cell->width == 0 && x > 0) cell = canvas_cell(c, x - 1, y);
            Look k = cell_look(cell, dfg, dbg);
            int x1 = x + 1;
            while (x1 < c->w) {
                const Cell *n = canvas_cell(c, x1, y);
                if (n->width == 0) n = canvas_cell(c, x1 - 1, y);
                Look kn = cell_look(n, dfg, dbg);
                if (kn.bg_set != k.bg_set || !same_rgb(kn.bg, k.bg)) break;
                x1++;
            }
            if (k.bg_set && !same_rgb(k.bg, dbg)) {
                char f[8];
                hex(f, k.bg);
                xb_printf(&b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", x * cw, y * ch, (x1 - x) * cw, ch, f);
            }
            x = x1;
        }
    }
    /* block elements as rectangles in the foreground colour */
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const Cell *cell = canvas_cell(c, x, y);
            int lx, rx, ty, by;
            if (!block_shape(cell, &lx, &rx, &ty, &by)) continue;
            Look k = cell_look(cell, dfg, dbg);
            char f[8];
            hex(f, k.fg);
            xb_printf(&b, "<rect class=\"b\" x=\"%.2f\" y=\"%.3f\" width=\"%.2f\" height=\"%.3f\" fill=\"%s\"%s/>\n",
                      (x + lx / 8.0) * cw, y * ch + ty * ch / 8.0, (rx - lx) / 8.0 * cw, (by - ty) * ch / 8.0, f,
                      (k.attr & ATTR_DIM) ? " opacity=\"0.6\"" : "");
        }
    /* box drawing as strokes */
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            const Cell *cell = canvas_cell(c, x, y);
            int arms = box_arms(cell);
            if (!arms) continue;
            Look k = cell_look(cell, dfg, dbg);
            char f[8];
            hex(f, k.fg);
            double cx = (x + 0.5) * cw, cy = y * ch + ch / 2.0;
            xb_printf(&b, "<path class=\"l\" stroke=\"%s\" stroke-width=\"1.2\" fill=\"none\"%s d=\"", f, (k.attr & ATTR_DIM) ? " opacity=\"0.6\"" : "");
            if (arms & 1) xb_printf(&b, "M%.2f %.1fH%.2f", x * cw, cy, cx + 0.6);
            if (arms & 2) xb_printf(&b, "M%.2f %.1fH%.2f", cx - 0.6, cy, (x + 1) * cw);
            if (arms & 4) xb_printf(&b, "M%.2f %dV%.1f", cx, y * ch, cy + 0.6);
            if (arms & 8) xb_printf(&b, "M%.2f %.1fV%d", cx, cy - 0.6, (y + 1) * ch);
            xb_str(&b, "\"/>\n");
        }
    xb_str(&b, "</g>\n<g>\n");
    /* text: runs of narrow characters with one look, stretched to their columns; each wide
     * character on its own over its two columns */
    for (int y = 0; y < c->h; y++) {
        int x = 0;
        while (x < c->w) {
            const Cell *cell = canvas_cell(c, x, y);
            int lx, rx, ty, by;
            if (cell->width == 0 || cell->len == 0 || block_shape(cell, &lx, &rx, &ty, &by) || box_arms(cell) ||
                (is_space(cell) && !(cell->attr & ATTR_UNDERLINE))) { x++; continue; }
            Look k = cell_look(cell, dfg, dbg);
            int x1 = x + cell->width;
            if (cell->width == 1) {
                /* extend over narrow cells of the same look; spaces inside are kept */
                int last = x1;
                while (x1 < c->w) {
                    const Cell *n = canvas_cell(c, x1, y);
                    if (n->width != 1 || n->len == 0 || block_shape(n, &lx, &rx, &ty, &by) || box_arms(n)) break;
                    Look kn = cell_look(n, dfg, dbg);
                    if (!is_space(n) && !look_same_text(&kn, &k)) break;
                    if (is_space(n) && (n->attr & ATTR_UNDERLINE) != (cell->attr & ATTR_UNDERLINE)) break;
                    x1++;
                    if (!is_space(n)) last = x1;
                }
                x1 = last;
            }
            xb_printf(&b, "<text x=\"%.1f\" y=\"%d\" textLength=\"%.1f\" lengthAdjust=\"spacingAndGlyphs\"", x * cw, y * ch + 13, (x1 - x) * cw);
            svg_attrs(&b, &k);
            xb_str(&b, ">");
            for (int i = x; i < x1; i++) {
                const Cell *t = canvas_cell(c, i, y);
                if (t->width == 0) continue;
                xb_esc(&b, t->ch, t->len);
            }
            xb_str(&b, "</text>\n");
            x = x1;
        }
    }
    xb_str(&b, "</g>\n</svg>\n");
    return xb_done(&b);
}

char *canvas_to_html(const Canvas *c, Color dfg, Color dbg, const char *title) {
    XB b = {0};
    char fg[8], bg[8];
    hex(fg, dfg);
    hex(bg, dbg);
    xb_str(&b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>");
    const char *t = title && title[0] ? title : "llmscope";
    xb_esc(&b, t, strlen(t));
    xb_str(&b, "</title>\n<style>\npre.llmscope { font-family: ");
    xb_esc(&b, EXPORT_FONT_STACK, strlen(EXPORT_FONT_STACK));
    xb_printf(&b, "; font-size: 14px; line-height: %dpx; color: %s; background: %s; padding: 8px; display: inline-block; }\n"
                  "pre.llmscope span { white-space: pre; }\n</style>\n</head>\n<body style=\"background: %s\">\n<pre class=\"llmscope\">",
              EXPORT_CELL_H, fg, bg, bg);
    for (int y = 0; y < c->h; y++) {
        /* trailing default blanks trimmed, like canvas_to_text */
        int end = c->w;
        while (end > 0) {
            const Cell *e = canvas_cell(c, end - 1, y);
            Look k = cell_look(e, dfg, dbg);
            if (!((is_space(e) || e->len == 0) && !k.bg_set && !(e->attr & ATTR_UNDERLINE))) break;
            end--;
        }
        int x = 0;
        while (x < end) {
            const Cell *cell = canvas_cell(c, x, y);
            Look k = cell_look(cell, dfg, dbg);
            int x1 = x + 1;
            while (x1 < end) {
                const Cell *n = canvas_cell(c, x1, y);
                Look kn = cell_look(n, dfg, dbg);
                if (n->width != 0 && (!look_same_text(&kn, &k) || kn.bg_set != k.bg_set || !same_rgb(kn.bg, k.bg))) break;
                x1++;
            }
            bool plain = same_rgb(k.fg, dfg) && !k.bg_set && !(k.attr & (ATTR_BOLD | ATTR_UNDERLINE | ATTR_DIM));
            if (!plain) {
                char f[8], g[8];
                hex(f, k.fg);
                hex(g, k.bg);
                xb_printf(&b, "<span style=\"color:%s", f);
                if (k.bg_set) xb_printf(&b, ";background:%s", g);
                if (k.attr & ATTR_BOLD) xb_str(&b, ";font-weight:bold");
                if (k.attr & ATTR_UNDERLINE) xb_str(&b, ";text-decoration:underline");
                if (k.attr & ATTR_DIM) xb_str(&b, ";opacity:0.6");
                xb_str(&b, "\">");
            }
            for (int i = x; i < x1; i++) {
                const Cell *tc = canvas_cell(c, i, y);
                if (tc->width == 0) continue;
                xb_esc(&b, tc->ch, tc->len);
            }
            if (!plain) xb_str(&b, "</span>");
            x = x1;
        }
        xb_str(&b, "\n");
    }
    xb_str(&b, "</pre>\n</body>\n</html>\n");
    return xb_done(&b);
}

char *canvas_to_svg(const Canvas *c) {
    return canvas_to_svg_colors(c, theme_resolve(color_default(), true), theme_resolve(color_default(), false));
}

char *canvas_export(const Canvas *c, ExportFormat f, const char *title) {
    Color dfg = theme_resolve(color_default(), true), dbg = theme_resolve(color_default(), false);
    switch (f) {
    case EXPORT_ANSI: return canvas_to_ansi(c, c->mono ? CMODE_NONE : CMODE_TRUE);
    case EXPORT_SVG: return canvas_to_svg_colors(c, dfg, dbg);
    case EXPORT_HTML: return canvas_to_html(c, dfg, dbg, title);
    default: return canvas_to_text(c);
    }
}
