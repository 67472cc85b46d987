#!/usr/bin/env bash
# `pairpose recover` killed (SIGKILL) half-way through its iterations, then resumed from its
# checkpoint (--set recover.resume=true):
#  - while the killed run iterates, a poller copies the checkpoint whenever it changes; every copy
#    must be a whole checkpoint (a resume from it is accepted), i.e. the checkpoint is never seen
#    half-written under its final name;
#  - after the kill the dataset still opens, its /pairs are intact and no complete /recover group
#    is present;
#  - the resumed run's /recover/quaternions and loss_history are bit-identical to an
#    uninterrupted run's, and a kill before the first checkpoint followed by resume=true starts
#    afresh to the same result.
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
"$py" -c "import h5py, numpy" 2>/dev/null || { echo "skipped: $py lacks h5py/numpy"; exit 77; }
"$bin" recover --help >/dev/null 2>&1 || { echo "skipped: no recover stage in $bin"; exit 77; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail=0

cat >run.toml <<'TOML'
[pairs]
dataset = "ref.h5"
orientations = "random"
n_particles = 30000  # ~25 ms an iteration: the kill lands mid-run (checkpoints every ~0.1 s)
strategy = "random"
budget = 15
source = "exact+noise"
noise_sigma = 0.1
seed = 11

[recover]
dataset = "ref.h5"
init = "random"
max_iterations = 400
checkpoint_every = 5
log_every = 0
TOML
"$bin" pairs run.toml >log 2>&1 || { cat log; exit 1; }
cp ref.h5 run.h5
cp ref.h5 early.h5
t0=$(date +%s%N)
"$bin" recover run.toml >log 2>&1 || { cat log; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
iters=$("$py" -c "import h5py; print(h5py.File('ref.h5','r')['recover'].attrs['n_iterations'])")
echo "uninterrupted recover: $iters iterations in ${ms} ms"

# kill_during DATASET DELAY_MS N_CHECKPOINTS: runs recover on DATASET and SIGKILLs it after
# DELAY_MS and once N_CHECKPOINTS distinct checkpoints were seen, copying every new checkpoint.
kill_during() {
  local ds=$1 delay=$2 need=$3 ckpt="$1.recover.ckpt" n_copies=0 last="" t0 now
  "$bin" recover run.toml --set recover.dataset="$ds" >killed.log 2>&1 &
  local victim=$!
  pids+=($victim)
  t0=$(date +%s%N)
  while kill -0 $victim 2>/dev/null; do
    if [ -e "$ckpt" ]; then
      now=$(stat -c %i "$ckpt" 2>/dev/null) # a new inode per rename
      if [ "$now" != "$last" ] && cp "$ckpt" "copy$n_copies.ckpt" 2>/dev/null; then
        last=$now
        n_copies=$((n_copies + 1))
      fi
    fi
    if [ $(( ($(date +%s%N) - t0) / 1000000 )) -ge "$delay" ] && [ $n_copies -ge "$need" ]; then
      kill -9 $victim
      break
    fi
    sleep 0.02
  done
  wait $victim 2>/dev/null
  local status=$?
  echo "$ds: killed with status $status after $(( ($(date +%s%N) - t0) / 1000000 )) ms," \
       "$n_copies checkpoint copies"
  [ $status -eq 137 ] || { echo "FAIL: $ds: the run ended by itself (status $status)";
                           cat killed.log; fail=1; }
  N_COPIES=$n_copies
}

# Half-way, after at least 3 checkpoints (one every 5 iterations).
kill_during run.h5 $((ms / 2)) 3
"$py" - <<'PY' || { echo "FAIL: run.h5 damaged by the kill"; fail=1; }
import h5py, numpy as np
with h5py.File("run.h5", "r") as f, h5py.File("ref.h5", "r") as r:
    assert np.array_equal(f["pairs/index"][:], r["pairs/index"][:])
    assert np.array_equal(f["pairs/distance"][:], r["pairs/distance"][:])
    assert f["pairs"].attrs["complete"] == 1
    # The kill may land after the run committed /recover but before the process exited: a
    # complete group is then allowed, but it must be the uninterrupted run's result.
    if "recover" in f and f["recover"].attrs.get("complete", 0) == 1:
        assert np.array_equal(f["recover/quaternions"][:], r["recover/quaternions"][:])
PY
# Every checkpoint copied during the run is whole: a resume from it is accepted (run briefly).
for ((i = 0; i < N_COPIES; i++)); do
  cp run.h5 probe.h5
  "$bin" recover run.toml --set recover.dataset=probe.h5 --set recover.checkpoint="copy$i.ckpt" \
    --set recover.resume=true --set recover.stop_after=1 >log 2>&1 ||
    { echo "FAIL: checkpoint copy $i (taken during the run) is not whole"; cat log; fail=1; }
done
"$bin" recover run.toml --set recover.dataset=run.h5 --set recover.resume=true >log 2>&1 ||
  { echo "FAIL: resume"; cat log; fail=1; }

# Killed before any checkpoint: resume=true starts afresh.
kill_during early.h5 $((ms / 20)) 0
"$bin" recover run.toml --set recover.dataset=early.h5 --set recover.resume=true >log 2>&1 ||
  { echo "FAIL: rerun after an early kill"; cat log; fail=1; }

"$py" - <<'PY' || fail=1
import h5py, numpy as np
with h5py.File("ref.h5", "r") as r:
    q, h = r["recover/quaternions"][:], r["recover/loss_history"][:]
for name in ("run.h5", "early.h5"):
    with h5py.File(name, "r") as f:
        g = f["recover"]
        assert g.attrs["complete"] == 1, name
        assert np.array_equal(g["quaternions"][:], q), name + ": quaternions differ"
        assert np.array_equal(g["loss_history"][:], h), name + ": loss history differs"
print("resumed and rerun results are bit-identical to the uninterrupted run")
PY
[ ! -e run.h5.recover.ckpt ] || { echo "FAIL: checkpoint left after the resumed run"; fail=1; }
[ $fail -eq 0 ] && echo "killed_recover: all checks passed"
exit $fail
