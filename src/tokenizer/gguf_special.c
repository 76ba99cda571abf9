/* A GGUF vocabulary's special tokens found in the text before encoding, as llama.cpp's
 * tokenizer_st_partition (llama-vocab.cpp) does for every vocabulary type (sentencepiece and
 * byte-level BPE alike):
 *  - the tokens with the attributes UNKNOWN, CONTROL or USER_DEFINED (core/gguf_vocab.h), sorted
 *    longest first (its cache_special_tokens; of equal lengths, here the lower id first);
 *  - for each of them in that order, every occurrence in every fragment still text, left to right,
 *    cuts the fragment into text, token, text. So a longer token wins over a shorter one that starts
 *    earlier ("x<ab><cd>" with tokens "<ab" and "b><cd>" gives "x<a" + "b><cd>"), unlike the
 *    leftmost-longest matching of a tokenizer.json's added tokens;
 *  - a token with LSTRIP takes the whitespace at the end of the text before it, one with RSTRIP
 *    the whitespace after it; whitespace is C's isspace in the "C" locale (space, \t \n \v \f \r),
 *    never a non-ASCII space such as U+00A0 or U+3000; a fragment left empty is no fragment. */
#include <stdlib.h>
#include <string.h>
#include "core/gguf_vocab.h"
#include "tokenizer/tok_internal.h"

static const Tokenizer *g_sort;   /* qsort has no context argument */
static int by_length(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint64_t lx = g_sort->sp_len[x], ly = g_sort->sp_len[y];
    return lx != ly ? (lx > ly ? -1 : 1) : (x > y) - (x < y);
}

bool gguf_special_build(Tokenizer *t, const GgufKV *toks, const GgufVocab *gv) {
    int32_t nt = (int32_t)toks->arr_n;
    int n = 0;
    for (int32_t i = 0; i < nt; i++)
        if ((gv->attr[i] & (GV_UNKNOWN | GV_CONTROL | GV_USER_DEFINED)) && toks->arr_strs[i].len) n++;
    if (!n) return true;
    int32_t *order = malloc(sizeof *order * (size_t)n);
    t->sp_str = calloc((size_t)n, sizeof *t->sp_str);
    t->sp_len = malloc(sizeof *t->sp_len * (size_t)n);
    t->sp_id = malloc(sizeof *t->sp_id * (size_t)n);
    if (!order || !t->sp_str || !t->sp_len || !t->sp_id) { free(order); return false; }
    for (int32_t i = 0; i < nt; i++) {
        const GgufStr *s = &toks->arr_strs[i];
        if (!(gv->attr[i] & (GV_UNKNOWN | GV_CONTROL | GV_USER_DEFINED)) || !s->len) continue;
        int k = t->nsp;
        if (!(t->sp_str[k] = malloc(s->len + 1))) { free(order); return false; }
        memcpy(t->sp_str[k], s->s, s->len);
        t->sp_str[k][s->len] = 0;
        t->sp_len[k] = (uint32_t)s->len;
        t->sp_id[k] = i;
        order[k] = k;
        t->nsp++;
    }
    g_sort = t;
    qsort(order, (size_t)n, sizeof *order, by_length);
    char **ss = malloc(sizeof *ss * (size_t)n);
    uint32_t *sl = malloc(sizeof *sl * (size_t)n);
    int32_t *si = malloc(sizeof *si * (size_t)n);
    uint8_t *st = malloc((size_t)n);
    bool ok = ss && sl && si && st;
    for (int k = 0; ok && k < n; k++) {
        ss[k] = t->sp_str[order[k]];
        sl[k] = t->sp_len[order[k]];
        si[k] = t->sp_id[order[k]];
        uint16_t a = gv->attr[si[k]];
        st[k] = (uint8_t)(((a & GV_LSTRIP) ? 1 : 0) | ((a & GV_RSTRIP) ? 2 : 0));
    }
    if (ok) {
        free(t->sp_str); free(t->sp_len); free(t->sp_id);
        t->sp_str = ss; t->sp_len = sl; t->sp_id = si; t->sp_strip = st;
    } else { free(ss); free(sl); free(si); free(st); }
    free(order);
    ok = ok && (t->sp_rep = malloc(sizeof *t->sp_rep * (size_t)n)) != NULL;
    for (int k = 0; ok && k < n; k++) ok = trie_add(&t->sp_trie, t->sp_str[k], t->sp_len[k], k);
    for (int k = 0; ok && k < n; k++) {   /* the entry the trie names for k's string */
        int32_t node = 0;
        for (uint32_t i = 0; i < t->sp_len[k]; i++) node = trie_child(&t->sp_trie, node, (unsigned char)t->sp_str[k][i]);
        t->sp_rep[k] = t->sp_trie.term[node];
    }
    return ok;
}

static bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

long gguf_special_partition(const Tokenizer *t, const char *text, size_t len, GgufFrag **out) {
    size_t n = 1, cap = 8;
    GgufFrag *f = malloc(cap * sizeof *f);
    /* which special tokens occur in the text at all (a fragment is part of the text, so no other can
     * match): one pass with the trie instead of one search of the text per special token */
    uint8_t *seen = t->sp_rep ? calloc((size_t)t->nsp, 1) : NULL;
    if (!f || (t->sp_rep && !seen)) { free(f); free(seen); return -1; }
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; seen && i < len; i++) {
        if (!t->sp_trie.first_byte[u[i]]) continue;
        int32_t node = 0;
        for (size_t j = i; j < len && (node = trie_child(&t->sp_trie, node, u[j])) >= 0; j++)
            if (t->sp_trie.term[node] >= 0) seen[t->sp_trie.term[node]] = 1;
    }
    f[0] = (GgufFrag){0, len, -1};
    for (int s = 0; s < t->nsp; s++) {
        if (seen && !seen[t->sp_rep[s]]) continue;
        const char *tok = t->sp_str[s];
        size_t tl = t->sp_len[s];
        for (size_t i = 0; i < n; i++) {
            if (f[i].id >= 0 || f[i].len < tl) continue;
            const char *base = text + f[i].off, *m = NULL;
            for (size_t k = 0; k + tl <= f[i].len; k++)
                if (base[k] == tok[0] && !memcmp(base + k, tok, tl)) { m = base + k; break; }
            if (!m) continue;
            if (n + 2 > cap) {
                GgufFrag *nf = realloc(f, (cap *= 2) * sizeof *nf);
                if (!nf) { free(f); free(seen); return -1; }
                f = nf;
            }
            /* [left text] token [right text]: the right part is searched next (i advances to it) */
            size_t mo = (size_t)(m - text), end = f[i].off + f[i].len, ll = mo - f[i].off, ro = mo + tl;
            uint8_t strip = t->sp_strip ? t->sp_strip[s] : 0;
            if (strip & 1) while (ll > 0 && c_isspace(text[f[i].off + ll - 1])) ll--;
            if (strip & 2) while (ro < end && c_isspace(text[ro])) ro++;
            size_t lefts = ll > 0, rights = ro < end, add = lefts + rights;
            memmove(f + i + 1 + add, f + i + 1, (n - i - 1) * sizeof *f);
            GgufFrag left = {f[i].off, ll, -1}, right = {ro, end - ro, -1};
            size_t j = i;
            if (lefts) f[j++] = left;
            f[j++] = (GgufFrag){mo, tl, t->sp_id[s]};
            if (rights) f[j] = right;
            n += add;
            i = j - 1;   /* loop's i++ moves to the right part (or past the token) */
        }
    }
    free(seen);
    *out = f;
    return (long)n;
}

bool gguf_special_split(const Tokenizer *t, EncCtx *cx, Piece p, PieceVec *out, Err *e) {
    if (!p.len) return true;
    GgufFrag *f = NULL;
    long nf = gguf_special_partition(t, cx->arena.p + p.off, p.len, &f);
    bool ok = nf >= 0;
    for (long i = 0; ok && i < nf; i++)
        ok = piecevec_push(out, (Piece){p.off + f[i].off, f[i].len, f[i].id, (uint8_t)(p.at_start && f[i].off == 0 && f[i].id < 0)});
    free(f);
    return ok || err_set(e, ERR_MEMORY, "out of memory");
}
