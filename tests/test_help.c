/* The help overlay (? / F1): every panel's help can be read whole at the sizes a class projects
 * (80x24) and at the smallest the UI draws (60x16), in English and Chinese. At 80x24 the help
 * used to be cut after the first lines of the panel's own section, with no way to see the rest. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "harness.h"
#include "scene/keys.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/lesson_pane.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"
#include "tui_fake.h"

/* s without its blanks and line breaks (the box wraps text anywhere there is one). */
static void squeeze(const char *s, char *out, size_t cap) {
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (!isspace((unsigned char)*s)) out[o++] = *s;
    out[o] = 0;
}

/* Row y of the canvas from column x, w columns, appended without blanks. */
static void grab_row(const Canvas *c, int x, int y, int w, char *out, size_t cap) {
    size_t o = strlen(out);
    for (int i = x; i < x + w; i++) {
        const Cell *cell = canvas_cell(c, i, y);
        if (!cell || !cell->len) continue;
        for (int k = 0; k < cell->len && o + 1 < cap; k++)
            if (!isspace((unsigned char)cell->ch[k])) out[o++] = cell->ch[k];
    }
    out[o] = 0;
}

/* An App on a synthetic GQA session (12 tokens, 8 of them the prompt), the key hint off; the
 * caller frees both (app_free, then tui_fake_free(*s)). NULL when either cannot be made. */
static App *help_app(Session **s) {
    *s = tui_fake_session("gqa", 12, 8);
    App *a = *s ? app_new() : NULL;
    if (!a) {
        tui_fake_free(*s);
        *s = NULL;
        return NULL;
    }
    app_set_session(a, 0, *s, false);
    a->hint = false;
    return a;
}

/* Opens the help over panel p (or the trade-off view), scrolls it down one row at a time and
 * collects what was shown, in order, without blanks. Returns the rows scrolled. */
static int read_help(App *a, Canvas *c, int p, bool tradeoff, char *out, size_t cap) {
    TuiEvent esc = {.key = TK_ESC}, help = {.key = '?'}, down = {.key = TK_DOWN};
    app_handle(a, &esc);
    a->sc->panel = p;
    a->sc->view.tradeoff = tradeoff;
    app_handle(a, &help);
    out[0] = 0;
    const int bw = c->w - 2 < 66 ? c->w - 2 : 66;
    int top = -1, scrolled = 0;
    for (int i = 0; i < 400; i++) {
        app_render(a, c);
        if (a->help_top == top) break;        /* the last row is in view */
        top = a->help_top;
        const int bh = a->help_page + 2, x = (c->w - bw) / 2 + 2, y = (c->h - bh) / 2 + 1;
        grab_row(c, x, y, bw - 3, out, cap);  /* the first row in view */
        scrolled = i;
        app_handle(a, &down);
    }
    const int bh = a->help_page + 2, x = (c->w - bw) / 2 + 2, y = (c->h - bh) / 2 + 1;
    for (int r = 1; r < a->help_page; r++) grab_row(c, x, y + r, bw - 3, out, cap);
    return scrolled;
}

TEST(tui_help_whole_at_80x24) {
    static const int SZ[][2] = {{80, 24}, {60, 16}};
    Session *s = NULL;
    App *a = help_app(&s);
    REQUIRE(a);
    static char got[16384], want[8192];
    for (int lang = 0; lang < 2; lang++) {
        i18n_set_lang(lang ? LANG_ZH : LANG_EN);
        for (size_t z = 0; z < sizeof SZ / sizeof SZ[0]; z++) {
            Canvas *c = canvas_new(SZ[z][0], SZ[z][1]);
            REQUIRE(c);
            for (int p = 0; p <= PANEL_COUNT; p++) {
                const bool tradeoff = p == PANEL_COUNT;
                const PanelClass *pc = tradeoff ? &panel_tradeoff : panel_class((PanelId)p);
                int n = read_help(a, c, tradeoff ? 0 : p, tradeoff, got, sizeof got);
                CHECK(n > 0);                     /* none of these fits without scrolling */
                squeeze(tr(pc->help), want, sizeof want);
                CHECK_MSG(strstr(got, want), "%s %dx%d: the %s help is not shown whole:\n%s\nwant\n%s",
                          lang ? "zh" : "en", SZ[z][0], SZ[z][1], pc->name, got, want);
                squeeze(tr("Every panel:"), want, sizeof want);
                CHECK_MSG(strstr(got, want), "%s: no \"Every panel:\" in %s", pc->name, got);
                /* the panel's own keys come first: its heading is the first row */
                char head[128];
                snprintf(head, sizeof head, tradeoff ? tr("%s view:") : tr("%s panel:"), tr(pc->title));
                squeeze(head, want, sizeof want);
                CHECK_MSG(!strncmp(got, want, strlen(want)), "%s: help starts \"%.40s\"", pc->name, got);
                if (!lang) CHECK_MSG(strstr(got, "mouseclicktokens,tabs,F-keysandpanelcells"), "%s: global keys cut", pc->name);
                /* Home goes back to the top; the mouse wheel scrolls too */
                TuiEvent home = {.key = TK_HOME}, wheel = {.key = TK_MOUSE, .button = MB_WHEEL_DOWN};
                app_handle(a, &home);
                CHECK_EQ_INT(a->help_top, 0);
                app_handle(a, &wheel);
                CHECK_EQ_INT(a->help_top, 1);
                CHECK_EQ_INT(a->overlay, OV_HELP);
            }
            canvas_free(c);
        }
    }
    i18n_set_lang(LANG_EN);
    a->sc->view.tradeoff = false;
    app_free(a);
    tui_fake_free(s);
}

/* The Embeddings help says what the marked cell of the cosine matrix is (reverse video, '&' in
 * ASCII), in English and Chinese; the panel draws that mark where the help says. */
TEST(tui_help_embeddings_names_the_marked_cell) {
    Session *s = tui_fake_session("gqa", 12, 8);
    REQUIRE(s);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s, false);
    Canvas *c = canvas_new(100, 30);
    REQUIRE(c);
    c->unicode = false;
    app_render_panel(a, c, PANEL_EMBEDDINGS);
    int from = 0;
    const CanvasTarget *t = canvas_target_find(c, "embeddings.cell", &from);
    REQUIRE(t);
    const Cell *cell = canvas_cell(c, t->r.x, t->r.y);
    CHECK(cell && cell->len == 1 && cell->ch[0] == '&' && (cell->attr & ATTR_REVERSE));
    const char *help = panel_class(PANEL_EMBEDDINGS)->help;
    char flat[8192];
    squeeze(help, flat, sizeof flat);
    CHECK_MSG(strstr(flat, "reversevideo('&'") && strstr(flat, "thepairwrittenoutaboveit"), "%s", help);
    i18n_set_lang(LANG_ZH);
    squeeze(tr(help), flat, sizeof flat);
    CHECK_MSG(strstr(flat, "\xe5\x8f\x8d\xe8\x89\xb2") && strstr(flat, "'&'"), "%s", flat);   /* "反色" */
    i18n_set_lang(LANG_EN);
    canvas_free(c);
    app_free(a);
    tui_fake_free(s);
}

/* The header's model text (A and B in compare mode) before the position part: whole, or short
 * of whole " · " parts, or cut with an ellipsis, never mid-part (80x24 in Chinese showed
 * "6L d1" for "6L d192"); with two models B's name is shown at 80 columns. */
static bool header_model_ok(const char *row, const char *full) {
    if (strstr(row, full)) return true;
    /* the whole model line left out (the name alone: compare mode at 60-76 columns) */
    char kind[256];
    const char *k0 = strstr(full, " \xc2\xb7 ");
    snprintf(kind, sizeof kind, "%s", k0 ? k0 + 4 : full);
    char *k1 = strstr(kind, " \xc2\xb7 ");
    if (k1) *k1 = 0;
    const char *sp = strchr(kind, ' ');                    /* "GQA" of "GQA 4q/2kv" */
    char head[64];
    snprintf(head, sizeof head, "%.*s", sp ? (int)(sp - kind) : (int)strlen(kind), kind);
    const char *b = strstr(row, "B: ");
    const char *mine = strncmp(row, "B: ", 3) && b ? b : row + strlen(row);   /* A's text ends where B's begins */
    const char *h = strstr(row, head);
    if ((!h || h >= mine) && !strstr(row, "\xe2\x80\xa6")) return true;
    char pre[256];
    snprintf(pre, sizeof pre, "%s", full);
    for (char *cut = strrchr(pre, '\xb7'); cut && cut - pre >= 2; cut = strrchr(pre, '\xb7')) {
        cut[-2] = 0;                          /* drop " · " (0xc2 0xb7) and the part after it */
        const char *at = strstr(row, pre);
        if (at) return strncmp(at + strlen(pre), " \xc2\xb7", 3) != 0;   /* no partial part after it */
    }
    /* the attention part alone ("GQA 4q/2kv"), the model type dropped before it */
    const char *p1 = strstr(full, " \xc2\xb7 ");
    if (p1) {
        snprintf(pre, sizeof pre, "  %s", p1 + 4);
        char *p2 = strstr(pre, " \xc2\xb7 ");
        if (p2) *p2 = 0;
        const char *at = strstr(row, pre);
        if (at) return strncmp(at + strlen(pre), " \xc2\xb7", 3) != 0;
    }
    return strstr(row, "\xe2\x80\xa6") != NULL;
}

TEST(tui_header_model_text_cut_at_parts) {
    Session *s = tui_fake_session("gqa", 12, 8), *s2 = tui_fake_session("mla", 12, 8);
    REQUIRE(s && s2);
    char ml[256], ml2[256];
    panel_model_line(s, ml, sizeof ml);
    panel_model_line(s2, ml2, sizeof ml2);
    int seen = 0;
    for (int two = 0; two < 2; two++) {
        App *a = app_new();
        REQUIRE(a);
        app_set_session(a, 0, s, false);
        if (two) app_set_session(a, 1, s2, false);
        for (int lang = 0; lang < 2; lang++) {
            i18n_set_lang(lang ? LANG_ZH : LANG_EN);
            for (int w = 60; w <= 140; w += 4) {
                Canvas *c = canvas_new(w, 24);
                REQUIRE(c);
                app_render(a, c);
                char *t = canvas_to_text(c);
                REQUIRE(t);
                t[strcspn(t, "\n")] = 0;
                CHECK_MSG(header_model_ok(t, ml), "%s %d cols: \"%s\" cuts \"%s\" inside a part", lang ? "zh" : "en", w, t, ml);
                if (two && w >= 80) CHECK_MSG(strstr(t, "B: "), "%d cols: no B in \"%s\"", w, t);
                if (two && strstr(t, "B: ")) CHECK_MSG(header_model_ok(strstr(t, "B: "), ml2), "%d cols: B cut inside a part: \"%s\"", w, t);
                seen++;
                free(t);
                canvas_free(c);
            }
        }
        i18n_set_lang(LANG_EN);
        app_free(a);
    }
    CHECK_EQ_INT(seen, 84);
    tui_fake_free(s);
    tui_fake_free(s2);
}

/* Display width of row y from column x over w columns, up to its last non-blank cell; the first
 * grapheme of the row into first. */
static int row_used(const Canvas *c, int x, int y, int w, char *first, size_t cap) {
    int used = 0;
    first[0] = 0;
    for (int i = x; i < x + w; i++) {
        const Cell *cell = canvas_cell(c, i, y);
        if (!cell || !cell->len || (cell->len == 1 && cell->ch[0] == ' ')) continue;
        if (!first[0] && cell->len < cap) { memcpy(first, cell->ch, cell->len); first[cell->len] = 0; }
        used = i - x + cell->width;
    }
    return used;
}

/* Punctuation a Chinese line must not start with (，。、；：！？）」』》). */
static bool closing_punct(const char *g) {
    static const char *const P[] = {"\xef\xbc\x8c", "\xe3\x80\x82", "\xe3\x80\x81", "\xef\xbc\x9b", "\xef\xbc\x9a",
                                    "\xef\xbc\x81", "\xef\xbc\x9f", "\xef\xbc\x89", "\xe3\x80\x8d", "\xe3\x80\x8f", "\xe3\x80\x8b"};
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) if (!strcmp(g, P[i])) return true;
    return false;
}

/* Chinese prose wraps between any two characters (never before closing punctuation), Latin
 * words stay whole: the help's Chinese paragraphs fill their rows. They wrapped only at blanks
 * ("左：每个 token" alone on a row, then "在所选层的向量…"), and the source's line breaks stayed. */
TEST(tui_help_chinese_prose_wraps_between_characters) {
    /* w_text alone: 30 columns, a paragraph mixing Chinese and Latin words */
    const char *zh = "\xe5\xb7\xa6\xef\xbc\x9a\xe6\xaf\x8f\xe4\xb8\xaa token \xe5\x9c\xa8\xe6\x89\x80\xe9\x80\x89\xe5\xb1\x82\xe7\x9a\x84"
                     "\xe5\x90\x91\xe9\x87\x8f\xef\xbc\x8c\xe6\x8a\x95\xe5\xbd\xb1\xe5\x88\xb0\xe6\x8f\x90\xe7\xa4\xba\xe8\xaf\x8d\xe5\x8f\x98"
                     "\xe5\x8c\x96\xe6\x9c\x80\xe5\xa4\xa7\xe7\x9a\x84\xe4\xb8\xa4\xe4\xb8\xaa\xe6\x96\xb9\xe5\x90\x91\xe4\xb8\x8a\xef\xbc\x88"
                     "PCA\xef\xbc\x89\xe3\x80\x82\xe5\x9d\x90\xe6\xa0\x87\xe8\xbd\xb4\xe5\x8f\xaa\xe5\x9c\xa8 token \xe4\xb8\x8a\xe6\x8b\x9f"
                     "\xe5\x90\x88\xe4\xb8\x80\xe6\xac\xa1\xe3\x80\x82";
    Canvas *c = canvas_new(40, 12);
    REQUIRE(c);
    const int W = 30;
    int rows = w_text(c, rect_make(0, 0, W, 12), zh, sty(CR_TEXT));
    CHECK_EQ_INT(rows, w_text_rows(zh, W, true));
    CHECK(rows >= 3);
    char first[16];
    for (int y = 0; y < rows; y++) {
        int used = row_used(c, 0, y, 40, first, sizeof first);
        CHECK_MSG(used <= W, "row %d: %d columns in a %d-column box", y, used, W);
        if (y + 1 < rows) CHECK_MSG(used >= W - 6, "row %d ragged: %d of %d columns", y, used, W);
        CHECK_MSG(!closing_punct(first), "row %d starts with closing punctuation \"%s\"", y, first);
    }
    char *t = canvas_to_text(c);
    CHECK_MSG(t && strstr(t, "token") && strstr(t, "PCA"), "a Latin word split:\n%s", t ? t : "");
    free(t);
    canvas_free(c);

    /* the Embeddings help in Chinese: each paragraph's rows but its last are full */
    Session *s = NULL;
    App *a = help_app(&s);
    REQUIRE(a);
    i18n_set_lang(LANG_ZH);
    c = canvas_new(80, 90);
    REQUIRE(c);
    a->sc->panel = PANEL_EMBEDDINGS;
    TuiEvent help = {.key = '?'};
    app_handle(a, &help);
    app_render(a, c);
    const int bw = 66, x = (c->w - bw) / 2 + 2, tw = bw - 3;
    int y0 = -1, y1 = -1, checked = 0;
    for (int y = 0; y < c->h; y++) {
        row_used(c, x, y, tw, first, sizeof first);
        if (y0 < 0 && !strcmp(first, "\xe5\xb7\xa6")) y0 = y;                                  /* "左：" */
        if (y0 >= 0 && y > y0 && !first[0]) { y1 = y; break; }                              /* the blank row before "所有面板：" */
    }
    CHECK_MSG(y0 > 0 && y1 > y0, "no Chinese prose found in the help (rows %d..%d)", y0, y1);
    for (int y = y0; y0 > 0 && y < y1; y++) {
        char next[16];
        int used = row_used(c, x, y, tw, first, sizeof first);
        row_used(c, x, y + 1, tw, next, sizeof next);
        /* a paragraph ends before "右：" and "文本视图：" and at the blank row */
        const bool last = y + 1 == y1 || !strcmp(next, "\xe5\x8f\xb3") || !strcmp(next, "\xe6\x96\x87");
        CHECK_MSG(!closing_punct(first), "help row %d starts with closing punctuation", y);
        if (!last) CHECK_MSG(used >= tw - 6, "help row %d ragged: %d of %d columns", y, used, tw);
        checked++;
    }
    CHECK(checked >= 8);
    i18n_set_lang(LANG_EN);
    canvas_free(c);
    app_free(a);
    tui_fake_free(s);
}

/* A key row too wide for the help box goes on under its description, not at the box's left
 * edge ("p        what-if precision of the cached elements: f32," then "         bf16, fp8,
 * int4" with 9 blanks; it was "bf16, fp8, int4" at column 0, reading like a key). Every panel's
 * key rows wider than the box, at 60 and 80 columns, English and Chinese. */
TEST(tui_help_key_rows_wrap_under_the_description) {
    Session *s = NULL;
    App *a = help_app(&s);
    REQUIRE(a);
    int checked = 0;
    for (int lang = 0; lang < 2; lang++) {
        i18n_set_lang(lang ? LANG_ZH : LANG_EN);
        for (int wi = 0; wi < 2; wi++) {
            Canvas *c = canvas_new(wi ? 80 : 60, 200);      /* tall: the whole help in one box */
            REQUIRE(c);
            for (int p = 0; p < PANEL_COUNT; p++) {
                REQUIRE(scene_show_panel(a->sc, p, &(Err){0}));
                app_open_overlay(a, OV_HELP);
                app_render(a, c);
                const int bw = c->w - 2 < 66 ? c->w - 2 : 66, tw = bw - 3, x0 = (c->w - bw) / 2 + 2;
                const char *h = tr(panel_class((PanelId)p)->help);
                for (const char *l = h; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0)) {
                    const size_t n = strcspn(l, "\n");
                    char line[512];
                    snprintf(line, sizeof line, "%.*s", (int)n, l);
                    const char *gap = strstr(line, "  ");
                    if (line[0] == ' ' || !gap || gap - line >= 16 || text_width(line, true) <= tw) continue;
                    size_t k = (size_t)(gap - line);
                    while (line[k] == ' ') k++;
                    char pre[64];
                    snprintf(pre, sizeof pre, "%.*s", (int)k, line);
                    const int ind = text_width(pre, true);
                    /* its row on the screen: the key and the blanks after it, then its first word */
                    int y = -1;
                    for (int r = 0; r < c->h && y < 0; r++) {
                        char row[256] = "";
                        size_t o = 0;
                        for (int x = x0; x < x0 + tw && o + 9 < sizeof row; x++) {
                            const Cell *cl = canvas_cell(c, x, r);
                            if (cl && cl->len) { memcpy(row + o, cl->ch, cl->len); o += cl->len; }
                        }
                        row[o] = 0;
                        if (!strncmp(row, line, k + 3 < strlen(line) ? k + 3 : strlen(line))) y = r;
                    }
                    CHECK_MSG(y >= 0, "%s %d cols: the key row \"%s\" not found", lang ? "zh" : "en", c->w, line);
                    if (y < 0) continue;
                    int first = -1;                         /* the next row's first non-blank column */
                    for (int x = x0; x < x0 + tw && first < 0; x++) {
                        const Cell *cl = canvas_cell(c, x, y + 1);
                        if (cl && cl->len && cl->ch[0] != ' ') first = x - x0;
                    }
                    CHECK_MSG(first == ind, "%s %d cols, %s help: \"%s\" goes on at column %d, its description starts at %d",
                              lang ? "zh" : "en", c->w, panel_class((PanelId)p)->name, line, first, ind);
                    checked++;
                }
                a->overlay = OV_NONE;
            }
            canvas_free(c);
        }
    }
    i18n_set_lang(LANG_EN);
    CHECK_MSG(checked >= 20, "only %d wrapped key rows checked", checked);
    app_free(a);
    tui_fake_free(s);
}

/* "q·k/sqrt(d)" stays on one row: the Chinese help at 60 columns broke it after the middle dot
 * ("... 原始分数 q·" then "k/sqrt(d)"), which Chinese text may break after but Latin text may
 * not; nor "don’t" after its apostrophe. After · ’ ” … a line breaks only before Chinese. */
TEST(tui_wrap_keeps_latin_after_middle_dot) {
    const char *dot = "\xc2\xb7", *apo = "\xe2\x80\x99";
    CHECK(!text_break_between(text_break_class(dot), text_break_class("k")));
    CHECK(!text_break_between(text_break_class(apo), text_break_class("t")));
    CHECK(text_break_between(text_break_class(dot), text_break_class("\xe4\xb8\xad")));     /* · 中 */
    CHECK(!text_break_between(text_break_class("\xe4\xb8\xad"), text_break_class(dot)));    /* never before it */
    CHECK(text_break_between(text_break_class("\xef\xbc\x8c"), text_break_class("k")));     /* ，k: as before */
    Session *s = NULL;
    App *a = help_app(&s);
    REQUIRE(a);
    i18n_set_lang(LANG_ZH);
    int found = 0;
    for (int w = 60; w <= 84; w++) {          /* 60: the smallest the UI draws */
        Canvas *c = canvas_new(w, 200);
        REQUIRE(c);
        REQUIRE(scene_show_panel(a->sc, PANEL_ATTENTION, &(Err){0}));
        app_open_overlay(a, OV_HELP);
        app_render(a, c);
        char *t = canvas_to_text(c);
        REQUIRE(t);
        const bool whole = strstr(t, "q\xc2\xb7k/sqrt(d)") != NULL;
        CHECK_MSG(whole, "%d cols: q·k/sqrt(d) broken:\n%s", w, t);
        found += whole;
        free(t);
        canvas_free(c);
        a->overlay = OV_NONE;
    }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(found, 25);
    app_free(a);
    tui_fake_free(s);
}

/* The first two rows of text wrapped at width w by w_text (lesson = false) or the lesson pane's
 * lesson_wrap, as "row0|row1". */
static void wrapped2(const char *text, int w, bool lesson, char *out, size_t cap) {
    Canvas *c = canvas_new(w, 3);
    out[0] = 0;
    if (!c) return;
    c->unicode = true;
    if (lesson) lesson_wrap(c, rect_make(0, 0, w, 3), text, sty(CR_TEXT), sty(CR_ACCENT), true);
    else w_text(c, rect_make(0, 0, w, 3), text, sty(CR_TEXT));
    char *t = canvas_to_text(c);
    if (t) {
        char *nl = strchr(t, '\n');
        if (nl) {
            *nl = '|';
            char *nl2 = strchr(nl + 1, '\n');
            if (nl2) *nl2 = 0;
        }
        snprintf(out, cap, "%s", t);
    }
    free(t);
    canvas_free(c);
}

/* Chinese wrapping: a line breaks before a phrase (after "，", a blank, an opening mark) rather
 * than after its first character when that leaves little room empty (the KV help broke "。引" /
 * "擎用 f32"), and never beside U+2060 WORD JOINER or a no-break space (a run the text marks
 * unbreakable). Both wrappers: w_text (the help) and lesson_wrap (the lesson pane). Before:
 * "一二三四，五|六七八" and "一二三四五|⁠六七". */
TEST(tui_wrap_zh_phrase_and_joiner) {
    char got[256];
    for (int lesson = 0; lesson < 2; lesson++) {
        wrapped2("\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xef\xbc\x8c\xe4\xba\x94\xe5\x85\xad\xe4\xb8\x83\xe5\x85\xab", 12,
                 lesson, got, sizeof got);       /* 一二三四，五六七八 */
        CHECK_MSG(!strcmp(got, "\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xef\xbc\x8c|\xe4\xba\x94\xe5\x85\xad\xe4\xb8\x83\xe5\x85\xab"),
                  "%s: \"%s\"", lesson ? "lesson" : "w_text", got);
        /* 一二三四五⁠六七 at 11 columns: 五⁠六 stay together */
        wrapped2("\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xe4\xba\x94\xe2\x81\xa0\xe5\x85\xad\xe4\xb8\x83", 11, lesson, got, sizeof got);
        CHECK_MSG(!strncmp(got, "\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b|\xe4\xba\x94", strlen("\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b|\xe4\xba\x94")),
                  "%s: \"%s\"", lesson ? "lesson" : "w_text", got);
        /* no-break space: 一二三四 五 at 10 columns keeps "四 五" together (U+00A0) */
        wrapped2("\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xc2\xa0\xe4\xba\x94", 10, lesson, got, sizeof got);
        CHECK_MSG(!strncmp(got, "\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89|\xe5\x9b\x9b", strlen("\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89|\xe5\x9b\x9b")),
                  "%s: \"%s\"", lesson ? "lesson" : "w_text", got);
    }
    /* a phrase wider than the rest of the line with room to spare still fills the line */
    wrapped2("\xe4\xb8\x80\xef\xbc\x8c\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xe4\xba\x94\xe5\x85\xad", 10, false, got, sizeof got);   /* 一，二三四五六 */
    CHECK_MSG(!strcmp(got, "\xe4\xb8\x80\xef\xbc\x8c\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b|\xe4\xba\x94\xe5\x85\xad"), "\"%s\"", got);
}
