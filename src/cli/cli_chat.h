/* The chat path shared by `run --chat`, `tokenize --chat` and the TUI (src/cli/cmd_chat.c). */
#ifndef LLMSCOPE_CLI_CHAT_H
#define LLMSCOPE_CLI_CHAT_H
#include <stdbool.h>
#include "core/err.h"
#include "template/jinja.h"
struct Tokenizer;
/* Renders prompt as [{"role": "user", "content": prompt}] with the model's chat template
 * (or --template FILE; --set/--bos-token/--eos-token apply) and add_generation_prompt, then
 * tokenizes the text without adding special tokens. Returns the count with *ids malloc'd and
 * *text (if text) the rendered prompt, malloc'd; -1 + e on error. */
int cli_chat_encode(int argc, char **argv, const char *model_path, const struct Tokenizer *tok, const char *prompt,
                    int **ids, char **text, Err *e);
int cmd_chat_template(int argc, char **argv);
/* --now EPOCH (only chat-template has it), else $LLMSCOPE_NOW, into opt (what strftime_now() shows):
 * true when neither is set; false + e (ERR_ARG, naming the one given) unless it is a whole number of
 * seconds in the years 1 to 9999. */
bool cli_chat_now(int argc, char **argv, JinjaOptions *opt, Err *e);
#endif
