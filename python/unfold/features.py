"""The feature database `unfold features build` writes (SQLite): list features, read one as a dict.

The names here are those of the compiled module unfold._unfold.features (see help() on each)."""
from ._unfold import features as _m

globals().update({_k: getattr(_m, _k) for _k in dir(_m) if not _k.startswith("__")})
__all__ = [_k for _k in dir(_m) if not _k.startswith("_")]
del _m
