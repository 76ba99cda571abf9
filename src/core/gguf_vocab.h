#ifndef LLMSCOPE_GGUF_VOCAB_H
#define LLMSCOPE_GGUF_VOCAB_H
#include <stdbool.h>
#include <stdint.h>
#include "core/err.h"
#include "core/gguf.h"

/* ---- What llama.cpp's library makes of a GGUF vocabulary's special tokens (core/gguf_vocab.c)
 * The model loader (which ids end generation) and the tokenizer (which tokens are found in the
 * text first, which are special, how each shows) both need it, so it lives beside the parser.
 * It follows llama_vocab::impl::load in llama.cpp's llama-vocab.cpp:
 *
 *  - BOS/EOS: tokenizer.ggml.bos_token_id / eos_token_id when inside the token list, else the
 *    defaults of the tokenizer model: sentencepiece ("llama") 1 and 2, byte-level BPE ("gpt2") 11
 *    and 11 (no BOS for the pre-types chatglm-bpe and glm4); none for other models.
 *  - attributes: tokenizer.ggml.token_type (1 normal, 2 unknown, 3 control, 4 user-defined,
 *    5 unused, 6 byte; anything else undefined), then llama.cpp's rules by text: the end-of-turn,
 *    end-of-message and fill-in-the-middle tokens it recognises by their text (<|im_end|>,
 *    <|eot_id|>, <|fim_pad|>, ...) become CONTROL; CONTROL tokens whose text holds "unused" get
 *    UNUSED; gpt-oss's <|channel|> <|message|> <|start|> <|constrain|> become USER_DEFINED; by
 *    model name, Phi-3 (general.name holding "phi-3"/"phi3") strips the whitespace after its
 *    special tokens (RSTRIP; not after <unk>, <s>, <|endoftext|>), jina-v2 / nomic-bert-moe /
 *    modern-bert strip the whitespace before their mask token (LSTRIP).
 *  - end of generation (llama_vocab_is_eog): the FIM pad/repo/separator tokens, every token whose
 *    text is on llama.cpp's list (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>,
 *    </s>, <eos>, ...), then EOS, EOT and EOM; <|end|> is dropped when <|return|> and <|call|> (or
 *    <|calls|>/<|call|> and <|flush|>) are there (gpt-oss, solar-open: it becomes USER_DEFINED), and
 *    </s> when <|tool_response> is (Gemma 4: it becomes NORMAL).
 *  Where a text rule has several candidates for one id (say both <|fim_pad|> and <PAD>), llama.cpp
 *  takes whichever its hash map lists first; here the lowest id. Duplicate texts: the last id wins,
 *  as in llama.cpp's text-to-id map. */

enum {
    GV_UNKNOWN = 1 << 0, GV_UNUSED = 1 << 1, GV_NORMAL = 1 << 2, GV_CONTROL = 1 << 3,
    GV_USER_DEFINED = 1 << 4, GV_BYTE = 1 << 5, GV_LSTRIP = 1 << 7, GV_RSTRIP = 1 << 8
};   /* llama.cpp's llama_token_attr bits */

typedef enum { GV_SPM, GV_BPE, GV_OTHER } GgufVocabKind;

typedef struct {
    GgufVocabKind kind;
    int32_t n_tokens;
    int32_t bos, eos, eot, eom;   /* -1: none */
    int32_t *eog;                 /* ascending, n_eog ids (owned) */
    int n_eog;
    uint16_t *attr;               /* n_tokens GV_* masks (owned) */
    bool add_space_prefix;        /* tokenizer.ggml.add_space_prefix; default true for sentencepiece */
} GgufVocab;

/* Fills v from g's tokenizer.ggml.* keys. False (e filled, naming the file and field) when the file
 * has no token list or memory is short; v then holds nothing to free. */
bool gguf_vocab_read(const GgufFile *g, GgufVocab *v, Err *e);
void gguf_vocab_done(GgufVocab *v);                  /* frees what v owns; v zeroed */
bool gguf_vocab_is_eog(const GgufVocab *v, int32_t id);

#endif
