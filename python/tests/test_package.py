"""The package itself: every submodule imports on its own, its .pyi stub lists exactly what the compiled module
offers (functions, classes, their methods and properties), every public function and class has a docstring, and
the version is the CMake project's."""
import ast
import importlib
import re
from pathlib import Path

import pytest

import unfold

PKG = Path(unfold.__file__).parent
SUBMODULES = ["toy", "sae", "dictionary", "lm", "features"]
DUNDERS_IN_STUBS = {"__len__", "__enter__", "__exit__"}


def stub_names(path):
    tree = ast.parse(path.read_text())
    funcs, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            funcs.add(node.name)
        elif isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
            classes[node.name] = members
    return funcs, classes


@pytest.mark.parametrize("name", SUBMODULES)
def test_stub_lists_exactly_what_the_module_offers(name):
    mod = importlib.import_module(f"unfold.{name}")
    funcs, classes = stub_names(PKG / f"{name}.pyi")
    public = {k for k in mod.__all__}
    assert public == funcs | set(classes), f"unfold.{name}: module {sorted(public)} vs stub {sorted(funcs | set(classes))}"
    for cls, members in classes.items():
        obj = getattr(mod, cls)
        have = {k for k in dir(obj) if not k.startswith("_") or k in DUNDERS_IN_STUBS}
        want = {m for m in members if not m.startswith("_") or m in DUNDERS_IN_STUBS}
        have = {k for k in have if not k.startswith("_") or k in want}
        assert have == want, f"unfold.{name}.{cls}: module {sorted(have)} vs stub {sorted(want)}"


@pytest.mark.parametrize("name", SUBMODULES)
def test_every_public_name_is_documented(name):
    mod = importlib.import_module(f"unfold.{name}")
    assert mod.__doc__ and len(mod.__doc__) > 40
    for k in mod.__all__:
        obj = getattr(mod, k)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 10, f"unfold.{name}.{k} has no docstring"


def test_version_is_the_cmake_projects():
    cmake = (Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text()
    want = re.search(r"project\(unfold VERSION ([0-9.]+)", cmake).group(1)
    assert unfold.__version__ == want
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'version = "{want}"' in pyproject


def test_errors_and_threads():
    assert issubclass(unfold.UnfoldError, RuntimeError)
    assert unfold.kernel_level() in ("portable", "avx2", "avx512", "avx512-bf16")
    n = unfold.get_num_threads()
    unfold.set_num_threads(1)
    assert unfold.get_num_threads() == 1
    unfold.set_num_threads(n)
