// hooks.cpp: hook registry, ready-made hooks and hook-name validation.
#include "unfold/lm/hooks.h"

#include <cstring>

#include "unfold/core/error.h"

namespace unfold {

void HookSet::add(const std::string& name, HookFn fn) { hooks[name].push_back(std::move(fn)); }

void HookSet::run(const std::string& name, float* data, const Shape& shape) const {
    auto it = hooks.find(name);
    if (it == hooks.end()) return;
    for (const auto& fn : it->second) fn(name, data, shape);
}

const Tensor& ActivationCache::at(const std::string& name) const {
    auto it = acts.find(name);
    UNFOLD_CHECK(it != acts.end(), "activation cache: no activation named '%s'", name.c_str());
    return it->second;
}

HookFn hook_cache(ActivationCache& cache) {
    return [&cache](const std::string& name, float* data, const Shape& shape) {
        Tensor t(shape);
        std::memcpy(t.ptr(), data, (size_t)t.numel() * sizeof(float));
        cache.acts[name] = std::move(t);
    };
}

HookFn hook_replace(const Tensor& value) {
    return [value](const std::string& name, float* data, const Shape& shape) {
        UNFOLD_CHECK(value.shape == shape, "hook '%s': replacement has shape %s, activation is %s", name.c_str(),
                     shape_str(value.shape).c_str(), shape_str(shape).c_str());
        std::memcpy(data, value.ptr(), (size_t)value.numel() * sizeof(float));
    };
}

HookFn hook_add_vector(const std::vector<float>& v, float scale) {
    return [v, scale](const std::string& name, float* data, const Shape& shape) {
        int64_t d = shape.back();
        UNFOLD_CHECK((int64_t)v.size() == d, "hook '%s': vector has %zu entries, activation's last dim is %lld",
                     name.c_str(), v.size(), (long long)d);
        int64_t rows = shape_numel(shape) / d;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < d; j++) data[r * d + j] += scale * v[(size_t)j];
    };
}

HookFn hook_scale(float s) {
    return [s](const std::string&, float* data, const Shape& shape) {
        int64_t n = shape_numel(shape);
        for (int64_t i = 0; i < n; i++) data[i] *= s;
    };
}

static const char* kBlockHooks[] = {"hook_resid_pre", "attn.hook_pattern", "hook_attn_out", "hook_resid_mid",
                                    "mlp.hook_post",  "hook_mlp_out",      "hook_resid_post"};

std::vector<std::string> hook_names(int n_layers, bool has_pos_embed) {
    std::vector<std::string> r = {"hook_embed"};
    if (has_pos_embed) r.push_back("hook_pos_embed");
    for (int i = 0; i < n_layers; i++)
        for (const char* h : kBlockHooks) r.push_back("blocks." + std::to_string(i) + "." + h);
    r.push_back("ln_final.hook_normalized");
    return r;
}

void validate_hook_name(const std::string& name, int n_layers, bool has_pos_embed) {
    for (const auto& n : hook_names(n_layers, has_pos_embed))
        if (n == name) return;
    fail("unknown hook '%s' for a %d-layer model (known: hook_embed,%s blocks.{0..%d}.{hook_resid_pre, "
         "attn.hook_pattern, hook_attn_out, hook_resid_mid, mlp.hook_post, hook_mlp_out, hook_resid_post}, "
         "ln_final.hook_normalized)",
         name.c_str(), n_layers, has_pos_embed ? " hook_pos_embed," : "", n_layers - 1);
}

}  // namespace unfold
