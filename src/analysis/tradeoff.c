/* Quality against KV-cache memory: family.json and config-only models (see tradeoff.h). */
#include "core/path.h"
#include "analysis/tradeoff.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/kvcalc.h"

/* The real models placed on the memory axis: the published config.json of each is bundled
 * under assets/configs/<dir>/ (docs/lessons.md, "Bundled configs", names the sources). */
static const struct { const char *dir, *name; } CONFIGS[] = {
    {"llama-3-8b", "Llama-3-8B"}, {"qwen3-8b", "Qwen3-8B"}, {"deepseek-v3", "DeepSeek-V3"}};

double tradeoff_kv_bytes(const ModelSpec *sp) { return kv_bytes_bits(kv_elems_actual(sp), sp->n_layers, 1, 16); }

static void copy_str(char *dst, size_t cap, const cJSON *o, const char *k) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    snprintf(dst, cap, "%s", s ? s : "");
}

static bool get_num(const cJSON *o, const char *k, double *x) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsNumber(v)) return false;
    *x = v->valuedouble;
    return true;
}

static bool get_pair(const cJSON *o, const char *k, double *a, double *b) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2) return false;
    const cJSON *x = cJSON_GetArrayItem(v, 0), *y = cJSON_GetArrayItem(v, 1);
    if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y)) return false;
    *a = x->valuedouble;
    *b = y->valuedouble;
    return true;
}

static void load_config(TradeoffConfig *c, const char *configs_dir) {
    char dir[1200], path[1300];
    path_join(dir, sizeof dir, configs_dir, c->dir);
    path_join(path, sizeof path, dir, "config.json");
    c->kv_bytes = NAN;
    size_t len;
    Err e = {0};
    char *txt = file_read_all(path, &len, 1u << 20, &e);
    if (!txt) { snprintf(c->err, sizeof c->err, "%s", e.msg); return; }
    ModelSpec sp;
    memset(&sp, 0, sizeof sp);
    bool ok = config_parse(txt, len, path, &sp, &e);
    free(txt);
    if (!ok) { snprintf(c->err, sizeof c->err, "%s", e.msg); return; }
    c->kv_bytes = tradeoff_kv_bytes(&sp);
    c->n_layers = sp.n_layers;
    snprintf(c->attention, sizeof c->attention, "%s", attn_kind_name(sp.attn_kind));
}

bool tradeoff_parse(const char *json, size_t len, const char *path, const char *configs_dir, Tradeoff *t, Err *e) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j) return err_set(e, ERR_FORMAT, "%s is not valid JSON (near byte %ld); it is written by assets/models/train/train.py",
                           path, (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
    const cJSON *ev = cJSON_GetObjectItem(j, "eval"), *vars = cJSON_GetObjectItem(j, "variants");
    double x;
    copy_str(t->eval_text, sizeof t->eval_text, ev, "text");
    if (get_num(ev, "tokens", &x)) t->eval_tokens = (long long)x;
    if (get_num(ev, "bytes", &x)) t->eval_bytes = (long long)x;
    if (!cJSON_IsArray(vars) || cJSON_GetArraySize(vars) == 0) {
        cJSON_Delete(j);
        return err_set(e, ERR_FORMAT, "%s: \"variants\" is missing or empty", path);
    }
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, vars) {
        if (t->n >= TRADEOFF_MAX_VARIANTS) break;
        TradeoffVariant *v = &t->v[t->n];
        copy_str(v->name, sizeof v->name, it, "name");
        copy_str(v->label, sizeof v->label, it, "label");
        copy_str(v->label_zh, sizeof v->label_zh, it, "label_zh");
        copy_str(v->attention, sizeof v->attention, it, "attention");
        copy_str(v->arch, sizeof v->arch, it, "arch");
        copy_str(v->bundled, sizeof v->bundled, it, "bundled");
        const char *miss = !v->name[0] ? "name" : !v->attention[0] ? "attention"
                         : !get_num(it, "kv_bytes_per_token", &v->kv_bytes) ? "kv_bytes_per_token"
                         : !get_num(it, "bits_per_byte_mean", &v->bpb) ? "bits_per_byte_mean"
                         : !get_pair(it, "ci95", &v->lo, &v->hi) ? "ci95" : NULL;
        if (miss) {
            cJSON_Delete(j);
            return err_set(e, ERR_FORMAT, "%s: variants[%d]%s%s: field \"%s\" is missing or not %s", path, i, v->name[0] ? " " : "",
                           v->name, miss, !strcmp(miss, "ci95") ? "[lo, hi]" : strcmp(miss, "name") && strcmp(miss, "attention") ? "a number" : "a string");
        }
        if (!(v->kv_bytes > 0) || !(v->lo <= v->bpb && v->bpb <= v->hi)) {
            cJSON_Delete(j);
            return err_set(e, ERR_FORMAT, "%s: variants[%d] %s: kv_bytes_per_token must be > 0 and ci95 must hold the mean (%g in [%g, %g])",
                           path, i, v->name, v->bpb, v->lo, v->hi);
        }
        if (!get_pair(it, "ci95_stories", &v->story_lo, &v->story_hi)) v->story_lo = v->story_hi = NAN;
        if (get_num(it, "kv_heads", &x)) v->kv_heads = (int)x;
        if (get_num(it, "kv_latent", &x)) v->kv_latent = (int)x;
        if (get_num(it, "ffn", &x)) v->ffn = (int)x;
        if (get_num(it, "params", &x)) v->params = (long long)x;
        v->n_seeds = cJSON_GetArraySize(cJSON_GetObjectItem(it, "seeds"));
        if (!t->n) t->n_seeds = v->n_seeds;
        t->n++;
        i++;
    }
    cJSON_Delete(j);
    if (configs_dir)
        for (size_t k = 0; k < sizeof CONFIGS / sizeof CONFIGS[0] && t->n_cfg < TRADEOFF_MAX_CONFIGS; k++) {
            TradeoffConfig *c = &t->cfg[t->n_cfg++];
            snprintf(c->dir, sizeof c->dir, "%s", CONFIGS[k].dir);
            snprintf(c->name, sizeof c->name, "%s", CONFIGS[k].name);
            load_config(c, configs_dir);
        }
    tradeoff_pareto(t);
    return true;
}

bool tradeoff_load(const char *path, const char *configs_dir, Tradeoff *t, Err *e) {
    size_t len;
    char *txt = file_read_all(path, &len, 16u << 20, e);
    if (!txt) { memset(t, 0, sizeof *t); return false; }
    bool ok = tradeoff_parse(txt, len, path, configs_dir, t, e);
    free(txt);
    return ok;
}

/* dirname of p (without a trailing slash) into out; "." when p has no slash */
static void parent_dir(const char *p, char *out, size_t cap) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", p ? p : "");
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    char *s = strrchr(tmp, '/');
    if (!s) snprintf(out, cap, ".");
    else if (s == tmp) snprintf(out, cap, "/");
    else { *s = 0; snprintf(out, cap, "%s", tmp); }
}

bool tradeoff_find(const char *model_path, char *out, size_t cap, char *configs, size_t ccap) {
    char dir[1024], cand[1100], first[1100] = "";
    const char *bases[2] = {NULL, "assets/models"};
    if (model_path && model_path[0]) { parent_dir(model_path, dir, sizeof dir); bases[0] = dir; }
    for (int i = 0; i < 2; i++) {
        if (!bases[i]) continue;
        path_join(cand, sizeof cand, bases[i], "family.json");
        if (!first[0]) snprintf(first, sizeof first, "%s", cand);
        if (file_exists(cand)) {
            snprintf(out, cap, "%s", cand);
            char up[1100];
            path_join(up, sizeof up, bases[i], "../configs");
            snprintf(configs, ccap, "%s", up);
            return true;
        }
    }
    snprintf(out, cap, "%s", first);
    if (ccap) configs[0] = 0;
    return false;
}

void tradeoff_pareto(Tradeoff *t) {
    for (int i = 0; i < t->n; i++) {
        bool dominated = false;
        for (int k = 0; k < t->n && !dominated; k++) {
            if (k == i) continue;
            const TradeoffVariant *a = &t->v[k], *b = &t->v[i];
            if (a->kv_bytes <= b->kv_bytes && a->bpb <= b->bpb && (a->kv_bytes < b->kv_bytes || a->bpb < b->bpb)) dominated = true;
        }
        t->v[i].pareto = !dominated;
    }
}


int tradeoff_match(const Tradeoff *t, const char *model_path, const ModelSpec *sp) {
    char nm[256];
    path_base_name(model_path, false, nm, sizeof nm);
    for (int i = 0; i < t->n; i++)
        if (t->v[i].bundled[0] && !strcmp(t->v[i].bundled, nm)) return i;
    if (!sp) return -1;
    const double kvb = tradeoff_kv_bytes(sp);
    const bool moe = sp->n_experts > 0, learned = sp->pos == POS_LEARNED;
    for (int i = 0; i < t->n; i++) {
        const TradeoffVariant *v = &t->v[i];
        if (strcmp(v->attention, attn_kind_name(sp->attn_kind)) || fabs(v->kv_bytes - kvb) > 0.5) continue;
        if (sp->attn_kind == ATTN_MLA ? v->kv_latent != sp->kv_lora_rank : v->kv_heads != sp->n_kv_heads) continue;
        if ((!strcmp(v->arch, "moe")) != moe || (!strcmp(v->arch, "gpt2")) != learned) continue;
        if (!moe && v->ffn > 0 && v->ffn != sp->d_ff) continue;
        return i;
    }
    return -1;
}
