"""unfold.dictionary against `unfold dict train` / `unfold dict encode` (same bits) and ground truth."""
import numpy as np
import pytest

import unfold


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(1)
    G = rng.standard_normal((32, 16)).astype(np.float32)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    C = (rng.random((3000, 32)) < 0.06) * (0.5 + rng.random((3000, 32)))
    X = (C @ G).astype(np.float32)
    path = tmp_path_factory.mktemp("dict") / "x.npy"
    np.save(path, X)
    return G, X, path


@pytest.mark.parametrize("solver", ["fista", "omp"])
def test_train_and_encode_equal_the_cli(data, cli, tmp_path, solver):
    G, X, path = data
    r = unfold.dictionary.train(X, atoms=40, batch=128, epochs=2, solver=solver, alpha=0.05, k=4, seed=3,
                                out=tmp_path / "py", threads=2)
    cli("dict", "train", path, "--atoms", 40, "--batch", 128, "--epochs", 2, "--solver", solver, "--alpha", 0.05,
        "--k", 4, "--seed", 3, "--threads", 2, "--quiet", "--out", tmp_path / "cli")
    D_cli, code = unfold.dictionary.load(str(tmp_path / "cli"))
    assert code["solver"] == solver
    assert np.array_equal(r["D"], D_cli)
    assert r["D"].shape == (40, 16)
    assert np.allclose(np.linalg.norm(r["D"], axis=1), 1.0, atol=1e-5)
    assert r["samples_seen"] == 6000
    assert r["metrics"]["fvu"] < 0.2
    cli("dict", "encode", tmp_path / "cli", path, "--rows", 500, "--quiet", "--out", tmp_path / "codes.npy")
    C = unfold.dictionary.encode(D_cli, X[:500], solver=solver, alpha=0.05, k=4)
    assert np.array_equal(C, np.load(tmp_path / "codes.npy"))
    e = unfold.dictionary.evaluate(D_cli, X[:500], C)
    assert 0 <= e["fvu"] < 0.3 and e["l0"] > 0
    if solver == "omp":
        assert ((C != 0).sum(axis=1) <= 4).all()


def test_recovers_the_planted_dictionary(data):
    G, X, _ = data
    r = unfold.dictionary.train(X, atoms=48, batch=256, epochs=4, solver="fista", alpha=0.05, seed=0)
    assert unfold.dictionary.mmcs(G, r["D"]) > 0.9
    # a random dictionary is far from it
    rnd = np.random.default_rng(9).standard_normal((48, 16)).astype(np.float32)
    assert unfold.dictionary.mmcs(G, rnd / np.linalg.norm(rnd, axis=1, keepdims=True)) < 0.8


def test_lasso_codes_against_a_direct_solution(data):
    # one sample, 3 orthonormal atoms: the lasso solution is soft-thresholding of D x
    D = np.eye(3, 5, dtype=np.float32)
    x = np.array([[1.0, -0.3, 0.05, 2.0, 0.0]], np.float32)
    C = unfold.dictionary.encode(D, x, solver="cd", alpha=0.1, tol=1e-7, max_iter=1000)
    assert np.allclose(C, [[0.9, -0.2, 0.0]], atol=1e-6)


def test_bad_arguments(data):
    G, X, _ = data
    with pytest.raises(ValueError, match=r"argument 'X': expected a 2-D array \[rows, 16\]"):
        unfold.dictionary.encode(G, X[:, :8])
    with pytest.raises(unfold.UnfoldError):
        unfold.dictionary.encode(G, X[:4], solver="lars")
    with pytest.raises(ValueError, match="alpha"):
        unfold.dictionary.encode(G, X[:4], alpha=-1)
    with pytest.raises(ValueError, match="need out"):
        unfold.dictionary.train(X, atoms=8, resume=True)
