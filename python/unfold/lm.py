"""Transformers (GPT-2 and Llama families): load, tokenize, forward, hooks with TransformerLens names, caches, generation with SAE steering.

The names here are those of the compiled module unfold._unfold.lm (see help() on each)."""
from ._unfold import lm as _m

globals().update({_k: getattr(_m, _k) for _k in dir(_m) if not _k.startswith("__")})
__all__ = [_k for _k in dir(_m) if not _k.startswith("_")]
del _m
