// cli_toy.cpp: the `unfold toy` command group (train here; report and phase in cli_report.cpp /
// cli_phase.cpp). A thin layer: flags -> ToyConfig -> toy_train_ex -> toy_save_run.
#include <cstdio>

#include "args.h"
#include "cli_toy.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/toy/toy.h"

namespace unfold {

static const CommandSpec kTrainSpec = {
    "unfold toy train",
    "Train toy models of superposition (many instances at once; Elhage et al. 2022).",
    "unfold toy train --features 5 --hidden 2 --instances 10 --density 1:0.05 --importance 0.9 \\\n"
    "                 --model relu --steps 10000 --seed 0 --out runs/t1\n"
    "  --density 1:0.05   log-spaced from 1 to 0.05 across instances;  0.1 = all the same;\n"
    "                     a,b,c,... = one value per instance\n"
    "  --feature-density  one entry per feature, each a value or an a:b range across instances\n"
    "                     (e.g. 0.05:0.003,0.05,0.05,0.05,0.05); replaces --density\n"
    "  --importance 0.9   importance 0.9^i;  a,b,c,... = one value per feature\n"
    "Writes OUT/model.safetensors (W [I,m,n], b [I,n]; abs: W1, W2, b), OUT/config.json, OUT/metrics.json;\n"
    "checkpoints go to OUT/checkpoint/ and --resume continues from there exactly.",
    {
        {"features", "5", "number of input features n"},
        {"hidden", "2", "hidden dimension m"},
        {"instances", "10", "number of independent models trained together"},
        {"model", "relu", "linear | relu | hidden-relu | abs"},
        {"data", "", "uniform | one-hot | signed (default: signed for abs, else uniform); one-hot = one feature chosen uniformly, value 1 (--density unused)"},
        {"density", "1:0.05", "feature probability p = 1 - S per instance (see above)"},
        {"feature-density", "", "per-feature probabilities (see above)"},
        {"importance", "0.9", "feature importance (see above)"},
        {"correlated-pairs", "0", "feature pairs (2k,2k+1) that share one presence draw"},
        {"anticorrelated-pairs", "0", "following pairs that are never active together (needs p <= 0.5)"},
        {"l1", "0", "L1 penalty on the hidden activations"},
        {"lr", "0.001", "AdamW learning rate"},
        {"weight-decay", "0.01", "AdamW decoupled weight decay (torch default; the notebook's setting)"},
        {"batch", "1024", "batch size (a fresh batch every step)"},
        {"steps", "10000", "training steps"},
        {"schedule", "constant", "constant | linear | cosine"},
        {"warmup", "0", "linear warm-up steps"},
        {"eval-batch", "8192", "examples in the final evaluation batch"},
        {"init-std", "0", "weight init std (0 = notebook xavier: sqrt(2 / (m (n + instances))))"},
        {"checkpoint-every", "1000", "checkpoint interval in steps (0 = only at the end)"},
        {"resume", "", "continue from OUT/checkpoint if present", true},
        {"out", "", "output folder (required)"},
    },
};

static const char* kConfigFlags[] = {"features", "hidden", "instances", "model", "data", "density", "feature-density",
                                     "importance", "correlated-pairs", "anticorrelated-pairs", "l1", "lr",
                                     "weight-decay", "batch", "eval-batch", "schedule", "warmup", "init-std", "seed"};

static int to_int(const Args& a, const char* name, int64_t lo, int64_t hi) {
    int64_t v = a.i64(name);
    UNFOLD_CHECK(v >= lo && v <= hi, "--%s: %lld is out of range [%lld, %lld]", name, (long long)v, (long long)lo,
                 (long long)hi);
    return (int)v;
}

static ToyConfig config_from_args(const Args& a) {
    ToyConfig c;
    c.n_features = to_int(a, "features", 1, 1000000);
    c.n_hidden = to_int(a, "hidden", 1, 512);
    c.n_instances = to_int(a, "instances", 1, 1000000);
    c.kind = parse_toy_kind(a.str("model"));
    std::string data = a.str("data");
    c.data = data.empty() ? (c.kind == ToyKind::ABS ? ToyData::SIGNED : ToyData::UNIFORM) : parse_toy_data(data);
    if (!a.str("feature-density").empty()) {
        UNFOLD_CHECK(!a.given("density"), "--density and --feature-density are mutually exclusive");
        toy_set_feature_density(c, a.str("feature-density"));
    } else {
        toy_set_density(c, toy_parse_density(a.str("density"), c.n_instances));
    }
    toy_set_importance(c, toy_parse_importance(a.str("importance"), c.n_features));
    c.correlated_pairs = to_int(a, "correlated-pairs", 0, 1000000);
    c.anticorrelated_pairs = to_int(a, "anticorrelated-pairs", 0, 1000000);
    c.l1_hidden = (float)a.f64("l1");
    c.lr = (float)a.f64("lr");
    c.weight_decay = (float)a.f64("weight-decay");
    c.batch = to_int(a, "batch", 1, 1 << 30);
    c.steps = a.i64("steps");
    c.schedule = a.str("schedule");
    c.warmup_steps = a.i64("warmup");
    c.eval_batch = to_int(a, "eval-batch", 1, 1 << 30);
    c.init_std = (float)a.f64("init-std");
    c.seed = a.seed();
    c.validate("unfold toy train");
    return c;
}

static int cmd_train(int argc, char** argv) {
    Args a = parse_args(kTrainSpec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "unfold toy train: --out is required");
    const std::string ckdir = path_join(out, "checkpoint");
    ToyConfig cfg = config_from_args(a);
    const bool resume = a.flag("resume");
    if (resume && file_exists(path_join(ckdir, "config.json"))) {
        bool any = false;
        for (const char* f : kConfigFlags) any = any || a.given(f);
        if (!any) {  // `unfold toy train --out DIR --resume [--steps N]`: the checkpoint's config
            const std::string p = path_join(ckdir, "config.json");
            cfg = ToyConfig::from_json(json_load(p), p);
            if (a.given("steps")) cfg.steps = a.i64("steps");
            cfg.validate("unfold toy train");
        }
    }
    make_dirs(out);
    ToyModel model = toy_init(cfg);
    a.ctx.info("training %d x %s toy model%s (%d features -> %d hidden), %lld steps", cfg.n_instances,
             toy_kind_name(cfg.kind), cfg.n_instances > 1 ? "s" : "", cfg.n_features, cfg.n_hidden,
             (long long)cfg.steps);
    ToyTrainOptions opt;
    opt.ctx = a.ctx;
    opt.checkpoint_dir = ckdir;
    opt.checkpoint_every = a.i64("checkpoint-every");
    UNFOLD_CHECK(opt.checkpoint_every >= 0, "--checkpoint-every must be >= 0");
    opt.resume = resume;
    toy_train_ex(model, opt);
    toy_save_run(model, out);
    Json metrics = json_load(path_join(out, "metrics.json"));
    std::printf("instance  density    loss       dims/feature\n");
    const Json& insts = metrics.at("instances", "metrics.json");
    for (const Json& e : insts.arr)
        std::printf("%8d  %-9.4g  %-9.6f  %.3f\n", (int)e.get_int("instance", 0), e.get_num("density", 0),
                    e.get_num("loss", 0), e.get_num("dims_per_feature", 0));
    std::printf("wrote %s/model.safetensors, %s/config.json, %s/metrics.json\n", out.c_str(), out.c_str(), out.c_str());
    return 0;
}

int cmd_toy(int argc, char** argv) {
    static const std::vector<CommandEntry> cmds = {
        {"train", "train toy models of superposition", cmd_train},
        {"report", "HTML report of a trained run folder", toy_cmd_report},
        {"phase", "phase diagrams of superposition", toy_cmd_phase},
    };
    return dispatch("unfold toy", "toy models of superposition (Elhage et al. 2022)", cmds, argc, argv);
}

}  // namespace unfold
