/* Session: the controller. The only code that drives the engine; the TUI, lessons and the
 * CLI all act through these actions. It owns model, tokenizer, engine, hooks, trace and
 * sampler for one model ("slot"); compare mode holds two sessions stepped together.
 *
 * Stepping model: session_set_prompt() tokenizes and resets; the first session_step()
 * runs the prefill over the whole prompt (phase PREFILL), every later step decodes one
 * token on the KV cache (phase DECODE). The cursor (what the UI shows) can move back to
 * any recorded position without recomputing; stepping forward from a cursor that is
 * behind the end just moves the cursor until it reaches the end, then decodes.
 *
 * What is selected for viewing (layer, head, stage, attention key) is not the session's: the
 * scene (scene/scene.h) keeps one selection for both sessions of compare mode.
 */
#ifndef LLMSCOPE_SESSION_H
#define LLMSCOPE_SESSION_H
#include "engine/engine.h"
#include "engine/sampler.h"
#include "trace/trace.h"

struct Tokenizer;

/* Sublayer stages a token is stepped through (step-into; the scene keeps the selected one). */
typedef enum {
    STAGE_EMBED = 0, STAGE_POS, STAGE_NORM1, STAGE_QKV, STAGE_ROPE, STAGE_SCORES, STAGE_SOFTMAX,
    STAGE_ATTN_OUT, STAGE_ADD1, STAGE_NORM2, STAGE_FFN, STAGE_ADD2, STAGE_FINAL_NORM,
    STAGE_LOGITS, STAGE_SAMPLE, STAGE_COUNT
} Stage;
const char *stage_name(Stage s);
bool stage_is_per_layer(Stage s);

/* A session is opaque: its fields live in session_impl.h (session.c and the test fakes only).
 * Everything above the session floor reads it through these accessors. */
typedef struct Session Session;
enum { SESSION_PROMPT_MAX = 8192 };                 /* bytes of prompt text kept, with the NUL */
Model *session_model(const Session *s);
struct Tokenizer *session_tokenizer(const Session *s);   /* NULL: ids only, see session_tokenizer_error */
const char *session_tokenizer_error(const Session *s);
Engine *session_engine(const Session *s);
Hooks *session_hooks(const Session *s);
Trace *session_trace(const Session *s);
Sampler *session_sampler(const Session *s);
const char *session_model_path(const Session *s);
const char *session_prompt(const Session *s);
const int *session_prompt_ids(const Session *s);
int session_n_prompt(const Session *s);
const int *session_ids(const Session *s);          /* prompt + generated */
int session_n_ids(const Session *s);
int session_cursor(const Session *s);              /* position shown, -1 before any step */
bool session_prefilled(const Session *s);
int session_n_prefilled(const Session *s);         /* prompt tokens run so far (prefill in pieces) */
int session_ablate_layer(const Session *s);        /* write-hook demo: -1 = none */
int session_ablate_head(const Session *s);
int session_max_ctx(const Session *s);

Session *session_new(const char *model_path, int max_ctx, Err *e);
void session_free(Session *s);
bool session_set_prompt(Session *s, const char *text, Err *e);     /* tokenize + reset */
/* The same with the model's chat template (docs/chat.md): text becomes one user message rendered
 * with add_generation_prompt and tokenized without adding special tokens, as `run --chat`. */
bool session_set_chat_prompt(Session *s, const char *text, Err *e);
bool session_set_ids(Session *s, const int *ids, int n, Err *e);   /* reset with ids */
bool session_step(Session *s, Err *e);       /* prefill, or advance cursor, or decode one */
/* The prefill in pieces (a UI that must not freeze): runs up to max_tokens more prompt tokens
 * and returns how many ran (-1 on error); when the last prompt token has run, the prefill is
 * complete exactly as session_step would leave it (next token chosen, cursor at the end).
 * The recorded tokens are those session_step records; the trace counts the chunks as one
 * forward call. */
int session_prefill_some(Session *s, int max_tokens, Err *e);
/* Stops a prefill in pieces: the prompt becomes the tokens already run (their text, when a
 * tokenizer decodes them) and the prefill is complete on them; with none run, the prompt
 * stays as it was, not prefilled. Returns the tokens kept. Same as session_work_stop. */
int session_prefill_stop(Session *s, Err *e);
/* Work in pieces, the general case (a UI that must not freeze). Besides a prompt's prefill a
 * session may have to re-run its recorded tokens (after an ablation, teacher-forced: the same
 * ids, recomputed) or catch up with another session (compare mode: B brought to A's prompt,
 * length and cursor, sampling its own tokens). session_pending: is any of it left;
 * session_work_some runs up to max_tokens more (<= 0: all; a prompt's prefill in one forward
 * call, decode steps one each) and returns how many ran, -1 on error; progress counts
 * recorded positions (done of total). session_work_stop ends it where it is: a prefill as
 * session_prefill_stop; after the prompt, the tokens not yet recomputed are dropped, the next
 * token is chosen from what ran, and the cursor returns where it was (or to the last token).
 * Running the work in pieces or at once gives the same trace (tests/test_scene.c). */
bool session_pending(const Session *s);
int session_work_some(Session *s, int max_tokens, Err *e);
void session_work_progress(const Session *s, int *done, int *total);
int session_work_stop(Session *s, Err *e);
/* Sets s to ref's prompt and leaves the rest (prefill, decode to ref's length, ref's cursor)
 * as work for session_work_some. */
bool session_follow_begin(Session *s, const Session *ref, Err *e);
bool session_back(Session *s);               /* cursor - 1 (no recompute) */
bool session_goto(Session *s, int pos);      /* cursor = pos if recorded */
void session_set_sampler(Session *s, SamplerCfg cfg);
bool session_set_ablation(Session *s, int layer, int head, Err *e); /* -1,-1 clears; recomputes */
/* The same, leaving the recomputation as work in pieces (session_work_some). */
bool session_set_ablation_begin(Session *s, int layer, int head, Err *e);
/* Text of a token id (decoded piece, for display); writes into buf. */
const char *session_token_text(const Session *s, int id, char *buf, size_t cap);
int session_len(const Session *s);           /* recorded positions */
/* Prompt text -> ids as the model sees them, exactly as HF tokenizers encode with
 * add_special_tokens=True: the special tokens of the tokenizer's post-processor template and of
 * add_bos_token/add_eos_token in tokenizer_config.json, nothing else (Llama: <|begin_of_text|>
 * or <s> first; Qwen3 and GPT-2: nothing). add_special = false: the text's own tokens. With
 * add_special, an empty result becomes [BOS] (bos_token_id of the config, else the tokenizer's),
 * as transformers' generate() starts without input ids; without it (--no-bos) an empty text stays
 * empty (0: nothing to condition on, the caller says so). Returns n or -1; *ids malloc'd. */
int session_encode(const struct Tokenizer *tok, const Model *m, const char *text, bool add_special, int **ids, Err *e);
#endif
