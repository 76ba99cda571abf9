#include "work_fx.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

void work_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool work_tick_while(Scene *sc, int kind, Err *e) {
    for (int guard = 0; guard < 6000 && sc->job.kind == kind; guard++) {
        if (!scene_prefill_tick(sc, 0, e)) return false;
        if (sc->job.kind == SCENE_JOB_LOAD) work_sleep_ms(5);
    }
    return sc->job.kind != kind;
}

bool work_screen_has(App *app, Canvas *cv, const char *s) {
    app_render(app, cv);
    char *txt = canvas_to_text(cv);
    bool has = txt && strstr(txt, s);
    free(txt);
    return has;
}
