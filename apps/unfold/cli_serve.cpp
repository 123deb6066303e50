// cli_serve.cpp: `unfold serve` (the feature browser on a local port) and `unfold features html` (its pages as
// static files). A thin layer over serve/browser.h, serve/http.h and serve/static_export.h.
#include <cstdio>

#include "args.h"
#include "cli_features.h"
#include "cli_lm.h"
#include "commands.h"
#include "unfold/core/error.h"
#include "unfold/core/strings.h"
#include "unfold/features/feature_db.h"
#include "unfold/serve/browser.h"
#include "unfold/serve/http.h"
#include "unfold/serve/map_tab.h"
#include "unfold/serve/static_export.h"

namespace unfold {

int cmd_serve(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold serve",
        "Serve a features database as a local website: the feature list (sort, filter, search, density "
        "histogram), one page per feature (activation histogram, top contexts shaded by activation, interval "
        "samples, logit effects, neighbours), and with --model/--sae live tracing and steering. The pages use a "
        "JSON API under /api/ (see /api/). Binds 127.0.0.1 unless --host says otherwise; Ctrl-C stops.",
        "unfold serve runs/sae1/features.db\n"
        "unfold serve f.db --model models/stories260K/stories260K.bin --tokenizer models/stories260K/tok512.bin "
        "--sae runs/sae1 --port 8080\n"
        "unfold serve runs/sae_4096/features.db --map runs/sae_1024,runs/sae_4096   # + the decoder map tab",
        [] {
            std::vector<OptSpec> o = {
                {"host", "127.0.0.1", "address to listen on (0.0.0.0: every interface - anyone who reaches it)"},
                {"port", "8000", "port (0: any free port)"},
                {"model", "", "model for the live trace and steering panels (with --sae)"},
                {"tokenizer", "", "tokenizer file/folder (default: the model folder's tokenizer/)"},
                kDtypeOpt,
                {"max-steps", "256", "longest continuation a steering request may ask for"},
                {"map", "", "SAE runs (comma list, e.g. several sizes on the same activations) for a decoder-map tab "
                            "(UMAP of their decoder directions, with feature families); the one with the "
                            "database's d_sae links to its feature pages"},
                {"log", "", "one line per request on stderr", true}};
            for (auto& x : sae_hook_opts()) o.push_back(x);
            return o;
        }(),
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    const std::string db_path = a.positional[0];
    const int64_t port = a.i64("port");
    UNFOLD_CHECK(port >= 0 && port <= 65535, "--port %lld is not a port (0 to 65535)", (long long)port);
    LmModel m;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<SaeAtHook> sae;
    LiveModel live;
    BrowserOptions bo;
    UNFOLD_CHECK(a.str("model").empty() == a.str("sae").empty(), "the live panels need both --model M and --sae RUN");
    if (!a.str("model").empty()) {
        load_inference_model(m, a);
        tok = open_model_tokenizer(a.str("model"), a.str("tokenizer"));
        UNFOLD_CHECK(tok->vocab_size() <= m.cfg.vocab, "tokenizer has %d tokens but the model's vocabulary is %lld",
                     tok->vocab_size(), (long long)m.cfg.vocab);
        sae = sae_at_hook_from_args(a, m, false);
        FeatureDb db(db_path);
        UNFOLD_CHECK(db.n_features() == sae->sae.F(), "%s has %lld features but the SAE %s has %lld", db_path.c_str(),
                     (long long)db.n_features(), sae->path.c_str(), (long long)sae->sae.F());
        if (!db.meta("hook").empty() && db.meta("hook") != sae->hook)
            a.ctx.warn("the database was built at %s, the SAE sits at %s", db.meta("hook").c_str(), sae->hook.c_str());
        live.model = &m;
        live.tokenizer = tok.get();
        live.sae = &sae->sae;
        live.hook = sae->hook;
        live.prepend_bos = sae_hook_info(sae->sae).prepend_bos;
        live.max_steps = a.i64("max-steps");
        UNFOLD_CHECK(live.max_steps >= 1, "--max-steps must be >= 1");
        bo.live = &live;
    }
    FeatureBrowser b(db_path, bo);
    if (!a.str("map").empty()) {
        MapTabResult mr = add_map_tab(b, split_list(a.str("map"), ','), a.seed(), a.ctx);
        a.ctx.info("decoder map: %lld points%s", (long long)mr.points,
                   mr.linked.empty() ? " (no SAE with the database's feature count: points open no pages)"
                                     : (", " + mr.linked + " linked to the feature pages").c_str());
    }
    ServeOptions so;
    so.host = a.str("host");
    so.port = (int)port;
    so.log_requests = a.flag("log");
    so.ctx = a.ctx;
    HttpServer s(b, so);
    std::printf("serving %s (%lld features%s) at %s  (Ctrl-C stops)\n", db_path.c_str(),
                (long long)b.db().n_features(), b.live() ? ", live trace and steering" : "", s.url().c_str());
    std::fflush(stdout);
    s.run();
    std::printf("stopped\n");
    return 0;
}

int cmd_features_html(int argc, char** argv) {
    static const CommandSpec spec = {
        "unfold features html",
        "Write the feature browser's pages as static files that open from disk with no server: DIR/index.html "
        "(the list) and DIR/feature/F.html (one page per feature), data embedded.",
        "unfold features html runs/sae1/features.db --out runs/sae1/dashboard\n"
        "unfold features html f.db --out dash --features 3,17,42 --top 20 --interval-samples 4",
        {{"out", "", "folder to write (required)"},
         {"features", "", "only these feature pages (comma list; default: every feature)"},
         {"top", "10", "strongest contexts per feature page"},
         {"interval-samples", "1", "contexts shown per activation interval"}},
        1, 1};
    Args a = parse_args(spec, argc, argv);
    if (a.help) return 0;
    UNFOLD_CHECK(!a.str("out").empty(), "give --out DIR");
    FeatureBrowser b(a.positional[0]);
    StaticExportOptions o;
    if (!a.str("features").empty())
        for (const std::string& t : split_list(a.str("features"), ',')) o.features.push_back(parse_int(t, "--features"));
    o.top = (int)a.i64("top");
    o.interval_samples = (int)a.i64("interval-samples");
    o.ctx = a.ctx;
    StaticExportResult r = export_static_site(b, a.str("out"), o);
    std::printf("wrote %s and %lld feature pages (%.1f MB)\n", r.index.c_str(), (long long)r.pages,
                (double)r.bytes / 1e6);
    return 0;
}

}  // namespace unfold
