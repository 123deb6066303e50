// py_common.h: what every part of the Python module shares: array conversion at the boundary, the Context
// a Python call runs under (threads, progress callback, Ctrl-C), JSON <-> Python, and the exception mapping.
//
// Arrays in: float32 C-contiguous numpy arrays are used in place (no copy); any other real-valued array (float64,
// ints, bools, non-contiguous views, lists, torch CPU tensors through __array__ / DLPack) is converted once;
// complex, object and string arrays are a TypeError, a wrong number of dimensions or width a ValueError, each
// naming the argument, its dtype and shape. Arrays out are numpy arrays the C++ code wrote into directly, or
// views of an object's own buffers (an SAE's W_dec, a toy model's W) that keep the object alive.
// Long calls release the GIL; callbacks (progress, hooks) take it back; Ctrl-C stops the call between steps
// and raises KeyboardInterrupt.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "unfold/core/context.h"
#include "unfold/core/tensor.h"
#include "unfold/data/source.h"
#include "unfold/io/json.h"
#include "unfold/sae/sae.h"

namespace unfold::py {

namespace pb = pybind11;
using FloatArray = pb::array_t<float, pb::array::c_style>;
using IntArray = pb::array_t<int32_t, pb::array::c_style>;

// An SAE as unfold.sae.Sae holds it (py_sae.cpp binds it; unfold.lm's generate takes one).
struct PySae {
    Sae sae;
    std::string format = "unfold";  // what it was loaded from: saelens | sparsify | gemmascope | unfold
};

// ---- arrays in --------------------------------------------------------------------------------------------

// A float32 C-contiguous array borrowed from (or converted once from) a Python object.
struct FloatIn {
    FloatArray arr;  // keeps the memory alive
    const float* data = nullptr;
    std::vector<int64_t> shape;
    bool copied = false;  // converted (not the caller's memory)
    int64_t rows() const { return shape.empty() ? 1 : shape[0]; }
    int64_t size() const;
};

// ndim: required number of dimensions (-1: any); last_dim: required width of the last axis (-1: any).
// allow_1d_row: a 1-D array of width last_dim is taken as one row (shape becomes [1, n]).
FloatIn float_input(pb::handle obj, const char* name, int ndim = -1, int64_t last_dim = -1,
                    bool allow_1d_row = false);
// Token ids: any integer array (or list), converted to int32 (values must fit; negative ids refused).
struct IdsIn {
    IntArray arr;
    const int32_t* data = nullptr;
    std::vector<int64_t> shape;
};
IdsIn ids_input(pb::handle obj, const char* name);
// Whether the last float_input call of this process converted (a test hook for zero-copy).
bool last_input_copied();

std::string describe_array(pb::handle obj);  // "dtype float64 with shape (3, 4)" / "a list" / type name

// An activation source from a Python argument: a float32 array [rows, d] (used in place, served through the same
// shuffle buffer as a .npy of the same rows, so results match the CLI's) or what the CLI's --input takes (a path:
// .npy, file.safetensors with tensor=NAME, a shard folder, a planted:... spec). *name: how metadata names it.
std::unique_ptr<ActivationSource> open_source_arg(pb::handle source, uint64_t seed, int64_t shuffle_buffer,
                                                  bool sequential, const std::string& tensor, std::string* name);

// ---- arrays out -------------------------------------------------------------------------------------------

FloatArray new_float_array(const std::vector<int64_t>& shape);
pb::array_t<int32_t> new_int_array(const std::vector<int64_t>& shape);
// A writable numpy view of `data` with `shape` whose base is `owner` (keeps it alive).
FloatArray view_of(float* data, const std::vector<int64_t>& shape, pb::handle owner);
FloatArray copy_of(const float* data, const std::vector<int64_t>& shape);
FloatArray tensor_array(const Tensor& t);  // a copy

// ---- JSON ---------------------------------------------------------------------------------------------------

pb::object to_py(const Json& j);
Json from_py(pb::handle o, const std::string& ctx);

// ---- the context of a call ----------------------------------------------------------------------------------

// progress: None (silent), True (unfold's bar and messages on stderr), or a callable taking one dict
// {label, unit, done, total, elapsed_s, extra, finished}; threads: 0 = all cores. Ctrl-C is polled between steps.
// The callbacks take the GIL themselves: use the context inside a gil_scoped_release.
Context make_context(pb::object progress, int threads);

// Raises the Python error a callback of the current call parked (a progress callback that raised, a warning
// turned into an error), if any.
void rethrow_pending();

// Runs fn without the GIL, then raises what a callback parked. C++ exceptions propagate (the translator of
// register_errors turns them into Python's, a parked callback error first).
template <class F>
auto nogil(F&& fn) {
    if constexpr (std::is_void_v<decltype(fn())>) {
        {
            pb::gil_scoped_release release;
            fn();
        }
        rethrow_pending();
    } else {
        auto r = [&] {
            pb::gil_scoped_release release;
            return fn();
        }();
        rethrow_pending();
        return r;
    }
}

// ---- errors -------------------------------------------------------------------------------------------------

[[noreturn]] void type_error(const std::string& msg);
[[noreturn]] void value_error(const std::string& msg);
void register_errors(pb::module_& m);  // unfold.UnfoldError, Cancelled -> KeyboardInterrupt

// ---- the parts of the module ---------------------------------------------------------------------------------

void bind_toy(pb::module_& m);
void bind_sae(pb::module_& m);
void bind_dictionary(pb::module_& m);
void bind_lm(pb::module_& m);
void bind_features(pb::module_& m);

}  // namespace unfold::py
