/* Sampling preview from the recorded top logits (see sampling.h for the bounds). */
#include "analysis/sampling.h"
#include <math.h>
#include "engine/sampler.h"
#include <stddef.h>

int sampling_preview(const float *lg, int K, float lse, int vocab, SamplePreviewCfg cfg,
                     float *probs, double *tail_t1, double *tail_bound) {
    int n = 0;
    while (n < K && isfinite(lg[n])) n++;
    for (int i = 0; i < K; i++) probs[i] = 0;
    double s1 = 0;
    for (int i = 0; i < n; i++) s1 += exp((double)lg[i] - lse);
    double t1 = 1.0 - s1;
    if (t1 < 0) t1 = 0;
    if (tail_t1) *tail_t1 = t1;
    if (n == 0) { if (tail_bound) *tail_bound = t1; return 0; }
    if (cfg.greedy) { probs[0] = 1; if (tail_bound) *tail_bound = 0; return 1; }
    double T = cfg.temperature > 1e-4f ? cfg.temperature : 1e-4;
    double inv = 1.0 / T, m = lg[0];
    /* tempered weights relative to the largest logit: w_i = e^{(l_i - l_0)/T} */
    double sw = 0;
    for (int i = 0; i < n; i++) sw += exp(((double)lg[i] - m) * inv);
    /* tail bound in the same units (relative to e^{l_0/T}) */
    double tail_mass_t1 = t1 * exp((double)lse - m);           /* sum_tail e^{l_j - l_0} */
    double tb = 0;
    int rest = vocab - n;
    if (t1 > 0 && rest > 0) {
        double lk = (double)lg[n - 1] - m;                      /* <= 0 */
        if (inv >= 1) tb = exp(lk * (inv - 1)) * tail_mass_t1;
        else tb = pow((double)rest, 1 - inv) * pow(tail_mass_t1, inv);
    }
    if (tail_bound) *tail_bound = tb / (sw + tb);
    bool filtered = (cfg.top_k > 0 && cfg.top_k < n) || (cfg.top_p > 0 && cfg.top_p < 1);
    if (!filtered && fabs(T - 1.0) < 1e-6) {
        /* exact: p_i = exp(l_i - lse) over the whole vocabulary */
        for (int i = 0; i < n; i++) probs[i] = (float)exp((double)lg[i] - lse);
        if (tail_bound) *tail_bound = t1;
        return n;
    }
    /* tempered weights in probs, then the sampler's own top-k / top-p rule; the unrecorded
     * tokens count in top-p's normaliser (unless top-k cut them): exactly at T = 1, by
     * their upper bound otherwise, so the kept set shown is never smaller than the real one */
    for (int i = 0; i < n; i++) probs[i] = (float)exp(((double)lg[i] - m) * inv);
    double unrec = fabs(T - 1.0) < 1e-6 ? tail_mass_t1 : tb;
    int keep = sampler_keep_count(probs, NULL, n, unrec, cfg.top_k, cfg.top_p);
    double z = 0;
    for (int i = 0; i < keep; i++) z += exp(((double)lg[i] - m) * inv);
    for (int i = keep; i < n; i++) probs[i] = 0;
    for (int i = 0; i < keep; i++) probs[i] = (float)(exp(((double)lg[i] - m) * inv) / z);
    return keep;
}
