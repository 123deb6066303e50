// cli_phase.cpp: `unfold toy phase`, a superposition phase diagram (trained cells vs the analytic model).
#include <cstdio>

#include "args.h"
#include "cli_toy.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/report/toy_figs.h"
#include "unfold/toy/phase.h"

namespace unfold {

static const CommandSpec kPhaseSpec = {
    "unfold toy phase",
    "Phase diagram of superposition: train one model per (density, relative importance) cell.",
    "unfold toy phase --features 2 --hidden 1 --density 1:0.01 --ratio 0.1:10 --grid 12 --out runs/p1\n"
    "unfold toy phase --features 3 --hidden 2 --grid 10 --out runs/p3\n"
    "  --density HI:LO  feature probability 1-S, log-spaced over the grid\n"
    "  --ratio LO:HI    importance of the last (extra) feature relative to the others, log-spaced\n"
    "  --grid G or GPxGR  cells per axis\n"
    "All cells (x seeds) are instances of one training run; per cell the lowest-loss seed is kept.\n"
    "Writes OUT/phase.json (cells with density, ratio, outcome, analytic call, norms, W, b, loss) and\n"
    "OUT/phase.svg (trained outcomes with the analytic boundaries drawn over them).",
    {
        {"features", "2", "number of features n (the analytic model covers 2 and 3)"},
        {"hidden", "1", "hidden dimension m (< n)"},
        {"model", "relu", "linear | relu | hidden-relu"},
        {"density", "1:0.01", "density range HI:LO"},
        {"ratio", "0.1:10", "relative-importance range LO:HI"},
        {"grid", "12", "grid size: G or GPxGR"},
        {"seeds", "4", "independent seeds per cell (lowest loss kept)"},
        {"steps", "4000", "training steps"},
        {"batch", "1024", "batch size"},
        {"lr", "0.01", "learning rate (AdamW)"},
        {"weight-decay", "0", "AdamW weight decay"},
        {"init-std", "0", "init std (0 = sqrt(2/(m(n+10))))"},
        {"out", "", "output folder (required)"},
    },
};

static void parse_range(const std::string& s, const char* flag, double* a, double* b) {
    auto parts = split_list(s, ':');
    UNFOLD_CHECK(parts.size() == 2, "--%s: expected A:B, got '%s'", flag, s.c_str());
    *a = parse_double(parts[0], std::string("--") + flag);
    *b = parse_double(parts[1], std::string("--") + flag);
}

int toy_cmd_phase(int argc, char** argv) {
    Args a = parse_args(kPhaseSpec, argc, argv);
    if (a.help) return 0;
    PhaseSpec s;
    s.n_features = a.i32("features", 1);
    s.n_hidden = a.i32("hidden", 1);
    UNFOLD_CHECK(s.n_features >= 2 && s.n_features <= 64, "--features: expected 2..64, got %d", s.n_features);
    s.kind = parse_toy_kind(a.str("model"));
    UNFOLD_CHECK(s.kind != ToyKind::ABS, "--model: the phase diagram needs linear, relu or hidden-relu");
    parse_range(a.str("density"), "density", &s.p_hi, &s.p_lo);
    parse_range(a.str("ratio"), "ratio", &s.r_lo, &s.r_hi);
    std::string g = a.str("grid");
    size_t x = g.find('x');
    if (x == std::string::npos) {
        s.grid_p = s.grid_r = (int)parse_int(g, "--grid");
    } else {
        s.grid_p = (int)parse_int(g.substr(0, x), "--grid");
        s.grid_r = (int)parse_int(g.substr(x + 1), "--grid");
    }
    UNFOLD_CHECK(s.grid_p >= 1 && s.grid_r >= 1 && s.grid_p <= 200 && s.grid_r <= 200,
                 "--grid: expected 1..200 cells per axis, got '%s'", g.c_str());
    s.seeds = a.i32("seeds", 1);
    UNFOLD_CHECK(s.seeds >= 1 && s.seeds <= 64, "--seeds: expected 1..64");
    s.steps = a.i64("steps");
    UNFOLD_CHECK(s.steps >= 1, "--steps: must be >= 1");
    s.batch = a.i32("batch", 1);
    UNFOLD_CHECK(s.batch >= 1 && s.batch <= (1 << 20), "--batch: expected 1..1048576");
    s.lr = (float)a.f64("lr");
    s.weight_decay = (float)a.f64("weight-decay");
    s.init_std = (float)a.f64("init-std");
    s.seed = a.seed();
    std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    phase_config(s);  // validates the spec before anything is written
    make_dirs(out);
    a.ctx.info("phase: %d x %d cells x %d seeds = %d instances of %d->%d, %lld steps", s.grid_p, s.grid_r, s.seeds,
             s.grid_p * s.grid_r * s.seeds, s.n_features, s.n_hidden, (long long)s.steps);
    PhaseResult r = phase_run(s, a.ctx);
    json_save(path_join(out, "phase.json"), phase_json(r));
    write_file_atomic(path_join(out, "phase.svg"), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" +
                                                      phase_svg(r).str("phase") + "\n");
    if (s.n_features <= 3)
        a.ctx.info("phase: robust cells agreeing with the analytic model: %d/%d (all cells %d/%zu)", r.robust_agree,
                 r.robust_cells, r.all_agree, r.cells.size());
    printf("%s\n%s\n", path_join(out, "phase.json").c_str(), path_join(out, "phase.svg").c_str());
    return 0;
}

}  // namespace unfold
