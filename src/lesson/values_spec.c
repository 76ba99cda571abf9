/* Lesson values read from the config (ModelSpec) and from the session (prompt, selection):
 * the v_spec and v_session rows of placeholders.def. */
#include "lesson/values_internal.h"

bool v_spec(VC *c) {
    const char *k = c->ph->key;
    const ModelSpec *s = c->sp_m;
    const Model *m = c->m;
    bool zh = c->v->zh;
    if (IS(model_name)) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", m->path);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *b = strrchr(tmp, '/');
        OUT_STR(b ? b + 1 : tmp);
    }
    if (IS(model_type)) OUT_STR(s->model_type);
    if (IS(model_attention)) OUT_STR(attn_kind_name(s->attn_kind));
    if (IS(model_layers)) OUT_INT(s->n_layers);
    if (IS(model_d_model)) OUT_INT(s->d_model);
    if (IS(model_heads)) OUT_INT(s->n_heads);
    if (IS(model_kv_heads)) OUT_INT(s->attn_kind == ATTN_MLA ? s->n_heads : s->n_kv_heads);
    if (IS(model_q_per_kv)) OUT_INT(s->n_kv_heads > 0 ? s->n_heads / s->n_kv_heads : 0);
    if (IS(model_head_dim)) OUT_INT(s->attn_kind == ATTN_MLA ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim);
    if (IS(model_d_ff) || IS(ffn_width)) {
        if (IS(ffn_width) && m->w.layers && m->w.layers[c->layer].is_moe) OUT_INT(s->moe_d_ff);
        OUT_INT(s->d_ff);
    }
    if (IS(model_ffn_ratio)) OUT_NUM((double)s->d_ff / s->d_model);
    if (IS(model_vocab)) OUT_INT(s->vocab_size);
    if (IS(model_context)) OUT_INT(s->max_pos);
    if (IS(model_norm)) OUT_STR(s->norm == NORM_RMSNORM ? "RMSNorm" : "LayerNorm");
    if (IS(model_norm_eps)) { lv_put(c->out, c->cap, "%g", (double)s->norm_eps); return true; }
    if (IS(model_act)) OUT_STR(s->act == ACT_SILU ? "SiLU" : s->act == ACT_RELU ? "ReLU" : "GELU");
    if (IS(model_ffn)) {
        if (s->gated_ffn) OUT_STR(s->act == ACT_SILU ? "SwiGLU" : s->act == ACT_RELU ? "ReGLU" : "GeGLU");
        OUT_STR(s->act == ACT_RELU ? "ReLU MLP" : s->act == ACT_SILU ? "SiLU MLP" : "GELU MLP");
    }
    if (IS(model_position)) OUT_STR(s->pos == POS_ROPE ? "RoPE" : (zh ? "\xe5\xad\xa6\xe4\xb9\xa0\xe5\xbc\x8f\xe4\xbd\x8d\xe7\xbd\xae\xe5\x90\x91\xe9\x87\x8f" : "learned"));
    if (IS(model_qk_norm)) OUT_STR(lv_yesno(s->qk_norm, zh));
    if (IS(model_tied)) OUT_STR(lv_yesno(s->tied_embeddings, zh));
    if (IS(model_params) || IS(model_params_exact) || IS(model_active_params) || IS(model_active_share)) {
        long long act = 0, tot = lesson_spec_params(m, &act);
        if (!m->config_only && m->n_params > 0 && !s->n_experts) tot = act = m->n_params;
        if (IS(model_params)) { lv_fmt_short((double)tot, c->out, c->cap); return true; }
        if (IS(model_params_exact)) OUT_INT(tot);
        if (IS(model_active_params)) { lv_fmt_short((double)act, c->out, c->cap); return true; }
        OUT_PCT(tot ? (double)act / (double)tot : 0);
    }
    if (IS(model_experts)) OUT_INT(s->n_experts);
    if (IS(model_experts_per_tok)) OUT_INT(s->n_experts ? s->n_experts_per_tok : 0);
    if (IS(model_shared_experts)) OUT_INT(s->n_shared_experts);
    if (IS(model_expert_ff)) OUT_INT(s->n_experts ? s->moe_d_ff : 0);
    if (IS(model_moe_layers)) {
        int n = 0;
        for (int l = 0; l < s->n_layers; l++) n += lv_layer_is_moe_spec(s, l);
        OUT_INT(n);
    }
    if (IS(model_kv_lora_rank)) OUT_INT(s->kv_lora_rank);
    if (IS(model_q_lora_rank)) OUT_INT(s->q_lora_rank);
    if (IS(model_rope_head_dim)) OUT_INT(s->qk_rope_head_dim);
    if (IS(model_nope_head_dim)) OUT_INT(s->qk_nope_head_dim);
    if (IS(model_v_head_dim)) OUT_INT(s->v_head_dim);
    if (IS(model_dtype)) OUT_STR(dtype_name(s->dtype));

    /* RoPE from the config */
    if (!strncmp(k, "rope.", 5) && s->pos != POS_ROPE && strcmp(k, "rope.scaling"))
        return err_set(c->e, ERR_ARG, "%s uses learned positions, not RoPE", m->path);
    if (IS(rope_theta)) {
        if (s->rope_theta >= 1 && s->rope_theta < 1e15 && s->rope_theta == floorf(s->rope_theta)) OUT_INT(llround(s->rope_theta));
        lv_put(c->out, c->cap, "%g", (double)s->rope_theta);
        return true;
    }
    if (IS(rope_dims)) OUT_INT(s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim);
    if (IS(rope_pairs)) OUT_INT((s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim) / 2);
    if (IS(rope_scaling)) {
        static const char *N[] = {"none", "linear", "dynamic (NTK)", "llama3", "yarn"};
        if (s->pos != POS_ROPE) OUT_STR(zh ? "\xe6\x97\xa0" : "none");
        OUT_STR((unsigned)s->rope_scaling < 5 ? N[s->rope_scaling] : "?");
    }
    if (IS(rope_factor)) OUT_NUM(s->rope_scaling == ROPE_SCALE_NONE ? 1.0 : (double)s->rope_factor);
    if (IS(rope_orig_context)) OUT_INT(s->rope_orig_max_pos > 0 ? s->rope_orig_max_pos : s->max_pos);
    if (IS(rope_mid_wl)) {
        double w;
        if (!lv_rope_mid_wavelength(s, s->max_pos, &w)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        lv_fmt_int(llround(w), c->out, c->cap);
        return true;
    }
    if (!strncmp(k, "rope.wl_", 8) || !strncmp(k, "rope.fast_", 10) || !strncmp(k, "rope.mid_", 9)) {
        const char *kind = strchr(k + 5, '_') + 1;
        double f = strtod(c->ph->arg, NULL);
        if (!(f >= 1 && f <= 1024)) return err_set(c->e, ERR_ARG, "{%s:%s}: the factor must be in [1, 1024]", k, c->ph->arg);
        ModelSpec t = *s;
        t.rope_factor = (float)f;
        t.rope_orig_max_pos = s->max_pos;
        t.rope_attn_factor = 0;
        t.yarn_mscale = t.yarn_mscale_all_dim = 0;
        t.yarn_truncate = true;
        if (!strcmp(kind, "linear")) t.rope_scaling = ROPE_SCALE_LINEAR;
        else if (!strcmp(kind, "ntk")) t.rope_scaling = ROPE_SCALE_DYNAMIC;
        else if (!strcmp(kind, "ntk_aware")) {
            /* NTK-aware scaling (bloc97 2023; YaRN paper, Peng et al. 2023, eq. 3.1):
             * a fixed base b' = b * s^(d/(d-2)), whatever the sequence length */
            int dim = s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim;
            if (dim < 4) return err_set(c->e, ERR_ARG, "%s: too few rotary dims for NTK-aware scaling", m->path);
            t.rope_scaling = ROPE_SCALE_NONE;
            t.rope_theta = (float)((double)s->rope_theta * pow(f, (double)dim / (dim - 2)));
        }
        else if (!strcmp(kind, "llama3")) { t.rope_scaling = ROPE_SCALE_LLAMA3; t.rope_low_freq_factor = 1; t.rope_high_freq_factor = 4; }
        else { t.rope_scaling = ROPE_SCALE_YARN; t.yarn_beta_fast = 32; t.yarn_beta_slow = 1; }
        double fmin, fmax;
        int L = (int)lv_fmin_d(f * s->max_pos, 1e9);
        if (!strncmp(k, "rope.mid_", 9)) {
            double w;
            if (!lv_rope_mid_wavelength(&t, L, &w)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
            lv_fmt_int(llround(w), c->out, c->cap);
            return true;
        }
        if (!lv_rope_freqs(&t, L, true, &fmin, &fmax, NULL)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        if (!strncmp(k, "rope.fast_", 10)) OUT_NUM(2 * M_PI / fmax);
        lv_fmt_int(llround(2 * M_PI / fmin), c->out, c->cap);
        return true;
    }
    if (IS(rope_wavelength_min) || IS(rope_wavelength_max) || IS(rope_wavelength_max_unscaled) || IS(rope_attn_factor) ||
        IS(rope_slowest_turns) || IS(rope_slowest_turns_unscaled)) {
        int L = s->max_pos;
        if ((IS(rope_wavelength_min) || IS(rope_wavelength_max)) && c->ph->arg[0]) L = (int)lv_arg_int(c->ph->arg);
        if (L < 1) return err_set(c->e, ERR_ARG, "sequence length must be >= 1");
        bool scaled = !strstr(k, "unscaled");
        double fmin, fmax;
        float af = 1;
        if (!lv_rope_freqs(s, L, scaled, &fmin, &fmax, &af)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        if (IS(rope_attn_factor)) OUT_NUM(af);
        if (IS(rope_wavelength_min)) OUT_NUM(2 * M_PI / fmax);
        if (strstr(k, "wavelength_max")) { lv_fmt_int(llround(2 * M_PI / fmin), c->out, c->cap); return true; }
        double n = (double)lv_arg_int(c->ph->arg);
        OUT_NUM(n * fmin / (2 * M_PI));
    }

    /* KV cache formulas */
    if (!strncmp(k, "kv.", 3)) {
        KvVariant var[KVA_COUNT];
        kv_variants(s, var);
        long long per_layer = (long long)spec_kv_elems_per_token_layer(s);
        long long eb = (long long)dtype_size(s->dtype);
        if (IS(kv_elems_layer)) OUT_INT(per_layer);
        if (IS(kv_elems)) OUT_INT(per_layer * s->n_layers);
        if (IS(kv_dtype_bytes)) OUT_INT(eb);
        if (IS(kv_bytes_per_token)) OUT_INT(per_layer * s->n_layers * eb);
        if (IS(kv_bytes_per_token_h)) { lv_fmt_bytes((double)(per_layer * s->n_layers * eb), c->out, c->cap); return true; }
        if (IS(kv_bytes_at)) {
            long n = c->ph->arg[0] ? lv_arg_int(c->ph->arg) : s->max_pos;
            lv_fmt_bytes(kv_bytes(per_layer, s->n_layers, n, (int)eb), c->out, c->cap);
            return true;
        }
        if (IS(kv_formula)) {
            for (int i = 0; i < KVA_COUNT; i++) if (var[i].actual) OUT_STR(var[i].formula);
            OUT_STR("?");
        }
        static const PhId AS[KVA_COUNT] = {PH_kv_as_mha, PH_kv_as_gqa, PH_kv_as_mqa, PH_kv_as_mla};
        static const PhId FORMULA[KVA_COUNT] = {PH_kv_formula_mha, PH_kv_formula_gqa, PH_kv_formula_mqa, PH_kv_formula_mla};
        for (int i = 0; i < KVA_COUNT; i++) {
            if (c->sp->id == AS[i]) OUT_INT(var[i].elems);
            if (c->sp->id == FORMULA[i]) OUT_STR(var[i].formula);
        }
        if (IS(kv_mha_bytes_per_token)) OUT_INT(var[KVA_MHA].elems * s->n_layers * eb);
        if (IS(kv_saving_vs_mha)) {
            lv_put(c->out, c->cap, "%.1f", per_layer ? (double)var[KVA_MHA].elems / (double)per_layer : 0.0);
            return true;
        }
        if (IS(kv_no_cache_tokens)) {
            long long n = lv_arg_int(c->ph->arg);
            if (n < 1) return err_set(c->e, ERR_ARG, "{kv.no_cache_tokens:N} needs N >= 1");
            OUT_INT(n * (n + 1) / 2);
        }
    }
    if (IS(attn_scale)) OUT_NUM(s->softmax_scale > 0 ? s->softmax_scale : 1.0 / sqrt((double)s->head_dim));
    if (IS(attn_total_heads)) OUT_INT(s->n_layers * s->n_heads);
    if (IS(pos_learned)) OUT_STR(lv_yesno(s->pos == POS_LEARNED, zh));
    if (IS(pos_random_cos)) OUT_NUM(sqrt(2.0 / (M_PI * s->d_model)));
    return err_set(c->e, ERR_ARG, "{%s} is not computed from the config", k);
}

/* The Embeddings panel's texts view, as the panel computes it (derived_similarity). */
static bool v_sim(VC *c, const char *k, Session *s) {
    const Scene *sc = c->v->sc;
    if (!sc || sc->view.texts.n < 1) return err_set(c->e, ERR_ARG, "{%s}: no texts to compare (a \"texts\" action first)", k);
    const SimTexts *tx = &sc->view.texts;
    const int n = tx->n, L = c->m->spec.n_layers;
    int layer = sc->view.emb_layer < 0 ? 0 : sc->view.emb_layer > L ? L : sc->view.emb_layer;
    bool zero = IS(sim_cos0) || IS(sim_rank0) || IS(sim_top0);
    if (zero) layer = 0;
    double mat[SIM_TEXTS_MAX * SIM_TEXTS_MAX];
    if (!derived_similarity(&c->v->dc, s, tx, layer, sc->view.emb_pool == POOL_LAST ? POOL_LAST : POOL_MEAN, mat, NULL, c->e)) return false;
    int q = sc->view.emb_query >= 0 && sc->view.emb_query < n ? sc->view.emb_query : 0;
    if (IS(sim_query)) {
        if (c->v->zh) lv_put(c->out, c->cap, "\xe2\x80\x9c%s\xe2\x80\x9d", tx->text[q]);
        else lv_put(c->out, c->cap, "\"%s\"", tx->text[q]);
        return true;
    }
    if (IS(sim_cos) || IS(sim_cos0)) {
        int i = 0, j = 0;
        if (sscanf(c->ph->arg, "%d,%d", &i, &j) != 2 || i < 1 || j < 1 || i > n || j > n)
            return err_set(c->e, ERR_ARG, "{%s:%s}: texts are numbered 1..%d", k, c->ph->arg, n);
        OUT_NUM(mat[(i - 1) * n + (j - 1)]);
    }
    if (n < 2) return err_set(c->e, ERR_ARG, "{%s}: a ranking needs two texts or more", k);
    int order[SIM_TEXTS_MAX];
    derived_similarity_rank(mat, n, q, order);
    if (IS(sim_top) || IS(sim_top0)) {
        if (c->v->zh) lv_put(c->out, c->cap, "\xe2\x80\x9c%s\xe2\x80\x9d", tx->text[order[0]]);
        else lv_put(c->out, c->cap, "\"%s\"", tx->text[order[0]]);
        return true;
    }
    long t = lv_arg_int(c->ph->arg);
    if (t < 1 || t > n || t - 1 == q) return err_set(c->e, ERR_ARG, "{%s:%s}: a text 1..%d other than the query (%d)", k, c->ph->arg, n, q + 1);
    for (int r = 0; r < n - 1; r++) if (order[r] == t - 1) OUT_INT(r + 1);
    return err_set(c->e, ERR_ARG, "{%s}: text %ld not ranked", k, t);
}

bool v_session(VC *c) {
    const char *k = c->ph->key;
    Session *s = c->s;
    if (!strncmp(k, "sim.", 4)) return v_sim(c, k, s);
    if (IS(embed_layer)) {
        int L = c->m->spec.n_layers, l = c->v->sc ? c->v->sc->view.emb_layer : 0;
        OUT_INT(l < 0 ? 0 : l > L ? L : l);
    }
    if (IS(kv_engine_bytes_per_token)) OUT_INT(engine_kv_bytes_per_token(session_engine(s)));
    if (IS(prompt_text)) OUT_STR(session_prompt(s));
    if (IS(prompt_tokens)) OUT_INT(session_n_prompt(s));
    if (IS(prompt_chars)) OUT_INT(strlen(session_prompt(s)));
    if (IS(attn_layer)) OUT_INT(c->layer);
    if (IS(attn_head)) OUT_INT(c->head);
    if (IS(attn_kv_head)) {
        int kvh = c->sp_m->attn_kind == ATTN_MLA ? c->head : c->head / (c->sp_m->n_heads / (c->sp_m->n_kv_heads ? c->sp_m->n_kv_heads : 1));
        OUT_INT(kvh);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a session value", k);
}
