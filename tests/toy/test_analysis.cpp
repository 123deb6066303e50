// test_analysis.cpp: feature dimensionality on hand-built polytopes, the Jacobi eigen solver, the
// superposition rank test, the polytope classifier (with noise), the neuron view, almost-orthogonal packing
// and the analytic phase boundaries. Pure analysis: no training.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "unfold/core/rng.h"
#include "unfold/toy/analysis.h"
#include "unfold/toy/geometry.h"
#include "unfold/toy/packing.h"
#include "unfold/toy/phase.h"

using namespace unfold;

namespace {

// W [m, n] from column vectors
std::vector<float> from_columns(const std::vector<std::vector<double>>& cols, int m) {
    int n = (int)cols.size();
    std::vector<float> W((size_t)m * n, 0.0f);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < (int)cols[i].size(); r++) W[(size_t)r * n + i] = (float)cols[i][r];
    return W;
}

std::vector<std::vector<double>> polygon(int k) {
    std::vector<std::vector<double>> c;
    for (int i = 0; i < k; i++) c.push_back({std::cos(2 * M_PI * i / k), std::sin(2 * M_PI * i / k)});
    return c;
}

std::vector<std::vector<double>> tetrahedron() {
    double s = 1 / std::sqrt(3.0);
    return {{s, s, s}, {s, -s, -s}, {-s, s, -s}, {-s, -s, s}};
}

// tight square antiprism: two squares rotated by 45 degrees, height/radius = 1/sqrt(2), unit vectors
std::vector<std::vector<double>> square_antiprism() {
    std::vector<std::vector<double>> c;
    double h = 1 / std::sqrt(2.0), norm = std::sqrt(1 + h * h);
    for (int k = 0; k < 8; k++) {
        double a = M_PI * k / 4;
        c.push_back({std::cos(a) / norm, std::sin(a) / norm, (k % 2 ? -h : h) / norm});
    }
    return c;
}

// place `cols` (living in their first d coordinates) at coordinate offset `off` of R^m
void embed(std::vector<std::vector<double>>& out, const std::vector<std::vector<double>>& cols, int off, int m) {
    for (auto& c : cols) {
        std::vector<double> v(m, 0.0);
        for (size_t r = 0; r < c.size(); r++) v[off + r] = c[r];
        out.push_back(v);
    }
}

void check_all_D(const std::vector<std::vector<double>>& cols, int m, double expect) {
    auto W = from_columns(cols, m);
    ToyFeatureStats st = feature_stats(W.data(), m, (int)cols.size());
    for (double d : st.dimensionality) EXPECT_NEAR(d, expect, 1e-5);
    EXPECT_NEAR(st.sum_dimensionality, m, 1e-4);
    EXPECT_NEAR(st.dims_per_feature, (double)m / cols.size(), 1e-5);
}

}  // namespace

TEST(Dimensionality, StickyFractionsOfTightPolytopes) {
    check_all_D({{1.0}, {-1.0}}, 1, 0.5);   // antipodal pair
    check_all_D(polygon(3), 2, 2.0 / 3);     // triangle
    check_all_D(tetrahedron(), 3, 0.75);     // tetrahedron
    check_all_D(polygon(5), 2, 0.4);         // pentagon
    check_all_D(square_antiprism(), 3, 0.375);
    check_all_D({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, 3, 1.0);  // dedicated dimensions
}

TEST(Dimensionality, PentagonAnglesAndPolysemanticity) {
    auto W = from_columns(polygon(5), 2);
    auto C = cosine_matrix(W.data(), 2, 5);
    EXPECT_NEAR(C[0 * 5 + 1], std::cos(2 * M_PI / 5), 1e-6);  // 0.309
    EXPECT_NEAR(C[0 * 5 + 2], std::cos(4 * M_PI / 5), 1e-6);  // -0.809
    ToyFeatureStats st = feature_stats(W.data(), 2, 5);
    // sum_{j != i} cos^2 = 2 (0.309^2 + 0.809^2) = 1.5
    EXPECT_NEAR(st.polysemanticity[0], std::sqrt(1.5), 1e-4);
}

TEST(Dimensionality, RandomMatricesRespectSumBound) {
    Rng rng(7, 1);
    for (int trial = 0; trial < 40; trial++) {
        int m = 1 + (int)rng.below(8), n = 1 + (int)rng.below(30);
        std::vector<float> W((size_t)m * n);
        for (auto& w : W) w = (float)(rng.normal() * (0.2 + rng.uniform()));
        ToyFeatureStats st = feature_stats(W.data(), m, n);
        EXPECT_LE(st.sum_dimensionality, m + 1e-6) << "m=" << m << " n=" << n;
        for (double d : st.dimensionality) {
            EXPECT_GE(d, 0.0);
            EXPECT_LE(d, 1.0 + 1e-6);
        }
    }
    // an unused (zero) feature has D = 0 and does not break its neighbours
    std::vector<float> W = {1, 0, 0, 1, 0, 0};  // [2, 3]: features e1, e2... column 2 is zero
    ToyFeatureStats st = feature_stats(W.data(), 2, 3);
    EXPECT_NEAR(st.dimensionality[0], 1.0, 1e-6);
    EXPECT_EQ(st.dimensionality[2], 0.0);
}

TEST(Jacobi, ReconstructsSymmetricMatrices) {
    Rng rng(3, 2);
    for (int k : {1, 2, 5, 9}) {
        std::vector<double> A((size_t)k * k);
        for (int i = 0; i < k; i++)
            for (int j = i; j < k; j++) A[(size_t)i * k + j] = A[(size_t)j * k + i] = rng.normal();
        std::vector<double> e, V;
        jacobi_eigen(A, k, e, &V);
        for (int i = 1; i < k; i++) EXPECT_GE(e[i - 1], e[i]);
        double err = 0, orth = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                double s = 0, o = 0;
                for (int t = 0; t < k; t++) {
                    s += V[(size_t)i * k + t] * e[t] * V[(size_t)j * k + t];
                    o += V[(size_t)t * k + i] * V[(size_t)t * k + j];
                }
                err = std::max(err, std::fabs(s - A[(size_t)i * k + j]));
                orth = std::max(orth, std::fabs(o - (i == j ? 1.0 : 0.0)));
            }
        EXPECT_LT(err, 1e-10) << "k=" << k;
        EXPECT_LT(orth, 1e-10) << "k=" << k;
    }
    // known spectrum: [[2,1],[1,2]] -> 3, 1
    std::vector<double> e;
    jacobi_eigen({2, 1, 1, 2}, 2, e);
    EXPECT_NEAR(e[0], 3.0, 1e-12);
    EXPECT_NEAR(e[1], 1.0, 1e-12);
}

TEST(SuperpositionTest, RankOfRepresentedGram) {
    {  // three orthogonal features + one unused: invertible, no superposition
        auto W = from_columns({{1, 0, 0}, {0, 0.9, 0}, {0, 0, 1.1}, {0.01, 0.02, 0}}, 3);
        auto t = superposition_test(W.data(), 3, 4);
        EXPECT_EQ(t.represented.size(), 3u);
        EXPECT_EQ(t.rank, 3);
        EXPECT_TRUE(t.invertible);
        EXPECT_FALSE(t.superposition);
    }
    {  // pentagon in 2D: 5 represented, rank 2
        auto W = from_columns(polygon(5), 2);
        auto t = superposition_test(W.data(), 2, 5);
        EXPECT_EQ(t.represented.size(), 5u);
        EXPECT_EQ(t.rank, 2);
        EXPECT_TRUE(t.superposition);
    }
    {  // antipodal pair in 1D (+ a dropped feature): rank 1 of 2
        std::vector<float> W = {1.0f, -1.0f, 0.1f};
        auto t = superposition_test(W.data(), 1, 3);
        EXPECT_EQ(t.represented.size(), 2u);
        EXPECT_EQ(t.rank, 1);
        EXPECT_TRUE(t.superposition);
    }
    {  // two non-orthogonal but independent features in 2D: invertible
        auto W = from_columns({{1, 0}, {0.5, 0.8}}, 2);
        auto t = superposition_test(W.data(), 2, 2);
        EXPECT_EQ(t.rank, 2);
        EXPECT_FALSE(t.superposition);
        EXPECT_GT(t.condition, 1.0);
    }
    {  // three features in 3D where one is a combination of two others: rank 2 < 3
        auto W = from_columns({{1, 0, 0}, {0, 1, 0}, {0.6, 0.8, 0}}, 3);
        auto t = superposition_test(W.data(), 3, 3);
        EXPECT_EQ(t.rank, 2);
        EXPECT_TRUE(t.superposition);
    }
}

TEST(Geometry, ClassifiesNoisyTegumProduct) {
    // R^9 = pentagon (2) + tetrahedron (3) + antipodal pair (1) + triangle (2) + dedicated (1), plus 3 unused
    const int m = 9;
    std::vector<std::vector<double>> cols;
    embed(cols, polygon(5), 0, m);
    embed(cols, tetrahedron(), 2, m);
    embed(cols, {{1.0}, {-1.0}}, 5, m);
    embed(cols, polygon(3), 6, m);
    embed(cols, {{1.0}}, 8, m);
    for (int u = 0; u < 3; u++) cols.push_back(std::vector<double>(m, 0.0));
    Rng rng(11, 3);
    for (auto& c : cols)
        for (auto& v : c) v += 0.02 * rng.normal();
    auto W = from_columns(cols, m);
    auto polys = classify_geometry(W.data(), m, (int)cols.size());
    ASSERT_EQ(polys.size(), 5u);
    std::map<std::string, std::vector<int>> by_name;
    for (auto& p : polys) by_name[p.name] = p.features;
    ASSERT_TRUE(by_name.count("pentagon"));
    ASSERT_TRUE(by_name.count("tetrahedron"));
    ASSERT_TRUE(by_name.count("antipodal pair"));
    ASSERT_TRUE(by_name.count("triangle"));
    ASSERT_TRUE(by_name.count("dedicated dimension"));
    EXPECT_EQ(by_name["pentagon"], (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(by_name["tetrahedron"], (std::vector<int>{5, 6, 7, 8}));
    EXPECT_EQ(by_name["antipodal pair"], (std::vector<int>{9, 10}));
    EXPECT_EQ(by_name["triangle"], (std::vector<int>{11, 12, 13}));
    EXPECT_EQ(by_name["dedicated dimension"], (std::vector<int>{14}));
}

TEST(Geometry, SquareAntiprismAndIrregularShapes) {
    auto cols = square_antiprism();
    Rng rng(5, 9);
    for (auto& c : cols)
        for (auto& v : c) v += 0.015 * rng.normal();
    auto W = from_columns(cols, 3);
    auto polys = classify_geometry(W.data(), 3, 8);
    ASSERT_EQ(polys.size(), 1u);
    EXPECT_EQ(polys[0].name, "square antiprism");
    EXPECT_EQ(polys[0].dims, 3);
    EXPECT_NEAR(polys[0].mean_dimensionality, 0.375, 0.03);
    // 3 features in 2D that are not a regular triangle: not tight, labelled generically
    auto W2 = from_columns({{1, 0}, {-1, 0.05}, {0.3, 0.95}}, 2);
    auto p2 = classify_geometry(W2.data(), 2, 3);
    ASSERT_EQ(p2.size(), 1u);
    EXPECT_FALSE(p2[0].tight);
    EXPECT_NE(p2[0].name, "triangle");
}

TEST(NeuronView, MonoAndPolysemanticNeurons) {
    // W [3 neurons, 4 features]
    std::vector<float> W = {0.9f, 0.05f, 0.0f, 0.0f,    // neuron 0: feature 0 only
                            0.0f, 0.7f,  -0.6f, 0.1f,   // neuron 1: features 1 and 2
                            0.02f, 0.0f, 0.01f, 0.03f}; // neuron 2: dead
    auto v = neuron_view(W.data(), 3, 4);
    EXPECT_TRUE(v[0].monosemantic);
    EXPECT_EQ(v[0].features, (std::vector<int>{0}));
    EXPECT_FALSE(v[1].monosemantic);
    EXPECT_EQ(v[1].features, (std::vector<int>{1, 2}));
    EXPECT_TRUE(v[2].dead);
    EXPECT_FALSE(v[2].monosemantic);
}

TEST(Packing, OptimisedBeatsRandomAndRespectsBounds) {
    // R^3, |cos| < 0.5: the optimum is 6 (equiangular lines at |cos| = 1/sqrt(5)); Welch allows at most 9.
    PackingStats rnd = packing_random(3, 0.5, 1, 3000);
    PackingStats opt = packing_optimized(3, 0.5, 1, std::max(1, rnd.count), 600, 64);
    EXPECT_LT(rnd.max_abs_cos, 0.5);
    EXPECT_LT(opt.max_abs_cos, 0.5);
    EXPECT_GE(opt.count, 6);
    EXPECT_LE(opt.count, (int)packing_welch_bound(3, 0.5));
    EXPECT_GE(opt.count, rnd.count);
    // R^12, |cos| < 0.35: optimisation packs strictly more than greedy random sampling
    PackingStats rnd12 = packing_random(12, 0.35, 2, 2000);
    PackingStats opt12 = packing_optimized(12, 0.35, 2, rnd12.count, 300, 400);
    EXPECT_GT(opt12.count, rnd12.count);
    EXPECT_LT(opt12.max_abs_cos, 0.35);
    // more vectors than dimensions must interfere at least as much as the frame-potential bound
    EXPECT_GE(opt12.mean_sq_cos, welch_mean_sq_cos(opt12.count, 12) - 1e-9);
    EXPECT_NEAR(packing_jl_bound(100, 0.2), std::exp(1.0), 1e-12);
    EXPECT_NEAR(packing_welch_bound(3, 0.5), 9.0, 1e-12);
}

TEST(PhaseAnalytic, BoundariesMatchResearchValues) {
    // research notes: p=0.5 -> (0.667, 1.5); p=0.3 -> (0.240, 4.17); p=0.1 -> (0.0571, 17.5); p=0.01 -> (0.00506, 197.5)
    EXPECT_NEAR(phase_r_lower(0.5), 0.6667, 1e-4);
    EXPECT_NEAR(phase_r_upper(0.5), 1.5, 1e-12);
    EXPECT_NEAR(phase_r_lower(0.3), 0.2400, 1e-4);
    EXPECT_NEAR(phase_r_upper(0.3), 4.1667, 1e-4);
    EXPECT_NEAR(phase_r_lower(0.1), 0.05714, 1e-5);
    EXPECT_NEAR(phase_r_lower(0.01), 0.02 / 3.95, 1e-12);  // the notes round this to 0.00503
    EXPECT_NEAR(phase_r_upper(0.01), 197.5, 1e-9);
    EXPECT_EQ(phase_analytic(2, 0.1, 1.0), PhaseOutcome::SUPERPOSITION);
    EXPECT_EQ(phase_analytic(2, 1.0, 0.5), PhaseOutcome::NOT_REPRESENTED);
    EXPECT_EQ(phase_analytic(2, 1.0, 2.0), PhaseOutcome::DEDICATED);
    EXPECT_EQ(phase_analytic(2, 0.1, 0.03), PhaseOutcome::NOT_REPRESENTED);  // below 0.0571
    EXPECT_EQ(phase_analytic(2, 0.1, 30.0), PhaseOutcome::DEDICATED);        // above 17.5
    // the wedge closes at p = 4/7, r = 1: no superposition just above it
    EXPECT_NE(phase_analytic(2, 0.6, 1.0), PhaseOutcome::SUPERPOSITION);
    EXPECT_EQ(phase_analytic(2, 0.5, 1.0), PhaseOutcome::SUPERPOSITION);
    // n=3: superposition needs r < 1 as well (else the two ordinary features pair up)
    EXPECT_EQ(phase_analytic(3, 0.1, 0.5), PhaseOutcome::SUPERPOSITION);
    EXPECT_EQ(phase_analytic(3, 0.1, 3.0), PhaseOutcome::DEDICATED);
    EXPECT_EQ(phase_analytic(3, 1.0, 0.5), PhaseOutcome::NOT_REPRESENTED);
    EXPECT_TRUE(phase_analytic_robust(2, 0.05, 1.0));
    EXPECT_FALSE(phase_analytic_robust(2, 0.5, 1.4));  // 1.4 is within a factor 2 of 1.5
}

TEST(PhaseClassify, ReadsTheExtraFeature) {
    std::vector<float> a = {1.0f, 0.02f}, b = {0.01f, 1.0f}, c = {0.9f, -0.95f};
    EXPECT_EQ(phase_classify(a.data(), 1, 2), PhaseOutcome::NOT_REPRESENTED);
    EXPECT_EQ(phase_classify(b.data(), 1, 2), PhaseOutcome::DEDICATED);
    EXPECT_EQ(phase_classify(c.data(), 1, 2), PhaseOutcome::SUPERPOSITION);
    // n=3, m=2: ordinary features antipodal on axis 0, extra on axis 1 -> dedicated
    std::vector<float> d = {1.0f, -1.0f, 0.0f, 0.0f, 0.0f, 1.0f};
    EXPECT_EQ(phase_classify(d.data(), 2, 3), PhaseOutcome::DEDICATED);
    // extra antipodal to feature 0, feature 1 dedicated -> superposition
    std::vector<float> e = {1.0f, 0.0f, -1.0f, 0.0f, 1.0f, 0.0f};
    EXPECT_EQ(phase_classify(e.data(), 2, 3), PhaseOutcome::SUPERPOSITION);
}
