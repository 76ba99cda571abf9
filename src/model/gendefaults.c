/* A model's own sampling defaults: generation_config.json (transformers) or GGUF
 * general.sampling.* (llama.cpp), over transformers' GenerationConfig defaults.
 *
 * A field of the wrong type or value is not dropped silently: it is recorded with a message
 * naming the file, the field and the value (GenDefaults.bad), and a command that would sample
 * with it fails (engine/gencfg.c). transformers behaves alike: GenerationConfig keeps any value
 * and generate() fails on it only when sampling builds its warpers from it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/gguf.h"
#include "model/model.h"

void gen_defaults_reset(GenDefaults *g) {
    memset(g, 0, sizeof *g);
    g->do_sample = false;
    g->temperature = 1.0f;
    g->top_k = 50;
    g->top_p = 1.0f;
}

/* What a JSON value is, for messages: `the string "50"`, `an array`, `null`, `the number 1.5`. */
static void json_what(const cJSON *v, char *out, size_t cap) {
    if (cJSON_IsString(v)) snprintf(out, cap, "the string \"%.40s\"%s", v->valuestring, strlen(v->valuestring) > 40 ? "..." : "");
    else if (cJSON_IsNumber(v)) snprintf(out, cap, "the number %g", v->valuedouble);
    else if (cJSON_IsBool(v)) snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(out, cap, "null");
    else if (cJSON_IsArray(v)) snprintf(out, cap, "an array");
    else snprintf(out, cap, "an object");
}

static const char *const k_json_names[GEN_NFIELDS] = {"do_sample", "temperature", "top_k", "top_p"};

/* ---- a number's text: cJSON keeps one double, Python's json an int or a float ----------------- */

static const char *ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Past the string starting at p (the opening quote). */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
    return p < end ? p + 1 : end;
}

/* Past the value starting at p (valid JSON: cJSON parsed it already). */
static const char *skip_value(const char *p, const char *end) {
    if (p < end && *p == '"') return skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        while (p < end) {
            if (*p == '"') { p = skip_string(p, end); continue; }
            if (*p == '{' || *p == '[') depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    return p;
}

/* The text of the first top-level member `key` of the JSON object in [json, json+len) (the one
 * cJSON_GetObjectItemCaseSensitive returns) into out; false when absent. A key written with escapes
 * is compared as written. */
static bool json_member_text(const char *json, size_t len, const char *key, char *out, size_t cap) {
    const char *p = json, *end = json + len;
    const size_t kl = strlen(key);
    p = ws(p, end);
    if (p >= end || *p != '{') return false;
    p = ws(p + 1, end);
    while (p < end && *p == '"') {
        const char *k0 = p + 1, *k1 = skip_string(p, end) - 1;
        p = ws(k1 + 1, end);
        if (p >= end || *p != ':') return false;
        p = ws(p + 1, end);
        const char *v0 = p;
        p = skip_value(p, end);
        if ((size_t)(k1 - k0) == kl && !memcmp(k0, key, kl)) {
            snprintf(out, cap, "%.*s", (int)(p - v0), v0);
            return true;
        }
        p = ws(p, end);
        if (p < end && *p == ',') p = ws(p + 1, end);
    }
    return false;
}

/* Whether a JSON number's text is what Python's json.loads makes a float (a fraction or an
 * exponent: "50.0", "1e3"), not an int ("50"). */
static bool json_number_is_float(const char *text) { return strpbrk(text, ".eE") != NULL; }

/* Checks a number for field f (finite, in range; top_k whole); "" when fine, else why. */
static void gen_check_number(GenField f, double x, bool gguf, char *why, size_t cap) {
    why[0] = 0;
    if (!isfinite(x) || fabs(x) > FLT_MAX) snprintf(why, cap, "it must be a finite number");
    else if (f == GEN_TEMPERATURE && x < 0 && gguf) snprintf(why, cap, "it must be at least 0 (0 = greedy)");
    else if (f == GEN_TEMPERATURE && x < 0) snprintf(why, cap, "it must be above 0 (\"do_sample\": false decodes greedily)");
    else if (f == GEN_TOP_K && x < 0) snprintf(why, cap, "it must be at least 0 (0 = no top-k filter)");
    else if (f == GEN_TOP_K && x != floor(x)) snprintf(why, cap, "it must be a whole number");
    else if (f == GEN_TOP_P && !(x > 0 && x <= 1)) snprintf(why, cap, "it must be above 0 and at most 1 (1 = all tokens)");
}

static void gen_set_number(GenDefaults *g, GenField f, double x) {
    g->given[f] = true;
    if (f == GEN_TEMPERATURE) g->temperature = (float)x;
    else if (f == GEN_TOP_K) g->top_k = x > 2147483647.0 ? 2147483647 : (int)x;
    else if (f == GEN_TOP_P) g->top_p = (float)x;
}

/* transformers' GenerationConfig.validate(), "1. detect sampling-only parameterization when not in
 * sampling mode": with `do_sample is False` (left out is its default, False; a do_sample that is no
 * bool is not False, so nothing is said) it warns on each of these fields that is not None and
 * differs from the default as Python's != compares (min_p on any value; top_k only while
 * penalty_alpha is None). A field already in bad[] is said there. */
static void gen_greedy_unused(GenDefaults *g, const cJSON *root, const char *json, size_t len, const char *path) {
    g->n_greedy_unused = 0;
    if (g->do_sample || g->bad[GEN_DO_SAMPLE][0]) return;
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(root, "penalty_alpha");
    const bool contrastive = pa && !cJSON_IsNull(pa);
    /* a wrong field validate() passes over: equal to its default as Python compares ("top_k": 50.0
     * == 50), or top_k while penalty_alpha is set */
    static const double k_validate_dflt[GEN_NFIELDS] = {0, 1, 50, 1};
    for (int f = GEN_TEMPERATURE; f < GEN_NFIELDS; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_json_names[f]);
        if (!g->bad[f][0] || !v) continue;
        const bool num = cJSON_IsNumber(v) || cJSON_IsBool(v);
        const double x = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsTrue(v) ? 1 : 0;
        if (num && x == k_validate_dflt[f])
            g->bad_quiet[f] = f == GEN_TOP_K ? "validate() finds it equal to the default 50, as Python compares"
                                             : "validate() finds it equal to the default 1.0, as Python compares";
        else if (f == GEN_TOP_K && contrastive)
            g->bad_quiet[f] = "validate() leaves top_k to contrastive search while \"penalty_alpha\" is set";
    }
    static const struct { const char *key, *opt; GenField field; bool any; double dflt; } k[] = {
        {"temperature", "--temp", GEN_TEMPERATURE, false, 1}, {"top_p", "--top-p", GEN_TOP_P, false, 1},
        {"min_p", NULL, GEN_NFIELDS, true, 0}, {"typical_p", NULL, GEN_NFIELDS, false, 1},
        {"top_k", "--top-k", GEN_TOP_K, false, 50}, {"epsilon_cutoff", NULL, GEN_NFIELDS, false, 0},
        {"eta_cutoff", NULL, GEN_NFIELDS, false, 0}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k[i].key);
        if (!v || cJSON_IsNull(v) || (k[i].field < GEN_NFIELDS && g->bad[k[i].field][0])) continue;
        if (k[i].field == GEN_TOP_K && contrastive) continue;
        /* Python: a number or a bool (True == 1) against the default; a str, list or dict is != */
        if (!k[i].any && (cJSON_IsNumber(v) || cJSON_IsBool(v)) && (cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsTrue(v) ? 1 : 0) == k[i].dflt)
            continue;
        char what[80];
        if (!cJSON_IsNumber(v) || !json_member_text(json, len, k[i].key, what, sizeof what)) json_what(v, what, sizeof what);
        const int n = g->n_greedy_unused++;
        snprintf(g->greedy_unused[n].text, sizeof g->greedy_unused[n].text, "%s: \"%s\" is %s", path, k[i].key, what);
        g->greedy_unused[n].key = k[i].key;
        g->greedy_unused[n].opt = k[i].opt;
    }
}

bool gen_defaults_from_json(GenDefaults *g, const char *json, size_t len, const char *path) {
    gen_defaults_reset(g);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) { cJSON_Delete(root); return false; }
    g->source = GEN_SRC_JSON;
    snprintf(g->file, sizeof g->file, "generation_config.json");
    for (int f = 0; f < GEN_NFIELDS; f++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k_json_names[f]);
        if (!v) continue;   /* left out: transformers' default */
        char what[80], why[96];
        json_what(v, what, sizeof what);
        if (f == GEN_DO_SAMPLE) {
            if (cJSON_IsBool(v)) { g->given[f] = true; g->do_sample = cJSON_IsTrue(v); }
            else snprintf(g->bad[f], sizeof g->bad[f], "%s: \"do_sample\" must be true or false, not %s", path, what);
            continue;
        }
        if (cJSON_IsNull(v)) {   /* None: transformers adds no warper for the field */
            g->given[f] = true;
            if (f == GEN_TEMPERATURE) g->temperature = 1.0f;
            else if (f == GEN_TOP_K) g->top_k = 0;
            else g->top_p = 1.0f;
            continue;
        }
        if (cJSON_IsBool(v) && (f == GEN_TOP_K ? cJSON_IsFalse(v) : cJSON_IsTrue(v))) {
            /* Python's bool is an int (True == 1, False == 0), and generate() builds a warper only for a
             * value other than the neutral one (temperature != 1.0, top_k != 0, top_p < 1.0): a true
             * temperature or top_p and a false top_k build none, so they act as 1, 1 and 0 */
            gen_set_number(g, (GenField)f, cJSON_IsTrue(v) ? 1 : 0);
            continue;
        }
        if (cJSON_IsBool(v) && f == GEN_TEMPERATURE) {   /* False != 1.0: the warper is built and refuses 0 */
            snprintf(g->bad[f], sizeof g->bad[f], "%s: \"temperature\" is false (0 to Python): sampling needs a temperature above 0 "
                     "(transformers' generate() refuses it; \"do_sample\": false or --greedy decodes greedily)", path);
            continue;
        }
        if (cJSON_IsBool(v) && f == GEN_TOP_P) {   /* False < 1.0: TopPLogitsWarper takes it as 0, refused as the number 0 is */
            snprintf(g->bad[f], sizeof g->bad[f], "%s: \"top_p\" is false (0 to Python): it must be above 0 and at most 1 (1 = all tokens)", path);
            continue;
        }
        if (!cJSON_IsNumber(v)) {   /* a top_k of true reaches torch.topk, which takes no bool */
            snprintf(g->bad[f], sizeof g->bad[f], "%s: \"%s\" must be %s or null, not %s", path, k_json_names[f],
                     f == GEN_TOP_K ? "a whole number" : "a number", what);
            continue;
        }
        gen_check_number((GenField)f, v->valuedouble, false, why, sizeof why);
        /* transformers' warpers check the Python type the file's text gives: TemperatureLogitsWarper
         * raises on an int (`isinstance(temperature, float)`), built when the temperature is not 1;
         * TopKLogitsWarper on a float (`isinstance(top_k, int)`), built when top_k is not 0. A
         * temperature of 0 (either type) cannot sample: the warper raises on it too ("has to be a
         * strictly positive float ... If you're looking for greedy decoding strategies, set
         * `do_sample=False`"), so it is a field a sampling decode cannot use; a greedy decode (do_sample
         * false, --greedy) never reads it, as generate() never builds the warper then */
        char text[40];
        if (!why[0] && f == GEN_TEMPERATURE && v->valuedouble == 0) {
            if (!json_member_text(json, len, k_json_names[f], text, sizeof text)) snprintf(text, sizeof text, "0");
            snprintf(g->bad[f], sizeof g->bad[f], "%s: \"temperature\" is %s: sampling needs a temperature above 0 (transformers' "
                     "generate() refuses 0; \"do_sample\": false or --greedy decodes greedily)", path, text);
            continue;
        }
        if (!why[0] && (f == GEN_TEMPERATURE || f == GEN_TOP_K) && json_member_text(json, len, k_json_names[f], text, sizeof text)) {
            bool is_float = json_number_is_float(text);
            if (f == GEN_TEMPERATURE && !is_float && v->valuedouble != 1)
                snprintf(why, sizeof why, "an integer, and transformers' generate() takes a float only (write %s.0)", text);
            else if (f == GEN_TOP_K && is_float && v->valuedouble != 0)
                snprintf(why, sizeof why, "a float, and transformers' generate() takes an integer only (write %.0f)", v->valuedouble);
            if (why[0]) {
                snprintf(g->bad[f], sizeof g->bad[f], "%s: \"%s\" is %s: %s", path, k_json_names[f], text, why);
                continue;
            }
        }
        if (why[0]) snprintf(g->bad[f], sizeof g->bad[f], "%s: \"%s\" is %g: %s", path, k_json_names[f], v->valuedouble, why);
        else gen_set_number(g, (GenField)f, v->valuedouble);
    }
    gen_greedy_unused(g, root, json, len, path);
    /* what generate() would also apply and our sampler does not have: named, not dropped silently.
     * repetition_penalty and no_repeat_ngram_size are logits processors, applied in greedy decoding
     * too; the others are warpers, applied only when sampling (generate() builds them under
     * do_sample): the note for a greedy decode names the first two only (gen_defaults_unapplied) */
    static const struct { const char *key; double off; bool sampling_only; } others[] = {
        {"repetition_penalty", 1, false}, {"no_repeat_ngram_size", 0, false}, {"min_p", 0, true},
        {"typical_p", 1, true}, {"epsilon_cutoff", 0, true}, {"eta_cutoff", 0, true}};
    char list[2][256] = {"", ""};   /* [0] what acts in a greedy decode, [1] in a sampling one */
    size_t k[2] = {0, 0};
    for (size_t j = 0; j < sizeof others / sizeof others[0]; j++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, others[j].key);
        if (!v || cJSON_IsNull(v)) continue;
        if (cJSON_IsNumber(v) && v->valuedouble == others[j].off) continue;
        char what[80];
        json_what(v, what, sizeof what);
        for (int m = others[j].sampling_only ? 1 : 0; m < 2; m++)
            if (k[m] < sizeof list[m])
                k[m] += (size_t)snprintf(list[m] + k[m], sizeof list[m] - k[m], "%s\"%s\" %s", k[m] ? ", " : "", others[j].key,
                                         cJSON_IsNumber(v) ? what + strlen("the number ") : what);
    }
    char *out[2] = {g->unapplied, g->unapplied_sampling};
    for (int m = 0; m < 2; m++)
        if (k[m])
            snprintf(out[m], sizeof g->unapplied, "%s: %s: not applied (llmscope samples with temperature, top_k and top_p only; transformers' "
                     "generate() would apply %s)", path, list[m], strchr(list[m], ',') ? "them" : "it");
    cJSON_Delete(root);
    return true;
}

/* llama.cpp's keys (gguf-py constants Keys.General.SAMPLING_*; common.cpp reads them as the
 * model's defaults where the user did not set the option). */
static const char *const k_gguf_keys[GEN_NFIELDS] = {NULL, "general.sampling.temp", "general.sampling.top_k", "general.sampling.top_p"};

/* The text llama.cpp's library keeps for a scalar metadata value (gguf_kv_to_str, through
 * llama_model_meta_val_str into common.cpp's 64-byte (integers) or 128-byte (floats) buffer):
 * integers in decimal, floats as std::to_string ("%f": 0.7f is "0.700000", 1e-7 is "0.000000"),
 * bools "true"/"false", strings as they are. false for an array: llama.cpp keeps no text for one. */
static bool gguf_value_text(const GgufKV *kv, char *out, size_t cap) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64:
        snprintf(out, cap, "%llu", (unsigned long long)kv->v.u); return true;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        snprintf(out, cap, "%lld", (long long)kv->v.i); return true;
    case GGUF_FLOAT32: case GGUF_FLOAT64: snprintf(out, cap, "%f", kv->v.f); return true;
    case GGUF_BOOL: snprintf(out, cap, "%s", kv->v.u ? "true" : "false"); return true;
    case GGUF_STRING: snprintf(out, cap, "%.*s", (int)(kv->str.len < cap ? kv->str.len : cap - 1), kv->str.s); return true;
    default: return false;
    }
}

void gen_defaults_from_gguf(GenDefaults *g, const GgufFile *file, const char *path) {
    gen_defaults_reset(g);
    bool any = false;
    char ignored[256] = "";
    size_t ni = 0;
    for (int f = GEN_TEMPERATURE; f < GEN_NFIELDS; f++) {
        const GgufKV *kv = gguf_find(file, k_gguf_keys[f]);
        if (!kv) continue;
        /* llama.cpp's common_init_sampler_from_model: the value's text through strtol (top_k, cast to
         * int32) or strtof (temp, top_p); a text that does not start with a number, and an array,
         * leave llama.cpp's own default, so here the key counts as left out (and a note says so) */
        char text[128], *end = NULL;
        bool is_text = gguf_value_text(kv, text, f == GEN_TOP_K ? 64 : 128);
        double x = 0;
        if (is_text) {
            errno = 0;
            x = f == GEN_TOP_K ? (double)strtol(text, &end, 10) : (double)strtof(text, &end);
        }
        if (!is_text || end == text) {
            if (ni < sizeof ignored)
                ni += (size_t)snprintf(ignored + ni, sizeof ignored - ni, "%s%s (%s%.40s%s)", ni ? ", " : "", k_gguf_keys[f],
                                       kv->type == GGUF_STRING ? "the string \"" : "of type ",
                                       kv->type == GGUF_STRING ? text : gguf_value_type_name(kv->type), kv->type == GGUF_STRING ? "\"" : "");
            continue;
        }
        any = true;
        char why[96] = "";
        if (f == GEN_TOP_K && (errno == ERANGE || x > 2147483647.0 || x < -2147483648.0))
            snprintf(why, sizeof why, "it must fit in 32 bits (llama.cpp reads an int32)");
        else gen_check_number((GenField)f, x, true, why, sizeof why);
        if (why[0]) snprintf(g->bad[f], sizeof g->bad[f], "%s: GGUF key \"%s\" is %g: %s", path, k_gguf_keys[f], x, why);
        else gen_set_number(g, (GenField)f, x);
    }
    if (any) {   /* llama.cpp samples whenever the temperature is above 0 */
        g->source = GEN_SRC_GGUF;
        snprintf(g->file, sizeof g->file, "the GGUF file");
        g->do_sample = true;
    }
    /* what llama.cpp would also apply and our sampler does not: say so rather than drop it silently.
     * In llama.cpp's sampler chain the penalties and XTC come before the temperature, so they act at
     * temperature 0 too (XTC may remove the top token); min_p keeps the top token and mirostat draws
     * after the temperature, so at 0 they change nothing: a greedy decode's note leaves them out */
    static const struct { const char *key; double off; bool sampling_only; } others[] = {
        {"general.sampling.min_p", 0, true}, {"general.sampling.penalty_repeat", 1, false}, {"general.sampling.mirostat", 0, true},
        {"general.sampling.xtc_probability", 0, false}};
    char list[2][256] = {"", ""};
    size_t k[2] = {0, 0};
    for (size_t j = 0; j < sizeof others / sizeof others[0]; j++) {
        double x;
        const GgufKV *kv = gguf_find(file, others[j].key);
        if (!kv) continue;
        bool num = kv->type != GGUF_BOOL && gguf_get_float(file, others[j].key, &x);
        if (num && x == others[j].off) continue;
        char val[32];
        if (num) snprintf(val, sizeof val, "%g", x);
        else snprintf(val, sizeof val, "(of type %s)", gguf_value_type_name(kv->type));
        for (int m = others[j].sampling_only ? 1 : 0; m < 2; m++)
            if (k[m] < sizeof list[m]) k[m] += (size_t)snprintf(list[m] + k[m], sizeof list[m] - k[m], "%s%s %s", k[m] ? ", " : "", others[j].key, val);
    }
    /* the keys that hold no number are named in both notes (llama.cpp ignores them too) */
    char *out[2] = {g->unapplied, g->unapplied_sampling};
    for (int m = 0; m < 2; m++) {
        int w = 0;
        if (k[m])
            w = snprintf(out[m], sizeof g->unapplied, "%s: GGUF %s: not applied (llmscope samples with temperature, top_k and top_p only; "
                         "llama.cpp would apply %s)", path, list[m], strchr(list[m], ',') ? "them" : "it");
        if (ni && w >= 0 && (size_t)w < sizeof g->unapplied)
            snprintf(out[m] + w, sizeof g->unapplied - (size_t)w, "%s%s: GGUF %s: not a number, ignored as llama.cpp ignores %s",
                     w ? "; " : "", path, ignored, strchr(ignored, ',') ? "them" : "it");
    }
}

const char *gen_defaults_unapplied(const GenDefaults *g, bool sampling) { return sampling ? g->unapplied_sampling : g->unapplied; }

/* A wrong field of a generation_config.json whose do_sample is false (or left out): the default decode is greedy */
static bool gen_bad_greedy(const GenDefaults *g, GenField f) {
    return g->source == GEN_SRC_JSON && f != GEN_DO_SAMPLE && f < GEN_NFIELDS && g->bad[f][0] && !g->bad[GEN_DO_SAMPLE][0] && !g->do_sample;
}

bool gen_defaults_bad_is_warning(const GenDefaults *g, GenField f) { return gen_bad_greedy(g, f) && !g->bad_quiet[f]; }

bool gen_defaults_bad_is_quiet(const GenDefaults *g, GenField f) { return gen_bad_greedy(g, f) && g->bad_quiet[f] != NULL; }
