/* Theme: colours by named role (htop's CRT colour schemes), colour ramps for data, and the
 * ASCII ramp used when there is no colour. Roles keep meaning through every fallback:
 * truecolor -> xterm-256 -> 16 colours -> monochrome (cell_mono_attr in canvas.h). */
#ifndef LLMSCOPE_TUI_THEME_H
#define LLMSCOPE_TUI_THEME_H
#include "tui/canvas.h"

Color theme_color(ColorRole role);
static inline Color color_rgb(uint8_t r, uint8_t g, uint8_t b) { Color c = {r, g, b, CR_DATA}; return c; }
static inline Color color_default(void) { Color c = {0, 0, 0, CR_DEFAULT}; return c; }

/* Style with a role foreground on the default background. */
Style sty(ColorRole fg);
/* Style with a role foreground, role background and attributes (CR_DEFAULT for none). */
Style sty2(ColorRole fg, ColorRole bg, uint8_t attr);
Style sty_attr(ColorRole fg, uint8_t attr);

/* Sequential ramp, t in [0,1] (dark -> bright), perceptually ordered for projection. */
Color ramp_seq(float t);
/* Diverging ramp, t in [-1,1]: blue (negative) -> dark (0) -> orange (positive). */
Color ramp_div(float t);
/* ASCII ramp character for t in [0,1]: " .:-=+*#%@". */
char ramp_ascii(float t);
/* Diverging ASCII: t in [-1,1] -> "#=-. .-=#"-like with sign: negative uses lower-case
 * glyphs "ox-." and positive "+*#@" so sign stays readable without colour. */
char ramp_ascii_div(float t);

/* Glyph helpers honouring the canvas capabilities. */
const char *glyph_hline(const Canvas *c);
const char *glyph_vline(const Canvas *c);
/* Eighth blocks for bars: n in 0..8 (0 = space). Horizontal (left-aligned) and vertical. */
const char *glyph_hbar(const Canvas *c, int eighths);
const char *glyph_vbar(const Canvas *c, int eighths);
#endif
