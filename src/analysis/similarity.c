#include "analysis/similarity.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool pool_parse(const char *s, PoolKind *out) {
    if (!s) return false;
    if (!strcmp(s, "mean")) { *out = POOL_MEAN; return true; }
    if (!strcmp(s, "last")) { *out = POOL_LAST; return true; }
    return false;
}

const char *pool_name(PoolKind k) { return k == POOL_LAST ? "last" : "mean"; }

bool embed_layer_point(int n_layers, int l, HookPoint *point, int *block) {
    if (n_layers <= 0 || l < 0 || l > n_layers) return false;
    if (l == 0) { *point = HP_RESID_PRE; *block = 0; }
    else if (l < n_layers) { *point = HP_RESID_POST; *block = l - 1; }
    else { *point = HP_LNF_NORMALIZED; *block = -1; }
    return true;
}

bool similarity_pool(const float *rows, int n, int d, int first, PoolKind pool, double *out) {
    if (n <= 0 || d <= 0) return false;
    if (pool == POOL_LAST) {
        for (int j = 0; j < d; j++) out[j] = rows[(size_t)(n - 1) * (size_t)d + (size_t)j];
        return true;
    }
    if (first < 0) first = 0;
    if (first >= n) return false;
    for (int j = 0; j < d; j++) out[j] = 0.0;
    for (int i = first; i < n; i++)
        for (int j = 0; j < d; j++) out[j] += rows[(size_t)i * (size_t)d + (size_t)j];
    double inv = 1.0 / (double)(n - first);
    for (int j = 0; j < d; j++) out[j] *= inv;
    return true;
}

double similarity_cosine(const double *a, const double *b, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < d; j++) { ab += a[j] * b[j]; aa += a[j] * a[j]; bb += b[j] * b[j]; }
    if (aa <= 0 || bb <= 0) return 0.0;
    return ab / (sqrt(aa) * sqrt(bb));
}

void similarity_matrix(const double *vecs, int n, int d, double *out) {
    for (int i = 0; i < n; i++) {
        for (int k = i; k < n; k++) {
            const double *a = vecs + (size_t)i * (size_t)d, *b = vecs + (size_t)k * (size_t)d;
            double c = similarity_cosine(a, b, d);
            /* exactly 1 for a nonzero vector against itself or an identical copy (identical
             * texts), not 1 - 1e-16 */
            if (c != 0.0 && (i == k || !memcmp(a, b, sizeof(double) * (size_t)d))) c = 1.0;
            out[(size_t)i * (size_t)n + (size_t)k] = c;
            out[(size_t)k * (size_t)n + (size_t)i] = c;
        }
    }
}

void similarity_rank(const double *mat, int n, int q, int *order) {
    /* insertion sort on the row (n is a handful of texts); ties keep index order */
    const double *row = mat + (size_t)q * (size_t)n;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i == q) continue;
        int j = k++;
        while (j > 0 && row[order[j - 1]] < row[i]) { order[j] = order[j - 1]; j--; }
        order[j] = i;
    }
}
