/* Internals of the Jinja interpreter shared by jinja.c (lexer, parser, evaluator) and
 * jinja_lib.c (values, JSON, Python-style printing, filters, tests, methods). Not a public API. */
#ifndef LLMSCOPE_JINJA_INT_H
#define LLMSCOPE_JINJA_INT_H
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "template/jinja.h"

typedef struct Str { size_t n; char p[]; } Str;    /* UTF-8 bytes, NUL-terminated */

enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_MACRO, V_FUNC, V_METHOD, V_LOOP };

struct List; struct Dict; struct Macro; struct Method; struct Loop;
typedef struct Val {
    int t;
    union {
        bool b;
        int64_t i;
        double f;
        const Str *s;
        struct List *l;
        struct Dict *d;          /* V_DICT and V_NS (a namespace is a mutable dict) */
        struct Macro *m;
        int fn;                  /* V_FUNC: a builtin global */
        struct Method *me;
        struct Loop *lp;
        const char *un;          /* V_UNDEF: the message used when it is misused */
    } u;
} Val;

typedef struct List { size_t n; bool tuple, group; Val *v; } List;   /* group: a groupby result (.grouper, .list) */
typedef struct Dict { size_t n, cap; Val *k, *v; } Dict;
typedef struct Method { Val self; const char *name; } Method;

typedef struct Buf { char *p; size_t n, cap; } Buf;

typedef struct ABlock { struct ABlock *next; size_t cap, used; } ABlock;

typedef struct Node Node;
typedef struct Frame Frame;

typedef struct J {
    jmp_buf jb;
    Err *e;
    ABlock *blocks;
    size_t mem_used, mem_cap;
    size_t max_output;
    long steps, max_steps;
    int depth, max_depth;
    int brk;                 /* 1 break, 2 continue pending */
    int loop_depth;          /* parser: inside a for loop */
    int pdepth;              /* parser nesting */
    bool now_set;
    int64_t now;
    Frame *vars;             /* render variables (root) */
    Val filter_input;        /* value of the innermost filter of a filter/set block */
    int line, col;           /* where the evaluator is, for messages */
} J;

/* ---- jinja_lib.c ---- */
__attribute__((noreturn, format(printf, 4, 5))) void jfail(J *j, int line, int col, const char *fmt, ...);
__attribute__((noreturn, format(printf, 2, 3))) void jfailv(J *j, const char *fmt, ...);  /* at j->line/col */
void *jalloc(J *j, size_t n);
Str *jstr(J *j, const char *p, size_t n);
Str *jstrz(J *j, const char *s);
Val v_undef(const char *msg);
Val v_none(void);
Val v_bool(bool b);
Val v_int(int64_t i);
Val v_float(double f);
Val v_str(const Str *s);
Val v_strn(J *j, const char *p, size_t n);
Val v_strz(J *j, const char *s);
Val v_list(J *j, size_t n, bool tuple);   /* items zeroed (undefined) */
Val v_dict(J *j);
void dict_set(J *j, Dict *d, Val k, Val v);
Val *dict_get(Dict *d, Val k);
Val *dict_gets(Dict *d, const char *key, size_t n);
const char *type_name(Val v);
bool truthy(J *j, Val v);
bool val_eq(J *j, Val a, Val b);
int val_cmp(J *j, Val a, Val b, bool insensitive);  /* <0 0 >0, fails on unorderable types */
void buf_put(J *j, Buf *b, const char *p, size_t n);
void buf_puts(J *j, Buf *b, const char *s);
void buf_putc(J *j, Buf *b, char c);
void out_put(J *j, Buf *b, const char *p, size_t n);  /* with the output cap */
void val_str(J *j, Buf *b, Val v);       /* Python str() */
void val_repr(J *j, Buf *b, Val v);      /* Python repr() */
Str *to_str(J *j, Val v);
void py_float_repr(char *out, size_t cap, double x);
Val json_parse(J *j, const char *s, size_t n, const char *what);
void json_dump(J *j, Buf *b, Val v, int indent, int level, bool sort_keys, const char *item_sep, const char *key_sep);
size_t u8_len(const char *p, size_t n);
uint32_t u8_dec(const char *p, size_t n, size_t *i);
void u8_put(J *j, Buf *b, uint32_t cp);
bool u_isspace(uint32_t c);
void step(J *j);

/* Filters, tests, methods: args are positional then keyword (kwn names). */
typedef struct Args { Val *pos; int npos; const Str **kwn; Val *kwv; int nkw; } Args;
Val arg_get(const Args *a, int idx, const char *name, Val dflt);
bool filter_exists(const char *name);
bool test_exists(const char *name);
Val apply_filter(J *j, const char *name, Val v, const Args *a);
bool apply_test(J *j, const char *name, Val v, const Args *a);
Val get_attr(J *j, Val obj, const char *name, size_t n);
Val get_item(J *j, Val obj, Val key);
Val call_method(J *j, Method *m, const Args *a);
Val call_builtin(J *j, int fn, const Args *a);
Val call_value(J *j, Val fn, const Args *a);   /* jinja.c: macros, builtins, methods */
Val make_iterable(J *j, Val v);                /* a V_LIST to iterate (dict: keys; str: chars) */
Val slice_val(J *j, Val obj, Val start, Val stop, Val stepv);

enum { FN_RANGE = 1, FN_NAMESPACE, FN_DICT, FN_RAISE, FN_STRFTIME, FN_CYCLE, FN_LIST_ITEMS, FN_CHANGED };

/* ---- helpers shared by jinja_value.c, jinja_str.c, jinja_filters.c ---- */
double num_f(Val v);
uint32_t u_upper(uint32_t c);
uint32_t u_lower(uint32_t c);
uint32_t *u32_of(J *j, const Str *s, size_t *n);
int64_t arg_int(J *j, const Args *a, int idx, const char *name, int64_t dflt, const char *fn);
bool is_num(Val v);
bool u_isalpha(uint32_t c);
Val str_of_u32(J *j, const uint32_t *a, size_t n);
bool u_iscased_letter(uint32_t c);
int str_cmp_lower(J *j, const Str *a, const Str *b);
Val py_strip(J *j, const Str *s, const Str *chars, int which);
size_t val_len(J *j, Val v);
Val pairs_of_dict(J *j, Dict *d);
const Str *arg_str(J *j, const Args *a, int idx, const char *name, const char *dflt, const char *fn);
bool in_names(const char *const *names, const char *s);
Val py_case(J *j, const Str *s, int mode);
Val jinja_title(J *j, const Str *s);
Val py_replace(J *j, const Str *s, const Str *old, const Str *nw, int64_t count);
const char *mem_find(const char *h, size_t hn, const char *nd, size_t nn);
size_t slice_indices(J *j, int64_t n, Val start, Val stop, Val stepv, int64_t **out);
Val py_split(J *j, const Str *s, const Str *sep, int64_t maxsplit, bool right);
bool str_starts(const Str *s, const Str *p);
bool str_ends(const Str *s, const Str *p);
bool affix_test(J *j, const Str *s, Val arg, bool ends, const char *fn);
Val py_format(J *j, const Str *s, const Args *a);
Val bind_method(J *j, Val self, const char *name);
Val undef_msg(J *j, const char *fmt, const char *a, const char *b);
Val html_escape(J *j, Val v);
Val attr_path(J *j, Val v, const Str *path);
Val to_int(J *j, Val v, Val dflt, int64_t base);
Val to_float(J *j, Val v, Val dflt);
Val py_percent(J *j, const Str *fmt, Val args);   /* jinja_fmt.c */
bool apply_filter_more(J *j, const char *name, Val v, const Args *a, Val *out);

/* ---- lexer (jinja_lex.c) ---- */
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
void lx_run(Lx *lx);

/* ---- syntax tree and parser (jinja_parse.c) ---- */
enum {
    E_CONST, E_NAME, E_LIST, E_TUPLE, E_DICT, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_NEG, E_POS, E_NOT,
    E_BIN, E_CMP, E_AND, E_OR, E_COND, E_CONCAT,
    S_BODY, S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETATTR, S_SETBLOCK, S_MACRO, S_FILTERBLK, S_BREAK, S_CONTINUE, S_WITH, S_CALLBLK
};
enum { OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW,
       C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN };

struct Node {
    int k, line, col, op;
    bool flag, flag2;         /* flag2: a recursive for loop */
    Node *a, *b, *c, *d;
    Node **xs; size_t nx;     /* children: args, items, body statements, compare operands */
    Node **ys; size_t ny;     /* keyword values, dict values, macro defaults, with values */
    const Str **names; size_t nnames;  /* keyword names, targets, params */
    int *ops;                 /* compare operators */
    const Str *name;
    Val cv;
};

typedef struct Ps { J *j; Tok *t; size_t i, n; } Ps;
Node *parse_body(Ps *p, const char *const *ends, const char **which);

#endif
