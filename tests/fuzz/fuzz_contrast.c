/* Fuzzes the contrast scanner (tui/contrast.c), which reads screen dumps (`llmscope contrast`
 * takes any file), and the ANSI writer it checks (canvas_to_ansi). Input: one selector byte
 * (theme, colour mode), then text.
 *   - contrast_scan on the raw input: the counts are consistent (ok <= cells, letters <= text
 *     cells) and the lowest ratio is a contrast ratio (1..21);
 *   - the input drawn as text on a canvas in the selected theme and written as ANSI in the
 *     selected mode scans back with every text cell at >= 3:1 (theme text on theme
 *     background), whatever the characters. */
#include "fuzz_common.h"
#include "tui/contrast.h"
#include "tui/theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    Color fg = {255, 255, 255, CR_DATA}, bg = {0, 0, 0, CR_DATA};
    ContrastStats st;
    contrast_scan(s, fg, bg, 3.0, &st);
    if (st.text_ok > st.text || st.letters_ok > st.letters || st.letters > st.text || st.text < 0)
        fuzz_fail("inconsistent counts: text %ld ok %ld letters %ld ok %ld", st.text, st.text_ok, st.letters, st.letters_ok);
    if (st.text && !(st.worst >= 1.0 - 1e-9 && st.worst <= 21.0 + 1e-9)) fuzz_fail("lowest ratio %g", st.worst);

    theme_set((ThemeId)(sel % THEME_COUNT));
    ColorMode mode = (ColorMode)((sel / THEME_COUNT) % 4);
    Canvas *c = canvas_new(40, 4);
    if (!c) { free(s); return 0; }
    c->unicode = (sel & 0x80) == 0;
    c->mono = mode == CMODE_NONE;
    /* at most 4 rows of the input, one per canvas row */
    char *line = s;
    for (int y = 0; y < 4 && line; y++) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        canvas_text(c, 0, y, line, sty(y & 1 ? CR_DIM : CR_TEXT));
        line = nl ? nl + 1 : NULL;
    }
    char *ansi = canvas_to_ansi(c, mode);
    if (ansi) {
        contrast_scan(ansi, fg, bg, 3.0, &st);
        if (st.text_ok != st.text)
            fuzz_fail("theme %u mode %d: %ld of %ld text cells under 3:1 (lowest %.2f '%s')", sel % THEME_COUNT,
                      (int)mode, st.text - st.text_ok, st.text, st.worst, st.worst_ch);
        free(ansi);
    }
    canvas_free(c);
    theme_set(THEME_DARK);
    free(s);
    return 0;
}
