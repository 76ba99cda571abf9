/* The lesson pane: narration beside the panels while a lesson plays, presenter keys, and
 * the lesson menu (L). The App holds one LessonUi (a->lesson, created on first use); the
 * lesson itself is a LessonPlayer (lesson/lesson.h) that drives the App through the same
 * session actions keys use.
 *
 * Presenter keys while a lesson is open: Space, Right, PgDn next step (the first press on a
 * step with a question reveals its answer); Left, PgUp, Backspace previous step; Home first
 * step; a or Enter show/hide the answer; q leave the lesson (the model stays loaded);
 * L the lesson menu (Tab there switches English / Chinese). Every other key goes to the
 * app as usual, so a learner can explore (n/b tokens, [ ] layers, ...) and the narration's
 * live values follow.
 *
 * Layout: a column on the right when the terminal is at least 120 wide, else rows at the
 * bottom. Ownership: the App frees its LessonUi (lesson_ui_free) in app_free.
 */
#ifndef LLMSCOPE_TUI_LESSON_PANE_H
#define LLMSCOPE_TUI_LESSON_PANE_H
#include "lesson/lesson.h"
#include "tui/app.h"

typedef struct LessonUi LessonUi;

/* The app's LessonUi, created if needed with the lessons under root (NULL: found from the
 * binary) in lang ("en"/"zh"; NULL: the UI's language, core/i18n.h: --lang, else
 * $LLMSCOPE_LANG, else $LC_ALL / $LC_MESSAGES / $LANG starting "zh", else en). */
LessonUi *lesson_ui_get(App *a, const char *root, const char *lang);
void lesson_ui_free(LessonUi *u);
/* Opens a lesson file and shows step `step` (0-based). False with e filled on a bad file or
 * an action that fails (the pane then shows the error too). */
bool lesson_ui_open(App *a, const char *path, int step, Err *e);
/* Closes the lesson (q in its pane): the sampler, greedy while it ran, follows the models'
 * defaults again (scene_lesson_closed), and the status line says so. */
void lesson_ui_close(App *a);
LessonPlayer *lesson_ui_player(App *a);     /* NULL when no lesson is open */
bool lesson_ui_next(App *a);                 /* presenter actions (also bound to keys) */
bool lesson_ui_prev(App *a);
bool lesson_ui_goto(App *a, int step);       /* step k (0-based) from its start, whatever the current one showed */
void lesson_ui_reveal(App *a, bool on);
const char *lesson_ui_error(App *a);         /* "" when the last step played cleanly */
/* Where the pane was last drawn (w = 0 if not) and whether its text overflowed. */
Rect lesson_ui_pane_rect(App *a, bool *overflow);

/* Called by app_render: draws the pane when a lesson is open and returns the area left for
 * the panels (main itself otherwise). */
Rect lesson_ui_draw(App *a, Canvas *c, Rect main);
/* Called by app_render after the panels: highlights the current step's targets (names the
 * panels registered with canvas_target): small elements in reverse video, large ones by
 * accent corners. */
void lesson_ui_draw_targets(App *a, Canvas *c);
/* After a render: when the step's targets are not all on screen and a shorter pane (at the
 * bottom) may make room, shrinks it and returns true (render again); when none helps, returns
 * true once more with the pane as it was, saying which are off screen at this size. Decided
 * once per step and screen size. */
bool lesson_ui_refit(App *a, Canvas *c);
bool lesson_ui_targets_off_screen(App *a);
/* The current step's "look at" lines as the pane writes them (after the last render, which
 * decides whether the targets are on screen): which 0 the targets' line, 1 its short form (the
 * compact pane's progress line: the labels alone), 2 the highlighted token or attention cell.
 * False when the step has no such line. */
bool lesson_ui_look_at(App *a, int which, bool unicode, char *line, size_t cap);
/* True while a prediction's answer field is open (keys go to it). */
bool lesson_ui_input_open(App *a);
bool lesson_ui_menu_open(App *a);             /* the lesson menu (L) is open */
/* Paging of a long step: whether rows are left below the pane's view (after the last
 * render), and back to the first page. lesson_ui_next pages while more is true. */
bool lesson_ui_more(App *a);
void lesson_ui_page_reset(App *a);
/* Types an answer into the current step's prediction through the pane's keys (a opens the
 * field, the characters, Enter; a digit picks a choice). True when it was scored. */
bool lesson_ui_answer(App *a, const char *text);
/* Why the last answer typed into a prediction was refused ("" = not refused). */
const char *lesson_ui_input_error(App *a);
/* Called by app_render last: the lesson menu when it is open. */
void lesson_ui_draw_menu(App *a, Canvas *c);
/* Called by app_handle before the global keys: menu keys, 'L', and presenter keys while a
 * lesson is open. KR_IGNORED lets the app handle the key. */
int lesson_ui_key(App *a, int key);

/* Wraps narration (UTF-8, with LESSON_MARK_ON/OFF around live values) into width columns:
 * breaks at spaces, and between CJK characters except before closing punctuation (，。、
 * ；：！？）」 etc.) or after opening punctuation. Draws when c is non-NULL (values in
 * `val`); returns the rows used. */
int lesson_wrap(Canvas *c, Rect r, const char *text, Style normal, Style val, bool unicode);
#endif
