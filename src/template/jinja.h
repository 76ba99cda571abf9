/* A Jinja interpreter for chat templates, rendering as Hugging Face transformers'
 * apply_chat_template(..., tokenize=False) does: jinja2's ImmutableSandboxedEnvironment with
 * trim_blocks=True, lstrip_blocks=True, the loopcontrols extension ({% break %}, {% continue %}),
 * transformers' {% generation %} tag, its tojson filter (json.dumps with ensure_ascii=False) and
 * its globals raise_exception() and strftime_now(). Undefined names behave as jinja2's default
 * Undefined. The supported subset is listed in docs/chat.md.
 *
 * Templates are untrusted input: every failure (syntax, runtime, raise_exception, a limit) is
 * returned as an error with the template's line and column; nothing aborts. Output size,
 * loop iterations, call depth and memory are capped (JinjaOptions).
 *
 * Ownership: the caller owns every string it passes (only read during the call) and frees
 * *out with free(). All intermediate values live in one arena freed before returning. */
#ifndef LLMSCOPE_JINJA_H
#define LLMSCOPE_JINJA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

typedef struct {
    size_t max_output;   /* bytes of rendered text; 0 = 16 MiB */
    size_t max_memory;   /* bytes of interpreter memory; 0 = 256 MiB */
    long max_steps;      /* loop iterations + macro calls + filter items; 0 = 10 million */
    int max_depth;       /* nesting of macro calls; 0 = 64 */
    bool now_set;        /* strftime_now() uses now (seconds since the epoch, shown in UTC) */
    int64_t now;         /* instead of the current local time when now_set */
} JinjaOptions;

/* A template variable: a string, or a JSON text parsed into Jinja values (objects keep
 * their key order, numbers keep int/float as Python's json.loads does). */
typedef struct {
    const char *name;
    const char *text;    /* NUL-terminated */
    bool is_json;
} JinjaVar;

/* Renders tmpl (tmpl_len bytes, UTF-8) with the given variables. true on success with *out
 * malloc'd (NUL-terminated, *out_len bytes). false + e (what, line:col) otherwise. */
bool jinja_render(const char *tmpl, size_t tmpl_len, const JinjaVar *vars, int nvars,
                  const JinjaOptions *opt, char **out, size_t *out_len, Err *e);

/* What apply_chat_template passes to the template. */
typedef struct {
    /* JSON text: an array of messages, or an object {"messages": [...], "tools": [...],
     * "documents": [...], other keys → extra variables}. */
    const char *messages_json;
    bool add_generation_prompt;
    const char *bos_token;   /* NULL: undefined in the template (as when the tokenizer has none) */
    const char *eos_token;
    const JinjaVar *extra;   /* --set NAME=JSON, applied last (override the above) */
    int nextra;
    JinjaOptions opt;
} ChatRequest;

/* Renders a chat template like transformers: variables messages, tools (none unless given),
 * documents (none unless given), add_generation_prompt, bos_token, eos_token, extras. */
bool chat_template_apply(const char *tmpl, size_t tmpl_len, const ChatRequest *rq, char **out,
                         size_t *out_len, Err *e);

/* One user message [{"role": "user", "content": prompt}] rendered with
 * add_generation_prompt = true: what `run --chat` feeds the model. */
bool chat_template_apply_prompt(const char *tmpl, const char *prompt, const char *bos_token,
                                const char *eos_token, const JinjaVar *extra, int nextra,
                                const JinjaOptions *opt /* NULL: the defaults */, char **out, size_t *out_len, Err *e);

/* The chat template of a model directory (or of the directory holding a tokenizer.json /
 * tokenizer_config.json path; a GGUF file: chat_template_load_gguf): chat_template.jinja if present, else tokenizer_config.json's
 * "chat_template" (a string, or a list of {"name", "template"} from which "default" is taken).
 * bos/eos: tokenizer_config.json's bos_token / eos_token (a string or {"content": ...}), NULL
 * when absent or null. All outputs malloc'd (caller frees); *tmpl NULL + e when none found, with
 * bos and eos still set (a template given instead renders with the model's tokens). */
bool chat_template_load_for_model(const char *model_path, char **tmpl, char **bos, char **eos, Err *e);
/* The same for a GGUF file (chat_gguf.c): tokenizer.chat_template, bos/eos the text of the file's
 * BOS/EOS tokens (llama.cpp's default ids where it names none). chat_template_load_for_model calls
 * it for a path that is a GGUF file. */
bool chat_template_load_gguf(const char *path, char **tmpl, char **bos, char **eos, Err *e);

/* JSON string literal of s (quotes included), malloc'd. */
char *chat_json_quote(const char *s);
#endif
