// browser.cpp: the feature browser's routes, API and page shells (see browser.h).
#include "unfold/serve/browser.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>

#include "unfold/core/error.h"
#include "unfold/core/strings.h"
#include "unfold/features/feature_db.h"
#include "unfold/features/feature_probe.h"
#include "unfold/features/splice.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/model.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/sae/sae.h"

namespace unfold {

// ---- text helpers -------------------------------------------------------------------------------------

std::string html_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size() + 16);
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string json_for_script(const Json& j) {
    const std::string s = j.dump(-1);
    std::string o;
    o.reserve(s.size() + 64);
    for (char c : s) {  // these characters occur only inside JSON strings, where \u escapes mean the same
        if (c == '<') o += "\\u003c";
        else if (c == '>') o += "\\u003e";
        else if (c == '&') o += "\\u0026";
        else o += c;
    }
    return o;
}

bool is_valid_utf8(const std::string& s) {
    const unsigned char* p = (const unsigned char*)s.data();
    const size_t n = s.size();
    for (size_t i = 0; i < n;) {
        const unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        unsigned cp;
        if ((c >> 5) == 6) len = 2, cp = c & 0x1f;
        else if ((c >> 4) == 14) len = 3, cp = c & 0x0f;
        else if ((c >> 3) == 30) len = 4, cp = c & 0x07;
        else return false;
        if (i + (size_t)len > n) return false;
        for (int k = 1; k < len; k++) {
            if ((p[i + k] >> 6) != 2) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += (size_t)len;
    }
    return true;
}

namespace {

std::string lower_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    return s;
}

// a parameter value as it may appear in an error line: at most 40 bytes, control characters as '?'
std::string quote_value(const std::string& v) {
    std::string o;
    for (size_t i = 0; i < v.size() && o.size() < 40; i++) o += (unsigned char)v[i] < 0x20 ? '?' : v[i];
    return "'" + o + (v.size() > 40 ? "...'" : "'");
}

[[noreturn]] void bad(int status, std::string msg) { throw WebError{status, std::move(msg)}; }

// strict integer / number parsing: the whole text, no spaces
bool parse_i64(const std::string& s, int64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', i = 1;
    if (i == s.size()) return false;
    int64_t v = 0;
    for (; i < s.size(); i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v > (INT64_MAX - (s[i] - '0')) / 10) return false;
        v = v * 10 + (s[i] - '0');
    }
    out = neg ? -v : v;
    return true;
}
bool parse_f64(const std::string& s, double& out) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return false;
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(out);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_query(const std::string& query) {
    std::vector<std::pair<std::string, std::string>> out;
    auto hexv = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    };
    auto decode = [&](size_t a, size_t b) {
        std::string o;
        for (size_t i = a; i < b; i++) {
            const char c = query[i];
            if (c == '+') {
                o += ' ';
            } else if (c == '%') {
                if (i + 2 >= b || hexv(query[i + 1]) < 0 || hexv(query[i + 2]) < 0)
                    bad(400, "malformed query string: '%' must start a two-digit hex escape");
                o += (char)(hexv(query[i + 1]) * 16 + hexv(query[i + 2]));
                i += 2;
            } else {
                o += c;
            }
        }
        return o;
    };
    size_t i = 0;
    while (i <= query.size()) {
        size_t j = query.find('&', i);
        if (j == std::string::npos) j = query.size();
        if (j > i) {
            const size_t eq = query.find('=', i);
            const size_t ke = eq != std::string::npos && eq < j ? eq : j;
            std::string k = decode(i, ke), v = ke < j ? decode(ke + 1, j) : std::string();
            if (k.empty()) bad(400, "malformed query string: a parameter without a name");
            if (out.size() >= 64) bad(400, "malformed query string: more than 64 parameters");
            out.push_back({std::move(k), std::move(v)});
        }
        i = j + 1;
    }
    return out;
}

// ---- query parameters ---------------------------------------------------------------------------------

QueryParams::QueryParams(const WebRequest& r, std::initializer_list<const char*> allowed, size_t max_bytes) {
    for (const auto& [k, v] : r.params) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || k == a;
        if (!ok) {
            std::string names;
            for (const char* a : allowed) names += std::string(names.empty() ? "" : ", ") + a;
            bad(400, "unknown parameter " + quote_value(k) + (names.empty() ? " (this route takes none)"
                                                                            : " (this route takes " + names + ")"));
        }
        for (const auto& [k2, v2] : v_)
            if (k2 == k) bad(400, "parameter '" + k + "' given twice");
        if (v.size() > max_bytes)
            bad(400, strformat("parameter '%s' is %zu bytes, at most %zu", k.c_str(), v.size(), max_bytes));
        if (!is_valid_utf8(v)) bad(400, "parameter '" + k + "' is not valid UTF-8");
        for (unsigned char c : v)
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                bad(400, strformat("parameter '%s' holds the control character 0x%02x", k.c_str(), c));
        v_.push_back({k, v});
    }
}

bool QueryParams::has(const std::string& name) const {
    for (const auto& [k, v] : v_)
        if (k == name) return true;
    return false;
}

std::string QueryParams::str(const std::string& name, const std::string& def) const {
    for (const auto& [k, v] : v_)
        if (k == name) return v;
    return def;
}

std::string QueryParams::choice(const std::string& name, const std::string& def,
                                std::initializer_list<const char*> options) const {
    const std::string v = str(name, def);
    std::string names;
    for (const char* o : options) {
        if (v == o) return v;
        names += std::string(names.empty() ? "" : ", ") + o;
    }
    bad(400, "parameter '" + name + "' is " + quote_value(v) + ", expected one of " + names);
}

int64_t QueryParams::i64(const std::string& name, int64_t def, int64_t lo, int64_t hi) const {
    if (!has(name)) return def;
    const std::string s = str(name);
    int64_t v = 0;
    if (!parse_i64(s, v)) bad(400, "parameter '" + name + "' is " + quote_value(s) + ", not an integer");
    if (v < lo || v > hi)
        bad(400, strformat("parameter '%s' is %lld, expected %lld to %lld", name.c_str(), (long long)v, (long long)lo,
                           (long long)hi));
    return v;
}

double QueryParams::f64(const std::string& name, double def, double lo, double hi) const {
    if (!has(name)) return def;
    const std::string s = str(name);
    double v = 0;
    if (!parse_f64(s, v)) bad(400, "parameter '" + name + "' is " + quote_value(s) + ", not a number");
    if (v < lo || v > hi) bad(400, strformat("parameter '%s' is %g, expected %g to %g", name.c_str(), v, lo, hi));
    return v;
}

// ---- the index --------------------------------------------------------------------------------------------

namespace {

enum SortKey { BY_DENSITY, BY_MAX, BY_FIRES, BY_LABEL, BY_ID, N_KEYS };
const char* kSortNames[N_KEYS] = {"density", "max", "fires", "label", "id"};

struct Example {
    std::vector<int32_t> ids;
    std::vector<float> acts;
    int max_index = -1;
};

struct Route {
    std::string path;
    bool prefix = false;
    FeatureBrowser::Handler h;
};

struct Tab {
    std::string id, title, href;
};

constexpr int kExampleBefore = 10, kExampleAfter = 4;

}  // namespace

struct FeatureBrowser::Impl {
    BrowserOptions opt;
    std::unique_ptr<FeatureDb> db;
    mutable std::mutex db_mu, live_mu;
    std::vector<DbFeatureSummary> sums;
    std::string search;               // every feature's lower-cased label and strongest contexts' text, '\0'-separated
    std::vector<size_t> search_off;   // [N + 1]: feature f's text is search[search_off[f], search_off[f + 1])
    std::vector<Example> examples;
    std::vector<int32_t> order[N_KEYS][2];  // [key][0 ascending, 1 descending], ties by id
    std::vector<double> edges;               // log10 density bin edges
    std::vector<int64_t> counts;             // all features per bin
    std::vector<int16_t> bin;                // each feature's bin
    int64_t dead = 0;
    std::vector<Route> routes;
    std::vector<Tab> tabs;

    std::string text_of(int32_t id) const {  // a token's text: the database's vocabulary, else the tokenizer's
        std::string t = db->token_text(id);
        if (t.empty() && opt.live && opt.live->tokenizer && id >= 0 && id < opt.live->tokenizer->vocab_size())
            t = opt.live->tokenizer->decode_piece(-1, id);
        return t;
    }
};

FeatureBrowser::FeatureBrowser(const std::string& db_path, const BrowserOptions& o) : impl_(std::make_unique<Impl>()) {
    Impl& I = *impl_;
    I.opt = o;
    I.db = std::make_unique<FeatureDb>(db_path);
    const FeatureDb& db = *I.db;
    I.sums = db.list();
    const int64_t N = (int64_t)I.sums.size();
    std::vector<std::string> search((size_t)N);
    I.examples.resize((size_t)N);
    for (int64_t f = 0; f < N; f++) {
        search[(size_t)f] = lower_ascii(I.sums[(size_t)f].label);
        I.dead += I.sums[(size_t)f].fires == 0;
    }
    db.for_each_context("top", std::max(1, o.search_contexts), [&](int64_t f, const DbContext& c) {
        std::string& s = search[(size_t)f];
        s += '\n';
        for (int32_t t : c.tokens) s += lower_ascii(db.token_text(t));
        if (c.rank == 0) {
            Example& e = I.examples[(size_t)f];
            const int mi = c.pos - c.first;
            const int a = std::max(0, mi - kExampleBefore), b = std::min((int)c.tokens.size(), mi + kExampleAfter + 1);
            for (int i = a; i < b; i++) {
                e.ids.push_back(c.tokens[(size_t)i]);
                e.acts.push_back(c.activations[(size_t)i]);
            }
            e.max_index = mi >= a && mi < b ? mi - a : -1;
        }
    });
    // one buffer, so a search is one memmem pass; '\0' ends each feature's text (a query holds no NUL)
    I.search_off.assign((size_t)N + 1, 0);
    for (int64_t f = 0; f < N; f++) {
        I.search += search[(size_t)f];
        I.search += '\0';
        I.search_off[(size_t)f + 1] = I.search.size();
        std::string().swap(search[(size_t)f]);
    }
    // sort orders
    for (int k = 0; k < N_KEYS; k++) {
        for (int dir = 0; dir < 2; dir++) {
            std::vector<int32_t>& v = I.order[k][dir];
            v.resize((size_t)N);
            for (int64_t i = 0; i < N; i++) v[(size_t)i] = (int32_t)i;
            const auto& S = I.sums;
            auto key_less = [&](int32_t a, int32_t b) -> int {  // -1 a first, 1 b first, 0 tie
                const DbFeatureSummary &x = S[(size_t)a], &y = S[(size_t)b];
                switch (k) {
                    case BY_DENSITY: return x.density < y.density ? -1 : x.density > y.density ? 1 : 0;
                    case BY_MAX: return x.max_act < y.max_act ? -1 : x.max_act > y.max_act ? 1 : 0;
                    case BY_FIRES: return x.fires < y.fires ? -1 : x.fires > y.fires ? 1 : 0;
                    case BY_LABEL: {
                        const int c = x.label.compare(y.label);
                        return c < 0 ? -1 : c > 0 ? 1 : 0;
                    }
                    default: return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
                }
            };
            std::sort(v.begin(), v.end(), [&](int32_t a, int32_t b) {
                if (k == BY_LABEL) {  // features without a label come last either way
                    const bool ea = S[(size_t)a].label.empty(), eb = S[(size_t)b].label.empty();
                    if (ea != eb) return eb;
                }
                const int c = key_less(a, b);
                if (c != 0) return dir == 0 ? c < 0 : c > 0;
                return a < b;
            });
        }
    }
    // log10 density bins: the database's histogram edges (features build: -10 .. 0 in steps of 0.5)
    const std::string dh = db.meta("density_histogram");
    if (!dh.empty()) {
        Json h = json_parse(dh, db.path() + ": meta density_histogram");
        if (const Json* e = h.find("bin_edges_log10"); e && e->is_arr())
            for (const Json& x : e->arr) I.edges.push_back(x.as_num(db.path() + ": density_histogram edges"));
    }
    bool ok = I.edges.size() >= 2;
    for (size_t i = 1; ok && i < I.edges.size(); i++) ok = I.edges[i] > I.edges[i - 1];
    if (!ok) {
        I.edges.clear();
        for (int i = 0; i <= 20; i++) I.edges.push_back(-10.0 + 0.5 * i);
    }
    const int nb = (int)I.edges.size() - 1;
    I.counts.assign((size_t)nb, 0);
    I.bin.resize((size_t)N);
    for (int64_t f = 0; f < N; f++) {
        const double l = std::log10(I.sums[(size_t)f].density + 1e-10);
        int b = (int)(std::upper_bound(I.edges.begin(), I.edges.end(), l) - I.edges.begin()) - 1;
        b = std::clamp(b, 0, nb - 1);
        I.bin[(size_t)f] = (int16_t)b;
        I.counts[(size_t)b]++;
    }
    I.tabs.push_back({"features", "Features", "/"});
    if (live()) I.tabs.push_back({"live", "Live", "/live"});
}

FeatureBrowser::~FeatureBrowser() = default;

const FeatureDb& FeatureBrowser::db() const { return *impl_->db; }

void FeatureBrowser::with_db(const std::function<void(const FeatureDb&)>& fn) const {
    std::lock_guard<std::mutex> g(impl_->db_mu);
    fn(*impl_->db);
}

bool FeatureBrowser::live() const {
    const LiveModel* L = impl_->opt.live;
    return L && L->model && L->tokenizer && L->sae && !L->hook.empty();
}

void FeatureBrowser::add_route(const std::string& path, bool prefix, Handler h) {
    impl_->routes.push_back({path, prefix, std::move(h)});
}

void FeatureBrowser::add_tab(const std::string& id, const std::string& title, const std::string& href) {
    impl_->tabs.push_back({id, title, href});
}

// ---- API answers --------------------------------------------------------------------------------------

Json FeatureBrowser::info_json() const {
    const Impl& I = *impl_;
    Json j = Json::object();
    std::lock_guard<std::mutex> g(I.db_mu);
    const FeatureDb& db = *I.db;
    j["database"] = db.path();
    for (const char* k : {"hook", "model", "sae", "corpus", "producer"}) j[k] = db.meta(k);
    auto num = [&](const char* k) -> Json {
        int64_t v = 0;
        return parse_i64(db.meta(k), v) ? Json(v) : Json(nullptr);
    };
    j["tokens"] = num("tokens");
    j["context"] = num("context");
    j["d_in"] = num("d_in");
    j["n_features"] = db.n_features();
    j["dead"] = I.dead;
    j["logit_effects"] = db.meta("logit_effects") != "false";
    Json h = Json::object();
    h["bin_edges_log10"] = Json::array_of(I.edges);
    h["counts"] = Json::array_of(I.counts);
    j["density_histogram"] = h;
    if (live()) {
        const LiveModel& L = *I.opt.live;
        Json l = Json::object();
        l["hook"] = L.hook;
        l["n_ctx"] = L.model->cfg.n_ctx;
        l["vocab"] = L.model->cfg.vocab;
        l["max_steps"] = L.max_steps;
        l["d_sae"] = L.sae->F();
        j["live"] = l;
    } else {
        j["live"] = nullptr;
    }
    Json tabs = Json::array();
    for (const Tab& t : I.tabs) {
        Json o = Json::object();
        o["id"] = t.id;
        o["title"] = t.title;
        o["href"] = t.href;
        tabs.push(o);
    }
    j["tabs"] = tabs;
    j["api"] = "/api/";
    return j;
}

Json FeatureBrowser::features_json(const QueryParams& q) const {
    const Impl& I = *impl_;
    const int64_t N = (int64_t)I.sums.size();
    const std::string sort = q.choice("sort", "density", {"density", "max", "fires", "label", "id"});
    int key = 0;
    while (sort != kSortNames[key]) key++;
    const std::string order =
        q.choice("order", key == BY_LABEL || key == BY_ID ? "asc" : "desc", {"asc", "desc"});
    const std::string filter = q.choice("filter", "all", {"all", "alive", "dead", "dense"});
    const double dense = q.f64("dense", 0.1, 0.0, 1.0);
    const double dmin = q.f64("min_density", 0.0, 0.0, 1.0);
    const double dmax = q.f64("max_density", 2.0, 0.0, 2.0);
    const int64_t offset = q.i64("offset", 0, 0, INT32_MAX);
    const int64_t limit = q.i64("limit", 100, 0, I.opt.max_page);
    const std::string text = lower_ascii(q.str("q"));
    std::vector<uint8_t> only;
    if (q.has("ids")) {
        only.assign((size_t)N, 0);
        const std::string s = q.str("ids");
        int64_t count = 0;
        if (!s.empty())
            for (const std::string& t : split_list(s, ',')) {
                int64_t v = 0;
                if (!parse_i64(t, v)) bad(400, "parameter 'ids': " + quote_value(t) + " is not an integer");
                if (v < 0 || v >= N) bad(400, strformat("parameter 'ids': feature %lld is out of range [0, %lld)",
                                                        (long long)v, (long long)N));
                if (++count > I.opt.max_page)
                    bad(400, strformat("parameter 'ids' lists more than %lld features", (long long)I.opt.max_page));
                only[(size_t)v] = 1;
            }
    }
    // the features whose text holds the query: one pass over the search buffer
    std::vector<uint8_t> hit;
    if (!text.empty()) {
        hit.assign((size_t)N, 0);
        const char* base = I.search.data();
        const size_t len = I.search.size();
        size_t at = 0;
        while (at < len) {
            const void* p = memmem(base + at, len - at, text.data(), text.size());
            if (!p) break;
            const size_t pos = (size_t)((const char*)p - base);
            const size_t f = (size_t)(std::upper_bound(I.search_off.begin(), I.search_off.end(), pos) -
                                      I.search_off.begin()) - 1;
            hit[f] = 1;
            at = I.search_off[f + 1];  // on to the next feature
        }
    }
    const std::vector<int32_t>& ord = I.order[key][order == "desc" ? 1 : 0];
    std::vector<int64_t> matched(I.counts.size(), 0);
    Json items = Json::array();
    int64_t total = 0;
    for (int32_t f : ord) {
        const DbFeatureSummary& s = I.sums[(size_t)f];
        if (!only.empty() && !only[(size_t)f]) continue;
        if (filter == "alive" && s.fires == 0) continue;
        if (filter == "dead" && s.fires != 0) continue;
        if (filter == "dense" && !(s.density > dense)) continue;
        if (s.density < dmin || s.density >= dmax) continue;
        if (!hit.empty() && !hit[(size_t)f]) continue;
        matched[(size_t)I.bin[(size_t)f]]++;
        if (total >= offset && total < offset + limit) {
            Json o = Json::object();
            o["feature"] = s.id;
            o["fires"] = s.fires;
            o["density"] = s.density;
            o["max_activation"] = s.max_act;
            o["label"] = s.label;
            const Example& e = I.examples[(size_t)f];
            if (e.ids.empty()) {
                o["example"] = nullptr;
            } else {
                Json ex = Json::object();
                Json toks = Json::array();
                for (int32_t t : e.ids) toks.push(Json(I.db->token_text(t)));
                ex["tokens"] = toks;
                ex["activations"] = Json::array_of(e.acts);
                ex["max_index"] = e.max_index;
                o["example"] = ex;
            }
            items.push(o);
        }
        total++;
    }
    Json j = Json::object();
    j["total"] = total;
    j["offset"] = offset;
    j["limit"] = limit;
    j["sort"] = sort;
    j["order"] = order;
    j["filter"] = filter;
    j["q"] = q.str("q");
    j["n_features"] = N;
    j["features"] = items;
    Json h = Json::object();
    h["bin_edges_log10"] = Json::array_of(I.edges);
    h["counts"] = Json::array_of(I.counts);
    h["matched"] = Json::array_of(matched);
    j["histogram"] = h;
    return j;
}

Json FeatureBrowser::feature_json(int64_t id) const {
    const Impl& I = *impl_;
    const int64_t N = (int64_t)I.sums.size();
    if (id < 0 || id >= N)
        bad(404, strformat("feature %lld is not in this database (features 0 to %lld)", (long long)id,
                           (long long)N - 1));
    std::lock_guard<std::mutex> g(I.db_mu);
    return I.db->feature_json(I.db->feature(id));
}

namespace {

const LiveModel& need_live(const FeatureBrowser& b, const LiveModel* L) {
    if (!b.live()) bad(404, "no model loaded: start `unfold serve DB --model M --sae RUN` for trace and steer");
    return *L;
}

// an error of the library on a request's input (e.g. parse_sae_edits) as a 400 that names the parameter
[[noreturn]] void as_bad_request(const Error& e) {
    std::string m = e.what();
    if (m.rfind("--", 0) == 0) m = m.substr(2);
    bad(400, m);
}

}  // namespace

Json FeatureBrowser::trace_json(const QueryParams& q) const {
    const Impl& I = *impl_;
    const LiveModel& L = need_live(*this, I.opt.live);
    const std::string text = q.str("text");
    if (text.empty()) bad(400, "give text=TEXT to trace");
    const int64_t F = L.sae->F();
    const int64_t only = q.i64("feature", -1, 0, F - 1);
    const int64_t top = q.i64("top", 5, 1, 100);
    std::vector<int32_t> ids;
    if (L.prepend_bos && L.tokenizer->bos_id() >= 0) ids.push_back(L.tokenizer->bos_id());
    auto enc = L.tokenizer->encode(text);
    ids.insert(ids.end(), enc.begin(), enc.end());
    if ((int64_t)ids.size() > L.model->cfg.n_ctx)
        bad(400, strformat("text is %zu tokens, the model takes at most %lld", ids.size(),
                           (long long)L.model->cfg.n_ctx));
    SparseCodes codes;
    {
        std::lock_guard<std::mutex> g(I.live_mu);
        codes = features_trace(*L.model, *L.sae, L.hook, ids);
    }
    Json toks = Json::array();
    for (size_t p = 0; p < ids.size(); p++) {
        std::vector<std::pair<float, int32_t>> act;
        for (int64_t k = codes.off[p]; k < codes.off[p + 1]; k++)
            if (codes.val[(size_t)k] > 0 && (only < 0 || codes.idx[(size_t)k] == only))
                act.push_back({codes.val[(size_t)k], codes.idx[(size_t)k]});
        std::sort(act.begin(), act.end(), [](const auto& x, const auto& y) {
            return x.first > y.first || (x.first == y.first && x.second < y.second);
        });
        if (only < 0 && (int64_t)act.size() > top) act.resize((size_t)top);
        Json o = Json::object();
        o["position"] = (int64_t)p;
        o["id"] = ids[p];
        o["token"] = I.text_of(ids[p]);
        Json fs = Json::array();
        if (only >= 0) {
            Json x = Json::object();
            x["feature"] = only;
            x["value"] = act.empty() ? 0.0 : (double)act[0].first;
            fs.push(x);
        } else {
            for (const auto& [v, f] : act) {
                Json x = Json::object();
                x["feature"] = f;
                x["value"] = v;
                fs.push(x);
            }
        }
        o["features"] = fs;
        toks.push(o);
    }
    Json j = Json::object();
    j["hook"] = L.hook;
    j["text"] = text;
    j["tokens"] = toks;
    return j;
}

Json FeatureBrowser::steer_json(const QueryParams& q) const {
    const Impl& I = *impl_;
    const LiveModel& L = need_live(*this, I.opt.live);
    const Tokenizer& tok = *L.tokenizer;
    const std::string prompt = q.str("prompt");
    SpliceOptions so;
    try {
        so.edits = parse_sae_edits(q.str("steer"), q.str("scale"), q.str("ablate"), L.sae->F());
    } catch (const Error& e) {
        as_bad_request(e);
    }
    if (so.edits.empty()) bad(400, "give steer=F=V (or scale=F=x, ablate=F): the edit to compare");
    so.keep_error = q.i64("splice", 0, 0, 1) == 0;
    GenerateOptions o;
    o.max_new_tokens = q.i64("steps", 40, 1, L.max_steps);
    o.temperature = (float)q.f64("temperature", 0.0, 0.0, 10.0);
    o.seed = (uint64_t)q.i64("seed", 0, 0, INT64_MAX);
    o.stop_id = tok.bos_id() >= 0 && tok.bos_id() != tok.eos_id() ? tok.bos_id() : tok.eos_id();
    std::vector<int32_t> ids;
    if (tok.bos_id() >= 0) ids.push_back(tok.bos_id());
    auto enc = tok.encode(prompt);
    ids.insert(ids.end(), enc.begin(), enc.end());
    if (ids.empty()) bad(400, "give prompt=TEXT (this tokenizer has no BOS token to start from)");
    if ((int64_t)ids.size() + o.max_new_tokens > L.model->cfg.n_ctx)
        bad(400, strformat("prompt (%zu tokens) + steps (%lld) exceed the model's context of %lld", ids.size(),
                           (long long)o.max_new_tokens, (long long)L.model->cfg.n_ctx));
    HookSet hooks;
    hooks.add(L.hook, hook_sae_splice(*L.sae, so));
    auto run = [&](const HookSet* h) {
        o.hooks = h;
        std::string text;
        std::vector<int32_t> out;
        {
            std::lock_guard<std::mutex> g(I.live_mu);
            out = lm_generate(*L.model, ids, o, [&](int32_t prev, int32_t id) { text += tok.decode_piece(prev, id); });
        }
        Json r = Json::object();
        r["text"] = text;
        r["ids"] = Json::array_of(out);
        return r;
    };
    Json j = Json::object();
    j["prompt"] = prompt;
    j["hook"] = L.hook;
    j["edits"] = describe_sae_edits(so.edits);
    j["error_term"] = so.keep_error;
    j["steps"] = o.max_new_tokens;
    j["temperature"] = (double)o.temperature;
    j["unedited"] = run(nullptr);
    j["steered"] = run(&hooks);
    return j;
}

Json FeatureBrowser::api_index_json() const {
    auto ep = [](const char* path, const char* params, const char* answer) {
        Json o = Json::object();
        o["path"] = path;
        o["params"] = params;
        o["answer"] = answer;
        return o;
    };
    Json a = Json::array();
    a.push(ep("/api/info", "", "the database: path, hook, model, tokens, n_features, dead, density_histogram, live, tabs"));
    a.push(ep("/api/features",
              "sort=density|max|fires|label|id order=asc|desc q=TEXT filter=all|alive|dead|dense dense=0.1 "
              "min_density= max_density= ids=1,2,3 offset=0 limit=100",
              "{total, offset, limit, sort, order, features: [{feature, fires, density, max_activation, label, "
              "example}], histogram: {bin_edges_log10, counts, matched}}"));
    a.push(ep("/api/feature/F", "", "the `unfold features show --feature F --json` object"));
    a.push(ep("/api/trace", "text=TEXT feature=F top=5",
              "{hook, text, tokens: [{position, id, token, features: [{feature, value}]}]} (needs --model/--sae)"));
    a.push(ep("/api/steer",
              "prompt=TEXT steer=F=V[,G=W] scale=F=x ablate=F splice=0|1 steps=40 temperature=0 seed=0",
              "{prompt, hook, edits, error_term, steps, unedited: {text, ids}, steered: {text, ids}} (needs "
              "--model/--sae)"));
    Json j = Json::object();
    j["endpoints"] = a;
    j["errors"] = "{error, status}: 400 bad parameters, 404 unknown feature, page or missing model";
    return j;
}

// ---- pages ------------------------------------------------------------------------------------------

std::string FeatureBrowser::page_shell(const std::string& page, const std::string& title, const std::string& root,
                                       const std::string& mode, const Json* data,
                                       const std::vector<std::pair<std::string, std::string>>& attrs,
                                       const std::vector<std::string>& scripts) const {
    std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
                    html_escape(title) +
                    "</title>\n<link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"" +
                    html_escape(root) + "static/app.css\">\n</head>\n<body data-page=\"" + html_escape(page) +
                    "\" data-mode=\"" + html_escape(mode) + "\" data-root=\"" + html_escape(root) + "\"";
    for (const auto& [k, v] : attrs) {
        std::string name;
        for (char c : k)
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') name += c;
        s += " data-" + name + "=\"" + html_escape(v) + "\"";
    }
    s += ">\n<div id=\"app\"><noscript><p class=\"noscript\">This page is drawn by JavaScript; its data is also "
         "served as JSON under /api/.</p></noscript></div>\n";
    if (data) s += "<script type=\"application/json\" id=\"unfold-data\">" + json_for_script(*data) + "</script>\n";
    if (mode == "static") s += "<script src=\"" + html_escape(root) + "static/vocab.js\"></script>\n";
    s += "<script src=\"" + html_escape(root) + "static/app.js\"></script>\n";
    for (const std::string& js : scripts) s += "<script src=\"" + html_escape(root) + "static/" + html_escape(js) + "\"></script>\n";
    s += "</body>\n</html>\n";
    return s;
}

// ---- routing ------------------------------------------------------------------------------------------

namespace {

WebResponse json_response(const Json& j, int status = 200) {
    WebResponse r;
    r.status = status;
    r.body = j.dump(-1);
    r.body += '\n';
    return r;
}

WebResponse error_response(int status, const std::string& msg) {
    Json j = Json::object();
    j["error"] = msg;
    j["status"] = status;
    return json_response(j, status);
}

WebResponse html_response(std::string body, int status = 200) {
    WebResponse r;
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::move(body);
    return r;
}

// a feature id in a path: digits only, in range
int64_t path_feature(const std::string& rest, int64_t n) {
    int64_t v = 0;
    if (rest.empty() || rest.size() > 18 || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !parse_i64(rest, v))
        bad(400, "a feature is a number: " + quote_value(rest) + " is not");
    if (v >= n)
        bad(404, strformat("feature %lld is not in this database (features 0 to %lld)", (long long)v, (long long)n - 1));
    return v;
}

}  // namespace

WebResponse FeatureBrowser::handle(const WebRequest& r) const {
    const Impl& I = *impl_;
    const bool is_api = r.path.rfind("/api/", 0) == 0 || r.path == "/api";
    try {
        if (r.method != "GET" && r.method != "HEAD") {
            WebResponse e = error_response(405, "method " + quote_value(r.method) + " is not allowed: GET or HEAD");
            e.headers.push_back({"Allow", "GET, HEAD"});
            return e;
        }
        if (r.path.empty() || r.path[0] != '/' || r.path.size() > 1024) bad(400, "malformed path");
        if (!is_valid_utf8(r.path)) bad(400, "the path is not valid UTF-8");
        for (unsigned char c : r.path)
            if (c < 0x20 || c == 0x7f || c == '\\') bad(400, "the path holds a control character or a backslash");
        if (r.path.find("/..") != std::string::npos || r.path.find("//") != std::string::npos ||
            r.path.find("/./") != std::string::npos)
            bad(400, "the path holds '..', '.' or an empty segment");
        const int64_t N = (int64_t)I.sums.size();
        const size_t maxb = I.opt.max_text_bytes;
        // extension routes first (exact, then the longest prefix)
        const Route* best = nullptr;
        for (const Route& rt : I.routes)
            if (!rt.prefix && r.path == rt.path) best = &rt;
        for (const Route& rt : I.routes)
            if (!best && rt.prefix && r.path.rfind(rt.path, 0) == 0) best = &rt;
        for (const Route& rt : I.routes)  // the longest matching prefix
            if (best && best->prefix && rt.prefix && r.path.rfind(rt.path, 0) == 0 && rt.path.size() > best->path.size())
                best = &rt;
        if (best) return best->h(r, r.path.substr(best->path.size()));
        const std::string& p = r.path;
        if (p == "/" || p == "/features" || p == "/index.html") {
            QueryParams q(r, {"sort", "order", "q", "filter", "dense", "min_density", "max_density", "offset", "limit"},
                          maxb);
            return html_response(page_shell("list", "unfold · features", "/", "server", nullptr));
        }
        if (p.rfind("/feature/", 0) == 0) {
            QueryParams q(r, {}, maxb);
            const int64_t f = path_feature(p.substr(9), N);
            return html_response(page_shell("feature", strformat("unfold · feature %lld", (long long)f), "/", "server",
                                            nullptr, {{"feature", std::to_string(f)}}));
        }
        if (p == "/live") {
            QueryParams q(r, {"text", "feature", "prompt", "value", "steps"}, maxb);
            need_live(*this, I.opt.live);
            return html_response(page_shell("live", "unfold · live", "/", "server", nullptr));
        }
        if (p.rfind("/static/", 0) == 0) {
            QueryParams q(r, {"v"}, maxb);
            const WebAsset* a = find_web_asset(p.substr(8));
            if (!a) bad(404, "no such file: " + quote_value(p));
            WebResponse w;
            w.content_type = a->content_type;
            w.body.assign((const char*)a->data, a->size);
            w.headers.push_back({"Cache-Control", "no-cache"});
            return w;
        }
        if (p == "/api" || p == "/api/") {
            QueryParams q(r, {}, maxb);
            return json_response(api_index_json());
        }
        if (p == "/api/info") {
            QueryParams q(r, {}, maxb);
            return json_response(info_json());
        }
        if (p == "/api/features") {
            QueryParams q(r, {"sort", "order", "q", "filter", "dense", "min_density", "max_density", "ids", "offset",
                              "limit"},
                          maxb);
            return json_response(features_json(q));
        }
        if (p.rfind("/api/feature/", 0) == 0) {
            QueryParams q(r, {}, maxb);
            return json_response(feature_json(path_feature(p.substr(13), N)));
        }
        if (p == "/api/trace") {
            QueryParams q(r, {"text", "feature", "top"}, maxb);
            return json_response(trace_json(q));
        }
        if (p == "/api/steer") {
            QueryParams q(r, {"prompt", "steer", "scale", "ablate", "splice", "steps", "temperature", "seed"}, maxb);
            return json_response(steer_json(q));
        }
        bad(404, "no such page: " + quote_value(p));
    } catch (const WebError& e) {
        if (is_api || e.status != 404 || r.path.rfind("/static/", 0) == 0) return error_response(e.status, e.message);
        // a page that is not there: a small HTML page that says so and links home
        return html_response("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>unfold · not "
                             "found</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main "
                             "class=\"notfound\"><h1>Not found</h1><p>" +
                                 html_escape(e.message) + "</p><p><a href=\"/\">All features</a></p></main></body></html>\n",
                             e.status);
    } catch (const Error& e) {
        return error_response(500, e.what());
    } catch (const std::bad_alloc&) {
        return error_response(503, "out of memory");
    } catch (const std::exception& e) {
        return error_response(500, e.what());
    } catch (...) {
        return error_response(500, "internal error");
    }
}

}  // namespace unfold
