/* PCA to 2-D with GSL's Golub-Reinsch SVD. */
#include "analysis/pca.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>

bool pca_project2(const float *X, int n, int d, float *xy, double explained[2]) {
    if (n < 2 || d < 1 || !X || !xy) return false;
    double *mean = calloc((size_t)d, sizeof(double));
    if (!mean) return false;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += X[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    bool tall = n >= d;                       /* A = Xc (n x d) or Xc^T (d x n) */
    size_t M = (size_t)(tall ? n : d), N = (size_t)(tall ? d : n);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_matrix *A = gsl_matrix_alloc(M, N), *V = gsl_matrix_alloc(N, N);
    gsl_vector *S = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
    bool ok = A && V && S && work;
    if (ok) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) {
                double v = X[(size_t)i * d + j] - mean[j];
                if (tall) gsl_matrix_set(A, (size_t)i, (size_t)j, v);
                else gsl_matrix_set(A, (size_t)j, (size_t)i, v);
            }
        ok = gsl_linalg_SV_decomp(A, V, S, work) == GSL_SUCCESS;
    }
    if (ok) {
        double tot = 0;
        for (size_t k = 0; k < N; k++) tot += gsl_vector_get(S, k) * gsl_vector_get(S, k);
        for (int k = 0; k < 2; k++) {
            double sk = (size_t)k < N ? gsl_vector_get(S, (size_t)k) : 0;
            if (explained) explained[k] = tot > 0 ? sk * sk / tot : 0;
            for (int i = 0; i < n; i++) {
                double u = 0;
                if ((size_t)k < N) u = tall ? gsl_matrix_get(A, (size_t)i, (size_t)k) : gsl_matrix_get(V, (size_t)i, (size_t)k);
                xy[2 * i + k] = (float)(u * sk);
            }
        }
        /* SVD signs are arbitrary: make the first token's coordinates non-negative so
         * the picture does not flip between frames */
        for (int k = 0; k < 2; k++)
            if (xy[k] < 0) for (int i = 0; i < n; i++) xy[2 * i + k] = -xy[2 * i + k];
    }
    gsl_set_error_handler(old);
    if (A) gsl_matrix_free(A);
    if (V) gsl_matrix_free(V);
    if (S) gsl_vector_free(S);
    if (work) gsl_vector_free(work);
    free(mean);
    return ok;
}
