/* The malformed-input suites' fixture and CLI runner (see malformed_fx.h). */
#include "malformed_fx.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixture: a tiny llama ------------------------------------------------------------------ */


#define MF_RNG_SEED 0x9e3779b97f4a7c15ull
static uint64_t g_rng = MF_RNG_SEED;
float mf_rnd_weight(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_rng >> 40) & 0xffff) / 65536.0f - 0.5f;
}

void mf_cfg_set(Fixture *f, const char *key, const char *raw) {
    for (int i = 0; i < f->ncfg; i++)
        if (!strcmp(f->cfg[i].key, key)) { snprintf(f->cfg[i].val, sizeof f->cfg[i].val, "%s", raw); return; }
    if (f->ncfg < 32) {
        snprintf(f->cfg[f->ncfg].key, sizeof f->cfg[0].key, "%s", key);
        snprintf(f->cfg[f->ncfg].val, sizeof f->cfg[0].val, "%s", raw);
        f->ncfg++;
    }
}

void mf_cfg_del(Fixture *f, const char *key) {
    for (int i = 0; i < f->ncfg; i++)
        if (!strcmp(f->cfg[i].key, key)) { f->cfg[i] = f->cfg[--f->ncfg]; return; }
}

TSpec *mf_add_t(Fixture *f, const char *name, int fill, int ndim, long long a, long long b) {
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

TSpec *mf_find_t(Fixture *f, const char *name) {
    for (int i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

void mf_del_t(Fixture *f, const char *name) {
    for (int i = 0; i < f->nt; i++)
        if (!strcmp(f->t[i].name, name)) {
            memmove(&f->t[i], &f->t[i + 1], sizeof f->t[0] * (size_t)(f->nt - i - 1));
            f->nt--;
            return;
        }
}


void mf_fixture_init(Fixture *f) {
    memset(f, 0, sizeof *f);
    g_rng = MF_RNG_SEED;     /* every fixture's weights the same, whichever tests ran before */
    mf_cfg_set(f, "model_type", "\"llama\"");
    mf_cfg_set(f, "architectures", "[\"LlamaForCausalLM\"]");
    mf_cfg_set(f, "vocab_size", "260");
    mf_cfg_set(f, "hidden_size", "8");
    mf_cfg_set(f, "num_hidden_layers", "1");
    mf_cfg_set(f, "num_attention_heads", "2");
    mf_cfg_set(f, "num_key_value_heads", "1");
    mf_cfg_set(f, "intermediate_size", "16");
    mf_cfg_set(f, "max_position_embeddings", "32");
    mf_cfg_set(f, "rms_norm_eps", "1e-05");
    mf_cfg_set(f, "rope_theta", "10000.0");
    mf_cfg_set(f, "tie_word_embeddings", "false");
    mf_cfg_set(f, "torch_dtype", "\"float32\"");
    mf_cfg_set(f, "bos_token_id", "256");
    mf_cfg_set(f, "eos_token_id", "256");
    mf_add_t(f, EMB, FILL_RANDOM, 2, FX_V, FX_D);
    mf_add_t(f, "model.layers.0.input_layernorm.weight", FILL_ONES, 1, FX_D, 0);
    mf_add_t(f, WQ, FILL_RANDOM, 2, FX_H * FX_HD, FX_D);
    mf_add_t(f, WK, FILL_RANDOM, 2, FX_KV * FX_HD, FX_D);
    mf_add_t(f, WV, FILL_RANDOM, 2, FX_KV * FX_HD, FX_D);
    mf_add_t(f, "model.layers.0.self_attn.o_proj.weight", FILL_RANDOM, 2, FX_D, FX_H * FX_HD);
    mf_add_t(f, LN2, FILL_ONES, 1, FX_D, 0);
    mf_add_t(f, "model.layers.0.mlp.gate_proj.weight", FILL_RANDOM, 2, FX_FF, FX_D);
    mf_add_t(f, "model.layers.0.mlp.up_proj.weight", FILL_RANDOM, 2, FX_FF, FX_D);
    mf_add_t(f, "model.layers.0.mlp.down_proj.weight", FILL_RANDOM, 2, FX_D, FX_FF);
    mf_add_t(f, "model.norm.weight", FILL_ONES, 1, FX_D, 0);
    mf_add_t(f, "lm_head.weight", FILL_RANDOM, 2, FX_V, FX_D);
}

/* ---- files ------------------------------------------------------------------------------------ */

void mf_rm_rf(const char *dir) { if (dir && dir[0]) test_rm_tree(dir); }

int mf_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

int mf_write_str(const char *dir, const char *name, const char *s) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return mf_write_file(p, s, strlen(s));
}

int mf_make_tmpdir(char *out, size_t cap) {
    return test_tmpdir(out, cap, "malformed");
}

void mf_buf_add(Buf *b, const void *d, size_t n) {
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
void mf_buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) mf_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static size_t dtype_bytes(const char *dt) {
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "I64") || !strcmp(dt, "F64")) return 8;
    return 1;
}

long long mf_numel(const TSpec *t) {
    long long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* The safetensors file of f: u64 header length, header JSON (padded to 8), data. */
Buf mf_st_build(const Fixture *f) {
    Buf hdr = {0}, data = {0}, out = {0};
    mf_buf_printf(&hdr, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < f->nt; i++) {
        const TSpec *t = &f->t[i];
        long long n = mf_numel(t);
        if (n < 0) n = 0;
        size_t es = dtype_bytes(t->dtype);
        long long b0 = (long long)data.n;
        for (long long k = 0; k < n; k++) {
            float v = t->fill == FILL_ONES ? 1.0f : t->fill == FILL_NAN && k == 1 ? NAN
                    : t->fill == FILL_INF && k == 2 ? INFINITY : mf_rnd_weight();
            if (es == 4) mf_buf_add(&data, &v, 4);
            else if (es == 2) { uint16_t h = !strcmp(t->dtype, "F16") ? 0x2e66 : 0x3dcc; mf_buf_add(&data, &h, 2); }
            else { uint8_t z[8] = {0}; mf_buf_add(&data, z, es); }
        }
        long long b = t->begin >= 0 ? t->begin : b0, e = t->end >= 0 ? t->end : (long long)data.n;
        mf_buf_printf(&hdr, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int k = 0; k < t->ndim; k++) mf_buf_printf(&hdr, "%s%lld", k ? "," : "", t->shape[k]);
        mf_buf_printf(&hdr, "],\"data_offsets\":[%lld,%lld]}", b, e);
    }
    mf_buf_printf(&hdr, "}");
    while (hdr.n % 8) mf_buf_add(&hdr, " ", 1);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hdr.n >> (8 * i));
    mf_buf_add(&out, len8, 8);
    mf_buf_add(&out, hdr.p, hdr.n);
    if (data.n) mf_buf_add(&out, data.p, data.n);
    free(hdr.p);
    free(data.p);
    return out;
}

void mf_cfg_write(const Fixture *f, const char *dir) {
    Buf b = {0};
    mf_buf_printf(&b, "{");
    for (int i = 0; i < f->ncfg; i++) mf_buf_printf(&b, "%s\n  \"%s\": %s", i ? "," : "", f->cfg[i].key, f->cfg[i].val);
    mf_buf_printf(&b, "\n}\n");
    mf_write_str(dir, "config.json", (const char *)b.p);
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
    mf_buf_printf(&b, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":256,\"content\":\"<|endoftext|>\",\"single_word\":false,"
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
        mf_buf_printf(&b, "%s\"%s%s\":%d", i ? "," : "", (cp == '"' || cp == '\\') ? "\\" : "", u, i);
    }
    mf_buf_printf(&b, "},\"merges\":[]}}");
    mf_write_str(dir, "tokenizer.json", (const char *)b.p);
    free(b.p);
}

/* Writes config.json, model.safetensors (unless skip_st) and tokenizer.json into a new temp
 * directory f->dir. */
int mf_fixture_write(Fixture *f, int skip_st) {
    if (!mf_make_tmpdir(f->dir, sizeof f->dir)) return 0;
    mf_cfg_write(f, f->dir);
    tokenizer_write(f->dir);
    if (skip_st) return 1;
    Buf st = mf_st_build(f);
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f->dir);
    int ok = mf_write_file(p, st.p, st.n);
    free(st.p);
    return ok;
}

/* Rewrites model.safetensors from a raw byte buffer. */
void mf_st_write_raw(const Fixture *f, const void *b, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/model.safetensors", f->dir);
    mf_write_file(p, b, n);
}

/* ---- running the CLI -------------------------------------------------------------------------- */

int mf_under_valgrind(void) {
    const char *vg = getenv("LLMSCOPE_VALGRIND");
    return vg && *vg;
}

/* `timeout` guards against hangs (exit 124). Under `make valgrind` (LLMSCOPE_VALGRIND set) every
 * CLI run is itself checked by memcheck: invalid accesses and definite leaks exit with 99. */
const char *mf_timeout_prefix(void) {
    static char prefix[256];
    static int done;
    if (!done) {
        int have = system("command -v timeout >/dev/null 2>&1") == 0;
        snprintf(prefix, sizeof prefix, "%s%s", have ? "timeout -k 5 300 " : "",
                 mf_under_valgrind() ? "valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite " : "");
        done = 1;
    }
    return prefix;
}

/* Runs `llmscope ARGS --model MODEL`, stderr captured into *err (stdout discarded). */
int mf_run_cli(const char *args, const char *model, char **err) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "( %s%s %s --model '%s' 2>&1 >/dev/null )", mf_timeout_prefix(), test_bin(), args, model);
    return test_run(cmd, err, 1);
}

int mf_sanitizer_report(const char *s) {
    return strstr(s, "Sanitizer") || strstr(s, "runtime error:") || strstr(s, "Segmentation") ||
           strstr(s, "Aborted") || strstr(s, "core dumped") || strstr(s, "Invalid read") ||
           strstr(s, "Invalid write") || strstr(s, "definitely lost in") || strstr(s, "uninitialised");
}

int mf_cli_missing(void) {
    return access(test_bin(), X_OK) != 0;
}

/* One command must fail cleanly with a message naming `file` and `field`. */
void mf_expect_fail_cmd(TestCtx *T_, const char *model, const char *args, const char *file, const char *field) {
    char *err = NULL;
    int rc = mf_run_cli(args, model, &err);
    const char *s = err ? err : "";
    CHECK_MSG(rc == 1 || rc == 2, "`%s` on %s: exit status %d (want 1 or 2: a clean error; 124 = hang, %d = "
              "valgrind error, >= 128 = signal)\n      stderr: %.600s", args, model, rc, VG_STATUS, s);
    CHECK_MSG(!mf_sanitizer_report(s), "`%s`: sanitizer/crash output: %.800s", args, s);
    CHECK_MSG(strstr(s, "llmscope: ") != NULL, "`%s`: no \"llmscope: \" message on stderr: %.600s", args, s);
    CHECK_MSG(!file || strstr(s, file), "`%s`: message does not name the file \"%s\": %.600s", args, file, s);
    CHECK_MSG(!field || strstr(s, field), "`%s`: message does not name the field \"%s\": %.600s", args, field, s);
    free(err);
}

const char *const mf_k_cmds[MF_N_CMDS] = {"info", "logits --ids 1,2,3", "generate --ids 1,2 --max-new 2 --greedy"};

/* info, logits and generate must all fail with the same kind of message. They share the
 * loader, so under valgrind (slow) only `logits` runs. */
void mf_expect_fail(TestCtx *T_, const char *model, const char *file, const char *field) {
    for (size_t i = 0; i < sizeof mf_k_cmds / sizeof mf_k_cmds[0]; i++)
        if (!mf_under_valgrind() || i == 1) mf_expect_fail_cmd(T_, model, mf_k_cmds[i], file, field);
}

/* A command must succeed; returns stderr (caller frees). */
char *mf_expect_ok_cmd(TestCtx *T_, const char *model, const char *args) {
    char *err = NULL;
    int rc = mf_run_cli(args, model, &err);
    const char *s = err ? err : "";
    CHECK_MSG(rc == 0, "`%s` on %s: exit status %d, stderr: %.600s", args, model, rc, s);
    CHECK_MSG(!mf_sanitizer_report(s), "`%s`: sanitizer/crash output: %.800s", args, s);
    return err;
}

