/* App: layout, header, tabs, token strip, function bar, and the way in for keys and the
 * mouse (see app.h for the path of a key). Overlays are in app_overlay.c. */
#include "core/path.h"
#include "tui/app.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/i18n.h"
#include "tui/lesson_pane.h"
#include "tui/first_hint.h"
#include "tui/theme.h"
#include "tui/widgets/widgets.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void app_add_hit(App *a, Rect r, HitKind kind, int arg, int side) {
    if (a->n_hits >= APP_MAX_HITS || r.w <= 0 || r.h <= 0) return;
    a->hits[a->n_hits++] = (Hit){r, kind, arg, side};
}

const char *app_model_basename(const char *path, char *buf, size_t cap) { return path_base_name(path, true, buf, cap); }

/* ---- lifecycle --------------------------------------------------------------------- */

/* A session is about to be freed: the compare band's engines borrow its model (a finished
 * band keeps them to extend its result), so they go first. */
static void app_on_release(void *ud, const Session *s) {
    App *a = ud;
    const void *m = session_model(s);
    if (m && (a->cmp.ma == m || a->cmp.mb == m)) compare_cache_free(&a->cmp);
}

App *app_new(void) {
    App *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->sc = scene_new();
    if (!a->sc) { free(a); return NULL; }
    a->sc->release_cb = app_on_release;
    a->sc->release_ud = a;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        a->pst[i] = pc && pc->create ? pc->create() : NULL;
    }
    a->pst_tradeoff = panel_tradeoff.create();
    a->run_ms = 350;
    a->panel_budget_ms = 40;
    a->scfg = a->sc->scfg;
    return a;
}

void app_free(App *a) {
    if (!a) return;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        if (pc && pc->destroy) pc->destroy(a->pst[i]);
    }
    panel_tradeoff.destroy(a->pst_tradeoff);
    compare_cache_free(&a->cmp);
    lesson_ui_free(a->lesson);
    scene_free(a->sc);
    free(a);
}

void app_set_session(App *a, int slot, Session *s, bool own) { scene_set_session(a->sc, slot, s, own); }

bool app_select_panel(App *a, const char *name) {
    Err e = {0};
    if (name && !strcmp(name, "tradeoff"))     /* the trade-off view, over the KV panel */
        return scene_show_panel(a->sc, PANEL_KV, &e) && scene_do(a->sc, "tradeoff.toggle", 0, &e);
    int p = scene_panel_find(name);
    return p >= 0 && scene_show_panel(a->sc, p, &e);
}

/* ---- drawing: header, tabs, tokens, function bar ---------------------------------- */

/* The prompt's prefill runs in pieces (nothing computed yet to show). */
static bool prefilling(const Scene *sc, const Session *s) {
    return s && session_cursor(s) < 0 && scene_busy(sc) && session_pending(s);
}

static const char *phase_name(const Scene *sc, const Session *s) {
    if (prefilling(sc, s)) return tr("prefill");
    if (!s || session_cursor(s) < 0) return tr("ready");
    const TraceTok *t = trace_tok(session_trace(s), session_cursor(s));
    if (!t) return tr("ready");
    return t->phase == PHASE_PREFILL ? tr("prefill") : tr("decode");
}

/* A session's sampler as the header names it ("T0.7 k20 p0.95": top-k when on, top-p below 1),
 * or "" when it decodes greedily. */
static void sampler_text(const Session *s, char *out, size_t cap) {
    SamplerCfg f = s && session_sampler(s) ? sampler_cfg(session_sampler(s)) : (SamplerCfg){.greedy = true};
    out[0] = 0;
    if (f.greedy) return;
    int k = snprintf(out, cap, "T%g", (double)f.temperature);
    if (f.top_k > 0) k += snprintf(out + k, cap - (size_t)k, " k%d", f.top_k);
    if (f.top_p < 1) snprintf(out + k, cap - (size_t)k, " p%g", (double)f.top_p);
}

/* "  A: name (T1.5 k5 p0.9)  ": side i's name in the header, with its sampler smp when tags is 2,
 * or 1 and smp is not greedy ("" is), " (greedy)" for a greedy side when tags is 2. */
static void header_name(const App *a, int i, int n, const char *smp, int tags, char *out, size_t cap) {
    char nm[128], tag[80] = "";
    if (tags && smp[0]) snprintf(tag, sizeof tag, " (%s)", smp);
    else if (tags == 2) snprintf(tag, sizeof tag, "%s", tr(" (greedy)"));
    snprintf(out, cap, "%s%s%s  ", i ? "  B: " : (n > 1 ? "  A: " : "  "),
             app_model_basename(session_model_path(a->sc->ses[i]), nm, sizeof nm), tag);
}

/* The width of the names (header_name) as drawn at the narrowest: without "llmscope" and the
 * model lines, one blank before A's name is on screen and none follow B's. */
static int names_min_w(const App *a, int n, char smp[2][64], int tags, const Canvas *c) {
    int w = 0;
    for (int i = 0; i < n; i++) {
        char nm[200];
        header_name(a, i, n, smp[i], tags, nm, sizeof nm);
        w += text_width(nm, c->unicode) - 2;
    }
    return w;
}

static void draw_header(App *a, Canvas *c, Rect r) {
    Style hs = sty2(CR_TEXT, CR_HEADER, 0);
    canvas_fill(c, r, " ", hs);
    snprintf(c->owner, sizeof c->owner, "header");
    canvas_target(c, r, "header");
    c->owner[0] = 0;
    canvas_push_clip(c, r);
    char right[256] = "";
    Session *s = a->sc->ses[0];
    if (s) {
        char st[64];
        Selection sel = scene_sel(a->sc, 0);
        if (stage_is_per_layer(sel.stage)) snprintf(st, sizeof st, tr("L%d %s"), sel.layer, tr(stage_name(sel.stage)));
        else snprintf(st, sizeof st, "%s", tr(stage_name(sel.stage)));
        int len = session_len(s);
        snprintf(right, sizeof right, tr("%s%s \xe2\x94\x82 pos %d/%d \xe2\x94\x82 %s "), a->sc->running ? tr("\xe2\x96\xb6 run \xe2\x94\x82 ") : "",
                 phase_name(a->sc, s), session_cursor(s) < 0 ? 0 : session_cursor(s), len ? len - 1 : 0, st);
        if (!c->unicode) {
            snprintf(right, sizeof right, "%s%s | pos %d/%d | %s ", a->sc->running ? "> run | " : "", phase_name(a->sc, s),
                     session_cursor(s) < 0 ? 0 : session_cursor(s), len ? len - 1 : 0, st);
        }
        /* alone: the sampler when it samples ("T0.7 k20 p0.95"; greedy, the lessons' default, says
         * nothing here: the Output panel and the s form show it), first of the right part, while at
         * least 24 columns stay for the model's name; in compare mode each side's goes after its
         * name (below) */
        char smp[64];
        sampler_text(s, smp, sizeof smp);
        if (a->sc->n_ses < 2 && smp[0]) {
            char both[320];
            snprintf(both, sizeof both, "%s%s%s", smp, c->unicode ? " \xe2\x94\x82 " : " | ", right);
            if (r.x + 1 + text_width("llmscope", c->unicode) + 24 + text_width(both, c->unicode) <= r.x + r.w)   /* after "llmscope" */
                snprintf(right, sizeof right, "%s", both);
        }
    }
    const char *sep = " \xc2\xb7 ";                    /* panel_model_line's (drawn as '.' in ASCII) */
    char name[2][200], part[2][256], line[2][460], smp[2][64] = {"", ""};
    const int n = a->sc->n_ses < 2 ? a->sc->n_ses : 2;
    /* compare mode: when either side samples, each name is followed by its side's sampler
     * ("A: story-gqa (greedy)  B: g (T1.5 k5 p0.9)"), as B samples with its own model's defaults;
     * the samplers stay whole with the names, and go only after the "llmscope" before them:
     * first "(greedy)" (a side without a sampler decodes greedily, as alone), then the others */
    int tags = 0;                                       /* 2 every side's, 1 the samplers only, 0 none */
    if (n == 2) {
        for (int i = 0; i < 2; i++) sampler_text(a->sc->ses[i], smp[i], sizeof smp[i]);
        tags = smp[0][0] || smp[1][0] ? 2 : 0;
    }
    /* the names stay whole: where they and the right part do not fit (a lesson's stage "L2 ln1"
     * in compare mode at 60 columns read "B: story-m…"), the right part loses the stage, then
     * the phase; "pos 7/7" stays. The samplers go when the names do not fit even beside "pos
     * 7/7"; the right part is chosen after them, against the names as they are drawn at the
     * narrowest (no "llmscope", no model lines: one blank before A's name, none after B's), so
     * that it takes the room the samplers leave (it kept "pos 7/7" with a gap before it) */
    if (s) {
        const int cur = session_cursor(s) < 0 ? 0 : session_cursor(s), len = session_len(s);
        const char *bar = c->unicode ? " \xe2\x94\x82 " : " | ";
        char shorter[2][128];
        snprintf(shorter[0], sizeof shorter[0], tr("%s%spos %d/%d "), phase_name(a->sc, s), bar, cur, len ? len - 1 : 0);
        snprintf(shorter[1], sizeof shorter[1], tr("pos %d/%d "), cur, len ? len - 1 : 0);
        int names_w = names_min_w(a, n, smp, tags, c);
        while (tags && names_w + text_width(shorter[1], c->unicode) > r.w) {
            tags = tags == 2 && !(smp[0][0] && smp[1][0]) ? 1 : 0;
            names_w = names_min_w(a, n, smp, tags, c);
        }
        if (names_w + text_width(right, c->unicode) > r.w)
            snprintf(right, sizeof right, "%s", names_w + text_width(shorter[0], c->unicode) <= r.w ? shorter[0] : shorter[1]);
    }
    for (int i = 0; i < n; i++) {
        panel_model_line(a->sc->ses[i], part[i], sizeof part[i]);
        header_name(a, i, n, smp[i], tags, name[i], sizeof name[i]);
    }
    /* the right part wins; the models' text before it keeps one blank and loses whole " · "
     * parts ("6L d192" is never cut to "6L d1"), then is cut with an ellipsis */
    const int bw = text_width(right, c->unicode);
    const int end = *right ? r.x + r.w - bw - 1 : r.x + r.w;
    /* too wide: the wider line (A and B in compare mode) loses a part, the last ones first
     * ("6L d192"), then the model type before the attention kind ("GQA 8q/2kv" stays); then
     * the wider line's attention kind, then the other's (the names stay: "A: story-gqa  B:
     * story-mla" at 70 columns), then the "llmscope" before them; only then is the rest cut */
    bool brand = true;
    int x = r.x + 1 + text_width("llmscope", c->unicode);
    for (;;) {
        int tw = 0, wi = -1, ww = -1, wp = -1, wpw = -1;
        for (int i = 0; i < n; i++) {
            size_t nl = strlen(name[i]);
            if (!*part[i] && nl >= 2) nl -= 2;          /* no part: no blanks before the next name */
            snprintf(line[i], sizeof line[i], "%.*s%s", (int)nl, name[i], part[i]);
            int w = text_width(line[i], c->unicode);
            tw += w;
            if (strstr(part[i], sep) && w > ww) { ww = w; wi = i; }
            if (*part[i] && w > wpw) { wpw = w; wp = i; }
        }
        if (x + tw <= end) break;
        if (wi >= 0) {
            char *first = strstr(part[wi], sep), *last = first, *cut;
            while ((cut = strstr(last + 1, sep)) != NULL) last = cut;
            if (last != first) *last = 0;
            else memmove(part[wi], first + strlen(sep), strlen(first + strlen(sep)) + 1);
        } else if (wp >= 0) {
            /* the narrower part whose going is enough (the most text stays), else the wider one */
            int drop = wp, best = -1;
            for (int i = 0; i < n; i++) {
                int pw = text_width(part[i], c->unicode) + 2;
                if (*part[i] && x + tw - pw <= end && (best < 0 || pw < best)) { best = pw; drop = i; }
            }
            part[drop][0] = 0;
        } else if (brand) {
            brand = false;
            x = r.x - 1;                                /* the names' first blank is the line's */
        } else if (tags) {                              /* the samplers, before a name is cut */
            tags = tags == 2 && !(smp[0][0] && smp[1][0]) ? 1 : 0;
            for (int i = 0; i < n; i++) header_name(a, i, n, smp[i], tags, name[i], sizeof name[i]);
        } else {
            break;
        }
    }
    if (brand) canvas_text(c, r.x + 1, r.y, "llmscope", sty2(CR_ACCENT, CR_HEADER, ATTR_BOLD));
    /* names still too wide: each side keeps its room, the longer name is cut first ("A:
     * Qwen3-0.6B-random-bf1…  B: story-gqa" at 80 columns; A's name took the row and B's went
     * unseen), and two long names share it */
    int room[2] = {0, 0};
    for (int i = 0; i < n; i++) room[i] = text_width(line[i], c->unicode);
    if (n == 2 && x + room[0] + room[1] > end) {
        const int avail = end - x > 0 ? end - x : 0, half = avail / 2;
        const int sm = room[0] < room[1] ? 0 : 1;
        if (room[sm] <= half) room[!sm] = avail - room[sm];
        else room[0] = avail - half, room[1] = half;
    }
    for (int i = 0; i < n; i++) {
        const int lim = x + room[i] < end ? x + room[i] : end;
        if (x < lim) x += canvas_text_fit(c, x, r.y, line[i], lim - x, sty2(i ? CR_WARN : CR_TITLE, CR_HEADER, ATTR_BOLD));
    }
    if (!a->sc->n_ses) canvas_text(c, x, r.y, tr("  no model"), hs);
    if (s) canvas_text(c, r.x + r.w - bw < r.x ? r.x : r.x + r.w - bw, r.y, right, sty2(CR_TEXT, CR_HEADER, ATTR_BOLD));
    canvas_pop_clip(c);
}

/* The status message: the scene's, and while work runs the keys typed and clicks made that wait
 * for its end ("n waits until it ends", "1 click waits until it ends"). */
static const char *status_text(const App *a, char *buf, size_t cap) {
    if (!a->n_typed || !scene_busy(a->sc)) return a->sc->msg;
    char w[96];
    int k = a->typed[0].key, clicks = 0;
    for (int i = 0; i < a->n_typed; i++) clicks += !a->typed[i].key;
    if (a->n_typed == 1 && k > 0x20 && k < 0x7f) snprintf(w, sizeof w, tr("%c waits until it ends"), (char)k);
    else if (a->n_typed == 1) snprintf(w, sizeof w, "%s", k ? tr("1 key waits until it ends") : tr("1 click waits until it ends"));
    else if (!clicks) snprintf(w, sizeof w, tr("%d keys wait until it ends"), a->n_typed);
    else if (clicks == a->n_typed) snprintf(w, sizeof w, tr("%d clicks wait until it ends"), a->n_typed);
    else snprintf(w, sizeof w, tr("%d keys and clicks wait until it ends"), a->n_typed);
    snprintf(buf, cap, "%s%s%s", a->sc->msg, a->sc->msg[0] ? " \xc2\xb7 " : "", w);
    return buf;
}

/* Columns the tab row takes: " N name " per panel and a space after each (pad 5), or, compact,
 * "N name" and a space (pad 3). */
static int tabs_width(bool longn, int pad) {
    int w = 0;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        w += text_width(tr(longn ? pc->title : pc->tab), true) + pad;
    }
    return w;
}

/* The tabs, and the status message beside them when it fits there whole (long names, else
 * the short ones). Returns false when it does not: then it goes on the bottom row, so a
 * message never hides a tab. */
static bool draw_tabs(App *a, Canvas *c, Rect r) {
    canvas_fill(c, r, " ", sty(CR_TEXT));
    canvas_push_clip(c, r);
    char sbuf[SCENE_MSG_CAP + 80];
    const char *msg = status_text(a, sbuf, sizeof sbuf);
    const int msg_w = msg[0] ? text_width(msg, c->unicode) + 1 : 0;
    const int long_w = tabs_width(true, 5), short_w = tabs_width(false, 5);
    const bool beside = !msg_w || short_w + msg_w <= r.w;
    const bool longn = long_w + msg_w <= r.w || (!beside && long_w <= r.w);
    /* narrower than the short names: "N name" with one space between, and narrower still the
     * numbers alone but the current panel's name, so that every tab keeps its number */
    const bool compact = !longn && short_w > r.w;
    const bool numbers = compact && tabs_width(false, 3) - 1 > r.w;     /* no space after the last */
    int x = r.x;
    if (compact && !numbers && tabs_width(false, 3) <= r.w) x++;     /* a blank before, as the wider rows */
    if (numbers) {
        int nw = 2 * PANEL_COUNT + text_width(tr(panel_class(a->sc->panel)->tab), true) + 1;
        if (nw <= r.w) x++;
    }
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        char t[64];
        bool cur = i == a->sc->panel;
        if (numbers && !cur) snprintf(t, sizeof t, "%d", i + 1);
        else if (compact) snprintf(t, sizeof t, "%d %s", i + 1, tr(pc->tab));
        else snprintf(t, sizeof t, " %d %s ", i + 1, longn ? tr(pc->title) : tr(pc->tab));
        Style st = cur ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_DIM);
        int x0 = x;
        x = canvas_text(c, x, r.y, t, st);
        app_add_hit(a, rect_make(x0, r.y, x - x0, 1), HIT_TAB, i, 0);
        x++;
    }
    if (msg_w && beside)
        canvas_text(c, r.x + r.w - msg_w, r.y, msg, sty_attr(a->sc->msg_error ? CR_ERROR : CR_GOOD, ATTR_BOLD));
    canvas_pop_clip(c);
    return beside;
}

static void draw_tokens(App *a, Canvas *c, Rect r, Session *s, int side) {
    if (!s) return;
    int len = session_len(s);
    int n = session_n_ids(s) > len ? session_n_ids(s) : len;
    if (n <= 0) { canvas_text_fit(c, r.x, r.y, tr("no prompt: press e to type one"), r.w, sty(CR_DIM)); return; }
    if (n > 8192) n = 8192;
    Chip *chips = calloc((size_t)n, sizeof(Chip));
    Rect *hits = calloc((size_t)n, sizeof(Rect));
    char (*texts)[64] = calloc((size_t)n, 64);
    if (chips && hits && texts) {
        for (int i = 0; i < n; i++) {
            const TraceTok *tk = i < len ? trace_tok(session_trace(s), i) : NULL;
            int id = tk ? tk->id : (i < session_n_ids(s) ? session_ids(s)[i] : -1);
            panel_tok_text(s, id, texts[i], 64);
            chips[i].text = texts[i];
            chips[i].prefill = tk ? tk->phase == PHASE_PREFILL : i < session_n_prompt(s);
            chips[i].current = i == session_cursor(s);
            chips[i].dim = i > session_cursor(s);
        }
        w_tokstrip(c, r, chips, n, hits);
        for (int i = 0; i < n; i++) if (hits[i].w) app_add_hit(a, hits[i], HIT_TOKEN, i, side);
        snprintf(c->owner, sizeof c->owner, "tokens");
        for (int i = 0; i < n; i++) {
            if (!hits[i].w) continue;
            canvas_target(c, hits[i], "tokens.pos:%d", i);
            if (i == session_cursor(s)) canvas_target(c, hits[i], "tokens.cursor");
        }
        c->owner[0] = 0;
    }
    free(chips);
    free(hits);
    free(texts);
}

typedef struct { int key; const char *num, *label; } FKey;

/* The function keys that fit whole (below 80 columns the last ones are left out, not cut); with
 * msg, the status message at the right end of the row (cut with an ellipsis if it is wider than
 * the row) and only the keys that fit whole before it. */
static void draw_fbar(App *a, Canvas *c, Rect r, bool msg) {
    static const FKey F[] = {
        {TK_F1, "F1", N_("Help")}, {TK_F2, "F2", N_("Prompt")}, {TK_F3, "F3", N_("Model")}, {TK_F4, "F4", N_("Sample")},
        {TK_F5, "F5", N_("Run")}, {TK_F6, "F6", N_("Compar")}, {TK_F7, "F7", N_("Layer-")}, {TK_F8, "F8", N_("Layer+")},
        {TK_F9, "F9", N_("Panel")}, {TK_F10, "F10", N_("Quit")}};
    canvas_fill(c, r, " ", sty(CR_TEXT));
    canvas_push_clip(c, r);
    int end = r.x + r.w;                /* the keys end before this column */
    char sbuf[SCENE_MSG_CAP + 80];
    const char *stext = status_text(a, sbuf, sizeof sbuf);
    if (msg) {
        int tw = text_width(stext, c->unicode), room = r.w - 2;
        int mx = r.x + r.w - 1 - (tw < room ? tw : room);
        if (mx < r.x) mx = r.x;
        canvas_text_fit(c, mx, r.y, stext, r.x + r.w - 1 - mx, sty_attr(a->sc->msg_error ? CR_ERROR : CR_GOOD, ATTR_BOLD));
        end = mx - 1;
    }
    int x = r.x;
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        const char *label = F[i].label;
        if (F[i].key == TK_F5 && a->sc->running) label = N_("Pause");
        if (F[i].key == TK_F6 && a->sc->n_ses == 2) label = N_("Single");
        label = tr(label);
        /* the label padded (or cut) to 6 display columns: a CJK character is 2 */
        char lb[64];
        int lw;
        size_t nb = text_fit_bytes(label, 6, c->unicode, &lw);
        /* whole keys only, their padding aside ("F8La" was left at 60 columns, "F10Quit" fits 80) */
        if (x + (int)strlen(F[i].num) + (msg ? 6 : lw) > end) break;
        int x0 = x;
        x = canvas_text(c, x, r.y, F[i].num, sty_attr(CR_FKEY, ATTR_BOLD));
        snprintf(lb, sizeof lb, "%.*s%*s", (int)nb, label, 6 - lw, "");
        x = canvas_text(c, x, r.y, lb, sty2(CR_DEFAULT, CR_FLABEL, 0));
        Style ls = sty2(CR_DEFAULT, CR_FLABEL, 0);
        ls.fg = theme_color(CR_ON_FLABEL);
        canvas_restyle(c, rect_make(x - 6, r.y, 6, 1), ls);
        app_add_hit(a, rect_make(x0, r.y, x - x0, 1), HIT_FKEY, F[i].key, 0);
        snprintf(c->owner, sizeof c->owner, "keys");
        canvas_target(c, rect_make(x0, r.y, x - x0, 1), "keys.%s", F[i].num);
        c->owner[0] = 0;
    }
    canvas_pop_clip(c);
}

static void draw_too_small(App *a, Canvas *c) {
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    char l2[128];
    snprintf(l2, sizeof l2, tr("need %dx%d, have %dx%d"), APP_MIN_W, APP_MIN_H, c->w, c->h);
    const char *src[3] = {tr("terminal too small"), l2, tr("enlarge it, or q to quit")};
    /* word-wrap each line to the width (the notice must stay readable in a tiny window):
     * at the last space that fits, else at the last whole character (CJK has no spaces) */
    char out[16][128];
    int role[16], n = 0;
    int maxw = c->w > 0 ? c->w : 1;
    for (int i = 0; i < 3; i++) {
        const char *p = src[i];
        while (*p && n < 16) {
            int fw;
            size_t len = strlen(p), cut = text_fit_bytes(p, maxw, c->unicode, &fw);
            if (cut < len) {
                size_t sp = 0;
                for (size_t j = 1; j <= cut && j < len; j++) if (p[j] == ' ') sp = j;
                if (sp) cut = sp;
                if (cut == 0) cut = text_next_grapheme(p);   /* a wide character in a 1-column window */
            }
            snprintf(out[n], sizeof out[n], "%.*s", (int)cut, p);
            role[n++] = i;
            p += cut;
            while (*p == ' ') p++;
        }
    }
    int y0 = (c->h - n) / 2;
    if (y0 < 0) y0 = 0;
    for (int i = 0; i < n; i++) {
        int w = text_width(out[i], c->unicode);
        int x = (c->w - w) / 2;
        canvas_text(c, x < 0 ? 0 : x, y0 + i, out[i], role[i] == 0 ? sty_attr(CR_WARN, ATTR_BOLD) : sty(CR_TEXT));
    }
    (void)a;
}

/* ---- main render -------------------------------------------------------------------- */

static void draw_panel(App *a, Canvas *c, int panel, Rect r, Session *s, int side, bool focus) {
    const PanelClass *pc = panel_class((PanelId)panel);
    if (!pc || r.w <= 0 || r.h <= 0) return;
    canvas_push_clip(c, r);
    snprintf(c->owner, sizeof c->owner, "%s", pc->name);   /* targets drawn now belong to this panel */
    if (!s) {
        Rect in = w_frame(c, r, tr(pc->title), focus);
        panel_message(c, in, tr("no model loaded: press m to choose one"));
    } else if (prefilling(a->sc, s)) {
        Rect in = w_frame(c, r, tr(pc->title), focus);
        panel_message(c, in, tr("running the prompt: the panels fill when it is done (Esc stops it)"));
    } else {
        PanelCtx ctx = {a->sc, scene_sel(a->sc, side), s, c, r, side, focus, 0, false};
        if (a->sc->chunked) ctx.deadline = a->frame_t0 + (a->panel_budget_ms > 0 ? a->panel_budget_ms : 0);
        pc->draw(a->pst[panel], &ctx);
        if (ctx.more) a->panels_more = true;
    }
    canvas_pop_clip(c);
    c->owner[0] = 0;
    app_add_hit(a, r, HIT_PANEL, panel, side);
}

static void draw_tradeoff(App *a, Canvas *c, Rect r) {
    if (r.w <= 0 || r.h <= 0) return;
    canvas_push_clip(c, r);
    PanelCtx ctx = {a->sc, scene_sel(a->sc, 0), a->sc->ses[0], c, r, 0, true, 0, false};
    panel_tradeoff.draw(a->pst_tradeoff, &ctx);
    canvas_pop_clip(c);
}

static void render_once(App *a, Canvas *c);

void app_render(App *a, Canvas *c) {
    render_once(a, c);
    /* a lesson step whose targets did not fit: the pane makes room (a few renders, once per step) */
    for (int i = 0; i < 4 && lesson_ui_refit(a, c); i++) render_once(a, c);
}

static void render_once(App *a, Canvas *c) {
    double t0 = now_ms();
    a->frame_t0 = t0;
    a->panels_more = false;
    a->n_hits = 0;
    a->w = c->w;
    a->h = c->h;
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    a->too_small = c->w < APP_MIN_W || c->h < APP_MIN_H;
    if (a->too_small) { draw_too_small(a, c); a->frame_ms = now_ms() - t0; return; }
    int y = 0;
    draw_header(a, c, rect_make(0, y++, c->w, 1));
    const bool msg_beside_tabs = draw_tabs(a, c, rect_make(0, y++, c->w, 1));
    int tok_h = c->h >= 40 ? 4 : c->h >= 30 ? 3 : 2;
    if (a->sc->n_ses == 2) {
        int hw = c->w / 2;
        draw_tokens(a, c, rect_make(0, y, hw - 1, tok_h), a->sc->ses[0], 0);
        draw_tokens(a, c, rect_make(hw + 1, y, c->w - hw - 1, tok_h), a->sc->ses[1], 1);
        for (int k = 0; k < tok_h; k++) canvas_glyph(c, hw - 1 + 1 - 1, y + k, " ", sty(CR_TEXT));
    } else {
        draw_tokens(a, c, rect_make(1, y, c->w - 2, tok_h), a->sc->ses[0], 0);
    }
    y += tok_h;
    y += compare_band_draw(a, c, rect_make(0, y, c->w, c->h - y - 1));
    Rect main = rect_make(0, y, c->w, c->h - y - 1);
    main = lesson_ui_draw(a, c, main);   /* the lesson pane is an overlay of the App; panels get the rest */
    if (a->sc->view.tradeoff) {         /* the trade-off view takes the whole width (both models marked) */
        a->main_r[0] = main;
        a->main_r[1] = rect_make(0, 0, 0, 0);
        draw_tradeoff(a, c, main);
    } else if (a->sc->n_ses == 2) {
        int hw = main.w / 2;
        a->main_r[0] = rect_make(main.x, main.y, hw, main.h);
        a->main_r[1] = rect_make(main.x + hw, main.y, main.w - hw, main.h);
        draw_panel(a, c, a->sc->panel, a->main_r[0], a->sc->ses[0], 0, true);
        draw_panel(a, c, a->sc->panel, a->main_r[1], a->sc->ses[1], 1, true);
    } else if (a->sc->side_on && main.w >= 140 && a->sc->side_panel >= 0 && a->sc->side_panel != a->sc->panel) {
        int sw = main.w * 36 / 100;
        a->main_r[0] = rect_make(main.x, main.y, main.w - sw, main.h);
        a->main_r[1] = rect_make(main.x + main.w - sw, main.y, sw, main.h);
        draw_panel(a, c, a->sc->panel, a->main_r[0], a->sc->ses[0], 0, true);
        draw_panel(a, c, a->sc->side_panel, a->main_r[1], a->sc->ses[0], 0, false);
    } else {
        a->main_r[0] = main;
        a->main_r[1] = rect_make(0, 0, 0, 0);
        draw_panel(a, c, a->sc->panel, main, a->sc->ses[0], 0, true);
    }
    draw_fbar(a, c, rect_make(0, c->h - 1, c->w, 1), !msg_beside_tabs);
    lesson_ui_draw_targets(a, c);        /* the step's targets, highlighted over what the panels drew */
    if (a->hint && a->overlay == OV_NONE) first_hint_draw(c, main, a->sc->ses[0] && session_prefilled(a->sc->ses[0]));
    app_draw_overlay(a, c);
    lesson_ui_draw_menu(a, c);
    a->frame_ms = now_ms() - t0;
}

void app_render_panel(App *a, Canvas *c, int panel) {
    a->n_hits = 0;
    a->frame_t0 = now_ms();
    a->panels_more = false;
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    if (a->sc->view.tradeoff) draw_tradeoff(a, c, rect_make(0, 0, c->w, c->h));
    else draw_panel(a, c, panel, rect_make(0, 0, c->w, c->h), a->sc->ses[0], 0, true);
}

/* ---- input -------------------------------------------------------------------------- */

/* Keys the App keeps for itself: quitting, redraw, and opening its overlays. */
static int app_own_key(App *a, int key) {
    Scene *sc = a->sc;
    switch (key) {
    case 'q': case TK_F10: case TK_INTERRUPT: a->quit = true; return KR_ALL;
    case '?': case TK_F1: app_open_overlay(a, OV_HELP); return KR_ALL;
    case 'm': case TK_F3: a->menu_target = 0; app_open_overlay(a, OV_MODEL); return KR_ALL;
    case TK_CTRL('l'): return KR_ALL;
    case 'C': scene_status(sc, false, "theme: %s (C for the next)", theme_name(theme_cycle())); return KR_ALL;
    default: break;
    }
    if (!sc->n_ses) return KR_IGNORED;
    switch (key) {
    case 'e': case TK_F2: app_open_overlay(a, OV_PROMPT); return KR_ALL;
    case 'E': app_open_overlay(a, OV_TEXTS); return KR_ALL;
    case 's': case TK_F4: app_open_overlay(a, OV_SAMPLER); return KR_ALL;
    case 'c': case TK_F6:
        if (sc->n_ses == 2) { scene_compare_off(sc); return KR_ALL; }
        a->menu_target = 1;
        a->menu_sel = 0;
        app_open_overlay(a, OV_MODEL);
        scene_status(sc, false, "choose a model to compare with");
        return KR_ALL;
    default: return KR_IGNORED;
    }
}

/* A key whose action only changes what is shown (SceneAction.view), and that the lesson pane does
 * not take first ('a' shows a question's answer there). */
static bool view_key(App *a, int key) {
    if (!a->sc->n_ses || (lesson_ui_player(a) && (key == 'a' || key == TK_ENTER))) return false;
    const KeyBinding *b = scene_key_binding(a->sc, key);
    const SceneAction *act = b ? scene_action_find(b->action) : NULL;
    return act && act->view;
}

static int handle_key(App *a, int key) {
    if (a->overlay != OV_NONE) return app_overlay_key(a, key);
    { int lr = lesson_ui_key(a, key); if (lr != KR_IGNORED) return lr; }   /* menu, presenter keys */
    if (a->too_small) return key == 'q' || key == TK_F10 ? (a->quit = true, KR_ALL) : KR_IGNORED;
    int r = app_own_key(a, key);
    if (r != KR_IGNORED) return r;
    if (!a->sc->n_ses || !scene_key_binding(a->sc, key)) return KR_IGNORED;
    Err e = {0};
    scene_key(a->sc, key, &e);       /* a failure is on the status line already */
    return KR_ALL;
}

static bool is_wheel(const TuiEvent *ev) { return ev->button == MB_WHEEL_UP || ev->button == MB_WHEEL_DOWN; }

/* The key the mouse wheel stands for: the help's and the model menu's up / down (they scroll),
 * else b / n (a step back / forward); 0 over the other overlays. */
static int wheel_key(const App *a, const TuiEvent *ev) {
    const bool up = ev->button == MB_WHEEL_UP;
    if (a->overlay == OV_MODEL || a->overlay == OV_HELP) return up ? TK_UP : TK_DOWN;
    if (a->overlay != OV_NONE) return 0;
    return up ? 'b' : 'n';
}

/* What the click ev asks for, read off the last frame's hits, in *w: an F-key's key, a tab's or
 * a panel's panel, a token's or a panel's PanelClick. False when it asks for nothing (outside the
 * hits, a panel click that selects nothing on the main panel). Over an overlay only the model
 * menu's rows are hits (handle_mouse). */
static bool click_resolve(App *a, const TuiEvent *ev, AppWaiting *w) {
    const Scene *sc = a->sc;
    *w = (AppWaiting){.key = 0, .click = PANEL_CLICK_NONE, .panel = -1};
    for (int i = a->n_hits - 1; i >= 0; i--) {
        const Hit *h = &a->hits[i];
        if (!rect_contains(h->r, ev->mx, ev->my)) continue;
        switch (h->kind) {
        case HIT_TAB: w->panel = h->arg; return true;
        case HIT_FKEY: w->key = h->arg; return true;
        case HIT_TOKEN:
            if (sc->n_ses <= h->side || h->arg >= session_len(sc->ses[h->side])) return false;
            w->click.side = h->side;
            w->click.pos = h->arg;
            return true;
        case HIT_PANEL: {
            const PanelClass *pc = panel_class((PanelId)h->arg);
            if (pc && pc->click && sc->n_ses > h->side) pc->click(a->pst[h->arg], sc, h->side, ev->mx, ev->my, ev->button, &w->click);
            if (h->arg != sc->panel) w->panel = h->arg;
            return w->panel >= 0 || w->click.pos >= 0 || w->click.layer >= 0 || w->click.head >= 0 || w->click.key >= 0;
        }
        default: return false;
        }
    }
    return false;
}

/* A click waits for work in pieces when it asks to go to a token (scene_goto waits for it), or
 * when its key does (key_during_work); a panel and a layer / head / key selection are view actions. */
static bool click_goes(const AppWaiting *w) { return w->click.pos >= 0; }

int app_handle_waiting(App *a, const AppWaiting *w) {
    if (w->key) {
        TuiEvent kev = {.key = w->key};
        return app_handle(a, &kev);
    }
    Scene *sc = a->sc;
    const PanelClick *c = &w->click;
    Err e = {0};
    bool ok = true;
    if (c->pos >= 0) ok = sc->n_ses > c->side && scene_goto(sc, c->side, c->pos, &e);
    if (ok && c->layer >= 0) scene_select_layer(sc, c->layer, &e);
    if (ok && c->head >= 0) scene_select_head(sc, c->head, &e);
    if (ok && c->key >= 0) scene_select_key(sc, c->key, &e);
    if (w->panel >= 0 && w->panel != sc->panel) scene_show_panel(sc, w->panel, &e);
    return KR_ALL;
}

static int handle_mouse(App *a, const TuiEvent *ev) {
    if (is_wheel(ev)) {
        const int key = wheel_key(a, ev);
        return key ? handle_key(a, key) : KR_IGNORED;
    }
    if (a->overlay != OV_NONE) {
        for (int i = a->n_hits - 1; i >= 0; i--) {
            const Hit *h = &a->hits[i];
            if (!rect_contains(h->r, ev->mx, ev->my)) continue;
            if (h->kind == HIT_MENU && a->overlay == OV_MODEL) {
                a->menu_sel = h->arg;
                return app_overlay_key(a, TK_ENTER);
            }
            break;
        }
        if (a->overlay == OV_HELP) { a->overlay = OV_NONE; return KR_ALL; }
        return KR_IGNORED;
    }
    AppWaiting w;
    if (!click_resolve(a, ev, &w)) return KR_IGNORED;
    return w.key ? handle_key(a, w.key) : app_handle_waiting(a, &w);
}

/* A key while work runs in pieces (a prefill, a re-run, B catching up, a load): the help (? F1,
 * and its own keys while open; Esc there closes it), the colour theme (C), a redraw and the keys
 * of view actions (a panel, the layer or head, a panel's view option: scene.h's SceneAction.view)
 * are answered at once, as they touch no session; Esc stops the work, q stops it and quits. Every
 * other key (stepping, the prompt, the model, the sampler, an ablation, a lesson step) waits for
 * the work's end: KEY_WAITS, and the caller keeps it (app_run hands it over then). */
#define KEY_WAITS (-1)
static bool free_ui(App *a) {
    return a->overlay == OV_NONE && !a->too_small && !lesson_ui_input_open(a) && !lesson_ui_menu_open(a);
}

static int key_during_work(App *a, int key) {
    if (a->overlay == OV_HELP) return app_overlay_key(a, key);
    const bool free = free_ui(a);
    if (free && (key == '?' || key == TK_F1 || key == 'C' || key == TK_CTRL('l'))) return app_own_key(a, key);
    if (key == TK_ESC || key == 'q' || key == TK_F10) {
        scene_prefill_stop(a->sc);
        if (key != TK_ESC) a->quit = true;
        return KR_ALL;
    }
    if (free && !a->n_typed && view_key(a, key)) {   /* after a waiting key, in order */
        Err e = {0};
        scene_key(a->sc, key, &e);
        return KR_ALL;
    }
    return KEY_WAITS;
}

int app_handle(App *a, const TuiEvent *ev) {
    if (a->hint && ev->key != TK_NONE && ev->key != TK_TICK && ev->key != TK_RESIZE) a->hint = false;
    switch (ev->key) {
    case TK_NONE: return KR_IGNORED;
    case TK_RESIZE: return KR_ALL;
    case TK_INTERRUPT: a->quit = true; return KR_ALL;
    case TK_MOUSE:
        if (scene_busy(a->sc)) {
            /* work runs: the wheel does what its key does at once (it scrolls the help as the
             * arrows do); a wheel step, which would wait, is dropped rather than kept (a wheel
             * sends events by the dozen, each a decode step after the work). A click does what its
             * key does then: an F-key as the key (key_during_work); a tab, a head tile, the panel
             * clicked on are view actions, answered at once; a token or a heatmap cell goes to a
             * token, which waits for the work's end in order with the keys (the status line says
             * so); a click while the help is open closes it */
            if (is_wheel(ev)) {
                const int key = wheel_key(a, ev);
                const int r = key ? key_during_work(a, key) : KR_IGNORED;
                return r == KEY_WAITS ? KR_IGNORED : r;
            }
            if (a->overlay == OV_HELP) return handle_mouse(a, ev);   /* a click closes it, as Esc */
            AppWaiting w;
            if (a->overlay != OV_NONE || a->too_small || !click_resolve(a, ev, &w)) return KR_IGNORED;
            if (w.key) {   /* an F-key: as its key */
                const int r = key_during_work(a, w.key);
                if (r != KEY_WAITS) return r;
            } else if (!click_goes(&w) && free_ui(a) && !a->n_typed) {
                return app_handle_waiting(a, &w);   /* a tab, a head tile: view actions, at once */
            }
            if (a->n_typed < (int)(sizeof a->typed / sizeof a->typed[0])) a->typed[a->n_typed++] = w;
            return KR_ALL;   /* the status line shows what waits */
        }
        return handle_mouse(a, ev);
    case TK_TICK: {
        if (!a->sc->running || a->overlay != OV_NONE || a->too_small) return KR_IGNORED;
        Err e = {0};
        scene_tick(a->sc, &e);
        return KR_ALL;
    }
    default:
        if (scene_busy(a->sc)) {
            const int r = key_during_work(a, ev->key);
            if (r != KEY_WAITS) return r;
            if (a->n_typed < (int)(sizeof a->typed / sizeof a->typed[0]))
                a->typed[a->n_typed++] = (AppWaiting){.key = ev->key, .click = PANEL_CLICK_NONE, .panel = -1};
            return KR_ALL;   /* the status line shows what waits */
        }
        return handle_key(a, ev->key);
    }
}
