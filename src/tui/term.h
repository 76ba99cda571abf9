/* Terminal backend: ncursesw. Opens the screen, decides the colour mode and glyph set,
 * blits a Canvas with minimal updates and reads keys/mouse as TuiEvents.
 *
 * Colour (term_pick_colors): LLMSCOPE_COLOR=none|16|256|true|palette first; then NO_COLOR
 * (set and non-empty), TERM unset or dumb, or fewer than 8 colours -> monochrome; a terminfo
 * with direct colour (colors >= 2^24) -> truecolor through curses; a terminfo with the RGB or
 * Tc capability, or COLORTERM=truecolor|24bit outside a multiplexer (no $TMUX or $STY, TERM
 * not screen* or tmux*) -> truecolor written by us (SGR 38;2 / 48;2, see term.c); 256 colours
 * -> the nearest index of the fixed xterm cube and grey ramp; else the 16 ANSI colours. The
 * terminal's palette is never redefined unless asked for: LLMSCOPE_COLOR=palette redefines
 * slots 16..255 on demand (a terminal that can change colours; tmux and screen ignore it,
 * so it stays opt-in). Every colour mode paints the theme's background (theme.h).
 * LLMSCOPE_ASCII=1 forces ASCII glyphs (also chosen when the locale's codeset is not UTF-8).
 *
 * stderr is redirected to a temporary file while curses owns the screen and replayed after
 * endwin (htop's CRT does the same), so library warnings never tear the display.
 * Ownership: term_open returns a Term freed by term_close.
 */
#ifndef LLMSCOPE_TUI_TERM_H
#define LLMSCOPE_TUI_TERM_H
#include <stdbool.h>
#include "core/err.h"
#include "tui/canvas.h"
#include "scene/keys.h"

typedef struct Term Term;

/* How colours reach the terminal. */
typedef enum {
    TERM_COLOR_NONE = 0,   /* monochrome: attributes only */
    TERM_COLOR_16,         /* SGR 30-37 / 90-97 */
    TERM_COLOR_256,        /* the fixed xterm-256 palette, nearest index */
    TERM_COLOR_DIRECT,     /* 24-bit through curses (terminfo with direct colour) */
    TERM_COLOR_SGR,        /* 24-bit SGR written by term.c (terminfo without direct colour) */
    TERM_COLOR_PALETTE     /* opt-in: palette slots 16..255 redefined on demand */
} TermColorImpl;

/* What the decision reads: the environment and the terminfo entry. */
typedef struct {
    const char *term, *colorterm, *tmux, *sty, *no_color, *override;   /* env; NULL = unset */
    int colors;            /* terminfo max_colors */
    bool rgb;              /* terminfo RGB (flag, number or string) or Tc */
    bool can_redefine;       /* terminfo can redefine colours (ccc + initc) */
} TermCaps;

TermColorImpl term_pick_colors(const TermCaps *caps);
ColorMode term_color_mode_of(TermColorImpl impl);
/* false when an LLMSCOPE_COLOR value names no mode (NULL or "" are fine). */
bool term_color_override_ok(const char *value);

/* Detects the glyph/colour capabilities the environment asks for, without opening curses
 * (also used by `screenshot`). */
void term_detect_env(bool *unicode, ColorMode *mode);

Term *term_open(Err *e);
void term_close(Term *t);
void term_size(const Term *t, int *w, int *h);
ColorMode term_color_mode(const Term *t);
TermColorImpl term_color_impl(const Term *t);
bool term_unicode(const Term *t);
void term_draw(Term *t, const Canvas *c);
void term_invalidate(Term *t);                 /* next draw repaints every cell */
/* Waits up to timeout_ms (-1 = forever) for an event. false on timeout. */
bool term_poll(Term *t, int timeout_ms, TuiEvent *ev);
#endif
