/* Content dropped without a mark: a table's columns left out with no note (the KV table in
 * compare mode at 80 columns hid its formula and @ctx columns), and Chinese wrapped inside a
 * phrase where a break before it was at hand. Over the fit walk's screens (fit_walk.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fit_walk.h"
#include "harness.h"
#include "core/i18n.h"
#include "lesson/lesson.h"
#include "scene/scene.h"
#include "tui/app.h"
#include "tui/lesson_pane.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

/* ---- columns dropped without a mark ---------------------------------------------------- */

/* The panel frames on a screen: left and right edges (x0, x1) on the first row that holds a
 * frame's top-left corner, and that row and the bottom row. Returns how many (at most max). */
static int screen_frames(const Canvas *c, int *x0, int *x1, int *top, int *bot, int max) {
    const int t = frame_top(c, 1);
    int n = 0;
    for (int x = 0; t > 0 && x < c->w && n < max;) {
        const Cell *k = canvas_cell(c, x, t);
        if (!k || !k->len || (memcmp(k->ch, "\xe2\x94\x8c", 3) && k->ch[0] != '+')) break;
        int e = x + 1;
        while (e < c->w) {
            const Cell *q = canvas_cell(c, e, t);
            if (q && q->len && (!memcmp(q->ch, "\xe2\x94\x90", 3) || q->ch[0] == '+')) break;
            e++;
        }
        int b = t + 1;
        while (b < c->h) {
            const Cell *q = canvas_cell(c, x, b);
            if (q && q->len && (!memcmp(q->ch, "\xe2\x94\x94", 3) || q->ch[0] == '+')) break;
            b++;
        }
        if (e >= c->w || b >= c->h) break;
        x0[n] = x, x1[n] = e, top[n] = t, bot[n] = b;
        n++;
        x = e + 1;
    }
    return n;
}

static bool cell_blank(const Cell *k) { return !k || (k->len == 1 && k->ch[0] == ' ') || (k->len == 0 && k->width != 0); }

/* A column header: a run of underlined cells (its blanks too: "B/tok f32") on a row that holds
 * underlined text in the title colour (w_table's header row, the Output and Residual panels'
 * column captions); the blanks between two columns are not underlined. Fills the runs' columns
 * and rows; returns how many. */
typedef struct { int x0, x1, y; char text[96]; } HeadRun;
static int frame_headers(const Canvas *c, int x0, int x1, int top, int bot, HeadRun *h, int max) {
    int n = 0;
    for (int y = top + 1; y < bot; y++) {
        bool title = false;
        for (int x = x0 + 1; x < x1 && !title; x++) {
            const Cell *k = canvas_cell(c, x, y);
            title = k && k->len && !cell_blank(k) && (k->attr & ATTR_UNDERLINE) && k->fg.role == CR_TITLE;
        }
        if (!title) continue;
        int start = -1, last = -1;
        size_t o = 0, oend = 0;
        char text[96];
        for (int x = x0 + 1; x <= x1; x++) {
            const Cell *k = x < x1 ? canvas_cell(c, x, y) : NULL;
            const bool in = k && ((k->attr & ATTR_UNDERLINE) || (k->len == 0 && start >= 0));
            if (in) {
                if (k->len && o + k->len < sizeof text) { memcpy(text + o, k->ch, k->len); o += k->len; }
                if (!cell_blank(k) || k->len == 0) {
                    if (start < 0) start = x;
                    last = x;
                    oend = o;
                } else if (start < 0) o = 0;          /* leading underlined blanks */
            } else if (start >= 0) {
                if (n < max) {
                    h[n].x0 = start, h[n].x1 = last, h[n].y = y;
                    memcpy(h[n].text, text, oend);
                    h[n].text[oend] = 0;
                }
                n++;
                start = -1, o = 0, oend = 0;
            } else o = 0;
        }
    }
    return n < max ? n : max;
}

/* The frame's rows as one text (rows joined by blanks, for finding a note in it). */
static void frame_text(const Canvas *c, int x0, int x1, int top, int bot, char *out, size_t cap) {
    size_t o = 0;
    for (int y = top + 1; y < bot; y++)
        for (int x = x0 + 1; x <= x1; x++) {
            const Cell *k = x < x1 ? canvas_cell(c, x, y) : NULL;
            const char *s = k ? k->ch : " ";
            const size_t l = k ? k->len : 1;
            if (o + l + 1 < cap) { memcpy(out + o, s, l); o += l; }
        }
    out[o] = 0;
}

/* Columns dropped without a mark, on one screen, against the same screen drawn wide:
 * - a column header with nothing under it (the KV table's formula column when even its count did
 *   not fit: the header went, its cells stayed blank; or a header over blank cells);
 * - fewer column headers in a panel than the wide screen has (the KV table's @ctx column and the
 *   Output panel's preview column, gone in compare mode at 80 columns), unless the panel says so
 *   in words a reader can act on: "+N column(s)" (English), "另有 N 列" (Chinese), N = how many
 *   headers are missing. A panel that draws no table at all (no room in height) is not counted:
 *   that is a different question from a table with columns missing. */
typedef struct { int bad, checked, tables; } ColScan;
static void no_silent_column(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    ColScan *cs = ud;
    int ax0[4], ax1[4], at[4], ab[4], bx0[4], bx1[4], bt[4], bb[4];
    const int n = screen_frames(c, ax0, ax1, at, ab, 4);
    const int nw = f->wide ? screen_frames(f->wide, bx0, bx1, bt, bb, 4) : 0;
    for (int i = 0; i < n; i++) {
        HeadRun h[16], hw[16];
        const int k = frame_headers(c, ax0[i], ax1[i], at[i], ab[i], h, 16);
        for (int j = 0; j < k; j++) {
            bool any = false;
            for (int y = h[j].y + 1; y < ab[i] && y <= h[j].y + 4 && !any; y++)
                for (int x = h[j].x0; x <= h[j].x1 && !any; x++) any = !cell_blank(canvas_cell(c, x, y));
            if (!any && cs->bad++ < 200)
                FAILF("%s%s panel %d at %dx%d (%s), frame %d: header \"%s\" over empty cells", f->model, f->two ? " (compare)" : "",
                      f->panel, f->w, f->h, f->mode, i, h[j].text);
        }
        if (i >= nw || nw != n) continue;
        const int kw = frame_headers(f->wide, bx0[i], bx1[i], bt[i], bb[i], hw, 16);
        if (k == 0 || kw == 0) continue;
        cs->tables++;
        if (k >= kw) continue;
        cs->checked++;
        char text[8192], mark[64];
        frame_text(c, ax0[i], ax1[i], at[i], ab[i], text, sizeof text);
        const bool zh = !strcmp(f->mode, "zh");
        if (zh) snprintf(mark, sizeof mark, "\xe5\x8f\xa6\xe6\x9c\x89 %d \xe5\x88\x97", kw - k);
        else snprintf(mark, sizeof mark, kw - k == 1 ? "+%d column" : "+%d columns", kw - k);
        if (!strstr(text, mark) && cs->bad++ < 200) {
            char names[512] = "";
            for (int j = 0; j < kw; j++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s\"%s\"", j ? " " : "", hw[j].text);
            }
            char shown[512] = "";
            for (int j = 0; j < k; j++) {
                size_t l = strlen(shown);
                snprintf(shown + l, sizeof shown - l, "%s\"%s\"", j ? " " : "", h[j].text);
            }
            FAILF("%s%s panel %d at %dx%d (%s), frame %d: %d of %d columns shown (%s; wide: %s), no \"%s\"", f->model,
                  f->two ? " (compare)" : "", f->panel, f->w, f->h, f->mode, i, k, kw, shown, names, mark);
        }
    }
}

/* No panel drops a table's column without saying so: every panel, story model, size and
 * language, alone and in compare mode, against the same screen 160 columns a panel wide. */
TEST(tui_no_silent_column) {
    ColScan cs = {0};
    int seen = fit_each_screen(T_, NULL, 0, no_silent_column, &cs);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(cs.bad, 0);
    CHECK_EQ_INT(seen, 4 * 2 * PANEL_COUNT * 5 * 3);
    CHECK_MSG(cs.tables > 0, "no table seen: the scan does not look at tables");
    printf("    tables %d, with columns missing %d\n", cs.tables, cs.checked);
}

/* ---- numbers dropped from a table's cells without a mark ------------------------------ */

/* The frame's row y as text (cells between the frame's edges). */
static void frame_row(const Canvas *c, int x0, int x1, int y, char *out, size_t cap) {
    size_t o = 0;
    for (int x = x0 + 1; x < x1; x++) {
        const Cell *k = canvas_cell(c, x, y);
        const char *s = k && k->len ? k->ch : (k && k->width == 0 ? "" : " ");
        const size_t l = k && k->len ? k->len : strlen(s);
        if (o + l + 1 < cap) { memcpy(out + o, s, l); o += l; }
    }
    out[o] = 0;
}

/* Is w a number as a table cell shows it ("0.863", "17.3", ">99.9%", "+0.002", "1.2e+03")? */
static bool numeric_word(const char *w) {
    bool digit = false;
    for (const char *p = w; *p; p++) {
        if (*p >= '0' && *p <= '9') digit = true;
        else if (!strchr(".%<>+-e", *p)) return false;
    }
    return digit;
}

/* The blank-separated words of s (modified in place) into w; returns how many. */
static int split_words(char *s, char **w, int max) {
    int n = 0;
    for (char *t = strtok(s, " "); t && n < max; t = strtok(NULL, " ")) w[n++] = t;
    return n;
}

/* Numbers dropped from a table's cells: each row under a table's header row, from 8 columns left
 * of its first header (the Residual panel's table beside its map at 110+ columns; the first word its
 * label: "L3", "out", "attention") against the row with the same label on the wide screen; a
 * number there ("8.99", "79.8%") that this row lacks is content gone, unless the panel says that
 * something is not shown (the terms after a "=" are not counted: the KV table shows "108" for
 * "108 = 96+12" where the sum does not fit) ("+N column(s)", "not shown", "另有 N 列", "未显示"). The Residual
 * panel's logit-lens probabilities (compare mode at 60-70 columns) and its attn/mlp values (80
 * columns) went so. */
typedef struct { int bad, rows, marked; } NumScan;
static void no_silent_number(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    NumScan *ns = ud;
    int ax0[4], ax1[4], at[4], ab[4], bx0[4], bx1[4], bt[4], bb[4];
    const int n = screen_frames(c, ax0, ax1, at, ab, 4);
    const int nw = f->wide ? screen_frames(f->wide, bx0, bx1, bt, bb, 4) : 0;
    if (nw != n) return;
    for (int i = 0; i < n; i++) {
        HeadRun h[16], hw[16];
        const int k = frame_headers(c, ax0[i], ax1[i], at[i], ab[i], h, 16);
        const int kw = frame_headers(f->wide, bx0[i], bx1[i], bt[i], bb[i], hw, 16);
        if (!k || !kw) continue;
        char text[8192];
        frame_text(c, ax0[i], ax1[i], at[i], ab[i], text, sizeof text);
        const bool marked = strstr(text, " column") || strstr(text, "not shown") || strstr(text, "\xe5\x8f\xa6\xe6\x9c\x89 ") ||
                            strstr(text, "\xe6\x9c\xaa\xe6\x98\xbe\xe7\xa4\xba");
        for (int y = h[0].y + 1; y < ab[i]; y++) {
            char row[1024], rw[1024];
            char *wn[64], *ww[64];
            frame_row(c, h[0].x0 - 9 > ax0[i] ? h[0].x0 - 9 : ax0[i], ax1[i], y, row, sizeof row);
            const int nn = split_words(row, wn, 64);
            const unsigned char l0 = (unsigned char)wn[0][0];
            if (nn < 1 || !((l0 >= '0' && l0 <= '9') || (l0 >= 'A' && l0 <= 'Z') || (l0 >= 'a' && l0 <= 'z'))) continue;   /* a row label */
            for (int yw = hw[0].y + 1; yw < bb[i]; yw++) {
                frame_row(f->wide, hw[0].x0 - 9 > bx0[i] ? hw[0].x0 - 9 : bx0[i], bx1[i], yw, rw, sizeof rw);
                const int nww = split_words(rw, ww, 64);
                if (nww < 1 || strcmp(ww[0], wn[0])) continue;
                ns->rows++;
                for (int j = 1; j < nww; j++) {
                    if (!numeric_word(ww[j]) || (j > 1 && !strcmp(ww[j - 1], "="))) continue;   /* "108 = 96+12": the terms of a count */
                    bool found = false;
                    for (int q = 1; q < nn && !found; q++) found = !strcmp(wn[q], ww[j]);
                    if (found) continue;
                    if (marked) { ns->marked++; continue; }
                    if (ns->bad++ < 20)
                        FAILF("%s%s panel %d at %dx%d (%s), frame %d, row \"%s\": \"%s\" (wide screen) not shown, no note", f->model,
                              f->two ? " (compare)" : "", f->panel, f->w, f->h, f->mode, i, wn[0], ww[j]);
                }
                break;
            }
        }
    }
}

/* No table drops a number from its cells without saying so: every panel, story model, size and
 * language, alone and in compare mode, against the same screen 160 columns a panel wide. */
TEST(tui_no_silent_number) {
    NumScan ns = {0};
    int seen = fit_each_screen(T_, NULL, 0, no_silent_number, &ns);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(ns.bad, 0);
    CHECK_MSG(ns.rows > 1000, "%d table rows compared: the scan does not find the tables' rows", ns.rows);
    printf("    %d table rows compared, %d numbers left out with a note\n", ns.rows, ns.marked);
}

/* ---- rows left blank while content was left out ------------------------------------- */

/* The KV panel shows every layer's slots, or the first ones and "..N" for the rest; when its
 * growth chart does not fit, the rows under the table go to the layers. A KV frame that ends in
 * two or more blank rows while it folds layers into "..N" left them empty (compare mode at 70x22:
 * two blank rows under the "+2 columns" note, the chart needing 4). */
static void kv_no_blank_tail(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    int *n = ud;
    int x0[4], x1[4], top[4], bot[4];
    const int k = screen_frames(c, x0, x1, top, bot, 4);
    for (int i = 0; i < k; i++) {
        bool folded = false;
        for (int y = top[i] + 1; y < bot[i] && !folded; y++) {
            char row[1024];
            frame_row(c, x0[i], x1[i], y, row, sizeof row);
            folded = !strncmp(row, "..", 2) && row[2] >= '0' && row[2] <= '9';
        }
        int blank = 0;
        for (int y = bot[i] - 1; y > top[i]; y--) {
            bool empty = true;
            for (int x = x0[i] + 1; x < x1[i] && empty; x++) empty = cell_blank(canvas_cell(c, x, y));
            if (!empty) break;
            blank++;
        }
        n[1]++;
        if (folded && blank >= 2 && n[0]++ < 20)
            FAILF("%s%s KV panel at %dx%d (%s), frame %d: layers folded into \"..N\" above %d blank rows", f->model,
                  f->two ? " (compare)" : "", f->w, f->h, f->mode, i, blank);
    }
}

TEST(tui_kv_rows_used) {
    int n[2] = {0, 0};
    const int kv[1] = {PANEL_KV};
    int seen = fit_each_screen(T_, kv, 1, kv_no_blank_tail, n);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(n[0], 0);
    CHECK_MSG(n[1] >= seen, "%d frames on %d screens", n[1], seen);
}

/* ---- Chinese phrases broken at a line's end ------------------------------------------- */

/* The break class of a cell's character (TB_*), TB_SPACE for a blank or a continuation. */
static int cell_break_class(const Cell *k) {
    if (!k || !k->len) return TB_SPACE;
    char one[9];
    memcpy(one, k->ch, k->len);
    one[k->len] = 0;
    return text_break_class(one);
}

static bool cell_is_vbar(const Cell *k) { return k && k->len == 3 && !memcmp(k->ch, "\xe2\x94\x82", 3); }

/* Are columns a-1 and b the left and right edges of one box at row y (their "│" go up to a "┌"
 * and a "┐" on the same row)? Not so for a panel's text beside an overlay that covers it. */
static bool one_box(const Canvas *c, int a, int b, int y) {
    if (a <= 0 || b >= c->w) return a <= 0 && b >= c->w;
    int ya = y, yb = y;
    while (ya > 0 && cell_is_vbar(canvas_cell(c, a - 1, ya))) ya--;
    while (yb > 0 && cell_is_vbar(canvas_cell(c, b, yb))) yb--;
    const Cell *ka = canvas_cell(c, a - 1, ya), *kb = canvas_cell(c, b, yb);
    return ya == yb && ka && kb && ka->len == 3 && kb->len == 3 && !memcmp(ka->ch, "\xe2\x94\x8c", 3) && !memcmp(kb->ch, "\xe2\x94\x90", 3);
}

/* A wrapped line that ends inside a Chinese phrase although the phrase's first characters were
 * few: row y (in a box: between two "│", or the screen's edges) ends in at most two Chinese
 * characters after a blank, punctuation, an opening mark or Latin text, and is full (at most 3
 * columns left before the box's edge: a wrapped row), and row y+1 goes on with Chinese
 * characters; the phrase (those characters, the ones row y+1 starts with and the punctuation
 * after them) fits the box. Moving those few characters to the next row would have left at
 * most 4 columns empty ("...（写在公式里）。引" / "擎用 f32 ..." in the KV help at 80x24, "...全
 * 部 16 个 token 的键" / "和值：..." in lesson 5). Fills what with the two rows' ends. */
static int cjk_bad_breaks(TestCtx *T_, const Canvas *c, const FitScreen *f) {
    int bad = 0;
    for (int y = 0; y + 1 < c->h - 1; y++)
        for (int a = 0; a < c->w;) {
            int b = a;
            while (b < c->w && !cell_is_vbar(canvas_cell(c, b, y))) b++;
            /* the segment [a, b) of row y; row y+1 must be boxed alike */
            const bool same = (a == 0 || cell_is_vbar(canvas_cell(c, a - 1, y + 1))) &&
                              (b == c->w || cell_is_vbar(canvas_cell(c, b, y + 1))) && one_box(c, a, b, y);
            int e = b - 1;
            while (e >= a && cell_break_class(canvas_cell(c, e, y)) == TB_SPACE) e--;
            if (same && e > a && canvas_cell(c, e, y)->len == 0) e--;        /* a wide character's start */
            int s = a;
            while (s < b && cell_break_class(canvas_cell(c, s, y + 1)) == TB_SPACE) s++;
            if (same && e >= a && s < b && cell_break_class(canvas_cell(c, e, y)) == TB_CJK &&
                cell_break_class(canvas_cell(c, s, y + 1)) == TB_CJK) {
                int x = e;                                                  /* the phrase's start on row y */
                while (x - 2 >= a && canvas_cell(c, x - 1, y)->len == 0 && cell_break_class(canvas_cell(c, x - 2, y)) == TB_CJK) x -= 2;
                while (x - 2 >= a && canvas_cell(c, x - 1, y)->len == 0 && cell_break_class(canvas_cell(c, x - 2, y)) == TB_OPEN) x -= 2;
                int first = a;                                              /* the row's first text */
                while (first < b && cell_break_class(canvas_cell(c, first, y)) == TB_SPACE) first++;
                const int piece = e + 2 - x;
                int rest = 0, k = s;                                        /* the phrase on row y+1 */
                while (k < b && cell_break_class(canvas_cell(c, k, y + 1)) == TB_CJK) { rest += 2; k += 2; }
                while (k < b && (cell_break_class(canvas_cell(c, k, y + 1)) == TB_CLOSE || cell_break_class(canvas_cell(c, k, y + 1)) == TB_CLOSE_NARROW)) {
                    const int cw = canvas_cell(c, k, y + 1)->width ? canvas_cell(c, k, y + 1)->width : 1;
                    rest += cw;
                    k += cw;
                }
                if (x > first && piece <= 4 && piece + rest <= b - a - 2 && b - 1 - (e + 1) <= 3) {   /* row y is full */
                    char r0[1024], r1[1024];
                    row_text(c, y, r0, sizeof r0);
                    row_text(c, y + 1, r1, sizeof r1);
                    if (bad++ < 20)
                        FAILF("%s view %d at %dx%d (%s), rows %d-%d: \"%s\" / \"%s\"", f->model, f->panel, f->w, f->h, f->mode, y, y + 1,
                              r0, r1);
                }
            }
            a = b + 1;
        }
    return bad;
}

static void no_cjk_bad_break(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    if (strcmp(f->mode, "zh")) return;
    int *n = ud;
    n[0] += cjk_bad_breaks(T_, c, f);
    n[1]++;
}

/* The Chinese help (every panel, every page) and the Chinese lessons (every step) at the fit
 * walk's sizes break a line before a Chinese phrase, not after its first one or two characters,
 * when the phrase fits the next line (text_wrap_slack). */
TEST(tui_zh_wrap_keeps_phrase_start) {
    int n[2] = {0, 0};
    int seen = fit_each_view(T_, no_cjk_bad_break, n);
    if (seen < 0) SKIP("bundled story models missing");
    const int help = n[1];
    seen = fit_each_lesson(T_, no_cjk_bad_break, n);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(n[0], 0);
    CHECK_MSG(help > 100 && n[1] - help > 100, "%d help screens, %d lesson screens in Chinese", help, n[1] - help);
    printf("    %d help screens, %d lesson screens in Chinese\n", help, n[1] - help);
}

/* ---- frames drawn whole ----------------------------------------------------------------- */

static bool cell_same(const Cell *a, const Cell *b) { return a && b && a->len == b->len && !memcmp(a->ch, b->ch, a->len); }
static bool cell_is(const Cell *k, const char *g) { return k && k->len == strlen(g) && !memcmp(k->ch, g, k->len); }

typedef struct { int boxes, bad; } FrameScan;

/* Every box (a "┌" whose row holds a "┐" further right and whose column goes down in "│" to a
 * "└") keeps its right edge: text that runs past its box writes over the "│" and leaves no mark
 * (the Position panel's axis legend did so in compare mode at 80x24). A frame drawn over it (an
 * overlay's) may stand there instead. */
static void frames_whole(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    FrameScan *fs = ud;
    for (int y0 = 0; y0 < c->h; y0++)
        for (int x0 = 0; x0 < c->w; x0++) {
            if (!cell_is(canvas_cell(c, x0, y0), "\xe2\x94\x8c")) continue;                   /* ┌ */
            int x1 = x0 + 1;
            while (x1 < c->w && !cell_is(canvas_cell(c, x1, y0), "\xe2\x94\x90") && !cell_is(canvas_cell(c, x1, y0), "\xe2\x94\x8c")) x1++;
            if (x1 >= c->w || !cell_is(canvas_cell(c, x1, y0), "\xe2\x94\x90")) continue;       /* ┐ */
            int y1 = y0 + 1;
            while (y1 < c->h && cell_is(canvas_cell(c, x0, y1), "\xe2\x94\x82")) y1++;
            if (y1 >= c->h || !cell_is(canvas_cell(c, x0, y1), "\xe2\x94\x94")) continue;       /* └ */
            fs->boxes++;
            /* a box of the screen under an overlay: the rows the overlay covers are the overlay's */
            const bool below = f->under && cell_same(canvas_cell(c, x0, y0), canvas_cell(f->under, x0, y0));
            for (int y = y0 + 1; y < y1; y++) {
                const Cell *k = canvas_cell(c, x1, y);
                if (below && !cell_same(k, canvas_cell(f->under, x1, y))) continue;
                /* a line-drawing glyph there is another frame drawn over this one (an overlay) */
                if (k && k->len == 3 && k->ch[0] == '\xe2' && (k->ch[1] == '\x94' || k->ch[1] == '\x95')) continue;
                if (fs->bad++ < 6) {
                    char row[1024];
                    row_text(c, y, row, sizeof row);
                    CHECK_MSG(0, "panel %d %dx%d %s%s: the box at column %d-%d has no right edge on row %d: %s", f->panel, f->w, f->h,
                              f->mode, f->two ? " compare" : "", x0, x1, y, row);
                }
                break;
            }
        }
}

TEST(tui_frames_keep_their_right_edge) {
    FrameScan fs = {0};
    int seen = fit_each_screen(T_, NULL, 0, frames_whole, &fs);
    if (seen < 0) SKIP("bundled story models missing");
    fit_each_lesson(T_, frames_whole, &fs);
    fit_each_view(T_, frames_whole, &fs);   /* the trade-off view and the overlays (those over the screen under them) */
    CHECK_EQ_INT(fs.bad, 0);
    CHECK_MSG(fs.boxes > seen, "%d boxes on %d screens: the scan does not find the panels' frames", fs.boxes, seen);
    printf("    %d screens, %d boxes\n", seen, fs.boxes);
}

/* The overlays (help, sampling form, prompt editor, model menu, texts editor) and the trade-off
 * view at the edges of what the UI draws: the smallest screen it draws (60x16), odd sizes just
 * above it, and a very wide and tall one. Their own frames keep their right edges; the frames
 * under them are checked only where the overlay leaves them visible. */
TEST(tui_overlay_frames_at_odd_sizes) {
    static const int SIZES[][2] = {{APP_MIN_W, APP_MIN_H}, {61, 17}, {63, 16}, {79, 23}, {300, 80}};
    FrameScan fs = {0};
    const int seen = fit_each_view_at(T_, SIZES, 5, frames_whole, &fs);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(fs.bad, 0);
    CHECK_MSG(fs.boxes > seen, "%d boxes on %d screens", fs.boxes, seen);
    printf("    %d screens, %d boxes\n", seen, fs.boxes);
}

/* ---- the function bar ------------------------------------------------------------------- */

/* Below 80 columns the function bar shows the keys that fit whole and leaves the others out:
 * at 60 columns it ended in "F7Layer-F8La" (Chinese "F7上一层F8下", at 67x23 a bare "F9").
 * Each key is its name and a label padded to 6 columns (docs/tui.md), so key k starts at column
 * S_k = sum over the keys before it of (strlen("Fi") + 6) in the wide row; at every width from
 * 60 to 80 the row must be the wide row up to the end of the last key whose text (its padding
 * aside: "F10Quit" ends at column 79) fits, then blanks. */
TEST(tui_function_bar_keeps_whole_keys) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), NULL);
    REQUIRE(a);
    a->hint = false;
    int bad = 0, screens = 0;
    for (int zh = 0; zh < 2; zh++) {
        i18n_set_lang(zh ? LANG_ZH : LANG_EN);
        for (int w = APP_MIN_W; w <= 80; w++) {
            a->sc->msg[0] = 0;                       /* no status message: the keys have the row */
            Canvas *wide = canvas_new(120, 24), *c = canvas_new(w, 24);
            REQUIRE(wide && c);
            wide->unicode = c->unicode = true;
            app_render(a, wide);
            app_render(a, c);
            int end = 0;
            for (int k = 1, s = 0; k <= 10; k++) {
                const int full = (k < 10 ? 2 : 3) + 6;
                int t = full;                       /* the key's text without its padding */
                while (t > 0 && cell_is(canvas_cell(wide, s + t - 1, wide->h - 1), " ")) t--;
                if (s + t > w) break;
                end = s + t;
                s += full;
            }
            for (int x = 0; x < w; x++) {
                const Cell *k = canvas_cell(c, x, c->h - 1);
                const bool ok = x < end ? cell_same(k, canvas_cell(wide, x, wide->h - 1)) : cell_blank(k);
                if (!ok) {
                    char row[1024];
                    row_text(c, c->h - 1, row, sizeof row);
                    if (bad++ < 6) FAILF("%s at %d columns: column %d of the function bar: \"%s\" (whole keys end at %d)", zh ? "zh" : "en", w, x, row, end);
                    break;
                }
            }
            screens++;
            canvas_free(wide);
            canvas_free(c);
        }
    }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(screens, 2 * (80 - APP_MIN_W + 1));
    app_free(a);
}

/* ---- the lesson menu -------------------------------------------------------------------- */

/* How many lessons lessons/ (lang "en") or lessons/zh holds: files NN-*.json. */
static int count_lessons(const char *root, bool zh) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "ls '%s/lessons/%s' 2>/dev/null | grep -c '^[0-9][0-9]-.*\\.json$'", root, zh ? "zh" : "");
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p) { if (fscanf(p, "%d", &n) != 1) n = 0; pclose(p); }
    return n;
}

/* The rows of the lesson menu that show a lesson ("   07  Residual ...": its number at column 3
 * of the menu's inside). */
static int menu_lessons_shown(const Canvas *c) {
    int n = 0;
    for (int y = 0; y < c->h; y++) {
        char row[1024];
        row_text(c, y, row, sizeof row);
        const char *edge = c->unicode ? "\xe2\x94\x82" : "|";   /* the menu's left edge, maybe after the panel's */
        for (const char *bar = strstr(row, edge); bar; bar = strstr(bar + 1, edge)) {
            const char *r = bar + strlen(edge);
            if (!strncmp(r, "   ", 3) && r[3] >= '0' && r[3] <= '9' && r[4] >= '0' && r[4] <= '9' && !strncmp(r + 5, "  ", 2)) { n++; break; }
        }
    }
    return n;
}

/* The lesson menu at 60x16 shows 11 of the 16 lessons: it scrolls, and said nothing of the five
 * out of view (the help says "↓ PgUp PgDn: more"). Now its bottom border counts them, above and
 * below, in English and Chinese. */
TEST(tui_lesson_menu_says_what_is_out_of_view) {
    char root[1024];
    lesson_find_root(root, sizeof root);
    for (int zh = 0; zh < 2; zh++) {
        const int n = count_lessons(root, zh);
        if (n < 12) SKIP("lessons not found");
        i18n_set_lang(zh ? LANG_ZH : LANG_EN);
        App *a = app_new();
        REQUIRE(a);
        a->hint = false;
        REQUIRE(lesson_ui_get(a, root, zh ? "zh" : "en"));
        TuiEvent ev = {0};
        ev.key = 'L';
        app_handle(a, &ev);
        Canvas *c = canvas_new(APP_MIN_W, APP_MIN_H);
        REQUIRE(c);
        c->unicode = true;
        for (int end = 0; end < 2; end++) {
            if (end) { ev.key = TK_END; app_handle(a, &ev); }
            app_render(a, c);
            const int shown = menu_lessons_shown(c);
            char *t = canvas_to_text(c);
            char want[64];
            snprintf(want, sizeof want, "%s %d", end ? "\xe2\x86\x91" : "\xe2\x86\x93", n - shown);
            CHECK_MSG(shown > 0 && shown < n, "%s: %d of %d lessons shown", zh ? "zh" : "en", shown, n);
            CHECK_MSG(strstr(t, want) && strstr(t, zh ? "\xe5\x8f\xa6\xe6\x9c\x89" : "more"), "%s, %s: %d of %d lessons shown, no \"%s\" on the screen:\n%s",
                      zh ? "zh" : "en", end ? "at the end" : "at the start", shown, n, want, t);
            free(t);
        }
        canvas_free(c);
        app_free(a);
    }
    i18n_set_lang(LANG_EN);
}

/* Without Unicode (LANG=C) the UI is English since Chinese could only be drawn as '?': the
 * lesson menu offered "Tab ??" and Tab listed the Chinese lessons as "01  ??? Transformer ????".
 * Now its title has no Tab and Tab says why it stays English. */
TEST(tui_lesson_menu_stays_english_without_unicode) {
    char root[1024];
    lesson_find_root(root, sizeof root);
    if (count_lessons(root, true) < 1) SKIP("lessons/zh not found");
    App *a = app_new();
    REQUIRE(a);
    a->hint = false;
    REQUIRE(lesson_ui_get(a, root, "en"));
    Canvas *c = canvas_new(80, 24);
    REQUIRE(c);
    c->unicode = false;
    TuiEvent ev = {0};
    ev.key = 'L';
    app_handle(a, &ev);
    for (int k = 0; k < 2; k++) {
        if (k) { ev.key = TK_TAB; app_handle(a, &ev); }
        app_render(a, c);
        char *t = canvas_to_text(c);
        CHECK_MSG(t && !strchr(t, '?') && strstr(t, "Lessons") && menu_lessons_shown(c) > 0, "%s:\n%s", k ? "after Tab" : "menu", t);
        free(t);
    }
    CHECK(strstr(a->sc->msg, "UTF-8") != NULL);
    canvas_free(c);
    app_free(a);
}

/* The model menu the same way (F3, F6): 20 models at 60x16 show 9, and "↓ 11 more" says so. */
TEST(tui_model_menu_says_what_is_out_of_view) {
    App *a = app_new();
    REQUIRE(a);
    a->hint = false;
    a->n_models = 20;
    for (int k = 0; k < a->n_models; k++) snprintf(a->models[k], sizeof a->models[k], "models/m%02d", k);
    app_open_overlay(a, OV_MODEL);
    Canvas *c = canvas_new(APP_MIN_W, APP_MIN_H);
    REQUIRE(c);
    c->unicode = true;
    for (int end = 0; end < 2; end++) {
        if (end) a->menu_sel = a->n_models - 1;
        app_render(a, c);
        char *t = canvas_to_text(c);
        int shown = 0;
        for (int k = 0; k < a->n_models; k++) {
            char nm[16];
            snprintf(nm, sizeof nm, " m%02d", k);
            shown += strstr(t, nm) != NULL;
        }
        char want[64];
        snprintf(want, sizeof want, "%s %d more", end ? "\xe2\x86\x91" : "\xe2\x86\x93", a->n_models - shown);
        CHECK_MSG(shown > 0 && shown < a->n_models && strstr(t, want), "%d of %d models shown, no \"%s\":\n%s", shown, a->n_models, want, t);
        free(t);
    }
    canvas_free(c);
    app_free(a);
}

/* ---- a lesson's target on another panel -------------------------------------------------- */

/* The pane's cells as one string without blanks and frame lines (a wrapped line read as one). */
static void pane_squeezed(const Canvas *c, Rect pane, char *out, size_t cap) {
    size_t o = 0;
    for (int y = pane.y; y < pane.y + pane.h; y++)
        for (int x = pane.x; x < pane.x + pane.w; x++) {
            const Cell *k = canvas_cell(c, x, y);
            if (!k || !k->len || (k->len == 1 && k->ch[0] == ' ')) continue;
            if (k->len == 3 && !memcmp(k->ch, "\xe2\x94", 2)) continue;   /* box lines ─ │ ┌ ... */
            if (o + k->len + 1 >= cap) break;
            memcpy(out + o, k->ch, k->len);
            o += k->len;
        }
    out[o] = 0;
}

/* Lesson 01 step 3 points at the Attention panel's query row. A learner who presses 6 there
 * (Embeddings) saw "▶ look at the highlight: query row" pointing at nothing at the same size,
 * and after a resize "(not on screen at 300x80: a taller window shows it)": no window shows it.
 * Now the pane names the panel and its key, in English and Chinese, at any size. */
TEST(tui_lesson_target_on_another_panel_names_it) {
    char root[1024], path[1200];
    lesson_find_root(root, sizeof root);
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    static const int SIZES[][2] = {{80, 24}, {300, 80}, {90, 26}};
    for (int zh = 0; zh < 2; zh++) {
        snprintf(path, sizeof path, "%s/lessons/%s01-tour.json", root, zh ? "zh/" : "");
        App *a = app_new();
        REQUIRE(a);
        i18n_set_lang(zh ? LANG_ZH : LANG_EN);
        REQUIRE(lesson_ui_get(a, root, zh ? "zh" : "en"));
        Err e = {0};
        if (!lesson_ui_open(a, path, 2, &e)) { app_free(a); FAILF("%s: %s", path, e.msg); break; }
        REQUIRE(!strcmp(lesson_ui_player(a)->lesson->steps[2].target[0], "attention.row"));
        Canvas *c = canvas_new(80, 24);
        REQUIRE(c);
        c->unicode = true;
        app_render(a, c);
        CHECK_MSG(!lesson_ui_targets_off_screen(a), "%s: the query row is on screen at 80x24", zh ? "zh" : "en");
        TuiEvent ev = {.key = '6'};
        app_handle(a, &ev);
        for (int z = 0; z < 3; z++) {
            REQUIRE(canvas_resize(c, SIZES[z][0], SIZES[z][1]));
            app_render(a, c);
            static char t[65536];                   /* the pane alone: the line may wrap there */
            pane_squeezed(c, lesson_ui_pane_rect(a, NULL), t, sizeof t);
            const char *want = zh ? "\xe6\xb3\xa8\xe6\x84\x8f\xe5\x8a\x9b\xe9\x9d\xa2\xe6\x9d\xbf\xe4\xb8\x8a\xef\xbc\x9a\xe6\x8c\x89" "1"   /* 注意力面板上：按1 */
                                  : "ontheAttentionpanel:1showsit";
            CHECK_MSG(lesson_ui_targets_off_screen(a) && strstr(t, want) && !strstr(t, zh ? "\xe8\xb0\x83\xe9\xab\x98" : "taller"),
                      "%s at %dx%d on the Embeddings panel: no \"%s\":\n%s", zh ? "zh" : "en", c->w, c->h, want, t);
        }
        ev.key = '1';                                /* back on its panel: the highlight again */
        app_handle(a, &ev);
        app_render(a, c);
        CHECK(!lesson_ui_targets_off_screen(a));
        canvas_free(c);
        app_free(a);
    }
    i18n_set_lang(LANG_EN);
}

/* ---- a lesson step's "look at" line on its first page ------------------------------------ */

static void squeeze_text(const char *s, char *out, size_t cap) {
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (*s != ' ' && *s != '\n') out[o++] = *s;
    out[o] = 0;
}

/* A long lesson step pushed its "look at" line (the highlight's target, or the highlighted token)
 * below the first page of the pane: at 100x30 in Chinese and at 120x40 in English the learner did
 * not see where to look until paging. Every step of every lesson (English, Chinese) at 80x24,
 * 100x30 and 120x40, as the step opens: each of its look-at lines is on the pane whole (the compact
 * pane's progress line may name the targets alone, "▶ FFN info line"). The count of the steps that
 * fail is printed either way. */
TEST(tui_lesson_look_at_on_the_first_page) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    static const int SIZES[][2] = {{80, 24}, {100, 30}, {120, 40}};
    int checked = 0, hidden[2][3] = {{0}}, lessons = 0;
    for (int g = 0; g < 2; g++)
        for (int n = 1; n <= 16; n++) {
            char pattern[128], path[256] = "";
            snprintf(pattern, sizeof pattern, "ls lessons/%s%02d-*.json 2>/dev/null", g ? "zh/" : "", n);
            FILE *pf = popen(pattern, "r");
            if (pf) { if (!fgets(path, sizeof path, pf)) path[0] = 0; pclose(pf); }
            path[strcspn(path, "\n")] = 0;
            if (!path[0]) continue;
            App *a = app_new();
            REQUIRE(a);
            i18n_set_lang(g ? LANG_ZH : LANG_EN);
            lesson_ui_get(a, ".", g ? "zh" : "en");
            Err e = {0};
            const bool ok = lesson_ui_open(a, path, 0, &e);
            CHECK_MSG(ok, "%s: %s", path, e.msg);
            LessonPlayer *p = ok ? lesson_ui_player(a) : NULL;
            lessons += p != NULL;
            for (int k = 0; p && k < p->lesson->n_steps; k++) {
                if (k && !lesson_ui_goto(a, k)) { FAILF("%s step %d does not play", path, k + 1); break; }
                for (int z = 0; z < 3; z++) {
                    Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
                    REQUIRE(c);
                    c->unicode = true;
                    lesson_ui_page_reset(a);
                    app_render(a, c);
                    static char pane[65536];
                    pane_squeezed(c, lesson_ui_pane_rect(a, NULL), pane, sizeof pane);
                    bool whole = true;
                    int lines = 0;
                    char line[512], brief[512], sq[512], sqb[512];
                    for (int which = 0; which <= 2; which += 2) {
                        if (!lesson_ui_look_at(a, which, true, line, sizeof line)) continue;
                        lines++;
                        squeeze_text(line, sq, sizeof sq);
                        bool seen = strstr(pane, sq) != NULL;
                        if (!seen && which == 0 && lesson_ui_look_at(a, 1, true, brief, sizeof brief)) {
                            squeeze_text(brief, sqb, sizeof sqb);
                            seen = strstr(pane, sqb) != NULL;
                        }
                        if (!seen) {
                            whole = false;
                            if (hidden[g][z] < 3) {
                                char *t = canvas_to_text(c);
                                FAILF("%s step %d at %dx%d: \"%s\" is not on the first page:\n%s", path, k + 1, SIZES[z][0], SIZES[z][1], line,
                                      t ? t : "");
                                free(t);
                            }
                        }
                    }
                    if (lines) checked++;
                    if (!whole) hidden[g][z]++;
                    canvas_free(c);
                }
            }
            app_free(a);
        }
    i18n_set_lang(LANG_EN);
    printf("    look-at lines off the first page (steps; 80x24, 100x30, 120x40): en %d %d %d, zh %d %d %d (%d lessons, %d step screens)\n",
           hidden[0][0], hidden[0][1], hidden[0][2], hidden[1][0], hidden[1][1], hidden[1][2], lessons, checked);
    CHECK_MSG(checked > 200, "%d step screens with a look-at line", checked);
    for (int g = 0; g < 2; g++)
        for (int z = 0; z < 3; z++) CHECK_EQ_INT(hidden[g][z], 0);
}

/* Paged at 100x30, then the window grows to 120x40 where the step fits whole: the pane kept the
 * rows paged away, so it started in the middle of the narration, without the step's title and
 * its look-at line (zh lesson 05 step 2 in tmux). A new size pages from the step's start. */
TEST(tui_lesson_resize_pages_from_the_start) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    for (int zh = 0; zh < 2; zh++) {
        char path[128];
        snprintf(path, sizeof path, "lessons/%s05-kv-cache.json", zh ? "zh/" : "");
        App *a = app_new();
        REQUIRE(a);
        i18n_set_lang(zh ? LANG_ZH : LANG_EN);
        lesson_ui_get(a, ".", zh ? "zh" : "en");
        Err e = {0};
        if (!lesson_ui_open(a, path, 1, &e)) { app_free(a); FAILF("%s: %s", path, e.msg); break; }
        LessonPlayer *p = lesson_ui_player(a);
        Canvas *c = canvas_new(100, 30);
        REQUIRE(c);
        c->unicode = true;
        app_render(a, c);
        CHECK_MSG(lesson_ui_more(a), "%s step 2 fits at 100x30: the test needs a longer step", path);
        int pages = 0;
        for (; lesson_ui_more(a) && pages < 20; pages++) {
            CHECK(lesson_ui_next(a));
            app_render(a, c);
        }
        CHECK_EQ_INT(p->step, 1);
        REQUIRE(canvas_resize(c, 120, 40));
        app_render(a, c);
        static char pane[65536];
        pane_squeezed(c, lesson_ui_pane_rect(a, NULL), pane, sizeof pane);
        char *title = lesson_player_expand(p, p->lesson->steps[1].title, false, &e), sq[512], look[512], sql[512];
        REQUIRE(title);
        squeeze_text(title, sq, sizeof sq);
        REQUIRE(lesson_ui_look_at(a, 0, true, look, sizeof look));
        squeeze_text(look, sql, sizeof sql);
        CHECK_MSG(strstr(pane, sq) && strstr(pane, sql), "%s step 2 at 120x40 after %d pages at 100x30: no \"%s\" or \"%s\" in the pane:\n%s", path,
                  pages, title, look, pane);
        free(title);
        canvas_free(c);
        app_free(a);
    }
    i18n_set_lang(LANG_EN);
}

/* The trade-off view's footer at 80x24: the config-only line read "... Qwen3-8B 147,456 B/token
 * from …" and the unlabelled variants "not labelled: gqa2 (1,152 B, 0.9720), mqa (576 B,
 * 0.9728), …", one left out. Shorter wordings say both whole: no ellipsis on either line, in
 * English and Chinese, one model and compare mode. */
TEST(tui_tradeoff_footer_whole_at_80x24) {
    if (!have_story(STORY("gqa")) || !have_story(STORY("mla"))) SKIP("bundled story models missing");
    for (int two = 0; two < 2; two++) {
        App *a = fit_app(T_, STORY("gqa"), two ? STORY("mla") : NULL);
        REQUIRE(a);
        Err e = {0};
        REQUIRE(scene_do(a->sc, "tradeoff.toggle", 0, &e));
        for (int zh = 0; zh < 2; zh++) {
            i18n_set_lang(zh ? LANG_ZH : LANG_EN);
            Canvas *c = canvas_new(80, 24);
            REQUIRE(c);
            c->unicode = true;
            app_render(a, c);
            int found = 0;
            for (int y = 0; y < c->h; y++) {
                char row[1024];
                row_text(c, y, row, sizeof row);
                const bool cfg = strstr(row, "\xe2\x96\xb2 DeepSeek-V3") != NULL;
                const bool unl = strstr(row, zh ? "\xe6\x9c\xaa\xe6\xa0\x87\xe6\xb3\xa8" : "not labelled:") != NULL;   /* 未标注 */
                if (!cfg && !unl) continue;
                found++;
                CHECK_MSG(!strstr(row, "\xe2\x80\xa6"), "%s%s at 80x24: the %s line is cut: \"%s\"", zh ? "zh" : "en", two ? " (compare)" : "",
                          cfg ? "config-only" : "unlabelled", row);
            }
            CHECK_MSG(found == 2, "%s%s: %d footer lines found", zh ? "zh" : "en", two ? " (compare)" : "", found);
            canvas_free(c);
        }
        i18n_set_lang(LANG_EN);
        app_free(a);
    }
}
