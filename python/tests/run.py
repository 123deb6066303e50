#!/usr/bin/env python3
"""Runs one pytest file of python/tests for CTest: exit 77 (CTest's skip) with the reason where the test cannot run
here (no numpy, no pytest, or the module was not built), else pytest's exit code."""
import os
import sys

def main() -> int:
    path = sys.argv[1]
    for mod in ("numpy", "pytest"):
        try:
            __import__(mod)
        except ImportError:
            print(f"skipped: {sys.executable} has no {mod} (Debian: apt-get install python3-{mod})")
            return 77
    try:
        import unfold  # noqa: F401
    except ImportError as e:
        print(f"skipped: the unfold module does not import ({e}); PYTHONPATH={os.environ.get('PYTHONPATH', '')}")
        return 77
    import pytest
    return pytest.main(["-q", "-p", "no:cacheprovider", path])

if __name__ == "__main__":
    sys.exit(main())
