/* chat-template: renders a model's chat template over a messages file, as transformers'
 * apply_chat_template(..., tokenize=False) does; and the --chat path of `run` (a prompt
 * becomes one user message, rendered with add_generation_prompt and tokenized without adding
 * special tokens again, as apply_chat_template(tokenize=True) does). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/cli_chat.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

/* --set NAME=JSON (repeatable) into vars; the texts point into argv. Other options' values are
 * skipped (a --prompt or --text that reads "--set" is text). */
static int collect_sets(int argc, char **argv, JinjaVar *vars, char **names, int cap, Err *e) {
    static const char *const set_opt[] = {"--set", NULL};
    int n = 0;
    const char *v;
    for (int i = 0; (v = cli_opt_next(argc, argv, set_opt, &i, NULL));) {
        const char *eq = strchr(v, '=');
        if (!eq || eq == v) { err_set(e, ERR_ARG, "--set '%s': expected NAME=JSON, e.g. --set enable_thinking=false", v); return -1; }
        if (n == cap) { err_set(e, ERR_ARG, "--set: at most %d variables", cap); return -1; }
        names[n] = strndup(v, (size_t)(eq - v));
        vars[n].name = names[n];
        vars[n].text = eq + 1;
        vars[n].is_json = true;
        n++;
    }
    return n;
}

static void free_names(char **names, int n) { for (int i = 0; i < n; i++) free(names[i]); }

/* --now EPOCH (chat-template), else $LLMSCOPE_NOW: what strftime_now() shows. Python's datetime,
 * which transformers' strftime_now() formats, holds the years 1 to 9999: a time outside them is
 * refused, naming where it came from (the variable was named --now). */
bool cli_chat_now(int argc, char **argv, JinjaOptions *opt, Err *e) {
    const char *s = cli_opt(argc, argv, "--now");
    const char *from = "--now";
    if (!s) { s = getenv("LLMSCOPE_NOW"); from = "LLMSCOPE_NOW"; }
    if (!s || !*s) return true;
    char *end;
    errno = 0;
    long long t = strtoll(s, &end, 10);
    if (errno || *end || end == s || t < -62135596800LL || t > 253402300799LL)
        return err_set(e, ERR_ARG, "%s '%s': expected seconds since 1970-01-01 UTC, from -62135596800 to 253402300799 "
                       "(the years 1 to 9999, as Python's datetime)", from, s);
    opt->now_set = true;
    opt->now = t;
    return true;
}

static const CliOpt k_chat_opts[] = {
    {"--model", NULL, CLI_STR, "DIR", "a model directory: its chat_template.jinja or tokenizer_config.json's chat_template, bos_token, eos_token", 0, 0},
    {"--template", NULL, CLI_STR, "FILE", "a Jinja chat template file (instead of, or overriding, the model's)", 0, 0},
    {"--messages", NULL, CLI_STR, "FILE.json", "the messages: a JSON list, or an object {\"messages\": [...], \"tools\": [...], ...} (required)", 0, 0},
    {"--add-generation-prompt", NULL, CLI_FLAG, NULL, "end with the header of an assistant turn (add_generation_prompt=true)", 0, 0},
    {"--set", NULL, CLI_STRS, "NAME=JSON", "a template variable, e.g. --set enable_thinking=false (repeatable)", 0, 0},
    {"--bos-token", NULL, CLI_STR, "S", "bos_token (default: the model's; none with --template alone)", 0, 0},
    {"--eos-token", NULL, CLI_STR, "S", "eos_token (default: the model's; none with --template alone)", 0, 0},
    {"--now", NULL, CLI_STR, "EPOCH", "seconds since 1970 (UTC) that strftime_now() shows (default $LLMSCOPE_NOW, else the local time)", 0, 0},
    {0}};
static const CliOpt *const k_chat_groups[] = {k_chat_opts, NULL};
static const CliCmd k_chat_cmd = {
    "chat-template",
    "chat-template (--model DIR | --template FILE) --messages FILE.json [--add-generation-prompt] [--set NAME=JSON]... "
    "[--bos-token S] [--eos-token S]",
    "Renders a chat template over a list of messages as Hugging Face transformers'\n"
    "apply_chat_template(..., tokenize=False) does, and prints the text and nothing else.\n"
    "A template that raises or does not parse is an error with its line and column (exit 1).",
    k_chat_groups, 0, NULL, false};

int cmd_chat_template(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_chat_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *model = cli_opt(argc, argv, "--model"), *tfile = cli_opt(argc, argv, "--template");
    const char *mfile = cli_opt(argc, argv, "--messages");
    if ((!model && !tfile) || !mfile) {
        fprintf(stderr, "usage: llmscope chat-template (--model DIR | --template FILE) --messages FILE.json\n"
                        "         [--add-generation-prompt] [--set NAME=JSON]... [--bos-token S] [--eos-token S] [--now EPOCH]\n"
                        "FILE.json: a list of {\"role\", \"content\"} messages, or {\"messages\": [...], \"tools\": [...], ...}\n");
        return 2;
    }
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    if (model && !chat_template_load_for_model(model, &tmpl, &bos, &eos, &e)) {
        if (!tfile) { free(bos); free(eos); return cli_fail(&e); }
        err_clear(&e);   /* the model's bos/eos with the template given (a base model has none of its own) */
    }
    if (tfile) {
        free(tmpl);
        size_t len;
        tmpl = file_read_all(tfile, &len, 16u << 20, &e);
        if (!tmpl) { free(bos); free(eos); return cli_fail(&e); }
    }
    const char *b = cli_opt(argc, argv, "--bos-token"), *s = cli_opt(argc, argv, "--eos-token");
    size_t mlen;
    char *msgs = file_read_all(mfile, &mlen, 64u << 20, &e);
    int rc = 0;
    JinjaVar vars[64];
    char *names[64];
    int nv = 0;
    ChatRequest rq = {0};
    if (!msgs) rc = cli_fail(&e);
    if (!rc && (nv = collect_sets(argc, argv, vars, names, 64, &e)) < 0) { nv = 0; cli_fail(&e); rc = 2; }
    if (!rc && !cli_chat_now(argc, argv, &rq.opt, &e)) { cli_fail(&e); rc = 2; }
    if (!rc) {
        rq.messages_json = msgs;
        rq.add_generation_prompt = cli_flag(argc, argv, "--add-generation-prompt");
        rq.bos_token = b ? b : bos;
        rq.eos_token = s ? s : eos;
        rq.extra = vars;
        rq.nextra = nv;
        char *out = NULL;
        size_t olen = 0;
        if (!chat_template_apply(tmpl, strlen(tmpl), &rq, &out, &olen, &e)) {
            char ctx[600];
            /* a fault in the messages file is named by that file, one in a --set value by --set (a
             * bad command line), not by the template */
            bool in_messages = !strncmp(e.msg, "chat template: messages: ", 25);
            bool in_set = !strncmp(e.msg, "chat template: variable ", 24);
            snprintf(ctx, sizeof ctx, "%s", in_set ? "--set" : in_messages ? mfile : tfile ? tfile : model);
            err_prefix(&e, "%s", ctx);
            rc = cli_fail(&e);
            if (in_set) rc = 2;
        } else {
            fwrite(out, 1, olen, stdout);
            if (fflush(stdout)) rc = 1;
            free(out);
        }
    }
    free_names(names, nv);
    free(msgs); free(tmpl); free(bos); free(eos);
    return rc;
}

int cli_chat_encode(int argc, char **argv, const char *model_path, const struct Tokenizer *tok, const char *prompt,
                    int **ids, char **text, Err *e) {
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    const char *tfile = cli_opt(argc, argv, "--template");
    *ids = NULL;
    if (text) *text = NULL;
    if (!chat_template_load_for_model(model_path, &tmpl, &bos, &eos, e)) {
        if (!tfile) { free(bos); free(eos); return -1; }
        err_clear(e);
    }
    if (tfile) {
        free(tmpl);
        size_t len;
        tmpl = file_read_all(tfile, &len, 16u << 20, e);
        if (!tmpl) { free(bos); free(eos); return -1; }
    }
    const char *b = cli_opt(argc, argv, "--bos-token"), *s = cli_opt(argc, argv, "--eos-token");
    JinjaVar vars[64];
    char *names[64];
    int nv = collect_sets(argc, argv, vars, names, 64, e);
    JinjaOptions opt = {0};   /* $LLMSCOPE_NOW, as chat-template reads it */
    if (nv >= 0 && !cli_chat_now(argc, argv, &opt, e)) { free_names(names, nv); nv = -1; }
    char *out = NULL;
    size_t olen = 0;
    int n = -1;
    if (nv >= 0 && chat_template_apply_prompt(tmpl, prompt, b ? b : bos, s ? s : eos, vars, nv, &opt, &out, &olen, e)) {
        /* as transformers: the rendered text already holds its special tokens */
        n = tokenizer_encode(tok, out, olen, false, ids, e);
        if (n >= 0 && text) { *text = out; out = NULL; }
    } else if (nv >= 0 && !strncmp(e->msg, "chat template: variable ", 24)) err_prefix(e, "--set");   /* a --set value, not the template */
    else if (nv >= 0) err_prefix(e, "chat template of %s", tfile ? tfile : model_path);
    if (nv > 0) free_names(names, nv);
    free(out); free(tmpl); free(bos); free(eos);
    return n;
}
