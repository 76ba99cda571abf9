/* Jinja values and their Python behaviour: arena, str()/repr() as Python prints them, JSON in
 * (as json.loads) and out (as json.dumps(ensure_ascii=False), transformers' tojson), and the
 * filters, tests and str/list/dict methods chat templates use. Semantics follow jinja2 3.1
 * (filters.py, tests.py, sandbox.py) and CPython (unicodeobject.c, floatobject.c). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>
#include "template/jinja_int.h"

/* ------------------------------------------------------------------ errors, memory */

void jfail(J *j, int line, int col, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) err_set(j->e, ERR_FORMAT, "chat template line %d, column %d: %s", line, col, msg);
    else err_set(j->e, ERR_FORMAT, "chat template: %s", msg);
    longjmp(j->jb, 1);
}

void jfailv(J *j, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jfail(j, j->line, j->col, "%s", msg);
}

void step(J *j) {
    if (++j->steps > j->max_steps)
        jfailv(j, "the template ran more than %ld loop iterations/calls (a limit against runaway templates)", j->max_steps);
}

void *jalloc(J *j, size_t n) {
    n = (n + 15) & ~(size_t)15;
    ABlock *b = j->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (j->mem_used + cap + sizeof(ABlock) > j->mem_cap)
            jfailv(j, "the template needs more than %zu MiB of memory (a limit against runaway templates)",
                   j->mem_cap >> 20);
        b = malloc(sizeof(ABlock) + 16 + cap);
        if (!b) jfailv(j, "out of memory");
        b->cap = cap;
        b->used = 0;
        b->next = j->blocks;
        j->blocks = b;
        j->mem_used += cap + sizeof(ABlock);
    }
    char *base = (char *)b + ((sizeof(ABlock) + 15) & ~(size_t)15);
    void *p = base + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

Str *jstr(J *j, const char *p, size_t n) {
    Str *s = jalloc(j, sizeof(Str) + n + 1);
    s->n = n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = 0;
    return s;
}
Str *jstrz(J *j, const char *s) { return jstr(j, s, strlen(s)); }

Val v_undef(const char *msg) { Val v = {.t = V_UNDEF}; v.u.un = msg; return v; }
Val v_none(void) { Val v = {.t = V_NONE}; return v; }
Val v_bool(bool b) { Val v = {.t = V_BOOL}; v.u.b = b; return v; }
Val v_int(int64_t i) { Val v = {.t = V_INT}; v.u.i = i; return v; }
Val v_float(double f) { Val v = {.t = V_FLOAT}; v.u.f = f; return v; }
Val v_str(const Str *s) { Val v = {.t = V_STR}; v.u.s = s; return v; }
Val v_strn(J *j, const char *p, size_t n) { return v_str(jstr(j, p, n)); }
Val v_strz(J *j, const char *s) { return v_str(jstrz(j, s)); }
Val v_list(J *j, size_t n, bool tuple) {
    Val v = {.t = V_LIST};
    v.u.l = jalloc(j, sizeof(List));
    v.u.l->n = n;
    v.u.l->tuple = tuple;
    v.u.l->v = n ? jalloc(j, n * sizeof(Val)) : NULL;
    return v;
}
Val v_dict(J *j) { Val v = {.t = V_DICT}; v.u.d = jalloc(j, sizeof(Dict)); return v; }

static uint64_t val_hashable_check(J *j, Val k) {
    if (k.t == V_LIST && !k.u.l->tuple) jfailv(j, "unhashable type: 'list'");
    if (k.t == V_DICT || k.t == V_NS) jfailv(j, "unhashable type: 'dict'");
    return 0;
}

Val *dict_get(Dict *d, Val k) {
    for (size_t i = 0; i < d->n; i++) {
        Val a = d->k[i];
        if (a.t == V_STR && k.t == V_STR) {
            if (a.u.s->n == k.u.s->n && !memcmp(a.u.s->p, k.u.s->p, a.u.s->n)) return &d->v[i];
        } else if ((a.t == V_INT || a.t == V_BOOL) && (k.t == V_INT || k.t == V_BOOL)) {
            int64_t x = a.t == V_INT ? a.u.i : a.u.b, y = k.t == V_INT ? k.u.i : k.u.b;
            if (x == y) return &d->v[i];
        } else if (a.t == V_NONE && k.t == V_NONE) return &d->v[i];
        else if (a.t == V_FLOAT && k.t == V_FLOAT && a.u.f == k.u.f) return &d->v[i];
    }
    return NULL;
}

Val *dict_gets(Dict *d, const char *key, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == V_STR && d->k[i].u.s->n == n && !memcmp(d->k[i].u.s->p, key, n)) return &d->v[i];
    return NULL;
}

void dict_set(J *j, Dict *d, Val k, Val v) {
    val_hashable_check(j, k);
    Val *p = dict_get(d, k);
    if (p) { *p = v; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        Val *nk = jalloc(j, cap * sizeof(Val)), *nv = jalloc(j, cap * sizeof(Val));
        if (d->n) { memcpy(nk, d->k, d->n * sizeof(Val)); memcpy(nv, d->v, d->n * sizeof(Val)); }
        d->k = nk; d->v = nv; d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n] = v;
    d->n++;
}

const char *type_name(Val v) {
    switch (v.t) {
    case V_UNDEF: return "Undefined";
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "str";
    case V_LIST: return v.u.l->tuple ? "tuple" : "list";
    case V_DICT: return "dict";
    case V_NS: return "Namespace";
    case V_MACRO: return "Macro";
    case V_FUNC: return "function";
    case V_METHOD: return "method";
    case V_LOOP: return "LoopContext";
    }
    return "object";
}

bool truthy(J *j, Val v) {
    (void)j;
    switch (v.t) {
    case V_UNDEF: case V_NONE: return false;
    case V_BOOL: return v.u.b;
    case V_INT: return v.u.i != 0;
    case V_FLOAT: return v.u.f != 0.0;
    case V_STR: return v.u.s->n != 0;
    case V_LIST: return v.u.l->n != 0;
    case V_DICT: return v.u.d->n != 0;
    default: return true;
    }
}

bool is_num(Val v) { return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL; }
double num_f(Val v) { return v.t == V_FLOAT ? v.u.f : v.t == V_INT ? (double)v.u.i : (double)v.u.b; }

/* Comparisons recurse into lists and dicts: a bound keeps a template-built nesting of
 * millions of levels from exhausting the C stack (Python stops at its recursion limit too). */
#define CMP_MAX_DEPTH 500

static bool val_eq_d(J *j, Val a, Val b, int depth) {
    if (depth > CMP_MAX_DEPTH) jfailv(j, "values nested too deeply to compare");
    if (is_num(a) && is_num(b)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT) return (a.t == V_INT ? a.u.i : a.u.b) == (b.t == V_INT ? b.u.i : b.u.b);
        return num_f(a) == num_f(b);
    }
    if (a.t != b.t) return false;
    switch (a.t) {
    case V_UNDEF: case V_NONE: return true;
    case V_STR: return a.u.s->n == b.u.s->n && !memcmp(a.u.s->p, b.u.s->p, a.u.s->n);
    case V_LIST:
        if (a.u.l->tuple != b.u.l->tuple || a.u.l->n != b.u.l->n) return false;
        for (size_t i = 0; i < a.u.l->n; i++) if (!val_eq_d(j, a.u.l->v[i], b.u.l->v[i], depth + 1)) return false;
        return true;
    case V_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            Val *o = dict_get(b.u.d, a.u.d->k[i]);
            if (!o || !val_eq_d(j, a.u.d->v[i], *o, depth + 1)) return false;
        }
        return true;
    case V_NS: return a.u.d == b.u.d;
    case V_MACRO: return a.u.m == b.u.m;
    case V_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

bool val_eq(J *j, Val a, Val b) { return val_eq_d(j, a, b, 0); }

static int val_cmp_d(J *j, Val a, Val b, bool insensitive, int depth) {
    if (depth > CMP_MAX_DEPTH) jfailv(j, "values nested too deeply to compare");
    if (is_num(a) && is_num(b)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT) {
            int64_t x = a.t == V_INT ? a.u.i : a.u.b, y = b.t == V_INT ? b.u.i : b.u.b;
            return x < y ? -1 : x > y;
        }
        double x = num_f(a), y = num_f(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == V_STR && b.t == V_STR) {
        if (insensitive) return str_cmp_lower(j, a.u.s, b.u.s);
        size_t n = a.u.s->n < b.u.s->n ? a.u.s->n : b.u.s->n;
        int c = memcmp(a.u.s->p, b.u.s->p, n);
        if (c) return c < 0 ? -1 : 1;
        return a.u.s->n < b.u.s->n ? -1 : a.u.s->n > b.u.s->n;
    }
    if (a.t == V_LIST && b.t == V_LIST) {
        for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
            if (val_eq_d(j, a.u.l->v[i], b.u.l->v[i], depth + 1)) continue;
            return val_cmp_d(j, a.u.l->v[i], b.u.l->v[i], insensitive, depth + 1);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    if (a.t == V_UNDEF || b.t == V_UNDEF) jfailv(j, "%s", a.t == V_UNDEF ? a.u.un : b.u.un);
    jfailv(j, "'<' not supported between instances of '%s' and '%s'", type_name(a), type_name(b));
}

int val_cmp(J *j, Val a, Val b, bool insensitive) { return val_cmp_d(j, a, b, insensitive, 0); }

/* ------------------------------------------------------------------ buffers, UTF-8 */

void buf_put(J *j, Buf *b, const char *p, size_t n) {
    if (!n) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) {
            if (cap > ((size_t)1 << 40)) jfailv(j, "string too large");
            cap *= 2;
        }
        char *np = jalloc(j, cap);
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}
void buf_puts(J *j, Buf *b, const char *s) { buf_put(j, b, s, strlen(s)); }
void buf_putc(J *j, Buf *b, char c) { buf_put(j, b, &c, 1); }

void out_put(J *j, Buf *b, const char *p, size_t n) {
    if (b->n + n > j->max_output)
        jfailv(j, "the rendered text exceeds %zu bytes (a limit against runaway templates)", j->max_output);
    buf_put(j, b, p, n);
}

/* Decodes one code point at p[*i]; an invalid byte decodes as itself (U+0080..U+00FF range is
 * not produced for it: it is returned as 0xDC00 + byte, like Python's surrogateescape). */
uint32_t u8_dec(const char *p, size_t n, size_t *i) {
    const unsigned char *s = (const unsigned char *)p;
    size_t k = *i;
    unsigned c = s[k];
    if (c < 0x80) { *i = k + 1; return c; }
    int len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (c >= 0xF5) len = 0;
    if (len && k + (size_t)len <= n) {
        uint32_t cp = c & (0x7Fu >> len);
        bool ok = true;
        for (int t = 1; t < len; t++) {
            if ((s[k + (size_t)t] & 0xC0) != 0x80) { ok = false; break; }
            cp = (cp << 6) | (s[k + (size_t)t] & 0x3Fu);
        }
        if (ok && !((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) {
            *i = k + (size_t)len;
            return cp;
        }
    }
    *i = k + 1;
    return 0xDC00u + c;
}

void u8_put(J *j, Buf *b, uint32_t cp) {
    char t[4];
    size_t n;
    if (cp >= 0xDC80 && cp <= 0xDCFF) { t[0] = (char)(cp - 0xDC00); n = 1; }
    else if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    buf_put(j, b, t, n);
}

size_t u8_len(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n;) { u8_dec(p, n, &i); c++; }
    return c;
}

/* str.isspace(): Unicode White_Space plus the separators Python adds (\x1c-\x1f). */
bool u_isspace(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Decoded code points of s (arena). */
uint32_t *u32_of(J *j, const Str *s, size_t *n) {
    uint32_t *a = jalloc(j, (s->n + 1) * sizeof(uint32_t));
    size_t k = 0;
    for (size_t i = 0; i < s->n;) a[k++] = u8_dec(s->p, s->n, &i);
    *n = k;
    return a;
}
Val str_of_u32(J *j, const uint32_t *a, size_t n) {
    Buf b = {0};
    for (size_t i = 0; i < n; i++) u8_put(j, &b, a[i]);
    return b.n ? v_strn(j, b.p, b.n) : v_strn(j, "", 0);
}

uint32_t u_upper(uint32_t c) { return c >= 0xDC80 && c <= 0xDCFF ? c : (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); }
uint32_t u_lower(uint32_t c) { return c >= 0xDC80 && c <= 0xDCFF ? c : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); }
bool u_isalpha(uint32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

int str_cmp_lower(J *j, const Str *a, const Str *b) {
    size_t na, nb;
    uint32_t *x = u32_of(j, a, &na), *y = u32_of(j, b, &nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        uint32_t p = u_lower(x[i]), q = u_lower(y[i]);
        if (p != q) return p < q ? -1 : 1;
    }
    return na < nb ? -1 : na > nb;
}

/* ------------------------------------------------------------------ printing */

/* Python's repr(float): the shortest digits that round-trip, scientific when the decimal
 * exponent is < -4 or >= 16, "inf"/"nan". */
void py_float_repr(char *out, size_t cap, double x) {
    if (isnan(x)) { snprintf(out, cap, "nan"); return; }
    if (isinf(x)) { snprintf(out, cap, x < 0 ? "-inf" : "inf"); return; }
    if (x == 0) { snprintf(out, cap, signbit(x) ? "-0.0" : "0.0"); return; }
    char tmp[64];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0;
    const char *p = tmp;
    bool neg = false;
    if (*p == '-') { neg = true; p++; }
    for (; *p && *p != 'e'; p++) if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    char *o = out;
    size_t left = cap;
#define EMIT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_; left -= (size_t)w_; } while (0)
    if (neg) EMIT("-");
    if (exp10 < -4 || exp10 >= 16) {
        EMIT("%c", digits[0]);
        if (nd > 1) EMIT(".%s", digits + 1);
        EMIT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 < 0) {
        EMIT("0.");
        for (int k = 0; k < -exp10 - 1; k++) EMIT("0");
        EMIT("%s", digits);
    } else {
        for (int k = 0; k <= exp10; k++) EMIT("%c", k < nd ? digits[k] : '0');
        EMIT(".");
        if (nd > exp10 + 1) EMIT("%s", digits + exp10 + 1);
        else EMIT("0");
    }
#undef EMIT
}

static void repr_str(J *j, Buf *b, const Str *s) {
    bool has_sq = memchr(s->p, '\'', s->n) != NULL, has_dq = memchr(s->p, '"', s->n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    buf_putc(j, b, q);
    for (size_t i = 0; i < s->n;) {
        size_t st = i;
        uint32_t c = u8_dec(s->p, s->n, &i);
        char t[16];
        if (c == (uint32_t)q || c == '\\') { buf_putc(j, b, '\\'); buf_putc(j, b, (char)c); }
        else if (c == '\n') buf_puts(j, b, "\\n");
        else if (c == '\r') buf_puts(j, b, "\\r");
        else if (c == '\t') buf_puts(j, b, "\\t");
        else if (c < 0x20 || c == 0x7f) { snprintf(t, sizeof t, "\\x%02x", c); buf_puts(j, b, t); }
        else if (c >= 0xDC80 && c <= 0xDCFF) { snprintf(t, sizeof t, "\\udc%02x", c & 0xFF); buf_puts(j, b, t); }
        else if (c < 0x80) buf_putc(j, b, (char)c);
        else {
            utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
            bool printable = !(k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
                               k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN || k == UTF8PROC_CATEGORY_ZL ||
                               k == UTF8PROC_CATEGORY_ZP || k == UTF8PROC_CATEGORY_ZS);
            if (printable) buf_put(j, b, s->p + st, i - st);
            else {
                if (c < 0x100) snprintf(t, sizeof t, "\\x%02x", c);
                else if (c < 0x10000) snprintf(t, sizeof t, "\\u%04x", c);
                else snprintf(t, sizeof t, "\\U%08x", c);
                buf_puts(j, b, t);
            }
        }
    }
    buf_putc(j, b, q);
}

static void print_val(J *j, Buf *b, Val v, bool repr, int depth) {
    char t[64];
    if (depth > 200) jfailv(j, "value nested too deeply to print");
    switch (v.t) {
    case V_UNDEF: if (repr) buf_puts(j, b, "Undefined"); return;
    case V_NONE: buf_puts(j, b, "None"); return;
    case V_BOOL: buf_puts(j, b, v.u.b ? "True" : "False"); return;
    case V_INT: snprintf(t, sizeof t, "%lld", (long long)v.u.i); buf_puts(j, b, t); return;
    case V_FLOAT: py_float_repr(t, sizeof t, v.u.f); buf_puts(j, b, t); return;
    case V_STR: if (repr) repr_str(j, b, v.u.s); else buf_put(j, b, v.u.s->p, v.u.s->n); return;
    case V_LIST:
        buf_putc(j, b, v.u.l->tuple ? '(' : '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) buf_puts(j, b, ", ");
            print_val(j, b, v.u.l->v[i], true, depth + 1);
        }
        if (v.u.l->tuple && v.u.l->n == 1) buf_putc(j, b, ',');
        buf_putc(j, b, v.u.l->tuple ? ')' : ']');
        return;
    case V_DICT: case V_NS:
        buf_puts(j, b, v.t == V_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i) buf_puts(j, b, ", ");
            print_val(j, b, v.u.d->k[i], true, depth + 1);
            buf_puts(j, b, ": ");
            print_val(j, b, v.u.d->v[i], true, depth + 1);
        }
        buf_puts(j, b, v.t == V_NS ? "}>" : "}");
        return;
    case V_MACRO: buf_puts(j, b, "<Macro>"); return;
    case V_FUNC: buf_puts(j, b, "<function>"); return;
    case V_METHOD: buf_puts(j, b, "<built-in method>"); return;
    case V_LOOP: buf_puts(j, b, "<LoopContext>"); return;
    }
}

void val_str(J *j, Buf *b, Val v) { print_val(j, b, v, false, 0); }
void val_repr(J *j, Buf *b, Val v) { print_val(j, b, v, true, 0); }

Str *to_str(J *j, Val v) {
    if (v.t == V_STR) return (Str *)v.u.s;
    Buf b = {0};
    val_str(j, &b, v);
    return jstr(j, b.p ? b.p : "", b.n);
}

/* ------------------------------------------------------------------ JSON */

typedef struct { J *j; const char *s; size_t n, i; const char *what; int depth; } JP;

__attribute__((noreturn)) static void jp_fail(JP *p, const char *msg) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < p->i && k < p->n; k++) { if (p->s[k] == '\n') { line++; col = 1; } else col++; }
    jfail(p->j, 0, 0, "%s: invalid JSON at line %zu, column %zu: %s", p->what, line, col, msg);
}
static void jp_ws(JP *p) { while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++; }

static unsigned jp_hex4(JP *p) {
    if (p->i + 4 > p->n) jp_fail(p, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if ((c | 32) >= 'a' && (c | 32) <= 'f') v |= (unsigned)((c | 32) - 'a' + 10);
        else jp_fail(p, "bad \\u escape");
    }
    return v;
}

static Str *jp_string(JP *p) {
    Buf b = {0};
    p->i++;  /* opening quote */
    for (;;) {
        if (p->i >= p->n) jp_fail(p, "unterminated string");
        char c = p->s[p->i];
        if (c == '"') { p->i++; break; }
        if ((unsigned char)c < 0x20) jp_fail(p, "control character in string");
        if (c != '\\') {
            size_t st = p->i;
            while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && (unsigned char)p->s[p->i] >= 0x20) p->i++;
            buf_put(p->j, &b, p->s + st, p->i - st);
            continue;
        }
        p->i++;
        if (p->i >= p->n) jp_fail(p, "unterminated escape");
        char e = p->s[p->i++];
        switch (e) {
        case '"': buf_putc(p->j, &b, '"'); break;
        case '\\': buf_putc(p->j, &b, '\\'); break;
        case '/': buf_putc(p->j, &b, '/'); break;
        case 'b': buf_putc(p->j, &b, '\b'); break;
        case 'f': buf_putc(p->j, &b, '\f'); break;
        case 'n': buf_putc(p->j, &b, '\n'); break;
        case 'r': buf_putc(p->j, &b, '\r'); break;
        case 't': buf_putc(p->j, &b, '\t'); break;
        case 'u': {
            unsigned cp = jp_hex4(p);
            if (cp >= 0xD800 && cp < 0xDC00 && p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u') {
                size_t save = p->i;
                p->i += 2;
                unsigned lo = jp_hex4(p);
                if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else p->i = save;
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  /* a lone surrogate cannot be UTF-8 */
            u8_put(p->j, &b, cp);
            break;
        }
        default: jp_fail(p, "bad escape");
        }
    }
    return jstr(p->j, b.p ? b.p : "", b.n);
}

static Val jp_value(JP *p) {
    jp_ws(p);
    if (p->i >= p->n) jp_fail(p, "unexpected end");
    if (++p->depth > 500) jp_fail(p, "nested too deeply");
    char c = p->s[p->i];
    Val r;
    if (c == '{') {
        r = v_dict(p->j);
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == '}') { p->i++; p->depth--; return r; }
        for (;;) {
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') jp_fail(p, "expected a string key");
            Str *k = jp_string(p);
            jp_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') jp_fail(p, "expected ':'");
            p->i++;
            Val v = jp_value(p);
            dict_set(p->j, r.u.d, v_str(k), v);
            jp_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
            if (p->i < p->n && p->s[p->i] == '}') { p->i++; break; }
            jp_fail(p, "expected ',' or '}'");
        }
    } else if (c == '[') {
        p->i++;
        Val *items = NULL;
        size_t n = 0, cap = 0;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == ']') p->i++;
        else for (;;) {
            Val v = jp_value(p);
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                Val *ni = jalloc(p->j, cap * sizeof(Val));
                if (n) memcpy(ni, items, n * sizeof(Val));
                items = ni;
            }
            items[n++] = v;
            jp_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
            if (p->i < p->n && p->s[p->i] == ']') { p->i++; break; }
            jp_fail(p, "expected ',' or ']'");
        }
        r = v_list(p->j, 0, false);
        r.u.l->n = n;
        r.u.l->v = items;
    } else if (c == '"') {
        r = v_str(jp_string(p));
    } else if (c == 't' && p->n - p->i >= 4 && !memcmp(p->s + p->i, "true", 4)) { p->i += 4; r = v_bool(true); }
    else if (c == 'f' && p->n - p->i >= 5 && !memcmp(p->s + p->i, "false", 5)) { p->i += 5; r = v_bool(false); }
    else if (c == 'n' && p->n - p->i >= 4 && !memcmp(p->s + p->i, "null", 4)) { p->i += 4; r = v_none(); }
    else if (c == 'N' && p->n - p->i >= 3 && !memcmp(p->s + p->i, "NaN", 3)) { p->i += 3; r = v_float(NAN); }
    else if (c == 'I' && p->n - p->i >= 8 && !memcmp(p->s + p->i, "Infinity", 8)) { p->i += 8; r = v_float(INFINITY); }
    else if (c == '-' && p->n - p->i >= 9 && !memcmp(p->s + p->i, "-Infinity", 9)) { p->i += 9; r = v_float(-INFINITY); }
    else if (c == '-' || (c >= '0' && c <= '9')) {
        size_t st = p->i;
        bool isf = false;
        if (p->s[p->i] == '-') p->i++;
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        if (p->i < p->n && p->s[p->i] == '.') {
            isf = true;
            p->i++;
            if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        }
        if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
            isf = true;
            p->i++;
            if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
            if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') jp_fail(p, "bad number");
            while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
        }
        char tmp[400];
        size_t len = p->i - st;
        if (len >= sizeof tmp) jp_fail(p, "number too long");
        memcpy(tmp, p->s + st, len);
        tmp[len] = 0;
        if (isf) r = v_float(strtod(tmp, NULL));
        else {
            char *end;
            long long x = strtoll(tmp, &end, 10);
            if ((x == LLONG_MAX || x == LLONG_MIN) && len > 18) jp_fail(p, "integer too large (more than 64 bits)");
            r = v_int(x);
        }
    } else jp_fail(p, "unexpected character");
    p->depth--;
    return r;
}

Val json_parse(J *j, const char *s, size_t n, const char *what) {
    JP p = {j, s, n, 0, what, 0};
    Val v = jp_value(&p);
    jp_ws(&p);
    if (p.i != p.n) jp_fail(&p, "extra data after the value");
    return v;
}

static void json_str(J *j, Buf *b, const char *s, size_t n) {
    buf_putc(j, b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char t[8];
        switch (c) {
        case '"': buf_puts(j, b, "\\\""); break;
        case '\\': buf_puts(j, b, "\\\\"); break;
        case '\n': buf_puts(j, b, "\\n"); break;
        case '\r': buf_puts(j, b, "\\r"); break;
        case '\t': buf_puts(j, b, "\\t"); break;
        case '\b': buf_puts(j, b, "\\b"); break;
        case '\f': buf_puts(j, b, "\\f"); break;
        default:
            if (c < 0x20) { snprintf(t, sizeof t, "\\u%04x", c); buf_puts(j, b, t); }
            else buf_putc(j, b, (char)c);
        }
    }
    buf_putc(j, b, '"');
}

static void json_indent(J *j, Buf *b, int indent, int level) {
    buf_putc(j, b, '\n');
    for (int k = 0; k < indent * level; k++) buf_putc(j, b, ' ');
}

/* json.dumps(v, ensure_ascii=False, indent=indent (<0: None), sort_keys, separators). */
void json_dump(J *j, Buf *b, Val v, int indent, int level, bool sort_keys, const char *item_sep, const char *key_sep) {
    char t[64];
    if (level > 200) jfailv(j, "tojson: value nested too deeply");
    switch (v.t) {
    case V_NONE: buf_puts(j, b, "null"); return;
    case V_BOOL: buf_puts(j, b, v.u.b ? "true" : "false"); return;
    case V_INT: snprintf(t, sizeof t, "%lld", (long long)v.u.i); buf_puts(j, b, t); return;
    case V_FLOAT:
        if (isnan(v.u.f)) buf_puts(j, b, "NaN");
        else if (isinf(v.u.f)) buf_puts(j, b, v.u.f < 0 ? "-Infinity" : "Infinity");
        else { py_float_repr(t, sizeof t, v.u.f); buf_puts(j, b, t); }
        return;
    case V_STR: json_str(j, b, v.u.s->p, v.u.s->n); return;
    case V_LIST:
        if (!v.u.l->n) { buf_puts(j, b, "[]"); return; }
        buf_putc(j, b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i) buf_puts(j, b, item_sep);
            if (indent >= 0) json_indent(j, b, indent, level + 1);
            json_dump(j, b, v.u.l->v[i], indent, level + 1, sort_keys, item_sep, key_sep);
        }
        if (indent >= 0) json_indent(j, b, indent, level);
        buf_putc(j, b, ']');
        return;
    case V_DICT: {
        Dict *d = v.u.d;
        if (!d->n) { buf_puts(j, b, "{}"); return; }
        size_t *ord = jalloc(j, d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (sort_keys)  /* insertion sort: stable, dicts are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t k = i; k > 0 && val_cmp(j, d->k[ord[k - 1]], d->k[ord[k]], false) > 0; k--) {
                    size_t x = ord[k]; ord[k] = ord[k - 1]; ord[k - 1] = x;
                }
        buf_putc(j, b, '{');
        for (size_t ii = 0; ii < d->n; ii++) {
            size_t i = ord[ii];
            if (ii) buf_puts(j, b, item_sep);
            if (indent >= 0) json_indent(j, b, indent, level + 1);
            Val k = d->k[i];
            if (k.t == V_STR) json_str(j, b, k.u.s->p, k.u.s->n);
            else if (k.t == V_INT || k.t == V_FLOAT || k.t == V_BOOL || k.t == V_NONE) {
                Buf kb = {0};
                json_dump(j, &kb, k, -1, 0, false, ", ", ": ");
                json_str(j, b, kb.p, kb.n);
            } else jfailv(j, "keys must be str, int, float, bool or None, not %s", type_name(k));
            buf_puts(j, b, key_sep);
            json_dump(j, b, d->v[i], indent, level + 1, sort_keys, item_sep, key_sep);
        }
        if (indent >= 0) json_indent(j, b, indent, level);
        buf_putc(j, b, '}');
        return;
    }
    default: jfailv(j, "Object of type %s is not JSON serializable", type_name(v));
    }
}

