/* Shared by the tests of work in pieces (test_work.c, test_work_keys.c): waiting for a chunked
 * scene's job and reading the App's screen. */
#ifndef LLMSCOPE_TESTS_WORK_FX_H
#define LLMSCOPE_TESTS_WORK_FX_H
#include <stdbool.h>
#include "core/err.h"
#include "scene/scene.h"
#include "tui/app.h"
#include "tui/canvas.h"

void work_sleep_ms(int ms);
/* Ticks a chunked scene until its job is no longer `kind` (a load: the worker's time). */
bool work_tick_while(Scene *sc, int kind, Err *e);
/* The App drawn on cv holds the text s. */
bool work_screen_has(App *app, Canvas *cv, const char *s);
#endif
