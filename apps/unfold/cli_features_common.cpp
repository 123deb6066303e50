// cli_features_common.cpp: the SAE-in-a-model flags shared by lm generate/eval, sae eval and features.
#include "cli_features.h"

#include "unfold/core/error.h"

namespace unfold {

std::vector<OptSpec> sae_hook_opts() {
    return {{"sae", "", "SAE folder/file (unfold/SAELens, sparsify, Gemma Scope) placed at its hook"},
            {"hook", "", "hook the SAE sits on (default: the hook recorded in the SAE's cfg.json)"}};
}

std::vector<OptSpec> sae_edit_opts() {
    std::vector<OptSpec> o = sae_hook_opts();
    o.push_back({"steer", "", "F=V[,G=W]: clamp latent F to V at every position (needs --sae)"});
    o.push_back({"scale", "", "F=x[,G=y]: multiply latent F by x (needs --sae)"});
    o.push_back({"ablate", "", "F[,G]: set latent F to 0 (needs --sae)"});
    o.push_back({"splice", "", "replace the activation by the SAE's reconstruction alone (no error term)", true});
    return o;
}

std::unique_ptr<SaeAtHook> sae_at_hook_from_args(const Args& a, const LmModel& m, bool with_edits) {
    auto s = std::make_unique<SaeAtHook>();
    s->path = a.str("sae");
    if (s->path.empty()) {
        UNFOLD_CHECK(a.str("hook").empty(), "--hook needs --sae");
        if (with_edits)
            for (const char* f : {"steer", "scale", "ablate", "splice"})
                UNFOLD_CHECK(!a.given(f), "--%s needs --sae RUN", f);
        return s;
    }
    s->sae = sae_load(s->path);
    s->hook = sae_hook_for(m, s->sae, a.str("hook"));
    if (with_edits) {
        s->splice.edits = parse_sae_edits(a.str("steer"), a.str("scale"), a.str("ablate"), s->sae.F());
        s->splice.keep_error = !a.flag("splice");
    }
    s->hooks.add(s->hook, hook_sae_splice(s->sae, s->splice));
    return s;
}

int64_t sae_context_from_args(const Args& a, const Sae& sae, int64_t def) {
    if (a.given("context")) return a.i64("context");
    const int64_t c = sae_hook_info(sae).context_size;
    return c > 0 ? c : def;
}

}  // namespace unfold
