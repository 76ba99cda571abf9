/* Tokenizer loading (HF tokenizer.json + tokenizer_config.json, llama2.c dispatch), the encode
 * pipeline (added tokens -> normalizer -> normalized added tokens -> pre-tokenizer -> BPE ->
 * post-processor), decoding, token display, and the throughput benchmark. See docs/tokenizer.md. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "tokenizer/tok_internal.h"

#define MAX_JSON_BYTES ((size_t)1 << 30)

/* ---- id -> string table --------------------------------------------------------------------- */
bool tok_set_nids(Tokenizer *t, int nids, Err *e) {
    if (nids <= t->nids) return true;
    uint32_t *o = realloc(t->id_off, (size_t)nids * sizeof *o);
    if (!o) return err_set(e, ERR_MEMORY, "out of memory (%d ids)", nids);
    t->id_off = o;
    uint32_t *l = realloc(t->id_len, (size_t)nids * sizeof *l);
    if (!l) return err_set(e, ERR_MEMORY, "out of memory (%d ids)", nids);
    t->id_len = l;
    uint8_t *f = realloc(t->id_flags, (size_t)nids);
    if (!f) return err_set(e, ERR_MEMORY, "out of memory (%d ids)", nids);
    t->id_flags = f;
    for (int i = t->nids; i < nids; i++) {
        t->id_off[i] = 0;
        t->id_len[i] = UINT32_MAX;
        t->id_flags[i] = 0;
    }
    t->nids = nids;
    return true;
}

bool tok_set_str(Tokenizer *t, int id, const char *s, size_t n, Err *e) {
    if (id < 0 || id >= t->nids) return err_set(e, ERR_FORMAT, "%s: id %d out of range", t->name, id);
    if (t->strs.n + n + 1 > UINT32_MAX) return err_set(e, ERR_FORMAT, "%s: vocabulary strings exceed 4 GiB", t->name);
    size_t off = t->strs.n;
    if (!tokbuf_add(&t->strs, s, n) || !tokbuf_addc(&t->strs, 0)) return err_set(e, ERR_MEMORY, "out of memory");
    t->id_off[id] = (uint32_t)off;
    t->id_len[id] = (uint32_t)n;
    return true;
}

const char *tok_str(const Tokenizer *t, int id, size_t *len) {
    if (id < 0 || id >= t->nids || t->id_len[id] == UINT32_MAX) {
        *len = 0;
        return "";
    }
    *len = t->id_len[id];
    return t->strs.p + t->id_off[id];
}

static bool tok_has(const Tokenizer *t, int id) { return id >= 0 && id < t->nids && t->id_len[id] != UINT32_MAX; }

/* ---- trie of added tokens ------------------------------------------------------------------ */
static int32_t trie_node(AddedTrie *tr) {
    if (tr->nnodes == tr->cap_nodes) {
        size_t cap = tr->cap_nodes ? tr->cap_nodes * 2 : 64;
        int32_t *cf = realloc(tr->child_first, cap * sizeof *cf);
        if (!cf) return -1;
        tr->child_first = cf;
        int32_t *tm = realloc(tr->term, cap * sizeof *tm);
        if (!tm) return -1;
        tr->term = tm;
        tr->cap_nodes = cap;
    }
    tr->child_first[tr->nnodes] = -1;
    tr->term[tr->nnodes] = -1;
    return (int32_t)tr->nnodes++;
}

int32_t trie_child(const AddedTrie *tr, int32_t node, unsigned char b) {
    for (int32_t ed = tr->child_first[node]; ed >= 0; ed = tr->edges[ed].next_sibling)
        if (tr->edges[ed].byte == b) return tr->edges[ed].node;
    return -1;
}

bool trie_add(AddedTrie *tr, const char *s, size_t n, int32_t value) {
    if (!tr->nnodes && trie_node(tr) < 0) return false;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t nx = trie_child(tr, node, b);
        if (nx < 0) {
            nx = trie_node(tr);
            if (nx < 0) return false;
            if (tr->nedges == tr->cap_edges) {
                size_t cap = tr->cap_edges ? tr->cap_edges * 2 : 64;
                struct TrieEdge *ed = realloc(tr->edges, cap * sizeof *ed);
                if (!ed) return false;
                tr->edges = ed;
                tr->cap_edges = cap;
            }
            tr->edges[tr->nedges] = (struct TrieEdge){tr->child_first[node], nx, b};
            tr->child_first[node] = (int32_t)tr->nedges++;
        }
        node = nx;
    }
    tr->term[node] = value;
    if (n) tr->first_byte[(unsigned char)s[0]] = 1;
    return true;
}

void trie_free(AddedTrie *tr) {
    free(tr->child_first);
    free(tr->edges);
    free(tr->term);
    memset(tr, 0, sizeof *tr);
}

/* Leftmost-longest match at or after from. */
static bool trie_find(const AddedTrie *tr, const char *s, size_t n, size_t from, size_t *ms, size_t *me, int32_t *val) {
    if (!tr->nnodes) return false;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = from; i < n; i++) {
        if (!tr->first_byte[u[i]]) continue;
        int32_t node = 0, best = -1;
        size_t best_end = 0;
        for (size_t j = i; j < n; j++) {
            node = trie_child(tr, node, u[j]);
            if (node < 0) break;
            if (tr->term[node] >= 0) { best = tr->term[node]; best_end = j + 1; }
        }
        if (best >= 0) {
            *ms = i;
            *me = best_end;
            *val = best;
            return true;
        }
    }
    return false;
}

/* ---- free ----------------------------------------------------------------------------------- */
void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    tokbuf_free(&t->strs);
    free(t->id_off);
    free(t->id_len);
    free(t->id_flags);
    strmap_free(&t->vocab);
    pairmap_free(&t->merges);
    free(t->cont_prefix);
    free(t->eow_suffix);
    free(t->small_cp_id);
    for (int i = 0; i < t->nadded; i++) {
        free(t->added[i].content);
        free(t->added[i].norm);
    }
    free(t->added);
    strmap_free(&t->added_map);
    for (int i = 0; i < t->nsp; i++) free(t->sp_str[i]);
    free(t->sp_str);
    free(t->sp_len);
    free(t->sp_id);
    free(t->sp_strip);
    free(t->sp_rep);
    trie_free(&t->sp_trie);
    free(t->gguf_attr);
    free(t->sp_of_id);
    trie_free(&t->trie_raw);
    trie_free(&t->trie_norm);
    normalizer_free(t->norm);
    pretok_free(t->pre);
    decoder_free(t->dec);
    free(t->prefix_ids);
    free(t->suffix_ids);
    free(t->scores);
    free(t);
}

/* ---- lookups ---------------------------------------------------------------------------------- */
int tokenizer_token_id(const Tokenizer *t, const char *tok) {
    if (!t || !tok) return -1;
    size_t n = strlen(tok);
    int32_t v;
    if (t->nadded && strmap_get(&t->added_map, tok, n, &v)) return t->added[v].id;
    if (strmap_get(&t->vocab, tok, n, &v)) return v;
    return -1;
}

/* ---- loading: added tokens ------------------------------------------------------------------------ */
static bool load_added(Tokenizer *t, const cJSON *arr, Err *e) {
    if (!arr || cJSON_IsNull(arr)) return true;
    if (!cJSON_IsArray(arr)) return err_set(e, ERR_FORMAT, "%s: added_tokens: not an array", t->name);
    int n = cJSON_GetArraySize(arr);
    t->added = calloc((size_t)(n ? n : 1), sizeof *t->added);
    if (!t->added || !strmap_init(&t->added_map, (size_t)n)) return err_set(e, ERR_MEMORY, "out of memory");
    /* HF AddedVocabulary::add_tokens: the id is the existing one (added or model vocabulary), else
     * the next id after the model vocabulary (the JSON "id" is only checked, as HF does). */
    int64_t next_id = (int64_t)t->vocab.n;
    const cJSON *it;
    int k = 0;
    TokBuf nb = {0};
    cJSON_ArrayForEach(it, arr) {
        int idx = k++;
        if (!cJSON_IsObject(it)) { tokbuf_free(&nb); return err_set(e, ERR_FORMAT, "%s: added_tokens[%d]: not an object", t->name, idx); }
        const char *content = tj_str(it, "content");
        if (!content) { tokbuf_free(&nb); return err_set(e, ERR_FORMAT, "%s: added_tokens[%d].content: missing or not a string", t->name, idx); }
        size_t clen = strlen(content);
        if (!clen) continue;
        bool special = tj_bool(it, "special", false);
        AddedTok at = {0};
        at.special = special;
        at.lstrip = tj_bool(it, "lstrip", false);
        at.rstrip = tj_bool(it, "rstrip", false);
        at.single_word = tj_bool(it, "single_word", false);
        at.normalized = tj_bool(it, "normalized", !special);
        int32_t existing = -1, v;
        long ai = strmap_find(&t->added_map, content, clen);
        if (ai >= 0) existing = t->added[t->added_map.entries[ai].val].id;
        else if (strmap_get(&t->vocab, content, clen, &v)) existing = v;
        int64_t id = existing >= 0 ? existing : next_id++;
        if (id >= (1 << 24)) { tokbuf_free(&nb); return err_set(e, ERR_FORMAT, "%s: added_tokens[%d]: id too large", t->name, idx); }
        at.id = (int32_t)id;
        at.clen = clen;
        at.content = malloc(clen + 1);
        if (!at.content) { tokbuf_free(&nb); return err_set(e, ERR_MEMORY, "out of memory"); }
        memcpy(at.content, content, clen + 1);
        if (at.normalized && t->norm) {
            if (!normalizer_apply(t->norm, content, clen, &nb, NULL, e)) {
                free(at.content);
                tokbuf_free(&nb);
                return err_prefix(e, "%s: added_tokens[%d]", t->name, idx);
            }
            if (nb.n != clen || memcmp(nb.p, content, clen)) {
                at.norm = malloc(nb.n + 1);
                if (!at.norm) { free(at.content); tokbuf_free(&nb); return err_set(e, ERR_MEMORY, "out of memory"); }
                memcpy(at.norm, nb.p, nb.n);
                at.norm[nb.n] = 0;
                at.nlen = nb.n;
            }
        }
        int slot;
        if (ai >= 0) { /* same content again: replace its properties */
            slot = t->added_map.entries[ai].val;
            free(t->added[slot].content);
            free(t->added[slot].norm);
        } else {
            slot = t->nadded++;
            if (strmap_put(&t->added_map, content, clen, slot, true, NULL) < 0) {
                free(at.content);
                free(at.norm);
                tokbuf_free(&nb);
                return err_set(e, ERR_MEMORY, "out of memory");
            }
        }
        t->added[slot] = at;
    }
    tokbuf_free(&nb);
    /* register ids, strings, flags, and the two tries (HF: "split_trie" for normalized=false, the
     * other matched on normalized text) */
    int maxid = t->nids - 1;
    for (int i = 0; i < t->nadded; i++)
        if (t->added[i].id > maxid) maxid = t->added[i].id;
    if (!tok_set_nids(t, maxid + 1, e)) return false;
    for (int i = 0; i < t->nadded; i++) {
        AddedTok *at = &t->added[i];
        if (!tok_set_str(t, at->id, at->content, at->clen, e)) return false;
        t->id_flags[at->id] = (uint8_t)(2 | (at->special ? 1 : 0));
        bool ok = at->normalized ? trie_add(&t->trie_norm, at->norm ? at->norm : at->content, at->norm ? at->nlen : at->clen, i)
                                 : trie_add(&t->trie_raw, at->content, at->clen, i);
        if (!ok) return err_set(e, ERR_MEMORY, "out of memory");
        if (at->normalized) t->has_norm_added = true;
    }
    return true;
}

/* ---- loading: post-processor and tokenizer_config.json ----------------------------------------------- */
static bool ids_append(int32_t **v, int *n, int32_t id) {
    int32_t *p = realloc(*v, (size_t)(*n + 1) * sizeof *p);
    if (!p) return false;
    *v = p;
    p[(*n)++] = id;
    return true;
}

static bool ids_prepend(int32_t **v, int *n, int32_t id) {
    if (!ids_append(v, n, id)) return false;
    memmove(*v + 1, *v, (size_t)(*n - 1) * sizeof **v);
    (*v)[0] = id;
    return true;
}

static bool check_special_id(Tokenizer *t, double d, const char *where, Err *e, int32_t *out) {
    if (d < 0 || d >= t->nids || d != (double)(int)d)
        return err_set(e, ERR_FORMAT, "%s: %s: id %g is outside the vocabulary (0..%d)", t->name, where, d, t->nids - 1);
    *out = (int32_t)d;
    return true;
}

static bool post_parse(Tokenizer *t, const cJSON *pp, const char *where, int32_t **pre, int *npre, int32_t **suf,
                       int *nsuf, Err *e) {
    if (!pp || cJSON_IsNull(pp)) return true;
    const char *type = tj_type(pp);
    if (!type) return err_set(e, ERR_FORMAT, "%s: %s: missing \"type\"", t->name, where);
    char w[512];
    if (!strcmp(type, "ByteLevel")) return true;
    if (!strcmp(type, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        if (!cJSON_IsArray(arr)) return err_set(e, ERR_FORMAT, "%s: %s.processors: missing or not an array", t->name, where);
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            int32_t *p2 = NULL, *s2 = NULL;
            int np2 = 0, ns2 = 0;
            snprintf(w, sizeof w, "%s.processors[%d]", where, k++);
            bool ok = post_parse(t, it, w, &p2, &np2, &s2, &ns2, e);
            /* a later processor wraps the result of the earlier ones */
            for (int i = np2 - 1; ok && i >= 0; i--) ok = ids_prepend(pre, npre, p2[i]);
            for (int i = 0; ok && i < ns2; i++) ok = ids_append(suf, nsuf, s2[i]);
            free(p2);
            free(s2);
            if (!ok) return (e && e->code) ? false : err_set(e, ERR_MEMORY, "out of memory");
        }
        return true;
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const char *keys[2] = {"cls", "sep"};
        for (int k = 0; k < 2; k++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(pp, keys[k]);
            if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(a, 1)))
                return err_set(e, ERR_FORMAT, "%s: %s.%s: expected [\"token\", id]", t->name, where, keys[k]);
            int32_t id = -1;
            snprintf(w, sizeof w, "%s.%s", where, keys[k]);
            if (!check_special_id(t, cJSON_GetArrayItem(a, 1)->valuedouble, w, e, &id)) return false;
            if (!(k == 0 ? ids_append(pre, npre, id) : ids_append(suf, nsuf, id))) return err_set(e, ERR_MEMORY, "out of memory");
        }
        return true;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
        if (!cJSON_IsArray(single)) return err_set(e, ERR_FORMAT, "%s: %s.single: missing or not an array", t->name, where);
        bool seen_seq = false;
        int k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, single) {
            int idx = k++;
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
            if (cJSON_GetObjectItemCaseSensitive(it, "Sequence")) { seen_seq = true; continue; }
            const char *name = sp ? tj_str(sp, "id") : NULL;
            if (!name) return err_set(e, ERR_FORMAT, "%s: %s.single[%d]: expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}", t->name, where, idx);
            const cJSON *def = cJSON_GetObjectItemCaseSensitive(specials, name);
            const cJSON *ids = def ? cJSON_GetObjectItemCaseSensitive(def, "ids") : NULL;
            if (!cJSON_IsArray(ids))
                return err_set(e, ERR_FORMAT, "%s: %s.special_tokens: no ids for \"%s\"", t->name, where, name);
            const cJSON *x;
            cJSON_ArrayForEach(x, ids) {
                int32_t id = -1;
                snprintf(w, sizeof w, "%s.special_tokens[\"%.64s\"]", where, name);
                if (!cJSON_IsNumber(x)) return err_set(e, ERR_FORMAT, "%s: %s: ids must be numbers", t->name, w);
                if (!check_special_id(t, x->valuedouble, w, e, &id)) return false;
                if (!(seen_seq ? ids_append(suf, nsuf, id) : ids_append(pre, npre, id))) return err_set(e, ERR_MEMORY, "out of memory");
            }
        }
        return true;
    }
    return err_set(e, ERR_UNSUPPORTED, "%s: %s: post-processor type \"%s\" is not supported", t->name, where, type);
}

/* bos_token / eos_token of tokenizer_config.json: a string or {"content": ...}. */
static const char *config_token(const cJSON *cfg, const char *key, bool *present) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    *present = v != NULL;
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) return tj_str(v, "content");
    return NULL;
}

static int first_known(const Tokenizer *t, const char *const *names) {
    for (int i = 0; names[i]; i++) {
        int id = tokenizer_token_id(t, names[i]);
        if (id >= 0) return id;
    }
    return -1;
}

static bool finish_specials(Tokenizer *t, const cJSON *cfg, Err *e) {
    bool have_bos_key = false, have_eos_key = false;
    t->bos_id = t->eos_id = -1;
    if (cfg) {
        const char *b = config_token(cfg, "bos_token", &have_bos_key);
        const char *s = config_token(cfg, "eos_token", &have_eos_key);
        if (b) t->bos_id = tokenizer_token_id(t, b);
        if (s) t->eos_id = tokenizer_token_id(t, s);
    }
    if (t->bos_id < 0 && t->nprefix > 0) t->bos_id = t->prefix_ids[0];
    if (t->eos_id < 0 && t->nsuffix > 0) t->eos_id = t->suffix_ids[t->nsuffix - 1];
    if (!cfg) {
        static const char *const bos_names[] = {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>", NULL};
        static const char *const eos_names[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>", NULL};
        if (t->bos_id < 0) t->bos_id = first_known(t, bos_names);
        if (t->eos_id < 0) t->eos_id = first_known(t, eos_names);
    }
    if (cfg) {
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
        if (cJSON_IsBool(ab)) {
            bool has = t->nprefix > 0 && t->prefix_ids[0] == t->bos_id;
            if (cJSON_IsTrue(ab) && t->bos_id >= 0 && !has && !ids_prepend(&t->prefix_ids, &t->nprefix, t->bos_id))
                return err_set(e, ERR_MEMORY, "out of memory");
            if (cJSON_IsFalse(ab) && has) {
                memmove(t->prefix_ids, t->prefix_ids + 1, (size_t)(t->nprefix - 1) * sizeof *t->prefix_ids);
                t->nprefix--;
            }
        }
        if (cJSON_IsBool(ae)) {
            bool has = t->nsuffix > 0 && t->suffix_ids[t->nsuffix - 1] == t->eos_id;
            if (cJSON_IsTrue(ae) && t->eos_id >= 0 && !has && !ids_append(&t->suffix_ids, &t->nsuffix, t->eos_id))
                return err_set(e, ERR_MEMORY, "out of memory");
            if (cJSON_IsFalse(ae) && has) t->nsuffix--;
        }
    }
    return true;
}

static bool decoder_has(const Decoder *d, int type) {
    if (!d) return false;
    if (d->type == type) return true;
    for (int i = 0; i < d->nkids; i++)
        if (decoder_has(d->kids[i], type)) return true;
    return false;
}

static bool pretok_has(const PreTok *p, int type) {
    if (!p) return false;
    if (p->type == type) return true;
    for (int i = 0; i < p->nkids; i++)
        if (pretok_has(p->kids[i], type)) return true;
    return false;
}

static Tokenizer *load_json_impl(const char *buf, size_t len, const char *name, const cJSON *cfg, Err *e) {
    if (!name) name = "tokenizer.json";
    if (!buf) { err_set(e, ERR_ARG, "%s: no data", name); return NULL; }
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    t->kind = TOK_HF;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->unk_id = -1;
    t->bos_id = t->eos_id = -1;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long at = (ep && ep >= buf && ep <= buf + len) ? (long)(ep - buf) : -1;
        int line = 1;
        for (long i = 0; i < at; i++) line += buf[i] == '\n';
        err_set(e, ERR_FORMAT, "%s: not valid JSON (near byte %ld, line %d)", name, at, line);
        goto fail;
    }
    if (!cJSON_IsObject(root)) { err_set(e, ERR_FORMAT, "%s: the top level is not a JSON object", name); goto fail; }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) { err_set(e, ERR_FORMAT, "%s: \"model\": missing or not an object", name); goto fail; }
    const char *mtype = tj_type(model);
    if (mtype && strcmp(mtype, "BPE")) {
        err_set(e, ERR_UNSUPPORTED, "%s: model.type \"%s\" is not supported (only BPE)", name, mtype);
        goto fail;
    }
    if (!mtype && !cJSON_GetObjectItemCaseSensitive(model, "merges")) {
        err_set(e, ERR_UNSUPPORTED, "%s: model has no \"type\" and no \"merges\"; only BPE is supported", name);
        goto fail;
    }
    char where[300];
    snprintf(where, sizeof where, "%s: model", name);
    if (!bpe_load(t, model, where, e)) goto fail;

    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    snprintf(where, sizeof where, "%s: normalizer", name);
    if (j && !cJSON_IsNull(j) && !(t->norm = normalizer_parse(j, where, e))) goto fail;
    j = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    snprintf(where, sizeof where, "%s: pre_tokenizer", name);
    if (j && !cJSON_IsNull(j) && !(t->pre = pretok_parse(j, where, e))) goto fail;
    j = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    snprintf(where, sizeof where, "%s: decoder", name);
    if (j && !cJSON_IsNull(j) && !(t->dec = decoder_parse(j, where, e))) goto fail;
    if (!load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), e)) goto fail;
    if (!post_parse(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), "post_processor", &t->prefix_ids,
                    &t->nprefix, &t->suffix_ids, &t->nsuffix, e))
        goto fail;
    if (!finish_specials(t, cfg, e)) goto fail;
    t->bytelevel = decoder_has(t->dec, DEC_BYTELEVEL);
    cJSON_Delete(root);
    return t;
fail:
    cJSON_Delete(root);
    tokenizer_free(t);
    return NULL;
}

Tokenizer *tokenizer_load_json_buf(const char *buf, size_t len, const char *name, Err *e) {
    return load_json_impl(buf, len, name, NULL, e);
}

Tokenizer *tokenizer_load_json(const char *path, Err *e) {
    size_t len;
    char *buf = file_read_all(path, &len, MAX_JSON_BYTES, e);
    if (!buf) return NULL;
    /* tokenizer_config.json beside it */
    char dir[4096], cfgpath[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    path_join(cfgpath, sizeof cfgpath, dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    if (file_exists(cfgpath)) {
        size_t cl;
        Err ce = {0};
        char *cb = file_read_all(cfgpath, &cl, (size_t)64 << 20, &ce);
        if (cb) {
            cfg = cJSON_ParseWithLength(cb, cl);
            free(cb);
        }
        if (!cfg || !cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            free(buf);
            err_set(e, ERR_FORMAT, "%s: not a valid JSON object", cfgpath);
            return NULL;
        }
    }
    Tokenizer *t = load_json_impl(buf, len, path, cfg, e);
    cJSON_Delete(cfg);
    free(buf);
    return t;
}

/* ---- model path resolution ------------------------------------------------------------------------- */
static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* In dir: tok<vocab>.bin, tokenizer.bin, else the only tok*.bin. */
static bool find_llama2c_tok(const char *dir, int vocab_size, char *out, size_t cap) {
    char name[64];
    if (vocab_size > 0) {
        snprintf(name, sizeof name, "tok%d.bin", vocab_size);
        path_join(out, cap, dir, name);
        if (file_exists(out)) return true;
    }
    path_join(out, cap, dir, "tokenizer.bin");
    if (file_exists(out)) return true;
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *de;
    int found = 0;
    char best[512] = "";
    while ((de = readdir(d))) {
        if (!strncmp(de->d_name, "tok", 3) && ends_with(de->d_name, ".bin")) {
            if (!found || strcmp(de->d_name, best) < 0) snprintf(best, sizeof best, "%s", de->d_name);
            found++;
        }
    }
    closedir(d);
    if (found != 1) return false;
    path_join(out, cap, dir, best);
    return file_exists(out);
}

Tokenizer *tokenizer_load_for_model(const char *model_path, int vocab_size, Err *e) {
    if (!model_path || !*model_path) { err_set(e, ERR_ARG, "no model path given"); return NULL; }
    char p[4200];
    if (dir_exists(model_path)) {
        path_join(p, sizeof p, model_path, "tokenizer.json");
        if (file_exists(p)) return tokenizer_load_json(p, e);
        if (find_llama2c_tok(model_path, vocab_size, p, sizeof p)) return tokenizer_load_llama2c(p, vocab_size, e);
        err_set(e, ERR_IO, "%s: no tokenizer.json in this model directory (nor a llama2.c tokenizer.bin/tok*.bin); "
                "copy the model's tokenizer.json there or pass --tokenizer FILE", model_path);
        return NULL;
    }
    struct stat st;   /* not a regular file: a FIFO or device may be there, but no file to read */
    if (!file_exists(model_path)) { err_set(e, ERR_IO, stat(model_path, &st) == 0 ? "%s: not a regular file" : "%s: no such file or directory", model_path); return NULL; }
    {
        size_t hl = 0;
        Err he = {0};
        char *head = file_read_head(model_path, 4, &hl, &he);
        bool gg = head && hl == 4 && !memcmp(head, "GGUF", 4);
        free(head);
        if (gg) return tokenizer_load_gguf(model_path, e);
    }
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (ends_with(base, ".json")) {
        if (!strcmp(base, "tokenizer.json") || strcmp(base, "config.json")) return tokenizer_load_json(model_path, e);
        path_join(p, sizeof p, dir, "tokenizer.json");
        if (file_exists(p)) return tokenizer_load_json(p, e);
        err_set(e, ERR_IO, "%s: no tokenizer.json beside this config", model_path);
        return NULL;
    }
    if (!strcmp(base, "tokenizer.bin") || (!strncmp(base, "tok", 3) && ends_with(base, ".bin") && strncmp(base, "tokenizer", 9)))
        return tokenizer_load_llama2c(model_path, vocab_size, e);
    /* a checkpoint (llama2.c .bin, .safetensors, ...): look beside it */
    path_join(p, sizeof p, dir, "tokenizer.json");
    if (file_exists(p)) return tokenizer_load_json(p, e);
    if (find_llama2c_tok(dir, vocab_size, p, sizeof p)) return tokenizer_load_llama2c(p, vocab_size, e);
    err_set(e, ERR_IO, "%s: no tokenizer beside this model (looked for tokenizer.json, tok%d.bin, tokenizer.bin, tok*.bin in %s)",
            model_path, vocab_size, dir);
    return NULL;
}

/* ---- encode ------------------------------------------------------------------------------------------ */
static uint32_t last_char_before(const char *s, size_t end) {
    size_t st = end - 1;
    while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
    size_t k;
    return utf8_next(s + st, end - st, &k);
}

/* HF AddedVocabulary::find_matches on the piece p, pushing text and token pieces to out. */
static bool split_added(const Tokenizer *t, const AddedTrie *tr, EncCtx *cx, Piece p, PieceVec *out, Err *e) {
    if (!p.len) return true;
    if (!tr->nnodes) return piecevec_push(out, p) || err_set(e, ERR_MEMORY, "out of memory");
    const char *s = cx->arena.p + p.off;
    size_t n = p.len, start_offset = 0, from = 0, ms, me;
    int32_t ai;
    while (from < n && trie_find(tr, s, n, from, &ms, &me, &ai)) {
        from = me;
        const AddedTok *at = &t->added[ai];
        size_t start = ms, stop = me;
        if (at->single_word) {
            bool start_space = start == 0 || !uni_is_word(last_char_before(s, start));
            size_t k;
            bool stop_space = stop == n || !uni_is_word(utf8_next(s + stop, n - stop, &k));
            if (!start_space || !stop_space) continue;
        }
        if (at->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t st = ns - 1;
                while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
                size_t k;
                if (!uni_is_whitespace(utf8_next(s + st, ns - st, &k))) break;
                ns = st;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (at->rstrip) {
            while (stop < n) {
                size_t k;
                if (!uni_is_whitespace(utf8_next(s + stop, n - stop, &k))) break;
                stop += k;
            }
        }
        if (start_offset < start && !piecevec_push(out, (Piece){p.off + start_offset, start - start_offset, -1,
                                                                 (uint8_t)(p.at_start && start_offset == 0)}))
            return err_set(e, ERR_MEMORY, "out of memory");
        if (!piecevec_push(out, (Piece){p.off + start, stop - start, at->id, 0})) return err_set(e, ERR_MEMORY, "out of memory");
        start_offset = stop;
    }
    if (start_offset < n &&
        !piecevec_push(out, (Piece){p.off + start_offset, n - start_offset, -1, (uint8_t)(p.at_start && start_offset == 0)}))
        return err_set(e, ERR_MEMORY, "out of memory");
    return true;
}

static int encode_hf(const Tokenizer *t, const char *text, size_t len, bool add_special, int **ids_out, Err *e) {
    EncCtx cx = {0};
    PieceVec p1 = {0}, p2 = {0}, p3 = {0};
    TokBuf nb = {0};
    int32_t *ids = NULL;
    size_t nids = 0, cap = 0;
    int ret = -1;
    WordCache *wc = wordcache_new();
    cx.md = pcre2_match_data_create(16, NULL);
    if (!wc || !cx.md) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
    if (!tokbuf_reserve(&cx.arena, len + len / 2 + 64) || !utf8_lossy(text ? text : "", len, &cx.arena)) {
        err_set(e, ERR_MEMORY, "out of memory (%zu bytes of text)", len);
        goto done;
    }
    /* 1. added tokens that match the raw text (a GGUF file's special tokens: llama.cpp's partition) */
    Piece whole = {0, cx.arena.n, -1, 1};
    if (!(t->nsp ? gguf_special_split(t, &cx, whole, &p1, e) : split_added(t, &t->trie_raw, &cx, whole, &p1, e))) goto done;
    /* 2. normalize the other pieces, then match the normalized added tokens */
    for (size_t i = 0; i < p1.n; i++) {
        Piece p = p1.v[i];
        if (p.id >= 0) {
            if (!piecevec_push(&p2, p)) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
            continue;
        }
        if (t->norm) {
            if (!normalizer_apply(t->norm, cx.arena.p + p.off, p.len, &nb, &cx, e)) goto done;
            p.off = cx.arena.n;
            p.len = nb.n;
            if (!tokbuf_add(&cx.arena, nb.p ? nb.p : "", nb.n)) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
        }
        if (!split_added(t, &t->trie_norm, &cx, p, &p2, e)) goto done;
    }
    /* 3. pre-tokenize */
    PieceVec *fin = &p2;
    if (t->pre) {
        if (!pretok_apply(t->pre, &cx, &p2, &p3, e)) goto done;
        fin = &p3;
    }
    /* 4. the model */
    if (add_special)
        for (int i = 0; i < t->nprefix; i++)
            if (!ids_push(&ids, &nids, &cap, t->prefix_ids[i])) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
    for (size_t i = 0; i < fin->n; i++) {
        const Piece *p = &fin->v[i];
        if (p->id >= 0) {
            if (!ids_push(&ids, &nids, &cap, p->id)) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
        } else if (!bpe_tokenize(t, cx.arena.p + p->off, p->len, wc, &ids, &nids, &cap, e))
            goto done;
    }
    if (add_special)
        for (int i = 0; i < t->nsuffix; i++)
            if (!ids_push(&ids, &nids, &cap, t->suffix_ids[i])) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
    if (nids > INT_MAX) { err_set(e, ERR_ARG, "text too long (%zu tokens)", nids); goto done; }
    if (!ids && !(ids = malloc(sizeof *ids))) { err_set(e, ERR_MEMORY, "out of memory"); goto done; }
    *ids_out = ids;
    ids = NULL;
    ret = (int)nids;
done:
    free(ids);
    free(p1.v);
    free(p2.v);
    free(p3.v);
    tokbuf_free(&nb);
    tokbuf_free(&cx.arena);
    tokbuf_free(&cx.tmp);
    tokbuf_free(&cx.tmp2);
    free(cx.ranges.v);
    free(cx.segs);
    if (cx.md) pcre2_match_data_free(cx.md);
    wordcache_free(wc);
    return ret;
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, int **ids, Err *e) {
    if (ids) *ids = NULL;
    if (!t || !ids || (!text && len)) { err_set(e, ERR_ARG, "tokenizer_encode: bad arguments"); return -1; }
    if (len > (size_t)INT_MAX / 2) { err_set(e, ERR_ARG, "text of %zu bytes is too long to tokenize", len); return -1; }
    if (t->kind == TOK_LLAMA2C) return llama2c_encode(t, text ? text : "", len, add_special, ids, e);
    return encode_hf(t, text, len, add_special, ids, e);
}

/* ---- decode ------------------------------------------------------------------------------------------- */
/* The string HF decodes for an id (added tokens: their normalized form when they have one). */
static const char *decode_str(const Tokenizer *t, int id, size_t *len) {
    if (t->id_flags[id] & 2) {
        const char *c = tok_str(t, id, len);
        int32_t ai;
        if (strmap_get(&t->added_map, c, *len, &ai) && t->added[ai].norm) {
            *len = t->added[ai].nlen;
            return t->added[ai].norm;
        }
        return c;
    }
    return tok_str(t, id, len);
}

char *tokenizer_decode(const Tokenizer *t, const int *ids, int n, bool skip_special) {
    if (!t) return NULL;
    if (t->kind == TOK_LLAMA2C) return llama2c_decode(t, ids, ids ? n : 0, skip_special, false);
    TokBuf buf = {0}, joined = {0}, out = {0};
    TokList in = {0}, res = {0};
    bool ok = tokbuf_reserve(&buf, 64);
    for (int i = 0; ok && ids && i < n; i++) {
        int id = ids[i];
        if (!tok_has(t, id)) continue;
        if (skip_special && (t->id_flags[id] & 1)) continue;
        size_t len;
        const char *s = decode_str(t, id, &len);
        size_t off = buf.n;
        ok = tokbuf_add(&buf, s, len) && toklist_push(&in, off, len);
    }
    if (ok) {
        if (t->dec && decoder_apply(t->dec, &buf, &in, &res, false)) {
            for (size_t i = 0; ok && i < res.n; i++) ok = tokbuf_add(&joined, buf.p + res.off[i], res.len[i]);
        } else {
            for (size_t i = 0; ok && i < in.n; i++)
                ok = (i == 0 || tokbuf_addc(&joined, ' ')) && tokbuf_add(&joined, buf.p + in.off[i], in.len[i]);
        }
    }
    ok = ok && utf8_lossy(joined.p ? joined.p : "", joined.n, &out) && tokbuf_reserve(&out, 1);
    tokbuf_free(&buf);
    tokbuf_free(&joined);
    toklist_free(&in);
    toklist_free(&res);
    if (!ok) { tokbuf_free(&out); return NULL; }
    return out.p;
}

/* ---- display --------------------------------------------------------------------------------------------- */
static void display_bytes(const char *s, size_t n, char *buf, size_t cap) {
    size_t w = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = u[i] < 0x80 ? 1 : utf8_valid_len(u + i, n - i);
        if (k) {
            if (w + k >= cap) break;
            memcpy(buf + w, s + i, k);
            w += k;
            i += k;
        } else {
            if (w + 6 >= cap) break;
            snprintf(buf + w, cap - w, "<0x%02X>", u[i]);
            w += 6;
            i++;
        }
    }
    buf[w] = 0;
}

const char *tokenizer_token_display(const Tokenizer *t, int id, char *buf, size_t cap) {
    if (!buf || !cap) return buf;
    buf[0] = 0;
    if (!t || !tok_has(t, id)) return buf;
    if (t->kind == TOK_LLAMA2C) {
        const char *s;
        size_t n;
        char one[1];
        llama2c_piece(t, id, &s, &n, one);
        display_bytes(s, n, buf, cap);
        return buf;
    }
    size_t n;
    const char *s = decode_str(t, id, &n);
    if ((t->id_flags[id] & 2) || !t->dec) {
        display_bytes(s, n, buf, cap);
        return buf;
    }
    TokBuf b = {0}, joined = {0};
    TokList in = {0}, res = {0};
    bool ok = tokbuf_add(&b, s, n) && toklist_push(&in, 0, n) && decoder_apply(t->dec, &b, &in, &res, true);
    for (size_t i = 0; ok && i < res.n; i++) ok = tokbuf_add(&joined, b.p + res.off[i], res.len[i]);
    if (ok) display_bytes(joined.p ? joined.p : "", joined.n, buf, cap);
    else display_bytes(s, n, buf, cap);
    tokbuf_free(&b);
    tokbuf_free(&joined);
    toklist_free(&in);
    toklist_free(&res);
    return buf;
}

/* ---- small accessors ------------------------------------------------------------------------------------- */
const char *tokenizer_token_raw(const Tokenizer *t, int id) {
    if (!t || !tok_has(t, id)) return NULL;
    size_t n;
    return tok_str(t, id, &n);
}

int tokenizer_vocab_size(const Tokenizer *t) { return t ? t->nids : 0; }
int tokenizer_bos_id(const Tokenizer *t) { return t ? t->bos_id : -1; }
int tokenizer_eos_id(const Tokenizer *t) { return t ? t->eos_id : -1; }
bool tokenizer_is_special(const Tokenizer *t, int id) { return t && tok_has(t, id) && (t->id_flags[id] & 1); }

const char *tokenizer_kind(const Tokenizer *t) {
    if (!t) return "none";
    if (t->kind == TOK_LLAMA2C) return "llama2.c (sentencepiece scores)";
    if (pretok_has(t->pre, PRE_BYTELEVEL) || t->bytelevel) return "hf-bpe (byte-level)";
    if (pretok_has(t->pre, PRE_METASPACE) || t->byte_fallback) return "hf-bpe (sentencepiece-style)";
    return "hf-bpe";
}

/* ---- benchmark -------------------------------------------------------------------------------------------- */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double tokenizer_bench_mbps_ex(const char *tokjson, const char *textfile, long *ntokens_out, Err *e) {
    Err local = {0};
    if (!e) e = &local;
    Tokenizer *t = ends_with(tokjson, ".json") ? tokenizer_load_json(tokjson, e) : tokenizer_load_for_model(tokjson, 0, e);
    if (!t) return -1;
    size_t len;
    char *text = file_read_all(textfile, &len, (size_t)1 << 30, e);
    if (!text) { tokenizer_free(t); return -1; }
    double best = 1e30;
    long ntok = 0;
    for (int rep = 0; rep < 3; rep++) {
        int *ids = NULL;
        double t0 = now_s();
        int n = tokenizer_encode(t, text, len, false, &ids, e);
        double dt = now_s() - t0;
        free(ids);
        if (n < 0) { free(text); tokenizer_free(t); return -1; }
        ntok = n;
        if (dt < best) best = dt;
    }
    free(text);
    tokenizer_free(t);
    if (ntokens_out) *ntokens_out = ntok;
    return best > 0 ? (double)len / 1e6 / best : 0;
}

double tokenizer_bench_mbps(const char *tokjson, const char *textfile) {
    return tokenizer_bench_mbps_ex(tokjson, textfile, NULL, NULL);
}
