/* PCA to two dimensions by SVD (gsl_linalg_SV_decomp) of the centred data.
 * X is [n][d] row-major. With n < d the SVD runs on X^T (d x n, GSL needs rows >= cols):
 * Xc^T = U S V^T  =>  Xc = V S U^T, so the scores of row i on component k are V[i,k] S_k;
 * otherwise Xc = U S V^T and the scores are U[i,k] S_k. explained[k] = S_k^2 / sum S^2. */
#ifndef LLMSCOPE_PCA_H
#define LLMSCOPE_PCA_H
#include <stdbool.h>

/* xy receives n (x, y) pairs. Returns false on bad input (n < 2) or allocation failure. */
bool pca_project2(const float *X, int n, int d, float *xy, double explained[2]);
#endif
