"""unfold.features against `unfold features show --json`: a tiny feature database (stories260K, a 128-latent SAE
trained by the CLI, 2k tokens) built once per module; list() and feature(i) equal the CLI's JSON; bad indices
and closed databases raise."""
import json

import numpy as np
import pytest

import unfold

from conftest import MODEL, TOK, run_cli as cli, write_stories

HOOK = "blocks.1.hook_resid_post"


def write_corpus(path):
    return write_stories(path, 200, seed=1)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """model + CLI-trained SAE -> `unfold features build` over 2048 tokens (about a second in all)."""
    work = tmp_path_factory.mktemp("features")
    corpus = write_corpus(work / "corpus.txt")
    cache = work / "cache"
    cli("lm", "cache", "--model", MODEL, "--tokenizer", TOK, "--hook", HOOK, "--corpus", corpus, "--tokens", 1024,
        "--context", 64, "--out", cache, "--quiet")
    sae = work / "sae"
    cli("sae", "train", "--input", cache, "--latents", 128, "--k", 8, "--steps", 100, "--batch", 256,
        "--eval-tokens", 512, "--out", sae, "--quiet")
    out = work / "f.db"
    cli("features", "build", "--model", MODEL, "--tokenizer", TOK, "--sae", sae, "--corpus", corpus, "--tokens", 2048,
        "--context", 64, "--top", 5, "--cofire-rows", 2048, "--out", out, "--quiet")
    return str(out)


@pytest.fixture(scope="module")
def db(db_path):
    with unfold.features.open(db_path) as d:
        yield d


def show_json(db_path, *args):
    return json.loads(cli("features", "show", db_path, "--json", *args))


def test_properties_and_meta(db, db_path):
    j = show_json(db_path, "--limit", 1)
    assert db.path == db_path and not db.closed
    assert db.n_features == len(db) == j["n_features"] == 128
    assert db.vocab_size == 512
    assert db.meta("hook") == j["hook"] == HOOK
    assert db.meta("tokens") == j["tokens"]
    assert json.loads(db.meta("density_histogram")) == j["density_histogram"]
    assert db.meta("no such key") == ""
    assert db.token_text(1) == "<bos>"  # how the database names BOS (the contexts' "tokens" use it too)
    assert "128 features" in repr(db)


def test_list_equals_cli(db, db_path):
    items = db.list()
    assert [f["feature"] for f in items] == list(range(128))
    assert items == show_json(db_path, "--sort", "id", "--limit", 0)["features"]
    assert sum(f["fires"] for f in items) > 0
    assert all(set(f) == {"feature", "fires", "density", "max_activation", "label"} for f in items)


def test_feature_equals_cli(db, db_path):
    items = db.list()
    alive = [f["feature"] for f in items if f["fires"] > 0]
    picks = sorted({alive[0], alive[-1], max(items, key=lambda f: f["density"])["feature"], 127})
    for i in picks:
        f = db.feature(i)
        assert f == show_json(db_path, "--feature", i), i
        assert f["feature"] == i and f["fires"] == items[i]["fires"] and f["label"] == items[i]["label"]
    # what the contexts hold is consistent with the database's vocabulary and the list
    f = db.feature(alive[0])
    assert f["top_contexts"], "an alive feature has top contexts"
    c = f["top_contexts"][0]
    assert c["tokens"] == [db.token_text(t) for t in c["ids"]]
    assert c["max"] == pytest.approx(f["max_activation"])
    assert int(np.argmax(c["activations"])) == c["max_index"]
    assert db.feature(np.int64(alive[0])) == f  # numpy integers are indices too


def test_bad_indices(db):
    for bad in (128, -1, 10**20):
        with pytest.raises(IndexError, match=r"not in \[0, 128\)"):
            db.feature(bad)
    with pytest.raises(TypeError):
        db.feature("3")
    with pytest.raises(IndexError):
        db.token_text(512)


def test_closed_database_raises(db_path):
    d = unfold.features.open(db_path)
    assert d.n_features == 128
    d.close()
    assert d.closed and "closed" in repr(d)
    for call in (lambda: d.list(), lambda: d.feature(0), lambda: d.meta("hook"), lambda: len(d),
                 lambda: d.n_features, lambda: d.token_text(0), lambda: d.__enter__()):
        with pytest.raises(ValueError, match="is closed"):
            call()
    d.close()  # again: nothing
    with unfold.features.open(db_path) as d2:
        assert len(d2.list()) == 128
    with pytest.raises(ValueError, match="is closed"):
        d2.feature(0)


def test_open_errors(tmp_path):
    with pytest.raises(unfold.UnfoldError):
        unfold.features.open(tmp_path / "missing.db")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 10)
    with pytest.raises(unfold.UnfoldError):
        unfold.features.open(bad)
    with pytest.raises(TypeError, match=r"'path'"):
        unfold.features.open(3)
