#!/usr/bin/env bash
# Throughput of the learn stages (train, embed) at a 32 px network input, on 1 rank × 2 threads
# and 2 ranks × 1 thread; prints the lines for the section "learn" of docs/benchmarks.md.
#   1. `pairpose simulate`: N noiseless projections of 5j0n (75 px, 3.67 Å);
#   2. `pairpose train` (small preset, B = 64 images = 2,016 pairs a step, Adam, squared loss)
#      for STEPS steps; images/s = steps · B / wall time of the loop (logged at validation);
#   3. `pairpose embed` of all N particles; images/s logged by the stage (read + preprocess +
#      forward).
# Usage: jobs/bench-learn.sh [build folder] (default: build-learn). Scratch in $BENCH_WORK
# (default /tmp/pairpose-bench-learn). N and STEPS from the environment (defaults 2048, 40).
# CASES="noiseless noise ctf unseen" (default none) then runs those acceptance cases of issue #5
# with jobs/accept-learn.sh (E_OR, test-pair RMSE, wall times; minutes each).
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$src/build-learn}" && pwd)"
bin="$build/pairpose"
data="${PAIRPOSE_SHARED_DATA:-$src/../shared/data}"
work="${BENCH_WORK:-/tmp/pairpose-bench-learn}"
n="${N:-2048}"
steps="${STEPS:-40}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpi() { mpiexec -n "$1" --oversubscribe "${@:2}"; }
mkdir -p "$work"
cd "$work"

cat >bench.toml <<EOF
[simulate]
maps = ["$data/5j0n.mrc"]
output = "5j0n.h5"
n_particles = $n
seed = 1

[train]
source = "dataset"
dataset = "5j0n.h5"
preset = "small"
image_size = 32
batch_size = 64
steps = $steps
validate_every = $steps
n_validation = 64
checkpoint_every = 0
output = "bench.model"

[embed]
dataset = "5j0n.h5"
model = "bench.model"
EOF

[ -f 5j0n.h5 ] || mpi 2 "$bin" simulate bench.toml --set simulate.threads=1 2>&1 | tail -1
for layout in "1 2" "2 1"; do
  set -- $layout
  ranks=$1 threads=$2
  train_rate=$(mpi "$ranks" "$bin" train bench.toml --set train.threads="$threads" 2>&1 |
    grep -o '[0-9.]* images/s' | tail -1)
  embed_rate=$(mpi "$ranks" "$bin" embed bench.toml --set embed.threads="$threads" 2>&1 |
    grep -o '[0-9.]* images/s' | tail -1)
  echo "| $ranks × $threads | $train_rate | $embed_rate |"
done
for c in ${CASES:-}; do
  echo "## case $c"
  "$src/jobs/accept-learn.sh" "$c" "$build"
done
