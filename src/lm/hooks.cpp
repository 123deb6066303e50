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

// One hook point of a block: name suffix, which family has it, and its shape. Shape codes: R [B,T,C],
// S [B,T,1], F [B,T,F], QH [B,T,NH,hs], KH [B,T,KV,hs], QC [B,T,NH,C], KC [B,T,KV,C], P [B,NH,T,S], V [B,T,V].
enum class HookKind { R, S, F, QH, KH, QC, KC, P, V };
enum class HookFamily { ANY, GPT2, LLAMA };
struct BlockHook {
    const char* name;
    HookFamily family;
    HookKind kind;
};
static const BlockHook kBlockHooks[] = {
    {"hook_resid_pre", HookFamily::ANY, HookKind::R},        {"hook_attn_in", HookFamily::ANY, HookKind::QC},
    {"hook_q_input", HookFamily::ANY, HookKind::QC},         {"hook_k_input", HookFamily::ANY, HookKind::KC},
    {"hook_v_input", HookFamily::ANY, HookKind::KC},         {"ln1.hook_scale", HookFamily::ANY, HookKind::S},
    {"ln1.hook_normalized", HookFamily::ANY, HookKind::R},   {"attn.hook_q", HookFamily::ANY, HookKind::QH},
    {"attn.hook_k", HookFamily::ANY, HookKind::KH},          {"attn.hook_v", HookFamily::ANY, HookKind::KH},
    {"attn.hook_rot_q", HookFamily::LLAMA, HookKind::QH},    {"attn.hook_rot_k", HookFamily::LLAMA, HookKind::KH},
    {"attn.hook_attn_scores", HookFamily::ANY, HookKind::P}, {"attn.hook_pattern", HookFamily::ANY, HookKind::P},
    {"attn.hook_z", HookFamily::ANY, HookKind::QH},          {"attn.hook_result", HookFamily::ANY, HookKind::QC},
    {"hook_attn_out", HookFamily::ANY, HookKind::R},         {"hook_resid_mid", HookFamily::ANY, HookKind::R},
    {"hook_mlp_in", HookFamily::ANY, HookKind::R},           {"ln2.hook_scale", HookFamily::ANY, HookKind::S},
    {"ln2.hook_normalized", HookFamily::ANY, HookKind::R},   {"mlp.hook_pre", HookFamily::ANY, HookKind::F},
    {"mlp.hook_pre_linear", HookFamily::LLAMA, HookKind::F}, {"mlp.hook_post", HookFamily::ANY, HookKind::F},
    {"hook_mlp_out", HookFamily::ANY, HookKind::R},          {"hook_resid_post", HookFamily::ANY, HookKind::R},
};

static bool has_family(const LmConfig& cfg, HookFamily f) {
    return f == HookFamily::ANY || (f == HookFamily::GPT2) == (cfg.arch == LmArch::GPT2);
}

// The kind of a hook name, or false if the model has no such hook.
static bool hook_kind(const LmConfig& cfg, const std::string& name, HookKind& kind) {
    if (name == "hook_embed" || (name == "hook_pos_embed" && cfg.arch == LmArch::GPT2) ||
        name == "ln_final.hook_normalized" || name == "unembed.hook_in") {
        kind = HookKind::R;
        return true;
    }
    if (name == "unembed.hook_out") {
        kind = HookKind::V;
        return true;
    }
    if (name == "ln_final.hook_scale") {
        kind = HookKind::S;
        return true;
    }
    if (name.rfind("blocks.", 0) != 0) return false;
    const size_t dot = name.find('.', 7);
    if (dot == std::string::npos || dot == 7 || dot - 7 > 6) return false;
    const std::string num = name.substr(7, dot - 7);
    if (num.find_first_not_of("0123456789") != std::string::npos || (num.size() > 1 && num[0] == '0')) return false;
    if (std::stoll(num) >= cfg.n_layers) return false;
    const std::string rest = name.substr(dot + 1);
    for (const BlockHook& h : kBlockHooks)
        if (rest == h.name && has_family(cfg, h.family)) {
            kind = h.kind;
            return true;
        }
    return false;
}

std::vector<std::string> hook_names(const LmConfig& cfg) {
    std::vector<std::string> r = {"hook_embed"};
    if (cfg.arch == LmArch::GPT2) r.push_back("hook_pos_embed");
    for (int64_t i = 0; i < cfg.n_layers; i++)
        for (const BlockHook& h : kBlockHooks)
            if (has_family(cfg, h.family)) r.push_back("blocks." + std::to_string(i) + "." + h.name);
    r.push_back("ln_final.hook_scale");
    r.push_back("ln_final.hook_normalized");
    r.push_back("unembed.hook_in");
    r.push_back("unembed.hook_out");
    return r;
}

std::string hook_names_summary(const LmConfig& cfg) {
    std::string block;
    for (const BlockHook& h : kBlockHooks)
        if (has_family(cfg, h.family)) block += std::string(block.empty() ? "" : ", ") + h.name;
    return strformat("hook_embed,%s blocks.{0..%lld}.{%s}, ln_final.hook_scale, ln_final.hook_normalized, "
                     "unembed.hook_in, unembed.hook_out",
                     cfg.arch == LmArch::GPT2 ? " hook_pos_embed," : "", (long long)cfg.n_layers - 1, block.c_str());
}

void validate_hook_name(const std::string& name, const LmConfig& cfg) {
    HookKind k;
    if (hook_kind(cfg, name, k)) return;
    fail("unknown hook '%s' for a %lld-layer %s model (known: %s)", name.c_str(), (long long)cfg.n_layers,
         arch_name(cfg.arch), hook_names_summary(cfg).c_str());
}

Shape hook_shape(const LmConfig& cfg, const std::string& name, int64_t B, int64_t T, int64_t S) {
    HookKind k = HookKind::R;
    validate_hook_name(name, cfg);
    hook_kind(cfg, name, k);
    const int64_t C = cfg.d_model, NH = cfg.n_heads, KV = cfg.n_kv_heads, hs = cfg.head_dim();
    switch (k) {
        case HookKind::R: return {B, T, C};
        case HookKind::S: return {B, T, 1};
        case HookKind::F: return {B, T, cfg.d_mlp};
        case HookKind::QH: return {B, T, NH, hs};
        case HookKind::KH: return {B, T, KV, hs};
        case HookKind::QC: return {B, T, NH, C};
        case HookKind::KC: return {B, T, KV, C};
        case HookKind::P: return {B, NH, T, S};
        case HookKind::V: return {B, T, cfg.vocab};
    }
    return {};
}

int64_t hook_row_dim(const LmConfig& cfg, const std::string& name) {
    const Shape s = hook_shape(cfg, name, 1, 1, 1);
    UNFOLD_CHECK(name.find("hook_pattern") == std::string::npos && name.find("hook_attn_scores") == std::string::npos,
                 "hook '%s': attention scores and patterns [heads, T, T] are not per-token rows; cache a residual, "
                 "attention, MLP or norm hook",
                 name.c_str());
    int64_t d = 1;
    for (size_t i = 2; i < s.size(); i++) d *= s[i];
    return d;
}

}  // namespace unfold
