/* The architecture trade-off: measured quality against KV-cache memory, read from the family
 * file (assets/models/family.json, written by assets/models/train/train.py; docs/models.md)
 * and, for real models known only by their published config.json (assets/configs/NAME),
 * the KV bytes per token their config implies (kvcalc's formulas, bf16). Nothing here is
 * typed in: change family.json or a config and the numbers change.
 *
 * Pareto front: a measured variant is on it when no other variant caches at most as many
 * bytes per token with at most its mean bits/byte, one of the two strictly less. */
#ifndef LLMSCOPE_ANALYSIS_TRADEOFF_H
#define LLMSCOPE_ANALYSIS_TRADEOFF_H
#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"
#include "model/model.h"

#define TRADEOFF_MAX_VARIANTS 64
#define TRADEOFF_MAX_CONFIGS 8

typedef struct {
    char name[32];            /* "gqa2" */
    char label[64];           /* "GQA, 2 KV heads" */
    char label_zh[96];        /* "GQA，2 个 KV 头" (may be empty: the Chinese UI then shows label) */
    char attention[8];        /* "MHA" | "GQA" | "MQA" | "MLA" */
    char arch[16];            /* "llama", "mla", "gpt2", "moe" (may be empty) */
    int kv_heads, kv_latent;  /* kv_latent 0 = none */
    int ffn;                  /* 0 = not given */
    long long params;
    double kv_bytes;          /* per token, all layers, bf16 */
    double bpb, lo, hi;       /* mean bits/byte over seeds, 95 % interval over seeds */
    double story_lo, story_hi;/* 95 % bootstrap over stories (NAN when absent) */
    int n_seeds;
    char bundled[64];         /* "story-gqa" or "" */
    bool pareto;
} TradeoffVariant;

typedef struct {
    char name[32];            /* "Llama-3-8B" */
    char dir[32];             /* "llama-3-8b" (assets/configs/<dir>/config.json) */
    double kv_bytes;          /* per token, all layers, bf16; NAN when the config could not be read */
    char attention[8];
    int n_layers;
    char err[160];            /* why kv_bytes is NAN */
} TradeoffConfig;

typedef struct {
    char path[1024];          /* the family.json read */
    char eval_text[256];      /* eval.text */
    long long eval_tokens, eval_bytes;
    int n_seeds;              /* seeds of the first variant */
    TradeoffVariant v[TRADEOFF_MAX_VARIANTS];
    int n;
    TradeoffConfig cfg[TRADEOFF_MAX_CONFIGS];
    int n_cfg;
} Tradeoff;

/* Parses family.json text (path is for messages); configs_dir: the folder holding
 * llama-3-8b/ qwen3-8b/ deepseek-v3/ (NULL: none). False + e naming file and field. */
bool tradeoff_parse(const char *json, size_t len, const char *path, const char *configs_dir, Tradeoff *t, Err *e);
/* Reads path (and configs_dir). */
bool tradeoff_load(const char *path, const char *configs_dir, Tradeoff *t, Err *e);
/* Finds family.json for a model: the folder that holds the model's folder (where the bundled
 * story models and family.json sit), then assets/models/ under the current directory.
 * Writes the family path and the configs folder (<that folder>/../configs). False when none
 * exists (out still holds the first candidate, for the message). */
bool tradeoff_find(const char *model_path, char *out, size_t cap, char *configs, size_t ccap);
/* Marks the Pareto front (minimise kv_bytes and bpb). */
void tradeoff_pareto(Tradeoff *t);
/* The variant a loaded model is: by the bundled name (the model folder's name), else by shape
 * (attention kind, KV heads or latent, FFN width, MoE / learned positions, KV bytes per token
 * in bf16). -1 when none. */
int tradeoff_match(const Tradeoff *t, const char *model_path, const ModelSpec *sp);
/* KV bytes per token (all layers, bf16) of a model spec, as the method needs them. */
double tradeoff_kv_bytes(const ModelSpec *sp);
#endif
