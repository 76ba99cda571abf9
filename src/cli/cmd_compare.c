/* llmscope compare: two models on one text, per position: teacher-forced loss of each and
 * KL(A||B) of their next-token distributions (src/analysis/compare.h has the definitions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/compare.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/kvround.h"
#include "tokenizer/tokenizer.h"

static const CliOpt k_compare_opts[] = {
    {"--model", NULL, CLI_STR, "A", "model A (a model directory, as for every command); give --model twice: A, then B", 0, 0},
    {"--model-b", NULL, CLI_STR, "B", "model B (the same as a second --model); it must share A's tokenizer", 0, 0},
    {"--text", NULL, CLI_STR, "TEXT", "the text to score", 0, 0},
    {"--text-file", NULL, CLI_STR, "FILE", "the text to score, from a file", 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, "print {\"tokens\", \"ids\", \"loss_a\", \"loss_b\", \"kl_ab\", \"mean_loss_a\", \"mean_loss_b\", \"mean_kl_ab\"} (and \"kv_round_a\"/\"kv_round_b\" when given)", 0, 0},
    {"--kv-round-a", NULL, CLI_STR, "TYPE", "model A's KV cache rounded through f16, bf16, q8_0 or q4_0 (as `eval --kv-round`)", 0, 0},
    {"--kv-round-b", NULL, CLI_STR, "TYPE", "model B's KV cache rounded through f16, bf16, q8_0 or q4_0: --model M --model M --kv-round-b q4_0 shows, token by token, what a 4-bit cache costs", 0, 0},
    {0}};
static const CliOpt *const k_compare_groups[] = {k_compare_opts, CLI_OPTS_THREADS, NULL};
static const CliCmd k_compare_cmd = {
    "compare", "compare --model A --model B (--text TEXT | --text-file FILE) [--kv-round-a T] [--kv-round-b T] [--json]",
    "Two models on one text, position by position (teacher forcing): each model's loss -ln p(next id)\n"
    "in nats, and KL(A||B) of the two next-token distributions, over the windows `llmscope eval` uses\n"
    "([BOS] + the text's tokens, windows of the context overlapping by one), so each mean loss equals\n"
    "eval's. The models must share a tokenizer.",
    k_compare_groups, 0, NULL, true};

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\r') fputs("\\r", stdout);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void print_doubles(const double *x, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%.6f", i ? ", " : "", x[i]);
    putchar(']');
}

int cmd_compare(int argc, char **argv) {
    /* a second --model is model B: rename it so that the option table sees each once */
    char **av = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!av) { fprintf(stderr, "llmscope: compare: out of memory\n"); return 1; }
    static char model_b[] = "--model-b";
    int nm = 0;
    for (int i = 0; i < argc; i++) {
        av[i] = argv[i];
        if (i > 0 && !strcmp(argv[i], "--model") && nm++ == 1) av[i] = model_b;
    }
    av[argc] = NULL;
    int crc = cli_check(argc, av, &k_compare_cmd);
    if (crc >= 0) { free(av); return crc; }
    const char *paths[2] = {cli_opt(argc, av, "--model"), cli_opt(argc, av, "--model-b")};
    const char *text_arg = cli_opt(argc, av, "--text"), *file = cli_opt(argc, av, "--text-file");
    bool json = cli_flag(argc, av, "--json");
    const bool kvr[2] = {cli_opt(argc, av, "--kv-round-a") != NULL, cli_opt(argc, av, "--kv-round-b") != NULL};
    DType kvt[2];
    if (!cli_kv_round_opt(argc, av, "compare", "--kv-round-a", &kvt[0]) ||
        !cli_kv_round_opt(argc, av, "compare", "--kv-round-b", &kvt[1])) { free(av); return 2; }
    cli_threads_arg(argc, av);
    free(av);
    if (!paths[0] || !paths[1] || (!text_arg) == (!file)) {
        fprintf(stderr, "llmscope: compare: needs two --model and one of --text or --text-file (see `llmscope compare --help`)\n");
        return 2;
    }
    Err e = {0};
    size_t len = 0;
    char *text = NULL;
    if (file) {
        text = file_read_all(file, &len, 256u << 20, &e);
        if (!text) return cli_fail(&e);
    } else {
        len = strlen(text_arg);
        text = malloc(len + 1);
        if (!text) { err_set(&e, ERR_MEMORY, "compare: out of memory"); return cli_fail(&e); }
        memcpy(text, text_arg, len + 1);
    }
    Model *m[2] = {NULL, NULL};
    Tokenizer *tok[2] = {NULL, NULL};
    int *ids[2] = {NULL, NULL}, nid[2] = {0, 0};
    Engine *en[2] = {NULL, NULL};
    CompareResult r = {0};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        m[k] = model_load(paths[k], false, &e);
        if (!m[k]) { err_prefix(&e, "--model %s", paths[k]); rc = cli_fail(&e); break; }
        tok[k] = tokenizer_load_for_model(paths[k], m[k]->spec.vocab_size, &e);
        if (!tok[k]) { err_prefix(&e, "--model %s", paths[k]); rc = cli_fail(&e); break; }
        int *raw = NULL;
        int n = tokenizer_encode(tok[k], text, len, false, &raw, &e);
        if (n < 0) { rc = cli_fail(&e); break; }
        int bos = m[k]->spec.bos_id >= 0 ? m[k]->spec.bos_id : tokenizer_bos_id(tok[k]);
        ids[k] = malloc(sizeof(int) * (size_t)(n + 1));
        if (!ids[k]) { free(raw); err_set(&e, ERR_MEMORY, "compare: out of memory"); rc = cli_fail(&e); break; }
        if (bos >= 0) ids[k][nid[k]++] = bos;
        for (int i = 0; i < n; i++) ids[k][nid[k]++] = raw[i];
        free(raw);
    }
    if (!rc && (m[0]->spec.vocab_size != m[1]->spec.vocab_size || nid[0] != nid[1] ||
                memcmp(ids[0], ids[1], sizeof(int) * (size_t)nid[0]) != 0)) {
        err_set(&e, ERR_ARG, "%s and %s do not share a tokenizer (vocabularies of %d and %d, or different ids for this text); "
                "compare two models trained with the same tokenizer", paths[0], paths[1], m[0]->spec.vocab_size, m[1]->spec.vocab_size);
        rc = cli_fail(&e);
    }
    if (!rc && nid[0] < 2) { err_set(&e, ERR_ARG, "the text is too short to score: it needs at least one token"); rc = cli_fail(&e); }
    for (int k = 0; k < 2 && !rc; k++) {
        en[k] = engine_new(m[k], 0, &e);
        if (!en[k] || !engine_set_kv_round(en[k], kvt[k], &e)) rc = cli_fail(&e);
    }
    if (!rc && !compare_run(en[0], en[1], ids[0], nid[0], &r, &e)) rc = cli_fail(&e);
    if (!rc) {
        if (json) {
            printf("{\"model_a\": ");
            print_json_string(paths[0]);
            printf(", \"model_b\": ");
            print_json_string(paths[1]);
            for (int k = 0; k < 2; k++)
                if (kvr[k]) printf(", \"kv_round_%c\": \"%s\"", "ab"[k], kv_round_name(kvt[k]));
            printf(", \"tokens\": [");
            for (int t = 1; t < nid[0]; t++) {
                char *piece = tokenizer_decode(tok[0], ids[0] + t, 1, false);
                if (t > 1) printf(", ");
                print_json_string(piece ? piece : "");
                free(piece);
            }
            printf("], \"ids\": [");
            for (int t = 1; t < nid[0]; t++) printf("%s%d", t > 1 ? ", " : "", ids[0][t]);
            printf("],\n \"loss_a\": ");
            print_doubles(r.loss_a, r.n);
            printf(",\n \"loss_b\": ");
            print_doubles(r.loss_b, r.n);
            printf(",\n \"kl_ab\": ");
            print_doubles(r.kl_ab, r.n);
            printf(",\n \"mean_loss_a\": %.6f, \"mean_loss_b\": %.6f, \"mean_kl_ab\": %.6f}\n", r.mean_loss_a, r.mean_loss_b, r.mean_kl_ab);
        } else {
            printf("%d positions: mean loss A %.4f, B %.4f nats/token (B - A %+.4f); mean KL(A||B) %.4f nats",
                   r.n, r.mean_loss_a, r.mean_loss_b, r.mean_loss_b - r.mean_loss_a, r.mean_kl_ab);
            for (int k = 0; k < 2; k++)
                if (kvt[k] != DT_F32) printf("; %c's KV cache rounded through %s", "AB"[k], kv_round_name(kvt[k]));
            printf("\n");
        }
    }
    compare_result_free(&r);
    for (int k = 0; k < 2; k++) { engine_free(en[k]); free(ids[k]); tokenizer_free(tok[k]); model_free(m[k]); }
    free(text);
    return rc;
}
