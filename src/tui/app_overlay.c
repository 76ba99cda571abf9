/* The App's overlays (help, prompt editor, model menu, sampler form), the line editor and
 * the model directory scan. Overlays are terminal state, not the scene's: only their
 * Enter calls a scene action (scene_set_prompt, scene_load_model, scene_set_sampler). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/i18n.h"
#include "tui/app.h"
#include "tui/theme.h"
#include "tui/widgets/widgets.h"

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

/* Same model when both paths resolve to the same file or directory (or are equal strings). */
static bool same_model_path(const char *x, const char *y) {
    if (!strcmp(x, y)) return true;
    struct stat sx, sy;
    return stat(x, &sx) == 0 && stat(y, &sy) == 0 && sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino;
}

void app_add_model(App *a, const char *path) {
    if (!path || !*path) return;
    for (int i = 0; i < a->n_models; i++)
        if (same_model_path(a->models[i], path)) return;
    if (a->n_models == APP_MAX_MODELS) a->n_models--;   /* the user's model matters more than the last bundled one */
    memmove(a->models[1], a->models[0], sizeof a->models[0] * (size_t)a->n_models);
    snprintf(a->models[0], sizeof a->models[0], "%s", path);
    a->n_models++;
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

/* ---- overlays --------------------------------------------------------------------- */

static Rect center_box(const Canvas *c, int w, int h) {
    if (w > c->w - 2) w = c->w - 2;
    if (h > c->h - 2) h = c->h - 2;
    if (w < 4) w = c->w;
    if (h < 3) h = c->h;
    return rect_make((c->w - w) / 2, (c->h - h) / 2, w, h);
}

static const char HELP_GLOBAL[] = N_(
    "n Space \xe2\x86\x92  next token (prefill first, then decode one)\n"
    "b \xe2\x86\x90        back one token (no recompute)\n"
    "Home End   first / last recorded token\n"
    "i / I      step into the next / previous sublayer stage\n"
    "1-8 F9     switch panel (Tab: side panel on/off)\n"
    "[ ]        layer - / +        { }  head - / +\n"
    "x          zero the selected head (ablation) / undo\n"
    "r F5       run / pause        e F2  edit the prompt\n"
    "m F3       switch model       s F4  sampling settings\n"
    "c F6       compare two models     E     texts to compare\n"
    "f          trade-off: bits/byte against KV bytes of the family\n"
    "L          lessons: guided tours (\xe2\x86\x90 \xe2\x86\x92 step, q leaves)\n"   /* [lesson] */
    "C          colour theme: dark / light (projector) / contrast\n"
    "? F1       this help          q F10 quit\n"
    "mouse      click tokens, tabs, F-keys and panel cells");

/* A help line that starts a line of its own: a key row ("v        what v does": two blanks
 * early), an indented row, or one that opens with a label ("Left: ...", "左：..."). Key rows
 * and indented rows also end theirs; a labelled line is a paragraph's first. */
static bool help_key_row(const char *l, size_t n) {
    if (n == 0 || l[0] == ' ') return true;
    size_t k = n < 16 ? n : 16;
    for (size_t i = 0; i + 1 < k; i++) if (l[i] == ' ' && l[i + 1] == ' ') return true;
    return false;
}

static bool help_line_own(const char *l, size_t n) {
    if (help_key_row(l, n)) return true;
    size_t k = n < 16 ? n : 16;
    if (l[0] >= 'A' && l[0] <= 'Z')
        for (size_t i = 1; i + 1 < k; i++) if (l[i] == ':' && l[i + 1] == ' ') return true;
    for (size_t i = 0; i + 2 < k; i++) if (!memcmp(l + i, "\xef\xbc\x9a", 3)) return true;   /* "：" */
    return false;
}

/* Is the character at or ending before s (a line's last, or the next line's first) Chinese
 * (U+2E80 and up: CJK, fullwidth punctuation)? */
static bool help_cjk(const char *s, bool last, const char *start) {
    if (last) {
        if (s <= start) return false;
        do s--; while (s > start && ((unsigned char)*s & 0xc0) == 0x80);
    }
    const unsigned char *u = (const unsigned char *)s;
    return u[0] >= 0xe2 && !(u[0] == 0xe2 && u[1] < 0xba);     /* U+2E80 = e2 ba 80 */
}

/* The help's sentences were broken at about 80 columns in the source; the box is narrower, so
 * a line break inside a paragraph becomes a blank (English, or Chinese beside a Latin word) or
 * nothing (between two Chinese characters) and the box wraps the paragraph once. Key rows,
 * indented rows, labelled lines and breaks next to another non-ASCII character keep them. */
static void help_reflow(const char *in, char *out, size_t cap) {
    size_t o = 0;
    const char *l = in;
    while (*l && o + 1 < cap) {
        size_t n = strcspn(l, "\n");
        if (o + n + 2 >= cap) break;
        memcpy(out + o, l, n);
        o += n;
        if (!l[n]) break;
        const char *next = l + n + 1;
        size_t nn = strcspn(next, "\n");
        const bool ca = n && help_cjk(l + n, true, l), cb = nn && help_cjk(next, false, next);
        const bool join = n && nn && !help_key_row(l, n) && l[n - 1] != ':' && !help_line_own(next, nn)
                          && (n < 3 || memcmp(l + n - 3, "\xef\xbc\x9a", 3))          /* "：" */
                          && ((unsigned char)l[n - 1] < 0x80 || ca) && ((unsigned char)next[0] < 0x80 || cb);
        if (!join) out[o++] = '\n';
        else if (!(ca && cb)) out[o++] = ' ';         /* two Chinese characters join without a blank */
        l = next;
    }
    out[o] = 0;
}

/* The help: the main panel's own keys and what it shows first (what `?` on a panel asks),
 * then the keys of every panel. Taller than the screen (80x24 already), it scrolls: the frame's
 * bottom says which way there is more. */
static void draw_help(App *a, Canvas *c) {
    const PanelClass *pc = a->sc->view.tradeoff ? &panel_tradeoff : panel_class((PanelId)a->sc->panel);
    char text[4096];
    char head[128];
    snprintf(head, sizeof head, a->sc->view.tradeoff ? tr("%s view:") : tr("%s panel:"), tr(pc->title));
    char raw[4096];
    snprintf(raw, sizeof raw, "%s\n%s\n\n%s\n%s", head, pc->help ? tr(pc->help) : "", tr("Every panel:"), tr(HELP_GLOBAL));
    help_reflow(raw, text, sizeof text);
    const int bw = c->w - 2 < 66 ? c->w - 2 : 66;         /* the text: a blank, bw - 4 columns, a blank */
    int rows = w_text_hang_rows(text, bw - 4, c->unicode);
    Rect b = center_box(c, bw, rows + 2);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, tr("Help \xc2\xb7 Esc closes"), true);
    if (in.w <= 1 || in.h <= 0) return;
    int top_max = rows > in.h ? rows - in.h : 0;
    if (a->help_top > top_max) a->help_top = top_max;
    if (a->help_top < 0) a->help_top = 0;
    a->help_page = in.h;
    canvas_push_clip(c, in);
    w_text_hang(c, rect_make(in.x + 1, in.y - a->help_top, in.w - 2, rows), text, sty(CR_TEXT));
    canvas_pop_clip(c);
    if (top_max > 0) {      /* which way there is more, on the bottom border */
        const bool up = a->help_top > 0, down = a->help_top < top_max;
        char more[96];
        snprintf(more, sizeof more, " %s%s %s ", up ? (c->unicode ? "\xe2\x86\x91" : "^") : "",
                 down ? (c->unicode ? "\xe2\x86\x93" : "v") : "", tr("PgUp PgDn: more"));
        int mw = text_width(more, c->unicode);
        if (mw < b.w - 4) canvas_text(c, b.x + b.w - 2 - mw, b.y + b.h - 1, more, sty_attr(CR_ACCENT, ATTR_BOLD));
    }
}

/* A line of keys or facts separated by sep ("  Â·  ", "  "): too wide, it loses whole parts
 * from its end ("... Ctrl-K delete line", not "... at most…"). */
static void draw_parts(Canvas *c, int x, int y, const char *text, const char *sep, int w, Style st) {
    char t[512];
    snprintf(t, sizeof t, "%s", text);
    for (char *k; text_width(t, c->unicode) > w && (k = strstr(t, sep)) != NULL;) {
        char *last = k;
        while ((k = strstr(last + 1, sep)) != NULL) last = k;
        *last = 0;
    }
    canvas_text_fit(c, x, y, t, w, st);
}

/* n bytes of s at (x, y), a line break drawn as the token strip draws it (the canvas shows a
 * control character as a replacement glyph of the same width); returns the column after it. */
static int edit_text(Canvas *c, int x, int y, const char *s, size_t n, Style st) {
    char *t = malloc(3 * n + 1), *o = t;
    if (!t) return x;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && c->unicode) { memcpy(o, "\xe2\x86\xb5", 3); o += 3; }
        else *o++ = s[i];
    }
    *o = 0;
    int cx = canvas_text(c, x, y, t, st);
    free(t);
    return cx;
}

/* One line of a LineEdit at (x, y), w columns, scrolled so the cursor stays visible: the text
 * before it starts at its first grapheme from which less than w - 1 columns remain (the width is
 * measured once and each grapheme left out taken off: measuring what remained after every
 * grapheme took 0.6-0.7 s a key at the end of a 6,000-byte prompt). Text scrolled out of view
 * is marked in the columns beside the line (x - 1 and x + w, blank in both editors): "…" (ASCII
 * '<', '>') on the side where there is more. */
static void draw_lineedit(Canvas *c, const LineEdit *le, int x, int y, int w, bool cursor) {
    int avail = w - 1;
    size_t start = 0;
    char *tmp = malloc(le->cur + 1);
    if (!tmp) return;
    memcpy(tmp, le->buf, le->cur);
    tmp[le->cur] = 0;
    int width = text_width(tmp, c->unicode);
    while (width >= avail && start < le->cur) {
        size_t g = text_next_grapheme(le->buf + start);
        if (!g) break;
        memcpy(tmp, le->buf + start, g);
        tmp[g] = 0;
        width -= text_width(tmp, c->unicode);
        start += g;
    }
    free(tmp);
    canvas_push_clip(c, rect_make(x, y, w, 1));     /* the text after the cursor ended past the box */
    int cx = edit_text(c, x, y, le->buf + start, le->cur - start, sty(CR_TEXT));
    size_t g = text_next_grapheme(le->buf + le->cur);
    char cur[16] = " ";
    if (g && g < sizeof cur) { memcpy(cur, le->buf + le->cur, g); cur[g] = 0; }
    edit_text(c, cx, y, cur, strlen(cur), cursor ? sty2(CR_TEXT, CR_CURRENT, ATTR_REVERSE) : sty(CR_TEXT));
    int cw = text_width(cur, c->unicode);
    const char *rest = le->buf + le->cur + g;
    const int end = edit_text(c, cx + (cw ? cw : 1), y, rest, strlen(rest), sty(CR_TEXT));
    canvas_pop_clip(c);
    const Style ms = sty_attr(CR_ACCENT, ATTR_BOLD);
    canvas_fill(c, rect_make(x + w, y, 1, 1), " ", sty(CR_TEXT));
    if (start > 0) canvas_text(c, x - 1, y, c->unicode ? "\xe2\x80\xa6" : "<", ms);
    if (end > x + w) canvas_text(c, x + w, y, c->unicode ? "\xe2\x80\xa6" : ">", ms);
}

static void draw_prompt(App *a, Canvas *c) {
    Rect b = center_box(c, c->w - 4 > 100 ? 100 : c->w - 4, 5);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, tr("Prompt \xc2\xb7 Enter runs it, Esc cancels"), true);
    if (in.w <= 2 || in.h <= 0) return;
    LineEdit *le = &a->edit;
    draw_lineedit(c, le, in.x + 1, in.y + 1, in.w - 2, true);
    if (in.h > 2) {
        char info[128];
        snprintf(info, sizeof info, tr("%zu bytes  \xc2\xb7  Ctrl-U clears  \xc2\xb7  \xe2\x86\x90 \xe2\x86\x92 Home End move"), le->len);
        draw_parts(c, in.x + 1, in.y + 2, info, "  \xc2\xb7  ", in.w - 2, sty(CR_DIM));
    }
}

/* The texts editor (E): the texts the Embeddings panel compares, one per line. */
static void draw_texts(App *a, Canvas *c) {
    const SimTexts *t = &a->tedit;
    Rect b = center_box(c, c->w - 4 > 100 ? 100 : c->w - 4, t->n + 5);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, tr("Texts to compare \xc2\xb7 F2 or Ctrl-X applies, Esc cancels"), true);
    if (in.w <= 6 || in.h <= 0) return;
    for (int i = 0; i < t->n && 1 + i < in.h; i++) {
        char lab[8];
        snprintf(lab, sizeof lab, "%d", i + 1);
        int y = in.y + 1 + i;
        canvas_text(c, in.x + 1, y, lab, i == a->tline ? sty_attr(CR_ACCENT, ATTR_BOLD) : sty(CR_DIM));
        if (i == a->tline) draw_lineedit(c, &a->edit, in.x + 4, y, in.w - 6, true);
        else canvas_text_fit(c, in.x + 4, y, t->text[i], in.w - 6, sty(CR_TEXT));
    }
    if (in.h > t->n + 2)
        draw_parts(c, in.x + 1, in.y + t->n + 2,
                   tr("\xe2\x86\x91\xe2\x86\x93 line  \xc2\xb7  Enter new line  \xc2\xb7  Ctrl-K delete line  \xc2\xb7  at most 8 texts"), "  \xc2\xb7  ",
                   in.w - 2, sty(CR_DIM));
}

/* Keeps the line being edited in the working copy. */
static void texts_store(App *a) {
    if (a->tline >= 0 && a->tline < a->tedit.n) snprintf(a->tedit.text[a->tline], SIM_TEXT_CAP, "%s", a->edit.buf);
}

static void texts_goto(App *a, int line) {
    texts_store(a);
    a->tline = line < 0 ? 0 : line >= a->tedit.n ? a->tedit.n - 1 : line;
    lineedit_set(&a->edit, a->tedit.text[a->tline]);
}

static int texts_key(App *a, int key) {
    SimTexts *t = &a->tedit;
    if (key == TK_ESC) { a->overlay = OV_NONE; return KR_ALL; }
    if (key == TK_UP) { texts_goto(a, a->tline - 1); return KR_ALL; }
    if (key == TK_DOWN) { texts_goto(a, a->tline + 1); return KR_ALL; }
    if (key == TK_ENTER) {
        texts_store(a);
        if (t->n >= SIM_TEXTS_MAX) { scene_status(a->sc, true, "at most %d texts are compared at once", SIM_TEXTS_MAX); return KR_ALL; }
        memmove(t->text[a->tline + 2], t->text[a->tline + 1], (size_t)(t->n - a->tline - 1) * SIM_TEXT_CAP);
        t->text[a->tline + 1][0] = 0;
        t->n++;
        a->tline++;
        lineedit_set(&a->edit, "");
        return KR_ALL;
    }
    if (key == TK_CTRL('k')) {
        if (t->n <= 1) { t->text[0][0] = 0; lineedit_set(&a->edit, ""); return KR_ALL; }
        memmove(t->text[a->tline], t->text[a->tline + 1], (size_t)(t->n - a->tline - 1) * SIM_TEXT_CAP);
        t->n--;
        if (a->tline >= t->n) a->tline = t->n - 1;
        lineedit_set(&a->edit, t->text[a->tline]);
        return KR_ALL;
    }
    if (key == TK_F2 || key == TK_CTRL('x')) {
        texts_store(a);
        const char *v[SIM_TEXTS_MAX];
        int n = 0;
        for (int i = 0; i < t->n; i++) if (t->text[i][0]) v[n++] = t->text[i];
        if (!n) { scene_status(a->sc, true, "no texts: type at least one line"); return KR_ALL; }
        Err e = {0};
        if (scene_set_texts(a->sc, v, n, &e)) {
            a->overlay = OV_NONE;
            scene_show_panel(a->sc, PANEL_EMBEDDINGS, &e);
        }
        return KR_ALL;
    }
    /* a printable key past the capacity of one text is refused (the rest edits as usual) */
    if (key >= 32 && key != 127 && key < 0x110000 && a->edit.len + 4 >= SIM_TEXT_CAP) {
        scene_status(a->sc, true, "a text holds at most %d bytes", SIM_TEXT_CAP - 1);
        return KR_ALL;
    }
    lineedit_key(&a->edit, key);
    return KR_ALL;
}

static void draw_model_menu(App *a, Canvas *c) {
    int n = a->n_models, bw = 60;
    for (int k = 0; k < n; k++) {   /* wider for a long name, as far as the screen goes (was cut at 60) */
        char nm[256];
        int w = text_width(app_model_basename(a->models[k], nm, sizeof nm), c->unicode) + 6;   /* " * " name, a blank, borders */
        if (w > bw) bw = w;
    }
    if (bw > c->w - 4) bw = c->w - 4 > 60 ? c->w - 4 : 60;
    Rect b = center_box(c, bw, (n ? n : 1) + 4);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, a->menu_target ? tr("Compare with \xc2\xb7 Enter loads") : tr("Model \xc2\xb7 Enter loads"), true);
    if (!n) { canvas_text_fit(c, in.x + 1, in.y, tr("no bundled models found (assets/models)"), in.w - 2, sty(CR_WARN)); return; }
    int first = a->menu_sel >= in.h - 1 ? a->menu_sel - (in.h - 2) : 0;
    const int shown = n - first < in.h - 1 ? n - first : in.h - 1;
    w_frame_more(c, b, first, n - first - (shown > 0 ? shown : 0), tr("%s more"));   /* models out of view */
    for (int i = 0; i < in.h - 1 && first + i < n; i++) {
        int k = first + i;
        char nm[256], line[300];
        app_model_basename(a->models[k], nm, sizeof nm);     /* always: nm is printed below */
        const Session *ts = a->sc->ses[a->menu_target ? 1 : 0];
        bool loaded = ts && same_model_path(session_model_path(ts), a->models[k]);   /* not a name within another: story-gqa2 */
        snprintf(line, sizeof line, " %s %s", loaded ? "*" : " ", nm);
        Style st = k == a->menu_sel ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_TEXT);
        Rect row = rect_make(in.x, in.y + i, in.w, 1);
        canvas_fill(c, row, " ", st);
        canvas_text_fit(c, in.x, in.y + i, line, in.w, st);
        app_add_hit(a, row, HIT_MENU, k, 0);
    }
    draw_parts(c, in.x + 1, in.y + in.h - 1, tr("\xe2\x86\x91\xe2\x86\x93 choose  Enter load  Esc cancel"), "  ", in.w - 2, sty(CR_DIM));
}

static void draw_sampler(App *a, Canvas *c) {
    Rect b = center_box(c, 60, 13);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, tr("Sampling \xc2\xb7 Enter applies"), true);
    char v[5][64];
    snprintf(v[0], sizeof v[0], tr("greedy       [%s]"), a->scfg.greedy ? "x" : " ");
    snprintf(v[1], sizeof v[1], tr("temperature  %.2f"), (double)a->scfg.temperature);
    snprintf(v[2], sizeof v[2], tr("top-k        %d%s"), a->scfg.top_k, a->scfg.top_k ? "" : tr(" (off)"));
    snprintf(v[3], sizeof v[3], tr("top-p        %.2f%s"), (double)a->scfg.top_p, a->scfg.top_p >= 1 ? tr(" (off)") : "");
    snprintf(v[4], sizeof v[4], tr("seed         %llu"), (unsigned long long)a->scfg.seed);
    for (int i = 0; i < 5 && i < in.h; i++) {
        Style st = i == a->sfield ? sty2(CR_TEXT, CR_SELECT, ATTR_BOLD) : sty(CR_TEXT);
        Rect row = rect_make(in.x, in.y + i, in.w, 1);
        canvas_fill(c, row, " ", st);
        canvas_text_fit(c, in.x + 1, in.y + i, v[i], in.w - 2, st);
    }
    /* the model's defaults under the options `tui` was given (what `run` would decode with), and
     * whether the settings are still those */
    if (in.h > 6 && a->sdesc[0]) {
        char md[sizeof a->sdesc + 64];
        snprintf(md, sizeof md, a->sc->n_ses > 1 ? tr("d  the models' defaults%s, A: %s (B: its own)") : tr("d  the model's defaults%s: %s"),
                 a->sc->gen_follow ? tr(" (in use)") : "", a->sdesc);
        w_text(c, rect_make(in.x + 1, in.y + 6, in.w - 2, 3), md, sty(CR_TEXT));
    }
    if (in.h > 9)
        w_text(c, rect_make(in.x + 1, in.y + 9, in.w - 2, in.h - 9),
               tr("\xe2\x86\x91\xe2\x86\x93 field  \xe2\x86\x90\xe2\x86\x92 -/+ change  Space greedy  d defaults  Enter apply  Esc cancel"),
               sty(CR_DIM));
}


int app_overlay_key(App *a, int key) {
    switch (a->overlay) {
    case OV_HELP: {
        const int page = a->help_page > 1 ? a->help_page - 1 : 1;   /* draw_help clamps */
        if (key == TK_ESC || key == '?' || key == 'q' || key == TK_F1 || key == TK_ENTER) a->overlay = OV_NONE;
        else if (key == TK_DOWN || key == 'j') a->help_top++;
        else if (key == TK_UP || key == 'k') a->help_top--;
        else if (key == TK_PGDN || key == ' ') a->help_top += page;
        else if (key == TK_PGUP || key == 'b') a->help_top -= page;
        else if (key == TK_HOME) a->help_top = 0;
        else if (key == TK_END) a->help_top = 1 << 20;
        if (a->help_top < 0) a->help_top = 0;
        return KR_ALL;
    }
    case OV_PROMPT:
        if (key == TK_ESC) { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_ENTER) {
            a->overlay = OV_NONE;
            Err e = {0};
            if (a->edit.len) scene_set_prompt(a->sc, a->edit.buf, true, &e);
            return KR_ALL;
        }
        lineedit_key(&a->edit, key);
        return KR_ALL;
    case OV_TEXTS: return texts_key(a, key);
    case OV_MODEL:
        if (key == TK_ESC || key == 'q') { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_UP || key == 'k') { if (a->menu_sel > 0) a->menu_sel--; return KR_ALL; }
        if (key == TK_DOWN || key == 'j') { if (a->menu_sel + 1 < a->n_models) a->menu_sel++; return KR_ALL; }
        if (key == TK_ENTER && a->n_models) {
            a->overlay = OV_NONE;
            Err e = {0};
            scene_load_model(a->sc, a->menu_target, a->models[a->menu_sel], &e);
        }
        return KR_ALL;
    case OV_SAMPLER: {
        SamplerCfg *s = &a->scfg;
        int d = (key == TK_RIGHT || key == '+' || key == '=') ? 1 : (key == TK_LEFT || key == '-') ? -1 : 0;
        if (key == TK_ESC) { a->overlay = OV_NONE; return KR_ALL; }
        if (key == TK_UP) { a->sfield = (a->sfield + 4) % 5; return KR_ALL; }
        if (key == TK_DOWN || key == TK_TAB) { a->sfield = (a->sfield + 1) % 5; return KR_ALL; }
        if (key == ' ' && a->sfield == 0) { s->greedy = !s->greedy; a->sdefaults = false; return KR_ALL; }
        if (key == 'd') {   /* the model's defaults (as `run` would take them), applied with Enter */
            Err e = {0};
            const Session *s0 = a->sc->ses[0];
            GenChoice gc;
            if (s0 && gen_choose(&session_model(s0)->spec, &a->sc->gen_opts, &gc, &e)) { *s = gc.cfg; a->sdefaults = true; }
            return KR_ALL;
        }
        if (key == TK_ENTER) {
            a->overlay = OV_NONE;
            Err e = {0};
            if (a->sdefaults) scene_sampler_model(a->sc, NULL, true, &e);   /* and models loaded later take theirs */
            else scene_set_sampler(a->sc, -1, *s, &e);
            return KR_ALL;
        }
        if (d) a->sdefaults = false;
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

void app_open_overlay(App *a, Overlay ov) {
    Scene *sc = a->sc;
    const Session *s = sc->ses[0];
    a->overlay = ov;
    if (ov == OV_HELP) a->help_top = 0;
    if (ov == OV_PROMPT) lineedit_set(&a->edit, s ? session_prompt(s) : "");
    if (ov == OV_TEXTS) {
        /* the scene's texts, or the prompt as the first text and an empty second line */
        a->tedit = sc->view.texts;
        a->tline = 0;
        if (a->tedit.n == 0) {
            a->tedit.n = 2;
            snprintf(a->tedit.text[0], SIM_TEXT_CAP, "%s", s && strlen(session_prompt(s)) < SIM_TEXT_CAP ? session_prompt(s) : "");
            a->tedit.text[1][0] = 0;
            a->tline = a->tedit.text[0][0] ? 1 : 0;
        }
        lineedit_set(&a->edit, a->tedit.text[a->tline]);
    }
    if (ov == OV_SAMPLER) {
        a->scfg = s && session_sampler(s) ? sampler_cfg(session_sampler(s)) : sc->scfg;
        a->sfield = 0;
        a->sdefaults = false;
        a->sdesc[0] = 0;
        if (s) {   /* what `run` would decode this model with, under the options `tui` was given */
            GenChoice gc;
            Err e = {0};
            if (gen_choose(&session_model(s)->spec, &sc->gen_opts, &gc, &e)) gen_describe(&gc, true, a->sdesc, sizeof a->sdesc);
            else snprintf(a->sdesc, sizeof a->sdesc, "%.*s", (int)strcspn(e.msg, "\n"), e.msg);
        }
    }
    if (ov == OV_MODEL && !a->menu_target && s)
        for (int i = 0; i < a->n_models; i++) if (!strcmp(a->models[i], session_model_path(s))) a->menu_sel = i;
}

void app_draw_overlay(App *a, Canvas *c) {
    switch (a->overlay) {
    case OV_HELP: draw_help(a, c); break;
    case OV_PROMPT: draw_prompt(a, c); break;
    case OV_MODEL: draw_model_menu(a, c); break;
    case OV_SAMPLER: draw_sampler(a, c); break;
    case OV_TEXTS: draw_texts(a, c); break;
    default: break;
    }
}
