/* tokenizer_detokenize: the text a tokenizer's own library gives for ids. For a GGUF tokenizer
 * that is llama.cpp's llama_detokenize (remove_special false, unparse_special = !skip_special):
 * where tokenizer.ggml.add_space_prefix is true (sentencepiece's default), one space at the start of
 * the first id's piece is dropped (after a BOS it is kept; byte-level BPE too, where a file sets it),
 * and the byte-level BPE pre-types for which llama.cpp sets clean_spaces get its clean-up,
 * three passes over the bytes:
 *   1. a space before . , ! ? is removed;
 *   2. an apostrophe with a space on each side loses both spaces ("a ' b" -> "a'b"); the space
 *      after it is consumed, so the next character is never seen as following a space;
 *   3. a space before 's 'm 're 've is removed (not before 't 'd 'll).
 * Every other tokenizer: tokenizer_decode. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/tokenizer.h"

static size_t clean_punct(char *s, size_t n) {
    size_t w = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (s[i - 1] == ' ' && (c == '.' || c == ',' || c == '!' || c == '?')) w--;
        s[w++] = c;
    }
    return w;
}

static size_t clean_lone_apostrophe(char *s, size_t n) {
    size_t w = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (c == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
            w--;          /* the space before */
            s[++i] = 0;   /* the space after: skipped, and no longer a space for the next step */
        }
        s[w++] = c;
    }
    return w;
}

static size_t clean_contractions(char *s, size_t n) {
    size_t w = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (c == '\'' && s[i - 1] == ' ' && i + 1 < n) {
            char a = s[i + 1];
            if (a == 's' || a == 'm' || ((a == 'r' || a == 'v') && i + 2 < n && s[i + 2] == 'e')) w--;
        }
        s[w++] = c;
    }
    return w;
}

char *tokenizer_detokenize(const Tokenizer *t, const int *ids, int n, bool skip_special) {
    if (!t) return NULL;
    char *s = t->kind == TOK_LLAMA2C && t->spm_first_space ? llama2c_decode(t, ids, ids ? n : 0, skip_special, true)
                                                          : tokenizer_decode(t, ids, n, skip_special);
    if (s && t->kind != TOK_LLAMA2C && t->spm_first_space && t->spm_prefix && ids && n > 0 && s[0] == ' ') {
        /* byte-level BPE with tokenizer.ggml.add_space_prefix true: one space less, where the first
         * id's own piece starts with it */
        char *first = tokenizer_decode(t, ids, 1, skip_special);
        if (first && first[0] == ' ') memmove(s, s + 1, strlen(s));
        free(first);
    }
    if (s && t->clean_spaces) {
        size_t len = clean_contractions(s, clean_lone_apostrophe(s, clean_punct(s, strlen(s))));
        s[len] = 0;
    }
    return s;
}
