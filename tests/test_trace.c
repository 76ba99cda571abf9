/* The trace's memory bound: attention rows are not stored but recomputed from the recorded
 * query and the KV cache (trace_attn_row), so they must equal what the engine computed and
 * fired to hook_pattern / hook_attn_scores; a prefill run in pieces records what one whole
 * prefill records; stopping it midway leaves a consistent session. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "engine/engine.h"
#include "session/session.h"
#include "trace/export.h"
#include "scene/scene.h"

static const char *const FIXTURES[] = {"qwen3", "gpt2", "mistral", "deepseek_v2", "llama-f16-mqa", "qwen3_moe"};

/* worst |a - b| over visible keys, with -inf equal to -inf; masked must agree */
static double row_diff(const float *a, const float *b, int n, bool *mask_ok) {
    double w = 0;
    for (int j = 0; j < n; j++) {
        if (isinf(a[j]) || isinf(b[j])) { if (a[j] != b[j]) *mask_ok = false; continue; }
        double d = fabs((double)a[j] - (double)b[j]) / (1.0 + fabs((double)b[j]));
        if (d > w) w = d;
    }
    return w;
}

/* A session on a fixture model, stepped after a prompt, beside a fresh engine that ran the
 * same tokens with an Export keeping every row of the hooks asked for (the reference). */
typedef struct { Session *s; Model *m; Hooks *h; Export *x; Engine *en; int T; } Twin;

static void twin_free(Twin *w) {
    engine_free(w->en); export_free(w->x); hooks_free(w->h); model_free(w->m);
    session_free(w->s);
}

/* Prompt ids (a + b*i) % vocab for i < np (at most 32), then `steps` session steps. false: the
 * fixture is not there. A failed setup step fails a check and leaves w->en NULL. */
static bool twin_open(TestCtx *T_, Twin *w, const char *name, int np, int a, int b, int steps, const char *hooks) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/models/%s", name);
    Err e = {0};
    *w = (Twin){.s = session_new(path, 32, &e)};
    if (!w->s) return false;
    int ids[32];
    for (int i = 0; i < np && i < 32; i++) ids[i] = (a + b * i) % session_model(w->s)->spec.vocab_size;
    bool ok = np <= 32 && session_set_ids(w->s, ids, np, &e);
    for (int i = 0; ok && i < steps; i++) ok = session_step(w->s, &e);
    w->T = session_len(w->s);
    if (ok && (w->m = model_load(path, false, &e)) && (w->h = hooks_new()) && (w->x = export_new(w->h, hooks, &e))) {
        export_set_positions(w->x, w->T);
        w->en = engine_new(w->m, 32, &e);
        if (w->en) engine_set_hooks(w->en, w->h);
        ok = w->en && engine_forward(w->en, session_ids(w->s), np, false, &e);
        for (int i = np; ok && i < w->T; i++) ok = engine_forward(w->en, &session_ids(w->s)[i], 1, false, &e);
    } else ok = false;
    CHECK_MSG(ok, "%s: setting up the session and its reference engine: %s", name, e.msg);
    if (!ok && w->en) { engine_free(w->en); w->en = NULL; }
    return true;
}

TEST(trace_attn_rows_equal_engine_hooks) {
    int tried = 0;
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        const int NP = 12, ND = 3;
        Twin tw;
        if (!twin_open(T_, &tw, FIXTURES[f], NP, 1, 7, ND + 1, "blocks.*.attn.hook_pattern,blocks.*.attn.hook_attn_scores")) continue;
        tried++;
        if (!tw.en) { twin_free(&tw); continue; }
        Session *s = tw.s;
        Export *x = tw.x;
        const int T = tw.T;
        CHECK_EQ_INT(T, NP + ND);
        const TraceDims *d = trace_dims(session_trace(s));
        double worst_p = 0, worst_s = 0;
        bool mask_ok = true, shapes_ok = true;
        for (int l = 0; l < d->n_layers; l++)
            for (int which = 0; which < 2; which++) {
                char nm[96];
                snprintf(nm, sizeof nm, "blocks.%d.attn.%s", l, which ? "hook_attn_scores" : "hook_pattern");
                int nd, sh[4];
                const float *ref = export_get(x, nm, &nd, sh);
                if (!ref || sh[1] != T || sh[2] != T) { shapes_ok = false; continue; }
                for (int hh = 0; hh < d->n_heads; hh++)
                    for (int q = 0; q < T; q++) {
                        const float *row = trace_attn_row(session_trace(s), q, l, hh, which == 1);
                        if (!row) { shapes_ok = false; continue; }
                        double w = row_diff(row, ref + ((size_t)hh * T + q) * T, q + 1, &mask_ok);
                        if (which) worst_s = fmax(worst_s, w); else worst_p = fmax(worst_p, w);
                    }
            }
        CHECK_MSG(shapes_ok, "%s: a row or an exported matrix is missing", FIXTURES[f]);
        CHECK_MSG(mask_ok, "%s: masked keys differ", FIXTURES[f]);
        CHECK_MSG(worst_p < 1e-5, "%s: recomputed pattern differs by %g", FIXTURES[f], worst_p);
        CHECK_MSG(worst_s < 1e-5, "%s: recomputed scores differ by %g (relative)", FIXTURES[f], worst_s);
        printf("    %s: worst pattern %.2g, scores %.2g (relative)\n", FIXTURES[f], worst_p, worst_s);
        /* nothing of size [t] per token is kept by a trace bound to an engine */
        CHECK(trace_tok(session_trace(s), T - 1)->attn == NULL);
        twin_free(&tw);
    }
    if (!tried) SKIP("tests/fixtures/models not generated");
}

TEST(session_prefill_in_pieces_equals_whole_and_stops_cleanly) {
    Err e = {0};
    Session *a = session_new("tests/fixtures/models/qwen3", 64, &e);
    if (!a) SKIP("tests/fixtures/models/qwen3 not generated");
    Session *b = session_new("tests/fixtures/models/qwen3", 64, &e);
    Session *c = session_new("tests/fixtures/models/qwen3", 64, &e);
    REQUIRE(b && c);
    const int V = session_model(a)->spec.vocab_size, NP = 23;
    int ids[32];
    for (int i = 0; i < NP; i++) ids[i] = (3 + 11 * i) % V;
    REQUIRE(session_set_ids(a, ids, NP, &e) && session_set_ids(b, ids, NP, &e) && session_set_ids(c, ids, NP, &e));
    REQUIRE(session_step(a, &e));
    int runs = 0, n;
    while ((n = session_prefill_some(b, 5, &e)) > 0) { runs++; CHECK(n <= 5); CHECK_EQ_INT(session_len(b), session_n_prefilled(b)); }
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(runs, 5);
    CHECK(session_prefilled(b));
    CHECK_EQ_INT(session_cursor(b), NP - 1);
    CHECK_EQ_INT(session_len(b), session_len(a));
    double worst = 0;
    bool same_ids = true;
    const int D = session_model(a)->spec.d_model, L = session_model(a)->spec.n_layers;
    for (int p = 0; p < NP; p++) {
        const TraceTok *x = trace_tok(session_trace(a), p), *y = trace_tok(session_trace(b), p);
        same_ids &= x->id == y->id && x->next_id == y->next_id && x->top_ids[0] == y->top_ids[0] && x->step == y->step && y->phase == PHASE_PREFILL;
        for (int i = 0; i < (L + 1) * D; i++) worst = fmax(worst, fabs((double)x->resid[i] - (double)y->resid[i]));
    }
    CHECK_MSG(same_ids, "ids, next ids, top-1 or the forward call differ between the whole and the pieces");
    CHECK_MSG(worst < 1e-4, "residuals differ by %g", worst);
    /* the next step decodes the same token */
    REQUIRE(session_step(a, &e) && session_step(b, &e));
    CHECK_EQ_INT(session_ids(a)[NP], session_ids(b)[NP]);
    CHECK_EQ_INT(trace_tok(session_trace(b), NP)->step, trace_tok(session_trace(b), 0)->step + 1);

    /* stopped after 10 of 23: the prompt is those 10 tokens, prefilled, the cursor on the last */
    CHECK_EQ_INT(session_prefill_some(c, 10, &e), 10);
    CHECK(!session_prefilled(c));
    CHECK_EQ_INT(session_prefill_stop(c, &e), 10);
    CHECK(session_prefilled(c));
    CHECK_EQ_INT(session_n_prompt(c), 10);
    CHECK_EQ_INT(session_n_ids(c), 10);
    CHECK_EQ_INT(session_cursor(c), 9);
    CHECK_EQ_INT(session_len(c), 10);
    CHECK(trace_tok(session_trace(c), 9)->next_id >= 0);
    CHECK_EQ_INT(engine_pos(session_engine(c)), 10);
    REQUIRE(session_step(c, &e));
    CHECK_EQ_INT(session_len(c), 11);
    CHECK_EQ_INT(trace_tok(session_trace(c), 10)->phase, PHASE_DECODE);
    /* stopped before anything ran: the prompt stays, not prefilled */
    REQUIRE(session_set_ids(c, ids, NP, &e));
    CHECK_EQ_INT(session_prefill_stop(c, &e), 0);
    CHECK(!session_prefilled(c));
    CHECK_EQ_INT(session_n_prompt(c), NP);
    session_free(a); session_free(b); session_free(c);
}

/* The TUI's path: with a chunked scene, setting a prompt only starts the prefill; ticks run
 * pieces with progress on the status line; Esc (scene_prefill_stop) midway keeps what ran as
 * the prompt; an action that reads tokens finishes a pending prefill first. */
TEST(scene_prefill_in_pieces_cancels_cleanly) {
    Err e = {0};
    Session *s = session_new("assets/models/story-gqa", 0, &e);
    if (!s) SKIP("assets/models/story-gqa not available");
    Scene *sc = scene_new();
    REQUIRE(sc);
    scene_set_session(sc, 0, s, true);
    sc->chunked = true;
    const char *text = "Once upon a time there was a little girl named Lily. She loved to play outside in the sun with her dog. "
                       "One day she found a big red ball under a tree and ran home to show her mother.";
    REQUIRE(scene_set_prompt(sc, text, true, &e));
    const int total = session_n_prompt(s);
    CHECK(total > 30);
    CHECK(scene_busy(sc));
    CHECK(!session_prefilled(s));
    CHECK_EQ_INT(session_len(s), 0);
    REQUIRE(scene_prefill_tick(sc, 8, &e));
    REQUIRE(scene_prefill_tick(sc, 8, &e));
    CHECK(scene_busy(sc));
    CHECK_EQ_INT(session_n_prefilled(s), 16);
    CHECK_EQ_INT(session_len(s), 16);
    CHECK_MSG(strstr(sc->msg, "prefill 16/") && strstr(sc->msg, "tok/s"), "status line: %s", sc->msg);
    scene_prefill_stop(sc);
    CHECK(!scene_busy(sc));
    CHECK(session_prefilled(s));
    CHECK_EQ_INT(session_n_prompt(s), 16);
    CHECK_EQ_INT(session_cursor(s), 15);
    CHECK_EQ_INT(session_len(s), 16);
    CHECK_MSG(strstr(sc->msg, "first 16 of"), "status line: %s", sc->msg);
    /* the prompt text is the text of the tokens kept */
    int *ids = NULL;
    int n = session_encode(session_tokenizer(s), session_model(s), session_prompt(s), true, &ids, &e);
    CHECK_EQ_INT(n, 16);
    free(ids);
    REQUIRE(scene_step(sc, &e));   /* decodes the 17th token */
    CHECK_EQ_INT(session_len(s), 17);
    CHECK_EQ_INT(trace_tok(session_trace(s), 16)->phase, PHASE_DECODE);

    /* a pending prefill is finished by an action that reads tokens (a lesson's next action) */
    REQUIRE(scene_set_prompt(sc, text, true, &e));
    CHECK(scene_busy(sc));
    REQUIRE(scene_goto(sc, 0, 3, &e));
    CHECK(!scene_busy(sc));
    CHECK(session_prefilled(s));
    CHECK_EQ_INT(session_len(s), total);
    CHECK_EQ_INT(session_cursor(s), 3);
    /* a headless scene runs it at once, as before */
    sc->chunked = false;
    REQUIRE(scene_set_prompt(sc, "Once upon a time", true, &e));
    CHECK(!scene_busy(sc));
    CHECK(session_prefilled(s));
    scene_free(sc);
}

/* ln1/ln2 outputs, q before RoPE and (dense models) the FFN activation are computed on demand from what the
 * trace keeps: they must equal what the engine fired to its hooks. */
TEST(trace_norm_and_mlp_on_demand_equal_engine_hooks) {
    static const char *const F2[] = {"qwen3", "gpt2", "mistral", "llama-f16-mqa"};
    int tried = 0;
    for (size_t f = 0; f < sizeof F2 / sizeof F2[0]; f++) {
        Twin tw;
        if (!twin_open(T_, &tw, F2[f], 9, 5, 13, 2,
                       "blocks.*.ln1.hook_normalized,blocks.*.ln2.hook_normalized,blocks.*.mlp.hook_post,blocks.*.attn.hook_q")) continue;
        tried++;
        if (!tw.en) { twin_free(&tw); continue; }
        Session *s = tw.s;
        Export *x = tw.x;
        const int T = tw.T;
        const TraceDims *d = trace_dims(session_trace(s));
        const int D = d->d_model;
        double wn = 0, wm = 0, wq = 0;
        bool all = true;
        CHECK(trace_tok(session_trace(s), 0)->mlp_post == NULL && trace_tok(session_trace(s), 0)->ln1_out == NULL && trace_tok(session_trace(s), 0)->k == NULL && trace_tok(session_trace(s), 0)->q == NULL);
        for (int l = 0; l < d->n_layers; l++) {
            char nm[96];
            int nd, sh[4];
            for (int which = 0; which < 2; which++) {
                snprintf(nm, sizeof nm, "blocks.%d.ln%d.hook_normalized", l, which + 1);
                const float *ref = export_get(x, nm, &nd, sh);
                if (!ref || sh[0] != T) { all = false; continue; }
                for (int p = 0; p < T; p++) {
                    const float *o = trace_norm_out(session_trace(s), p, which, l);
                    if (!o) { all = false; continue; }
                    for (int i = 0; i < D; i++) wn = fmax(wn, fabs((double)o[i] - (double)ref[(size_t)p * D + i]));
                }
            }
            snprintf(nm, sizeof nm, "blocks.%d.attn.hook_q", l);
            const float *rq = export_get(x, nm, &nd, sh);
            if (d->rot_dim && rq && sh[0] == T) {
                for (int p = 0; p < T; p++) {
                    const float *q = trace_q_pre(session_trace(s), p, l);
                    if (!q) { all = false; continue; }
                    for (int hh = 0; hh < d->n_heads; hh++)
                        for (int i = 0; i < d->rot_dim; i++)
                            wq = fmax(wq, fabs((double)q[hh * d->rot_dim + i] - (double)rq[((size_t)p * d->n_heads + hh) * sh[2] + i]));
                }
            } else if (d->rot_dim) all = false;
            snprintf(nm, sizeof nm, "blocks.%d.mlp.hook_post", l);
            const float *ref = export_get(x, nm, &nd, sh);
            if (!ref || sh[0] != T) { all = false; continue; }
            for (int p = 0; p < T; p++) {
                const float *a = trace_mlp_post(session_trace(s), p, l);
                if (!a) { all = false; continue; }
                for (int i = 0; i < sh[1]; i++)
                    wm = fmax(wm, fabs((double)a[i] - (double)ref[(size_t)p * sh[1] + i]) / (1.0 + fabs((double)ref[(size_t)p * sh[1] + i])));
            }
        }
        printf("    %s: norm outputs differ by %.2g, FFN activations by %.2g (relative), q before RoPE by %.2g\n", F2[f], wn, wm, wq);
        CHECK_MSG(wq < 1e-5, "%s: q before RoPE differs by %g", F2[f], wq);
        CHECK_MSG(all, "%s: a value or an exported hook is missing", F2[f]);
        CHECK_MSG(wn < 1e-5, "%s: norm outputs differ by %g", F2[f], wn);
        CHECK_MSG(wm < 1e-5, "%s: FFN activations differ by %g", F2[f], wm);
        twin_free(&tw);
    }
    if (!tried) SKIP("tests/fixtures/models not generated");
}
