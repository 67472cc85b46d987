#!/usr/bin/env bash
# pairpose gauge on projections of the real map 5j0n (issue #6, gauge acceptance, small): the true
# orientations scrambled by an element of O(4) (left factor, right factor and transpose, drawn by
# numpy) come back from the images alone with a physical median error ≤ 1° (noiseless), at 2
# ranks; the corrected array then feeds `pairpose evaluate` (orientations = gauge/quaternions,
# physical error checked independently of the stage's own attribute) and `pairpose reconstruct`
# (recovered_array = gauge/quaternions). A bad orientations array is refused with its name.
# Skips (77) without the map or numpy/h5py.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MAP=${PAIRPOSE_SHARED_DATA:-../shared/data}/5j0n.mrc
"$PY" -c "import numpy, h5py" 2>/dev/null || { echo "skipped: no numpy/h5py"; exit 77; }
[ -f "$MAP" ] || { echo "skipped: $MAP is absent"; exit 77; }
MPI=(${PAIRPOSE_MPIEXEC:-mpiexec} -n 2 --oversubscribe)

work=$(pwd)/gauge_scrambled_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$PAIRPOSE_BIN" simulate --set simulate.maps="[\"$MAP\"]" --set simulate.n_particles=300 \
  --set simulate.image_size=76 --set simulate.seed=31 --set simulate.output=sim.h5 2>sim.log

# /scramble/quaternions = a·conj(q)·b, a complete result group.
"$PY" - <<'PYTHON'
import h5py, numpy as np
def mul(p, q):
    w1, x1, y1, z1 = np.moveaxis(p, -1, 0); w2, x2, y2, z2 = np.moveaxis(q, -1, 0)
    return np.stack([w1*w2 - x1*x2 - y1*y2 - z1*z2, w1*x2 + x1*w2 + y1*z2 - z1*y2,
                     w1*y2 - x1*z2 + y1*w2 + z1*x2, w1*z2 + x1*y2 - y1*x2 + z1*w2], -1)
rng = np.random.default_rng(7)
a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 4)))
with h5py.File("sim.h5", "r+") as f:
    q = f["particles/orientation"][:] * np.array([1, -1, -1, -1])
    s = mul(mul(np.broadcast_to(a, q.shape), q), np.broadcast_to(b, q.shape))
    g = f.create_group("scramble")
    g.create_dataset("quaternions", data=s)
    g.attrs["complete"] = np.int64(1)
    g = f.create_group("short")
    g.create_dataset("quaternions", data=s[:-1])
    g.attrs["complete"] = np.int64(1)
PYTHON

gauge() {
  "${MPI[@]}" "$PAIRPOSE_BIN" gauge --set gauge.dataset=sim.h5 --set gauge.n_pairs=2000 \
    --set gauge.coarse_pairs=500 --set gauge.grid_spacing=20 --set gauge.n_refine=3 "$@"
}
gauge --set gauge.orientations=scramble/quaternions 2>gauge.log

# Refused: an array of N - 1 rows, named in the message; /gauge stays as it was.
if gauge --set gauge.orientations=short/quaternions 2>bad.log; then
  echo "FAIL: a 299-row orientation array was accepted"; exit 1
fi
grep -q "/short/quaternions is 299 x 4, expected 300 x 4" bad.log ||
  { echo "FAIL: unclear message:"; cat bad.log; exit 1; }

"$PAIRPOSE_BIN" evaluate --set evaluate.dataset=sim.h5 --set evaluate.summary=eval.json \
  --set evaluate.orientations=gauge/quaternions 2>eval.log
"$PAIRPOSE_BIN" reconstruct --set reconstruct.input=sim.h5 --set reconstruct.orientations=recovered \
  --set reconstruct.recovered_array=gauge/quaternions --set reconstruct.output=map.mrc 2>rec.log
[ -f map.mrc ] || { echo "FAIL: no map from gauge/quaternions"; exit 1; }

"$PY" - <<'PYTHON'
import json, h5py
with h5py.File("sim.h5", "r") as f:
    g = f["gauge"]
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
    assert attrs["complete"] == 1, attrs
    assert g["quaternions"].shape == (300, 4)
    stage_median = float(attrs["physical_error_median_deg"])
    transposed = attrs["transposed"]
summary = json.load(open("eval.json"))
def find(d, key):
    if isinstance(d, dict):
        for k, v in d.items():
            if k == key: return v
            r = find(v, key)
            if r is not None: return r
found = find(summary, "physical")
print("stage: median %.3f deg, transposed %s; evaluate: %s" % (stage_median, transposed, found))
assert transposed == "1", "the scramble was transposed"
assert stage_median <= 1.0, stage_median
assert found is not None and found["median_deg"] <= 1.0, found
PYTHON
echo "gauge_scrambled: ok"
