/* llmscope trace: run a prompt (prefill + greedy/sampled decode) and export hook values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "session/session.h"
#include "tokenizer/tokenizer.h"
#include "trace/export.h"


static const CliOpt k_trace_opts[] = {
    {"--hooks", NULL, CLI_STR, "P1,P2", "hook points to export, TransformerLens names with * wildcards "
     "(blocks.0.attn.hook_pattern, blocks.*.hook_resid_post, '*'); docs/hooks.md lists them", 0, 0},
    {"--prompt", NULL, CLI_STR, "TEXT", "the text to run (tokenized as `run` does)", 0, 0},
    {"--ids", NULL, CLI_STR, "1,2,3", "the token ids to run, instead of --prompt", 0, 0},
    {"--max-new", "-n", CLI_INT, "N", "decode N more tokens after the prefill (default 0)", 0, 2147483647.0},
    {"--json", NULL, CLI_FLAG, NULL, "write the values as JSON to stdout", 0, 0},
    {"--npy", NULL, CLI_STR, "DIR", "write one .npy file per hook point into DIR", 0, 0},
    {"--all-logits", NULL, CLI_FLAG, NULL, "compute the logits of every prefill position (default: the last)", 0, 0},
    {"--no-bos", NULL, CLI_FLAG, NULL, "add no special tokens to --prompt", 0, 0},
    {0}};
static const CliOpt *const k_trace_groups[] = {k_trace_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_trace_cmd = {
    "trace", "trace [--model M] (--prompt TEXT | --ids 1,2,3) --hooks P1,P2 (--json | --npy DIR) [--max-new N]",
    "Runs a prompt (prefill, then greedy or sampled decode) and exports the values seen at hook points.",
    k_trace_groups, 0, NULL, true};

int cmd_trace(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_trace_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *hooks_s = cli_opt(argc, argv, "--hooks");
    const char *ids_s = cli_opt(argc, argv, "--ids"), *prompt = cli_opt(argc, argv, "--prompt");
    const char *npy = cli_opt(argc, argv, "--npy");
    const char *missing = !hooks_s ? "--hooks is required" : !ids_s && !prompt ? "give --prompt TEXT or --ids 1,2,3"
                        : ids_s && prompt ? "give --prompt or --ids, not both"
                        : !npy && !cli_flag(argc, argv, "--json") ? "give --json or --npy DIR" : NULL;
    if (missing) {
        fprintf(stderr, "llmscope: trace: %s (see `llmscope trace --help`)\n", missing);
        return 2;
    }
    int max_new = cli_opt_int(argc, argv, "--max-new", 0);
    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) return cli_fail(&e);
    int *ids = NULL, n = 0;
    if (ids_s) { if (!cli_parse_ids(ids_s, &ids, &n, &e)) { model_free(m); return cli_fail(&e); } }
    else {
        Tokenizer *tok = cli_load_tokenizer(argc, argv, m, &e);
        if (!tok) { model_free(m); return cli_fail(&e); }
        n = session_encode(tok, m, prompt, !cli_flag(argc, argv, "--no-bos"), &ids, &e);
        tokenizer_free(tok);
        if (n <= 0) { if (!n) err_set(&e, ERR_ARG, "empty prompt"); model_free(m); free(ids); return cli_fail(&e); }
    }
    int n_ran = n;   /* prompt ids, then each generated id */
    Hooks *h = hooks_new();
    Export *x = export_new(h, hooks_s, &e);
    Engine *en = x ? engine_new(m, n + max_new, &e) : NULL;
    int rc = 0;
    if (!x || !en) rc = 1;
    Sampler *sm = rc ? NULL : sampler_new(cli_sampler_args(argc, argv), m->spec.vocab_size);
    if (!rc) {
        engine_set_hooks(en, h);
        /* room for the generated ids, reported with the prompt's by --json */
        int *grown = realloc(ids, sizeof(int) * ((size_t)n + (size_t)max_new + 1));
        if (!grown) { rc = 1; err_set(&e, ERR_MEMORY, "out of memory"); }
        else ids = grown;
        float *lg = rc ? NULL : engine_forward(en, ids, n, cli_flag(argc, argv, "--all-logits"), &e);
        for (int k = 0; lg && k < max_new; k++) {
            int next = sampler_sample(sm, lg, NULL);
            ids[n_ran++] = next;
            lg = engine_forward(en, &next, 1, false, &e);
        }
        if (!lg) rc = 1;
    }
    if (!rc) {
        if (npy) { if (!export_write_npy(x, npy, &e)) rc = 1; else fprintf(stderr, "llmscope: wrote %d .npy files to %s\n", export_count(x), npy); }
        else export_write_json(x, stdout, ids, n_ran);
    }
    if (rc) cli_fail(&e);
    sampler_free(sm); engine_free(en); export_free(x); hooks_free(h); model_free(m); free(ids);
    return rc;
}
