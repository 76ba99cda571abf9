/* Frame, rule, wrapped text, table. */
#include <stdio.h>
#include <string.h>
#include "tui/widgets/widgets.h"

Rect w_frame(Canvas *c, Rect r, const char *title, bool focus) {
    if (r.w < 2 || r.h < 2) return rect_make(r.x, r.y, 0, 0);
    canvas_push_clip(c, r);
    Style fs = sty(focus ? CR_ACCENT : CR_FRAME);
    bool u = c->unicode;
    const char *h = glyph_hline(c), *v = glyph_vline(c);
    int x1 = r.x + r.w - 1, y1 = r.y + r.h - 1;
    for (int x = r.x + 1; x < x1; x++) { canvas_glyph(c, x, r.y, h, fs); canvas_glyph(c, x, y1, h, fs); }
    for (int y = r.y + 1; y < y1; y++) { canvas_glyph(c, r.x, y, v, fs); canvas_glyph(c, x1, y, v, fs); }
    canvas_glyph(c, r.x, r.y, u ? "\xe2\x94\x8c" : "+", fs);
    canvas_glyph(c, x1, r.y, u ? "\xe2\x94\x90" : "+", fs);
    canvas_glyph(c, r.x, y1, u ? "\xe2\x94\x94" : "+", fs);
    canvas_glyph(c, x1, y1, u ? "\xe2\x94\x98" : "+", fs);
    if (title && *title && r.w > 6) {
        char t[256];
        snprintf(t, sizeof t, " %s ", title);
        canvas_text_fit(c, r.x + 2, r.y, t, r.w - 4, sty_attr(focus ? CR_ACCENT : CR_TITLE, ATTR_BOLD));
    }
    canvas_pop_clip(c);
    return rect_inset(r, 1);
}

void w_frame_more(Canvas *c, Rect r, int above, int below, const char *more_fmt) {
    if ((above <= 0 && below <= 0) || r.w < 2 || r.h < 2) return;
    char arrows[64] = "", t[160];
    if (above > 0) snprintf(arrows, sizeof arrows, "%s %d", c->unicode ? "\xe2\x86\x91" : "^", above);
    if (below > 0) {
        const size_t l = strlen(arrows);
        snprintf(arrows + l, sizeof arrows - l, "%s%s %d", l ? "  " : "", c->unicode ? "\xe2\x86\x93" : "v", below);
    }
    char more[128];
    snprintf(more, sizeof more, more_fmt, arrows);
    snprintf(t, sizeof t, " %s ", more);
    const int tw = text_width(t, c->unicode);
    if (tw > r.w - 4) return;
    canvas_text(c, r.x + r.w - 2 - tw, r.y + r.h - 1, t, sty_attr(CR_ACCENT, ATTR_BOLD));
}

void w_rule(Canvas *c, int x, int y, int w, const char *label, Style st) {
    if (w <= 0) return;
    canvas_push_clip(c, rect_make(x, y, w, 1));
    const char *h = glyph_hline(c);
    for (int i = 0; i < w; i++) canvas_glyph(c, x + i, y, h, sty(CR_FRAME));
    if (label && *label && w > 4) {
        char t[256];
        snprintf(t, sizeof t, " %s ", label);
        canvas_text_fit(c, x + 2, y, t, w - 3, st);
    }
    canvas_pop_clip(c);
}

/* Bytes of the unit that starts at p: graphemes up to a blank, a newline or a break
 * opportunity (between two Chinese characters; text_break_between), so a Latin word stays
 * whole and Chinese text breaks anywhere but before closing punctuation. */
static size_t wrap_unit(const char *p) {
    size_t n = 0;
    int prev = -1;
    while (p[n] && p[n] != ' ' && p[n] != '\n') {
        size_t g = text_next_grapheme(p + n);
        if (!g) break;
        int cls = text_break_class(p + n);
        if (prev >= 0 && text_break_between(prev, cls)) break;
        prev = cls;
        n += g;
    }
    return n ? n : 1;
}

/* The width of the Chinese phrase that starts at p (text_wrap_slack): its characters and
 * opening marks, then the closing punctuation after them; 0 when p starts no Chinese. */
static int cjk_phrase_width(const char *p, bool unicode) {
    int w = 0;
    bool close = false;
    for (size_t g; *p && (g = text_next_grapheme(p)) > 0; p += g) {
        const int cls = text_break_class(p);
        if (!close && (cls == TB_CJK || cls == TB_OPEN || cls == TB_GLUE)) { /* in the phrase */ }
        else if (w > 0 && (cls == TB_CLOSE || cls == TB_CLOSE_NARROW)) close = true;
        else break;
        char one[16];
        const size_t l = g < sizeof one ? g : sizeof one - 1;
        memcpy(one, p, l);
        one[l] = 0;
        w += text_width(one, unicode);
    }
    return w;
}

/* The column a key row's description starts at ("p        what-if precision ...": 9; an
 * indented row: its blanks), for the rows it wraps onto; 0 for other lines, and when that
 * would leave less than half the width. */
static int hang_indent(const char *line, int w, bool unicode) {
    size_t n = strcspn(line, "\n"), k = 0;
    if (n && line[0] == ' ') while (k < n && line[k] == ' ') k++;
    else {
        const size_t lim = n < 16 ? n : 16;
        for (size_t i = 0; i + 1 < lim && !k; i++)
            if (line[i] == ' ' && line[i + 1] == ' ') {
                k = i;
                while (k < n && line[k] == ' ') k++;
            }
    }
    if (!k || k >= n) return 0;
    char pre[64];
    const size_t m = k < sizeof pre - 1 ? k : sizeof pre - 1;
    memcpy(pre, line, m);
    pre[m] = 0;
    const int ind = text_width(pre, unicode);
    return 2 * ind <= w ? ind : 0;
}

/* Greedy word wrap; draws when c is non-NULL. Returns rows needed. With hang, the rows a key
 * row wraps onto start under its description (hang_indent), not at the box's left edge. */
static int wrap_do(Canvas *c, Rect r, const char *text, Style st, bool unicode, bool hang) {
    if (!text || r.w <= 0) return 0;
    int row = 0, col = 0, w = r.w;
    bool para_start = true, fresh = false;     /* fresh: a wrapped row with nothing on it yet */
    const char *p = text;
    int ind = hang ? hang_indent(p, w, unicode) : 0;
    int prev = TB_NL;                          /* the class of the last grapheme placed */
    char word[1024];
#define WRAP_ROW() do { row++; col = ind; fresh = true; } while (0)
    while (*p) {
        if (*p == '\n') {
            row++; col = 0; para_start = true; fresh = false; p++; prev = TB_NL;
            ind = hang ? hang_indent(p, w, unicode) : 0;
            continue;
        }
        if (*p == ' ') {
            if (para_start || (col > 0 && !fresh)) {
                if (col + 1 > w) { WRAP_ROW(); para_start = false; }
                else col++;
            }
            p++;
            prev = TB_SPACE;
            continue;
        }
        /* a Chinese phrase that does not fit the rest of the line: before it, not inside it,
         * when that leaves little room empty (text_wrap_slack) */
        if (!fresh && col > 0 && ((prev != TB_CJK && prev != TB_GLUE && prev != TB_OPEN) || text_break_class(p) == TB_OPEN)) {
            const int pw = cjk_phrase_width(p, unicode);
            if (pw > w - col && pw <= w - ind && w - col <= text_wrap_slack(w)) WRAP_ROW();
        }
        size_t wl = wrap_unit(p);
        size_t cl = wl < sizeof word - 1 ? wl : sizeof word - 1;
        memcpy(word, p, cl);
        word[cl] = 0;
        for (size_t i = 0, g; i < cl && (g = text_next_grapheme(word + i)) > 0; i += g) prev = text_break_class(word + i);
        p += wl;
        para_start = false;
        int ww = text_width(word, unicode);
        if (!fresh && col > 0 && col + ww > w) WRAP_ROW();
        const char *q = word;
        while (ww > w - col) {
            int fw;
            size_t nb = text_fit_bytes(q, w - col, unicode, &fw);
            if (nb == 0) {
                if (col == 0 || fresh) break;    /* a 2-column glyph in a 1-column box */
                WRAP_ROW();
                continue;
            }
            if (c) {
                char part[1024];
                memcpy(part, q, nb);
                part[nb] = 0;
                canvas_text(c, r.x + col, r.y + row, part, st);
            }
            q += nb;
            ww -= fw;
            WRAP_ROW();
        }
        if (*q && ww <= w - col) {
            if (c) canvas_text(c, r.x + col, r.y + row, q, st);
            col += ww;
            fresh = false;
        }
    }
#undef WRAP_ROW
    return row + (col > 0 && !fresh ? 1 : 0);
}

int w_text(Canvas *c, Rect r, const char *text, Style st) {
    canvas_push_clip(c, r);
    int rows = wrap_do(c, r, text, st, c->unicode, false);
    canvas_pop_clip(c);
    return rows;
}

int w_text_rows(const char *text, int width, bool unicode) {
    return wrap_do(NULL, rect_make(0, 0, width, 1 << 20), text, sty(CR_TEXT), unicode, false);
}

int w_text_hang(Canvas *c, Rect r, const char *text, Style st) {
    canvas_push_clip(c, r);
    int rows = wrap_do(c, r, text, st, c->unicode, true);
    canvas_pop_clip(c);
    return rows;
}

int w_text_hang_rows(const char *text, int width, bool unicode) {
    return wrap_do(NULL, rect_make(0, 0, width, 1 << 20), text, sty(CR_TEXT), unicode, true);
}

int w_table_layout(const TableCol *cols, int ncols, int w, int *widths) {
    if (ncols > 32) ncols = 32;
    bool hide[32] = {false};
    int hidden = 0;
    for (;;) {
        int fixed = 0, flex = 0, flexmin = 0, tight = 0, shown = 0;
        for (int j = 0; j < ncols; j++) {
            if (hide[j]) continue;
            const int m = cols[j].min > 0 ? cols[j].min : cols[j].width > 0 ? cols[j].width : 1;
            if (cols[j].width > 0) fixed += cols[j].width + 1;
            else { flex++; flexmin += m + 1; }
            tight += m + 1;
            shown++;
        }
        if (!shown) { for (int j = 0; j < ncols; j++) widths[j] = 0; return hidden; }
        /* every column at its width, the flexible ones sharing the rest (each followed by a blank) */
        const int rest = w - fixed;
        bool natural = rest >= flexmin;
        for (int j = 0; natural && j < ncols; j++)
            if (!hide[j] && cols[j].width <= 0 && rest / flex - 1 < (cols[j].min > 0 ? cols[j].min : 1)) natural = false;
        if (natural) {
            for (int j = 0; j < ncols; j++) widths[j] = hide[j] ? 0 : cols[j].width > 0 ? cols[j].width : rest / flex - 1;
            return hidden;
        }
        /* every column at its narrowest (no blank after the last), what is left to the flexible ones */
        if (tight - 1 <= w) {
            const int left = w - (tight - 1);
            for (int j = 0; j < ncols; j++) {
                const int m = cols[j].min > 0 ? cols[j].min : cols[j].width > 0 ? cols[j].width : 1;
                widths[j] = hide[j] ? 0 : m + (cols[j].width <= 0 && flex ? left / flex : 0);
            }
            return hidden;
        }
        int k = -1;                           /* the next to leave out: highest drop, then rightmost */
        for (int j = 0; j < ncols; j++)
            if (!hide[j] && cols[j].drop > 0 && (k < 0 || cols[j].drop >= cols[k].drop)) k = j;
        if (k < 0)
            for (int j = ncols - 1; j > 0 && k < 0; j--) if (!hide[j]) k = j;
        if (k < 0) {                          /* one column wider than the table: cut to it */
            for (int j = 0; j < ncols; j++) widths[j] = hide[j] ? 0 : w;
            return hidden;
        }
        hide[k] = true;
        hidden++;
    }
}

int w_table(Canvas *c, Rect r, const TableCol *cols, int ncols, const char *const *cells, int nrows, int sel) {
    if (r.w <= 0 || r.h <= 0 || ncols <= 0) return 0;
    canvas_push_clip(c, r);
    int widths[32];
    if (ncols > 32) ncols = 32;
    w_table_layout(cols, ncols, r.w, widths);
    int x = r.x;
    Style hs = sty_attr(CR_TITLE, ATTR_BOLD | ATTR_UNDERLINE);
    for (int j = 0; j < ncols; j++) {
        if (!widths[j]) continue;
        const char *t = cols[j].title ? cols[j].title : "";
        int tw = text_width(t, c->unicode);
        int tx = cols[j].right && tw < widths[j] ? x + widths[j] - tw : x;
        canvas_text_fit(c, tx, r.y, t, widths[j], hs);
        x += widths[j] + 1;
    }
    int body = r.h - 1;
    int first = 0;
    if (sel >= 0 && body > 0 && sel >= body) first = sel - body + 1;
    for (int i = 0; i < body && first + i < nrows; i++) {
        int row = first + i, y = r.y + 1 + i;
        bool is_sel = row == sel;
        Style cs = is_sel ? sty2(CR_TEXT, CR_SELECT, 0) : sty(CR_TEXT);
        if (is_sel) canvas_fill(c, rect_make(r.x, y, r.w, 1), " ", cs);
        x = r.x;
        for (int j = 0; j < ncols; j++) {
            if (!widths[j]) continue;
            const char *t = cells[row * ncols + j];
            if (t) {
                int tw = text_width(t, c->unicode);
                int tx = cols[j].right && tw < widths[j] ? x + widths[j] - tw : x;
                canvas_text_fit(c, tx, y, t, widths[j], cs);
            }
            x += widths[j] + 1;
        }
    }
    canvas_pop_clip(c);
    return first;
}
