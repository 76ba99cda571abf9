/* llmscope compare: per-token loss of two models and KL(A||B), against llmscope eval, against a
 * direct computation from llmscope logits, and its invariants (src/analysis/compare.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "analysis/compare.h"
#include "core/err.h"
#include "engine/engine.h"
#include "model/model.h"

#define MA "assets/models/story-gqa"
#define MB "assets/models/story-mqa"

static cJSON *run_json(const char *cmd, int *rc) {
    char *out = NULL;
    *rc = test_run(cmd, &out, 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    free(out);
    return j;
}

static double num(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int have_models(void) { return file_exists(MA "/model.safetensors") && file_exists(MB "/model.safetensors"); }

TEST(compare_row_matches_a_hand_computed_kl) {
    /* V = 3: p_A = softmax(0,1,2), p_B = softmax(2,1,0); KL = sum p_A ln(p_A/p_B) = (2-0)(p_A2 - p_A0) */
    const float la[3] = {0, 1, 2}, lb[3] = {2, 1, 0};
    double a, b, kl;
    compare_row(la, lb, 3, 1, &a, &b, &kl);
    double z = exp(0.0) + exp(1.0) + exp(2.0);
    double p0 = 1 / z, p2 = exp(2.0) / z;
    CHECK_NEAR(kl, 2 * (p2 - p0), 1e-12);
    CHECK_NEAR(a, log(z) - 1, 1e-12);
    CHECK_NEAR(b, log(z) - 1, 1e-12);
    compare_row(la, la, 3, 2, &a, &b, &kl);
    CHECK(kl == 0.0);
    CHECK(a == b);
}

TEST(compare_same_model_twice_gives_zero_kl_and_equal_losses) {
    if (!have_models()) SKIP("bundled models missing");
    char cmd[1024];
    int rc;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text-file assets/models/eval.txt --json", test_bin(), MA, MA);
    cJSON *j = run_json(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    REQUIRE(j);
    const cJSON *a = cJSON_GetObjectItem(j, "loss_a"), *b = cJSON_GetObjectItem(j, "loss_b"), *k = cJSON_GetObjectItem(j, "kl_ab");
    int n = cJSON_GetArraySize(a);
    CHECK(n > 400);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tokens")), n);
    for (int i = 0; i < n; i++) {
        CHECK(cJSON_GetArrayItem(a, i)->valuedouble == cJSON_GetArrayItem(b, i)->valuedouble);
        CHECK(cJSON_GetArrayItem(k, i)->valuedouble == 0.0);
    }
    CHECK(num(j, "mean_kl_ab") == 0.0);
    CHECK(num(j, "mean_loss_a") == num(j, "mean_loss_b"));
    cJSON_Delete(j);
}

/* Over a text of three windows (eval.txt three times, about 1,350 tokens), the mean losses equal
 * llmscope eval's for each model, and KL >= 0 everywhere. */
static void mean_losses_equal_eval(TestCtx *T_, const char *dir) {
    Err e = {0};
    size_t len;
    char *t = file_read_all("assets/models/eval.txt", &len, 1u << 20, &e);
    REQUIRE(t);
    char path[1100];
    snprintf(path, sizeof path, "%s/text.txt", dir);
    FILE *f = fopen(path, "wb");
    if (!f) free(t);
    REQUIRE(f);
    for (int i = 0; i < 3; i++) { fwrite(t, 1, len, f); fputs("\n\n", f); }
    fclose(f);
    free(t);
    char cmd[1024];
    int rc;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text-file %s --json", test_bin(), MA, MB, path);
    cJSON *c = run_json(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    const char *models[2] = {MA, MB}, *keys[2] = {"mean_loss_a", "mean_loss_b"};
    for (int m = 0; m < 2 && c; m++) {
        snprintf(cmd, sizeof cmd, "%s eval --model %s --text-file %s --json", test_bin(), models[m], path);
        cJSON *ev = run_json(cmd, &rc);
        CHECK_EQ_INT(rc, 0);
        if (!ev) { CHECK(0); continue; }
        CHECK_EQ_INT((int)num(ev, "tokens"), cJSON_GetArraySize(cJSON_GetObjectItem(c, "loss_a")));
        CHECK(num(ev, "tokens") > 1100);
        CHECK_NEAR(num(c, keys[m]), num(ev, "loss"), 2e-6);
        cJSON_Delete(ev);
    }
    if (c) {
        const cJSON *k;
        int neg = 0, pos = 0;
        cJSON_ArrayForEach(k, cJSON_GetObjectItem(c, "kl_ab")) { if (k->valuedouble < 0) neg++; if (k->valuedouble > 0) pos++; }
        CHECK_EQ_INT(neg, 0);
        CHECK(pos > 0);   /* two different models do differ */
    }
    cJSON_Delete(c);
}

TEST(compare_mean_losses_equal_eval) {
    if (!have_models()) SKIP("bundled models missing");
    test_in_tmpdir(T_, "compare", mean_losses_equal_eval);
}

/* KL and losses from compare equal the same quantities computed here from llmscope logits. */
TEST(compare_kl_equals_direct_computation_from_logits) {
    if (!have_models()) SKIP("bundled models missing");
    char cmd[1024];
    int rc;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text \"Once upon a time, a cat sat.\" --json", test_bin(), MA, MB);
    cJSON *c = run_json(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    REQUIRE(c);
    const cJSON *ids = cJSON_GetObjectItem(c, "ids"), *it;
    int n = cJSON_GetArraySize(ids);
    REQUIRE(n >= 5 && n < 60);
    char list[1024] = "0";   /* BOS = 0 for the story models */
    cJSON_ArrayForEach(it, ids) { char b[16]; snprintf(b, sizeof b, ",%d", it->valueint); strncat(list, b, sizeof list - strlen(list) - 1); }
    cJSON *lg[2];
    const char *models[2] = {MA, MB};
    for (int m = 0; m < 2; m++) {
        snprintf(cmd, sizeof cmd, "%s logits --model %s --ids %s --json", test_bin(), models[m], list);
        lg[m] = run_json(cmd, &rc);
        CHECK_EQ_INT(rc, 0);
    }
    if (lg[0] && lg[1]) {
        for (int t = 0; t < n; t++) {
            const cJSON *ra = cJSON_GetArrayItem(cJSON_GetObjectItem(lg[0], "logits"), t);
            const cJSON *rb = cJSON_GetArrayItem(cJSON_GetObjectItem(lg[1], "logits"), t);
            int V = cJSON_GetArraySize(ra);
            double ma = -INFINITY, mb = -INFINITY, sa = 0, sb = 0;
            for (int v = 0; v < V; v++) {
                ma = fmax(ma, cJSON_GetArrayItem(ra, v)->valuedouble);
                mb = fmax(mb, cJSON_GetArrayItem(rb, v)->valuedouble);
            }
            for (int v = 0; v < V; v++) {
                sa += exp(cJSON_GetArrayItem(ra, v)->valuedouble - ma);
                sb += exp(cJSON_GetArrayItem(rb, v)->valuedouble - mb);
            }
            double kl = 0;
            for (int v = 0; v < V; v++) {
                double pa = exp(cJSON_GetArrayItem(ra, v)->valuedouble - ma) / sa;
                double pb = exp(cJSON_GetArrayItem(rb, v)->valuedouble - mb) / sb;
                if (pa > 0) kl += pa * log(pa / pb);
            }
            int next = cJSON_GetArrayItem(ids, t)->valueint;
            double la = -(cJSON_GetArrayItem(ra, next)->valuedouble - ma - log(sa));
            CHECK_NEAR(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "kl_ab"), t)->valuedouble, kl, 2e-6);
            CHECK_NEAR(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "loss_a"), t)->valuedouble, la, 2e-6);
        }
    }
    cJSON_Delete(lg[0]);
    cJSON_Delete(lg[1]);
    cJSON_Delete(c);
}

static void refuses_without_shared_tokenizer(TestCtx *T_, const char *dir) {
    char cmd[2048], *out = NULL;
    /* the same model with two token ids swapped in its tokenizer.json: "Once" (387) and " upon" (388) */
    snprintf(cmd, sizeof cmd, "cp " MA "/config.json " MA "/model.safetensors %s/ && "
             "sed -e 's/\"Once\": 387/\"Once\": 99999/' -e 's/\"\\xc4\\xa0upon\": 388/\"\\xc4\\xa0upon\": 387/' "
             "-e 's/\"Once\": 99999/\"Once\": 388/' " MA "/tokenizer.json > %s/tokenizer.json && "
             "! cmp -s " MA "/tokenizer.json %s/tokenizer.json", dir, dir, dir);
    int prep = test_run(cmd, &out, 1);
    free(out);
    out = NULL;
    CHECK_MSG(prep == 0, "could not build the swapped tokenizer");
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text \"Once upon a time\" --json", test_bin(), MA, dir);
    int rc = test_run(cmd, &out, 1);
    CHECK(rc != 0);
    CHECK_MSG(out && strstr(out, "share a tokenizer"), "message: %s", out ? out : "");
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --text hi", test_bin(), MA);
    rc = test_run(cmd, &out, 1);
    CHECK_EQ_INT(rc, 2);
    CHECK(out && strstr(out, "two --model"));
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text-file /nonexistent/x.txt", test_bin(), MA, MA);
    rc = test_run(cmd, &out, 1);
    CHECK_EQ_INT(rc, 1);
    CHECK(out && strstr(out, "/nonexistent/x.txt"));
    free(out);
}

TEST(compare_refuses_models_without_a_shared_tokenizer_and_bad_arguments) {
    if (!have_models()) SKIP("bundled models missing");
    test_in_tmpdir(T_, "cmptok", refuses_without_shared_tokenizer);
}

/* engine_grow (the band's engines when the text outgrows them): the cached tokens are kept, and
 * the logits after growing are bit for bit those of an engine created with the larger context
 * and given the same calls; for standard (head-major K/V), MLA (token-major latents) and learned
 * positions (clamped to max_pos). */
TEST(engine_grow_keeps_the_cache) {
    const char *models[] = {"assets/models/story-gqa", "assets/models/story-mla", "assets/models/story-gpt2"};
    int ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 37 + 11) % 2000;
    for (int k = 0; k < 3; k++) {
        char f[256];
        snprintf(f, sizeof f, "%s/model.safetensors", models[k]);
        if (!file_exists(f)) { fprintf(stderr, "    %s not available\n", models[k]); continue; }
        Err e = {0};
        Model *m = model_load(models[k], false, &e);
        REQUIRE(m);
        const int V = m->spec.vocab_size;
        Engine *g = engine_new(m, 16, &e), *ref = engine_new(m, 48, &e);
        REQUIRE(g && ref);
        float *lg = engine_forward(g, ids, 10, true, &e), *lr = engine_forward(ref, ids, 10, true, &e);
        REQUIRE(lg && lr);
        CHECK(!engine_forward(g, ids, 7, false, &e));       /* 10 + 7 > 16: full */
        err_clear(&e);
        CHECK(engine_grow(g, 8, &e) && engine_max_ctx(g) == 16);   /* not larger: unchanged */
        REQUIRE(engine_grow(g, 48, &e));
        CHECK_EQ_INT(engine_max_ctx(g), 48);
        CHECK_EQ_INT(engine_pos(g), 10);
        lg = engine_forward(g, ids + 10, 30, true, &e);
        float *keep = lg ? malloc(sizeof(float) * 30 * (size_t)V) : NULL;
        REQUIRE(keep);
        memcpy(keep, lg, sizeof(float) * 30 * (size_t)V);
        lr = engine_forward(ref, ids + 10, 30, true, &e);
        REQUIRE(lr);
        CHECK_MSG(!memcmp(keep, lr, sizeof(float) * 30 * (size_t)V), "%s: the grown engine's logits differ", models[k]);
        free(keep);
        /* and decoding one token at a time after a second growth */
        engine_truncate(g, 20);
        engine_truncate(ref, 20);
        REQUIRE(engine_grow(g, 600, &e));
        CHECK_EQ_INT(engine_max_ctx(g), m->spec.pos == POS_LEARNED ? m->spec.max_pos : 600);
        for (int t = 20; t < 40; t++) {
            lg = engine_forward(g, ids + t, 1, false, &e);
            REQUIRE(lg);
            float first = lg[0], mid = lg[V / 2];
            lr = engine_forward(ref, ids + t, 1, false, &e);
            REQUIRE(lr);
            CHECK(first == lr[0] && mid == lr[V / 2]);
        }
        engine_free(g);
        engine_free(ref);
        model_free(m);
    }
}

/* The Attention panel's title names a layer's sliding window. In compare mode (two panels of 60
 * columns at 120x40) the title with the window did not fit, and the shorter titles tried next had
 * none: the window was never said, though "Attention · L0 head 0 · GQA kv head 0 · window 5" fits.
 * gemma3 (window 5 in layers 0, 1, 3) beside gemma3-legacy-bf16 (window 4 in layers 0, 1, 3); in
 * layer 2 both attend to every key and say nothing. */
TEST(compare_attention_title_names_the_window) {
    if (access(test_bin(), X_OK) || access("tests/fixtures/models/gemma3/config.json", R_OK)) SKIP("needs %s and the gemma3 fixtures", test_bin());
    static const struct { const char *size; int layer; const char *a, *b; } cases[] = {
        {"120x40", 0, "window 5", "window 4"}, {"100x30", 0, "window 5", "window 4"}, {"120x40", 2, NULL, NULL}, {"120x40", 3, "window 5", "window 4"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s screenshot --model tests/fixtures/models/gemma3 --compare tests/fixtures/models/gemma3-legacy-bf16 "
                 "--ids 1,5,9,13,17,21,25,29 --full --size %s --layer %d", test_bin(), cases[i].size, cases[i].layer);
        int rc = test_run(cmd, &out, 1);
        REQUIRE(out);
        /* the first line with two Attention titles */
        const char *ln = strstr(out, "\xe2\x94\x8c\xe2\x94\x80 Attention");
        const char *eol = ln ? strchr(ln, '\n') : NULL;
        char line[2048] = "";
        if (ln) snprintf(line, sizeof line, "%.*s", (int)(eol ? eol - ln : (long)strlen(ln)), ln);
        const char *second = ln ? strstr(line + 3, "\xe2\x94\x8c\xe2\x94\x80 Attention") : NULL;
        CHECK_MSG(rc == 0 && second, "%s layer %d: status %d, no two titles in '%s'", cases[i].size, cases[i].layer, rc, line);
        if (second) {
            char left[2048];
            snprintf(left, sizeof left, "%.*s", (int)(second - line), line);
            CHECK_MSG(cases[i].a ? strstr(left, cases[i].a) != NULL : strstr(left, "window") == NULL, "%s layer %d, A: '%s'", cases[i].size,
                      cases[i].layer, left);
            CHECK_MSG(cases[i].b ? strstr(second, cases[i].b) != NULL : strstr(second, "window") == NULL, "%s layer %d, B: '%s'", cases[i].size,
                      cases[i].layer, second);
        }
        free(out);
    }
}
