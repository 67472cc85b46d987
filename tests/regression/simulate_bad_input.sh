#!/usr/bin/env bash
# pairpose simulate refuses bad input with a clear message and leaves no output behind (issue
# "simulate"): a map of zeros, a map holding a NaN, an image larger than the padded map, a
# negative SNR, an empty defocus range; at 1 and 2 ranks. Needs python (numpy, mrcfile) to make
# the maps, else skips (77).
set -uo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
"$PY" -c "import numpy, mrcfile" 2>/dev/null || { echo "skipped: no numpy/mrcfile"; exit 77; }

work=$(pwd)/simulate_bad_input_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$PY" - <<'PYTHON'
import numpy as np, mrcfile
n = 24
z, y, x = np.mgrid[0:n, 0:n, 0:n] - n / 2
good = np.exp(-(x**2 + y**2 + z**2) / 8).astype(np.float32)
with mrcfile.new("good.mrc", overwrite=True) as f:
    f.set_data(good); f.voxel_size = 2.0
with mrcfile.new("zeros.mrc", overwrite=True) as f:
    f.set_data(np.zeros_like(good)); f.voxel_size = 2.0
# mrcfile refuses to write NaN through set_data's statistics; write the bytes directly.
nan = good.copy(); nan[3, 4, 5] = np.nan
with mrcfile.new("nan.mrc", overwrite=True) as f:
    f.set_data(good); f.voxel_size = 2.0
with open("nan.mrc", "r+b") as f:
    f.seek(1024); f.write(nan.tobytes())
PYTHON

fail=0
# expect_error NAME MESSAGE_REGEX ARGS...: the run must fail, print MESSAGE_REGEX, leave nothing.
expect_error() {
  local name=$1 pattern=$2; shift 2
  for np in 1 2; do
    rm -rf out && mkdir out
    local cmd=("$PAIRPOSE_BIN")
    [ "$np" = 2 ] && cmd=("$PAIRPOSE_MPIEXEC" -np 2 --oversubscribe "$PAIRPOSE_BIN")
    if "${cmd[@]}" simulate --set simulate.output=out/data.h5 \
        --set simulate.export_star=out/data.star --set simulate.n_particles=4 "$@" > log.txt 2>&1; then
      echo "FAIL $name (np $np): exit status 0"; fail=1; continue
    fi
    if ! grep -Eq "$pattern" log.txt; then
      echo "FAIL $name (np $np): message does not match /$pattern/:"; cat log.txt; fail=1
    fi
    if [ -n "$(ls -A out)" ]; then
      echo "FAIL $name (np $np): left behind: $(ls -A out)"; fail=1
    fi
    echo "ok   $name (np $np): $(grep -Em1 "$pattern" log.txt)"
  done
}

expect_error "map of zeros" "zeros.mrc.*zero everywhere" --set simulate.maps='["zeros.mrc"]'
expect_error "map with NaN" "nan.mrc.*(NaN|nan|not finite)" --set simulate.maps='["nan.mrc"]'
expect_error "image larger than the padded map" "larger than the padded map" \
  --set simulate.maps='["good.mrc"]' --set simulate.image_size=64
expect_error "negative SNR" "snr" --set simulate.maps='["good.mrc"]' --set simulate.snr=-1
expect_error "defocus min > max" "defocus_min.*defocus_max" --set simulate.maps='["good.mrc"]' \
  --set simulate.ctf=true --set simulate.defocus_min=30000 --set simulate.defocus_max=20000

# The same set-up with valid values succeeds (so the failures above are the bad values').
rm -rf out && mkdir out
if "$PAIRPOSE_BIN" simulate --set simulate.maps='["good.mrc"]' --set simulate.output=out/data.h5 \
    --set simulate.n_particles=4 --set simulate.image_size=48 --set simulate.ctf=true \
    --set simulate.snr=1 > log.txt 2>&1 && [ -f out/data.h5 ]; then
  echo "ok   valid input writes out/data.h5"
else
  echo "FAIL valid input"; cat log.txt; fail=1
fi
exit $fail
