// test_seeds.cpp: 64-bit seeds survive every JSON file that stores one, exactly: the toy config, the SAE
// training config, the dictionary checkpoint (its seed, re-seed counter and shuffle-buffer state), the
// planted-data recipe in index.json and the phase-diagram summary. The seeds are 18446744073709551557
// (the largest 64-bit prime) and 2^53 + 1, and each is told apart from its neighbour, which a double
// cannot do. Files written before seeds were JSON integers (decimal strings) still read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "../test_util.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/data/source.h"
#include "unfold/data/synth.h"
#include "unfold/dict/dict.h"
#include "unfold/io/json.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"
#include "unfold/io/shards.h"
#include "unfold/sae/sae_train.h"
#include "unfold/toy/phase.h"
#include "unfold/toy/toy.h"

using namespace unfold;
using unfold_test::error_of;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kBig = 18446744073709551557ull;  // 2^64 - 59
constexpr uint64_t kP53 = (1ull << 53) + 1;         // (double)kP53 == (double)(kP53 - 1)

std::string tmp(const std::string& name) {
    std::string d =
        (fs::temp_directory_path() / ("unfold_test_seeds_" + name + "_" + std::to_string(getpid()))).string();
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// Dumped and parsed again, as a file would be.
Json through_text(const Json& j) { return json_parse(j.dump(2), "through text"); }

ToyConfig small_toy() {
    ToyConfig c;
    c.kind = ToyKind::RELU;
    c.n_features = 5;
    c.n_hidden = 2;
    c.n_instances = 1;
    c.density.assign(5, 0.1f);
    c.importance.assign(5, 1.0f);
    c.batch = 16;
    c.steps = 10;
    return c;
}

}  // namespace

TEST(Seeds, ToyConfigKeepsSixtyFourBitSeeds) {
    for (uint64_t seed : {kBig, kP53, kP53 - 1, (uint64_t)0}) {
        ToyConfig c = small_toy();
        c.seed = seed;
        Json j = c.to_json();
        ASSERT_TRUE(j.at("seed", "toy").is_integer());  // a number now, not a string
        EXPECT_NE(j.dump(-1).find("\"seed\":" + std::to_string(seed)), std::string::npos) << j.dump(-1);
        EXPECT_EQ(ToyConfig::from_json(through_text(j), "config.json").seed, seed);
    }
    // the string form older run folders hold
    Json old = small_toy().to_json();
    old["seed"] = "18446744073709551557";
    EXPECT_EQ(ToyConfig::from_json(through_text(old), "config.json").seed, kBig);
    old["seed"] = "9007199254740993";
    EXPECT_EQ(ToyConfig::from_json(old, "config.json").seed, kP53);
    old["seed"] = 7;
    EXPECT_EQ(ToyConfig::from_json(old, "config.json").seed, 7u);
    old["seed"] = "7x";
    EXPECT_EQ(error_of([&] { ToyConfig::from_json(old, "config.json"); }),
              "config.json: seed: expected a non-negative integer, found the string \"7x\"");
    old["seed"] = -1;
    EXPECT_NE(error_of([&] { ToyConfig::from_json(old, "config.json"); }).find("config.json: seed"), std::string::npos);
}

TEST(Seeds, SaeTrainConfigKeepsSixtyFourBitSeeds) {
    for (uint64_t seed : {kBig, kP53, kP53 - 1}) {
        SaeTrainConfig c;
        c.sae.d_in = 8;
        c.sae.d_sae = 16;
        c.seed = seed;
        Json j = c.to_json();
        ASSERT_TRUE(j.at("seed", "sae").is_integer());
        SaeTrainConfig r = SaeTrainConfig::from_json(through_text(j), "train_config.json");
        EXPECT_EQ(r.seed, seed);
        EXPECT_EQ(r.to_json().dump(), j.dump());
    }
    SaeTrainConfig c;
    c.sae.d_in = 8;
    c.sae.d_sae = 16;
    Json old = c.to_json();
    old["seed"] = "18446744073709551557";
    EXPECT_EQ(SaeTrainConfig::from_json(old, "train_config.json").seed, kBig);
    old["seed"] = 12.5;
    EXPECT_NE(error_of([&] { SaeTrainConfig::from_json(old, "train_config.json"); }).find("train_config.json: seed"),
              std::string::npos);
}

TEST(Seeds, PlantedRecipeAndSynthResumeKeepTheSeed) {
    const std::string dir = tmp("synth");
    PlantedConfig pc = parse_planted_spec("planted:d=8,features=16,p=0.2,seed=18446744073709551557");
    EXPECT_EQ(pc.seed, kBig);
    EXPECT_NE(error_of([] { parse_planted_spec("planted:d=8,seed=18446744073709551616"); }).find("planted seed"),
              std::string::npos);
    SynthOptions o;
    o.tokens = 200;
    o.rows_per_shard = 100;
    o.ctx.quiet = true;
    const std::string out = dir + "/acts";
    synth_write(pc, o, out);
    const Json meta = ShardReader(out).index().meta;
    EXPECT_TRUE(meta.at("seed", "meta").is_integer());
    EXPECT_EQ(meta.at("seed", "meta").as_u64("meta: seed"), kBig);
    // resuming needs the very same seed: kBig - 1 is the same double, but another recipe
    SynthOptions more = o;
    more.tokens = 300;
    more.resume = true;
    PlantedConfig near = pc;
    near.seed = kBig - 1;
    EXPECT_NE(error_of([&] { synth_write(near, more, out); }).find("another recipe"), std::string::npos);
    EXPECT_EQ(synth_write(pc, more, out), 300);
    fs::remove_all(dir);
}

TEST(Seeds, DictCheckpointKeepsSeedCounterAndSourceState) {
    set_num_threads(1);
    const std::string dir = tmp("dict");
    PlantedConfig pc = parse_planted_spec("planted:d=8,features=16,p=0.2,seed=3");
    Planted p = planted_make(pc);
    std::vector<float> X(1000 * 8);
    planted_rows(p, 0, 1000, X.data());
    npy_save(dir + "/x.npy", {1000, 8}, X.data());
    SourceOptions so;
    so.seed = kP53;
    so.shuffle_buffer_rows = 300;
    DictTrainConfig cfg;
    cfg.atoms = 16;
    cfg.batch = 64;
    cfg.samples = 1280;  // 20 batches
    cfg.ctx.quiet = true;
    cfg.seed = kBig;
    cfg.code.alpha = 0.05f;
    auto s0 = open_source(dir + "/x.npy", so);
    const DictResult straight = dict_train(*s0, cfg);

    DictTrainConfig c1 = cfg;
    c1.samples = 640;
    c1.checkpoint = dir + "/ckpt.safetensors";
    c1.checkpoint_every = 10;
    auto s1 = open_source(dir + "/x.npy", so);
    dict_train(*s1, c1);
    const std::string state_text = SafeTensorsReader(c1.checkpoint).metadata().at("state");
    const Json st = json_parse(state_text, "state");
    EXPECT_TRUE(st.at("seed", "state").is_integer()) << state_text.substr(0, 200);
    EXPECT_EQ(st.at("seed", "state").as_u64("seed"), kBig);
    EXPECT_TRUE(st.at("reseed_counter", "state").is_integer());
    EXPECT_EQ(st.at("source", "state").at("seed", "source").as_u64("source seed"), kP53);

    DictTrainConfig c2 = c1;
    c2.samples = 1280;
    c2.resume = true;
    // a seed one off (equal as doubles) is another run's checkpoint
    DictTrainConfig near = c2;
    near.seed = kBig - 1;
    auto sn = open_source(dir + "/x.npy", so);
    EXPECT_NE(error_of([&] { dict_train(*sn, near); }).find("seed"), std::string::npos);
    SourceOptions so_near = so;
    so_near.seed = kP53 - 1;
    auto sn2 = open_source(dir + "/x.npy", so_near);
    EXPECT_NE(error_of([&] { dict_train(*sn2, c2); }).find("seed"), std::string::npos);

    // the checkpoint as older versions wrote it (seed and re-seed counter as decimal strings) resumes too
    {
        SafeTensorsReader rd(c1.checkpoint);
        Tensor D = rd.read_f32("D"), A = rd.read_f32("A"), B = rd.read_f32("B"), v = rd.read_f32("v");
        Json old = st;
        old["seed"] = std::to_string(kBig);
        old["reseed_counter"] = std::to_string(st.at("reseed_counter", "state").as_u64("reseed_counter"));
        safetensors_write(dir + "/old.safetensors",
                          {{"D", D.shape, D.ptr(), DType::F32},
                           {"A", A.shape, A.ptr(), DType::F32},
                           {"B", B.shape, B.ptr(), DType::F32},
                           {"v", v.shape, v.ptr(), DType::F32}},
                          {{"state", old.dump(-1)}});
    }
    for (const char* ck : {"/ckpt.safetensors", "/old.safetensors"}) {
        SCOPED_TRACE(ck);
        DictTrainConfig c = c2;
        c.checkpoint = dir + ck;
        c.checkpoint_every = 0;
        auto s2 = open_source(dir + "/x.npy", so);
        DictResult resumed = dict_train(*s2, c);
        EXPECT_EQ(resumed.samples_seen, 1280);
        EXPECT_EQ(resumed.D.data, straight.D.data);  // bit-identical to the uninterrupted run
    }
    fs::remove_all(dir);
}

TEST(Seeds, PhaseSummaryWritesTheSeedExactly) {
    PhaseResult r;
    r.spec.seed = kBig;
    const Json j = through_text(phase_json(r));
    EXPECT_EQ(j.at("seed", "phase").as_u64("seed"), kBig);
}
