// test_toy_data.cpp: the synthetic data generator (ARENA's checks, plus determinism).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/toy/toy.h"

using namespace unfold;

static ToyConfig data_cfg(int n, int I, const std::vector<float>& p) {
    ToyConfig c;
    c.n_features = n;
    c.n_instances = I;
    toy_set_density(c, p);
    toy_set_importance(c, std::vector<float>(n, 1.0f));
    return c;
}

TEST(ToyData, FrequenciesMatchDensity) {
    // ARENA test_generate_batch: 10 instances, p = (1..10)/11, batch 5000, n = 5:
    // values in [0, 1) and sum over instances of |empirical frequency - p| < 0.05
    std::vector<float> p(10);
    for (int i = 0; i < 10; i++) p[i] = (i + 1) / 11.0f;
    ToyConfig c = data_cfg(5, 10, p);
    const int B = 5000;
    std::vector<float> x((size_t)B * 10 * 5);
    toy_sample_batch(c, 0, B, x.data());
    double total = 0;
    for (int i = 0; i < 10; i++) {
        size_t active = 0;
        for (int b = 0; b < B; b++)
            for (int f = 0; f < 5; f++) {
                float v = x[((size_t)b * 10 + i) * 5 + f];
                ASSERT_GE(v, 0.0f);
                ASSERT_LT(v, 1.0f);
                active += v != 0.0f;
            }
        total += std::fabs((double)active / (B * 5) - p[i]);
    }
    EXPECT_LT(total, 0.05);
}

TEST(ToyData, MagnitudesAreUniform) {
    // given presence, values are U[0,1): mean 1/2, and the same at a small density (p = 0.01), where the
    // magnitude comes from the low bits of the shared draw
    for (float p : {1.0f, 0.01f}) {
        ToyConfig c = data_cfg(20, 1, {p});
        const int B = 50000;
        std::vector<float> x((size_t)B * 20);
        toy_sample_batch(c, 5, B, x.data());
        double s = 0, s2 = 0;
        size_t k = 0, below_quarter = 0;
        for (float v : x)
            if (v != 0) {
                s += v, s2 += (double)v * v, k++;
                below_quarter += v < 0.25f;
            }
        ASSERT_GT(k, 1000u);
        EXPECT_NEAR(s / k, 0.5, 5.0 / std::sqrt(12.0 * k));             // 5 sigma
        EXPECT_NEAR(s2 / k, 1.0 / 3.0, 0.02);
        EXPECT_NEAR((double)below_quarter / k, 0.25, 5 * std::sqrt(0.1875 / k));
    }
}

TEST(ToyData, CorrelatedAndAnticorrelatedPairs) {
    // ARENA demo: 30 instances, p = 10^-linspace(.5, 1, 30), batch 100k: correlated pairs co-active exactly,
    // anticorrelated pairs never both active, mean |freq - p| < 0.002 (n = 4: one pair of each)
    const int I = 30, n = 4, B = 100000;
    std::vector<float> p(I);
    for (int i = 0; i < I; i++) p[i] = (float)std::pow(10.0, -(0.5 + 0.5 * i / (I - 1)));
    ToyConfig c = data_cfg(n, I, p);
    c.correlated_pairs = 1;
    c.anticorrelated_pairs = 1;
    std::vector<float> x((size_t)B * I * n);
    toy_sample_batch(c, 1, B, x.data());
    double dev = 0;
    for (int i = 0; i < I; i++) {
        size_t cnt[4] = {0, 0, 0, 0};
        for (int b = 0; b < B; b++) {
            const float* r = &x[((size_t)b * I + i) * n];
            ASSERT_EQ(r[0] != 0, r[1] != 0) << "correlated pair not co-active";
            ASSERT_FALSE(r[2] != 0 && r[3] != 0) << "anticorrelated pair both active";
            for (int f = 0; f < n; f++) cnt[f] += r[f] != 0;
        }
        for (int f = 0; f < n; f++) dev += std::fabs((double)cnt[f] / B - p[i]);
    }
    EXPECT_LT(dev / (I * n), 0.002);
}

TEST(ToyData, OneHotHasExactlyOneActiveFeature) {
    ToyConfig c = data_cfg(7, 3, {0.1f, 0.1f, 0.1f});
    c.data = ToyData::ONE_HOT;
    const int B = 7000;
    std::vector<float> x((size_t)B * 3 * 7);
    toy_sample_batch(c, 2, B, x.data());
    std::vector<int> hits(7, 0);
    for (int b = 0; b < B * 3; b++) {
        int active = 0;
        for (int f = 0; f < 7; f++) {
            float v = x[(size_t)b * 7 + f];
            if (v != 0) {
                EXPECT_EQ(v, 1.0f);
                active++;
                hits[f]++;
            }
        }
        ASSERT_EQ(active, 1);
    }
    for (int f = 0; f < 7; f++) EXPECT_NEAR(hits[f], B * 3 / 7.0, 5 * std::sqrt(B * 3 / 7.0));  // uniform choice
}

TEST(ToyData, SignedDataCoversMinusOneToOne) {
    ToyConfig c = data_cfg(10, 1, {0.5f});
    c.data = ToyData::SIGNED;
    const int B = 20000;
    std::vector<float> x((size_t)B * 10);
    toy_sample_batch(c, 3, B, x.data());
    size_t neg = 0, nz = 0;
    for (float v : x) {
        ASSERT_GE(v, -1.0f);
        ASSERT_LT(v, 1.0f);
        nz += v != 0, neg += v < 0;
    }
    EXPECT_NEAR((double)nz / x.size(), 0.5, 0.01);
    EXPECT_NEAR((double)neg / nz, 0.5, 0.01);
}

TEST(ToyData, PerFeatureDensityAndRanges) {
    ToyConfig c = data_cfg(3, 4, {1, 1, 1, 1});
    toy_set_feature_density(c, "0.5:0.05,0.2,1");
    EXPECT_FLOAT_EQ(c.density_at(0, 0), 0.5f);
    EXPECT_NEAR(c.density_at(3, 0), 0.05f, 1e-7);
    EXPECT_NEAR(c.density_at(1, 0), 0.5f * std::pow(0.1f, 1.0f / 3), 1e-6);  // log-spaced
    EXPECT_FLOAT_EQ(c.density_at(2, 1), 0.2f);
    const int B = 40000;
    std::vector<float> x((size_t)B * 4 * 3);
    toy_sample_batch(c, 9, B, x.data());
    for (int i = 0; i < 4; i++)
        for (int f = 0; f < 3; f++) {
            size_t k = 0;
            for (int b = 0; b < B; b++) k += x[((size_t)b * 4 + i) * 3 + f] != 0;
            double p = c.density_at(i, f);
            EXPECT_NEAR((double)k / B, p, 5 * std::sqrt(p * (1 - p) / B) + 1e-9);
        }
    EXPECT_THROW(toy_set_feature_density(c, "0.5,0.2"), Error);  // wrong count
    EXPECT_THROW(toy_parse_density("1.5", 4), Error);
    EXPECT_THROW(toy_parse_density("0.5,0.2", 4), Error);
    EXPECT_THROW(toy_parse_importance("a", 3), Error);
    std::vector<float> imp = toy_parse_importance("0.9", 3);
    EXPECT_FLOAT_EQ(imp[2], 0.81f);
}

TEST(ToyData, IndependentOfThreadCountAndKeyedByStep) {
    ToyConfig c = data_cfg(20, 6, toy_parse_density("1:0.05", 6));
    const int B = 3000;
    std::vector<float> a((size_t)B * 6 * 20), b(a.size()), d(a.size());
    set_num_threads(1);
    toy_sample_batch(c, 17, B, a.data());
    set_num_threads(2);
    toy_sample_batch(c, 17, B, b.data());
    toy_sample_batch(c, 18, B, d.data());
    EXPECT_EQ(a, b);
    EXPECT_NE(a, d);
    // a prefix of a bigger batch is the smaller batch (element keyed by its sample index)
    std::vector<float> small((size_t)100 * 6 * 20);
    toy_sample_batch(c, 17, 100, small.data());
    EXPECT_TRUE(std::equal(small.begin(), small.end(), a.begin()));
}
