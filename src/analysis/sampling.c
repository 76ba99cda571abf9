/* Sampling preview from the recorded top logits (see sampling.h for the bounds). */
#include "analysis/sampling.h"
#include <math.h>

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
    int keep = n;
    if (cfg.top_k > 0 && cfg.top_k < keep) keep = cfg.top_k;
    double z = 0;
    for (int i = 0; i < keep; i++) z += exp(((double)lg[i] - m) * inv);
    if (cfg.top_p > 0 && cfg.top_p < 1) {
        double c = 0;
        int k2 = keep;
        for (int i = 0; i < keep; i++) {
            c += exp(((double)lg[i] - m) * inv) / z;
            if (c >= cfg.top_p) { k2 = i + 1; break; }
        }
        keep = k2;
        z = 0;
        for (int i = 0; i < keep; i++) z += exp(((double)lg[i] - m) * inv);
    }
    for (int i = 0; i < keep; i++) probs[i] = (float)(exp(((double)lg[i] - m) * inv) / z);
    return keep;
}
