/* Presentation statistics over recorded values (GSL-backed): moments, histograms,
 * entropy of a probability row, cosine similarity, top-k selection. Nothing here
 * recomputes model internals; it summarises what the trace recorded. */
#ifndef LLMSCOPE_STATS_H
#define LLMSCOPE_STATS_H
#include <stdbool.h>
#include <stddef.h>

/* Shannon entropy in bits of a distribution p[n] (entries <= 0 ignored). */
double stats_entropy_bits(const float *p, int n);
/* Mean and (population) variance of x[n]. */
void stats_moments(const float *x, int n, double *mean, double *var);
void stats_minmax(const float *x, int n, float *mn, float *mx);
/* Histogram of x[n] into bins equal-width bins over [*lo, *hi] (gsl_histogram). When
 * *lo >= *hi the range becomes the data's min/max (written back). Values outside the
 * range are clamped into the end bins. Returns false on bad arguments. */
bool stats_hist(const float *x, int n, int bins, double *lo, double *hi, double *counts);
/* cos(a, b) = a·b / (|a||b|); 0 when either is zero. */
float stats_cosine(const float *a, const float *b, int n);
double stats_dot(const float *a, const float *b, int n);
double stats_norm(const float *a, int n);
/* Indices of the k largest values of x[n], largest first (k <= n). */
void stats_topk(const float *x, int n, int k, int *idx);
#endif
