// blas.h: the dense products, over OpenBLAS (cblas) for large shapes.
//
// All matrices are row-major. gemm computes C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C,
// op(X) = X or X^T. lda/ldb/ldc are row strides in elements (for a plain contiguous matrix: its
// number of columns as stored).
#pragma once
#include <cstdint>

namespace unfold {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Contiguous convenience: C[M,N] (+)= A[M,K] @ B[K,N]  (beta 0 overwrites, 1 accumulates)
// y[M] = alpha * op(A) x + beta * y, A row-major [M x N] (trans: op(A) = A^T, y has N entries and x M).
void gemv(bool trans, int64_t M, int64_t N, float alpha, const float* A, int64_t lda, const float* x, float beta,
          float* y);
void matmul(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta = 0.0f);
// C[M,N] (+)= A[M,K] @ B[N,K]^T
void matmul_bt(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta = 0.0f);
// C[M,N] (+)= A[K,M]^T @ B[K,N]
void matmul_at(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta = 0.0f);

// sum_i a[i] * b[i] (OpenBLAS sdot: its kernel is chosen for the CPU at run time)
float dot(const float* a, const float* b, int64_t n);

// Straightforward triple-loop reference (double accumulation), for tests.
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace unfold
