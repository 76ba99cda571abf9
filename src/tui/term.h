/* Terminal backend: ncursesw. Opens the screen, decides the colour mode and glyph set,
 * blits a Canvas with minimal updates and reads keys/mouse as TuiEvents.
 *
 * Colour: NO_COLOR (set and non-empty), TERM=dumb or fewer than 8 colours -> monochrome;
 * a direct-colour terminfo (COLORS >= 2^24) -> truecolor; COLORS >= 256 with
 * can_change_color() and COLORTERM=truecolor|24bit -> truecolor through palette slots
 * redefined with init_extended_color; COLORS >= 256 -> nearest xterm-256 index; else the
 * 16 basic colours. LLMSCOPE_COLOR=none|16|256|true|palette overrides; LLMSCOPE_ASCII=1
 * forces ASCII glyphs (also chosen when the locale's codeset is not UTF-8).
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

/* Detects the glyph/colour capabilities the environment asks for, without opening curses
 * (also used by `screenshot`). */
void term_detect_env(bool *unicode, ColorMode *mode);

Term *term_open(Err *e);
void term_close(Term *t);
void term_size(const Term *t, int *w, int *h);
ColorMode term_color_mode(const Term *t);
bool term_unicode(const Term *t);
void term_draw(Term *t, const Canvas *c);
void term_invalidate(Term *t);                 /* next draw repaints every cell */
/* Waits up to timeout_ms (-1 = forever) for an event. false on timeout. */
bool term_poll(Term *t, int timeout_ms, TuiEvent *ev);
#endif
