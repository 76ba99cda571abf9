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

bool compare_begin(CompareRun *st, Engine *a, Engine *b, const int *ids, int n, CompareResult *out, Err *e) {
    memset(st, 0, sizeof *st);
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
    *st = (CompareRun){.a = a, .b = b, .ids = ids, .n = n, .C = C, .V = Va, .out = out};
    return true;
}

int compare_some(CompareRun *st, int max_tokens, Err *e) {
    CompareResult *out = st->out;
    int ran = 0;
    while (!st->done && (max_tokens <= 0 || ran < max_tokens)) {
        const int s0 = st->s0, w = st->n - s0 < st->C ? st->n - s0 : st->C, V = st->V;
        if (st->p == 0) { engine_truncate(st->a, 0); engine_truncate(st->b, 0); }
        int k = w - st->p;
        if (max_tokens > 0 && k > max_tokens - ran) k = max_tokens - ran;
        if ((size_t)k * (size_t)V > st->cap) {
            free(st->rowa);
            st->rowa = malloc(sizeof(float) * (size_t)k * (size_t)V);
            st->cap = st->rowa ? (size_t)k * (size_t)V : 0;
            if (!st->rowa) { err_set(e, ERR_MEMORY, "compare: out of memory for %d x %d logits", k, V); return -1; }
        }
        const float *la = engine_forward(st->a, st->ids + s0 + st->p, k, true, e);
        if (!la) return -1;
        memcpy(st->rowa, la, sizeof(float) * (size_t)k * (size_t)V);   /* A's buffer may be reused */
        const float *lb = engine_forward(st->b, st->ids + s0 + st->p, k, true, e);
        if (!lb) return -1;
        for (int t = st->p; t < st->p + k && t < w - 1; t++) {   /* row t scores the id after it */
            int q = s0 + t, r = t - st->p;
            compare_row(st->rowa + (size_t)r * V, lb + (size_t)r * V, V, st->ids[q + 1], &out->loss_a[q], &out->loss_b[q], &out->kl_ab[q]);
            st->sa += out->loss_a[q]; st->sb += out->loss_b[q]; st->sk += out->kl_ab[q];
            st->scored++;
        }
        st->p += k;
        ran += k;
        if (st->p == w) {   /* next window, overlapping by one */
            st->p = 0;
            st->s0 += st->C - 1;
            if (st->s0 >= st->n - 1) {
                st->done = true;
                out->mean_loss_a = st->sa / out->n;
                out->mean_loss_b = st->sb / out->n;
                out->mean_kl_ab = st->sk / out->n;
            }
        }
    }
    return ran;
}

void compare_end(CompareRun *st) {
    free(st->rowa);
    st->rowa = NULL;
    st->cap = 0;
}

bool compare_run(Engine *a, Engine *b, const int *ids, int n, CompareResult *out, Err *e) {
    CompareRun st;
    if (!compare_begin(&st, a, b, ids, n, out, e)) return false;
    bool ok = compare_some(&st, 0, e) >= 0;
    compare_end(&st);
    if (!ok) compare_result_free(out);
    return ok;
}

void compare_cache_free(CompareCache *cc) {
    if (!cc) return;
    compare_end(&cc->run);
    engine_free(cc->ea);
    engine_free(cc->eb);
    compare_result_free(&cc->r);
    free(cc->ids);
    memset(cc, 0, sizeof *cc);
}

/* The context of the band's engines for a text of n ids, with room to grow (a decode step
 * extends the text): twice that (engine_new and engine_grow clamp a learned-position model to
 * its max_pos). */
static int cache_ctx(int n) { return n > 32 ? 2 * n : 64; }

/* Engines for a text of n ids: cache_ctx(n), or just n when that would not fit in memory. */
static Engine *cache_engine(Model *m, int n, Err *e) {
    Err e2 = {0};
    Engine *en = engine_new(m, cache_ctx(n), &e2);
    if (!en) en = engine_new(m, n > 2 ? n : 2, e);
    return en;
}

/* The cache's run goes on over ids[n] that extend its text (same models, its ids a prefix of
 * these): the rows already scored are the rows a from-scratch run on ids[n] would score, so
 * they are kept and the sums go on in the same order. A from-scratch run would take engines
 * of cache_ctx(n) and windows of C = the smaller context, overlapping by one (the rows of a
 * window depend only on the ids from its start). So: while the run is one window and the text
 * outgrows it, both engines grow to cache_ctx(n) keeping their caches (the window becomes a
 * fresh run's first one); past a model's own limit (learned positions) the windows are a fresh
 * run's and the text goes on into the next one. A finished run first takes back its last
 * token (whose row had no next id to score), or, when its last window was full, begins the
 * next window. False: start over. */
static bool cache_extend(CompareCache *cc, const Model *a, const Model *b, const int *ids, int n) {
    CompareRun *st = &cc->run;
    if (cc->ma != a || cc->mb != b || cc->ser_a != a->serial || cc->ser_b != b->serial || strcmp(cc->pa, a->path) || strcmp(cc->pb, b->path))
        return false;
    if (n <= cc->n || cc->n < 2 || !cc->ids || memcmp(cc->ids, ids, sizeof(int) * (size_t)cc->n)) return false;
    if (!cc->ea || !cc->eb || !(cc->running || cc->ok) || st->out != &cc->r) return false;
    for (int i = cc->n; i < n; i++)
        if (ids[i] < 0 || ids[i] >= st->V) return false;    /* compare_begin will say why */
    const int s0 = st->done ? st->s0 - (st->C - 1) : st->s0;   /* the window the run is in (finished: its last) */
    if (n > st->C && s0 == 0) {                                /* one window so far: as a fresh run's first */
        Err e2 = {0};
        if (!engine_grow(st->a, cache_ctx(n), &e2) || !engine_grow(st->b, cache_ctx(n), &e2)) return false;
        const int ca = engine_max_ctx(st->a), cb = engine_max_ctx(st->b);
        st->C = ca < cb ? ca : cb;
    }
    int *nid = realloc(cc->ids, sizeof(int) * (size_t)n);
    if (!nid) return false;
    cc->ids = nid;
    memcpy(cc->ids + cc->n, ids + cc->n, sizeof(int) * (size_t)(n - cc->n));
    CompareResult *r = &cc->r;
    double *la = realloc(r->loss_a, sizeof(double) * (size_t)(n - 1));
    if (la) r->loss_a = la;
    double *lb = la ? realloc(r->loss_b, sizeof(double) * (size_t)(n - 1)) : NULL;
    if (lb) r->loss_b = lb;
    double *kl = lb ? realloc(r->kl_ab, sizeof(double) * (size_t)(n - 1)) : NULL;
    if (kl) r->kl_ab = kl;
    if (!kl) return false;                  /* the arrays kept their old sizes: start over */
    if (st->done) {
        st->done = false;
        if (cc->n - s0 < st->C) {           /* its last window had room: that window's last row again, now with a next id */
            st->s0 = s0;
            st->p = cc->n - 1 - s0;
            engine_truncate(st->a, st->p);
            engine_truncate(st->b, st->p);
        } else st->p = 0;                   /* it was full: the next window (at st->s0) begins */
    }
    st->ids = cc->ids;
    st->n = n;
    r->n = n - 1;
    r->mean_loss_a = r->mean_loss_b = r->mean_kl_ab = 0;
    cc->n = n;
    cc->running = true;
    cc->grown = true;
    cc->ok = false;
    return true;
}

/* Sets the cache up for (a, b, ids): nothing to do when they are those of the cache, the run
 * goes on when they extend its text (cache_extend), else it starts over. */
static void cache_start(CompareCache *cc, Model *a, Model *b, const int *ids, int n) {
    bool same = cc->ma == a && cc->mb == b && cc->ser_a == a->serial && cc->ser_b == b->serial && cc->n == n && !strcmp(cc->pa, a->path) &&
                !strcmp(cc->pb, b->path) &&
                (n == 0 || (cc->ids && !memcmp(cc->ids, ids, sizeof(int) * (size_t)n)));
    if (same || cache_extend(cc, a, b, ids, n)) return;
    compare_cache_free(cc);
    cc->ma = a;
    cc->mb = b;
    cc->ser_a = a->serial;
    cc->ser_b = b->serial;
    snprintf(cc->pa, sizeof cc->pa, "%s", a->path);
    snprintf(cc->pb, sizeof cc->pb, "%s", b->path);
    cc->n = n;
    cc->ids = n > 0 ? malloc(sizeof(int) * (size_t)n) : NULL;
    Err e2 = {0};
    if (n > 0 && !cc->ids) err_set(&e2, ERR_MEMORY, "compare: out of memory for %d ids", n);
    else {
        if (n > 0) memcpy(cc->ids, ids, sizeof(int) * (size_t)n);
        cc->ea = cache_engine(a, n, &e2);
        cc->eb = cc->ea ? cache_engine(b, n, &e2) : NULL;
        cc->running = cc->ea && cc->eb && compare_begin(&cc->run, cc->ea, cc->eb, cc->ids, n, &cc->r, &e2);
    }
    if (!cc->running) { cc->ok = false; snprintf(cc->err, sizeof cc->err, "%s", e2.msg); }
}

/* A finished run keeps its engines (their caches hold the text) so that a longer text goes on
 * from where it ended; a failed one frees them. */
static void cache_finish(CompareCache *cc, bool ok, const Err *e2) {
    cc->running = false;
    cc->ok = ok;
    compare_end(&cc->run);
    if (ok) return;
    engine_free(cc->ea);
    engine_free(cc->eb);
    cc->ea = cc->eb = NULL;
    compare_result_free(&cc->r);
    snprintf(cc->err, sizeof cc->err, "%s", e2->msg);
}

const CompareResult *compare_cached_some(CompareCache *cc, Model *a, Model *b, const int *ids, int n, int max_tokens, Err *e) {
    cache_start(cc, a, b, ids, n);
    if (cc->running && max_tokens >= 0) {
        Err e2 = {0};
        int k = compare_some(&cc->run, max_tokens, &e2);
        if (k < 0 || cc->run.done) cache_finish(cc, k >= 0, &e2);
    }
    if (cc->running) return NULL;
    if (!cc->ok) return err_set(e, ERR_ARG, "%s", cc->err), NULL;
    return &cc->r;
}

const CompareResult *compare_cached(CompareCache *cc, Model *a, Model *b, const int *ids, int n, Err *e) {
    return compare_cached_some(cc, a, b, ids, n, 0, e);
}
