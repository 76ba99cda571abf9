/* jinja2 3.1's filters and tests (filters.py, tests.py) as chat templates use them. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "template/jinja_int.h"

/* ------------------------------------------------------------------ filters */

static const char *const FILTERS[] = {"abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort",
    "e", "escape", "first", "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", "forceescape", "striptags", "truncate", "groupby", "slice",
    "urlencode", "filesizeformat", "xmlattr", "wordwrap", "pprint", "random", "urlize", NULL};
static const char *const TESTS[] = {"boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even",
    "false", "filter", "float", "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lower", "lessthan", "lt",
    "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=", NULL};

bool filter_exists(const char *name) { return in_names(FILTERS, name); }
bool test_exists(const char *name) { return in_names(TESTS, name); }

Val html_escape(J *j, Val v) {
    Str *s = to_str(j, v);
    Buf b = {0};
    for (size_t i = 0; i < s->n; i++) {
        switch (s->p[i]) {
        case '&': buf_puts(j, &b, "&amp;"); break;
        case '<': buf_puts(j, &b, "&lt;"); break;
        case '>': buf_puts(j, &b, "&gt;"); break;
        case '"': buf_puts(j, &b, "&#34;"); break;
        case '\'': buf_puts(j, &b, "&#39;"); break;
        default: buf_putc(j, &b, s->p[i]);
        }
    }
    return v_strn(j, b.p ? b.p : "", b.n);
}

/* getattr for filters (attribute="a.b" and integer parts like "0") */
Val attr_path(J *j, Val v, const Str *path) {
    size_t st = 0;
    for (size_t i = 0; i <= path->n; i++) {
        if (i < path->n && path->p[i] != '.') continue;
        const char *part = path->p + st;
        size_t pn = i - st;
        bool digits = pn > 0;
        for (size_t k = 0; k < pn; k++) if (part[k] < '0' || part[k] > '9') digits = false;
        if (digits) v = get_item(j, v, v_int(strtoll(jstr(j, part, pn)->p, NULL, 10)));
        else v = get_item(j, v, v_strn(j, part, pn));
        st = i + 1;
    }
    return v;
}

static void sort_vals(J *j, Val *v, size_t n, bool reverse, bool cs, const Str *attr) {
    /* merge sort: stable like Python's sort */
    if (n < 2) return;
    Val *tmp = jalloc(j, n * sizeof(Val)), *keys = jalloc(j, n * sizeof(Val)), *ktmp = jalloc(j, n * sizeof(Val));
    for (size_t i = 0; i < n; i++) keys[i] = attr ? attr_path(j, v[i], attr) : v[i];
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                int c = val_cmp(j, keys[b], keys[a], !cs);
                bool take_b = reverse ? c > 0 : c < 0;
                if (take_b) { tmp[k] = v[b]; ktmp[k++] = keys[b++]; } else { tmp[k] = v[a]; ktmp[k++] = keys[a++]; }
                step(j);
            }
            while (a < mid) { tmp[k] = v[a]; ktmp[k++] = keys[a++]; }
            while (b < hi) { tmp[k] = v[b]; ktmp[k++] = keys[b++]; }
        }
        memcpy(v, tmp, n * sizeof(Val));
        memcpy(keys, ktmp, n * sizeof(Val));
    }
}

static Val list_from(J *j, Val *items, size_t n) {
    Val l = v_list(j, n, false);
    if (n) memcpy(l.u.l->v, items, n * sizeof(Val));
    return l;
}

static Args args_shift(const Args *a, int k) {
    Args r = *a;
    if (!r.pos) { r.npos = 0; return r; }
    if (r.npos >= k) { r.pos += k; r.npos -= k; } else { r.pos += r.npos; r.npos = 0; }
    return r;
}

static Val select_like(J *j, Val v, const Args *a, bool by_attr, bool select) {
    Val it = make_iterable(j, v);
    Val *out = jalloc(j, (it.u.l->n + 1) * sizeof(Val));
    size_t n = 0;
    const Str *attr = NULL;
    int skip = 0;
    if (by_attr) {
        Val at = arg_get(a, 0, NULL, v_undef(NULL));
        if (at.t != V_STR) jfailv(j, "%s: missing the attribute name", select ? "selectattr" : "rejectattr");
        attr = at.u.s;
        skip = 1;
    }
    Val tn = arg_get(a, skip, NULL, v_undef(NULL));
    Args rest = args_shift(a, skip + 1);
    rest.nkw = 0;
    if (tn.t != V_UNDEF && tn.t != V_STR) jfailv(j, "select: the test name must be a string");
    if (tn.t == V_STR && !test_exists(tn.u.s->p)) jfailv(j, "No test named '%s'.", tn.u.s->p);
    for (size_t i = 0; i < it.u.l->n; i++) {
        Val x = it.u.l->v[i];
        Val y = attr ? attr_path(j, x, attr) : x;
        bool ok = tn.t == V_STR ? apply_test(j, tn.u.s->p, y, &rest) : truthy(j, y);
        if (ok == select) out[n++] = x;
        step(j);
    }
    return list_from(j, out, n);
}

static Val do_round(J *j, Val v, int64_t prec, const char *method) {
    if (v.t != V_INT && v.t != V_FLOAT && v.t != V_BOOL) jfailv(j, "round: expected a number, got %s", type_name(v));
    if (prec < -300 || prec > 300) jfailv(j, "round: precision out of range");
    if (!strcmp(method, "common")) {
        if (v.t != V_FLOAT) return v_int(v.t == V_INT ? v.u.i : v.u.b);
        double x = v.u.f;
        if (!isfinite(x)) return v;
        if (prec >= 0) {
            char tmp[400];
            snprintf(tmp, sizeof tmp, "%.*f", (int)prec, x);   /* exact decimal, half to even: Python's round */
            return v_float(strtod(tmp, NULL));
        }
        double p10 = pow(10.0, (double)-prec);
        return v_float(rint(x / p10) * p10);
    }
    if (strcmp(method, "ceil") && strcmp(method, "floor")) jfailv(j, "method must be common, ceil or floor");
    double x = num_f(v), p10 = pow(10.0, (double)prec);
    double r = method[0] == 'c' ? ceil(x * p10) / p10 : floor(x * p10) / p10;
    return v_float(r);
}

Val to_int(J *j, Val v, Val dflt, int64_t base) {
    switch (v.t) {
    case V_INT: return v;
    case V_BOOL: return v_int(v.u.b);
    case V_FLOAT:
        if (!isfinite(v.u.f) || fabs(v.u.f) > 9.2e18) return dflt;
        return v_int((int64_t)v.u.f);
    case V_STR: {
        Val t = py_strip(j, v.u.s, NULL, 3);
        const char *p = t.u.s->p;
        char *end;
        if (*p) {
            long long x = strtoll(p, &end, (int)base);
            if (*end == 0) return v_int(x);
            double f = strtod(p, &end);
            if (*end == 0 && isfinite(f) && fabs(f) < 9.2e18) return v_int((int64_t)f);
        }
        return dflt;
    }
    default: return dflt;
    }
}

Val to_float(J *j, Val v, Val dflt) {
    switch (v.t) {
    case V_INT: return v_float((double)v.u.i);
    case V_BOOL: return v_float(v.u.b);
    case V_FLOAT: return v;
    case V_STR: {
        Val t = py_strip(j, v.u.s, NULL, 3);
        char *end;
        double f = strtod(t.u.s->p, &end);
        if (t.u.s->n && *end == 0) return v_float(f);
        return dflt;
    }
    default: return dflt;
    }
}

Val apply_filter(J *j, const char *name, Val v, const Args *a) {
    if (!strcmp(name, "default") || !strcmp(name, "d")) {
        Val dv = arg_get(a, 0, "default_value", v_strz(j, ""));
        bool boolean = truthy(j, arg_get(a, 1, "boolean", v_bool(false)));
        if (v.t == V_UNDEF || (boolean && !truthy(j, v))) return dv;
        return v;
    }
    if (!strcmp(name, "length") || !strcmp(name, "count")) return v_int((int64_t)val_len(j, v));
    if (!strcmp(name, "string")) return v_str(to_str(j, v));
    if (!strcmp(name, "safe")) return v;
    if (!strcmp(name, "list")) {
        Val it = make_iterable(j, v);
        return list_from(j, it.u.l->v, it.u.l->n);
    }
    if (!strcmp(name, "items")) {
        if (v.t == V_UNDEF) return v_list(j, 0, false);
        if (v.t != V_DICT) jfailv(j, "Can only get item pairs from a mapping.");
        return pairs_of_dict(j, v.u.d);
    }
    if (!strcmp(name, "tojson")) {
        Val ind = arg_get(a, -1, "indent", v_none());
        Val sk = arg_get(a, -1, "sort_keys", v_bool(false));
        Val sep = arg_get(a, -1, "separators", v_none());
        Val ea = arg_get(a, -1, "ensure_ascii", v_bool(false));
        if (a->npos > 0) jfailv(j, "tojson() takes only keyword arguments (indent=, separators=, sort_keys=)");
        if (truthy(j, ea)) jfailv(j, "tojson(ensure_ascii=True) is not supported");
        int indent = -1;
        if (ind.t == V_INT) { if (ind.u.i < 0 || ind.u.i > 64) jfailv(j, "tojson: indent out of range"); indent = (int)ind.u.i; }
        else if (ind.t != V_NONE) jfailv(j, "tojson: indent must be an integer");
        const char *isep = indent >= 0 ? "," : ", ", *ksep = ": ";
        if (sep.t == V_LIST && sep.u.l->n == 2 && sep.u.l->v[0].t == V_STR && sep.u.l->v[1].t == V_STR) {
            isep = sep.u.l->v[0].u.s->p;
            ksep = sep.u.l->v[1].u.s->p;
        } else if (sep.t != V_NONE) jfailv(j, "tojson: separators must be a pair of strings");
        Buf b = {0};
        json_dump(j, &b, v, indent, 0, truthy(j, sk), isep, ksep);
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "join")) {
        Val it = make_iterable(j, v);
        const Str *d = arg_str(j, a, 0, "d", "", "join");
        Val at = arg_get(a, 1, "attribute", v_none());
        Buf b = {0};
        for (size_t i = 0; i < it.u.l->n; i++) {
            if (i) buf_put(j, &b, d->p, d->n);
            Val x = it.u.l->v[i];
            if (at.t == V_STR) x = attr_path(j, x, at.u.s);
            val_str(j, &b, x);
            step(j);
        }
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "first") || !strcmp(name, "last")) {
        Val it = make_iterable(j, v);
        if (!it.u.l->n) return v_undef(name[0] == 'f' ? "No first item, sequence was empty." : "No last item, sequence was empty.");
        return it.u.l->v[name[0] == 'f' ? 0 : it.u.l->n - 1];
    }
    if (!strcmp(name, "reverse")) {
        if (v.t == V_STR) { Val none = v_none(); return slice_val(j, v, none, none, v_int(-1)); }
        Val it = make_iterable(j, v);
        Val l = v_list(j, it.u.l->n, false);
        for (size_t i = 0; i < it.u.l->n; i++) l.u.l->v[i] = it.u.l->v[it.u.l->n - 1 - i];
        return l;
    }
    if (!strcmp(name, "trim")) {
        const Str *chars = arg_str(j, a, 0, "chars", NULL, "trim");
        return py_strip(j, to_str(j, v), chars, 3);
    }
    if (!strcmp(name, "lower")) return py_case(j, to_str(j, v), 0);
    if (!strcmp(name, "upper")) return py_case(j, to_str(j, v), 1);
    if (!strcmp(name, "capitalize")) return py_case(j, to_str(j, v), 2);
    if (!strcmp(name, "title")) return jinja_title(j, to_str(j, v));
    if (!strcmp(name, "replace")) {
        const Str *o = arg_str(j, a, 0, "old", NULL, "replace"), *n = arg_str(j, a, 1, "new", NULL, "replace");
        if (!o || !n) jfailv(j, "replace filter needs old and new");
        return py_replace(j, to_str(j, v), o, n, arg_int(j, a, 2, "count", -1, "replace"));
    }
    if (!strcmp(name, "e") || !strcmp(name, "escape") || !strcmp(name, "forceescape")) return html_escape(j, v);
    if (!strcmp(name, "int")) return to_int(j, v, arg_get(a, 0, "default", v_int(0)), arg_int(j, a, 1, "base", 10, "int"));
    if (!strcmp(name, "float")) return to_float(j, v, arg_get(a, 0, "default", v_float(0.0)));
    if (!strcmp(name, "abs")) {
        if (v.t == V_INT) { if (v.u.i == INT64_MIN) jfailv(j, "integer overflow"); return v_int(v.u.i < 0 ? -v.u.i : v.u.i); }
        if (v.t == V_BOOL) return v_int(v.u.b);
        if (v.t == V_FLOAT) return v_float(fabs(v.u.f));
        jfailv(j, "bad operand type for abs(): '%s'", type_name(v));
    }
    if (!strcmp(name, "round")) {
        Val m = arg_get(a, 1, "method", v_strz(j, "common"));
        if (m.t != V_STR) jfailv(j, "round: method must be a string");
        return do_round(j, v, arg_int(j, a, 0, "precision", 0, "round"), m.u.s->p);
    }
    if (!strcmp(name, "sort")) {
        Val it = make_iterable(j, v);
        Val l = list_from(j, it.u.l->v, it.u.l->n);
        Val at = arg_get(a, 2, "attribute", v_none());
        sort_vals(j, l.u.l->v, l.u.l->n, truthy(j, arg_get(a, 0, "reverse", v_bool(false))),
                  truthy(j, arg_get(a, 1, "case_sensitive", v_bool(false))), at.t == V_STR ? at.u.s : NULL);
        return l;
    }
    if (!strcmp(name, "dictsort")) {
        if (v.t != V_DICT) jfailv(j, "dictsort: expected a mapping");
        Val pairs = pairs_of_dict(j, v.u.d);
        bool cs = truthy(j, arg_get(a, 0, "case_sensitive", v_bool(false)));
        Val by = arg_get(a, 1, "by", v_strz(j, "key"));
        bool rev = truthy(j, arg_get(a, 2, "reverse", v_bool(false)));
        sort_vals(j, pairs.u.l->v, pairs.u.l->n, rev, cs, jstrz(j, by.t == V_STR && !strcmp(by.u.s->p, "value") ? "1" : "0"));
        return pairs;
    }
    if (!strcmp(name, "unique")) {
        Val it = make_iterable(j, v);
        bool cs = truthy(j, arg_get(a, 0, "case_sensitive", v_bool(false)));
        Val at = arg_get(a, 1, "attribute", v_none());
        Val *out = jalloc(j, (it.u.l->n + 1) * sizeof(Val)), *keys = jalloc(j, (it.u.l->n + 1) * sizeof(Val));
        size_t n = 0;
        for (size_t i = 0; i < it.u.l->n; i++) {
            Val x = it.u.l->v[i], k = at.t == V_STR ? attr_path(j, x, at.u.s) : x;
            if (!cs && k.t == V_STR) k = py_case(j, k.u.s, 0);
            bool seen = false;
            for (size_t q = 0; q < n && !seen; q++) seen = val_eq(j, keys[q], k);
            if (!seen) { keys[n] = k; out[n++] = x; }
            step(j);
        }
        return list_from(j, out, n);
    }
    if (!strcmp(name, "sum")) {
        Val it = make_iterable(j, v);
        Val at = arg_get(a, 0, "attribute", v_none());
        Val acc = arg_get(a, 1, "start", v_int(0));
        for (size_t i = 0; i < it.u.l->n; i++) {
            Val x = at.t == V_STR ? attr_path(j, it.u.l->v[i], at.u.s) : it.u.l->v[i];
            if (!is_num(x) || !is_num(acc)) {   /* sum(start=[]) of lists: + as Python */
                if (acc.t == V_LIST && x.t == V_LIST && acc.u.l->tuple == x.u.l->tuple) {
                    Val r = v_list(j, acc.u.l->n + x.u.l->n, acc.u.l->tuple);
                    if (acc.u.l->n) memcpy(r.u.l->v, acc.u.l->v, acc.u.l->n * sizeof(Val));
                    if (x.u.l->n) memcpy(r.u.l->v + acc.u.l->n, x.u.l->v, x.u.l->n * sizeof(Val));
                    acc = r;
                    step(j);
                    continue;
                }
                jfailv(j, "unsupported operand type(s) for +: '%s' and '%s'", type_name(acc), type_name(x));
            }
            if (acc.t == V_FLOAT || x.t == V_FLOAT) acc = v_float(num_f(acc) + num_f(x));
            else {
                int64_t r;
                if (__builtin_add_overflow(acc.t == V_INT ? acc.u.i : acc.u.b, x.t == V_INT ? x.u.i : x.u.b, &r)) jfailv(j, "integer overflow");
                acc = v_int(r);
            }
        }
        return acc;
    }
    if (!strcmp(name, "max") || !strcmp(name, "min")) {
        Val it = make_iterable(j, v);
        if (!it.u.l->n) return v_undef("No aggregated item, sequence was empty.");
        bool cs = truthy(j, arg_get(a, 0, "case_sensitive", v_bool(false)));
        Val at = arg_get(a, 1, "attribute", v_none());
        size_t best = 0;
        for (size_t i = 1; i < it.u.l->n; i++) {
            Val x = at.t == V_STR ? attr_path(j, it.u.l->v[i], at.u.s) : it.u.l->v[i];
            Val y = at.t == V_STR ? attr_path(j, it.u.l->v[best], at.u.s) : it.u.l->v[best];
            int c = val_cmp(j, x, y, !cs);
            if (name[1] == 'a' ? c > 0 : c < 0) best = i;
        }
        return it.u.l->v[best];
    }
    if (!strcmp(name, "map")) {
        Val it = make_iterable(j, v);
        Val at = arg_get(a, -1, "attribute", v_undef(NULL));
        Val l = v_list(j, it.u.l->n, false);
        if (at.t == V_STR) {
            Val dflt = arg_get(a, -1, "default", v_undef(NULL));
            for (size_t i = 0; i < it.u.l->n; i++) {
                Val x = attr_path(j, it.u.l->v[i], at.u.s);
                l.u.l->v[i] = x.t == V_UNDEF && dflt.t != V_UNDEF ? dflt : x;
                step(j);
            }
            return l;
        }
        Val fnm = arg_get(a, 0, NULL, v_undef(NULL));
        if (fnm.t != V_STR) jfailv(j, "map: give a filter name or attribute=");
        if (!filter_exists(fnm.u.s->p)) jfailv(j, "No filter named '%s'.", fnm.u.s->p);
        Args rest = args_shift(a, 1);
        for (size_t i = 0; i < it.u.l->n; i++) { l.u.l->v[i] = apply_filter(j, fnm.u.s->p, it.u.l->v[i], &rest); step(j); }
        return l;
    }
    if (!strcmp(name, "select")) return select_like(j, v, a, false, true);
    if (!strcmp(name, "reject")) return select_like(j, v, a, false, false);
    if (!strcmp(name, "selectattr")) return select_like(j, v, a, true, true);
    if (!strcmp(name, "rejectattr")) return select_like(j, v, a, true, false);
    if (!strcmp(name, "attr")) {
        const Str *n = arg_str(j, a, 0, "name", NULL, "attr");
        if (!n) jfailv(j, "attr: missing the name");
        return get_attr(j, v, n->p, n->n);
    }
    if (!strcmp(name, "batch")) {
        Val it = make_iterable(j, v);
        int64_t sz = arg_int(j, a, 0, "linecount", 1, "batch");
        if (sz <= 0) jfailv(j, "batch: size must be positive");
        Val fill = arg_get(a, 1, "fill_with", v_none());
        size_t nb = (it.u.l->n + (size_t)sz - 1) / (size_t)sz;
        Val l = v_list(j, nb, false);
        for (size_t b = 0; b < nb; b++) {
            size_t lo = b * (size_t)sz, hi = lo + (size_t)sz;
            size_t cnt = hi <= it.u.l->n ? (size_t)sz : (a->npos > 1 || fill.t != V_NONE ? (size_t)sz : it.u.l->n - lo);
            Val row = v_list(j, cnt, false);
            for (size_t k = 0; k < cnt; k++) row.u.l->v[k] = lo + k < it.u.l->n ? it.u.l->v[lo + k] : fill;
            l.u.l->v[b] = row;
        }
        return l;
    }
    if (!strcmp(name, "wordcount")) {
        Str *s = to_str(j, v);
        int64_t c = 0;
        bool in = false;
        for (size_t i = 0; i < s->n;) {
            uint32_t ch = u8_dec(s->p, s->n, &i);
            bool w = u_isalpha(ch) || (ch >= '0' && ch <= '9') || ch == '_' || ch > 0x7f;
            if (w && !in) c++;
            in = w;
        }
        return v_int(c);
    }
    if (!strcmp(name, "center")) {
        Method m = {v_str(to_str(j, v)), "center"};
        Args a2 = {0};
        Val w = arg_get(a, 0, "width", v_int(80));
        a2.pos = &w;
        a2.npos = 1;
        return call_method(j, &m, &a2);
    }
    if (!strcmp(name, "indent")) {
        Str *s = to_str(j, v);
        Val w = arg_get(a, 0, "width", v_int(4));
        bool first = truthy(j, arg_get(a, 1, "first", v_bool(false)));
        bool blank = truthy(j, arg_get(a, 2, "blank", v_bool(false)));
        Buf pad = {0};
        if (w.t == V_STR) buf_put(j, &pad, w.u.s->p, w.u.s->n);
        else { int64_t n = w.t == V_INT ? w.u.i : 4; if (n > 4096) n = 4096; for (int64_t k = 0; k < n; k++) buf_putc(j, &pad, ' '); }
        Buf b = {0};
        size_t st = 0;
        bool firstline = true;
        for (size_t i = 0; i <= s->n; i++) {
            if (i < s->n && s->p[i] != '\n') continue;
            size_t ln = i - st;
            if ((firstline ? first : true) && (ln > 0 || blank) && pad.n) buf_put(j, &b, pad.p, pad.n);
            buf_put(j, &b, s->p + st, ln);
            if (i < s->n) buf_putc(j, &b, '\n');
            st = i + 1;
            firstline = false;
        }
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "format")) {
        /* jinja2: value % (kwargs or args), both at once refused */
        if (a->npos && a->nkw) jfailv(j, "format: can't handle positional and keyword arguments at the same time");
        Val args;
        if (a->nkw) {
            args = v_dict(j);
            for (int k = 0; k < a->nkw; k++) dict_set(j, args.u.d, v_str(a->kwn[k]), a->kwv[k]);
        } else {
            args = v_list(j, (size_t)a->npos, true);
            for (int k = 0; k < a->npos; k++) args.u.l->v[k] = a->pos[k];
        }
        return py_percent(j, to_str(j, v), args);
    }
    Val more;
    if (apply_filter_more(j, name, v, a, &more)) return more;
    if (!strcmp(name, "striptags") || !strcmp(name, "wordwrap") || !strcmp(name, "pprint") || !strcmp(name, "random") ||
        !strcmp(name, "urlize"))
        jfailv(j, "the filter '%s' is not supported", name);
    jfailv(j, "No filter named '%s'.", name);
}

/* ------------------------------------------------------------------ tests */

bool apply_test(J *j, const char *name, Val v, const Args *a) {
    Val x = arg_get(a, 0, NULL, v_undef(NULL));
    if (!strcmp(name, "defined")) return v.t != V_UNDEF;
    if (!strcmp(name, "undefined")) return v.t == V_UNDEF;
    if (!strcmp(name, "none")) return v.t == V_NONE;
    if (!strcmp(name, "boolean")) return v.t == V_BOOL;
    if (!strcmp(name, "true")) return v.t == V_BOOL && v.u.b;
    if (!strcmp(name, "false")) return v.t == V_BOOL && !v.u.b;
    if (!strcmp(name, "integer")) return v.t == V_INT;
    if (!strcmp(name, "float")) return v.t == V_FLOAT;
    if (!strcmp(name, "number")) return is_num(v);
    if (!strcmp(name, "string")) return v.t == V_STR;
    if (!strcmp(name, "mapping")) return v.t == V_DICT;
    if (!strcmp(name, "iterable")) return v.t == V_LIST || v.t == V_STR || v.t == V_DICT || v.t == V_UNDEF;
    if (!strcmp(name, "sequence")) return v.t == V_LIST || v.t == V_STR || v.t == V_DICT || v.t == V_UNDEF;
    if (!strcmp(name, "callable")) return v.t == V_MACRO || v.t == V_FUNC || v.t == V_METHOD;
    if (!strcmp(name, "escaped")) return false;
    if (!strcmp(name, "sameas")) {
        if (v.t != x.t) return false;
        if (v.t == V_NONE || v.t == V_UNDEF) return true;
        if (v.t == V_BOOL) return v.u.b == x.u.b;
        if (v.t == V_LIST) return v.u.l == x.u.l;
        if (v.t == V_DICT || v.t == V_NS) return v.u.d == x.u.d;
        if (v.t == V_STR) return v.u.s == x.u.s;
        return val_eq(j, v, x);
    }
    if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")) return val_eq(j, v, x);
    if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !val_eq(j, v, x);
    if (!strcmp(name, "lt") || !strcmp(name, "lessthan") || !strcmp(name, "<")) return val_cmp(j, v, x, false) < 0;
    if (!strcmp(name, "le") || !strcmp(name, "<=")) return val_cmp(j, v, x, false) <= 0;
    if (!strcmp(name, "gt") || !strcmp(name, "greaterthan") || !strcmp(name, ">")) return val_cmp(j, v, x, false) > 0;
    if (!strcmp(name, "ge") || !strcmp(name, ">=")) return val_cmp(j, v, x, false) >= 0;
    if (!strcmp(name, "in")) {
        if (x.t == V_STR) {
            if (v.t != V_STR) jfailv(j, "'in <string>' requires string as left operand, not %s", type_name(v));
            return mem_find(x.u.s->p, x.u.s->n, v.u.s->p, v.u.s->n) != NULL;
        }
        if (x.t == V_DICT) return dict_get(x.u.d, v) != NULL;
        if (x.t == V_UNDEF) return false;
        Val it = make_iterable(j, x);
        for (size_t i = 0; i < it.u.l->n; i++) if (val_eq(j, it.u.l->v[i], v)) return true;
        return false;
    }
    if (!strcmp(name, "even") || !strcmp(name, "odd") || !strcmp(name, "divisibleby")) {
        if (v.t != V_INT && v.t != V_BOOL) {
            if (v.t == V_FLOAT && name[0] != 'd') return fmod(v.u.f, 2.0) == (name[0] == 'o' ? 1.0 : 0.0);
            jfailv(j, "test '%s' needs a number, got %s", name, type_name(v));
        }
        int64_t n = v.t == V_INT ? v.u.i : v.u.b;
        if (name[0] == 'e') return n % 2 == 0;
        if (name[0] == 'o') return n % 2 != 0;
        if (x.t != V_INT || x.u.i == 0) jfailv(j, "divisibleby needs a non-zero integer");
        return x.u.i == -1 || n % x.u.i == 0;
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        if (v.t != V_STR) return false;
        Method m = {v, name[0] == 'l' ? "islower" : "isupper"};
        Args none = {0};
        return call_method(j, &m, &none).u.b;
    }
    if (!strcmp(name, "filter")) return x.t == V_STR && filter_exists(x.u.s->p);
    if (!strcmp(name, "test")) return x.t == V_STR && test_exists(x.u.s->p);
    jfailv(j, "No test named '%s'.", name);
}

