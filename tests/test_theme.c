/* Themes and colour output: every data ramp monotone in lightness, every text cell of every
 * screen contrasting with its background in every theme and colour mode (read back from the
 * escape sequences the UI writes), the colour-mode decision, and the theme key.
 *
 * Contrast: WCAG 2 contrast ratio >= 3:1 (the WCAG AA level for large text and UI
 * components) for every text cell as src/tui/contrast.h defines it, in canvas_to_ansi output
 * (what `screenshot --ansi` writes; the terminal backend maps colours through the same
 * functions, and tests/contrast_tmux.sh reads the real backend back from tmux). Lightness:
 * CIE L* (theme.h color_lightness). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "tui/app.h"
#include "tui/contrast.h"
#include "tui/term.h"
#include "tui/theme.h"
#include "tui_fake.h"

static const ThemeId THEMES_ALL[] = {THEME_DARK, THEME_LIGHT, THEME_CONTRAST};

TEST(theme_ramps_monotone_lightness) {
    /* sequential: L* strictly monotone over t in [0,1], spanning at least 60 L* units, and
     * moving away from the background's lightness; diverging: from t = 0 outwards, L* moves
     * monotonically in the same direction on both sides. Sampled every 1/200. */
    for (int ti = 0; ti < 3; ti++) {
        theme_set(THEMES_ALL[ti]);
        Color bg = theme_resolve(color_default(), false);
        double lbg = color_lightness(bg);
        double l0 = color_lightness(ramp_seq(0)), l1 = color_lightness(ramp_seq(1));
        double dir = l1 > l0 ? 1 : -1;
        CHECK_MSG(fabs(l1 - l0) >= 60, "%s: ramp_seq spans only %.1f L*", theme_name(THEMES_ALL[ti]), fabs(l1 - l0));
        CHECK_MSG(fabs(l0 - lbg) < fabs(l1 - lbg), "%s: ramp_seq must start near the background", theme_name(THEMES_ALL[ti]));
        int bad = 0;
        double prev = l0;
        for (int i = 1; i <= 200; i++) {
            double l = color_lightness(ramp_seq((float)i / 200.0f));
            if ((l - prev) * dir < 0.05) bad++;
            prev = l;
        }
        CHECK_MSG(bad == 0, "%s: ramp_seq not monotone in L* at %d of 200 steps", theme_name(THEMES_ALL[ti]), bad);
        double c0 = color_lightness(ramp_div(0));
        double ddir = color_lightness(ramp_div(1)) > c0 ? 1 : -1;
        CHECK_MSG((color_lightness(ramp_div(-1)) - c0) * ddir > 0, "%s: ramp_div arms go opposite ways",
                  theme_name(THEMES_ALL[ti]));
        CHECK_MSG(fabs(c0 - lbg) < 20, "%s: ramp_div's centre L* %.1f far from the background's %.1f",
                  theme_name(THEMES_ALL[ti]), c0, lbg);
        for (int side = -1; side <= 1; side += 2) {
            bad = 0;
            prev = c0;
            for (int i = 1; i <= 100; i++) {
                double l = color_lightness(ramp_div((float)side * (float)i / 100.0f));
                if ((l - prev) * ddir < 0.05) bad++;
                prev = l;
            }
            CHECK_MSG(bad == 0, "%s: ramp_div (%s side) not monotone in L* at %d of 100 steps",
                      theme_name(THEMES_ALL[ti]), side < 0 ? "negative" : "positive", bad);
        }
    }
    theme_set(THEME_DARK);
}

TEST(theme_color_science) {
    /* WCAG's reference values: black/white 21:1, white on #777 about 4.48:1 */
    Color w = color_rgb(255, 255, 255), k = color_rgb(0, 0, 0), g = color_rgb(0x77, 0x77, 0x77);
    CHECK_NEAR(color_contrast(w, k), 21.0, 1e-9);
    CHECK_NEAR(color_contrast(w, g), 4.48, 0.01);
    CHECK_NEAR(color_lightness(w), 100.0, 1e-6);
    CHECK_NEAR(color_lightness(k), 0.0, 1e-9);
    CHECK_NEAR(color_lightness(color_rgb(119, 119, 119)), 50.0, 0.3);   /* #777 is L* ~ 50 */
    uint8_t v[3];
    color_index_rgb(196, v);
    CHECK(v[0] == 255 && v[1] == 0 && v[2] == 0);
    color_index_rgb(244, v);
    CHECK(v[0] == 128 && v[1] == 128 && v[2] == 128);
    color_index_rgb(12, v);
    CHECK(v[0] == 92 && v[1] == 92 && v[2] == 255);
    /* quantizing keeps text readable: blue on grey merges in 16 colours, text moves away */
    int fi, bi;
    color_cell_indexes(CMODE_16, color_rgb(120, 200, 255), color_rgb(120, 120, 130), true, &fi, &bi);
    uint8_t f[3], b[3];
    color_index_rgb(fi, f);
    color_index_rgb(bi, b);
    CHECK(color_contrast(color_rgb(f[0], f[1], f[2]), color_rgb(b[0], b[1], b[2])) >= 3.0);
    color_cell_indexes(CMODE_16, color_rgb(120, 120, 130), color_rgb(120, 120, 130), false, &fi, &bi);
    CHECK_EQ_INT(fi, bi);                 /* graphics keep their colours (bars, heatmaps) */
}

TEST(theme_contrast_scanner) {
    /* the scanner reads the codes back: a dark-grey-on-black letter fails, white passes,
     * reverse swaps, 256/16/24-bit and colon forms are understood */
    Color dfg = color_rgb(255, 255, 255), dbg = color_rgb(0, 0, 0);
    ContrastStats st;
    contrast_scan("\x1b[38;2;40;40;40;48;2;0;0;0mab\x1b[0mcd\n", dfg, dbg, 3.0, &st);
    CHECK_EQ_INT(st.letters, 4);
    CHECK_EQ_INT(st.letters_ok, 2);
    CHECK_EQ_INT(st.sgr_rgb, 2);
    contrast_scan("\x1b[38;5;16;48;5;16mx\x1b[7;38;5;231my\x1b[0;30;47mz\x1b[38:2::255:255:255;48:2::0:0:0mw", dfg, dbg, 3.0, &st);
    CHECK_EQ_INT(st.letters, 4);
    CHECK_EQ_INT(st.letters_ok, 3);      /* x: black on black */
    CHECK_EQ_INT(st.reverse, 1);
    CHECK_EQ_INT(st.sgr_16, 2);
    CHECK_EQ_INT(st.sgr_rgb, 2);
    contrast_scan("\xe2\x94\x80\xe2\x96\x88\xe2\xa3\xbf 1", dfg, dbg, 3.0, &st);   /* ─ █ ⣿ are graphics */
    CHECK_EQ_INT(st.text, 1);
    CHECK_EQ_INT(st.letters, 0);
}

/* Renders every panel and the whole UI (first-screen hint, help overlay, compare) of the
 * fake sessions (and the trade-off view in compare mode) and scans each in each mode. Returns the number of failing screens. */
static int scan_screens(TestCtx *T_, ThemeId th, ColorMode mode, long *cells) {
    static const char *KINDS[] = {"gqa", "mha", "mla"};
    int bad = 0;
    theme_set(th);
    Color dfg = color_rgb(255, 255, 255), dbg = color_rgb(0, 0, 0);
    for (int k = 0; k < 3; k++) {
        Session *s = tui_fake_session(KINDS[k], 12, 5);
        Session *s2 = tui_fake_session("gqa", 12, 5);
        App *a = app_new();
        Canvas *c = canvas_new(120, 40);
        if (!s || !s2 || !a || !c) { CHECK(0); tui_fake_free(s); tui_fake_free(s2); app_free(a); canvas_free(c); return 1; }
        c->mono = mode == CMODE_NONE;
        app_set_session(a, 0, s, false);
        for (int screen = 0; screen < PANEL_COUNT + 5; screen++) {
            a->hint = screen == PANEL_COUNT;
            a->overlay = OV_NONE;
            if (screen == PANEL_COUNT + 1) app_open_overlay(a, OV_HELP);
            if (screen == PANEL_COUNT + 2) app_open_overlay(a, OV_SAMPLER);
            if (screen == PANEL_COUNT + 3) app_set_session(a, 1, s2, false);
            if (screen == PANEL_COUNT + 4) a->sc->view.tradeoff = true;   /* the trade-off view, compare mode */
            if (screen < PANEL_COUNT) { Err e = {0}; scene_show_panel(a->sc, screen, &e); app_render_panel(a, c, screen); }
            else app_render(a, c);
            char *ansi = canvas_to_ansi(c, mode);
            if (!ansi) { CHECK(0); continue; }
            ContrastStats st;
            contrast_scan(ansi, dfg, dbg, 3.0, &st);
            *cells += st.text;
            CHECK(st.text > 0);
            if (st.text_ok != st.text) {
                bad++;
                FAILF("%s theme, %s mode, %s screen %d: %ld of %ld text cells below 3:1; lowest %.2f:1 '%s' at row %d col %d (#%02x%02x%02x on #%02x%02x%02x)",
                      theme_name(th), mode == CMODE_TRUE ? "24-bit" : mode == CMODE_256 ? "256" : mode == CMODE_16 ? "16" : "mono",
                      KINDS[k], screen, st.text - st.text_ok, st.text, st.worst, st.worst_ch, st.worst_row + 1, st.worst_col + 1,
                      st.worst_fg.r, st.worst_fg.g, st.worst_fg.b, st.worst_bg.r, st.worst_bg.g, st.worst_bg.b);
            }
            if (mode == CMODE_NONE) CHECK_MSG(st.sgr_rgb + st.sgr_256 + st.sgr_16 == 0, "colour codes in mono");
            if (mode == CMODE_TRUE) CHECK(st.sgr_rgb > 0 && st.sgr_256 + st.sgr_16 == 0);
            if (mode == CMODE_256) CHECK(st.sgr_256 > 0 && st.sgr_rgb + st.sgr_16 == 0);
            if (mode == CMODE_16) CHECK(st.sgr_16 > 0 && st.sgr_rgb + st.sgr_256 == 0);
            /* no cell is left to the terminal's default colours in colour modes */
            if (mode != CMODE_NONE) CHECK_EQ_INT(st.sgr_default, 0);
            free(ansi);
        }
        canvas_free(c);
        app_free(a);
        tui_fake_free(s);
        tui_fake_free(s2);
    }
    return bad;
}

TEST(theme_every_text_cell_contrasts) {
    static const ColorMode MODES[] = {CMODE_TRUE, CMODE_256, CMODE_16, CMODE_NONE};
    long cells = 0;
    for (int ti = 0; ti < 3; ti++)
        for (int m = 0; m < 4; m++) scan_screens(T_, THEMES_ALL[ti], MODES[m], &cells);
    CHECK(cells > 10000);
    theme_set(THEME_DARK);
}

TEST(theme_color_mode_decision) {
    /* {TERM, COLORTERM, TMUX, STY, NO_COLOR, LLMSCOPE_COLOR, colors, rgb, can_redefine} */
    TermCaps k = {"xterm-256color", "truecolor", NULL, NULL, NULL, NULL, 256, false, true};
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_SGR);            /* truecolor terminal, no multiplexer */
    k.tmux = "/tmp/tmux-0/default,1,0";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_256);            /* the same inside tmux: fixed cube */
    k.tmux = NULL; k.sty = "123.pts-0.host";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_256);            /* GNU screen */
    k.sty = NULL; k.term = "screen-256color";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_256);
    k.term = "tmux-256color"; k.rgb = true;
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_SGR);            /* terminfo says RGB / Tc */
    k.rgb = false; k.term = "xterm-256color"; k.colorterm = NULL;
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_256);            /* never the palette by default */
    k.colors = 0x1000000;
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_DIRECT);         /* xterm-direct */
    k.colors = 8; k.term = "xterm";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_16);
    k.no_color = "1";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_NONE);
    k.no_color = NULL; k.term = "dumb";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_NONE);
    k.term = "xterm-256color"; k.colors = 256; k.override = "palette";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_PALETTE);        /* the opt-in */
    k.can_redefine = false;
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_256);
    k.override = "true";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_SGR);
    k.override = "16";
    CHECK_EQ_INT(term_pick_colors(&k), TERM_COLOR_16);
    CHECK(term_color_override_ok("256") && term_color_override_ok(NULL) && !term_color_override_ok("rainbow"));
}

TEST(theme_key_cycles_and_stays) {
    /* C cycles dark -> light -> contrast -> dark; the theme belongs to the process, so a
     * model switch or compare mode keeps it; the first-screen hint goes at the first key */
    theme_set(THEME_DARK);
    CHECK_EQ_INT(theme_find("light"), THEME_LIGHT);
    CHECK_EQ_INT(theme_find("sepia"), -1);
    Session *s = tui_fake_session("gqa", 8, 4);
    App *a = app_new();
    Canvas *c = canvas_new(100, 30);
    REQUIRE(s && a && c);
    app_set_session(a, 0, s, false);
    a->hint = true;
    app_render(a, c);
    char *txt = canvas_to_text(c);
    CHECK(txt && strstr(txt, "First steps") && strstr(txt, "lessons") && strstr(txt, "help") &&
          strstr(txt, "step") && strstr(txt, "switch panel"));
    free(txt);
    TuiEvent ev = {.key = 'C'};
    app_handle(a, &ev);
    CHECK_EQ_INT(theme_current(), THEME_LIGHT);
    CHECK(!a->hint);
    app_render(a, c);
    txt = canvas_to_text(c);
    CHECK(txt && !strstr(txt, "First steps") && strstr(txt, "theme: light"));
    free(txt);
    /* the header's background follows the theme */
    CHECK(canvas_cell(c, 0, 0)->bg.r == theme_color(CR_HEADER).r && theme_color(CR_HEADER).r > 200);
    Session *s2 = tui_fake_session("mla", 8, 4);
    REQUIRE(s2);
    app_set_session(a, 1, s2, false);         /* compare mode */
    app_render(a, c);
    CHECK_EQ_INT(theme_current(), THEME_LIGHT);
    app_handle(a, &ev);
    CHECK_EQ_INT(theme_current(), THEME_CONTRAST);
    app_handle(a, &ev);
    CHECK_EQ_INT(theme_current(), THEME_DARK);
    canvas_free(c);
    app_free(a);
    tui_fake_free(s);
    tui_fake_free(s2);
}

TEST(theme_contrast_tmux) {
    /* tests/contrast_tmux.sh: the real binary in tmux, in every colour mode and theme, read
     * back with capture-pane -e; one check per "ok"/"FAIL" line */
    if (getenv("LLMSCOPE_VALGRIND")) SKIP("not under valgrind (drives the binary in tmux)");
    if (test_run("command -v tmux", NULL, 0) != 0) SKIP("tmux not installed");
    if (access("tests/contrast_tmux.sh", R_OK) != 0) SKIP("tests/contrast_tmux.sh not found (run from the repository root)");
    char cmd[1024];
    const char *san = getenv("LLMSCOPE_SANITIZER");   /* sanitizer runs: auto and 24-bit only */
    snprintf(cmd, sizeof cmd, "bash tests/contrast_tmux.sh '%s'%s </dev/null", test_bin(), san && *san ? " --quick" : "");
    char *out = NULL;
    int rc = test_run(cmd, &out, 1);
    if (test_run_skipped(T_, rc, &out)) return;
    for (const char *p = out ? out : ""; *p;) {
        int n = (int)strcspn(p, "\n");
        if (!strncmp(p, "ok    ", 6)) CHECK(1);
        else if (!strncmp(p, "FAIL  ", 6)) CHECK_MSG(0, "%.*s", n - 6, p + 6);
        p += n + (p[n] ? 1 : 0);
    }
    CHECK_MSG(rc == 0, "tests/contrast_tmux.sh exited %d", rc);
    free(out);
}

/* The first screen's hint says what the step key does next: before the prompt has run, run it;
 * after `tui --run` (the prompt already run) one more token (it said "run the prompt" there too). */
TEST(first_hint_says_what_the_step_does) {
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("assets/models/story-gqa not available");
    Err e = {0};
    Session *s = session_new("assets/models/story-gqa", 0, &e);
    REQUIRE(s);
    REQUIRE(session_set_prompt(s, "Once upon a time", &e));
    App *a = app_new();
    Canvas *c = canvas_new(100, 30);
    REQUIRE(a && c);
    app_set_session(a, 0, s, true);
    a->hint = true;
    app_render(a, c);
    char *txt = canvas_to_text(c);
    CHECK_MSG(txt && strstr(txt, "run the prompt, then one token") && !strstr(txt, "one more token"), "%s", txt);
    free(txt);
    REQUIRE(session_step(s, &e));
    app_render(a, c);
    txt = canvas_to_text(c);
    CHECK_MSG(txt && strstr(txt, "step: one more token") && !strstr(txt, "run the prompt"), "%s", txt);
    free(txt);
    canvas_free(c);
    app_free(a);
}
