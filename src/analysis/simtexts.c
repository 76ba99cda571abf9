/* Sentence vectors of whole texts through a scratch engine, cached (see simtexts.h). */
#include "analysis/simtexts.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char *text;               /* NULL: free slot */
    bool add_bos;
    int n_tokens, first;      /* first: the row mean pooling starts at */
    double *vec;              /* [2 pools][n_layers + 1][d] */
    unsigned long used;       /* LRU stamp */
} SimEntry;

struct SimCache {
    const void *model;
    char path[1024];
    int n_layers, d;
    SimEntry *e;
    int cap;
    unsigned long tick;
    long runs;
};

SimCache *simcache_new(int max_texts) {
    if (max_texts < 1) max_texts = SIMCACHE_MAX;
    SimCache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->e = calloc((size_t)max_texts, sizeof *c->e);
    if (!c->e) { free(c); return NULL; }
    c->cap = max_texts;
    return c;
}

static void entry_clear(SimEntry *x) {
    free(x->text);
    free(x->vec);
    memset(x, 0, sizeof *x);
}

void simcache_free(SimCache *c) {
    if (!c) return;
    for (int i = 0; i < c->cap; i++) entry_clear(&c->e[i]);
    free(c->e);
    free(c);
}

long simcache_runs(const SimCache *c) { return c ? c->runs : 0; }

/* Empties the cache when the model is another one. */
static void cache_for_model(SimCache *c, const Model *m) {
    if (c->model == (const void *)m && !strcmp(c->path, m->path) && c->n_layers == m->spec.n_layers && c->d == m->spec.d_model) return;
    for (int i = 0; i < c->cap; i++) entry_clear(&c->e[i]);
    c->model = m;
    snprintf(c->path, sizeof c->path, "%s", m->path);
    c->n_layers = m->spec.n_layers;
    c->d = m->spec.d_model;
}

static SimEntry *cache_find(SimCache *c, const char *text, bool add_bos) {
    for (int i = 0; i < c->cap; i++)
        if (c->e[i].text && c->e[i].add_bos == add_bos && !strcmp(c->e[i].text, text)) return &c->e[i];
    return NULL;
}

/* A free slot, or the least recently used one not in keep[0..nk). */
static SimEntry *cache_slot(SimCache *c, SimEntry *const *keep, int nk) {
    SimEntry *best = NULL;
    for (int i = 0; i < c->cap; i++) {
        SimEntry *x = &c->e[i];
        if (!x->text) return x;
        bool kept = false;
        for (int k = 0; k < nk && !kept; k++) kept = keep[k] == x;
        if (!kept && (!best || x->used < best->used)) best = x;
    }
    if (best) entry_clear(best);
    return best;
}

/* The residual rows of every layer of one forward pass: rows[layer][pos][d]. */
typedef struct {
    int n_layers, d, n;
    float *rows;
    int got;
} Capture;

static bool cap_layer(HookPoint p, int block, int n_layers, int *layer) {
    if (p == HP_RESID_PRE && block == 0) { *layer = 0; return true; }
    if (p == HP_RESID_POST && block >= 0 && block < n_layers - 1) { *layer = block + 1; return true; }
    if (p == HP_LNF_NORMALIZED) { *layer = n_layers; return true; }
    return false;
}

static bool cap_ask(void *ud, HookPoint p, int block) {
    const Capture *c = ud;
    int l;
    return cap_layer(p, block, c->n_layers, &l);
}

static void cap_observe(void *ud, HookEvent *ev) {
    Capture *c = ud;
    int l;
    if (!cap_layer(ev->point, ev->layer, c->n_layers, &l)) return;
    int rows = ev->shape[0], d = ev->shape[1];
    if (d != c->d || ev->pos0 < 0 || ev->pos0 + rows > c->n) return;
    memcpy(c->rows + ((size_t)l * (size_t)c->n + (size_t)ev->pos0) * (size_t)d, ev->data, sizeof(float) * (size_t)rows * (size_t)d);
    c->got += rows;
}

/* Runs text through en and fills x (text already set). */
static bool run_text(SimCache *c, Engine *en, Capture *cap, const int *ids, int n, int first, SimEntry *x, Err *e) {
    const int L = c->n_layers, d = c->d;
    engine_truncate(en, 0);
    cap->n = n;
    cap->got = 0;
    if (!engine_forward(en, ids, n, false, e)) return false;
    c->runs++;
    if (cap->got != n * (L + 1))
        return err_set(e, ERR_UNSUPPORTED, "similarity: captured %d of %d residual rows (the model skipped a hook point)", cap->got, n * (L + 1));
    x->vec = malloc(sizeof(double) * 2 * (size_t)(L + 1) * (size_t)d);
    if (!x->vec) return err_set(e, ERR_MEMORY, "similarity: out of memory for the sentence vectors");
    for (int l = 0; l <= L; l++) {
        const float *rows = cap->rows + (size_t)l * (size_t)n * (size_t)d;
        similarity_pool(rows, n, d, first, POOL_MEAN, x->vec + (size_t)l * (size_t)d);
        similarity_pool(rows, n, d, first, POOL_LAST, x->vec + ((size_t)(L + 1) + (size_t)l) * (size_t)d);
    }
    x->n_tokens = n;
    x->first = first;
    return true;
}

bool simtexts_matrix(SimCache *c, Model *m, const struct Tokenizer *tok, const char *const *texts, int n,
                     bool add_bos, int layer, PoolKind pool, double *mat, SimTextInfo *info, double *vecs, Err *e) {
    if (!c || !m) return err_set(e, ERR_ARG, "similarity: no model");
    if (n < 1 || n > c->cap) return err_set(e, ERR_ARG, "similarity: give 1 to %d texts (got %d)", c->cap, n);
    if (!tok) return err_set(e, ERR_ARG, "similarity: %s has no tokenizer, so texts cannot be encoded", m->path);
    const int L = m->spec.n_layers, d = m->spec.d_model;
    HookPoint hp; int blk;
    if (!embed_layer_point(L, layer, &hp, &blk))
        return err_set(e, ERR_ARG, "similarity: layer %d: this model has layers 0..%d (0 = token embedding, %d = after the final norm)", layer, L, L);
    cache_for_model(c, m);
    SimEntry **ent = calloc((size_t)n, sizeof *ent);
    if (!ent) return err_set(e, ERR_MEMORY, "similarity: out of memory");
    /* texts already cached; duplicates in the list share an entry */
    for (int t = 0; t < n; t++) ent[t] = cache_find(c, texts[t], add_bos);
    int bos = m->spec.bos_id >= 0 ? m->spec.bos_id : tokenizer_bos_id(tok);
    Engine *en = NULL; Hooks *h = NULL;
    Capture cap = {L, d, 0, NULL, 0};
    bool ok = true;
    for (int t = 0; t < n && ok; t++) {
        if (ent[t]) continue;
        SimEntry *dup = cache_find(c, texts[t], add_bos);   /* an earlier duplicate just run */
        if (dup) { ent[t] = dup; continue; }
        int *ids = NULL;
        int nt = session_encode(tok, m, texts[t], add_bos, &ids, e);
        if (nt < 0) { ok = false; break; }
        if (nt == 0) {
            free(ids);
            ok = add_bos ? err_set(e, ERR_ARG, "similarity: text %d is empty and the model has no BOS token", t + 1)
                         : err_set(e, ERR_ARG, "similarity: text %d is empty and no special tokens are added (--no-bos): nothing to run", t + 1);
            break;
        }
        if (!en || engine_max_ctx(en) < nt) {
            engine_free(en);
            en = engine_new(m, nt > 64 ? nt : 64, e);
            if (!en) { free(ids); ok = false; break; }
            if (engine_max_ctx(en) < nt) {
                free(ids);
                ok = err_set(e, ERR_ARG, "similarity: text %d has %d tokens, more than the model's context (%d): shorten it", t + 1, nt, engine_max_ctx(en));
                break;
            }
            if (!h) {
                h = hooks_new();
                if (!h || hooks_add(h, "*", cap_ask, cap_observe, &cap) < 0) { free(ids); ok = err_set(e, ERR_MEMORY, "similarity: cannot register the residual hook"); break; }
            }
            engine_set_hooks(en, h);
            free(cap.rows);
            cap.rows = malloc(sizeof(float) * (size_t)(L + 1) * (size_t)engine_max_ctx(en) * (size_t)d);
            if (!cap.rows) { free(ids); ok = err_set(e, ERR_MEMORY, "similarity: out of memory for the residual rows"); break; }
        }
        SimEntry *x = cache_slot(c, ent, n);
        if (!x) { free(ids); ok = err_set(e, ERR_MEMORY, "similarity: cache full"); break; }
        x->text = strdup(texts[t]);
        x->add_bos = add_bos;
        int first = (nt > 1 && bos >= 0 && ids[0] == bos) ? 1 : 0;
        if (!x->text || !run_text(c, en, &cap, ids, nt, first, x, e)) {
            if (!x->text) err_set(e, ERR_MEMORY, "similarity: out of memory");
            entry_clear(x);
            free(ids);
            ok = false;
            break;
        }
        free(ids);
        ent[t] = x;
    }
    engine_free(en);
    hooks_free(h);
    free(cap.rows);
    if (!ok) { free(ent); return false; }
    double *v = vecs ? vecs : malloc(sizeof(double) * (size_t)n * (size_t)d);
    if (!v) { free(ent); return err_set(e, ERR_MEMORY, "similarity: out of memory"); }
    c->tick++;
    for (int t = 0; t < n; t++) {
        SimEntry *x = ent[t];
        x->used = c->tick;
        size_t off = ((pool == POOL_LAST ? (size_t)(L + 1) : 0) + (size_t)layer) * (size_t)d;
        memcpy(v + (size_t)t * (size_t)d, x->vec + off, sizeof(double) * (size_t)d);
        if (info) info[t] = (SimTextInfo){x->n_tokens, pool == POOL_LAST ? x->n_tokens - 1 : x->first};
    }
    similarity_matrix(v, n, d, mat);
    if (!vecs) free(v);
    free(ent);
    return true;
}
