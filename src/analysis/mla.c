/* MLA scores, naive and absorbed (see mla.h). */
#include "analysis/mla.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/ops.h"

void mla_scores_free(MlaScores *r) {
    if (!r) return;
    free(r->naive);
    free(r->absorbed);
    free(r->engine);
    memset(r, 0, sizeof *r);
}

bool mla_head_scores(const Model *m, const Trace *tr, int layer, int head, int pos, MlaScores *out, Err *e) {
    memset(out, 0, sizeof *out);
    const ModelSpec *s = &m->spec;
    if (s->attn_kind != ATTN_MLA)
        return err_set(e, ERR_ARG, "mla: the model uses %s attention, not MLA (load an MLA model, e.g. assets/models/story-mla)",
                       attn_kind_name(s->attn_kind));
    if (layer < 0 || layer >= s->n_layers) return err_set(e, ERR_ARG, "mla: layer %d out of range 0..%d", layer, s->n_layers - 1);
    if (head < 0 || head >= s->n_heads) return err_set(e, ERR_ARG, "mla: head %d out of range 0..%d", head, s->n_heads - 1);
    if (pos < 0 || pos >= trace_len(tr)) return err_set(e, ERR_ARG, "mla: position %d not computed (0..%d)", pos, trace_len(tr) - 1);
    if (!m->w.layers) return err_set(e, ERR_ARG, "mla: the model has no weights (config only)");
    const int H = s->n_heads, nope = s->qk_nope_head_dim, rope = s->qk_rope_head_dim, dv = s->v_head_dim;
    const int R = s->kv_lora_rank, dq = nope + rope, n = pos + 1;
    const LayerWeights *lw = &m->w.layers[layer];
    const TraceTok *tq = trace_tok(tr, pos);
    if (!tq || !tq->qa || !tq->kv_latent || !tq->k_rot)
        return err_set(e, ERR_ARG, "mla: the trace at position %d lacks the queries or latents", pos);
    const float *eng = trace_attn_row(tr, pos, layer, head, true);   /* the engine's own scores */
    if (!eng) return err_set(e, ERR_ARG, "mla: no attention row at position %d (no engine bound to the trace)", pos);
    float *buf = malloc(sizeof(float) * (size_t)R);
    float *qa = calloc((size_t)R, sizeof(float));
    float *kn = malloc(sizeof(float) * (size_t)nope);
    out->naive = malloc(sizeof(float) * (size_t)n);
    out->absorbed = malloc(sizeof(float) * (size_t)n);
    out->engine = malloc(sizeof(float) * (size_t)n);
    if (!buf || !qa || !kn || !out->naive || !out->absorbed || !out->engine) {
        free(buf); free(qa); free(kn);
        mla_scores_free(out);
        return err_set(e, ERR_MEMORY, "mla: out of memory for %d keys", n);
    }
    out->layer = layer;
    out->head = head;
    out->pos = pos;
    out->n_keys = n;
    /* this head's query as attention consumed it: [q_nope | q_pe rotated] */
    const float *qn = tq->qa + ((size_t)layer * (size_t)H + (size_t)head) * (size_t)dq;
    const float *qp = qn + nope;
    const size_t uk0 = (size_t)head * (size_t)(nope + dv);   /* W_UK_h: rows uk0 .. uk0+nope-1 of kv_b [H*(nope+dv)][R] */
    /* absorbed query: q_abs[r] = sum_i q_nope[i] W_UK[i][r] */
    for (int i = 0; i < nope; i++) {
        tensor_row_f32(&lw->wkv_b, (uk0 + (size_t)i) * (size_t)R, R, buf);
        for (int r = 0; r < R; r++) qa[r] += qn[i] * buf[r];
    }
    const float scale = s->softmax_scale;
    out->max_key = 0;
    for (int j = 0; j < n; j++) {
        const TraceTok *tk = trace_tok(tr, j);
        const float *c = tk->kv_latent + (size_t)layer * (size_t)R;
        const float *kp = tk->k_rot + (size_t)layer * (size_t)rope;
        float pe = 0;
        for (int i = 0; i < rope; i++) pe += qp[i] * kp[i];
        /* naive: decompress this key's nope part, then dot */
        for (int i = 0; i < nope; i++) {
            tensor_row_f32(&lw->wkv_b, (uk0 + (size_t)i) * (size_t)R, R, buf);
            float acc = 0;
            for (int r = 0; r < R; r++) acc += buf[r] * c[r];
            kn[i] = acc;
        }
        float dn = 0;
        for (int i = 0; i < nope; i++) dn += qn[i] * kn[i];
        float da = 0;
        for (int r = 0; r < R; r++) da += qa[r] * c[r];
        out->naive[j] = (dn + pe) * scale;
        out->absorbed[j] = (da + pe) * scale;
        out->engine[j] = eng[j];
        double df = fabs((double)out->naive[j] - (double)out->absorbed[j]);
        double de = fabs((double)out->absorbed[j] - (double)eng[j]);
        if (df > out->max_diff_forms) out->max_diff_forms = df;
        if (de > out->max_diff_engine) out->max_diff_engine = de;
        if (eng[j] > eng[out->max_key]) out->max_key = j;
    }
    free(buf); free(qa); free(kn);
    out->elems_latent = (long long)(R + rope) * s->n_layers;
    out->elems_full = ((long long)H * dq + (long long)H * dv) * s->n_layers;
    out->flops_naive = (double)n * (2.0 * nope * R + 2.0 * dq);
    out->flops_absorbed = 2.0 * nope * R + (double)n * 2.0 * (R + rope);
    out->flops_full = (double)n * 2.0 * dq;
    return true;
}
