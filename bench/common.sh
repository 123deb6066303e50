# common.sh: sourced (never run) by the bench/*_vs_*.sh scripts, so every comparison runs its two sides
# under the same settings, set in one place:
#   - `--quick` (anywhere among the arguments, or QUICK=1) is taken out of the arguments and sets QUICK=1:
#     the script then runs a short configuration that only checks that both sides work end to end;
#     without it the script runs the configuration the README's Speed table reports.
#   - OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4 for both sides (a value already in the
#     environment wins): idle OpenMP threads sleep instead of spinning, and OpenBLAS workers sleep soon
#     after a product instead of polling for ~0.1 s and taking the cores from the OpenMP loops between
#     products. unfold's binary sets the same by default; PyTorch (libgomp + OpenBLAS) and numpy
#     (OpenBLAS) get them from here.
#   - PYTHON: the interpreter of the peers (Debian's, which has python3-torch / python3-sklearn).
#   - bench_peer ARGS...: runs the peer under PYTHON with OMP/OpenBLAS/MKL thread counts set to THREADS
#     (the peers also take --threads; numpy's BLAS only listens to the environment).
#   - bench_machine: one line naming the CPU (model name from /proc/cpuinfo), cores, load and settings.
# bash only; the caller sets BENCH_ROOT (the repository root) before sourcing and THREADS before bench_peer.
QUICK="${QUICK:-0}"
_bench_args=()
for _a in "$@"; do
  if [ "$_a" = --quick ]; then QUICK=1; else _bench_args+=("$_a"); fi
done
set -- ${_bench_args[@]+"${_bench_args[@]}"}
unset _a _bench_args

export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
PYTHON="${PYTHON:-/usr/bin/python3}"

bench_cpu() {  # the CPU's model name as /proc/cpuinfo gives it, plus family/model and the widest vector ISA
  # (virtual machines often report only "AMD EPYC"; family 23 is Zen 1/2, 25 Zen 3/4)
  local m fam mod flags isa=baseline
  m=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^[[:space:]]*//') || true
  fam=$(grep -m1 '^cpu family' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | tr -d ' ') || true
  mod=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | tr -d ' ') || true
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) "
  case "$flags" in
    *" avx512_bf16 "*) isa=avx512-bf16 ;;
    *" avx512f "*) isa=avx512 ;;
    *" avx2 "*) isa=avx2 ;;
  esac
  printf '%s (family %s model %s, %s)' "${m:-unknown CPU}" "${fam:-?}" "${mod:-?}" "$isa"
}

bench_machine() {  # bench_machine THREADS: the machine line every comparison prints first
  local quick=""
  [ "$QUICK" = 1 ] && quick="; QUICK configuration (a check, not a measurement)"
  echo "# cpu: $(bench_cpu); $(nproc) cores available, load $(cut -d' ' -f1-3 /proc/loadavg);" \
       "threads $1 each side; OMP_WAIT_POLICY=$OMP_WAIT_POLICY OPENBLAS_THREAD_TIMEOUT=$OPENBLAS_THREAD_TIMEOUT$quick"
}

bench_peer() {  # bench_peer SCRIPT ARGS...: the peer, with THREADS threads in every pool it may use
  OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" "$PYTHON" "$@"
}

bench_need() {  # bench_need NAME BENCH_BINARY PEER_SCRIPT PYTHON_MODULE
  [ -x "$2" ] || { echo "$1: $2 not built (cmake --build <build> --target $(basename "$2"))" >&2; exit 1; }
  [ -f "$3" ] || { echo "$1: peer script $3 not found (set PEER=...)" >&2; exit 1; }
  "$PYTHON" -c "import $4" 2>/dev/null ||
    { echo "$1: $PYTHON cannot import $4 (apt-get install -y python3-torch python3-sklearn)" >&2; exit 1; }
}
