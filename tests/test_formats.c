/* Checkpoint file layer: mmap, safetensors (single and sharded), llama2.c .bin, HF cache. */
#include "harness.h"
#include "engine/engine.h"
#include "model/tensorfile.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* 8-byte length + header JSON + data_len bytes of data (byte i = i & 255). */
static uint8_t *st_make(const char *json, size_t data_len, size_t *len) {
    size_t n = strlen(json);
    *len = 8 + n + data_len;
    uint8_t *b = malloc(*len);
    if (!b) return NULL;
    put_le64(b, n);
    memcpy(b + 8, json, n);
    for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (uint8_t)i;
    return b;
}

/* Parses a built buffer and expects failure with a message containing needle. */
static void st_expect_err(TestCtx *T_, const char *json, size_t data_len, const char *needle) {
    size_t len;
    uint8_t *b = st_make(json, data_len, &len);
    REQUIRE(b);
    TensorInfo *ts = NULL;
    int n = -1;
    Err e = {0};
    bool ok = safetensors_parse(b, len, "t.safetensors", &ts, &n, &e);
    CHECK_MSG(!ok, "expected failure (%s) for header: %s", needle, json);
    CHECK_MSG(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    CHECK_MSG(strstr(e.msg, "t.safetensors") != NULL, "message \"%s\" lacks the file name", e.msg);
    CHECK(ts == NULL && n == 0);
    free(ts);
    free(b);
}

static const char *k_valid_header =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
    "\"pos_ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[32,48]},"
    "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[48,48]},"
    "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[48,52]}}    ";

/* ---- safetensors ---------------------------------------------------------------------------- */

TEST(safetensors_valid) {
    size_t len;
    uint8_t *b = st_make(k_valid_header, 52, &len);
    REQUIRE(b);
    TensorInfo *ts = NULL;
    int n = 0;
    Err e = {0};
    bool ok = safetensors_parse(b, len, "t.safetensors", &ts, &n, &e);
    CHECK_MSG(ok, "%s", e.msg);
    REQUIRE(ok);
    CHECK_EQ_INT(n, 5);
    size_t data0 = 8 + strlen(k_valid_header);
    CHECK_STR(ts[0].name, "a.weight");
    CHECK_EQ_INT(ts[0].dtype, DT_F32);
    CHECK_EQ_INT(ts[0].supported, 1);
    CHECK_STR(ts[0].dtype_str, "F32");
    CHECK_EQ_INT(ts[0].ndim, 2);
    CHECK_EQ_INT(ts[0].shape[0], 2);
    CHECK_EQ_INT(ts[0].shape[1], 3);
    CHECK_EQ_INT(ts[0].offset, data0);
    CHECK_EQ_INT(ts[0].nbytes, 24);
    CHECK(ts[0].data == b + data0);
    CHECK_STR(ts[0].file, "t.safetensors");
    CHECK_EQ_INT(tensorinfo_numel(&ts[0]), 6);
    CHECK_STR(ts[1].name, "b");
    CHECK_EQ_INT(ts[1].dtype, DT_BF16);
    CHECK(ts[1].data == b + data0 + 24);
    CHECK_EQ_INT(((const uint8_t *)ts[1].data)[0], 24);
    CHECK_STR(ts[2].dtype_str, "I64");
    CHECK_EQ_INT(ts[2].supported, 0);
    CHECK_EQ_INT(ts[3].nbytes, 0);
    CHECK_EQ_INT(tensorinfo_numel(&ts[3]), 0);
    CHECK_EQ_INT(ts[4].ndim, 0);
    CHECK_EQ_INT(tensorinfo_numel(&ts[4]), 1);
    free(ts);
    free(b);

    /* No tensors at all is a valid (empty) file. */
    b = st_make("{}", 0, &len);
    REQUIRE(b);
    ts = NULL;
    n = -1;
    CHECK(safetensors_parse(b, len, "empty.safetensors", &ts, &n, &e));
    CHECK_EQ_INT(n, 0);
    free(ts);
    free(b);
}

TEST(safetensors_malformed) {
    Err e = {0};
    TensorInfo *ts = NULL;
    int n = 0;
    uint8_t small[7] = {0};
    CHECK(!safetensors_parse(small, sizeof small, "t.safetensors", &ts, &n, &e));
    CHECK_MSG(strstr(e.msg, "header length") != NULL, "%s", e.msg);

    /* header length larger than the file */
    uint8_t hdr[16] = {0};
    put_le64(hdr, 1000);
    memcpy(hdr + 8, "{}      ", 8);
    CHECK(!safetensors_parse(hdr, sizeof hdr, "t.safetensors", &ts, &n, &e));
    CHECK_MSG(strstr(e.msg, "header length 1000") && strstr(e.msg, "byte offset 0"), "%s", e.msg);
    put_le64(hdr, UINT64_MAX);
    CHECK(!safetensors_parse(hdr, sizeof hdr, "t.safetensors", &ts, &n, &e));
    CHECK_MSG(strstr(e.msg, "header length") != NULL, "%s", e.msg);

    /* header length over the cap (the big buffer is never touched past the first bytes) */
    size_t big = 8 + (size_t)SAFETENSORS_MAX_HEADER + 16;
    uint8_t *bb = calloc(1, big);
    if (bb) {
        put_le64(bb, (uint64_t)SAFETENSORS_MAX_HEADER + 8);
        CHECK(!safetensors_parse(bb, big, "t.safetensors", &ts, &n, &e));
        CHECK_MSG(strstr(e.msg, "header length") && strstr(e.msg, "cap"), "%s", e.msg);
        free(bb);
    }

    st_expect_err(T_, "[1,2]", 0, "'{'");
    st_expect_err(T_, "{\"a\": ", 0, "does not parse");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, "trailing");
    st_expect_err(T_, "{\"__metadata__\": 3}", 0, "__metadata__");
    st_expect_err(T_, "{\"a\": 3}", 0, "not a JSON object");
    st_expect_err(T_, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype");
    st_expect_err(T_, "{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"Q4_K\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                  "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "shape");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "data_offsets");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                      "\"data_offsets\":[0,4]}}", 4, "overflow");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, "data_offsets");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8, "data_offsets");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 8, "begin > end");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the end");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, "overlap");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice");
    st_expect_err(T_, "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "shape");
    char longname[400];
    memset(longname, 'x', 300);
    longname[300] = 0;
    char json[600];
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", longname);
    st_expect_err(T_, json, 4, "at most 255");

    /* A NUL byte inside the header */
    size_t len;
    uint8_t *b = st_make("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &len);
    REQUIRE(b);
    b[8 + 3] = 0;
    CHECK(!safetensors_parse(b, len, "t.safetensors", &ts, &n, &e));
    CHECK_MSG(strstr(e.msg, "NUL") && strstr(e.msg, "byte offset 11"), "%s", e.msg);
    free(b);
}

/* Every truncation and many single-byte corruptions of a valid file: must not crash, and
 * every success must keep all tensors inside the buffer. */
TEST(safetensors_mutations) {
    size_t len;
    uint8_t *b = st_make(k_valid_header, 52, &len);
    REQUIRE(b);
    int failures = 0, successes = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        REQUIRE(c);
        memcpy(c, b, cut);
        TensorInfo *ts = NULL;
        int n = 0;
        Err e = {0};
        if (safetensors_parse(c, cut, "cut", &ts, &n, &e)) successes++;
        else { failures++; CHECK(e.msg[0] != 0); }
        free(ts);
        free(c);
    }
    const uint8_t vals[] = {0, '"', '{', '}', '[', ']', ',', ':', '-', '9', 0xff, 'e', ' '};
    size_t hl = 8 + strlen(k_valid_header);
    for (size_t i = 0; i < hl; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            uint8_t *c = malloc(len);
            REQUIRE(c);
            memcpy(c, b, len);
            c[i] = vals[v];
            TensorInfo *ts = NULL;
            int n = 0;
            Err e = {0};
            if (safetensors_parse(c, len, "mut", &ts, &n, &e)) {
                successes++;
                for (int k = 0; k < n; k++)
                    CHECK(ts[k].offset + ts[k].nbytes <= len &&
                          (const uint8_t *)ts[k].data == c + ts[k].offset);
            } else {
                failures++;
            }
            free(ts);
            free(c);
        }
    }
    CHECK(failures > 0 && successes > 0);
    free(b);
}

/* ---- mmap ------------------------------------------------------------------------------------ */

static void mapped_open_kinds_in(TestCtx *T_, const char *dir) {
    char p[700];
    Err e = {0};
    snprintf(p, sizeof p, "%s/empty.bin", dir);
    REQUIRE(write_file(p, "", 0));
    CHECK(mapped_open(p, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "empty") != NULL, "%s", e.msg);
    CHECK(mapped_open(dir, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "directory") != NULL, "%s", e.msg);
    snprintf(p, sizeof p, "%s/missing.bin", dir);
    CHECK(mapped_open(p, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "cannot open") && strstr(e.msg, "missing.bin"), "%s", e.msg);
    snprintf(p, sizeof p, "%s/fifo", dir);
    if (mkfifo(p, 0600) == 0) {
        CHECK(mapped_open(p, &e) == NULL);
        CHECK_MSG(strstr(e.msg, "FIFO") != NULL, "%s", e.msg);
    }
    snprintf(p, sizeof p, "%s/data.bin", dir);
    REQUIRE(write_file(p, "hello", 5));
    Mapped *m = mapped_open(p, &e);
    REQUIRE(m);
    CHECK_EQ_INT(mapped_size(m), 5);
    CHECK(memcmp(mapped_data(m), "hello", 5) == 0);
    CHECK_STR(mapped_path(m), p);
    mapped_close(m);
    mapped_close(NULL);
}
TEST(mapped_open_kinds) { test_in_tmpdir(T_, "formats", mapped_open_kinds_in); }

/* ---- tensor sets ----------------------------------------------------------------------------- */

static int write_st(const char *dir, const char *name, const char *json, size_t data_len) {
    char p[700];
    size_t len;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t *b = st_make(json, data_len, &len);
    int ok = b && write_file(p, b, len);
    free(b);
    return ok;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return write_file(p, text, strlen(text));
}

static void set_expect_err(TestCtx *T_, const char *dir, const char *index, const char *needle) {
    REQUIRE(write_text(dir, "model.safetensors.index.json", index));
    Err e = {0};
    TensorSet *s = tensorset_open_dir(dir, &e);
    CHECK_MSG(s == NULL, "expected failure (%s)", needle);
    CHECK_MSG(strstr(e.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", e.msg, needle);
    tensorset_free(s);
}

static void tensorset_sharded_in(TestCtx *T_, const char *dir) {
    Err e = {0};
    CHECK(tensorset_open_dir(dir, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "no model.safetensors or model.safetensors.index.json in") &&
              strstr(e.msg, dir), "%s", e.msg);

    REQUIRE(write_st(dir, "model-00001-of-00002.safetensors",
                     "{\"x.w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"y.w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}", 16));
    REQUIRE(write_st(dir, "model-00002-of-00002.safetensors",
                     "{\"z.w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                     "\"a.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]}}", 10));
    REQUIRE(write_text(dir, "model.safetensors.index.json",
                       "{\"metadata\":{\"total_size\":26},\"weight_map\":{"
                       "\"x.w\":\"model-00001-of-00002.safetensors\","
                       "\"z.w\":\"model-00002-of-00002.safetensors\","
                       "\"y.w\":\"model-00001-of-00002.safetensors\","
                       "\"a.w\":\"model-00002-of-00002.safetensors\"}}"));
    TensorSet *s = tensorset_open_dir(dir, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    REQUIRE(s);
    CHECK_EQ_INT(tensorset_count(s), 4);
    const TensorInfo *t = tensorset_find(s, "z.w");
    REQUIRE(t);
    CHECK_EQ_INT(t->dtype, DT_BF16);
    CHECK_EQ_INT(t->shape[0], 3);
    CHECK(strstr(t->file, "model-00002-of-00002.safetensors") != NULL);
    const TensorInfo *y = tensorset_find(s, "y.w");
    REQUIRE(y);
    CHECK_EQ_INT(((const uint8_t *)y->data)[0], 8);   /* data byte i == i in the shard */
    CHECK(tensorset_find(s, "a.w") != NULL);
    CHECK(tensorset_find(s, "x.w") != NULL);
    CHECK(tensorset_find(s, "nope") == NULL);
    CHECK(tensorset_at(s, 4) == NULL && tensorset_at(s, -1) == NULL);
    CHECK_STR(tensorset_at(s, 0)->name, "x.w");
    /* Take the maps: data stays valid after the set is freed. */
    Mapped **maps = NULL;
    int nm = 0;
    const uint8_t *zdata = t->data;
    CHECK(tensorset_take_maps(s, &maps, &nm, &e));
    CHECK(!tensorset_take_maps(s, &maps, &nm, &e));
    CHECK_EQ_INT(nm, 2);
    tensorset_free(s);
    CHECK_EQ_INT(zdata[0], 0);
    CHECK_EQ_INT(zdata[5], 5);
    for (int i = 0; i < nm; i++) mapped_close(maps[i]);
    free(maps);

    /* weight_map errors */
    set_expect_err(T_, dir, "{\"weight_map\":{\"q.w\":\"model-00001-of-00002.safetensors\"}}", "no such tensor");
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":\"model-00001-of-00002.safetensors\","
                            "\"z.w\":\"model-00002-of-00002.safetensors\","
                            "\"a.w\":\"model-00001-of-00002.safetensors\"}}", "but it is in");
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":\"missing.safetensors\"}}", "cannot open");
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":\"../model-00001-of-00002.safetensors\"}}",
                   "plain file name");
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":5}}", "not a file name");
    set_expect_err(T_, dir, "{\"weight_map\":{}}", "empty");
    set_expect_err(T_, dir, "{\"metadata\":{}}", "weight_map");
    set_expect_err(T_, dir, "{\"weight_map\":", "does not parse");
    REQUIRE(write_st(dir, "dup.safetensors", "{\"x.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":\"model-00001-of-00002.safetensors\","
                            "\"q\":\"dup.safetensors\"}}", "appears in both");
    REQUIRE(write_st(dir, "bad.safetensors", "{\"x.w\":{\"dtype\":\"F32\",\"shape\":[9],\"data_offsets\":[0,4]}}", 4));
    set_expect_err(T_, dir, "{\"weight_map\":{\"x.w\":\"bad.safetensors\"}}", "shape");

    /* model.safetensors wins over the index */
    REQUIRE(write_st(dir, "model.safetensors", "{\"only\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
    s = tensorset_open_dir(dir, &e);
    CHECK_MSG(s != NULL, "%s", e.msg);
    if (s) {
        CHECK_EQ_INT(tensorset_count(s), 1);
        CHECK(tensorset_find(s, "only") != NULL);
    }
    tensorset_free(s);
    char p[700];
    snprintf(p, sizeof p, "%s/nodir", dir);
    CHECK(tensorset_open_dir(p, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "not a directory") != NULL, "%s", e.msg);
}
TEST(tensorset_sharded) { test_in_tmpdir(T_, "formats", tensorset_sharded_in); }

/* ---- llama2.c ---------------------------------------------------------------------------------- */

/* Frees what llama2c_load allocates (model_free's job in the full program). */
static void l2_free(Model *m) {
    if (!m) return;
    free(m->w.layers);
    for (int i = 0; i < m->n_maps; i++) mapped_close(m->maps[i]);
    free(m->maps);
    free(m);
}

TEST(llama2c_stories260K) {
    const char *data = test_shared_data();
    if (!data) SKIP("no ../shared/data");
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K/stories260K.bin", data);
    if (!file_exists(path)) SKIP("no stories260K.bin");
    Err e = {0};
    Model *m = llama2c_load(path, false, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    REQUIRE(m);
    const ModelSpec *s = &m->spec;
    CHECK_STR(s->model_type, "llama2c");
    CHECK_EQ_INT(s->family, ARCH_LLAMA);
    CHECK_EQ_INT(s->d_model, 64);
    CHECK_EQ_INT(s->d_ff, 172);
    CHECK_EQ_INT(s->n_layers, 5);
    CHECK_EQ_INT(s->n_heads, 8);
    CHECK_EQ_INT(s->n_kv_heads, 4);
    CHECK_EQ_INT(s->head_dim, 8);
    CHECK_EQ_INT(s->vocab_size, 512);
    CHECK_EQ_INT(s->max_pos, 512);
    CHECK_EQ_INT(s->attn_kind, ATTN_GQA);
    CHECK_EQ_INT(s->rope_style, ROPE_INTERLEAVED);
    CHECK_EQ_INT(s->rotary_dim, 8);
    CHECK_EQ_INT(s->norm, NORM_RMSNORM);
    CHECK_NEAR(s->norm_eps, 1e-5, 1e-12);
    CHECK_NEAR(s->rope_theta, 10000.0, 0);
    CHECK(s->gated_ffn && s->act == ACT_SILU && s->pos == POS_ROPE);
    CHECK(s->tied_embeddings);
    CHECK_EQ_INT(s->bos_id, 1);
    CHECK_EQ_INT(s->eos_id, 2);
    CHECK_EQ_INT(s->dtype, DT_F32);
    CHECK_EQ_INT(m->n_params, 260032);
    CHECK_EQ_INT(m->n_nonfinite, 0);
    CHECK(m->weight_bytes > 0);
    CHECK_STR(m->path, path);
    CHECK(strstr(m->dir, "stories260K") != NULL);
    CHECK(m->w.lm_head.data == m->w.tok_emb.data);
    CHECK_EQ_INT(m->w.tok_emb.rows, 512);
    CHECK_EQ_INT(m->w.tok_emb.cols, 64);
    CHECK_EQ_INT(m->w.layers[4].wk.rows, 32);
    CHECK_EQ_INT(m->w.layers[4].w_down.rows, 64);
    CHECK_EQ_INT(m->w.layers[4].w_down.cols, 172);

    /* First embedding row and the last weight (rms_final[63]) read by hand. */
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    float row[64], last;
    CHECK(fseek(f, 28, SEEK_SET) == 0 && fread(row, sizeof(float), 64, f) == 64);
    long fin = 28 + 4L * (260032 - 1);
    CHECK(fseek(f, fin, SEEK_SET) == 0 && fread(&last, sizeof last, 1, f) == 1);
    fclose(f);
    const float *emb = m->w.tok_emb.data;
    for (int i = 0; i < 64; i++) {
        CHECK(isfinite(emb[i]));
        CHECK_MSG(emb[i] == row[i], "emb[%d] %g vs %g", i, emb[i], row[i]);
    }
    CHECK(((const float *)m->w.lnf_w.data)[63] == last);

    /* Cross-check against the HF conversion of the same weights (v, o and the MLP are not
     * permuted there). */
    char hfdir[1024];
    snprintf(hfdir, sizeof hfdir, "%s/stories260K/hf", data);
    TensorSet *ts = tensorset_open_dir(hfdir, &e);
    CHECK_MSG(ts != NULL, "%s", e.msg);
    if (ts) {
        CHECK_EQ_INT(tensorset_count(ts), 47);   /* 48 header keys incl. __metadata__ */
        struct { const char *name; const Tensor *t; } pairs[] = {
            {"model.embed_tokens.weight", &m->w.tok_emb},
            {"model.norm.weight", &m->w.lnf_w},
            {"model.layers.0.input_layernorm.weight", &m->w.layers[0].ln1_w},
            {"model.layers.3.post_attention_layernorm.weight", &m->w.layers[3].ln2_w},
            {"model.layers.2.self_attn.v_proj.weight", &m->w.layers[2].wv},
            {"model.layers.4.self_attn.o_proj.weight", &m->w.layers[4].wo},
            {"model.layers.1.mlp.gate_proj.weight", &m->w.layers[1].w_gate},
            {"model.layers.1.mlp.up_proj.weight", &m->w.layers[1].w_up},
            {"model.layers.4.mlp.down_proj.weight", &m->w.layers[4].w_down},
        };
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            const TensorInfo *ti = tensorset_find(ts, pairs[i].name);
            CHECK_MSG(ti != NULL, "missing %s", pairs[i].name);
            if (!ti) continue;
            size_t nb = (size_t)pairs[i].t->rows * (size_t)pairs[i].t->cols * 4;
            CHECK_EQ_INT(ti->nbytes, nb);
            CHECK_EQ_INT(ti->dtype, DT_F32);
            CHECK_MSG(ti->nbytes == nb && memcmp(ti->data, pairs[i].t->data, nb) == 0, "%s differs",
                      pairs[i].name);
        }
        tensorset_free(ts);
    }
    l2_free(m);
}

/* A tiny llama2.c checkpoint: 7-int header + weights i*0.001f (+ wcls when vocab < 0). */
static uint8_t *l2_make(const int32_t hdr[7], size_t *len) {
    int64_t d = hdr[0], hid = hdr[1], L = hdr[2], H = hdr[3], KV = hdr[4], V = hdr[5] < 0 ? -hdr[5] : hdr[5];
    int64_t seq = hdr[6], hs = d / H, kv = hs * KV;
    int64_t n = V * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d + 3 * L * hid * d + d +
                seq * hs + (hdr[5] < 0 ? V * d : 0);
    *len = 28 + (size_t)n * 4;
    uint8_t *b = malloc(*len);
    if (!b) return NULL;
    memcpy(b, hdr, 28);
    float *w = (float *)(void *)(b + 28);
    for (int64_t i = 0; i < n; i++) w[i] = (float)i * 0.001f;
    return b;
}

static void l2_expect_err(TestCtx *T_, const uint8_t *b, size_t len, const char *n1, const char *n2) {
    Model m;
    memset(&m, 0, sizeof m);
    Err e = {0};
    CHECK(!llama2c_parse(b, len, "tiny.bin", &m, &e));
    CHECK(m.w.layers == NULL);
    CHECK_MSG(strstr(e.msg, "tiny.bin") && strstr(e.msg, n1) && (!n2 || strstr(e.msg, n2)),
              "message \"%s\" lacks \"%s\"/\"%s\"", e.msg, n1, n2 ? n2 : "");
}

TEST(llama2c_synthetic) {
    const int32_t good[7] = {8, 16, 2, 2, 1, 10, 4};
    size_t len;
    uint8_t *b = l2_make(good, &len);
    REQUIRE(b);
    Model m;
    memset(&m, 0, sizeof m);
    Err e = {0};
    CHECK_MSG(llama2c_parse(b, len, "tiny.bin", &m, &e), "%s", e.msg);
    CHECK_EQ_INT(m.spec.attn_kind, ATTN_MQA);
    CHECK_EQ_INT(m.spec.head_dim, 4);
    CHECK(m.w.lm_head.data == m.w.tok_emb.data);
    /* layer 1 wq starts after emb (80), rms_att (16) and layer 0 wq (64) */
    CHECK_NEAR(((const float *)m.w.layers[1].wq.data)[0], 160 * 0.001f, 1e-6);
    CHECK_EQ_INT(m.w.layers[1].wk.rows, 4);
    CHECK(llama2c_sniff(b, len));
    CHECK(!llama2c_sniff(b, len - 4));
    free(m.w.layers);

    /* Every truncation fails cleanly; the full-size error names the field. */
    for (size_t cut = 0; cut < len; cut++) {
        Model mm;
        memset(&mm, 0, sizeof mm);
        CHECK(!llama2c_parse(b, cut, "tiny.bin", &mm, &e));
        CHECK(mm.w.layers == NULL);
    }
    l2_expect_err(T_, b, len - 4, "truncated", "freq_cis_imag");
    l2_expect_err(T_, b, 100, "truncated", "token_embedding_table");
    l2_expect_err(T_, b, 500, "truncated", "wq");
    l2_expect_err(T_, b, 20, "28-byte", NULL);
    free(b);

    /* Unshared classifier */
    int32_t uns[7] = {8, 16, 2, 2, 2, -10, 4};
    b = l2_make(uns, &len);
    REQUIRE(b);
    memset(&m, 0, sizeof m);
    CHECK_MSG(llama2c_parse(b, len, "tiny.bin", &m, &e), "%s", e.msg);
    CHECK(!m.spec.tied_embeddings);
    CHECK_EQ_INT(m.spec.vocab_size, 10);
    CHECK_EQ_INT(m.spec.attn_kind, ATTN_MHA);
    CHECK(m.w.lm_head.data == b + len - 10 * 8 * 4);
    free(m.w.layers);
    /* same bytes, vocab positive: the classifier is "extra" and the hint says so */
    int32_t pos = 10;
    memcpy(b + 20, &pos, 4);
    l2_expect_err(T_, b, len, "after the last tensor", "negative");
    /* and vocab negative on a shared file: wcls missing */
    uint8_t *sb = l2_make(good, &len);
    REQUIRE(sb);
    int32_t neg = -10;
    memcpy(sb + 20, &neg, 4);
    l2_expect_err(T_, sb, len, "wcls", "positive");
    free(sb);
    free(b);

    /* Header fields */
    struct { int32_t h[7]; const char *n1, *n2; } bad[] = {
        {{-8, 16, 2, 2, 1, 10, 4}, "dim", "byte offset 0"},
        {{8, 0, 2, 2, 1, 10, 4}, "hidden_dim", "byte offset 4"},
        {{8, 16, 0, 2, 1, 10, 4}, "n_layers", NULL},
        {{8, 16, 1000000, 2, 1, 10, 4}, "n_layers", "1..1024"},
        {{8, 16, 2, 3, 1, 10, 4}, "n_heads", "does not divide"},
        {{8, 16, 2, 4, 3, 10, 4}, "n_kv_heads", NULL},
        {{8, 16, 2, 2, 3, 10, 4}, "n_kv_heads", NULL},
        {{8, 16, 2, 8, 8, 10, 4}, "odd", NULL},
        {{2147483647, 16, 2, 2, 1, 10, 4}, "dim", NULL},
        {{8, 2147483647, 2, 2, 1, 10, 4}, "hidden_dim", NULL},
        {{8, 16, 2, 2, 1, (int32_t)INT32_MIN, 4}, "vocab_size", NULL},
        {{8, 16, 2, 2, 1, 0, 4}, "vocab_size", NULL},
        {{8, 16, 2, 2, 1, 10, -1}, "seq_len", NULL},
        {{0x616b3432, 1, 0, 0, 0, 0, 0}, "version 1", "ak42"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t hb[64] = {0};
        memcpy(hb, bad[i].h, 28);
        l2_expect_err(T_, hb, sizeof hb, bad[i].n1, bad[i].n2);
    }
}

static void llama2c_load_errors_in(TestCtx *T_, const char *dir) {
    char p[700];
    Err e = {0};
    snprintf(p, sizeof p, "%s/none.bin", dir);
    CHECK(llama2c_load(p, false, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "none.bin") != NULL, "%s", e.msg);
    const int32_t good[7] = {8, 16, 2, 2, 1, 10, 4};
    size_t len;
    uint8_t *b = l2_make(good, &len);
    REQUIRE(b);
    snprintf(p, sizeof p, "%s/tiny.bin", dir);
    REQUIRE(write_file(p, b, len - 1));
    CHECK(llama2c_load(p, false, &e) == NULL);
    CHECK_MSG(strstr(e.msg, "tiny.bin") && strstr(e.msg, "truncated"), "%s", e.msg);
    REQUIRE(write_file(p, b, len));
    Model *m = llama2c_load(p, false, &e);
    CHECK_MSG(m != NULL, "%s", e.msg);
    if (m) {
        CHECK_STR(m->dir, dir);
        CHECK_EQ_INT(m->n_maps, 1);
        CHECK_EQ_INT(m->spec.n_layers, 2);
    }
    l2_free(m);
    free(b);
}
TEST(llama2c_load_errors) { test_in_tmpdir(T_, "formats", llama2c_load_errors_in); }

/* ---- HF cache ------------------------------------------------------------------------------------ */

typedef struct { const char *name; char *val; } SavedEnv;

static void env_save(SavedEnv *s, int n) {
    for (int i = 0; i < n; i++) {
        const char *v = getenv(s[i].name);
        s[i].val = v ? strdup(v) : NULL;
        unsetenv(s[i].name);
    }
}

static void env_restore(SavedEnv *s, int n) {
    for (int i = 0; i < n; i++) {
        if (s[i].val) setenv(s[i].name, s[i].val, 1);
        else unsetenv(s[i].name);
        free(s[i].val);
    }
}

static void mkdirs(const char *base, const char *rel) {
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    for (char *q = p + strlen(base) + 1; *q; q++)
        if (*q == '/') { *q = 0; mkdir(p, 0700); *q = '/'; }
    mkdir(p, 0700);
}

static void set_mtime(const char *path, time_t t) {
    struct timeval tv[2] = {{t, 0}, {t, 0}};
    utimes(path, tv);
}

static void hf_cache_resolve_in(TestCtx *T_, const char *dir) {
    SavedEnv env[] = {{"HF_HUB_CACHE", NULL}, {"HF_HOME", NULL}, {"XDG_CACHE_HOME", NULL}, {"HOME", NULL}};
    int ne = (int)(sizeof env / sizeof env[0]);
    char hub[700], p[1400], out[2048];
    env_save(env, ne);
    Err e = {0};

    /* existing paths resolve to themselves */
    CHECK(model_resolve_path(dir, out, sizeof out, &e));
    CHECK_STR(out, dir);

    snprintf(hub, sizeof hub, "%s/hub", dir);
    setenv("HF_HUB_CACHE", hub, 1);
    const char *repo = "hub/models--acme--tiny-llm";
    mkdirs(dir, "hub/models--acme--tiny-llm/refs");
    mkdirs(dir, "hub/models--acme--tiny-llm/snapshots/aaa111");
    mkdirs(dir, "hub/models--acme--tiny-llm/snapshots/bbb222");
    mkdirs(dir, "hub/models--acme--tiny-llm/snapshots/ccc333");   /* no config.json */
    snprintf(p, sizeof p, "%s/%s/snapshots/aaa111", dir, repo);
    REQUIRE(write_text(p, "config.json", "{}"));
    set_mtime(p, 1000000);
    snprintf(p, sizeof p, "%s/%s/snapshots/bbb222", dir, repo);
    REQUIRE(write_text(p, "config.json", "{}"));
    set_mtime(p, 2000000);
    snprintf(p, sizeof p, "%s/%s/snapshots/ccc333", dir, repo);
    set_mtime(p, 3000000);

    /* newest snapshot with config.json when there is no refs/main */
    CHECK_MSG(model_resolve_path("acme/tiny-llm", out, sizeof out, &e), "%s", e.msg);
    snprintf(p, sizeof p, "%s/%s/snapshots/bbb222", dir, repo);
    CHECK_STR(out, p);

    /* refs/main wins */
    snprintf(p, sizeof p, "%s/%s/refs", dir, repo);
    REQUIRE(write_text(p, "main", "aaa111\n"));
    CHECK_MSG(model_resolve_path("acme/tiny-llm", out, sizeof out, &e), "%s", e.msg);
    snprintf(p, sizeof p, "%s/%s/snapshots/aaa111", dir, repo);
    CHECK_STR(out, p);

    /* a refs/main naming something odd is ignored */
    snprintf(p, sizeof p, "%s/%s/refs", dir, repo);
    REQUIRE(write_text(p, "main", "../../../etc"));
    CHECK(model_resolve_path("acme/tiny-llm", out, sizeof out, &e));
    CHECK(strstr(out, "snapshots/bbb222") != NULL);

    /* too small an output buffer */
    char tiny[8];
    CHECK(!model_resolve_path("acme/tiny-llm", tiny, sizeof tiny, &e));
    CHECK_MSG(strstr(e.msg, "longer") != NULL, "%s", e.msg);

    /* HF_HOME/hub and XDG fallbacks */
    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", dir, 1);
    CHECK_MSG(model_resolve_path("acme/tiny-llm", out, sizeof out, &e), "%s", e.msg);
    CHECK(strstr(out, "snapshots/bbb222") != NULL);
    unsetenv("HF_HOME");
    mkdirs(dir, "xdg/huggingface/hub/models--o--n/snapshots/r1");
    snprintf(p, sizeof p, "%s/xdg/huggingface/hub/models--o--n/snapshots/r1", dir);
    REQUIRE(write_text(p, "config.json", "{}"));
    snprintf(p, sizeof p, "%s/xdg", dir);
    setenv("XDG_CACHE_HOME", p, 1);
    CHECK_MSG(model_resolve_path("o/n", out, sizeof out, &e), "%s", e.msg);
    CHECK(strstr(out, "xdg/huggingface/hub/models--o--n/snapshots/r1") != NULL);

    /* not found: the message lists where it looked */
    setenv("HF_HUB_CACHE", hub, 1);
    setenv("HOME", dir, 1);
    CHECK(!model_resolve_path("acme/missing", out, sizeof out, &e));
    CHECK_MSG(strstr(e.msg, "models--acme--missing") && strstr(e.msg, hub) &&
              strstr(e.msg, ".cache/huggingface/hub") && strstr(e.msg, "xdg/huggingface/hub"), "%s", e.msg);
    /* a repo with no usable snapshot */
    mkdirs(dir, "hub/models--acme--empty/snapshots/x");
    CHECK(!model_resolve_path("acme/empty", out, sizeof out, &e));
    CHECK_MSG(strstr(e.msg, "no snapshot with config.json") != NULL, "%s", e.msg);
    /* not a repo id */
    CHECK(!model_resolve_path("no/such/path.bin", out, sizeof out, &e));
    CHECK_MSG(strstr(e.msg, "no such file or directory") != NULL, "%s", e.msg);
    /* a relative path that leaves the folder is not a repo id either (a name nothing beside the
     * checkout is called: "../x" failed when a folder x happened to sit there) */
    CHECK(!model_resolve_path("../llmscope-test-no-such-folder", out, sizeof out, &e));
    CHECK(!model_resolve_path("", out, sizeof out, &e));

    env_restore(env, ne);
}
TEST(hf_cache_resolve) { test_in_tmpdir(T_, "formats", hf_cache_resolve_in); }

/* model_load_layout (what `info` loads) reads no weight, but gives the counts model_load gives,
 * on the loads that copy or rewrite weights: GPT-2's transposed Conv1D, a "llama" GGUF's Q/K rows
 * un-permuted, a DeepSeek GGUF's split kv_b joined, MoE experts. The engine refuses such a model
 * with a message naming it (the CLI test malformed_info_reads_no_weight measures that info keeps
 * the weights out of memory). */
TEST(formats_layout_load_counts_as_full_load) {
    static const char *paths[] = {"assets/models/story-gpt2", "assets/models/story-mla", "assets/models/story-moe",
                                  "tests/fixtures/gguf/llama/llama-Q4_K_M.gguf", "tests/fixtures/gguf/deepseek2/deepseek2-BF16.gguf",
                                  "tests/fixtures/gguf/qwen3moe/qwen3moe-BF16.gguf"};
    int seen = 0;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (access(paths[i], R_OK) != 0) continue;
        Err e = {0}, el = {0};
        Model *full = model_load(paths[i], false, &e), *lay = model_load_layout(paths[i], &el);
        CHECK_MSG(full && lay, "%s: %s%s", paths[i], e.msg, el.msg);
        if (!full || !lay) { model_free(full); model_free(lay); continue; }
        seen++;
        CHECK_MSG(lay->layout_only && !full->layout_only, "%s: layout_only %d / %d", paths[i], lay->layout_only, full->layout_only);
        CHECK_MSG(lay->n_params == full->n_params && lay->weight_bytes == full->weight_bytes,
                  "%s: layout load counts %lld params / %zu bytes, full load %lld / %zu", paths[i], lay->n_params,
                  lay->weight_bytes, full->n_params, full->weight_bytes);
        CHECK_MSG(lay->spec.dtype == full->spec.dtype && lay->spec.tied_embeddings == full->spec.tied_embeddings &&
                  lay->spec.n_layers == full->spec.n_layers && lay->spec.vocab_size == full->spec.vocab_size,
                  "%s: the spec differs between the loads", paths[i]);
        Err ee = {0};
        Engine *en = engine_new(lay, 0, &ee);
        CHECK_MSG(!en && strstr(ee.msg, paths[i]) && strstr(ee.msg, "model_load"), "%s: engine_new on a layout load: %s", paths[i],
                  en ? "accepted" : ee.msg);
        engine_free(en);
        model_free(full);
        model_free(lay);
    }
    if (!seen) SKIP("none of the models is here");
}
