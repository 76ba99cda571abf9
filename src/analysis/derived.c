/* Derived values shared by panels and lesson placeholders (see derived.h). */
#include "analysis/derived.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/logitlens.h"
#include "analysis/stats.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

void derived_cache_init(DerivedCache *dc) {
    memset(dc, 0, sizeof *dc);
    dc->nn_id = -1;
    dc->pca.layer = -1;
}

static void map_job_finish(DerivedCache *dc, const Model *m);

/* ---- work on worker threads: the vocabulary index, the vocabulary map ------------------------ */

/* What every job has: its thread, done (set by the worker last), stop (set by a cancel or by an
 * owner that drops the result; the worker checks it between rows or rounds), and its place in
 * the list of running jobs that derived_background_cancel walks. */
typedef struct JobHead {
    pthread_t th;
    atomic_bool done, stop;
    const void *model;           /* the model whose weights it reads */
    struct JobHead *next;
} JobHead;

static atomic_int g_busy;        /* jobs running */
static atomic_uint g_ended;      /* jobs ended so far */
static atomic_int g_reading;     /* of them, those still reading a model's weights */
static atomic_bool g_paused;     /* tests: jobs wait at their start (derived_background_pause) */
static pthread_mutex_t g_jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static JobHead *g_jobs;          /* the running jobs (under g_jobs_mu) */

bool derived_background_busy(void) { return atomic_load(&g_busy) > 0; }
unsigned derived_background_ended(void) { return atomic_load(&g_ended); }

void derived_wait_model_readers(void) {
    struct timespec ms = {0, 1000000};
    while (atomic_load(&g_reading) > 0) nanosleep(&ms, NULL);
}

void derived_background_pause(bool on) { atomic_store(&g_paused, on); }

int derived_background_cancel(void) {
    int n = 0;
    pthread_mutex_lock(&g_jobs_mu);
    for (JobHead *h = g_jobs; h; h = h->next)
        if (!atomic_exchange(&h->stop, true)) n++;
    pthread_mutex_unlock(&g_jobs_mu);
    return n;
}

int derived_background_cancel_model(const void *m) {
    int n = 0;
    pthread_mutex_lock(&g_jobs_mu);
    for (JobHead *h = g_jobs; h; h = h->next)
        if (h->model == m && !atomic_exchange(&h->stop, true)) n++;
    pthread_mutex_unlock(&g_jobs_mu);
    return n;
}

static void jobs_unlink(JobHead *h) {
    pthread_mutex_lock(&g_jobs_mu);
    for (JobHead **p = &g_jobs; *p; p = &(*p)->next)
        if (*p == h) { *p = h->next; break; }
    pthread_mutex_unlock(&g_jobs_mu);
}

/* starts a job on its own thread, listed and counted as running and as reading a model (the
 * thread takes itself off: job_read_done, job_end); false when no thread could be started */
static bool job_start(JobHead *h, const void *model, void *(*fn)(void *), void *arg) {
    h->model = model;
    atomic_init(&h->done, false);
    atomic_init(&h->stop, false);
    atomic_fetch_add(&g_busy, 1);
    atomic_fetch_add(&g_reading, 1);
    pthread_mutex_lock(&g_jobs_mu);
    h->next = g_jobs;
    g_jobs = h;
    pthread_mutex_unlock(&g_jobs_mu);
    if (!pthread_create(&h->th, NULL, fn, arg)) return true;
    jobs_unlink(h);
    atomic_fetch_sub(&g_busy, 1);
    atomic_fetch_sub(&g_reading, 1);
    return false;
}

/* the worker, first: waits while the tests pause the jobs (or until a cancel) */
static void job_begin(JobHead *h) {
    struct timespec ms = {0, 1000000};
    while (atomic_load(&g_paused) && !atomic_load(&h->stop)) nanosleep(&ms, NULL);
}
static void job_read_done(void) { atomic_fetch_sub(&g_reading, 1); }
/* the worker, last: off the list, done, no longer running (the owner frees h after joining) */
static void job_end(JobHead *h) {
    jobs_unlink(h);
    atomic_store(&h->done, true);
    atomic_fetch_add(&g_ended, 1);
    atomic_fetch_sub(&g_busy, 1);
}
/* the owner: waits for the thread; with drop, the result is not wanted: it is told to stop first */
static void job_join(JobHead *h, bool drop) {
    if (drop) atomic_store(&h->stop, true);
    pthread_join(h->th, NULL);
}

typedef struct DerivedVocabJob {
    JobHead h;
    const Tensor *emb;            /* the model's, read only */
    const void *model;
    char path[512];
    VocabIndex *vi;               /* NULL: failed, or cancelled (h.stop) */
} DerivedVocabJob;

static void *vocab_job_main(void *arg) {
    DerivedVocabJob *j = arg;
    Err e = {0};
    job_begin(&j->h);
    j->vi = vocab_index_build(j->emb, &j->h.stop, &e);
    job_read_done();
    job_end(&j->h);
    return NULL;
}

static bool same_model(const void *p, const char *path, const Model *m) { return p == (const void *)m && !strcmp(path, m->path); }

/* Waits for the build and takes its index when it was for m (else frees it). A cancelled build
 * leaves the cache as it was: the next prepare starts another. */
static void vocab_job_finish(DerivedCache *dc, const Model *m) {
    DerivedVocabJob *j = dc->job;
    if (!j) return;
    bool want = m && same_model(j->model, j->path, m);
    job_join(&j->h, !want);
    dc->job = NULL;
    if (want && (j->vi || !atomic_load(&j->h.stop))) {
        map_job_finish(dc, NULL);                          /* a fit reading the old index */
        vocab_index_free(dc->vi);
        dc->vi = j->vi;
        dc->nn_model = m;
        snprintf(dc->nn_path, sizeof dc->nn_path, "%s", m->path);
        dc->nn_id = -1;
        dc->nn_n = 0;
    } else vocab_index_free(j->vi);
    free(j);
}

static bool has_vocab(const Model *m) { return tensor_present(&m->w.tok_emb) && m->w.tok_emb.cols == m->spec.d_model; }

bool derived_vocab_ready(DerivedCache *dc, const Model *m) {
    if (dc->job && atomic_load(&dc->job->h.done)) vocab_job_finish(dc, m);
    return same_model(dc->nn_model, dc->nn_path, m) || !has_vocab(m);
}

bool derived_vocab_prepare(DerivedCache *dc, const Model *m) {
    if (derived_vocab_ready(dc, m)) return true;
    if (dc->job) {
        if (same_model(dc->job->model, dc->job->path, m)) return false;   /* under way */
        vocab_job_finish(dc, NULL);
    }
    DerivedVocabJob *j = calloc(1, sizeof *j);
    if (!j) return true;                                   /* the caller builds it at once */
    j->emb = &m->w.tok_emb;
    j->model = m;
    snprintf(j->path, sizeof j->path, "%s", m->path);
    if (!job_start(&j->h, m, vocab_job_main, j)) { free(j); return true; }
    dc->job = j;
    return false;
}

typedef struct DerivedMapJob {
    JobHead h;
    const VocabIndex *vi;         /* the cache's; read (with the model) only while copying the rows */
    int n_fit;
    PcaAxes ax;
    bool ok;                      /* false: failed, or cancelled (h.stop) */
    const void *model;
    char path[512];
} DerivedMapJob;

static void *map_job_main(void *arg) {
    DerivedMapJob *j = arg;
    Err e = {0};
    int n = 0;
    job_begin(&j->h);
    float *X = vocab_map_rows(j->vi, j->n_fit, &n, &j->h.stop, &e);   /* a fresh 32 MB on a 1024-wide model: 0.3 s of page faults under load */
    job_read_done();                                       /* from here on only X */
    j->ok = X && vocab_map_fit_rows(X, n, vocab_index_dim(j->vi), &j->ax, &j->h.stop, &e);
    free(X);
    job_end(&j->h);
    return NULL;
}

/* The cache's map becomes ax (taken over) or, when !ok, none; for (m, n_fit). */
static void map_set(DerivedCache *dc, const Model *m, int n_fit, PcaAxes *ax, bool ok) {
    pca_axes_done(&dc->map);
    if (ok) dc->map = *ax;
    else memset(&dc->map, 0, sizeof dc->map);
    dc->map_ok = ok;
    dc->map_done = true;
    dc->map_model = m;
    snprintf(dc->map_path, sizeof dc->map_path, "%s", m->path);
    dc->map_n = n_fit;
}

/* Waits for the fit and keeps it when it was for m (else drops it); a cancelled fit leaves the
 * cache as it was. */
static void map_job_finish(DerivedCache *dc, const Model *m) {
    DerivedMapJob *j = dc->map_job;
    if (!j) return;
    bool want = m && same_model(j->model, j->path, m);
    job_join(&j->h, !want);
    dc->map_job = NULL;
    if (want && (j->ok || !atomic_load(&j->h.stop))) map_set(dc, m, j->n_fit, &j->ax, j->ok);
    else if (j->ok) pca_axes_done(&j->ax);
    free(j);
}

static bool map_ready(const DerivedCache *dc, const Model *m, int n_fit) {
    return dc->map_done && dc->map_n == n_fit && same_model(dc->map_model, dc->map_path, m);
}

bool derived_vocab_map_ready(DerivedCache *dc, const Model *m, int n_fit) {
    if (dc->map_job && atomic_load(&dc->map_job->h.done)) map_job_finish(dc, m);
    return map_ready(dc, m, n_fit) || !has_vocab(m);
}

bool derived_vocab_map_prepare(DerivedCache *dc, const Model *m, int n_fit) {
    if (derived_vocab_map_ready(dc, m, n_fit)) return true;
    if (!derived_vocab_prepare(dc, m)) return false;       /* the index first, on its worker */
    if (dc->map_job) {
        if (same_model(dc->map_job->model, dc->map_job->path, m) && dc->map_job->n_fit == n_fit) return false;   /* under way */
        map_job_finish(dc, NULL);
    }
    VocabIndex *vi = derived_vocab(dc, m);
    if (!vi) return true;
    DerivedMapJob *j = calloc(1, sizeof *j);
    if (!j) return true;                                   /* the caller fits it at once */
    j->vi = vi;
    j->n_fit = n_fit;
    j->model = m;
    snprintf(j->path, sizeof j->path, "%s", m->path);
    if (!job_start(&j->h, m, map_job_main, j)) { free(j); return true; }
    dc->map_job = j;
    return false;
}

const PcaAxes *derived_vocab_map(DerivedCache *dc, const Model *m, int n_fit) {
    if (dc->map_job) map_job_finish(dc, m);                /* a fit under way: wait for it */
    if (!map_ready(dc, m, n_fit)) {
        VocabIndex *vi = derived_vocab(dc, m);
        PcaAxes ax;
        Err e = {0};
        bool ok = vi && vocab_map_fit(vi, n_fit, &ax, &e);
        map_set(dc, m, n_fit, &ax, ok);
    }
    return dc->map_ok ? &dc->map : NULL;
}

void derived_cache_done(DerivedCache *dc) {
    map_job_finish(dc, NULL);
    pca_axes_done(&dc->map);
    vocab_job_finish(dc, NULL);
    embctx_done(&dc->pca);
    vocab_index_free(dc->vi);
    simcache_free(dc->sim);
    derived_cache_init(dc);
}

const EmbCtxPca *derived_embed_pca(DerivedCache *dc, const Session *s, int layer) {
    return embctx_update(&dc->pca, s, layer) ? &dc->pca : NULL;
}

bool derived_similarity(DerivedCache *dc, const Session *s, const SimTexts *tx, int layer, PoolKind pool,
                        double *mat, SimTextInfo *info, Err *e) {
    if (!s || !session_model(s)) return err_set(e, ERR_ARG, "no model loaded");
    if (!tx || tx->n < 1) return err_set(e, ERR_ARG, "no texts to compare: press E to enter two or more");
    if (!dc->sim && !(dc->sim = simcache_new(SIMCACHE_MAX))) return err_set(e, ERR_MEMORY, "out of memory");
    const char *p[SIM_TEXTS_MAX];
    for (int i = 0; i < tx->n && i < SIM_TEXTS_MAX; i++) p[i] = tx->text[i];
    return simtexts_matrix(dc->sim, session_model(s), session_tokenizer(s), p, tx->n, true, layer, pool, mat, info, NULL, e);
}

void derived_similarity_rank(const double *mat, int n, int q, int *order) { similarity_rank(mat, n, q, order); }

static VocabIndex *nn_index(DerivedCache *dc, const Model *m) {
    if (dc->job) vocab_job_finish(dc, m);                  /* a build under way: wait for it */
    if (!same_model(dc->nn_model, dc->nn_path, m)) {
        map_job_finish(dc, NULL);                          /* a fit reading the old index */
        vocab_index_free(dc->vi);
        dc->vi = NULL;
        dc->nn_model = m;
        snprintf(dc->nn_path, sizeof dc->nn_path, "%s", m->path);
        dc->nn_id = -1;
        dc->nn_n = 0;
        Err e = {0};
        if (has_vocab(m)) dc->vi = vocab_index_new(&m->w.tok_emb, &e);
    }
    return dc->vi;
}

VocabIndex *derived_vocab(DerivedCache *dc, const Model *m) { return nn_index(dc, m); }

int derived_neighbours(DerivedCache *dc, const Model *m, int id) {
    VocabIndex *vi = nn_index(dc, m);
    if (dc->nn_id == id && id >= 0) return dc->nn_n;
    dc->nn_id = id;
    dc->nn_n = 0;
    if (!vi || id < 0 || id >= vocab_index_size(vi)) return 0;
    float *q = malloc(sizeof(float) * (size_t)m->spec.d_model);
    if (!q) return 0;
    vocab_row(vi, id, q);
    dc->nn_n = vocab_neighbours(vi, q, id, DERIVED_NN, dc->nn_ids, dc->nn_sim);
    free(q);
    return dc->nn_n;
}

int derived_neighbours_vec(DerivedCache *dc, const Model *m, const float *q, int skip) {
    VocabIndex *vi = nn_index(dc, m);
    dc->nn_id = -2;
    dc->nn_n = vi && q ? vocab_neighbours(vi, q, skip, DERIVED_NN, dc->nn_ids, dc->nn_sim) : 0;
    return dc->nn_n;
}

double derived_attn_entropy(const Trace *tr, int pos, int layer, int head) {
    const float *row = trace_attn_row(tr, pos, layer, head, false);
    return row ? stats_entropy_bits(row, pos + 1) : 0;
}

int derived_next_probs(const Trace *tr, int pos, SamplePreviewCfg cfg, float probs[TRACE_TOPK], double *tail_t1, double *tail_bound) {
    const TraceTok *t = trace_tok(tr, pos);
    if (!t) return 0;
    return sampling_preview(t->top_logits, TRACE_TOPK, t->logit_lse, trace_dims(tr)->vocab, cfg, probs, tail_t1, tail_bound);
}

int derived_full_probs(const Model *m, const Trace *tr, int pos, double T, double *pr, Err *e) {
    const TraceTok *t = trace_tok(tr, pos);
    const TraceDims *d = trace_dims(tr);
    const int V = m->spec.vocab_size, D = d->d_model;
    if (!t || !t->resid) { err_set(e, ERR_ARG, "no token computed at position %d", pos); return -1; }
    float *scratch = malloc(sizeof(float) * ((size_t)V + (size_t)D));
    int id1 = -1;
    float p1;
    if (!scratch || !logitlens_topk(m, t->resid + (size_t)d->n_layers * D, 1, &id1, &p1, scratch)) {
        free(scratch);
        err_set(e, ERR_ARG, "%s: cannot recompute the logits", m->path);
        return -1;
    }
    /* p_i = exp((l_i - l_max) / T) / sum_j exp((l_j - l_max) / T) */
    double mx = scratch[id1], se = 0;
    for (int i = 0; i < V; i++) { pr[i] = exp(((double)scratch[i] - mx) / T); se += pr[i]; }
    for (int i = 0; i < V; i++) pr[i] /= se;
    free(scratch);
    return id1;
}

long derived_top_set(double *pr, int V, double p, long k, double *mass) {
    long kk = k > 0 ? k : V, count = 0;
    double m = 0;
    for (long n = 0; n < kk; n++) {
        int b = -1;   /* selection of the largest until the mass or count is reached */
        for (int i = 0; i < V; i++) if (pr[i] >= 0 && (b < 0 || pr[i] > pr[b])) b = i;
        if (b < 0) break;
        m += pr[b];
        pr[b] = -1;
        count = n + 1;
        if (k <= 0 && m >= p - 1e-12) break;
    }
    *mass = m;
    return count;
}

bool derived_eval_loss(const Model *m, const int *ids, int N, int max_ctx, DType kv_round, double *loss, long *scored_out, Err *e) {
    Engine *en = engine_new((Model *)m, max_ctx, e);
    if (!en) return false;
    if (!engine_set_kv_round(en, kv_round, e)) { engine_free(en); return false; }
    const int V = m->spec.vocab_size, C = engine_max_ctx(en);
    double nll = 0;
    long scored = 0;
    for (int s0 = 0; s0 < N - 1; s0 += C - 1) {
        int w = N - s0 < C ? N - s0 : C;
        engine_truncate(en, 0);
        float *lg = engine_forward(en, ids + s0, w, true, e);
        if (!lg) { engine_free(en); return false; }
        for (int t = 0; t < w - 1; t++) {
            /* -log p(next) = logsumexp(l) - l_next */
            const float *r = lg + (size_t)t * (size_t)V;
            float mx = r[0];
            for (int i = 1; i < V; i++) if (r[i] > mx) mx = r[i];
            double se = 0;
            for (int i = 0; i < V; i++) se += exp((double)(r[i] - mx));
            nll += (double)mx + log(se) - (double)r[ids[s0 + t + 1]];
            scored++;
        }
    }
    engine_free(en);
    if (!scored) return err_set(e, ERR_ARG, "too little text: %d tokens", N);
    *loss = nll / (double)scored;
    *scored_out = scored;
    return true;
}
