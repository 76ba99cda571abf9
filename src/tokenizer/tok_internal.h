/* Internal types shared by the tokenizer's source files. Not part of the public API. */
#ifndef LLMSCOPE_TOK_INTERNAL_H
#define LLMSCOPE_TOK_INTERNAL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/gguf.h"
#include "core/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

struct cJSON;

/* ---- growable byte buffer ------------------------------------------------------------- */
typedef struct {
    char *p;
    size_t n, cap;
} TokBuf;
bool tokbuf_reserve(TokBuf *b, size_t extra);
bool tokbuf_add(TokBuf *b, const void *s, size_t n);
bool tokbuf_addc(TokBuf *b, char c);
bool tokbuf_add_cp(TokBuf *b, uint32_t cp); /* UTF-8 encodes cp */
void tokbuf_free(TokBuf *b);

/* ---- string -> int32 hash map (keys copied into an arena) ------------------------------ */
typedef struct {
    uint32_t off, len; /* key bytes in arena */
    uint32_t hash;
    int32_t val;
} StrMapEntry;
typedef struct {
    int32_t *slots; /* index into entries, -1 empty */
    size_t nslots;  /* power of 2 */
    StrMapEntry *entries;
    size_t n, cap;
    TokBuf arena;
} StrMap;
bool strmap_init(StrMap *m, size_t expected);
void strmap_free(StrMap *m);
/* Returns the entry index or -1. */
long strmap_find(const StrMap *m, const char *k, size_t n);
static inline bool strmap_get(const StrMap *m, const char *k, size_t n, int32_t *val) {
    long i = strmap_find(m, k, n);
    if (i < 0) return false;
    *val = m->entries[i].val;
    return true;
}
/* Inserts or (overwrite) updates. Returns the entry index, -1 when out of memory or the key is
 * longer than 4 GiB. *existed tells whether it was there. */
long strmap_put(StrMap *m, const char *k, size_t n, int32_t val, bool overwrite, bool *existed);
static inline const char *strmap_key(const StrMap *m, long i) { return m->arena.p + m->entries[i].off; }
uint32_t tok_hash(const void *p, size_t n);

/* ---- (id, id) -> (rank, new id) map for BPE merges ------------------------------------ */
typedef struct {
    uint64_t *keys; /* UINT64_MAX empty */
    uint32_t *rank;
    int32_t *newid;
    size_t nslots, n;
} PairMap;
bool pairmap_init(PairMap *m, size_t expected);
void pairmap_free(PairMap *m);
bool pairmap_put(PairMap *m, int32_t a, int32_t b, uint32_t rank, int32_t newid);
static inline uint64_t pairmap_hash(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL; k ^= k >> 33;
    return k;
}
static inline bool pairmap_get(const PairMap *m, int32_t a, int32_t b, uint32_t *rank, int32_t *newid) {
    if (!m->nslots) return false;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t mask = m->nslots - 1, i = (size_t)pairmap_hash(key) & mask;
    for (;;) {
        uint64_t k = m->keys[i];
        if (k == key) { *rank = m->rank[i]; *newid = m->newid[i]; return true; }
        if (k == UINT64_MAX) return false;
        i = (i + 1) & mask;
    }
}

/* ---- UTF-8 and Unicode helpers --------------------------------------------------------- */
/* Decodes one code point from valid UTF-8 (s[0..n) non-empty); *len gets its byte length. */
uint32_t utf8_next(const char *s, size_t n, size_t *len);
/* Length of the valid UTF-8 sequence starting at s, 0 if the bytes there are not one. */
size_t utf8_valid_len(const unsigned char *s, size_t n);
bool utf8_is_valid(const char *s, size_t n);
/* Appends s to out with each maximal invalid subsequence replaced by U+FFFD
 * (Rust String::from_utf8_lossy / the Unicode "maximal subpart" practice). */
bool utf8_lossy(const char *s, size_t n, TokBuf *out);
size_t utf8_encode(uint32_t cp, char out[4]);
bool uni_is_whitespace(uint32_t c); /* Rust char::is_whitespace (White_Space) */
bool uni_is_numeric(uint32_t c);    /* Rust char::is_numeric (Nd, Nl, No) */
bool uni_is_word(uint32_t c);       /* Rust regex \w */
bool uni_is_punct(uint32_t c);      /* ASCII punctuation or Unicode P* */
int uni_category(uint32_t c);       /* utf8proc category */

/* ---- regex (PCRE2, UTF + UCP, JIT when available; Oniguruma/Ruby flavour) -------------- */
typedef struct {
    pcre2_code *code;
    bool jit;
    bool literal_empty; /* a String pattern that is empty: never matches */
} TokRegex;
/* literal: the pattern is a plain string (HF "String" patterns). where: for messages. */
bool tokregex_compile(TokRegex *r, const char *pat, size_t n, bool literal, const char *where, Err *e);
void tokregex_free(TokRegex *r);
typedef struct {
    size_t *v; /* start,end pairs */
    size_t n, cap; /* in pairs */
} RangeVec;
/* All matches of r in s[0..n), in the order and with the empty-match rule of Oniguruma's
 * find_iter. md: match data to use (NULL: made here). Appends to out. */
bool tokregex_find_all(const TokRegex *r, const char *s, size_t n, pcre2_match_data *md,
                       RangeVec *out, Err *e);
bool rangevec_push(RangeVec *r, size_t a, size_t b);

/* ---- JSON helpers ------------------------------------------------------------------------ */
const char *tj_str(const struct cJSON *o, const char *key); /* NULL if absent or not a string */
bool tj_bool(const struct cJSON *o, const char *key, bool dflt);
const char *tj_type(const struct cJSON *o); /* "type" field or NULL */
/* A pipeline component (normalizer, pre-tokenizer, decoder): its "type", or NULL with e filled
 * when o is not an object or has no "type". */
const char *tj_component(const struct cJSON *o, const char *where, Err *e);
/* o[key] when it is a list (a Sequence's items), else NULL with e filled. */
const struct cJSON *tj_list(const struct cJSON *o, const char *key, const char *where, Err *e);
/* calloc of n (at least 1) items of size bytes; NULL with e filled when memory is short. */
void *tj_calloc(size_t n, size_t size, Err *e);
/* Reads one Unicode scalar from a JSON string field that must hold exactly one character. */
bool tj_char(const struct cJSON *o, const char *key, uint32_t dflt, uint32_t *out, const char *where, Err *e);
/* Pattern object {"String": s} or {"Regex": r}: compiles into r. */
bool tj_pattern(const struct cJSON *o, const char *key, TokRegex *r, const char *where, Err *e);

/* ---- pieces of text flowing through the pipeline ---------------------------------------- */
typedef struct {
    size_t off, len;  /* bytes in the EncCtx arena */
    int32_t id;       /* >= 0: already a token (added token); -1: text */
    uint8_t at_start; /* starts at offset 0 of the original text (Metaspace prepend "first") */
} Piece;
typedef struct {
    Piece *v;
    size_t n, cap;
} PieceVec;
bool piecevec_push(PieceVec *pv, Piece p);

typedef struct {
    size_t a, b;
    int m; /* is a match (delimiter) */
} Seg;

typedef struct EncCtx {
    TokBuf arena;
    pcre2_match_data *md;
    RangeVec ranges;
    Seg *segs;
    size_t segcap;
    TokBuf tmp, tmp2;
} EncCtx;

/* ---- normalizers ---------------------------------------------------------------------- */
enum {
    NORM_SEQUENCE, NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_PREPEND,
    NORM_REPLACE, NORM_STRIP, NORM_STRIP_ACCENTS, NORM_BERT, NORM_NMT, NORM_BYTELEVEL
};
typedef struct Normalizer {
    int type;
    struct Normalizer **kids;
    int nkids;
    char *str;  /* Prepend: text; Replace: content */
    size_t slen;
    TokRegex re; /* Replace */
    bool left, right;                                   /* Strip */
    bool clean_text, chinese, strip_accents, lowercase; /* Bert */
} Normalizer;
Normalizer *normalizer_parse(const struct cJSON *j, const char *where, Err *e);
void normalizer_free(Normalizer *n);
/* Normalizes s[0..n) into out (out is reset first). */
bool normalizer_apply(const Normalizer *nz, const char *s, size_t n, TokBuf *out, EncCtx *cx, Err *e);

/* ---- pre-tokenizers ------------------------------------------------------------------- */
enum {
    PRE_SEQUENCE, PRE_BYTELEVEL, PRE_SPLIT, PRE_METASPACE, PRE_DIGITS, PRE_WHITESPACE,
    PRE_WHITESPACE_SPLIT, PRE_PUNCTUATION, PRE_BERT, PRE_CHAR_DELIMITER
};
enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };
typedef struct PreTok {
    int type;
    struct PreTok **kids;
    int nkids;
    bool add_prefix_space, use_regex; /* ByteLevel */
    TokRegex re;                      /* Split; ByteLevel's GPT-2 regex; Whitespace */
    int behavior;
    bool invert;
    uint32_t replacement; /* Metaspace; CharDelimiterSplit delimiter */
    int prepend_scheme;
    bool split;
    bool individual_digits;
} PreTok;
PreTok *pretok_parse(const struct cJSON *j, const char *where, Err *e);
void pretok_free(PreTok *p);
/* Splits/transforms every text piece of in into out (pieces that are tokens pass through). */
bool pretok_apply(const PreTok *p, EncCtx *cx, const PieceVec *in, PieceVec *out, Err *e);
/* The GPT-2 byte <-> char tables. */
extern const uint16_t tok_byte_to_cp[256];
int tok_cp_to_byte(uint32_t cp); /* -1 if cp is not in the byte-level alphabet */

/* ---- decoders ------------------------------------------------------------------------- */
enum {
    DEC_SEQUENCE, DEC_BYTELEVEL, DEC_METASPACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_REPLACE,
    DEC_BPE, DEC_WORDPIECE
};
typedef struct Decoder {
    int type;
    struct Decoder **kids;
    int nkids;
    uint32_t ch;        /* Metaspace replacement; Strip content */
    int prepend_scheme; /* Metaspace */
    size_t start, stop; /* Strip */
    TokRegex re;        /* Replace */
    char *str;          /* Replace content; BPEDecoder suffix; WordPiece prefix */
    size_t slen;
    bool cleanup; /* WordPiece */
} Decoder;
Decoder *decoder_parse(const struct cJSON *j, const char *where, Err *e);
void decoder_free(Decoder *d);
/* A list of token strings (offsets into a buffer). */
typedef struct {
    size_t *off, *len;
    size_t n, cap;
} TokList;
bool toklist_push(TokList *l, size_t off, size_t len);
void toklist_free(TokList *l);
/* Runs the decoder chain on the strings of in (in buf), result strings appended to buf and
 * listed in out. display: keep raw bytes (no U+FFFD), never strip. */
bool decoder_apply(const Decoder *d, TokBuf *buf, const TokList *in, TokList *out, bool display);

/* ---- the tokenizer ---------------------------------------------------------------------- */
typedef struct {
    char *content;     /* as given */
    char *norm;        /* normalized content (normalized tokens with a normalizer), else NULL */
    size_t clen, nlen;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} AddedTok;

/* A trie over added-token strings for leftmost-longest matching. */
typedef struct {
    int32_t *child_first; /* per node: first edge index or -1 */
    struct TrieEdge { int32_t next_sibling, node; unsigned char byte; } *edges;
    int32_t *term; /* per node: added token index or -1 */
    size_t nnodes, nedges, cap_nodes, cap_edges;
    uint8_t first_byte[256];
} AddedTrie;
/* (tokenizer.c) the child of node by byte b, -1 when none; add s[0..n) with value (the last value
 * given for a string is kept); free */
int32_t trie_child(const AddedTrie *tr, int32_t node, unsigned char b);
bool trie_add(AddedTrie *tr, const char *s, size_t n, int32_t value);
void trie_free(AddedTrie *tr);

enum { TOK_HF = 1, TOK_LLAMA2C = 2 };

struct Tokenizer {
    int kind;
    char name[256];
    int nids; /* max id + 1 */
    /* id -> string (vocab or added content), offsets into strs */
    TokBuf strs;
    uint32_t *id_off, *id_len; /* id_len UINT32_MAX: hole */
    uint8_t *id_flags;         /* bit0 special, bit1 added */
    StrMap vocab;              /* model vocabulary */
    /* BPE */
    PairMap merges;
    bool byte_fallback, ignore_merges, fuse_unk;
    int32_t unk_id;
    char *cont_prefix, *eow_suffix;
    int32_t byte_ids[256];  /* <0xNN> ids (byte_fallback), -1 if absent */
    int32_t *small_cp_id;   /* id of the single-char string for cp < 1024, -1 absent */
    char seg_char[4];       /* words split before this character (see bpe_find_segment_char) */
    int seg_len;            /* 0: no splitting */
    /* added tokens */
    AddedTok *added;
    int nadded;
    StrMap added_map; /* content -> index into added */
    AddedTrie trie_raw, trie_norm;
    bool has_norm_added;
    /* pipeline */
    Normalizer *norm;
    PreTok *pre;
    Decoder *dec;
    int32_t *prefix_ids, *suffix_ids; /* post-processor, single sequence */
    int nprefix, nsuffix;
    int32_t bos_id, eos_id;
    bool bytelevel; /* decoder contains ByteLevel */
    /* GGUF: tokenizer_detokenize as llama.cpp's llama_detokenize: clean_spaces (its clean-up of
     * spaces before punctuation, for the pre-types that set it); spm_first_space (every GGUF file: where
     * spm_prefix, tokenizer.ggml.add_space_prefix, is true, a space is dropped from the first id only,
     * kept after BOS; sentencepiece and byte-level BPE alike) */
    bool clean_spaces, spm_first_space;
    /* GGUF (sentencepiece and byte-level BPE): the UNKNOWN, CONTROL and USER_DEFINED tokens found in
     * the text before encoding, longest first, as llama.cpp's tokenizer_st_partition (gguf_special.c;
     * the file's own strings, U+2581 kept); each sentencepiece text fragment is encoded with its own
     * dummy-prefix space */
    char **sp_str;
    uint32_t *sp_len;
    int32_t *sp_id;
    uint8_t *sp_strip;   /* per special token: bit0 LSTRIP (whitespace before it dropped), bit1 RSTRIP (after) */
    /* the special tokens' strings in a trie (value: the index of one entry with that string, sp_rep[k]
     * for entry k), so that an encode looks only for the special tokens that occur in its text */
    AddedTrie sp_trie;
    int32_t *sp_rep;
    int nsp;
    /* GGUF sentencepiece, as llama.cpp's library (NULL / false for llama2.c files): gguf_attr, each
     * id's llama.cpp token attributes (core/gguf_vocab.h), which decide how it shows (UNKNOWN, CONTROL,
     * USER_DEFINED: the file's own text, sp_of_id its index in sp_str; NORMAL: the text, U+2581 as a
     * space; BYTE: the byte; UNUSED and undefined: nothing) and which ids are special (UNKNOWN,
     * CONTROL); spm_text_merge: two adjacent pieces merge whenever their text is a token, even where a
     * part is not one (a character found only inside longer pieces) */
    uint16_t *gguf_attr;
    int32_t *sp_of_id;
    bool spm_text_merge;
    /* sentencepiece: the dummy-prefix space before the text (llama2.c always; GGUF
     * tokenizer.ggml.add_space_prefix, which for byte-level BPE only changes detokenizing) */
    bool spm_prefix;
    /* llama2.c */
    float *scores;
    int max_token_length;
};

/* bpe.c */
bool bpe_load(Tokenizer *t, const struct cJSON *model, const char *where, Err *e);
void bpe_find_segment_char(Tokenizer *t);
typedef struct WordCache WordCache;
WordCache *wordcache_new(void);
void wordcache_free(WordCache *c);
/* Appends the cached ids of word s (if cached; *hit). false when out of memory. */
bool wordcache_get(WordCache *c, const char *s, size_t n, int32_t **ids, size_t *nids, size_t *cap, bool *hit);
void wordcache_put(WordCache *c, const char *s, size_t n, const int32_t *ids, size_t m);
/* Tokenizes one pre-token (UTF-8) with the BPE model, appending ids. */
bool bpe_tokenize(const Tokenizer *t, const char *s, size_t n, WordCache *cache, int32_t **ids,
                  size_t *nids, size_t *cap, Err *e);

/* llama2c_tok.c */
/* add_special: prefix_ids before the text (BOS), suffix_ids after it (EOS of a GGUF file) */
int llama2c_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, int **ids, Err *e);
/* first_only: drop the leading space of ids[0] only (llama.cpp); else at the start and after BOS
 * (llama2.c, sentencepiece) */
char *llama2c_decode(const Tokenizer *t, const int *ids, int n, bool skip_special, bool first_only);
/* Bytes one piece stands for (<0xNN> -> that byte, "\n<s>\n" -> "<s>"); one: 1-byte scratch. */
void llama2c_piece(const Tokenizer *t, int id, const char **s, size_t *n, char *one);

/* gguf_special.c: a GGUF vocabulary's special tokens found in the text before encoding, as
 * llama.cpp's tokenizer_st_partition (sentencepiece and byte-level BPE alike). build fills sp_*
 * from the file's tokens and their attributes (false: out of memory); partition cuts text into
 * fragments (id -1: text; returns their count, -1 out of memory; *out to free); split does it for
 * one piece of an encode. */
typedef struct { size_t off, len; int32_t id; } GgufFrag;
bool gguf_special_build(Tokenizer *t, const GgufKV *toks, const GgufVocab *gv);
long gguf_special_partition(const Tokenizer *t, const char *text, size_t len, GgufFrag **out);
bool gguf_special_split(const Tokenizer *t, EncCtx *cx, Piece p, PieceVec *out, Err *e);

/* tokenizer.c */
const char *tok_str(const Tokenizer *t, int id, size_t *len);
bool tok_set_nids(Tokenizer *t, int nids, Err *e);
bool tok_set_str(Tokenizer *t, int id, const char *s, size_t n, Err *e);
bool ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id);

#endif
