/* The fit walk (fit_walk.h): every panel, view, overlay and lesson step drawn in process at the
 * sizes a class uses, for the scans in test_fit.c and test_clip.c. */
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

bool have_story(const char *dir) {
    char p[256];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Row y of the canvas as text (trailing blanks trimmed) into out. */
void row_text(const Canvas *c, int y, char *out, size_t cap) {
    char *t = canvas_to_text(c);
    const char *p = t;
    for (int i = 0; p && i < y; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    size_t n = p ? strcspn(p, "\n") : 0;
    if (n >= cap) n = cap - 1;
    if (p) memcpy(out, p, n);
    out[n] = 0;
    free(t);
}

/* The first row at or below y0 that holds a frame's top-left corner. */
int frame_top(const Canvas *c, int y0) {
    for (int y = y0; y < c->h; y++) {
        const Cell *cl = canvas_cell(c, 0, y);
        if (cl && cl->len && (!memcmp(cl->ch, "\xe2\x94\x8c", 3) || cl->ch[0] == '+')) return y;
    }
    return -1;
}

/* An app with the story model(s), the prompt run and three tokens decoded. */
App *fit_app(TestCtx *T_, const char *a_dir, const char *b_dir) {
    Err e = {0};
    Session *s1 = session_new(a_dir, 0, &e), *s2 = b_dir ? session_new(b_dir, 0, &e) : NULL;
    if (!s1 || (b_dir && !s2)) {
        FAILF("session_new: %s", e.msg);
        session_free(s1);
        session_free(s2);
        return NULL;
    }
    App *a = app_new();
    if (!a) { session_free(s1); session_free(s2); return NULL; }
    app_set_session(a, 0, s1, true);
    if (s2) app_set_session(a, 1, s2, true);
    bool ok = scene_set_prompt(a->sc, "Once upon a time", true, &e);
    for (int i = 0; ok && i < 3; i++) ok = scene_step(a->sc, &e);
    CHECK_MSG(ok, "prompt: %s", e.msg);
    return a;
}



/* Draws every panel of panels[0..n) (all panels when panels is NULL) for each bundled story model
 * kind (GQA, MLA, learned positions, MoE), alone and in compare mode, at 80x24, 100x30, 60x20,
 * 70x22 and 200x60, in English and Chinese UTF-8 and English ASCII, and hands each screen to fn.
 * Returns how many screens were drawn; -1 skipped (story models missing). */
int fit_each_screen(TestCtx *T_, const int *panels, int n, FitFn fn, void *ud) {
    static const char *const MODELS[] = {STORY("gqa"), STORY("mla"), STORY("gpt2"), STORY("moe")};
    static const int SIZES[][2] = {{80, 24}, {100, 30}, {60, 20}, {70, 22}, {200, 60}};
    static const char *const MODES[] = {"en", "zh", "ascii"};
    for (int m = 0; m < 4; m++)
        if (!have_story(MODELS[m])) return -1;
    if (!panels) n = PANEL_COUNT;
    int seen = 0;
    for (int m = 0; m < 4; m++)
        for (int two = 0; two < 2; two++) {
            App *a = fit_app(T_, two ? STORY("gqa") : MODELS[m], two ? MODELS[m] : NULL);
            if (!a) return seen;
            for (int p = 0; p < n; p++) {
                Err e = {0};
                int panel = panels ? panels[p] : p;
                if (!scene_show_panel(a->sc, panel, &e)) { FAILF("panel %d: %s", panel, e.msg); break; }
                for (int mode = 0; mode < 3; mode++) {
                    i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
                    Canvas *wide = canvas_new(two ? 2 * FIT_WIDE_W : FIT_WIDE_W, 60);
                    if (wide) {
                        wide->unicode = mode < 2;
                        app_render(a, wide);
                    }
                    for (int z = 0; z < 5; z++) {
                        Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
                        if (!c) continue;
                        c->unicode = mode < 2;
                        app_render(a, c);
                        FitScreen f = {MODELS[m], two != 0, panel, SIZES[z][0], SIZES[z][1], MODES[mode], wide, NULL};
                        fn(T_, c, &f, ud);
                        seen++;
                        canvas_free(c);
                    }
                    canvas_free(wide);
                }
            }
            i18n_set_lang(LANG_EN);
            app_free(a);
        }
    return seen;
}

/* ---- the trade-off view, the overlays and the lesson pane ------------------------------ */

/* Hands fn every screen of the views that are not panels, in the fit walk's sizes and
 * languages: the trade-off view, the help on each panel and the trade-off view (every page
 * of it, scrolled), the sampling form (F4), the prompt editor, the model menu and the texts
 * editor, for story-gqa alone and story-gqa beside story-mla; FitScreen.panel says which
 * (100 + the overlay, 200 the trade-off view, 300 + panel the help on it). Returns the screens
 * drawn, -1 when the story models are missing. */
int fit_each_view(TestCtx *T_, FitFn fn, void *ud) {
    static const int SIZES[][2] = {{80, 24}, {100, 30}, {60, 20}, {70, 22}, {200, 60}};
    return fit_each_view_at(T_, SIZES, 5, fn, ud);
}

int fit_each_view_at(TestCtx *T_, const int (*SIZES)[2], int n_sizes, FitFn fn, void *ud) {
    static const char *const MODES[] = {"en", "zh", "ascii"};
    if (!have_story(STORY("gqa")) || !have_story(STORY("mla"))) return -1;
    int seen = 0;
    for (int two = 0; two < 2; two++) {
        App *a = fit_app(T_, STORY("gqa"), two ? STORY("mla") : NULL);
        if (!a) return seen;
        app_scan_models(a, "assets/models");
        /* views: 0..7 help on panel k, 8 trade-off view, 9 help on it, 10.. the overlays */
        static const Overlay OVS[] = {OV_SAMPLER, OV_PROMPT, OV_MODEL, OV_TEXTS};
        for (int v = 0; v < 10 + 4; v++) {
            Err e = {0};
            if (v < 8) CHECK(scene_show_panel(a->sc, v, &e));
            if (v == 8 || v == 9) { if (!a->sc->view.tradeoff) CHECK(scene_do(a->sc, "tradeoff.toggle", 0, &e)); }
            else if (a->sc->view.tradeoff) CHECK(scene_do(a->sc, "tradeoff.toggle", 0, &e));
            const bool help = v < 8 || v == 9;
            if (help) app_open_overlay(a, OV_HELP);
            else if (v >= 10) app_open_overlay(a, OVS[v - 10]);
            else a->overlay = OV_NONE;
            const int id = v < 8 ? 300 + v : v == 8 ? 200 : v == 9 ? 308 : 100 + (int)OVS[v - 10];
            for (int z = 0; z < n_sizes; z++)
                for (int mode = 0; mode < 3; mode++) {
                    i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
                    a->help_top = 0;
                    for (int page = 0; page < 40; page++) {        /* the help: every page */
                        Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
                        if (!c) break;
                        c->unicode = mode < 2;
                        Canvas *under = NULL;                       /* the screen under the overlay */
                        if (a->overlay != OV_NONE && (under = canvas_new(SIZES[z][0], SIZES[z][1]))) {
                            const Overlay ov = a->overlay;
                            const int top = a->help_top;
                            under->unicode = c->unicode;
                            a->overlay = OV_NONE;
                            app_render(a, under);
                            a->overlay = ov, a->help_top = top;
                        }
                        app_render(a, c);
                        FitScreen f = {two ? STORY("mla") : STORY("gqa"), two != 0, id, SIZES[z][0], SIZES[z][1], MODES[mode], NULL, under};
                        fn(T_, c, &f, ud);
                        seen++;
                        canvas_free(c);
                        canvas_free(under);
                        const int top = a->help_top;
                        if (!help) break;
                        a->help_top += a->help_page > 1 ? a->help_page - 1 : 1;
                        Canvas *c2 = canvas_new(SIZES[z][0], SIZES[z][1]);     /* draw_help clamps help_top */
                        if (!c2) break;
                        c2->unicode = mode < 2;
                        app_render(a, c2);
                        canvas_free(c2);
                        if (a->help_top == top) break;
                    }
                    a->help_top = 0;
                }
            a->overlay = OV_NONE;
        }
        i18n_set_lang(LANG_EN);
        app_free(a);
    }
    return seen;
}

/* Every step of every lesson (English and Chinese) in its pane, at the fit walk's sizes,
 * UTF-8 (and ASCII for English): FitScreen.panel is 1000 x the lesson's number + the step. */
int fit_each_lesson(TestCtx *T_, FitFn fn, void *ud) {
    static const int SIZES[][2] = {{80, 24}, {100, 30}, {60, 20}, {70, 22}, {200, 60}};
    if (!have_story(STORY("gqa"))) return -1;
    int seen = 0;
    for (int g = 0; g < 2; g++)
        for (int n = 1; n <= 16; n++) {
            char pattern[128], path[256] = "";
            snprintf(pattern, sizeof pattern, "ls lessons/%s%02d-*.json 2>/dev/null", g ? "zh/" : "", n);
            FILE *pf = popen(pattern, "r");
            if (pf) { if (!fgets(path, sizeof path, pf)) path[0] = 0; pclose(pf); }
            path[strcspn(path, "\n")] = 0;
            if (!path[0]) continue;
            App *a = app_new();
            if (!a) continue;
            i18n_set_lang(g ? LANG_ZH : LANG_EN);
            lesson_ui_get(a, ".", g ? "zh" : "en");
            Err e = {0};
            bool ok = lesson_ui_open(a, path, 0, &e);
            CHECK_MSG(ok, "%s: %s", path, e.msg);
            LessonPlayer *p = ok ? lesson_ui_player(a) : NULL;
            for (int k = 0; p && k < p->lesson->n_steps; k++) {
                if (k && !lesson_ui_goto(a, k)) { FAILF("%s step %d does not play", path, k + 1); break; }
                for (int z = 0; z < 5; z++)
                    for (int u = g ? 1 : 0; u < 2; u++) {
                        Canvas *c = canvas_new(SIZES[z][0], SIZES[z][1]);
                        if (!c) continue;
                        c->unicode = u == 1;
                        app_render(a, c);
                        FitScreen f = {path, false, 1000 * n + k + 1, SIZES[z][0], SIZES[z][1], g ? "zh" : u ? "en" : "ascii", NULL, NULL};
                        fn(T_, c, &f, ud);
                        seen++;
                        canvas_free(c);
                    }
            }
            app_free(a);
        }
    i18n_set_lang(LANG_EN);
    return seen;
}
