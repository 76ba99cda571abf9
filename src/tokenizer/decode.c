/* Decoders of HF tokenizer.json: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace,
 * BPEDecoder, Sequence. Each works on a list of token strings (decode_chain), as in HF; the
 * final text is their concatenation. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

void decoder_free(Decoder *d) {
    if (!d) return;
    for (int i = 0; i < d->nkids; i++) decoder_free(d->kids[i]);
    free(d->kids);
    free(d->str);
    tokregex_free(&d->re);
    free(d);
}

bool toklist_push(TokList *l, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        size_t *o = realloc(l->off, cap * sizeof *o);
        if (!o) return false;
        l->off = o;
        size_t *n = realloc(l->len, cap * sizeof *n);
        if (!n) return false;
        l->len = n;
        l->cap = cap;
    }
    l->off[l->n] = off;
    l->len[l->n] = len;
    l->n++;
    return true;
}

void toklist_free(TokList *l) {
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static bool json_size(const cJSON *j, const char *key, size_t dflt, size_t *out, const char *where, Err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v || cJSON_IsNull(v)) { *out = dflt; return true; }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9)
        return err_set(e, ERR_FORMAT, "%s.%s: expected a non-negative integer", where, key);
    *out = (size_t)v->valuedouble;
    return true;
}

Decoder *decoder_parse(const cJSON *j, const char *where, Err *e) {
    const char *type = tj_component(j, where, e);
    Decoder *d = type ? tj_calloc(1, sizeof *d, e) : NULL;
    if (!d) return NULL;
    char w[512];
    if (!strcmp(type, "Sequence")) {
        d->type = DEC_SEQUENCE;
        const cJSON *arr = tj_list(j, "decoders", where, e), *it;
        if (!arr || !(d->kids = tj_calloc((size_t)cJSON_GetArraySize(arr), sizeof *d->kids, e))) goto fail;
        cJSON_ArrayForEach(it, arr) {
            snprintf(w, sizeof w, "%s.decoders[%d]", where, d->nkids);
            if (cJSON_IsNull(it)) continue;
            Decoder *kid = decoder_parse(it, w, e);
            if (!kid) goto fail;
            d->kids[d->nkids++] = kid;
        }
    } else if (!strcmp(type, "ByteLevel")) d->type = DEC_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) d->type = DEC_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) d->type = DEC_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        d->type = DEC_METASPACE;
        if (!tj_char(j, "replacement", 0x2581, &d->ch, where, e)) goto fail;
        const char *ps = tj_str(j, "prepend_scheme");
        d->prepend_scheme = PREPEND_ALWAYS;
        if (ps && !strcmp(ps, "first")) d->prepend_scheme = PREPEND_FIRST;
        else if (ps && !strcmp(ps, "never")) d->prepend_scheme = PREPEND_NEVER;
        else if (ps && strcmp(ps, "always")) {
            err_set(e, ERR_FORMAT, "%s.prepend_scheme: unknown value \"%s\"", where, ps);
            goto fail;
        }
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space"))) d->prepend_scheme = PREPEND_NEVER;
    } else if (!strcmp(type, "Strip")) {
        d->type = DEC_STRIP;
        if (!tj_char(j, "content", ' ', &d->ch, where, e)) goto fail;
        if (!json_size(j, "start", 0, &d->start, where, e) || !json_size(j, "stop", 0, &d->stop, where, e)) goto fail;
    } else if (!strcmp(type, "Replace")) {
        d->type = DEC_REPLACE;
        const char *c = tj_str(j, "content");
        if (!c) { err_set(e, ERR_FORMAT, "%s.content: missing or not a string", where); goto fail; }
        d->slen = strlen(c);
        if (!(d->str = malloc(d->slen + 1))) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
        memcpy(d->str, c, d->slen + 1);
        if (!tj_pattern(j, "pattern", &d->re, where, e)) goto fail;
    } else if (!strcmp(type, "BPEDecoder")) {
        d->type = DEC_BPE;
        const char *c = tj_str(j, "suffix");
        if (!c) c = "</w>";
        d->slen = strlen(c);
        if (!(d->str = malloc(d->slen + 1))) { err_set(e, ERR_MEMORY, "out of memory"); goto fail; }
        memcpy(d->str, c, d->slen + 1);
    } else {
        err_set(e, ERR_UNSUPPORTED, "%s: decoder type \"%s\" is not supported", where, type);
        goto fail;
    }
    return d;
fail:
    decoder_free(d);
    return NULL;
}

/* Pushes a new string (s may point into buf). */
static bool push_new(TokBuf *buf, TokList *out, const char *s, size_t n) {
    size_t soff = (size_t)(s - buf->p);
    bool inside = buf->p && s >= buf->p && s <= buf->p + buf->n;
    if (!tokbuf_reserve(buf, n)) return false;
    if (inside) s = buf->p + soff;
    size_t off = buf->n;
    memmove(buf->p + off, s, n);
    buf->n += n;
    buf->p[buf->n] = 0;
    return toklist_push(out, off, n);
}

/* HF u8::from_str_radix(s, 16) for a 2-byte s: one optional '+' then hex digits. */
static int parse_hex2(const char *s) {
    int v = 0;
    size_t i = 0, n = 2;
    if (s[0] == '+') i = 1;
    if (i == n) return -1;
    for (; i < n; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool flush_bytes(TokBuf *buf, TokList *out, TokBuf *bytes, bool display) {
    if (!bytes->n) return true;
    bool ok;
    if (display || utf8_is_valid(bytes->p, bytes->n)) ok = push_new(buf, out, bytes->p, bytes->n);
    else {
        ok = true;
        for (size_t i = 0; ok && i < bytes->n; i++) ok = push_new(buf, out, "\xEF\xBF\xBD", 3);
    }
    bytes->n = 0;
    return ok;
}

static bool dec_one(const Decoder *d, TokBuf *buf, const TokList *in, TokList *out, bool display) {
    bool ok = true;
    switch (d->type) {
    case DEC_SEQUENCE: {
        TokList a = {0}, b = {0};
        for (size_t i = 0; ok && i < in->n; i++) ok = toklist_push(&a, in->off[i], in->len[i]);
        for (int k = 0; ok && k < d->nkids; k++) {
            b.n = 0;
            ok = dec_one(d->kids[k], buf, &a, &b, display);
            TokList t = a; a = b; b = t;
        }
        for (size_t i = 0; ok && i < a.n; i++) ok = toklist_push(out, a.off[i], a.len[i]);
        toklist_free(&a);
        toklist_free(&b);
        return ok;
    }
    case DEC_BYTELEVEL: {
        TokBuf bytes = {0};
        for (size_t i = 0; ok && i < in->n; i++) {
            const char *s = buf->p + in->off[i];
            size_t n = in->len[i], start = bytes.n;
            bool all = true;
            for (size_t j = 0; ok && j < n;) {
                size_t k;
                uint32_t cp = utf8_next(s + j, n - j, &k);
                int b = tok_cp_to_byte(cp);
                if (b < 0) { all = false; break; }
                ok = tokbuf_addc(&bytes, (char)b);
                j += k;
            }
            if (ok && !all) {
                bytes.n = start;
                ok = tokbuf_add(&bytes, buf->p + in->off[i], n);
            }
        }
        if (ok) {
            if (display) ok = push_new(buf, out, bytes.p ? bytes.p : "", bytes.n);
            else {
                TokBuf fixed = {0};
                ok = utf8_lossy(bytes.p ? bytes.p : "", bytes.n, &fixed) && push_new(buf, out, fixed.p ? fixed.p : "", fixed.n);
                tokbuf_free(&fixed);
            }
        }
        tokbuf_free(&bytes);
        return ok;
    }
    case DEC_METASPACE: {
        char rep[4];
        size_t rl = utf8_encode(d->ch, rep);
        TokBuf t = {0};
        for (size_t i = 0; ok && i < in->n; i++) {
            t.n = 0;
            const char *s = buf->p + in->off[i];
            size_t n = in->len[i];
            for (size_t j = 0; ok && j < n;) {
                if (j + rl <= n && !memcmp(s + j, rep, rl)) {
                    if (!(i == 0 && d->prepend_scheme != PREPEND_NEVER && !display)) ok = tokbuf_addc(&t, ' ');
                    j += rl;
                } else {
                    ok = tokbuf_addc(&t, s[j]);
                    j++;
                }
            }
            ok = ok && push_new(buf, out, t.p ? t.p : "", t.n);
        }
        tokbuf_free(&t);
        return ok;
    }
    case DEC_BYTEFALLBACK: {
        TokBuf bytes = {0};
        for (size_t i = 0; ok && i < in->n; i++) {
            const char *s = buf->p + in->off[i];
            size_t n = in->len[i];
            int v = -1;
            if (n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>') v = parse_hex2(s + 3);
            if (v >= 0) ok = tokbuf_addc(&bytes, (char)v);
            else ok = flush_bytes(buf, out, &bytes, display) && toklist_push(out, in->off[i], n);
        }
        ok = ok && flush_bytes(buf, out, &bytes, display);
        tokbuf_free(&bytes);
        return ok;
    }
    case DEC_FUSE: {
        TokBuf t = {0};
        for (size_t i = 0; ok && i < in->n; i++) ok = tokbuf_add(&t, buf->p + in->off[i], in->len[i]);
        ok = ok && push_new(buf, out, t.p ? t.p : "", t.n);
        tokbuf_free(&t);
        return ok;
    }
    case DEC_STRIP: {
        char c[4];
        size_t cl = utf8_encode(d->ch, c);
        for (size_t i = 0; ok && i < in->n; i++) {
            size_t a = in->off[i], n = in->len[i], b = a + n;
            if (!display) {
                for (size_t k = 0; k < d->start && b - a >= cl && !memcmp(buf->p + a, c, cl); k++) a += cl;
                for (size_t k = 0; k < d->stop && b - a >= cl && !memcmp(buf->p + b - cl, c, cl); k++) b -= cl;
            }
            ok = toklist_push(out, a, b - a);
        }
        return ok;
    }
    case DEC_REPLACE: {
        TokBuf t = {0};
        RangeVec rv = {0};
        for (size_t i = 0; ok && i < in->n; i++) {
            t.n = 0;
            rv.n = 0;
            const char *s = buf->p + in->off[i];
            size_t n = in->len[i], prev = 0;
            if (!utf8_is_valid(s, n)) { ok = toklist_push(out, in->off[i], n); continue; }
            ok = tokregex_find_all(&d->re, s, n, NULL, &rv, NULL);
            for (size_t m = 0; ok && m < rv.n; m++) {
                ok = tokbuf_add(&t, s + prev, rv.v[2 * m] - prev) && tokbuf_add(&t, d->str, d->slen);
                prev = rv.v[2 * m + 1];
            }
            ok = ok && tokbuf_add(&t, s + prev, n - prev) && push_new(buf, out, t.p ? t.p : "", t.n);
        }
        tokbuf_free(&t);
        free(rv.v);
        return ok;
    }
    case DEC_BPE: {
        TokBuf t = {0};
        for (size_t i = 0; ok && i < in->n; i++) {
            t.n = 0;
            const char *s = buf->p + in->off[i];
            size_t n = in->len[i];
            const char *rep = i + 1 == in->n ? "" : " ";
            for (size_t j = 0; ok && j < n;) {
                if (d->slen && j + d->slen <= n && !memcmp(s + j, d->str, d->slen)) {
                    ok = tokbuf_add(&t, rep, strlen(rep));
                    j += d->slen;
                } else ok = tokbuf_addc(&t, s[j++]);
            }
            ok = ok && push_new(buf, out, t.p ? t.p : "", t.n);
        }
        tokbuf_free(&t);
        return ok;
    }
    default:
        for (size_t i = 0; ok && i < in->n; i++) ok = toklist_push(out, in->off[i], in->len[i]);
        return ok;
    }
}

bool decoder_apply(const Decoder *d, TokBuf *buf, const TokList *in, TokList *out, bool display) {
    return dec_one(d, buf, in, out, display);
}
