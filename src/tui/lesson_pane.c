/* Lesson pane, presenter keys and lesson menu (see lesson_pane.h). */
#include "tui/lesson_pane.h"
#include "core/i18n.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tui/panel.h"
#include "tui/theme.h"
#include "tui/widgets/widgets.h"

#define MENU_MAX 128

struct LessonUi {
    LessonPlayer *player;      /* NULL = no lesson open */
    char root[1024];
    char lang[8];
    char err[1024];            /* why the last step could not be played ("" = fine) */
    Rect pane;                 /* where the pane was last drawn (w = 0: not drawn) */
    bool overflow;             /* the last drawn narration did not fit the pane unscrolled */
    int scroll;                /* narration rows scrolled away (paging a long step) */
    bool more;                 /* rows below the pane's view: next pages instead of stepping */
    int page;                  /* rows one page moves */
    /* Fitting the step's targets on a short screen (lesson_ui_refit): the pane at the bottom
     * shrinks (squeeze 1: 30 % of the rows, at least 7, 2: five rows) until they are drawn; if none helps
     * it keeps its size and says which are off screen. Worked out once per step and size. */
    int squeeze;
    bool fitted, off_screen;
    int fit_step, fit_w, fit_h;
    int fit_view;              /* ... and panels shown (fit_view_key): a panel key fits again */
    int off_panel;             /* a target's panel is not shown (the user chose another): that
                                  panel (its key says it), not the window's size; -1: none */
    bool bottom;               /* the pane was drawn below the panels (not beside them) */
    /* predict, then reveal: the answer field of a prediction step */
    bool input;                /* the field is open: every key goes to it */
    LineEdit edit;
    char input_err[300];       /* why the last answer was refused ("" = none) */
    /* menu */
    bool menu;
    bool menu_ascii;           /* the last frame had no Unicode: the menu stays English (Tab too) */
    int menu_sel;
    int n_items;
    char files[MENU_MAX][1024];
    char titles[MENU_MAX][200];
};

static bool is_zh(const LessonUi *u) { return !strcmp(u->lang, "zh"); }

LessonUi *lesson_ui_get(App *a, const char *root, const char *lang) {
    if (a->lesson) return a->lesson;
    LessonUi *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    if (root && *root) snprintf(u->root, sizeof u->root, "%s", root);
    else lesson_find_root(u->root, sizeof u->root);
    if (!lang || !*lang) lang = i18n_lang_name(i18n_lang());   /* the UI's (--lang, else the environment) */
    snprintf(u->lang, sizeof u->lang, "%s", !strcmp(lang, "zh") ? "zh" : "en");
    u->off_panel = -1;
    a->lesson = u;
    return u;
}

void lesson_ui_free(LessonUi *u) {
    if (!u) return;
    lesson_player_free(u->player);
    free(u);
}

LessonPlayer *lesson_ui_player(App *a) { return a->lesson ? a->lesson->player : NULL; }
const char *lesson_ui_error(App *a) { return a->lesson ? a->lesson->err : ""; }
Rect lesson_ui_pane_rect(App *a, bool *overflow) {
    if (overflow) *overflow = a->lesson && a->lesson->overflow;
    return a->lesson ? a->lesson->pane : rect_make(0, 0, 0, 0);
}

static void close_player(LessonUi *u) {
    lesson_player_free(u->player);
    u->player = NULL;
    u->err[0] = 0;
}

void lesson_ui_close(App *a) {
    LessonUi *u = a->lesson;
    if (!u || !u->player) return;
    close_player(u);
    /* the lesson decoded greedily; the UI samples as the model says again, and the status line says so */
    Err e = {0};
    scene_lesson_closed(a->sc, &e);
}

static bool goto_step(App *a, int k) {
    LessonUi *u = a->lesson;
    Err e = {0};
    u->scroll = 0;
    u->more = false;
    u->input = false;
    u->input_err[0] = 0;
    lineedit_set(&u->edit, "");
    bool ok = lesson_player_goto(u->player, k, &e);
    if (ok) u->err[0] = 0;
    else snprintf(u->err, sizeof u->err, "%s", e.msg);
    return ok;
}

bool lesson_ui_open(App *a, const char *path, int step, Err *e) {
    LessonUi *u = lesson_ui_get(a, NULL, NULL);
    if (!u) return err_set(e, ERR_MEMORY, "out of memory");
    Lesson *l = lesson_load(path, e);
    if (!l) return false;
    if (strcmp(l->lang, u->lang)) snprintf(u->lang, sizeof u->lang, "%s", l->lang);
    if (u->player) close_player(u);   /* another lesson: it starts greedy again */
    LessonPlayer *p = lesson_player_new(a->sc, l, u->root, e);
    if (!p) return false;
    u->player = p;
    u->menu = false;
    if (step < 0) step = 0;
    if (step >= l->n_steps) step = l->n_steps - 1;
    if (!goto_step(a, step)) return err_set(e, ERR_ARG, "%s", u->err);
    return true;
}

bool lesson_ui_next(App *a) {
    LessonPlayer *p = lesson_ui_player(a);
    if (!p) return false;
    const LessonStep *st = p->step >= 0 ? &p->lesson->steps[p->step] : NULL;
    LessonUi *u = a->lesson;
    /* a long step pages first: the narration is never cut without a way to read the rest */
    if (u->more) { u->scroll += u->page > 0 ? u->page : 1; return true; }
    if (st && st->question && !p->revealed) { p->revealed = true; return true; }
    /* a prediction is answered before the lesson goes on: the first press opens the field */
    if (st && st->predict.kind != LP_NONE && !p->pred_done) { u->input = true; return true; }
    if (p->step + 1 >= p->lesson->n_steps) return false;
    return goto_step(a, p->step + 1);
}

bool lesson_ui_goto(App *a, int step) {
    if (!lesson_ui_player(a)) return false;
    return goto_step(a, step);
}

bool lesson_ui_prev(App *a) {
    LessonPlayer *p = lesson_ui_player(a);
    if (!p) return false;
    LessonUi *u = a->lesson;
    if (u->scroll > 0) { u->scroll -= u->page > 0 ? u->page : 1; if (u->scroll < 0) u->scroll = 0; return true; }
    if (p->step <= 0) return false;
    return goto_step(a, p->step - 1);
}

void lesson_ui_reveal(App *a, bool on) {
    LessonPlayer *p = lesson_ui_player(a);
    if (p) p->revealed = on;
}

/* ---- wrapping ---------------------------------------------------------------------------- */

/* the break classes are the canvas's (text_break_class), so the help and the lesson wrap alike */
typedef struct { const char *s; uint8_t n, w, val, cls; } G;

/* May a line break fall between g[i-1] and g[i] (neither a space)? Never inside a live value. */
static bool can_break(const G *g, int i) {
    const G *a = &g[i - 1], *b = &g[i];
    if (a->val && b->val) return false;
    return text_break_between(a->cls, b->cls);
}

int lesson_wrap(Canvas *c, Rect r, const char *text, Style normal, Style val, bool unicode) {
    if (!text || r.w <= 0) return 0;
    size_t cap = strlen(text) + 1;
    G *g = malloc(sizeof(G) * cap);
    if (!g) return 0;
    int n = 0;
    bool in_val = false;
    for (const char *p = text; *p;) {
        if (*p == LESSON_MARK_ON) { in_val = true; p++; continue; }
        if (*p == LESSON_MARK_OFF) { in_val = false; p++; continue; }
        size_t nb = *p == '\n' ? 1 : text_next_grapheme(p);
        if (!nb) break;
        if (nb > 255) nb = 255;
        G *x = &g[n++];
        x->s = p;
        x->n = (uint8_t)nb;
        x->val = in_val;
        x->cls = (uint8_t)(*p == '\n' ? TB_NL : text_break_class(p));
        if (x->cls == TB_NL || x->cls == TB_SPACE) x->w = x->cls == TB_SPACE;
        else {
            char tmp[256];
            memcpy(tmp, p, nb);
            tmp[nb] = 0;
            int w = text_width(tmp, unicode);
            x->w = (uint8_t)(w < 0 ? 0 : w > 2 ? 2 : w);
        }
        p += nb;
    }
    if (c) canvas_push_clip(c, r);
    int row = 0, col = 0;
    int i = 0;
    bool space_pending = false;
    while (i < n) {
        if (g[i].cls == TB_NL) { row++; col = 0; space_pending = false; i++; continue; }
        if (g[i].cls == TB_SPACE && !g[i].val) { space_pending = col > 0; i++; continue; }
        /* a Chinese phrase that does not fit the rest of the line: before it, not inside it,
         * when that leaves little room empty (text_wrap_slack, as w_text) */
        if (col > 0 && i > 0 && ((g[i - 1].cls != TB_CJK && g[i - 1].cls != TB_GLUE && g[i - 1].cls != TB_OPEN) || g[i].cls == TB_OPEN)) {
            int pw = 0, k = i;
            while (k < n && (g[k].cls == TB_CJK || g[k].cls == TB_OPEN || g[k].cls == TB_GLUE)) pw += g[k++].w;
            while (pw > 0 && k < n && (g[k].cls == TB_CLOSE || g[k].cls == TB_CLOSE_NARROW)) pw += g[k++].w;
            const int room = r.w - col - (space_pending ? 1 : 0);
            if (pw > room && pw <= r.w && r.w - col <= text_wrap_slack(r.w)) { row++; col = 0; space_pending = false; }
        }
        /* a unit: graphemes up to the next break opportunity */
        int j = i + 1, uw = g[i].w;
        while (j < n && g[j].cls != TB_NL && !(g[j].cls == TB_SPACE && !g[j].val) && !can_break(g, j)) { uw += g[j].w; j++; }
        int need = uw + (space_pending ? 1 : 0);
        if (col > 0 && col + need > r.w) { row++; col = 0; space_pending = false; need = uw; }
        if (space_pending) col++;
        space_pending = false;
        for (int k = i; k < j; k++) {
            if (col + g[k].w > r.w && col > 0) { row++; col = 0; }   /* a unit wider than the line */
            if (c) {
                char tmp[256];
                memcpy(tmp, g[k].s, g[k].n);
                tmp[g[k].n] = 0;
                canvas_text(c, r.x + col, r.y + row, tmp, g[k].val ? val : normal);
            }
            col += g[k].w;
        }
        i = j;
    }
    if (c) canvas_pop_clip(c);
    free(g);
    return row + (col > 0 ? 1 : 0);
}

/* ---- the pane ------------------------------------------------------------------------------- */

static int draw_block(Canvas *c, Rect in, int y, const char *text, Style st, Style vs) {
    if (y >= in.y + in.h) return y;
    Rect r = rect_make(in.x, y, in.w, in.y + in.h - y);
    int rows = lesson_wrap(c, r, text, st, vs, c->unicode);
    return y + rows;
}

static void token_label(const Session *s, int pos, char *out, size_t cap, bool zh, bool unicode) {
    const TraceTok *t = trace_tok(session_trace(s), pos);
    char raw[96], vis[160];
    if (!t) { snprintf(out, cap, "%d", pos); return; }
    session_token_text(s, t->id, raw, sizeof raw);
    tok_visible(raw, vis, sizeof vis, unicode);     /* "␣Once", as in the token strip */
    snprintf(out, cap, tr_lang(zh ? LANG_ZH : LANG_EN, "%s (%d)"), vis, pos);
}

/* "▶ look at the highlight: growth chart, layer row 2" (labels in the lesson's language); when
 * they are not on screen at this size, the line says so instead of pointing at nothing. */
static void look_at_line(const LessonUi *u, const LessonStep *st, UiLang L, bool unicode, bool brief, char *line, size_t cap) {
    int n = snprintf(line, cap, "%s%s", unicode ? "\xe2\x96\xb6 " : "> ",
                     brief ? "" : tr_lang(L, u->off_screen ? "look at: " : "look at the highlight: "));
    for (int i = 0; i < st->n_targets && n > 0 && (size_t)n < cap; i++) {
        char lab[96];
        n += snprintf(line + n, cap - (size_t)n, "%s%s", i ? ", " : "", lesson_target_label(st->target[i], L, lab, sizeof lab));
    }
    if (u->off_screen && u->off_panel >= 0 && n > 0 && (size_t)n < cap) {
        const PanelClass *pc = panel_class((PanelId)u->off_panel);
        snprintf(line + n, cap - (size_t)n, tr_lang(L, " (on the %s panel: %d shows it)"), pc ? tr_lang(L, pc->title) : "?", u->off_panel + 1);
    } else if (u->off_screen && n > 0 && (size_t)n < cap)
        snprintf(line + n, cap - (size_t)n, tr_lang(L, " (not on screen at %dx%d: a taller window shows it)"), u->fit_w, u->fit_h);
}

/* "▶ look at: query ␣Once (1) → key ␣upon (2), L2 H5" while the lesson highlights a token or
 * an attention cell; false when it highlights none. */
static bool highlight_line(App *a, UiLang L, bool unicode, char *line, size_t cap) {
    const LessonPlayer *p = lesson_ui_player(a);
    const Session *s = a->sc->ses[0];
    if (!p || !p->hl_on || !s) return false;
    const bool zh = L == LANG_ZH;
    char q[160], kk[160];
    token_label(s, p->hl_token, q, sizeof q, zh, unicode);
    if (p->hl_key >= 0) token_label(s, p->hl_key, kk, sizeof kk, zh, unicode);
    const char *arrow = unicode ? "\xe2\x96\xb6 " : "> ";
    if (p->hl_key >= 0)
        snprintf(line, cap, tr_lang(L, "%slook at: query %s %s key %s, L%d H%d"), arrow, q, unicode ? "\xe2\x86\x92" : "->", kk,
                 p->hl_layer, p->hl_head);
    else snprintf(line, cap, tr_lang(L, "%slook at: token %s, L%d H%d"), arrow, q, p->hl_layer, p->hl_head);
    return true;
}

bool lesson_ui_look_at(App *a, int which, bool unicode, char *line, size_t cap) {
    LessonUi *u = a->lesson;
    LessonPlayer *p = u ? u->player : NULL;
    if (!p || p->step < 0 || !cap) return false;
    const UiLang L = is_zh(u) ? LANG_ZH : LANG_EN;
    const LessonStep *st = &p->lesson->steps[p->step];
    if (which == 2) return highlight_line(a, L, unicode, line, cap);
    if (!st->n_targets) return false;
    look_at_line(u, st, L, unicode, which == 1, line, cap);
    return true;
}

/* Is the target drawn where it can be seen: registered with a rectangle on screen, not under
 * the pane (what lesson --check asks too). */
static bool target_shown(const Canvas *c, const char *name, Rect pane) {
    int from = 0;
    for (const CanvasTarget *t; (t = canvas_target_find(c, name, &from));) {
        Rect r = t->r;
        if (r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x + r.w > c->w || r.y + r.h > c->h) continue;
        Rect ov = rect_intersect(r, pane);
        if (ov.w > 0 && ov.h > 0) continue;
        return true;
    }
    return false;
}

/* Whether the last frame drew panel id (its hit area: also while a prompt runs in it). */
static bool panel_drawn(const App *a, int id) {
    for (int i = 0; i < a->n_hits; i++)
        if (a->hits[i].kind == HIT_PANEL && a->hits[i].arg == id) return true;
    return false;
}

/* What a step's fit depends on besides the step and the size: the panels shown. */
static int fit_view_key(const App *a) {
    return a->sc->panel | (a->sc->view.tradeoff ? 1 << 8 : 0) | (a->sc->side_on ? 1 << 9 : 0) | ((a->sc->side_panel + 1) << 10);
}

bool lesson_ui_refit(App *a, Canvas *c) {
    LessonUi *u = a->lesson;
    LessonPlayer *p = u ? u->player : NULL;
    if (!p || p->step < 0 || u->menu || !u->pane.w || u->fitted) return false;
    const LessonStep *st = &p->lesson->steps[p->step];
    bool missing = false;
    u->off_panel = -1;
    for (int i = 0; i < st->n_targets; i++) {
        if (target_shown(c, st->target[i], u->pane)) continue;
        missing = true;
        char owner[32];
        lesson_target_owner(st->target[i], owner, sizeof owner);
        const int id = panel_find(owner);
        if (id >= 0 && !panel_drawn(a, id)) u->off_panel = id;    /* another panel is shown: no size helps */
    }
    if (u->off_panel >= 0) { u->fitted = u->off_screen = true; u->squeeze = 0; return true; }
    if (missing && u->bottom && u->squeeze < 2) { u->squeeze++; return true; }   /* the panels get more rows */
    u->fitted = true;
    if (!missing) return false;
    u->squeeze = 0;                 /* no size helps: the pane as it was, saying so */
    u->off_screen = true;
    return true;
}

bool lesson_ui_targets_off_screen(App *a) { return a->lesson && a->lesson->player && a->lesson->off_screen; }

/* The prediction block: the question, the choices, then the answer field or the score. */
static int draw_predict(LessonUi *u, Canvas *c, Rect in, int y, const LessonStep *st, bool zh, Style vs) {
    LessonPlayer *p = u->player;
    const UiLang L = zh ? LANG_ZH : LANG_EN;
    const LessonPredict *pr = &st->predict;
    char buf[LESSON_MAX_TEXT + 128];
    char *q = lesson_player_expand(p, pr->ask, true, NULL);
    snprintf(buf, sizeof buf, "%s%s", tr_lang(L, "Predict: "), q ? q : pr->ask);
    free(q);
    y = draw_block(c, in, y, buf, sty_attr(CR_WARN, ATTR_BOLD), vs);
    if (pr->kind == LP_CHOICE) {
        int n = 0;
        buf[0] = 0;
        for (int i = 0; i < pr->n_choices && (size_t)n < sizeof buf; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%d %s", i ? "   " : "", i + 1, pr->choices[i]);
        y = draw_block(c, in, y, buf, sty(CR_TEXT), vs);
    }
    if (p->pred_done) {
        y = draw_block(c, in, y, p->pred_score.text, sty_attr(p->pred_score.right ? CR_GOOD : CR_WARN, ATTR_BOLD), vs);
        if (pr->explain) {
            char *ex = lesson_player_expand(p, pr->explain, true, NULL);
            y = draw_block(c, in, y, ex ? ex : pr->explain, sty(CR_GOOD), vs);
            free(ex);
        }
        return y + 1;
    }
    if (u->input) {
        const char *hint = pr->kind == LP_CHOICE ? tr_lang(L, "(press its number)") : tr_lang(L, "(Enter commits, Esc closes)");
        snprintf(buf, sizeof buf, "%s%s%s  %s", tr_lang(L, "Your answer: "), u->edit.buf, c->unicode ? "\xe2\x96\x8f" : "_", hint);
        y = draw_block(c, in, y, buf, sty_attr(CR_ACCENT, ATTR_BOLD), vs);
        if (u->input_err[0]) y = draw_block(c, in, y, u->input_err, sty(CR_ERROR), vs);
        return y + 1;
    }
    y = draw_block(c, in, y, tr_lang(L, "(guess first: \xe2\x86\x92 or a to answer)"), sty(CR_DIM), vs);
    return y + 1;
}

/* Highlights the current step's targets over what the panels drew (called by app_render). */
void lesson_ui_draw_targets(App *a, Canvas *c) {
    LessonPlayer *p = lesson_ui_player(a);
    if (!p || p->step < 0 || a->lesson->menu) return;
    const LessonStep *st = &p->lesson->steps[p->step];
    for (int i = 0; i < st->n_targets; i++) {
        int from = 0;
        for (const CanvasTarget *t; (t = canvas_target_find(c, st->target[i], &from));) {
            Rect r = rect_intersect(t->r, rect_make(0, 0, c->w, c->h));
            if (r.w <= 0 || r.h <= 0) continue;
            bool small = r.h <= 2 || (long)r.w * r.h <= 120;
            if (small) {
                for (int y = r.y; y < r.y + r.h; y++)
                    for (int x = r.x; x < r.x + r.w; x++) c->cells[y * c->w + x].attr |= ATTR_REVERSE | ATTR_BOLD;
            } else {
                /* a large element: accent corners just outside it (or on it, at the screen edge) */
                int x0 = r.x > 0 ? r.x - 1 : r.x, y0 = r.y > 0 ? r.y - 1 : r.y;
                int x1 = r.x + r.w < c->w ? r.x + r.w : r.x + r.w - 1, y1 = r.y + r.h < c->h ? r.y + r.h : r.y + r.h - 1;
                Style ms = sty_attr(CR_ACCENT, ATTR_BOLD);
                bool u8 = c->unicode;
                canvas_glyph(c, x0, y0, u8 ? "\xe2\x94\x8f" : "+", ms);
                canvas_glyph(c, x1, y0, u8 ? "\xe2\x94\x93" : "+", ms);
                canvas_glyph(c, x0, y1, u8 ? "\xe2\x94\x97" : "+", ms);
                canvas_glyph(c, x1, y1, u8 ? "\xe2\x94\x9b" : "+", ms);
            }
        }
    }
}

Rect lesson_ui_draw(App *a, Canvas *c, Rect main) {
    LessonUi *u = a->lesson;
    LessonPlayer *p = u ? u->player : NULL;
    if (u) { u->pane = rect_make(0, 0, 0, 0); u->overflow = false; }
    if (!p || main.w < 20 || main.h < 6) return main;
    bool zh = is_zh(u);
    const UiLang L = zh ? LANG_ZH : LANG_EN;     /* the pane's chrome speaks the lesson's language */
    if (p->step != u->fit_step || c->w != u->fit_w || c->h != u->fit_h || fit_view_key(a) != u->fit_view) {
        /* a new step, size or panel: fit again; a new size pages from the step's start (the
         * rows paged away at 100x30 hid the title and the look-at line of a step that fits
         * whole at 120x40) */
        if (c->w != u->fit_w || c->h != u->fit_h) u->scroll = 0;
        u->fit_view = fit_view_key(a);
        u->fit_step = p->step;
        u->fit_w = c->w;
        u->fit_h = c->h;
        u->squeeze = 0;
        u->fitted = u->off_screen = false;
        u->off_panel = -1;
    }
    Rect pane, rest;
    u->bottom = c->w < 120;
    if (c->w >= 120) {
        int pw = c->w * 32 / 100;
        if (pw < 38) pw = 38;
        if (pw > 60) pw = 60;
        pane = rect_make(main.x + main.w - pw, main.y, pw, main.h);
        rest = rect_make(main.x, main.y, main.w - pw, main.h);
    } else {
        int ph = main.h * 45 / 100, lo = c->h < 30 ? 5 : 8;
        /* squeezed for a step's targets: first to 30 % but never below three lines of narration
         * a page (seven rows compact; at 80x24 the 30 % left one line, a title and "more"),
         * and only when the targets still do not fit, to five rows */
        if (u->squeeze == 1) ph = main.h * 30 / 100 > 7 ? main.h * 30 / 100 : 7;
        if (u->squeeze >= 2) ph = 5;
        if (ph < lo) ph = lo;
        if (ph > main.h - 4) ph = main.h - 4;
        pane = rect_make(main.x, main.y + main.h - ph, main.w, ph);
        rest = rect_make(main.x, main.y, main.w, main.h - ph);
    }
    const Lesson *l = p->lesson;
    u->pane = pane;
    /* compact on a short screen: no blank rows, the target on the progress line, the keys on the
     * bottom border, so a 24-row terminal reads five lines per page instead of one or two */
    const bool compact = u->bottom && (c->h < 30 || pane.h < 8);
    const int gap = compact ? 0 : 1;
    canvas_fill(c, pane, " ", sty(CR_TEXT));
    char title[300];
    snprintf(title, sizeof title, "%s", l->title);
    Rect in = w_frame(c, pane, title, true);
    in = rect_make(in.x + 1, in.y, in.w - 2, in.h);
    if (in.w < 8 || in.h < (compact ? 2 : 3)) return rest;
    canvas_push_clip(c, in);
    int k = p->step;
    const LessonStep *st = k >= 0 ? &l->steps[k] : NULL;
    /* progress: step k of n, with dots */
    char prog[96];
    if (compact) snprintf(prog, sizeof prog, "%d/%d ", k + 1, l->n_steps);
    else snprintf(prog, sizeof prog, tr_lang(L, "step %d/%d  "), k + 1, l->n_steps);
    int x = canvas_text(c, in.x, in.y, prog, sty(CR_DIM));
    for (int i = 0; i < l->n_steps && x < in.x + in.w; i++)
        x = canvas_text(c, x, in.y, c->unicode ? (i <= k ? "\xe2\x97\x8f" : "\xe2\x97\x8b") : (i <= k ? "*" : "."),
                        sty(i == k ? CR_ACCENT : i < k ? CR_TEXT : CR_DIM));
    char look[400];
    bool look_whole = false;                /* the progress line names the targets whole */
    if (compact && st && st->n_targets) {   /* always in sight, whatever page */
        look_at_line(u, st, L, c->unicode, !u->off_screen, look, sizeof look);
        look_whole = !u->off_screen && text_width(look, c->unicode) <= in.x + in.w - x - 2;
        canvas_text_fit(c, x + 2, in.y, look, in.x + in.w - x - 2, sty_attr(u->off_screen ? CR_WARN : CR_ACCENT, ATTR_BOLD));
    }
    /* the narration scrolls in the rows between the progress line and the key line */
    Rect view = compact ? rect_make(in.x, in.y + 1, in.w, in.h - 1) : rect_make(in.x, in.y + 1, in.w, in.h - 2);
    int sc = u->scroll;
    Rect full = in;
    in = rect_make(in.x, in.y - sc, in.w, in.h + sc + 1000);
    canvas_push_clip(c, view);
    int y = full.y + (compact ? 1 : 2) - sc;
    Style tx = sty(CR_TEXT), vs = sty_attr(CR_ACCENT, ATTR_BOLD);
    /* where to look comes under the step's title, before the narration, so a long step's first
     * page shows it (after the narration, at 100x30 it was past the first page of all 97 steps,
     * in each language; at 80x24 of 3 English steps) */
    char hl[512];
    const bool has_hl = highlight_line(a, L, c->unicode, hl, sizeof hl);
    const bool has_look = (st && st->n_targets && !look_whole) || has_hl;
    if (st && st->title) {
        char *t = lesson_player_expand(p, st->title, true, NULL);
        y = draw_block(c, in, y, t ? t : st->title, sty_attr(CR_TITLE, ATTR_BOLD), sty_attr(CR_ACCENT, ATTR_BOLD)) + (has_look ? 0 : gap);
        free(t);
    }
    if (st && st->n_targets && !look_whole) {
        look_at_line(u, st, L, c->unicode, false, look, sizeof look);
        y = draw_block(c, in, y, look, sty_attr(u->off_screen ? CR_WARN : CR_ACCENT, ATTR_BOLD), vs);
    }
    if (has_hl) y = draw_block(c, in, y, hl, sty_attr(CR_ACCENT, ATTR_BOLD), vs);
    if (has_look) y += gap;
    if (st) {
        char *t = lesson_player_expand(p, st->text, true, NULL);
        y = draw_block(c, in, y, t ? t : st->text, tx, vs) + gap;
        free(t);
    }
    if (st && st->question) {
        char *q = lesson_player_expand(p, st->question, true, NULL);
        char buf[LESSON_MAX_TEXT + 64];
        snprintf(buf, sizeof buf, "%s%s", tr_lang(L, "Q: "), q ? q : st->question);
        y = draw_block(c, in, y, buf, sty_attr(CR_WARN, ATTR_BOLD), vs);
        free(q);
        if (p->revealed) {
            char *an = lesson_player_expand(p, st->answer, true, NULL);
            snprintf(buf, sizeof buf, "%s%s", tr_lang(L, "A: "), an ? an : st->answer);
            y = draw_block(c, in, y, buf, sty(CR_GOOD), vs) + gap;
            free(an);
        } else {
            y = draw_block(c, in, y, tr_lang(L, "(a or \xe2\x86\x92 shows the answer)"), sty(CR_DIM), vs) + gap;
        }
    }
    if (st && st->predict.kind != LP_NONE) y = draw_predict(u, c, in, y, st, zh, vs) - 1 + gap;
    if (u->err[0]) y = draw_block(c, in, y, u->err, sty_attr(CR_ERROR, ATTR_BOLD), vs) + gap;
    const char *keys = tr_lang(L, "\xe2\x86\x90 \xe2\x86\x92 step  a answer  q leave  L menu");
    if (!c->unicode) keys = zh ? "<- -> page  a answer  q leave  L menu" : "<- -> step  a answer  q leave  L menu";
    canvas_pop_clip(c);
    in = full;
    int last = view.y + view.h;             /* the first row below the narration */
    int end = y + sc;                       /* where the content ends, unscrolled */
    u->overflow = end > last;
    u->more = y > last;
    u->page = compact ? (view.h - 1 > 1 ? view.h - 1 : 1) : (in.h - 3 > 1 ? in.h - 3 : 1);
    char more[160];
    if (u->more || sc > 0) {
        /* the key line says that the step pages: ▼ more below, ▲ above */
        snprintf(more, sizeof more, "%s%s  %s", u->more ? (c->unicode ? "\xe2\x96\xbc " : "v ") : "",
                 u->more ? tr_lang(L, "\xe2\x86\x92 more") : tr_lang(L, "\xe2\x86\x90 back"),
                 keys);
        if (!c->unicode) snprintf(more, sizeof more, "%s  %s", u->more ? "-> more" : "<- back", keys);
        keys = more;
    }
    Style ks = sty_attr(u->more ? CR_ACCENT : CR_DIM, u->more ? ATTR_BOLD : 0);
    if (compact) {                          /* on the bottom border, as the panels' key hints */
        canvas_pop_clip(c);
        char kb[200];
        snprintf(kb, sizeof kb, " %s ", keys);
        canvas_text_fit(c, pane.x + 2, pane.y + pane.h - 1, kb, pane.w - 4, ks);
        return rest;
    }
    canvas_text_fit(c, in.x, in.y + in.h - 1, keys, in.w, ks);
    canvas_pop_clip(c);
    return rest;
}

/* ---- menu --------------------------------------------------------------------------------- */

static void menu_scan(LessonUi *u) {
    char dir[1200];
    lesson_dir(u->root, u->lang, dir, sizeof dir);
    char **v;
    int n = lesson_list_files(dir, &v);
    u->n_items = 0;
    for (int i = 0; i < n && u->n_items < MENU_MAX; i++) {
        Err e = {0};
        Lesson *l = lesson_load(v[i], &e);
        const char *base = strrchr(v[i], '/');
        base = base ? base + 1 : v[i];
        snprintf(u->files[u->n_items], sizeof u->files[0], "%s", v[i]);
        if (l) snprintf(u->titles[u->n_items], sizeof u->titles[0], "%.2s  %s", base, l->title);
        else snprintf(u->titles[u->n_items], sizeof u->titles[0], "%s  (invalid: see llmscope lesson --check)", base);
        lesson_free(l);
        u->n_items++;
    }
    lesson_free_list(v, n);
    if (u->menu_sel >= u->n_items) u->menu_sel = u->n_items ? u->n_items - 1 : 0;
}

void lesson_ui_draw_menu(App *a, Canvas *c) {
    LessonUi *u = a->lesson;
    if (!u || !u->menu) return;
    const UiLang L = is_zh(u) ? LANG_ZH : LANG_EN;   /* the menu lists the lessons of u->lang */
    int n = u->n_items;
    int w = c->w - 4 < 76 ? c->w - 4 : 76, h = (n ? n : 1) + 4;
    if (h > c->h - 2) h = c->h - 2;
    Rect b = rect_make((c->w - w) / 2, (c->h - h) / 2, w, h);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    /* without Unicode Chinese could only be drawn as '?': no Tab to the Chinese lessons */
    u->menu_ascii = !c->unicode;
    Rect in = w_frame(c, b, c->unicode ? tr_lang(L, "Lessons \xc2\xb7 Enter opens \xc2\xb7 Tab \xe4\xb8\xad\xe6\x96\x87")
                                       : tr_lang(L, "Lessons \xc2\xb7 Enter opens"), true);
    if (in.w <= 2 || in.h <= 1) return;
    if (!n) {
        char msg[1300];
        char dir[1200];
        lesson_dir(u->root, u->lang, dir, sizeof dir);
        snprintf(msg, sizeof msg, tr_lang(L, "no lessons in %s"), dir);
        canvas_text_fit(c, in.x + 1, in.y, msg, in.w - 2, sty(CR_WARN));
        return;
    }
    int body = in.h - 1;
    int first = u->menu_sel >= body ? u->menu_sel - body + 1 : 0;
    const int shown = n - first < body ? n - first : body;
    w_frame_more(c, b, first, n - first - shown, tr_lang(L, "%s more"));   /* lessons out of view */
    for (int i = 0; i < shown; i++) {
        int k = first + i;
        bool cur = u->player && !strcmp(u->player->lesson->file, u->files[k]);
        Style st = k == u->menu_sel ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_TEXT);
        Rect row = rect_make(in.x, in.y + i, in.w, 1);
        canvas_fill(c, row, " ", st);
        char line[260];
        snprintf(line, sizeof line, " %s %s", cur ? "*" : " ", u->titles[k]);
        canvas_text_fit(c, in.x, in.y + i, line, in.w, st);
    }
    canvas_text_fit(c, in.x + 1, in.y + in.h - 1,
                    tr_lang(L, "\xe2\x86\x91\xe2\x86\x93 choose  Enter open  Esc cancel"),
                    in.w - 2, sty(CR_DIM));
}

static int menu_key(App *a, int key) {
    LessonUi *u = a->lesson;
    if (key == TK_ESC || key == 'q' || key == 'L') { u->menu = false; return KR_ALL; }
    if (key == TK_UP || key == 'k') { if (u->menu_sel > 0) u->menu_sel--; return KR_ALL; }
    if (key == TK_DOWN || key == 'j') { if (u->menu_sel + 1 < u->n_items) u->menu_sel++; return KR_ALL; }
    if (key == TK_HOME) { u->menu_sel = 0; return KR_ALL; }
    if (key == TK_END) { u->menu_sel = u->n_items ? u->n_items - 1 : 0; return KR_ALL; }
    if (key == TK_TAB) {
        if (u->menu_ascii && !is_zh(u)) {
            scene_status(a->sc, true, "%s", tr("the Chinese lessons need a UTF-8 terminal"));
            return KR_ALL;
        }
        snprintf(u->lang, sizeof u->lang, "%s", is_zh(u) ? "en" : "zh");
        menu_scan(u);
        return KR_ALL;
    }
    if (key == TK_ENTER && u->n_items) {
        u->menu = false;
        Err e = {0};
        char path[1024];
        snprintf(path, sizeof path, "%s", u->files[u->menu_sel]);
        if (!lesson_ui_open(a, path, 0, &e)) {
            scene_status(a->sc, true, "%s", e.msg);
        }
        return KR_ALL;
    }
    return KR_ALL;
}

/* A key while the answer field is open: it takes every key (Esc closes it). */
static int input_key(LessonUi *u, const LessonStep *st, int key) {
    LessonPlayer *p = u->player;
    if (key == TK_ESC) { u->input = false; u->input_err[0] = 0; return KR_ALL; }
    bool commit = key == TK_ENTER;
    if (st->predict.kind == LP_CHOICE && key >= '1' && key <= '9') {
        char d[2] = {(char)key, 0};
        lineedit_set(&u->edit, d);
        commit = true;
    } else if (!commit) {
        if (key == TK_LEFT || key == TK_RIGHT || key == TK_BACKSPACE || key == TK_DELETE || key == TK_HOME || key == TK_END ||
            (key >= 0x20 && key < TK_BASE)) {
            lineedit_key(&u->edit, key);
            u->input_err[0] = 0;
        }
        return KR_ALL;
    }
    Err e = {0};
    if (!lesson_player_predict(p, u->edit.buf, &e)) {
        snprintf(u->input_err, sizeof u->input_err, "\xe2\x9c\x97 %s", e.msg);
        return KR_ALL;
    }
    u->input = false;
    u->input_err[0] = 0;
    return KR_ALL;
}

int lesson_ui_key(App *a, int key) {
    LessonUi *u = a->lesson;
    if (u && u->menu) return menu_key(a, key);
    if (key == 'L') {
        u = lesson_ui_get(a, NULL, NULL);
        if (!u) return KR_IGNORED;
        menu_scan(u);
        u->menu = true;
        if (u->player)
            for (int i = 0; i < u->n_items; i++)
                if (!strcmp(u->files[i], u->player->lesson->file)) u->menu_sel = i;
        return KR_ALL;
    }
    if (!u || !u->player) return KR_IGNORED;
    LessonPlayer *pl = u->player;
    const LessonStep *cur = pl->step >= 0 ? &pl->lesson->steps[pl->step] : NULL;
    if (u->input && cur && cur->predict.kind != LP_NONE && !pl->pred_done) return input_key(u, cur, key);
    if (cur && cur->predict.kind != LP_NONE && !pl->pred_done && (key == 'a' || key == TK_ENTER)) { u->input = true; return KR_ALL; }
    switch (key) {
    case ' ': case TK_RIGHT: case TK_PGDN: lesson_ui_next(a); return KR_ALL;
    case TK_LEFT: case TK_PGUP: case TK_BACKSPACE: lesson_ui_prev(a); return KR_ALL;
    case TK_HOME: goto_step(a, 0); return KR_ALL;
    case 'a': case TK_ENTER: {
        LessonPlayer *p = u->player;
        if (p->step >= 0 && p->lesson->steps[p->step].question) { p->revealed = !p->revealed; return KR_ALL; }
        return KR_IGNORED;
    }
    case 'q': lesson_ui_close(a); return KR_ALL;
    default: return KR_IGNORED;
    }
}

bool lesson_ui_input_open(App *a) { return a->lesson && a->lesson->player && a->lesson->input; }
bool lesson_ui_menu_open(App *a) { return a->lesson && a->lesson->menu; }

bool lesson_ui_more(App *a) { return a->lesson && a->lesson->player && a->lesson->more; }
void lesson_ui_page_reset(App *a) { if (a->lesson) { a->lesson->scroll = 0; a->lesson->more = false; } }
const char *lesson_ui_input_error(App *a) { return a->lesson ? a->lesson->input_err : ""; }

bool lesson_ui_answer(App *a, const char *text) {
    LessonPlayer *p = lesson_ui_player(a);
    if (!p || p->step < 0 || p->lesson->steps[p->step].predict.kind == LP_NONE) return false;
    if (p->pred_done) return true;
    if (!a->lesson->input) lesson_ui_key(a, 'a');            /* opens the answer field */
    for (const unsigned char *u = (const unsigned char *)text; *u && !p->pred_done;) {
        int len = u[0] < 0x80 ? 1 : u[0] < 0xe0 ? 2 : u[0] < 0xf0 ? 3 : 4;
        int cp = len == 1 ? u[0] : u[0] & (0x3f >> (len - 1));
        for (int i = 1; i < len; i++) {
            if ((u[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (u[i] & 0x3f);
        }
        lesson_ui_key(a, cp);
        u += len;
    }
    if (!p->pred_done) lesson_ui_key(a, TK_ENTER);
    return p->pred_done;
}
