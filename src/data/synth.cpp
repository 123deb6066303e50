// synth.cpp: planted-dictionary generator and the streamed shard-folder writer behind `unfold data synth`.
#include "unfold/data/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/core/rng.h"
#include "unfold/core/strings.h"
#include "unfold/io/shards.h"

namespace unfold {

namespace {
// RNG streams (distinct purposes never share one)
constexpr uint64_t kStreamDict = 0x51;
constexpr uint64_t kStreamRows = 0x52;
constexpr uint64_t kStreamNoise = 0x53;
constexpr uint64_t kStreamCentres = 0x54;

void normalise_rows(float* M, int64_t n, int64_t d) {
    for (int64_t i = 0; i < n; i++) {
        float* g = M + i * d;
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)g[j] * g[j];
        float inv = (float)(1.0 / std::sqrt(std::max(s, 1e-30)));
        for (int64_t j = 0; j < d; j++) g[j] *= inv;
    }
}
}  // namespace

Json PlantedConfig::to_json() const {
    Json j = Json::object();
    j["recipe"] = "planted";
    j["d"] = d;
    j["true_features"] = n_true;
    j["p_active"] = p_active;
    j["noise"] = noise;
    j["seed"] = seed;
    if (clusters > 0) {
        j["clusters"] = clusters;
        j["cluster_spread"] = cluster_spread;
    }
    return j;
}

void PlantedConfig::validate() const {
    UNFOLD_CHECK(d > 0 && d <= (1 << 20), "planted: d must be in 1..1048576, got %lld", (long long)d);
    UNFOLD_CHECK(n_true > 0 && n_true <= (1 << 24), "planted: true features must be in 1..16777216, got %lld",
                 (long long)n_true);
    UNFOLD_CHECK(p_active >= 0.0 && p_active <= 1.0, "planted: p_active must be in [0, 1], got %g", p_active);
    UNFOLD_CHECK(std::isfinite(noise) && noise >= 0.0f, "planted: noise must be >= 0, got %g", (double)noise);
    UNFOLD_CHECK(clusters >= 0 && clusters <= n_true, "planted: clusters must be in 0..%lld (the true features), got %lld",
                 (long long)n_true, (long long)clusters);
    UNFOLD_CHECK(std::isfinite(cluster_spread) && cluster_spread >= 0.0f,
                 "planted: cluster spread must be finite and >= 0, got %g", (double)cluster_spread);
}

int64_t planted_cluster(const PlantedConfig& cfg, int64_t i) { return cfg.clusters > 0 ? i % cfg.clusters : -1; }

Tensor planted_cluster_centres(const PlantedConfig& cfg) {
    if (cfg.clusters <= 0) return Tensor();
    Tensor C({cfg.clusters, cfg.d});
    rng_fill_normal(C.ptr(), (size_t)C.numel(), cfg.seed, kStreamCentres, 0, 0.0f, 1.0f);
    normalise_rows(C.ptr(), cfg.clusters, cfg.d);
    return C;
}

Planted planted_make(const PlantedConfig& cfg) {
    cfg.validate();
    Planted p;
    p.cfg = cfg;
    p.G = Tensor({cfg.n_true, cfg.d});
    rng_fill_normal(p.G.ptr(), (size_t)p.G.numel(), cfg.seed, kStreamDict, 0, 0.0f, 1.0f);
    if (cfg.clusters > 0) {
        const Tensor C = planted_cluster_centres(cfg);
        const float s = cfg.cluster_spread / (float)std::sqrt((double)cfg.d);
        for (int64_t i = 0; i < cfg.n_true; i++) {
            float* g = p.G.ptr() + i * cfg.d;
            const float* c = C.ptr() + planted_cluster(cfg, i) * cfg.d;
            for (int64_t j = 0; j < cfg.d; j++) g[j] = c[j] + s * g[j];
        }
    }
    normalise_rows(p.G.ptr(), cfg.n_true, cfg.d);
    return p;
}

void planted_rows(const Planted& p, int64_t row0, int64_t n, float* x, float* codes) {
    const int64_t d = p.cfg.d, nt = p.cfg.n_true;
    const double pa = p.cfg.p_active;
    const double log1mp = pa < 1.0 ? std::log1p(-pa) : 0.0;
    const Rng base(p.cfg.seed, kStreamRows);
#pragma omp parallel for schedule(static) if (n * d >= 65536)
    for (int64_t r = 0; r < n; r++) {
        float* xr = x + r * d;
        float* cr = codes ? codes + r * nt : nullptr;
        std::memset(xr, 0, sizeof(float) * (size_t)d);
        if (cr) std::memset(cr, 0, sizeof(float) * (size_t)nt);
        if (pa <= 0.0) continue;
        Rng rng = base.split((uint64_t)(row0 + r));
        int64_t i = -1;
        for (;;) {
            // gap to the next active feature ~ Geometric(p): P(gap = k) = (1-p)^k p
            if (pa >= 1.0) {
                i += 1;
            } else {
                double u = 1.0 - rng.uniform_double();  // (0, 1]
                double gap = std::floor(std::log(u) / log1mp);
                if (gap >= (double)nt) break;
                i += 1 + (int64_t)gap;
            }
            if (i >= nt) break;
            float c = rng.uniform();
            if (cr) cr[i] = c;
            const float* g = p.G.ptr() + i * d;
            for (int64_t j = 0; j < d; j++) xr[j] += c * g[j];
        }
    }
    if (p.cfg.noise > 0.0f) {
        std::vector<float> z((size_t)(n * d));
        rng_fill_normal(z.data(), z.size(), p.cfg.seed, kStreamNoise, (uint64_t)(row0 * d), 0.0f, p.cfg.noise);
        for (size_t k = 0; k < z.size(); k++) x[k] += z[k];
    }
}

PlantedConfig parse_planted_spec(const std::string& spec) {
    PlantedConfig c;
    std::string body = spec;
    if (body.rfind("planted:", 0) == 0) body = body.substr(8);
    else if (body == "planted") body.clear();
    if (body.empty()) return c;
    for (const std::string& kv : split_list(body, ',')) {
        size_t eq = kv.find('=');
        UNFOLD_CHECK(eq != std::string::npos, "planted spec '%s': expected key=value, found '%s'", spec.c_str(),
                     kv.c_str());
        std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
        if (k == "d") c.d = parse_int(v, "planted d");
        else if (k == "features" || k == "true_features" || k == "n") c.n_true = parse_int(v, "planted features");
        else if (k == "p" || k == "p_active") c.p_active = parse_double(v, "planted p");
        else if (k == "noise") c.noise = (float)parse_double(v, "planted noise");
        else if (k == "seed") c.seed = parse_u64(v, "planted seed");
        else if (k == "clusters") c.clusters = parse_int(v, "planted clusters");
        else if (k == "spread" || k == "cluster_spread") c.cluster_spread = (float)parse_double(v, "planted spread");
        else fail("planted spec '%s': unknown key '%s' (d, features, p, noise, seed, clusters, spread)", spec.c_str(),
                  k.c_str());
    }
    c.validate();
    return c;
}

int64_t synth_write(const PlantedConfig& cfg, const SynthOptions& opts, const std::string& out) {
    ThreadScope threads(opts.ctx);
    UNFOLD_CHECK(opts.tokens > 0, "data synth: --tokens must be > 0");
    Planted p = planted_make(cfg);
    ShardWriterOptions wo;
    wo.d = cfg.d;
    wo.f16 = opts.f16;
    wo.rows_per_shard = opts.rows_per_shard;
    wo.meta = cfg.to_json();
    wo.meta["tokens"] = opts.tokens;
    const bool resume = opts.resume && is_shard_folder(out);  // --resume on a missing folder starts it
    if (resume) {
        // the recipe must match, or the resumed rows would come from another distribution
        const Json m = ShardReader(out).index().meta;
        UNFOLD_CHECK(m.get_int("d", -1) == cfg.d && m.get_int("true_features", -1) == cfg.n_true &&
                         m.get_num("p_active", -1) == cfg.p_active && m.has("seed") &&
                         m.get_u64("seed", ~cfg.seed) == cfg.seed && m.get_num("noise", -1) == (double)cfg.noise &&
                         m.get_int("clusters", 0) == cfg.clusters &&
                         (cfg.clusters == 0 || m.get_num("cluster_spread", -1) == (double)cfg.cluster_spread),
                     "%s: cannot resume: the folder was written with another recipe (index.json meta)", out.c_str());
    }
    ShardWriter w(out, wo, resume);
    w.set_ground_truth(p.G.ptr(), cfg.n_true);
    int64_t row = w.rows_written();
    UNFOLD_CHECK(row <= opts.tokens, "%s: already holds %lld rows, more than --tokens %lld", out.c_str(),
                 (long long)row, (long long)opts.tokens);
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(16384, (1 << 22) / cfg.d));
    std::vector<float> x((size_t)(block * cfg.d));
    Progress bar(opts.ctx, "synth", opts.tokens, "rows");
    while (row < opts.tokens) {
        int64_t n = std::min(block, opts.tokens - row);
        planted_rows(p, row, n, x.data());
        w.append(x.data(), n);
        row += n;
        bar.update(row);
    }
    w.finish();
    bar.finish();
    return row;
}

}  // namespace unfold
