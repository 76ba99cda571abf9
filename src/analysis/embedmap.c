#include "analysis/embedmap.h"
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/stats.h"
#include "engine/ops.h"

/* ---- PCA axes ------------------------------------------------------------------------- */

static void fix_sign(double *c, int d) {
    int am = 0;
    for (int j = 1; j < d; j++) if (fabs(c[j]) > fabs(c[am])) am = j;
    if (c[am] < 0) for (int j = 0; j < d; j++) c[j] = -c[j];
}

bool pca_axes_fit(PcaAxes *ax, const float *X, int n, int d) {
    memset(ax, 0, sizeof *ax);
    if (!X || n < 2 || d < 1) return false;
    ax->d = d;
    ax->n_fit = n;
    ax->mean = calloc((size_t)d, sizeof(double));
    ax->comp = calloc((size_t)2 * (size_t)d, sizeof(double));
    if (!ax->mean || !ax->comp) { pca_axes_done(ax); return false; }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) ax->mean[j] += X[(size_t)i * (size_t)d + (size_t)j];
    for (int j = 0; j < d; j++) ax->mean[j] /= n;
    /* Xc = U S V^T (n >= d) or Xc^T = U S V^T (n < d, GSL wants rows >= cols): the principal
     * directions are V's columns in the first case and U's columns in the second. */
    bool tall = n >= d;
    size_t M = (size_t)(tall ? n : d), N = (size_t)(tall ? d : n);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_matrix *A = gsl_matrix_alloc(M, N), *V = gsl_matrix_alloc(N, N);
    gsl_vector *S = gsl_vector_alloc(N), *work = gsl_vector_alloc(N);
    bool ok = A && V && S && work;
    if (ok) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) {
                double v = X[(size_t)i * (size_t)d + (size_t)j] - ax->mean[j];
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
            ax->explained[k] = tot > 0 ? sk * sk / tot : 0;
            if ((size_t)k >= N || sk <= 0) continue;   /* fewer directions than 2: leave zero */
            for (int j = 0; j < d; j++)
                ax->comp[(size_t)k * (size_t)d + (size_t)j] = tall ? gsl_matrix_get(V, (size_t)j, (size_t)k)
                                                                    : gsl_matrix_get(A, (size_t)j, (size_t)k);
            fix_sign(ax->comp + (size_t)k * (size_t)d, d);
        }
    }
    gsl_set_error_handler(old);
    if (A) gsl_matrix_free(A);
    if (V) gsl_matrix_free(V);
    if (S) gsl_vector_free(S);
    if (work) gsl_vector_free(work);
    if (!ok) pca_axes_done(ax);
    return ok;
}

void pca_axes_project(const PcaAxes *ax, const float *x, float out[2]) {
    for (int k = 0; k < 2; k++) {
        double s = 0;
        const double *c = ax->comp + (size_t)k * (size_t)ax->d;
        for (int j = 0; j < ax->d; j++) s += ((double)x[j] - ax->mean[j]) * c[j];
        out[k] = (float)s;
    }
}

void pca_axes_done(PcaAxes *ax) {
    free(ax->mean);
    free(ax->comp);
    memset(ax, 0, sizeof *ax);
}

/* ---- vocabulary index ------------------------------------------------------------------ */

struct VocabIndex {
    const Tensor *E;
    int V, d;
    float *inv_norm;   /* [V] 1/|E_v| (0 for a zero row) */
    float *dots;       /* [V] scratch for E q */
};

VocabIndex *vocab_index_new(const Tensor *E, Err *e) { return vocab_index_build(E, NULL, e); }

static bool stopped(const atomic_bool *stop) { return stop && atomic_load_explicit(stop, memory_order_relaxed); }

VocabIndex *vocab_index_build(const Tensor *E, const atomic_bool *stop, Err *e) {
    if (!E || !tensor_present(E) || E->rows <= 0 || E->cols <= 0) {
        err_set(e, ERR_ARG, "vocabulary index: the model has no token-embedding matrix");
        return NULL;
    }
    VocabIndex *vi = calloc(1, sizeof *vi);
    if (!vi) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    vi->E = E; vi->V = E->rows; vi->d = E->cols;
    vi->inv_norm = malloc(sizeof(float) * (size_t)vi->V);
    vi->dots = malloc(sizeof(float) * (size_t)vi->V);
    if (!vi->inv_norm || !vi->dots) { vocab_index_free(vi); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    const int V = vi->V, d = vi->d;
    bool oom = false;
    #pragma omp parallel
    {
        float *row = malloc(sizeof(float) * (size_t)d);
        if (!row) {
            #pragma omp atomic write
            oom = true;
        } else {
            #pragma omp for schedule(static)
            for (int v = 0; v < V; v++) {
                if (stopped(stop)) continue;   /* the rest of this thread's rows, unread */
                tensor_row_f32(E, (size_t)v * (size_t)d, d, row);
                double nn = stats_norm(row, d);
                vi->inv_norm[v] = nn > 0 ? (float)(1.0 / nn) : 0.0f;
            }
        }
        free(row);
    }
    if (oom) { vocab_index_free(vi); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    if (stopped(stop)) { vocab_index_free(vi); err_set(e, ERR_ARG, "vocabulary index: cancelled"); return NULL; }
    return vi;
}

void vocab_index_free(VocabIndex *vi) {
    if (!vi) return;
    free(vi->inv_norm);
    free(vi->dots);
    free(vi);
}

int vocab_index_size(const VocabIndex *vi) { return vi ? vi->V : 0; }
int vocab_index_dim(const VocabIndex *vi) { return vi ? vi->d : 0; }

void vocab_row(const VocabIndex *vi, int v, float *out) {
    tensor_row_f32(vi->E, (size_t)v * (size_t)vi->d, vi->d, out);
}

int vocab_neighbours(const VocabIndex *vi, const float *q, int skip, int k, int *ids, float *sims) {
    if (!vi || k <= 0) return 0;
    double qn = stats_norm(q, vi->d);
    if (qn <= 0) return 0;
    matvec(vi->E, q, vi->dots);                /* dots[v] = E_v · q */
    float iq = (float)(1.0 / qn);
    /* one pass keeping the k best in a small sorted list (k is a dozen, V up to ~256k) */
    int n = 0;
    for (int v = 0; v < vi->V; v++) {
        if (v == skip || vi->inv_norm[v] == 0.0f) continue;
        float c = vi->dots[v] * vi->inv_norm[v] * iq;
        if (n == k && !(c > sims[k - 1])) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && sims[j - 1] < c) { sims[j] = sims[j - 1]; ids[j] = ids[j - 1]; j--; }
        sims[j] = c; ids[j] = v;
    }
    return n;
}

/* ---- vocabulary map: block subspace iteration ------------------------------------------
 * Q (d x b, orthonormal) <- orth(Xc^T (Xc Q)) with a block of b = 16 > 2 directions, so the
 * two wanted ones converge at the rate lambda_17/lambda_2 rather than lambda_3/lambda_2 (at most
 * 40 rounds); then
 * Rayleigh-Ritz: H = (Xc Q)^T (Xc Q) (b x b), eigenvectors of H (GSL) rotate Q onto the
 * principal directions and its eigenvalues are their variances. Xc is materialised in f32
 * (n_fit x d) so the products go through sgemm. */
#include <gsl/gsl_cblas.h>   /* linked against OpenBLAS (see the Makefile) */
#include <gsl/gsl_eigen.h>

static void orthonormalise(double *Q, int d, int b) {   /* columns Q[:, k] stored as Q[k*d + j] */
    for (int k = 0; k < b; k++) {
        double *q = Q + (size_t)k * (size_t)d;
        for (int pass = 0; pass < 2; pass++)      /* twice is enough (Kahan-Parlett) */
            for (int i = 0; i < k; i++) {
                const double *p = Q + (size_t)i * (size_t)d;
                double dot = 0;
                for (int j = 0; j < d; j++) dot += p[j] * q[j];
                for (int j = 0; j < d; j++) q[j] -= dot * p[j];
            }
        double nn = 0;
        for (int j = 0; j < d; j++) nn += q[j] * q[j];
        nn = sqrt(nn);
        if (nn > 0) for (int j = 0; j < d; j++) q[j] /= nn;
    }
}

float *vocab_map_rows(const VocabIndex *vi, int n_fit, int *n, const atomic_bool *stop, Err *e) {
    *n = 0;
    if (!vi) { err_set(e, ERR_ARG, "vocabulary map: no index"); return NULL; }
    const int N = (n_fit <= 0 || n_fit > vi->V) ? vi->V : n_fit;
    float *X = malloc(sizeof(float) * (size_t)N * (size_t)vi->d);
    if (!X) { err_set(e, ERR_MEMORY, "vocabulary map: out of memory for %d x %d rows", N, vi->d); return NULL; }
    for (int v = 0; v < N; v++) {
        if ((v & 255) == 0 && stopped(stop)) { free(X); err_set(e, ERR_ARG, "vocabulary map: cancelled"); return NULL; }
        vocab_row(vi, v, X + (size_t)v * (size_t)vi->d);
    }
    *n = N;
    return X;
}

bool vocab_map_fit(const VocabIndex *vi, int n_fit, PcaAxes *ax, Err *e) {
    memset(ax, 0, sizeof *ax);
    int N = 0;
    float *X = vocab_map_rows(vi, n_fit, &N, NULL, e);
    if (!X) return false;
    bool ok = vocab_map_fit_rows(X, N, vi->d, ax, NULL, e);
    free(X);
    return ok;
}

bool vocab_map_fit_rows(float *Xc, int N, int d, PcaAxes *ax, const atomic_bool *stop, Err *e) {
    memset(ax, 0, sizeof *ax);
    if (!Xc || d < 1) return err_set(e, ERR_ARG, "vocabulary map: no rows");
    if (N < 3) return err_set(e, ERR_ARG, "vocabulary map: %d rows are too few", N);
    int b = 16;
    if (b > d) b = d;
    if (b > N - 1) b = N - 1;
    ax->d = d; ax->n_fit = N;
    ax->mean = calloc((size_t)d, sizeof(double));
    ax->comp = calloc((size_t)2 * (size_t)d, sizeof(double));
    double *Q = calloc((size_t)b * (size_t)d, sizeof(double));
    float *Qf = malloc(sizeof(float) * (size_t)b * (size_t)d), *B = malloc(sizeof(float) * (size_t)N * (size_t)b);
    float *Y = malloc(sizeof(float) * (size_t)b * (size_t)d);
    gsl_matrix *H = gsl_matrix_alloc((size_t)b, (size_t)b), *Z = gsl_matrix_alloc((size_t)b, (size_t)b);
    gsl_vector *ev = gsl_vector_alloc((size_t)b);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc((size_t)b);
    bool ok = ax->mean && ax->comp && Q && Qf && B && Y && H && Z && ev && ws;
    if (!ok) err_set(e, ERR_MEMORY, "vocabulary map: out of memory for %d x %d rows", N, d);
    double total = 0;
    if (ok) {
        for (int v = 0; v < N; v++) {
            const float *r = Xc + (size_t)v * (size_t)d;
            for (int j = 0; j < d; j++) ax->mean[j] += r[j];
        }
        for (int j = 0; j < d; j++) ax->mean[j] /= N;
        for (size_t v = 0; v < (size_t)N; v++)
            for (int j = 0; j < d; j++) {
                float c = (float)(Xc[v * (size_t)d + (size_t)j] - ax->mean[j]);
                Xc[v * (size_t)d + (size_t)j] = c;
                total += (double)c * c;
            }
        /* deterministic, linearly independent start */
        for (int k = 0; k < b; k++)
            for (int j = 0; j < d; j++) Q[(size_t)k * (size_t)d + (size_t)j] = cos(0.37 * (double)(j + 1) * (double)(k + 1)) + (j == k ? 1.0 : 0.0);
        orthonormalise(Q, d, b);
        double prev[2] = {0, 0};
        for (int it = 0; it < 40; it++) {
            if (stopped(stop)) { ok = false; break; }
            for (size_t i = 0; i < (size_t)b * (size_t)d; i++) Qf[i] = (float)Q[i];
            /* B[N,b] = Xc[N,d] Qf^T ; Y[b,d] = B^T Xc */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, b, d, 1.0f, Xc, d, Qf, d, 0.0f, B, b);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, d, N, 1.0f, B, b, Xc, d, 0.0f, Y, d);
            /* Rayleigh quotients of the current basis, for the stopping test */
            double r0 = 0, r1 = 0;
            for (int j = 0; j < d; j++) { r0 += Q[j] * Y[j]; r1 += Q[(size_t)d + (size_t)j] * Y[(size_t)d + (size_t)j]; }
            for (size_t i = 0; i < (size_t)b * (size_t)d; i++) Q[i] = Y[i];
            orthonormalise(Q, d, b);
            /* stop when the two leading Rayleigh quotients settle; with a flat spectrum (random weights)
             * the values settle long before the directions, which are then ill-defined anyway */
            if (it > 2 && fabs(r0 - prev[0]) <= 1e-6 * fabs(r0) && fabs(r1 - prev[1]) <= 1e-6 * fabs(r0)) break;
            prev[0] = r0; prev[1] = r1;
        }
        if (stopped(stop)) ok = false;   /* also when it came after the last round */
    }
    if (!ok && stopped(stop)) err_set(e, ERR_ARG, "vocabulary map: cancelled");
    if (ok) {
        /* Rayleigh-Ritz */
        for (size_t i = 0; i < (size_t)b * (size_t)d; i++) Qf[i] = (float)Q[i];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, b, d, 1.0f, Xc, d, Qf, d, 0.0f, B, b);
        for (int p = 0; p < b; p++)
            for (int q = 0; q < b; q++) {
                double s = 0;
                for (size_t v = 0; v < (size_t)N; v++) s += (double)B[v * (size_t)b + (size_t)p] * B[v * (size_t)b + (size_t)q];
                gsl_matrix_set(H, (size_t)p, (size_t)q, s);
            }
        ok = gsl_eigen_symmv(H, ev, Z, ws) == 0 && gsl_eigen_symmv_sort(ev, Z, GSL_EIGEN_SORT_VAL_DESC) == 0;
        if (!ok) err_set(e, ERR_FORMAT, "vocabulary map: eigen-decomposition failed");
    }
    if (ok) {
        for (int k = 0; k < 2; k++) {
            double *c = ax->comp + (size_t)k * (size_t)d;
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int p = 0; p < b; p++) s += Q[(size_t)p * (size_t)d + (size_t)j] * gsl_matrix_get(Z, (size_t)p, (size_t)k);
                c[j] = s;
            }
            fix_sign(c, d);
            ax->explained[k] = total > 0 ? gsl_vector_get(ev, (size_t)k) / total : 0;
        }
    }
    free(Q); free(Qf); free(B); free(Y);
    if (H) gsl_matrix_free(H);
    if (Z) gsl_matrix_free(Z);
    if (ev) gsl_vector_free(ev);
    if (ws) gsl_eigen_symmv_free(ws);
    if (!ok) pca_axes_done(ax);
    return ok;
}
