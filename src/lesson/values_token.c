/* Lesson values read from the trace at the cursor: the v_tok_* rows of placeholders.def, one
 * function per family. Values a panel also shows come from the same analysis/derived.h
 * function the panel calls. */
#include "lesson/values_internal.h"

bool v_tok_kv(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* KV cache, measured */
    if (IS(kv_bytes_total)) { lv_fmt_bytes((double)t->kv_bytes, c->out, c->cap); return true; }
    if (IS(kv_bytes_total_exact)) OUT_INT(t->kv_bytes);
    if (IS(kv_grew)) {
        const TraceTok *p = pos > 0 ? trace_tok(session_trace(s), pos - 1) : NULL;
        OUT_INT(p ? t->kv_bytes - p->kv_bytes : t->kv_bytes);
    }
    if (IS(kv_tokens)) OUT_INT(pos + 1);
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_tokens(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* tokens */
    if (IS(seq_len)) OUT_INT(len);
    if (IS(token_text)) { lv_fmt_tok(s, t->id, c->out, c->cap, zh); return true; }
    if (IS(token_id)) OUT_INT(t->id);
    if (IS(token_pos)) OUT_INT(pos);
    if (IS(token_phase)) {
        if (zh) OUT_STR(t->phase == PHASE_PREFILL ? "\xe9\xa2\x84\xe5\xa1\xab\xe5\x85\x85" : "\xe8\xa7\xa3\xe7\xa0\x81");
        OUT_STR(t->phase == PHASE_PREFILL ? "prefill" : "decode");
    }
    if (IS(token_forward)) {
        /* counted from the prefill of this prompt: the prefill is call 1 */
        const TraceTok *t0 = trace_tok(session_trace(s), 0);
        OUT_INT(t->step - (t0 ? t0->step : 0) + 1);
    }
    if (IS(token_next)) {
        if (t->next_id < 0) return err_set(c->e, ERR_ARG, "no token chosen after position %d yet", pos);
        lv_fmt_tok(s, t->next_id, c->out, c->cap, zh);
        return true;
    }
    if (IS(token_at)) {
        int p = 0;
        if (!lv_arg_pos(c, c->ph->arg, &p)) return false;
        lv_fmt_tok(s, trace_tok(session_trace(s), p)->id, c->out, c->cap, zh);
        return true;
    }
    if (IS(tokens_prefill) || IS(tokens_decoded)) {
        int np = 0;
        for (int i = 0; i < len; i++) np += trace_tok(session_trace(s), i)->phase == PHASE_PREFILL;
        OUT_INT(IS(tokens_prefill) ? np : len - np);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_attn(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* attention */
    if (!strncmp(k, "attn.", 5)) {
        const float *row = lv_attn_row(c, t, pos, l, h);
        if (!row) return err_set(c->e, ERR_ARG, "no attention recorded at position %d", pos);
        const int n = pos + 1;
        if (IS(attn_keys)) OUT_INT(n);
        if (IS(attn_visible_pairs)) OUT_INT((long long)len * (len + 1) / 2);
        if (IS(attn_hidden_pairs)) OUT_INT((long long)len * (len - 1) / 2);
        if (IS(attn_all_pairs)) OUT_INT((long long)len * len);
        if (IS(attn_masked)) OUT_INT(len - n);
        int mk = lv_argmaxf(row, n);
        if (IS(attn_max_key)) OUT_INT(mk);
        if (IS(attn_max_key_text)) { lv_fmt_tok(s, trace_tok(session_trace(s), mk)->id, c->out, c->cap, zh); return true; }
        if (IS(attn_max_weight)) OUT_PCT(row[mk]);
        if (IS(attn_self_weight)) OUT_PCT(row[pos]);
        if (IS(attn_first_weight)) OUT_PCT(row[0]);
        if (IS(attn_sel_weight)) {
            if (c->key < 0 || c->key > pos) return err_set(c->e, ERR_ARG, "no key column selected (use a highlight or key action)");
            OUT_PCT(row[c->key]);
        }
        if (IS(attn_entropy)) OUT_NUM(derived_attn_entropy(session_trace(s), pos, l, h));   /* as the attention panel */
        if (IS(attn_entropy_max)) OUT_NUM(log2((double)n));
        if (IS(attn_score_max) || IS(attn_score_min)) {
            const float *sc = trace_attn_row(session_trace(s), pos, l, h, true);
            if (!sc) return err_set(c->e, ERR_ARG, "no attention row at position %d", pos);
            float mn, mx;
            stats_minmax(sc, n, &mn, &mx);
            OUT_NUM(IS(attn_score_max) ? mx : mn);
        }
        if (IS(attn_distinct_heads)) {
            int seen = 0;
            unsigned char *mark = calloc((size_t)n, 1);
            if (!mark) return err_set(c->e, ERR_MEMORY, "out of memory");
            for (int hh = 0; hh < H; hh++) {
                int a = lv_argmaxf(lv_attn_row(c, t, pos, l, hh), n);
                if (!mark[a]) { mark[a] = 1; seen++; }
            }
            free(mark);
            OUT_INT(seen);
        }
        if (IS(attn_head_max_key) || IS(attn_head_max_key_text)) {
            long hh = lv_arg_int(c->ph->arg);
            if (hh < 0 || hh >= H) return err_set(c->e, ERR_ARG, "head %ld does not exist (the model has %d heads: 0..%d)", hh, H, H - 1);
            int a = lv_argmaxf(lv_attn_row(c, t, pos, l, (int)hh), n);
            if (IS(attn_head_max_key)) OUT_INT(a);
            lv_fmt_tok(s, trace_tok(session_trace(s), a)->id, c->out, c->cap, zh);
            return true;
        }
        if (IS(attn_prev_heads) || IS(attn_bos_heads)) {
            if (IS(attn_prev_heads) && pos < 1) return err_set(c->e, ERR_ARG, "position 0 has no previous token");
            int cnt = 0;
            for (int ll = 0; ll < L; ll++)
                for (int hh = 0; hh < H; hh++) {
                    int a = lv_argmaxf(lv_attn_row(c, t, pos, ll, hh), n);
                    cnt += IS(attn_prev_heads) ? a == pos - 1 : a == 0;
                }
            OUT_INT(cnt);
        }
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_resid(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* residual stream */
    if (!strncmp(k, "resid.", 6)) {
        const float *r0 = t->resid, *rl = t->resid + (size_t)l * D, *rn = t->resid + (size_t)(l + 1) * D, *rL = t->resid + (size_t)L * D;
        if (IS(resid_norm)) OUT_NUM(stats_norm(rl, D));
        if (IS(resid_norm_first)) OUT_NUM(stats_norm(r0, D));
        if (IS(resid_norm_final)) OUT_NUM(stats_norm(rL, D));
        if (IS(resid_growth)) {
            double a = stats_norm(r0, D);
            lv_put(c->out, c->cap, "%.1f", a > 0 ? stats_norm(rL, D) / a : 0.0);
            return true;
        }
        if (IS(resid_attn_out)) OUT_NUM(t->attn_out_norm[l]);
        if (IS(resid_mlp_out)) OUT_NUM(t->mlp_out_norm[l]);
        if (IS(resid_cos_next)) OUT_NUM(stats_cosine(rl, rn, D));
        if (IS(resid_cos_first_last)) OUT_NUM(stats_cosine(r0, rL, D));
    }
    if (!strncmp(k, "lens.", 5)) {
        const Model *m = c->m;
        const int V = sp->vocab_size;
        float *scratch = malloc(sizeof(float) * ((size_t)V + (size_t)D));
        if (!scratch) return err_set(c->e, ERR_MEMORY, "out of memory");
        int id = -1;
        float p = 0;
        bool ok = true;
        if (IS(lens_settle_layer)) {
            int fid;
            float fp;
            ok = logitlens_topk(m, t->resid + (size_t)L * D, 1, &fid, &fp, scratch);
            int settle = L;
            for (int ll = L - 1; ok && ll >= 0; ll--) {
                ok = logitlens_topk(m, t->resid + (size_t)ll * D, 1, &id, &p, scratch);
                if (!ok || id != fid) break;
                settle = ll;
            }
            free(scratch);
            if (!ok) return err_set(c->e, ERR_ARG, "%s has no unembedding", m->path);
            OUT_INT(settle);
        }
        ok = logitlens_topk(m, t->resid + (size_t)l * D, 1, &id, &p, scratch);
        free(scratch);
        if (!ok) return err_set(c->e, ERR_ARG, "%s has no unembedding", m->path);
        if (IS(lens_top1)) { lv_fmt_tok(s, id, c->out, c->cap, zh); return true; }
        OUT_PCT(p);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_norm(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* norms */
    if (!strncmp(k, "norm.", 5)) {
        const NormStat *ns = &t->ln1[l];
        if (IS(norm_mean)) OUT_NUM(ns->mean);
        if (IS(norm_std)) OUT_NUM(sqrt(fmax(0.0, (double)ns->var)));
        if (IS(norm_rms)) OUT_NUM(ns->rms);
        if (IS(norm_min)) OUT_NUM(ns->min);
        if (IS(norm_max)) OUT_NUM(ns->max);
        if (IS(norm_final_rms)) OUT_NUM(t->lnf.rms);
        if (IS(norm_out_mean) || IS(norm_out_std) || IS(norm_out_rms)) {
            const float *o = trace_norm_out(session_trace(s), pos, 0, l);
            if (!o) return err_set(c->e, ERR_ARG, "no norm output at position %d", pos);
            double mean, var;
            stats_moments(o, D, &mean, &var);
            if (IS(norm_out_mean)) OUT_NUM(mean);
            if (IS(norm_out_std)) OUT_NUM(sqrt(var));
            OUT_NUM(stats_norm(o, D) / sqrt((double)D));
        }
        if (IS(norm_rms_min) || IS(norm_rms_max) || IS(norm_rms_spread)) {
            double mn = INFINITY, mx = 0;
            for (int i = 0; i < len; i++) {
                double r = trace_tok(session_trace(s), i)->ln1[l].rms;
                if (r < mn) mn = r;
                if (r > mx) mx = r;
            }
            if (IS(norm_rms_min)) OUT_NUM(mn);
            if (IS(norm_rms_max)) OUT_NUM(mx);
            lv_put(c->out, c->cap, "%.1f", mn > 0 ? mx / mn : 0.0);
            return true;
        }
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_ffn(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* FFN */
    if (!strncmp(k, "ffn.", 4)) {
        if (c->m->w.layers && c->m->w.layers[l].is_moe && !sp->n_shared_experts)
            return err_set(c->e, ERR_ARG, "layer %d is a mixture of experts: its activations are per expert and not recorded", l);
        int F = c->m->w.layers && c->m->w.layers[l].d_ff ? c->m->w.layers[l].d_ff : sp->d_ff;
        if (F > d->d_ff) F = d->d_ff;
        const float *a = trace_mlp_post(session_trace(s), pos, l);
        if (!a) return err_set(c->e, ERR_ARG, "no FFN activation recorded at position %d, layer %d", pos, l);
        float amax = 0;
        int top = 0, neg = 0, zero = 0;
        for (int i = 0; i < F; i++) {
            if (fabsf(a[i]) > amax) { amax = fabsf(a[i]); top = i; }
            neg += a[i] < 0;
            zero += a[i] == 0;
        }
        if (IS(ffn_top_neuron)) OUT_INT(top);
        if (IS(ffn_top_value)) OUT_NUM(a[top]);
        if (IS(ffn_negative)) OUT_PCT((double)neg / F);
        if (IS(ffn_zero)) OUT_PCT((double)zero / F);
        if (IS(ffn_small)) {
            int sm = 0;
            for (int i = 0; i < F; i++) sm += fabsf(a[i]) < 0.1f * amax;
            OUT_PCT((double)sm / F);
        }
        if (IS(ffn_top10_mass)) {
            float *m2 = malloc(sizeof(float) * (size_t)F);
            int *idx = malloc(sizeof(int) * (size_t)F);
            if (!m2 || !idx) { free(m2); free(idx); return err_set(c->e, ERR_MEMORY, "out of memory"); }
            double tot = 0, topm = 0;
            for (int i = 0; i < F; i++) { m2[i] = fabsf(a[i]); tot += m2[i]; }
            int kk = F / 10 > 0 ? F / 10 : 1;
            stats_topk(m2, F, kk, idx);
            for (int i = 0; i < kk; i++) topm += m2[idx[i]];
            free(m2);
            free(idx);
            OUT_PCT(tot > 0 ? topm / tot : 0);
        }
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_moe(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* MoE */
    if (!strncmp(k, "moe.", 4)) {
        if (!lv_need_layer_moe(c)) return false;
        const int K = d->top_k, E = d->n_experts;
        const int *ei = t->expert_idx + (size_t)l * K;
        const float *ew = t->expert_w + (size_t)l * K;
        if (IS(moe_top_expert) || IS(moe_top_weight)) {
            int b = 0;
            for (int i = 1; i < K; i++) if (ew[i] > ew[b]) b = i;
            if (IS(moe_top_expert)) OUT_INT(ei[b]);
            double sum = 0;
            for (int i = 0; i < K; i++) sum += ew[i];
            OUT_PCT(sum > 0 ? ew[b] / sum : 0);
        }
        if (IS(moe_chosen)) {
            char buf[256] = "";
            size_t o = 0;
            for (int i = 0; i < K && o + 16 < sizeof buf; i++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", i ? (zh ? "\xe3\x80\x81" : ", ") : "", ei[i]);
            OUT_STR(buf);
        }
        int *load = calloc((size_t)E, sizeof(int));
        if (!load) return err_set(c->e, ERR_MEMORY, "out of memory");
        for (int i = 0; i < len; i++) {
            const TraceTok *ti = trace_tok(session_trace(s), i);
            for (int j = 0; j < K; j++) {
                int x = ti->expert_idx[(size_t)l * K + j];
                if (x >= 0 && x < E) load[x]++;
            }
        }
        int bmax = 0, bmin = 0, idle = 0;
        for (int i = 0; i < E; i++) {
            if (load[i] > load[bmax]) bmax = i;
            if (load[i] < load[bmin]) bmin = i;
            idle += load[i] == 0;
        }
        int lmax = load[bmax], lmin = load[bmin];
        free(load);
        if (IS(moe_load_max)) OUT_INT(lmax);
        if (IS(moe_load_min)) OUT_INT(lmin);
        if (IS(moe_busiest)) OUT_INT(bmax);
        if (IS(moe_idle)) OUT_INT(idle);
        if (IS(moe_fair_load)) OUT_NUM((double)len * K / E);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_logits(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* logits and sampling */
    if (!strncmp(k, "logits.", 7)) {
        int rank = IS(logits_top1) || IS(logits_top1_prob) || IS(logits_top1_logit) ? 0 : IS(logits_top2) || IS(logits_top2_prob) ? 1 : 2;
        /* the output panel's left column: p_i = exp(l_i - lse) */
        float p1[TRACE_TOPK];
        SamplePreviewCfg t1 = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .greedy = false};
        double tail, tb1;
        derived_next_probs(session_trace(s), pos, t1, p1, &tail, &tb1);
        if (IS(logits_top5_mass)) OUT_PCT((double)p1[0] + p1[1] + p1[2] + p1[3] + p1[4]);
        if (IS(logits_top1_logit)) OUT_NUM(t->top_logits[0]);
        if (strstr(k, "_prob")) OUT_PCT(p1[rank]);
        lv_fmt_tok(s, t->top_ids[rank], c->out, c->cap, zh);
        return true;
    }
    if (!strncmp(k, "sample.", 7)) {
        /* exact, over the whole vocabulary (derived_full_probs: the logits recomputed from the
         * final residual), so no tail of unrecorded tokens is guessed */
        const int V = sp->vocab_size;
        double a = strtod(c->ph->arg, NULL), T = 1.0, mass = 0;
        if (IS(sample_top1_prob_at) && !(a > 0.001 && a <= 100)) return err_set(c->e, ERR_ARG, "temperature %s must be in (0, 100]", c->ph->arg);
        if (IS(sample_top1_prob_at)) T = a;
        long kk = IS(sample_topk_mass) ? lv_arg_int(c->ph->arg) : 0;
        if (IS(sample_topk_mass) && (kk < 1 || kk > V)) return err_set(c->e, ERR_ARG, "top-k %ld must be in [1, %d]", kk, V);
        if (IS(sample_topp_count) && !(a > 0 && a <= 1)) return err_set(c->e, ERR_ARG, "top-p %s must be in (0, 1]", c->ph->arg);
        double *pr = malloc(sizeof(double) * (size_t)V);
        if (!pr) return err_set(c->e, ERR_MEMORY, "out of memory");
        int id1 = derived_full_probs(c->m, session_trace(s), pos, T, pr, c->e);
        if (id1 < 0) { free(pr); return false; }
        if (IS(sample_top1_prob_at)) { double p = pr[id1]; free(pr); OUT_PCT(p); }
        long count = derived_top_set(pr, V, a, kk, &mass);
        free(pr);
        if (IS(sample_topp_count)) OUT_INT(count);
        OUT_PCT(mass);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

bool v_tok_embed(VC *c) {
    __attribute__((unused)) const char *k = c->ph->key;
    __attribute__((unused)) Session *s = c->s;
    __attribute__((unused)) const TraceTok *t = c->t;
    __attribute__((unused)) const TraceDims *d = c->dims;
    __attribute__((unused)) const ModelSpec *sp = c->sp_m;
    __attribute__((unused)) const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    __attribute__((unused)) const int l = c->layer, h = c->head;
    __attribute__((unused)) bool zh = c->v->zh;
    __attribute__((unused)) char tb[256];
    /* embeddings and positions */
    if (IS(embed_norm)) OUT_NUM(stats_norm(t->embed, D));
    if (IS(embed_cos)) {
        char a[48];
        snprintf(a, sizeof a, "%s", c->ph->arg);
        char *comma = strchr(a, ',');
        if (!comma) return err_set(c->e, ERR_ARG, "embed.cos needs i,j");
        *comma = 0;
        int i = 0, j = 0;
        if (!lv_arg_pos(c, a, &i) || !lv_arg_pos(c, comma + 1, &j)) return false;
        OUT_NUM(stats_cosine(trace_tok(session_trace(s), i)->embed, trace_tok(session_trace(s), j)->embed, D));
    }
    if (IS(embed_nearest) || IS(embed_nearest_cos)) {
        /* the embeddings panel's first neighbour */
        if (!derived_neighbours(&c->v->dc, c->m, t->id)) return err_set(c->e, ERR_ARG, "%s has no embedding table", c->m->path);
        if (IS(embed_nearest_cos)) OUT_NUM(c->v->dc.nn_sim[0]);
        lv_fmt_tok(s, c->v->dc.nn_ids[0], c->out, c->cap, zh);
        return true;
    }
    if (IS(embed_pca_explained) || IS(embed_layer_cos)) {
        /* the embeddings panel at its current layer (the scene's view) */
        int layer = c->v->sc ? c->v->sc->view.emb_layer : 0;
        if (layer < 0) layer = 0;
        if (layer > c->m->spec.n_layers) layer = c->m->spec.n_layers;
        if (IS(embed_layer_cos)) {
            char a[48];
            snprintf(a, sizeof a, "%s", c->ph->arg);
            char *comma = strchr(a, ',');
            if (!comma) return err_set(c->e, ERR_ARG, "embed.layer_cos needs i,j");
            *comma = 0;
            int i = 0, j = 0;
            if (!lv_arg_pos(c, a, &i) || !lv_arg_pos(c, comma + 1, &j)) return false;
            OUT_NUM(embctx_cosine(s, layer, i, j));
        }
        const EmbCtxPca *pca = derived_embed_pca(&c->v->dc, s, layer);
        if (!pca) return err_set(c->e, ERR_ARG, "a PCA map needs at least two prompt tokens besides BOS");
        OUT_PCT(pca->ax.explained[0] + pca->ax.explained[1]);
    }
    if (!strncmp(k, "pos.", 4)) {
        if (IS(pos_sin_cos)) {
            long dk = lv_arg_int(c->ph->arg);
            /* PE(p)_{2i} = sin(p / 10000^{2i/d}), PE(p)_{2i+1} = cos(...)  (Vaswani et al. 2017) */
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < D / 2; i++) {
                double w = pow(10000.0, -2.0 * i / D);
                double a1 = sin(pos * w), a2 = cos(pos * w), b1 = sin((double)(pos + dk) * w), b2 = cos((double)(pos + dk) * w);
                dot += a1 * b1 + a2 * b2;
                na += a1 * a1 + a2 * a2;
                nb += b1 * b1 + b2 * b2;
            }
            OUT_NUM(dot / sqrt(na * nb));
        }
        if (sp->pos != POS_LEARNED)
            return err_set(c->e, ERR_ARG, "{%s}: %s has no learned position vectors (it uses RoPE)", k, c->m->path);
        if (IS(pos_cos_tok_pos)) OUT_NUM(stats_cosine(t->embed, t->pos_embed, D));
        if (IS(pos_pos_norm)) OUT_NUM(stats_norm(t->pos_embed, D));
        if (IS(pos_keep)) {
            float *sum = malloc(sizeof(float) * (size_t)D);
            if (!sum) return err_set(c->e, ERR_MEMORY, "out of memory");
            for (int i = 0; i < D; i++) sum[i] = t->embed[i] + t->pos_embed[i];
            float cs = stats_cosine(t->embed, sum, D);
            free(sum);
            OUT_NUM(cs);
        }
        if (IS(pos_mean_abs_cos)) {
            double acc = 0;
            for (int i = 0; i < len; i++) {
                const TraceTok *ti = trace_tok(session_trace(s), i);
                acc += fabs((double)stats_cosine(ti->embed, ti->pos_embed, D));
            }
            OUT_NUM(acc / len);
        }
    }
    if (!strncmp(k, "rope.", 5)) {
        const float *ql = trace_q_pre(session_trace(s), pos, l);
        if (sp->pos != POS_ROPE || !ql || d->rot_dim < 2) return err_set(c->e, ERR_ARG, "%s does not use RoPE", c->m->path);
        const int R = d->rot_dim;
        const float *q0 = ql + (size_t)h * (size_t)R, *q1 = t->q_rot + ((size_t)l * H + (size_t)h) * (size_t)R;
        double n0 = stats_norm(q0, R), n1 = stats_norm(q1, R);
        if (IS(rope_q_norm)) OUT_NUM(n0);
        if (IS(rope_q_rot_norm)) OUT_NUM(n1);
        if (IS(rope_norm_ratio)) { lv_put(c->out, c->cap, "%.3f", n0 > 0 ? n1 / n0 : 0.0); return true; }
        double fmin, fmax;
        if (!lv_rope_freqs(sp, len, true, &fmin, &fmax, NULL)) return err_set(c->e, ERR_ARG, "no rotary dims");
        if (IS(rope_angle_fast)) OUT_NUM(pos * fmax);
        if (IS(rope_angle_slow)) OUT_NUM(pos * fmin);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}
