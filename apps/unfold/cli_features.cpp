// cli_features.cpp: the `unfold features` group - build a features database, show features, trace a text,
// test a hypothesis, measure an ablation's effect. A thin layer over features_build.h, feature_db.h and
// feature_probe.h.
#include "cli_features.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>

#include "cli_lm.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/features/feature_db.h"
#include "unfold/features/feature_probe.h"
#include "unfold/features/features_build.h"
#include "unfold/features/hook_stream.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/cache.h"
#include "unfold/lm/checkpoint.h"

namespace unfold {

namespace {

// ---- shared pieces ------------------------------------------------------------------------------------

std::vector<OptSpec> model_opts() {
    std::vector<OptSpec> o = {{"model", "", "model: llama2.c .bin, .safetensors, or a folder with config.json"},
                              {"tokenizer", "", "tokenizer file/folder (default: the model folder's tokenizer/)"}};
    for (auto& x : sae_hook_opts()) o.push_back(x);
    o.push_back(kDtypeOpt);
    return o;
}

std::vector<OptSpec> corpus_opts(const char* tokens_default) {
    return {{"corpus", "", "UTF-8 text file (or kjv / gcide: that installed corpus)"},
            {"tokens", tokens_default, "corpus tokens to read (whole windows)"},
            {"context", "", "window length (default: the SAE's context_size, else 64)"},
            {"batch", "16", "windows per forward pass"}};
}

// model + tokenizer + SAE at its hook, for the commands that run the model
struct Loaded {
    LmModel m;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<SaeAtHook> sae;
};

std::unique_ptr<Loaded> load_all(const Args& a) {
    auto L = std::make_unique<Loaded>();
    UNFOLD_CHECK(!a.str("model").empty(), "give --model M");
    UNFOLD_CHECK(!a.str("sae").empty(), "give --sae RUN");
    load_inference_model(L->m, a);
    L->tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
    UNFOLD_CHECK(L->tok->vocab_size() <= L->m.cfg.vocab, "tokenizer has %d tokens but the model's vocabulary is %lld",
                 L->tok->vocab_size(), (long long)L->m.cfg.vocab);
    L->sae = sae_at_hook_from_args(a, L->m, false);
    return L;
}

// the scan of a corpus command: windows as the SAE saw them (context, BOS)
CorpusScan scan_from_args(const Args& a, const Loaded& L) {
    CorpusScan s;
    s.hook = L.sae->hook;
    s.context = std::min<int64_t>(sae_context_from_args(a, L.sae->sae, 64), L.m.cfg.n_ctx);
    s.batch = a.i64("batch");
    s.bos_id = sae_hook_info(L.sae->sae).prepend_bos ? L.tok->bos_id() : -1;
    s.tokens = a.i64("tokens");
    s.ctx = a.ctx;
    return s;
}

std::vector<int32_t> corpus_tokens(const Args& a, const Loaded& L) {
    UNFOLD_CHECK(!a.str("corpus").empty(), "give --corpus TEXT");
    std::string path = resolve_corpus(a.str("corpus"), "data", a.ctx);
    return tokenize_file(*L.tok, path, a.ctx);
}

// terminal output: a token's text with newlines and tabs made visible
std::string visible(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '\n') o += "\\n";
        else if (c == '\t') o += "\\t";
        else if ((unsigned char)c < 0x20) o += strformat("\\x%02x", (unsigned char)c);
        else o += c;
    }
    return o;
}

// one context: with colour, each firing token's background is orange in proportion to act / max (24-bit
// colour) and the max token is bold; without, firing tokens are [token] and the max token [[token]]
std::string render_context(const std::vector<std::string>& texts, const std::vector<float>& acts, int max_index,
                           double scale, bool colour) {
    std::string o;
    for (size_t i = 0; i < texts.size(); i++) {
        const std::string t = visible(texts[i]);
        const float v = acts[i];
        if (colour) {
            if (v > 0) {
                const double x = std::clamp(v / (scale > 0 ? scale : 1.0), 0.0, 1.0);
                const int r = 255, g = (int)(255 - 140 * x), b = (int)(255 - 230 * x);
                o += strformat("\x1b[48;2;%d;%d;%dm\x1b[38;2;0;0;0m%s%s\x1b[0m", r, g, b,
                               (int)i == max_index ? "\x1b[1m" : "", t.c_str());
            } else {
                o += t;
            }
        } else if ((int)i == max_index) {
            o += "[[" + t + "]]";
        } else if (v > 0) {
            o += "[" + t + "]";
        } else {
            o += t;
        }
    }
    return o;
}

// ---- build --------------------------------------------------------------------------------------------

int features_build_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features build",
        "Run a model over a corpus with an SAE at its hook and write every feature's statistics to a SQLite "
        "database: density, activation histogram, top contexts, interval samples, logit effects, neuron "
        "alignment, co-firing features, decoder neighbours and an automatic label. One pass, bounded memory, "
        "progress on stderr, --resume after an interruption.",
        "unfold features build --model runs/lm1 --sae runs/sae1 --corpus val.txt --tokens 1000000 --context 64 "
        "--out runs/sae1/features.db\n"
        "unfold features build --model models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin "
        "\\\n    --sae runs/sae1 --corpus kjv --tokens 200000 --out f.db",
        [] {
            std::vector<OptSpec> o = model_opts();
            for (auto& x : corpus_opts("1000000")) o.push_back(x);
            o.push_back({"out", "", "the database to write (required; written to a temporary name, then renamed)"});
            o.push_back({"top", "20", "strongest contexts kept per feature (one per window)"});
            o.push_back({"before", "16", "tokens shown before the firing token"});
            o.push_back({"after", "4", "tokens shown after it"});
            o.push_back({"interval-samples", "4", "contexts sampled from each of the 16 activation intervals"});
            o.push_back({"cofire-rows", "65536", "rows sampled for co-firing statistics"});
            o.push_back({"checkpoint-every", "60", "seconds between saves of <out>.partial (0 = never)"});
            o.push_back({"resume", "", "continue from <out>.partial", true});
            o.push_back({"json", "", "print the result as JSON", true});
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string out = a.str("out");
    UNFOLD_CHECK(!out.empty(), "give --out FEATURES.db");
    auto L = load_all(a);
    auto tokens = corpus_tokens(a, *L);
    CorpusScan scan = scan_from_args(a, *L);
    FeaturesBuildOptions o;
    o.hook = scan.hook;
    o.context = scan.context;
    o.batch = scan.batch;
    o.bos_id = scan.bos_id;
    o.tokens = scan.tokens;
    o.stats.top = a.i32("top", 0);
    o.stats.before = a.i32("before", 0);
    o.stats.after = a.i32("after", 0);
    o.stats.interval_samples = a.i32("interval-samples", 0);
    o.stats.seed = a.seed();
    o.cofire_rows = a.i64("cofire-rows");
    o.checkpoint_seconds = a.f64("checkpoint-every");
    o.resume = a.flag("resume");
    o.ctx = a.ctx;
    o.meta["model"] = a.str("model");
    o.meta["tokenizer"] = a.str("tokenizer");
    o.meta["sae"] = L->sae->path;
    o.meta["corpus"] = resolve_corpus(a.str("corpus"), "data", a.ctx);
    o.meta["corpus_tokens"] = std::to_string(tokens.size());
    FeaturesBuildResult r = features_build(L->m, L->sae->sae, tokens, token_texts(*L->tok, L->m.cfg.vocab), o, out);
    FeatureDb db(out);
    int64_t dead = 0;
    for (const auto& f : db.list()) dead += f.fires == 0;
    if (a.flag("json")) {
        Json j = Json::object();
        j["out"] = out;
        j["features"] = r.d_sae;
        j["tokens"] = r.rows;
        j["windows"] = r.windows;
        j["dead"] = dead;
        j["seconds"] = r.seconds;
        j["tokens_per_second"] = r.rows_per_second;
        j["model_seconds"] = r.model_seconds;
        j["stats_seconds"] = r.stats_seconds;
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("wrote %s: %lld features (%lld dead) over %lld tokens of %s at %s; %.1f s (%.0f tokens/s)\n",
                    out.c_str(), (long long)r.d_sae, (long long)dead, (long long)r.rows, a.str("corpus").c_str(),
                    scan.hook.c_str(), r.seconds, r.rows_per_second);
    }
    return 0;
}

// ---- show ---------------------------------------------------------------------------------------------

void print_feature(const FeatureDb& db, const DbFeature& f, bool colour) {
    std::printf("feature %lld  density %.3g (%lld firings)  mean %.4g  max %.4g\n", (long long)f.id, f.density,
                (long long)f.fires, f.mean_act, f.max_act);
    std::printf("label: %s\n", f.label.empty() ? "(none: no token is over-represented)" : f.label.c_str());
    if (f.neuron >= 0)
        std::printf("neuron alignment: neuron %lld, cos %.3f, %.1f%% of the direction's squared norm\n",
                    (long long)f.neuron, f.neuron_cos, 100 * f.neuron_share);
    // histogram as a one-line sparkline
    if (f.fires > 0) {
        static const char* bars[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
        int64_t mx = 1;
        int last = 0;
        for (size_t i = 0; i < f.histogram.size(); i++)
            if (f.histogram[i] > 0) mx = std::max(mx, f.histogram[i]), last = (int)i;
        std::string s;
        for (int i = 0; i <= last; i++) {
            const int64_t c = f.histogram[(size_t)i];
            s += bars[c == 0 ? 0 : 1 + (int)std::lround(7.0 * std::log1p((double)c) / std::log1p((double)mx))];
        }
        std::printf("activations 0 .. %.3g: |%s|\n", f.hist_hi * (last + 1) / (double)f.histogram.size(), s.c_str());
    }
    auto toks = [&](const std::vector<DbTokenValue>& v) {
        std::string s;
        for (const auto& x : v) s += strformat("%s\"%s\" %+.3f", s.empty() ? "" : ", ", visible(db.token_text(x.token)).c_str(), x.value);
        return s;
    };
    if (!f.promoted.empty()) {
        std::printf("promotes:   %s\n", toks(f.promoted).c_str());
        std::printf("suppresses: %s\n", toks(f.suppressed).c_str());
    }
    auto others = [&](const std::vector<DbTokenValue>& v, const char* fmt) {
        std::string s;
        for (const auto& x : v) s += strformat(fmt, s.empty() ? "" : ", ", x.token, x.value);
        return s;
    };
    if (!f.cofiring.empty()) std::printf("co-fires with: %s\n", others(f.cofiring, "%s%d (p %.2f)").c_str());
    if (!f.neighbours.empty()) std::printf("decoder neighbours: %s\n", others(f.neighbours, "%s%d (cos %.2f)").c_str());
    auto contexts = [&](const std::vector<DbContext>& v, bool intervals) {
        int last_rank = -1;
        for (const DbContext& c : v) {
            if (intervals && c.rank != last_rank) {
                std::printf("  interval [%.3g, %.3g):\n", c.lo, c.hi);
                last_rank = c.rank;
            }
            std::vector<std::string> texts;
            for (int32_t t : c.tokens) texts.push_back(db.token_text(t));
            std::printf("  %8.3f  %s\n", c.value,
                        render_context(texts, c.activations, c.pos - c.first, f.max_act, colour).c_str());
        }
    };
    if (!f.top.empty()) {
        std::printf("top contexts:\n");
        contexts(f.top, false);
    }
    if (!f.intervals.empty()) {
        std::printf("interval samples:\n");
        contexts(f.intervals, true);
    }
}

int features_show_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features show",
        "List the features of a database, or print one feature (--feature) with its contexts highlighted. "
        "--json: one feature as {feature, fires, density, mean_activation, max_activation, label, label_tokens "
        "[{token, id, share, lift}], top_contexts and interval_contexts [{tokens, ids, activations, text, max, "
        "max_index, window, position, corpus_index (, interval [lo, hi])}], logit_effects {promoted, suppressed} "
        "[{token, id, value}], histogram {lo, hi, counts}, neuron_alignment {neuron, cos, share} | null, "
        "cofiring [{feature, probability}], neighbours [{feature, cosine}]}; a list as {features: [{feature, "
        "fires, density, max_activation, label}], ...}.",
        "unfold features show f.db [--sort density|max|label|id] [--filter alive|dead|dense] [--limit 50]\n"
        "unfold features show f.db --feature 123 [--json]",
        {{"feature", "", "print this feature"},
         {"sort", "density", "list order: density | max | label | id (density and max descending)"},
         {"filter", "all", "all | alive | dead (never fired) | dense (density above --dense)"},
         {"dense", "0.1", "density above which a feature counts as dense"},
         {"limit", "50", "at most this many listed (0 = all)"},
         {"color", "auto", "auto (when stdout is a terminal) | always | never"},
         {"json", "", "print JSON", true}},
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    FeatureDb db(a.positional[0]);
    const std::string col = a.str("color");
    UNFOLD_CHECK(col == "auto" || col == "always" || col == "never", "--color must be auto, always or never");
    const bool colour = col == "always" || (col == "auto" && isatty(1));
    if (!a.str("feature").empty()) {
        DbFeature f = db.feature(a.i64("feature"));
        if (a.flag("json"))
            std::printf("%s\n", db.feature_json(f).dump(2).c_str());
        else
            print_feature(db, f, colour);
        return 0;
    }
    auto all = db.list();
    const std::string filter = a.str("filter"), sort = a.str("sort");
    const double dense = a.f64("dense");
    UNFOLD_CHECK(filter == "all" || filter == "alive" || filter == "dead" || filter == "dense",
                 "--filter must be all, alive, dead or dense");
    std::vector<DbFeatureSummary> v;
    for (const auto& f : all)
        if (filter == "all" || (filter == "alive" && f.fires > 0) || (filter == "dead" && f.fires == 0) ||
            (filter == "dense" && f.density > dense))
            v.push_back(f);
    if (sort == "density")
        std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.density > y.density; });
    else if (sort == "max")
        std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.max_act > y.max_act; });
    else if (sort == "label")
        std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
            return (x.label.empty() ? "\x7f" : x.label) < (y.label.empty() ? "\x7f" : y.label);
        });
    else
        UNFOLD_CHECK(sort == "id", "--sort must be density, max, label or id");
    const int64_t limit = a.i64("limit");
    if (limit > 0 && (int64_t)v.size() > limit) v.resize((size_t)limit);
    int64_t dead = 0;
    for (const auto& f : all) dead += f.fires == 0;
    if (a.flag("json")) {
        Json j = Json::object();
        j["database"] = db.path();
        j["hook"] = db.meta("hook");
        j["tokens"] = db.meta("tokens");
        j["n_features"] = db.n_features();
        j["dead"] = dead;
        j["density_histogram"] = json_parse(db.meta("density_histogram"), db.path() + ": meta density_histogram");
        Json arr = Json::array();
        for (const auto& f : v) {
            Json o = Json::object();
            o["feature"] = f.id;
            o["fires"] = f.fires;
            o["density"] = f.density;
            o["max_activation"] = f.max_act;
            o["label"] = f.label;
            arr.push(o);
        }
        j["features"] = arr;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%s: %lld features (%lld dead) at %s over %s tokens; showing %zu (%s, sorted by %s)\n",
                db.path().c_str(), (long long)db.n_features(), (long long)dead, db.meta("hook").c_str(),
                db.meta("tokens").c_str(), v.size(), filter.c_str(), sort.c_str());
    std::printf("%8s %10s %10s %10s  %s\n", "feature", "density", "firings", "max", "label");
    for (const auto& f : v)
        std::printf("%8lld %10.3g %10lld %10.4g  %s\n", (long long)f.id, f.density, (long long)f.fires, f.max_act,
                    visible(f.label).c_str());
    return 0;
}

// ---- trace --------------------------------------------------------------------------------------------

int features_trace_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features trace",
        "Token by token, the features active at each position of a text and their values. With --db and "
        "--feature/--context, traces a context the database recorded (the window it came from, rebuilt from the "
        "corpus) and prints the recorded activations beside the traced ones.",
        "unfold features trace --model runs/lm1 --sae runs/sae1 --text \"In the beginning\" [--json]\n"
        "unfold features trace --model runs/lm1 --sae runs/sae1 --db f.db --feature 12 --context 0",
        [] {
            std::vector<OptSpec> o = model_opts();
            o.push_back({"text", "", "the text (BOS is prepended when the SAE's windows start with it)"});
            o.push_back({"ids", "", "token ids instead of --text, separated by spaces or commas"});
            o.push_back({"db", "", "features database whose recorded context to trace (with --feature, --context)"});
            o.push_back({"feature", "", "only this feature's value at each position"});
            o.push_back({"context", "", "with --db: the rank of the feature's top context to trace"});
            o.push_back({"top", "5", "features listed per position (largest values)"});
            o.push_back({"json", "", "print JSON: {hook, tokens: [{position, id, token, features: [{feature, "
                                     "value}]}] (, recorded: [...])}",
                         true});
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    auto L = load_all(a);
    const Sae& sae = L->sae->sae;
    std::vector<int32_t> ids;
    std::vector<float> recorded;
    int64_t first = 0, shown = -1;
    int64_t only = -1;
    bool bos_first = false;  // position 0 is a prepended BOS, left out of the recorded statistics
    if (!a.str("feature").empty()) {
        only = a.i64("feature");
        UNFOLD_CHECK(only >= 0 && only < sae.F(), "--feature %lld is out of range [0, %lld)", (long long)only,
                     (long long)sae.F());
    }
    if (!a.str("db").empty()) {
        UNFOLD_CHECK(only >= 0 && !a.str("context").empty(), "--db needs --feature F and --context RANK");
        FeatureDb db(a.str("db"));
        UNFOLD_CHECK(db.n_features() == sae.F(), "%s: %lld features, the SAE has %lld", db.path().c_str(),
                     (long long)db.n_features(), (long long)sae.F());
        DbFeature f = db.feature(only);
        const int64_t rank = a.i64("context");
        UNFOLD_CHECK(rank >= 0 && rank < (int64_t)f.top.size(), "--context %lld: feature %lld has %zu top contexts",
                     (long long)rank, (long long)only, f.top.size());
        const DbContext& c = f.top[(size_t)rank];
        const std::string corpus = db.meta("corpus");
        UNFOLD_CHECK(!corpus.empty() && file_exists(corpus), "%s: its corpus '%s' is not there", db.path().c_str(),
                     corpus.c_str());
        auto toks = tokenize_file(*L->tok, corpus, a.ctx);
        HookStreamOptions ho;
        ho.hook = L->sae->hook;
        ho.context = parse_int(db.meta("context"), db.path() + ": meta 'context'");
        const int64_t bos = parse_int(db.meta("bos_id"), db.path() + ": meta 'bos_id'");
        UNFOLD_CHECK(bos >= -1 && bos < L->m.cfg.vocab, "%s: meta 'bos_id' %lld is not a token of the model",
                     db.path().c_str(), (long long)bos);
        ho.bos_id = (int32_t)bos;
        bos_first = ho.bos_id >= 0;
        HookStream hs(L->m, toks, ho);
        ids = hs.window_ids(c.window);
        ids.resize((size_t)(c.first + (int64_t)c.tokens.size()));  // a causal model: later tokens change nothing
        first = c.first;
        shown = (int64_t)c.tokens.size();
        recorded = c.activations;
        UNFOLD_CHECK(std::equal(c.tokens.begin(), c.tokens.end(), ids.begin() + first),
                     "%s: the corpus no longer holds the recorded tokens of this context", db.path().c_str());
    } else if (!a.str("ids").empty()) {
        std::string s = a.str("ids");
        std::replace(s.begin(), s.end(), ',', ' ');
        for (const std::string& t : split_list(s, ' '))
            if (!t.empty()) ids.push_back((int32_t)parse_int(t, "--ids"));
    } else {
        UNFOLD_CHECK(!a.str("text").empty(), "give --text, --ids or --db");
        if (sae_hook_info(sae).prepend_bos && L->tok->bos_id() >= 0) ids.push_back(L->tok->bos_id());
        auto enc = L->tok->encode(a.str("text"));
        ids.insert(ids.end(), enc.begin(), enc.end());
    }
    SparseCodes codes = features_trace(L->m, sae, L->sae->hook, ids);
    const auto texts = token_texts(*L->tok, L->m.cfg.vocab);
    const int64_t top = a.i64("top");
    const int64_t end = shown >= 0 ? first + shown : (int64_t)ids.size();
    Json jt = Json::array();
    for (int64_t p = first; p < end; p++) {
        std::vector<std::pair<float, int32_t>> act;
        for (int64_t j = codes.off[(size_t)p]; j < codes.off[(size_t)p + 1]; j++)
            if (codes.val[(size_t)j] > 0 && (only < 0 || codes.idx[(size_t)j] == only))
                act.push_back({codes.val[(size_t)j], codes.idx[(size_t)j]});
        std::sort(act.begin(), act.end(), [](const auto& x, const auto& y) {
            return x.first > y.first || (x.first == y.first && x.second < y.second);
        });
        if (only < 0 && (int64_t)act.size() > top) act.resize((size_t)top);
        const std::string& t = texts[(size_t)ids[(size_t)p]];
        if (a.flag("json")) {
            Json o = Json::object();
            o["position"] = p;
            o["id"] = ids[(size_t)p];
            o["token"] = t;
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
            if (!recorded.empty())
                o["recorded"] = bos_first && p == 0 ? Json(nullptr) : Json(recorded[(size_t)(p - first)]);
            jt.push(o);
        } else {
            std::string s;
            for (const auto& [v, f] : act) s += strformat("%s%d=%.3f", s.empty() ? "" : " ", f, v);
            if (only >= 0 && act.empty()) s = "0";
            if (!recorded.empty())
                s += bos_first && p == 0 ? std::string("   (BOS: left out of the statistics)")
                                         : strformat("   (recorded %.3f)", recorded[(size_t)(p - first)]);
            std::printf("%4lld %-16s %s\n", (long long)p, ("\"" + visible(t) + "\"").c_str(), s.c_str());
        }
    }
    if (a.flag("json")) {
        Json j = Json::object();
        j["hook"] = L->sae->hook;
        j["tokens"] = jt;
        std::printf("%s\n", j.dump(2).c_str());
    }
    return 0;
}

// ---- hypothesis ---------------------------------------------------------------------------------------

int features_hypothesis_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features hypothesis",
        "Test a hypothesised context against where features fire: a regular expression (ECMAScript) over a "
        "token's text, or over the text of the --window tokens ending at it. Per feature: specificity "
        "P(context | fires), sensitivity P(fires | context) and F1, ranked by F1.",
        "unfold features hypothesis --model runs/lm1 --sae runs/sae1 --corpus val.txt --pattern '^ [A-Z]'\n"
        "unfold features hypothesis ... --pattern 'of the$' --window 3 --feature 123",
        [] {
            std::vector<OptSpec> o = model_opts();
            for (auto& x : corpus_opts("262144")) o.push_back(x);
            o.push_back({"pattern", "", "regular expression the context matches (required)"});
            o.push_back({"window", "1", "match over the text of this many tokens ending at the token (1 = it alone)"});
            o.push_back({"feature", "", "report only this feature"});
            o.push_back({"top", "10", "features listed (by F1)"});
            o.push_back({"json", "", "print JSON: {pattern, rows, context_rows, features: [{feature, specificity, "
                                     "sensitivity, f1, fires, both}]}",
                         true});
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string pat = a.str("pattern");
    UNFOLD_CHECK(!pat.empty(), "give --pattern REGEX");
    std::regex re;
    try {
        re = std::regex(pat, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        fail("--pattern '%s' is not a valid regular expression: %s", pat.c_str(), e.what());
    }
    const int64_t win = a.i64("window");
    UNFOLD_CHECK(win >= 1 && win <= 256, "--window must be in [1, 256]");
    auto L = load_all(a);
    int64_t only = -1;
    if (!a.str("feature").empty()) {
        only = a.i64("feature");
        UNFOLD_CHECK(only >= 0 && only < L->sae->sae.F(), "--feature %lld is out of range [0, %lld)",
                     (long long)only, (long long)L->sae->sae.F());
    }
    auto tokens = corpus_tokens(a, *L);
    CorpusScan scan = scan_from_args(a, *L);
    const auto texts = token_texts(*L->tok, L->m.cfg.vocab);
    std::vector<uint8_t> tok_match(texts.size());
    for (size_t i = 0; i < texts.size(); i++) tok_match[i] = std::regex_search(texts[i], re);
    ContextPredicate pred = [&](const int32_t* ids, int64_t, int64_t pos) -> bool {
        if (win == 1) return tok_match[(size_t)ids[pos]];
        std::string s;
        for (int64_t q = std::max<int64_t>(0, pos - win + 1); q <= pos; q++) s += texts[(size_t)ids[q]];
        return std::regex_search(s, re);
    };
    HypothesisResult r = features_hypothesis(L->m, L->sae->sae, tokens, scan, pred);
    std::vector<HypothesisScore> v;
    if (only >= 0) {
        v.push_back(r.features[(size_t)only]);
    } else {
        v = r.features;
        std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.f1 > y.f1; });
        const int64_t top = a.i64("top");
        if (top > 0 && (int64_t)v.size() > top) v.resize((size_t)top);
    }
    if (a.flag("json")) {
        Json j = Json::object();
        j["pattern"] = pat;
        j["window"] = win;
        j["hook"] = scan.hook;
        j["rows"] = r.rows;
        j["context_rows"] = r.context_rows;
        Json arr = Json::array();
        for (const auto& s : v) {
            Json o = Json::object();
            o["feature"] = s.feature;
            o["specificity"] = s.specificity;
            o["sensitivity"] = s.sensitivity;
            o["f1"] = s.f1;
            o["fires"] = s.fires;
            o["both"] = s.both;
            arr.push(o);
        }
        j["features"] = arr;
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("pattern /%s/ over %lld token%s: holds at %lld of %lld positions (%.3g)\n", pat.c_str(),
                (long long)win, win == 1 ? "" : "s", (long long)r.context_rows, (long long)r.rows,
                r.rows ? (double)r.context_rows / (double)r.rows : 0.0);
    std::printf("%8s %12s %12s %8s %10s\n", "feature", "specificity", "sensitivity", "F1", "firings");
    for (const auto& s : v)
        std::printf("%8lld %12.4f %12.4f %8.4f %10lld\n", (long long)s.feature, s.specificity, s.sensitivity, s.f1,
                    (long long)s.fires);
    return 0;
}

// ---- effect -------------------------------------------------------------------------------------------

int features_effect_cmd(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features effect",
        "Ablate a feature wherever it fires (the SAE's error term kept, so only its own contribution goes) and "
        "report the mean change in next-token loss there and the tokens whose log-probabilities rise and fall "
        "most.",
        "unfold features effect --model runs/lm1 --sae runs/sae1 --corpus val.txt --feature 123",
        [] {
            std::vector<OptSpec> o = model_opts();
            for (auto& x : corpus_opts("262144")) o.push_back(x);
            o.push_back({"feature", "", "the feature to ablate (required)"});
            o.push_back({"top", "10", "tokens listed each way"});
            o.push_back({"json", "", "print JSON: {feature, firings, rows, mean_activation, loss_clean, "
                                     "loss_ablated, delta_loss, rises: [{token, id, value}], falls: [...]}",
                         true});
            return o;
        }()};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    UNFOLD_CHECK(!a.str("feature").empty(), "give --feature F");
    auto L = load_all(a);
    const int64_t f = a.i64("feature");
    auto tokens = corpus_tokens(a, *L);
    CorpusScan scan = scan_from_args(a, *L);
    EffectResult r = features_effect(L->m, L->sae->sae, tokens, scan, f, a.i32("top", 0));
    const auto texts = token_texts(*L->tok, L->m.cfg.vocab);
    if (a.flag("json")) {
        Json j = Json::object();
        j["feature"] = r.feature;
        j["hook"] = scan.hook;
        j["rows"] = r.rows;
        j["firings"] = r.firings;
        j["mean_activation"] = r.mean_activation;
        j["loss_clean"] = r.loss_clean;
        j["loss_ablated"] = r.loss_ablated;
        j["delta_loss"] = r.delta_loss;
        auto arr = [&](const std::vector<IdValue>& v) {
            Json x = Json::array();
            for (const auto& t : v) {
                Json o = Json::object();
                o["token"] = texts[(size_t)t.id];
                o["id"] = t.id;
                o["value"] = t.value;
                x.push(o);
            }
            return x;
        };
        j["rises"] = arr(r.rises);
        j["falls"] = arr(r.falls);
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("feature %lld fires at %lld of %lld positions (mean activation %.4g)\n", (long long)f,
                (long long)r.firings, (long long)r.rows, r.mean_activation);
    if (r.firings == 0) return 0;
    std::printf("next-token loss there: %.4f clean, %.4f ablated (%+.4f)\n", r.loss_clean, r.loss_ablated,
                r.delta_loss);
    auto list = [&](const std::vector<IdValue>& v) {
        std::string s;
        for (const auto& t : v) s += strformat("%s\"%s\" %+.3f", s.empty() ? "" : ", ", visible(texts[(size_t)t.id]).c_str(), t.value);
        return s;
    };
    std::printf("log-prob rises most: %s\n", list(r.rises).c_str());
    std::printf("log-prob falls most: %s\n", list(r.falls).c_str());
    return 0;
}

}  // namespace

int cmd_features(int argc, char** argv) {
    return dispatch("unfold features",
                    "what an SAE's features mean and do on a real model: a database of contexts and effects, traces, "
                    "hypotheses, ablations",
                    {{"build", "run a model + SAE over a corpus; write the features database (SQLite)", features_build_cmd},
                     {"show", "list features, or print one with its contexts (--json)", features_show_cmd},
                     {"trace", "features active at each token of a text", features_trace_cmd},
                     {"hypothesis", "specificity / sensitivity of features for a hypothesised context", features_hypothesis_cmd},
                     {"effect", "ablate a feature where it fires: loss change, tokens that rise / fall", features_effect_cmd},
                     {"html", "write the feature browser's pages as static files (no server)", cmd_features_html}},
                    argc, argv);
}

}  // namespace unfold
