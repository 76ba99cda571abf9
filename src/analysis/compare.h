/* Two models on the same text, position by position, teacher-forced:
 *   loss_X(t)    = -ln p_X(x_{t+1} | x_0..x_t)                      (nats)
 *   KL(A||B)(t)  = sum_v p_A(v | x_0..x_t) (ln p_A(v | ...) - ln p_B(v | ...))   >= 0
 * with the windows `llmscope eval` uses: ids = [BOS] + the text's tokens, windows of C ids that
 * overlap by one (C = the smaller of the two engines' contexts), so every id after the first is
 * scored once and, for models of equal context, the mean losses equal eval's. Both models must
 * share the vocabulary (the caller checks that their tokenizers agree). */
#ifndef LLMSCOPE_COMPARE_H
#define LLMSCOPE_COMPARE_H
#include <stdbool.h>
#include "core/err.h"
#include "engine/engine.h"

typedef struct {
    int n;                        /* scored positions: ids - 1 */
    double *loss_a, *loss_b;      /* [n] nats of id t+1 */
    double *kl_ab;                /* [n] KL(A||B) of the distributions over id t+1, nats */
    double mean_loss_a, mean_loss_b, mean_kl_ab;
} CompareResult;

/* One position: rows of V logits from A and B, and the id that came next. */
void compare_row(const float *la, const float *lb, int V, int target, double *loss_a, double *loss_b, double *kl_ab);
/* Runs both engines over ids[n] (their caches are reset). false + message on failure. */
bool compare_run(Engine *a, Engine *b, const int *ids, int n, CompareResult *out, Err *e);
/* compare_run in pieces (a UI that must not freeze): compare_begin checks and sets up,
 * compare_some runs up to max_tokens more positions through both engines (<= 0: all; a window
 * in forward calls of that many tokens) and returns how many ran, -1 on error (out then is
 * incomplete: free it). Done when st->done; st->scored positions are filled so far, in order.
 * compare_end frees the state (not out). compare_run is begin + some(all) + end. */
typedef struct {
    Engine *a, *b;
    const int *ids;
    int n, C, V;
    int s0, p;                    /* window start, tokens of the window run */
    int scored;
    bool done;
    float *rowa; size_t cap;      /* A's logits of the piece */
    double sa, sb, sk;
    CompareResult *out;
} CompareRun;
bool compare_begin(CompareRun *st, Engine *a, Engine *b, const int *ids, int n, CompareResult *out, Err *e);
int compare_some(CompareRun *st, int max_tokens, Err *e);
void compare_end(CompareRun *st);
void compare_result_free(CompareResult *r);

/* compare_run for a UI that redraws often: the result for (model A, model B, ids) is kept and
 * recomputed only when one of them changes. Each run uses two fresh engines sized to the text
 * (no hooks), so the sessions' caches and traces are never touched. Zero the struct to start;
 * compare_cache_free releases it. */
typedef struct {
    const void *ma, *mb;          /* the models of the last run, with their paths and serials (an address may be reused) */
    unsigned long long ser_a, ser_b;
    char pa[512], pb[512];
    int *ids, n;
    bool ok;
    char err[256];
    CompareResult r;
    bool running;                 /* a run in pieces under way (compare_cached_some) */
    bool grown;                   /* that run goes on from a shorter text's result (rows [0, run.scored) are final) */
    Engine *ea, *eb;              /* its engines */
    CompareRun run;
} CompareCache;
/* The result for ids[n] under models a and b (NULL with e filled when it cannot be computed). */
const CompareResult *compare_cached(CompareCache *cc, Model *a, Model *b, const int *ids, int n, Err *e);
/* The same in pieces: (re)starts the run when a, b or ids changed (or, when ids extend the
 * last text, goes on from its result: the rows already scored are kept and the sums go on, as
 * a from-scratch run would compute them; engines the text outgrows grow (engine_grow), and past
 * a model's own context the run goes on into the next window), runs up to max_tokens more
 * positions (0: to the end; < 0: none, only look) and returns the result once complete. NULL
 * with e untouched while cc->running (progress: cc->run.scored of cc->n - 1), NULL with e
 * filled on failure. Pieces and one run give the same numbers (tests/test_compare.c). */
const CompareResult *compare_cached_some(CompareCache *cc, Model *a, Model *b, const int *ids, int n, int max_tokens, Err *e);
void compare_cache_free(CompareCache *cc);
#endif
