#!/usr/bin/env bash
# pairs + recover from a TOML file on 2 ranks: a synthetic dataset (random true orientations, no
# images), exact+noise pairs, spectral init + L-BFGS; the recovered orientations are close to the
# truth; an interrupted run resumed from its checkpoint gives the bit-identical result; bad inputs
# (NaN / negative / out-of-range pairs, a particle in no pair, a checkpoint of another dataset)
# fail with a clear message, and isolated particles can be skipped.
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
mpi=("$PAIRPOSE_MPIEXEC" -n 2 --oversubscribe)
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
"$py" -c "import h5py, numpy" 2>/dev/null || { echo "skipped: $py lacks h5py/numpy"; exit 77; }

cat >run.toml <<'EOF'
[pairs]
dataset = "run.h5"
orientations = "random"
n_particles = 400
strategy = "random"
budget = 40
source = "exact+noise"
noise_sigma = 0.1
seed = 4

[recover]
dataset = "run.h5"
init = "spectral"
max_iterations = 60
checkpoint_every = 5
log_every = 0
EOF

check "pairs" "${mpi[@]}" "$bin" pairs run.toml
check "recover" "${mpi[@]}" "$bin" recover run.toml
grep -q "E_OR" out || { echo "FAIL: recover did not log E_OR"; cat out; fail=1; }
check "recovered close to the truth" "$py" - <<'EOF'
import h5py, numpy as np
with h5py.File("run.h5", "r") as f:
    g = f["recover"]
    assert g.attrs["complete"] == 1
    q = g["quaternions"][:]
    assert q.shape == (400, 4) and np.all(np.isfinite(q))
    assert np.allclose(np.linalg.norm(q, axis=1), 1)
    e = float(g.attrs["e_or_median"])
    assert e < 0.05, e
    h = g["loss_history"][:]
    assert h.shape[1] == 5 and h[-1, 0] < h[0, 0]
    assert int(g.attrs["n_iterations"]) > 7, "too few iterations to test an interruption"
    np.save("whole.npy", q)
    np.save("whole_history.npy", h)
EOF

# Interrupted after 7 iterations (checkpoint written), then resumed: the same bits.
check "interrupted" "${mpi[@]}" "$bin" recover run.toml --set recover.stop_after=7
[ -f run.h5.recover.ckpt ] || { echo "FAIL: no checkpoint left by the interrupted run"; fail=1; }
check "resumed" "${mpi[@]}" "$bin" recover run.toml --set recover.resume=true
check "resume equals uninterrupted" "$py" - <<'EOF'
import h5py, numpy as np
with h5py.File("run.h5", "r") as f:
    assert np.array_equal(f["recover/quaternions"][:], np.load("whole.npy"))
    assert np.array_equal(f["recover/loss_history"][:], np.load("whole_history.npy"))
EOF
[ ! -f run.h5.recover.ckpt ] || { echo "FAIL: checkpoint not removed after success"; fail=1; }

# A checkpoint of another dataset is refused.
check "other pairs" "${mpi[@]}" "$bin" pairs run.toml --set pairs.dataset=other.h5 \
  --set pairs.seed=5
check "other interrupted" "${mpi[@]}" "$bin" recover run.toml --set recover.dataset=other.h5 \
  --set recover.stop_after=7 --set recover.checkpoint=shared.ckpt
check_error "foreign checkpoint" "another dataset" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.checkpoint=shared.ckpt --set recover.resume=true

# Bad pairs, edited into copies of the dataset.
edit() { # edit FILE PYTHON-STATEMENTS (f = the open file)
  cp run.h5 "$1"
  "$py" -c "import h5py, numpy as np
f = h5py.File('$1', 'r+')
$2
f.close()"
}
edit nan.h5 "f['pairs/distance'][3, 0] = np.nan"
check_error "NaN distance" "not finite" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.dataset=nan.h5
edit negative.h5 "f['pairs/distance'][10, 0] = -0.25"
check_error "negative distance" "outside \[0, π\]" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.dataset=negative.h5
edit range.h5 "f['pairs/index'][5, 1] = 400"
check_error "particle out of range" "outside \[0, 400)" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.dataset=range.h5
edit isolated.h5 "
index = f['pairs/index'][:]; d = f['pairs/distance'][:]
keep = (index[:, 0] != 7) & (index[:, 1] != 7)
attrs = dict(f['pairs'].attrs)
del f['pairs']
g = f.create_group('pairs')
g['index'] = index[keep]; g['distance'] = d[keep]
g['counts'] = np.bincount(index[keep, 0], minlength=400).astype(np.int64)[:, None]
for k, v in attrs.items(): g.attrs[k] = v"
check_error "isolated particle" "1 particle(s) are in no pair (first: 7)" "${mpi[@]}" "$bin" \
  recover run.toml --set recover.dataset=isolated.h5
check "isolated skipped" "${mpi[@]}" "$bin" recover run.toml --set recover.dataset=isolated.h5 \
  --set recover.isolated=skip --set recover.init=random
check "isolated marked" "$py" - <<'EOF'
import h5py, numpy as np
with h5py.File("isolated.h5", "r") as f:
    s = f["recover/solved"][:, 0]
    assert s[7] == 0 and s.sum() == 399, s
    assert np.all(np.isfinite(f["recover/quaternions"][:]))
EOF
edit nopairs.h5 "del f['pairs']"
check_error "no pair set" "run .pairpose pairs. first" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.dataset=nopairs.h5
# Nearest-neighbour pairs (strategy knn): init = "auto" picks the Laplacian start, records it,
# and the solver reaches the orientations; a bad laplacian_tau is refused, naming the key.
check "knn pairs" "${mpi[@]}" "$bin" pairs run.toml --set pairs.dataset=knn.h5 \
  --set pairs.strategy=knn --set pairs.budget=20
check "knn recover" "${mpi[@]}" "$bin" recover run.toml --set recover.dataset=knn.h5 \
  --set recover.init=auto --set recover.max_iterations=300
grep -q "laplacian initialisation" out || { echo "FAIL: auto did not pick laplacian"; cat out; fail=1; }
check "knn recovered" "$py" - <<'EOF'
import h5py
with h5py.File("knn.h5", "r") as f:
    g = f["recover"]
    assert g.attrs["init"] == "laplacian", g.attrs["init"]
    e = float(g.attrs["e_or_median"])
    assert e < 0.1, e
EOF
check_error "bad laplacian_tau" "laplacian_tau" "${mpi[@]}" "$bin" recover run.toml \
  --set recover.dataset=knn.h5 --set recover.init=laplacian --set recover.laplacian_tau=0

exit $fail
