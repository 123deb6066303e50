// gemm_bf16.cpp: packing, the row-block driver, the portable kernel, the widen-to-sgemm path and the
// choice between them (gemm_bf16.h lists the paths).
//
// Kernel paths: panels of W outermost, row blocks of A inside, so one thread keeps a weight panel
// (kpairs x 128 bytes) in L2 while the packed activations stream past it. The (panel, row block) grid is
// split statically over threads; every output element belongs to one grid cell, summed in k order.
// sgemm path: A rounded to bf16 once, then per block of panels (about 2 MB as float32) the panels widened
// to float32 rows by the calling thread and one OpenBLAS sgemm on its own thread pool. Its workspace is
// per thread and kept: A rounded (M x K float32) and one widened block (max(4 MB, K x 1024 float32)).
#include "unfold/core/gemm_bf16.h"

#include <algorithm>
#include <cmath>

#include "core/gemm_bf16_kernel.h"
#include "unfold/core/blas.h"
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
            // a*b + c, not std::fma (a library call on the baseline target): the product of two bf16 values is
            // exact in float32, so both round the same
            for (int j = 0; j < NR; j++) acc[r][j] = (acc[r][j] + ahi * bhi[j]) + alo * blo[j];
        }
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) C[r * ldc + j] = acc[r][j] + (bias ? bias[j] : 0.0f);
}

void widen_portable(float* out, int64_t ldo, const uint16_t* B, int64_t kpairs, int64_t K, int64_t npanels) {
    for (int64_t q = 0; q < npanels; q++)
        for (int64_t p = 0; p < kpairs; p++) {
            const uint16_t* b = B + (q * kpairs + p) * 2 * NR;
            float* lo = out + 2 * p * ldo + q * NR;
            for (int j = 0; j < NR; j++) lo[j] = bf16_to_f32(b[2 * j]);
            if (2 * p + 1 < K)
                for (int j = 0; j < NR; j++) lo[ldo + j] = bf16_to_f32(b[2 * j + 1]);
        }
}

void round_portable(float* out, const float* A, int64_t lda, int64_t M, int64_t K) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) out[i * K + k] = bf16_to_f32(f32_to_bf16(A[i * lda + k]));
}

}  // namespace bf16k

namespace {

enum class Path { PORTABLE, AVX2, SGEMM, AVX512_BF16 };

Path choose_path(int64_t M, KernelLevel level) {
    const KernelLevel cpu = cpu_kernel_level();
    const KernelLevel l = (int)level < (int)cpu ? level : cpu;
    if (l == KernelLevel::AVX512_BF16) return Path::AVX512_BF16;
    if (l == KernelLevel::PORTABLE) return Path::PORTABLE;
    return M <= kGemmBf16SmallRows ? Path::AVX2 : Path::SGEMM;
}

// A widened block has at least 1024 columns (each sgemm call packs all of A again; over >= 1024 columns that
// is ~2% of the arithmetic) and at least 2^20 float32 (4 MB; bench_gemm found smaller blocks no faster).
constexpr int64_t kWidenMinCols = 1024, kWidenBlockFloats = 1 << 20;

void gemm_widened(float* C, int64_t ldc, const float* A, int64_t lda, int64_t M, const PackedBf16& W,
                  const float* bias) {
    const int64_t K = W.K, N = W.N, kpairs = W.kpairs;
    thread_local std::vector<float> arounded, wide;
    arounded.resize((size_t)mul_checked((uint64_t)M, (uint64_t)std::max<int64_t>(K, 1), "gemm_bf16"));
    float* ar = arounded.data();
    bf16k::round_avx2(ar, A, lda, M, K);
    const int64_t cols_wanted = std::max<int64_t>(kWidenMinCols, kWidenBlockFloats / std::max<int64_t>(K, 1));
    const int64_t block = std::clamp<int64_t>(cols_wanted / NR, 1, W.panels);
    wide.resize((size_t)mul_checked((uint64_t)std::max<int64_t>(K, 1), (uint64_t)(block * NR), "gemm_bf16"));
    float* wd = wide.data();
    for (int64_t q0 = 0; q0 < W.panels; q0 += block) {
        const int64_t np = std::min(block, W.panels - q0), n0 = q0 * NR, cols = std::min(np * NR, N - n0);
        const int64_t ldw = np * NR;
        bf16k::widen_avx2(wd, ldw, W.data.data() + q0 * kpairs * 2 * NR, kpairs, K, np);
        float* c = C + n0;
        if (K == 0) {
            for (int64_t i = 0; i < M; i++) std::fill(c + i * ldc, c + i * ldc + cols, 0.0f);
        } else {
            gemm(false, false, M, cols, K, 1.0f, ar, K, wd, ldw, 0.0f, c, ldc);
        }
        if (bias)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < cols; j++) c[i * ldc + j] += bias[n0 + j];
    }
}

}  // namespace

const char* gemm_bf16_path(int64_t M, KernelLevel level) {
    switch (choose_path(M, level)) {
        case Path::PORTABLE: return "portable";
        case Path::AVX2: return "avx2";
        case Path::SGEMM: return "sgemm";
        case Path::AVX512_BF16: return "avx512-bf16";
    }
    return "?";
}

bool gemm_bf16_pays_off(int64_t M, KernelLevel level) {
    return choose_path(M, level) == Path::AVX512_BF16 || M <= kGemmBf16SmallRows;
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

void gemm_bf16(float* C, int64_t ldc, const float* A, int64_t lda, int64_t M, const PackedBf16& W, const float* bias,
               KernelLevel level) {
    const int64_t K = W.K, N = W.N, kpairs = W.kpairs;
    UNFOLD_CHECK(M >= 0 && lda >= K && ldc >= N, "gemm_bf16: bad strides (M %lld, lda %lld < K %lld or ldc %lld < N %lld)",
                 (long long)M, (long long)lda, (long long)K, (long long)ldc, (long long)N);
    UNFOLD_CHECK((int64_t)W.data.size() == W.panels * kpairs * 2 * NR, "gemm_bf16: weights not packed");
    if (M == 0 || N == 0) return;
    const Path path = choose_path(M, level);
    if (path == Path::SGEMM) return gemm_widened(C, ldc, A, lda, M, W, bias);
    const int64_t blocks = (M + MR - 1) / MR;
    thread_local std::vector<uint32_t> apack;
    apack.resize((size_t)mul_checked((uint64_t)blocks * (uint64_t)std::max<int64_t>(kpairs, 1), MR, "gemm_bf16"));
    uint32_t* ap = apack.data();  // the caller's buffer; OpenMP threads below must not name the thread_local
    pack_rows(ap, A, lda, M, K, kpairs);
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
            if (path == Path::AVX512_BF16)
                bf16k::kernel_avx512(a, w, kpairs, c, ldc, rows, cols, bi);
            else if (path == Path::AVX2)
                bf16k::kernel_avx2(a, w, kpairs, c, ldc, rows, cols, bi);
            else
                bf16k::kernel_portable(a, w, kpairs, c, ldc, rows, cols, bi);
        }
}

}  // namespace unfold
