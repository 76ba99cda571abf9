/* Sampling: greedy, or temperature -> top-k -> top-p (nucleus) -> draw, with a seeded RNG
 * (GSL mt19937) so runs repeat. */
#ifndef LLMSCOPE_SAMPLER_H
#define LLMSCOPE_SAMPLER_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool greedy;
    float temperature;   /* > 0 */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
    uint64_t seed;
} SamplerCfg;

typedef struct Sampler Sampler;
Sampler *sampler_new(SamplerCfg cfg, int vocab);
void sampler_free(Sampler *s);
void sampler_set(Sampler *s, SamplerCfg cfg);   /* reseeds */
SamplerCfg sampler_cfg(const Sampler *s);
/* Picks the next id from logits [vocab]. If probs_out is non-NULL it receives the final
 * distribution after temperature/top-k/top-p (zeros outside the kept set). */
int sampler_sample(Sampler *s, const float *logits, float *probs_out);
int argmax(const float *x, int n);
/* The one top-k / top-p rule (the sampler and the Output panel's preview both use it), in
 * transformers' order: top-k first, then top-p on the distribution renormalised over what
 * top-k kept (TopKLogitsWarper, then TopPLogitsWarper): the shortest prefix of the
 * candidates, sorted by descending weight, whose share reaches top_p. w: non-negative
 * weights (unnormalised is fine); order: their indices sorted by descending weight, or NULL
 * when w is already sorted. rest: the total weight of candidates not listed (all smaller
 * than the listed ones; 0 when w lists them all), counted in top-p's normaliser unless
 * top-k already cut them. top_k 0 = off, top_p >= 1 = off. Returns how many are kept (at
 * least 1 when n >= 1). */
int sampler_keep_count(const float *w, const int *order, int n, double rest, int top_k, float top_p);
#endif
