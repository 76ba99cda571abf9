/* ncursesw backend: capability detection, canvas blit with minimal updates, input. */
#include "tui/term.h"
#include "tui/theme.h"
#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <term.h>
#include <unistd.h>
#include <utf8proc.h>
#include <wchar.h>

#define PAL_FIRST 16
#define PAL_N 240
#define PAL_HASH 1024


struct Term {
    SCREEN *scr;
    int w, h;
    bool unicode;
    TermColorImpl impl;
    ColorMode mode;
    Cell *shadow;          /* what the screen shows: [h][w] */
    int sw, sh;
    bool full;             /* repaint every cell on the next draw */
    int theme;             /* the theme the screen was drawn in: the shadow holds cells before
                            * theme_resolve, so a cell that is the same in the new theme's frame
                            * still shows the old theme's colours until every cell is repainted */
    int saved_stderr;
    FILE *held;
    /* palette mode: RGB (6 bits per channel) -> slot */
    uint32_t pal_key[PAL_HASH];
    int16_t pal_slot[PAL_HASH];
    uint32_t pal_rgb[PAL_N];
    int pal_n;
    bool pal_overflow;
    /* direct colour written by us (TERM_COLOR_SGR) */
    const char *cup;           /* terminfo cursor_address */
    bool xenl;                 /* writing the last column does not scroll at once */
    char *out;                 /* frame output buffer */
    size_t out_n, out_cap;
};

static volatile sig_atomic_t g_interrupted;

static void on_signal(int sig) { (void)sig; g_interrupted = 1; }

static bool starts_with(const char *s, const char *p) { return s && !strncmp(s, p, strlen(p)); }

ColorMode term_color_mode_of(TermColorImpl impl) {
    switch (impl) {
    case TERM_COLOR_DIRECT: case TERM_COLOR_SGR: case TERM_COLOR_PALETTE: return CMODE_TRUE;
    case TERM_COLOR_256: return CMODE_256;
    case TERM_COLOR_16: return CMODE_16;
    default: return CMODE_NONE;
    }
}

TermColorImpl term_pick_colors(const TermCaps *k) {
    const char *ov = k->override;
    if (ov && *ov) {
        if (!strcmp(ov, "none") || !strcmp(ov, "mono")) return TERM_COLOR_NONE;
        if (!strcmp(ov, "16")) return TERM_COLOR_16;
        if (!strcmp(ov, "256")) return TERM_COLOR_256;
        if (!strcmp(ov, "true") || !strcmp(ov, "truecolor") || !strcmp(ov, "direct"))
            return k->colors >= 0x1000000 ? TERM_COLOR_DIRECT : TERM_COLOR_SGR;
        if (!strcmp(ov, "palette"))
            return k->colors >= 256 && k->can_redefine ? TERM_COLOR_PALETTE : TERM_COLOR_256;
        /* anything else: detect as usual (cmd_tui rejects unknown values up front) */
    }
    if ((k->no_color && *k->no_color) || !k->term || !*k->term || !strcmp(k->term, "dumb")) return TERM_COLOR_NONE;
    if (k->colors < 8) return TERM_COLOR_NONE;
    if (k->colors >= 0x1000000) return TERM_COLOR_DIRECT;      /* terminfo says direct colour */
    if (k->rgb) return TERM_COLOR_SGR;                          /* terminfo RGB / Tc flag */
    /* COLORTERM is inherited into tmux and screen, which may not pass 24-bit colour on:
     * believe it only outside a multiplexer */
    bool mux = (k->tmux && *k->tmux) || (k->sty && *k->sty) || starts_with(k->term, "screen") ||
               starts_with(k->term, "tmux");
    bool ct = k->colorterm && (!strcmp(k->colorterm, "truecolor") || !strcmp(k->colorterm, "24bit"));
    if (ct && !mux && k->colors >= 256) return TERM_COLOR_SGR;
    if (k->colors >= 256) return TERM_COLOR_256;
    return TERM_COLOR_16;
}

bool term_color_override_ok(const char *v) {
    static const char *ok[] = {"none", "mono", "16", "256", "true", "truecolor", "direct", "palette"};
    if (!v || !*v) return true;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) if (!strcmp(v, ok[i])) return true;
    return false;
}

void term_detect_env(bool *unicode, ColorMode *mode) {
    const char *cs = nl_langinfo(CODESET);
    bool u = cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
    const char *a = getenv("LLMSCOPE_ASCII");
    if (a && *a && strcmp(a, "0")) u = false;
    /* without terminfo: what the environment alone says (screenshot, the no-terminal path) */
    const char *term = getenv("TERM");
    TermCaps k = {term, getenv("COLORTERM"), getenv("TMUX"), getenv("STY"), getenv("NO_COLOR"),
                  getenv("LLMSCOPE_COLOR"), term && strstr(term, "256") ? 256 : 8, false, false};
    if (unicode) *unicode = u;
    if (mode) *mode = term_color_mode_of(term_pick_colors(&k));
}

/* ---- stderr holding ---------------------------------------------------------------- */

static void hold_stderr(Term *t) {
    t->saved_stderr = -1;
    t->held = tmpfile();
    if (!t->held) return;
    fflush(stderr);
    t->saved_stderr = dup(STDERR_FILENO);
    if (t->saved_stderr < 0 || dup2(fileno(t->held), STDERR_FILENO) < 0) {
        if (t->saved_stderr >= 0) close(t->saved_stderr);
        t->saved_stderr = -1;
        fclose(t->held);
        t->held = NULL;
    }
}

static void release_stderr(Term *t) {
    if (!t->held) return;
    fflush(stderr);
    dup2(t->saved_stderr, STDERR_FILENO);
    close(t->saved_stderr);
    rewind(t->held);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, t->held)) > 0) fwrite(buf, 1, n, stderr);
    fclose(t->held);
    t->held = NULL;
}

/* ---- open / close ------------------------------------------------------------------ */

Term *term_open(Err *e) {
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        err_set(e, ERR_ARG, "the terminal UI needs a terminal on stdin and stdout; "
                            "use `llmscope screenshot` to render a panel to a file");
        return NULL;
    }
    Term *t = calloc(1, sizeof *t);
    if (!t) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    term_detect_env(&t->unicode, NULL);
    hold_stderr(t);
    t->scr = newterm(NULL, stdout, stdin);
    if (!t->scr) {
        release_stderr(t);
        const char *tn = getenv("TERM");
        err_set(e, ERR_UNSUPPORTED, "cannot start curses on TERM='%s'; set TERM (e.g. xterm-256color) "
                "or use `llmscope screenshot`", tn ? tn : "");
        free(t);
        return NULL;
    }
    set_term(t->scr);
    char cup[] = "cup";
    const char *cupv = tigetstr(cup);
    if (cupv == NULL || cupv == (char *)-1) {
        endwin();
        delscreen(t->scr);
        release_stderr(t);
        const char *tn = getenv("TERM");
        err_set(e, ERR_UNSUPPORTED, "TERM='%s' cannot move the cursor, so a full-screen UI is not "
                "possible; use `llmscope screenshot --panel NAME` for a text rendering", tn ? tn : "");
        free(t);
        return NULL;
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    intrflush(stdscr, FALSE);
    leaveok(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    mouseinterval(0);
    mousemask(BUTTON1_PRESSED | BUTTON2_PRESSED | BUTTON3_PRESSED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
              | BUTTON5_PRESSED
#endif
              , NULL);

    t->impl = TERM_COLOR_NONE;
    if (has_colors()) {
        char rgb_name[] = "RGB", tc_name[] = "Tc", xenl_name[] = "xenl", colors_name[] = "colors";
        const char *rgb_s = tigetstr(rgb_name);
        bool rgb = tigetflag(rgb_name) > 0 || tigetflag(tc_name) > 0 || tigetnum(rgb_name) > 0 ||
                   (rgb_s != NULL && rgb_s != (char *)-1);
        const char *term = getenv("TERM");
        TermCaps k = {term, getenv("COLORTERM"), getenv("TMUX"), getenv("STY"), getenv("NO_COLOR"),
                      getenv("LLMSCOPE_COLOR"), tigetnum(colors_name), rgb, can_change_color()};
        t->impl = term_pick_colors(&k);
        if (t->impl != TERM_COLOR_NONE) {
            start_color();
            use_default_colors();
            if (COLORS < 8) t->impl = TERM_COLOR_NONE;
            else if (t->impl == TERM_COLOR_DIRECT && COLORS < 0x1000000) t->impl = TERM_COLOR_SGR;
        }
        t->xenl = tigetflag(xenl_name) > 0;
    }
    if (t->impl == TERM_COLOR_SGR) {
        t->cup = cupv;
        /* let curses clear the screen once; from now on we write every cell ourselves */
        wnoutrefresh(stdscr);
        doupdate();
    }
    t->mode = term_color_mode_of(t->impl);
    for (int i = 0; i < PAL_HASH; i++) t->pal_slot[i] = -1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    g_interrupted = 0;
    getmaxyx(stdscr, t->h, t->w);
    t->full = true;
    t->theme = (int)theme_current();
    return t;
}

void term_close(Term *t) {
    if (!t) return;
    if (t->scr) {
        if (t->impl == TERM_COLOR_PALETTE) reset_color_pairs();
        /* leave a blank screen behind: tmux, when the window grew while the UI ran, keeps
         * the alternate screen's lines that do not fit the restored main screen (cropped to
         * its old width) above it, so a few lines of the last frame stayed on the terminal
         * after quitting; on a terminal without an alternate screen the frame would stay */
        werase(stdscr);
        clearok(curscr, TRUE);
        wnoutrefresh(stdscr);
        doupdate();
        curs_set(1);
        endwin();
        delscreen(t->scr);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    release_stderr(t);
    free(t->shadow);
    free(t->out);
    free(t);
}

void term_size(const Term *t, int *w, int *h) { *w = t->w; *h = t->h; }
ColorMode term_color_mode(const Term *t) { return t->mode; }
TermColorImpl term_color_impl(const Term *t) { return t->impl; }
bool term_unicode(const Term *t) { return t->unicode; }
void term_invalidate(Term *t) { t->full = true; }

/* ---- colour ------------------------------------------------------------------------ */

static int pal_color(Term *t, Color c) {
    uint32_t key = ((uint32_t)(c.r >> 2) << 12) | ((uint32_t)(c.g >> 2) << 6) | (uint32_t)(c.b >> 2);
    uint32_t h = (key * 2654435761u) >> 22;       /* 10 bits */
    for (int probe = 0; probe < PAL_HASH; probe++) {
        uint32_t i = (h + (uint32_t)probe) & (PAL_HASH - 1);
        if (t->pal_slot[i] < 0) {
            if (t->pal_n >= PAL_N) break;
            int slot = t->pal_n++;
            t->pal_key[i] = key;
            t->pal_slot[i] = (int16_t)slot;
            t->pal_rgb[slot] = key;
            int r = (c.r >> 2) << 2, g = (c.g >> 2) << 2, b = (c.b >> 2) << 2;
            init_extended_color(PAL_FIRST + slot, r * 1000 / 255, g * 1000 / 255, b * 1000 / 255);
            return PAL_FIRST + slot;
        }
        if (t->pal_key[i] == key) return PAL_FIRST + t->pal_slot[i];
    }
    /* palette full this frame: nearest defined slot; the next frame starts afresh */
    t->pal_overflow = true;
    int best = 0;
    long bd = -1;
    for (int s = 0; s < t->pal_n; s++) {
        long dr = (long)((t->pal_rgb[s] >> 12) & 63) - (c.r >> 2);
        long dg = (long)((t->pal_rgb[s] >> 6) & 63) - (c.g >> 2);
        long db = (long)(t->pal_rgb[s] & 63) - (c.b >> 2);
        long d = dr * dr + dg * dg + db * db;
        if (bd < 0 || d < bd) { bd = d; best = s; }
    }
    return PAL_FIRST + best;
}

/* Colour number for the 24-bit modes through curses (direct, palette). */
static int term_color(Term *t, Color c, bool fg) {
    c = theme_resolve(c, fg);         /* the theme paints its own background and text */
    switch (t->impl) {
    case TERM_COLOR_DIRECT: {
        int v = (c.r << 16) | (c.g << 8) | c.b;
        return v < 8 ? 8 : v;      /* 0..7 would select the ANSI colours */
    }
    case TERM_COLOR_PALETTE: return pal_color(t, c);
    default: return -1;        /* 16 / 256: color_cell_indexes in draw_cell */
    }
}

/* ---- drawing ----------------------------------------------------------------------- */

static bool cell_eq(const Cell *a, const Cell *b) {
    return a->len == b->len && a->width == b->width && a->attr == b->attr &&
           !memcmp(a->ch, b->ch, a->len) && !memcmp(&a->fg, &b->fg, sizeof a->fg) &&
           !memcmp(&a->bg, &b->bg, sizeof a->bg);
}

static void draw_cell(Term *t, int x, int y, const Cell *cell) {
    wchar_t wc[CCHARW_MAX + 1];
    int n = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)cell->ch;
    utf8proc_ssize_t off = 0;
    while (off < cell->len && n < CCHARW_MAX) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + off, cell->len - off, &cp);
        if (k <= 0) break;
        /* curses takes one spacing character and the zero-width ones after it */
        if (n > 0 && utf8proc_charwidth(cp) != 0) break;
        wc[n++] = (wchar_t)cp;
        off += k;
    }
    if (n == 0) wc[n++] = L' ';
    wc[n] = 0;
    uint8_t a = t->impl == TERM_COLOR_NONE ? cell_mono_attr(cell) : cell->attr;
    attr_t at = A_NORMAL;
    if (a & ATTR_BOLD) at |= A_BOLD;
    if (a & ATTR_REVERSE) at |= A_REVERSE;
    if (a & ATTR_UNDERLINE) at |= A_UNDERLINE;
    if (a & ATTR_DIM) at |= A_DIM;
    int pair = 0;
    if (t->impl != TERM_COLOR_NONE) {
        int fg, bg;
        if (t->impl == TERM_COLOR_16 || t->impl == TERM_COLOR_256) {
            color_cell_indexes(t->mode, theme_resolve(cell->fg, true), theme_resolve(cell->bg, false),
                               cell_is_text(cell), &fg, &bg);
            if (t->impl == TERM_COLOR_16 && COLORS < 16) { fg &= 7; bg &= 7; }
        } else {
            fg = term_color(t, cell->fg, true);
            bg = term_color(t, cell->bg, false);
        }
        if (fg != -1 || bg != -1) {
            pair = alloc_pair(fg, bg);
            if (pair < 0) pair = 0;
        }
    }
    cchar_t cc;
    if (setcchar(&cc, wc, at, 0, &pair) == ERR) return;
    mvwadd_wch(stdscr, y, x, &cc);
}

/* ---- direct colour written by us ---------------------------------------------------- */
/* A terminal that has 24-bit colour but whose terminfo does not say so (TERM=xterm-256color
 * under COLORTERM=truecolor) cannot get it through curses; there we write each changed cell
 * ourselves: cursor_address from terminfo, SGR 38;2;r;g;b / 48;2;r;g;b (the semicolon form
 * every truecolor terminal reads) and the UTF-8 bytes. curses keeps the keyboard, the mouse,
 * the alternate screen and the one clear per full repaint; its stdscr stays blank, so its
 * own refreshes never write over ours. */

static void out_put(Term *t, const char *s, size_t n) {
    if (t->out_n + n > t->out_cap) {
        size_t cap = t->out_cap ? t->out_cap : 1 << 16;
        while (t->out_n + n > cap) cap *= 2;
        char *p = realloc(t->out, cap);
        if (!p) return;                    /* drop the rest of this frame */
        t->out = p;
        t->out_cap = cap;
    }
    memcpy(t->out + t->out_n, s, n);
    t->out_n += n;
}

static void out_flush(Term *t) {
    size_t off = 0;
    while (off < t->out_n) {
        ssize_t w = write(STDOUT_FILENO, t->out + off, t->out_n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    t->out_n = 0;
}

static void sgr_style(Term *t, const Cell *cell) {
    char b[96];
    Color fg = theme_resolve(cell->fg, true), bg = theme_resolve(cell->bg, false);
    int n = snprintf(b, sizeof b, "\x1b[0%s%s%s%s;38;2;%d;%d;%d;48;2;%d;%d;%dm",
                     cell->attr & ATTR_BOLD ? ";1" : "", cell->attr & ATTR_DIM ? ";2" : "",
                     cell->attr & ATTR_UNDERLINE ? ";4" : "", cell->attr & ATTR_REVERSE ? ";7" : "",
                     fg.r, fg.g, fg.b, bg.r, bg.g, bg.b);
    out_put(t, b, (size_t)n);
}

/* Whether the cell at (x, y) is drawn this frame: it changed since the last frame (its shadow
 * now holds it) or the frame is drawn whole; never the right half of a wide char. */
static bool cell_changed(Term *t, const Canvas *c, int x, int y) {
    const Cell *cell = &c->cells[y * c->w + x];
    Cell *sh = t->shadow ? &t->shadow[y * c->w + x] : NULL;
    if (!t->full && sh && cell_eq(cell, sh)) return false;
    if (sh) *sh = *cell;
    return cell->width != 0;
}

static void sgr_draw(Term *t, const Canvas *c) {
    if (t->full) {                     /* curses clears the screen (and knows it is blank) */
        werase(stdscr);
        clearok(curscr, TRUE);
        wnoutrefresh(stdscr);
        doupdate();
    }
    int w = c->w < t->w ? c->w : t->w, h = c->h < t->h ? c->h : t->h;
    int cx = -1, cy = -1;              /* where the terminal's cursor is, -1 = unknown */
    const Cell *last = NULL;           /* style of the last SGR written */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (!cell_changed(t, c, x, y)) continue;
            const Cell *cell = &c->cells[y * c->w + x];
            if (y == t->h - 1 && x == t->w - 1 && !t->xenl) continue;   /* would scroll */
            Cell one = *cell;
            if (one.width == 2 && x + 1 >= w) { one.ch[0] = ' '; one.len = 1; one.width = 1; }
            if (cx != x || cy != y) {
                const char *mv = tiparm(t->cup, y, x);
                if (mv) out_put(t, mv, strlen(mv));
            }
            if (!last || last->attr != one.attr || memcmp(&last->fg, &one.fg, sizeof one.fg) ||
                memcmp(&last->bg, &one.bg, sizeof one.bg))
                sgr_style(t, &one);
            last = cell;
            if (one.len) out_put(t, one.ch, one.len);
            else out_put(t, " ", 1);
            cx = x + one.width;
            cy = y;
        }
    out_put(t, "\x1b[0m", 4);          /* curses believes the attributes are normal */
    out_flush(t);
    t->full = false;
}

void term_draw(Term *t, const Canvas *c) {
    if ((int)theme_current() != t->theme) {
        t->theme = (int)theme_current();
        t->full = true;
    }
    if (t->sw != c->w || t->sh != c->h || !t->shadow) {
        free(t->shadow);
        t->shadow = calloc((size_t)c->w * (size_t)c->h, sizeof(Cell));
        t->sw = t->shadow ? c->w : 0;
        t->sh = t->shadow ? c->h : 0;
        t->full = true;
    }
    if (t->impl == TERM_COLOR_SGR) { sgr_draw(t, c); return; }
    if (t->impl == TERM_COLOR_PALETTE && t->pal_overflow) {
        /* the last frame ran out of palette slots: start the palette afresh */
        t->pal_n = 0;
        t->pal_overflow = false;
        for (int i = 0; i < PAL_HASH; i++) t->pal_slot[i] = -1;
        t->full = true;
    }
    if (t->full) { werase(stdscr); clearok(stdscr, TRUE); }
    int w = c->w < t->w ? c->w : t->w, h = c->h < t->h ? c->h : t->h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (!cell_changed(t, c, x, y)) continue;
            const Cell *cell = &c->cells[y * c->w + x];
            if (cell->width == 2 && x + 1 >= w) {
                Cell sp = *cell;
                sp.ch[0] = ' '; sp.len = 1; sp.width = 1;
                draw_cell(t, x, y, &sp);
                continue;
            }
            draw_cell(t, x, y, cell);
        }
    t->full = false;
    wnoutrefresh(stdscr);
    doupdate();
}

/* ---- input ------------------------------------------------------------------------- */

static int map_keycode(int k) {
    if (k >= KEY_F(1) && k <= KEY_F(12)) return TK_F1 + (k - KEY_F(1));
    switch (k) {
    case KEY_UP: return TK_UP;
    case KEY_DOWN: return TK_DOWN;
    case KEY_LEFT: return TK_LEFT;
    case KEY_RIGHT: return TK_RIGHT;
    case KEY_HOME: return TK_HOME;
    case KEY_END: return TK_END;
    case KEY_PPAGE: return TK_PGUP;
    case KEY_NPAGE: return TK_PGDN;
    case KEY_BACKSPACE: return TK_BACKSPACE;
    case KEY_DC: return TK_DELETE;
    case KEY_IC: return TK_INSERT;
    case KEY_ENTER: return TK_ENTER;
    case KEY_BTAB: return TK_BTAB;
    case KEY_RESIZE: return TK_RESIZE;
    case KEY_MOUSE: return TK_MOUSE;
    default: return TK_NONE;
    }
}

bool term_poll(Term *t, int timeout_ms, TuiEvent *ev) {
    memset(ev, 0, sizeof *ev);
    if (g_interrupted) { ev->key = TK_INTERRUPT; return true; }
    wtimeout(stdscr, timeout_ms);
    wint_t wch;
    int r = wget_wch(stdscr, &wch);
    if (g_interrupted) { ev->key = TK_INTERRUPT; return true; }
    if (r == ERR) return false;
    if (r == KEY_CODE_YES) {
        int k = map_keycode((int)wch);
        if (k == TK_NONE) return false;
        if (k == TK_RESIZE) {
            getmaxyx(stdscr, t->h, t->w);
            t->full = true;
        }
        if (k == TK_MOUSE) {
            MEVENT me;
            if (getmouse(&me) != OK) return false;
            ev->mx = me.x;
            ev->my = me.y;
            if (me.bstate & BUTTON1_PRESSED) ev->button = MB_LEFT;
            else if (me.bstate & BUTTON2_PRESSED) ev->button = MB_MIDDLE;
            else if (me.bstate & BUTTON3_PRESSED) ev->button = MB_RIGHT;
            else if (me.bstate & BUTTON4_PRESSED) ev->button = MB_WHEEL_UP;
#ifdef BUTTON5_PRESSED
            else if (me.bstate & BUTTON5_PRESSED) ev->button = MB_WHEEL_DOWN;
#endif
            else return false;
        }
        ev->key = k;
        return true;
    }
    int k = (int)wch;
    switch (k) {
    case 27: ev->key = TK_ESC; break;
    case '\r': case '\n': ev->key = TK_ENTER; break;
    case 127: case 8: ev->key = TK_BACKSPACE; break;
    case '\t': ev->key = TK_TAB; break;
    default: ev->key = k; break;
    }
    return true;
}
