/* Jinja lexer: source text to tokens with jinja2 3.1's whitespace control (see jinja.c). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template/jinja_int.h"

/* ================================================================== lexer */




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
        case 'N': lx_fail(lx, at, "named Unicode escapes (\\N{...}) are not supported: write the character or \\u");
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

void lx_run(Lx *lx) {
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

