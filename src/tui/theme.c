/* Themes: role colours and data ramps of the dark, light and contrast themes; colour science
 * for the contrast and lightness checks. */
#include "tui/theme.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t Rgb[3];

typedef struct {
    const char *name;
    Rgb bg;                    /* what CR_DEFAULT backgrounds show */
    Rgb role[CR_COUNT];        /* [CR_DEFAULT] = what CR_DEFAULT foregrounds show */
    Rgb seq[6];                /* ramp_seq anchors, t = 0, 0.2, .. 1 */
    Rgb div[5];                /* ramp_div anchors, t = -1, -0.5, 0, 0.5, 1 */
} Theme;

static const Theme THEMES[THEME_COUNT] = {
    [THEME_DARK] = {
        .name = "dark",
        .bg = {0, 0, 0},
        .role = {
            [CR_DEFAULT] = {222, 222, 222}, [CR_TEXT] = {222, 222, 222}, [CR_DIM] = {135, 138, 150},
            [CR_TITLE] = {120, 200, 255}, [CR_FRAME] = {95, 105, 130}, [CR_ACCENT] = {255, 200, 60},
            [CR_SELECT] = {38, 64, 125}, [CR_HEADER] = {28, 58, 105}, [CR_FKEY] = {235, 235, 235},
            [CR_FLABEL] = {0, 120, 140}, [CR_WARN] = {255, 175, 0}, [CR_ERROR] = {255, 85, 85},
            [CR_GOOD] = {95, 215, 120}, [CR_MASK] = {84, 84, 96}, [CR_PREFILL] = {38, 62, 96},
            [CR_DECODE] = {96, 58, 28}, [CR_CURRENT] = {255, 200, 60}, [CR_CHIP] = {48, 48, 56},
            [CR_ON_CURRENT] = {16, 16, 16}, [CR_ON_PREFILL] = {200, 222, 255}, [CR_ON_DECODE] = {255, 226, 190},
            [CR_ON_FLABEL] = {0, 0, 0}, [CR_MASK_BG] = {40, 40, 46}, [CR_MARK] = {255, 70, 200},
            [CR_CAT1] = {255, 110, 90}, [CR_CAT2] = {255, 200, 60}, [CR_CAT3] = {95, 215, 120},
            [CR_CAT4] = {100, 170, 255}, [CR_PT_PREFILL] = {140, 190, 255}, [CR_PT_DECODE] = {255, 190, 120},
            [CR_PT_QUERY] = {110, 140, 200}, [CR_DATA] = {200, 200, 200}},
        /* dark indigo -> blue -> teal -> green -> yellow */
        .seq = {{22, 18, 48}, {44, 56, 138}, {30, 128, 156}, {46, 178, 120}, {170, 218, 60}, {252, 236, 70}},
        .div = {{80, 150, 255}, {40, 78, 150}, {34, 34, 40}, {160, 66, 40}, {255, 140, 60}},
    },
    [THEME_LIGHT] = {
        /* dark text on white: projectors on white walls, washed-out beamers, daylight */
        .name = "light",
        .bg = {255, 255, 255},
        .role = {
            [CR_DEFAULT] = {20, 20, 24}, [CR_TEXT] = {20, 20, 24}, [CR_DIM] = {88, 90, 100},
            [CR_TITLE] = {0, 70, 160}, [CR_FRAME] = {120, 130, 150}, [CR_ACCENT] = {180, 70, 0},
            [CR_SELECT] = {190, 215, 255}, [CR_HEADER] = {215, 226, 242}, [CR_FKEY] = {20, 20, 24},
            [CR_FLABEL] = {0, 100, 120}, [CR_WARN] = {160, 80, 0}, [CR_ERROR] = {190, 0, 0},
            [CR_GOOD] = {0, 120, 45}, [CR_MASK] = {150, 150, 162}, [CR_PREFILL] = {205, 222, 250},
            [CR_DECODE] = {250, 222, 195}, [CR_CURRENT] = {0, 70, 160}, [CR_CHIP] = {232, 232, 238},
            [CR_ON_CURRENT] = {255, 255, 255}, [CR_ON_PREFILL] = {0, 40, 100}, [CR_ON_DECODE] = {100, 40, 0},
            [CR_ON_FLABEL] = {255, 255, 255}, [CR_MASK_BG] = {226, 226, 232}, [CR_MARK] = {220, 0, 150},
            [CR_CAT1] = {200, 40, 20}, [CR_CAT2] = {150, 100, 0}, [CR_CAT3] = {0, 125, 50},
            [CR_CAT4] = {0, 85, 200}, [CR_PT_PREFILL] = {0, 80, 190}, [CR_PT_DECODE] = {190, 80, 0},
            [CR_PT_QUERY] = {90, 100, 170}, [CR_DATA] = {60, 60, 60}},
        /* pale yellow -> green -> teal -> blue -> indigo: low values fade into the white */
        .seq = {{252, 248, 210}, {190, 228, 140}, {70, 180, 150}, {30, 120, 170}, {40, 60, 150}, {30, 12, 70}},
        .div = {{20, 60, 170}, {110, 160, 230}, {240, 240, 240}, {240, 150, 90}, {170, 50, 10}},
    },
    [THEME_CONTRAST] = {
        /* the most contrast a terminal gives: white and pure colours on black */
        .name = "contrast",
        .bg = {0, 0, 0},
        .role = {
            [CR_DEFAULT] = {255, 255, 255}, [CR_TEXT] = {255, 255, 255}, [CR_DIM] = {200, 200, 200},
            [CR_TITLE] = {0, 255, 255}, [CR_FRAME] = {200, 200, 200}, [CR_ACCENT] = {255, 255, 0},
            [CR_SELECT] = {0, 0, 170}, [CR_HEADER] = {0, 0, 120}, [CR_FKEY] = {255, 255, 255},
            [CR_FLABEL] = {0, 215, 255}, [CR_WARN] = {255, 190, 0}, [CR_ERROR] = {255, 95, 95},
            [CR_GOOD] = {0, 255, 0}, [CR_MASK] = {150, 150, 150}, [CR_PREFILL] = {0, 0, 150},
            [CR_DECODE] = {120, 40, 0}, [CR_CURRENT] = {255, 255, 0}, [CR_CHIP] = {40, 40, 40},
            [CR_ON_CURRENT] = {0, 0, 0}, [CR_ON_PREFILL] = {255, 255, 255}, [CR_ON_DECODE] = {255, 255, 255},
            [CR_ON_FLABEL] = {0, 0, 0}, [CR_MASK_BG] = {30, 30, 30}, [CR_MARK] = {255, 0, 255},
            [CR_CAT1] = {255, 90, 90}, [CR_CAT2] = {255, 255, 0}, [CR_CAT3] = {0, 255, 0},
            [CR_CAT4] = {80, 180, 255}, [CR_PT_PREFILL] = {0, 255, 255}, [CR_PT_DECODE] = {255, 200, 0},
            [CR_PT_QUERY] = {170, 170, 255}, [CR_DATA] = {255, 255, 255}},
        /* black -> blue -> cyan -> green -> pale yellow: the full lightness range */
        .seq = {{16, 16, 60}, {0, 80, 210}, {0, 170, 200}, {60, 220, 90}, {220, 250, 70}, {255, 255, 210}},
        .div = {{150, 210, 255}, {0, 110, 255}, {24, 24, 24}, {230, 110, 0}, {255, 215, 140}},
    },
};

static ThemeId g_theme = THEME_DARK;

void theme_set(ThemeId id) { if ((int)id >= 0 && id < THEME_COUNT) g_theme = id; }
ThemeId theme_current(void) { return g_theme; }
const char *theme_name(ThemeId id) { return (int)id >= 0 && id < THEME_COUNT ? THEMES[id].name : "?"; }

int theme_find(const char *name) {
    for (int i = 0; name && i < THEME_COUNT; i++)
        if (!strcmp(name, THEMES[i].name)) return i;
    return -1;
}

ThemeId theme_cycle(void) {
    g_theme = (ThemeId)((g_theme + 1) % THEME_COUNT);
    return g_theme;
}

bool theme_from_env(void) {
    const char *v = getenv("LLMSCOPE_THEME");
    if (!v || !*v) return true;
    int id = theme_find(v);
    if (id < 0) return false;
    g_theme = (ThemeId)id;
    return true;
}

Color theme_color(ColorRole role) {
    if ((int)role < 0 || role >= CR_COUNT) role = CR_TEXT;
    const uint8_t *v = THEMES[g_theme].role[role];
    Color c = {v[0], v[1], v[2], (uint8_t)role};
    return c;
}

Color theme_resolve(Color c, bool fg) {
    if (c.role != CR_DEFAULT) return c;
    const uint8_t *v = fg ? THEMES[g_theme].role[CR_DEFAULT] : THEMES[g_theme].bg;
    Color o = {v[0], v[1], v[2], CR_DEFAULT};
    return o;
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

static Color lerp_anchors(const Rgb *a, int n, float t) {
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

Color ramp_seq(float t) { return lerp_anchors(THEMES[g_theme].seq, 6, t); }

Color ramp_div(float t) {
    if (!(t >= -1)) t = -1;
    if (t > 1) t = 1;
    return lerp_anchors(THEMES[g_theme].div, 5, (t + 1) * 0.5f);
}

static double srgb_linear(uint8_t v) {
    double c = v / 255.0;
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

double color_luminance(uint8_t r, uint8_t g, uint8_t b) {
    /* WCAG 2.x relative luminance (sRGB, D65 weights of ITU-R BT.709) */
    return 0.2126 * srgb_linear(r) + 0.7152 * srgb_linear(g) + 0.0722 * srgb_linear(b);
}

double color_contrast(Color a, Color b) {
    /* WCAG 2.x contrast ratio: (L_lighter + 0.05) / (L_darker + 0.05) */
    double la = color_luminance(a.r, a.g, a.b), lb = color_luminance(b.r, b.g, b.b);
    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

double color_lightness(Color c) {
    /* CIE 1976 L* from the luminance Y (white point Y_n = 1) */
    double y = color_luminance(c.r, c.g, c.b);
    return y > 216.0 / 24389.0 ? 116.0 * cbrt(y) - 16.0 : y * 24389.0 / 27.0;
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
