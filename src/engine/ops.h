/* Numeric kernels. Weights stay in their stored dtype (f32, f16, bf16) and are widened to
 * f32 inside the kernels, so a 16-bit model reads half the bytes per token and gives the
 * same results as an f32 copy of the same weights. All accumulation is in f32. */
#ifndef LLMSCOPE_OPS_H
#define LLMSCOPE_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "model/model.h"

/* Widens n elements of a tensor's storage starting at element off into out. */
void tensor_row_f32(const Tensor *t, size_t off, int n, float *out);
/* Element i (slow path, for small vectors like norm weights). */
float tensor_get(const Tensor *t, size_t i);

/* sum_i a[i] b[i] (AVX2 when available) */
float ops_dot(const float *a, const float *b, int n);
/* y[i] += a x[i] for i < n (vectorised) */
void ops_axpy(float *restrict y, float a, const float *restrict x, int n);
/* y[r] = sum_i W[r*ld + i] x[i] for r < rows, on the calling thread (four rows per step):
 * the scores of one query against a run of cached keys. */
void ops_rows_dot(const float *W, size_t ld, int rows, const float *x, int n, float *y);
/* z[i] += sum_r p[r] W[r*ld + i] for i < n, on the calling thread (four rows per step): a
 * pattern row times a run of cached values. */
void ops_rows_axpy(float *restrict z, const float *p, const float *W, size_t ld, int rows, int n);
/* y[rows] = W[rows, cols] x[cols]  (on the pool, four rows per kernel call) */
void matvec(const Tensor *W, const float *x, float *y);
/* Y[n, rows] = X[n, cols] W^T: matvec for n = 1, else the packed GEMM (gemm.h). */
void matmul(const Tensor *W, const float *X, int n, float *Y);
/* Y[n, rows] += bias */
void add_bias(const Tensor *b, float *Y, int n, int rows);

/* Norms over one row of d; return the scale applied (1/rms or 1/sqrt(var+eps)).
 * w may be absent (weight 1); b may be absent. mean/var outputs may be NULL. */
float rmsnorm(float *out, const float *x, const Tensor *w, int d, float eps, float *mean_sq);
/* Soft-capping (Gemma 2): x = cap * tanh(x / cap) for n values; nothing when cap <= 0. */
void ops_softcap(float *x, size_t n, float cap);
float layernorm(float *out, const float *x, const Tensor *w, const Tensor *b, int d, float eps,
                float *mean, float *var);
void softmax_inplace(float *x, int n);
/* x[i] = exp(x[i] - m) (vectorised, about 1 ulp; -inf gives 0); returns the sum. */
float ops_exp_sum(float *x, int n, float m);
float act_apply(int act, float x);     /* ActKind */
/* a[i] = act(a[i]) * b[i] (b NULL: act(a[i])) for i < n; SiLU vectorised (the 8-lane exp). */
void ops_act_mul(int act, float *a, const float *b, size_t n);
/* One row of logits: its max, sum_i e^{x_i - max} and sum_i e^{x_i - max} (x_i - max)
 * (vectorised; -inf entries add nothing). */
void ops_logit_stats(const float *x, int n, float *max, double *sum_exp, double *sum_wd);
/* The k largest of x[0..n) in descending order (ties: the lower index first), values and
 * indices; returns how many (NaN entries are never chosen). */
int ops_top_k(const float *x, int n, int k, int *ids, float *vals);

#endif
