#!/usr/bin/env bash
# Inputs that are valid but too large for the memory budget are refused early, by every stage
# that allocates in proportion to its input (core/memory.hpp; docs/reliability.md §5):
#  - simulate, pairs, recover and reconstruct, run with a small PAIRPOSE_MEMORY_LIMIT_GB, end with
#    a non-zero status and a message naming the stage, the size needed and the budget, and leave
#    no output (no file under the final name or as .part, no result group in the dataset);
#  - the same runs without the limit succeed (the estimates do not refuse ordinary runs);
#  - a 2-rank simulate is refused on both ranks alike (no rank left in a collective);
#  - a STAR file naming a million images in 2,000 missing stacks is refused by reconstruct before
#    any image is read, with the counts in the message.
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
"$py" -c "import h5py, mrcfile, numpy" 2>/dev/null || { echo "skipped: $py lacks h5py/mrcfile/numpy"; exit 77; }
for stage in simulate pairs recover reconstruct; do
  "$bin" "$stage" --help >/dev/null 2>&1 || { echo "skipped: no $stage stage in $bin"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0

"$py" - <<'PY'
import mrcfile, numpy as np
n = 32
z, y, x = np.mgrid[:n, :n, :n] - n / 2
m = np.exp(-(x**2 + (y - 3)**2 + (z + 2)**2) / 18.0) + 0.5 * np.exp(-((x - 6)**2 + y**2 + z**2) / 8.0)
with mrcfile.new("map.mrc", overwrite=True) as f:
    f.set_data(m.astype(np.float32))
    f.voxel_size = 2.0
PY
cat >run.toml <<'TOML'
[simulate]
maps = ["map.mrc"]
output = "sim.h5"
n_particles = 60
seed = 3

[pairs]
dataset = "sim.h5"
strategy = "random"
budget = 10
source = "exact"

[recover]
dataset = "sim.h5"
init = "random"
max_iterations = 5

[reconstruct]
input = "sim.h5"
output = "map_out.mrc"
TOML

# refused LIMIT_GB STAGE WHAT [--set ...]: the stage must fail with the budget message, naming
# WHAT (the stage and the size), within 60 s.
refused() {
  local limit=$1 stage=$2 what=$3
  shift 3
  local t0=$(date +%s%N) status
  PAIRPOSE_MEMORY_LIMIT_GB=$limit timeout 60 "$bin" "$stage" run.toml "$@" >log 2>&1
  status=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ $status -eq 0 ] || [ $status -eq 124 ]; then
    echo "FAIL: $stage under a ${limit} GiB budget: status $status"; cat log; fail=1; return
  fi
  if ! grep -q "$what.* needs .*, more than this process's memory budget of .*PAIRPOSE_MEMORY_LIMIT_GB" log; then
    echo "FAIL: $stage: the message does not name '$what', the size and the budget:"; cat log; fail=1; return
  fi
  echo "$stage refused in ${ms} ms: $(grep -o "$what.*" log | head -1)"
}

# --- simulate: refused, nothing written; then the real run (input of the next stages)
refused 0.001 simulate "simulate: the padded Fourier grid"
[ ! -e sim.h5 ] && [ ! -e sim.h5.part ] || { echo "FAIL: simulate left output"; fail=1; }
if [ -n "${PAIRPOSE_MPIEXEC:-}" ]; then
  PAIRPOSE_MEMORY_LIMIT_GB=0.001 timeout 120 "$PAIRPOSE_MPIEXEC" -n 2 -x PAIRPOSE_MEMORY_LIMIT_GB \
    "$bin" simulate run.toml >log 2>&1
  status=$?
  if [ $status -eq 0 ] || [ $status -eq 124 ] || ! grep -q "memory budget" log || [ -e sim.h5 ]; then
    echo "FAIL: 2-rank simulate under the budget: status $status"; cat log; fail=1
  else
    echo "2-rank simulate refused (status $status)"
  fi
fi
"$bin" simulate run.toml >log 2>&1 || { echo "FAIL: simulate without a limit"; cat log; exit 1; }

# --- pairs: a huge random set refused before its dataset is created; a real one refused in place
refused 1 pairs "pairs: 50 pairs a particle for 2000000 particles" --set pairs.orientations=random \
  --set pairs.dataset=big.h5 --set pairs.n_particles=2000000 --set pairs.budget=50
[ ! -e big.h5 ] && [ ! -e big.h5.part ] || { echo "FAIL: pairs created big.h5"; fail=1; }
refused 0.00001 pairs "pairs: 10 pairs a particle for 60 particles"
"$py" -c "import h5py, sys; sys.exit('pairs' in h5py.File('sim.h5', 'r'))" ||
  { echo "FAIL: a refused pairs run wrote /pairs"; fail=1; }
"$bin" pairs run.toml >log 2>&1 || { echo "FAIL: pairs without a limit"; cat log; exit 1; }

# --- recover
refused 0.00001 recover "recover: 60 particles and [0-9]* pairs"
"$py" -c "import h5py, sys; sys.exit('recover' in h5py.File('sim.h5', 'r'))" ||
  { echo "FAIL: a refused recover run wrote /recover"; fail=1; }
[ ! -e sim.h5.recover.ckpt ] || { echo "FAIL: a refused recover run left a checkpoint"; fail=1; }
"$bin" recover run.toml >log 2>&1 || { echo "FAIL: recover without a limit"; cat log; fail=1; }

# --- reconstruct
refused 0.001 reconstruct "reconstruct: the padded Fourier grids (about 64^3) for 32 px images"
ls map_out* >/dev/null 2>&1 && { echo "FAIL: a refused reconstruct wrote maps"; fail=1; }
"$bin" reconstruct run.toml >log 2>&1 || { echo "FAIL: reconstruct without a limit"; cat log; fail=1; }

# --- a STAR file naming a million images in 2,000 stacks that do not exist
"$py" - <<'PY'
with open("million.star", "w") as f:
    f.write("data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n_rlnImageSize\n"
            "_rlnImageDimensionality\n1 2.0 32 2\n\ndata_particles\nloop_\n_rlnImageName\n"
            "_rlnAngleRot\n_rlnAngleTilt\n_rlnAnglePsi\n_rlnOpticsGroup\n")
    f.writelines(f"{i % 500 + 1:06d}@Extract/mic{i // 500:04d}.mrcs 10 20 30 1\n"
                 for i in range(1000000))
PY
t0=$(date +%s%N)
timeout 120 "$bin" reconstruct run.toml --set reconstruct.input=million.star >log 2>&1
status=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $status -eq 0 ] || [ $status -eq 124 ] ||
   ! grep -q "1000000 of 1000000 particles name images that cannot be read" log; then
  echo "FAIL: the million-missing-images STAR was not refused clearly (status $status)"; cat log; fail=1
else
  echo "million missing images refused in ${ms} ms: $(grep -o '1000000 of 1000000.*' log | head -c 200)"
fi
ls map_out.mrc.part >/dev/null 2>&1 && { echo "FAIL: partial map left"; fail=1; }

[ $fail -eq 0 ] && echo "memory_limits: all checks passed"
exit $fail
