/* Fuzzes the llama2.c tokenizer.bin reader and its encoder (tokenizer/llama2c_tok.c).
 * Input: int32 vocab_size (as the model would pass; <= 0 reads to the end of the file), then
 * the tokenizer.bin bytes. A tokenizer that loads then encodes fixed texts (ASCII, multi-byte
 * UTF-8, invalid UTF-8) and a slice of the input itself, and decodes the ids back. */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int32_t vs;
    memcpy(&vs, data, 4);
    if (vs > 70000) vs = 70000;
    const char *name = "fuzz/tokenizer.bin";
    Err e = {0};
    Tokenizer *t = tokenizer_load_llama2c_buf(data + 4, size - 4, vs, name, &e);
    if (!t) { fuzz_check_err(&e, name, "tokenizer_load_llama2c_buf"); return 0; }
    int V = tokenizer_vocab_size(t);
    if (V <= 0 || (vs > 0 && V < vs)) fuzz_fail("vocab size %d for requested %d", V, (int)vs);
    static const char *texts[] = {"hello the world", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
                                  "\xff\xfe\xc3\x28 bad \xe2\x82", "", "   ", "<s></s><unk>"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) free(fuzz_tok_check(t, texts[i], strlen(texts[i]), true, false));
    size_t tl = size - 4 < 512 ? size - 4 : 512;
    free(fuzz_tok_check(t, (const char *)data + 4, tl, true, false));
    for (int id = -2; id < V + 2 && id < 300; id++) {
        const char *r = tokenizer_token_raw(t, id);
        if (r) { fuzz_touch(r, strlen(r)); (void)tokenizer_token_id(t, r); }
        char d[16];
        tokenizer_token_display(t, id, d, sizeof d);
        (void)tokenizer_is_special(t, id);
    }
    tokenizer_free(t);
    return 0;
}
