/* A synthetic Session for TUI tests: a Model with small f32 weights (spec only for the
 * parts panels read), and a real Trace filled by firing hook events the way the engine
 * does, so panels are exercised through the public trace accessors. No engine, tokenizer
 * or sampler: only drawing and panel-local keys may be used with it (session_step needs
 * an engine; key tests that step use a real model).
 * kinds: "gqa" (llama-like, RoPE rotate-half, RMSNorm), "mha" (GPT-2-like, learned
 * positions, LayerNorm), "mla" (DeepSeek-like MLA + MoE in layer 1). */
#ifndef LLMSCOPE_TUI_FAKE_H
#define LLMSCOPE_TUI_FAKE_H
#include "session/session.h"

Session *tui_fake_session(const char *kind, int n_tokens, int n_prompt);
void tui_fake_free(Session *s);
#endif
