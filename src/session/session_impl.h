/* The Session's fields: private to session.c (and to the test fakes that build a session
 * around a synthetic trace). Everything else uses the accessors in session.h. */
#ifndef LLMSCOPE_SESSION_IMPL_H
#define LLMSCOPE_SESSION_IMPL_H
#include "session/session.h"

struct Session {
    Model *model;
    struct Tokenizer *tok;       /* may be NULL (ids only); then tok_error says why */
    char tok_error[1024];        /* the tokenizer's whole message (an Err's), never cut */
    Engine *engine;
    Hooks *hooks;
    Trace *trace;
    Sampler *sampler;
    char model_path[1024];
    char prompt[SESSION_PROMPT_MAX];
    int *prompt_ids; int n_prompt;
    int *ids; int n_ids, cap_ids;   /* prompt + generated */
    int cursor;                  /* position shown (0..trace_len-1), -1 before any step */
    bool prefilled;
    int n_prefilled;             /* prompt tokens run so far (a prefill in chunks) */
    int n_calls;                 /* forward calls so far (a prefill in chunks is one) */
    int prefill_step;            /* the call the prefill counts as */
    const float *last_logits;    /* last row of the last forward call (the engine's buffer) */
    /* Work in pieces beyond the prompt (session_work_some): recorded positions to reach, the
     * cursor to show then, and whether the tokens are ids[] (a re-run, teacher-forced) or
     * sampled as they come (a compare session catching up with A). work_len 0: none. */
    int work_len, work_cursor;
    bool work_forced;
    int ablate_layer, ablate_head;  /* write-hook demo: -1 = none */
    int max_ctx;
};
#endif
