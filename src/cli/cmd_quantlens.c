/* llmscope quant-lens: quantize one layer's weights (Q8_0 / Q4_0 / Q4_K, or as loaded) and show
 * bits per weight, the relative error of each matrix and the KL of the next-token distribution
 * at one position against the model as loaded (analysis/quantlens.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/quantlens.h"
#include "cli/cli.h"
#include "session/session.h"
#include "tokenizer/tokenizer.h"

static const CliOpt k_ql_opts[] = {
    {"--prompt", NULL, CLI_STR, "TEXT", "the text run through the model (special tokens added as the model's tokenizer does)", 0, 0},
    {"--ids", NULL, CLI_STR, "5,17,42", "token ids instead of --prompt", 0, 0},
    {"--layer", NULL, CLI_INT, "L", "the layer whose weight matrices are quantized (0 = the first block)", 0, 2147483647.0},
    {"--type", NULL, CLI_STR, "T", "q8_0, q4_0, q4_k (the default), loaded (each matrix keeps its own type: the identity) or all", 0, 0},
    {"--pos", NULL, CLI_INT, "P", "the position whose next-token distribution is compared (default: the last token)", 0, 2147483647.0},
    {"--no-bos", NULL, CLI_FLAG, NULL, "add no special tokens to --prompt", 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, "print one JSON object per type: {\"layer\", \"pos\", \"type\", \"bpw\", \"rel_err\", \"kl\", \"matrices\", ...}", 0, 0},
    {0}};
static const CliOpt *const k_ql_groups[] = {k_ql_opts, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_ql_cmd = {
    "quant-lens", "quant-lens [--model M] (--prompt TEXT | --ids LIST) --layer L [--type q8_0|q4_0|q4_k|loaded|all] [--pos P] [--json]",
    "Quantizes the weight matrices of ONE layer (llama.cpp's reference quantizers, the bytes llama-quantize writes without an "
    "imatrix) and measures, at ONE position, what that does: bits per weight, the relative error ||W - Q(W)|| / ||W|| of "
    "each matrix, and KL(P || P_q) in nats between the next-token distributions of the model as loaded and of the model "
    "with that layer quantized (a full forward pass each). Norms, biases, embeddings and the router are not quantized.",
    k_ql_groups, 0,
    "  Weights that are already quantized (a GGUF file) are requantized from their dequantized values; the error is then\n"
    "  measured against the weights as loaded. With q4_k, a matrix whose width is not a multiple of 256 becomes Q5_0, as\n"
    "  llama-quantize does; one whose width is not a multiple of 32 is kept as loaded. Both are marked.\n",
    true};

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void print_json(const QuantLens *q, const Model *m, const char *top_l, const char *top_q) {
    printf("{\"model\": ");
    json_str(m->path);
    printf(", \"layer\": %d, \"n_layers\": %d, \"pos\": %d, \"type\": ", q->layer, m->spec.n_layers, q->pos);
    json_str(q->to == QL_AS_LOADED ? "loaded" : dtype_name(q->to));
    printf(", \"weights\": %lld, \"bpw_loaded\": %.6g, \"bpw\": %.6g, \"rel_err\": %.9g, \"kl\": %.9g, \"max_abs_dlogit\": %.9g, "
           "\"top_loaded\": %d, \"top_quantized\": %d, \"p_top_loaded\": %.9g, \"p_top_quantized\": %.9g, \"top_loaded_text\": ",
           q->n_weights, q->bpw_loaded, q->bpw, q->rel_err, q->kl, q->max_dlogit, q->top_loaded, q->top_quant, q->p_top_loaded,
           q->p_top_quant);
    json_str(top_l);
    printf(", \"top_quantized_text\": ");
    json_str(top_q);
    printf(", \"kept\": %d, \"fallback\": %d, \"matrices\": [", q->n_kept, q->n_fallback);
    for (int i = 0; i < q->n_mat; i++) {
        const QlMatrix *x = &q->mat[i];
        printf("%s{\"name\": \"%s\", \"count\": %d, \"weights\": %lld, \"from\": \"%s\", \"to\": \"%s\", \"kept\": %s, \"fallback\": %s, \"rel_err\": %.9g}",
               i ? ", " : "", x->name, x->count, x->n, dtype_name(x->from), dtype_name(x->to), x->kept ? "true" : "false",
               x->fallback ? "true" : "false", x->rel_err);
    }
    printf("], \"ms\": %.1f}\n", q->ms);
}

static void print_text(const QuantLens *q, const Model *m, const char *cur, const char *top_l, const char *top_q) {
    printf("quantization lens: layer %d of %d, target %s; next token after position %d ('%s')\n", q->layer,
           m->spec.n_layers, quantlens_type_name(q->to), q->pos, cur);
    printf("measured: only this layer's matrices are quantized, and only the distribution at this position is compared\n");
    printf("  %-16s %-6s %-6s %12s %10s\n", "matrix", "loaded", "now", "weights", "rel.error");
    for (int i = 0; i < q->n_mat; i++) {
        const QlMatrix *x = &q->mat[i];
        char nm[40];
        if (x->count > 1) snprintf(nm, sizeof nm, "%s x%d", x->name, x->count);
        else snprintf(nm, sizeof nm, "%s", x->name);
        printf("  %-16s %-6s %-6s %12lld %10.4g%s\n", nm, dtype_name(x->from), dtype_name(x->to), x->n, x->rel_err,
               x->kept ? "  (kept: width not a multiple of the block)"
                       : x->fallback ? "  (Q5_0: width not a multiple of 256, as llama-quantize falls back)" : "");
    }
    printf("  layer: %lld weights, %.2f -> %.2f bits per weight, relative error %.4g\n", q->n_weights, q->bpw_loaded, q->bpw, q->rel_err);
    printf("  KL(as loaded || layer %d quantized) = %.4g nats; max |dlogit| %.4g\n", q->layer, q->kl, q->max_dlogit);
    printf("  top token '%s': p %.4g as loaded, %.4g quantized%s%s%s\n", top_l, q->p_top_loaded, q->p_top_quant,
           q->top_quant == q->top_loaded ? " (still the top)" : "; the top is now '", q->top_quant == q->top_loaded ? "" : top_q,
           q->top_quant == q->top_loaded ? "" : "'");
}

static const CliRule k_ql_rules[] = {
    {"--no-bos", CLI_NEEDS, "--prompt", "--ids run as given"},
    {0}};

int cmd_quantlens(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_ql_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_ql_cmd, k_ql_rules);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *prompt = cli_opt(argc, argv, "--prompt"), *ids_s = cli_opt(argc, argv, "--ids");
    const char *type_s = cli_opt(argc, argv, "--type");
    const char *layer_s = cli_opt(argc, argv, "--layer");
    const bool json = cli_flag(argc, argv, "--json");
    if (!type_s) type_s = "q4_k";
    DType types[4];
    int nt = 0;
    if (!strcmp(type_s, "all")) { types[0] = QL_AS_LOADED; types[1] = DT_Q8_0; types[2] = DT_Q4_K; types[3] = DT_Q4_0; nt = 4; }
    else if (quantlens_type_parse(type_s, &types[0])) nt = 1;
    else {
        fprintf(stderr, "llmscope quant-lens: --type '%s': choose q8_0, q4_0, q4_k, loaded or all\n", type_s);
        return 2;
    }
    if (!layer_s) { fprintf(stderr, "llmscope quant-lens: --layer is required (try --help)\n"); return 2; }
    if (!prompt == !ids_s) { fprintf(stderr, "llmscope quant-lens: give --prompt or --ids (one of them)\n"); return 2; }
    if (prompt && !*prompt && cli_flag(argc, argv, "--no-bos")) return cli_empty_no_bos("quant-lens", "--prompt is empty");
    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) return cli_fail(&e);
    Tokenizer *tok = NULL;
    int *ids = NULL, n = 0, rc = 1;
    if (prompt) {
        tok = cli_load_tokenizer(argc, argv, m, &e);
        if (!tok) goto done;
        n = session_encode(tok, m, prompt, !cli_flag(argc, argv, "--no-bos"), &ids, &e);
        if (n < 0) goto done;
    } else if (!cli_parse_ids(ids_s, &ids, &n, &e)) goto done;
    else {
        tok = cli_load_tokenizer(argc, argv, m, &e);   /* only for the token texts; ids work without */
        if (!tok) e = (Err){0};
    }
    if (n < 1) { err_set(&e, ERR_ARG, "--prompt gave no tokens%s", cli_flag(argc, argv, "--no-bos") ? " and --no-bos adds none: nothing to condition on" : ""); goto done; }
    const int pos = cli_opt_int(argc, argv, "--pos", n - 1), layer = cli_opt_int(argc, argv, "--layer", 0);
    if (!cli_check_index("--layer", layer, 0, m->spec.n_layers - 1, "this model has layers", &e) ||
        !cli_check_index("--pos", pos, 0, n - 1, prompt ? "the prompt has positions" : "the ids have positions", &e)) goto done;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->spec.vocab_size) { err_set(&e, ERR_ARG, "--ids: id %d is outside the vocabulary (0..%d)", ids[i], m->spec.vocab_size - 1); goto done; }
    for (int k = 0; k < nt; k++) {
        QuantLens q;
        if (!quantlens_run(m, ids, n, pos, layer, types[k], &q, &e)) goto done;
        char cur[64] = "?", tl[64] = "?", tq[64] = "?";
        if (tok) {
            tokenizer_token_display(tok, ids[pos], cur, sizeof cur);
            tokenizer_token_display(tok, q.top_loaded, tl, sizeof tl);
            tokenizer_token_display(tok, q.top_quant, tq, sizeof tq);
        } else {
            snprintf(cur, sizeof cur, "#%d", ids[pos]);
            snprintf(tl, sizeof tl, "#%d", q.top_loaded);
            snprintf(tq, sizeof tq, "#%d", q.top_quant);
        }
        if (json) print_json(&q, m, tl, tq);
        else { if (k) putchar('\n'); print_text(&q, m, cur, tl, tq); }
    }
    rc = 0;
done:
    if (rc) cli_fail(&e);
    free(ids);
    if (tok) tokenizer_free(tok);
    model_free(m);
    return rc;
}
