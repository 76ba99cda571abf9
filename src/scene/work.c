/* The scene's work in pieces (see Scene.chunked in scene.h): a prompt's prefill, the re-run
 * after an ablation, compare slot B catching up with A, and a model load on a worker thread.
 * The UI loop calls scene_prefill_tick between frames; Esc calls scene_prefill_stop. */
#include "core/i18n.h"
#include "core/path.h"
#include "scene/scene_int.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool scene_busy(const Scene *sc) { return sc->job.kind != SCENE_JOB_NONE; }

static bool any_pending(const Scene *sc) {
    for (int i = 0; i < sc->n_ses; i++)
        if (session_pending(sc->ses[i])) return true;
    return false;
}

bool scene_begin_work(Scene *sc, SceneJob kind, const char *done_msg, Err *e) {
    if (!any_pending(sc)) return true;
    if (sc->chunked) {
        sc->job.kind = kind;
        sc->job.t0 = now_ms();
        sc->job.ran = 0;
        if (sc->job.chunk <= 0) sc->job.chunk = SCENE_PREFILL_PIECE_MIN;
        if (sc->job.dchunk <= 0) sc->job.dchunk = 1;
        snprintf(sc->job.done_msg, sizeof sc->job.done_msg, "%s", done_msg ? done_msg : "");
        return scene_prefill_tick(sc, -1, e);   /* -1: no piece yet, only the status line */
    }
    for (int i = 0; i < sc->n_ses; i++) {
        Err e2 = {0};
        while (session_pending(sc->ses[i]))
            if (session_work_some(sc->ses[i], 0, &e2) < 0)
                return scene_fail(sc, e, "%s%s", scene_tag(sc, i), e2.msg[0] ? e2.msg : tr("cannot run the prefill"));
    }
    if (done_msg) scene_status(sc, false, "%s", done_msg);
    return true;
}

/* The next piece after one of `ran` tokens took `ms`: about a quarter of a second, so keys are
 * read and Esc is answered that often. Decode steps: 1 to 64. Prompt tokens: 16 to 256, never
 * fewer than the first piece: a prefill piece costs a fixed part (every weight matrix is read
 * once, as in a decode step) plus a part per token, so a piece cut below ~16 tokens on a slow
 * or loaded machine runs at decode speed, takes as long, and the next is cut again (Qwen3-0.6B
 * at load 8 on 2 cores: 17 tok/s on the first piece, 3 tok/s once the pieces had shrunk to 1-2
 * tokens, 9-13 tok/s with this floor; a traced prefill in one call ran at 27 tok/s). There a
 * piece takes longer than 0.25 s and Esc waits for its end. */
int scene_piece_size(int ran, double ms, bool decode) {
    const int lo = decode ? 1 : SCENE_PREFILL_PIECE_MIN, hi = decode ? 64 : 256;
    double c = ms > 0 ? (double)ran * 250.0 / ms : hi;
    return c < lo ? lo : c > hi ? hi : (int)c;
}

static void progress(Scene *sc) {
    int side = 0;
    for (int i = 0; i < sc->n_ses; i++)
        if (session_pending(sc->ses[i])) { side = i; break; }
    int done = 0, total = 0;
    session_work_progress(sc->ses[side], &done, &total);
    double secs = (now_ms() - sc->job.t0) / 1e3, rate = secs > 0 ? sc->job.ran / secs : 0.0;
    switch (sc->job.kind) {
    case SCENE_JOB_RERUN:
        scene_status(sc, false, "%sre-run with the ablation %d/%d tokens, %.0f tok/s: Esc stops", scene_tag(sc, side), done, total, rate);
        break;
    case SCENE_JOB_FOLLOW:
        scene_status(sc, false, "B: catching up with A %d/%d tokens, %.0f tok/s: Esc stops", done, total, rate);
        break;
    default: scene_status(sc, false, "prefill %d/%d tokens, %.0f tok/s: Esc stops", done, total, rate); break;
    }
}

static bool load_poll(Scene *sc, bool wait, Err *e);

bool scene_prefill_tick(Scene *sc, int max_tokens, Err *e) {
    if (!sc->job.kind) return false;
    if (sc->job.kind == SCENE_JOB_LOAD) return load_poll(sc, false, e);
    if (max_tokens < 0) { progress(sc); return true; }
    double t = now_ms();
    bool decode = false;   /* the phase the piece is sized for: the first pending session's */
    for (int i = 0; i < sc->n_ses; i++)
        if (session_pending(sc->ses[i])) { decode = session_prefilled(sc->ses[i]); break; }
    int n = max_tokens > 0 ? max_tokens : decode ? sc->job.dchunk : sc->job.chunk, ran = 0;
    for (int i = 0; i < sc->n_ses; i++) {
        Err e2 = {0};
        if (!session_pending(sc->ses[i])) continue;
        int k = session_work_some(sc->ses[i], n, &e2);
        if (k < 0) {
            sc->job.kind = SCENE_JOB_NONE;
            return scene_fail(sc, e, "%s%s", scene_tag(sc, i), e2.msg[0] ? e2.msg : tr("cannot run the prefill"));
        }
        if (k > ran) ran = k;
    }
    sc->job.ran += ran;
    double dt = now_ms() - t;
    sc->job.last_ms = dt;
    if (max_tokens <= 0 && dt > 0 && ran > 0) {   /* the next piece: about a quarter of a second */
        if (decode) sc->job.dchunk = scene_piece_size(ran, dt, true);
        else sc->job.chunk = scene_piece_size(ran, dt, false);
    }
    if (any_pending(sc)) { progress(sc); return true; }
    SceneJob kind = (SceneJob)sc->job.kind;
    sc->job.kind = SCENE_JOB_NONE;
    if (sc->job.done_msg[0]) scene_status(sc, false, "%s", sc->job.done_msg);
    else if (kind == SCENE_JOB_PREFILL) scene_status(sc, false, "prompt set: %d tokens", session_n_prompt(sc->ses[0]));
    return true;
}

void scene_prefill_stop(Scene *sc) {
    scene_note(sc, "prefill_stop");
    SceneJob kind = (SceneJob)sc->job.kind;
    if (!kind) return;
    sc->job.kind = SCENE_JOB_NONE;
    if (kind == SCENE_JOB_LOAD) {
        scene_load_abandon(sc);
        scene_status(sc, false, "model load stopped: nothing changed");
        return;
    }
    if (kind == SCENE_JOB_FOLLOW) {   /* B was not there before: compare mode as it was */
        scene_set_session(sc, 1, NULL, false);
        scene_status(sc, false, "compare model stopped before it caught up with A: compare mode off");
        return;
    }
    int done = 0, total = 0, kept = 0;
    bool in_prompt = false;
    for (int i = 0; i < sc->n_ses; i++) {
        Err e2 = {0};
        if (!session_pending(sc->ses[i])) continue;
        if (!done && !total) {
            session_work_progress(sc->ses[i], &done, &total);
            in_prompt = !session_prefilled(sc->ses[i]);
        }
        int k = session_work_stop(sc->ses[i], &e2);
        if (!kept) kept = k;
    }
    if (in_prompt) total = kind == SCENE_JOB_PREFILL ? total : session_n_prompt(sc->ses[0]) > total ? session_n_prompt(sc->ses[0]) : total;
    if (kind == SCENE_JOB_RERUN) {
        if (kept) scene_status(sc, false, "re-run stopped: %d of %d tokens recomputed with the ablation are kept, the rest dropped", kept, total);
        else scene_status(sc, false, "re-run stopped before any token ran: n runs the prompt with the ablation");
        return;
    }
    if (kept) scene_status(sc, false, "prefill stopped: the prompt is now its first %d of %d tokens", kept, total);
    else scene_status(sc, false, "prefill stopped before any token ran: n runs it");
}

bool scene_settle(Scene *sc, Err *e) {
    if (sc->job.kind == SCENE_JOB_LOAD && !load_poll(sc, true, e)) return false;
    while (sc->job.kind)
        if (!scene_prefill_tick(sc, 256, e)) return false;
    return true;
}

/* ---- a model load on a worker thread -------------------------------------------------------------- */

/* session_new reads the model, tokenizer and sets up the engine; it touches no state that the
 * UI thread reads, and no engine runs on it (the kernel pool is for one thread at a time). */
enum { LOAD_RUNNING = 0, LOAD_DONE, LOAD_ABANDONED };
typedef struct SceneLoad {
    pthread_t th;
    atomic_int state;
    int slot, max_ctx;
    double t0;
    char path[1024];
    Session *s;
    Err err;
} SceneLoad;

static atomic_int g_loads;

int scene_loads_running(void) { return atomic_load(&g_loads); }

int scene_load_slot(const Scene *sc) { return sc->load ? sc->load->slot : -1; }

static void *load_main(void *arg) {
    SceneLoad *L = arg;
    L->s = session_new(L->path, L->max_ctx, &L->err);
    int expect = LOAD_RUNNING;
    if (!atomic_compare_exchange_strong(&L->state, &expect, LOAD_DONE)) {   /* abandoned: ours to free */
        session_free(L->s);
        free(L);
    }
    atomic_fetch_sub(&g_loads, 1);
    return NULL;
}

bool scene_load_start(Scene *sc, int slot, const char *path, int max_ctx, Err *e) {
    SceneLoad *L = calloc(1, sizeof *L);
    if (!L) return scene_fail(sc, e, "out of memory");
    L->slot = slot;
    L->max_ctx = max_ctx;
    L->t0 = now_ms();
    snprintf(L->path, sizeof L->path, "%s", path);
    atomic_init(&L->state, LOAD_RUNNING);
    atomic_fetch_add(&g_loads, 1);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&L->th, &at, load_main, L);
    pthread_attr_destroy(&at);
    if (rc) {   /* no thread: load here */
        atomic_fetch_sub(&g_loads, 1);
        Session *s = session_new(L->path, max_ctx, &L->err);
        Err e2 = L->err;
        free(L);
        if (!s) return scene_fail(sc, e, "%s", e2.msg[0] ? e2.msg : tr("cannot load the model"));
        return scene_load_finish(sc, slot, path, s, e);
    }
    sc->load = L;
    sc->job.kind = SCENE_JOB_LOAD;
    sc->job.t0 = L->t0;
    return load_poll(sc, false, e);
}

void scene_load_abandon(Scene *sc) {
    SceneLoad *L = sc->load;
    if (!L) return;
    sc->load = NULL;
    if (sc->job.kind == SCENE_JOB_LOAD) sc->job.kind = SCENE_JOB_NONE;
    int expect = LOAD_RUNNING;
    if (!atomic_compare_exchange_strong(&L->state, &expect, LOAD_ABANDONED)) {   /* it had finished */
        session_free(L->s);
        free(L);
    }
}

static bool load_poll(Scene *sc, bool wait, Err *e) {
    SceneLoad *L = sc->load;
    if (!L) { sc->job.kind = SCENE_JOB_NONE; return false; }
    while (atomic_load(&L->state) != LOAD_DONE) {
        if (!wait) {
            char nm[256];
            scene_status(sc, false, "loading %s: %.1f s, Esc stops", path_base_name(L->path, true, nm, sizeof nm), (now_ms() - L->t0) / 1e3);
            return true;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sc->load = NULL;
    sc->job.kind = SCENE_JOB_NONE;
    Session *s = L->s;
    Err e2 = L->err;
    int slot = L->slot;
    char path[1024];
    snprintf(path, sizeof path, "%s", L->path);
    free(L);
    if (!s) return scene_fail(sc, e, "%s", e2.msg[0] ? e2.msg : tr("cannot load the model"));
    return scene_load_finish(sc, slot, path, s, e);
}
