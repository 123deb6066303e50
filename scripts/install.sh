#!/usr/bin/env bash
# install.sh: the first command of the README. Installs the dependencies (apt-get), builds unfold and
# runs the main job, `unfold demo`, which writes a self-contained HTML report and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
./build/unfold demo "$@"
