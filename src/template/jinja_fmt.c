/* Python's printf-style formatting (`'%s: %5.2f' % (a, x)`, and jinja2's |format filter, which
 * is `value % args`) and the less common jinja2 filters (groupby, slice, truncate, urlencode,
 * filesizeformat, xmlattr). Behaviour follows CPython 3 and jinja2 3.1's filters.py. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "template/jinja_int.h"

/* ------------------------------------------------------------------ printf-style */

typedef struct { bool minus, plus, space, alt, zero; int64_t width, prec; } Spec;

static void pad_out(J *j, Buf *b, const Spec *sp, const char *sign, const char *body, size_t blen, bool numeric) {
    size_t cps = u8_len(body, blen) + strlen(sign);
    size_t w = sp->width > 0 ? (size_t)sp->width : 0;
    size_t pad = w > cps ? w - cps : 0;
    if (sp->minus) {
        buf_puts(j, b, sign);
        buf_put(j, b, body, blen);
        for (size_t k = 0; k < pad; k++) buf_putc(j, b, ' ');
    } else if (sp->zero && numeric) {
        buf_puts(j, b, sign);
        for (size_t k = 0; k < pad; k++) buf_putc(j, b, '0');
        buf_put(j, b, body, blen);
    } else {
        for (size_t k = 0; k < pad; k++) buf_putc(j, b, ' ');
        buf_puts(j, b, sign);
        buf_put(j, b, body, blen);
    }
}

/* repr() with non-ASCII escaped, as ascii() */
static void ascii_repr(J *j, Buf *b, Val v) {
    Buf r = {0};
    val_repr(j, &r, v);
    for (size_t i = 0; i < r.n;) {
        uint32_t c = u8_dec(r.p, r.n, &i);
        char t[16];
        if (c < 0x80) buf_putc(j, b, (char)c);
        else {
            if (c < 0x100) snprintf(t, sizeof t, "\\x%02x", c);
            else if (c < 0x10000) snprintf(t, sizeof t, "\\u%04x", c);
            else snprintf(t, sizeof t, "\\U%08x", c);
            buf_puts(j, b, t);
        }
    }
}

static void fmt_one(J *j, Buf *b, Spec *sp, char conv, Val x) {
    char body[512];
    const char *sign = "";
    if (conv == 's' || conv == 'r' || conv == 'a') {
        Buf s = {0};
        if (conv == 's') val_str(j, &s, x);
        else if (conv == 'r') val_repr(j, &s, x);
        else ascii_repr(j, &s, x);
        size_t n = s.n;
        if (sp->prec >= 0) {  /* precision counts code points */
            size_t i = 0;
            for (int64_t k = 0; k < sp->prec && i < s.n; k++) u8_dec(s.p, s.n, &i);
            n = i;
        }
        pad_out(j, b, sp, "", s.p ? s.p : "", n, false);
        return;
    }
    if (conv == 'c') {
        Buf s = {0};
        if (x.t == V_STR && u8_len(x.u.s->p, x.u.s->n) == 1) buf_put(j, &s, x.u.s->p, x.u.s->n);
        else if (x.t == V_INT && x.u.i >= 0 && x.u.i <= 0x10FFFF) u8_put(j, &s, (uint32_t)x.u.i);
        else jfailv(j, "%%c requires an int or a unicode character, not %s", type_name(x));
        pad_out(j, b, sp, "", s.p, s.n, false);
        return;
    }
    if (x.t != V_INT && x.t != V_BOOL && x.t != V_FLOAT) {
        if (strchr("diu", conv)) jfailv(j, "%%%c format: a real number is required, not %s", conv, type_name(x));
        if (strchr("oxX", conv)) jfailv(j, "%%%c format: an integer is required, not %s", conv, type_name(x));
        jfailv(j, "must be real number, not %s", type_name(x));
    }
    if (strchr("diuoxX", conv)) {
        int64_t v;
        if (x.t == V_FLOAT) {
            if (strchr("oxX", conv)) jfailv(j, "%%%c format: an integer is required, not float", conv);
            if (!isfinite(x.u.f)) jfailv(j, "cannot convert float %s to integer", isnan(x.u.f) ? "NaN" : "infinity");
            if (fabs(x.u.f) >= 9.2e18) jfailv(j, "integer overflow");
            v = (int64_t)x.u.f;
        } else v = x.t == V_INT ? x.u.i : x.u.b;
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char digits[80];
        const char *pre = "";
        if (conv == 'o') { snprintf(digits, sizeof digits, "%llo", (unsigned long long)mag); if (sp->alt) pre = "0o"; }
        else if (conv == 'x') { snprintf(digits, sizeof digits, "%llx", (unsigned long long)mag); if (sp->alt) pre = "0x"; }
        else if (conv == 'X') { snprintf(digits, sizeof digits, "%llX", (unsigned long long)mag); if (sp->alt) pre = "0X"; }
        else snprintf(digits, sizeof digits, "%llu", (unsigned long long)mag);
        size_t nd = strlen(digits);
        int64_t zeros = sp->prec > (int64_t)nd ? sp->prec - (int64_t)nd : 0;
        if (zeros > 400) zeros = 400;
        snprintf(body, sizeof body, "%s%.*s%s", pre, (int)zeros,
                 "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
                 digits);
        sign = v < 0 ? "-" : sp->plus ? "+" : sp->space ? " " : "";
        /* Python puts a 0x prefix before zero padding: '%#06x' % 255 == '0x00ff' */
        if (*pre && sp->zero && !sp->minus) {
            Buf sg = {0};
            buf_puts(j, &sg, sign);
            buf_puts(j, &sg, pre);
            buf_putc(j, &sg, 0);
            pad_out(j, b, sp, sg.p, body + strlen(pre), strlen(body + strlen(pre)), true);
            return;
        }
        pad_out(j, b, sp, sign, body, strlen(body), true);
        return;
    }
    /* e E f F g G */
    double f = x.t == V_FLOAT ? x.u.f : (double)(x.t == V_INT ? x.u.i : x.u.b);
    int prec = sp->prec < 0 ? 6 : sp->prec > 300 ? 300 : (int)sp->prec;
    char cf[8] = "%#.*e";
    cf[4] = conv;
    const char *fmt = sp->alt ? cf : cf + 0;
    if (!sp->alt) { memmove(cf + 1, cf + 2, 4); fmt = cf; }
    double mag = fabs(f);
    if (isnan(f)) snprintf(body, sizeof body, "%s", strchr("EFG", conv) ? "NAN" : "nan");
    else if (isinf(f)) snprintf(body, sizeof body, "%s", strchr("EFG", conv) ? "INF" : "inf");
    else if (mag >= 1e50 && (conv == 'f' || conv == 'F')) jfailv(j, "%%f of a number above 1e50 is not supported");
    else snprintf(body, sizeof body, fmt, prec, mag);
    sign = signbit(f) && !isnan(f) ? "-" : sp->plus ? "+" : sp->space ? " " : "";
    pad_out(j, b, sp, sign, body, strlen(body), isfinite(f));
}

Val py_percent(J *j, const Str *fmt, Val args) {
    bool tuple = args.t == V_LIST && args.u.l->tuple;
    bool mapping = args.t == V_DICT || args.t == V_NS;
    size_t ai = 0, nargs = tuple ? args.u.l->n : 1;
    bool used_map = false;
    Buf b = {0};
    const char *p = fmt->p;
    size_t n = fmt->n;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') { buf_putc(j, &b, p[i]); continue; }
        if (++i >= n) jfailv(j, "incomplete format");
        Spec sp = {.prec = -1};
        Val x = v_undef(NULL);
        bool have = false;
        if (p[i] == '(') {
            size_t st = ++i;
            int depth = 1;
            while (i < n && depth) { if (p[i] == '(') depth++; else if (p[i] == ')') depth--; if (depth) i++; }
            if (i >= n) jfailv(j, "incomplete format key");
            if (!mapping) jfailv(j, "format requires a mapping");
            Val *got = dict_gets(args.u.d, p + st, i - st);
            if (!got) jfailv(j, "KeyError: '%.*s'", (int)(i - st), p + st);
            x = *got;
            have = used_map = true;
            i++;
        }
        for (; i < n && strchr("-+ #0", p[i]); i++) {
            if (p[i] == '-') sp.minus = true;
            else if (p[i] == '+') sp.plus = true;
            else if (p[i] == ' ') sp.space = true;
            else if (p[i] == '#') sp.alt = true;
            else sp.zero = true;
        }
        for (int part = 0; part < 2; part++) {
            int64_t *dst = part ? &sp.prec : &sp.width;
            if (part) { if (i < n && p[i] == '.') { i++; sp.prec = 0; } else break; }
            if (i < n && p[i] == '*') {
                if (!tuple || ai >= nargs) jfailv(j, "not enough arguments for format string");
                Val w = args.u.l->v[ai++];
                if (w.t != V_INT) jfailv(j, "* wants int");
                *dst = w.u.i;
                if (!part && *dst < 0) { sp.minus = true; *dst = -*dst; }
                i++;
            } else {
                while (i < n && p[i] >= '0' && p[i] <= '9') {
                    *dst = *dst * 10 + (p[i] - '0');
                    if (*dst > 100000) jfailv(j, "width or precision too big");
                    i++;
                }
            }
        }
        if (sp.width > 100000) jfailv(j, "width too big");
        while (i < n && (p[i] == 'l' || p[i] == 'h' || p[i] == 'L')) i++;
        if (i >= n) jfailv(j, "incomplete format");
        char conv = p[i];
        if (conv == '%') { buf_putc(j, &b, '%'); continue; }
        if (!strchr("diuoxXeEfFgGcrsa", conv))
            jfailv(j, "unsupported format character '%c' (0x%x) at index %zu", conv, (unsigned)(unsigned char)conv, i);
        if (!have) {
            if (ai >= nargs) jfailv(j, "not enough arguments for format string");
            x = tuple ? args.u.l->v[ai] : args;
            ai++;
        }
        fmt_one(j, &b, &sp, conv, x);
    }
    if (!used_map && !mapping && ai < nargs) jfailv(j, "not all arguments converted during string formatting");
    return v_strn(j, b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------------ filters */

static Val group_key(J *j, Val item, Val attr, Val dflt) {
    if (attr.t == V_INT) return get_item(j, item, attr);
    Val k = attr_path(j, item, attr.u.s);
    if (k.t == V_UNDEF && dflt.t != V_UNDEF) k = dflt;
    return k;
}

/* groupby(attribute, default=None, case_sensitive=False): sorted by the key, then grouped;
 * each group a (grouper, list) tuple whose fields are also .grouper and .list */
static Val do_groupby(J *j, Val v, const Args *a) {
    Val attr = arg_get(a, 0, "attribute", v_undef(NULL));
    if (attr.t != V_STR && attr.t != V_INT) jfailv(j, "groupby: missing the attribute name");
    Val dflt = arg_get(a, 1, "default", v_undef(NULL));
    bool cs = truthy(j, arg_get(a, 2, "case_sensitive", v_bool(false)));
    Val it = make_iterable(j, v);
    size_t n = it.u.l->n;
    Val *keys = jalloc(j, (n + 1) * sizeof(Val)), *items = jalloc(j, (n + 1) * sizeof(Val));
    for (size_t i = 0; i < n; i++) {
        step(j);
        items[i] = it.u.l->v[i];
        keys[i] = group_key(j, items[i], attr, dflt);
        if (!cs && keys[i].t == V_STR) keys[i] = py_case(j, keys[i].u.s, 0);
    }
    /* stable insertion sort by key (n is small in templates; steps bound it) */
    for (size_t i = 1; i < n; i++) {
        Val k = keys[i], x = items[i];
        size_t q = i;
        while (q > 0 && val_cmp(j, keys[q - 1], k, false) > 0) { step(j); keys[q] = keys[q - 1]; items[q] = items[q - 1]; q--; }
        keys[q] = k;
        items[q] = x;
    }
    Val out = v_list(j, 0, false);
    out.u.l->v = jalloc(j, (n + 1) * sizeof(Val));
    for (size_t i = 0; i < n;) {
        size_t e = i + 1;
        while (e < n && val_eq(j, keys[e], keys[i])) e++;
        Val lst = v_list(j, e - i, false);
        for (size_t k = i; k < e; k++) lst.u.l->v[k - i] = items[k];
        Val grouper = cs ? keys[i] : group_key(j, items[i], attr, dflt);
        Val tup = v_list(j, 2, true);
        tup.u.l->group = true;
        tup.u.l->v[0] = grouper;
        tup.u.l->v[1] = lst;
        out.u.l->v[out.u.l->n++] = tup;
        i = e;
    }
    return out;
}

static Val do_slice(J *j, Val v, const Args *a) {
    Val it = make_iterable(j, v);
    int64_t slices = arg_int(j, a, 0, "slices", 0, "slice");
    if (slices <= 0) jfailv(j, "slice: the number of slices must be positive");
    if (slices > 100000) jfailv(j, "slice: too many slices");
    Val fill = arg_get(a, 1, "fill_with", v_none());
    bool has_fill = fill.t != V_NONE && fill.t != V_UNDEF;
    size_t n = it.u.l->n, per = n / (size_t)slices, extra = n % (size_t)slices, off = 0;
    Val out = v_list(j, (size_t)slices, false);
    for (size_t s = 0; s < (size_t)slices; s++) {
        size_t st = s * per + off;
        if (s < extra) off++;
        size_t en = (s + 1) * per + off;
        bool add = has_fill && s >= extra;
        Val row = v_list(j, en - st + (add ? 1 : 0), false);
        for (size_t k = st; k < en; k++) row.u.l->v[k - st] = it.u.l->v[k];
        if (add) row.u.l->v[en - st] = fill;
        out.u.l->v[s] = row;
    }
    return out;
}

/* truncate(length=255, killwords=False, end='...', leeway=5: jinja2's default policy) */
static Val do_truncate(J *j, Val v, const Args *a) {
    Str *s = to_str(j, v);
    int64_t length = arg_int(j, a, 0, "length", 255, "truncate");
    bool kill = truthy(j, arg_get(a, 1, "killwords", v_bool(false)));
    const Str *end = arg_str(j, a, 2, "end", "...", "truncate");
    int64_t leeway = arg_int(j, a, 3, "leeway", 5, "truncate");
    size_t n;
    uint32_t *u = u32_of(j, s, &n);
    size_t endn = u8_len(end->p, end->n);
    if (length < (int64_t)endn) jfailv(j, "expected length >= %zu, got %lld", endn, (long long)length);
    if (leeway < 0) jfailv(j, "expected leeway >= 0, got %lld", (long long)leeway);
    if ((int64_t)n <= length + leeway) return v_str(s);
    size_t keep = (size_t)length - endn;
    Buf b = {0};
    if (kill) {
        for (size_t i = 0; i < keep; i++) u8_put(j, &b, u[i]);
    } else {
        /* s[:keep].rsplit(' ', 1)[0] */
        size_t cut = keep;
        size_t sp = keep;
        while (sp > 0 && u[sp - 1] != ' ') sp--;
        if (sp > 0) cut = sp - 1;
        for (size_t i = 0; i < cut; i++) u8_put(j, &b, u[i]);
    }
    buf_put(j, &b, end->p, end->n);
    return v_strn(j, b.p, b.n);
}

static void url_quote(J *j, Buf *b, Val v, bool for_qs) {
    Str *s = to_str(j, v);
    for (size_t i = 0; i < s->n; i++) {
        unsigned char c = (unsigned char)s->p[i];
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
                    c == '~' || (!for_qs && c == '/');
        if (safe) buf_putc(j, b, (char)c);
        else if (for_qs && c == ' ') buf_putc(j, b, '+');
        else { char t[4]; snprintf(t, sizeof t, "%%%02X", c); buf_puts(j, b, t); }
    }
}

static Val do_urlencode(J *j, Val v) {
    Buf b = {0};
    if (v.t == V_STR) { url_quote(j, &b, v, false); return v_strn(j, b.p ? b.p : "", b.n); }
    Val pairs = v.t == V_DICT ? pairs_of_dict(j, v.u.d) : make_iterable(j, v);
    for (size_t i = 0; i < pairs.u.l->n; i++) {
        Val kv = make_iterable(j, pairs.u.l->v[i]);
        if (kv.u.l->n != 2) jfailv(j, "urlencode: expected (key, value) pairs");
        if (i) buf_putc(j, &b, '&');
        url_quote(j, &b, kv.u.l->v[0], true);
        buf_putc(j, &b, '=');
        url_quote(j, &b, kv.u.l->v[1], true);
    }
    return v_strn(j, b.p ? b.p : "", b.n);
}

static Val do_filesizeformat(J *j, Val v, const Args *a) {
    bool binary = truthy(j, arg_get(a, 0, "binary", v_bool(false)));
    Val fv = to_float(j, v, v_float(0.0));
    double bytes = fv.u.f, base = binary ? 1024 : 1000;
    static const char *const dec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    static const char *const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    char t[64];
    if (bytes == 1) return v_strz(j, "1 Byte");
    if (bytes < base) { snprintf(t, sizeof t, "%d Bytes", (int)bytes); return v_strz(j, t); }
    for (int i = 0; i < 8; i++) {
        double unit = pow(base, i + 2);
        if (bytes < unit || i == 7) {
            snprintf(t, sizeof t, "%.1f %s", base * bytes / unit, binary ? bin[i] : dec[i]);
            return v_strz(j, t);
        }
    }
    return v_strz(j, "");
}

static Val do_xmlattr(J *j, Val v, const Args *a) {
    bool autospace = truthy(j, arg_get(a, 0, "autospace", v_bool(true)));
    if (v.t != V_DICT) jfailv(j, "xmlattr: expected a mapping, got %s", type_name(v));
    Buf b = {0};
    for (size_t i = 0; i < v.u.d->n; i++) {
        Val val = v.u.d->v[i];
        if (val.t == V_NONE || val.t == V_UNDEF) continue;
        Str *k = to_str(j, v.u.d->k[i]);
        for (size_t q = 0; q < k->n; q++)
            if (strchr(" />=\t\n\f", k->p[q])) jfailv(j, "Invalid character in attribute name: '%.*s'", (int)k->n, k->p);
        if (b.n) buf_putc(j, &b, ' ');
        Val ek = html_escape(j, v_str(k)), ev = html_escape(j, val);
        buf_put(j, &b, ek.u.s->p, ek.u.s->n);
        buf_puts(j, &b, "=\"");
        buf_put(j, &b, ev.u.s->p, ev.u.s->n);
        buf_putc(j, &b, '"');
    }
    if (autospace && b.n) {
        Buf o = {0};
        buf_putc(j, &o, ' ');
        buf_put(j, &o, b.p, b.n);
        return v_strn(j, o.p, o.n);
    }
    return v_strn(j, b.p ? b.p : "", b.n);
}

/* the filters above; false when name is none of them */
bool apply_filter_more(J *j, const char *name, Val v, const Args *a, Val *out) {
    if (!strcmp(name, "groupby")) *out = do_groupby(j, v, a);
    else if (!strcmp(name, "slice")) *out = do_slice(j, v, a);
    else if (!strcmp(name, "truncate")) *out = do_truncate(j, v, a);
    else if (!strcmp(name, "urlencode")) *out = do_urlencode(j, v);
    else if (!strcmp(name, "filesizeformat")) *out = do_filesizeformat(j, v, a);
    else if (!strcmp(name, "xmlattr")) *out = do_xmlattr(j, v, a);
    else return false;
    return true;
}
