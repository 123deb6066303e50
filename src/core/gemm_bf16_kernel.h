// gemm_bf16_kernel.h: the register-block kernels behind gemm_bf16 (internal to core).
//
// One kernel call computes C[rows, cols] (rows <= MR, cols <= NR) over the whole K:
//   A: one packed row block  [kpairs][MR] dwords, each dword = (A[r, 2p], A[r, 2p+1]) as two bf16
//   B: one packed panel      [kpairs][NR][2] bf16
// bias (or null) holds the panel's NR column biases. C = sum + bias, the sum taken per k-pair as
// acc + a_hi*b_hi + a_lo*b_lo (VDPBF16PS's order; portable and avx2 give the same bits).
// widen_*: panels [0, npanels) of B (consecutive, kpairs each) as float32 rows out[k][npanels * NR] (ld ldo).
#pragma once
#include <cstdint>

namespace unfold::bf16k {

constexpr int MR = 12;  // rows per register block
constexpr int NR = 32;  // columns per panel (two 16-lane float32 vectors)

void kernel_avx512(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                   const float* bias);
void kernel_avx2(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                 const float* bias);
void kernel_portable(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                     const float* bias);
void widen_avx2(float* out, int64_t ldo, const uint16_t* B, int64_t kpairs, int64_t K, int64_t npanels);
void widen_portable(float* out, int64_t ldo, const uint16_t* B, int64_t kpairs, int64_t K, int64_t npanels);
// out[M][K] (dense) = A[M][K] (stride lda) rounded to bf16 (round to nearest even, NaN kept), as float32
void round_avx2(float* out, const float* A, int64_t lda, int64_t M, int64_t K);
void round_portable(float* out, const float* A, int64_t lda, int64_t M, int64_t K);

}  // namespace unfold::bf16k
