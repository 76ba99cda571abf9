/* Per-position loss and KL(A||B) of two models on one text (see compare.h). */
#include "analysis/compare.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ln sum exp(r), in double */
static double row_lse(const float *r, int V) {
    float mx = r[0];
    for (int i = 1; i < V; i++) if (r[i] > mx) mx = r[i];
    double se = 0;
    for (int i = 0; i < V; i++) se += exp((double)(r[i] - mx));
    return (double)mx + log(se);
}

void compare_row(const float *la, const float *lb, int V, int target, double *loss_a, double *loss_b, double *kl_ab) {
    double za = row_lse(la, V), zb = row_lse(lb, V);
    *loss_a = za - (double)la[target];     /* the same expression as llmscope eval */
    *loss_b = zb - (double)lb[target];
    double kl = 0;
    for (int i = 0; i < V; i++) {
        double lpa = (double)la[i] - za, lpb = (double)lb[i] - zb;
        kl += exp(lpa) * (lpa - lpb);
    }
    *kl_ab = kl;
}

void compare_result_free(CompareResult *r) {
    if (!r) return;
    free(r->loss_a); free(r->loss_b); free(r->kl_ab);
    memset(r, 0, sizeof *r);
}

bool compare_run(Engine *a, Engine *b, const int *ids, int n, CompareResult *out, Err *e) {
    memset(out, 0, sizeof *out);
    const int Va = engine_model(a)->spec.vocab_size, Vb = engine_model(b)->spec.vocab_size;
    if (Va != Vb)
        return err_set(e, ERR_ARG, "the two models have different vocabularies (%d and %d tokens); compare needs one tokenizer", Va, Vb);
    if (n < 2) return err_set(e, ERR_ARG, "compare needs at least one token after BOS");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= Va) return err_set(e, ERR_ARG, "token id %d at position %d is outside the vocabulary (%d)", ids[i], i, Va);
    int C = engine_max_ctx(a) < engine_max_ctx(b) ? engine_max_ctx(a) : engine_max_ctx(b);
    if (C < 2) return err_set(e, ERR_ARG, "compare: context of %d tokens is too short", C);
    out->n = n - 1;
    out->loss_a = malloc(sizeof(double) * (size_t)out->n);
    out->loss_b = malloc(sizeof(double) * (size_t)out->n);
    out->kl_ab = malloc(sizeof(double) * (size_t)out->n);
    if (!out->loss_a || !out->loss_b || !out->kl_ab) { compare_result_free(out); return err_set(e, ERR_MEMORY, "compare: out of memory for %d positions", n); }
    float *rowa = malloc(sizeof(float) * (size_t)C * (size_t)Va);
    if (!rowa) { compare_result_free(out); return err_set(e, ERR_MEMORY, "compare: out of memory for %d x %d logits", C, Va); }
    double sa = 0, sb = 0, sk = 0;
    for (int s0 = 0; s0 < n - 1; s0 += C - 1) {
        int w = n - s0 < C ? n - s0 : C;
        engine_truncate(a, 0);
        engine_truncate(b, 0);
        const float *la = engine_forward(a, ids + s0, w, true, e);
        if (!la) { free(rowa); compare_result_free(out); return false; }
        memcpy(rowa, la, sizeof(float) * (size_t)w * (size_t)Va);   /* A's buffer may be reused */
        const float *lb = engine_forward(b, ids + s0, w, true, e);
        if (!lb) { free(rowa); compare_result_free(out); return false; }
        for (int t = 0; t < w - 1; t++) {
            int k = s0 + t;
            compare_row(rowa + (size_t)t * Va, lb + (size_t)t * Va, Va, ids[k + 1], &out->loss_a[k], &out->loss_b[k], &out->kl_ab[k]);
            sa += out->loss_a[k]; sb += out->loss_b[k]; sk += out->kl_ab[k];
        }
    }
    free(rowa);
    out->mean_loss_a = sa / out->n;
    out->mean_loss_b = sb / out->n;
    out->mean_kl_ab = sk / out->n;
    return true;
}

void compare_cache_free(CompareCache *cc) {
    if (!cc) return;
    compare_result_free(&cc->r);
    free(cc->ids);
    memset(cc, 0, sizeof *cc);
}

const CompareResult *compare_cached(CompareCache *cc, Model *a, Model *b, const int *ids, int n, Err *e) {
    bool same = cc->ma == a && cc->mb == b && cc->n == n && !strcmp(cc->pa, a->path) && !strcmp(cc->pb, b->path) &&
                (n == 0 || (cc->ids && !memcmp(cc->ids, ids, sizeof(int) * (size_t)n)));
    if (!same) {
        compare_cache_free(cc);
        cc->ma = a;
        cc->mb = b;
        snprintf(cc->pa, sizeof cc->pa, "%s", a->path);
        snprintf(cc->pb, sizeof cc->pb, "%s", b->path);
        cc->n = n;
        cc->ids = n > 0 ? malloc(sizeof(int) * (size_t)n) : NULL;
        if (n > 0 && !cc->ids) { cc->n = -1; return err_set(e, ERR_MEMORY, "compare: out of memory for %d ids", n), NULL; }
        if (n > 0) memcpy(cc->ids, ids, sizeof(int) * (size_t)n);
        Err e2 = {0};
        Engine *ea = engine_new(a, n > 2 ? n : 2, &e2), *eb = ea ? engine_new(b, n > 2 ? n : 2, &e2) : NULL;
        cc->ok = ea && eb && compare_run(ea, eb, ids, n, &cc->r, &e2);
        engine_free(ea);
        engine_free(eb);
        snprintf(cc->err, sizeof cc->err, "%s", e2.msg);
    }
    if (!cc->ok) return err_set(e, ERR_ARG, "%s", cc->err), NULL;
    return &cc->r;
}
