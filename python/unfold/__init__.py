"""unfold from Python: toy models of superposition, sparse dictionaries and SAEs, transformers and their features.

The C++ library does the work (the same code as the `unfold` command); this package is a thin layer over it:

    import unfold
    run = unfold.toy.train(n_features=5, n_hidden=2, n_instances=1, density=0.05, steps=5000)
    run.polytopes(0)                     # [{'name': 'pentagon', 'k': 5, 'dims': 2, ...}]
    sae = unfold.sae.load("runs/sae1")   # unfold, SAELens, sparsify or Gemma Scope folders
    codes = sae.encode(x)                # x: float32 [rows, d_in] (used in place, no copy)

Submodules: toy, sae, dictionary, lm, features. Errors unfold raises are unfold.UnfoldError (a RuntimeError) with
unfold's one-line message; bad argument types are TypeError, bad shapes and values ValueError; Ctrl-C stops a
long call between steps with KeyboardInterrupt.
"""
import os as _os

# As the `unfold` command does: idle OpenMP threads sleep instead of spinning, and OpenBLAS workers soon after a
# product, so the two thread pools do not take each other's cores between products. Read when the OpenMP and
# OpenBLAS runtimes start, i.e. when the compiled module is first imported (a value already set wins; numpy
# imported first has started OpenBLAS already, which then keeps its default timeout).
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from ._unfold import UnfoldError, __version__, get_num_threads, kernel_level, set_num_threads  # noqa: F401
from . import dictionary, features, lm, sae, toy  # noqa: F401

__all__ = ["UnfoldError", "dictionary", "features", "get_num_threads", "kernel_level", "lm", "sae",
           "set_num_threads", "toy"]
