// kernel_sparse_isa.cpp: the general fused forward/backward kernel for one unit (instance, chunk of samples).
//
// Per sample (tied models use W for both enc = W and dec = W^T; abs: enc = W1, dec = W2):
//   forward:  h = enc x (sum over the nonzero x_j only);  a = ReLU(h) (hidden-relu, abs) or h
//             pre = dec a + b;  out = ReLU(pre) (relu, hidden-relu, abs) or pre (linear)
//             loss += sum_i I_i (out_i - t_i)^2 / (B n) + l1 * sum_k |a_k| / B,  t = x (|x| for abs)
//   backward: g_i = 2 I_i (out_i - t_i) / (B n) * [pre_i > 0]      (the ReLU mask only where there is one)
//             db += g;  d dec[i, k] += g_i a_k;  da = dec^T g + (l1 / B) sign(a);  dh = da * [h > 0] (if ReLU)
//             d enc[k, j] += dh_k x_j (nonzero x_j only: the sparse half of the work)
// Compiled for hidden vectors MV in 1..3 and output vectors NV in 1..8 (m <= 24, n <= 64), plus a generic path.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "toy/toy_kernel.h"
#include "toy/toy_kernel_ops.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/toy.h"

namespace unfold {
namespace toyk {
namespace UNFOLD_ISA {  // compiled once per kernel level (core/isa.h)

template <int MVT, int NVT>
static void unit_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* xext,
                        bool want_grad, v8f* acc, v8f* scr, int* act) {
    const int MV = MVT > 0 ? MVT : w.MV;
    const int NV = NVT > 0 ? NVT : w.NV;
    const int n = w.n, m = w.m, I = w.I;
    const v8f* E = w.E.data() + (size_t)inst * n * MV;
    const v8f* D = w.D.data() + (size_t)inst * MV * 8 * NV;
    const v8f* Dt = w.tied ? E : w.Dt.data() + (size_t)inst * n * MV;
    const v8f* bias = w.bias.data() + (size_t)inst * NV;
    const v8f* imp = w.imp.data() + (size_t)inst * NV;
    const v8f* impg = w.impg.data() + (size_t)inst * NV;
    const bool out_relu = w.out_relu, hid_relu = w.hid_relu, abs_target = w.abs_target;
    const float l1g = w.l1 / (float)w.B;
    const bool use_l1 = w.l1 > 0;
    const bool fast_gen = xext == nullptr && w.gen.vector_path;

    std::fill(acc, acc + w.acc_vecs, vzero());
    v8f* db = acc + 2;
    v8f* dD = db + NV;
    v8f* dE = dD + (size_t)m * NV;
    v8f l1v = vzero();
    // scratch: x [NV] | pre [NV] | g [NV] | gidx (ints, NV*8) | Hs [SUB][MV] | Gs [SUB][NV] | Xb [SUB][NV]
    v8f* xv = scr;
    float* xs = (float*)xv;
    int* gidx = (int*)(scr + 3 * NV);
    v8f* Hbuf = scr + 4 * NV;
    v8f* Gbuf = Hbuf + (size_t)SUB * MV;
    v8f* Xb = Gbuf + (size_t)SUB * NV;
    constexpr int RV = NVT > 0 ? NVT : 1;
    v8f pre_r[RV], g_r[RV], loss_r[RV];
    v8f* pre;
    v8f* gs;
    if constexpr (NVT > 0) {
        pre = pre_r;
        gs = g_r;
    } else {
        pre = scr + NV;
        gs = scr + 2 * NV;
    }
    for (int v = 0; v < RV; v++) loss_r[v] = g_r[v] = pre_r[v] = vzero();
    v8f lossv = vzero();
    constexpr int HV = MVT > 0 ? MVT : MAX_HIDDEN_VECS;
    v8f h[HV], h1[HV], h2[HV], h3[HV];
    int nbuf = 0;

    auto flush = [&]() {
        if (nbuf == 0) return;
        const float* Hs = (const float*)Hbuf;
        const int hstride = MV * 8;
        int k0 = 0;
        for (; k0 + 4 <= m; k0 += 4) dd_block<4, NVT>(dD, NV, k0, Hs, hstride, Gbuf, nbuf);
        for (; k0 < m; k0++) dd_block<1, NVT>(dD, NV, k0, Hs, hstride, Gbuf, nbuf);
        for (int s = 0; s < nbuf; s++)
            for (int v = 0; v < NV; v++) db[v] += Gbuf[(size_t)s * NV + v];
        nbuf = 0;
    };

    const int s0 = c * w.chunk, s1 = std::min(w.B, s0 + w.chunk);
    for (int s = s0; s < s1; s++) {
        // inputs come in blocks of SUB samples (generation with the thresholds held in registers)
        const int r = (s - s0) % SUB;
        if (r == 0) {
            const int cnt = std::min(SUB, s1 - s);
            if (fast_gen) {
                gen_block<NVT>(w.gen, inst, klo, khi, s, cnt, Xb, NV);
            } else {
                for (int q = 0; q < cnt; q++) {
                    float* xq = (float*)(Xb + (size_t)q * NV);
                    if (xext) {
                        std::memset(xq, 0, sizeof(v8f) * NV);
                        std::memcpy(xq, xext + ((size_t)(s + q) * I + inst) * n, sizeof(float) * n);
                    } else {
                        gen_generic(w.gen, inst, klo, khi, (uint32_t)(s + q), xq, act);
                    }
                }
            }
        }
        // whole-vector copies: a 32-byte load of data stored as 16-byte halves stalls store forwarding
        for (int v = 0; v < NV; v++) xv[v] = Xb[(size_t)r * NV + v];
        int na = 0;
        for (int v = 0; v < NV; v++) {
            uint32_t mk = movemask(xv[v] != 0.0f);
            while (mk) {
                act[na++] = v * 8 + __builtin_ctz(mk);
                mk &= mk - 1;
            }
        }
        // encoder over the active features (4 independent accumulators)
        for (int u = 0; u < MV; u++) h[u] = h1[u] = h2[u] = h3[u] = vzero();
        int t = 0;
        for (; t + 4 <= na; t += 4) {
            const int j0 = act[t], j1 = act[t + 1], j2 = act[t + 2], j3 = act[t + 3];
            const float x0 = xs[j0], x1 = xs[j1], x2 = xs[j2], x3 = xs[j3];
            for (int u = 0; u < MV; u++) {
                h[u] += x0 * E[(size_t)j0 * MV + u];
                h1[u] += x1 * E[(size_t)j1 * MV + u];
                h2[u] += x2 * E[(size_t)j2 * MV + u];
                h3[u] += x3 * E[(size_t)j3 * MV + u];
            }
        }
        for (; t < na; t++) {
            const int j = act[t];
            const float xj = xs[j];
            for (int u = 0; u < MV; u++) h[u] += xj * E[(size_t)j * MV + u];
        }
        for (int u = 0; u < MV; u++) h[u] = (h[u] + h1[u]) + (h2[u] + h3[u]);
        if (hid_relu)
            for (int u = 0; u < MV; u++) h[u] = vmax0(h[u]);
        if (use_l1)
            for (int u = 0; u < MV; u++) l1v += vabs(h[u]);
        float* hs = (float*)(Hbuf + (size_t)nbuf * MV);
        for (int u = 0; u < MV; u++) Hbuf[(size_t)nbuf * MV + u] = h[u];
        // decoder
        if constexpr (NVT > 0) {
            for (int v = 0; v < NV; v++) pre[v] = bias[v];
            for (int k = 0; k < m; k++) {
                const float hk = hs[k];
                const v8f* Dk = D + (size_t)k * NV;
                for (int v = 0; v < NV; v++) pre[v] += hk * Dk[v];
            }
        } else {  // runtime NV: 4 output vectors at a time in registers
            int v0 = 0;
            for (; v0 + 4 <= NV; v0 += 4) {
                v8f a0 = bias[v0], a1 = bias[v0 + 1], a2 = bias[v0 + 2], a3 = bias[v0 + 3];
                for (int k = 0; k < m; k++) {
                    const float hk = hs[k];
                    const v8f* Dk = D + (size_t)k * NV + v0;
                    a0 += hk * Dk[0];
                    a1 += hk * Dk[1];
                    a2 += hk * Dk[2];
                    a3 += hk * Dk[3];
                }
                pre[v0] = a0, pre[v0 + 1] = a1, pre[v0 + 2] = a2, pre[v0 + 3] = a3;
            }
            for (; v0 < NV; v0++) {
                v8f a = bias[v0];
                for (int k = 0; k < m; k++) a += hs[k] * D[(size_t)k * NV + v0];
                pre[v0] = a;
            }
        }
        // loss and output gradient
        int ng = 0;
        for (int v = 0; v < NV; v++) {
            const v8f p = pre[v];
            const v8f out = out_relu ? vmax0(p) : p;
            const v8f tg = abs_target ? vabs(xv[v]) : xv[v];
            const v8f e = out - tg;
            if constexpr (NVT > 0)
                loss_r[v] += imp[v] * e * e;
            else
                lossv += imp[v] * e * e;
            if (!want_grad) continue;
            v8f g = impg[v] * e;
            if (out_relu) g = p > 0.0f ? g : vzero();
            gs[v] = g;
            if constexpr (MVT == 1) continue;  // dh by dot products below
            uint32_t mk = movemask(g != 0.0f);
            while (mk) {
                gidx[ng++] = v * 8 + __builtin_ctz(mk);
                mk &= mk - 1;
            }
        }
        if (!want_grad) continue;
        for (int v = 0; v < NV; v++) Gbuf[(size_t)nbuf * NV + v] = gs[v];
        // dh = dec^T g: m <= 8 as 8 dot products (rows of D) + reduce8; else over the nonzero g_i
        const float* gsf = (const float*)gs;
        if constexpr (MVT == 1) (void)gsf;
        for (int u = 0; u < MV; u++) h1[u] = h2[u] = h3[u] = vzero();
        v8f dh[HV];
        for (int u = 0; u < MV; u++) dh[u] = vzero();
        t = 0;
        for (; t + 4 <= ng; t += 4) {
            const int i0 = gidx[t], i1 = gidx[t + 1], i2 = gidx[t + 2], i3 = gidx[t + 3];
            const float g0 = gsf[i0], g1 = gsf[i1], g2 = gsf[i2], g3 = gsf[i3];
            for (int u = 0; u < MV; u++) {
                dh[u] += g0 * Dt[(size_t)i0 * MV + u];
                h1[u] += g1 * Dt[(size_t)i1 * MV + u];
                h2[u] += g2 * Dt[(size_t)i2 * MV + u];
                h3[u] += g3 * Dt[(size_t)i3 * MV + u];
            }
        }
        for (; t < ng; t++) {
            const int i = gidx[t];
            const float gi = gsf[i];
            for (int u = 0; u < MV; u++) dh[u] += gi * Dt[(size_t)i * MV + u];
        }
        for (int u = 0; u < MV; u++) dh[u] = (dh[u] + h1[u]) + (h2[u] + h3[u]);
        if constexpr (MVT == 1) {
            v8f a[8];
            for (int k = 0; k < 8; k++) {
                v8f q = D[(size_t)k * NV] * gs[0];
                for (int v = 1; v < NV; v++) q += D[(size_t)k * NV + v] * gs[v];
                a[k] = q;
            }
            dh[0] = reduce8(a);
        }
        if (use_l1)
            for (int u = 0; u < MV; u++) {
                v8f sg = h[u] > 0.0f ? vset1(l1g) : (h[u] < 0.0f ? vset1(-l1g) : vzero());
                dh[u] += sg;
            }
        if (hid_relu)
            for (int u = 0; u < MV; u++) dh[u] = h[u] > 0.0f ? dh[u] : vzero();
        for (t = 0; t < na; t++) {
            const int j = act[t];
            const float xj = xs[j];
            v8f* dEj = dE + (size_t)j * MV;
            for (int u = 0; u < MV; u++) dEj[u] += xj * dh[u];
        }
        if (++nbuf == SUB) flush();
    }
    if (want_grad) flush();
    if constexpr (NVT > 0)
        for (int v = 0; v < NVT; v++) lossv += loss_r[v];
    acc[0] = lossv;
    acc[1] = l1v;
}

void run_sparse_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* x, bool want_grad,
                       v8f* acc, v8f* scr, int* act) {
    const int mv = w.MV, nv = w.NV;
#define UNFOLD_TOY_CASE(A, B)                                                  \
    if (mv == A && nv == B) {                                                  \
        unit_kernel<A, B>(w, inst, c, klo, khi, x, want_grad, acc, scr, act); \
        return;                                                                \
    }
    // m <= 24 and n <= 64 compiled with fixed vector counts (registers for the per-sample vectors)
    UNFOLD_TOY_CASE(1, 1) UNFOLD_TOY_CASE(1, 2) UNFOLD_TOY_CASE(1, 3) UNFOLD_TOY_CASE(1, 4)
    UNFOLD_TOY_CASE(1, 5) UNFOLD_TOY_CASE(1, 6) UNFOLD_TOY_CASE(1, 7) UNFOLD_TOY_CASE(1, 8)
    UNFOLD_TOY_CASE(2, 1) UNFOLD_TOY_CASE(2, 2) UNFOLD_TOY_CASE(2, 3) UNFOLD_TOY_CASE(2, 4)
    UNFOLD_TOY_CASE(2, 5) UNFOLD_TOY_CASE(2, 6) UNFOLD_TOY_CASE(2, 7) UNFOLD_TOY_CASE(2, 8)
    UNFOLD_TOY_CASE(3, 1) UNFOLD_TOY_CASE(3, 2) UNFOLD_TOY_CASE(3, 3) UNFOLD_TOY_CASE(3, 4)
    UNFOLD_TOY_CASE(3, 5) UNFOLD_TOY_CASE(3, 6) UNFOLD_TOY_CASE(3, 7) UNFOLD_TOY_CASE(3, 8)
    UNFOLD_TOY_CASE(4, 4)
#undef UNFOLD_TOY_CASE
    unit_kernel<0, 0>(w, inst, c, klo, khi, x, want_grad, acc, scr, act);
}

}  // namespace UNFOLD_ISA
}  // namespace toyk
}  // namespace unfold
