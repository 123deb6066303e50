// test_optim.cpp: Adam / AdamW against torch.optim trajectories (tests/fixtures/io/optim_torch.txt,
// written by tools/reference/io_fixtures.py with torch 1.13, float32, 5 steps), range updates equal to
// whole-buffer updates, thread-count independence, and gradient clipping.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "unfold/core/optim.h"
#include "unfold/core/rng.h"

using namespace unfold;

namespace {

struct TorchRun {
    std::string kind;
    AdamConfig cfg;
    std::vector<float> init;
    std::vector<std::vector<float>> grads, params;
};

// Reads the plain-text fixture (format described in tools/reference/io_fixtures.py).
std::vector<TorchRun> load_runs(const std::string& path) {
    std::ifstream f(path);
    EXPECT_TRUE(f.good()) << "cannot open " << path;
    std::vector<TorchRun> runs;
    std::string line;
    auto values = [](std::istringstream& is) {
        std::vector<float> v;
        double x;
        while (is >> x) v.push_back((float)x);
        return v;
    };
    while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string tag;
        is >> tag;
        if (tag == "run") {
            TorchRun r;
            double lr, b1, b2, eps, wd;
            int n, steps;
            is >> r.kind >> lr >> b1 >> b2 >> eps >> wd >> n >> steps;
            r.cfg.lr = (float)lr, r.cfg.beta1 = (float)b1, r.cfg.beta2 = (float)b2, r.cfg.eps = (float)eps;
            r.cfg.weight_decay = (float)wd;
            runs.push_back(r);
        } else if (tag == "init") {
            runs.back().init = values(is);
        } else if (tag == "grad") {
            runs.back().grads.push_back(values(is));
        } else if (tag == "param") {
            runs.back().params.push_back(values(is));
        }
    }
    return runs;
}

}  // namespace

TEST(Optim, MatchesTorchAdamAndAdamW) {
    std::vector<TorchRun> ref = load_runs(std::string(UNFOLD_SOURCE_DIR) + "/tests/fixtures/io/optim_torch.txt");
    int runs = 0;
    for (const TorchRun& run : ref) {
        const std::string& kind = run.kind;
        SCOPED_TRACE(kind);
        const AdamConfig& cfg = run.cfg;
        EXPECT_EQ(kind == "adamw", cfg.weight_decay > 0);
        std::vector<float> p = run.init;
        ASSERT_EQ(p.size(), 8u);
        AdamState st;
        st.init(p.size());
        ASSERT_EQ(run.grads.size(), 5u);
        ASSERT_EQ(run.params.size(), 5u);
        double worst = 0;
        for (size_t step = 0; step < run.grads.size(); step++) {
            const std::vector<float>& g = run.grads[step];
            ASSERT_EQ(g.size(), p.size());
            adam_step(st, cfg, cfg.lr, p.data(), g.data(), p.size());
            const std::vector<float>& want = run.params[step];
            ASSERT_EQ(want.size(), p.size());
            for (size_t i = 0; i < p.size(); i++) {
                double rel = std::fabs((double)p[i] - want[i]) / std::fabs((double)want[i]);
                worst = std::max(worst, rel);
                EXPECT_LE(rel, 1e-6) << "step " << step + 1 << " param " << i << ": " << p[i] << " vs torch " << want[i];
            }
        }
        EXPECT_EQ(st.t, 5);
        // the parameters did move (a no-op optimiser would fail above, but make it explicit)
        EXPECT_GT(std::fabs(p[0] - 0.5f), 1e-2f);
        std::printf("  %s: worst relative difference to torch over 5 steps: %.2e\n", kind.c_str(), worst);
        runs++;
    }
    EXPECT_EQ(runs, 2);
}

// Decoupled weight decay: with zero gradients AdamW only shrinks the weights by (1 - lr*wd) per step.
TEST(Optim, AdamWDecayWithZeroGradient) {
    AdamConfig cfg;
    cfg.weight_decay = 0.1f;
    std::vector<float> p = {2.0f, -4.0f}, g = {0.0f, 0.0f};
    AdamState st;
    st.init(2);
    for (int s = 0; s < 3; s++) adam_step(st, cfg, 0.5f, p.data(), g.data(), 2);
    EXPECT_FLOAT_EQ(p[0], 2.0f * 0.95f * 0.95f * 0.95f);
    EXPECT_FLOAT_EQ(p[1], -4.0f * 0.95f * 0.95f * 0.95f);
    // plain Adam: first step moves every parameter by ~lr against the gradient sign
    AdamConfig plain;
    std::vector<float> q = {1.0f, 1.0f}, gq = {3.0f, -0.001f};
    AdamState sq;
    sq.init(2);
    adam_step(sq, plain, 0.01f, q.data(), gq.data(), 2);
    EXPECT_NEAR(q[0], 0.99f, 1e-6);
    EXPECT_NEAR(q[1], 1.01f, 1e-5);
}

TEST(Optim, RangeUpdatesEqualWholeAndThreadIndependent) {
    const size_t n = 100001;  // above the parallel threshold
    std::vector<float> p0(n), g(n);
    rng_fill_normal(p0.data(), n, 1, 0, 0, 0.0f, 1.0f);
    rng_fill_normal(g.data(), n, 1, 1, 0, 0.0f, 1.0f);
    AdamConfig cfg;
    cfg.weight_decay = 0.01f;
    const int saved = omp_get_max_threads();

    std::vector<float> a = p0, b = p0, c = p0;
    AdamState sa, sb, sc;
    sa.init(n);
    sb.init(n);
    sc.init(n);
    omp_set_num_threads(1);
    for (int s = 0; s < 3; s++) adam_step(sa, cfg, 1e-3f, a.data(), g.data(), n);
    omp_set_num_threads(2);
    for (int s = 0; s < 3; s++) adam_step(sb, cfg, 1e-3f, b.data(), g.data(), n);
    for (int s = 0; s < 3; s++) {
        adam_begin_step(sc);
        adam_update_range(sc, cfg, 1e-3f, c.data(), g.data(), 0, 12345);
        adam_update_range(sc, cfg, 1e-3f, c.data(), g.data(), 12345, n);
    }
    omp_set_num_threads(saved);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * 4));
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), n * 4));
    EXPECT_EQ(0, std::memcmp(sa.m.data(), sc.m.data(), n * 4));
    EXPECT_EQ(0, std::memcmp(sa.v.data(), sc.v.data(), n * 4));
    EXPECT_NE(0, std::memcmp(a.data(), p0.data(), n * 4));
}

TEST(Optim, ClipGradNorm) {
    std::vector<float> g = {3.0f, 4.0f};
    EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 10.0), 5.0);  // below the limit: untouched
    EXPECT_EQ(g[0], 3.0f);
    EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 1.0), 5.0);  // returns the norm before clipping
    EXPECT_NEAR(std::sqrt(g[0] * g[0] + g[1] * g[1]), 1.0, 1e-5);
    EXPECT_NEAR(g[0] / g[1], 0.75, 1e-6);  // direction kept
    std::vector<float> z = {0.0f, 0.0f};
    EXPECT_EQ(clip_grad_norm(z.data(), 2, 1.0), 0.0);
    std::vector<float> h = {3.0f, 4.0f};
    EXPECT_DOUBLE_EQ(clip_grad_norm(h.data(), 2, 0.0), 5.0);  // max_norm 0: measure only
    EXPECT_EQ(h[1], 4.0f);
}
