// splice.cpp: SAE edits at a hook (see splice.h).
#include "unfold/features/splice.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/strings.h"
#include "unfold/lm/cache.h"

namespace unfold {

static int64_t parse_feature(const std::string& s, int64_t d_sae, const char* flag) {
    int64_t f = parse_int(s, flag);
    UNFOLD_CHECK(f >= 0 && f < d_sae, "%s: feature %lld is out of range [0, %lld)", flag, (long long)f,
                 (long long)d_sae);
    return f;
}

std::vector<SaeEdit> parse_sae_edits(const std::string& steer, const std::string& scale, const std::string& ablate,
                                     int64_t d_sae) {
    std::vector<SaeEdit> out;
    auto pairs = [&](const std::string& spec, SaeEdit::Kind kind, const char* flag) {
        if (spec.empty()) return;
        for (const std::string& item : split_list(spec, ',')) {
            size_t eq = item.find('=');
            UNFOLD_CHECK(eq != std::string::npos, "%s: '%s' is not FEATURE=VALUE", flag, item.c_str());
            SaeEdit e;
            e.kind = kind;
            e.feature = parse_feature(item.substr(0, eq), d_sae, flag);
            e.value = (float)parse_double(item.substr(eq + 1), flag);
            out.push_back(e);
        }
    };
    pairs(steer, SaeEdit::CLAMP, "--steer");
    pairs(scale, SaeEdit::SCALE, "--scale");
    if (!ablate.empty())
        for (const std::string& item : split_list(ablate, ',')) {
            SaeEdit e;
            e.kind = SaeEdit::ABLATE;
            e.feature = parse_feature(item, d_sae, "--ablate");
            out.push_back(e);
        }
    return out;
}

std::string describe_sae_edits(const std::vector<SaeEdit>& edits) {
    std::string s;
    for (const SaeEdit& e : edits) {
        if (!s.empty()) s += ", ";
        if (e.kind == SaeEdit::CLAMP) s += strformat("clamp %lld=%g", (long long)e.feature, (double)e.value);
        else if (e.kind == SaeEdit::SCALE) s += strformat("scale %lld x%g", (long long)e.feature, (double)e.value);
        else s += strformat("ablate %lld", (long long)e.feature);
    }
    return s.empty() ? "no edit" : s;
}

// the edited value of latent f, given its current value
static float edited(const SaeEdit& e, float v) {
    switch (e.kind) {
        case SaeEdit::CLAMP: return e.value;
        case SaeEdit::SCALE: return v * e.value;
        case SaeEdit::ABLATE: return 0.0f;
    }
    return v;
}

void sae_splice_rows(const Sae& sae, const SpliceOptions& o, float* x, int64_t n, const int64_t* pos) {
    const int64_t d = sae.d();
    if (n <= 0) return;
    if (o.keep_error && o.edits.empty()) return;  // reconstruction + error term = the row itself, exactly
    SparseCodes codes;
    sae_encode(sae, x, n, codes);
    const float* Wd = sae.W_dec();
    // the distinct edited latents, in first-edit order
    std::vector<int64_t> feats;
    for (const SaeEdit& e : o.edits)
        if (std::find(feats.begin(), feats.end(), e.feature) == feats.end()) feats.push_back(e.feature);
    std::vector<float> before(feats.size()), after(feats.size());
    auto add = [&](float* row, int64_t f, float v) {
        const float* w = Wd + f * d;
        for (int64_t t = 0; t < d; t++) row[t] += v * w[t];
    };
    for (int64_t r = 0; r < n; r++) {
        if (pos && pos[r] < o.from_position) continue;
        float* row = x + r * d;
        const int64_t b = codes.off[(size_t)r], e = codes.off[(size_t)r + 1];
        for (size_t k = 0; k < feats.size(); k++) {  // each edited latent: its value (0 if inactive), then edits
            float v = 0.0f;
            for (int64_t j = b; j < e; j++)
                if (codes.idx[(size_t)j] == feats[k]) v = codes.val[(size_t)j];
            before[k] = v;
            for (const SaeEdit& ed : o.edits)
                if (ed.feature == feats[k]) v = edited(ed, v);
            after[k] = v;
        }
        if (o.keep_error) {  // x + decode(edited) - decode(codes) = x + sum_k (after_k - before_k) W_dec[f_k]
            for (size_t k = 0; k < feats.size(); k++)
                if (after[k] != before[k]) add(row, feats[k], after[k] - before[k]);
        } else {  // decode(edited codes)
            std::memcpy(row, sae.b_dec(), sizeof(float) * (size_t)d);
            for (int64_t j = b; j < e; j++) {
                const int64_t f = codes.idx[(size_t)j];
                if (std::find(feats.begin(), feats.end(), f) == feats.end()) add(row, f, codes.val[(size_t)j]);
            }
            for (size_t k = 0; k < feats.size(); k++)
                if (after[k] != 0.0f) add(row, feats[k], after[k]);
        }
    }
}

HookFn hook_sae_splice(const Sae& sae, const SpliceOptions& o) {
    return [&sae, o](const std::string& name, float* data, const Shape& shape) {
        // per-token hooks are [B, T, ...]: one row per token, per-head hooks flattened to heads * size (as
        // SAELens reads hook_z); attention scores / patterns [B, NH, T, S] keep their last dim
        const bool per_token = shape.size() >= 3 && name.find("hook_pattern") == std::string::npos &&
                               name.find("hook_attn_scores") == std::string::npos;
        const int64_t width = per_token ? shape_numel(shape) / (shape[0] * shape[1]) : shape.empty() ? 0 : shape.back();
        UNFOLD_CHECK(width == sae.d(), "hook '%s': rows of width %lld, the SAE's d_in is %lld", name.c_str(),
                     (long long)width, (long long)sae.d());
        const int64_t n = (int64_t)(shape_numel(shape) / (size_t)sae.d());
        std::vector<int64_t> pos;
        if (o.from_position > 0 && per_token) {
            pos.resize((size_t)n);
            for (int64_t r = 0; r < n; r++) pos[(size_t)r] = r % shape[1];
        }
        sae_splice_rows(sae, o, data, n, pos.empty() ? nullptr : pos.data());
    };
}

std::string sae_hook_for(const LmModel& m, const Sae& sae, const std::string& override_hook) {
    std::string hook = override_hook.empty() ? sae_hook_info(sae).hook_name : override_hook;
    UNFOLD_CHECK(!hook.empty(),
                 "the SAE does not record which hook it reads (cfg.json metadata.hook_name); give --hook NAME");
    const int64_t w = hook_row_dim(m.cfg, hook);  // validates the name and that it is a per-token hook
    UNFOLD_CHECK(w == sae.d(), "hook '%s' has width %lld but the SAE's d_in is %lld", hook.c_str(), (long long)w,
                 (long long)sae.d());
    return hook;
}

}  // namespace unfold
