/* Lessons: `llmscope lesson --check` over every lesson in both languages (the bundled story
 * models play each one headless), malformed lesson files (each rejected with the file and
 * the field named), actions that do not apply (layer beyond the model, unknown panel,
 * missing model), the template engine, live values against formulas and published
 * configs, CJK wrapping, and the presenter keys in the App. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "lesson/lesson.h"
#include "model/model.h"
#include "session/session.h"
#include "tui/app.h"
#include "tui/lesson_check.h"
#include "tui/lesson_pane.h"

static bool has(const char *hay, const char *needle) { return hay && needle && strstr(hay, needle) != NULL; }

static bool story_models_present(void) {
    static const char *K[] = {"mha", "gqa", "mqa", "mla", "gpt2", "moe"};
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "assets/models/story-%s/config.json", K[i]);
        if (!file_exists(p)) return false;
    }
    return true;
}

/* ---- every lesson, both languages ------------------------------------------------------ */

TEST(lesson_check_all_lessons) {
    if (!story_models_present())
        SKIP("the bundled story models (assets/models/story-*) are missing: train them with assets/models/train/train.py");
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s lesson --check", test_bin());
    int rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0, "llmscope lesson --check failed (rc %d):\n%s", rc, out ? out : "");
    CHECK(has(out, " 0 problems"));
    /* at least the 14 lessons of issue 8 and the MLA lesson of issue 15, in both languages */
    int ok = 0;
    for (const char *p = out; p && (p = strstr(p, "ok   ")); p += 5) ok++;
    CHECK_MSG(ok >= 30, "only %d lesson files passed", ok);
    CHECK(has(out, "lessons/zh/06-attention-variants.json"));
    CHECK(has(out, "lessons/15-mla.json") && has(out, "lessons/zh/15-mla.json"));
    free(out);
}

TEST(lesson_check_files_with_options) {
    /* the value of an option that takes one (--lang en, --size 120x36) is not a lesson file */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s lesson --check lessons/12-bert-vs-gpt.json --lang en --size 120x36", test_bin());
    char *out = NULL;
    int rc = test_run(cmd, &out, 1);
    if (!out || !has(out, "12-bert-vs-gpt")) { free(out); SKIP("lesson --check could not run"); }
    CHECK_MSG(rc == 0, "rc %d:\n%s", rc, out);
    CHECK_MSG(has(out, "1 lesson file checked, 0 problems"), "%s", out);
    CHECK(!has(out, "FAIL en"));
    free(out);
}

TEST(lesson_list_both_languages) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s lesson list", test_bin());
    CHECK_EQ_INT(test_run(cmd, &out, 1), 0);
    CHECK(has(out, "01-tour"));
    CHECK(has(out, "14-qwen3-tour"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s lesson list --lang zh", test_bin());
    CHECK_EQ_INT(test_run(cmd, &out, 1), 0);
    CHECK(has(out, "\xe8\xa7\xa3\xe7\xa0\x81\xe5\x99\xa8"));   /* 解码器, in lesson 1's Chinese title */
    free(out);
    snprintf(cmd, sizeof cmd, "%s lesson list --lang fr", test_bin());
    CHECK_EQ_INT(test_run(cmd, &out, 1), 2);   /* a bad command line */
    CHECK(has(out, "--lang 'fr': expected en or zh"));
    free(out);
}

/* lesson --placeholders names every placeholder with its argument and what it needs: the
 * family.json ones (argument a variant name, needing no model) were printed through indices
 * past both tables ("{family.bpb(null)}", an empty column) */
TEST(lesson_placeholders_list_every_kind) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s lesson --placeholders", test_bin());
    CHECK_EQ_INT(test_run(cmd, &out, 1), 0);
    REQUIRE(out);
    CHECK_MSG(!has(out, "(null)") && !has(out, ":?}") && !has(out, " ? "), "a placeholder printed without its argument or need:\n%s", out);
    CHECK_MSG(has(out, "{family.bpb:NAME}") && has(out, " family "), "the family.json placeholders are not listed as {family.bpb:NAME}, family");
    CHECK(has(out, "{sim.cos:I,J}") && has(out, "{kv.bytes_at[:N]}") && has(out, "{model.name}"));
    int n = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++) n++;
    int nt = 0;
    lesson_ph_table(&nt);
    CHECK_EQ_INT(n, nt);
    free(out);
}

/* ---- malformed files ---------------------------------------------------------------------- */

#define HEAD "{\"id\":\"x\",\"lang\":\"en\",\"title\":\"T\",\"summary\":\"S\",\"model\":\"m\",\"prompt\":\"p\""

typedef struct { const char *json, *expect; } Bad;

TEST(lesson_parse_rejects_malformed) {
    static const Bad cases[] = {
        {"{\"id\": ", "not valid JSON near byte"},
        {"[1,2]", "a lesson is a JSON object"},
        {"{\"lang\":\"en\"}", "\"id\" is missing"},
        {HEAD ",\"steps\":[{\"text\":\"a\"}],\"extra\":1}", "unknown field \"extra\""},
        {"{\"id\":\"x\",\"lang\":\"fr\",\"title\":\"T\",\"summary\":\"S\",\"model\":\"m\",\"prompt\":\"p\",\"steps\":[{\"text\":\"a\"}]}", "lang must be"},
        {"{\"id\":\"Bad Id\",\"lang\":\"en\"}", "may only use"},
        {HEAD "}", "\"steps\" is missing"},
        {HEAD ",\"steps\":[]}", "steps has 0 entries"},
        {HEAD ",\"steps\":{}}", "steps must be an array"},
        {HEAD ",\"steps\":[{}]}", "steps[0].text is missing"},
        {HEAD ",\"steps\":[{\"text\":5}]}", "steps[0].text must be a string"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"question\":\"q\"}]}", "come together"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"sources\":\"a paper\"}]}", "steps[0].sources must be an array of 1 to 16 strings"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"sources\":[\"p\",\"\"]}]}", "steps[0].sources[1] must be a non-empty string"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"fly\"}]}]}", "steps[0].actions[0].do: unknown action \"fly\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{}]}]}", "steps[0].actions[0].do is missing"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"layer\"}]}]}", "steps[0].actions[0].layer is missing"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"layer\",\"layer\":-1}]}]}", "steps[0].actions[0].layer must be an integer"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"layer\",\"layer\":1.5}]}]}", "must be an integer"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"head\",\"head\":\"first\"}]}]}", "or \"last\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"step\",\"n\":0}]}]}", "steps[0].actions[0].n must be an integer in [1, 4096]"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"stage\",\"stage\":\"lunch\"}]}]}", "unknown stage \"lunch\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"panel\",\"panel\":\"attention\",\"layer\":1}]}]}", "unknown field \"layer\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"compare\"}]}]}", "either \"model\" or \"off\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"ablate\",\"layer\":1}]}]}", "needs \"layer\" and \"head\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"sampler\",\"temperature\":0}]}]}", "temperature must be a number"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"load\",\"model\":\"m\",\"slot\":\"C\"}]}]}", "slot must be \"A\" or \"B\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"actions\":[{\"do\":\"highlight\"}]}]}", "needs \"token\" and/or \"key\""},
        {HEAD ",\"steps\":[{\"text\":\"the {kv.nope} grew\"}]}", "steps[0].text: unknown placeholder {kv.nope}"},
        {HEAD ",\"steps\":[{\"text\":\"a {kv.grew\"}]}", "not closed by '}'"},
        {HEAD ",\"steps\":[{\"text\":\"a { b\"}]}", "without a placeholder name"},
        {HEAD ",\"steps\":[{\"text\":\"{kv.grew:3}\"}]}", "takes no argument"},
        {HEAD ",\"steps\":[{\"text\":\"{kv.bytes_at:lots}\"}]}", "the argument must be an integer"},   /* letters scan as an argument (family names) */
        {HEAD ",\"steps\":[{\"text\":\"{token.at}\"}]}", "needs an integer argument"},
        {HEAD ",\"steps\":[{\"text\":\"{embed.cos:1}\"}]}", "needs two positions"},
        {HEAD ",\"steps\":[{\"text\":\"{model.params@llama}\"}]}", "\"llama\" is not declared in \"refs\""},
        {HEAD ",\"refs\":{\"llama\":\"assets/configs/llama-3-8b\"},\"steps\":[{\"text\":\"{attn.entropy@llama}\"}]}", "a ref only gives its config"},
        {HEAD ",\"refs\":{\"A\":\"x\"},\"steps\":[{\"text\":\"a\"}]}", "bad name \"A\""},
        {HEAD ",\"refs\":{\"r\":5},\"steps\":[{\"text\":\"a\"}]}", "refs.r must be a path"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"answer\":\"{logits.top1_prob}\",\"question\":\"{attn.wat}\"}]}", "steps[0].question: unknown placeholder {attn.wat}"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":\"attention.nose\"}]}", "steps[0].target: unknown target \"attention.nose\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":\"output.row\"}]}", "needs a number"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":\"kv.row:xyz\"}]}", "mha, gqa, mqa or mla"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":\"kv.stores:1\"}]}", "takes no argument"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":[]}]}", "target must name 1 to 4"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"target\":5}]}", "target must be a name"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"predict\":{\"kind\":\"guess\",\"ask\":\"?\",\"value\":\"1\",\"try\":\"1\"}}]}", "predict.kind must be"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"?\",\"value\":\"1\"}}]}", "predict.try is missing"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"predict\":{\"kind\":\"choice\",\"ask\":\"?\",\"value\":\"a\",\"try\":\"1\",\"choices\":[\"a\"]}}]}", "choices must be an array of 2 to 9"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"?\",\"value\":\"1\",\"try\":\"1\",\"choices\":[\"a\",\"b\"]}}]}", "only for \"kind\": \"choice\""},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"{kv.nope}\",\"value\":\"1\",\"try\":\"1\"}}]}", "steps[0].predict.ask: unknown placeholder"},
        {HEAD ",\"steps\":[{\"text\":\"a\",\"question\":\"q\",\"answer\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"?\",\"value\":\"1\",\"try\":\"1\"}}]}", "not both"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Err e = {0};
        Lesson *l = lesson_parse(cases[i].json, strlen(cases[i].json), "lessons/bad.json", &e);
        CHECK_MSG(!l, "case %zu was accepted: %s", i, cases[i].json);
        lesson_free(l);
        CHECK_MSG(has(e.msg, "lessons/bad.json"), "case %zu: the message does not name the file: %s", i, e.msg);
        CHECK_MSG(has(e.msg, cases[i].expect), "case %zu: expected \"%s\" in \"%s\"", i, cases[i].expect, e.msg);
    }
}

TEST(lesson_parse_survives_garbage) {
    /* truncations and byte flips of a valid lesson: never a crash, always a message */
    const char *good = HEAD ",\"refs\":{\"q\":\"assets/configs/qwen3-8b\"},\"steps\":[{\"title\":\"t\",\"text\":\"{kv.bytes_per_token@q} {{x}}\","
                       "\"actions\":[{\"do\":\"step\",\"n\":2},{\"do\":\"highlight\",\"token\":-1,\"key\":\"last\"}],"
                       "\"question\":\"q\",\"answer\":\"{logits.top1}\"}]}";
    size_t n = strlen(good);
    Err e = {0};
    Lesson *l = lesson_parse(good, n, "good.json", &e);
    REQUIRE(l);
    CHECK_EQ_INT(l->n_steps, 1);
    CHECK_EQ_INT(l->steps[0].n_actions, 2);
    CHECK_EQ_INT(l->steps[0].actions[1].key, LESSON_LAST);
    CHECK_EQ_INT(l->steps[0].actions[1].pos, -1);
    lesson_free(l);
    char *buf = malloc(n + 1);
    REQUIRE(buf);
    int rejected = 0;
    for (size_t cut = 0; cut < n; cut++) {
        Err e2 = {0};
        Lesson *x = lesson_parse(good, cut, "cut.json", &e2);
        if (!x) { rejected++; CHECK(e2.msg[0] != 0); }
        lesson_free(x);
    }
    CHECK_EQ_INT(rejected, (long long)n);    /* every strict prefix is incomplete JSON */
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, good, n + 1);
        buf[i] = (char)(buf[i] ^ 0x5a);
        Err e2 = {0};
        Lesson *x = lesson_parse(buf, n, "flip.json", &e2);
        if (!x) CHECK(e2.msg[0] != 0);
        lesson_free(x);
    }
    free(buf);
    Err e3 = {0};
    CHECK(!lesson_parse(NULL, 0, "null.json", &e3));
    CHECK(lesson_load("/nonexistent/lesson.json", &e3) == NULL);
    CHECK(has(e3.msg, "/nonexistent/lesson.json"));
}

/* ---- templates ----------------------------------------------------------------------------- */

static bool collect(void *ud, const LessonPh *ph, Err *e) {
    (void)e;
    char *acc = ud;
    strcat(acc, ph->key);
    strcat(acc, "|");
    strcat(acc, ph->arg);
    strcat(acc, "|");
    strcat(acc, ph->ref);
    strcat(acc, ";");
    return true;
}

TEST(lesson_template_syntax) {
    char acc[512] = "";
    Err e = {0};
    CHECK(lesson_template_scan("a {{b}} {kv.bytes_at:32768@llama} {token.text} {embed.cos:1,-2} }", collect, acc, &e));
    CHECK_STR(acc, "kv.bytes_at|32768|llama;token.text||;embed.cos|1,-2|;");
    CHECK(!lesson_template_scan("{Bad}", collect, acc, &e));
    CHECK(!lesson_template_scan("{x@}", collect, acc, &e));
    CHECK(has(e.msg, "empty ref"));
}

TEST(lesson_values_from_configs) {
    /* Published configs, read without weights: the numbers lessons quote must match the
     * formulas (KV bytes as `llmscope info` prints them) and the model cards (parameters). */
    const char *json = HEAD ",\"refs\":{\"llama\":\"assets/configs/llama-3-8b\",\"qwen\":\"assets/configs/qwen3-8b\",\"ds\":\"assets/configs/deepseek-v3\"},"
                       "\"steps\":[{\"text\":\"x\"}]}";
    Err e = {0};
    Lesson *l = lesson_parse(json, strlen(json), "cfg.json", &e);
    REQUIRE(l);
    LessonValues v;
    lesson_values_init(&v, l, ".");
    struct { const char *tpl, *want; } T[] = {
        {"{kv.bytes_per_token@llama}", "131,072"},            /* 32 layers x 2 x 8 x 128 x 2 B */
        {"{kv.bytes_at:32768@llama}", "4.00 GiB"},
        {"{kv.bytes_per_token@qwen}", "147,456"},             /* 36 layers */
        {"{kv.bytes_per_token@ds}", "70,272"},                /* 61 x (512 + 64) x 2 B */
        {"{kv.formula@ds}", "d_c+d_h^R = 512+64"},
        {"{model.params@llama}", "8.03B"},                    /* Meta's model card: 8.03B */
        {"{model.params@qwen}", "8.19B"},                     /* Qwen3-8B card: 8.2B */
        {"{model.params@ds}", "671B"},                        /* DeepSeek-V3 report: 671B total */
        {"{model.active_params@ds}", "37.6B"},                /* ... 37B activated */
        {"{model.qk_norm@qwen} {model.qk_norm@llama}", "yes no"},
        {"{rope.theta@qwen}", "1,000,000"},
        {"{model.q_per_kv@llama}", "4"},
        {"{rope.scaling@ds} {rope.factor@ds}", "yarn 40.0"},
        {"{kv.no_cache_tokens:100@llama}", "5,050"},
        {"{{literal}} {model.layers@ds}", "{literal} 61"},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        Err e2 = {0};
        char *s = lesson_expand(&v, T[i].tpl, false, &e2);
        CHECK_MSG(s && !strcmp(s, T[i].want), "%s -> \"%s\" (want \"%s\") %s", T[i].tpl, s ? s : "(null)", T[i].want, e2.msg);
        CHECK_MSG(e2.code == 0, "%s: %s", T[i].tpl, e2.msg);
        free(s);
    }
    /* RoPE scalings against their formulas (Llama-3-8B: d = 128, theta = 500000), computed
     * here independently: NTK-aware scaling (YaRN paper, sec. 3.1) b' = b s^(d/(d-2)) stretches
     * the slowest pair by exactly s, like linear scaling, and the middle pair (index d/4) by
     * s^(d/(2(d-2))) only; HF's dynamic NTK at s x the context uses (s*s - (s-1)) instead. */
    {
        const double th = 500000, d = 128, s4 = 4, tau = 2 * M_PI;
        const double slow = tau * pow(th, (d - 2) / d), mid = tau * pow(th, 0.5);
        struct { const char *tpl; double want; } R[] = {
            {"{rope.wavelength_max_unscaled@llama}", slow},
            {"{rope.wl_linear:4@llama}", s4 * slow},
            {"{rope.wl_ntk_aware:4@llama}", s4 * slow},
            {"{rope.wl_ntk:4@llama}", (s4 * s4 - (s4 - 1)) * slow},
            {"{rope.mid_wl@llama}", mid},
            {"{rope.mid_linear:4@llama}", s4 * mid},
            {"{rope.mid_ntk_aware:4@llama}", mid * pow(s4, d / (2 * (d - 2)))},
        };
        for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
            Err e2 = {0};
            char *out = lesson_expand(&v, R[i].tpl, false, &e2);
            double got = -1;
            if (out) {
                char digits[64];
                size_t k = 0;
                for (const char *q = out; *q && k + 1 < sizeof digits; q++) if (*q != ',') digits[k++] = *q;
                digits[k] = 0;
                got = strtod(digits, NULL);
            }
            /* float32 inv_freq as torch computes it: a few parts per million */
            CHECK_MSG(fabs(got - R[i].want) <= 1e-5 * R[i].want + 1, "%s -> %s (want %.1f) %s", R[i].tpl, out ? out : "(null)", R[i].want, e2.msg);
            free(out);
        }
    }
    /* a value that cannot be computed reads "?" and says why */
    Err e3 = {0};
    char *s = lesson_expand(&v, "[{token.text}] [{eval.loss@llama}]", false, &e3);
    CHECK_STR(s, "[?] [?]");
    CHECK(has(e3.msg, "no model is loaded"));
    free(s);
    /* marks wrap each value */
    s = lesson_expand(&v, "a {model.layers@llama} b", true, &e3);
    CHECK_STR(s, "a \x01" "32\x02 b");
    free(s);
    lesson_values_done(&v);
    lesson_free(l);
}

TEST(lesson_param_count_matches_loaded_models) {
    /* the config-only parameter count equals the count of the loaded weights */
    static const char *M[] = {"gpt2", "qwen3", "qwen2", "mistral", "llama-bf16-tied", "mixtral", "qwen3_moe", "deepseek_v2", "deepseek_v3"};
    int tested = 0;
    for (size_t i = 0; i < sizeof M / sizeof M[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "tests/fixtures/models/%s", M[i]);
        Err e = {0};
        Model *m = model_load(p, false, &e);
        if (!m) continue;
        long long act = 0, n = lesson_spec_params(m, &act);
        CHECK_MSG(n == m->n_params, "%s: counted %lld from the config, loaded %lld", M[i], n, m->n_params);
        CHECK(act <= n && act > 0);
        if (!m->spec.n_experts) CHECK_EQ_INT(act, n);
        model_free(m);
        tested++;
    }
    if (!tested) SKIP("tests/fixtures/models not present");
}

/* ---- wrapping ---------------------------------------------------------------------------- */

TEST(lesson_wrap_cjk_and_values) {
    Canvas *c = canvas_new(8, 4);
    REQUIRE(c);
    c->unicode = true;
    c->mono = true;
    Style st = {0};
    const char *zh = "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82";   /* 你好，世界。 */
    int rows = lesson_wrap(c, rect_make(0, 0, 6, 4), zh, st, st, true);
    char *t = canvas_to_text(c);
    CHECK_EQ_INT(rows, 2);
    CHECK_STR(t, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\n\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82\n\n\n");
    free(t);
    /* at width 5 the comma would start a line: it stays with 好 instead */
    canvas_clear(c, st);
    rows = lesson_wrap(c, rect_make(0, 0, 5, 4), zh, st, st, true);
    t = canvas_to_text(c);
    CHECK_EQ_INT(rows, 4);
    CHECK_STR(t, "\xe4\xbd\xa0\n\xe5\xa5\xbd\xef\xbc\x8c\n\xe4\xb8\x96\n\xe7\x95\x8c\xe3\x80\x82\n");
    free(t);
    canvas_free(c);
    /* a marked value never breaks inside; words break at spaces */
    c = canvas_new(12, 3);
    REQUIRE(c);
    c->unicode = true;
    rows = lesson_wrap(c, rect_make(0, 0, 10, 3), "cache \x01" "1.25 KiB\x02 now", st, st, true);
    t = canvas_to_text(c);
    CHECK_EQ_INT(rows, 3);
    CHECK_STR(t, "cache\n1.25 KiB\nnow\n");
    free(t);
    canvas_free(c);
}

/* The English / Chinese pair check: a translation quotes the same placeholders, each as often
 * (the Chinese lesson 3 once wrote one of them out as text). */
static void pair_placeholders_in(TestCtx *T_, const char *dir) {
    static const char *const fmt =
        "{\"id\":\"t\",\"lang\":\"%s\",\"title\":\"T\",\"summary\":\"s\",\"model\":\"assets/models/story-gqa\","
        "\"prompt\":\"Once upon a time\",\"steps\":[{\"text\":\"%s\",\"target\":\"kv\","
        "\"predict\":{\"kind\":\"number\",\"ask\":\"%s\",\"value\":\"{model.layers}\",\"try\":\"3\"}}]}";
    static const struct { const char *zh_text, *zh_ask, *want; } cases[] = {
        {"{model.layers} \u5c42 {model.d_model}", "{model.heads}?", NULL},                    /* the same: no problem */
        {"6 \u5c42 {model.d_model}", "{model.heads}?", "step 1 text: placeholder {model.layers} (1 in English, 0 here)"},
        {"{model.layers} {model.layers} {model.d_model}", "{model.heads}?", "{model.layers} (1 in English, 2 here)"},
        {"{model.layers} \u5c42 {model.d_model}", "{model.kv_heads}?", "step 1 predict.ask: placeholder {model.heads}"},
    };
    char en[600], zh[600];
    snprintf(en, sizeof en, "%s/en.json", dir);
    snprintf(zh, sizeof zh, "%s/zh.json", dir);
    FILE *f = fopen(en, "w");
    REQUIRE(f);
    fprintf(f, fmt, "en", "{model.layers} layers of {model.d_model}", "{model.heads} heads?");
    fclose(f);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f = fopen(zh, "w");
        REQUIRE(f);
        fprintf(f, fmt, "zh", cases[i].zh_text, cases[i].zh_ask);
        fclose(f);
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        REQUIRE(mem);
        int n = lesson_check_pair(en, zh, mem);
        fclose(mem);
        if (!cases[i].want) CHECK_MSG(n == 0, "case %zu: %s", i, buf ? buf : "");
        else CHECK_MSG(n >= 1 && has(buf, cases[i].want), "case %zu: expected \"%s\" in:\n%s", i, cases[i].want, buf ? buf : "");
        free(buf);
    }
    unlink(en);
    unlink(zh);
}

TEST(lesson_pair_same_placeholders) { test_in_tmpdir(T_, "pair", pair_placeholders_in); }

/* ---- playing: actions that do not apply, presenter keys --------------------------------- */

/* A lesson file on stories260K (llama2.c, with its tokenizer beside it) in a temp dir. */
static bool write_lesson(char *path, size_t cap, const char *steps) {
    const char *d = test_shared_data();
    if (!d) return false;
    char model[1024];
    snprintf(model, sizeof model, "%s/stories260K/stories260K.bin", d);
    if (!file_exists(model)) return false;
    char real[4096];
    if (!realpath(model, real)) return false;
    const char *t = getenv("TMPDIR");   /* a new file each time: suites at once never share it */
    snprintf(path, cap, "%s/llmscope-lesson-XXXXXX.json", t && *t ? t : "/tmp");
    int fd = mkstemps(path, 5);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) { if (fd >= 0) { close(fd); remove(path); } return false; }
    fprintf(f, "{\"id\":\"t\",\"lang\":\"en\",\"title\":\"Test lesson\",\"summary\":\"s\",\"model\":\"%s\","
               "\"prompt\":\"Once upon a time\",\"steps\":%s}", real, steps);
    fclose(f);
    return true;
}

static int check_lesson(const char *steps, char **out) {
    char path[1024];
    if (!write_lesson(path, sizeof path, steps)) return -1;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    LessonCheckOpts o = {.w = 120, .h = 36, .out = mem};
    int n = lesson_check_file(path, ".", &o);
    fclose(mem);
    remove(path);
    *out = buf;
    return n;
}

TEST(lesson_check_reports_actions_that_do_not_apply) {
    if (!test_shared_data()) SKIP("../shared/data not present");
    static const Bad cases[] = {
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"layer\",\"layer\":9}]}]", "step 1/1: action 1 (layer): layer 9 does not exist"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"head\",\"head\":8}]}]", "head 8 does not exist"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"panel\",\"panel\":\"kitchen\"}]}]", "unknown panel \"kitchen\" (attention"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"load\",\"model\":\"assets/models/no-such-model\"}]}]", "model assets/models/no-such-model not found"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"compare\",\"model\":\"/nonexistent/model\"}]}]", "action 1 (compare): model /nonexistent/model not found"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"token\",\"pos\":99}]}]", "position 99 is outside the"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"token\",\"pos\":1},{\"do\":\"key\",\"pos\":3}]}]", "action 2 (key)"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"stage\",\"stage\":\"position\"}]}]", "stage \"position\" applies to learned positions"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"keys\",\"keys\":\"q\"}]}]", "would quit"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"keys\",\"keys\":\"e\"}]}]", "\"e\" did nothing on the attention panel"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"keys\",\"keys\":\"Z\"}]}]", "did nothing on the attention panel"},
        {"[{\"text\":\"a\",\"actions\":[{\"do\":\"ablate\",\"layer\":0,\"head\":0,\"slot\":\"B\"}]}]", "compare mode is off"},
        {"[{\"text\":\"{moe.top_expert}\"}]", "step 1/1: text: layer 0 of"},
        {"[{\"text\":\"{pos.cos_tok_pos}\"}]", "has no learned position vectors"},
        {"[{\"text\":\"{logits.top1@B}\"}]", "compare mode is off"},
        {"[{\"text\":\"a\"},{\"text\":\"b\"}]", "step 2/2 changes nothing on screen"},
        /* targets must land on something drawn */
        {"[{\"text\":\"a\"}]", "step 1/1 has no \"target\""},
        {"[{\"text\":\"a\",\"target\":\"attention.row\"}]", "no step asks for a prediction"},
        {"[{\"text\":\"a\",\"target\":\"kv.row\"}]", "target \"kv.row\" is not drawn on this step's screen (the panel is not on screen)"},
        {"[{\"text\":\"a\",\"target\":\"attention.cell\"}]", "target \"attention.cell\" is not drawn on this step's screen (drawn there: attention"},
        {"[{\"text\":\"a\",\"target\":\"tokens.pos:40\"}]", "target \"tokens.pos:40\" is not drawn"},
        {"[{\"text\":\"a\",\"target\":\"output.row:3\",\"actions\":[{\"do\":\"panel\",\"panel\":\"kv\"}]}]", "target \"output.row:3\" is not drawn"},
        /* predictions: the live value must fit the kind, the scripted answer must score */
        {"[{\"text\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"?\",\"value\":\"{token.text}\",\"try\":\"1\"}}]", "predict.value: the live value"},
        {"[{\"text\":\"a\",\"predict\":{\"kind\":\"number\",\"ask\":\"?\",\"value\":\"{attn.keys}\",\"try\":\"many\"}}]", "typing the scripted answer \"many\" did not score: \xe2\x9c\x97 \"many\" is not a number"},
        {"[{\"text\":\"a\",\"predict\":{\"kind\":\"choice\",\"ask\":\"?\",\"value\":\"{model.attention}\",\"choices\":[\"x\",\"y\"],\"try\":\"1\"}}]", "is none of the choices"},
        {"[{\"text\":\"a\",\"predict\":{\"kind\":\"choice\",\"ask\":\"?\",\"value\":\"y\",\"choices\":[\"x\",\"y\"],\"try\":\"7\"}}]", "is not one of the 2 choices"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *long_text = NULL;
        const char *steps = cases[i].json;
        if (!strcmp(steps, "LONG")) {              /* 400 words: far more than a pane holds */
            long_text = malloc(4096);
            if (!long_text) continue;
            strcpy(long_text, "[{\"text\":\"");
            for (int w = 0; w < 400; w++) strcat(long_text, "word ");
            strcat(long_text, "\"}]");
            steps = long_text;
        }
        int n = check_lesson(steps, &out);
        free(long_text);
        if (n < 0) { free(out); SKIP("cannot write a temp lesson or find stories260K"); }
        CHECK_MSG(n >= 1, "case %zu passed the check: %s", i, cases[i].json);
        CHECK_MSG(has(out, cases[i].expect), "case %zu: expected \"%s\" in:\n%s", i, cases[i].expect, out ? out : "");
        free(out);
    }
    /* and a good one passes: every action applies, every value computes, every step shows something new */
    char model[1024], real[4096], steps[8192], long_words[2100] = "";
    for (int w = 0; w < 400; w++) strcat(long_words, "word ");   /* 400 words page at 120x36 and 80x24, none cut */
    snprintf(model, sizeof model, "%s/stories260K/stories260K.bin", test_shared_data());
    REQUIRE(realpath(model, real));
    snprintf(steps, sizeof steps,
             "[{\"text\":\"{prompt.tokens} tokens, next {logits.top1}\",\"actions\":[{\"do\":\"panel\",\"panel\":\"output\"}],\"target\":\"output.list\"},"
             "{\"text\":\"{kv.grew} bytes\",\"actions\":[{\"do\":\"step\",\"n\":2},{\"do\":\"highlight\",\"token\":-1,\"key\":0,\"layer\":\"last\",\"head\":1}],"
             "\"question\":\"q {attn.sel_weight}\",\"answer\":\"{attn.max_key_text}\",\"target\":\"output.row:1\"},"
             "{\"text\":\"B says {logits.top1@B}\",\"actions\":[{\"do\":\"compare\",\"model\":\"%s\"},{\"do\":\"stage\",\"stage\":\"softmax\",\"layer\":1},"
             "{\"do\":\"ablate\",\"layer\":1,\"head\":2,\"slot\":\"A\"}],\"target\":\"attention.row\"},"
             "{\"text\":\"c\",\"actions\":[{\"do\":\"compare\",\"off\":true},{\"do\":\"sampler\",\"temperature\":0.8,\"top_p\":0.9,\"seed\":3},{\"do\":\"step\",\"n\":3},{\"do\":\"keys\",\"keys\":\"v\"}],"
             "\"target\":[\"attention.row\",\"attention.tile:2\",\"tokens.cursor\",\"keys.F5\"]},"
             "{\"text\":\"d\",\"actions\":[{\"do\":\"key\",\"pos\":1}],\"target\":\"attention.cell\","
             "\"predict\":{\"kind\":\"number\",\"ask\":\"how many keys?\",\"value\":\"{attn.keys}\",\"try\":\"2\"}},"
             "{\"text\":\"e\",\"actions\":[{\"do\":\"panel\",\"panel\":\"kv\"}],\"target\":[\"kv.row\",\"kv.row:mla\",\"kv.stores\"],"
             "\"predict\":{\"kind\":\"choice\",\"ask\":\"which?\",\"value\":\"{model.attention}\",\"choices\":[\"MHA\",\"GQA\",\"MQA\",\"MLA\"],\"try\":\"2\"}},"
             "{\"text\":\"%s\",\"actions\":[{\"do\":\"panel\",\"panel\":\"output\"}],\"target\":\"output.row:0\","
             "\"predict\":{\"kind\":\"token\",\"ask\":\"next?\",\"value\":\"{logits.top1}\",\"try\":\"the\"}}]",
             real, long_words);
    char *out = NULL;
    int n = check_lesson(steps, &out);
    CHECK_MSG(n == 0, "a good lesson failed the check:\n%s", out ? out : "");
    free(out);
}

TEST(lesson_presenter_keys) {
    char path[1024];
    if (!write_lesson(path, sizeof path,
                      "[{\"title\":\"First\",\"text\":\"{prompt.tokens} tokens\",\"actions\":[{\"do\":\"panel\",\"panel\":\"output\"}]},"
                      "{\"title\":\"Second\",\"text\":\"now {token.text}\",\"actions\":[{\"do\":\"step\"},{\"do\":\"layer\",\"layer\":2}],"
                      "\"question\":\"Which?\",\"answer\":\"{token.pos}\"},"
                      "{\"title\":\"Third\",\"text\":\"end\",\"actions\":[{\"do\":\"panel\",\"panel\":\"kv\"}]}]"))
        SKIP("../shared/data not present");
    App *a = app_new();
    REQUIRE(a);
    Canvas *c = canvas_new(120, 36);
    REQUIRE(c);
    c->unicode = true;
    c->mono = true;
    lesson_ui_get(a, ".", "en");
    Err e = {0};
    bool ok = lesson_ui_open(a, path, 0, &e);
    CHECK_MSG(ok, "%s", e.msg);
    LessonPlayer *p = lesson_ui_player(a);
    REQUIRE(p);
    CHECK_EQ_INT(p->step, 0);
    CHECK_EQ_INT(a->sc->panel, panel_find("output"));
    app_render(a, c);
    char *t = canvas_to_text(c);
    CHECK(has(t, "Test lesson"));
    CHECK(has(t, "step 1/3"));
    CHECK(has(t, "First"));
    free(t);
    int len0 = session_len(a->sc->ses[0]);
    TuiEvent ev = {.key = ' '};
    app_handle(a, &ev);                      /* Space: next step (the step action decodes one) */
    CHECK_EQ_INT(p->step, 1);
    CHECK_EQ_INT(session_len(a->sc->ses[0]), len0 + 1);
    CHECK_EQ_INT(a->sc->sel.layer, 2);
    CHECK(!p->revealed);
    ev.key = TK_RIGHT;
    app_handle(a, &ev);                      /* the first press on a question reveals the answer */
    CHECK_EQ_INT(p->step, 1);
    CHECK(p->revealed);
    app_render(a, c);
    t = canvas_to_text(c);
    CHECK(has(t, "Q: Which?"));
    CHECK(has(t, "A: "));
    free(t);
    app_handle(a, &ev);
    CHECK_EQ_INT(p->step, 2);
    CHECK_EQ_INT(a->sc->panel, panel_find("kv"));
    ev.key = TK_LEFT;                        /* back: replays steps 1-2 from the start */
    app_handle(a, &ev);
    CHECK_EQ_INT(p->step, 1);
    CHECK_EQ_INT(session_len(a->sc->ses[0]), len0 + 1);
    ev.key = 'n';                            /* other keys still reach the app: n steps a token */
    app_handle(a, &ev);
    CHECK_EQ_INT(session_len(a->sc->ses[0]), len0 + 2);
    ev.key = 'L';                            /* the lesson menu */
    app_handle(a, &ev);
    app_render(a, c);
    t = canvas_to_text(c);
    CHECK(has(t, "Lessons"));
    free(t);
    ev.key = TK_ESC;
    app_handle(a, &ev);
    ev.key = 'q';                            /* q leaves the lesson, not the app */
    app_handle(a, &ev);
    CHECK(!lesson_ui_player(a));
    CHECK(!a->quit);
    CHECK_EQ_INT(a->sc->n_ses, 1);               /* the model stays for exploring */
    app_handle(a, &ev);
    CHECK(a->quit);
    canvas_free(c);
    app_free(a);
    remove(path);
}

TEST(lesson_long_step_pages_at_80x24) {
    /* 05 step 4 does not fit the pane at 80x24: the key line says more follows, Space pages
     * through the narration before it steps, so every sentence is shown; Left pages back */
    char root[1024];
    lesson_find_root(root, sizeof root);
    char path[1200];
    snprintf(path, sizeof path, "%s/lessons/05-kv-cache.json", root);
    if (access(path, R_OK)) SKIP("lessons/05-kv-cache.json not found");
    App *a = app_new();
    REQUIRE(a);
    Canvas *c = canvas_new(80, 24);
    REQUIRE(c);
    c->unicode = true;
    c->mono = true;
    lesson_ui_get(a, root, "en");
    Err e = {0};
    bool ok = lesson_ui_open(a, path, 3, &e);
    CHECK_MSG(ok, "%s", e.msg);
    LessonPlayer *p = lesson_ui_player(a);
    if (!ok || !p) { canvas_free(c); app_free(a); SKIP("bundled models not present"); }
    char *full = lesson_player_expand(p, p->lesson->steps[3].text, false, &e);
    REQUIRE(full);
    /* the words of the narration, all of which must appear on some page */
    char seen[8192] = "";
    int pages = 0;
    for (; pages < 40; pages++) {
        app_render(a, c);
        char *t = canvas_to_text(c);
        REQUIRE(t);
        /* keep the pane's rows (the last lines of the screen): a squeezed pane pages in more,
         * shorter pages, and whole screens would overflow seen */
        const Rect pane = lesson_ui_pane_rect(a, NULL);
        const char *from = t;
        for (int r = 0; r < pane.y && from; r++) {
            from = strchr(from, '\n');
            if (from) from++;
        }
        if (from) strncat(seen, from, sizeof seen - strlen(seen) - 1);
        bool more = has(t, "\xe2\x96\xbc \xe2\x86\x92 more");
        free(t);
        if (!more) break;
        CHECK(lesson_ui_next(a));
        CHECK_EQ_INT(p->step, 3);             /* paging, not stepping */
    }
    CHECK_MSG(pages >= 1, "05 step 4 fits at 80x24 (pages %d): the test needs a longer step", pages);
    /* every word of the narration was on screen (words wrap whole) */
    char *save = NULL;
    int missing = 0;
    for (char *w = strtok_r(full, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (!has(seen, w)) { if (missing++ < 3) FAILF("word '%s' never shown", w); }
    CHECK_EQ_INT(missing, 0);
    /* back pages up, then the next press after the last page steps */
    CHECK(lesson_ui_prev(a));
    CHECK_EQ_INT(p->step, 3);
    free(full);
    canvas_free(c);
    app_free(a);
}

TEST(lesson_predict_scoring) {
    LessonPredict num = {.kind = LP_NUMBER};
    LessonScore s;
    Err e = {0};
    double v;
    CHECK(lesson_parse_number("1,536 B", &v) && v == 1536);
    CHECK(lesson_parse_number("\x01" "12.5%\x02", &v) && v == 12.5);
    CHECK(lesson_parse_number("-3.2e-4", &v) && v == -3.2e-4);
    CHECK(!lesson_parse_number("about ten", &v));
    REQUIRE(lesson_predict_score(&num, "1,536", "1000", false, &s, &e));
    CHECK(fabs(s.abs_err - 536) < 1e-12);
    CHECK(fabs(s.rel_err - 536.0 / 1536) < 1e-12);
    CHECK(!s.right);
    CHECK(has(s.text, "off by 536 (34.9%)"));
    REQUIRE(lesson_predict_score(&num, "1,536", "1500", true, &s, &e));
    CHECK(s.right);                                   /* within 5% */
    CHECK(has(s.text, "\xe7\x9b\xb8\xe5\xb7\xae 36"));   /* 相差 36 */
    CHECK(!lesson_predict_score(&num, "n/a", "1", false, &s, &e));
    CHECK(has(e.msg, "is not a number"));
    char *ch[3] = {"MHA", "GQA", "MLA"};
    LessonPredict cho = {.kind = LP_CHOICE, .n_choices = 3};
    for (int i = 0; i < 3; i++) cho.choices[i] = ch[i];
    REQUIRE(lesson_predict_score(&cho, "gqa", "2", false, &s, &e));
    CHECK(s.right && s.choice == 1);
    REQUIRE(lesson_predict_score(&cho, "GQA", "mla", false, &s, &e));
    CHECK(!s.right);
    CHECK(has(s.text, "you chose MLA; the answer is GQA"));
    CHECK(!lesson_predict_score(&cho, "MQA", "1", false, &s, &e));
    LessonPredict tok = {.kind = LP_TOKEN};
    REQUIRE(lesson_predict_score(&tok, "\xe2\x90\xa3" "Ball", " ball ", false, &s, &e));   /* "␣Ball" as the strip shows it */
    CHECK(s.right);
    REQUIRE(lesson_predict_score(&tok, " ball", "cat", false, &s, &e));
    CHECK(!s.right && has(s.text, "the model's token is \"ball\""));
}

/* Rows of the pane (between its borders) that hold text, the progress line aside. */
static int pane_text_rows(const Canvas *c, Rect pane) {
    int rows = 0;
    for (int y = pane.y + 2; y < pane.y + pane.h - 1; y++) {
        bool any = false;
        for (int x = pane.x + 1; x < pane.x + pane.w - 1 && !any; x++) {
            const Cell *cl = canvas_cell(c, x, y);
            any = cl && cl->len && !(cl->len == 1 && cl->ch[0] == ' ');
        }
        rows += any;
    }
    return rows;
}

/* At 80x24 (a projector's resolution) a lesson reads several lines per page, its targets are
 * drawn (the pane at the bottom makes room for them) or the pane says they are not on screen at
 * this size; lesson --check asks the same of every step of every lesson (check_targets_small). */
TEST(lesson_pane_at_80x24_reads_and_shows_its_targets) {
    if (!file_exists("lessons/05-kv-cache.json") || !file_exists("assets/models/story-gqa/model.safetensors")) SKIP("lessons or story models not present");
    /* rows: the narration rows the shrunk pane still reads (kv.layer fits beside a pane of seven
     * rows, three of narration; the 30 % pane left one) */
    static const struct { const char *file; int step; const char *target; bool shown; int rows; } C[] = {
        {"lessons/05-kv-cache.json", 5, "kv.chart", false, 4},         /* the panel has no room for it: said so */
        {"lessons/05-kv-cache.json", 3, "kv.layer", true, 3},          /* the pane shrinks for it (the rows the chart has no use for) */
        {"lessons/02-embeddings.json", 2, "embeddings.cell", true, 1}, /* the pane shrinks for it */
        {"lessons/zh/02-embeddings.json", 2, "embeddings.cell", true, 1},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        App *a = app_new();
        Canvas *c = canvas_new(80, 24), *big = canvas_new(120, 36);
        REQUIRE(a && c && big);
        c->unicode = big->unicode = true;
        c->mono = big->mono = true;
        lesson_ui_get(a, ".", strstr(C[i].file, "/zh/") ? "zh" : "en");
        Err e = {0};
        REQUIRE(lesson_ui_open(a, C[i].file, C[i].step, &e));
        app_render(a, c);
        Rect pane = lesson_ui_pane_rect(a, NULL);
        int from = 0;
        const CanvasTarget *t = canvas_target_find(c, C[i].target, &from);
        bool shown = t && t->r.w > 0 && t->r.h > 0 && t->r.y + t->r.h <= pane.y;
        CHECK_MSG(shown == C[i].shown, "%s step %d: %s %s at 80x24", C[i].file, C[i].step + 1, C[i].target, shown ? "drawn" : "not drawn");
        CHECK(lesson_ui_targets_off_screen(a) == !C[i].shown);
        char *txt = canvas_to_text(c);
        if (!C[i].shown) CHECK_MSG(has(txt, "80x24"), "the pane does not say that %s is off screen:\n%s", C[i].target, txt);
        if (C[i].shown) CHECK(pane.h < 8);                         /* it made room */
        CHECK_MSG(pane_text_rows(c, pane) >= C[i].rows, "only %d narration rows at 80x24:\n%s", pane_text_rows(c, pane), txt);
        free(txt);
        /* the same step at 120x36: the pane beside the panels, the target drawn, nothing said */
        app_render(a, big);
        from = 0;
        t = canvas_target_find(big, C[i].target, &from);
        CHECK(t && t->r.w > 0);
        CHECK(!lesson_ui_targets_off_screen(a));
        /* and back at 80x24: decided again, the same */
        app_render(a, c);
        CHECK(lesson_ui_targets_off_screen(a) == !C[i].shown);
        canvas_free(c);
        canvas_free(big);
        app_free(a);
    }
}

/* Every bundled lesson, English and Chinese, plays every step in the terminal's scene, where a
 * prompt only starts its prefill (run in pieces between frames): an action after it that reads
 * the tokens waits for them. 02's first step selects a token right after the lesson's prompt;
 * in the terminal it stopped with "no token has been computed yet" and could not go on. */
TEST(lesson_every_step_plays_in_the_chunked_scene) {
    char root[1024];
    lesson_find_root(root, sizeof root);
    static const char *const LANGS[] = {"en", "zh"};
    int played = 0;
    for (int g = 0; g < 2; g++) {
        for (int n = 1; n <= 16; n++) {
            char pattern[1200], path[1400] = "";
            snprintf(pattern, sizeof pattern, "ls %s/lessons/%s%02d-*.json 2>/dev/null", root, g ? "zh/" : "", n);
            FILE *f = popen(pattern, "r");
            if (f) { if (!fgets(path, sizeof path, f)) path[0] = 0; pclose(f); }
            path[strcspn(path, "\n")] = 0;
            if (!path[0]) continue;
            App *a = app_new();
            REQUIRE(a);
            a->sc->chunked = true;
            lesson_ui_get(a, root, LANGS[g]);
            Err e = {0};
            bool ok = lesson_ui_open(a, path, 0, &e);
            CHECK_MSG(ok, "%s: %s", path, e.msg);
            LessonPlayer *p = ok ? lesson_ui_player(a) : NULL;
            for (int k = 1; p && k < p->lesson->n_steps; k++) {
                Err e2 = {0};
                ok = lesson_player_goto(p, k, &e2);
                CHECK_MSG(ok, "%s step %d: %s", path, k + 1, e2.msg);
                if (!ok) break;
                played++;
            }
            app_free(a);
        }
    }
    CHECK_MSG(played > 100, "%d steps played", played);
}

/* The compact lesson pane (80x24) starts a step at its first line: lesson 9's first step shows
 * its title right under the progress line, and the progress line's pointer names what to look
 * at. It read "1/5 ●○○○○  ▶ first line", which looked like a pane scrolled to a "first line":
 * a target's label names the element (ffn.info: "FFN info line"), never its place ("first",
 * "second"), in both languages. */
TEST(lesson_compact_pane_starts_at_the_step_and_names_the_target) {
    int n = 0;
    const TargetSpec *t = lesson_target_table(&n);
    for (int i = 0; i < n; i++) {
        if (!t[i].label) continue;
        for (int zh = 0; zh < 2; zh++) {
            char lab[96];
            lesson_target_label(t[i].name, zh ? LANG_ZH : LANG_EN, lab, sizeof lab);
            CHECK_MSG(!strstr(lab, "first") && !strstr(lab, "second") && !strstr(lab, "\xe7\xac\xac"),   /* "第" */
                      "%s: the label \"%s\" names a place, not the element", t[i].name, lab);
        }
    }
    if (!file_exists("assets/models/story-gqa/model.safetensors")) SKIP("bundled story models missing");
    static const char *const LANG[] = {"en", "zh"};
    static const char *const TITLE[] = {"Up, activate, down", "\xe5\x8d\x87\xe7\xbb\xb4"};   /* "升维" */
    for (int zh = 0; zh < 2; zh++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "LLMSCOPE_THREADS=1 '%s' lesson 9 --lang %s --frame 1 --size 80x24", test_bin(), LANG[zh]);
        CHECK_EQ_INT(test_run(cmd, &out, 0), 0);
        REQUIRE(out);
        const char *prog = strstr(out, "1/5 ");
        CHECK_MSG(prog, "%s: no progress line in\n%s", LANG[zh], out);
        if (prog) {
            const char *eol = strchr(prog, '\n');
            const char *next = eol ? eol + 1 : NULL;
            char lab[96];
            lesson_target_label("ffn.info", zh ? LANG_ZH : LANG_EN, lab, sizeof lab);
            const char *ptr = strstr(prog, lab);
            CHECK_MSG(ptr && eol && ptr < eol, "%s: the progress line does not point at \"%s\":\n%s", LANG[zh], lab, out);
            /* the row under it is the step's title: nothing scrolled away */
            CHECK_MSG(next && strstr(next, TITLE[zh]) && strstr(next, TITLE[zh]) < strchr(next, '\n'),
                      "%s: the narration does not start with the title:\n%s", LANG[zh], out);
        }
        free(out);
    }
}

/* `lesson`'s sampling options (Scene.lesson_opts) go over every sampler the lesson sets, field by
 * field, as run's go over the model's defaults: lesson 11's step 5 leaves A greedy (the lesson's
 * start) and samples B at temperature 1, seed 7 (its `sampler` action). --greedy makes both greedy,
 * --seed 3 reseeds both, --temp 0.7 samples both at 0.7 (B keeping seed 7, A the start's 42). The
 * old player reset A to greedy seed 42 and applied the action as written, whatever was given. */
TEST(lesson_sampling_options_over_every_sampler) {
    if (access("lessons/11-sampling.json", R_OK) || access("assets/models/story-gqa/config.json", R_OK))
        SKIP("needs lessons/11-sampling.json and assets/models/story-gqa");
    static const struct {
        const char *what;
        GenOverride o;
        SamplerCfg a, b;   /* what A and B sample with at step 5 */
    } cases[] = {
        {"no option", {.seed = 42}, {true, 1.0f, 0, 1.0f, 42}, {false, 1.0f, 0, 1.0f, 7}},
        {"--greedy", {.greedy = true, .seed = 42}, {true, 1.0f, 0, 1.0f, 42}, {true, 1.0f, 0, 1.0f, 7}},
        {"--temp 0", {.has_temp = true, .temperature = 0, .seed = 42}, {true, 1.0f, 0, 1.0f, 42}, {true, 1.0f, 0, 1.0f, 7}},
        {"--seed 3", {.seed = 3, .has_seed = true}, {true, 1.0f, 0, 1.0f, 3}, {false, 1.0f, 0, 1.0f, 3}},
        {"--temp 0.7", {.has_temp = true, .temperature = 0.7f, .seed = 42}, {false, 0.7f, 0, 1.0f, 42}, {false, 0.7f, 0, 1.0f, 7}},
        {"--top-k 5 --top-p 0.9 --seed 9", {.has_top_k = true, .top_k = 5, .has_top_p = true, .top_p = 0.9f, .seed = 9, .has_seed = true},
         {false, 1.0f, 5, 0.9f, 9}, {false, 1.0f, 5, 0.9f, 9}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Err e = {0};
        Lesson *l = lesson_load("lessons/11-sampling.json", &e);
        REQUIRE(l);
        Scene *sc = scene_new();
        REQUIRE(sc);
        sc->lesson_opts = cases[i].o;
        LessonPlayer *p = lesson_player_new(sc, l, ".", &e);
        REQUIRE(p);
        int k = -1;
        for (int j = 0; j < l->n_steps; j++)
            if (l->steps[j].title && !strcmp(l->steps[j].title, "Greedy versus sampling")) k = j;
        CHECK_MSG(k >= 0, "lesson 11 has no step \"Greedy versus sampling\"");
        bool ok = k >= 0 && lesson_player_goto(p, k, &e);
        CHECK_MSG(ok, "%s: %s", cases[i].what, e.msg);
        if (ok && sc->n_ses == 2) {
            for (int s = 0; s < 2; s++) {
                SamplerCfg got = sampler_cfg(session_sampler(sc->ses[s])), want = s ? cases[i].b : cases[i].a;
                CHECK_MSG(got.greedy == want.greedy && got.seed == want.seed && (got.greedy ||
                          (fabsf(got.temperature - want.temperature) < 1e-6f && got.top_k == want.top_k && fabsf(got.top_p - want.top_p) < 1e-6f)),
                          "%s: %c samples with greedy %d, temperature %g, top_k %d, top_p %g, seed %llu; want %d, %g, %d, %g, %llu",
                          cases[i].what, s ? 'B' : 'A', got.greedy, (double)got.temperature, got.top_k, (double)got.top_p,
                          (unsigned long long)got.seed, want.greedy, (double)want.temperature, want.top_k, (double)want.top_p,
                          (unsigned long long)want.seed);
            }
        } else CHECK_MSG(!ok || sc->n_ses == 2, "%s: no compare session at step %d", cases[i].what, k + 1);
        lesson_player_free(p);
        scene_free(sc);
    }
}
