// test_hooks_tl.cpp: unfold's hook points against TransformerLens 3.9 itself. The fixtures
// (tools/reference/tl_hooks_fixture.py) hold, for the tiny GPT-2 and Llama models, every activation a float64
// HookedTransformer caches (use_attn_result, use_hook_mlp_in; hook_attn_in and hook_q/k/v_input from runs
// with use_attn_in / use_split_qkv_input) and the logits after adding a fixed delta at each of 40+ hooks.
//   - every hook TransformerLens has is an unfold hook, and every unfold hook is one of TransformerLens';
//   - each cached activation has TL's shape and values: |d| <= 2e-6 + 2e-5 * max|ref| per tensor (float32
//     against float64), masked attention scores -inf in both;
//   - adding the delta at a hook in unfold gives TL's edited logits within 2e-5 (abs), so every hook is
//     writable and the later layers read the edited values (a hook that did not write back would miss by
//     the edit's effect, >= 1e-3 by the generator's check).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "lm_testing.h"
#include "unfold/io/safetensors.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/hooks.h"

using namespace unfold;
using namespace unfold::lm_testing;

static const std::string kFix = std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/lm/";

static bool per_head_input(const std::string& n) {
    return n.find("hook_attn_in") != std::string::npos || n.find("_input") != std::string::npos;
}

// max |a - b| over a tensor; the fixture stores TL's -inf (masked scores) as the lowest float32, which must
// meet -inf here (anything else against -inf is a failure)
static double max_diff(const Tensor& ref, const float* got) {
    double worst = 0;
    for (int64_t i = 0; i < ref.numel(); i++) {
        const bool ref_inf = ref[i] == std::numeric_limits<float>::lowest();
        if (ref_inf || std::isinf(got[i])) {
            if (!ref_inf || got[i] != -INFINITY) return INFINITY;
            continue;
        }
        worst = std::max(worst, (double)std::fabs(ref[i] - got[i]));
    }
    return worst;
}

static double max_abs(const Tensor& t) {
    double m = 0;
    for (float v : t.data)
        if (v != std::numeric_limits<float>::lowest()) m = std::max(m, (double)std::fabs(v));
    return m;
}

static void check_model(const std::string& name) {
    LmModel m;
    lm_load(m, kFix + name + "_tiny");
    SafeTensorsReader ref(kFix + name + "_tiny_hooks_tl.safetensors");
    auto ids64 = ref.read_i64("ids");
    const int64_t B = ref.entry("ids").shape[0], T = ref.entry("ids").shape[1];
    std::vector<int32_t> ids(ids64.begin(), ids64.end());
    std::vector<std::string> acts, edits;
    for (const StEntry& e : ref.entries()) {
        if (e.name.rfind("act/", 0) == 0) acts.push_back(e.name.substr(4));
        const size_t d = e.name.rfind("/delta");
        if (e.name.rfind("edit/", 0) == 0 && d != std::string::npos) edits.push_back(e.name.substr(5, d - 5));
    }
    // the same set of hook points (TL has no hook_attn_in for grouped-query attention: the Llama fixture lacks it)
    std::set<std::string> tl(acts.begin(), acts.end()), ours;
    for (const auto& n : hook_names(m.cfg)) {
        ours.insert(n);
        if (name == "llama" && n.find("hook_attn_in") != std::string::npos) continue;
        EXPECT_TRUE(tl.count(n)) << name << ": unfold hook " << n << " is not in TransformerLens' cache";
    }
    for (const auto& n : acts) EXPECT_TRUE(ours.count(n)) << name << ": TransformerLens hook " << n << " is missing";
    EXPECT_GE(acts.size(), 50u);

    // the values: all hooks but the per-head inputs in one pass, those in a second one
    Tensor logits_ref = ref.read_f32("logits", {B, T, m.cfg.vocab});
    double worst_rel = 0, worst_logits = 0;
    std::string worst_name;
    for (int pass = 0; pass < 2; pass++) {
        ActivationCache cache;
        HookSet h;
        for (const auto& n : acts)
            if (per_head_input(n) == (pass == 1)) h.add(n, hook_cache(cache));
        auto logits = forward_logits(m, ids, B, &h);
        worst_logits = std::max(worst_logits, max_diff(logits_ref, logits.data()));
        for (const auto& n : acts) {
            if (per_head_input(n) != (pass == 1)) continue;
            const Tensor& got = cache.at(n);
            Tensor r = ref.read_f32("act/" + n, got.shape);  // throws if TL's shape differs
            const double d = max_diff(r, got.ptr()), mx = max_abs(r);
            EXPECT_LE(d, 2e-6 + 2e-5 * mx) << name << ": " << n << " max|d| " << d << " max|ref| " << mx;
            if (d / std::max(mx, 1e-30) > worst_rel) {
                worst_rel = d / std::max(mx, 1e-30);
                worst_name = n;
            }
        }
    }
    EXPECT_LT(worst_logits, 5e-5) << name << ": logits";

    // the edits: add TL's delta at the hook, compare the logits
    double worst_edit = 0, smallest_effect = INFINITY;
    std::string worst_edit_name;
    for (const auto& n : edits) {
        Tensor delta = ref.read_f32("edit/" + n + "/delta");
        Tensor want = ref.read_f32("edit/" + n + "/logits", {B, T, m.cfg.vocab});
        HookSet h;
        h.add(n, [&](const std::string&, float* d, const Shape& s) {
            ASSERT_EQ(s, delta.shape) << n;
            for (int64_t i = 0; i < delta.numel(); i++) d[i] += delta[i];
        });
        auto got = forward_logits(m, ids, B, &h);
        const double d = max_diff(want, got.data());
        EXPECT_LT(d, 2e-5) << name << ": logits after an edit at " << n;
        if (d > worst_edit) {
            worst_edit = d;
            worst_edit_name = n;
        }
        smallest_effect = std::min(smallest_effect, max_diff(want, logits_ref.ptr()));
    }
    EXPECT_GT(smallest_effect, 1e-3) << name << ": every edit must move the logits";
    EXPECT_GE(edits.size(), 35u);
    std::printf("%s vs TransformerLens: %zu hooks, worst max|d|/max|ref| %.3g (%s); logits %.3g; %zu edits, worst "
                "logits max|d| %.3g (%s), smallest edit effect %.3g\n",
                name.c_str(), acts.size(), worst_rel, worst_name.c_str(), worst_logits, edits.size(), worst_edit,
                worst_edit_name.c_str(), smallest_effect);
}

TEST(HooksTransformerLens, Gpt2) { check_model("gpt2"); }

TEST(HooksTransformerLens, Llama) { check_model("llama"); }
