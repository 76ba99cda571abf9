/* Keys and the mouse while a chunked scene works in pieces (a prefill, a model load): what the App
 * answers at once (the help, the theme, view actions; the wheel where its key is answered) acts on
 * what is on screen, the rest waits for the work's end, and a model that takes the old one's place
 * keeps the view choices made on it only as far as it has them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include "work_fx.h"
#include "analysis/derived.h"
#include "scene/scene.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/theme.h"

#define MA "assets/models/story-gqa"
#define TEXT "Once upon a time there was a little girl named Lily. She loved to play outside in the sun."




/* The App on MA with the test prompt set, to be prefilled in pieces as the terminal runs it (no
 * first-run hint); NULL when it cannot be made (e says why). */
static App *chunked_app(Err *e) {
    App *app = app_new();
    Session *s = app ? session_new(MA, 0, e) : NULL;
    if (!s || !session_set_prompt(s, TEXT, e)) {
        if (s) session_free(s);
        if (app) app_free(app);
        return NULL;
    }
    app_set_session(app, 0, s, true);
    app->sc->chunked = true;
    app->hint = false;
    return app;
}

/* A prompt's prefill in the App as the terminal runs it (chunked), between two pieces: the panel
 * says the prompt is running (it said "no tokens yet: press n", the key just pressed) and the
 * header says prefill; ? opens the help at once and Esc there closes it without stopping the
 * prefill, q there closes it without quitting; C changes the theme; view keys (a panel, the
 * layer) answer at once; a step waits for the end and the status line says so, and a view key
 * typed after it waits too (keys keep their order); Esc then stops the prefill. */
TEST(work_app_keys_during_prefill) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    App *app = chunked_app(&e);
    REQUIRE(app);
    Canvas *cv = canvas_new(100, 30);
    REQUIRE(cv);
    TuiEvent n = {.key = 'n'};
    app_handle(app, &n);
    REQUIRE(scene_busy(app->sc));
    REQUIRE(scene_prefill_tick(app->sc, 4, &e));          /* one piece of 4 tokens, more to run */
    REQUIRE(scene_busy(app->sc));
    CHECK(work_screen_has(app, cv, "running the prompt"));
    CHECK(!work_screen_has(app, cv, "press n"));
    CHECK(work_screen_has(app, cv, "prefill │"));
    TuiEvent help = {.key = '?'}, esc = {.key = TK_ESC}, q = {.key = 'q'}, th = {.key = 'C'}, two = {.key = '2'};
    app_handle(app, &help);
    CHECK_EQ_INT(app->overlay, OV_HELP);
    CHECK(work_screen_has(app, cv, "Help · Esc closes"));
    app_handle(app, &esc);
    CHECK_EQ_INT(app->overlay, OV_NONE);
    CHECK(scene_busy(app->sc));                            /* the prefill goes on */
    app_handle(app, &help);
    app_handle(app, &q);
    CHECK_EQ_INT(app->overlay, OV_NONE);
    CHECK(!app->quit && scene_busy(app->sc));
    const ThemeId t0 = theme_current();
    app_handle(app, &th);
    CHECK(theme_current() != t0);
    while (theme_current() != t0) app_handle(app, &th);    /* back to the theme the other tests use */
    TuiEvent rb = {.key = ']'}, nk = {.key = 'n'};
    app_handle(app, &two);                                 /* a panel key: a view action, at once */
    app_handle(app, &rb);
    CHECK(app->sc->panel == PANEL_KV && app->sc->sel.layer == 1 && !app->n_typed && scene_busy(app->sc));
    app_handle(app, &nk);                                  /* a step waits for the end, and says so */
    CHECK(app->n_typed == 1 && scene_busy(app->sc) && work_screen_has(app, cv, "n waits until it ends"));
    app_handle(app, &rb);                                  /* after it, a view key waits too */
    CHECK(app->n_typed == 2 && app->sc->sel.layer == 1 && work_screen_has(app, cv, "2 keys wait until it ends"));
    app_handle(app, &esc);
    CHECK(!scene_busy(app->sc));
    CHECK(strstr(app->sc->msg, "prefill stopped") != NULL);
    canvas_free(cv);
    app_free(app);
}

/* The mouse wheel during a prefill in pieces does what its key does then: over the help (opened at
 * once) it scrolls as the arrows do, at once (it was ignored: only a tab click was answered while
 * work ran); over the panels it stands for n / b, steps that would wait, and it is dropped rather
 * than kept (a wheel sends events by the dozen). The prefill stays where it was throughout. */
TEST(work_app_wheel_during_prefill) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    App *app = chunked_app(&e);
    REQUIRE(app);
    Session *s = app->sc->ses[0];
    Canvas *cv = canvas_new(80, 24);
    REQUIRE(cv);
    TuiEvent n = {.key = 'n'}, help = {.key = '?'}, down = {.key = TK_DOWN}, esc = {.key = TK_ESC};
    TuiEvent wd = {.key = TK_MOUSE, .button = MB_WHEEL_DOWN, .mx = 40, .my = 12}, wu = wd;
    wu.button = MB_WHEEL_UP;
    app_handle(app, &n);
    REQUIRE(scene_prefill_tick(app->sc, 4, &e) && scene_busy(app->sc));
    int done0 = -1, total0 = -1, done = -1, total = -1;
    session_work_progress(s, &done0, &total0);
    app_handle(app, &help);
    REQUIRE(app->overlay == OV_HELP && work_screen_has(app, cv, "Help"));
    CHECK_EQ_INT(app->help_top, 0);
    CHECK(app_handle(app, &wd) == KR_ALL);                 /* the wheel scrolls the help, as the arrows */
    CHECK_EQ_INT(app->help_top, 1);
    app_handle(app, &down);
    CHECK_EQ_INT(app->help_top, 2);
    app_handle(app, &wu);
    CHECK_EQ_INT(app->help_top, 1);
    app_render(app, cv);                                   /* the help is taller than 80x24: no clamp back */
    CHECK_EQ_INT(app->help_top, 1);
    app_handle(app, &esc);                                 /* closes the help, the prefill goes on */
    CHECK(app->overlay == OV_NONE && scene_busy(app->sc));
    for (int i = 0; i < 5; i++) { app_handle(app, &wd); app_handle(app, &wu); }   /* steps: dropped, not kept */
    CHECK_EQ_INT(app->n_typed, 0);
    CHECK(!work_screen_has(app, cv, "wait until it ends") && !work_screen_has(app, cv, "waits until it ends"));
    session_work_progress(s, &done, &total);
    CHECK(scene_busy(app->sc) && done == done0 && total == total0 && session_cursor(s) < 0);
    app_handle(app, &n);                                   /* the key n waits (else the check above cannot fail) */
    CHECK_EQ_INT(app->n_typed, 1);
    app_handle(app, &esc);
    CHECK(!scene_busy(app->sc));
    canvas_free(cv);
    app_free(app);
}

/* View keys during a model load (m, Enter: the model loads on a worker while the old one is still
 * shown) act at once on what is on screen, the old model: story-gqa's layer 5, head 7, RoPE pair 11
 * (of 12), residual layer 6 (after its final norm), a key column and a selected token. When the new
 * model takes its place, those choices carry over only as far as it has them: stories260K (5 layers,
 * 8 heads, 4 pairs, F16 GGUF) gets layer 4, head 7, pair 3, residual layer 5, and no key column or
 * selected token (positions of the old model's tokens); then llama-Q4_K_M (2 layers, 4 heads) layer
 * 1 and head 3. The Position panel draws pair 3's dial and its , key moves on from there (before:
 * pair 11 stayed, no dial was drawn and , went to 10, still none). In compare mode a B with fewer
 * pairs than A draws its last one (story-mla's 4 beside story-gqa's pair 11: no dial before). */
#define S260K "tests/fixtures/gguf/stories260K/stories260K-F16.gguf"
#define LQ4 "tests/fixtures/gguf/llama/llama-Q4_K_M.gguf"
static void keys(App *app, const char *k) {
    for (; *k; k++) {
        TuiEvent ev = {.key = (unsigned char)*k};
        app_handle(app, &ev);
    }
}

/* Leaves `path` loading into slot 0 on its worker. A small model can be loaded before
 * scene_load_model looks (then it is in place at once): `other` is loaded back and `path` asked
 * for again, up to 8 times; false when the load was never caught running. */
static bool load_running(Scene *sc, const char *path, const char *other, Err *e) {
    for (int i = 0; i < 8; i++) {
        if (!scene_load_model(sc, 0, path, e)) return false;
        if (sc->job.kind == SCENE_JOB_LOAD) return true;
        if (!scene_settle(sc, e) || !scene_load_model(sc, 0, other, e) || !scene_settle(sc, e)) return false;
    }
    return false;
}

TEST(work_app_view_keys_during_a_load) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(S260K) || !file_exists(LQ4) || !file_exists("assets/models/story-mla/model.safetensors"))
        SKIP("models not available");
    App *app = app_new();
    REQUIRE(app);
    Scene *sc = app->sc;
    app->hint = false;
    REQUIRE(scene_load_model(sc, 0, MA, &e) && scene_set_prompt(sc, TEXT, true, &e));
    for (int i = 0; i < 3; i++) REQUIRE(scene_step(sc, &e));
    sc->chunked = true;
    Canvas *cv = canvas_new(100, 30);
    REQUIRE(cv);
    REQUIRE(load_running(sc, S260K, MA, &e));
    const int q = session_cursor(sc->ses[0]);
    keys(app, "5............]]]]]}}}}}}}6++++++,1,");      /* on story-gqa, still shown */
    CHECK_MSG(sc->job.kind == SCENE_JOB_LOAD && !app->n_typed && !strcmp(session_model_path(sc->ses[0]), MA), "%d %d", sc->job.kind, app->n_typed);
    CHECK(sc->panel == PANEL_ATTENTION && sc->sel.layer == 5 && sc->sel.head == 7 && sc->view.pos_pair0 == 11 && sc->view.emb_layer == 6);
    CHECK(sc->sel.key == q && sc->view.emb_sel == q - 1);
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    REQUIRE(!strcmp(session_model_path(sc->ses[0]), S260K) && session_cursor(sc->ses[0]) >= 0);
    CHECK_MSG(sc->sel.layer == 4 && sc->sel.head == 7 && sc->view.pos_pair0 == 3 && sc->view.emb_layer == 5,
              "layer %d head %d pair %d residual layer %d", sc->sel.layer, sc->sel.head, sc->view.pos_pair0, sc->view.emb_layer);
    CHECK_MSG(sc->sel.key == -1 && sc->view.emb_sel == -1, "key %d, selected token %d", sc->sel.key, sc->view.emb_sel);
    keys(app, "5");
    CHECK(work_screen_has(app, cv, "i=3 ") && !work_screen_has(app, cv, "i=11"));
    keys(app, ",");
    CHECK(sc->view.pos_pair0 == 2 && work_screen_has(app, cv, "i=2 "));
    REQUIRE(scene_load_model(sc, 0, LQ4, &e));
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    CHECK_MSG(sc->sel.layer == 1 && sc->sel.head == 3 && sc->view.pos_pair0 == 2 && sc->view.emb_layer == 2,
              "layer %d head %d pair %d residual layer %d", sc->sel.layer, sc->sel.head, sc->view.pos_pair0, sc->view.emb_layer);
    app_free(app);
    for (int i = 0; i < 2000 && scene_loads_running(); i++) work_sleep_ms(5);
    /* compare mode: B with fewer pairs than A's choice draws its last one */
    app = app_new();
    REQUIRE(app);
    app->hint = false;
    REQUIRE(scene_load_model(app->sc, 0, MA, &e) && scene_set_prompt(app->sc, TEXT, true, &e));
    REQUIRE(scene_load_model(app->sc, 1, "assets/models/story-mla", &e) && scene_step(app->sc, &e));
    keys(app, "5............");
    REQUIRE(app->sc->view.pos_pair0 == 11);
    app_render(app, cv);
    char *txt = canvas_to_text(cv);
    REQUIRE(txt);
    int n11 = 0, n3 = 0;
    for (const char *p = txt; (p = strstr(p, "i=11 ")) != NULL; p++) n11++;
    for (const char *p = txt; (p = strstr(p, "i=3 ")) != NULL; p++) n3++;
    CHECK_MSG(n11 == 1 && n3 == 1, "A's pair 11 and B's last, 3: %d and %d in\n%s", n11, n3, txt);
    free(txt);
    canvas_free(cv);
    app_free(app);
}

/* ---- clicks during work: what their keys do then ----------------------------------------- */

/* The click on the last frame's hit of kind `kind` with arg `arg` (its first cell); false when the
 * frame has none. */
static bool click_hit(App *app, HitKind kind, int arg) {
    for (int i = 0; i < app->n_hits; i++)
        if (app->hits[i].kind == kind && app->hits[i].arg == arg) {
            TuiEvent ev = {.key = TK_MOUSE, .button = MB_LEFT, .mx = app->hits[i].r.x, .my = app->hits[i].r.y};
            app_handle(app, &ev);
            return true;
        }
    return false;
}

/* A cell of the attention panel drawn on side 0 of the last frame whose click asks for what
 * `want` has (pos and key, or head; pos -2: any token but `other` and 2): its position in *x, *y, what
 * it asks for in *got; false when none. */
static bool attn_cell(App *app, PanelClick want, int other, int *x, int *y, PanelClick *got) {
    const PanelClass *pc = panel_class(PANEL_ATTENTION);
    for (int i = 0; i < app->n_hits; i++) {
        const Hit *h = &app->hits[i];
        if (h->kind != HIT_PANEL || h->arg != PANEL_ATTENTION || h->side) continue;
        for (int yy = h->r.y; yy < h->r.y + h->r.h; yy++)
            for (int xx = h->r.x; xx < h->r.x + h->r.w; xx++) {
                PanelClick c = PANEL_CLICK_NONE;
                if (!pc->click(app->pst[PANEL_ATTENTION], app->sc, 0, xx, yy, MB_LEFT, &c)) continue;
                const bool pos = want.pos == -2 ? c.pos >= 0 && c.pos != other && c.pos != 2 : c.pos == want.pos;
                if (pos && c.key == want.key && c.head == want.head) { *x = xx; *y = yy; *got = c; return true; }
            }
    }
    return false;
}

static void click_at(App *app, int x, int y) {
    TuiEvent ev = {.key = TK_MOUSE, .button = MB_LEFT, .mx = x, .my = y};
    app_handle(app, &ev);
}

/* Clicks during a model load (the old model still shown, its tokens on screen) do what their keys
 * do then (before, only a tab click was answered): the F-key bar as the keys (F1 opens the help at
 * once, a click then closes it; F8, layer+, a view key, at once), a tab and a head tile at once;
 * an attention cell and a token (they go to a token, which waits for the work) wait for its end in
 * order, with the keys (F7 after them waits too), and the status line says so; after the load they
 * run in that order: the cell's query row and key 0, then token 2 (the key column stays). */
TEST(work_app_clicks_during_work) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(S260K)) SKIP("models not available");
    App *app = app_new();
    REQUIRE(app);
    Scene *sc = app->sc;
    app->hint = false;
    REQUIRE(scene_load_model(sc, 0, MA, &e) && scene_set_prompt(sc, TEXT, true, &e));
    for (int i = 0; i < 3; i++) REQUIRE(scene_step(sc, &e));
    REQUIRE(scene_show_panel(sc, PANEL_ATTENTION, &e));
    sc->chunked = true;
    Canvas *cv = canvas_new(160, 30);   /* the F-keys beside the status line */
    REQUIRE(cv);
    REQUIRE(load_running(sc, S260K, MA, &e));
    const int q = session_cursor(sc->ses[0]), layer0 = sc->sel.layer;
    REQUIRE(q >= 3);
    app_render(app, cv);
    REQUIRE(click_hit(app, HIT_FKEY, TK_F1));
    CHECK_EQ_INT(app->overlay, OV_HELP);                   /* at once (the old code: ignored) */
    click_at(app, 0, 29);
    CHECK_EQ_INT(app->overlay, OV_NONE);                   /* a click closes it, as outside the work */
    app_render(app, cv);
    REQUIRE(click_hit(app, HIT_TAB, PANEL_KV));
    CHECK_EQ_INT(sc->panel, PANEL_KV);
    app_render(app, cv);
    REQUIRE(click_hit(app, HIT_TAB, PANEL_ATTENTION));
    CHECK_EQ_INT(sc->panel, PANEL_ATTENTION);
    app_render(app, cv);
    REQUIRE(click_hit(app, HIT_FKEY, TK_F8));
    CHECK_EQ_INT(sc->sel.layer, layer0 + 1);               /* a view key, at once */
    app_render(app, cv);
    int x, y;
    PanelClick head = PANEL_CLICK_NONE, cell = PANEL_CLICK_NONE, got;
    head.head = sc->sel.head == 2 ? 1 : 2;
    cell.pos = -2;                                         /* a query row but the cursor's and 2 */
    cell.key = 0;
    REQUIRE(attn_cell(app, head, -1, &x, &y, &got));
    click_at(app, x, y);
    CHECK_EQ_INT(sc->sel.head, head.head);                 /* a head tile: a view action, at once */
    CHECK(!app->n_typed && sc->job.kind == SCENE_JOB_LOAD);
    app_render(app, cv);
    REQUIRE(attn_cell(app, cell, q, &x, &y, &got));
    click_at(app, x, y);                                   /* goes to a token: waits */
    CHECK(app->n_typed == 1 && session_cursor(sc->ses[0]) == q && sc->sel.key != 0);
    CHECK(work_screen_has(app, cv, "1 click waits until it ends"));
    REQUIRE(click_hit(app, HIT_TOKEN, 2));
    CHECK(app->n_typed == 2 && work_screen_has(app, cv, "2 clicks wait until it ends"));
    REQUIRE(click_hit(app, HIT_FKEY, TK_F7));              /* a view key after them waits too */
    CHECK(app->n_typed == 3 && sc->sel.layer == layer0 + 1 && work_screen_has(app, cv, "3 keys and clicks wait until it ends"));
    CHECK(!strcmp(session_model_path(sc->ses[0]), MA) && session_cursor(sc->ses[0]) == q);
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    REQUIRE(!strcmp(session_model_path(sc->ses[0]), S260K) && session_len(sc->ses[0]) > 3);
    const int layer1 = sc->sel.layer;
    const int n = app->n_typed;                             /* as app_run hands them over */
    app->n_typed = 0;
    for (int k = 0; k < n; k++) app_handle_waiting(app, &app->typed[k]);
    CHECK_MSG(session_cursor(sc->ses[0]) == 2 && sc->sel.key == 0, "cursor %d key %d (the cell's row %d)", session_cursor(sc->ses[0]), sc->sel.key, got.pos);
    CHECK_EQ_INT(sc->sel.layer, layer1 - 1);
    canvas_free(cv);
    app_free(app);
    for (int i = 0; i < 2000 && scene_loads_running(); i++) work_sleep_ms(5);
}

/* ---- the Embeddings panel's work and a model about to be replaced ------------------------ */

static atomic_bool g_switched;

/* the test's guard: a job held at its start (derived_background_pause) that nothing stops would
 * hold the switch for good; after 3 s it is let go, and the switch's time shows it */
static void *let_go_later(void *arg) {
    (void)arg;
    for (int i = 0; i < 300 && !atomic_load(&g_switched); i++) work_sleep_ms(10);
    if (!atomic_load(&g_switched)) derived_background_pause(false);
    return NULL;
}

static double mono_ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The milliseconds from `path` asked for in slot 0 (NULL: the load under way) to the load's end
 * (the switch included: in scene_load_model when the worker was done before it looked, else while
 * ticking), with the guard; -1 when it failed. */
static double load_ms(Scene *sc, const char *path, Err *e) {
    pthread_t th;
    atomic_store(&g_switched, false);
    const bool guard = !pthread_create(&th, NULL, let_go_later, NULL);
    const double t0 = mono_ms_now();
    const bool ok = (!path || scene_load_model(sc, 0, path, e)) && work_tick_while(sc, SCENE_JOB_LOAD, e);
    const double ms = mono_ms_now() - t0;
    atomic_store(&g_switched, true);
    if (guard) pthread_join(th, NULL);
    return ok ? ms : -1;
}

/* The Embeddings panel's vocabulary work is of no use for a model a load is about to replace:
 * (1) a job already running for it (v pressed, the index build held at its start) is stopped at
 * the switch, which does not wait for it (before: the switch waited for the whole build, seconds
 * on a big vocabulary; here, held, the guard's 3 s); (2) v pressed during the load starts nothing
 * for the old model (before: its index build started, and the switch waited for it) and the panel
 * says the map waits for the new one; after the load the map is made for the new model. */
TEST(work_no_vocab_work_for_a_model_being_replaced) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(S260K)) SKIP("models not available");
    App *app = app_new();
    REQUIRE(app);
    Scene *sc = app->sc;
    app->hint = false;
    REQUIRE(scene_load_model(sc, 0, MA, &e) && scene_set_prompt(sc, TEXT, true, &e) && scene_step(sc, &e));
    REQUIRE(scene_show_panel(sc, PANEL_EMBEDDINGS, &e));
    sc->chunked = true;
    Canvas *cv = canvas_new(100, 30);
    REQUIRE(cv);
    TuiEvent v = {.key = 'v'};
    /* 1. a job running for the old model at the switch */
    derived_background_pause(true);
    app_handle(app, &v);
    CHECK(work_screen_has(app, cv, "indexing the vocabulary"));
    CHECK(derived_background_busy());
    double ms = load_ms(sc, S260K, &e);
    CHECK_MSG(ms >= 0 && ms < 1500, "the switch took %.0f ms", ms);
    REQUIRE(!strcmp(session_model_path(sc->ses[0]), S260K));
    for (int i = 0; i < 2000 && derived_background_busy(); i++) work_sleep_ms(1);
    CHECK(!derived_background_busy());                     /* stopped, nothing started since */
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    /* 2. v during a load: nothing started for the old model */
    derived_background_pause(true);
    app_handle(app, &v);                                   /* the map off (nothing drawn since) */
    REQUIRE(sc->view.emb_map == 0);
    REQUIRE(load_running(sc, MA, S260K, &e));
    app_handle(app, &v);                                   /* a view key: at once */
    CHECK(sc->view.emb_map == 1 && !app->n_typed);
    CHECK(work_screen_has(app, cv, "the map waits for the model being loaded"));
    CHECK(work_screen_has(app, cv, "(neighbours after the load)"));
    CHECK(!derived_background_busy());
    ms = load_ms(sc, NULL, &e);
    CHECK_MSG(ms >= 0 && ms < 1500, "the switch took %.0f ms", ms);
    REQUIRE(!strcmp(session_model_path(sc->ses[0]), MA));
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    derived_background_pause(false);
    bool drawn = false;                                    /* the new model's map */
    for (int i = 0; i < 20000 && !drawn; i++) { drawn = work_screen_has(app, cv, "vocabulary map: PCA of "); if (!drawn) work_sleep_ms(1); }
    CHECK(drawn);
    canvas_free(cv);
    app_free(app);
    for (int i = 0; i < 2000 && scene_loads_running(); i++) work_sleep_ms(5);
}
