/* llmscope: entry point and subcommand dispatch. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/cli_chat.h"

/* Every subcommand is linked in (a missing one is a link error, never a silently shorter
 * usage text). */
typedef int (*CmdFn)(int, char **);
typedef struct { const char *name; CmdFn fn; const char *help; } Cmd;

static void usage(FILE *f, const Cmd *cmds, int n) {
    fprintf(f, "usage: llmscope [COMMAND] [--model DIR|FILE|REPO_ID] [options]\n\n"
               "With no command, opens the terminal UI on the bundled default model.\n\ncommands:\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "  %-13s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n  --list-models  list the bundled models\n  --help         this text\n");
}

int main(int argc, char **argv) {
    const Cmd cmds[] = {
        {"tui", cmd_tui, "open the terminal UI (default)"},
        {"run", cmd_run, "generate a continuation of --prompt as text"},
        {"generate", cmd_generate, "greedy/sampled ids from --ids on the KV cache (--json)"},
        {"logits", cmd_logits, "prefill logits for --ids (--json)"},
        {"info", cmd_info, "architecture, dims, parameters, KV-cache bytes (--json)"},
        {"eval", cmd_eval, "loss and perplexity on --text-file (--json)"},
        {"compare", cmd_compare, "two models on one text: per-token loss and KL(A||B) (--json)"},
        {"tokenize", cmd_tokenize, "ids and tokens of --text (--json)"},
        {"detokenize", cmd_detokenize, "text of --ids (--json)"},
        {"chat-template", cmd_chat_template, "render a chat template over --messages FILE.json"},
        {"trace", cmd_trace, "export hook values (--hooks P1,P2 --json | --npy DIR)"},
        {"screenshot", cmd_screenshot, "render a panel without a terminal"},
        {"contrast", cmd_contrast, "check text/background contrast of a screen dump with colours"},
        {"similarity", cmd_similarity, "cosine similarity of texts' vectors at a residual layer (--json)"},
        {"quant-lens", cmd_quantlens, "one layer quantized (Q8_0/Q4_0/Q4_K): bits, weight error, next-token KL (--json)"},
        {"lesson", cmd_lesson, "list, play or --check guided lessons"},
        {"bench", cmd_bench, "decode/prefill speed against measured memory bandwidth"},
    };
    int n = (int)(sizeof cmds / sizeof cmds[0]);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        usage(stdout, cmds, n);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--list-models")) {
        return cmd_list_models(argc - 1, argv + 1);
    }
    if (argc >= 2 && argv[1][0] != '-') {
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
        const char *names[sizeof cmds / sizeof cmds[0]];
        for (int i = 0; i < n; i++) names[i] = cmds[i].name;
        const char *best = cli_suggest(argv[1], names, n);
        if (best) fprintf(stderr, "llmscope: unknown command '%s'; did you mean %s?\n\n", argv[1], best);
        else fprintf(stderr, "llmscope: unknown command '%s'\n\n", argv[1]);
        usage(stderr, cmds, n);
        return 2;
    }
    return cmd_tui(argc, argv);
}
