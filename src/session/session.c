/* The controller: the only code that drives the engine. Keys, lessons and the CLI all act
 * through these functions; the trace records what panels show. */
#include "session/session.h"
#include "session/session_impl.h"
#include "template/jinja.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/i18n.h"
#include "tokenizer/tokenizer.h"

/* English; the UI shows them through tr() (core/i18n.h) */
static const char *const STAGE_NAMES[STAGE_COUNT] = {
    N_("embed"), N_("+position"), N_("norm"), "Q/K/V", "RoPE", N_("scores"), "softmax", N_("attention out"), N_("add"),
    N_("norm"), "FFN", N_("add"), N_("final norm"), "logits", N_("sample")};

const char *stage_name(Stage s) { return (unsigned)s < STAGE_COUNT ? STAGE_NAMES[s] : "?"; }
bool stage_is_per_layer(Stage s) { return s >= STAGE_NORM1 && s <= STAGE_ADD2; }

int session_encode(const struct Tokenizer *tok, const Model *m, const char *text, bool add_special, int **ids, Err *e) {
    int *raw = NULL;
    int n = tokenizer_encode(tok, text, strlen(text), add_special, &raw, e);
    if (n < 0) return -1;
    int bos = m->spec.bos_id >= 0 ? m->spec.bos_id : tokenizer_bos_id(tok);
    if (n == 0 && add_special && bos >= 0) {   /* nothing to start from: the BOS id, as generate() does without input */
        int *r2 = malloc(sizeof(int));
        if (!r2) { free(raw); err_set(e, ERR_MEMORY, "out of memory"); return -1; }
        r2[0] = bos;
        free(raw);
        raw = r2;
        n = 1;
    }
    *ids = raw;
    return n;
}

static void ablate_observe(void *ud, HookEvent *ev) {
    Session *s = ud;
    /* hook_z [pos, n_heads, d_head]: zero one head's output (a "what if" write hook) */
    if (ev->layer != s->ablate_layer) return;
    int H = ev->shape[1], hd = ev->shape[2], h = s->ablate_head;
    if (h < 0 || h >= H) return;
    for (int t = 0; t < ev->shape[0]; t++) memset(ev->data + ((size_t)t * H + h) * hd, 0, sizeof(float) * (size_t)hd);
}

Session *session_new(const char *model_path, int max_ctx, Err *e) {
    Session *s = calloc(1, sizeof *s);
    if (!s) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    s->ablate_layer = s->ablate_head = -1;
    s->cursor = -1;
    snprintf(s->model_path, sizeof s->model_path, "%s", model_path);
    s->model = model_load(model_path, false, e);
    if (!s->model) { free(s); return NULL; }
    Err te = {0};
    s->tok = tokenizer_load_for_model(s->model->path, s->model->spec.vocab_size, &te);
    if (!s->tok && te.msg[0]) snprintf(s->tok_error, sizeof s->tok_error, "%s", te.msg);
    else if (!s->tok) snprintf(s->tok_error, sizeof s->tok_error, "no tokenizer found next to %s", s->model->path);
    s->engine = engine_new(s->model, max_ctx, e);
    if (!s->engine) { session_free(s); return NULL; }
    s->max_ctx = engine_max_ctx(s->engine);
    s->hooks = hooks_new();
    s->trace = trace_new(s->model, s->max_ctx, e);
    SamplerCfg cfg = {.greedy = true, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
    s->sampler = sampler_new(cfg, s->model->spec.vocab_size);
    s->cap_ids = s->max_ctx + 1;
    s->ids = calloc((size_t)s->cap_ids, sizeof(int));
    if (!s->hooks || !s->trace || !s->sampler || !s->ids) { if (!e->code) err_set(e, ERR_MEMORY, "out of memory"); session_free(s); return NULL; }
    trace_bind_engine(s->trace, s->engine);
    engine_set_hook_all_logits(s->engine, true);   /* top-k of every prompt row, none held */
    trace_attach(s->trace, s->hooks);
    hooks_add(s->hooks, "blocks.*.attn.hook_z", NULL, ablate_observe, s);
    engine_set_hooks(s->engine, s->hooks);
    return s;
}

void session_free(Session *s) {
    if (!s) return;
    engine_free(s->engine);
    trace_free(s->trace);
    hooks_free(s->hooks);
    sampler_free(s->sampler);
    if (s->tok) tokenizer_free(s->tok);
    model_free(s->model);
    free(s->prompt_ids);
    free(s->ids);
    free(s);
}

static void session_reset(Session *s) {
    engine_truncate(s->engine, 0);
    trace_truncate(s->trace, 0);
    s->n_ids = s->n_prompt;
    if (s->n_prompt) memcpy(s->ids, s->prompt_ids, sizeof(int) * (size_t)s->n_prompt);
    s->cursor = -1;
    s->prefilled = false;
    s->n_prefilled = 0;
    s->last_logits = NULL;
    s->work_len = 0;
}

bool session_set_ids(Session *s, const int *ids, int n, Err *e) {
    if (n <= 0) return err_set(e, ERR_ARG, "the prompt has no tokens");
    if (n >= s->max_ctx) {
        const ModelSpec *sp = &s->model->spec;
        return err_set(e, ERR_ARG, "the prompt has %d tokens; the context holds %d%s", n, s->max_ctx,
                       sp->pos == POS_LEARNED && s->max_ctx >= sp->max_pos ? " (learned positions cannot go further)" : " (use --ctx to enlarge it)");
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->model->spec.vocab_size) return err_set(e, ERR_ARG, "token id %d at position %d is outside the vocabulary (0..%d)", ids[i], i, s->model->spec.vocab_size - 1);
    int *p = malloc(sizeof(int) * (size_t)n);
    if (!p) return err_set(e, ERR_MEMORY, "out of memory");
    memcpy(p, ids, sizeof(int) * (size_t)n);
    free(s->prompt_ids);
    s->prompt_ids = p;
    s->n_prompt = n;
    session_reset(s);
    return true;
}

bool session_set_prompt(Session *s, const char *text, Err *e) {
    if (!s->tok) return err_set(e, ERR_ARG, "cannot encode text (use token ids): %s", s->tok_error);
    int *ids = NULL;
    int n = session_encode(s->tok, s->model, text, true, &ids, e);
    if (n < 0) return false;
    bool ok = session_set_ids(s, ids, n, e);
    free(ids);
    if (ok) snprintf(s->prompt, sizeof s->prompt, "%s", text);
    return ok;
}

bool session_set_chat_prompt(Session *s, const char *text, Err *e) {
    if (!s->tok) return err_set(e, ERR_ARG, "cannot encode text (use token ids): %s", s->tok_error);
    char *tmpl = NULL, *bos = NULL, *eos = NULL, *out = NULL;
    size_t olen = 0;
    int *ids = NULL;
    bool ok = chat_template_load_for_model(s->model->path, &tmpl, &bos, &eos, e) &&
              chat_template_apply_prompt(tmpl, text, bos, eos, NULL, 0, NULL, &out, &olen, e);
    int n = ok ? tokenizer_encode(s->tok, out, olen, false, &ids, e) : -1;
    ok = n >= 0 && session_set_ids(s, ids, n, e);
    if (ok) snprintf(s->prompt, sizeof s->prompt, "%s", text);
    free(tmpl); free(bos); free(eos); free(out); free(ids);
    return ok;
}

/* Runs tokens through the engine (the last row's logits only: the recorder sees every row
 * through the hook), records ids; returns the last row's logits or NULL. A prefill in chunks
 * counts as one forward call (step). */
static const float *forward_ids(Session *s, const int *ids, int n, Phase ph, int step, Err *e) {
    int p0 = engine_pos(s->engine);
    trace_begin_step(s->trace, ph, step);
    const float *lg = engine_forward(s->engine, ids, n, false, e);
    if (!lg) return NULL;
    s->last_logits = lg;
    for (int i = 0; i < n; i++) {
        TraceTok *k = trace_tok_mut(s->trace, p0 + i);
        if (k) { k->id = ids[i]; k->phase = ph; if (i + 1 < n) k->next_id = ids[i + 1]; }
    }
    return lg;
}

/* The next token after the last recorded position: forced, or sampled from lg. */
static void choose_next(Session *s, const float *lg, int forced_next) {
    int next = forced_next >= 0 ? forced_next : sampler_sample(s->sampler, lg, NULL);
    TraceTok *k = trace_tok_mut(s->trace, trace_len(s->trace) - 1);
    if (k) k->next_id = next;
}

static bool run_tokens(Session *s, const int *ids, int n, Phase ph, int forced_next, Err *e) {
    const float *lg = forward_ids(s, ids, n, ph, s->n_calls++, e);
    if (!lg) return false;
    choose_next(s, lg, forced_next);
    return true;
}

/* The id that follows the prompt in a teacher-forced re-run (-1: sample it). */
static int forced_after_prompt(const Session *s) {
    return s->work_forced && s->work_len > s->n_prompt && s->n_ids > s->n_prompt ? s->ids[s->n_prompt] : -1;
}

int session_prefill_some(Session *s, int max_tokens, Err *e) {
    if (!s->n_prompt) { err_set(e, ERR_ARG, "no prompt set"); return -1; }
    if (s->prefilled) return 0;
    if (s->n_prefilled == 0) s->prefill_step = s->n_calls++;
    int n = s->n_prompt - s->n_prefilled;
    if (max_tokens > 0 && n > max_tokens) n = max_tokens;
    const float *lg = forward_ids(s, s->prompt_ids + s->n_prefilled, n, PHASE_PREFILL, s->prefill_step, e);
    if (!lg) return -1;
    if (s->n_prefilled + n < s->n_prompt) {   /* a chunk's last token: the prompt goes on */
        TraceTok *k = trace_tok_mut(s->trace, s->n_prefilled + n - 1);
        if (k) k->next_id = s->prompt_ids[s->n_prefilled + n];
    }
    s->n_prefilled += n;
    if (s->n_prefilled == s->n_prompt) {
        choose_next(s, lg, forced_after_prompt(s));
        s->prefilled = true;
        s->cursor = s->n_prompt - 1;
        if (s->work_len > 0 && s->work_len <= s->n_prompt) {   /* the work ends with the prompt */
            if (s->work_cursor >= 0 && s->work_cursor < s->n_prompt) s->cursor = s->work_cursor;
            s->work_len = 0;
        }
    }
    return n;
}

/* The work after the prompt: decode steps up to work_len (ids[] forced, or sampled). */
static int work_decode(Session *s, int max_tokens, Err *e) {
    int k = 0;
    while (trace_len(s->trace) < s->work_len && (max_tokens <= 0 || k < max_tokens)) {
        int i = trace_len(s->trace);
        if (s->work_forced) {
            if (i >= s->n_ids) break;
            if (!run_tokens(s, &s->ids[i], 1, PHASE_DECODE, i + 1 < s->work_len && i + 1 < s->n_ids ? s->ids[i + 1] : -1, e)) return -1;
        } else {   /* as session_step decodes: the next token chosen after the last one */
            const TraceTok *last = trace_tok(s->trace, i - 1);
            int next = last ? last->next_id : -1;
            if (next < 0 || i >= s->max_ctx) break;
            if (!run_tokens(s, &next, 1, PHASE_DECODE, -1, e)) return -1;
            if (s->n_ids < s->cap_ids) s->ids[s->n_ids++] = next;
        }
        k++;
    }
    int len = trace_len(s->trace);
    if (k < max_tokens || max_tokens <= 0 || len >= s->work_len) {   /* reached, or nothing more to run */
        s->cursor = s->work_cursor >= 0 && s->work_cursor < len ? s->work_cursor : len - 1;
        s->work_len = 0;
    } else s->cursor = len - 1;
    return k;
}

bool session_pending(const Session *s) { return (s->n_prompt > 0 && !s->prefilled) || s->work_len > 0; }

void session_work_progress(const Session *s, int *done, int *total) {
    int len = trace_len(s->trace);
    *total = s->work_len > s->n_prompt ? s->work_len : s->n_prompt;
    *done = s->prefilled ? len : s->n_prefilled;
}

int session_work_some(Session *s, int max_tokens, Err *e) {
    if (!s->prefilled) return s->n_prompt ? session_prefill_some(s, max_tokens, e) : 0;
    return s->work_len > 0 ? work_decode(s, max_tokens, e) : 0;
}

bool session_follow_begin(Session *s, const Session *ref, Err *e) {
    bool ok = session_prompt(ref)[0] ? session_set_prompt(s, session_prompt(ref), e)
                                     : (ref->n_prompt ? session_set_ids(s, ref->prompt_ids, ref->n_prompt, e) : true);
    if (!ok) return false;
    if (!ref->prefilled) return true;
    s->work_forced = false;
    s->work_len = trace_len(ref->trace);
    s->work_cursor = ref->cursor;
    return true;
}

int session_work_stop(Session *s, Err *e) {
    (void)e;
    if (!s->prefilled) {
        int n = s->n_prefilled;
        s->work_len = 0;
        if (!n) return 0;
        if (s->tok) {   /* the prompt text becomes the text of the tokens kept */
            char *txt = tokenizer_decode(s->tok, s->prompt_ids, n, true);
            if (txt) { snprintf(s->prompt, sizeof s->prompt, "%s", txt); free(txt); }
            else s->prompt[0] = 0;
        } else s->prompt[0] = 0;
        s->n_prompt = n;
        s->n_ids = n;
        choose_next(s, s->last_logits, -1);
        s->prefilled = true;
        s->cursor = n - 1;
        return n;
    }
    int len = trace_len(s->trace);
    if (s->work_len > 0) {   /* decoding after the prompt: keep what ran, choose its next token afresh */
        s->work_len = 0;
        if (s->n_ids > len) s->n_ids = len;
        if (s->work_forced && s->last_logits) choose_next(s, s->last_logits, -1);   /* not the old run's */
        s->cursor = s->work_cursor >= 0 && s->work_cursor < len ? s->work_cursor : len - 1;
    }
    return len;
}

int session_prefill_stop(Session *s, Err *e) { return session_work_stop(s, e); }

bool session_step(Session *s, Err *e) {
    if (!s->n_prompt) return err_set(e, ERR_ARG, "no prompt set");
    if (session_pending(s)) {
        while (session_pending(s))
            if (session_work_some(s, 0, e) < 0) return false;
        return true;
    }
    int len = trace_len(s->trace);
    if (s->cursor < len - 1) { s->cursor++; return true; }
    if (len >= s->max_ctx) return err_set(e, ERR_ARG, "the context is full (%d tokens)", s->max_ctx);
    const TraceTok *last = trace_tok(s->trace, len - 1);
    int next = last ? last->next_id : -1;
    if (next < 0) return err_set(e, ERR_ARG, "nothing to decode");
    if (!run_tokens(s, &next, 1, PHASE_DECODE, -1, e)) return false;
    if (s->n_ids < s->cap_ids) s->ids[s->n_ids++] = next;
    s->cursor = trace_len(s->trace) - 1;
    return true;
}

bool session_back(Session *s) {
    if (s->cursor > 0) { s->cursor--; return true; }
    return false;
}

bool session_goto(Session *s, int pos) {
    if (pos < 0 || pos >= trace_len(s->trace)) return false;
    s->cursor = pos;
    return true;
}

void session_set_sampler(Session *s, SamplerCfg cfg) { sampler_set(s->sampler, cfg); }

/* Recomputes the recorded tokens with the same ids (teacher-forced), e.g. after an ablation
 * changed the model's internals: only sets the work up; session_work_some runs it. */
static bool replay_begin(Session *s) {
    if (!s->prefilled && !s->n_prefilled) return false;   /* nothing ran yet: the prefill will see the change */
    int len = trace_len(s->trace), cursor = s->cursor;
    if (!s->prefilled) len = s->n_prompt;            /* a prefill under way: run it again, whole */
    engine_truncate(s->engine, 0);
    trace_truncate(s->trace, 0);
    s->prefilled = false;
    s->n_prefilled = 0;
    s->work_forced = true;
    s->work_len = len;
    s->work_cursor = cursor;
    return true;
}

bool session_set_ablation_begin(Session *s, int layer, int head, Err *e) {
    if (layer >= s->model->spec.n_layers || head >= s->model->spec.n_heads) return err_set(e, ERR_ARG, "no head %d in layer %d", head, layer);
    s->ablate_layer = layer;
    s->ablate_head = head;
    replay_begin(s);
    return true;
}

bool session_set_ablation(Session *s, int layer, int head, Err *e) {
    bool ran = s->prefilled || s->n_prefilled;
    if (!session_set_ablation_begin(s, layer, head, e)) return false;
    while (ran && session_pending(s))
        if (session_work_some(s, 0, e) < 0) return false;
    return true;
}

const char *session_token_text(const Session *s, int id, char *buf, size_t cap) {
    if (s->tok) return tokenizer_token_display(s->tok, id, buf, cap);
    snprintf(buf, cap, "<%d>", id);
    return buf;
}

int session_len(const Session *s) { return trace_len(s->trace); }

Model *session_model(const Session *s) { return s->model; }
struct Tokenizer *session_tokenizer(const Session *s) { return s->tok; }
const char *session_tokenizer_error(const Session *s) { return s->tok_error; }
Engine *session_engine(const Session *s) { return s->engine; }
Hooks *session_hooks(const Session *s) { return s->hooks; }
Trace *session_trace(const Session *s) { return s->trace; }
Sampler *session_sampler(const Session *s) { return s->sampler; }
const char *session_model_path(const Session *s) { return s->model_path; }
const char *session_prompt(const Session *s) { return s->prompt; }
const int *session_prompt_ids(const Session *s) { return s->prompt_ids; }
int session_n_prompt(const Session *s) { return s->n_prompt; }
const int *session_ids(const Session *s) { return s->ids; }
int session_n_ids(const Session *s) { return s->n_ids; }
int session_cursor(const Session *s) { return s->cursor; }
bool session_prefilled(const Session *s) { return s->prefilled; }
int session_n_prefilled(const Session *s) { return s->n_prefilled; }
int session_ablate_layer(const Session *s) { return s->ablate_layer; }
int session_ablate_head(const Session *s) { return s->ablate_head; }
int session_max_ctx(const Session *s) { return s->max_ctx; }
