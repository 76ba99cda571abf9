/* The BPE model of HF tokenizer.json: vocabulary, merges (both serialisations), unk/fuse_unk,
 * byte_fallback, ignore_merges, continuing_subword_prefix/end_of_word_suffix.
 *
 * Merging follows HF's Word::merge_all exactly: a min-heap of candidate pairs ordered by
 * (merge rank, position), stale entries skipped when the pair at that position no longer
 * produces the same token. O(n log n) per word; a per-call word cache avoids re-merging
 * repeated words. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

#define MAX_IDS (1 << 24)       /* refuse vocabularies with larger ids */
#define CACHE_MAX_WORD 256      /* HF caches words shorter than this (bytes) */
#define CACHE_MAX_ENTRIES 200000

static char *dup_or_null(const cJSON *o, const char *key) {
    const char *s = tj_str(o, key);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static bool add_merge(Tokenizer *t, const char *a, size_t an, const char *b, size_t bn, uint32_t rank,
                      const char *where, long idx, TokBuf *tmp, Err *e) {
    int32_t ida, idb, idn;
    if (!strmap_get(&t->vocab, a, an, &ida))
        return err_set(e, ERR_FORMAT, "%s.merges[%ld]: token \"%.*s\" is not in the vocabulary", where, idx, (int)an, a);
    if (!strmap_get(&t->vocab, b, bn, &idb))
        return err_set(e, ERR_FORMAT, "%s.merges[%ld]: token \"%.*s\" is not in the vocabulary", where, idx, (int)bn, b);
    size_t pl = t->cont_prefix ? strlen(t->cont_prefix) : 0;
    if (bn < pl)
        return err_set(e, ERR_FORMAT, "%s.merges[%ld]: token \"%.*s\" is shorter than continuing_subword_prefix", where,
                       idx, (int)bn, b);
    tmp->n = 0;
    if (!tokbuf_add(tmp, a, an) || !tokbuf_add(tmp, b + pl, bn - pl)) return err_set(e, ERR_MEMORY, "out of memory");
    if (!strmap_get(&t->vocab, tmp->p, tmp->n, &idn))
        return err_set(e, ERR_FORMAT, "%s.merges[%ld]: merged token \"%.*s\" is not in the vocabulary", where, idx,
                       (int)tmp->n, tmp->p);
    if (!pairmap_put(&t->merges, ida, idb, rank, idn)) return err_set(e, ERR_MEMORY, "out of memory (merges)");
    return true;
}

/* A character X such that X alone is in the vocabulary and no vocabulary string holds X other
 * than at its start. Then no merge can join a symbol before an X with the X (the merged string
 * would hold X inside), so a word splits before each X into parts that merge independently --
 * with exactly the same result, and each part can be cached. Only without
 * continuing_subword_prefix / end_of_word_suffix (they depend on the word's ends). */
void bpe_find_segment_char(Tokenizer *t) {
    static const char *const cands[] = {"\xE2\x96\x81" /* ▁ */, " ", "\xC4\xA0" /* Ġ */};
    t->seg_len = 0;
    if (t->cont_prefix || t->eow_suffix) return;
    for (int c = 0; c < 3; c++) {
        size_t cl = strlen(cands[c]);
        int32_t id;
        if (!strmap_get(&t->vocab, cands[c], cl, &id)) continue;
        bool inside = false;
        for (size_t i = 0; i < t->vocab.n && !inside; i++) {
            const StrMapEntry *en = &t->vocab.entries[i];
            const char *k = t->vocab.arena.p + en->off;
            for (size_t j = 1; j + cl <= en->len; j++)
                if (!memcmp(k + j, cands[c], cl)) { inside = true; break; }
        }
        if (!inside) {
            memcpy(t->seg_char, cands[c], cl);
            t->seg_len = (int)cl;
            return;
        }
    }
}

bool bpe_load(Tokenizer *t, const cJSON *model, const char *where, Err *e) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab)) return err_set(e, ERR_FORMAT, "%s.vocab: missing or not an object", where);
    if (merges && !cJSON_IsNull(merges) && !cJSON_IsArray(merges))
        return err_set(e, ERR_FORMAT, "%s.merges: not an array", where);
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    (void)dr; /* dropout only randomises training-time encodes; ignored (deterministic). */
    t->byte_fallback = tj_bool(model, "byte_fallback", false);
    t->ignore_merges = tj_bool(model, "ignore_merges", false);
    t->fuse_unk = tj_bool(model, "fuse_unk", false);
    t->cont_prefix = dup_or_null(model, "continuing_subword_prefix");
    t->eow_suffix = dup_or_null(model, "end_of_word_suffix");
    if (t->cont_prefix && !t->cont_prefix[0]) { free(t->cont_prefix); t->cont_prefix = NULL; }
    if (t->eow_suffix && !t->eow_suffix[0]) { free(t->eow_suffix); t->eow_suffix = NULL; }

    int nv = cJSON_GetArraySize(vocab);
    if (!strmap_init(&t->vocab, (size_t)nv)) return err_set(e, ERR_MEMORY, "out of memory (vocab)");
    int maxid = -1;
    const cJSON *it;
    long k = 0;
    cJSON_ArrayForEach(it, vocab) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= MAX_IDS ||
            it->valuedouble != (double)(int)it->valuedouble)
            return err_set(e, ERR_FORMAT, "%s.vocab[\"%.64s\"]: id must be an integer in [0, %d)", where,
                           it->string ? it->string : "", MAX_IDS);
        const char *key = it->string ? it->string : "";
        if (strmap_put(&t->vocab, key, strlen(key), it->valueint, true, NULL) < 0)
            return err_set(e, ERR_MEMORY, "out of memory (vocab)");
        if (it->valueint > maxid) maxid = it->valueint;
        k++;
    }
    if (!tok_set_nids(t, maxid + 1, e)) return false;
    for (size_t i = 0; i < t->vocab.n; i++) {
        const StrMapEntry *en = &t->vocab.entries[i];
        if (!tok_set_str(t, en->val, t->vocab.arena.p + en->off, en->len, e)) return false;
    }

    const char *unk = tj_str(model, "unk_token");
    t->unk_id = -1;
    if (unk) {
        int32_t id;
        /* HF fails at encode time when the unk token is not in the vocabulary; -2 marks that. */
        t->unk_id = strmap_get(&t->vocab, unk, strlen(unk), &id) ? id : -2;
    }

    int nm = merges ? cJSON_GetArraySize(merges) : 0;
    if (!pairmap_init(&t->merges, (size_t)nm)) return err_set(e, ERR_MEMORY, "out of memory (merges)");
    TokBuf tmp = {0};
    uint32_t rank = 0;
    long idx = 0;
    bool ok = true;
    if (merges) cJSON_ArrayForEach(it, merges) {
        if (cJSON_IsString(it)) {
            const char *s = it->valuestring;
            if (!strncmp(s, "#version", 8)) { idx++; continue; }
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                ok = err_set(e, ERR_FORMAT, "%s.merges[%ld]: \"%.80s\" is not two tokens separated by one space", where,
                             idx, s);
                break;
            }
            ok = add_merge(t, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), rank, where, idx, &tmp, e);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            const char *a = it->child->valuestring, *b = it->child->next->valuestring;
            ok = add_merge(t, a, strlen(a), b, strlen(b), rank, where, idx, &tmp, e);
        } else {
            ok = err_set(e, ERR_FORMAT, "%s.merges[%ld]: expected \"a b\" or [\"a\", \"b\"]", where, idx);
        }
        if (!ok) break;
        rank++;
        idx++;
    }
    tokbuf_free(&tmp);
    if (!ok) return false;

    for (int b = 0; b < 256; b++) {
        char code[8];
        snprintf(code, sizeof code, "<0x%02X>", b);
        int32_t id;
        t->byte_ids[b] = strmap_get(&t->vocab, code, 6, &id) ? id : -1;
    }
    bpe_find_segment_char(t);
    if (!t->cont_prefix && !t->eow_suffix) {
        t->small_cp_id = malloc(1024 * sizeof *t->small_cp_id);
        if (!t->small_cp_id) return err_set(e, ERR_MEMORY, "out of memory");
        for (uint32_t cp = 0; cp < 1024; cp++) {
            char u[4];
            size_t n = utf8_encode(cp, u);
            int32_t id;
            t->small_cp_id[cp] = strmap_get(&t->vocab, u, n, &id) ? id : -1;
        }
    }
    return true;
}

/* ---- encoding ------------------------------------------------------------------------ */
typedef struct {
    int32_t id, prev, next;
    uint32_t len; /* bytes; 0 = merged away */
} Sym;
typedef struct {
    uint32_t rank, pos;
    int32_t newid;
} Cand;

struct WordCache {
    StrMap map;           /* word -> entry index */
    uint32_t *ent_off, *ent_cnt;
    size_t nent, capent;
    int32_t *pool;
    size_t npool, cappool;
    /* scratch */
    Sym *syms;
    size_t capsyms;
    Cand *heap;
    size_t capheap;
    TokBuf tmp;
};

WordCache *wordcache_new(void) {
    WordCache *c = calloc(1, sizeof *c);
    if (c && !strmap_init(&c->map, 4096)) { free(c); return NULL; }
    return c;
}

void wordcache_free(WordCache *c) {
    if (!c) return;
    strmap_free(&c->map);
    free(c->ent_off);
    free(c->ent_cnt);
    free(c->pool);
    free(c->syms);
    free(c->heap);
    tokbuf_free(&c->tmp);
    free(c);
}

static inline bool cand_less(const Cand *a, const Cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static bool heap_push(WordCache *c, size_t *n, Cand x) {
    if (*n == c->capheap) {
        size_t cap = c->capheap ? c->capheap * 2 : 64;
        Cand *h = realloc(c->heap, cap * sizeof *h);
        if (!h) return false;
        c->heap = h;
        c->capheap = cap;
    }
    Cand *h = c->heap;
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
    return true;
}

static Cand heap_pop(WordCache *c, size_t *n) {
    Cand *h = c->heap;
    Cand top = h[0];
    Cand last = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        size_t r = l + 1, s = (r < m && cand_less(&h[r], &h[l])) ? r : l;
        if (!cand_less(&h[s], &last)) break;
        h[i] = h[s];
        i = s;
    }
    if (m) h[i] = last;
    return top;
}

static bool sym_add(WordCache *c, size_t *ns, int32_t id, uint32_t len) {
    if (*ns == c->capsyms) {
        size_t cap = c->capsyms ? c->capsyms * 2 : 64;
        Sym *s = realloc(c->syms, cap * sizeof *s);
        if (!s) return false;
        c->syms = s;
        c->capsyms = cap;
    }
    c->syms[*ns] = (Sym){id, (int32_t)*ns - 1, (int32_t)*ns + 1, len};
    (*ns)++;
    return true;
}

static int32_t lookup_piece(const Tokenizer *t, WordCache *c, const char *s, size_t n, bool first, bool last,
                            const char **key, size_t *keylen) {
    *key = s;
    *keylen = n;
    if ((first || !t->cont_prefix) && (!last || !t->eow_suffix)) {
        if (t->small_cp_id) {
            size_t k;
            uint32_t cp = utf8_next(s, n, &k);
            if (cp < 1024 && k == n) return t->small_cp_id[cp];
        }
    } else {
        c->tmp.n = 0;
        if (!first && t->cont_prefix) tokbuf_add(&c->tmp, t->cont_prefix, strlen(t->cont_prefix));
        tokbuf_add(&c->tmp, s, n);
        if (last && t->eow_suffix) tokbuf_add(&c->tmp, t->eow_suffix, strlen(t->eow_suffix));
        *key = c->tmp.p ? c->tmp.p : "";
        *keylen = c->tmp.n;
    }
    int32_t id;
    return strmap_get(&t->vocab, *key, *keylen, &id) ? id : -1;
}

/* HF BPE::merge_word + Word::merge_all. Leaves the surviving symbols in c->syms[0..*nout). */
static bool merge_word(const Tokenizer *t, WordCache *c, const char *w, size_t n, size_t *nout, Err *e) {
    size_t ns = 0;
    int32_t unk_id = -1;
    uint32_t unk_len = 0;
    bool have_unk = false;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_valid_len((const unsigned char *)w + i, n - i);
        if (!k) k = 1;
        bool first = i == 0, last = i + k == n;
        const char *key;
        size_t keylen;
        int32_t id = lookup_piece(t, c, w + i, k, first, last, &key, &keylen);
        if (id >= 0) {
            if (have_unk) {
                if (!sym_add(c, &ns, unk_id, unk_len)) goto oom;
                have_unk = false;
            }
            if (!sym_add(c, &ns, id, (uint32_t)k)) goto oom;
        } else {
            bool done = false;
            if (t->byte_fallback) {
                bool all = true;
                for (size_t j = 0; j < keylen; j++)
                    if (t->byte_ids[(unsigned char)key[j]] < 0) { all = false; break; }
                if (all) {
                    for (size_t j = 0; j < keylen; j++)
                        if (!sym_add(c, &ns, t->byte_ids[(unsigned char)key[j]], 1)) goto oom;
                    done = true;
                }
            }
            if (!done && t->unk_id != -1) {
                if (t->unk_id == -2) return err_set(e, ERR_FORMAT, "%s: model.unk_token is not in the vocabulary", t->name);
                if (have_unk && t->fuse_unk) unk_len += (uint32_t)k;
                else {
                    if (have_unk && !sym_add(c, &ns, unk_id, unk_len)) goto oom;
                    unk_id = t->unk_id;
                    unk_len = (uint32_t)k;
                    have_unk = true;
                }
            }
        }
        i += k;
    }
    if (have_unk && !sym_add(c, &ns, unk_id, unk_len)) goto oom;
    if (ns) c->syms[ns - 1].next = -1;

    /* merge_all */
    size_t nh = 0;
    Sym *sy = c->syms;
    for (size_t i = 0; i + 1 < ns; i++) {
        uint32_t rank;
        int32_t nid;
        if (pairmap_get(&t->merges, sy[i].id, sy[i + 1].id, &rank, &nid) &&
            !heap_push(c, &nh, (Cand){rank, (uint32_t)i, nid}))
            goto oom;
    }
    while (nh) {
        Cand top = heap_pop(c, &nh);
        sy = c->syms;
        Sym *cur = &sy[top.pos];
        if (cur->len == 0 || cur->next < 0) continue;
        int32_t nextpos = cur->next;
        Sym right = sy[nextpos];
        uint32_t rank;
        int32_t nid;
        if (!pairmap_get(&t->merges, cur->id, right.id, &rank, &nid) || nid != top.newid) continue;
        cur->id = top.newid;
        cur->len += right.len;
        cur->next = right.next;
        sy[nextpos].len = 0;
        if (right.next >= 0 && (size_t)right.next < ns) sy[right.next].prev = (int32_t)top.pos;
        if (cur->prev >= 0) {
            Sym *pv = &sy[cur->prev];
            if (pairmap_get(&t->merges, pv->id, cur->id, &rank, &nid) &&
                !heap_push(c, &nh, (Cand){rank, (uint32_t)cur->prev, nid}))
                goto oom;
        }
        cur = &c->syms[top.pos];
        if (cur->next >= 0 && (size_t)cur->next < ns) {
            Sym *nx = &c->syms[cur->next];
            if (pairmap_get(&t->merges, cur->id, nx->id, &rank, &nid) &&
                !heap_push(c, &nh, (Cand){rank, top.pos, nid}))
                goto oom;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < ns; i++)
        if (c->syms[i].len) c->syms[m++] = c->syms[i];
    *nout = m;
    return true;
oom:
    return err_set(e, ERR_MEMORY, "out of memory (BPE)");
}

bool ids_push(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        int32_t *p = realloc(*ids, nc * sizeof *p);
        if (!p) return false;
        *ids = p;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return true;
}

bool wordcache_get(WordCache *c, const char *s, size_t n, int32_t **ids, size_t *nids, size_t *cap, bool *hit) {
    *hit = false;
    int32_t ix;
    if (!c || n >= CACHE_MAX_WORD || !strmap_get(&c->map, s, n, &ix)) return true;
    *hit = true;
    for (uint32_t i = 0; i < c->ent_cnt[ix]; i++)
        if (!ids_push(ids, nids, cap, c->pool[c->ent_off[ix] + i])) return false;
    return true;
}

void wordcache_put(WordCache *c, const char *s, size_t n, const int32_t *ids, size_t m) {
    /* best effort: on allocation failure simply do not cache */
    if (!c || n >= CACHE_MAX_WORD || c->map.n >= CACHE_MAX_ENTRIES) return;
    if (c->nent == c->capent) {
        size_t nc = c->capent ? c->capent * 2 : 1024;
        uint32_t *o = realloc(c->ent_off, nc * sizeof *o);
        if (!o) return;
        c->ent_off = o;
        uint32_t *q = realloc(c->ent_cnt, nc * sizeof *q);
        if (!q) return;
        c->ent_cnt = q;
        c->capent = nc;
    }
    if (c->npool + m > c->cappool) {
        size_t nc = c->cappool ? c->cappool : 4096;
        while (nc < c->npool + m) nc *= 2;
        int32_t *p = realloc(c->pool, nc * sizeof *p);
        if (!p) return;
        c->pool = p;
        c->cappool = nc;
    }
    if (c->npool + m > UINT32_MAX) return;
    if (strmap_put(&c->map, s, n, (int32_t)c->nent, false, NULL) < 0) return;
    c->ent_off[c->nent] = (uint32_t)c->npool;
    c->ent_cnt[c->nent] = (uint32_t)m;
    if (m) memcpy(c->pool + c->npool, ids, m * sizeof *ids);   /* a word may map to no ids */
    c->npool += m;
    c->nent++;
}

/* One word (or segment): cached merge result, else merge_word. */
static bool bpe_part(const Tokenizer *t, const char *s, size_t n, WordCache *c, int32_t **ids, size_t *nids, size_t *cap,
                     Err *e) {
    bool hit;
    if (!wordcache_get(c, s, n, ids, nids, cap, &hit)) return err_set(e, ERR_MEMORY, "out of memory");
    if (hit) return true;
    size_t m = 0, first = *nids;
    if (!merge_word(t, c, s, n, &m, e)) return false;
    for (size_t i = 0; i < m; i++)
        if (!ids_push(ids, nids, cap, c->syms[i].id)) return err_set(e, ERR_MEMORY, "out of memory");
    wordcache_put(c, s, n, m ? *ids + first : NULL, m);
    return true;
}

bool bpe_tokenize(const Tokenizer *t, const char *s, size_t n, WordCache *c, int32_t **ids, size_t *nids, size_t *cap,
                  Err *e) {
    if (!n) return true;
    int32_t id;
    if (t->ignore_merges && strmap_get(&t->vocab, s, n, &id)) {
        if (!ids_push(ids, nids, cap, id)) return err_set(e, ERR_MEMORY, "out of memory");
        return true;
    }
    size_t sl = (size_t)t->seg_len;
    if (!sl || n <= sl) return bpe_part(t, s, n, c, ids, nids, cap, e);
    size_t a = 0;
    for (size_t i = 1; i + sl <= n; i++) {
        if (memcmp(s + i, t->seg_char, sl)) continue;
        if (!bpe_part(t, s + a, i - a, c, ids, nids, cap, e)) return false;
        a = i;
        i += sl - 1;
    }
    return bpe_part(t, s + a, n - a, c, ids, nids, cap, e);
}
