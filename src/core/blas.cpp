// blas.cpp: cblas wrappers and a reference gemm.
#include "unfold/core/blas.h"

#include <cblas.h>

namespace unfold {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N,
                (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

float dot(const float* a, const float* b, int64_t n) { return cblas_sdot((int)n, a, 1, b, 1); }

void gemv(bool trans, int64_t M, int64_t N, float alpha, const float* A, int64_t lda, const float* x, float beta,
          float* y) {
    if (M == 0 || N == 0) return;
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, (int)M, (int)N, alpha, A, (int)lda, x, 1, beta, y, 1);
}

void matmul(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta) {
    gemm(false, false, M, N, K, 1.0f, A, K, B, N, beta, C, N);
}

void matmul_bt(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta) {
    gemm(false, true, M, N, K, 1.0f, A, K, B, K, beta, C, N);
}

void matmul_at(float* C, const float* A, const float* B, int64_t M, int64_t K, int64_t N, float beta) {
    gemm(true, false, M, N, K, 1.0f, A, M, B, N, beta, C, N);
}

void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double a = trans_a ? A[k * lda + i] : A[i * lda + k];
                double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[i * ldc + j];
            C[i * ldc + j] = (float)((double)alpha * acc + c);
        }
}

}  // namespace unfold
