/* Tokenizer tests: exactness against HF tokenizers' ids (../shared/data/tokenizers/expected.json
 * and tests/fixtures/tokenizers/<name>/), llama2.c's tokenizer, tricky inputs, small synthetic
 * tokenizer.json files for each pipeline component, and the CLI. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "tokenizer/tokenizer.h"

static char *slurp(const char *path, size_t *len) {
    Err e = {0};
    return file_read_all(path, len, (size_t)1 << 30, &e);
}

static void print_ids(const char *what, const int *ids, int n) {
    fprintf(stderr, "      %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Checks every {"text","ids","decoded"} case of arr with tok. Returns the number of failures. */
static int check_cases(TestCtx *T_, const Tokenizer *tok, const cJSON *arr, const char *label, int *ncases) {
    int fails = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr) {
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *ji = cJSON_GetObjectItemCaseSensitive(c, "ids");
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(c, "decoded");
        if (!cJSON_IsString(jt) || !cJSON_IsArray(ji)) continue;
        (*ncases)++;
        int nexp = cJSON_GetArraySize(ji);
        int *exp = malloc(sizeof(int) * (size_t)(nexp + 1));
        int k = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, ji) exp[k++] = x->valueint;
        int *ids = NULL;
        Err e = {0};
        const char *text = jt->valuestring;
        int n = tokenizer_encode(tok, text, strlen(text), false, &ids, &e);
        bool same = n == nexp && (n == 0 || !memcmp(ids, exp, sizeof(int) * (size_t)n));
        T_->checks++;
        if (!same) {
            fails++;
            T_->failed++;
            fprintf(stderr, "    %s: ids differ for %.80s%s (%s)\n", label, text, strlen(text) > 80 ? "..." : "",
                    n < 0 ? e.msg : "");
            print_ids("expected", exp, nexp);
            if (n >= 0) print_ids("got     ", ids, n);
        }
        if (cJSON_IsString(jd)) {
            char *dec = tokenizer_decode(tok, exp, nexp, false);
            T_->checks++;
            if (!dec || strcmp(dec, jd->valuestring)) {
                fails++;
                T_->failed++;
                fprintf(stderr, "    %s: decode differs for %.60s: got \"%.80s\" want \"%.80s\"\n", label, text,
                        dec ? dec : "(null)", jd->valuestring);
            }
            free(dec);
        }
        free(ids);
        free(exp);
    }
    return fails;
}

TEST(tokenizer_shared_hf_expected) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data absent");
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizers/expected.json", d);
    size_t len;
    char *buf = slurp(p, &len);
    if (!buf) SKIP("%s absent", p);
    cJSON *root = cJSON_ParseWithLength(buf, len);
    free(buf);
    REQUIRE(root != NULL);
    int total = 0;
    const cJSON *set;
    cJSON_ArrayForEach(set, root) {
        char tp[4400];
        snprintf(tp, sizeof tp, "%s/tokenizers/%s/tokenizer.json", d, set->string);
        Err e = {0};
        Tokenizer *tok = tokenizer_load_json(tp, &e);
        CHECK_MSG(tok != NULL, "load %s: %s", tp, e.msg);
        if (!tok) continue;
        int ncases = 0;
        int fails = check_cases(T_, tok, set, set->string, &ncases);
        fprintf(stderr, "    %s: %d/%d cases exact\n", set->string, ncases - fails, ncases);
        total += ncases;
        tokenizer_free(tok);
    }
    CHECK(total >= 110);
    cJSON_Delete(root);
}

/* tests/fixtures/tokenizers/<name>/{tokenizer.json,expected.json}, expected {"<name>": [cases]} */
TEST(tokenizer_fixture_dirs) {
    const char *base = "tests/fixtures/tokenizers";
    DIR *dir = opendir(base);
    if (!dir) SKIP("no %s yet", base);
    struct dirent *de;
    int ndirs = 0;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        char tp[1024], ep[1024];
        snprintf(tp, sizeof tp, "%s/%s/tokenizer.json", base, de->d_name);
        snprintf(ep, sizeof ep, "%s/%s/expected.json", base, de->d_name);
        if (access(tp, R_OK) || access(ep, R_OK)) continue;
        ndirs++;
        Err e = {0};
        Tokenizer *tok = tokenizer_load_json(tp, &e);
        CHECK_MSG(tok != NULL, "load %s: %s", tp, e.msg);
        size_t len;
        char *buf = slurp(ep, &len);
        cJSON *root = buf ? cJSON_ParseWithLength(buf, len) : NULL;
        free(buf);
        CHECK_MSG(root != NULL, "%s: not JSON", ep);
        if (tok && root) {
            const cJSON *set;
            cJSON_ArrayForEach(set, root) {
                int ncases = 0;
                int fails = check_cases(T_, tok, set, de->d_name, &ncases);
                fprintf(stderr, "    %s/%s: %d/%d cases exact\n", de->d_name, set->string, ncases - fails, ncases);
            }
        }
        cJSON_Delete(root);
        tokenizer_free(tok);
    }
    closedir(dir);
    if (!ndirs) SKIP("no fixture directories under %s yet", base);
}

TEST(tokenizer_llama2c_reference) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data absent");
    char p[4200], rp[4200];
    snprintf(p, sizeof p, "%s/stories260K/tok512.bin", d);
    snprintf(rp, sizeof rp, "%s/stories260K/reference.json", d);
    Err e = {0};
    Tokenizer *tok = tokenizer_load_llama2c(p, 512, &e);
    REQUIRE(tok != NULL);
    CHECK_EQ_INT(tokenizer_vocab_size(tok), 512);
    CHECK_EQ_INT(tokenizer_bos_id(tok), 1);
    CHECK_EQ_INT(tokenizer_eos_id(tok), 2);
    size_t len;
    char *buf = slurp(rp, &len);
    cJSON *root = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    free(buf);
    REQUIRE(root != NULL);
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(root, "bos_greedy_ids");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(root, "bos_greedy_text");
    REQUIRE(cJSON_IsArray(ji) && cJSON_IsString(jt));
    int n = cJSON_GetArraySize(ji), k = 0;
    int *ids = malloc(sizeof(int) * (size_t)(n + 1));
    const cJSON *x;
    ids[k++] = 1; /* BOS, as generation started from it */
    cJSON_ArrayForEach(x, ji) ids[k++] = x->valueint;
    char *dec = tokenizer_decode(tok, ids + 1, n, false);
    CHECK_STR(dec, jt->valuestring);
    free(dec);
    dec = tokenizer_decode(tok, ids, n + 1, true); /* after BOS: same text */
    CHECK_STR(dec, jt->valuestring);
    free(dec);
    /* encode -> decode round trip, BOS first */
    int *enc = NULL;
    int m = tokenizer_encode(tok, jt->valuestring, strlen(jt->valuestring), true, &enc, &e);
    CHECK(m > 1);
    if (m > 1) {
        CHECK_EQ_INT(enc[0], 1);
        dec = tokenizer_decode(tok, enc, m, true);
        CHECK_STR(dec, jt->valuestring);
        free(dec);
        /* the encoding is never longer than the greedy ids (merges are maximal) */
        CHECK(m - 1 <= n);
    }
    free(enc);
    /* llama2.c details: " Once" merges, bytes fall back to <0xNN> = byte + 3 */
    m = tokenizer_encode(tok, "Once", 4, false, &enc, &e);
    CHECK_EQ_INT(m, 1);
    if (m == 1) CHECK_STR(tokenizer_token_raw(tok, enc[0]), " Once");
    free(enc);
    m = tokenizer_encode(tok, "\xD0\xB6", 2, false, &enc, &e); /* Cyrillic zhe is not in the 512 vocab */
    CHECK(m >= 2);
    char disp[64];
    if (m >= 2) {
        CHECK_EQ_INT(enc[m - 1], 0xB6 + 3);
        CHECK_STR(tokenizer_token_display(tok, enc[m - 1], disp, sizeof disp), "<0xB6>");
        dec = tokenizer_decode(tok, enc, m, false);
        CHECK_STR(dec, "\xD0\xB6");
        free(dec);
    }
    free(enc);
    m = tokenizer_encode(tok, "", 0, true, &enc, &e);
    CHECK_EQ_INT(m, 1);
    free(enc);
    CHECK_STR(tokenizer_token_display(tok, 1, disp, sizeof disp), "<s>");
    free(ids);
    cJSON_Delete(root);
    tokenizer_free(tok);
}

static Tokenizer *load_shared(const char *name) {
    const char *d = test_shared_data();
    if (!d) return NULL;
    char p[4200];
    snprintf(p, sizeof p, "%s/tokenizers/%s/tokenizer.json", d, name);
    Err e = {0};
    return tokenizer_load_json(p, &e);
}

/* encode + decode round trip; returns the count */
static int roundtrip(TestCtx *T_, const Tokenizer *tok, const char *text, size_t len, const char *want) {
    int *ids = NULL;
    Err e = {0};
    int n = tokenizer_encode(tok, text, len, false, &ids, &e);
    CHECK_MSG(n >= 0, "encode failed: %s", e.msg);
    if (n < 0) return n;
    char *dec = tokenizer_decode(tok, ids, n, false);
    CHECK_STR(dec, want);
    free(dec);
    free(ids);
    return n;
}

TEST(tokenizer_tricky_inputs) {
    Tokenizer *q = load_shared("qwen3"), *g = load_shared("gpt2");
    if (!q || !g) { tokenizer_free(q); tokenizer_free(g); SKIP("shared tokenizers absent"); }
    const Tokenizer *both[2] = {q, g};
    for (int k = 0; k < 2; k++) {
        const Tokenizer *t = both[k];
        /* invalid UTF-8 -> U+FFFD per maximal subpart, never a crash */
        roundtrip(T_, t, "a\xFF" "b", 3, "a\xEF\xBF\xBD" "b");
        roundtrip(T_, t, "\xE2\x82", 2, "\xEF\xBF\xBD");          /* truncated 3-byte seq: one U+FFFD */
        roundtrip(T_, t, "\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate: 3 */
        roundtrip(T_, t, "x\0y", 3, "x\0y" /* compared up to NUL */);
        CHECK_EQ_INT(roundtrip(T_, t, "", 0, ""), 0);
        roundtrip(T_, t, "<|endoftext|><|endoftext|>", 26, "<|endoftext|><|endoftext|>");
        roundtrip(T_, t, "<|endoftext", 11, "<|endoftext");
        roundtrip(T_, t, "\r\n\t \v\f\xC2\x85\xE1\xA0\x8E end", 15, "\r\n\t \v\f\xC2\x85\xE1\xA0\x8E end");
        roundtrip(T_, t, "Ελληνικά ΣΊΣΥΦΟΣ İstanbul ǅ ﬃ", strlen("Ελληνικά ΣΊΣΥΦΟΣ İstanbul ǅ ﬃ"),
                  "Ελληνικά ΣΊΣΥΦΟΣ İstanbul ǅ ﬃ");
        /* display of every token of a mixed string is valid UTF-8 text */
        const char *mix = "héllo 🦙 世界\n";
        int *ids = NULL;
        Err e = {0};
        int n = tokenizer_encode(t, mix, strlen(mix), false, &ids, &e);
        CHECK(n > 0);
        char disp[128], all[512] = "";
        for (int i = 0; i < n; i++) {
            tokenizer_token_display(t, ids[i], disp, sizeof disp);
            strncat(all, disp, sizeof all - strlen(all) - 1);
        }
        CHECK(strstr(all, "<0x") != NULL); /* the emoji / CJK bytes split across tokens somewhere */
        free(ids);
    }
    /* Qwen's NFC normalizer: decomposed é encodes like the precomposed one */
    int *a = NULL, *b = NULL;
    Err e = {0};
    int na = tokenizer_encode(q, "e\xCC\x81", 3, false, &a, &e), nb = tokenizer_encode(q, "\xC3\xA9", 2, false, &b, &e);
    CHECK(na == nb && na > 0 && !memcmp(a, b, sizeof(int) * (size_t)na));
    free(a);
    free(b);
    /* GPT-2 display: "Ġthe" raw, " the" displayed */
    int *ids = NULL;
    int n = tokenizer_encode(g, " the", 4, false, &ids, &e);
    CHECK_EQ_INT(n, 1);
    char disp[64];
    if (n == 1) {
        CHECK_STR(tokenizer_token_raw(g, ids[0]), "\xC4\xA0the");
        CHECK_STR(tokenizer_token_display(g, ids[0], disp, sizeof disp), " the");
    }
    free(ids);
    CHECK(tokenizer_token_raw(g, -1) == NULL);
    CHECK(tokenizer_token_raw(g, 1 << 30) == NULL);
    CHECK_STR(tokenizer_token_display(g, 1 << 30, disp, sizeof disp), "");
    CHECK_EQ_INT(tokenizer_eos_id(g), 50256);
    CHECK(tokenizer_is_special(g, 50256));
    CHECK(!tokenizer_is_special(g, 100));
    CHECK_EQ_INT(tokenizer_eos_id(q), 151645);
    CHECK_EQ_INT(tokenizer_bos_id(q), -1);
    CHECK(tokenizer_is_special(q, 151644));
    CHECK(!tokenizer_is_special(q, 151667)); /* <think> is added but not special */
    /* decode with skip_special drops <|im_start|> but keeps <think> */
    int seq[3] = {151644, 151667, 151645};
    char *dec = tokenizer_decode(q, seq, 3, true);
    CHECK_STR(dec, "<think>");
    free(dec);
    dec = tokenizer_decode(q, seq, 3, false);
    CHECK_STR(dec, "<|im_start|><think><|im_end|>");
    free(dec);
    /* out-of-range ids are skipped */
    int bad[3] = {-5, 15339, 1 << 29};
    dec = tokenizer_decode(g, bad, 3, false);
    CHECK(dec != NULL);
    free(dec);
    tokenizer_free(q);
    tokenizer_free(g);
}

TEST(tokenizer_long_input_is_fast) {
    Tokenizer *q = load_shared("qwen3");
    if (!q) SKIP("shared tokenizers absent");
    /* one 200 KB "word" and 200 KB of spaces: no quadratic behaviour */
    size_t n = 200000;
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = 0;
    clock_t c0 = clock();
    int *ids = NULL;
    Err e = {0};
    int k = tokenizer_encode(q, s, n, false, &ids, &e);
    CHECK(k > 0);
    char *dec = k > 0 ? tokenizer_decode(q, ids, k, false) : NULL;
    CHECK(dec && strlen(dec) == n && dec[0] == 'a');
    free(dec);
    free(ids);
    memset(s, ' ', n);
    k = tokenizer_encode(q, s, n, false, &ids, &e);
    CHECK(k > 0);
    free(ids);
    for (size_t i = 0; i < n; i++) s[i] = "ab1 \n,"[i % 6];
    k = tokenizer_encode(q, s, n, false, &ids, &e);
    CHECK(k > 0);
    free(ids);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 5.0 || getenv("LLMSCOPE_VALGRIND"), "600 KB took %.2f s", secs);
    free(s);
    tokenizer_free(q);
}

/* ---- synthetic tokenizer.json files --------------------------------------------------------- */
static Tokenizer *load_str(const char *json) {
    Err e = {0};
    Tokenizer *t = tokenizer_load_json_buf(json, strlen(json), "inline", &e);
    if (!t) fprintf(stderr, "    inline tokenizer: %s\n", e.msg);
    return t;
}

static void enc_expect(TestCtx *T_, const Tokenizer *t, const char *text, bool add_special, const int *want, int nwant) {
    int *ids = NULL;
    Err e = {0};
    int n = tokenizer_encode(t, text, strlen(text), add_special, &ids, &e);
    bool same = n == nwant && (n == 0 || !memcmp(ids, want, sizeof(int) * (size_t)n));
    CHECK_MSG(same, "encode \"%s\": got %d ids (%s)", text, n, e.msg);
    if (!same && n >= 0) { print_ids("want", want, nwant); print_ids("got ", ids, n); }
    free(ids);
}

static void dec_expect(TestCtx *T_, const Tokenizer *t, const int *ids, int n, bool skip, const char *want) {
    char *d = tokenizer_decode(t, ids, n, skip);
    CHECK_STR(d, want);
    free(d);
}

/* A Llama-2-style sentencepiece conversion: Prepend+Replace normalizer, byte_fallback BPE,
 * Replace/ByteFallback/Fuse/Strip decoder, TemplateProcessing with <s>. */
static const char *SP_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":["
    "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},"
    "\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},\"content\":\" \"},"
    "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
    "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"ignore_merges\":false,"
    "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0x0A>\":3,\"<0xC3>\":4,\"<0xA9>\":5,\"<0xE2>\":6,\"<0x82>\":7,"
    "\"\\u2581\":8,\"h\":9,\"i\":10,\"\\u2581h\":11,\"\\u2581hi\":12,\"t\":13,\"\\u2581t\":14,\"e\":15,\"\\u2581the\":16,\"he\":17,\"<0xAC>\":18},"
    "\"merges\":[\"\\u2581 h\",\"\\u2581h i\",\"h e\",\"\\u2581 t\",\"\\u2581t he\"]}}";

TEST(tokenizer_synthetic_sentencepiece) {
    Tokenizer *t = load_str(SP_JSON);
    REQUIRE(t != NULL);
    CHECK_STR(tokenizer_kind(t), "hf-bpe (sentencepiece-style)");
    CHECK_EQ_INT(tokenizer_bos_id(t), 1);
    CHECK_EQ_INT(tokenizer_eos_id(t), 2);
    /* "hi the" -> "▁hi▁the": ▁hi ▁the */
    enc_expect(T_, t, "hi the", false, (int[]){12, 16}, 2);
    enc_expect(T_, t, "hi the", true, (int[]){1, 12, 16}, 3);
    /* é is not in the vocab: bytes <0xC3><0xA9>; \n -> <0x0A> */
    enc_expect(T_, t, "h\xC3\xA9\n", false, (int[]){11, 4, 5, 3}, 4);
    /* € -> E2 82 AC all present; 'z' has no byte token: unk */
    enc_expect(T_, t, "\xE2\x82\xAC", false, (int[]){8, 6, 7, 18}, 4);
    enc_expect(T_, t, "zz", false, (int[]){8, 0}, 2); /* fuse_unk: one <unk> for "zz" */
    /* special tokens are matched before the normalizer: "<s>hi" -> <s> then "▁hi" */
    enc_expect(T_, t, "<s>hi", false, (int[]){1, 12}, 2);
    dec_expect(T_, t, (int[]){1, 12, 16}, 3, true, "hi the");
    dec_expect(T_, t, (int[]){1, 12, 16}, 3, false, "<s> hi the");
    dec_expect(T_, t, (int[]){11, 4, 5, 3}, 4, false, "h\xC3\xA9\n");
    dec_expect(T_, t, (int[]){11, 4}, 2, false, "h\xEF\xBF\xBD"); /* a lone byte -> U+FFFD */
    char disp[32];
    CHECK_STR(tokenizer_token_display(t, 16, disp, sizeof disp), " the");
    CHECK_STR(tokenizer_token_display(t, 4, disp, sizeof disp), "<0xC3>");
    CHECK_STR(tokenizer_token_display(t, 3, disp, sizeof disp), "\n");
    CHECK_STR(tokenizer_token_raw(t, 16), "\xE2\x96\x81the");
    tokenizer_free(t);
}

/* Metaspace pre-tokenizer (prepend_scheme first), added tokens with lstrip/rstrip/single_word,
 * normalized added tokens with a Lowercase normalizer, Metaspace decoder. */
static const char *META_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":["
    "{\"id\":9,\"content\":\"<mask>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":true},"
    "{\"id\":10,\"content\":\"cat\",\"single_word\":true,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":false},"
    "{\"id\":11,\"content\":\"DOG\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":true,\"special\":false}],"
    "\"normalizer\":{\"type\":\"Lowercase\"},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"post_processor\":null,"
    "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"?\",\"fuse_unk\":false,\"byte_fallback\":false,"
    "\"vocab\":{\"?\":0,\"\\u2581\":1,\"a\":2,\"b\":3,\"\\u2581a\":4,\"\\u2581b\":5,\"c\":6,\"t\":7,\"ab\":8},"
    "\"merges\":[[\"\\u2581\",\"a\"],[\"\\u2581\",\"b\"],[\"a\",\"b\"]]}}";

TEST(tokenizer_synthetic_metaspace_added) {
    Tokenizer *t = load_str(META_JSON);
    REQUIRE(t != NULL);
    /* "A b": lowercase "a b" -> "▁a", "▁b" */
    enc_expect(T_, t, "A b", false, (int[]){4, 5}, 2);
    /* "ab ab": "▁ab" -> (▁ a)(b)?  merges: "▁ a" rank0 first -> ▁a b ; "▁ab" not in vocab */
    enc_expect(T_, t, "ab ab", false, (int[]){4, 3, 4, 3}, 4);
    /* <mask> with lstrip/rstrip swallows the spaces around it; the piece after it is not at
     * the start, so "first" does not prepend ▁ */
    enc_expect(T_, t, "a  <mask>  b", false, (int[]){4, 9, 3}, 3);
    /* single_word "cat": only when not inside a word */
    enc_expect(T_, t, "cat", false, (int[]){10}, 1);
    enc_expect(T_, t, "a cat", false, (int[]){4, 1, 10}, 3);
    enc_expect(T_, t, "bcat", false, (int[]){5, 6, 2, 7}, 4);
    /* added-token ids follow HF: the model vocabulary's id, else the next id after it */
    CHECK_EQ_INT(tokenizer_vocab_size(t), 12);
    /* normalized added token "DOG" matches after lowercasing as "dog"; it decodes as "dog" */
    enc_expect(T_, t, "DOG", false, (int[]){11}, 1);
    enc_expect(T_, t, "dog", false, (int[]){11}, 1);
    dec_expect(T_, t, (int[]){11}, 1, false, "dog");
    /* unknown chars: one unk each (fuse_unk false) */
    enc_expect(T_, t, "zz", false, (int[]){1, 0, 0}, 3);
    /* Metaspace decoder drops every ▁ of the first token only */
    dec_expect(T_, t, (int[]){4, 5, 1}, 3, false, "a b ");
    dec_expect(T_, t, (int[]){1, 4}, 2, false, " a");
    char disp[32];
    CHECK_STR(tokenizer_token_display(t, 4, disp, sizeof disp), " a");
    tokenizer_free(t);
}

/* GPT-2-style pieces with ByteLevel(add_prefix_space) + Digits + Split(invert), NFKC,
 * legacy "a b" merges with a #version line, ignore_merges. */
static const char *BL_JSON =
    "{\"version\":\"1.0\",\"added_tokens\":[],"
    "\"normalizer\":{\"type\":\"NFKC\"},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
    "{\"type\":\"Digits\",\"individual_digits\":true},"
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"behavior\":\"MergedWithNext\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":false}]},"
    "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
    "\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,"
    "\"vocab\":{\"\\u0120\":0,\"a\":1,\"b\":2,\"1\":3,\"2\":4,\"\\u0120a\":5,\"\\u0120ab\":6,\"fi\":7,\"f\":8,\"i\":9,\"\\u0120f\":10,\"\\u01201\":11,\"\\u0120fi\":12,\"ab\":13},"
    "\"merges\":[\"#version: 0.2\",\"\\u0120 a\",\"\\u0120a b\",\"f i\",\"\\u0120 f\",\"a b\"]}}";

TEST(tokenizer_synthetic_bytelevel) {
    Tokenizer *t = load_str(BL_JSON);
    REQUIRE(t != NULL);
    CHECK_STR(tokenizer_kind(t), "hf-bpe (byte-level)");
    /* "ab" -> prefix space "Ġab": ignore_merges finds "Ġab" = 6 directly */
    enc_expect(T_, t, "ab", false, (int[]){6}, 1);
    /* "12": Digits isolates "1","2"; each gets a prefix space: Ġ1 (in vocab) and Ġ2 (not: Ġ 2) */
    enc_expect(T_, t, "12", false, (int[]){11, 0, 4}, 3);
    /* NFKC: the ligature ﬁ becomes "fi"; Split merges the space with the next word:
     * "a", " fi" -> "Ġa", "Ġfi" (ignore_merges: Ġfi = 12) */
    enc_expect(T_, t, "a \xEF\xAC\x81", false, (int[]){5, 12}, 2);
    dec_expect(T_, t, (int[]){5, 12}, 2, false, " a fi");
    tokenizer_free(t);
}

TEST(tokenizer_bad_files_fail_cleanly) {
    Err e = {0};
    const char *bad[] = {
        "", "{", "[]", "{\"model\":{}}", "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"normalizer\":{\"type\":\"Nope\"}}",
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]},\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}],\"special_tokens\":{}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_clear(&e);
        Tokenizer *t = tokenizer_load_json_buf(bad[i], strlen(bad[i]), "bad.json", &e);
        CHECK_MSG(t == NULL && e.code != 0 && strstr(e.msg, "bad.json"), "case %zu loaded or gave no message: %s", i, e.msg);
        tokenizer_free(t);
    }
    /* every prefix of a valid file fails cleanly or loads (no crash, no leak) */
    size_t n = strlen(META_JSON);
    for (size_t cut = 0; cut < n; cut += 7) {
        err_clear(&e);
        Tokenizer *t = tokenizer_load_json_buf(META_JSON, cut, "cut.json", &e);
        tokenizer_free(t);
    }
    /* llama2.c: truncated or garbage files */
    unsigned char junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
    for (size_t cut = 0; cut <= sizeof junk; cut += 3) {
        err_clear(&e);
        Tokenizer *t = tokenizer_load_llama2c_buf(junk, cut, 0, "junk.bin", &e);
        tokenizer_free(t);
    }
    CHECK(tokenizer_load_for_model("/nonexistent/dir", 0, &e) == NULL && e.code);
}

TEST(tokenizer_load_for_model_paths) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data absent");
    char p[4200];
    Err e = {0};
    snprintf(p, sizeof p, "%s/stories260K/stories260K.bin", d);
    Tokenizer *t = tokenizer_load_for_model(p, 512, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (t) CHECK_EQ_INT(tokenizer_vocab_size(t), 512);
    tokenizer_free(t);
    snprintf(p, sizeof p, "%s/tokenizers/qwen3", d);
    t = tokenizer_load_for_model(p, 0, &e);
    CHECK_MSG(t != NULL, "%s", e.msg);
    if (t) CHECK_EQ_INT(tokenizer_vocab_size(t), 151669);
    tokenizer_free(t);
    snprintf(p, sizeof p, "%s/stories260K/hf", d);
    err_clear(&e);
    t = tokenizer_load_for_model(p, 512, &e);
    CHECK(t == NULL && strstr(e.msg, "tokenizer.json"));
    tokenizer_free(t);
}

TEST(tokenizer_cli) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data absent");
    if (access(test_bin(), X_OK)) SKIP("%s not built", test_bin());
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s/tokenizers/gpt2/tokenizer.json --text 'Hello world' --json", test_bin(), d);
    int rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "\"ids\": [15496, 995]") && strstr(out, "\"tokens\": [\"Hello\", \"\xC4\xA0world\"]") &&
          strstr(out, "\"display\": [\"Hello\", \" world\"]"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s detokenize --tokenizer %s/tokenizers/gpt2/tokenizer.json --ids 15496,995 --json", test_bin(), d);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "{\"text\": \"Hello world\"}"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s/stories260K/stories260K.bin --text 'Once upon' --json", test_bin(), d);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "\"ids\": [1, 403, 407]"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s/stories260K/stories260K.bin --raw --text 'Once upon'", test_bin(), d);
    rc = test_run(cmd, &out, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strstr(out, "403") && !strstr(out, "<s>"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s tokenize --model %s/stories260K/hf --text hi", test_bin(), d);
    rc = test_run(cmd, &out, 1);
    CHECK_EQ_INT(rc, 1);
    CHECK(out && strstr(out, "tokenizer.json"));
    free(out);
}

/* llama2.c's encode, as written there (quadratic): the reference for the heap-based one. */
typedef struct { char **vocab; float *scores; int n; } RefTok;

static int ref_lookup(const RefTok *r, const char *s) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->vocab[i], s)) return i;
    return -1;
}

static int ref_encode(const RefTok *r, const char *text, int *tokens) {
    int n = 0;
    char buf[64];
    size_t bl = 0;
    if (text[0]) tokens[n++] = ref_lookup(r, " ");
    for (const char *c = text; *c; c++) {
        if ((*c & 0xC0) != 0x80) bl = 0;
        buf[bl++] = *c;
        buf[bl] = 0;
        if ((*(c + 1) & 0xC0) == 0x80 && bl < 4) continue;
        int id = ref_lookup(r, buf);
        if (id != -1) tokens[n++] = id;
        else for (size_t i = 0; i < bl; i++) tokens[n++] = (unsigned char)buf[i] + 3;
        bl = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_idx = -1;
        for (int i = 0; i < n - 1; i++) {
            char cat[128];
            snprintf(cat, sizeof cat, "%s%s", r->vocab[tokens[i]], r->vocab[tokens[i + 1]]);
            int id = ref_lookup(r, cat);
            if (id != -1 && r->scores[id] > best) { best = r->scores[id]; best_id = id; best_idx = i; }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (int i = best_idx + 1; i < n - 1; i++) tokens[i] = tokens[i + 1];
        n--;
    }
    return n;
}

TEST(tokenizer_llama2c_matches_reference_encode) {
    const char *d = test_shared_data();
    if (!d) SKIP("../shared/data absent");
    char p[4200];
    snprintf(p, sizeof p, "%s/stories260K/tok512.bin", d);
    size_t len;
    unsigned char *b = (unsigned char *)slurp(p, &len);
    REQUIRE(b != NULL);
    RefTok r = {calloc(512, sizeof(char *)), calloc(512, sizeof(float)), 512};
    size_t off = 4;
    for (int i = 0; i < 512; i++) {
        int32_t n;
        memcpy(&r.scores[i], b + off, 4);
        memcpy(&n, b + off + 4, 4);
        r.vocab[i] = calloc((size_t)n + 1, 1);
        memcpy(r.vocab[i], b + off + 8, (size_t)n);
        off += 8 + (size_t)n;
    }
    free(b);
    Err e = {0};
    Tokenizer *tok = tokenizer_load_llama2c(p, 512, &e);
    REQUIRE(tok != NULL);
    const char *words[] = {"Once", " upon", " a", "time", ",", " the", "  ", "little", "girl", "\n", "Lily", "'s",
                           "\xC3\xA9", "\xE2\x80\x9C", "\xD0\xB6", "\xE4\xB8\xAD", "\xF0\x9F\xA6\x99", "x", "qu", "!!", " ",
                           "\x80", "\xC3", "123", "zz", "dog", "ran", "and", "ed", "ing"};
    int nw = (int)(sizeof words / sizeof words[0]), mismatches = 0;
    srand(7);
    for (int it = 0; it < 300; it++) {
        char text[256] = "";
        int k = 1 + rand() % 12;
        for (int j = 0; j < k; j++) strcat(text, words[rand() % nw]);
        int want[512];
        int nwant = ref_encode(&r, text, want);
        int *ids = NULL;
        int n = tokenizer_encode(tok, text, strlen(text), false, &ids, &e);
        if (n != nwant || memcmp(ids, want, sizeof(int) * (size_t)n)) {
            if (mismatches++ < 3) { fprintf(stderr, "    mismatch on \"%s\"\n", text); print_ids("want", want, nwant); print_ids("got ", ids, n); }
        }
        free(ids);
    }
    CHECK_EQ_INT(mismatches, 0);
    for (int i = 0; i < 512; i++) free(r.vocab[i]);
    free(r.vocab);
    free(r.scores);
    tokenizer_free(tok);
}
