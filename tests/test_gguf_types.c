/* GGUF ggml types: IQ4_NL and IQ4_XS files made by llama.cpp's llama-quantize give llama.cpp's
 * logits on their F32 twins (tests/fixtures/gguf/README.md, make_iq4.sh; their dequantization is
 * checked bit for bit with the other fixtures in test_gguf.c), and a file with a type llmscope
 * does not read is refused with a message naming the file, the tensor, the type and the types
 * that are read. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "engine/engine.h"
#include "model/tensorfile.h"

#define FX "tests/fixtures/gguf"

static float max_abs(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* A copy of src with the ggml type of one tensor replaced (the tensor info's type field, found
 * after its name and dims in the header); the new type must take no more bytes than the old. */
static bool write_with_type(const char *src, const char *dst, const char *tensor, uint32_t type) {
    Err e = {0};
    size_t len;
    char *s = file_read_all(src, &len, 16u << 20, &e);
    if (!s) return false;
    const size_t nl = strlen(tensor);
    bool ok = false;
    for (size_t i = 8; i + nl + 4 < len && !ok; i++) {
        uint64_t n;
        memcpy(&n, s + i - 8, 8);
        if (n != nl || memcmp(s + i, tensor, nl)) continue;
        uint32_t nd;
        memcpy(&nd, s + i + nl, 4);
        size_t at = i + nl + 4 + 8 * (size_t)nd;
        if (nd > 4 || at + 4 > len) break;
        memcpy(s + at, &type, 4);
        ok = true;
    }
    FILE *f = ok ? fopen(dst, "wb") : NULL;
    ok = f && fwrite(s, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    free(s);
    return ok;
}

/* A tensor of a ggml type llmscope does not read: the error names the file, the tensor, the type
 * and the types that are read (IQ4_NL and IQ4_XS among them), for each type still unsupported. */
static void unsupported_type_body(TestCtx *T_, const char *dir) {
    static const struct { uint32_t id; const char *name; } types[] = {
        {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"}, {21, "IQ3_S"}, {22, "IQ2_S"},
        {29, "IQ1_M"}, {34, "TQ1_0"}, {35, "TQ2_0"}, {39, "MXFP4"}, {40, "NVFP4"}};
    char path[1024], want[256];
    snprintf(path, sizeof path, "%s/odd-type.gguf", dir);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        /* Q8_0's 34 bytes per 32 elements hold any of these (at most 110 bytes per 256) */
        REQUIRE(write_with_type(FX "/qwen3/qwen3-Q8_0.gguf", path, "blk.0.attn_q.weight", types[k].id));
        Err e = {0};
        Model *m = model_load(path, false, &e);
        CHECK(!m);
        model_free(m);
        snprintf(want, sizeof want, "odd-type.gguf: tensor \"blk.0.attn_q.weight\" has type %s, which llmscope does not read",
                 types[k].name);
        CHECK_MSG(strstr(e.msg, want) && !strncmp(e.msg, dir, strlen(dir)) &&
                  strstr(e.msg, "(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS)"),
                  "%s: %s", types[k].name, e.msg);
    }
}

TEST(gguf_unsupported_type_names_file_tensor_and_supported) {
    if (access(FX "/qwen3/qwen3-Q8_0.gguf", R_OK) != 0) SKIP("qwen3 fixtures missing");
    test_in_tmpdir(T_, "oddtype", unsupported_type_body);
}

/* IQ4_NL and IQ4_XS files (llama-quantize from qwen3-F32.gguf): their logits, prefill (rows
 * dequantized into sgemm) and decode (the IQ4 dot kernels) alike, equal llama.cpp's logits on the
 * F32 twin of each file (iq4_logits.json: llama.cpp's own dequantization, computed in f32 by
 * llama.cpp; make_iq4.sh) within float rounding. */
TEST(gguf_iq4_logits_equal_llama_cpp_f32_twin) {
    cJSON *r = test_read_json(FX "/qwen3/reference.json"), *j = test_read_json(FX "/qwen3/iq4_logits.json");
    const cJSON *ji = cJSON_GetObjectItem(r, "ids");
    const int n = cJSON_GetArraySize(ji), V = cJSON_GetArraySize(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "logits"), 0));
    if (!r || !j || n <= 0 || n > 64) { cJSON_Delete(r); cJSON_Delete(j); SKIP("qwen3 reference or iq4_logits.json missing"); }
    int ids[64];
    for (int i = 0; i < n; i++) ids[i] = cJSON_GetArrayItem(ji, i)->valueint;
    int files = 0;
    const cJSON *file;
    cJSON_ArrayForEach(file, j) {
        char p[512];
        snprintf(p, sizeof p, FX "/qwen3/%s", file->string);
        Err e = {0};
        Model *m = model_load(p, false, &e);
        CHECK_MSG(m, "%s: %s", p, e.msg);
        if (!m) continue;
        REQUIRE(cJSON_GetArraySize(file) == n && m->spec.vocab_size == V);
        float *want = malloc(sizeof(float) * (size_t)n * (size_t)V);
        REQUIRE(want);
        for (int t = 0; t < n; t++)
            for (int v = 0; v < V; v++)
                want[(size_t)t * (size_t)V + (size_t)v] = (float)cJSON_GetArrayItem(cJSON_GetArrayItem(file, t), v)->valuedouble;
        const float mx = max_abs(want, (size_t)n * (size_t)V);
        Engine *a = engine_new(m, 64, &e), *b = engine_new(m, 64, &e);
        REQUIRE(a && b);
        const float *pre = engine_forward(a, ids, n, true, &e);
        REQUIRE(pre);
        float dp = 0, dd = 0;
        for (int t = 0; t < n; t++) {
            const float *l = engine_forward(b, &ids[t], 1, false, &e);
            REQUIRE(l);
            for (int v = 0; v < V; v++) {
                const float w = want[(size_t)t * (size_t)V + (size_t)v];
                dp = fmaxf(dp, fabsf(pre[(size_t)t * (size_t)V + (size_t)v] - w));
                dd = fmaxf(dd, fabsf(l[v] - w));
            }
        }
        CHECK_MSG(dp <= 1e-5f * mx && dd <= 1e-5f * mx, "%s: prefill %g, decode %g from llama.cpp's F32 twin (largest logit %g)",
                  p, dp, dd, mx);
        fprintf(stderr, "    %-22s vs llama.cpp on its F32 twin: prefill %.2e, decode %.2e, max|logit| %.3g\n",
                file->string, dp, dd, mx);
        files++;
        free(want);
        engine_free(a);
        engine_free(b);
        model_free(m);
    }
    CHECK_EQ_INT(files, 2);
    cJSON_Delete(j);
    cJSON_Delete(r);
}
