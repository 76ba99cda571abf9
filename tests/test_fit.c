/* Lines that fit: at a small terminal a panel's line takes a shorter wording (the widest that
 * fits, panel_pick_fit), never half a number. Drawn in process with the bundled story models at
 * the sizes a class uses (80x24 on a projector, 100x30, 60x20, 200x60), English and Chinese,
 * UTF-8 and ASCII, one model and compare mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fit_walk.h"
#include "harness.h"
#include "core/err.h"
#include "core/i18n.h"
#include "tui/app.h"
#include "tui/lesson_pane.h"
#include "tui/panel.h"
#include "tui/widgets/widgets.h"

/* Is row y cut inside one of the first n frames on it: an ellipsis ("…", ASCII "~") in a cell
 * between a frame's left and right edges? */
static bool row_cut_in_frames(const Canvas *c, int top, int y, int n) {
    const char *ell = c->unicode ? "\xe2\x80\xa6" : "~";
    int x = 0;
    for (int f = 0; f < n && x < c->w; f++) {
        int x1 = x + 1;                         /* the frame's top-right corner: "┐" or '+' */
        while (x1 < c->w) {
            const Cell *k = canvas_cell(c, x1, top);
            if (k && k->len && (!memcmp(k->ch, "\xe2\x94\x90", 3) || k->ch[0] == '+')) break;
            x1++;
        }
        for (int i = x + 1; i < x1; i++) {
            const Cell *k = canvas_cell(c, i, y);
            if (k && k->len == strlen(ell) && !memcmp(k->ch, ell, k->len)) return true;
        }
        x = x1 + 1;
    }
    return false;
}

/* The first lines of the KV, Position and FFN panels (the KV panel's second, "... now · at 512
 * tokens: 1.12 MiB", too) are never cut: at 80x24 they were ("at 512 tokens: 1.12 …",
 * "angle_i = p…", "h>0…"). The second rows: KV's bytes line; FFN's captions (histogram, top
 * neurons; the MoE's router map and chosen experts). */
static void first_lines_fit(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    int top = frame_top(c, 1), rows = f->panel == PANEL_POSITION ? 1 : 2;
    CHECK_MSG(top > 0, "%s%s %dx%d: no panel frame", f->model, f->two ? " (compare)" : "", f->w, f->h);
    for (int k = 1; top > 0 && k <= rows; k++) {
        char row[1024];
        row_text(c, top + k, row, sizeof row);
        CHECK_MSG(!row_cut_in_frames(c, top, top + k, f->two ? 2 : 1), "%s%s panel %d at %dx%d (%s): row %d cut: \"%s\"",
                  f->model, f->two ? " (compare)" : "", f->panel, f->w, f->h, f->mode, k, row);
        ++*(int *)ud;
    }
}
TEST(tui_panel_first_lines_fit) {
    static const int PANELS[] = {PANEL_KV, PANEL_POSITION, PANEL_FFN};
    int rows = 0;
    int seen = fit_each_screen(T_, PANELS, 3, first_lines_fit, &rows);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(seen, 4 * 2 * 3 * 5 * 3);
    CHECK_EQ_INT(rows, 4 * 2 * 5 * 3 * (2 + 1 + 2));
}

/* Every panel's title (the frame's top row) is whole or short of whole " · " parts, never cut:
 * in compare mode at 80 columns the KV panel read "KV cache · GQA · what-if context 1…" (512)
 * and the Attention panel "... GQA: kv he…". All panels, alone and in compare mode, 60 to 200
 * columns, en/zh/ASCII. */
static void title_whole(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    (void)ud;
    int top = frame_top(c, 1);
    char row[1024];
    row_text(c, top > 0 ? top : 0, row, sizeof row);
    CHECK_MSG(top > 0 && !row_cut_in_frames(c, top, top, 4), "%s%s panel %d at %dx%d (%s): title cut: \"%s\"", f->model,
              f->two ? " (compare)" : "", f->panel, f->w, f->h, f->mode, row);
}
TEST(tui_panel_titles_whole) {
    int seen = fit_each_screen(T_, NULL, 0, title_whole, NULL);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(seen, 4 * 2 * PANEL_COUNT * 5 * 3);
}

/* A cut number: an ellipsis right after a digit, or one or two cells after one ("(d=19…",
 * "0.0002…", "(d_c=4d…", "context 1…"); words and token labels ("␣the…") may be cut. */
static bool row_cuts_a_number(const Canvas *c, int y, char *what, size_t cap) {
    const char *ell = c->unicode ? "\xe2\x80\xa6" : "~";
    for (int x = 1; x < c->w; x++) {
        const Cell *k = canvas_cell(c, x, y);
        if (!k || k->len != strlen(ell) || memcmp(k->ch, ell, k->len)) continue;
        for (int b = 1; b <= 3 && x - b >= 0; b++) {
            const Cell *p = canvas_cell(c, x - b, y);
            if (!p || p->len != 1) break;
            if (p->ch[0] >= '0' && p->ch[0] <= '9') {
                int x0 = x - 12 < 0 ? 0 : x - 12;
                size_t o = 0;
                for (int i = x0; i <= x && o + 8 < cap; i++) {
                    const Cell *q = canvas_cell(c, i, y);
                    if (q && q->len) { memcpy(what + o, q->ch, q->len); o += q->len; }
                }
                what[o] = 0;
                return true;
            }
            if (p->ch[0] == ' ') break;
        }
    }
    return false;
}

/* No panel line cuts a number, on any panel, story model, size, language, alone or in compare
 * mode (the Norms panel's "(d=19…", the Position dials' "i=11 0.0002…", the KV table's
 * "(d_c=4d…" at 80x24 before). */
static void no_number_cut(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    int *bad = ud;
    for (int y = 0; y < c->h - 1; y++) {     /* the function bar's labels are cut by design */
        char what[128];
        if (row_cuts_a_number(c, y, what, sizeof what) && (*bad)++ < 400)
            FAILF("%s%s panel %d at %dx%d (%s), row %d: \"%s\"", f->model, f->two ? " (compare)" : "", f->panel, f->w, f->h,
                  f->mode, y, what);
    }
}
TEST(tui_no_number_cut) {
    int bad = 0;
    int seen = fit_each_screen(T_, NULL, 0, no_number_cut, &bad);
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(seen, 4 * 2 * PANEL_COUNT * 5 * 3);
}

/* The band header's only ellipsis may end the cursor's token, right before its position:
 * "at ␣ther… (pos 6)", "在 ␣w…（位置 7）". */
static bool band_cut_only_in_token(const char *h, bool unicode) {
    const char *ell = unicode ? "\xe2\x80\xa6" : "~";
    const char *e = strstr(h, ell);
    if (!e) return true;
    if (strstr(e + strlen(ell), ell)) return false;
    const char *after = e + strlen(ell);
    if (strncmp(after, " (pos ", 6) && strncmp(after, "\xef\xbc\x88\xe4\xbd\x8d\xe7\xbd\xae ", 10)) return false;   /* "（位置 " */
    const char *at = NULL;
    for (const char *p = h; (p = strstr(p, " at ")) != NULL && p < e; p++) at = p + 4;
    for (const char *p = h; (p = strstr(p, " \xe5\x9c\xa8 ")) != NULL && p < e; p++) at = p + 5;   /* " 在 " */
    return at && e - at >= 1 && !memchr(at, ' ', (size_t)(e - at));
}

/* The compare band's header ("mean nats (8 tok): A .. B .. B−A .. KL ..  │ at ␣was (pos 7)"):
 * every mean whole at 60 to 200 columns, and the cursor's position named from 70 columns (at
 * 80x24 it read "KL 0.0009  │ at…"). */
TEST(tui_compare_band_header_fits) {
    if (!have_story(STORY("gqa")) || !have_story(STORY("mla"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), STORY("mla"));
    REQUIRE(a);
    int seen = 0;
    for (int w = 60; w <= 200; w += 4)
        for (int mode = 0; mode < 3; mode++) {
            i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
            Canvas *c = canvas_new(w, w >= 100 ? 30 : 24);
            REQUIRE(c);
            c->unicode = mode < 2;
            app_render(a, c);
            char *t = canvas_to_text(c);
            REQUIRE(t);
            char *h = strstr(t, "KL");
            while (h && h > t && h[-1] != '\n') h--;     /* the header's row */
            CHECK_MSG(h, "%d cols: no band header in\n%s", w, t);
            if (h) {
                h[strcspn(h, "\n")] = 0;
                size_t n = strlen(h);
                CHECK_MSG(band_cut_only_in_token(h, c->unicode), "%d cols (%s): band header cut: \"%s\"", w,
                          mode == 1 ? "zh" : mode ? "ascii" : "en", h);
                /* the four means, the KL's last: "KL 0.0009" (or "KL(A‖B) 0.0009") with its digits */
                const char *kl = strstr(h, "KL");
                const char *num = kl ? strpbrk(kl, " ") : NULL;
                CHECK_MSG(num && num[1] >= '0' && num[1] <= '9' && strchr(num + 1, '.'), "%d cols: no KL value in \"%s\"", w, h);
                if (w >= 70)
                    CHECK_MSG(strstr(h, mode == 1 ? "\xe4\xbd\x8d\xe7\xbd\xae 7" : "pos 7"), "%d cols: the cursor's position missing: \"%s\"", w, h);
                CHECK(n > 0);
                seen++;
            }
            free(t);
            canvas_free(c);
        }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(seen, 36 * 3);
    app_free(a);
}

/* One format for probabilities, from the top token to the tail (the Output panel mixed "0.013%"
 * and "1e-2%"): fixed decimals, "<0.001%" below 0.0005%, never an exponent; at most 7 columns;
 * the digits shown are the value rounded; smaller p never reads larger. */
TEST(tui_prob_format_one_style) {
    char buf[32], prev[32] = "";
    double prev_v = 1e9;
    int n = 0;
    for (int k = 0; k <= 1200; k++) {
        const double p = pow(10.0, -k / 100.0);     /* 1 down to 1e-12 */
        panel_fmt_prob(p, buf, sizeof buf);
        CHECK_MSG(!strpbrk(buf, "eE"), "p=%g: \"%s\" has an exponent", p, buf);
        CHECK_MSG(text_width(buf, true) <= 7, "p=%g: \"%s\" wider than 7 columns", p, buf);
        const size_t len = strlen(buf);
        CHECK_MSG(len >= 2 && buf[len - 1] == '%', "p=%g: \"%s\"", p, buf);
        const double pct = 100 * p;
        double v = NAN;
        if (!strcmp(buf, "<0.001%")) {
            CHECK_MSG(pct < 0.0005 && pct > 0, "p=%g: \"%s\" for a value 3 decimals show", p, buf);
            v = 0;
        } else if (!strcmp(buf, ">99.9%")) {
            CHECK_MSG(pct >= 99.95 && p < 1, "p=%g: \"%s\"", p, buf);
            v = 99.95;
        } else {
            CHECK_MSG(sscanf(buf, "%lf", &v) == 1, "p=%g: \"%s\" is no number", p, buf);
            const char *dot = strchr(buf, '.');
            const int dec = dot ? (int)(len - 1 - (size_t)(dot - buf) - 1) : 0;
            CHECK_MSG(fabs(v - pct) <= 0.5 * pow(10.0, -dec) + 1e-12, "p=%g: \"%s\" is not %g%% rounded", p, buf, pct);
            CHECK_MSG(v > 0, "p=%g: a nonzero probability reads \"%s\"", p, buf);
        }
        CHECK_MSG(v <= prev_v, "p=%g: \"%s\" reads larger than \"%s\" before it", p, buf, prev);
        prev_v = v;
        snprintf(prev, sizeof prev, "%s", buf);
        n++;
    }
    CHECK_EQ_INT(n, 1201);
    panel_fmt_prob(0, buf, sizeof buf);
    CHECK_STR(buf, "0%");
    panel_fmt_prob(1, buf, sizeof buf);
    CHECK_STR(buf, "100%");
    panel_fmt_prob(0.00009, buf, sizeof buf);      /* 0.009%: as 0.013%, not 9e-3% */
    CHECK_STR(buf, "0.009%");
    panel_fmt_prob(1.3e-4, buf, sizeof buf);
    CHECK_STR(buf, "0.013%");
}

/* The Output panel's two columns and its tail bound use that format: no "e-" anywhere in the
 * panel, and the bound reads "(tail < 0.001%)" rather than "<= <0.001%". */
TEST(tui_output_panel_probabilities_one_style) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), NULL);
    REQUIRE(a);
    Err e = {0};
    REQUIRE(scene_show_panel(a->sc, PANEL_OUTPUT, &e));
    static const int SIZES[][2] = {{80, 24}, {100, 32}, {200, 60}};
    for (int z = 0; z < 3; z++) {
        Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
        REQUIRE(c);
        c->unicode = true;
        app_render(a, c);
        char *t = canvas_to_text(c);
        REQUIRE(t);
        const char *o = strstr(t, "Output");
        CHECK_MSG(o, "%dx%d: no Output panel", SIZES[z][0], SIZES[z][1]);
        CHECK_MSG(o && !strstr(o, "e-"), "%dx%d: an exponent in the Output panel:\n%s", SIZES[z][0], SIZES[z][1], t);
        CHECK_MSG(o && !strstr(o, "<= <"), "%dx%d: \"<= <\" in the tail bound", SIZES[z][0], SIZES[z][1]);
        CHECK_MSG(o && strstr(o, "0.0"), "%dx%d: no small probability in the list", SIZES[z][0], SIZES[z][1]);
        free(t);
        canvas_free(c);
    }
    app_free(a);
}

/* Compare mode's header at 60 to 100 columns: both models' names whole ("A: story-gqa",
 * "B: story-mla"; at 60-70 columns B's was cut: "B: sto…"): the attention kinds go first, then
 * the "llmscope" before them; the position part stays. */
TEST(tui_compare_header_names_whole) {
    if (!have_story(STORY("gqa")) || !have_story(STORY("mla"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), STORY("mla"));
    REQUIRE(a);
    int seen = 0;
    for (int w = 60; w <= 100; w += 2)
        for (int mode = 0; mode < 3; mode++) {
            i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
            Canvas *c = canvas_new(w, 24);
            REQUIRE(c);
            c->unicode = mode < 2;
            app_render(a, c);
            char row[1024];
            row_text(c, 0, row, sizeof row);
            const char *ell = c->unicode ? "\xe2\x80\xa6" : "~";
            const char *b = strstr(row, "B: story-mla");
            CHECK_MSG(strstr(row, "A: story-gqa") && b && (b[12] == ' ' || b[12] == 0), "%d cols (%s): a name cut: \"%s\"", w,
                      mode == 1 ? "zh" : mode ? "ascii" : "en", row);
            CHECK_MSG(!strstr(row, ell), "%d cols: the header cut: \"%s\"", w, row);
            CHECK_MSG(strstr(row, "7/7"), "%d cols: no position in \"%s\"", w, row);
            /* the brand goes only when the names and the position leave no room for it */
            if (w >= 80) CHECK_MSG(strstr(row, "llmscope"), "%d cols: no llmscope in \"%s\"", w, row);
            seen++;
            canvas_free(c);
        }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(seen, 21 * 3);
    app_free(a);
}

/* The Embeddings panel's maps (the vocabulary map, v, and the prompt's PCA) sit right under
 * their two caption rows: at 200x60 the vocabulary map's points began 18 rows below them, the
 * area's middle, with as many blank rows under it. The map's rectangle (lesson target
 * "embeddings.map") starts under the captions and its first and last rows hold points. */
TEST(tui_embeddings_map_under_its_caption) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), NULL);
    REQUIRE(a);
    Err e = {0};
    REQUIRE(scene_show_panel(a->sc, PANEL_EMBEDDINGS, &e));
    static const int SIZES[][2] = {{200, 60}, {100, 30}, {80, 24}, {140, 50}};
    int seen = 0;
    for (int v = 0; v < 2; v++) {
        if (v) REQUIRE(scene_do(a->sc, "embeddings.map", 0, &e));
        for (int z = 0; z < 4; z++) {
            Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
            REQUIRE(c);
            c->unicode = true;
            app_render(a, c);
            int from = 0;
            const CanvasTarget *t = canvas_target_find(c, "embeddings.map", &from);
            CHECK_MSG(t && t->r.h > 0, "%dx%d: no map drawn", SIZES[z][0], SIZES[z][1]);
            if (t && t->r.h > 0) {
                const int top = frame_top(c, 1);
                CHECK_MSG(t->r.y == top + 3, "%dx%d %s: the map starts at row %d, its captions end at row %d", SIZES[z][0], SIZES[z][1],
                          v ? "vocabulary" : "prompt", t->r.y, top + 2);
                /* braille dots in its first and last two rows (one is kept for labels): the
                 * rectangle is the map's own */
                for (int k = 0; k < 2; k++) {
                    const int y = k ? t->r.y + t->r.h - 2 : t->r.y;
                    bool dots = false;
                    for (int i = 0; i < 2 * t->r.w; i++) {
                        const int x = t->r.x + i % t->r.w, yy = y + i / t->r.w;
                        const Cell *cl = canvas_cell(c, x, yy);
                        dots |= cl && cl->len == 3 && !memcmp(cl->ch, "\xe2", 1) && (unsigned char)cl->ch[1] >= 0xa0 &&
                                (unsigned char)cl->ch[1] <= 0xa3;
                        dots |= cl && cl->len == 3 && !memcmp(cl->ch, "\xe2\x97\x86", 3);   /* the selected point */
                    }
                    CHECK_MSG(dots, "%dx%d %s: no point in the map's %s row %d", SIZES[z][0], SIZES[z][1], v ? "vocabulary" : "prompt",
                              k ? "last" : "first", y);
                }
                seen++;
            }
            canvas_free(c);
        }
    }
    CHECK_EQ_INT(seen, 8);
    app_free(a);
}

/* ---- words cut in half ---------------------------------------------------------------- */

/* The visible texts of every token of the story models' vocabularies ("␣the", "<|endoftext|>"):
 * a label cut at the end of its room ("<|endof…", "␣th…") is data shown as far as it fits. */
typedef struct { char **vis[2]; int n; } Vocab;

static void vocab_load(Vocab *v, bool unicode) {
    Err e = {0};
    Session *s = session_new(STORY("gqa"), 0, &e);
    v->n = s ? session_model(s)->spec.vocab_size : 0;
    char **out = calloc((size_t)(v->n ? v->n : 1), sizeof *out);
    for (int i = 0; out && i < v->n; i++) {
        char raw[256], vis[512];
        panel_tok_text(s, i, raw, sizeof raw);
        tok_visible(raw, vis, sizeof vis, unicode);
        out[i] = strdup(vis);
    }
    v->vis[unicode] = out;
    session_free(s);
}

static bool vocab_has_prefix(const Vocab *v, bool unicode, const char *frag) {
    const size_t n = strlen(frag);
    for (int i = 0; n && v->vis[unicode] && i < v->n; i++)
        if (v->vis[unicode][i] && !strncmp(v->vis[unicode][i], frag, n)) return true;
    return false;
}

/* A word cut in half by an ellipsis: the cell before the ellipsis ("…", ASCII "~") is a Latin
 * letter or digit (not Chinese: Chinese text breaks between any two characters, as the wrapped
 * text does), or a character that cannot end a word ("theta_…", "elems/…", "cos(…", "(d=…").
 * Not a cut word: an ellipsis after a blank or a closing mark (whole words were left out), and a
 * token label cut at the end of its room: the text from the last blank or line-drawing cell
 * before the ellipsis (less an ASCII frame's '|') is quoted ('␣a…) or starts as a token's label
 * does ("␣the…", "<|endof…") and starts a token of the vocabulary. (The story vocabulary holds
 * most English word pieces, so a bare "ga…" counts as a cut word.) The function bar's labels
 * (last row) are cut by design. */
static bool row_cuts_a_word(const Canvas *c, const Vocab *v, int y, char *what, size_t cap) {
    const char *ell = c->unicode ? "\xe2\x80\xa6" : "~";
    for (int x = 1; x < c->w; x++) {
        const Cell *k = canvas_cell(c, x, y);
        if (!k || k->len != strlen(ell) || memcmp(k->ch, ell, k->len)) continue;
        const Cell *p = canvas_cell(c, x - 1, y);
        if (!p || p->len != 1) continue;           /* a wide (Chinese) character, or a glyph */
        const char ch = p->ch[0];
        const bool word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("_/-([{=^", ch);
        if (!word) continue;
        /* the fragment back to a blank or a line-drawing cell */
        int x0 = x;
        while (x0 > 0) {
            const Cell *q = canvas_cell(c, x0 - 1, y);
            if (!q || !q->len || !cell_is_text(q)) break;
            x0--;
        }
        char frag[256];
        size_t o = 0;
        for (int i = x0; i < x && o + 9 < sizeof frag; i++) {
            const Cell *q = canvas_cell(c, i, y);
            if (q && q->len) { memcpy(frag + o, q->ch, q->len); o += q->len; }
        }
        frag[o] = 0;
        const char *f = frag, *bar;
        while ((bar = strstr(f, "||")) != NULL) f = bar + 2;    /* ASCII frames side by side */
        while (*f == '|') f++;
        const bool quoted = *f == '\'';
        if (quoted) f++;
        const bool marked = quoted || *f == '<' || !strncmp(f, c->unicode ? "\xe2\x90\xa3" : "_", c->unicode ? 3 : 1);
        if (marked && vocab_has_prefix(v, c->unicode, f)) continue;
        snprintf(what, cap, "%s%s", frag, ell);
        return true;
    }
    return false;
}

typedef struct { Vocab v; int bad; } WordScan;

static void no_word_cut(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    WordScan *ws = ud;
    for (int y = 0; y < c->h - 1; y++) {
        char what[300];
        if (row_cuts_a_word(c, &ws->v, y, what, sizeof what) && ws->bad++ < 400)
            FAILF("%s%s panel %d at %dx%d (%s), row %d: \"%s\"", f->model, f->two ? " (compare)" : "", f->panel, f->w, f->h,
                  f->mode, y, what);
    }
}

/* No panel line cuts a word in half where the screen has no room for it: the KV table's
 * "elems/tok/l…" header in compare mode, the hints' "f trade-…", the captions' "at e…" before. */
TEST(tui_no_word_cut) {
    WordScan ws = {0};
    vocab_load(&ws.v, true);
    vocab_load(&ws.v, false);
    REQUIRE(ws.v.n > 0);
    int seen = fit_each_screen(T_, NULL, 0, no_word_cut, &ws);
    for (int u = 0; u < 2; u++) {
        for (int i = 0; ws.v.vis[u] && i < ws.v.n; i++) free(ws.v.vis[u][i]);
        free(ws.v.vis[u]);
    }
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(ws.bad, 0);
    CHECK_EQ_INT(seen, 4 * 2 * PANEL_COUNT * 5 * 3);
}

/* ---- the trade-off view, the overlays and the lesson pane (fit_walk.c walks them) -------- */

/* Neither a number nor a word cut in the trade-off view, the overlays (help, F4 form, prompt,
 * model menu, texts) or a lesson's pane, at any size, language, alone or in compare mode. */
static void no_cut_at_all(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud) {
    WordScan *ws = ud;
    for (int y = 0; y < c->h - 1; y++) {
        char what[300];
        const bool num = row_cuts_a_number(c, y, what, sizeof what);
        if ((num || row_cuts_a_word(c, &ws->v, y, what, sizeof what)) && ws->bad++ < 400)
            FAILF("%s%s view %d at %dx%d (%s), row %d: %s \"%s\"", f->model, f->two ? " (compare)" : "", f->panel, f->w, f->h,
                  f->mode, y, num ? "number" : "word", what);
    }
}
TEST(tui_views_overlays_no_cut) {
    WordScan ws = {0};
    vocab_load(&ws.v, true);
    vocab_load(&ws.v, false);
    int seen = fit_each_view(T_, no_cut_at_all, &ws);
    for (int u = 0; u < 2; u++) {
        for (int i = 0; ws.v.vis[u] && i < ws.v.n; i++) free(ws.v.vis[u][i]);
        free(ws.v.vis[u]);
    }
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(ws.bad, 0);
    CHECK_MSG(seen >= 2 * 14 * 5 * 3, "%d screens", seen);
}
TEST(tui_lesson_pane_no_cut) {
    WordScan ws = {0};
    vocab_load(&ws.v, true);
    vocab_load(&ws.v, false);
    int seen = fit_each_lesson(T_, no_cut_at_all, &ws);
    for (int u = 0; u < 2; u++) {
        for (int i = 0; ws.v.vis[u] && i < ws.v.n; i++) free(ws.v.vis[u][i]);
        free(ws.v.vis[u]);
    }
    if (seen < 0) SKIP("bundled story models missing");
    CHECK_EQ_INT(ws.bad, 0);
    CHECK_MSG(seen > 100 * 5, "%d screens", seen);
}

/* The cursor's token in the band's header: as much of it as fits, with an ellipsis, and its
 * position ("│ at ␣somet… (pos 4)"); at 80 columns it read "│ pos 4" for a long token. The
 * prompt ends in the longest word token of the vocabulary that the tokenizer gives for its own
 * text; from 60 to 200 columns the header holds the position, and the token whole or its start. */
TEST(tui_compare_band_long_token) {
    if (!have_story(STORY("gqa")) || !have_story(STORY("mla"))) SKIP("bundled story models missing");
    Err e = {0};
    Session *s1 = session_new(STORY("gqa"), 0, &e), *s2 = session_new(STORY("mla"), 0, &e);
    REQUIRE(s1 && s2);
    App *a = app_new();
    REQUIRE(a);
    app_set_session(a, 0, s1, true);
    app_set_session(a, 1, s2, true);
    /* the longest " word" token (letters only); the prompt ends in its text */
    const int V = session_model(s1)->spec.vocab_size;
    int best = -1, cur = -1;
    size_t bl = 0;
    char raw[128], text[256];
    for (int i = 0; i < V; i++) {
        panel_tok_text(s1, i, raw, sizeof raw);
        const size_t n = strlen(raw);
        bool word = n >= 2 && raw[0] == ' ';
        for (size_t k = 1; word && k < n; k++) word = raw[k] >= 'a' && raw[k] <= 'z';
        if (word && n > bl) { bl = n; best = i; }
    }
    REQUIRE(best >= 0);
    panel_tok_text(s1, best, raw, sizeof raw);
    snprintf(text, sizeof text, "Once upon a time%s", raw);
    REQUIRE(scene_set_prompt(a->sc, text, true, &e));
    REQUIRE(scene_step(a->sc, &e));
    REQUIRE(scene_step(a->sc, &e));
    const int *ids = session_ids(s1);
    for (int k = 0; k < session_n_ids(s1); k++) if (ids[k] == best) cur = k;
    if (cur < 0) { app_free(a); SKIP("no long word token encodes as itself"); }
    while (session_cursor(s1) > cur) REQUIRE(scene_do(a->sc, "back", 0, &e));
    char vis[256];
    panel_tok_text(s1, best, raw, sizeof raw);
    tok_visible(raw, vis, sizeof vis, true);
    CHECK_MSG(text_width(vis, true) >= 6, "the longest word token \"%s\" is short", vis);
    int seen = 0, cut = 0;
    for (int w = 60; w <= 200; w += 2) {
        Canvas *c = canvas_new(w, 24);
        REQUIRE(c);
        c->unicode = true;
        app_render(a, c);
        char *t = canvas_to_text(c);
        REQUIRE(t);
        char *h = strstr(t, "KL");
        while (h && h > t && h[-1] != '\n') h--;
        if (h) h[strcspn(h, "\n")] = 0;
        char pos[32];
        snprintf(pos, sizeof pos, "(pos %d)", cur);
        CHECK_MSG(h && band_cut_only_in_token(h, true), "%d cols: \"%s\"", w, h ? h : "");
        if (h && w >= 78) {
            const char *at = strstr(h, " at ");
            CHECK_MSG(at && strstr(h, pos), "%d cols: no token or position in \"%s\"", w, h);
            if (at) {
                const char *tk = at + 4, *end = strstr(tk, " (pos ");
                const char *ell = strstr(tk, "\xe2\x80\xa6");
                const size_t n = ell && ell < end ? (size_t)(ell - tk) : end ? (size_t)(end - tk) : 0;
                CHECK_MSG(n >= 2 && !strncmp(tk, vis, n) && (ell || n == strlen(vis)), "%d cols: the token \"%s\" reads \"%.*s\"", w, vis,
                          end ? (int)(end - tk) : 0, tk);
                cut += ell && ell < end;
            }
            if (w == 80) CHECK_MSG(at != NULL, "80 cols: \"%s\"", h);
        }
        seen++;
        free(t);
        canvas_free(c);
    }
    CHECK_EQ_INT(seen, 71);
    CHECK_MSG(cut > 0, "the token was never cut: it does not test the cut wording");
    app_free(a);
}

/* The tab row keeps every panel's number at any width: narrower than the short names it reads
 * "1 Attn 2 KV ..." with one space between, and narrower still the numbers alone but the current
 * panel's name. At 60 columns it ended "... 6 Embed   7" (en) and "... 6 嵌入   7" (zh): no 8. */
TEST(tui_tab_row_keeps_every_number) {
    if (!have_story(STORY("gqa"))) SKIP("bundled story models missing");
    App *a = fit_app(T_, STORY("gqa"), NULL);
    REQUIRE(a);
    int seen = 0;
    for (int lang = 0; lang < 2; lang++) {
        i18n_set_lang(lang ? LANG_ZH : LANG_EN);
        for (int p = 0; p < PANEL_COUNT; p++) {
            Err e = {0};
            REQUIRE(scene_show_panel(a->sc, p, &e));
            for (int w = 60; w <= 120; w++) {
                Canvas *c = canvas_new(w, 24);
                REQUIRE(c);
                app_render(a, c);
                char row[1024], whole[1024], *save = NULL;
                row_text(c, 1, row, sizeof row);
                memcpy(whole, row, sizeof whole);
                int next = 1;
                const char *name = tr(panel_class((PanelId)p)->tab), *title = tr(panel_class((PanelId)p)->title);
                for (char *tok = strtok_r(row, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                    if (next <= PANEL_COUNT && atoi(tok) == next && tok[strspn(tok, "0123456789")] == 0) next++;
                CHECK_MSG(next == PANEL_COUNT + 1, "%s, panel %d, %d columns: tab %d missing from \"%s\"",
                          lang ? "zh" : "en", p + 1, w, next, whole);
                CHECK_MSG(strstr(whole, name) || strstr(whole, title), "%s, panel %d, %d columns: the current panel's "
                          "name (%s) missing from \"%s\"", lang ? "zh" : "en", p + 1, w, name, whole);
                seen++;
                canvas_free(c);
            }
        }
    }
    i18n_set_lang(LANG_EN);
    CHECK_EQ_INT(seen, 2 * PANEL_COUNT * 61);
    app_free(a);
}
