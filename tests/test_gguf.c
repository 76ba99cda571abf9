/* GGUF files made by llama.cpp's own tools (tests/fixtures/gguf, README.md there):
 *  - dequantization bit for bit equal to llama.cpp's (hashes of the F32 files that
 *    llama-quantize --allow-requantize wrote from each quantized file: twins.json);
 *  - F32/BF16/F16 files give the Hugging Face checkpoint's logits and greedy ids (reference.json,
 *    transformers): qwen2, qwen3, qwen3moe (every layer MoE), deepseek2 (MLA + shared expert);
 *  - on quantized files, decode (dot products on the quantized blocks) gives the logits of
 *    prefill (rows dequantized into sgemm, i.e. the F32 twin's weights) within 1e-4 of the
 *    largest logit, and greedy generation picks the same ids;
 *  - the tokenizer read from the file gives llama-tokenize's ids (tokenize.json).
 * Malformed files are in test_malformed.c; the parser is fuzzed by tests/fuzz/fuzz_gguf.c. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "engine/engine.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "gguf_fx.h"
#include "model/tensorfile.h"
#include "session/session.h"
#include "tokenizer/tokenizer.h"

#define FX "tests/fixtures/gguf"

static uint64_t fnv64(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

TEST(gguf_parse_fixture_metadata) {
    Err e = {0};
    Mapped *mp = mapped_open(FX "/qwen2/qwen2-Q4_K_M.gguf", &e);
    if (!mp) SKIP("%s", e.msg);
    GgufFile *g = gguf_parse(mapped_data(mp), mapped_size(mp), "qwen2-Q4_K_M.gguf", &e);
    REQUIRE(g);
    CHECK_EQ_INT(g->version, 3);
    CHECK_EQ_INT(g->alignment, 32);
    char s[64];
    CHECK(gguf_get_str(g, "general.architecture", s, sizeof s));
    CHECK_STR(s, "qwen2");
    CHECK(gguf_get_str(g, "tokenizer.ggml.model", s, sizeof s));
    CHECK_STR(s, "gpt2");
    const GgufKV *tok = gguf_find(g, "tokenizer.ggml.tokens");
    REQUIRE(tok && tok->type == GGUF_ARRAY && tok->arr_type == GGUF_STRING);
    CHECK_EQ_INT(tok->arr_n, 320);
    CHECK(tok->arr_strs[48].len == 1 && tok->arr_strs[48].s[0] == 'O');
    int64_t v;
    CHECK(gguf_get_int(g, "qwen2.embedding_length", &v) && v == 256);
    const GgufTensor *t = gguf_find_tensor(g, "blk.0.ffn_down.weight");
    REQUIRE(t);
    const char *tn;
    CHECK(ggml_type_info(t->type, &tn, NULL, NULL));
    CHECK(!strcmp(tn, "Q6_K") || !strcmp(tn, "Q4_K"));   /* Q4_K_M keeps some ffn_down in Q6_K */
    CHECK_EQ_INT(t->ne[0], 256);
    CHECK_EQ_INT((t->data - mapped_data(mp)) % 32, 0);
    gguf_free(g);
    mapped_close(mp);
}

/* Every tensor of every kept file, dequantized by us, hashes as llama.cpp's F32 twin. */
TEST(gguf_dequant_bit_exact_vs_llama_cpp) {
    const char *models[] = {"qwen2", "llama", "gpt2", "stories260K", "mixtral", "qwen3", "qwen3moe", "deepseek2"};
    int files = 0, tensors = 0;
    for (size_t mi = 0; mi < sizeof models / sizeof models[0]; mi++) {
        char p[512];
        snprintf(p, sizeof p, FX "/%s/twins.json", models[mi]);
        cJSON *tw = test_read_json(p);
        if (!tw) SKIP("%s missing", p);
        cJSON *file;
        cJSON_ArrayForEach(file, tw) {
            snprintf(p, sizeof p, FX "/%s/%s", models[mi], file->string);
            Err e = {0};
            Mapped *mp = mapped_open(p, &e);
            REQUIRE(mp);
            GgufFile *g = gguf_parse(mapped_data(mp), mapped_size(mp), p, &e);
            REQUIRE(g);
            files++;
            for (int64_t i = 0; i < g->n_tensors; i++) {
                const GgufTensor *t = &g->tensors[i];
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.s);
                const cJSON *h = cJSON_GetObjectItemCaseSensitive(file, name);
                CHECK_MSG(cJSON_IsString(h), "%s: %s not in twins.json", p, name);
                if (!cJSON_IsString(h)) continue;
                DType dt;
                const char *tn = "?";
                ggml_type_info(t->type, &tn, NULL, NULL);
                DType all[] = {DT_F32, DT_F16, DT_BF16, DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1, DT_Q8_0, DT_Q2_K, DT_Q3_K, DT_Q4_K, DT_Q5_K, DT_Q6_K, DT_Q8_K, DT_IQ4_NL, DT_IQ4_XS};
                bool found = false;
                for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
                    if (!strcmp(dtype_name(all[k]), tn)) { dt = all[k]; found = true; }
                CHECK_MSG(found, "%s: %s has type %s", p, name, tn);
                if (!found) continue;
                size_t n = (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
                float *buf = malloc(n * sizeof(float));
                REQUIRE(buf);
                Tensor tt = {t->data, dt, 1, (int)n};
                tensor_row_f32(&tt, 0, (int)n, buf);
                char hex[17];
                snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv64(buf, n * sizeof(float)));
                CHECK_MSG(!strcmp(hex, h->valuestring), "%s: %s (%s) dequantizes differently from llama.cpp (%s vs %s)",
                          p, name, tn, hex, h->valuestring);
                tensors++;
                free(buf);
            }
            gguf_free(g);
            mapped_close(mp);
        }
        cJSON_Delete(tw);
    }
    CHECK(files >= 33 && tensors > 420);
}

static float max_abs(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* ids and logits of reference.json */
static int ref_load(const char *model, int **ids, float **logits, int *V, int **greedy_prompt, int *np, int **greedy, int *ng) {
    char p[512];
    snprintf(p, sizeof p, FX "/%s/reference.json", model);
    cJSON *j = test_read_json(p);
    if (!j) return 0;
    const cJSON *ji = cJSON_GetObjectItem(j, "ids"), *jl = cJSON_GetObjectItem(j, "logits");
    int n = cJSON_GetArraySize(ji);
    *V = cJSON_GetArraySize(cJSON_GetArrayItem(jl, 0));
    *ids = malloc(sizeof(int) * (size_t)n);
    *logits = malloc(sizeof(float) * (size_t)n * (size_t)*V);
    for (int i = 0; i < n; i++) {
        (*ids)[i] = cJSON_GetArrayItem(ji, i)->valueint;
        const cJSON *row = cJSON_GetArrayItem(jl, i);
        for (int v = 0; v < *V; v++) (*logits)[(size_t)i * (size_t)*V + (size_t)v] = (float)cJSON_GetArrayItem(row, v)->valuedouble;
    }
    const cJSON *gp = cJSON_GetObjectItem(j, "greedy_prompt"), *gg = cJSON_GetObjectItem(j, "greedy");
    *np = cJSON_GetArraySize(gp);
    *ng = cJSON_GetArraySize(gg);
    *greedy_prompt = malloc(sizeof(int) * (size_t)*np);
    *greedy = malloc(sizeof(int) * (size_t)*ng);
    for (int i = 0; i < *np; i++) (*greedy_prompt)[i] = cJSON_GetArrayItem(gp, i)->valueint;
    for (int i = 0; i < *ng; i++) (*greedy)[i] = cJSON_GetArrayItem(gg, i)->valueint;
    cJSON_Delete(j);
    return n;
}

static int fx_argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

/* F32/BF16/F16 GGUF (weights exactly the checkpoint's, which was rounded to bf16) against
 * transformers: prefill logits within 1e-4 of the largest and the greedy continuation. */
static void check_equals_hf(TestCtx *T_, const char *model, const char *file, DType want) {
    int *ids, *gp, *gr, np, ng, V;
    float *ref;
    int n = ref_load(model, &ids, &ref, &V, &gp, &np, &gr, &ng);
    CHECK_MSG(n, "%s reference missing", model);
    if (!n) return;
    Err e = {0};
    char p[512];
    snprintf(p, sizeof p, FX "/%s", file);
    Model *m = model_load(p, false, &e);
    CHECK_MSG(m, "%s: %s", p, e.msg);
    if (!m) { free(ids); free(ref); free(gp); free(gr); return; }
    CHECK_EQ_INT(m->spec.dtype, want);
    Engine *en = engine_new(m, 64, &e);
    REQUIRE(en);
    const float *lg = engine_forward(en, ids, n, true, &e);
    REQUIRE(lg);
    float mx = max_abs(ref, (size_t)n * (size_t)V), md = 0;
    for (size_t i = 0; i < (size_t)n * (size_t)V; i++) md = fabsf(lg[i] - ref[i]) > md ? fabsf(lg[i] - ref[i]) : md;
    CHECK_MSG(md <= 1e-4f * mx, "%s vs transformers: max diff %g, largest logit %g", file, md, mx);
    fprintf(stderr, "    %-34s vs transformers: max|diff| %.2e, max|logit| %.3g (%.1e)\n", file, md, mx, md / mx);
    engine_truncate(en, 0);
    int seq[64];
    memcpy(seq, gp, sizeof(int) * (size_t)np);
    const float *l = engine_forward(en, seq, np, false, &e);
    for (int i = 0; i < ng && l; i++) {
        seq[np + i] = fx_argmax(l, V);
        CHECK_MSG(seq[np + i] == gr[i], "%s: greedy step %d: %d, transformers %d", file, i, seq[np + i], gr[i]);
        l = engine_forward(en, &seq[np + i], 1, false, &e);
    }
    engine_free(en);
    model_free(m);
    free(ids); free(ref); free(gp); free(gr);
}

TEST(gguf_bf16_equals_hf_checkpoint) {
    if (!file_exists(FX "/qwen2/reference.json")) SKIP("qwen2 reference missing");
    check_equals_hf(T_, "qwen2", "qwen2/qwen2-BF16.gguf", DT_BF16);
}

/* Files written by llama.cpp's own converter of June 2026 (d8a24cc): qwen3 (q/k norms), qwen3moe
 * with every layer MoE and deepseek2 with attn_k_b/attn_v_b and key_length_mla; gemma3 (de3ff81). */
TEST(gguf_converter_files_equal_hf_checkpoint) {
    if (!file_exists(FX "/qwen3/reference.json")) SKIP("qwen3 reference missing");
    static const struct { const char *model, *file; DType dt; } cases[] = {
        {"qwen3", "qwen3/qwen3-F32.gguf", DT_F32}, {"qwen3", "qwen3/qwen3-F16.gguf", DT_F16},
        {"qwen3", "qwen3/qwen3-BF16.gguf", DT_BF16}, {"qwen3moe", "qwen3moe/qwen3moe-BF16.gguf", DT_BF16},
        {"deepseek2", "deepseek2/deepseek2-BF16.gguf", DT_BF16}, {"deepseek2", "deepseek2/deepseek2-fused-BF16.gguf", DT_BF16},
        /* llama.cpp de3ff81's converter (September 2026): Gemma 3, norms stored with the 1 added, a
         * window in 6 of 7 layers (llama.cpp's assumed pattern 6), rope.freq_base_swa */
        {"gemma3", "gemma3/gemma3-BF16.gguf", DT_BF16},
        /* Gemma 2 (caps 5 and 3, window in even layers) and Gemma 1, the same converter */
        {"gemma2", "gemma2/gemma2-BF16.gguf", DT_BF16}, {"gemma", "gemma/gemma-BF16.gguf", DT_BF16}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_equals_hf(T_, cases[i].model, cases[i].file, cases[i].dt);
}

/* Gemma 2/3 metadata that the engine read as something else: a RoPE base of 0 or below in
 * rope.freq_base_swa ran the sliding layers with the full layers' base (rope.freq_base 0: inv_freq
 * inf), sliding_window_pattern 1 (no layer slides) kept a window, a soft-cap of 0 read as none.
 * Each key is added to the gemma2 (or gemma3) fixture, which does not have it. */
static void gemma_meta_body(TestCtx *T_, const char *dir) {
    static const struct { Kv kv; const char *err; } cases[] = {
        {{"gemma2.rope.freq_base_swa", GGUF_FLOAT32, "0"}, "\"gemma2.rope.freq_base_swa\" = 0 is out of range"},
        {{"gemma2.rope.freq_base_swa", GGUF_FLOAT32, "-10000"}, "\"gemma2.rope.freq_base_swa\" = -10000 is out of range"},
        {{"gemma2.rope.freq_base", GGUF_FLOAT32, "0"}, "\"gemma2.rope.freq_base\" = 0 is out of range"},
        {{"gemma2.attention.sliding_window_pattern", GGUF_UINT32, "1"}, NULL},
        /* a cap of 0 (llama.cpp divides by it) read as no cap */
        {{"gemma3.final_logit_softcapping", GGUF_FLOAT32, "0"}, "\"gemma3.final_logit_softcapping\" = 0 must be above 0"},
        /* Gemma 1: llama.cpp's graph caps nothing, so a cap in the file is not applied (nor refused) */
        {{"gemma.final_logit_softcapping", GGUF_FLOAT32, "3"}, NULL},
    };
    char path[1100];
    snprintf(path, sizeof path, "%s/g.gguf", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *src = !strncmp(cases[i].kv.key, "gemma3.", 7) ? FX "/gemma3/gemma3-BF16.gguf"
                        : !strncmp(cases[i].kv.key, "gemma.", 6) ? FX "/gemma/gemma-BF16.gguf" : FX "/gemma2/gemma2-BF16.gguf";
        REQUIRE(gguf_with(src, path, &cases[i].kv, 1));
        Err e = {0};
        Model *m = model_load(path, false, &e);
        if (cases[i].err) CHECK_MSG(!m && strstr(e.msg, cases[i].err), "%s: loaded %d, '%s'", cases[i].kv.key, m != NULL, e.msg);
        else {
            CHECK_MSG(m, "%s: %s", cases[i].kv.key, e.msg);
            if (m) CHECK_MSG(m->spec.sliding_window == 0 && !m->spec.swa_per_layer && spec_layer_window(&m->spec, 0) == 0,
                             "%s: window %d, per layer %d", cases[i].kv.key, m->spec.sliding_window, m->spec.swa_per_layer);
            if (m && !strncmp(cases[i].kv.key, "gemma.", 6))
                CHECK_MSG(m->spec.final_softcap == 0, "%s: final cap %g", cases[i].kv.key, (double)m->spec.final_softcap);
        }
        model_free(m);
    }
}

TEST(gguf_gemma_metadata_refused_or_read_as_llama_cpp) {
    if (!file_exists(FX "/gemma2/gemma2-BF16.gguf")) SKIP("gemma2 fixture missing");
    test_in_tmpdir(T_, "gguf-gemma", gemma_meta_body);
}

/* The converter's --fuse-gate-up-exps writes the experts' gate and up as one ffn_gate_up_exps
 * (deepseek2-fused-*: the same checkpoint, see README.md): read as views into it, the model is
 * the separate-tensor file's to the bit (same logits, same expert bytes), in BF16 and Q4_K_M. */
TEST(gguf_fused_gate_up_exps_equal_separate) {
    int *ids, *gp, *gr, np, ng, V;
    float *ref;
    int n = ref_load("deepseek2", &ids, &ref, &V, &gp, &np, &gr, &ng);
    if (!n) SKIP("deepseek2 reference missing");
    static const char *pairs[2][2] = {{"deepseek2/deepseek2-BF16.gguf", "deepseek2/deepseek2-fused-BF16.gguf"},
                                      {"deepseek2/deepseek2-Q4_K_M.gguf", "deepseek2/deepseek2-fused-Q4_K_M.gguf"}};
    for (int k = 0; k < 2; k++) {
        Model *m[2];
        float *lg[2];
        for (int j = 0; j < 2; j++) {
            char p[512];
            snprintf(p, sizeof p, FX "/%s", pairs[k][j]);
            Err e = {0};
            m[j] = model_load(p, false, &e);
            CHECK_MSG(m[j], "%s: %s", p, e.msg);
            REQUIRE(m[j]);
            Engine *en = engine_new(m[j], 64, &e);
            REQUIRE(en);
            const float *l = engine_forward(en, ids, n, true, &e);
            REQUIRE(l);
            lg[j] = malloc(sizeof(float) * (size_t)n * (size_t)V);
            REQUIRE(lg[j]);
            memcpy(lg[j], l, sizeof(float) * (size_t)n * (size_t)V);
            engine_free(en);
        }
        double d = 0;
        for (size_t i = 0; i < (size_t)n * (size_t)V; i++) d = fmax(d, fabs((double)lg[0][i] - lg[1][i]));
        CHECK_MSG(d == 0, "%s vs %s: max |dlogit| %g", pairs[k][0], pairs[k][1], d);
        const ModelSpec *s = &m[1]->spec;
        int moe_layers = 0;
        for (int l = 0; l < s->n_layers; l++) {
            const LayerWeights *a = &m[0]->w.layers[l], *b = &m[1]->w.layers[l];
            if (!b->is_moe) continue;
            moe_layers++;
            for (int x = 0; x < s->n_experts; x++) {
                const Tensor *ga = &a->experts[x].gate, *ua = &a->experts[x].up, *gb = &b->experts[x].gate, *ub = &b->experts[x].up;
                const size_t bytes = (size_t)s->moe_d_ff * dtype_row_bytes(gb->dtype, (size_t)gb->cols);
                CHECK(gb->rows == s->moe_d_ff && ub->rows == s->moe_d_ff && gb->cols == s->d_model && gb->dtype == ga->dtype);
                CHECK((const char *)ub->data == (const char *)gb->data + bytes);   /* views, up right after gate */
                CHECK(!memcmp(ga->data, gb->data, bytes) && !memcmp(ua->data, ub->data, bytes));
            }
        }
        CHECK_EQ_INT(moe_layers, 1);
        fprintf(stderr, "    %-36s = %s: max |dlogit| %g, experts' gate/up bytes equal\n", pairs[k][1], pairs[k][0], d);
        for (int j = 0; j < 2; j++) { free(lg[j]); model_free(m[j]); }
    }
    free(ids); free(ref); free(gp); free(gr);
}

/* Decode (matvec on the quantized blocks) against prefill (rows dequantized exactly as
 * llama.cpp does, i.e. the F32 twin): logits within 1e-4 of the largest, same greedy ids. */
static void check_decode_vs_prefill(TestCtx *T_, const char *path, const int *ids, int n, int threads) {
    Err e = {0};
    Model *m = model_load(path, false, &e);
    CHECK_MSG(m, "%s: %s", path, e.msg);
    if (!m) return;
    const int V = m->spec.vocab_size;
    Engine *a = engine_new(m, 64, &e), *b = engine_new(m, 64, &e);
    REQUIRE(a && b);
    engine_set_threads(threads);
    const float *pre = engine_forward(a, ids, n, true, &e);
    REQUIRE(pre);
    float mx = max_abs(pre, (size_t)n * (size_t)V), md = 0;
    int same = 0;
    for (int t = 0; t < n; t++) {
        const float *l = engine_forward(b, &ids[t], 1, false, &e);
        REQUIRE(l);
        for (int v = 0; v < V; v++) {
            float d = fabsf(l[v] - pre[(size_t)t * (size_t)V + (size_t)v]);
            md = d > md ? d : md;
        }
        same += fx_argmax(l, V) == fx_argmax(pre + (size_t)t * (size_t)V, V);
    }
    CHECK_MSG(md <= 1e-4f * mx, "%s: decode vs prefill max diff %g (largest logit %g)", path, md, mx);
    fprintf(stderr, "    %-44s decode vs dequantized prefill: max|diff| %.2e, max|logit| %.3g (%.1e)\n",
            path + sizeof FX, md, mx, md / mx);
    CHECK_MSG(same == n, "%s: greedy picks differ at %d of %d positions", path, n - same, n);
    engine_set_threads(1);
    engine_free(a);
    engine_free(b);
    model_free(m);
}

TEST(gguf_quantized_decode_equals_dequantized) {
    int *ids, *gp, *gr, np, ng, V;
    float *ref;
    int n = ref_load("qwen2", &ids, &ref, &V, &gp, &np, &gr, &ng);
    if (!n) SKIP("qwen2 reference missing");
    const char *files[] = {"qwen2/qwen2-BF16.gguf", "qwen2/qwen2-Q8_0.gguf", "qwen2/qwen2-Q4_0.gguf", "qwen2/qwen2-Q5_0.gguf",
                           "qwen2/qwen2-Q4_K_M.gguf", "qwen2/qwen2-Q5_K_M.gguf", "qwen2/qwen2-Q6_K.gguf",
                           "qwen2/qwen2-Q2_K.gguf", "llama/llama-Q4_K_M.gguf", "gpt2/gpt2-Q4_K_M.gguf",
                           "stories260K/stories260K-F16.gguf", "mixtral/mixtral-Q4_K_M.gguf",
                           "qwen3/qwen3-F16.gguf", "qwen3/qwen3-BF16.gguf", "qwen3/qwen3-Q8_0.gguf", "qwen3/qwen3-Q4_0.gguf",
                           "qwen3/qwen3-Q4_K_M.gguf", "qwen3/qwen3-Q5_K_M.gguf", "qwen3/qwen3-Q6_K.gguf",
                           "qwen3/qwen3-IQ4_NL.gguf", "qwen3/qwen3-IQ4_XS.gguf",
                           "qwen3moe/qwen3moe-BF16.gguf", "qwen3moe/qwen3moe-Q8_0.gguf", "qwen3moe/qwen3moe-Q4_0.gguf",
                           "qwen3moe/qwen3moe-Q4_K_M.gguf", "qwen3moe/qwen3moe-Q5_K_M.gguf", "qwen3moe/qwen3moe-Q6_K.gguf",
                           "deepseek2/deepseek2-BF16.gguf", "deepseek2/deepseek2-Q8_0.gguf", "deepseek2/deepseek2-Q4_0.gguf",
                           "deepseek2/deepseek2-Q4_K_M.gguf", "deepseek2/deepseek2-Q5_K_M.gguf", "deepseek2/deepseek2-Q6_K.gguf",
                           "deepseek2/deepseek2-fused-Q4_K_M.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, FX "/%s", files[i]);
        int ids2[24];
        for (int k = 0; k < 24; k++) ids2[k] = ids[k] % (strstr(files[i], "stories") ? 512 : V);
        check_decode_vs_prefill(T_, p, ids2, 24, i % 2 ? 2 : 1);
    }
    free(ids); free(ref); free(gp); free(gr);
}

/* llama-arch files hold Q/K rows permuted for llama.cpp's RoPE: un-permuted at load, the
 * logits of the F32-equivalent prefill equal llama.cpp's twin and the model computes what
 * the HF checkpoint computes up to quantization: checked through the llama model's greedy
 * continuation being stable and its prefill being close to transformers' (Q4_K_M error). */
static void check_close_to_hf(TestCtx *T_, const char *model, const char *file, RopeStyle rope) {
    int *ids, *gp, *gr, np, ng, V;
    float *ref;
    int n = ref_load(model, &ids, &ref, &V, &gp, &np, &gr, &ng);
    REQUIRE(n);
    Err e = {0};
    char p[512];
    snprintf(p, sizeof p, FX "/%s", file);
    Model *m = model_load(p, false, &e);
    REQUIRE(m);
    CHECK_EQ_INT(m->spec.rope_style, rope);
    Engine *en = engine_new(m, 64, &e);
    REQUIRE(en);
    const float *lg = engine_forward(en, ids, n, true, &e);
    REQUIRE(lg);
    /* correlation with transformers' logits: ~1 when the rows are in the right order, near 0
     * if the permutation were left in (attention would mix the wrong dims) */
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < (size_t)n * (size_t)V; i++) { sxy += lg[i] * ref[i]; sxx += lg[i] * lg[i]; syy += ref[i] * ref[i]; }
    double corr = sxy / sqrt(sxx * syy);
    CHECK_MSG(corr > 0.97, "%s vs transformers: correlation %.4f", file, corr);
    engine_free(en);
    model_free(m);
    free(ids); free(ref); free(gp); free(gr);
}

TEST(gguf_llama_rows_unpermuted) {
    if (!file_exists(FX "/llama/reference.json")) SKIP("llama reference missing");
    check_close_to_hf(T_, "llama", "llama/llama-Q4_K_M.gguf", ROPE_HALF);
}

/* llama with experts (Mixtral): 3-D expert tensors sliced per expert, quantized */
TEST(gguf_llama_moe_close_to_hf) {
    if (!file_exists(FX "/mixtral/reference.json")) SKIP("mixtral reference missing");
    check_close_to_hf(T_, "mixtral", "mixtral/mixtral-Q4_K_M.gguf", ROPE_HALF);
}

/* Each file of a {"file": [[ids of line k], ...]} JSON against llama-tokenize's ids for the lines
 * of TEXTS (printf %b escapes \n, \t, \r); adds the texts compared to *checked. */
/* the ids of the file at p for each text of texts_path (escapes \n \t \r) against file's lists;
 * p NULL: FX/file's name */
static void check_file_ids(TestCtx *T_, const char *path, const cJSON *file, const char *texts, const char *texts_path,
                           int *checked) {
    Err e = {0};
    {
        char p[512];
        if (path) snprintf(p, sizeof p, "%s", path);
        else snprintf(p, sizeof p, FX "/%s", file->string);
        Tokenizer *tk = tokenizer_load_for_model(p, 0, &e);
        CHECK_MSG(tk, "%s: %s", p, e.msg);
        if (!tk) return;
        char *dup = strdup(texts), *save = NULL;
        if (!dup) { tokenizer_free(tk); return; }
        int k = 0;
        for (char *ln = strtok_r(dup, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), k++) {
            char text[1024];
            size_t o = 0;
            for (size_t i = 0; ln[i] && o < sizeof text - 1; i++) {
                if (ln[i] == '\\' && ln[i + 1] == 'n') { text[o++] = '\n'; i++; }
                else if (ln[i] == '\\' && ln[i + 1] == 't') { text[o++] = '\t'; i++; }
                else if (ln[i] == '\\' && ln[i + 1] == 'r') { text[o++] = '\r'; i++; }
                else text[o++] = ln[i];
            }
            text[o] = 0;
            const cJSON *want = cJSON_GetArrayItem(file, k);
            CHECK_MSG(want, "%s: no ids for line %d of %s", file->string, k + 1, texts_path);
            if (!want) break;
            int *ids = NULL;
            int n = tokenizer_encode(tk, text, o, true, &ids, &e);
            bool ok = n == cJSON_GetArraySize(want);
            for (int i = 0; ok && i < n; i++) ok = ids[i] == cJSON_GetArrayItem(want, i)->valueint;
            if (!ok) {
                char got[2048] = "", tmp[16];
                for (int i = 0; i < n && strlen(got) < 2000; i++) { snprintf(tmp, sizeof tmp, "%d,", ids[i]); strcat(got, tmp); }
                char *ws = cJSON_PrintUnformatted(want);
                FAILF("%s: \"%s\": got [%s] want %s", p, text, got, ws);
                free(ws);
            }
            T_->checks++;
            (*checked)++;
            free(ids);
        }
        CHECK_MSG(k == cJSON_GetArraySize(file), "%s: %d texts, %d id lists", file->string, k, cJSON_GetArraySize(file));
        free(dup);
        tokenizer_free(tk);
    }
}

static void check_llama_tokenize_ids(TestCtx *T_, const cJSON *files, const char *texts_path, int *checked) {
    Err e = {0};
    size_t tl;
    char *texts = file_read_all(texts_path, &tl, 1 << 20, &e);
    REQUIRE(texts);
    const cJSON *file;
    cJSON_ArrayForEach(file, files) check_file_ids(T_, NULL, file, texts, texts_path, checked);
    free(texts);
}

/* The tokenizer read from the GGUF against llama-tokenize on the same file. */
TEST(gguf_tokenizer_matches_llama_tokenize) {
    /* tokenize.json: llama.cpp c392e50's llama-tokenize; tokenize2.json: d8a24cc's (qwen3, qwen3moe,
     * deepseek2) */
    cJSON *jf[2] = {test_read_json(FX "/tokenize.json"), test_read_json(FX "/tokenize2.json")};
    if (!jf[0] || !jf[1]) { cJSON_Delete(jf[0]); cJSON_Delete(jf[1]); SKIP("tokenize.json or tokenize2.json missing"); }
    int checked = 0;
    for (int fi = 0; fi < 2; fi++) check_llama_tokenize_ids(T_, jf[fi], FX "/texts.txt", &checked);
    CHECK(checked >= 56);
    cJSON_Delete(jf[0]);
    cJSON_Delete(jf[1]);
}

/* tokenizer.ggml.pre "deepseek-llm", "deepseek-v3", "deepseek-coder", "smollm", "default", "falcon",
 * "viking" (lists of split regexes applied in sequence), "falcon3" (llama3's split, BOS by default:
 * its file does not say), "bloom", "jais", ... against llama.cpp's llama-tokenize (pretok.json,
 * make_pretok.py): a vocabulary whose merges cross every place the regexes may cut, so a piece cut
 * differently gives different ids */
TEST(gguf_tokenizer_deepseek_pretok_matches_llama_tokenize) {
    cJSON *j = test_read_json(FX "/pretok.json");
    if (!j) SKIP("pretok.json missing");
    int checked = 0;
    check_llama_tokenize_ids(T_, j, FX "/pretok_texts.txt", &checked);
    CHECK(checked == 19 * 22);
    cJSON_Delete(j);
}

/* a copy of the GGUF at src with tokenizer.ggml.pre set to pre (the key must be there, a string),
 * padded to 32 bytes; false when it cannot be written */
static bool write_with_pre(const char *src, const char *dst, const char *pre) {
    Err e = {0};
    size_t n;
    char *b = file_read_all(src, &n, 1 << 20, &e);
    if (!b) return false;
    static const char key[] = "\x12\0\0\0\0\0\0\0tokenizer.ggml.pre\x08\0\0\0";
    size_t kl = sizeof key - 1, at = 0;
    bool found = false;
    for (size_t i = 0; i + kl + 8 <= n && !found; i++)
        if (!memcmp(b + i, key, kl)) { at = i + kl; found = true; }
    uint64_t old = 0;
    if (found) memcpy(&old, b + at, 8);
    FILE *f = found && old <= n - at - 8 ? fopen(dst, "wb") : NULL;
    bool ok = f != NULL;
    if (f) {
        uint64_t len = strlen(pre);
        size_t total = at + 8 + len + (n - at - 8 - old);
        ok = fwrite(b, 1, at, f) == at && fwrite(&len, 8, 1, f) == 1 && fwrite(pre, 1, len, f) == len &&
             fwrite(b + at + 8 + old, 1, n - at - 8 - old, f) == n - at - 8 - old;
        for (; ok && total % 32; total++) ok = fputc(0, f) != EOF;
        ok = fclose(f) == 0 && ok;
    }
    free(b);
    return ok;
}

static cJSON *g_pretok, *g_aliases;

/* a copy of the GGUF at src with the bool keys add_eos_token and add_bos_token (true) put first,
 * padded to 32 bytes */
static bool write_with_bos_eos(const char *src, const char *dst) {
    Err e = {0};
    size_t n;
    char *b = file_read_all(src, &n, 1 << 20, &e);
    if (!b || n < 24) { free(b); return false; }
    uint64_t nkv;
    memcpy(&nkv, b + 16, 8);
    nkv += 2;
    FILE *f = fopen(dst, "wb");
    bool ok = f != NULL;
    if (f) {
        size_t total = n;
        ok = fwrite(b, 1, 16, f) == 16 && fwrite(&nkv, 8, 1, f) == 1;
        static const char *const keys[] = {"tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_bos_token"};
        for (int k = 0; k < 2 && ok; k++) {
            uint64_t kl = strlen(keys[k]);
            uint32_t type = 7;   /* BOOL */
            ok = fwrite(&kl, 8, 1, f) == 1 && fwrite(keys[k], 1, kl, f) == kl && fwrite(&type, 4, 1, f) == 1 && fputc(1, f) != EOF;
            total += 8 + kl + 4 + 1;
        }
        ok = ok && fwrite(b + 24, 1, n - 24, f) == n - 24;
        for (; ok && total % 32; total++) ok = fputc(0, f) != EOF;
        ok = fclose(f) == 0 && ok;
    }
    free(b);
    return ok;
}

static void pretok_eos_body(TestCtx *T_, const char *dir) {
    char dst[600];
    snprintf(dst, sizeof dst, "%s/eos.gguf", dir);
    REQUIRE(write_with_bos_eos(FX "/pretok/jais.gguf", dst));
    Err e = {0};
    size_t tl;
    char *texts = file_read_all(FX "/pretok_texts.txt", &tl, 1 << 20, &e);
    REQUIRE(texts);
    Tokenizer *tk = tokenizer_load_for_model(FX "/pretok/jais.gguf", 0, &e);
    REQUIRE(tk);
    int bos = tokenizer_token_id(tk, "<|begin|>"), eos = tokenizer_token_id(tk, "<|end|>");
    tokenizer_free(tk);
    REQUIRE(bos >= 0 && eos >= 0);
    cJSON *want = cJSON_CreateArray();
    const cJSON *ids;
    cJSON_ArrayForEach(ids, cJSON_GetObjectItemCaseSensitive(g_pretok, "pretok/jais.gguf")) {
        cJSON *w = cJSON_Duplicate(ids, 1);
        cJSON_InsertItemInArray(w, 0, cJSON_CreateNumber(bos));
        cJSON_AddItemToArray(w, cJSON_CreateNumber(eos));
        cJSON_AddItemToArray(want, w);
    }
    want->string = (char *)"eos.gguf";
    int checked = 0;
    check_file_ids(T_, dst, want, texts, FX "/pretok_texts.txt", &checked);
    want->string = NULL;
    CHECK(checked == 22);
    cJSON_Delete(want);
    free(texts);
}

/* tokenizer.ggml.add_eos_token true puts EOS after the text (make_pretok.py checked llama-tokenize
 * gives BOS, jais's ids, EOS for this file) */
TEST(gguf_tokenizer_add_eos_token) {
    g_pretok = test_read_json(FX "/pretok.json");
    if (!g_pretok) SKIP("pretok.json missing");
    test_in_tmpdir(T_, "pretok", pretok_eos_body);
    cJSON_Delete(g_pretok);
    g_pretok = NULL;
}



static void pretok_aliases_body(TestCtx *T_, const char *dir) {
    Err e = {0};
    size_t tl;
    char *texts = file_read_all(FX "/pretok_texts.txt", &tl, 1 << 20, &e);
    REQUIRE(texts);
    int checked = 0, names = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, g_aliases) {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(g_pretok, cJSON_GetStringValue(a));
        CHECK_MSG(file, "pretok_aliases.json: %s: no ids for %s in pretok.json", a->string, cJSON_GetStringValue(a));
        if (!file) continue;
        char src[512], dst[600];
        snprintf(src, sizeof src, FX "/%s", file->string);
        snprintf(dst, sizeof dst, "%s/alias.gguf", dir);
        CHECK_MSG(write_with_pre(src, dst, a->string), "cannot write %s from %s", dst, src);
        check_file_ids(T_, dst, file, texts, FX "/pretok_texts.txt", &checked);
        names++;
    }
    CHECK(names >= 40);
    CHECK(checked == names * 22);
    free(texts);
}

/* the other names of those pre-types (pretok_aliases.json: make_pretok.py got llama-tokenize's ids
 * for a file of each name, add_bos_token left out, and found them equal to the named file's) */
TEST(gguf_tokenizer_pretok_aliases_match_llama_tokenize) {
    g_pretok = test_read_json(FX "/pretok.json");
    g_aliases = test_read_json(FX "/pretok_aliases.json");
    if (!g_pretok || !g_aliases) {
        cJSON_Delete(g_pretok);
        cJSON_Delete(g_aliases);
        SKIP("pretok.json or pretok_aliases.json missing");
    }
    test_in_tmpdir(T_, "pretok", pretok_aliases_body);
    cJSON_Delete(g_pretok);
    cJSON_Delete(g_aliases);
    g_pretok = g_aliases = NULL;
}

static void pretok_refused_body(TestCtx *T_, const char *dir) {
    static const struct { const char *pre, *want; } cases[] = {
        {"youtu", "\\p{Lu}"}, {"kimi-k2", "hand-written"}, {"minicpm5", "not checked"}, {"gemma4", "U+2581"}, {"no-such-pre", "does not know it"}};
    char dst[600];
    snprintf(dst, sizeof dst, "%s/refused.gguf", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(write_with_pre(FX "/pretok/jais.gguf", dst, cases[i].pre));
        Err e = {0};
        Tokenizer *tk = tokenizer_load_for_model(dst, 0, &e);
        CHECK_MSG(!tk, "%s: loaded", cases[i].pre);
        tokenizer_free(tk);
        char quoted[80];
        snprintf(quoted, sizeof quoted, "tokenizer.ggml.pre \"%s\" is not supported", cases[i].pre);
        CHECK_MSG(strstr(e.msg, quoted) && strstr(e.msg, cases[i].want) && strstr(e.msg, "viking") &&
                  strstr(e.msg, "chatglm-bpe"), "%s: %s", cases[i].pre, e.msg);
    }
}

/* a pre-type llama.cpp knows but this tokenizer cannot reproduce, or one nobody knows, is refused
 * with why and the supported names */
TEST(gguf_tokenizer_pretok_refused_says_why) {
    test_in_tmpdir(T_, "pretok", pretok_refused_body);
}

/* ---- BOS/EOS and detokenization as llama.cpp's library (tokfix.json, make_tokfix.py) ---------- */
static cJSON *g_tokfix;

/* the k-th line (from 0) of tokfix_texts.txt with \n and \t unescaped, into out; false when absent */
static bool tokfix_text(const char *texts, int k, char *out, size_t cap) {
    const char *p = texts;
    for (int i = 0; i < k && p; i++) { p = strchr(p, '\n'); if (p) p++; }
    if (!p || !*p) return false;
    size_t o = 0;
    for (; *p && *p != '\n' && o + 1 < cap; p++) {
        if (p[0] == '\\' && p[1] == 'n') { out[o++] = '\n'; p++; }
        else if (p[0] == '\\' && p[1] == 't') { out[o++] = '\t'; p++; }
        else out[o++] = *p;
    }
    out[o] = 0;
    return true;
}

static int *json_ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int *ids = malloc(sizeof(int) * (size_t)(*n ? *n : 1));
    for (int i = 0; ids && i < *n; i++) ids[i] = cJSON_GetArrayItem(a, i)->valueint;
    return ids;
}

/* BOS/EOS ids (llama.cpp's defaults where the file names none: 1/2 sentencepiece, 11/11 BPE),
 * add_bos_token/add_eos_token for sentencepiece and BPE, the ids of llama_tokenize(add_special),
 * and llama_detokenize's text with and without special tokens: the space after BOS kept
 * (sentencepiece), spaces before punctuation and apostrophes cleaned up (pre "gpt-2", not "qwen2") */
TEST(gguf_tokenizer_bos_eos_detokenize_match_llama_cpp) {
    g_tokfix = test_read_json(FX "/tokfix.json");
    if (!g_tokfix) SKIP("tokfix.json missing");
    Err e = {0};
    size_t tl;
    char *texts = file_read_all(FX "/tokfix_texts.txt", &tl, 1 << 20, &e);
    REQUIRE(texts);
    int files = 0, checked = 0, ctl = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, g_tokfix) {
        if (!strcmp(f->string, "clean_spaces")) continue;
        char p[512];
        snprintf(p, sizeof p, FX "/%s", f->string);
        Tokenizer *tk = tokenizer_load_for_model(p, 0, &e);
        CHECK_MSG(tk, "%s: %s", p, e.msg);
        if (!tk) continue;
        files++;
        int bos = cJSON_GetObjectItemCaseSensitive(f, "bos")->valueint, eos = cJSON_GetObjectItemCaseSensitive(f, "eos")->valueint;
        CHECK_MSG(tokenizer_bos_id(tk) == bos && tokenizer_eos_id(tk) == eos, "%s: BOS %d EOS %d, llama.cpp %d %d", p,
                  tokenizer_bos_id(tk), tokenizer_eos_id(tk), bos, eos);
        const cJSON *want;
        int k = 0;
        cJSON_ArrayForEach(want, cJSON_GetObjectItemCaseSensitive(f, "texts")) {
            char text[512];
            CHECK_MSG(tokfix_text(texts, k, text, sizeof text), "tokfix_texts.txt: no line %d", k + 1);
            k++;
            int nw, *w = json_ids(cJSON_GetObjectItemCaseSensitive(want, "ids"), &nw), *ids = NULL;
            int n = tokenizer_encode(tk, text, strlen(text), true, &ids, &e);
            bool same = w && n == nw;
            for (int i = 0; same && i < n; i++) same = ids[i] == w[i];
            CHECK_MSG(same, "%s: \"%s\": %d ids, llama.cpp's %d (or different ids)", p, text, n, nw);
            static const char *const keys[2] = {"text", "text_special"};
            for (int sk = 0; w && sk < 2; sk++) {
                char *got = tokenizer_detokenize(tk, w, nw, sk == 0);
                const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, keys[sk]));
                CHECK_MSG(got && ref && !strcmp(got, ref), "%s: \"%s\": detokenized %s \"%s\", llama.cpp \"%s\"", p, text,
                          sk ? "with special tokens" : "", got ? got : "(null)", ref ? ref : "(null)");
                free(got);
            }
            free(w);
            free(ids);
            checked++;
        }
        /* sentencepiece files: texts with CONTROL, UNKNOWN and USER_DEFINED tokens written in them
         * (llama.cpp matches them, then encodes each text fragment with its own dummy-prefix space) */
        cJSON_ArrayForEach(want, cJSON_GetObjectItemCaseSensitive(f, "ctl")) {
            const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "in"));
            CHECK_MSG(in, "%s: ctl entry without \"in\"", p);
            if (!in) continue;
            int nw, *w = json_ids(cJSON_GetObjectItemCaseSensitive(want, "ids"), &nw), *ids = NULL;
            int n = tokenizer_encode(tk, in, strlen(in), true, &ids, &e);
            bool same = w && n == nw;
            for (int i = 0; same && i < n; i++) same = ids[i] == w[i];
            CHECK_MSG(same, "%s: \"%s\": %d ids, llama.cpp's %d (or different ids)", p, in, n, nw);
            static const char *const keys[2] = {"text", "text_special"};
            for (int sk = 0; w && sk < 2; sk++) {
                char *got = tokenizer_detokenize(tk, w, nw, sk == 0);
                const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, keys[sk]));
                CHECK_MSG(got && ref && !strcmp(got, ref), "%s: \"%s\": detokenized %s \"%s\", llama.cpp \"%s\"", p, in,
                          sk ? "with special tokens" : "", got ? got : "(null)", ref ? ref : "(null)");
                free(got);
            }
            free(w);
            free(ids);
            ctl++;
        }
        tokenizer_free(tk);
    }
    CHECK(files == 5 && checked == 5 * 11);
    CHECK_MSG(ctl == 3 * 5, "%d texts with control tokens checked, 15 expected", ctl);
    free(texts);
    cJSON_Delete(g_tokfix);
    g_tokfix = NULL;
}

/* sets the bool key tokenizer.ggml.add_bos_token of the GGUF at path to v (in place) */
static bool set_add_bos(const char *path, bool v) {
    Err e = {0};
    size_t n;
    char *b = file_read_all(path, &n, 1 << 20, &e);
    static const char key[] = "tokenizer.ggml.add_bos_token\x07\0\0\0";
    size_t kl = sizeof key - 1;
    bool ok = false;
    for (size_t i = 0; b && i + kl < n && !ok; i++)
        if (!memcmp(b + i, key, kl)) { b[i + kl] = v; ok = true; }
    FILE *f = ok ? fopen(path, "wb") : NULL;
    ok = f && fwrite(b, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(b);
    return ok;
}

static void clean_spaces_body(TestCtx *T_, const char *dir) {
    const cJSON *gpt2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g_tokfix, "tokfix/bpe-gpt2.gguf"), "texts"), 0);
    const cJSON *qwen2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g_tokfix, "tokfix/bpe-qwen2.gguf"), "texts"), 0);
    REQUIRE(gpt2 && qwen2);
    int n, *ids = json_ids(cJSON_GetObjectItemCaseSensitive(gpt2, "ids"), &n);
    REQUIRE(ids);
    const char *cleaned = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(gpt2, "text"));
    const char *kept = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(qwen2, "text"));
    REQUIRE(cleaned && kept && strcmp(cleaned, kept));
    char dst[600];
    snprintf(dst, sizeof dst, "%s/pre.gguf", dir);
    int names = 0, clean = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g_tokfix, "clean_spaces")) {
        CHECK_MSG(write_with_pre(FX "/tokfix/bpe-gpt2.gguf", dst, c->string), "cannot write %s", dst);
        Err e = {0};
        Tokenizer *tk;
        if (!strcmp(c->string, "chatglm-bpe") || !strcmp(c->string, "glm4")) {
            /* no default BOS in llama.cpp, which asserts when asked to add one: refused, saying so */
            tk = tokenizer_load_for_model(dst, 0, &e);
            CHECK_MSG(!tk && strstr(e.msg, dst) && strstr(e.msg, "add_bos_token is true") && strstr(e.msg, "bos_token_id") &&
                      strstr(e.msg, c->string), "%s with add_bos_token and no BOS id: %s", c->string, tk ? "loaded" : e.msg);
            tokenizer_free(tk);
            CHECK(set_add_bos(dst, false));   /* as make_tokfix.py asked llama.cpp */
        }
        tk = tokenizer_load_for_model(dst, 0, &e);
        CHECK_MSG(tk, "%s: %s", c->string, e.msg);
        if (!tk) continue;
        char *got = tokenizer_detokenize(tk, ids, n, true);
        const char *want = cJSON_IsTrue(c) ? cleaned : kept;
        CHECK_MSG(got && !strcmp(got, want), "pre \"%s\": detokenized \"%s\", llama.cpp \"%s\"", c->string, got ? got : "(null)", want);
        free(got);
        tokenizer_free(tk);
        names++;
        clean += cJSON_IsTrue(c);
    }
    CHECK_MSG(names >= 70 && clean > 20 && clean < names - 20, "%d names, %d clean", names, clean);
    free(ids);
}

/* which tokenizer.ggml.pre names clean up spaces when detokenizing, each as llama.cpp does
 * (make_tokfix.py asked llama_detokenize for every name supported) */
TEST(gguf_tokenizer_clean_spaces_by_pre_match_llama_cpp) {
    g_tokfix = test_read_json(FX "/tokfix.json");
    if (!g_tokfix) SKIP("tokfix.json missing");
    test_in_tmpdir(T_, "tokfix", clean_spaces_body);
    cJSON_Delete(g_tokfix);
    g_tokfix = NULL;
}

/* a refused tokenizer.ggml.pre in a file with a long path: the message names the file (its start
 * and its name), the field and the value, and the list of supported names stays whole */
static void refused_long_path_body(TestCtx *T_, const char *dir) {
    char path[4096];
    int o = snprintf(path, sizeof path, "%s", dir);
    for (int depth = 0; depth < 6; depth++) {   /* 6 folders of 200 characters: a path of about 1,250 */
        o += snprintf(path + o, sizeof path - (size_t)o, "/%0200d", depth);
        REQUIRE(mkdir(path, 0700) == 0);
        snprintf(path + o, sizeof path - (size_t)o, "/refused-here.gguf");
        REQUIRE(write_with_pre(FX "/tokfix/bpe-gpt2.gguf", path, "no-such-pre"));
        Err e = {0};
        Tokenizer *tk = tokenizer_load_for_model(path, 0, &e);
        CHECK(!tk);
        tokenizer_free(tk);
        size_t len = strlen(e.msg);
        CHECK_MSG(strstr(e.msg, "refused-here.gguf: tokenizer.ggml.pre \"no-such-pre\" is not supported") &&
                  !strncmp(e.msg, dir, 8) && len > 12 && !strcmp(e.msg + len - 12, ", chameleon)"),
                  "path of %zu characters: %s", strlen(path), e.msg);
        /* a model whose tokenizer is refused: the session (run, trace, the terminal UI) keeps the
         * tokenizer's whole message when asked to encode text (it used to cut it at 300 bytes) */
        snprintf(path + o, sizeof path - (size_t)o, "/model-refused.gguf");
        REQUIRE(write_with_pre(FX "/qwen3/qwen3-Q4_K_M.gguf", path, "no-such-pre"));
        Session *se = depth == 0 || depth == 3 ? session_new(path, 64, &e) : NULL;
        if (depth == 0 || depth == 3) {   /* model paths are at most 1,023 bytes */
            CHECK_MSG(se, "%s", e.msg);
            if (se) {
                CHECK(!session_set_prompt(se, "hi", &e));
                len = strlen(e.msg);
                CHECK_MSG(!strncmp(e.msg, "cannot encode text (use token ids): ", 36) && strstr(e.msg, "model-refused.gguf: ") &&
                          len > 12 && !strcmp(e.msg + len - 12, ", chameleon)"), "session, path of %zu characters: %s",
                          strlen(path), e.msg);
            }
            session_free(se);
        }
        path[o] = 0;
    }
}

TEST(gguf_tokenizer_refused_pre_long_path_keeps_list) {
    test_in_tmpdir(T_, "tokfix", refused_long_path_body);
}
