/* Internals of the lesson values (values.c, values_spec.c, values_token.c): the context a
 * placeholder is computed in, the number formats, and the value functions the placeholder
 * table (placeholders.def) names. Not a public header. */
#ifndef LLMSCOPE_LESSON_VALUES_INTERNAL_H
#define LLMSCOPE_LESSON_VALUES_INTERNAL_H
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/derived.h"
#include "analysis/kvcalc.h"
#include "analysis/logitlens.h"
#include "analysis/stats.h"
#include "engine/ops.h"
#include "engine/rope.h"
#include "lesson/lesson.h"
#include "scene/scene.h"
#include "tokenizer/tokenizer.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
    LessonValues *v;
    const LessonPh *ph;
    const PhSpec *sp;
    Session *s;            /* NULL for refs */
    const Model *m;
    const ModelSpec *sp_m;
    const TraceTok *t;     /* token at the cursor (PHN_TOKEN) */
    const TraceDims *dims;
    int layer, head, cursor, key;   /* the scene's selection as seen from this side */
    char *out;
    size_t cap;
    Err *e;
} VC;

/* A placeholder's value function: writes c->out, or returns false with c->e filled. */
typedef bool (*PhValueFn)(VC *c);

void lv_put(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lv_fmt_int(long long x, char *out, size_t cap);
void lv_fmt_short(double x, char *out, size_t cap);
void lv_fmt_num(double x, char *out, size_t cap);
void lv_fmt_pct(double p, char *out, size_t cap);
void lv_fmt_bytes(double b, char *out, size_t cap);
void lv_fmt_tok(const Session *s, int id, char *out, size_t cap, bool zh);
const char *lv_yesno(bool b, bool zh);
long lv_arg_int(const char *a);
double lv_fmin_d(double a, double b);
bool lv_arg_pos(VC *c, const char *a, int *pos);
const float *lv_attn_row(const VC *c, const TraceTok *t, int pos, int layer, int head);
int lv_argmaxf(const float *x, int n);
bool lv_need_layer_moe(VC *c);
bool lv_rope_freqs(const ModelSpec *s, int seq_len, bool scaled, double *fmin, double *fmax, float *attn_factor);
bool lv_rope_mid_wavelength(const ModelSpec *s, int seq_len, double *wl);
bool lv_layer_is_moe_spec(const ModelSpec *s, int l);

/* Is this the row PH_<id> of placeholders.def? (c->sp is the row being computed) */
#define IS(row) (c->sp->id == PH_##row)
#define OUT_INT(x) do { lv_fmt_int((long long)(x), c->out, c->cap); return true; } while (0)
#define OUT_NUM(x) do { lv_fmt_num((double)(x), c->out, c->cap); return true; } while (0)
#define OUT_PCT(x) do { lv_fmt_pct((double)(x), c->out, c->cap); return true; } while (0)
#define OUT_STR(x) do { snprintf(c->out, c->cap, "%s", (x)); return true; } while (0)

bool v_spec(VC *c);
bool v_session(VC *c);
bool v_weights(VC *c);
bool v_family(VC *c);   /* family.c: assets/models/family.json */
bool v_tok_kv(VC *c);
bool v_tok_tokens(VC *c);
bool v_tok_attn(VC *c);
bool v_tok_resid(VC *c);
bool v_tok_norm(VC *c);
bool v_tok_ffn(VC *c);
bool v_tok_moe(VC *c);
bool v_tok_logits(VC *c);
bool v_tok_embed(VC *c);
bool v_tok_mla(VC *c);   /* values_mla.c: naive vs absorbed MLA scores */
#endif
