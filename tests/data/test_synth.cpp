// test_synth.cpp: the planted-dictionary recipe and `unfold data synth`'s writer: unit ground truth, per-row
// L0 ~ p_active * n_true and magnitudes ~ U[0,1], x = C G exactly, rows independent of how they are batched,
// noise level, determinism in seed, shard folder contents and bit-identical resume; the CLI end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <vector>

#include "unfold/data/synth.h"
#include "unfold/io/fileio.h"
#include "unfold/io/shards.h"

using namespace unfold;
namespace fs = std::filesystem;

namespace {
std::string tmp_path(const std::string& name) {
    std::string p = (fs::temp_directory_path() / ("unfold_test_synth_" + std::to_string(getpid()) + "_" + name)).string();
    fs::remove_all(p);
    return p;
}
}  // namespace

TEST(Synth, RecipeStatistics) {
    PlantedConfig c;
    c.d = 16;
    c.n_true = 200;
    c.p_active = 0.02;
    c.seed = 7;
    Planted p = planted_make(c);
    for (int64_t i = 0; i < c.n_true; i++) {
        double s = 0;
        for (int64_t j = 0; j < c.d; j++) s += (double)p.G[(size_t)(i * c.d + j)] * p.G[(size_t)(i * c.d + j)];
        ASSERT_NEAR(std::sqrt(s), 1.0, 1e-5);
    }
    const int64_t n = 20000;
    std::vector<float> x((size_t)(n * c.d)), C((size_t)(n * c.n_true));
    planted_rows(p, 0, n, x.data(), C.data());
    double nnz = 0, sum = 0, sumsq = 0;
    std::vector<double> per_feature((size_t)c.n_true, 0.0);
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < c.n_true; i++) {
            const float v = C[(size_t)(r * c.n_true + i)];
            if (v != 0.0f) {
                nnz++, sum += v, sumsq += (double)v * v;
                per_feature[(size_t)i]++;
                ASSERT_GT(v, 0.0f);
                ASSERT_LT(v, 1.0f);
            }
        }
    const double l0 = nnz / n, expect = c.p_active * (double)c.n_true;  // 4
    // binomial: sd of the mean L0 over n rows = sqrt(n_true p (1-p) / n) ~ 0.014
    EXPECT_NEAR(l0, expect, 0.06);
    EXPECT_NEAR(sum / nnz, 0.5, 0.01);          // U[0,1] mean
    EXPECT_NEAR(sumsq / nnz, 1.0 / 3.0, 0.01);  // U[0,1] second moment
    // every feature is used at about rate p (no positional bias from the geometric skipping)
    for (double f : per_feature) EXPECT_NEAR(f / n, c.p_active, 0.006);
    // x = C G exactly (up to float summation)
    for (int64_t r = 0; r < 200; r++)
        for (int64_t j = 0; j < c.d; j++) {
            double s = 0;
            for (int64_t i = 0; i < c.n_true; i++)
                s += (double)C[(size_t)(r * c.n_true + i)] * p.G[(size_t)(i * c.d + j)];
            ASSERT_NEAR(x[(size_t)(r * c.d + j)], s, 1e-5);
        }
}

TEST(Synth, RowsIndependentOfBatchingAndNoiseLevel) {
    PlantedConfig c;
    c.d = 8;
    c.n_true = 32;
    c.p_active = 0.1;
    c.noise = 0.05f;
    c.seed = 3;
    Planted p = planted_make(c);
    std::vector<float> all(300 * 8), part(50 * 8);
    planted_rows(p, 0, 300, all.data());
    planted_rows(p, 120, 50, part.data());
    for (int i = 0; i < 50 * 8; i++) ASSERT_EQ(part[(size_t)i], all[(size_t)(120 * 8 + i)]);
    // noise: x - C G has std ~ noise
    const int64_t n = 5000;
    std::vector<float> x((size_t)(n * 8)), C((size_t)(n * 32));
    planted_rows(p, 0, n, x.data(), C.data());
    double ss = 0;
    for (int64_t r = 0; r < n; r++)
        for (int j = 0; j < 8; j++) {
            double clean = 0;
            for (int i = 0; i < 32; i++) clean += (double)C[(size_t)(r * 32 + i)] * p.G[(size_t)(i * 8 + j)];
            const double e = x[(size_t)(r * 8 + j)] - clean;
            ss += e * e;
        }
    EXPECT_NEAR(std::sqrt(ss / (double)(n * 8)), 0.05, 0.002);
    // another seed, another dictionary
    c.seed = 4;
    EXPECT_NE(planted_make(c).G.data, p.G.data);
}

TEST(Synth, ParseSpec) {
    PlantedConfig c = parse_planted_spec("planted:d=32,features=64,p=0.05,noise=0.1,seed=9");
    EXPECT_EQ(c.d, 32);
    EXPECT_EQ(c.n_true, 64);
    EXPECT_DOUBLE_EQ(c.p_active, 0.05);
    EXPECT_FLOAT_EQ(c.noise, 0.1f);
    EXPECT_EQ(c.seed, 9u);
    EXPECT_THROW(parse_planted_spec("planted:d=32,p=2"), Error);
    EXPECT_THROW(parse_planted_spec("planted:d"), Error);
}

TEST(Synth, WriteFolderDeterministicAndResumeBitIdentical) {
    PlantedConfig c;
    c.d = 12;
    c.n_true = 40;
    c.p_active = 0.05;
    c.seed = 11;
    SynthOptions o;
    o.tokens = 2500;
    o.rows_per_shard = 1000;
    o.ctx.quiet = true;
    const std::string a = tmp_path("a"), b = tmp_path("b");
    EXPECT_EQ(synth_write(c, o, a), 2500);
    // b: first 1200 rows, then resumed to 2500
    SynthOptions o1 = o;
    o1.tokens = 1200;
    synth_write(c, o1, b);
    SynthOptions o2 = o;
    o2.resume = true;
    EXPECT_EQ(synth_write(c, o2, b), 2500);
    ShardReader ra(a), rb(b);
    ASSERT_EQ(ra.rows(), 2500);
    ASSERT_EQ(rb.rows(), 2500);
    ASSERT_EQ(ra.num_shards(), 3);
    ASSERT_EQ(rb.num_shards(), 3);
    for (int64_t s = 0; s < 3; s++)
        EXPECT_EQ(read_file(path_join(a, ra.index().shards[(size_t)s].file)),
                  read_file(path_join(b, rb.index().shards[(size_t)s].file)))
            << "shard " << s;
    Tensor g = ra.read_ground_truth();  // validates unit rows
    EXPECT_EQ(g.shape, (Shape{40, 12}));
    EXPECT_EQ(g.data, planted_make(c).G.data);
    EXPECT_EQ(ra.index().meta.get_int("true_features", 0), 40);
    // resuming with another recipe is refused
    PlantedConfig c2 = c;
    c2.p_active = 0.06;
    EXPECT_THROW(synth_write(c2, o2, b), Error);
    fs::remove_all(a);
    fs::remove_all(b);
}

TEST(Synth, CliEndToEnd) {
    const std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(fs::exists(bin)) << "the unfold binary is missing: " << bin;
    const std::string out = tmp_path("cli"), dict = tmp_path("dict");
    std::string cmd = bin + " data synth --d 16 --true-features 32 --p-active 0.08 --tokens 6000 --rows-per-shard 2048 "
                            "--seed 2 --quiet --out " + out + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    ShardReader r(out);
    EXPECT_EQ(r.rows(), 6000);
    EXPECT_EQ(r.num_shards(), 3);
    EXPECT_TRUE(r.index().complete);
    cmd = bin + " dict train " + out + " --atoms 64 --epochs 3 --solver omp --k 6 --threads 1 --quiet --out " + dict +
          " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_TRUE(fs::exists(dict + "/sae_weights.safetensors"));
    EXPECT_TRUE(fs::exists(dict + "/cfg.json"));
    cmd = bin + " dict encode " + dict + " " + out + " --rows 100 --quiet --out " + dict + "/codes.npy > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_TRUE(fs::exists(dict + "/codes.npy"));
    // a bad flag is a clean error (exit 1), not a crash
    cmd = bin + " data synth --d -3 --out " + out + "_bad 2> /dev/null";
    EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 1);
    fs::remove_all(out);
    fs::remove_all(dict);
}

// clusters=C: feature i in cluster i mod C, G_i = normalise(centre + spread z / sqrt(d)): within-cluster cosine
// about 1 / (1 + spread^2), across clusters about 0; clusters=0 leaves the recipe bit for bit as it was.
TEST(Synth, ClusteredFeatures) {
    PlantedConfig c;
    c.d = 128;
    c.n_true = 400;
    c.seed = 3;
    const Planted plain = planted_make(c);
    PlantedConfig c0 = c;
    c0.clusters = 0;
    c0.cluster_spread = 2.0f;  // ignored without clusters
    EXPECT_EQ(std::memcmp(planted_make(c0).G.ptr(), plain.G.ptr(), sizeof(float) * 400 * 128), 0);
    EXPECT_FALSE(c.to_json().has("clusters"));
    c.clusters = 8;
    c.cluster_spread = 0.5f;
    const Planted p = planted_make(c);
    EXPECT_EQ(planted_cluster(c, 13), 5);
    EXPECT_EQ(planted_cluster(c0, 13), -1);
    EXPECT_EQ(c.to_json().get_int("clusters", 0), 8);
    double within = 0, across = 0;
    int64_t nw = 0, na = 0;
    for (int64_t i = 0; i < 400; i++)
        for (int64_t j = i + 1; j < 400; j++) {
            double s = 0;
            for (int64_t t = 0; t < 128; t++) s += (double)p.G[(size_t)(i * 128 + t)] * p.G[(size_t)(j * 128 + t)];
            if (i % 8 == j % 8) within += s, nw++;
            else across += s, na++;
        }
    EXPECT_NEAR(within / nw, 1.0 / (1.0 + 0.25), 0.03);  // 0.8
    EXPECT_NEAR(across / na, 0.0, 0.05);
    for (int64_t i = 0; i < 400; i++) {
        double s = 0;
        for (int64_t t = 0; t < 128; t++) s += (double)p.G[(size_t)(i * 128 + t)] * p.G[(size_t)(i * 128 + t)];
        ASSERT_NEAR(s, 1.0, 1e-5);
    }
    // the spec and its errors
    const PlantedConfig q = parse_planted_spec("planted:d=16,features=32,clusters=4,spread=0.7");
    EXPECT_EQ(q.clusters, 4);
    EXPECT_FLOAT_EQ(q.cluster_spread, 0.7f);
    try {
        parse_planted_spec("planted:d=16,features=32,clusters=33");
        ADD_FAILURE() << "no error";
    } catch (const unfold::Error& e) {
        EXPECT_NE(std::string(e.what()).find("clusters must be in 0..32"), std::string::npos) << e.what();
    }
}
