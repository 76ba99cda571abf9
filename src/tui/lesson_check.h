/* `llmscope lesson --check`: plays a lesson headless on a real App with its narration pane
 * (tui/lesson_check.c). It sits in tui/ because it renders screens; lesson/ knows no TUI. */
#ifndef LLMSCOPE_TUI_LESSON_CHECK_H
#define LLMSCOPE_TUI_LESSON_CHECK_H
#include <stdio.h>
#include "lesson/lesson.h"

typedef struct {
    int w, h;                   /* canvas the steps are rendered on (0: 140x40) */
    bool verbose;               /* print each step's expanded narration */
    FILE *out;                  /* progress and errors (NULL: stderr) */
} LessonCheckOpts;

/* Validates a lesson file and plays it headless on a fresh App: every action must apply,
 * every placeholder must compute, every step must change the panels on screen, the
 * narration must fit the pane, and going back must reproduce each step's screen. Returns
 * the number of problems found (0 = good); each is printed as "FILE: step N: ...". */
int lesson_check_file(const char *path, const char *root, const LessonCheckOpts *o);
/* Same-steps check between a lesson and its translation: the same id, model, prompt, refs,
 * step count and actions. Returns problems found. */
int lesson_check_pair(const char *en_path, const char *zh_path, FILE *out);

#endif
