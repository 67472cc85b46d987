#!/usr/bin/env bash
# A 2-rank job in which one rank fails: the job must end promptly with that rank's message and a
# non-zero status, no rank left waiting in a collective, and no output under its final name.
#  1. an injected fault (PAIRPOSE_INJECT_FAULT=1) as the stage starts, while rank 0 goes on
#     into the stage's collectives;
#  2. bad input that is only found in the middle of a stage (a map full of NaNs).
set -uo pipefail
[ -n "${PAIRPOSE_MPIEXEC:-}" ] || { echo "skipped: no mpiexec"; exit 77; }
bin="$PAIRPOSE_BIN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0

"$bin" phantom --set phantom.box=32 --set phantom.output=map.mrc --quiet || exit 1

start=$(date +%s)
PAIRPOSE_INJECT_FAULT=1 timeout 120 "$PAIRPOSE_MPIEXEC" -n 2 -x PAIRPOSE_INJECT_FAULT "$bin" simulate \
  --set simulate.maps=map.mrc --set simulate.n_particles=200 --set simulate.output=out.h5 \
  >log 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
cat log
[ $status -ne 0 ] || { echo "FAIL: the job succeeded"; fail=1; }
[ $status -ne 124 ] || { echo "FAIL: the job hung (timeout)"; fail=1; }
[ $elapsed -le 60 ] || { echo "FAIL: the job took ${elapsed}s to end"; fail=1; }
grep -q "error on rank 1: injected fault" log || { echo "FAIL: rank 1's message missing"; fail=1; }
[ ! -e out.h5 ] || { echo "FAIL: out.h5 left behind"; fail=1; }

# A map of NaNs: every rank reads it, so all fail alike; still one clear message, no output.
/usr/bin/python3 - <<'PY' 2>/dev/null || { echo "skipped part 2: no python3-mrcfile"; exit $fail; }
import mrcfile, numpy as np
with mrcfile.new("nan.mrc", overwrite=True) as m:
    m.set_data(np.full((16, 16, 16), np.nan, dtype=np.float32))
PY
timeout 120 "$PAIRPOSE_MPIEXEC" -n 2 "$bin" simulate --set simulate.maps=nan.mrc \
  --set simulate.n_particles=10 --set simulate.output=nan.h5 >log 2>&1
status=$?
cat log
[ $status -ne 0 ] && [ $status -ne 124 ] || { echo "FAIL: NaN map: status $status"; fail=1; }
grep -qi "nan.mrc" log || { echo "FAIL: NaN map: the message does not name the file"; fail=1; }
[ ! -e nan.h5 ] || { echo "FAIL: nan.h5 left behind"; fail=1; }
[ $fail -eq 0 ] && echo "failing_rank: all checks passed"
exit $fail
