// static_export.h: the feature browser's pages as files (`unfold features html DB --out DIR`): they open from
// disk in any browser, with no server and nothing fetched.
//
//   DIR/index.html        the feature list (sort, filter, search over labels and the strongest context's text,
//                         pages, the density histogram), its data embedded
//   DIR/feature/F.html    one page per feature: the same page as the server's, its data embedded (compact:
//                         token ids instead of texts, activations to 3 significant digits, no window/position
//                         provenance, the --top strongest contexts and --interval-samples per interval)
//   DIR/static/           app.css, app.js (the same files the server sends) and vocab.js (token texts)
// About 11 kB a feature page with the defaults (a 16k-feature dictionary: ~180 MB; ~11 ms a page).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/context.h"

namespace unfold {

class FeatureBrowser;

struct StaticExportOptions {
    std::vector<int64_t> features;  // the feature pages to write; empty = every feature
    int top = 10;                   // strongest contexts per feature page
    int interval_samples = 1;       // samples shown per activation interval
    Context ctx;                    // progress on stderr; should_stop cancels
};

struct StaticExportResult {
    int64_t pages = 0;   // feature pages written
    int64_t bytes = 0;   // every file written
    std::string index;   // DIR/index.html
};

StaticExportResult export_static_site(const FeatureBrowser& b, const std::string& dir, const StaticExportOptions& o);

}  // namespace unfold
