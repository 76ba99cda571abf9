/* Live values for lesson templates: every number a lesson quotes is computed here from the
 * session (its trace, selection and model) or from a reference model's config, never typed
 * into the lesson. The table of names is placeholders.c; docs/lessons.md explains each. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/kvcalc.h"
#include "analysis/logitlens.h"
#include "analysis/pca.h"
#include "analysis/stats.h"
#include "engine/ops.h"
#include "engine/rope.h"
#include "lesson/lesson.h"
#include "scene/scene.h"
#include "session/session.h"
#include "tokenizer/tokenizer.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void lesson_values_init(LessonValues *v, const Lesson *l, const char *root) {
    memset(v, 0, sizeof *v);
    v->lesson = l;
    snprintf(v->root, sizeof v->root, "%s", root ? root : ".");
    v->zh = l && l->lang && !strcmp(l->lang, "zh");
}

void lesson_values_done(LessonValues *v) {
    for (int i = 0; i < LESSON_MAX_REFS; i++) model_free(v->ref_model[i]);
    memset(v->ref_model, 0, sizeof v->ref_model);
    memset(v->ref_tried, 0, sizeof v->ref_tried);
    v->n_eval = 0;
}

/* ---- formatting ------------------------------------------------------------------------- */

static void put(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* 1234567 -> "1,234,567" (separators from 1,000 up). */
static void fmt_int(long long x, char *out, size_t cap) {
    char digits[32];
    unsigned long long u = x < 0 ? (unsigned long long)(-(x + 1)) + 1 : (unsigned long long)x;
    snprintf(digits, sizeof digits, "%llu", u);
    char buf[48];
    size_t n = strlen(digits), k = 0;
    if (x < 0) buf[k++] = '-';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
    snprintf(out, cap, "%s", buf);
}

/* 2054592 -> "2.05M", 8030261248 -> "8.03B". */
static void fmt_short(double x, char *out, size_t cap) {
    static const char *U[] = {"", "K", "M", "B", "T"};
    int u = 0;
    while (fabs(x) >= 1000 && u < 4) { x /= 1000; u++; }
    if (!u) put(out, cap, "%.0f", x);
    else put(out, cap, "%.*f%s", fabs(x) < 10 ? 2 : fabs(x) < 100 ? 1 : 0, x, U[u]);
}

/* Fixed decimals chosen by magnitude: 3 significant digits, no exponent in ordinary ranges. */
static void fmt_num(double x, char *out, size_t cap) {
    double a = fabs(x);
    if (!isfinite(x)) put(out, cap, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    else if (a == 0) put(out, cap, "0");
    else if (a >= 1e7 || a < 1e-4) put(out, cap, "%.3g", x);
    else if (a >= 100) put(out, cap, "%.0f", x);
    else if (a >= 10) put(out, cap, "%.1f", x);
    else if (a >= 1) put(out, cap, "%.2f", x);
    else if (a >= 0.01) put(out, cap, "%.3f", x);
    else put(out, cap, "%.4f", x);
}

/* p in [0,1] -> "31.2%" */
static void fmt_pct(double p, char *out, size_t cap) {
    double x = p * 100.0;
    if (x >= 99.95 || x == 0) put(out, cap, "%.0f%%", x);
    else if (x >= 0.1) put(out, cap, "%.1f%%", x);
    else if (x >= 0.001) put(out, cap, "%.3f%%", x);
    else put(out, cap, "%.2g%%", x);
}

static void fmt_bytes(double b, char *out, size_t cap) {
    char buf[64];
    kv_fmt_bytes(b, buf, (int)sizeof buf);
    snprintf(out, cap, "%s", buf);
}

/* Token text made readable inside prose: quotes around it, spaces and newlines visible. */
static void fmt_tok(const Session *s, int id, char *out, size_t cap, bool zh) {
    char raw[128], vis[160];
    session_token_text(s, id, raw, sizeof raw);
    size_t k = 0;
    for (const char *p = raw; *p && k + 4 < sizeof vis; p++) {
        if (*p == '\n') { vis[k++] = '\\'; vis[k++] = 'n'; }
        else if (*p == '\t') { vis[k++] = '\\'; vis[k++] = 't'; }
        else vis[k++] = *p;
    }
    vis[k] = 0;
    if (zh) put(out, cap, "\xe2\x80\x9c%s\xe2\x80\x9d", vis);   /* “ ” */
    else put(out, cap, "\"%s\"", vis);
}

static const char *yesno(bool b, bool zh) { return zh ? (b ? "\xe6\x98\xaf" : "\xe5\x90\xa6") : (b ? "yes" : "no"); }

/* ---- the config: parameter count -------------------------------------------------------- */

static bool layer_is_moe_spec(const ModelSpec *s, int l) {
    if (!s->n_experts) return false;
    if (s->family == ARCH_DEEPSEEK) return l >= s->first_k_dense_replace && l % (s->moe_layer_freq ? s->moe_layer_freq : 1) == 0;
    if (!strcmp(s->model_type, "qwen3_moe")) return (l + 1) % (s->moe_layer_freq ? s->moe_layer_freq : 1) == 0 && !(l < 1024 && s->mlp_only[l]);
    return true;
}

long long lesson_spec_params(const Model *m, long long *active) {
    const ModelSpec *s = &m->spec;
    const long long d = s->d_model, V = s->vocab_size, H = s->n_heads, KV = s->n_kv_heads, hd = s->head_dim;
    const long long norm = s->norm == NORM_LAYERNORM ? 2 * d : d;
    long long total = V * d, act = V * d;
    if (!s->tied_embeddings) { total += V * d; act += V * d; }
    if (s->pos == POS_LEARNED) { total += (long long)s->max_pos * d; act += (long long)s->max_pos * d; }
    total += norm; act += norm;                           /* final norm */
    for (int l = 0; l < s->n_layers; l++) {
        long long a = 2 * norm;                           /* ln1, ln2 */
        if (s->attn_kind == ATTN_MLA) {
            const long long qk = s->qk_nope_head_dim + s->qk_rope_head_dim, r = s->kv_lora_rank;
            if (s->q_lora_rank > 0) a += d * s->q_lora_rank + s->q_lora_rank + (long long)s->q_lora_rank * H * qk;
            else a += d * H * qk;
            a += d * (r + s->qk_rope_head_dim) + r + r * H * (s->qk_nope_head_dim + s->v_head_dim);
            a += H * s->v_head_dim * d;
        } else {
            a += d * H * hd + 2 * d * KV * hd + H * hd * d;
            if (s->qkv_bias) a += H * hd + 2 * KV * hd;
            if (s->o_bias) a += d;
            if (s->qk_norm) a += 2 * hd;
        }
        long long ffn_total, ffn_act;
        if (layer_is_moe_spec(s, l)) {
            const long long I = s->moe_d_ff, E = s->n_experts, k = s->n_experts_per_tok;
            long long router = E * d + (s->has_score_bias ? E : 0);
            long long shared = (long long)s->n_shared_experts * 3 * d * I;
            ffn_total = router + shared + E * 3 * d * I;
            ffn_act = router + shared + k * 3 * d * I;
        } else {
            const long long F = s->d_ff;
            ffn_total = (s->gated_ffn ? 3 : 2) * d * F;
            if (s->mlp_bias || s->family == ARCH_GPT2) ffn_total += (s->gated_ffn ? 2 * F : F) + d;
            ffn_act = ffn_total;
        }
        total += a + ffn_total;
        act += a + ffn_act;
    }
    if (active) *active = act;
    return total;
}

/* ---- resolving what a placeholder reads ------------------------------------------------- */

typedef struct {
    LessonValues *v;
    const LessonPh *ph;
    const PhSpec *sp;
    Session *s;            /* NULL for refs */
    const Model *m;
    const ModelSpec *sp_m;
    const TraceTok *t;     /* token at the cursor (PHN_TOKEN) */
    const TraceDims *dims;
    int layer, head, cursor, key;   /* the scene's selection as seen from this side */
    char *out;
    size_t cap;
    Err *e;
} VC;

static Model *ref_model(LessonValues *v, const char *name, Err *e) {
    const Lesson *l = v->lesson;
    int k = -1;
    for (int i = 0; l && i < l->n_refs; i++) if (!strcmp(l->refs[i].name, name)) k = i;
    if (k < 0) { err_set(e, ERR_ARG, "ref \"%s\" is not declared in the lesson's refs", name); return NULL; }
    if (!v->ref_tried[k]) {
        v->ref_tried[k] = true;
        char path[2048];
        lesson_path(v->root, l->refs[k].path, path, sizeof path);
        Err e2 = {0};
        v->ref_model[k] = model_load(path, true, &e2);
        if (!v->ref_model[k]) snprintf(v->ref_err[k], sizeof v->ref_err[k], "ref %s (%s): %s", name, l->refs[k].path, e2.msg);
    }
    if (!v->ref_model[k]) { err_set(e, ERR_IO, "%s", v->ref_err[k]); return NULL; }
    return v->ref_model[k];
}

static long arg_int(const char *a) { return strtol(a, NULL, 10); }
static double fmin_d(double a, double b) { return a < b ? a : b; }

/* position argument: negative counts from the end of the computed tokens */
static bool arg_pos(VC *c, const char *a, int *pos) {
    long p = strtol(a, NULL, 10);
    int len = session_len(c->s);
    if (p < 0) p += len;
    if (p < 0 || p >= len) return err_set(c->e, ERR_ARG, "position %s is outside the %d computed tokens", a, len);
    *pos = (int)p;
    return true;
}

static const float *attn_row(const VC *c, const TraceTok *t, int pos, int layer, int head) {
    if (!t->attn) return NULL;
    return t->attn + ((size_t)layer * (size_t)c->dims->n_heads + (size_t)head) * (size_t)(pos + 1);
}

static int argmaxf(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

static bool need_layer_moe(VC *c) {
    if (!c->sp_m->n_experts || !c->m->w.layers || !c->m->w.layers[c->layer].is_moe || !c->t->expert_idx)
        return err_set(c->e, ERR_ARG, "layer %d of %s has no routed experts (a dense FFN)", c->layer, c->m->path);
    return true;
}

static bool rope_freqs(const ModelSpec *s, int seq_len, bool scaled, double *fmin, double *fmax, float *attn_factor) {
    if (s->pos != POS_ROPE) return false;
    int dim = s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim;
    if (dim < 2 || dim > 4096) return false;
    ModelSpec tmp = *s;
    if (tmp.attn_kind == ATTN_MLA) tmp.rotary_dim = dim;
    if (!scaled) tmp.rope_scaling = ROPE_SCALE_NONE;
    float inv[2048];
    float af = rope_inv_freq(&tmp, seq_len, inv);
    double lo = inv[0], hi = inv[0];
    for (int i = 1; i < dim / 2; i++) { if (inv[i] < lo) lo = inv[i]; if (inv[i] > hi) hi = inv[i]; }
    *fmin = lo;
    *fmax = hi;
    if (attn_factor) *attn_factor = af;
    return lo > 0;
}

/* Wavelength in tokens of the middle rotary pair (index dim/4), with the spec's scaling at
 * sequence length seq_len: the pair where linear and NTK-aware scaling differ most. */
static bool rope_mid_wavelength(const ModelSpec *s, int seq_len, double *wl) {
    if (s->pos != POS_ROPE) return false;
    int dim = s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim;
    if (dim < 2 || dim > 4096) return false;
    ModelSpec tmp = *s;
    if (tmp.attn_kind == ATTN_MLA) tmp.rotary_dim = dim;
    float inv[2048];
    rope_inv_freq(&tmp, seq_len, inv);
    double f = inv[dim / 4];
    if (!(f > 0)) return false;
    *wl = 2 * M_PI / f;
    return true;
}

/* Eval loss on assets/models/eval.txt, computed once per model path. */
static bool eval_loss(VC *c, double *loss, long *tokens) {
    LessonValues *v = c->v;
    const Model *m = c->m;
    for (int i = 0; i < v->n_eval; i++)
        if (!strcmp(v->eval[i].path, m->path)) {
            if (!v->eval[i].ok) return err_set(c->e, ERR_ARG, "%s", v->eval[i].err);
            *loss = v->eval[i].loss;
            *tokens = v->eval[i].tokens;
            return true;
        }
    int slot = v->n_eval < LESSON_EVAL_CACHE ? v->n_eval++ : LESSON_EVAL_CACHE - 1;
    snprintf(v->eval[slot].path, sizeof v->eval[slot].path, "%s", m->path);
    v->eval[slot].ok = false;
    Err e = {0};
    char txt_path[2048];
    lesson_path(v->root, "assets/models/eval.txt", txt_path, sizeof txt_path);
    size_t len = 0;
    char *text = NULL;
    Tokenizer *own_tok = NULL;
    const Tokenizer *tok = c->s ? c->s->tok : NULL;
    int *raw = NULL, *ids = NULL;
    Engine *en = NULL;
    bool ok = false;
    if (m->config_only) { err_set(&e, ERR_ARG, "%s has no weights (config only): no loss to measure", m->path); goto done; }
    text = file_read_all(txt_path, &len, 1u << 24, &e);
    if (!text) goto done;
    if (!tok) {
        own_tok = tokenizer_load_for_model(m->dir[0] ? m->dir : m->path, m->spec.vocab_size, &e);
        tok = own_tok;
        if (!tok) goto done;
    }
    int n = tokenizer_encode(tok, text, len, false, &raw, &e);
    if (n < 1) { if (!e.code) err_set(&e, ERR_ARG, "%s: no tokens", txt_path); goto done; }
    ids = malloc(sizeof(int) * (size_t)(n + 1));
    if (!ids) { err_set(&e, ERR_MEMORY, "out of memory"); goto done; }
    int N = 0, bos = m->spec.bos_id >= 0 ? m->spec.bos_id : tokenizer_bos_id(tok);
    if (bos >= 0) ids[N++] = bos;
    for (int i = 0; i < n; i++) ids[N++] = raw[i];
    en = engine_new((Model *)m, 0, &e);
    if (!en) goto done;
    const int V = m->spec.vocab_size, C = engine_max_ctx(en);
    double nll = 0;
    long scored = 0;
    /* windows of C tokens overlapping by one: every token after the first is scored once */
    for (int s0 = 0; s0 < N - 1; s0 += C - 1) {
        int w = N - s0 < C ? N - s0 : C;
        engine_truncate(en, 0);
        float *lg = engine_forward(en, ids + s0, w, true, &e);
        if (!lg) goto done;
        for (int t = 0; t < w - 1; t++) {
            const float *r = lg + (size_t)t * (size_t)V;
            float mx = r[0];
            for (int i = 1; i < V; i++) if (r[i] > mx) mx = r[i];
            double se = 0;
            for (int i = 0; i < V; i++) se += exp((double)(r[i] - mx));
            nll += (double)mx + log(se) - (double)r[ids[s0 + t + 1]];
            scored++;
        }
    }
    if (!scored) { err_set(&e, ERR_ARG, "%s: too little text", txt_path); goto done; }
    v->eval[slot].loss = nll / (double)scored;
    v->eval[slot].tokens = scored;
    ok = true;
done:
    engine_free(en);
    free(ids);
    free(raw);
    free(text);
    if (own_tok) tokenizer_free(own_tok);
    v->eval[slot].ok = ok;
    if (!ok) {
        snprintf(v->eval[slot].err, sizeof v->eval[slot].err, "eval loss of %s: %s", m->path, e.msg);
        return err_set(c->e, ERR_ARG, "%s", v->eval[slot].err);
    }
    *loss = v->eval[slot].loss;
    *tokens = v->eval[slot].tokens;
    return true;
}

/* ---- the values ---------------------------------------------------------------------------- */

#define IS(name) (!strcmp(k, name))
#define OUT_INT(x) do { fmt_int((long long)(x), c->out, c->cap); return true; } while (0)
#define OUT_NUM(x) do { fmt_num((double)(x), c->out, c->cap); return true; } while (0)
#define OUT_PCT(x) do { fmt_pct((double)(x), c->out, c->cap); return true; } while (0)
#define OUT_STR(x) do { snprintf(c->out, c->cap, "%s", (x)); return true; } while (0)

static bool spec_value(VC *c) {
    const char *k = c->ph->key;
    const ModelSpec *s = c->sp_m;
    const Model *m = c->m;
    bool zh = c->v->zh;
    if (IS("model.name")) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", m->path);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *b = strrchr(tmp, '/');
        OUT_STR(b ? b + 1 : tmp);
    }
    if (IS("model.type")) OUT_STR(s->model_type);
    if (IS("model.attention")) OUT_STR(attn_kind_name(s->attn_kind));
    if (IS("model.layers")) OUT_INT(s->n_layers);
    if (IS("model.d_model")) OUT_INT(s->d_model);
    if (IS("model.heads")) OUT_INT(s->n_heads);
    if (IS("model.kv_heads")) OUT_INT(s->attn_kind == ATTN_MLA ? s->n_heads : s->n_kv_heads);
    if (IS("model.q_per_kv")) OUT_INT(s->n_kv_heads > 0 ? s->n_heads / s->n_kv_heads : 0);
    if (IS("model.head_dim")) OUT_INT(s->attn_kind == ATTN_MLA ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim);
    if (IS("model.d_ff") || IS("ffn.width")) {
        if (IS("ffn.width") && m->w.layers && m->w.layers[c->layer].is_moe) OUT_INT(s->moe_d_ff);
        OUT_INT(s->d_ff);
    }
    if (IS("model.ffn_ratio")) OUT_NUM((double)s->d_ff / s->d_model);
    if (IS("model.vocab")) OUT_INT(s->vocab_size);
    if (IS("model.context")) OUT_INT(s->max_pos);
    if (IS("model.norm")) OUT_STR(s->norm == NORM_RMSNORM ? "RMSNorm" : "LayerNorm");
    if (IS("model.norm_eps")) { put(c->out, c->cap, "%g", (double)s->norm_eps); return true; }
    if (IS("model.act")) OUT_STR(s->act == ACT_SILU ? "SiLU" : s->act == ACT_RELU ? "ReLU" : "GELU");
    if (IS("model.ffn")) {
        if (s->gated_ffn) OUT_STR(s->act == ACT_SILU ? "SwiGLU" : s->act == ACT_RELU ? "ReGLU" : "GeGLU");
        OUT_STR(s->act == ACT_RELU ? "ReLU MLP" : s->act == ACT_SILU ? "SiLU MLP" : "GELU MLP");
    }
    if (IS("model.position")) OUT_STR(s->pos == POS_ROPE ? "RoPE" : (zh ? "\xe5\xad\xa6\xe4\xb9\xa0\xe5\xbc\x8f\xe4\xbd\x8d\xe7\xbd\xae\xe5\x90\x91\xe9\x87\x8f" : "learned"));
    if (IS("model.qk_norm")) OUT_STR(yesno(s->qk_norm, zh));
    if (IS("model.tied")) OUT_STR(yesno(s->tied_embeddings, zh));
    if (IS("model.params") || IS("model.params_exact") || IS("model.active_params") || IS("model.active_share")) {
        long long act = 0, tot = lesson_spec_params(m, &act);
        if (!m->config_only && m->n_params > 0 && !s->n_experts) tot = act = m->n_params;
        if (IS("model.params")) { fmt_short((double)tot, c->out, c->cap); return true; }
        if (IS("model.params_exact")) OUT_INT(tot);
        if (IS("model.active_params")) { fmt_short((double)act, c->out, c->cap); return true; }
        OUT_PCT(tot ? (double)act / (double)tot : 0);
    }
    if (IS("model.experts")) OUT_INT(s->n_experts);
    if (IS("model.experts_per_tok")) OUT_INT(s->n_experts ? s->n_experts_per_tok : 0);
    if (IS("model.shared_experts")) OUT_INT(s->n_shared_experts);
    if (IS("model.expert_ff")) OUT_INT(s->n_experts ? s->moe_d_ff : 0);
    if (IS("model.moe_layers")) {
        int n = 0;
        for (int l = 0; l < s->n_layers; l++) n += layer_is_moe_spec(s, l);
        OUT_INT(n);
    }
    if (IS("model.kv_lora_rank")) OUT_INT(s->kv_lora_rank);
    if (IS("model.q_lora_rank")) OUT_INT(s->q_lora_rank);
    if (IS("model.rope_head_dim")) OUT_INT(s->qk_rope_head_dim);
    if (IS("model.nope_head_dim")) OUT_INT(s->qk_nope_head_dim);
    if (IS("model.v_head_dim")) OUT_INT(s->v_head_dim);
    if (IS("model.dtype")) OUT_STR(dtype_name(s->dtype));

    /* RoPE from the config */
    if (!strncmp(k, "rope.", 5) && s->pos != POS_ROPE && strcmp(k, "rope.scaling"))
        return err_set(c->e, ERR_ARG, "%s uses learned positions, not RoPE", m->path);
    if (IS("rope.theta")) {
        if (s->rope_theta >= 1 && s->rope_theta < 1e15 && s->rope_theta == floorf(s->rope_theta)) OUT_INT(llround(s->rope_theta));
        put(c->out, c->cap, "%g", (double)s->rope_theta);
        return true;
    }
    if (IS("rope.dims")) OUT_INT(s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim);
    if (IS("rope.pairs")) OUT_INT((s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim) / 2);
    if (IS("rope.scaling")) {
        static const char *N[] = {"none", "linear", "dynamic (NTK)", "llama3", "yarn"};
        if (s->pos != POS_ROPE) OUT_STR(zh ? "\xe6\x97\xa0" : "none");
        OUT_STR((unsigned)s->rope_scaling < 5 ? N[s->rope_scaling] : "?");
    }
    if (IS("rope.factor")) OUT_NUM(s->rope_scaling == ROPE_SCALE_NONE ? 1.0 : (double)s->rope_factor);
    if (IS("rope.orig_context")) OUT_INT(s->rope_orig_max_pos > 0 ? s->rope_orig_max_pos : s->max_pos);
    if (IS("rope.mid_wl")) {
        double w;
        if (!rope_mid_wavelength(s, s->max_pos, &w)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        fmt_int(llround(w), c->out, c->cap);
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
        int L = (int)fmin_d(f * s->max_pos, 1e9);
        if (!strncmp(k, "rope.mid_", 9)) {
            double w;
            if (!rope_mid_wavelength(&t, L, &w)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
            fmt_int(llround(w), c->out, c->cap);
            return true;
        }
        if (!rope_freqs(&t, L, true, &fmin, &fmax, NULL)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        if (!strncmp(k, "rope.fast_", 10)) OUT_NUM(2 * M_PI / fmax);
        fmt_int(llround(2 * M_PI / fmin), c->out, c->cap);
        return true;
    }
    if (IS("rope.wavelength_min") || IS("rope.wavelength_max") || IS("rope.wavelength_max_unscaled") || IS("rope.attn_factor") ||
        IS("rope.slowest_turns") || IS("rope.slowest_turns_unscaled")) {
        int L = s->max_pos;
        if ((IS("rope.wavelength_min") || IS("rope.wavelength_max")) && c->ph->arg[0]) L = (int)arg_int(c->ph->arg);
        if (L < 1) return err_set(c->e, ERR_ARG, "sequence length must be >= 1");
        bool scaled = !strstr(k, "unscaled");
        double fmin, fmax;
        float af = 1;
        if (!rope_freqs(s, L, scaled, &fmin, &fmax, &af)) return err_set(c->e, ERR_ARG, "%s: no rotary dims", m->path);
        if (IS("rope.attn_factor")) OUT_NUM(af);
        if (IS("rope.wavelength_min")) OUT_NUM(2 * M_PI / fmax);
        if (strstr(k, "wavelength_max")) { fmt_int(llround(2 * M_PI / fmin), c->out, c->cap); return true; }
        double n = (double)arg_int(c->ph->arg);
        OUT_NUM(n * fmin / (2 * M_PI));
    }

    /* KV cache formulas */
    if (!strncmp(k, "kv.", 3)) {
        KvVariant var[KVA_COUNT];
        kv_variants(s, var);
        long long per_layer = (long long)spec_kv_elems_per_token_layer(s);
        long long eb = (long long)dtype_size(s->dtype);
        if (IS("kv.elems_layer")) OUT_INT(per_layer);
        if (IS("kv.elems")) OUT_INT(per_layer * s->n_layers);
        if (IS("kv.dtype_bytes")) OUT_INT(eb);
        if (IS("kv.bytes_per_token")) OUT_INT(per_layer * s->n_layers * eb);
        if (IS("kv.bytes_per_token_h")) { fmt_bytes((double)(per_layer * s->n_layers * eb), c->out, c->cap); return true; }
        if (IS("kv.bytes_at")) {
            long n = c->ph->arg[0] ? arg_int(c->ph->arg) : s->max_pos;
            fmt_bytes(kv_bytes(per_layer, s->n_layers, n, (int)eb), c->out, c->cap);
            return true;
        }
        if (IS("kv.formula")) {
            for (int i = 0; i < KVA_COUNT; i++) if (var[i].actual) OUT_STR(var[i].formula);
            OUT_STR("?");
        }
        static const char *const AS[KVA_COUNT] = {"mha", "gqa", "mqa", "mla"};
        for (int i = 0; i < KVA_COUNT; i++) {
            char nm[40];
            snprintf(nm, sizeof nm, "kv.as_%s", AS[i]);
            if (IS(nm)) OUT_INT(var[i].elems);
            snprintf(nm, sizeof nm, "kv.formula_%s", AS[i]);
            if (IS(nm)) OUT_STR(var[i].formula);
        }
        if (IS("kv.mha_bytes_per_token")) OUT_INT(var[KVA_MHA].elems * s->n_layers * eb);
        if (IS("kv.saving_vs_mha")) {
            put(c->out, c->cap, "%.1f", per_layer ? (double)var[KVA_MHA].elems / (double)per_layer : 0.0);
            return true;
        }
        if (IS("kv.no_cache_tokens")) {
            long long n = arg_int(c->ph->arg);
            if (n < 1) return err_set(c->e, ERR_ARG, "{kv.no_cache_tokens:N} needs N >= 1");
            OUT_INT(n * (n + 1) / 2);
        }
    }
    if (IS("attn.scale")) OUT_NUM(s->softmax_scale > 0 ? s->softmax_scale : 1.0 / sqrt((double)s->head_dim));
    if (IS("attn.total_heads")) OUT_INT(s->n_layers * s->n_heads);
    if (IS("pos.learned")) OUT_STR(yesno(s->pos == POS_LEARNED, zh));
    if (IS("pos.random_cos")) OUT_NUM(sqrt(2.0 / (M_PI * s->d_model)));
    return err_set(c->e, ERR_ARG, "{%s} is not computed from the config", k);
}

static bool session_value(VC *c) {
    const char *k = c->ph->key;
    Session *s = c->s;
    if (IS("kv.engine_bytes_per_token")) OUT_INT(engine_kv_bytes_per_token(s->engine));
    if (IS("prompt.text")) OUT_STR(s->prompt);
    if (IS("prompt.tokens")) OUT_INT(s->n_prompt);
    if (IS("prompt.chars")) OUT_INT(strlen(s->prompt));
    if (IS("attn.layer")) OUT_INT(c->layer);
    if (IS("attn.head")) OUT_INT(c->head);
    if (IS("attn.kv_head")) {
        int kvh = c->sp_m->attn_kind == ATTN_MLA ? c->head : c->head / (c->sp_m->n_heads / (c->sp_m->n_kv_heads ? c->sp_m->n_kv_heads : 1));
        OUT_INT(kvh);
    }
    return err_set(c->e, ERR_ARG, "{%s} is not a session value", k);
}

static bool token_value(VC *c) {
    const char *k = c->ph->key;
    Session *s = c->s;
    const TraceTok *t = c->t;
    const TraceDims *d = c->dims;
    const ModelSpec *sp = c->sp_m;
    const int L = d->n_layers, H = d->n_heads, D = d->d_model, pos = c->cursor, len = session_len(s);
    const int l = c->layer, h = c->head;
    bool zh = c->v->zh;
    char tb[256];

    /* KV cache, measured */
    if (IS("kv.bytes_total")) { fmt_bytes((double)t->kv_bytes, c->out, c->cap); return true; }
    if (IS("kv.bytes_total_exact")) OUT_INT(t->kv_bytes);
    if (IS("kv.grew")) {
        const TraceTok *p = pos > 0 ? trace_tok(s->trace, pos - 1) : NULL;
        OUT_INT(p ? t->kv_bytes - p->kv_bytes : t->kv_bytes);
    }
    if (IS("kv.tokens")) OUT_INT(pos + 1);

    /* tokens */
    if (IS("seq.len")) OUT_INT(len);
    if (IS("token.text")) { fmt_tok(s, t->id, c->out, c->cap, zh); return true; }
    if (IS("token.id")) OUT_INT(t->id);
    if (IS("token.pos")) OUT_INT(pos);
    if (IS("token.phase")) {
        if (zh) OUT_STR(t->phase == PHASE_PREFILL ? "\xe9\xa2\x84\xe5\xa1\xab\xe5\x85\x85" : "\xe8\xa7\xa3\xe7\xa0\x81");
        OUT_STR(t->phase == PHASE_PREFILL ? "prefill" : "decode");
    }
    if (IS("token.forward")) {
        /* counted from the prefill of this prompt: the prefill is call 1 */
        const TraceTok *t0 = trace_tok(s->trace, 0);
        OUT_INT(t->step - (t0 ? t0->step : 0) + 1);
    }
    if (IS("token.next")) {
        if (t->next_id < 0) return err_set(c->e, ERR_ARG, "no token chosen after position %d yet", pos);
        fmt_tok(s, t->next_id, c->out, c->cap, zh);
        return true;
    }
    if (IS("token.at")) {
        int p = 0;
        if (!arg_pos(c, c->ph->arg, &p)) return false;
        fmt_tok(s, trace_tok(s->trace, p)->id, c->out, c->cap, zh);
        return true;
    }
    if (IS("tokens.prefill") || IS("tokens.decoded")) {
        int np = 0;
        for (int i = 0; i < len; i++) np += trace_tok(s->trace, i)->phase == PHASE_PREFILL;
        OUT_INT(IS("tokens.prefill") ? np : len - np);
    }

    /* attention */
    if (!strncmp(k, "attn.", 5)) {
        const float *row = attn_row(c, t, pos, l, h);
        if (!row) return err_set(c->e, ERR_ARG, "no attention recorded at position %d", pos);
        const int n = pos + 1;
        if (IS("attn.keys")) OUT_INT(n);
        if (IS("attn.visible_pairs")) OUT_INT((long long)len * (len + 1) / 2);
        if (IS("attn.hidden_pairs")) OUT_INT((long long)len * (len - 1) / 2);
        if (IS("attn.all_pairs")) OUT_INT((long long)len * len);
        if (IS("attn.masked")) OUT_INT(len - n);
        int mk = argmaxf(row, n);
        if (IS("attn.max_key")) OUT_INT(mk);
        if (IS("attn.max_key_text")) { fmt_tok(s, trace_tok(s->trace, mk)->id, c->out, c->cap, zh); return true; }
        if (IS("attn.max_weight")) OUT_PCT(row[mk]);
        if (IS("attn.self_weight")) OUT_PCT(row[pos]);
        if (IS("attn.first_weight")) OUT_PCT(row[0]);
        if (IS("attn.sel_weight")) {
            if (c->key < 0 || c->key > pos) return err_set(c->e, ERR_ARG, "no key column selected (use a highlight or key action)");
            OUT_PCT(row[c->key]);
        }
        if (IS("attn.entropy")) OUT_NUM(stats_entropy_bits(row, n));
        if (IS("attn.entropy_max")) OUT_NUM(log2((double)n));
        if (IS("attn.score_max") || IS("attn.score_min")) {
            const float *sc = t->scores + ((size_t)l * (size_t)H + (size_t)h) * (size_t)n;
            float mn, mx;
            stats_minmax(sc, n, &mn, &mx);
            OUT_NUM(IS("attn.score_max") ? mx : mn);
        }
        if (IS("attn.distinct_heads")) {
            int seen = 0;
            unsigned char *mark = calloc((size_t)n, 1);
            if (!mark) return err_set(c->e, ERR_MEMORY, "out of memory");
            for (int hh = 0; hh < H; hh++) {
                int a = argmaxf(attn_row(c, t, pos, l, hh), n);
                if (!mark[a]) { mark[a] = 1; seen++; }
            }
            free(mark);
            OUT_INT(seen);
        }
        if (IS("attn.head_max_key") || IS("attn.head_max_key_text")) {
            long hh = arg_int(c->ph->arg);
            if (hh < 0 || hh >= H) return err_set(c->e, ERR_ARG, "head %ld does not exist (the model has %d heads: 0..%d)", hh, H, H - 1);
            int a = argmaxf(attn_row(c, t, pos, l, (int)hh), n);
            if (IS("attn.head_max_key")) OUT_INT(a);
            fmt_tok(s, trace_tok(s->trace, a)->id, c->out, c->cap, zh);
            return true;
        }
        if (IS("attn.prev_heads") || IS("attn.bos_heads")) {
            if (IS("attn.prev_heads") && pos < 1) return err_set(c->e, ERR_ARG, "position 0 has no previous token");
            int cnt = 0;
            for (int ll = 0; ll < L; ll++)
                for (int hh = 0; hh < H; hh++) {
                    int a = argmaxf(attn_row(c, t, pos, ll, hh), n);
                    cnt += IS("attn.prev_heads") ? a == pos - 1 : a == 0;
                }
            OUT_INT(cnt);
        }
    }

    /* residual stream */
    if (!strncmp(k, "resid.", 6)) {
        const float *r0 = t->resid, *rl = t->resid + (size_t)l * D, *rn = t->resid + (size_t)(l + 1) * D, *rL = t->resid + (size_t)L * D;
        if (IS("resid.norm")) OUT_NUM(stats_norm(rl, D));
        if (IS("resid.norm_first")) OUT_NUM(stats_norm(r0, D));
        if (IS("resid.norm_final")) OUT_NUM(stats_norm(rL, D));
        if (IS("resid.growth")) {
            double a = stats_norm(r0, D);
            put(c->out, c->cap, "%.1f", a > 0 ? stats_norm(rL, D) / a : 0.0);
            return true;
        }
        if (IS("resid.attn_out")) OUT_NUM(t->attn_out_norm[l]);
        if (IS("resid.mlp_out")) OUT_NUM(t->mlp_out_norm[l]);
        if (IS("resid.cos_next")) OUT_NUM(stats_cosine(rl, rn, D));
        if (IS("resid.cos_first_last")) OUT_NUM(stats_cosine(r0, rL, D));
    }
    if (!strncmp(k, "lens.", 5)) {
        const Model *m = c->m;
        const int V = sp->vocab_size;
        float *scratch = malloc(sizeof(float) * ((size_t)V + (size_t)D));
        if (!scratch) return err_set(c->e, ERR_MEMORY, "out of memory");
        int id = -1;
        float p = 0;
        bool ok = true;
        if (IS("lens.settle_layer")) {
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
        if (IS("lens.top1")) { fmt_tok(s, id, c->out, c->cap, zh); return true; }
        OUT_PCT(p);
    }

    /* norms */
    if (!strncmp(k, "norm.", 5)) {
        const NormStat *ns = &t->ln1[l];
        if (IS("norm.mean")) OUT_NUM(ns->mean);
        if (IS("norm.std")) OUT_NUM(sqrt(fmax(0.0, (double)ns->var)));
        if (IS("norm.rms")) OUT_NUM(ns->rms);
        if (IS("norm.min")) OUT_NUM(ns->min);
        if (IS("norm.max")) OUT_NUM(ns->max);
        if (IS("norm.final_rms")) OUT_NUM(t->lnf.rms);
        if (IS("norm.out_mean") || IS("norm.out_std") || IS("norm.out_rms")) {
            const float *o = t->ln1_out + (size_t)l * D;
            double mean, var;
            stats_moments(o, D, &mean, &var);
            if (IS("norm.out_mean")) OUT_NUM(mean);
            if (IS("norm.out_std")) OUT_NUM(sqrt(var));
            OUT_NUM(stats_norm(o, D) / sqrt((double)D));
        }
        if (IS("norm.rms_min") || IS("norm.rms_max") || IS("norm.rms_spread")) {
            double mn = INFINITY, mx = 0;
            for (int i = 0; i < len; i++) {
                double r = trace_tok(s->trace, i)->ln1[l].rms;
                if (r < mn) mn = r;
                if (r > mx) mx = r;
            }
            if (IS("norm.rms_min")) OUT_NUM(mn);
            if (IS("norm.rms_max")) OUT_NUM(mx);
            put(c->out, c->cap, "%.1f", mn > 0 ? mx / mn : 0.0);
            return true;
        }
    }

    /* FFN */
    if (!strncmp(k, "ffn.", 4)) {
        if (c->m->w.layers && c->m->w.layers[l].is_moe && !sp->n_shared_experts)
            return err_set(c->e, ERR_ARG, "layer %d is a mixture of experts: its activations are per expert and not recorded", l);
        int F = c->m->w.layers && c->m->w.layers[l].d_ff ? c->m->w.layers[l].d_ff : sp->d_ff;
        if (F > d->d_ff) F = d->d_ff;
        const float *a = t->mlp_post + (size_t)l * (size_t)d->d_ff;
        float amax = 0;
        int top = 0, neg = 0, zero = 0;
        for (int i = 0; i < F; i++) {
            if (fabsf(a[i]) > amax) { amax = fabsf(a[i]); top = i; }
            neg += a[i] < 0;
            zero += a[i] == 0;
        }
        if (IS("ffn.top_neuron")) OUT_INT(top);
        if (IS("ffn.top_value")) OUT_NUM(a[top]);
        if (IS("ffn.negative")) OUT_PCT((double)neg / F);
        if (IS("ffn.zero")) OUT_PCT((double)zero / F);
        if (IS("ffn.small")) {
            int sm = 0;
            for (int i = 0; i < F; i++) sm += fabsf(a[i]) < 0.1f * amax;
            OUT_PCT((double)sm / F);
        }
        if (IS("ffn.top10_mass")) {
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

    /* MoE */
    if (!strncmp(k, "moe.", 4)) {
        if (!need_layer_moe(c)) return false;
        const int K = d->top_k, E = d->n_experts;
        const int *ei = t->expert_idx + (size_t)l * K;
        const float *ew = t->expert_w + (size_t)l * K;
        if (IS("moe.top_expert") || IS("moe.top_weight")) {
            int b = 0;
            for (int i = 1; i < K; i++) if (ew[i] > ew[b]) b = i;
            if (IS("moe.top_expert")) OUT_INT(ei[b]);
            double sum = 0;
            for (int i = 0; i < K; i++) sum += ew[i];
            OUT_PCT(sum > 0 ? ew[b] / sum : 0);
        }
        if (IS("moe.chosen")) {
            char buf[256] = "";
            size_t o = 0;
            for (int i = 0; i < K && o + 16 < sizeof buf; i++)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%d", i ? (zh ? "\xe3\x80\x81" : ", ") : "", ei[i]);
            OUT_STR(buf);
        }
        int *load = calloc((size_t)E, sizeof(int));
        if (!load) return err_set(c->e, ERR_MEMORY, "out of memory");
        for (int i = 0; i < len; i++) {
            const TraceTok *ti = trace_tok(s->trace, i);
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
        if (IS("moe.load_max")) OUT_INT(lmax);
        if (IS("moe.load_min")) OUT_INT(lmin);
        if (IS("moe.busiest")) OUT_INT(bmax);
        if (IS("moe.idle")) OUT_INT(idle);
        if (IS("moe.fair_load")) OUT_NUM((double)len * K / E);
    }

    /* logits and sampling */
    if (!strncmp(k, "logits.", 7)) {
        int rank = IS("logits.top1") || IS("logits.top1_prob") || IS("logits.top1_logit") ? 0 : IS("logits.top2") || IS("logits.top2_prob") ? 1 : 2;
        if (IS("logits.top5_mass")) {
            double m5 = 0;
            for (int i = 0; i < 5; i++) m5 += exp((double)(t->top_logits[i] - t->logit_lse));
            OUT_PCT(m5);
        }
        if (IS("logits.top1_logit")) OUT_NUM(t->top_logits[0]);
        if (strstr(k, "_prob")) OUT_PCT(exp((double)(t->top_logits[rank] - t->logit_lse)));
        fmt_tok(s, t->top_ids[rank], c->out, c->cap, zh);
        return true;
    }
    if (!strncmp(k, "sample.", 7)) {
        /* exact, over the whole vocabulary: the logits are recomputed from the final residual
         * through the final norm and unembedding (the logit lens of the last layer, which is
         * the model's own output), so no tail of unrecorded tokens is guessed */
        const int V = sp->vocab_size;
        float *scratch = malloc(sizeof(float) * ((size_t)V + (size_t)D));
        double *pr = malloc(sizeof(double) * (size_t)V);
        int id1;
        float p1;
        bool ok = scratch && pr && logitlens_topk(c->m, t->resid + (size_t)L * D, 1, &id1, &p1, scratch);
        if (!ok) { free(scratch); free(pr); return err_set(c->e, ERR_ARG, "%s: cannot recompute the logits", c->m->path); }
        double a = strtod(c->ph->arg, NULL);
        double T = 1.0;
        if (IS("sample.top1_prob_at")) {
            if (!(a > 0.001 && a <= 100)) { free(scratch); free(pr); return err_set(c->e, ERR_ARG, "temperature %s must be in (0, 100]", c->ph->arg); }
            T = a;
        }
        /* p_i = exp((l_i - l_max) / T) / sum_j exp((l_j - l_max) / T) */
        double mx = scratch[id1], se = 0;
        for (int i = 0; i < V; i++) { pr[i] = exp(((double)scratch[i] - mx) / T); se += pr[i]; }
        for (int i = 0; i < V; i++) pr[i] /= se;
        double result = 0;
        long count = 0;
        if (IS("sample.top1_prob_at")) result = pr[id1];
        else {
            /* sort descending (selection of the largest until the mass or count is reached) */
            long kk = IS("sample.topk_mass") ? arg_int(c->ph->arg) : V;
            if (IS("sample.topk_mass") && (kk < 1 || kk > V)) { free(scratch); free(pr); return err_set(c->e, ERR_ARG, "top-k %ld must be in [1, %d]", kk, V); }
            if (IS("sample.topp_count") && !(a > 0 && a <= 1)) { free(scratch); free(pr); return err_set(c->e, ERR_ARG, "top-p %s must be in (0, 1]", c->ph->arg); }
            double mass = 0;
            for (long n = 0; n < kk; n++) {
                int b = -1;
                for (int i = 0; i < V; i++) if (pr[i] >= 0 && (b < 0 || pr[i] > pr[b])) b = i;
                if (b < 0) break;
                mass += pr[b];
                pr[b] = -1;
                count = n + 1;
                if (IS("sample.topp_count") && mass >= a - 1e-12) break;
            }
            result = mass;
        }
        free(scratch);
        free(pr);
        if (IS("sample.topp_count")) OUT_INT(count);
        OUT_PCT(result);
    }

    /* embeddings and positions */
    if (IS("embed.norm")) OUT_NUM(stats_norm(t->embed, D));
    if (IS("embed.cos")) {
        char a[48];
        snprintf(a, sizeof a, "%s", c->ph->arg);
        char *comma = strchr(a, ',');
        if (!comma) return err_set(c->e, ERR_ARG, "embed.cos needs i,j");
        *comma = 0;
        int i = 0, j = 0;
        if (!arg_pos(c, a, &i) || !arg_pos(c, comma + 1, &j)) return false;
        OUT_NUM(stats_cosine(trace_tok(s->trace, i)->embed, trace_tok(s->trace, j)->embed, D));
    }
    if (IS("embed.nearest") || IS("embed.nearest_cos")) {
        const Tensor *E = &c->m->w.tok_emb;
        if (!tensor_present(E) || E->cols != D) return err_set(c->e, ERR_ARG, "%s has no embedding table", c->m->path);
        const int V = E->rows;
        float *q = malloc(sizeof(float) * (size_t)D * 2);
        if (!q) return err_set(c->e, ERR_MEMORY, "out of memory");
        float *row = q + D;
        tensor_row_f32(E, (size_t)t->id * (size_t)D, D, q);
        int best = -1;
        float bc = -2;
        for (int vv = 0; vv < V; vv++) {
            if (vv == t->id) continue;
            tensor_row_f32(E, (size_t)vv * (size_t)D, D, row);
            float cs = stats_cosine(q, row, D);
            if (cs > bc) { bc = cs; best = vv; }
        }
        free(q);
        if (best < 0) return err_set(c->e, ERR_ARG, "vocabulary too small");
        if (IS("embed.nearest_cos")) OUT_NUM(bc);
        fmt_tok(s, best, c->out, c->cap, zh);
        return true;
    }
    if (IS("embed.pca_explained")) {
        if (len < 3) return err_set(c->e, ERR_ARG, "a PCA map needs at least 3 tokens");
        float *X = malloc(sizeof(float) * (size_t)len * (size_t)D);
        float *xy = malloc(sizeof(float) * 2 * (size_t)len);
        double ex[2] = {0, 0};
        bool ok = X && xy;
        for (int i = 0; ok && i < len; i++) memcpy(X + (size_t)i * D, trace_tok(s->trace, i)->embed, sizeof(float) * (size_t)D);
        ok = ok && pca_project2(X, len, D, xy, ex);
        free(X);
        free(xy);
        if (!ok) return err_set(c->e, ERR_ARG, "PCA failed");
        OUT_PCT(ex[0] + ex[1]);
    }
    if (!strncmp(k, "pos.", 4)) {
        if (IS("pos.sin_cos")) {
            long dk = arg_int(c->ph->arg);
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
        if (IS("pos.cos_tok_pos")) OUT_NUM(stats_cosine(t->embed, t->pos_embed, D));
        if (IS("pos.pos_norm")) OUT_NUM(stats_norm(t->pos_embed, D));
        if (IS("pos.keep")) {
            float *sum = malloc(sizeof(float) * (size_t)D);
            if (!sum) return err_set(c->e, ERR_MEMORY, "out of memory");
            for (int i = 0; i < D; i++) sum[i] = t->embed[i] + t->pos_embed[i];
            float cs = stats_cosine(t->embed, sum, D);
            free(sum);
            OUT_NUM(cs);
        }
        if (IS("pos.mean_abs_cos")) {
            double acc = 0;
            for (int i = 0; i < len; i++) {
                const TraceTok *ti = trace_tok(s->trace, i);
                acc += fabs((double)stats_cosine(ti->embed, ti->pos_embed, D));
            }
            OUT_NUM(acc / len);
        }
    }
    if (!strncmp(k, "rope.", 5)) {
        if (sp->pos != POS_ROPE || !t->q || d->rot_dim < 2) return err_set(c->e, ERR_ARG, "%s does not use RoPE", c->m->path);
        const int R = d->rot_dim;
        const float *q0 = t->q + ((size_t)l * H + (size_t)h) * (size_t)R, *q1 = t->q_rot + ((size_t)l * H + (size_t)h) * (size_t)R;
        double n0 = stats_norm(q0, R), n1 = stats_norm(q1, R);
        if (IS("rope.q_norm")) OUT_NUM(n0);
        if (IS("rope.q_rot_norm")) OUT_NUM(n1);
        if (IS("rope.norm_ratio")) { put(c->out, c->cap, "%.3f", n0 > 0 ? n1 / n0 : 0.0); return true; }
        double fmin, fmax;
        if (!rope_freqs(sp, len, true, &fmin, &fmax, NULL)) return err_set(c->e, ERR_ARG, "no rotary dims");
        if (IS("rope.angle_fast")) OUT_NUM(pos * fmax);
        if (IS("rope.angle_slow")) OUT_NUM(pos * fmin);
    }
    (void)tb;
    return err_set(c->e, ERR_ARG, "{%s} is not a token value", k);
}

static bool weights_value(VC *c) {
    const char *k = c->ph->key;
    double loss;
    long tokens;
    if (!eval_loss(c, &loss, &tokens)) return false;
    if (IS("eval.loss")) { put(c->out, c->cap, "%.3f", loss); return true; }
    if (IS("eval.ppl")) OUT_NUM(exp(loss));
    OUT_INT(tokens);
}

bool lesson_value(LessonValues *v, const LessonPh *ph, char *out, size_t cap, Err *e) {
    if (cap) out[0] = 0;
    VC c;
    memset(&c, 0, sizeof c);
    c.v = v;
    c.ph = ph;
    c.out = out;
    c.cap = cap;
    c.e = e;
    c.sp = lesson_ph_find(ph->key);
    if (!c.sp) return err_set(e, ERR_ARG, "unknown placeholder {%s}", ph->key);
    bool is_ref = ph->ref[0] && strcmp(ph->ref, "A") && strcmp(ph->ref, "B");
    if (is_ref) {
        if (c.sp->need == PHN_SESSION || c.sp->need == PHN_TOKEN)
            return err_set(e, ERR_ARG, "{%s@%s}: a ref gives only a config", ph->key, ph->ref);
        Model *m = ref_model(v, ph->ref, e);
        if (!m) return false;
        c.m = m;
    } else {
        int side = !strcmp(ph->ref, "B") ? 1 : 0;
        c.s = v->sc ? v->sc->ses[side] : NULL;
        if (!c.s) return err_set(e, ERR_ARG, "{%s%s%s}: %s", ph->key, ph->ref[0] ? "@" : "", ph->ref,
                                 !strcmp(ph->ref, "B") ? "compare mode is off (no session B)" : "no model is loaded");
        c.m = c.s->model;
        Selection sel = scene_sel(v->sc, side);
        c.layer = sel.layer;
        c.head = sel.head;
        c.key = sel.key;
        c.cursor = c.s->cursor;
        c.dims = trace_dims(c.s->trace);
    }
    c.sp_m = &c.m->spec;
    if (c.layer < 0 || c.layer >= c.sp_m->n_layers) c.layer = 0;
    if (c.head < 0 || c.head >= c.sp_m->n_heads) c.head = 0;
    switch (c.sp->need) {
    case PHN_SPEC: return spec_value(&c);
    case PHN_WEIGHTS: return weights_value(&c);
    case PHN_SESSION: return session_value(&c);
    case PHN_TOKEN:
        c.t = c.cursor >= 0 ? trace_tok(c.s->trace, c.cursor) : NULL;
        if (!c.t) return err_set(e, ERR_ARG, "{%s}: no token has been computed yet (step first)", ph->key);
        return token_value(&c);
    }
    return err_set(e, ERR_ARG, "{%s}: unhandled", ph->key);
}

/* ---- expansion ------------------------------------------------------------------------------ */

typedef struct { char *buf; size_t len, cap; bool oom; } Sb;

static void sb_add(Sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb) { b->oom = true; return; }
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

char *lesson_expand(LessonValues *v, const char *tpl, bool marks, Err *e) {
    Sb b = {0};
    sb_add(&b, "", 0);
    bool failed = false;
    for (const char *p = tpl ? tpl : ""; *p;) {
        if (p[0] == '{' && p[1] == '{') { sb_add(&b, "{", 1); p += 2; continue; }
        if (p[0] == '}' && p[1] == '}') { sb_add(&b, "}", 1); p += 2; continue; }
        if (*p != '{') {
            size_t n = strcspn(p, "{}");
            if (!n) n = 1;                 /* a lone '}' */
            sb_add(&b, p, n);
            p += n;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close || close - p > 160) {   /* invalid: copy the rest as text (lesson_parse rejects these) */
            sb_add(&b, p, strlen(p));
            break;
        }
        char inner[192];
        size_t n = (size_t)(close - p - 1);
        memcpy(inner, p + 1, n);
        inner[n] = 0;
        LessonPh ph;
        memset(&ph, 0, sizeof ph);
        char *at = strchr(inner, '@');
        if (at) { *at = 0; snprintf(ph.ref, sizeof ph.ref, "%s", at + 1); }
        char *colon = strchr(inner, ':');
        if (colon) { *colon = 0; snprintf(ph.arg, sizeof ph.arg, "%s", colon + 1); }
        snprintf(ph.key, sizeof ph.key, "%s", inner);
        char val[512];
        Err e2 = {0};
        bool ok = lesson_value(v, &ph, val, sizeof val, &e2);
        if (!ok) {
            snprintf(val, sizeof val, "?");
            if (!failed && e) {
                failed = true;
                err_set(e, e2.code ? e2.code : ERR_ARG, "%s", e2.msg);
            }
        }
        if (marks) sb_add(&b, "\x01", 1);
        sb_add(&b, val, strlen(val));
        if (marks) sb_add(&b, "\x02", 1);
        p = close + 1;
    }
    if (b.oom) { free(b.buf); if (e) err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    return b.buf;
}
