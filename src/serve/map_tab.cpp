// map_tab.cpp: the decoder map tab of the feature browser (see map_tab.h).
#include "unfold/serve/map_tab.h"

#include <memory>

#include "unfold/core/error.h"
#include "unfold/features/feature_db.h"
#include "unfold/map/decoder_map.h"
#include "unfold/serve/browser.h"

namespace unfold {

namespace {
// the map page draws from inline script and style (its data embedded, escaped by decoder_map_html)
const char* kMapCsp =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";
}  // namespace

MapTabResult add_map_tab(FeatureBrowser& b, const std::vector<std::string>& sae_paths, uint64_t seed,
                         const Context& ctx) {
    UNFOLD_CHECK(!sae_paths.empty(), "--map: give at least one SAE run");
    std::vector<MapInput> in;
    for (const std::string& p : sae_paths) in.push_back(map_input_load(p));
    const int64_t n = b.db().n_features();
    MapTabResult res;
    for (MapInput& x : in)
        if (x.d_sae == n) {
            map_input_annotate_db(x, b.db().path());
            res.linked = x.name;
            break;
        }
    DecoderMapOptions mo;
    mo.umap.seed = seed;
    mo.ctx = ctx;
    DecoderMap dm = decoder_map(in, mo);
    for (const MapSae& s : dm.saes) res.points += (int64_t)s.feature.size();
    MapHtmlOptions ho;
    ho.title = "Decoder map";
    ho.link = "/map/open?sae={sae}&id={id}";
    auto page = std::make_shared<const std::string>(decoder_map_html(dm, ho));
    b.add_route("/map", false, [page](const WebRequest&, const std::string&) {
        WebResponse r;
        r.content_type = "text/html; charset=utf-8";
        r.body = *page;
        r.headers.push_back({"Content-Security-Policy", kMapCsp});
        return r;
    });
    const std::string linked = res.linked;
    b.add_route("/map/open", false, [linked, n](const WebRequest& q, const std::string&) {
        QueryParams p(q, {"sae", "id"});
        const std::string sae = p.str("sae");
        const int64_t id = p.i64("id", -1, 0, 1LL << 40);
        WebResponse r;
        if (!linked.empty() && sae == linked && id < n) {
            r.status = 302;
            r.content_type = "text/plain; charset=utf-8";
            r.headers.push_back({"Location", "/feature/" + std::to_string(id)});
            r.body = "/feature/" + std::to_string(id) + "\n";
            return r;
        }
        r.status = 404;
        r.content_type = "text/html; charset=utf-8";
        r.body = "<!doctype html><meta charset=\"utf-8\"><title>no page</title><p>Feature " + std::to_string(id) +
                 " of " + html_escape(sae) + " has no page in this database" +
                 (linked.empty() ? std::string(".") : " (its pages are those of " + html_escape(linked) + ").") +
                 " <a href=\"/map\">Back to the map</a></p>\n";
        return r;
    });
    b.add_tab("map", "Decoder map", "/map");
    return res;
}

}  // namespace unfold
