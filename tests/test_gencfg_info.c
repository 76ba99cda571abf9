/* What `info` says of a generation_config.json's sampling fields, as transformers'
 * GenerationConfig.validate() and generate() have them: a wrong field is a problem when the
 * default decode samples with it and a warning when "do_sample" is false (or left out); a valid
 * field that validate() warns on under do_sample false is a warning too. Text and --json. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "harness.h"
#include "gencfg_fx.h"

#define MODEL "assets/models/story-gqa"

/* How bad a wrong sampling field is, as transformers has it: with "do_sample": false (or left out,
 * its default) GenerationConfig.validate() only warns ("`do_sample` is set to `False`. However,
 * `temperature` is set to `0` -- this flag is only used in sample-based generation modes") and
 * generate() decodes greedily, so info lists it as a warning (text: a "warning" line, --json:
 * "warnings"); with do_sample true generate() builds the warper, which raises, so it is a problem
 * (text: "problem", --json: "problems"). A do_sample of the wrong type stays a problem. The old
 * info listed every one as a problem. validate() compares with Python's != : a top_k of 50.0 equals
 * its default 50 and a top_k is not checked while penalty_alpha is set, so it says nothing of them
 * (a "note" line, --json "quiet_problems": a sampling decode still fails on them), and a temperature
 * or top_p of true equals 1.0, so generate() builds no warper for them either: not wrong at all.
 * The old info called those four "transformers warns" (and true a wrong type). */
enum { PROBLEM, WARNING, QUIET, NONE };
static void severity_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done", dir, dir);
    REQUIRE(system(cmd) == 0);
    static const struct { const char *gcfg, *msg; int kind; } cases[] = {
        {"{\"do_sample\": false, \"temperature\": 0}", "\"temperature\" is 0: sampling needs a temperature above 0", WARNING},
        {"{\"temperature\": 0.0}", "\"temperature\" is 0.0: sampling needs a temperature above 0", WARNING},
        {"{\"do_sample\": false, \"top_p\": 0}", "\"top_p\" is 0: it must be above 0 and at most 1", WARNING},
        {"{\"do_sample\": true, \"temperature\": 0}", "\"temperature\" is 0: sampling needs a temperature above 0", PROBLEM},
        {"{\"do_sample\": \"false\"}", "\"do_sample\" must be true or false", PROBLEM},
        {"{\"top_k\": 50.0}", "\"top_k\" is 50.0: a float", QUIET},   /* 50.0 != 50 is False */
        {"{\"do_sample\": false, \"top_k\": 5e1}", "\"top_k\" is 5e1: a float", QUIET},
        {"{\"top_k\": -1, \"penalty_alpha\": 0.6}", "\"top_k\" is -1: it must be at least 0", QUIET},
        {"{\"top_k\": -1, \"penalty_alpha\": null}", "\"top_k\" is -1: it must be at least 0", WARNING},
        {"{\"top_k\": 40.0}", "\"top_k\" is 40.0: a float", WARNING},
        {"{\"do_sample\": true, \"top_k\": 50.0}", "\"top_k\" is 50.0: a float", PROBLEM},
        {"{\"temperature\": true, \"top_p\": true}", NULL, NONE},   /* True == 1.0 */
        {"{\"do_sample\": true, \"temperature\": true}", NULL, NONE},
    };
    static const char *const line_of[] = {"\n  problem         ", "\n  warning         ", "\n  note            "};
    static const char *const json_of[] = {"problems", "warnings", "quiet_problems"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int kind = cases[i].kind;
        REQUIRE(gencfg_write_g(dir, cases[i].gcfg));
        char *out, *err;
        CHECK_MSG(gencfg_cli("info --model %D/g", &out, &err) == 0, "%s: info: %s", cases[i].gcfg, err);
        for (int k = 0; k < 3; k++) {
            const char *line = strstr(out, line_of[k]);
            if (k == kind)
                CHECK_MSG(line && strstr(line, cases[i].msg) && strstr(line, cases[i].msg) < strchr(line + 1, '\n'),
                          "%s: no%swith \"%s\": %s", cases[i].gcfg, line_of[k], cases[i].msg, out);
            else CHECK_MSG(!line, "%s: a%sline too: %s", cases[i].gcfg, line_of[k], out);
        }
        if (kind == WARNING)
            CHECK_MSG(strstr(out, "transformers warns that") && strstr(out, "is used only in sample-based generation modes"), "%s: %s", cases[i].gcfg, out);
        else CHECK_MSG(!strstr(out, "transformers warns"), "%s: says transformers warns: %s", cases[i].gcfg, out);
        if (kind == QUIET) CHECK_MSG(strstr(out, "transformers says nothing of it"), "%s: %s", cases[i].gcfg, out);
        free(out); free(err);
        CHECK_MSG(gencfg_cli("info --model %D/g --json", &out, &err) == 0, "%s: info --json: %s", cases[i].gcfg, err);
        cJSON *j = cJSON_Parse(out);
        const cJSON *gd = cJSON_GetObjectItem(j, "generation_defaults");
        for (int k = 0; k < 3; k++) {
            const cJSON *a = cJSON_GetObjectItem(gd, json_of[k]);
            if (k == kind)
                CHECK_MSG(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 1 && cJSON_IsString(cJSON_GetArrayItem(a, 0)) &&
                          strstr(cJSON_GetArrayItem(a, 0)->valuestring, cases[i].msg), "%s: --json %s: %s", cases[i].gcfg, json_of[k], out);
            else CHECK_MSG(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 0, "%s: --json %s not empty: %s", cases[i].gcfg, json_of[k], out);
        }
        cJSON_Delete(j);
        free(out); free(err);
    }
    /* the default decode agrees: greedy and quiet where it is a warning or a note (or nothing), an
     * error where a problem; a decode made to sample (--temp 0.7) fails on a note's field as on a
     * warning's (transformers' warper raises then) */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(gencfg_write_g(dir, cases[i].gcfg));
        char *out, *err;
        int rc = gencfg_cli("generate --model %D/g --ids 0,1 -n 2", &out, &err);
        CHECK_MSG(cases[i].kind != PROBLEM ? rc == 0 && !err[0] : rc == 1 && strstr(err, cases[i].msg), "%s: generate: status %d: %s",
                  cases[i].gcfg, rc, err);
        free(out); free(err);
        if (cases[i].kind != QUIET && cases[i].kind != NONE) continue;
        rc = gencfg_cli("generate --model %D/g --ids 0,1 -n 2 --temp 0.7", &out, &err);
        CHECK_MSG(cases[i].kind == QUIET ? rc == 1 && strstr(err, cases[i].msg) : rc == 0, "%s: generate --temp 0.7: status %d: %s",
                  cases[i].gcfg, rc, err);
        free(out); free(err);
    }
}

TEST(gencfg_info_severity_as_transformers) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK)) SKIP("needs %s and %s", test_bin(), MODEL);
    test_in_tmpdir(T_, "gencfg", severity_body);
}

/* transformers' GenerationConfig.validate() warns under `do_sample is False` (left out is False; a
 * do_sample that is no bool is not) on each valid sampling field that is not None and differs from
 * its default as Python compares: temperature and top_p != 1.0, min_p of any value, typical_p !=
 * 1.0, top_k != 50 while penalty_alpha is None, epsilon_cutoff and eta_cutoff != 0.0 ("`do_sample`
 * is set to `False`. However, `temperature` is set to `0.6` -- this flag is only used in
 * sample-based generation modes"). info lists exactly those as warnings, text and --json. The
 * expected lists follow validate()'s source, not this program; the old info listed none. */
static void greedy_unused_body(TestCtx *T_, const char *dir) {
    snprintf(gencfg_tmp, sizeof gencfg_tmp, "%s", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "mkdir '%s/g' && for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s \"$PWD/" MODEL "/$f\" '%s/g/'; done", dir, dir);
    REQUIRE(system(cmd) == 0);
    static const struct { const char *gcfg, *warned; } cases[] = {   /* warned: the fields, in validate()'s order */
        {"{\"do_sample\": false, \"temperature\": 0.6, \"top_p\": 0.9}", "temperature top_p"},
        {"{\"temperature\": 0.6}", "temperature"},
        {"{\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.9, \"top_k\": 20, \"min_p\": 0.1}", ""},
        {"{\"do_sample\": null, \"temperature\": 0.6}", ""},   /* None is not False (and a problem) */
        {"{\"temperature\": 1.0, \"top_p\": 1, \"top_k\": 50, \"typical_p\": 1.0, \"epsilon_cutoff\": 0, \"eta_cutoff\": 0.0}", ""},
        {"{\"temperature\": null, \"top_p\": null, \"top_k\": null, \"min_p\": null, \"typical_p\": null}", ""},
        {"{\"top_k\": 0}", "top_k"},
        {"{\"top_k\": 20, \"penalty_alpha\": 0.6}", ""},   /* contrastive search reads top_k */
        {"{\"top_k\": 20, \"penalty_alpha\": null}", "top_k"},
        {"{\"min_p\": 0}", "min_p"},   /* `is not None` alone */
        {"{\"typical_p\": true, \"epsilon_cutoff\": false, \"eta_cutoff\": 0.0}", ""},   /* True == 1, False == 0 */
        {"{\"eta_cutoff\": 0.0003, \"typical_p\": 0.9, \"epsilon_cutoff\": 0.0003, \"min_p\": 0.05, \"top_k\": 40, "
         "\"top_p\": 0.8, \"temperature\": 0.7, \"repetition_penalty\": 1.1}",
         "temperature top_p min_p typical_p top_k epsilon_cutoff eta_cutoff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(gencfg_write_g(dir, cases[i].gcfg));
        char want[8][32];
        int nw = 0;
        for (const char *p = cases[i].warned; *p && nw < 8;) {
            int n = (int)strcspn(p, " ");
            snprintf(want[nw++], sizeof want[0], "\"%.*s\" is ", n, p);
            p += n + (p[n] == ' ');
        }
        char *out, *err;
        CHECK_MSG(gencfg_cli("info --model %D/g", &out, &err) == 0, "%s: info: %s", cases[i].gcfg, err);
        int nl = 0;   /* the "warning" lines, each naming its field, in order */
        const char *line = out;
        while ((line = strstr(line, "\n  warning         "))) {
            line++;
            const char *eol = strchr(line, '\n');
            if (nl < nw)
                CHECK_MSG(strstr(line, want[nl]) && strstr(line, want[nl]) < eol &&
                          strstr(line, "is used only in sample-based generation modes") < eol,
                          "%s: warning %d is not %s: %s", cases[i].gcfg, nl, want[nl], out);
            nl++;
        }
        CHECK_MSG(nl == nw, "%s: %d warnings, transformers gives %d: %s", cases[i].gcfg, nl, nw, out);
        if (i == 0) CHECK_MSG(strstr(out, "\"temperature\" is 0.6 (\"do_sample\" is false") && strstr(out, "--temp does not replace it"), "%s", out);
        free(out); free(err);
        CHECK_MSG(gencfg_cli("info --model %D/g --json", &out, &err) == 0, "%s: info --json: %s", cases[i].gcfg, err);
        cJSON *j = cJSON_Parse(out);
        const cJSON *wa = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "generation_defaults"), "warnings");
        CHECK_MSG(cJSON_IsArray(wa) && cJSON_GetArraySize(wa) == nw, "%s: --json: %s", cases[i].gcfg, out);
        for (int k = 0; cJSON_IsArray(wa) && k < nw && k < cJSON_GetArraySize(wa); k++) {
            const cJSON *s = cJSON_GetArrayItem(wa, k);
            CHECK_MSG(cJSON_IsString(s) && strstr(s->valuestring, want[k]) && strstr(s->valuestring, "sample-based generation modes"),
                      "%s: --json warning %d is not %s: %s", cases[i].gcfg, k, want[k], out);
        }
        cJSON_Delete(j);
        free(out); free(err);
    }
}

TEST(gencfg_info_greedy_fields_warned_as_transformers) {
    if (access(test_bin(), X_OK) || access(MODEL "/config.json", R_OK)) SKIP("needs %s and %s", test_bin(), MODEL);
    test_in_tmpdir(T_, "gencfg", greedy_unused_body);
}
