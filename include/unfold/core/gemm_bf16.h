// gemm_bf16.h: inference products with bfloat16 weights and activations, float32 accumulation.
//
//   C[M,N] = bf16(A)[M,K] @ bf16(W)[K,N] (+ bias[N])
//
// W is packed once (pack_bf16) into the layout of the AVX512-BF16 dot product VDPBF16PS: panels of 32
// columns, each k-pair of a panel one 128-byte line [32 cols][2 k]. A (float32) is rounded to bf16 per call
// (round to nearest even). Every product of two bf16 values is exact in float32 (outside the subnormal
// range), so the only rounding beyond the inputs' is the float32 accumulation. Relative to a float32
// product the result differs by the inputs' rounding (~2^-9 relative per element, averaging down over K).
//
// Which code runs depends on the kernel level (core/cpu.h; kernel_level() unless the caller passes one) and
// on M, the number of rows (gemm_bf16_path names it):
//   avx512-bf16          a 12x32 register block of VDPBF16PS (twice the multiply-adds per instruction of
//                        float32 FMA): about 2x float32 sgemm on large M (Zen 4, Sapphire Rapids).
//   avx2, avx512, M <= 16 an AVX2 + FMA kernel on the packed weights ("avx2"): token-by-token generation is
//                        bound by the bytes of weights read, so half the bytes approach 2x float32.
//   avx2, avx512, M > 16  the weight panels widened to float32 in blocks and multiplied by OpenBLAS sgemm
//                        ("sgemm"): compute-bound, and the rounding of A and widening of W cost memory
//                        bandwidth on top of the sgemm, so below float32 speed (0.90-0.99x at M 512,
//                        0.77-0.90x at M 64 measured on an AVX2 machine).
//   portable             plain C++ (any CPU): slower than float32 sgemm on batches.
// So bf16 only pays off against float32 at avx512-bf16 (any M) and for up to kGemmBf16SmallRows rows
// elsewhere; gemm_bf16_pays_off says which, and a bf16 model's forward (lm/model.h) runs the float32 product
// on its float32 weights where it does not. gemm_bf16 itself still computes the bf16 product at every M
// (the sgemm path is its large-M route: rounded inputs at about float32 speed, for callers that want bf16
// semantics, the tests and bench_gemm).
// The sums agree across paths within float32 accumulation error, but not bit for bit:
//   - portable and avx2 add each k-pair as acc + a_hi*b_hi + a_lo*b_lo in k order, the order VDPBF16PS's
//     definition states, so they give the same bits as each other (tested);
//   - avx512-bf16 is the hardware's VDPBF16PS (subnormal inputs and results flushed to zero; its internal
//     rounding is the CPU's), sgemm is OpenBLAS's summation order. Each path is within
//     (K + 2) * 2^-24 * sum_k |A_ik W_kj| of the exact sum of the rounded inputs (tests/core/test_gemm_bf16),
//     so two paths are within twice that of each other.
// Determinism: the portable, avx2 and avx512-bf16 kernels compute each element in one thread in k order,
// so the result depends neither on the thread count nor on M (a row gives the same bits alone or in a
// batch). The sgemm path is as deterministic as OpenBLAS: fixed for a machine and thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "unfold/core/cpu.h"

namespace unfold {

struct PackedBf16 {
    int64_t K = 0, N = 0;         // logical shape of W: [K, N]
    int64_t kpairs = 0;           // ceil(K / 2)
    int64_t panels = 0;           // ceil(N / 32)
    std::vector<uint16_t> data;   // [panels][kpairs][32][2], zero padded
    bool empty() const { return data.empty(); }
    // W[k, n] as stored (bf16 bits); for tests.
    uint16_t at(int64_t k, int64_t n) const;
};

// W_is_nk = false: W is [K, N] row-major (GPT-2 Conv1D, "in x out").
// W_is_nk = true:  W is [N, K] row-major (torch Linear "out x in", an embedding table used as unembedding).
void pack_bf16(PackedBf16& out, const float* W, int64_t K, int64_t N, bool W_is_nk);

// C rows have stride ldc (>= N); A rows stride lda (>= K). bias may be null. Overwrites C. level picks the
// code (see above); a level above what this CPU supports runs as the best one it does (cpu_kernel_level()).
void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t lda, int64_t M, const PackedBf16& W,
               const float* bias = nullptr, KernelLevel level = kernel_level());

// The rows up to which the AVX2 levels run their own kernel instead of widening to sgemm (bench_gemm on an
// AVX2 machine: at 16 rows the kernel was 1.2-1.5x fp32 and the sgemm path 0.6-0.9x; at 64 both ~0.85x).
constexpr int64_t kGemmBf16SmallRows = 16;

// What gemm_bf16 runs for M rows at a level: "avx512-bf16" | "avx2" | "sgemm" | "portable".
const char* gemm_bf16_path(int64_t M, KernelLevel level = kernel_level());

// Whether gemm_bf16 is expected to be at least as fast as float32 sgemm on float32 weights for M rows at
// this level (capped at the CPU's, like gemm_bf16): always at avx512-bf16 (twice the multiply-adds per
// instruction), otherwise only for M <= kGemmBf16SmallRows (the avx2 or portable kernel reading half the
// bytes of weights; above that the avx2 levels' sgemm path is 0.77-0.99x of float32 and the portable kernel
// far slower). False means: run the float32 product instead, if the float32 weights are at hand.
bool gemm_bf16_pays_off(int64_t M, KernelLevel level = kernel_level());

}  // namespace unfold
