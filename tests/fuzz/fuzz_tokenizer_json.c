/* Fuzzes tokenizer_load_json_buf (tokenizer.json: model, normalizer, pre_tokenizer,
 * post_processor, decoder, added_tokens) and, when it loads, encoding and decoding with it.
 * Input: the tokenizer.json bytes. Fixed texts and the first bytes of the input are encoded. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *name = "fuzz/tokenizer.json";
    Err e = {0};
    Tokenizer *t = tokenizer_load_json_buf((const char *)data, size, name, &e);
    if (!t) { fuzz_check_err(&e, name, "tokenizer_load_json_buf"); return 0; }
    static const char *texts[] = {"Hello world, the 12345 apples!", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
                                  "\xff\xfe\xc3\x28 bad \xe2\x82", "", "  a  \n\n\t b ", "<|endoftext|>x<s></s><unk>"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) free(fuzz_tok_check(t, texts[i], strlen(texts[i]), i & 1, !(i & 1)));
    free(fuzz_tok_check(t, (const char *)data, size < 256 ? size : 256, true, false));
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
