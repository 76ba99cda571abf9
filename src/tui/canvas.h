/* Canvas: a grid of cells that panels and widgets draw into. Nothing here knows about
 * curses: the terminal backend (term.c) blits a canvas to the screen, canvas_to_text()
 * dumps it as plain text (golden tests) and canvas_to_ansi() as escape sequences
 * (screenshots for docs).
 *
 * A cell holds one grapheme cluster (UTF-8, at most 8 bytes: a base character and the
 * combining marks that attach to it) and its display width from utf8proc: 1, or 2 for
 * CJK and emoji. The cell to the right of a wide character is a continuation (width 0).
 * Colours are RGB plus a role (theme.h); the role lets the monochrome path turn
 * "selected" or "header" backgrounds into reverse video.
 *
 * Two capability flags steer what widgets draw: `unicode` (false in a non-UTF-8 locale:
 * every glyph is ASCII, non-ASCII text becomes '?') and `mono` (no colour: heatmaps use
 * the ASCII ramp " .:-=+*#%@" instead of colour).
 *
 * Coordinates are absolute canvas columns/rows. Every drawing call clips to the current
 * clip rectangle (canvas_push_clip / canvas_pop_clip), so callers never need to check
 * bounds. Ownership: canvas_new returns a canvas freed with canvas_free; the strings from
 * canvas_to_text / canvas_to_ansi are malloc'd and freed by the caller.
 */
#ifndef LLMSCOPE_TUI_CANVAS_H
#define LLMSCOPE_TUI_CANVAS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { int x, y, w, h; } Rect;

enum { ATTR_BOLD = 1, ATTR_REVERSE = 2, ATTR_UNDERLINE = 4, ATTR_DIM = 8 };

typedef enum { CMODE_NONE = 0, CMODE_16, CMODE_256, CMODE_TRUE } ColorMode;

/* Colour roles: what a colour means, so the theme and the monochrome fallback can map it. */
typedef enum {
    CR_DEFAULT = 0,   /* the theme's text / background colour (rgb ignored; theme_resolve), the
                         terminal's own default in monochrome */
    CR_TEXT, CR_DIM, CR_TITLE, CR_FRAME, CR_ACCENT, CR_SELECT, CR_HEADER, CR_FKEY, CR_FLABEL,
    CR_WARN, CR_ERROR, CR_GOOD, CR_MASK, CR_PREFILL, CR_DECODE, CR_CURRENT, CR_CHIP,
    CR_ON_CURRENT, CR_ON_PREFILL, CR_ON_DECODE, CR_ON_FLABEL,   /* text on those backgrounds */
    CR_MASK_BG,       /* masked (causal) heatmap cells; CR_MASK is their hatching */
    CR_MARK,          /* the selected heatmap cell */
    CR_CAT1, CR_CAT2, CR_CAT3, CR_CAT4,   /* categories: red, yellow, green, blue */
    CR_PT_PREFILL, CR_PT_DECODE, CR_PT_QUERY,   /* scatter points and dial hands */
    CR_DATA,          /* a data colour from a ramp (rgb meaningful, no fixed role) */
    CR_COUNT
} ColorRole;

typedef struct { uint8_t r, g, b, role; } Color;
typedef struct { Color fg, bg; uint8_t attr; } Style;

typedef struct {
    char ch[8];        /* UTF-8 bytes of the grapheme (not NUL-terminated; see len) */
    uint8_t len;       /* bytes used in ch; 0 for a continuation cell */
    uint8_t width;     /* 1 or 2; 0 = right half of the wide character to the left */
    uint8_t attr;
    Color fg, bg;
} Cell;

#define CANVAS_CLIP_DEPTH 16

/* A named element drawn this frame (lesson targets, lesson/lesson.h): panels register what
 * they drew under a name ("attention.cell") with its rectangle, clipped to what was visible. */
#define CANVAS_MAX_TARGETS 768
typedef struct {
    char name[40];
    char owner[16];    /* the panel (or "tokens", "keys", "header") that drew it */
    Rect r;
} CanvasTarget;

typedef struct Canvas {
    int w, h;
    Cell *cells;       /* [h][w] */
    Rect clip;
    Rect clip_stack[CANVAS_CLIP_DEPTH];
    int n_clip;
    bool unicode;      /* UTF-8 glyphs allowed */
    bool mono;         /* no colour: widgets use glyph ramps */
    CanvasTarget *targets;   /* registered this frame (canvas_clear empties the list) */
    int n_targets;
    char owner[16];          /* set by the App around each panel's draw */
} Canvas;

Canvas *canvas_new(int w, int h);
void canvas_free(Canvas *c);
/* Resizes (contents cleared). Returns false on allocation failure (canvas unchanged). */
bool canvas_resize(Canvas *c, int w, int h);
void canvas_clear(Canvas *c, Style st);

/* Clip to r intersected with the current clip; pop restores. Depth is bounded; extra
 * pushes only intersect (and the matching pops are ignored). */
void canvas_push_clip(Canvas *c, Rect r);
void canvas_pop_clip(Canvas *c);
Rect canvas_clip_rect(const Canvas *c);

/* Draws UTF-8 text from (x, y) left to right; returns the column after the last drawn
 * character (as if unclipped on the right, so callers can continue a line). Invalid bytes
 * draw as U+FFFD (or '?'), control characters as U+FFFD; a combining mark at the start of
 * the string attaches to the cell to its left. */
int canvas_text(Canvas *c, int x, int y, const char *s, Style st);
/* As canvas_text but draws at most max_w columns; if the text is wider, the last column
 * shows an ellipsis ("…" or "~"). Returns columns drawn. */
int canvas_text_fit(Canvas *c, int x, int y, const char *s, int max_w, Style st);
/* printf into a small buffer, then canvas_text. */
int canvas_printf(Canvas *c, int x, int y, Style st, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* One glyph (a single grapheme, e.g. "▀") with explicit style. */
void canvas_glyph(Canvas *c, int x, int y, const char *g, Style st);
void canvas_fill(Canvas *c, Rect r, const char *glyph, Style st);
/* Sets only the style of cells in r (keeps glyphs). */
void canvas_restyle(Canvas *c, Rect r, Style st);
const Cell *canvas_cell(const Canvas *c, int x, int y);   /* NULL outside */

/* Registers a named element drawn at r (intersected with the current clip; an element clipped
 * away is registered with an empty rectangle, so a check can tell "drawn but not visible").
 * The owner is c->owner. Names are printf-formatted. Silently ignored past the capacity. */
void canvas_target(Canvas *c, Rect r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The i-th registration of name at or after index *from (pass 0, then the returned index
 * + 1 for the next); NULL when none is left. */
const CanvasTarget *canvas_target_find(const Canvas *c, const char *name, int *from);

/* Display width of UTF-8 text (utf8proc widths; ASCII-only counting when !unicode). */
int text_width(const char *s, bool unicode);
/* Bytes of the first grapheme cluster of s (0 at the end of the string). */
size_t text_next_grapheme(const char *s);
/* Bytes of s that fit in max_w columns (whole graphemes); *w_out gets their width. */
size_t text_fit_bytes(const char *s, int max_w, bool unicode, int *w_out);

/* Plain text: one line per row, trailing blanks trimmed, rows joined by '\n' (final '\n'). */
char *canvas_to_text(const Canvas *c);
/* ANSI escape sequences for the given colour mode (attributes only for CMODE_NONE). In colour
 * modes CR_DEFAULT colours are written as the theme's text / background (theme_resolve). */
char *canvas_to_ansi(const Canvas *c, ColorMode mode);

/* SVG and HTML pictures of a canvas (slides): tui/export.h. */

/* Nearest xterm-256 palette index (cube 16..231 or grey ramp 232..255). */
int color_to_256(uint8_t r, uint8_t g, uint8_t b);
/* Nearest of the 8 basic ANSI colours (0..7), +8 when bright. */
int color_to_16(uint8_t r, uint8_t g, uint8_t b);
/* The RGB an xterm shows for palette index i (0..255) with its default palette: the 16
 * ANSI colours, the 6x6x6 cube (levels 0 95 135 175 215 255), the 24 greys 8..238. */
void color_index_rgb(int i, uint8_t rgb[3]);
/* Palette indexes (16- or 256-colour mode) for a cell's resolved colours. For text the
 * foreground moves to the nearest index that keeps a 3:1 contrast (WCAG) with the background
 * index when the nearest one would not: quantizing must not merge text into its background. */
void color_cell_indexes(ColorMode mode, Color fg, Color bg, bool text, int *fi, int *bi);
/* 0 blank or graphics (box drawing U+2500-257F, blocks U+2580-259F, braille U+2800-28FF),
 * 1 text, 2 a letter (Unicode category L*). */
int text_char_class(int codepoint);
/* Line breaking (w_text, the lesson pane): the class of a grapheme by its first character, and
 * whether a line may break between two neighbours that are not blanks. Chinese (and Japanese,
 * Korean) text breaks between any two characters, but never before closing punctuation
 * (，。、；：！？）」 …) nor after opening punctuation (（「 “); Latin words stay whole, and so
 * do "q·k" and "don’t": after · ’ ” … (TB_CLOSE_NARROW) a line breaks only before Chinese. */
enum { TB_TEXT = 0, TB_SPACE, TB_NL, TB_CJK, TB_CLOSE, TB_OPEN, TB_CLOSE_NARROW, TB_GLUE };
int text_break_class(const char *g);
bool text_break_between(int before, int after);
/* A text marks a run unbreakable with U+2060 WORD JOINER (or a no-break space U+00A0, U+202F,
 * U+FEFF) between its characters (TB_GLUE): no break on either side of it.
 * Where a Chinese phrase starts (an opening mark, or a character after a blank, punctuation or
 * Latin text)
 * and does not fit the rest of the line, the wrappers (w_text, the lesson pane) break before it
 * when that leaves at most text_wrap_slack(w) columns empty and the phrase fits a line, rather
 * than between two of its characters: "...（写在公式里）。" / "引擎用 f32 ..." and not
 * "...。引" / "擎用 ...". The phrase: Chinese characters and opening marks, then the closing
 * punctuation after them. */
int text_wrap_slack(int w);
/* A cell that holds text (class > 0 for its first character). */
bool cell_is_text(const Cell *cell);
/* Attributes a cell needs in monochrome: its own attrs plus reverse for selected/header
 * backgrounds. */
uint8_t cell_mono_attr(const Cell *cell);

static inline Rect rect_make(int x, int y, int w, int h) { Rect r = {x, y, w, h}; return r; }
Rect rect_intersect(Rect a, Rect b);
static inline bool rect_contains(Rect r, int x, int y) {
    return x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h;
}
/* r shrunk by n on every side (never negative). */
Rect rect_inset(Rect r, int n);

#endif
