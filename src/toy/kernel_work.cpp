// kernel_work.cpp: the kernel workspace (parameters re-laid out for the fused kernels, per-unit gradient
// accumulators), the dispatch of a unit to the samples-vectorised (soa) or sparse kernel, and the fixed-order reduction of
// an instance's chunks into its loss and gradient (so results never depend on the thread count).
#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "toy/toy_kernel.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/toy.h"

namespace unfold {
namespace toyk {

void Work::init(const ToyModel& model, int batch) {
    const ToyConfig& c = model.cfg;
    I = c.n_instances;
    n = c.n_features;
    m = c.n_hidden;
    n_pad = pad8(n);
    NV = n_pad / 8;
    MV = pad8(m) / 8;
    tied = c.kind != ToyKind::ABS;
    out_relu = c.kind != ToyKind::LINEAR;
    hid_relu = c.kind == ToyKind::HIDDEN_RELU || c.kind == ToyKind::ABS;
    abs_target = c.kind == ToyKind::ABS;
    l1 = c.l1_hidden;
    gen.init(c);
    level = kernel_level();
    if (tied) {
        off_W = model.params.view("W").offset;
    } else {
        off_W = model.params.view("W1").offset;
        off_W2 = model.params.view("W2").offset;
    }
    off_b = model.params.view("b").offset;
    E.assign((size_t)I * n * MV, vzero());
    D.assign((size_t)I * MV * 8 * NV, vzero());
    if (!tied) Dt.assign((size_t)I * n * MV, vzero());
    bias.assign((size_t)I * NV, vzero());
    imp.assign((size_t)I * NV, vzero());
    impg.assign((size_t)I * NV, vzero());
    for (int i = 0; i < I; i++) {
        float* ip = (float*)(imp.data() + (size_t)i * NV);
        for (int f = 0; f < n; f++) ip[f] = c.importance_at(i, f);
    }
    // the samples-vectorised kernel (kernel_soa_isa.cpp) wins at every density where it applies (tied models,
    // m <= 8, n <= 32; measured faster than the sparse kernel even on the p = 0.05 instances of the
    // 20 -> 5 benchmark); the sparse kernel covers the rest
    dense.assign(I, (char)(tied && MV == 1 && NV <= 4));
    acc_vecs = 2 + (size_t)NV + (size_t)m * NV + (size_t)n * MV;
    scratch_vecs = 4 * (size_t)NV + 2 * (size_t)SUB * (MV + NV) + (size_t)SUB * NV;
    int threads = omp_get_max_threads();
    scratch.assign((size_t)threads * scratch_vecs, vzero());
    act.assign((size_t)threads * n_pad, 0);
    set_batch(batch);
    for (int i = 0; i < I; i++) sync_instance(model, i);
}

void Work::set_batch(int batch) {
    B = batch;
    // chunks of 256 samples, fewer when the accumulators would exceed ~32 M floats (depends on shapes only)
    int want = (B + 255) / 256;
    size_t cap = std::max<size_t>(1, ((size_t)4 << 20) / std::max<size_t>(1, (size_t)I * acc_vecs));
    n_chunks = (int)std::min<size_t>((size_t)want, cap);
    chunk = (B + n_chunks - 1) / n_chunks;
    n_chunks = (B + chunk - 1) / chunk;
    acc.assign((size_t)I * n_chunks * acc_vecs, vzero());
    const float s = 2.0f / ((float)B * (float)n);
    for (size_t k = 0; k < imp.size(); k++) impg[k] = imp[k] * s;
}

void Work::sync_instance(const ToyModel& model, int inst) {
    const float* P = model.params.data.data();
    const size_t mn = (size_t)m * n;
    const float* W = P + off_W + inst * mn;
    float* e = (float*)(E.data() + (size_t)inst * n * MV);
    float* d = (float*)(D.data() + (size_t)inst * MV * 8 * NV);
    const int ms = MV * 8, ns = NV * 8;
    for (int k = 0; k < m; k++)
        for (int j = 0; j < n; j++) e[(size_t)j * ms + k] = W[(size_t)k * n + j];
    if (tied) {
        for (int k = 0; k < m; k++) std::memcpy(d + (size_t)k * ns, W + (size_t)k * n, sizeof(float) * n);
    } else {
        const float* W2 = P + off_W2 + inst * mn;  // [n, m]
        float* dt = (float*)(Dt.data() + (size_t)inst * n * MV);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < m; k++) {
                d[(size_t)k * ns + i] = W2[(size_t)i * m + k];
                dt[(size_t)i * ms + k] = W2[(size_t)i * m + k];
            }
    }
    std::memcpy((float*)(bias.data() + (size_t)inst * NV), P + off_b + (size_t)inst * n, sizeof(float) * n);
}

bool soa_kernel_applies(const Work& w) { return w.tied && w.m >= 1 && w.m <= 8 && w.n >= 1 && w.n <= 32; }

void work_unit(Work& w, const ToyConfig& cfg, uint64_t stream, const float* x, bool want_grad, int inst, int c) {
    const int tid = omp_get_thread_num();
    UNFOLD_ASSERT((size_t)(tid + 1) * w.scratch_vecs <= w.scratch.size());
    v8f* scr = w.scratch.data() + (size_t)tid * w.scratch_vecs;
    int* act = w.act.data() + (size_t)tid * w.n_pad;
    uint64_t key = x ? 0 : data_key(cfg.seed, stream, inst);
    uint32_t klo = (uint32_t)key, khi = (uint32_t)(key >> 32);
    v8f* acc = w.acc_of(inst, c);
    if (w.dense[inst]) {
        UNFOLD_ASSERT(soa_kernel_applies(w));
        UNFOLD_ISA_CALL(w.level, run_soa_kernel, w, inst, c, klo, khi, x, want_grad, acc, act);
    } else
        UNFOLD_ISA_CALL(w.level, run_sparse_kernel, w, inst, c, klo, khi, x, want_grad, acc, scr, act);
}

void work_compute(Work& w, const ToyConfig& cfg, uint64_t stream, const float* x, bool want_grad) {
    const int units = w.I * w.n_chunks;
#pragma omp for schedule(dynamic, 1)
    for (int u = 0; u < units; u++) work_unit(w, cfg, stream, x, want_grad, u / w.n_chunks, u % w.n_chunks);
}

static double hsum(v8f a) {
    double s = 0;
    for (int j = 0; j < 8; j++) s += (double)a[j];
    return s;
}

void work_reduce(Work& w, ToyModel& model, int inst, bool want_grad, double* loss, double* recon) {
    v8f* a0 = w.acc_of(inst, 0);
    for (int c = 1; c < w.n_chunks; c++) {
        const v8f* ac = w.acc_of(inst, c);
        const size_t nv = want_grad ? w.acc_vecs : 2;
        for (size_t k = 0; k < nv; k++) a0[k] += ac[k];
    }
    const double r = hsum(a0[0]) / ((double)w.B * w.n);
    if (recon) *recon = r;
    if (loss) *loss = r + (double)w.l1 * hsum(a0[1]) / (double)w.B;
    if (!want_grad) return;
    const int n = w.n, m = w.m, ms = w.MV * 8, ns = w.NV * 8;
    const size_t mn = (size_t)m * n;
    const float* db = (const float*)(a0 + 2);
    const float* dD = (const float*)(a0 + 2 + w.NV);
    const float* dE = dD + (size_t)m * ns;
    float* G = model.params.grad.data();
    float* gW = G + w.off_W + inst * mn;
    if (w.tied) {
        for (int k = 0; k < m; k++)
            for (int i = 0; i < n; i++) gW[(size_t)k * n + i] = dE[(size_t)i * ms + k] + dD[(size_t)k * ns + i];
    } else {
        float* gW2 = G + w.off_W2 + inst * mn;
        for (int k = 0; k < m; k++)
            for (int j = 0; j < n; j++) gW[(size_t)k * n + j] = dE[(size_t)j * ms + k];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < m; k++) gW2[(size_t)i * m + k] = dD[(size_t)k * ns + i];
    }
    std::memcpy(G + w.off_b + (size_t)inst * n, db, sizeof(float) * n);
}

}  // namespace toyk
}  // namespace unfold
