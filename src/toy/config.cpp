// config.cpp: ToyConfig names, validation, JSON round trip and the density/importance spec parsers.
#include <cmath>

#include "unfold/core/error.h"
#include "unfold/core/schedule.h"
#include "unfold/core/strings.h"
#include "unfold/toy/toy.h"

namespace unfold {

const char* toy_kind_name(ToyKind k) {
    switch (k) {
        case ToyKind::LINEAR: return "linear";
        case ToyKind::RELU: return "relu";
        case ToyKind::HIDDEN_RELU: return "hidden-relu";
        case ToyKind::ABS: return "abs";
    }
    return "?";
}

ToyKind parse_toy_kind(const std::string& s) {
    if (s == "linear") return ToyKind::LINEAR;
    if (s == "relu") return ToyKind::RELU;
    if (s == "hidden-relu") return ToyKind::HIDDEN_RELU;
    if (s == "abs") return ToyKind::ABS;
    fail("unknown toy model '%s' (expected linear, relu, hidden-relu or abs)", s.c_str());
}

const char* toy_data_name(ToyData d) {
    switch (d) {
        case ToyData::UNIFORM: return "uniform";
        case ToyData::ONE_HOT: return "one-hot";
        case ToyData::SIGNED: return "signed";
    }
    return "?";
}

ToyData parse_toy_data(const std::string& s) {
    if (s == "uniform") return ToyData::UNIFORM;
    if (s == "one-hot") return ToyData::ONE_HOT;
    if (s == "signed") return ToyData::SIGNED;
    fail("unknown toy data '%s' (expected uniform, one-hot or signed)", s.c_str());
}

static std::vector<float> log_range(double a, double b, int k) {
    std::vector<float> v(k);
    for (int i = 0; i < k; i++) {
        double t = k > 1 ? (double)i / (k - 1) : 0.0;
        v[i] = (float)(a * std::pow(b / a, t));
    }
    return v;
}

static std::vector<float> parse_range_or_value(const std::string& s, int k, const std::string& what) {
    size_t colon = s.find(':');
    if (colon == std::string::npos) return std::vector<float>(k, (float)parse_double(s, what));
    double a = parse_double(s.substr(0, colon), what), b = parse_double(s.substr(colon + 1), what);
    UNFOLD_CHECK(a > 0 && b > 0, "%s: range '%s' needs positive ends (log-spaced)", what.c_str(), s.c_str());
    return log_range(a, b, k);
}

std::vector<float> toy_parse_density(const std::string& spec, int n_instances) {
    std::vector<std::string> parts = split_list(spec);
    std::vector<float> v;
    if (parts.size() == 1) {
        v = parse_range_or_value(parts[0], n_instances, "--density");
    } else {
        UNFOLD_CHECK((int)parts.size() == n_instances, "--density: %zu values given, expected %d (one per instance)",
                     parts.size(), n_instances);
        for (auto& p : parts) v.push_back((float)parse_double(p, "--density"));
    }
    for (float p : v) UNFOLD_CHECK(p >= 0 && p <= 1, "--density: %g is not a probability in [0, 1]", p);
    return v;
}

std::vector<float> toy_parse_importance(const std::string& spec, int n_features) {
    std::vector<std::string> parts = split_list(spec);
    std::vector<float> v;
    if (parts.size() == 1) {
        double r = parse_double(parts[0], "--importance");
        for (int i = 0; i < n_features; i++) v.push_back((float)std::pow(r, (double)i));
    } else {
        UNFOLD_CHECK((int)parts.size() == n_features, "--importance: %zu values given, expected %d (one per feature)",
                     parts.size(), n_features);
        for (auto& p : parts) v.push_back((float)parse_double(p, "--importance"));
    }
    for (float x : v) UNFOLD_CHECK(std::isfinite(x) && x >= 0, "--importance: %g must be finite and >= 0", x);
    return v;
}

void toy_set_density(ToyConfig& cfg, const std::vector<float>& per_instance) {
    UNFOLD_CHECK((int)per_instance.size() == cfg.n_instances, "density: %zu values for %d instances",
                 per_instance.size(), cfg.n_instances);
    cfg.density.assign((size_t)cfg.n_instances * cfg.n_features, 0.0f);
    for (int i = 0; i < cfg.n_instances; i++)
        for (int f = 0; f < cfg.n_features; f++) cfg.density[(size_t)i * cfg.n_features + f] = per_instance[i];
}

void toy_set_importance(ToyConfig& cfg, const std::vector<float>& per_feature) {
    UNFOLD_CHECK((int)per_feature.size() == cfg.n_features, "importance: %zu values for %d features",
                 per_feature.size(), cfg.n_features);
    cfg.importance.assign((size_t)cfg.n_instances * cfg.n_features, 0.0f);
    for (int i = 0; i < cfg.n_instances; i++)
        for (int f = 0; f < cfg.n_features; f++) cfg.importance[(size_t)i * cfg.n_features + f] = per_feature[f];
}

void toy_set_feature_density(ToyConfig& cfg, const std::string& spec) {
    std::vector<std::string> parts = split_list(spec);
    UNFOLD_CHECK((int)parts.size() == cfg.n_features, "--feature-density: %zu entries given, expected %d (one per feature)",
                 parts.size(), cfg.n_features);
    cfg.density.assign((size_t)cfg.n_instances * cfg.n_features, 0.0f);
    for (int f = 0; f < cfg.n_features; f++) {
        std::vector<float> v = parse_range_or_value(parts[f], cfg.n_instances, "--feature-density");
        for (int i = 0; i < cfg.n_instances; i++) {
            UNFOLD_CHECK(v[i] >= 0 && v[i] <= 1, "--feature-density: %g is not a probability in [0, 1]", v[i]);
            cfg.density[(size_t)i * cfg.n_features + f] = v[i];
        }
    }
}

float ToyConfig::effective_init_std() const {
    if (init_std > 0) return init_std;
    return (float)std::sqrt(2.0 / ((double)n_hidden * (double)(n_features + n_instances)));
}

void ToyConfig::validate(const std::string& ctx) const {
    const char* c = ctx.c_str();
    UNFOLD_CHECK(n_features >= 1 && n_features <= 1000000, "%s: n_features %d must be in [1, 1e6]", c, n_features);
    UNFOLD_CHECK(n_hidden >= 1 && n_hidden <= 512, "%s: n_hidden %d must be in [1, 512]", c, n_hidden);
    UNFOLD_CHECK(n_instances >= 1 && n_instances <= 1000000, "%s: n_instances %d must be in [1, 1e6]", c, n_instances);
    size_t want = (size_t)n_instances * n_features;
    UNFOLD_CHECK(density.size() == want, "%s: density has %zu values, expected instances x features = %zu", c,
                 density.size(), want);
    UNFOLD_CHECK(importance.size() == want, "%s: importance has %zu values, expected instances x features = %zu", c,
                 importance.size(), want);
    for (float p : density) UNFOLD_CHECK(p >= 0 && p <= 1, "%s: density %g is not in [0, 1]", c, p);
    for (float w : importance) UNFOLD_CHECK(std::isfinite(w) && w >= 0, "%s: importance %g must be finite and >= 0", c, w);
    UNFOLD_CHECK(correlated_pairs >= 0 && anticorrelated_pairs >= 0, "%s: pair counts must be >= 0", c);
    UNFOLD_CHECK(2 * (correlated_pairs + anticorrelated_pairs) <= n_features,
                 "%s: %d correlated + %d anticorrelated pairs need %d features, have %d", c, correlated_pairs,
                 anticorrelated_pairs, 2 * (correlated_pairs + anticorrelated_pairs), n_features);
    for (int i = 0; i < n_instances; i++)
        for (int k = 0; k < anticorrelated_pairs; k++) {
            float p = density_at(i, 2 * correlated_pairs + 2 * k);
            UNFOLD_CHECK(p <= 0.5f, "%s: anticorrelated pairs need density <= 0.5, instance %d has %g", c, i, p);
        }
    UNFOLD_CHECK(std::isfinite(l1_hidden) && l1_hidden >= 0, "%s: l1_hidden must be >= 0", c);
    UNFOLD_CHECK(std::isfinite(lr) && lr > 0, "%s: lr must be > 0", c);
    UNFOLD_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, "%s: weight_decay must be >= 0", c);
    UNFOLD_CHECK(batch >= 1 && (uint64_t)batch * n_features < (1ULL << 32), "%s: batch %d out of range", c, batch);
    UNFOLD_CHECK(eval_batch >= 1 && (uint64_t)eval_batch * n_features < (1ULL << 32), "%s: eval_batch %d out of range", c,
                 eval_batch);
    UNFOLD_CHECK(steps >= 0, "%s: steps must be >= 0", c);
    UNFOLD_CHECK(warmup_steps >= 0, "%s: warmup_steps must be >= 0", c);
    UNFOLD_CHECK(std::isfinite(init_std) && init_std >= 0, "%s: init_std must be >= 0", c);
    (void)parse_decay(schedule);
}

static Json floats_json(const std::vector<float>& v) { return Json::array_of(v); }

Json ToyConfig::to_json() const {
    Json j = Json::object();
    j["format"] = "unfold-toy-config-v1";
    j["model"] = toy_kind_name(kind);
    j["data"] = toy_data_name(data);
    j["n_features"] = n_features;
    j["n_hidden"] = n_hidden;
    j["n_instances"] = n_instances;
    j["density"] = floats_json(density);
    j["importance"] = floats_json(importance);
    j["correlated_pairs"] = correlated_pairs;
    j["anticorrelated_pairs"] = anticorrelated_pairs;
    j["l1_hidden"] = l1_hidden;
    j["lr"] = lr;
    j["weight_decay"] = weight_decay;
    j["batch"] = batch;
    j["steps"] = steps;
    j["schedule"] = schedule;
    j["warmup_steps"] = warmup_steps;
    j["seed"] = seed;  // a JSON integer, exact to 64 bits (older files hold it as a decimal string)
    j["eval_batch"] = eval_batch;
    j["init_std"] = init_std;
    return j;
}

static std::vector<float> floats_from(const Json& j, const std::string& key, const std::string& ctx) {
    const Json& a = j.at(key, ctx);
    UNFOLD_CHECK(a.is_arr(), "%s: field '%s' must be an array of numbers", ctx.c_str(), key.c_str());
    std::vector<float> v;
    v.reserve(a.arr.size());
    for (const Json& e : a.arr) v.push_back((float)e.as_num(ctx + ": " + key));
    return v;
}

ToyConfig ToyConfig::from_json(const Json& j, const std::string& ctx) {
    UNFOLD_CHECK(j.is_obj(), "%s: expected a JSON object", ctx.c_str());
    ToyConfig c;
    c.kind = parse_toy_kind(j.at("model", ctx).as_str(ctx + ": model"));
    c.data = parse_toy_data(j.get_str("data", "uniform"));
    auto geti = [&](const char* k) {
        int64_t v = j.at(k, ctx).as_int(ctx + ": " + k);
        UNFOLD_CHECK(v >= INT32_MIN && v <= INT32_MAX, "%s: field '%s' out of range", ctx.c_str(), k);
        return (int)v;
    };
    c.n_features = geti("n_features");
    c.n_hidden = geti("n_hidden");
    c.n_instances = geti("n_instances");
    c.density = floats_from(j, "density", ctx);
    c.importance = floats_from(j, "importance", ctx);
    c.correlated_pairs = (int)j.get_int("correlated_pairs", 0);
    c.anticorrelated_pairs = (int)j.get_int("anticorrelated_pairs", 0);
    c.l1_hidden = (float)j.get_num("l1_hidden", 0.0);
    c.lr = (float)j.get_num("lr", 1e-3);
    c.weight_decay = (float)j.get_num("weight_decay", 0.01);
    c.batch = geti("batch");
    c.steps = j.at("steps", ctx).as_int(ctx + ": steps");
    c.schedule = j.get_str("schedule", "constant");
    c.warmup_steps = j.get_int("warmup_steps", 0);
    if (const Json* s = j.find("seed")) c.seed = s->as_u64(ctx + ": seed");  // number, or the old string form
    c.eval_batch = (int)j.get_int("eval_batch", 8192);
    c.init_std = (float)j.get_num("init_std", 0.0);
    c.validate(ctx);
    return c;
}

}  // namespace unfold
