/* KV-cache precision: the what-if bytes (analysis/kvcalc.h, KV panel key p) at f32 / bf16 / fp8 / int4, and
 * the cache rounded through f16 / bf16 / q8_0 / q4_0 (engine/kvround.h: eval --kv-round, compare --kv-round-a/-b). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "analysis/kvcalc.h"
#include <math.h>
#include <cjson/cJSON.h>
#include "analysis/derived.h"
#include "core/dtype.h"
#include "engine/engine.h"
#include "engine/hooks.h"
#include "engine/kvround.h"
#include "engine/quant.h"

TEST(kv_precision_bytes_per_element) {
    CHECK_EQ_INT(kv_prec_bits(KVP_F32), 32);
    CHECK_EQ_INT(kv_prec_bits(KVP_BF16), 16);
    CHECK_EQ_INT(kv_prec_bits(KVP_FP8), 8);
    CHECK_EQ_INT(kv_prec_bits(KVP_INT4), 4);
    CHECK_STR(kv_prec_name(KVP_INT4), "int4");
    /* story-gqa: 96 elements per token and layer, 6 layers: 2,304 B/token in f32 ... 288 B in int4 */
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 32), 2304.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 16), 1152.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 8), 576.0, 0);
    CHECK_NEAR(kv_bytes_bits(96, 6, 1, 4), 288.0, 0);
    /* the f32 path agrees with kv_bytes at 4 bytes per element; an odd count of int4 elements is half bytes */
    CHECK_NEAR(kv_bytes_bits(108, 61, 4096, 32), kv_bytes(108, 61, 4096, 4), 0);
    CHECK_NEAR(kv_bytes_bits(3, 1, 1, 4), 1.5, 0);
}

TEST(kv_panel_cycles_the_precision_with_p) {
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("bundled models missing");
    const char *want[] = {"f32", "bf16", "fp8", "int4", "f32"};
    /* MHA row, B/token column, at each precision (384 elems x 6 layers) */
    const char *mha[] = {"9.00 KiB", "4.50 KiB", "2.25 KiB", "1.12 KiB", "9.00 KiB"};
    for (int k = 0; k < 5; k++) {
        char cmd[512], keys[8] = "", *out = NULL;
        for (int i = 0; i < k; i++) strcat(keys, "p");
        snprintf(cmd, sizeof cmd, "%s screenshot --model assets/models/story-gqa --panel kv --prompt \"Once upon a time\" "
                 "--size 100x30 --ascii%s%s", test_bin(), k ? " --keys " : "", keys);
        CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
        char col[64];
        snprintf(col, sizeof col, "B/tok %s", want[k]);
        CHECK_MSG(out && (strstr(out, want[k]) && strstr(out, col)), "precision %s not shown:\n%s", want[k], out ? out : "");
        const char *row = out ? strstr(out, "MHA ") : NULL;
        CHECK_MSG(row && strstr(row, mha[k]) && (size_t)(strstr(row, mha[k]) - row) < 90, "MHA bytes at %s: want %s", want[k], mha[k]);
        free(out);
    }
}

/* ---- --kv-round: the cache rounded through a smaller type (engine/kvround.h) ---------------- */

TEST(kv_round_matches_the_types_definitions) {
    DType t;
    CHECK(kv_round_parse("Q4_0", &t) && t == DT_Q4_0);
    CHECK(kv_round_parse("bf16", &t) && t == DT_BF16);
    CHECK(!kv_round_parse("q4_k", &t) && !kv_round_parse("fp8", &t) && !kv_round_parse("", &t));
    CHECK(!kv_round_supported(DT_Q4_K) && kv_round_supported(DT_F32));
    /* bf16: nearest, ties to even (1 + 2^-8 is halfway between 1 and 1 + 2^-7) */
    float b[4] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-9f, -2.0f - 0x1p-7f - 0x1p-9f, 65504.0f};
    kv_round_vec(DT_BF16, b, 4);
    CHECK_NEAR(b[0], 1.0, 0);
    CHECK_NEAR(b[1], 1.0 + 0x1p-7, 0);
    CHECK_NEAR(b[2], -2.0 - 0x1p-6, 0);       /* -2.0 - 0x1p-7 - 0x1p-9: 0.625 of a step, rounds up in magnitude */
    CHECK_NEAR(b[3], 65536.0, 0);
    /* f16: the engine's own conversion both ways */
    float h[3] = {0.1f, 70000.0f, 1e-6f};
    kv_round_vec(DT_F16, h, 3);
    CHECK_NEAR(h[0], f16_to_f32(f32_to_f16(0.1f)), 0);
    CHECK(h[0] != 0.1f && isinf(h[1]) && h[2] == f16_to_f32(f32_to_f16(1e-6f)) && h[2] != 1e-6f);
    /* q8_0 / q4_0: llama.cpp's reference blocks of 32; a vector of 24 is one block padded with zeros */
    float x[56], want[64], blk[64];
    unsigned char q[2 * 34];
    for (int i = 0; i < 56; i++) x[i] = sinf(0.7f * (float)i) * (1.0f + 0.1f * (float)i);
    const DType ts[2] = {DT_Q8_0, DT_Q4_0};
    for (int k = 0; k < 2; k++) {
        float y[56];
        memcpy(y, x, sizeof x);
        kv_round_vec(ts[k], y, 56);           /* blocks [0, 32) and [32, 56) + 8 zeros */
        memset(blk, 0, sizeof blk);
        memcpy(blk, x, sizeof(float) * 56);
        CHECK(quant_quantize(ts[k], blk, 64, q));
        quant_dequant(ts[k], q, 2, want);
        int same = 0, moved = 0;
        for (int i = 0; i < 56; i++) { same += y[i] == want[i]; moved += y[i] != x[i]; }
        CHECK_EQ_INT(same, 56);
        CHECK_MSG(moved > 40, "%s changed only %d of 56 values", kv_round_name(ts[k]), moved);
        float z[24];
        memcpy(z, x, sizeof z);
        kv_round_vec(ts[k], z, 24);
        memset(blk, 0, sizeof blk);
        memcpy(blk, x, sizeof(float) * 24);
        quant_quantize(ts[k], blk, 32, q);
        quant_dequant(ts[k], q, 1, want);
        CHECK(!memcmp(z, want, sizeof z));
    }
}

typedef struct { DType t; long values, bad; } KvSeen;

/* every value a cache of type t holds is a fixed point of the rounding */
static void kv_seen(void *ud, HookEvent *ev) {
    KvSeen *s = ud;
    long n = 1;
    for (int i = 0; i < ev->ndim; i++) n *= ev->shape[i];
    for (long i = 0; i < n; i++) {
        float v = ev->data[i], r = v;
        kv_round_vec(s->t, &r, 1);
        if (s->t == DT_BF16 || s->t == DT_F16) s->bad += r != v;
        s->values++;
    }
}

TEST(kv_round_reaches_the_cache_and_the_loss) {
    const char *dirs[] = {"assets/models/story-gqa", "assets/models/story-mla", "assets/models/story-gpt2"};
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("bundled models missing");
    int ids[40];
    for (int i = 0; i < 40; i++) ids[i] = (i * 37 + 11) % 2000 + 1;
    for (int d = 0; d < 3; d++) {
        Err e = {0};
        Model *m = model_load(dirs[d], false, &e);
        CHECK_MSG(m != NULL, "%s: %s", dirs[d], e.msg);
        if (!m) continue;
        /* bf16: what enters the cache (the append hook) is bf16-exact, prefill and decode */
        Hooks *h = hooks_new();
        KvSeen seen = {DT_BF16, 0, 0};
        CHECK(hooks_add(h, "blocks.*.kv.hook_append", NULL, kv_seen, &seen) >= 0);
        Engine *en = engine_new(m, 64, &e);
        CHECK(en && engine_set_kv_round(en, DT_BF16, &e) && engine_kv_round(en) == DT_BF16);
        CHECK(!engine_set_kv_round(en, DT_Q4_K, &e) && strstr(e.msg, "q4_0") && engine_kv_round(en) == DT_BF16);
        engine_set_hooks(en, h);
        CHECK(engine_forward(en, ids, 30, false, &e) && engine_forward(en, ids + 30, 1, false, &e));
        CHECK_MSG(seen.values > 0 && seen.bad == 0, "%s: %ld of %ld cached values not bf16", dirs[d], seen.bad, seen.values);
        engine_free(en);
        hooks_free(h);
        /* the loss: f32 is the plain engine's to the bit; q4_0 moves it, a little */
        double l0, l1, l2;
        long n0, n1, n2;
        CHECK(derived_eval_loss(m, ids, 40, 0, DT_F32, &l0, &n0, &e));
        Engine *plain = engine_new(m, 0, &e);
        float *lg = plain ? engine_forward(plain, ids, 40, true, &e) : NULL;
        double nll = 0;
        const int V = m->spec.vocab_size;
        for (int t = 0; lg && t < 39; t++) {
            const float *r = lg + (size_t)t * (size_t)V;
            float mx = r[0];
            for (int i = 1; i < V; i++) if (r[i] > mx) mx = r[i];
            double se = 0;
            for (int i = 0; i < V; i++) se += exp((double)(r[i] - mx));
            nll += (double)mx + log(se) - (double)r[ids[t + 1]];
        }
        CHECK_MSG(lg && nll / 39 == l0, "%s: eval at f32 %.9f, plain engine %.9f", dirs[d], l0, nll / 39);
        engine_free(plain);
        CHECK(derived_eval_loss(m, ids, 40, 0, DT_Q8_0, &l1, &n1, &e));
        CHECK(derived_eval_loss(m, ids, 40, 0, DT_Q4_0, &l2, &n2, &e));
        CHECK_MSG(l2 != l0 && fabs(l2 - l0) < 0.2 && fabs(l1 - l0) < fabs(l2 - l0), "%s: f32 %.6f q8_0 %.6f q4_0 %.6f",
                  dirs[d], l0, l1, l2);
        model_free(m);
    }
}

TEST(eval_kv_round_option) {
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("bundled models missing");
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s eval --model assets/models/story-gqa --text-file assets/models/eval.txt --kv-round q4_0 --json", test_bin());
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK_MSG(out && strstr(out, "\"kv_round\": \"q4_0\"") && strstr(out, "\"bits_per_byte\""), "%s", out ? out : "");
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s eval --model assets/models/story-gqa --text-file assets/models/eval.txt --kv-round q4_k", test_bin());
    CHECK(test_run(cmd, &out, 1) != 0);
    CHECK_MSG(out && strstr(out, "--kv-round") && strstr(out, "q4_k"), "%s", out ? out : "");
    free(out);
}

TEST(compare_kv_round_b_measures_the_rounded_cache) {
    if (!file_exists("assets/models/story-mla/model.safetensors")) SKIP("bundled models missing");
    const char *M = "assets/models/story-mla";
    char cmd[768], *out = NULL;
    double loss_eval = -1, mean_b = -2, mean_a = -3, kl = -1, kl0 = -1;
    snprintf(cmd, sizeof cmd, "%s eval --model %s --text-file assets/models/eval.txt --kv-round q4_0 --json", test_bin(), M);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    if (j) loss_eval = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "loss"));
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text-file assets/models/eval.txt --kv-round-b q4_0 --json",
             test_bin(), M, M);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    j = out ? cJSON_Parse(out) : NULL;
    if (j) {
        mean_a = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mean_loss_a"));
        mean_b = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mean_loss_b"));
        kl = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mean_kl_ab"));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kv_round_b")), "q4_0");
        CHECK(cJSON_GetObjectItem(j, "kv_round_a") == NULL);
    }
    cJSON_Delete(j);
    free(out);
    /* B's mean loss is eval's with the same rounding (same windows); A is the f32 cache */
    CHECK_MSG(fabs(mean_b - loss_eval) < 2e-6, "compare B %.6f, eval --kv-round q4_0 %.6f", mean_b, loss_eval);
    CHECK_MSG(kl > 1e-3 && mean_b > mean_a, "KL %.6f, losses %.6f %.6f", kl, mean_a, mean_b);
    snprintf(cmd, sizeof cmd, "%s compare --model %s --model %s --text-file assets/models/eval.txt --kv-round-a f32 --json",
             test_bin(), M, M);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    j = out ? cJSON_Parse(out) : NULL;
    if (j) kl0 = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "mean_kl_ab"));
    cJSON_Delete(j);
    free(out);
    CHECK_NEAR(kl0, 0.0, 0);
}
