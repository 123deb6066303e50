// test_rng.cpp: the counter-based RNG: reproducibility, independence of streams and splits, fills that do
// not depend on thread count or slicing, and the statistics of uniform / normal / bounded draws.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <vector>

#include "unfold/core/rng.h"

using namespace unfold;

TEST(Rng, SameSeedSameStream) {
    Rng a(42, 3), b(42, 3), c(43, 3), d(42, 4);
    int diff_seed = 0, diff_stream = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = a.next_u64();
        EXPECT_EQ(x, b.next_u64());
        diff_seed += x != c.next_u64();
        diff_stream += x != d.next_u64();
    }
    EXPECT_EQ(diff_seed, 1000);
    EXPECT_EQ(diff_stream, 1000);
    // a draw is a pure function of (key, counter)
    Rng e(42, 3);
    e.counter = 500;
    Rng f(42, 3);
    for (int i = 0; i < 500; i++) f.next_u64();
    EXPECT_EQ(e.next_u64(), f.next_u64());
    EXPECT_EQ(rng_at(rng_key(42, 3), 501), e.next_u64());
}

TEST(Rng, SplitsAreDistinctAndDeterministic) {
    Rng base(7);
    Rng s1 = base.split(1), s1b = base.split(1), s2 = base.split(2);
    EXPECT_EQ(s1.next_u64(), s1b.next_u64());
    std::vector<uint64_t> a, b;
    for (int i = 0; i < 100; i++) a.push_back(s1.next_u64()), b.push_back(s2.next_u64());
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::vector<uint64_t> common;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
    EXPECT_TRUE(common.empty());
    // splitting does not advance the parent
    Rng p(7), q(7);
    (void)p.split(5);
    EXPECT_EQ(p.next_u64(), q.next_u64());
}

TEST(Rng, FillIndependentOfThreadsAndSlicing) {
    const size_t n = 200003;  // above the parallel thresholds, odd so slices are uneven
    const int saved = omp_get_max_threads();
    std::vector<float> u1(n), u2(n), n1(n), n2(n);
    omp_set_num_threads(1);
    rng_fill_uniform(u1.data(), n, 5, 9, 0, -2.0f, 3.0f);
    rng_fill_normal(n1.data(), n, 5, 9, 0, 0.5f, 2.0f);
    omp_set_num_threads(2);
    rng_fill_uniform(u2.data(), n, 5, 9, 0, -2.0f, 3.0f);
    rng_fill_normal(n2.data(), n, 5, 9, 0, 0.5f, 2.0f);
    omp_set_num_threads(saved);
    EXPECT_EQ(0, std::memcmp(u1.data(), u2.data(), n * 4));
    EXPECT_EQ(0, std::memcmp(n1.data(), n2.data(), n * 4));

    // fill [0, n) == fill [0, k) then fill [k, n) with offset k
    for (size_t k : {(size_t)1, (size_t)777, (size_t)100000, n - 1}) {
        std::vector<float> s(n), t(n);
        rng_fill_uniform(s.data(), k, 5, 9, 0, -2.0f, 3.0f);
        rng_fill_uniform(s.data() + k, n - k, 5, 9, k, -2.0f, 3.0f);
        rng_fill_normal(t.data(), k, 5, 9, 0, 0.5f, 2.0f);
        rng_fill_normal(t.data() + k, n - k, 5, 9, k, 0.5f, 2.0f);
        EXPECT_EQ(0, std::memcmp(s.data(), u1.data(), n * 4)) << "k=" << k;
        EXPECT_EQ(0, std::memcmp(t.data(), n1.data(), n * 4)) << "k=" << k;
    }
    // a different stream gives different numbers
    std::vector<float> other(n);
    rng_fill_uniform(other.data(), n, 5, 10, 0, -2.0f, 3.0f);
    EXPECT_NE(0, std::memcmp(other.data(), u1.data(), n * 4));
}

TEST(Rng, UniformStatistics) {
    const size_t n = 1 << 20;
    std::vector<float> x(n);
    rng_fill_uniform(x.data(), n, 1, 0, 0, 0.0f, 1.0f);
    double s = 0, s2 = 0;
    float mn = 1, mx = 0;
    std::vector<int> bins(16, 0);
    for (float v : x) {
        s += v;
        s2 += (double)v * v;
        mn = std::min(mn, v);
        mx = std::max(mx, v);
        bins[(int)(v * 16)]++;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    // standard error of the mean: sqrt(1/12/n) = 2.8e-4; allow 5 sigma
    EXPECT_NEAR(mean, 0.5, 5 * 2.8e-4);
    EXPECT_NEAR(var, 1.0 / 12.0, 5 * 8.6e-5);  // sd of the variance estimate: sqrt(1/180/n)
    EXPECT_GE(mn, 0.0f);
    EXPECT_LT(mx, 1.0f);
    // chi-square over 16 bins, 15 dof: P(chi2 > 40) < 1e-3
    double chi2 = 0, e = n / 16.0;
    for (int b : bins) chi2 += (b - e) * (b - e) / e;
    EXPECT_LT(chi2, 40.0);
    // scalar interface agrees with the fill for the same counters
    Rng r(1, 0);
    for (int i = 0; i < 10; i++) EXPECT_EQ(r.uniform(), x[i]);
}

TEST(Rng, NormalStatistics) {
    const size_t n = 1 << 20;
    std::vector<float> x(n);
    rng_fill_normal(x.data(), n, 2, 1, 0, 1.5f, 0.5f);
    double s = 0, s2 = 0, s3 = 0, s4 = 0;
    size_t within1 = 0;
    for (float v : x) {
        double z = (v - 1.5) / 0.5;
        s += v;
        s2 += (double)v * v;
        s3 += z * z * z;
        s4 += z * z * z * z;
        within1 += std::fabs(z) < 1.0;
    }
    double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    EXPECT_NEAR(mean, 1.5, 5 * 0.5 / 1024.0);
    EXPECT_NEAR(sd, 0.5, 5 * 0.5 / std::sqrt(2.0 * n));
    EXPECT_NEAR(s3 / n, 0.0, 5 * std::sqrt(6.0 / n));   // skewness
    EXPECT_NEAR(s4 / n, 3.0, 5 * std::sqrt(24.0 / n));  // kurtosis
    EXPECT_NEAR((double)within1 / n, 0.682689, 5 * std::sqrt(0.68 * 0.32 / n));
    for (float v : x) ASSERT_TRUE(std::isfinite(v));

    Rng r(3);
    double rs = 0, rs2 = 0;
    const int m = 200000;
    for (int i = 0; i < m; i++) {
        double v = r.normal();
        rs += v;
        rs2 += v * v;
    }
    EXPECT_NEAR(rs / m, 0.0, 5 / std::sqrt((double)m));
    EXPECT_NEAR(rs2 / m, 1.0, 5 * std::sqrt(2.0 / m));
}

TEST(Rng, BelowAndPermutation) {
    Rng r(4);
    std::vector<int> counts(7, 0);
    const int m = 70000;
    for (int i = 0; i < m; i++) {
        uint64_t v = r.below(7);
        ASSERT_LT(v, 7u);
        counts[v]++;
    }
    for (int c : counts) EXPECT_NEAR(c, m / 7.0, 5 * std::sqrt(m / 7.0));
    EXPECT_EQ(r.below(1), 0u);
    EXPECT_EQ(r.below(0), 0u);
    // a huge bound (rejection path) stays in range
    for (int i = 0; i < 1000; i++) EXPECT_LT(r.below((1ull << 63) + 12345), (1ull << 63) + 12345);

    std::vector<uint32_t> p(1000);
    Rng a(9), b(9);
    rng_permutation(p.data(), p.size(), a);
    std::vector<uint32_t> q(1000);
    rng_permutation(q.data(), q.size(), b);
    EXPECT_EQ(p, q);
    std::vector<uint32_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t i = 0; i < 1000; i++) ASSERT_EQ(sorted[i], i);
    int fixed = 0;
    for (uint32_t i = 0; i < 1000; i++) fixed += p[i] == i;
    EXPECT_LT(fixed, 10);  // expected 1 fixed point; a non-shuffle would have 1000
}
