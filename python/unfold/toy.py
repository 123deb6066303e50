"""Toy models of superposition (Elhage et al. 2022): train many small models at once, read their geometry.

The names here are those of the compiled module unfold._unfold.toy (see help() on each)."""
from ._unfold import toy as _m

globals().update({_k: getattr(_m, _k) for _k in dir(_m) if not _k.startswith("__")})
__all__ = [_k for _k in dir(_m) if not _k.startswith("_")]
del _m
