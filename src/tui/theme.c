/* Theme: role colours (a dark theme meant to read well on a projector), data ramps. */
#include "tui/theme.h"
#include <math.h>

static const uint8_t ROLE_RGB[CR_COUNT][3] = {
    [CR_DEFAULT] = {0, 0, 0},
    [CR_TEXT] = {222, 222, 222},
    [CR_DIM] = {135, 138, 150},
    [CR_TITLE] = {120, 200, 255},
    [CR_FRAME] = {95, 105, 130},
    [CR_ACCENT] = {255, 200, 60},
    [CR_SELECT] = {50, 85, 150},
    [CR_HEADER] = {28, 58, 105},
    [CR_FKEY] = {235, 235, 235},
    [CR_FLABEL] = {0, 120, 140},
    [CR_WARN] = {255, 175, 0},
    [CR_ERROR] = {255, 85, 85},
    [CR_GOOD] = {95, 215, 120},
    [CR_MASK] = {62, 62, 70},
    [CR_PREFILL] = {38, 62, 96},
    [CR_DECODE] = {96, 58, 28},
    [CR_CURRENT] = {255, 200, 60},
    [CR_CHIP] = {48, 48, 56},
    [CR_DATA] = {200, 200, 200},
};

Color theme_color(ColorRole role) {
    if ((int)role < 0 || role >= CR_COUNT) role = CR_TEXT;
    Color c = {ROLE_RGB[role][0], ROLE_RGB[role][1], ROLE_RGB[role][2], (uint8_t)role};
    return c;
}

Style sty(ColorRole fg) {
    Style s = {theme_color(fg), color_default(), 0};
    return s;
}

Style sty2(ColorRole fg, ColorRole bg, uint8_t attr) {
    Style s = {theme_color(fg), theme_color(bg), attr};
    return s;
}

Style sty_attr(ColorRole fg, uint8_t attr) {
    Style s = {theme_color(fg), color_default(), attr};
    return s;
}

static Color lerp_anchors(const uint8_t (*a)[3], int n, float t) {
    if (!(t >= 0)) t = 0;           /* also catches NaN */
    if (t > 1) t = 1;
    float f = t * (float)(n - 1);
    int i = (int)f;
    if (i >= n - 1) i = n - 2;
    float u = f - (float)i;
    uint8_t rgb[3];
    for (int k = 0; k < 3; k++) {
        float v = (float)a[i][k] + u * (float)(a[i + 1][k] - a[i][k]);
        rgb[k] = (uint8_t)lrintf(v);
    }
    return color_rgb(rgb[0], rgb[1], rgb[2]);
}

Color ramp_seq(float t) {
    /* dark indigo -> blue -> teal -> green -> yellow: monotone in lightness */
    static const uint8_t A[6][3] = {
        {22, 18, 48}, {44, 56, 138}, {30, 128, 156}, {46, 178, 120}, {170, 218, 60}, {252, 236, 70}};
    return lerp_anchors(A, 6, t);
}

Color ramp_div(float t) {
    static const uint8_t A[5][3] = {
        {80, 150, 255}, {40, 78, 150}, {34, 34, 40}, {160, 66, 40}, {255, 140, 60}};
    if (!(t >= -1)) t = -1;
    if (t > 1) t = 1;
    return lerp_anchors(A, 5, (t + 1) * 0.5f);
}

char ramp_ascii(float t) {
    static const char R[] = " .:-=+*#%@";
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    int i = (int)lrintf(t * 9.0f);
    return R[i];
}

char ramp_ascii_div(float t) {
    static const char NEG[] = " .-xo";     /* |t| small -> large, negative */
    static const char POS[] = " .+*#";
    if (!(t >= -1)) t = -1;
    if (t > 1) t = 1;
    int i = (int)lrintf(fabsf(t) * 4.0f);
    return t < 0 ? NEG[i] : POS[i];
}

const char *glyph_hline(const Canvas *c) { return c->unicode ? "\xe2\x94\x80" : "-"; }
const char *glyph_vline(const Canvas *c) { return c->unicode ? "\xe2\x94\x82" : "|"; }

const char *glyph_hbar(const Canvas *c, int e) {
    static const char *U[9] = {" ", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d", "\xe2\x96\x8c",
                               "\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89", "\xe2\x96\x88"};
    if (e < 0) e = 0;
    if (e > 8) e = 8;
    if (!c->unicode) return e >= 8 ? "#" : e >= 4 ? "=" : e > 0 ? "-" : " ";
    return U[e];
}

const char *glyph_vbar(const Canvas *c, int e) {
    static const char *U[9] = {" ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                               "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    if (e < 0) e = 0;
    if (e > 8) e = 8;
    if (!c->unicode) return e >= 8 ? "#" : e >= 4 ? "+" : e > 0 ? "." : " ";
    return U[e];
}
