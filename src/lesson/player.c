/* The lesson player: a client of the scene. Every lesson action is a named scene action
 * (scene/scene.h), the same ones the TUI's keys reach through the keymap, so a lesson plays
 * headless (tests, `lesson --check`) exactly as in class. Going back replays from the
 * lesson's start so a step always shows the same screen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"
#include "scene/keys.h"
#include "scene/scene.h"

LessonPlayer *lesson_player_new(Scene *sc, Lesson *l, const char *root, Err *e) {
    LessonPlayer *p = calloc(1, sizeof *p);
    if (!p) { lesson_free(l); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    p->lesson = l;
    p->sc = sc;
    p->step = -1;
    snprintf(p->root, sizeof p->root, "%s", root ? root : ".");
    lesson_values_init(&p->vals, l, p->root);
    return p;
}

void lesson_player_free(LessonPlayer *p) {
    if (!p) return;
    lesson_values_done(&p->vals);
    lesson_free(p->lesson);
    free(p);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static bool resolve_pos(int pos, int len, int *out, Err *e) {
    int p = pos == LESSON_LAST ? len - 1 : pos < 0 ? len + pos : pos;
    if (len <= 0) return err_set(e, ERR_ARG, "no token has been computed yet (add a \"step\" first)");
    if (p < 0 || p >= len) return err_set(e, ERR_ARG, "position %d is outside the %d computed tokens (0..%d)", pos == LESSON_LAST ? -1 : pos, len, len - 1);
    *out = p;
    return true;
}

static bool resolve_layer(const Session *s, int layer, int *out, Err *e) {
    int L = session_model(s)->spec.n_layers;
    int l = layer == LESSON_LAST ? L - 1 : layer;
    if (l < 0 || l >= L) return err_set(e, ERR_ARG, "layer %d does not exist: %s has %d layers (0..%d)", layer, session_model_path(s), L, L - 1);
    *out = l;
    return true;
}

static bool resolve_head(const Session *s, int head, int *out, Err *e) {
    int H = session_model(s)->spec.n_heads;
    int h = head == LESSON_LAST ? H - 1 : head;
    if (h < 0 || h >= H) return err_set(e, ERR_ARG, "head %d does not exist: %s has %d query heads per layer (0..%d)", head, session_model_path(s), H, H - 1);
    *out = h;
    return true;
}

static bool model_path(LessonPlayer *p, const char *model, char *path, size_t cap, Err *e) {
    lesson_path(p->root, model, path, cap);
    if (file_exists(path) || dir_exists(path)) return true;
    return err_set(e, ERR_IO, "model %s not found (%s)%s", model, path,
                   strstr(model, "assets/models/story-") ? "; the bundled story models are written by assets/models/train/train.py" : "");
}

static bool do_load(LessonPlayer *p, const char *model, int slot, Err *e) {
    char path[2048];
    if (!model_path(p, model, path, sizeof path, e)) return false;
    Err e2 = {0};
    /* a lesson's next action needs the model: in the TUI the load runs on a worker, wait for it */
    if (!scene_load_model(p->sc, slot, path, &e2) || !scene_settle(p->sc, &e2)) return err_set(e, e2.code ? e2.code : ERR_IO, "cannot load %s: %s", model, e2.msg);
    return true;
}


/* Keys go through the scene's keymap (the rows a panel binds), never into the App, and never
 * cancel the work of a worker thread (scene_key_scripted). */
static bool do_keys(LessonPlayer *p, const char *keys, Err *e) {
    Scene *sc = p->sc;
    for (const char *k = keys; *k;) {
        int key;
        const char *at = k;
        k += scene_parse_key(k, &key);
        if (key < 0) return err_set(e, ERR_ARG, "keys: cannot read the key at \"%.12s\"", at);
        if (key == 'q' || key == TK_F10 || key == TK_CTRL('c'))
            return err_set(e, ERR_ARG, "keys: \"%.*s\" would quit; a lesson may not send it", (int)(k - at), at);
        Err e2 = {0};
        if (!scene_key_scripted(sc, key, &e2))
            return err_set(e, ERR_ARG, "keys: \"%.*s\" did nothing on the %s panel (%s)", (int)(k - at), at, scene_panel_name(sc->panel), e2.msg);
    }
    return true;
}

static bool fwd(Err *e, Err *e2) { return err_set(e, e2->code ? e2->code : ERR_ARG, "%s", e2->msg); }

/* ---- actions ----------------------------------------------------------------------------- */

bool lesson_player_apply(LessonPlayer *p, const LessonAction *ac, Err *e) {
    Scene *sc = p->sc;
    Session *s0 = sc->ses[0];
    if (ac->kind != LA_LOAD && !s0) return err_set(e, ERR_ARG, "no model loaded");
    int tmp = 0;
    Err e2 = {0};
    /* In the TUI a prompt (the lesson's own at its start, or a prompt action) only starts its
     * prefill, run in pieces between frames; an action after it reads the tokens (a token, a
     * key, a stage, a step...), so it waits for the end, as a load is waited for. A step of a
     * prompt and a panel alone still shows the prefill running. */
    if (ac->kind != LA_LOAD && ac->kind != LA_PROMPT && ac->kind != LA_PANEL && ac->kind != LA_SIDE &&
        ac->kind != LA_TEXTS && scene_busy(sc) && !scene_settle(sc, &e2)) return fwd(e, &e2);
    switch (ac->kind) {
    case LA_LOAD:
        return do_load(p, ac->str, ac->slot, e);
    case LA_PROMPT:
        if (!scene_set_prompt(sc, ac->str, ac->prefill, &e2)) return fwd(e, &e2);
        snprintf(p->prompt, sizeof p->prompt, "%s", ac->str);
        return true;
    case LA_STEP:
        for (int k = 0; k < ac->n; k++)
            if (!scene_step(sc, &e2)) return err_set(e, ERR_ARG, "step %d of %d: %s", k + 1, ac->n, e2.msg);
        return true;
    case LA_BACK:
        for (int k = 0; k < ac->n; k++)
            if (!scene_step_back(sc, &e2)) return err_set(e, ERR_ARG, "cannot go back %d tokens from position %d", ac->n, session_cursor(s0) + k);
        return true;
    case LA_TOKEN:
        if (!resolve_pos(ac->pos, session_len(s0), &tmp, e)) return err_prefix(e, "token");
        return scene_goto(sc, 0, tmp, &e2) || fwd(e, &e2);
    case LA_KEY:
        if (ac->off) { scene_key_off(sc, &e2); return true; }
        if (!resolve_pos(ac->pos, session_cursor(s0) + 1, &tmp, e)) return err_prefix(e, "key (keys run from 0 to the cursor %d)", session_cursor(s0));
        return scene_select_key(sc, tmp, &e2) || fwd(e, &e2);
    case LA_HIGHLIGHT:
        if (ac->layer != LESSON_UNSET) { if (!resolve_layer(s0, ac->layer, &tmp, e) || !scene_select_layer(sc, tmp, &e2)) return e->code ? false : fwd(e, &e2); }
        if (ac->head != LESSON_UNSET) { if (!resolve_head(s0, ac->head, &tmp, e) || !scene_select_head(sc, tmp, &e2)) return e->code ? false : fwd(e, &e2); }
        if (ac->pos != LESSON_UNSET) {
            if (!resolve_pos(ac->pos, session_len(s0), &tmp, e)) return err_prefix(e, "highlight token");
            if (!scene_goto(sc, 0, tmp, &e2)) return fwd(e, &e2);
        }
        if (ac->key != LESSON_UNSET) {
            if (!resolve_pos(ac->key, session_cursor(s0) + 1, &tmp, e)) return err_prefix(e, "highlight key (keys run from 0 to the query %d)", session_cursor(s0));
            if (!scene_select_key(sc, tmp, &e2)) return fwd(e, &e2);
        }
        p->hl_on = true;
        p->hl_token = session_cursor(s0);
        p->hl_key = ac->key != LESSON_UNSET ? sc->sel.key : -1;
        p->hl_layer = scene_sel(sc, 0).layer;
        p->hl_head = scene_sel(sc, 0).head;
        return true;
    case LA_STAGE:
        tmp = -1;
        if (ac->layer != LESSON_UNSET && !resolve_layer(s0, ac->layer, &tmp, e)) return false;
        return scene_set_stage(sc, (Stage)ac->stage, tmp, &e2) || fwd(e, &e2);
    case LA_STEP_INTO: {
        int dir = ac->n > 0 ? 1 : -1, n = ac->n > 0 ? ac->n : -ac->n;
        for (int k = 0; k < n; k++)
            if (!scene_step_into(sc, dir, &e2))
                return err_set(e, ERR_ARG, "cannot step %s a stage (%d of %d): %s", dir > 0 ? "into the next" : "back", k + 1, n, e2.msg);
        return true;
    }
    case LA_PANEL:
    case LA_SIDE:
        if (ac->kind == LA_SIDE && ac->off) return scene_show_side(sc, -1, &e2);
        tmp = scene_panel_find(ac->str);
        if (tmp < 0) return err_set(e, ERR_ARG, "unknown panel \"%s\" (%s)", ac->str, scene_panel_names());
        return (ac->kind == LA_PANEL ? scene_show_panel(sc, tmp, &e2) : scene_show_side(sc, tmp, &e2)) || fwd(e, &e2);
    case LA_LAYER:
        if (!resolve_layer(s0, ac->layer, &tmp, e)) return false;
        return scene_select_layer(sc, tmp, &e2) || fwd(e, &e2);
    case LA_HEAD:
        if (!resolve_head(s0, ac->head, &tmp, e)) return false;
        return scene_select_head(sc, tmp, &e2) || fwd(e, &e2);
    case LA_COMPARE:
        if (ac->off) { scene_compare_off(sc); return true; }
        return do_load(p, ac->str, 1, e);
    case LA_ABLATE: {
        if (ac->slot == 1 && sc->n_ses < 2) return err_set(e, ERR_ARG, "slot B: compare mode is off");
        const Session *s = sc->ses[ac->slot == 1 ? 1 : 0];
        int l = -1, h = -1;
        if (!ac->off && (!resolve_layer(s, ac->layer, &l, e) || !resolve_head(s, ac->head, &h, e))) return false;
        return scene_set_ablation(sc, ac->slot, l, h, &e2) || fwd(e, &e2);
    }
    case LA_SAMPLER:
        return scene_set_sampler(sc, ac->slot, gen_override_cfg(ac->sampler, &sc->lesson_opts), &e2) || fwd(e, &e2);
    case LA_KEYS:
        return do_keys(p, ac->str, e);
    case LA_TEXTS: {
        static char buf[SIM_TEXTS_MAX][SIM_TEXT_CAP];
        const char *v[SIM_TEXTS_MAX];
        int n = 0;
        for (const char *q = ac->str; q && n < SIM_TEXTS_MAX; n++) {
            const char *nl = strchr(q, '\n');
            size_t len = nl ? (size_t)(nl - q) : strlen(q);
            if (len >= SIM_TEXT_CAP) len = SIM_TEXT_CAP - 1;
            memcpy(buf[n], q, len);
            buf[n][len] = 0;
            v[n] = buf[n];
            q = nl ? nl + 1 : NULL;
        }
        return scene_set_texts(sc, v, n, &e2) || fwd(e, &e2);
    }
    default:
        return err_set(e, ERR_ARG, "unknown action");
    }
}

/* ---- steps --------------------------------------------------------------------------------- */

/* A fresh scene (defaults, no compare session), the lesson's model, its prompt prefilled. */
static bool start(LessonPlayer *p, Err *e) {
    const Lesson *l = p->lesson;
    scene_reset(p->sc);
    p->sc->scfg = gen_override_cfg(p->sc->scfg, &p->sc->lesson_opts);   /* greedy, seed 42, unless `lesson` was given options */
    scene_set_session(p->sc, 0, NULL, false);
    snprintf(p->prompt, sizeof p->prompt, "%s", l->prompt);
    p->hl_on = false;
    p->revealed = false;
    p->pred_done = false;
    p->pred_given[0] = 0;
    p->step = -1;
    Err e2 = {0};
    if (!do_load(p, l->model, 0, &e2)) return err_set(e, e2.code ? e2.code : ERR_IO, "%s: model: %s", l->file, e2.msg);
    if (!scene_set_prompt(p->sc, p->prompt, true, &e2))
        return err_set(e, ERR_ARG, "%s: %s with prompt \"%.60s\": %s", l->file, l->model, p->prompt, e2.msg);
    p->sc->msg[0] = 0;
    return true;
}

static bool play_step(LessonPlayer *p, int k, Err *e) {
    const Lesson *l = p->lesson;
    const LessonStep *st = &l->steps[k];
    p->hl_on = false;
    p->revealed = false;
    p->pred_done = false;
    p->pred_given[0] = 0;
    for (int i = 0; i < st->n_actions; i++) {
        Err e2 = {0};
        if (!lesson_player_apply(p, &st->actions[i], &e2)) {
            p->step = k;   /* what was applied so far stays on screen */
            return err_set(e, e2.code ? e2.code : ERR_ARG, "%s: step %d/%d%s%s%s: action %d (%s): %s", l->file, k + 1, l->n_steps,
                           st->title ? " \"" : "", st->title ? st->title : "", st->title ? "\"" : "", i + 1,
                           lesson_action_name(st->actions[i].kind), e2.msg);
        }
    }
    p->step = k;
    p->sc->msg[0] = 0;           /* the lesson pane speaks for the lesson; the status line stays quiet */
    p->sc->msg_error = false;
    return true;
}

bool lesson_player_goto(LessonPlayer *p, int k, Err *e) {
    const Lesson *l = p->lesson;
    if (k < 0 || k >= l->n_steps) return err_set(e, ERR_ARG, "%s: no step %d (the lesson has %d)", l->file, k + 1, l->n_steps);
    if (k <= p->step || p->step < 0 || !p->sc->ses[0]) {
        if (!start(p, e)) return false;
    }
    while (p->step < k)
        if (!play_step(p, p->step + 1, e)) return false;
    return true;
}

bool lesson_player_predict(LessonPlayer *p, const char *given, Err *e) {
    const LessonStep *st = p->step >= 0 ? &p->lesson->steps[p->step] : NULL;
    if (!st || st->predict.kind == LP_NONE) return err_set(e, ERR_ARG, "this step asks for no prediction");
    Err e2 = {0};
    char *live = lesson_player_expand(p, st->predict.value, false, &e2);
    if (!live) return err_set(e, ERR_MEMORY, "out of memory");
    if (e2.code) { free(live); return err_set(e, e2.code, "%s: step %d: predict.value: %s", p->lesson->file, p->step + 1, e2.msg); }
    LessonScore sc;
    bool ok = lesson_predict_score(&st->predict, live, given, !strcmp(p->lesson->lang, "zh"), &sc, e);
    free(live);
    if (!ok) return false;
    p->pred_score = sc;
    p->pred_done = true;
    snprintf(p->pred_given, sizeof p->pred_given, "%s", given);
    return true;
}

char *lesson_player_expand(LessonPlayer *p, const char *tpl, bool marks, Err *e) {
    p->vals.sc = p->sc;
    return lesson_expand(&p->vals, tpl, marks, e);
}
