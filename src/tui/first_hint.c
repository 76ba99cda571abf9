/* The first screen's hint box. */
#include "tui/first_hint.h"
#include "core/i18n.h"
#include "tui/theme.h"
#include "tui/widgets/widgets.h"

void first_hint_draw(Canvas *c, Rect area, bool prompt_ran) {
    static const char *const KEYS[][2] = {
        {"n Space \xe2\x86\x92", N_("step: run the prompt, then one token")},
        {"1-8 F9", N_("switch panel (what the model computes)")},
        {"? F1", N_("help: every key")},
        {"L", N_("lessons: guided tours")},
        {"C", N_("colours: dark, light (projector), contrast")}};
    static const char *const KEYS_ASCII0 = "n Space ->";
    const int n = (int)(sizeof KEYS / sizeof KEYS[0]);
    int w = 0;
    for (int i = 0; i < n; i++) {
        int lw = 12 + text_width(tr(KEYS[i][1]), true);
        if (lw > w) w = lw;
    }
    w += 4;                                    /* frame + one blank each side */
    int h = n + 2;
    if (w > area.w) w = area.w;
    if (area.w < 30 || area.h < h + 2) return;
    Rect b = rect_make(area.x + (area.w - w) / 2, area.y + area.h - h - 1, w, h);
    canvas_fill(c, b, " ", sty(CR_TEXT));
    Rect in = w_frame(c, b, c->unicode ? tr("First steps \xc2\xb7 any key hides this") : "First steps - any key hides this", true);
    for (int i = 0; i < n && i < in.h; i++) {
        const char *k = i == 0 && !c->unicode ? KEYS_ASCII0 : KEYS[i][0];
        /* after --run the prompt has run: a step is one token */
        const char *what = i == 0 && prompt_ran ? N_("step: one more token") : KEYS[i][1];
        canvas_text_fit(c, in.x + 1, in.y + i, k, 11, sty_attr(CR_ACCENT, ATTR_BOLD));
        canvas_text_fit(c, in.x + 13, in.y + i, tr(what), in.w - 14, sty(CR_TEXT));
    }
}
