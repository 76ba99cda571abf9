/* The first screen's hint: a small box naming the keys a newcomer needs (step, panels, help),
 * that lessons exist (L) and the colour themes (C). `llmscope` (tui) shows it until the first
 * key or click; `screenshot` never does (App.hint stays false). */
#ifndef LLMSCOPE_TUI_FIRST_HINT_H
#define LLMSCOPE_TUI_FIRST_HINT_H
#include "tui/canvas.h"

/* Draws the hint at the bottom centre of area (nothing when area is too small). */
/* prompt_ran: the prompt has run already (tui --run): the step key decodes one token */
void first_hint_draw(Canvas *c, Rect area, bool prompt_ran);
#endif
