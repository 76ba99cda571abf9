/* Canvas export for slides: the screen as a standalone SVG or HTML document, with its
 * colours and attributes, in a monospace font stack that covers CJK.
 *
 * SVG: one cell is CELL_W x CELL_H px (font-size 14 px); a background rectangle for each run
 * of cells with the same non-default background; a <text> element for each run of narrow
 * characters with the same style, stretched to exactly its columns (textLength), and one for
 * each wide (CJK) character spanning its two columns, so the grid stays aligned whatever
 * the font's own advance widths. HTML: a <pre> of <span>s (alignment then depends on the
 * browser's font having double-width CJK glyphs).
 *
 * Colours: a cell's RGB; the terminal's default colours (role CR_DEFAULT) become the given
 * defaults. Reverse video swaps foreground and background, dim lowers the opacity, bold and
 * underline map to font-weight and text-decoration. Canvas text never holds control
 * characters; any byte below 0x20 would be dropped, and & < > " ' are escaped, so the
 * output is well-formed XML. Strings are malloc'd; NULL on allocation failure. */
#ifndef LLMSCOPE_TUI_EXPORT_H
#define LLMSCOPE_TUI_EXPORT_H
#include "tui/canvas.h"

#define EXPORT_CELL_W 8.4    /* px: 0.6 em of a 14 px monospace font */
#define EXPORT_CELL_H 17     /* px: line height */
#define EXPORT_FONT_STACK \
    "'DejaVu Sans Mono', 'Noto Sans Mono CJK SC', 'Sarasa Mono SC', 'Source Han Mono SC', " \
    "'Cascadia Mono', Menlo, Consolas, 'Microsoft YaHei', 'PingFang SC', monospace"

typedef enum { EXPORT_TEXT = 0, EXPORT_ANSI, EXPORT_SVG, EXPORT_HTML } ExportFormat;

/* "text", "ansi", "svg", "html" -> format; false for anything else. */
bool export_format_parse(const char *name, ExportFormat *out);
/* File extension for a format: "txt", "ansi", "svg", "html". */
const char *export_format_ext(ExportFormat f);

char *canvas_to_svg_colors(const Canvas *c, Color default_fg, Color default_bg);
char *canvas_to_html(const Canvas *c, Color default_fg, Color default_bg, const char *title);
/* SVG in the current theme's colours (its text and background for CR_DEFAULT). */
char *canvas_to_svg(const Canvas *c);

/* The canvas in the given format (text and ANSI as canvas_to_text / canvas_to_ansi with
 * truecolour), with the theme's colours for SVG and HTML. */
char *canvas_export(const Canvas *c, ExportFormat f, const char *title);
#endif
