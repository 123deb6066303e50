// gemm_bf16_avx2.cpp: the AVX2 + FMA kernels of gemm_bf16 for CPUs without AVX512-BF16.
//
// Only this file is compiled for AVX2 + FMA (function-level target, as gemm_bf16_avx512.cpp); gemm_bf16.cpp
// calls it when the kernel level (core/cpu.h, checked at run time) is avx2 or avx512.
//   kernel_avx2: few rows (token-by-token generation), bound by the bytes of weights read. A bf16 value is
//     the top half of a float32, so widening is one shift (even k) or one mask (odd k) per 8 lanes; per
//     k-pair: four 32-byte loads of the panel, and per row two broadcasts and eight FMAs. Two rows at a time
//     (8 accumulators + 4 broadcasts + 3 panel registers of the 16); more rows re-read the panel from cache.
//     Every product of two bf16 values is exact in float32, so FMA and the portable kernel's a*b + c
//     round the same: the two give the same bits.
//   widen_avx2, round_avx2: the panels as float32 rows and A rounded to bf16, for sgemm (many rows,
//     compute-bound).
#include "core/gemm_bf16_kernel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstring>

namespace unfold::bf16k {

#define UNFOLD_AVX2_FMA __attribute__((target("avx2,fma")))

template <int R>
UNFOLD_AVX2_FMA static void rows_avx2(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc,
                                      int cols, const float* bias) {
    const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc[R][4];
    for (int r = 0; r < R; r++)
        for (int g = 0; g < 4; g++) acc[r][g] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kpairs; p++) {
        const uint16_t* b = B + p * 2 * NR;
        __m256 alo[R], ahi[R];
        for (int r = 0; r < R; r++) {
            const __m256i ar = _mm256_set1_epi32((int)A[p * MR + r]);
            alo[r] = _mm256_castsi256_ps(_mm256_slli_epi32(ar, 16));
            ahi[r] = _mm256_castsi256_ps(_mm256_and_si256(ar, hi_mask));
        }
        for (int g = 0; g < 4; g++) {
            const __m256i bw = _mm256_loadu_si256((const __m256i*)(b + g * 16));
            const __m256 blo = _mm256_castsi256_ps(_mm256_slli_epi32(bw, 16));
            const __m256 bhi = _mm256_castsi256_ps(_mm256_and_si256(bw, hi_mask));
            for (int r = 0; r < R; r++) {
                acc[r][g] = _mm256_fmadd_ps(ahi[r], bhi, acc[r][g]);
                acc[r][g] = _mm256_fmadd_ps(alo[r], blo, acc[r][g]);
            }
        }
    }
    float bpad[NR] = {};
    if (bias) std::memcpy(bpad, bias, sizeof(float) * (size_t)cols);
    for (int g = 0; g < 4; g++) {
        const int n = cols - g * 8;
        if (n <= 0) break;
        const __m256 bv = _mm256_loadu_ps(bpad + g * 8);
        for (int r = 0; r < R; r++) {
            const __m256 v = _mm256_add_ps(acc[r][g], bv);
            float* c = C + r * ldc + g * 8;
            if (n >= 8) {
                _mm256_storeu_ps(c, v);
            } else {
                float t[8];
                _mm256_storeu_ps(t, v);
                std::memcpy(c, t, sizeof(float) * (size_t)n);
            }
        }
    }
}

UNFOLD_AVX2_FMA void kernel_avx2(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc,
                                 int rows, int cols, const float* bias) {
    int r = 0;
    for (; r + 2 <= rows; r += 2) rows_avx2<2>(A + r, B, kpairs, C + r * ldc, ldc, cols, bias);
    if (r < rows) rows_avx2<1>(A + r, B, kpairs, C + r * ldc, ldc, cols, bias);
}

UNFOLD_AVX2_FMA void widen_avx2(float* out, int64_t ldo, const uint16_t* B, int64_t kpairs, int64_t K,
                                int64_t npanels) {
    const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int64_t q = 0; q < npanels; q++)
        for (int64_t p = 0; p < kpairs; p++) {
            const uint16_t* b = B + (q * kpairs + p) * 2 * NR;
            float* lo = out + 2 * p * ldo + q * NR;
            float* hi = lo + ldo;
            const bool has_hi = 2 * p + 1 < K;
            for (int g = 0; g < 4; g++) {
                const __m256i bw = _mm256_loadu_si256((const __m256i*)(b + g * 16));
                _mm256_storeu_ps(lo + g * 8, _mm256_castsi256_ps(_mm256_slli_epi32(bw, 16)));
                if (has_hi) _mm256_storeu_ps(hi + g * 8, _mm256_castsi256_ps(_mm256_and_si256(bw, hi_mask)));
            }
        }
}

// f32_to_bf16 (core/half.h) without its branch, so the loop vectorises: the same bits for every input.
UNFOLD_AVX2_FMA void round_avx2(float* out, const float* A, int64_t lda, int64_t M, int64_t K) {
    for (int64_t i = 0; i < M; i++) {
        const float* a = A + i * lda;
        float* o = out + i * K;
        for (int64_t k = 0; k < K; k++) {
            uint32_t u;
            std::memcpy(&u, a + k, 4);
            const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
            const uint32_t quiet = (u | 0x00400000u) & 0xFFFF0000u;  // NaN stays a NaN
            const uint32_t r = (u & 0x7FFFFFFFu) > 0x7F800000u ? quiet : rounded;
            std::memcpy(o + k, &r, 4);
        }
    }
}

}  // namespace unfold::bf16k

#else  // other CPUs: only the portable kernel exists (kernel levels above portable are never selected)

namespace unfold::bf16k {

void kernel_avx2(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                 const float* bias) {
    kernel_portable(A, B, kpairs, C, ldc, rows, cols, bias);
}
void widen_avx2(float* out, int64_t ldo, const uint16_t* B, int64_t kpairs, int64_t K, int64_t npanels) {
    widen_portable(out, ldo, B, kpairs, K, npanels);
}
void round_avx2(float* out, const float* A, int64_t lda, int64_t M, int64_t K) { round_portable(out, A, lda, M, K); }

}  // namespace unfold::bf16k

#endif
