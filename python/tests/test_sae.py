"""unfold.sae against the CLI (train, encode, eval: same bits), zero-copy inputs and views, every error path,
the GIL released during long calls, and the SAELens round trip (where sae-lens is installed)."""
import threading
import time

import numpy as np
import pytest

import unfold
from unfold import _unfold


@pytest.fixture(scope="module")
def acts(tmp_path_factory):
    """A planted activation set (64 directions in 24 dimensions) as an array and as a .npy file."""
    rng = np.random.default_rng(0)
    G = rng.standard_normal((64, 24)).astype(np.float32)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    codes = (rng.random((6000, 64)) < 0.05) * rng.random((6000, 64))
    X = (codes @ G).astype(np.float32) + 0.01 * rng.standard_normal((6000, 24)).astype(np.float32)
    path = tmp_path_factory.mktemp("acts") / "x.npy"
    np.save(path, X)
    return X, path


@pytest.fixture(scope="module")
def trained(acts, tmp_path_factory, cli):
    """The same SAE trained by Python (from the array) and by the CLI (from the .npy)."""
    X, path = acts
    d = tmp_path_factory.mktemp("sae")
    opts = dict(arch="topk", latents=96, k=6, steps=60, batch=512, lr=1e-3, seed=5, eval_tokens=2048, threads=2)
    r = unfold.sae.train(X, **opts, out=d / "py")
    cli("sae", "train", "--input", path, "--arch", "topk", "--latents", 96, "--k", 6, "--steps", 60, "--batch", 512,
        "--lr", 1e-3, "--seed", 5, "--eval-tokens", 2048, "--threads", 2, "--quiet", "--out", d / "cli")
    return r, d


def test_training_from_an_array_equals_the_cli_on_the_npy(trained):
    r, d = trained
    a, b = unfold.sae.load(str(d / "py")), unfold.sae.load(str(d / "cli"))
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert np.array_equal(a.params[name], b.params[name]), name
    assert np.array_equal(r.sae.W_dec, a.W_dec)
    assert r.steps_done == 60 and r.finished
    assert r.eval["fvu"] == pytest.approx(r.metrics["eval"]["fvu"])
    assert len(r.log) >= 2 and r.log[-1]["step"] == 60
    assert r.log10_density.shape == (96,)
    assert a.arch == "topk" and a.k == 6 and a.d_in == 24 and a.d_sae == 96 and a.format == "saelens"


def test_encode_equals_unfold_sae_encode(trained, acts, cli, tmp_path):
    X, path = acts
    _, d = trained
    sae = unfold.sae.load(str(d / "py"))
    cli("sae", "encode", d / "py", "--input", path, "--out", tmp_path / "codes", "--quiet")
    I, V = sae.encode(X, sparse=True).padded()
    assert np.array_equal(I, np.load(tmp_path / "codes" / "indices.npy"))
    assert np.array_equal(V, np.load(tmp_path / "codes" / "values.npy"))
    dense = sae.encode(X)
    assert dense.shape == (6000, 96) and dense.dtype == np.float32
    assert ((dense > 0).sum(axis=1) <= 6).all()
    # another block size: the encoder product may round differently (BLAS blocks rows by their count), so the
    # same latents up to near-ties and the same values to float rounding
    other = sae.encode(X, batch=777)
    same_rows = ((dense > 0) == (other > 0)).all(axis=1)
    assert same_rows.mean() > 0.995
    np.testing.assert_allclose(other[same_rows], dense[same_rows], rtol=1e-5, atol=1e-5)
    codes = sae.encode(X, sparse=True)
    assert np.array_equal(codes.to_dense(), dense)
    assert codes.offsets[-1] == codes.nnz == len(codes.indices) == len(codes.values)
    assert np.array_equal(sae.decode(codes), sae.decode(dense))
    assert np.array_equal(sae.reconstruct(X), sae.decode(codes))


def test_eval_equals_unfold_sae_eval(trained, acts, cli):
    X, path = acts
    _, d = trained
    sae = unfold.sae.load(str(d / "py"))
    want = cli("sae", "eval", d / "py", "--input", path, "--tokens", 4096, "--quiet", json_out=True)
    got = sae.evaluate(str(path), tokens=4096)
    assert "fvu" in got and "density_histogram" in got
    for key, value in got.items():  # the CLI adds the SAE's path and format
        assert want[key] == value, key
    from_array = sae.evaluate(X, tokens=4096)
    assert from_array["fvu"] == want["fvu"] and from_array["l0"] == want["l0"]


def test_inputs_are_used_in_place_and_params_are_views(trained, acts):
    X, _ = acts
    sae = unfold.sae.load(str(trained[1] / "py"))
    base = sae.encode(X[:100])
    assert not _unfold._last_input_copied()  # float32, C-contiguous: no copy
    assert np.array_equal(sae.encode(X[:100].astype(np.float64)), base)
    assert _unfold._last_input_copied()
    assert np.array_equal(sae.encode(np.asfortranarray(X[:100])), base)
    assert _unfold._last_input_copied()
    assert np.array_equal(sae.encode(X[:100].tolist()), base)
    assert np.array_equal(sae.encode(X[0]), base[:1])  # one row
    assert np.shares_memory(sae.W_dec, sae.params["W_dec"])
    W = sae.W_dec
    W[...] = 0.0  # edits the SAE itself
    assert np.array_equal(sae.decode(base), np.broadcast_to(sae.b_dec, (100, 24)))
    del sae
    assert W.shape == (96, 24) and float(np.abs(W).sum()) == 0.0  # the view keeps the SAE alive


def test_torch_tensors_go_in_without_a_copy(trained, acts):
    torch = pytest.importorskip("torch")
    X, _ = acts
    sae = unfold.sae.load(str(trained[1] / "py"))
    t = torch.from_numpy(X[:50].copy())
    codes = sae.encode(t)
    assert not _unfold._last_input_copied()
    assert np.array_equal(codes, sae.encode(X[:50]))
    assert torch.equal(torch.from_numpy(codes), torch.from_numpy(sae.encode(t.numpy())))


def test_bad_input_raises_python_errors_naming_the_argument(trained):
    sae = unfold.sae.load(str(trained[1] / "py"))
    with pytest.raises(ValueError, match=r"argument 'x': expected a 2-D array \[rows, 24\], got dtype float32 with shape \(5, 23\)"):
        sae.encode(np.zeros((5, 23), np.float32))
    with pytest.raises(TypeError, match=r"argument 'x': expected a real-valued.*complex128"):
        sae.encode(np.zeros((5, 24), complex))
    with pytest.raises(TypeError, match="argument 'x'"):
        sae.encode(np.array([["a"] * 24]))
    with pytest.raises(TypeError, match="argument 'x': expected an array, got None"):
        sae.encode(None)
    bad = np.zeros((3, 24), np.float32)
    bad[2, 5] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf .*row 2, column 5"):
        sae.encode(bad)
    with pytest.raises(ValueError, match="codes of 8 latents, the SAE has 96"):
        sae.decode(unfold.sae.init(24, 8, k=2).encode(np.ones((2, 24), np.float32), sparse=True))
    with pytest.raises(unfold.UnfoldError, match="no such file"):
        unfold.sae.load("/nonexistent/sae")
    with pytest.raises(unfold.UnfoldError):
        unfold.sae.train(np.zeros((100, 4), np.float32), latents=8, k=20, steps=1)
    with pytest.raises(ValueError, match="decoder_norm"):
        unfold.sae.train(np.zeros((100, 4), np.float32), latents=8, k=2, steps=1, decoder_norm="sphere")


def test_planted_spec_and_ground_truth():
    r = unfold.sae.train("planted:d=16,features=32,p=0.04,seed=2", latents=64, k=4, steps=300, batch=512, lr=3e-3,
                         eval_tokens=4096, seed=1)
    assert r.eval["ground_truth"]["mmcs"] > 0.8
    assert r.sae.metadata["dataset_path"].startswith("planted:")


def test_long_calls_release_the_gil(acts):
    X, _ = acts
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    t0 = time.monotonic()
    unfold.sae.train(X, latents=256, k=8, steps=150, batch=2048, eval_tokens=0, threads=1)
    elapsed = time.monotonic() - t0
    stop.set()
    t.join()
    # with the GIL held the counter would not run at all during the call
    assert len(ticks) > 0.2 * elapsed / 0.001 * 0.1, (len(ticks), elapsed)


def test_a_progress_callback_that_raises_stops_the_call(acts):
    X, _ = acts

    def bad(event):
        raise LookupError("from the callback")

    with pytest.raises(LookupError, match="from the callback"):
        unfold.sae.train(X, latents=32, k=4, steps=100000, batch=256, eval_tokens=0, progress=bad)


def test_saelens_loads_what_unfold_writes_and_encodes_the_same(trained, acts):
    sae_lens = pytest.importorskip("sae_lens", reason="sae-lens is not installed (pip install sae-lens)")
    torch = pytest.importorskip("torch")
    X, _ = acts
    d = trained[1] / "py"
    ours = unfold.sae.load(str(d))
    theirs = sae_lens.SAE.load_from_disk(str(d), device="cpu")
    with torch.no_grad():
        want = theirs.encode(torch.from_numpy(X[:512])).numpy()
    got = ours.encode(X[:512])
    assert got.shape == want.shape
    assert np.array_equal(got > 0, want > 0)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)
