// model.cpp: the four toy models: parameter initialisation, toy_loss on top of the fused kernels
// (kernel_*.cpp), and a plain double-precision reference used by the gradient tests.
//
// Models (I_i importance, t = x, or |x| for abs):
//   linear x' = W^T W x + b;  relu x' = ReLU(W^T W x + b);  hidden-relu h = ReLU(W x), x' = ReLU(W^T h + b);
//   abs h = ReLU(W1 x), y = ReLU(W2 h + b).   loss = sum_i I_i (t_i - x'_i)^2 / (B n) + l1 sum_k |h_k| / B
#include <algorithm>
#include <cmath>
#include <cstring>

#include <omp.h>

#include "toy/toy_kernel.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/toy.h"

namespace unfold {

ToyModel toy_init(const ToyConfig& cfg) {
    cfg.validate("toy_init");
    ToyModel model;
    model.cfg = cfg;
    const int64_t I = cfg.n_instances, m = cfg.n_hidden, n = cfg.n_features;
    const float std = cfg.effective_init_std();
    if (cfg.kind == ToyKind::ABS) {
        model.params.add("W1", {I, m, n});
        model.params.add("W2", {I, n, m});
        model.params.add("b", {I, n});
        model.params.finalize();
        rng_fill_normal(model.params.get("W1"), (size_t)(I * m * n), cfg.seed, 1, 0, 0.0f, std);
        rng_fill_normal(model.params.get("W2"), (size_t)(I * m * n), cfg.seed, 2, 0, 0.0f, std);
    } else {
        model.params.add("W", {I, m, n});
        model.params.add("b", {I, n});
        model.params.finalize();
        rng_fill_normal(model.params.get("W"), (size_t)(I * m * n), cfg.seed, 1, 0, 0.0f, std);
    }
    return model;
}

const float* toy_feature_weights(const ToyModel& model, int inst) {
    const ToyConfig& c = model.cfg;
    UNFOLD_CHECK(inst >= 0 && inst < c.n_instances, "toy_feature_weights: instance %d out of range [0, %d)", inst,
                 c.n_instances);
    const char* name = c.kind == ToyKind::ABS ? "W1" : "W";
    return model.params.get(name) + (size_t)inst * c.n_hidden * c.n_features;
}

static void loss_common(ToyModel& model, uint64_t stream, const float* x, int B, float* loss, float* recon,
                        bool want_grad) {
    const ToyConfig& cfg = model.cfg;
    cfg.validate("toy_loss");
    UNFOLD_CHECK(model.params.size() > 0, "toy_loss: model has no parameters (use toy_init)");
    UNFOLD_CHECK(B >= 1 && (uint64_t)B * cfg.n_features < (1ULL << 32), "toy_loss: batch %d out of range", B);
    toyk::Work w;
    w.init(model, B);
    if (want_grad) model.params.zero_grad();
#pragma omp parallel
    {
        toyk::work_compute(w, cfg, stream, x, want_grad);
#pragma omp for schedule(static)
        for (int i = 0; i < cfg.n_instances; i++) {
            double l = 0, r = 0;
            toyk::work_reduce(w, model, i, want_grad, &l, &r);
            if (loss) loss[i] = (float)l;
            if (recon) recon[i] = (float)r;
        }
    }
}

void toy_loss(ToyModel& model, const float* x, int B, float* loss_per_instance, bool want_grad) {
    UNFOLD_CHECK(x != nullptr, "toy_loss: no input batch");
    const size_t total = (size_t)B * model.cfg.n_instances * model.cfg.n_features;
    for (size_t k = 0; k < total; k++)
        UNFOLD_CHECK(std::isfinite(x[k]), "toy_loss: input x[%zu, %zu, %zu] is not finite", k / ((size_t)model.cfg.n_instances * model.cfg.n_features),
                     k / model.cfg.n_features % model.cfg.n_instances, k % model.cfg.n_features);
    loss_common(model, 0, x, B, loss_per_instance, nullptr, want_grad);
}

void toy_loss_stream(ToyModel& model, uint64_t step_stream, int B, float* loss_per_instance, bool want_grad) {
    loss_common(model, step_stream, nullptr, B, loss_per_instance, nullptr, want_grad);
}

void toy_recon_loss_stream(ToyModel& model, uint64_t step_stream, int B, float* recon_per_instance) {
    loss_common(model, step_stream, nullptr, B, nullptr, recon_per_instance, false);
}

std::vector<float> toy_eval_loss(ToyModel& model) {
    std::vector<float> l(model.cfg.n_instances);
    toy_loss_stream(model, TOY_EVAL_STREAM, model.cfg.eval_batch, l.data(), false);
    return l;
}

std::vector<float> toy_eval_recon_loss(ToyModel& model) {
    std::vector<float> l(model.cfg.n_instances);
    toy_recon_loss_stream(model, TOY_EVAL_STREAM, model.cfg.eval_batch, l.data());
    return l;
}

// ---- double-precision reference (plain loops, no sparsity tricks) ----
void toy_loss_reference(const ToyConfig& cfg, const double* params, const float* x, int B, double* loss,
                        double* grad) {
    const int I = cfg.n_instances, n = cfg.n_features, m = cfg.n_hidden;
    const size_t mn = (size_t)m * n;
    const bool tied = cfg.kind != ToyKind::ABS;
    const bool out_relu = cfg.kind != ToyKind::LINEAR;
    const bool hid_relu = cfg.kind == ToyKind::HIDDEN_RELU || cfg.kind == ToyKind::ABS;
    const size_t off_b = tied ? (size_t)I * mn : 2 * (size_t)I * mn;
    const size_t total = off_b + (size_t)I * n;
    if (grad) std::fill(grad, grad + total, 0.0);
    std::vector<double> h(m), a(m), pre(n), g(n), da(m);
    for (int inst = 0; inst < I; inst++) {
        const double* W = params + inst * mn;                          // [m, n] encoder
        const double* W2 = tied ? nullptr : params + I * mn + inst * mn;  // [n, m] decoder (abs)
        const double* b = params + off_b + (size_t)inst * n;
        double* gW = grad ? grad + inst * mn : nullptr;
        double* gW2 = grad && !tied ? grad + I * mn + inst * mn : nullptr;
        double* gb = grad ? grad + off_b + (size_t)inst * n : nullptr;
        auto dec = [&](int i, int k) { return tied ? W[(size_t)k * n + i] : W2[(size_t)i * m + k]; };
        double rec = 0, l1 = 0;
        for (int s = 0; s < B; s++) {
            const float* xr = x + ((size_t)s * I + inst) * n;
            for (int k = 0; k < m; k++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += W[(size_t)k * n + j] * (double)xr[j];
                h[k] = acc;
                a[k] = hid_relu ? std::max(acc, 0.0) : acc;
                l1 += std::fabs(a[k]);
            }
            for (int i = 0; i < n; i++) {
                double acc = b[i];
                for (int k = 0; k < m; k++) acc += dec(i, k) * a[k];
                pre[i] = acc;
                double out = out_relu ? std::max(acc, 0.0) : acc;
                double t = cfg.kind == ToyKind::ABS ? std::fabs((double)xr[i]) : (double)xr[i];
                double imp = cfg.importance_at(inst, i);
                rec += imp * (out - t) * (out - t);
                g[i] = 2.0 * imp * (out - t) / ((double)B * n) * ((!out_relu || acc > 0) ? 1.0 : 0.0);
            }
            if (!grad) continue;
            for (int k = 0; k < m; k++) {
                double acc = 0;
                for (int i = 0; i < n; i++) acc += g[i] * dec(i, k);
                double sg = a[k] > 0 ? 1.0 : (a[k] < 0 ? -1.0 : 0.0);
                acc += (double)cfg.l1_hidden / B * sg;
                da[k] = hid_relu && !(h[k] > 0) ? 0.0 : acc;
            }
            for (int i = 0; i < n; i++) {
                gb[i] += g[i];
                for (int k = 0; k < m; k++) {
                    if (tied)
                        gW[(size_t)k * n + i] += g[i] * a[k];
                    else
                        gW2[(size_t)i * m + k] += g[i] * a[k];
                }
            }
            for (int k = 0; k < m; k++)
                for (int j = 0; j < n; j++) gW[(size_t)k * n + j] += da[k] * (double)xr[j];
        }
        loss[inst] = rec / ((double)B * n) + (double)cfg.l1_hidden * l1 / B;
    }
}

}  // namespace unfold