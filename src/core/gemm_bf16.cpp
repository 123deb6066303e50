// gemm_bf16.cpp: packing, the row-block driver, the portable kernel and kernel selection.
//
// Loop order: panels of W outermost, row blocks of A inside, so one thread keeps a weight panel
// (kpairs x 128 bytes) in L2 while the packed activations stream past it. The (panel, row block) grid is
// split statically over threads; every output element belongs to one grid cell, summed in k order.
#include "unfold/core/gemm_bf16.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/gemm_bf16_kernel.h"
#include "unfold/core/error.h"
#include "unfold/core/half.h"

namespace unfold {

using bf16k::MR;
using bf16k::NR;

uint16_t PackedBf16::at(int64_t k, int64_t n) const {
    UNFOLD_CHECK(k >= 0 && k < K && n >= 0 && n < N, "PackedBf16::at(%lld, %lld) outside [%lld, %lld]", (long long)k,
                 (long long)n, (long long)K, (long long)N);
    return data[(size_t)((((n / NR) * kpairs + k / 2) * NR + n % NR) * 2 + k % 2)];
}

void pack_bf16(PackedBf16& out, const float* W, int64_t K, int64_t N, bool W_is_nk) {
    UNFOLD_CHECK(K >= 0 && N >= 0, "pack_bf16: negative shape [%lld, %lld]", (long long)K, (long long)N);
    out.K = K;
    out.N = N;
    out.kpairs = (K + 1) / 2;
    out.panels = (N + NR - 1) / NR;
    out.data.assign((size_t)mul_checked((uint64_t)out.panels * (uint64_t)out.kpairs, 2 * NR, "pack_bf16"), 0);
    uint16_t* d = out.data.data();
    const int64_t kpairs = out.kpairs;
#pragma omp parallel for schedule(static) if(K * N >= (1 << 20))
    for (int64_t panel = 0; panel < out.panels; panel++) {
        uint16_t* pd = d + panel * kpairs * 2 * NR;
        const int64_t n0 = panel * NR, cols = std::min<int64_t>(NR, N - n0);
        for (int64_t j = 0; j < cols; j++) {
            const int64_t n = n0 + j;
            for (int64_t k = 0; k < K; k++) {
                float w = W_is_nk ? W[n * K + k] : W[k * N + n];
                pd[((k / 2) * NR + j) * 2 + (k & 1)] = f32_to_bf16(w);
            }
        }
    }
}

namespace bf16k {

void kernel_portable(const uint32_t* A, const uint16_t* B, int64_t kpairs, float* C, int64_t ldc, int rows, int cols,
                     const float* bias) {
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < kpairs; p++) {
        float blo[NR], bhi[NR];
        for (int j = 0; j < NR; j++) {
            blo[j] = bf16_to_f32(B[p * 2 * NR + 2 * j]);
            bhi[j] = bf16_to_f32(B[p * 2 * NR + 2 * j + 1]);
        }
        const uint32_t* a = A + p * MR;
        for (int r = 0; r < rows; r++) {
            const float alo = bf16_to_f32((uint16_t)(a[r] & 0xFFFF)), ahi = bf16_to_f32((uint16_t)(a[r] >> 16));
            for (int j = 0; j < NR; j++) acc[r][j] = std::fma(alo, blo[j], std::fma(ahi, bhi[j], acc[r][j]));
        }
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) C[r * ldc + j] = acc[r][j] + (bias ? bias[j] : 0.0f);
}

}  // namespace bf16k

static std::atomic<bool> g_force_portable{false};

bool gemm_bf16_native_available() {
    static const bool has = bf16k::cpu_has_avx512_bf16();
    return has;
}

void gemm_bf16_force_portable(bool on) { g_force_portable = on; }

const char* gemm_bf16_kernel_name() {
    return gemm_bf16_native_available() && !g_force_portable ? "avx512-bf16" : "portable";
}

// A rows [M, K] (stride lda) -> [row blocks][kpairs][MR] dwords of bf16 pairs, zero padded.
static void pack_rows(uint32_t* out, const float* A, int64_t lda, int64_t M, int64_t K, int64_t kpairs) {
    const int64_t blocks = (M + MR - 1) / MR;
#pragma omp parallel for schedule(static) if(M * K >= (1 << 16))
    for (int64_t b = 0; b < blocks; b++) {
        uint32_t* ob = out + b * kpairs * MR;
        for (int r = 0; r < MR; r++) {
            const int64_t i = b * MR + r;
            if (i >= M) {
                for (int64_t p = 0; p < kpairs; p++) ob[p * MR + r] = 0;
                continue;
            }
            const float* a = A + i * lda;
            for (int64_t p = 0; p < K / 2; p++)
                ob[p * MR + r] = (uint32_t)f32_to_bf16(a[2 * p]) | ((uint32_t)f32_to_bf16(a[2 * p + 1]) << 16);
            if (K & 1) ob[(K / 2) * MR + r] = f32_to_bf16(a[K - 1]);
        }
    }
}

void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t lda, int64_t M, const PackedBf16& W, const float* bias) {
    const int64_t K = W.K, N = W.N, kpairs = W.kpairs;
    UNFOLD_CHECK(M >= 0 && lda >= K && ldc >= N, "gemm_bf16: bad strides (M %lld, lda %lld < K %lld or ldc %lld < N %lld)",
                 (long long)M, (long long)lda, (long long)K, (long long)ldc, (long long)N);
    UNFOLD_CHECK((int64_t)W.data.size() == W.panels * kpairs * 2 * NR, "gemm_bf16: weights not packed");
    if (M == 0 || N == 0) return;
    const int64_t blocks = (M + MR - 1) / MR;
    thread_local std::vector<uint32_t> apack;
    apack.resize((size_t)mul_checked((uint64_t)blocks * (uint64_t)std::max<int64_t>(kpairs, 1), MR, "gemm_bf16"));
    uint32_t* ap = apack.data();  // the caller's buffer; OpenMP threads below must not name the thread_local
    pack_rows(ap, A, lda, M, K, kpairs);
    const bool native = gemm_bf16_native_available() && !g_force_portable;
    const uint16_t* wd = W.data.data();
    const int64_t panels = W.panels;
#pragma omp parallel for collapse(2) schedule(static) if(M * N * K >= (1 << 18))
    for (int64_t panel = 0; panel < panels; panel++)
        for (int64_t b = 0; b < blocks; b++) {
            const int rows = (int)std::min<int64_t>(MR, M - b * MR), cols = (int)std::min<int64_t>(NR, N - panel * NR);
            const uint32_t* a = ap + b * kpairs * MR;
            const uint16_t* w = wd + panel * kpairs * 2 * NR;
            float* c = C + b * MR * ldc + panel * NR;
            const float* bi = bias ? bias + panel * NR : nullptr;
            if (native)
                bf16k::kernel_avx512(a, w, kpairs, c, ldc, rows, cols, bi);
            else
                bf16k::kernel_portable(a, w, kpairs, c, ldc, rows, cols, bi);
        }
}

}  // namespace unfold
