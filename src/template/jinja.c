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

/* ================================================================== evaluator */

struct Frame { Frame *parent; size_t n, cap; const Str **k; Val *v; };

typedef struct Macro { const Str *name; Node *def; Frame *closure; } Macro;
/* One for loop: shared by its iterations. rec/f: the node and frame a recursive loop calls
 * again with loop(items); last: the arguments of the previous loop.changed(...). */
typedef struct Loop {
    int64_t index0, length, depth0;
    List *items;
    Node *rec;
    Frame *f;
    Val last;
    bool has_last;
} Loop;

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
    if (op == OP_MOD && a.t == V_STR) return py_percent(j, a.u.s, b);   /* printf-style formatting */
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
        if (known) continue;
        /* {% call %} passes its body as `caller`, a variable of the macro, not one of kwargs */
        if (!strcmp(a->kwn[k]->p, "caller") && a->kwv[k].t == V_MACRO) frame_set(j, f, a->kwn[k], a->kwv[k]);
        else dict_set(j, kwargs.u.d, v_str(a->kwn[k]), a->kwv[k]);
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

static void run_for(J *j, Frame *f, Node *n, Val src, int64_t depth0, Buf *out);

/* loop(items) inside a `for ... recursive` loop: the loop's body over items, one level deeper */
static Val call_loop(J *j, Loop *lp, const Args *a) {
    if (!lp->rec) jfailv(j, "The loop must have the 'recursive' marker to be called recursively.");
    if (a->npos != 1 || a->nkw) jfailv(j, "loop() takes exactly one argument, the items of the next level");
    if (++j->depth > j->max_depth) jfailv(j, "recursive loop nested deeper than %d", j->max_depth);
    Buf b = {0};
    int saved_line = j->line, saved_col = j->col;
    run_for(j, lp->f, lp->rec, a->pos[0], lp->depth0 + 1, &b);
    j->line = saved_line;
    j->col = saved_col;
    j->depth--;
    return v_strn(j, b.p ? b.p : "", b.n);
}

/* A macro's own attributes, as jinja2's Macro object has them. */
static Val macro_attr(J *j, Macro *m, const char *nm) {
    if (!strcmp(nm, "name")) return v_str(m->name);
    if (!strcmp(nm, "arguments")) {
        Val r = v_list(j, m->def->nnames, true);
        for (size_t i = 0; i < m->def->nnames; i++) r.u.l->v[i] = v_str(m->def->names[i]);
        return r;
    }
    jfailv(j, "the macro attribute '%s' is not supported (only name and arguments)", nm);
}

Val call_value(J *j, Val fn, const Args *a) {
    switch (fn.t) {
    case V_MACRO: return call_macro(j, fn.u.m, a);
    case V_LOOP: return call_loop(j, fn.u.lp, a);
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
    if (!strcmp(nm, "depth")) return v_int(lp->depth0 + 1);
    if (!strcmp(nm, "depth0")) return v_int(lp->depth0);
    if (!strcmp(nm, "previtem")) return lp->index0 > 0 ? lp->items->v[lp->index0 - 1] : v_undef("there is no previous item");
    if (!strcmp(nm, "nextitem")) return lp->index0 + 1 < lp->length ? lp->items->v[lp->index0 + 1] : v_undef("there is no next item");
    if (!strcmp(nm, "cycle")) { Val v = {.t = V_FUNC}; v.u.fn = FN_CYCLE; return v; }
    if (!strcmp(nm, "changed")) { Val v = {.t = V_FUNC}; v.u.fn = FN_CHANGED; return v; }
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
        if (o.t == V_MACRO) return macro_attr(j, o.u.m, n->name->p);
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
        if (fn.t == V_FUNC && (fn.u.fn == FN_CYCLE || fn.u.fn == FN_CHANGED)) {
            /* loop.cycle(...), loop.changed(...): the loop is the callee's object */
            const char *what = fn.u.fn == FN_CYCLE ? "cycle" : "changed";
            if (n->a->k != E_ATTR) jfailv(j, "%s() can only be called as loop.%s(...)", what, what);
            Val lo = eval(j, f, n->a->a);
            at(j, n);
            if (lo.t != V_LOOP) jfailv(j, "%s() can only be called as loop.%s(...)", what, what);
            Loop *lp = lo.u.lp;
            if (fn.u.fn == FN_CYCLE) {
                if (!a.npos) jfailv(j, "loop.cycle needs at least one argument");
                return a.pos[lp->index0 % a.npos];
            }
            Val now = v_list(j, (size_t)a.npos, true);
            for (int i = 0; i < a.npos; i++) now.u.l->v[i] = a.pos[i];
            bool changed = !lp->has_last || !val_eq(j, now, lp->last);
            lp->last = now;
            lp->has_last = true;
            return v_bool(changed);
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

/* A for loop over src (depth0 > 0: a level of a recursive loop). */
static void run_for(J *j, Frame *f, Node *n, Val src, int64_t depth0, Buf *out) {
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
    lp->depth0 = depth0;
    if (n->flag2) { lp->rec = n; lp->f = f; }
    Val lv = {.t = V_LOOP};
    lv.u.lp = lp;
    Str *ln = jstrz(j, "loop");
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
        run_for(j, f, n, src, 0, out);
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
    case S_CALLBLK: {
        /* {% call(params) m(args) %}body{% endcall %}: m is called with caller = the body as a macro */
        Macro *cm = jalloc(j, sizeof(Macro));
        cm->name = n->name;
        cm->def = n;
        cm->closure = f;
        Node *call = n->a;
        Val fn = eval(j, f, call->a);
        Args a;
        eval_args(j, f, call, &a);
        Args b = a;
        b.nkw = a.nkw + 1;
        b.kwn = jalloc(j, (size_t)b.nkw * sizeof(Str *));
        b.kwv = jalloc(j, (size_t)b.nkw * sizeof(Val));
        for (int i = 0; i < a.nkw; i++) { b.kwn[i] = a.kwn[i]; b.kwv[i] = a.kwv[i]; }
        b.kwn[a.nkw] = n->name;
        b.kwv[a.nkw].t = V_MACRO;
        b.kwv[a.nkw].u.m = cm;
        at(j, n);
        Val r = call_value(j, fn, &b);
        Buf o = {0};
        val_str(j, &o, r);
        out_put(j, out, o.p ? o.p : "", o.n);
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

/* Renders tmpl with the variables `setup` puts into j->vars. An error anywhere, setup included,
 * long-jumps back here: false, *out NULL, e filled. */
static bool j_render_with(const char *tmpl, size_t tmpl_len, const JinjaOptions *opt, void (*setup)(J *, const void *),
                          const void *ctx, char **out, size_t *out_len, Err *e) {
    J *j = calloc(1, sizeof(J));
    if (!j) return err_set(e, ERR_MEMORY, "out of memory");
    Err local = {0};
    j_init(j, opt, e ? e : &local);
    *out = NULL;
    bool ok = false;
    if (setjmp(j->jb) == 0) {
        j->vars = frame_new(j, NULL);
        setup(j, ctx);
        ok = j_run(j, tmpl, tmpl_len, out, out_len);
    } else {
        free(*out);
        *out = NULL;
    }
    j_free(j);
    free(j);
    return ok;
}

typedef struct { const JinjaVar *vars; int n; } VarList;

static void setup_vars(J *j, const void *ctx) {
    const VarList *l = ctx;
    for (int i = 0; i < l->n; i++) set_var(j, &l->vars[i]);
}

bool jinja_render(const char *tmpl, size_t tmpl_len, const JinjaVar *vars, int nvars, const JinjaOptions *opt, char **out,
                  size_t *out_len, Err *e) {
    const VarList l = {vars, nvars};
    return j_render_with(tmpl, tmpl_len, opt, setup_vars, &l, out, out_len, e);
}

/* The chat request's messages (a JSON list, or an object whose other keys become variables),
 * tools, documents, special tokens and extra variables. */
static void setup_chat(J *j, const void *ctx) {
    const ChatRequest *rq = ctx;
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
}

bool chat_template_apply(const char *tmpl, size_t tmpl_len, const ChatRequest *rq, char **out, size_t *out_len, Err *e) {
    return j_render_with(tmpl, tmpl_len, &rq->opt, setup_chat, rq, out, out_len, e);
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
                                const JinjaVar *extra, int nextra, const JinjaOptions *opt, char **out, size_t *out_len, Err *e) {
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
    if (opt) rq.opt = *opt;
    bool ok = chat_template_apply(tmpl, strlen(tmpl), &rq, out, out_len, e);
    free(msgs);
    return ok;
}

