/* {family.*} placeholders: values of assets/models/family.json, the measured architecture family
 * written by assets/models/train/train.py (docs/models.md). Read on each use (a few KB), so a
 * lesson always quotes the file as it is; nothing is typed into the lesson. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lesson/lesson.h"
#include "lesson/values_internal.h"

static void fmt_short(double x, char *out, size_t cap) {
    if (x >= 1e9) snprintf(out, cap, "%.2fB", x / 1e9);
    else if (x >= 1e6) snprintf(out, cap, "%.2fM", x / 1e6);
    else if (x >= 1e3) snprintf(out, cap, "%.1fK", x / 1e3);
    else snprintf(out, cap, "%.0f", x);
}

static void fmt_thousands(long long x, char *out, size_t cap) {
    char d[32];
    snprintf(d, sizeof d, "%lld", x < 0 ? -x : x);
    size_t n = strlen(d), o = 0;
    if (x < 0 && o + 1 < cap) out[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = d[i];
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double arr(const cJSON *o, const char *k, int i) {
    const cJSON *a = cJSON_GetObjectItem(o, k);
    const cJSON *v = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, i) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

bool lesson_family_value(const char *root, const LessonPh *ph, char *out, size_t cap, Err *e) {
    char path[2048];
    lesson_path(root, "assets/models/family.json", path, sizeof path);
    size_t len;
    Err fe = {0};
    char *txt = file_read_all(path, &len, 16u << 20, &fe);
    if (!txt) return err_set(e, ERR_IO, "{%s}: %s (written by assets/models/train/train.py)", ph->key, fe.msg);
    cJSON *j = cJSON_ParseWithLength(txt, len);
    free(txt);
    if (!j) return err_set(e, ERR_FORMAT, "{%s}: %s is not valid JSON", ph->key, path);
    const PhSpec *row = lesson_ph_find(ph->key);
    const PhId id = row ? row->id : PH_COUNT;
    const cJSON *vars = cJSON_GetObjectItem(j, "variants"), *tr = cJSON_GetObjectItem(j, "training");
    bool ok = true;
    double x = NAN;
    if (id == PH_family_variants) snprintf(out, cap, "%d", cJSON_GetArraySize(vars));
    else if (id == PH_family_steps) x = num(tr, "steps"), snprintf(out, cap, "%.0f", x);
    else if (id == PH_family_tokens) { x = num(tr, "tokens_per_run"); fmt_short(x, out, cap); }
    else if (id == PH_family_eval_tokens) { x = num(cJSON_GetObjectItem(j, "eval"), "tokens"); fmt_thousands((long long)x, out, cap); }
    else {
        const cJSON *v = NULL, *it;
        cJSON_ArrayForEach(it, vars) {
            const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name"));
            if (n && !strcmp(n, ph->arg)) v = it;
        }
        if (!v) {
            cJSON_Delete(j);
            return err_set(e, ERR_ARG, "{%s:%s}: no variant '%s' in %s", ph->key, ph->arg, ph->arg, path);
        }
        const cJSON *d = cJSON_GetObjectItem(v, "delta_vs_mha");
        if (id == PH_family_bpb) x = num(v, "bits_per_byte_mean"), snprintf(out, cap, "%.4f", x);
        else if (id == PH_family_ci_lo) x = arr(v, "ci95", 0), snprintf(out, cap, "%.4f", x);
        else if (id == PH_family_ci_hi) x = arr(v, "ci95", 1), snprintf(out, cap, "%.4f", x);
        else if (id == PH_family_story_lo) x = arr(v, "ci95_stories", 0), snprintf(out, cap, "%.4f", x);
        else if (id == PH_family_story_hi) x = arr(v, "ci95_stories", 1), snprintf(out, cap, "%.4f", x);
        else if (id == PH_family_delta) x = d ? num(d, "mean") : 0.0, snprintf(out, cap, "%+.4f", x);
        else if (id == PH_family_delta_lo) x = d ? arr(d, "ci95", 0) : 0.0, snprintf(out, cap, "%+.4f", x);
        else if (id == PH_family_delta_hi) x = d ? arr(d, "ci95", 1) : 0.0, snprintf(out, cap, "%+.4f", x);
        else if (id == PH_family_cmp) {
            /* the verdict of the paired t-interval over seeds: "<" (fewer bits than MHA, interval below 0),
             * ">" (above 0), "≈" (it holds 0: not told apart by these seeds), "=" for MHA itself */
            if (!d) x = 0.0, snprintf(out, cap, "=");
            else {
                const double lo = arr(d, "ci95", 0), hi = arr(d, "ci95", 1);
                x = lo + hi;
                snprintf(out, cap, "%s", hi < 0.0 ? "<" : lo > 0.0 ? ">" : "≈");
            }
        }
        else if (id == PH_family_params) { x = num(v, "params"); fmt_short(x, out, cap); }
        else if (id == PH_family_params_exact) { x = num(v, "params"); fmt_thousands((long long)x, out, cap); }
        else if (id == PH_family_kv_bytes) { x = num(v, "kv_bytes_per_token"); fmt_thousands((long long)x, out, cap); }
        else if (id == PH_family_seeds) { x = cJSON_GetArraySize(cJSON_GetObjectItem(v, "seeds")); snprintf(out, cap, "%.0f", x); }
        else ok = false;
    }
    cJSON_Delete(j);
    if (!ok) return err_set(e, ERR_ARG, "{%s}: unknown family value", ph->key);
    if (x != x && id != PH_family_variants) return err_set(e, ERR_FORMAT, "{%s%s%s}: missing in %s", ph->key, ph->arg[0] ? ":" : "", ph->arg, path);
    return true;
}

bool v_family(VC *c) { return lesson_family_value(c->v->root, c->ph, c->out, c->cap, c->e); }
