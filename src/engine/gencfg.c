/* The sampler settings of a decode: the model's defaults, field by field overridden by the
 * caller's options (transformers' generate(**kwargs) updates a copy of the model's
 * generation_config with the fields passed and keeps the rest). */
#include "engine/gencfg.h"
#include <stdio.h>
#include <string.h>
#include "core/i18n.h"

static const char k_default[] = "transformers' default";

/* Where field f of the model's defaults comes from. */
static const char *gen_src(const GenDefaults *g, GenField f) {
    if (g->source == GEN_SRC_GGUF && f == GEN_DO_SAMPLE) return g->file;   /* the keys' presence says sample */
    return g->given[f] ? g->file : k_default;
}

static const char *nm(const char *name, const char *dflt) { return name ? name : dflt; }

/* The bad fields a choice needs, gathered so that one message names them all. */
typedef struct { int n; GenField f[GEN_NFIELDS]; const char *opt[GEN_NFIELDS]; } GenNeed;

static void need_add(GenNeed *nd, const GenDefaults *g, GenField f, const char *opt) {
    if (g->bad[f][0]) { nd->f[nd->n] = f; nd->opt[nd->n] = opt; nd->n++; }
}

/* One bad field: "<what>; fix the file, or give --top-k to replace it". Several: a line saying how
 * many, then one line each, "  <what>; --top-k replaces it". */
static bool need_fail(const GenNeed *nd, const GenDefaults *g, Err *e) {
    if (nd->n == 1) return err_set(e, ERR_FORMAT, "%s; fix the file, or give %s to replace it", g->bad[nd->f[0]], nd->opt[0]);
    char msg[sizeof e->msg];
    size_t k = (size_t)snprintf(msg, sizeof msg, "%d sampling fields of %s are wrong; fix the file, or give the options named:",
                                nd->n, g->file);
    for (int i = 0; i < nd->n && k < sizeof msg; i++)
        k += (size_t)snprintf(msg + k, sizeof msg - k, "\n  %s; %s replaces it", g->bad[nd->f[i]], nd->opt[i]);
    return err_set(e, ERR_FORMAT, "%s", msg);
}

/* What a greedy choice's sampling fields hold: the values sampling would take (an option, else the
 * model's field when it is fine, else transformers' default), so a UI that turns greedy off starts
 * from them; greedy decoding reads none of them. */
static void fill_sampling(const GenDefaults *g, const GenOverride *o, SamplerCfg *c) {
    c->temperature = o->has_temp && o->temperature > 0 ? o->temperature
                     : !g->bad[GEN_TEMPERATURE][0] && g->temperature > 0 ? g->temperature : 1.0f;
    c->top_k = o->has_top_k ? o->top_k : !g->bad[GEN_TOP_K][0] ? g->top_k : 50;
    c->top_p = o->has_top_p ? o->top_p : !g->bad[GEN_TOP_P][0] ? g->top_p : 1.0f;
}

bool gen_choose(const ModelSpec *s, const GenOverride *o, GenChoice *out, Err *e) {
    const GenDefaults *g = &s->gen;
    memset(out, 0, sizeof *out);
    SamplerCfg *c = &out->cfg;
    c->seed = o->seed;
    fill_sampling(g, o, c);
    const char *tn = nm(o->temp_name, "--temp"), *kn = nm(o->top_k_name, "--top-k"), *pn = nm(o->top_p_name, "--top-p");
    if (o->greedy || (o->has_temp && o->temperature == 0)) {
        c->greedy = true;
        out->src_mode = o->greedy ? nm(o->greedy_name, "--greedy") : tn;
        out->by_temp = !o->greedy;
        return true;
    }
    GenNeed nd = {0};
    char any[96];
    snprintf(any, sizeof any, "--greedy or a sampling option (%s, %s, %s)", tn, kn, pn);
    bool user_sample = o->has_temp || o->has_top_k || o->has_top_p;
    if (user_sample) out->src_mode = o->has_temp ? tn : o->has_top_k ? kn : pn;
    else if (g->bad[GEN_DO_SAMPLE][0]) need_add(&nd, g, GEN_DO_SAMPLE, any);   /* with the fields sampling would need */
    else {
        out->src_mode = gen_src(g, GEN_DO_SAMPLE);
        if (!g->do_sample) { c->greedy = true; return true; }
    }
    /* a GGUF file's temperature 0 is greedy (llama.cpp's temperature sampler keeps the top token
     * alone at 0): nothing else is needed. generation_config.json's 0 is a field sampling cannot
     * use (model/gendefaults.c: transformers refuses it), so it never gets here */
    if (!o->has_temp && !g->bad[GEN_TEMPERATURE][0] && g->temperature == 0 && !nd.n) {
        c->greedy = true;
        out->by_temp = true;
        out->src_mode = gen_src(g, GEN_TEMPERATURE);
        return true;
    }
    if (!o->has_temp) need_add(&nd, g, GEN_TEMPERATURE, tn);
    if (!o->has_top_k) need_add(&nd, g, GEN_TOP_K, kn);
    if (!o->has_top_p) need_add(&nd, g, GEN_TOP_P, pn);
    if (nd.n) return need_fail(&nd, g, e);
    if (o->has_temp) { c->temperature = o->temperature; out->src_temp = tn; }
    else { c->temperature = g->temperature; out->src_temp = gen_src(g, GEN_TEMPERATURE); }
    if (o->has_top_k) { c->top_k = o->top_k; out->src_top_k = kn; }
    else { c->top_k = g->top_k; out->src_top_k = gen_src(g, GEN_TOP_K); }
    if (o->has_top_p) { c->top_p = o->top_p; out->src_top_p = pn; }
    else { c->top_p = g->top_p; out->src_top_p = gen_src(g, GEN_TOP_P); }
    out->merged = user_sample && !(o->has_temp && o->has_top_k && o->has_top_p);
    return true;
}

/* A field's source as the user reads it: a file name as it is, transformers' default in the
 * UI's language (core/i18n.h: English unless the UI chose Chinese, as the commands do). */
static const char *src_name(const char *s) { return !s || s == k_default || !strcmp(s, k_default) ? tr("transformers' default") : s; }

void gen_describe(const GenChoice *c, bool with_seed, char *out, size_t cap) {
    if (!cap) return;
    if (c->cfg.greedy) {
        const char *m = c->src_mode ? c->src_mode : k_default;
        if (!strncmp(m, "--", 2)) snprintf(out, cap, tr("greedy (%s%s)"), m, c->by_temp ? " 0" : "");
        else snprintf(out, cap, tr("greedy (%s: %s)"), src_name(m), c->by_temp ? "temperature 0" : "do_sample false");
        return;
    }
    char v[3][64];
    snprintf(v[0], sizeof v[0], tr("temperature %g"), (double)c->cfg.temperature);
    if (c->cfg.top_k > 0) snprintf(v[1], sizeof v[1], "top_k %d", c->cfg.top_k);
    else snprintf(v[1], sizeof v[1], "%s", tr("no top_k"));
    snprintf(v[2], sizeof v[2], "top_p %g", (double)c->cfg.top_p);
    const char *src[3] = {c->src_temp, c->src_top_k, c->src_top_p};
    size_t k = (size_t)snprintf(out, cap, "%s", tr("sampling with "));
    for (int i = 0; i < 3 && k < cap; i++) {
        bool same_next = i < 2 && src[i] && src[i + 1] && !strcmp(src[i], src[i + 1]);
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? tr(", ") : "", v[i]);
        if (!same_next && k < cap) k += (size_t)snprintf(out + k, cap - k, tr(" (%s)"), src_name(src[i]));
    }
    if (with_seed && k < cap) snprintf(out + k, cap - k, tr(", seed %llu"), (unsigned long long)c->cfg.seed);
}

SamplerCfg gen_override_cfg(SamplerCfg base, const GenOverride *o) {
    SamplerCfg c = base;
    if (o->has_seed) c.seed = o->seed;
    if (o->has_temp && o->temperature > 0) c.temperature = o->temperature;
    if (o->has_top_k) c.top_k = o->top_k;
    if (o->has_top_p) c.top_p = o->top_p;
    if (o->greedy || (o->has_temp && o->temperature == 0)) c.greedy = true;
    else if (o->has_temp || o->has_top_k || o->has_top_p) c.greedy = false;
    return c;
}
