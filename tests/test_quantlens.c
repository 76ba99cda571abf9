/* The quantization lens (analysis/quantlens.c, `llmscope quant-lens`):
 *  - "as loaded" (each matrix copied in its own type, through the same swap and forward) gives
 *    KL = 0, relative error 0 and identical logits;
 *  - Q4_0 / Q8_0 / Q4_K: the relative error of each matrix equals the one recomputed here
 *    (quantize -> dequantize of the loaded rows), and KL equals the KL recomputed here from a
 *    forward pass of a model whose layer holds the dequantized weights as dense F32 (what the
 *    engine computes on the quantized blocks, within float rounding);
 *  - the errors are in the range of the formats (Q8_0 << Q4_K < Q4_0) and so are the KLs;
 *  - the CLI prints the same numbers as JSON, and bad arguments are clear errors.
 * $LLMSCOPE_QL_BIG_MODEL (a Qwen3-0.6B-shaped directory) adds the same checks on a real-size
 * layer; without it that test is skipped. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include "analysis/quantlens.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "engine/quant.h"

static const int IDS[] = {0, 34, 150, 71, 203, 98, 12, 250, 77, 5};
#define N_IDS ((int)(sizeof IDS / sizeof IDS[0]))

/* Logits after ids[0..pos] from model m (fresh engine). */
static float *logits(const Model *m, const int *ids, int pos) {
    Err e = {0};
    Engine *en = engine_new((Model *)m, pos + 1, &e);
    if (!en) return NULL;
    const float *lg = engine_forward(en, ids, pos + 1, false, &e);
    float *out = lg ? malloc(sizeof(float) * (size_t)m->spec.vocab_size) : NULL;
    if (out) memcpy(out, lg, sizeof(float) * (size_t)m->spec.vocab_size);
    engine_free(en);
    return out;
}

static double kl_of(const float *a, const float *b, int V) {
    double ma = a[0], mb = b[0], sa = 0, sb = 0;
    for (int i = 0; i < V; i++) { if (a[i] > ma) ma = a[i]; if (b[i] > mb) mb = b[i]; }
    for (int i = 0; i < V; i++) { sa += exp(a[i] - ma); sb += exp(b[i] - mb); }
    double kl = 0;
    for (int i = 0; i < V; i++) {
        double la = a[i] - ma - log(sa), lb = b[i] - mb - log(sb);
        kl += exp(la) * (la - lb);
    }
    return kl;
}

/* One matrix replaced by a dense F32 copy of its quantize -> dequantize (this test's own pass);
 * kept as it is when its width does not fit the block (as the lens does). */
static void dense_one(Tensor *t, DType to, void **bufs, int *nb, double *num, double *den) {
    if (!tensor_present(t)) return;
    DType tt = to == DT_Q4_K && t->cols % 256 ? DT_Q5_0 : to;
    size_t n = (size_t)t->rows * (size_t)t->cols;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    for (int r = 0; r < t->rows; r++) tensor_row_f32(t, (size_t)r * (size_t)t->cols, t->cols, x + (size_t)r * (size_t)t->cols);
    if (t->cols % dtype_block(tt)) {
        for (size_t i = 0; i < n; i++) *den += (double)x[i] * x[i];
        free(x);
        free(y);
        return;
    }
    uint8_t *q = malloc(dtype_row_bytes(tt, (size_t)t->cols) * (size_t)t->rows);
    quant_quantize(tt, x, n, q);
    quant_dequant(tt, q, n / (size_t)dtype_block(tt), y);
    for (size_t i = 0; i < n; i++) { double d = (double)x[i] - y[i]; *num += d * d; *den += (double)x[i] * x[i]; }
    free(x);
    free(q);
    *t = (Tensor){y, DT_F32, t->rows, t->cols};
    bufs[(*nb)++] = y;
}

/* Layer L with every matrix (experts too) dense F32 dequantized; bufs get what to free. */
static int dense_layer(const Model *m, int L, DType to, LayerWeights *lw, void **bufs, double *num, double *den) {
    *lw = m->w.layers[L];
    Tensor *fs[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->wq_a, &lw->wq_b, &lw->wkv_a, &lw->wkv_b,
                    &lw->w_gate, &lw->w_up, &lw->w_down, &lw->sh_gate, &lw->sh_up, &lw->sh_down};
    int nb = 0;
    *num = *den = 0;
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) dense_one(fs[k], to, bufs, &nb, num, den);
    if (lw->is_moe && lw->experts) {
        const int E = m->spec.n_experts;
        Expert *ex = malloc(sizeof(Expert) * (size_t)E);
        memcpy(ex, lw->experts, sizeof(Expert) * (size_t)E);
        lw->experts = ex;
        bufs[nb++] = ex;
        for (int x = 0; x < E; x++) {
            dense_one(&ex[x].gate, to, bufs, &nb, num, den);
            dense_one(&ex[x].up, to, bufs, &nb, num, den);
            dense_one(&ex[x].down, to, bufs, &nb, num, den);
        }
    }
    return nb;
}

static void check_model(TestCtx *T_, const char *path, int L, double *kl_out) {
    Err e = {0};
    Model *m = model_load(path, false, &e);
    REQUIRE(m);
    const int pos = N_IDS - 1, V = m->spec.vocab_size;
    /* identity */
    QuantLens q;
    REQUIRE(quantlens_run(m, IDS, N_IDS, pos, L, QL_AS_LOADED, &q, &e));
    CHECK_MSG(q.kl == 0 && q.max_dlogit == 0 && q.rel_err == 0, "%s: as loaded gives KL %g, max dlogit %g, rel %g", path, q.kl,
              q.max_dlogit, q.rel_err);
    CHECK(q.bpw == q.bpw_loaded && q.n_mat >= 4 && q.top_loaded == q.top_quant);
    float *base = logits(m, IDS, pos);
    REQUIRE(base);
    DType types[] = {DT_Q8_0, DT_Q4_K, DT_Q4_0};
    double rel[3], kl[3];
    for (int k = 0; k < 3; k++) {
        REQUIRE(quantlens_run(m, IDS, N_IDS, pos, L, types[k], &q, &e));
        /* the same layer built here as dense F32 dequantized weights */
        LayerWeights lw;
        void *bufs[1024];
        double num, den;
        int nb = dense_layer(m, L, types[k], &lw, bufs, &num, &den);
        LayerWeights *layers = malloc(sizeof(LayerWeights) * (size_t)m->spec.n_layers);
        memcpy(layers, m->w.layers, sizeof(LayerWeights) * (size_t)m->spec.n_layers);
        layers[L] = lw;
        Model md = *m;
        md.w.layers = layers;
        float *lq = logits(&md, IDS, pos);
        REQUIRE(lq);
        const double kl_here = kl_of(base, lq, V), rel_here = sqrt(num / den);
        CHECK_MSG(fabs(q.kl - kl_here) <= 1e-3 * kl_here + 1e-9, "%s layer %d %s: KL %.9g, recomputed %.9g", path, L,
                  dtype_name(types[k]), q.kl, kl_here);
        CHECK_MSG(fabs(q.rel_err - rel_here) <= 1e-9 * rel_here, "%s: rel %.12g vs %.12g", path, q.rel_err, rel_here);
        rel[k] = q.rel_err;
        kl[k] = q.kl;
        fprintf(stderr, "    %s layer %d %s: %.2f bpw, rel.err %.4f, KL %.3g nats (recomputed %.3g), top %d -> %d, %.0f ms\n",
                path, L, dtype_name(types[k]), q.bpw, q.rel_err, q.kl, kl_here, q.top_loaded, q.top_quant, q.ms);
        free(lq);
        free(layers);
        for (int i = 0; i < nb; i++) free(bufs[i]);
    }
    /* the formats' ranges: Q8_0 ~0.5%, Q4_K ~4-8%, Q4_0 ~8-12% relative error; KL grows with it */
    CHECK_MSG(rel[0] > 1e-3 && rel[0] < 0.012, "%s: Q8_0 rel %.4f", path, rel[0]);
    CHECK_MSG(rel[1] > 0.02 && rel[1] < 0.12, "%s: Q4_K rel %.4f", path, rel[1]);
    CHECK_MSG(rel[2] > 0.05 && rel[2] < 0.16, "%s: Q4_0 rel %.4f", path, rel[2]);
    CHECK(rel[0] < rel[1] && rel[1] < rel[2]);
    CHECK_MSG(kl[0] > 0 && kl[2] > 0 && kl[0] < kl[2], "%s: KL Q8_0 %g, Q4_0 %g", path, kl[0], kl[2]);
    if (kl_out) { kl_out[0] = kl[0]; kl_out[1] = kl[2]; }
    free(base);
    model_free(m);
}

TEST(quantlens_story_models) {
    const char *models[] = {"assets/models/story-gqa", "assets/models/story-mla", "assets/models/story-moe", "assets/models/story-gpt2"};
    for (size_t i = 0; i < 4; i++) check_model(T_, models[i], 1, NULL);
}

TEST(quantlens_gguf_file) {
    /* an already quantized file: Q4_K_M requantized; "as loaded" shows the file's own types */
    Err e = {0};
    Model *m = model_load("tests/fixtures/gguf/llama/llama-Q4_K_M.gguf", false, &e);
    if (!m) SKIP("%s", e.msg);
    QuantLens q;
    REQUIRE(quantlens_run(m, IDS, 6, 5, 0, QL_AS_LOADED, &q, &e));
    CHECK(q.kl == 0 && q.rel_err == 0);
    CHECK(q.bpw_loaded > 4.4 && q.bpw_loaded < 6.6);   /* Q4_K 4.5 and Q6_K 6.5625 bits */
    bool own = false;
    for (int i = 0; i < q.n_mat; i++) own |= q.mat[i].from == DT_Q4_K && q.mat[i].to == DT_Q4_K;
    CHECK(own);
    REQUIRE(quantlens_run(m, IDS, 6, 5, 0, DT_Q8_0, &q, &e));
    CHECK(q.bpw == 8.5 && q.rel_err > 0 && q.rel_err < 0.012 && q.kl > 0);
    model_free(m);
}

TEST(quantlens_cache_and_errors) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    REQUIRE(m);
    QuantLensCache c = {0};
    const QuantLens *a = quantlens_cached(&c, m, IDS, N_IDS, 4, 2, DT_Q4_0, &e);
    REQUIRE(a);
    const double kl = a->kl;
    QuantLens direct;
    REQUIRE(quantlens_run(m, IDS, N_IDS, 4, 2, DT_Q4_0, &direct, &e));
    CHECK(direct.kl == kl && direct.rel_err == a->rel_err);
    const QuantLens *b = quantlens_cached(&c, m, IDS, N_IDS, 4, 2, DT_Q4_0, &e);
    CHECK(b == a && b->kl == kl);
    CHECK(!quantlens_cached(&c, m, IDS, N_IDS, 4, 99, DT_Q4_0, &e) && strstr(e.msg, "layer 99"));
    CHECK(!quantlens_run(m, IDS, N_IDS, N_IDS, 0, DT_Q4_0, &direct, &e) && strstr(e.msg, "position"));
    CHECK(!quantlens_run(m, IDS, N_IDS, 0, 0, DT_Q6_K, &direct, &e) && strstr(e.msg, "Q6_K"));
    DType t;
    CHECK(quantlens_type_parse("Q4_K", &t) && t == DT_Q4_K && quantlens_type_parse("loaded", &t) && t == QL_AS_LOADED);
    CHECK(!quantlens_type_parse("q3_k", &t));
    quantlens_cache_done(&c);
    model_free(m);
}

TEST(quantlens_cli_json) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s quant-lens --model assets/models/story-gqa --ids 0,34,150,71,203,98,12,250,77,5 --layer 1 --type all --json",
             test_bin());
    REQUIRE(test_run(cmd, &out, 0) == 0 && out);
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    REQUIRE(m);
    int lines = 0;
    for (char *p = out, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(p);
        CHECK_MSG(j, "not JSON: %.200s", p);
        if (!j) continue;
        lines++;
        DType t;
        const char *ty = cJSON_GetObjectItem(j, "type")->valuestring;
        REQUIRE(quantlens_type_parse(ty, &t));
        QuantLens q;
        REQUIRE(quantlens_run(m, IDS, N_IDS, N_IDS - 1, 1, t, &q, &e));
        CHECK_NEAR(cJSON_GetObjectItem(j, "kl")->valuedouble, q.kl, 1e-9 + 1e-6 * q.kl);
        CHECK_NEAR(cJSON_GetObjectItem(j, "rel_err")->valuedouble, q.rel_err, 1e-9);
        CHECK_NEAR(cJSON_GetObjectItem(j, "bpw")->valuedouble, q.bpw, 1e-4);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "matrices")), q.n_mat);
        cJSON_Delete(j);
    }
    CHECK_EQ_INT(lines, 4);
    free(out);
    model_free(m);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s quant-lens --model assets/models/story-gqa --prompt 'Once upon a time' --layer 9 2>&1", test_bin());
    CHECK(test_run(cmd, &out, 1) != 0 && out && strstr(out, "layer 9"));
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s quant-lens --model assets/models/story-gqa --prompt 'Once' --layer 0 --type q3_k 2>&1", test_bin());
    CHECK(test_run(cmd, &out, 1) == 2 && out && strstr(out, "q3_k"));
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s quant-lens --model assets/models/story-gqa --prompt 'Once upon a time' --layer 0 --type q4_0", test_bin());
    CHECK(test_run(cmd, &out, 0) == 0 && out && strstr(out, "only this layer") && strstr(out, "KL("));
    free(out);
}

TEST(quantlens_qwen3_shape) {
    const char *p = getenv("LLMSCOPE_QL_BIG_MODEL");
    if (!p || !*p) SKIP("set LLMSCOPE_QL_BIG_MODEL to a Qwen3-0.6B-shaped directory");
    check_model(T_, p, 13, NULL);
}

/* The UI's lens (Output panel, key w) shows what quantlens_run computes, and says what it measures. */
TEST(quantlens_tui_panel) {
    Err e = {0};
    Model *m = model_load("assets/models/story-gqa", false, &e);
    REQUIRE(m);
    const char *keys[] = {"w", "ww", "www", "wwww"};
    const DType types[] = {DT_Q8_0, DT_Q4_K, DT_Q4_0, QL_AS_LOADED};
    for (int k = 0; k < 4; k++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s screenshot --model assets/models/story-gqa --ids 0,34,150,71,203,98,12,250,77,5 --steps 1 "
                 "--panel output --layer 2 --keys %s --size 120x36", test_bin(), keys[k]);
        REQUIRE(test_run(cmd, &out, 0) == 0 && out);
        QuantLens q;
        REQUIRE(quantlens_run(m, IDS, N_IDS, N_IDS - 1, 2, types[k], &q, &e));
        char want[160];
        snprintf(want, sizeof want, "KL(as loaded \xe2\x80\x96 layer 2 quantized) = %.3g nats", q.kl);
        CHECK_MSG(strstr(out, want), "screen lacks \"%s\":\n%s", want, out);
        snprintf(want, sizeof want, "relative error %.4f", q.rel_err);
        CHECK_MSG(strstr(out, want), "screen lacks \"%s\"", want);
        CHECK(strstr(out, "Measured: only layer 2's weight matrices quantized; only the next token after pos 9"));
        CHECK(strstr(out, quantlens_type_name(types[k])));
        if (types[k] == QL_AS_LOADED) CHECK(q.kl == 0 && strstr(out, "= 0 nats"));
        free(out);
    }
    /* a fifth press turns it off: the probabilities are back */
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s screenshot --model assets/models/story-gqa --ids 0,34,150,71 --steps 1 --panel output --keys wwwww --size 120x36",
             test_bin());
    REQUIRE(test_run(cmd, &out, 0) == 0 && out);
    CHECK(!strstr(out, "quantization lens") && strstr(out, "next-token probabilities"));
    free(out);
    model_free(m);
}
