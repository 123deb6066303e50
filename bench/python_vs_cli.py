#!/usr/bin/env python3
"""python_vs_cli.py: what calling unfold through Python costs, next to the `unfold` command doing the same work in
the same run, on the same machine and threads.

  1. encode: an SAE (TopK, d_in 256, d_sae 2048, k 16) on ROWS x 256 float32 rows (default 1M): the CLI runs
     `unfold sae encode SAE --input x.npy --out DIR` (reads the .npy, encodes in blocks of 4096, writes
     indices.npy + values.npy); Python does the same end to end: np.load(mmap) + sae.encode(x, sparse=True) +
     .padded() + np.save of both arrays. Both write the same bytes (checked).
  2. a TopK training run (d_in 256, d_sae 2048, k 16, batch 4096, STEPS steps) from the same .npy: `unfold sae
     train --input x.npy` vs unfold.sae.train("x.npy", ...), both writing their run folder (same weights, checked).
  3. per-call overhead for small inputs: sae.encode on 1 row and on 64 rows, dictionary.encode on 1 row,
     toy model loss on one batch, in microseconds per call (median of rounds).
Each timed pair alternates the sides for ROUNDS rounds and keeps each side's best.

  PYTHONPATH=build/python /usr/bin/python3 bench/python_vs_cli.py [--unfold build/unfold] [--rows 1000000]
      [--steps 200] [--rounds 2] [--threads 2] [--work DIR] [--quick]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import unfold


def cli_time(binary, args, threads):
    t0 = time.perf_counter()
    subprocess.run([binary, *map(str, args), "--quiet", "--threads", str(threads)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def best_alternating(rounds, a, b):
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(a())
        tb.append(b())
    return min(ta), min(tb)


def per_call_us(fn, calls):
    fn()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - t0) / calls * 1e6)
    return sorted(rounds)[len(rounds) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unfold", default="build/unfold")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="")
    ap.add_argument("--quick", action="store_true", help="100k rows, 20 steps, 1 round")
    o = ap.parse_args()
    if o.quick:
        o.rows, o.steps, o.rounds = 100_000, 20, 1
    unfold.set_num_threads(o.threads)
    work = o.work or tempfile.mkdtemp(prefix="unfold_pybench_")
    os.makedirs(work, exist_ok=True)
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    print(f"# cpu: {cpu}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; threads {o.threads}; "
          f"kernels {unfold.kernel_level()}; unfold {unfold.__version__}; numpy {np.__version__}")

    # setup (untimed): rows with planted structure, an SAE trained briefly on them
    rng = np.random.default_rng(0)
    G = rng.standard_normal((4096, 256)).astype(np.float32)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    x = np.empty((o.rows, 256), np.float32)
    for r0 in range(0, o.rows, 65536):
        n = min(65536, o.rows - r0)
        idx = rng.integers(0, 4096, size=(n, 8))
        val = rng.random((n, 8)).astype(np.float32)
        x[r0:r0 + n] = np.einsum("nk,nkd->nd", val, G[idx]) + 0.05 * rng.standard_normal((n, 256), np.float32)
    xpath = os.path.join(work, "x.npy")
    np.save(xpath, x)
    del x
    sae_dir = os.path.join(work, "sae")
    unfold.sae.train(xpath, latents=2048, k=16, steps=20 if o.quick else 100, batch=4096, eval_tokens=0,
                     out=sae_dir, threads=o.threads)
    sae = unfold.sae.load(sae_dir)

    # 1. encode
    def cli_encode():
        return cli_time(o.unfold, ["sae", "encode", sae_dir, "--input", xpath, "--out", os.path.join(work, "c_cli")],
                        o.threads)

    def py_encode():
        t0 = time.perf_counter()
        xs = np.load(xpath, mmap_mode="r")
        I, V = sae.encode(xs, sparse=True).padded()
        d = os.path.join(work, "c_py")
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "indices.npy"), I)
        np.save(os.path.join(d, "values.npy"), V)
        return time.perf_counter() - t0

    tc, tp = best_alternating(o.rounds, cli_encode, py_encode)
    same = all(np.array_equal(np.load(os.path.join(work, "c_cli", f)), np.load(os.path.join(work, "c_py", f)))
               for f in ("indices.npy", "values.npy"))
    print(f"encode {o.rows} x 256 (TopK 2048, k 16)   CLI {tc:7.3f} s  Python {tp:7.3f} s  "
          f"Python/CLI {tp / tc:.3f}  ({o.rows / tp:,.0f} rows/s through Python; same codes: {same})")
    # the encode alone, on an array in memory (the work a notebook does)
    xs = np.load(xpath)
    t0 = time.perf_counter()
    sae.encode(xs, sparse=True)
    te = time.perf_counter() - t0
    print(f"encode alone, array in memory       Python {te:7.3f} s  ({o.rows / te:,.0f} rows/s)")
    del xs

    # 2. training
    opts = ["--arch", "topk", "--latents", 2048, "--k", 16, "--batch", 4096, "--steps", o.steps, "--eval-tokens", 0,
            "--checkpoint-every", 0]

    def cli_train():
        shutil.rmtree(os.path.join(work, "t_cli"), ignore_errors=True)
        return cli_time(o.unfold, ["sae", "train", "--input", xpath, *opts, "--out", os.path.join(work, "t_cli")],
                        o.threads)

    def py_train(env_extra):
        # a fresh interpreter as a notebook starts one: numpy imported first (it starts OpenBLAS, the same library
        # instance unfold uses, so OpenBLAS's thread timeout is numpy's), timed inside, without the start-up
        def run():
            shutil.rmtree(os.path.join(work, "t_py"), ignore_errors=True)
            code = ("import time, numpy, unfold; t0 = time.perf_counter(); "
                    f"unfold.sae.train({xpath!r}, arch='topk', latents=2048, k=16, batch=4096, steps={o.steps}, "
                    f"eval_tokens=0, checkpoint_every=0, out={os.path.join(work, 't_py')!r}, threads={o.threads}); "
                    "print(time.perf_counter() - t0)")
            env = dict(os.environ, **env_extra)
            return float(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                                        text=True).stdout.split()[-1])
        return run

    env_default = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env_default)
    tc, tp = best_alternating(o.rounds, cli_train, py_train({}))
    os.environ.clear()
    os.environ.update(saved)
    _, tq = best_alternating(o.rounds, lambda: 0.0, py_train({"OPENBLAS_THREAD_TIMEOUT": "4"}))
    a, b = unfold.sae.load(os.path.join(work, "t_cli")), unfold.sae.load(os.path.join(work, "t_py"))
    same = np.array_equal(a.W_dec, b.W_dec) and np.array_equal(a.W_enc, b.W_enc)
    print(f"train TopK 2048 k16, {o.steps} steps x 4096  CLI {tc:7.3f} s  Python {tp:7.3f} s  "
          f"Python/CLI {tp / tc:.3f}  (numpy imported first, OpenBLAS's default thread timeout; same weights: {same})")
    print(f"  the same with OPENBLAS_THREAD_TIMEOUT=4 (what the CLI sets)  Python {tq:7.3f} s  Python/CLI {tq / tc:.3f}")

    # 3. per-call overhead
    one = np.random.default_rng(1).standard_normal((1, 256)).astype(np.float32)
    r64 = np.random.default_rng(2).standard_normal((64, 256)).astype(np.float32)
    D = np.ascontiguousarray(sae.W_dec[:256])
    toy = unfold.toy.train(n_instances=1, steps=1)
    xb = toy.batch(0, 64)
    n = 200 if o.quick else 2000
    print(f"per call: sae.encode 1 row {per_call_us(lambda: sae.encode(one), n):.1f} us, "
          f"64 rows {per_call_us(lambda: sae.encode(r64), n // 4):.1f} us, "
          f"sparse 1 row {per_call_us(lambda: sae.encode(one, sparse=True), n):.1f} us; "
          f"dictionary.encode (omp, 256 atoms) 1 row {per_call_us(lambda: unfold.dictionary.encode(D, one, solver='omp', k=8), n):.1f} us; "
          f"toy loss (64 x 5) {per_call_us(lambda: toy.loss(xb), n):.1f} us; "
          f"a no-op call (get_num_threads) {per_call_us(unfold.get_num_threads, n * 10):.2f} us")
    if not o.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
