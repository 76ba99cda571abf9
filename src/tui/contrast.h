/* Contrast of what a terminal shows: reads text with ANSI escape sequences (a `screenshot
 * --ansi` dump, or `tmux capture-pane -e -p` of the real UI), keeps the SGR state per cell
 * (16 / 256 / 24-bit colours, default colours, reverse video) and measures, for every cell
 * that holds text, the WCAG 2 contrast ratio of its foreground against its background.
 *
 * Text cells: every non-blank character except box drawing (U+2500-257F), block elements
 * (U+2580-259F) and braille (U+2800-28FF), which draw frames, bars and plots, not text.
 * Letters: text cells whose character is a Unicode letter (category L*).
 * Colours: 16 and 256-colour indexes as xterm shows them by default (color_index_rgb); SGR 39
 * / 49 (or no colour) as def_fg / def_bg, the terminal's own colours, which the caller assumes
 * (a terminal's default text always contrasts with its own default background, so monochrome
 * output passes when def_fg / def_bg are a contrasting pair). Bold and dim are not modelled.
 * Other escape sequences (cursor moves, OSC) are skipped: feed it a screen dump, row by row. */
#ifndef LLMSCOPE_TUI_CONTRAST_H
#define LLMSCOPE_TUI_CONTRAST_H
#include <stdbool.h>
#include "tui/canvas.h"

typedef struct {
    long text, text_ok;          /* text cells; those with ratio >= min_ratio */
    long letters, letters_ok;    /* the same for letters */
    long sgr_rgb, sgr_256, sgr_16, sgr_default;   /* colour codes seen, by kind */
    long reverse;                /* text cells drawn in reverse video */
    double worst;                /* lowest ratio over text cells (0 when none) */
    int worst_row, worst_col;    /* 0-based */
    char worst_ch[8];
    Color worst_fg, worst_bg;
} ContrastStats;

/* Scans text (NUL-terminated). Always succeeds; malformed sequences are skipped. */
void contrast_scan(const char *text, Color def_fg, Color def_bg, double min_ratio, ContrastStats *st);
/* The class of a character for the scan: 0 blank or graphics, 1 text, 2 letter. */
int contrast_char_class(int codepoint);
#endif
