/* llmscope similarity: sentence vectors of several texts at one residual layer and their
 * cosine matrix (the retrieval step of RAG).  Each text runs alone from position 0 through
 * the same forward pass as everything else; an observer copies the residual rows of the
 * chosen layer (see analysis/similarity.h for what "layer" means), then the rows are pooled
 * and compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/simtexts.h"
#include "cli/cli.h"
#include "tokenizer/tokenizer.h"

static const CliOpt k_sim_opts[] = {
    {"--layer", NULL, CLI_INT, "L", "residual layer: 0 = token embedding, 1..n_layers-1 = after that many blocks, n_layers = after the final norm", 0, 2147483647.0},
    {"--pool", NULL, CLI_STR, "mean|last", "mean: the average of the text's rows (a leading BOS left out, the default); last: the last token's row", 0, 0},
    {"--text", NULL, CLI_STRS, "TEXT", "a text to compare (give several)", 0, 0},
    {"--texts-file", NULL, CLI_STR, "FILE", "one text per line (empty lines skipped)", 0, 0},
    {"--no-bos", NULL, CLI_FLAG, NULL, "add no special tokens to the texts", 0, 0},
    {"--json", NULL, CLI_FLAG, NULL, "print {\"layer\", \"pool\", \"texts\", \"cosine\", ...}", 0, 0},
    {0}};
static const CliOpt *const k_sim_groups[] = {k_sim_opts, CLI_OPTS_MODEL, CLI_OPTS_TOKENIZER, NULL};
static const CliCmd k_sim_cmd = {
    "similarity", "similarity [--model M] --layer L [--pool mean|last] (--text A --text B ... | --texts-file F) [--json]",
    "Cosine similarity of the texts' sentence vectors at one residual layer: each text runs alone, its rows at the layer "
    "are pooled, and every pair is compared (the retrieval step of RAG).", k_sim_groups, 0, NULL, true};

/* Appends a copy of s to the list. */
static bool push_text(char ***v, int *n, int *cap, const char *s) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, sizeof(char *) * (size_t)nc);
        if (!nv) return false;
        *v = nv; *cap = nc;
    }
    char *c = strdup(s);
    if (!c) return false;
    (*v)[(*n)++] = c;
    return true;
}

/* One text per line (a final \r dropped), empty lines skipped; a file with none is an error naming
 * it. The file goes through cli_read_text: a directory or FIFO is refused, not read as no text. */
static bool read_texts_file(const char *path, char ***v, int *n, int *cap, Err *e) {
    size_t len;
    char *text = cli_read_text("--texts-file", path, (size_t)64 << 20, &len, e);
    if (!text) return false;
    bool ok = true;
    int got = 0;
    for (char *line = text, *next; ok && line < text + len; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : text + len;
        size_t l = (size_t)((nl ? nl : text + len) - line);
        while (l > 0 && line[l - 1] == '\r') l--;
        line[l] = 0;
        if (l == 0) continue;
        if (!push_text(v, n, cap, line)) ok = err_set(e, ERR_MEMORY, "out of memory");
        got++;
    }
    free(text);
    if (ok && !got) return err_set(e, ERR_FORMAT, "--texts-file %s: no text in it (one text per line; empty lines are skipped)", path);
    return ok;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* A usage error (exit 2) in the words every command uses. */
static int sim_usage(const char *msg, char **texts, int nt) {
    fprintf(stderr, "llmscope: similarity: %s (see `llmscope similarity --help`)\n", msg);
    for (int t = 0; t < nt; t++) free(texts[t]);
    free(texts);
    return 2;
}

int cmd_similarity(int argc, char **argv) {
    int crc = cli_check(argc, argv, &k_sim_cmd);
    if (crc >= 0) return crc;
    Err e = {0};
    char **texts = NULL; int nt = 0, capt = 0;
    const char *pool_s = cli_opt(argc, argv, "--pool");
    bool json = cli_flag(argc, argv, "--json"), no_bos = cli_flag(argc, argv, "--no-bos");
    /* the texts in the order given: each --text, and the lines of --texts-file where it stands */
    static const char *const text_opts[] = {"--text", "--texts-file", NULL};
    const char *val, *which;
    for (int i = 0; (val = cli_opt_next(argc, argv, text_opts, &i, &which));) {
        bool ok = !strcmp(which, "--text") ? push_text(&texts, &nt, &capt, val) || err_set(&e, ERR_MEMORY, "out of memory")
                                           : read_texts_file(val, &texts, &nt, &capt, &e);
        if (!ok) goto fail;
    }
    PoolKind pool = POOL_MEAN;
    if (pool_s && !pool_parse(pool_s, &pool)) {
        char msg[160];
        snprintf(msg, sizeof msg, "--pool: '%.64s' is neither 'mean' nor 'last'", pool_s);
        return sim_usage(msg, texts, nt);
    }
    if (!cli_opt(argc, argv, "--layer")) return sim_usage("--layer is required", texts, nt);
    if (nt < 1) return sim_usage("give at least one --text (or --texts-file)", texts, nt);
    for (int t = 0; no_bos && t < nt; t++)
        if (!texts[t][0]) {
            char what[64];
            snprintf(what, sizeof what, "text %d (--text) is empty", t + 1);
            for (int k = 0; k < nt; k++) free(texts[k]);
            free(texts);
            return cli_empty_no_bos("similarity", what);
        }
    long layer = cli_opt_int(argc, argv, "--layer", 0);

    cli_threads_arg(argc, argv);
    Model *m = cli_load_model(argc, argv, false, &e);
    if (!m) goto fail;
    int L = m->spec.n_layers;
    if (!cli_check_index("--layer", layer, 0, L, "this model has residual layers", &e)) {
        size_t k = strlen(e.msg);
        snprintf(e.msg + k, sizeof e.msg - k, " (0 = token embedding, %d = after the final norm)", L);
        model_free(m); goto fail;
    }
    Tokenizer *tok = cli_load_tokenizer(argc, argv, m, &e);
    if (!tok) { model_free(m); goto fail; }
    /* the same function as the Embeddings panel's texts view and the {sim.*} placeholders */
    SimCache *sc = simcache_new(nt);
    SimTextInfo *info = calloc((size_t)nt, sizeof *info);
    double *mat = malloc(sizeof(double) * (size_t)nt * (size_t)nt);
    int rc = 1;
    if (!sc || !info || !mat) { err_set(&e, ERR_MEMORY, "out of memory"); goto cleanup; }
    if (!simtexts_matrix(sc, m, tok, (const char *const *)texts, nt, !no_bos, (int)layer, pool, mat, info, NULL, &e)) goto cleanup;
    if (json) {
        printf("{\"layer\": %ld, \"pool\": \"%s\", \"n_layers\": %d, \"texts\": [", layer, pool_name(pool), L);
        for (int t = 0; t < nt; t++) { if (t) fputs(", ", stdout); json_string(stdout, texts[t]); }
        printf("], \"n_tokens\": [");
        for (int t = 0; t < nt; t++) printf("%s%d", t ? ", " : "", info[t].n_tokens);
        printf("], \"pooled_from\": [");
        for (int t = 0; t < nt; t++) printf("%s%d", t ? ", " : "", info[t].pooled_from);
        printf("], \"cosine\": [");
        for (int i = 0; i < nt; i++) {
            printf("%s[", i ? ", " : "");
            for (int k = 0; k < nt; k++) printf("%s%.9g", k ? ", " : "", mat[(size_t)i * (size_t)nt + (size_t)k]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("layer %ld of %d, pool %s, %d texts\n\n", layer, L, pool_name(pool), nt);
        printf("      ");
        for (int k = 0; k < nt; k++) printf(" %6d", k + 1);
        printf("\n");
        for (int i = 0; i < nt; i++) {
            printf("%5d ", i + 1);
            for (int k = 0; k < nt; k++) printf(" %6.3f", mat[(size_t)i * (size_t)nt + (size_t)k]);
            printf("  %s\n", texts[i]);
        }
        if (nt > 1) {
            int *order = malloc(sizeof(int) * (size_t)nt);
            if (order) {
                similarity_rank(mat, nt, 0, order);
                printf("\nclosest to text 1 (\"%s\"):\n", texts[0]);
                for (int r = 0; r < nt - 1; r++)
                    printf("  %d. %.3f  %s\n", r + 1, mat[order[r]], texts[order[r]]);
                free(order);
            }
        }
    }
    rc = 0;
cleanup:
    if (rc) cli_fail(&e);
    simcache_free(sc);
    free(info); free(mat);
    tokenizer_free(tok); model_free(m);
    for (int t = 0; t < nt; t++) free(texts[t]);
    free(texts);
    return rc;
fail:
    cli_fail(&e);
    for (int t = 0; t < nt; t++) free(texts[t]);
    free(texts);
    return 1;
}
