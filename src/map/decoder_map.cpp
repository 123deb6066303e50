// decoder_map.cpp: inputs of the decoder map (SAE folders, feature databases), the joint layout and the
// feature families, and their JSON.
#include "unfold/map/decoder_map.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <set>

#include "unfold/core/blas.h"
#include "unfold/core/error.h"
#include "unfold/core/strings.h"
#include "unfold/features/feature_db.h"
#include "unfold/io/fileio.h"
#include "unfold/io/safetensors.h"
#include "unfold/sae/sae.h"

namespace unfold {

namespace {

std::string base_name(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t s = p.rfind('/');
    return s == std::string::npos ? "." : (s == 0 ? "/" : p.substr(0, s));
}

// v to `digits` decimals (divided by an exact power of ten, so it prints as the short decimal)
double round_to(double v, int digits) {
    const double p = std::pow(10.0, digits);
    return std::round(v * p) / p;
}

}  // namespace

MapInput map_input_from_sae(const Sae& sae, const std::string& name, const std::string& path) {
    MapInput in;
    in.name = name;
    in.path = path;
    in.arch = sae_arch_name(sae.cfg.arch);
    in.d_in = sae.d();
    in.d_sae = sae.F();
    in.W_dec.assign(sae.W_dec(), sae.W_dec() + sae.F() * sae.d());
    return in;
}

MapInput map_input_load(const std::string& path, const std::string& name) {
    const bool dir = is_directory(path);
    std::string nm = name;
    if (nm.empty()) nm = dir ? base_name(path) : base_name(dir_name(path));
    if (nm.empty() || nm == "." || nm == "/") nm = base_name(path);
    const Sae s = sae_load(path);
    MapInput in = map_input_from_sae(s, nm, path);
    const std::string sp = path_join(dir ? path : dir_name(path), "sparsity.safetensors");
    if (file_exists(sp)) {
        // log10 firing frequency; a file that does not fit this SAE is left aside (the map needs no density)
        try {
            SafeTensorsReader r(sp);
            if (r.has("sparsity")) {
                const Tensor t = r.read_f32("sparsity", {in.d_sae});
                in.density.resize((size_t)in.d_sae);
                for (int64_t f = 0; f < in.d_sae; f++)
                    in.density[(size_t)f] = std::min(1.0, std::pow(10.0, (double)t[(size_t)f]));
                in.density_source = "sparsity.safetensors";
            }
        } catch (const Error&) {
            in.density.clear();
        }
    }
    return in;
}

void map_input_annotate_db(MapInput& in, const std::string& db_path) {
    FeatureDb db(db_path);
    UNFOLD_CHECK(db.n_features() == in.d_sae, "%s: holds %lld features, but SAE '%s' has d_sae %lld (not its database?)",
                 db_path.c_str(), (long long)db.n_features(), in.name.c_str(), (long long)in.d_sae);
    in.density.assign((size_t)in.d_sae, 0.0);
    in.labels.assign((size_t)in.d_sae, "");
    for (const DbFeatureSummary& f : db.list()) {
        if (f.id < 0 || f.id >= in.d_sae) continue;
        in.density[(size_t)f.id] = f.density;
        in.labels[(size_t)f.id] = f.label;
    }
    in.density_source = db_path;
}

namespace {

void validate(const std::vector<MapInput>& in) {
    UNFOLD_CHECK(!in.empty(), "decoder map: no SAE given");
    for (size_t s = 0; s < in.size(); s++) {
        const MapInput& m = in[s];
        const char* nm = m.name.c_str();
        UNFOLD_CHECK(m.d_sae >= 1, "SAE '%s': no decoder directions (d_sae %lld)", nm, (long long)m.d_sae);
        UNFOLD_CHECK(m.d_in >= 1, "SAE '%s': d_in must be >= 1, got %lld", nm, (long long)m.d_in);
        UNFOLD_CHECK(m.d_sae <= INT32_MAX, "SAE '%s': d_sae %lld too large", nm, (long long)m.d_sae);
        UNFOLD_CHECK((int64_t)m.W_dec.size() == m.d_sae * m.d_in,
                     "SAE '%s': W_dec holds %zu values, expected d_sae %lld x d_in %lld", nm, m.W_dec.size(),
                     (long long)m.d_sae, (long long)m.d_in);
        UNFOLD_CHECK(m.d_in == in[0].d_in,
                     "SAE '%s': d_in %lld differs from SAE '%s' (d_in %lld); a map overlays SAEs of the same activations",
                     nm, (long long)m.d_in, in[0].name.c_str(), (long long)in[0].d_in);
        UNFOLD_CHECK(m.density.empty() || (int64_t)m.density.size() == m.d_sae,
                     "SAE '%s': %zu densities for d_sae %lld", nm, m.density.size(), (long long)m.d_sae);
        UNFOLD_CHECK(m.labels.empty() || (int64_t)m.labels.size() == m.d_sae, "SAE '%s': %zu labels for d_sae %lld",
                     nm, m.labels.size(), (long long)m.d_sae);
        for (int64_t f = 0; f < m.d_sae; f++)
            for (int64_t t = 0; t < m.d_in; t++) {
                const float v = m.W_dec[(size_t)(f * m.d_in + t)];
                UNFOLD_CHECK(std::isfinite(v), "SAE '%s': W_dec row %lld, column %lld is not finite (%g)", nm,
                             (long long)f, (long long)t, (double)v);
            }
    }
}

// unit rows of the non-zero decoder rows of one SAE: U [points, d], ids
void unit_points(const MapInput& m, std::vector<float>& U, std::vector<int32_t>& ids) {
    const int64_t d = m.d_in;
    for (int64_t f = 0; f < m.d_sae; f++) {
        const float* w = m.W_dec.data() + f * d;
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)w[t] * w[t];
        if (!(s > 0)) continue;
        const double inv = 1.0 / std::sqrt(s);
        for (int64_t t = 0; t < d; t++) U.push_back((float)(w[t] * inv));
        ids.push_back((int32_t)f);
    }
}

double dot_d(const float* a, const float* b, int64_t d) {
    double s = 0;
    for (int64_t t = 0; t < d; t++) s += (double)a[t] * b[t];
    return s;
}

// families of small (points Us, ids is) within large (Ul, il)
MapFamilies families_of(int small, int large, const MapInput& ms, const MapInput& ml, const std::vector<float>& Us,
                        const std::vector<int32_t>& is, const std::vector<float>& Ul, const std::vector<int32_t>& il,
                        int64_t d, int K, const Context& ctx) {
    MapFamilies fam;
    fam.small = small;
    fam.large = large;
    fam.members.assign((size_t)ms.d_sae, {});
    fam.parent.assign((size_t)ml.d_sae, MapFamilyMember{-1, 0.0f});
    const int64_t ns = (int64_t)is.size(), nl = (int64_t)il.size();
    const int k = (int)std::min<int64_t>(K, nl);
    if (ns == 0 || nl == 0 || k == 0) return fam;
    const int64_t block = std::max<int64_t>(1, std::min<int64_t>(ns, (int64_t)(64 << 20) / (4 * nl)));
    std::vector<float> S((size_t)(block * nl));
    std::vector<float> best((size_t)nl, -2.0f);
    std::vector<int64_t> best_at((size_t)nl, -1);
    for (int64_t r0 = 0; r0 < ns; r0 += block) {
        ctx.check_stop();
        const int64_t nb = std::min(block, ns - r0);
        matmul_bt(S.data(), Us.data() + r0 * d, Ul.data(), nb, d, nl);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < nb; r++) {
            const float* s = S.data() + r * nl;
            const int keep = (int)std::min<int64_t>(nl, (int64_t)k + 4);
            std::vector<std::pair<float, int32_t>> c((size_t)nl);
            for (int64_t j = 0; j < nl; j++) c[(size_t)j] = {-s[j], (int32_t)j};
            std::nth_element(c.begin(), c.begin() + (keep - 1), c.end());
            c.resize((size_t)keep);
            // cosines again in double, then the k largest (ties: lower feature id)
            const float* u = Us.data() + (r0 + r) * d;
            std::vector<std::pair<double, int32_t>> e;
            for (auto& p : c) e.push_back({-dot_d(u, Ul.data() + (int64_t)p.second * d, d), il[(size_t)p.second]});
            std::sort(e.begin(), e.end());
            auto& out = fam.members[(size_t)is[(size_t)(r0 + r)]];
            for (int q = 0; q < k; q++) out.push_back({e[(size_t)q].second, (float)-e[(size_t)q].first});
        }
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < nl; j++)
            for (int64_t r = 0; r < nb; r++) {
                const float v = S[(size_t)(r * nl + j)];
                if (v > best[(size_t)j]) best[(size_t)j] = v, best_at[(size_t)j] = r0 + r;
            }
    }
    for (int64_t j = 0; j < nl; j++) {
        const int64_t r = best_at[(size_t)j];
        if (r < 0) continue;
        fam.parent[(size_t)il[(size_t)j]] = {is[(size_t)r], (float)dot_d(Us.data() + r * d, Ul.data() + j * d, d)};
    }
    return fam;
}

}  // namespace

DecoderMap decoder_map(const std::vector<MapInput>& in, const DecoderMapOptions& o) {
    validate(in);
    UNFOLD_CHECK(o.family_k >= 1, "decoder map: family size must be >= 1, got %d", o.family_k);
    ThreadScope threads(o.ctx);
    const int64_t d = in[0].d_in;
    DecoderMap m;
    m.d_in = d;
    m.family_k = o.family_k;
    std::vector<std::vector<float>> U(in.size());
    std::vector<std::vector<int32_t>> ids(in.size());
    std::set<std::string> names;
    int64_t total = 0;
    for (size_t s = 0; s < in.size(); s++) {
        unit_points(in[s], U[s], ids[s]);
        MapSae ms;
        ms.name = in[s].name.empty() ? strformat("sae%zu", s) : in[s].name;
        for (int dup = 2; names.count(ms.name); dup++) ms.name = (in[s].name.empty() ? "sae" : in[s].name) + "-" + std::to_string(dup);
        names.insert(ms.name);
        ms.path = in[s].path;
        ms.arch = in[s].arch;
        ms.density_source = in[s].density_source;
        ms.d_in = in[s].d_in;
        ms.d_sae = in[s].d_sae;
        ms.skipped = in[s].d_sae - (int64_t)ids[s].size();
        ms.feature = ids[s];
        for (int32_t f : ids[s]) {
            if (!in[s].density.empty()) ms.density.push_back(in[s].density[(size_t)f]);
            if (!in[s].labels.empty()) ms.labels.push_back(in[s].labels[(size_t)f]);
        }
        total += (int64_t)ids[s].size();
        m.saes.push_back(std::move(ms));
    }
    UNFOLD_CHECK(total >= 2, "decoder map: need at least 2 non-zero decoder directions, got %lld", (long long)total);
    std::vector<float> X;
    X.reserve((size_t)(total * d));
    for (auto& u : U) X.insert(X.end(), u.begin(), u.end());
    o.ctx.info("decoder map: %lld directions of d %lld from %zu SAE%s", (long long)total, (long long)d, in.size(),
               in.size() == 1 ? "" : "s");
    KnnGraph g;
    UmapOptions uo = o.umap;
    std::vector<float> Y = umap_layout(X.data(), total, d, uo, o.ctx, &m.timings, &g);
    uo.n_neighbors = g.k;
    uo.n_epochs = uo.n_epochs > 0 ? uo.n_epochs : (total <= 10000 ? 500 : 200);
    uo.knn.method = g.exact ? KnnMethod::EXACT : KnnMethod::HNSW;
    m.umap = uo;
    m.knn_exact = g.exact;
    int64_t at = 0;
    for (auto& ms : m.saes) {
        const size_t np = ms.feature.size();
        ms.x.resize(np);
        ms.y.resize(np);
        for (size_t p = 0; p < np; p++) {
            ms.x[p] = Y[(size_t)(2 * (at + (int64_t)p))];
            ms.y[p] = Y[(size_t)(2 * (at + (int64_t)p) + 1)];
        }
        at += (int64_t)np;
    }
    // families: consecutive pairs by size
    const auto t = std::chrono::steady_clock::now();
    std::vector<int> order(in.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return in[a].d_sae < in[b].d_sae; });
    for (size_t q = 0; q + 1 < order.size(); q++) {
        const int s = order[q], l = order[q + 1];
        m.families.push_back(families_of(s, l, in[s], in[l], U[s], ids[s], U[l], ids[l], d, o.family_k, o.ctx));
    }
    m.families_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    return m;
}

Json decoder_map_json(const DecoderMap& m, bool include_points) {
    Json j = Json::object();
    j["d_in"] = m.d_in;
    Json saes = Json::array();
    for (const MapSae& s : m.saes) {
        Json e = Json::object();
        e["name"] = s.name;
        e["path"] = s.path;
        e["arch"] = s.arch;
        e["d_in"] = s.d_in;
        e["d_sae"] = s.d_sae;
        e["points"] = (int64_t)s.feature.size();
        e["skipped_zero_rows"] = s.skipped;
        e["density_source"] = s.density_source.empty() ? Json() : Json(s.density_source);
        if (include_points) {
            Json p = Json::object();
            Json f = Json::array(), x = Json::array(), y = Json::array();
            for (size_t i = 0; i < s.feature.size(); i++) {
                f.push(Json((int64_t)s.feature[i]));
                x.push(Json(round_to(s.x[i], 4)));
                y.push(Json(round_to(s.y[i], 4)));
            }
            p["feature"] = f;
            p["x"] = x;
            p["y"] = y;
            if (s.density.empty()) {
                p["density"] = Json();
            } else {
                Json dd = Json::array();
                for (double v : s.density) dd.push(Json(v));
                p["density"] = dd;
            }
            p["label"] = s.labels.empty() ? Json() : Json::array_of(s.labels);
            e["layout"] = p;
        }
        saes.push(e);
    }
    j["saes"] = saes;
    Json fams = Json::array();
    for (const MapFamilies& f : m.families) {
        Json e = Json::object();
        e["small"] = f.small;
        e["large"] = f.large;
        e["small_name"] = m.saes[(size_t)f.small].name;
        e["large_name"] = m.saes[(size_t)f.large].name;
        Json feats = Json::array();
        for (size_t i = 0; i < f.members.size(); i++) {
            if (f.members[i].empty()) continue;
            Json fe = Json::object();
            fe["feature"] = (int64_t)i;
            Json mem = Json::array();
            for (const MapFamilyMember& mm : f.members[i]) {
                Json x = Json::object();
                x["feature"] = (int64_t)mm.feature;
                x["cosine"] = round_to(mm.cosine, 6);
                mem.push(x);
            }
            fe["members"] = mem;
            feats.push(fe);
        }
        e["features"] = feats;
        Json par = Json::array();
        for (size_t g = 0; g < f.parent.size(); g++) {
            if (f.parent[g].feature < 0) continue;
            Json x = Json::object();
            x["feature"] = (int64_t)g;
            x["parent"] = (int64_t)f.parent[g].feature;
            x["cosine"] = round_to(f.parent[g].cosine, 6);
            par.push(x);
        }
        e["parents"] = par;
        fams.push(e);
    }
    j["families"] = fams;
    Json u = Json::object();
    u["n_neighbors"] = m.umap.n_neighbors;
    u["min_dist"] = m.umap.min_dist;
    u["spread"] = m.umap.spread;
    u["n_epochs"] = m.umap.n_epochs;
    u["negative_samples"] = m.umap.negative_samples;
    u["learning_rate"] = m.umap.learning_rate;
    u["init"] = m.umap.init;
    u["seed"] = m.umap.seed;
    u["knn"] = m.knn_exact ? "exact" : "hnsw";
    u["metric"] = "cosine";
    j["umap"] = u;
    j["family_k"] = m.family_k;
    Json t = Json::object();
    t["knn"] = round_to(m.timings.knn_s, 4);
    t["graph"] = round_to(m.timings.graph_s, 4);
    t["init"] = round_to(m.timings.init_s, 4);
    t["layout"] = round_to(m.timings.sgd_s, 4);
    t["families"] = round_to(m.families_s, 4);
    j["timings_s"] = t;
    return j;
}

std::string map_link(const std::string& pattern, const std::string& sae, int64_t id) {
    auto enc = [](const std::string& s) {
        std::string o;
        for (unsigned char c : s) {
            if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o += (char)c;
            else o += strformat("%%%02X", c);
        }
        return o;
    };
    std::string out;
    for (size_t i = 0; i < pattern.size();) {
        if (pattern.compare(i, 4, "{id}") == 0) {
            out += std::to_string(id);
            i += 4;
        } else if (pattern.compare(i, 5, "{sae}") == 0) {
            out += enc(sae);
            i += 5;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

}  // namespace unfold
