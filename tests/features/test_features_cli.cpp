// test_features_cli.cpp: the commands, run as a user runs them, on stories260K with an SAE folder that records
// its hook: `lm generate --sae` without an edit is byte-identical to the plain model and with --steer differs;
// `sae eval --model` adds the spliced-loss metrics and its ce_loss_clean is `lm eval` on the same windows;
// `features build` -> `show --json` has the documented keys; `trace --db` of a recorded context gives the
// recorded activations; `hypothesis` and `effect` print JSON; bad input gives one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>

#include "../test_util.h"
#include "features_testing.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/lm/tokenizer.h"

using namespace unfold;
using namespace unfold::features_testing;

namespace {

const std::string kBin = UNFOLD_BINARY;
const std::string kModelArgs =
    " --model " + kStoriesDir + "stories260K.bin --tokenizer " + kStoriesDir + "tok512.bin ";

int sh(const std::string& cmd, std::string* out, bool merge_err = false) {
    return unfold_test::run_shell(cmd, out, merge_err);
}

// a corpus file of sampled stories and an SAE folder at blocks.4.hook_resid_post (context 32, BOS)
struct Setup {
    TmpDir tmp;
    std::string corpus, sae;
    Setup() {
        auto tok = load_tokenizer(kStoriesDir + "tok512.bin");
        std::string text;
        auto ids = sampled_corpus(30, 200);
        std::vector<int32_t> story;
        for (size_t i = 0; i <= ids.size(); i++) {
            if (i == ids.size() || (ids[i] == 1 && !story.empty())) {
                text += tok->decode(story) + "\n";
                story.clear();
            }
            if (i < ids.size() && ids[i] != 1) story.push_back(ids[i]);
        }
        corpus = tmp.file("stories.txt");
        write_file_atomic(corpus, text);
        Sae s = make_sae(SaeArch::STANDARD, 64, 128, 0, 5);
        for (int64_t f = 0; f < s.F(); f++) s.b_enc()[f] = -0.5f;
        Json meta = Json::object();
        meta["hook_name"] = "blocks.4.hook_resid_post";
        meta["hook_layer"] = 4;
        meta["context_size"] = 32;
        meta["prepend_bos"] = true;
        meta["model_name"] = "stories260K";
        sae = tmp.file("sae");
        sae_save(sae, s, nullptr, meta);
    }
};

Setup& setup() {
    static Setup s;
    return s;
}

}  // namespace

TEST(FeaturesCli, GenerateWithAnSaeAndNoEditIsTheModelByteForByte) {
    ASSERT_TRUE(file_exists(kBin)) << kBin;
    std::string plain, with, steered, err;
    ASSERT_EQ(sh(kBin + " lm generate" + kModelArgs + "--steps 80 --quiet", &plain), 0);
    ASSERT_EQ(sh(kBin + " lm generate" + kModelArgs + "--steps 80 --quiet --sae " + setup().sae, &with), 0);
    EXPECT_EQ(with, plain);
    EXPECT_GT(plain.size(), 100u);
    ASSERT_EQ(sh(kBin + " lm generate" + kModelArgs + "--steps 80 --quiet --compare --steer 3=300 --sae " + setup().sae,
                 &steered),
              0);
    const size_t a = steered.find("--- without edits\n"), b = steered.find("--- clamp 3=300 at blocks.4.hook_resid_post");
    ASSERT_NE(a, std::string::npos) << steered;
    ASSERT_NE(b, std::string::npos) << steered;
    EXPECT_EQ(steered.substr(a + 18, b - a - 18), plain);  // the unedited continuation
    EXPECT_NE(steered.substr(steered.find('\n', b) + 1), plain);
    // errors: an edit without --sae; a feature out of range; an SAE at a hook of another width
    EXPECT_EQ(sh(kBin + " lm generate" + kModelArgs + "--steer 3=1", &err, true), 1);
    EXPECT_NE(err.find("--steer needs --sae RUN"), std::string::npos) << err;
    EXPECT_EQ(sh(kBin + " lm generate" + kModelArgs + "--steer 128=1 --sae " + setup().sae, &err, true), 1);
    EXPECT_NE(err.find("--steer: feature 128 is out of range [0, 128)"), std::string::npos) << err;
    EXPECT_EQ(sh(kBin + " lm generate" + kModelArgs + "--hook blocks.0.mlp.hook_post --sae " + setup().sae, &err, true),
              1);
    EXPECT_NE(err.find("but the SAE's d_in is 64"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(FeaturesCli, SaeEvalWithAModelAddsTheSplicedLossAndItsCleanLossIsLmEval) {
    std::string out, ev;
    ASSERT_EQ(sh(kBin + " sae eval " + setup().sae + kModelArgs + "--corpus " + setup().corpus +
                     " --tokens 2048 --quiet",
                 &out),
              0);
    Json j = json_parse(out, "sae eval");
    for (const char* k : {"ce_loss_clean", "ce_loss_spliced", "ce_loss_zero_ablation", "ce_loss_recovered",
                          "kl_div_spliced", "fvu", "l0", "mse"})
        EXPECT_TRUE(j.has(k)) << k;
    EXPECT_EQ(j.at("context", "").as_int(""), 32);  // from the SAE's context_size
    EXPECT_EQ(j.at("hook", "").as_str(""), "blocks.4.hook_resid_post");
    const double clean = j.at("ce_loss_clean", "").as_num(""), zero = j.at("ce_loss_zero_ablation", "").as_num("");
    const double spliced = j.at("ce_loss_spliced", "").as_num("");
    EXPECT_GT(zero, clean);
    EXPECT_NEAR(j.at("ce_loss_recovered", "").as_num(""), (zero - spliced) / (zero - clean), 1e-9);
    EXPECT_GT(j.at("kl_div_spliced", "").as_num(""), 0.0);
    ASSERT_EQ(sh(kBin + " lm eval" + kModelArgs + "--corpus " + setup().corpus + " --context 32 --windows 64 --quiet",
                 &ev),
              0);
    double lm_loss = 0;
    ASSERT_EQ(std::sscanf(ev.c_str(), "loss %lf", &lm_loss), 1) << ev;
    EXPECT_NEAR(clean, lm_loss, 6e-5);
    // lm eval with the SAE spliced gives ce_loss_spliced
    ASSERT_EQ(sh(kBin + " lm eval" + kModelArgs + "--corpus " + setup().corpus +
                     " --context 32 --windows 64 --quiet --splice --sae " + setup().sae,
                 &ev),
              0);
    ASSERT_EQ(std::sscanf(ev.c_str(), "loss %lf", &lm_loss), 1) << ev;
    EXPECT_NEAR(spliced, lm_loss, 6e-5);
}

TEST(FeaturesCli, BuildShowTraceHypothesisEffect) {
    const std::string db = setup().tmp.file("f.db");
    std::string out, err;
    ASSERT_EQ(sh(kBin + " features build" + kModelArgs + "--sae " + setup().sae + " --corpus " + setup().corpus +
                     " --tokens 4000 --top 6 --out " + db + " --quiet --json",
                 &out),
              0)
        << out;
    Json r = json_parse(out, "build");
    EXPECT_EQ(r.at("features", "").as_int(""), 128);
    EXPECT_GE(r.at("tokens", "").as_int(""), 3900);
    // the list
    ASSERT_EQ(sh(kBin + " features show " + db + " --json --limit 0", &out), 0);
    Json l = json_parse(out, "show");
    ASSERT_EQ(l.at("features", "").size(), 128u);
    int64_t feature = -1;
    double best = 0;
    for (const Json& f : l.at("features", "").arr)
        if (f.at("density", "").as_num("") > best && f.at("density", "").as_num("") < 0.5)
            best = f.at("density", "").as_num(""), feature = f.at("feature", "").as_int("");
    ASSERT_GE(feature, 0);
    // one feature, its documented keys
    ASSERT_EQ(sh(kBin + " features show " + db + " --json --feature " + std::to_string(feature), &out), 0);
    Json f = json_parse(out, "show --feature");
    for (const char* k : {"feature", "density", "max_activation", "label", "top_contexts", "logit_effects", "histogram"})
        EXPECT_TRUE(f.has(k)) << k;
    const Json& tc = f.at("top_contexts", "");
    ASSERT_EQ(tc.size(), 6u);
    for (const char* k : {"tokens", "activations", "text", "max"}) EXPECT_TRUE(tc.arr[0].has(k)) << k;
    EXPECT_EQ(tc.arr[0].at("tokens", "").size(), tc.arr[0].at("activations", "").size());
    EXPECT_EQ(f.at("logit_effects", "").at("promoted", "").size(), 10u);
    EXPECT_TRUE(f.at("logit_effects", "").at("suppressed", "").arr[0].has("token"));
    EXPECT_TRUE(f.at("logit_effects", "").at("suppressed", "").arr[0].has("value"));
    // the plain view marks the max token
    ASSERT_EQ(sh(kBin + " features show " + db + " --feature " + std::to_string(feature), &out), 0);
    EXPECT_NE(out.find("[["), std::string::npos) << out;
    EXPECT_EQ(out.find("\x1b["), std::string::npos);  // no colour when stdout is not a terminal
    // each recorded context traced again gives its recorded activations
    for (int rank = 0; rank < 6; rank += 5) {
        ASSERT_EQ(sh(kBin + " features trace" + kModelArgs + "--sae " + setup().sae + " --db " + db + " --feature " +
                         std::to_string(feature) + " --context " + std::to_string(rank) + " --json --quiet",
                     &out),
                  0)
            << out;
        Json t = json_parse(out, "trace");
        const Json& toks = t.at("tokens", "");
        ASSERT_GT(toks.size(), 2u);
        for (const Json& p : toks.arr) {
            if (p.at("recorded", "").is_null()) continue;  // the BOS position
            EXPECT_NEAR(p.at("features", "").arr[0].at("value", "").as_num(""), p.at("recorded", "").as_num(""), 1e-4);
        }
    }
    // hypothesis and effect
    ASSERT_EQ(sh(kBin + " features hypothesis" + kModelArgs + "--sae " + setup().sae + " --corpus " + setup().corpus +
                     " --tokens 2000 --pattern '^ the$' --json --quiet",
                 &out),
              0)
        << out;
    Json h = json_parse(out, "hypothesis");
    EXPECT_GT(h.at("context_rows", "").as_int(""), 20);
    ASSERT_EQ(h.at("features", "").size(), 10u);
    for (const Json& x : h.at("features", "").arr) {
        EXPECT_GE(x.at("specificity", "").as_num(""), 0.0);
        EXPECT_LE(x.at("specificity", "").as_num(""), 1.0);
    }
    ASSERT_EQ(sh(kBin + " features effect" + kModelArgs + "--sae " + setup().sae + " --corpus " + setup().corpus +
                     " --tokens 2000 --json --quiet --feature " + std::to_string(feature),
                 &out),
              0)
        << out;
    Json e = json_parse(out, "effect");
    EXPECT_GT(e.at("firings", "").as_int(""), 0);
    EXPECT_EQ(e.at("falls", "").size(), 10u);
    // errors
    EXPECT_EQ(sh(kBin + " features show " + db + " --feature 128", &err, true), 1);
    EXPECT_NE(err.find("feature 128 is out of range [0, 128)"), std::string::npos) << err;
    EXPECT_EQ(sh(kBin + " features show " + setup().corpus, &err, true), 1);
    EXPECT_NE(err.find(setup().corpus), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(sh(kBin + " features hypothesis" + kModelArgs + "--sae " + setup().sae + " --corpus " + setup().corpus +
                     " --pattern '(' ",
                 &err, true),
              1);
    EXPECT_NE(err.find("is not a valid regular expression"), std::string::npos) << err;
}
