/* Token strip: tokens as chips with their true display widths, wrapping; prompt (prefill)
 * and generated (decode) chips differ in colour (underline in mono); the current chip is
 * highlighted and kept visible. Allocates the layout (3 ints per chip) per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tui/widgets/widgets.h"

void tok_visible(const char *raw, char *out, size_t cap, bool unicode) {
    size_t o = 0;
    if (!cap) return;
    out[0] = 0;
    if (!raw || !*raw) { snprintf(out, cap, "%s", unicode ? "\xe2\x88\x85" : "''"); return; }
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        char tmp[8];
        const char *add = tmp;
        if (*p == ' ') add = unicode ? "\xe2\x90\xa3" : "_";
        else if (*p == '\n') add = unicode ? "\xe2\x86\xb5" : "\\n";
        else if (*p == '\t') add = unicode ? "\xe2\x87\xa5" : "\\t";
        else if (*p < 0x20 || *p == 0x7f) snprintf(tmp, sizeof tmp, "\\x%02X", *p);
        else { tmp[0] = (char)*p; tmp[1] = 0; }
        size_t n = strlen(add);
        if (o + n + 1 > cap) break;
        memcpy(out + o, add, n);
        o += n;
        out[o] = 0;
    }
}

static Style chip_style(const Canvas *c, const Chip *ch) {
    if (c->mono) {
        uint8_t a = 0;
        if (ch->current) a |= ATTR_REVERSE | ATTR_BOLD;
        else if (ch->dim) a |= ATTR_DIM;
        if (!ch->prefill) a |= ATTR_UNDERLINE;
        return sty_attr(CR_TEXT, a);
    }
    if (ch->current) {
        Style s = {theme_color(CR_ON_CURRENT), theme_color(CR_CURRENT), ATTR_BOLD};
        return s;
    }
    if (ch->dim) { Style s = {theme_color(CR_DIM), theme_color(CR_CHIP), 0}; return s; }
    if (ch->prefill) { Style s = {theme_color(CR_ON_PREFILL), theme_color(CR_PREFILL), 0}; return s; }
    Style s = {theme_color(CR_ON_DECODE), theme_color(CR_DECODE), 0};
    return s;
}

void w_tokstrip(Canvas *c, Rect r, const Chip *chips, int n, Rect *hits) {
    if (hits) for (int i = 0; i < n; i++) hits[i] = rect_make(0, 0, 0, 0);
    if (r.w <= 0 || r.h <= 0 || n <= 0) return;
    int *lay = malloc(sizeof(int) * 3 * (size_t)n);
    if (!lay) return;
    char vis[256];
    int line = 0, x = 0, cur_line = -1;
    for (int i = 0; i < n; i++) {
        tok_visible(chips[i].text, vis, sizeof vis, c->unicode);
        int cw = text_width(vis, c->unicode);
        if (cw < 1) cw = 1;
        if (cw > r.w) cw = r.w;
        if (x > 0 && x + cw > r.w) { line++; x = 0; }
        lay[3 * i] = line;
        lay[3 * i + 1] = x;
        lay[3 * i + 2] = cw;
        if (chips[i].current) cur_line = line;
        x += cw + 1;
    }
    int nlines = line + 1;
    if (cur_line < 0) cur_line = nlines - 1;
    int first = cur_line - r.h + 1;
    if (first > nlines - r.h) first = nlines - r.h;
    if (first < 0) first = 0;
    canvas_push_clip(c, r);
    for (int i = 0; i < n; i++) {
        int ln = lay[3 * i] - first;
        if (ln < 0 || ln >= r.h) continue;
        int cx = r.x + lay[3 * i + 1], cy = r.y + ln, cw = lay[3 * i + 2];
        tok_visible(chips[i].text, vis, sizeof vis, c->unicode);
        Style st = chip_style(c, &chips[i]);
        canvas_fill(c, rect_make(cx, cy, cw, 1), " ", st);
        canvas_text_fit(c, cx, cy, vis, cw, st);
        if (hits) hits[i] = rect_make(cx, cy, cw, 1);
    }
    /* lines hidden above or below: a small marker at the right edge */
    if (first > 0) canvas_glyph(c, r.x + r.w - 1, r.y, c->unicode ? "\xe2\x96\xb2" : "^", sty(CR_DIM));
    if (first + r.h < nlines) canvas_glyph(c, r.x + r.w - 1, r.y + r.h - 1, c->unicode ? "\xe2\x96\xbc" : "v", sty(CR_DIM));
    canvas_pop_clip(c);
    free(lay);
}
