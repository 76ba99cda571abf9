/* Normalizers of HF tokenizer.json: NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace, Strip,
 * StripAccents, BertNormalizer, Nmt, ByteLevel, Sequence. Unicode data from utf8proc. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "tokenizer/tok_internal.h"

void normalizer_free(Normalizer *n) {
    if (!n) return;
    for (int i = 0; i < n->nkids; i++) normalizer_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    tokregex_free(&n->re);
    free(n);
}

static char *dup_str(const char *s, size_t *len) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    if (len) *len = n;
    return d;
}

Normalizer *normalizer_parse(const cJSON *j, const char *where, Err *e) {
    const char *type = tj_component(j, where, e);
    Normalizer *n = type ? tj_calloc(1, sizeof *n, e) : NULL;
    if (!n) return NULL;
    char w[512];
    if (!strcmp(type, "Sequence")) {
        n->type = NORM_SEQUENCE;
        const cJSON *arr = tj_list(j, "normalizers", where, e), *it;
        if (!arr || !(n->kids = tj_calloc((size_t)cJSON_GetArraySize(arr), sizeof *n->kids, e))) goto fail;
        cJSON_ArrayForEach(it, arr) {
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, n->nkids);
            if (cJSON_IsNull(it)) continue;
            Normalizer *kid = normalizer_parse(it, w, e);
            if (!kid) goto fail;
            n->kids[n->nkids++] = kid;
        }
    } else if (!strcmp(type, "NFC")) n->type = NORM_NFC;
    else if (!strcmp(type, "NFD")) n->type = NORM_NFD;
    else if (!strcmp(type, "NFKC")) n->type = NORM_NFKC;
    else if (!strcmp(type, "NFKD")) n->type = NORM_NFKD;
    else if (!strcmp(type, "Lowercase")) n->type = NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents")) n->type = NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "Nmt")) n->type = NORM_NMT;
    else if (!strcmp(type, "ByteLevel")) n->type = NORM_BYTELEVEL;
    else if (!strcmp(type, "Prepend")) {
        n->type = NORM_PREPEND;
        const char *p = tj_str(j, "prepend");
        if (!p) { err_set(e, ERR_FORMAT, "%s.prepend: missing or not a string", where); goto fail; }
        if (!(n->str = dup_str(p, &n->slen))) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
    } else if (!strcmp(type, "Replace")) {
        n->type = NORM_REPLACE;
        const char *c = tj_str(j, "content");
        if (!c) { err_set(e, ERR_FORMAT, "%s.content: missing or not a string", where); goto fail; }
        if (!(n->str = dup_str(c, &n->slen))) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
        if (!tj_pattern(j, "pattern", &n->re, where, e)) goto fail;
    } else if (!strcmp(type, "Strip")) {
        n->type = NORM_STRIP;
        n->left = tj_bool(j, "strip_left", true);
        n->right = tj_bool(j, "strip_right", true);
    } else if (!strcmp(type, "BertNormalizer")) {
        n->type = NORM_BERT;
        n->clean_text = tj_bool(j, "clean_text", true);
        n->chinese = tj_bool(j, "handle_chinese_chars", true);
        n->lowercase = tj_bool(j, "lowercase", true);
        n->strip_accents = tj_bool(j, "strip_accents", n->lowercase);
    } else if (!strcmp(type, "Precompiled")) {
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(j, "precompiled_charsmap");
        if (pc && !cJSON_IsNull(pc) && !(cJSON_IsString(pc) && !pc->valuestring[0])) {
            err_set(e, ERR_UNSUPPORTED, "%s: normalizer \"Precompiled\" (a sentencepiece charsmap) is not supported", where);
            goto fail;
        }
        n->type = NORM_SEQUENCE; /* empty map: identity */
    } else {
        err_set(e, ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", where, type);
        goto fail;
    }
    return n;
fail:
    normalizer_free(n);
    return NULL;
}

/* ---- application ------------------------------------------------------------------------ */
static bool norm_unicode(int type, const char *s, size_t n, TokBuf *out, Err *e) {
    if (!n) return true;
    int opts = UTF8PROC_STABLE;
    switch (type) {
    case NORM_NFC: opts |= UTF8PROC_COMPOSE; break;
    case NORM_NFD: opts |= UTF8PROC_DECOMPOSE; break;
    case NORM_NFKC: opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    /* ASCII characters are starters that no canonical or compatibility composition takes as
     * its second element, and they are invariant: the text can be normalized in chunks that
     * each start at an ASCII character (or the text start) and carry the following non-ASCII
     * run. Pure ASCII stretches are copied as they are. */
    size_t i = 0;
    while (i < n) {
        size_t a = i;
        while (i < n && (unsigned char)s[i] < 0x80) i++;
        if (i == n) return tokbuf_add(out, s + a, n - a) || err_set(e, ERR_MEMORY, "out of memory");
        size_t cs = i > a ? i - 1 : i; /* the ASCII character before the run joins it */
        if (cs > a && !tokbuf_add(out, s + a, cs - a)) return err_set(e, ERR_MEMORY, "out of memory");
        while (i < n && (unsigned char)s[i] >= 0x80) i++;
        utf8proc_uint8_t *dst = NULL;
        utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s + cs, (utf8proc_ssize_t)(i - cs), &dst,
                                          (utf8proc_option_t)opts);
        if (r < 0) {
            free(dst);
            return err_set(e, ERR_FORMAT, "unicode normalization failed: %s", utf8proc_errmsg(r));
        }
        bool ok = tokbuf_add(out, dst, (size_t)r);
        free(dst);
        if (!ok) return err_set(e, ERR_MEMORY, "out of memory");
    }
    return true;
}

static bool add_lower(TokBuf *out, uint32_t c) {
    if (c == 0x130) return tokbuf_add(out, "i\xCC\x87", 3); /* İ -> i + U+0307 (SpecialCasing) */
    return tokbuf_add_cp(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
}

static bool is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool norm_bert(const Normalizer *nz, const char *s, size_t n, TokBuf *out, Err *e) {
    TokBuf a = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < n;) {
        size_t k;
        uint32_t c = utf8_next(s + i, n - i, &k);
        i += k;
        if (nz->clean_text) {
            int cat = uni_category(c);
            bool ws = c == '\t' || c == '\n' || c == '\r' || uni_is_whitespace(c);
            bool ctrl = !(c == '\t' || c == '\n' || c == '\r') &&
                        (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CN ||
                         cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS);
            if (c == 0 || c == 0xFFFD || ctrl) continue;
            if (ws) c = ' ';
        }
        if (nz->chinese && is_chinese_char(c)) ok = tokbuf_addc(&a, ' ') && tokbuf_add_cp(&a, c) && tokbuf_addc(&a, ' ');
        else ok = tokbuf_add_cp(&a, c);
    }
    if (ok && nz->strip_accents) {
        TokBuf d = {0};
        ok = norm_unicode(NORM_NFD, a.p ? a.p : "", a.n, &d, e);
        a.n = 0;
        for (size_t i = 0; ok && i < d.n;) {
            size_t k;
            uint32_t c = utf8_next(d.p + i, d.n - i, &k);
            if (uni_category(c) != UTF8PROC_CATEGORY_MN) ok = tokbuf_add(&a, d.p + i, k);
            i += k;
        }
        tokbuf_free(&d);
    }
    for (size_t i = 0; ok && i < a.n;) {
        size_t k;
        uint32_t c = utf8_next(a.p + i, a.n - i, &k);
        ok = nz->lowercase ? add_lower(out, c) : tokbuf_add(out, a.p + i, k);
        i += k;
    }
    tokbuf_free(&a);
    return ok || (e && e->code) || err_set(e, ERR_MEMORY, "out of memory");
}

static bool norm_one(const Normalizer *nz, const char *s, size_t n, TokBuf *out, EncCtx *cx, Err *e) {
    out->n = 0;
    if (out->p) out->p[0] = 0;
    bool ok = true;
    switch (nz->type) {
    case NORM_SEQUENCE: {
        TokBuf a = {0}, b = {0};
        ok = tokbuf_add(&a, s, n);
        for (int i = 0; ok && i < nz->nkids; i++) {
            ok = norm_one(nz->kids[i], a.p ? a.p : "", a.n, &b, cx, e);
            TokBuf t = a; a = b; b = t;
        }
        if (ok) ok = tokbuf_add(out, a.p ? a.p : "", a.n);
        tokbuf_free(&a);
        tokbuf_free(&b);
        break;
    }
    case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD:
        return norm_unicode(nz->type, s, n, out, e);
    case NORM_LOWERCASE:
        ok = tokbuf_reserve(out, n);
        for (size_t i = 0; ok && i < n;) {
            unsigned char c0 = (unsigned char)s[i];
            if (c0 < 0x80) { ok = tokbuf_addc(out, (char)(c0 >= 'A' && c0 <= 'Z' ? c0 + 32 : c0)); i++; continue; }
            size_t k;
            uint32_t c = utf8_next(s + i, n - i, &k);
            ok = add_lower(out, c);
            i += k;
        }
        break;
    case NORM_PREPEND:
        if (n) ok = tokbuf_add(out, nz->str, nz->slen);
        ok = ok && tokbuf_add(out, s, n);
        break;
    case NORM_REPLACE: {
        RangeVec rv = {0};
        ok = tokregex_find_all(&nz->re, s, n, cx ? cx->md : NULL, &rv, e);
        size_t prev = 0;
        for (size_t i = 0; ok && i < rv.n; i++) {
            size_t a = rv.v[2 * i], b = rv.v[2 * i + 1];
            ok = tokbuf_add(out, s + prev, a - prev) && tokbuf_add(out, nz->str, nz->slen);
            prev = b;
        }
        if (ok) ok = tokbuf_add(out, s + prev, n - prev);
        free(rv.v);
        if (!ok && e && e->code) return false;
        break;
    }
    case NORM_STRIP: {
        size_t a = 0, b = n;
        if (nz->left)
            while (a < b) {
                size_t k;
                uint32_t c = utf8_next(s + a, b - a, &k);
                if (!uni_is_whitespace(c)) break;
                a += k;
            }
        if (nz->right)
            while (b > a) {
                size_t st = b - 1;
                while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80) st--;
                size_t k;
                uint32_t c = utf8_next(s + st, b - st, &k);
                if (!uni_is_whitespace(c)) break;
                b = st;
            }
        ok = tokbuf_add(out, s + a, b - a);
        break;
    }
    case NORM_STRIP_ACCENTS:
        for (size_t i = 0; ok && i < n;) {
            size_t k;
            uint32_t c = utf8_next(s + i, n - i, &k);
            int cat = uni_category(c);
            if (!(cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME))
                ok = tokbuf_add(out, s + i, k);
            i += k;
        }
        break;
    case NORM_BERT:
        return norm_bert(nz, s, n, out, e);
    case NORM_NMT:
        for (size_t i = 0; ok && i < n;) {
            size_t k;
            uint32_t c = utf8_next(s + i, n - i, &k);
            i += k;
            if ((c >= 1 && c <= 8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F)
                continue;
            if (c == 9 || c == 10 || c == 12 || c == 13 || c == 0x1680 || (c >= 0x200B && c <= 0x200F) || c == 0x2028 ||
                c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD)
                c = ' ';
            ok = tokbuf_add_cp(out, c);
        }
        break;
    case NORM_BYTELEVEL:
        for (size_t i = 0; ok && i < n; i++) ok = tokbuf_add_cp(out, tok_byte_to_cp[(unsigned char)s[i]]);
        break;
    default:
        break;
    }
    return ok || err_set(e, ERR_MEMORY, "out of memory (normalizer)");
}

bool normalizer_apply(const Normalizer *nz, const char *s, size_t n, TokBuf *out, EncCtx *cx, Err *e) {
    if (!nz) {
        out->n = 0;
        return tokbuf_add(out, s, n) || err_set(e, ERR_MEMORY, "out of memory");
    }
    if (!tokbuf_reserve(out, n)) return err_set(e, ERR_MEMORY, "out of memory");
    return norm_one(nz, s ? s : "", n, out, cx, e);
}
