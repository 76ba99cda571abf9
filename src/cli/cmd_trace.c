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


int cmd_trace(int argc, char **argv) {
    Err e = {0};
    const char *hooks_s = cli_opt(argc, argv, "--hooks");
    const char *ids_s = cli_opt(argc, argv, "--ids"), *prompt = cli_opt(argc, argv, "--prompt");
    const char *npy = cli_opt(argc, argv, "--npy");
    if (!hooks_s || (!ids_s && !prompt) || (!npy && !cli_flag(argc, argv, "--json"))) {
        fprintf(stderr, "usage: llmscope trace --model M (--prompt TEXT | --ids 1,2,3) [--max-new N] --hooks P1,P2,... (--json | --npy DIR)\n");
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
    Hooks *h = hooks_new();
    Export *x = export_new(h, hooks_s, &e);
    Engine *en = x ? engine_new(m, n + max_new, &e) : NULL;
    int rc = 0;
    if (!x || !en) rc = 1;
    Sampler *sm = rc ? NULL : sampler_new(cli_sampler_args(argc, argv), m->spec.vocab_size);
    if (!rc) {
        engine_set_hooks(en, h);
        float *lg = engine_forward(en, ids, n, cli_flag(argc, argv, "--all-logits"), &e);
        for (int k = 0; lg && k < max_new; k++) {
            int next = sampler_sample(sm, lg, NULL);
            lg = engine_forward(en, &next, 1, false, &e);
        }
        if (!lg) rc = 1;
    }
    if (!rc) {
        if (npy) { if (!export_write_npy(x, npy, &e)) rc = 1; else fprintf(stderr, "llmscope: wrote %d .npy files to %s\n", export_count(x), npy); }
        else export_write_json(x, stdout);
    }
    if (rc) cli_fail(&e);
    sampler_free(sm); engine_free(en); export_free(x); hooks_free(h); model_free(m); free(ids);
    return rc;
}
