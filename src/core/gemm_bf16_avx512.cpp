// gemm_bf16_avx512.cpp: the AVX512-BF16 register block (12 rows x 32 columns, 24 accumulators).
//
// Only this file is compiled for AVX-512 (function-level target, so nothing shared with the rest of the
// program is emitted with AVX-512 instructions); gemm_bf16.cpp calls it at kernel level avx512-bf16
// (core/cpu.h, checked at run time).
// Per k-pair: two 64-byte loads of the weight panel, twelve 4-byte broadcasts of the activation pairs and
// 24 VDPBF16PS, each 16 lanes x 2 multiply-adds.
#include "core/gemm_bf16_kernel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace unfold::bf16k {

#define UNFOLD_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// R rows (R <= MR; the packed block keeps its MR stride), all 32 columns of the panel.
template <int R>
UNFOLD_AVX512_BF16 static void block(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc,
                                     int cols, const float* bias) {
    __m512 c0[R], c1[R];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kpairs; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(B + p * 64);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(B + p * 64 + 32);
        const uint32_t* a = A + p * MR;
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            const __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
            c0[r] = _mm512_dpbf16_ps(c0[r], ar, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], ar, b1);
        }
    }
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (bias) {
        bias0 = _mm512_maskz_loadu_ps(m0, bias);
        bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(C + r * ldc, m0, _mm512_add_ps(c0[r], bias0));
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, _mm512_add_ps(c1[r], bias1));
    }
}

UNFOLD_AVX512_BF16 void kernel_avx512(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc,
                                      int rows, int cols, const float* bias) {
    static_assert(MR == 12, "one case per row count below");
    switch (rows) {
        case 12: return block<12>(A, B, kpairs, C, ldc, cols, bias);
        case 11: return block<11>(A, B, kpairs, C, ldc, cols, bias);
        case 10: return block<10>(A, B, kpairs, C, ldc, cols, bias);
        case 9: return block<9>(A, B, kpairs, C, ldc, cols, bias);
        case 8: return block<8>(A, B, kpairs, C, ldc, cols, bias);
        case 7: return block<7>(A, B, kpairs, C, ldc, cols, bias);
        case 6: return block<6>(A, B, kpairs, C, ldc, cols, bias);
        case 5: return block<5>(A, B, kpairs, C, ldc, cols, bias);
        case 4: return block<4>(A, B, kpairs, C, ldc, cols, bias);
        case 3: return block<3>(A, B, kpairs, C, ldc, cols, bias);
        case 2: return block<2>(A, B, kpairs, C, ldc, cols, bias);
        case 1: return block<1>(A, B, kpairs, C, ldc, cols, bias);
        default: return;
    }
}

}  // namespace unfold::bf16k

#else  // other CPUs: only the portable kernel exists

namespace unfold::bf16k {

void kernel_avx512(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                   const float* bias) {
    kernel_portable(A, B, kpairs, C, ldc, rows, cols, bias);  // never selected (cpu_kernel_level() is portable)
}

}  // namespace unfold::bf16k

#endif
