/* llama.cpp's special tokens of a GGUF vocabulary: ids, attributes, end of generation.
 * The rules and their order are those of llama_vocab::impl::load (llama-vocab.cpp); see
 * core/gguf_vocab.h. Checked against llama.cpp's library by tests/fixtures/gguf/make_tokvocab.py. */
#include "core/gguf_vocab.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The texts llama.cpp recognises, by role. A token's text is compared whole. */
enum { R_EOT, R_EOM, R_FIM_PRE, R_FIM_SUF, R_FIM_MID, R_FIM_PAD, R_FIM_REP, R_FIM_SEP, R_NROLES };
static const char *const k_role_texts[R_NROLES][12] = {
    [R_EOT] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
               "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>", NULL},
    [R_EOM] = {"<|eom_id|>", NULL},
    [R_FIM_PRE] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                   "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL},
    [R_FIM_SUF] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>",
                   "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL},
    [R_FIM_MID] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                   "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL},
    [R_FIM_PAD] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL},
    [R_FIM_REP] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL},
    [R_FIM_SEP] = {"<|file_sep|>", NULL},
};
static const char *const k_role_keys[R_NROLES] = {
    "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id", "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id"};
/* llama.cpp's older names for three of them, read after the new ones (so they win, as there) */
static const char *const k_role_old_keys[R_NROLES] = {
    [R_FIM_PRE] = "tokenizer.ggml.prefix_token_id", [R_FIM_SUF] = "tokenizer.ggml.suffix_token_id",
    [R_FIM_MID] = "tokenizer.ggml.middle_token_id"};
/* end of generation by text */
static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
    "<eos>", "<turn|>", "<|tool_response>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", NULL};
static const char *const k_gptoss_user[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};

static bool tok_is(const GgufStr *t, const char *s) {
    size_t n = strlen(s);
    return t->len == n && !memcmp(t->s, s, n);
}

/* the id llama.cpp's text-to-id map gives (the last token with that text), -1 when absent */
static int32_t last_id(const GgufKV *toks, int32_t n, const char *s) {
    for (int32_t i = n - 1; i >= 0; i--)
        if (tok_is(&toks->arr_strs[i], s)) return i;
    return -1;
}

/* every role's candidate ids, one pass: for each text its last id */
static void role_candidates(const GgufKV *toks, int32_t n, const char *const *texts, int32_t *ids) {
    int k = 0;
    while (texts[k]) k++;
    size_t maxlen = 0;
    for (int j = 0; j < k; j++) { ids[j] = -1; if (strlen(texts[j]) > maxlen) maxlen = strlen(texts[j]); }
    for (int32_t i = 0; i < n; i++) {
        const GgufStr *t = &toks->arr_strs[i];
        if (t->len < 3 || t->len > maxlen) continue;
        for (int j = 0; j < k; j++)
            if (tok_is(t, texts[j])) ids[j] = i;
    }
}

static bool eog_add(GgufVocab *v, int32_t id) {
    if (id < 0 || gguf_vocab_is_eog(v, id)) return true;
    int32_t *p = realloc(v->eog, sizeof *p * (size_t)(v->n_eog + 1));
    if (!p) return false;
    v->eog = p;
    int i = v->n_eog++;
    while (i > 0 && p[i - 1] > id) { p[i] = p[i - 1]; i--; }
    p[i] = id;
    return true;
}

static void eog_remove(GgufVocab *v, int32_t id) {
    int w = 0;
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] != id) v->eog[w++] = v->eog[i];
    v->n_eog = w;
}

bool gguf_vocab_is_eog(const GgufVocab *v, int32_t id) {
    int lo = 0, hi = v->n_eog;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v->eog[mid] < id) lo = mid + 1; else hi = mid;
    }
    return lo < v->n_eog && v->eog[lo] == id;
}

static bool contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == needle[k]) k++;
        if (k == n) return true;
    }
    return false;
}

void gguf_vocab_done(GgufVocab *v) {
    if (!v) return;
    free(v->eog);
    free(v->attr);
    memset(v, 0, sizeof *v);
}

bool gguf_vocab_read(const GgufFile *g, GgufVocab *v, Err *e) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->eot = v->eom = -1;
    const GgufKV *toks = gguf_find(g, "tokenizer.ggml.tokens");
    if (!toks || toks->type != GGUF_ARRAY || toks->arr_type != GGUF_STRING || toks->arr_n == 0 || toks->arr_n > (1u << 24)) {
        err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.tokens (an array of strings) is missing or empty", g->fname ? g->fname : "GGUF");
        return false;
    }
    int32_t n = (int32_t)toks->arr_n;
    v->n_tokens = n;
    char model[32] = "", pre[64] = "", name[256] = "", arch[64] = "";
    gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model);
    gguf_get_str(g, "tokenizer.ggml.pre", pre, sizeof pre);
    gguf_get_str(g, "general.name", name, sizeof name);
    gguf_get_str(g, "general.architecture", arch, sizeof arch);
    v->kind = !strcmp(model, "llama") ? GV_SPM : !strcmp(model, "gpt2") ? GV_BPE : GV_OTHER;
    if (v->kind == GV_SPM) { v->bos = 1; v->eos = 2; }
    else if (v->kind == GV_BPE) {
        v->bos = !strcmp(pre, "chatglm-bpe") || !strcmp(pre, "glm4") ? -1 : 11;
        v->eos = 11;
    }
    v->add_space_prefix = v->kind == GV_SPM;
    gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);
    int64_t x;
    if (gguf_get_int(g, "tokenizer.ggml.bos_token_id", &x) && x >= 0 && x < n) v->bos = (int32_t)x;
    if (gguf_get_int(g, "tokenizer.ggml.eos_token_id", &x) && x >= 0 && x < n) v->eos = (int32_t)x;
    int32_t role[R_NROLES];
    for (int r = 0; r < R_NROLES; r++) {
        role[r] = -1;
        if (gguf_get_int(g, k_role_keys[r], &x) && x >= 0 && x < n) role[r] = (int32_t)x;
        if (k_role_old_keys[r] && gguf_get_int(g, k_role_old_keys[r], &x) && x >= 0 && x < n) role[r] = (int32_t)x;
    }

    /* attributes from the token types */
    v->attr = malloc(sizeof *v->attr * (size_t)n);
    if (!v->attr) { err_set(e, ERR_MEMORY, "out of memory reading the vocabulary of %s", g->fname); return false; }
    const GgufKV *types = gguf_find(g, "tokenizer.ggml.token_type");
    if (types && (types->type != GGUF_ARRAY || types->arr_n < toks->arr_n || types->arr_type == GGUF_STRING ||
                  types->arr_type == GGUF_ARRAY || types->arr_type == GGUF_FLOAT32 || types->arr_type == GGUF_FLOAT64 ||
                  types->arr_type == GGUF_BOOL)) {
        err_set(e, ERR_FORMAT, "%s: tokenizer.ggml.token_type must be an integer array with one entry per token (%u tokens)",
                g->fname, (unsigned)n);
        gguf_vocab_done(v);
        return false;
    }
    for (int32_t i = 0; i < n; i++) {
        int64_t ty = 1;
        if (types && !gguf_arr_int(types, (uint64_t)i, &ty)) ty = 0;
        static const uint16_t by_type[7] = {0, GV_NORMAL, GV_UNKNOWN, GV_CONTROL, GV_USER_DEFINED, GV_UNUSED, GV_BYTE};
        v->attr[i] = ty >= 0 && ty <= 6 ? by_type[ty] : 0;
    }

    /* EOT, EOM and the FIM tokens found by their text where no key names them (llama.cpp takes the
     * first its hash map lists; here the lowest id); the one chosen becomes CONTROL */
    for (int r = 0; r < R_NROLES; r++) {
        if (role[r] >= 0) continue;
        int32_t ids[12];
        role_candidates(toks, n, k_role_texts[r], ids);
        for (int j = 0; k_role_texts[r][j]; j++)
            if (ids[j] >= 0 && (role[r] < 0 || ids[j] < role[r])) role[r] = ids[j];
        if (role[r] >= 0) v->attr[role[r]] |= GV_CONTROL;
    }
    v->eot = role[R_EOT];
    v->eom = role[R_EOM];
    for (int32_t i = 0; i < n; i++) {   /* control tokens named "unused" */
        const GgufStr *t = &toks->arr_strs[i];
        if (!(v->attr[i] & GV_CONTROL) || t->len < 6) continue;
        for (size_t k = 0; k + 6 <= t->len; k++)
            if (!memcmp(t->s + k, "unused", 6)) { v->attr[i] |= GV_UNUSED; break; }
    }
    bool ok = eog_add(v, role[R_FIM_PAD]) && eog_add(v, role[R_FIM_REP]) && eog_add(v, role[R_FIM_SEP]);
    int32_t eog_ids[32];
    role_candidates(toks, n, k_eog_texts, eog_ids);
    for (int j = 0; ok && k_eog_texts[j]; j++)
        if (eog_ids[j] >= 0) { ok = eog_add(v, eog_ids[j]); v->attr[eog_ids[j]] |= GV_CONTROL; }
    for (int j = 0; k_gptoss_user[j]; j++) {
        int32_t id = last_id(toks, n, k_gptoss_user[j]);
        if (id >= 0) v->attr[id] = GV_USER_DEFINED;
    }
    ok = ok && eog_add(v, v->eos) && eog_add(v, v->eot) && eog_add(v, v->eom);
    if (!ok) { err_set(e, ERR_MEMORY, "out of memory reading the vocabulary of %s", g->fname); gguf_vocab_done(v); return false; }
    /* gpt-oss / solar-open: <|end|> ends a message, not the generation; Gemma 4: </s> is text */
    bool has_return = false, has_call = false, has_flush = false, has_tool = false;
    int32_t end_id = -1, s_id = -1;
    for (int i = 0; i < v->n_eog; i++) {
        int32_t id = v->eog[i];
        if (id >= n) continue;
        const GgufStr *t = &toks->arr_strs[id];
        if (tok_is(t, "<|return|>")) has_return = true;
        else if (tok_is(t, "<|call|>") || tok_is(t, "<|calls|>")) has_call = true;
        else if (tok_is(t, "<|flush|>")) has_flush = true;
        else if (tok_is(t, "<|end|>")) end_id = id;
        if (tok_is(t, "<|tool_response>")) has_tool = true;
        else if (tok_is(t, "</s>")) s_id = id;
    }
    if (end_id >= 0 && has_call && (has_return || has_flush)) { eog_remove(v, end_id); v->attr[end_id] = GV_USER_DEFINED; }
    if (has_tool && s_id >= 0) { eog_remove(v, s_id); v->attr[s_id] = GV_NORMAL; }

    /* whitespace stripping by model name */
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") || strstr(arch, "nomic-bert-moe") ||
        strstr(arch, "jina-bert-v3")) {
        int32_t id = last_id(toks, n, "<mask>");
        if (id >= 0) v->attr[id] |= GV_LSTRIP;
    } else if (contains_ci(name, "phi-3") || contains_ci(name, "phi3")) {
        for (int32_t i = 0; i < n; i++)
            if (v->attr[i] & (GV_CONTROL | GV_USER_DEFINED | GV_UNKNOWN)) v->attr[i] |= GV_RSTRIP;
        int32_t id = last_id(toks, n, "</s>");
        if (id >= 0) v->attr[id] |= GV_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (int j = 0; j < 3; j++)
            if ((id = last_id(toks, n, keep[j])) >= 0) v->attr[id] &= (uint16_t)~GV_RSTRIP;
    } else if (contains_ci(name, "modern-bert")) {
        int32_t id = last_id(toks, n, "[MASK]");
        if (id >= 0) v->attr[id] |= GV_LSTRIP;
    }
    return true;
}
