/* The checks every tokenizer target makes on one text (fuzz_tokenizer_json, fuzz_llama2c_tok,
 * fuzz_tokenizer_encode). */
#ifndef LLMSCOPE_FUZZ_TOK_H
#define LLMSCOPE_FUZZ_TOK_H
#include <stdbool.h>
#include "fuzz_common.h"
#include "tokenizer/tokenizer.h"

/* Encodes text with t (special: added tokens recognised). A failure must leave a message; a
 * success gives ids inside the vocabulary, which decode (skip_special) to a text and display
 * (the first 64), every byte of both read. Returns the decoded text (caller frees), or NULL
 * when the encode failed. */
static inline char *fuzz_tok_check(const Tokenizer *t, const char *text, size_t len, bool special, bool skip_special) {
    Err e = {0};
    int *ids = NULL;
    const int n = tokenizer_encode(t, text, len, special, &ids, &e);
    if (n < 0) { fuzz_check_err(&e, NULL, "tokenizer_encode"); free(ids); return NULL; }
    if (!ids) fuzz_fail("encode returned NULL ids for %d tokens", n);
    const int V = tokenizer_vocab_size(t);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) fuzz_fail("id %d outside the vocabulary of %d", ids[i], V);
    char *s = tokenizer_decode(t, ids, n, skip_special);
    if (!s) fuzz_fail("decode returned NULL for %d ids", n);
    fuzz_touch(s, strlen(s));
    char disp[64];
    for (int i = 0; i < n && i < 64; i++) {
        const char *d = tokenizer_token_display(t, ids[i], disp, sizeof disp);
        if (d) fuzz_touch(d, strlen(d));
    }
    free(ids);
    return s;
}
#endif
