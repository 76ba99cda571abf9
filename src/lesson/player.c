/* The lesson player: applies a lesson's actions to an App through the Session API and the
 * App's public fields (the same things keys do), headless or inside the TUI. Going back
 * replays from the lesson's start so a step always shows the same screen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"
#include "session/session.h"
#include "tui/app.h"

LessonPlayer *lesson_player_new(App *a, Lesson *l, const char *root, Err *e) {
    LessonPlayer *p = calloc(1, sizeof *p);
    if (!p) { lesson_free(l); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    p->lesson = l;
    p->app = a;
    p->step = -1;
    snprintf(p->root, sizeof p->root, "%s", root ? root : ".");
    lesson_values_init(&p->vals, l, p->root);
    p->max_ctx = a && a->max_ctx > 0 ? a->max_ctx : 0;
    return p;
}

void lesson_player_free(LessonPlayer *p) {
    if (!p) return;
    lesson_values_done(&p->vals);
    lesson_free(p->lesson);
    free(p);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void panel_names(char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < PANEL_COUNT && o + 2 < cap; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        if (pc) o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? " " : "", pc->name);
    }
}

static bool resolve_pos(int pos, int len, int *out, Err *e) {
    int p = pos == LESSON_LAST ? len - 1 : pos < 0 ? len + pos : pos;
    if (len <= 0) return err_set(e, ERR_ARG, "no token has been computed yet (add a \"step\" first)");
    if (p < 0 || p >= len) return err_set(e, ERR_ARG, "position %d is outside the %d computed tokens (0..%d)", pos == LESSON_LAST ? -1 : pos, len, len - 1);
    *out = p;
    return true;
}

static bool resolve_layer(const Session *s, int layer, int *out, Err *e) {
    int L = s->model->spec.n_layers;
    int l = layer == LESSON_LAST ? L - 1 : layer;
    if (l < 0 || l >= L) return err_set(e, ERR_ARG, "layer %d does not exist: %s has %d layers (0..%d)", layer, s->model_path, L, L - 1);
    *out = l;
    return true;
}

static bool resolve_head(const Session *s, int head, int *out, Err *e) {
    int H = s->model->spec.n_heads;
    int h = head == LESSON_LAST ? H - 1 : head;
    if (h < 0 || h >= H) return err_set(e, ERR_ARG, "head %d does not exist: %s has %d query heads per layer (0..%d)", head, s->model_path, H, H - 1);
    *out = h;
    return true;
}

static const char *slot_tag(const App *a, int i) { return a->n_ses > 1 ? (i ? "B: " : "A: ") : ""; }

static Session *open_session(LessonPlayer *p, const char *model, Err *e) {
    char path[2048];
    lesson_path(p->root, model, path, sizeof path);
    if (!file_exists(path) && !dir_exists(path)) {
        err_set(e, ERR_IO, "model %s not found (%s)%s", model, path,
                strstr(model, "assets/models/story-") ? "; the bundled story models are written by assets/models/train/train.py" : "");
        return NULL;
    }
    Err e2 = {0};
    Session *s = session_new(path, p->max_ctx, &e2);
    if (!s) { err_set(e, e2.code ? e2.code : ERR_IO, "cannot load %s: %s", model, e2.msg); return NULL; }
    return s;
}

/* Brings s to the same prompt, length and cursor as ref (compare mode). */
static bool follow(Session *s, const Session *ref, Err *e) {
    Err e2 = {0};
    bool ok = ref->prompt[0] ? session_set_prompt(s, ref->prompt, &e2)
                             : (ref->n_prompt ? session_set_ids(s, ref->prompt_ids, ref->n_prompt, &e2) : true);
    if (!ok) return err_set(e, ERR_ARG, "%s", e2.msg);
    if (ref->prefilled) {
        if (!session_step(s, &e2)) return err_set(e, ERR_ARG, "%s", e2.msg);
        while (session_len(s) < session_len(ref))
            if (!session_step(s, &e2)) return err_set(e, ERR_ARG, "%s", e2.msg);
        session_goto(s, ref->cursor < session_len(s) ? ref->cursor : session_len(s) - 1);
    }
    session_select_layer(s, ref->layer);
    session_select_head(s, ref->head);
    s->stage = ref->stage;
    s->sel_key = ref->sel_key <= s->cursor ? ref->sel_key : -1;
    return true;
}

static bool set_prompt_all(LessonPlayer *p, const char *text, bool prefill, Err *e) {
    App *a = p->app;
    for (int i = 0; i < a->n_ses; i++) {
        Err e2 = {0};
        Session *s = a->ses[i];
        if (!session_set_prompt(s, text, &e2) || (prefill && !session_step(s, &e2)))
            return err_set(e, ERR_ARG, "%s%s", slot_tag(a, i), e2.msg[0] ? e2.msg : "cannot set the prompt");
    }
    snprintf(p->prompt, sizeof p->prompt, "%s", text);
    return true;
}

static void reset_app(LessonPlayer *p) {
    App *a = p->app;
    App *d = app_new();              /* the app's own defaults for what a lesson may change */
    app_set_session(a, 1, NULL, false);
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        if (!pc) continue;
        if (pc->destroy) pc->destroy(a->pst[i]);
        a->pst[i] = pc->create ? pc->create() : NULL;
    }
    if (d) {
        a->cur = d->cur;
        a->side_panel = d->side_panel;
        a->side_on = d->side_on;
        a->stage_follow = d->stage_follow;
        a->scfg = d->scfg;
        app_free(d);
    }
    a->overlay = OV_NONE;
    a->running = false;
    a->msg[0] = 0;
    a->msg_error = false;
}

static bool do_load(LessonPlayer *p, const char *model, int slot, Err *e) {
    App *a = p->app;
    if (slot == 1) {
        if (!a->ses[0]) return err_set(e, ERR_ARG, "compare mode needs a model in slot A first");
        Session *s = open_session(p, model, e);
        if (!s) return false;
        session_set_sampler(s, sampler_cfg(a->ses[0]->sampler));
        if (!follow(s, a->ses[0], e)) { session_free(s); return err_prefix(e, "compare with %s", model); }
        app_set_session(a, 1, s, true);
        return true;
    }
    Session *s = open_session(p, model, e);
    if (!s) return false;
    session_set_sampler(s, a->scfg);
    Err e2 = {0};
    if (!session_set_prompt(s, p->prompt, &e2) || !session_step(s, &e2)) {
        session_free(s);
        return err_set(e, ERR_ARG, "%s with prompt \"%.60s\": %s", model, p->prompt, e2.msg);
    }
    Session *old = a->ses[0];
    if (old) {
        session_select_layer(s, old->layer);
        session_select_head(s, old->head);
    }
    app_set_session(a, 0, s, true);
    if (a->ses[1] && !follow(a->ses[1], s, e)) return err_prefix(e, "B");
    return true;
}

/* A --keys string: UTF-8 characters or {name} (right left up down home end enter esc tab
 * btab bs del pgup pgdn space f1..f10). */
static size_t parse_key(const char *s, int *key) {
    static const struct { const char *name; int key; } N[] = {
        {"right", TK_RIGHT}, {"left", TK_LEFT}, {"up", TK_UP}, {"down", TK_DOWN}, {"home", TK_HOME},
        {"end", TK_END}, {"enter", TK_ENTER}, {"esc", TK_ESC}, {"tab", TK_TAB}, {"btab", TK_BTAB},
        {"bs", TK_BACKSPACE}, {"del", TK_DELETE}, {"pgup", TK_PGUP}, {"pgdn", TK_PGDN}, {"space", ' '},
        {"f1", TK_F1}, {"f2", TK_F2}, {"f3", TK_F3}, {"f4", TK_F4}, {"f5", TK_F5}, {"f6", TK_F6},
        {"f7", TK_F7}, {"f8", TK_F8}, {"f9", TK_F9}, {"f10", TK_F10}};
    if (s[0] == '{') {
        const char *end = strchr(s, '}');
        if (end) {
            size_t n = (size_t)(end - s - 1);
            for (size_t i = 0; i < sizeof N / sizeof N[0]; i++)
                if (strlen(N[i].name) == n && !strncmp(s + 1, N[i].name, n)) { *key = N[i].key; return n + 2; }
        }
        *key = -1;
        return end ? (size_t)(end - s + 1) : strlen(s);
    }
    const unsigned char *u = (const unsigned char *)s;
    int len = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
    int cp = len == 1 ? u[0] : u[0] & (0x3f >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) { *key = -1; return (size_t)i; }
        cp = (cp << 6) | (u[i] & 0x3f);
    }
    *key = cp;
    return (size_t)len;
}

static bool do_keys(LessonPlayer *p, const char *keys, Err *e) {
    App *a = p->app;
    for (const char *k = keys; *k;) {
        int key;
        const char *at = k;
        k += parse_key(k, &key);
        if (key < 0) return err_set(e, ERR_ARG, "keys: cannot read the key at \"%.12s\"", at);
        if (key == 'q' || key == TK_F10 || key == TK_CTRL('c'))
            return err_set(e, ERR_ARG, "keys: \"%.*s\" would quit; a lesson may not send it", (int)(k - at), at);
        TuiEvent ev = {0};
        ev.key = key;
        p->in_action = true;
        int r = app_handle(a, &ev);
        p->in_action = false;
        if (r == KR_IGNORED)
            return err_set(e, ERR_ARG, "keys: \"%.*s\" did nothing on the %s panel", (int)(k - at), at, panel_class((PanelId)a->cur)->name);
    }
    if (a->overlay != OV_NONE) {
        a->overlay = OV_NONE;
        return err_set(e, ERR_ARG, "keys: \"%s\" left an overlay open (close it with {enter} or {esc})", keys);
    }
    return true;
}

/* ---- actions ----------------------------------------------------------------------------- */

bool lesson_player_apply(LessonPlayer *p, const LessonAction *ac, Err *e) {
    App *a = p->app;
    Session *s0 = a->ses[0];
    if (ac->kind != LA_LOAD && !s0) return err_set(e, ERR_ARG, "no model loaded");
    int tmp = 0;
    switch (ac->kind) {
    case LA_LOAD:
        return do_load(p, ac->str, ac->slot, e);
    case LA_PROMPT:
        return set_prompt_all(p, ac->str, ac->prefill, e);
    case LA_STEP:
        for (int k = 0; k < ac->n; k++)
            for (int i = 0; i < a->n_ses; i++) {
                Err e2 = {0};
                if (!session_step(a->ses[i], &e2)) return err_set(e, ERR_ARG, "%sstep %d of %d: %s", slot_tag(a, i), k + 1, ac->n, e2.msg);
            }
        return true;
    case LA_BACK:
        for (int k = 0; k < ac->n; k++)
            for (int i = 0; i < a->n_ses; i++)
                if (!session_back(a->ses[i])) return err_set(e, ERR_ARG, "%scannot go back %d tokens from position %d", slot_tag(a, i), ac->n, a->ses[i]->cursor + k);
        return true;
    case LA_TOKEN:
        for (int i = 0; i < a->n_ses; i++) {
            if (!resolve_pos(ac->pos, session_len(a->ses[i]), &tmp, e)) return err_prefix(e, "%stoken", slot_tag(a, i));
            session_goto(a->ses[i], tmp);
            if (a->ses[i]->sel_key > tmp) a->ses[i]->sel_key = -1;
        }
        return true;
    case LA_KEY:
        for (int i = 0; i < a->n_ses; i++) {
            Session *s = a->ses[i];
            if (ac->off) { s->sel_key = -1; continue; }
            if (!resolve_pos(ac->pos, s->cursor + 1, &tmp, e)) return err_prefix(e, "%skey (keys run from 0 to the cursor %d)", slot_tag(a, i), s->cursor);
            s->sel_key = tmp;
        }
        return true;
    case LA_HIGHLIGHT:
        for (int i = 0; i < a->n_ses; i++) {
            Session *s = a->ses[i];
            if (ac->layer != LESSON_UNSET) { if (!resolve_layer(s, ac->layer, &tmp, e)) return false; session_select_layer(s, tmp); }
            if (ac->head != LESSON_UNSET) { if (!resolve_head(s, ac->head, &tmp, e)) return false; session_select_head(s, tmp); }
            if (ac->pos != LESSON_UNSET) {
                if (!resolve_pos(ac->pos, session_len(s), &tmp, e)) return err_prefix(e, "%shighlight token", slot_tag(a, i));
                session_goto(s, tmp);
            }
            if (ac->key != LESSON_UNSET) {
                if (!resolve_pos(ac->key, s->cursor + 1, &tmp, e)) return err_prefix(e, "%shighlight key (keys run from 0 to the query %d)", slot_tag(a, i), s->cursor);
                s->sel_key = tmp;
            } else if (s->sel_key > s->cursor) s->sel_key = -1;
        }
        p->hl_on = true;
        p->hl_token = s0->cursor;
        p->hl_key = ac->key != LESSON_UNSET ? s0->sel_key : -1;
        p->hl_layer = s0->layer;
        p->hl_head = s0->head;
        return true;
    case LA_STAGE: {
        const ModelSpec *sp = &s0->model->spec;
        if (ac->stage == STAGE_POS && sp->pos != POS_LEARNED)
            return err_set(e, ERR_ARG, "stage \"position\" applies to learned positions; %s uses RoPE (stage \"rope\")", s0->model_path);
        if (ac->stage == STAGE_ROPE && sp->pos != POS_ROPE)
            return err_set(e, ERR_ARG, "stage \"rope\" applies to RoPE models; %s adds learned positions (stage \"position\")", s0->model_path);
        for (int i = 0; i < a->n_ses; i++) {
            Session *s = a->ses[i];
            if (s->cursor < 0) return err_set(e, ERR_ARG, "%sno token computed yet: step first", slot_tag(a, i));
            if (ac->layer != LESSON_UNSET) { if (!resolve_layer(s, ac->layer, &tmp, e)) return false; session_select_layer(s, tmp); }
            s->stage = (Stage)ac->stage;
        }
        if (a->stage_follow) a->cur = app_panel_for_stage((Stage)ac->stage);
        return true;
    }
    case LA_STEP_INTO: {
        int dir = ac->n > 0 ? 1 : -1, n = ac->n > 0 ? ac->n : -ac->n;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < a->n_ses; i++)
                if (!session_step_into(a->ses[i], dir))
                    return err_set(e, ERR_ARG, "%scannot step %s a stage (%d of %d)", slot_tag(a, i), dir > 0 ? "into the next" : "back", k + 1, n);
        if (a->stage_follow) a->cur = app_panel_for_stage(s0->stage);
        return true;
    }
    case LA_PANEL:
        if (!app_select_panel(a, ac->str)) {
            char names[256];
            panel_names(names, sizeof names);
            return err_set(e, ERR_ARG, "unknown panel \"%s\" (%s)", ac->str, names);
        }
        return true;
    case LA_SIDE:
        if (ac->off) { a->side_on = false; return true; }
        tmp = panel_find(ac->str);
        if (tmp < 0) {
            char names[256];
            panel_names(names, sizeof names);
            return err_set(e, ERR_ARG, "unknown panel \"%s\" (%s)", ac->str, names);
        }
        a->side_panel = tmp;
        a->side_on = true;
        return true;
    case LA_LAYER:
        for (int i = 0; i < a->n_ses; i++) {
            if (!resolve_layer(a->ses[i], ac->layer, &tmp, e)) return false;
            session_select_layer(a->ses[i], tmp);
        }
        return true;
    case LA_HEAD:
        for (int i = 0; i < a->n_ses; i++) {
            if (!resolve_head(a->ses[i], ac->head, &tmp, e)) return false;
            session_select_head(a->ses[i], tmp);
        }
        return true;
    case LA_COMPARE:
        if (ac->off) { app_set_session(a, 1, NULL, false); return true; }
        return do_load(p, ac->str, 1, e);
    case LA_ABLATE:
        if (ac->slot == 1 && a->n_ses < 2) return err_set(e, ERR_ARG, "slot B: compare mode is off");
        for (int i = 0; i < a->n_ses; i++) {
            if (ac->slot >= 0 && ac->slot != i) continue;
            Session *s = a->ses[i];
            int l = -1, h = -1;
            if (!ac->off && (!resolve_layer(s, ac->layer, &l, e) || !resolve_head(s, ac->head, &h, e))) return false;
            Err e2 = {0};
            if (!session_set_ablation(s, l, h, &e2)) return err_set(e, ERR_ARG, "%s%s", slot_tag(a, i), e2.msg);
            if (!ac->off) { session_select_layer(s, l); session_select_head(s, h); }
        }
        return true;
    case LA_SAMPLER:
        if (ac->slot == 1 && a->n_ses < 2) return err_set(e, ERR_ARG, "slot B: compare mode is off");
        if (ac->slot <= 0) a->scfg = ac->sampler;
        for (int i = 0; i < a->n_ses; i++)
            if (ac->slot < 0 || ac->slot == i) session_set_sampler(a->ses[i], ac->sampler);
        return true;
    case LA_KEYS:
        return do_keys(p, ac->str, e);
    default:
        return err_set(e, ERR_ARG, "unknown action");
    }
}

/* ---- steps --------------------------------------------------------------------------------- */

static bool start(LessonPlayer *p, Err *e) {
    const Lesson *l = p->lesson;
    reset_app(p);
    if (p->app->ses[0]) {              /* a fresh start inherits no selection from the last play */
        session_select_layer(p->app->ses[0], 0);
        session_select_head(p->app->ses[0], 0);
    }
    snprintf(p->prompt, sizeof p->prompt, "%s", l->prompt);
    p->hl_on = false;
    p->revealed = false;
    p->step = -1;
    Err e2 = {0};
    if (!do_load(p, l->model, 0, &e2)) return err_set(e, e2.code ? e2.code : ERR_IO, "%s: model: %s", l->file, e2.msg);
    return true;
}

static bool play_step(LessonPlayer *p, int k, Err *e) {
    const Lesson *l = p->lesson;
    const LessonStep *st = &l->steps[k];
    p->hl_on = false;
    p->revealed = false;
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
    return true;
}

bool lesson_player_goto(LessonPlayer *p, int k, Err *e) {
    const Lesson *l = p->lesson;
    if (k < 0 || k >= l->n_steps) return err_set(e, ERR_ARG, "%s: no step %d (the lesson has %d)", l->file, k + 1, l->n_steps);
    if (k <= p->step || p->step < 0 || !p->app->ses[0]) {
        if (!start(p, e)) return false;
    }
    while (p->step < k)
        if (!play_step(p, p->step + 1, e)) return false;
    return true;
}

char *lesson_player_expand(LessonPlayer *p, const char *tpl, bool marks, Err *e) {
    p->vals.ses[0] = p->app->ses[0];
    p->vals.ses[1] = p->app->n_ses > 1 ? p->app->ses[1] : NULL;
    return lesson_expand(&p->vals, tpl, marks, e);
}
