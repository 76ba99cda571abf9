/* Widgets: stateless drawing functions over a Canvas. Each takes the rectangle it may use
 * (it clips to it and never draws outside), reads plain arrays or a value callback, and
 * degrades to ASCII glyphs (!c->unicode) and glyph ramps instead of colour (c->mono).
 * Nothing here allocates per call except where noted; nothing keeps pointers to inputs. */
#ifndef LLMSCOPE_TUI_WIDGETS_H
#define LLMSCOPE_TUI_WIDGETS_H
#include "tui/canvas.h"
#include "tui/theme.h"

/* ---- frame, text, table ---------------------------------------------------------- */

/* Box with a title in the top border; returns the inner rectangle. */
Rect w_frame(Canvas *c, Rect r, const char *title, bool focus);
/* On the bottom border of the frame r, at its right: how many rows of a list are out of view
 * above and below it ("↑ 3  ↓ 2 more"; more_fmt is the translated "%s more"). Nothing when
 * both are 0, or when it does not fit whole. */
void w_frame_more(Canvas *c, Rect r, int above, int below, const char *more_fmt);
/* A horizontal rule with an optional label: "── label ─────". */
void w_rule(Canvas *c, int x, int y, int w, const char *label, Style st);
/* Word-wrapped text ('\n' breaks lines; words wider than the box break anywhere).
 * Returns the rows the text needs at this width (may exceed r.h: the rest is clipped). */
int w_text(Canvas *c, Rect r, const char *text, Style st);
int w_text_rows(const char *text, int width, bool unicode);
/* As w_text, but the rows a line wraps onto start under its description when it is a key row
 * ("p        what-if precision ...": two blanks or more in its first 16 bytes) or under its
 * first word when it is indented (the help's key tables). */
int w_text_hang(Canvas *c, Rect r, const char *text, Style st);
int w_text_hang_rows(const char *text, int width, bool unicode);

/* A table column: width in columns (0: flexible, it takes what the others leave), right-aligned
 * or not; min: the narrowest it may go with its title and cells still whole (0: width), and
 * drop: when even the narrowest widths do not fit, columns go highest drop first (0: never). */
typedef struct { const char *title; int width; bool right; int min; int drop; } TableCol;
/* The widths of a table w columns wide (widths[j] = 0: column j not shown); returns how many
 * columns are not shown. Every column at its width when that fits (a flexible one at least its
 * min), else every column at its min (what is left goes to the flexible ones), else the same
 * with columns left out by drop, then from the right. A column is shown whole or not at all. */
int w_table_layout(const TableCol *cols, int ncols, int w, int *widths);
/* Table with a header row, laid out by w_table_layout; cells is [nrows][ncols] strings (NULL =
 * empty). sel = highlighted row (-1 none); rows scroll so sel stays visible. Returns the first
 * row shown. The caller says which columns were left out (w_table_layout). */
int w_table(Canvas *c, Rect r, const TableCol *cols, int ncols, const char *const *cells, int nrows, int sel);

/* ---- heatmap ------------------------------------------------------------------------ */

typedef struct {
    int rows, cols;
    float (*get)(void *ud, int r, int c);   /* value; NAN = masked (drawn hatched) */
    void *ud;
    float lo, hi;          /* mapped to the ramp ends; lo >= hi: the data's min/max */
    bool diverging;        /* ramp_div over [-m, m], m = max |v| (or max(|lo|,|hi|)) */
    int sel_r, sel_c;      /* highlighted cell, -1 none */
    int max_cell;          /* largest square side in columns per data cell (0 = 4) */
} HeatSpec;

/* Where the heatmap landed: data cell (r, c) covers columns x + c*k .. and rows; when the
 * data is larger than the area, each screen unit pools (max) a bin of data. */
typedef struct {
    Rect used;
    int units_x, units_y;  /* screen units across/down (unit = k columns, k half-rows) */
    int k;                 /* columns per unit (and half-rows per unit in colour mode) */
    bool half;             /* two units per text row (colour) or one (mono) */
    int rows, cols;        /* data size */
    float lo, hi;          /* range used */
} HeatLayout;

/* Draws with half blocks ("▀": fg = upper unit, bg = lower unit) in colour, glyph ramp in
 * mono. Returns the layout for hit testing and legends. */
HeatLayout w_heatmap(Canvas *c, Rect r, const HeatSpec *hs);
/* Maps a screen cell back to a data cell (the first of its bin). */
bool w_heatmap_hit(const HeatLayout *hl, int x, int y, int *row, int *col);
/* Where data cell (row, col) landed (the screen unit showing it); row < 0: the whole column,
 * col < 0: the whole row. Empty when outside the data or nothing was drawn. */
Rect w_heatmap_cell_rect(const HeatLayout *hl, int row, int col);
/* Colour legend "lo ▮▮▮▮▮ hi" in w columns. */
void w_legend(Canvas *c, int x, int y, int w, float lo, float hi, bool diverging);
/* Colour (or glyph) for a value already scaled to t in [0,1] / [-1,1]. */
Style w_ramp_style(const Canvas *c, float t, bool diverging, const char **glyph);

/* ---- charts ----------------------------------------------------------------------- */

/* One-row sparkline of the last w values of v (eighth blocks, ASCII ".-=#"). */
void w_sparkline(Canvas *c, int x, int y, int w, const float *v, int n, float lo, float hi, Style st);

typedef struct {
    const char *label;
    float value;           /* bar length = value / vmax of the bar width */
    const char *note;      /* text after the bar (e.g. "42.1%"), may be NULL */
    Style style;           /* bar colour */
    bool highlight;        /* label drawn in the accent style */
} Bar;
/* Horizontal bars, one per row: label (label_w columns), bar, note. */
void w_bars(Canvas *c, Rect r, const Bar *bars, int n, float vmax, int label_w, int note_w);

/* Vertical histogram of counts (nbins); bins are resampled to the width. The last row
 * holds the x labels lo/hi (formatted with %.3g). logy: heights by log(1+count). */
void w_hist(Canvas *c, Rect r, const double *counts, int nbins, double lo, double hi, bool logy, Style st);

/* ---- braille plots ---------------------------------------------------------------- */

typedef struct {
    float x, y;
    const char *label;     /* drawn beside the point when there is room; may be NULL */
    Color color;
    bool sel;              /* drawn as a marker with its label always */
} ScatterPt;
/* Braille scatter plot (2x4 dots per cell) with labels; '*' per cell in ASCII. Points
 * are scaled to fit the rectangle (aspect kept equal on both axes when keep_aspect). */
void w_scatter(Canvas *c, Rect r, const ScatterPt *pts, int n, bool keep_aspect);
/* The top of r that w_scatter(..., keep_aspect) fills with these points: all of r's width and
 * the rows the points need, with one more above and below for labels, when they are wider than
 * r's shape (all of r otherwise), so a map sits right under its caption instead of in the
 * middle of a tall area. */
Rect w_scatter_fit(Rect r, const ScatterPt *pts, int n);

typedef struct {
    const float *y;        /* n values at x = x0 + i*(x1-x0)/(n-1) */
    int n;
    Color color;
    const char *name;
} Series;
/* Line plot of several series in braille, y range [ylo, yhi] (ylo >= yhi: auto), with a
 * y-axis label column of ylabel_w and a bottom row of x labels. yfmt formats axis values
 * into buf (NULL: %.3g). */
typedef void (*AxisFmt)(double v, char *buf, int cap);
void w_lineplot(Canvas *c, Rect r, const Series *s, int ns, double x0, double x1, double ylo, double yhi,
                int ylabel_w, AxisFmt yfmt, AxisFmt xfmt);

typedef struct {
    float angle;           /* radians, counter-clockwise from 3 o'clock */
    float len;             /* 0..1 of the radius */
    Color color;
} DialHand;
/* A braille circle with hands from the centre (RoPE rotation dials). */
void w_dial(Canvas *c, Rect r, const DialHand *hands, int n);

/* ---- token strip -------------------------------------------------------------------- */

typedef struct {
    const char *text;      /* raw token text (made visible: space -> "␣", '\n' -> "↵") */
    bool prefill;          /* prompt token (else generated) */
    bool current;          /* the cursor */
    bool dim;              /* not yet reached (beyond the cursor) */
} Chip;
/* Token chips with true widths, wrapping; scrolls so the current chip is visible. hits
 * (n entries, may be NULL) receives each chip's screen rectangle (w = 0 when hidden). */
void w_tokstrip(Canvas *c, Rect r, const Chip *chips, int n, Rect *hits);
/* Visible form of a token's text into out ("␣" for spaces, "↵" newline, "⇥" tab,
 * "\xNN" other controls; ASCII equivalents when !unicode). */
void tok_visible(const char *raw, char *out, size_t cap, bool unicode);

#endif
