/* Live values for lesson templates: every number a lesson quotes is computed from the scene
 * (its sessions' traces, the selection, the models) or from a reference model's config, never
 * typed into the lesson. One table, placeholders.def, names each value and the function that
 * computes it (values_spec.c, values_token.c, v_weights here); values a panel shows come
 * from the analysis/derived.h function the panel calls. This file: context, number formats,
 * eval loss, dispatch and template expansion. docs/lessons.md explains each value. */
#include "lesson/values_internal.h"

/* The value function of every row of placeholders.def, in the table's order. */
static const PhValueFn PH_FN[] = {
#define PH(id, name, need, arg, fn, doc) fn,
#include "lesson/placeholders.def"
#undef PH
};

void lesson_values_init(LessonValues *v, const Lesson *l, const char *root) {
    memset(v, 0, sizeof *v);
    v->lesson = l;
    snprintf(v->root, sizeof v->root, "%s", root ? root : ".");
    v->zh = l && l->lang && !strcmp(l->lang, "zh");
    derived_cache_init(&v->dc);
}

void lesson_values_done(LessonValues *v) {
    for (int i = 0; i < LESSON_MAX_REFS; i++) model_free(v->ref_model[i]);
    memset(v->ref_model, 0, sizeof v->ref_model);
    memset(v->ref_tried, 0, sizeof v->ref_tried);
    v->n_eval = 0;
    derived_cache_done(&v->dc);
}

/* ---- formatting ------------------------------------------------------------------------- */

void lv_put(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lv_put(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* 1234567 -> "1,234,567" (separators from 1,000 up). */
void lv_fmt_int(long long x, char *out, size_t cap) {
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
void lv_fmt_short(double x, char *out, size_t cap) {
    static const char *U[] = {"", "K", "M", "B", "T"};
    int u = 0;
    while (fabs(x) >= 1000 && u < 4) { x /= 1000; u++; }
    if (!u) lv_put(out, cap, "%.0f", x);
    else lv_put(out, cap, "%.*f%s", fabs(x) < 10 ? 2 : fabs(x) < 100 ? 1 : 0, x, U[u]);
}

/* Fixed decimals chosen by magnitude: 3 significant digits, no exponent in ordinary ranges. */
void lv_fmt_num(double x, char *out, size_t cap) {
    double a = fabs(x);
    if (!isfinite(x)) lv_put(out, cap, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
    else if (a == 0) lv_put(out, cap, "0");
    else if (a >= 1e7 || a < 1e-4) lv_put(out, cap, "%.3g", x);
    else if (a >= 100) lv_put(out, cap, "%.0f", x);
    else if (a >= 10) lv_put(out, cap, "%.1f", x);
    else if (a >= 1) lv_put(out, cap, "%.2f", x);
    else if (a >= 0.01) lv_put(out, cap, "%.3f", x);
    else lv_put(out, cap, "%.4f", x);
}

/* p in [0,1] -> "31.2%" */
void lv_fmt_pct(double p, char *out, size_t cap) {
    double x = p * 100.0;
    if (x >= 99.95 || x == 0) lv_put(out, cap, "%.0f%%", x);
    else if (x >= 0.1) lv_put(out, cap, "%.1f%%", x);
    else if (x >= 0.001) lv_put(out, cap, "%.3f%%", x);
    else lv_put(out, cap, "%.2g%%", x);
}

void lv_fmt_bytes(double b, char *out, size_t cap) {
    char buf[64];
    kv_fmt_bytes(b, buf, (int)sizeof buf);
    snprintf(out, cap, "%s", buf);
}

/* Token text made readable inside prose: quotes around it, spaces and newlines visible. */
void lv_fmt_tok(const Session *s, int id, char *out, size_t cap, bool zh) {
    char raw[128], vis[160];
    session_token_text(s, id, raw, sizeof raw);
    size_t k = 0;
    for (const char *p = raw; *p && k + 4 < sizeof vis; p++) {
        if (*p == '\n') { vis[k++] = '\\'; vis[k++] = 'n'; }
        else if (*p == '\t') { vis[k++] = '\\'; vis[k++] = 't'; }
        else vis[k++] = *p;
    }
    vis[k] = 0;
    if (zh) lv_put(out, cap, "\xe2\x80\x9c%s\xe2\x80\x9d", vis);   /* “ ” */
    else lv_put(out, cap, "\"%s\"", vis);
}

const char *lv_yesno(bool b, bool zh) { return zh ? (b ? "\xe6\x98\xaf" : "\xe5\x90\xa6") : (b ? "yes" : "no"); }

/* ---- the config: parameter count -------------------------------------------------------- */

bool lv_layer_is_moe_spec(const ModelSpec *s, int l) {
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
        if (lv_layer_is_moe_spec(s, l)) {
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

long lv_arg_int(const char *a) { return strtol(a, NULL, 10); }
double lv_fmin_d(double a, double b) { return a < b ? a : b; }

/* position argument: negative counts from the end of the computed tokens */
bool lv_arg_pos(VC *c, const char *a, int *pos) {
    long p = strtol(a, NULL, 10);
    int len = session_len(c->s);
    if (p < 0) p += len;
    if (p < 0 || p >= len) return err_set(c->e, ERR_ARG, "position %s is outside the %d computed tokens", a, len);
    *pos = (int)p;
    return true;
}

const float *lv_attn_row(const VC *c, const TraceTok *t, int pos, int layer, int head) {
    (void)t;
    return trace_attn_row(session_trace(c->s), pos, layer, head, false);
}

int lv_argmaxf(const float *x, int n) {
    int b = 0;
    if (!x) return 0;
    for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return b;
}

bool lv_need_layer_moe(VC *c) {
    if (!c->sp_m->n_experts || !c->m->w.layers || !c->m->w.layers[c->layer].is_moe || !c->t->expert_idx)
        return err_set(c->e, ERR_ARG, "layer %d of %s has no routed experts (a dense FFN)", c->layer, c->m->path);
    return true;
}

bool lv_rope_freqs(const ModelSpec *s, int seq_len, bool scaled, double *fmin, double *fmax, float *attn_factor) {
    if (s->pos != POS_ROPE) return false;
    int dim = s->attn_kind == ATTN_MLA ? s->qk_rope_head_dim : s->rotary_dim;
    if (dim < 2 || dim > 4096) return false;
    ModelSpec tmp = *s;
    if (tmp.attn_kind == ATTN_MLA) tmp.rotary_dim = dim;
    if (!scaled) { tmp.rope_scaling = ROPE_SCALE_NONE; tmp.n_rope_factors = 0; }
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
bool lv_rope_mid_wavelength(const ModelSpec *s, int seq_len, double *wl) {
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
    const Tokenizer *tok = c->s ? session_tokenizer(c->s) : NULL;
    int *raw = NULL, *ids = NULL;
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
    double loss_v;
    long scored;
    if (!derived_eval_loss(m, ids, N, 0, DT_F32, &loss_v, &scored, &e)) goto done;
    v->eval[slot].loss = loss_v;
    v->eval[slot].tokens = scored;
    ok = true;
done:
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

bool v_weights(VC *c) {
    double loss;
    long tokens;
    if (!eval_loss(c, &loss, &tokens)) return false;
    if (IS(eval_loss)) { lv_put(c->out, c->cap, "%.3f", loss); return true; }
    if (IS(eval_ppl)) OUT_NUM(exp(loss));
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
    if (c.sp->need == PHN_FAMILY) return lesson_family_value(v->root, ph, out, cap, e);   /* no model needed */
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
        c.m = session_model(c.s);
        Selection sel = scene_sel(v->sc, side);
        c.layer = sel.layer;
        c.head = sel.head;
        c.key = sel.key;
        c.cursor = session_cursor(c.s);
        c.dims = trace_dims(session_trace(c.s));
    }
    c.sp_m = &c.m->spec;
    if (c.layer < 0 || c.layer >= c.sp_m->n_layers) c.layer = 0;
    if (c.head < 0 || c.head >= c.sp_m->n_heads) c.head = 0;
    if (c.sp->need == PHN_TOKEN) {
        c.t = c.cursor >= 0 ? trace_tok(session_trace(c.s), c.cursor) : NULL;
        if (!c.t) return err_set(e, ERR_ARG, "{%s}: no token has been computed yet (step first)", ph->key);
    }
    /* the row's value function: the same row of placeholders.def the parser validated */
    int n = 0;
    const PhSpec *tab = lesson_ph_table(&n);
    int row = (int)(c.sp - tab);
    if (row < 0 || row >= n || row >= (int)(sizeof PH_FN / sizeof PH_FN[0])) return err_set(e, ERR_ARG, "{%s}: no value function", ph->key);
    return PH_FN[row](&c);
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
