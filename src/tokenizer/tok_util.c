/* Tokenizer utilities: buffers, hash maps, UTF-8/Unicode helpers, the PCRE2 regex wrapper. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/tok_internal.h"

/* ---- TokBuf ------------------------------------------------------------------------------ */
bool tokbuf_reserve(TokBuf *b, size_t extra) {
    if (b->cap - b->n > extra) return true;
    size_t need = b->n + extra + 1;
    if (need < b->n) return false;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
    return true;
}

bool tokbuf_add(TokBuf *b, const void *s, size_t n) {
    if (!tokbuf_reserve(b, n)) return false;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

bool tokbuf_addc(TokBuf *b, char c) { return tokbuf_add(b, &c, 1); }

bool tokbuf_add_cp(TokBuf *b, uint32_t cp) {
    char u[4];
    size_t k = utf8_encode(cp, u);
    return tokbuf_add(b, u, k);
}

void tokbuf_free(TokBuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

bool piecevec_push(PieceVec *pv, Piece p) {
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 64;
        Piece *v = realloc(pv->v, cap * sizeof *v);
        if (!v) return false;
        pv->v = v;
        pv->cap = cap;
    }
    pv->v[pv->n++] = p;
    return true;
}

bool rangevec_push(RangeVec *r, size_t a, size_t b) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        size_t *v = realloc(r->v, cap * 2 * sizeof *v);
        if (!v) return false;
        r->v = v;
        r->cap = cap;
    }
    r->v[2 * r->n] = a;
    r->v[2 * r->n + 1] = b;
    r->n++;
    return true;
}

/* ---- hashing ----------------------------------------------------------------------------- */
uint32_t tok_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* ---- StrMap ------------------------------------------------------------------------------ */
static size_t pow2_at_least(size_t x) {
    size_t p = 16;
    while (p < x) p *= 2;
    return p;
}

bool strmap_init(StrMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->nslots = pow2_at_least(expected * 2 + 16);
    m->slots = malloc(m->nslots * sizeof *m->slots);
    if (!m->slots) return false;
    memset(m->slots, 0xff, m->nslots * sizeof *m->slots);
    return true;
}

void strmap_free(StrMap *m) {
    free(m->slots);
    free(m->entries);
    tokbuf_free(&m->arena);
    memset(m, 0, sizeof *m);
}

long strmap_find(const StrMap *m, const char *k, size_t n) {
    if (!m->nslots) return -1;
    uint32_t h = tok_hash(k, n);
    size_t mask = m->nslots - 1, i = h & mask;
    for (;;) {
        int32_t ix = m->slots[i];
        if (ix < 0) return -1;
        const StrMapEntry *en = &m->entries[ix];
        if (en->hash == h && en->len == n && memcmp(m->arena.p + en->off, k, n) == 0) return ix;
        i = (i + 1) & mask;
    }
}

static bool strmap_grow(StrMap *m) {
    size_t ns = m->nslots * 2;
    int32_t *slots = malloc(ns * sizeof *slots);
    if (!slots) return false;
    memset(slots, 0xff, ns * sizeof *slots);
    for (size_t e = 0; e < m->n; e++) {
        size_t i = m->entries[e].hash & (ns - 1);
        while (slots[i] >= 0) i = (i + 1) & (ns - 1);
        slots[i] = (int32_t)e;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    return true;
}

long strmap_put(StrMap *m, const char *k, size_t n, int32_t val, bool overwrite, bool *existed) {
    if (existed) *existed = false;
    if (!m->nslots && !strmap_init(m, 16)) return -1;
    if (n > UINT32_MAX || m->arena.n + n > UINT32_MAX || m->n >= INT32_MAX - 1) return -1;
    long f = strmap_find(m, k, n);
    if (f >= 0) {
        if (existed) *existed = true;
        if (overwrite) m->entries[f].val = val;
        return f;
    }
    if ((m->n + 1) * 2 > m->nslots && !strmap_grow(m)) return -1;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        StrMapEntry *en = realloc(m->entries, cap * sizeof *en);
        if (!en) return -1;
        m->entries = en;
        m->cap = cap;
    }
    uint32_t off = (uint32_t)m->arena.n;
    if (!tokbuf_add(&m->arena, k, n) || !tokbuf_addc(&m->arena, 0)) return -1;
    uint32_t h = tok_hash(k, n);
    StrMapEntry *en = &m->entries[m->n];
    en->off = off;
    en->len = (uint32_t)n;
    en->hash = h;
    en->val = val;
    size_t mask = m->nslots - 1, i = h & mask;
    while (m->slots[i] >= 0) i = (i + 1) & mask;
    m->slots[i] = (int32_t)m->n;
    return (long)m->n++;
}

/* ---- PairMap ----------------------------------------------------------------------------- */
bool pairmap_init(PairMap *m, size_t expected) {
    memset(m, 0, sizeof *m);
    m->nslots = pow2_at_least(expected * 2 + 16);
    m->keys = malloc(m->nslots * sizeof *m->keys);
    m->rank = malloc(m->nslots * sizeof *m->rank);
    m->newid = malloc(m->nslots * sizeof *m->newid);
    if (!m->keys || !m->rank || !m->newid) {
        pairmap_free(m);
        return false;
    }
    memset(m->keys, 0xff, m->nslots * sizeof *m->keys);
    return true;
}

void pairmap_free(PairMap *m) {
    free(m->keys);
    free(m->rank);
    free(m->newid);
    memset(m, 0, sizeof *m);
}

static bool pairmap_grow(PairMap *m) {
    PairMap g;
    if (!pairmap_init(&g, m->nslots)) return false; /* 2x the slots */
    for (size_t i = 0; i < m->nslots; i++)
        if (m->keys[i] != UINT64_MAX)
            pairmap_put(&g, (int32_t)(m->keys[i] >> 32), (int32_t)(uint32_t)m->keys[i], m->rank[i], m->newid[i]);
    pairmap_free(m);
    *m = g;
    return true;
}

bool pairmap_put(PairMap *m, int32_t a, int32_t b, uint32_t rank, int32_t newid) {
    if ((m->n + 1) * 2 > m->nslots && !pairmap_grow(m)) return false;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t mask = m->nslots - 1, i = (size_t)pairmap_hash(key) & mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] == UINT64_MAX) m->n++;
    m->keys[i] = key;
    m->rank[i] = rank;
    m->newid[i] = newid;
    return true;
}

/* ---- UTF-8 ------------------------------------------------------------------------------- */
uint32_t utf8_next(const char *s, size_t n, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char c = u[0];
    if (c < 0x80 || n < 2) { *len = 1; return c; }
    if (c < 0xE0) { *len = 2; return ((uint32_t)(c & 0x1F) << 6) | (u[1] & 0x3F); }
    if (c < 0xF0 || n < 4) {
        if (n < 3) { *len = 1; return c; }
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
           (u[3] & 0x3F);
}

size_t utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF) cp = 0xFFFD;
    if (cp < 0x10000) return utf8_encode(cp, out);
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Number of bytes of s that form a prefix of a valid sequence (max 3 for a 4-byte lead), and
 * the full length the lead byte announces. */
static size_t utf8_seq_info(const unsigned char *s, size_t n, size_t *want) {
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) { *want = 1; return 1; }
    if (c >= 0xC2 && c <= 0xDF) *want = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        *want = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *want = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else { *want = 0; return 0; }
    size_t k = 1;
    if (k < n && s[k] >= lo && s[k] <= hi) k++;
    else return 1;
    while (k < *want && k < n && (s[k] & 0xC0) == 0x80) k++;
    return k;
}

size_t utf8_valid_len(const unsigned char *s, size_t n) {
    if (!n) return 0;
    size_t want, k = utf8_seq_info(s, n, &want);
    return (want && k == want) ? k : 0;
}

bool utf8_is_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t k = utf8_valid_len(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

bool utf8_lossy(const char *s, size_t n, TokBuf *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        if (u[i] < 0x80) { i++; continue; }
        size_t want, k = utf8_seq_info(u + i, n - i, &want);
        if (want && k == want) { i += k; continue; }
        if (!tokbuf_add(out, s + run, i - run) || !tokbuf_add(out, "\xEF\xBF\xBD", 3)) return false;
        i += k ? k : 1;
        run = i;
    }
    return tokbuf_add(out, s + run, n - run);
}

/* ---- Unicode classes ----------------------------------------------------------------------- */
int uni_category(uint32_t c) { return (int)utf8proc_category((utf8proc_int32_t)c); }

bool uni_is_whitespace(uint32_t c) {
    if (c < 0x80) return (c >= 9 && c <= 13) || c == 32;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool uni_is_numeric(uint32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    int k = uni_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool uni_is_word(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (c == 0x200C || c == 0x200D) return true;
    /* Other_Alphabetic code points that are not marks (circled/squared Latin letters). */
    if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
        (c >= 0x1F170 && c <= 0x1F189))
        return true;
    int k = uni_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ND) || k == UTF8PROC_CATEGORY_NL ||
           k == UTF8PROC_CATEGORY_PC;
}

bool uni_is_punct(uint32_t c) {
    if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    int k = uni_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* ---- regex --------------------------------------------------------------------------------- */
/* Oniguruma's (Ruby syntax) \s is White_Space without U+180E; PCRE2's UCP \s also has U+180E.
 * \h in Ruby is a hex digit, in PCRE2 horizontal space. Rewrite those escapes. */
#define ONIG_SPACE_ITEMS "\\t-\\r\\x20\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define ONIG_HEX_ITEMS "0-9a-fA-F"

static bool translate_pattern(const char *p, size_t n, TokBuf *out) {
    bool in_class = false;
    size_t class_start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            const char *items = NULL;
            bool neg = false;
            if (d == 's' || d == 'S') { items = ONIG_SPACE_ITEMS; neg = d == 'S'; }
            else if (d == 'h' || d == 'H') { items = ONIG_HEX_ITEMS; neg = d == 'H'; }
            if (items && !(in_class && neg)) {
                bool ok = in_class ? tokbuf_add(out, items, strlen(items))
                                   : (tokbuf_add(out, neg ? "[^" : "[", neg ? 2 : 1) && tokbuf_add(out, items, strlen(items)) &&
                                      tokbuf_addc(out, ']'));
                if (!ok) return false;
                i++;
                continue;
            }
            if (d == 'Q') { /* quoted run up to \E */
                size_t j = i + 2;
                while (j < n && !(p[j] == '\\' && j + 1 < n && p[j + 1] == 'E')) j++;
                size_t end = j < n ? j + 2 : n;
                if (!tokbuf_add(out, p + i, end - i)) return false;
                i = end - 1;
                continue;
            }
            if (!tokbuf_add(out, p + i, 2)) return false;
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            if (!tokbuf_addc(out, c)) return false;
            class_start = i + 1;
            if (class_start < n && p[class_start] == '^') {
                if (!tokbuf_addc(out, '^')) return false;
                i++;
                class_start++;
            }
            if (class_start < n && p[class_start] == ']') { /* literal ] first in class */
                if (!tokbuf_addc(out, ']')) return false;
                i++;
            }
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
            size_t j = i + 2;
            while (j + 1 < n && !(p[j] == ':' && p[j + 1] == ']')) j++;
            size_t end = j + 1 < n ? j + 2 : n;
            if (!tokbuf_add(out, p + i, end - i)) return false;
            i = end - 1;
            continue;
        }
        if (in_class && c == ']') in_class = false;
        if (!tokbuf_addc(out, c)) return false;
    }
    return true;
}

bool tokregex_compile(TokRegex *r, const char *pat, size_t n, bool literal, const char *where, Err *e) {
    memset(r, 0, sizeof *r);
    TokBuf b = {0};
    bool ok;
    if (literal) {
        ok = tokbuf_reserve(&b, 2 * n + 1);
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)pat[i];
            if (c == 0) ok = tokbuf_add(&b, "\\x00", 4);
            else if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
                ok = tokbuf_addc(&b, '\\') && tokbuf_addc(&b, (char)c);
            else ok = tokbuf_addc(&b, (char)c);
        }
    } else {
        ok = tokbuf_reserve(&b, n + 16) && translate_pattern(pat, n, &b);
    }
    if (!ok) { tokbuf_free(&b); return err_set(e, ERR_MEMORY, "%s: out of memory", where); }
    if (!utf8_is_valid(pat, n)) {
        tokbuf_free(&b);
        return err_set(e, ERR_FORMAT, "%s: pattern is not valid UTF-8", where);
    }
    int errcode;
    PCRE2_SIZE erroff;
    r->code = pcre2_compile((PCRE2_SPTR)(b.p ? b.p : ""), b.n, PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE,
                            &errcode, &erroff, NULL);
    tokbuf_free(&b);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof msg);
        return err_set(e, ERR_FORMAT, "%s: regex /%.200s/ does not compile with PCRE2: %s (at %zu)", where, pat,
                       (const char *)msg, (size_t)erroff);
    }
    /* JIT code confuses valgrind (reads it cannot follow); the interpreter gives the same matches. */
    static const char *const nojit[] = {"LLMSCOPE_NO_JIT", "LLMSCOPE_VALGRIND"};
    bool use_jit = true;
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(nojit[i]);
        if (v && *v && strcmp(v, "0")) use_jit = false;
    }
    r->jit = use_jit && pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    return true;
}

void tokregex_free(TokRegex *r) {
    if (r->code) pcre2_code_free(r->code);
    r->code = NULL;
}

bool tokregex_find_all(const TokRegex *r, const char *s, size_t n, pcre2_match_data *md, RangeVec *out, Err *e) {
    if (!r->code) return true;
    pcre2_match_data *own = NULL;
    if (!md) {
        md = own = pcre2_match_data_create(16, NULL);
        if (!md) return err_set(e, ERR_MEMORY, "out of memory (regex match data)");
    }
    size_t last_end = 0, last_match_end = 0;
    bool have_last = false, ok = true;
    PCRE2_SPTR subj = (PCRE2_SPTR)(s ? s : "");
    while (last_end <= n) {
        int rc = pcre2_match(r->code, subj, n, last_end, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && r->jit)
            rc = pcre2_match(r->code, subj, n, last_end, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            ok = err_set(e, ERR_FORMAT, "regex match failed: %s", (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > me || me > n) { /* \K games: treat as no further matches */
            break;
        }
        if (me == ms && have_last && last_match_end == me) {
            if (last_end >= n) break;
            size_t k = utf8_valid_len((const unsigned char *)s + last_end, n - last_end);
            last_end += k ? k : 1;
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = true;
        if (!rangevec_push(out, ms, me)) { ok = err_set(e, ERR_MEMORY, "out of memory (regex matches)"); break; }
    }
    if (own) pcre2_match_data_free(own);
    return ok;
}

/* ---- JSON helpers -------------------------------------------------------------------------- */
#include <cjson/cJSON.h>
#include <stdio.h>

const char *tj_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool tj_bool(const cJSON *o, const char *key, bool dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

const char *tj_type(const cJSON *o) { return tj_str(o, "type"); }

const char *tj_component(const cJSON *o, const char *where, Err *e) {
    if (!cJSON_IsObject(o)) {
        err_set(e, ERR_FORMAT, "%s: expected an object", where);
        return NULL;
    }
    const char *type = tj_type(o);
    if (!type) err_set(e, ERR_FORMAT, "%s: missing \"type\"", where);
    return type;
}

const cJSON *tj_list(const cJSON *o, const char *key, const char *where, Err *e) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsArray(a)) return a;
    err_set(e, ERR_FORMAT, "%s.%s: missing or not an array", where, key);
    return NULL;
}

void *tj_calloc(size_t n, size_t size, Err *e) {
    void *p = calloc(n ? n : 1, size);
    if (!p) err_set(e, ERR_MEMORY, "out of memory");
    return p;
}

bool tj_char(const cJSON *o, const char *key, uint32_t dflt, uint32_t *out, const char *where, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return true; }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return err_set(e, ERR_FORMAT, "%s.%s: expected a one-character string", where, key);
    size_t n = strlen(v->valuestring), k;
    if (!utf8_is_valid(v->valuestring, n)) return err_set(e, ERR_FORMAT, "%s.%s: not valid UTF-8", where, key);
    uint32_t c = utf8_next(v->valuestring, n, &k);
    if (k != n) return err_set(e, ERR_FORMAT, "%s.%s: \"%s\" is more than one character", where, key, v->valuestring);
    *out = c;
    return true;
}

bool tj_pattern(const cJSON *o, const char *key, TokRegex *r, const char *where, Err *e) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, key);
    char w[512];
    snprintf(w, sizeof w, "%s.%s", where, key);
    if (cJSON_IsString(p)) /* tolerate a bare string: a literal */
        return tokregex_compile(r, p->valuestring, strlen(p->valuestring), true, w, e);
    if (!cJSON_IsObject(p)) return err_set(e, ERR_FORMAT, "%s: missing or not an object {\"String\"|\"Regex\": ...}", w);
    const char *s = tj_str(p, "String");
    if (s) return tokregex_compile(r, s, strlen(s), true, w, e);
    s = tj_str(p, "Regex");
    if (s) return tokregex_compile(r, s, strlen(s), false, w, e);
    return err_set(e, ERR_FORMAT, "%s: expected {\"String\": ...} or {\"Regex\": ...}", w);
}
