#include "analysis/embctx.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/stats.h"
#include "tokenizer/tokenizer.h"

const float *embctx_row(const Trace *t, int pos, int layer) {
    const TraceTok *k = trace_tok(t, pos);
    const TraceDims *d = trace_dims(t);
    if (!k || layer < 0 || layer > d->n_layers) return NULL;
    if (layer == d->n_layers) return k->lnf_out;
    return k->resid ? k->resid + (size_t)layer * (size_t)d->d_model : NULL;
}

int embctx_first(const Session *s) {
    if (!s || trace_len(session_trace(s)) < 2) return 0;
    int bos = session_model(s)->spec.bos_id;
    if (bos < 0 && session_tokenizer(s)) bos = tokenizer_bos_id(session_tokenizer(s));
    const TraceTok *t0 = trace_tok(session_trace(s), 0);
    return bos >= 0 && t0 && t0->id == bos ? 1 : 0;
}

const char *embctx_layer_name(int layer, int n_layers, char *buf, size_t cap) {
    if (layer <= 0) snprintf(buf, cap, "token embedding");
    else if (layer >= n_layers) snprintf(buf, cap, "after the final norm");
    else snprintf(buf, cap, "after block %d", layer - 1);
    return buf;
}

bool embctx_fit_rows(PcaAxes *ax, const float *rows, int first, int n_fit, int d) {
    if (first < 0 || n_fit - first < 2) { memset(ax, 0, sizeof *ax); return false; }
    return pca_axes_fit(ax, rows + (size_t)first * (size_t)d, n_fit - first, d);
}

static int prefill_len(const Trace *t) {
    int n = trace_len(t), k = 0;
    while (k < n) { const TraceTok *x = trace_tok(t, k); if (!x || x->phase != PHASE_PREFILL) break; k++; }
    return k;
}

bool embctx_update(EmbCtxPca *p, const Session *s, int layer) {
    if (!s || !session_trace(s)) { embctx_done(p); return false; }
    const TraceDims *dm = trace_dims(session_trace(s));
    int n_fit = prefill_len(session_trace(s));
    if (n_fit == 0) n_fit = trace_len(session_trace(s));      /* no prefill recorded (ids stepped one by one) */
    const TraceTok *t0 = trace_tok(session_trace(s), 0);
    int step0 = t0 ? t0->step : -1, id0 = t0 ? t0->id : -1;
    int first = embctx_first(s);
    if (p->trace == (const void *)session_trace(s) && p->layer == layer && p->n_fit == n_fit && p->step0 == step0 &&
        p->id0 == id0 && p->first == first && (p->ok || p->n_fit == n_fit))
        return p->ok;
    embctx_done(p);
    p->trace = session_trace(s); p->layer = layer; p->n_fit = n_fit; p->step0 = step0; p->id0 = id0; p->first = first;
    const int D = dm->d_model;
    float *X = malloc(sizeof(float) * (size_t)(n_fit > 0 ? n_fit : 1) * (size_t)D);
    if (!X) return false;
    bool have = true;
    for (int i = 0; i < n_fit && have; i++) {
        const float *r = embctx_row(session_trace(s), i, layer);
        if (r) memcpy(X + (size_t)i * D, r, sizeof(float) * (size_t)D);
        else have = false;
    }
    p->ok = have && embctx_fit_rows(&p->ax, X, first, n_fit, D);
    free(X);
    return p->ok;
}

bool embctx_project(const EmbCtxPca *p, const Session *s, int pos, float xy[2]) {
    if (!p->ok) return false;
    const float *r = embctx_row(session_trace(s), pos, p->layer);
    if (!r) return false;
    pca_axes_project(&p->ax, r, xy);
    return true;
}

void embctx_done(EmbCtxPca *p) {
    pca_axes_done(&p->ax);
    memset(p, 0, sizeof *p);
    p->layer = -1;
}

float embctx_cosine(const Session *s, int layer, int i, int j) {
    const float *a = embctx_row(session_trace(s), i, layer), *b = embctx_row(session_trace(s), j, layer);
    if (!a || !b) return NAN;
    return stats_cosine(a, b, trace_dims(session_trace(s))->d_model);
}
