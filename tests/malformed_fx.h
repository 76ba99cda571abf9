/* The malformed-input suites' shared pieces (test_malformed.c: model files; test_malformed_cli.c:
 * command lines, chat-model semantics, GGUF containers): a valid tiny checkpoint written into a
 * temp folder (a 1-layer llama, d=8, 2 heads / 1 KV head, vocab 260, random f32 weights, a
 * byte-level tokenizer.json) that a case breaks in one place, and the real CLI run on it. Every
 * failure must be a clean exit (status 1 or 2: no signal, no timeout, no sanitizer report) with
 * a message on stderr that names the file and the field. */
#ifndef LLMSCOPE_MALFORMED_FX_H
#define LLMSCOPE_MALFORMED_FX_H
#include <stdint.h>
#include "harness.h"

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
#define WQ "model.layers.0.self_attn.q_proj.weight"
#define WK "model.layers.0.self_attn.k_proj.weight"
#define WV "model.layers.0.self_attn.v_proj.weight"
#define LN2 "model.layers.0.post_attention_layernorm.weight"
#define EMB "model.embed_tokens.weight"
/* ---- the fixture -------------------------------------------------------------------------------- */
void mf_fixture_init(Fixture *f);                    /* the valid checkpoint, not written yet */
void mf_cfg_set(Fixture *f, const char *key, const char *raw);   /* config.json key = raw JSON */
void mf_cfg_del(Fixture *f, const char *key);
TSpec *mf_add_t(Fixture *f, const char *name, int fill, int ndim, long long a, long long b);
TSpec *mf_find_t(Fixture *f, const char *name);
void mf_del_t(Fixture *f, const char *name);
float mf_rnd_weight(void);
long long mf_numel(const TSpec *t);
/* Writes config.json, model.safetensors (unless skip_st) and tokenizer.json into a new temp
 * directory f->dir. */
int mf_fixture_write(Fixture *f, int skip_st);
void mf_cfg_write(const Fixture *f, const char *dir);

/* ---- files ---------------------------------------------------------------------------------------- */
/* Growable byte buffer. */
typedef struct { uint8_t *p; size_t n, cap; } Buf;
void mf_buf_add(Buf *b, const void *d, size_t n);
void mf_buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The safetensors file of f: u64 header length, header JSON (padded to 8), data. */
Buf mf_st_build(const Fixture *f);
/* Rewrites model.safetensors from a raw byte buffer. */
void mf_st_write_raw(const Fixture *f, const void *b, size_t n);
int mf_write_file(const char *path, const void *data, size_t n);
int mf_write_str(const char *dir, const char *name, const char *s);
int mf_make_tmpdir(char *out, size_t cap);
void mf_rm_rf(const char *dir);                      /* "" (never written): nothing */

/* ---- running the CLI ------------------------------------------------------------------------------ */
/* `timeout` guards against hangs (exit 124). Under `make valgrind` (LLMSCOPE_VALGRIND set) every
 * CLI run is itself checked by memcheck: invalid accesses and definite leaks exit with 99. */
#define VG_STATUS 99
int mf_under_valgrind(void);
const char *mf_timeout_prefix(void);
/* Runs `llmscope ARGS --model MODEL`, stderr captured into *err (stdout discarded). */
int mf_run_cli(const char *args, const char *model, char **err);
int mf_sanitizer_report(const char *s);
int mf_cli_missing(void);
/* One command must fail cleanly with a message naming `file` and `field`. */
void mf_expect_fail_cmd(TestCtx *T_, const char *model, const char *args, const char *file, const char *field);
/* info, logits and generate (mf_k_cmds) must all fail with the same kind of message. They share
 * the loader, so under valgrind (slow) only `logits` runs. */
#define MF_N_CMDS 3
extern const char *const mf_k_cmds[MF_N_CMDS];
void mf_expect_fail(TestCtx *T_, const char *model, const char *file, const char *field);
/* A command must succeed; returns stderr (caller frees). */
char *mf_expect_ok_cmd(TestCtx *T_, const char *model, const char *args);

#define NEED_CLI() do { if (mf_cli_missing()) SKIP("%s not built", test_bin()); } while (0)

/* Builds the fixture after `mutate`, expects all three commands to fail. */
#define CASE(fx) Fixture fx; mf_fixture_init(&fx)
#define WRITE(fx, skip) REQUIRE(mf_fixture_write(&fx, skip))
#endif
