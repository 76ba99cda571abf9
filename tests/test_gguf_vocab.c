/* A GGUF vocabulary's special tokens as llama.cpp's library has them (core/gguf_vocab.c), checked
 * against that library's own answers (tests/fixtures/gguf/tokvocab.json, written by
 * make_tokvocab.py with llama_probe.c): the ids that end generation (llama_vocab_is_eog), each
 * token's attributes, and what the model loader makes of them (run/generate stop there). */
#include "harness.h"
#include "gguf_fx.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include "core/gguf_vocab.h"
#include "model/model.h"
#include "model/tensorfile.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

#define FX "tests/fixtures/gguf"

static int jint(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valueint; }

/* EOG ids and attributes of every file, read by gguf_vocab_read */
TEST(gguf_vocab_eog_and_attrs_match_llama_cpp) {
    cJSON *j = test_read_json(FX "/tokvocab.json");
    if (!j) SKIP("tokvocab.json missing");
    int files = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, j) {
        char p[512];
        snprintf(p, sizeof p, FX "/%s", f->string);
        Err e = {0};
        Mapped *mp = mapped_open(p, &e);
        CHECK_MSG(mp, "%s", e.msg);
        if (!mp) continue;
        GgufFile *g = gguf_parse(mapped_data(mp), mapped_size(mp), p, &e);
        GgufVocab v;
        bool ok = g && gguf_vocab_read(g, &v, &e);
        CHECK_MSG(ok, "%s: %s", p, e.msg);
        if (ok) {
            files++;
            CHECK_MSG(v.n_tokens == jint(f, "n") && v.bos == jint(f, "bos") && v.eos == jint(f, "eos"),
                      "%s: %d tokens, BOS %d, EOS %d; llama.cpp %d %d %d", p, v.n_tokens, v.bos, v.eos, jint(f, "n"),
                      jint(f, "bos"), jint(f, "eos"));
            const cJSON *eog = cJSON_GetObjectItemCaseSensitive(f, "eog"), *x;
            bool same = cJSON_GetArraySize(eog) == v.n_eog;
            int k = 0;
            cJSON_ArrayForEach(x, eog) same = same && k < v.n_eog && v.eog[k++] == x->valueint;
            char got[256] = "";
            for (int i = 0; i < v.n_eog; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", v.eog[i]);
            CHECK_MSG(same, "%s: end-of-generation ids%s differ from llama.cpp's", p, got);
            /* attributes: the listed ones, every other token NORMAL */
            uint16_t *want = malloc(sizeof *want * (size_t)v.n_tokens);
            REQUIRE(want);
            for (int i = 0; i < v.n_tokens; i++) want[i] = GV_NORMAL;
            cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(f, "attr")) {
                int id = cJSON_GetArrayItem(x, 0)->valueint;
                if (id >= 0 && id < v.n_tokens) want[id] = (uint16_t)cJSON_GetArrayItem(x, 1)->valueint;
            }
            int bad = 0;
            for (int i = 0; i < v.n_tokens; i++)
                if (v.attr[i] != want[i] && bad++ < 4) FAILF("%s: token %d: attributes %d, llama.cpp %d", p, i, v.attr[i], want[i]);
            T_->checks++;
            free(want);
            gguf_vocab_done(&v);
        }
        gguf_free(g);
        mapped_close(mp);
    }
    CHECK_MSG(files == 15, "%d files checked, 15 expected", files);
    cJSON_Delete(j);
}

/* The model loader: generation stops at every id llama.cpp's llama_vocab_is_eog accepts and at no
 * other (before, a GGUF model had no end-of-sequence id at all: n_eos 0) */
TEST(gguf_model_stops_where_llama_cpp_does) {
    cJSON *j = test_read_json(FX "/tokvocab.json");
    if (!j) SKIP("tokvocab.json missing");
    static const char *const files[] = {"qwen3/qwen3-Q4_K_M.gguf", "stories260K/stories260K-F16.gguf"};
    for (int fi = 0; fi < 2; fi++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, files[fi]);
        REQUIRE(f);
        char p[512];
        snprintf(p, sizeof p, FX "/%s", files[fi]);
        Err e = {0};
        Model *m = model_load(p, false, &e);
        CHECK_MSG(m, "%s: %s", p, e.msg);
        if (!m) continue;
        const cJSON *eog = cJSON_GetObjectItemCaseSensitive(f, "eog"), *x;
        CHECK(cJSON_GetArraySize(eog) > 0);
        int n_eog = 0;
        for (int id = 0; id < m->spec.vocab_size; id++) {
            bool want = false;
            cJSON_ArrayForEach(x, eog) want = want || x->valueint == id;
            n_eog += want;
            CHECK_MSG(spec_is_eos(&m->spec, id) == want, "%s: id %d: stops %d, llama.cpp %d", p, id, spec_is_eos(&m->spec, id), want);
        }
        CHECK_EQ_INT(m->spec.n_eos, n_eog);
        CHECK_EQ_INT(m->spec.eos_id, jint(f, "eos"));
        CHECK_EQ_INT(m->spec.bos_id, jint(f, "bos"));
        model_free(m);
    }
    cJSON_Delete(j);
}

/* `generate` with the ids in `prompt` on model, at most n new ids; its JSON ids compared with want */
static void check_generate(TestCtx *T_, const char *model, const cJSON *prompt, int n, const cJSON *want, const char *what) {
    char cmd[2048], *out = NULL;
    int k = snprintf(cmd, sizeof cmd, "%s generate --model '%s' -n %d --json --ids ", test_bin(), model, n);
    const cJSON *x;
    cJSON_ArrayForEach(x, prompt) k += snprintf(cmd + k, sizeof cmd - (size_t)k, "%s%d", x == prompt->child ? "" : ",", x->valueint);
    int rc = test_run(cmd, &out, 0);
    cJSON *j = out ? cJSON_Parse(out) : NULL;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(j, "ids");
    int same = rc == 0 && cJSON_GetArraySize(ids) == cJSON_GetArraySize(want), i = 0;
    cJSON_ArrayForEach(x, ids) same = same && x->valueint == cJSON_GetArrayItem(want, i++)->valueint;
    CHECK_MSG(same, "%s: generate gave %d ids (status %d), llama.cpp %d: %.200s", what, cJSON_GetArraySize(ids), rc,
              cJSON_GetArraySize(want), out ? out : "");
    cJSON_Delete(j);
    free(out);
}

static void stop_body(TestCtx *T_, const char *dir) {
    cJSON *j = test_read_json(FX "/genstop.json");
    if (!j) { SKIP("genstop.json missing"); }
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model"));
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "prompt"));
    const cJSON *plain = cJSON_GetObjectItemCaseSensitive(j, "plain"), *eot = cJSON_GetObjectItemCaseSensitive(j, "eot_1");
    REQUIRE(model && prompt && plain && eot);
    int n = jint(j, "n");
    char src[512], copy[1100], cmd[2400];
    snprintf(src, sizeof src, FX "/%s", model);
    snprintf(copy, sizeof copy, "%s/eot.gguf", dir);
    Kv k = {"tokenizer.ggml.eot_token_id", GGUF_UINT32, "1"};
    REQUIRE(gguf_with(src, copy, &k, 1));
    /* the ids: the file as it is runs out of ids (its EOS never comes), with the key it stops at id 1,
     * printed last, as llama.cpp's library stops */
    const cJSON *want_plain = cJSON_GetObjectItemCaseSensitive(plain, "ids"), *want_eot = cJSON_GetObjectItemCaseSensitive(eot, "ids");
    CHECK(cJSON_GetArraySize(want_plain) == n && cJSON_GetArraySize(want_eot) < n);
    check_generate(T_, src, cJSON_GetObjectItemCaseSensitive(plain, "prompt_ids"), n, want_plain, "as it is");
    check_generate(T_, copy, cJSON_GetObjectItemCaseSensitive(eot, "prompt_ids"), n, want_eot, "eot_token_id 1");
    /* run: the text stops where the story ends; the file as it is goes on into the next story (id 1
     * shows as nothing, then the prompt's words again) */
    char *a = NULL, *b = NULL;
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --prompt '%s' -n %d", test_bin(), copy, prompt, n);
    int ra = test_run(cmd, &a, 0);
    snprintf(cmd, sizeof cmd, "%s run --model '%s' --prompt '%s' -n %d", test_bin(), src, prompt, n);
    int rb = test_run(cmd, &b, 0);
    REQUIRE(a && b);
    size_t la = strlen(a);
    while (la && a[la - 1] == '\n') la--;   /* run ends its output with a newline */
    CHECK_MSG(ra == 0 && rb == 0 && la > strlen(prompt) && !strncmp(a, b, la) && !strncmp(b + la, prompt, strlen(prompt)),
              "run stopped at \"...%s\" (status %d); as it is: status %d, then \"%.40s\"", la > 60 ? a + la - 60 : a, ra, rb,
              strlen(b) > la ? b + la : "");
    CHECK_MSG(strstr(a + 1, prompt) == NULL, "run went past the end of the story: %s", a);
    free(a);
    free(b);
    cJSON_Delete(j);
}

/* End to end: `generate` and `run` on a GGUF model stop at an end-of-generation id where llama.cpp's
 * library stops (tests/fixtures/gguf/genstop.json, make_genstop.py: llama_probe --generate, greedy):
 * stories260K continues "Once upon a time" with one story, then its BOS; with
 * tokenizer.ggml.eot_token_id = 1 that id ends the generation (341 ids of story and the 1). */
TEST(gguf_run_stops_at_end_of_generation_as_llama_cpp) { test_in_tmpdir(T_, "genstop", stop_body); }

static int *json_ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int *ids = malloc(sizeof(int) * (size_t)(*n ? *n : 1));
    for (int i = 0; ids && i < *n; i++) ids[i] = cJSON_GetArrayItem(a, i)->valueint;
    return ids;
}

static void check_detok(TestCtx *T_, const char *p, const Tokenizer *tk, const int *w, int nw, const cJSON *want, const char *what) {
    static const char *const keys[2] = {"text", "text_special"};
    for (int sk = 0; sk < 2; sk++) {
        char *got = tokenizer_detokenize(tk, w, nw, sk == 0);
        const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, keys[sk]));
        CHECK_MSG(got && ref && !strcmp(got, ref), "%s: %s: detokenized %s\"%s\", llama.cpp \"%s\"", p, what,
                  sk ? "with special tokens " : "", got ? got : "(null)", ref ? ref : "(null)");
        free(got);
    }
}

/* The tokenizer of each vocab-*.gguf: llama_tokenize's ids for texts with special tokens in them
 * (attributes by llama.cpp's rules: <|im_end|> written NORMAL is found as CONTROL, Gemma 4's </s> is
 * text, Phi-3's RSTRIP, add_space_prefix false, a character found only inside longer pieces merged;
 * byte-level BPE: special tokens cut longest first, only ASCII whitespace stripped, add_space_prefix
 * true dropping the first piece's space when detokenizing)
 * and llama_detokenize's text of those and of chosen ids (UNUSED and undefined tokens show nothing,
 * USER_DEFINED ones their own text with U+2581) */
TEST(gguf_vocab_tokenizer_matches_llama_cpp) {
    cJSON *j = test_read_json(FX "/tokvocab.json");
    if (!j) SKIP("tokvocab.json missing");
    int files = 0, texts = 0, idsets = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, j) {
        if (!cJSON_GetObjectItemCaseSensitive(f, "texts")) continue;
        char p[512];
        snprintf(p, sizeof p, FX "/%s", f->string);
        Err e = {0};
        Tokenizer *tk = tokenizer_load_for_model(p, 0, &e);
        CHECK_MSG(tk, "%s: %s", p, e.msg);
        if (!tk) continue;
        files++;
        const cJSON *want;
        cJSON_ArrayForEach(want, cJSON_GetObjectItemCaseSensitive(f, "texts")) {
            const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "in"));
            REQUIRE(in);
            int nw, *w = json_ids(cJSON_GetObjectItemCaseSensitive(want, "ids"), &nw), *ids = NULL;
            REQUIRE(w);
            int n = tokenizer_encode(tk, in, strlen(in), true, &ids, &e);
            bool same = n == nw;
            for (int i = 0; same && i < n; i++) same = ids[i] == w[i];
            char got[512] = "";
            for (int i = 0; i < n && strlen(got) < 480; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
            CHECK_MSG(same, "%s: \"%s\": ids%s differ from llama.cpp's", p, in, got);
            check_detok(T_, p, tk, w, nw, want, in);
            free(w);
            free(ids);
            texts++;
        }
        cJSON_ArrayForEach(want, cJSON_GetObjectItemCaseSensitive(f, "ids")) {
            int nw, *w = json_ids(cJSON_GetObjectItemCaseSensitive(want, "ids"), &nw);
            REQUIRE(w);
            check_detok(T_, p, tk, w, nw, want, "ids");
            free(w);
            idsets++;
        }
        tokenizer_free(tk);
    }
    CHECK_MSG(files == 8 && texts == 29 && idsets == 8, "%d files, %d texts, %d id lists checked; 8, 29, 8 expected", files, texts,
              idsets);
    cJSON_Delete(j);
}

/* `tokenize --chat` on a GGUF file carrying tokenizer.chat_template (Qwen2.5's): the template is the
 * file's, bos_token/eos_token the text of its BOS/EOS tokens, the rendered prompt is transformers'
 * apply_chat_template output for that template (tests/fixtures/chat/expected.json) and the ids are
 * that text encoded by the file's tokenizer without adding special tokens (as run --chat feeds) */
TEST(gguf_tokenize_chat_uses_the_files_template) {
    cJSON *exp = test_read_json("tests/fixtures/chat/expected.json");
    if (!exp) SKIP("tests/fixtures/chat/expected.json missing");
    const char *want = NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(exp, "cases")) {
        const char *tn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "template"));
        const char *mn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "messages"));
        if (tn && mn && !strcmp(tn, "qwen2.5") && !strcmp(mn, "user_only") &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt")) &&
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "set")) == 0)
            want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "output"));
    }
    REQUIRE(want);
    const char *gguf = FX "/tokfix/vocab-bpe-qwen.gguf";
    Err e = {0};
    char *tmpl = NULL, *bos = NULL, *eos = NULL, *out = NULL;
    size_t olen = 0, tl = 0;
    REQUIRE(chat_template_load_for_model(gguf, &tmpl, &bos, &eos, &e));
    char *file_tmpl = file_read_all("tests/fixtures/chat/templates/qwen2.5.jinja", &tl, 1 << 20, &e);
    CHECK(file_tmpl && !strcmp(tmpl, file_tmpl));
    CHECK(bos && !strcmp(bos, "<|endoftext|>") && eos && !strcmp(eos, "<|endoftext|>"));
    CHECK(chat_template_apply_prompt(tmpl, "  Hello there!  ", bos, eos, NULL, 0, NULL, &out, &olen, &e));
    CHECK_MSG(out && !strcmp(out, want), "rendered \"%s\", transformers \"%s\"", out ? out : e.msg, want);
    /* the CLI end to end */
    Tokenizer *tk = tokenizer_load_for_model(gguf, 0, &e);
    REQUIRE(tk);
    int *wids = NULL, nw = tokenizer_encode(tk, want, strlen(want), false, &wids, &e);
    REQUIRE(nw > 0);
    int im_start = 0;
    for (int i = 0; i < nw; i++) im_start += wids[i] == 378;   /* <|im_start|>, one id each */
    CHECK_EQ_INT(im_start, 3);
    char cmd[1024], *res = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s --chat --text '  Hello there!  ' --json", test_bin(), gguf);
    CHECK_EQ_INT(test_run(cmd, &res, 0), 0);
    cJSON *j = res ? cJSON_Parse(res) : NULL;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(j, "ids"), *x;
    bool same = cJSON_GetArraySize(ids) == nw;
    int k = 0;
    cJSON_ArrayForEach(x, ids) same = same && k < nw && x->valueint == wids[k++];
    CHECK_MSG(same, "tokenize --chat on %s: %s", gguf, res ? res : "(no output)");
    cJSON_Delete(j);
    free(res);
    /* a GGUF file without a template: the file and the key named */
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s/tokfix/spm.gguf --chat --text hi 2>&1", test_bin(), FX);
    CHECK(test_run(cmd, &res, 1) != 0 && res && strstr(res, "spm.gguf") && strstr(res, "tokenizer.chat_template"));
    free(res);
    free(wids);
    tokenizer_free(tk);
    free(file_tmpl); free(tmpl); free(bos); free(eos); free(out);
    cJSON_Delete(exp);
}
