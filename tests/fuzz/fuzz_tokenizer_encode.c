/* Fuzzes tokenizer_encode on arbitrary bytes with realistic tokenizers: every tokenizer.json
 * in tests/fuzz/corpus/tokenizer_json/ (or $FUZZ_TOKENIZER_DIR) is loaded once. Input: one
 * selector byte (tokenizer index and add_special), then the text. Checks: ids in range,
 * decode succeeds, and for the byte-level tokenizer without normalizer ("bytelevel*.json"
 * with NFC only) decoding valid NFC-stable ASCII text gives the text back. */
#include <dirent.h>
#include "fuzz_tok.h"

#define MAX_TOK 16
static Tokenizer *g_tok[MAX_TOK];
static int g_lossless[MAX_TOK];
static int g_n;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load_all(void) {
    const char *dir = getenv("FUZZ_TOKENIZER_DIR");
    if (!dir || !*dir) dir = "tests/fuzz/corpus/tokenizer_json";
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "fuzz_tokenizer_encode: cannot open %s (run from the repository root)\n", dir); abort(); }
    char *names[64];
    int k = 0;
    struct dirent *de;
    while ((de = readdir(d)) && k < 64)
        if (de->d_name[0] != '.') names[k++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)k, sizeof names[0], cmp_str);
    for (int i = 0; i < k; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        Err e = {0};
        Tokenizer *t = g_n < MAX_TOK ? tokenizer_load_json(p, &e) : NULL;
        if (t) { g_lossless[g_n] = !strncmp(names[i], "bytelevel", 9); g_tok[g_n++] = t; }
        free(names[i]);
    }
    if (!g_n) { fprintf(stderr, "fuzz_tokenizer_encode: no tokenizer loaded from %s\n", dir); abort(); }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_n) load_all();
    if (size < 1) return 0;
    int which = (data[0] >> 1) % g_n;
    bool special = data[0] & 1;
    const Tokenizer *t = g_tok[which];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *s = fuzz_tok_check(t, text, len, special, true);
    if (!s) return 0;
    if (g_lossless[which] && !special) {
        /* printable ASCII without '<' (no added-token text) must round-trip exactly */
        bool plain = true;
        for (size_t i = 0; i < len && plain; i++) plain = text[i] >= 0x20 && text[i] < 0x7f && text[i] != '<';
        if (plain && (strlen(s) != len || memcmp(s, text, len) != 0))
            fuzz_fail("byte-level round trip changed the text: \"%.*s\" -> \"%s\"", (int)len, text, s);
    }
    free(s);
    return 0;
}
