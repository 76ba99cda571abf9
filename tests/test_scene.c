/* The scene: keys and lessons reach the engine through the same named actions.
 *
 * scene_same_path_keys_and_lesson: one scene is driven by key presses through the App
 * (app_handle -> keymap -> scene action), another by a lesson played headless on a bare
 * Scene (no App). Both must apply the same sequence of named actions (the scene's trail)
 * and end in the same state: selection, panel, view options, cursor, tokens, and the
 * recorded logits at the cursor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/i18n.h"
#include "harness.h"
#include "lesson/lesson.h"
#include "scene/scene.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/lesson_pane.h"

#define MODEL "assets/models/story-gqa"
#define PROMPT "Once upon a time"

static bool same_trace_at_cursor(const Session *a, const Session *b) {
    const TraceTok *x = trace_tok(session_trace(a), session_cursor(a)), *y = trace_tok(session_trace(b), session_cursor(b));
    if (!x || !y) return false;
    return x->id == y->id && x->next_id == y->next_id && !memcmp(x->top_ids, y->top_ids, sizeof x->top_ids) &&
           !memcmp(x->top_logits, y->top_logits, sizeof x->top_logits);
}

TEST(scene_same_path_keys_and_lesson) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    Err e = {0};
    /* keys: the same start a lesson makes (load, prompt with its prefill), then key presses */
    App *a = app_new();
    REQUIRE(a);
    Scene *k = a->sc;
    REQUIRE(scene_load_model(k, 0, MODEL, &e) && scene_set_prompt(k, PROMPT, true, &e));
    int k0 = k->n_trail;
    const int keys[] = {'n', 'n', ']', '}', 'i', 'i', '2', '+', 'b'};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        TuiEvent ev = {.key = keys[i]};
        CHECK_MSG(app_handle(a, &ev) != KR_IGNORED, "key %zu ignored", i);
    }
    /* a lesson doing the same, on a scene with no App at all */
    const char *json =
        "{\"id\":\"t\",\"lang\":\"en\",\"title\":\"T\",\"summary\":\"s\",\"model\":\"" MODEL "\",\"prompt\":\"" PROMPT "\","
        "\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"step\"},{\"do\":\"step\"},{\"do\":\"layer\",\"layer\":1},"
        "{\"do\":\"head\",\"head\":1},{\"do\":\"step_into\",\"n\":2},{\"do\":\"panel\",\"panel\":\"kv\"},"
        "{\"do\":\"keys\",\"keys\":\"+\"},{\"do\":\"back\",\"n\":1}]}]}";
    Lesson *l = lesson_parse(json, strlen(json), "inline", &e);
    REQUIRE(l);
    Scene *s = scene_new();
    REQUIRE(s);
    LessonPlayer *p = lesson_player_new(s, l, ".", &e);
    REQUIRE(p);
    /* the player's start is the same load + prompt: count the trail after it */
    int before = s->n_trail;
    CHECK_MSG(lesson_player_goto(p, 0, &e), "lesson: %s", e.msg);
    int l0 = before;
    for (int i = before; i < s->n_trail; i++)
        if (!strcmp(s->trail[i], "set_prompt")) { l0 = i + 1; break; }

    /* the same named actions, in the same order */
    CHECK_EQ_INT(k->n_trail - k0, s->n_trail - l0);
    for (int i = 0; i < k->n_trail - k0 && i < s->n_trail - l0; i++)
        CHECK_MSG(!strcmp(k->trail[k0 + i], s->trail[l0 + i]), "action %d: key path %s, lesson path %s", i, k->trail[k0 + i],
                  s->trail[l0 + i]);
    static const char *const want[] = {"step", "step", "select_layer", "select_head", "step_into", "step_into",
                                       "show_panel", "kv.more", "step_back"};
    CHECK_EQ_INT(s->n_trail - l0, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]) && l0 + i < s->n_trail; i++) CHECK_STR(s->trail[l0 + i], want[i]);

    /* and the same scene */
    CHECK_EQ_INT(k->sel.layer, s->sel.layer);
    CHECK_EQ_INT(k->sel.head, s->sel.head);
    CHECK_EQ_INT(k->sel.stage, s->sel.stage);
    CHECK_EQ_INT(k->sel.key, s->sel.key);
    CHECK_EQ_INT(k->panel, s->panel);
    CHECK_EQ_INT(k->panel, PANEL_KV);
    CHECK(k->view.kv_ctx > 0 && k->view.kv_ctx == s->view.kv_ctx);
    CHECK_EQ_INT(k->n_ses, s->n_ses);
    CHECK_EQ_INT(session_cursor(k->ses[0]), session_cursor(s->ses[0]));
    CHECK_EQ_INT(session_len(k->ses[0]), session_len(s->ses[0]));
    CHECK_EQ_INT(session_n_ids(k->ses[0]), session_n_ids(s->ses[0]));
    CHECK(!memcmp(session_ids(k->ses[0]), session_ids(s->ses[0]), sizeof(int) * (size_t)session_n_ids(k->ses[0])));
    CHECK(same_trace_at_cursor(k->ses[0], s->ses[0]));
    lesson_player_free(p);
    scene_free(s);
    app_free(a);
}

/* The keymap only names actions that exist, and every action is reachable by name. */
TEST(scene_keymap_names_real_actions) {
    int n = 0, na = 0;
    const KeyBinding *km = scene_keymap(&n);
    const SceneAction *acts = scene_action_table(&na);
    CHECK(n > 40 && na > 20);
    for (int i = 0; i < n; i++) CHECK_MSG(scene_action_find(km[i].action) != NULL, "key %d: no action \"%s\"", km[i].key, km[i].action);
    for (int i = 0; i < na; i++) CHECK(scene_action_find(acts[i].name) == &acts[i]);
    Scene *sc = scene_new();
    REQUIRE(sc);
    Err e = {0};
    CHECK(!scene_do(sc, "no.such.action", 0, &e) && strstr(e.msg, "unknown action"));
    err_clear(&e);
    CHECK(!scene_step(sc, &e) && strstr(e.msg, "no model loaded"));   /* actions fail cleanly on an empty scene */
    CHECK(sc->msg_error);
    /* a panel's rows win on that panel only */
    CHECK_STR(scene_key_binding(sc, ',')->action, "key.prev");
    CHECK(scene_show_panel(sc, PANEL_EMBEDDINGS, &e));
    CHECK_STR(scene_key_binding(sc, ',')->action, "embeddings.prev");
    CHECK(scene_key_binding(sc, 'Z') == NULL);
    /* the trade-off view covers the panels: their rows do not apply (',' would move the hidden
     * Embeddings cursor), Esc closes it, the global rows still do */
    CHECK(scene_do(sc, "tradeoff.toggle", 0, &e) && sc->view.tradeoff);
    CHECK(scene_key_binding(sc, ',') == NULL);
    CHECK(scene_key_binding(sc, 'v') == NULL);
    CHECK_STR(scene_key_binding(sc, TK_ESC)->action, "tradeoff.toggle");
    CHECK_STR(scene_key_binding(sc, ']')->action, "layer.next");
    CHECK(scene_key(sc, TK_ESC, &e) && !sc->view.tradeoff);
    CHECK_STR(scene_key_binding(sc, ',')->action, "embeddings.prev");
    scene_free(sc);
}

/* ---- a lesson quotes what the panel shows ------------------------------------------------ */

static char *panel_text(App *a, Canvas *c, int panel) {
    app_render_panel(a, c, panel);
    return canvas_to_text(c);
}

static char *quote(LessonValues *v, const char *tpl) {
    Err e = {0};
    char *s = lesson_expand(v, tpl, false, &e);
    if (s && e.code) { free(s); return NULL; }
    return s;
}

TEST(scene_placeholders_read_the_panels_functions) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    Err e = {0};
    App *a = app_new();
    REQUIRE(a);
    Scene *sc = a->sc;
    REQUIRE(scene_load_model(sc, 0, MODEL, &e));
    REQUIRE(scene_set_prompt(sc, "Once upon a time there was a little girl who liked to play in the park", true, &e));
    for (int i = 0; i < 3; i++) REQUIRE(scene_step(sc, &e));
    REQUIRE(scene_select_layer(sc, 1, &e) && scene_select_head(sc, 2, &e));
    Canvas *c = canvas_new(140, 40);
    REQUIRE(c);
    c->unicode = true;
    c->mono = true;
    LessonValues v;
    lesson_values_init(&v, NULL, ".");
    v.sc = sc;

    /* attention: the row's entropy, "H=x.xx bits" on the panel */
    char *txt = panel_text(a, c, PANEL_ATTENTION), *val = quote(&v, "H={attn.entropy} bits");
    REQUIRE(txt && val);
    CHECK_MSG(strstr(txt, val) != NULL, "the attention panel does not show \"%s\"", val);
    free(txt);
    free(val);

    /* output: the most likely token's probability */
    txt = panel_text(a, c, PANEL_OUTPUT);
    val = quote(&v, "{logits.top1_prob}");
    REQUIRE(txt && val);
    CHECK_MSG(strlen(val) > 1 && strstr(txt, val) != NULL, "the output panel does not show \"%s\"", val);
    free(txt);
    free(val);

    /* embeddings: the nearest neighbour's cosine, and the PCA map's explained variance */
    txt = panel_text(a, c, PANEL_EMBEDDINGS);
    val = quote(&v, "{embed.nearest_cos}");
    REQUIRE(txt && val);
    CHECK_MSG(strstr(txt, val) != NULL, "the embeddings panel does not show the neighbour cosine \"%s\"", val);
    free(val);
    val = quote(&v, "{embed.pca_explained}");
    REQUIRE(val);
    const char *pc = strstr(txt, "PC1 ");
    double p1 = -1, p2 = -1, q = strtod(val, NULL);
    if (pc) sscanf(pc, "PC1 %lf%%  PC2 %lf%%", &p1, &p2);
    CHECK_MSG(p1 >= 0 && p2 >= 0 && fabs(p1 + p2 - q) <= 1.0, "PCA: panel PC1 %.0f%% + PC2 %.0f%%, lesson %s", p1, p2, val);
    free(txt);
    free(val);

    /* the cursor moves back: the axes stay (fitted once on the prompt), and both still agree */
    REQUIRE(scene_goto(sc, 0, 5, &e));
    txt = panel_text(a, c, PANEL_EMBEDDINGS);
    val = quote(&v, "{embed.pca_explained}");
    REQUIRE(txt && val);
    pc = strstr(txt, "PC1 ");
    double p1b = -1, p2b = -1;
    q = strtod(val, NULL);
    if (pc) sscanf(pc, "PC1 %lf%%  PC2 %lf%%", &p1b, &p2b);
    CHECK_MSG(p1b == p1 && p2b == p2 && fabs(p1b + p2b - q) <= 1.0, "PCA at position 5: panel %.1f%% + %.1f%% (before %.1f%% + %.1f%%), lesson %s", p1b, p2b, p1, p2, val);
    free(txt);
    free(val);
    lesson_values_done(&v);
    canvas_free(c);
    app_free(a);
}

/* Every row of placeholders.def reaches a value function that knows it: on three bundled
 * models (learned positions, RoPE GQA, MLA with MoE) each placeholder without an argument
 * either computes or says why not, never "is not a ... value" (a row pointing at the wrong
 * function). */
TEST(scene_placeholder_rows_reach_their_function) {
    static const char *const models[] = {"assets/models/story-gpt2", "assets/models/story-gqa", "assets/models/story-mla"};
    int n = 0, computed = 0;
    const PhSpec *tab = lesson_ph_table(&n);
    CHECK(n > 150);
    for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "%s/config.json", models[mi]);
        if (access(cfg, R_OK) != 0) SKIP("%s not found (run from the repository root)", models[mi]);
        Scene *sc = scene_new();
        REQUIRE(sc);
        Err e = {0};
        REQUIRE(scene_load_model(sc, 0, models[mi], &e) && scene_set_prompt(sc, "Once upon a time there was a cat", true, &e));
        REQUIRE(scene_step(sc, &e) && scene_select_key(sc, 0, &e));
        LessonValues v;
        lesson_values_init(&v, NULL, ".");
        v.sc = sc;
        for (int i = 0; i < n; i++) {
            if (tab[i].arg != PHA_NONE || tab[i].need == PHN_WEIGHTS) continue;
            LessonPh ph = {0};
            snprintf(ph.key, sizeof ph.key, "%s", tab[i].name);
            char out[256];
            Err e2 = {0};
            bool ok = lesson_value(&v, &ph, out, sizeof out, &e2);
            computed += ok;
            CHECK_MSG(ok || !strstr(e2.msg, "} is not"), "%s on %s: %s", tab[i].name, models[mi], e2.msg);
            CHECK_MSG(!ok || out[0], "%s on %s: empty value", tab[i].name, models[mi]);
        }
        lesson_values_done(&v);
        scene_free(sc);
    }
    CHECK_MSG(computed > 300, "only %d values computed", computed);
}

/* ---- the sampler: the model's defaults as `run` takes them, lessons greedy -------------------- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

/* Two copies of the model in dir: g, whose generation_config.json samples (T 1.5, top-k 5, top-p 0.9),
 * and b, whose fields are wrong (an integer temperature 2, a float top_k). */
static bool sampling_models(const char *dir, char *g, char *b, size_t cap) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "for d in g b; do mkdir '%s/'$d && for f in config.json model.safetensors tokenizer.json "
             "tokenizer_config.json; do ln -s \"$PWD/" MODEL "/$f\" '%s/'$d/; done; done", dir, dir);
    if (system(cmd) != 0) return false;
    snprintf(g, cap, "%s/g", dir);
    snprintf(b, cap, "%s/b", dir);
    snprintf(cmd, sizeof cmd, "%s/generation_config.json", g);
    write_file(cmd, "{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": 5, \"top_p\": 0.9}");
    snprintf(cmd, sizeof cmd, "%s/generation_config.json", b);
    write_file(cmd, "{\"do_sample\": true, \"temperature\": 2, \"top_k\": 50.0}");
    return true;
}

static bool cfg_is(SamplerCfg c, bool greedy, float t, int k, float p) {
    return c.greedy == greedy && (greedy || (c.temperature == t && c.top_k == k && c.top_p == p));
}

/* A scene following the model's defaults (the TUI's start, scene_sampler_model with `tui`'s options):
 * each model loaded into A samples as `run` would (options over its generation_config.json); wrong
 * fields leave it greedy with the reason on the status line; a sampler set by hand ends the following;
 * a lesson starts greedy whatever the TUI was given, and plays the same as on a bare scene. */
static void follow_body(TestCtx *T_, const char *dir) {
    char g[1100], b[1100];
    REQUIRE(sampling_models(dir, g, b, sizeof g));
    Err e = {0};
    Scene *sc = scene_new();
    REQUIRE(sc);
    REQUIRE(scene_load_model(sc, 0, MODEL, &e));
    CHECK(cfg_is(sampler_cfg(session_sampler(sc->ses[0])), true, 0, 0, 0) && !sc->gen_follow);   /* a bare scene: greedy */
    /* `tui --top-k 40` on story-gqa (greedy by default): the option samples, the rest transformers' defaults */
    GenOverride o = {.has_top_k = true, .top_k = 40, .seed = 3};
    REQUIRE(scene_sampler_model(sc, &o, true, &e));
    SamplerCfg c = sampler_cfg(session_sampler(sc->ses[0]));
    CHECK_MSG(cfg_is(c, false, 1, 40, 1) && c.seed == 3 && sc->gen_follow, "T %g k %d p %g", (double)c.temperature, c.top_k, (double)c.top_p);
    CHECK_MSG(strstr(sc->gen_desc, "top_k 40 (--top-k)") && strstr(sc->msg, "top_k 40"), "%s / %s", sc->gen_desc, sc->msg);
    /* another model: its file's fields, the option still over them */
    REQUIRE(scene_load_model(sc, 0, g, &e));
    c = sampler_cfg(session_sampler(sc->ses[0]));
    CHECK_MSG(cfg_is(c, false, 1.5f, 40, 0.9f), "g: greedy %d T %g k %d p %g", c.greedy, (double)c.temperature, c.top_k, (double)c.top_p);
    CHECK(cfg_is(sc->scfg, false, 1.5f, 40, 0.9f));
    /* a model whose needed fields are wrong: greedy, the status line names the problem */
    REQUIRE(scene_load_model(sc, 0, b, &e));
    CHECK(sampler_cfg(session_sampler(sc->ses[0])).greedy);
    CHECK_MSG(sc->msg_error && strstr(sc->msg, "\"temperature\" is 2") && strstr(sc->msg, "greedy (s: sampling settings)"), "%s", sc->msg);
    GenOverride none = {.seed = 42};
    CHECK(!scene_sampler_model(sc, &none, true, &e) && strstr(e.msg, "2 sampling fields") && strstr(e.msg, "--top-k replaces it"));
    CHECK(sampler_cfg(session_sampler(sc->ses[0])).greedy);
    /* by hand: kept across loads */
    SamplerCfg hand = {.greedy = false, .temperature = 0.5f, .top_k = 3, .top_p = 1, .seed = 9};
    REQUIRE(scene_set_sampler(sc, -1, hand, &e));
    CHECK(!sc->gen_follow);
    REQUIRE(scene_load_model(sc, 0, g, &e));
    CHECK(cfg_is(sampler_cfg(session_sampler(sc->ses[0])), false, 0.5f, 3, 1));
    /* following again (the s form's d): g's own defaults */
    REQUIRE(scene_sampler_model(sc, &none, true, &e));
    CHECK(cfg_is(sampler_cfg(session_sampler(sc->ses[0])), false, 1.5f, 5, 0.9f));
    /* a lesson on g (which samples by default), on this scene and on a bare one: greedy, the same tokens */
    const char *json =
        "{\"id\":\"t\",\"lang\":\"en\",\"title\":\"T\",\"summary\":\"s\",\"model\":\"g\",\"prompt\":\"" PROMPT "\","
        "\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"step\",\"n\":8}]}]}";
    Scene *bare = scene_new();
    REQUIRE(bare);
    Scene *scs[2] = {sc, bare};
    LessonPlayer *p[2];
    for (int i = 0; i < 2; i++) {
        Lesson *l = lesson_parse(json, strlen(json), "inline", &e);
        REQUIRE(l);
        p[i] = lesson_player_new(scs[i], l, dir, &e);
        REQUIRE(p[i]);
        CHECK_MSG(lesson_player_goto(p[i], 0, &e), "lesson %d: %s", i, e.msg);
        CHECK_MSG(sampler_cfg(session_sampler(scs[i]->ses[0])).greedy && !scs[i]->gen_follow, "lesson %d: not greedy", i);
    }
    const Session *x = sc->ses[0], *y = bare->ses[0];
    CHECK(session_len(x) == session_len(y) && session_len(x) > 8 && !memcmp(session_ids(x), session_ids(y), sizeof(int) * (size_t)session_len(x)));
    CHECK(same_trace_at_cursor(x, y));
    /* the lesson's greedy tokens differ from g's sampled ones (else the check above cannot fail) */
    Scene *smp = scene_new();
    REQUIRE(smp && scene_load_model(smp, 0, g, &e) && scene_sampler_model(smp, &none, true, &e) && scene_set_prompt(smp, PROMPT, true, &e));
    for (int i = 0; i < 8; i++) REQUIRE(scene_step(smp, &e));
    CHECK(session_len(smp->ses[0]) == session_len(x) && memcmp(session_ids(smp->ses[0]), session_ids(x), sizeof(int) * (size_t)session_len(x)));
    for (int i = 0; i < 2; i++) lesson_player_free(p[i]);
    scene_free(smp);
    scene_free(bare);
    scene_free(sc);
}

TEST(scene_sampler_follows_model_defaults_lessons_greedy) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", follow_body);
}

/* Compare slot B samples with its own model's defaults while the scene follows them (as `run --model
 * B` would with the same options): its tokens are those g alone decodes with its defaults; B's wrong
 * fields leave B greedy with the reason on the status line; a sampler set by hand applies to both.
 * A lesson decodes greedily while it runs; closing it (q in its pane) brings back the model's own
 * sampling, and the status line and the header say so. */
static void own_body(TestCtx *T_, const char *dir) {
    char g[1100], b[1100];
    REQUIRE(sampling_models(dir, g, b, sizeof g));
    Err e = {0};
    GenOverride none = {.seed = 42};
    Scene *sc = scene_new(), *alone = scene_new(), *greedy = scene_new();
    REQUIRE(sc && alone && greedy);
    REQUIRE(scene_load_model(sc, 0, MODEL, &e) && scene_sampler_model(sc, &none, true, &e) && scene_set_prompt(sc, PROMPT, true, &e));
    CHECK(sampler_cfg(session_sampler(sc->ses[0])).greedy);          /* story-gqa: greedy by default */
    REQUIRE(scene_load_model(sc, 1, g, &e));
    SamplerCfg c = sampler_cfg(session_sampler(sc->ses[1]));
    CHECK_MSG(cfg_is(c, false, 1.5f, 5, 0.9f) && c.seed == 42, "B: greedy %d T %g k %d p %g", c.greedy, (double)c.temperature, c.top_k, (double)c.top_p);
    CHECK(sampler_cfg(session_sampler(sc->ses[0])).greedy);          /* A keeps its own */
    for (int i = 0; i < 8; i++) REQUIRE(scene_step(sc, &e));
    REQUIRE(scene_load_model(alone, 0, g, &e) && scene_sampler_model(alone, &none, true, &e) && scene_set_prompt(alone, PROMPT, true, &e));
    REQUIRE(scene_load_model(greedy, 0, g, &e) && scene_set_prompt(greedy, PROMPT, true, &e));
    for (int i = 0; i < 8; i++) REQUIRE(scene_step(alone, &e) && scene_step(greedy, &e));
    const Session *x = sc->ses[1], *y = alone->ses[0], *z = greedy->ses[0];
    REQUIRE(session_len(x) == session_len(y) && session_len(x) == session_len(z));
    CHECK_MSG(!memcmp(session_ids(x), session_ids(y), sizeof(int) * (size_t)session_len(x)), "B's tokens are not g's own sampled ones");
    CHECK_MSG(memcmp(session_ids(x), session_ids(z), sizeof(int) * (size_t)session_len(x)), "g samples its greedy tokens: the check cannot fail");
    /* B's wrong fields: B greedy, the status line names them */
    scene_compare_off(sc);
    REQUIRE(scene_load_model(sc, 1, b, &e));
    CHECK(sampler_cfg(session_sampler(sc->ses[1])).greedy);
    CHECK_MSG(sc->msg_error && strstr(sc->msg, "B: 2 sampling fields") && strstr(sc->msg, "greedy (s: sampling settings)"), "%s", sc->msg);
    /* by hand: both; following again: each its own */
    SamplerCfg hand = {.greedy = false, .temperature = 0.5f, .top_k = 3, .top_p = 1, .seed = 9};
    REQUIRE(scene_set_sampler(sc, -1, hand, &e));
    scene_compare_off(sc);
    REQUIRE(scene_load_model(sc, 1, g, &e));
    CHECK(cfg_is(sampler_cfg(session_sampler(sc->ses[1])), false, 0.5f, 3, 1));
    REQUIRE(scene_sampler_model(sc, &none, true, &e));
    CHECK(sampler_cfg(session_sampler(sc->ses[0])).greedy && cfg_is(sampler_cfg(session_sampler(sc->ses[1])), false, 1.5f, 5, 0.9f));
    scene_free(sc);
    scene_free(alone);
    scene_free(greedy);

    /* a lesson on g in the App: greedy while it runs; q closes it and g's sampling is back */
    static const char *const models[2] = {"g", "b"};
    for (int m = 0; m < 2; m++) {
        char path[1200], json[600];
        snprintf(path, sizeof path, "%s/t%d.json", dir, m);
        snprintf(json, sizeof json, "{\"id\":\"t\",\"lang\":\"en\",\"title\":\"T\",\"summary\":\"s\",\"model\":\"%s\",\"prompt\":\"" PROMPT "\","
                 "\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"step\",\"n\":2}]}]}", models[m]);
        write_file(path, json);
        App *a = app_new();
        REQUIRE(a);
        REQUIRE(scene_load_model(a->sc, 0, m ? b : g, &e));
        scene_sampler_model(a->sc, &none, true, &e);
        REQUIRE(lesson_ui_get(a, dir, "en"));
        REQUIRE(lesson_ui_open(a, path, 0, &e));
        CHECK(sampler_cfg(session_sampler(a->sc->ses[0])).greedy && !a->sc->gen_follow);
        lesson_ui_key(a, 'q');
        CHECK(!lesson_ui_player(a) && a->sc->gen_follow);
        c = sampler_cfg(session_sampler(a->sc->ses[0]));
        if (!m) {
            CHECK_MSG(cfg_is(c, false, 1.5f, 5, 0.9f) && c.seed == 42, "after the lesson: greedy %d T %g", c.greedy, (double)c.temperature);
            CHECK_MSG(!a->sc->msg_error && strstr(a->sc->msg, "lesson closed; the model's own sampling again: sampling with temperature 1.5"),
                      "%s", a->sc->msg);
            Canvas *cv = canvas_new(120, 30);
            REQUIRE(cv);
            app_render(a, cv);
            char *txt = canvas_to_text(cv);
            CHECK_MSG(txt && strstr(txt, "T1.5 k5 p0.9") && strstr(txt, "lesson closed"), "%.400s", txt ? txt : "");
            free(txt);
            canvas_free(cv);
        } else {
            CHECK_MSG(c.greedy && a->sc->msg_error && strstr(a->sc->msg, "lesson closed; 2 sampling fields") &&
                      strstr(a->sc->msg, "greedy (s: sampling settings)"), "%s", a->sc->msg);
        }
        app_free(a);
    }
}

TEST(scene_compare_b_own_defaults_lesson_close_restores) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", own_body);
}

/* Every view action (SceneAction.view: the UI answers it while work runs in pieces) leaves a
 * pending prefill as it was: no piece run, nothing settled. A step, which is no view action,
 * settles it (else the check could not fail). */
TEST(scene_view_actions_leave_work_pending) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    Err e = {0};
    Scene *sc = scene_new();
    REQUIRE(sc);
    sc->chunked = true;
    REQUIRE(scene_load_model(sc, 0, MODEL, &e));
    REQUIRE(scene_set_prompt(sc, PROMPT " there was a little girl named Lily. She loved to play outside.", true, &e));
    REQUIRE(scene_busy(sc));
    int n = 0, views = 0, done0 = -1, total0 = -1;
    const SceneAction *t = scene_action_table(&n);
    session_work_progress(sc->ses[0], &done0, &total0);
    REQUIRE(done0 == 0 && total0 > 8);
    for (int i = 0; i < n; i++) {
        if (!t[i].view) continue;
        views++;
        for (int arg = 0; arg < 2; arg++) {
            Err e2 = {0};
            scene_do(sc, t[i].name, t[i].fn && !strcmp(t[i].name, "panel") ? PANEL_KV - arg : arg, &e2);
            int done = -1, total = -1;
            session_work_progress(sc->ses[0], &done, &total);
            CHECK_MSG(scene_busy(sc) && done == done0 && total == total0 && session_cursor(sc->ses[0]) < 0,
                      "view action %s (arg %d): the prefill moved (%d/%d, busy %d)", t[i].name, arg, done, total, scene_busy(sc));
        }
    }
    CHECK_MSG(views >= 30, "%d view actions", views);
    CHECK(scene_do(sc, "step", 0, &e) && !scene_busy(sc));
    scene_free(sc);
}

/* Compare mode's header names each side's sampler when either side samples: B samples with its own
 * model's defaults, and the header showed A's alone, in its right part ("T1.5 k5 p0.9 │ decode"),
 * so a greedy A beside a sampling B read as nothing sampled. g's generation_config.json (T 1.5,
 * top-k 5, top-p 0.9) on either side, story-gqa greedy on the other: from 80 columns to 200, in
 * English, Chinese and ASCII, both names with their sampler ("A: story-gqa (greedy)  B: g (T1.5 k5
 * p0.9)"); from 60 columns the names whole and the position shown, nothing cut. With long names
 * the samplers go before a name is cut, "(greedy)" first (a side without one decodes greedily, as
 * alone): a greedy side's tag never shows without the sampling side's, and a tag is never cut. */
static char *header_row(App *a, int w, int mode) {
    i18n_set_lang(mode == 1 ? LANG_ZH : LANG_EN);
    Canvas *c = canvas_new(w, 24);
    if (!c) return NULL;
    c->unicode = mode < 2;
    app_render(a, c);
    char *t = canvas_to_text(c);
    canvas_free(c);
    i18n_set_lang(LANG_EN);
    if (t) t[strcspn(t, "\n")] = 0;
    return t;
}

static void header_body(TestCtx *T_, const char *dir) {
    char g[1100], b[1100], cmd[3400];
    REQUIRE(sampling_models(dir, g, b, sizeof g));
    snprintf(cmd, sizeof cmd, "ln -s '%s' '%s/a-rather-long-sampling-model' && ln -s \"$PWD/" MODEL "\" '%s/b-rather-long-greedy-model'", g, dir, dir);
    REQUIRE(system(cmd) == 0);
    char la[1200], lb[1200];
    snprintf(la, sizeof la, "%s/a-rather-long-sampling-model", dir);
    snprintf(lb, sizeof lb, "%s/b-rather-long-greedy-model", dir);
    const struct { const char *a, *b, *an, *bn; bool a_samples, whole; } cases[] = {
        {MODEL, g, "story-gqa", "g", false, true},
        {g, MODEL, "g", "story-gqa", true, true},
        {lb, la, "b-rather-long-greedy-model", "a-rather-long-sampling-model", false, false},
    };
    GenOverride none = {.seed = 42};
    int seen = 0, tagged_narrow = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Err e = {0};
        App *a = app_new();
        REQUIRE(a);
        a->hint = false;
        REQUIRE(scene_load_model(a->sc, 0, cases[k].a, &e) && scene_sampler_model(a->sc, &none, true, &e));
        REQUIRE(scene_set_prompt(a->sc, PROMPT, true, &e) && scene_load_model(a->sc, 1, cases[k].b, &e));
        for (int i = 0; i < 3; i++) REQUIRE(scene_step(a->sc, &e));
        REQUIRE(sampler_cfg(session_sampler(a->sc->ses[!cases[k].a_samples])).greedy == false);
        REQUIRE(sampler_cfg(session_sampler(a->sc->ses[cases[k].a_samples])).greedy);
        for (int w = 60; w <= 200; w += 2)
            for (int mode = 0; mode < 3; mode++) {
                char *row = header_row(a, w, mode);
                REQUIRE(row);
                const char *lang = mode == 1 ? "zh" : mode ? "ascii" : "en";
                char smp[300], grd[300];
                const char *gword = mode == 1 ? "\xef\xbc\x88\xe8\xb4\xaa\xe5\xbf\x83\xef\xbc\x89" : " (greedy)";   /* （贪心） */
                snprintf(smp, sizeof smp, "%s: %s (T1.5 k5 p0.9)", cases[k].a_samples ? "A" : "B", cases[k].a_samples ? cases[k].an : cases[k].bn);
                snprintf(grd, sizeof grd, "%s: %s%s", cases[k].a_samples ? "B" : "A", cases[k].a_samples ? cases[k].bn : cases[k].an, gword);
                const bool has_s = strstr(row, smp) != NULL, has_g = strstr(row, grd) != NULL;
                if (cases[k].whole) {
                    char an[300], bn[300];
                    snprintf(an, sizeof an, "A: %s", cases[k].an);
                    snprintf(bn, sizeof bn, "B: %s", cases[k].bn);
                    CHECK_MSG(strstr(row, an) && strstr(row, bn) && !strstr(row, mode < 2 ? "\xe2\x80\xa6" : "~") && strstr(row, "7/7"),
                              "%zu %d cols (%s): a name or the position cut: \"%s\"", k, w, lang, row);
                    if (w >= 80) CHECK_MSG(has_s && has_g, "%zu %d cols (%s): want \"%s\" and \"%s\" in \"%s\"", k, w, lang, smp, grd, row);
                }
                CHECK_MSG(!has_g || has_s, "%zu %d cols (%s): (greedy) without the sampler: \"%s\"", k, w, lang, row);
                CHECK_MSG(!strstr(row, "(T1.5") || strstr(row, "(T1.5 k5 p0.9)"), "%zu %d cols (%s): the sampler cut: \"%s\"", k, w, lang, row);
                if (!cases[k].whole && has_s && !has_g) tagged_narrow++;
                seen++;
                free(row);
            }
        app_free(a);
    }
    CHECK_EQ_INT(seen, 3 * 71 * 3);
    CHECK_MSG(tagged_narrow > 0, "the long names never showed the sampler alone (the check above cannot fail)");
}

TEST(tui_compare_header_names_both_samplers) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", header_body);
}

/* Compare mode with a long model name: the names are cut only after everything else went, and
 * then the longer one is cut first, so both sides stay named. A Qwen3-0.6B-shaped checkpoint in a
 * directory with a 68-character name beside story-gqa at 80 columns read "A: Qwen3-0.6B-...-n…
 * pos 24/24": A's name took the row and B's was not drawn at all. story-gqa under a long name on
 * either side, story-mla on the other, 60 to 200 columns, en/zh/ASCII: the short name whole, the
 * long one's first 8 characters shown, an ellipsis only when it is cut, and the position. */
static void long_name_body(TestCtx *T_, const char *dir) {
    const char *longn = "a-checkpoint-in-a-directory-with-a-rather-long-name-for-the-header-row";
    char cmd[1400], lp[1200];
    snprintf(lp, sizeof lp, "%s/%s", dir, longn);
    snprintf(cmd, sizeof cmd, "ln -s \"$PWD/" MODEL "\" '%s'", lp);
    REQUIRE(system(cmd) == 0);
    int seen = 0, cut = 0;
    for (int side = 0; side < 2; side++) {
        Err e = {0};
        App *a = app_new();
        REQUIRE(a);
        a->hint = false;
        REQUIRE(scene_load_model(a->sc, 0, side ? "assets/models/story-mla" : lp, &e));
        REQUIRE(scene_set_prompt(a->sc, PROMPT, true, &e));
        REQUIRE(scene_load_model(a->sc, 1, side ? lp : "assets/models/story-mla", &e));
        for (int i = 0; i < 3; i++) REQUIRE(scene_step(a->sc, &e));
        for (int w = 60; w <= 200; w += 2)
            for (int mode = 0; mode < 3; mode++) {
                char *row = header_row(a, w, mode);
                REQUIRE(row);
                char shortn[64], longp[64], longw[200];
                snprintf(shortn, sizeof shortn, "%s: story-mla", side ? "A" : "B");
                snprintf(longp, sizeof longp, "%s: a-checkp", side ? "B" : "A");
                snprintf(longw, sizeof longw, "%s: %s", side ? "B" : "A", longn);
                const char *ell = mode < 2 ? "\xe2\x80\xa6" : "~";
                const bool whole = strstr(row, longw) != NULL;
                CHECK_MSG(strstr(row, shortn) && strstr(row, longp) && strstr(row, "7/7"),
                          "side %d %d cols (mode %d): want \"%s\", \"%s\" and the position in \"%s\"", side, w, mode, shortn, longp, row);
                CHECK_MSG(whole != (strstr(row, ell) != NULL), "side %d %d cols (mode %d): the long name %s but %s ellipsis: \"%s\"",
                          side, w, mode, whole ? "whole" : "cut", whole ? "an" : "no", row);
                cut += !whole;
                seen++;
                free(row);
            }
        app_free(a);
    }
    CHECK_EQ_INT(seen, 2 * 71 * 3);
    CHECK_MSG(cut > 100, "the long name was cut at only %d widths", cut);
}

TEST(tui_compare_header_long_name_keeps_both) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", long_name_body);
}

/* The prompt editor with a long prompt holding a line break (a --prompt-file's text ends with
 * one): the break shows as the token strip shows it (↵; it was the replacement glyph), the text
 * after the cursor ends at the box (with the cursor at Home it ran over the box's right border
 * and the panel's), and at the end the line shows the text's last w - 2 columns before the cursor
 * (72 columns inside the box at 80: the last 70 characters, not 71). */
static char *screen_text(App *a, int w, int h) {
    Canvas *c = canvas_new(w, h);
    if (!c) return NULL;
    c->unicode = true;
    app_render(a, c);
    char *t = canvas_to_text(c);
    canvas_free(c);
    return t;
}

static int count_of(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

TEST(tui_prompt_editor_long_text_with_a_line_break) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    Err e = {0};
    App *a = app_new();
    REQUIRE(a);
    a->hint = false;
    REQUIRE(scene_load_model(a->sc, 0, MODEL, &e) && scene_set_prompt(a->sc, PROMPT, true, &e));
    char text[4000] = "Once upon\na time";
    for (int i = 0; i < 100; i++) strcat(text, i % 2 ? " there was a girl" : " who liked to read");
    app_open_overlay(a, OV_PROMPT);
    lineedit_set(&a->edit, text);
    lineedit_key(&a->edit, TK_HOME);
    char *t = screen_text(a, 80, 24);
    REQUIRE(t);
    char *row = strstr(t, "Once upon\xe2\x86\xb5" "a time");
    CHECK_MSG(row != NULL, "no row shows \"Once upon\xe2\x86\xb5" "a time\":\n%s", t);
    if (row) {
        while (row > t && row[-1] != '\n') row--;
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(row, "\n"), row);
        CHECK_MSG(!strstr(line, "\xef\xbf\xbd"), "a replacement glyph: \"%s\"", line);
        CHECK_MSG(count_of(line, "\xe2\x94\x82") == 4, "the panel's and the box's borders, 4 in all: \"%s\"", line);
    }
    free(t);
    lineedit_key(&a->edit, TK_END);
    t = screen_text(a, 80, 24);
    REQUIRE(t);
    const size_t n = strlen(text);
    char last70[80], last71[80];
    snprintf(last70, sizeof last70, "%s ", text + n - 70);
    snprintf(last71, sizeof last71, "%s", text + n - 71);
    CHECK_MSG(strstr(t, last70) && !strstr(t, last71), "want \"%s\" (not one character more) in:\n%s", last70, t);
    free(t);
    app_free(a);
}

/* The row of text t that holds what, copied into out ("" when none). */
static void row_of(const char *t, const char *what, char *out, size_t cap) {
    out[0] = 0;
    const char *row = t ? strstr(t, what) : NULL;
    if (!row) return;
    while (row > t && row[-1] != '\n') row--;
    snprintf(out, cap, "%.*s", (int)strcspn(row, "\n"), row);
}

/* The prompt editor (F2, e) scrolls a long prompt in one line: text out of view on either side
 * was not marked, so nothing said that there was more before or after what was shown. Now "…"
 * (ASCII '<' '>') stands beside the line on the side where there is more: at Home on the right
 * only, at End on the left only, in the middle on both; the texts editor (E) the same. */
TEST(tui_prompt_editor_marks_text_out_of_view) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    Err e = {0};
    App *a = app_new();
    REQUIRE(a);
    a->hint = false;
    REQUIRE(scene_load_model(a->sc, 0, MODEL, &e) && scene_set_prompt(a->sc, PROMPT, true, &e));
    char text[2000] = "Once upon a time";
    for (int i = 0; i < 20; i++) strcat(text, i % 2 ? " there was a girl" : " who liked to read");
    strcat(text, " The End");
    const char *ell = "\xe2\x80\xa6";
    for (int texts = 0; texts < 2; texts++) {
        app_open_overlay(a, texts ? OV_TEXTS : OV_PROMPT);
        lineedit_set(&a->edit, text);
        /* Home: the start shown, more after it */
        lineedit_key(&a->edit, TK_HOME);
        char *t = screen_text(a, 80, 24);
        char row[1024];
        row_of(t, "a time who liked", row, sizeof row);     /* the texts editor's first line is the prompt */
        CHECK_MSG(row[0] && count_of(row, ell) == 1 && strstr(row, ell) > strstr(row, "Once"), "%s at Home: want one \"…\" after the text:\n%s",
                  texts ? "texts" : "prompt", t);
        free(t);
        /* End: the end shown, more before it */
        lineedit_key(&a->edit, TK_END);
        t = screen_text(a, 80, 24);
        row_of(t, "The End", row, sizeof row);
        CHECK_MSG(row[0] && count_of(row, ell) == 1 && strstr(row, ell) < strstr(row, "The End"), "%s at End: want one \"…\" before the text:\n%s",
                  texts ? "texts" : "prompt", t);
        free(t);
        /* the middle: both */
        for (int i = 0; i < 150; i++) lineedit_key(&a->edit, TK_LEFT);
        t = screen_text(a, 80, 24);
        row_of(t, "there was a girl", row, sizeof row);
        CHECK_MSG(row[0] && count_of(row, ell) == 2, "%s in the middle: want \"…\" on both sides:\n%s", texts ? "texts" : "prompt", t);
        free(t);
        /* ASCII: '<' and '>' beside the line */
        Canvas *c = canvas_new(80, 24);
        REQUIRE(c);
        c->unicode = false;
        app_render(a, c);
        t = canvas_to_text(c);
        row_of(t, "there was a girl", row, sizeof row);
        const char *lt = strstr(row, "<"), *gt = strrchr(row, '>'), *mid = strstr(row, "there was a girl");
        CHECK_MSG(lt && gt && mid && lt < mid && gt > mid, "%s in ASCII: want '<' and '>' beside the line:\n%s", texts ? "texts" : "prompt", t);
        free(t);
        canvas_free(c);
        /* a short text: no mark */
        lineedit_set(&a->edit, "Once upon a day");
        t = screen_text(a, 80, 24);
        row_of(t, "Once upon a day", row, sizeof row);
        CHECK_MSG(row[0] && !strstr(row, ell), "%s: a short text marked:\n%s", texts ? "texts" : "prompt", t);
        free(t);
        a->overlay = OV_NONE;
    }
    app_free(a);
}

/* The model menu (F3, F6) is as wide as its longest name allows: at 80 columns a checkpoint in a
 * directory with a 68-character name read "Qwen3-0.6B-random-bf16-checkpoint-with-a-rather-long-d…"
 * in a 60-column box with 16 columns of screen to spare. A 70-character name added as the user's
 * model beside the bundled ones: whole at 80 and 120 columns, cut with an ellipsis at 70. */
static void menu_body(TestCtx *T_, const char *dir) {
    const char *longn = "a-checkpoint-in-a-directory-with-a-rather-long-name-for-the-model-menu";
    char cmd[1400], lp[1200];
    snprintf(lp, sizeof lp, "%s/%s", dir, longn);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && ln -s \"$PWD/" MODEL "\"/* '%s'", lp, lp);   /* a directory of its own */
    REQUIRE(system(cmd) == 0);
    Err e = {0};
    App *a = app_new();
    REQUIRE(a);
    a->hint = false;
    REQUIRE(scene_load_model(a->sc, 0, MODEL, &e) && scene_set_prompt(a->sc, PROMPT, true, &e));
    app_scan_models(a, "assets/models");
    app_add_model(a, lp);
    app_open_overlay(a, OV_MODEL);
    const int widths[] = {80, 120, 70};
    for (int i = 0; i < 3; i++) {
        char *t = screen_text(a, widths[i], 24);
        REQUIRE(t);
        const bool whole = strstr(t, longn) != NULL;
        CHECK_MSG(whole == (widths[i] >= 80) && strstr(t, "story-mla"), "%d columns: the long name %s:\n%s", widths[i], whole ? "whole" : "cut", t);
        if (widths[i] < 80) CHECK_MSG(strstr(t, "a-checkpoint-in-a-directory-with-a-rather-long-name-f"), "70 columns: too little of the name:\n%s", t);
        free(t);
    }
    app_free(a);
}

TEST(tui_model_menu_fits_a_long_name) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", menu_body);
}

/* The model menu's "*" marks the model loaded, and only it: the mark was given to every entry whose
 * name occurs in the loaded model's path, so with story-gqa loaded a story-gqa2 beside it was
 * marked too (and with story-gqa2 loaded, story-gqa). Two directories story-gqa and story-gqa2, each
 * loaded in turn (and the first through another spelling of its path: same directory, marked). */
static void menu_mark_body(TestCtx *T_, const char *dir) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/m/story-gqa' '%s/m/story-gqa2' && ln -s \"$PWD/" MODEL "\"/* '%s/m/story-gqa' && "
             "ln -s \"$PWD/" MODEL "\"/* '%s/m/story-gqa2'", dir, dir, dir, dir);
    REQUIRE(system(cmd) == 0);
    char models[1100], paths[3][1200];
    snprintf(models, sizeof models, "%s/m", dir);
    snprintf(paths[0], sizeof paths[0], "%s/m/story-gqa", dir);
    snprintf(paths[1], sizeof paths[1], "%s/m/story-gqa2", dir);
    snprintf(paths[2], sizeof paths[2], "%s/m/./story-gqa/", dir);
    for (int k = 0; k < 3; k++) {
        Err e = {0};
        App *a = app_new();
        REQUIRE(a);
        a->hint = false;
        REQUIRE(scene_load_model(a->sc, 0, paths[k], &e));
        app_scan_models(a, models);
        REQUIRE(a->n_models == 2);
        app_open_overlay(a, OV_MODEL);
        char *t = screen_text(a, 100, 24);
        REQUIRE(t);
        const bool two = k == 1;   /* story-gqa2 loaded */
        CHECK_MSG((strstr(t, "* story-gqa ") != NULL) == !two, "%s loaded: story-gqa %smarked:\n%s", paths[k], two ? "" : "not ", t);
        CHECK_MSG((strstr(t, "* story-gqa2") != NULL) == two, "%s loaded: story-gqa2 %smarked:\n%s", paths[k], two ? "not " : "", t);
        free(t);
        app_free(a);
    }
}

TEST(tui_model_menu_marks_only_the_loaded_model) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", menu_mark_body);
}

/* The compare header uses the room it has: the right part ("decode │ pos 7/7 │ embed") lost its
 * stage and phase against the names with their samplers, and kept "pos 7/7" when the samplers went
 * after it, and it counted two blanks the line does not draw: story-gqa beside g at 61 columns read
 * "A: story-gqa (greedy)  B: g (T1.5 k5 p0.9)          pos 7/7", ten blanks where "decode │ " fits.
 * For the three pairs of header_body, 60-110 columns, English, Chinese and ASCII: the blanks before
 * the right part leave no room for what is missing, each piece on its own with the one blank kept
 * before the right part: the phase (with its bar), else the stage; "llmscope" (10 columns with its
 * blanks) when the right part is whole; "(greedy)" when the sampler shows alone; the sampler when
 * neither does. */
static void room_body(TestCtx *T_, const char *dir) {
    char g[1100], b[1100], cmd[3400];
    REQUIRE(sampling_models(dir, g, b, sizeof g));
    snprintf(cmd, sizeof cmd, "ln -s '%s' '%s/a-rather-long-sampling-model' && ln -s \"$PWD/" MODEL "\" '%s/b-rather-long-greedy-model'", g, dir, dir);
    REQUIRE(system(cmd) == 0);
    char la[1200], lb[1200];
    snprintf(la, sizeof la, "%s/a-rather-long-sampling-model", dir);
    snprintf(lb, sizeof lb, "%s/b-rather-long-greedy-model", dir);
    const char *pairs[3][2] = {{MODEL, g}, {g, MODEL}, {lb, la}};
    GenOverride none = {.seed = 42};
    int seen = 0, shortened = 0, untagged = 0;
    for (int k = 0; k < 3; k++) {
        Err e = {0};
        App *a = app_new();
        REQUIRE(a);
        a->hint = false;
        REQUIRE(scene_load_model(a->sc, 0, pairs[k][0], &e) && scene_sampler_model(a->sc, &none, true, &e));
        REQUIRE(scene_set_prompt(a->sc, PROMPT, true, &e) && scene_load_model(a->sc, 1, pairs[k][1], &e));
        for (int i = 0; i < 3; i++) REQUIRE(scene_step(a->sc, &e));
        for (int w = 60; w <= 110; w++)
            for (int mode = 0; mode < 3; mode++) {
                const bool u = mode < 2;
                const char *bar = u ? " \xe2\x94\x82 " : " | ";
                const char *phase = mode == 1 ? "\xe8\xa7\xa3\xe7\xa0\x81" : "decode";   /* 解码 */
                const char *stage = mode == 1 ? "\xe5\xb5\x8c\xe5\x85\xa5" : "embed";   /* 嵌入 */
                const char *pos = mode == 1 ? "\xe4\xbd\x8d\xe7\xbd\xae 7/7" : "pos 7/7";   /* 位置 */
                const char *greedy = mode == 1 ? "\xef\xbc\x88\xe8\xb4\xaa\xe5\xbf\x83\xef\xbc\x89" : " (greedy)";
                const char *lang = mode == 1 ? "zh" : mode ? "ascii" : "en";
                char *row = header_row(a, w, mode);
                REQUIRE(row);
                char ph[64], st[64];
                snprintf(ph, sizeof ph, "%s%s", phase, bar);
                snprintf(st, sizeof st, "%s%s", bar, stage);
                char *at = strstr(row, pos);
                CHECK_MSG(at != NULL, "%d cols (%s): no position in \"%s\"", w, lang, row);
                if (!at) { free(row); continue; }
                const size_t pl = strlen(ph);
                const bool has_phase = (size_t)(at - row) >= pl && !strncmp(at - pl, ph, pl);
                const bool has_stage = strstr(at, st) != NULL;
                char *start = has_phase ? at - pl : at;
                int gap = 0;
                while (start - gap > row && start[-gap - 1] == ' ') gap++;
                const int room = gap - 1;                  /* one blank stays before the right part */
                if (!has_phase) CHECK_MSG(room < text_width(ph, u), "%d cols (%s): \"%s\" fits in \"%s\"", w, lang, ph, row);
                else if (!has_stage) CHECK_MSG(room < text_width(st, u), "%d cols (%s): \"%s\" fits in \"%s\"", w, lang, st, row);
                else if (strncmp(row, " llmscope", 9)) CHECK_MSG(room < 10, "%d cols (%s): \"llmscope\" fits in \"%s\"", w, lang, row);
                const bool has_s = strstr(row, "(T1.5 k5 p0.9)") != NULL, has_g = strstr(row, greedy) != NULL;
                if (has_s && !has_g) CHECK_MSG(room < text_width(greedy, u), "%d cols (%s): \"%s\" fits in \"%s\"", w, lang, greedy, row);
                if (!has_s) CHECK_MSG(room < text_width(" (T1.5 k5 p0.9)", u), "%d cols (%s): the sampler fits in \"%s\"", w, lang, row);
                shortened += !has_stage;
                untagged += !has_s;
                seen++;
                free(row);
            }
        app_free(a);
    }
    CHECK_EQ_INT(seen, 3 * 51 * 3);
    CHECK_MSG(shortened > 0 && untagged > 0, "the right part never shortened (%d) or no sampler dropped (%d): the checks above cannot fail", shortened, untagged);
}

TEST(tui_compare_header_uses_its_room) {
    if (access(MODEL "/config.json", R_OK) != 0) SKIP(MODEL " not found (run from the repository root)");
    test_in_tmpdir(T_, "scene", room_body);
}
