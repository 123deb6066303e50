// test_sae_toy.cpp: the seeds' whole path on a toy model — train a toy model of superposition
// (toy_train), save the run, read its hidden activations through the --from-toy source, train a sparse
// autoencoder on them and check that the SAE's decoder rows recover the toy model's feature directions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "unfold/data/source.h"
#include "unfold/io/fileio.h"
#include "unfold/sae/sae_eval.h"
#include "unfold/sae/sae_train.h"
#include "unfold/toy/toy.h"

using namespace unfold;

namespace {

std::string temp_dir(const char* name) {
    std::string d = std::string(::testing::TempDir()) + "unfold_sae_toy_" + name;
    make_dirs(d);
    return d;
}

// 5 features of equal importance in 2 dimensions at density 0.05: the toy model stores all five as a
// pentagon (adjacent directions 72 degrees apart), so the ground truth is 5 directions in a plane and
// most hidden vectors are a single scaled direction.
ToyModel train_pentagon(const std::string& dir) {
    ToyConfig c;
    c.kind = ToyKind::RELU;
    c.n_features = 5;
    c.n_hidden = 2;
    c.n_instances = 1;
    c.density.assign(5, 0.05f);
    c.importance.assign(5, 1.0f);
    c.steps = 6000;
    c.seed = 3;
    ToyModel m = toy_init(c);
    toy_train(m, Context::silent());
    toy_save_run(m, dir);
    return m;
}

}  // namespace

TEST(SaeToy, PentagonFeaturesRecoveredFromHiddenActivations) {
    const std::string dir = temp_dir("pentagon");
    ToyModel toy = train_pentagon(dir);
    // the toy model represents all five features (otherwise the ground truth would have fewer rows)
    ToyInstanceMetrics tm = toy_instance_metrics(toy_feature_weights(toy, 0), 2, 5);
    for (int i = 0; i < 5; i++) ASSERT_GT(tm.norms[i], 0.5f) << "feature " << i << " not represented";

    SourceOptions so;
    so.from_toy = dir;
    so.toy_instance = 0;
    so.seed = 1;
    auto src = open_source("", so);
    ASSERT_NE(src->ground_truth(), nullptr);
    ASSERT_EQ(src->ground_truth()->dim(0), 5);
    ASSERT_EQ(src->dim(), 2);

    SaeTrainConfig c;
    c.sae.arch = SaeArch::TOPK;  // at density 0.05 nearly every hidden vector holds one feature
    c.sae.k = 1;
    c.sae.d_sae = 8;
    c.steps = 1500;
    c.batch = 512;
    c.lr = 3e-3f;
    c.seed = 2;
    c.log_every = 500;
    SaeTrainOptions o;
    o.ctx.quiet = true;
    SaeTrainResult r = sae_train(c, *src, o);

    so.seed = 99;  // evaluate on fresh activations
    auto ev = open_source("", so);
    SaeEvalOptions eo;
    eo.tokens = 8192;
    Json m = sae_evaluate(r.sae, *ev, eo);
    const double mmcs = m["ground_truth"]["mmcs"].num, rec = m["ground_truth"]["frac_recovered"].num;
    std::printf("pentagon SAE: fvu %.4f l0 %.3f mmcs %.4f recovered %.2f\n", m["fvu"].num, m["l0"].num, mmcs, rec);
    EXPECT_GE(mmcs, 0.95);  // every pentagon direction has a decoder row within ~18 degrees
    EXPECT_GE(rec, 0.8);    // at least 4 of the 5 at cosine > 0.9
    EXPECT_LT(m["fvu"].num, 0.3);
}
