/* Matrix products for prefill and attention: Y[t][r] = sum_c X[t][c] B[r][c].
 *
 * Our own kernels, chosen at run time from the CPU's features (AVX-512F, else AVX2+FMA,
 * else portable C), so the speed does not depend on a BLAS library recognising the CPU.
 * B is read in panels of NR rows x KC columns, widened to f32 once per panel (16-bit weights
 * stay 16-bit in memory) and laid out so the micro-kernel streams it with aligned loads while
 * MR rows of X are broadcast: an MR x NR block of Y stays in registers across the panel.
 * Accumulation is in f32, in the order c = 0, 1, ... within each KC block. */
#ifndef LLMSCOPE_GEMM_H
#define LLMSCOPE_GEMM_H
#include <stdbool.h>
#include <stddef.h>
#include "model/model.h"

typedef struct {
    const void *data;
    DType dtype;
    size_t ld;      /* elements between consecutive rows (or columns, if by_cols) */
    bool by_cols;   /* B[r][c] = data[c*ld + r] (e.g. the value cache read as V^T) */
} GemmB;

enum { GEMM_ISA_GENERIC = 0, GEMM_ISA_AVX2 = 1, GEMM_ISA_AVX512 = 2 };
/* The kernel set in use (detected on first use). */
int gemm_isa(void);
/* Forces a kernel set (tests); false if this CPU cannot run it. */
bool gemm_set_isa(int isa);
const char *gemm_isa_name(int isa);

/* Y[t][r] (=, or += with accumulate) sum_{c<k} X[t][c] B[r][c] for t < n, r0 <= r < r1.
 * Runs on the calling thread; thread is its pool index (selects its packing buffer). */
void gemm_rows(const GemmB *B, int r0, int r1, const float *X, size_t ldx, int n, int k,
               float *Y, size_t ldy, bool accumulate, int thread);
/* The same over r < rows, split across the pool's threads by row panels. */
void gemm(const GemmB *B, int rows, const float *X, size_t ldx, int n, int k, float *Y, size_t ldy);
#endif
