/* Shared by scene.c and work.c only (the scene's private helpers). */
#ifndef LLMSCOPE_SCENE_INT_H
#define LLMSCOPE_SCENE_INT_H
#include "scene/scene.h"

/* Fails the action: the message goes to e and to the status line. */
bool scene_fail(Scene *sc, Err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "A: " / "B: " in compare mode, else "". */
const char *scene_tag(const Scene *sc, int i);
/* Starts (chunked) or runs (headless) the work of every session that has some: kind is the
 * job it becomes, done_msg the status line when it ends (NULL: keep the current one). */
bool scene_begin_work(Scene *sc, SceneJob kind, const char *done_msg, Err *e);
/* What scene_load_model does once the session is loaded (s owned; freed on failure). */
bool scene_load_finish(Scene *sc, int slot, const char *path, Session *s, Err *e);
/* Stops a model load under way (its result is freed by the worker). */
void scene_load_abandon(Scene *sc);
/* Starts session_new(path) on a worker thread (job SCENE_JOB_LOAD). */
bool scene_load_start(Scene *sc, int slot, const char *path, int max_ctx, Err *e);
#endif
