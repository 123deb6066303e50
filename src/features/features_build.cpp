// features_build.cpp: one pass over a corpus -> the features database (see features_build.h).
#include "unfold/features/features_build.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>

#include "unfold/core/error.h"
#include "unfold/core/progress.h"
#include "unfold/core/strings.h"
#include "unfold/features/decoder_geometry.h"
#include "unfold/features/feature_db.h"
#include "unfold/features/hook_stream.h"
#include "unfold/io/fileio.h"

namespace unfold {

namespace {

constexpr uint64_t kPartialMagic = 0x31444c4955424655ULL;  // "UFBUILD1"

std::string quote_token(const std::string& t) {
    std::string s = "\"";
    for (char c : t) {
        if (c == '\n') s += "\\n";
        else if (c == '"') s += "\\\"";
        else s += c;
    }
    return s + "\"";
}

// what a .partial must agree on to be continued
Json fingerprint(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens, const FeaturesBuildOptions& o,
                 int64_t windows) {
    Json j = Json::object();
    j["hook"] = o.hook;
    j["context"] = o.context;
    j["batch"] = o.batch;
    j["bos_id"] = (int64_t)o.bos_id;
    j["windows"] = windows;
    j["corpus_tokens"] = (int64_t)tokens.size();
    j["model"] = m.cfg.describe();
    j["d_sae"] = sae.F();
    j["d_in"] = sae.d();
    double wsum = 0;  // a cheap fingerprint of the SAE's weights
    for (size_t i = 0; i < sae.params.data.size(); i += 97) wsum += sae.params.data[i];
    j["sae_checksum"] = wsum;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < tokens.size(); i += 13) h = (h ^ (uint64_t)tokens[i]) * 1099511628211ULL;
    j["corpus_hash"] = std::to_string(h);
    return j;
}

void save_partial(const std::string& path, const Json& fp, int64_t next_window, const FeatureStats& st) {
    std::string body = st.save();
    std::string head = fp.dump(-1);
    std::string out;
    auto pod = [&](uint64_t v) { out.append((const char*)&v, 8); };
    pod(kPartialMagic);
    pod((uint64_t)head.size());
    out += head;
    pod((uint64_t)next_window);
    out += body;
    write_file_atomic(path, out);
}

int64_t load_partial(const std::string& path, const Json& fp, FeatureStats& st) {
    const std::string bytes = read_file(path);
    auto pod = [&](size_t at) {
        UNFOLD_CHECK(at + 8 <= bytes.size(), "%s: truncated checkpoint", path.c_str());
        uint64_t v;
        std::memcpy(&v, bytes.data() + at, 8);
        return v;
    };
    UNFOLD_CHECK(pod(0) == kPartialMagic, "%s: not a features build checkpoint", path.c_str());
    const uint64_t hn = pod(8);
    UNFOLD_CHECK(hn < bytes.size() && 16 + hn + 8 <= bytes.size(), "%s: truncated checkpoint", path.c_str());
    Json head = json_parse(bytes.substr(16, hn), path);
    UNFOLD_CHECK(head.dump(-1) == fp.dump(-1),
                 "%s: made by another build (model, SAE, corpus, hook, context or batch differ); remove it or drop "
                 "--resume",
                 path.c_str());
    const int64_t next = (int64_t)pod(16 + hn);
    st.load(bytes.substr(16 + hn + 8), path);
    return next;
}

}  // namespace

std::vector<LabelToken> feature_label_tokens(const FeatureAcc& a, const std::vector<int64_t>& unigram, int64_t rows,
                                             int k) {
    std::vector<LabelToken> out;
    if (a.fires <= 0 || rows <= 0) return out;
    for (const auto& [tok, cnt] : a.heavy) {
        LabelToken t;
        t.token = tok;
        t.share = (double)cnt / (double)a.fires;
        const double p = (double)unigram[(size_t)tok] / (double)rows;
        t.lift = p > 0 ? t.share / p : 0.0;
        if (t.share >= 0.05 && t.lift >= 2.0) out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const LabelToken& x, const LabelToken& y) {
        return x.share > y.share || (x.share == y.share && x.token < y.token);
    });
    if ((int)out.size() > k) out.resize((size_t)k);
    return out;
}

std::string feature_label(const std::vector<LabelToken>& t, const std::vector<std::string>& vocab_text) {
    std::string s;
    for (const LabelToken& x : t) {
        if (!s.empty()) s += ", ";
        const std::string txt = (size_t)x.token < vocab_text.size() ? vocab_text[(size_t)x.token] : "?";
        s += quote_token(txt) + strformat(" %.0f%%", 100.0 * x.share);
    }
    return s;
}


std::vector<std::string> token_texts(const Tokenizer& tok, int64_t V) {
    std::vector<std::string> out((size_t)V);
    for (int64_t i = 0; i < V; i++) {
        std::string s;
        if (i == tok.bos_id() && tok.bos_id() != tok.eos_id()) s = "<bos>";
        else if (i == tok.eos_id() && tok.bos_id() != tok.eos_id()) s = "<eos>";
        else if (i < tok.vocab_size()) s = tok.decode_piece(-1, (int32_t)i);
        else s = strformat("<id %lld>", (long long)i);
        if (!valid_utf8(s)) {
            std::string h;
            for (unsigned char c : s) h += strformat("<0x%02X>", c);
            s = h;
        }
        out[(size_t)i] = s;
    }
    return out;
}

FeaturesBuildResult features_build(const LmModel& m, const Sae& sae, const std::vector<int32_t>& tokens,
                                   const std::vector<std::string>& vocab_text, const FeaturesBuildOptions& o,
                                   const std::string& out_path) {
    ThreadScope threads(o.ctx);
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t F = sae.F(), V = m.cfg.vocab, T = o.context;
    UNFOLD_CHECK((int64_t)vocab_text.size() == V, "features build: %zu token texts for a vocabulary of %lld",
                 vocab_text.size(), (long long)V);
    UNFOLD_CHECK(o.tokens > 0, "features build: --tokens must be positive");
    UNFOLD_CHECK(!out_path.empty(), "features build: no output path");
    for (int32_t t : tokens)
        UNFOLD_CHECK(t >= 0 && t < V, "features build: token id %d outside the model's vocabulary [0, %lld)", t,
                     (long long)V);
    HookStreamOptions ho;
    ho.hook = o.hook;
    ho.context = T;
    ho.batch = o.batch;
    ho.bos_id = o.bos_id;
    {
        const int64_t body = o.bos_id >= 0 ? T - 1 : T;
        ho.max_windows = std::max<int64_t>(1, (o.tokens + body - 1) / body);
    }
    HookStream stream(m, tokens, ho);
    UNFOLD_CHECK(stream.dim() == sae.d(), "hook '%s' has width %lld but the SAE's d_in is %lld", o.hook.c_str(),
                 (long long)stream.dim(), (long long)sae.d());
    const int64_t nwin = stream.windows();
    FeatureStatsOptions so = o.stats;
    so.cofire_rate = std::min(1.0, (double)o.cofire_rows / (double)std::max<int64_t>(1, nwin * T));
    FeatureStats st(F, V, T, so);

    const std::string partial = out_path + ".partial";
    remove_stale_temporaries({out_path, partial});  // left by a build killed outright (kill -9)
    const Json fp = fingerprint(m, sae, tokens, o, nwin);
    int64_t start = 0;
    if (o.resume && file_exists(partial)) {
        start = load_partial(partial, fp, st);
        UNFOLD_CHECK(start >= 0 && start <= nwin && start % o.batch == 0, "%s: resumes at window %lld, outside the run",
                     partial.c_str(), (long long)start);
        o.ctx.info("features build: resuming %s at window %lld of %lld", partial.c_str(), (long long)start,
                   (long long)nwin);
    } else if (o.resume) {
        o.ctx.info("features build: no %s to resume; starting from the beginning", partial.c_str());
    }
    const int64_t rows_before = st.rows();  // rows a resumed run had already seen

    // P batches at a time, one per thread, each run whole on its thread (model to the hook and SAE encode with
    // single-threaded kernels and BLAS: no fork/join per layer, and a batch's rows do not depend on the thread
    // count); then the statistics take them in window order (parallel over features).
    const int P = std::max(1, get_num_threads());
    struct Lane {
        std::unique_ptr<HookStream> stream;
        HookBatch b;
        SparseCodes codes;
        SaeEncodeScratch scratch;
        bool ok = false;
    };
    std::vector<Lane> lanes((size_t)P);
    for (int i = 0; i < P; i++) lanes[(size_t)i].stream = i == 0 ? nullptr : std::make_unique<HookStream>(m, tokens, ho);
    std::vector<uint8_t> skip;
    Progress bar(o.ctx, "features build", nwin * T, "tok");
    auto last_ck = std::chrono::steady_clock::now();
    int64_t next = stream.seek(start);
    double model_seconds = 0, stats_seconds = 0;
    try {
        while (next < nwin) {
            const auto tm = std::chrono::steady_clock::now();
            {
                ThreadScope single(1);
                std::exception_ptr err;
#pragma omp parallel for num_threads(P) schedule(static, 1)
                for (int i = 0; i < P; i++) {
                    Lane& l = lanes[(size_t)i];
                    l.ok = false;
                    try {
                        const int64_t w = next + (int64_t)i * o.batch;
                        if (w >= nwin) continue;
                        HookStream& s = i == 0 ? stream : *l.stream;
                        s.seek(w);
                        l.ok = s.next(l.b);
                        if (l.ok) sae_encode(sae, l.b.act, l.b.nwin * l.b.T, l.codes, l.scratch);
                    } catch (...) {
#pragma omp critical(features_build_error)
                        if (!err) err = std::current_exception();
                    }
                }
                if (err) std::rethrow_exception(err);
            }
            const auto ts = std::chrono::steady_clock::now();
            model_seconds += std::chrono::duration<double>(ts - tm).count();
            for (Lane& l : lanes) {
                if (!l.ok) break;
                const HookBatch& b = l.b;
                const int64_t n = b.nwin * b.T;
                skip.assign((size_t)n, 0);
                if (stream.has_bos())
                    for (int64_t w = 0; w < b.nwin; w++) skip[(size_t)(w * T)] = 1;
                st.add(b.win0, b.nwin, b.ids, l.codes, skip.data());
                next = b.win0 + b.nwin;
                bar.update(next * T);
                if (o.checkpoint_seconds > 0 &&
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - last_ck).count() >=
                        o.checkpoint_seconds) {
                    save_partial(partial, fp, next, st);
                    last_ck = std::chrono::steady_clock::now();
                }
            }
            stats_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
            if (o.ctx.should_stop && o.ctx.should_stop()) throw Cancelled("features build cancelled");
        }
    } catch (const Cancelled&) {
        if (o.checkpoint_seconds > 0 || o.resume) {
            save_partial(partial, fp, next, st);
            o.ctx.info("features build: stopped at window %lld; saved %s (continue with --resume)", (long long)next,
                       partial.c_str());
        }
        throw;
    }
    bar.finish();
    st.flush();
    const double pass_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // ---- geometry and derived fields ----
    std::vector<std::vector<IdValue>> promoted, suppressed, neigh;
    const bool logits = has_logit_path(m.cfg, o.hook);
    if (logits) feature_logit_effects(m, sae, o.hook, o.logit_k, promoted, suppressed, o.ctx);
    decoder_neighbours(sae, o.neighbours, neigh, o.ctx);
    std::vector<NeuronAlignment> align;
    if (is_neuron_basis_hook(o.hook)) align = neuron_alignment(sae);

    const int64_t rows = st.rows();
    FeatureDbWriter w(out_path);
    w.meta("schema_version", std::to_string(kFeatureDbSchemaVersion));
    w.meta("producer", "unfold features build");
    w.meta("hook", o.hook);
    w.meta("context", std::to_string(T));
    w.meta("prepend_bos", o.bos_id >= 0 ? "true" : "false");
    w.meta("bos_id", std::to_string(o.bos_id));
    w.meta("tokens", std::to_string(rows));
    w.meta("windows", std::to_string(st.windows()));
    w.meta("d_sae", std::to_string(F));
    w.meta("d_in", std::to_string(sae.d()));
    w.meta("top", std::to_string(so.top));
    w.meta("before", std::to_string(so.before));
    w.meta("after", std::to_string(so.after));
    w.meta("seed", std::to_string(so.seed));
    w.meta("model_config", m.cfg.describe());
    w.meta("logit_effects", logits ? "true" : "false");
    for (const auto& [k, v] : o.meta.obj) w.meta(k, v.is_str() ? v.str : v.dump(-1));
    // log10 density histogram over all features (sae_eval's bins)
    {
        std::vector<int64_t> counts(20, 0);
        for (int64_t f = 0; f < F; f++) {
            const double dens = rows > 0 ? (double)st.feature(f).fires / (double)rows : 0.0;
            const double l = std::log10(dens + 1e-10);
            counts[(size_t)std::clamp<int64_t>((int64_t)std::floor((l + 10.0) / 0.5), 0, 19)]++;
        }
        Json h = Json::object();
        Json edges = Json::array();
        for (int i = 0; i <= 20; i++) edges.push(Json(-10.0 + 0.5 * i));
        h["bin_edges_log10"] = edges;
        h["counts"] = Json::array_of(counts);
        w.meta("density_histogram", h.dump(-1));
    }
    Json build = Json::object();
    build["pass_seconds"] = pass_seconds;
    build["rows"] = rows;
    build["cofire_rate"] = so.cofire_rate;
    w.meta("build", build.dump(-1));
    w.vocab(vocab_text);

    Progress wbar(o.ctx, "features db", F, "feature");
    for (int64_t f = 0; f < F; f++) {
        const FeatureAcc& a = st.feature(f);
        DbFeature d;
        d.id = f;
        d.fires = a.fires;
        d.density = rows > 0 ? (double)a.fires / (double)rows : 0.0;
        d.mean_act = a.fires > 0 ? a.sum / (double)a.fires : 0.0;
        d.max_act = a.max;
        auto lt = feature_label_tokens(a, st.unigram(), rows, o.label_k);
        d.label = feature_label(lt, vocab_text);
        for (const auto& t : lt) {
            d.label_tokens.push_back({t.token, t.share});
            d.label_lift.push_back(t.lift);
        }
        d.hist_hi = a.hi;
        d.histogram = a.hist;
        if (!align.empty() && align[(size_t)f].neuron >= 0) {
            d.neuron = align[(size_t)f].neuron;
            d.neuron_cos = align[(size_t)f].cos;
            d.neuron_share = align[(size_t)f].share;
        }
        auto to_db = [&](const FeatureContext& c, const char* kind, int rank, double lo, double hi) {
            DbContext x;
            x.kind = kind;
            x.rank = rank;
            x.value = c.value;
            x.window = c.window;
            x.pos = c.pos;
            x.first = c.first;
            x.corpus_index = stream.corpus_index(c.window, c.pos);
            x.tokens = c.ids;
            x.activations = c.acts;
            x.lo = lo;
            x.hi = hi;
            return x;
        };
        std::vector<FeatureContext> top = st.sorted_top(f);
        for (size_t r = 0; r < top.size(); r++) d.top.push_back(to_db(top[r], "top", (int)r, 0, 0));
        for (int i = 0; i < kFeatureIntervals; i++) {
            std::vector<FeatureContext> s = a.intervals[(size_t)i].samples;
            std::sort(s.begin(), s.end(), [](const FeatureContext& x, const FeatureContext& y) {
                return x.value > y.value || (x.value == y.value && x.window < y.window);
            });
            const double lo = a.hi * i / kFeatureIntervals, hi = a.hi * (i + 1) / kFeatureIntervals;
            for (const auto& c : s) d.intervals.push_back(to_db(c, "interval", i, lo, hi));
        }
        if (logits) {
            for (const auto& x : promoted[(size_t)f]) d.promoted.push_back({x.id, x.value});
            for (const auto& x : suppressed[(size_t)f]) d.suppressed.push_back({x.id, x.value});
        }
        for (const auto& x : neigh[(size_t)f]) d.neighbours.push_back({x.id, x.value});
        if (a.sampled > 0) {
            std::vector<std::pair<int32_t, int32_t>> cf = a.cofire;
            std::sort(cf.begin(), cf.end(), [](const auto& x, const auto& y) {
                return x.second > y.second || (x.second == y.second && x.first < y.first);
            });
            for (size_t r = 0; r < cf.size() && (int)r < o.cofire_k; r++)
                d.cofiring.push_back({cf[r].first, (double)cf[r].second / (double)a.sampled});
        }
        w.feature(d);
        if ((f & 255) == 255) wbar.update(f + 1);
    }
    wbar.finish();
    w.commit();
    if (file_exists(partial)) std::remove(partial.c_str());

    FeaturesBuildResult res;
    res.rows = rows;
    res.windows = st.windows();
    res.d_sae = F;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    res.rows_per_second = pass_seconds > 0 ? (double)(rows - rows_before) / pass_seconds : 0.0;
    res.model_seconds = model_seconds;
    res.stats_seconds = stats_seconds;
    return res;
}

}  // namespace unfold
