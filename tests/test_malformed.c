/* Malformed-input suite (issue 7): broken model directories and hostile command lines run
 * through the real CLI. Each case starts from a valid tiny checkpoint written here (a 1-layer
 * llama, d=8, 2 heads / 1 KV head, vocab 260, random f32 weights, a byte-level
 * tokenizer.json), breaks one thing, and runs `info`, `logits --ids` and `generate`. Every
 * failure must be a clean exit (status 1 or 2: no signal, no timeout, no sanitizer report)
 * with a message on stderr that names the file and the field. docs/robustness.md lists the
 * cases and what is checked where. */
#include "harness.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture: a tiny llama ------------------------------------------------------------------ */

enum { FX_V = 260, FX_D = 8, FX_H = 2, FX_KV = 1, FX_HD = 4, FX_FF = 16, FX_CTX = 32 };
enum { FILL_RANDOM = 0, FILL_ONES, FILL_NAN, FILL_INF };

typedef struct {
    char name[128];
    char dtype[12];
    int ndim;
    long long shape[4];
    long long begin, end;   /* data_offsets written in the header; -1 = laid out in order */
    int fill;
} TSpec;

typedef struct {
    char key[64];
    char val[256];          /* raw JSON */
} CfgKV;

typedef struct {
    TSpec t[24];
    int nt;
    CfgKV cfg[32];
    int ncfg;
    char dir[512];
} Fixture;

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float rnd_weight(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) & 0xffff) / 65536.0f - 0.5f;
}

static void cfg_set(Fixture *f, const char *key, const char *raw) {
    for (int i = 0; i < f->ncfg; i++)
        if (!strcmp(f->cfg[i].key, key)) { snprintf(f->cfg[i].val, sizeof f->cfg[i].val, "%s", raw); return; }
    if (f->ncfg < 32) {
        snprintf(f->cfg[f->ncfg].key, sizeof f->cfg[0].key, "%s", key);
        snprintf(f->cfg[f->ncfg].val, sizeof f->cfg[0].val, "%s", raw);
        f->ncfg++;
    }
}

static void cfg_del(Fixture *f, const char *key) {
    for (int i = 0; i < f->ncfg; i++)
        if (!strcmp(f->cfg[i].key, key)) { f->cfg[i] = f->cfg[--f->ncfg]; return; }
}

static TSpec *add_t(Fixture *f, const char *name, int fill, int ndim, long long a, long long b) {
    TSpec *t = &f->t[f->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "F32");
    t->ndim = ndim;
    t->shape[0] = a;
    t->shape[1] = b;
    t->begin = t->end = -1;
    t->fill = fill;
    return t;
}

static TSpec *find_t(Fixture *f, const char *name) {
    for (int i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

static void del_t(Fixture *f, const char *name) {
    for (int i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) {
            memmove(&f->t[i], &f->t[i + 1], sizeof f->t[0] * (size_t)(f->nt - i - 1));
            f->nt--;
            return;
        }
}

#define WQ "model.layers.0.self_attn.q_proj.weight"
#define WK "model.layers.0.self_attn.k_proj.weight"
#define WV "model.layers.0.self_attn.v_proj.weight"
#define LN2 "model.layers.0.post_attention_layernorm.weight"
#define EMB "model.embed_tokens.weight"

static void fixture_init(Fixture *f) {
    memset(f, 0, sizeof *f);
    cfg_set(f, "model_type", "\"llama\"");
    cfg_set(f, "architectures", "[\"LlamaForCausalLM\"]");
    cfg_set(f, "vocab_size", "260");
    cfg_set(f, "hidden_size", "8");
    cfg_set(f, "num_hidden_layers", "1");
    cfg_set(f, "num_attention_heads", "2");
    cfg_set(f, "num_key_value_heads", "1");
    cfg_set(f, "intermediate_size", "16");
    cfg_set(f, "max_position_embeddings", "32");
    cfg_set(f, "rms_norm_eps", "1e-05");
    cfg_set(f, "rope_theta", "10000.0");
    cfg_set(f, "tie_word_embeddings", "false");
    cfg_set(f, "torch_dtype", "\"float32\"");
    cfg_set(f, "bos_token_id", "256");
    cfg_set(f, "eos_token_id", "256");
    add_t(f, EMB, FILL_RANDOM, 2, FX_V, FX_D);
    add_t(f, "model.layers.0.input_layernorm.weight", FILL_ONES, 1, FX_D, 0);
    add_t(f, WQ, FILL_RANDOM, 2, FX_H * FX_HD, FX_D);
    add_t(f, WK, FILL_RANDOM, 2, FX_KV * FX_HD, FX_D);
    add_t(f, WV, FILL_RANDOM, 2, FX_KV * FX_HD, FX_D);
    add_t(f, "model.layers.0.self_attn.o_proj.weight", FILL_RANDOM, 2, FX_D, FX_H * FX_HD);
    add_t(f, LN2, FILL_ONES, 1, FX_D, 0);
    add_t(f, "model.layers.0.mlp.gate_proj.weight", FILL_RANDOM, 2, FX_FF, FX_D);
    add_t(f, "model.layers.0.mlp.up_proj.weight", FILL_RANDOM, 2, FX_FF, FX_D);
    add_t(f, "model.layers.0.mlp.down_proj.weight", FILL_RANDOM, 2, FX_D, FX_FF);
    add_t(f, "model.norm.weight", FILL_ONES, 1, FX_D, 0);
    add_t(f, "lm_head.weight", FILL_RANDOM, 2, FX_V, FX_D);
}

/* ---- files ------------------------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}
static void rm_rf(const char *dir) { if (dir && dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

static int write_str(const char *dir, const char *name, const char *s) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return write_file(p, s, strlen(s));
}

static int make_tmpdir(char *out, size_t cap) {
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/llmscope-malformed-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(out) != NULL;
}

/* Growable byte buffer. */
typedef struct { uint8_t *p; size_t n, cap; } Buf;
static void buf_add(Buf *b, const void *d, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        uint8_t *np = realloc(b->p, nc);
        if (!np) abort();
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static size_t dtype_bytes(const char *dt) {
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "I64") || !strcmp(dt, "F64")) return 8;
    return 1;
}

static long long numel(const TSpec *t) {
    long long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* The safetensors file of f: u64 header length, header JSON (padded to 8), data. */
static Buf st_build(const Fixture *f) {
    Buf hdr = {0}, data = {0}, out = {0};
    buf_printf(&hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < f->nt; i++) {
        const TSpec *t = &f->t[i];
        long long n = numel(t);
        if (n < 0) n = 0;
        size_t es = dtype_bytes(t->dtype);
        long long b0 = (long long)data.n;
        for (long long k = 0; k < n; k++) {
            float v = t->fill == FILL_ONES ? 1.0f : t->fill == FILL_NAN && k == 1 ? NAN
                    : t->fill == FILL_INF && k == 2 ? INFINITY : rnd_weight();
            if (es == 4) buf_add(&data, &v, 4);
            else if (es == 2) { uint16_t h = !strcmp(t->dtype, "F16") ? 0x2e66 : 0x3dcc; buf_add(&data, &h, 2); }
            else { uint8_t z[8] = {0}; buf_add(&data, z, es); }
        }
        long long b = t->begin >= 0 ? t->begin : b0, e = t->end >= 0 ? t->end : (long long)data.n;
        buf_printf(&hdr, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int k = 0; k < t->ndim; k++) buf_printf(&hdr, "%s%lld", k ? "," : "", t->shape[k]);
        buf_printf(&hdr, "],\"data_offsets\":[%lld,%lld]}", b, e);
    }
    buf_printf(&hdr, "}");
    while (hdr.n % 8) buf_add(&hdr, " ", 1);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
    buf_add(&out, len8, 8);
    buf_add(&out, hdr.p, hdr.n);
    if (data.n) buf_add(&out, data.p, data.n);
    free(hdr.p);
    free(data.p);
    return out;
}

static void cfg_write(const Fixture *f, const char *dir) {
    Buf b = {0};
    buf_printf(&b, "{");
    for (int i = 0; i < f->ncfg; i++) buf_printf(&b, "%s\n  \"%s\": %s", i ? "," : "", f->cfg[i].key, f->cfg[i].val);
    buf_printf(&b, "\n}\n");
    write_str(dir, "config.json", (const char *)b.p);
    free(b.p);
}

/* GPT-2's byte -> printable code point table (the byte-level BPE alphabet). */
static unsigned byte_cp(int b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (unsigned)b;
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256u + (unsigned)n;
}

/* A byte-level BPE tokenizer.json: the 256 byte tokens (ids 0..255), no merges, and
 * <|endoftext|> = 256. */
static void tokenizer_write(const char *dir) {
    Buf b = {0};
    buf_printf(&b, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":256,\"content\":\"<|endoftext|>\",\"single_word\":false,"
               "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":null,"
               "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
               "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
               "\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"byte_fallback\":false,"
               "\"vocab\":{");
    for (int i = 0; i < 256; i++) {
        unsigned cp = byte_cp(i);
        char u[8];
        if (cp < 0x80) { u[0] = (char)cp; u[1] = 0; }
        else { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); u[2] = 0; }
        buf_printf(&b, "%s\"%s%s\":%d", i ? "," : "", (cp == '"' || cp == '\\') ? "\\" : "", u, i);
    }
    buf_printf(&b, "},\"merges\":[]}}");
    write_str(dir, "tokenizer.json", (const char *)b.p);
    free(b.p);
}

/* Writes config.json, model.safetensors (unless skip_st) and tokenizer.json into a new temp
 * directory f->dir. */
static int fixture_write(Fixture *f, int skip_st) {
    if (!make_tmpdir(f->dir, sizeof f->dir)) return 0;
    cfg_write(f, f->dir);
    tokenizer_write(f->dir);
    if (skip_st) return 1;
    Buf st = st_build(f);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f->dir);
    int ok = write_file(p, st.p, st.n);
    free(st.p);
    return ok;
}

/* Rewrites model.safetensors from a raw byte buffer. */
static void st_write_raw(const Fixture *f, const void *b, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f->dir);
    write_file(p, b, n);
}

/* ---- running the CLI -------------------------------------------------------------------------- */

static int under_valgrind(void) {
    const char *vg = getenv("LLMSCOPE_VALGRIND");
    return vg && *vg;
}

/* `timeout` guards against hangs (exit 124). Under `make valgrind` (LLMSCOPE_VALGRIND set) every
 * CLI run is itself checked by memcheck: invalid accesses and definite leaks exit with 99. */
#define VG_STATUS 99
static const char *timeout_prefix(void) {
    static char prefix[256];
    static int done;
    if (!done) {
        int have = system("command -v timeout >/dev/null 2>&1") == 0;
        snprintf(prefix, sizeof prefix, "%s%s", have ? "timeout -k 5 300 " : "",
                 under_valgrind() ? "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite " : "");
        done = 1;
    }
    return prefix;
}

/* Runs `llmscope ARGS --model MODEL`, stderr captured into *err (stdout discarded). */
static int run_cli(const char *args, const char *model, char **err) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "( %s%s %s --model '%s' 2>&1 >/dev/null )", timeout_prefix(), test_bin(), args, model);
    return test_run(cmd, err, 1);
}

static int sanitizer_report(const char *s) {
    return strstr(s, "Sanitizer") || strstr(s, "runtime error:") || strstr(s, "Segmentation") ||
           strstr(s, "Aborted") || strstr(s, "core dumped") || strstr(s, "Invalid read") ||
           strstr(s, "Invalid write") || strstr(s, "definitely lost in") || strstr(s, "uninitialised");
}

static int cli_missing(void) {
    return access(test_bin(), X_OK) != 0;
}

/* One command must fail cleanly with a message naming `file` and `field`. */
static void expect_fail_cmd(TestCtx *T_, const char *model, const char *args, const char *file, const char *field) {
    char *err = NULL;
    int rc = run_cli(args, model, &err);
    const char *s = err ? err : "";
    CHECK_MSG(rc == 1 || rc == 2, "`%s` on %s: exit status %d (want 1 or 2: a clean error; 124 = hang, %d = "
              "valgrind error, >= 128 = signal)\n      stderr: %.600s", args, model, rc, VG_STATUS, s);
    CHECK_MSG(!sanitizer_report(s), "`%s`: sanitizer/crash output: %.800s", args, s);
    CHECK_MSG(strstr(s, "llmscope: ") != NULL, "`%s`: no \"llmscope: \" message on stderr: %.600s", args, s);
    CHECK_MSG(!file || strstr(s, file), "`%s`: message does not name the file \"%s\": %.600s", args, file, s);
    CHECK_MSG(!field || strstr(s, field), "`%s`: message does not name the field \"%s\": %.600s", args, field, s);
    free(err);
}

static const char *k_cmds[] = {"info", "logits --ids 1,2,3", "generate --ids 1,2 --max-new 2 --greedy"};

/* info, logits and generate must all fail with the same kind of message. They share the
 * loader, so under valgrind (slow) only `logits` runs. */
static void expect_fail(TestCtx *T_, const char *model, const char *file, const char *field) {
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        if (!under_valgrind() || i == 1) expect_fail_cmd(T_, model, k_cmds[i], file, field);
}

/* A command must succeed; returns stderr (caller frees). */
static char *expect_ok_cmd(TestCtx *T_, const char *model, const char *args) {
    char *err = NULL;
    int rc = run_cli(args, model, &err);
    const char *s = err ? err : "";
    CHECK_MSG(rc == 0, "`%s` on %s: exit status %d, stderr: %.600s", args, model, rc, s);
    CHECK_MSG(!sanitizer_report(s), "`%s`: sanitizer/crash output: %.800s", args, s);
    return err;
}

#define NEED_CLI() do { if (cli_missing()) SKIP("%s not built", test_bin()); } while (0)

/* Builds the fixture after `mutate`, expects all three commands to fail. */
#define CASE(fx) Fixture fx; fixture_init(&fx)
#define WRITE(fx, skip) REQUIRE(fixture_write(&fx, skip))

/* ---- control: the unbroken fixture works ------------------------------------------------------ */

TEST(malformed_control_valid_model_runs) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) free(expect_ok_cmd(T_, f.dir, k_cmds[i]));
    char *out = NULL;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s info --json --model '%s'", test_bin(), f.dir);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK(out && strstr(out, "\"nonfinite_weights\": 0"));
    free(out);
    rm_rf(f.dir);
}

TEST(malformed_control_f16_bf16_weights_load) {
    NEED_CLI();
    CASE(f);
    snprintf(find_t(&f, WQ)->dtype, 12, "F16");
    snprintf(find_t(&f, WK)->dtype, 12, "BF16");
    WRITE(f, 0);
    free(expect_ok_cmd(T_, f.dir, "logits --ids 1,2,3"));
    rm_rf(f.dir);
}

/* ---- safetensors container -------------------------------------------------------------------- */

TEST(malformed_st_truncated_data) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = st_build(&f);
    st_write_raw(&f, st.p, st.n - 10);   /* cuts into lm_head.weight, the last tensor */
    expect_fail(T_, f.dir, "model.safetensors", "data_offsets");
    expect_fail_cmd(T_, f.dir, "info", "lm_head.weight", "extend past the end");
    free(st.p);
    rm_rf(f.dir);
}

TEST(malformed_st_truncated_header) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = st_build(&f);
    st_write_raw(&f, st.p, 100);         /* ends inside the header JSON */
    expect_fail(T_, f.dir, "model.safetensors", "header length");
    st_write_raw(&f, st.p, 5);           /* shorter than the length field */
    expect_fail(T_, f.dir, "model.safetensors", "too short");
    free(st.p);
    rm_rf(f.dir);
}

TEST(malformed_st_header_length_larger_than_file) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    Buf st = st_build(&f);
    uint64_t big = 1ull << 40;
    for (int i = 0; i < 8; i++) st.p[i] = (uint8_t)(big >> (8 * i));
    st_write_raw(&f, st.p, st.n);
    expect_fail(T_, f.dir, "model.safetensors", "header length 1099511627776");
    for (int i = 0; i < 8; i++) st.p[i] = 0xff;   /* 2^64-1 */
    st_write_raw(&f, st.p, st.n);
    expect_fail(T_, f.dir, "model.safetensors", "header length");
    free(st.p);
    rm_rf(f.dir);
}

TEST(malformed_st_empty_and_garbage) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    st_write_raw(&f, "", 0);
    expect_fail(T_, f.dir, "model.safetensors", "empty");
    const char junk[] = "\x10\x00\x00\x00\x00\x00\x00\x00not json at all!";
    st_write_raw(&f, junk, sizeof junk - 1);
    expect_fail(T_, f.dir, "model.safetensors", "does not start with '{'");
    const char bad[] = "\x0e\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":";
    st_write_raw(&f, bad, sizeof bad - 1);
    expect_fail(T_, f.dir, "model.safetensors", "does not parse");
    rm_rf(f.dir);
}

TEST(malformed_st_overlapping_offsets) {
    NEED_CLI();
    CASE(f);
    TSpec *k = find_t(&f, WK), *v = find_t(&f, WV);
    /* k and v have the same size; point v at k's bytes */
    long long off = 0;
    for (int i = 0; i < f.nt && strcmp(f.t[i].name, WK); i++) off += numel(&f.t[i]) * 4;
    k->begin = off;
    k->end = off + numel(k) * 4;
    v->begin = off + 16;
    v->end = v->begin + numel(v) * 4;
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", "overlap");
    expect_fail_cmd(T_, f.dir, "info", WK, WV);
    rm_rf(f.dir);
}

TEST(malformed_st_out_of_range_offsets) {
    NEED_CLI();
    CASE(f);
    TSpec *q = find_t(&f, WQ);
    q->begin = 1000000;
    q->end = 1000000 + numel(q) * 4;
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", "data_offsets");
    expect_fail_cmd(T_, f.dir, "info", WQ, "extend past the end of the data section");
    rm_rf(f.dir);
    CASE(g);
    q = find_t(&g, WQ);
    q->begin = 64;
    q->end = 0;                           /* begin > end */
    WRITE(g, 0);
    expect_fail(T_, g.dir, "model.safetensors", "begin > end");
    rm_rf(g.dir);
    CASE(h);
    q = find_t(&h, WQ);
    q->begin = 0;
    q->end = 4;                           /* span does not match shape x dtype */
    WRITE(h, 0);
    expect_fail(T_, h.dir, "model.safetensors", "\"shape\" x dtype F32 needs 256 bytes");
    rm_rf(h.dir);
}

TEST(malformed_st_wrong_dtype) {
    NEED_CLI();
    CASE(f);
    snprintf(find_t(&f, WQ)->dtype, 12, "I64");
    find_t(&f, WQ)->shape[1] = FX_D / 2;  /* keep the byte count honest: 8 x 4 x 8 bytes */
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", "dtype I64");
    expect_fail_cmd(T_, f.dir, "info", WQ, "supported: F32, F16, BF16");
    rm_rf(f.dir);
    CASE(g);
    snprintf(find_t(&g, WQ)->dtype, 12, "Q4_K");
    WRITE(g, 0);
    expect_fail(T_, g.dir, "model.safetensors", "unknown dtype \"Q4_K\"");
    rm_rf(g.dir);
}

TEST(malformed_st_wrong_shape) {
    NEED_CLI();
    CASE(f);
    find_t(&f, WQ)->shape[1] = 7;         /* [8, 7] instead of [8, 8] */
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", WQ);
    expect_fail_cmd(T_, f.dir, "info", "has shape [8, 7], expected [8, 8]", "config.json");
    rm_rf(f.dir);
    CASE(g);
    TSpec *ln = find_t(&g, LN2);          /* 2-D where a vector is expected */
    ln->ndim = 2;
    ln->shape[0] = 1;
    ln->shape[1] = FX_D;
    WRITE(g, 0);
    expect_fail(T_, g.dir, "model.safetensors", LN2);
    rm_rf(g.dir);
    CASE(h);
    find_t(&h, WQ)->shape[0] = -8;        /* negative dimension */
    WRITE(h, 0);
    expect_fail(T_, h.dir, "model.safetensors", "\"shape\" dimension 0 is -8");
    rm_rf(h.dir);
}

TEST(malformed_st_missing_tensor) {
    NEED_CLI();
    CASE(f);
    del_t(&f, LN2);
    WRITE(f, 0);
    expect_fail(T_, f.dir, f.dir, LN2);
    expect_fail_cmd(T_, f.dir, "info", "required tensor", "missing");
    rm_rf(f.dir);
    CASE(g);
    del_t(&g, "lm_head.weight");          /* untied model without its classifier */
    WRITE(g, 0);
    expect_fail(T_, g.dir, g.dir, "lm_head.weight");
    expect_fail_cmd(T_, g.dir, "info", "tie_word_embeddings", NULL);
    rm_rf(g.dir);
    CASE(h);
    del_t(&h, EMB);
    WRITE(h, 0);
    expect_fail(T_, h.dir, h.dir, "embed_tokens.weight");
    rm_rf(h.dir);
}

TEST(malformed_st_duplicate_tensor) {
    NEED_CLI();
    CASE(f);
    TSpec *t = add_t(&f, WQ, FILL_RANDOM, 2, FX_H * FX_HD, FX_D);
    (void)t;
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", "appears twice");
    rm_rf(f.dir);
}

TEST(malformed_st_missing_file_and_bad_index) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 1);                          /* config only: info works, running does not */
    free(expect_ok_cmd(T_, f.dir, "info"));
    expect_fail_cmd(T_, f.dir, "logits --ids 1", f.dir, "model.safetensors");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 1", f.dir, "model.safetensors");
    /* a shard index that escapes the directory */
    write_str(f.dir, "model.safetensors.index.json",
              "{\"metadata\":{},\"weight_map\":{\"" EMB "\":\"../model-00001-of-00001.safetensors\"}}");
    expect_fail(T_, f.dir, "model.safetensors.index.json", "weight_map");
    expect_fail_cmd(T_, f.dir, "info", "must be a plain file name", NULL);
    /* a shard that does not exist */
    write_str(f.dir, "model.safetensors.index.json",
              "{\"metadata\":{},\"weight_map\":{\"" EMB "\":\"model-00001-of-00002.safetensors\"}}");
    expect_fail(T_, f.dir, "model-00001-of-00002.safetensors", "cannot open");
    /* an index that is not JSON */
    write_str(f.dir, "model.safetensors.index.json", "{\"weight_map\": [");
    expect_fail(T_, f.dir, "model.safetensors.index.json", "does not parse");
    rm_rf(f.dir);
}

/* ---- config.json -------------------------------------------------------------------------------- */

/* Sets (raw JSON) or deletes (raw NULL) one config.json field; expects all commands to fail
 * naming `file` (NULL: config.json) and `field`. */
static void config_case_in(TestCtx *T_, const char *key, const char *raw, const char *file, const char *field) {
    CASE(f);
    if (raw) cfg_set(&f, key, raw);
    else cfg_del(&f, key);
    WRITE(f, 0);
    expect_fail(T_, f.dir, file ? file : "config.json", field);
    rm_rf(f.dir);
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
    write_str(f.dir, "config.json", "{\"model_type\": \"llama\", \"hidden_size\": 8,");
    expect_fail(T_, f.dir, "config.json", "not valid JSON");
    write_str(f.dir, "config.json", "[1, 2, 3]");
    expect_fail(T_, f.dir, "config.json", "top level must be a JSON object");
    write_str(f.dir, "config.json", "\xff\xfe{\"model_type\": \"\xc3\x28\"}");
    expect_fail(T_, f.dir, "config.json", NULL);
    write_str(f.dir, "config.json", "");
    expect_fail(T_, f.dir, "config.json", NULL);
    /* config.json that is not a regular file */
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", f.dir);
    remove(p);
    REQUIRE(mkdir(p, 0700) == 0);
    expect_fail(T_, f.dir, "config.json", NULL);
    rmdir(p);
    REQUIRE(mkfifo(p, 0600) == 0);        /* a FIFO: must not block waiting for a writer */
    expect_fail(T_, f.dir, "config.json", "not a regular file");
    remove(p);
    /* no config.json at all */
    expect_fail(T_, f.dir, "config.json", NULL);
    rm_rf(f.dir);
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
    for (long i = 0; i < n; i++) { float v = rnd_weight() * 0.1f; memcpy(b + 28 + 4 * i, &v, 4); }
    int ok = write_file(path, b, bytes);
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
    for (long i = 0; i < n; i++) { float v = rnd_weight(); memcpy(b + 28 + 4 * i, &v, 4); }
    int ok = write_file(path, b, total);
    free(b);
    return ok;
}

TEST(malformed_llama2c_checkpoints) {
    NEED_CLI();
    char dir[512], p[1024];
    REQUIRE(make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/model.bin", dir);
    const int32_t good[7] = {8, 16, 1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, good, 0));
    free(expect_ok_cmd(T_, p, "logits --ids 1,2"));
    REQUIRE(l2c_write(p, good, -100));
    expect_fail(T_, p, "model.bin", "truncated");
    REQUIRE(l2c_write(p, good, 12));
    expect_fail(T_, p, "model.bin", "bytes after the last tensor");
    const int32_t zero_dim[7] = {0, 16, 1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, zero_dim, 0));
    expect_fail(T_, p, "model.bin", "dim");
    const int32_t bad_heads[7] = {8, 16, 1, 3, 1, 32, 16};
    REQUIRE(l2c_write(p, bad_heads, 0));
    expect_fail(T_, p, "model.bin", "n_heads");
    const int32_t neg_layers[7] = {8, 16, -1, 2, 1, 32, 16};
    REQUIRE(l2c_write(p, neg_layers, 0));
    expect_fail(T_, p, "model.bin", "n_layers");
    const int32_t huge[7] = {65536, 1 << 20, 1024, 64, 64, 1 << 24, 1 << 24};
    REQUIRE(l2c_write(p, huge, 0));
    expect_fail(T_, p, "model.bin", "truncated");
    const int32_t ak42[7] = {0x616b3432, 2, 0, 0, 0, 0, 0};
    REQUIRE(l2c_write(p, ak42, 0));
    expect_fail(T_, p, "model.bin", "ak42");
    REQUIRE(write_file(p, "abc", 3));
    expect_fail(T_, p, "model.bin", "28-byte");
    rm_rf(dir);
}

TEST(malformed_cli_absurd_thread_count) {
    NEED_CLI();
    /* big enough (d=256) that the matvec runs in an OpenMP parallel region: libgomp used to
     * crash when asked for 100000 threads */
    char dir[512], p[1024];
    REQUIRE(make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/mid.bin", dir);
    REQUIRE(l2c_write_dims(p, 256, 512, 2, 8, 4, 512, 64));
    char *err = expect_ok_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads 100000");
    CHECK_MSG(err && strstr(err, "--threads 100000 is more than"), "no warning about --threads: %s", err ? err : "");
    free(err);
    expect_fail_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads -3", NULL, "--threads");
    expect_fail_cmd(T_, p, "generate --ids 1,2,3 --max-new 2 --threads 1e9", NULL, "--threads");
    rm_rf(dir);
}

TEST(malformed_model_paths) {
    NEED_CLI();
    char dir[512], p[1024];
    REQUIRE(make_tmpdir(dir, sizeof dir));
    snprintf(p, sizeof p, "%s/does-not-exist", dir);
    expect_fail(T_, p, "does-not-exist", NULL);
    expect_fail(T_, dir, dir, "config.json");                 /* an empty directory */
    snprintf(p, sizeof p, "%s/fifo.bin", dir);
    REQUIRE(mkfifo(p, 0600) == 0);                            /* must not block on open */
    expect_fail(T_, p, "fifo.bin", "FIFO");
    expect_fail(T_, "/dev/null", "/dev/null", "character device");
    rm_rf(dir);
}

/* ---- NaN / Inf weights ------------------------------------------------------------------------ */

TEST(malformed_nan_inf_weights_warn) {
    NEED_CLI();
    CASE(f);
    find_t(&f, WQ)->fill = FILL_NAN;
    find_t(&f, "model.layers.0.mlp.down_proj.weight")->fill = FILL_INF;
    WRITE(f, 0);
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) {
        char *err = expect_ok_cmd(T_, f.dir, k_cmds[i]);
        CHECK_MSG(err && strstr(err, "warning") && strstr(err, "NaN or Inf") && strstr(err, f.dir),
                  "`%s`: no NaN/Inf warning naming the model: %s", k_cmds[i], err ? err : "");
        CHECK_MSG(err && strstr(err, "2 weights"), "`%s`: warning does not count 2 weights: %s", k_cmds[i], err ? err : "");
        CHECK_MSG(err && strstr(err, "layers.0.q_proj"), "`%s`: warning does not name the first tensor: %s", k_cmds[i],
                  err ? err : "");
        free(err);
    }
    char *out = NULL, cmd[2048];
    snprintf(cmd, sizeof cmd, "%s info --json --model '%s'", test_bin(), f.dir);
    CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
    CHECK_MSG(out && strstr(out, "\"nonfinite_weights\": 2") && strstr(out, "\"nonfinite_first\": \"layers.0.q_proj\""),
              "info --json: %s", out ? out : "");
    free(out);
    rm_rf(f.dir);
}

/* ---- memory: refuse before allocating --------------------------------------------------------- */

/* Writes f's model.safetensors with the header only, tensors laid out in order, and the data
 * section as a hole (ftruncate): a file of any claimed size that costs no disk. 0 or errno. */
static int st_write_sparse(Fixture *f) {
    long long off = 0;
    Buf hdr = {0};
    buf_printf(&hdr, "{");
    for (int i = 0; i < f->nt; i++) {
        const TSpec *t = &f->t[i];
        long long b = off;
        off += numel(t) * 4;
        buf_printf(&hdr, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", t->name);
        for (int k = 0; k < t->ndim; k++) buf_printf(&hdr, "%s%lld", k ? "," : "", t->shape[k]);
        buf_printf(&hdr, "],\"data_offsets\":[%lld,%lld]}", b, off);
    }
    buf_printf(&hdr, "}");
    while (hdr.n % 8) buf_add(&hdr, " ", 1);
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
    cfg_set(&f, "vocab_size", "16777216");
    cfg_set(&f, "hidden_size", "16384");
    cfg_set(&f, "num_attention_heads", "128");
    cfg_set(&f, "num_key_value_heads", "8");
    WRITE(f, 0);
    expect_fail(T_, f.dir, "model.safetensors", "expected [16777216, 16384]");
    /* info on the config alone reports the claimed size without loading anything */
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f.dir);
    remove(p);
    free(expect_ok_cmd(T_, f.dir, "info"));
    rm_rf(f.dir);
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
    cfg_set(&f, "vocab_size", "16777216");
    cfg_set(&f, "hidden_size", "16384");
    cfg_set(&f, "num_attention_heads", "128");
    cfg_set(&f, "num_key_value_heads", "128");
    cfg_set(&f, "intermediate_size", "16");
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
    if (err) { rm_rf(f.dir); SKIP("cannot make a sparse file of that size here: %s", strerror(err)); }
    /* (valgrind cannot map 2 TiB: there the mmap fails, also a clean error naming the file) */
    expect_fail(T_, f.dir, under_valgrind() ? "model.safetensors" : f.dir, under_valgrind() ? NULL : "memory");
    rm_rf(f.dir);
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
    cfg_set(&f, "model_type", "\"gpt2\"");
    cfg_set(&f, "vocab_size", "8");
    cfg_set(&f, "n_embd", "131072");
    cfg_set(&f, "n_layer", "1");
    cfg_set(&f, "n_head", "2");
    cfg_set(&f, "n_positions", "4");
    cfg_set(&f, "n_inner", "1");
    add_t(&f, "wte.weight", FILL_RANDOM, 2, 8, d);
    add_t(&f, "wpe.weight", FILL_RANDOM, 2, 4, d);
    const char *vecs[] = {"h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.ln_2.weight", "h.0.ln_2.bias", "h.0.attn.c_proj.bias",
                          "h.0.mlp.c_proj.bias", "ln_f.weight", "ln_f.bias"};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) add_t(&f, vecs[i], FILL_ONES, 1, d, 0);
    add_t(&f, "h.0.attn.c_attn.weight", FILL_RANDOM, 2, d, 3 * d);
    add_t(&f, "h.0.attn.c_attn.bias", FILL_RANDOM, 1, 3 * d, 0);
    add_t(&f, "h.0.attn.c_proj.weight", FILL_RANDOM, 2, d, d);
    add_t(&f, "h.0.mlp.c_fc.weight", FILL_RANDOM, 2, d, 1);
    add_t(&f, "h.0.mlp.c_fc.bias", FILL_RANDOM, 1, 1, 0);
    add_t(&f, "h.0.mlp.c_proj.weight", FILL_RANDOM, 2, 1, d);
    WRITE(f, 1);
    int err = st_write_sparse(&f);
    if (err) { rm_rf(f.dir); SKIP("cannot make a sparse file of that size here: %s", strerror(err)); }
    expect_fail(T_, f.dir, under_valgrind() ? "model.safetensors" : f.dir, under_valgrind() ? NULL : "Conv1D weights need");
    rm_rf(f.dir);
}

/* ---- command lines: ids, context, prompts ----------------------------------------------------- */

TEST(malformed_cli_bad_ids_and_options) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    expect_fail_cmd(T_, f.dir, "logits --ids 1,x,3", NULL, "--ids");
    expect_fail_cmd(T_, f.dir, "logits --ids -1", NULL, "--ids");
    expect_fail_cmd(T_, f.dir, "logits --ids ''", NULL, "--ids");
    expect_fail_cmd(T_, f.dir, "logits --ids 99999999999999999999", NULL, "--ids");
    expect_fail_cmd(T_, f.dir, "logits --ids 1,260", NULL, "vocabulary");      /* vocab is 0..259 */
    expect_fail_cmd(T_, f.dir, "generate --ids 2147483647 --max-new 1", NULL, "vocabulary");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new -1", NULL, "--max-new");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 2147483647 --ignore-eos", "context", "--ctx");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --max-new 1x", NULL, "--max-new");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --ctx 2147483647", NULL, "--ctx");
    expect_fail_cmd(T_, f.dir, "generate --ids 1 --temp nan", NULL, "--temp");
    free(expect_ok_cmd(T_, f.dir, "generate --ids 1 --max-new 2 --threads 100000"));
    rm_rf(f.dir);
}

TEST(malformed_prompt_longer_than_context) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    /* 40 ids for a model trained on 32 positions: RoPE models run past it (as HF does), with a
     * warning naming the limit and the file */
    Buf ids = {0};
    for (int i = 0; i < 40; i++) buf_printf(&ids, "%s%d", i ? "," : "", i + 1);
    char args[1024];
    const char *which[] = {"logits --ids", "generate --max-new 1 --ids"};
    for (int w = 0; w < 2; w++) {
        snprintf(args, sizeof args, "%s %s", which[w], (const char *)ids.p);
        char *err = expect_ok_cmd(T_, f.dir, args);
        CHECK_MSG(err && strstr(err, "warning: 40 ids exceed the context length 32 (max_position_embeddings") &&
                  strstr(err, f.dir), "`%s` past the context: no warning: %s", which[w], err ? err : "");
        free(err);
    }
    free(ids.p);
    /* more ids than the engine's cache holds: a clean refusal naming the count and --ctx */
    Buf big = {0};
    for (int i = 0; i < 20000; i++) buf_printf(&big, "%s%d", i ? "," : "", i % 250);
    write_str(f.dir, "ids.txt", (const char *)big.p);   /* ~80 KB: read by the shell, not in our command */
    free(big.p);
    snprintf(args, sizeof args, "generate --max-new 1 --ids \"$(cat '%s/ids.txt')\"", f.dir);
    expect_fail_cmd(T_, f.dir, args, "context full", "20000 new");
    expect_fail_cmd(T_, f.dir, args, "--ctx", NULL);
    snprintf(args, sizeof args, "generate --max-new 1 --ctx 64 --ids \"$(cat '%s/ids.txt')\"", f.dir);
    expect_fail_cmd(T_, f.dir, args, "context of 64 tokens", NULL);
    /* generation that runs into the end of the cache stops with the same message */
    expect_fail_cmd(T_, f.dir, "generate --ids 1,2,3 --ctx 16 --max-new 100 --greedy --ignore-eos", "context full", "16 tokens");
    rm_rf(f.dir);
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
    char *err = expect_ok_cmd(T_, f.dir, "tokenize --text \"$(printf 'ab\\377\\376\\303\\050cd\\342\\202')\"");
    free(err);
    char *out = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "%s%s tokenize --json --model '%s' --text \"$(printf 'a\\377b')\"", timeout_prefix(),
             test_bin(), f.dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "239") && strstr(out, "191") && strstr(out, "189"),
              "invalid byte not tokenized as U+FFFD (239,191,189): %s", out ? out : "");
    free(out);
    /* control characters, NUL-free binary junk and a 100 KB prompt */
    free(expect_ok_cmd(T_, f.dir, "tokenize --text \"$(printf '\\001\\002\\033[31m\\r\\n\\t')\""));
    free(expect_ok_cmd(T_, f.dir, "tokenize --text \"$(head -c 100000 /dev/zero | tr '\\0' 'a')\""));
    free(expect_ok_cmd(T_, f.dir, "tokenize --text \"$(head -c 30000 /dev/zero | tr '\\0' '\\377')\""));
    rm_rf(f.dir);
}

/* ---- a CLI people trust (issue 13): help, unknown options, file types ---------------------- */

static const char *k_subcommands[] = {"tui", "run", "generate", "logits", "info", "eval", "tokenize", "detokenize",
                                      "trace", "screenshot", "lesson", "bench", "contrast", "chat-template", "similarity", "compare", "quant-lens"};

/* `CMD --help` prints usage on stdout, exits 0 and does nothing else: `run --help` used to
 * generate text, `info --help` to print a model, `bench --help` to run the benchmark. */
TEST(malformed_cli_help_every_command) {
    NEED_CLI();
    for (size_t i = 0; i < sizeof k_subcommands / sizeof k_subcommands[0]; i++) {
        char cmd[1024], *out = NULL, *err = NULL;
        snprintf(cmd, sizeof cmd, "%s%s %s --help --prompt 'Once upon a time' 2>/dev/null", timeout_prefix(), test_bin(), k_subcommands[i]);
        int rc = test_run(cmd, &out, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: llmscope %s", k_subcommands[i]);
        bool is_tui = !strcmp(k_subcommands[i], "tui");
        CHECK_MSG(rc == 0, "`%s --help`: exit status %d", k_subcommands[i], rc);
        CHECK_MSG(out && (!strncmp(out, want, strlen(want)) || (is_tui && !strncmp(out, "usage: llmscope [tui]", 21))),
                  "`%s --help` does not start with \"%s\": %.300s", k_subcommands[i], want, out ? out : "");
        CHECK_MSG(out && strstr(out, "options:") && strstr(out, "--help"), "`%s --help`: no options listed", k_subcommands[i]);
        /* nothing ran: no generated text, no model summary, no benchmark JSON */
        CHECK_MSG(out && !strstr(out, "memory_bandwidth") && !strstr(out, "weights loaded") && !strstr(out, "Once upon a time,"),
                  "`%s --help` ran the command: %.300s", k_subcommands[i], out ? out : "");
        free(out);
        snprintf(cmd, sizeof cmd, "%s%s %s -h 2>&1 >/dev/null", timeout_prefix(), test_bin(), k_subcommands[i]);
        rc = test_run(cmd, &err, 1);
        CHECK_MSG(rc == 0 && err && !err[0], "`%s -h`: status %d, stderr %.200s", k_subcommands[i], rc, err ? err : "");
        free(err);
    }
}

/* Every option a --help lists appears in README.md, and so do the environment variables. */
TEST(malformed_cli_options_documented_in_readme) {
    NEED_CLI();
    char *readme = NULL;
    if (test_run("cat README.md", &readme, 0) != 0 || !readme || !readme[0]) { free(readme); SKIP("README.md not readable from here"); }
    int options = 0;
    for (size_t i = 0; i < sizeof k_subcommands / sizeof k_subcommands[0]; i++) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s %s --help", test_bin(), k_subcommands[i]);
        test_run(cmd, &out, 0);
        for (char *line = out; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = 0;
            /* option lines: "  --name ARG   help" or "  -n, --name ARG   help" */
            char *p = line;
            if (p[0] == ' ' && p[1] == ' ' && p[2] == '-') {
                p += 2;
                if (p[1] != '-') { char *c = strstr(p, ", "); if (c) p = c + 2; }
                char name[64];
                size_t n = strcspn(p, " ");
                if (n < sizeof name) {
                    memcpy(name, p, n);
                    name[n] = 0;
                    options++;
                    CHECK_MSG(strstr(readme, name), "`%s --help` lists %s, README.md does not", k_subcommands[i], name);
                }
            }
            line = nl ? nl + 1 : NULL;
        }
        free(out);
    }
    CHECK_MSG(options > 60, "only %d option lines found in the --help texts", options);
    const char *env[] = {"LLMSCOPE_MODEL", "LLMSCOPE_THREADS", "HF_HUB_CACHE", "HF_HOME", "LLMSCOPE_COLOR", "NO_COLOR",
                         "LLMSCOPE_ASCII", "LLMSCOPE_LANG", "LLMSCOPE_ROOT"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) CHECK_MSG(strstr(readme, env[i]), "README.md does not document %s", env[i]);
    free(readme);
}

/* Unknown or malformed options are an error naming the option, exit status 2, before anything runs. */
static void expect_usage_error(TestCtx *T_, const char *model, const char *args, const char *must1, const char *must2) {
    char *err = NULL;
    int rc = run_cli(args, model, &err);
    const char *s = err ? err : "";
    CHECK_MSG(rc == 2, "`%s`: exit status %d (want 2, a usage error): %.400s", args, rc, s);
    CHECK_MSG(strstr(s, "llmscope: "), "`%s`: no message: %.400s", args, s);
    CHECK_MSG(!must1 || strstr(s, must1), "`%s`: message does not say \"%s\": %.400s", args, must1, s);
    CHECK_MSG(!must2 || strstr(s, must2), "`%s`: message does not say \"%s\": %.400s", args, must2, s);
    free(err);
}

TEST(malformed_cli_unknown_and_bad_options) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    expect_usage_error(T_, f.dir, "run --promt Hello", "unknown option '--promt'", "did you mean --prompt");
    expect_usage_error(T_, f.dir, "run --prompt Hi --max_new 3", "unknown option '--max_new'", "--max-new");
    expect_usage_error(T_, f.dir, "run --prompt Hi -n -5", "--max-new", "-5");
    expect_usage_error(T_, f.dir, "run --prompt Hi -n 3x", "--max-new", "3x");
    char *err = NULL, cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --prompt", test_bin(), f.dir);
    int rc = test_run(cmd, &err, 1);
    CHECK_MSG(rc == 2 && err && strstr(err, "--prompt needs a value"), "`run --prompt`: %d %s", rc, err ? err : "");
    free(err);
    err = NULL;
    expect_usage_error(T_, f.dir, "run Hello", "unexpected argument 'Hello'", NULL);
    expect_usage_error(T_, f.dir, "run --prompt Hi --top-p 1.5", "--top-p", "1.5");
    expect_usage_error(T_, f.dir, "run --prompt Hi --temp -1", "--temp", NULL);
    expect_usage_error(T_, f.dir, "generate --ids 1 --ids 2", "--ids given twice", NULL);
    expect_usage_error(T_, f.dir, "generate --ids 1 --greedy=yes", "--greedy takes no value", NULL);
    expect_usage_error(T_, f.dir, "info --jsn", "unknown option '--jsn'", "--json");
    expect_usage_error(T_, f.dir, "logits --ids 1 --foo=3", "unknown option '--foo'", NULL);
    expect_usage_error(T_, f.dir, "trace --ids 1 --hooks hook_embed", "--json or --npy", NULL);
    expect_usage_error(T_, f.dir, "bench --decode 0", "--decode", NULL);
    expect_usage_error(T_, f.dir, "tokenize --text a --vocab 3", "unknown option '--vocab'", "--vocab-size");
    /* a value that looks like an option is still the value of the option before it */
    snprintf(cmd, sizeof cmd, "%s tokenize --model '%s' --text --json", test_bin(), f.dir);
    rc = test_run(cmd, &out, 0);
    CHECK_MSG(rc == 0 && out && strstr(out, "tokens") && !strstr(out, "\"ids\""), "`tokenize --text --json` did not tokenize \"--json\": %s", out ? out : "");
    free(out);
    /* -n and --max-new are one option */
    snprintf(cmd, sizeof cmd, "%s generate --model '%s' --ids 1 -n 3 --greedy --ignore-eos --json", test_bin(), f.dir);
    rc = test_run(cmd, &out, 0);
    int a = -1, b = -1, c = -1, d = -1;
    CHECK_MSG(rc == 0 && out && sscanf(out, "{\"ids\": [%d, %d, %d%n", &a, &b, &c, &d) == 3 && out[d] == ']',
              "`generate -n 3` did not give 3 ids: %s", out ? out : "");
    free(out);
    free(err);
    rm_rf(f.dir);
}

/* The file type of --model comes from its bytes, and the message names what was found. */
TEST(malformed_model_file_types) {
    NEED_CLI();
    CASE(f);
    WRITE(f, 0);
    char p[1024];
    /* a GGUF file (magic + version 3), whatever its name */
    snprintf(p, sizeof p, "%s/weights.bin", f.dir);
    uint8_t gg[64] = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    REQUIRE(write_file(p, gg, sizeof gg));
    expect_fail(T_, p, "weights.bin", "GGUF");
    /* a PyTorch zip and a raw pickle */
    snprintf(p, sizeof p, "%s/pytorch_model.bin", f.dir);
    uint8_t zip[64] = {'P', 'K', 3, 4};
    REQUIRE(write_file(p, zip, sizeof zip));
    expect_fail(T_, p, "pytorch_model.bin", "PyTorch");
    uint8_t pk[64] = {0x80, 2, 'c'};
    REQUIRE(write_file(p, pk, sizeof pk));
    expect_fail(T_, p, "pytorch_model.bin", "pickle");
    /* text, and an empty file */
    snprintf(p, sizeof p, "%s/notes.txt", f.dir);
    REQUIRE(write_file(p, "hello world, this is text\n", 26));
    expect_fail(T_, p, "notes.txt", "text file starting \"hello world");
    REQUIRE(write_file(p, "", 0));
    expect_fail(T_, p, "notes.txt", "empty file");
    /* model.safetensors given directly: its directory is loaded; without a config.json it says so */
    snprintf(p, sizeof p, "%s/model.safetensors", f.dir);
    free(expect_ok_cmd(T_, p, "logits --ids 1,2"));
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", f.dir);
    REQUIRE(unlink(cfg) == 0);
    expect_fail(T_, p, "model.safetensors", "no config.json beside it");
    rm_rf(f.dir);
}

/* ---- HF semantics for chat models: every eos id stops, BOS only where the tokenizer says ----- */

static int parse_ids(const char *s, int *v, int cap) {
    const char *p = s ? strstr(s, "[") : NULL;
    int n = 0;
    while (p && *p && *p != ']' && n < cap) {
        p++;
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p) break;
        v[n++] = (int)x;
        p = end;
    }
    return n;
}

static int generate_ids(const char *dir, const char *extra, int *v, int cap) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s%s generate --model '%s' --ids 1,2 -n 8 --greedy --json %s", timeout_prefix(), test_bin(), dir, extra);
    int rc = test_run(cmd, &out, 0);
    int n = rc == 0 ? parse_ids(out, v, cap) : -1;
    free(out);
    return n;
}

TEST(malformed_eos_list_stops_at_any_id) {
    NEED_CLI();
    CASE(f);
    cfg_set(&f, "eos_token_id", "259");   /* an id random greedy decoding here does not reach */
    WRITE(f, 0);
    int all[16], got[16];
    int n = generate_ids(f.dir, "", all, 16);
    REQUIRE(n == 8);
    /* the first time each of ids all[2] and all[5] appears: generation must end right there,
     * that id last, as transformers' generate() returns it */
    int at2 = 0, at5 = 0;
    while (all[at2] != all[2]) at2++;
    while (all[at5] != all[5]) at5++;
    CHECK_MSG(all[2] != 259 && all[5] != 259, "the fixture decodes into id 259; pick another");
    char list[64];
    /* a two-id list in config.json: either id stops */
    snprintf(list, sizeof list, "[259, %d]", all[2]);
    cfg_set(&f, "eos_token_id", list);
    cfg_write(&f, f.dir);
    int k = generate_ids(f.dir, "", got, 16);
    CHECK_EQ_INT(k, at2 + 1);
    CHECK_MSG(k > 0 && got[k - 1] == all[2], "stopped at the wrong id");
    snprintf(list, sizeof list, "[%d, 259]", all[5]);
    cfg_set(&f, "eos_token_id", list);
    cfg_write(&f, f.dir);
    k = generate_ids(f.dir, "", got, 16);
    CHECK_EQ_INT(k, at5 + 1);
    for (int i = 0; i < k && i < 8; i++) CHECK_EQ_INT(got[i], all[i]);
    /* --ignore-eos goes on */
    CHECK_EQ_INT(generate_ids(f.dir, "--ignore-eos", got, 16), 8);
    /* an int in config.json plus a list in generation_config.json: both stop */
    cfg_set(&f, "eos_token_id", "259");
    cfg_write(&f, f.dir);
    char gen[128];
    snprintf(gen, sizeof gen, "{\"eos_token_id\": [258, %d]}\n", all[5]);
    write_str(f.dir, "generation_config.json", gen);
    CHECK_EQ_INT(generate_ids(f.dir, "", got, 16), at5 + 1);
    /* run stops there too: the text holds fewer tokens than with --ignore-eos */
    char cmd[2048], *o1 = NULL, *o2 = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --prompt ab -n 8 --greedy", test_bin(), f.dir);
    test_run(cmd, &o1, 0);
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --prompt ab -n 8 --greedy --ignore-eos", test_bin(), f.dir);
    test_run(cmd, &o2, 0);
    CHECK_MSG(o1 && o2 && strlen(o1) < strlen(o2), "run did not stop at the eos id: \"%s\" vs \"%s\"", o1 ? o1 : "", o2 ? o2 : "");
    free(o1);
    free(o2);
    rm_rf(f.dir);
}

/* A model whose vocabulary matches a real tokenizer (d = 8, tied embeddings) in a temp dir. */
static int fixture_with_tokenizer(Fixture *f, const char *tokdir, int vocab, const char *bos, const char *eos) {
    fixture_init(f);
    char v[32];
    snprintf(v, sizeof v, "%d", vocab);
    cfg_set(f, "vocab_size", v);
    cfg_set(f, "tie_word_embeddings", "true");
    cfg_set(f, "bos_token_id", bos);
    cfg_set(f, "eos_token_id", eos);
    find_t(f, EMB)->shape[0] = vocab;
    f->nt--;   /* drop lm_head.weight (last) */
    if (!fixture_write(f, 0)) return 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s'/tokenizer*.json '%s'/", tokdir, f->dir);
    return system(cmd) == 0;
}

static int trace_ids(const char *dir, const char *prompt, int *v, int cap) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s%s trace --model '%s' --prompt '%s' --hooks hook_embed --json", timeout_prefix(), test_bin(), dir, prompt);
    int rc = test_run(cmd, &out, 0);
    int n = rc == 0 ? parse_ids(out, v, cap) : -1;
    free(out);
    return n;
}

static int tokenize_ids(const char *dir, const char *prompt, int *v, int cap) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s%s tokenize --model '%s' --text '%s' --json", timeout_prefix(), test_bin(), dir, prompt);
    int rc = test_run(cmd, &out, 0);
    int n = rc == 0 ? parse_ids(out, v, cap) : -1;
    free(out);
    return n;
}

TEST(malformed_bos_as_the_tokenizer_says) {
    NEED_CLI();
    const char *d = test_shared_data();
    if (!d) SKIP("shared data not found");
    char qdir[1024], gdir[1024];
    snprintf(qdir, sizeof qdir, "%s/tokenizers/qwen3", d);
    snprintf(gdir, sizeof gdir, "%s/tokenizers/gpt2", d);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/tokenizer.json", qdir);
    if (access(probe, R_OK) != 0) SKIP("no Qwen3 tokenizer in the shared data");
    /* Qwen3: bos_token_id 151643 (<|endoftext|>) in config.json, but tokenizer_config.json says
     * add_bos_token false and the post-processor adds nothing: HF encodes "Hello" as [9707]. */
    Fixture f;
    REQUIRE(fixture_with_tokenizer(&f, qdir, 151936, "151643", "[151645, 151643]"));
    int v[16], t[16];
    int n = trace_ids(f.dir, "Hello", v, 16);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(v[0], 9707);
    CHECK_EQ_INT(tokenize_ids(f.dir, "Hello", t, 16), 1);
    CHECK_EQ_INT(t[0], 9707);
    /* the same ids reach the engine in run (prompt + n ids) and in the terminal UI */
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s screenshot --model '%s' --prompt Hello --panel output --steps 1 --size 100x30", test_bin(), f.dir);
    int rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0 && out && !strstr(out, "<|endoftext|>Hello"), "the TUI put <|endoftext|> before Hello: %.400s", out ? out : "");
    free(out);
    /* an empty prompt starts from bos_token_id, as generate() does without input ids */
    CHECK_EQ_INT(trace_ids(f.dir, "", v, 16), 1);
    CHECK_EQ_INT(v[0], 151643);
    rm_rf(f.dir);
    /* GPT-2: no special tokens either */
    snprintf(probe, sizeof probe, "%s/tokenizer.json", gdir);
    if (access(probe, R_OK) == 0) {
        REQUIRE(fixture_with_tokenizer(&f, gdir, 50257, "50256", "50256"));
        n = trace_ids(f.dir, "Hello", v, 16);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(v[0], 15496);
        rm_rf(f.dir);
    }
    /* add_bos_token true in tokenizer_config.json (as Llama's): BOS first, once */
    CASE(g);
    WRITE(g, 0);
    write_str(g.dir, "tokenizer_config.json", "{\"bos_token\": \"<|endoftext|>\", \"add_bos_token\": true}\n");
    n = trace_ids(g.dir, "ab", v, 16);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(v[0], 256);
    CHECK_EQ_INT(tokenize_ids(g.dir, "ab", t, 16), 3);
    CHECK_EQ_INT(t[0], 256);
    /* --no-bos: the text's own tokens */
    snprintf(cmd, sizeof cmd, "%s trace --model '%s' --prompt ab --no-bos --hooks hook_embed --json", test_bin(), g.dir);
    test_run(cmd, &out, 0);
    CHECK_EQ_INT(parse_ids(out, v, 16), 2);
    free(out);
    rm_rf(g.dir);
}

/* ---- GGUF container --------------------------------------------------------------------------
 * A tiny llama GGUF (d=32, 2 heads / 1 KV head, ff 64, vocab 260, F32) written here byte by
 * byte; each case patches one field (positions recorded while writing) or cuts the file. */

enum { GG_D = 32, GG_KV = 16, GG_FF = 64, GG_V = 260 };

typedef struct {
    Buf b;
    size_t pos_version, pos_ntensors, pos_nkv, pos_first_key_len, pos_first_vtype, pos_arr_type;
    size_t pos_align_val;
    size_t pos_type[16], pos_off[16], pos_ndims[16];
    uint64_t off[16];
    int nt;
} Gg;

static void gg_u32(Buf *b, uint32_t v) { uint8_t x[4]; for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i)); buf_add(b, x, 4); }
static void gg_u64(Buf *b, uint64_t v) { uint8_t x[8]; for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i)); buf_add(b, x, 8); }
static void gg_f32(Buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); gg_u32(b, u); }
static void gg_str(Buf *b, const char *s) { gg_u64(b, strlen(s)); buf_add(b, s, strlen(s)); }
static void gg_patch32(Gg *g, size_t pos, uint32_t v) { for (int i = 0; i < 4; i++) g->b.p[pos + i] = (uint8_t)(v >> (8 * i)); }
static void gg_patch64(Gg *g, size_t pos, uint64_t v) { for (int i = 0; i < 8; i++) g->b.p[pos + i] = (uint8_t)(v >> (8 * i)); }

static void gg_build(Gg *g) {
    memset(g, 0, sizeof *g);
    static const struct { const char *name; int nd; int ne0, ne1; } ts[] = {
        {"token_embd.weight", 2, GG_D, GG_V}, {"blk.0.attn_norm.weight", 1, GG_D, 1},
        {"blk.0.attn_q.weight", 2, GG_D, GG_D}, {"blk.0.attn_k.weight", 2, GG_D, GG_KV},
        {"blk.0.attn_v.weight", 2, GG_D, GG_KV}, {"blk.0.attn_output.weight", 2, GG_D, GG_D},
        {"blk.0.ffn_norm.weight", 1, GG_D, 1}, {"blk.0.ffn_gate.weight", 2, GG_D, GG_FF},
        {"blk.0.ffn_up.weight", 2, GG_D, GG_FF}, {"blk.0.ffn_down.weight", 2, GG_FF, GG_D},
        {"output_norm.weight", 1, GG_D, 1},
    };
    Buf *b = &g->b;
    buf_add(b, "GGUF", 4);
    g->pos_version = b->n; gg_u32(b, 3);
    g->nt = (int)(sizeof ts / sizeof ts[0]);
    g->pos_ntensors = b->n; gg_u64(b, (uint64_t)g->nt);
    g->pos_nkv = b->n; gg_u64(b, 11);
    g->pos_first_key_len = b->n; gg_str(b, "general.architecture"); g->pos_first_vtype = b->n; gg_u32(b, 8); gg_str(b, "llama");
    gg_str(b, "llama.embedding_length"); gg_u32(b, 4); gg_u32(b, GG_D);
    gg_str(b, "llama.block_count"); gg_u32(b, 4); gg_u32(b, 1);
    gg_str(b, "llama.attention.head_count"); gg_u32(b, 4); gg_u32(b, 2);
    gg_str(b, "llama.attention.head_count_kv"); gg_u32(b, 4); gg_u32(b, 1);
    gg_str(b, "llama.feed_forward_length"); gg_u32(b, 4); gg_u32(b, GG_FF);
    gg_str(b, "llama.context_length"); gg_u32(b, 4); gg_u32(b, 32);
    gg_str(b, "llama.attention.layer_norm_rms_epsilon"); gg_u32(b, 6); gg_f32(b, 1e-5f);
    gg_str(b, "general.alignment"); gg_u32(b, 4); g->pos_align_val = b->n; gg_u32(b, 32);
    gg_str(b, "general.tags"); gg_u32(b, 9); g->pos_arr_type = b->n; gg_u32(b, 8); gg_u64(b, 2); gg_str(b, "tiny"); gg_str(b, "test");
    gg_str(b, "general.some_i16s"); gg_u32(b, 9); gg_u32(b, 3); gg_u64(b, 2); gg_u32(b, 0xffff0001u);
    uint64_t off = 0;
    for (int i = 0; i < g->nt; i++) {
        gg_str(b, ts[i].name);
        g->pos_ndims[i] = b->n; gg_u32(b, (uint32_t)ts[i].nd);
        gg_u64(b, (uint64_t)ts[i].ne0);
        if (ts[i].nd == 2) gg_u64(b, (uint64_t)ts[i].ne1);
        g->pos_type[i] = b->n; gg_u32(b, 0);
        g->pos_off[i] = b->n; gg_u64(b, off);
        g->off[i] = off;
        off += ((uint64_t)ts[i].ne0 * (uint64_t)ts[i].ne1 * 4 + 31) / 32 * 32;
    }
    while (b->n % 32) buf_add(b, "", 1);
    for (uint64_t i = 0; i < off / 4; i++) gg_f32(b, i % 97 == 0 ? 1.0f : rnd_weight() * 0.3f);
}

/* Writes g to a fresh directory as tiny.gguf; path in out. */
static int gg_write(Gg *g, size_t n, char *out, size_t cap) {
    char dir[512];
    if (!make_tmpdir(dir, sizeof dir)) return 0;
    snprintf(out, cap, "%s/tiny.gguf", dir);
    return write_file(out, g->b.p, n);
}

static void gg_done(Gg *g, const char *path) {
    free(g->b.p);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) { *sl = 0; rm_rf(dir); }
}

#define GG_CASE(g, path) Gg g; gg_build(&g); char path[700]
#define GG_EXPECT(g, path, n, field) do { REQUIRE(gg_write(&g, n, path, sizeof path)); \
    expect_fail(T_, path, "tiny.gguf", field); gg_done(&g, path); } while (0)

TEST(malformed_gguf_control_runs) {
    NEED_CLI();
    GG_CASE(g, p);
    REQUIRE(gg_write(&g, g.b.n, p, sizeof p));
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++) free(expect_ok_cmd(T_, p, k_cmds[i]));
    gg_done(&g, p);
}

TEST(malformed_gguf_truncated) {
    NEED_CLI();
    GG_CASE(g, p);
    GG_EXPECT(g, p, g.b.n / 2, "past the end of the file");
    GG_CASE(h, q);   /* cut inside the metadata: the count no longer fits */
    GG_EXPECT(h, q, h.pos_first_vtype + 2, "metadata count 11");
    GG_CASE(k, r);   /* cut inside the tensor infos */
    GG_EXPECT(k, r, k.pos_type[3] + 2, "truncated");
}

TEST(malformed_gguf_huge_counts) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch64(&g, g.pos_nkv, 1ull << 40);
    GG_EXPECT(g, p, g.b.n, "metadata count");
    GG_CASE(h, q);
    gg_patch64(&h, h.pos_ntensors, 0xffffffffffffull);
    GG_EXPECT(h, q, h.b.n, "tensor count");
}

TEST(malformed_gguf_bad_value_type_and_nested_array) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch32(&g, g.pos_first_vtype, 99);
    GG_EXPECT(g, p, g.b.n, "value type 99");
    GG_CASE(h, q);
    gg_patch32(&h, h.pos_arr_type, 9);
    GG_EXPECT(h, q, h.b.n, "general.tags");
}

TEST(malformed_gguf_string_length_past_end) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch64(&g, g.pos_first_key_len, 1ull << 50);
    GG_EXPECT(g, p, g.b.n, "metadata key");
}

TEST(malformed_gguf_bad_version) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch32(&g, g.pos_version, 7);
    GG_EXPECT(g, p, g.b.n, "version 7");
    GG_CASE(h, q);
    gg_patch32(&h, h.pos_version, 0x03000000u);   /* a big-endian file */
    GG_EXPECT(h, q, h.b.n, "big-endian");
}

TEST(malformed_gguf_bad_tensor_type_and_dims) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch32(&g, g.pos_type[2], 77);
    GG_EXPECT(g, p, g.b.n, "ggml type 77");
    GG_CASE(h, q);
    gg_patch32(&h, h.pos_ndims[1], 5);
    GG_EXPECT(h, q, h.b.n, "n_dims 5");
    GG_CASE(k, r);   /* Q8_0 needs ne[0] % 32 == 0 and 34-byte blocks: here the row is 32 wide, so
                      * the type parses; 2 (Q4_0) on a 1-D norm of 32 is valid too. Use I32: a
                      * real ggml type llmscope does not compute with. */
    gg_patch32(&k, k.pos_type[1], 26);
    GG_EXPECT(k, r, k.b.n, "blk.0.attn_norm.weight");
}

TEST(malformed_gguf_overlapping_offsets) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch64(&g, g.pos_off[3], g.off[2]);
    GG_EXPECT(g, p, g.b.n, "overlap");
}

TEST(malformed_gguf_misaligned_and_out_of_range_offsets) {
    NEED_CLI();
    GG_CASE(g, p);
    gg_patch64(&g, g.pos_off[4], g.off[4] + 4);
    GG_EXPECT(g, p, g.b.n, "alignment");
    GG_CASE(h, q);
    gg_patch64(&h, h.pos_off[10], 1ull << 40);
    GG_EXPECT(h, q, h.b.n, "past the end");
    GG_CASE(k, r);
    gg_patch32(&k, k.pos_align_val, 48);
    GG_EXPECT(k, r, k.b.n, "general.alignment");
}

/* ---- right numbers: the Output panel's entropy is over the whole vocabulary ----------------- */

/* Entropy (bits) of softmax over one row of `logits --json`, in double. */
static double row_entropy_bits(const char *json, int row, int V) {
    const char *p = strstr(json, "[[");
    if (!p) return NAN;
    p += 1;
    for (int r = 0; r < row; r++) { p = strstr(p + 1, "["); if (!p) return NAN; }
    p++;
    double *x = malloc(sizeof(double) * (size_t)V);
    if (!x) return NAN;
    int n = 0;
    while (n < V) {
        char *end;
        x[n] = strtod(p, &end);
        if (end == p) break;
        n++;
        p = end;
        while (*p == ',' || *p == ' ' || *p == '\n') p++;
    }
    double h = NAN;
    if (n == V) {
        double mx = x[0], s = 0, sd = 0;
        for (int i = 1; i < V; i++) if (x[i] > mx) mx = x[i];
        for (int i = 0; i < V; i++) { double w = exp(x[i] - mx); s += w; sd += w * (x[i] - mx); }
        h = (log(s) - sd / s) / log(2.0);
    }
    free(x);
    return h;
}

TEST(malformed_output_entropy_full_vocab) {
    NEED_CLI();
    /* 151,936 ids with small random logits: almost uniform, ~17 bits, while the top 64 alone
     * hold a sliver of the mass (the panel used to print their entropy: a few bits) */
    Fixture f;
    fixture_init(&f);
    cfg_set(&f, "vocab_size", "151936");
    cfg_set(&f, "tie_word_embeddings", "true");
    cfg_set(&f, "bos_token_id", "1");
    cfg_set(&f, "eos_token_id", "2");
    find_t(&f, EMB)->shape[0] = 151936;
    f.nt--;
    REQUIRE(fixture_write(&f, 0));
    char cmd[2048], *out = NULL, *lg = NULL;
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s' --ids 5,17,42 --panel output --steps 1 --size 110x12",
             timeout_prefix(), test_bin(), f.dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    const char *e = out ? strstr(out, "entropy ") : NULL;
    double shown = e ? strtod(e + 8, NULL) : NAN;
    snprintf(cmd, sizeof cmd, "%s%s logits --model '%s' --ids 5,17,42 --json", timeout_prefix(), test_bin(), f.dir);
    rc = test_run(cmd, &lg, 0);
    CHECK_EQ_INT(rc, 0);
    double ref = lg ? row_entropy_bits(lg, 2, 151936) : NAN;
    CHECK_MSG(ref > 10, "reference entropy %.3f bits: the fixture is not as flat as intended", ref);
    CHECK_NEAR(shown, ref, 0.01);
    /* and no probability on screen reads 0.0% */
    CHECK_MSG(out && !strstr(out, " 0.0%"), "a nonzero probability printed as 0.0%%: %s", out ? out : "");
    free(out);
    free(lg);
    rm_rf(f.dir);
}

/* ---- F3/F6 list the model the UI started with and the --compare model ------------------------ */

TEST(malformed_model_menus_list_user_models) {
    NEED_CLI();
    char dir[512], cmd[4096], *out = NULL;
    REQUIRE(make_tmpdir(dir, sizeof dir));
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/models/qwen3 '%s/my-own-model' && cp -r tests/fixtures/models/qwen2 '%s/my-other-model'", dir, dir);
    if (system(cmd) != 0) { rm_rf(dir); SKIP("fixtures not found from here"); }
    /* F3 on the model started with: listed first and marked loaded, beside the bundled ones */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --ids 1,2,3 --full --size 100x30 --keys '{f3}'",
             timeout_prefix(), test_bin(), dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "* my-own-model") && strstr(out, "story-gqa"), "F3 does not list the --model: %.2000s", out ? out : "");
    free(out);
    /* after loading a bundled model from F3, F3 still offers the way back */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --ids 1,2,3 --full --size 100x30 --keys '{f3}{down}{enter}{f3}'",
             timeout_prefix(), test_bin(), dir);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "  my-own-model") && !strstr(out, "* my-own-model"), "F3 lost the --model after another load: %.2000s", out ? out : "");
    free(out);
    /* F6 (compare) lists the --compare model */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --compare '%s/my-other-model' --ids 1,2,3 --full --size 120x30 --keys '{f6}{f6}'",
             timeout_prefix(), test_bin(), dir, dir);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "my-other-model") && strstr(out, "my-own-model"), "F6 does not list the user's models: %.2000s", out ? out : "");
    free(out);
    rm_rf(dir);
}
