/* CLI helpers and subcommand entry points. Each subcommand lives in src/cli/cmd_<name>.c and
 * returns the process exit status (0 ok, 1 error with a message on stderr, 2 usage). */
#ifndef LLMSCOPE_CLI_H
#define LLMSCOPE_CLI_H
#include <stdbool.h>
#include <stdio.h>
#include "core/err.h"
#include "engine/gencfg.h"
#include "engine/sampler.h"
#include "model/model.h"

struct Tokenizer;

/* ---- Declared options ------------------------------------------------------------------------
 * Every subcommand declares the options it accepts (a table per group, shared groups below) and
 * calls cli_check() first: --help/-h prints the usage built from the tables and exits 0; an
 * unknown option, a missing or malformed value, a value out of range, an option given twice or
 * an unexpected positional argument is an error naming the option (exit 2). After cli_check,
 * cli_opt/cli_flag skip option values, so `--prompt --json` reads "--json" as the prompt. */
typedef enum { CLI_FLAG, CLI_STR, CLI_INT, CLI_NUM, CLI_STRS /* a string that may be given several times */ } CliKind;
typedef struct {
    const char *name;      /* "--max-new" */
    const char *alias;     /* "-n", or NULL */
    CliKind kind;
    const char *arg;       /* the value's placeholder in the usage: "N", "TEXT" */
    const char *help;
    double lo, hi;         /* CLI_INT/CLI_NUM: accepted range [lo, hi] when lo < hi */
} CliOpt;
typedef struct {
    const char *name;      /* "run" */
    const char *synopsis;  /* what follows "usage: llmscope " */
    const char *about;     /* one paragraph */
    const CliOpt *const *groups;   /* NULL-terminated; each table ends with {0} */
    int max_positional;    /* arguments that are not options (lesson NAME, FILES) */
    const char *notes;     /* printed after the options, or NULL */
    bool model_env;        /* list the model/thread environment variables */
} CliCmd;
/* Returns -1 when the command should go on, else the exit status (0 after --help). */
int cli_check(int argc, char **argv, const CliCmd *c);
/* Options that act only together with another, or not with another: without such a rule an
 * option would be accepted and silently do nothing. CLI_NEEDS: opt is used only when one of
 * `other` ("--frame|--frames") is given; CLI_NOT_WITH: opt and other do not go together. The
 * message names both and adds `why` when given (exit 2). */
typedef enum { CLI_NEEDS, CLI_NOT_WITH } CliRuleKind;
typedef struct { const char *opt; CliRuleKind kind; const char *other; const char *why; } CliRule;
/* After cli_check: -1 when every rule holds, else 2 (message printed). rules ends with {0}. */
int cli_rules(int argc, char **argv, const CliCmd *c, const CliRule *rules);
extern const CliRule CLI_RULES_SAMPLING[];  /* --greedy with --temp/--top-k/--top-p; --temp with --temperature */
/* The sampling options' rules of run, generate and trace: CLI_RULES_SAMPLING, then any of
 * --greedy --temp --temperature --top-k --top-p --seed --ignore-eos --stop-eos (those the command has)
 * with -n/--max-new not above 0 (given, or the command's default max_new_default when not) is an
 * error naming it: nothing is decoded, so nothing is sampled and no end-of-sequence can stop.
 * -1 when they hold, else 2 (message printed). */
int cli_rules_sampling(int argc, char **argv, const CliCmd *c, int max_new_default);
/* Its first part alone, for tui and screenshot (their decode steps are --steps, or keys):
 * CLI_RULES_SAMPLING and --top-p above 0. -1 when they hold, else 2 (message printed). */
int cli_rules_sampler(int argc, char **argv, const CliCmd *c);
/* Shared option groups. */
extern const CliOpt CLI_OPTS_MODEL[];      /* --model --threads */
extern const CliOpt CLI_OPTS_THREADS[];    /* --threads alone (compare has its own --model) */
extern const CliOpt CLI_OPTS_TOKENIZER[];  /* --tokenizer */
extern const CliOpt CLI_OPTS_SAMPLING[];   /* --greedy --temp --temperature --top-k --top-p --seed */

/* Option lookup over argv: "--name value" or "--name=value". */
const char *cli_opt(int argc, char **argv, const char *name);
/* Of the n names, the one closest to what was typed (edit distance at most 2, or a name that
 * starts with the 4 or more characters typed), for "did you mean ...?"; NULL when none is. */
const char *cli_suggest(const char *given, const char *const *names, int n);
bool cli_flag(int argc, char **argv, const char *name);
/* Whether option name is given: a flag of the checked command (cli_check) by cli_flag, else by cli_opt. */
bool cli_given(int argc, char **argv, const char *name);
/* The values of the options in `names` (NULL-terminated, e.g. a repeatable --text and
 * --texts-file) in the order given, other options' values skipped: start with *i = 0; each call
 * returns the next value and its option in *name (may be NULL), then NULL at the end. */
const char *cli_opt_next(int argc, char **argv, const char *const *names, int *i, const char **name);
int cli_opt_int(int argc, char **argv, const char *name, int dflt);
/* The prompt: --prompt's text, or the whole of --prompt-file's file (final newline included, as
 * `tokenize --text-file` reads it; *owned holds it, the caller frees it); NULL with neither, or
 * with e set when the file cannot be read. CLI_OPT_PROMPT_FILE is the option's row and
 * CLI_RULES_PROMPT_FILE its rules (not with --prompt or --ids). */
const char *cli_prompt(int argc, char **argv, char **owned, Err *e);
/* The whole of text file `path` given to option opt (--prompt-file, --texts-file, contrast's FILE),
 * at most max bytes: NULL with "OPT: PATH: cannot open: ..." / "not a regular file" (a FIFO does not
 * block) / "OPT PATH: a NUL byte at offset N (a text file is expected)" in e. Caller frees. */
char *cli_read_text(const char *opt, const char *path, size_t max, size_t *len, Err *e);
#define CLI_OPT_PROMPT_FILE {"--prompt-file", NULL, CLI_STR, "FILE", "the prompt read from FILE (all of it, a final newline included), instead of --prompt", 0, 0}
#define CLI_RULES_PROMPT_FILE \
    {"--prompt-file", CLI_NOT_WITH, "--prompt", "give the prompt once"}, \
    {"--prompt-file", CLI_NOT_WITH, "--ids", "the prompt is the text or the ids"}
double cli_opt_double(int argc, char **argv, const char *name, double dflt);
/* Parses a --size value "WxH" (digits, 'x' or 'X', digits; nothing else, each at most 6 digits) into
 * *w and *h; false when it is not of that form. The caller checks the range. */
bool cli_parse_size(const char *s, int *w, int *h);
/* Parses "5,17,42" into a malloc'd int array. false + message on bad input. */
bool cli_parse_ids(const char *s, int **ids, int *n, Err *e);
/* An index whose range depends on the model or the text (--layer, --head, --pos, --key,
 * --frame...): false with "OPT V is out of range: WHAT LO..HI" in e when v is outside [lo, hi]
 * (e.g. "--layer 99 is out of range: this model has layers 0..5"). Every subcommand checks such
 * indices this way (exit 1); none clamps them. */
bool cli_check_index(const char *opt, long v, long lo, long hi, const char *what, Err *e);
/* An empty text with --no-bos has no token to condition on: says so naming both (what: "--prompt
 * is empty") and returns 2. */
int cli_empty_no_bos(const char *cmd, const char *what);
/* Prints "llmscope: <msg>" to stderr and returns 1. */
int cli_fail(const Err *e);
/* Default model path: $LLMSCOPE_MODEL, else the bundled default (assets/models/story-gqa
 * next to the binary's repo, or the install path). Writes into out. */
const char *cli_default_model(char *out, size_t cap);
/* --model value or the default. */
const char *cli_model_arg(int argc, char **argv, char *buf, size_t cap);
/* JSON helper: prints a float array with enough digits to round-trip (%.9g); nan/inf as null. */
void cli_print_floats(FILE *f, const float *x, int n);

/* Option opt (eval --kv-round, compare --kv-round-a/-b) as a KV-cache rounding type (engine/kvround.h)
 * in *out, DT_F32 when absent; false after printing "llmscope: CMD: OPT: unknown type ..." (exit 2). */
bool cli_kv_round_opt(int argc, char **argv, const char *cmd, const char *opt, DType *out);
/* --threads N or $LLMSCOPE_THREADS (default: the cores this process may use), applied to the engine; returns it. */
int cli_threads_arg(int argc, char **argv);
/* --model (or the bundled default) loaded; config-only directories only when allowed. */
Model *cli_load_model(int argc, char **argv, bool config_only_ok, Err *e);
/* What run, generate and trace (command cmd) decode with: the model's sampling defaults (ModelSpec.gen:
 * generation_config.json or GGUF general.sampling.*, transformers' defaults for what they leave out),
 * each of --greedy / --temp / --top-k / --top-p overriding only its own field (engine/gencfg.h); --seed
 * (42). When some settings come from options and some from the model, one line on stderr says which.
 * used false (nothing decoded): greedy, nothing checked. False with e filled when a model field that
 * is needed has a wrong type or value (naming the file, the field and the option that replaces it). */
bool cli_sampler_for_model(int argc, char **argv, const char *cmd, const ModelSpec *s, bool used, SamplerCfg *out, Err *e);
/* The sampling options given (--greedy --temp/--temperature --top-k --top-p --seed) as an override of
 * the model's defaults (engine/gencfg.h); the names point into argv or are literals. */
void cli_gen_override(int argc, char **argv, GenOverride *o);
/* The model's tokenizer, or --tokenizer FILE (tokenizer.json or a llama2.c tokenizer.bin). */
struct Tokenizer *cli_load_tokenizer(int argc, char **argv, const Model *m, Err *e);
struct Tokenizer *cli_tokenizer_file(const char *path, int vocab_size, Err *e);   /* a --tokenizer FILE, read by its bytes */

/* `tui --run` before the UI opens: the prompt's prefill in pieces of `piece` tokens, then decode
 * steps up to `steps` in all (as `steps` calls of session_step would leave it: the same trace; piece
 * <= 0: the prompt in one piece), with
 * a progress line on `progress` (NULL: none) after each piece and step. A long prompt on a real-size
 * model takes minutes on a busy machine; the terminal showed nothing meanwhile. Returns false when
 * the first step fails (a later one only stops the steps: e.g. the context is full). */
struct Session;
bool cli_run_with_progress(struct Session *s, int steps, int piece, FILE *progress, Err *e);

int cmd_logits(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tui(int argc, char **argv);
int cmd_screenshot(int argc, char **argv);
int cmd_contrast(int argc, char **argv);
int cmd_lesson(int argc, char **argv);
int cmd_list_models(int argc, char **argv);
int cmd_similarity(int argc, char **argv);
int cmd_quantlens(int argc, char **argv);
#endif
