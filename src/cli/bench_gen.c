/* llmscope bench --gen SHAPE --out DIR: writes a random-weight Hugging Face checkpoint
 * (config.json, generation_config.json, model.safetensors) shaped exactly like a real model,
 * so speed and memory can be measured at real size without downloading weights.
 *
 * Weights are drawn from a fixed-seed normal with std 0.02 (the initializer_range of these
 * models' configs), norm weights are 1, so activations keep the scale of a freshly
 * initialised model. The same seed gives the same bytes on every machine. With --tokenizer-dir
 * the tokenizer.json and tokenizer_config.json found there are copied beside the weights. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/cli.h"

typedef struct {
    const char *name;      /* --gen value */
    const char *model_type, *arch;
    int vocab, hidden, layers, heads, kv_heads, head_dim, ff, max_pos;
    double rope_theta, eps;
    bool tied, qk_norm;
    int bos, eos[2], n_eos;
    /* Gemma 3 (text): four norms per layer stored as w (applied as 1 + w: written as 0),
     * query_pre_attn_scalar, a window in all but every 6th layer, a second RoPE base */
    bool gemma3;
    int window;
    double local_theta;
} GenShape;

static const GenShape k_shapes[] = {
    /* Qwen/Qwen3-0.6B config.json */
    {"qwen3-0.6b", "qwen3", "Qwen3ForCausalLM", 151936, 1024, 28, 16, 8, 128, 3072, 40960,
     1000000.0, 1e-6, true, true, 151643, {151645, 151643}, 2, false, 0, 0.0},
    /* karpathy stories110M (llama2.c; classifier shared with the embedding) as a HF Llama checkpoint */
    {"stories110m", "llama", "LlamaForCausalLM", 32000, 768, 12, 12, 12, 64, 2048, 1024,
     10000.0, 1e-5, true, false, 1, {2, 0}, 1, false, 0, 0.0},
    /* google/gemma-3-270m and gemma-3-1b-pt config.json */
    {"gemma3-270m", "gemma3_text", "Gemma3ForCausalLM", 262144, 640, 18, 4, 1, 256, 2048, 32768,
     1000000.0, 1e-6, true, true, 2, {1, 106}, 2, true, 512, 10000.0},
    {"gemma3-1b", "gemma3_text", "Gemma3ForCausalLM", 262144, 1152, 26, 4, 1, 256, 6912, 32768,
     1000000.0, 1e-6, true, true, 2, {1, 106}, 2, true, 512, 10000.0},
};

typedef struct { char name[96]; int rows, cols; bool norm; } GenTensor;

static uint64_t g_state;
static uint64_t gen_next(void) {   /* splitmix64 */
    uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Approximately normal (sum of four 16-bit uniforms, Irwin-Hall), mean 0, std 1. */
static float gen_normal(void) {
    uint64_t r = gen_next();
    double s = (double)(r & 0xffff) + (double)((r >> 16) & 0xffff) + (double)((r >> 32) & 0xffff) + (double)(r >> 48);
    s = s / 65536.0 - 2.0;                 /* mean 0, variance 4/12 */
    return (float)(s * 1.7320508075688772);
}

static int gen_tensors(const GenShape *s, GenTensor *t, int cap) {
    int n = 0;
#define ADD(R, C, NORM, ...) do { if (n < cap) { snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__); \
    t[n].rows = (R); t[n].cols = (C); t[n].norm = (NORM); } n++; } while (0)
    ADD(s->vocab, s->hidden, false, "model.embed_tokens.weight");
    for (int l = 0; l < s->layers; l++) {
        ADD(1, s->hidden, true, "model.layers.%d.input_layernorm.weight", l);
        ADD(s->heads * s->head_dim, s->hidden, false, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(s->kv_heads * s->head_dim, s->hidden, false, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(s->kv_heads * s->head_dim, s->hidden, false, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(s->hidden, s->heads * s->head_dim, false, "model.layers.%d.self_attn.o_proj.weight", l);
        if (s->qk_norm) {
            ADD(1, s->head_dim, true, "model.layers.%d.self_attn.q_norm.weight", l);
            ADD(1, s->head_dim, true, "model.layers.%d.self_attn.k_norm.weight", l);
        }
        ADD(1, s->hidden, true, "model.layers.%d.post_attention_layernorm.weight", l);
        if (s->gemma3) {
            ADD(1, s->hidden, true, "model.layers.%d.pre_feedforward_layernorm.weight", l);
            ADD(1, s->hidden, true, "model.layers.%d.post_feedforward_layernorm.weight", l);
        }
        ADD(s->ff, s->hidden, false, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(s->ff, s->hidden, false, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(s->hidden, s->ff, false, "model.layers.%d.mlp.down_proj.weight", l);
    }
    ADD(1, s->hidden, true, "model.norm.weight");
    if (!s->tied) ADD(s->vocab, s->hidden, false, "lm_head.weight");
#undef ADD
    return n;
}

static bool write_text(const char *dir, const char *name, const char *text, Err *e) {
    char p[1200];
    path_join(p, sizeof p, dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        err_set(e, ERR_IO, "cannot write %s: %s (check that the --out folder is writable)", p, strerror(errno));
        return false;
    }
    return true;
}

static bool copy_file(const char *from_dir, const char *to_dir, const char *name, Err *e) {
    char a[1200], b[1200];
    path_join(a, sizeof a, from_dir, name);
    path_join(b, sizeof b, to_dir, name);
    FILE *in = fopen(a, "rb");
    if (!in) { err_set(e, ERR_IO, "cannot read %s: %s (give --tokenizer-dir a folder holding it)", a, strerror(errno)); return false; }
    FILE *out = fopen(b, "wb");
    if (!out) { fclose(in); err_set(e, ERR_IO, "cannot write %s: %s", b, strerror(errno)); return false; }
    char buf[1 << 16];
    size_t k;
    bool ok = true;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) { ok = false; break; }
    fclose(in);
    if (fclose(out) != 0) ok = false;
    if (!ok) err_set(e, ERR_IO, "cannot write %s: %s", b, strerror(errno));
    return ok;
}

static bool gen_write(const GenShape *s, bool bf16, const char *dir, uint64_t seed, Err *e) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        err_set(e, ERR_IO, "cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    char cfg[2048], eos[64];
    if (s->n_eos == 2) snprintf(eos, sizeof eos, "[%d, %d]", s->eos[0], s->eos[1]);
    else snprintf(eos, sizeof eos, "%d", s->eos[0]);
    snprintf(cfg, sizeof cfg,
             "{\n  \"architectures\": [\"%s\"],\n  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n"
             "  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n  \"head_dim\": %d,\n  \"hidden_act\": \"silu\",\n"
             "  \"hidden_size\": %d,\n  \"initializer_range\": 0.02,\n  \"intermediate_size\": %d,\n"
             "  \"max_position_embeddings\": %d,\n  \"model_type\": \"%s\",\n  \"num_attention_heads\": %d,\n"
             "  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n  \"rms_norm_eps\": %g,\n"
             "  \"rope_scaling\": null,\n  \"rope_theta\": %.1f,\n  \"tie_word_embeddings\": %s,\n"
             "  \"torch_dtype\": \"%s\",\n  \"use_cache\": true,\n  \"vocab_size\": %d\n}\n",
             s->arch, s->bos, s->eos[0], s->head_dim, s->hidden, s->ff, s->max_pos, s->model_type, s->heads,
             s->layers, s->kv_heads, s->eps, s->rope_theta, s->tied ? "true" : "false",
             bf16 ? "bfloat16" : "float32", s->vocab);
    if (s->gemma3)   /* the released checkpoints' keys (Gemma-3-1B, March 2025) */
        snprintf(cfg, sizeof cfg,
                 "{\n  \"architectures\": [\"%s\"],\n  \"attention_bias\": false,\n  \"attn_logit_softcapping\": null,\n"
                 "  \"bos_token_id\": %d,\n  \"eos_token_id\": %s,\n  \"final_logit_softcapping\": null,\n  \"head_dim\": %d,\n"
                 "  \"hidden_activation\": \"gelu_pytorch_tanh\",\n  \"hidden_size\": %d,\n  \"initializer_range\": 0.02,\n"
                 "  \"intermediate_size\": %d,\n  \"max_position_embeddings\": %d,\n  \"model_type\": \"%s\",\n"
                 "  \"num_attention_heads\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n  \"pad_token_id\": 0,\n"
                 "  \"query_pre_attn_scalar\": %d,\n  \"rms_norm_eps\": %g,\n  \"rope_local_base_freq\": %.1f,\n  \"rope_scaling\": null,\n"
                 "  \"rope_theta\": %.1f,\n  \"sliding_window\": %d,\n  \"sliding_window_pattern\": 6,\n  \"tie_word_embeddings\": true,\n"
                 "  \"torch_dtype\": \"%s\",\n  \"use_cache\": true,\n  \"vocab_size\": %d\n}\n",
                 s->arch, s->bos, eos, s->head_dim, s->hidden, s->ff, s->max_pos, s->model_type, s->heads, s->layers,
                 s->kv_heads, s->head_dim, s->eps, s->local_theta, s->rope_theta, s->window, bf16 ? "bfloat16" : "float32", s->vocab);
    if (!write_text(dir, "config.json", cfg, e)) return false;
    char gcfg[512];   /* Qwen3-0.6B's generation_config.json; a bare one for the others */
    if (s->qk_norm && !s->gemma3)
        snprintf(gcfg, sizeof gcfg, "{\n  \"bos_token_id\": %d,\n  \"do_sample\": true,\n  \"eos_token_id\": %s,\n"
                 "  \"pad_token_id\": %d,\n  \"temperature\": 0.6,\n  \"top_k\": 20,\n  \"top_p\": 0.95\n}\n", s->bos, eos, s->bos);
    else
        snprintf(gcfg, sizeof gcfg, "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %s\n}\n", s->bos, eos);
    if (!write_text(dir, "generation_config.json", gcfg, e)) return false;

    int nt = gen_tensors(s, NULL, 0);
    GenTensor *t = calloc((size_t)nt, sizeof *t);
    if (!t) { err_set(e, ERR_MEMORY, "out of memory"); return false; }
    gen_tensors(s, t, nt);
    size_t esz = bf16 ? 2 : 4, hcap = (size_t)nt * 200 + 64, hl = 0;
    char *hdr = malloc(hcap);
    if (!hdr) { free(t); err_set(e, ERR_MEMORY, "out of memory"); return false; }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        size_t nb = (size_t)t[i].rows * (size_t)t[i].cols * esz;
        if (t[i].rows == 1)
            hl += (size_t)snprintf(hdr + hl, hcap - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                                   t[i].name, bf16 ? "BF16" : "F32", t[i].cols, off, off + nb);
        else
            hl += (size_t)snprintf(hdr + hl, hcap - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                                   t[i].name, bf16 ? "BF16" : "F32", t[i].rows, t[i].cols, off, off + nb);
        off += nb;
    }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';   /* data section 8-byte aligned */
    char p[1200];
    path_join(p, sizeof p, dir, "model.safetensors");
    FILE *f = fopen(p, "wb");
    bool ok = f != NULL;
    if (ok) {
        uint8_t len[8];
        for (int k = 0; k < 8; k++) len[k] = (uint8_t)((uint64_t)hl >> (8 * k));
        ok = fwrite(len, 1, 8, f) == 8 && fwrite(hdr, 1, hl, f) == hl;
    }
    const size_t chunk = (size_t)1 << 20;
    float *buf = malloc(chunk * sizeof(float));
    uint16_t *hb = malloc(chunk * sizeof(uint16_t));
    g_state = seed;
    for (int i = 0; ok && i < nt; i++) {
        size_t n = (size_t)t[i].rows * (size_t)t[i].cols;
        for (size_t at = 0; ok && at < n; at += chunk) {
            size_t k = n - at < chunk ? n - at : chunk;
            for (size_t j = 0; j < k; j++) buf[j] = t[i].norm ? (s->gemma3 ? 0.0f : 1.0f) : 0.02f * gen_normal();
            if (bf16) {
                for (size_t j = 0; j < k; j++) {   /* round to nearest even */
                    uint32_t u;
                    memcpy(&u, &buf[j], 4);
                    hb[j] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
                }
                ok = fwrite(hb, 2, k, f) == k;
            } else {
                ok = fwrite(buf, 4, k, f) == k;
            }
        }
    }
    if (f && fclose(f) != 0) ok = false;
    if (!ok) err_set(e, ERR_IO, "cannot write %s: %s (is the disk full?)", p, strerror(errno));
    free(buf); free(hb); free(hdr); free(t);
    return ok;
}

int bench_gen_main(int argc, char **argv) {
    const char *like = cli_opt(argc, argv, "--gen");
    const char *out = cli_opt(argc, argv, "--out");
    const char *dt = cli_opt(argc, argv, "--dtype");
    const char *tokdir = cli_opt(argc, argv, "--tokenizer-dir");
    Err e = {0};
    const GenShape *s = NULL;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (like && !strcmp(like, k_shapes[i].name)) s = &k_shapes[i];
    if (!s || !out) {
        fprintf(stderr, "usage: llmscope bench --gen qwen3-0.6b|stories110m|gemma3-270m|gemma3-1b --out DIR [--dtype bf16|f32] "
                        "[--tokenizer-dir DIR] [--seed N]\n");
        return 2;
    }
    if (!dt) dt = "bf16";
    if (strcmp(dt, "bf16") && strcmp(dt, "f32")) {
        fprintf(stderr, "llmscope: --dtype must be bf16 or f32, not '%s'\n", dt);
        return 2;
    }
    uint64_t seed = (uint64_t)cli_opt_int(argc, argv, "--seed", 13) * 0x2545F4914F6CDD1Dull + 1;
    if (!gen_write(s, !strcmp(dt, "bf16"), out, seed, &e)) return cli_fail(&e);
    if (tokdir && (!copy_file(tokdir, out, "tokenizer.json", &e) || !copy_file(tokdir, out, "tokenizer_config.json", &e)))
        return cli_fail(&e);
    printf("wrote %s (random %s-shaped %s weights%s)\n", out, s->name, dt, tokdir ? ", tokenizer copied" : "");
    return 0;
}
