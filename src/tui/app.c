/* App: layout, header, tabs, token strip, function bar, overlays, key dispatch. */
#include "tui/app.h"
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "tui/lesson_pane.h"   /* [lesson] */
#include "tui/theme.h"
#include "tui/widgets/widgets.h"

/* ---- small helpers ----------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void app_msg(App *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app_msg(App *a, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_error = error;
}

static void add_hit(App *a, Rect r, HitKind kind, int arg, int side) {
    if (a->n_hits >= APP_MAX_HITS || r.w <= 0 || r.h <= 0) return;
    a->hits[a->n_hits++] = (Hit){r, kind, arg, side};
}

static const char *model_basename(const char *path, char *buf, size_t cap) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path ? path : "");
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    const char *b = strrchr(tmp, '/');
    b = b ? b + 1 : tmp;
    snprintf(buf, cap, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && !strcmp(dot, ".bin")) *dot = 0;
    return buf;
}

/* ---- lifecycle --------------------------------------------------------------------- */

App *app_new(void) {
    App *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        a->pst[i] = pc && pc->create ? pc->create() : NULL;
    }
    a->cur = PANEL_ATTENTION;
    a->side_panel = PANEL_OUTPUT;
    a->side_on = true;
    a->stage_follow = true;
    a->run_ms = 350;
    a->scfg = (SamplerCfg){.greedy = true, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
    return a;
}

void app_free(App *a) {
    if (!a) return;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        if (pc && pc->destroy) pc->destroy(a->pst[i]);
    }
    for (int i = 0; i < 2; i++)
        if (a->own[i]) session_free(a->ses[i]);
    lesson_ui_free(a->lesson);   /* [lesson] */
    free(a);
}

void app_set_session(App *a, int slot, Session *s, bool own) {
    if (slot < 0 || slot > 1) return;
    if (a->ses[slot] && a->own[slot] && a->ses[slot] != s) session_free(a->ses[slot]);
    a->ses[slot] = s;
    a->own[slot] = own;
    a->n_ses = a->ses[1] ? 2 : (a->ses[0] ? 1 : 0);
    if (s && slot == 0 && s->sampler) a->scfg = sampler_cfg(s->sampler);
}

bool app_select_panel(App *a, const char *name) {
    int p = panel_find(name);
    if (p < 0) return false;
    a->cur = p;
    return true;
}

static int cmp_str(const void *x, const void *y) { return strcmp((const char *)x, (const char *)y); }

void app_scan_models(App *a, const char *dir) {
    a->n_models = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) && a->n_models < APP_MAX_MODELS) {
        if (de->d_name[0] == '.') continue;
        char p[1024], probe[1100];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        bool ok = false;
        if (S_ISDIR(st.st_mode)) {
            snprintf(probe, sizeof probe, "%s/config.json", p);
            ok = stat(probe, &st) == 0;
        } else {
            size_t n = strlen(de->d_name);
            ok = n > 4 && !strcmp(de->d_name + n - 4, ".bin");
        }
        if (ok) snprintf(a->models[a->n_models++], sizeof a->models[0], "%s", p);
    }
    closedir(d);
    qsort(a->models, (size_t)a->n_models, sizeof a->models[0], cmp_str);
}

int app_panel_for_stage(Stage st) {
    switch (st) {
    case STAGE_EMBED: return PANEL_EMBEDDINGS;
    case STAGE_POS: case STAGE_ROPE: return PANEL_POSITION;
    case STAGE_NORM1: case STAGE_NORM2: case STAGE_FINAL_NORM: return PANEL_NORMS;
    case STAGE_QKV: case STAGE_SCORES: case STAGE_SOFTMAX: return PANEL_ATTENTION;
    case STAGE_ATTN_OUT: case STAGE_ADD1: case STAGE_ADD2: return PANEL_RESIDUAL;
    case STAGE_FFN: return PANEL_FFN;
    case STAGE_LOGITS: case STAGE_SAMPLE: return PANEL_OUTPUT;
    default: return PANEL_ATTENTION;
    }
}

/* ---- actions (all through the session) ------------------------------------------- */

static void sync_selection(App *a) {
    if (a->n_ses < 2 || !a->ses[0] || !a->ses[1]) return;
    Session *m = a->ses[0], *o = a->ses[1];
    session_select_layer(o, m->layer);
    session_select_head(o, m->head);
    o->stage = m->stage;
    o->sel_key = m->sel_key <= o->cursor ? m->sel_key : -1;
}

static bool act_step(App *a) {
    bool any = false;
    for (int i = 0; i < a->n_ses; i++) {
        Err e = {0};
        if (session_step(a->ses[i], &e)) any = true;
        else app_msg(a, true, "%s%s", a->n_ses > 1 ? (i ? "B: " : "A: ") : "", e.msg[0] ? e.msg : "cannot step");
    }
    if (any && !a->msg_error) a->msg[0] = 0;
    return any;
}

static void act_back(App *a) {
    for (int i = 0; i < a->n_ses; i++) session_back(a->ses[i]);
    a->msg[0] = 0;
}

static void act_goto(App *a, int pos) {
    for (int i = 0; i < a->n_ses; i++) {
        Session *s = a->ses[i];
        int len = session_len(s);
        session_goto(s, pos < len ? pos : len - 1);
    }
}

static void act_step_into(App *a, int dir) {
    for (int i = 0; i < a->n_ses; i++) session_step_into(a->ses[i], dir);
    if (a->stage_follow && a->ses[0]) a->cur = app_panel_for_stage(a->ses[0]->stage);
}

static void busy_note(App *a, const char *what) {
    app_msg(a, false, "%s", what);
    if (a->busy_cb) a->busy_cb(a, a->busy_ud);
}

static bool prefill_like(App *a, Session *s, const Session *ref) {
    Err e = {0};
    bool ok = ref->prompt[0] ? session_set_prompt(s, ref->prompt, &e)
                             : (ref->n_prompt ? session_set_ids(s, ref->prompt_ids, ref->n_prompt, &e) : true);
    if (!ok) { app_msg(a, true, "%s", e.msg); return false; }
    if (ref->cursor < 0) return true;
    int gen = session_len(ref) - ref->n_prompt;
    for (int i = 0; i <= gen; i++)
        if (!session_step(s, &e)) { app_msg(a, true, "%s", e.msg); return false; }
    session_goto(s, s->n_prompt + (ref->cursor - ref->n_prompt));
    return true;
}

static void act_set_prompt(App *a, const char *text) {
    for (int i = 0; i < a->n_ses; i++) {
        Err e = {0};
        Session *s = a->ses[i];
        if (!session_set_prompt(s, text, &e) || !session_step(s, &e)) {
            app_msg(a, true, "%s", e.msg[0] ? e.msg : "cannot set the prompt");
            return;
        }
    }
    app_msg(a, false, "prompt set: %d tokens", a->ses[0] ? a->ses[0]->n_prompt : 0);
}

static void act_load_model(App *a, int slot, const char *path) {
    char nm[256];
    busy_note(a, "loading model...");
    Err e = {0};
    int max_ctx = a->max_ctx ? a->max_ctx : (a->ses[0] ? a->ses[0]->max_ctx : 512);
    Session *s = session_new(path, max_ctx, &e);
    if (!s) { app_msg(a, true, "%s", e.msg[0] ? e.msg : "cannot load the model"); return; }
    Session *ref = a->ses[slot == 1 ? 0 : 0];
    if (ref) {
        session_set_sampler(s, a->scfg);
        if (!prefill_like(a, s, ref) && slot == 1) { session_free(s); return; }
        session_select_layer(s, ref->layer);
        session_select_head(s, ref->head);
    }
    app_set_session(a, slot, s, true);
    a->running = false;
    app_msg(a, false, "loaded %s", model_basename(path, nm, sizeof nm));
}

static void act_compare(App *a) {
    if (a->n_ses == 2) {
        app_set_session(a, 1, NULL, false);
        app_msg(a, false, "compare mode off");
        return;
    }
    a->overlay = OV_MODEL;
    a->menu_target = 1;
    a->menu_sel = 0;
    app_msg(a, false, "choose a model to compare with");
}

static void act_ablate(App *a) {
    for (int i = 0; i < a->n_ses; i++) {
        Session *s = a->ses[i];
        Err e = {0};
        bool on = s->ablate_layer == s->layer && s->ablate_head == s->head;
        if (!session_set_ablation(s, on ? -1 : s->layer, on ? -1 : s->head, &e)) {
            app_msg(a, true, "%s", e.msg);
            return;
        }
        if (i == 0) {
            if (on) app_msg(a, false, "ablation cleared");
            else app_msg(a, false, "head %d of layer %d zeroed (hook_z); tokens recomputed", s->head, s->layer);
        }
    }
}

/* ---- line editor ------------------------------------------------------------------ */

void lineedit_set(LineEdit *le, const char *text) {
    snprintf(le->buf, sizeof le->buf, "%s", text ? text : "");
    le->len = strlen(le->buf);
    le->cur = le->len;
}

static size_t le_prev(const LineEdit *le, size_t pos) {
    size_t off = 0, prev = 0;
    while (off < pos) {
        size_t n = text_next_grapheme(le->buf + off);
        if (!n) break;
        prev = off;
        off += n;
    }
    return prev;
}

bool lineedit_key(LineEdit *le, int key) {
    if (key == TK_LEFT) { le->cur = le_prev(le, le->cur); return true; }
    if (key == TK_RIGHT) { size_t n = text_next_grapheme(le->buf + le->cur); le->cur += n; return true; }
    if (key == TK_HOME || key == TK_CTRL('a')) { le->cur = 0; return true; }
    if (key == TK_END || key == TK_CTRL('e')) { le->cur = le->len; return true; }
    if (key == TK_CTRL('u')) { memmove(le->buf, le->buf + le->cur, le->len - le->cur + 1); le->len -= le->cur; le->cur = 0; return true; }
    if (key == TK_CTRL('k')) { le->buf[le->cur] = 0; le->len = le->cur; return true; }
    if (key == TK_BACKSPACE) {
        if (!le->cur) return true;
        size_t p = le_prev(le, le->cur);
        memmove(le->buf + p, le->buf + le->cur, le->len - le->cur + 1);
        le->len -= le->cur - p;
        le->cur = p;
        return true;
    }
    if (key == TK_DELETE) {
        size_t n = text_next_grapheme(le->buf + le->cur);
        memmove(le->buf + le->cur, le->buf + le->cur + n, le->len - le->cur - n + 1);
        le->len -= n;
        return true;
    }
    if (key >= 0x20 && key < 0x110000 && key != 0x7f && !(key >= 0xd800 && key < 0xe000)) {
        char u[4];
        size_t n;
        unsigned k = (unsigned)key;
        if (k < 0x80) { u[0] = (char)k; n = 1; }
        else if (k < 0x800) { u[0] = (char)(0xc0 | (k >> 6)); u[1] = (char)(0x80 | (k & 0x3f)); n = 2; }
        else if (k < 0x10000) { u[0] = (char)(0xe0 | (k >> 12)); u[1] = (char)(0x80 | ((k >> 6) & 0x3f)); u[2] = (char)(0x80 | (k & 0x3f)); n = 3; }
        else { u[0] = (char)(0xf0 | (k >> 18)); u[1] = (char)(0x80 | ((k >> 12) & 0x3f)); u[2] = (char)(0x80 | ((k >> 6) & 0x3f)); u[3] = (char)(0x80 | (k & 0x3f)); n = 4; }
        if (le->len + n + 1 > sizeof le->buf) return true;
        memmove(le->buf + le->cur + n, le->buf + le->cur, le->len - le->cur + 1);
        memcpy(le->buf + le->cur, u, n);
        le->len += n;
        le->cur += n;
        return true;
    }
    return false;
}

/* ---- drawing: header, tabs, tokens, function bar ---------------------------------- */

static const char *phase_name(const Session *s) {
    if (!s || s->cursor < 0) return "ready";
    const TraceTok *t = trace_tok(s->trace, s->cursor);
    if (!t) return "ready";
    return t->phase == PHASE_PREFILL ? "prefill" : "decode";
}

static void draw_header(App *a, Canvas *c, Rect r) {
    Style hs = sty2(CR_TEXT, CR_HEADER, 0);
    canvas_fill(c, r, " ", hs);
    canvas_push_clip(c, r);
    int x = canvas_text(c, r.x + 1, r.y, "llmscope", sty2(CR_ACCENT, CR_HEADER, ATTR_BOLD));
    char buf[512], nm[128], ml[256];
    for (int i = 0; i < a->n_ses; i++) {
        Session *s = a->ses[i];
        panel_model_line(s, ml, sizeof ml);
        snprintf(buf, sizeof buf, "%s%s%s  %s", i ? "  B: " : (a->n_ses > 1 ? "  A: " : "  "),
                 model_basename(s->model_path, nm, sizeof nm), "", ml);
        x = canvas_text(c, x, r.y, buf, sty2(i ? CR_WARN : CR_TITLE, CR_HEADER, ATTR_BOLD));
    }
    if (!a->n_ses) canvas_text(c, x, r.y, "  no model", hs);
    Session *s = a->ses[0];
    if (s) {
        char st[64];
        if (stage_is_per_layer(s->stage)) snprintf(st, sizeof st, "L%d %s", s->layer, stage_name(s->stage));
        else snprintf(st, sizeof st, "%s", stage_name(s->stage));
        int len = session_len(s);
        snprintf(buf, sizeof buf, "%s%s \xe2\x94\x82 pos %d/%d \xe2\x94\x82 %s ", a->running ? "\xe2\x96\xb6 run \xe2\x94\x82 " : "",
                 phase_name(s), s->cursor < 0 ? 0 : s->cursor, len ? len - 1 : 0, st);
        if (!c->unicode) {
            snprintf(buf, sizeof buf, "%s%s | pos %d/%d | %s ", a->running ? "> run | " : "", phase_name(s),
                     s->cursor < 0 ? 0 : s->cursor, len ? len - 1 : 0, st);
        }
        int bw = text_width(buf, c->unicode);
        int bx = r.x + r.w - bw;
        if (bx < x + 1) {       /* not enough room: right part wins, model text is cut */
            canvas_fill(c, rect_make(bx - 1, r.y, r.w, 1), " ", hs);
            if (bx < r.x) bx = r.x;
        }
        canvas_text(c, bx, r.y, buf, sty2(CR_TEXT, CR_HEADER, ATTR_BOLD));
    }
    canvas_pop_clip(c);
}

static void draw_tabs(App *a, Canvas *c, Rect r) {
    canvas_fill(c, r, " ", sty(CR_TEXT));
    canvas_push_clip(c, r);
    int total_long = 0;
    for (int i = 0; i < PANEL_COUNT; i++) total_long += text_width(panel_class((PanelId)i)->title, true) + 4;
    /* a status message (an error like "context is full") needs room: short names then */
    int msg_w = a->msg[0] ? text_width(a->msg, c->unicode) + 2 : 0;
    bool longn = total_long + msg_w <= r.w;
    int x = r.x;
    for (int i = 0; i < PANEL_COUNT; i++) {
        const PanelClass *pc = panel_class((PanelId)i);
        char t[64];
        snprintf(t, sizeof t, " %d %s ", i + 1, longn ? pc->title : pc->tab);
        bool cur = i == a->cur;
        Style st = cur ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_DIM);
        int x0 = x;
        x = canvas_text(c, x, r.y, t, st);
        add_hit(a, rect_make(x0, r.y, x - x0, 1), HIT_TAB, i, 0);
        x++;
    }
    if (a->msg[0]) {
        int tw = text_width(a->msg, c->unicode);
        int mw = r.x + r.w - x - 1;
        Style ms = sty_attr(a->msg_error ? CR_ERROR : CR_GOOD, ATTR_BOLD);
        if (tw <= mw) {
            canvas_text(c, r.x + r.w - tw - 1, r.y, a->msg, ms);
        } else {                /* no room beside the tabs: the message covers their right end */
            int mx = r.x + r.w - 1 - (tw < r.w - 2 ? tw : r.w - 2);
            if (mx < r.x + 1) mx = r.x + 1;
            canvas_fill(c, rect_make(mx - 1, r.y, r.x + r.w - mx + 1, 1), " ", sty(CR_TEXT));
            canvas_text_fit(c, mx, r.y, a->msg, r.x + r.w - 1 - mx, ms);
        }
    }
    canvas_pop_clip(c);
}

static void draw_tokens(App *a, Canvas *c, Rect r, Session *s, int side) {
    if (!s) return;
    int len = session_len(s);
    int n = s->n_ids > len ? s->n_ids : len;
    if (n <= 0) { canvas_text_fit(c, r.x, r.y, "no prompt: press e to type one", r.w, sty(CR_DIM)); return; }
    if (n > 8192) n = 8192;
    Chip *chips = calloc((size_t)n, sizeof(Chip));
    Rect *hits = calloc((size_t)n, sizeof(Rect));
    char (*texts)[64] = calloc((size_t)n, 64);
    if (chips && hits && texts) {
        for (int i = 0; i < n; i++) {
            const TraceTok *tk = i < len ? trace_tok(s->trace, i) : NULL;
            int id = tk ? tk->id : (i < s->n_ids ? s->ids[i] : -1);
            panel_tok_text(s, id, texts[i], 64);
            chips[i].text = texts[i];
            chips[i].prefill = tk ? tk->phase == PHASE_PREFILL : i < s->n_prompt;
            chips[i].current = i == s->cursor;
            chips[i].dim = i > s->cursor;
        }
        w_tokstrip(c, r, chips, n, hits);
        for (int i = 0; i < n; i++) if (hits[i].w) add_hit(a, hits[i], HIT_TOKEN, i, side);
    }
    free(chips);
    free(hits);
    free(texts);
}

typedef struct { int key; const char *num, *label; } FKey;

static void draw_fbar(App *a, Canvas *c, Rect r) {
    static const FKey F[] = {
        {TK_F1, "F1", "Help"}, {TK_F2, "F2", "Prompt"}, {TK_F3, "F3", "Model"}, {TK_F4, "F4", "Sample"},
        {TK_F5, "F5", "Run"}, {TK_F6, "F6", "Compar"}, {TK_F7, "F7", "Layer-"}, {TK_F8, "F8", "Layer+"},
        {TK_F9, "F9", "Panel"}, {TK_F10, "F10", "Quit"}};
    canvas_fill(c, r, " ", sty(CR_TEXT));
    canvas_push_clip(c, r);
    int x = r.x;
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        const char *label = F[i].label;
        if (F[i].key == TK_F5 && a->running) label = "Pause";
        if (F[i].key == TK_F6 && a->n_ses == 2) label = "Single";
        int x0 = x;
        x = canvas_text(c, x, r.y, F[i].num, sty_attr(CR_FKEY, ATTR_BOLD));
        char lb[16];
        snprintf(lb, sizeof lb, "%-6s", label);
        x = canvas_text(c, x, r.y, lb, sty2(CR_DEFAULT, CR_FLABEL, 0));
        Style ls = sty2(CR_DEFAULT, CR_FLABEL, 0);
        ls.fg = color_rgb(0, 0, 0);
        canvas_restyle(c, rect_make(x - 6, r.y, 6, 1), ls);
        add_hit(a, rect_make(x0, r.y, x - x0, 1), HIT_FKEY, F[i].key, 0);
    }
    canvas_pop_clip(c);
}

/* ---- overlays --------------------------------------------------------------------- */

static Rect center_box(const Canvas *c, int w, int h) {
    if (w > c->w - 2) w = c->w - 2;
    if (h > c->h - 2) h = c->h - 2;
    if (w < 4) w = c->w;
    if (h < 3) h = c->h;
    return rect_make((c->w - w) / 2, (c->h - h) / 2, w, h);
}

static const char HELP_GLOBAL[] =
    "n Space \xe2\x86\x92  next token (prefill first, then decode one)\n"
    "b \xe2\x86\x90        back one token (no recompute)\n"
    "Home End   first / last recorded token\n"
    "i / I      step into the next / previous sublayer stage\n"
    "1-8 F9     switch panel (Tab: side panel on/off)\n"
    "[ ]        layer - / +        { }  head - / +\n"
    "x          zero the selected head (ablation) / undo\n"
    "r F5       run / pause        e F2  edit the prompt\n"
    "m F3       switch model       s F4  sampling settings\n"
    "c F6       compare two models side by side\n"
    "L          lessons: guided tours (\xe2\x86\x90 \xe2\x86\x92 step, q leaves)\n"   /* [lesson] */
    "? F1       this help          q F10 quit\n"
    "mouse      click tokens, tabs, F-keys and panel cells";

static void draw_help(App *a, Canvas *c) {
    const PanelClass *pc = panel_class((PanelId)a->cur);
    char text[4096];
    snprintf(text, sizeof text, "%s\n\n%s panel:\n%s", HELP_GLOBAL, pc->title, pc->help ? pc->help : "");
    int inner_w = 62;
    int rows = w_text_rows(text, inner_w, c->unicode);
    Rect b = center_box(c, inner_w + 4, rows + 2);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, "Help \xc2\xb7 Esc closes", true);
    w_text(c, rect_make(in.x + 1, in.y, in.w - 1, in.h), text, sty(CR_TEXT));
}

static void draw_prompt(App *a, Canvas *c) {
    Rect b = center_box(c, c->w - 4 > 100 ? 100 : c->w - 4, 5);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, "Prompt \xc2\xb7 Enter runs it, Esc cancels", true);
    if (in.w <= 2 || in.h <= 0) return;
    LineEdit *le = &a->edit;
    /* scroll so the cursor stays visible */
    int avail = in.w - 2;
    size_t start = 0;
    char pre[8192];
    for (;;) {
        size_t n = le->cur - start;
        memcpy(pre, le->buf + start, n);
        pre[n] = 0;
        if (text_width(pre, c->unicode) < avail || start >= le->cur) break;
        start += text_next_grapheme(le->buf + start);
    }
    int cx = canvas_text(c, in.x + 1, in.y + 1, pre, sty(CR_TEXT));
    size_t g = text_next_grapheme(le->buf + le->cur);
    char cur[16] = " ";
    if (g && g < sizeof cur) { memcpy(cur, le->buf + le->cur, g); cur[g] = 0; }
    canvas_text(c, cx, in.y + 1, cur, sty2(CR_TEXT, CR_CURRENT, ATTR_REVERSE));
    int cw = text_width(cur, c->unicode);
    canvas_text(c, cx + (cw ? cw : 1), in.y + 1, le->buf + le->cur + g, sty(CR_TEXT));
    canvas_fill(c, rect_make(in.x + in.w - 1, in.y + 1, 1, 1), " ", sty(CR_TEXT));
    if (in.h > 2) {
        char info[128];
        snprintf(info, sizeof info, "%zu bytes  \xc2\xb7  Ctrl-U clears  \xc2\xb7  \xe2\x86\x90 \xe2\x86\x92 Home End move", le->len);
        canvas_text_fit(c, in.x + 1, in.y + 2, info, in.w - 2, sty(CR_DIM));
    }
}

static void draw_model_menu(App *a, Canvas *c) {
    int n = a->n_models;
    Rect b = center_box(c, 60, (n ? n : 1) + 4);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, a->menu_target ? "Compare with \xc2\xb7 Enter loads" : "Model \xc2\xb7 Enter loads", true);
    if (!n) { canvas_text_fit(c, in.x + 1, in.y, "no bundled models found (assets/models)", in.w - 2, sty(CR_WARN)); return; }
    int first = a->menu_sel >= in.h - 1 ? a->menu_sel - (in.h - 2) : 0;
    for (int i = 0; i < in.h - 1 && first + i < n; i++) {
        int k = first + i;
        char nm[256], line[300];
        model_basename(a->models[k], nm, sizeof nm);     /* always: nm is printed below */
        const Session *ts = a->ses[a->menu_target ? 1 : 0];
        bool loaded = ts && strstr(ts->model_path, nm);
        snprintf(line, sizeof line, " %s %s", loaded ? "*" : " ", nm);
        Style st = k == a->menu_sel ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_TEXT);
        Rect row = rect_make(in.x, in.y + i, in.w, 1);
        canvas_fill(c, row, " ", st);
        canvas_text_fit(c, in.x, in.y + i, line, in.w, st);
        add_hit(a, row, HIT_MENU, k, 0);
    }
    canvas_text_fit(c, in.x + 1, in.y + in.h - 1, "\xe2\x86\x91\xe2\x86\x93 choose  Enter load  Esc cancel", in.w - 2, sty(CR_DIM));
}

static void draw_sampler(App *a, Canvas *c) {
    Rect b = center_box(c, 52, 10);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, "Sampling \xc2\xb7 Enter applies", true);
    char v[5][64];
    snprintf(v[0], sizeof v[0], "greedy       [%s]", a->scfg.greedy ? "x" : " ");
    snprintf(v[1], sizeof v[1], "temperature  %.2f", (double)a->scfg.temperature);
    snprintf(v[2], sizeof v[2], "top-k        %d%s", a->scfg.top_k, a->scfg.top_k ? "" : " (off)");
    snprintf(v[3], sizeof v[3], "top-p        %.2f%s", (double)a->scfg.top_p, a->scfg.top_p >= 1 ? " (off)" : "");
    snprintf(v[4], sizeof v[4], "seed         %llu", (unsigned long long)a->scfg.seed);
    for (int i = 0; i < 5 && i < in.h; i++) {
        Style st = i == a->sfield ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_TEXT);
        Rect row = rect_make(in.x, in.y + i, in.w, 1);
        canvas_fill(c, row, " ", st);
        canvas_text_fit(c, in.x + 1, in.y + i, v[i], in.w - 2, st);
    }
    if (in.h > 6)
        w_text(c, rect_make(in.x + 1, in.y + 6, in.w - 2, in.h - 6),
               "\xe2\x86\x91\xe2\x86\x93 field  \xe2\x86\x90\xe2\x86\x92 -/+ change  Space greedy  Enter apply  Esc cancel",
               sty(CR_DIM));
}

static void draw_too_small(App *a, Canvas *c) {
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    char l2[64];
    snprintf(l2, sizeof l2, "need %dx%d, have %dx%d", APP_MIN_W, APP_MIN_H, c->w, c->h);
    const char *src[3] = {"terminal too small", l2, "enlarge it, or q to quit"};
    /* word-wrap each line to the width (the notice must stay readable in a tiny window) */
    char out[12][64];
    int role[12], n = 0;
    for (int i = 0; i < 3; i++) {
        const char *p = src[i];
        while (*p && n < 12) {
            size_t len = strlen(p), cut = len;
            if ((int)len > c->w) {          /* ASCII text: bytes = columns */
                cut = 0;
                for (size_t j = 1; j < len && (int)j <= c->w; j++) if (p[j] == ' ') cut = j;
                if (cut == 0) cut = (size_t)(c->w > 0 ? c->w : 1);
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
    if (!s) {
        Rect in = w_frame(c, r, pc->title, focus);
        panel_message(c, in, "no model loaded: press m to choose one");
    } else {
        PanelCtx ctx = {s, c, r, side, focus};
        pc->draw(a->pst[panel], &ctx);
    }
    canvas_pop_clip(c);
    add_hit(a, r, HIT_PANEL, panel, side);
}

void app_render(App *a, Canvas *c) {
    double t0 = now_ms();
    a->n_hits = 0;
    a->w = c->w;
    a->h = c->h;
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    a->too_small = c->w < APP_MIN_W || c->h < APP_MIN_H;
    if (a->too_small) { draw_too_small(a, c); a->frame_ms = now_ms() - t0; return; }
    int y = 0;
    draw_header(a, c, rect_make(0, y++, c->w, 1));
    draw_tabs(a, c, rect_make(0, y++, c->w, 1));
    int tok_h = c->h >= 40 ? 4 : c->h >= 30 ? 3 : 2;
    if (a->n_ses == 2) {
        int hw = c->w / 2;
        draw_tokens(a, c, rect_make(0, y, hw - 1, tok_h), a->ses[0], 0);
        draw_tokens(a, c, rect_make(hw + 1, y, c->w - hw - 1, tok_h), a->ses[1], 1);
        for (int k = 0; k < tok_h; k++) canvas_glyph(c, hw - 1 + 1 - 1, y + k, " ", sty(CR_TEXT));
    } else {
        draw_tokens(a, c, rect_make(1, y, c->w - 2, tok_h), a->ses[0], 0);
    }
    y += tok_h;
    Rect main = rect_make(0, y, c->w, c->h - y - 1);
    main = lesson_ui_draw(a, c, main);   /* [lesson] narration pane; panels get the rest */
    if (a->n_ses == 2) {
        int hw = main.w / 2;
        a->main_r[0] = rect_make(main.x, main.y, hw, main.h);
        a->main_r[1] = rect_make(main.x + hw, main.y, main.w - hw, main.h);
        draw_panel(a, c, a->cur, a->main_r[0], a->ses[0], 0, true);
        draw_panel(a, c, a->cur, a->main_r[1], a->ses[1], 1, true);
    } else if (a->side_on && main.w >= 140 && a->side_panel >= 0 && a->side_panel != a->cur) {
        int sw = main.w * 36 / 100;
        a->main_r[0] = rect_make(main.x, main.y, main.w - sw, main.h);
        a->main_r[1] = rect_make(main.x + main.w - sw, main.y, sw, main.h);
        draw_panel(a, c, a->cur, a->main_r[0], a->ses[0], 0, true);
        draw_panel(a, c, a->side_panel, a->main_r[1], a->ses[0], 0, false);
    } else {
        a->main_r[0] = main;
        a->main_r[1] = rect_make(0, 0, 0, 0);
        draw_panel(a, c, a->cur, main, a->ses[0], 0, true);
    }
    draw_fbar(a, c, rect_make(0, c->h - 1, c->w, 1));
    switch (a->overlay) {
    case OV_HELP: draw_help(a, c); break;
    case OV_PROMPT: draw_prompt(a, c); break;
    case OV_MODEL: draw_model_menu(a, c); break;
    case OV_SAMPLER: draw_sampler(a, c); break;
    default: break;
    }
    lesson_ui_draw_menu(a, c);   /* [lesson] */
    a->frame_ms = now_ms() - t0;
}

void app_render_panel(App *a, Canvas *c, int panel) {
    a->n_hits = 0;
    canvas_clear(c, (Style){color_default(), color_default(), 0});
    draw_panel(a, c, panel, rect_make(0, 0, c->w, c->h), a->ses[0], 0, true);
}

/* ---- input -------------------------------------------------------------------------- */

static int handle_overlay(App *a, int key) {
    switch (a->overlay) {
    case OV_HELP:
        if (key == TK_ESC || key == '?' || key == 'q' || key == TK_F1 || key == TK_ENTER) a->overlay = OV_NONE;
        return KR_ALL;
    case OV_PROMPT:
        if (key == TK_ESC) { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_ENTER) {
            a->overlay = OV_NONE;
            if (a->edit.len) act_set_prompt(a, a->edit.buf);
            return KR_ALL;
        }
        lineedit_key(&a->edit, key);
        return KR_ALL;
    case OV_MODEL:
        if (key == TK_ESC || key == 'q') { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_UP || key == 'k') { if (a->menu_sel > 0) a->menu_sel--; return KR_ALL; }
        if (key == TK_DOWN || key == 'j') { if (a->menu_sel + 1 < a->n_models) a->menu_sel++; return KR_ALL; }
        if (key == TK_ENTER && a->n_models) {
            a->overlay = OV_NONE;
            act_load_model(a, a->menu_target, a->models[a->menu_sel]);
        }
        return KR_ALL;
    case OV_SAMPLER: {
        SamplerCfg *s = &a->scfg;
        int d = (key == TK_RIGHT || key == '+' || key == '=') ? 1 : (key == TK_LEFT || key == '-') ? -1 : 0;
        if (key == TK_ESC) { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_UP) { a->sfield = (a->sfield + 4) % 5; return KR_ALL; }
        if (key == TK_DOWN || key == TK_TAB) { a->sfield = (a->sfield + 1) % 5; return KR_ALL; }
        if (key == ' ' && a->sfield == 0) { s->greedy = !s->greedy; return KR_ALL; }
        if (key == TK_ENTER) {
            a->overlay = OV_NONE;
            for (int i = 0; i < a->n_ses; i++) session_set_sampler(a->ses[i], *s);
            app_msg(a, false, "sampling: %s", s->greedy ? "greedy" : "temperature / top-k / top-p");
            return KR_ALL;
        }
        if (d) {
            switch (a->sfield) {
            case 0: s->greedy = !s->greedy; break;
            case 1: s->temperature = fmaxf(0.05f, fminf(5.0f, s->temperature + 0.05f * (float)d)); s->greedy = false; break;
            case 2: s->top_k = s->top_k + d < 0 ? 0 : s->top_k + d; s->greedy = false; break;
            case 3: s->top_p = fmaxf(0.05f, fminf(1.0f, s->top_p + 0.05f * (float)d)); s->greedy = false; break;
            case 4: s->seed = d > 0 ? s->seed + 1 : (s->seed ? s->seed - 1 : 0); break;
            default: break;
            }
        }
        return KR_ALL;
    }
    default: return KR_IGNORED;
    }
}

static int handle_key(App *a, int key) {
    if (a->overlay != OV_NONE) return handle_overlay(a, key);
    { int lr = lesson_ui_key(a, key); if (lr != KR_IGNORED) return lr; }   /* [lesson] menu, presenter keys */
    if (key == 'q' || key == TK_F10 || key == TK_INTERRUPT) { a->quit = true; return KR_ALL; }
    if (a->too_small) return KR_IGNORED;
    if (!a->n_ses) {
        if (key == 'm' || key == TK_F3) { a->overlay = OV_MODEL; a->menu_target = 0; return KR_ALL; }
        if (key == '?' || key == TK_F1) { a->overlay = OV_HELP; return KR_ALL; }
        return KR_IGNORED;
    }
    const PanelClass *pc = panel_class((PanelId)a->cur);
    if (pc && pc->key) {
        int r = pc->key(a->pst[a->cur], a->ses[0], key);
        if (r != KR_IGNORED) { sync_selection(a); return r; }
    }
    Session *s = a->ses[0];
    switch (key) {
    case 'n': case ' ': case TK_RIGHT: act_step(a); return KR_ALL;
    case 'b': case TK_LEFT: act_back(a); return KR_ALL;
    case TK_HOME: act_goto(a, 0); return KR_ALL;
    case TK_END: act_goto(a, session_len(s) - 1); return KR_ALL;
    case 'i': act_step_into(a, 1); return KR_ALL;
    case 'I': act_step_into(a, -1); return KR_ALL;
    case '[': case TK_F7: session_select_layer(s, s->layer - 1); sync_selection(a); return KR_ALL;
    case ']': case TK_F8: session_select_layer(s, s->layer + 1); sync_selection(a); return KR_ALL;
    case '{': session_select_head(s, s->head - 1); sync_selection(a); return KR_ALL;
    case '}': session_select_head(s, s->head + 1); sync_selection(a); return KR_ALL;
    case 'x': act_ablate(a); return KR_ALL;
    case 'r': case TK_F5:
        a->running = !a->running;
        app_msg(a, false, a->running ? "running: r pauses" : "paused");
        return KR_ALL;
    case 'e': case TK_F2: a->overlay = OV_PROMPT; lineedit_set(&a->edit, s->prompt); return KR_ALL;
    case 'm': case TK_F3:
        a->overlay = OV_MODEL; a->menu_target = 0;
        for (int i = 0; i < a->n_models; i++) if (!strcmp(a->models[i], s->model_path)) a->menu_sel = i;
        return KR_ALL;
    case 's': case TK_F4: a->overlay = OV_SAMPLER; a->scfg = sampler_cfg(s->sampler); a->sfield = 0; return KR_ALL;
    case 'c': case TK_F6: act_compare(a); return KR_ALL;
    case '?': case TK_F1: a->overlay = OV_HELP; return KR_ALL;
    case TK_TAB: a->side_on = !a->side_on; return KR_ALL;
    case TK_F9: a->cur = (a->cur + 1) % PANEL_COUNT; return KR_ALL;
    case TK_BTAB: a->cur = (a->cur + PANEL_COUNT - 1) % PANEL_COUNT; return KR_ALL;
    case TK_CTRL('l'): return KR_ALL;
    default: break;
    }
    if (key >= '1' && key < '1' + PANEL_COUNT) { a->cur = key - '1'; return KR_ALL; }
    return KR_IGNORED;
}

static int handle_mouse(App *a, const TuiEvent *ev) {
    if (ev->button == MB_WHEEL_UP || ev->button == MB_WHEEL_DOWN) {
        if (a->overlay == OV_MODEL) return handle_key(a, ev->button == MB_WHEEL_UP ? TK_UP : TK_DOWN);
        if (a->overlay != OV_NONE) return KR_IGNORED;
        return handle_key(a, ev->button == MB_WHEEL_UP ? 'b' : 'n');
    }
    for (int i = a->n_hits - 1; i >= 0; i--) {
        const Hit *h = &a->hits[i];
        if (!rect_contains(h->r, ev->mx, ev->my)) continue;
        if (a->overlay != OV_NONE && h->kind != HIT_MENU) {
            if (a->overlay == OV_HELP) { a->overlay = OV_NONE; return KR_ALL; }
            return KR_IGNORED;
        }
        switch (h->kind) {
        case HIT_MENU:
            if (a->overlay != OV_MODEL) return KR_IGNORED;
            a->menu_sel = h->arg;
            return handle_overlay(a, TK_ENTER);
        case HIT_TAB: a->cur = h->arg; return KR_ALL;
        case HIT_FKEY: return handle_key(a, h->arg);
        case HIT_TOKEN:
            if (a->n_ses > h->side) {
                Session *s = a->ses[h->side];
                if (h->arg < session_len(s)) {
                    int delta = h->arg - s->cursor;
                    for (int k = 0; k < a->n_ses; k++) {
                        Session *o = a->ses[k];
                        session_goto(o, k == h->side ? h->arg : o->cursor + delta);
                    }
                }
            }
            return KR_ALL;
        case HIT_PANEL: {
            const PanelClass *pc = panel_class((PanelId)h->arg);
            if (pc && pc->click && a->n_ses > h->side) {
                int r = pc->click(a->pst[h->arg], a->ses[h->side], h->side, ev->mx, ev->my, ev->button);
                if (r) {
                    if (h->side == 1 && a->ses[0] && a->ses[1]) {   /* mirror onto the main side */
                        session_select_layer(a->ses[0], a->ses[1]->layer);
                        session_select_head(a->ses[0], a->ses[1]->head);
                    }
                    sync_selection(a);
                }
                if (h->arg != a->cur) a->cur = h->arg;
                return KR_ALL;
            }
            if (h->arg != a->cur) { a->cur = h->arg; return KR_ALL; }
            return KR_IGNORED;
        }
        default: return KR_IGNORED;
        }
    }
    if (a->overlay == OV_HELP) { a->overlay = OV_NONE; return KR_ALL; }
    return KR_IGNORED;
}

int app_handle(App *a, const TuiEvent *ev) {
    switch (ev->key) {
    case TK_NONE: return KR_IGNORED;
    case TK_RESIZE: return KR_ALL;
    case TK_INTERRUPT: a->quit = true; return KR_ALL;
    case TK_MOUSE: return handle_mouse(a, ev);
    case TK_TICK:
        if (a->running && a->overlay == OV_NONE && !a->too_small) {
            Session *s = a->ses[0];
            const TraceTok *t = s ? trace_tok(s->trace, s->cursor) : NULL;
            if (!act_step(a) || (t && spec_is_eos(&s->model->spec, t->next_id) && s->cursor == session_len(s) - 1)) {
                a->running = false;
                if (!a->msg_error) app_msg(a, false, "stopped");
            }
            return KR_ALL;
        }
        return KR_IGNORED;
    default: return handle_key(a, ev->key);
    }
}
