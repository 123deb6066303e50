"""Shared fixtures of the Python tests: where the repository and the `unfold` binary are (CTest sets
UNFOLD_SOURCE_DIR and UNFOLD_BINARY; run by hand, the defaults are this checkout and build/unfold), and a helper
that runs the CLI."""
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("UNFOLD_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("UNFOLD_BINARY", ROOT / "build" / "unfold"))
STORIES = ROOT / "models" / "stories260K"
MODEL = str(STORIES / "stories260K.bin")
TOK = str(STORIES / "tok512.bin")


def run_cli(*args, json_out=False):
    """Runs `unfold ARGS...` (quiet); returns stdout, or the last JSON line of stdout when json_out."""
    cmd = [str(BINARY), *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape")
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    if json_out:  # the whole output (indented JSON), else its last one-line JSON object
        try:
            return json.loads(p.stdout)
        except json.JSONDecodeError:
            return json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
    return p.stdout


def write_stories(path, lines, seed):
    """A small deterministic story-like text of `lines` lines (stories260K tokenizes it into ~47 tokens a line)."""
    r = random.Random(seed)
    names, things = ["Lily", "Tom", "Ben", "Sue", "Max", "Mia"], ["ball", "cat", "dog", "tree", "car", "cake", "book"]
    adj, verbs = ["big", "red", "little", "happy", "sad", "shiny"], ["play", "run", "jump", "sing", "read", "swim"]
    text = []
    for _ in range(lines):
        n, t, a, v = r.choice(names), r.choice(things), r.choice(adj), r.choice(verbs)
        text.append(f'Once upon a time, there was a {a} {t}. {n} wanted to {v} with the {t}. {n} said, "I love '
                    f'my {a} {t}!"')
    path.write_text("\n".join(text) + "\n")
    return path


@pytest.fixture(scope="session")
def cli():
    if not BINARY.exists():
        pytest.skip(f"the unfold binary is not built ({BINARY})")
    return run_cli


@pytest.fixture(scope="session")
def stories():
    return STORIES
