/* `llmscope lesson --check`: validates a lesson and plays it headless on a real App with
 * its narration pane, so a lesson that passes will play in class. See lesson.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"
#include "session/session.h"
#include "tui/app.h"
#include "tui/lesson_check.h"
#include "tui/lesson_pane.h"

/* Until every lesson has them (issue 15): a step without a target, a lesson without a
 * prediction are problems. */
#define LESSON_CHECK_REQUIRE_TARGETS 1
#define LESSON_CHECK_REQUIRE_PREDICT 1

#define PROBLEM(...) do { fprintf(out, "  " __VA_ARGS__); fputc('\n', out); problems++; } while (0)

/* The text of the cells of `area` that lie outside `skip`, a line per row of area. */
static char *area_text(const Canvas *c, Rect area, Rect skip) {
    size_t cap = (size_t)(area.w > 0 ? area.w : 1) * (size_t)(area.h > 0 ? area.h : 1) * 8 + (size_t)(area.h > 0 ? area.h : 0) + 1, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    for (int y = area.y; y < area.y + area.h; y++) {
        for (int x = area.x; x < area.x + area.w; x++) {
            if (rect_contains(skip, x, y)) continue;
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

/* The screen outside the narration pane, as text (what "this step shows" means). */
static char *screen_outside(const Canvas *c, Rect pane) { return area_text(c, rect_make(0, 0, c->w, c->h), pane); }

/* The narration pane's own text. */
static char *pane_text(const Canvas *c, Rect pane) { return area_text(c, pane, rect_make(0, 0, 0, 0)); }

static int check_templates(LessonPlayer *p, int k, FILE *out, bool verbose) {
    const Lesson *l = p->lesson;
    const LessonStep *st = &l->steps[k];
    int problems = 0;
    const char *names[7] = {"title", "text", "question", "answer", "predict.ask", "predict.value", "predict.explain"};
    const char *tpls[7] = {st->title, st->text, st->question, st->answer, st->predict.ask, st->predict.value, st->predict.explain};
    for (int i = 0; i < 7; i++) {
        if (!tpls[i]) continue;
        Err e = {0};
        char *t = lesson_player_expand(p, tpls[i], false, &e);
        if (e.code) PROBLEM("%s: step %d/%d: %s: %s", l->file, k + 1, l->n_steps, names[i], e.msg);
        else if (verbose && t) fprintf(out, "    [%d %s] %s\n", k + 1, names[i], t);
        free(t);
    }
    return problems;
}

/* ---- targets: each lands on something drawn --------------------------------------------- */

static int check_targets(const Canvas *c, Rect pane, const Lesson *l, int k, FILE *out, bool verbose) {
    const LessonStep *st = &l->steps[k];
    int problems = 0;
    if (!st->n_targets && LESSON_CHECK_REQUIRE_TARGETS)
        PROBLEM("%s: step %d/%d has no \"target\": name what to look at (llmscope lesson --targets)", l->file, k + 1, l->n_steps);
    for (int i = 0; i < st->n_targets; i++) {
        const char *name = st->target[i];
        char want[32];
        lesson_target_owner(name, want, sizeof want);
        int from = 0, n = 0, good = 0;
        const CanvasTarget *t, *first = NULL;
        char why[200] = "";
        while ((t = canvas_target_find(c, name, &from))) {
            n++;
            if (!first) first = t;
            Rect r = t->r;
            if (strcmp(t->owner, want)) { snprintf(why, sizeof why, "it was drawn by \"%s\", not by the %s panel", t->owner, want); continue; }
            if (r.w <= 0 || r.h <= 0) { snprintf(why, sizeof why, "it is drawn with an empty rectangle (clipped away or no room)"); continue; }
            if (r.x < 0 || r.y < 0 || r.x + r.w > c->w || r.y + r.h > c->h) { snprintf(why, sizeof why, "it lies off the %dx%d screen", c->w, c->h); continue; }
            Rect ov = rect_intersect(r, pane);
            if (pane.w > 0 && ov.w > 0 && ov.h > 0) { snprintf(why, sizeof why, "it lies under the lesson pane"); continue; }
            good++;
        }
        if (!n) {
            char shown[200] = "";
            int m = 0;
            for (int j = 0; j < c->n_targets && m < (int)sizeof shown - 20; j++)
                if (!strcmp(c->targets[j].owner, want) && !strchr(c->targets[j].name, ':'))
                    m += snprintf(shown + m, sizeof shown - (size_t)m, "%s%s", m ? " " : "", c->targets[j].name);
            PROBLEM("%s: step %d/%d: target \"%s\" is not drawn on this step's screen (%s%s)", l->file, k + 1, l->n_steps, name,
                    *shown ? "drawn there: " : "the panel is not on screen", shown);
        } else if (!good) {
            PROBLEM("%s: step %d/%d: target \"%s\": %s", l->file, k + 1, l->n_steps, name, why);
        } else if (verbose) {
            fprintf(out, "    [%d target] %s at %d,%d %dx%d\n", k + 1, name, first->r.x, first->r.y, first->r.w, first->r.h);
        }
    }
    return problems;
}


/* At the smallest classroom terminal (80x24) every target is drawn too, the pane making room
 * for it (lesson_ui_refit), or the pane says on screen that it is not there at this size. */
static int check_targets_small(App *a, Canvas *small, const Lesson *l, int k, FILE *out, bool verbose) {
    const LessonStep *st = &l->steps[k];
    int problems = 0;
    if (!st->n_targets) return 0;
    app_render(a, small);
    Rect pane = lesson_ui_pane_rect(a, NULL);
    int off = 0;
    for (int i = 0; i < st->n_targets; i++) {
        int from = 0;
        bool good = false;
        for (const CanvasTarget *t; !good && (t = canvas_target_find(small, st->target[i], &from));) {
            Rect r = t->r, ov = rect_intersect(r, pane);
            good = r.w > 0 && r.h > 0 && r.x >= 0 && r.y >= 0 && r.x + r.w <= small->w && r.y + r.h <= small->h && !(ov.w > 0 && ov.h > 0);
        }
        if (good) continue;
        off++;
        if (verbose) fprintf(out, "    [%d] at %dx%d target \"%s\" is off screen\n", k + 1, small->w, small->h, st->target[i]);
    }
    if (!off) return 0;
    /* then the pane must say so, in words a reader sees on the first page */
    char *t = pane_text(small, pane);
    char want[64];
    snprintf(want, sizeof want, "%dx%d", small->w, small->h);
    if (!lesson_ui_targets_off_screen(a) || !t || !strstr(t, want))
        PROBLEM("%s: step %d/%d: at %dx%d %d target%s not drawn and the pane does not say so", l->file, k + 1, l->n_steps, small->w,
                small->h, off, off == 1 ? " is" : "s are");
    free(t);
    return problems;
}

/* ---- text: nothing cut -------------------------------------------------------------------- */


/* Every page of the step's narration pane (renders, pages forward, then back to page 1). */
static char *all_pages(App *a, Canvas *c, int *pages) {
    lesson_ui_page_reset(a);
    app_render(a, c);
    char *all = NULL;
    size_t len = 0;
    *pages = 0;
    for (int guard = 0; guard < 64; guard++) {
        char *t = pane_text(c, lesson_ui_pane_rect(a, NULL));
        if (!t) break;
        size_t tl = strlen(t);
        char *na = realloc(all, len + tl + 1);
        if (!na) { free(t); break; }
        all = na;
        memcpy(all + len, t, tl + 1);
        len += tl;
        free(t);
        (*pages)++;
        if (!lesson_ui_more(a)) break;
        lesson_ui_next(a);
        app_render(a, c);
    }
    lesson_ui_page_reset(a);
    app_render(a, c);
    return all;
}

static int next_cp(const char **s) {
    const unsigned char *u = (const unsigned char *)*s;
    if (!*u) return 0;
    int len = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
    int cp = len == 1 ? u[0] : u[0] & (0x3f >> (len - 1));
    for (int i = 1; i < len && u[i]; i++) cp = (cp << 6) | (u[i] & 0x3f);
    for (int i = 0; i < len && **s; i++) (*s)++;
    return cp;
}

static bool skip_cp(int cp) { return cp == ' ' || cp == '\n' || cp == '\t' || cp == LESSON_MARK_ON || cp == LESSON_MARK_OFF; }

/* Whether every character of text (spaces aside) appears in pages, in order. On failure
 * `missing` gets the text from the first character not found. */
static bool covers(const char *pages, const char *text, char *missing, size_t cap) {
    const char *p = pages ? pages : "", *t = text;
    while (*t) {
        const char *at = t;
        int want = next_cp(&t);
        if (skip_cp(want)) continue;
        int got;
        do { got = next_cp(&p); } while (got && got != want);
        if (!got) { snprintf(missing, cap, "%.60s", at); return false; }
    }
    return true;
}

static void append(char **buf, const char *s) {
    if (!s) return;
    size_t a = *buf ? strlen(*buf) : 0, b = strlen(s);
    char *n = realloc(*buf, a + b + 2);
    if (!n) return;
    memcpy(n + a, s, b);
    n[a + b] = '\n';
    n[a + b + 1] = 0;
    *buf = n;
}

/* The narration the pane must show in the current state (question answered or not, the
 * prediction scored or not). */
static char *expected_text(LessonPlayer *p, const LessonStep *st) {
    char *all = NULL;
    const char *tpl[3] = {st->title, st->text, st->predict.kind ? st->predict.ask : NULL};
    for (int i = 0; i < 3; i++) {
        if (!tpl[i]) continue;
        char *t = lesson_player_expand(p, tpl[i], false, NULL);
        append(&all, t);
        free(t);
    }
    if (st->question) {
        char *t = lesson_player_expand(p, st->question, false, NULL);
        append(&all, t);
        free(t);
        if (p->revealed) { t = lesson_player_expand(p, st->answer, false, NULL); append(&all, t); free(t); }
    }
    if (st->predict.kind && p->pred_done) {
        append(&all, p->pred_score.text);
        if (st->predict.explain) { char *t = lesson_player_expand(p, st->predict.explain, false, NULL); append(&all, t); free(t); }
    }
    return all ? all : calloc(1, 1);
}

/* At each size, every character of the step's narration is on some page of the pane. */
static int check_fits(App *a, Canvas *const *cs, int ncs, LessonPlayer *p, int k, const char *state, FILE *out, bool verbose) {
    const Lesson *l = p->lesson;
    int problems = 0;
    char *want = expected_text(p, &l->steps[k]);
    for (int i = 0; i < ncs; i++) {
        int pages = 0;
        char *got = all_pages(a, cs[i], &pages);
        char missing[128];
        if (!covers(got, want, missing, sizeof missing))
            PROBLEM("%s: step %d/%d%s: at %dx%d the narration is cut: \"%s\" is on none of its %d page%s", l->file, k + 1, l->n_steps, state,
                    cs[i]->w, cs[i]->h, missing, pages, pages == 1 ? "" : "s");
        else if (verbose && pages > 1)
            fprintf(out, "    [%d] %d pages at %dx%d%s\n", k + 1, pages, cs[i]->w, cs[i]->h, state);
        free(got);
    }
    free(want);
    return problems;
}

/* ---- predictions: typed through the pane's keys, scored against the live value ---------- */

/* Our own reading of the live and the typed number (not lesson_parse_number): digits with
 * thousands commas, a sign, a point, an exponent. */
static bool plain_number(const char *s, double *v) {
    char buf[128];
    size_t n = 0;
    for (const char *q = s; *q && n + 1 < sizeof buf; q++) {
        if (*q == ',' ) continue;
        if (*q == ' ' && !n) continue;
        if (strchr("0123456789.+-eE", *q)) buf[n++] = *q;
        else break;
    }
    buf[n] = 0;
    char *end;
    *v = strtod(buf, &end);
    return n && end != buf;
}

static void trim_lower(const char *s, char *out, size_t cap) {
    while (*s == ' ') s++;
    size_t n = 0;
    for (; *s && n + 1 < cap; s++) out[n++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
}

static int check_predict(App *a, Canvas *const *cs, int ncs, LessonPlayer *p, int k, FILE *out, bool verbose) {
    const Lesson *l = p->lesson;
    const LessonPredict *pr = &l->steps[k].predict;
    int problems = 0;
    Err e = {0};
    char *live = lesson_player_expand(p, pr->value, false, &e);
    if (!live || e.code) { free(live); return problems; }     /* reported by check_templates */
    LessonScore self;
    Err e2 = {0};
    if (!lesson_predict_score(pr, live, live, !strcmp(l->lang, "zh"), &self, &e2))
        PROBLEM("%s: step %d/%d: predict.value: %s", l->file, k + 1, l->n_steps, e2.msg);
    else if (!self.right || self.abs_err != 0)
        PROBLEM("%s: step %d/%d: predict: the live value \"%s\" does not score as right against itself", l->file, k + 1, l->n_steps, live);
    if (problems) { free(live); return problems; }
    if (!lesson_ui_answer(a, pr->try_answer)) {
        PROBLEM("%s: step %d/%d: typing the scripted answer \"%s\" did not score: %s", l->file, k + 1, l->n_steps, pr->try_answer,
                lesson_ui_input_error(a));
        free(live);
        return problems;
    }
    const LessonScore *sc = &p->pred_score;
    /* the score against our own computation */
    if (pr->kind == LP_NUMBER) {
        double lv, gv;
        if (!plain_number(live, &lv) || !plain_number(pr->try_answer, &gv)) {
            PROBLEM("%s: step %d/%d: predict: \"%s\" or \"%s\" is not a plain number", l->file, k + 1, l->n_steps, live, pr->try_answer);
        } else {
            double ae = fabs(gv - lv), re = lv != 0 ? ae / fabs(lv) : NAN;
            if (fabs(sc->abs_err - ae) > 1e-9 * (1 + ae) || (lv != 0 && fabs(sc->rel_err - re) > 1e-9))
                PROBLEM("%s: step %d/%d: predict: scored off by %g (%g), expected %g (%g)", l->file, k + 1, l->n_steps, sc->abs_err, sc->rel_err, ae, re);
            char pct[32];
            snprintf(pct, sizeof pct, "%.1f%%", 100 * re);
            if (lv != 0 && !strstr(sc->text, pct)) PROBLEM("%s: step %d/%d: predict: the score \"%s\" does not say %s", l->file, k + 1, l->n_steps, sc->text, pct);
        }
    } else {
        char lvn[256], gvn[128];
        trim_lower(live, lvn, sizeof lvn);
        trim_lower(pr->try_answer, gvn, sizeof gvn);
        bool right;
        if (pr->kind == LP_CHOICE) {
            int li = -1, gi = atoi(gvn) - 1;
            for (int i = 0; i < pr->n_choices; i++) {
                char cn[128];
                trim_lower(pr->choices[i], cn, sizeof cn);
                if (!strcmp(cn, lvn)) li = i;
                if (!strcmp(cn, gvn)) gi = i;
            }
            if (li < 0) li = atoi(lvn) - 1;
            right = li == gi;
        } else {
            right = !strcmp(lvn, gvn);
        }
        if (right != sc->right) PROBLEM("%s: step %d/%d: predict: \"%s\" against \"%s\" scored %s", l->file, k + 1, l->n_steps, pr->try_answer, live, sc->right ? "right" : "wrong");
    }
    if (verbose) fprintf(out, "    [%d predict] %s -> %s\n", k + 1, pr->try_answer, sc->text);
    problems += check_fits(a, cs, ncs, p, k, " (prediction scored)", out, verbose);
    free(live);
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
    int n_pred = 0;
    for (int k = 0; k < n_steps; k++) n_pred += l->steps[k].predict.kind != LP_NONE;
    if (!n_pred && LESSON_CHECK_REQUIRE_PREDICT)
        PROBLEM("%s: no step asks for a prediction (add \"predict\" to one step: docs/lessons.md)", l->file);
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
    Canvas *small = canvas_new(80, 24);     /* the smallest classroom terminal */
    if (!a || !c || !small) { app_free(a); canvas_free(c); canvas_free(small); PROBLEM("%s: out of memory", path); return problems; }
    c->unicode = small->unicode = true;
    c->mono = small->mono = true;
    Canvas *sizes[2] = {c, small};
    int nsizes = W == 80 && Hh == 24 ? 1 : 2;
    if (!lesson_ui_get(a, root, lang)) { app_free(a); canvas_free(c); canvas_free(small); PROBLEM("%s: out of memory", path); return problems; }
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
                lesson_ui_page_reset(a);
            }
            played = k + 1;
            problems += check_templates(p, k, out, verbose);
            app_render(a, c);
            Rect pane = lesson_ui_pane_rect(a, NULL);
            if (!pane.w) PROBLEM("%s: step %d: the narration pane was not drawn", pl->file, k + 1);
            problems += check_targets(c, pane, pl, k, out, verbose);
            if (nsizes == 2) { problems += check_targets_small(a, small, pl, k, out, verbose); app_render(a, c); }
            problems += check_fits(a, sizes, nsizes, p, k, "", out, verbose);
            if (pl->steps[k].question) {
                p->revealed = true;
                problems += check_fits(a, sizes, nsizes, p, k, " (answer shown)", out, verbose);
                p->revealed = false;
            }
            app_render(a, c);
            if (screens) screens[k] = screen_outside(c, pane);
            if (fulls) fulls[k] = canvas_to_text(c);
            if (pl->steps[k].predict.kind != LP_NONE) {
                problems += check_predict(a, sizes, nsizes, p, k, out, verbose);
                p->pred_done = false;              /* as it was before the answer */
                lesson_ui_page_reset(a);
                app_render(a, c);
            }
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
    canvas_free(small);
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

/* The first placeholder ("{...}") that one template uses more often than the other, into
 * `which` (empty when both use the same ones, each as often): a translation quotes the same
 * live values as the original. */
static void placeholder_diff(const char *x, const char *y, char *which, size_t cap) {
    which[0] = 0;
    const char *t[2] = {x ? x : "", y ? y : ""};
    for (int side = 0; side < 2 && !which[0]; side++)
        for (const char *p = strchr(t[side], '{'); p && !which[0]; p = strchr(p + 1, '{')) {
            const char *q = strchr(p, '}');
            if (!q) break;
            size_t len = (size_t)(q - p) + 1;
            int n[2] = {0, 0};
            for (int s = 0; s < 2; s++)
                for (const char *r = strstr(t[s], "{"); r; r = strstr(r + 1, "{"))
                    if (!strncmp(r, p, len)) n[s]++;
            if (n[0] != n[1]) snprintf(which, cap, "%.*s (%d in English, %d here)", (int)len, p, n[0], n[1]);
        }
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
            if (x->predict.kind != y->predict.kind || x->predict.n_choices != y->predict.n_choices)
                PROBLEM("%s: step %d: the prediction differs from %s's (kind, number of choices)", zh_path, k + 1, en_path);
            if (x->n_targets != y->n_targets) PROBLEM("%s: step %d: %d targets, %s has %d", zh_path, k + 1, y->n_targets, en_path, x->n_targets);
            else
                for (int i = 0; i < x->n_targets; i++)
                    if (strcmp(x->target[i], y->target[i])) PROBLEM("%s: step %d: target \"%s\" differs from %s's \"%s\"", zh_path, k + 1, y->target[i], en_path, x->target[i]);
            const char *fx[] = {x->title, x->text, x->question, x->answer, x->predict.ask, x->predict.value, x->predict.explain};
            const char *fy[] = {y->title, y->text, y->question, y->answer, y->predict.ask, y->predict.value, y->predict.explain};
            static const char *const fname[] = {"title", "text", "question", "answer", "predict.ask", "predict.value", "predict.explain"};
            for (size_t f = 0; f < sizeof fx / sizeof *fx; f++) {
                char which[160];
                placeholder_diff(fx[f], fy[f], which, sizeof which);
                if (which[0]) PROBLEM("%s: step %d %s: placeholder %s: a translation quotes the same live values as %s", zh_path, k + 1, fname[f], which, en_path);
            }
            if (x->n_actions != y->n_actions) { PROBLEM("%s: step %d: %d actions, %s has %d", zh_path, k + 1, y->n_actions, en_path, x->n_actions); continue; }
            for (int i = 0; i < x->n_actions; i++)
                if (!action_eq(&x->actions[i], &y->actions[i]))
                    PROBLEM("%s: step %d action %d (%s) differs from %s", zh_path, k + 1, i + 1, lesson_action_name(y->actions[i].kind), en_path);
        }
    lesson_free(a);
    lesson_free(b);
    return problems;
}
