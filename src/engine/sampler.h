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
#endif
