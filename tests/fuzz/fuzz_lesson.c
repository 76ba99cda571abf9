/* Fuzzes lesson_parse (src/lesson/lesson.c): lesson JSON with steps, controller actions and
 * narration templates whose {placeholders} are validated against the placeholder table. A
 * lesson that parses must respect the documented limits, and its templates must scan. Seeds:
 * tests/fuzz/corpus/lesson/ plus the shipped lessons/ (run.sh passes that directory too). */
#include "fuzz_common.h"
#include "lesson/lesson.h"

static bool count_ph(void *ud, const LessonPh *ph, Err *e) {
    (void)e;
    if (memchr(ph->key, 0, sizeof ph->key) == NULL || memchr(ph->arg, 0, sizeof ph->arg) == NULL ||
        memchr(ph->ref, 0, sizeof ph->ref) == NULL)
        fuzz_fail("placeholder field not terminated");
    (*(int *)ud)++;
    return true;
}

static void scan(const char *tpl, const char *what) {
    if (!tpl) return;
    if (strlen(tpl) > LESSON_MAX_TEXT) fuzz_fail("%s: template of %zu bytes accepted", what, strlen(tpl));
    int n = 0;
    Err e = {0};
    if (!lesson_template_scan(tpl, count_ph, &n, &e)) fuzz_fail("%s: accepted template does not scan: %s", what, e.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz/lesson.json";
    Err e = {0};
    Lesson *l = lesson_parse((const char *)data, size, name, &e);
    if (!l) { fuzz_check_err(&e, name, "lesson_parse"); return 0; }
    if (l->n_steps < 1 || l->n_steps > LESSON_MAX_STEPS || !l->steps) fuzz_fail("%d steps accepted", l->n_steps);
    if (l->n_refs < 0 || l->n_refs > LESSON_MAX_REFS) fuzz_fail("%d refs accepted", l->n_refs);
    for (int s = 0; s < l->n_steps; s++) {
        const LessonStep *st = &l->steps[s];
        if (!st->text) fuzz_fail("step %d without text", s);
        if (!st->question != !st->answer) fuzz_fail("step %d: question without answer or the reverse", s);
        scan(st->text, "text");
        scan(st->question, "question");
        scan(st->answer, "answer");
        if (st->n_actions < 0 || st->n_actions > LESSON_MAX_ACTIONS) fuzz_fail("%d actions accepted", st->n_actions);
        for (int a = 0; a < st->n_actions; a++) {
            const LessonAction *ac = &st->actions[a];
            if ((unsigned)ac->kind >= LA_COUNT) fuzz_fail("action kind %d", (int)ac->kind);
            const char *nm = lesson_action_name(ac->kind);
            if (!nm) fuzz_fail("no name for action %d", (int)ac->kind);
            if (ac->str) fuzz_touch(ac->str, strlen(ac->str));
            if (ac->kind == LA_STAGE && !strcmp(lesson_stage_keyword(ac->stage), "?"))
                fuzz_fail("stage %d has no keyword", ac->stage);
        }
    }
    const char *strs[] = {l->id, l->title, l->summary, l->lang, l->model, l->prompt};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i]) fuzz_touch(strs[i], strlen(strs[i]));
    lesson_free(l);
    return 0;
}
