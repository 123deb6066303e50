// kernel_dense.cpp: the fast path for tied models (linear, relu, hidden-relu) with m <= 8 and n <= 32
// (every density: its cost does not depend on sparsity, and it beats the sparse kernel even at p = 0.05).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "core/error.h"
#include "core/rng.h"
#include "toy/toy.h"
#include "toy/toy_kernel.h"
#include "toy/toy_kernel_ops.h"

namespace unfold {
namespace toyk {

// Dense kernel for tied models with m <= 8 (one hidden vector) and n <= 8*NVT: h = W x and dh = W g as
// 8 dot products + reduce8; the whole weight gradient dW = sum_s (h_s g_s^T + dh_s x_s^T) goes through
// the register-blocked outer-product pass (rows (h, g) and (dh, x) per sample), so dE stays zero.
// Samples go in blocks of SUB: generate the block's x (into the odd rows of the outer-product buffer),
// forward/backward each sample, then one outer-product pass.
template <int NVT>
static void unit_kernel_dense(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* xext,
                              bool want_grad, v8f* acc, v8f* scr, int* act) {
    const int n = w.n, m = w.m, I = w.I;
    v8f D[8 * NVT];  // local copy: no aliasing with the buffers written below
    std::memcpy(D, w.D.data() + (size_t)inst * 8 * NVT, sizeof(D));
    v8f bias[NVT], imp[NVT], impg[NVT];
    std::memcpy(bias, w.bias.data() + (size_t)inst * NVT, sizeof(bias));
    std::memcpy(imp, w.imp.data() + (size_t)inst * NVT, sizeof(imp));
    std::memcpy(impg, w.impg.data() + (size_t)inst * NVT, sizeof(impg));
    const bool out_relu = w.out_relu, hid_relu = w.hid_relu;
    const float l1g = w.l1 / (float)w.B;
    const bool use_l1 = w.l1 > 0;
    const bool fast_gen = xext == nullptr && w.gen.vector_path;

    std::fill(acc, acc + w.acc_vecs, vzero());
    v8f* db = acc + 2;
    v8f* dD = db + NVT;
    float* xs = (float*)scr;
    v8f* Hbuf = scr + 4 * NVT;   // [2 SUB][1]
    v8f* Gbuf = Hbuf + 2 * SUB;  // [2 SUB][NVT]
    v8f loss_r[NVT], dbr[NVT];
    for (int v = 0; v < NVT; v++) loss_r[v] = dbr[v] = vzero();
    v8f l1v = vzero();

    const int s0 = c * w.chunk, s1 = std::min(w.B, s0 + w.chunk);
    for (int sb = s0; sb < s1; sb += SUB) {
        const int cnt = std::min(SUB, s1 - sb);
        if (fast_gen) {
            gen_block<NVT>(w.gen, inst, klo, khi, sb, cnt, Gbuf + NVT, 2 * NVT);
        } else {
            for (int r = 0; r < cnt; r++) {
                std::memset(xs, 0, sizeof(float) * 8 * NVT);
                if (xext)
                    std::memcpy(xs, xext + ((size_t)(sb + r) * I + inst) * n, sizeof(float) * n);
                else
                    gen_generic(w.gen, inst, klo, khi, (uint32_t)(sb + r), xs, act);
                std::memcpy(Gbuf + (size_t)(2 * r + 1) * NVT, xs, sizeof(v8f) * NVT);
            }
        }
        for (int r = 0; r < cnt; r++) {
            v8f x[NVT];
            for (int v = 0; v < NVT; v++) x[v] = Gbuf[(size_t)(2 * r + 1) * NVT + v];  // whole vectors (see sparse)
            v8f a[8];
            for (int k = 0; k < 8; k++) {
                v8f t = D[k * NVT] * x[0];
                for (int v = 1; v < NVT; v++) t += D[k * NVT + v] * x[v];
                a[k] = t;
            }
            v8f h = reduce8(a);
            if (hid_relu) h = vmax0(h);
            if (use_l1) l1v += vabs(h);
            v8f pre[NVT];
            for (int v = 0; v < NVT; v++) pre[v] = bias[v];
            for (int k = 0; k < 8; k++) {
                if (k >= m) break;
                const float hk = h[k];
                for (int v = 0; v < NVT; v++) pre[v] += hk * D[k * NVT + v];
            }
            v8f g[NVT];
            for (int v = 0; v < NVT; v++) {
                const v8f out = out_relu ? vmax0(pre[v]) : pre[v];
                const v8f e = out - x[v];
                loss_r[v] += imp[v] * e * e;
                v8f gv = impg[v] * e;
                if (out_relu) gv = pre[v] > 0.0f ? gv : vzero();
                g[v] = gv;
            }
            if (!want_grad) continue;
            for (int v = 0; v < NVT; v++) dbr[v] += g[v];
            for (int k = 0; k < 8; k++) {
                v8f t = D[k * NVT] * g[0];
                for (int v = 1; v < NVT; v++) t += D[k * NVT + v] * g[v];
                a[k] = t;
            }
            v8f dh = reduce8(a);
            if (use_l1) dh += h > 0.0f ? vset1(l1g) : (h < 0.0f ? vset1(-l1g) : vzero());
            if (hid_relu) dh = h > 0.0f ? dh : vzero();
            Hbuf[2 * r] = h;
            Hbuf[2 * r + 1] = dh;
            for (int v = 0; v < NVT; v++) Gbuf[(size_t)(2 * r) * NVT + v] = g[v];
        }
        if (!want_grad) continue;
        const float* Hs = (const float*)Hbuf;
        int k0 = 0;
        for (; k0 + 4 <= m; k0 += 4) dd_block<4, NVT>(dD, NVT, k0, Hs, 8, Gbuf, 2 * cnt);
        for (; k0 < m; k0++) dd_block<1, NVT>(dD, NVT, k0, Hs, 8, Gbuf, 2 * cnt);
    }
    v8f lossv = vzero();
    for (int v = 0; v < NVT; v++) {
        lossv += loss_r[v];
        db[v] = dbr[v];
    }
    acc[0] = lossv;
    acc[1] = l1v;
}

void run_dense_kernel(const Work& w, int inst, int c, uint32_t klo, uint32_t khi, const float* x, bool want_grad,
                      v8f* acc, v8f* scr, int* act) {
    switch (w.NV) {
        case 1: unit_kernel_dense<1>(w, inst, c, klo, khi, x, want_grad, acc, scr, act); return;
        case 2: unit_kernel_dense<2>(w, inst, c, klo, khi, x, want_grad, acc, scr, act); return;
        case 3: unit_kernel_dense<3>(w, inst, c, klo, khi, x, want_grad, acc, scr, act); return;
        case 4: unit_kernel_dense<4>(w, inst, c, klo, khi, x, want_grad, acc, scr, act); return;
    }
    UNFOLD_ASSERT(false);
}

}  // namespace toyk
}  // namespace unfold
