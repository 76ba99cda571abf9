#include "cli/cli.h"
#include "core/path.h"
#include "core/i18n.h"
#include "engine/kvround.h"
#include "session/session.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- declared options ------------------------------------------------------------------------ */

/* cli_threads_arg reads it: every command that computes has the same default */
#define CLI_OPT_THREADS \
    {"--threads", NULL, CLI_INT, "N", "worker threads (default: $LLMSCOPE_THREADS, else the cores this process may use; 0 = the default)", 0, 2147483647.0}
const CliOpt CLI_OPTS_MODEL[] = {
    {"--model", NULL, CLI_STR, "DIR|FILE|REPO",
     "a Hugging Face model directory (or its .safetensors or config.json), a GGUF file, a llama2.c .bin file, or "
     "an owner/name repo id in the Hugging Face cache (default: $LLMSCOPE_MODEL, else the bundled story-gqa)", 0, 0},
    CLI_OPT_THREADS,
    {0}};
const CliOpt CLI_OPTS_THREADS[] = {CLI_OPT_THREADS, {0}};
const CliOpt CLI_OPTS_TOKENIZER[] = {
    {"--tokenizer", NULL, CLI_STR, "FILE", "a tokenizer.json or llama2.c tokenizer.bin instead of the model's own", 0, 0},
    {0}};
const CliOpt CLI_OPTS_SAMPLING[] = {
    {"--greedy", NULL, CLI_FLAG, NULL, "always take the most likely token (same as --temp 0)", 0, 0},
    {"--temp", NULL, CLI_NUM, "T", "sampling temperature (0 = greedy); when not given, the model's (its "
     "generation_config.json or GGUF file; else 1)", 0, 1000},
    {"--temperature", NULL, CLI_NUM, "T", "same as --temp", 0, 1000},
    {"--top-k", NULL, CLI_INT, "K", "sample among the K most likely tokens (0 = all); when not given, the model's (else 50)", 0, 2147483647.0},
    {"--top-p", NULL, CLI_NUM, "P", "sample among the most likely tokens whose probabilities add up to P (above 0; 1 = all); "
     "when not given, the model's (else 1)", 0, 1},
    {"--seed", NULL, CLI_INT, "S", "random seed of the sampler (default 42)", 0, 2147483647.0},
    {0}};

static const CliOpt k_help_opt[] = {{"--help", "-h", CLI_FLAG, NULL, "print this help and exit", 0, 0}, {0}};
static const CliCmd *g_cmd;   /* the checked command: cli_opt/cli_flag then skip option values */

/* The option `tok` names (with "=value" cut off), or NULL. */
static const CliOpt *cli_find(const CliCmd *c, const char *tok) {
    size_t n = strcspn(tok, "=");
    for (const CliOpt *o = k_help_opt; o->name; o++)
        if ((strlen(o->name) == n && !strncmp(o->name, tok, n)) || (o->alias && strlen(o->alias) == n && !strncmp(o->alias, tok, n))) return o;
    for (int g = 0; c && c->groups[g]; g++)
        for (const CliOpt *o = c->groups[g]; o->name; o++)
            if ((strlen(o->name) == n && !strncmp(o->name, tok, n)) ||
                (o->alias && strlen(o->alias) == n && !strncmp(o->alias, tok, n)))
                return o;
    return NULL;
}

/* Edit distance (insert, delete, substitute; '_' and '-' count as equal) for suggestions. */
static int cli_distance(const char *a, size_t na, const char *b) {
    size_t nb = strlen(b);
    if (na > 40 || nb > 40) return 99;
    int d[41][41];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            char x = a[i - 1] == '_' ? '-' : a[i - 1], y = b[j - 1] == '_' ? '-' : b[j - 1];
            int best = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

const char *cli_suggest(const char *given, const char *const *names, int n) {
    const size_t ng = strlen(given);
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < n; i++) {
        int dd = cli_distance(given, ng, names[i]);
        if (ng >= 4 && !strncmp(names[i], given, ng)) dd = 1;   /* a prefix: "embed" for "embeddings" */
        if (dd < bd) { bd = dd; best = names[i]; }
    }
    return best;
}

static void cli_usage(FILE *f, const CliCmd *c) {
    fprintf(f, "usage: llmscope %s\n", c->synopsis);
    if (c->about) fprintf(f, "\n%s\n", c->about);
    fprintf(f, "\noptions:\n");
    for (int g = -1; g < 0 || c->groups[g]; g++)
        for (const CliOpt *o = g < 0 ? k_help_opt : c->groups[g]; o->name; o++) {
            char left[64];
            /* a short alias before the name (-n, --max-new), a long one after it (--ctx, --context) */
            bool long_alias = o->alias && !strncmp(o->alias, "--", 2);
            int k = long_alias ? snprintf(left, sizeof left, "%s, %s", o->name, o->alias)
                               : snprintf(left, sizeof left, "%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name);
            if (o->kind != CLI_FLAG && k > 0 && (size_t)k < sizeof left) snprintf(left + k, sizeof left - (size_t)k, " %s", o->arg ? o->arg : "X");
            if (strlen(left) > 24) fprintf(f, "  %s\n  %-24s  ", left, "");
            else fprintf(f, "  %-24s  ", left);
            /* the help text wrapped at word boundaries to 100 columns */
            const char *h = o->help;
            while (*h) {
                size_t n = strlen(h);
                if (n > 72) {
                    n = 72;
                    while (n > 20 && h[n] != ' ') n--;
                }
                fprintf(f, "%.*s\n", (int)n, h);
                h += n;
                while (*h == ' ') h++;
                if (*h) fprintf(f, "%28s", "");
            }
        }
    if (c->notes) fprintf(f, "\n%s\n", c->notes);
    if (c->model_env)
        fprintf(f, "\nenvironment:\n"
                   "  LLMSCOPE_MODEL            the model when --model is not given\n"
                   "  LLMSCOPE_THREADS          worker threads when --threads is not given\n"
                   "  HF_HUB_CACHE, HF_HOME     where an owner/name --model is looked up (then\n"
                   "                            $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub)\n");
}

static int cli_bad(const CliCmd *c, const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "llmscope: %s: ", c->name);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see `llmscope %s --help`)\n", c->name);
    return 2;
}

/* Checks one value against the option's kind and range. */
static int cli_check_value(const CliCmd *c, const CliOpt *o, const char *v) {
    char *end;
    errno = 0;
    if (o->kind == CLI_INT) {
        long long x = strtoll(v, &end, 10);
        bool range = o->lo < o->hi;
        if (errno || end == v || *end || x < -2147483647LL || x > 2147483647LL)
            return cli_bad(c, "%s: '%s' is not an integer", o->name, v);
        if (range && ((double)x < o->lo || (double)x > o->hi)) {
            char r[80];
            if (o->hi >= 1e9) snprintf(r, sizeof r, "at least %.0f", o->lo);
            else snprintf(r, sizeof r, "from %.0f to %.0f", o->lo, o->hi);
            fprintf(stderr, "llmscope: %s: %s: %s is out of range: it must be %s (see `llmscope %s --help`)\n", c->name, o->name, v, r, c->name);
            return 2;
        }
    } else if (o->kind == CLI_NUM) {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x)) return cli_bad(c, "%s: '%s' is not a number", o->name, v);
        if (o->lo < o->hi && (x < o->lo || x > o->hi)) {
            fprintf(stderr, "llmscope: %s: %s: %s is out of range: it must be from %g to %g (see `llmscope %s --help`)\n",
                    c->name, o->name, v, o->lo, o->hi, c->name);
            return 2;
        }
    }
    return -1;
}

int cli_check(int argc, char **argv, const CliCmd *c) {
    g_cmd = c;
    const CliOpt *seen[64];
    int nseen = 0, npos = 0;
    for (int i = 1; i < argc; i++)   /* --help wins over everything else */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            const CliOpt *prev = i > 1 ? cli_find(c, argv[i - 1]) : NULL;
            if (!prev || prev->kind == CLI_FLAG || strchr(argv[i - 1], '=')) { cli_usage(stdout, c); return 0; }
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            if (npos++ >= c->max_positional)
                return cli_bad(c, c->max_positional ? "unexpected argument '%s'%s" : "unexpected argument '%s': this command takes options only%s", a, "");
            continue;
        }
        const CliOpt *o = cli_find(c, a);
        if (!o) {
            size_t n = strcspn(a, "=");
            const char *best = NULL;
            int bd = 3;
            for (int g = 0; c->groups[g]; g++)
                for (const CliOpt *q = c->groups[g]; q->name; q++)
                    for (int k = 0; k < 2; k++) {   /* the name, then a long alias (--context) */
                        const char *nm = k ? q->alias : q->name;
                        if (!nm || strncmp(nm, "--", 2)) continue;
                        int dd = cli_distance(a, n, nm);
                        if (n >= 4 && !strncmp(nm, a, n)) dd = 1;   /* a prefix: --vocab for --vocab-size */
                        if (dd < bd) { bd = dd; best = nm; }
                    }
            char sugg[96] = "";
            if (best) snprintf(sugg, sizeof sugg, "; did you mean %s?", best);
            /* --text-file is how tokenize, eval and compare read a file: where the text is a
             * prompt the option is --prompt-file (in tui, --texts-file is something else) */
            if (n == strlen("--text-file") && !strncmp(a, "--text-file", n) && cli_find(c, "--prompt-file"))
                snprintf(sugg, sizeof sugg, "; did you mean --prompt-file%s%s?", best ? " or " : "", best ? best : "");
            fprintf(stderr, "llmscope: %s: unknown option '%.*s'%s (see `llmscope %s --help`)\n", c->name, (int)n, a, sugg, c->name);
            return 2;
        }
        for (int k = 0; k < nseen; k++)
            if (seen[k] == o && o->kind != CLI_FLAG && o->kind != CLI_STRS) return cli_bad(c, "%s given twice%s", o->name, "");
        if (nseen < 64) seen[nseen++] = o;
        const char *eq = strchr(a, '=');
        if (o->kind == CLI_FLAG) {
            if (eq) return cli_bad(c, "%s takes no value (got '%s')", o->name, eq + 1);
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) return cli_bad(c, "%s needs a value (%s)", o->name, o->arg ? o->arg : "X");
            v = argv[++i];
        }
        int rc = cli_check_value(c, o, v);
        if (rc >= 0) return rc;
    }
    return -1;
}

/* ---- rules between options ------------------------------------------------------------------- */

const CliRule CLI_RULES_SAMPLING[] = {
    {"--greedy", CLI_NOT_WITH, "--temp", "--greedy always takes the most likely token (--temp 0 is the same)"},
    {"--greedy", CLI_NOT_WITH, "--temperature", "--greedy always takes the most likely token (--temperature 0 is the same)"},
    {"--greedy", CLI_NOT_WITH, "--top-k", "--greedy always takes the most likely token"},
    {"--greedy", CLI_NOT_WITH, "--top-p", "--greedy always takes the most likely token"},
    {"--temp", CLI_NOT_WITH, "--temperature", "they are one option"},
    {0}};

bool cli_given(int argc, char **argv, const char *name) {
    const CliOpt *o = g_cmd ? cli_find(g_cmd, name) : NULL;
    return o && o->kind == CLI_FLAG ? cli_flag(argc, argv, name) : cli_opt(argc, argv, name) != NULL;
}

int cli_rules_sampler(int argc, char **argv, const CliCmd *c) {
    int rc = cli_rules(argc, argv, c, CLI_RULES_SAMPLING);
    if (rc >= 0) return rc;
    const char *tp = cli_opt(argc, argv, "--top-p");   /* cli_check made it a number from 0 to 1 */
    if (tp && strtod(tp, NULL) == 0) {
        fprintf(stderr, "llmscope: %s: --top-p: %s is out of range: it must be above 0 and at most 1 (1 = all tokens; "
                        "for the most likely token alone, give --greedy) (see `llmscope %s --help`)\n", c->name, tp, c->name);
        return 2;
    }
    return -1;
}

int cli_rules_sampling(int argc, char **argv, const CliCmd *c, int max_new_default) {
    int rc = cli_rules_sampler(argc, argv, c);
    if (rc >= 0) return rc;
    const char *v = cli_opt(argc, argv, "--max-new");   /* or -n; cli_check made it an integer >= 0 */
    if ((v ? strtod(v, NULL) : max_new_default) > 0) return -1;
    static const char k_sampled[] = "only the tokens -n/--max-new decodes after the prompt are sampled";
    static const char k_eos[] = "only a token decoded after the prompt can be an end-of-sequence that stops";
    static const struct { const char *opt, *why; } opts[] = {
        {"--greedy", k_sampled}, {"--temp", k_sampled}, {"--temperature", k_sampled}, {"--top-k", k_sampled},
        {"--top-p", k_sampled}, {"--seed", k_sampled}, {"--ignore-eos", k_eos}, {"--stop-eos", k_eos}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        if (!cli_given(argc, argv, opts[i].opt)) continue;   /* an option the command lacks is never given */
        fprintf(stderr, "llmscope: %s: %s is used only with --max-new above 0 (it is %.40s%s): %s (see `llmscope %s --help`)\n",
                c->name, opts[i].opt, v ? v : "0", v ? "" : " by default", opts[i].why, c->name);
        return 2;
    }
    return -1;
}

int cli_rules(int argc, char **argv, const CliCmd *c, const CliRule *rules) {
    for (const CliRule *r = rules; r && r->opt; r++) {
        if (!cli_given(argc, argv, r->opt)) continue;
        char alts[160] = "", given[48] = "";
        size_t k = 0;
        for (const char *p = r->other; *p;) {   /* "--frame|--frames" */
            size_t n = strcspn(p, "|");
            char nm[48];
            snprintf(nm, sizeof nm, "%.*s", (int)(n < sizeof nm ? n : sizeof nm - 1), p);
            if (!given[0] && cli_given(argc, argv, nm)) snprintf(given, sizeof given, "%s", nm);
            if (k < sizeof alts)
                k += (size_t)snprintf(alts + k, sizeof alts - k, "%s%s", k ? (p[n] ? ", " : " or ") : "", nm);
            p += n + (p[n] == '|');
        }
        if (r->kind == CLI_NEEDS && !given[0])
            fprintf(stderr, "llmscope: %s: %s is used only with %s%s%s (see `llmscope %s --help`)\n", c->name, r->opt, alts,
                    r->why ? ": " : "", r->why ? r->why : "", c->name);
        else if (r->kind == CLI_NOT_WITH && given[0])
            fprintf(stderr, "llmscope: %s: %s and %s do not go together%s%s (see `llmscope %s --help`)\n", c->name, r->opt, given,
                    r->why ? ": " : "", r->why ? r->why : "", c->name);
        else continue;
        return 2;
    }
    return -1;
}

/* ---- lookups ---------------------------------------------------------------------------------- */

/* With a checked command, the index of the value of option token i (i + 1 for "--x v"), so
 * scans skip values; else i. */
static int cli_skip_value(char **argv, int argc, int i) {
    if (!g_cmd || argv[i][0] != '-') return i;
    const CliOpt *o = cli_find(g_cmd, argv[i]);
    if (o && o->kind != CLI_FLAG && !strchr(argv[i], '=') && i + 1 < argc) return i + 1;
    return i;
}

/* The value of option `name` (or of its other spelling, e.g. -n for --max-new) at argv[i]. */
static const char *cli_match(char **argv, int argc, int i, const char *name, const char *alt, bool *hit) {
    for (int k = 0; k < 2; k++) {
        const char *nm = k ? alt : name;
        if (!nm) continue;
        size_t n = strlen(nm);
        if (strncmp(argv[i], nm, n)) continue;
        if (argv[i][n] == '=') { *hit = true; return argv[i] + n + 1; }
        if (argv[i][n] == 0) { *hit = true; return i + 1 < argc ? argv[i + 1] : NULL; }
    }
    *hit = false;
    return NULL;
}

static const char *cli_other_name(const char *name) {
    const CliOpt *o = g_cmd ? cli_find(g_cmd, name) : NULL;
    if (!o) return NULL;
    return !strcmp(o->name, name) ? o->alias : o->name;
}

const char *cli_opt(int argc, char **argv, const char *name) {
    const char *alt = cli_other_name(name);
    for (int i = 1; i < argc; i++) {
        bool hit;
        const char *v = cli_match(argv, argc, i, name, alt, &hit);
        if (hit && v) return v;
        i = cli_skip_value(argv, argc, i);
    }
    return NULL;
}

char *cli_read_text(const char *opt, const char *path, size_t max, size_t *len, Err *e) {
    char *t = file_read_all(path, len, max, e);
    if (!t) { err_prefix(e, "%s", opt); return NULL; }
    if (strlen(t) != *len) {
        err_set(e, ERR_FORMAT, "%s %s: a NUL byte at offset %zu (a text file is expected)", opt, path, strlen(t));
        free(t);
        return NULL;
    }
    return t;
}

const char *cli_prompt(int argc, char **argv, char **owned, Err *e) {
    *owned = NULL;
    const char *file = cli_opt(argc, argv, "--prompt-file");
    if (!file) return cli_opt(argc, argv, "--prompt");
    size_t len;
    *owned = cli_read_text("--prompt-file", file, (size_t)64 << 20, &len, e);
    return *owned;
}

bool cli_parse_size(const char *s, int *w, int *h) {
    /* sscanf("%dx%d") took "80x24junk", " 80x 24" and "+80x-24" */
    size_t a = strspn(s, "0123456789");
    if (a == 0 || a > 6 || (s[a] != 'x' && s[a] != 'X')) return false;
    size_t b = strspn(s + a + 1, "0123456789");
    if (b == 0 || b > 6 || s[a + 1 + b]) return false;
    *w = atoi(s);
    *h = atoi(s + a + 1);
    return true;
}

const char *cli_opt_next(int argc, char **argv, const char *const *names, int *i, const char **name) {
    for (int j = *i + 1; j < argc; j++) {
        for (int k = 0; names[k]; k++) {
            bool hit;
            const char *v = cli_match(argv, argc, j, names[k], NULL, &hit);
            if (!hit) continue;
            *i = strchr(argv[j], '=') ? j : j + 1;
            if (name) *name = names[k];
            return v;
        }
        j = cli_skip_value(argv, argc, j);
    }
    *i = argc;
    return NULL;
}

bool cli_flag(int argc, char **argv, const char *name) {
    const char *alt = cli_other_name(name);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], name) || (alt && !strcmp(argv[i], alt))) return true;
        i = cli_skip_value(argv, argc, i);
    }
    return false;
}

int cli_opt_int(int argc, char **argv, const char *name, int dflt) {
    const char *v = cli_opt(argc, argv, name);
    if (!v) return dflt;
    char *end; errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < -2147483647L || x > 2147483647L) {
        fprintf(stderr, "llmscope: %s: '%s' is not an integer\n", name, v);
        exit(2);
    }
    return (int)x;
}

double cli_opt_double(int argc, char **argv, const char *name, double dflt) {
    const char *v = cli_opt(argc, argv, name);
    if (!v) return dflt;
    char *end; errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x)) {
        fprintf(stderr, "llmscope: %s: '%s' is not a number\n", name, v);
        exit(2);
    }
    return x;
}

bool cli_parse_ids(const char *s, int **ids, int *n, Err *e) {
    int cap = 16, k = 0;
    int *a = malloc(sizeof(int) * (size_t)cap);
    if (!a) return err_set(e, ERR_MEMORY, "out of memory");
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end; errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 2147483647L) {
            free(a);
            return err_set(e, ERR_ARG, "--ids: '%s' is not a list of non-negative integers (at '%.16s')", s, p);
        }
        if (k == cap) { int *b = realloc(a, sizeof(int) * (size_t)(cap *= 2)); if (!b) { free(a); return err_set(e, ERR_MEMORY, "out of memory"); } a = b; }
        a[k++] = (int)v;
        p = end;
        if (*p && *p != ',' && *p != ' ') { free(a); return err_set(e, ERR_ARG, "--ids: unexpected '%c' in '%s'", *p, s); }
    }
    if (!k) { free(a); return err_set(e, ERR_ARG, "--ids: no ids given"); }
    *ids = a; *n = k;
    return true;
}

bool cli_check_index(const char *opt, long v, long lo, long hi, const char *what, Err *e) {
    if (v >= lo && v <= hi) return true;
    if (hi < lo) return err_set(e, ERR_ARG, "%s %ld is out of range: %s none", opt, v, what);
    return err_set(e, ERR_ARG, "%s %ld is out of range: %s %ld..%ld", opt, v, what, lo, hi);
}

int cli_empty_no_bos(const char *cmd, const char *what) {
    fprintf(stderr, "llmscope: %s: %s and --no-bos adds no BOS token: there is no token to condition on "
                    "(give some text, or leave out --no-bos to start from the BOS token)\n", cmd, what);
    return 2;
}

int cli_fail(const Err *e) {
    fprintf(stderr, "llmscope: %s\n", e->msg[0] ? e->msg : "error");
    return 1;
}

const char *cli_default_model(char *out, size_t cap) {
    const char *env = getenv("LLMSCOPE_MODEL");
    if (env && *env) { snprintf(out, cap, "%s", env); return out; }
    char root[4096];
    if (path_find_above_exe("assets/models/story-gqa/config.json", 3, root, sizeof root)) {
        snprintf(out, cap, "%s/assets/models/story-gqa", root);
        return out;
    }
    snprintf(out, cap, "assets/models/story-gqa");
    return out;
}

const char *cli_model_arg(int argc, char **argv, char *buf, size_t cap) {
    const char *m = cli_opt(argc, argv, "--model");
    if (m) return m;
    return cli_default_model(buf, cap);
}

void cli_print_floats(FILE *f, const float *x, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputc(',', f);
        if (isfinite(x[i])) fprintf(f, "%.9g", (double)x[i]);
        else fputs("null", f);
    }
    fputc(']', f);
}

bool cli_kv_round_opt(int argc, char **argv, const char *cmd, const char *opt, DType *out) {
    const char *v = cli_opt(argc, argv, opt);
    *out = DT_F32;
    if (!v || kv_round_parse(v, out)) return true;
    fprintf(stderr, "llmscope: %s: %s: unknown type '%s' (" KV_ROUND_TYPES ")\n", cmd, opt, v);
    return false;
}

bool cli_run_with_progress(Session *s, int steps, int piece, FILE *progress, Err *e) {
    const int n = session_n_prompt(s);
    for (int i = 0; i < steps; i++) {
        if (i == 0 && !session_prefilled(s) && n > 0) {
            /* the prompt in pieces: the same trace as one session_step (session.h) */
            while (!session_prefilled(s)) {
                if (session_prefill_some(s, piece, e) < 0) return false;
                if (progress) fprintf(progress, "\r%s %d/%d", tr("llmscope: running the prompt:"), session_n_prefilled(s), n), fflush(progress);
            }
            continue;
        }
        if (!session_step(s, e)) {
            if (i == 0) return false;
            err_clear(e);        /* e.g. the context is full: show what we have */
            break;
        }
        if (progress) fprintf(progress, "\r%s %d/%d", tr("llmscope: step"), i + 1, steps), fflush(progress);
    }
    if (progress) fprintf(progress, "\r\033[K"), fflush(progress);   /* the line goes before the UI draws */
    return true;
}
