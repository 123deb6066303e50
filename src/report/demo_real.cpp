// demo_real.cpp: the real-model part of `unfold demo` (see demo.h): stories260K's own samples as the corpus, a
// residual-stream cache, a TopK SAE, the feature database, CE loss recovered, feature cards and one steering
// example, all appended to the demo report.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>

#include "unfold/core/error.h"
#include "unfold/data/source.h"
#include "unfold/features/faithfulness.h"
#include "unfold/features/feature_db.h"
#include "unfold/features/features_build.h"
#include "unfold/features/splice.h"
#include "unfold/io/fileio.h"
#include "unfold/lm/cache.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/generate.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/map/decoder_map.h"
#include "unfold/report/demo.h"
#include "unfold/sae/sae_train.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/static_export.h"
#include "unfold/viz/html.h"
#include "unfold/viz/svg.h"

namespace unfold {

namespace {

std::string exe_dir() {
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string p(buf, (size_t)n);
    const size_t s = p.find_last_of('/');
    return s == std::string::npos ? "" : p.substr(0, s);
}

bool has_model(const std::string& dir) {
    return file_exists(path_join(dir, "stories260K.bin")) && file_exists(path_join(dir, "tok512.bin"));
}

double secs_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// one token's text for HTML, spaces visible at the edges
std::string token_html(const std::string& t) { return xml_escape(t); }

// a context as shaded tokens: background alpha = activation / max, the value on hover
std::string context_html(const FeatureDb& db, const DbContext& c, double max_act) {
    std::string s = "<div class=\"ctx\">";
    for (size_t i = 0; i < c.tokens.size(); i++) {
        const double a = i < c.activations.size() ? c.activations[i] : 0.0;
        const double alpha = max_act > 0 ? std::clamp(a / max_act, 0.0, 1.0) : 0.0;
        const bool peak = (int64_t)i == c.pos - c.first;
        s += strformat("<span class=\"tok%s\" style=\"background:rgba(255,120,0,%.3f)\" title=\"%s\">",
                       peak ? " peak" : "", alpha, a > 0 ? fmt_sig(a, 4).c_str() : "0");
        s += token_html(db.token_text(c.tokens[i]));
        s += "</span>";
    }
    return s + "</div>";
}

std::string logit_list(const FeatureDb& db, const std::vector<DbTokenValue>& v, size_t n) {
    std::string s;
    for (size_t i = 0; i < std::min(n, v.size()); i++)
        s += strformat("<code>%s</code> %s%s", token_html(db.token_text(v[i].token)).c_str(),
                       fmt_sig(v[i].value, 3).c_str(), i + 1 < std::min(n, v.size()) ? ", " : "");
    return s;
}

bool word_like(const std::string& t) {
    int letters = 0;
    for (unsigned char c : t) {
        if (std::isalpha(c)) letters++;
        else if (c != ' ') return false;
    }
    return letters >= 3;
}

}  // namespace

std::string demo_find_model(const std::string& given) {
    if (!given.empty()) {
        UNFOLD_CHECK(has_model(given), "demo: --model %s holds no stories260K.bin and tok512.bin", given.c_str());
        return given;
    }
    std::vector<std::string> dirs = {"models/stories260K"};
    const std::string e = exe_dir();
    if (!e.empty()) {
        dirs.push_back(path_join(e, "../models/stories260K"));
        dirs.push_back(path_join(e, "../share/unfold/models/stories260K"));
    }
    for (const auto& d : dirs)
        if (has_model(d)) return d;
    return "";
}

void demo_real_model(HtmlReport& r, const DemoOptions& o, std::vector<std::pair<std::string, std::string>>& timing) {
    const Context& q = o.ctx;
    const std::string model_dir = demo_find_model(o.model_dir);
    r.section("real", "9. Features of a real language model");
    if (model_dir.empty()) {
        q.warn("demo: stories260K not found (models/stories260K beside the binary or the working folder); "
               "skipping the real-model part (give --model DIR)");
        r.paragraph("Skipped: the stories260K model was not found (run from the repository, or give --model DIR).");
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string dir = path_join(o.out, "real");
    make_dirs(dir);
    // a rerun replaces the previous run's cache and SAE (the demo owns <out>/real)
    std::filesystem::remove_all(path_join(dir, "acts"));
    std::filesystem::remove_all(path_join(dir, "sae"));
    LmModel m;
    lm_load(m, path_join(model_dir, "stories260K.bin"));
    auto tok = load_tokenizer(path_join(model_dir, "tok512.bin"));
    const int32_t bos = tok->bos_id();
    UNFOLD_CHECK(bos >= 0, "demo: the stories260K tokenizer has no BOS id");
    const std::string hook = "blocks.3.hook_resid_post";
    const int64_t T = 64;
    auto scaled = [&](double n, int64_t lo) { return std::max<int64_t>(lo, (int64_t)std::llround(n * o.steps_scale)); };

    // ---- 1. a corpus of the model's own stories (sampled at temperature 1, one seed per story)
    const auto ts = std::chrono::steady_clock::now();
    const int64_t n_stories = scaled(300, 24);
    std::vector<std::vector<int32_t>> stories((size_t)n_stories);
    {
        const int P = std::max(1, get_num_threads());
        ThreadScope single(1);  // one story per thread, each with single-threaded kernels
        std::exception_ptr err;
#pragma omp parallel for num_threads(P) schedule(dynamic, 1)
        for (int64_t i = 0; i < n_stories; i++) {
            try {
                GenerateOptions g;
                g.max_new_tokens = 255;
                g.temperature = 1.0f;
                g.seed = o.seed * 1000003ULL + (uint64_t)i;
                g.stop_id = bos;
                stories[(size_t)i] = lm_generate(m, {bos}, g);
            } catch (...) {
#pragma omp critical(demo_real_error)
                if (!err) err = std::current_exception();
            }
        }
        if (err) std::rethrow_exception(err);
    }
    std::vector<int32_t> tokens;
    std::string text;
    for (const auto& s : stories) {
        tokens.insert(tokens.end(), s.begin(), s.end());
        text += tok->decode(s) + "\n";
    }
    write_file_atomic(path_join(dir, "corpus.txt"), text);
    const double t_corpus = secs_since(ts);
    q.info("demo: %lld stories, %zu tokens sampled from stories260K", (long long)n_stories, tokens.size());

    // ---- 2. cache the residual stream, 3. train a TopK SAE on it
    const auto tc = std::chrono::steady_clock::now();
    LmCacheOptions co;
    co.hook = hook;
    co.context = T;
    co.batch = 16;
    co.bos_id = bos;
    co.max_rows = (int64_t)tokens.size() * 2;
    co.ctx = q;
    LmCacheResult cr = lm_cache_activations(m, tokens, co, path_join(dir, "acts"));
    SourceOptions so;
    so.seed = o.seed;
    auto src = open_source(path_join(dir, "acts"), so);
    SaeTrainConfig tc_cfg;
    tc_cfg.sae.arch = SaeArch::TOPK;
    tc_cfg.sae.d_sae = 512;
    tc_cfg.sae.k = 8;
    tc_cfg.steps = scaled(2000, 60);
    tc_cfg.batch = 1024;
    tc_cfg.lr = 1e-3f;
    tc_cfg.seed = o.seed;
    tc_cfg.checkpoint_every = 0;
    SaeTrainOptions sto;
    sto.out_dir = path_join(dir, "sae");
    sto.ctx = q;
    sto.eval_tokens = 16384;
    sto.metadata = saelens_metadata_from_cache_meta(src->meta());  // hook, model, context: as `sae train --input`
    SaeTrainResult tr = sae_train(tc_cfg, *src, sto);
    const double t_sae = secs_since(tc);
    const Json* fvu = tr.eval.is_obj() ? tr.eval.find("fvu") : nullptr;

    // ---- 4. the feature database, 5. CE loss with the SAE spliced in
    const auto tf = std::chrono::steady_clock::now();
    FeaturesBuildOptions fo;
    fo.hook = hook;
    fo.context = T;
    fo.batch = 16;
    fo.bos_id = bos;
    fo.tokens = (int64_t)tokens.size();
    fo.stats.top = 10;
    fo.stats.seed = o.seed;
    fo.ctx = q;
    fo.meta["model"] = path_join(model_dir, "stories260K.bin");
    fo.meta["sae"] = sto.out_dir;
    fo.meta["corpus"] = path_join(dir, "corpus.txt");
    const std::string db_path = path_join(dir, "features.db");
    FeaturesBuildResult fr = features_build(m, tr.sae, tokens, token_texts(*tok, m.cfg.vocab), fo, db_path);
    SpliceEvalOptions eo;
    eo.hook = hook;
    eo.context = T;
    eo.windows = 64;
    eo.ctx = q;
    SpliceEval ce = sae_splice_eval(m, tr.sae, tokens, eo);
    const double t_feat = secs_since(tf);

    // the feature browser's pages as files (no server needed): real/features/index.html, feature/F.html
    {
        FeatureBrowser browser(db_path);
        StaticExportOptions xo;
        xo.ctx = q;
        export_static_site(browser, path_join(dir, "features"), xo);
    }
    FeatureDb db(db_path);
    r.html("<p>" + strformat(
        "The same path on a real model: stories260K (a 260k-parameter Llama-style model trained on TinyStories, "
        "shipped in models/) wrote %lld stories (%zu tokens, sampled at temperature 1); unfold cached its residual "
        "stream at %s (%lld rows of %lld, windows of %lld tokens starting with BOS), trained a TopK SAE (%lld "
        "latents, k = %d, %lld steps of %lld rows) and built the feature database over every window. Everything is "
        "in real/ beside this report: corpus.txt, acts/, sae/ (a SAELens folder), features.db (which "
        "`unfold features show real/features.db` lists and `unfold serve real/features.db` browses, live) and "
        "features/, its dashboard pages as files: <a href=\"real/features/index.html\">the feature list</a>, one page per "
        "feature (each card below links to its own).",
        (long long)n_stories, tokens.size(), hook.c_str(), (long long)cr.rows, (long long)cr.d, (long long)T,
        (long long)tc_cfg.sae.d_sae, tc_cfg.sae.k, (long long)tc_cfg.steps, (long long)tc_cfg.batch) + "</p>\n");
    int64_t dead = 0;
    for (const auto& f : db.list()) dead += f.fires == 0;
    r.kv_table({{"SAE reconstruction (held-out rows): fraction of variance unexplained",
                 fvu && fvu->is_num() ? fmt_sig(fvu->num, 4) : "-"},
                {"CE loss, clean model (nats/token)", fmt_sig(ce.ce_loss_clean, 5)},
                {"CE loss, SAE reconstruction spliced in", fmt_sig(ce.ce_loss_spliced, 5)},
                {"CE loss, hook zero-ablated", fmt_sig(ce.ce_loss_zero_ablation, 5)},
                {"CE loss recovered = (zero - spliced) / (zero - clean)", fmt_sig(ce.ce_loss_recovered, 4)},
                {"KL(clean || spliced) per token", fmt_sig(ce.kl_div_spliced, 4)},
                {"features that never fired", strformat("%lld of %lld", (long long)dead, (long long)db.n_features())},
                {"database pass", strformat("%lld tokens at %.0f tokens/s", (long long)fr.rows, fr.rows_per_second)}});

    // ---- 6. a dozen interesting features: specific labels (one token dominates the firings) at moderate density
    struct Pick {
        int64_t id;
        double share;
    };
    std::vector<Pick> picks;
    for (const auto& s : db.list()) {
        if (s.fires < 20 || s.density > 0.2) continue;
        DbFeature f = db.feature(s.id);
        if (f.label_tokens.empty() || f.top.empty()) continue;
        const std::string t0s = db.token_text(f.label_tokens[0].token);
        if (t0s == "<bos>" || t0s == "<eos>") continue;
        const double lift = f.label_lift.empty() ? 0.0 : f.label_lift[0];
        if (lift < 2.0) continue;
        picks.push_back({s.id, f.label_tokens[0].value});
    }
    std::stable_sort(picks.begin(), picks.end(), [](const Pick& a, const Pick& b) { return a.share > b.share; });
    if (picks.size() > 12) picks.resize(12);
    r.subheading("A dozen features, by how specific their firing tokens are");
    r.paragraph("Each card: the automatic label (the tokens most over-represented where the feature fires, with "
                "their share of its firings), its density and largest activation, its strongest contexts (tokens "
                "shaded by this feature's activation; hover for the value; the peak token outlined) and the output "
                "tokens its decoder direction promotes and suppresses through the rest of the model's unembedding.");
    std::string cards =
        "<style>.fcard{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0}"
        ".ctx{font-family:monospace;white-space:pre-wrap;margin:3px 0;font-size:13px}"
        ".tok{border-radius:2px}.tok.peak{outline:1px solid #c40}.fmeta{color:#555;font-size:13px}</style>\n";
    for (const Pick& p : picks) {
        DbFeature f = db.feature(p.id);
        cards += strformat("<div class=\"fcard\" id=\"feature-%lld\"><b><a href=\"real/features/feature/%lld.html\">feature "
                           "%lld</a></b> &mdash; %s<div class=\"fmeta\">"
                           "density %s, max activation %s, %lld firings</div>",
                           (long long)f.id, (long long)f.id, (long long)f.id, xml_escape(f.label).c_str(), fmt_sig(f.density, 3).c_str(),
                           fmt_sig(f.max_act, 3).c_str(), (long long)f.fires);
        for (size_t i = 0; i < std::min<size_t>(4, f.top.size()); i++) cards += context_html(db, f.top[i], f.max_act);
        if (!f.promoted.empty())
            cards += "<div class=\"fmeta\">promotes " + logit_list(db, f.promoted, 5) + "<br>suppresses " +
                     logit_list(db, f.suppressed, 5) + "</div>";
        cards += "</div>\n";
    }
    r.html(cards);

    // ---- 7. steering: clamp a feature whose top promoted token is a word, greedy text with and without
    const auto tst = std::chrono::steady_clock::now();
    int64_t steer_f = -1;
    double best = 0;
    for (const auto& s : db.list()) {
        if (s.fires < 10) continue;
        DbFeature f = db.feature(s.id);
        if (f.promoted.empty() || !word_like(db.token_text(f.promoted[0].token))) continue;
        if (f.promoted[0].value > best) best = f.promoted[0].value, steer_f = s.id;
    }
    if (steer_f >= 0) {
        DbFeature f = db.feature(steer_f);
        const int32_t target = f.promoted[0].token;
        const float value = (float)(4.0 * f.max_act);
        const std::string prompt_text = "Once upon a time";
        std::vector<int32_t> prompt = {bos};
        for (int32_t id : tok->encode(prompt_text)) prompt.push_back(id);
        GenerateOptions g;
        g.max_new_tokens = 60;
        g.stop_id = bos;
        const std::vector<int32_t> plain = lm_generate(m, prompt, g);
        SpliceOptions sp;
        sp.edits = {SaeEdit{SaeEdit::CLAMP, steer_f, value}};
        sp.from_position = 1;
        HookSet hooks;
        hooks.add(hook, hook_sae_splice(tr.sae, sp));
        g.hooks = &hooks;
        const std::vector<int32_t> steered = lm_generate(m, prompt, g);
        auto count = [&](const std::vector<int32_t>& v) { return (int64_t)std::count(v.begin(), v.end(), target); };
        r.subheading("Steering: clamping one feature through the SAE");
        r.paragraph(strformat(
            "Feature %lld promotes \"%s\" most (logit effect %s). Greedy continuation of \"%s\", unedited and with the "
            "feature clamped to %s (4x its largest activation) at every position after BOS: the hook's activation is "
            "replaced by the SAE's reconstruction with that latent clamped plus the SAE's error term, and the later "
            "layers run on it (the same code as `unfold lm generate --sae real/sae --steer %lld=%s --compare`). "
            "\"%s\" appears %lld times unedited and %lld times steered.",
            (long long)steer_f, db.token_text(target).c_str(), fmt_sig(f.promoted[0].value, 3).c_str(),
            prompt_text.c_str(), fmt_sig(value, 3).c_str(), (long long)steer_f, fmt_sig(value, 3).c_str(),
            db.token_text(target).c_str(), (long long)count(plain), (long long)count(steered)));
        r.table({"unedited", strformat("feature %lld clamped to %s", (long long)steer_f, fmt_sig(value, 3).c_str())},
                {{prompt_text + tok->decode(plain), prompt_text + tok->decode(steered)}});
    }
    const double t_steer = secs_since(tst);

    // ---- 8. the decoder map: a 4x smaller SAE on the same activations, both embedded jointly (UMAP, cosine),
    // and feature splitting: each small feature's closest features in the large SAE
    const auto tm = std::chrono::steady_clock::now();
    {
        SaeTrainConfig small_cfg = tc_cfg;
        small_cfg.sae.d_sae = 128;
        auto src2 = open_source(path_join(dir, "acts"), so);
        SaeTrainOptions sto2 = sto;
        sto2.out_dir = path_join(dir, "sae_128");
        sto2.eval_tokens = 0;
        SaeTrainResult small = sae_train(small_cfg, *src2, sto2);
        std::vector<MapInput> in = {map_input_from_sae(small.sae, "sae_128", sto2.out_dir),
                                    map_input_from_sae(tr.sae, "sae_512", sto.out_dir)};
        map_input_annotate_db(in[1], db_path);
        DecoderMapOptions mo;
        mo.umap.seed = o.seed;
        mo.ctx = q;
        DecoderMap dm = decoder_map(in, mo);
        MapHtmlOptions ho;
        ho.title = "stories260K blocks.3.hook_resid_post: decoder directions of a 128- and a 512-latent TopK SAE";
        ho.link = "features/feature/{id}.html";  // the pages of the 512-latent SAE (the small one has none)
        write_file_atomic(path_join(dir, "map.html"), decoder_map_html(dm, ho));
        r.subheading("The decoder map and feature splitting");
        r.html("<p>The decoder directions of the 512-latent SAE and of a 128-latent one trained on the same "
               "activations, embedded together in 2-D by UMAP under the cosine metric: <a href=\"real/map.html\">"
               "real/map.html</a> (hover a point for its label, click to pin it with its family; double-click opens "
               "a 512-latent feature's page). Families: for a few features of the small SAE, the features of the "
               "large one closest to it (cosine) - when a feature splits, these are its children.</p>\n");
        std::vector<std::vector<std::string>> rows;
        const MapFamilies& fam = dm.families.at(0);
        const MapSae& big = dm.saes[(size_t)fam.large];
        std::vector<std::string> big_label((size_t)tr.sae.F());
        for (size_t i = 0; i < big.feature.size(); i++)
            if (i < big.labels.size()) big_label[(size_t)big.feature[i]] = big.labels[i];
        for (size_t f = 0; f < fam.members.size() && rows.size() < 8; f++) {
            const auto& mem = fam.members[f];
            if (mem.size() < 3 || mem[0].cosine < 0.5f) continue;
            std::string kids;
            for (size_t i = 0; i < 3; i++)
                kids += strformat("%s%d (%s, cos %s)", i ? "; " : "", mem[i].feature,
                                  big_label[(size_t)mem[i].feature].empty() ? "-" : big_label[(size_t)mem[i].feature].c_str(),
                                  fmt_sig(mem[i].cosine, 3).c_str());
            rows.push_back({std::to_string(f), kids});
        }
        r.table({"feature of sae_128", "closest features of sae_512 (label, cosine)"}, rows);
    }
    const double t_map = secs_since(tm);
    timing.push_back({"real model: corpus (stories260K samples)", fmt_sig(t_corpus, 3) + " s"});
    timing.push_back({"real model: cache + SAE training", fmt_sig(t_sae, 3) + " s"});
    timing.push_back({"real model: feature database + CE loss", fmt_sig(t_feat, 3) + " s"});
    timing.push_back({"real model: steering", fmt_sig(t_steer, 3) + " s"});
    timing.push_back({"real model: second SAE + decoder map", fmt_sig(t_map, 3) + " s"});
    q.info("demo: real-model part in %.1f s", secs_since(t0));
}

}  // namespace unfold
