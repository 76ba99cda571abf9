/* Malformed-input suite (issue 7), command lines: help and unknown options of every
 * subcommand, files of the wrong kind, HF semantics for chat models (every eos id stops, BOS
 * only where the tokenizer says) and broken GGUF containers, through the real CLI on the tiny
 * checkpoint of malformed_fx.h. docs/robustness.md lists the cases. */
#include "malformed_fx.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a CLI people trust (issue 13): help, unknown options, file types ---------------------- */

static const char *k_subcommands[] = {"tui", "run", "generate", "logits", "info", "eval", "tokenize", "detokenize",
                                      "trace", "screenshot", "lesson", "bench", "contrast", "chat-template", "similarity", "compare", "quant-lens"};

/* `CMD --help` prints usage on stdout, exits 0 and does nothing else: `run --help` used to
 * generate text, `info --help` to print a model, `bench --help` to run the benchmark. */
TEST(malformed_cli_help_every_command) {
    NEED_CLI();
    for (size_t i = 0; i < sizeof k_subcommands / sizeof k_subcommands[0]; i++) {
        char cmd[1024], *out = NULL, *err = NULL;
        snprintf(cmd, sizeof cmd, "%s%s %s --help --prompt 'Once upon a time' 2>/dev/null", mf_timeout_prefix(), test_bin(), k_subcommands[i]);
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
        snprintf(cmd, sizeof cmd, "%s%s %s -h 2>&1 >/dev/null", mf_timeout_prefix(), test_bin(), k_subcommands[i]);
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
            /* option lines: "  --name ARG   help", "  -n, --name ARG   help" or "  --name, --alias ARG   help"
             * (each long name is checked) */
            char *p = line;
            if (p[0] == ' ' && p[1] == ' ' && p[2] == '-') {
                p += 2;
                if (p[1] != '-') { char *c = strstr(p, ", "); if (c) p = c + 2; }
                for (bool more = true; more;) {
                    char name[64];
                    size_t n = strcspn(p, " ,");
                    more = p[n] == ',' && p[n + 1] == ' ' && p[n + 2] == '-';
                    if (n < sizeof name) {
                        memcpy(name, p, n);
                        name[n] = 0;
                        options++;
                        CHECK_MSG(strstr(readme, name), "`%s --help` lists %s, README.md does not", k_subcommands[i], name);
                    }
                    p += n + 2;
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
    int rc = mf_run_cli(args, model, &err);
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
    mf_rm_rf(f.dir);
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
    REQUIRE(mf_write_file(p, gg, sizeof gg));
    mf_expect_fail(T_, p, "weights.bin", "GGUF");
    /* a PyTorch zip and a raw pickle */
    snprintf(p, sizeof p, "%s/pytorch_model.bin", f.dir);
    uint8_t zip[64] = {'P', 'K', 3, 4};
    REQUIRE(mf_write_file(p, zip, sizeof zip));
    mf_expect_fail(T_, p, "pytorch_model.bin", "PyTorch");
    uint8_t pk[64] = {0x80, 2, 'c'};
    REQUIRE(mf_write_file(p, pk, sizeof pk));
    mf_expect_fail(T_, p, "pytorch_model.bin", "pickle");
    /* text, and an empty file */
    snprintf(p, sizeof p, "%s/notes.txt", f.dir);
    REQUIRE(mf_write_file(p, "hello world, this is text\n", 26));
    mf_expect_fail(T_, p, "notes.txt", "text file starting \"hello world");
    REQUIRE(mf_write_file(p, "", 0));
    mf_expect_fail(T_, p, "notes.txt", "empty file");
    /* model.safetensors given directly: its directory is loaded; without a config.json it says so */
    snprintf(p, sizeof p, "%s/model.safetensors", f.dir);
    free(mf_expect_ok_cmd(T_, p, "logits --ids 1,2"));
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/config.json", f.dir);
    REQUIRE(unlink(cfg) == 0);
    mf_expect_fail(T_, p, "model.safetensors", "no config.json beside it");
    mf_rm_rf(f.dir);
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
    /* 97,98: the ids of the text "ab" in the fixture's byte-level tokenizer, the prompt the run
     * checks below give, so the ids seen here are the ones run decodes */
    snprintf(cmd, sizeof cmd, "%s%s generate --model '%s' --ids 97,98 -n 8 --greedy --json %s", mf_timeout_prefix(), test_bin(), dir, extra);
    int rc = test_run(cmd, &out, 0);
    int n = rc == 0 ? parse_ids(out, v, cap) : -1;
    free(out);
    return n;
}

TEST(malformed_eos_list_stops_at_any_id) {
    NEED_CLI();
    CASE(f);
    mf_cfg_set(&f, "eos_token_id", "259");   /* an id random greedy decoding here does not reach */
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
    mf_cfg_set(&f, "eos_token_id", list);
    mf_cfg_write(&f, f.dir);
    int k = generate_ids(f.dir, "", got, 16);
    CHECK_EQ_INT(k, at2 + 1);
    CHECK_MSG(k > 0 && got[k - 1] == all[2], "stopped at the wrong id");
    snprintf(list, sizeof list, "[%d, 259]", all[5]);
    mf_cfg_set(&f, "eos_token_id", list);
    mf_cfg_write(&f, f.dir);
    k = generate_ids(f.dir, "", got, 16);
    CHECK_EQ_INT(k, at5 + 1);
    for (int i = 0; i < k && i < 8; i++) CHECK_EQ_INT(got[i], all[i]);
    /* --ignore-eos goes on */
    CHECK_EQ_INT(generate_ids(f.dir, "--ignore-eos", got, 16), 8);
    /* an int in config.json plus a list in generation_config.json: both stop */
    mf_cfg_set(&f, "eos_token_id", "259");
    mf_cfg_write(&f, f.dir);
    char gen[128];
    snprintf(gen, sizeof gen, "{\"eos_token_id\": [258, %d]}\n", all[5]);
    mf_write_str(f.dir, "generation_config.json", gen);
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
    mf_rm_rf(f.dir);
}

/* A model whose vocabulary matches a real tokenizer (d = 8, tied embeddings) in a temp dir. */
static int fixture_with_tokenizer(Fixture *f, const char *tokdir, int vocab, const char *bos, const char *eos) {
    mf_fixture_init(f);
    char v[32];
    snprintf(v, sizeof v, "%d", vocab);
    mf_cfg_set(f, "vocab_size", v);
    mf_cfg_set(f, "tie_word_embeddings", "true");
    mf_cfg_set(f, "bos_token_id", bos);
    mf_cfg_set(f, "eos_token_id", eos);
    mf_find_t(f, EMB)->shape[0] = vocab;
    f->nt--;   /* drop lm_head.weight (last) */
    if (!mf_fixture_write(f, 0)) return 0;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s'/tokenizer*.json '%s'/", tokdir, f->dir);
    return system(cmd) == 0;
}

static int trace_ids(const char *dir, const char *prompt, int *v, int cap) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s%s trace --model '%s' --prompt '%s' --hooks hook_embed --json", mf_timeout_prefix(), test_bin(), dir, prompt);
    int rc = test_run(cmd, &out, 0);
    int n = rc == 0 ? parse_ids(out, v, cap) : -1;
    free(out);
    return n;
}

static int tokenize_ids(const char *dir, const char *prompt, int *v, int cap) {
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s%s tokenize --model '%s' --text '%s' --json", mf_timeout_prefix(), test_bin(), dir, prompt);
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
    mf_rm_rf(f.dir);
    /* GPT-2: no special tokens either */
    snprintf(probe, sizeof probe, "%s/tokenizer.json", gdir);
    if (access(probe, R_OK) == 0) {
        REQUIRE(fixture_with_tokenizer(&f, gdir, 50257, "50256", "50256"));
        n = trace_ids(f.dir, "Hello", v, 16);
        CHECK_EQ_INT(n, 1);
        CHECK_EQ_INT(v[0], 15496);
        mf_rm_rf(f.dir);
    }
    /* add_bos_token true in tokenizer_config.json (as Llama's): BOS first, once */
    CASE(g);
    WRITE(g, 0);
    mf_write_str(g.dir, "tokenizer_config.json", "{\"bos_token\": \"<|endoftext|>\", \"add_bos_token\": true}\n");
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
    mf_rm_rf(g.dir);
}

/* ---- GGUF container --------------------------------------------------------------------------
 * A tiny llama GGUF (d=32, 2 heads / 1 KV head, ff 64, vocab 260, F32) written here byte by
 * byte; each case patches one field (positions recorded while writing) or cuts the file. */

enum { GG_D = 32, GG_KV = 16, GG_FF = 64, GG_V = 260 };

typedef struct {
    Buf b;
    size_t pos_version, pos_ntensors, pos_nkv, pos_first_key_len, pos_first_vtype, pos_arr_type;
    size_t pos_align_val;
    size_t pos_eps_val;   /* llama.attention.layer_norm_rms_epsilon's f32 */
    size_t pos_type[16], pos_off[16], pos_ndims[16];
    uint64_t off[16];
    int nt;
} Gg;

static void gg_u32(Buf *b, uint32_t v) { uint8_t x[4]; for (int i = 0; i < 4; i++) x[i] = (uint8_t)(v >> (8 * i)); mf_buf_add(b, x, 4); }
static void gg_u64(Buf *b, uint64_t v) { uint8_t x[8]; for (int i = 0; i < 8; i++) x[i] = (uint8_t)(v >> (8 * i)); mf_buf_add(b, x, 8); }
static void gg_f32(Buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); gg_u32(b, u); }
static void gg_str(Buf *b, const char *s) { gg_u64(b, strlen(s)); mf_buf_add(b, s, strlen(s)); }
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
    mf_buf_add(b, "GGUF", 4);
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
    gg_str(b, "llama.attention.layer_norm_rms_epsilon"); gg_u32(b, 6); g->pos_eps_val = b->n; gg_f32(b, 1e-5f);
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
    while (b->n % 32) mf_buf_add(b, "", 1);
    for (uint64_t i = 0; i < off / 4; i++) gg_f32(b, i % 97 == 0 ? 1.0f : mf_rnd_weight() * 0.3f);
}

/* Writes g to a fresh directory as tiny.gguf; path in out. */
static int gg_write(Gg *g, size_t n, char *out, size_t cap) {
    char dir[512];
    if (!mf_make_tmpdir(dir, sizeof dir)) return 0;
    snprintf(out, cap, "%s/tiny.gguf", dir);
    return mf_write_file(out, g->b.p, n);
}

static void gg_done(Gg *g, const char *path) {
    free(g->b.p);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) { *sl = 0; mf_rm_rf(dir); }
}

#define GG_CASE(g, path) Gg g; gg_build(&g); char path[700]
#define GG_EXPECT(g, path, n, field) do { REQUIRE(gg_write(&g, n, path, sizeof path)); \
    mf_expect_fail(T_, path, "tiny.gguf", field); gg_done(&g, path); } while (0)

TEST(malformed_gguf_control_runs) {
    NEED_CLI();
    GG_CASE(g, p);
    REQUIRE(gg_write(&g, g.b.n, p, sizeof p));
    for (size_t i = 0; i < sizeof mf_k_cmds / sizeof mf_k_cmds[0]; i++) free(mf_expect_ok_cmd(T_, p, mf_k_cmds[i]));
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

/* A norm epsilon below 0 made the norm of every row with a smaller mean square NaN (the logits
 * NaN, exit 0); config.json's rms_norm_eps the same (test_malformed.c). */
TEST(malformed_gguf_negative_norm_epsilon) {
    NEED_CLI();
    GG_CASE(g, p);
    const float neg = -1.0f;
    uint32_t u;
    memcpy(&u, &neg, sizeof u);
    gg_patch32(&g, g.pos_eps_val, u);
    GG_EXPECT(g, p, g.b.n, "\"llama.attention.layer_norm_rms_epsilon\" = -1 is out of range");
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
    mf_fixture_init(&f);
    mf_cfg_set(&f, "vocab_size", "151936");
    mf_cfg_set(&f, "tie_word_embeddings", "true");
    mf_cfg_set(&f, "bos_token_id", "1");
    mf_cfg_set(&f, "eos_token_id", "2");
    mf_find_t(&f, EMB)->shape[0] = 151936;
    f.nt--;
    REQUIRE(mf_fixture_write(&f, 0));
    char cmd[2048], *out = NULL, *lg = NULL;
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s' --ids 5,17,42 --panel output --steps 1 --size 110x12",
             mf_timeout_prefix(), test_bin(), f.dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    const char *e = out ? strstr(out, "entropy ") : NULL;
    double shown = e ? strtod(e + 8, NULL) : NAN;
    snprintf(cmd, sizeof cmd, "%s%s logits --model '%s' --ids 5,17,42 --json", mf_timeout_prefix(), test_bin(), f.dir);
    rc = test_run(cmd, &lg, 0);
    CHECK_EQ_INT(rc, 0);
    double ref = lg ? row_entropy_bits(lg, 2, 151936) : NAN;
    CHECK_MSG(ref > 10, "reference entropy %.3f bits: the fixture is not as flat as intended", ref);
    CHECK_NEAR(shown, ref, 0.01);
    /* and no probability on screen reads 0.0% */
    CHECK_MSG(out && !strstr(out, " 0.0%"), "a nonzero probability printed as 0.0%%: %s", out ? out : "");
    free(out);
    free(lg);
    mf_rm_rf(f.dir);
}

/* ---- F3/F6 list the model the UI started with and the --compare model ------------------------ */

TEST(malformed_model_menus_list_user_models) {
    NEED_CLI();
    char dir[512], cmd[4096], *out = NULL;
    REQUIRE(mf_make_tmpdir(dir, sizeof dir));
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/models/qwen3 '%s/my-own-model' && cp -r tests/fixtures/models/qwen2 '%s/my-other-model'", dir, dir);
    if (system(cmd) != 0) { mf_rm_rf(dir); SKIP("fixtures not found from here"); }
    /* F3 on the model started with: listed first and marked loaded, beside the bundled ones */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --ids 1,2,3 --full --size 100x30 --keys '{f3}'",
             mf_timeout_prefix(), test_bin(), dir);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "* my-own-model") && strstr(out, "story-gqa"), "F3 does not list the --model: %.2000s", out ? out : "");
    free(out);
    /* after loading a bundled model from F3, F3 still offers the way back */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --ids 1,2,3 --full --size 100x30 --keys '{f3}{down}{enter}{f3}'",
             mf_timeout_prefix(), test_bin(), dir);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "  my-own-model") && !strstr(out, "* my-own-model"), "F3 lost the --model after another load: %.2000s", out ? out : "");
    free(out);
    /* F6 (compare) lists the --compare model */
    snprintf(cmd, sizeof cmd, "%s%s screenshot --model '%s/my-own-model' --compare '%s/my-other-model' --ids 1,2,3 --full --size 120x30 --keys '{f6}{f6}'",
             mf_timeout_prefix(), test_bin(), dir, dir);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(out && strstr(out, "my-other-model") && strstr(out, "my-own-model"), "F6 does not list the user's models: %.2000s", out ? out : "");
    free(out);
    mf_rm_rf(dir);
}
