// test_analysis_privileged.cpp: rotating the hidden space (W -> QW) leaves the linear and ReLU-output models'
// loss unchanged (they see only W^T W) and changes the hidden-ReLU and abs models' loss (privileged basis).
#include <gtest/gtest.h>

#include <cmath>

#include "unfold/core/context.h"
#include "unfold/toy/privileged.h"
#include "unfold/toy/toy.h"

using namespace unfold;

namespace {

ToyModel trained(ToyKind kind, int n, int m, int64_t steps) {
    ToyConfig c;
    c.kind = kind;
    c.data = kind == ToyKind::ABS ? ToyData::SIGNED : ToyData::UNIFORM;
    c.n_features = n;
    c.n_hidden = m;
    c.n_instances = 3;
    c.steps = steps;
    c.batch = 256;
    c.lr = 1e-2f;
    c.seed = 5;
    toy_set_density(c, {1.0f, 0.3f, 0.1f});
    std::vector<float> imp(n);
    for (int i = 0; i < n; i++) imp[i] = std::pow(0.8f, (float)i);
    toy_set_importance(c, imp);
    ToyModel model = toy_init(c);
    toy_train(model, Context::silent());
    return model;
}

}  // namespace

TEST(Privileged, RandomOrthogonalIsOrthogonal) {
    for (int m : {1, 2, 5, 9}) {
        auto Q = random_orthogonal(m, 3);
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++) {
                double s = 0;
                for (int k = 0; k < m; k++) s += Q[(size_t)a * m + k] * Q[(size_t)b * m + k];
                EXPECT_NEAR(s, a == b ? 1.0 : 0.0, 1e-12);
            }
    }
    // different seeds give different rotations
    auto Q1 = random_orthogonal(4, 1), Q2 = random_orthogonal(4, 2);
    double diff = 0;
    for (size_t i = 0; i < Q1.size(); i++) diff += std::fabs(Q1[i] - Q2[i]);
    EXPECT_GT(diff, 0.5);
}

TEST(Privileged, LinearAndReluOutputLossesAreRotationInvariant) {
    set_num_threads(1);
    for (ToyKind k : {ToyKind::LINEAR, ToyKind::RELU}) {
        ToyModel m = trained(k, 8, 3, 300);
        RotationResult r = rotation_test(m, 11, 4096);
        for (size_t i = 0; i < r.loss_before.size(); i++) {
            EXPECT_GT(r.loss_before[i], 0.0);
            EXPECT_NEAR(r.loss_after[i], r.loss_before[i], 1e-5 * r.loss_before[i]) << toy_kind_name(k) << " " << i;
        }
        // the rotation really moved W
        ToyModel rot = rotate_hidden(m, random_orthogonal(3, 11));
        double moved = 0;
        for (size_t i = 0; i < m.params.data.size(); i++) moved += std::fabs(rot.params.data[i] - m.params.data[i]);
        EXPECT_GT(moved, 0.1);
    }
}

TEST(Privileged, HiddenReluAndAbsLossesChange) {
    set_num_threads(1);
    ToyModel h = trained(ToyKind::HIDDEN_RELU, 8, 3, 600);
    RotationResult r = rotation_test(h, 11, 4096);
    EXPECT_GT(r.mean_after, 1.2 * r.mean_before) << r.mean_before << " -> " << r.mean_after;
    EXPECT_GT(r.max_rel_change, 0.2);
    ToyModel a = trained(ToyKind::ABS, 6, 4, 600);
    RotationResult ra = rotation_test(a, 11, 4096);
    EXPECT_GT(ra.max_rel_change, 0.1) << ra.mean_before << " -> " << ra.mean_after;
}
