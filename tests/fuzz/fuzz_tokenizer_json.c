/* Fuzzes tokenizer_load_json_buf (tokenizer.json: model, normalizer, pre_tokenizer,
 * post_processor, decoder, added_tokens) and, when it loads, encoding and decoding with it.
 * Input: the tokenizer.json bytes. Fixed texts and the first bytes of the input are encoded. */
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

static void exercise(const Tokenizer *t, const char *text, size_t len, bool special) {
    Err e = {0};
    int *ids = NULL;
    int n = tokenizer_encode(t, text, len, special, &ids, &e);
    if (n < 0) { fuzz_check_err(&e, NULL, "tokenizer_encode"); free(ids); return; }
    if (!ids) fuzz_fail("encode returned NULL ids for %d tokens", n);
    int V = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) fuzz_fail("id %d outside the vocabulary of %d", ids[i], V);
    char *s = tokenizer_decode(t, ids, n, !special);
    if (s) fuzz_touch(s, strlen(s));
    free(s);
    char disp[48];
    for (int i = 0; i < n && i < 64; i++) tokenizer_token_display(t, ids[i], disp, sizeof disp);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz/tokenizer.json";
    Err e = {0};
    Tokenizer *t = tokenizer_load_json_buf((const char *)data, size, name, &e);
    if (!t) { fuzz_check_err(&e, name, "tokenizer_load_json_buf"); return 0; }
    static const char *texts[] = {"Hello world, the 12345 apples!", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
                                  "\xff\xfe\xc3\x28 bad \xe2\x82", "", "  a  \n\n\t b ", "<|endoftext|>x<s></s><unk>"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) exercise(t, texts[i], strlen(texts[i]), i & 1);
    exercise(t, (const char *)data, size < 256 ? size : 256, true);
    int V = tokenizer_vocab_size(t);
    if (V < 0) fuzz_fail("negative vocab size");
    for (int id = -1; id <= V && id < 300; id++) {
        const char *r = tokenizer_token_raw(t, id);
        if (r) fuzz_touch(r, strlen(r));
        char d[16];
        tokenizer_token_display(t, id, d, sizeof d);
    }
    (void)tokenizer_bos_id(t);
    (void)tokenizer_eos_id(t);
    (void)tokenizer_kind(t);
    tokenizer_free(t);
    return 0;
}
