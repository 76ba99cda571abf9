/* llmscope tokenize / detokenize.
 *
 *   llmscope tokenize   (--model DIR|FILE|REPO_ID | --tokenizer FILE) (--text T | --text-file F)
 *                       [--raw] [--json]
 *   llmscope detokenize (--model ... | --tokenizer FILE) --ids 1,2,3 [--skip-special] [--json]
 *
 * --json: {"ids": [...], "tokens": [...], "display": [...]} where tokens are the vocabulary
 * strings as stored (HF Encoding.tokens, e.g. "Ġworld") and display the decoded text of each
 * token alone (" world", partial UTF-8 bytes as <0xNN>); detokenize: {"text": "..."}.
 * --raw: the text's own tokens, no BOS/EOS from the tokenizer's post-processor or config. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/cli_chat.h"
#include "tokenizer/tokenizer.h"

/* From the model module (model/hfcache.c), when linked: resolves HF cache repo ids. */
bool model_resolve_path(const char *arg, char *out, size_t cap, Err *e) __attribute__((weak));

static void usage_tokenize(FILE *f) {
    fprintf(f, "usage: llmscope tokenize [--model DIR|FILE|REPO_ID | --tokenizer FILE] (--text TEXT | --text-file F)\n"
               "                         [--raw] [--json]\n"
               "       llmscope detokenize [--model ... | --tokenizer FILE] --ids 1,2,3 [--skip-special] [--json]\n");
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* vocab_size from a llama2.c checkpoint header (7 int32; the 6th, negative when the classifier
 * is not shared), 0 when path is not one. */
static int llama2c_vocab_from_header(const char *path) {
    if (!ends_with(path, ".bin")) return 0;
    Err e = {0};
    size_t r;
    char *head = file_read_head(path, 7 * sizeof(int32_t), &r, &e);   /* a FIFO named *.bin blocked fopen */
    int32_t h[7];
    if (head && r == sizeof h) memcpy(h, head, sizeof h);
    free(head);
    if (r != sizeof h) return 0;
    for (int i = 0; i < 5; i++)
        if (h[i] <= 0 || h[i] > (1 << 20)) return 0;
    int32_t v = h[5] < 0 ? -h[5] : h[5];
    return (v > 0 && v < (1 << 24)) ? v : 0;
}

static Tokenizer *open_tokenizer(int argc, char **argv, Err *e) {
    const char *tf = cli_opt(argc, argv, "--tokenizer");
    if (tf) return cli_tokenizer_file(tf, cli_opt_int(argc, argv, "--vocab-size", 0), e);
    char dflt[2048], resolved[4096];
    const char *m = cli_model_arg(argc, argv, dflt, sizeof dflt);
    if (model_resolve_path) {
        Err re = {0};
        if (model_resolve_path(m, resolved, sizeof resolved, &re)) m = resolved;
    }
    int vocab = cli_opt_int(argc, argv, "--vocab-size", 0);
    if (!vocab) vocab = llama2c_vocab_from_header(m);
    return tokenizer_load_for_model(m, vocab, e);
}

/* JSON string with escapes; invalid UTF-8 bytes become \ufffd. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i];) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') { fputc('\\', f); fputc(c, f); i++; }
        else if (c == '\n') { fputs("\\n", f); i++; }
        else if (c == '\r') { fputs("\\r", f); i++; }
        else if (c == '\t') { fputs("\\t", f); i++; }
        else if (c < 0x20 || c == 0x7f) { fprintf(f, "\\u%04x", c); i++; }
        else if (c < 0x80) { fputc(c, f); i++; }
        else {
            size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            bool ok = k > 0;
            for (size_t j = 1; ok && j < k; j++) ok = (u[i + j] & 0xC0) == 0x80;
            if (ok && k == 3 && ((c == 0xE0 && u[i + 1] < 0xA0) || (c == 0xED && u[i + 1] > 0x9F))) ok = false;
            if (ok && k == 4 && ((c == 0xF0 && u[i + 1] < 0x90) || (c == 0xF4 && u[i + 1] > 0x8F) || c > 0xF4)) ok = false;
            if (ok) { fwrite(u + i, 1, k, f); i += k; }
            else { fputs("\\ufffd", f); i++; }
        }
    }
    fputc('"', f);
}

/* Readable form of one token's text: control characters escaped. */
static void readable(FILE *f, const char *s) {
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u == '\n') fputs("\\n", f);
        else if (*u == '\t') fputs("\\t", f);
        else if (*u == '\r') fputs("\\r", f);
        else if (*u < 0x20 || *u == 0x7f) fprintf(f, "\\x%02x", *u);
        else fputc(*u, f);
    }
}

static const CliOpt k_tok_model[] = {
    {"--model", NULL, CLI_STR, "DIR|FILE|REPO", "the model whose tokenizer to use (default: $LLMSCOPE_MODEL, else the bundled story-gqa)", 0, 0},
    {"--tokenizer", NULL, CLI_STR, "FILE", "a tokenizer.json or llama2.c tokenizer.bin instead of a model's", 0, 0},
    {"--vocab-size", NULL, CLI_INT, "N", "vocabulary size of a llama2.c tokenizer.bin (default: from the model)", 0, 2147483647.0},
    {"--json", NULL, CLI_FLAG, NULL, "print JSON", 0, 0},
    {0}};
static const CliOpt k_tokenize_opts[] = {
    {"--text", NULL, CLI_STR, "TEXT", "the text to tokenize", 0, 0},
    {"--text-file", NULL, CLI_STR, "FILE", "read the text from FILE", 0, 0},
    {"--raw", NULL, CLI_FLAG, NULL, "the text's own tokens only: no special tokens from the tokenizer's post-processor or config", 0, 0},
    {"--chat", NULL, CLI_FLAG, NULL, "the ids `run --chat` feeds: the text as one user message through the model's chat template "
     "(add_generation_prompt), tokenized without adding special tokens again", 0, 0},
    {"--template", NULL, CLI_STR, "FILE", "with --chat: a Jinja chat template instead of the model's", 0, 0},
    {"--set", NULL, CLI_STRS, "NAME=JSON", "with --chat: a template variable, e.g. --set enable_thinking=false (repeatable)", 0, 0},
    {"--bos-token", NULL, CLI_STR, "S", "with --chat: bos_token for the template", 0, 0},
    {"--eos-token", NULL, CLI_STR, "S", "with --chat: eos_token for the template", 0, 0},
    {0}};
static const CliOpt k_detokenize_opts[] = {
    {"--ids", NULL, CLI_STR, "1,2,3", "the ids to turn into text (required)", 0, 0},
    {"--skip-special", NULL, CLI_FLAG, NULL, "leave out special tokens (<|endoftext|>, <s>, ...)", 0, 0},
    {0}};
static const CliOpt *const k_tokenize_groups[] = {k_tokenize_opts, k_tok_model, NULL};
static const CliOpt *const k_detokenize_groups[] = {k_detokenize_opts, k_tok_model, NULL};
static const CliCmd k_tokenize_cmd = {
    "tokenize", "tokenize [--model M | --tokenizer FILE] (--text TEXT | --text-file FILE) [--raw] [--json]",
    "Ids and tokens of a text. Special tokens are added as the tokenizer's own config says (the same\n"
    "ids `run`, `trace --prompt` and the terminal UI use): --json gives {\"ids\", \"tokens\", \"display\"},\n"
    "tokens as stored in the vocabulary (\"\u0120world\"), display as text (\" world\").",
    k_tokenize_groups, 0, NULL, false};
static const CliCmd k_detokenize_cmd = {
    "detokenize", "detokenize [--model M | --tokenizer FILE] --ids 1,2,3 [--skip-special] [--json]",
    "The text of a list of ids (--json: {\"text\": ...}).", k_detokenize_groups, 0, NULL, false};

static const CliRule k_tokenize_rules[] = {
    {"--template", CLI_NEEDS, "--chat", NULL},
    {"--set", CLI_NEEDS, "--chat", NULL},
    {"--bos-token", CLI_NEEDS, "--chat", NULL},
    {"--eos-token", CLI_NEEDS, "--chat", NULL},
    {"--raw", CLI_NOT_WITH, "--chat", "--chat adds no special tokens either (the template writes its own)"},
    {0}};

int cmd_tokenize(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_tokenize_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_tokenize_cmd, k_tokenize_rules);
    if (crc >= 0) return crc;
    const char *text = cli_opt(argc, argv, "--text");
    const char *tfile = cli_opt(argc, argv, "--text-file");
    if (!text == !tfile) {
        fprintf(stderr, "llmscope: tokenize needs exactly one of --text or --text-file\n");
        usage_tokenize(stderr);
        return 2;
    }
    Err e = {0};
    char *owned = NULL;
    size_t len;
    if (tfile) {
        owned = file_read_all(tfile, &len, (size_t)1 << 30, &e);
        if (!owned) return cli_fail(&e);
        text = owned;
    } else len = strlen(text);
    Tokenizer *t = open_tokenizer(argc, argv, &e);
    if (!t) { free(owned); return cli_fail(&e); }
    int *ids = NULL;
    int n;
    if (cli_flag(argc, argv, "--chat")) {
        const char *mp = cli_opt(argc, argv, "--model"), *tp = cli_opt(argc, argv, "--tokenizer");
        char dflt[4096];
        n = cli_chat_encode(argc, argv, mp ? mp : tp ? tp : cli_default_model(dflt, sizeof dflt), t, text, &ids, NULL, &e);
    } else n = tokenizer_encode(t, text, len, !cli_flag(argc, argv, "--raw"), &ids, &e);
    free(owned);
    if (n < 0) { tokenizer_free(t); return cli_fail(&e); }
    char disp[1024];
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"ids\": [");
        for (int i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        printf("], \"tokens\": [");
        for (int i = 0; i < n; i++) {
            if (i) printf(", ");
            const char *raw = tokenizer_token_raw(t, ids[i]);
            json_str(stdout, raw ? raw : "");
        }
        printf("], \"display\": [");
        for (int i = 0; i < n; i++) {
            if (i) printf(", ");
            json_str(stdout, tokenizer_token_display(t, ids[i], disp, sizeof disp));
        }
        printf("]}\n");
    } else {
        for (int i = 0; i < n; i++) {
            printf(i ? " %d:\"" : "%d:\"", ids[i]);
            readable(stdout, tokenizer_token_display(t, ids[i], disp, sizeof disp));
            putchar('"');
        }
        printf("\n(%d tokens, %zu bytes, %s)\n", n, len, tokenizer_kind(t));
    }
    free(ids);
    tokenizer_free(t);
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_detokenize_cmd);
    if (crc >= 0) return crc;
    const char *s = cli_opt(argc, argv, "--ids");
    if (!s) {
        fprintf(stderr, "llmscope: detokenize needs --ids 1,2,3\n");
        usage_tokenize(stderr);
        return 2;
    }
    Err e = {0};
    int *ids = NULL, n = 0;
    if (!cli_parse_ids(s, &ids, &n, &e)) return cli_fail(&e);
    Tokenizer *t = open_tokenizer(argc, argv, &e);
    if (!t) { free(ids); return cli_fail(&e); }
    int vs = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        if (ids[i] >= vs) {
            fprintf(stderr, "llmscope: --ids: id %d is outside the vocabulary (0..%d)\n", ids[i], vs - 1);
            free(ids);
            tokenizer_free(t);
            return 1;
        }
    char *text = tokenizer_detokenize(t, ids, n, cli_flag(argc, argv, "--skip-special"));
    free(ids);
    tokenizer_free(t);
    if (!text) { fprintf(stderr, "llmscope: out of memory\n"); return 1; }
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"text\": ");
        json_str(stdout, text);
        printf("}\n");
    } else printf("%s\n", text);
    free(text);
    return 0;
}
