"""unfold.toy against the CLI and the paper: same options, same bits; weights as views; polytopes; Ctrl-C."""
import threading
import _thread
import time

import numpy as np
import pytest

import unfold


def test_train_equals_the_cli_bit_for_bit(cli, tmp_path):
    args = dict(n_features=6, n_hidden=3, n_instances=4, density="1:0.05", importance=0.8, model="relu",
                steps=300, batch=256, lr=2e-3, seed=3)
    cli("toy", "train", "--features", 6, "--hidden", 3, "--instances", 4, "--density", "1:0.05", "--importance",
        0.8, "--model", "relu", "--steps", 300, "--batch", 256, "--lr", 2e-3, "--seed", 3, "--quiet",
        "--out", tmp_path / "cli")
    run = unfold.toy.train(**args, out=tmp_path / "py")
    ref = unfold.toy.load(str(tmp_path / "cli"))
    assert run.W.shape == (4, 3, 6)
    assert np.array_equal(run.W, ref.W)
    assert np.array_equal(run.b, ref.b)
    assert run.config == ref.config
    assert (tmp_path / "py" / "model.safetensors").read_bytes() == (tmp_path / "cli" / "model.safetensors").read_bytes()
    m = run.metrics()
    assert [e["loss"] for e in m["instances"]] == [e["loss"] for e in ref.metrics()["instances"]]


def test_same_seed_same_bits_other_seed_other_weights():
    a = unfold.toy.train(n_instances=2, steps=50, seed=1)
    b = unfold.toy.train(n_instances=2, steps=50, seed=1)
    c = unfold.toy.train(n_instances=2, steps=50, seed=2)
    assert np.array_equal(a.W, b.W)
    assert not np.array_equal(a.W, c.W)


def test_five_features_in_two_dimensions_form_a_pentagon():
    # Elhage et al. 2022: 5 features, 2 hidden dimensions, sparse (S = 0.95): a pentagon, D_i = 2/5 each
    run = unfold.toy.train(n_features=5, n_hidden=2, n_instances=1, density=0.05, importance=1.0, steps=4000, seed=1)
    p = run.polytopes(0)
    assert [q["name"] for q in p] == ["pentagon"], p
    assert p[0]["tight"] and p[0]["k"] == 5 and p[0]["dims"] == 2
    im = run.instance_metrics(0)
    assert np.allclose(im["dimensionality"], 0.4, atol=0.05)
    assert unfold.toy.polytopes(run.W[0]) == p


def test_dense_features_get_dedicated_dimensions():
    # dense features (S = 0): no superposition, the 2 most important features get a dimension each, the rest none
    run = unfold.toy.train(n_features=5, n_hidden=2, n_instances=1, density=1.0, importance=0.7, steps=5000, seed=0)
    names = [q["name"] for q in run.polytopes(0)]
    assert names == ["dedicated dimension", "dedicated dimension"], names
    norms = run.instance_metrics(0)["norms"]
    assert (norms[:2] > 0.95).all() and (norms[2:] < 0.05).all(), norms


def test_weights_are_views_of_the_model():
    run = unfold.toy.train(n_instances=2, steps=20, seed=0)
    assert np.shares_memory(run.W, run.params["W"])
    loss = run.eval_loss()
    run.W[...] = 0.0
    run.b[...] = 0.0
    zero = run.eval_loss()
    assert not np.array_equal(loss, zero)
    x = run.batch(step=5, size=512)
    assert x.shape == (512, 2, 5)
    assert np.array_equal(x, run.batch(step=5, size=512)) and not np.array_equal(x, run.batch(step=6, size=512))
    # all-zero weights reconstruct nothing: the loss is the importance-weighted mean square of the inputs
    imp = np.asarray(run.config["importance"], dtype=np.float64).reshape(2, 5)
    want = (imp[None] * x.astype(np.float64) ** 2).mean(axis=(0, 2))
    assert np.allclose(run.loss(x), want, rtol=1e-5)


def test_resume_continues_exactly(tmp_path):
    full = unfold.toy.train(n_instances=3, steps=200, checkpoint_every=50, seed=4, out=tmp_path / "full")
    unfold.toy.train(n_instances=3, steps=100, checkpoint_every=50, seed=4, out=tmp_path / "part")
    resumed = unfold.toy.train(n_instances=3, steps=200, checkpoint_every=50, seed=4, out=tmp_path / "part",
                               resume=True)
    assert np.array_equal(full.W, resumed.W)


def test_progress_callback_and_bad_arguments():
    events = []
    unfold.toy.train(n_instances=2, steps=30, progress=events.append)
    assert events and events[-1]["finished"] and events[-1]["done"] == 30 and events[-1]["unit"] == "step"
    with pytest.raises(unfold.UnfoldError, match="unknown"):
        unfold.toy.train(model="tanh", steps=1)
    with pytest.raises(ValueError, match="density: 2 values for 3 instances"):
        unfold.toy.train(n_instances=3, density=[0.1, 0.2], steps=1)
    with pytest.raises(TypeError, match="progress"):
        unfold.toy.train(steps=1, progress=3)
    with pytest.raises(ValueError, match="resume needs out"):
        unfold.toy.train(steps=1, resume=True)
    run = unfold.toy.train(n_instances=2, steps=1)
    with pytest.raises(IndexError):
        run.polytopes(2)
    with pytest.raises(ValueError, match="argument 'x'"):
        run.loss(np.zeros((4, 3, 5), np.float32))


def test_ctrl_c_stops_a_long_run():
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        unfold.toy.train(n_instances=50, n_features=40, n_hidden=10, steps=10_000_000)
    assert time.monotonic() - t0 < 30
