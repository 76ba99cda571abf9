/* Never freeze (issue 13): the work a chunked scene does in pieces between frames — the re-run
 * after an ablation, compare slot B catching up with A, a model load on a worker thread, compare
 * mode's loss/KL — gives what one run gives, and a stop (Esc) leaves a consistent scene. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include "work_fx.h"
#include "analysis/compare.h"
#include "analysis/derived.h"
#include "analysis/embedmap.h"
#include "lesson/lesson.h"
#include "model/model.h"
#include "scene/scene.h"
#include "tui/app.h"
#include "tui/canvas.h"
#include "tui/theme.h"

#define MA "assets/models/story-gqa"
#define MB "assets/models/story-mha"
#define MG "assets/models/story-gpt2"
#define TEXT "Once upon a time there was a little girl named Lily. She loved to play outside in the sun."

/* Largest difference of the recorded residuals of two sessions over positions [0, n); -1 when
 * an id, next id or phase differs. */
static double trace_diff(const Session *a, const Session *b, int n) {
    const int D = session_model(a)->spec.d_model, L = session_model(a)->spec.n_layers;
    double worst = 0;
    for (int p = 0; p < n; p++) {
        const TraceTok *x = trace_tok(session_trace(a), p), *y = trace_tok(session_trace(b), p);
        if (!x || !y || x->id != y->id || x->next_id != y->next_id || x->phase != y->phase) return -1;
        for (int i = 0; i < (L + 1) * D; i++) worst = fmax(worst, fabs((double)x->resid[i] - (double)y->resid[i]));
    }
    return worst;
}

/* A session on TEXT, prefilled, `more` tokens decoded, the cursor at `cursor`. */
static Session *ready(const char *model, int more, int cursor, Err *e) {
    Session *s = session_new(model, 0, e);
    if (!s) return NULL;
    bool ok = session_set_prompt(s, TEXT, e) && session_step(s, e);
    for (int i = 0; ok && i < more; i++) ok = session_step(s, e);
    if (ok) ok = session_goto(s, cursor);
    if (!ok) { session_free(s); return NULL; }
    return s;
}



TEST(rerun_after_ablation_in_pieces_equals_one_run) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Session *a = ready(MA, 6, 5, &e), *b = ready(MA, 6, 5, &e), *c = ready(MA, 6, 5, &e);
    REQUIRE(a && b && c);
    const int len = session_len(a), np = session_n_prompt(a);
    CHECK(len == np + 6);
    REQUIRE(session_set_ablation(a, 1, 2, &e));                 /* at once */
    REQUIRE(session_set_ablation_begin(b, 1, 2, &e));           /* in pieces of 3 */
    CHECK(session_pending(b));
    CHECK_EQ_INT(session_len(b), 0);
    int pieces = 0;
    while (session_pending(b)) {
        int done = 0, total = 0;
        session_work_progress(b, &done, &total);
        CHECK_EQ_INT(total, len);
        REQUIRE(session_work_some(b, 3, &e) > 0);
        pieces++;
    }
    CHECK_EQ_INT(pieces, (np + 2) / 3 + 2);      /* the prompt in pieces of 3, then 6 decode steps in 2 */
    CHECK_EQ_INT(session_len(b), len);
    CHECK_EQ_INT(session_n_ids(b), session_n_ids(a));
    CHECK_EQ_INT(session_cursor(b), 5);
    CHECK_EQ_INT(session_cursor(a), 5);
    double d = trace_diff(a, b, len);
    CHECK_MSG(d >= 0 && d < 1e-4, "pieces differ from one run: %g", d);
    /* the check can fail: without the ablation the residuals after layer 1 differ */
    double d0 = trace_diff(a, c, np);
    CHECK_MSG(d0 < 0 || d0 > 1e-3, "the ablation changed nothing (%g)", d0);
    /* the ids are those of the run before (teacher-forced), the next token is the ablated model's */
    for (int i = 0; i < len; i++) CHECK_EQ_INT(session_ids(b)[i], session_ids(c)[i]);
    session_free(a); session_free(b); session_free(c);
}

TEST(scene_rerun_stopped_leaves_a_consistent_scene) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Session *ref = ready(MA, 6, 0, &e);
    REQUIRE(ref && session_set_ablation(ref, 1, 2, &e));       /* the whole re-run */
    const int np = session_n_prompt(ref);
    for (int stop_at = 0; stop_at < 3; stop_at++) {
        Session *s = ready(MA, 6, np + 4, &e);
        REQUIRE(s);
        Scene *sc = scene_new();
        REQUIRE(sc);
        scene_set_session(sc, 0, s, true);
        sc->chunked = true;
        REQUIRE(scene_set_ablation(sc, -1, 1, 2, &e));
        CHECK(scene_busy(sc));
        CHECK_EQ_INT(sc->job.kind, SCENE_JOB_RERUN);
        CHECK_MSG(strstr(sc->msg, "re-run") && strstr(sc->msg, "Esc"), "status: %s", sc->msg);
        /* 0: stopped inside the prompt; 1: after the prompt and 2 decode steps; 2: to the end */
        if (stop_at == 0) REQUIRE(scene_prefill_tick(sc, 5, &e));
        if (stop_at >= 1) { REQUIRE(scene_prefill_tick(sc, np, &e)); REQUIRE(scene_prefill_tick(sc, 2, &e)); }
        if (stop_at == 2) REQUIRE(work_tick_while(sc, SCENE_JOB_RERUN, &e));
        int kept = stop_at == 0 ? 5 : stop_at == 1 ? np + 2 : np + 6;
        scene_prefill_stop(sc);
        CHECK(!scene_busy(sc));
        CHECK(!session_pending(s));
        CHECK_EQ_INT(session_len(s), kept);
        CHECK_EQ_INT(session_n_ids(s), kept);
        CHECK_EQ_INT(session_ablate_layer(s), 1);
        CHECK_EQ_INT(session_ablate_head(s), 2);
        CHECK(session_cursor(s) >= 0 && session_cursor(s) < kept);
        if (stop_at == 1) CHECK_EQ_INT(session_cursor(s), kept - 1);   /* it was at np + 4, now dropped */
        if (stop_at == 2) CHECK_EQ_INT(session_cursor(s), np + 4);
        if (stop_at == 0) CHECK_EQ_INT(session_n_prompt(s), 5);
        if (stop_at < 2) CHECK_MSG(strstr(sc->msg, "stopped"), "status: %s", sc->msg);
        /* what was kept is what the whole re-run computed */
        double d = trace_diff(ref, s, kept - 1);
        CHECK_MSG(d >= 0 && d < 1e-4, "stop %d: kept tokens differ from the whole re-run: %g", stop_at, d);
        /* and the scene goes on: the next step decodes from there */
        REQUIRE(scene_goto(sc, 0, -1, &e));
        REQUIRE(scene_step(sc, &e));
        CHECK_EQ_INT(session_len(s), kept + 1);
        CHECK_EQ_INT(trace_tok(session_trace(s), kept)->phase, PHASE_DECODE);
        scene_free(sc);
    }
    session_free(ref);
}

TEST(compare_slot_b_loads_on_a_worker_and_catches_up_in_pieces) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(MB "/model.safetensors")) SKIP("story models not available");
    /* the reference: a headless scene does it at once */
    Scene *h = scene_new(), *sc = scene_new();
    REQUIRE(h && sc);
    REQUIRE(scene_load_model(h, 0, MA, &e) && scene_set_prompt(h, TEXT, true, &e));
    for (int i = 0; i < 4; i++) REQUIRE(scene_step(h, &e));
    REQUIRE(scene_goto(h, 0, 7, &e));
    REQUIRE(scene_load_model(h, 1, MB, &e));
    CHECK(!scene_busy(h));
    REQUIRE(h->n_ses == 2);

    REQUIRE(scene_load_model(sc, 0, MA, &e) && scene_set_prompt(sc, TEXT, true, &e));
    for (int i = 0; i < 4; i++) REQUIRE(scene_step(sc, &e));
    REQUIRE(scene_goto(sc, 0, 7, &e));
    sc->chunked = true;
    /* Esc while loading: nothing changes, the worker's session is freed when it ends */
    REQUIRE(scene_load_model(sc, 1, MB, &e));
    CHECK_EQ_INT(sc->job.kind, SCENE_JOB_LOAD);
    CHECK_EQ_INT(sc->n_ses, 1);
    CHECK_MSG(strstr(sc->msg, "loading") && strstr(sc->msg, "Esc"), "status: %s", sc->msg);
    scene_prefill_stop(sc);
    CHECK(!scene_busy(sc));
    CHECK_EQ_INT(sc->n_ses, 1);
    /* Esc while B catches up: compare mode off, A untouched */
    REQUIRE(scene_load_model(sc, 1, MB, &e));
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    CHECK_EQ_INT(sc->job.kind, SCENE_JOB_FOLLOW);
    CHECK_EQ_INT(sc->n_ses, 2);
    REQUIRE(scene_prefill_tick(sc, 4, &e));
    CHECK_MSG(strstr(sc->msg, "B: ") && strstr(sc->msg, "4/"), "status: %s", sc->msg);
    scene_prefill_stop(sc);
    CHECK(!scene_busy(sc));
    CHECK_EQ_INT(sc->n_ses, 1);
    CHECK(sc->ses[1] == NULL);
    CHECK_EQ_INT(session_cursor(sc->ses[0]), 7);
    /* to the end, in pieces: B as the headless scene has it */
    REQUIRE(scene_load_model(sc, 1, MB, &e));
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    int pieces = 0;
    while (scene_busy(sc)) { REQUIRE(scene_prefill_tick(sc, 3, &e)); pieces++; }
    CHECK(pieces > 3);
    REQUIRE(sc->n_ses == 2);
    const Session *b = sc->ses[1], *hb = h->ses[1];
    CHECK_EQ_INT(session_len(b), session_len(hb));
    CHECK_EQ_INT(session_cursor(b), 7);
    CHECK_EQ_INT(session_cursor(hb), 7);
    CHECK_EQ_INT(session_n_ids(b), session_n_ids(hb));
    double d = trace_diff(b, hb, session_len(b));
    CHECK_MSG(d >= 0 && d < 1e-4, "B in pieces differs from B at once: %g", d);
    CHECK_MSG(strstr(sc->msg, "loaded"), "status: %s", sc->msg);

    /* slot A from F3: loads on the worker, then A's prompt is prefilled in pieces, B follows */
    REQUIRE(scene_load_model(sc, 0, MB, &e));
    CHECK_EQ_INT(sc->job.kind, SCENE_JOB_LOAD);
    REQUIRE(work_tick_while(sc, SCENE_JOB_LOAD, &e));
    CHECK_EQ_INT(sc->job.kind, SCENE_JOB_PREFILL);
    while (scene_busy(sc)) REQUIRE(scene_prefill_tick(sc, 0, &e));
    CHECK(session_prefilled(sc->ses[0]) && session_prefilled(sc->ses[1]));
    CHECK_STR(session_model_path(sc->ses[0]), MB);
    CHECK_STR(session_prompt(sc->ses[0]), TEXT);
    /* a model that does not load: an error, and the scene as it was */
    REQUIRE(!scene_load_model(sc, 1, "assets/models/no-such-model", &e) || work_tick_while(sc, SCENE_JOB_LOAD, &e) || true);
    CHECK(!scene_busy(sc));
    CHECK(sc->msg_error);
    CHECK_EQ_INT(sc->n_ses, 2);
    for (int i = 0; i < 2000 && scene_loads_running(); i++) work_sleep_ms(5);
    CHECK_EQ_INT(scene_loads_running(), 0);
    scene_free(sc);
    scene_free(h);
}

TEST(compare_in_pieces_equals_one_run) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(MB "/model.safetensors")) SKIP("story models not available");
    Session *a = ready(MA, 3, 0, &e), *b = ready(MB, 0, 0, &e);
    REQUIRE(a && b);
    const int n = session_n_ids(a);
    CompareCache whole = {0}, pieces = {0};
    const CompareResult *r = compare_cached(&whole, session_model(a), session_model(b), session_ids(a), n, &e);
    REQUIRE(r);
    CHECK(!compare_cached_some(&pieces, session_model(a), session_model(b), session_ids(a), n, -1, &e));
    CHECK(pieces.running);
    const CompareResult *q = NULL;
    int calls = 0;
    while (!q && calls < 1000) {
        q = compare_cached_some(&pieces, session_model(a), session_model(b), session_ids(a), n, 4, &e);
        calls++;
        if (!q) { REQUIRE(pieces.running); CHECK(pieces.run.scored <= n - 1); }
    }
    REQUIRE(q);
    CHECK(calls >= (n - 1) / 4);
    CHECK_EQ_INT(q->n, r->n);
    double worst = 0;
    for (int i = 0; i < r->n; i++) {
        worst = fmax(worst, fabs(q->loss_a[i] - r->loss_a[i]));
        worst = fmax(worst, fabs(q->loss_b[i] - r->loss_b[i]));
        worst = fmax(worst, fabs(q->kl_ab[i] - r->kl_ab[i]));
    }
    CHECK_MSG(worst < 1e-4, "pieces differ by %g nats", worst);
    CHECK_NEAR(q->mean_kl_ab, r->mean_kl_ab, 1e-5);
    CHECK(r->mean_kl_ab > 1e-3);                    /* two different models: the check means something */
    /* a changed text starts over */
    CHECK(!compare_cached_some(&pieces, session_model(a), session_model(b), session_ids(a), n - 1, -1, &e));
    CHECK(pieces.running);
    compare_cache_free(&whole);
    compare_cache_free(&pieces);
    session_free(a); session_free(b);
}

/* The Embeddings panel's vocabulary index built on a worker: the same neighbours as built at once. */
TEST(vocab_index_on_a_worker_gives_the_same_neighbours) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Model *m = model_load(MA, false, &e);
    REQUIRE(m);
    DerivedCache a, b;
    derived_cache_init(&a);
    derived_cache_init(&b);
    int na = derived_neighbours(&a, m, 42);
    CHECK(na > 0);
    CHECK(derived_vocab_prepare(&a, m));             /* built at once above: ready */
    bool ready = derived_vocab_prepare(&b, m);
    CHECK(!ready);                                   /* started on a worker */
    for (int i = 0; i < 4000 && !ready; i++) { work_sleep_ms(2); ready = derived_vocab_prepare(&b, m); }
    REQUIRE(ready);
    CHECK(!derived_background_busy());
    int nb = derived_neighbours(&b, m, 42);
    CHECK_EQ_INT(nb, na);
    for (int i = 0; i < na && i < nb; i++) { CHECK_EQ_INT(b.nn_ids[i], a.nn_ids[i]); CHECK_NEAR(b.nn_sim[i], a.nn_sim[i], 1e-6); }
    /* a cache dropped while its build runs waits for it (nothing leaks) */
    DerivedCache c;
    derived_cache_init(&c);
    CHECK(!derived_vocab_prepare(&c, m));
    derived_cache_done(&c);
    CHECK(!derived_background_busy());
    derived_cache_done(&a);
    derived_cache_done(&b);
    model_free(m);
}

/* Bit-equal PCA axes (the worker runs the same code on the same rows). */
static bool axes_equal(const PcaAxes *a, const PcaAxes *b) {
    if (!a || !b || a->d != b->d || a->n_fit != b->n_fit) return false;
    if (memcmp(a->explained, b->explained, sizeof a->explained)) return false;
    return !memcmp(a->mean, b->mean, sizeof(double) * (size_t)a->d) && !memcmp(a->comp, b->comp, sizeof(double) * 2 * (size_t)a->d);
}

/* The Embeddings panel's vocabulary map (key v) fitted on a worker thread: it equals the one
 * fitted at once and the one vocab_map_fit gives; a cache dropped during the fit waits for it;
 * a model may be freed once derived_wait_model_readers returns (the worker only reads its copy
 * of the rows then; ASan would see a read of the freed model); in the App the panel says what
 * it is doing, a key is answered meanwhile, and the map is drawn once the fit ends. */
TEST(vocab_map_on_a_worker_equals_one_fit) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Model *m = model_load(MA, false, &e);
    REQUIRE(m);
    const int n_fit = 1000;                          /* fewer than the vocabulary: the first rows */
    VocabIndex *vi = vocab_index_new(&m->w.tok_emb, &e);
    REQUIRE(vi);
    PcaAxes ref;
    REQUIRE(vocab_map_fit(vi, n_fit, &ref, &e));
    CHECK_EQ_INT(ref.n_fit, n_fit);
    DerivedCache a, b;
    derived_cache_init(&a);
    derived_cache_init(&b);
    const PcaAxes *pa = derived_vocab_map(&a, m, n_fit);   /* at once */
    CHECK(pa && axes_equal(pa, &ref));
    CHECK(derived_vocab_map_prepare(&a, m, n_fit));        /* ready */
    bool ready = derived_vocab_map_prepare(&b, m, n_fit);
    CHECK(!ready);                                         /* the index, then the fit, on workers */
    int polls = 0;
    for (; polls < 20000 && !ready; polls++) { work_sleep_ms(1); ready = derived_vocab_map_prepare(&b, m, n_fit); }
    REQUIRE(ready);
    CHECK(!derived_background_busy());
    CHECK(b.map_job == NULL && b.map_done && b.map_ok);
    const PcaAxes *pb = derived_vocab_map(&b, m, n_fit);
    CHECK(pb == &b.map);
    CHECK(pb && axes_equal(pb, &ref));
    /* another n_fit is another map (the whole vocabulary here) */
    const PcaAxes *pall = derived_vocab_map(&b, m, 0);
    CHECK(pall && pall->n_fit == m->spec.vocab_size);
    /* dropped while the index or the fit runs: waits for them, nothing leaks */
    for (int stage = 0; stage < 2; stage++) {
        DerivedCache c;
        derived_cache_init(&c);
        if (stage == 1) { CHECK(derived_vocab(&c, m) != NULL); }   /* index ready: the fit starts at once */
        CHECK(!derived_vocab_map_prepare(&c, m, n_fit));
        if (stage == 1) CHECK(c.map_job != NULL);
        derived_cache_done(&c);
        CHECK(!derived_background_busy());
    }
    /* a second copy of the model, freed while the fit may still run */
    Model *m2 = model_load(MA, false, &e);
    REQUIRE(m2);
    DerivedCache d;
    derived_cache_init(&d);
    CHECK(derived_vocab(&d, m2) != NULL);
    CHECK(!derived_vocab_map_prepare(&d, m2, 0));          /* the whole vocabulary: the longest fit */
    derived_wait_model_readers();
    model_free(m2);
    for (int i = 0; i < 20000 && derived_background_busy(); i++) work_sleep_ms(1);
    CHECK(!derived_background_busy());
    CHECK(d.map_job != NULL);                              /* finished, not yet joined */
    derived_cache_done(&d);                                /* joins; the map (for a freed model) is dropped */
    derived_cache_done(&a);
    derived_cache_done(&b);
    pca_axes_done(&ref);
    vocab_index_free(vi);
    model_free(m);

    /* in the App, as the terminal UI runs it (chunked) */
    App *app = app_new();
    REQUIRE(app);
    Session *s = session_new(MA, 0, &e);
    REQUIRE(s);
    app_set_session(app, 0, s, true);
    REQUIRE(session_set_prompt(s, TEXT, &e) && session_step(s, &e));
    app->sc->chunked = true;
    Canvas *cv = canvas_new(100, 30);
    REQUIRE(cv);
    REQUIRE(scene_show_panel(app->sc, PANEL_EMBEDDINGS, &e));
    TuiEvent v = {.key = 'v'};
    app_handle(app, &v);
    CHECK_EQ_INT(app->sc->view.emb_map, 1);
    app_render(app, cv);
    char *txt = canvas_to_text(cv);
    CHECK_MSG(txt && (strstr(txt, "indexing the vocabulary") || strstr(txt, "fitting the vocabulary map")), "first frame:\n%s", txt ? txt : "");
    free(txt);
    TuiEvent prev = {.key = ','};
    app_handle(app, &prev);                                /* answered while the work runs */
    CHECK(app->sc->view.emb_sel >= 0);
    CHECK(!app->quit);
    bool drawn = false;
    for (int i = 0; i < 20000 && !drawn; i++) {
        app_render(app, cv);
        txt = canvas_to_text(cv);
        drawn = txt && strstr(txt, "vocabulary map: PCA of ");
        free(txt);
        if (!drawn) work_sleep_ms(1);
    }
    CHECK(drawn);
    CHECK(!derived_background_busy());
    canvas_free(cv);
    app_free(app);
}

/* Waits (up to 20 s) until no job runs on a worker thread. */
static bool background_idle(void) {
    for (int i = 0; i < 20000 && derived_background_busy(); i++) work_sleep_ms(1);
    return !derived_background_busy();
}

static const char *last_action(const Scene *sc) {
    int k = sc->n_trail < SCENE_TRAIL ? sc->n_trail : SCENE_TRAIL;
    return k > 0 ? sc->trail[k - 1] : "";
}


/* Cancelling the vocabulary index and the map fit: the worker stops at its next check and keeps
 * nothing (ASan sees a leak), the cache is as before the job, and the next prepare starts it
 * again and gives what a run to the end gives. derived_background_pause holds a job at its
 * start so that the cancel surely finds it running. */
TEST(vocab_work_cancelled_starts_again) {
    Err e = {0};
    /* the analysis functions themselves, told to stop from the start */
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Model *m = model_load(MA, false, &e);
    REQUIRE(m);
    atomic_bool stop;
    atomic_init(&stop, true);
    CHECK(vocab_index_build(&m->w.tok_emb, &stop, &e) == NULL && strstr(e.msg, "cancelled"));
    err_clear(&e);
    VocabIndex *vi = vocab_index_new(&m->w.tok_emb, &e);
    REQUIRE(vi);
    int n = 0;
    CHECK(vocab_map_rows(vi, 1000, &n, &stop, &e) == NULL && n == 0 && strstr(e.msg, "cancelled"));
    err_clear(&e);
    float *X = vocab_map_rows(vi, 1000, &n, NULL, &e);
    REQUIRE(X);
    PcaAxes ax;
    CHECK(!vocab_map_fit_rows(X, n, vocab_index_dim(vi), &ax, &stop, &e) && strstr(e.msg, "cancelled"));
    CHECK(ax.mean == NULL && ax.comp == NULL);
    free(X);
    PcaAxes ref;
    REQUIRE(vocab_map_fit(vi, 1000, &ref, &e));
    vocab_index_free(vi);

    /* the index build, held at its start, cancelled */
    DerivedCache c;
    derived_cache_init(&c);
    int want = derived_neighbours(&c, m, 42), want_ids[DERIVED_NN];
    memcpy(want_ids, c.nn_ids, sizeof want_ids);
    derived_cache_done(&c);
    derived_cache_init(&c);
    derived_background_pause(true);
    CHECK(!derived_vocab_prepare(&c, m));
    CHECK(derived_background_busy());
    CHECK_EQ_INT(derived_background_cancel(), 1);
    CHECK_EQ_INT(derived_background_cancel(), 0);        /* already stopping */
    CHECK(background_idle());
    CHECK(!derived_vocab_ready(&c, m));                   /* nothing kept, nothing started */
    CHECK(c.job == NULL && c.vi == NULL && c.nn_model == NULL);
    CHECK(!derived_background_busy());
    derived_background_pause(false);
    bool ready = derived_vocab_prepare(&c, m);            /* started again */
    CHECK(!ready);
    for (int i = 0; i < 4000 && !ready; i++) { work_sleep_ms(2); ready = derived_vocab_prepare(&c, m); }
    REQUIRE(ready);
    CHECK_EQ_INT(derived_neighbours(&c, m, 42), want);
    CHECK(!memcmp(c.nn_ids, want_ids, sizeof(int) * (size_t)want));
    /* the map fit (the index is ready), held, cancelled, started again */
    derived_background_pause(true);
    CHECK(!derived_vocab_map_prepare(&c, m, 1000));
    CHECK(c.map_job != NULL);
    CHECK_EQ_INT(derived_background_cancel(), 1);
    CHECK(background_idle());
    CHECK(!derived_vocab_map_ready(&c, m, 1000));
    CHECK(c.map_job == NULL && !c.map_done);
    CHECK(c.vi != NULL);                                  /* the index stays */
    derived_background_pause(false);
    ready = derived_vocab_map_prepare(&c, m, 1000);
    CHECK(!ready);
    for (int i = 0; i < 20000 && !ready; i++) { work_sleep_ms(1); ready = derived_vocab_map_prepare(&c, m, 1000); }
    REQUIRE(ready);
    const PcaAxes *got = derived_vocab_map(&c, m, 1000);
    CHECK(got && axes_equal(got, &ref));
    /* a cache dropped while its job is held: the job is told to stop, the drop does not wait for the pause */
    DerivedCache d;
    derived_cache_init(&d);
    derived_background_pause(true);
    CHECK(!derived_vocab_prepare(&d, m));
    derived_cache_done(&d);
    CHECK(!derived_background_busy());
    derived_background_pause(false);
    derived_cache_done(&c);
    pca_axes_done(&ref);
    model_free(m);
}

/* The two Embeddings-work tests' start: the App with MA's session, the prompt's first step run,
 * chunked as in the terminal, on the Embeddings panel, and a 100x30 canvas in *cv. NULL (the test
 * failed, nothing left allocated) when one of them could not be made. */
static App *emb_work_app(TestCtx *T_, Canvas **cv) {
    Err e = {0};
    App *app = app_new();
    Session *s = app ? session_new(MA, 0, &e) : NULL;
    if (s) app_set_session(app, 0, s, true);        /* the App owns it from here */
    bool ok = s && session_set_prompt(s, TEXT, &e) && session_step(s, &e);
    if (ok) app->sc->chunked = true;
    *cv = ok ? canvas_new(100, 30) : NULL;
    ok = ok && *cv && scene_show_panel(app->sc, PANEL_EMBEDDINGS, &e);
    if (!ok) {
        FAILF("the Embeddings panel on %s: %s", MA, e.msg[0] ? e.msg : "out of memory");
        canvas_free(*cv);
        *cv = NULL;
        app_free(app);
        return NULL;
    }
    return app;
}

/* Esc while the Embeddings panel's work runs (the App, chunked as in the terminal): the keymap's
 * KEYMAP_WORKING row makes it work.cancel, the status line says what was cancelled, the panel
 * starts nothing more (and shows what needs no index), and v starts it again; with nothing
 * running Esc is the panel's own (embeddings.off). Both phases: the index build, the map fit. */
TEST(esc_cancels_the_embeddings_work) {
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Err e = {0};
    Canvas *cv = NULL;
    App *app = emb_work_app(T_, &cv);
    REQUIRE(app);
    Scene *sc = app->sc;
    TuiEvent v = {.key = 'v'}, esc = {.key = TK_ESC};
    /* 1. the index build (the map asked for) */
    derived_background_pause(true);
    app_handle(app, &v);
    CHECK(work_screen_has(app, cv, "indexing the vocabulary"));
    CHECK(work_screen_has(app, cv, "Esc cancels"));
    CHECK(derived_background_busy());
    CHECK_STR(scene_key_binding(sc, TK_ESC)->action, "work.cancel");
    app_handle(app, &esc);
    CHECK_STR(last_action(sc), "work.cancel");
    CHECK(!app->quit && sc->view.emb_map == 0 && sc->view.emb_hold);
    CHECK_MSG(strstr(sc->msg, "vocabulary map fit cancelled"), "status: %s", sc->msg);
    CHECK(background_idle());
    CHECK(work_screen_has(app, cv, "(indexing cancelled"));   /* the tokens' PCA, no neighbours */
    CHECK(work_screen_has(app, cv, "PC1"));
    CHECK(!derived_background_busy());                    /* nothing started again */
    CHECK_STR(scene_key_binding(sc, TK_ESC)->action, "embeddings.off");
    /* 2. v again: the index, then the fit, held at its start and cancelled */
    derived_background_pause(false);
    app_handle(app, &v);
    CHECK(!sc->view.emb_hold);
    CHECK_MSG(!strstr(sc->msg, "cancelled"), "status: %s", sc->msg);   /* the hint is done */
    app_render(app, cv);                                  /* starts the index build */
    CHECK(background_idle());
    derived_background_pause(true);
    CHECK(work_screen_has(app, cv, "fitting the vocabulary map"));   /* takes the index, starts the fit */
    CHECK(derived_background_busy());
    app_handle(app, &esc);
    CHECK_MSG(strstr(sc->msg, "vocabulary map fit cancelled"), "status: %s", sc->msg);
    CHECK(background_idle());
    CHECK(work_screen_has(app, cv, "tok_emb rows nearest"));
    CHECK(!work_screen_has(app, cv, "(indexing cancelled"));   /* the index is kept: neighbours shown */
    CHECK(!derived_background_busy());
    /* 3. v once more: the map is drawn */
    derived_background_pause(false);
    app_handle(app, &v);
    bool drawn = false;
    for (int i = 0; i < 20000 && !drawn; i++) { drawn = work_screen_has(app, cv, "vocabulary map: PCA of "); if (!drawn) work_sleep_ms(1); }
    CHECK(drawn);
    CHECK(!derived_background_busy());
    /* nothing running: Esc is the panel's own */
    sc->view.emb_sel = 0;
    app_handle(app, &esc);
    CHECK_STR(last_action(sc), "embeddings.off");
    CHECK(sc->view.emb_sel == -1 && sc->view.emb_map == 1);
    /* quitting while a job is held: the App is freed at once (the job is told to stop) */
    Session *s2 = session_new(MA, 0, &e);
    REQUIRE(s2);
    app_set_session(app, 0, s2, true);                    /* a new model: its index to build */
    REQUIRE(session_set_prompt(s2, TEXT, &e) && session_step(s2, &e));
    derived_background_pause(true);
    app_render(app, cv);
    CHECK(derived_background_busy());
    canvas_free(cv);
    app_free(app);
    CHECK(!derived_background_busy());
    derived_background_pause(false);
}

/* A lesson's {esc} while the Embeddings panel's work runs is the panel's Esc (follow the
 * cursor), as in lessons/02-embeddings.json's neighbours step, which waits for that very index:
 * the work goes on and nothing is held. The user's own Esc still cancels it. */
/* A job that ends before the UI asks derived_background_busy() (a small vocabulary, the UI
 * thread descheduled after its frame) is still seen: derived_background_ended() has moved since
 * the frame began, and the interactive loop draws once more (tui/app_run.c). Without it the
 * panel said "indexing the vocabulary" for good until a key came (CI, theme_contrast_tmux). */
TEST(background_job_end_is_seen_after_it_ended) {
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Canvas *cv = NULL;
    App *app = emb_work_app(T_, &cv);
    REQUIRE(app);
    unsigned before = derived_background_ended();
    CHECK(work_screen_has(app, cv, "indexing the vocabulary"));   /* the frame starts the build */
    CHECK(background_idle());                                     /* it ended: busy says nothing */
    CHECK_MSG(derived_background_ended() == before + 1, "ended %u, before %u", derived_background_ended(), before);
    CHECK(work_screen_has(app, cv, "tok_emb rows nearest"));       /* the frame it asks for */
    CHECK(derived_background_ended() == before + 1);                /* nothing started, nothing ended */
    canvas_free(cv);
    app_free(app);
}

TEST(lesson_esc_leaves_the_embeddings_work_running) {
    if (!file_exists(MA "/model.safetensors")) SKIP(MA " not available");
    Err e = {0};
    Canvas *cv = NULL;
    App *app = emb_work_app(T_, &cv);
    REQUIRE(app);
    Scene *sc = app->sc;
    static const char json[] = "{\"id\":\"x\",\"lang\":\"en\",\"title\":\"T\",\"summary\":\"S\",\"model\":\"m\","
                               "\"prompt\":\"p\",\"steps\":[{\"text\":\"x\"}]}";
    Lesson *l = lesson_parse(json, strlen(json), "esc.json", &e);
    REQUIRE(l);
    LessonPlayer *p = lesson_player_new(sc, l, ".", &e);
    REQUIRE(p);
    derived_background_pause(true);
    TuiEvent v = {.key = 'v'}, esc = {.key = TK_ESC};
    app_handle(app, &v);
    CHECK(work_screen_has(app, cv, "indexing the vocabulary"));
    CHECK(derived_background_busy());
    sc->view.emb_sel = 3;
    LessonAction ac = {.kind = LA_KEYS, .str = (char *)"{esc}"};
    CHECK_MSG(lesson_player_apply(p, &ac, &e), "%s", e.msg);
    CHECK_STR(last_action(sc), "embeddings.off");
    CHECK(sc->view.emb_sel == -1 && sc->view.emb_map == 1 && !sc->view.emb_hold);
    CHECK(derived_background_busy());                     /* still building the index */
    CHECK_MSG(!strstr(sc->msg, "cancelled"), "status: %s", sc->msg);
    app_handle(app, &esc);                                /* the user's Esc: cancels */
    CHECK_STR(last_action(sc), "work.cancel");
    CHECK(sc->view.emb_hold);
    CHECK(background_idle());
    derived_background_pause(false);
    lesson_player_free(p);
    canvas_free(cv);
    app_free(app);
}

/* Largest difference between two compare results (per-token arrays and means); -1 when their
 * lengths differ. */
static double result_diff(const CompareResult *p, const CompareResult *q) {
    if (p->n != q->n) return -1;
    double worst = fmax(fabs(p->mean_loss_a - q->mean_loss_a), fmax(fabs(p->mean_loss_b - q->mean_loss_b), fabs(p->mean_kl_ab - q->mean_kl_ab)));
    for (int i = 0; i < p->n; i++)
        worst = fmax(worst, fmax(fabs(p->loss_a[i] - q->loss_a[i]), fmax(fabs(p->loss_b[i] - q->loss_b[i]), fabs(p->kl_ab[i] - q->kl_ab[i]))));
    return worst;
}

/* compare_run on fresh engines sized to the text (what `llmscope compare` does). */
static bool reference_run(Model *ma, Model *mb, const int *ids, int n, CompareResult *out, Err *e) {
    Engine *ea = engine_new(ma, n, e), *eb = ea ? engine_new(mb, n, e) : NULL;
    bool ok = ea && eb && compare_run(ea, eb, ids, n, out, e);
    engine_free(ea);
    engine_free(eb);
    return ok;
}

/* Compare mode's band after a decode step goes on from what it has instead of starting over:
 * the rows of the shorter text are kept, only the last row again and the new ones run, and the
 * result equals a from-scratch compare_run on the longer text; a text that grows while a run is
 * under way is taken into that run; a text that is not an extension starts over. */
TEST(compare_band_extends_what_it_has) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(MB "/model.safetensors")) SKIP("story models not available");
    Session *a = ready(MA, 6, 0, &e), *b = ready(MB, 0, 0, &e);
    REQUIRE(a && b);
    Model *ma = session_model(a), *mb = session_model(b);
    const int *ids = session_ids(a);
    const int n = session_n_ids(a), n0 = n - 6;
    CompareCache cc = {0};
    REQUIRE(compare_cached(&cc, ma, mb, ids, n0, &e));
    double worst = 0;
    for (int m = n0 + 1; m <= n; m++) {                   /* one decode step at a time */
        CHECK(!compare_cached_some(&cc, ma, mb, ids, m, -1, &e));
        CHECK(cc.running && cc.grown);
        CHECK_EQ_INT(cc.run.scored, m - 2);              /* the shorter text's rows are kept */
        const CompareResult *r = compare_cached_some(&cc, ma, mb, ids, m, 2, &e);   /* two tokens finish it */
        REQUIRE(r);
        CompareResult ref;
        REQUIRE(reference_run(ma, mb, ids, m, &ref, &e));
        double d = result_diff(r, &ref);
        CHECK_MSG(d >= 0 && d < 1e-5, "extended to %d ids: differs from a fresh run by %g", m, d);
        worst = fmax(worst, d);
        CHECK(ref.mean_kl_ab > 1e-3);                    /* two different models: the check means something */
        compare_result_free(&ref);
    }
    fprintf(stderr, "    extended %d times by one token: worst difference from a fresh run %.3g\n", n - n0, worst);
    /* the text grows in the middle of a run in pieces */
    CompareCache mid = {0};
    CHECK(!compare_cached_some(&mid, ma, mb, ids, n0, 3, &e));
    REQUIRE(mid.running && !mid.run.done && mid.run.scored == 3);
    CHECK(!compare_cached_some(&mid, ma, mb, ids, n, -1, &e));
    CHECK(mid.running && mid.grown);
    CHECK_EQ_INT(mid.run.scored, 3);                     /* nothing recomputed */
    const CompareResult *q = NULL;
    for (int calls = 0; !q && calls < 1000; calls++) q = compare_cached_some(&mid, ma, mb, ids, n, 4, &e);
    REQUIRE(q);
    CompareResult ref;
    REQUIRE(reference_run(ma, mb, ids, n, &ref, &e));
    double d = result_diff(q, &ref);
    CHECK_MSG(d >= 0 && d < 1e-5, "grown mid-run: differs from a fresh run by %g", d);
    compare_result_free(&ref);
    /* not an extension (the last id changed): starts over */
    int *other = malloc(sizeof(int) * (size_t)n);
    REQUIRE(other);
    memcpy(other, ids, sizeof(int) * (size_t)n);
    other[n - 2] = other[n - 2] == 1 ? 2 : 1;
    CHECK(!compare_cached_some(&mid, ma, mb, other, n, -1, &e));
    CHECK(mid.running && !mid.grown);
    CHECK_EQ_INT(mid.run.scored, 0);
    /* nor is a shorter text */
    CHECK(!compare_cached_some(&cc, ma, mb, ids, n - 1, -1, &e));
    CHECK(cc.running && !cc.grown && cc.run.scored == 0);
    free(other);
    compare_cache_free(&cc);
    compare_cache_free(&mid);
    session_free(a);
    session_free(b);
}

/* The band's cache keeps its engines after a run, so B's model can be freed under it (compare
 * switched off) and another loaded from the same path, maybe at the same address. The cache must
 * not take the new model for the old one (its engines point at the old weights: extending would
 * read freed memory), and frees engines whose model is gone without reading it (the ASan run of
 * make test checks the reads). */
TEST(compare_cache_outlives_its_models) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(MB "/model.safetensors")) SKIP("story models not available");
    Session *a = ready(MA, 2, 0, &e);
    Model *mb = model_load(MB, false, &e);
    REQUIRE(a && mb);
    Model *ma = session_model(a);
    const int *ids = session_ids(a);
    const int n = session_n_ids(a);
    CompareCache cc = {0};
    REQUIRE(compare_cached(&cc, ma, mb, ids, n - 1, &e));
    REQUIRE(cc.ea && cc.eb);                             /* kept for the next step */
    const unsigned long long old_serial = mb->serial;
    const void *old_at = mb;
    model_free(mb);
    Model *mb2 = model_load(MB, false, &e);
    REQUIRE(mb2);
    CHECK(old_serial != 0 && mb2->serial != old_serial);
    CHECK(!compare_cached_some(&cc, ma, mb2, ids, n, -1, &e));
    CHECK(cc.running && !cc.grown && cc.run.scored == 0);    /* started over */
    fprintf(stderr, "    the reloaded model %s at the freed one's address\n", (const void *)mb2 == old_at ? "sits" : "does not sit");
    model_free(mb2);
    compare_cache_free(&cc);                             /* engines of a freed model */
    session_free(a);
}

/* The band goes on across windows: a text that outgrows the band's engines (they were sized
 * for the text when the run began) makes them grow instead of starting over, and a text longer
 * than a model's own context (story-gpt2's learned positions end at 512) goes on into the next
 * window; in both, each step keeps every row scored so far and the result equals a fresh run's
 * (the same windows: C = the smaller context, overlapping by one). */
TEST(compare_band_extends_across_windows) {
    Err e = {0};
    if (!file_exists(MA "/model.safetensors") || !file_exists(MB "/model.safetensors") || !file_exists(MG "/model.safetensors"))
        SKIP("story models not available");
    Session *a = ready(MA, 0, 0, &e);
    Model *mb = model_load(MB, false, &e), *mg = model_load(MG, false, &e);
    REQUIRE(a && mb && mg);
    Model *ma = session_model(a);
    const int N = 700, n_text = session_n_ids(a);
    int *ids = malloc(sizeof(int) * N);
    REQUIRE(ids);
    for (int i = 0; i < N; i++) ids[i] = i < n_text ? session_ids(a)[i] : session_ids(a)[1 + (i - 1) % (n_text - 1)];   /* the text again and again */
    struct { Model *x, *y; int n0, n1, checks[6]; } runs[2] = {
        {ma, mb, 20, 150, {63, 64, 65, 66, 131, 150}},   /* engines of 64 ids, then 132: they grow twice */
        {mg, ma, 500, 700, {511, 512, 513, 514, 530, 700}},   /* C = 512 (gpt2): the second window from id 511 */
    };
    for (int r = 0; r < 2; r++) {
        CompareCache cc = {0};
        REQUIRE(compare_cached(&cc, runs[r].x, runs[r].y, ids, runs[r].n0, &e));
        double worst = 0;
        int restarts = 0, compared = 0;
        for (int prev = runs[r].n0, m; prev < runs[r].n1; prev = m) {
            m = prev < runs[r].checks[4] ? prev + 1 : runs[r].n1;   /* one token at a time, then a jump */
            CHECK(!compare_cached_some(&cc, runs[r].x, runs[r].y, ids, m, -1, &e));
            if (!cc.running || !cc.grown || cc.run.scored != prev - 1) restarts++;   /* every row so far kept */
            const CompareResult *q = compare_cached(&cc, runs[r].x, runs[r].y, ids, m, &e);
            REQUIRE(q);
            bool check = false;
            for (int k = 0; k < 6; k++) check |= runs[r].checks[k] == m;
            if (!check) continue;
            CompareResult ref;
            REQUIRE(reference_run(runs[r].x, runs[r].y, ids, m, &ref, &e));
            double d = result_diff(q, &ref);
            CHECK_MSG(d >= 0 && d < 1e-5, "run %d, %d ids: differs from a fresh run by %g", r, m, d);
            worst = fmax(worst, d);
            compared++;
            compare_result_free(&ref);
        }
        CHECK_EQ_INT(restarts, 0);
        CHECK_EQ_INT(compared, 6);
        CHECK(engine_max_ctx(cc.ea) >= (r == 0 ? 150 : 512));
        fprintf(stderr, "    %d to %d ids: %d restarts, worst difference from a fresh run %.3g (%d checked)\n", runs[r].n0, runs[r].n1, restarts, worst,
                compared);
        compare_cache_free(&cc);
    }
    free(ids);
    model_free(mb);
    model_free(mg);
    session_free(a);
}

/* The size of the next piece on a machine where a piece of n prompt tokens costs a + b*n ms (a:
 * every weight read once, as a decode step; b: the compute per token). On a slow or loaded
 * machine (a 1 s, b 60 ms: Qwen3-0.6B at load 8 on 2 cores) cutting pieces to a quarter of a
 * second can only shrink them toward one token, where the prefill runs at decode speed: it
 * measured 3 tok/s in the terminal against 9-13 with pieces of at least 16. On a fast machine the
 * pieces take about a quarter of a second. */
TEST(work_piece_size_keeps_prefill_pieces_efficient) {
    const struct { double a, b; } m[] = {{1000, 60}, {50, 7}, {5, 0.5}};
    for (int k = 0; k < 3; k++) {
        int n = SCENE_PREFILL_PIECE_MIN, tokens = 0;
        double ms = 0, last = 0;
        for (int piece = 0; piece < 40; piece++) {
            last = m[k].a + m[k].b * n;
            tokens += n;
            ms += last;
            n = scene_piece_size(n, last, false);
            CHECK_MSG(n >= SCENE_PREFILL_PIECE_MIN && n <= 256, "machine %d: piece of %d tokens", k, n);
        }
        const double rate = tokens / ms, best16 = SCENE_PREFILL_PIECE_MIN / (m[k].a + m[k].b * SCENE_PREFILL_PIECE_MIN);
        CHECK_MSG(rate >= 0.99 * best16, "machine %d: %.2f tok/s, pieces of %d tokens give %.2f", k, rate * 1e3, SCENE_PREFILL_PIECE_MIN, best16 * 1e3);
        if (m[k].a + m[k].b * SCENE_PREFILL_PIECE_MIN < 200 && m[k].a + m[k].b * 256 > 300)
            CHECK_MSG(last > 200 && last < 300, "machine %d: a piece takes %.0f ms, not about 250", k, last);
    }
    /* decode steps: one at a time on a slow machine, at most 64 */
    CHECK_EQ_INT(scene_piece_size(1, 1000, true), 1);
    CHECK_EQ_INT(scene_piece_size(4, 10, true), 64);
    CHECK_EQ_INT(scene_piece_size(16, 0, false), 256);
}
