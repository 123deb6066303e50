// test_phase.cpp: the trained 2->1 phase diagram agrees with the analytic solution away from its boundaries,
// and phase.json / phase.svg carry every cell. Cheap training: 8x8 grid x 4 seeds, 2500 steps, batch 256.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "unfold/core/context.h"
#include "unfold/report/toy_figs.h"
#include "unfold/toy/phase.h"
#include "unfold/viz/html.h"

using namespace unfold;

TEST(PhaseDiagram, TwoToOneMatchesAnalyticOnRobustCells) {
    set_num_threads(1);
    PhaseSpec s;
    s.n_features = 2;
    s.n_hidden = 1;
    s.grid_p = s.grid_r = 8;
    s.seeds = 4;
    s.steps = 2500;
    s.batch = 256;
    s.lr = 1e-2f;
    s.seed = 1;
    PhaseResult r = phase_run(s, Context::silent());
    ASSERT_EQ(r.cells.size(), 64u);
    // the grid must contain all three analytic phases among its robust cells
    int robust_by[3] = {0, 0, 0};
    for (auto& c : r.cells)
        if (c.robust) robust_by[(int)c.analytic]++;
    EXPECT_GE(robust_by[0], 5);
    EXPECT_GE(robust_by[1], 5);
    EXPECT_GE(robust_by[2], 10);
    ASSERT_GE(r.robust_cells, 30);
    EXPECT_GE(r.robust_agree, (int)std::ceil(0.9 * r.robust_cells))
        << "robust cells agreeing: " << r.robust_agree << "/" << r.robust_cells;
    // dense corner: the first feature wins (W ~ [+-1, 0]); dense and r = 10: the extra feature wins
    const PhaseCell& dense_low = r.cells[0];          // p = 1, r = 0.1
    const PhaseCell& dense_high = r.cells[7];         // p = 1, r = 10
    EXPECT_EQ(dense_low.outcome, PhaseOutcome::NOT_REPRESENTED);
    EXPECT_NEAR(std::fabs(dense_low.W[0]), 1.0, 0.15);
    EXPECT_EQ(dense_high.outcome, PhaseOutcome::DEDICATED);
    EXPECT_NEAR(std::fabs(dense_high.W[1]), 1.0, 0.15);
    // a sparse cell with r = 1-ish is an antipodal pair: W_0 ~ -W_1
    const PhaseCell& sparse = r.cells[5 * 8 + 4];
    EXPECT_EQ(sparse.outcome, PhaseOutcome::SUPERPOSITION);
    EXPECT_LT(sparse.W[0] * sparse.W[1], -0.5);

    Json j = phase_json(r);
    ASSERT_EQ(j.at("cells", "phase").size(), 64u);
    const Json& c0 = j.at("cells", "phase").arr[0];
    EXPECT_EQ(c0.at("outcome", "cell").as_str("outcome"), std::string(phase_outcome_name(r.cells[0].outcome)));
    EXPECT_EQ(c0.at("W", "cell").size(), 2u);
    EXPECT_TRUE(c0.has("density") && c0.has("ratio") && c0.has("b") && c0.has("loss") && c0.has("norms"));
    std::string svg = phase_svg(r).str("phase");
    EXPECT_EQ(markup_balance_error(svg), "");
    EXPECT_NE(svg.find("polyline"), std::string::npos);  // analytic boundaries drawn
}
