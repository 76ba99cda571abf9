/* Lesson files: parse and validate (format in docs/lessons.md). Everything here works on
 * a buffer and needs neither the engine nor the TUI, so it can be fuzzed. Every error
 * names the file and the JSON path of the field ("steps[2].actions[1].layer"). */
#include "lesson/lesson.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/path.h"
#include "session/session.h"

static const char *const ACT_NAMES[LA_COUNT] = {
    "load", "prompt", "step", "back", "token", "key", "highlight", "stage", "step_into", "panel",
    "side", "layer", "head", "compare", "ablate", "sampler", "keys", "texts"};

/* Fields each verb accepts besides "do" (space-separated). */
static const char *const ACT_FIELDS[LA_COUNT] = {
    "model slot", "text prefill", "n", "n", "pos", "pos off", "token key layer head", "stage layer",
    "n", "panel", "panel off", "layer", "head", "model off", "layer head off slot",
    "greedy temperature top_k top_p seed slot", "keys", "texts"};

const char *lesson_action_name(LessonActKind k) { return (unsigned)k < LA_COUNT ? ACT_NAMES[k] : "?"; }

/* Stage keywords, in Stage order (session.h). */
static const char *const STAGE_KW[STAGE_COUNT] = {
    "embed", "position", "norm1", "qkv", "rope", "scores", "softmax", "attn_out", "add1", "norm2",
    "ffn", "add2", "final_norm", "logits", "sample"};

int lesson_stage_find(const char *name) {
    for (int i = 0; i < STAGE_COUNT; i++)
        if (!strcmp(STAGE_KW[i], name)) return i;
    return -1;
}

const char *lesson_stage_keyword(int stage) { return stage >= 0 && stage < STAGE_COUNT ? STAGE_KW[stage] : "?"; }

/* ---- templates -------------------------------------------------------------------------- */

static bool key_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'; }
static bool arg_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == ',' || c == '+'; }
static bool ref_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; }

bool lesson_template_scan(const char *tpl, LessonPhFn cb, void *ud, Err *e) {
    for (const char *p = tpl; *p; p++) {
        if (*p == '}') { if (p[1] == '}') p++; continue; }   /* "}}" (or a lone '}') is text */
        if (*p != '{') continue;
        if (p[1] == '{') { p++; continue; }
        const char *q = p + 1;
        LessonPh ph;
        memset(&ph, 0, sizeof ph);
        size_t n = 0;
        while (key_char(*q)) { if (n + 1 >= sizeof ph.key) return err_set(e, ERR_FORMAT, "placeholder name too long at \"%.40s\"", p); ph.key[n++] = *q++; }
        if (!n) return err_set(e, ERR_FORMAT, "'{' without a placeholder name at \"%.40s\" (write {{ for a literal brace)", p);
        if (*q == ':') {
            q++;
            n = 0;
            while (arg_char(*q)) { if (n + 1 >= sizeof ph.arg) return err_set(e, ERR_FORMAT, "placeholder argument too long at \"%.40s\"", p); ph.arg[n++] = *q++; }
            if (!n) return err_set(e, ERR_FORMAT, "empty argument after ':' in \"%.40s\"", p);
        }
        if (*q == '@') {
            q++;
            n = 0;
            while (ref_char(*q)) { if (n + 1 >= sizeof ph.ref) return err_set(e, ERR_FORMAT, "ref name too long at \"%.40s\"", p); ph.ref[n++] = *q++; }
            if (!n) return err_set(e, ERR_FORMAT, "empty ref after '@' in \"%.40s\"", p);
        }
        if (*q != '}') return err_set(e, ERR_FORMAT, "placeholder not closed by '}' at \"%.40s\"", p);
        if (cb && !cb(ud, &ph, e)) return false;
        p = q;
    }
    return true;
}

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct { const char *file; Err *e; Lesson *l; } P;

static char *dupstr(const char *s, Err *e) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    memcpy(d, s, n + 1);
    return d;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* Required (or optional) string; *out = malloc'd copy or NULL when absent and optional. */
static bool get_str(P *p, const cJSON *o, const char *k, const char *path, bool required, size_t maxlen, char **out) {
    const cJSON *v = get(o, k);
    *out = NULL;
    if (!v) {
        if (!required) return true;
        if (*path) return err_set(p->e, ERR_FORMAT, "%s: %s.%s is missing", p->file, path, k);
        return err_set(p->e, ERR_FORMAT, "%s: \"%s\" is missing", p->file, k);
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return err_set(p->e, ERR_FORMAT, "%s: %s%s%s must be a string", p->file, path, *path ? "." : "", k);
    if (required && !v->valuestring[0]) return err_set(p->e, ERR_FORMAT, "%s: %s%s%s is empty", p->file, path, *path ? "." : "", k);
    if (strlen(v->valuestring) > maxlen)
        return err_set(p->e, ERR_FORMAT, "%s: %s%s%s is longer than %zu bytes", p->file, path, *path ? "." : "", k, maxlen);
    *out = dupstr(v->valuestring, p->e);
    return *out != NULL;
}

static bool only_fields(P *p, const cJSON *o, const char *allowed, const char *path) {
    for (const cJSON *c = o->child; c; c = c->next) {
        const char *k = c->string ? c->string : "";
        bool ok = false;
        size_t kl = strlen(k);
        for (const char *a = allowed; *a && !ok;) {
            size_t al = strcspn(a, " ");
            if (al == kl && kl && !strncmp(a, k, al)) ok = true;
            a += al;
            while (*a == ' ') a++;
        }
        if (!ok) return err_set(p->e, ERR_FORMAT, "%s: %s: unknown field \"%.60s\" (allowed: %s)", p->file, path, k, allowed);
    }
    return true;
}

/* Integer field within [lo, hi]; "last" allowed when allow_last. Absent -> dflt. */
static bool get_int(P *p, const cJSON *o, const char *k, const char *path, long lo, long hi, bool allow_last, int dflt, int *out) {
    const cJSON *v = get(o, k);
    *out = dflt;
    if (!v) return true;
    if (allow_last && cJSON_IsString(v) && v->valuestring && !strcmp(v->valuestring, "last")) { *out = LESSON_LAST; return true; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return err_set(p->e, ERR_FORMAT, "%s: %s.%s must be an integer in [%ld, %ld]%s", p->file, path, k, lo, hi,
                       allow_last ? " or \"last\"" : "");
    *out = (int)v->valuedouble;
    return true;
}

static bool get_bool(P *p, const cJSON *o, const char *k, const char *path, bool dflt, bool *out) {
    const cJSON *v = get(o, k);
    *out = dflt;
    if (!v) return true;
    if (!cJSON_IsBool(v)) return err_set(p->e, ERR_FORMAT, "%s: %s.%s must be true or false", p->file, path, k);
    *out = cJSON_IsTrue(v);
    return true;
}

static bool get_num(P *p, const cJSON *o, const char *k, const char *path, double lo, double hi, double dflt, double *out) {
    const cJSON *v = get(o, k);
    *out = dflt;
    if (!v) return true;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return err_set(p->e, ERR_FORMAT, "%s: %s.%s must be a number in [%g, %g]", p->file, path, k, lo, hi);
    *out = v->valuedouble;
    return true;
}

#define MAX_POS 1000000L

/* "slot": "A" (0) or "B" (1); absent -> -1 (both sessions, or A for load). */
static bool get_slot(P *p, const cJSON *o, const char *path, int *slot) {
    const cJSON *v = get(o, "slot");
    *slot = -1;
    if (!v) return true;
    if (!cJSON_IsString(v) || !v->valuestring || (strcmp(v->valuestring, "A") && strcmp(v->valuestring, "B")))
        return err_set(p->e, ERR_FORMAT, "%s: %s.slot must be \"A\" or \"B\"", p->file, path);
    *slot = v->valuestring[0] == 'B';
    return true;
}

static bool parse_action(P *p, const cJSON *o, const char *path, LessonAction *a) {
    memset(a, 0, sizeof *a);
    a->pos = a->key = a->layer = a->head = LESSON_UNSET;
    a->n = 1;
    a->prefill = true;
    a->sampler = (SamplerCfg){.greedy = true, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
    if (!cJSON_IsObject(o)) return err_set(p->e, ERR_FORMAT, "%s: %s must be an object like {\"do\": \"step\"}", p->file, path);
    const cJSON *d = get(o, "do");
    if (!d || !cJSON_IsString(d) || !d->valuestring)
        return err_set(p->e, ERR_FORMAT, "%s: %s.do is missing (one of: load prompt step back token key highlight stage "
                       "step_into panel side layer head compare ablate sampler keys)", p->file, path);
    int kind = -1;
    for (int i = 0; i < LA_COUNT; i++) if (!strcmp(d->valuestring, ACT_NAMES[i])) kind = i;
    if (kind < 0)
        return err_set(p->e, ERR_FORMAT, "%s: %s.do: unknown action \"%.40s\" (one of: load prompt step back token key "
                       "highlight stage step_into panel side layer head compare ablate sampler keys texts)", p->file, path, d->valuestring);
    a->kind = (LessonActKind)kind;
    char allowed[128];
    snprintf(allowed, sizeof allowed, "do %s", ACT_FIELDS[kind]);
    if (!only_fields(p, o, allowed, path)) return false;
    switch (a->kind) {
    case LA_LOAD:
        if (!get_str(p, o, "model", path, true, 1000, &a->str)) return false;
        if (!get_slot(p, o, path, &a->slot)) return false;
        if (a->slot < 0) a->slot = 0;
        return true;
    case LA_PROMPT:
        if (!get_str(p, o, "text", path, true, 8000, &a->str)) return false;
        return get_bool(p, o, "prefill", path, true, &a->prefill);
    case LA_STEP: case LA_BACK:
        return get_int(p, o, "n", path, 1, 4096, false, 1, &a->n);
    case LA_STEP_INTO:
        if (!get_int(p, o, "n", path, -1000, 1000, false, 1, &a->n)) return false;
        if (!a->n) return err_set(p->e, ERR_FORMAT, "%s: %s.n must not be 0", p->file, path);
        return true;
    case LA_TOKEN:
        if (!get_int(p, o, "pos", path, -MAX_POS, MAX_POS, true, LESSON_UNSET, &a->pos)) return false;
        if (a->pos == LESSON_UNSET) return err_set(p->e, ERR_FORMAT, "%s: %s.pos is missing", p->file, path);
        return true;
    case LA_KEY:
        if (!get_int(p, o, "pos", path, -MAX_POS, MAX_POS, true, LESSON_UNSET, &a->pos)) return false;
        if (!get_bool(p, o, "off", path, false, &a->off)) return false;
        if ((a->pos == LESSON_UNSET) == !a->off) return err_set(p->e, ERR_FORMAT, "%s: %s needs either \"pos\" or \"off\": true", p->file, path);
        return true;
    case LA_HIGHLIGHT:
        if (!get_int(p, o, "token", path, -MAX_POS, MAX_POS, true, LESSON_UNSET, &a->pos)) return false;
        if (!get_int(p, o, "key", path, -MAX_POS, MAX_POS, true, LESSON_UNSET, &a->key)) return false;
        if (!get_int(p, o, "layer", path, 0, 100000, true, LESSON_UNSET, &a->layer)) return false;
        if (!get_int(p, o, "head", path, 0, 100000, true, LESSON_UNSET, &a->head)) return false;
        if (a->pos == LESSON_UNSET && a->key == LESSON_UNSET)
            return err_set(p->e, ERR_FORMAT, "%s: %s needs \"token\" and/or \"key\" (the cell to mark)", p->file, path);
        return true;
    case LA_STAGE: {
        char *st = NULL;
        if (!get_str(p, o, "stage", path, true, 32, &st)) return false;
        a->stage = lesson_stage_find(st);
        if (a->stage < 0) {
            err_set(p->e, ERR_FORMAT, "%s: %s.stage: unknown stage \"%s\" (embed position norm1 qkv rope scores softmax "
                    "attn_out add1 norm2 ffn add2 final_norm logits sample)", p->file, path, st);
            free(st);
            return false;
        }
        free(st);
        return get_int(p, o, "layer", path, 0, 100000, true, LESSON_UNSET, &a->layer);
    }
    case LA_PANEL:
        return get_str(p, o, "panel", path, true, 32, &a->str);
    case LA_SIDE:
        if (!get_str(p, o, "panel", path, false, 32, &a->str) || !get_bool(p, o, "off", path, false, &a->off)) return false;
        if (!a->str == !a->off) return err_set(p->e, ERR_FORMAT, "%s: %s needs either \"panel\" or \"off\": true", p->file, path);
        return true;
    case LA_LAYER:
        if (!get_int(p, o, "layer", path, 0, 100000, true, LESSON_UNSET, &a->layer)) return false;
        if (a->layer == LESSON_UNSET) return err_set(p->e, ERR_FORMAT, "%s: %s.layer is missing", p->file, path);
        return true;
    case LA_HEAD:
        if (!get_int(p, o, "head", path, 0, 100000, true, LESSON_UNSET, &a->head)) return false;
        if (a->head == LESSON_UNSET) return err_set(p->e, ERR_FORMAT, "%s: %s.head is missing", p->file, path);
        return true;
    case LA_COMPARE:
        if (!get_str(p, o, "model", path, false, 1000, &a->str) || !get_bool(p, o, "off", path, false, &a->off)) return false;
        if (!a->str == !a->off) return err_set(p->e, ERR_FORMAT, "%s: %s needs either \"model\" or \"off\": true", p->file, path);
        return true;
    case LA_ABLATE:
        if (!get_slot(p, o, path, &a->slot)) return false;
        if (!get_bool(p, o, "off", path, false, &a->off)) return false;
        if (!get_int(p, o, "layer", path, 0, 100000, true, LESSON_UNSET, &a->layer)) return false;
        if (!get_int(p, o, "head", path, 0, 100000, true, LESSON_UNSET, &a->head)) return false;
        if (a->off ? (a->layer != LESSON_UNSET || a->head != LESSON_UNSET) : (a->layer == LESSON_UNSET || a->head == LESSON_UNSET))
            return err_set(p->e, ERR_FORMAT, "%s: %s needs \"layer\" and \"head\", or only \"off\": true", p->file, path);
        return true;
    case LA_SAMPLER: {
        if (!get_slot(p, o, path, &a->slot)) return false;
        double t, tp, seed;
        int tk;
        bool g;
        if (!get_bool(p, o, "greedy", path, !get(o, "temperature") && !get(o, "top_k") && !get(o, "top_p"), &g)) return false;
        if (!get_num(p, o, "temperature", path, 0.01, 10, 1.0, &t)) return false;
        if (!get_int(p, o, "top_k", path, 0, 1000000, false, 0, &tk)) return false;
        if (!get_num(p, o, "top_p", path, 0.001, 1, 1.0, &tp)) return false;
        if (!get_num(p, o, "seed", path, 0, 4294967295.0, 42, &seed)) return false;
        a->sampler = (SamplerCfg){.greedy = g, .temperature = (float)t, .top_k = tk, .top_p = (float)tp, .seed = (uint64_t)seed};
        return true;
    }
    case LA_KEYS:
        return get_str(p, o, "keys", path, true, 64, &a->str);
    case LA_TEXTS: {
        /* 1..SIM_TEXTS_MAX one-line strings, each shorter than SIM_TEXT_CAP bytes, kept joined by '\n' */
        const cJSON *arr = get(o, "texts");
        int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
        if (n < 1 || n > SIM_TEXTS_MAX)
            return err_set(p->e, ERR_FORMAT, "%s: %s.texts must be an array of 1 to %d strings", p->file, path, SIM_TEXTS_MAX);
        size_t total = 0;
        for (int i = 0; i < n; i++) {
            const cJSON *t = cJSON_GetArrayItem(arr, i);
            size_t len = cJSON_IsString(t) ? strlen(t->valuestring) : 0;
            if (!len || len >= SIM_TEXT_CAP || strpbrk(t->valuestring, "\n\r"))
                return err_set(p->e, ERR_FORMAT, "%s: %s.texts[%d] must be a non-empty one-line string of at most %d bytes",
                               p->file, path, i, SIM_TEXT_CAP - 1);
            total += len + 1;
        }
        a->str = malloc(total);
        if (!a->str) return err_set(p->e, ERR_MEMORY, "out of memory");
        a->str[0] = 0;
        for (int i = 0; i < n; i++) {
            if (i) strcat(a->str, "\n");
            strcat(a->str, cJSON_GetArrayItem(arr, i)->valuestring);
        }
        a->n = n;
        return true;
    }
    default: return err_set(p->e, ERR_FORMAT, "%s: %s: unhandled action", p->file, path);
    }
}

typedef struct { P *p; const char *path; } PhCtx;

static bool ph_check(void *ud, const LessonPh *ph, Err *e) {
    PhCtx *c = ud;
    Err e2 = {0};
    if (!lesson_ph_validate(ph, c->p->l, &e2)) return err_set(e, ERR_FORMAT, "%s: %s: %s", c->p->file, c->path, e2.msg);
    return true;
}

static bool check_template(P *p, const char *tpl, const char *path) {
    if (!tpl) return true;
    PhCtx c = {p, path};
    Err e2 = {0};
    if (!lesson_template_scan(tpl, ph_check, &c, &e2)) {
        if (strncmp(e2.msg, p->file, strlen(p->file)) == 0) *p->e = e2;
        else err_set(p->e, ERR_FORMAT, "%s: %s: %s", p->file, path, e2.msg);
        return false;
    }
    return true;
}

/* "target": "panel.element[:arg]" or an array of 1..LESSON_MAX_TARGETS of them. */
static bool parse_targets(P *p, const cJSON *o, const char *path, LessonStep *s) {
    const cJSON *t = get(o, "target");
    if (!t) return true;
    const cJSON *one[1] = {t};
    int n = cJSON_IsArray(t) ? cJSON_GetArraySize(t) : 1;
    if (cJSON_IsArray(t) && (n < 1 || n > LESSON_MAX_TARGETS))
        return err_set(p->e, ERR_FORMAT, "%s: %s.target must name 1 to %d elements", p->file, path, LESSON_MAX_TARGETS);
    const cJSON *c = cJSON_IsArray(t) ? t->child : one[0];
    for (int k = 0; k < n && c; k++, c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring || !c->valuestring[0] || strlen(c->valuestring) > 40)
            return err_set(p->e, ERR_FORMAT, "%s: %s.target must be a name like \"attention.cell\" (or an array of them)", p->file, path);
        Err e2 = {0};
        if (!lesson_target_validate(c->valuestring, &e2)) return err_set(p->e, ERR_FORMAT, "%s: %s.target: %s", p->file, path, e2.msg);
        if (!(s->target[k] = dupstr(c->valuestring, p->e))) return false;
        s->n_targets = k + 1;
        if (!cJSON_IsArray(t)) break;
    }
    return true;
}

/* "predict": {"kind", "ask", "value", "choices", "explain", "try"} (docs/lessons.md). */
static bool parse_predict(P *p, const cJSON *o, const char *path, LessonStep *s) {
    const cJSON *pr = get(o, "predict");
    if (!pr) return true;
    char pp[96];
    snprintf(pp, sizeof pp, "%s.predict", path);
    if (!cJSON_IsObject(pr)) return err_set(p->e, ERR_FORMAT, "%s: %s must be an object {\"kind\", \"ask\", \"value\", \"try\"}", p->file, pp);
    if (!only_fields(p, pr, "kind ask value choices explain try", pp)) return false;
    LessonPredict *d = &s->predict;
    char *kind = NULL;
    if (!get_str(p, pr, "kind", pp, true, 16, &kind)) return false;
    d->kind = !strcmp(kind, "number") ? LP_NUMBER : !strcmp(kind, "choice") ? LP_CHOICE : !strcmp(kind, "token") ? LP_TOKEN : LP_NONE;
    if (d->kind == LP_NONE) {
        err_set(p->e, ERR_FORMAT, "%s: %s.kind must be \"number\", \"choice\" or \"token\" (got \"%.20s\")", p->file, pp, kind);
        free(kind);
        return false;
    }
    free(kind);
    if (!get_str(p, pr, "ask", pp, true, LESSON_MAX_TEXT, &d->ask) || !get_str(p, pr, "value", pp, true, 400, &d->value) ||
        !get_str(p, pr, "explain", pp, false, LESSON_MAX_TEXT, &d->explain) || !get_str(p, pr, "try", pp, true, 100, &d->try_answer))
        return false;
    const cJSON *ch = get(pr, "choices");
    if (d->kind == LP_CHOICE) {
        int n = ch && cJSON_IsArray(ch) ? cJSON_GetArraySize(ch) : 0;
        if (n < 2 || n > LESSON_MAX_CHOICES)
            return err_set(p->e, ERR_FORMAT, "%s: %s.choices must be an array of 2 to %d strings", p->file, pp, LESSON_MAX_CHOICES);
        int k = 0;
        for (const cJSON *c = ch->child; c; c = c->next, k++) {
            if (!cJSON_IsString(c) || !c->valuestring[0] || strlen(c->valuestring) > 80)
                return err_set(p->e, ERR_FORMAT, "%s: %s.choices[%d] must be a non-empty string of at most 80 bytes", p->file, pp, k);
            if (!(d->choices[k] = dupstr(c->valuestring, p->e))) return false;
            d->n_choices = k + 1;
        }
    } else if (ch) {
        return err_set(p->e, ERR_FORMAT, "%s: %s.choices is only for \"kind\": \"choice\"", p->file, pp);
    }
    return true;
}

static bool parse_step(P *p, const cJSON *o, int i, LessonStep *s) {
    char path[64];
    snprintf(path, sizeof path, "steps[%d]", i);
    if (!cJSON_IsObject(o)) return err_set(p->e, ERR_FORMAT, "%s: %s must be an object", p->file, path);
    if (!only_fields(p, o, "title text actions question answer sources target predict", path)) return false;
    /* sources: where a subtle claim of the step comes from (papers, code), for the reviewer;
     * not shown on screen */
    const cJSON *src = get(o, "sources");
    if (src) {
        if (!cJSON_IsArray(src) || cJSON_GetArraySize(src) < 1 || cJSON_GetArraySize(src) > 16)
            return err_set(p->e, ERR_FORMAT, "%s: %s.sources must be an array of 1 to 16 strings", p->file, path);
        int k = 0;
        for (const cJSON *c = src->child; c; c = c->next, k++)
            if (!cJSON_IsString(c) || !c->valuestring[0] || strlen(c->valuestring) > 1000)
                return err_set(p->e, ERR_FORMAT, "%s: %s.sources[%d] must be a non-empty string of at most 1000 bytes", p->file, path, k);
    }
    if (!get_str(p, o, "title", path, false, 200, &s->title)) return false;
    if (!get_str(p, o, "text", path, true, LESSON_MAX_TEXT, &s->text)) return false;
    if (!get_str(p, o, "question", path, false, LESSON_MAX_TEXT, &s->question)) return false;
    if (!get_str(p, o, "answer", path, false, LESSON_MAX_TEXT, &s->answer)) return false;
    if (!s->question != !s->answer)
        return err_set(p->e, ERR_FORMAT, "%s: %s: \"question\" and \"answer\" come together", p->file, path);
    const cJSON *acts = get(o, "actions");
    if (acts) {
        if (!cJSON_IsArray(acts)) return err_set(p->e, ERR_FORMAT, "%s: %s.actions must be an array", p->file, path);
        int n = cJSON_GetArraySize(acts);
        if (n > LESSON_MAX_ACTIONS) return err_set(p->e, ERR_FORMAT, "%s: %s.actions has %d entries (at most %d)", p->file, path, n, LESSON_MAX_ACTIONS);
        if (n) {
            s->actions = calloc((size_t)n, sizeof *s->actions);
            if (!s->actions) return err_set(p->e, ERR_MEMORY, "out of memory");
        }
        int k = 0;
        for (const cJSON *a = acts->child; a && k < n; a = a->next, k++) {
            char ap[96];
            snprintf(ap, sizeof ap, "%s.actions[%d]", path, k);
            s->n_actions = k + 1;
            if (!parse_action(p, a, ap, &s->actions[k])) return false;
        }
    }
    if (!parse_targets(p, o, path, s) || !parse_predict(p, o, path, s)) return false;
    if (s->question && s->predict.kind != LP_NONE)
        return err_set(p->e, ERR_FORMAT, "%s: %s: a step has \"question\" or \"predict\", not both", p->file, path);
    char tp[96];
    snprintf(tp, sizeof tp, "%s.text", path);
    if (!check_template(p, s->text, tp)) return false;
    snprintf(tp, sizeof tp, "%s.question", path);
    if (!check_template(p, s->question, tp)) return false;
    snprintf(tp, sizeof tp, "%s.answer", path);
    if (!check_template(p, s->answer, tp)) return false;
    const LessonPredict *pr = &s->predict;
    if (pr->kind != LP_NONE) {
        snprintf(tp, sizeof tp, "%s.predict.ask", path);
        if (!check_template(p, pr->ask, tp)) return false;
        snprintf(tp, sizeof tp, "%s.predict.value", path);
        if (!check_template(p, pr->value, tp)) return false;
        snprintf(tp, sizeof tp, "%s.predict.explain", path);
        if (!check_template(p, pr->explain, tp)) return false;
    }
    if (s->title) {
        snprintf(tp, sizeof tp, "%s.title", path);
        if (!check_template(p, s->title, tp)) return false;
    }
    return true;
}

static bool id_ok(const char *id) {
    if (!*id) return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) return false;
    return true;
}

Lesson *lesson_parse(const char *buf, size_t len, const char *name, Err *e) {
    const char *file = name && *name ? name : "(lesson)";
    if (!buf) { err_set(e, ERR_ARG, "%s: no data", file); return NULL; }
    if (len > LESSON_MAX_BYTES) { err_set(e, ERR_FORMAT, "%s: %zu bytes is larger than a lesson may be (%u)", file, len, LESSON_MAX_BYTES); return NULL; }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (!root) {
        size_t off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        int line = 1;
        for (size_t i = 0; i < off; i++) if (buf[i] == '\n') line++;
        err_set(e, ERR_FORMAT, "%s: not valid JSON near byte %zu (line %d)", file, off, line);
        return NULL;
    }
    Lesson *l = calloc(1, sizeof *l);
    if (!l) { cJSON_Delete(root); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    snprintf(l->file, sizeof l->file, "%s", file);
    P p = {l->file, e, l};
    bool ok = cJSON_IsObject(root);
    if (!ok) err_set(e, ERR_FORMAT, "%s: a lesson is a JSON object", file);
    ok = ok && only_fields(&p, root, "$schema id lang title summary model prompt refs steps", "lesson");
    ok = ok && get_str(&p, root, "id", "", true, 64, &l->id);
    if (ok && !id_ok(l->id)) ok = err_set(e, ERR_FORMAT, "%s: id \"%s\" may only use a-z 0-9 - _", file, l->id);
    ok = ok && get_str(&p, root, "lang", "", true, 8, &l->lang);
    if (ok && strcmp(l->lang, "en") && strcmp(l->lang, "zh")) ok = err_set(e, ERR_FORMAT, "%s: lang must be \"en\" or \"zh\" (got \"%s\")", file, l->lang);
    ok = ok && get_str(&p, root, "title", "", true, 200, &l->title);
    ok = ok && get_str(&p, root, "summary", "", true, 2000, &l->summary);
    ok = ok && get_str(&p, root, "model", "", true, 1000, &l->model);
    ok = ok && get_str(&p, root, "prompt", "", true, 8000, &l->prompt);
    if (ok) {
        const cJSON *refs = get(root, "refs");
        if (refs && !cJSON_IsObject(refs)) ok = err_set(e, ERR_FORMAT, "%s: refs must be an object {\"name\": \"path\"}", file);
        for (const cJSON *r = refs ? refs->child : NULL; ok && r; r = r->next) {
            const char *nm = r->string ? r->string : "";
            if (l->n_refs >= LESSON_MAX_REFS) { ok = err_set(e, ERR_FORMAT, "%s: more than %d refs", file, LESSON_MAX_REFS); break; }
            bool good = *nm && strlen(nm) < sizeof l->refs[0].name && strcmp(nm, "A") && strcmp(nm, "B");
            for (const char *c = nm; good && *c; c++) good = ref_char(*c);
            if (!good) { ok = err_set(e, ERR_FORMAT, "%s: refs: bad name \"%.40s\" (letters, digits, - _; not A or B)", file, nm); break; }
            for (int i = 0; i < l->n_refs; i++)
                if (!strcmp(l->refs[i].name, nm)) ok = err_set(e, ERR_FORMAT, "%s: refs: \"%s\" given twice", file, nm);
            if (!ok) break;
            if (!cJSON_IsString(r) || !r->valuestring || !r->valuestring[0] || strlen(r->valuestring) > 1000) {
                ok = err_set(e, ERR_FORMAT, "%s: refs.%s must be a path (a model or config directory)", file, nm);
                break;
            }
            snprintf(l->refs[l->n_refs].name, sizeof l->refs[0].name, "%s", nm);
            l->refs[l->n_refs].path = dupstr(r->valuestring, e);
            if (!l->refs[l->n_refs].path) { ok = false; break; }
            l->n_refs++;
        }
    }
    if (ok) {
        const cJSON *steps = get(root, "steps");
        if (!steps) ok = err_set(e, ERR_FORMAT, "%s: \"steps\" is missing", file);
        else if (!cJSON_IsArray(steps)) ok = err_set(e, ERR_FORMAT, "%s: steps must be an array", file);
        else {
            int n = cJSON_GetArraySize(steps);
            if (n < 1 || n > LESSON_MAX_STEPS) ok = err_set(e, ERR_FORMAT, "%s: steps has %d entries (1 to %d)", file, n, LESSON_MAX_STEPS);
            else if (!(l->steps = calloc((size_t)n, sizeof *l->steps))) ok = err_set(e, ERR_MEMORY, "out of memory");
            int i = 0;
            for (const cJSON *s = ok ? steps->child : NULL; s && i < n; s = s->next, i++) {
                l->n_steps = i + 1;
                if (!parse_step(&p, s, i, &l->steps[i])) { ok = false; break; }
            }
        }
    }
    if (ok) {
        /* the summary and title may quote values too */
        ok = check_template(&p, l->title, "title") && check_template(&p, l->summary, "summary");
    }
    cJSON_Delete(root);
    if (!ok) { lesson_free(l); return NULL; }
    return l;
}

Lesson *lesson_load(const char *path, Err *e) {
    size_t len = 0;
    char *buf = file_read_all(path, &len, LESSON_MAX_BYTES, e);
    if (!buf) return NULL;
    Lesson *l = lesson_parse(buf, len, path, e);
    free(buf);
    return l;
}

void lesson_free(Lesson *l) {
    if (!l) return;
    for (int i = 0; i < l->n_steps; i++) {
        LessonStep *s = &l->steps[i];
        free(s->title); free(s->text); free(s->question); free(s->answer);
        for (int k = 0; k < s->n_actions; k++) free(s->actions[k].str);
        free(s->actions);
        for (int k = 0; k < s->n_targets; k++) free(s->target[k]);
        LessonPredict *pr = &s->predict;
        free(pr->ask); free(pr->value); free(pr->explain); free(pr->try_answer);
        for (int k = 0; k < pr->n_choices; k++) free(pr->choices[k]);
    }
    free(l->steps);
    for (int i = 0; i < l->n_refs; i++) free(l->refs[i].path);
    free(l->id); free(l->title); free(l->summary); free(l->lang); free(l->model); free(l->prompt);
    free(l);
}

/* ---- where lessons live ---------------------------------------------------------------------- */

const char *lesson_find_root(char *out, size_t cap) {
    const char *env = getenv("LLMSCOPE_ROOT");
    if (env && *env) { snprintf(out, cap, "%s", env); return out; }
    if (!path_find_above_exe("lessons/", 4, out, cap)) snprintf(out, cap, ".");
    return out;
}

void lesson_dir(const char *root, const char *lang, char *out, size_t cap) {
    if (lang && !strcmp(lang, "zh")) snprintf(out, cap, "%s/lessons/zh", root);
    else snprintf(out, cap, "%s/lessons", root);
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int lesson_list_files(const char *dir, char ***paths) {
    *paths = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t L = strlen(de->d_name);
        if (de->d_name[0] == '.' || L < 6 || strcmp(de->d_name + L - 5, ".json")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) break;
            v = nv;
        }
        size_t need = strlen(dir) + L + 2;
        v[n] = malloc(need);
        if (!v[n]) break;
        snprintf(v[n], need, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_path);
    *paths = v;
    return n;
}

void lesson_free_list(char **paths, int n) {
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

bool lesson_resolve(const char *dir, const char *name, char *out, size_t cap, Err *e) {
    if (strchr(name, '/') || (strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".json"))) {
        if (file_exists(name)) { snprintf(out, cap, "%s", name); return true; }
    }
    char **v;
    int n = lesson_list_files(dir, &v);
    /* a number matches the leading digits of the file name ("6" -> "06-...json") */
    char *endp;
    long num = strtol(name, &endp, 10);
    bool is_num = *name && !*endp;
    int found = -1;
    for (int i = 0; i < n && found < 0; i++) {
        const char *base = strrchr(v[i], '/');
        base = base ? base + 1 : v[i];
        size_t bl = strlen(base) - 5;
        if (is_num) {
            char *e2;
            long k = strtol(base, &e2, 10);
            if (e2 != base && k == num) found = i;
        } else if ((strlen(name) == bl && !strncmp(base, name, bl))) {
            found = i;
        } else {
            /* "attention-variants" matches "06-attention-variants" */
            const char *dash = strchr(base, '-');
            if (dash && strlen(name) == bl - (size_t)(dash + 1 - base) && !strncmp(dash + 1, name, strlen(name))) found = i;
        }
    }
    if (found >= 0) snprintf(out, cap, "%s", v[found]);
    lesson_free_list(v, n);
    if (found < 0) return err_set(e, ERR_ARG, "no lesson \"%s\" in %s (llmscope lesson list shows them)", name, dir);
    return true;
}

void lesson_path(const char *root, const char *p, char *out, size_t cap) {
    if (p[0] == '/' || !root || !*root || !strcmp(root, ".")) snprintf(out, cap, "%s", p);
    else snprintf(out, cap, "%s/%s", root, p);
}
