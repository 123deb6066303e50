// test_toy_grad.cpp: gradients of the four toy models.
//  1. The double-precision reference backward (toy_loss_reference) against central finite differences,
//     for every model, with and without the L1 penalty, with non-uniform importance.
//  2. The fast float kernel (toy_loss, the one training uses) against the reference, on shapes that hit
//     each compiled specialisation (hidden 2/5/10/20/40 x features 5/12/20/40) and the generic path.
//  3. toy_loss_stream (data generated inside the kernel) == toy_loss on toy_sample_batch, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/toy/toy.h"

using namespace unfold;

static ToyConfig tiny(ToyKind kind, int n, int m, int I, float l1) {
    ToyConfig c;
    c.kind = kind;
    c.data = kind == ToyKind::ABS ? ToyData::SIGNED : ToyData::UNIFORM;
    c.n_features = n;
    c.n_hidden = m;
    c.n_instances = I;
    c.l1_hidden = l1;
    c.seed = 7;
    toy_set_density(c, toy_parse_density("0.9:0.3", I));
    std::vector<float> imp(n);
    for (int i = 0; i < n; i++) imp[i] = 1.0f - 0.6f * i / n;  // non-uniform importance
    toy_set_importance(c, imp);
    return c;
}

// random parameters (the init is too small to put the ReLUs in interesting places); b around 0
static std::vector<double> random_params(const ToyModel& model, uint64_t seed) {
    Rng r(seed, 99);
    std::vector<double> p(model.params.size());
    for (auto& v : p) v = 0.5 * r.normal();
    return p;
}

static const ToyKind kKinds[] = {ToyKind::LINEAR, ToyKind::RELU, ToyKind::HIDDEN_RELU, ToyKind::ABS};

TEST(ToyGrad, ReferenceMatchesFiniteDifferences) {
    for (ToyKind kind : kKinds)
        for (float l1 : {0.0f, 0.3f}) {
            ToyConfig c = tiny(kind, 5, 3, 2, l1);
            const int B = 6;
            ToyModel model = toy_init(c);
            std::vector<double> p = random_params(model, 1);
            std::vector<float> x((size_t)B * c.n_instances * c.n_features);
            toy_sample_batch(c, 3, B, x.data());
            std::vector<double> loss(c.n_instances), grad(p.size());
            toy_loss_reference(c, p.data(), x.data(), B, loss.data(), grad.data());
            double max_err = 0, max_g = 0;
            const double h = 1e-6;
            for (size_t k = 0; k < p.size(); k++) {
                std::vector<double> lp(c.n_instances), lm(c.n_instances);
                double keep = p[k];
                p[k] = keep + h;
                toy_loss_reference(c, p.data(), x.data(), B, lp.data(), nullptr);
                p[k] = keep - h;
                toy_loss_reference(c, p.data(), x.data(), B, lm.data(), nullptr);
                p[k] = keep;
                double fd = 0;  // d(sum over instances of loss)/dp
                for (int i = 0; i < c.n_instances; i++) fd += (lp[i] - lm[i]) / (2 * h);
                max_err = std::max(max_err, std::fabs(fd - grad[k]));
                max_g = std::max(max_g, std::fabs(grad[k]));
            }
            // central differences in double: truncation ~h^2, rounding ~1e-16/h = 1e-10
            EXPECT_LT(max_err, 1e-7 + 1e-6 * max_g) << toy_kind_name(kind) << " l1=" << l1;
            EXPECT_GT(max_g, 1e-3) << "gradient unexpectedly tiny: " << toy_kind_name(kind);
        }
}

static void kernel_vs_reference(ToyKind kind, int n, int m, int I, float l1, int B, const char* density = "0.9:0.3") {
    ToyConfig c = tiny(kind, n, m, I, l1);
    toy_set_density(c, toy_parse_density(density, I));
    ToyModel model = toy_init(c);
    std::vector<double> p = random_params(model, 2);
    for (size_t k = 0; k < p.size(); k++) model.params.data[k] = (float)p[k];
    for (size_t k = 0; k < p.size(); k++) p[k] = model.params.data[k];  // reference sees the float values
    std::vector<float> x((size_t)B * I * n);
    toy_sample_batch(c, 11, B, x.data());
    std::vector<double> lref(I), gref(p.size());
    toy_loss_reference(c, p.data(), x.data(), B, lref.data(), gref.data());
    std::vector<float> lk(I);
    toy_loss(model, x.data(), B, lk.data(), true);
    double gmax = 0;
    for (double g : gref) gmax = std::max(gmax, std::fabs(g));
    for (int i = 0; i < I; i++) EXPECT_NEAR(lk[i], lref[i], 1e-5 * std::fabs(lref[i]) + 1e-7) << toy_kind_name(kind);
    double err = 0;
    for (size_t k = 0; k < p.size(); k++) err = std::max(err, std::fabs((double)model.params.grad[k] - gref[k]));
    // float accumulation over B*n terms: relative error ~1e-6; 1e-4 of the largest gradient is generous
    EXPECT_LT(err, 1e-4 * gmax) << toy_kind_name(kind) << " n=" << n << " m=" << m << " l1=" << l1;
}

TEST(ToyGrad, KernelMatchesReferenceAllModelsAndShapes) {
    // (n, m): (5,2) MV1/NV1, (20,5) MV1/NV3, (12,16) MV2/NV2, (40,10) generic, (9,40) generic MV5
    const int shapes[][2] = {{5, 2}, {20, 5}, {12, 16}, {40, 10}, {9, 40}};
    for (ToyKind kind : kKinds)
        for (auto& s : shapes)
            for (float l1 : {0.0f, 0.05f}) kernel_vs_reference(kind, s[0], s[1], 3, l1, 300);
}

TEST(ToyGrad, KernelSparsePath) {
    // low densities (tied models with m <= 8, n <= 32 take the samples-vectorised kernel at any density; abs and the
    // larger shapes of the test above take the sparse kernel, which skips the inactive features)
    for (ToyKind kind : kKinds)
        for (auto s : {std::pair<int, int>{5, 2}, {20, 5}}) {
            kernel_vs_reference(kind, s.first, s.second, 2, 0.0f, 600, "0.05");
            kernel_vs_reference(kind, s.first, s.second, 2, 0.05f, 600, "0.09");
        }
}

TEST(ToyGrad, KernelChunkedBatch) {
    // B = 700 spans 3 chunks of 256 samples (the last one partial): the fixed-order reduction must match
    kernel_vs_reference(ToyKind::RELU, 20, 5, 2, 0.0f, 700);
    kernel_vs_reference(ToyKind::ABS, 20, 5, 2, 0.01f, 700);
}

TEST(ToyGrad, KernelSoaShapes) {
    // tied models with m <= 8, n <= 32 take the across-samples kernel (kernel_soa.cpp): odd shapes, the
    // extremes m = 1 / m = 8 / n = 32, and batches whose chunks end inside a vector of 8 samples
    const int shapes[][2] = {{1, 1}, {3, 1}, {7, 3}, {13, 8}, {32, 7}, {20, 5}, {9, 2}};
    for (ToyKind kind : {ToyKind::LINEAR, ToyKind::RELU, ToyKind::HIDDEN_RELU})
        for (auto& s : shapes)
            for (int B : {77, 301}) {
                kernel_vs_reference(kind, s[0], s[1], 2, 0.0f, B);
                kernel_vs_reference(kind, s[0], s[1], 2, 0.03f, B, "0.6:0.1");
            }
}

TEST(ToyGrad, StreamEqualsMaterialisedBatch) {
    // the kernels generate blocks of data themselves (register-resident thresholds); this must equal
    // toy_sample_batch exactly, on the templated shapes and the generic one (40 x 10), dense and sparse
    const int shapes[][2] = {{20, 5}, {5, 2}, {40, 10}, {9, 40}, {13, 7}};
    for (auto& sh : shapes)
    for (ToyKind kind : kKinds)
        for (int pairs : {0, 1}) {
            ToyConfig c = tiny(kind, sh[0], sh[1], 4, 0.02f);
            toy_set_density(c, toy_parse_density(sh[0] == 5 ? "0.5:0.3" : "0.5:0.05", 4));
            c.correlated_pairs = pairs;
            c.anticorrelated_pairs = pairs;
            ToyModel model = toy_init(c);
            std::vector<double> p = random_params(model, 3);
            for (size_t k = 0; k < p.size(); k++) model.params.data[k] = (float)p[k];
            const int B = 300;
            std::vector<float> x((size_t)B * c.n_instances * c.n_features);
            toy_sample_batch(c, 42, B, x.data());
            std::vector<float> l1(c.n_instances), l2(c.n_instances);
            toy_loss(model, x.data(), B, l1.data(), true);
            std::vector<float> g1 = model.params.grad;
            toy_loss_stream(model, 42, B, l2.data(), true);
            for (int i = 0; i < c.n_instances; i++) EXPECT_EQ(l1[i], l2[i]);
            EXPECT_EQ(g1, model.params.grad) << toy_kind_name(kind) << " pairs=" << pairs << " n=" << sh[0];
        }
}

TEST(ToyGrad, ForwardIsTheDocumentedFormula) {
    // relu model, one instance, hand-set W and b: x' = ReLU(W^T W x + b), loss = mean_i I_i (x_i - x'_i)^2
    ToyConfig c = tiny(ToyKind::RELU, 3, 2, 1, 0.0f);
    toy_set_importance(c, {1.0f, 0.5f, 0.25f});
    ToyModel model = toy_init(c);
    float* W = model.params.get("W");  // [1, 2, 3]
    const float Wv[6] = {1, 0, -1, 0, 1, 0.5};
    for (int k = 0; k < 6; k++) W[k] = Wv[k];
    float* b = model.params.get("b");
    b[0] = -0.1f, b[1] = 0.2f, b[2] = -0.3f;
    const float x[3] = {0.5f, 0.25f, 0.75f};
    // h = W x = (0.5 - 0.75, 0.25 + 0.375) = (-0.25, 0.625)
    // W^T h + b = (-0.25 - 0.1, 0.625 + 0.2, 0.25 + 0.3125 - 0.3) = (-0.35, 0.825, 0.2625) -> ReLU (0, 0.825, 0.2625)
    const double e0 = 0.5, e1 = 0.825 - 0.25, e2 = 0.2625 - 0.75;
    const double want = (1.0 * e0 * e0 + 0.5 * e1 * e1 + 0.25 * e2 * e2) / 3.0;
    float l = 0;
    toy_loss(model, x, 1, &l, false);
    EXPECT_NEAR(l, want, 1e-6);
    const float bad[3] = {0.5f, NAN, 0.75f};  // non-finite input is an error, not a NaN loss
    EXPECT_THROW(toy_loss(model, bad, 1, &l, false), Error);
}
