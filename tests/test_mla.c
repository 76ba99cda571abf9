/* analysis/mla.c: MLA scores naive vs absorbed (DeepSeek-V2 §2.1.2-2.1.3) on the bundled
 * story-mla. Three computations must give one row of scores:
 *   - naive and absorbed, from the trace and the weights (mla_head_scores);
 *   - the engine's own hook_attn_scores (recorded by the trace);
 *   - an independent one: q from blocks.L.attn.hook_rot_q and K decompressed by the engine's
 *     hook_k path (W_UK c_kv with the shared rope key appended), dotted in double here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/kvcalc.h"
#include "analysis/mla.h"
#include "engine/engine.h"
#include "engine/hooks.h"
#include "harness.h"
#include "session/session.h"

#define MLA_DIR "assets/models/story-mla"
static const char *PROMPT = "Once upon a time, a little fox found a red ball in the tall grass.";

typedef struct { int layer; float *q, *k; int n, H, dq; } Grab;   /* [n][H][dq] */

static void grab_observe(void *ud, HookEvent *ev) {
    Grab *g = ud;
    if (ev->layer != g->layer) return;
    float *dst = ev->point == HP_ROT_Q ? g->q : g->k;
    size_t row = (size_t)ev->shape[1] * (size_t)ev->shape[2];
    memcpy(dst + (size_t)ev->pos0 * row, ev->data, sizeof(float) * row * (size_t)ev->n_tokens);
}

TEST(mla_naive_and_absorbed_scores_agree_with_the_engine) {
    Err e = {0};
    Session *s = session_new(MLA_DIR, 0, &e);
    if (!s) SKIP("%s: %s", MLA_DIR, e.msg);
    const ModelSpec *sp = &session_model(s)->spec;
    REQUIRE(sp->attn_kind == ATTN_MLA);
    SamplerCfg g = {0};
    g.greedy = true;
    session_set_sampler(s, g);
    REQUIRE(session_set_prompt(s, PROMPT, &e));
    REQUIRE(session_step(s, &e));                        /* prefill */
    for (int i = 0; i < 3; i++) REQUIRE(session_step(s, &e));   /* and decode: positions from both paths */
    const int T = trace_len(session_trace(s)), L = sp->n_layers, H = sp->n_heads;
    const int nope = sp->qk_nope_head_dim, rope = sp->qk_rope_head_dim, dq = nope + rope, R = sp->kv_lora_rank;
    REQUIRE(T > 8);
    const int layers[] = {0, L - 1}, heads[] = {0, H - 1}, poss[] = {0, T / 2, T - 1};
    for (int li = 0; li < 2; li++) {
        const int l = layers[li];
        /* the independent reference: a fresh engine with hooks on the rotated q and the decompressed K */
        Grab gr = {l, calloc((size_t)T * H * dq, sizeof(float)), calloc((size_t)T * H * dq, sizeof(float)), T, H, dq};
        REQUIRE(gr.q && gr.k);
        Hooks *hk = hooks_new();
        char name[96];
        snprintf(name, sizeof name, "blocks.%d.attn.hook_rot_q", l);
        REQUIRE(hooks_add(hk, name, NULL, grab_observe, &gr) >= 0);
        snprintf(name, sizeof name, "blocks.%d.attn.hook_k", l);
        REQUIRE(hooks_add(hk, name, NULL, grab_observe, &gr) >= 0);
        Engine *en = engine_new(session_model(s), T + 1, &e);
        REQUIRE(en);
        engine_set_hooks(en, hk);
        REQUIRE(engine_forward(en, session_ids(s), T, false, &e) != NULL);
        for (int hi = 0; hi < 2; hi++)
            for (int pi = 0; pi < 3; pi++) {
                const int h = heads[hi], pos = poss[pi];
                MlaScores r;
                REQUIRE(mla_head_scores(session_model(s), session_trace(s), l, h, pos, &r, &e));
                CHECK_EQ_INT(r.n_keys, pos + 1);
                double mx = 0;
                for (int j = 0; j <= pos; j++) if (fabs(r.engine[j]) > mx) mx = fabs(r.engine[j]);
                const double tol = 1e-4 * (1 + mx);
                CHECK_MSG(r.max_diff_forms <= tol, "L%d H%d pos %d: naive vs absorbed differ by %g", l, h, pos, r.max_diff_forms);
                CHECK_MSG(r.max_diff_engine <= tol, "L%d H%d pos %d: absorbed vs engine differ by %g", l, h, pos, r.max_diff_engine);
                for (int j = 0; j <= pos; j++) {
                    const float *q = gr.q + ((size_t)pos * H + h) * dq, *k = gr.k + ((size_t)j * H + h) * dq;
                    double dot = 0;
                    for (int i = 0; i < dq; i++) dot += (double)q[i] * k[i];
                    CHECK_NEAR(r.naive[j], dot * sp->softmax_scale, tol);
                }
                /* the top key really is the engine's largest score */
                for (int j = 0; j <= pos; j++) CHECK(r.engine[j] <= r.engine[r.max_key]);
                /* cache and cost: DeepSeek-V2 Table 1's d_c + d_h^R (kvcalc) against decompressed K and V */
                CHECK_EQ_INT(r.elems_latent, kv_elems_actual(sp) * L);
                CHECK_EQ_INT(r.elems_latent, (long long)(R + rope) * L);
                CHECK_EQ_INT(r.elems_full, (long long)(H * dq + H * sp->v_head_dim) * L);
                CHECK_NEAR(r.flops_naive, (pos + 1) * (2.0 * nope * R + 2.0 * dq), 0.5);
                CHECK_NEAR(r.flops_absorbed, 2.0 * nope * R + (pos + 1) * 2.0 * (R + rope), 0.5);
                if (pos >= 1) CHECK(r.flops_absorbed < r.flops_naive);
                mla_scores_free(&r);
            }
        engine_free(en);
        hooks_free(hk);
        free(gr.q);
        free(gr.k);
    }
    /* bad arguments are refused with a message, not a crash */
    MlaScores r;
    CHECK(!mla_head_scores(session_model(s), session_trace(s), L, 0, 0, &r, &e) && strstr(e.msg, "layer"));
    CHECK(!mla_head_scores(session_model(s), session_trace(s), 0, H, 0, &r, &e) && strstr(e.msg, "head"));
    CHECK(!mla_head_scores(session_model(s), session_trace(s), 0, 0, T, &r, &e) && strstr(e.msg, "position"));
    session_free(s);
    /* a model that is not MLA */
    Session *g2 = session_new("assets/models/story-gqa", 0, &e);
    if (g2) {
        REQUIRE(session_set_prompt(g2, PROMPT, &e));
        REQUIRE(session_step(g2, &e));
        CHECK(!mla_head_scores(session_model(g2), session_trace(g2), 0, 0, 1, &r, &e) && strstr(e.msg, "not MLA"));
        session_free(g2);
    }
}
