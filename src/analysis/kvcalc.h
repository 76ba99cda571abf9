/* KV-cache sizes of one model as if its attention were MHA, GQA, MQA or MLA
 * (DeepSeek-V2, Table 1: elements cached per token per layer):
 *   MHA  2 n_h d_h        GQA  2 n_g d_h        MQA  2 d_h        MLA  d_c + d_h^R
 * For a model that is not MLA the MLA row uses DeepSeek-V2's choices d_c = 4 d_h and
 * d_h^R = d_h / 2; for a model that is not GQA the GQA row uses n_g = n_h / 4 (at least
 * 2). An MLA model's own MHA row caches keys of d_qk = nope + rope and values of d_v
 * per head. The row matching the model is marked `actual`. */
#ifndef LLMSCOPE_KVCALC_H
#define LLMSCOPE_KVCALC_H
#include <stdbool.h>
#include "model/model.h"

typedef enum { KVA_MHA = 0, KVA_GQA, KVA_MQA, KVA_MLA, KVA_COUNT } KvArch;

typedef struct {
    KvArch arch;
    long long elems;            /* cached elements per token per layer */
    bool actual;                /* the model's own attention */
    char name[8];               /* "MHA" */
    char formula[80];           /* "2*n_h*d_h = 2*8*8" */
} KvVariant;

void kv_variants(const ModelSpec *s, KvVariant out[KVA_COUNT]);
/* Elements per token per layer the model itself caches. */
long long kv_elems_actual(const ModelSpec *s);
/* Bytes for tokens x layers at elem_bytes per element. */
double kv_bytes(long long elems, int layers, long long tokens, int elem_bytes);
/* The same for a cache that keeps only the last sliding_window keys in the layers that have a
 * window (as transformers' sliding-window cache layers do; Gemma 3: 5 of every 6 layers). The
 * engine itself keeps every key. */
double kv_bytes_windowed(const ModelSpec *s, long long elems, long long tokens, int elem_bytes);
/* Layers with a sliding window (0: none). */
int kv_window_layers(const ModelSpec *s);
/* What-if precision of the cached elements: f32 (what this engine stores), bf16 (what the
 * checkpoints and most servers store), fp8 (e4m3/e5m2) and int4. Only the elements are counted:
 * real fp8/int4 caches also keep a scale per block of elements (e.g. one f16 per 32 int4 values,
 * +0.5 bit/element), which these figures leave out. */
typedef enum { KVP_F32 = 0, KVP_BF16, KVP_FP8, KVP_INT4, KVP_COUNT } KvPrec;
int kv_prec_bits(KvPrec p);
const char *kv_prec_name(KvPrec p);
/* Bytes for tokens x layers at bits per element (int4: 4 bits, so half a byte). */
double kv_bytes_bits(long long elems, int layers, long long tokens, int bits);
/* "1.5 KiB", "12.0 MiB" */
void kv_fmt_bytes(double b, char *buf, int cap);
#endif
