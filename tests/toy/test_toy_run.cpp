// test_toy_run.cpp: determinism (same seed -> same bytes; any thread count -> same bits), exact resume,
// run-folder round trip and validation, the geometry metrics on hand-built polytopes, and the CLI.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/toy/toy.h"

using namespace unfold;

static std::string tmpdir(const std::string& name) {
    std::string d = std::string(::testing::TempDir()) + "unfold_toy_" + name + "_" + std::to_string(getpid());
    std::system(("rm -rf '" + d + "'").c_str());
    make_dirs(d);
    return d;
}

static ToyConfig small_cfg(int instances, int64_t steps) {
    ToyConfig c;
    c.kind = ToyKind::RELU;
    c.n_features = 20;
    c.n_hidden = 5;
    c.n_instances = instances;
    toy_set_density(c, toy_parse_density("1:0.05", instances));
    toy_set_importance(c, toy_parse_importance("0.9", 20));
    c.steps = steps;
    c.batch = 512;
    c.eval_batch = 1024;
    c.seed = 3;
    return c;
}

TEST(ToyRun, SameSeedSameBytes) {
    std::string a = tmpdir("seed_a"), b = tmpdir("seed_b");
    ToyConfig c = small_cfg(4, 300);
    ToyModel m1 = toy_init(c), m2 = toy_init(c);
    toy_train(m1, Context::silent());
    toy_train(m2, Context::silent());
    toy_save_run(m1, a);
    toy_save_run(m2, b);
    for (const char* f : {"model.safetensors", "config.json", "metrics.json"})
        EXPECT_EQ(read_file(path_join(a, f)), read_file(path_join(b, f))) << f;
    c.seed = 4;  // and a different seed gives a different model
    ToyModel m3 = toy_init(c);
    toy_train(m3, Context::silent());
    EXPECT_NE(m1.params.data, m3.params.data);
}

TEST(ToyRun, ThreadCountDoesNotChangeTheResult) {
    // 6 instances: instance-parallel mode; 1 instance with 2 threads: chunk-parallel mode (B = 1024 is 4
    // chunks). Both reduce in a fixed order, so the models are bit-identical, not just close.
    for (int instances : {6, 1}) {
        ToyConfig c = small_cfg(instances, 200);
        c.batch = 1024;
        set_num_threads(1);
        ToyModel m1 = toy_init(c);
        toy_train(m1, Context::silent());
        set_num_threads(2);
        ToyModel m2 = toy_init(c);
        toy_train(m2, Context::silent());
        EXPECT_EQ(m1.params.data, m2.params.data) << instances << " instances";
    }
}

TEST(ToyRun, CancelledRunResumesExactly) {
    // A host program stops training through the context (Ctrl-C in a notebook): the call throws Cancelled,
    // the last checkpoint is whole, and resuming gives the bits of an uninterrupted run.
    ToyConfig c = small_cfg(2, 400);
    ToyModel full = toy_init(c);
    toy_train(full, Context::silent());
    std::string d = tmpdir("cancel");
    ToyTrainOptions o;
    o.ctx.quiet = true;
    o.checkpoint_dir = d;
    o.checkpoint_every = 100;
    int polls = 0;
    o.ctx.should_stop = [&] { return ++polls > 2; };
    ToyModel part = toy_init(c);
    EXPECT_THROW(toy_train_ex(part, o), Cancelled);
    ToyCheckpoint ck;
    ASSERT_TRUE(toy_load_checkpoint(part, d, &ck));
    EXPECT_GT(ck.step, 0);
    EXPECT_LT(ck.step, 400);
    o.ctx.should_stop = nullptr;
    o.resume = true;
    ToyModel resumed = toy_init(c);
    EXPECT_EQ(toy_train_ex(resumed, o), 400);
    EXPECT_EQ(resumed.params.data, full.params.data);
}

TEST(ToyRun, ResumeIsExact) {
    ToyConfig c = small_cfg(3, 500);
    ToyModel full = toy_init(c);
    toy_train(full, Context::silent());
    std::string d;
    for (int64_t stop : {77, 200}) {  // mid-segment and on a checkpoint boundary
        d = tmpdir("resume" + std::to_string(stop));
        ToyTrainOptions o;
        o.ctx.quiet = true;
        o.checkpoint_dir = d;
        o.checkpoint_every = 100;
        o.stop_after = stop;
        ToyModel part = toy_init(c);
        EXPECT_EQ(toy_train_ex(part, o), stop);
        ToyCheckpoint ck;
        ASSERT_TRUE(toy_load_checkpoint(part, d, &ck));
        EXPECT_EQ(ck.step, stop);
        o.stop_after = 0;
        o.resume = true;
        ToyModel resumed = toy_init(c);  // fresh init: everything must come from the checkpoint
        EXPECT_EQ(toy_train_ex(resumed, o), 500);
        EXPECT_EQ(resumed.params.data, full.params.data) << "stopped at " << stop;
    }
    // a checkpoint of another configuration is refused (d: the last checkpoint folder)
    ToyConfig other = c;
    other.lr = 2e-3f;
    ToyModel m = toy_init(other);
    ToyCheckpoint ck;
    EXPECT_THROW(toy_load_checkpoint(m, d, &ck), Error);
}

TEST(ToyRun, RunFolderRoundTripAndValidation) {
    std::string d = tmpdir("roundtrip");
    for (ToyKind kind : {ToyKind::RELU, ToyKind::ABS}) {
        ToyConfig c = small_cfg(2, 50);
        c.kind = kind;
        if (kind == ToyKind::ABS) c.data = ToyData::SIGNED;
        c.correlated_pairs = 1;
        c.l1_hidden = 0.01f;
        ToyModel m = toy_init(c);
        toy_train(m, Context::silent());
        toy_save_run(m, d);
        ToyModel r = toy_load_run(d);
        EXPECT_EQ(r.params.data, m.params.data);
        EXPECT_EQ(r.cfg.to_json().dump(), c.to_json().dump());
        Json met = json_load(path_join(d, "metrics.json"));
        const Json& inst = met.at("instances", "metrics");
        ASSERT_EQ(inst.size(), 2u);
        EXPECT_EQ(inst.arr[0].at("norms", "m").size(), 20u);
        EXPECT_TRUE(inst.arr[0].has("recon_loss"));  // l1 > 0
    }
    // a config that disagrees with the tensors is an error naming the file and the tensor
    Json cj = json_load(path_join(d, "config.json"));
    cj["n_features"] = 21;
    Json dens = Json::array(), imp = Json::array();
    for (int k = 0; k < 42; k++) dens.push(0.5), imp.push(1.0);
    cj["density"] = dens;
    cj["importance"] = imp;
    json_save(path_join(d, "config.json"), cj);
    try {
        toy_load_run(d);
        FAIL() << "shape mismatch not detected";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
    }
    // invalid values in config.json are one-line errors naming the file
    cj["density"].arr[3] = Json(1.5);
    json_save(path_join(d, "config.json"), cj);
    try {
        toy_load_run(d);
        FAIL() << "bad density not detected";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
    cj["model"] = "quadratic";
    json_save(path_join(d, "config.json"), cj);
    EXPECT_THROW(toy_load_run(d), Error);
}

TEST(ToyRun, MetricsOnHandBuiltPolytopes) {
    // pentagon (5 unit vectors at 72 degrees in 2-D): D_i = 2/5, dims per feature 2/5,
    // interference = sum_{j != i} cos^2 = 2 cos^2(72) + 2 cos^2(144) = 1.5
    float P[10];
    for (int i = 0; i < 5; i++) {
        P[i] = (float)std::cos(2 * M_PI * i / 5);
        P[5 + i] = (float)std::sin(2 * M_PI * i / 5);
    }
    ToyInstanceMetrics a = toy_instance_metrics(P, 2, 5);
    for (int i = 0; i < 5; i++) {
        EXPECT_NEAR(a.dimensionality[i], 0.4, 1e-5);
        EXPECT_NEAR(a.interference[i], 1.5, 1e-5);
        EXPECT_NEAR(a.norms[i], 1.0, 1e-6);
    }
    EXPECT_NEAR(a.dims_per_feature, 0.4, 1e-6);
    // antipodal pair + orthogonal feature + unlearned feature in 2-D (m = 2, n = 4)
    const float Q[8] = {1, -1, 0, 0,   // row 0
                        0, 0, 2, 0};   // row 1
    ToyInstanceMetrics b = toy_instance_metrics(Q, 2, 4);
    EXPECT_NEAR(b.dimensionality[0], 0.5, 1e-6);
    EXPECT_NEAR(b.dimensionality[1], 0.5, 1e-6);
    EXPECT_NEAR(b.dimensionality[2], 1.0, 1e-6);
    EXPECT_EQ(b.dimensionality[3], 0.0f);
    EXPECT_NEAR(b.interference[0], 1.0, 1e-6);
    EXPECT_NEAR(b.interference[2], 0.0, 1e-6);
    EXPECT_NEAR(b.dims_per_feature, 2.0 / 6.0, 1e-6);
}

TEST(ToyRun, EveryKernelLevelGivesTheSameBytes) {
    // the portable and the AVX2 copies of the kernels (src/core/isa.h) compute the same bits: a run under
    // UNFOLD_KERNELS=portable writes the same model as one on the best kernels of this CPU
    std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(file_exists(bin)) << "the unfold binary is missing: " << bin;
    for (const char* model : {"relu", "hidden-relu", "abs"}) {
        std::string a = tmpdir(std::string("lvl_p_") + model), b = tmpdir(std::string("lvl_a_") + model);
        std::string cmd = bin + " toy train --features 12 --hidden 3 --instances 4 --density 1:0.05 --importance 0.9 "
                                "--batch 256 --eval-batch 512 --steps 150 --seed 11 --quiet --threads 2 --model " +
                          model;
        ASSERT_EQ(std::system(("UNFOLD_KERNELS=portable " + cmd + " --out " + a + " > /dev/null").c_str()), 0);
        ASSERT_EQ(std::system(("UNFOLD_KERNELS=auto " + cmd + " --out " + b + " > /dev/null").c_str()), 0);
        EXPECT_EQ(read_file(path_join(a, "model.safetensors")), read_file(path_join(b, "model.safetensors"))) << model;
    }
}

TEST(ToyRun, CliTrainAndResume) {
    std::string bin = UNFOLD_BINARY;
    ASSERT_TRUE(file_exists(bin)) << "the unfold binary is missing: " << bin;
    std::string a = tmpdir("cli_a"), b = tmpdir("cli_b");
    std::string common = " toy train --features 6 --hidden 2 --instances 3 --density 1:0.1 --importance 0.8 "
                         "--batch 256 --eval-batch 512 --seed 5 --quiet --threads 2";
    ASSERT_EQ(std::system((bin + common + " --steps 240 --out " + a + " > /dev/null").c_str()), 0);
    ASSERT_EQ(std::system((bin + common + " --steps 100 --checkpoint-every 30 --out " + b + " > /dev/null").c_str()), 0);
    ASSERT_EQ(std::system((bin + " toy train --resume --steps 240 --quiet --out " + b + " > /dev/null").c_str()), 0);
    EXPECT_EQ(read_file(path_join(a, "model.safetensors")), read_file(path_join(b, "model.safetensors")));
    EXPECT_EQ(read_file(path_join(a, "config.json")), read_file(path_join(b, "config.json")));
    ToyModel m = toy_load_run(a);
    EXPECT_EQ(m.cfg.n_features, 6);
    EXPECT_EQ(m.cfg.steps, 240);
    EXPECT_NEAR(m.cfg.density_at(2, 0), 0.1f, 1e-7);
    EXPECT_NEAR(m.cfg.importance_at(1, 3), 0.512f, 1e-6);
    // bad flags: exit code 1, not a crash
    EXPECT_NE(std::system((bin + " toy train --features 0 --out " + a + " 2> /dev/null").c_str()), 0);
    EXPECT_NE(std::system((bin + " toy train --density 2 --out " + a + " 2> /dev/null").c_str()), 0);
    EXPECT_NE(std::system((bin + " toy train --model cubic --out " + a + " 2> /dev/null").c_str()), 0);
}
