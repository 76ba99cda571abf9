/* Presentation statistics (GSL histograms and moments). */
#include "analysis/stats.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_histogram.h>
#include <gsl/gsl_statistics_float.h>
#include <math.h>
#include <stdlib.h>

double stats_entropy_bits(const float *p, int n) {
    double h = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) h -= (double)p[i] * log2((double)p[i]);
    return h;
}

void stats_moments(const float *x, int n, double *mean, double *var) {
    if (n <= 0) { *mean = 0; *var = 0; return; }
    *mean = gsl_stats_float_mean(x, 1, (size_t)n);
    *var = n > 1 ? gsl_stats_float_variance_with_fixed_mean(x, 1, (size_t)n, *mean) : 0.0;
}

void stats_minmax(const float *x, int n, float *mn, float *mx) {
    float a = INFINITY, b = -INFINITY;
    for (int i = 0; i < n; i++) if (isfinite(x[i])) { if (x[i] < a) a = x[i]; if (x[i] > b) b = x[i]; }
    *mn = a;
    *mx = b;
}

bool stats_hist(const float *x, int n, int bins, double *lo, double *hi, double *counts) {
    if (bins <= 0 || n < 0 || !counts) return false;
    for (int i = 0; i < bins; i++) counts[i] = 0;
    if (!(*lo < *hi)) {
        float mn, mx;
        stats_minmax(x, n, &mn, &mx);
        if (!(mn <= mx)) { *lo = 0; *hi = 1; return true; }
        *lo = mn;
        *hi = mx > mn ? mx : mn + 1e-6;
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_histogram *h = gsl_histogram_alloc((size_t)bins);
    if (!h) { gsl_set_error_handler(old); return false; }
    gsl_histogram_set_ranges_uniform(h, *lo, *hi);
    /* the top edge is exclusive in GSL: clamp into the last bin */
    double top = *hi - (*hi - *lo) * 1e-9;
    for (int i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) continue;
        if (v < *lo) v = *lo;
        if (v >= *hi) v = top;
        gsl_histogram_increment(h, v);
    }
    for (int i = 0; i < bins; i++) counts[i] = gsl_histogram_get(h, (size_t)i);
    gsl_histogram_free(h);
    gsl_set_error_handler(old);
    return true;
}

double stats_dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

double stats_norm(const float *a, int n) { return sqrt(stats_dot(a, a, n)); }

float stats_cosine(const float *a, const float *b, int n) {
    double na = stats_norm(a, n), nb = stats_norm(b, n);
    if (na <= 0 || nb <= 0) return 0;
    return (float)(stats_dot(a, b, n) / (na * nb));
}

void stats_topk(const float *x, int n, int k, int *idx) {
    if (k > n) k = n;
    int m = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        if (isnan(v)) continue;
        if (m == k && v <= x[idx[m - 1]]) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && x[idx[j - 1]] < v) { idx[j] = idx[j - 1]; j--; }
        idx[j] = i;
    }
    for (int i = m; i < k; i++) idx[i] = -1;
}
