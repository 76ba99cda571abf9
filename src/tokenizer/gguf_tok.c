/* The tokenizer stored in a GGUF file (tokenizer.ggml.*), built on the two tokenizers we
 * already have, so that the ids equal llama.cpp's (llama-tokenize) on the same file:
 *
 *  - "gpt2" (byte-level BPE): tokens + merges become a tokenizer.json pipeline: the split
 *    regex that llama.cpp uses for tokenizer.ggml.pre (llama-vocab.cpp), then ByteLevel
 *    without its own regex; BPE with the merges (ignore_merges for llama3's "llama-bpe", as
 *    llama.cpp does); the tokens llama.cpp finds in the text first (core/gguf_vocab.h: attributes
 *    UNKNOWN, CONTROL, USER_DEFINED) become added tokens for their ids' text and are cut out of
 *    the text as llama.cpp does (gguf_special.c: longest first, ASCII whitespace stripped).
 *  - "llama" (sentencepiece with scores): the tokens (▁ as space) and scores become a llama2.c
 *    tokenizer in llama.cpp's mode: dummy-prefix space (add_space_prefix), characters, then the
 *    merge of the adjacent pair whose text is a token with the highest score (leftmost on ties),
 *    bytes for what is left and is no token, which is llama.cpp's llm_tokenizer_spm; special
 *    tokens found first with their LSTRIP/RSTRIP, each id shown as its attribute says.
 * BOS before the text: tokenizer.ggml.add_bos_token when present, else llama.cpp's default
 * (sentencepiece, llama3 BPE with ignore_merges, tekken and chameleon add it, other BPE does not);
 * EOS after it when tokenizer.ggml.add_eos_token is true. The BOS/EOS ids are
 * tokenizer.ggml.bos_token_id / eos_token_id, or, where a file names none (or one outside the
 * vocabulary), llama.cpp's defaults: 1 and 2 for sentencepiece, 11 and 11 for BPE (no BOS for
 * chatglm-bpe/glm4). tokenizer_detokenize gives llama_detokenize's text (gguf_detok below). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/gguf.h"
#include "core/gguf_vocab.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/tokenizer.h"

/* llama.cpp's split regexes by tokenizer.ggml.pre (the ones written by convert_hf_to_gguf). A
 * list of several is applied in sequence, each splitting the pieces the previous one left
 * (matches and the text between them both become pieces), as llama.cpp's unicode_regex_split. */
static const char *const RE_GPT2[] = {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const RE_LLAMA3[] = {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const RE_QWEN2[] = {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
/* DeepSeek LLM / V2 ("deepseek-llm"): newlines alone; letters of cased scripts (Latin, Greek,
 * Cyrillic, Armenian, Georgian, ..., full-width A-Z) with one optional space before; ASCII,
 * full-width and quote/ideographic punctuation runs; trailing spaces; CJK/Hangul runs; numbers.
 * llama.cpp runs the ones without \p{..} through std::wregex, where $ is the end of the piece
 * (hence \z here: PCRE2_MULTILINE's $ also matches before a newline). */
static const char *const RE_DEEPSEEK_LLM[] = {
    "[\\r\\n]",
    "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}\\x{1c4}-\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}"
    "\\x{376}\\x{377}\\x{37b}-\\x{37d}\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}"
    "\\x{48a}-\\x{52f}\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}\\x{1cbd}-\\x{1cbf}"
    "\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}"
    "\\x{1f50}-\\x{1f57}\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-\\x{1fc4}"
    "\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}"
    "\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}"
    "\\x{213c}-\\x{213f}\\x{2145}-\\x{2149}\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}\\x{2cf2}"
    "\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}"
    "\\x{fb00}-\\x{fb06}\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}\\x{104b0}-\\x{104d3}"
    "\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+",
    "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
    "\\s+\\z",
    "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+",
    "\\p{N}+",
    NULL};
/* DeepSeek V3 / R1 ("deepseek-v3"): 1-3 digit groups, CJK/kana runs, then a llama3-like split
 * with marks joined to letters. llama.cpp matches its \p{..} classes on a text where ASCII is kept
 * and each other code point is replaced by its category, with ASCII \p{S} written as $+<=>^`|:
 * '~' (Unicode Sm) is in no class there, so it is kept out of \p{S} here the same way. */
static const char *const RE_DEEPSEEK_V3[] = {
    "\\p{N}{1,3}",
    "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|(?:~|[^\\r\\n\\p{L}\\p{P}\\p{S}])?[\\p{L}\\p{M}]+|"
    " ?(?:(?!~)[\\p{P}\\p{S}])+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};

/* SmolLM ("smollm", llama.cpp's STARCODER group): every digit alone first, then GPT-2's split */
static const char *const RE_STARCODER[] = {
    "\\p{N}", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL};
/* Mistral's Tekken ("tekken"): words split at lower-to-upper case changes, single digits, '/'
 * kept after punctuation runs */
static const char *const RE_TEKKEN[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+"
    "((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
/* o200k ("gpt-4o", "llama4"): tekken's case split with contractions kept on the word, 1-3 digit groups */
static const char *const RE_GPT4O[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
/* Qwen3.5 ("qwen35"): qwen2's split with combining marks joined to letters */
static const char *const RE_QWEN35[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
/* DeepSeek Coder ("deepseek-coder"): newlines alone; letter runs and punctuation runs, each with
 * one optional whitespace before; CJK/Hangul runs; single digits. What no regex matches (symbols
 * such as $+<=>^`|~, spaces before another space) stays a piece of its own. */
static const char *const RE_DEEPSEEK_CODER[] = {
    "[\\r\\n]",
    "\\s?\\p{L}+",
    "\\s?\\p{P}+",
    "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+",
    "\\p{N}",
    NULL};

/* the default pre-type (also a file without tokenizer.ggml.pre): punctuation runs, GPT-2's split,
 * number runs, then 3-digit groups from the left */
static const char *const RE_DEFAULT[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "\\p{N}+",
    "[0-9][0-9][0-9]", NULL};
/* Falcon ("falcon"): punctuation runs (with `), GPT-2's split, 3-digit groups from the left */
static const char *const RE_FALCON[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|`]+", "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "[0-9][0-9][0-9]", NULL};
/* BLOOM, Poro, GPT-3 Finnish ("bloom", "poro-chat", "gpt3-finnish"): runs of anything but whitespace,
 * ( ) | and the sentence punctuation . , ! ? … 。 ， 、 । ۔ ، with one optional space before (each of
 * those characters stays a piece of its own); Viking ("viking") then cuts out each digit */
#define PORO_SPLIT " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"
static const char *const RE_PORO[] = {PORO_SPLIT, NULL};
static const char *const RE_VIKING[] = {PORO_SPLIT, "\\p{N}", NULL};

/* Jais 2 ("jais-2"): llama3's split with whitespace runs cut into 512, 256, ..., 4, then 1-2 */
static const char *const RE_JAIS2[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)"
    "|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}",
    NULL};
/* EXAONE MoE ("exaone-moe"): words joined across single spaces (letters with their marks), single
 * digits, punctuation runs with one newline or '/' after, one newline with the spaces before it */
static const char *const RE_EXAONE_MOE[] = {
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}"
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
    NULL};
/* Granite multilingual embedding 97M ("granite-embed-multi-97m"): o200k's split with marks counted
 * as letters in the case lookaheads */
static const char *const RE_GRANITE_EMB[] = {
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
/* Chameleon ("chameleon"): its sentinel and image tokens, tabs/newlines and runs of 2 or 4 spaces,
 * each digit, each punctuation or ASCII symbol character, then GPT-2's split */
static const char *const RE_CHAMELEON[] = {
    "<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", NULL};

/* tokenizer.ggml.pre -> split, llama.cpp's ignore_merges and its default BOS. The names of one
 * line are one pre-type in llama.cpp (llama-vocab.cpp); make_pretok.py checks each against
 * llama-tokenize (one file per line, the other names through pretok_aliases.json). */
static const struct { const char *pre; const char *const *re; bool ignore_merges, add_bos; } k_pre[] = {
    {"default", RE_DEFAULT, false, false},
    {"falcon", RE_FALCON, false, false},
    {"gpt2", RE_GPT2, false, false},   /* not a llama.cpp name; kept for files that wrote it */
    {"jais", RE_GPT2, false, false}, {"gpt-2", RE_GPT2, false, false}, {"phi-2", RE_GPT2, false, false},
    {"jina-es", RE_GPT2, false, false}, {"jina-de", RE_GPT2, false, false}, {"gigachat", RE_GPT2, false, false},
    {"jina-v2-es", RE_GPT2, false, false}, {"jina-v2-de", RE_GPT2, false, false}, {"a.x-4.0", RE_GPT2, false, false},
    {"mellum", RE_GPT2, false, false}, {"modern-bert", RE_GPT2, false, false}, {"exaone4", RE_GPT2, false, false},
    {"mpt", RE_GPT2, false, false}, {"olmo", RE_GPT2, false, false}, {"trillion", RE_GPT2, false, false},
    {"granite-docling", RE_GPT2, false, false},
    /* llama.cpp's add_sep for these is read by its embedding and rerank code, not by llama_tokenize */
    {"jina-v1-en", RE_GPT2, false, false}, {"jina-v2-code", RE_GPT2, false, false}, {"roberta-bpe", RE_GPT2, false, false},
    {"falcon3", RE_LLAMA3, true, true}, {"llama-bpe", RE_LLAMA3, true, true}, {"llama3", RE_LLAMA3, true, true},
    {"llama-v3", RE_LLAMA3, true, true}, {"falcon-h1", RE_LLAMA3, true, true}, {"pixtral", RE_LLAMA3, true, true},
    {"midm-2.0", RE_LLAMA3, true, true}, {"lfm2", RE_LLAMA3, true, true}, {"jina-v5-nano", RE_LLAMA3, true, true},
    /* llama3's split, merges used, no BOS by default (chatglm-bpe/glm4: llama.cpp has no default BOS id
     * for them; [gMASK]<sop> belongs to the chat template, not to the tokenizer) */
    {"dbrx", RE_LLAMA3, false, false}, {"smaug-bpe", RE_LLAMA3, false, false},
    {"chatglm-bpe", RE_LLAMA3, false, false}, {"glm4", RE_LLAMA3, false, false},
    {"qwen2", RE_QWEN2, false, false}, {"deepseek-r1-qwen", RE_QWEN2, false, false}, {"stablelm2", RE_QWEN2, false, false},
    {"kormo", RE_QWEN2, false, false}, {"f2llmv2", RE_QWEN2, false, false}, {"megrez", RE_QWEN2, false, false},
    {"hunyuan", RE_QWEN2, false, false}, {"solar-open", RE_QWEN2, false, false}, {"grok-2", RE_QWEN2, false, false},
    {"smollm", RE_STARCODER, false, false}, {"starcoder", RE_STARCODER, false, false}, {"command-r", RE_STARCODER, false, false},
    {"refact", RE_STARCODER, false, false}, {"codeshell", RE_STARCODER, false, false}, {"exaone", RE_STARCODER, false, false},
    {"minerva-7b", RE_STARCODER, false, false}, {"mellum2", RE_STARCODER, false, false},
    {"deepseek-llm", RE_DEEPSEEK_LLM, false, false},
    {"deepseek-v3", RE_DEEPSEEK_V3, false, false}, {"hunyuan-dense", RE_DEEPSEEK_V3, false, false},
    {"joyai-llm", RE_DEEPSEEK_V3, false, false},
    {"deepseek-coder", RE_DEEPSEEK_CODER, false, false},
    {"tekken", RE_TEKKEN, true, true},
    {"llama4", RE_GPT4O, false, false}, {"gpt-4o", RE_GPT4O, false, false}, {"kanana2", RE_GPT4O, false, false},
    {"talkie", RE_GPT4O, false, false}, {"minimax-m2", RE_GPT4O, false, false},
    {"qwen35", RE_QWEN35, false, false},
    {"bloom", RE_PORO, false, false}, {"poro-chat", RE_PORO, false, false}, {"gpt3-finnish", RE_PORO, false, false},
    {"viking", RE_VIKING, false, false},
    {"jais-2", RE_JAIS2, false, false}, {"exaone-moe", RE_EXAONE_MOE, false, false},
    {"granite-embed-multi-97m", RE_GRANITE_EMB, true, false}, {"chameleon", RE_CHAMELEON, false, true},
};

/* pre-types llama.cpp knows for byte-level BPE that are refused here, and why */
static const struct { const char *pre, *why; } k_pre_refused[] = {
    {"gemma4", "it is BPE on raw UTF-8 with spaces written as U+2581, not byte-level BPE"},
    {"granite-embed-multi-311m", "it is BPE on raw UTF-8 with spaces written as U+2581, not byte-level BPE"},
    {"sarvam-moe", "it is BPE on raw UTF-8 with spaces written as U+2581, not byte-level BPE"},
    {"whitespace", "it splits at whitespace without byte-level encoding"},
    {"kimi-k2", "llama.cpp splits it with hand-written code, not a regex"},
    {"afmoe", "llama.cpp groups its digits with hand-written code, not a regex"},
    {"tiny_aya", "llama.cpp groups its digits with hand-written code, not a regex"},
    {"youtu", "llama.cpp matches its \\p{Lu}/\\p{Ll} classes as any letter; not reproduced here"},
#define NOT_CHECKED "its split is not checked against llama.cpp's llama-tokenize here yet"
    {"minicpm5", NOT_CHECKED}, {"superbpe", NOT_CHECKED}, {"bailingmoe", NOT_CHECKED}, {"bailingmoe2", NOT_CHECKED},
    {"llada-moe", NOT_CHECKED}, {"seed-coder", NOT_CHECKED},
};

/* the supported names for which llama.cpp's detokenizer does NOT clean up spaces before punctuation
 * (llama-vocab.cpp sets clean_spaces false for them; every other BPE pre-type cleans; make_tokfix.py
 * checks each name against llama_detokenize) */
static const char *const k_pre_no_clean[] = {
    "deepseek-llm", "deepseek-coder", "deepseek-v3", "hunyuan-dense", "joyai-llm", "command-r", "qwen2",
    "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2", "qwen35", "poro-chat", "viking",
    "tekken", "smollm", "chameleon", "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2",
    "granite-embed-multi-97m", "trillion", "granite-docling",
};

static void pre_supported_list(char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0] && o + 1 < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", k_pre[i].pre);
        if (n < 0) break;
        o += (size_t)n;
    }
}

/* path into out, at most max bytes: when longer, its start and its end (the file name) around
 * "...", cut at UTF-8 character boundaries */
static void path_fit(const char *path, size_t max, char *out, size_t cap) {
    size_t n = strlen(path);
    if (max + 1 > cap) max = cap - 1;
    if (n <= max || max < 16) { snprintf(out, cap, "%.*s", (int)(n <= max ? n : max), path); return; }
    size_t head = (max - 3) / 4, tail = n - (max - 3 - head);
    while (head > 0 && ((unsigned char)path[head] & 0xC0) == 0x80) head--;
    while (tail < n && ((unsigned char)path[tail] & 0xC0) == 0x80) tail++;
    snprintf(out, cap, "%.*s...%s", (int)head, path, path + tail);
}

/* What llama.cpp's BPE pre-type gives besides the split */
typedef struct {
    bool add_bos;   /* BOS added by default */
    bool clean;     /* llama_detokenize's clean_spaces */
} PreDefaults;

static Tokenizer *load_bpe(const GgufFile *g, const GgufKV *toks, const GgufVocab *gv, const char *path, PreDefaults *d, Err *e) {
    char pre[64] = "default";
    gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre);
    int pi = -1;
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0]; i++)
        if (!strcmp(pre, k_pre[i].pre)) pi = (int)i;
    if (pi < 0) {
        const char *why = "llmscope does not know it; it is not one of llama.cpp's either, or newer than this list";
        for (size_t i = 0; i < sizeof k_pre_refused / sizeof k_pre_refused[0]; i++)
            if (!strcmp(pre, k_pre_refused[i].pre)) why = k_pre_refused[i].why;
        char list[1024], msg[sizeof e->msg], shown[sizeof e->msg];
        pre_supported_list(list, sizeof list);
        /* the whole reason and list always; the path gets what is left (its start and file name) but
         * 64 bytes, so that a caller's prefix ("cannot encode text (use token ids): ") fits too */
        int fixed = snprintf(msg, sizeof msg, "tokenizer.ggml.pre \"%s\" is not supported: %s (supported: %s)", pre, why, list);
        size_t room = fixed > 0 && (size_t)fixed + 2 + 64 < sizeof msg ? sizeof msg - 1 - (size_t)fixed - 2 - 64 : 0;
        path_fit(path, room, shown, sizeof shown);
        err_set(e, ERR_UNSUPPORTED, "%s: %s", shown, msg);
        return NULL;
    }
    d->add_bos = k_pre[pi].add_bos;
    d->clean = true;
    for (size_t i = 0; i < sizeof k_pre_no_clean / sizeof k_pre_no_clean[0]; i++)
        if (!strcmp(pre, k_pre_no_clean[i])) d->clean = false;
    const GgufKV *merges = gguf_find(g, "tokenizer.ggml.merges");
    if (!merges || merges->type != GGUF_ARRAY || merges->arr_type != GGUF_STRING) {
        err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.merges (an array of strings) is missing for a \"gpt2\" tokenizer", path);
        return NULL;
    }
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "ignore_merges", k_pre[pi].ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    char *s = NULL;
    size_t cap = 0;
    bool ok = true;
    for (uint64_t i = 0; i < toks->arr_n && ok; i++) {
        const GgufStr *t = &toks->arr_strs[i];
        if (t->len + 1 > cap) { cap = t->len + 64; char *ns = realloc(s, cap); if (!ns) { ok = false; break; } s = ns; }
        memcpy(s, t->s, t->len);
        s[t->len] = 0;
        if (strlen(s) != t->len) continue;   /* NUL inside: not representable, never produced */
        /* llama.cpp's special tokens (its attributes: the token type, then its rules by text) are
         * found in the text first; UNKNOWN and CONTROL ones are special (left out by --skip-special) */
        uint16_t at = gv->attr[i];
        if (at & (GV_UNKNOWN | GV_CONTROL | GV_USER_DEFINED)) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", s);
            cJSON_AddBoolToObject(a, "special", (at & (GV_UNKNOWN | GV_CONTROL)) != 0);
            cJSON_AddBoolToObject(a, "normalized", false);
            cJSON_AddBoolToObject(a, "lstrip", (at & GV_LSTRIP) != 0);
            cJSON_AddBoolToObject(a, "rstrip", (at & GV_RSTRIP) != 0);
            cJSON_AddItemToArray(added, a);
        }
        if (!cJSON_GetObjectItemCaseSensitive(vocab, s)) cJSON_AddNumberToObject(vocab, s, (double)i);
    }
    cJSON *ma = cJSON_AddArrayToObject(model, "merges");
    for (uint64_t i = 0; i < merges->arr_n && ok; i++) {
        const GgufStr *t = &merges->arr_strs[i];
        if (t->len + 1 > cap) { cap = t->len + 64; char *ns = realloc(s, cap); if (!ns) { ok = false; break; } s = ns; }
        memcpy(s, t->s, t->len);
        s[t->len] = 0;
        cJSON_AddItemToArray(ma, cJSON_CreateString(s));
    }
    free(s);
    cJSON *pt = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pt, "type", "Sequence");
    cJSON *pts = cJSON_AddArrayToObject(pt, "pretokenizers");
    for (const char *const *re = k_pre[pi].re; *re; re++) {
        cJSON *split = cJSON_CreateObject();
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", *re);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddBoolToObject(split, "invert", false);
        cJSON_AddItemToArray(pts, split);
    }
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddBoolToObject(bl, "add_prefix_space", false);
    cJSON_AddBoolToObject(bl, "trim_offsets", false);
    cJSON_AddBoolToObject(bl, "use_regex", false);
    cJSON_AddItemToArray(pts, bl);
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    char *js = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!js) { err_set(e, ERR_MEMORY, "out of memory building the tokenizer of %s", path); return NULL; }
    Tokenizer *t = tokenizer_load_json_buf(js, strlen(js), path, e);
    free(js);
    /* the added tokens above give ids their text and special flag; the text is cut at them as
     * llama.cpp does (longest first, ASCII whitespace stripped), not as tokenizer.json's are */
    if (t && !gguf_special_build(t, toks, gv)) {
        tokenizer_free(t);
        err_set(e, ERR_MEMORY, "out of memory reading the special tokens of %s", path);
        return NULL;
    }
    return t;
}

/* llama.cpp's view of a sentencepiece vocabulary on top of the llama2.c tokenizer: the tokens it finds
 * in the text before encoding (its cache_special_tokens: attributes UNKNOWN, CONTROL or USER_DEFINED,
 * longest first, with their LSTRIP/RSTRIP), which ids are special (UNKNOWN, CONTROL: left out by
 * --skip-special; USER_DEFINED ones are text, as llama.cpp detokenizes them), how each id shows
 * (gguf_attr), its text-to-id map (the last of equal texts), its byte fallback ("<0xNN>", else the
 * one-byte text) and its merges by text. */
static bool spm_load_special(Tokenizer *t, const GgufKV *toks, const GgufVocab *gv) {
    int32_t nt = t->nids;
    t->gguf_attr = malloc(sizeof *t->gguf_attr * (size_t)nt);
    t->sp_of_id = malloc(sizeof *t->sp_of_id * (size_t)nt);
    if (!t->gguf_attr || !t->sp_of_id) return false;
    for (int32_t i = 0; i < nt; i++) {
        uint16_t a = i < gv->n_tokens ? gv->attr[i] : GV_NORMAL;
        t->gguf_attr[i] = a;
        t->sp_of_id[i] = -1;
        t->id_flags[i] = (uint8_t)((t->id_flags[i] & ~1) | ((a & (GV_UNKNOWN | GV_CONTROL)) ? 1 : 0));
        size_t len;
        const char *s = tok_str(t, (int)i, &len);
        if (strmap_put(&t->vocab, s, len, i, true, NULL) < 0) return false;
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        char one = (char)b;
        int32_t id;
        t->byte_ids[b] = strmap_get(&t->vocab, hex, 6, &id) || strmap_get(&t->vocab, &one, 1, &id) ? id : -1;
    }
    t->spm_text_merge = true;
    if (!gguf_special_build(t, toks, gv)) return false;
    for (int k = 0; k < t->nsp; k++) t->sp_of_id[t->sp_id[k]] = k;
    return true;
}

/* sentencepiece vocabulary -> a llama2.c tokenizer.bin image in memory */
static Tokenizer *load_spm(const GgufFile *g, const GgufKV *toks, const GgufVocab *gv, const char *path, Err *e) {
    const GgufKV *scores = gguf_find(g, "tokenizer.ggml.scores");
    if (!scores || scores->type != GGUF_ARRAY || scores->arr_n != toks->arr_n ||
        (scores->arr_type != GGUF_FLOAT32 && scores->arr_type != GGUF_FLOAT64)) {
        err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.scores (one float per token) is missing for a \"llama\" tokenizer", path);
        return NULL;
    }
    size_t total = 4;
    for (uint64_t i = 0; i < toks->arr_n; i++) total += 8 + toks->arr_strs[i].len;
    unsigned char *buf = malloc(total);
    if (!buf) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    size_t p = 4;
    int32_t maxlen = 0;
    for (uint64_t i = 0; i < toks->arr_n; i++) {
        const GgufStr *t = &toks->arr_strs[i];
        double sc = 0;
        gguf_arr_float(scores, i, &sc);
        float f = (float)sc;
        memcpy(buf + p, &f, 4);
        size_t lp = p + 4;
        p += 8;
        int32_t n = 0;
        for (size_t k = 0; k < t->len; k++) {   /* U+2581 (E2 96 81) -> ' ' */
            if (k + 2 < t->len && (unsigned char)t->s[k] == 0xE2 && (unsigned char)t->s[k + 1] == 0x96 && (unsigned char)t->s[k + 2] == 0x81) {
                buf[p + (size_t)n++] = ' ';
                k += 2;
            } else buf[p + (size_t)n++] = (unsigned char)t->s[k];
        }
        memcpy(buf + lp, &n, 4);
        p += (size_t)n;
        if (n > maxlen) maxlen = n;
    }
    memcpy(buf, &maxlen, 4);
    Tokenizer *t = tokenizer_load_llama2c_buf(buf, p, (int)toks->arr_n, path, e);
    free(buf);
    if (t && !spm_load_special(t, toks, gv)) {
        tokenizer_free(t);
        err_set(e, ERR_MEMORY, "out of memory reading the special tokens of %s", path);
        return NULL;
    }
    return t;
}

Tokenizer *tokenizer_load_gguf(const char *path, Err *e) {
    /* mapped read-only: the metadata is read in place, tensor data pages are never touched */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        err_set(e, ERR_IO, "%s: not a regular, non-empty file", path);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { err_set(e, ERR_IO, "%s: mmap failed: %s", path, strerror(errno)); return NULL; }
    GgufFile *g = gguf_parse(map, size, path, e);
    if (!g) { munmap(map, size); return NULL; }
    Tokenizer *t = NULL;
    GgufVocab gv = {0};
    char kind[32] = "";
    const GgufKV *toks = gguf_find(g, "tokenizer.ggml.tokens");
    if (!gguf_get_str(g, "tokenizer.ggml.model", kind, sizeof kind) || !toks || toks->type != GGUF_ARRAY ||
        toks->arr_type != GGUF_STRING || toks->arr_n == 0 || toks->arr_n > (1u << 24)) {
        err_set(e, ERR_FORMAT, "%s: no tokenizer in this GGUF file (tokenizer.ggml.model and tokenizer.ggml.tokens are needed)", path);
        goto done;
    }
    PreDefaults d = {.add_bos = true};   /* sentencepiece: BOS by default, no clean-up */
    bool spm = !strcmp(kind, "llama");
    if (strcmp(kind, "gpt2") && !spm) {
        err_set(e, ERR_UNSUPPORTED, "%s: tokenizer.ggml.model \"%s\" is not supported (supported: gpt2, llama)", path, kind);
        goto done;
    }
    if (!gguf_vocab_read(g, &gv, e)) goto done;
    t = spm ? load_spm(g, toks, &gv, path, e) : load_bpe(g, toks, &gv, path, &d, e);
    if (!t) goto done;
    /* llama.cpp's ids: the file's when inside the vocabulary, else its defaults (when inside) */
    int n = t->nids;
    t->bos_id = gv.bos < n ? gv.bos : -1;
    t->eos_id = gv.eos < n ? gv.eos : -1;
    bool add_bos = d.add_bos, add_eos = false;
    gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos);
    gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos);
    if (add_bos && gv.bos < 0) {   /* llama.cpp asserts (GGML_ASSERT) when it tokenizes with such a file */
        char pre[64] = "";
        gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre);
        err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.add_bos_token is true but the file has no tokenizer.ggml.bos_token_id, and "
                "tokenizer.ggml.pre \"%s\" has no default BOS in llama.cpp (its library stops on this file); "
                "set add_bos_token to false or name the BOS id", path, pre);
        tokenizer_free(t);
        t = NULL;
        goto done;
    }
    t->clean_spaces = !spm && d.clean;
    t->spm_first_space = true;   /* llama_detokenize's rule for the first id (tokenizer/detok.c) */
    t->spm_prefix = gv.add_space_prefix;
    /* BOS before the text, EOS after it, as llama.cpp's tokenize with add_special */
    free(t->prefix_ids);
    free(t->suffix_ids);
    t->prefix_ids = t->suffix_ids = NULL;
    t->nprefix = t->nsuffix = 0;
    bool bos = add_bos && t->bos_id >= 0, eos = add_eos && t->eos_id >= 0;
    t->prefix_ids = bos ? malloc(sizeof(int32_t)) : NULL;
    t->suffix_ids = eos ? malloc(sizeof(int32_t)) : NULL;
    if ((bos && !t->prefix_ids) || (eos && !t->suffix_ids)) {
        tokenizer_free(t);
        t = NULL;
        err_set(e, ERR_MEMORY, "out of memory");
        goto done;
    }
    if (bos) { t->prefix_ids[0] = t->bos_id; t->nprefix = 1; }
    if (eos) { t->suffix_ids[0] = t->eos_id; t->nsuffix = 1; }
    snprintf(t->name, sizeof t->name, "%s", path);
done:
    gguf_vocab_done(&gv);
    gguf_free(g);
    munmap(map, size);
    return t;
}
