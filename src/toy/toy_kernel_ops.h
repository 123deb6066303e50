// toy_kernel_ops.h: private to src/toy. Small vector helpers of the kernels
// (kernel_sparse_isa.cpp): ReLU/abs on vectors, the register-blocked outer-product
// accumulation, the 8-way transpose-and-add, and block data generation.
#pragma once
#include <cstring>

#include "toy/toy_kernel.h"

namespace unfold {
namespace toyk {
namespace UNFOLD_ISA {  // per-level copies (core/isa.h)

inline v8f vmax0(v8f a) { return a > 0.0f ? a : vzero(); }
inline v8f vabs(v8f a) { return a < 0.0f ? -a : a; }

// dD[k0..k0+KB)[:] += sum_s h_s[k] g_s  over the buffered samples (register-blocked when NVT > 0)
template <int KB, int NVT>
__attribute__((always_inline)) inline void dd_block(v8f* dD, int NV, int k0, const float* Hs, int hstride,
                                                           const v8f* Gs, int cnt) {
    if constexpr (NVT > 0) {
        v8f a[KB][NVT];
        for (int kk = 0; kk < KB; kk++)
            for (int v = 0; v < NVT; v++) a[kk][v] = dD[(size_t)(k0 + kk) * NVT + v];
        for (int s = 0; s < cnt; s++) {
            const v8f* g = Gs + (size_t)s * NVT;
            const float* hrow = Hs + (size_t)s * hstride + k0;
            for (int kk = 0; kk < KB; kk++) {
                const float hk = hrow[kk];
                for (int v = 0; v < NVT; v++) a[kk][v] += hk * g[v];
            }
        }
        for (int kk = 0; kk < KB; kk++)
            for (int v = 0; v < NVT; v++) dD[(size_t)(k0 + kk) * NVT + v] = a[kk][v];
    } else {
        // runtime NV: blocks of 3 output vectors x KB rows held in registers across the samples
        int v0 = 0;
        for (; v0 + 3 <= NV; v0 += 3) {
            v8f a[KB][3];
            for (int kk = 0; kk < KB; kk++)
                for (int j = 0; j < 3; j++) a[kk][j] = dD[(size_t)(k0 + kk) * NV + v0 + j];
            for (int s = 0; s < cnt; s++) {
                const v8f* g = Gs + (size_t)s * NV + v0;
                const float* hrow = Hs + (size_t)s * hstride + k0;
                const v8f g0 = g[0], g1 = g[1], g2 = g[2];
                for (int kk = 0; kk < KB; kk++) {
                    const float hk = hrow[kk];
                    a[kk][0] += hk * g0;
                    a[kk][1] += hk * g1;
                    a[kk][2] += hk * g2;
                }
            }
            for (int kk = 0; kk < KB; kk++)
                for (int j = 0; j < 3; j++) dD[(size_t)(k0 + kk) * NV + v0 + j] = a[kk][j];
        }
        for (; v0 < NV; v0++)
            for (int kk = 0; kk < KB; kk++) {
                v8f a = dD[(size_t)(k0 + kk) * NV + v0];
                for (int s = 0; s < cnt; s++) a += Hs[(size_t)s * hstride + k0 + kk] * Gs[(size_t)s * NV + v0];
                dD[(size_t)(k0 + kk) * NV + v0] = a;
            }
    }
}

// r[k] = sum of the 8 lanes of a[k], k = 0..7 (a transpose-and-add)
inline v8f reduce8(const v8f* a) {
#if defined(__AVX__)
    __m256 t0 = _mm256_hadd_ps((__m256)a[0], (__m256)a[1]);
    __m256 t1 = _mm256_hadd_ps((__m256)a[2], (__m256)a[3]);
    __m256 t2 = _mm256_hadd_ps((__m256)a[4], (__m256)a[5]);
    __m256 t3 = _mm256_hadd_ps((__m256)a[6], (__m256)a[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return (v8f)_mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
#else
    v8f r;  // the same pairwise order as the hadd sequence above, so both copies give the same bits
    for (int k = 0; k < 8; k++) r[k] = ((a[k][0] + a[k][1]) + (a[k][2] + a[k][3])) + ((a[k][4] + a[k][5]) + (a[k][6] + a[k][7]));
    return r;
#endif
}

// Generates samples [s, s + cnt) of the vector path into out + r * stride (NVT vectors each); the
// per-instance thresholds and scales stay in registers across samples.
template <int NVT>
inline void gen_block(const DataGen& g, int inst, uint32_t klo, uint32_t khi, int s, int cnt, v8f* out,
                      size_t stride) {
    const InstData& d = g.inst[inst];
    const int NV = NVT > 0 ? NVT : g.n_pad / 8;
    constexpr int RV = NVT > 0 ? NVT : 1;
    v8i thr_r[RV];
    v8f inv_r[RV];
    if constexpr (NVT > 0) {
        std::memcpy(thr_r, d.thr.data(), sizeof(thr_r));
        std::memcpy(inv_r, d.inv.data(), sizeof(inv_r));
    }
    const v8u lane = v8u{0, 1, 2, 3, 4, 5, 6, 7};
    const bool sg = g.is_signed;
    for (int r = 0; r < cnt; r++) {
        const uint32_t base = (uint32_t)(s + r) * (uint32_t)g.n;
        v8f* o = out + r * stride;
        for (int vb = 0; vb < NV; vb++) {
            v8i thr;
            v8f inv;
            if constexpr (NVT > 0) {
                thr = thr_r[vb];
                inv = inv_r[vb];
            } else {  // the tables are plain std::vectors: unaligned loads
                std::memcpy(&thr, &d.thr[(size_t)vb * 8], sizeof(thr));
                std::memcpy(&inv, &d.inv[(size_t)vb * 8], sizeof(inv));
            }
            v8u u = hash32v(lane + (base + (uint32_t)(vb * 8)), klo, khi);
            v8i vi = (v8i)(u >> 1);
            v8f val = __builtin_convertvector(vi, v8f) * inv;
            val = val < ONE_MINUS ? val : ONE_MINUS;
            if (sg) val = 2.0f * val - 1.0f;
            o[vb] = vi <= thr ? val : vzero();
        }
    }
}

}  // namespace UNFOLD_ISA
}  // namespace toyk
}  // namespace unfold
