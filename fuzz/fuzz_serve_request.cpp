// fuzz_serve_request.cpp: what `unfold serve` does with a request target (serve/browser.h): the query string
// through parse_query, then FeatureBrowser::handle on the path and its parameters, every route included (pages,
// /api/features sorting, filtering and search, /api/feature/F, and the live /api/trace and /api/steer with
// stories260K and a small TopK SAE). The fuzzed bytes are the target as a client sends it, "PATH?QUERY" (the path
// as the server hands it over, already decoded). A malformed query must be refused with a 400; handle() must not
// throw, must answer 200, 400 or 404, and every JSON answer must parse (errors as {"error", "status"} with the
// answer's status); a page that is not there is a 404 HTML page.
#include <memory>

#include "feature_db_template.h"
#include "fuzz_util.h"
#include "unfold/io/json.h"
#include "unfold/lm/checkpoint.h"
#include "unfold/lm/model.h"
#include "unfold/lm/tokenizer.h"
#include "unfold/sae/sae.h"
#include "unfold/serve/browser.h"

using namespace unfold;

namespace {

struct Server {
    LmModel model;
    std::unique_ptr<Tokenizer> tok;
    Sae sae;
    LiveModel live;
    std::unique_ptr<FeatureBrowser> b;
    Server() {
        const std::string models = std::string(UNFOLD_SOURCE_DIR) + "/models/stories260K/";
        lm_load_llama2c(model, models + "stories260K.bin");
        tok = load_tokenizer(models + "tok512.bin");
        SaeConfig c;
        c.arch = SaeArch::TOPK;
        c.d_in = model.cfg.d_model;
        c.d_sae = 3;  // the template database's features
        c.k = 2;
        sae = sae_init(c, 7);
        live.model = &model;
        live.tokenizer = tok.get();
        live.sae = &sae;
        live.hook = "blocks.2.hook_resid_post";
        live.max_steps = 6;  // steering requests stay cheap; asking for more is a 400
        const std::string db = unfold_fuzz::put_file("serve.db", unfold_fuzz::feature_db_template());
        BrowserOptions o;
        o.live = &live;
        o.max_page = 50;
        o.max_text_bytes = 256;
        b = std::make_unique<FeatureBrowser>(db, o);
    }
};

const Server& server() {
    static const Server s;
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 4096) return 0;
    const std::string target((const char*)data, size);
    const Server& s = server();
    WebRequest r;
    const size_t qm = target.find('?');
    r.path = target.substr(0, qm);
    if (qm != std::string::npos) {
        try {
            r.params = parse_query(target.substr(qm + 1));
        } catch (const WebError& e) {
            if (e.status != 400 || e.message.empty()) __builtin_trap();
            return 0;
        }
    }
    const WebResponse a = s.b->handle(r);  // documented never to throw: an escaping exception is a finding
    if (a.status != 200 && a.status != 400 && a.status != 404) __builtin_trap();
    if (a.content_type.rfind("application/json", 0) == 0) {
        Json j;
        try {
            j = json_parse(a.body, "answer");
        } catch (const Error&) {
            __builtin_trap();
        }
        if (a.status != 200) {
            if (j.type != Json::OBJ || !j.has("error") || !j.has("status") ||
                j.at("status", "").as_int("") != a.status)
                __builtin_trap();
        }
    } else if (a.body.empty() || (a.status == 400) ||
               (a.status == 404 && a.content_type.rfind("text/html", 0) != 0)) {
        __builtin_trap();  // pages answer 200, or 404 with a small HTML page; a 400 is always JSON
    }
    return 0;
}
