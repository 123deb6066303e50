// kernel_soa_isa.cpp: the fastest path for tied models (linear, relu, hidden-relu) with m <= 8 and n <= 32,
// vectorised ACROSS SAMPLES: a v8f holds one quantity for 8 consecutive samples (structure of arrays),
// so no lane is wasted on padding and there are no horizontal reductions per sample.
//
// Per 8-sample vector (x_i, h_k, g_i, dh_k are v8f over samples; W_ki broadcast):
//   x_i  = generated (same counter-based hash as data.cpp: identical values) or loaded from x[B, I, n]
//   h_k  = sum_i W_ki x_i            (ReLU for hidden-relu)                          m n FMAs
//   pre_i = b_i + sum_k W_ki h_k;  out_i = ReLU(pre_i) (relu, hidden-relu) or pre_i    m n FMAs
//   e_i = out_i - x_i;  loss += I_i e_i^2;  g_i = 2 I_i e_i / (B n) [pre_i > 0]
//   dh_k = sum_i W_ki g_i + (l1 / B) sign(h_k);  dh_k *= [h_k > 0] (hidden-relu)     m n FMAs
// and per block of SBV vectors: dW_ki += sum_s h_k g_i + dh_k x_i (2 m n FMAs per vector, the accumulator
// held in a register across the block), db_i += sum_s g_i. The lane sums are taken once per unit.
// Lanes past the end of the unit's samples have x = 0 and a zero error, so they contribute nothing.
// Results land in the unit accumulator layout of Work (loss lanes, |h| lanes, db, dD = dW, dE = 0).
// Instantiated for m = 1..8 x {ReLU output, linear output} x {with, without gradient}; n is a runtime loop.
// Bench (relu 20 -> 5, bench_toy, 1 thread, CPU time): about 1.9x the dense per-sample kernel it replaces
// (that kernel was removed; kernel_sparse_isa.cpp covers every shape this one does not).
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "toy/toy_kernel.h"
#include "toy/toy_kernel_ops.h"
#include "unfold/core/error.h"
#include "unfold/toy/toy.h"

namespace unfold {
namespace toyk {
namespace UNFOLD_ISA {  // compiled once per kernel level (core/isa.h)

namespace {

constexpr int SOA_NMAX = 32;  // n <= 32
constexpr int SBV = 4;        // vectors (of 8 samples) per outer-product block

inline float lane_sum(v8f a) {
    // fixed order: pairwise over halves
    float r[8];
    std::memcpy(r, &a, sizeof(r));
    return ((r[0] + r[4]) + (r[1] + r[5])) + ((r[2] + r[6]) + (r[3] + r[7]));
}

// dW[k][i] += sum_{v < NB} H[v][k] G[v][i] + DH[v][k] X[v][i]
template <int M, int NB>
__attribute__((always_inline)) inline void outer_block(v8f (*dW)[SOA_NMAX], int n, const v8f (*H)[M],
                                                       const v8f (*DH)[M], const v8f (*G)[SOA_NMAX],
                                                       const v8f (*X)[SOA_NMAX], int nb) {
    constexpr int R = NB > 0 ? NB : SBV;
    const int cnt = NB > 0 ? NB : nb;
    for (int k = 0; k < M; k++) {
        v8f hk[R], dk[R];
        for (int v = 0; v < cnt; v++) {
            hk[v] = H[v][k];
            dk[v] = DH[v][k];
        }
        for (int i = 0; i < n; i++) {
            v8f a0 = dW[k][i], a1 = vzero();
            for (int v = 0; v < cnt; v++) {
                a0 += hk[v] * G[v][i];
                a1 += dk[v] * X[v][i];
            }
            dW[k][i] = a0 + a1;
        }
    }
}

template <int M, bool OUT_RELU, bool GRAD>
void unit_kernel_soa(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* xext, v8f* acc,
                     int* act) {
    const int n = w.n, I = w.I, ns = w.NV * 8;
    const float* Df = (const float*)(w.D.data() + (size_t)inst * w.MV * 8 * w.NV);  // W[k, i] at k*ns + i
    const float* bf = (const float*)(w.bias.data() + (size_t)inst * w.NV);
    const float* impf = (const float*)(w.imp.data() + (size_t)inst * w.NV);
    const float* impgf = (const float*)(w.impg.data() + (size_t)inst * w.NV);
    const InstData& dd = w.gen.inst[inst];
    const bool hid_relu = w.hid_relu;
    const bool use_l1 = w.l1 > 0;
    const v8f l1p = vset1(w.l1 / (float)w.B), l1n = vset1(-(w.l1 / (float)w.B));
    const bool fast_gen = xext == nullptr && w.gen.vector_path;
    const bool sg = w.gen.is_signed;

    // broadcast tables
    v8f Wv[SOA_NMAX][M];
    v8f bv[SOA_NMAX], impv[SOA_NMAX], impgv[SOA_NMAX], invv[SOA_NMAX];
    v8i thrv[SOA_NMAX];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < M; k++) Wv[i][k] = vset1(Df[(size_t)k * ns + i]);
        bv[i] = vset1(bf[i]);
        impv[i] = vset1(impf[i]);
        impgv[i] = vset1(impgf[i]);
        invv[i] = vset1(dd.inv[i]);
        const int32_t t = dd.thr[i];
        thrv[i] = v8i{t, t, t, t, t, t, t, t};
    }

    v8f dW[M][SOA_NMAX];
    v8f dbv[SOA_NMAX];
    for (int i = 0; i < n; i++) {
        dbv[i] = vzero();
        for (int k = 0; k < M; k++) dW[k][i] = vzero();
    }
    v8f X[SBV][SOA_NMAX], G[SBV][SOA_NMAX], H[SBV][M], DH[SBV][M];
    v8f loss0 = vzero(), l1v = vzero();
    alignas(32) float xs[SOA_NMAX];

    const v8i lane_i = v8i{0, 1, 2, 3, 4, 5, 6, 7};
    const v8u lane_u = v8u{0, 1, 2, 3, 4, 5, 6, 7};
    const int s0 = c * w.chunk, s1 = std::min(w.B, s0 + w.chunk);
    for (int sb = s0; sb < s1; sb += 8 * SBV) {
        const int nb = std::min(SBV, (s1 - sb + 7) / 8);
        for (int v = 0; v < nb; v++) {
            const int sv = sb + 8 * v;
            const int valid = std::min(8, s1 - sv);
            const v8i vmask = lane_i < valid;
            v8f* x = X[v];
            // inputs for samples sv .. sv+7
            if (fast_gen) {
                // hash32v(c) with c = s n + i, its first multiply strength-reduced over i (same values)
                v8u ck = (lane_u + (uint32_t)sv) * (uint32_t)n * kHashMul + klo;
                auto gen = [&](auto full) {
                    for (int i = 0; i < n; i++) {
                        v8u u = hash32_mix(ck, khi);
                        ck += kHashMul;
                        v8i vi = (v8i)(u >> 1);
                        v8f val = __builtin_convertvector(vi, v8f) * invv[i];
                        val = val < ONE_MINUS ? val : ONE_MINUS;
                        if (sg) val = 2.0f * val - 1.0f;
                        v8i keep = vi <= thrv[i];
                        if constexpr (!decltype(full)::value) keep &= vmask;
                        x[i] = keep ? val : vzero();
                    }
                };
                if (valid == 8)
                    gen(std::true_type{});
                else
                    gen(std::false_type{});
            } else {
                for (int i = 0; i < n; i++) x[i] = vzero();
                for (int j = 0; j < valid; j++) {
                    const int s = sv + j;
                    if (xext)
                        std::memcpy(xs, xext + ((size_t)s * I + inst) * n, sizeof(float) * n);
                    else
                        gen_generic(w.gen, inst, klo, khi, (uint32_t)s, xs, act);
                    for (int i = 0; i < n; i++) x[i][j] = xs[i];
                }
            }
            // encoder: two partial sums over i (shorter dependency chains)
            v8f h[M], ha[M];
            for (int k = 0; k < M; k++) h[k] = ha[k] = vzero();
            int i = 0;
            for (; i + 2 <= n; i += 2) {
                const v8f x0 = x[i], x1 = x[i + 1];
                for (int k = 0; k < M; k++) {
                    h[k] += Wv[i][k] * x0;
                    ha[k] += Wv[i + 1][k] * x1;
                }
            }
            for (; i < n; i++)
                for (int k = 0; k < M; k++) h[k] += Wv[i][k] * x[i];
            for (int k = 0; k < M; k++) {
                h[k] += ha[k];
                if (hid_relu) h[k] = vmax0(h[k]);
                if (use_l1) l1v += vabs(h[k]);
            }
            // decoder, loss, output gradient, dh = W g (flags compile-time: accumulators stay in registers)
            v8f dh[M];
            for (int k = 0; k < M; k++) dh[k] = vzero();
            v8f lv = vzero();  // this vector's loss (keeps the loop-carried chain short)
            for (int f = 0; f < n; f++) {
                v8f pre = bv[f];
                for (int k = 0; k < M; k++) pre += Wv[f][k] * h[k];
                const v8f out = OUT_RELU ? vmax0(pre) : pre;
                v8f e = out - x[f];
                if (valid < 8) e = vmask ? e : vzero();
                lv += impv[f] * e * e;
                if constexpr (GRAD) {
                    v8f g = impgv[f] * e;
                    if constexpr (OUT_RELU) g = pre > 0.0f ? g : vzero();
                    G[v][f] = g;
                    for (int k = 0; k < M; k++) dh[k] += Wv[f][k] * g;
                }
            }
            loss0 += lv;
            if constexpr (!GRAD) continue;
            for (int k = 0; k < M; k++) {
                v8f d = dh[k];
                if (use_l1) d += h[k] > 0.0f ? l1p : (h[k] < 0.0f ? l1n : vzero());
                if (hid_relu) d = h[k] > 0.0f ? d : vzero();
                H[v][k] = h[k];
                DH[v][k] = d;
            }
        }
        if constexpr (!GRAD) continue;
        for (int i = 0; i < n; i++) {
            v8f a = dbv[i];
            for (int v = 0; v < nb; v++) a += G[v][i];
            dbv[i] = a;
        }
        if (nb == SBV)
            outer_block<M, SBV>(dW, n, H, DH, G, X, nb);
        else
            outer_block<M, 0>(dW, n, H, DH, G, X, nb);
    }

    std::fill(acc, acc + w.acc_vecs, vzero());
    acc[0] = loss0;
    acc[1] = l1v;
    if constexpr (!GRAD) return;
    float* db = (float*)(acc + 2);
    float* dD = (float*)(acc + 2 + w.NV);
    for (int i = 0; i < n; i++) db[i] = lane_sum(dbv[i]);
    for (int k = 0; k < M; k++)
        for (int i = 0; i < n; i++) dD[(size_t)k * ns + i] = lane_sum(dW[k][i]);
}

}  // namespace

void run_soa_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* x, bool want_grad,
                    v8f* acc, int* act) {
    auto run = [&](auto mc) {
        constexpr int M = decltype(mc)::value;
        if (w.out_relu) {
            if (want_grad) unit_kernel_soa<M, true, true>(w, inst, c, klo, khi, x, acc, act);
            else unit_kernel_soa<M, true, false>(w, inst, c, klo, khi, x, acc, act);
        } else {
            if (want_grad) unit_kernel_soa<M, false, true>(w, inst, c, klo, khi, x, acc, act);
            else unit_kernel_soa<M, false, false>(w, inst, c, klo, khi, x, acc, act);
        }
    };
    switch (w.m) {
        case 1: run(std::integral_constant<int, 1>{}); return;
        case 2: run(std::integral_constant<int, 2>{}); return;
        case 3: run(std::integral_constant<int, 3>{}); return;
        case 4: run(std::integral_constant<int, 4>{}); return;
        case 5: run(std::integral_constant<int, 5>{}); return;
        case 6: run(std::integral_constant<int, 6>{}); return;
        case 7: run(std::integral_constant<int, 7>{}); return;
        case 8: run(std::integral_constant<int, 8>{}); return;
    }
    UNFOLD_ASSERT(false);
}

}  // namespace UNFOLD_ISA
}  // namespace toyk
}  // namespace unfold
