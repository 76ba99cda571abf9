/* Malformed-input suite (issue 7), model files: each case starts from the valid tiny checkpoint
 * of malformed_fx.h (written into a temp folder), breaks one thing (safetensors container,
 * config.json, llama2.c checkpoint, paths, NaN weights, sizes larger than memory, ids and
 * prompts), and runs `info`, `logits --ids` and `generate`: every failure must be a clean exit
 * with a message that names the file and the field. Command lines, chat-model semantics and
 * GGUF containers: test_malformed_cli.c. docs/robustness.md lists the cases. */
#include "malformed_fx.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- control: the unbroken fixture works ------------------------------------------------------ */

TEST(malformed_control_valid_model_runs) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    for (size_t i = 0; i < sizeof mf_k_cmds / sizeof mf_k_cmds[0]; i++) free(mf_expect_ok_cmd(T_, f.dir, mf_k_cmds[i]));
    char *out = NULL;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s info --json --check-weights --model '%s'", test_bin(), f.dir);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK(out && strstr(out, "\"nonfinite_weights\": 0, \"nonfinite_first\": \"\""));
    free(out);
    snprintf(cmd, sizeof cmd, "%s info --json --model '%s'", test_bin(), f.dir);   /* the headers only: not counted */
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK(out && strstr(out, "\"nonfinite_weights\": null, \"nonfinite_first\": null"));
    free(out);
    mf_rm_rf(f.dir);
}

TEST(malformed_control_f16_bf16_weights_load) {
    NEED_CLI();
    CASE(f);
    snprintf(mf_find_t(&f, WQ)->dtype, 12, "F16");
    snprintf(mf_find_t(&f, WK)->dtype, 12, "BF16");
    WRITE(f, 0);
    free(mf_expect_ok_cmd(T_, f.dir, "logits --ids 1,2,3"));
    mf_rm_rf(f.dir);
}

/* ---- safetensors container -------------------------------------------------------------------- */

TEST(malformed_st_truncated_data) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = mf_st_build(&f);
    mf_st_write_raw(&f, st.p, st.n - 10);   /* cuts into lm_head.weight, the last tensor */
    mf_expect_fail(T_, f.dir, "model.safetensors", "data_offsets");
    mf_expect_fail_cmd(T_, f.dir, "info", "lm_head.weight", "extend past the end");
    free(st.p);
    mf_rm_rf(f.dir);
}

TEST(malformed_st_truncated_header) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = mf_st_build(&f);
    mf_st_write_raw(&f, st.p, 100);         /* ends inside the header JSON */
    mf_expect_fail(T_, f.dir, "model.safetensors", "header length");
    mf_st_write_raw(&f, st.p, 5);           /* shorter than the length field */
    mf_expect_fail(T_, f.dir, "model.safetensors", "too short");
    free(st.p);
    mf_rm_rf(f.dir);
}

TEST(malformed_st_header_length_larger_than_file) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = mf_st_build(&f);
    uint64_t big = 1ull << 40;
    for (int i = 0; i < 8; i++) st.p[i] = (uint8_t)(big >> (8 * i));
    mf_st_write_raw(&f, st.p, st.n);
    mf_expect_fail(T_, f.dir, "model.safetensors", "header length 1099511627776");
    for (int i = 0; i < 8; i++) st.p[i] = 0xff;   /* 2^64-1 */
    mf_st_write_raw(&f, st.p, st.n);
    mf_expect_fail(T_, f.dir, "model.safetensors", "header length");
    free(st.p);
    mf_rm_rf(f.dir);
}

TEST(malformed_st_empty_and_garbage) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    mf_st_write_raw(&f, "", 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "empty");
    const char junk[] = "\x10\x00\x00\x00\x00\x00\x00\x00not json at all!";
    mf_st_write_raw(&f, junk, sizeof junk - 1);
    mf_expect_fail(T_, f.dir, "model.safetensors", "does not start with '{'");
    const char bad[] = "\x0e\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":";
    mf_st_write_raw(&f, bad, sizeof bad - 1);
    mf_expect_fail(T_, f.dir, "model.safetensors", "does not parse");
    mf_rm_rf(f.dir);
}

TEST(malformed_st_overlapping_offsets) {
    NEED_CLI();
    CASE(f);
    TSpec *k = mf_find_t(&f, WK), *v = mf_find_t(&f, WV);
    /* k and v have the same size; point v at k's bytes */
    long long off = 0;
    for (int i = 0; i < f.nt && strcmp(f.t[i].name, WK); i++) off += mf_numel(&f.t[i]) * 4;
    k->begin = off;
    k->end = off + mf_numel(k) * 4;
    v->begin = off + 16;
    v->end = v->begin + mf_numel(v) * 4;
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "overlap");
    mf_expect_fail_cmd(T_, f.dir, "info", WK, WV);
    mf_rm_rf(f.dir);
}

TEST(malformed_st_out_of_range_offsets) {
    NEED_CLI();
    CASE(f);
    TSpec *q = mf_find_t(&f, WQ);
    q->begin = 1000000;
    q->end = 1000000 + mf_numel(q) * 4;
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "data_offsets");
    mf_expect_fail_cmd(T_, f.dir, "info", WQ, "extend past the end of the data section");
    mf_rm_rf(f.dir);
    CASE(g);
    q = mf_find_t(&g, WQ);
    q->begin = 64;
    q->end = 0;                           /* begin > end */
    WRITE(g, 0);
    mf_expect_fail(T_, g.dir, "model.safetensors", "begin > end");
    mf_rm_rf(g.dir);
    CASE(h);
    q = mf_find_t(&h, WQ);
    q->begin = 0;
    q->end = 4;                           /* span does not match shape x dtype */
    WRITE(h, 0);
    mf_expect_fail(T_, h.dir, "model.safetensors", "\"shape\" x dtype F32 needs 256 bytes");
    mf_rm_rf(h.dir);
}

TEST(malformed_st_wrong_dtype) {
    NEED_CLI();
    CASE(f);
    snprintf(mf_find_t(&f, WQ)->dtype, 12, "I64");
    mf_find_t(&f, WQ)->shape[1] = FX_D / 2;  /* keep the byte count honest: 8 x 4 x 8 bytes */
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "dtype I64");
    mf_expect_fail_cmd(T_, f.dir, "info", WQ, "supported: F32, F16, BF16");
    mf_rm_rf(f.dir);
    CASE(g);
    snprintf(mf_find_t(&g, WQ)->dtype, 12, "Q4_K");
    WRITE(g, 0);
    mf_expect_fail(T_, g.dir, "model.safetensors", "unknown dtype \"Q4_K\"");
    mf_rm_rf(g.dir);
}

TEST(malformed_st_wrong_shape) {
    NEED_CLI();
    CASE(f);
    mf_find_t(&f, WQ)->shape[1] = 7;         /* [8, 7] instead of [8, 8] */
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", WQ);
    mf_expect_fail_cmd(T_, f.dir, "info", "has shape [8, 7], expected [8, 8]", "config.json");
    mf_rm_rf(f.dir);
    CASE(g);
    TSpec *ln = mf_find_t(&g, LN2);          /* 2-D where a vector is expected */
    ln->ndim = 2;
    ln->shape[0] = 1;
    ln->shape[1] = FX_D;
    WRITE(g, 0);
    mf_expect_fail(T_, g.dir, "model.safetensors", LN2);
    mf_rm_rf(g.dir);
    CASE(h);
    mf_find_t(&h, WQ)->shape[0] = -8;        /* negative dimension */
    WRITE(h, 0);
    mf_expect_fail(T_, h.dir, "model.safetensors", "\"shape\" dimension 0 is -8");
    mf_rm_rf(h.dir);
}

TEST(malformed_st_missing_tensor) {
    NEED_CLI();
    CASE(f);
    mf_del_t(&f, LN2);
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, f.dir, LN2);
    mf_expect_fail_cmd(T_, f.dir, "info", "required tensor", "missing");
    mf_rm_rf(f.dir);
    CASE(g);
    mf_del_t(&g, "lm_head.weight");          /* untied model without its classifier */
    WRITE(g, 0);
    mf_expect_fail(T_, g.dir, g.dir, "lm_head.weight");
    mf_expect_fail_cmd(T_, g.dir, "info", "tie_word_embeddings", NULL);
    mf_rm_rf(g.dir);
    CASE(h);
    mf_del_t(&h, EMB);
    WRITE(h, 0);
    mf_expect_fail(T_, h.dir, h.dir, "embed_tokens.weight");
    mf_rm_rf(h.dir);
}

TEST(malformed_st_duplicate_tensor) {
    NEED_CLI();
    CASE(f);
    TSpec *t = mf_add_t(&f, WQ, FILL_RANDOM, 2, FX_H * FX_HD, FX_D);
    (void)t;
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "appears twice");
    mf_rm_rf(f.dir);
}

TEST(malformed_st_missing_file_and_bad_index) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 1);                          /* config only: info works, running does not */
    free(mf_expect_ok_cmd(T_, f.dir, "info"));
    mf_expect_fail_cmd(T_, f.dir, "logits --ids 1", f.dir, "model.safetensors");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 1", f.dir, "model.safetensors");
    /* a shard index that escapes the directory */
    mf_write_str(f.dir, "model.safetensors.index.json",
              "{\"metadata\":{},\"weight_map\":{\"" EMB "\":\"../model-00001-of-00001.safetensors\"}}");
    mf_expect_fail(T_, f.dir, "model.safetensors.index.json", "weight_map");
    mf_expect_fail_cmd(T_, f.dir, "info", "must be a plain file name", NULL);
    /* a shard that does not exist */
    mf_write_str(f.dir, "model.safetensors.index.json",
              "{\"metadata\":{},\"weight_map\":{\"" EMB "\":\"model-00001-of-00002.safetensors\"}}");
    mf_expect_fail(T_, f.dir, "model-00001-of-00002.safetensors", "cannot open");
    /* an index that is not JSON */
    mf_write_str(f.dir, "model.safetensors.index.json", "{\"weight_map\": [");
    mf_expect_fail(T_, f.dir, "model.safetensors.index.json", "does not parse");
    mf_rm_rf(f.dir);
}

/* ---- config.json -------------------------------------------------------------------------------- */

/* Sets (raw JSON) or deletes (raw NULL) one config.json field; expects all commands to fail
 * naming `file` (NULL: config.json) and `field`. */
static void config_case_in(TestCtx *T_, const char *key, const char *raw, const char *file, const char *field) {
    CASE(f);
    if (raw) mf_cfg_set(&f, key, raw);
    else mf_cfg_del(&f, key);
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, file ? file : "config.json", field);
    mf_rm_rf(f.dir);
}
#define config_case(T, key, raw, field) config_case_in(T, key, raw, NULL, field)

TEST(malformed_cfg_impossible_dims) {
    NEED_CLI();
    config_case(T_, "num_attention_heads", "3", "num_attention_heads 3");      /* 3 does not divide 8 */
    config_case(T_, "num_key_value_heads", "3", "num_key_value_heads 3");      /* nor 2 */
    config_case(T_, "num_hidden_layers", "0", "\"num_hidden_layers\"");
    config_case(T_, "hidden_size", "-8", "\"hidden_size\" = -8");
    config_case(T_, "vocab_size", "-1", "\"vocab_size\"");
    config_case(T_, "intermediate_size", "0", "\"intermediate_size\"");
    config_case(T_, "num_attention_heads", "0", "\"num_attention_heads\"");
    config_case(T_, "max_position_embeddings", "-5", "\"max_position_embeddings\"");
    config_case(T_, "hidden_size", "1e12", "\"hidden_size\"");
    config_case(T_, "num_hidden_layers", "1.5", "\"num_hidden_layers\"");
    config_case(T_, "vocab_size", "\"260\"", "\"vocab_size\" must be an integer");
    config_case(T_, "head_dim", "3", "rotary dimension 3");                    /* odd head for RoPE */
    config_case(T_, "rms_norm_eps", "1e999", "\"rms_norm_eps\" must be a finite number");
    config_case(T_, "rms_norm_eps", "-1", "\"rms_norm_eps\" = -1 is out of range");   /* the logits were NaN */
    config_case(T_, "rms_norm_eps", "1e300", "\"rms_norm_eps\" = 1e+300 is out of range");   /* inf as a float */
    config_case(T_, "partial_rotary_factor", "0", "partial_rotary_factor");
}

TEST(malformed_cfg_dims_disagree_with_weights) {
    NEED_CLI();
    /* the weights are right, config.json is not: the message names the tensor, its shape and
     * the shape config.json implies */
    config_case_in(T_, "vocab_size", "300", "model.safetensors", "expected [300, 8] from config.json");
    config_case_in(T_, "hidden_size", "16", "model.safetensors", "embed_tokens.weight\" has shape [260, 8], expected [260, 16]");
    config_case_in(T_, "intermediate_size", "32", "model.safetensors", "mlp.gate_proj.weight");
    config_case_in(T_, "num_key_value_heads", "2", "model.safetensors", "k_proj.weight");
    config_case_in(T_, "num_hidden_layers", "2", "required tensor", "model.layers.1.");   /* layer 1 is missing */
}

TEST(malformed_cfg_structure) {
    NEED_CLI();
    config_case(T_, "model_type", NULL, "\"model_type\" is missing");
    config_case(T_, "model_type", "\"bert\"", "model_type \"bert\" is not supported");
    config_case(T_, "hidden_act", "\"tanhshrink\"", "hidden_act \"tanhshrink\"");
    config_case(T_, "rope_scaling", "{\"rope_type\":\"warp\",\"factor\":2}", "rope type \"warp\"");
    config_case(T_, "rope_scaling", "{\"rope_type\":\"linear\",\"factor\":-2}", "\"factor\"");
    CASE(f);
    WRITE(f, 0);
    mf_write_str(f.dir, "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 8,");
    mf_expect_fail(T_, f.dir, "config.json", "not valid JSON");
    /* a missing comma, as an editor leaves it: the line where the next key starts is named */
    mf_write_str(f.dir, "config.json", "{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 8\n  \"vocab_size\": 260\n}\n");
    mf_expect_fail(T_, f.dir, "config.json", "not valid JSON (near byte 48, line 4)");
    mf_write_str(f.dir, "config.json", "[1, 2, 3]");
    mf_expect_fail(T_, f.dir, "config.json", "top level must be a JSON object");
    mf_write_str(f.dir, "config.json", "\xff\xfe{\"model_type\": \"\xc3\x28\"}");
    mf_expect_fail(T_, f.dir, "config.json", NULL);
    mf_write_str(f.dir, "config.json", "");
    mf_expect_fail(T_, f.dir, "config.json", NULL);
    /* config.json that is not a regular file */
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", f.dir);
    remove(p);
    REQUIRE(mkdir(p, 0700) == 0);
    mf_expect_fail(T_, f.dir, "config.json", NULL);
    rmdir(p);
    REQUIRE(mkfifo(p, 0600) == 0);        /* a FIFO: must not block waiting for a writer */
    mf_expect_fail(T_, f.dir, "config.json", "not a regular file");
    remove(p);
    /* no config.json at all */
    mf_expect_fail(T_, f.dir, "config.json", NULL);
    mf_rm_rf(f.dir);
}

/* ---- model paths and llama2.c checkpoints --------------------------------------------------- */

static void put_le32(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}

/* A valid legacy llama2.c checkpoint of the given dims (random weights). */
static int l2c_write_dims(const char *path, int dim, int hid, int L, int H, int KV, int V, int seq) {
    long hs = dim / H, kvd = hs * KV;
    long n = (long)V * dim + (long)L * dim * (2 + 2 * dim + 2 * kvd + 3 * hid) + dim + 2L * seq * (hs / 2);
    size_t bytes = 28 + (size_t)n * 4;
    uint8_t *b = malloc(bytes);
    if (!b) return 0;
    const int32_t h[7] = {dim, hid, L, H, KV, V, seq};
    for (int i = 0; i < 7; i++) put_le32(b + 4 * i, h[i]);
    for (long i = 0; i < n; i++) { float v = mf_rnd_weight() * 0.1f; memcpy(b + 28 + 4 * i, &v, 4); }
    int ok = mf_write_file(path, b, bytes);
    free(b);
    return ok;
}

/* A tiny legacy llama2.c checkpoint (dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, vocab 32,
 * seq 16) with the header fields given; `extra` bytes added (or removed when negative). */
static int l2c_write(const char *path, const int32_t h[7], long extra) {
    long dim = 8, hid = 16, L = 1, H = 2, KV = 1, V = 32, seq = 16, hs = dim / H, kvd = hs * KV;
    long n = V * dim + L * dim + L * dim * dim + 2 * L * kvd * dim + L * dim * dim + L * dim + 3 * L * hid * dim + dim +
             2 * seq * (hs / 2);
    size_t bytes = 28 + (size_t)n * 4;
    if (extra < 0 && (size_t)-extra > bytes) extra = -(long)bytes;
    size_t total = (size_t)((long)bytes + extra);
    uint8_t *b = calloc(1, bytes + (extra > 0 ? (size_t)extra : 0) + 1);
    if (!b) return 0;
    for (int i = 0; i < 7; i++) put_le32(b + 4 * i, h[i]);
    for (long i = 0; i < n; i++) { float v = mf_rnd_weight(); memcpy(b + 28 + 4 * i, &v, 4); }
    int ok = mf_write_file(path, b, total);
    free(b);
    return ok;
}

TEST(malformed_llama2c_checkpoints) {
    NEED_CLI();
    char dir[512], p[1024];
    REQUIRE(mf_make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/model.bin", dir);
    const int32_t good[7] = {8, 16, 1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, good, 0));
    free(mf_expect_ok_cmd(T_, p, "logits --ids 1,2"));
    REQUIRE(l2c_write(p, good, -100));
    mf_expect_fail(T_, p, "model.bin", "truncated");
    REQUIRE(l2c_write(p, good, 12));
    mf_expect_fail(T_, p, "model.bin", "bytes after the last tensor");
    const int32_t zero_dim[7] = {0, 16, 1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, zero_dim, 0));
    mf_expect_fail(T_, p, "model.bin", "dim");
    const int32_t bad_heads[7] = {8, 16, 1, 3, 1, 32, 16};
    REQUIRE(l2c_write(p, bad_heads, 0));
    mf_expect_fail(T_, p, "model.bin", "n_heads");
    const int32_t neg_layers[7] = {8, 16, -1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, neg_layers, 0));
    mf_expect_fail(T_, p, "model.bin", "n_layers");
    const int32_t huge[7] = {65536, 1 << 20, 1024, 64, 64, 1 << 24, 1 << 24};
    REQUIRE(l2c_write(p, huge, 0));
    mf_expect_fail(T_, p, "model.bin", "truncated");
    const int32_t ak42[7] = {0x616b3432, 2, 0, 0, 0, 0, 0};
    REQUIRE(l2c_write(p, ak42, 0));
    mf_expect_fail(T_, p, "model.bin", "ak42");
    REQUIRE(mf_write_file(p, "abc", 3));
    mf_expect_fail(T_, p, "model.bin", "28-byte");
    mf_rm_rf(dir);
}

TEST(malformed_cli_absurd_thread_count) {
    NEED_CLI();
    /* big enough (d=256) that the matvec runs in an OpenMP parallel region: libgomp used to
     * crash when asked for 100000 threads */
    char dir[512], p[1024];
    REQUIRE(mf_make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/mid.bin", dir);
    REQUIRE(l2c_write_dims(p, 256, 512, 2, 8, 4, 512, 64));
    char *err = mf_expect_ok_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads 100000");
    CHECK_MSG(err && strstr(err, "--threads 100000 is more than"), "no warning about --threads: %s", err ? err : "");
    free(err);
    mf_expect_fail_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads -3", NULL, "--threads");
    mf_expect_fail_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads 1e9", NULL, "--threads");
    mf_rm_rf(dir);
}

TEST(malformed_model_paths) {
    NEED_CLI();
    char dir[512], p[1024];
    REQUIRE(mf_make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/does-not-exist", dir);
    mf_expect_fail(T_, p, "does-not-exist", NULL);
    mf_expect_fail(T_, dir, dir, "config.json");                 /* an empty directory */
    snprintf(p, sizeof p, "%s/fifo.bin", dir);
    REQUIRE(mkfifo(p, 0600) == 0);                            /* must not block on open */
    mf_expect_fail(T_, p, "fifo.bin", "FIFO");
    mf_expect_fail(T_, "/dev/null", "/dev/null", "character device");
    mf_rm_rf(dir);
}

/* ---- NaN / Inf weights ------------------------------------------------------------------------ */

TEST(malformed_nan_inf_weights_warn) {
    NEED_CLI();
    CASE(f);
    mf_find_t(&f, WQ)->fill = FILL_NAN;
    mf_find_t(&f, "model.layers.0.mlp.down_proj.weight")->fill = FILL_INF;
    WRITE(f, 0);
    /* info reads the weights only when asked to (--check-weights); logits and generate read them */
    const char *cmds[] = {"info --check-weights", mf_k_cmds[1], mf_k_cmds[2]};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *err = mf_expect_ok_cmd(T_, f.dir, cmds[i]);
        CHECK_MSG(err && strstr(err, "warning") && strstr(err, "NaN or Inf") && strstr(err, f.dir),
                  "`%s`: no NaN/Inf warning naming the model: %s", cmds[i], err ? err : "");
        CHECK_MSG(err && strstr(err, "2 weights"), "`%s`: warning does not count 2 weights: %s", cmds[i], err ? err : "");
        CHECK_MSG(err && strstr(err, "layers.0.q_proj"), "`%s`: warning does not name the first tensor: %s", cmds[i],
                  err ? err : "");
        free(err);
    }
    char *plain = mf_expect_ok_cmd(T_, f.dir, "info");
    CHECK_MSG(plain && !strstr(plain, "NaN"), "info without --check-weights warns of NaN it cannot have seen: %s", plain ? plain : "");
    free(plain);
    char *out = NULL, cmd[2048];
    snprintf(cmd, sizeof cmd, "%s info --json --check-weights --model '%s'", test_bin(), f.dir);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK_MSG(out && strstr(out, "\"nonfinite_weights\": 2") && strstr(out, "\"nonfinite_first\": \"layers.0.q_proj\""),
              "info --json: %s", out ? out : "");
    free(out);
    mf_rm_rf(f.dir);
}

/* ---- memory: refuse before allocating --------------------------------------------------------- */

/* Writes f's model.safetensors with the header only, tensors laid out in order, and the data
 * section as a hole (ftruncate): a file of any claimed size that costs no disk. 0 or errno. */
static int st_write_sparse(Fixture *f) {
    long long off = 0;
    Buf hdr = {0};
    mf_buf_printf(&hdr, "{");
    for (int i = 0; i < f->nt; i++) {
        const TSpec *t = &f->t[i];
        long long b = off;
        off += mf_numel(t) * 4;
        mf_buf_printf(&hdr, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", t->name);
        for (int k = 0; k < t->ndim; k++) mf_buf_printf(&hdr, "%s%lld", k ? "," : "", t->shape[k]);
        mf_buf_printf(&hdr, "],\"data_offsets\":[%lld,%lld]}", b, off);
    }
    mf_buf_printf(&hdr, "}");
    while (hdr.n % 8) mf_buf_add(&hdr, " ", 1);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f->dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { free(hdr.p); return errno; }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
    int ok = write(fd, len8, 8) == 8 && write(fd, hdr.p, hdr.n) == (ssize_t)hdr.n;
    int rc = ok && ftruncate(fd, (off_t)(8 + (long long)hdr.n + off)) == 0 ? 0 : (errno ? errno : EIO);
    close(fd);
    free(hdr.p);
    return rc;
}

TEST(malformed_huge_config_tiny_weights) {
    NEED_CLI();
    /* A config claiming a ~1 TB model next to the tiny weights: the embedding shape check fails
     * before anything the size of the claim is allocated (the loader allocates only
     * n_layers LayerWeights before the shape checks). */
    CASE(f);
    mf_cfg_set(&f, "vocab_size", "16777216");
    mf_cfg_set(&f, "hidden_size", "16384");
    mf_cfg_set(&f, "num_attention_heads", "128");
    mf_cfg_set(&f, "num_key_value_heads", "8");
    WRITE(f, 0);
    mf_expect_fail(T_, f.dir, "model.safetensors", "expected [16777216, 16384]");
    /* info on the config alone reports the claimed size without loading anything */
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f.dir);
    remove(p);
    free(mf_expect_ok_cmd(T_, f.dir, "info"));
    mf_rm_rf(f.dir);
}

TEST(malformed_model_larger_than_memory) {
    NEED_CLI();
    /* Consistent config and safetensors header for a ~2 TiB model; the data section is a
     * sparse file (no disk used). The loader must refuse on the size, before touching a byte
     * of the weights (reading them would take hours, allocating them is impossible). */
    long long V = 1 << 24, d = 16384, ff = 16;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && (double)pages * (double)psz > 1.5e12) SKIP("this machine has more than 1.5 TB of memory");
    CASE(f);
    mf_cfg_set(&f, "vocab_size", "16777216");
    mf_cfg_set(&f, "hidden_size", "16384");
    mf_cfg_set(&f, "num_attention_heads", "128");
    mf_cfg_set(&f, "num_key_value_heads", "128");
    mf_cfg_set(&f, "intermediate_size", "16");
    for (int i = 0; i < f.nt; i++) {
        TSpec *t = &f.t[i];
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] == FX_V) t->shape[k] = V;
            else if (t->shape[k] == FX_D || t->shape[k] == FX_KV * FX_HD) t->shape[k] = d;   /* 128 x 128 heads */
            else if (t->shape[k] == FX_FF) t->shape[k] = ff;
        }
    }
    WRITE(f, 1);
    int err = st_write_sparse(&f);
    if (err) { mf_rm_rf(f.dir); SKIP("cannot make a sparse file of that size here: %s", strerror(err)); }
    /* (valgrind cannot map 2 TiB: there the mmap fails, also a clean error naming the file) */
    mf_expect_fail(T_, f.dir, mf_under_valgrind() ? "model.safetensors" : f.dir, mf_under_valgrind() ? NULL : "memory");
    mf_rm_rf(f.dir);
}

TEST(malformed_gpt2_copies_larger_than_memory) {
    NEED_CLI();
    /* GPT-2 Conv1D weights are transposed into owned memory. With n_embd 131072 the copies
     * need ~275 GB: refused up front, before any of them is allocated (each single copy is
     * also larger than memory here, so even a regression fails cleanly rather than thrashing). */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0 && (double)pages * (double)psz > 2.5e11) SKIP("this machine has more than 250 GB of memory");
    Fixture f;
    memset(&f, 0, sizeof f);
    const long long d = 131072;
    mf_cfg_set(&f, "model_type", "\"gpt2\"");
    mf_cfg_set(&f, "vocab_size", "8");
    mf_cfg_set(&f, "n_embd", "131072");
    mf_cfg_set(&f, "n_layer", "1");
    mf_cfg_set(&f, "n_head", "2");
    mf_cfg_set(&f, "n_positions", "4");
    mf_cfg_set(&f, "n_inner", "1");
    mf_add_t(&f, "wte.weight", FILL_RANDOM, 2, 8, d);
    mf_add_t(&f, "wpe.weight", FILL_RANDOM, 2, 4, d);
    const char *vecs[] = {"h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.attn.c_proj.bias",
                          "h.0.mlp.c_proj.bias", "ln_f.weight", "ln_f.bias"};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) mf_add_t(&f, vecs[i], FILL_ONES, 1, d, 0);
    mf_add_t(&f, "h.0.attn.c_attn.weight", FILL_RANDOM, 2, d, 3 * d);
    mf_add_t(&f, "h.0.attn.c_attn.bias", FILL_RANDOM, 1, 3 * d, 0);
    mf_add_t(&f, "h.0.attn.c_proj.weight", FILL_RANDOM, 2, d, d);
    mf_add_t(&f, "h.0.mlp.c_fc.weight", FILL_RANDOM, 2, d, 1);
    mf_add_t(&f, "h.0.mlp.c_fc.bias", FILL_RANDOM, 1, 1, 0);
    mf_add_t(&f, "h.0.mlp.c_proj.weight", FILL_RANDOM, 2, 1, d);
    WRITE(f, 1);
    int err = st_write_sparse(&f);
    if (err) { mf_rm_rf(f.dir); SKIP("cannot make a sparse file of that size here: %s", strerror(err)); }
    mf_expect_fail(T_, f.dir, mf_under_valgrind() ? "model.safetensors" : f.dir, mf_under_valgrind() ? NULL : "Conv1D weights need");
    mf_rm_rf(f.dir);
}

/* Peak resident memory (KiB) of `llmscope ARGS --model DIR`, -1 if it could not be run or failed.
 * The command runs in a child of its own (wait4), so the figure is its own peak, not that of
 * another process this test binary started before. */
static long info_peak_kib(const char *args1, const char *args2, const char *dir) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) { dup2(nul, 1); dup2(nul, 2); }
        if (args2) execl(test_bin(), "llmscope", "info", args1, args2, "--model", dir, (char *)NULL);
        else execl(test_bin(), "llmscope", "info", args1, "--model", dir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return ru.ru_maxrss;
}

TEST(malformed_info_reads_no_weight) {
    NEED_CLI();
    if (mf_under_valgrind()) SKIP("memory peaks mean nothing under valgrind");
    /* a child's peak counts the pages it shared with this process before its exec, and in a
     * sanitizer build this process holds more than the weights (the allocator's quarantine) */
    const char *san = getenv("LLMSCOPE_SANITIZER");
    if (san && *san) SKIP("the plain `make test` runs it (this is the %s build: its memory peaks say nothing)", san);
    /* info prints what the headers say: a model with 268 MB of weights (a 4M-token vocabulary,
     * embedding and lm_head; the data section a sparse file, zeros when read) must not become
     * resident. The same command with --check-weights reads them all, which shows that the
     * measure sees a read of the weights (and fails if info starts reading them again). */
    const long long V = 1 << 22;
    CASE(f);
    mf_cfg_set(&f, "vocab_size", "4194304");
    for (int i = 0; i < f.nt; i++)
        for (int k = 0; k < f.t[i].ndim; k++)
            if (f.t[i].shape[k] == FX_V) f.t[i].shape[k] = V;
    WRITE(f, 1);
    int err = st_write_sparse(&f);
    if (err) { mf_rm_rf(f.dir); SKIP("cannot make a sparse file here: %s", strerror(err)); }
    const long weights_kib = (long)(2 * V * FX_D * 4 / 1024);
    long plain = info_peak_kib("--json", NULL, f.dir), text = info_peak_kib("--ctx", "64", f.dir);
    long scanned = info_peak_kib("--json", "--check-weights", f.dir);
    CHECK_MSG(plain > 0 && text > 0 && scanned > 0, "info failed on the sparse model (peaks %ld, %ld, %ld KiB)", plain, text, scanned);
    CHECK_MSG(plain < weights_kib / 4 && text < weights_kib / 4,
              "info (reading headers only) peaked at %ld / %ld KiB with %ld KiB of weights: it reads the weights", plain, text, weights_kib);
    CHECK_MSG(scanned > plain + weights_kib * 3 / 4, "info --check-weights peaked at %ld KiB, info at %ld KiB, with %ld KiB of "
              "weights: the measure does not see the weights being read", scanned, plain, weights_kib);
    /* what it says is what the headers say: the counts, and no NaN count it did not make */
    char *out = NULL, cmd[2048];
    snprintf(cmd, sizeof cmd, "%s info --json --model '%s'", test_bin(), f.dir);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    char want[160];
    snprintf(want, sizeof want, "\"parameters\": %lld", 2 * V * FX_D + 3 * FX_D + FX_D * FX_D + 2 * FX_KV * FX_HD * FX_D +
             FX_H * FX_HD * FX_D + 3 * FX_D * FX_FF);
    CHECK_MSG(out && strstr(out, want) && strstr(out, "\"nonfinite_weights\": null"), "info --json: %.600s (want %s)",
              out ? out : "", want);
    free(out);
    mf_rm_rf(f.dir);
}

/* ---- command lines: ids, context, prompts ----------------------------------------------------- */

TEST(malformed_cli_bad_ids_and_options) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    mf_expect_fail_cmd(T_, f.dir, "logits --ids 1,x,3", NULL, "--ids");
    mf_expect_fail_cmd(T_, f.dir, "logits --ids -1", NULL, "--ids");
    mf_expect_fail_cmd(T_, f.dir, "logits --ids ''", NULL, "--ids");
    mf_expect_fail_cmd(T_, f.dir, "logits --ids 99999999999999999999", NULL, "--ids");
    mf_expect_fail_cmd(T_, f.dir, "logits --ids 1,260", NULL, "vocabulary");      /* vocab is 0..259 */
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 2147483647 --max-new 1", NULL, "vocabulary");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new -1", NULL, "--max-new");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 2147483647 --ignore-eos", "context", "--ctx");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 1x", NULL, "--max-new");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --ctx 2147483647", NULL, "--ctx");
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1 --temp nan", NULL, "--temp");
    free(mf_expect_ok_cmd(T_, f.dir, "generate --ids 1 --max-new 2 --threads 100000"));
    mf_rm_rf(f.dir);
}

TEST(malformed_prompt_longer_than_context) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    /* 40 ids for a model trained on 32 positions: RoPE models run past it (as HF does), with a
     * warning naming the limit and the file */
    Buf ids = {0};
    for (int i = 0; i < 40; i++) mf_buf_printf(&ids, "%s%d", i ? "," : "", i + 1);
    char args[1024];
    const char *which[] = {"logits --ids", "generate --max-new 1 --ids"};
    for (int w = 0; w < 2; w++) {
        snprintf(args, sizeof args, "%s %s", which[w], (const char *)ids.p);
        char *err = mf_expect_ok_cmd(T_, f.dir, args);
        CHECK_MSG(err && strstr(err, "warning: 40 ids exceed the context length 32 (max_position_embeddings") &&
                  strstr(err, f.dir), "`%s` past the context: no warning: %s", which[w], err ? err : "");
        free(err);
    }
    free(ids.p);
    /* more ids than the engine's cache holds: a clean refusal naming the count and --ctx */
    Buf big = {0};
    for (int i = 0; i < 20000; i++) mf_buf_printf(&big, "%s%d", i ? "," : "", i % 250);
    mf_write_str(f.dir, "ids.txt", (const char *)big.p);   /* ~80 KB: read by the shell, not in our command */
    free(big.p);
    snprintf(args, sizeof args, "generate --max-new 1 --ids \"$(cat '%s/ids.txt')\"", f.dir);
    mf_expect_fail_cmd(T_, f.dir, args, "context full", "20000 new");
    mf_expect_fail_cmd(T_, f.dir, args, "--ctx", NULL);
    snprintf(args, sizeof args, "generate --max-new 1 --ctx 64 --ids \"$(cat '%s/ids.txt')\"", f.dir);
    mf_expect_fail_cmd(T_, f.dir, args, "context of 64 tokens", NULL);
    /* generation that runs into the end of the cache stops with the same message */
    mf_expect_fail_cmd(T_, f.dir, "generate --ids 1,2,3 --ctx 16 --max-new 100 --greedy --ignore-eos", "context full", "16 tokens");
    mf_rm_rf(f.dir);
}

/* tokenize is another engineer's command: skipped until it is linked in. */
static int have_tokenize(void) {
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --help", test_bin());
    test_run(cmd, &out, 1);
    int ok = out && !strstr(out, "unknown command");
    free(out);
    return ok;
}

TEST(malformed_prompt_non_utf8_and_huge) {
    NEED_CLI();
    if (!have_tokenize()) SKIP("`llmscope tokenize` is not available yet");
    CASE(f);
    WRITE(f, 0);
    /* invalid UTF-8: replaced by U+FFFD (EF BF BD = byte tokens 0xEF 0xBF 0xBD here) */
    char *err = mf_expect_ok_cmd(T_, f.dir, "tokenize --text \"$(printf 'ab\\377\\376\\303\\050cd\\342\\202')\"");
    free(err);
    char *out = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "%s%s tokenize --json --model '%s' --text \"$(printf 'a\\377b')\"", mf_timeout_prefix(),
             test_bin(), f.dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "239") && strstr(out, "191") && strstr(out, "189"),
              "invalid byte not tokenized as U+FFFD (239,191,189): %s", out ? out : "");
    free(out);
    /* control characters, NUL-free binary junk and a 100 KB prompt */
    free(mf_expect_ok_cmd(T_, f.dir, "tokenize --text \"$(printf '\\001\\002\\033[31m\\r\\n\\t')\""));
    free(mf_expect_ok_cmd(T_, f.dir, "tokenize --text \"$(head -c 100000 /dev/zero | tr '\\0' 'a')\""));
    free(mf_expect_ok_cmd(T_, f.dir, "tokenize --text \"$(head -c 30000 /dev/zero | tr '\\0' '\\377')\""));
    mf_rm_rf(f.dir);
}
