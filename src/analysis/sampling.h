/* The next-token distribution under other sampling settings, recomputed from what the
 * trace recorded: the K largest logits l_i and lse = log sum_j exp(l_j) over the whole
 * vocabulary (so p_i = exp(l_i - lse) exactly at temperature 1).
 *
 * At temperature T the kept set is the top-K logits, filtered by top-k and then top-p
 * (nucleus, on the tempered distribution), renormalised. The tokens outside the recorded
 * top-K are unknown; their mass at T = 1 is tail = 1 - sum_i p_i. At other temperatures
 * tail_T is bounded above using that every unrecorded logit is <= l_K (the smallest
 * recorded one) and that there are V - K of them:
 *   T < 1:  sum_j e^{l_j/T} <= e^{l_K (1/T - 1)} sum_j e^{l_j}          (convexity)
 *   T > 1:  sum_j e^{l_j/T} <= (V-K)^{1-1/T} (sum_j e^{l_j})^{1/T}      (power mean)
 * `tail_bound` reports that bound as a probability; the shown probabilities are exact
 * when top-k <= K or when the tail is negligible. Top-p counts the unrecorded mass in its
 * normaliser (exact at T = 1, the bound otherwise), so the kept set is exact at T = 1 or
 * with top-k <= K, and never smaller than the real one. The rule is the sampler's
 * (sampler_keep_count). */
#ifndef LLMSCOPE_SAMPLING_PREVIEW_H
#define LLMSCOPE_SAMPLING_PREVIEW_H
#include <stdbool.h>

typedef struct {
    float temperature;      /* > 0 */
    int top_k;              /* 0 = off */
    float top_p;            /* >= 1 = off */
    bool greedy;
} SamplePreviewCfg;

/* probs[K] receives the renormalised distribution over the recorded top-K (0 outside the
 * kept set), in the same order as logits (descending). Returns the number kept.
 * tail_t1: unrecorded mass at T=1; tail_bound: upper bound of it at cfg.temperature
 * (before filtering). */
int sampling_preview(const float *logits, int K, float lse, int vocab, SamplePreviewCfg cfg,
                     float *probs, double *tail_t1, double *tail_bound);
#endif
