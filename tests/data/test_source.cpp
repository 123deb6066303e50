// test_source.cpp: activation sources. The shuffle buffer yields every row exactly once per epoch (single .npy
// and multi-shard folders), is deterministic in the seed, resumes exactly from state(); NaN rows are reported
// with shard and row; safetensors (f16) input; planted and toy-model sources are deterministic and resumable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <unistd.h>
#include <vector>

#include "../test_util.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/data/source.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"
#include "unfold/io/shards.h"
#include "unfold/toy/toy.h"

using namespace unfold;
using unfold_test::error_of;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
    std::string p = (fs::temp_directory_path() / ("unfold_test_source_" + std::to_string(getpid()) + "_" + name)).string();
    fs::remove_all(p);
    return p;
}

// rows whose column 0 holds the row id (exact in float up to 2^24)
std::vector<float> id_rows(int64_t n, int64_t d) {
    std::vector<float> x((size_t)(n * d));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) x[(size_t)(i * d + j)] = j == 0 ? (float)i : (float)(i % 13) * 0.5f + (float)j;
    return x;
}

std::vector<int64_t> draw_ids(ActivationSource& s, int64_t n) {
    const int64_t d = s.dim();
    std::vector<float> out((size_t)(n * d));
    // uneven batch sizes, to show batching does not matter
    int64_t done = 0, b = 1;
    while (done < n) {
        int64_t m = std::min(b, n - done);
        s.next_batch(out.data() + done * d, m);
        done += m;
        b = b * 3 % 97 + 1;
    }
    std::vector<int64_t> ids((size_t)n);
    for (int64_t i = 0; i < n; i++) ids[(size_t)i] = (int64_t)out[(size_t)(i * d)];
    return ids;
}

void expect_permutation(const std::vector<int64_t>& ids, int64_t begin, int64_t n) {
    std::vector<int64_t> v(ids.begin() + begin, ids.begin() + begin + n);
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < n; i++) ASSERT_EQ(v[(size_t)i], i) << "epoch slice at " << begin;
}

std::string write_shards(const std::string& dir, int64_t n, int64_t d, int64_t per_shard) {
    ShardWriterOptions o;
    o.d = d;
    o.rows_per_shard = per_shard;
    ShardWriter w(dir, o);
    auto x = id_rows(n, d);
    w.append(x.data(), n);
    w.finish();
    return dir;
}

}  // namespace

TEST(Source, NpyShuffleEveryRowOncePerEpoch) {
    const std::string p = tmp_path("a.npy");
    const int64_t n = 1000, d = 3;
    auto x = id_rows(n, d);
    npy_save(p, {n, d}, x.data());
    SourceOptions so;
    so.seed = 4;
    so.shuffle_buffer_rows = 100;
    auto s = open_source(p, so);
    EXPECT_EQ(s->num_rows(), n);
    EXPECT_EQ(s->dim(), d);
    auto ids = draw_ids(*s, 3 * n);
    expect_permutation(ids, 0, n);
    expect_permutation(ids, n, n);
    expect_permutation(ids, 2 * n, n);
    // shuffled (not the identity), and epochs differ
    int64_t fixed = 0, same = 0;
    for (int64_t i = 0; i < n; i++) fixed += ids[(size_t)i] == i, same += ids[(size_t)i] == ids[(size_t)(n + i)];
    EXPECT_LT(fixed, n / 10);
    EXPECT_LT(same, n / 10);
    fs::remove(p);
}

TEST(Source, ShardFolderOncePerEpochDeterministicInSeed) {
    const std::string dir = write_shards(tmp_path("shards"), 700, 4, 64);  // 11 shards, the last partial
    SourceOptions so;
    so.seed = 9;
    so.shuffle_buffer_rows = 50;
    auto a = open_source(dir, so);
    auto b = open_source(dir, so);
    so.seed = 10;
    auto c = open_source(dir, so);
    auto ia = draw_ids(*a, 1400), ib = draw_ids(*b, 1400), ic = draw_ids(*c, 1400);
    expect_permutation(ia, 0, 700);
    expect_permutation(ia, 700, 700);
    expect_permutation(ic, 0, 700);
    EXPECT_EQ(ia, ib);
    EXPECT_NE(ia, ic);
    EXPECT_EQ(a->ground_truth(), nullptr);
    fs::remove_all(dir);
}

TEST(Source, ExactResumeMidEpochAndAtBoundaries) {
    const std::string dir = write_shards(tmp_path("resume"), 500, 3, 64);
    SourceOptions so;
    so.seed = 2;
    so.shuffle_buffer_rows = 77;
    for (int64_t cut : {0, 1, 123, 499, 500, 501, 777, 1000}) {
        auto s = open_source(dir, so);
        draw_ids(*s, cut);
        Json st = json_parse(s->state().dump(), "state");  // through text, as a checkpoint would
        auto expect = draw_ids(*s, 400);
        auto r = open_source(dir, so);
        r->restore(st);
        EXPECT_EQ(draw_ids(*r, 400), expect) << "cut " << cut;
    }
    // a state from another seed is refused
    auto s = open_source(dir, so);
    Json st = s->state();
    so.seed = 3;
    auto other = open_source(dir, so);
    EXPECT_NE(error_of([&] { other->restore(st); }).find("seed"), std::string::npos);
    fs::remove_all(dir);
}

TEST(Source, SequentialKeepsStoredOrder) {
    const std::string dir = write_shards(tmp_path("seq"), 300, 2, 64);
    SourceOptions so;
    so.sequential = true;
    auto s = open_source(dir, so);
    auto ids = draw_ids(*s, 600);
    for (int64_t i = 0; i < 600; i++) ASSERT_EQ(ids[(size_t)i], i % 300);
    fs::remove_all(dir);
}

TEST(Source, NaNRowNamesShardAndRow) {
    const std::string dir = write_shards(tmp_path("nan"), 200, 3, 64);
    // overwrite shard 2 with a NaN at row 10 (same shape and size, so the index stays valid)
    auto x = id_rows(64, 3);
    x[10 * 3 + 1] = std::nanf("");
    const std::string p = path_join(dir, "shard_00002.npy");
    fs::remove(p);
    {
        // npy_save refuses NaN: write the file byte-for-byte from a valid one, then patch the float
        auto good = id_rows(64, 3);
        npy_save(p, {64, 3}, good.data());
        MappedFile m(p);
        NpyHeader h = npy_parse_header(m.data(), m.size(), p);
        FILE* f = std::fopen(p.c_str(), "r+b");
        std::fseek(f, (long)(h.data_offset + (10 * 3 + 1) * 4), SEEK_SET);
        std::fwrite(&x[10 * 3 + 1], 4, 1, f);
        std::fclose(f);
    }
    SourceOptions so;
    so.shuffle_buffer_rows = 1000;  // fills the whole set at open
    std::string e = error_of([&] {
        auto s = open_source(dir, so);
        draw_ids(*s, 200);
    });
    EXPECT_NE(e.find("shard_00002.npy"), std::string::npos) << e;
    EXPECT_NE(e.find("row 10"), std::string::npos) << e;
    fs::remove_all(dir);
}

TEST(Source, SafetensorsF16Tensor) {
    const std::string p = tmp_path("acts.safetensors");
    const int64_t n = 40, d = 5;
    auto x = id_rows(n, d);
    std::vector<float> other(6, 1.0f);
    safetensors_write(p, {{"other", {2, 3}, other.data(), DType::F32}, {"acts", {n, d}, x.data(), DType::F16}});
    SourceOptions so;
    so.sequential = true;
    auto s = open_source(p + ":acts", so);
    EXPECT_EQ(s->dim(), d);
    EXPECT_EQ(s->num_rows(), n);
    std::vector<float> out((size_t)(n * d));
    s->next_batch(out.data(), n);
    for (size_t i = 0; i < out.size(); i++) EXPECT_NEAR(out[i], x[i], 1e-3f * std::fabs(x[i]) + 1e-3f);
    so.tensor_name = "acts";
    EXPECT_EQ(open_source(p, so)->num_rows(), n);
    so.tensor_name = "missing";
    EXPECT_NE(error_of([&] { open_source(p, so); }).find("missing"), std::string::npos);
    auto o2 = open_source(p + ":other", so);  // the name after ':' wins over --tensor
    EXPECT_EQ(o2->dim(), 3);
    EXPECT_EQ(o2->num_rows(), 2);
    fs::remove(p);
}

TEST(Source, BadInputsAreOneLineErrors) {
    SourceOptions so;
    EXPECT_NE(error_of([&] { open_source("/nonexistent/acts.npy", so); }).find("no such file"), std::string::npos);
    const std::string p = tmp_path("x.txt");
    write_file_atomic(p, std::string("hello"));
    EXPECT_NE(error_of([&] { open_source(p, so); }).find("unknown activation source"), std::string::npos);
    EXPECT_NE(error_of([&] { open_source("planted:d=4,bogus=1", so); }).find("bogus"), std::string::npos);
    fs::remove(p);
}

TEST(Source, PlantedDeterministicAndResumable) {
    SourceOptions so;
    so.seed = 3;
    auto a = open_source("planted:d=8,features=16,p=0.2", so);
    auto b = open_source("planted:d=8,features=16,p=0.2", so);
    ASSERT_NE(a->ground_truth(), nullptr);
    EXPECT_EQ(a->ground_truth()->shape, (Shape{16, 8}));
    EXPECT_EQ(a->num_rows(), -1);
    std::vector<float> x1(8 * 50), x2(8 * 50);
    a->next_batch(x1.data(), 20);
    Json st = a->state();
    a->next_batch(x1.data() + 20 * 8, 30);
    b->restore(st);
    b->next_batch(x2.data() + 20 * 8, 30);
    for (int i = 20 * 8; i < 50 * 8; i++) ASSERT_EQ(x1[(size_t)i], x2[(size_t)i]);
}

TEST(Source, ToyHiddenActivations) {
    ToyConfig c;
    c.kind = ToyKind::RELU;
    c.n_features = 6;
    c.n_hidden = 3;
    c.n_instances = 2;
    c.density.assign(12, 0.3f);
    c.importance.assign(12, 1.0f);
    c.seed = 1;
    ToyModel m = toy_init(c);
    // make instance 1's W known: feature i -> direction (i mod 3) scaled by 2 for i < 3, tiny for i >= 3
    float* W = m.params.get("W") + 1 * 3 * 6;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 6; i++) W[j * 6 + i] = (i < 3 && j == i) ? 2.0f : (i >= 3 && j == i - 3 ? 0.1f : 0.0f);
    const std::string dir = tmp_path("toyrun");
    toy_save_run(m, dir);
    SourceOptions so;
    so.from_toy = dir;
    so.toy_instance = 1;
    so.seed = 5;
    auto s = open_source("", so);
    EXPECT_EQ(s->dim(), 3);
    ASSERT_NE(s->ground_truth(), nullptr);
    const Tensor& gt = *s->ground_truth();
    ASSERT_EQ(gt.shape, (Shape{3, 3}));  // only the 3 features with ||W_i|| > 0.5
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 3; j++) EXPECT_FLOAT_EQ(gt[(size_t)(r * 3 + j)], r == j ? 1.0f : 0.0f);
    // h = W x with x in [0,1]: h_j = 2 x_j + 0.1 x_{j+3}, so 0 <= h_j <= 2.1, and rows vary
    std::vector<float> h(3 * 3000);
    s->next_batch(h.data(), 1500);
    Json st = s->state();
    s->next_batch(h.data() + 1500 * 3, 1500);
    double mean = 0;
    for (float v : h) {
        ASSERT_GE(v, 0.0f);
        ASSERT_LE(v, 2.1f + 1e-5f);
        mean += v;
    }
    mean /= (double)h.size();
    // E[h_j] = p * (2 + 0.1) * 0.5 with p = 0.3
    EXPECT_NEAR(mean, 0.3 * 2.1 * 0.5, 0.03);
    auto r = open_source("", so);
    r->restore(st);
    std::vector<float> h2(3 * 1500);
    r->next_batch(h2.data(), 1500);
    for (size_t i = 0; i < h2.size(); i++) ASSERT_EQ(h2[i], h[1500 * 3 + i]);
    so.toy_instance = 2;
    EXPECT_NE(error_of([&] { open_source("", so); }).find("instance"), std::string::npos);
    fs::remove_all(dir);
}
