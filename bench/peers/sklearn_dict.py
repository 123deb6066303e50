#!/usr/bin/env python3
"""sklearn_dict.py: unfold's scikit-learn peer for classical sparse coding (bench/dict_vs_sklearn.sh).

The two-step method (sparse codes for a fixed dictionary, then a dictionary update with unit-norm atoms)
as scikit-learn's MiniBatchDictionaryLearning runs it, LARS-lasso codes, on a planted dictionary:
G = --true-features Gaussian rows in R^d normalised to unit length; each of --samples rows switches
each true feature on with probability --p-active, magnitude U[0,1); X = C G (float32, numpy's
default_rng(--seed)).

Timed: fit for --epochs passes (batch --batch, alpha --alpha) plus encoding every sample once;
samples/s = samples * epochs / wall. Prints one JSON line with FVU, mean L0 and MMCS (mean over true
features of the max |cos| with an atom). Needs Debian's python3-sklearn (run with /usr/bin/python3)."""
import argparse
import json
import time

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning


def parse():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--atoms", type=int, default=256)
    ap.add_argument("--true-features", type=int, default=128)
    ap.add_argument("--p-active", type=float, default=0.03)
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def unit_rows(m):
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def main():
    cfg = parse()
    rng = np.random.default_rng(cfg.seed)
    truth = unit_rows(rng.standard_normal((cfg.true_features, cfg.d)).astype(np.float32))
    codes_true = rng.random((cfg.samples, cfg.true_features), dtype=np.float32)
    codes_true *= rng.random((cfg.samples, cfg.true_features)) < cfg.p_active
    X = codes_true @ truth

    learner = MiniBatchDictionaryLearning(
        n_components=cfg.atoms, alpha=cfg.alpha, batch_size=cfg.batch, max_iter=cfg.epochs,
        random_state=cfg.seed, transform_algorithm="lasso_lars", transform_alpha=cfg.alpha)
    start = time.time()
    learner.fit(X)
    codes = learner.transform(X)
    wall = time.time() - start

    atoms = learner.components_
    resid = X - codes @ atoms
    fvu = float(np.square(resid).sum() / np.square(X - X.mean(axis=0)).sum())
    mmcs = float(np.abs(truth @ unit_rows(atoms).T).max(axis=1).mean())
    print(json.dumps({
        "peer": "sklearn-MiniBatchDictionaryLearning", "d": cfg.d, "atoms": cfg.atoms,
        "samples": cfg.samples, "epochs": cfg.epochs, "wall_s": round(wall, 3),
        "samples_per_s": round(cfg.samples * cfg.epochs / wall, 1), "fvu": round(fvu, 4),
        "l0": round(float(np.count_nonzero(codes, axis=1).mean()), 2), "mmcs": round(mmcs, 4),
    }))


if __name__ == "__main__":
    main()
