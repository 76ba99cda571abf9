/* llmscope trace: run a prompt (prefill + greedy/sampled decode) and export hook values. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "session/session.h"
#include "tokenizer/tokenizer.h"
#include "trace/export.h"
#include "analysis/embctx.h"
#include "analysis/similarity.h"
#include "analysis/stats.h"

/* --emb-layer: the PCA points, cosine matrix and explained variance the Embeddings panel shows,
 * computed with the same functions (analysis/embctx.c) from the exported residual rows. */
typedef struct { int T, d, first, layer; float *pca; float *cos; double expl[2]; } EmbOut;

static bool emb_compute(Export *x, const char *hook, int layer, int n_prompt, int first, EmbOut *o, Err *e) {
    int nd, sh[4];
    const float *rows = export_get(x, hook, &nd, sh);
    if (!rows || nd != 2) return err_set(e, ERR_ARG, "--emb-layer: no rows were recorded at %s", hook);
    o->T = sh[0]; o->d = sh[1]; o->first = first; o->layer = layer;
    PcaAxes ax;
    if (!embctx_fit_rows(&ax, rows, first, n_prompt, o->d))
        return err_set(e, ERR_ARG, "--emb-layer: the prompt has too few tokens for a PCA (%d, BOS not counted)", n_prompt - first);
    o->pca = malloc(sizeof(float) * 2 * (size_t)o->T);
    o->cos = malloc(sizeof(float) * (size_t)o->T * (size_t)o->T);
    if (!o->pca || !o->cos) { pca_axes_done(&ax); return err_set(e, ERR_MEMORY, "out of memory"); }
    for (int t = first; t < o->T; t++) pca_axes_project(&ax, rows + (size_t)t * (size_t)o->d, o->pca + 2 * (size_t)(t - first));
    for (int i = 0; i < o->T; i++)
        for (int j = 0; j < o->T; j++)
            o->cos[(size_t)i * (size_t)o->T + (size_t)j] = stats_cosine(rows + (size_t)i * (size_t)o->d, rows + (size_t)j * (size_t)o->d, o->d);
    o->expl[0] = ax.explained[0]; o->expl[1] = ax.explained[1];
    pca_axes_done(&ax);
    return true;
}

/* the three arrays join the export (written with its other files, listed in its manifest) */
static bool emb_add_npy(const EmbOut *o, int layer, Export *x, Err *e) {
    char name[96];
    int sp[2] = {o->T - o->first, 2}, sc[2] = {o->T, o->T}, se[1] = {2};
    float ex[2] = {(float)o->expl[0], (float)o->expl[1]};
    snprintf(name, sizeof name, "embeddings.layer%d.pca", layer);
    if (!export_add_array(x, name, o->pca, 2, sp, e)) return false;
    snprintf(name, sizeof name, "embeddings.layer%d.cosine", layer);
    if (!export_add_array(x, name, o->cos, 2, sc, e)) return false;
    snprintf(name, sizeof name, "embeddings.layer%d.explained", layer);
    return export_add_array(x, name, ex, 1, se, e);
}

/* Ctrl-C, kill or a closed terminal during the run: the files this export created and has not
 * finished are removed (export_remove_unfinished is async-signal-safe), then the conventional
 * 128 + signal exit status (130 for SIGINT). A signal the parent ignores (a background job's
 * SIGINT, nohup's SIGHUP) stays ignored. */
static pthread_t g_main_thread;

static void trace_on_signal(int sig) {
    /* a process signal may land on any thread that does not block it (a library's, e.g. the
     * BLAS's, started before main): it is passed on to the thread that runs the export, which
     * then cannot be creating a file while the handler removes them */
    if (!pthread_equal(pthread_self(), g_main_thread)) {
        pthread_kill(g_main_thread, sig);
        return;
    }
    export_remove_unfinished();
    const char *m = sig == SIGINT ? "\nllmscope: trace: interrupted (SIGINT); the files this export had not finished were removed\n"
                  : sig == SIGTERM ? "\nllmscope: trace: terminated (SIGTERM); the files this export had not finished were removed\n"
                                   : "\nllmscope: trace: hung up (SIGHUP); the files this export had not finished were removed\n";
    if (write(STDERR_FILENO, m, strlen(m)) < 0) { /* nothing more can be said */ }
    _exit(128 + sig);
}

static void trace_catch_signals(void) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    g_main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trace_on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);   /* one cleanup at a time */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* the JSON export's extra member: ,"embeddings": {...} */
static void emb_write_json(void *ud, FILE *f) {
    const EmbOut *o = ud;
    fprintf(f, ",\n\"embeddings\": {\"layer\": %d, \"first\": %d, \"explained\": [%.9g, %.9g], \"pca\": [", o->layer, o->first, o->expl[0], o->expl[1]);
    for (int t = 0; t < o->T - o->first; t++) fprintf(f, "%s[%.9g, %.9g]", t ? ", " : "", (double)o->pca[2 * t], (double)o->pca[2 * t + 1]);
    fprintf(f, "], \"cosine\": [");
    for (int i = 0; i < o->T; i++) {
        fprintf(f, "%s[", i ? ", " : "");
        for (int j = 0; j < o->T; j++) fprintf(f, "%s%.9g", j ? ", " : "", (double)o->cos[(size_t)i * (size_t)o->T + (size_t)j]);
        fputc(']', f);
    }
    fprintf(f, "]}");
}


static const CliOpt k_trace_opts[] = {
    {"--hooks", NULL, CLI_STR, "P1,P2", "hook points to export, TransformerLens names with * wildcards "
     "(blocks.0.attn.hook_pattern, blocks.*.hook_resid_post, '*'); docs/hooks.md lists them", 0, 0},
    {"--prompt", NULL, CLI_STR, "TEXT", "the text to run (tokenized as `run` does)", 0, 0},
    CLI_OPT_PROMPT_FILE,
    {"--ids", NULL, CLI_STR, "1,2,3", "the token ids to run, instead of --prompt", 0, 0},
    {"--max-new", "-n", CLI_INT, "N", "decode N more tokens after the prefill (default 0)", 0, 2147483647.0},
    {"--json", NULL, CLI_FLAG, NULL, "write the ids that ran and the values as JSON to stdout (staged on disk under $TMPDIR; meant for small runs)", 0, 0},
    {"--npy", NULL, CLI_STR, "DIR", "stream one NAME.npy per hook point into DIR as it is computed (exact shapes: attention [heads, T, T]; NAME.npy.part until complete), ids.npy (the ids that ran, int32) and the manifest llmscope-export.txt; an earlier export in DIR is replaced, .npy files no manifest lists are refused (docs/hooks.md)", 0, 0},
    {"--all-logits", NULL, CLI_FLAG, NULL, "export the logits of every prefill position (default: the last), 128 rows at a time", 0, 0},
    {"--no-bos", NULL, CLI_FLAG, NULL, "add no special tokens to --prompt", 0, 0},
    {"--emb-layer", NULL, CLI_INT, "L", "also export the contextual embeddings at residual layer L (0 = token embedding .. "
     "n_layers = after the final norm) as the Embeddings panel shows them: embeddings.layerL.pca (PCA points, axes fitted on the "
     "prompt, a leading BOS left out), .cosine (all positions) and .explained", 0, 2147483647.0},
    {0}};
static const CliOpt *const k_trace_groups[] = {k_trace_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_trace_cmd = {
    "trace", "trace [--model M] (--prompt TEXT | --prompt-file FILE | --ids 1,2,3) --hooks P1,P2 (--json | --npy DIR) [--max-new N]",
    "Runs a prompt (prefill, then greedy or sampled decode) and exports the values seen at hook points.\n"
    "The decode samples as `run` does: the model's defaults (generation_config.json or GGUF\n"
    "general.sampling.*), each sampling option replacing only its own field.",
    k_trace_groups, 0, NULL, true};

static const CliRule k_trace_rules[] = {
    {"--no-bos", CLI_NEEDS, "--prompt|--prompt-file", "--ids run as given"},
    CLI_RULES_PROMPT_FILE,
    {0}};

static int trace_prompt(int argc, char **argv, const char *prompt);

int cmd_trace(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_trace_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_trace_cmd, k_trace_rules);
    if (crc < 0) crc = cli_rules_sampling(argc, argv, &k_trace_cmd, 0);   /* -n/--max-new defaults to 0 */
    if (crc >= 0) return crc;
    Err e = {0};
    char *owned = NULL;
    const char *prompt = cli_prompt(argc, argv, &owned, &e);
    if (!prompt && e.msg[0]) return cli_fail(&e);
    int rc = trace_prompt(argc, argv, prompt);
    free(owned);
    return rc;
}

static int trace_prompt(int argc, char **argv, const char *prompt) {
    Err e = {0};
    const char *hooks_s = cli_opt(argc, argv, "--hooks");
    const char *ids_s = cli_opt(argc, argv, "--ids");
    const char *npy = cli_opt(argc, argv, "--npy");
    const char *missing = !hooks_s ? "--hooks is required" : !ids_s && !prompt ? "give --prompt TEXT, --prompt-file FILE or --ids 1,2,3"
                        : ids_s && prompt ? "give --prompt or --ids, not both"
                        : !npy && !cli_flag(argc, argv, "--json") ? "give --json or --npy DIR"
                        : npy && cli_flag(argc, argv, "--json") ? "give --json or --npy DIR, not both" : NULL;
    if (missing) {
        fprintf(stderr, "llmscope: trace: %s (see `llmscope trace --help`)\n", missing);
        return 2;
    }
    if (prompt && !*prompt && cli_flag(argc, argv, "--no-bos"))
        return cli_empty_no_bos("trace", cli_opt(argc, argv, "--prompt-file") ? "--prompt-file is empty" : "--prompt is empty");
    if (cli_flag(argc, argv, "--all-logits")) {   /* it shapes hook_logits: without it, it would do nothing */
        bool logits = false;
        char pat[256];
        for (const char *p = hooks_s; *p && !logits; p += *p == ',') {
            size_t n = strcspn(p, ",");
            snprintf(pat, sizeof pat, "%.*s", (int)(n < sizeof pat ? n : sizeof pat - 1), p);
            char *a = pat, *z = pat + strlen(pat);
            while (*a == ' ') a++;
            while (z > a && z[-1] == ' ') *--z = 0;
            logits = hook_glob_match(a, "hook_logits");
            p += n;
        }
        if (!logits) {
            fprintf(stderr, "llmscope: trace: --all-logits is used only when --hooks selects hook_logits (see `llmscope trace --help`)\n");
            return 2;
        }
    }
    /* `trace --json | head`: a closed pipe is a write error (the staged files are removed),
     * not a SIGPIPE that would leave them in $TMPDIR */
    if (!npy) signal(SIGPIPE, SIG_IGN);
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
        if (n <= 0) {
            if (!n) err_set(&e, ERR_ARG, cli_flag(argc, argv, "--no-bos") ? "--prompt gives no token and --no-bos adds none: nothing to condition on"
                                                                          : "--prompt is empty and the model has no BOS token to start from");
            model_free(m); free(ids); return cli_fail(&e);
        }
    }
    int n_ran = n;   /* prompt ids, then each generated id */
    /* --emb-layer L: the residual hook of that layer joins the export */
    int emb_layer = cli_opt_int(argc, argv, "--emb-layer", -1);
    char emb_hook[128] = "", *patterns = NULL;
    if (emb_layer >= 0) {
        HookPoint hp; int blk;
        if (!cli_check_index("--emb-layer", emb_layer, 0, m->spec.n_layers, "this model has residual layers", &e) ||
            !embed_layer_point(m->spec.n_layers, emb_layer, &hp, &blk)) {
            if (!e.msg[0]) err_set(&e, ERR_ARG, "--emb-layer %d: no residual point of this model", emb_layer);
            model_free(m); free(ids); return cli_fail(&e);
        }
        hook_point_name(hp, blk, emb_hook, sizeof emb_hook);
        size_t pl = strlen(hooks_s) + strlen(emb_hook) + 2;
        patterns = malloc(pl);
        if (patterns) snprintf(patterns, pl, "%s,%s", hooks_s, emb_hook);
    }
    trace_catch_signals();
    Hooks *h = hooks_new();
    Export *x = h ? export_new(h, patterns ? patterns : hooks_s, &e) : NULL;
    int rc = 0;
    if (!x || !export_check_layers(x, m->spec.n_layers, &e) || (npy && !export_set_dir(x, npy, &e))) rc = 1;
    Engine *en = rc ? NULL : engine_new(m, n + max_new, &e);
    if (!en) rc = 1;
    SamplerCfg scfg;
    if (!rc && !cli_sampler_for_model(argc, argv, "trace", &m->spec, max_new > 0, &scfg, &e)) rc = 1;
    Sampler *sm = rc ? NULL : sampler_new(scfg, m->spec.vocab_size);
    if (!rc) {
        engine_set_hooks(en, h);
        /* the values stream to disk as they are produced: attention is [heads, T, T] */
        export_set_positions(x, n + max_new);
        /* --all-logits: every prompt row reaches the export 128 rows at a time (no [T, vocab] buffer) */
        engine_set_hook_all_logits(en, cli_flag(argc, argv, "--all-logits"));
        /* room for the generated ids, reported with the prompt's */
        int *grown = realloc(ids, sizeof(int) * ((size_t)n + (size_t)max_new + 1));
        if (!grown) { rc = 1; err_set(&e, ERR_MEMORY, "out of memory"); }
        else ids = grown;
        float *lg = rc ? NULL : engine_forward(en, ids, n, false, &e);
        if (lg && export_failed(x, &e)) lg = NULL;
        for (int k = 0; lg && k < max_new; k++) {
            int next = sampler_sample(sm, lg, NULL);
            ids[n_ran++] = next;
            lg = engine_forward(en, &next, 1, false, &e);
            if (lg && export_failed(x, &e)) lg = NULL;
        }
        if (!lg) rc = 1;
    }
    EmbOut eo = {0};
    if (!rc && emb_layer >= 0) {
        int bos = m->spec.bos_id;
        int first = n > 1 && bos >= 0 && ids[0] == bos ? 1 : 0;   /* as embctx_first */
        if (!emb_compute(x, emb_hook, emb_layer, n, first, &eo, &e)) rc = 1;
    }
    if (!rc) {
        for (int i = 0; export_unmatched(x, i); i++)
            fprintf(stderr, "llmscope: trace: --hooks \"%s\": this model computes no such value (nothing exported)\n", export_unmatched(x, i));
        if (npy) {
            if ((emb_layer >= 0 && !emb_add_npy(&eo, emb_layer, x, &e)) || !export_finish(x, ids, n_ran, &e)) rc = 1;
            else {
                int nf = export_count(x) + (emb_layer >= 0 ? 3 : 0);
                fprintf(stderr, "llmscope: wrote %d .npy file%s, ids.npy and the manifest %s/llmscope-export.txt\n", nf, nf == 1 ? "" : "s", npy);
            }
        } else if (!export_finish(x, NULL, 0, &e) ||
                   !export_write_json(x, stdout, ids, n_ran, emb_layer >= 0 ? emb_write_json : NULL, &eo, &e)) rc = 1;
    }
    free(eo.pca); free(eo.cos); free(patterns);
    if (rc) cli_fail(&e);
    sampler_free(sm); engine_free(en); export_free(x); hooks_free(h); model_free(m); free(ids);
    return rc;
}
