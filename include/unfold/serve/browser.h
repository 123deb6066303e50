// browser.h: the feature browser of `unfold serve` and `unfold features html`: its pages and its JSON API as
// plain functions of a request (no sockets here; http.h puts a FeatureBrowser on a port).
//
//   FeatureBrowser b("runs/sae1/features.db");          // opens the database read-only, indexes it
//   WebResponse r = b.handle({"GET", "/api/feature/12", {}});   // r.status 200, r.body the feature's JSON
//
// Pages (HTML shells; the embedded script app.js renders them from the API, or from data embedded in the page
// for the static export):
//   /                 feature list: sortable, filterable, searchable table, pages of results, the log10-density
//                     histogram with the current filter highlighted
//   /feature/F        one feature: activation histogram, top contexts shaded by activation (value on hover),
//                     interval samples, logit effects, neuron alignment, co-firing and decoder neighbours, label
//   /live             (with a LiveModel) trace any text; steer a feature and compare continuations
//   /static/NAME      the embedded CSS and JavaScript
// JSON API (GET; every answer is JSON; errors are {"error": "one line", "status": N}):
//   /api/             this list, as JSON
//   /api/info         the database: path, hook, model, tokens, n_features, dead, density_histogram, live, tabs
//   /api/features     sort=density|max|fires|label|id  order=desc|asc (default: desc for numbers, asc for
//                     id/label)  q=TEXT (case-insensitive, in the label or the text of the strongest contexts)
//                     filter=all|alive|dead|dense  dense=0.1  min_density=  max_density= (min <= d < max)
//                     ids=1,2,3 (only these)  offset=0  limit=100 (at most BrowserOptions::max_page)
//                     -> {total, offset, limit, sort, order, features: [{feature, fires, density,
//                        max_activation, label, example}], histogram: {bin_edges_log10, counts, matched}}
//                     (items are `features show --json`'s list items plus `example`: the strongest context
//                     around its firing token, {tokens, activations, max_index})
//   /api/feature/F    the `unfold features show --feature F --json` object
//   /api/trace        text=TEXT [feature=F] [top=5]: the `unfold features trace --json` object + text
//   /api/steer        prompt=TEXT steer=F=V[,G=W] [scale=F=x] [ablate=F] [splice=0|1] [steps=40] [temperature=0]
//                     [seed=0]: {prompt, hook, edits, steps, unedited: {text, ids}, steered: {text, ids}}; the
//                     same generation as `unfold lm generate --steer ... --compare`
// Bad parameters (unknown, repeated, malformed, out of range, not UTF-8, too long) answer 400, unknown features
// and pages 404, live routes without a model 404; nothing a request holds makes handle() throw.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "unfold/io/json.h"

namespace unfold {

class FeatureDb;
class Tokenizer;
struct LmModel;
struct Sae;

struct WebRequest {
    std::string method = "GET";
    std::string path;                                         // decoded, without the query
    std::vector<std::pair<std::string, std::string>> params;  // decoded query parameters, in order
};

struct WebResponse {
    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // beside the security headers http.h adds
};

// A request the browser refuses: the status (4xx) and one line. Handlers throw it; handle() answers it as JSON.
struct WebError {
    int status = 400;
    std::string message;
};

// The query parameters of one route: those not in `allowed`, repeated ones, values that are not valid UTF-8
// or hold control characters (other than tab / newline / CR), or are longer than max_bytes are a 400.
class QueryParams {
  public:
    QueryParams(const WebRequest& r, std::initializer_list<const char*> allowed, size_t max_bytes = 4096);
    bool has(const std::string& name) const;
    std::string str(const std::string& name, const std::string& def = "") const;
    std::string choice(const std::string& name, const std::string& def, std::initializer_list<const char*> options) const;
    int64_t i64(const std::string& name, int64_t def, int64_t lo, int64_t hi) const;  // an integer in [lo, hi]
    double f64(const std::string& name, double def, double lo, double hi) const;      // a finite number in [lo, hi]

  private:
    std::vector<std::pair<std::string, std::string>> v_;
};

// What the live panels run (`unfold serve --model M --sae RUN`). The pointers must outlive the browser.
struct LiveModel {
    const LmModel* model = nullptr;
    const Tokenizer* tokenizer = nullptr;
    const Sae* sae = nullptr;
    std::string hook;
    bool prepend_bos = true;   // a traced text starts with BOS (as the SAE's windows did)
    int64_t max_steps = 256;   // longest continuation a steering request may ask for
};

struct BrowserOptions {
    int64_t max_page = 1000;        // most features one /api/features answer lists
    int search_contexts = 5;        // strongest contexts per feature whose text q matches
    size_t max_text_bytes = 4096;   // longest parameter value (trace text, steer prompt, q)
    const LiveModel* live = nullptr;
};

class FeatureBrowser {
  public:
    // Opens the database read-only and indexes it (summaries, sort orders, search text); errors name the file.
    explicit FeatureBrowser(const std::string& db_path, const BrowserOptions& o = {});
    ~FeatureBrowser();
    FeatureBrowser(const FeatureBrowser&) = delete;
    FeatureBrowser& operator=(const FeatureBrowser&) = delete;

    // Any route; safe to call from many threads at once; never throws.
    WebResponse handle(const WebRequest& r) const;

    const FeatureDb& db() const;  // not thread-safe on its own: use with_db from handlers
    void with_db(const std::function<void(const FeatureDb&)>& fn) const;  // serialised access
    bool live() const;

    // Extension points (call before serving): a new page - e.g. a decoder map - is a route and a tab of the
    // nav bar. A route answers `path` exactly, or (prefix) every path that starts with it; `rest` is what
    // follows. The page's shell is page_shell(page id, ...); app.js renders pages it knows by id.
    using Handler = std::function<WebResponse(const WebRequest&, const std::string& rest)>;
    void add_route(const std::string& path, bool prefix, Handler h);
    void add_tab(const std::string& id, const std::string& title, const std::string& href);

    // The API's answers as values (the static export and the tests use them).
    Json info_json() const;
    Json features_json(const QueryParams& q) const;
    Json feature_json(int64_t id) const;  // WebError 404 outside [0, n_features)
    Json trace_json(const QueryParams& q) const;
    Json steer_json(const QueryParams& q) const;
    Json api_index_json() const;

    // The page: an HTML shell that loads <root>static/app.css and app.js, then `scripts` (more files of
    // static/, e.g. a page of its own that registers UNFOLD.pages.<id>: app.js starts the page once the
    // document is parsed); `data` (static export) is embedded as JSON, escaped for a <script> element; `attrs`
    // become data-* attributes of <body> (escaped).
    std::string page_shell(const std::string& page, const std::string& title, const std::string& root,
                           const std::string& mode, const Json* data,
                           const std::vector<std::pair<std::string, std::string>>& attrs = {},
                           const std::vector<std::string>& scripts = {}) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The parameters of a URL's query string (the text after '?'): '&'-separated name=value pairs split at the first
// '=', '+' as a space, %XX escapes decoded. A malformed escape (not two hex digits) or an empty name is a
// WebError 400; at most 64 parameters.
std::vector<std::pair<std::string, std::string>> parse_query(const std::string& query);

// HTML-escapes text for element content and quoted attribute values (& < > " ').
std::string html_escape(const std::string& s);
// JSON text that is safe inside <script type="application/json"> (< > & as \u escapes).
std::string json_for_script(const Json& j);
// Whether s is valid UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(const std::string& s);

// The files embedded in the binary (src/serve/assets/): name -> bytes and content type; nullptr when absent.
struct WebAsset {
    const char* name;
    const char* content_type;
    const unsigned char* data;
    size_t size;
};
const WebAsset* find_web_asset(const std::string& name);
std::vector<const WebAsset*> web_assets();

}  // namespace unfold
