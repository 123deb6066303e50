// gemm_bf16.h: inference products with bfloat16 weights and activations, float32 accumulation.
//
//   C[M,N] = bf16(A)[M,K] @ bf16(W)[K,N] (+ bias[N])
//
// W is packed once (pack_bf16) into the layout of the AVX512-BF16 dot product VDPBF16PS: panels of 32
// columns, each k-pair of a panel one 128-byte line [32 cols][2 k]. A (float32) is rounded to bf16 per call
// (round to nearest even). Every product of two bf16 values is exact in float32, so the only rounding
// beyond the inputs' is the float32 accumulation. Relative to a float32 product the result differs by the
// inputs' rounding (~2^-9 relative per element, averaging down over K).
//
// On a CPU with AVX512-BF16 the kernel is a 12x32 register block of VDPBF16PS (twice the multiply-adds per
// instruction of FP32 FMA); elsewhere a portable kernel computes the same sums with FMA. The result does not
// depend on the thread count (each element is summed by one thread, in k order).
#pragma once
#include <cstdint>
#include <vector>

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

// C rows have stride ldc (>= N); A rows stride lda (>= K). bias may be null. Overwrites C.
void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t lda, int64_t M, const PackedBf16& W,
               const float* bias = nullptr);

// Which kernel gemm_bf16 uses: the AVX512-BF16 one when the CPU has it, unless forced portable (tests).
bool gemm_bf16_native_available();
void gemm_bf16_force_portable(bool on);
const char* gemm_bf16_kernel_name();  // "avx512-bf16" | "portable"

}  // namespace unfold
