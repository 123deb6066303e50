// cli_data.cpp: `unfold data` — synthetic activation sets and shard-folder inspection.
//   unfold data synth --d 256 --true-features 1024 --p-active 0.01 --tokens 1000000 --out data/planted
//   unfold data info data/planted
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/data/synth.h"
#include "unfold/io/fileio.h"
#include "unfold/io/shards.h"

namespace unfold {

namespace {

int run_synth(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold data synth",
        "Write planted-dictionary activations (shard folder) and the ground-truth dictionary.",
        "unfold data synth --d 256 --true-features 1024 --p-active 0.01 --tokens 1000000 --out data/planted\n"
        "Recipe (as the torch_sae.py peer): G = Gaussian rows normalised to unit norm; each row activates each true\n"
        "feature independently w.p. p-active with magnitude U[0,1]; x = sum c_i G_i + noise * N(0,1).\n"
        "Writes OUT/index.json, OUT/shard_*.npy [rows, d] and OUT/ground_truth.npy [true-features, d].\n"
        "Memory is bounded by one shard; --resume continues an interrupted folder with the same recipe.",
        {{"d", "256", "activation dimension"},
         {"true-features", "1024", "number of planted features"},
         {"p-active", "0.01", "probability that a feature is active in a row"},
         {"noise", "0", "std of added Gaussian noise"},
         {"clusters", "0", "group the true features into this many clusters (feature i in cluster i mod C; 0 = none)"},
         {"cluster-spread", "0.5", "scatter of a cluster's features around its centre (within-cluster cosine ~ 1/(1+s^2))"},
         {"tokens", "1000000", "rows to write"},
         {"rows-per-shard", "65536", "rows per .npy shard"},
         {"f16", "", "store rows as float16", true},
         {"resume", "", "continue an interrupted folder", true},
         {"out", "", "output folder (required)"}}};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    PlantedConfig c;
    c.d = a.i64("d");
    c.n_true = a.i64("true-features");
    c.p_active = a.f64("p-active");
    c.noise = (float)a.f64("noise");
    c.seed = a.seed();
    c.clusters = a.i64("clusters");
    c.cluster_spread = (float)a.f64("cluster-spread");
    c.validate();
    SynthOptions o;
    o.tokens = a.i64("tokens");
    o.rows_per_shard = a.i64("rows-per-shard");
    UNFOLD_CHECK(o.rows_per_shard > 0, "--rows-per-shard must be > 0");
    o.f16 = a.flag("f16");
    o.resume = a.flag("resume");
    o.ctx = a.ctx;
    const std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "--out is required");
    int64_t rows = synth_write(c, o, out);
    ShardReader rd(out);
    std::printf("wrote %lld rows x d=%lld in %lld shards (%s) to %s\n", (long long)rows, (long long)c.d,
                (long long)rd.num_shards(), o.f16 ? "f16" : "f32", out.c_str());
    std::printf("  %s\n  %s\n", path_join(out, "index.json").c_str(), path_join(out, "ground_truth.npy").c_str());
    return 0;
}

int run_info(int argc, char** argv) {
    static const CommandSpec spec = {"unfold data info", "Validate a shard folder and print its summary.",
                                     "unfold data info data/planted", {}, 1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    ShardReader rd(a.positional[0]);  // validates index vs files
    const ShardIndex& ix = rd.index();
    std::printf("%s: %lld rows x d=%lld, %s, %lld shards (%lld rows each), %s\n", rd.dir().c_str(),
                (long long)ix.rows, (long long)ix.d, ix.f16 ? "f16" : "f32", (long long)rd.num_shards(),
                (long long)ix.rows_per_shard, ix.complete ? "complete" : "INCOMPLETE (resumable)");
    if (!ix.columns.empty()) {
        std::printf("columns:");
        for (const auto& c : ix.columns) std::printf(" %s", c.c_str());
        std::printf("\n");
    }
    if (rd.has_ground_truth()) {
        Tensor g = rd.read_ground_truth();
        std::printf("ground truth: %s [%lld, %lld] unit rows\n", ix.ground_truth.c_str(), (long long)g.dim(0),
                    (long long)g.dim(1));
    }
    if (ix.meta.is_obj() && ix.meta.size()) std::printf("meta: %s\n", ix.meta.dump(-1).c_str());
    return 0;
}

}  // namespace

int cmd_data(int argc, char** argv) {
    return dispatch("data", "Activation data sets (synthetic, shard folders).",
                    {{"synth", "write planted-dictionary activations + ground truth", run_synth},
                     {"info", "validate and summarise a shard folder", run_info}},
                    argc, argv);
}

}  // namespace unfold
