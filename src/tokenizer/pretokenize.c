/* Pre-tokenizers of HF tokenizer.json: ByteLevel, Split, Metaspace, Digits, Whitespace,
 * WhitespaceSplit, Punctuation, BertPreTokenizer, CharDelimiterSplit, Sequence.
 * Each one splits the text pieces (never the pieces that are already added tokens) following
 * HF's SplitDelimiterBehavior rules; empty pieces are dropped as HF does. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

/* GPT-2's reversible byte -> code point map (printable Latin-1 bytes map to themselves, the
 * others to 256 + n in byte order). */
const uint16_t tok_byte_to_cp[256] = {
    256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 270, 271,
    272, 273, 274, 275, 276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 286, 287,
    288, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 289,
    290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 300, 301, 302, 303, 304, 305,
    306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321,
    322, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 323, 174, 175,
    176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
    192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207,
    208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223,
    224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255,
};

/* The inverse map, code point -> byte, for code points < 324. */
static const int16_t CP_TO_BYTE[324] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 33, 34, 35,
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
    54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,
    72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,
    90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107,
    108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125,
    126, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 161,
    162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, -1, 174, 175, 176, 177, 178, 179,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197,
    198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215,
    216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233,
    234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251,
    252, 253, 254, 255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    32, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143,
    144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173,
};

int tok_cp_to_byte(uint32_t cp) { return cp < 324 ? CP_TO_BYTE[cp] : -1; }

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

void pretok_free(PreTok *p) {
    if (!p) return;
    for (int i = 0; i < p->nkids; i++) pretok_free(p->kids[i]);
    free(p->kids);
    tokregex_free(&p->re);
    free(p);
}

static bool parse_behavior(const cJSON *j, int dflt, int *out, const char *where, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    if (!v || cJSON_IsNull(v)) { *out = dflt; return true; }
    const char *s = cJSON_IsString(v) ? v->valuestring : "";
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) { *out = i; return true; }
    return err_set(e, ERR_FORMAT, "%s.behavior: unknown split behavior \"%s\"", where, s);
}

static bool parse_prepend_scheme(const cJSON *j, int *out, const char *where, Err *e) {
    const char *ps = tj_str(j, "prepend_scheme");
    const cJSON *aps = cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space");
    *out = PREPEND_ALWAYS;
    if (ps) {
        if (!strcmp(ps, "always")) *out = PREPEND_ALWAYS;
        else if (!strcmp(ps, "first")) *out = PREPEND_FIRST;
        else if (!strcmp(ps, "never")) *out = PREPEND_NEVER;
        else return err_set(e, ERR_FORMAT, "%s.prepend_scheme: unknown value \"%s\"", where, ps);
    }
    if (cJSON_IsFalse(aps)) *out = PREPEND_NEVER;
    return true;
}

PreTok *pretok_parse(const cJSON *j, const char *where, Err *e) {
    const char *type = tj_component(j, where, e);
    PreTok *p = type ? tj_calloc(1, sizeof *p, e) : NULL;
    if (!p) return NULL;
    char w[512];
    if (!strcmp(type, "Sequence")) {
        p->type = PRE_SEQUENCE;
        const cJSON *arr = tj_list(j, "pretokenizers", where, e), *it;
        if (!arr || !(p->kids = tj_calloc((size_t)cJSON_GetArraySize(arr), sizeof *p->kids, e))) goto fail;
        cJSON_ArrayForEach(it, arr) {
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, p->nkids);
            if (cJSON_IsNull(it)) continue;
            PreTok *kid = pretok_parse(it, w, e);
            if (!kid) goto fail;
            p->kids[p->nkids++] = kid;
        }
    } else if (!strcmp(type, "ByteLevel")) {
        p->type = PRE_BYTELEVEL;
        p->add_prefix_space = tj_bool(j, "add_prefix_space", true);
        p->use_regex = tj_bool(j, "use_regex", true);
        if (p->use_regex && !tokregex_compile(&p->re, GPT2_PATTERN, strlen(GPT2_PATTERN), false, where, e)) goto fail;
    } else if (!strcmp(type, "Split")) {
        p->type = PRE_SPLIT;
        if (!tj_pattern(j, "pattern", &p->re, where, e)) goto fail;
        if (!parse_behavior(j, SPLIT_ISOLATED, &p->behavior, where, e)) goto fail;
        p->invert = tj_bool(j, "invert", false);
    } else if (!strcmp(type, "Metaspace")) {
        p->type = PRE_METASPACE;
        if (!tj_char(j, "replacement", 0x2581, &p->replacement, where, e)) goto fail;
        if (!parse_prepend_scheme(j, &p->prepend_scheme, where, e)) goto fail;
        p->split = tj_bool(j, "split", true);
    } else if (!strcmp(type, "Digits")) {
        p->type = PRE_DIGITS;
        p->individual_digits = tj_bool(j, "individual_digits", false);
    } else if (!strcmp(type, "Whitespace")) p->type = PRE_WHITESPACE;
    else if (!strcmp(type, "WhitespaceSplit")) p->type = PRE_WHITESPACE_SPLIT;
    else if (!strcmp(type, "BertPreTokenizer")) p->type = PRE_BERT;
    else if (!strcmp(type, "Punctuation")) {
        p->type = PRE_PUNCTUATION;
        if (!parse_behavior(j, SPLIT_ISOLATED, &p->behavior, where, e)) goto fail;
    } else if (!strcmp(type, "CharDelimiterSplit")) {
        p->type = PRE_CHAR_DELIMITER;
        if (!tj_char(j, "delimiter", ' ', &p->replacement, where, e)) goto fail;
    } else {
        err_set(e, ERR_UNSUPPORTED, "%s: pre-tokenizer type \"%s\" is not supported", where, type);
        goto fail;
    }
    return p;
fail:
    pretok_free(p);
    return NULL;
}

/* ---- splitting ------------------------------------------------------------------------- */
static bool seg_push(EncCtx *cx, size_t *ns, size_t a, size_t b, int m) {
    if (*ns == cx->segcap) {
        size_t cap = cx->segcap ? cx->segcap * 2 : 256;
        Seg *s = realloc(cx->segs, cap * sizeof *s);
        if (!s) return false;
        cx->segs = s;
        cx->segcap = cap;
    }
    cx->segs[(*ns)++] = (Seg){a, b, m};
    return true;
}

/* Applies the behavior to cx->segs[0..ns) (covering the piece) and pushes the kept, non-empty
 * parts of piece p to out. */
static bool emit_segments(EncCtx *cx, const Piece *p, size_t ns, int behavior, PieceVec *out) {
    Seg *s = cx->segs;
    size_t lo = 0, hi = 0; /* result in s[lo..hi) */
    switch (behavior) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < ns; i++) s[i].m = 0;
        hi = ns;
        break;
    case SPLIT_REMOVED:
        hi = ns;
        break;
    case SPLIT_CONTIGUOUS: {
        int prev = 0;
        for (size_t r = 0; r < ns; r++) {
            int m = s[r].m;
            if (m == prev && hi > 0) s[hi - 1].b = s[r].b;
            else s[hi++] = (Seg){s[r].a, s[r].b, 0};
            prev = m;
        }
        break;
    }
    case SPLIT_MERGED_PREV: {
        int prev = 0;
        for (size_t r = 0; r < ns; r++) {
            int m = s[r].m;
            if (m && !prev && hi > 0) s[hi - 1].b = s[r].b;
            else s[hi++] = (Seg){s[r].a, s[r].b, 0};
            prev = m;
        }
        break;
    }
    case SPLIT_MERGED_NEXT: {
        int prev = 0;
        size_t w = ns;
        for (size_t r = ns; r-- > 0;) {
            int m = s[r].m;
            if (m && !prev && w < ns) s[w].a = s[r].a;
            else { Seg t = {s[r].a, s[r].b, 0}; s[--w] = t; }
            prev = m;
        }
        lo = w;
        hi = ns;
        break;
    }
    }
    for (size_t i = lo; i < hi; i++) {
        if (s[i].m || s[i].b <= s[i].a) continue;
        Piece q = {p->off + s[i].a, s[i].b - s[i].a, -1, (uint8_t)(p->at_start && s[i].a == 0)};
        if (!piecevec_push(out, q)) return false;
    }
    return true;
}

/* Segments from regex matches (HF Pattern for a regex), flags inverted when invert. */
static bool split_regex(EncCtx *cx, const Piece *p, const TokRegex *re, bool invert, int behavior, PieceVec *out,
                        Err *e) {
    const char *str = cx->arena.p + p->off;
    cx->ranges.n = 0;
    if (!tokregex_find_all(re, str, p->len, cx->md, &cx->ranges, e)) return false;
    size_t ns = 0, prev = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < cx->ranges.n; i++) {
        size_t a = cx->ranges.v[2 * i], b = cx->ranges.v[2 * i + 1];
        if (a < prev) continue;
        if (prev != a) ok = seg_push(cx, &ns, prev, a, invert);
        ok = ok && seg_push(cx, &ns, a, b, !invert);
        prev = b;
    }
    if (ok && prev != p->len) ok = seg_push(cx, &ns, prev, p->len, invert);
    if (!ok || !emit_segments(cx, p, ns, behavior, out)) return err_set(e, ERR_MEMORY, "out of memory (pre-tokenizer)");
    return true;
}

typedef bool (*CharPred)(uint32_t c, uint32_t arg);
static bool pred_numeric(uint32_t c, uint32_t arg) { (void)arg; return uni_is_numeric(c); }
static bool pred_space(uint32_t c, uint32_t arg) { (void)arg; return uni_is_whitespace(c); }
static bool pred_punct(uint32_t c, uint32_t arg) { (void)arg; return uni_is_punct(c); }
static bool pred_char(uint32_t c, uint32_t arg) { return c == arg; }

/* Segments from a char predicate (HF Pattern for Fn(char) -> bool): each matching char alone. */
static bool split_pred(EncCtx *cx, const Piece *p, CharPred f, uint32_t arg, int behavior, PieceVec *out, Err *e) {
    const char *str = cx->arena.p + p->off;
    size_t n = p->len, ns = 0, last = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < n;) {
        size_t k;
        uint32_t c = utf8_next(str + i, n - i, &k);
        if (f(c, arg)) {
            if (last < i) ok = seg_push(cx, &ns, last, i, 0);
            ok = ok && seg_push(cx, &ns, i, i + k, 1);
            last = i + k;
        }
        i += k;
    }
    if (ok && last < n) ok = seg_push(cx, &ns, last, n, 0);
    if (!ok || !emit_segments(cx, p, ns, behavior, out)) return err_set(e, ERR_MEMORY, "out of memory (pre-tokenizer)");
    return true;
}

/* Rust regex `\w+|[^\w\s]+` kept, the rest removed (Whitespace pre-tokenizer). */
static bool split_whitespace(EncCtx *cx, const Piece *p, PieceVec *out, Err *e) {
    const char *str = cx->arena.p + p->off;
    size_t n = p->len, i = 0;
    while (i < n) {
        size_t k;
        uint32_t c = utf8_next(str + i, n - i, &k);
        int cls = uni_is_word(c) ? 1 : uni_is_whitespace(c) ? 0 : 2;
        if (!cls) { i += k; continue; }
        size_t a = i;
        i += k;
        while (i < n) {
            uint32_t d = utf8_next(str + i, n - i, &k);
            int cl2 = uni_is_word(d) ? 1 : uni_is_whitespace(d) ? 0 : 2;
            if (cl2 != cls) break;
            i += k;
        }
        Piece q = {p->off + a, i - a, -1, (uint8_t)(p->at_start && a == 0)};
        if (!piecevec_push(out, q)) return err_set(e, ERR_MEMORY, "out of memory (pre-tokenizer)");
    }
    return true;
}

/* ByteLevel: optional prefix space, optional GPT-2 regex split, then bytes -> chars. */
static bool pre_bytelevel(const PreTok *pt, EncCtx *cx, const Piece *p0, PieceVec *out, Err *e) {
    Piece p = *p0;
    if (pt->add_prefix_space && p.len && cx->arena.p[p.off] != ' ') {
        if (!tokbuf_reserve(&cx->arena, p.len + 1)) return err_set(e, ERR_MEMORY, "out of memory");
        size_t off = cx->arena.n;
        cx->arena.p[off] = ' ';
        memcpy(cx->arena.p + off + 1, cx->arena.p + p.off, p.len);
        cx->arena.n += p.len + 1;
        p.off = off;
        p.len += 1;
    }
    size_t first = out->n;
    if (pt->use_regex) {
        if (!split_regex(cx, &p, &pt->re, false, SPLIT_ISOLATED, out, e)) return false;
    } else if (!piecevec_push(out, p)) return err_set(e, ERR_MEMORY, "out of memory");
    for (size_t i = first; i < out->n; i++) {
        Piece *q = &out->v[i];
        if (!tokbuf_reserve(&cx->arena, 2 * q->len)) return err_set(e, ERR_MEMORY, "out of memory");
        const unsigned char *src = (const unsigned char *)cx->arena.p + q->off;
        char *dst = cx->arena.p + cx->arena.n;
        size_t k = 0;
        for (size_t j = 0; j < q->len; j++) {
            uint32_t cp = tok_byte_to_cp[src[j]];
            if (cp < 0x80) dst[k++] = (char)cp;
            else { dst[k++] = (char)(0xC0 | (cp >> 6)); dst[k++] = (char)(0x80 | (cp & 0x3F)); }
        }
        q->off = cx->arena.n;
        q->len = k;
        cx->arena.n += k;
    }
    return true;
}

static bool pre_metaspace(const PreTok *pt, EncCtx *cx, const Piece *p0, PieceVec *out, Err *e) {
    char rep[4];
    size_t rl = utf8_encode(pt->replacement, rep);
    size_t n = p0->len;
    /* worst case: every byte a space, plus the prefix */
    if (!tokbuf_reserve(&cx->arena, (n + 1) * rl)) return err_set(e, ERR_MEMORY, "out of memory");
    const char *src = cx->arena.p + p0->off;
    char *dst = cx->arena.p + cx->arena.n;
    size_t k = 0;
    bool starts = n >= rl && memcmp(src, rep, rl) == 0;
    if (!starts && n && src[0] == ' ') starts = true; /* the space becomes the replacement */
    bool prepend = pt->prepend_scheme == PREPEND_ALWAYS || (pt->prepend_scheme == PREPEND_FIRST && p0->at_start);
    if (prepend && !starts && n) { memcpy(dst, rep, rl); k += rl; }
    for (size_t i = 0; i < n; i++) {
        if (src[i] == ' ') { memcpy(dst + k, rep, rl); k += rl; }
        else dst[k++] = src[i];
    }
    Piece q = {cx->arena.n, k, -1, p0->at_start};
    cx->arena.n += k;
    if (!pt->split) return piecevec_push(out, q) || err_set(e, ERR_MEMORY, "out of memory");
    return split_pred(cx, &q, pred_char, pt->replacement, SPLIT_MERGED_NEXT, out, e);
}

static bool pre_one(const PreTok *pt, EncCtx *cx, const Piece *p, PieceVec *out, Err *e) {
    switch (pt->type) {
    case PRE_BYTELEVEL: return pre_bytelevel(pt, cx, p, out, e);
    case PRE_SPLIT: return split_regex(cx, p, &pt->re, pt->invert, pt->behavior, out, e);
    case PRE_METASPACE: return pre_metaspace(pt, cx, p, out, e);
    case PRE_DIGITS:
        return split_pred(cx, p, pred_numeric, 0, pt->individual_digits ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS, out, e);
    case PRE_WHITESPACE: return split_whitespace(cx, p, out, e);
    case PRE_WHITESPACE_SPLIT: return split_pred(cx, p, pred_space, 0, SPLIT_REMOVED, out, e);
    case PRE_PUNCTUATION: return split_pred(cx, p, pred_punct, 0, pt->behavior, out, e);
    case PRE_CHAR_DELIMITER: return split_pred(cx, p, pred_char, pt->replacement, SPLIT_REMOVED, out, e);
    default: return err_set(e, ERR_UNSUPPORTED, "pre-tokenizer %d not handled", pt->type);
    }
}

bool pretok_apply(const PreTok *pt, EncCtx *cx, const PieceVec *in, PieceVec *out, Err *e) {
    if (pt->type == PRE_SEQUENCE || pt->type == PRE_BERT) {
        PieceVec a = {0}, b = {0};
        bool ok = true;
        for (size_t i = 0; ok && i < in->n; i++) ok = piecevec_push(&a, in->v[i]);
        if (!ok) { free(a.v); return err_set(e, ERR_MEMORY, "out of memory"); }
        if (pt->type == PRE_BERT) {
            for (size_t i = 0; ok && i < a.n; i++)
                ok = a.v[i].id >= 0 ? piecevec_push(&b, a.v[i]) : split_pred(cx, &a.v[i], pred_space, 0, SPLIT_REMOVED, &b, e);
            for (size_t i = 0; ok && i < b.n; i++)
                ok = b.v[i].id >= 0 ? piecevec_push(out, b.v[i]) : split_pred(cx, &b.v[i], pred_punct, 0, SPLIT_ISOLATED, out, e);
            free(a.v);
            free(b.v);
            return ok || (e && e->code) || err_set(e, ERR_MEMORY, "out of memory");
        }
        for (int k = 0; ok && k < pt->nkids; k++) {
            b.n = 0;
            ok = pretok_apply(pt->kids[k], cx, &a, &b, e);
            PieceVec t = a; a = b; b = t;
        }
        for (size_t i = 0; ok && i < a.n; i++) ok = piecevec_push(out, a.v[i]);
        free(a.v);
        free(b.v);
        return ok || (e && e->code) || err_set(e, ERR_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < in->n; i++) {
        const Piece *p = &in->v[i];
        if (p->id >= 0 || p->len == 0) {
            if (p->id >= 0 && !piecevec_push(out, *p)) return err_set(e, ERR_MEMORY, "out of memory");
            continue;
        }
        Piece copy = *p; /* out may alias nothing, but the arena may move */
        if (!pre_one(pt, cx, &copy, out, e)) return false;
    }
    return true;
}
