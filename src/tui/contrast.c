/* SGR-state scanner and WCAG contrast per text cell (contrast.h). */
#include "tui/contrast.h"
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tui/theme.h"

typedef struct { int kind; Color rgb; } Pen;   /* kind: 0 default, 1 set */

typedef struct {
    Pen fg, bg;
    bool reverse, hidden;
} SgrState;

int contrast_char_class(int cp) { return text_char_class(cp); }

static Pen pen_index(int i) {
    uint8_t v[3];
    color_index_rgb(i, v);
    Pen p = {1, {v[0], v[1], v[2], CR_DATA}};
    return p;
}

static Pen pen_rgb(long r, long g, long b) {
    Pen p = {1, {(uint8_t)(r & 255), (uint8_t)(g & 255), (uint8_t)(b & 255), CR_DATA}};
    return p;
}

/* Applies "P1;P2;...": the parameters of one SGR sequence (':' sub-parameters accepted). */
static void sgr_apply(SgrState *s, const char *p, size_t n, ContrastStats *st) {
    long v[64];
    int nv = 0;
    size_t i = 0;
    while (i <= n && nv < 64) {
        long x = 0;
        bool any = false;
        while (i < n && p[i] >= '0' && p[i] <= '9') { x = x * 10 + (p[i] - '0'); i++; any = true; if (x > 1000000) x = 1000000; }
        v[nv++] = any ? x : -1;          /* -1: empty parameter */
        if (i < n && (p[i] == ';' || p[i] == ':')) { i++; continue; }
        break;
    }
    if (nv == 0) { v[0] = 0; nv = 1; }
    for (int k = 0; k < nv; k++) {
        long c = v[k] < 0 ? 0 : v[k];
        if (c == 0) { s->fg.kind = 0; s->bg.kind = 0; s->reverse = false; s->hidden = false; }
        else if (c == 7) s->reverse = true;
        else if (c == 27) s->reverse = false;
        else if (c == 8) s->hidden = true;
        else if (c == 28) s->hidden = false;
        else if (c >= 30 && c <= 37) { s->fg = pen_index((int)c - 30); st->sgr_16++; }
        else if (c >= 90 && c <= 97) { s->fg = pen_index((int)c - 90 + 8); st->sgr_16++; }
        else if (c >= 40 && c <= 47) { s->bg = pen_index((int)c - 40); st->sgr_16++; }
        else if (c >= 100 && c <= 107) { s->bg = pen_index((int)c - 100 + 8); st->sgr_16++; }
        else if (c == 39) { s->fg.kind = 0; st->sgr_default++; }
        else if (c == 49) { s->bg.kind = 0; st->sgr_default++; }
        else if (c == 38 || c == 48) {
            Pen *pen = c == 38 ? &s->fg : &s->bg;
            if (k + 2 < nv && v[k + 1] == 5) { *pen = pen_index((int)(v[k + 2] < 0 ? 0 : v[k + 2] & 255)); k += 2; st->sgr_256++; }
            else if (k + 4 < nv && v[k + 1] == 2) {
                /* 38;2;r;g;b, or 38:2::r:g:b with an empty colour-space id */
                int o = (k + 5 < nv && v[k + 2] == -1) ? k + 3 : k + 2;
                if (o + 2 < nv) { *pen = pen_rgb(v[o] < 0 ? 0 : v[o], v[o + 1] < 0 ? 0 : v[o + 1], v[o + 2] < 0 ? 0 : v[o + 2]); k = o + 2; st->sgr_rgb++; }
            }
        }
    }
}

void contrast_scan(const char *text, Color def_fg, Color def_bg, double min_ratio, ContrastStats *st) {
    memset(st, 0, sizeof *st);
    SgrState s = {{0, def_fg}, {0, def_bg}, false, false};
    int row = 0, col = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (p && *p) {
        if (*p == 0x1b) {
            if (p[1] == '[') {                      /* CSI params final */
                const unsigned char *q = p + 2;
                while (*q && ((*q >= 0x30 && *q <= 0x3f) || (*q >= 0x20 && *q <= 0x2f))) q++;
                if (!*q) break;
                if (*q == 'm' && p[2] != '?' && p[2] != '>' && p[2] != '<' && p[2] != '=')
                    sgr_apply(&s, (const char *)p + 2, (size_t)(q - p - 2), st);
                p = q + 1;
            } else if (p[1] == ']') {               /* OSC ... BEL or ST */
                const unsigned char *q = p + 2;
                while (*q && *q != 7 && !(*q == 0x1b && q[1] == '\\')) q++;
                p = !*q ? q : *q == 7 ? q + 1 : q + 2;
            } else {
                p += p[1] ? 2 : 1;
            }
            continue;
        }
        if (*p == '\n') { row++; col = 0; p++; continue; }
        if (*p == '\r') { col = 0; p++; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n <= 0) { p++; col++; continue; }
        int w = utf8proc_charwidth(cp);
        int cls = contrast_char_class(cp);
        if (w > 0 && cls > 0 && !s.hidden) {
            Color fg = s.fg.kind ? s.fg.rgb : def_fg, bg = s.bg.kind ? s.bg.rgb : def_bg;
            if (s.reverse) { Color t = fg; fg = bg; bg = t; st->reverse++; }
            double r = color_contrast(fg, bg);
            bool ok = r >= min_ratio;
            st->text++;
            st->text_ok += ok;
            if (cls == 2) { st->letters++; st->letters_ok += ok; }
            if (st->text == 1 || r < st->worst) {
                st->worst = r;
                st->worst_row = row;
                st->worst_col = col;
                memset(st->worst_ch, 0, sizeof st->worst_ch);
                memcpy(st->worst_ch, p, (size_t)n < sizeof st->worst_ch ? (size_t)n : sizeof st->worst_ch - 1);
                st->worst_fg = fg;
                st->worst_bg = bg;
            }
        }
        col += w > 0 ? w : 0;
        p += n;
    }
}
