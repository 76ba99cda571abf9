/* Jinja parser: tokens to a syntax tree, jinja2 3.1's grammar (parser.py) for expressions and
 * the statements chat templates use. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "template/jinja_int.h"

/* ================================================================== AST */




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
    if (is_name(cur(p), "recursive")) { p->i++; n->flag2 = true; }
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

/* (a, b=default, ...) of a macro or of a call block's caller; the "(" already consumed */
static void parse_params(Ps *p, Node *n) {
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
    n->names = params.v;
    n->nnames = params.n;
    n->ys = dfl.v;
    n->ny = dfl.n;
}

/* a macro body, or a call block's: its own scope, outside any loop */
static Node *parse_macro_body(Ps *p, const char *end) {
    int saved = p->j->loop_depth;
    p->j->loop_depth = 0;
    const char *const ends[] = {end, NULL};
    const char *which;
    Node *b = parse_body(p, ends, &which);
    p->j->loop_depth = saved;
    return b;
}

static Node *parse_macro(Ps *p, Tok *at) {
    Node *n = node(p, S_MACRO, at);
    Tok *t = cur(p);
    if (t->t != T_NAME) pfail(p, t, "expected the macro name");
    n->name = tok_name(p, t);
    p->i++;
    expect_op(p, "(");
    parse_params(p, n);
    expect_bend(p);
    n->c = parse_macro_body(p, "endmacro");
    return n;
}

/* {% call [(params)] macro(args) %}body{% endcall %} */
static Node *parse_call_block(Ps *p, Tok *at) {
    Node *n = node(p, S_CALLBLK, at);
    if (is_op(cur(p), "(")) { p->i++; parse_params(p, n); }
    n->name = jstrz(p->j, "caller");
    Tok *t = cur(p);
    n->a = parse_expr(p, true);
    if (n->a->k != E_CALL) pfail(p, t, "expected a macro call after {%% call %%}");
    expect_bend(p);
    n->c = parse_macro_body(p, "endcall");
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
    if (is_name(t, "call")) return parse_call_block(p, t);
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
Node *parse_body(Ps *p, const char *const *ends, const char **which) {
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

