/* Trace recorder: an ordinary hook observer that keeps, per token position, what the UI
 * shows (see trace.h for the layout and docs/hooks.md for the memory bound). */
#include "trace/trace.h"
#include "engine/ops.h"
#include "engine/pool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* With an engine bound every position's block has the same size; they are then carved from
 * slabs of SLAB_TOKS blocks (one mmap per 64 positions instead of a calloc per position).
 * The slabs are not given MADV_HUGEPAGE: 2 MiB pages saved ~115 page faults per token on a
 * 0.6B model (about a tenth of a traced prefill on a virtual machine), but where the kernel
 * compacts memory for them on the fault (transparent_hugepage/defrag "madvise", the default)
 * a loaded machine stalled there: decode with the recorder ran at 0.15-0.32 of its speed
 * without hooks in 2 of 3 runs (docs/benchmarks.md, "The recorder under load"). */
enum { SLAB_TOKS = 64 };

struct Trace {
    TraceDims dims;
    int max_tokens, len;
    TraceTok *toks;
    void **blocks;          /* one allocation per recorded position */
    size_t *block_bytes;
    size_t bytes;
    char **slabs;           /* [max_tokens / SLAB_TOKS + 1], mapped on first use */
    int *slab_hw;           /* blocks of each slab handed out since it was mapped (reuse: zeroed) */
    size_t slab_blk;        /* bytes of a block in the slabs (0 before the first) */
    unsigned char *in_slab; /* [max_tokens]: the position's block lies in a slab */
    Phase phase;
    int step;
    unsigned long gen;      /* trace_generation */
    bool mla;
    int rope_off;           /* offset of the roped dims inside a q head (MLA: nope) */
    bool q_rot_is_qa;       /* q_rot and qa are the same numbers (RoPE over the whole head) */
    const Engine *en;       /* attention rows are recomputed from its KV cache */
    const Model *m;         /* weights of the norms (trace_norm_out) */
    bool moe;               /* some layer is a mixture of experts: mlp_post is stored */
    float *norm_buf;        /* [d] trace_norm_out */
    float *q_buf;           /* [H*dq + d + H*R] trace_q_pre */
    float *mlp_buf;         /* [L][F + 1]: trace_mlp_post of mlp_pos; slot F = 1 when filled */
    int mlp_pos; unsigned long mlp_epoch;
    /* recomputed attention rows: a direct-mapped cache, n_slots rows of 2 x max_tokens floats */
    struct RowSlot { int pos, layer, head; unsigned long epoch; float *row; } *slots;
    int n_slots;
    unsigned long epoch;    /* changes when recorded positions are forgotten (truncate) */
};

const TraceDims *trace_dims(const Trace *t) { return &t->dims; }
int trace_len(const Trace *t) { return t->len; }
const TraceTok *trace_tok(const Trace *t, int pos) { return (pos >= 0 && pos < t->len) ? &t->toks[pos] : NULL; }
TraceTok *trace_tok_mut(Trace *t, int pos) { return (pos >= 0 && pos < t->max_tokens && t->blocks[pos]) ? &t->toks[pos] : NULL; }
size_t trace_bytes(const Trace *t) { return t->bytes; }
/* One counter for every trace of the process, so a generation is never shared by two traces
 * (a new trace may reuse a freed one's address). */
static unsigned long g_trace_gen;
void trace_bind_engine(Trace *t, const Engine *en) { t->en = en; t->epoch++; }
void trace_begin_step(Trace *t, Phase ph, int step) { t->phase = ph; t->step = step; t->gen = ++g_trace_gen; }
unsigned long trace_generation(const Trace *t) { return t->gen; }

Trace *trace_new(const Model *m, int max_tokens, Err *e) {
    const ModelSpec *s = &m->spec;
    Trace *t = calloc(1, sizeof *t);
    if (!t) { err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    t->max_tokens = max_tokens;
    t->epoch = 1;
    t->m = m;
    for (int l = 0; l < s->n_layers && m->w.layers; l++) t->moe |= m->w.layers[l].is_moe;
    t->toks = calloc((size_t)max_tokens, sizeof(TraceTok));
    t->blocks = calloc((size_t)max_tokens, sizeof(void *));
    t->block_bytes = calloc((size_t)max_tokens, sizeof(size_t));
    t->slabs = calloc((size_t)max_tokens / SLAB_TOKS + 1, sizeof(char *));
    t->slab_hw = calloc((size_t)max_tokens / SLAB_TOKS + 1, sizeof(int));
    t->in_slab = calloc((size_t)max_tokens, 1);
    if (!t->toks || !t->blocks || !t->block_bytes || !t->slabs || !t->slab_hw || !t->in_slab) { trace_free(t); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    t->mla = s->attn_kind == ATTN_MLA;
    TraceDims *d = &t->dims;
    d->n_layers = s->n_layers;
    d->n_heads = s->n_heads;
    d->n_kv_heads = t->mla ? 1 : s->n_kv_heads;
    d->d_model = s->d_model;
    d->head_dim = t->mla ? s->qk_nope_head_dim + s->qk_rope_head_dim : s->head_dim;
    d->rot_dim = s->pos == POS_ROPE ? (t->mla ? s->qk_rope_head_dim : s->rotary_dim) : 0;
    int ff = s->d_ff;
    if (s->n_shared_experts * s->moe_d_ff > ff) ff = s->n_shared_experts * s->moe_d_ff;
    d->d_ff = ff;
    d->n_experts = s->n_experts;
    d->top_k = s->n_experts ? s->n_experts_per_tok : 0;
    d->kv_lora = t->mla ? s->kv_lora_rank : 0;
    d->q_lora = t->mla ? s->q_lora_rank : 0;
    d->vocab = s->vocab_size;
    t->rope_off = t->mla ? s->qk_nope_head_dim : 0;
    d->q_dim = d->head_dim;
    t->q_rot_is_qa = !t->mla && d->rot_dim == d->head_dim;
    /* as many cached rows as fit TRACE_ROW_CACHE_BYTES at the longest row (16..4096) */
    size_t row_bytes = 2 * sizeof(float) * (size_t)max_tokens;
    size_t ns = TRACE_ROW_CACHE_BYTES / (row_bytes ? row_bytes : 1);
    t->n_slots = ns < 16 ? 16 : (ns > 4096 ? 4096 : (int)ns);
    t->slots = calloc((size_t)t->n_slots, sizeof *t->slots);
    t->norm_buf = calloc((size_t)d->d_model, sizeof(float));
    t->q_buf = calloc((size_t)d->n_heads * ((size_t)d->q_dim + (size_t)d->rot_dim) + (size_t)d->d_model + 1, sizeof(float));
    t->mlp_buf = calloc((size_t)d->n_layers * ((size_t)d->d_ff + 1) + 1, sizeof(float));
    t->mlp_pos = -1;
    if (!t->slots || !t->norm_buf || !t->mlp_buf || !t->q_buf) { trace_free(t); err_set(e, ERR_MEMORY, "out of memory"); return NULL; }
    return t;
}

static void slab_unmap(Trace *t, int i) {
    if (!t->slabs[i]) return;
    munmap(t->slabs[i], SLAB_TOKS * t->slab_blk);
    t->slabs[i] = NULL;
    t->slab_hw[i] = 0;
}

/* A zeroed block of `bytes` for position pos: from a slab when every block has this size
 * (fixed = true), else calloc. */
static char *block_get(Trace *t, int pos, size_t bytes, bool fixed) {
    const int si = pos / SLAB_TOKS, at = pos % SLAB_TOKS;
    if (fixed && (!t->slab_blk || t->slab_blk == bytes)) {
        if (!t->slabs[si]) {
            void *p = mmap(NULL, SLAB_TOKS * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p != MAP_FAILED) {
                t->slabs[si] = p;
                t->slab_hw[si] = 0;
                t->slab_blk = bytes;
            }
        }
        if (t->slabs[si]) {
            char *blk = t->slabs[si] + (size_t)at * bytes;
            if (at < t->slab_hw[si]) memset(blk, 0, bytes);   /* handed out before: not zero */
            else t->slab_hw[si] = at + 1;
            t->in_slab[pos] = 1;
            return blk;
        }
    }
    return calloc(1, bytes);
}

void trace_free(Trace *t) {
    if (!t) return;
    if (t->blocks) for (int i = 0; i < t->max_tokens; i++) if (!t->in_slab || !t->in_slab[i]) free(t->blocks[i]);
    if (t->slabs) for (int i = 0; i <= t->max_tokens / SLAB_TOKS; i++) slab_unmap(t, i);
    free(t->blocks);
    free(t->block_bytes);
    free(t->slabs);
    free(t->slab_hw);
    free(t->in_slab);
    free(t->toks);
    if (t->slots) for (int i = 0; i < t->n_slots; i++) free(t->slots[i].row);
    free(t->slots);
    free(t->norm_buf);
    free(t->q_buf);
    free(t->mlp_buf);
    free(t);
}

void trace_truncate(Trace *t, int len) {
    if (len < 0) len = 0;
    t->gen = ++g_trace_gen;
    t->epoch++;
    for (int i = len; i < t->max_tokens && i < t->len; i++) {
        /* a block of its own is freed; a slab's stays mapped while a kept position shares it */
        if (!t->in_slab[i]) free(t->blocks[i]);
        t->in_slab[i] = 0;
        t->blocks[i] = NULL;
        t->bytes -= t->block_bytes[i];
        t->block_bytes[i] = 0;
        memset(&t->toks[i], 0, sizeof(TraceTok));
    }
    if (len < t->len) t->len = len;
    for (int i = (len + SLAB_TOKS - 1) / SLAB_TOKS; i <= t->max_tokens / SLAB_TOKS; i++) slab_unmap(t, i);
}

/* Lays out one position's storage in a single block. */
static TraceTok *tok_alloc(Trace *t, int pos) {
    if (pos < 0 || pos >= t->max_tokens) return NULL;
    if (t->blocks[pos]) return &t->toks[pos];
    const TraceDims *d = &t->dims;
    const size_t L = (size_t)d->n_layers, H = (size_t)d->n_heads, KV = (size_t)d->n_kv_heads, D = (size_t)d->d_model;
    const size_t R = (size_t)d->rot_dim, T = (size_t)pos + 1, QD = (size_t)d->q_dim;
    const bool rows = !t->en;            /* no engine to recompute from: keep the fired rows */
    const bool keep_k = !t->en || t->mla, keep_mlp = !t->en || t->moe, keep_q = !t->en || t->mla;
    size_t nf = (rows ? 2 * L * H * T : 0)   /* attn, scores */
              + L * H * QD               /* qa */
              + (L + 1) * D              /* resid */
              + 2 * L                    /* attn/mlp out norms */
              + (rows ? 2 * L * D : 0) + L * D + D   /* ln1_out, ln2_out, resid_mid, lnf_out */
              + (keep_q ? 1 : 0) * L * H * R + (t->q_rot_is_qa ? 0 : 1) * L * H * R + (keep_k ? 2 * L * KV * R : 0)   /* q, q_rot, k, k_rot */
              + 2 * D                    /* embed, pos_embed */
              + (keep_mlp ? L * (size_t)d->d_ff : 0)   /* mlp_post */
              + L * (size_t)d->n_experts + L * (size_t)d->top_k   /* router, expert_w */
              + L * (size_t)d->kv_lora + L * (size_t)d->q_lora;
    size_t bytes = nf * sizeof(float) + 2 * L * sizeof(NormStat) + L * (size_t)d->top_k * sizeof(int);
    char *blk = block_get(t, pos, bytes, !rows);
    if (!blk) return NULL;
    t->blocks[pos] = blk;
    t->block_bytes[pos] = bytes;
    t->bytes += bytes;
    TraceTok *k = &t->toks[pos];
    memset(k, 0, sizeof *k);
    float *f = (float *)blk;
#define TAKE(n) (f += (n), f - (n))
    if (rows) { k->attn = TAKE(L * H * T); k->scores = TAKE(L * H * T); }
    k->qa = TAKE(L * H * QD);
    k->resid = TAKE((L + 1) * D);
    k->attn_out_norm = TAKE(L);
    k->mlp_out_norm = TAKE(L);
    if (rows) { k->ln1_out = TAKE(L * D); k->ln2_out = TAKE(L * D); }
    k->resid_mid = TAKE(L * D);
    k->lnf_out = TAKE(D);
    if (R) {
        if (keep_q) k->q = TAKE(L * H * R);
        k->q_rot = t->q_rot_is_qa ? k->qa : TAKE(L * H * R);
        if (keep_k) { k->k = TAKE(L * KV * R); k->k_rot = TAKE(L * KV * R); }
    }
    k->embed = TAKE(D);
    k->pos_embed = TAKE(D);
    if (keep_mlp) k->mlp_post = TAKE(L * (size_t)d->d_ff);
    if (d->n_experts) { k->router = TAKE(L * (size_t)d->n_experts); k->expert_w = TAKE(L * (size_t)d->top_k); }
    if (d->kv_lora) k->kv_latent = TAKE(L * (size_t)d->kv_lora);
    if (d->q_lora) k->q_latent = TAKE(L * (size_t)d->q_lora);
#undef TAKE
    char *c = (char *)f;
    k->ln1 = (NormStat *)c; c += L * sizeof(NormStat);
    k->ln2 = (NormStat *)c; c += L * sizeof(NormStat);
    if (d->top_k) k->expert_idx = (int *)c;
    if (t->en) k->kv_bytes = (size_t)(pos + 1) * engine_kv_bytes_per_token(t->en);   /* as kv.hook_append gives it */
    k->id = -1;
    k->next_id = -1;
    k->phase = t->phase;
    k->step = t->step;
    if (pos + 1 > t->len) t->len = pos + 1;
    return k;
}

static void stat_of(NormStat *st, const float *x, int d) {
    double s = 0, ss = 0;
    float mn = x[0], mx = x[0];
    for (int i = 0; i < d; i++) { s += x[i]; ss += (double)x[i] * x[i]; if (x[i] < mn) mn = x[i]; if (x[i] > mx) mx = x[i]; }
    double mean = s / d;
    st->mean = (float)mean;
    st->var = (float)(ss / d - mean * mean);
    if (st->var < 0) st->var = 0;
    st->rms = (float)sqrt(ss / d);
    st->min = mn;
    st->max = mx;
}

static float l2(const float *x, int d) { double s = 0; for (int i = 0; i < d; i++) s += (double)x[i] * x[i]; return (float)sqrt(s); }

static bool rec_ask(void *ud, HookPoint p, int layer) {
    const Trace *t = ud;
    (void)layer;
    switch (p) {
    /* MLA keeps only the latent and the rope key (HP_K_ROPE); asking for HP_K would make the
     * engine decompress K/V in every layer for every token just to be dropped. */
    case HP_K: case HP_ROT_K: return !t->mla && !t->en;   /* unused with an engine (the cache has k) */
    /* recomputed on demand when an engine is bound (trace_attn_row, trace_norm_out, ...) */
    case HP_ATTN_SCORES: case HP_PATTERN: case HP_LN1_NORMALIZED: case HP_LN2_NORMALIZED: return !t->en;
    case HP_MLP_POST: return !t->en || t->moe;
    case HP_Q: return !t->en || t->mla || !t->dims.rot_dim;   /* else hook_rot_q is the query kept */
    case HP_EMBED: case HP_POS_EMBED: case HP_RESID_PRE: case HP_LN1_SCALE: case HP_ROT_Q:
    case HP_ATTN_OUT: case HP_RESID_MID: case HP_LNF_NORMALIZED: case HP_LN2_SCALE: case HP_MLP_OUT:
    case HP_RESID_POST: case HP_LNF_SCALE: case HP_LOGITS: case HP_Q_LATENT: case HP_KV_LATENT:
    case HP_K_ROPE: case HP_ROUTER_LOGITS: case HP_EXPERT_INDICES: case HP_EXPERT_WEIGHTS:
        return true;
    /* only its size is kept: with an engine it is known beforehand (tok_alloc), so the engine
     * need not copy each layer's keys and values into one block for the event */
    case HP_KV_APPEND: return !t->en;
    default: return false;
    }
}

static void top_logits(TraceTok *k, const float *r, int V) {
    /* with d_i = l_i - max, w_i = e^{d_i}, S = sum w_i:  p_i = w_i / S, lse = max + ln S,
     * H = -sum p_i ln p_i = ln S - (sum w_i d_i) / S  (nats; / ln 2 for bits) */
    float mx;
    double se, sd;
    ops_logit_stats(r, V, &mx, &se, &sd);
    k->logit_lse = mx + (float)log(se);
    k->logit_entropy = (float)((log(se) - sd / se) / log(2.0));
    int n = ops_top_k(r, V, TRACE_TOPK < V ? TRACE_TOPK : V, k->top_ids, k->top_logits);
    for (int i = n; i < TRACE_TOPK; i++) { k->top_ids[i] = -1; k->top_logits[i] = -INFINITY; }
}

/* The prompt rows of one HP_LOGITS event, shared out over the pool (a row is ~152k logits). */
typedef struct { TraceTok **toks; const float *data; int vocab; } TopTask;
static void top_task(void *ctx, int i, int thread) {
    (void)thread;
    const TopTask *a = ctx;
    if (a->toks[i]) top_logits(a->toks[i], a->data + (size_t)i * a->vocab, a->vocab);
}

/* One row (position pos0 + i) of a per-position event into its block k. Touches nothing of
 * the trace but k, so rows can be recorded in parallel. */
static void rec_row(const Trace *t, const HookEvent *ev, int i, TraceTok *k) {
    const TraceDims *d = &t->dims;
    const int D = d->d_model, H = d->n_heads, l = ev->layer, R = d->rot_dim;
    const int n = ev->n_tokens;
    const float *row;
    switch (ev->point) {
    case HP_EMBED: memcpy(k->embed, ev->data + (size_t)i * D, sizeof(float) * (size_t)D); break;
    case HP_POS_EMBED: memcpy(k->pos_embed, ev->data + (size_t)i * D, sizeof(float) * (size_t)D); break;
    case HP_RESID_PRE:
        row = ev->data + (size_t)i * D;
        memcpy(k->resid + (size_t)l * D, row, sizeof(float) * (size_t)D);
        stat_of(&k->ln1[l], row, D);
        break;
    case HP_LN1_SCALE: k->ln1[l].scale = ev->data[i]; break;
    case HP_LN1_NORMALIZED: if (k->ln1_out) memcpy(k->ln1_out + (size_t)l * D, ev->data + (size_t)i * D, sizeof(float) * (size_t)D); break;
    case HP_RESID_MID:
        row = ev->data + (size_t)i * D;
        memcpy(k->resid_mid + (size_t)l * D, row, sizeof(float) * (size_t)D);
        stat_of(&k->ln2[l], row, D);
        break;
    case HP_LNF_NORMALIZED: memcpy(k->lnf_out, ev->data + (size_t)i * D, sizeof(float) * (size_t)D); break;
    case HP_LN2_SCALE: k->ln2[l].scale = ev->data[i]; break;
    case HP_LN2_NORMALIZED: if (k->ln2_out) memcpy(k->ln2_out + (size_t)l * D, ev->data + (size_t)i * D, sizeof(float) * (size_t)D); break;
    case HP_ATTN_OUT: k->attn_out_norm[l] = l2(ev->data + (size_t)i * D, D); break;
    case HP_MLP_OUT: k->mlp_out_norm[l] = l2(ev->data + (size_t)i * D, D); break;
    case HP_RESID_POST:
        /* resid_mid = resid_pre + attn_out is implied; keep the ln2 input stats */
        if (l == d->n_layers - 1) memcpy(k->resid + (size_t)d->n_layers * D, ev->data + (size_t)i * D, sizeof(float) * (size_t)D);
        break;
    case HP_LNF_SCALE: {
        const float *x = k->resid + (size_t)d->n_layers * D;
        stat_of(&k->lnf, x, D);
        k->lnf.scale = ev->data[i];
        break;
    }
    case HP_Q: case HP_ROT_Q: {
        /* the query attention reads: after RoPE, or hook_q when there is no RoPE */
        if (ev->point == HP_ROT_Q || !R) {
            const int hs = ev->shape[2] < d->q_dim ? ev->shape[2] : d->q_dim;
            float *qa = k->qa + (size_t)l * H * d->q_dim;
            for (int h = 0; h < H; h++)
                memcpy(qa + (size_t)h * d->q_dim, ev->data + ((size_t)i * H + h) * ev->shape[2], sizeof(float) * (size_t)hs);
        }
        if (!R || (ev->point == HP_ROT_Q && t->q_rot_is_qa) || (ev->point == HP_Q && !k->q)) break;
        float *dst = (ev->point == HP_Q ? k->q : k->q_rot) + (size_t)l * H * R;
        const int hs = ev->shape[2];
        for (int h = 0; h < H; h++)
            memcpy(dst + (size_t)h * R, ev->data + ((size_t)i * H + h) * hs + t->rope_off, sizeof(float) * (size_t)R);
        break;
    }
    case HP_K: case HP_ROT_K: {
        if (!R || t->mla || !k->k) break;
        const int KV = d->n_kv_heads, hs = ev->shape[2];
        float *dst = (ev->point == HP_K ? k->k : k->k_rot) + (size_t)l * KV * R;
        for (int h = 0; h < KV; h++) memcpy(dst + (size_t)h * R, ev->data + ((size_t)i * KV + h) * hs, sizeof(float) * (size_t)R);
        break;
    }
    case HP_K_ROPE: if (R) memcpy(k->k_rot + (size_t)l * R, ev->data + (size_t)i * R, sizeof(float) * (size_t)R); break;
    case HP_KV_LATENT: memcpy(k->kv_latent + (size_t)l * d->kv_lora, ev->data + (size_t)i * d->kv_lora, sizeof(float) * (size_t)d->kv_lora); break;
    case HP_Q_LATENT: memcpy(k->q_latent + (size_t)l * d->q_lora, ev->data + (size_t)i * d->q_lora, sizeof(float) * (size_t)d->q_lora); break;
    case HP_MLP_POST: {
        if (!k->mlp_post) break;
        int w = ev->shape[1] < d->d_ff ? ev->shape[1] : d->d_ff;
        memcpy(k->mlp_post + (size_t)l * d->d_ff, ev->data + (size_t)i * ev->shape[1], sizeof(float) * (size_t)w);
        break;
    }
    case HP_ROUTER_LOGITS: memcpy(k->router + (size_t)l * d->n_experts, ev->data + (size_t)i * d->n_experts, sizeof(float) * (size_t)d->n_experts); break;
    case HP_EXPERT_INDICES: for (int j = 0; j < d->top_k; j++) k->expert_idx[(size_t)l * d->top_k + j] = (int)ev->data[(size_t)i * d->top_k + j]; break;
    case HP_EXPERT_WEIGHTS: memcpy(k->expert_w + (size_t)l * d->top_k, ev->data + (size_t)i * d->top_k, sizeof(float) * (size_t)d->top_k); break;
    case HP_KV_APPEND:
        /* bytes in the cache after this token: (pos+1) tokens x all layers; filled per layer */
        k->kv_bytes = (size_t)(ev->pos0 + i + 1) * (ev->bytes / (size_t)n) * (size_t)d->n_layers;
        break;
    default: break;
    }
}

/* The rows of a prefill event are shared out over the pool, REC_ROWS per task: the copies and
 * norm statistics of 256 positions, and the first touch of their blocks, would otherwise run
 * on one thread while the others wait. Each row is recorded exactly as alone. */
enum { REC_ROWS = 16, REC_BATCH = 256 };
typedef struct { const Trace *t; const HookEvent *ev; TraceTok **toks; int i0, n; } RowTask;
static void row_task(void *ctx, int task, int thread) {
    (void)thread;
    const RowTask *a = ctx;
    for (int j = task * REC_ROWS; j < a->n && j < (task + 1) * REC_ROWS; j++)
        if (a->toks[j]) rec_row(a->t, a->ev, a->i0 + j, a->toks[j]);
}

static void rec_observe(void *ud, HookEvent *ev) {
    Trace *t = ud;
    const TraceDims *d = &t->dims;
    const int H = d->n_heads, l = ev->layer, n = ev->n_tokens;
    if (ev->point == HP_LOGITS) {
        TraceTok *toks[64];
        for (int i0 = 0; i0 < ev->shape[0]; i0 += 64) {
            const int nb = ev->shape[0] - i0 < 64 ? ev->shape[0] - i0 : 64;
            for (int i = 0; i < nb; i++) toks[i] = tok_alloc(t, ev->pos0 + i0 + i);
            TopTask a = {toks, ev->data + (size_t)i0 * d->vocab, d->vocab};
            if (nb > 1) pool_run(top_task, &a, nb);
            else top_task(&a, 0, 0);
        }
        return;
    }
    if (ev->point == HP_ATTN_SCORES || ev->point == HP_PATTERN) {
        const int T = ev->shape[2];
        for (int i = 0; i < n; i++) {
            int pos = ev->pos0 + i;
            TraceTok *k = tok_alloc(t, pos);
            if (!k) continue;
            float *dst = ev->point == HP_PATTERN ? k->attn : k->scores;
            for (int h = 0; h < H; h++)
                memcpy(dst + ((size_t)l * H + h) * (size_t)(pos + 1), ev->data + ((size_t)h * n + i) * (size_t)T, sizeof(float) * (size_t)(pos + 1));
        }
        return;
    }
    TraceTok *toks[REC_BATCH];
    for (int i0 = 0; i0 < n; i0 += REC_BATCH) {
        const int nb = n - i0 < REC_BATCH ? n - i0 : REC_BATCH;
        for (int j = 0; j < nb; j++) toks[j] = tok_alloc(t, ev->pos0 + i0 + j);   /* serial: it maps slabs */
        RowTask a = {t, ev, toks, i0, nb};
        if (nb > REC_ROWS) pool_run(row_task, &a, (nb + REC_ROWS - 1) / REC_ROWS);
        else row_task(&a, 0, 0);
    }
}

void trace_attach(Trace *t, Hooks *h) { hooks_add(h, "*", rec_ask, rec_observe, t); }

const float *trace_attn_row(const Trace *tc, int pos, int layer, int head, bool scores) {
    const TraceTok *k = trace_tok(tc, pos);
    const TraceDims *d = &tc->dims;
    if (!k || layer < 0 || layer >= d->n_layers || head < 0 || head >= d->n_heads) return NULL;
    size_t off = ((size_t)layer * d->n_heads + (size_t)head) * (size_t)(pos + 1);
    if (k->attn) return (scores ? k->scores : k->attn) + off;   /* rows kept (no engine) */
    if (!tc->en) return NULL;
    Trace *t = (Trace *)tc;   /* the row cache changes; the recorded contents do not */
    unsigned h = (unsigned)pos * 2654435761u ^ (unsigned)layer * 40503u ^ (unsigned)head * 97u;
    struct RowSlot *sl = &t->slots[h % (unsigned)t->n_slots];
    if (!(sl->row && sl->pos == pos && sl->layer == layer && sl->head == head && sl->epoch == t->epoch)) {
        if (!sl->row) sl->row = malloc(2 * sizeof(float) * (size_t)t->max_tokens);
        if (!sl->row) return NULL;
        const float *q = k->qa + ((size_t)layer * d->n_heads + (size_t)head) * (size_t)d->q_dim;
        sl->epoch = 0;
        if (!engine_attn_row(t->en, layer, pos, head, q, sl->row, sl->row + t->max_tokens)) return NULL;
        sl->pos = pos; sl->layer = layer; sl->head = head; sl->epoch = t->epoch;
    }
    return sl->row + (scores ? 0 : t->max_tokens);
}

/* the engine's norm, as norm_rows applies it */
static void norm_row(const Trace *t, float *out, const float *x, int which, int layer) {
    const ModelSpec *s = &t->m->spec;
    const Weights *w = &t->m->w;
    const Tensor *g = which == 2 ? &w->lnf_w : which == 0 ? &w->layers[layer].ln1_w : &w->layers[layer].ln2_w;
    const Tensor *b = which == 2 ? &w->lnf_b : which == 0 ? &w->layers[layer].ln1_b : &w->layers[layer].ln2_b;
    if (s->norm == NORM_RMSNORM) rmsnorm(out, x, g, s->d_model, s->norm_eps, NULL);
    else layernorm(out, x, g, b, s->d_model, s->norm_eps, NULL, NULL);
}

const float *trace_norm_out(const Trace *tc, int pos, int which, int layer) {
    const TraceTok *k = trace_tok(tc, pos);
    const TraceDims *d = &tc->dims;
    if (!k || which < 0 || which > 2 || (which < 2 && (layer < 0 || layer >= d->n_layers))) return NULL;
    const size_t D = (size_t)d->d_model;
    if (which == 2) return k->lnf_out;
    if (k->ln1_out) return (which == 0 ? k->ln1_out : k->ln2_out) + (size_t)layer * D;   /* stored */
    if (!tc->m->w.layers) return NULL;
    Trace *t = (Trace *)tc;   /* scratch only */
    norm_row(t, t->norm_buf, which == 0 ? k->resid + (size_t)layer * D : k->resid_mid + (size_t)layer * D, which, layer);
    return t->norm_buf;
}

const float *trace_mlp_post(const Trace *tc, int pos, int layer) {
    const TraceTok *k = trace_tok(tc, pos);
    const TraceDims *d = &tc->dims;
    if (!k || layer < 0 || layer >= d->n_layers) return NULL;
    const size_t F = (size_t)d->d_ff;
    if (k->mlp_post) return k->mlp_post + (size_t)layer * F;   /* stored */
    if (!tc->en) return NULL;
    Trace *t = (Trace *)tc;   /* the per-position cache changes; the recording does not */
    if (t->mlp_pos != pos || t->mlp_epoch != t->epoch) {
        for (int l = 0; l < d->n_layers; l++) t->mlp_buf[(size_t)l * (F + 1) + F] = 0;
        t->mlp_pos = pos;
        t->mlp_epoch = t->epoch;
    }
    float *row = t->mlp_buf + (size_t)layer * (F + 1);
    if (row[F] == 0) {
        float *xn = malloc(sizeof(float) * ((size_t)d->d_model + F));
        if (!xn) return NULL;
        norm_row(t, xn, k->resid_mid + (size_t)layer * (size_t)d->d_model, 1, layer);
        bool ok = engine_mlp_post(t->en, layer, xn, row, xn + d->d_model);
        free(xn);
        if (!ok) return NULL;
        row[F] = 1;
    }
    return row;
}

bool trace_mlp_post_ready(const Trace *tc, int pos, int layer) {
    const TraceTok *k = trace_tok(tc, pos);
    const TraceDims *d = &tc->dims;
    if (!k || layer < 0 || layer >= d->n_layers) return true;   /* NULL at once */
    if (k->mlp_post || !tc->en) return true;
    const size_t F = (size_t)d->d_ff;
    return tc->mlp_pos == pos && tc->mlp_epoch == tc->epoch && tc->mlp_buf[(size_t)layer * (F + 1) + F] != 0;
}

const float *trace_q_pre(const Trace *tc, int pos, int layer) {
    const TraceTok *k = trace_tok(tc, pos);
    const TraceDims *d = &tc->dims;
    const int H = d->n_heads, R = d->rot_dim, QD = d->q_dim;
    if (!k || layer < 0 || layer >= d->n_layers || !R) return NULL;
    if (k->q) return k->q + (size_t)layer * H * R;   /* stored */
    if (!tc->en || !tc->m->w.layers) return NULL;
    Trace *t = (Trace *)tc;   /* scratch only */
    float *full = t->q_buf, *xn = full + (size_t)H * QD, *out = xn + d->d_model;
    norm_row(t, xn, k->resid + (size_t)layer * (size_t)d->d_model, 0, layer);
    if (!engine_q_proj(t->en, layer, xn, full)) return NULL;
    for (int h = 0; h < H; h++) memcpy(out + (size_t)h * R, full + (size_t)h * QD + t->rope_off, sizeof(float) * (size_t)R);
    return out;
}
