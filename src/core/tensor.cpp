// tensor.cpp: shape helpers and ParamSet bookkeeping.
#include "unfold/core/tensor.h"

#include <algorithm>

namespace unfold {

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        UNFOLD_ASSERT(d >= 0);
        n *= d;
    }
    return n;
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) {
        if (i) r += ",";
        r += std::to_string(s[i]);
    }
    return r + "]";
}

size_t ParamSet::add(const std::string& name, const Shape& shape) {
    UNFOLD_ASSERT(data.empty());
    UNFOLD_ASSERT(!has(name));
    ParamView v;
    v.name = name;
    v.shape = shape;
    v.numel = (size_t)shape_numel(shape);
    v.offset = views.empty() ? 0 : views.back().offset + views.back().numel;
    views.push_back(v);
    return views.size() - 1;
}

void ParamSet::finalize() {
    size_t n = views.empty() ? 0 : views.back().offset + views.back().numel;
    data.assign(n, 0.0f);
    grad.assign(n, 0.0f);
}

bool ParamSet::has(const std::string& name) const {
    return std::any_of(views.begin(), views.end(), [&](const ParamView& v) { return v.name == name; });
}

const ParamView& ParamSet::view(const std::string& name) const {
    for (const auto& v : views)
        if (v.name == name) return v;
    fail("no parameter named '%s'", name.c_str());
}

void ParamSet::zero_grad() { std::fill(grad.begin(), grad.end(), 0.0f); }

}  // namespace unfold
