/* `llmscope lesson --check`: validates a lesson and plays it headless on a real App with
 * its narration pane, so a lesson that passes will play in class. See lesson.h. */
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"
#include "session/session.h"
#include "tui/app.h"
#include "tui/lesson_check.h"
#include "tui/lesson_pane.h"

#define PROBLEM(...) do { fprintf(out, "  " __VA_ARGS__); fputc('\n', out); problems++; } while (0)

/* The screen outside the narration pane, as text (what "this step shows" means). */
static char *screen_outside(const Canvas *c, Rect pane) {
    size_t cap = (size_t)c->w * (size_t)c->h * 8 + (size_t)c->h + 1, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (int y = 0; y < c->h; y++) {
        for (int x = 0; x < c->w; x++) {
            if (rect_contains(pane, x, y)) continue;
            const Cell *cl = canvas_cell(c, x, y);
            if (!cl || !cl->len) continue;
            memcpy(s + n, cl->ch, cl->len);
            n += cl->len;
        }
        s[n++] = '\n';
    }
    s[n] = 0;
    return s;
}

static int check_templates(LessonPlayer *p, int k, FILE *out, bool verbose) {
    const Lesson *l = p->lesson;
    const LessonStep *st = &l->steps[k];
    int problems = 0;
    const char *names[4] = {"title", "text", "question", "answer"};
    const char *tpls[4] = {st->title, st->text, st->question, st->answer};
    for (int i = 0; i < 4; i++) {
        if (!tpls[i]) continue;
        Err e = {0};
        char *t = lesson_player_expand(p, tpls[i], false, &e);
        if (e.code) PROBLEM("%s: step %d/%d: %s: %s", l->file, k + 1, l->n_steps, names[i], e.msg);
        else if (verbose && t) fprintf(out, "    [%d %s] %s\n", k + 1, names[i], t);
        free(t);
    }
    return problems;
}

int lesson_check_file(const char *path, const char *root, const LessonCheckOpts *o) {
    FILE *out = o && o->out ? o->out : stderr;
    int W = o && o->w > 0 ? o->w : 120, Hh = o && o->h > 0 ? o->h : 36;
    bool verbose = o && o->verbose;
    int problems = 0;
    Err e = {0};
    Lesson *l = lesson_load(path, &e);
    if (!l) { PROBLEM("%s", e.msg); return problems; }
    int n_steps = l->n_steps;
    char lang[8];
    snprintf(lang, sizeof lang, "%s", l->lang);
    /* refs must load even if no placeholder reads them */
    LessonValues vals;
    lesson_values_init(&vals, l, root);
    for (int i = 0; i < l->n_refs; i++) {
        char full[2048];
        lesson_path(root, l->refs[i].path, full, sizeof full);
        Err e2 = {0};
        Model *m = model_load(full, true, &e2);
        if (!m) PROBLEM("%s: refs.%s: %s", l->file, l->refs[i].name, e2.msg);
        model_free(m);
    }
    lesson_values_done(&vals);
    lesson_free(l);

    App *a = app_new();
    Canvas *c = canvas_new(W, Hh);
    if (!a || !c) { app_free(a); canvas_free(c); PROBLEM("%s: out of memory", path); return problems; }
    c->unicode = true;
    c->mono = true;
    if (!lesson_ui_get(a, root, lang)) { app_free(a); canvas_free(c); PROBLEM("%s: out of memory", path); return problems; }
    char **screens = calloc((size_t)n_steps, sizeof *screens);
    char **fulls = calloc((size_t)n_steps, sizeof *fulls);
    int played = 0;
    Err e2 = {0};
    if (!lesson_ui_open(a, path, 0, &e2)) {
        PROBLEM("%s", e2.msg);
    } else {
        LessonPlayer *p = lesson_ui_player(a);
        const Lesson *pl = p->lesson;
        for (int k = 0; k < n_steps; k++) {
            if (k > 0) {
                Err e3 = {0};
                if (!lesson_player_goto(p, k, &e3)) { PROBLEM("%s", e3.msg); break; }
            }
            played = k + 1;
            problems += check_templates(p, k, out, verbose);
            bool overflow;
            app_render(a, c);
            Rect pane = lesson_ui_pane_rect(a, &overflow);
            if (!pane.w) PROBLEM("%s: step %d: the narration pane was not drawn", pl->file, k + 1);
            if (overflow) PROBLEM("%s: step %d/%d: the narration does not fit the pane at %dx%d; shorten it", pl->file, k + 1, n_steps, W, Hh);
            if (pl->steps[k].question) {
                p->revealed = true;
                app_render(a, c);
                lesson_ui_pane_rect(a, &overflow);
                if (overflow) PROBLEM("%s: step %d/%d: narration + question + answer do not fit the pane at %dx%d", pl->file, k + 1, n_steps, W, Hh);
                p->revealed = false;
                app_render(a, c);
            }
            if (screens) screens[k] = screen_outside(c, pane);
            if (fulls) fulls[k] = canvas_to_text(c);
            if (k > 0 && screens && screens[k] && screens[k - 1] && !strcmp(screens[k], screens[k - 1]))
                PROBLEM("%s: step %d/%d changes nothing on screen outside the narration; give it an action that shows something new",
                        pl->file, k + 1, n_steps);
            if (a->sc->n_ses < 1) PROBLEM("%s: step %d: no model loaded", pl->file, k + 1);
        }
        /* going back replays the lesson: the screen must be the same as when going forward */
        if (played == n_steps && n_steps >= 2 && fulls) {
            int k = n_steps - 2;
            Err e3 = {0};
            if (!lesson_player_goto(p, k, &e3)) PROBLEM("%s: going back to step %d: %s", pl->file, k + 1, e3.msg);
            else {
                app_render(a, c);
                char *again = canvas_to_text(c);
                if (again && fulls[k] && strcmp(again, fulls[k])) {
                    PROBLEM("%s: step %d looks different when reached by going back (is a step not deterministic?)", pl->file, k + 1);
                    if (verbose) fprintf(out, "--- going forward:\n%s--- going back:\n%s", fulls[k], again);
                }
                free(again);
            }
        }
    }
    for (int k = 0; k < n_steps; k++) {
        if (screens) free(screens[k]);
        if (fulls) free(fulls[k]);
    }
    free(screens);
    free(fulls);
    canvas_free(c);
    app_free(a);
    return problems;
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static bool action_eq(const LessonAction *x, const LessonAction *y) {
    return x->kind == y->kind && x->n == y->n && x->pos == y->pos && x->key == y->key && x->layer == y->layer &&
           x->head == y->head && x->stage == y->stage && x->slot == y->slot && x->off == y->off && x->prefill == y->prefill &&
           str_eq(x->str, y->str) && x->sampler.greedy == y->sampler.greedy && x->sampler.temperature == y->sampler.temperature &&
           x->sampler.top_k == y->sampler.top_k && x->sampler.top_p == y->sampler.top_p && x->sampler.seed == y->sampler.seed;
}

int lesson_check_pair(const char *en_path, const char *zh_path, FILE *out) {
    if (!out) out = stderr;
    int problems = 0;
    Err e = {0};
    Lesson *a = lesson_load(en_path, &e);
    if (!a) return 0;                      /* reported by lesson_check_file */
    Lesson *b = lesson_load(zh_path, &e);
    if (!b) { lesson_free(a); return 0; }
    if (strcmp(a->id, b->id)) PROBLEM("%s: id \"%s\" differs from %s's \"%s\"", zh_path, b->id, en_path, a->id);
    if (strcmp(a->model, b->model)) PROBLEM("%s: model differs from %s", zh_path, en_path);
    if (strcmp(a->prompt, b->prompt)) PROBLEM("%s: prompt differs from %s (the story models read English)", zh_path, en_path);
    if (strcmp(b->lang, "zh") || strcmp(a->lang, "en")) PROBLEM("%s / %s: lang should be en / zh", en_path, zh_path);
    if (a->n_refs != b->n_refs) PROBLEM("%s: %d refs, %s has %d", zh_path, b->n_refs, en_path, a->n_refs);
    else
        for (int i = 0; i < a->n_refs; i++)
            if (strcmp(a->refs[i].name, b->refs[i].name) || strcmp(a->refs[i].path, b->refs[i].path))
                PROBLEM("%s: refs.%s differs from %s", zh_path, b->refs[i].name, en_path);
    if (a->n_steps != b->n_steps) PROBLEM("%s: %d steps, %s has %d (each lesson has the same steps in both languages)", zh_path, b->n_steps, en_path, a->n_steps);
    else
        for (int k = 0; k < a->n_steps; k++) {
            const LessonStep *x = &a->steps[k], *y = &b->steps[k];
            if (!x->question != !y->question) PROBLEM("%s: step %d: a question in one language only", zh_path, k + 1);
            if (x->n_actions != y->n_actions) { PROBLEM("%s: step %d: %d actions, %s has %d", zh_path, k + 1, y->n_actions, en_path, x->n_actions); continue; }
            for (int i = 0; i < x->n_actions; i++)
                if (!action_eq(&x->actions[i], &y->actions[i]))
                    PROBLEM("%s: step %d action %d (%s) differs from %s", zh_path, k + 1, i + 1, lesson_action_name(y->actions[i].kind), en_path);
        }
    lesson_free(a);
    lesson_free(b);
    return problems;
}
