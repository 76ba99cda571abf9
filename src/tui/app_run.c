/* The interactive loop: curses terminal, one KEY_RESIZE path, run-mode timer. */
#include <time.h>
#include "tui/app.h"
#include "tui/term.h"
#include "tui/lesson_pane.h"
#include "analysis/derived.h"

typedef struct { Term *t; Canvas *c; App *a; unsigned ended_drawn; } RunCtx;

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void frame(App *a, RunCtx *rc) {
    int w, h;
    term_size(rc->t, &w, &h);
    if (rc->c->w != w || rc->c->h != h) {
        if (!canvas_resize(rc->c, w, h)) return;
        term_invalidate(rc->t);
    }
    rc->ended_drawn = derived_background_ended();   /* before the panels ask for (and start) jobs */
    app_render(a, rc->c);
    term_draw(rc->t, rc->c);
}

static void on_busy(void *ud) { RunCtx *rc = ud; frame(rc->a, rc); }

bool app_run(App *a, Err *e) {
    Term *t = term_open(e);
    if (!t) return false;
    int w, h;
    term_size(t, &w, &h);
    Canvas *c = canvas_new(w, h);
    if (!c) { term_close(t); return err_set(e, ERR_MEMORY, "out of memory"); }
    c->unicode = term_unicode(t);
    c->mono = term_color_mode(t) == CMODE_NONE;
    RunCtx rc = {t, c, a, 0};
    a->sc->busy_cb = on_busy;
    a->sc->busy_ud = &rc;
    a->sc->chunked = true;   /* prefills run in pieces between frames: the UI never waits */
    double next_tick = mono_ms() + a->run_ms;
    bool dirty = true;
    while (!a->quit) {
        if (!scene_busy(a->sc) && a->n_typed) {   /* keys typed and clicks made during a prefill, in order */
            int n = a->n_typed;
            a->n_typed = 0;
            for (int k = 0; k < n && !a->quit; k++) {
                if (dirty && lesson_ui_player(a)) { frame(a, &rc); dirty = false; }   /* see below */
                if (app_handle_waiting(a, &a->typed[k]) != KR_IGNORED) dirty = true;
                if (scene_busy(a->sc)) {   /* that one started another prefill: keep the rest */
                    for (int j = k + 1; j < n; j++) a->typed[a->n_typed++] = a->typed[j];
                    break;
                }
            }
        }
        if (dirty) { frame(a, &rc); dirty = false; }
        int timeout = -1;
        if (scene_busy(a->sc)) timeout = a->sc->job.kind == SCENE_JOB_LOAD ? 100 : 0;   /* a load: the worker computes */
        else if (a->panels_more || compare_band_pending(a)) timeout = 0;   /* a panel's next piece, the band's */
        else if (a->sc->running) {
            double left = next_tick - mono_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        /* a panel's index built on a worker: redraw until it is done, and once after it ended
         * (it may end before this line: a small vocabulary, this thread descheduled) */
        const bool bg = derived_background_busy() || derived_background_ended() != rc.ended_drawn;
        if (bg && (timeout < 0 || timeout > 100)) timeout = 100;
        /* never block for good: a SIGWINCH that lands just before curses blocks in its read can
         * wait there for the next key, with the old frame on a resized terminal (tmux, under
         * load); curses reports the resize at the next wait, so wake up four times a second */
        if (timeout < 0 || timeout > 250) timeout = 250;
        TuiEvent ev;
        if (!term_poll(t, timeout, &ev)) {
            if (bg) dirty = true;
            if (scene_busy(a->sc)) {   /* the next piece of the prefill, then a frame */
                Err e2 = {0};
                scene_prefill_tick(a->sc, 0, &e2);
                dirty = true;
                continue;
            }
            /* a panel computes in pieces (the logit lens, the FFN's layers): its next frame
             * takes the next ones; run mode's next step waits until it is done */
            if (a->panels_more) { dirty = true; continue; }
            if (a->sc->running && mono_ms() >= next_tick) {
                TuiEvent tick = {.key = TK_TICK};
                if (app_handle(a, &tick)) dirty = true;
                next_tick = mono_ms() + a->run_ms;
            } else if (compare_band_work(a)) dirty = true;   /* compare mode's loss/KL, a piece */
            continue;
        }
        if (app_handle(a, &ev) != KR_IGNORED) dirty = true;
        if (a->sc->running && ev.key == 'r') next_tick = mono_ms() + a->run_ms;
        /* drain input that is already waiting (key repeat, paste, resize storms) before
         * drawing, but never more than a few events per frame */
        for (int k = 0; k < 16 && !a->quit; k++) {
            if (!term_poll(t, 0, &ev)) break;
            /* a lesson's arrow pages or steps by what the pane showed last: lay the pane out
             * after each key (else → → → skips a page and opens the answer field) */
            if (dirty && lesson_ui_player(a)) { frame(a, &rc); dirty = false; }
            if (app_handle(a, &ev) != KR_IGNORED) dirty = true;
        }
    }
    a->sc->busy_cb = NULL;
    a->sc->busy_ud = NULL;
    if (scene_busy(a->sc)) scene_prefill_stop(a->sc);
    a->sc->chunked = false;
    canvas_free(c);
    term_close(t);
    return true;
}
