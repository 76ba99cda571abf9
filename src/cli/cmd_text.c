/* Text subcommands: run (generate text from a prompt) and eval (loss, perplexity and bits
 * per byte of a text file), both through the model's tokenizer. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/derived.h"
#include "cli/cli.h"
#include "cli/cli_chat.h"
#include "engine/engine.h"
#include "engine/kvround.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"
#include "session/session.h"

/* The file given with --tokenizer, whatever its name: a directory is searched as a model's;
 * a file is read by its first bytes (GGUF magic, a JSON object, else a llama2.c tokenizer.bin),
 * never by looking for other files beside it. */
Tokenizer *cli_tokenizer_file(const char *path, int vocab_size, Err *e) {
    if (dir_exists(path)) return tokenizer_load_for_model(path, vocab_size, e);
    size_t hl = 0;
    char *head = file_read_head(path, 64, &hl, e);
    if (!head) return NULL;
    size_t i = hl >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3) ? 3 : 0;   /* a UTF-8 BOM */
    while (i < hl && (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r')) i++;
    bool gguf = hl >= 4 && !memcmp(head, "GGUF", 4), json = i < hl && head[i] == '{';
    free(head);
    if (gguf) return tokenizer_load_gguf(path, e);
    if (json) return tokenizer_load_json(path, e);
    Err le = {0};
    Tokenizer *t = tokenizer_load_llama2c(path, vocab_size, &le);
    if (!t) err_set(e, ERR_FORMAT, "--tokenizer %s: not a tokenizer.json (no JSON object), not a GGUF file, and not a "
                    "llama2.c tokenizer.bin (%s)", path, le.msg);
    return t;
}

/* Writes s with each maximal invalid UTF-8 subsequence as U+FFFD: the text the tokenizer
 * encodes (it replaces them the same way), never raw bytes a terminal would garble. */
static void put_lossy(const char *str, FILE *f) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = strlen(str);
    while (i < n) {
        unsigned b = s[i];
        int need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (b < 0x80) need = 0;
        else if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b >= 0xE0 && b <= 0xEF) { need = 2; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
        else if (b >= 0xF0 && b <= 0xF4) { need = 3; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
        else need = -1;
        size_t k = 0;
        if (need > 0)
            while ((int)k < need && i + 1 + k < n && s[i + 1 + k] >= (k ? 0x80u : lo) && s[i + 1 + k] <= (k ? 0xBFu : hi)) k++;
        if (need >= 0 && (int)k == need) fwrite(s + i, 1, k + 1, f);
        else fputs("\xEF\xBF\xBD", f);
        i += k + 1;
    }
}

Tokenizer *cli_load_tokenizer(int argc, char **argv, const Model *m, Err *e) {
    const char *tf = cli_opt(argc, argv, "--tokenizer");
    return tf ? cli_tokenizer_file(tf, m->spec.vocab_size, e) : tokenizer_load_for_model(m->path, m->spec.vocab_size, e);
}
#define RUN_MAX_NEW 64   /* -n/--max-new's default */
static const CliOpt k_run_opts[] = {
    {"--prompt", NULL, CLI_STR, "TEXT", "the text to continue (default: empty, starting from the BOS token; empty with --no-bos is an error)", 0, 0},
    CLI_OPT_PROMPT_FILE,
    {"--max-new", "-n", CLI_INT, "N", "new tokens at most (default 64)", 0, 2147483647.0},
    {"--ctx", NULL, CLI_INT, "N", "KV-cache length in tokens (default: the model's context, at most 2048; at least 512 with RoPE)", 0, 2147483647.0},
    {"--no-bos", NULL, CLI_FLAG, NULL, "add no special tokens to the prompt (by default they are added as the tokenizer's "
     "config says: <|begin_of_text|> or <s> for Llama, nothing for Qwen3 and GPT-2)", 0, 0},
    {"--chat", NULL, CLI_FLAG, NULL, "apply the model's chat template: the prompt becomes one user message, rendered with "
     "add_generation_prompt and tokenized without adding special tokens again (the ids transformers' "
     "apply_chat_template(tokenize=True) gives); the rendered prompt is printed before the reply", 0, 0},
    {"--template", NULL, CLI_STR, "FILE", "with --chat: a Jinja chat template instead of the model's", 0, 0},
    {"--set", NULL, CLI_STRS, "NAME=JSON", "with --chat: a template variable, e.g. --set enable_thinking=false (repeatable)", 0, 0},
    {"--bos-token", NULL, CLI_STR, "S", "with --chat: bos_token for the template (default: tokenizer_config.json's)", 0, 0},
    {"--eos-token", NULL, CLI_STR, "S", "with --chat: eos_token for the template (default: tokenizer_config.json's)", 0, 0},
    {"--ignore-eos", NULL, CLI_FLAG, NULL, "go on past an end-of-sequence token (by default any eos_token_id of config.json "
     "or generation_config.json stops)", 0, 0},
    {0}};
static const CliOpt *const k_run_groups[] = {k_run_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_run_cmd = {
    "run", "run [--model M] --prompt TEXT|--prompt-file FILE [-n N] [--greedy | --temp T --top-k K --top-p P --seed S]",
    "Generates a continuation of TEXT and prints it as text. The model's own sampling defaults come\n"
    "first: its generation_config.json (do_sample, temperature, top_k, top_p) or a GGUF file's\n"
    "general.sampling.temp/top_k/top_p (any of them means sampling); what they leave out, or a model\n"
    "with neither (llama2.c too), takes transformers' GenerationConfig defaults: do_sample false\n"
    "(greedy), temperature 1, top_k 50, top_p 1. Each sampling option replaces only its own field, as\n"
    "transformers' generate(temperature=0.7) keeps the file's top_k and top_p, and --temp, --top-k or\n"
    "--top-p samples even where the model's do_sample is false; when some settings come from options\n"
    "and some from the model, a line on stderr says which came from where. A field of the wrong type\n"
    "or value is an error naming the file and field (exit 1) when the decode uses it.",
    k_run_groups, 0, NULL, true};

static const CliRule k_run_rules[] = {
    {"--template", CLI_NEEDS, "--chat", NULL},
    {"--set", CLI_NEEDS, "--chat", NULL},
    {"--bos-token", CLI_NEEDS, "--chat", NULL},
    {"--eos-token", CLI_NEEDS, "--chat", NULL},
    {"--no-bos", CLI_NOT_WITH, "--chat", "the rendered template is tokenized without adding special tokens (the template writes its own)"},
    {"--prompt-file", CLI_NOT_WITH, "--prompt", "give the prompt once"},
    {0}};

static int run_prompt(int argc, char **argv, const char *prompt) {
    Err e = {0};
    if (!*prompt && cli_flag(argc, argv, "--no-bos") && !cli_flag(argc, argv, "--chat"))
        return cli_empty_no_bos("run", cli_opt(argc, argv, "--prompt") ? "--prompt is empty"
                                       : cli_opt(argc, argv, "--prompt-file") ? "--prompt-file is empty" : "no --prompt is given");
    int max_new = cli_opt_int(argc, argv, "--max-new", RUN_MAX_NEW);   /* or -n */
    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) return cli_fail(&e);
    Tokenizer *tok = cli_load_tokenizer(argc, argv, m, &e);
    if (!tok) { model_free(m); return cli_fail(&e); }
    int *ids = NULL;
    char *chat_text = NULL;   /* --chat: the rendered prompt */
    int n = cli_flag(argc, argv, "--chat") ? cli_chat_encode(argc, argv, cli_opt(argc, argv, "--tokenizer") ? cli_opt(argc, argv, "--tokenizer") : m->path, tok, prompt, &ids, &chat_text, &e)
                                           : session_encode(tok, m, prompt, !cli_flag(argc, argv, "--no-bos"), &ids, &e);
    if (n > 0 && chat_text) {
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= m->spec.vocab_size) {
                err_set(&e, ERR_ARG, "--chat: the rendered prompt has token id %d, outside the model's vocabulary of %d "
                        "(is the tokenizer the model's?)", ids[i], m->spec.vocab_size);
                n = -1;
                break;
            }
    }
    if (n <= 0) {
        if (n == 0) err_set(&e, ERR_ARG, cli_flag(argc, argv, "--no-bos") ? "--prompt gives no token and --no-bos adds none: nothing to condition on"
                                                                         : "the prompt is empty and the model has no BOS token to start from");
        tokenizer_free(tok); model_free(m); free(ids); free(chat_text);
        return cli_fail(&e);
    }
    SamplerCfg scfg;
    if (!cli_sampler_for_model(argc, argv, "run", &m->spec, max_new > 0, &scfg, &e)) {
        tokenizer_free(tok); model_free(m); free(ids); free(chat_text);
        return cli_fail(&e);
    }
    Engine *en = engine_new(m, cli_opt_int(argc, argv, "--ctx", 0), &e);
    Sampler *sm = sampler_new(scfg, m->spec.vocab_size);
    int rc = 0;
    if (!en || !sm) rc = 1;
    float *lg = rc ? NULL : engine_forward(en, ids, n, false, &e);
    if (!lg) rc = 1;
    if (!rc) {
        put_lossy(chat_text ? chat_text : prompt, stdout);
        fflush(stdout);
    }
    /* print the prompt's ids and the generated run decoded together, less the prompt's own text:
     * multi-byte characters come out whole, and the first new token keeps its leading space
     * (sentencepiece drops that space at the start of a text: "Once upon a" + "time") */
    size_t cap = (size_t)n + 64, nall = (size_t)n, printed = 0, plen = 0;
    int *all = rc ? NULL : malloc(sizeof(int) * cap);
    char *ptxt = all ? tokenizer_decode(tok, ids, n, true) : NULL;
    if (all) memcpy(all, ids, sizeof(int) * (size_t)n);
    if (!rc && (!all || !ptxt)) rc = !err_set(&e, ERR_MEMORY, "out of memory");
    if (ptxt) plen = strlen(ptxt);
    bool with_prompt = true;   /* false: the prompt's text is not the start of the whole (decode the run alone) */
    for (int k = 0; !rc && k < max_new; k++) {
        int next = sampler_sample(sm, lg, NULL);
        if (spec_is_eos(&m->spec, next) && !cli_flag(argc, argv, "--ignore-eos")) break;
        if (nall == cap) {
            int *na = cap < (size_t)INT_MAX / 2 ? realloc(all, sizeof(int) * cap * 2) : NULL;
            if (!na) { rc = !err_set(&e, ERR_MEMORY, "out of memory after %d new tokens", k); break; }
            all = na;
            cap *= 2;
        }
        all[nall++] = next;
        char *txt = tokenizer_decode(tok, with_prompt ? all : all + n, with_prompt ? (int)nall : (int)nall - n, true);
        if (txt && k == 0 && (strlen(txt) < plen || memcmp(txt, ptxt, plen))) {
            with_prompt = false;
            free(txt);
            txt = tokenizer_decode(tok, all + n, 1, true);
        }
        size_t skip = with_prompt ? plen : 0;
        if (txt && strlen(txt) >= skip && (!with_prompt || !memcmp(txt, ptxt, plen))) {
            size_t L = strlen(txt) - skip;
            /* hold back a trailing incomplete UTF-8 sequence (shown as U+FFFD) */
            if (L >= 3 && !memcmp(txt + skip + L - 3, "\xEF\xBF\xBD", 3) && k + 1 < max_new) L -= 3;
            if (L > printed) { fwrite(txt + skip + printed, 1, L - printed, stdout); printed = L; fflush(stdout); }
        }
        free(txt);
        if (k + 1 < max_new) { lg = engine_forward(en, &next, 1, false, &e); if (!lg) rc = 1; }
    }
    printf("\n");
    if (rc) fprintf(stderr, "llmscope: %s\n", e.msg);
    free(all); free(ptxt); free(ids); free(chat_text); sampler_free(sm); engine_free(en); tokenizer_free(tok); model_free(m);
    return rc;
}

int cmd_run(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_run_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_run_cmd, k_run_rules);
    if (crc < 0) crc = cli_rules_sampling(argc, argv, &k_run_cmd, RUN_MAX_NEW);
    if (crc >= 0) return crc;
    Err e = {0};
    char *owned = NULL;
    const char *prompt = cli_prompt(argc, argv, &owned, &e);
    if (!prompt && e.msg[0]) return cli_fail(&e);
    int rc = run_prompt(argc, argv, prompt ? prompt : "");
    free(owned);
    return rc;
}

static const CliOpt k_eval_opts[] = {
    {"--text-file", NULL, CLI_STR, "FILE", "the text to score (required)", 0, 0},
    {"--ctx", NULL, CLI_INT, "N", "window length in tokens (default: the model's context, at most 2048; at least 512 with RoPE)", 0, 2147483647.0},
    {"--json", NULL, CLI_FLAG, NULL, "print {\"tokens\", \"loss\", \"ppl\", \"bytes\", \"bits_per_byte\"} (and \"kv_round\" with --kv-round)", 0, 0},
    {"--kv-round", NULL, CLI_STR, "TYPE", "round every key and value entering the KV cache through f16, bf16, q8_0 or q4_0, as a cache of that type would hold them (the cache stays f32 in memory; default f32: no rounding)", 0, 0},
    {0}};
static const CliOpt *const k_eval_groups[] = {k_eval_opts, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_eval_cmd = {
    "eval", "eval [--model M] --text-file FILE [--ctx N] [--kv-round TYPE] [--json]",
    "Loss (nats/token), perplexity and bits per byte of a text: [BOS] + its tokens, in windows of the\n"
    "context length overlapping by one token, so every token after the first is scored once.",
    k_eval_groups, 0, NULL, true};

int cmd_eval(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_eval_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *file = cli_opt(argc, argv, "--text-file");
    if (!file) { fprintf(stderr, "llmscope: eval: --text-file is required (see `llmscope eval --help`)\n"); return 2; }
    const bool kvr = cli_opt(argc, argv, "--kv-round") != NULL;
    DType kv_round;
    if (!cli_kv_round_opt(argc, argv, "eval", "--kv-round", &kv_round)) return 2;
    cli_threads_arg(argc, argv);
    size_t len;
    char *text = file_read_all(file, &len, 256u << 20, &e);
    if (!text) return cli_fail(&e);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) { free(text); return cli_fail(&e); }
    Tokenizer *tok = cli_load_tokenizer(argc, argv, m, &e);
    if (!tok) { free(text); model_free(m); return cli_fail(&e); }
    int *raw = NULL;
    int n = tokenizer_encode(tok, text, len, false, &raw, &e);
    int rc = 0;
    if (n < 0) rc = cli_fail(&e);
    int bos = m->spec.bos_id >= 0 ? m->spec.bos_id : tokenizer_bos_id(tok);
    int *ids = NULL, N = 0;
    if (!rc) {
        ids = malloc(sizeof(int) * (size_t)(n + 1));
        if (bos >= 0) ids[N++] = bos;
        for (int i = 0; i < n; i++) ids[N++] = raw[i];
        if (N < 2) { err_set(&e, ERR_ARG, "%s: too little text to evaluate", file); rc = cli_fail(&e); }
    }
    double loss = 0;
    long scored = 0;
    if (!rc && !derived_eval_loss(m, ids, N, cli_opt_int(argc, argv, "--ctx", 0), kv_round, &loss, &scored, &e)) rc = cli_fail(&e);
    if (!rc) {
        double bpb = loss * (double)scored / (log(2.0) * (double)len);
        if (cli_flag(argc, argv, "--json")) {
            printf("{\"tokens\": %ld, \"loss\": %.6f, \"ppl\": %.4f, \"bytes\": %zu, \"bits_per_byte\": %.4f", scored, loss, exp(loss), len, bpb);
            if (kvr) printf(", \"kv_round\": \"%s\"", kv_round_name(kv_round));
            printf("}\n");
        } else
            printf("%ld tokens, loss %.4f nats/token, perplexity %.3f, %.4f bits/byte%s%s\n", scored, loss, exp(loss), bpb,
                   kv_round != DT_F32 ? ", KV cache rounded through " : "",
                   kv_round != DT_F32 ? kv_round_name(kv_round) : "");
    }
    free(ids); free(raw); free(text); tokenizer_free(tok); model_free(m);
    return rc;
}

