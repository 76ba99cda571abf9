/* Quantizers (engine/quant.c quant_quantize) against llama.cpp's own output: every tensor that
 * llama-quantize (no imatrix) wrote as Q8_0, Q4_0, Q5_0 or Q4_K into the qwen2 fixtures must come out
 * byte for byte the same when we quantize the same tensor of the BF16 file (which holds the F32
 * conversion's values exactly; tests/fixtures/gguf/README.md), and every IQ4_NL / IQ4_XS tensor of
 * the qwen3 fixtures when we quantize it from qwen3-F32.gguf. f32 -> f16 rounding is checked
 * against the processor's own conversion (F16C) where the build targets it. */
#include "harness.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "core/dtype.h"
#include "core/gguf.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include "engine/quant.h"
#include "model/tensorfile.h"
#ifdef __F16C__
#include <immintrin.h>
#endif

#define FX "tests/fixtures/gguf"

TEST(quant_f32_to_f16_rounding) {
    /* hand-checked cases: ties to even, subnormals, overflow */
    struct { float f; uint16_t h; } c[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
        {65519.996f, 0x7bff}, {65520.0f, 0x7c00}, {1e9f, 0x7c00}, {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000},
        {0x1.000002p-25f, 0x0001}, {0x1.8p-24f, 0x0002}, {0x1p-14f, 0x0400}, {0x1.ff8p-15f, 0x03ff}, {0x1.ffcp-15f, 0x0400},
        {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x1.8p-11f, 0x3c01}, {1.0f + 0x1p-10f + 0x1p-11f, 0x3c02},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        CHECK_MSG(f32_to_f16(c[i].f) == c[i].h, "f32_to_f16(%a) = %04x, want %04x", (double)c[i].f, f32_to_f16(c[i].f), c[i].h);
    CHECK((f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (f32_to_f16(NAN) & 0x3ff) != 0);
    /* round trip of every half */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;   /* NaN */
        if (f32_to_f16(f16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
#ifdef __F16C__
    uint32_t s = 12345;
    int diff = 0;
    for (int i = 0; i < 2000000; i++) {
        s = s * 1664525u + 1013904223u;
        uint32_t u = s;
        if ((u & 0x7f800000u) == 0x7f800000u) continue;   /* inf/NaN */
        float f;
        memcpy(&f, &u, 4);
        if (f32_to_f16(f) != (uint16_t)_cvtss_sh(f, 0)) diff++;
    }
    CHECK_EQ_INT(diff, 0);
#endif
}

static bool dtype_from_ggml(uint32_t type, DType *out) {
    const char *tn = "?";
    if (!ggml_type_info(type, &tn, NULL, NULL)) return false;
    for (int k = 0; k < DT_COUNT; k++)
        if (!strcmp(dtype_name((DType)k), tn)) { *out = (DType)k; return true; }
    return false;
}

/* Each Q8_0/Q4_0/Q4_K tensor of file q, quantized by us from the same tensor of src. */
static int check_same_bytes(TestCtx *T_, const char *src, const char *q, int *by_type) {
    Err e = {0};
    Mapped *ms = mapped_open(src, &e), *mq = mapped_open(q, &e);
    if (!ms || !mq) { mapped_close(ms); mapped_close(mq); return -1; }
    GgufFile *gs = gguf_parse(mapped_data(ms), mapped_size(ms), src, &e);
    GgufFile *gq = gguf_parse(mapped_data(mq), mapped_size(mq), q, &e);
    int n_checked = 0;
    if (!gs || !gq) { CHECK_MSG(0, "%s", e.msg); goto out; }
    for (int64_t i = 0; i < gq->n_tensors; i++) {
        const GgufTensor *t = &gq->tensors[i];
        DType dt, ds;
        if (!dtype_from_ggml(t->type, &dt) || !quant_can_quantize(dt)) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.s);
        const GgufTensor *s = gguf_find_tensor(gs, name);
        CHECK_MSG(s && dtype_from_ggml(s->type, &ds), "%s: %s missing", src, name);
        if (!s || !dtype_from_ggml(s->type, &ds)) continue;
        const size_t n = (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        float *x = malloc(n * sizeof(float));
        uint8_t *out = malloc(t->nbytes);
        if (!x || !out) { CHECK(0); free(x); free(out); break; }
        Tensor ts = {s->data, ds, 1, (int)n};
        tensor_row_f32(&ts, 0, (int)n, x);
        CHECK(quant_quantize(dt, x, n, out));
        size_t first = t->nbytes;
        for (size_t b = 0; b < t->nbytes; b++) if (out[b] != t->data[b]) { first = b; break; }
        CHECK_MSG(first == t->nbytes, "%s: %s (%s): byte %zu of %zu differs from llama-quantize's (%02x vs %02x)",
                  q, name, dtype_name(dt), first, t->nbytes, first < t->nbytes ? out[first] : 0,
                  first < t->nbytes ? t->data[first] : 0);
        n_checked++;
        by_type[dt]++;
        free(x);
        free(out);
    }
out:
    gguf_free(gs);
    gguf_free(gq);
    mapped_close(ms);
    mapped_close(mq);
    return n_checked;
}

TEST(quant_quantize_bytes_equal_llama_quantize) {
    const char *files[] = {"qwen2-Q8_0.gguf", "qwen2-Q4_0.gguf", "qwen2-Q5_0.gguf", "qwen2-Q4_K_M.gguf"};
    int by_type[DT_COUNT] = {0}, total = 0;
    for (size_t i = 0; i < 4; i++) {
        char q[256];
        snprintf(q, sizeof q, FX "/qwen2/%s", files[i]);
        int n = check_same_bytes(T_, FX "/qwen2/qwen2-BF16.gguf", q, by_type);
        if (n < 0) SKIP("%s or the BF16 fixture missing", q);
        total += n;
    }
    CHECK_MSG(by_type[DT_Q8_0] >= 7 && by_type[DT_Q4_0] >= 6 && by_type[DT_Q5_0] >= 6 && by_type[DT_Q4_K] >= 4,
              "tensors compared: Q8_0 %d, Q4_0 %d, Q5_0 %d, Q4_K %d", by_type[DT_Q8_0], by_type[DT_Q4_0], by_type[DT_Q5_0], by_type[DT_Q4_K]);
    fprintf(stderr, "    %d tensors byte-equal (Q8_0 %d, Q4_0 %d, Q5_0 %d, Q4_K %d)\n", total, by_type[DT_Q8_0],
            by_type[DT_Q4_0], by_type[DT_Q5_0], by_type[DT_Q4_K]);
}

/* IQ4_NL and IQ4_XS: every such tensor of the qwen3 fixtures (llama-quantize from qwen3-F32.gguf, no
 * imatrix; make_iq4.sh) quantized by us from the F32 file gives the same bytes. */
TEST(quant_quantize_iq4_bytes_equal_llama_quantize) {
    const char *files[] = {"qwen3-IQ4_NL.gguf", "qwen3-IQ4_XS.gguf"};
    int by_type[DT_COUNT] = {0}, total = 0;
    for (size_t i = 0; i < 2; i++) {
        char q[256];
        snprintf(q, sizeof q, FX "/qwen3/%s", files[i]);
        int n = check_same_bytes(T_, FX "/qwen3/qwen3-F32.gguf", q, by_type);
        if (n < 0) SKIP("%s or the F32 fixture missing", q);
        total += n;
    }
    CHECK_MSG(by_type[DT_IQ4_NL] == 8 && by_type[DT_IQ4_XS] == 6, "tensors compared: IQ4_NL %d, IQ4_XS %d",
              by_type[DT_IQ4_NL], by_type[DT_IQ4_XS]);
    fprintf(stderr, "    %d tensors byte-equal (IQ4_NL %d, IQ4_XS %d)\n", total, by_type[DT_IQ4_NL], by_type[DT_IQ4_XS]);
}

/* quantize -> dequantize: the error bound of each format (a round trip of exact grid values). */
TEST(quant_quantize_roundtrip_bounds) {
    enum { N = 4096 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *b = malloc(N * 2);
    REQUIRE(x && y && b);
    uint32_t s = 7;
    for (int i = 0; i < N; i++) {   /* roughly normal: sum of 4 uniforms */
        float a = 0;
        for (int k = 0; k < 4; k++) { s = s * 1664525u + 1013904223u; a += (float)(s >> 8) / 16777216.0f - 0.5f; }
        x[i] = a * 0.05f;
    }
    DType ts[] = {DT_Q8_0, DT_Q4_0, DT_Q4_K};
    for (int k = 0; k < 3; k++) {
        REQUIRE(quant_quantize(ts[k], x, N, b));
        quant_dequant(ts[k], b, N / (size_t)dtype_block(ts[k]), y);
        double num = 0, den = 0, worst = 0;
        for (int i = 0; i < N; i++) {
            num += (double)(x[i] - y[i]) * (x[i] - y[i]);
            den += (double)x[i] * x[i];
        }
        /* per block of 32 (d rounded to f16, relative error <= 2^-11): Q8_0 |x - y| <= d/2 with
         * d = amax/127; Q4_0 d = amax/8 and levels -8..7, so the side opposite the largest
         * element is clipped at 7·d: |x - y| <= d */
        for (int blk = 0; blk < N / 32; blk++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[blk * 32 + i]));
            for (int i = 0; i < 32; i++) {
                double r = fabs((double)x[blk * 32 + i] - y[blk * 32 + i]) / amax;
                if (r > worst) worst = r;
            }
        }
        double rel = sqrt(num / den);
        if (ts[k] == DT_Q8_0) { CHECK(worst <= 0.5 / 127 + 1.0 / 1024); CHECK(rel > 0.001 && rel < 0.01); }
        if (ts[k] == DT_Q4_0) { CHECK(worst <= 1.0 / 8 * 1.01); CHECK(rel > 0.05 && rel < 0.15); }
        if (ts[k] == DT_Q4_K) CHECK(rel > 0.03 && rel < 0.12);
        fprintf(stderr, "    %s: relative error %.4f, worst |x-q|/amax %.4f\n", dtype_name(ts[k]), rel, worst);
    }
    CHECK(!quant_quantize(DT_Q6_K, x, N, b));
    /* non-finite weights (a broken checkpoint loads with a warning): no undefined float->int
     * conversion (UBSan would stop here), finite blocks elsewhere unchanged */
    x[3] = NAN; x[40] = INFINITY; x[300] = -INFINITY;
    for (int k = 0; k < 3; k++) CHECK(quant_quantize(ts[k], x, N, b));
    free(x);
    free(y);
    free(b);
}

/* IQ4_NL and IQ4_XS blocks whose values are worked out by hand from ggml's layout
 * (ggml-common.h block_iq4_nl / block_iq4_xs, kvalues_iq4nl), independent of the fixtures. */
TEST(quant_iq4_dequant_hand_blocks) {
    uint8_t nl[18] = {0x00, 0x38};          /* d = 0.5 */
    nl[2 + 0] = 0x3A;                        /* element 0: level 10 (25), element 16: level 3 (-65) */
    nl[2 + 15] = 0x0F;                       /* element 15: level 15 (113), element 31: level 0 (-127) */
    float y[256];
    quant_dequant(DT_IQ4_NL, nl, 1, y);
    CHECK(y[0] == 12.5f && y[16] == -32.5f && y[15] == 56.5f && y[31] == -63.5f);
    CHECK(y[1] == -63.5f && y[17] == -63.5f);   /* byte 0: level 0 in both nibbles */

    uint8_t xs[136] = {0x00, 0x3C};          /* d = 1 */
    xs[2] = 0x80;                            /* scales_h: group 3 high bits 2 (bits 6-7) */
    xs[5] = 0x70;                            /* scales_l[1]: group 2 low 0, group 3 low 7 -> ls 39 */
    xs[8] = 0x08;                            /* group 0 (ls 0, dl -32): element 0 level 8 (1), element 16 level 0 */
    xs[8 + 3 * 16] = 0xF1;                   /* group 3 (dl 7): element 96 level 1 (-104), 112 level 15 (113) */
    quant_dequant(DT_IQ4_XS, xs, 1, y);
    CHECK(y[0] == -32.f && y[16] == 4064.f);
    CHECK(y[96] == -728.f && y[112] == 791.f);
    CHECK(y[64] == 32.f * 127.f);            /* group 2: ls 0 -> dl -32, level 0 (-127) */
}

/* The decode kernels (quant_matvec: AVX2 where built for it) against dequantize-then-dot in double,
 * on random blocks of every block type: within float rounding of sum |w·x|. */
TEST(quant_matvec_equals_dequantize_then_dot) {
    enum { R = 37, C = 1024 };
    float *x = malloc(C * sizeof(float)), *y = malloc(R * sizeof(float)), *w = malloc(C * sizeof(float));
    uint8_t *q = malloc((size_t)R * C * 2);
    REQUIRE(x && y && w && q);
    uint32_t s = 99;
#define RND() (s = s * 1664525u + 1013904223u, s >> 8)
    for (int i = 0; i < C; i++) x[i] = (float)RND() / 16777216.0f - 0.5f;
    for (int t = DT_Q4_0; t < DT_COUNT; t++) {
        const size_t rb = dtype_row_bytes((DType)t, C), bb = (size_t)dtype_block_bytes((DType)t);
        for (size_t i = 0; i < rb * R; i++) q[i] = (uint8_t)RND();
        /* every f16 field a block may have a finite value: scales near 0.01 */
        for (size_t i = 0; i < rb * R; i += bb)
            for (size_t o = 0; o + 1 < bb; o += 2)
                if (((q[i + o] | q[i + o + 1] << 8) & 0x7c00) == 0x7c00) q[i + o + 1] = 0x20;
        if (t == DT_Q8_K)   /* f32 d */
            for (size_t i = 0; i < rb * R; i += bb) { float d = 0.01f; memcpy(q + i, &d, 4); }
        for (int threads = 1; threads <= 2; threads++) {
            pool_set_threads(threads);
            Tensor W = {q, (DType)t, R, C};
            quant_matvec(&W, x, y);
            double worst = 0;
            for (int r = 0; r < R; r++) {
                quant_dequant((DType)t, q + (size_t)r * rb, C / (size_t)dtype_block((DType)t), w);
                double ref = 0, mag = 0;
                for (int c = 0; c < C; c++) { ref += (double)w[c] * x[c]; mag += fabs((double)w[c] * x[c]); }
                double e = fabs(y[r] - ref) / (mag > 0 ? mag : 1);
                worst = e > worst ? e : worst;
            }
            CHECK_MSG(worst < 1e-5, "%s (%d threads): kernel vs dequantize-then-dot %.2e of sum |w·x|",
                      dtype_name((DType)t), threads, worst);
        }
    }
#undef RND
    pool_set_threads(1);
    free(x); free(y); free(w); free(q);
}
