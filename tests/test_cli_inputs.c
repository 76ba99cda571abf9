/* What a new user types and feeds, table-driven: every subcommand with an unknown option,
 * numeric options out of range, files that are not what their option says (a tokenizer.json
 * under another name, garbage as --tokenizer, empty and non-UTF-8 text files), config.json
 * fields of the wrong type, invalid UTF-8 prompts. Each row: the exit status wanted and what
 * the output must (and must not) contain. Under `make test SANITIZER=address` the CLI runs
 * are the sanitized binary and any sanitizer report fails the row. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "tokenizer/tokenizer.h"

#define MODEL "assets/models/story-gqa"
#define FX_B "tests/fixtures/models/qwen3"   /* 2 layers, 4 heads, 96 ids: a --compare model smaller than MODEL */

typedef struct {
    const char *args;    /* after the binary; %D is the scratch directory */
    int rc;              /* wanted exit status */
    const char *want;    /* substring of stdout+stderr (NULL: none) */
    const char *want2;   /* a second one */
    const char *never;   /* must not appear (NULL: none) */
} CliRow;

static char g_dir[1024];

static bool sanitizer_output(const char *s) {
    return strstr(s, "Sanitizer") || strstr(s, "runtime error:") || strstr(s, "Segmentation") ||
           strstr(s, "Aborted") || strstr(s, "core dumped");
}

/* Expands %D, runs with a timeout, returns the status; *out gets stdout and stderr. */
static int run_row(const char *args, char **out) {
    char expanded[4096], cmd[8192];
    size_t o = 0;
    for (const char *p = args; *p && o + 300 < sizeof expanded; p++) {
        if (p[0] == '%' && p[1] == 'D') { o += (size_t)snprintf(expanded + o, sizeof expanded - o, "%s", g_dir); p++; }
        else expanded[o++] = *p;
    }
    expanded[o] = 0;
    snprintf(cmd, sizeof cmd, "timeout -k 5 120 %s %s </dev/null", test_bin(), expanded);
    return test_run(cmd, out, 1);
}

static void run_table(TestCtx *T_, const CliRow *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *out = NULL;
        int rc = run_row(rows[i].args, &out);
        const char *s = out ? out : "";
        CHECK_MSG(rc == rows[i].rc, "`%s`: exit status %d, wanted %d: %.500s", rows[i].args, rc, rows[i].rc, s);
        CHECK_MSG(!sanitizer_output(s), "`%s`: sanitizer or crash: %.800s", rows[i].args, s);
        CHECK_MSG(!rows[i].want || strstr(s, rows[i].want), "`%s`: no \"%s\" in: %.500s", rows[i].args, rows[i].want, s);
        CHECK_MSG(!rows[i].want2 || strstr(s, rows[i].want2), "`%s`: no \"%s\" in: %.500s", rows[i].args, rows[i].want2, s);
        CHECK_MSG(!rows[i].never || !strstr(s, rows[i].never), "`%s`: \"%s\" in: %.500s", rows[i].args, rows[i].never, s);
        free(out);
    }
}

/* g_dir's files the rows name with %D */
static bool scratch_fill(void) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cp " MODEL "/tokenizer.json '%s/tok.txt' && cp -r " MODEL " '%s/m' && cd '%s' && "
             "printf 'The cat \\377\\376 sat.\\303' > bad.txt && : > empty.txt && printf 'not a tokenizer at all' > garbage.bin && "
             "echo '[{\"role\": \"user\", \"content\": \"hi\"}]' > ok.json && echo '{{ messages[0].content }}' > ok.jinja && "
             "printf 'x y\\n\\nz w\\n' > two.txt && printf 'Once upon a time, a cat' > prompt.txt",
             g_dir, g_dir, g_dir);
    return system(cmd) == 0;
}

static void (*g_body)(TestCtx *T_);
static void scratch_body(TestCtx *T_, const char *dir) {
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    if (!scratch_fill()) { FAILF("cannot fill the scratch directory %s", dir); return; }
    g_body(T_);
}

/* Runs body with g_dir (%D) a new scratch directory (test_in_tmpdir: under $TMPDIR, removed
 * afterwards, also when body returns early). */
static void with_scratch(TestCtx *T_, void (*body)(TestCtx *T_)) {
    g_body = body;
    test_in_tmpdir(T_, "cli", scratch_body);
}

#define NEED_MODEL() do { if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK)) SKIP("needs %s and %s", test_bin(), MODEL); } while (0)

/* Every subcommand refuses an option it does not have, by name, with status 2. */
TEST(cli_unknown_option_every_subcommand) {
    NEED_MODEL();
    static const char *cmds[] = {"tui", "run", "generate", "logits", "info", "eval", "tokenize", "detokenize", "trace",
                                 "screenshot", "lesson", "bench", "contrast", "chat-template", "similarity", "compare",
                                 "quant-lens"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s --no-such-option 3", cmds[i]);
        CliRow r = {args, 2, "--no-such-option", "llmscope", NULL};
        run_table(T_, &r, 1);
    }
}

TEST(cli_numbers_out_of_range) {
    NEED_MODEL();
    static const CliRow rows[] = {
        {"screenshot --model " MODEL " --size 0x0", 2, "--size", "0x0", NULL},
        {"screenshot --model " MODEL " --size 100000x100000", 2, "--size", NULL, NULL},
        {"screenshot --model " MODEL " --size 80", 2, "--size", NULL, NULL},
        {"screenshot --model " MODEL " --keys 'i{rigth}'", 2, "--keys", "{rigth}", NULL},
        {"screenshot --model " MODEL " --keys '{right'", 2, "--keys", "{right", NULL},
        {"quant-lens --model " MODEL " --prompt hi --layer 0 --pos -3", 2, "--pos", "-3", NULL},
        {"quant-lens --model " MODEL " --prompt hi --layer 99", 1, "layer 99", NULL, NULL},
        {"quant-lens --model " MODEL " --prompt hi --layer 0 --pos 99", 1, "--pos 99", NULL, NULL},
        {"similarity --model " MODEL " --layer -1 --text a --text b", 2, "--layer", "-1", NULL},
        {"similarity --model " MODEL " --layer 99 --text a --text b", 1, "--layer 99", NULL, NULL},
        {"lesson 1 --frame -1", 2, "--frame", "-1", NULL},
        {"info --model " MODEL " --ctx -1", 2, "--ctx", "-1", NULL},
        {"info --model " MODEL " --context -1", 2, "--ctx", "-1", NULL},   /* the older spelling of --ctx */
        {"info --model " MODEL " --ctx 100", 0, "at 100 tokens", NULL, "llmscope:"},
        {"info --model " MODEL " --context 100", 0, "at 100 tokens", NULL, "llmscope:"},
        {"info --model " MODEL " --ctx 100 --context 200", 2, "--ctx given twice", NULL, NULL},
        {"info --model " MODEL " --contxt 100", 2, "did you mean --context?", NULL, NULL},
        {"run --model " MODEL " --prompt hi --top-k -1", 2, "--top-k", NULL, NULL},
        {"run --model " MODEL " --prompt hi --top-p 1.01", 2, "--top-p", NULL, NULL},
        {"run --model " MODEL " --prompt hi --temp nan", 2, "--temp", NULL, NULL},
        {"run --model " MODEL " --prompt hi --ctx 2 -n 5", 1, "context full", "--ctx", NULL},
        {"generate --model " MODEL " --ids 1 --max-new 1x", 2, "--max-new", "1x", NULL},
        {"generate --model " MODEL " --ids 1,99999", 1, "99999", NULL, NULL},
        {"trace --model " MODEL " --ids 1 --hooks '*' --json -n -1", 2, "--max-new", NULL, NULL},
        {"tui --model " MODEL " --theme purple", 2, "--theme", "purple", NULL},
        {"tui --model " MODEL " --lang xx", 2, "--lang", "xx", NULL},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

/* An index whose range depends on the model, the text or the lesson (--layer, --head, --pos,
 * --key, --frame, --step, --emb-layer, ids) is an error naming the option, the value and the
 * range in every subcommand (story-gqa: 6 layers, 8 heads); none clamps. The last valid value
 * of each still works, so an off-by-one either way fails a row. */
TEST(cli_indices_out_of_range_same_everywhere) {
    NEED_MODEL();
    static const CliRow rows[] = {
        {"screenshot --model " MODEL " --prompt hi --layer 99", 1, "--layer 99 is out of range", "layers 0..5", NULL},
        {"screenshot --model " MODEL " --prompt hi --layer 6", 1, "--layer 6 is out of range", "layers 0..5", NULL},
        {"screenshot --model " MODEL " --prompt hi --head 8", 1, "--head 8 is out of range", "heads 0..7", NULL},
        {"screenshot --model " MODEL " --prompt hi --layer 5 --head 7", 0, "L5 head 7", NULL, "llmscope:"},
        {"screenshot --model " MODEL " --prompt hi --pos 3", 1, "--pos 3 is out of range", "positions 0..2", NULL},
        {"screenshot --model " MODEL " --prompt hi --pos 1 --key 2", 1, "--key 2 is out of range", "position 1 attends to keys 0..1", NULL},
        {"screenshot --model " MODEL " --prompt hi --pos 2 --key 2", 0, NULL, NULL, "llmscope:"},
        {"screenshot --model " MODEL " --ids 5,99999", 1, "99999", "(0..2047)", NULL},
        {"tui --model " MODEL " --prompt hi --run --layer 6", 1, "--layer 6 is out of range", "layers 0..5", NULL},
        /* with --compare, each model's range: B (2 layers, 4 heads) is named when only it is exceeded */
        {"screenshot --model " MODEL " --ids 5,6 --compare " FX_B " --layer 2", 1, "--layer 2 is out of range", "model B (--compare " FX_B ") has layers 0..1", NULL},
        {"screenshot --model " MODEL " --ids 5,6 --compare " FX_B " --head 4", 1, "--head 4 is out of range", "model B (--compare " FX_B ") has heads 0..3", NULL},
        {"screenshot --model " MODEL " --ids 5,6 --compare " FX_B " --layer 6", 1, "--layer 6 is out of range", "model A (--model " MODEL ") has layers 0..5", NULL},
        {"screenshot --model " FX_B " --ids 5,6 --compare " MODEL " --head 7", 1, "--head 7 is out of range", "model A (--model " FX_B ") has heads 0..3", NULL},
        {"screenshot --model " MODEL " --ids 5,6 --compare " FX_B " --layer 1 --head 3", 0, "L1 head 3", NULL, "llmscope:"},
        {"tui --model " MODEL " --ids 5,6 --compare " FX_B " --layer 3", 1, "--layer 3 is out of range", "model B (--compare " FX_B ") has layers 0..1", NULL},
        {"tui --model " MODEL " --prompt hi --pos 1", 2, "--pos is used only with --run", NULL, NULL},
        {"tui --model " MODEL " --prompt hi --key 0", 2, "--key is used only with --run", NULL, NULL},
        {"tui --model " MODEL " --prompt hi --steps 3", 2, "--steps is used only with --run", NULL, NULL},
        {"similarity --model " MODEL " --layer 7 --text a --text b", 1, "--layer 7 is out of range", "residual layers 0..6", NULL},
        {"similarity --model " MODEL " --layer 6 --text a --text b --json", 0, "\"layer\": 6", NULL, "llmscope:"},
        {"quant-lens --model " MODEL " --prompt hi --layer 6", 1, "--layer 6 is out of range", "layers 0..5", NULL},
        {"quant-lens --model " MODEL " --ids 5,6,7 --layer 0 --pos 3", 1, "--pos 3 is out of range", "positions 0..2", NULL},
        {"quant-lens --model " MODEL " --ids 5,6,7 --layer 5 --pos 2 --type q8_0 --json", 0, "\"layer\": 5", NULL, "llmscope:"},
        {"trace --model " MODEL " --prompt hi --emb-layer 7 --hooks hook_logits --json", 1, "--emb-layer 7 is out of range", "residual layers 0..6", NULL},
        {"lesson 1 --frame 99", 1, "--frame 99 is out of range", "steps 1..", NULL},
        {"lesson 1 --step 99", 1, "--step 99 is out of range", "steps 1..", NULL},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

/* An empty prompt with --no-bos has no token to condition on: an error naming both options in
 * every command that takes them (without --no-bos it starts from BOS, the row in
 * cli_invalid_utf8_prompt). */
TEST(cli_empty_prompt_with_no_bos) {
    NEED_MODEL();
    static const CliRow rows[] = {
        {"run --model " MODEL " --prompt '' --no-bos -n 2 --greedy", 2, "--prompt is empty", "--no-bos", NULL},
        {"run --model " MODEL " --no-bos -n 2 --greedy", 2, "no --prompt", "--no-bos", NULL},
        {"trace --model " MODEL " --prompt '' --no-bos --hooks hook_logits --json", 2, "--prompt is empty", "--no-bos", "\"ids\""},
        {"quant-lens --model " MODEL " --prompt '' --no-bos --layer 0", 2, "--prompt is empty", "--no-bos", "KL"},
        {"similarity --model " MODEL " --layer 1 --text a --text '' --no-bos", 2, "text 2 (--text) is empty", "--no-bos", NULL},
        {"trace --model " MODEL " --prompt '' --hooks hook_logits --json", 0, "\"ids\": [0]", NULL, "llmscope:"},
        {"run --model " MODEL " --prompt hi --no-bos -n 1 --greedy", 0, "hi", NULL, "llmscope:"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

/* An option that would be accepted and do nothing (it acts only with another option, or another
 * one overrides it) is an error naming both, exit 2, in every command; each row's working
 * counterpart still runs. */
static void cli_options_that_would_do_nothing_body(TestCtx *T_) {
    static const CliRow rows[] = {
        {"run --model " MODEL " --prompt hi --template x.jinja -n 1", 2, "--template is used only with --chat", NULL, NULL},
        {"run --model " MODEL " --prompt hi --set a=1 -n 1", 2, "--set is used only with --chat", NULL, NULL},
        {"run --model " MODEL " --prompt hi --chat --no-bos -n 1", 2, "--no-bos and --chat do not go together", NULL, NULL},
        {"run --model " MODEL " --prompt hi --greedy --temp 0.7 -n 1", 2, "--greedy and --temp do not go together", NULL, NULL},
        {"run --model " MODEL " --prompt hi --temp 0.7 --temperature 0.5 -n 1", 2, "--temp and --temperature", NULL, NULL},
        {"run --model " MODEL " --prompt hi --temp 0 --seed 3 -n 1", 0, "hi", NULL, "llmscope:"},
        {"generate --model " MODEL " --ids 1 --greedy --top-k 5", 2, "--greedy and --top-k", NULL, NULL},
        {"generate --model " MODEL " --ids 1 --ignore-eos --stop-eos", 2, "--ignore-eos and --stop-eos do not go together", NULL, NULL},
        {"tokenize --model " MODEL " --text hi --bos-token x", 2, "--bos-token is used only with --chat", NULL, NULL},
        {"tokenize --model " MODEL " --text hi --chat --raw", 2, "--raw and --chat do not go together", NULL, NULL},
        {"trace --model " MODEL " --ids 1 --no-bos --hooks hook_logits --json", 2, "--no-bos is used only with --prompt", NULL, NULL},
        {"trace --model " MODEL " --ids 1 --greedy --top-p 0.5 -n 2 --hooks hook_logits --json", 2, "--greedy and --top-p", NULL, NULL},
        {"trace --model " MODEL " --ids 1 --temp 0.5 --hooks hook_logits --json", 2, "--temp is used only with --max-new above 0 (it is 0 by default)", "-n", "\"ids\""},
        {"trace --model " MODEL " --ids 1 -n 0 --seed 3 --hooks hook_logits --json", 2, "--seed is used only with --max-new above 0 (it is 0)", NULL, "\"ids\""},
        {"trace --model " MODEL " --ids 1 --max-new=0 --greedy --hooks hook_logits --json", 2, "--greedy is used only with --max-new above 0", NULL, NULL},
        {"trace --model " MODEL " --ids 1 --top-k 3 --top-p 0.9 --temperature 0.7 -n 2 --hooks hook_logits --json", 0, "\"ids\": [1, ", NULL, "llmscope:"},
        /* run and generate as trace: -n 0 decodes nothing, so a sampling option would do nothing */
        {"run --model " MODEL " --prompt hi -n 0 --temp 0.5", 2, "run: --temp is used only with --max-new above 0 (it is 0)", "-n", NULL},
        {"run --model " MODEL " --prompt hi --max-new=0 --greedy", 2, "--greedy is used only with --max-new above 0", NULL, NULL},
        {"run --model " MODEL " --prompt hi -n 0 --top-p 0.9 --seed 4", 2, "--top-p is used only with --max-new above 0", NULL, NULL},
        {"generate --model " MODEL " --ids 1 -n 0 --seed 3", 2, "generate: --seed is used only with --max-new above 0 (it is 0)", NULL, "\"ids\""},
        {"generate --model " MODEL " --ids 1 --max-new 0 --top-k 5 --json", 2, "--top-k is used only with --max-new above 0", NULL, "\"ids\""},
        {"generate --model " MODEL " --ids 1 -n 0 --temperature 0.7", 2, "--temperature is used only with --max-new above 0", NULL, NULL},
        {"run --model " MODEL " --prompt hi -n 0 --ignore-eos", 2, "run: --ignore-eos is used only with --max-new above 0 (it is 0): only a token decoded", NULL, NULL},
        {"generate --model " MODEL " --ids 1 --max-new=0 --ignore-eos --json", 2, "generate: --ignore-eos is used only with --max-new above 0", NULL, "\"ids\""},
        {"generate --model " MODEL " --ids 1 -n 0 --stop-eos", 2, "generate: --stop-eos is used only with --max-new above 0", NULL, NULL},
        {"run --model " MODEL " --prompt hi -n 2 --ignore-eos", 0, "hi", NULL, "llmscope:"},
        {"generate --model " MODEL " --ids 1 --ignore-eos --json", 0, "{\"ids\": [", NULL, "llmscope:"},   /* -n's default 16 */
        {"generate --model " MODEL " --ids 1 -n 0 --json", 0, "{\"ids\": []}", NULL, "llmscope:"},
        {"run --model " MODEL " --prompt hi -n 0", 0, "hi", NULL, "llmscope:"},
        {"generate --model " MODEL " --ids 1 --seed 3 --json", 0, "{\"ids\": [", NULL, "llmscope:"},   /* -n's default 16 */
        {"run --model " MODEL " --prompt hi --temp 0.5 --seed 3", 0, "hi", "llmscope: run: sampling with temperature 0.5 (--temp)", "error"},   /* -n's default 64 */
        {"trace --model " MODEL " --ids 1,2 --all-logits --hooks blocks.0.hook_resid_post --json", 2, "--all-logits is used only when --hooks selects hook_logits", NULL, NULL},
        {"trace --model " MODEL " --ids 1,2 --all-logits --hooks 'blocks.0.hook_resid_post, hook_l*' --json", 0, "\"hook_logits\", \"shape\": [2, 2048]", NULL, "llmscope:"},
        {"quant-lens --model " MODEL " --ids 1,2 --no-bos --layer 0", 2, "--no-bos is used only with --prompt", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --svg --format html", 2, "--svg and --format", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --ansi --format svg", 2, "--ansi and --format", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --color 256", 2, "--color is used only with --ansi or --format", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --format svg --color 256", 2, "--color is used only with --ansi or --format ansi", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --ansi --color purple", 2, "--color", "purple", NULL},
        {"screenshot --model " MODEL " --prompt hi --format ansi --color 16", 0, "\x1b[", NULL, "llmscope:"},
        {"screenshot --model " MODEL " --prompt hi --hint", 2, "--hint is used only with --full or --compare", NULL, NULL},
        /* tui and screenshot take run's sampling options with run's checks (they took every one of these) */
        {"screenshot --model " MODEL " --prompt hi --greedy --temp 0.7", 2, "screenshot: --greedy and --temp do not go together", NULL, "\xe2\x94\x8c"},
        {"screenshot --model " MODEL " --prompt hi --temp 0.5 --temperature 0.6", 2, "--temp and --temperature do not go together", NULL, NULL},
        {"screenshot --model " MODEL " --prompt hi --top-p -0", 2, "screenshot: --top-p: -0 is out of range: it must be above 0", NULL, NULL},
        {"tui --model " MODEL " --greedy --top-k 3", 2, "tui: --greedy and --top-k do not go together", NULL, "needs a terminal"},
        {"tui --model " MODEL " --top-p 0", 2, "tui: --top-p: 0 is out of range", NULL, "needs a terminal"},
        {"screenshot --model " MODEL " --prompt hi --temp 0.7 --top-k 3 --top-p 0.9 --seed 3 --steps 2", 0, "\xe2\x94\x8c", NULL, "llmscope:"},
        {"lesson 1 --verbose", 2, "--verbose is used only with --check", NULL, NULL},
        {"lesson 1 --reveal", 2, "--reveal is used only with --frame", NULL, NULL},
        {"lesson 1 --format svg", 2, "--format is used only with --frame or --frames", NULL, NULL},
        {"lesson 1 --size 80x24", 2, "--size is used only with --frame, --frames or --check", NULL, NULL},
        {"lesson 1 --frame 2 --step 3", 2, "--step and --frame", NULL, NULL},
        {"lesson 1 --script --frame 2", 2, "--frame and --script do not go together", NULL, NULL},
        {"lesson 1 --frame 2 --reveal --size 80x24 --format html", 0, "<pre", NULL, "llmscope:"},
        {"bench --out %D/x", 2, "--out is used only with --gen", NULL, NULL},
        {"bench --rounds 2", 2, "--rounds is used only with --model or --only", NULL, NULL},
        {"bench --gen stories110m --model " MODEL, 2, "--gen and --model do not go together", NULL, NULL},
        {"bench --only prefill", 2, "--only", "'decode' and 'recorder'", NULL},
        {"bench --model " MODEL " --only decode", 2, "--only decode measures the built-in llama", "--only recorder", NULL},
        {"bench --model " MODEL " --only recorder --far 16", 2, "--only and --far do not go together", NULL, "\"model\""},
        /* bench --model: an option that no selected section reads is refused, naming it */
        {"bench --model " MODEL " --traced --far 100", 2, "--far does nothing with --traced alone", "--full", "\"model\""},
        {"bench --model " MODEL " --traced --decode 3", 2, "--decode does nothing with --traced alone", NULL, "\"model\""},
        {"bench --model " MODEL " --panels --busy --prefill 8", 2, "--prefill does nothing with --busy and --panels alone", NULL, "\"model\""},
        {"bench --model " MODEL " --full", 2, "--full is used only with --busy, --panels or --traced", NULL, "\"model\""},
        {"bench --full --traced", 2, "--traced is used only with --model", NULL, NULL},
        {"bench --model " MODEL " --trace", 2, "unknown option '--trace'", "--traced", "\"model\""},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_options_that_would_do_nothing) {
    NEED_MODEL();
    with_scratch(T_, cli_options_that_would_do_nothing_body);
}

static void cli_files_that_are_not_what_the_option_says_body(TestCtx *T_) {
    static const CliRow rows[] = {
        /* a tokenizer.json under another name is read by its bytes, not its name */
        {"tokenize --tokenizer %D/tok.txt --text hi", 0, "hf-bpe", NULL, NULL},
        {"run --model " MODEL " --tokenizer %D/tok.txt --prompt hi -n 2 --greedy", 0, "hi", NULL, NULL},
        /* garbage as --tokenizer: named as such, not "no tokenizer beside this model" */
        {"tokenize --tokenizer %D/garbage.bin --text hi", 1, "--tokenizer", "not a tokenizer.json", "beside"},
        {"run --model " MODEL " --tokenizer %D/garbage.bin --prompt hi", 1, "--tokenizer", "garbage.bin", "beside"},
        {"tokenize --tokenizer %D/nothing-here.json --text hi", 1, "nothing-here.json", NULL, NULL},
        /* empty and non-UTF-8 text files */
        {"eval --model " MODEL " --text-file %D/empty.txt", 1, "empty.txt", NULL, NULL},
        {"eval --model " MODEL " --text-file %D/bad.txt", 0, "tokens", NULL, NULL},
        {"eval --model " MODEL " --text-file %D", 1, "not a regular file", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --texts-file %D/empty.txt", 1, "--texts-file", "empty.txt: no text in it", NULL},
        {"compare --model " MODEL " --model " MODEL " --text ''", 1, "too short", NULL, NULL},
        {"tokenize --model " MODEL " --text-file %D/bad.txt", 0, "<0xEF>", NULL, NULL},
        {"chat-template --template %D/bad.txt --messages %D/ok.json", 1, "bad.txt", "UTF-8", NULL},
        {"chat-template --template %D/ok.jinja --messages %D/tok.txt", 1, "tok.txt: chat template: messages:", NULL, "ok.jinja"},
        {"chat-template --template %D/ok.jinja --messages %D/bad.txt", 1, "bad.txt", "messages", "ok.jinja"},
        {"lesson --check %D/bad.txt", 1, "bad.txt", "JSON", NULL},
        {"contrast %D/empty.txt", 1, "no letters", NULL, NULL},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_files_that_are_not_what_the_option_says) {
    NEED_MODEL();
    with_scratch(T_, cli_files_that_are_not_what_the_option_says_body);
}

/* Text files that are not text files, through every option that reads one: a FIFO blocked
 * similarity and tui/screenshot --texts-file, contrast FILE, bench --text and tokenize --model
 * x.bin (its llama2.c header read) until the timeout; a directory was "no text" to similarity
 * (give at least one --text), silently nothing to screenshot --texts-file and "no letters" to
 * contrast; screenshot --texts-file took a NUL byte and an empty file silently; a --prompt-file
 * that cannot be read read "--prompt-file: : nope.txt". Each is now an error naming the option and
 * the file (exit 1), as --prompt-file's; a good texts file reads as before. */
static void cli_text_files_body(TestCtx *T_) {
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "cd '%s' && mkfifo fifo fifo.bin && printf 'a\\000b\\nc\\n' > nul.txt && mkdir adir && "
             "printf 'x y\\r\\n\\nz w\\n' > crlf.txt", g_dir);
    REQUIRE(system(cmd) == 0);
    static const CliRow rows[] = {
        {"similarity --model " MODEL " --layer 1 --texts-file %D/fifo", 1, "--texts-file: ", "fifo: not a regular file", NULL},
        {"similarity --model " MODEL " --layer 1 --texts-file %D/adir", 1, "--texts-file: ", "adir: not a regular file", NULL},
        {"similarity --model " MODEL " --layer 1 --texts-file %D/nul.txt", 1, "--texts-file ", "nul.txt: a NUL byte at offset 1", NULL},
        {"screenshot --model " MODEL " --texts-file %D/fifo", 1, "--texts-file: ", "fifo: not a regular file", "\xe2\x94\x8c"},
        {"screenshot --model " MODEL " --texts-file %D/adir --panel embeddings", 1, "--texts-file: ", "adir: not a regular file", "\xe2\x94\x8c"},
        {"screenshot --model " MODEL " --texts-file %D/nul.txt", 1, "--texts-file ", "nul.txt: a NUL byte at offset 1", "\xe2\x94\x8c"},
        {"screenshot --model " MODEL " --texts-file %D/empty.txt", 1, "--texts-file ", "empty.txt: no text in it", "\xe2\x94\x8c"},
        {"screenshot --model " MODEL " --texts-file %D/crlf.txt --panel embeddings --size 100x30", 0, "2    0.235  1.000 z w", "1.000  0.235 x y", "llmscope:"},
        {"contrast %D/fifo", 1, "contrast: ", "fifo: not a regular file", "letters"},
        {"contrast %D/adir", 1, "contrast: ", "adir: not a regular file", "no letters"},
        {"tokenize --model %D/fifo.bin --text hi", 1, "fifo.bin: not a regular file", NULL, "no such file"},
        {"bench --text %D/fifo", 1, "--text: ", "fifo: not a regular file", "decode"},
        {"screenshot --model " MODEL " --compare %D/empty.txt", 1, "--compare: ", "empty.txt: not a model file", NULL},
        {"tui --model " MODEL " --compare %D/adir", 1, "--compare: ", "adir: no config.json", "needs a terminal"},
        {"bench --compare-bin %D/empty.txt", 2, "--compare-bin '", "empty.txt': not an executable file", "decode"},
        {"bench --compare-bin=", 2, "--compare-bin '': not an executable file", NULL, "decode"},
        {"run --model " MODEL " --prompt-file %D/nope.txt", 1, "--prompt-file: ", "nope.txt: cannot open", "--prompt-file: : "},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_text_files_that_are_not_text_files) {
    NEED_MODEL();
    with_scratch(T_, cli_text_files_body);
}

/* An invalid UTF-8 prompt runs (the tokenizer sees U+FFFD, as from_utf8_lossy gives it) and
 * `run` echoes that text, not the raw bytes. */
TEST(cli_invalid_utf8_prompt) {
    NEED_MODEL();
    static const CliRow rows[] = {
        {"run --model " MODEL " --prompt \"$(printf 'a\\377b\\342\\202c')\" -n 1 --greedy", 0,
         "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c", NULL, "\xFF"},
        {"trace --model " MODEL " --prompt \"$(printf 'a\\377b')\" --hooks blocks.0.hook_resid_post --json", 0,
         "\"ids\": [0, 65, 172, 124, 122, 66]", NULL, NULL},
        {"run --model " MODEL " --prompt '' -n 2 --greedy", 0, NULL, NULL, "llmscope:"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

/* config.json fields of the wrong type, in a copy of a working model: the CLI names file and field. */
static void cli_config_wrong_types_body(TestCtx *T_) {
    static const struct { const char *sed, *field; } cases[] = {
        {"s/\"tie_word_embeddings\": [a-z]*/\"tie_word_embeddings\": \"false\"/", "\"tie_word_embeddings\" must be true or false"},
        {"s/\"model_type\": \"[a-z_0-9]*\"/\"model_type\": 7/", "\"model_type\" must be a string"},
        {"s/\"model_type\": \"[a-z_0-9]*\"/\"model_type\": \"smollm3\"/", "no_rope_layers"},
        {"s/\"hidden_act\": \"[a-z]*\"/\"hidden_act\": [1]/", "\"hidden_act\" must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cp " MODEL "/config.json '%s/m/config.json' && sed -i '%s' '%s/m/config.json' && "
                 "! cmp -s " MODEL "/config.json '%s/m/config.json'", g_dir, cases[i].sed, g_dir, g_dir);
        if (system(cmd) != 0) { CHECK_MSG(0, "could not make case %zu (%s)", i, cases[i].sed); continue; }
        CliRow r = {"info --model %D/m", 1, "config.json", cases[i].field, NULL};
        run_table(T_, &r, 1);
        CliRow r2 = {"generate --model %D/m --ids 1 -n 1", 1, "config.json", cases[i].field, NULL};
        run_table(T_, &r2, 1);
    }
}

TEST(cli_config_wrong_types) {
    NEED_MODEL();
    with_scratch(T_, cli_config_wrong_types_body);
}

/* The ids `generate` (or `run`'s text, or `trace`'s "ids") gives for ARGS on model dir %D/g. */
static char *gen_out(TestCtx *T_, const char *cmd, const char *args) {
    char row[1024], *out = NULL;
    snprintf(row, sizeof row, "%s --model %%D/g %s", cmd, args);
    int rc = run_row(row, &out);
    CHECK_MSG(rc == 0 && out && !strstr(out, "llmscope:"), "`%s`: status %d: %.400s", row, rc, out ? out : "");
    return out ? out : strdup("");
}

/* Without sampling options, run, generate and trace all sample as the model's
 * generation_config.json says (no do_sample: greedy; do_sample with temperature/top_k/top_p),
 * a field it leaves out and a model without the file taking transformers' GenerationConfig
 * default (do_sample false, temperature 1, top_k 50, top_p 1; null switches a filter off): each
 * default equals the explicit options it stands for, and differs from the other choice over these
 * 40 tokens (so a command that ignored the file, or a default that differs, fails a row). Options
 * given alone merge with these defaults: tests/test_gencfg.c. */
static void cli_sampling_defaults_from_generation_config_body(TestCtx *T_) {
    static const struct { const char *gcfg, *same, *other, *file; } cases[] = {
        {"{\"bos_token_id\": 0, \"eos_token_id\": 0}", "--greedy", "--temp 1 --top-k 50 --top-p 1", NULL},   /* the bundled models' file */
        {"{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": 50, \"top_p\": 0.95}", "--temp 1.5 --top-k 50 --top-p 0.95", "--greedy", NULL},
        {"{\"do_sample\": true, \"temperature\": 1.5}", "--temp 1.5 --top-k 50 --top-p 1", "--temp 1.5 --top-k 0 --top-p 1", NULL},   /* top_k left out: 50 */
        {"{\"do_sample\": true, \"temperature\": 1.5, \"top_k\": null}", "--temp 1.5 --top-k 0 --top-p 1", "--temp 1.5 --top-k 50 --top-p 1", NULL},
        {"{\"temperature\": 1.5, \"top_k\": 5}", "--greedy", "--temp 1.5 --top-k 5 --top-p 1", NULL},   /* no do_sample: greedy */
        {NULL, "--greedy", "--temp 1 --top-k 50 --top-p 1", NULL},   /* no generation_config.json: greedy, as transformers */
        {NULL, "--greedy", "--temp 1 --top-k 50 --top-p 1", "tests/fixtures/gguf/llama/llama-Q4_K_M.gguf"},   /* no general.sampling.* keys */
    };
    static const char *const cmds[][2] = {
        {"generate", "--ids 0,1 -n 40 --ignore-eos --json"},
        {"run", "--prompt 'Once upon a time' -n 40 --ignore-eos"},
        {"trace", "--ids 0,1 -n 40 --hooks hook_logits --json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[2048];
        if (cases[i].file)
            snprintf(cmd, sizeof cmd, "rm -rf '%s/g' && ln -s \"$PWD/%s\" '%s/g'", g_dir, cases[i].file, g_dir);
        else
            snprintf(cmd, sizeof cmd, "rm -rf '%s/g' && mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json "
                     "tokenizer_config.json; do ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done", g_dir, g_dir, g_dir);
        REQUIRE(system(cmd) == 0);
        if (cases[i].gcfg) {
            snprintf(cmd, sizeof cmd, "%s/g/generation_config.json", g_dir);
            FILE *f = fopen(cmd, "w");
            REQUIRE(f);
            fputs(cases[i].gcfg, f);
            fclose(f);
        }
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            char args[512];
            char *dflt = gen_out(T_, cmds[c][0], cmds[c][1]);
            snprintf(args, sizeof args, "%s %s", cmds[c][1], cases[i].same);
            char *same = gen_out(T_, cmds[c][0], args);
            snprintf(args, sizeof args, "%s %s", cmds[c][1], cases[i].other);
            char *other = gen_out(T_, cmds[c][0], args);
            const char *g = cases[i].gcfg ? cases[i].gcfg : cases[i].file ? cases[i].file : "(none)";
            CHECK_MSG(!strcmp(dflt, same), "%s, generation_config %s: the default is not `%s`:\n%.300s\nvs\n%.300s",
                      cmds[c][0], g, cases[i].same, dflt, same);
            CHECK_MSG(strcmp(dflt, other), "%s, generation_config %s: `%s` gives the same output: the case cannot fail", cmds[c][0], g, cases[i].other);
            free(dflt); free(same); free(other);
        }
    }
}

TEST(cli_sampling_defaults_from_generation_config) {
    NEED_MODEL();
    with_scratch(T_, cli_sampling_defaults_from_generation_config_body);
}

/* The lines --help prints for option opt (up to the next option line), malloc'd; "" if absent. */
static char *help_block(const char *cmd, const char *opt) {
    char args[256], *out = NULL;
    snprintf(args, sizeof args, "%s --help", cmd);
    run_row(args, &out);
    char key[64];
    snprintf(key, sizeof key, "\n  %s ", opt);
    const char *a = out ? strstr(out, key) : NULL;
    char *r = NULL;
    if (a) {
        const char *z = a + 1;
        while ((z = strchr(z + 1, '\n')) && !strncmp(z, "\n    ", 5)) {}   /* continuation lines */
        r = strndup(a, z ? (size_t)(z - a) : strlen(a));
    }
    free(out);
    return r ? r : strdup("");
}

/* Every command that computes takes --threads with one default (the cores this process may
 * use): compare's --help said 2. */
TEST(cli_threads_same_default_everywhere) {
    NEED_MODEL();
    char *ref = help_block("run", "--threads");
    CHECK_MSG(strstr(ref, "the cores this process") != NULL, "run --help: %s", ref);
    static const char *cmds[] = {"compare", "generate", "trace", "eval", "similarity", "quant-lens", "tui", "screenshot"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *b = help_block(cmds[i], "--threads");
        CHECK_MSG(!strcmp(b, ref), "%s --help says of --threads:%s\nrun --help:%s", cmds[i], b, ref);
        free(b);
    }
    free(ref);
}

/* What strftime_now() shows: --now (chat-template) or $LLMSCOPE_NOW, a whole number of seconds in
 * Python's datetime range (years 1 to 9999; transformers formats datetime.now()). --now
 * 9223372036854775807 printed "219250468-857323509-32753 Sunday ?" (gmtime failed and an unset
 * struct tm was formatted); LLMSCOPE_NOW=abc was named "--now 'abc'"; run --chat and tokenize --chat
 * ignored LLMSCOPE_NOW, which the README says a chat template's strftime_now() shows; a bad --now
 * or --set exited 1, and a --set value that is no JSON was named by the template file. */
static void chat_now_body(TestCtx *T_) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cd '%s' && printf \"{{ strftime_now('%%%%Y-%%%%m-%%%%d') }}|\" > now.jinja", g_dir);
    REQUIRE(system(cmd) == 0);
    static const CliRow rows[] = {
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now 9223372036854775807", 2, "--now '9223372036854775807': expected seconds", "the years 1 to 9999", "Sunday"},
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now 253402300800", 2, "--now '253402300800'", NULL, "|"},
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now=-62135596801", 2, "--now '-62135596801'", NULL, "|"},
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now abc", 2, "--now 'abc'", NULL, "|"},
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now 253402300799", 0, "9999-12-31|", NULL, "llmscope:"},
        {"chat-template --template %D/now.jinja --messages %D/ok.json --now 86400", 0, "1970-01-02|", NULL, "llmscope:"},
        {"chat-template --template %D/ok.jinja --messages %D/ok.json --set x", 2, "--set 'x': expected NAME=JSON", NULL, NULL},
        {"chat-template --template %D/ok.jinja --messages %D/ok.json --set 'x={'", 2, "--set: chat template: variable x: invalid JSON", NULL, "ok.jinja"},
        {"tokenize --model " MODEL " --chat --template %D/ok.jinja --text hi --set 'x={'", 1, "--set: chat template: variable x: invalid JSON", NULL, "ok.jinja"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
    /* $LLMSCOPE_NOW: named as itself; read by run --chat and tokenize --chat as by chat-template */
    static const struct { const char *env, *args, *want; int rc; } envs[] = {
        {"abc", "chat-template --template %s/now.jinja --messages %s/ok.json", "LLMSCOPE_NOW 'abc': expected seconds", 2},
        {"abc", "tokenize --model " MODEL " --chat --template %s/now.jinja --text hi", "LLMSCOPE_NOW 'abc'", 1},
        {"86400", "chat-template --template %s/now.jinja --messages %s/ok.json", "1970-01-02|", 0},
        {"86400", "run --model " MODEL " --chat --template %s/now.jinja --prompt hi -n 1", "1970-01-02|", 0},
        {"86400", "tokenize --model " MODEL " --chat --template %s/now.jinja --text hi --json", "\"1\", \"9\", \"7\", \"0\", \"-\", \"0\", \"1\", \"-\", \"0\", \"2\"", 0},
    };
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        char args[1200], *out = NULL;
        snprintf(args, sizeof args, envs[i].args, g_dir, g_dir);
        snprintf(cmd, sizeof cmd, "LLMSCOPE_NOW='%s' timeout -k 5 120 %s %s </dev/null", envs[i].env, test_bin(), args);
        int rc = test_run(cmd, &out, 1);
        const char *o = out ? out : "";
        CHECK_MSG(rc == envs[i].rc && strstr(o, envs[i].want), "LLMSCOPE_NOW=%s %s: exit %d (wanted %d), no \"%s\" in: %.400s",
                  envs[i].env, args, rc, envs[i].rc, envs[i].want, o);
        CHECK_MSG(!sanitizer_output(o) && (envs[i].rc || !strstr(o, "llmscope:")), "LLMSCOPE_NOW=%s %s: %.400s", envs[i].env, args, o);
        free(out);
    }
}

TEST(cli_chat_now_and_set_values) {
    NEED_MODEL();
    with_scratch(T_, chat_now_body);
}

/* $LLMSCOPE_THREADS is read whole: atoi took "abc" and "4x" silently (as 0 and 4) and overflowed on
 * 99999999999 ("--threads 1215752191 is more than 256", naming an option not given). A value that is
 * not a whole number is named in a warning and the default used; a huge one is named as written. */
TEST(cli_threads_environment_read_whole) {
    NEED_MODEL();
    static const struct { const char *env, *want, *never; } rows[] = {
        {"abc", "warning: LLMSCOPE_THREADS='abc' is not a whole number of threads", NULL},
        {"4x", "warning: LLMSCOPE_THREADS='4x' is not a whole number of threads", NULL},
        {"-3", "warning: LLMSCOPE_THREADS='-3' is not a whole number of threads", NULL},
        {"99999999999", "warning: LLMSCOPE_THREADS=99999999999 is more than 256 threads; using 256", "--threads"},
        {"99999999999999999999999", "warning: LLMSCOPE_THREADS=99999999999999999999999 is more than 256 threads", NULL},
        {"2", NULL, "warning"},
        {"0", NULL, "warning"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd, "LLMSCOPE_THREADS='%s' timeout -k 5 120 %s generate --model " MODEL " --ids 1,2 -n 1 </dev/null",
                 rows[i].env, test_bin());
        int rc = test_run(cmd, &out, 1);
        const char *o = out ? out : "";
        CHECK_MSG(rc == 0, "LLMSCOPE_THREADS=%s: exit %d: %.300s", rows[i].env, rc, o);
        CHECK_MSG(!rows[i].want || strstr(o, rows[i].want), "LLMSCOPE_THREADS=%s: no \"%s\" in: %.300s", rows[i].env, rows[i].want, o);
        CHECK_MSG(!rows[i].never || !strstr(o, rows[i].never), "LLMSCOPE_THREADS=%s: \"%s\" in: %.300s", rows[i].env, rows[i].never, o);
        CHECK_MSG(!sanitizer_output(o), "LLMSCOPE_THREADS=%s: %.500s", rows[i].env, o);
        free(out);
    }
}

/* similarity reads its options like every command: typos, missing or malformed values, an option
 * given twice are the same errors (exit 2, naming the option, pointing at --help), and the texts
 * keep the order given (each --text, and --texts-file's lines where it stands). */
static void cli_similarity_shared_options_body(TestCtx *T_) {
    static const CliRow rows[] = {
        {"similarity --model " MODEL " --layr 1 --text a", 2, "unknown option '--layr'; did you mean --layer?", "similarity --help", NULL},
        {"similarity --model " MODEL " --layer 1 --txt a", 2, "unknown option '--txt'; did you mean --text?", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text a --texts-fil %D/two.txt", 2, "did you mean --texts-file?", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text a --jsn", 2, "did you mean --json?", NULL, NULL},
        {"similarity --model " MODEL " --layer x --text a", 2, "--layer: 'x' is not an integer", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --layer 2 --text a", 2, "--layer given twice", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text a --json=yes", 2, "--json takes no value", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text", 2, "--text needs a value", NULL, NULL},
        {"similarity --model " MODEL " --text a", 2, "similarity: --layer is required", "similarity --help", NULL},
        {"similarity --model " MODEL " --layer 1", 2, "give at least one --text", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text a --pool median", 2, "--pool: 'median' is neither 'mean' nor 'last'", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --texts-file %D/nothing.txt", 1, "nothing.txt", NULL, NULL},
        {"similarity --model " MODEL " --layer 1 --text A --texts-file=%D/two.txt --text=B --pool last --no-bos --json", 0,
         "\"texts\": [\"A\", \"x y\", \"z w\", \"B\"]", "\"pool\": \"last\"", "llmscope:"},
        {"similarity --model " MODEL " --text --json --layer 1 --text b --json", 0, "\"texts\": [\"--json\", \"b\"]", NULL, "llmscope:"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_similarity_shared_options) {
    NEED_MODEL();
    with_scratch(T_, cli_similarity_shared_options_body);
}

/* A repeatable option (--set) is read with the other options' values skipped: a prompt or text
 * that reads "--set" is text, as for every other option. */
static void cli_repeated_option_values_skip_other_values_body(TestCtx *T_) {
    static const CliRow rows[] = {
        {"tokenize --model " MODEL " --text --set --chat --template %D/ok.jinja --json", 0, "\"tokens\": [\"-\", \"-\", \"set\"", NULL, "llmscope:"},
        {"run --model " MODEL " --prompt --set --chat --template %D/ok.jinja -n 1 --greedy", 0, "--set", NULL, "llmscope:"},
        {"chat-template --template %D/ok.jinja --messages %D/ok.json --set x=1 --set=y=2", 0, "hi", NULL, "llmscope:"},
        {"chat-template --template %D/ok.jinja --messages %D/ok.json --set x", 2, "--set 'x': expected NAME=JSON", NULL, NULL},   /* a bad command line */
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_repeated_option_values_skip_other_values) {
    NEED_MODEL();
    with_scratch(T_, cli_repeated_option_values_skip_other_values_body);
}

/* bench --model runs only the sections asked for: --traced alone no bandwidth pass, vocabulary
 * index, attention step or screenshot child; the default (no section option) all of them;
 * --full adds them to a section. Tiny sizes on the bundled model. The JSON must close without
 * a dangling comma whichever members were printed. */
TEST(cli_bench_model_sections) {
    NEED_MODEL();
    static const char *const DEFAULT_MEMBERS[] = {"\"memory_bandwidth_gbs\"", "\"vocabulary\"", "\"attention_step\"",
                                                  "\"tui_peak_rss_bytes\"", "\"peak_rss_bytes\"", "\"prefill_8_tok_s\""};
    static const struct { const char *args, *sections; bool dflt; const char *has[2]; } rows[] = {
        {"--traced --rounds 1 --prefill 8", "[\"traced\"]", false, {"\"traced_prefill\"", NULL}},
        {"--panels --rounds 1 --far 16", "[\"panels\"]", false, {"\"tui_panel_step_ms\"", NULL}},
        {"--busy --rounds 1 --decode 2 --far 16", "[\"busy\"]", false, {"\"busy_neighbour\"", "\"decode_tok_s_at_16\""}},
        {"--traced --panels --rounds 1 --prefill 8 --far 16", "[\"panels\", \"traced\"]", false, {"\"traced_prefill\"", "\"tui_panel_step_ms\""}},
        {"--rounds 1 --decode 2 --prefill 8 --far 16", "[\"default\"]", true, {"\"decode_tok_s_at_10\"", NULL}},
        {"--full --traced --rounds 1 --decode 2 --prefill 8 --far 16", "[\"default\", \"traced\"]", true, {"\"traced_prefill\"", NULL}},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char args[512], *out = NULL;
        snprintf(args, sizeof args, "bench --model " MODEL " --threads 1 %s", rows[i].args);
        int rc = run_row(args, &out);
        const char *s = out ? out : "";
        CHECK_MSG(rc == 0, "`%s`: exit %d: %.500s", args, rc, s);
        const char *sec = strstr(s, "\"sections\": ");
        CHECK_MSG(sec && !strncmp(sec + 12, rows[i].sections, strlen(rows[i].sections)), "`%s`: sections not %s in %.800s", args, rows[i].sections, s);
        for (int k = 0; k < 2; k++)
            CHECK_MSG(!rows[i].has[k] || strstr(s, rows[i].has[k]), "`%s`: no %s in %.800s", args, rows[i].has[k], s);
        for (size_t k = 0; k < sizeof DEFAULT_MEMBERS / sizeof DEFAULT_MEMBERS[0]; k++)
            CHECK_MSG(!strstr(s, DEFAULT_MEMBERS[k]) == !rows[i].dflt, "`%s`: %s %s", args, DEFAULT_MEMBERS[k],
                      rows[i].dflt ? "missing from the default run" : "measured though not asked for");
        CHECK_MSG(s[0] == '{' && strstr(s, "\"wall_seconds\": ") && !strstr(s, ",\n}") && strstr(s, "\n}\n"), "`%s`: JSON not closed cleanly: %.800s", args, s);
        free(out);
    }
}

/* bench --only recorder: the hooks section alone, every round printed (the three decode speeds
 * and their slowdown), then the medians; the JSON closes. */
TEST(cli_bench_only_recorder) {
    NEED_MODEL();
    char *out = NULL;
    int rc = run_row("bench --only recorder --model " MODEL " --threads 1 --rounds 2 --decode 4", &out);
    const char *s = out ? out : "";
    CHECK_MSG(rc == 0, "exit %d: %.500s", rc, s);
    int rounds = 0;
    for (const char *p = s; (p = strstr(p, "{\"no_hooks\": ")); p++) {
        double a = 0, b = 0, c = 0;
        CHECK_MSG(sscanf(p, "{\"no_hooks\": %lf, \"empty_registry\": %lf, \"recorder\": %lf", &a, &b, &c) == 3 && a > 0 && b > 0 && c > 0,
                  "round %d: %.200s", rounds, p);
        rounds++;
    }
    CHECK_MSG(rounds == 2, "%d rounds printed, want 2: %.800s", rounds, s);
    CHECK_MSG(strstr(s, "\"recorder_slowdown\": ") && strstr(s, "\"decode\": 4") && s[0] == '{' && strstr(s, "}\n"),
              "no medians or JSON not closed: %.800s", s);
    free(out);
}

/* bench --only decode runs --rounds rounds at --threads (it ran 3 at 2 threads whatever was given):
 * stderr lists each round's tok/s, stdout the median of those (what --compare-bin reads). */
TEST(cli_bench_only_decode_rounds) {
    for (int rounds = 1; rounds <= 4; rounds += 3) {
        char args[128], head[64], *out = NULL;
        snprintf(args, sizeof args, "bench --only decode --decode 2 --threads 1 --rounds %d", rounds);
        int rc = run_row(args, &out);
        const char *s = out ? out : "";
        CHECK_MSG(rc == 0, "`%s`: exit %d: %.500s", args, rc, s);
        snprintf(head, sizeof head, "decode tok/s, %d round%s at 1 thread:", rounds, rounds == 1 ? "" : "s");
        const char *p = strstr(s, head);
        CHECK_MSG(p, "`%s`: no \"%s\" in %.500s", args, head, s);
        if (!p) { free(out); continue; }
        p += strlen(head);
        double v[8];
        int n = 0;
        for (char *end; n < 8 && *p == ' '; p = end) {
            v[n] = strtod(p, &end);
            if (end == p) break;
            n++;
        }
        CHECK_MSG(n == rounds && *p == '\n', "`%s`: %d runs listed, want %d: %.500s", args, n, rounds, s);
        double med = n ? strtod(p + 1, NULL) : 0;
        for (int i = 1; i < n; i++)   /* insertion sort: the median of the listed runs */
            for (int j = i; j > 0 && v[j - 1] > v[j]; j--) { double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
        double want = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
        CHECK_MSG(n && med > 0 && fabs(med - want) <= 0.01, "`%s`: printed %g, the median of the runs is %g: %.500s", args, med, want, s);
        free(out);
    }
}

/* lesson takes run's sampling options with run's checks: each bad combination is refused (exit 2)
 * with run's message, the command's name aside; they go with a lesson played, not with --check;
 * a value of theirs is not a lesson name; given, they change what the lesson decodes (lesson 11's
 * step 5: B samples, --greedy makes it greedy). The old lesson refused every one as unknown. */
TEST(cli_lesson_sampling_options_as_run) {
    NEED_MODEL();
    static const char *const bad[] = {"--greedy --temp 0.5", "--greedy --top-p 0.5", "--temp 0.5 --temperature 0.5", "--top-p 0",
                                      "--top-p 1.5", "--temp -1", "--top-k x", "--seed -1", "--top-k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char a[256], *ro = NULL, *lo = NULL;
        snprintf(a, sizeof a, "run --model " MODEL " --prompt hi -n 1 %s", bad[i]);
        int rrc = run_row(a, &ro);
        snprintf(a, sizeof a, "lesson 11 --frame 5 %s", bad[i]);
        int lrc = run_row(a, &lo);
        char want[1024] = "";   /* run's message with the command's name changed */
        for (const char *p = ro ? ro : ""; *p && strlen(want) + 8 < sizeof want;) {
            if (!strncmp(p, "run", 3) && (p == ro || p[-1] == ' ') && (p[3] == ':' || p[3] == ' ' || p[3] == '`')) { strcat(want, "lesson"); p += 3; }
            else { size_t n = strlen(want); want[n] = *p++; want[n + 1] = 0; }
        }
        CHECK_MSG(rrc == 2 && lrc == 2 && lo && !strcmp(lo, want), "`%s`: run exit %d, lesson exit %d;\nrun:    %s\nlesson: %s",
                  bad[i], rrc, lrc, ro ? ro : "", lo ? lo : "");
        free(ro); free(lo);
    }
    static const CliRow rows[] = {
        {"lesson --check --temp 0.7", 2, "--temp and --check do not go together", NULL, NULL},
        {"lesson --targets --seed 3", 2, "--seed and --targets do not go together", NULL, NULL},
        {"lesson --temp 0.7 11 --frame 1", 0, "From logits to text", NULL, "llmscope:"},   /* 0.7 is --temp's, not the lesson */
        /* list is a word, not an option: refused alike, naming the option (the old lesson listed) */
        {"lesson list --temp 0.7", 2, "--temp and list do not go together", NULL, "01-tour"},
        {"lesson --temperature 0.7 list", 2, "--temperature and list do not go together", NULL, "01-tour"},
        {"lesson list --greedy", 2, "--greedy and list do not go together", NULL, "01-tour"},
        {"lesson list --top-k 5", 2, "--top-k and list do not go together", NULL, "01-tour"},
        {"lesson list --top-p 0.9", 2, "--top-p and list do not go together", NULL, "01-tour"},
        {"lesson list --seed 3", 2, "--seed and list do not go together", NULL, "01-tour"},
        {"lesson --placeholders --top-p 0.9", 2, "--top-p and --placeholders do not go together", NULL, NULL},
        {"lesson list", 0, "01-tour", NULL, "llmscope:"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
    char *plain = NULL, *greedy = NULL;
    CHECK(run_row("lesson 11 --frame 5", &plain) == 0);
    CHECK(run_row("lesson 11 --frame 5 --greedy", &greedy) == 0);
    CHECK_MSG(plain && greedy && strcmp(plain, greedy), "--greedy changed nothing on lesson 11's step 5:\n%s", greedy ? greedy : "");
    free(plain); free(greedy);
}

/* lesson's modes read their own options and one NAME: `list` reads --lang alone (an option of a
 * lesson played, --script, --step, --frame, --frames, --ctx, was taken and ignored: the old lesson
 * listed and exited 0), a second NAME was ignored (`lesson 6 7` played 6), --placeholders and
 * --targets ignored a NAME and each other; --size took "80x24junk" (sscanf) and a bad --lang exited
 * 1 (2 is a bad command line, as tui's --lang). Each is refused naming the option or argument. */
static void lesson_modes_body(TestCtx *T_) {
    static const CliRow rows[] = {
        {"lesson list --script", 2, "--script and list do not go together", NULL, "01-tour"},
        {"lesson list --step 2", 2, "--step and list do not go together", NULL, "01-tour"},
        {"lesson --frame 3 list", 2, "--frame and list do not go together", NULL, "01-tour"},
        {"lesson list --frames %D/f", 2, "--frames and list do not go together", NULL, "01-tour"},
        {"lesson list --ctx=64", 2, "--ctx and list do not go together", NULL, "01-tour"},
        {"lesson list extra", 2, "unexpected argument 'extra' after 'list'", NULL, "01-tour"},
        {"lesson 6 7 --script", 2, "unexpected argument '7' after '6'", NULL, "## 1/"},
        {"lesson --targets 6", 2, "--targets takes no lesson NAME ('6')", NULL, "tokens.cursor"},
        {"lesson list --placeholders", 2, "--placeholders takes no lesson NAME ('list')", NULL, "{model.name}"},
        {"lesson --placeholders --targets", 2, "--targets and --placeholders do not go together", NULL, "{model.name}"},
        {"lesson --check --targets", 2, "--check and --targets do not go together", NULL, "tokens.cursor"},
        {"lesson 1 --frame 1 --size 80x24junk", 2, "--size: expected WxH", "'80x24junk'", "llmscope lesson"},
        {"lesson 1 --frame 1 --size ' 80x24'", 2, "--size: expected WxH", NULL, NULL},
        {"screenshot --model " MODEL " --size 80x24junk", 2, "--size: expected WxH", "'80x24junk'", NULL},
        {"screenshot --model " MODEL " --size +80x24", 2, "--size: expected WxH", NULL, NULL},
        {"lesson list --lang fr", 2, "--lang 'fr': expected en or zh", NULL, "01-tour"},
        /* what each mode does take */
        {"lesson list --lang zh", 0, "01-tour", NULL, "llmscope:"},
        {"lesson --lang=en list", 0, "01-tour", NULL, "llmscope:"},
        {"lesson --targets --lang zh", 0, "tokens.cursor", NULL, "llmscope:"},
        {"lesson --placeholders", 0, "{model.name}", NULL, "llmscope:"},
        {"lesson 1 --frame 1 --size 80X24", 0, "story-gqa", NULL, "llmscope:"},
        {"screenshot --model " MODEL " --size 60x20", 0, "Attention", NULL, "llmscope:"},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
    char f[1100];
    snprintf(f, sizeof f, "%s/f", g_dir);
    CHECK_MSG(access(f, F_OK) != 0, "lesson list --frames created %s", f);
}

TEST(cli_lesson_modes_take_only_their_options) {
    NEED_MODEL();
    with_scratch(T_, lesson_modes_body);
}

/* run prints the prompt, then the new tokens' pieces joined, as llama.cpp prints them: the ids of
 * `generate` on the prompt's ids, each token's own text (a sentencepiece piece keeps its leading
 * space: "Once upon a" + " time"; decoding the new ids alone dropped it: "Once upon atime"). -n at
 * the int limit ends at the full context with an error, not a crash (its buffer was -n + 1 ids). */
TEST(cli_run_prints_new_pieces_after_prompt) {
    static const char F[] = "tests/fixtures/gguf/stories260K/stories260K-F16.gguf", P[] = "Once upon a";
    Err e = {0};
    Tokenizer *tk = tokenizer_load_gguf(F, &e);
    REQUIRE(tk);
    int *ids = NULL, n = tokenizer_encode(tk, P, strlen(P), true, &ids, &e);
    REQUIRE(n > 1);
    char row[1024], want[1024], piece[64];
    int o = snprintf(row, sizeof row, "generate --model %s -n 8 --json --ids ", F);
    for (int i = 0; i < n; i++) o += snprintf(row + o, sizeof row - (size_t)o, i ? ",%d" : "%d", ids[i]);
    char *out = NULL;
    CHECK_MSG(run_row(row, &out) == 0 && out && strstr(out, "{\"ids\": ["), "`%s`: %s", row, out ? out : "");
    o = snprintf(want, sizeof want, "%s", P);
    int got = 0;
    for (char *p = out ? strchr(out, '[') : NULL; p && *p && *p != ']'; got++) {
        char *end;
        long id = strtol(p + 1, &end, 10);
        if (end == p + 1) break;
        o += snprintf(want + o, sizeof want - (size_t)o, "%s", tokenizer_token_display(tk, (int)id, piece, sizeof piece));
        p = end;
    }
    snprintf(want + o, sizeof want - (size_t)o, "\n");
    CHECK_MSG(got == 8 && strstr(want, "upon a time"), "%d new ids: %s", got, want);
    free(out);
    snprintf(row, sizeof row, "run --model %s --prompt '%s' -n 8", F, P);
    int rc = run_row(row, &out);
    CHECK_MSG(rc == 0 && out && !strcmp(out, want), "`%s`: status %d:\n%s\nwanted:\n%s", row, rc, out ? out : "", want);
    free(out);
    snprintf(row, sizeof row, "run --model %s --prompt '%s' -n 2147483647", F, P);
    rc = run_row(row, &out);
    CHECK_MSG(rc == 1 && out && strstr(out, "exceed the context") && !sanitizer_output(out), "`%s`: status %d: %.600s", row, rc, out ? out : "");
    free(out);
    free(ids);
    tokenizer_free(tk);
}

/* Typos in a command or a panel name: the message suggests the closest name (and lists the
 * panels); --panel is checked before the model loads (a missing model is not what is reported).
 * A prompt longer than the context says which option enlarges it, or that learned positions end. */
TEST(cli_typos_in_names_and_long_prompts) {
    NEED_MODEL();
    static const CliRow rows[] = {
        {"tokenise --model " MODEL " --text hi", 2, "unknown command 'tokenise'; did you mean tokenize?", "commands:", NULL},
        {"screnshot --panel kv", 2, "did you mean screenshot?", NULL, NULL},
        {"frobnicate", 2, "unknown command 'frobnicate'\n", NULL, "did you mean"},
        {"screenshot --model " MODEL " --panel embedings", 2, "--panel 'embedings': unknown panel; did you mean embeddings?",
         "attention kv residual norms position embeddings ffn output tradeoff, or 1-8", NULL},
        {"screenshot --model " MODEL " --panel tradof", 2, "did you mean tradeoff?", NULL, NULL},
        {"--model no-such-model-dir --panel atention", 2, "did you mean attention?", NULL, "no-such-model-dir"},
        {"tui --model no-such-model-dir --panel qqq", 2, "--panel 'qqq': unknown panel (attention", NULL, "did you mean"},
        {"screenshot --model " MODEL " --panel embed --steps 1 --size 80x24", 0, "Embeddings", NULL, NULL},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
    /* 600 words are more than story-gqa's 512 positions (RoPE: --ctx enlarges it); story-gpt2's
     * learned positions end at its 512 */
    char *words = malloc(600 * 5 + 64), args[4096];
    REQUIRE(words);
    words[0] = 0;
    for (int i = 0; i < 600; i++) strcat(words, " dog");
    snprintf(args, sizeof args, "screenshot --model " MODEL " --prompt '%s'", words);
    CliRow r1 = {args, 1, "the context holds 512 (use --ctx to enlarge it)", NULL, NULL};
    run_table(T_, &r1, 1);
    snprintf(args, sizeof args, "screenshot --model assets/models/story-gpt2 --prompt '%s'", words);
    CliRow r2 = {args, 1, "(learned positions cannot go further)", NULL, NULL};
    run_table(T_, &r2, 1);
    free(words);
}

/* --prompt-file (tui, screenshot, run, trace): the file's text is the prompt, exactly as --prompt
 * with the same text (the same screen, continuation and exported values); a file that cannot be
 * read is an error naming the option and the file before the model loads; with --prompt or --ids
 * it is refused; `--text-file` (how tokenize, eval and compare read a file) suggests it. */
static void prompt_file_body(TestCtx *T_) {
    static const char *const same[][2] = {
        {"run --model " MODEL " --prompt-file %D/prompt.txt -n 4 --greedy", "run --model " MODEL " --prompt 'Once upon a time, a cat' -n 4 --greedy"},
        {"screenshot --model " MODEL " --prompt-file %D/prompt.txt --steps 2 --full --size 100x30",
         "screenshot --model " MODEL " --prompt 'Once upon a time, a cat' --steps 2 --full --size 100x30"},
        {"trace --model " MODEL " --prompt-file %D/prompt.txt --hooks hook_embed,hook_logits -n 1 --json",
         "trace --model " MODEL " --prompt 'Once upon a time, a cat' --hooks hook_embed,hook_logits -n 1 --json"},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char *a = NULL, *b = NULL;
        int ra = run_row(same[i][0], &a), rb = run_row(same[i][1], &b);
        CHECK_MSG(ra == 0 && rb == 0, "`%s`: exit %d / %d: %.300s", same[i][0], ra, rb, a ? a : "");
        CHECK_MSG(a && b && !strcmp(a, b) && strlen(a) > 20, "`%s` and `%s` differ", same[i][0], same[i][1]);
        free(a);
        free(b);
    }
    static const CliRow rows[] = {
        {"tui --model " MODEL " --prompt-file %D/nope.txt", 1, "--prompt-file: ", "nope.txt: cannot open", NULL},
        {"tui --model no-such-model --prompt-file %D/nope.txt", 1, "nope.txt: cannot open", NULL, "no-such-model"},
        {"run --model " MODEL " --prompt-file %D/nope.txt", 1, "--prompt-file: ", "nope.txt: cannot open", NULL},
        {"trace --model " MODEL " --prompt-file %D --hooks hook_embed --json", 1, "--prompt-file: ", "not a regular file", NULL},
        {"run --model " MODEL " --prompt-file %D/prompt.txt --prompt hi", 2, "--prompt-file", "--prompt", NULL},
        {"screenshot --model " MODEL " --prompt-file %D/prompt.txt --ids 1,2", 2, "--prompt-file", "--ids", NULL},
        {"run --model " MODEL " --prompt-file %D/empty.txt --no-bos", 2, "--prompt-file is empty", NULL, NULL},
        {"trace --model " MODEL " --prompt-file %D/prompt.txt --no-bos --hooks hook_embed --json", 0, "\"ids\"", NULL, NULL},
        {"tui --text-file %D/prompt.txt", 2, "did you mean --prompt-file or --texts-file?", NULL, NULL},
        {"run --text-file %D/prompt.txt", 2, "did you mean --prompt-file?", NULL, NULL},
        {"run --help", 0, "--prompt-file FILE", NULL, NULL},
    };
    run_table(T_, rows, sizeof rows / sizeof rows[0]);
}

TEST(cli_prompt_file) {
    NEED_MODEL();
    with_scratch(T_, prompt_file_body);
}
