/* Theme: colours by named role (htop's CRT colour schemes), colour ramps for data, and the
 * ASCII ramp used when there is no colour. Roles keep meaning through every fallback:
 * truecolor -> xterm-256 -> 16 colours -> monochrome (cell_mono_attr in canvas.h).
 *
 * Three themes: dark (light text on black, the default), light (dark text on white, for
 * projectors on white walls and washed-out beamers) and contrast (white and pure colours on
 * black). Every theme paints its own background: a cell whose colour is CR_DEFAULT is drawn
 * in the theme's text or background colour (theme_resolve), never in the terminal's own
 * default, so contrast never depends on the terminal's palette (monochrome keeps the
 * terminal's defaults). The current theme is process-wide: `--theme`, $LLMSCOPE_THEME or the
 * C key choose it and it stays for the session (model switches, compare mode); panels read
 * it when they draw. Every data ramp is monotone in lightness (CIE L*), so heatmaps read in
 * greyscale too (tests/test_theme.c checks it). */
#ifndef LLMSCOPE_TUI_THEME_H
#define LLMSCOPE_TUI_THEME_H
#include <stdbool.h>
#include "tui/canvas.h"

typedef enum { THEME_DARK = 0, THEME_LIGHT, THEME_CONTRAST, THEME_COUNT } ThemeId;

void theme_set(ThemeId id);
ThemeId theme_current(void);
const char *theme_name(ThemeId id);
/* "dark" | "light" | "contrast" -> id; -1 for anything else. */
int theme_find(const char *name);
/* Switches to the next theme (dark -> light -> contrast -> dark) and returns it. */
ThemeId theme_cycle(void);
/* $LLMSCOPE_THEME if set: false (theme unchanged) when it names no theme. */
bool theme_from_env(void);

Color theme_color(ColorRole role);
/* The colour a cell shows in colour modes: CR_DEFAULT becomes the theme's text colour (fg)
 * or background colour (bg); any other colour is returned as is. */
Color theme_resolve(Color c, bool fg);
static inline Color color_rgb(uint8_t r, uint8_t g, uint8_t b) { Color c = {r, g, b, CR_DATA}; return c; }
static inline Color color_default(void) { Color c = {0, 0, 0, CR_DEFAULT}; return c; }

/* Style with a role foreground on the default background. */
Style sty(ColorRole fg);
/* Style with a role foreground, role background and attributes (CR_DEFAULT for none). */
Style sty2(ColorRole fg, ColorRole bg, uint8_t attr);
Style sty_attr(ColorRole fg, uint8_t attr);

/* Sequential ramp, t in [0,1] (low -> high): from the background's lightness towards the
 * text's (dark -> bright in the dark themes, light -> dark in the light one). */
Color ramp_seq(float t);
/* Diverging ramp, t in [-1,1]: blue (negative) -> background-like (0) -> orange (positive);
 * lightness moves away from the background's with |t| on both sides. */
Color ramp_div(float t);
/* ASCII ramp character for t in [0,1]: " .:-=+*#%@". */
char ramp_ascii(float t);
/* Diverging ASCII: t in [-1,1] -> "#=-. .-=#"-like with sign: negative uses lower-case
 * glyphs "ox-." and positive "+*#@" so sign stays readable without colour. */
char ramp_ascii_div(float t);

/* Colour science for the checks (tests and `llmscope contrast`): WCAG 2 relative luminance
 * of an sRGB colour (0 black .. 1 white), the contrast ratio of two colours (1 .. 21) and
 * CIE L* lightness (0 .. 100). */
double color_luminance(uint8_t r, uint8_t g, uint8_t b);
double color_contrast(Color a, Color b);
double color_lightness(Color c);

/* Glyph helpers honouring the canvas capabilities. */
const char *glyph_hline(const Canvas *c);
const char *glyph_vline(const Canvas *c);
/* Eighth blocks for bars: n in 0..8 (0 = space). Horizontal (left-aligned) and vertical. */
const char *glyph_hbar(const Canvas *c, int eighths);
const char *glyph_vbar(const Canvas *c, int eighths);
#endif
