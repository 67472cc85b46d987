#!/usr/bin/env bash
# A map no network has seen, from its images alone (issue #5): 1,650 projections of the real map
# 5j0n with CTF (defocus 1-3 um) and noise sigma^2 = 16 (the acceptance test set); pairs by
# rotational alignment (source aligned, strategy knn), then recover with init auto, which picks
# the vdm start and no distance refinement. Checks, at 2 ranks: the median E_OR is <= 0.25 rad
# (measured 0.219); the pair set is bit-identical at 1 rank and the 1-rank E_OR agrees; bad
# settings are refused naming the key (strategy with source aligned, a dataset without images,
# init = vdm on pairs without in-plane angles), and a damaged /pairs/inplane naming the array. Skips (77) without the map or numpy/h5py.
set -uo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MAP=${PAIRPOSE_SHARED_DATA:-../shared/data}/5j0n.mrc
"$PY" -c "import numpy, h5py" 2>/dev/null || { echo "skipped: no numpy/h5py"; exit 77; }
[ -f "$MAP" ] || { echo "skipped: $MAP is absent"; exit 77; }
bin="$PAIRPOSE_BIN"
mpi2=(${PAIRPOSE_MPIEXEC:-mpiexec} -n 2 --oversubscribe)
mpi1=(${PAIRPOSE_MPIEXEC:-mpiexec} -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
check() { # check NAME COMMAND... : expects success
  if ! "${@:2}" >out 2>&1; then echo "FAIL: $1"; cat out; fail=1; fi
}
check_error() { # check_error NAME PATTERN COMMAND... : expects failure whose output has PATTERN
  if "${@:3}" >out 2>&1; then echo "FAIL: $1 succeeded"; cat out; fail=1; return; fi
  if ! grep -q -- "$2" out; then echo "FAIL: $1: no '$2' in:"; cat out; fail=1; fi
}

cat >case.toml <<TOML
[simulate]
maps = ["$MAP"]
output = "test.h5"
n_particles = 1650
image_size = 116
seed = 1001
noise_sigma2 = 16.0
ctf = true
defocus_min = 10000.0
defocus_max = 30000.0

[pairs]
dataset = "test.h5"
strategy = "knn"
budget = 30
source = "aligned"

[recover]
dataset = "test.h5"
TOML

check "simulate" "${mpi2[@]}" "$bin" simulate case.toml
check "pairs, 2 ranks" "${mpi2[@]}" "$bin" pairs case.toml
check "recover, 2 ranks" "${mpi2[@]}" "$bin" recover case.toml
grep -q "vdm initialisation" out || { echo "FAIL: init auto did not pick vdm"; cat out; fail=1; }
check "copy" cp test.h5 one.h5
check "pairs, 1 rank" "${mpi1[@]}" "$bin" pairs case.toml --set pairs.dataset=one.h5
check "recover, 1 rank" "${mpi1[@]}" "$bin" recover case.toml --set recover.dataset=one.h5
check "results" "$PY" - <<'PYTHON'
import h5py, numpy as np
with h5py.File("test.h5", "r") as two, h5py.File("one.h5", "r") as one:
    for name in ("pairs/index", "pairs/distance", "pairs/inplane"):
        assert np.array_equal(two[name][:], one[name][:]), name + " differs at 1 and 2 ranks"
    g = two["recover"]
    assert g.attrs["init"] == "vdm", g.attrs["init"]
    e2, e1 = float(g.attrs["e_or_median"]), float(one["recover"].attrs["e_or_median"])
    print(f"median E_OR {e2:.4f} rad (2 ranks), {e1:.4f} rad (1 rank)")
    assert e2 <= 0.25, e2
    assert abs(e1 - e2) <= 1e-3, (e1, e2)
    assert int(g.attrs["n_iterations"]) == 0
PYTHON
cat out

check_error "aligned with random strategy" "strategy" "${mpi2[@]}" "$bin" pairs case.toml \
  --set pairs.strategy=random
check_error "aligned without images" "needs images" "${mpi2[@]}" "$bin" pairs case.toml \
  --set pairs.dataset=random.h5 --set pairs.orientations=random --set pairs.n_particles=50
check "knn pairs without angles" "${mpi2[@]}" "$bin" pairs case.toml --set pairs.dataset=one.h5 \
  --set pairs.source=exact
check_error "vdm without in-plane angles" "in-plane" "${mpi2[@]}" "$bin" recover case.toml \
  --set recover.dataset=one.h5 --set recover.init=vdm
# A damaged /pairs/inplane is refused, naming the array and the row.
check "damage the angles" "$PY" - <<'PYTHON'
import h5py, numpy as np, shutil
shutil.copy("test.h5", "nan.h5")
shutil.copy("test.h5", "short.h5")
with h5py.File("nan.h5", "r+") as f:
    f["pairs/inplane"][3, 0] = np.nan
with h5py.File("short.h5", "r+") as f:
    a = f["pairs/inplane"][:-1]
    del f["pairs/inplane"]
    f["pairs/inplane"] = a
PYTHON
check_error "NaN in-plane angle" "/pairs/inplane row 3 is not finite" "${mpi2[@]}" "$bin" recover \
  case.toml --set recover.dataset=nan.h5
check_error "short in-plane array" "/pairs/inplane has" "${mpi2[@]}" "$bin" recover case.toml \
  --set recover.dataset=short.h5
exit $fail
