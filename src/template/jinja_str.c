/* Python str/list/dict methods, attribute and item access, slices and the builtin globals of
 * chat templates, as CPython and jinja2's sandbox define them. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>
#include "template/jinja_int.h"

/* ------------------------------------------------------------------ argument helpers */

Val arg_get(const Args *a, int idx, const char *name, Val dflt) {
    if (idx >= 0 && idx < a->npos) return a->pos[idx];
    for (int k = 0; name && k < a->nkw; k++)
        if (!strcmp(a->kwn[k]->p, name)) return a->kwv[k];
    return dflt;
}

const Str *arg_str(J *j, const Args *a, int idx, const char *name, const char *dflt, const char *fn) {
    Val v = arg_get(a, idx, name, v_undef(NULL));
    if (v.t == V_UNDEF) return dflt ? jstrz(j, dflt) : NULL;
    if (v.t == V_NONE && dflt == NULL) return NULL;
    if (v.t != V_STR) jfailv(j, "%s: argument '%s' must be a string, not %s", fn, name ? name : "?", type_name(v));
    return v.u.s;
}

int64_t arg_int(J *j, const Args *a, int idx, const char *name, int64_t dflt, const char *fn) {
    Val v = arg_get(a, idx, name, v_undef(NULL));
    if (v.t == V_UNDEF || v.t == V_NONE) return dflt;
    if (v.t == V_INT) return v.u.i;
    if (v.t == V_BOOL) return v.u.b;
    jfailv(j, "%s: argument '%s' must be an integer, not %s", fn, name ? name : "?", type_name(v));
}


Val make_iterable(J *j, Val v) {
    switch (v.t) {
    case V_LIST: return v;
    case V_UNDEF: return v_list(j, 0, false);   /* iter(Undefined) is empty */
    case V_DICT: {
        Val l = v_list(j, v.u.d->n, false);
        for (size_t i = 0; i < v.u.d->n; i++) l.u.l->v[i] = v.u.d->k[i];
        return l;
    }
    case V_STR: {
        size_t n;
        uint32_t *cps = u32_of(j, v.u.s, &n);
        Val l = v_list(j, n, false);
        for (size_t i = 0; i < n; i++) l.u.l->v[i] = str_of_u32(j, cps + i, 1);
        return l;
    }
    default: jfailv(j, "'%s' object is not iterable", type_name(v));
    }
}

size_t val_len(J *j, Val v) {
    switch (v.t) {
    case V_UNDEF: return 0;
    case V_STR: return u8_len(v.u.s->p, v.u.s->n);
    case V_LIST: return v.u.l->n;
    case V_DICT: return v.u.d->n;
    default: jfailv(j, "object of type '%s' has no len()", type_name(v));
    }
}

/* ------------------------------------------------------------------ Python str methods */

static bool in_set(uint32_t c, const uint32_t *set, size_t n) {
    for (size_t i = 0; i < n; i++) if (set[i] == c) return true;
    return false;
}

/* strip (which: 1 left, 2 right, 3 both) of whitespace (chars NULL) or of the given chars */
Val py_strip(J *j, const Str *s, const Str *chars, int which) {
    size_t n, nc = 0;
    uint32_t *a = u32_of(j, s, &n);
    uint32_t *c = chars ? u32_of(j, chars, &nc) : NULL;
    size_t lo = 0, hi = n;
    if (which & 1) while (lo < hi && (c ? in_set(a[lo], c, nc) : u_isspace(a[lo]))) lo++;
    if (which & 2) while (hi > lo && (c ? in_set(a[hi - 1], c, nc) : u_isspace(a[hi - 1]))) hi--;
    return str_of_u32(j, a + lo, hi - lo);
}

const char *mem_find(const char *h, size_t hn, const char *nd, size_t nn) {
    if (nn == 0) return h;
    if (nn > hn) return NULL;
    return memmem(h, hn, nd, nn);
}

static void push_str(J *j, Val **items, size_t *n, size_t *cap, const char *p, size_t len) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        Val *ni = jalloc(j, *cap * sizeof(Val));
        if (*n) memcpy(ni, *items, *n * sizeof(Val));
        *items = ni;
    }
    (*items)[(*n)++] = v_strn(j, p, len);
    step(j);
}

Val py_split(J *j, const Str *s, const Str *sep, int64_t maxsplit, bool right) {
    Val *items = NULL;
    size_t n = 0, cap = 0;
#define PUSH(p_, n_) push_str(j, &items, &n, &cap, (p_), (n_))
    if (sep) {
        if (sep->n == 0) jfailv(j, "split: empty separator");
        if (!right) {
            size_t pos = 0;
            int64_t done = 0;
            for (;;) {
                const char *f = (maxsplit >= 0 && done >= maxsplit) ? NULL : mem_find(s->p + pos, s->n - pos, sep->p, sep->n);
                if (!f) { PUSH(s->p + pos, s->n - pos); break; }
                PUSH(s->p + pos, (size_t)(f - (s->p + pos)));
                pos = (size_t)(f - s->p) + sep->n;
                done++;
            }
        } else {
            size_t end = s->n;
            int64_t done = 0;
            Val *tmp = NULL;
            (void)tmp;
            for (;;) {
                const char *f = NULL;
                if (!(maxsplit >= 0 && done >= maxsplit))
                    for (size_t k = end; k >= sep->n; k--)
                        if (!memcmp(s->p + k - sep->n, sep->p, sep->n)) { f = s->p + k - sep->n; break; }
                if (!f) { PUSH(s->p, end); break; }
                PUSH(f + sep->n, (size_t)((s->p + end) - (f + sep->n)));
                end = (size_t)(f - s->p);
                done++;
            }
            for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) { Val t = items[a]; items[a] = items[b]; items[b] = t; }
        }
    } else {
        /* whitespace split: runs of whitespace, no empty strings */
        size_t nc;
        uint32_t *a = u32_of(j, s, &nc);
        if (!right) {
            size_t i = 0;
            int64_t done = 0;
            while (i < nc) {
                while (i < nc && u_isspace(a[i])) i++;
                if (i >= nc) break;
                if (maxsplit >= 0 && done >= maxsplit) {
                    Val v = str_of_u32(j, a + i, nc - i);   /* the rest keeps its trailing whitespace */
                    PUSH(v.u.s->p, v.u.s->n);
                    break;
                }
                size_t st = i;
                while (i < nc && !u_isspace(a[i])) i++;
                Val v = str_of_u32(j, a + st, i - st);
                PUSH(v.u.s->p, v.u.s->n);
                done++;
            }
        } else {
            size_t i = nc;
            int64_t done = 0;
            while (i > 0) {
                while (i > 0 && u_isspace(a[i - 1])) i--;
                if (i == 0) break;
                if (maxsplit >= 0 && done >= maxsplit) {
                    Val v = str_of_u32(j, a, i);   /* the rest keeps its leading whitespace */
                    PUSH(v.u.s->p, v.u.s->n);
                    break;
                }
                size_t en = i;
                while (i > 0 && !u_isspace(a[i - 1])) i--;
                Val v = str_of_u32(j, a + i, en - i);
                PUSH(v.u.s->p, v.u.s->n);
                done++;
            }
            for (size_t x = 0, y = n ? n - 1 : 0; x < y; x++, y--) { Val t = items[x]; items[x] = items[y]; items[y] = t; }
        }
    }
#undef PUSH
    Val l = v_list(j, 0, false);
    l.u.l->n = n;
    l.u.l->v = items;
    return l;
}

Val py_replace(J *j, const Str *s, const Str *old, const Str *nw, int64_t count) {
    Buf b = {0};
    if (old->n == 0) {
        /* inserts nw before every character and at the end */
        size_t i = 0;
        int64_t done = 0;
        while (i <= s->n) {
            if (count < 0 || done < count) { buf_put(j, &b, nw->p, nw->n); done++; }
            if (i == s->n) break;
            size_t st = i;
            u8_dec(s->p, s->n, &i);
            buf_put(j, &b, s->p + st, i - st);
            step(j);
        }
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    size_t pos = 0;
    int64_t done = 0;
    for (;;) {
        const char *f = (count >= 0 && done >= count) ? NULL : mem_find(s->p + pos, s->n - pos, old->p, old->n);
        if (!f) { buf_put(j, &b, s->p + pos, s->n - pos); break; }
        buf_put(j, &b, s->p + pos, (size_t)(f - (s->p + pos)));
        buf_put(j, &b, nw->p, nw->n);
        pos = (size_t)(f - s->p) + old->n;
        done++;
        step(j);
    }
    return v_strn(j, b.p ? b.p : "", b.n);
}

bool str_starts(const Str *s, const Str *p) { return p->n <= s->n && !memcmp(s->p, p->p, p->n); }
bool str_ends(const Str *s, const Str *p) { return p->n <= s->n && !memcmp(s->p + s->n - p->n, p->p, p->n); }

bool affix_test(J *j, const Str *s, Val arg, bool ends, const char *fn) {
    if (arg.t == V_STR) return ends ? str_ends(s, arg.u.s) : str_starts(s, arg.u.s);
    if (arg.t == V_LIST && arg.u.l->tuple) {
        for (size_t i = 0; i < arg.u.l->n; i++) {
            if (arg.u.l->v[i].t != V_STR) jfailv(j, "%s: tuple for %s must only contain str", fn, fn);
            if (ends ? str_ends(s, arg.u.l->v[i].u.s) : str_starts(s, arg.u.l->v[i].u.s)) return true;
        }
        return false;
    }
    jfailv(j, "%s first arg must be str or a tuple of str, not %s", fn, type_name(arg));
}

/* '{} {0} {name}'.format(...) without format specs beyond conversion to str */
Val py_format(J *j, const Str *s, const Args *a) {
    Buf b = {0};
    int autoidx = 0;
    for (size_t i = 0; i < s->n; i++) {
        char c = s->p[i];
        if (c == '{' && i + 1 < s->n && s->p[i + 1] == '{') { buf_putc(j, &b, '{'); i++; continue; }
        if (c == '}' && i + 1 < s->n && s->p[i + 1] == '}') { buf_putc(j, &b, '}'); i++; continue; }
        if (c != '{') { buf_putc(j, &b, c); continue; }
        size_t st = ++i;
        while (i < s->n && s->p[i] != '}') i++;
        if (i >= s->n) jfailv(j, "format: single '{' encountered in format string");
        Str *field = jstr(j, s->p + st, i - st);
        if (memchr(field->p, ':', field->n) || memchr(field->p, '!', field->n))
            jfailv(j, "format: format specifications are not supported");
        Val v;
        if (field->n == 0) v = arg_get(a, autoidx++, NULL, v_undef(NULL));
        else if (field->p[0] >= '0' && field->p[0] <= '9') v = arg_get(a, atoi(field->p), NULL, v_undef(NULL));
        else v = arg_get(a, -1, field->p, v_undef(NULL));
        if (v.t == V_UNDEF) jfailv(j, "format: no argument for field '{%s}'", field->p);
        val_str(j, &b, v);
    }
    return v_strn(j, b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------------ attribute / item access */

static const char *const STR_METHODS[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
    "replace", "lower", "upper", "title", "capitalize", "swapcase", "find", "rfind", "index", "count", "format", "join",
    "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric", "isdecimal", "istitle", "center",
    "ljust", "rjust", "zfill", "casefold", "removeprefix", "removesuffix", "partition", "rpartition", "encode", NULL};
static const char *const LIST_METHODS[] = {"index", "count", NULL};
static const char *const DICT_METHODS[] = {"get", "items", "keys", "values", "copy", NULL};
static const char *const UNSAFE_METHODS[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
    "update", "setdefault", "popitem", NULL};

bool in_names(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++) if (!strcmp(names[i], s)) return true;
    return false;
}

Val bind_method(J *j, Val self, const char *name) {
    Val v = {.t = V_METHOD};
    v.u.me = jalloc(j, sizeof(Method));
    v.u.me->self = self;
    v.u.me->name = jstrz(j, name)->p;
    return v;
}

Val undef_msg(J *j, const char *fmt, const char *a, const char *b) {
    char tmp[400];
    snprintf(tmp, sizeof tmp, fmt, a, b);
    return v_undef(jstrz(j, tmp)->p);
}

Val get_attr(J *j, Val obj, const char *name, size_t n) {
    if (obj.t == V_UNDEF) jfailv(j, "%s", obj.u.un ? obj.u.un : "undefined value has no attributes");
    if (n && name[0] == '_') return undef_msg(j, "access to attribute '%s' of '%s' object is unsafe", name, type_name(obj));
    switch (obj.t) {
    case V_STR: if (in_names(STR_METHODS, name)) return bind_method(j, obj, name); break;
    case V_LIST:
        if (obj.u.l->group && !strcmp(name, "grouper")) return obj.u.l->v[0];
        if (obj.u.l->group && !strcmp(name, "list")) return obj.u.l->v[1];
        if (in_names(LIST_METHODS, name)) return bind_method(j, obj, name);
        if (!obj.u.l->tuple && in_names(UNSAFE_METHODS, name))
            return undef_msg(j, "access to attribute '%s' of '%s' object is unsafe (the sandbox forbids changing values)", name, "list");
        break;
    case V_DICT: {
        if (in_names(DICT_METHODS, name)) return bind_method(j, obj, name);
        if (in_names(UNSAFE_METHODS, name))
            return undef_msg(j, "access to attribute '%s' of '%s' object is unsafe (the sandbox forbids changing values)", name, "dict");
        Val *p = dict_gets(obj.u.d, name, n);
        if (p) return *p;
        break;
    }
    case V_NS: {
        Val *p = dict_gets(obj.u.d, name, n);
        if (p) return *p;
        break;
    }
    case V_LOOP: return v_undef(NULL);  /* handled by the evaluator */
    default: break;
    }
    char tn[64];
    snprintf(tn, sizeof tn, "%s object", type_name(obj));
    return undef_msg(j, "'%s' has no attribute '%s'", tn, name);
}

Val get_item(J *j, Val obj, Val key) {
    if (obj.t == V_UNDEF) jfailv(j, "%s", obj.u.un ? obj.u.un : "undefined value is not subscriptable");
    if (obj.t == V_LIST || obj.t == V_STR) {
        if (key.t == V_INT || key.t == V_BOOL) {
            int64_t i = key.t == V_INT ? key.u.i : key.u.b;
            if (obj.t == V_LIST) {
                int64_t n = (int64_t)obj.u.l->n;
                if (i < 0) i += n;
                if (i < 0 || i >= n) return v_undef("list index out of range");
                return obj.u.l->v[i];
            }
            size_t n;
            uint32_t *a = u32_of(j, obj.u.s, &n);
            if (i < 0) i += (int64_t)n;
            if (i < 0 || i >= (int64_t)n) return v_undef("string index out of range");
            return str_of_u32(j, a + i, 1);
        }
        if (key.t == V_STR) return get_attr(j, obj, key.u.s->p, key.u.s->n);
        return v_undef("invalid index");
    }
    if (obj.t == V_DICT || obj.t == V_NS) {
        if (key.t == V_LIST && !key.u.l->tuple) jfailv(j, "unhashable type: 'list'");
        if (key.t == V_DICT) jfailv(j, "unhashable type: 'dict'");
        Val *p = dict_get(obj.u.d, key);
        if (p) return *p;
        if (key.t == V_STR) return get_attr(j, obj, key.u.s->p, key.u.s->n);
        Buf kb = {0};
        val_repr(j, &kb, key);
        return undef_msg(j, "'dict object' has no attribute %s%s", kb.p ? kb.p : "", "");
    }
    if (key.t == V_STR) return get_attr(j, obj, key.u.s->p, key.u.s->n);
    return undef_msg(j, "'%s object' is not subscriptable%s", type_name(obj), "");
}

/* Python slice semantics over n items: fills the chosen indices. */
size_t slice_indices(J *j, int64_t n, Val start, Val stop, Val stepv, int64_t **out) {
    int64_t st = 1;
    if (stepv.t == V_INT) st = stepv.u.i;
    else if (stepv.t != V_NONE && stepv.t != V_UNDEF) jfailv(j, "slice indices must be integers or None");
    if (st == 0) jfailv(j, "slice step cannot be zero");
    int64_t lo, hi;
    bool has_lo = start.t == V_INT, has_hi = stop.t == V_INT;
    if ((start.t != V_INT && start.t != V_NONE && start.t != V_UNDEF) || (stop.t != V_INT && stop.t != V_NONE && stop.t != V_UNDEF))
        jfailv(j, "slice indices must be integers or None");
    if (st > 0) {
        lo = has_lo ? start.u.i : 0;
        hi = has_hi ? stop.u.i : n;
        if (lo < 0) { lo += n; if (lo < 0) lo = 0; } else if (lo > n) lo = n;
        if (hi < 0) { hi += n; if (hi < 0) hi = 0; } else if (hi > n) hi = n;
    } else {
        lo = has_lo ? start.u.i : n - 1;
        hi = has_hi ? stop.u.i : -1 - n;
        if (lo < 0) { lo += n; if (lo < 0) lo = -1; } else if (lo >= n) lo = n - 1;
        if (hi < 0) { hi += n; if (hi < 0) hi = -1; } else if (hi >= n) hi = n - 1;
    }
    size_t cnt = 0;
    if (st > 0 && hi > lo) cnt = (size_t)((hi - lo + st - 1) / st);
    else if (st < 0 && lo > hi) cnt = (size_t)((lo - hi + (-st) - 1) / (-st));
    *out = cnt ? jalloc(j, cnt * sizeof(int64_t)) : NULL;
    for (size_t k = 0; k < cnt; k++) (*out)[k] = lo + (int64_t)k * st;
    return cnt;
}

Val slice_val(J *j, Val obj, Val start, Val stop, Val stepv) {
    int64_t *idx;
    if (obj.t == V_LIST) {
        size_t c = slice_indices(j, (int64_t)obj.u.l->n, start, stop, stepv, &idx);
        Val r = v_list(j, c, obj.u.l->tuple);
        for (size_t k = 0; k < c; k++) r.u.l->v[k] = obj.u.l->v[idx[k]];
        return r;
    }
    if (obj.t == V_STR) {
        size_t n;
        uint32_t *a = u32_of(j, obj.u.s, &n);
        size_t c = slice_indices(j, (int64_t)n, start, stop, stepv, &idx);
        uint32_t *o = jalloc(j, (c + 1) * sizeof(uint32_t));
        for (size_t k = 0; k < c; k++) o[k] = a[idx[k]];
        return str_of_u32(j, o, c);
    }
    if (obj.t == V_UNDEF) jfailv(j, "%s", obj.u.un ? obj.u.un : "undefined value is not subscriptable");
    jfailv(j, "'%s' object is not subscriptable", type_name(obj));
}

/* ------------------------------------------------------------------ methods */

Val pairs_of_dict(J *j, Dict *d) {
    Val l = v_list(j, d->n, false);
    for (size_t i = 0; i < d->n; i++) {
        Val t = v_list(j, 2, true);
        t.u.l->v[0] = d->k[i];
        t.u.l->v[1] = d->v[i];
        l.u.l->v[i] = t;
    }
    return l;
}

static int64_t find_cp(J *j, const Str *s, const Str *sub, bool last) {
    const char *f = NULL;
    if (!last) f = mem_find(s->p, s->n, sub->p, sub->n);
    else for (size_t k = s->n + 1; k-- > 0;) if (k + sub->n <= s->n && !memcmp(s->p + k, sub->p, sub->n)) { f = s->p + k; break; }
    (void)j;
    if (!f) return -1;
    return (int64_t)u8_len(s->p, (size_t)(f - s->p));
}

Val call_method(J *j, Method *m, const Args *a) {
    Val self = m->self;
    const char *nm = m->name;
    if (self.t == V_STR) {
        const Str *s = self.u.s;
        if (!strcmp(nm, "strip") || !strcmp(nm, "lstrip") || !strcmp(nm, "rstrip")) {
            const Str *chars = arg_str(j, a, 0, "chars", NULL, nm);
            return py_strip(j, s, chars, nm[0] == 'l' ? 1 : nm[0] == 'r' ? 2 : 3);
        }
        if (!strcmp(nm, "split") || !strcmp(nm, "rsplit"))
            return py_split(j, s, arg_str(j, a, 0, "sep", NULL, nm), arg_int(j, a, 1, "maxsplit", -1, nm), nm[0] == 'r');
        if (!strcmp(nm, "splitlines")) {
            /* Python's line boundaries: \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029 */
            bool keep = truthy(j, arg_get(a, 0, "keepends", v_bool(false)));
            Val r = v_list(j, 0, false);
            r.u.l->v = jalloc(j, (s->n + 1) * sizeof(Val));
            size_t st = 0;
            for (size_t i = 0; i < s->n;) {
                size_t k = i;
                uint32_t c = u8_dec(s->p, s->n, &k);
                bool br = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e) || c == 0x85 || c == 0x2028 || c == 0x2029;
                if (!br) { i = k; continue; }
                if (c == '\r' && k < s->n && s->p[k] == '\n') k++;
                r.u.l->v[r.u.l->n++] = v_strn(j, s->p + st, (keep ? k : i) - st);
                st = i = k;
            }
            if (st < s->n) r.u.l->v[r.u.l->n++] = v_strn(j, s->p + st, s->n - st);
            return r;
        }
        if (!strcmp(nm, "startswith") || !strcmp(nm, "endswith")) {
            Val p = arg_get(a, 0, NULL, v_undef(NULL));
            return v_bool(affix_test(j, s, p, nm[0] == 'e', nm));
        }
        if (!strcmp(nm, "replace")) {
            const Str *o = arg_str(j, a, 0, "old", NULL, nm), *n = arg_str(j, a, 1, "new", NULL, nm);
            if (!o || !n) jfailv(j, "replace() takes at least 2 arguments");
            return py_replace(j, s, o, n, arg_int(j, a, 2, "count", -1, nm));
        }
        if (!strcmp(nm, "lower")) return py_case(j, s, 0);
        if (!strcmp(nm, "casefold")) return py_case(j, s, 5);
        if (!strcmp(nm, "upper")) return py_case(j, s, 1);
        if (!strcmp(nm, "capitalize")) return py_case(j, s, 2);
        if (!strcmp(nm, "title")) return py_case(j, s, 3);
        if (!strcmp(nm, "swapcase")) return py_case(j, s, 4);
        if (!strcmp(nm, "find") || !strcmp(nm, "rfind") || !strcmp(nm, "index")) {
            const Str *sub = arg_str(j, a, 0, "sub", NULL, nm);
            if (!sub) jfailv(j, "%s() takes at least 1 argument", nm);
            int64_t r = find_cp(j, s, sub, nm[0] == 'r');
            if (r < 0 && nm[0] == 'i') jfailv(j, "substring not found");
            return v_int(r);
        }
        if (!strcmp(nm, "count")) {
            const Str *sub = arg_str(j, a, 0, "sub", NULL, nm);
            if (!sub) jfailv(j, "count() takes at least 1 argument");
            if (sub->n == 0) return v_int((int64_t)u8_len(s->p, s->n) + 1);
            int64_t c = 0;
            for (size_t pos = 0;;) {
                const char *f = mem_find(s->p + pos, s->n - pos, sub->p, sub->n);
                if (!f) break;
                c++;
                pos = (size_t)(f - s->p) + sub->n;
            }
            return v_int(c);
        }
        if (!strcmp(nm, "format")) return py_format(j, s, a);
        if (!strcmp(nm, "join")) {
            Val it = make_iterable(j, arg_get(a, 0, "iterable", v_undef(NULL)));
            Buf b = {0};
            for (size_t i = 0; i < it.u.l->n; i++) {
                if (it.u.l->v[i].t != V_STR) jfailv(j, "sequence item %zu: expected str instance, %s found", i, type_name(it.u.l->v[i]));
                if (i) buf_put(j, &b, s->p, s->n);
                buf_put(j, &b, it.u.l->v[i].u.s->p, it.u.l->v[i].u.s->n);
                step(j);
            }
            return v_strn(j, b.p ? b.p : "", b.n);
        }
        if (!strncmp(nm, "is", 2)) {
            size_t n;
            uint32_t *cp = u32_of(j, s, &n);
            if (!n) return v_bool(false);
            bool any_cased = false, ok = true;
            for (size_t i = 0; i < n && ok; i++) {
                uint32_t c = cp[i];
                utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
                if (!strcmp(nm, "isdigit") || !strcmp(nm, "isdecimal") || !strcmp(nm, "isnumeric")) ok = k == UTF8PROC_CATEGORY_ND || (strcmp(nm, "isdecimal") && (k == UTF8PROC_CATEGORY_NO || k == UTF8PROC_CATEGORY_NL));
                else if (!strcmp(nm, "isalpha")) ok = u_isalpha(c);
                else if (!strcmp(nm, "isalnum")) ok = u_isalpha(c) || k == UTF8PROC_CATEGORY_ND;
                else if (!strcmp(nm, "isspace")) ok = u_isspace(c);
                else if (!strcmp(nm, "isupper")) { if (u_lower(c) != c) any_cased = true; else if (u_upper(c) != c) ok = false; }
                else if (!strcmp(nm, "islower")) { if (u_upper(c) != c) any_cased = true; else if (u_lower(c) != c) ok = false; }
                else if (!strcmp(nm, "istitle")) { Val t = py_case(j, s, 3); return v_bool(val_eq(j, t, self)); }
            }
            if (!strcmp(nm, "isupper") || !strcmp(nm, "islower")) return v_bool(ok && any_cased);
            return v_bool(ok);
        }
        if (!strcmp(nm, "center") || !strcmp(nm, "ljust") || !strcmp(nm, "rjust") || !strcmp(nm, "zfill")) {
            int64_t w = arg_int(j, a, 0, "width", 0, nm);
            if (w > (int64_t)(j->max_output)) jfailv(j, "%s: width too large", nm);
            const Str *fc = !strcmp(nm, "zfill") ? jstrz(j, "0") : arg_str(j, a, 1, "fillchar", " ", nm);
            int64_t len = (int64_t)u8_len(s->p, s->n);
            if (w <= len) return self;
            int64_t pad = w - len, left = !strcmp(nm, "rjust") || !strcmp(nm, "zfill") ? pad : !strcmp(nm, "ljust") ? 0 : pad / 2 + (pad & w & 1);
            Buf b = {0};
            if (!strcmp(nm, "zfill") && s->n && (s->p[0] == '-' || s->p[0] == '+')) {
                /* the sign stays in front: '-42'.zfill(5) == '-0042' */
                buf_putc(j, &b, s->p[0]);
                for (int64_t k = 0; k < left; k++) buf_putc(j, &b, '0');
                buf_put(j, &b, s->p + 1, s->n - 1);
                return v_strn(j, b.p, b.n);
            }
            for (int64_t k = 0; k < left; k++) buf_put(j, &b, fc->p, fc->n);
            buf_put(j, &b, s->p, s->n);
            for (int64_t k = 0; k < pad - left; k++) buf_put(j, &b, fc->p, fc->n);
            return v_strn(j, b.p, b.n);
        }
        if (!strcmp(nm, "removeprefix") || !strcmp(nm, "removesuffix")) {
            const Str *p = arg_str(j, a, 0, "prefix", NULL, nm);
            if (!p) jfailv(j, "%s() takes exactly one argument", nm);
            if (nm[6] == 'p') return str_starts(s, p) ? v_strn(j, s->p + p->n, s->n - p->n) : self;
            return str_ends(s, p) ? v_strn(j, s->p, s->n - p->n) : self;
        }
        if (!strcmp(nm, "partition") || !strcmp(nm, "rpartition")) {
            const Str *sep = arg_str(j, a, 0, "sep", NULL, nm);
            if (!sep || !sep->n) jfailv(j, "%s: empty separator", nm);
            Val t = v_list(j, 3, true);
            const char *f = NULL;
            if (nm[0] == 'p') f = mem_find(s->p, s->n, sep->p, sep->n);
            else for (size_t k = s->n + 1; k-- > 0;) if (k + sep->n <= s->n && !memcmp(s->p + k, sep->p, sep->n)) { f = s->p + k; break; }
            if (!f) {
                t.u.l->v[0] = nm[0] == 'p' ? self : v_strz(j, "");
                t.u.l->v[1] = v_strz(j, "");
                t.u.l->v[2] = nm[0] == 'p' ? v_strz(j, "") : self;
            } else {
                t.u.l->v[0] = v_strn(j, s->p, (size_t)(f - s->p));
                t.u.l->v[1] = v_str(sep);
                t.u.l->v[2] = v_strn(j, f + sep->n, s->n - (size_t)(f - s->p) - sep->n);
            }
            return t;
        }
        if (!strcmp(nm, "encode")) return self;
    } else if (self.t == V_LIST) {
        Val x = arg_get(a, 0, NULL, v_undef(NULL));
        if (!strcmp(nm, "index")) {
            for (size_t i = 0; i < self.u.l->n; i++) if (val_eq(j, self.u.l->v[i], x)) return v_int((int64_t)i);
            jfailv(j, "list.index(x): x not in list");
        }
        if (!strcmp(nm, "count")) {
            int64_t c = 0;
            for (size_t i = 0; i < self.u.l->n; i++) c += val_eq(j, self.u.l->v[i], x);
            return v_int(c);
        }
    } else if (self.t == V_DICT) {
        Dict *d = self.u.d;
        if (!strcmp(nm, "get")) {
            Val k = arg_get(a, 0, "key", v_undef(NULL));
            if (k.t == V_UNDEF && a->npos == 0) jfailv(j, "get expected at least 1 argument, got 0");
            Val *p = dict_get(d, k);
            return p ? *p : arg_get(a, 1, "default", v_none());
        }
        if (!strcmp(nm, "items")) return pairs_of_dict(j, d);
        if (!strcmp(nm, "keys") || !strcmp(nm, "values")) {
            Val l = v_list(j, d->n, false);
            for (size_t i = 0; i < d->n; i++) l.u.l->v[i] = nm[0] == 'k' ? d->k[i] : d->v[i];
            return l;
        }
        if (!strcmp(nm, "copy")) {
            Val c = v_dict(j);
            for (size_t i = 0; i < d->n; i++) dict_set(j, c.u.d, d->k[i], d->v[i]);
            return c;
        }
    }
    jfailv(j, "'%s' object has no method '%s'", type_name(self), nm);
}

/* ------------------------------------------------------------------ builtin globals */

static void fmt_time(J *j, Buf *b, const char *fmt, size_t n) {
    time_t t = j->now_set ? (time_t)j->now : time(NULL);
    struct tm tm;
    /* a time gmtime cannot break down (--now 9223372036854775807) left tm unset: garbage was printed */
    if (!(j->now_set ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) jfailv(j, "strftime_now: the time %lld is out of range", (long long)t);
    char f[512], out[2048];
    if (n >= sizeof f) jfailv(j, "strftime_now: format too long");
    memcpy(f, fmt, n);
    f[n] = 0;
    size_t w = strftime(out, sizeof out, f, &tm);
    buf_put(j, b, out, w);
}

Val call_builtin(J *j, int fn, const Args *a) {
    switch (fn) {
    case FN_RANGE: {
        int64_t lo = 0, hi, st = 1;
        if (a->npos == 1) hi = arg_int(j, a, 0, NULL, 0, "range");
        else if (a->npos >= 2) { lo = arg_int(j, a, 0, NULL, 0, "range"); hi = arg_int(j, a, 1, NULL, 0, "range"); if (a->npos > 2) st = arg_int(j, a, 2, NULL, 1, "range"); }
        else jfailv(j, "range expected at least 1 argument, got 0");
        if (st == 0) jfailv(j, "range() arg 3 must not be zero");
        int64_t cnt = 0;
        if (st > 0 && hi > lo) cnt = (hi - lo + st - 1) / st;
        else if (st < 0 && lo > hi) cnt = (lo - hi + (-st) - 1) / (-st);
        if (cnt > 100000) jfailv(j, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        Val l = v_list(j, (size_t)cnt, false);
        for (int64_t k = 0; k < cnt; k++) l.u.l->v[k] = v_int(lo + k * st);
        return l;
    }
    case FN_NAMESPACE: case FN_DICT: {
        Val d = v_dict(j);
        if (a->npos > 0) {
            Val init = a->pos[0];
            if (init.t == V_DICT || init.t == V_NS)
                for (size_t i = 0; i < init.u.d->n; i++) dict_set(j, d.u.d, init.u.d->k[i], init.u.d->v[i]);
            else jfailv(j, "%s() takes a mapping as its positional argument", fn == FN_DICT ? "dict" : "namespace");
        }
        for (int k = 0; k < a->nkw; k++) dict_set(j, d.u.d, v_str(a->kwn[k]), a->kwv[k]);
        if (fn == FN_NAMESPACE) d.t = V_NS;
        return d;
    }
    case FN_RAISE: {
        Val m = arg_get(a, 0, "message", v_strz(j, ""));
        Str *s = to_str(j, m);
        jfailv(j, "the template raised an exception: %s", s->p);
    }
    case FN_STRFTIME: {
        Val f = arg_get(a, 0, "format", v_undef(NULL));
        if (f.t != V_STR) jfailv(j, "strftime_now: the format must be a string");
        Buf b = {0};
        fmt_time(j, &b, f.u.s->p, f.u.s->n);
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    default: jfailv(j, "not callable");
    }
}

