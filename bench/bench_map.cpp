// bench_map.cpp: `unfold sae map` on a large dictionary: planted clustered directions (G [n, d], --clusters
// clusters) saved as an SAE folder, then loaded, mapped (kNN, fuzzy graph, spectral init, SGD layout,
// families against a second, smaller SAE when --small > 0) and written as the HTML page, as the command does.
//
//   bench_map [--n 16384] [--d 768] [--clusters 256] [--small 0] [--knn auto] [--threads 2] [--epochs 0]
// Prints one JSON line: seconds per stage and in total, and the layout's neighbour preservation over the
// planted clusters (share of each point's 10 nearest 2-D neighbours in its own cluster) against chance.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "args.h"
#include "unfold/data/synth.h"
#include "unfold/io/fileio.h"
#include "unfold/io/json.h"
#include "unfold/map/decoder_map.h"
#include "unfold/sae/sae.h"

using namespace unfold;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a) { return std::chrono::duration<double>(clk::now() - a).count(); }

static void save_dictionary(const std::string& dir, const Tensor& G) {
    SaeConfig c;
    c.arch = SaeArch::TOPK;
    c.d_in = G.dim(1);
    c.d_sae = G.dim(0);
    c.k = 16;
    Sae s = sae_init(c, 0);
    float* W = s.W_dec();
    float* E = s.W_enc();
    for (int64_t f = 0; f < c.d_sae; f++)
        for (int64_t t = 0; t < c.d_in; t++) {
            W[f * c.d_in + t] = G[(size_t)(f * c.d_in + t)];
            E[t * c.d_sae + f] = G[(size_t)(f * c.d_in + t)];
        }
    sae_save(dir, s, nullptr, Json::object());
}

int main(int argc, char** argv) {
    static const CommandSpec spec = {"bench_map", "sae map speed on a planted clustered dictionary",
                                     "bench_map --n 16384 --d 768 --threads 2",
                                     {{"n", "16384", "decoder directions of the (large) SAE"},
                                      {"d", "768", "d_in"},
                                      {"clusters", "256", "planted clusters"},
                                      {"spread", "1.0", "cluster spread"},
                                      {"small", "0", "also map a smaller SAE of this many cluster centres + noise (families)"},
                                      {"knn", "auto", "auto | exact | hnsw"},
                                      {"epochs", "0", "UMAP epochs (0 = default)"}}};
    Args a = parse_args(spec, argc - 1, argv + 1);
    if (a.help) return 0;
    PlantedConfig pc;
    pc.d = a.i64("d");
    pc.n_true = a.i64("n");
    pc.clusters = a.i64("clusters");
    pc.cluster_spread = (float)a.f64("spread");
    pc.seed = a.seed();
    const Planted p = planted_make(pc);
    const std::string root = (std::filesystem::temp_directory_path() / ("unfold_bench_map_" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(root);
    save_dictionary(path_join(root, "large"), p.G);
    const int64_t small = a.i64("small");
    if (small > 0) {
        PlantedConfig sc = pc;
        sc.n_true = small;
        sc.clusters = std::min<int64_t>(pc.clusters, small);
        sc.cluster_spread = pc.cluster_spread * 0.5f;
        save_dictionary(path_join(root, "small"), planted_make(sc).G);
    }
    auto t0 = clk::now();
    std::vector<MapInput> in;
    if (small > 0) in.push_back(map_input_load(path_join(root, "small")));
    in.push_back(map_input_load(path_join(root, "large")));
    const double load_s = secs(t0);
    DecoderMapOptions o;
    o.ctx = a.ctx;
    o.ctx.quiet = true;
    o.umap.seed = a.seed();
    o.umap.n_epochs = (int)a.i64("epochs");
    o.umap.knn.method = parse_knn_method(a.str("knn"));
    auto t1 = clk::now();
    DecoderMap m = decoder_map(in, o);
    const double map_s = secs(t1);
    auto t2 = clk::now();
    const std::string html = decoder_map_html(m, MapHtmlOptions{});
    write_file_atomic(path_join(root, "map.html"), html);
    const double html_s = secs(t2), total_s = secs(t0);
    // neighbour preservation of the large SAE's points over the planted clusters
    const MapSae& L = m.saes.back();
    std::vector<float> Y;
    std::vector<int64_t> lab;
    for (size_t i = 0; i < L.feature.size(); i++) {
        Y.push_back(L.x[i]);
        Y.push_back(L.y[i]);
        lab.push_back(planted_cluster(pc, L.feature[i]));
    }
    // on a sample of points (exact 2-D neighbours are quadratic)
    std::vector<int64_t> lab_s = lab;
    const int64_t stride = std::max<int64_t>(1, (int64_t)lab.size() / 4096);
    for (size_t i = 0; i < lab_s.size(); i++)
        if ((int64_t)i % stride) lab_s[i] = -1;
    const double np = neighbour_preservation(Y, lab_s, 10);
    Json j = Json::object();
    j["n"] = pc.n_true;
    j["d"] = pc.d;
    j["small"] = small;
    j["threads"] = a.ctx.threads;
    j["knn"] = m.knn_exact ? "exact" : "hnsw";
    j["epochs"] = m.umap.n_epochs;
    j["load_s"] = load_s;
    j["knn_s"] = m.timings.knn_s;
    j["graph_s"] = m.timings.graph_s;
    j["init_s"] = m.timings.init_s;
    j["layout_s"] = m.timings.sgd_s;
    j["families_s"] = m.families_s;
    j["html_s"] = html_s;
    j["map_s"] = map_s;
    j["total_s"] = total_s;
    j["html_bytes"] = (int64_t)html.size();
    j["neighbour_preservation"] = np;
    j["chance"] = 1.0 / (double)pc.clusters;
    std::printf("%s\n", j.dump(-1).c_str());
    std::filesystem::remove_all(root);
    return 0;
}
