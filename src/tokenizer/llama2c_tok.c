/* llama2.c's tokenizer.bin: int32 max_token_length, then per token: float32 score, int32 length,
 * bytes. Encoding follows llama2.c's encode(): a dummy-prefix " " (sentencepiece
 * add_dummy_prefix), each UTF-8 character looked up (else its bytes as <0xNN> = byte + 3), then
 * repeatedly merge the adjacent pair whose concatenation is the best-scoring vocabulary entry
 * (leftmost on ties). Here the repetition uses a heap instead of llama2.c's quadratic rescans. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/gguf_vocab.h"
#include "tokenizer/tok_internal.h"

#define MAX_PIECE 65536

static Tokenizer *l2c_fail(Tokenizer *t, Err *e, int code, const char *fmt, const char *name, long a, long b) {
    err_set(e, code, fmt, name, a, b);
    tokenizer_free(t);
    return NULL;
}

Tokenizer *tokenizer_load_llama2c_buf(const unsigned char *buf, size_t len, int vocab_size, const char *name, Err *e) {
    if (!name) name = "tokenizer.bin";
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    t->kind = TOK_LLAMA2C;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->bos_id = t->eos_id = -1;
    t->unk_id = -1;
    t->spm_prefix = true;
    if (!buf || len < 4) return l2c_fail(t, e, ERR_FORMAT, "%s: too short for a llama2.c tokenizer (%ld bytes)%.0ld", name, (long)len, 0);
    int32_t mtl;
    memcpy(&mtl, buf, 4);
    if (mtl <= 0 || mtl > MAX_PIECE)
        return l2c_fail(t, e, ERR_FORMAT, "%s: max_token_length %ld is not plausible (header of a llama2.c tokenizer.bin)%.0ld", name, (long)mtl, 0);
    t->max_token_length = mtl;
    /* count entries */
    size_t p = 4;
    long count = 0;
    while (p < len && (vocab_size <= 0 || count < vocab_size)) {
        if (len - p < 8) return l2c_fail(t, e, ERR_FORMAT, "%s: token %ld: truncated header at byte %ld", name, count, (long)p);
        int32_t n;
        memcpy(&n, buf + p + 4, 4);
        if (n < 0 || n > MAX_PIECE || (size_t)n > len - p - 8)
            return l2c_fail(t, e, ERR_FORMAT, "%s: token %ld: length %ld is out of range", name, count, (long)n);
        p += 8 + (size_t)n;
        count++;
    }
    if (vocab_size > 0 && count < vocab_size)
        return l2c_fail(t, e, ERR_FORMAT, "%s: holds %ld tokens, the model's vocabulary has %ld", name, count, vocab_size);
    if (count == 0) return l2c_fail(t, e, ERR_FORMAT, "%s: no tokens%.0ld%.0ld", name, 0, 0);
    if (!tok_set_nids(t, (int)count, e)) { tokenizer_free(t); return NULL; }
    t->scores = malloc((size_t)count * sizeof *t->scores);
    if (!t->scores || !strmap_init(&t->vocab, (size_t)count)) {
        err_set(e, ERR_MEMORY, "out of memory");
        tokenizer_free(t);
        return NULL;
    }
    p = 4;
    for (long i = 0; i < count; i++) {
        float sc;
        int32_t n;
        memcpy(&sc, buf + p, 4);
        memcpy(&n, buf + p + 4, 4);
        const char *s = (const char *)buf + p + 8;
        t->scores[i] = sc;
        if (!tok_set_str(t, (int)i, s, (size_t)n, e) || strmap_put(&t->vocab, s, (size_t)n, (int32_t)i, false, NULL) < 0) {
            err_set(e, ERR_MEMORY, "out of memory");
            tokenizer_free(t);
            return NULL;
        }
        p += 8 + (size_t)n;
    }
    for (int b = 0; b < 256; b++) t->byte_ids[b] = b + 3 < count ? b + 3 : -1;
    /* Every way a vocabulary string splits into two vocabulary strings: the (left, right) ->
     * merged-id table that encode's merge loop consults instead of concatenating strings. */
    if (!pairmap_init(&t->merges, (size_t)count * 2)) {
        err_set(e, ERR_MEMORY, "out of memory");
        tokenizer_free(t);
        return NULL;
    }
    for (long i = 0; i < count; i++) {
        size_t n;
        const char *s = tok_str(t, (int)i, &n);
        int32_t whole, a, b;
        if (n < 2 || !strmap_get(&t->vocab, s, n, &whole) || whole != (int32_t)i) continue;
        for (size_t k = 1; k < n; k++)
            if (strmap_get(&t->vocab, s, k, &a) && strmap_get(&t->vocab, s + k, n - k, &b) &&
                !pairmap_put(&t->merges, a, b, 0, whole)) {
                err_set(e, ERR_MEMORY, "out of memory");
                tokenizer_free(t);
                return NULL;
            }
    }
    bpe_find_segment_char(t);
    if (count > 2) {
        t->bos_id = 1;
        t->eos_id = 2;
        for (int i = 0; i < 3; i++) t->id_flags[i] |= 1;
        if (!(t->prefix_ids = malloc(sizeof *t->prefix_ids))) {
            err_set(e, ERR_MEMORY, "out of memory");
            tokenizer_free(t);
            return NULL;
        }
        t->prefix_ids[0] = t->bos_id;
        t->nprefix = 1;
    }
    return t;
}

Tokenizer *tokenizer_load_llama2c(const char *path, int vocab_size, Err *e) {
    size_t len;
    char *buf = file_read_all(path, &len, (size_t)1 << 28, e);
    if (!buf) return NULL;
    Tokenizer *t = tokenizer_load_llama2c_buf((const unsigned char *)buf, len, vocab_size, path, e);
    free(buf);
    return t;
}

/* ---- encode ----------------------------------------------------------------------------- */
typedef struct {
    float score;
    int32_t left, right, lid, rid, newid;
} L2Cand;

static bool l2_better(const L2Cand *a, const L2Cand *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    L2Cand *v;
    size_t n, cap;
} L2Heap;

static bool l2_push(L2Heap *h, L2Cand x) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        L2Cand *v = realloc(h->v, cap * sizeof *v);
        if (!v) return false;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!l2_better(&x, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = x;
    return true;
}

static L2Cand l2_pop(L2Heap *h) {
    L2Cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0, m = h->n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        size_t r = l + 1, s = (r < m && l2_better(&h->v[r], &h->v[l])) ? r : l;
        if (!l2_better(&h->v[s], &last)) break;
        h->v[i] = h->v[s];
        i = s;
    }
    if (m) h->v[i] = last;
    return top;
}

typedef struct {
    int32_t id, prev, next;   /* id -1: a character that is no token (text merges only) */
    uint32_t off, len;        /* its bytes in the segment */
    bool alive;
} L2Sym;

static bool l2_candidate(const Tokenizer *t, const char *s, L2Sym *sy, int32_t a, int32_t b, L2Heap *h) {
    uint32_t unused;
    int32_t id;
    if (t->spm_text_merge) {   /* llama.cpp: the two pieces' text is a token (adjacent symbols are adjacent bytes) */
        if (!strmap_get(&t->vocab, s + sy[a].off, (size_t)sy[a].len + sy[b].len, &id)) return true;
        return l2_push(h, (L2Cand){t->scores[id], a, b, sy[a].id, sy[b].id, id});
    }
    if (!pairmap_get(&t->merges, sy[a].id, sy[b].id, &unused, &id)) return true;
    float sc = t->scores[id];
    if (!(sc > -1e10f)) return true; /* llama2.c starts its search at -1e10 */
    return l2_push(h, (L2Cand){sc, a, b, sy[a].id, sy[b].id, id});
}

typedef struct {
    L2Sym *sy;
    size_t cap;
    L2Heap h;
} L2Scratch;

/* llama2.c's encode of s[0..n): characters (any byte plus up to 3 continuation bytes; with
 * first_alone the first byte -- the dummy-prefix space -- stands alone), byte fallback, then the
 * best-score merges. Appends the ids. With spm_text_merge (GGUF), llama.cpp's llm_tokenizer_spm:
 * characters by their lead byte, merged by text, and only what is left unmerged and is no token
 * falls back to bytes. */
static bool l2_segment(const Tokenizer *t, const char *s, size_t n, bool first_alone, L2Scratch *sc, int32_t **ids,
                       size_t *nids, size_t *cap) {
    if (n > sc->cap) {
        L2Sym *p = realloc(sc->sy, n * sizeof *p);
        if (!p) return false;
        sc->sy = p;
        sc->cap = n;
    }
    L2Sym *sy = sc->sy;
    size_t ns = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        if (t->spm_text_merge) {   /* llama.cpp's unicode_len_utf8 */
            k = u[i] < 0x80 ? 1 : (u[i] & 0xE0) == 0xC0 ? 2 : (u[i] & 0xF0) == 0xE0 ? 3 : (u[i] & 0xF8) == 0xF0 ? 4 : 1;
            if (k > n - i) k = n - i;
        } else if (!(first_alone && i == 0))
            while (k < 4 && i + k < n && (u[i + k] & 0xC0) == 0x80) k++;
        int32_t id;
        bool known = strmap_get(&t->vocab, s + i, k, &id);
        if (known || t->spm_text_merge) {
            if (!known) id = -1;
            int32_t at = (int32_t)ns;
            sy[ns++] = (L2Sym){id, at - 1, at + 1, (uint32_t)i, (uint32_t)k, true};
        } else {
            for (size_t j = 0; j < k; j++) {
                int32_t bid = t->byte_ids[u[i + j]];
                if (bid < 0) bid = 0;
                int32_t at = (int32_t)ns;
                sy[ns++] = (L2Sym){bid, at - 1, at + 1, (uint32_t)(i + j), 1, true};
            }
        }
        i += k;
    }
    if (ns) sy[ns - 1].next = -1;
    L2Heap *h = &sc->h;
    h->n = 0;
    for (size_t i = 0; i + 1 < ns; i++)
        if (!l2_candidate(t, s, sy, (int32_t)i, (int32_t)i + 1, h)) return false;
    while (h->n) {
        L2Cand c = l2_pop(h);
        L2Sym *a = &sy[c.left];
        if (!a->alive || a->next != c.right || !sy[c.right].alive || a->id != c.lid || sy[c.right].id != c.rid) continue;
        L2Sym *b = &sy[c.right];
        a->id = c.newid;
        a->len += b->len;
        a->next = b->next;
        b->alive = false;
        if (b->next >= 0) sy[b->next].prev = c.left;
        if (a->prev >= 0 && !l2_candidate(t, s, sy, a->prev, c.left, h)) return false;
        if (sy[c.left].next >= 0 && !l2_candidate(t, s, sy, c.left, sy[c.left].next, h)) return false;
    }
    for (size_t i = 0; i < ns; i++) {
        if (!sy[i].alive) continue;
        if (sy[i].id >= 0) { if (!ids_push(ids, nids, cap, sy[i].id)) return false; continue; }
        for (uint32_t j = 0; j < sy[i].len; j++) {   /* a character that is no token and merged with nothing */
            int32_t bid = t->byte_ids[u[sy[i].off + j]];
            if (!ids_push(ids, nids, cap, bid < 0 ? 0 : bid)) return false;
        }
    }
    return true;
}

/* One text with sentencepiece's dummy prefix: " " + text. Where no piece holds a space other than
 * at its start, merges never cross the position before a space: encode the parts between spaces
 * separately (same result as one pass) and cache repeated parts. v holds len + 1 bytes. */
static bool l2_encode_text(const Tokenizer *t, const char *text, size_t len, char *v, L2Scratch *sc, WordCache *wc,
                           int32_t **ids, size_t *nids, size_t *cap) {
    size_t p = t->spm_prefix ? 1 : 0;   /* GGUF tokenizer.ggml.add_space_prefix false: no dummy prefix */
    v[0] = ' ';
    memcpy(v + p, text, len);
    size_t n = len + p, a = 0;
    if (!n) return true;
    bool split = t->seg_len == 1 && t->seg_char[0] == ' ', ok = true;
    for (size_t i = 1; ok && i <= n; i++) {
        if (i < n && (!split || v[i] != ' ')) continue;
        size_t first = *nids;
        bool hit = false;
        if (a > 0) ok = wordcache_get(wc, v + a, i - a, ids, nids, cap, &hit);
        if (ok && !hit) {
            ok = l2_segment(t, v + a, i - a, a == 0 && p, sc, ids, nids, cap);
            if (ok && a > 0) wordcache_put(wc, v + a, i - a, *ids + first, *nids - first);
        }
        a = i;
    }
    return ok;
}

int llama2c_encode(const Tokenizer *t, const char *text, size_t len, bool add_special, int **ids_out, Err *e) {
    L2Scratch sc = {0};
    int32_t *ids = NULL;
    size_t nids = 0, cap = 0;
    char *v = malloc(len + 2);
    WordCache *wc = wordcache_new();
    bool ok = v && wc;
    for (int i = 0; ok && add_special && i < t->nprefix; i++) ok = ids_push(&ids, &nids, &cap, t->prefix_ids[i]);
    if (ok && len && t->nsp) {
        /* as llama.cpp's tokenize for sentencepiece: each text fragment gets its dummy prefix */
        GgufFrag *f = NULL;
        long nf = gguf_special_partition(t, text, len, &f);
        ok = nf >= 0;
        for (long i = 0; ok && i < nf; i++)
            ok = f[i].id >= 0 ? ids_push(&ids, &nids, &cap, f[i].id)
                              : l2_encode_text(t, text + f[i].off, f[i].len, v, &sc, wc, &ids, &nids, &cap);
        free(f);
    } else if (ok && len) ok = l2_encode_text(t, text, len, v, &sc, wc, &ids, &nids, &cap);
    for (int i = 0; ok && add_special && i < t->nsuffix; i++) ok = ids_push(&ids, &nids, &cap, t->suffix_ids[i]);
    if (ok && !ids) ok = (ids = malloc(sizeof *ids)) != NULL;
    free(v);
    free(sc.sy);
    free(sc.h.v);
    wordcache_free(wc);
    if (!ok || nids > INT32_MAX) {
        free(ids);
        err_set(e, ERR_MEMORY, "out of memory (llama2.c encode of %zu bytes)", len);
        return -1;
    }
    *ids_out = (int *)ids;
    return (int)nids;
}

/* ---- decode ----------------------------------------------------------------------------- */
/* The bytes of one piece: <0xNN> -> the byte; special pieces without their padding newlines. */
static int hexval(char c) {
    return (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

void llama2c_piece(const Tokenizer *t, int id, const char **s, size_t *n, char *one) {
    *s = tok_str(t, id, n);
    const char *p = *s;
    if (t->gguf_attr) {   /* llama.cpp's token_to_piece for sentencepiece, by the token's attributes */
        uint16_t a = t->gguf_attr[id];
        if (a & (GV_UNKNOWN | GV_CONTROL | GV_USER_DEFINED)) {
            int32_t k = t->sp_of_id[id];
            if (k >= 0) { *s = t->sp_str[k]; *n = t->sp_len[k]; }
        } else if (a & GV_BYTE) {   /* strtol of the two characters after "<0x" */
            int hi = *n > 3 ? hexval(p[3]) : -1, lo = *n > 4 ? hexval(p[4]) : -1;
            one[0] = (char)(hi < 0 ? 0 : lo < 0 ? hi : hi * 16 + lo);
            *s = one;
            *n = 1;
        } else if (!(a & GV_NORMAL)) *n = 0;   /* UNUSED, undefined: nothing */
        return;
    }
    int hi = -1, lo = -1;
    if (*n == 6 && !memcmp(p, "<0x", 3) && p[5] == '>') {
        hi = hexval(p[3]);
        lo = hexval(p[4]);
    }
    if (hi >= 0 && lo >= 0) {
        one[0] = (char)(hi * 16 + lo);
        *s = one;
        *n = 1;
        return;
    }
    if (t->id_flags[id] & 1) { /* "\n<s>\n" -> "<s>" */
        while (*n && ((*s)[0] == '\n' || (*s)[0] == ' ')) { (*s)++; (*n)--; }
        while (*n && ((*s)[*n - 1] == '\n' || (*s)[*n - 1] == ' ')) (*n)--;
    }
}

char *llama2c_decode(const Tokenizer *t, const int *ids, int n, bool skip_special, bool first_only) {
    TokBuf raw = {0}, out = {0};
    bool ok = tokbuf_reserve(&raw, 16), at_start = true;
    for (int i = 0; ok && i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->nids) continue;
        bool special = t->id_flags[id] & 1;
        /* sentencepiece drops the dummy-prefix space at the start and after BOS; llama.cpp from
         * whatever the first id shows, only where the file adds the prefix */
        bool strip = t->spm_prefix && (first_only ? i == 0 : at_start && !special);
        if (special && skip_special) {
            at_start = first_only ? false : at_start || id == t->bos_id;
            continue;
        }
        const char *s;
        size_t len;
        char one[1];
        llama2c_piece(t, id, &s, &len, one);
        if (strip && len && s[0] == ' ') { s++; len--; }
        at_start = !first_only && special && id == t->bos_id;
        ok = tokbuf_add(&raw, s, len);
    }
    ok = ok && utf8_lossy(raw.p ? raw.p : "", raw.n, &out) && tokbuf_reserve(&out, 1);
    tokbuf_free(&raw);
    if (!ok) { tokbuf_free(&out); return NULL; }
    return out.p;
}
