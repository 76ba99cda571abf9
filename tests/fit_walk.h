/* The fit walk: the screens the layout scans (test_fit.c, test_clip.c) look at. Drawn in process
 * with the bundled story models at the sizes a class uses (80x24 on a projector, 100x30, 60x20,
 * 70x22, 200x60), English and Chinese UTF-8 and English ASCII, one model and compare mode. */
#ifndef LLMSCOPE_TESTS_FIT_WALK_H
#define LLMSCOPE_TESTS_FIT_WALK_H
#include <stdbool.h>
#include <stddef.h>
#include "harness.h"
#include "tui/app.h"
#include "tui/canvas.h"

#define STORY(n) "assets/models/story-" n

/* The width of the reference screen (each model's panel in compare mode): every column of every
 * panel's table fits. */
#define FIT_WIDE_W 160

/* One drawn screen of fit_each_screen: which model(s), panel, size and language. */
typedef struct {
    const char *model;      /* the story model (B in compare mode, beside story-gqa as A) */
    bool two;               /* compare mode */
    int panel, w, h;
    const char *mode;       /* "en", "zh" (UTF-8) or "ascii" */
    const Canvas *wide;     /* fit_each_screen: the same screen drawn wide (FIT_WIDE_W x 60) */
    const Canvas *under;    /* fit_each_view, an overlay open: the same screen without it */
} FitScreen;
typedef void (*FitFn)(TestCtx *T_, const Canvas *c, const FitScreen *f, void *ud);

bool have_story(const char *dir);
/* Row y of the canvas as text (trailing blanks trimmed) into out. */
void row_text(const Canvas *c, int y, char *out, size_t cap);
/* The first row at or below y0 that holds a frame's top-left corner. */
int frame_top(const Canvas *c, int y0);
/* An app with the story model(s), the prompt run and three tokens decoded. */
App *fit_app(TestCtx *T_, const char *a_dir, const char *b_dir);
/* Every panel of panels[0..n) (all when NULL), each story model alone and beside story-gqa, every
 * size and mode; FitScreen.wide is the same screen drawn FIT_WIDE_W columns a panel wide.
 * Returns the screens drawn, -1 when the story models are missing. */
int fit_each_screen(TestCtx *T_, const int *panels, int n, FitFn fn, void *ud);
/* The views that are not panels: the trade-off view, the help on every panel (every page), the
 * overlays (FitScreen.panel: 100 + overlay, 200 the trade-off view, 300 + panel the help). */
int fit_each_view(TestCtx *T_, FitFn fn, void *ud);
/* The same at the n_sizes sizes given ({w, h} each). */
int fit_each_view_at(TestCtx *T_, const int (*sizes)[2], int n_sizes, FitFn fn, void *ud);
/* Every step of every lesson, English and Chinese, in its pane (FitScreen.panel: 1000 x the
 * lesson's number + the step). */
int fit_each_lesson(TestCtx *T_, FitFn fn, void *ud);
#endif
