/* Fuzzes llama2c_parse / llama2c_sniff (model/llama2c.c): the 7-int32 header, the size
 * arithmetic of every segment and the exact-size check. A checkpoint that parses must point
 * every tensor inside the buffer; a small one is run through the engine for a few tokens. */
#include "fuzz_common.h"
#include "engine/engine.h"
#include "model/tensorfile.h"

static void check_in(const uint8_t *buf, size_t len, const Tensor *t, const char *what) {
    if (!t->data) fuzz_fail("%s missing", what);
    size_t n = (size_t)t->rows * (size_t)t->cols * 4u;
    const uint8_t *p = t->data;
    if (p < buf || p > buf + len || n > (size_t)(buf + len - p)) fuzz_fail("%s outside the buffer", what);
    fuzz_touch(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) { engine_set_threads(1); init = 1; }
    /* llama2c_parse wants a 4-byte aligned buffer (as mmap and malloc give); copy into an
     * exactly-sized allocation so ASan sees reads past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    bool sniff = llama2c_sniff(buf, size);
    Model *m = calloc(1, sizeof *m);
    if (!m) { free(buf); return 0; }
    Err e = {0};
    const char *fname = "fuzz.bin";
    bool ok = llama2c_parse(buf, size, fname, m, &e);
    if (ok != sniff) fuzz_fail("llama2c_sniff says %d but llama2c_parse says %d (%s)", sniff, ok, e.msg);
    if (!ok) {
        fuzz_check_err(&e, fname, "llama2c_parse");
        if (m->w.layers) fuzz_fail("failed parse left layers allocated");
        free(m);
        free(buf);
        return 0;
    }
    const ModelSpec *s = &m->spec;
    check_in(buf, size, &m->w.tok_emb, "tok_emb");
    check_in(buf, size, &m->w.lm_head, "lm_head");
    check_in(buf, size, &m->w.lnf_w, "rms_final");
    for (int l = 0; l < s->n_layers; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        check_in(buf, size, &lw->ln1_w, "rms_att");
        check_in(buf, size, &lw->ln2_w, "rms_ffn");
        check_in(buf, size, &lw->wq, "wq");
        check_in(buf, size, &lw->wk, "wk");
        check_in(buf, size, &lw->wv, "wv");
        check_in(buf, size, &lw->wo, "wo");
        check_in(buf, size, &lw->w_gate, "w1");
        check_in(buf, size, &lw->w_down, "w2");
        check_in(buf, size, &lw->w_up, "w3");
    }
    if (s->vocab_size <= 4096 && s->d_model <= 256 && s->d_ff <= 1024 && s->n_layers <= 4) {
        Engine *en = engine_new(m, 4, &e);
        if (en) {
            int toks[3] = {0, s->vocab_size - 1, s->vocab_size / 2};
            float *lg = engine_forward(en, toks, 3, false, &e);
            if (!lg) fuzz_fail("forward failed on a parsed checkpoint: %s", e.msg);
            fuzz_touch(lg, (size_t)s->vocab_size * sizeof(float));
            engine_free(en);
        }
    }
    model_free(m);   /* frees m->w.layers and m; no maps */
    free(buf);
    return 0;
}
