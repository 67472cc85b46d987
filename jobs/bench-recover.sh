#!/usr/bin/env bash
# Benchmark of orientation recovery (pairs + recover); writes the section "recover" of
# docs/benchmarks.md. Cases:
#   1. exact distances, N = 1,650, all pairs, 5 seeds (median E_OR);
#   2. the paper's perturbation table: N = 1,650, all pairs, sigma = 0.1 ... 0.8;
#   3. one million particles, exact+noise sigma = 0.2, K = 50 random partners + landmark pairs,
#      2 ranks: wall time and peak memory (/usr/bin/time -v on every rank) of pairs + recover,
#      median E_OR;
#   4. kernel throughput (pair terms per second per core) on case 3, against the numpy reference
#      tests/bench/recover_numpy.py on the same dataset;
#   5. seconds per iteration at N = 10^6 on 1 rank and on 2 ranks;
#   6. the kernel alone (tests/bench/bench_recover_kernel.cpp) on one rank's share of a random
#      10^6-particle pair set (45M pairs), against numpy on random pairs, in the same run.
# Usage: jobs/bench-recover.sh [build folder] (default: build). Scratch in $BENCH_WORK
# (default /tmp/pairpose-bench-recover). BENCH_SKIP_MILLION=1 / BENCH_SKIP_SMALL=1 skip cases
# 3-5 / 1-2; results of a case are kept in the scratch folder (<case>.md) and reused by a later
# run with the case skipped, so the section can be assembled from separate runs.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
bin="$build/pairpose"
py=/usr/bin/python3
work="${BENCH_WORK:-/tmp/pairpose-bench-recover}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpi() { mpiexec -n "$1" --oversubscribe --bind-to none "${@:2}"; }
mkdir -p "$work"
cd "$work"
report="$work/recover.md"
attr() { "$py" -c "import h5py; print(h5py.File('$1','r')['recover'].attrs['$2'])"; }

cat >small.toml <<'EOF'
[pairs]
dataset = "small.h5"
orientations = "random"
n_particles = 1650
strategy = "all"
source = "exact+noise"

[recover]
dataset = "small.h5"
init = "spectral"
max_iterations = 300
loss_tol = 1e-9
checkpoint_every = 0
log_every = 0
eval_fit = 0
EOF

small() { # small SIGMA SEED -> median E_OR
  mpi 2 "$bin" pairs small.toml --set pairs.noise_sigma="$1" --set pairs.seed="$2" >small.log 2>&1
  mpi 2 "$bin" recover small.toml --set recover.seed="$2" >>small.log 2>&1
  attr small.h5 e_or_median
}

if [ "${BENCH_SKIP_SMALL:-0}" != 1 ]; then
  echo "exact distances, 5 seeds" >&2
  exact_rows=""
  for seed in 1 2 3 4 5; do
    exact_rows+="| $seed | $(small 0 "$seed") |"$'\n'
  done
  echo "perturbation table" >&2
  paper=(0.069 0.099 0.123 0.128 0.157 0.162 0.184 0.194)
  table_rows=""
  for k in 0 1 2 3 4 5 6 7; do
    sigma=$(awk "BEGIN{print 0.1*($k+1)}")
    e=$(small "$sigma" 11)
    half=$(awk "BEGIN{print ${paper[$k]}/2}")
    ok=$(awk "BEGIN{print ($e <= $half) ? \"yes\" : \"NO\"}")
    table_rows+="| $sigma | ${paper[$k]} | $half | $e | $ok |"$'\n'
  done
  cat >small.md <<EOF
### Exact distances, N = 1,650, all pairs

| seed | median E_OR (rad) |
|---|---|
$exact_rows
### Perturbation experiment (paper Table: 5j0n, N = 1,650, Gaussian noise σ on d)

| σ (rad) | paper (Adam) | half the paper | pairpose | ≤ half? |
|---|---|---|---|---|
$table_rows
EOF
fi

if [ "${BENCH_SKIP_MILLION:-0}" != 1 ]; then
  cat >million.toml <<'EOF'
[pairs]
dataset = "million.h5"
orientations = "random"
n_particles = 1000000
strategy = "random"
budget = 50
source = "exact+noise"
noise_sigma = 0.2
landmarks = 1000
landmark_partners = 40
seed = 1

[recover]
dataset = "million.h5"
init = "landmark"
method = "lbfgs"
max_iterations = 30
loss_tol = 1e-7
checkpoint_every = 100
log_every = 10
eval_fit = 20000
EOF
  timed() { # timed NAME RANKS ARGS...: wall seconds; per-rank peak RSS summed (kB) in NAME.rss
    local start end
    start=$(date +%s.%N)
    mpi "$2" bash -c '/usr/bin/time -v -o "$0.time.$OMPI_COMM_WORLD_RANK" "$@"' "$1" "${@:3}" \
      >"$1.log" 2>&1 ||
      { cat "$1.log" >&2; exit 1; }
    end=$(date +%s.%N)
    cat "$1".time.* | awk '/Maximum resident/ {s += $6} END {print s}' >"$1.rss"
    awk "BEGIN{print $end - $start}"
  }
  echo "million: pairs" >&2
  t_pairs=$(timed pairs 2 "$bin" pairs million.toml)
  echo "million: recover" >&2
  t_recover=$(timed recover 2 "$bin" recover million.toml)
  rss_pairs=$(cat pairs.rss)
  rss_recover=$(cat recover.rss)
  e_million=$(attr million.h5 e_or_median)
  iters=$(attr million.h5 n_iterations)
  kernel=$(grep -o "[0-9.e+]* pair terms/s per core" recover.log | awk '{print $1}')
  init_line=$(grep "initialisation in" recover.log | sed 's/.*recover: //')
  echo "numpy reference" >&2
  numpy=$("$py" "$src/tests/bench/recover_numpy.py" --dataset million.h5 --pairs 5000000 \
    --repeat 2 | grep -o "[0-9.e+]* pair terms/s" | awk '{print $1}')
  echo "kernel micro-benchmark" >&2
  cmake --build "$build" --target bench_recover_kernel >/dev/null
  micro=$("$build/tests/bench_recover_kernel" 1000000 500000 90 40 3 | grep -o "[0-9.e+]* pair terms/s" |
    awk '{print $1}')
  micro_uniform=$("$build/tests/bench_recover_kernel" 1000000 500000 90 0 3 |
    grep -o "[0-9.e+]* pair terms/s" | awk '{print $1}')
  numpy_random=$("$py" "$src/tests/bench/recover_numpy.py" --particles 1000000 --pairs 5000000 \
    --repeat 2 | grep -o "[0-9.e+]* pair terms/s" | awk '{print $1}')
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "1 vs 2 ranks" >&2
  per_iter() { # per_iter RANKS -> seconds per iteration of 15 iterations from random orientations
    mpi "$1" "$bin" recover million.toml --set recover.init=random --set recover.max_iterations=15 \
      --set recover.loss_tol=0 --set recover.grad_tol=0 --set recover.checkpoint_every=0 \
      --set recover.eval_fit=2000 >"iter$1.log" 2>&1
    grep -o "[0-9.]* s an iteration" "iter$1.log" | awk '{print $1}'
  }
  s1=$(per_iter 1)
  s2=$(per_iter 2)
  cat >million.md <<EOF
### One million particles (exact+noise σ = 0.2, K = 50, 2 ranks)

\`pairpose pairs million.toml\` then \`pairpose recover million.toml\`, each as
\`mpiexec -n 2 /usr/bin/time -v pairpose ...\` (parameters in jobs/bench-recover.sh: random
partners K = 50, plus 1,000 landmarks with 40 landmark pairs per particle for the landmark
initialisation; L-BFGS).

| | pairs | recover (init + refinement + output) | total | limit |
|---|---|---|---|---|
| wall time | $(printf %.0f "$t_pairs") s | $(printf %.0f "$t_recover") s | $(awk "BEGIN{printf \"%.0f\", $t_pairs + $t_recover}") s | 900 s |
| peak RSS, both ranks summed | $(awk "BEGIN{printf \"%.2f\", $rss_pairs/1048576}") GB | $(awk "BEGIN{printf \"%.2f\", $rss_recover/1048576}") GB | $(awk "BEGIN{m = $rss_pairs > $rss_recover ? $rss_pairs : $rss_recover; printf \"%.2f\", m/1048576}") GB (stages run one after the other) | 8 GB |

Median E_OR (O(4)-aligned, fitted on 20,000 particles, evaluated on all): **$e_million rad**
(limit 0.05) after $iters L-BFGS iterations. Initialisation: $init_line.

### Throughput of the pair kernel (objective + gradient)

| implementation | pair terms per CPU second (one core) |
|---|---|
| pairpose C++ kernel (rank 0 of the run above) | $kernel |
| numpy, vectorised (tests/bench/recover_numpy.py, first 5M pairs of the same dataset) | $numpy |
| ratio | $(awk "BEGIN{printf \"%.1f\", $kernel/$numpy}")× (target ≥ 20×) |

Kernel alone (\`bench_recover_kernel\`, one rank's share of 10^6 particles: 500,000 rows × 90
pairs; load average $load):

| pairs | C++ kernel | numpy (random pairs, 10^6 particles) | ratio |
|---|---|---|---|
| 40 of 90 to 1,000 landmarks (as the benchmark's pair set) | $micro | $numpy_random | $(awk "BEGIN{printf \"%.1f\", $micro/$numpy_random}")× |
| all 90 uniform random | $micro_uniform | $numpy_random | $(awk "BEGIN{printf \"%.1f\", $micro_uniform/$numpy_random}")× |

### 1 rank against 2 ranks (N = 10^6, 15 L-BFGS iterations from random orientations)

| ranks | seconds per iteration |
|---|---|
| 1 | $s1 |
| 2 | $s2 |
| speed-up | $(awk "BEGIN{printf \"%.2f\", $s1/$s2}")× (target ≥ 1.8×) |
EOF
fi

cat >"$report" <<EOF
## recover

Measured $(date -u +%Y-%m-%d) on this machine (2 cores, shared), \`jobs/bench-recover.sh\`,
git $(git -C "$src" describe --always --dirty). All runs: \`mpiexec -n 2 pairpose pairs|recover\`,
spectral initialisation + Riemannian L-BFGS, E_OR = median over particles after the best O(4)
alignment (evaluate/orientation_error.hpp).

$(cat small.md 2>/dev/null || echo "(small cases not run)")

$(cat million.md 2>/dev/null || echo "(million-particle case not run)")
EOF
"$py" - "$src/docs/benchmarks.md" "$report" <<'EOF'
import re, sys
path, part = sys.argv[1], open(sys.argv[2]).read().rstrip() + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
m = re.search(r"^## recover\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
text = text[: m.start()] + part + "\n" + text[m.end():] if m else text.rstrip() + "\n\n" + part
open(path, "w").write(text)
EOF
cat "$report"
