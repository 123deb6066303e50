// test_umap.cpp: the UMAP pieces: kNN (exact vs brute force, HNSW recall), the fuzzy simplicial set (row
// sums log2 k, symmetric union), the curve fit (umap-learn's a, b), and the layout: clusters of planted
// directions stay together (neighbour preservation far above chance), same seed same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "../test_util.h"
#include "unfold/core/rng.h"
#include "unfold/data/synth.h"
#include "unfold/map/umap.h"

using namespace unfold;

namespace {

Planted clustered(int64_t d, int64_t n, int64_t clusters, float spread, uint64_t seed) {
    PlantedConfig c;
    c.d = d;
    c.n_true = n;
    c.clusters = clusters;
    c.cluster_spread = spread;
    c.seed = seed;
    return planted_make(c);
}

std::vector<int64_t> cluster_labels(const Planted& p) {
    std::vector<int64_t> l((size_t)p.cfg.n_true);
    for (int64_t i = 0; i < p.cfg.n_true; i++) l[(size_t)i] = planted_cluster(p.cfg, i);
    return l;
}

double chance(const std::vector<int64_t>& labels) {
    std::map<int64_t, double> n;
    for (int64_t l : labels) n[l] += 1;
    double s = 0;
    for (auto& kv : n) s += (kv.second / labels.size()) * (kv.second / labels.size());
    return s;
}

}  // namespace

TEST(Umap, LayoutKeepsPlantedClustersTogether) {
    const Planted p = clustered(64, 2048, 16, 1.0f, 3);
    UmapOptions o;
    o.seed = 1;
    UmapTimings tm;
    const std::vector<float> Y = umap_layout(p.G.ptr(), p.cfg.n_true, p.cfg.d, o, Context::silent(), &tm);
    const std::vector<int64_t> lab = cluster_labels(p);
    const double np = neighbour_preservation(Y, lab, 10), rnd = chance(lab);
    std::printf("neighbour preservation %.4f (chance %.4f); knn %.2f s graph %.2f s init %.2f s sgd %.2f s\n", np, rnd,
                tm.knn_s, tm.graph_s, tm.init_s, tm.sgd_s);
    EXPECT_GT(np, 0.9);
    EXPECT_LT(rnd, 0.07);
}


TEST(Umap, CurveFitMatchesUmapLearnsConstants) {
    double a, b;
    umap_curve(0.1, 1.0, &a, &b);  // umap-learn's find_ab_params(1.0, 0.1): a 1.5769, b 0.8951
    EXPECT_NEAR(a, 1.577, 0.01);
    EXPECT_NEAR(b, 0.895, 0.005);
    umap_curve(0.5, 1.0, &a, &b);  // a flatter, later drop: a smaller, b larger
    EXPECT_LT(a, 1.0);
    EXPECT_GT(b, 1.0);
    EXPECT_NE(unfold_test::error_of([&] { umap_curve(2.0, 1.0, &a, &b); }).find("min_dist"), std::string::npos);
}

TEST(Umap, ExactKnnIsTheBruteForceAnswer) {
    const int64_t n = 300, d = 12;
    std::vector<float> X((size_t)(n * d));
    rng_fill_normal(X.data(), X.size(), 5, 0, 0, 0.0f, 1.0f);
    for (int64_t t = 0; t < d; t++) X[(size_t)(7 * d + t)] *= 3.0f;  // norms do not matter
    KnnOptions o;
    o.method = KnnMethod::EXACT;
    const int k = 8;
    const KnnGraph g = knn_cosine(X.data(), n, d, k, o);
    ASSERT_TRUE(g.exact);
    for (int64_t i = 0; i < n; i++) {
        std::vector<std::pair<double, int64_t>> all;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0, a = 0, b = 0;
            for (int64_t t = 0; t < d; t++) {
                s += (double)X[(size_t)(i * d + t)] * X[(size_t)(j * d + t)];
                a += (double)X[(size_t)(i * d + t)] * X[(size_t)(i * d + t)];
                b += (double)X[(size_t)(j * d + t)] * X[(size_t)(j * d + t)];
            }
            all.push_back({1.0 - s / std::sqrt(a * b), j});
        }
        std::sort(all.begin(), all.end());
        for (int q = 0; q < k; q++) {
            EXPECT_EQ(g.idx[(size_t)(i * k + q)], all[(size_t)q].second) << "point " << i << " rank " << q;
            EXPECT_NEAR(g.dist[(size_t)(i * k + q)], all[(size_t)q].first, 1e-6);
        }
    }
    // errors name what is wrong
    EXPECT_NE(unfold_test::error_of([&] { knn_cosine(X.data(), n, d, (int)n, o); }).find("k must be in 1..299"),
              std::string::npos);
    X[(size_t)(4 * d + 2)] = std::nanf("");
    EXPECT_NE(unfold_test::error_of([&] { knn_cosine(X.data(), n, d, k, o); }).find("row 4, column 2 is not finite"),
              std::string::npos);
}

TEST(Umap, HnswRecallAgainstExact) {
    const Planted p = clustered(32, 3000, 30, 1.0f, 8);
    KnnOptions ex, hn;
    ex.method = KnnMethod::EXACT;
    hn.method = KnnMethod::HNSW;
    const int k = 15;
    const KnnGraph a = knn_cosine(p.G.ptr(), 3000, 32, k, ex), b = knn_cosine(p.G.ptr(), 3000, 32, k, hn);
    ASSERT_FALSE(b.exact);
    int64_t hit = 0;
    for (int64_t i = 0; i < 3000; i++) {
        std::set<int32_t> s(a.idx.begin() + i * k, a.idx.begin() + (i + 1) * k);
        for (int q = 0; q < k; q++) hit += s.count(b.idx[(size_t)(i * k + q)]);
        for (int q = 0; q + 1 < k; q++) ASSERT_LE(b.dist[(size_t)(i * k + q)], b.dist[(size_t)(i * k + q + 1)]);
    }
    const double recall = (double)hit / (3000.0 * k);
    std::printf("HNSW recall@15: %.4f\n", recall);
    EXPECT_GT(recall, 0.95);
    // the HNSW answer is the same on 1 and 2 threads (one-thread build, parallel queries)
    Context one = Context::silent(), two = Context::silent();
    one.threads = 1;
    two.threads = 2;
    EXPECT_EQ(knn_cosine(p.G.ptr(), 3000, 32, k, hn, one).idx, knn_cosine(p.G.ptr(), 3000, 32, k, hn, two).idx);
}

TEST(Umap, FuzzySimplicialSetMemberships) {
    const Planted p = clustered(16, 500, 5, 1.0f, 2);
    KnnOptions o;
    const int k = 10;
    const KnnGraph g = knn_cosine(p.G.ptr(), 500, 16, k, o);
    const FuzzyGraph fg = fuzzy_simplicial_set(g);
    // each point's memberships sum to log2 k, its nearest neighbour has membership 1
    for (int64_t i = 0; i < 500; i++) {
        double s = 0;
        for (int q = 0; q < k; q++) {
            const double r = g.dist[(size_t)(i * k + q)] - fg.rho[(size_t)i];
            s += r > 0 ? std::exp(-r / fg.sigma[(size_t)i]) : 1.0;
        }
        EXPECT_NEAR(s, std::log2((double)k), 1e-3) << "point " << i;
        EXPECT_FLOAT_EQ(fg.rho[(size_t)i], g.dist[(size_t)(i * k)]);
    }
    // symmetric, weights in (0, 1], union at least as strong as either direction
    std::map<std::pair<int32_t, int32_t>, float> w;
    for (size_t e = 0; e < fg.weight.size(); e++) {
        ASSERT_GT(fg.weight[e], 0.0f);
        ASSERT_LE(fg.weight[e], 1.0f);
        ASSERT_NE(fg.head[e], fg.tail[e]);
        w[{fg.head[e], fg.tail[e]}] = fg.weight[e];
        if (e > 0) ASSERT_TRUE(fg.head[e - 1] < fg.head[e] || (fg.head[e - 1] == fg.head[e] && fg.tail[e - 1] < fg.tail[e]));
    }
    for (auto& kv : w) {
        auto it = w.find({kv.first.second, kv.first.first});
        ASSERT_NE(it, w.end());
        EXPECT_EQ(it->second, kv.second);
    }
    for (int64_t i = 0; i < 500; i++) {
        const float wn = w[std::make_pair((int32_t)i, g.idx[(size_t)(i * k)])];
        EXPECT_FLOAT_EQ(wn, 1.0f);
    }
}

TEST(Umap, NeighbourPreservationOfARandomLayoutIsChance) {
    const int64_t n = 2000;
    std::vector<float> Y((size_t)(2 * n));
    rng_fill_uniform(Y.data(), Y.size(), 3, 0, 0, 0.0f, 1.0f);
    std::vector<int64_t> lab((size_t)n);
    for (int64_t i = 0; i < n; i++) lab[(size_t)i] = i % 8;
    EXPECT_NEAR(neighbour_preservation(Y, lab, 10), 1.0 / 8, 0.02);
    // and a layout that puts each label on its own spot scores 1
    for (int64_t i = 0; i < n; i++) Y[(size_t)(2 * i)] += 10.0f * (float)(i % 8);
    EXPECT_DOUBLE_EQ(neighbour_preservation(Y, lab, 10), 1.0);
}

TEST(Umap, RandomInitAlsoSeparatesClustersAndSeedsRepeat) {
    const Planted p = clustered(32, 600, 6, 1.0f, 9);
    UmapOptions o;
    o.init = "random";
    o.seed = 4;
    o.knn.method = KnnMethod::HNSW;
    const std::vector<float> Y = umap_layout(p.G.ptr(), 600, 32, o), Y2 = umap_layout(p.G.ptr(), 600, 32, o);
    EXPECT_EQ(Y, Y2);
    const double np = neighbour_preservation(Y, cluster_labels(p), 10);
    std::printf("random init: neighbour preservation %.4f (chance %.4f)\n", np, chance(cluster_labels(p)));
    EXPECT_GT(np, 0.9);
    o.seed = 5;
    EXPECT_NE(umap_layout(p.G.ptr(), 600, 32, o), Y);
    o.init = "pca";
    EXPECT_NE(unfold_test::error_of([&] { umap_layout(p.G.ptr(), 600, 32, o); }).find("unknown init 'pca'"),
              std::string::npos);
}
