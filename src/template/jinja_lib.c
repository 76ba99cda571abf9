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

static bool is_num(Val v) { return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL; }
static double num_f(Val v) { return v.t == V_FLOAT ? v.u.f : v.t == V_INT ? (double)v.u.i : (double)v.u.b; }

bool val_eq(J *j, Val a, Val b) {
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
        for (size_t i = 0; i < a.u.l->n; i++) if (!val_eq(j, a.u.l->v[i], b.u.l->v[i])) return false;
        return true;
    case V_DICT:
        if (a.u.d->n != b.u.d->n) return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            Val *o = dict_get(b.u.d, a.u.d->k[i]);
            if (!o || !val_eq(j, a.u.d->v[i], *o)) return false;
        }
        return true;
    case V_NS: return a.u.d == b.u.d;
    case V_MACRO: return a.u.m == b.u.m;
    case V_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

static int str_cmp_lower(J *j, const Str *a, const Str *b);

int val_cmp(J *j, Val a, Val b, bool insensitive) {
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
            if (val_eq(j, a.u.l->v[i], b.u.l->v[i])) continue;
            return val_cmp(j, a.u.l->v[i], b.u.l->v[i], insensitive);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    if (a.t == V_UNDEF || b.t == V_UNDEF) jfailv(j, "%s", a.t == V_UNDEF ? a.u.un : b.u.un);
    jfailv(j, "'<' not supported between instances of '%s' and '%s'", type_name(a), type_name(b));
}

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
static uint32_t *u32_of(J *j, const Str *s, size_t *n) {
    uint32_t *a = jalloc(j, (s->n + 1) * sizeof(uint32_t));
    size_t k = 0;
    for (size_t i = 0; i < s->n;) a[k++] = u8_dec(s->p, s->n, &i);
    *n = k;
    return a;
}
static Val str_of_u32(J *j, const uint32_t *a, size_t n) {
    Buf b = {0};
    for (size_t i = 0; i < n; i++) u8_put(j, &b, a[i]);
    return b.n ? v_strn(j, b.p, b.n) : v_strn(j, "", 0);
}

static uint32_t u_upper(uint32_t c) { return c >= 0xDC80 && c <= 0xDCFF ? c : (uint32_t)utf8proc_toupper((utf8proc_int32_t)c); }
static uint32_t u_lower(uint32_t c) { return c >= 0xDC80 && c <= 0xDCFF ? c : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c); }
static bool u_isalpha(uint32_t c) {
    if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static bool u_iscased_letter(uint32_t c) { return u_upper(c) != c || u_lower(c) != c || u_isalpha(c); }

static int str_cmp_lower(J *j, const Str *a, const Str *b) {
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

/* ------------------------------------------------------------------ argument helpers */

Val arg_get(const Args *a, int idx, const char *name, Val dflt) {
    if (idx >= 0 && idx < a->npos) return a->pos[idx];
    for (int k = 0; name && k < a->nkw; k++)
        if (!strcmp(a->kwn[k]->p, name)) return a->kwv[k];
    return dflt;
}

static const Str *arg_str(J *j, const Args *a, int idx, const char *name, const char *dflt, const char *fn) {
    Val v = arg_get(a, idx, name, v_undef(NULL));
    if (v.t == V_UNDEF) return dflt ? jstrz(j, dflt) : NULL;
    if (v.t == V_NONE && dflt == NULL) return NULL;
    if (v.t != V_STR) jfailv(j, "%s: argument '%s' must be a string, not %s", fn, name ? name : "?", type_name(v));
    return v.u.s;
}

static int64_t arg_int(J *j, const Args *a, int idx, const char *name, int64_t dflt, const char *fn) {
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

static size_t val_len(J *j, Val v) {
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
static Val py_strip(J *j, const Str *s, const Str *chars, int which) {
    size_t n, nc = 0;
    uint32_t *a = u32_of(j, s, &n);
    uint32_t *c = chars ? u32_of(j, chars, &nc) : NULL;
    size_t lo = 0, hi = n;
    if (which & 1) while (lo < hi && (c ? in_set(a[lo], c, nc) : u_isspace(a[lo]))) lo++;
    if (which & 2) while (hi > lo && (c ? in_set(a[hi - 1], c, nc) : u_isspace(a[hi - 1]))) hi--;
    return str_of_u32(j, a + lo, hi - lo);
}

static const char *mem_find(const char *h, size_t hn, const char *nd, size_t nn) {
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

static Val py_split(J *j, const Str *s, const Str *sep, int64_t maxsplit, bool right) {
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
                    size_t hi = nc;
                    while (hi > i && u_isspace(a[hi - 1])) hi--;
                    Val v = str_of_u32(j, a + i, hi - i);
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
                    size_t lo = 0;
                    while (lo < i && u_isspace(a[lo])) lo++;
                    Val v = str_of_u32(j, a + lo, i - lo);
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

static Val py_replace(J *j, const Str *s, const Str *old, const Str *nw, int64_t count) {
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

static Val py_case(J *j, const Str *s, int mode) {  /* 0 lower 1 upper 2 capitalize 3 str.title 4 swapcase */
    size_t n;
    uint32_t *a = u32_of(j, s, &n);
    bool prev_cased = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = a[i];
        switch (mode) {
        case 0: a[i] = u_lower(c); break;
        case 1: a[i] = u_upper(c); break;
        case 2: a[i] = i == 0 ? u_upper(c) : u_lower(c); break;
        case 3: a[i] = prev_cased ? u_lower(c) : u_upper(c); prev_cased = u_iscased_letter(c); break;
        default: a[i] = u_upper(c) != c ? u_upper(c) : u_lower(c); break;
        }
    }
    return str_of_u32(j, a, n);
}

/* jinja's title filter: words start after whitespace or one of - ( { [ < */
static Val jinja_title(J *j, const Str *s) {
    size_t n;
    uint32_t *a = u32_of(j, s, &n);
    bool start = true;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = a[i];
        bool sep = u_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) { start = true; continue; }
        a[i] = start ? u_upper(c) : u_lower(c);
        start = false;
    }
    return str_of_u32(j, a, n);
}

static bool str_starts(const Str *s, const Str *p) { return p->n <= s->n && !memcmp(s->p, p->p, p->n); }
static bool str_ends(const Str *s, const Str *p) { return p->n <= s->n && !memcmp(s->p + s->n - p->n, p->p, p->n); }

static bool affix_test(J *j, const Str *s, Val arg, bool ends, const char *fn) {
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
static Val py_format(J *j, const Str *s, const Args *a) {
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

static bool in_names(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++) if (!strcmp(names[i], s)) return true;
    return false;
}

static Val bind_method(J *j, Val self, const char *name) {
    Val v = {.t = V_METHOD};
    v.u.me = jalloc(j, sizeof(Method));
    v.u.me->self = self;
    v.u.me->name = jstrz(j, name)->p;
    return v;
}

static Val undef_msg(J *j, const char *fmt, const char *a, const char *b) {
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
static size_t slice_indices(J *j, int64_t n, Val start, Val stop, Val stepv, int64_t **out) {
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

static Val pairs_of_dict(J *j, Dict *d) {
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
            Val r = py_split(j, s, jstrz(j, "\n"), -1, false);
            if (r.u.l->n && r.u.l->v[r.u.l->n - 1].u.s->n == 0) r.u.l->n--;
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
        if (!strcmp(nm, "lower") || !strcmp(nm, "casefold")) return py_case(j, s, 0);
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
    if (j->now_set) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
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

/* ------------------------------------------------------------------ filters */

static const char *const FILTERS[] = {"abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort",
    "e", "escape", "first", "float", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
    "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", "forceescape", "striptags", "truncate", NULL};
static const char *const TESTS[] = {"boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even",
    "false", "filter", "float", "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lower", "lessthan", "lt",
    "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper",
    "==", "!=", "<", "<=", ">", ">=", NULL};

bool filter_exists(const char *name) { return in_names(FILTERS, name); }
bool test_exists(const char *name) { return in_names(TESTS, name); }

static Val html_escape(J *j, Val v) {
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
static Val attr_path(J *j, Val v, const Str *path) {
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

static Val to_int(J *j, Val v, Val dflt, int64_t base) {
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

static Val to_float(J *j, Val v, Val dflt) {
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
            if (!is_num(x) || !is_num(acc)) jfailv(j, "sum: unsupported operand types");
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
        /* printf-style: only %s and %d and %% */
        Str *s = to_str(j, v);
        Buf b = {0};
        int ai = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->p[i] != '%' || i + 1 >= s->n) { buf_putc(j, &b, s->p[i]); continue; }
            char c = s->p[++i];
            if (c == '%') { buf_putc(j, &b, '%'); continue; }
            if (c != 's' && c != 'd') jfailv(j, "format filter: only %%s and %%d are supported");
            Val x = arg_get(a, ai++, NULL, v_undef(NULL));
            if (x.t == V_UNDEF) jfailv(j, "not enough arguments for format string");
            if (c == 'd') x = to_int(j, x, x, 10);
            val_str(j, &b, x);
        }
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    if (!strcmp(name, "striptags") || !strcmp(name, "truncate"))
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
