/* Engine correctness against independent references: the llama2.c stories260K checkpoint
 * and its HF conversion (../shared/data), and the tiny random-weight checkpoints made with
 * HF transformers in tests/fixtures/models (tests/fixtures/gen_fixtures.py), plus
 * invariants of the forward pass checked through the hook points. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "engine/engine.h"
#include "engine/rope.h"
#include "trace/export.h"
#include "engine/sampler.h"

static int json_ints(const cJSON *a, int *out, int cap) {
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) if (n < cap) out[n++] = (int)it->valuedouble;
    return n;
}

/* Flattens a nested numeric array into out; returns count. */
static size_t json_flat(const cJSON *a, float *out, size_t cap, size_t n) {
    const cJSON *it;
    if (cJSON_IsNumber(a)) { if (n < cap) out[n] = (float)a->valuedouble; return n + 1; }
    if (cJSON_IsNull(a)) { if (n < cap) out[n] = -INFINITY; return n + 1; }
    cJSON_ArrayForEach(it, a) n = json_flat(it, out, cap, n);
    return n;
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *ref_max) {
    double m = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        if (isinf(a[i]) && isinf(b[i])) continue;
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;   /* NaN propagates */
        if (fabs((double)b[i]) > r) r = fabs((double)b[i]);
    }
    if (ref_max) *ref_max = r;
    return m;
}

TEST(stories260K_llama2c_greedy_matches_reference) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data not present");
    char p[1024], rp[1024];
    snprintf(p, sizeof p, "%s/stories260K/stories260K.bin", d);
    snprintf(rp, sizeof rp, "%s/stories260K/reference.json", d);
    cJSON *ref = test_read_json(rp);
    REQUIRE(ref);
    int want[512];
    int nw = json_ints(cJSON_GetObjectItem(ref, "bos_greedy_ids"), want, 512);
    Err e = {0};
    Model *m = model_load(p, false, &e);
    REQUIRE(m);
    Engine *en = engine_new(m, 0, &e);
    REQUIRE(en);
    int tok = 1, match = 0;
    float *lg = engine_forward(en, &tok, 1, false, &e);
    for (int i = 0; i < nw && lg; i++) {
        tok = argmax(lg, m->spec.vocab_size);
        if (tok == want[i]) match++;
        else break;
        lg = engine_forward(en, &tok, 1, false, &e);
    }
    CHECK_EQ_INT(match, nw);
    engine_free(en);
    model_free(m);
    cJSON_Delete(ref);
}

TEST(stories260K_hf_logits_match_reference) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data not present");
    char p[1024], rp[1024];
    snprintf(p, sizeof p, "%s/stories260K/hf", d);
    snprintf(rp, sizeof rp, "%s/stories260K/reference.json", d);
    cJSON *ref = test_read_json(rp);
    REQUIRE(ref);
    int ids[256];
    int n = json_ints(cJSON_GetObjectItem(ref, "teacher_ids"), ids, 256);
    Err e = {0};
    Model *m = model_load(p, false, &e);
    REQUIRE(m);
    Engine *en = engine_new(m, 0, &e);
    REQUIRE(en);
    float *lg = engine_forward(en, ids, n, true, &e);
    REQUIRE(lg);
    size_t N = (size_t)n * (size_t)m->spec.vocab_size;
    float *want = malloc(sizeof(float) * N);
    CHECK_EQ_INT(json_flat(cJSON_GetObjectItem(ref, "logits"), want, N, 0), N);
    double rmax, diff = max_abs_diff(lg, want, N, &rmax);
    CHECK_MSG(diff < 1e-4, "max |logit diff| = %g", diff);
    free(want);
    engine_free(en);
    model_free(m);
    cJSON_Delete(ref);
}

/* ---- HF fixtures ----------------------------------------------------------------------- */

typedef struct { int checked, failed; } Tally;

static double g_fixture_logit_diff;   /* of the last fixture checked, for the summary line */

static void check_fixture(TestCtx *T_, const char *dir) {
    g_fixture_logit_diff = NAN;
    char rp[1024];
    snprintf(rp, sizeof rp, "%s/reference.json", dir);
    cJSON *ref = test_read_json(rp);
    CHECK_MSG(ref != NULL, "%s: unreadable reference.json", dir);
    if (!ref) return;
    Err e = {0};
    Model *m = model_load(dir, false, &e);
    CHECK_MSG(m != NULL, "%s: %s", dir, e.msg);
    if (!m) { cJSON_Delete(ref); return; }
    int ids[512];
    int n = json_ints(cJSON_GetObjectItem(ref, "ids"), ids, 512);
    const int V = m->spec.vocab_size, D = m->spec.d_model, L = m->spec.n_layers;
    Hooks *h = hooks_new();
    Export *x = export_new(h, "blocks.*.hook_resid_pre,blocks.*.hook_resid_post,ln_final.hook_normalized,blocks.*.attn.hook_pattern,blocks.*.mlp.hook_router_logits", &e);
    Engine *en = engine_new(m, n + 32, &e);
    CHECK_MSG(en && x, "%s: %s", dir, e.msg);
    if (!en || !x) goto done;
    export_set_positions(x, n);
    engine_set_hooks(en, h);
    float *lg = engine_forward(en, ids, n, true, &e);
    CHECK_MSG(lg != NULL, "%s: %s", dir, e.msg);
    if (!lg) goto done;
    size_t N = (size_t)n * V;
    float *want = malloc(sizeof(float) * (N + 1));
    size_t got = json_flat(cJSON_GetObjectItem(ref, "logits"), want, N, 0);
    CHECK_MSG(got == N, "%s: reference logits have %zu values, expected %zu", dir, got, N);
    double rmax, diff = max_abs_diff(lg, want, N, &rmax);
    CHECK_MSG(diff < 1e-3, "%s: max |logit diff| = %g (max |logit| %g)", dir, diff, rmax);
    g_fixture_logit_diff = diff;
    free(want);
    /* hidden states: HF [0] = embeddings = resid_pre[0]; [i] = resid_pre[i]; [L] = after final norm */
    const cJSON *hs = cJSON_GetObjectItem(ref, "hidden_states");
    if (hs) {
        float *buf = malloc(sizeof(float) * (size_t)n * D);
        for (int i = 0; i <= L && i < cJSON_GetArraySize(hs); i++) {
            char name[64];
            if (i < L) snprintf(name, sizeof name, "blocks.%d.hook_resid_pre", i);
            else snprintf(name, sizeof name, "ln_final.hook_normalized");
            int nd, sh[4];
            const float *mine = export_get(x, name, &nd, sh);
            size_t c = json_flat(cJSON_GetArrayItem(hs, i), buf, (size_t)n * D, 0);
            CHECK_MSG(mine && c == (size_t)n * D, "%s: hidden state %d missing", dir, i);
            if (!mine || c != (size_t)n * D) continue;
            double hm, hd = max_abs_diff(mine, buf, c, &hm);
            CHECK_MSG(hd <= 1e-4 * (hm > 1 ? hm : 1), "%s: hidden_states[%d] max diff %g (scale %g)", dir, i, hd, hm);
        }
        free(buf);
    }
    const cJSON *at = cJSON_GetObjectItem(ref, "attentions");
    if (at) {
        const int H = m->spec.n_heads;
        float *buf = malloc(sizeof(float) * (size_t)H * n * n);
        for (int l = 0; l < L && l < cJSON_GetArraySize(at); l++) {
            char name[64];
            snprintf(name, sizeof name, "blocks.%d.attn.hook_pattern", l);
            int nd, sh[4];
            const float *mine = export_get(x, name, &nd, sh);
            size_t c = json_flat(cJSON_GetArrayItem(at, l), buf, (size_t)H * n * n, 0);
            CHECK_MSG(mine && c == (size_t)H * n * n && sh[0] == H && sh[1] == n && sh[2] == n, "%s: pattern %d shape", dir, l);
            if (!mine || c != (size_t)H * n * n) continue;
            double ad = max_abs_diff(mine, buf, c, NULL);
            CHECK_MSG(ad <= 1e-4, "%s: attention layer %d max diff %g", dir, l, ad);
        }
        free(buf);
    }
    const cJSON *rl = cJSON_GetObjectItem(ref, "router_logits");
    const cJSON *rlay = cJSON_GetObjectItem(ref, "router_layers");
    if (rl && m->spec.n_experts) {
        const int E = m->spec.n_experts;
        float *buf = malloc(sizeof(float) * (size_t)n * E);
        for (int i = 0; i < cJSON_GetArraySize(rl); i++) {
            int l = rlay ? (int)cJSON_GetArrayItem(rlay, i)->valuedouble : i;
            char name[64];
            snprintf(name, sizeof name, "blocks.%d.mlp.hook_router_logits", l);
            int nd, sh[4];
            const float *mine = export_get(x, name, &nd, sh);
            size_t c = json_flat(cJSON_GetArrayItem(rl, i), buf, (size_t)n * E, 0);
            CHECK_MSG(mine && c == (size_t)n * E, "%s: router logits of layer %d missing", dir, l);
            if (!mine || c != (size_t)n * E) continue;
            double rm, rd = max_abs_diff(mine, buf, c, &rm);
            CHECK_MSG(rd <= 1e-4 * (rm > 1 ? rm : 1), "%s: router logits layer %d max diff %g", dir, l, rd);
        }
        free(buf);
    }
    /* greedy continuation on the KV cache, one token at a time */
    int want_ids[64];
    int ng = json_ints(cJSON_GetObjectItem(ref, "greedy_ids"), want_ids, 64);
    engine_set_hooks(en, NULL);
    engine_truncate(en, 0);
    lg = engine_forward(en, ids, n, false, &e);
    int ok = 0;
    for (int i = 0; i < ng && lg; i++) {
        int t = argmax(lg, V);
        if (t != want_ids[i]) { CHECK_MSG(0, "%s: greedy token %d is %d, transformers gave %d", dir, i, t, want_ids[i]); break; }
        ok++;
        lg = engine_forward(en, &t, 1, false, &e);
    }
    CHECK_MSG(ok == ng, "%s: %d of %d greedy tokens match", dir, ok, ng);
done:
    engine_free(en);
    export_free(x);
    hooks_free(h);
    model_free(m);
    cJSON_Delete(ref);
}

TEST(hf_fixtures_match_transformers) {
    DIR *d = opendir("tests/fixtures/models");
    if (!d) SKIP("tests/fixtures/models not generated");
    struct dirent *de;
    int count = 0;
    char names[128][256];
    while ((de = readdir(d)) && count < 128) if (de->d_name[0] != '.') snprintf(names[count++], 256, "%s", de->d_name);
    closedir(d);
    qsort(names, (size_t)count, 256, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < count; i++) {
        char p[1024];
        snprintf(p, sizeof p, "tests/fixtures/models/%s", names[i]);
        int before = T_->failed;
        check_fixture(T_, p);
        printf("      %-24s %-8s max |logit diff| %.3g\n", names[i], T_->failed == before ? "ok" : "MISMATCH", g_fixture_logit_diff);
    }
    CHECK(count > 0);
}

/* ---- invariants ------------------------------------------------------------------------ */

static Model *any_model(void) {
    Err e = {0};
    const char *cands[] = {"tests/fixtures/models/qwen3", "assets/models/story-gqa", NULL};
    for (int i = 0; cands[i]; i++) { Model *m = model_load(cands[i], false, &e); if (m) return m; }
    const char *d = test_shared_data();
    if (d) { char p[1024]; snprintf(p, sizeof p, "%s/stories260K/hf", d); return model_load(p, false, &e); }
    return NULL;
}

TEST(pattern_rows_sum_to_one_causal_and_decode_equals_prefill) {
    Model *m = any_model();
    if (!m) SKIP("no model available");
    Err e = {0};
    int ids[10] = {1, 5, 9, 3, 7, 2, 8, 4, 6, 11};
    for (int i = 0; i < 10; i++) ids[i] %= m->spec.vocab_size;
    Hooks *h1 = hooks_new(), *h2 = hooks_new();
    Export *x1 = export_new(h1, "blocks.0.attn.hook_pattern,blocks.0.hook_resid_mid,blocks.0.hook_mlp_out,blocks.0.hook_resid_post", &e);
    Export *x2 = export_new(h2, "blocks.0.attn.hook_pattern", &e);
    Engine *a = engine_new(m, 16, &e), *b = engine_new(m, 16, &e);
    REQUIRE(a && b && x1 && x2);
    export_set_positions(x1, 10);
    export_set_positions(x2, 10);
    engine_set_hooks(a, h1);
    engine_set_hooks(b, h2);
    REQUIRE(engine_forward(a, ids, 10, false, &e));
    for (int i = 0; i < 10; i++) REQUIRE(engine_forward(b, &ids[i], 1, false, &e));
    int nd, s1[4], s2[4];
    const float *p1c = export_get(x1, "blocks.0.attn.hook_pattern", &nd, s1);
    REQUIRE(p1c);
    size_t N = (size_t)s1[0] * s1[1] * s1[2];
    float *p1 = malloc(sizeof(float) * N);
    memcpy(p1, p1c, sizeof(float) * N);
    const float *p2 = export_get(x2, "blocks.0.attn.hook_pattern", &nd, s2);
    REQUIRE(p2);
    CHECK_EQ_INT(s1[1], 10);
    CHECK_EQ_INT(s2[1], 10);
    CHECK_EQ_INT(s2[2], 10);
    double worst_sum = 0, above = 0;
    for (int hh = 0; hh < s1[0]; hh++)
        for (int q = 0; q < 10; q++) {
            double sum = 0;
            for (int k = 0; k < 10; k++) {
                float v = p1[((size_t)hh * 10 + q) * 10 + k];
                sum += v;
                if (k > q && fabs(v) > above) above = fabs(v);
            }
            if (fabs(sum - 1) > worst_sum) worst_sum = fabs(sum - 1);
        }
    CHECK(worst_sum < 1e-5);
    CHECK(above == 0);
    double dd = max_abs_diff(p1, p2, N, NULL);
    CHECK_MSG(dd < 1e-5, "decode rows differ from prefill matrix by %g", dd);
    /* resid_post = resid_mid + mlp_out */
    float *mid = malloc(sizeof(float) * 10 * m->spec.d_model), *mo = malloc(sizeof(float) * 10 * m->spec.d_model);
    memcpy(mid, export_get(x1, "blocks.0.hook_resid_mid", &nd, s1), sizeof(float) * 10 * m->spec.d_model);
    memcpy(mo, export_get(x1, "blocks.0.hook_mlp_out", &nd, s1), sizeof(float) * 10 * m->spec.d_model);
    const float *post = export_get(x1, "blocks.0.hook_resid_post", &nd, s1);
    double rd = 0;
    for (int i = 0; i < 10 * m->spec.d_model; i++) { double v = fabs((double)post[i] - (mid[i] + mo[i])); if (v > rd) rd = v; }
    CHECK_MSG(rd < 1e-6, "resid_post - (resid_mid + mlp_out) = %g", rd);
    free(mid); free(mo); free(p1);
    engine_free(a); engine_free(b); export_free(x1); export_free(x2); hooks_free(h1); hooks_free(h2);
    model_free(m);
}

TEST(rope_preserves_norms_and_relative_positions) {
    ModelSpec s = {0};
    s.rotary_dim = 16; s.head_dim = 16; s.rope_theta = 10000; s.max_pos = 128; s.rope_factor = 1;
    float inv[8];
    float af = rope_inv_freq(&s, 10, inv);
    CHECK_NEAR(af, 1.0, 0);
    CHECK_NEAR(inv[0], 1.0, 1e-7);
    CHECK_NEAR(inv[1], powf(10000.f, -2.f / 16.f), 1e-7);
    for (int style = 0; style < 2; style++) {
        float q[16], k[16], q2[16], k2[16];
        for (int i = 0; i < 16; i++) { q[i] = sinf((float)i * 1.3f) + 0.1f; k[i] = cosf((float)i * 0.7f); }
        double n0 = 0, n1 = 0;
        for (int i = 0; i < 16; i++) n0 += q[i] * q[i];
        memcpy(q2, q, sizeof q); memcpy(k2, k, sizeof k);
        rope_apply(q2, 16, (RopeStyle)style, inv, 1.0f, 7);
        for (int i = 0; i < 16; i++) n1 += q2[i] * q2[i];
        CHECK_NEAR(n0, n1, 1e-4);
        /* q at 7 · k at 3 equals q at 14 · k at 10 (depends only on the distance) */
        rope_apply(k2, 16, (RopeStyle)style, inv, 1.0f, 3);
        float q3[16], k3[16];
        memcpy(q3, q, sizeof q); memcpy(k3, k, sizeof k);
        rope_apply(q3, 16, (RopeStyle)style, inv, 1.0f, 14);
        rope_apply(k3, 16, (RopeStyle)style, inv, 1.0f, 10);
        double d1 = 0, d2 = 0;
        for (int i = 0; i < 16; i++) { d1 += q2[i] * k2[i]; d2 += q3[i] * k3[i]; }
        CHECK_NEAR(d1, d2, 1e-4);
    }
}

TEST(kv_bytes_follow_deepseek_v2_table1) {
    ModelSpec s = {0};
    s.n_heads = 32; s.n_kv_heads = 8; s.head_dim = 128; s.n_layers = 2;
    s.attn_kind = ATTN_GQA;
    CHECK_EQ_INT(spec_kv_elems_per_token_layer(&s), 2 * 8 * 128);
    CHECK_EQ_INT(kv_elems_as(&s, ATTN_MHA, 0), 2 * 32 * 128);
    CHECK_EQ_INT(kv_elems_as(&s, ATTN_MQA, 0), 2 * 128);
    CHECK_EQ_INT(kv_elems_as(&s, ATTN_MLA, 0), 4 * 128 + 64);   /* d_c = 4 d_h, d_h^R = d_h/2 */
    ModelSpec d = {0};
    d.family = ARCH_DEEPSEEK; d.attn_kind = ATTN_MLA; d.kv_lora_rank = 512; d.qk_rope_head_dim = 64;
    d.qk_nope_head_dim = 128; d.n_heads = 128;
    CHECK_EQ_INT(spec_kv_elems_per_token_layer(&d), 576);        /* DeepSeek-V2/V3: 512 + 64 */
    /* and the engine's cache really holds that many floats per token */
    const char *dirs[] = {"tests/fixtures/models/deepseek_v3", "tests/fixtures/models/llama-f16-mqa", "tests/fixtures/models/llama-legacy-f32", "assets/models/story-mla", "assets/models/story-gqa"};
    int tested = 0;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        Err e = {0};
        Model *m = model_load(dirs[i], false, &e);
        if (!m) continue;
        Engine *en = engine_new(m, 8, &e);
        if (en) {
            size_t want = spec_kv_elems_per_token_layer(&m->spec) * (size_t)m->spec.n_layers * sizeof(float);
            CHECK_EQ_INT(engine_kv_bytes_per_token(en), want);
            int t = 0;
            engine_forward(en, &t, 1, false, &e);
            engine_forward(en, &t, 1, false, &e);
            CHECK_EQ_INT(engine_kv_bytes(en), 2 * want);
            tested++;
        }
        engine_free(en);
        model_free(m);
    }
    (void)tested;
}

/* ---- bundled models: greedy continuation and eval loss against transformers ------------- */

TEST(bundled_models_match_their_training_time_references) {
    const char *names[] = {"story-mha", "story-gqa", "story-mqa", "story-mla", "story-gpt2", "story-moe"};
    int found = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[256], rp[300];
        snprintf(dir, sizeof dir, "assets/models/%s", names[i]);
        snprintf(rp, sizeof rp, "%s/reference.json", dir);
        cJSON *ref = test_read_json(rp);
        if (!ref) continue;
        found++;
        int pids[256], want[256];
        int np = json_ints(cJSON_GetObjectItem(ref, "prompt_ids"), pids, 256);
        int nw = json_ints(cJSON_GetObjectItem(ref, "greedy_ids"), want, 256);
        Err e = {0};
        Model *m = model_load(dir, false, &e);
        CHECK_MSG(m != NULL, "%s: %s", dir, e.msg);
        if (!m) { cJSON_Delete(ref); continue; }
        Engine *en = engine_new(m, 0, &e);
        REQUIRE(en);
        float *lg = engine_forward(en, pids, np, false, &e);
        int ok = 0;
        for (int k = 0; k < nw && lg; k++) {
            int t = argmax(lg, m->spec.vocab_size);
            if (t != want[k]) break;
            ok++;
            lg = engine_forward(en, &t, 1, false, &e);
        }
        CHECK_MSG(ok == nw, "%s: %d of %d greedy tokens match transformers", names[i], ok, nw);
        engine_free(en);
        model_free(m);
        /* eval through the CLI (tokenizer + engine), against the loss transformers computed */
        const cJSON *ev = cJSON_GetObjectItem(ref, "eval");
        const cJSON *file = cJSON_GetObjectItem(ev, "file"), *loss = cJSON_GetObjectItem(ev, "loss");
        const cJSON *ntok = cJSON_GetObjectItem(ev, "tokens");
        if (cJSON_IsString(file) && cJSON_IsNumber(loss)) {
            char cmd[1024], *out = NULL;
            snprintf(cmd, sizeof cmd, "%s eval --model %s --text-file %s --json", test_bin(), dir, file->valuestring);
            int rc = test_run(cmd, &out, 0);
            CHECK_EQ_INT(rc, 0);
            cJSON *j = out ? cJSON_Parse(out) : NULL;
            CHECK_MSG(j != NULL, "%s: eval printed no JSON: %s", names[i], out ? out : "");
            if (j) {
                double l = cJSON_GetObjectItem(j, "loss")->valuedouble;
                CHECK_MSG(fabs(l - loss->valuedouble) < 1e-3, "%s: eval loss %.6f, transformers %.6f", names[i], l, loss->valuedouble);
                if (cJSON_IsNumber(ntok)) CHECK_EQ_INT(cJSON_GetObjectItem(j, "tokens")->valueint, ntok->valueint);
                cJSON_Delete(j);
            }
            free(out);
        }
        cJSON_Delete(ref);
    }
    if (!found) SKIP("no bundled models in assets/models");
    CHECK_EQ_INT(found, 6);
}

/* ---- family.json: the measured architecture family (assets/models/train/train.py) -------- */

static const cJSON *family_seed(const cJSON *variant, int seed) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(variant, "seeds"))
        if (cJSON_GetObjectItem(s, "seed") && cJSON_GetObjectItem(s, "seed")->valueint == seed) return s;
    return NULL;
}

/* Every bundled checkpoint is one seed of a family.json variant. The training script measured all
 * of valid.txt on the GPU, and transformers measured it again at bundling time (reference.json:
 * valid); both must agree within 0.005 bits/byte. The C engine then re-measures a prefix of
 * valid.txt here (the whole file takes minutes on two cores; docs/models.md has that run) and must
 * give transformers' loss on it. */
TEST(bundled_models_match_family_json) {
    cJSON *fam = test_read_json("assets/models/family.json");
    if (!fam) SKIP("no assets/models/family.json");
    const cJSON *vars = cJSON_GetObjectItem(fam, "variants");
    REQUIRE(cJSON_IsArray(vars));
    CHECK_MSG(cJSON_GetArraySize(vars) >= 10, "family.json has %d variants, want >= 10", cJSON_GetArraySize(vars));
    const char *sd = test_shared_data();
    int bundled = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vars) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(v, "name"));
        REQUIRE(name);
        /* intervals: the seed mean sits inside both of its intervals, with >= 3 seeds */
        const cJSON *seeds = cJSON_GetObjectItem(v, "seeds");
        CHECK_MSG(cJSON_GetArraySize(seeds) >= 3, "%s: %d seeds", name, cJSON_GetArraySize(seeds));
        double mean = cJSON_GetObjectItem(v, "bits_per_byte_mean")->valuedouble, sum = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, seeds) sum += cJSON_GetObjectItem(s, "bits_per_byte")->valuedouble;
        CHECK_NEAR(mean, sum / cJSON_GetArraySize(seeds), 1e-4);
        const char *ivs[] = {"ci95", "ci95_stories"};
        for (int k = 0; k < 2; k++) {
            const cJSON *ci = cJSON_GetObjectItem(v, ivs[k]);
            CHECK_MSG(cJSON_GetArraySize(ci) == 2 && cJSON_GetArrayItem(ci, 0)->valuedouble <= mean &&
                      mean <= cJSON_GetArrayItem(ci, 1)->valuedouble, "%s: %s does not hold the mean", name, ivs[k]);
        }
        const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(v, "bundled"));
        if (!b) continue;
        bundled++;
        char dir[256], rp[320];
        snprintf(dir, sizeof dir, "assets/models/%s", b);
        snprintf(rp, sizeof rp, "%s/reference.json", dir);
        cJSON *ref = test_read_json(rp);
        CHECK_MSG(ref != NULL, "%s: no reference.json", dir);
        if (!ref) continue;
        const cJSON *fv = cJSON_GetObjectItem(ref, "family");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fv, "variant")), name);
        const cJSON *fs = family_seed(v, cJSON_GetObjectItem(fv, "seed") ? cJSON_GetObjectItem(fv, "seed")->valueint : -1);
        const cJSON *valid = cJSON_GetObjectItem(ref, "valid");
        CHECK_MSG(fs && valid, "%s: no family seed or valid entry", b);
        if (fs && valid)
            CHECK_MSG(fabs(cJSON_GetObjectItem(fs, "bits_per_byte")->valuedouble -
                           cJSON_GetObjectItem(valid, "bits_per_byte")->valuedouble) < 0.005,
                      "%s: family.json %.5f vs transformers %.5f bits/byte", b,
                      cJSON_GetObjectItem(fs, "bits_per_byte")->valuedouble, cJSON_GetObjectItem(valid, "bits_per_byte")->valuedouble);
        const cJSON *pre = cJSON_GetObjectItem(ref, "valid_prefix");
        if (sd && pre) {
            char vp[512], td[1024], tp[1100];
            snprintf(vp, sizeof vp, "%s/tinystories/valid.txt", sd);
            Err e = {0};
            size_t len;
            char *text = file_read_all(vp, &len, 16u << 20, &e);
            int nb = cJSON_GetObjectItem(pre, "bytes")->valueint;
            bool made = text && test_tmpdir(td, sizeof td, "prefix");
            snprintf(tp, sizeof tp, "%s/valid-prefix.txt", made ? td : "");
            FILE *f = made ? fopen(tp, "wb") : NULL;
            if (f && (size_t)nb <= len) {
                fwrite(text, 1, (size_t)nb, f);
                fclose(f);
                char cmd[1024], *out = NULL;
                snprintf(cmd, sizeof cmd, "%s eval --model %s --text-file %s --json", test_bin(), dir, tp);
                CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
                cJSON *j = out ? cJSON_Parse(out) : NULL;
                CHECK_MSG(j != NULL, "%s: eval printed no JSON: %s", b, out ? out : "");
                if (j) {
                    CHECK_EQ_INT(cJSON_GetObjectItem(j, "tokens")->valueint, cJSON_GetObjectItem(pre, "tokens")->valueint);
                    CHECK_MSG(fabs(cJSON_GetObjectItem(j, "loss")->valuedouble - cJSON_GetObjectItem(pre, "loss")->valuedouble) < 1e-3,
                              "%s: C loss %.6f on the valid.txt prefix, transformers %.6f", b,
                              cJSON_GetObjectItem(j, "loss")->valuedouble, cJSON_GetObjectItem(pre, "loss")->valuedouble);
                    cJSON_Delete(j);
                }
                free(out);
            } else {
                CHECK_MSG(0, "%s: could not write the valid.txt prefix", b);
                if (f) fclose(f);
            }
            if (made && !test_rm_tree(td)) FAILF("cannot remove %s", td);
            free(text);
        }
        cJSON_Delete(ref);
    }
    CHECK_MSG(bundled >= 6, "%d bundled variants in family.json, want >= 6", bundled);
    cJSON_Delete(fam);
}

/* family.json is what `train.py assemble` makes from the per-run results kept beside the script
 * (nothing in it is typed in), and a family trained in two calls (some seeds in each, a GPU too
 * small for all of them at once) assembles to the same variants as one trained in one call; a run
 * found in both calls is refused. */
static bool write_json(const char *path, const cJSON *j) {
    char *s = cJSON_Print(j);
    FILE *f = s ? fopen(path, "wb") : NULL;
    bool ok = f && fputs(s, f) >= 0;
    if (f) ok = (fclose(f) == 0) && ok;
    free(s);
    return ok;
}

static cJSON *runs_of_seeds(const cJSON *doc, int seed, bool keep_seed, bool keep_bundles) {
    cJSON *d = cJSON_Duplicate(doc, true);
    cJSON *runs = cJSON_CreateArray();
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(doc, "runs"))
        if ((cJSON_GetObjectItem(r, "seed")->valueint == seed) == keep_seed)
            cJSON_AddItemToArray(runs, cJSON_Duplicate(r, true));
    cJSON_ReplaceItemInObject(d, "runs", runs);
    if (!keep_bundles) cJSON_ReplaceItemInObject(d, "bundles", cJSON_CreateObject());
    return d;
}

static void family_assembled_body(TestCtx *T_, const char *dir) {
    const char *runs = "assets/models/train/family-runs.json";
    cJSON *doc = test_read_json(runs), *fam = test_read_json("assets/models/family.json");
    char cmd[2048], a[1024], b[1024], f1[1024], f2[1024], *out = NULL;
    if (!doc || !fam || test_run("python3 -c 'import json, random, math' 2>/dev/null", &out, 0) != 0) {
        free(out);
        cJSON_Delete(doc);
        cJSON_Delete(fam);
        SKIP(!doc || !fam ? "no family-runs.json or family.json" : "no python3");
    }
    free(out);
    out = NULL;
    snprintf(f1, sizeof f1, "%s/one.json", dir);
    snprintf(f2, sizeof f2, "%s/two.json", dir);
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    snprintf(cmd, sizeof cmd, "python3 assets/models/train/train.py assemble --runs %s --out %s", runs, f1);
    CHECK_EQ_INT(test_run(cmd, &out, 1), 0);
    free(out);
    out = NULL;
    cJSON *one = test_read_json(f1);
    REQUIRE(one != NULL);
    CHECK_MSG(cJSON_Compare(one, fam, true), "assets/models/family.json differs from train.py assemble --runs %s", runs);
    /* seeds 0 and 1 in one call (with the bundles), seed 2 in another */
    cJSON *da = runs_of_seeds(doc, 2, false, true), *db = runs_of_seeds(doc, 2, true, false);
    REQUIRE(cJSON_GetArraySize(cJSON_GetObjectItem(db, "runs")) >= 10);
    REQUIRE(write_json(a, da) && write_json(b, db));
    snprintf(cmd, sizeof cmd, "python3 assets/models/train/train.py assemble --runs %s,%s --out %s", a, b, f2);
    CHECK_EQ_INT(test_run(cmd, &out, 1), 0);
    free(out);
    out = NULL;
    cJSON *two = test_read_json(f2);
    REQUIRE(two != NULL);
    CHECK_MSG(cJSON_Compare(cJSON_GetObjectItem(one, "variants"), cJSON_GetObjectItem(two, "variants"), true),
              "the variants assembled from two calls differ from those of one");
    CHECK_MSG(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetObjectItem(one, "training"), "seeds"),
                            cJSON_GetObjectItem(cJSON_GetObjectItem(two, "training"), "seeds"), true), "seeds differ");
    snprintf(cmd, sizeof cmd, "python3 assets/models/train/train.py assemble --runs %s,%s --out %s", a, a, f2);
    CHECK_MSG(test_run(cmd, &out, 1) != 0 && out && strstr(out, "in both"), "a run given twice: %s", out ? out : "");
    free(out);
    cJSON_Delete(one);
    cJSON_Delete(two);
    cJSON_Delete(da);
    cJSON_Delete(db);
    cJSON_Delete(doc);
    cJSON_Delete(fam);
}

TEST(family_json_is_assembled_from_its_runs) { test_in_tmpdir(T_, "family", family_assembled_body); }
