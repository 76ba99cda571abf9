/* Jinja lexer, parser and evaluator (see jinja.h). The lexer follows jinja2 3.1's (lexer.py):
 * newlines normalized to \n and one trailing newline dropped, `{%-`/`{{-`/`{#-` strip the
 * whitespace before, `-%}`/`-}}`/`-#}` the whitespace after, trim_blocks drops the first
 * newline after a block or comment tag (`+%}` keeps it), lstrip_blocks drops spaces and tabs
 * before a block or comment tag that starts its line (`{%+` keeps them). The parser is
 * jinja2's grammar (parser.py) for expressions and the statements chat templates use; the
 * evaluator gives loops and macros their own scopes as jinja2 does. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template/jinja_int.h"

/* ================================================================== lexer */

enum { T_DATA, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };

typedef struct Tok {
    int t, line, col;
    const char *p;   /* T_NAME / T_OP: the source text */
    size_t n;
    Str *s;          /* T_DATA / T_STR: the text */
    int64_t i;
    double f;
} Tok;

typedef struct Lx {
    J *j;
    const char *s;
    size_t n;
    size_t pos;
    size_t lc_pos;
    int lc_line, lc_col;
    Tok *toks;
    size_t nt, cap;
} Lx;

static void lx_where(Lx *lx, size_t pos, int *line, int *col) {
    if (pos < lx->lc_pos) { lx->lc_pos = 0; lx->lc_line = 1; lx->lc_col = 1; }
    while (lx->lc_pos < pos && lx->lc_pos < lx->n) {
        unsigned char c = (unsigned char)lx->s[lx->lc_pos++];
        if (c == '\n') { lx->lc_line++; lx->lc_col = 1; }
        else if ((c & 0xC0) != 0x80) lx->lc_col++;
    }
    *line = lx->lc_line;
    *col = lx->lc_col;
}

__attribute__((noreturn)) static void lx_fail(Lx *lx, size_t pos, const char *msg) {
    int line, col;
    lx_where(lx, pos, &line, &col);
    jfail(lx->j, line, col, "%s", msg);
}

static Tok *lx_push(Lx *lx, int t, size_t pos) {
    if (lx->nt == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        Tok *nt = jalloc(lx->j, cap * sizeof(Tok));
        if (lx->nt) memcpy(nt, lx->toks, lx->nt * sizeof(Tok));
        lx->toks = nt;
        lx->cap = cap;
    }
    Tok *k = &lx->toks[lx->nt++];
    memset(k, 0, sizeof *k);
    k->t = t;
    lx_where(lx, pos, &k->line, &k->col);
    return k;
}

static bool ws_at(const char *s, size_t n, size_t i, size_t *len) {
    size_t k = i;
    uint32_t c = u8_dec(s, n, &k);
    *len = k - i;
    return u_isspace(c);
}

/* end of the whitespace run starting at i */
static size_t skip_ws(const char *s, size_t n, size_t i) {
    size_t l;
    while (i < n && ws_at(s, n, i, &l)) i += l;
    return i;
}

/* length of text after stripping trailing whitespace (Python's str.rstrip()) */
static size_t rstrip_len(const char *s, size_t n) {
    size_t end = n, i = 0, l;
    while (i < n) {
        if (ws_at(s, n, i, &l)) i += l;
        else { i += l; end = i; }
    }
    /* end = position after the last non-space character */
    size_t last = 0;
    i = 0;
    while (i < n) {
        bool w = ws_at(s, n, i, &l);
        i += l;
        if (!w) last = i;
    }
    (void)end;
    return last;
}

static void lx_data(Lx *lx, size_t from, const char *p, size_t n) {
    if (!n) return;
    Tok *k = lx_push(lx, T_DATA, from);
    k->s = jstr(lx->j, p, n);
}

/* Python unicode-escape of a string literal body */
static Str *lx_unescape(Lx *lx, size_t at, const char *p, size_t n) {
    J *j = lx->j;
    Buf b = {0};
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != '\\' || i + 1 >= n) { buf_putc(j, &b, c); continue; }
        char e = p[++i];
        switch (e) {
        case '\n': break;
        case '\\': buf_putc(j, &b, '\\'); break;
        case '\'': buf_putc(j, &b, '\''); break;
        case '"': buf_putc(j, &b, '"'); break;
        case 'a': buf_putc(j, &b, '\a'); break;
        case 'b': buf_putc(j, &b, '\b'); break;
        case 'f': buf_putc(j, &b, '\f'); break;
        case 'n': buf_putc(j, &b, '\n'); break;
        case 'r': buf_putc(j, &b, '\r'); break;
        case 't': buf_putc(j, &b, '\t'); break;
        case 'v': buf_putc(j, &b, '\v'); break;
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < nd; k++) {
                if (i + 1 >= n) lx_fail(lx, at, "truncated \\x/\\u escape in a string");
                char h = p[++i];
                cp <<= 4;
                if (h >= '0' && h <= '9') cp |= (uint32_t)(h - '0');
                else if ((h | 32) >= 'a' && (h | 32) <= 'f') cp |= (uint32_t)((h | 32) - 'a' + 10);
                else lx_fail(lx, at, "bad \\x/\\u escape in a string");
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) lx_fail(lx, at, "escape is not a valid character");
            u8_put(j, &b, cp);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7'; k++) cp = cp * 8 + (uint32_t)(p[++i] - '0');
                u8_put(j, &b, cp);
            } else { buf_putc(j, &b, '\\'); buf_putc(j, &b, e); }
        }
    }
    return jstr(j, b.p ? b.p : "", b.n);
}

static const char *const OPS[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                                  "{", "}", "<", ">", "=", ".", ":", "|", ",", ";", NULL};

/* Tokens of one tag from pos up to its end; returns the position after the end marker. */
static size_t lx_tag(Lx *lx, size_t pos, bool block, bool *trailing_newline) {
    const char *s = lx->s;
    size_t n = lx->n;
    int balance = 0;
    size_t start = pos;
    for (;;) {
        pos = skip_ws(s, n, pos);
        if (pos >= n) lx_fail(lx, start, block ? "unexpected end of template: the block tag is not closed with %}"
                                             : "unexpected end of template: the expression is not closed with }}");
        if (balance == 0) {
            const char *end = block ? "%}" : "}}";
            if (s[pos] == '-' && pos + 2 < n && !memcmp(s + pos + 1, end, 2)) {
                lx_push(lx, block ? T_BEND : T_VEND, pos);
                size_t after = skip_ws(s, n, pos + 3);
                *trailing_newline = after > pos + 3 && s[after - 1] == '\n';
                return after;
            }
            if (block && s[pos] == '+' && pos + 2 < n && !memcmp(s + pos + 1, end, 2)) {
                lx_push(lx, T_BEND, pos);
                *trailing_newline = false;
                return pos + 3;
            }
            if (pos + 1 < n && !memcmp(s + pos, end, 2)) {
                lx_push(lx, block ? T_BEND : T_VEND, pos);
                pos += 2;
                *trailing_newline = false;
                if (block && pos < n && s[pos] == '\n') { pos++; *trailing_newline = true; }
                return pos;
            }
        }
        char c = s[pos];
        if (c == '\'' || c == '"') {
            size_t i = pos + 1;
            while (i < n && s[i] != c) { if (s[i] == '\\') i++; i++; }
            if (i >= n) lx_fail(lx, pos, "unterminated string literal");
            Tok *k = lx_push(lx, T_STR, pos);
            k->s = lx_unescape(lx, pos, s + pos + 1, i - pos - 1);
            pos = i + 1;
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t i = pos;
            bool isf = false;
            Buf b = {0};
            int base = 10;
            if (c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X' || s[i + 1] == 'o' || s[i + 1] == 'O' || s[i + 1] == 'b' || s[i + 1] == 'B')) {
                char bc = (char)(s[i + 1] | 32);
                base = bc == 'x' ? 16 : bc == 'o' ? 8 : 2;
                i += 2;
                while (i < n && (s[i] == '_' || (s[i] >= '0' && s[i] <= '9') || (base == 16 && (s[i] | 32) >= 'a' && (s[i] | 32) <= 'f'))) {
                    if (s[i] != '_') buf_putc(lx->j, &b, s[i]);
                    i++;
                }
            } else {
                while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '_' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9'))) {
                    if (s[i] != '_') buf_putc(lx->j, &b, s[i]);
                    i++;
                }
                if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
                    isf = true;
                    buf_putc(lx->j, &b, s[i++]);
                    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) { if (s[i] != '_') buf_putc(lx->j, &b, s[i]); i++; }
                }
                if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                    size_t k = i + 1;
                    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
                    if (k < n && s[k] >= '0' && s[k] <= '9') {
                        isf = true;
                        buf_put(lx->j, &b, s + i, k - i);
                        i = k;
                        while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) { if (s[i] != '_') buf_putc(lx->j, &b, s[i]); i++; }
                    }
                }
            }
            if (!b.n) lx_fail(lx, pos, "bad number");
            Tok *k = lx_push(lx, isf ? T_FLOAT : T_INT, pos);
            if (isf) k->f = strtod(b.p, NULL);
            else {
                char *end;
                unsigned long long x = strtoull(b.p, &end, base);
                if (x > (unsigned long long)INT64_MAX || (x == ULLONG_MAX)) lx_fail(lx, pos, "integer literal too large (more than 63 bits)");
                k->i = (int64_t)x;
            }
            pos = i;
            continue;
        }
        if ((c | 32) >= 'a' && (c | 32) <= 'z' ? true : c == '_') {
            size_t i = pos;
            while (i < n && (((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) i++;
            Tok *k = lx_push(lx, T_NAME, pos);
            k->p = s + pos;
            k->n = i - pos;
            pos = i;
            continue;
        }
        bool found = false;
        for (int o = 0; OPS[o]; o++) {
            size_t l = strlen(OPS[o]);
            if (pos + l <= n && !memcmp(s + pos, OPS[o], l)) {
                if (c == '(' || c == '[' || c == '{') balance++;
                if (c == ')' || c == ']' || c == '}') {
                    if (balance == 0) lx_fail(lx, pos, "unexpected closing bracket");
                    balance--;
                }
                Tok *k = lx_push(lx, T_OP, pos);
                k->p = OPS[o];
                k->n = l;
                pos += l;
                found = true;
                break;
            }
        }
        if (!found) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected character '%c'", (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? c : '?');
            lx_fail(lx, pos, msg);
        }
    }
}

/* is the text at pos "{%<sign>? raw %}" (or endraw)? returns the end position or 0 */
static size_t match_raw(const char *s, size_t n, size_t pos, const char *word, char *sign_out, bool *trim_after) {
    size_t i = pos + 2;
    char sign = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) sign = s[i++];
    i = skip_ws(s, n, i);
    size_t wl = strlen(word);
    if (i + wl > n || memcmp(s + i, word, wl)) return 0;
    i += wl;
    size_t k = skip_ws(s, n, i);
    if (k == i && k < n && s[k] != '-' && s[k] != '%' && s[k] != '+') return 0;
    i = k;
    *trim_after = false;
    if (i + 2 < n && s[i] == '-' && s[i + 1] == '%' && s[i + 2] == '}') { i = skip_ws(s, n, i + 3); }
    else if (i + 2 < n && s[i] == '+' && s[i + 1] == '%' && s[i + 2] == '}') i += 3;
    else if (i + 1 < n && s[i] == '%' && s[i + 1] == '}') { i += 2; *trim_after = true; }
    else return 0;
    *sign_out = sign;
    return i;
}

static void lx_run(Lx *lx) {
    const char *s = lx->s;
    size_t n = lx->n, pos = 0;
    bool line_starting = true;
    while (pos < n) {
        /* find the next tag start */
        size_t t = pos;
        int kind = 0;  /* 1 var 2 block 3 comment */
        while (t + 1 < n) {
            if (s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#')) {
                kind = s[t + 1] == '{' ? 1 : s[t + 1] == '%' ? 2 : 3;
                break;
            }
            t++;
        }
        if (!kind) { lx_data(lx, pos, s + pos, n - pos); break; }
        char sign = t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+') ? s[t + 2] : 0;
        size_t dlen = t - pos;
        if (sign == '-') dlen = rstrip_len(s + pos, dlen);
        else if (sign != '+' && kind != 1) {
            /* lstrip_blocks: drop spaces/tabs between the line start and the tag */
            size_t l = dlen;
            while (l > 0 && s[pos + l - 1] != '\n') l--;
            bool nl_found = l > 0;
            if (nl_found || line_starting) {
                bool only_ws = true;
                for (size_t k = l; k < dlen; k++) if (s[pos + k] != ' ' && s[pos + k] != '\t') { only_ws = false; break; }
                if (only_ws) dlen = l;
            }
        }
        lx_data(lx, pos, s + pos, dlen);
        if (kind == 3) {
            size_t i = t + 2;
            const char *e = NULL;
            while (i + 1 < n) { if (s[i] == '#' && s[i + 1] == '}') { e = s + i; break; } i++; }
            if (!e) lx_fail(lx, t, "missing end of comment tag #}");
            size_t after = i + 2;
            bool dash = i > t + 2 && s[i - 1] == '-';
            bool plus = i > t + 2 && s[i - 1] == '+';
            line_starting = false;
            if (dash) { size_t a2 = skip_ws(s, n, after); line_starting = a2 > after && s[a2 - 1] == '\n'; after = a2; }
            else if (!plus && after < n && s[after] == '\n') { after++; line_starting = true; }
            pos = after;
            continue;
        }
        if (kind == 2) {
            char rsign;
            bool trim;
            size_t rend = match_raw(s, n, t, "raw", &rsign, &trim);
            if (rend) {
                /* raw text up to {% endraw %} */
                size_t k = rend;
                size_t eend = 0;
                char esign = 0;
                bool etrim = false;
                while (k + 1 < n) {
                    if (s[k] == '{' && s[k + 1] == '%' && (eend = match_raw(s, n, k, "endraw", &esign, &etrim))) break;
                    k++;
                }
                if (!eend) lx_fail(lx, t, "missing {% endraw %}");
                size_t rl = k - rend;
                if (esign == '-') rl = rstrip_len(s + rend, rl);
                else if (esign != '+') {
                    size_t l = rl;
                    while (l > 0 && s[rend + l - 1] != '\n') l--;
                    if (l > 0) {
                        bool only_ws = true;
                        for (size_t q = l; q < rl; q++) if (s[rend + q] != ' ' && s[rend + q] != '\t') { only_ws = false; break; }
                        if (only_ws) rl = l;
                    }
                }
                lx_data(lx, rend, s + rend, rl);
                pos = eend;
                line_starting = false;
                if (etrim && pos < n && s[pos] == '\n') { pos++; line_starting = true; }
                else if (pos > 0 && s[pos - 1] == '\n') line_starting = true;
                continue;
            }
        }
        lx_push(lx, kind == 1 ? T_VBEGIN : T_BBEGIN, t);
        bool nl = false;
        pos = lx_tag(lx, t + 2 + (sign ? 1 : 0), kind == 2, &nl);
        line_starting = nl;
    }
    lx_push(lx, T_EOF, n);
}

/* ================================================================== AST */

enum {
    E_CONST, E_NAME, E_LIST, E_TUPLE, E_DICT, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_NEG, E_POS, E_NOT,
    E_BIN, E_CMP, E_AND, E_OR, E_COND, E_CONCAT,
    S_BODY, S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETATTR, S_SETBLOCK, S_MACRO, S_FILTERBLK, S_BREAK, S_CONTINUE, S_WITH
};
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW,
       C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN };

struct Node {
    int k, line, col, op;
    bool flag;
    Node *a, *b, *c, *d;
    Node **xs; size_t nx;     /* children: args, items, body statements, compare operands */
    Node **ys; size_t ny;     /* keyword values, dict values, macro defaults, with values */
    const Str **names; size_t nnames;  /* keyword names, targets, params */
    int *ops;                 /* compare operators */
    const Str *name;
    Val cv;
};

typedef struct Ps { J *j; Tok *t; size_t i, n; } Ps;

static Tok *cur(Ps *p) { return &p->t[p->i]; }
static Tok *peek(Ps *p, size_t k) { return p->i + k < p->n ? &p->t[p->i + k] : &p->t[p->n - 1]; }
static bool is_op(Tok *t, const char *op) { return t->t == T_OP && !strcmp(t->p, op); }
static bool is_name(Tok *t, const char *nm) { return t->t == T_NAME && t->n == strlen(nm) && !memcmp(t->p, nm, t->n); }

__attribute__((noreturn, format(printf, 3, 4))) static void pfail(Ps *p, Tok *t, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jfail(p->j, t->line, t->col, "%s", msg);
}

static const char *tok_desc(Tok *t, char *buf, size_t cap) {
    switch (t->t) {
    case T_EOF: return "end of template";
    case T_BEND: return "end of statement block";
    case T_VEND: return "end of print statement";
    case T_DATA: return "template data";
    case T_STR: return "string";
    case T_INT: case T_FLOAT: return "number";
    default: snprintf(buf, cap, "'%.*s'", (int)(t->n < 40 ? t->n : 40), t->p); return buf;
    }
}

static void expect_op(Ps *p, const char *op) {
    if (!is_op(cur(p), op)) {
        char b[64];
        pfail(p, cur(p), "expected '%s', got %s", op, tok_desc(cur(p), b, sizeof b));
    }
    p->i++;
}

static Node *node(Ps *p, int k, Tok *at) {
    Node *n = jalloc(p->j, sizeof(Node));
    n->k = k;
    n->line = at->line;
    n->col = at->col;
    return n;
}

typedef struct NList { Node **v; size_t n, cap; } NList;
static void nl_push(J *j, NList *l, Node *x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        Node **nv = jalloc(j, cap * sizeof(Node *));
        if (l->n) memcpy(nv, l->v, l->n * sizeof(Node *));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}
typedef struct SList { const Str **v; size_t n, cap; } SList;
static void sl_push(J *j, SList *l, const Str *x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const Str **nv = jalloc(j, cap * sizeof(Str *));
        if (l->n) memcpy(nv, l->v, l->n * sizeof(Str *));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

static Node *parse_expr(Ps *p, bool condexpr);
static Node *parse_tuple(Ps *p, bool simplified, bool condexpr, bool explicit_parens, const char *end_name);
static Node *parse_unary(Ps *p, bool with_filter);
static Node *parse_primary(Ps *p);
static Node *parse_postfix(Ps *p, Node *n);
static Node *parse_filter_expr(Ps *p, Node *n);
static Node *parse_or_(Ps *p);

static void enter(Ps *p) {
    if (++p->j->pdepth > 200) pfail(p, cur(p), "expression or block nesting deeper than 200 levels");
}
static void leave(Ps *p) { p->j->pdepth--; }

static Node *parse_condexpr(Ps *p) {
    Node *e1 = parse_or_(p);
    while (is_name(cur(p), "if")) {
        Tok *at = cur(p);
        p->i++;
        Node *test = parse_or_(p);
        Node *e3 = NULL;
        if (is_name(cur(p), "else")) { p->i++; e3 = parse_condexpr(p); }
        Node *c = node(p, E_COND, at);
        c->a = test;
        c->b = e1;
        c->c = e3;
        e1 = c;
    }
    return e1;
}

static Node *parse_expr(Ps *p, bool condexpr) {
    enter(p);
    Node *r = condexpr ? parse_condexpr(p) : parse_or_(p);
    leave(p);
    return r;
}

static Node *parse_not(Ps *p);
static Node *parse_and(Ps *p) {
    Node *l = parse_not(p);
    while (is_name(cur(p), "and")) {
        Tok *at = cur(p);
        p->i++;
        Node *n = node(p, E_AND, at);
        n->a = l;
        n->b = parse_not(p);
        l = n;
    }
    return l;
}
static Node *parse_or_(Ps *p) {
    Node *l = parse_and(p);
    while (is_name(cur(p), "or")) {
        Tok *at = cur(p);
        p->i++;
        Node *n = node(p, E_OR, at);
        n->a = l;
        n->b = parse_and(p);
        l = n;
    }
    return l;
}

static Node *parse_math1(Ps *p);
static Node *parse_compare(Ps *p) {
    Tok *at = cur(p);
    Node *first = parse_math1(p);
    NList ops = {0};
    int *opv = NULL;
    size_t nops = 0, capops = 0;
    for (;;) {
        Tok *t = cur(p);
        int op = 0;
        if (t->t == T_OP) {
            if (!strcmp(t->p, "==")) op = C_EQ;
            else if (!strcmp(t->p, "!=")) op = C_NE;
            else if (!strcmp(t->p, "<")) op = C_LT;
            else if (!strcmp(t->p, "<=")) op = C_LE;
            else if (!strcmp(t->p, ">")) op = C_GT;
            else if (!strcmp(t->p, ">=")) op = C_GE;
            if (op) p->i++;
        } else if (is_name(t, "in")) { op = C_IN; p->i++; }
        else if (is_name(t, "not") && is_name(peek(p, 1), "in")) { op = C_NOTIN; p->i += 2; }
        if (!op) break;
        nl_push(p->j, &ops, parse_math1(p));
        if (nops == capops) {
            capops = capops ? capops * 2 : 4;
            int *nv = jalloc(p->j, capops * sizeof(int));
            if (nops) memcpy(nv, opv, nops * sizeof(int));
            opv = nv;
        }
        opv[nops++] = op;
    }
    if (!nops) return first;
    Node *n = node(p, E_CMP, at);
    n->a = first;
    n->xs = ops.v;
    n->nx = ops.n;
    n->ops = opv;
    return n;
}

static Node *parse_not(Ps *p) {
    if (is_name(cur(p), "not")) {
        Tok *at = cur(p);
        p->i++;
        enter(p);
        Node *n = node(p, E_NOT, at);
        n->a = parse_not(p);
        leave(p);
        return n;
    }
    return parse_compare(p);
}

static Node *binop(Ps *p, Tok *at, int op, Node *a, Node *b) {
    Node *n = node(p, E_BIN, at);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static Node *parse_pow(Ps *p) {
    Node *l = parse_unary(p, true);
    while (is_op(cur(p), "**")) {
        Tok *at = cur(p);
        p->i++;
        l = binop(p, at, OP_POW, l, parse_unary(p, true));
    }
    return l;
}
static Node *parse_math2(Ps *p) {
    Node *l = parse_pow(p);
    for (;;) {
        Tok *at = cur(p);
        int op = is_op(at, "*") ? OP_MUL : is_op(at, "/") ? OP_DIV : is_op(at, "//") ? OP_FLOORDIV : is_op(at, "%") ? OP_MOD : 0;
        if (!op) break;
        p->i++;
        l = binop(p, at, op, l, parse_pow(p));
    }
    return l;
}
static Node *parse_concat(Ps *p) {
    Tok *at = cur(p);
    Node *first = parse_math2(p);
    if (!is_op(cur(p), "~")) return first;
    NList args = {0};
    nl_push(p->j, &args, first);
    while (is_op(cur(p), "~")) { p->i++; nl_push(p->j, &args, parse_math2(p)); }
    Node *n = node(p, E_CONCAT, at);
    n->xs = args.v;
    n->nx = args.n;
    return n;
}
static Node *parse_math1(Ps *p) {
    Node *l = parse_concat(p);
    for (;;) {
        Tok *at = cur(p);
        int op = is_op(at, "+") ? OP_ADD : is_op(at, "-") ? OP_SUB : 0;
        if (!op) break;
        p->i++;
        l = binop(p, at, op, l, parse_concat(p));
    }
    return l;
}

static Node *parse_unary(Ps *p, bool with_filter) {
    Tok *at = cur(p);
    Node *n;
    enter(p);
    if (is_op(at, "-") || is_op(at, "+")) {
        p->i++;
        n = node(p, is_op(at, "-") ? E_NEG : E_POS, at);
        n->a = parse_unary(p, false);
    } else {
        n = parse_primary(p);
    }
    n = parse_postfix(p, n);
    if (with_filter) n = parse_filter_expr(p, n);
    leave(p);
    return n;
}

static const Str *tok_name(Ps *p, Tok *t) { return jstr(p->j, t->p, t->n); }

static Node *parse_primary(Ps *p) {
    Tok *t = cur(p);
    Node *n;
    char b[64];
    if (t->t == T_NAME) {
        p->i++;
        if (is_name(t, "true") || is_name(t, "True")) { n = node(p, E_CONST, t); n->cv = v_bool(true); }
        else if (is_name(t, "false") || is_name(t, "False")) { n = node(p, E_CONST, t); n->cv = v_bool(false); }
        else if (is_name(t, "none") || is_name(t, "None")) { n = node(p, E_CONST, t); n->cv = v_none(); }
        else { n = node(p, E_NAME, t); n->name = tok_name(p, t); }
        return n;
    }
    if (t->t == T_STR) {
        Buf sb = {0};
        while (cur(p)->t == T_STR) { buf_put(p->j, &sb, cur(p)->s->p, cur(p)->s->n); p->i++; }
        n = node(p, E_CONST, t);
        n->cv = v_strn(p->j, sb.p ? sb.p : "", sb.n);
        return n;
    }
    if (t->t == T_INT) { p->i++; n = node(p, E_CONST, t); n->cv = v_int(t->i); return n; }
    if (t->t == T_FLOAT) { p->i++; n = node(p, E_CONST, t); n->cv = v_float(t->f); return n; }
    if (is_op(t, "(")) {
        p->i++;
        n = parse_tuple(p, false, true, true, NULL);
        expect_op(p, ")");
        return n;
    }
    if (is_op(t, "[")) {
        p->i++;
        NList items = {0};
        while (!is_op(cur(p), "]")) {
            if (items.n) expect_op(p, ",");
            if (is_op(cur(p), "]")) break;
            nl_push(p->j, &items, parse_expr(p, true));
        }
        expect_op(p, "]");
        n = node(p, E_LIST, t);
        n->xs = items.v;
        n->nx = items.n;
        return n;
    }
    if (is_op(t, "{")) {
        p->i++;
        NList ks = {0}, vs = {0};
        while (!is_op(cur(p), "}")) {
            if (ks.n) expect_op(p, ",");
            if (is_op(cur(p), "}")) break;
            nl_push(p->j, &ks, parse_expr(p, true));
            expect_op(p, ":");
            nl_push(p->j, &vs, parse_expr(p, true));
        }
        expect_op(p, "}");
        n = node(p, E_DICT, t);
        n->xs = ks.v;
        n->nx = ks.n;
        n->ys = vs.v;
        n->ny = vs.n;
        return n;
    }
    pfail(p, t, "unexpected %s", tok_desc(t, b, sizeof b));
}

/* a, b, c  (a tuple unless one item without a trailing comma) */
static Node *parse_tuple(Ps *p, bool simplified, bool condexpr, bool explicit_parens, const char *end_name) {
    Tok *at = cur(p);
    NList items = {0};
    bool is_tuple = false;
    for (;;) {
        if (items.n) expect_op(p, ",");
        Tok *c = cur(p);
        if (c->t == T_VEND || c->t == T_BEND || c->t == T_EOF || is_op(c, ")") || is_op(c, "]") || is_op(c, "}") ||
            (end_name && is_name(c, end_name)) || is_op(c, "="))
            break;
        Node *x = simplified ? parse_primary(p) : parse_expr(p, condexpr);
        nl_push(p->j, &items, x);
        if (is_op(cur(p), ",")) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_parens) {
            char b[64];
            pfail(p, cur(p), "expected an expression, got %s", tok_desc(cur(p), b, sizeof b));
        }
    }
    Node *n = node(p, E_TUPLE, at);
    n->xs = items.v;
    n->nx = items.n;
    return n;
}

static void parse_call_args(Ps *p, Node *n) {
    expect_op(p, "(");
    NList pos = {0}, kwv = {0};
    SList kwn = {0};
    while (!is_op(cur(p), ")")) {
        if (pos.n || kwn.n) expect_op(p, ",");
        if (is_op(cur(p), ")")) break;
        if (is_op(cur(p), "*") || is_op(cur(p), "**")) pfail(p, cur(p), "*args and **kwargs in calls are not supported");
        if (cur(p)->t == T_NAME && is_op(peek(p, 1), "=")) {
            sl_push(p->j, &kwn, tok_name(p, cur(p)));
            p->i += 2;
            nl_push(p->j, &kwv, parse_expr(p, true));
        } else {
            if (kwn.n) pfail(p, cur(p), "positional argument follows keyword argument");
            nl_push(p->j, &pos, parse_expr(p, true));
        }
    }
    expect_op(p, ")");
    n->xs = pos.v;
    n->nx = pos.n;
    n->names = kwn.v;
    n->nnames = kwn.n;
    n->ys = kwv.v;
    n->ny = kwv.n;
}

static Node *parse_subscript(Ps *p, Node *obj) {
    Tok *t = cur(p);
    if (is_op(t, ".")) {
        p->i++;
        Tok *a = cur(p);
        if (a->t == T_NAME) {
            p->i++;
            Node *n = node(p, E_ATTR, t);
            n->a = obj;
            n->name = tok_name(p, a);
            return n;
        }
        if (a->t == T_INT) {
            p->i++;
            Node *n = node(p, E_ITEM, t);
            n->a = obj;
            n->b = node(p, E_CONST, a);
            n->b->cv = v_int(a->i);
            return n;
        }
        char b[64];
        pfail(p, a, "expected a name after '.', got %s", tok_desc(a, b, sizeof b));
    }
    /* [ ... ] */
    p->i++;
    Node *parts[3] = {NULL, NULL, NULL};
    bool is_slice = false;
    int k = 0;
    for (;;) {
        if (is_op(cur(p), ":")) {
            is_slice = true;
            p->i++;
            if (++k > 2) pfail(p, cur(p), "too many ':' in a slice");
            continue;
        }
        if (is_op(cur(p), "]")) break;
        if (parts[k]) pfail(p, cur(p), "expected ':' or ']'");
        parts[k] = parse_expr(p, true);
        if (!is_slice && is_op(cur(p), ",")) pfail(p, cur(p), "tuple subscripts are not supported");
    }
    expect_op(p, "]");
    if (!is_slice) {
        if (!parts[0]) pfail(p, t, "empty subscript");
        Node *n = node(p, E_ITEM, t);
        n->a = obj;
        n->b = parts[0];
        return n;
    }
    Node *n = node(p, E_SLICE, t);
    n->a = obj;
    n->b = parts[0];
    n->c = parts[1];
    n->d = parts[2];
    return n;
}

static Node *parse_postfix(Ps *p, Node *n) {
    for (;;) {
        Tok *t = cur(p);
        if (is_op(t, ".") || is_op(t, "[")) n = parse_subscript(p, n);
        else if (is_op(t, "(")) {
            Node *c = node(p, E_CALL, t);
            c->a = n;
            parse_call_args(p, c);
            n = c;
        } else break;
        if (++p->j->pdepth > 400) pfail(p, t, "expression too deeply nested");
    }
    return n;
}

static Node *parse_filter(Ps *p, Node *obj) {
    Tok *t = cur(p);
    if (t->t != T_NAME) { char b[64]; pfail(p, t, "expected a filter name after '|', got %s", tok_desc(t, b, sizeof b)); }
    p->i++;
    Node *n = node(p, E_FILTER, t);
    n->a = obj;
    n->name = tok_name(p, t);
    if (!filter_exists(n->name->p)) pfail(p, t, "No filter named '%s'.", n->name->p);
    if (is_op(cur(p), "(")) parse_call_args(p, n);
    return n;
}

static Node *parse_filter_expr(Ps *p, Node *n) {
    for (;;) {
        Tok *t = cur(p);
        if (is_op(t, "|")) { p->i++; n = parse_filter(p, n); }
        else if (is_name(t, "is")) {
            p->i++;
            bool neg = false;
            if (is_name(cur(p), "not")) { neg = true; p->i++; }
            Tok *nt = cur(p);
            const Str *tn;
            if (nt->t == T_NAME) tn = tok_name(p, nt);
            else if (nt->t == T_OP && (is_op(nt, "==") || is_op(nt, "!=") || is_op(nt, "<") || is_op(nt, "<=") || is_op(nt, ">") || is_op(nt, ">="))) tn = jstrz(p->j, nt->p);
            else { char b[64]; pfail(p, nt, "expected a test name after 'is', got %s", tok_desc(nt, b, sizeof b)); }
            p->i++;
            if (!test_exists(tn->p)) pfail(p, nt, "No test named '%s'.", tn->p);
            Node *x = node(p, E_TEST, nt);
            x->a = n;
            x->name = tn;
            x->flag = neg;
            Tok *c = cur(p);
            if (is_op(c, "(")) parse_call_args(p, x);
            else if ((c->t == T_NAME || c->t == T_STR || c->t == T_INT || c->t == T_FLOAT || is_op(c, "[") || is_op(c, "{") || is_op(c, "(")) &&
                     !is_name(c, "else") && !is_name(c, "or") && !is_name(c, "and")) {
                if (is_name(c, "is")) pfail(p, c, "You cannot chain multiple tests with is");
                Node *arg = parse_postfix(p, parse_primary(p));
                x->xs = jalloc(p->j, sizeof(Node *));
                x->xs[0] = arg;
                x->nx = 1;
            }
            n = x;
        } else if (is_op(t, "(")) {
            Node *c = node(p, E_CALL, t);
            c->a = n;
            parse_call_args(p, c);
            n = c;
        } else break;
    }
    return n;
}

/* ---------------------------------------------------------------- statements */

static Node *parse_body(Ps *p, const char *const *ends, const char **which);

static void expect_bend(Ps *p) {
    if (cur(p)->t != T_BEND) { char b[64]; pfail(p, cur(p), "expected the end of the block tag %%}, got %s", tok_desc(cur(p), b, sizeof b)); }
    p->i++;
}

/* after `{% name` has been consumed: parse the rest up to %} */
static Node *parse_assign_targets(Ps *p, SList *names, const char *end_name) {
    (void)end_name;
    bool paren = false;
    if (is_op(cur(p), "(")) { paren = true; p->i++; }
    for (;;) {
        Tok *t = cur(p);
        if (t->t != T_NAME) { char b[64]; pfail(p, t, "expected a variable name, got %s", tok_desc(t, b, sizeof b)); }
        sl_push(p->j, names, tok_name(p, t));
        p->i++;
        if (is_op(cur(p), ",")) { p->i++; if (paren && is_op(cur(p), ")")) break; continue; }
        break;
    }
    if (paren) expect_op(p, ")");
    return NULL;
}

static Node *parse_for(Ps *p, Tok *at) {
    Node *n = node(p, S_FOR, at);
    SList names = {0};
    parse_assign_targets(p, &names, "in");
    n->names = names.v;
    n->nnames = names.n;
    n->flag = names.n > 1;
    if (!is_name(cur(p), "in")) { char b[64]; pfail(p, cur(p), "expected 'in' in the for loop, got %s", tok_desc(cur(p), b, sizeof b)); }
    p->i++;
    n->a = parse_tuple(p, false, false, false, "recursive");
    if (is_name(cur(p), "if")) { p->i++; n->b = parse_expr(p, true); }
    if (is_name(cur(p), "recursive")) pfail(p, cur(p), "recursive for loops are not supported");
    expect_bend(p);
    p->j->loop_depth++;
    static const char *const ends[] = {"endfor", "else", NULL};
    const char *which;
    n->c = parse_body(p, ends, &which);
    p->j->loop_depth--;
    if (!strcmp(which, "else")) {
        static const char *const ends2[] = {"endfor", NULL};
        n->d = parse_body(p, ends2, &which);
    }
    return n;
}

static Node *parse_if(Ps *p, Tok *at) {
    Node *n = node(p, S_IF, at);
    n->a = parse_tuple(p, false, true, false, NULL);
    expect_bend(p);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    const char *which;
    n->b = parse_body(p, ends, &which);
    if (!strcmp(which, "elif")) {
        Tok *et = &p->t[p->i - 1];
        n->c = parse_if(p, et);
    } else if (!strcmp(which, "else")) {
        static const char *const ends2[] = {"endif", NULL};
        n->c = parse_body(p, ends2, &which);
    }
    return n;
}

static Node *parse_filter_chain(Ps *p) {
    Node *n = NULL;
    bool first = true;
    while (first || is_op(cur(p), "|")) {
        if (!first) p->i++;
        first = false;
        n = parse_filter(p, n);
    }
    return n;
}

static Node *parse_set(Ps *p, Tok *at) {
    Tok *t = cur(p);
    if (t->t == T_NAME && is_op(peek(p, 1), ".") && peek(p, 2)->t == T_NAME) {
        Node *n = node(p, S_SETATTR, at);
        n->name = tok_name(p, t);
        n->names = jalloc(p->j, sizeof(Str *));
        n->names[0] = tok_name(p, peek(p, 2));
        n->nnames = 1;
        p->i += 3;
        expect_op(p, "=");
        n->a = parse_tuple(p, false, true, false, NULL);
        expect_bend(p);
        return n;
    }
    SList names = {0};
    parse_assign_targets(p, &names, NULL);
    if (is_op(cur(p), "=")) {
        p->i++;
        Node *n = node(p, S_SET, at);
        n->names = names.v;
        n->nnames = names.n;
        n->flag = names.n > 1;
        n->a = parse_tuple(p, false, true, false, NULL);
        expect_bend(p);
        return n;
    }
    if (names.n != 1) pfail(p, cur(p), "a block set assigns one variable");
    Node *n = node(p, S_SETBLOCK, at);
    n->name = names.v[0];
    if (is_op(cur(p), "|")) { p->i++; n->a = parse_filter_chain(p); }
    expect_bend(p);
    static const char *const ends[] = {"endset", NULL};
    const char *which;
    n->c = parse_body(p, ends, &which);
    return n;
}

static Node *parse_macro(Ps *p, Tok *at) {
    Node *n = node(p, S_MACRO, at);
    Tok *t = cur(p);
    if (t->t != T_NAME) pfail(p, t, "expected the macro name");
    n->name = tok_name(p, t);
    p->i++;
    expect_op(p, "(");
    SList params = {0};
    NList dfl = {0};
    while (!is_op(cur(p), ")")) {
        if (params.n) expect_op(p, ",");
        if (is_op(cur(p), ")")) break;
        Tok *a = cur(p);
        if (a->t != T_NAME) pfail(p, a, "expected a parameter name");
        sl_push(p->j, &params, tok_name(p, a));
        p->i++;
        if (is_op(cur(p), "=")) { p->i++; nl_push(p->j, &dfl, parse_expr(p, true)); }
        else {
            if (dfl.n && dfl.v[dfl.n - 1]) pfail(p, a, "non-default argument follows default argument");
            nl_push(p->j, &dfl, NULL);
        }
    }
    expect_op(p, ")");
    expect_bend(p);
    n->names = params.v;
    n->nnames = params.n;
    n->ys = dfl.v;
    n->ny = dfl.n;
    int saved = p->j->loop_depth;
    p->j->loop_depth = 0;
    static const char *const ends[] = {"endmacro", NULL};
    const char *which;
    n->c = parse_body(p, ends, &which);
    p->j->loop_depth = saved;
    return n;
}

static Node *parse_statement(Ps *p) {
    Tok *bb = cur(p);   /* T_BBEGIN */
    p->i++;
    Tok *t = cur(p);
    if (t->t != T_NAME) { char b[64]; pfail(p, t, "expected a statement name, got %s", tok_desc(t, b, sizeof b)); }
    p->i++;
    (void)bb;
    if (is_name(t, "for")) return parse_for(p, t);
    if (is_name(t, "if")) return parse_if(p, t);
    if (is_name(t, "set")) return parse_set(p, t);
    if (is_name(t, "macro")) return parse_macro(p, t);
    if (is_name(t, "break") || is_name(t, "continue")) {
        if (!p->j->loop_depth) pfail(p, t, "'%.*s' outside of a for loop", (int)t->n, t->p);
        Node *n = node(p, is_name(t, "break") ? S_BREAK : S_CONTINUE, t);
        expect_bend(p);
        return n;
    }
    if (is_name(t, "filter")) {
        Node *n = node(p, S_FILTERBLK, t);
        n->a = parse_filter_chain(p);
        expect_bend(p);
        static const char *const ends[] = {"endfilter", NULL};
        const char *which;
        n->c = parse_body(p, ends, &which);
        return n;
    }
    if (is_name(t, "generation")) {
        /* transformers' AssistantTracker tag: renders its body unchanged */
        expect_bend(p);
        static const char *const ends[] = {"endgeneration", NULL};
        const char *which;
        return parse_body(p, ends, &which);
    }
    if (is_name(t, "with")) {
        Node *n = node(p, S_WITH, t);
        SList names = {0};
        NList vals = {0};
        while (cur(p)->t != T_BEND) {
            if (names.n) expect_op(p, ",");
            Tok *a = cur(p);
            if (a->t != T_NAME) pfail(p, a, "expected a variable name in with");
            sl_push(p->j, &names, tok_name(p, a));
            p->i++;
            expect_op(p, "=");
            nl_push(p->j, &vals, parse_expr(p, true));
        }
        expect_bend(p);
        n->names = names.v;
        n->nnames = names.n;
        n->ys = vals.v;
        n->ny = vals.n;
        static const char *const ends[] = {"endwith", NULL};
        const char *which;
        n->c = parse_body(p, ends, &which);
        return n;
    }
    if (is_name(t, "include") || is_name(t, "import") || is_name(t, "from") || is_name(t, "extends") || is_name(t, "block"))
        pfail(p, t, "'%.*s' is not supported: a chat template cannot load other templates", (int)t->n, t->p);
    pfail(p, t, "Encountered unknown tag '%.*s'.", (int)(t->n < 60 ? t->n : 60), t->p);
}

/* statements until `{% <one of ends> %}` (consumed, *which = its name) or the end (ends NULL) */
static Node *parse_body(Ps *p, const char *const *ends, const char **which) {
    enter(p);
    Tok *at = cur(p);
    NList items = {0};
    for (;;) {
        Tok *t = cur(p);
        if (t->t == T_EOF) {
            if (ends) pfail(p, t, "unexpected end of template: expected {%% %s %%}", ends[0]);
            break;
        }
        if (t->t == T_DATA) {
            Node *n = node(p, S_TEXT, t);
            n->cv = v_str(t->s);
            nl_push(p->j, &items, n);
            p->i++;
            continue;
        }
        if (t->t == T_VBEGIN) {
            p->i++;
            Node *n = node(p, S_OUT, t);
            n->a = parse_tuple(p, false, true, false, NULL);
            if (cur(p)->t != T_VEND) { char b[64]; pfail(p, cur(p), "expected the end of the expression }}, got %s", tok_desc(cur(p), b, sizeof b)); }
            p->i++;
            nl_push(p->j, &items, n);
            continue;
        }
        if (t->t == T_BBEGIN) {
            Tok *nm = peek(p, 1);
            if (ends && nm->t == T_NAME) {
                bool hit = false;
                for (int k = 0; ends[k]; k++)
                    if (is_name(nm, ends[k])) { *which = ends[k]; hit = true; break; }
                if (hit) {
                    p->i += 2;
                    if (strcmp(*which, "elif")) {
                        if (cur(p)->t == T_NAME && (is_name(cur(p), "endfor") || is_name(cur(p), "endif") || true) && cur(p)->t != T_BEND) {
                            /* `{% endmacro name %}` style trailing names are not allowed in jinja either */
                        }
                        expect_bend(p);
                    }
                    break;
                }
            }
            if (nm->t == T_NAME && (is_name(nm, "endfor") || is_name(nm, "endif") || is_name(nm, "endset") || is_name(nm, "endmacro") ||
                                    is_name(nm, "else") || is_name(nm, "elif") || is_name(nm, "endfilter") || is_name(nm, "endwith") ||
                                    is_name(nm, "endgeneration") || is_name(nm, "endraw")))
                pfail(p, nm, "Encountered unknown tag '%.*s'.%s", (int)nm->n, nm->p, ends ? "" : " (no block is open)");
            nl_push(p->j, &items, parse_statement(p));
            continue;
        }
        char b[64];
        pfail(p, t, "unexpected %s", tok_desc(t, b, sizeof b));
    }
    leave(p);
    Node *n = node(p, S_BODY, at);
    n->xs = items.v;
    n->nx = items.n;
    return n;
}

/* ================================================================== evaluator */

struct Frame { Frame *parent; size_t n, cap; const Str **k; Val *v; };

typedef struct Macro { const Str *name; Node *def; Frame *closure; } Macro;
typedef struct Loop { int64_t index0, length; List *items; int64_t cycle; } Loop;

static Frame *frame_new(J *j, Frame *parent) {
    Frame *f = jalloc(j, sizeof(Frame));
    f->parent = parent;
    return f;
}

static void frame_set(J *j, Frame *f, const Str *k, Val v) {
    for (size_t i = 0; i < f->n; i++)
        if (f->k[i]->n == k->n && !memcmp(f->k[i]->p, k->p, k->n)) { f->v[i] = v; return; }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        const Str **nk = jalloc(j, cap * sizeof(Str *));
        Val *nv = jalloc(j, cap * sizeof(Val));
        if (f->n) { memcpy(nk, f->k, f->n * sizeof(Str *)); memcpy(nv, f->v, f->n * sizeof(Val)); }
        f->k = nk; f->v = nv; f->cap = cap;
    }
    f->k[f->n] = k;
    f->v[f->n] = v;
    f->n++;
}

static bool frame_lookup(Frame *f, const char *k, size_t n, Val *out) {
    for (; f; f = f->parent)
        for (size_t i = f->n; i-- > 0;)
            if (f->k[i]->n == n && !memcmp(f->k[i]->p, k, n)) { *out = f->v[i]; return true; }
    return false;
}

static Val lookup(J *j, Frame *f, const Str *name) {
    Val v;
    if (frame_lookup(f, name->p, name->n, &v)) return v;
    static const struct { const char *n; int fn; } G[] = {{"range", FN_RANGE}, {"namespace", FN_NAMESPACE}, {"dict", FN_DICT},
        {"raise_exception", FN_RAISE}, {"strftime_now", FN_STRFTIME}};
    for (size_t i = 0; i < sizeof G / sizeof G[0]; i++)
        if (!strcmp(G[i].n, name->p)) { Val r = {.t = V_FUNC}; r.u.fn = G[i].fn; return r; }
    char msg[300];
    snprintf(msg, sizeof msg, "'%s' is undefined", name->p);
    return v_undef(jstrz(j, msg)->p);
}

static Val eval(J *j, Frame *f, Node *n);
static void render(J *j, Frame *f, Node *n, Buf *out);

static void at(J *j, Node *n) { j->line = n->line; j->col = n->col; }

static void need_defined(J *j, Val v) {
    if (v.t == V_UNDEF) jfailv(j, "%s", v.u.un ? v.u.un : "an undefined value was used");
}

static Val arith(J *j, int op, Val a, Val b) {
    need_defined(j, a);
    need_defined(j, b);
    if (op == OP_ADD) {
        if (a.t == V_STR && b.t == V_STR) {
            Buf s = {0};
            buf_put(j, &s, a.u.s->p, a.u.s->n);
            buf_put(j, &s, b.u.s->p, b.u.s->n);
            return v_strn(j, s.p ? s.p : "", s.n);
        }
        if (a.t == V_LIST && b.t == V_LIST && a.u.l->tuple == b.u.l->tuple) {
            Val r = v_list(j, a.u.l->n + b.u.l->n, a.u.l->tuple);
            if (a.u.l->n) memcpy(r.u.l->v, a.u.l->v, a.u.l->n * sizeof(Val));
            if (b.u.l->n) memcpy(r.u.l->v + a.u.l->n, b.u.l->v, b.u.l->n * sizeof(Val));
            return r;
        }
        if (a.t == V_STR) jfailv(j, "can only concatenate str (not \"%s\") to str", type_name(b));
        if (a.t == V_LIST) jfailv(j, "can only concatenate %s (not \"%s\") to %s", type_name(a), type_name(b), type_name(a));
    }
    if (op == OP_MUL && ((a.t == V_STR || a.t == V_LIST) && (b.t == V_INT || b.t == V_BOOL))) {
        int64_t k = b.t == V_INT ? b.u.i : b.u.b;
        if (k <= 0) return a.t == V_STR ? v_strz(j, "") : v_list(j, 0, a.u.l->tuple);
        size_t unit = a.t == V_STR ? a.u.s->n : a.u.l->n * 16;
        if (unit && (uint64_t)k > j->max_output / unit) jfailv(j, "repetition result too large");
        if (a.t == V_STR) {
            Buf s = {0};
            for (int64_t i = 0; i < k; i++) buf_put(j, &s, a.u.s->p, a.u.s->n);
            return v_strn(j, s.p ? s.p : "", s.n);
        }
        Val r = v_list(j, a.u.l->n * (size_t)k, a.u.l->tuple);
        for (int64_t i = 0; i < k; i++) if (a.u.l->n) memcpy(r.u.l->v + (size_t)i * a.u.l->n, a.u.l->v, a.u.l->n * sizeof(Val));
        return r;
    }
    if (op == OP_MUL && (b.t == V_STR || b.t == V_LIST) && (a.t == V_INT || a.t == V_BOOL)) return arith(j, op, b, a);
    if (op == OP_MOD && a.t == V_STR) {
        /* printf-style formatting with %s/%d */
        Args ar = {0};
        Val one = b;
        if (b.t == V_LIST && b.u.l->tuple) { ar.pos = b.u.l->v; ar.npos = (int)b.u.l->n; }
        else { ar.pos = &one; ar.npos = 1; }
        return apply_filter(j, "format", a, &ar);
    }
    bool an = a.t == V_INT || a.t == V_BOOL || a.t == V_FLOAT, bn = b.t == V_INT || b.t == V_BOOL || b.t == V_FLOAT;
    static const char *const opn[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    if (!an || !bn) jfailv(j, "unsupported operand type(s) for %s: '%s' and '%s'", opn[op], type_name(a), type_name(b));
    bool fl = a.t == V_FLOAT || b.t == V_FLOAT;
    double x = a.t == V_FLOAT ? a.u.f : (double)(a.t == V_INT ? a.u.i : a.u.b);
    double y = b.t == V_FLOAT ? b.u.f : (double)(b.t == V_INT ? b.u.i : b.u.b);
    int64_t xi = a.t == V_INT ? a.u.i : a.t == V_BOOL ? a.u.b : 0, yi = b.t == V_INT ? b.u.i : b.t == V_BOOL ? b.u.b : 0;
    int64_t r;
    switch (op) {
    case OP_ADD:
        if (fl) return v_float(x + y);
        if (__builtin_add_overflow(xi, yi, &r)) jfailv(j, "integer overflow");
        return v_int(r);
    case OP_SUB:
        if (fl) return v_float(x - y);
        if (__builtin_sub_overflow(xi, yi, &r)) jfailv(j, "integer overflow");
        return v_int(r);
    case OP_MUL:
        if (fl) return v_float(x * y);
        if (__builtin_mul_overflow(xi, yi, &r)) jfailv(j, "integer overflow");
        return v_int(r);
    case OP_DIV:
        if (y == 0) jfailv(j, fl ? "float division by zero" : "division by zero");
        return v_float(x / y);
    case OP_FLOORDIV:
        if (fl) { if (y == 0) jfailv(j, "float floor division by zero"); return v_float(floor(x / y)); }
        if (yi == 0) jfailv(j, "integer division or modulo by zero");
        if (xi == INT64_MIN && yi == -1) jfailv(j, "integer overflow");
        r = xi / yi;
        if ((xi % yi != 0) && ((xi < 0) != (yi < 0))) r--;
        return v_int(r);
    case OP_MOD:
        if (fl) {
            if (y == 0) jfailv(j, "float modulo");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return v_float(m);
        }
        if (yi == 0) jfailv(j, "integer division or modulo by zero");
        if (yi == -1) return v_int(0);
        r = xi % yi;
        if (r != 0 && ((r < 0) != (yi < 0))) r += yi;
        return v_int(r);
    case OP_POW:
        if (fl || yi < 0) {
            if (x == 0 && y < 0) jfailv(j, "0.0 cannot be raised to a negative power");
            return v_float(pow(x, y));
        }
        r = 1;
        for (int64_t k = 0; k < yi; k++) {
            if (__builtin_mul_overflow(r, xi, &r)) jfailv(j, "integer overflow");
            if (r == 0 || r == 1) { if (r == 1 && xi == -1) { r = (yi % 2) ? -1 : 1; } break; }
        }
        return v_int(r);
    }
    jfailv(j, "bad operator");
}

static bool contains(J *j, Val item, Val container) {
    Args a = {0};
    a.pos = &container;
    a.npos = 1;
    if (container.t == V_UNDEF) return false;
    if (container.t != V_STR && container.t != V_LIST && container.t != V_DICT && container.t != V_NS)
        jfailv(j, "argument of type '%s' is not iterable", type_name(container));
    if (container.t == V_NS) return dict_get(container.u.d, item) != NULL;
    return apply_test(j, "in", item, &a);
}

static void eval_args(J *j, Frame *f, Node *n, Args *a) {
    a->npos = (int)n->nx;
    a->pos = n->nx ? jalloc(j, n->nx * sizeof(Val)) : NULL;
    for (size_t i = 0; i < n->nx; i++) a->pos[i] = eval(j, f, n->xs[i]);
    a->nkw = (int)n->nnames;
    a->kwn = n->names;
    a->kwv = n->ny ? jalloc(j, n->ny * sizeof(Val)) : NULL;
    for (size_t i = 0; i < n->ny; i++) a->kwv[i] = eval(j, f, n->ys[i]);
}

static Val call_macro(J *j, Macro *m, const Args *a) {
    Node *d = m->def;
    step(j);
    if (++j->depth > j->max_depth) jfailv(j, "macro calls nested deeper than %d (recursion?)", j->max_depth);
    Frame *f = frame_new(j, m->closure);
    Val varargs = v_list(j, 0, true);
    if ((size_t)a->npos > d->nnames) {
        varargs = v_list(j, (size_t)a->npos - d->nnames, true);
        for (size_t i = d->nnames; i < (size_t)a->npos; i++) varargs.u.l->v[i - d->nnames] = a->pos[i];
    }
    Val kwargs = v_dict(j);
    for (size_t i = 0; i < d->nnames; i++) {
        Val v = v_undef(NULL);
        bool have = false;
        if (i < (size_t)a->npos) { v = a->pos[i]; have = true; }
        for (int k = 0; k < a->nkw; k++)
            if (a->kwn[k]->n == d->names[i]->n && !memcmp(a->kwn[k]->p, d->names[i]->p, d->names[i]->n)) {
                if (have) jfailv(j, "macro '%s' got multiple values for argument '%s'", m->name->p, d->names[i]->p);
                v = a->kwv[k];
                have = true;
            }
        if (!have) {
            if (d->ys[i]) v = eval(j, f, d->ys[i]);
            else {
                char msg[300];
                snprintf(msg, sizeof msg, "parameter '%s' was not provided", d->names[i]->p);
                v = v_undef(jstrz(j, msg)->p);
            }
        }
        frame_set(j, f, d->names[i], v);
    }
    for (int k = 0; k < a->nkw; k++) {
        bool known = false;
        for (size_t i = 0; i < d->nnames; i++)
            if (a->kwn[k]->n == d->names[i]->n && !memcmp(a->kwn[k]->p, d->names[i]->p, d->names[i]->n)) known = true;
        if (!known) dict_set(j, kwargs.u.d, v_str(a->kwn[k]), a->kwv[k]);
    }
    frame_set(j, f, jstrz(j, "varargs"), varargs);
    frame_set(j, f, jstrz(j, "kwargs"), kwargs);
    Buf out = {0};
    int saved_line = j->line, saved_col = j->col;
    render(j, f, d->c, &out);
    j->line = saved_line;
    j->col = saved_col;
    j->depth--;
    return v_strn(j, out.p ? out.p : "", out.n);
}

Val call_value(J *j, Val fn, const Args *a) {
    switch (fn.t) {
    case V_MACRO: return call_macro(j, fn.u.m, a);
    case V_FUNC: return call_builtin(j, fn.u.fn, a);
    case V_METHOD: return call_method(j, fn.u.me, a);
    case V_UNDEF: jfailv(j, "%s", fn.u.un ? fn.u.un : "an undefined value cannot be called");
    default: jfailv(j, "'%s' object is not callable", type_name(fn));
    }
}

static Val loop_attr(J *j, Loop *lp, const char *nm) {
    if (!strcmp(nm, "index")) return v_int(lp->index0 + 1);
    if (!strcmp(nm, "index0")) return v_int(lp->index0);
    if (!strcmp(nm, "revindex")) return v_int(lp->length - lp->index0);
    if (!strcmp(nm, "revindex0")) return v_int(lp->length - lp->index0 - 1);
    if (!strcmp(nm, "first")) return v_bool(lp->index0 == 0);
    if (!strcmp(nm, "last")) return v_bool(lp->index0 == lp->length - 1);
    if (!strcmp(nm, "length")) return v_int(lp->length);
    if (!strcmp(nm, "depth")) return v_int(1);
    if (!strcmp(nm, "depth0")) return v_int(0);
    if (!strcmp(nm, "previtem")) return lp->index0 > 0 ? lp->items->v[lp->index0 - 1] : v_undef("there is no previous item");
    if (!strcmp(nm, "nextitem")) return lp->index0 + 1 < lp->length ? lp->items->v[lp->index0 + 1] : v_undef("there is no next item");
    if (!strcmp(nm, "cycle")) { Val v = {.t = V_FUNC}; v.u.fn = FN_CYCLE; return v; }
    char msg[200];
    snprintf(msg, sizeof msg, "'LoopContext' object has no attribute '%s'", nm);
    return v_undef(jstrz(j, msg)->p);
}

static Val eval(J *j, Frame *f, Node *n) {
    at(j, n);
    switch (n->k) {
    case E_CONST: return n->cv;
    case E_NAME: return lookup(j, f, n->name);
    case E_LIST: case E_TUPLE: {
        Val r = v_list(j, n->nx, n->k == E_TUPLE);
        for (size_t i = 0; i < n->nx; i++) r.u.l->v[i] = eval(j, f, n->xs[i]);
        return r;
    }
    case E_DICT: {
        Val r = v_dict(j);
        for (size_t i = 0; i < n->nx; i++) {
            Val k = eval(j, f, n->xs[i]);
            Val v = eval(j, f, n->ys[i]);
            at(j, n);
            dict_set(j, r.u.d, k, v);
        }
        return r;
    }
    case E_ATTR: {
        Val o = eval(j, f, n->a);
        at(j, n);
        if (o.t == V_LOOP) return loop_attr(j, o.u.lp, n->name->p);
        return get_attr(j, o, n->name->p, n->name->n);
    }
    case E_ITEM: {
        Val o = eval(j, f, n->a);
        Val k = eval(j, f, n->b);
        at(j, n);
        if (o.t == V_LOOP && k.t == V_STR) return loop_attr(j, o.u.lp, k.u.s->p);
        return get_item(j, o, k);
    }
    case E_SLICE: {
        Val o = eval(j, f, n->a);
        Val a = n->b ? eval(j, f, n->b) : v_none(), b = n->c ? eval(j, f, n->c) : v_none(), c = n->d ? eval(j, f, n->d) : v_none();
        at(j, n);
        return slice_val(j, o, a, b, c);
    }
    case E_CALL: {
        Val fn = eval(j, f, n->a);
        Args a;
        eval_args(j, f, n, &a);
        at(j, n);
        if (fn.t == V_FUNC && fn.u.fn == FN_CYCLE) {
            /* loop.cycle(...): the loop is the callee's object */
            if (n->a->k != E_ATTR) jfailv(j, "cycle() can only be called as loop.cycle(...)");
            Val lo = eval(j, f, n->a->a);
            if (lo.t != V_LOOP || !a.npos) jfailv(j, "loop.cycle needs at least one argument");
            return a.pos[lo.u.lp->index0 % a.npos];
        }
        return call_value(j, fn, &a);
    }
    case E_FILTER: {
        Val v = n->a ? eval(j, f, n->a) : j->filter_input;
        Args a;
        eval_args(j, f, n, &a);
        at(j, n);
        return apply_filter(j, n->name->p, v, &a);
    }
    case E_TEST: {
        Val v;
        if (!strcmp(n->name->p, "defined") || !strcmp(n->name->p, "undefined")) v = eval(j, f, n->a);
        else v = eval(j, f, n->a);
        Args a;
        eval_args(j, f, n, &a);
        at(j, n);
        bool r = apply_test(j, n->name->p, v, &a);
        return v_bool(n->flag ? !r : r);
    }
    case E_NEG: case E_POS: {
        Val v = eval(j, f, n->a);
        at(j, n);
        need_defined(j, v);
        if (v.t == V_BOOL) v = v_int(v.u.b);
        if (v.t == V_INT) {
            if (n->k == E_POS) return v;
            if (v.u.i == INT64_MIN) jfailv(j, "integer overflow");
            return v_int(-v.u.i);
        }
        if (v.t == V_FLOAT) return v_float(n->k == E_NEG ? -v.u.f : v.u.f);
        jfailv(j, "bad operand type for unary %s: '%s'", n->k == E_NEG ? "-" : "+", type_name(v));
    }
    case E_NOT: return v_bool(!truthy(j, eval(j, f, n->a)));
    case E_AND: {
        Val a = eval(j, f, n->a);
        return truthy(j, a) ? eval(j, f, n->b) : a;
    }
    case E_OR: {
        Val a = eval(j, f, n->a);
        return truthy(j, a) ? a : eval(j, f, n->b);
    }
    case E_COND: {
        Val t = eval(j, f, n->a);
        if (truthy(j, t)) return eval(j, f, n->b);
        if (n->c) return eval(j, f, n->c);
        return v_undef("the inline if expression has no else section and its condition was false");
    }
    case E_BIN: {
        Val a = eval(j, f, n->a);
        Val b = eval(j, f, n->b);
        at(j, n);
        return arith(j, n->op, a, b);
    }
    case E_CONCAT: {
        Buf b = {0};
        for (size_t i = 0; i < n->nx; i++) {
            Val v = eval(j, f, n->xs[i]);
            val_str(j, &b, v);
        }
        return v_strn(j, b.p ? b.p : "", b.n);
    }
    case E_CMP: {
        Val left = eval(j, f, n->a);
        for (size_t i = 0; i < n->nx; i++) {
            Val right = eval(j, f, n->xs[i]);
            at(j, n);
            bool r;
            switch (n->ops[i]) {
            case C_EQ: r = val_eq(j, left, right); break;
            case C_NE: r = !val_eq(j, left, right); break;
            case C_LT: r = val_cmp(j, left, right, false) < 0; break;
            case C_LE: r = val_cmp(j, left, right, false) <= 0; break;
            case C_GT: r = val_cmp(j, left, right, false) > 0; break;
            case C_GE: r = val_cmp(j, left, right, false) >= 0; break;
            case C_IN: r = contains(j, left, right); break;
            default: r = !contains(j, left, right); break;
            }
            if (!r) return v_bool(false);
            left = right;
        }
        return v_bool(true);
    }
    default: jfail(j, n->line, n->col, "internal error: not an expression");
    }
}

static void assign_targets(J *j, Frame *f, Node *n, Val v) {
    if (!n->flag) { frame_set(j, f, n->names[0], v); return; }
    Val it = make_iterable(j, v);
    if (it.u.l->n != n->nnames)
        jfailv(j, it.u.l->n > n->nnames ? "too many values to unpack (expected %zu)" : "not enough values to unpack (expected %zu)", n->nnames);
    for (size_t i = 0; i < n->nnames; i++) frame_set(j, f, n->names[i], it.u.l->v[i]);
}

static void render(J *j, Frame *f, Node *n, Buf *out) {
    switch (n->k) {
    case S_BODY:
        for (size_t i = 0; i < n->nx && !j->brk; i++) render(j, f, n->xs[i], out);
        return;
    case S_TEXT: out_put(j, out, n->cv.u.s->p, n->cv.u.s->n); return;
    case S_OUT: {
        Val v = eval(j, f, n->a);
        if (v.t == V_STR) { out_put(j, out, v.u.s->p, v.u.s->n); return; }
        Buf b = {0};
        val_str(j, &b, v);
        out_put(j, out, b.p ? b.p : "", b.n);
        return;
    }
    case S_IF: {
        Val t = eval(j, f, n->a);
        if (truthy(j, t)) render(j, f, n->b, out);
        else if (n->c) render(j, f, n->c, out);
        return;
    }
    case S_FOR: {
        Val src = eval(j, f, n->a);
        at(j, n);
        Val it = make_iterable(j, src);
        List *items = it.u.l;
        if (n->b) {
            /* `for x in xs if cond`: filter first, so loop.length counts the kept items */
            Val kept = v_list(j, 0, false);
            kept.u.l->v = jalloc(j, (items->n + 1) * sizeof(Val));
            for (size_t i = 0; i < items->n; i++) {
                Frame *tf = frame_new(j, f);
                assign_targets(j, tf, n, items->v[i]);
                if (truthy(j, eval(j, tf, n->b))) kept.u.l->v[kept.u.l->n++] = items->v[i];
                step(j);
            }
            items = kept.u.l;
        }
        if (!items->n) {
            if (n->d) render(j, f, n->d, out);
            return;
        }
        Loop *lp = jalloc(j, sizeof(Loop));
        lp->items = items;
        lp->length = (int64_t)items->n;
        Val lv = {.t = V_LOOP};
        lv.u.lp = lp;
        static Str *loop_name;
        Str *ln = jstrz(j, "loop");
        (void)loop_name;
        for (size_t i = 0; i < items->n; i++) {
            step(j);
            lp->index0 = (int64_t)i;
            Frame *it_f = frame_new(j, f);
            frame_set(j, it_f, ln, lv);
            at(j, n);
            assign_targets(j, it_f, n, items->v[i]);
            render(j, it_f, n->c, out);
            if (j->brk == 1) { j->brk = 0; break; }
            if (j->brk == 2) j->brk = 0;
        }
        return;
    }
    case S_SET: {
        Val v = eval(j, f, n->a);
        at(j, n);
        assign_targets(j, f, n, v);
        return;
    }
    case S_SETATTR: {
        Val ns = lookup(j, f, n->name);
        Val v = eval(j, f, n->a);
        at(j, n);
        if (ns.t != V_NS) jfailv(j, "cannot assign attribute on non-namespace object");
        dict_set(j, ns.u.d, v_str(n->names[0]), v);
        return;
    }
    case S_SETBLOCK: {
        Buf b = {0};
        render(j, f, n->c, &b);
        Val v = v_strn(j, b.p ? b.p : "", b.n);
        if (n->a) {
            Val saved = j->filter_input;
            j->filter_input = v;
            v = eval(j, f, n->a);
            j->filter_input = saved;
        }
        frame_set(j, f, n->name, v);
        return;
    }
    case S_FILTERBLK: {
        Buf b = {0};
        render(j, f, n->c, &b);
        Val saved = j->filter_input;
        j->filter_input = v_strn(j, b.p ? b.p : "", b.n);
        Val v = eval(j, f, n->a);
        j->filter_input = saved;
        Buf o = {0};
        val_str(j, &o, v);
        out_put(j, out, o.p ? o.p : "", o.n);
        return;
    }
    case S_MACRO: {
        Macro *m = jalloc(j, sizeof(Macro));
        m->name = n->name;
        m->def = n;
        m->closure = f;
        Val v = {.t = V_MACRO};
        v.u.m = m;
        frame_set(j, f, n->name, v);
        return;
    }
    case S_WITH: {
        Frame *wf = frame_new(j, f);
        for (size_t i = 0; i < n->nnames; i++) frame_set(j, wf, n->names[i], eval(j, f, n->ys[i]));
        render(j, wf, n->c, out);
        return;
    }
    case S_BREAK: j->brk = 1; return;
    case S_CONTINUE: j->brk = 2; return;
    default: jfail(j, n->line, n->col, "internal error: not a statement");
    }
}

/* ================================================================== API */

static void j_free(J *j) {
    ABlock *b = j->blocks;
    while (b) { ABlock *nx = b->next; free(b); b = nx; }
    j->blocks = NULL;
}

static void j_init(J *j, const JinjaOptions *opt, Err *e) {
    memset(j, 0, sizeof *j);
    j->e = e;
    j->max_output = opt && opt->max_output ? opt->max_output : (size_t)16 << 20;
    j->mem_cap = opt && opt->max_memory ? opt->max_memory : (size_t)256 << 20;
    j->max_steps = opt && opt->max_steps ? opt->max_steps : 10000000L;
    j->max_depth = opt && opt->max_depth ? opt->max_depth : 64;
    j->now_set = opt && opt->now_set;
    j->now = opt ? opt->now : 0;
}

/* Parses and renders with the variables already in j->vars. */
static bool j_run(J *j, const char *tmpl, size_t len, char **out, size_t *out_len) {
    /* newlines: \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False) */
    Buf src = {0};
    for (size_t i = 0; i < len; i++) {
        if (tmpl[i] == '\r') { buf_putc(j, &src, '\n'); if (i + 1 < len && tmpl[i + 1] == '\n') i++; }
        else buf_putc(j, &src, tmpl[i]);
    }
    if (src.n && src.p[src.n - 1] == '\n') src.n--;
    for (size_t i = 0; i < src.n;) {
        size_t k = i;
        uint32_t c = u8_dec(src.p, src.n, &k);
        if (c >= 0xDC80 && c <= 0xDCFF) {
            size_t line = 1;
            for (size_t q = 0; q < i; q++) line += src.p[q] == '\n';
            jfail(j, (int)line, 0, "the template is not valid UTF-8 (byte 0x%02x)", c & 0xFF);
        }
        i = k;
    }
    Lx lx = {j, src.p ? src.p : "", src.n, 0, 0, 1, 1, NULL, 0, 0};
    lx_run(&lx);
    Ps p = {j, lx.toks, 0, lx.nt};
    Node *body = parse_body(&p, NULL, NULL);
    Frame *top = frame_new(j, j->vars);
    Buf o = {0};
    render(j, top, body, &o);
    *out = malloc(o.n + 1);
    if (!*out) jfailv(j, "out of memory");
    if (o.n) memcpy(*out, o.p, o.n);
    (*out)[o.n] = 0;
    if (out_len) *out_len = o.n;
    return true;
}

static void set_var(J *j, const JinjaVar *v) {
    Val val;
    if (v->is_json) {
        char what[200];
        snprintf(what, sizeof what, "variable %s", v->name);
        val = json_parse(j, v->text, strlen(v->text), jstrz(j, what)->p);
    } else val = v_strz(j, v->text);
    frame_set(j, j->vars, jstrz(j, v->name), val);
}

bool jinja_render(const char *tmpl, size_t tmpl_len, const JinjaVar *vars, int nvars, const JinjaOptions *opt, char **out,
                  size_t *out_len, Err *e) {
    J *j = calloc(1, sizeof(J));
    if (!j) return err_set(e, ERR_MEMORY, "out of memory");
    Err local = {0};
    j_init(j, opt, e ? e : &local);
    *out = NULL;
    bool ok = false;
    if (setjmp(j->jb) == 0) {
        j->vars = frame_new(j, NULL);
        for (int i = 0; i < nvars; i++) set_var(j, &vars[i]);
        ok = j_run(j, tmpl, tmpl_len, out, out_len);
    } else {
        free(*out);
        *out = NULL;
    }
    j_free(j);
    free(j);
    return ok;
}

bool chat_template_apply(const char *tmpl, size_t tmpl_len, const ChatRequest *rq, char **out, size_t *out_len, Err *e) {
    J *j = calloc(1, sizeof(J));
    if (!j) return err_set(e, ERR_MEMORY, "out of memory");
    Err local = {0};
    j_init(j, &rq->opt, e ? e : &local);
    *out = NULL;
    bool ok = false;
    if (setjmp(j->jb) == 0) {
        j->vars = frame_new(j, NULL);
        Val msgs = json_parse(j, rq->messages_json ? rq->messages_json : "[]", rq->messages_json ? strlen(rq->messages_json) : 2, "messages");
        Val tools = v_none(), docs = v_none();
        Frame *extra = frame_new(j, NULL);
        if (msgs.t == V_DICT) {
            Dict *d = msgs.u.d;
            Val *m = dict_gets(d, "messages", 8);
            if (!m) jfail(j, 0, 0, "messages: the JSON object has no \"messages\" list");
            for (size_t i = 0; i < d->n; i++) {
                if (d->k[i].t != V_STR) continue;
                const Str *k = d->k[i].u.s;
                if (!strcmp(k->p, "messages")) continue;
                if (!strcmp(k->p, "tools")) tools = d->v[i];
                else if (!strcmp(k->p, "documents")) docs = d->v[i];
                else frame_set(j, extra, k, d->v[i]);
            }
            msgs = *m;
        }
        if (msgs.t != V_LIST) jfail(j, 0, 0, "messages: expected a JSON list of messages (or an object with a \"messages\" list)");
        for (size_t i = 0; i < msgs.u.l->n; i++)
            if (msgs.u.l->v[i].t != V_DICT) jfail(j, 0, 0, "messages: message %zu is not a JSON object", i);
        Frame *vf = j->vars;
        frame_set(j, vf, jstrz(j, "messages"), msgs);
        frame_set(j, vf, jstrz(j, "tools"), tools);
        frame_set(j, vf, jstrz(j, "documents"), docs);
        frame_set(j, vf, jstrz(j, "add_generation_prompt"), v_bool(rq->add_generation_prompt));
        if (rq->bos_token) frame_set(j, vf, jstrz(j, "bos_token"), v_strz(j, rq->bos_token));
        if (rq->eos_token) frame_set(j, vf, jstrz(j, "eos_token"), v_strz(j, rq->eos_token));
        for (size_t i = 0; i < extra->n; i++) frame_set(j, vf, extra->k[i], extra->v[i]);
        for (int i = 0; i < rq->nextra; i++) set_var(j, &rq->extra[i]);
        ok = j_run(j, tmpl, tmpl_len, out, out_len);
    } else {
        free(*out);
        *out = NULL;
    }
    j_free(j);
    free(j);
    return ok;
}

char *chat_json_quote(const char *s) {
    size_t n = strlen(s), cap = n * 6 + 3, k = 0;
    char *o = malloc(cap);
    if (!o) return NULL;
    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { o[k++] = '\\'; o[k++] = (char)c; }
        else if (c == '\n') { o[k++] = '\\'; o[k++] = 'n'; }
        else if (c == '\r') { o[k++] = '\\'; o[k++] = 'r'; }
        else if (c == '\t') { o[k++] = '\\'; o[k++] = 't'; }
        else if (c < 0x20) k += (size_t)snprintf(o + k, cap - k, "\\u%04x", c);
        else o[k++] = (char)c;
    }
    o[k++] = '"';
    o[k] = 0;
    return o;
}

bool chat_template_apply_prompt(const char *tmpl, const char *prompt, const char *bos_token, const char *eos_token,
                                const JinjaVar *extra, int nextra, char **out, size_t *out_len, Err *e) {
    char *q = chat_json_quote(prompt);
    if (!q) return err_set(e, ERR_MEMORY, "out of memory");
    size_t n = strlen(q) + 64;
    char *msgs = malloc(n);
    if (!msgs) { free(q); return err_set(e, ERR_MEMORY, "out of memory"); }
    snprintf(msgs, n, "[{\"role\": \"user\", \"content\": %s}]", q);
    free(q);
    ChatRequest rq = {0};
    rq.messages_json = msgs;
    rq.add_generation_prompt = true;
    rq.bos_token = bos_token;
    rq.eos_token = eos_token;
    rq.extra = extra;
    rq.nextra = nextra;
    bool ok = chat_template_apply(tmpl, strlen(tmpl), &rq, out, out_len, e);
    free(msgs);
    return ok;
}
