/* Hook registry: observers by glob pattern, expanded once into a (point x layer) mask so
 * the engine's per-site test is a table lookup. */
#include "engine/hooks.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBS 64

typedef struct {
    bool used;
    char glob[128];
    HookAskFn ask;
    HookObserveFn observe;
    void *ud;
} Observer;

typedef struct {
    Observer obs[MAX_OBS];
    char name[160];
} Impl;

static const char *const TEMPLATES[HP_COUNT] = {
    [HP_EMBED] = "hook_embed",
    [HP_POS_EMBED] = "hook_pos_embed",
    [HP_RESID_PRE] = "blocks.{l}.hook_resid_pre",
    [HP_LN1_SCALE] = "blocks.{l}.ln1.hook_scale",
    [HP_LN1_NORMALIZED] = "blocks.{l}.ln1.hook_normalized",
    [HP_Q] = "blocks.{l}.attn.hook_q",
    [HP_K] = "blocks.{l}.attn.hook_k",
    [HP_V] = "blocks.{l}.attn.hook_v",
    [HP_ROT_Q] = "blocks.{l}.attn.hook_rot_q",
    [HP_ROT_K] = "blocks.{l}.attn.hook_rot_k",
    [HP_ATTN_SCORES] = "blocks.{l}.attn.hook_attn_scores",
    [HP_PATTERN] = "blocks.{l}.attn.hook_pattern",
    [HP_Z] = "blocks.{l}.attn.hook_z",
    [HP_ATTN_OUT] = "blocks.{l}.hook_attn_out",
    [HP_RESID_MID] = "blocks.{l}.hook_resid_mid",
    [HP_LN2_SCALE] = "blocks.{l}.ln2.hook_scale",
    [HP_LN2_NORMALIZED] = "blocks.{l}.ln2.hook_normalized",
    [HP_MLP_PRE] = "blocks.{l}.mlp.hook_pre",
    [HP_MLP_PRE_LINEAR] = "blocks.{l}.mlp.hook_pre_linear",
    [HP_MLP_POST] = "blocks.{l}.mlp.hook_post",
    [HP_MLP_OUT] = "blocks.{l}.hook_mlp_out",
    [HP_RESID_POST] = "blocks.{l}.hook_resid_post",
    [HP_LNF_SCALE] = "ln_final.hook_scale",
    [HP_LNF_NORMALIZED] = "ln_final.hook_normalized",
    [HP_LOGITS] = "hook_logits",
    [HP_Q_LATENT] = "blocks.{l}.attn.hook_q_latent",
    [HP_KV_LATENT] = "blocks.{l}.attn.hook_kv_latent",
    [HP_K_ROPE] = "blocks.{l}.attn.hook_k_rope",
    [HP_ROUTER_LOGITS] = "blocks.{l}.mlp.hook_router_logits",
    [HP_EXPERT_INDICES] = "blocks.{l}.mlp.hook_expert_indices",
    [HP_EXPERT_WEIGHTS] = "blocks.{l}.mlp.hook_expert_weights",
    [HP_KV_APPEND] = "blocks.{l}.kv.hook_append",
};

const char *hook_point_template(HookPoint p) { return (unsigned)p < HP_COUNT ? TEMPLATES[p] : "?"; }

bool hook_point_is_global(HookPoint p) {
    return p == HP_EMBED || p == HP_POS_EMBED || p == HP_LNF_SCALE || p == HP_LNF_NORMALIZED || p == HP_LOGITS;
}

void hook_point_name(HookPoint p, int layer, char *out, size_t cap) {
    const char *t = hook_point_template(p);
    const char *b = strstr(t, "{l}");
    if (!b) { snprintf(out, cap, "%s", t); return; }
    snprintf(out, cap, "%.*s%d%s", (int)(b - t), t, layer, b + 3);
}

bool hook_point_parse(const char *name, HookPoint *p, int *layer) {
    for (int i = 0; i < HP_COUNT; i++) {
        const char *t = TEMPLATES[i];
        const char *b = strstr(t, "{l}");
        if (!b) {
            if (!strcmp(name, t)) { *p = (HookPoint)i; *layer = -1; return true; }
            continue;
        }
        size_t pre = (size_t)(b - t);
        if (strncmp(name, t, pre)) continue;
        const char *q = name + pre;
        if (*q < '0' || *q > '9') continue;
        long l = 0;
        while (*q >= '0' && *q <= '9') { l = l * 10 + (*q - '0'); if (l > 1000000) break; q++; }
        if (!strcmp(q, b + 3) && l < HOOK_MAX_LAYERS) { *p = (HookPoint)i; *layer = (int)l; return true; }
    }
    return false;
}

bool hook_glob_match(const char *g, const char *s) {
    /* iterative '*' matcher with backtracking to the last star */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*g == '*') { star = g++; ss = s; continue; }
        if (*g == *s) { g++; s++; continue; }
        if (star) { g = star + 1; s = ++ss; continue; }
        return false;
    }
    while (*g == '*') g++;
    return *g == 0;
}

Hooks *hooks_new(void) {
    Hooks *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->impl = calloc(1, sizeof(Impl));
    h->n_layers = 0;
    h->mask = calloc((size_t)HP_COUNT * (HOOK_MAX_LAYERS + 1), sizeof(uint64_t));
    if (!h->impl || !h->mask) { hooks_free(h); return NULL; }
    return h;
}

void hooks_free(Hooks *h) {
    if (!h) return;
    free(h->impl);
    free(h->mask);
    free(h);
}

static size_t mask_idx(HookPoint p, int layer) {
    return (size_t)p * (HOOK_MAX_LAYERS + 1) + (size_t)(layer < 0 ? HOOK_MAX_LAYERS : layer);
}

static void rebuild(Hooks *h) {
    Impl *im = h->impl;
    memset(h->mask, 0, (size_t)HP_COUNT * (HOOK_MAX_LAYERS + 1) * sizeof(uint64_t));
    h->any = 0;
    int nl = h->n_layers > 0 ? h->n_layers : HOOK_MAX_LAYERS;
    if (nl > HOOK_MAX_LAYERS) nl = HOOK_MAX_LAYERS;
    char name[160];
    for (int p = 0; p < HP_COUNT; p++) {
        int lo = hook_point_is_global((HookPoint)p) ? -1 : 0;
        int hi = hook_point_is_global((HookPoint)p) ? 0 : nl;
        for (int l = lo; l < hi; l++) {
            hook_point_name((HookPoint)p, l, name, sizeof name);
            for (int i = 0; i < MAX_OBS; i++) {
                if (im->obs[i].used && hook_glob_match(im->obs[i].glob, name)) {
                    h->mask[mask_idx((HookPoint)p, l)] |= 1ull << i;
                    h->any = 1;
                }
            }
        }
    }
}

void hooks_set_layers(Hooks *h, int n_layers) {
    if (!h) return;
    h->n_layers = n_layers;
    rebuild(h);
}

int hooks_add(Hooks *h, const char *glob, HookAskFn ask, HookObserveFn observe, void *ud) {
    if (!h || !glob || !observe || strlen(glob) >= 128) return -1;
    Impl *im = h->impl;
    for (int i = 0; i < MAX_OBS; i++) {
        if (!im->obs[i].used) {
            im->obs[i] = (Observer){true, "", ask, observe, ud};
            snprintf(im->obs[i].glob, sizeof im->obs[i].glob, "%s", glob);
            rebuild(h);
            return i;
        }
    }
    return -1;
}

void hooks_remove(Hooks *h, int id) {
    if (!h || id < 0 || id >= MAX_OBS) return;
    ((Impl *)h->impl)->obs[id].used = false;
    rebuild(h);
}

bool hooks_want_slow(const Hooks *h, HookPoint p, int layer) {
    if ((unsigned)p >= HP_COUNT || layer >= HOOK_MAX_LAYERS) return false;
    uint64_t bits = h->mask[mask_idx(p, hook_point_is_global(p) ? -1 : layer)];
    if (!bits) return false;
    /* ask phase: at least one matching observer must want it */
    const Impl *im = h->impl;
    for (int i = 0; bits; i++, bits >>= 1) {
        const Observer *o = &im->obs[i];
        if ((bits & 1) && (!o->ask || o->ask(o->ud, p, layer))) return true;
    }
    return false;
}

void hooks_fire(Hooks *h, HookEvent *ev) {
    if (!h) return;
    Impl *im = h->impl;
    hook_point_name(ev->point, ev->layer, im->name, sizeof im->name);
    ev->name = im->name;
    if ((unsigned)ev->point >= HP_COUNT || ev->layer >= HOOK_MAX_LAYERS) return;
    uint64_t bits = h->mask[mask_idx(ev->point, hook_point_is_global(ev->point) ? -1 : ev->layer)];
    for (int i = 0; bits; i++, bits >>= 1) {
        Observer *o = &im->obs[i];
        if ((bits & 1) && (!o->ask || o->ask(o->ud, ev->point, ev->layer))) o->observe(o->ud, ev);
    }
}
