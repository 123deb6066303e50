"""Sparse autoencoders: load (unfold, SAELens, sparsify, Gemma Scope), encode, decode, evaluate, train.

The names here are those of the compiled module unfold._unfold.sae (see help() on each)."""
from ._unfold import sae as _m

globals().update({_k: getattr(_m, _k) for _k in dir(_m) if not _k.startswith("__")})
__all__ = [_k for _k in dir(_m) if not _k.startswith("_")]
del _m
