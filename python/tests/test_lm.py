"""unfold.lm against the `unfold` command on the shipped stories260K model: run_with_cache rows equal `unfold lm
cache`'s shards, generate equals `unfold lm generate --ids` (greedy, and with an SAE steering), the tokenizer
equals `unfold lm tokenize`; hooks edit the forward exactly where they should; errors are the right types."""
import json
import os

import numpy as np
import pytest

import unfold

from conftest import MODEL, ROOT as SRC, TOK, run_cli as cli, write_stories

PROMPT = "Once upon a time"


def write_corpus(path):
    return write_stories(path, 300, seed=0)


def read_shards(folder):
    """(rows [n, d], {column: [n]}) of an `unfold lm cache` shard folder (index.json, shard_*.npy)."""
    idx = json.loads((folder / "index.json").read_text())
    x = np.concatenate([np.load(folder / s["file"]) for s in idx["shards"]])
    cols = {c: np.concatenate([np.load(folder / s["columns"][c]) for s in idx["shards"]]) for c in idx["columns"]}
    return x, cols


@pytest.fixture(scope="module")
def model():
    return unfold.lm.load(MODEL)


@pytest.fixture(scope="module")
def tok():
    return unfold.lm.load_tokenizer(TOK)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("lm")


@pytest.fixture(scope="module")
def corpus(work):
    return write_corpus(work / "corpus.txt")


@pytest.fixture(scope="module")
def sae_dir(work, corpus):
    """A tiny TopK SAE on blocks.1.hook_resid_post, trained by the CLI on a CLI cache (under a second)."""
    cache = work / "sae_cache"
    cli("lm", "cache", "--model", MODEL, "--tokenizer", TOK, "--hook", "blocks.1.hook_resid_post", "--corpus", corpus,
        "--tokens", 1024, "--context", 64, "--out", cache, "--quiet")
    out = work / "sae"
    cli("sae", "train", "--input", cache, "--latents", 128, "--k", 8, "--steps", 100, "--batch", 256,
        "--eval-tokens", 512, "--out", out, "--quiet")
    return out


def prompt_ids(tok, text=PROMPT):
    return np.array([tok.bos_id, *tok.encode(text)], dtype=np.int32)


def cli_generate_ids(*extra, steps=30):
    out = cli("lm", "generate", "--model", MODEL, "--tokenizer", TOK, "--prompt", PROMPT, "--steps", steps, "--ids",
              "--quiet", *extra)
    return np.array([int(x) for x in out.split()], dtype=np.int32)


# ---- the model --------------------------------------------------------------------------------------------


def test_model_properties(model):
    assert (model.n_layers, model.d_model, model.vocab_size, model.context) == (5, 64, 512, 512)
    assert model.arch == "llama" and model.n_heads == 8 and model.n_kv_heads == 4 and model.d_head == 8
    assert model.config["num_hidden_layers"] == 5 and model.config["hidden_size"] == 64
    names = model.hook_names()
    assert names[0] == "hook_embed" and names[-1] == "unembed.hook_out"
    assert "blocks.4.hook_resid_post" in names and "blocks.0.attn.hook_rot_q" in names
    p = model.params
    assert p["model.embed_tokens.weight"].shape == (512, 64)
    assert p["model.embed_tokens.weight"].dtype == np.float32
    assert p["model.embed_tokens.weight"].base is not None  # a view of the model's memory


def test_params_are_writable_views(model, tok):
    ids = prompt_ids(tok)
    before = model.forward(ids)
    w = model.params["model.layers.2.mlp.down_proj.weight"]
    saved = w.copy()
    try:
        w *= 0.0  # edits the model: later forwards see it
        assert not np.array_equal(model.forward(ids), before)
    finally:
        w[...] = saved
    assert np.array_equal(model.forward(ids), before)


def test_forward_shapes(model, tok):
    ids = prompt_ids(tok)
    logits = model.forward(ids)
    assert logits.shape == (len(ids), 512) and logits.dtype == np.float32
    batch = np.stack([ids, ids[::-1]])
    lb = model.forward(batch)
    assert lb.shape == (2, len(ids), 512)
    # each sequence of a batch equals its own forward to float32 rounding (the product kernels may sum a
    # 5-row and a 10-row forward in different orders: here they differ by ~1e-5)
    np.testing.assert_allclose(lb[0], logits, rtol=0, atol=1e-4)
    assert np.isfinite(model.loss(ids)) and model.loss(ids) > 0


def test_loss_is_the_mean_next_token_cross_entropy(model, tok):
    ids = prompt_ids(tok, "Once upon a time, there was a little girl named Lily.")
    logits = model.forward(ids).astype(np.float64)
    lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    ref = np.mean(lse[:-1] - logits[np.arange(len(ids) - 1), ids[1:]])
    assert model.loss(ids) == pytest.approx(ref, rel=1e-5)


# ---- run_with_cache against `unfold lm cache` ---------------------------------------------------------------


@pytest.mark.parametrize("hook", ["blocks.1.hook_resid_post", "blocks.0.attn.hook_z", "blocks.2.mlp.hook_post"])
def test_run_with_cache_equals_cli_cache(model, corpus, work, hook):
    out = work / ("cache_" + hook.replace(".", "_"))
    cli("lm", "cache", "--model", MODEL, "--tokenizer", TOK, "--hook", hook, "--corpus", corpus, "--tokens", 512,
        "--context", 64, "--batch", 4, "--rows-per-shard", 200, "--out", out, "--quiet")
    x, cols = read_shards(out)
    seq, pos = cols["sequence"], cols["position"]
    assert x.shape[0] == 512 and seq.max() + 1 == 8
    windows = np.zeros((seq.max() + 1, 64), np.int32)
    windows[seq, pos] = cols["token_id"]
    assert np.all(windows[:, 0] == 1)  # BOS first in every window
    # the CLI ran 2 forwards of 4 windows (--batch 4, 256 rows each): the same here, so every product has the same
    # shape and the rows the same bits on every kernel (a forward of all 8 at once may round differently: the
    # product kernels block rows by the row count, see test_forward_shapes)
    parts = [model.run_with_cache(windows[i:i + 4], names=[hook]) for i in (0, 4)]
    assert all(list(c) == [hook] for _, c in parts)
    act = np.concatenate([c[hook] for _, c in parts])
    assert act.shape[:2] == (8, 64)
    rows = act.reshape(8, 64, -1)[seq, pos]  # per-head hooks flatten to heads * size per row, as the CLI's
    assert rows.shape == x.shape
    whole = model.run_with_cache(windows, names=[hook])[1][hook].reshape(8, 64, -1)[seq, pos]
    np.testing.assert_allclose(whole, x, rtol=1e-5, atol=1e-5)
    assert np.array_equal(rows, x)


def test_run_with_cache_all_hooks(model, tok):
    ids = prompt_ids(tok)
    T = len(ids)
    logits, cache = model.run_with_cache(ids)
    # caching every hook does not change the forward: the logits are forward()'s bit for bit
    assert np.array_equal(logits, model.forward(ids))
    names = model.hook_names()
    skipped = {n for n in names if n.endswith(("hook_attn_in", "hook_q_input", "hook_k_input", "hook_v_input",
                                               "attn.hook_result"))}
    assert list(cache) == [n for n in names if n not in skipped]
    assert cache["hook_embed"].shape == (1, T, 64)
    assert cache["blocks.0.attn.hook_q"].shape == (1, T, 8, 8)
    assert cache["blocks.0.attn.hook_k"].shape == (1, T, 4, 8)
    assert cache["blocks.3.attn.hook_pattern"].shape == (1, 8, T, T)
    assert cache["blocks.3.ln2.hook_scale"].shape == (1, T, 1)
    assert cache["blocks.1.mlp.hook_post"].shape == (1, T, 172)
    assert cache["unembed.hook_out"].shape == (1, T, 512)
    assert np.array_equal(cache["unembed.hook_out"][0], logits)
    # the residual stream's bookkeeping holds exactly
    assert np.array_equal(cache["blocks.0.hook_resid_post"], cache["blocks.1.hook_resid_pre"])
    assert np.array_equal(cache["blocks.2.hook_resid_mid"],
                          cache["blocks.2.hook_resid_pre"] + cache["blocks.2.hook_attn_out"])
    pat = cache["blocks.3.attn.hook_pattern"][0]
    np.testing.assert_allclose(pat.sum(-1), 1.0, atol=1e-5)
    assert np.all(np.triu(pat, 1) == 0)  # causal
    # the per-head paths are there when named, and agree with the fused products to rounding
    _, c2 = model.run_with_cache(ids, names=["blocks.1.attn.hook_result", "blocks.1.hook_attn_out"])
    np.testing.assert_allclose(c2["blocks.1.attn.hook_result"].sum(2), c2["blocks.1.hook_attn_out"], atol=1e-5)
    # a callable filter
    _, c3 = model.run_with_cache(ids, names=lambda n: n.endswith("hook_resid_post"))
    assert list(c3) == [f"blocks.{i}.hook_resid_post" for i in range(5)]


# ---- hooks -------------------------------------------------------------------------------------------------


def test_hooks_that_change_nothing_leave_logits_bit_identical(model, tok):
    ids = prompt_ids(tok)
    clean = model.forward(ids)
    seen = {}

    def add_zero(a, name):
        seen[name] = a.shape
        a += 0.0

    hooks = {
        "hook_embed": add_zero,
        "blocks.0.hook_resid_post": lambda a, n: a + np.zeros(a.shape, np.float64),  # returned: copied in
        "blocks.1.attn.hook_q": add_zero,  # a per-head copy, written back
        "blocks.1.attn.hook_pattern": add_zero,
        "blocks.2.ln1.hook_scale": lambda a, n: a.copy(),
        "blocks.3.mlp.hook_post": add_zero,
        "unembed.hook_out": add_zero,
    }
    assert np.array_equal(model.forward(ids, hooks=hooks), clean)
    T = len(ids)
    assert seen == {"hook_embed": (1, T, 64), "blocks.1.attn.hook_q": (1, T, 8, 8),
                    "blocks.1.attn.hook_pattern": (1, 8, T, T), "blocks.3.mlp.hook_post": (1, T, 172),
                    "unembed.hook_out": (1, T, 512)}
    # a list of pairs works the same, and so does generate with such hooks
    assert np.array_equal(model.forward(ids, hooks=list(hooks.items())), clean)
    assert np.array_equal(model.generate(ids, 20, hooks={"blocks.0.hook_resid_post": add_zero}),
                          model.generate(ids, 20))


def test_editing_resid_post_changes_later_activations_only(model, tok):
    ids = prompt_ids(tok, "Once upon a time, there was a little girl")
    clean_logits, clean = model.run_with_cache(ids)
    delta = np.zeros((1, len(ids), 64), np.float32)
    delta[0, 3] = np.linspace(-2, 2, 64, dtype=np.float32)

    def edit(a, name):
        a += delta  # in place

    logits, cache = model.run_with_cache(ids, hooks={"blocks.0.hook_resid_post": edit})
    for n in ["hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_pattern", "blocks.0.hook_mlp_out"]:
        assert np.array_equal(cache[n], clean[n]), n
    # the cache holds what the rest of the forward saw: the edited stream
    assert np.array_equal(cache["blocks.0.hook_resid_post"], clean["blocks.0.hook_resid_post"] + delta)
    assert np.array_equal(cache["blocks.1.hook_resid_pre"], cache["blocks.0.hook_resid_post"])
    for n in ["blocks.1.attn.hook_z", "blocks.1.hook_resid_post", "blocks.4.hook_resid_post"]:
        assert not np.array_equal(cache[n], clean[n]), n
        # causal: positions before the edit are untouched, the edited one and later ones move
        assert np.array_equal(cache[n][0, :3], clean[n][0, :3]), n
    assert np.array_equal(logits[:3], clean_logits[:3])
    assert not np.array_equal(logits[3], clean_logits[3])
    # returning the edited array gives the same forward as editing in place
    returned = model.forward(ids, hooks={"blocks.0.hook_resid_post": lambda a, n: a.astype(np.float64) + delta})
    assert np.array_equal(returned, logits)


def test_hook_on_attention_scores_masks(model, tok):
    ids = prompt_ids(tok)

    def only_bos(a, name):  # -inf scores (allowed in returned arrays): every position attends to BOS alone
        s = np.full_like(a, -np.inf)
        s[..., 0] = 0.0
        return s

    _, cache = model.run_with_cache(ids, names=["blocks.0.attn.hook_pattern"],
                                    hooks={"blocks.0.attn.hook_attn_scores": only_bos})
    pat = cache["blocks.0.attn.hook_pattern"]
    assert np.all(pat[..., 0] == 1.0) and np.all(pat[..., 1:] == 0.0)


# ---- generation --------------------------------------------------------------------------------------------


def test_generate_greedy_equals_cli(model, tok):
    ids = model.generate(prompt_ids(tok), 30, stop_id=tok.bos_id)
    assert ids.dtype == np.int32 and len(ids) == 30
    assert np.array_equal(ids, cli_generate_ids())


def test_generate_with_sae_steering_equals_cli(model, tok, sae_dir):
    sae = unfold.sae.load(sae_dir)
    p = prompt_ids(tok)
    plain = model.generate(p, 30, stop_id=tok.bos_id)
    # the SAE alone (no edit) leaves the text exactly as it was
    assert np.array_equal(model.generate(p, 30, stop_id=tok.bos_id, sae=sae), plain)
    steered = model.generate(p, 30, stop_id=tok.bos_id, sae=sae, steer={5: 8.0, 17: -3}, scale={9: 2}, ablate=[3])
    assert not np.array_equal(steered, plain)
    assert np.array_equal(steered, cli_generate_ids("--sae", sae_dir, "--steer", "5=8,17=-3", "--scale", "9=2",
                                                    "--ablate", "3"))
    spliced = model.generate(p, 30, stop_id=tok.bos_id, sae=sae, keep_error=False)
    assert np.array_equal(spliced, cli_generate_ids("--sae", sae_dir, "--splice"))
    # hook= names the hook explicitly (the SAE's recorded one here)
    assert np.array_equal(model.generate(p, 30, stop_id=tok.bos_id, sae=sae, hook="blocks.1.hook_resid_post",
                                         steer={5: 8.0, 17: -3}, scale={9: 2}, ablate=[3]), steered)


def test_generate_sampling_is_deterministic(model, tok):
    p = prompt_ids(tok)
    a = model.generate(p, 40, temperature=1.0, top_k=20, seed=7, stop_id=tok.bos_id)
    assert np.array_equal(a, model.generate(p, 40, temperature=1.0, top_k=20, seed=7, stop_id=tok.bos_id))
    assert np.array_equal(a, cli_generate_ids("--temperature", 1.0, "--top-k", 20, "--seed", 7, steps=40))
    assert not np.array_equal(a, model.generate(p, 40, temperature=1.0, top_k=20, seed=8, stop_id=tok.bos_id))


# ---- tokenizer ---------------------------------------------------------------------------------------------


def test_tokenizer_round_trip_and_cli(tok):
    assert (tok.vocab_size, tok.bos_id, tok.eos_id) == (512, 1, 2)
    assert "tok512" in tok.name
    text = 'Once upon a time, café \u2603 said "hi"\nThe end.'
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and ids.ndim == 1
    assert tok.decode(ids) == text
    out = cli("lm", "tokenize", "--tokenizer", TOK, "--text", text)
    cli_ids = [int(line.split("\t")[0]) for line in out.splitlines() if "\t" in line]
    assert ids.tolist() == cli_ids
    # the pieces (byte tokens as surrogate escapes) concatenate to the text after BOS
    pieces = "".join(tok.decode_piece(p, i) for p, i in zip([tok.bos_id, *ids[:-1]], ids))
    assert pieces.encode("utf-8", "surrogateescape").decode("utf-8") == text
    assert tok.decode_piece(-1, ids[0]) == " Once" and tok.decode_piece(tok.bos_id, ids[0]) == "Once"
    assert tok.decode([]) == "" and len(tok.encode("")) == 0


# ---- errors ------------------------------------------------------------------------------------------------


def test_errors_tokens(model, tok):
    with pytest.raises(TypeError, match=r"'tokens'.*float64.*\(3,\)"):
        model.forward(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"'tokens'.*vocabulary"):
        model.forward(np.array([1, 600]))
    with pytest.raises(ValueError, match=r"'tokens'.*negative"):
        model.forward([1, -3])
    with pytest.raises(ValueError, match=r"'tokens'"):
        model.forward(np.zeros((1, 2, 3), np.int32))
    with pytest.raises(ValueError, match=r"'tokens'.*context"):
        model.forward(np.ones(513, np.int32))
    with pytest.raises(ValueError, match=r"'tokens'.*at least 2"):
        model.loss([1])
    with pytest.raises(TypeError, match=r"'ids'"):
        tok.decode(np.array([1.5]))
    with pytest.raises(ValueError, match=r"'ids'.*vocabulary"):
        tok.decode([1, 512])


def test_errors_hooks(model, tok):
    ids = prompt_ids(tok)
    clean = model.forward(ids)
    with pytest.raises(unfold.UnfoldError, match=r"unknown hook 'blocks\.9\.hook_resid_post'"):
        model.forward(ids, hooks={"blocks.9.hook_resid_post": lambda a, n: None})
    with pytest.raises(unfold.UnfoldError, match=r"unknown hook"):
        model.run_with_cache(ids, names=["blocks.0.hook_nope"])
    with pytest.raises(TypeError, match=r"not a callable"):
        model.forward(ids, hooks={"hook_embed": 3})
    with pytest.raises(TypeError, match=r"'hooks'"):
        model.forward(ids, hooks="hook_embed")
    with pytest.raises(ValueError, match=r"hook 'blocks\.0\.hook_resid_post'.*\(1, 5, 63\).*\(1, 5, 64\)"):
        model.forward(ids, hooks={"blocks.0.hook_resid_post": lambda a, n: np.zeros((1, len(ids), 63))})
    with pytest.raises(TypeError, match=r"hook 'hook_embed'"):
        model.forward(ids, hooks={"hook_embed": lambda a, n: "text"})

    class Boom(Exception):
        pass

    def boom(a, name):
        raise Boom(name)

    with pytest.raises(Boom, match="blocks.2.mlp.hook_post"):
        model.forward(ids, hooks={"blocks.2.mlp.hook_post": boom})
    with pytest.raises(KeyError):
        model.generate(ids, 5, hooks={"blocks.0.attn.hook_v": lambda a, n: {}["missing"]})
    kept = []
    with pytest.raises(unfold.UnfoldError, match=r"still referenced.*\.copy\(\)"):
        model.forward(ids, hooks={"blocks.0.hook_resid_post": lambda a, n: kept.append(a)})
    with pytest.raises(unfold.UnfoldError, match=r"still referenced"):
        model.forward(ids, hooks={"blocks.1.attn.hook_k": lambda a, n: kept.append(a[0, 1:])})  # a view of a copy
    # what was kept is stale but safe to read (its memory is still owned), never a dangling pointer
    assert all(np.isfinite(k).all() for k in kept)
    # after all of that the model is unchanged
    assert np.array_equal(model.forward(ids), clean)


def test_errors_generate(model, tok, sae_dir):
    p = prompt_ids(tok)
    sae = unfold.sae.load(sae_dir)
    with pytest.raises(ValueError, match=r"'steer' needs sae="):
        model.generate(p, 5, steer={1: 2.0})
    with pytest.raises(ValueError, match=r"'steer'.*feature 128 is not in \[0, 128\)"):
        model.generate(p, 5, sae=sae, steer={128: 1.0})
    with pytest.raises(ValueError, match=r"'scale'.*finite"):
        model.generate(p, 5, sae=sae, scale={3: float("nan")})
    with pytest.raises(TypeError, match=r"'ablate'"):
        model.generate(p, 5, sae=sae, ablate=["x"])
    with pytest.raises(TypeError, match=r"'sae'"):
        model.generate(p, 5, sae="not an sae")
    with pytest.raises(unfold.UnfoldError, match=r"width"):
        model.generate(p, 5, sae=sae, hook="blocks.0.mlp.hook_post")  # 172 wide, the SAE reads 64
    with pytest.raises(ValueError, match=r"'prompt'"):
        model.generate(np.array([], np.int32), 5)
    with pytest.raises(ValueError, match=r"context"):
        model.generate(p, 600)
    with pytest.raises(ValueError, match=r"'temperature'"):
        model.generate(p, 5, temperature=-1.0)
    with pytest.raises(unfold.UnfoldError):
        unfold.lm.load(os.path.join(SRC, "models", "stories260K", "missing.bin"))
    with pytest.raises(ValueError, match=r"'dtype'"):
        unfold.lm.load(MODEL, dtype="fp8")


# ---- a GPT-2 Hugging Face folder -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt2_dir(work, corpus):
    """A tiny GPT-2 (2 layers, d_model 32, the GPT-2 tokenizer) written by `unfold lm train` (3 steps, < 1 s)."""
    out = work / "gpt2"
    cli("lm", "train", "--corpus", corpus, "--out", out, "--tokenizer", os.path.join(SRC, "models", "gpt2-tokenizer"),
        "--d-model", 32, "--layers", 2, "--heads", 4, "--d-mlp", 64, "--context", 32, "--steps", 3, "--batch", 2,
        "--warmup", 1, "--eval-every", 0, "--samples", 0, "--quiet")
    return out


def test_gpt2_folder(gpt2_dir, work):
    g = unfold.lm.load(gpt2_dir)
    t = unfold.lm.load_tokenizer(gpt2_dir / "tokenizer")
    assert g.arch == "gpt2" and g.n_layers == 2 and g.d_model == 32 and g.context == 32
    assert g.config["model_type"] == "gpt2" and t.vocab_size == g.vocab_size == 50257
    assert "hook_pos_embed" in g.hook_names() and g.params["wpe.weight"].shape == (32, 32)
    text = "Once upon a time, there was a big red ball."
    ids = t.encode(text)
    assert t.decode(ids) == text
    out = cli("lm", "tokenize", "--tokenizer", gpt2_dir / "tokenizer", "--text", text)
    assert ids.tolist() == [int(line.split("\t")[0]) for line in out.splitlines() if "\t" in line]
    logits, cache = g.run_with_cache(ids)
    T = len(ids)
    assert cache["hook_pos_embed"].shape == (1, T, 32) and cache["blocks.1.ln2.hook_scale"].shape == (1, T, 1)
    assert np.array_equal(cache["blocks.0.hook_resid_pre"], cache["hook_embed"] + cache["hook_pos_embed"])
    assert np.array_equal(g.forward(ids, hooks={"hook_pos_embed": lambda a, n: a * 1.0}), logits)
    # LayerNorm: normalized rows have mean 0 and variance 1 (to eps)
    z = cache["blocks.0.ln1.hook_normalized"].astype(np.float64)
    np.testing.assert_allclose(z.mean(-1), 0, atol=1e-5)
    # greedy generation equals the CLI's (which stops at <|endoftext|>, GPT-2's BOS and EOS)
    cli_ids = cli("lm", "generate", "--model", gpt2_dir, "--prompt", "Once upon", "--steps", 10, "--ids", "--quiet")
    prompt = np.array([t.bos_id, *t.encode("Once upon")], np.int32)
    assert np.array_equal(g.generate(prompt, 10, stop_id=t.eos_id), [int(x) for x in cli_ids.split()])
