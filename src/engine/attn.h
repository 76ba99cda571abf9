/* Attention kernels over the engine's f32 KV cache (forward.c projects, ropes and appends;
 * these compute z = softmax(q K^T * scale) V on the pool).
 *
 * Standard attention (MHA/GQA/MQA): the cache is head-major, each KV head's keys one
 * contiguous run of rows of hd floats (values likewise). Query head h reads KV head
 * h / (H / KV). Visible keys for the query at position p: [attn_lo(window, p), p].
 *   decode (few rows): tasks of (KV head, key range); each reads every key and value row of its
 *     range once for all the query heads of the group, keys and values in one pipelined pass
 *     (the scores of block b are computed while block b-1's values are summed), with an online
 *     softmax; the ranges' partial results are merged (attn_decode).
 *   prefill: tasks of (head, 64 query rows): S = Q K^T (GEMM), masked softmax, Z = P V (GEMM).
 *   materialised (a hook wants scores or pattern): S for every head and row into att
 *     [H][n][T], then Z = P V after the caller's softmax.
 * MLA (DeepSeek-V2 §2.1, absorbed form): the cache holds the latent c_kv [T][R] and the rope
 *   key k_pe [T][rope]; score = (W_UK^T q_nope)·c_kv + q_pe·k_pe, z = W_UV (sum_j p_j c_kv_j).
 *   Fused: tasks of (head, 64 query rows), nothing of size [H][n][T]; materialised as above. */
#ifndef LLMSCOPE_ATTN_H
#define LLMSCOPE_ATTN_H
#include <stdbool.h>
#include <stddef.h>
#include "model/model.h"

#define ATTN_TB 64   /* query rows per prefill task */

typedef struct {
    const float *q; size_t ldq;     /* query row t, head h: q + t*ldq + h*hd */
    const float *k, *v; size_t ldkv;/* KV head kh: keys k + kh*ldkv, values v + kh*ldkv, [pos][hd] */
    float *z; size_t ldz;           /* output row t, head h: z + t*ldz + h*hd */
    int n, p0;                      /* query rows, position of the first */
    int H, KV, hd;
    int window;                     /* sliding window (0: none) */
    float scale;
} AttnArgs;

/* First visible key for a query at position qpos (sliding window, causal). */
static inline int attn_lo(int window, int qpos) {
    return (window > 0 && qpos - window + 1 > 0) ? qpos - window + 1 : 0;
}

/* Floats of scratch attn_decode needs for n query rows (the ranges' partial results). */
size_t attn_decode_floats(int n, int H, int hd);
/* Decode: a->n small (a few rows). part: attn_decode_floats(...) floats. The key ranges
 * depend only on the context length, never on the thread count. */
void attn_decode(const AttnArgs *a, float *part);
/* Prefill: any n (GEMM per head and block of ATTN_TB rows). */
void attn_prefill(const AttnArgs *a);
/* Materialised: att[h][t][j] = scaled q·k for every j < p0 + n (masked keys are not written;
 * the caller masks and softmaxes), then attn_values_all: z = att · V. */
void attn_scores_all(const AttnArgs *a, float *att);
void attn_values_all(const AttnArgs *a, const float *att);
/* One query's scaled scores against keys [lo, hi] (rows of hd floats from k): out[j - lo].
 * The same arithmetic as attn_decode's scores (q scaled first, then the dot), so a row the
 * trace recomputes equals the one decode used. */
void attn_row_scores(const float *k, int hd, int lo, int hi, const float *q, float scale, float *out);

typedef struct {
    const Tensor *wkv_b;            /* [H*(nope+dv), R]: W_UK and W_UV per head */
    const float *q;                 /* [n][H][nope + rope] (q_pe already rotated) */
    float *qabs, *olat;             /* [n][H][R] scratch: absorbed queries, latent outputs */
    const float *c, *kpe;           /* cache: latents [T][R], rope keys [T][rope] */
    float *z;                       /* [n][H][dv] */
    int n, p0, H, nope, rope, dv, R;
    float scale;
} MlaArgs;

/* qabs = W_UK^T q_nope for every row and head. */
void attn_mla_absorb(const MlaArgs *m);
/* Fused: after attn_mla_absorb, z for every row and head (no [H][n][T] buffer). */
void attn_mla_fused(const MlaArgs *m);
/* Materialised: after attn_mla_absorb, att[h][t][j] for j <= p0 + t (scaled); after the
 * caller's softmax, attn_mla_values_all gives z. */
void attn_mla_scores_all(const MlaArgs *m, float *att);
void attn_mla_values_all(const MlaArgs *m, const float *att);
#endif
