// tensor.h: contiguous float32 buffers with a shape, and parameter sets as named views into one buffer.
//
// Tensor: owning, row-major (C order), shape in elements. No strides, no broadcasting: the math lives in
// explicit *_forward / *_backward functions that take raw pointers and sizes.
//
// ParamSet (llm.c's "parameters as named views into one flat buffer"): declare tensors with add(),
// then finalize() allocates one buffer for values and one for gradients. Optimisers, gradient clipping,
// checkpointing and comparisons are then loops over one array.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "unfold/core/error.h"

namespace unfold {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[3,4]"

struct Tensor {
    Shape shape;
    std::vector<float> data;

    Tensor() = default;
    explicit Tensor(Shape s, float fill = 0.0f) : shape(std::move(s)), data((size_t)shape_numel(shape), fill) {}
    int64_t numel() const { return (int64_t)data.size(); }
    int64_t dim(int i) const { return shape.at((size_t)(i < 0 ? (int)shape.size() + i : i)); }
    int ndim() const { return (int)shape.size(); }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    float& operator[](size_t i) { return data[i]; }
    float operator[](size_t i) const { return data[i]; }
};

struct ParamView {
    std::string name;
    Shape shape;
    size_t offset = 0;  // in floats, into ParamSet::data / grad
    size_t numel = 0;
};

struct ParamSet {
    std::vector<ParamView> views;
    std::vector<float> data;  // all values, views laid out in declaration order
    std::vector<float> grad;  // same layout as data

    // Declare a tensor (before finalize). Returns its index.
    size_t add(const std::string& name, const Shape& shape);
    // Allocate data and grad (zero-filled).
    void finalize();
    size_t size() const { return data.size(); }
    const ParamView& view(const std::string& name) const;  // throws if missing
    bool has(const std::string& name) const;
    float* get(const std::string& name) { return data.data() + view(name).offset; }
    const float* get(const std::string& name) const { return data.data() + view(name).offset; }
    float* grad_of(const std::string& name) { return grad.data() + view(name).offset; }
    void zero_grad();
};

}  // namespace unfold
