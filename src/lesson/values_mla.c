/* Lesson values of multi-head latent attention (the mla.* rows of placeholders.def): one row of
 * a head's scores computed naively and in the absorbed form by analysis/mla.c, at the cursor,
 * selected layer and head; the key is the selected key column, else the row's top key. */
#include "analysis/mla.h"
#include "lesson/values_internal.h"

bool v_tok_mla(VC *c) {
    const char *k = c->ph->key;
    MlaScores r;
    if (!c->s || !c->m) return err_set(c->e, ERR_ARG, "{%s} needs a loaded MLA model", k);
    if (!mla_head_scores(c->m, session_trace(c->s), c->layer, c->head, c->cursor, &r, c->e)) return false;
    const int key = c->key >= 0 && c->key <= c->cursor ? c->key : r.max_key;
    const ModelSpec *s = c->sp_m;
    bool ok = true;
    if (IS(mla_key)) lv_fmt_int(key, c->out, c->cap);
    else if (IS(mla_key_text)) lv_fmt_tok(c->s, trace_tok(session_trace(c->s), key)->id, c->out, c->cap, c->v->zh);
    else if (IS(mla_keys)) lv_fmt_int(r.n_keys, c->out, c->cap);
    else if (IS(mla_naive)) lv_put(c->out, c->cap, "%.4f", (double)r.naive[key]);
    else if (IS(mla_absorbed)) lv_put(c->out, c->cap, "%.4f", (double)r.absorbed[key]);
    else if (IS(mla_engine)) lv_put(c->out, c->cap, "%.4f", (double)r.engine[key]);
    else if (IS(mla_diff)) lv_put(c->out, c->cap, "%.1e", r.max_diff_forms);
    else if (IS(mla_diff_engine)) lv_put(c->out, c->cap, "%.1e", r.max_diff_engine);
    else if (IS(mla_elems_latent)) lv_fmt_int(r.elems_latent / s->n_layers, c->out, c->cap);
    else if (IS(mla_elems_full)) lv_fmt_int(r.elems_full / s->n_layers, c->out, c->cap);
    else if (IS(mla_bytes_latent)) lv_fmt_int(r.elems_latent * 2, c->out, c->cap);
    else if (IS(mla_bytes_full)) lv_fmt_int(r.elems_full * 2, c->out, c->cap);
    else if (IS(mla_bytes_ratio)) lv_put(c->out, c->cap, "%.1f", (double)r.elems_full / (double)r.elems_latent);
    else if (IS(mla_flops_naive)) lv_fmt_int((long long)r.flops_naive, c->out, c->cap);
    else if (IS(mla_flops_absorbed)) lv_fmt_int((long long)r.flops_absorbed, c->out, c->cap);
    else if (IS(mla_flops_full)) lv_fmt_int((long long)r.flops_full, c->out, c->cap);
    else if (IS(mla_flops_ratio)) lv_put(c->out, c->cap, "%.1f", r.flops_naive / r.flops_absorbed);
    else if (IS(mla_decompress_flops)) lv_fmt_int(2LL * s->qk_nope_head_dim * s->kv_lora_rank, c->out, c->cap);
    else ok = err_set(c->e, ERR_ARG, "{%s} is not an MLA value", k);
    mla_scores_free(&r);
    return ok;
}
