/* Canvas: cells, clipping, UTF-8 text with utf8proc widths, text and ANSI dumps. */
#include "tui/canvas.h"
#include "tui/theme.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- rectangles ------------------------------------------------------------------ */

Rect rect_intersect(Rect a, Rect b) {
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    Rect r = {x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0};
    return r;
}

Rect rect_inset(Rect r, int n) {
    Rect o = {r.x + n, r.y + n, r.w - 2 * n, r.h - 2 * n};
    if (o.w < 0) o.w = 0;
    if (o.h < 0) o.h = 0;
    return o;
}

/* ---- graphemes ------------------------------------------------------------------- */

typedef struct {
    char b[8];
    uint8_t len;
    int width;          /* columns: 1 or 2; 0 for a cluster that starts with a mark */
} Graph;

static const char REPL[] = "\xef\xbf\xbd";   /* U+FFFD */

static void graph_set(Graph *g, const char *bytes, int width) {
    size_t n = strlen(bytes);
    memcpy(g->b, bytes, n);
    g->len = (uint8_t)n;
    g->width = width;
}

/* The ASCII stand-in for a character the UI's own strings use (separators, arrows, quotes,
 * lines, blocks) when the terminal cannot show Unicode; '?' for anything else (text, CJK). */
static char ascii_of(utf8proc_int32_t cp) {
    switch (cp) {
    case 0x00B7: case 0x2022: case 0x2219: case 0x22C5: return '.';   /* middle dots, bullet */
    case 0x2026: case 0x2248: case 0x223C: return '~';                 /* ellipsis, approx */
    case 0x2192: case 0x25B6: case 0x25B8: case 0x25BA: case 0x2265: case 0x00BB: return '>';
    case 0x2190: case 0x25C0: case 0x25C2: case 0x2264: case 0x00AB: return '<';
    case 0x2191: case 0x25B2: return '^';
    case 0x2193: case 0x25BC: return 'v';
    case 0x2212: case 0x2013: case 0x2014: case 0x2010: case 0x2011: return '-';
    case 0x2016: return '|';
    case 0x00D7: case 0x2717: case 0x2715: return 'x';
    case 0x201C: case 0x201D: case 0x201E: return '"';
    case 0x2018: case 0x2019: case 0x201A: return '\'';
    case 0x2423: return '_';
    case 0x25CF: case 0x25C6: case 0x2605: return '*';
    case 0x25CB: case 0x25C7: return 'o';
    case 0x00A0: case 0x2002: case 0x2003: case 0x2009: case 0x202F: return ' ';
    default: break;
    }
    if (cp >= 0x2500 && cp <= 0x257F) {                               /* box drawing */
        switch (cp) {
        case 0x2500: case 0x2501: case 0x2504: case 0x2505: case 0x2508: case 0x2509:
        case 0x254C: case 0x254D: case 0x2550: case 0x2574: case 0x2576: case 0x2578: case 0x257A: return '-';
        case 0x2502: case 0x2503: case 0x2506: case 0x2507: case 0x250A: case 0x250B:
        case 0x254E: case 0x254F: case 0x2551: case 0x2575: case 0x2577: case 0x2579: case 0x257B: return '|';
        default: return '+';
        }
    }
    if (cp >= 0x2580 && cp <= 0x259F) return '#';                     /* block elements */
    return '?';
}

/* Reads one grapheme cluster from s; returns the bytes consumed (0 at the end). */
static size_t graph_next(const char *s, bool unicode, Graph *g) {
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    if (!*p) return 0;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
    if (n <= 0) {                                /* invalid byte: one replacement char */
        graph_set(g, unicode ? REPL : "?", 1);
        return 1;
    }
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
        graph_set(g, unicode ? REPL : "?", 1);
        return (size_t)n;
    }
    int w0 = utf8proc_charwidth(cp);
    size_t used = (size_t)n;
    memcpy(g->b, s, (size_t)n);
    g->len = (uint8_t)n;
    utf8proc_int32_t prev = cp, state = 0;
    for (;;) {
        utf8proc_int32_t c2;
        utf8proc_ssize_t n2 = utf8proc_iterate(p + used, -1, &c2);
        if (n2 <= 0 || c2 == 0) break;
        if (c2 < 0x20 || c2 == 0x7f) break;
        if (utf8proc_grapheme_break_stateful(prev, c2, &state)) break;
        if (g->len + n2 <= 8) {                  /* marks beyond 8 bytes are dropped */
            memcpy(g->b + g->len, s + used, (size_t)n2);
            g->len = (uint8_t)(g->len + n2);
        }
        used += (size_t)n2;
        prev = c2;
    }
    if (!unicode) {
        if (cp >= 0x80) { char a1[2] = {ascii_of(cp), 0}; graph_set(g, a1, 1); }
        else g->width = 1;
        return used;
    }
    g->width = w0 >= 2 ? 2 : w0 == 1 ? 1 : 0;
    return used;
}

int text_width(const char *s, bool unicode) {
    int w = 0;
    Graph g;
    size_t n;
    while (s && (n = graph_next(s, unicode, &g)) > 0) { w += g.width; s += n; }
    return w;
}

size_t text_next_grapheme(const char *s) {
    Graph g;
    return s ? graph_next(s, true, &g) : 0;
}

size_t text_fit_bytes(const char *s, int max_w, bool unicode, int *w_out) {
    int w = 0;
    size_t off = 0, n;
    Graph g;
    while (s && (n = graph_next(s + off, unicode, &g)) > 0) {
        if (w + g.width > max_w) break;
        w += g.width;
        off += n;
    }
    if (w_out) *w_out = w;
    return off;
}

/* ---- canvas ---------------------------------------------------------------------- */

static void cell_blank(Cell *cell, Style st) {
    cell->ch[0] = ' ';
    cell->len = 1;
    cell->width = 1;
    cell->attr = st.attr;
    cell->fg = st.fg;
    cell->bg = st.bg;
}

Canvas *canvas_new(int w, int h) {
    Canvas *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->unicode = true;
    if (!canvas_resize(c, w, h)) { free(c); return NULL; }
    return c;
}

void canvas_free(Canvas *c) {
    if (!c) return;
    free(c->cells);
    free(c->targets);
    free(c);
}

bool canvas_resize(Canvas *c, int w, int h) {
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    if (w > 4096) w = 4096;
    if (h > 4096) h = 4096;
    Cell *cells = malloc(sizeof(Cell) * (size_t)w * (size_t)h);
    if (!cells) return false;
    free(c->cells);
    c->cells = cells;
    c->w = w;
    c->h = h;
    c->n_clip = 0;
    c->clip = rect_make(0, 0, w, h);
    Style st = {{0, 0, 0, CR_DEFAULT}, {0, 0, 0, CR_DEFAULT}, 0};
    canvas_clear(c, st);
    return true;
}

void canvas_clear(Canvas *c, Style st) {
    c->n_targets = 0;
    for (int i = 0; i < c->w * c->h; i++) cell_blank(&c->cells[i], st);
}

void canvas_push_clip(Canvas *c, Rect r) {
    if (c->n_clip < CANVAS_CLIP_DEPTH) c->clip_stack[c->n_clip] = c->clip;
    c->n_clip++;
    c->clip = rect_intersect(c->clip, r);
}

void canvas_pop_clip(Canvas *c) {
    if (c->n_clip <= 0) return;
    c->n_clip--;
    if (c->n_clip < CANVAS_CLIP_DEPTH) c->clip = c->clip_stack[c->n_clip];
}

Rect canvas_clip_rect(const Canvas *c) { return c->clip; }

const Cell *canvas_cell(const Canvas *c, int x, int y) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return NULL;
    return &c->cells[y * c->w + x];
}

static inline bool in_clip(const Canvas *c, int x, int y) { return rect_contains(c->clip, x, y); }

/* Writes one grapheme, keeping wide characters whole: overwriting either half of a wide
 * character blanks the other half. */
static void put_graph(Canvas *c, int x, int y, const char *b, int len, int width, Style st) {
    if (!in_clip(c, x, y)) return;
    if (width == 2 && !in_clip(c, x + 1, y)) { b = " "; len = 1; width = 1; }
    Cell *row = &c->cells[y * c->w];
    Cell *cell = &row[x];
    if (cell->width == 0 && x > 0) cell_blank(&row[x - 1], (Style){row[x - 1].fg, row[x - 1].bg, row[x - 1].attr});
    if (cell->width == 2 && x + 1 < c->w) cell_blank(&row[x + 1], (Style){cell->fg, cell->bg, cell->attr});
    if (width == 2) {
        Cell *nx = &row[x + 1];
        if (nx->width == 2 && x + 2 < c->w) cell_blank(&row[x + 2], (Style){nx->fg, nx->bg, nx->attr});
    }
    memcpy(cell->ch, b, (size_t)len);
    cell->len = (uint8_t)len;
    cell->width = (uint8_t)width;
    cell->attr = st.attr;
    cell->fg = st.fg;
    cell->bg = st.bg;
    if (width == 2) {
        Cell *nx = &row[x + 1];
        nx->len = 0;
        nx->width = 0;
        nx->attr = st.attr;
        nx->fg = st.fg;
        nx->bg = st.bg;
    }
}

/* Appends the bytes of a zero-width cluster to the cell left of x (combining mark at the
 * start of a string). */
static void attach_mark(Canvas *c, int x, int y, const Graph *g) {
    int lx = x - 1;
    const Cell *lc = canvas_cell(c, lx, y);
    if (lc && lc->width == 0) lx--;
    if (!in_clip(c, lx, y) || lx < 0) return;
    Cell *cell = &c->cells[y * c->w + lx];
    if (cell->len == 0 || cell->len + g->len > 8) return;
    memcpy(cell->ch + cell->len, g->b, g->len);
    cell->len = (uint8_t)(cell->len + g->len);
}

int canvas_text(Canvas *c, int x, int y, const char *s, Style st) {
    if (!s) return x;
    Graph g;
    size_t n;
    int right = c->clip.x + c->clip.w;
    bool row_ok = y >= c->clip.y && y < c->clip.y + c->clip.h;
    while ((n = graph_next(s, c->unicode, &g)) > 0) {
        s += n;
        if (g.width == 0) {
            if (row_ok) attach_mark(c, x, y, &g);
            continue;
        }
        if (row_ok && x < right) put_graph(c, x, y, g.b, g.len, g.width, st);
        x += g.width;
    }
    return x;
}

int canvas_text_fit(Canvas *c, int x, int y, const char *s, int max_w, Style st) {
    if (!s || max_w <= 0) return 0;
    int w = text_width(s, c->unicode);
    if (w <= max_w) { canvas_text(c, x, y, s, st); return w; }
    int fw;
    size_t nb = text_fit_bytes(s, max_w - 1, c->unicode, &fw);
    /* text cut after a letter, digit or joining mark ("entering each layer (rows) at e…", and
     * "at most…" too: it reads as a cut word) goes back to the last blank, or break after a
     * Chinese character ("... (rows) at …"): an ellipsis after a blank stands for whole words
     * left out. Only when that keeps two thirds of the room, so a label such as
     * "k0   <|endofte…" keeps its token's start. */
    if (nb > 0 && s[nb] && s[nb - 1] != ' ') {
        size_t i = 0, last = 0, brk = 0;
        int wi = 0, wbrk = 0, pc = -1;
        while (i < nb) {
            const size_t g = text_next_grapheme(s + i);
            if (!g) break;
            const int cl = text_break_class(s + i);
            if ((pc == TB_CJK || pc == TB_CLOSE || pc == TB_CLOSE_NARROW) && cl != TB_SPACE && text_break_between(pc, cl)) { brk = i; wbrk = wi; }
            char one[16];
            const size_t gl = g < sizeof one ? g : sizeof one - 1;
            memcpy(one, s + i, gl);
            one[gl] = 0;
            wi += text_width(one, c->unicode);
            last = i;
            i += g;
            if (cl == TB_SPACE) { brk = i; wbrk = wi; }
            pc = cl;
        }
        const char l = s[last];
        const bool digit_before = last > 0 && s[last - 1] >= '0' && s[last - 1] <= '9';   /* "0." of "0.9822" */
        const bool word = (l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z') || (l >= '0' && l <= '9') || strchr("_/-([{=^", l) ||
                          ((l == '.' || l == ',') && (digit_before || (s[nb] != ' ' && s[nb] != ')')));   /* "config.json" */
        if (word && brk > 0 && 3 * wbrk >= 2 * (max_w - 1)) { nb = brk; fw = wbrk; }
    }
    char buf[1024];
    if (nb >= sizeof buf - 4) nb = sizeof buf - 4;
    memcpy(buf, s, nb);
    buf[nb] = 0;
    int ex = canvas_text(c, x, y, buf, st);
    canvas_glyph(c, ex, y, c->unicode ? "\xe2\x80\xa6" : "~", st);
    return fw + 1;
}

int canvas_printf(Canvas *c, int x, int y, Style st, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return canvas_text(c, x, y, buf, st);
}

void canvas_glyph(Canvas *c, int x, int y, const char *gl, Style st) {
    Graph g;
    size_t n = graph_next(gl, c->unicode, &g);
    if (!n || g.width == 0) return;
    put_graph(c, x, y, g.b, g.len, g.width, st);
}

void canvas_fill(Canvas *c, Rect r, const char *glyph, Style st) {
    r = rect_intersect(r, c->clip);
    Graph g;
    if (!graph_next(glyph ? glyph : " ", c->unicode, &g) || g.width == 0) graph_set(&g, " ", 1);
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x + g.width <= r.x + r.w; x += g.width) put_graph(c, x, y, g.b, g.len, g.width, st);
}

void canvas_target(Canvas *c, Rect r, const char *fmt, ...) {
    if (!c->targets) c->targets = calloc(CANVAS_MAX_TARGETS, sizeof *c->targets);
    if (!c->targets || c->n_targets >= CANVAS_MAX_TARGETS) return;
    CanvasTarget *t = &c->targets[c->n_targets++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    snprintf(t->owner, sizeof t->owner, "%s", c->owner);
    t->r = rect_intersect(r, c->clip);
    if (t->r.w <= 0 || t->r.h <= 0) t->r = rect_make(r.x, r.y, 0, 0);
}

const CanvasTarget *canvas_target_find(const Canvas *c, const char *name, int *from) {
    for (int i = from ? *from : 0; i < c->n_targets; i++)
        if (!strcmp(c->targets[i].name, name)) {
            if (from) *from = i + 1;
            return &c->targets[i];
        }
    return NULL;
}

void canvas_restyle(Canvas *c, Rect r, Style st) {
    r = rect_intersect(r, c->clip);
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            Cell *cell = &c->cells[y * c->w + x];
            cell->fg = st.fg;
            cell->bg = st.bg;
            cell->attr = st.attr;
        }
}

/* ---- dumps ----------------------------------------------------------------------- */

typedef struct { char *p; size_t n, cap; bool oom; } Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_str(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

static char *buf_done(Buf *b) {
    if (b->oom) { free(b->p); return NULL; }
    if (!b->p) buf_put(b, "", 0);
    return b->p;
}

char *canvas_to_text(const Canvas *c) {
    Buf b = {0};
    for (int y = 0; y < c->h; y++) {
        size_t keep = b.n;          /* end of the last non-blank cell */
        for (int x = 0; x < c->w; x++) {
            const Cell *cell = &c->cells[y * c->w + x];
            if (cell->width == 0) continue;
            buf_put(&b, cell->ch, cell->len);
            if (!(cell->len == 1 && cell->ch[0] == ' ')) keep = b.n;
        }
        if (!b.oom) { b.n = keep; if (b.p) b.p[b.n] = 0; }
        buf_put(&b, "\n", 1);
    }
    return buf_done(&b);
}

int color_to_256(uint8_t r, uint8_t g, uint8_t b) {
    static const int lv[6] = {0, 95, 135, 175, 215, 255};
    int ci[3], v[3] = {r, g, b};
    for (int k = 0; k < 3; k++) ci[k] = v[k] < 48 ? 0 : v[k] < 115 ? 1 : (v[k] - 35) / 40;
    int cr = lv[ci[0]], cg = lv[ci[1]], cb = lv[ci[2]];
    long dc = (long)(cr - r) * (cr - r) + (long)(cg - g) * (cg - g) + (long)(cb - b) * (cb - b);
    int avg = (r + g + b) / 3;
    int gi = avg < 8 ? 0 : (avg - 3) / 10;
    if (gi > 23) gi = 23;
    int gv = 8 + 10 * gi;
    long dg = (long)(gv - r) * (gv - r) + (long)(gv - g) * (gv - g) + (long)(gv - b) * (gv - b);
    if (dg < dc) return 232 + gi;
    return 16 + 36 * ci[0] + 6 * ci[1] + ci[2];
}

/* xterm's default colours 0..15 (what the 16-colour codes show on an unconfigured xterm) */
static const uint8_t XTERM16[16][3] = {
    {0, 0, 0}, {205, 0, 0}, {0, 205, 0}, {205, 205, 0}, {0, 0, 238}, {205, 0, 205},
    {0, 205, 205}, {229, 229, 229}, {127, 127, 127}, {255, 0, 0}, {0, 255, 0},
    {255, 255, 0}, {92, 92, 255}, {255, 0, 255}, {0, 255, 255}, {255, 255, 255}};

void color_index_rgb(int i, uint8_t rgb[3]) {
    static const int lv[6] = {0, 95, 135, 175, 215, 255};
    if (i < 0 || i > 255) i = 0;
    if (i < 16) { memcpy(rgb, XTERM16[i], 3); return; }
    if (i >= 232) { rgb[0] = rgb[1] = rgb[2] = (uint8_t)(8 + 10 * (i - 232)); return; }
    i -= 16;
    rgb[0] = (uint8_t)lv[i / 36];
    rgb[1] = (uint8_t)lv[(i / 6) % 6];
    rgb[2] = (uint8_t)lv[i % 6];
}

int color_to_16(uint8_t r, uint8_t g, uint8_t b) {
    static const uint8_t (*pal)[3] = XTERM16;
    int best = 0;
    long bd = -1;
    for (int i = 0; i < 16; i++) {
        long dr = pal[i][0] - r, dg = pal[i][1] - g, db = pal[i][2] - b;
        long d = dr * dr + dg * dg + db * db;
        if (bd < 0 || d < bd) { bd = d; best = i; }
    }
    return best;
}

int text_break_class(const char *g) {
    static const utf8proc_int32_t CLOSE[] = {0xff0c, 0x3002, 0x3001, 0xff1b, 0xff1a, 0xff01, 0xff1f, 0xff09, 0x300d, 0x300f,
                                             0x3011, 0x300b, 0x3009, 0xff05, 0xff0e};
    /* closing marks Latin text uses too ("q·k", "don’t", "...”"): no break before them, and
     * after them only before Chinese (or an opening mark) */
    static const utf8proc_int32_t CLOSE_NARROW[] = {0x201d, 0x2019, 0x2026, 0x00b7};
    static const utf8proc_int32_t OPEN[] = {0xff08, 0x300c, 0x300e, 0x3010, 0x300a, 0x3008, 0x201c, 0x2018};
    utf8proc_int32_t cp;
    if (!g || !*g || utf8proc_iterate((const utf8proc_uint8_t *)g, -1, &cp) <= 0) return TB_TEXT;
    if (cp == ' ') return TB_SPACE;
    if (cp == '\n') return TB_NL;
    for (size_t i = 0; i < sizeof CLOSE / sizeof CLOSE[0]; i++) if (cp == CLOSE[i]) return TB_CLOSE;
    for (size_t i = 0; i < sizeof CLOSE_NARROW / sizeof CLOSE_NARROW[0]; i++) if (cp == CLOSE_NARROW[i]) return TB_CLOSE_NARROW;
    for (size_t i = 0; i < sizeof OPEN / sizeof OPEN[0]; i++) if (cp == OPEN[i]) return TB_OPEN;
    if (cp == 0x2060 || cp == 0x00a0 || cp == 0x202f || cp == 0xfeff) return TB_GLUE;
    if ((cp >= 0x2e80 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xffef) || cp >= 0x20000)
        return TB_CJK;
    return TB_TEXT;
}

bool text_break_between(int a, int b) {
    if (b == TB_CLOSE || b == TB_CLOSE_NARROW || a == TB_OPEN || a == TB_GLUE || b == TB_GLUE) return false;
    if (a == TB_CLOSE_NARROW) return b == TB_CJK || b == TB_OPEN;
    return b == TB_CJK || b == TB_OPEN || a == TB_CJK || a == TB_CLOSE;
}

int text_wrap_slack(int w) {
    const int s = w / 8 < 6 ? 6 : w / 8 > 8 ? 8 : w / 8;
    return s < w / 4 ? s : w / 4;
}

int text_char_class(int cp) {
    if (cp <= 0x20 || cp == 0x7f || cp == 0xa0 || cp == 0x3000) return 0;
    if (cp >= 0x2500 && cp <= 0x259f) return 0;       /* box drawing, block elements */
    if (cp >= 0x2800 && cp <= 0x28ff) return 0;       /* braille */
    utf8proc_category_t cat = utf8proc_category(cp);
    if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF) return 0;
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) return 2;
    return 1;
}

bool cell_is_text(const Cell *cell) {
    if (!cell->len) return false;
    utf8proc_int32_t cp;
    if (utf8proc_iterate((const utf8proc_uint8_t *)cell->ch, cell->len, &cp) <= 0) return false;
    return text_char_class(cp) > 0;
}

static Color index_color(int i) {
    uint8_t v[3];
    color_index_rgb(i, v);
    Color c = {v[0], v[1], v[2], CR_DATA};
    return c;
}

void color_cell_indexes(ColorMode mode, Color fg, Color bg, bool text, int *fi, int *bi) {
    bool m16 = mode == CMODE_16;
    *fi = m16 ? color_to_16(fg.r, fg.g, fg.b) : color_to_256(fg.r, fg.g, fg.b);
    *bi = m16 ? color_to_16(bg.r, bg.g, bg.b) : color_to_256(bg.r, bg.g, bg.b);
    if (!text) return;
    Color b = index_color(*bi);
    if (color_contrast(index_color(*fi), b) >= 3.0) return;
    /* the nearest index (RGB distance) among those that contrast enough; 0..15 only in
     * 16-colour mode, the fixed cube and greys (16..255) in 256-colour mode */
    int lo = m16 ? 0 : 16, hi = m16 ? 16 : 256, best = -1;
    long bd = 0;
    for (int i = lo; i < hi; i++) {
        Color c = index_color(i);
        if (color_contrast(c, b) < 3.0) continue;
        long dr = (long)c.r - fg.r, dg = (long)c.g - fg.g, db = (long)c.b - fg.b;
        long d = dr * dr + dg * dg + db * db;
        if (best < 0 || d < bd) { bd = d; best = i; }
    }
    if (best >= 0) *fi = best;
}

uint8_t cell_mono_attr(const Cell *cell) {
    uint8_t a = cell->attr;
    switch (cell->bg.role) {
    case CR_SELECT: case CR_HEADER: case CR_CURRENT: case CR_FLABEL: a |= ATTR_REVERSE; break;
    default: break;
    }
    return a;
}

static void sgr_index(Buf *b, int i, bool fg, ColorMode mode) {
    char t[32];
    if (mode == CMODE_16) snprintf(t, sizeof t, ";%d", (i < 8 ? (fg ? 30 : 40) : (fg ? 90 : 100)) + (i & 7));
    else snprintf(t, sizeof t, ";%d;5;%d", fg ? 38 : 48, i);
    buf_str(b, t);
}

static void sgr_colors(Buf *b, const Cell *cell, ColorMode mode) {
    /* the theme paints its own background and text: CR_DEFAULT resolves to them */
    Color fg = theme_resolve(cell->fg, true), bg = theme_resolve(cell->bg, false);
    if (mode == CMODE_TRUE) {
        char t[64];
        snprintf(t, sizeof t, ";38;2;%d;%d;%d;48;2;%d;%d;%d", fg.r, fg.g, fg.b, bg.r, bg.g, bg.b);
        buf_str(b, t);
    } else if (mode == CMODE_256 || mode == CMODE_16) {
        int fi, bi;
        color_cell_indexes(mode, fg, bg, cell_is_text(cell), &fi, &bi);
        sgr_index(b, fi, true, mode);
        sgr_index(b, bi, false, mode);
    }
}

static bool same_style(const Cell *a, const Cell *b, ColorMode mode) {
    if (mode == CMODE_NONE) return cell_mono_attr(a) == cell_mono_attr(b);
    return a->attr == b->attr && !memcmp(&a->fg, &b->fg, sizeof a->fg) && !memcmp(&a->bg, &b->bg, sizeof a->bg) &&
           (mode == CMODE_TRUE || cell_is_text(a) == cell_is_text(b));
}

char *canvas_to_ansi(const Canvas *c, ColorMode mode) {
    Buf b = {0};
    for (int y = 0; y < c->h; y++) {
        const Cell *prev = NULL;
        for (int x = 0; x < c->w; x++) {
            const Cell *cell = &c->cells[y * c->w + x];
            if (cell->width == 0) continue;
            if (!prev || !same_style(prev, cell, mode)) {
                uint8_t a = mode == CMODE_NONE ? cell_mono_attr(cell) : cell->attr;
                buf_str(&b, "\x1b[0");
                if (a & ATTR_BOLD) buf_str(&b, ";1");
                if (a & ATTR_DIM) buf_str(&b, ";2");
                if (a & ATTR_UNDERLINE) buf_str(&b, ";4");
                if (a & ATTR_REVERSE) buf_str(&b, ";7");
                if (mode != CMODE_NONE) sgr_colors(&b, cell, mode);
                buf_str(&b, "m");
                prev = cell;
            }
            buf_put(&b, cell->ch, cell->len);
        }
        buf_str(&b, "\x1b[0m\n");
    }
    return buf_done(&b);
}

