/* Hook points: every intermediate value of the forward pass, named like TransformerLens.
 *
 * The engine calls hooks_want(h, point, layer) at each site (one predictable branch when
 * nothing is registered) and, only if true, hooks_fire() with a view of the value.
 * Observers register with a glob pattern over full names ("blocks.*.attn.hook_pattern",
 * "hook_logits", "*"), an optional ask function (finer filter, llama.cpp-style eval
 * callback: ask then observe) and user data. An observer may change ev->data in place
 * (write hooks: zero a head, ablate an MLP, patch a residual); the engine continues
 * with the changed values.
 *
 * Shapes have no batch dimension; see docs/hooks.md for where each point sits in the math.
 * Ownership: a Hooks registry is created with hooks_new and freed with hooks_free; the
 * event data belongs to the engine and is valid only during the callback.
 */
#ifndef LLMSCOPE_HOOKS_H
#define LLMSCOPE_HOOKS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HP_EMBED = 0,        /* hook_embed                 [pos, d_model] */
    HP_POS_EMBED,        /* hook_pos_embed             [pos, d_model] (learned positions) */
    HP_RESID_PRE,        /* blocks.L.hook_resid_pre    [pos, d_model] */
    HP_LN1_SCALE,        /* blocks.L.ln1.hook_scale    [pos] (1/sqrt(var+eps) or 1/rms) */
    HP_LN1_NORMALIZED,   /* blocks.L.ln1.hook_normalized [pos, d_model] (after weight/bias) */
    HP_Q,                /* blocks.L.attn.hook_q       [pos, n_heads, d_head] */
    HP_K,                /* blocks.L.attn.hook_k       [pos, n_kv_heads, d_head] */
    HP_V,                /* blocks.L.attn.hook_v       [pos, n_kv_heads, d_head_v] */
    HP_ROT_Q,            /* blocks.L.attn.hook_rot_q   [pos, n_heads, d_head] */
    HP_ROT_K,            /* blocks.L.attn.hook_rot_k   [pos, n_kv_heads, d_head] */
    HP_ATTN_SCORES,      /* blocks.L.attn.hook_attn_scores [n_heads, q_pos, k_pos] (masked: -inf) */
    HP_PATTERN,          /* blocks.L.attn.hook_pattern [n_heads, q_pos, k_pos] */
    HP_Z,                /* blocks.L.attn.hook_z       [pos, n_heads, d_head_v] */
    HP_ATTN_OUT,         /* blocks.L.hook_attn_out     [pos, d_model] */
    HP_RESID_MID,        /* blocks.L.hook_resid_mid    [pos, d_model] */
    HP_LN2_SCALE,        /* blocks.L.ln2.hook_scale    [pos] */
    HP_LN2_NORMALIZED,   /* blocks.L.ln2.hook_normalized [pos, d_model] */
    HP_MLP_PRE,          /* blocks.L.mlp.hook_pre      [pos, d_mlp] (gate pre-activation) */
    HP_MLP_PRE_LINEAR,   /* blocks.L.mlp.hook_pre_linear [pos, d_mlp] (up projection, gated) */
    HP_MLP_POST,         /* blocks.L.mlp.hook_post     [pos, d_mlp] (input of down proj) */
    HP_MLP_OUT,          /* blocks.L.hook_mlp_out      [pos, d_model] */
    HP_RESID_POST,       /* blocks.L.hook_resid_post   [pos, d_model] */
    HP_LNF_SCALE,        /* ln_final.hook_scale        [pos] */
    HP_LNF_NORMALIZED,   /* ln_final.hook_normalized   [pos, d_model] */
    HP_LOGITS,           /* hook_logits                [pos, d_vocab] */
    HP_Q_LATENT,         /* blocks.L.attn.hook_q_latent  [pos, q_lora_rank] (MLA, normed) */
    HP_KV_LATENT,        /* blocks.L.attn.hook_kv_latent [pos, kv_lora_rank] (MLA c_kv, cached) */
    HP_K_ROPE,           /* blocks.L.attn.hook_k_rope    [pos, qk_rope_head_dim] (MLA, after RoPE, cached) */
    HP_ROUTER_LOGITS,    /* blocks.L.mlp.hook_router_logits  [pos, n_experts] */
    HP_EXPERT_INDICES,   /* blocks.L.mlp.hook_expert_indices [pos, top_k] (ints as floats) */
    HP_EXPERT_WEIGHTS,   /* blocks.L.mlp.hook_expert_weights [pos, top_k] */
    HP_KV_APPEND,        /* blocks.L.kv.hook_append [pos, elems_per_token] what entered the cache; ev->bytes */
    HP_COUNT
} HookPoint;

#define HOOK_MAX_LAYERS 256

typedef struct {
    HookPoint point;
    int layer;             /* -1 for points outside blocks */
    const char *name;      /* full name, e.g. "blocks.3.attn.hook_pattern" */
    int ndim;
    int shape[4];
    float *data;           /* contiguous, row-major; writable by write hooks */
    int pos0;              /* absolute position of the first row / query */
    int n_tokens;          /* number of positions in this forward call */
    size_t bytes;          /* HP_KV_APPEND: bytes added to the cache by this call (this layer) */
    int step;              /* engine step counter (forward calls so far) */
} HookEvent;

typedef bool (*HookAskFn)(void *ud, HookPoint p, int layer);
typedef void (*HookObserveFn)(void *ud, HookEvent *ev);

typedef struct Hooks Hooks;

Hooks *hooks_new(void);
void hooks_free(Hooks *h);
/* Adds an observer for every point whose full name matches glob (`*` matches any run of
 * characters). ask may be NULL. Returns an id (>= 0) or -1 on a bad pattern / full table. */
int hooks_add(Hooks *h, const char *glob, HookAskFn ask, HookObserveFn observe, void *ud);
void hooks_remove(Hooks *h, int id);
/* Number of layers names are expanded for (set by the engine when a model is attached). */
void hooks_set_layers(Hooks *h, int n_layers);

/* Hot path: true if any observer wants (point, layer). */
bool hooks_want_slow(const Hooks *h, HookPoint p, int layer);
struct Hooks { uint64_t any; uint64_t *mask; int n_layers; void *impl; }; /* mask: observer bits per (point, layer) */
static inline bool hooks_want(const Hooks *h, HookPoint p, int layer) {
    return h && h->any && hooks_want_slow(h, p, layer);
}
void hooks_fire(Hooks *h, HookEvent *ev);

/* Name of a point at a layer ("blocks.3.attn.hook_pattern"); layer ignored for global points. */
const char *hook_point_template(HookPoint p);   /* "blocks.{l}.attn.hook_pattern" */
void hook_point_name(HookPoint p, int layer, char *out, size_t cap);
bool hook_point_is_global(HookPoint p);
/* Parses a full name into point and layer; false if unknown. */
bool hook_point_parse(const char *name, HookPoint *p, int *layer);
/* Simple glob match (`*` only). */
bool hook_glob_match(const char *glob, const char *s);

#endif
