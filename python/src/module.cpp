// module.cpp: the compiled part of the `unfold` Python package (unfold._unfold): errors, threads, and one
// submodule per part of the library (py_toy.cpp, py_sae.cpp, py_dict.cpp, py_lm.cpp, py_features.cpp).
#include "py_common.h"
#include "unfold/core/context.h"
#include "unfold/core/cpu.h"

namespace pb = pybind11;
using namespace unfold;

PYBIND11_MODULE(_unfold, m) {
    m.doc() = "unfold: toy models of superposition, sparse dictionaries and SAEs, transformers and their features "
              "(the C++ library, from Python).";
#ifdef UNFOLD_VERSION
    m.attr("__version__") = UNFOLD_VERSION;
#endif
    py::register_errors(m);
    // numpy imported first has started OpenBLAS (the same library) before unfold/__init__.py could set
    // OPENBLAS_THREAD_TIMEOUT: take it now, as the `unfold` command does at start
    blas_reload_environment();
    m.def("set_num_threads", &set_num_threads, pb::arg("n"),
          "Threads (OpenMP and OpenBLAS) of calls that take no `threads` argument (encode, forward); 0 = all cores.");
    m.def("get_num_threads", &get_num_threads, "The OpenMP thread count of calls without a `threads` argument.");
    m.def("kernel_level", [] { return std::string(kernel_level_name(kernel_level())); },
          "The kernel level unfold runs on this CPU: portable, avx2, avx512 or avx512-bf16 (capped by "
          "$UNFOLD_KERNELS).");
    m.def("_last_input_copied", &py::last_input_copied,
          "Whether the last array argument was converted (False: its memory was used in place). For tests.");
    pb::module_ toy = m.def_submodule("toy", "Toy models of superposition (Elhage et al. 2022).");
    py::bind_toy(toy);
    pb::module_ sae = m.def_submodule("sae", "Sparse autoencoders: load, encode, decode, evaluate, train.");
    py::bind_sae(sae);
    pb::module_ dictionary = m.def_submodule("dictionary", "Classical sparse coding and dictionary learning.");
    py::bind_dictionary(dictionary);
    pb::module_ lm = m.def_submodule("lm", "Transformers: load, tokenize, forward, hooks, caches, generation.");
    py::bind_lm(lm);
    pb::module_ features = m.def_submodule("features", "The feature database written by `unfold features build`.");
    py::bind_features(features);
}
