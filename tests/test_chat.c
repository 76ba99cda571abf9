/* Chat templates: every fixture rendered by transformers' apply_chat_template (see
 * tests/fixtures/chat/gen_chat_fixtures.py) must come out byte for byte the same, templates
 * that raise must fail with their message, and the CLI must print exactly the rendering. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "harness.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

#define FIX "tests/fixtures/chat"

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct { char *p; size_t n; } Buf;
static void buf_puts(Buf *b, const char *s) {
    size_t k = strlen(s);
    char *np = realloc(b->p, b->n + k + 1);
    if (!np) return;
    b->p = np;
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}
#define FROZEN_NOW 1741944413   /* 2025-03-14 09:26:53, the time strftime_now() returned in the fixtures */

static cJSON *load_expected(void) { return test_read_json(FIX "/expected.json"); }

static char *read_fix(const char *dir, const char *name, const char *ext) {
    char path[512];
    snprintf(path, sizeof path, FIX "/%s/%s%s", dir, name, ext);
    Err e = {0};
    size_t len;
    return file_read_all(path, &len, 16u << 20, &e);
}

/* "set" object of a case -> JinjaVar array (JSON texts owned by the caller) */
static int set_vars(const cJSON *set, JinjaVar *vars, char **texts, int cap) {
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, set) {
        if (n == cap) break;
        texts[n] = cJSON_PrintUnformatted(it);
        vars[n].name = it->string;
        vars[n].text = texts[n];
        vars[n].is_json = true;
        n++;
    }
    return n;
}

static const char *str_or_null(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* first differing byte, for a readable failure */
static void show_diff(const char *what, const char *got, const char *want) {
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "    %s: differs at byte %zu\n      got:  \"%.80s\"\n      want: \"%.80s\"\n", what, i, got + from, want + from);
}

TEST(chat_fixtures_render_byte_exact) {
    cJSON *exp = load_expected();
    if (!exp) SKIP("tests/fixtures/chat/expected.json missing");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(exp, "cases");
    REQUIRE(cJSON_GetArraySize(cases) >= 500);
    int n_ok = 0, n_err = 0, fams = 0;
    const char *last_t = "";
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *tname = str_or_null(c, "template"), *mname = str_or_null(c, "messages");
        if (strcmp(tname, last_t)) { fams++; last_t = tname; }
        char *tmpl = read_fix("templates", tname, ".jinja"), *msgs = read_fix("messages", mname, ".json");
        REQUIRE(tmpl && msgs);
        JinjaVar vars[8];
        char *texts[8] = {0};
        int nv = set_vars(cJSON_GetObjectItemCaseSensitive(c, "set"), vars, texts, 8);
        ChatRequest rq = {0};
        rq.messages_json = msgs;
        rq.add_generation_prompt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt"));
        rq.bos_token = str_or_null(c, "bos_token");
        rq.eos_token = str_or_null(c, "eos_token");
        rq.extra = vars;
        rq.nextra = nv;
        rq.opt.now_set = true;
        rq.opt.now = FROZEN_NOW;
        char *out = NULL;
        size_t olen = 0;
        Err e = {0};
        bool ok = chat_template_apply(tmpl, strlen(tmpl), &rq, &out, &olen, &e);
        const char *want = str_or_null(c, "output"), *want_err = str_or_null(c, "error");
        char label[200];
        snprintf(label, sizeof label, "%s + %s (add_generation_prompt=%d, %d vars)", tname, mname, rq.add_generation_prompt, nv);
        if (want) {
            CHECK_MSG(ok, "%s: failed: %s", label, e.msg);
            if (ok) {
                bool same = olen == strlen(want) && !memcmp(out, want, olen);
                CHECK_MSG(same, "%s: rendering differs from transformers'", label);
                if (!same) show_diff(label, out, want);
                else n_ok++;
            }
        } else {
            CHECK_MSG(!ok, "%s: rendered but transformers raised %s", label, want_err);
            if (!ok) {
                /* a raise_exception message must be passed on */
                const char *colon = strstr(want_err, "TemplateError: ");
                if (colon) CHECK_MSG(strstr(e.msg, colon + 15) != NULL, "%s: message '%s' lacks '%s'", label, e.msg, colon + 15);
                n_err++;
            }
        }
        free(out);
        for (int i = 0; i < nv; i++) free(texts[i]);
        free(tmpl);
        free(msgs);
    }
    CHECK(fams >= 44);
    CHECK(n_err >= 68);
    printf("    %d renderings byte-exact, %d expected errors, %d templates\n", n_ok, n_err, fams);
    cJSON_Delete(exp);
}

TEST(chat_snippets_match_jinja2) {
    cJSON *exp = load_expected();
    if (!exp) SKIP("tests/fixtures/chat/expected.json missing");
    char *msgs_all = read_fix(".", "snippets", ".json");
    REQUIRE(msgs_all);
    cJSON *sj = cJSON_Parse(msgs_all);
    REQUIRE(sj);
    char *msgs = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(sj, "messages"));
    const cJSON *sn;
    int n = 0, n_errs = 0, n_same_msg = 0;
    cJSON_ArrayForEach(sn, cJSON_GetObjectItemCaseSensitive(exp, "snippets")) {
        const char *name = str_or_null(sn, "name"), *tmpl = str_or_null(sn, "template");
        const char *want = str_or_null(sn, "output"), *want_err = str_or_null(sn, "error");
        ChatRequest rq = {0};
        rq.messages_json = msgs;
        rq.add_generation_prompt = !strcmp(name, "bos_eos");
        rq.bos_token = "<s>";
        rq.eos_token = "</s>";
        rq.opt.now_set = true;
        rq.opt.now = FROZEN_NOW;
        char *out = NULL;
        size_t olen = 0;
        Err e = {0};
        bool ok = chat_template_apply(tmpl, strlen(tmpl), &rq, &out, &olen, &e);
        if (want) {
            CHECK_MSG(ok, "snippet %s failed: %s", name, e.msg);
            if (ok && !(olen == strlen(want) && !memcmp(out, want, olen))) {
                CHECK_MSG(false, "snippet %s differs", name);
                show_diff(name, out, want);
            }
        } else {
            CHECK_MSG(!ok, "snippet %s rendered \"%s\" but jinja2 raised %s", name, out ? out : "", want_err);
            if (!ok) {
                CHECK_MSG(strstr(e.msg, "line ") != NULL, "snippet %s: error without a line: %s", name, e.msg);
                /* raise_exception's message is passed on; Python's own messages mostly too */
                const char *m = strstr(want_err, ": ");
                bool same = m && strstr(e.msg, m + 2) != NULL;
                if (!strncmp(want_err, "TemplateError: ", 15)) CHECK_MSG(same, "snippet %s: '%s' lacks '%s'", name, e.msg, want_err + 15);
                n_same_msg += same;
                n_errs++;
            }
        }
        free(out);
        n++;
    }
    CHECK(n >= 150);
    CHECK(n_errs >= 25);
    printf("    %d snippets, %d raising (%d with jinja2's very message)\n", n, n_errs, n_same_msg);
    free(msgs);
    cJSON_Delete(sj);
    free(msgs_all);
    cJSON_Delete(exp);
}

static const cJSON *find_case(const cJSON *exp, const char *t, const char *m, bool agp) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(exp, "cases")) {
        if (!strcmp(str_or_null(c, "template"), t) && !strcmp(str_or_null(c, "messages"), m) &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt")) == agp &&
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "set")) == 0)
            return c;
    }
    return NULL;
}

/* s in single quotes for the shell, appended to cmd */
static void sh_quote_cat(char *cmd, size_t cap, const char *s) {
    size_t k = strlen(cmd);
    if (k + 1 < cap) cmd[k++] = '\'';
    for (; *s && k + 5 < cap; s++) {
        if (*s == '\'') { memcpy(cmd + k, "'\\''", 4); k += 4; }
        else cmd[k++] = *s;
    }
    if (k + 1 < cap) cmd[k++] = '\'';
    cmd[k] = 0;
}

/* Through the CLI: every case with extra variables (--set) and every case where a template raises
 * (add_generation_prompt true): the same bytes on stdout, or exit 1 with the raised message. */
TEST(chat_cli_cases_with_variables_and_raises) {
    cJSON *exp = load_expected();
    if (!exp) SKIP("tests/fixtures/chat/expected.json missing");
    const cJSON *c;
    int n_set = 0, n_raise = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(exp, "cases")) {
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(c, "set");
        const char *err = str_or_null(c, "error"), *want = str_or_null(c, "output");
        bool raises = err && !strncmp(err, "TemplateError: ", 15);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt"))) continue;
        if (!raises && !(want && cJSON_GetArraySize(set) > 0)) continue;
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s chat-template --template " FIX "/templates/%s.jinja --messages " FIX "/messages/%s.json "
                 "--add-generation-prompt --now %d", test_bin(), str_or_null(c, "template"), str_or_null(c, "messages"), FROZEN_NOW);
        const char *bos = str_or_null(c, "bos_token"), *eos = str_or_null(c, "eos_token");
        if (bos) { strcat(cmd, " --bos-token "); sh_quote_cat(cmd, sizeof cmd, bos); }
        if (eos) { strcat(cmd, " --eos-token "); sh_quote_cat(cmd, sizeof cmd, eos); }
        const cJSON *it;
        cJSON_ArrayForEach(it, set) {
            char *js = cJSON_PrintUnformatted(it);
            char nv[512];
            snprintf(nv, sizeof nv, "%s=%s", it->string, js ? js : "null");
            free(js);
            strcat(cmd, " --set ");
            sh_quote_cat(cmd, sizeof cmd, nv);
        }
        if (raises) strcat(cmd, " 2>&1");
        char *out = NULL;
        int rc = test_run(cmd, &out, raises ? 1 : 0);
        if (raises) {
            CHECK_MSG(rc == 1 && out && strstr(out, err + 15), "%s + %s: exit %d, '%s' lacks '%s'", str_or_null(c, "template"),
                      str_or_null(c, "messages"), rc, out ? out : "", err + 15);
            n_raise++;
        } else {
            CHECK_MSG(rc == 0 && out && !strcmp(out, want), "%s + %s: the CLI's text differs (exit %d)", str_or_null(c, "template"),
                      str_or_null(c, "messages"), rc);
            n_set++;
        }
        free(out);
    }
    CHECK(n_set >= 20);
    CHECK(n_raise >= 10);
    printf("    %d renderings with --set, %d raising templates, through the CLI\n", n_set, n_raise);
    cJSON_Delete(exp);
}

TEST(chat_cli_prints_only_the_rendering) {
    cJSON *exp = load_expected();
    if (!exp) SKIP("tests/fixtures/chat/expected.json missing");
    char cmd[1024], *out = NULL;
    /* --template with explicit tokens */
    const cJSON *c = find_case(exp, "llama-3.2", "tools", true);
    REQUIRE(c);
    snprintf(cmd, sizeof cmd, "%s chat-template --template " FIX "/templates/llama-3.2.jinja --messages " FIX "/messages/tools.json "
             "--add-generation-prompt --bos-token '<|begin_of_text|>' --eos-token '<|eot_id|>' --now %d", test_bin(), FROZEN_NOW);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && !strcmp(out, str_or_null(c, "output")));
    free(out);
    /* a template that raises: non-zero exit and the template's message */
    snprintf(cmd, sizeof cmd, "%s chat-template --template " FIX "/templates/gemma-3.jinja --messages " FIX "/messages/bad_roles.json 2>&1",
             test_bin());
    rc = test_run(cmd, &out, 1);
    CHECK(rc != 0);
    CHECK(out && strstr(out, "Conversation roles must alternate user/assistant/user/assistant/...") && strstr(out, "line 15"));
    free(out);
    /* a template that does not parse: line and column */
    char tmp[1024];
    REQUIRE(test_tmpdir(tmp, sizeof tmp, "chat"));
    snprintf(cmd, sizeof cmd, "printf '{%%%% if x %%%%}\\nab{{ 1 + }}' > '%s/bad.jinja' && %s chat-template --template '%s/bad.jinja' "
             "--messages " FIX "/messages/user_only.json 2>&1", tmp, test_bin(), tmp);
    rc = test_run(cmd, &out, 1);
    CHECK(rc != 0);
    CHECK_MSG(out && strstr(out, "line 2, column 10"), "got: %s", out ? out : "");
    free(out);
    CHECK(test_rm_tree(tmp));
    /* bad --set JSON */
    snprintf(cmd, sizeof cmd, "%s chat-template --template " FIX "/templates/qwen3.jinja --messages " FIX "/messages/user_only.json --set 'x={' 2>&1",
             test_bin());
    rc = test_run(cmd, &out, 1);
    CHECK(rc != 0 && out && strstr(out, "variable x"));
    free(out);
    /* --model: chat_template and eos_token from tokenizer_config.json (the real Qwen3 one) */
    const char *sd = test_shared_data();
    if (sd) {
        c = find_case(exp, "qwen3", "multi_turn", true);
        REQUIRE(c);
        snprintf(cmd, sizeof cmd, "%s chat-template --model %s/tokenizers/qwen3 --messages " FIX "/messages/multi_turn.json --add-generation-prompt",
                 test_bin(), sd);
        rc = test_run(cmd, &out, 0);
        CHECK_EQ_INT(rc, 0);
        CHECK(out && !strcmp(out, str_or_null(c, "output")));
        free(out);
    }
    cJSON_Delete(exp);
}

/* chat_template.jinja wins over tokenizer_config.json; a list of named templates gives "default" */
static void template_from_model_dir(TestCtx *T_, const char *dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fputs("{\"bos_token\": {\"content\": \"<B>\"}, \"eos_token\": \"<E>\", \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
          " {\"name\": \"default\", \"template\": \"{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\"}]}", f);
    fclose(f);
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    Err e = {0};
    REQUIRE(chat_template_load_for_model(dir, &tmpl, &bos, &eos, &e));
    CHECK_STR(tmpl, "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}");
    CHECK_STR(bos, "<B>");
    CHECK_STR(eos, "<E>");
    free(tmpl); free(bos); free(eos);
    snprintf(p, sizeof p, "%s/chat_template.jinja", dir);
    f = fopen(p, "w");
    REQUIRE(f);
    fputs("J{{ messages|length }}\n", f);
    fclose(f);
    REQUIRE(chat_template_load_for_model(dir, &tmpl, &bos, &eos, &e));
    char *out = NULL;
    size_t n;
    REQUIRE(chat_template_apply_prompt(tmpl, "hi", bos, eos, NULL, 0, NULL, &out, &n, &e));
    CHECK_STR(out, "J1");
    free(out); free(tmpl); free(bos); free(eos);
}

TEST(chat_template_from_model_dir) {
    test_in_tmpdir(T_, "chat", template_from_model_dir);
    char *tmpl = NULL, *bos = NULL, *eos = NULL;
    Err e = {0};
    /* no template at all: a clear error */
    CHECK(!chat_template_load_for_model("/nonexistent-dir/x", &tmpl, &bos, &eos, &e));
    CHECK(strstr(e.msg, "no chat template") != NULL);
}

TEST(chat_limits_and_hostile_templates) {
    /* each must end in a clean error naming the cause (or render "12"), within a time bound */
    static const struct { const char *t; const char *want; } cases[] = {
        {"{% for i in range(100000) %}{% for k in range(100000) %}x{% endfor %}{% endfor %}", "limit"},
        {"{% for i in range(100000) %}{% for k in range(100000) %}{% endfor %}{% endfor %}", "limit"},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper"},
        {"{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(1) }}", "nested deeper"},
        {"{% macro m() %}{% call m() %}x{% endcall %}{% endmacro %}{{ m() }}", "nested deeper"},
        {"{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "nested deeper"},
        {"{{ 'x' * 1000000000 }}", "too large"},
        {"{{ '%2000000000s' % 'x' }}", "too big"},
        {"{{ 'x'|center(2000000000) }}", "too large"},
        {"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "memory"},
        {"{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "memory"},
        {"{% set ns = namespace(x=[], y=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% set ns.y = [ns.y] %}"
         "{% endfor %}{{ ns.x == ns.y }}", "nested too deeply"},
        {"{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x|tojson }}", "nested too deeply"},
        {"{{ range(1000000)|list }}", "MAX_RANGE"},
        {"{{ 9223372036854775807 + 1 }}", "overflow"},
        {"{{ 10 ** 100000 }}", "overflow"},
        {"{{ messages.append(1) }}", "unsafe"},
        {"{{ x.y }}", "'x' is undefined"},
        {"{% if true %}x", "unexpected end of template"},
        {"{% for m in messages %}x", "unexpected end of template"},
        {"{{ messages", "not closed"},
        {"{{ 'abc }}", "unterminated string"},
        {"{# comment", "comment"},
        {"{% raw %}abc", "endraw"},
        {"{% if 1 %}{% endfor %}", "unknown tag 'endfor'"},
        {"{{ messages|frobnicate }}", "No filter named 'frobnicate'"},
        {"{{ 1 is frobbed }}", "No test named 'frobbed'"},
        {"{% frob %}", "unknown tag 'frob'"},
        {"{{ 'a'|wordwrap(3) }}", "not supported"},
        {"{{ '\\N{BULLET}' }}", "not supported"},
        {"{{ '%q' % 1 }}", "unsupported format character"},
        {"{% set ns = namespace(a=1) %}{{ ns.a }}{% set ns.a = ns.a + 1 %}{{ ns.a }}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ChatRequest rq = {0};
        rq.messages_json = "[]";
        rq.opt.max_steps = 1000000;
        rq.opt.max_memory = 64u << 20;
        char *out = NULL;
        size_t n;
        Err e = {0};
        double t0 = now_sec();
        bool ok = chat_template_apply(cases[i].t, strlen(cases[i].t), &rq, &out, &n, &e);
        double dt = now_sec() - t0;
        CHECK_MSG(dt < 20.0, "case %zu took %.1f s", i, dt);
        if (cases[i].want) {
            CHECK_MSG(!ok, "case %zu rendered", i);
            CHECK_MSG(strstr(e.msg, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, e.msg, cases[i].want);
            CHECK_MSG(strstr(e.msg, "line ") != NULL, "case %zu: no line in '%s'", i, e.msg);
        } else {
            CHECK_MSG(ok, "case %zu: %s", i, e.msg);
            if (ok) CHECK_STR(out, "12");
        }
        free(out);
    }
    /* 300 nested {% if %} blocks: the parser's depth limit, not a stack overflow */
    {
        Buf b = {0};
        for (int i = 0; i < 300; i++) buf_puts(&b, "{% if 1 %}");
        buf_puts(&b, "x");
        for (int i = 0; i < 300; i++) buf_puts(&b, "{% endif %}");
        ChatRequest rq = {0};
        rq.messages_json = "[]";
        char *out = NULL;
        size_t n;
        Err e = {0};
        CHECK(!chat_template_apply(b.p, b.n, &rq, &out, &n, &e));
        CHECK_MSG(strstr(e.msg, "nesting") != NULL, "%s", e.msg);
        free(out);
        free(b.p);
    }
    /* messages nested 100,000 deep: the JSON reader's limit */
    {
        size_t depth = 100000;
        char *deep = malloc(2 * depth + 1);
        REQUIRE(deep);
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        deep[2 * depth] = 0;
        ChatRequest rq = {0};
        rq.messages_json = deep;
        char *out = NULL;
        size_t n;
        Err e = {0};
        CHECK(!chat_template_apply("{{ messages }}", 14, &rq, &out, &n, &e));
        CHECK_MSG(strstr(e.msg, "nested too deeply") != NULL, "%s", e.msg);
        free(out);
        free(deep);
    }
    /* 300 nested parentheses: refused by the parser's depth limit, not a stack overflow */
    char deep[700];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{{ ");
    for (int i = 0; i < 300; i++) deep[k++] = '(';
    deep[k++] = '1';
    for (int i = 0; i < 300; i++) deep[k++] = ')';
    snprintf(deep + k, sizeof deep - k, " }}");
    ChatRequest rq = {0};
    rq.messages_json = "[]";
    char *out = NULL;
    size_t n;
    Err e = {0};
    CHECK(!chat_template_apply(deep, strlen(deep), &rq, &out, &n, &e));
    CHECK_MSG(strstr(e.msg, "nesting") || strstr(e.msg, "nested"), "%s", e.msg);
    free(out);
}

/* a chat template of our own for the bundled model (it has none) */
static const char k_test_template[] =
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

static int parse_ids(const char *json, int *ids, int cap) {
    cJSON *j = cJSON_Parse(json);
    if (!j) return -1;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "ids"), *it;
    int n = 0;
    cJSON_ArrayForEach(it, a) if (n < cap) ids[n++] = it->valueint;
    cJSON_Delete(j);
    return n;
}

static void run_feeds_the_template_ids(TestCtx *T_, const char *dir) {
    char cmd[4096], *out = NULL, prompt_file[1100], tmpl_file[1100];
    snprintf(prompt_file, sizeof prompt_file, "%s/prompt.txt", dir);
    snprintf(tmpl_file, sizeof tmpl_file, "%s/t.jinja", dir);
    /* the real Qwen3 tokenizer: tokenize --chat (the path run --chat takes) gives transformers' ids */
    const char *sd = test_shared_data();
    cJSON *exp = load_expected();
    if (sd && exp) {
        const cJSON *c;
        int ncase = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(exp, "chat_ids")) {
            const char *prompt = str_or_null(c, "prompt");
            bool nothink = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "set")) > 0;
            /* the prompt goes through a file: it has newlines and quotes */
            FILE *f = fopen(prompt_file, "w");
            REQUIRE(f);
            fputs(prompt, f);
            fclose(f);
            snprintf(cmd, sizeof cmd, "%s tokenize --model %s/tokenizers/qwen3 --chat --text-file '%s' %s --json",
                     test_bin(), sd, prompt_file, nothink ? "--set enable_thinking=false" : "");
            int rc = test_run(cmd, &out, 0);
            CHECK_EQ_INT(rc, 0);
            int got[256], want[256], ng = out ? parse_ids(out, got, 256) : -1, nw = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c, "ids")) if (nw < 256) want[nw++] = it->valueint;
            CHECK_EQ_INT(ng, nw);
            CHECK_MSG(ng == nw && !memcmp(got, want, sizeof(int) * (size_t)nw), "ids differ for prompt '%s'", prompt);
            free(out);
            ncase++;
        }
        CHECK_EQ_INT(ncase, 6);
        /* a model whose vocabulary cannot hold the template's ids: a clear error, not a crash */
        snprintf(cmd, sizeof cmd, "%s run --model tests/fixtures/models/qwen3 --tokenizer %s/tokenizers/qwen3/tokenizer.json --chat --prompt hi -n 1 2>&1",
                 test_bin(), sd);
        int rc = test_run(cmd, &out, 1);
        CHECK(rc != 0 && out && strstr(out, "outside the model's vocabulary"));
        free(out);
    }
    cJSON_Delete(exp);
    /* run --chat feeds exactly those ids: its text is the rendered prompt and then what greedy
     * `generate` gives on the ids of `tokenize --chat` (bundled model, a template of our own) */
    FILE *f = fopen(tmpl_file, "w");
    REQUIRE(f);
    fputs(k_test_template, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s tokenize --chat --template '%s' --text 'Once upon a time' --json", test_bin(), tmpl_file);
    REQUIRE(test_run(cmd, &out, 0) == 0);
    int ids[256];
    int n = parse_ids(out, ids, 256);
    free(out);
    REQUIRE(n > 5);
    char idl[2048];
    size_t k = 0;
    for (int i = 0; i < n; i++) k += (size_t)snprintf(idl + k, sizeof idl - k, i ? ",%d" : "%d", ids[i]);
    snprintf(cmd, sizeof cmd, "%s generate --ids %s -n 6 --greedy --ignore-eos --json", test_bin(), idl);
    REQUIRE(test_run(cmd, &out, 0) == 0);
    int gen[16];
    int ng = parse_ids(out, gen, 16);
    free(out);
    REQUIRE(ng == 6);
    k = 0;
    for (int i = 0; i < ng; i++) k += (size_t)snprintf(idl + k, sizeof idl - k, i ? ",%d" : "%d", gen[i]);
    snprintf(cmd, sizeof cmd, "%s detokenize --ids %s --json", test_bin(), idl);
    REQUIRE(test_run(cmd, &out, 0) == 0);
    cJSON *dj = cJSON_Parse(out);
    free(out);
    REQUIRE(dj);
    char want[1024];
    snprintf(want, sizeof want, "<|user|>Once upon a time\n<|assistant|>%s\n", cJSON_GetObjectItemCaseSensitive(dj, "text")->valuestring);
    cJSON_Delete(dj);
    snprintf(cmd, sizeof cmd, "%s run --chat --template '%s' --prompt 'Once upon a time' -n 6 --greedy --ignore-eos", test_bin(), tmpl_file);
    REQUIRE(test_run(cmd, &out, 0) == 0);
    CHECK_STR(out, want);
    free(out);
}

TEST(chat_run_feeds_the_template_ids) {
    test_in_tmpdir(T_, "chat", run_feeds_the_template_ids);
}

/* The TUI's chat mode: key 'u' (action chat.toggle) puts the prompt through the model's template,
 * giving the ids `tokenize --chat` gives; a model without a template refuses and stays off. */
#include "scene/scene.h"
#include "scene/keys.h"
#include "session/session.h"
static void scene_mode_key(TestCtx *T_, const char *dir) {
    char cwd[2048], cmd[8192];
    REQUIRE(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd, "for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do "
             "ln -s '%s'/assets/models/story-gqa/$f '%s'/$f; done", cwd, dir);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s/chat_template.jinja", dir);
    FILE *f = fopen(cmd, "w");
    REQUIRE(f);
    fputs(k_test_template, f);
    fclose(f);
    Err e = {0};
    Scene *sc = scene_new();
    REQUIRE(sc);
    REQUIRE(scene_load_model(sc, 0, dir, &e));
    REQUIRE(scene_set_prompt(sc, "Once upon a time", false, &e));
    int plain = session_n_prompt(sc->ses[0]);
    CHECK_MSG(scene_key(sc, 'u', &e), "%s", e.msg);
    CHECK(sc->chat);
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s --chat --text 'Once upon a time' --json", test_bin(), dir);
    REQUIRE(test_run(cmd, &out, 0) == 0);
    int ids[256];
    int n = parse_ids(out, ids, 256);
    free(out);
    CHECK_EQ_INT(session_n_prompt(sc->ses[0]), n);
    CHECK(n > plain && !memcmp(session_prompt_ids(sc->ses[0]), ids, sizeof(int) * (size_t)n));
    CHECK_STR(session_prompt(sc->ses[0]), "Once upon a time");
    /* a new prompt in chat mode goes through the template too; 'u' again turns it off */
    REQUIRE(scene_set_prompt(sc, "Once upon a time", true, &e));
    CHECK_EQ_INT(session_n_prompt(sc->ses[0]), n);
    CHECK(scene_key(sc, 'u', &e) && !sc->chat);
    CHECK_EQ_INT(session_n_prompt(sc->ses[0]), plain);
    scene_free(sc);
    /* the bundled model has no chat template: refused with a message, mode stays off */
    sc = scene_new();
    REQUIRE(sc && scene_load_model(sc, 0, "assets/models/story-gqa", &e));
    REQUIRE(scene_set_prompt(sc, "Once", false, &e));
    Err e2 = {0};
    CHECK(!scene_key(sc, 'u', &e2) && !sc->chat);
    CHECK(strstr(e2.msg, "no chat template") != NULL);
    scene_free(sc);
}

TEST(chat_scene_mode_key) {
    test_in_tmpdir(T_, "chat", scene_mode_key);
}

/* docs/chat.md's example messages: each ```json block after a "<!-- renders with: T ... -->" line
 * renders with those fixture templates (exit 0, the first user text in the output), and with those
 * of a "<!-- raises with: T ... -->" line fails (exit 1), through the CLI, with the bos/eos tokens
 * the fixtures give each template. (The page once showed content parts and a tool call together,
 * which Qwen2.5's and Qwen3's templates refuse.) */
static void docs_examples(TestCtx *T_, const char *dir) {
    cJSON *exp = load_expected();
    REQUIRE(exp);
    Err e = {0};
    size_t len;
    char *doc = file_read_all("docs/chat.md", &len, 1u << 20, &e);
    REQUIRE(doc);
    int n_blocks = 0, n_render = 0, n_raise = 0;
    bool qwen25 = false, qwen3 = false;
    for (const char *p = strstr(doc, "<!-- renders with:"); p; p = strstr(p + 1, "<!-- renders with:")) {
        const char *ren = p + strlen("<!-- renders with:"), *ren_end = strstr(ren, "-->");
        const char *blk = strstr(ren, "```json\n");
        REQUIRE(ren_end && blk);
        const char *ras = strstr(ren_end, "<!-- raises with:"), *ras_end = ras ? strstr(ras, "-->") : NULL;
        if (ras && ras > blk) ras = NULL;
        blk += strlen("```json\n");
        const char *blk_end = strstr(blk, "```");
        REQUIRE(blk_end);
        char path[1100];
        snprintf(path, sizeof path, "%s/example%d.json", dir, n_blocks);
        FILE *f = fopen(path, "w");
        REQUIRE(f);
        fwrite(blk, 1, (size_t)(blk_end - blk), f);
        fclose(f);
        /* the first user text: a string content, or the first text part */
        cJSON *js = cJSON_ParseWithLength(blk, (size_t)(blk_end - blk));
        REQUIRE(js);
        const cJSON *msgs = cJSON_IsArray(js) ? js : cJSON_GetObjectItemCaseSensitive(js, "messages"), *m;
        const char *user = NULL;
        cJSON_ArrayForEach(m, msgs) {
            if (user || strcmp(str_or_null(m, "role") ? str_or_null(m, "role") : "", "user")) continue;
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content"), *part;
            if (cJSON_IsString(c)) user = c->valuestring;
            else cJSON_ArrayForEach(part, c) if (!user && str_or_null(part, "text")) user = str_or_null(part, "text");
        }
        REQUIRE(user);
        for (int pass = 0; pass < 2; pass++) {
            const char *s = pass ? ras : ren, *end = pass ? ras_end : ren_end;
            if (!s) continue;
            if (pass) s += strlen("<!-- raises with:");
            while (s < end) {
                while (s < end && *s == ' ') s++;
                int k = 0;
                char name[64];
                while (s < end && *s != ' ' && k < 63) name[k++] = *s++;
                name[k] = 0;
                if (!k) continue;
                const cJSON *c = NULL, *it;
                cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(exp, "cases"))
                    if (!c && !strcmp(str_or_null(it, "template"), name)) c = it;
                CHECK_MSG(c != NULL, "docs/chat.md names template '%s', which tests/fixtures/chat lacks", name);
                if (!c) continue;
                char cmd[4096];
                snprintf(cmd, sizeof cmd, "%s chat-template --template " FIX "/templates/%s.jinja --messages %s --add-generation-prompt --now %d",
                         test_bin(), name, path, FROZEN_NOW);
                const char *bos = str_or_null(c, "bos_token"), *eos = str_or_null(c, "eos_token");
                if (bos) { strcat(cmd, " --bos-token "); sh_quote_cat(cmd, sizeof cmd, bos); }
                if (eos) { strcat(cmd, " --eos-token "); sh_quote_cat(cmd, sizeof cmd, eos); }
                char *out = NULL;
                int rc = test_run(cmd, &out, pass);
                if (pass) {
                    CHECK_MSG(rc == 1, "docs/chat.md example %d: %s should raise, exit %d", n_blocks + 1, name, rc);
                    n_raise++;
                } else {
                    CHECK_MSG(rc == 0 && out && strstr(out, user), "docs/chat.md example %d with %s: exit %d, '%s' %s in the text",
                              n_blocks + 1, name, rc, user, out && strstr(out, user) ? "is" : "is not");
                    n_render++;
                    qwen25 |= !strcmp(name, "qwen2.5");
                    qwen3 |= !strcmp(name, "qwen3");
                }
                free(out);
            }
        }
        cJSON_Delete(js);
        n_blocks++;
    }
    CHECK(n_blocks >= 2 && n_render >= 20 && n_raise >= 4);
    CHECK_MSG(qwen25 && qwen3, "an example rendered with Qwen2.5's and Qwen3's templates");
    printf("    %d examples: %d renderings, %d raising\n", n_blocks, n_render, n_raise);
    free(doc);
    cJSON_Delete(exp);
}

TEST(chat_docs_examples_render) { test_in_tmpdir(T_, "chatdoc", docs_examples); }

/* --template given for a model without a template of its own (a base model: Gemma's pretrained
 * checkpoints have none): bos_token and eos_token are still the model's, as transformers'
 * apply_chat_template(chat_template=...) renders with the tokenizer's tokens. chat-template
 * --model DIR --template F refused the model ("has no chat template ... give one with --template
 * FILE"), and run/tokenize --chat rendered without them: Gemma's template then wrote no <bos>.
 * The expected text is transformers' (expected.json: gemma-3, user_only, bos "<bos>"). */
static void template_for_model_without_one(TestCtx *T_, const char *dir) {
    char p[1200], cmd[3000], *out = NULL;
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fputs("{\"bos_token\": \"<bos>\", \"eos_token\": \"<eos>\", \"add_bos_token\": true}", f);
    fclose(f);
    cJSON *exp = load_expected();
    REQUIRE(exp);
    const cJSON *c = find_case(exp, "gemma-3", "user_only", false);
    REQUIRE(c);
    snprintf(cmd, sizeof cmd, "%s chat-template --model %s --template " FIX "/templates/gemma-3.jinja --messages " FIX "/messages/user_only.json",
             test_bin(), dir);
    int rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0 && out && !strcmp(out, str_or_null(c, "output")), "status %d: '%s'", rc, out ? out : "");
    free(out);
    cJSON_Delete(exp);
    /* a GGUF file without tokenizer.chat_template: its BOS token's text (id 0, "<|endoftext|>") */
    snprintf(cmd, sizeof cmd, "%s tokenize --model tests/fixtures/gguf/gemma3/gemma3-BF16.gguf --text hi --chat --template " FIX
             "/templates/gemma-3.jinja --json", test_bin());
    rc = test_run(cmd, &out, 1);
    CHECK_MSG(rc == 0 && out && !strncmp(out, "{\"ids\": [0, ", 12), "GGUF: status %d: '%.200s'", rc, out ? out : "");
    free(out);
}

TEST(chat_template_option_keeps_the_model_tokens) {
    if (access(test_bin(), X_OK)) SKIP("needs %s", test_bin());
    test_in_tmpdir(T_, "chat", template_for_model_without_one);
}
