/* Model subcommands: logits, generate, run, info, eval, --list-models. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "analysis/kvcalc.h"
#include "engine/engine.h"
#include "engine/gencfg.h"
#include "engine/sampler.h"

int cli_threads_arg(int argc, char **argv) {
    long t = cli_opt_int(argc, argv, "--threads", 0);
    char from[80];
    snprintf(from, sizeof from, "--threads %ld", t);
    if (t <= 0) {   /* $LLMSCOPE_THREADS, read whole: atoi took "abc" as 0 and overflowed on 99999999999 */
        const char *env = getenv("LLMSCOPE_THREADS");
        char *end = NULL;
        errno = 0;
        t = env && *env ? strtol(env, &end, 10) : 0;
        if (env && *env && (*end || t < 0)) {
            fprintf(stderr, "llmscope: warning: LLMSCOPE_THREADS='%.40s' is not a whole number of threads (0 = the default); "
                            "using the default\n", env);
            t = 0;
        }
        snprintf(from, sizeof from, "LLMSCOPE_THREADS=%.40s", env ? env : "");
    }
    if (t <= 0) t = engine_default_threads();
    if (t > ENGINE_MAX_THREADS) {
        fprintf(stderr, "llmscope: warning: %s is more than %d threads; using %d\n", from, ENGINE_MAX_THREADS, ENGINE_MAX_THREADS);
        t = ENGINE_MAX_THREADS;
    }
    engine_set_threads((int)t);
    return (int)t;
}

Model *cli_load_model(int argc, char **argv, bool config_only_ok, Err *e) {
    char buf[1024];
    const char *path = cli_model_arg(argc, argv, buf, sizeof buf);
    Model *m = model_load(path, config_only_ok, e);
    if (m && m->warning[0]) fprintf(stderr, "llmscope: warning: %s\n", m->warning);
    return m;
}

/* A prompt longer than the trained context still runs on RoPE models (as HF allows), but
 * the user is told. */
static void warn_past_context(const Model *m, int n) {
    if (n > m->spec.max_pos)
        fprintf(stderr, "llmscope: warning: %d ids exceed the context length %d (max_position_embeddings of %s); "
                "positions past it are %s\n", n, m->spec.max_pos, m->path,
                m->spec.pos == POS_LEARNED ? "not available" : "extrapolated");
}

static const CliOpt k_logits_opts[] = {
    {"--ids", NULL, CLI_STR, "5,17,42", "the token ids to run (required)", 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, "print {\"logits\": [[vocab floats] per position]}", 0, 0},
    {0}};
static const CliOpt *const k_logits_groups[] = {k_logits_opts, CLI_OPTS_MODEL, NULL};
static const CliCmd k_logits_cmd = {
    "logits", "logits [--model M] --ids 5,17,42 [--json]",
    "Runs the ids in one prefill and prints the logits of every position (the argmax without --json).",
    k_logits_groups, 0, NULL, true};

int cmd_logits(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_logits_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *ids_s = cli_opt(argc, argv, "--ids");
    if (!ids_s) { fprintf(stderr, "llmscope: logits: --ids is required (see `llmscope logits --help`)\n"); return 2; }
    int *ids, n;
    if (!cli_parse_ids(ids_s, &ids, &n, &e)) return cli_fail(&e);
    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) { free(ids); return cli_fail(&e); }
    warn_past_context(m, n);
    Engine *en = engine_new(m, n > m->spec.max_pos ? n : 0, &e);
    float *lg = en ? engine_forward(en, ids, n, true, &e) : NULL;
    if (!lg) { engine_free(en); model_free(m); free(ids); return cli_fail(&e); }
    const int V = m->spec.vocab_size;
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"logits\": [");
        for (int t = 0; t < n; t++) { if (t) printf(",\n"); cli_print_floats(stdout, lg + (size_t)t * V, V); }
        printf("]}\n");
    } else {
        for (int t = 0; t < n; t++) {
            const float *r = lg + (size_t)t * V;
            int a = argmax(r, V);
            printf("pos %d id %d: argmax %d (logit %.4f)\n", t, ids[t], a, (double)r[a]);
        }
    }
    engine_free(en); model_free(m); free(ids);
    return 0;
}

void cli_gen_override(int argc, char **argv, GenOverride *o) {
    memset(o, 0, sizeof *o);
    o->seed = (uint64_t)cli_opt_int(argc, argv, "--seed", 42);
    o->has_seed = cli_opt(argc, argv, "--seed") != NULL;
    o->greedy = cli_flag(argc, argv, "--greedy");
    o->temp_name = cli_opt(argc, argv, "--temperature") ? "--temperature" : "--temp";
    o->has_temp = cli_opt(argc, argv, o->temp_name) != NULL;
    o->temperature = (float)cli_opt_double(argc, argv, o->temp_name, 1.0);
    o->has_top_k = cli_opt(argc, argv, "--top-k") != NULL;
    o->top_k = cli_opt_int(argc, argv, "--top-k", 0);
    o->has_top_p = cli_opt(argc, argv, "--top-p") != NULL;
    o->top_p = (float)cli_opt_double(argc, argv, "--top-p", 1.0);
}

bool cli_sampler_for_model(int argc, char **argv, const char *cmd, const ModelSpec *s, bool used, SamplerCfg *out, Err *e) {
    GenOverride o;
    cli_gen_override(argc, argv, &o);
    if (!used) {   /* nothing is decoded: no model field is needed */
        *out = (SamplerCfg){.greedy = true, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = o.seed};
        return true;
    }
    GenChoice c;
    if (!gen_choose(s, &o, &c, e)) return false;
    /* fields the model's source sets that our sampler lacks: said by the commands that decode only,
     * and only those that act in the decode chosen (a greedy one applies no sampling warper) */
    const char *note = gen_defaults_unapplied(&s->gen, !c.cfg.greedy);
    if (note[0]) fprintf(stderr, "llmscope: warning: %s\n", note);
    if (c.merged) {   /* some settings are the model's: say which, so the options given are not taken for all of them */
        char d[320];
        gen_describe(&c, true, d, sizeof d);
        fprintf(stderr, "llmscope: %s: %s\n", cmd, d);
    }
    *out = c.cfg;
    return true;
}

#define GENERATE_MAX_NEW 16   /* -n/--max-new's default */
static const CliOpt k_generate_opts[] = {
    {"--ids", NULL, CLI_STR, "5,17,42", "the prompt as token ids (required)", 0, 0},
    {"--max-new", "-n", CLI_INT, "N", "new ids at most (default 16)", 0, 2147483647.0},
    {"--ctx", NULL, CLI_INT, "N", "KV-cache length in tokens (default: the model's context, at most 2048; at least 512 with RoPE)", 0, 2147483647.0},
    {"--ignore-eos", NULL, CLI_FLAG, NULL, "go on past an end-of-sequence id (by default any eos_token_id of config.json or "
     "generation_config.json stops, and is the last id printed, as in transformers; for a GGUF file, every id "
     "llama.cpp's llama_vocab_is_eog accepts)", 0, 0},
    {"--stop-eos", NULL, CLI_FLAG, NULL, "stop at an end-of-sequence id (the default; kept for old scripts)", 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, "print {\"ids\": [...]}", 0, 0},
    {0}};
static const CliOpt *const k_generate_groups[] = {k_generate_opts, CLI_OPTS_SAMPLING, CLI_OPTS_MODEL, NULL};
static const CliCmd k_generate_cmd = {
    "generate", "generate [--model M] --ids 5,17,42 [--max-new N] [--greedy | --temp T ...] [--json]",
    "Prefills the ids, then decodes one id at a time on the KV cache and prints the new ids. Sampling\n"
    "as for `run`: the model's defaults (generation_config.json, or a GGUF file's general.sampling.*;\n"
    "else transformers' GenerationConfig defaults: do_sample false (greedy), temperature 1, top_k 50,\n"
    "top_p 1), each sampling option replacing only its own field (see `llmscope run --help`).",
    k_generate_groups, 0, NULL, true};

static const CliRule k_generate_rules[] = {
    {"--ignore-eos", CLI_NOT_WITH, "--stop-eos", NULL},
    {0}};

int cmd_generate(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_generate_cmd);
    if (crc < 0) crc = cli_rules(argc, argv, &k_generate_cmd, k_generate_rules);
    if (crc < 0) crc = cli_rules_sampling(argc, argv, &k_generate_cmd, GENERATE_MAX_NEW);
    if (crc >= 0) return crc;
    Err e = {0};
    const char *ids_s = cli_opt(argc, argv, "--ids");
    if (!ids_s) { fprintf(stderr, "llmscope: generate: --ids is required (see `llmscope generate --help`)\n"); return 2; }
    int *ids, n;
    if (!cli_parse_ids(ids_s, &ids, &n, &e)) return cli_fail(&e);
    int max_new = cli_opt_int(argc, argv, "--max-new", GENERATE_MAX_NEW);
    if (max_new < 0) { free(ids); fprintf(stderr, "llmscope: --max-new must be >= 0\n"); return 2; }
    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) { free(ids); return cli_fail(&e); }
    warn_past_context(m, n);
    Engine *en = engine_new(m, cli_opt_int(argc, argv, "--ctx", 0), &e);
    int rc = 0, k = 0;
    SamplerCfg scfg;
    if (!cli_sampler_for_model(argc, argv, "generate", &m->spec, max_new > 0, &scfg, &e)) {
        engine_free(en); model_free(m); free(ids);
        return cli_fail(&e);
    }
    Sampler *sm = sampler_new(scfg, m->spec.vocab_size);
    /* At most max_ctx tokens can be generated (the cache fills up): size the buffer by that,
     * not by --max-new, which may be INT_MAX. */
    int cap_new = !en ? 0 : max_new > engine_max_ctx(en) ? engine_max_ctx(en) : max_new;
    int *out = malloc(sizeof(int) * ((size_t)cap_new + 1));
    if (!out || !sm) { rc = 1; if (!e.msg[0]) err_set(&e, ERR_MEMORY, "out of memory"); }
    float *lg = en && !rc ? engine_forward(en, ids, n, false, &e) : NULL;
    if (!lg) rc = 1;
    bool stop_eos = !cli_flag(argc, argv, "--ignore-eos");
    while (!rc && k < max_new) {
        int next = sampler_sample(sm, lg, NULL);
        out[k++] = next;
        if (stop_eos && spec_is_eos(&m->spec, next)) break;   /* the eos id is the last returned, as in HF */
        if (k == max_new) break;
        lg = engine_forward(en, &next, 1, false, &e);   /* one token on the KV cache */
        if (!lg) rc = 1;
    }
    if (rc) { fprintf(stderr, "llmscope: %s\n", e.msg); }
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"ids\": [");
        for (int i = 0; i < k; i++) printf("%s%d", i ? ", " : "", out[i]);
        printf("]}\n");
    } else {
        for (int i = 0; i < k; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
    }
    free(out); sampler_free(sm); engine_free(en); model_free(m); free(ids);
    return rc;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static const CliOpt k_info_opts[] = {
    {"--ctx", "--context", CLI_INT, "N", "tokens at which to size the KV cache (default: the model's context); "
     "--context is the older spelling of the same option", 0, 2147483647.0},
    {"--json", NULL, CLI_FLAG, NULL, "print every field as JSON", 0, 0},
    {"--check-weights", NULL, CLI_FLAG, NULL, "also read every weight and count the NaN and Inf values (a warning names "
     "the first tensor holding one; nonfinite_weights in --json, null without this option)", 0, 0},
    {0}};
static const CliOpt *const k_info_groups[] = {k_info_opts, CLI_OPTS_MODEL, NULL};

static const CliCmd k_info_cmd = {
    "info", "info [--model M] [--ctx N] [--json]",
    "Architecture, dimensions, parameters and KV-cache bytes of a model. A directory with only a\n"
    "config.json works too (no weights are needed). Only the headers are read (config.json, the\n"
    "safetensors headers, a GGUF file's metadata and tensor table), so a model of any size answers at\n"
    "once; --check-weights reads the weights too.",
    k_info_groups, 0, NULL, true};

int cmd_info(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_info_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    /* the facts below come from the headers: the weights' bytes are read only to count NaN/Inf */
    bool scan = cli_flag(argc, argv, "--check-weights");
    Model *m = scan ? cli_load_model(argc, argv, true, &e) : NULL;
    if (!scan) {
        char buf[1024];
        m = model_load_layout(cli_model_arg(argc, argv, buf, sizeof buf), &e);
        if (m && m->warning[0]) fprintf(stderr, "llmscope: warning: %s\n", m->warning);
    }
    if (!m) return cli_fail(&e);
    const ModelSpec *s = &m->spec;
    int ctx = cli_opt_int(argc, argv, "--ctx", s->max_pos);
    if (ctx <= 0) ctx = s->max_pos;
    size_t per_layer = spec_kv_elems_per_token_layer(s);
    size_t eb = dtype_size(s->dtype);
    size_t bpt = per_layer * (size_t)s->n_layers * eb;
    const char *arch = s->family == ARCH_GPT2 ? "gpt2" : s->family == ARCH_DEEPSEEK ? "deepseek" : s->embed_scale > 0 ? "gemma" : "llama";
    if (cli_flag(argc, argv, "--json")) {
        printf("{\"path\": "); json_str(stdout, m->path);
        printf(", \"model_type\": "); json_str(stdout, s->model_type);
        printf(", \"architecture\": \"%s\", \"config_only\": %s", arch, m->config_only ? "true" : "false");
        if (!m->config_only) {
            printf(", \"parameters\": %lld, \"weight_bytes_per_token\": %zu", m->n_params, m->weight_bytes);
            if (m->layout_only) printf(", \"nonfinite_weights\": null, \"nonfinite_first\": null");   /* not read: --check-weights */
            else printf(", \"nonfinite_weights\": %d, \"nonfinite_first\": \"%s\"", m->n_nonfinite, m->nonfinite_first);
        }
        printf(", \"dtype\": \"%s\", \"vocab_size\": %d, \"d_model\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, \"head_dim\": %d, \"d_ff\": %d",
               dtype_name(s->dtype), s->vocab_size, s->d_model, s->n_layers, s->n_heads, s->n_kv_heads, s->head_dim, s->d_ff);
        printf(", \"attention\": \"%s\", \"norm\": \"%s\", \"position\": \"%s\", \"context_length\": %d",
               attn_kind_name(s->attn_kind), s->norm == NORM_RMSNORM ? "rmsnorm" : "layernorm", s->pos == POS_ROPE ? "rope" : "learned", s->max_pos);
        if (s->pos == POS_ROPE) {
            static const char *sc[] = {"default", "linear", "dynamic", "llama3", "yarn"};
            printf(", \"rope_theta\": %g, \"rope_scaling\": \"%s\", \"rope_factor\": %g", (double)s->rope_theta, sc[s->rope_scaling], (double)s->rope_factor);
        }
        if (s->sliding_window) {   /* which layers slide, and what a cache that keeps only the window holds */
            printf(", \"sliding_window\": {\"window\": %d, \"layers\": [", s->sliding_window);
            for (int l = 0, k = 0; l < s->n_layers; l++) if (spec_layer_window(s, l)) printf("%s%d", k++ ? ", " : "", l);
            printf("], \"bytes_at_context_keeping_only_the_window\": %.0f}", kv_bytes_windowed(s, (long long)per_layer, ctx, (int)eb));
        }
        if (s->rope_local_theta > 0) printf(", \"rope_local_theta\": %g", (double)s->rope_local_theta);
        if (s->attn_softcap > 0 || s->final_softcap > 0) {   /* Gemma 2: cap * tanh(x / cap) on scores and logits */
            printf(", \"softcap\": {\"attention\": ");
            if (s->attn_softcap > 0) printf("%g", (double)s->attn_softcap); else printf("null");
            printf(", \"logits\": ");
            if (s->final_softcap > 0) printf("%g}", (double)s->final_softcap); else printf("null}");
        }
        if (s->attn_kind == ATTN_MLA)
            printf(", \"mla\": {\"q_lora_rank\": %d, \"kv_lora_rank\": %d, \"qk_nope_head_dim\": %d, \"qk_rope_head_dim\": %d, \"v_head_dim\": %d}",
                   s->q_lora_rank, s->kv_lora_rank, s->qk_nope_head_dim, s->qk_rope_head_dim, s->v_head_dim);
        if (s->n_experts)
            printf(", \"moe\": {\"experts\": %d, \"experts_per_token\": %d, \"expert_ff\": %d, \"shared_experts\": %d, \"scoring\": \"%s\"}",
                   s->n_experts, s->n_experts_per_tok, s->moe_d_ff, s->n_shared_experts, s->route_scoring == ROUTE_SIGMOID ? "sigmoid" : "softmax");
        printf(", \"kv_cache\": {\"elements_per_token_per_layer\": %zu, \"bytes_per_element\": %zu, \"bytes_per_token_per_layer\": %zu, \"bytes_per_token\": %zu, \"context\": %d, \"bytes_at_context\": %.0f, \"engine_bytes_per_token_f32\": %zu",
               per_layer, eb, per_layer * eb, bpt, ctx, (double)bpt * ctx, per_layer * (size_t)s->n_layers * 4);
        printf(", \"as_if\": {\"MHA\": %zu, \"GQA\": %zu, \"MQA\": %zu, \"MLA\": %zu}}",
               kv_elems_as(s, ATTN_MHA, 0) * (size_t)s->n_layers * eb, kv_elems_as(s, ATTN_GQA, s->n_kv_heads) * (size_t)s->n_layers * eb,
               kv_elems_as(s, ATTN_MQA, 0) * (size_t)s->n_layers * eb, kv_elems_as(s, ATTN_MLA, 0) * (size_t)s->n_layers * eb);
                const GenDefaults *g = &s->gen;   /* the model's sampling defaults (engine/gencfg.h merges options over them) */
        printf(", \"generation_defaults\": {\"source\": ");
        if (g->source == GEN_SRC_NONE) printf("null");
        else json_str(stdout, g->file);
        printf(", \"do_sample\": %s, \"temperature\": %g, \"top_k\": %d, \"top_p\": %g, \"problems\": [",
               g->do_sample ? "true" : "false", (double)g->temperature, g->top_k, (double)g->top_p);
        for (int w = 0; w < 3; w++) {   /* problems, warnings (gen_defaults_bad_is_warning), then the quiet ones */
            if (w) printf(w == 1 ? "], \"warnings\": [" : "], \"quiet_problems\": [");
            int k = 0;
            for (int f = 0; f < GEN_NFIELDS; f++) {
                const int kind = gen_defaults_bad_is_quiet(g, (GenField)f) ? 2 : gen_defaults_bad_is_warning(g, (GenField)f) ? 1 : 0;
                if (g->bad[f][0] && kind == w) { printf("%s", k++ ? ", " : ""); json_str(stdout, g->bad[f]); }
            }
            if (w == 2) break;
            /* then the valid fields transformers' GenerationConfig.validate() warns on alike */
            for (int i = 0; w && i < g->n_greedy_unused; i++) {
                char wt[600];
                snprintf(wt, sizeof wt, "%s and \"do_sample\" is %s: transformers warns that %s is used only in sample-based generation modes",
                         g->greedy_unused[i].text, g->given[GEN_DO_SAMPLE] ? "false" : "left out, so false", g->greedy_unused[i].key);
                printf("%s", k++ ? ", " : "");
                json_str(stdout, wt);
            }
        }
        printf("], \"not_applied\": ");
        GenOverride dflt = {0};   /* the note of the default decode (greedy: the fields that act then) */
        GenChoice dc;
        Err de = {0};
        const char *na = gen_defaults_unapplied(g, !gen_choose(s, &dflt, &dc, &de) || !dc.cfg.greedy);
        if (na[0]) json_str(stdout, na);
        else printf("null");
        printf("}");
        printf("}\n");
    } else {
        printf("%s  (%s, %s)\n", m->path, s->model_type, m->config_only ? "config only" : "weights loaded");
        if (!m->config_only) printf("  parameters      %lld (%s)\n", m->n_params, dtype_name(s->dtype));
        printf("  layers %d, d_model %d, heads %d (kv %d, head dim %d), ffn %d, vocab %d, context %d\n",
               s->n_layers, s->d_model, s->n_heads, s->n_kv_heads, s->head_dim, s->d_ff, s->vocab_size, s->max_pos);
        printf("  attention       %s\n", attn_kind_name(s->attn_kind));
        printf("  KV cache        %zu elements/token/layer, %zu bytes/token (%s), %.1f MB at %d tokens\n",
               per_layer, bpt, dtype_name(s->dtype), (double)bpt * ctx / 1e6, ctx);
        if (s->sliding_window) {
            const int ns = kv_window_layers(s);
            char where[64];
            if (ns == s->n_layers) snprintf(where, sizeof where, "every layer");
            else snprintf(where, sizeof where, "%d of %d layers", ns, s->n_layers);
            printf("  sliding window  %d keys in %s; a cache keeping only the window: %.1f MB at %d tokens (llmscope keeps every key)\n",
                   s->sliding_window, where, kv_bytes_windowed(s, (long long)per_layer, ctx, (int)eb) / 1e6, ctx);
        }
        if (s->rope_local_theta > 0)
            printf("  RoPE            base %g in full-attention layers, %g in sliding ones\n", (double)s->rope_theta, (double)s->rope_local_theta);
        if (s->attn_softcap > 0 || s->final_softcap > 0) {
            char a[48] = "", f[48] = "";
            if (s->attn_softcap > 0) snprintf(a, sizeof a, "attention scores at %g", (double)s->attn_softcap);
            if (s->final_softcap > 0) snprintf(f, sizeof f, "logits at %g", (double)s->final_softcap);
            printf("  soft-capping    %s%s%s (cap * tanh(x / cap))\n", a, a[0] && f[0] ? ", " : "", f);
        }
        /* what run/generate/trace decode with when no sampling option is given */
        GenOverride none = {0};
        GenChoice gc;
        Err ge = {0};
        char d[400] = "(see the problem below)";
        bool dsample = true;   /* a default decode that cannot be chosen would sample */
        if (gen_choose(s, &none, &gc, &ge)) { gen_describe(&gc, false, d, sizeof d); dsample = !gc.cfg.greedy; }
        printf("  sampling        %s\n", d);
        /* do_sample false: transformers' GenerationConfig.validate() warns on a sampling field and
         * generate() decodes greedily without it, so that is a warning; a field the default decode
         * needs is a problem */
        static const char *const k_field[GEN_NFIELDS] = {"do_sample", "temperature", "top_k", "top_p"};
        static const char *const k_opt[GEN_NFIELDS] = {"--greedy", "--temp", "--top-k", "--top-p"};
        for (int f = 0; f < GEN_NFIELDS; f++) {
            if (!s->gen.bad[f][0]) continue;
            if (gen_defaults_bad_is_quiet(&s->gen, (GenField)f))
                printf("  note            %s (\"do_sample\" is %s: transformers says nothing of it, as its GenerationConfig.%s, "
                       "and decodes greedily without it, as run, generate and trace do; they fail on it only when an option makes them "
                       "sample and %s does not replace it)\n", s->gen.bad[f], s->gen.given[GEN_DO_SAMPLE] ? "false" : "left out, so false",
                       s->gen.bad_quiet[f], k_opt[f]);
            else if (gen_defaults_bad_is_warning(&s->gen, (GenField)f))
                printf("  warning         %s (\"do_sample\" is %s: transformers warns that %s is used only in sample-based "
                       "generation modes and decodes greedily without it, as run, generate and trace do; they fail on it only when "
                       "an option makes them sample and %s does not replace it)\n", s->gen.bad[f],
                       s->gen.given[GEN_DO_SAMPLE] ? "false" : "left out, so false", k_field[f], k_opt[f]);
            else printf("  problem         %s (run, generate and trace fail on it when they sample with it)\n", s->gen.bad[f]);
        }
        for (int i = 0; i < s->gen.n_greedy_unused; i++) {   /* valid, and validate() warns alike */
            const char *opt = s->gen.greedy_unused[i].opt;
            char tail[200];
            if (opt) snprintf(tail, sizeof tail, "they sample with it only when an option makes them sample and %s does not replace it", opt);
            else snprintf(tail, sizeof tail, "llmscope's sampler does not apply it");
            printf("  warning         %s (\"do_sample\" is %s: transformers warns that %s is used only in sample-based "
                   "generation modes and decodes greedily without it, as run, generate and trace do; %s)\n", s->gen.greedy_unused[i].text,
                   s->gen.given[GEN_DO_SAMPLE] ? "false" : "left out, so false", s->gen.greedy_unused[i].key, tail);
        }
        if (gen_defaults_unapplied(&s->gen, dsample)[0]) printf("  note            %s\n", gen_defaults_unapplied(&s->gen, dsample));
        /* a generation_config.json beside a GGUF file is not read, as llama.cpp reads none (docs/formats.md) */
        char gj[2100];
        path_join(gj, sizeof gj, m->dir, "generation_config.json");
        if (model_detect_format(m->path, NULL, 0) == MODEL_FMT_GGUF && file_exists(gj))
            printf("  note            %s is not read: a GGUF file's sampling defaults are its own general.sampling.* keys, as "
                   "llama.cpp reads them; give --temp, --top-k, --top-p to sample as that file says\n", gj);
    }
    model_free(m);
    return 0;
}

int cmd_list_models(int argc, char **argv) {
    (void)argc; (void)argv;
    char def[1024];
    cli_default_model(def, sizeof def);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", def);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "llmscope: no bundled models found in %s\n", dir); return 1; }
    struct dirent *de;
    char names[64][256];
    int k = 0;
    while ((de = readdir(d)) && k < 64) {
        if (de->d_name[0] == '.') continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s/config.json", dir, de->d_name);
        if (file_exists(p)) snprintf(names[k++], 256, "%s", de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)k, 256, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < k; i++) {
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        Err e = {0};
        Model *m = model_load_layout(p, &e);   /* the headers say all that is printed */
        if (!m) { printf("%-12s (unreadable: %s)\n", names[i], e.msg); continue; }
        const ModelSpec *s = &m->spec;
        printf("%-12s %-12s %-4s %2d layers  d=%-4d %lld params  KV %zu B/token%s\n", names[i], s->model_type,
               attn_kind_name(s->attn_kind), s->n_layers, s->d_model, m->n_params,
               spec_kv_elems_per_token_layer(s) * (size_t)s->n_layers * dtype_size(s->dtype),
               !strcmp(p, def) ? "  (default)" : "");
        model_free(m);
    }
    return 0;
}
