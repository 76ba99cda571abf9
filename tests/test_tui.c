/* TUI tests: canvas width handling, widgets against hand-derived text, the too-small
 * state, ASCII/mono fallbacks, every panel on synthetic traces (GQA, MHA with learned
 * positions, MLA + MoE), app keys on a real model, and presentation analysis. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "analysis/kvcalc.h"
#include "analysis/embedmap.h"
#include "analysis/sampling.h"
#include "analysis/stats.h"
#include "harness.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/widgets/widgets.h"
#include "tui_fake.h"

static Canvas *mk(int w, int h, bool unicode, bool mono) {
    Canvas *c = canvas_new(w, h);
    if (c) { c->unicode = unicode; c->mono = mono; }
    return c;
}

static char *dump(const Canvas *c) { return canvas_to_text(c); }

#define CHECK_DUMP(c, expect) do { char *d_ = dump(c); CHECK_STR(d_, expect); free(d_); } while (0)

static Style plain(void) { return sty(CR_TEXT); }

/* ---- canvas ------------------------------------------------------------------------ */

TEST(tui_canvas_ascii) {
    Canvas *c = mk(10, 2, true, true);
    REQUIRE(c);
    CHECK_EQ_INT(canvas_text(c, 1, 0, "abc", plain()), 4);
    CHECK_DUMP(c, " abc\n\n");
    canvas_free(c);
}

/* In a non-UTF-8 locale the UI's own punctuation keeps its meaning in ASCII: the title
 * "Attention Â· L0" showed as "Attention ? L0" under LANG=C. Text stays '?'. */
TEST(tui_canvas_ascii_stand_ins) {
    Canvas *c = mk(40, 1, false, true);
    REQUIRE(c);
    canvas_text(c, 0, 0, "a\xc2\xb7" "b\xe2\x86\x92" "c\xe2\x80\xa6" "\xe2\x94\x80\xe2\x94\x82\xe2\x94\x8c"
                "\xe2\x96\x88\xe2\x88\x92\xe2\x80\x9cq\xe2\x80\x9d\xe2\x96\xb2\xe2\x96\xbc\xc3\x97\xe2\x90\xa3" "d\xe6\x97\xa5\xc3\xa9", plain());
    CHECK_DUMP(c, "a.b>c~-|+#-\"q\"^vx_d??\n");
    CHECK_EQ_INT(text_width("a\xc2\xb7" "b", false), 3);
    canvas_free(c);
}

TEST(tui_canvas_cjk_width) {
    Canvas *c = mk(6, 1, true, true);
    REQUIRE(c);
    CHECK_EQ_INT(text_width("\xe6\x97\xa5\xe6\x9c\xac", true), 4);          /* 日本 */
    CHECK_EQ_INT(canvas_text(c, 0, 0, "\xe6\x97\xa5\xe6\x9c\xac!", plain()), 5);
    CHECK_EQ_INT(canvas_cell(c, 0, 0)->width, 2);
    CHECK_EQ_INT(canvas_cell(c, 1, 0)->width, 0);                          /* continuation */
    CHECK_DUMP(c, "\xe6\x97\xa5\xe6\x9c\xac!\n");
    canvas_free(c);
}

TEST(tui_canvas_cjk_clip) {
    /* three 2-column glyphs in a 5-column clip: the third has one column left -> a blank */
    Canvas *c = mk(8, 1, true, true);
    REQUIRE(c);
    canvas_push_clip(c, rect_make(0, 0, 5, 1));
    canvas_text(c, 0, 0, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", plain());  /* 日本語 */
    canvas_pop_clip(c);
    canvas_text(c, 5, 0, "|", plain());
    CHECK_DUMP(c, "\xe6\x97\xa5\xe6\x9c\xac |\n");
    canvas_free(c);
}

TEST(tui_canvas_overwrite_wide_half) {
    Canvas *c = mk(4, 1, true, true);
    REQUIRE(c);
    canvas_text(c, 0, 0, "\xe6\x97\xa5x", plain());
    canvas_text(c, 1, 0, "a", plain());            /* right half of 日 -> the left half blanks */
    CHECK_DUMP(c, " ax\n");
    canvas_text(c, 2, 0, "\xe6\x97\xa5", plain()); /* a wide char over "x" and the next cell */
    CHECK_DUMP(c, " a\xe6\x97\xa5\n");
    canvas_free(c);
}

TEST(tui_canvas_combining_and_emoji) {
    Canvas *c = mk(8, 1, true, true);
    REQUIRE(c);
    /* e + U+0301 is one cell; an emoji is two columns */
    CHECK_EQ_INT(text_width("e\xcc\x81x", true), 2);
    CHECK_EQ_INT(text_width("\xf0\x9f\x98\x80" "a", true), 3);
    canvas_text(c, 0, 0, "e\xcc\x81x\xf0\x9f\x98\x80", plain());
    CHECK_EQ_INT(canvas_cell(c, 0, 0)->len, 3);
    CHECK_EQ_INT(canvas_cell(c, 2, 0)->width, 2);
    CHECK_DUMP(c, "e\xcc\x81x\xf0\x9f\x98\x80\n");
    /* a mark at the start of a string attaches to the cell on its left */
    canvas_text(c, 6, 0, "a", plain());
    canvas_text(c, 7, 0, "\xcc\x88", plain());
    CHECK_EQ_INT(canvas_cell(c, 6, 0)->len, 3);
    canvas_free(c);
}

TEST(tui_canvas_invalid_and_controls) {
    Canvas *c = mk(6, 1, true, true);
    REQUIRE(c);
    canvas_text(c, 0, 0, "a\nb\xff", plain());
    CHECK_DUMP(c, "a\xef\xbf\xbd" "b\xef\xbf\xbd\n");
    canvas_free(c);
    Canvas *a = mk(6, 1, false, true);                 /* non-UTF-8 locale: ASCII only */
    REQUIRE(a);
    canvas_text(a, 0, 0, "\xe6\x97\xa5x\xc3\xa9", plain());
    CHECK_DUMP(a, "?x?\n");
    canvas_free(a);
}

TEST(tui_canvas_fit_and_ansi) {
    Canvas *c = mk(10, 1, true, false);
    REQUIRE(c);
    canvas_text_fit(c, 0, 0, "hello world", 5, plain());
    CHECK_DUMP(c, "hell\xe2\x80\xa6\n");
    Style red = {color_rgb(255, 0, 0), color_default(), ATTR_BOLD};
    canvas_text(c, 6, 0, "R", red);
    char *a = canvas_to_ansi(c, CMODE_TRUE);
    REQUIRE(a);
    /* the default background is the theme's own (dark: black), never the terminal's */
    theme_set(THEME_DARK);
    CHECK(strstr(a, "\x1b[0;1;38;2;255;0;0;48;2;0;0;0mR") != NULL);
    free(a);
    a = canvas_to_ansi(c, CMODE_256);
    CHECK(a && strstr(a, "38;5;196") != NULL);
    free(a);
    CHECK_EQ_INT(color_to_256(0, 0, 0), 16);
    CHECK_EQ_INT(color_to_256(128, 128, 128), 244);
    CHECK_EQ_INT(color_to_256(255, 255, 255), 231);
    CHECK_EQ_INT(color_to_16(255, 0, 0), 9);
    canvas_free(c);
}

TEST(tui_canvas_mono_attr) {
    Canvas *c = mk(4, 1, true, true);
    REQUIRE(c);
    canvas_text(c, 0, 0, "ab", sty2(CR_TEXT, CR_SELECT, 0));
    CHECK(cell_mono_attr(canvas_cell(c, 0, 0)) & ATTR_REVERSE);
    char *a = canvas_to_ansi(c, CMODE_NONE);
    CHECK(a && strstr(a, "\x1b[0;7mab") != NULL && !strstr(a, "38;"));
    free(a);
    canvas_free(c);
}

/* ---- widgets ----------------------------------------------------------------------- */

TEST(tui_widget_sparkline) {
    Canvas *c = mk(8, 1, true, true);
    REQUIRE(c);
    float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    w_sparkline(c, 0, 0, 8, v, 8, 0, 7, plain());
    /* t = v/7, eighths = 1 + round(7t) = v + 1 */
    CHECK_DUMP(c, "\xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85\xe2\x96\x86\xe2\x96\x87\xe2\x96\x88\n");
    canvas_free(c);
}

TEST(tui_widget_bars) {
    Canvas *c = mk(20, 1, true, true);
    REQUIRE(c);
    Bar b = {"ab", 0.5f, "50%", plain(), false};
    /* label 4 + gap: bar from column 5, note 4 + gap: bar width 10, half = 5 full blocks */
    w_bars(c, rect_make(0, 0, 20, 1), &b, 1, 1.0f, 4, 4);
    CHECK_DUMP(c, "ab   \xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88       50%\n");
    canvas_free(c);
    Canvas *a = mk(12, 1, false, true);
    REQUIRE(a);
    Bar q = {"x", 0.25f, NULL, plain(), false};
    w_bars(a, rect_make(0, 0, 12, 1), &q, 1, 1.0f, 1, 0);   /* bar width 10: 2.5 cells */
    CHECK_DUMP(a, "x ##=\n");
    canvas_free(a);
}

static float grid2[4] = {0, 1, NAN, 0.5f};
static float get2(void *ud, int r, int c) { (void)ud; return grid2[r * 2 + c]; }

TEST(tui_widget_heatmap_mono) {
    Canvas *c = mk(4, 2, true, true);
    REQUIRE(c);
    HeatSpec hs = {.rows = 2, .cols = 2, .get = get2, .lo = 0, .hi = 1, .sel_r = -1, .sel_c = -1, .max_cell = 1};
    HeatLayout hl = w_heatmap(c, rect_make(0, 0, 4, 2), &hs);
    /* ramp " .:-=+*#%@": 0 -> ' ', 1 -> '@', 0.5 -> index rint(4.5) = 4 '='; NaN (masked) -> '/' */
    CHECK_DUMP(c, " @\n/=\n");
    CHECK_EQ_INT(hl.k, 1);
    int r = -1, col = -1;
    CHECK(w_heatmap_hit(&hl, 1, 1, &r, &col) && r == 1 && col == 1);
    CHECK(!w_heatmap_hit(&hl, 3, 0, &r, &col));
    canvas_free(c);
}

TEST(tui_widget_heatmap_halfblock) {
    Canvas *c = mk(2, 1, true, false);
    REQUIRE(c);
    HeatSpec hs = {.rows = 2, .cols = 2, .get = get2, .lo = 0, .hi = 1, .sel_r = -1, .sel_c = -1, .max_cell = 1};
    w_heatmap(c, rect_make(0, 0, 2, 1), &hs);
    const Cell *a = canvas_cell(c, 0, 0), *b = canvas_cell(c, 1, 0);
    CHECK(a->len == 3 && !memcmp(a->ch, "\xe2\x96\x80", 3));        /* ▀: upper row = fg */
    Color lo = ramp_seq(0), hi = ramp_seq(1), mid = ramp_seq(0.5f);
    CHECK(a->fg.r == lo.r && a->fg.g == lo.g && a->fg.b == lo.b);
    CHECK(a->bg.role == CR_MASK_BG);                                /* masked lower half */
    CHECK(b->fg.r == hi.r && b->fg.b == hi.b && b->bg.r == mid.r && b->bg.g == mid.g);
    canvas_free(c);
}

TEST(tui_widget_hist) {
    Canvas *c = mk(3, 3, true, true);
    REQUIRE(c);
    double counts[3] = {1, 2, 4};
    /* 2 bar rows = 16 eighths: 1 -> 4 (half block), 2 -> 8 (one row), 4 -> 16 (two rows) */
    w_hist(c, rect_make(0, 0, 3, 3), counts, 3, 0, 1, false, plain());
    CHECK_DUMP(c, "  \xe2\x96\x88\n\xe2\x96\x84\xe2\x96\x88\xe2\x96\x88\n0\n");
    canvas_free(c);
}

TEST(tui_widget_braille) {
    Canvas *c = mk(1, 1, true, true);
    REQUIRE(c);
    ScatterPt p[2] = {{0, 0, NULL, color_rgb(255, 255, 255), false}, {1, 1, NULL, color_rgb(255, 255, 255), false}};
    /* 2x4 dots: (0,0) -> bottom-left dot (0,3) bit 0x40; (1,1) -> top-right (1,0) bit 0x08 */
    w_scatter(c, rect_make(0, 0, 1, 1), p, 2, false);
    CHECK_DUMP(c, "\xe2\xa1\x88\n");                                   /* U+2848 */
    canvas_free(c);
    Canvas *a = mk(1, 1, false, true);
    REQUIRE(a);
    w_scatter(a, rect_make(0, 0, 1, 1), p, 2, false);
    CHECK_DUMP(a, "*\n");
    canvas_free(a);
}

TEST(tui_widget_text_wrap) {
    Canvas *c = mk(7, 4, true, true);
    REQUIRE(c);
    CHECK_EQ_INT(w_text(c, rect_make(0, 0, 7, 4), "hello world foo", plain()), 3);
    CHECK_DUMP(c, "hello\nworld\nfoo\n\n");
    canvas_free(c);
    /* CJK breaks inside a "word": 2 glyphs per 5-column line */
    CHECK_EQ_INT(w_text_rows("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac", 5, true), 3);
    CHECK_EQ_INT(w_text_rows("a\n\nb", 10, true), 3);
}

TEST(tui_widget_tokstrip) {
    Canvas *c = mk(5, 2, true, true);
    REQUIRE(c);
    Chip ch[3] = {{"a", true, false, false}, {" b", true, false, false}, {"c\n", false, true, false}};
    Rect hits[3];
    w_tokstrip(c, rect_make(0, 0, 5, 2), ch, 3, hits);
    /* "a" at 0, "␣b" at 2..3, "c↵" needs 2 columns at 5 -> wraps to line 2 */
    CHECK_DUMP(c, "a \xe2\x90\xa3" "b\nc\xe2\x86\xb5\n");
    CHECK(hits[2].x == 0 && hits[2].y == 1 && hits[2].w == 2);
    CHECK(canvas_cell(c, 0, 1)->attr & ATTR_REVERSE);                 /* current */
    CHECK(canvas_cell(c, 0, 1)->attr & ATTR_UNDERLINE);               /* decode */
    canvas_free(c);
    char vis[32];
    tok_visible(" the\t\x01", vis, sizeof vis, false);
    CHECK_STR(vis, "_the\\t\\x01");
}

TEST(tui_widget_frame_table) {
    Canvas *c = mk(12, 4, false, true);
    REQUIRE(c);
    Rect in = w_frame(c, rect_make(0, 0, 12, 4), "T", false);
    CHECK(in.x == 1 && in.y == 1 && in.w == 10 && in.h == 2);
    TableCol cols[2] = {{"a", 3, false, 0, 0}, {"n", 4, true, 0, 0}};
    const char *cells[2] = {"xy", "42"};
    w_table(c, in, cols, 2, cells, 1, -1);
    CHECK_DUMP(c, "+- T ------+\n|a      n  |\n|xy    42  |\n+----------+\n");
    canvas_free(c);
}

/* A table narrower than its columns: first every column at its narrowest (what is left to the
 * flexible one), then columns left out by drop, then from the right; a column is shown whole or
 * not at all (before, w_table clipped whatever did not fit: a header "now f3" over no cells). */
TEST(tui_widget_table_layout) {
    const TableCol cols[4] = {{"name", 6, false, 4, 0}, {"f", 0, false, 3, 2}, {"v", 8, true, 5, 1}, {"w", 8, true, 5, 0}};
    static const struct { int w, hidden, widths[4]; } CASES[] = {
        {40, 0, {6, 14, 8, 8}},   /* every column at its width: 7 + 9 + 9 fixed, the flexible one 40 - 25 - 1 */
        {28, 0, {4, 11, 5, 5}},   /* its 2 columns are under its min 3: all at min (4+3+5+5+3 = 20), 8 more to f */
        {19, 1, {4, 0, 5, 5}},    /* 20 > 19: f (drop 2) goes; 4+5+5+2 = 16 */
        {12, 2, {4, 0, 0, 5}},    /* 16 > 12: v (drop 1) goes; 4+5+1 = 10 */
        {8, 3, {6, 0, 0, 0}},     /* 10 > 8: w (the rightmost) goes; name alone at its width */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        int wd[4];
        CHECK_EQ_INT(w_table_layout(cols, 4, CASES[i].w, wd), CASES[i].hidden);
        for (int j = 0; j < 4; j++) CHECK_MSG(wd[j] == CASES[i].widths[j], "w=%d column %d: %d, not %d", CASES[i].w, j, wd[j], CASES[i].widths[j]);
    }
    Canvas *c = mk(14, 4, false, true);
    REQUIRE(c);
    Rect in = w_frame(c, rect_make(0, 0, 14, 4), "T", false);
    const char *cells[4] = {"ab", "123", "4.5", "6.7"};
    w_table(c, in, cols, 4, cells, 1, -1);
    CHECK_DUMP(c, "+- T --------+\n|name     w  |\n|ab     6.7  |\n+------------+\n");
    canvas_free(c);
}

/* ---- app: too small, fallbacks, panels on synthetic traces ------------------------ */

static bool contains(const Canvas *c, const char *s) {
    char *d = dump(c);
    bool r = d && strstr(d, s);
    free(d);
    return r;
}

static bool all_ascii(const Canvas *c) {
    char *d = dump(c);
    bool ok = d != NULL;
    for (const unsigned char *p = (const unsigned char *)d; ok && *p; p++) ok = *p < 0x80;
    free(d);
    return ok;
}

TEST(tui_too_small) {
    App *a = app_new();
    REQUIRE(a);
    Canvas *c = mk(50, 12, true, true);
    REQUIRE(c);
    app_render(a, c);
    CHECK(a->too_small);
    CHECK(contains(c, "terminal too small"));
    CHECK(contains(c, "need 60x16, have 50x12"));
    canvas_resize(c, 1, 1);             /* must not crash either */
    app_render(a, c);
    CHECK(a->too_small);
    TuiEvent q = {.key = 'q'};
    app_handle(a, &q);
    CHECK(a->quit);
    canvas_free(c);
    app_free(a);
}

/* Row y of the canvas as text (no trailing newline). */
static char *row_text(const Canvas *c, int y) {
    char *d = dump(c), *p = d;
    for (int i = 0; i < y && p; i++) { p = strchr(p, '\n'); if (p) p++; }
    char *out = strdup(p ? p : "");
    if (out) out[strcspn(out, "\n")] = 0;
    free(d);
    return out;
}

/* A status message never hides a tab: beside the tabs when it fits there whole, else on the
 * bottom row in place of the function keys that do not fit before it (cut with an ellipsis
 * when wider than the row); the tabs' clickable cells stay where the tabs are drawn. */
TEST(tui_status_message_keeps_the_tabs) {
    App *a = app_new();
    REQUIRE(a);
    static const char *tab_short[PANEL_COUNT] = {"1 Attn", "2 KV", "3 Resid", "4 Norm", "5 Pos", "6 Embed", "7 FFN", "8 Out"};
    static const char *tab_long[PANEL_COUNT] = {"1 Attention", "2 KV cache", "3 Residual", "4 Norms", "5 Position", "6 Embeddings", "7 FFN", "8 Output"};
    char longmsg[160];
    snprintf(longmsg, sizeof longmsg, "%s", "chat mode: the prompt is a user message through the model's chat template (12 tokens)");
    struct { int w; const char *msg; bool longn, beside; } C[] = {
        {80, "prompt set: 5 tokens", false, false},     /* the case that covered "8 Out" */
        {120, "prompt set: 5 tokens", true, true},      /* the case that covered "8 Output" */
        {100, "prompt set: 5 tokens", false, true},
        {80, "ok", false, true},
        {80, longmsg, false, false},
        {200, longmsg, true, true},
        {100, longmsg, true, false},
    };
    for (size_t k = 0; k < sizeof C / sizeof C[0]; k++) {
        Canvas *c = mk(C[k].w, 24, true, true);
        REQUIRE(c);
        scene_status(a->sc, false, "%s", C[k].msg);
        app_render(a, c);
        char *tabs = row_text(c, 1), *bottom = row_text(c, 23);
        for (int i = 0; i < PANEL_COUNT; i++)
            CHECK_MSG(strstr(tabs, C[k].longn ? tab_long[i] : tab_short[i]) != NULL, "%dx24 '%s': tab %d missing: %s", C[k].w, C[k].msg, i + 1, tabs);
        CHECK_MSG((strstr(tabs, C[k].msg) != NULL) == C[k].beside, "%dx24 '%s': tabs row: %s", C[k].w, C[k].msg, tabs);
        const size_t n = strlen(C[k].msg);
        if (C[k].beside) {
            CHECK(strstr(bottom, "F10Quit") != NULL);
        } else if ((int)n + 2 <= C[k].w) {
            /* whole, right-aligned, after the keys that fit */
            CHECK_MSG(strstr(bottom, C[k].msg) != NULL, "%dx24: bottom row: %s", C[k].w, bottom);
            CHECK(strncmp(bottom, "F1Help", 6) == 0);
            CHECK(strstr(bottom, "F10Quit") == NULL);
        } else {
            /* wider than the row: its start and an ellipsis, nothing else on the row */
            CHECK_MSG(strncmp(bottom + 1, C[k].msg, 20) == 0, "%dx24: bottom row: %s", C[k].w, bottom);
            CHECK(strstr(bottom, "\xe2\x80\xa6") != NULL);
            CHECK(strstr(bottom, "F1") == NULL);
        }
        free(tabs);
        free(bottom);
        /* clicking where a tab is drawn selects it (the hit list matches the drawing) */
        a->sc->panel = 0;
        TuiEvent click = {.key = TK_MOUSE, .button = MB_LEFT, .my = 1};
        char *row = row_text(c, 1);
        const char *at = strstr(row, C[k].longn ? tab_long[7] : tab_short[7]);
        if (at) {
            click.mx = text_width(row, true) - text_width(at, true);   /* the column of "8 ..." */
            app_handle(a, &click);
            CHECK_EQ_INT(a->sc->panel, 7);
        }
        free(row);
        canvas_free(c);
    }
    app_free(a);
}

static const char *KINDS[3] = {"gqa", "mha", "mla"};

TEST(tui_panels_fake_all_sizes) {
    static const int SZ[][2] = {{80, 24}, {120, 40}, {60, 16}, {200, 60}, {12, 4}, {3, 2}};
    for (int k = 0; k < 3; k++) {
        Session *s = tui_fake_session(KINDS[k], 12, 8);
        REQUIRE(s);
        App *a = app_new();
        REQUIRE(a);
        app_set_session(a, 0, s, false);
        for (size_t z = 0; z < sizeof SZ / sizeof SZ[0]; z++) {
            for (int p = 0; p < PANEL_COUNT; p++) {
                for (int mode = 0; mode < 3; mode++) {      /* colour+UTF-8, mono, ASCII */
                    Canvas *c = mk(SZ[z][0], SZ[z][1], mode != 2, mode != 0);
                    REQUIRE(c);
                    app_render_panel(a, c, p);
                    if (SZ[z][0] >= 60) CHECK_MSG(contains(c, panel_class((PanelId)p)->title), "%s: panel %d title at %dx%d",
                                                 KINDS[k], p, SZ[z][0], SZ[z][1]);
                    if (mode == 2) CHECK_MSG(all_ascii(c), "%s panel %d mode ascii: non-ASCII output", KINDS[k], p);
                    a->sc->panel = p;
                    app_render(a, c);
                    canvas_free(c);
                }
            }
        }
        app_free(a);
        tui_fake_free(s);
    }
}

TEST(tui_panels_fake_content) {
    Session *s = tui_fake_session("gqa", 12, 8);
    REQUIRE(s);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    Canvas *c = mk(120, 40, true, true);
    REQUIRE(c);
    app_render(a, c);
    CHECK(contains(c, "fake-gqa"));
    CHECK(contains(c, "decode"));
    CHECK(contains(c, "GQA: kv head 0 serves q 0-1"));
    CHECK(contains(c, "kv1"));                       /* small multiples grouped by KV head */
    app_render_panel(a, c, PANEL_KV);
    CHECK(contains(c, "2*n_h*d_h = 2*4*8"));
    CHECK(contains(c, "GQA *"));
    app_render_panel(a, c, PANEL_POSITION);
    CHECK(contains(c, "rotate-half"));
    app_render_panel(a, c, PANEL_OUTPUT);
    CHECK(contains(c, "T=1 (as computed)"));
    tui_fake_free(s);
    app_free(a);

    s = tui_fake_session("mla", 12, 8);
    REQUIRE(s);
    a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    app_render_panel(a, c, PANEL_ATTENTION);
    CHECK(contains(c, "MLA (latent KV)"));
    CHECK(contains(c, "c_kv[16]"));
    app_render_panel(a, c, PANEL_KV);
    CHECK(contains(c, "d_c+d_h^R = 16+4"));
    { Err e = {0}; CHECK(scene_select_layer(a->sc, 1, &e)); }
    app_render_panel(a, c, PANEL_FFN);
    CHECK(contains(c, "mixture of experts"));
    CHECK(contains(c, "expert 3"));                  /* p = 11: experts 11 % 8 and 14 % 8 */
    tui_fake_free(s);
    app_free(a);

    s = tui_fake_session("mha", 12, 8);
    REQUIRE(s);
    a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    app_render_panel(a, c, PANEL_POSITION);
    CHECK(contains(c, "learned positions"));
    CHECK(contains(c, "cos(pos_emb[i], pos_emb[j])"));
    app_render_panel(a, c, PANEL_NORMS);
    CHECK(contains(c, "LayerNorm"));
    canvas_free(c);
    tui_fake_free(s);
    app_free(a);
}

TEST(tui_frame_time) {
    Session *s = tui_fake_session("gqa", 64, 8);
    REQUIRE(s);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    Canvas *c = mk(160, 50, true, false);
    REQUIRE(c);
    /* the frame's own CPU time (this thread), median of 5 renders per panel: a busy machine
     * delays a frame but does not make it cost more work */
    double worst = 0;
    for (int p = 0; p < PANEL_COUNT; p++) {
        a->sc->panel = p;
        app_render(a, c);                            /* warm caches (PCA, lens) */
        double ms[5];
        for (int r = 0; r < 5; r++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            app_render(a, c);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
            double v = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
            int i = r;
            for (; i > 0 && ms[i - 1] > v; i--) ms[i] = ms[i - 1];
            ms[i] = v;
        }
        if (ms[2] > worst) worst = ms[2];
    }
    canvas_free(c);
    app_free(a);
    tui_fake_free(s);
    if (getenv("LLMSCOPE_VALGRIND") || getenv("LLMSCOPE_SLOW")) SKIP("timing is meaningless under valgrind");
    CHECK_MSG(worst < 10.0, "slowest panel: median frame %.2f ms of CPU (budget 10 ms)", worst);
}

TEST(tui_panel_keys_fake) {
    Session *s = tui_fake_session("gqa", 10, 6);
    REQUIRE(s);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    TuiEvent ev = {.key = ','};
    app_handle(a, &ev);                              /* attention: select the key column */
    CHECK_EQ_INT(a->sc->sel.key, 9);
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->sel.key, 8);
    ev.key = '}';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->sel.head, 1);
    ev.key = ']';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->sel.layer, 1);
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->sel.layer, 1);                       /* clamped */
    ev.key = '2';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->panel, PANEL_KV);
    ev.key = '?';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->overlay, OV_HELP);
    ev.key = TK_ESC;
    app_handle(a, &ev);
    CHECK_EQ_INT(a->overlay, OV_NONE);
    /* mouse: click a token chip -> cursor moves there */
    Canvas *c = mk(80, 24, true, false);
    REQUIRE(c);
    app_render(a, c);
    int tok_hit = -1;
    for (int i = 0; i < a->n_hits; i++) if (a->hits[i].kind == HIT_TOKEN && a->hits[i].arg == 3) tok_hit = i;
    REQUIRE(tok_hit >= 0);
    TuiEvent m = {.key = TK_MOUSE, .mx = a->hits[tok_hit].r.x, .my = a->hits[tok_hit].r.y, .button = MB_LEFT};
    app_handle(a, &m);
    CHECK_EQ_INT(session_cursor(s), 3);
    canvas_free(c);
    app_free(a);
    tui_fake_free(s);
}

TEST(tui_lineedit_utf8) {
    LineEdit le;
    lineedit_set(&le, "ab");
    lineedit_key(&le, 0x65e5);                       /* 日 */
    lineedit_key(&le, 'e');
    lineedit_key(&le, 0x301);                        /* combining acute: same grapheme as 'e' */
    CHECK_STR(le.buf, "ab\xe6\x97\xa5" "e\xcc\x81");
    lineedit_key(&le, TK_BACKSPACE);                 /* removes "é" as one grapheme */
    CHECK_STR(le.buf, "ab\xe6\x97\xa5");
    lineedit_key(&le, TK_LEFT);
    lineedit_key(&le, TK_BACKSPACE);
    CHECK_STR(le.buf, "a\xe6\x97\xa5");
    lineedit_key(&le, TK_HOME);
    lineedit_key(&le, TK_DELETE);
    CHECK_STR(le.buf, "\xe6\x97\xa5");
    CHECK_EQ_INT(le.cur, 0);
}

/* ---- analysis ---------------------------------------------------------------------- */

TEST(tui_analysis_kv_formulas) {
    ModelSpec s;
    memset(&s, 0, sizeof s);
    s.n_heads = 8; s.n_kv_heads = 4; s.head_dim = 8; s.attn_kind = ATTN_GQA;
    KvVariant v[KVA_COUNT];
    kv_variants(&s, v);
    CHECK_EQ_INT(v[KVA_MHA].elems, 128);     /* 2*8*8 */
    CHECK_EQ_INT(v[KVA_GQA].elems, 64);      /* 2*4*8 */
    CHECK_EQ_INT(v[KVA_MQA].elems, 16);      /* 2*8 */
    CHECK_EQ_INT(v[KVA_MLA].elems, 36);      /* 4*8 + 8/2 */
    CHECK(v[KVA_GQA].actual && !v[KVA_MHA].actual);
    s.attn_kind = ATTN_MLA; s.kv_lora_rank = 512; s.qk_rope_head_dim = 64; s.qk_nope_head_dim = 128; s.v_head_dim = 128;
    s.n_heads = 128;
    CHECK_EQ_INT(kv_elems_actual(&s), 576);  /* DeepSeek-V2: 512 + 64 */
    char b[32];
    kv_fmt_bytes(1536, b, sizeof b);
    CHECK_STR(b, "1.50 KiB");
}

TEST(tui_analysis_sampling_preview) {
    float lg[4] = {2, 1, 0, -INFINITY};
    double e0 = exp(2.0), e1 = exp(1.0), e2 = 1.0, extra = 0.5;   /* unrecorded mass e^x summing to 0.5 */
    float lse = (float)log(e0 + e1 + e2 + extra);
    float p[4];
    double tail, bound;
    SamplePreviewCfg one = {1.0f, 0, 1.0f, false};
    int n = sampling_preview(lg, 4, lse, 100, one, p, &tail, &bound);
    CHECK_EQ_INT(n, 3);
    CHECK_NEAR(p[0], e0 / (e0 + e1 + e2 + extra), 1e-5);
    CHECK_NEAR(tail, extra / (e0 + e1 + e2 + extra), 1e-5);
    SamplePreviewCfg k1 = {0.5f, 1, 1.0f, false};
    n = sampling_preview(lg, 4, lse, 100, k1, p, NULL, NULL);
    CHECK_EQ_INT(n, 1);
    CHECK_NEAR(p[0], 1.0, 1e-6);
    SamplePreviewCfg cold = {0.5f, 0, 1.0f, false};   /* T=0.5: weights e^{2l}, renormalised */
    sampling_preview(lg, 4, lse, 100, cold, p, NULL, &bound);
    double z = exp(4.0) + exp(2.0) + 1.0;
    CHECK_NEAR(p[1], exp(2.0) / z, 1e-5);
    CHECK(bound >= 0 && bound < 0.1);
}

TEST(tui_analysis_stats_pca) {
    float x[3] = {0, 0.5f, 1};
    double counts[2], lo = 0, hi = 1;
    CHECK(stats_hist(x, 3, 2, &lo, &hi, counts));
    CHECK_NEAR(counts[0], 1, 0);
    CHECK_NEAR(counts[1], 2, 0);                     /* 0.5 and the top edge 1.0 */
    float p[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    CHECK_NEAR(stats_entropy_bits(p, 4), 2.0, 1e-9);
    /* points on a line in 3-D: the first component explains everything */
    float X[4 * 3];
    for (int i = 0; i < 4; i++) { X[i * 3] = (float)i; X[i * 3 + 1] = 2.0f * (float)i; X[i * 3 + 2] = -(float)i; }
    float a[2], b[2];
    PcaAxes ax;
    CHECK(pca_axes_fit(&ax, X, 4, 3));
    CHECK_NEAR(ax.explained[0], 1.0, 1e-6);
    pca_axes_project(&ax, X, a);
    pca_axes_project(&ax, X + 3, b);
    CHECK_NEAR(fabs(b[0] - a[0]), sqrt(6.0), 1e-4);        /* consecutive points sqrt(1+4+1) apart */
    pca_axes_done(&ax);
    /* n < d path (SVD of X^T) */
    float Y[2 * 5] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    CHECK(pca_axes_fit(&ax, Y, 2, 5));
    pca_axes_project(&ax, Y, a);
    pca_axes_project(&ax, Y + 5, b);
    CHECK_NEAR(fabs(a[0] - b[0]), sqrt(2.0), 1e-4);
    pca_axes_done(&ax);
    int idx[2];
    float v[5] = {3, 9, 1, 7, 5};
    stats_topk(v, 5, 2, idx);
    CHECK(idx[0] == 1 && idx[1] == 3);
}

/* ---- app on a real model (shared data) -------------------------------------------- */

static Session *real_session(const char *prompt, Err *e) {
    const char *d = test_shared_data();
    if (!d) return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/stories260K/stories260K.bin", d);
    Session *s = session_new(path, 64, e);
    if (s && !session_set_prompt(s, prompt, e)) { session_free(s); return NULL; }
    return s;
}

TEST(tui_app_keys_real_model) {
    if (!test_shared_data()) SKIP("../shared/data not present");
    Err e = {0};
    Session *s = real_session("Once upon a time", &e);
    if (!s) SKIP("cannot load stories260K: %s", e.msg);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, true);
    Canvas *c = mk(80, 24, true, true);
    REQUIRE(c);
    app_render(a, c);
    CHECK(contains(c, "no tokens yet"));
    TuiEvent ev = {.key = 'n'};
    app_handle(a, &ev);                              /* prefill */
    int np = session_n_prompt(s);
    CHECK_EQ_INT(session_cursor(s), np - 1);
    ev.key = ' ';
    app_handle(a, &ev);                              /* decode one */
    ev.key = TK_RIGHT;
    app_handle(a, &ev);
    CHECK_EQ_INT(session_cursor(s), np + 1);
    CHECK_EQ_INT(session_len(s), np + 2);
    ev.key = 'b';
    app_handle(a, &ev);
    CHECK_EQ_INT(session_cursor(s), np);
    ev.key = TK_HOME;
    app_handle(a, &ev);
    CHECK_EQ_INT(session_cursor(s), 0);
    ev.key = TK_END;
    app_handle(a, &ev);
    CHECK_EQ_INT(session_cursor(s), np + 1);
    /* step into: the stage cursor moves and the panel follows it */
    ev.key = 'i';
    app_handle(a, &ev);
    app_handle(a, &ev);
    CHECK(a->sc->sel.stage != STAGE_EMBED);
    CHECK_EQ_INT(a->sc->panel, scene_panel_for_stage(a->sc->sel.stage));
    for (int i = 0; i < 8; i++) {
        app_handle(a, &ev);
        app_render(a, c);
        CHECK_EQ_INT(a->sc->panel, scene_panel_for_stage(a->sc->sel.stage));
    }
    ev.key = 'I';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->sc->panel, scene_panel_for_stage(a->sc->sel.stage));
    /* every panel renders on the real trace, at 80x24 in colour and mono */
    for (int p = 0; p < PANEL_COUNT; p++) {
        a->sc->panel = p;
        c->mono = false;
        app_render(a, c);
        c->mono = true;
        app_render(a, c);
        CHECK(contains(c, panel_class((PanelId)p)->title));
    }
    /* edit the prompt through the overlay */
    ev.key = 'e';
    app_handle(a, &ev);
    CHECK_EQ_INT(a->overlay, OV_PROMPT);
    ev.key = TK_CTRL('u');
    app_handle(a, &ev);
    const char *txt = "The cat";
    for (const char *p = txt; *p; p++) { ev.key = *p; app_handle(a, &ev); }
    ev.key = TK_ENTER;
    app_handle(a, &ev);
    CHECK_STR(session_prompt(s), "The cat");
    CHECK_EQ_INT(session_cursor(s), session_n_prompt(s) - 1);
    /* run mode: ticks decode */
    ev.key = 'r';
    app_handle(a, &ev);
    CHECK(a->sc->running);
    int before = session_len(s);
    TuiEvent tick = {.key = TK_TICK};
    app_handle(a, &tick);
    CHECK_EQ_INT(session_len(s), before + 1);
    canvas_free(c);
    app_free(a);
}

TEST(tui_compare_real_model) {
    if (!test_shared_data()) SKIP("../shared/data not present");
    Err e = {0};
    Session *s1 = real_session("Once upon a time", &e), *s2 = real_session("Once upon a time", &e);
    if (!s1 || !s2) { session_free(s1); session_free(s2); SKIP("cannot load stories260K: %s", e.msg); }
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s1, true);
    app_set_session(a, 1, s2, true);
    CHECK_EQ_INT(a->sc->n_ses, 2);
    TuiEvent ev = {.key = 'n'};
    app_handle(a, &ev);
    app_handle(a, &ev);
    CHECK_EQ_INT(session_cursor(s1), session_cursor(s2));
    CHECK_EQ_INT(session_len(s1), session_len(s2));
    ev.key = ']';
    app_handle(a, &ev);
    CHECK_EQ_INT(scene_sel(a->sc, 1).layer, 1);
    Canvas *c = mk(120, 30, true, true);
    REQUIRE(c);
    for (int p = 0; p < PANEL_COUNT; p++) { a->sc->panel = p; app_render(a, c); }
    CHECK(contains(c, "A: stories260K"));
    CHECK(contains(c, "B: stories260K"));
    CHECK(a->cmp.ea && a->cmp.eb && !a->cmp.running);   /* the finished band keeps its engines */
    /* as the UI runs it: one more token, the band's run goes on from its result (not run yet) */
    a->sc->chunked = true;
    ev.key = ' ';
    app_handle(a, &ev);
    app_render(a, c);
    CHECK(a->cmp.running && a->cmp.grown);
    CHECK(contains(c, "A vs B on A's text"));         /* the shorter result, not "computing" */
    ev.key = 'c';
    app_handle(a, &ev);                              /* leaves compare mode: B's model is freed */
    CHECK_EQ_INT(a->sc->n_ses, 1);
    CHECK(!a->cmp.ea && !a->cmp.eb && !a->cmp.running);   /* its engines went first (ASan: no use after free) */
    canvas_free(c);
    app_free(a);
}

/* From `p` to the frame's right edge (the last one on that line), trailing blanks dropped;
 * whether it ends cut with an ellipsis ("…", or "~" in ASCII). */
static bool emb_header_line(const char *p, bool utf8, char *line, size_t cap, bool *edge_found) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    snprintf(line, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), p);
    const char *edge = utf8 ? "\xe2\x94\x82" : "|";
    char *bar = NULL;
    for (char *f = strstr(line, edge); f; f = strstr(f + 1, edge)) bar = f;
    if (bar) *bar = 0;
    *edge_found = bar != NULL;
    size_t l = strlen(line);
    while (l && line[l - 1] == ' ') line[--l] = 0;
    return (l >= 3 && !strcmp(line + l - 3, "\xe2\x80\xa6")) || (l && line[l - 1] == '~');
}

/* The Embeddings headers are not cut at 80x24 and 100x30, in English and Chinese, UTF-8 and
 * ASCII: a narrower wording is chosen before anything is cut with an ellipsis. The cosine
 * header ("cos(a@i, b@j) = v (most similar)": the short note, shorter labels, no positions),
 * the neighbours' header ("tok_emb rows nearest to '␣time' (id 366)") and the PCA's second
 * line ("PC1 ..%  PC2 ..%  fit on 4 prompt tokens"); in the vocabulary map (v) its header ("vocabulary
 * map: PCA of the first 2048 rows of tok_emb", two blanks at least from the neighbours' header beside it)
 * and PCA line ("PC1 ..  dots: vocabulary, labels: ..."). */
TEST(tui_embeddings_cosine_header_fits) {
    static const char *const SIZES[] = {"80x24", "100x30"};
    static const char *const MODES[] = {"--lang en", "--lang zh", "--lang en --ascii", "--lang zh --ascii"};
    int seen = 0;
    for (int z = 0; z < 2; z++)
        for (int k = 0; k < 4; k++) {
            char cmd[1024], *out = NULL, line[512];
            bool edge = false, cut;
            snprintf(cmd, sizeof cmd, "LLMSCOPE_THREADS=1 '%s' screenshot --model assets/models/story-gqa --prompt 'Once upon a time'"
                     " --full --keys 6 --size %s %s", test_bin(), SIZES[z], MODES[k]);
            int rc = test_run(cmd, &out, 0);
            CHECK_MSG(rc == 0 && out, "%s: exit %d", cmd, rc);
            const bool utf8 = k < 2, zh = k == 1;   /* --ascii draws the English */
            const char *p = out ? strstr(out, "cos(") : NULL;
            CHECK_MSG(p, "%s: no cosine header in\n%s", cmd, out ? out : "");
            if (p) {
                cut = emb_header_line(p, utf8, line, sizeof line, &edge);
                CHECK_MSG(edge && strstr(line, ") = ") && !cut, "%s: header cut or malformed: \"%s\"", cmd, line);
                /* the pair shown is the selected (last) token with its most similar other token: the note
                 * says so ("（" in Chinese; --ascii draws the English) */
                CHECK_MSG(strstr(line, " (") || strstr(line, "\xef\xbc\x88"), "%s: no note in \"%s\"", cmd, line);
                seen++;
            }
            /* the neighbours of the selected token '␣time' (id 366) at layer 0 */
            p = out ? strstr(out, zh ? "\xe4\xb8\x8e '" : "tok_emb ") : NULL;   /* "与 '" */
            CHECK_MSG(p, "%s: no neighbours header in\n%s", cmd, out ? out : "");
            if (p) {
                cut = emb_header_line(p, utf8, line, sizeof line, &edge);
                CHECK_MSG(edge && strstr(line, "time'") && !cut, "%s: neighbours header cut or malformed: \"%s\"", cmd, line);
                seen++;
            }
            /* the PCA is fitted on the 4 prompt tokens after BOS: the count and its noun are whole */
            p = out ? strstr(out, "PC1 ") : NULL;
            CHECK_MSG(p, "%s: no PCA line in\n%s", cmd, out ? out : "");
            if (p) {
                emb_header_line(p, utf8, line, sizeof line, &edge);
                CHECK_MSG(strstr(line, zh ? "\xe6\x8b\x9f\xe5\x90\x88\xe8\x87\xaa 4 \xe4\xb8\xaa token " : " 4 tokens ")
                              || (!zh && strstr(line, " 4 prompt tokens ")),
                          "%s: PCA line cut: \"%s\"", cmd, line);   /* "拟合自 4 个 token" */
                seen++;
            }
            free(out);
            /* the vocabulary map (v): its two header lines, each beside a neighbours' line, are whole,
             * and the PCA line keeps its legend for the dots (80x24: "dots: vocabulary") */
            out = NULL;
            snprintf(cmd, sizeof cmd, "LLMSCOPE_THREADS=1 '%s' screenshot --model assets/models/story-gqa --prompt 'Once upon a time'"
                     " --full --keys 6v --size %s %s", test_bin(), SIZES[z], MODES[k]);
            rc = test_run(cmd, &out, 0);
            CHECK_MSG(rc == 0 && out, "%s: exit %d", cmd, rc);
            const char *ell = utf8 ? "\xe2\x80\xa6" : "~";
            p = out ? strstr(out, zh ? "\xe8\xaf\x8d\xe8\xa1\xa8\xe5\x9b\xbe" : "vocabulary map") : NULL;   /* "词表图" */
            CHECK_MSG(p, "%s: no vocabulary map header in\n%s", cmd, out ? out : "");
            if (p) {
                emb_header_line(p, utf8, line, sizeof line, &edge);
                CHECK_MSG(edge && !strstr(line, ell) && strstr(line, "2048"), "%s: map header cut or malformed: \"%s\"", cmd, line);
                /* two blanks at least before the neighbours' header beside it (80x24 had one) */
                const char *nb = zh ? strstr(line, "\xe4\xb8\x8e '") : strstr(line, "tok_emb nearest");
                if (!nb && !zh) nb = strstr(line, "tok_emb rows nearest");
                CHECK_MSG(nb && nb - line >= 2 && nb[-1] == ' ' && nb[-2] == ' ',
                          "%s: map header not two blanks from the neighbours' header: \"%s\"", cmd, line);
                seen++;
            }
            p = out ? strstr(out, "PC1 ") : NULL;
            CHECK_MSG(p, "%s: no map PCA line in\n%s", cmd, out ? out : "");
            if (p) {
                emb_header_line(p, utf8, line, sizeof line, &edge);
                CHECK_MSG(edge && !strstr(line, ell) && strstr(line, zh ? "\xe7\x82\xb9\xef\xbc\x9a\xe8\xaf\x8d\xe8\xa1\xa8" : "dots: vocabulary"),
                          "%s: map PCA line cut or without its legend: \"%s\"", cmd, line);   /* "点：词表" */
                seen++;
            }
            free(out);
        }
    CHECK_EQ_INT(seen, 40);
}
