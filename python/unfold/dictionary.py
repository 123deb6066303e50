"""Classical sparse coding: codes for a fixed dictionary (FISTA, CD, OMP) and dictionary learning.

The names here are those of the compiled module unfold._unfold.dictionary (see help() on each)."""
from ._unfold import dictionary as _m

globals().update({_k: getattr(_m, _k) for _k in dir(_m) if not _k.startswith("__")})
__all__ = [_k for _k in dir(_m) if not _k.startswith("_")]
del _m
