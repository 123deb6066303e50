#!/usr/bin/env bash
# interop_venv.sh [DIR=.venv-interop]: a virtual environment for the Python tests that check unfold against
# SAELens (python/tests/test_sae.py::test_saelens_*; they skip where sae-lens is missing). Built on Debian's
# /usr/bin/python3 (the interpreter the module is built for) with its packages visible (numpy, pytest), plus
# sae-lens from PyPI, which needs torch >= 2.1 (Debian's python3-torch 1.13 is too old): about 2.8 GB of wheels
# (torch and its CUDA libraries; a CPU is enough). Not run by CI. Then:
#   PYTHONPATH=build/python UNFOLD_BINARY=build/unfold DIR/bin/python -m pytest python/tests/test_sae.py -k saelens
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.venv-interop}
[ -x "$DIR/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$DIR"
"$DIR/bin/pip" install -q "sae-lens>=6"
"$DIR/bin/python" -c "import sae_lens, torch; print('sae-lens', sae_lens.__version__, 'torch', torch.__version__)"
