/* Tokenizers that match Hugging Face `tokenizers` exactly (tokenizer.json with a BPE model)
 * and llama2.c's tokenizer.bin. See docs/tokenizer.md.
 *
 * A Tokenizer is immutable once loaded: encode/decode take a const pointer and may be called
 * from several threads at once. */
#ifndef LLMSCOPE_TOKENIZER_H
#define LLMSCOPE_TOKENIZER_H
#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

typedef struct Tokenizer Tokenizer;

/* tokenizer.json; also reads tokenizer_config.json beside it if present
 * (add_bos_token/add_eos_token, bos_token/eos_token). */
Tokenizer *tokenizer_load_json(const char *path, Err *e);
/* Same from memory (fuzzable). name is used in messages. No tokenizer_config.json. */
Tokenizer *tokenizer_load_json_buf(const char *buf, size_t len, const char *name, Err *e);
/* llama2.c tokenizer.bin. vocab_size <= 0: read entries until the end of the file. */
Tokenizer *tokenizer_load_llama2c(const char *path, int vocab_size, Err *e);
Tokenizer *tokenizer_load_llama2c_buf(const unsigned char *buf, size_t len, int vocab_size,
                                      const char *name, Err *e);
/* For a model path: a directory with tokenizer.json (or a llama2.c tokenizer.bin / tok*.bin),
 * a tokenizer.json file, or a llama2.c .bin checkpoint whose directory holds tokenizer.bin or
 * tok*.bin (tok<vocab_size>.bin preferred). NULL + e if none. */
Tokenizer *tokenizer_load_for_model(const char *model_path, int vocab_size, Err *e);
/* The tokenizer inside a GGUF file (tokenizer.ggml.*: "gpt2" byte-level BPE or "llama"
 * sentencepiece), giving llama.cpp's ids (tokenizer/gguf_tok.c). */
Tokenizer *tokenizer_load_gguf(const char *path, Err *e);
void tokenizer_free(Tokenizer *t);

/* add_special: add BOS/EOS as the tokenizer's post-processor/config says.
 * Invalid UTF-8 in text is replaced by U+FFFD (as Rust's String::from_utf8_lossy does) before
 * a tokenizer.json pipeline; llama2.c tokenizers see the raw bytes (byte fallback).
 * Returns the count, *ids malloc'd (caller frees; non-NULL even for 0 ids); -1 on error. */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, int **ids,
                     Err *e);
/* malloc'd, NUL-terminated UTF-8; NULL only when out of memory. Out-of-range ids are skipped.
 * The pieces joined (what a stream of generated tokens shows). */
char *tokenizer_decode(const Tokenizer *t, const int *ids, int n, bool skip_special);
/* The text the tokenizer's own library gives (`detokenize`): tokenizer_decode, except for a GGUF
 * tokenizer, where it is llama.cpp's llama_detokenize(remove_special false, unparse_special
 * !skip_special): sentencepiece keeps the space after a leading BOS, and most byte-level BPE
 * pre-types clean up spaces before punctuation and apostrophes (tokenizer/detok.c). */
char *tokenizer_detokenize(const Tokenizer *t, const int *ids, int n, bool skip_special);
/* Display text of one token for a UI token strip: decoded bytes of that token alone, made valid
 * UTF-8 (bytes that do not form a whole character are shown as <0xNN>); writes into buf
 * (truncated at a character boundary to fit cap) and returns buf. */
const char *tokenizer_token_display(const Tokenizer *t, int id, char *buf, size_t cap);
/* Vocabulary string as stored ("Ġthe", "▁the", "<0x0A>"), NULL if out of range. */
const char *tokenizer_token_raw(const Tokenizer *t, int id);
/* Looks a vocabulary string up (added tokens first); -1 if absent. */
int tokenizer_token_id(const Tokenizer *t, const char *tok);
/* Number of ids (max id + 1, added tokens included). */
int tokenizer_vocab_size(const Tokenizer *t);
int tokenizer_bos_id(const Tokenizer *t);   /* -1 if none */
int tokenizer_eos_id(const Tokenizer *t);   /* -1 if none */
bool tokenizer_is_special(const Tokenizer *t, int id);
/* Short description: "hf-bpe (byte-level)", "llama2c", ... */
const char *tokenizer_kind(const Tokenizer *t);

/* Encode throughput in MB/s (1e6 bytes/s) of the whole of textfile with the tokenizer at
 * tokjson (tokenizer.json, or a llama2.c .bin), best of a few runs; < 0 on error (message
 * in e when given). *ntokens_out (may be NULL) gets the token count. */
double tokenizer_bench_mbps_ex(const char *tokjson, const char *textfile, long *ntokens_out, Err *e);
double tokenizer_bench_mbps(const char *tokjson, const char *textfile);

#endif
