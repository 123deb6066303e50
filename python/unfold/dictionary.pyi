from os import PathLike
from typing import Any, Callable, Dict, Tuple, Union

import numpy as np
import numpy.typing as npt

Progress = Union[None, bool, Callable[[Dict[str, Any]], None]]

def encode(D: npt.ArrayLike, X: npt.ArrayLike, *, solver: str = "fista", alpha: float = 0.1, positive: bool = False,
           max_iter: int = 300, tol: float = 1e-4, k: int = 6, omp_tol: float = 0.02,
           batch: int = 4096) -> npt.NDArray[np.float32]: ...
def train(source: Union[npt.ArrayLike, str, PathLike], *, atoms: int = 256, batch: int = 256, epochs: float = 1.0,
          samples: int = 0, bcd_sweeps: int = 1, solver: str = "fista", alpha: float = 0.1, positive: bool = False,
          max_iter: int = 300, tol: float = 1e-4, k: int = 6, omp_tol: float = 0.02, seed: int = 0,
          out: Union[None, str, PathLike] = None, checkpoint_every: int = 0, resume: bool = False,
          eval_rows: int = 8192, shuffle_buffer: int = 0, tensor: str = "", threads: int = 0,
          progress: Progress = None) -> Dict[str, Any]: ...
def load(dir: str) -> Tuple[npt.NDArray[np.float32], Dict[str, Any]]: ...
def evaluate(D: npt.ArrayLike, X: npt.ArrayLike, C: npt.ArrayLike) -> Dict[str, float]: ...
def mmcs(G: npt.ArrayLike, D: npt.ArrayLike) -> float: ...
