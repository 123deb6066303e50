// test_sae_train.cpp: SAE training end to end on small planted dictionaries generated in-process:
// recovery per architecture, exact resume, NaN/Inf rejection, SAELens folder round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "../test_util.h"
#include "unfold/core/context.h"
#include "unfold/core/error.h"
#include "unfold/core/rng.h"
#include "unfold/data/synth.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"
#include "unfold/sae/sae_eval.h"
#include "unfold/sae/sae_train.h"

using namespace unfold;
using unfold_test::error_of;

namespace {

// Tiny problems: threads only add synchronisation on a busy machine (results do not depend on it).
const bool g_one_thread = (set_num_threads(1), true);

struct PlantedTestSource : ActivationSource {
    Planted p;
    int64_t pos = 0;
    int64_t nan_at = -1;  // global row that gets a NaN
    explicit PlantedTestSource(const PlantedConfig& c) : p(planted_make(c)) {}
    int64_t dim() const override { return p.cfg.d; }
    int64_t num_rows() const override { return -1; }
    void next_batch(float* out, int64_t n) override {
        planted_rows(p, pos, n, out);
        if (nan_at >= pos && nan_at < pos + n) out[(nan_at - pos) * p.cfg.d + 1] = NAN;
        pos += n;
    }
    const Tensor* ground_truth() const override { return &p.G; }
    std::string describe() const override { return "planted-test"; }
    Json state() const override {
        Json j = Json::object();
        j["pos"] = pos;
        return j;
    }
    void restore(const Json& s) override { pos = s.at("pos", "state").as_int("pos"); }
};

PlantedConfig small_planted(uint64_t seed) {
    PlantedConfig c;
    c.d = 32;
    c.n_true = 256;
    c.p_active = 4.0 / 256;
    c.seed = seed;
    return c;
}

SaeTrainConfig small_cfg(SaeArch arch) {
    SaeTrainConfig t;
    t.sae.arch = arch;
    t.sae.d_sae = 512;
    t.sae.k = 4;
    t.sae.unit_norm_decoder = arch != SaeArch::STANDARD && arch != SaeArch::JUMPRELU;
    t.steps = 1000;
    t.batch = 512;
    t.lr = 3e-3f;
    t.log_every = 100;
    t.checkpoint_every = 0;
    t.dead_tokens = 100000;
    t.seed = 3;
    return t;
}

std::string tmpdir(const std::string& name) {
    std::string d = std::string(::testing::TempDir()) + "unfold_sae_" + name + "_" + std::to_string(::getpid());
    make_dirs(d);
    return d;
}

Json eval_on(const Sae& s, uint64_t seed) {
    PlantedTestSource ev(small_planted(seed));
    ev.pos = 1LL << 40;  // rows never used in training
    SaeEvalOptions eo;
    eo.tokens = 16384;
    return sae_evaluate(s, ev, eo);
}

}  // namespace

TEST(SaeTrain, TopKRecoversPlantedDictionary) {
    PlantedTestSource src(small_planted(1));
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainResult r = sae_train(small_cfg(SaeArch::TOPK), src, o);
    Json m = eval_on(r.sae, 1);
    std::printf("topk: fvu %g l0 %g mmcs %g recovered %g\n", m["fvu"].num, m["l0"].num,
                m["ground_truth"]["mmcs"].num, m["ground_truth"]["frac_recovered"].num);
    EXPECT_GE(m["ground_truth"]["mmcs"].num, 0.95);
    EXPECT_GE(m["ground_truth"]["frac_recovered"].num, 0.9);
    EXPECT_LT(m["fvu"].num, 0.25);  // rows with more than k true features cannot be exact
    EXPECT_LE(m["l0"].num, 4.0 + 1e-9);
    // the training log decreased
    ASSERT_GE(r.log.size(), 2u);
    EXPECT_LT(r.log.arr.back()["mse"].num, 0.5 * r.log.arr.front()["mse"].num);
}

TEST(SaeTrain, BatchTopKTrainsAndLearnsThreshold) {
    // On this planted recipe BatchTopK reconstructs but recovers features far less cleanly than TopK
    // (most encoders settle below the global threshold); we assert what it does reliably. This is a
    // low-dimension effect, not a defect: at d = 32 whole-batch selection lets ~80 large-norm latents take
    // over early and starves the rest of gradient. A plain PyTorch BatchTopK on the same problem gives the
    // same MMCS (~0.62 vs TopK 0.98), and the gap closes as d grows (d = 256: 0.985 vs 0.991); swapping
    // the batch selection for per-row top-k in this code path reproduces TopK's result exactly.
    PlantedTestSource src(small_planted(2));
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainConfig c = small_cfg(SaeArch::BATCHTOPK);
    c.steps = 600;
    SaeTrainResult r = sae_train(c, src, o);
    EXPECT_GT(r.sae.threshold, 0.0f);
    EXPECT_LT(r.log.arr.back()["fvu"].num, 0.6 * r.log.arr.front()["fvu"].num);
    EXPECT_NEAR(r.log.arr.back()["l0"].num, 4.0, 1e-9);  // exactly k per row on average during training
    Json m = eval_on(r.sae, 2);  // inference uses the learned threshold instead of the batch top-k
    std::printf("batchtopk: fvu %g l0 %g mmcs %g threshold %g\n", m["fvu"].num, m["l0"].num,
                m["ground_truth"]["mmcs"].num, r.sae.threshold);
    EXPECT_GT(m["l0"].num, 1.5);
    EXPECT_LT(m["l0"].num, 10.0);
    EXPECT_LT(m["fvu"].num, 0.6);
    EXPECT_GE(m["ground_truth"]["mmcs"].num, 0.5);
}

TEST(SaeTrain, ReluL1AndJumpReluLearn) {
    for (SaeArch a : {SaeArch::STANDARD, SaeArch::JUMPRELU}) {
        PlantedTestSource src(small_planted(4));
        SaeTrainConfig c = small_cfg(a);
        c.steps = 800;
        c.sae.l1_coef = 0.3f;
        c.sae.l0_coef = 0.1f;
        c.sae.init_threshold = 0.1f;
        c.coef_warmup_steps = 100;
        c.resample_every = a == SaeArch::STANDARD ? 300 : 0;
        SaeTrainOptions o;
        o.ctx.quiet = true;
        SaeTrainResult r = sae_train(c, src, o);
        Json m = eval_on(r.sae, 4);
        std::printf("%s: fvu %g l0 %g mmcs %g recovered %g\n", sae_arch_name(a), m["fvu"].num, m["l0"].num,
                    m["ground_truth"]["mmcs"].num, m["ground_truth"]["frac_recovered"].num);
        EXPECT_GE(m["ground_truth"]["mmcs"].num, a == SaeArch::STANDARD ? 0.9 : 0.7) << sae_arch_name(a);
        EXPECT_LT(m["fvu"].num, 0.5) << sae_arch_name(a);
        EXPECT_GT(m["l0"].num, 0.5) << sae_arch_name(a);
        EXPECT_LT(m["l0"].num, a == SaeArch::STANDARD ? 40.0 : 8.0) << sae_arch_name(a);
        if (a == SaeArch::STANDARD) {
            EXPECT_LT(m["shrinkage"].num, 1.0);  // L1 shrinks the codes
        }
    }
}

// Gated SAE (free-norm decoder, L1 on the gate weighted by decoder norms, coefficient warm-up). Over planted
// seeds 1, 2, 4, 9, 11, 12 this recipe gave MMCS 0.948-0.968, recovered 0.82-0.91, L0 2.6-2.8 (true 4: the
// gate's L1 trades L0 for FVU ~0.33) and shrinkage 1.005-1.022: the magnitude path is not shrunk. (Measured
// with the dense path only; with the sparse path switching in, seed 9 gives MMCS 0.9559 both ways.)
TEST(SaeTrain, GatedRecoversPlantedDictionaryWithoutShrinkage) {
    PlantedTestSource src(small_planted(9));
    SaeTrainConfig c = small_cfg(SaeArch::GATED);
    c.sae.unit_norm_decoder = false;
    c.sae.l1_coef = 1.0f;
    c.coef_warmup_steps = 100;
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainResult r = sae_train(c, src, o);
    Json m = eval_on(r.sae, 9);
    std::printf("gated: fvu %g l0 %g mmcs %g recovered %g shrinkage %g\n", m["fvu"].num, m["l0"].num,
                m["ground_truth"]["mmcs"].num, m["ground_truth"]["frac_recovered"].num, m["shrinkage"].num);
    EXPECT_GE(m["ground_truth"]["mmcs"].num, 0.92);
    EXPECT_GE(m["ground_truth"]["frac_recovered"].num, 0.75);
    EXPECT_LT(m["fvu"].num, 0.45);
    EXPECT_GT(m["l0"].num, 1.5);
    EXPECT_LT(m["l0"].num, 6.0);
    EXPECT_NEAR(m["shrinkage"].num, 1.0, 0.05);
    // r_mag / b_mag were trained (they start at 0) and the losses went down
    const float* rm = r.sae.params.get("r_mag");
    double rabs = 0;
    for (int64_t i = 0; i < r.sae.F(); i++) rabs += std::fabs(rm[i]);
    EXPECT_GT(rabs / r.sae.F(), 1e-3);
    ASSERT_GE(r.log.size(), 2u);
    EXPECT_LT(r.log.arr.back()["aux"].num, 0.8 * r.log.arr.front()["aux"].num);
    EXPECT_LT(r.log.arr.back()["l0"].num, 0.8 * r.log.arr.front()["l0"].num);
}

TEST(SaeTrain, ExactResumeIsBitIdentical) {
    for (SaeArch a : {SaeArch::TOPK, SaeArch::STANDARD, SaeArch::GATED}) {
        SaeTrainConfig c = small_cfg(a);
        c.steps = 60;
        c.batch = 256;
        c.log_every = 10;
        c.checkpoint_every = 25;
        c.dead_tokens = 2000;  // dead latents appear: AuxK / resampling state must resume too
        c.resample_every = a == SaeArch::STANDARD || a == SaeArch::GATED ? 20 : 0;
        c.normalize = true;
        c.warmup_steps = 10;
        c.decay = "cosine";
        std::string d1 = tmpdir(std::string("full_") + sae_arch_name(a)), d2 = tmpdir(std::string("resumed_") + sae_arch_name(a));
        PlantedTestSource s1(small_planted(5));
        SaeTrainOptions o1;
        o1.ctx.quiet = true;
        o1.out_dir = d1;
        SaeTrainResult full = sae_train(c, s1, o1);
        ASSERT_TRUE(full.finished);

        PlantedTestSource s2(small_planted(5));
        SaeTrainOptions o2 = o1;
        o2.out_dir = d2;
        o2.stop_at = 37;  // not a multiple of the checkpoint cadence
        SaeTrainResult part = sae_train(c, s2, o2);
        EXPECT_FALSE(part.finished);
        EXPECT_EQ(part.steps_done, 37);
        EXPECT_FALSE(file_exists(path_join(d2, "cfg.json")));
        PlantedTestSource s3(small_planted(5));  // fresh process: position comes from the checkpoint
        o2.stop_at = -1;
        o2.resume = true;
        SaeTrainResult rest = sae_train(c, s3, o2);
        ASSERT_TRUE(rest.finished);
        ASSERT_EQ(full.sae.params.data.size(), rest.sae.params.data.size());
        EXPECT_EQ(0, std::memcmp(full.sae.params.data.data(), rest.sae.params.data.data(),
                                 full.sae.params.data.size() * 4))
            << sae_arch_name(a);
        EXPECT_EQ(full.log.dump(-1), rest.log.dump(-1));
        EXPECT_EQ(full.log10_density, rest.log10_density);
        // and the written weights agree byte for byte
        EXPECT_EQ(read_file(path_join(d1, "sae_weights.safetensors")), read_file(path_join(d2, "sae_weights.safetensors")));
    }
}

TEST(SaeTrain, FinishedRunWritesMetricsJson) {
    // the library, not the CLI, completes the folder: SAELens files + metrics.json with the final evaluation
    SaeTrainConfig c = small_cfg(SaeArch::TOPK);
    c.steps = 20;
    c.batch = 64;
    std::string d = tmpdir("metrics");
    PlantedTestSource s(small_planted(9));
    SaeTrainOptions o;
    o.ctx.quiet = true;
    o.out_dir = d;
    o.eval_tokens = 512;
    SaeTrainResult r = sae_train(c, s, o);
    ASSERT_TRUE(file_exists(path_join(d, "metrics.json")));
    Json m = json_load(path_join(d, "metrics.json"));
    EXPECT_EQ(m.dump(-1), r.metrics.dump(-1));
    EXPECT_EQ(m["train"]["steps"].as_int("steps"), 20);
    const double fvu = m["eval"]["fvu"].as_num("fvu"), l0 = m["eval"]["l0"].as_num("l0");
    EXPECT_GT(fvu, 0.0);
    EXPECT_LT(fvu, 1.5);
    EXPECT_NEAR(l0, c.sae.k, 1e-9);  // TopK: exactly k active latents per row
    EXPECT_EQ(m["config"]["sae"]["k"].as_int("k"), c.sae.k);
    // an impossible k is refused by the library before anything is written
    SaeTrainConfig bad = c;
    bad.sae.k = (int)c.sae.d_sae + 1;
    std::string d2 = tmpdir("badk");
    o.out_dir = d2;
    PlantedTestSource s2(small_planted(9));
    EXPECT_NE(error_of([&] { sae_train(bad, s2, o); }).find("must be in [1, d_sae="), std::string::npos);
    EXPECT_FALSE(file_exists(path_join(d2, "cfg.json")));
}

TEST(SaeTrain, ResumeWithDifferentConfigIsRejected) {
    SaeTrainConfig c = small_cfg(SaeArch::TOPK);
    c.steps = 10;
    c.batch = 64;
    std::string d = tmpdir("cfgchange");
    PlantedTestSource s(small_planted(6));
    SaeTrainOptions o;
    o.ctx.quiet = true;
    o.out_dir = d;
    o.stop_at = 5;
    sae_train(c, s, o);
    c.lr = 1e-2f;
    o.resume = true;
    o.stop_at = -1;
    PlantedTestSource s2(small_planted(6));
    try {
        sae_train(c, s2, o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("different configuration"), std::string::npos) << e.what();
    }
}

TEST(SaeTrain, NanActivationIsAnErrorNamingTheRow) {
    PlantedTestSource s(small_planted(7));
    s.nan_at = 64 * 3 + 5;  // batch 2 of training (batch 0 is the init sample)
    SaeTrainConfig c = small_cfg(SaeArch::TOPK);
    c.steps = 10;
    c.batch = 64;
    SaeTrainOptions o;
    o.ctx.quiet = true;
    try {
        sae_train(c, s, o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("batch 2, row 5"), std::string::npos) << m;
        EXPECT_NE(m.find("planted-test"), std::string::npos) << m;
    }
}

TEST(SaeTrain, NormalizationIsFoldedIntoTheWeights) {
    // Train with input normalisation on data scaled by 7: the saved SAE must reconstruct raw inputs.
    struct Scaled : PlantedTestSource {
        using PlantedTestSource::PlantedTestSource;
        void next_batch(float* out, int64_t n) override {
            PlantedTestSource::next_batch(out, n);
            for (int64_t i = 0; i < n * dim(); i++) out[i] *= 7.0f;
        }
    };
    Scaled s(small_planted(8));
    SaeTrainConfig c = small_cfg(SaeArch::TOPK);
    c.steps = 400;
    c.normalize = true;
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainResult r = sae_train(c, s, o);
    Scaled ev(small_planted(8));
    ev.pos = 1LL << 40;
    SaeEvalOptions eo;
    eo.tokens = 4096;
    Json m = sae_evaluate(r.sae, ev, eo);
    EXPECT_LT(m["fvu"].num, 0.3);
    EXPECT_GT(m["shrinkage"].num, 0.8);
    EXPECT_LT(m["shrinkage"].num, 1.2);
}

// Folding the input scale into a gated SAE: the folded SAE on raw x gives the codes the unfolded one gives on
// x * s (the gate and magnitude paths keep their biases and r_mag) and reconstructions divided by s.
TEST(SaeTrain, GatedInputScaleFold) {
    SaeConfig c;
    c.arch = SaeArch::GATED;
    c.d_in = 8;
    c.d_sae = 20;
    Sae s = sae_init(c, 4, 1.0f);
    rng_fill_normal(s.b_enc(), 20, 2, 1, 0, 0.0f, 0.2f);
    rng_fill_normal(s.b_dec(), 8, 2, 2, 0, 0.0f, 0.5f);
    rng_fill_normal(s.params.get("r_mag"), 20, 2, 3, 0, 0.0f, 0.3f);
    rng_fill_normal(s.params.get("b_mag"), 20, 2, 4, 0, 0.0f, 0.2f);
    const float scale = 0.25f;
    std::vector<float> x(16 * 8), xs(16 * 8), h1(16 * 8), h2(16 * 8);
    rng_fill_normal(x.data(), x.size(), 2, 5, 0, 0.0f, 4.0f);
    for (size_t i = 0; i < x.size(); i++) xs[i] = x[i] * scale;
    SparseCodes c1, c2;
    sae_encode(s, xs.data(), 16, c1);
    sae_decode(s, c1, h1.data());
    Sae t = s;
    sae_fold_input_scale(t, scale);
    sae_encode(t, x.data(), 16, c2);
    sae_decode(t, c2, h2.data());
    ASSERT_GT(c1.off[16], 10);
    EXPECT_EQ(c1.idx, c2.idx);
    ASSERT_EQ(c1.val.size(), c2.val.size());
    for (size_t i = 0; i < c1.val.size(); i++) EXPECT_NEAR(c1.val[i], c2.val[i], 1e-5 * (1 + std::fabs(c1.val[i])));
    for (size_t i = 0; i < h1.size(); i++) EXPECT_NEAR(h1[i] / scale, h2[i], 1e-4 * (1 + std::fabs(h2[i])));
}

TEST(SaeTrain, GeometricMedianIgnoresOutliers) {
    // 9 points at the origin-ish cluster, 3 far outliers: the median stays near the cluster.
    std::vector<float> x = {0, 0, 0.1f, 0, 0, 0.1f, -0.1f, 0, 0, -0.1f, 0.05f, 0.05f, 0, 0, -0.05f, 0.05f, 0.02f, 0,
                            100, 100, -80, 90, 120, -60};
    float m[2];
    geometric_median(x.data(), 12, 2, m);
    EXPECT_LT(std::fabs(m[0]), 0.2f);
    EXPECT_LT(std::fabs(m[1]), 0.2f);
    // while the mean is far away
    double mean0 = 0;
    for (int i = 0; i < 12; i++) mean0 += x[2 * i] / 12.0;
    EXPECT_GT(std::fabs(mean0), 5.0);
}

// Toy model of superposition: n sparse features squeezed into m < n hidden dimensions by W [m, n] with
// unit columns (constructed directly: the geometry a trained toy model reaches). An SAE trained on the
// hidden activations h = W x must find the columns of W as its decoder directions.
TEST(SaeTrain, ToyModelFeaturesRecoveredFromHiddenActivations) {
    struct ToyHidden : ActivationSource {
        int64_t n = 12, m = 6, pos = 0;
        Tensor Wt;  // [n, m] = W^T, unit rows (the ground truth)
        ToyHidden() : Wt({12, 6}) {
            rng_fill_normal(Wt.ptr(), Wt.data.size(), 9, 1, 0, 0.0f, 1.0f);
            for (int64_t i = 0; i < n; i++) {
                double s = 0;
                for (int64_t j = 0; j < m; j++) s += Wt[i * m + j] * Wt[i * m + j];
                for (int64_t j = 0; j < m; j++) Wt[i * m + j] /= (float)std::sqrt(s);
            }
        }
        int64_t dim() const override { return m; }
        int64_t num_rows() const override { return -1; }
        void next_batch(float* out, int64_t B) override {
            for (int64_t b = 0; b < B; b++, pos++) {
                Rng r(17, (uint64_t)pos);
                for (int64_t j = 0; j < m; j++) out[b * m + j] = 0;
                for (int64_t i = 0; i < n; i++) {
                    if (r.uniform() >= 0.05f) continue;  // feature density 5% (sparsity S = 0.95)
                    float x = r.uniform();
                    for (int64_t j = 0; j < m; j++) out[b * m + j] += x * Wt[i * m + j];
                }
            }
        }
        const Tensor* ground_truth() const override { return &Wt; }
        std::string describe() const override { return "toy-hidden"; }
        Json state() const override { return Json(); }
        void restore(const Json&) override {}
    };
    ToyHidden src;
    SaeTrainConfig c;
    c.sae.arch = SaeArch::STANDARD;
    c.sae.d_sae = 24;
    c.sae.l1_coef = 0.5f;
    c.coef_warmup_steps = 200;
    c.steps = 1500;
    c.batch = 256;
    c.lr = 3e-3f;
    c.seed = 1;
    c.log_every = 500;
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainResult r = sae_train(c, src, o);
    ToyHidden ev;
    ev.pos = 1 << 30;
    SaeEvalOptions eo;
    eo.tokens = 8192;
    Json m = sae_evaluate(r.sae, ev, eo);
    std::printf("toy: fvu %g l0 %g mmcs %g recovered %g\n", m["fvu"].num, m["l0"].num, m["ground_truth"]["mmcs"].num,
                m["ground_truth"]["frac_recovered"].num);
    EXPECT_GE(m["ground_truth"]["mmcs"].num, 0.95);
    EXPECT_GE(m["ground_truth"]["frac_recovered"].num, 11.0 / 12.0);
    EXPECT_LT(m["fvu"].num, 0.35);  // the L1 penalty shrinks the codes
    EXPECT_LT(m["l0"].num, 1.5);    // true L0 is 12 * 0.05 = 0.6
}
