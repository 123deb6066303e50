#!/usr/bin/env bash
# mpi_sae.sh: data-parallel SAE training on one machine: `mpirun -np R unfold sae train` with 1 thread per rank
# against one process with R threads, the same TopK SAE (d 256, F 2048, k 16), the same global batch (4096) and
# data (a planted shard folder, untimed setup), in one run; rounds alternate the sides and each side's best counts.
# Prints both tokens/s (sae_train's own rate: steps x batch / training seconds) and the ratio (goal: >= 0.9).
#
#   bench/mpi_sae.sh [BUILD_DIR=build] [RANKS=2] [STEPS=200] [ROUNDS=2]      (--quick: 20 steps, 1 round)
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$BENCH_ROOT/bench/common.sh"
BUILD=${1:-build}
RANKS=${2:-2}
STEPS=${3:-200}
ROUNDS=${4:-2}
if [ "$QUICK" = 1 ]; then STEPS=20; ROUNDS=1; fi
U="$BENCH_ROOT/$BUILD/unfold"
[ -x "$U" ] || { echo "mpi_sae: $U not found (build first)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi_sae: no mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
WORK=${WORK:-$BENCH_ROOT/$BUILD/bench_mpi}
mkdir -p "$WORK"
echo "# cpu: $(bench_cpu); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $RANKS ranks x 1 thread vs 1 process x $RANKS threads; $(mpirun --version | head -1)"
if [ ! -f "$WORK/data/index.json" ]; then
  "$U" data synth --d 256 --true-features 4096 --p-active 0.004 --tokens 409600 --rows-per-shard 40960 --seed 1 \
    --quiet --out "$WORK/data" >/dev/null
fi
ARGS=(sae train --input "$WORK/data" --arch topk --latents 2048 --k 16 --batch 4096 --steps "$STEPS" --lr 4e-4
      --eval-tokens 0 --checkpoint-every 0 --quiet)
rate() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['train']['tokens_per_s'])" "$1/metrics.json"; }
best_one=0 best_mpi=0
for r in $(seq "$ROUNDS"); do
  rm -rf "$WORK/one" "$WORK/mpi"
  "$U" "${ARGS[@]}" --threads "$RANKS" --out "$WORK/one" >/dev/null
  mpirun --bind-to none -np "$RANKS" "$U" "${ARGS[@]}" --threads 1 --out "$WORK/mpi" >/dev/null
  one=$(rate "$WORK/one"); mpi=$(rate "$WORK/mpi")
  echo "round $r: one process $one tokens/s, $RANKS ranks $mpi tokens/s"
  best_one=$(python3 -c "print(max($best_one, $one))"); best_mpi=$(python3 -c "print(max($best_mpi, $mpi))")
done
python3 - "$best_one" "$best_mpi" "$RANKS" <<'PY'
import sys
one, mpi, R = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
d, F = 256, 2048
params = 2 * d * F + F + d
print(f"TopK SAE d {d} F {F} k 16, global batch 4096: 1 process x {R} threads {one:,.0f} tokens/s, "
      f"{R} ranks x 1 thread {mpi:,.0f} tokens/s, ratio {mpi / one:.3f} (best of each); all-reduced per step: "
      f"{params * 4 / 1e6:.2f} MB of gradients")
PY
