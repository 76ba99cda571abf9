/* Fuzzes the GGUF reader (core/gguf.c) on arbitrary bytes, then what is built on it: the
 * dequantization of every tensor of a type we compute with (engine/quant.c), the model
 * mapping (model/gguf_load.c) with a short forward pass, and the tokenizer read from the
 * file (tokenizer/gguf_tok.c) encoding a short text. A parse that succeeds must describe
 * tensors inside the buffer, aligned, not overlapping, with sizes that match their type. */
#include "fuzz_common.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "model/tensorfile.h"
#include "tokenizer/tokenizer.h"

static bool dtype_of(uint32_t t, DType *d) {
    static const struct { uint32_t g; DType d; } map[] = {{0, DT_F32}, {1, DT_F16}, {30, DT_BF16}, {2, DT_Q4_0}, {3, DT_Q4_1},
        {6, DT_Q5_0}, {7, DT_Q5_1}, {8, DT_Q8_0}, {10, DT_Q2_K}, {11, DT_Q3_K}, {12, DT_Q4_K}, {13, DT_Q5_K}, {14, DT_Q6_K}, {15, DT_Q8_K},
        {20, DT_IQ4_NL}, {23, DT_IQ4_XS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) if (map[i].g == t) { *d = map[i].d; return true; }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *fname = "fuzz.gguf";
    Err e = {0};
    GgufFile *g = gguf_parse(data, size, fname, &e);
    if (!g) { fuzz_check_err(&e, fname, "gguf_parse"); return 0; }
    if (g->alignment == 0 || (g->alignment & (g->alignment - 1))) fuzz_fail("alignment %u accepted", g->alignment);
    for (int64_t i = 0; i < g->n_kv; i++) {
        const GgufKV *kv = &g->kv[i];
        if (!kv->key || (int)kv->type < 0 || kv->type >= GGUF_NTYPES) fuzz_fail("kv %lld bad", (long long)i);
        if (kv->type == GGUF_STRING) fuzz_touch(kv->str.s, kv->str.len);
        if (kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING)
            for (uint64_t k = 0; k < kv->arr_n; k++) fuzz_touch(kv->arr_strs[k].s, kv->arr_strs[k].len);
        if (kv->type == GGUF_ARRAY && kv->arr_type != GGUF_STRING && kv->arr_n) {
            double f; int64_t v;
            gguf_arr_float(kv, kv->arr_n - 1, &f);
            gguf_arr_int(kv, 0, &v);
        }
        int64_t iv; double fv; bool bv; char sv[16];
        gguf_get_int(g, kv->key, &iv); gguf_get_float(g, kv->key, &fv); gguf_get_bool(g, kv->key, &bv);
        gguf_get_str(g, kv->key, sv, sizeof sv);
    }
    float *buf = NULL;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const GgufTensor *t = &g->tensors[i];
        if (t->data < data || t->data > data + size || t->nbytes > (size_t)(data + size - t->data))
            fuzz_fail("tensor %lld outside the buffer", (long long)i);
        if ((size_t)(t->data - data) < g->data_start || (t->offset % g->alignment)) fuzz_fail("tensor %lld misplaced", (long long)i);
        int block, bb;
        if (!ggml_type_info(t->type, NULL, &block, &bb)) fuzz_fail("unknown type %u accepted", t->type);
        uint64_t n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
        if (n / (uint64_t)block * (uint64_t)bb != t->nbytes) fuzz_fail("tensor %lld size mismatch", (long long)i);
        for (int64_t j = 0; j < i && g->n_tensors <= 256; j++) {
            const GgufTensor *u = &g->tensors[j];
            if (t->nbytes && u->nbytes && t->offset < u->offset + u->nbytes && u->offset < t->offset + t->nbytes)
                fuzz_fail("tensors %lld and %lld overlap", (long long)i, (long long)j);
        }
        DType d;
        if (dtype_of(t->type, &d) && n <= (1u << 18)) {
            float *nb = realloc(buf, sizeof(float) * (size_t)n);
            if (!nb) break;
            buf = nb;
            Tensor tt = {t->data, d, 1, (int)n};
            tensor_row_f32(&tt, 0, (int)n, buf);
            if (n > 3) tensor_row_f32(&tt, 1, (int)n - 2, buf);   /* partial blocks at both ends */
        }
    }
    free(buf);
    gguf_free(g);

    /* the whole path from a file: model mapping, a forward pass, the tokenizer */
    char path[600];
    snprintf(path, sizeof path, "%s/m.gguf", fuzz_tmpdir());
    fuzz_write(path, data, size);
    Err le = {0};
    Model *m = model_load(path, false, &le);
    if (!m) fuzz_check_err(&le, path, "model_load");
    else {
        const ModelSpec *s = &m->spec;
        if ((double)s->d_model * s->n_layers * (s->d_ff + s->d_model) < 4e6 && s->vocab_size < 100000 && s->n_experts <= 16) {
            Engine *en = engine_new(m, 8, &le);
            if (en) {
                int ids[2] = {0, s->vocab_size - 1};
                engine_forward(en, ids, 2, false, &le);
                engine_forward(en, ids, 1, false, &le);
                engine_free(en);
            }
        }
        model_free(m);
    }
    Err te = {0};
    Tokenizer *tk = tokenizer_load_gguf(path, &te);
    if (!tk) fuzz_check_err(&te, path, "tokenizer_load_gguf");
    else {
        int *ids = NULL;
        int n = tokenizer_encode(tk, "Hello world, 12 abc\n", 20, true, &ids, &te);
        if (n > 0) free(tokenizer_decode(tk, ids, n, false));
        free(ids);
        tokenizer_free(tk);
    }
    return 0;
}
