#!/usr/bin/env bash
# pairpose evaluate, maps part, end to end on a small case: a phantom (40³), 1,500 noiseless
# projections, and the orientations a gauge-fixed recovery could return: the true ones moved by a
# right factor B and mirrored (Â = J·A·Bᵀ·J). The map reconstructed from them is the true map
# rotated and mirrored. Checks:
#  - the alignment search (2 ranks, maps only) finds the hand and agrees with the alignment the
#    orientations imply (physical-error fit) to < 1°, and 1 rank gives the same rotation;
#  - after alignment the FSC against the phantom stays within 0.02 of that of the map
#    reconstructed from the true orientations (alignment = none), shell by shell;
#  - alignment = orientations gives the same resolution; half-map FSC reported; plots drawn;
#  - bad input (reference of another voxel size, another box with reference_box = exact,
#    half-maps of another size, nothing to evaluate) is an error naming the file, and no summary.
# Skips (77) without Debian's python3 with numpy and h5py.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
"$PY" -c "import numpy, h5py" 2>/dev/null || { echo "skipped: no numpy/h5py"; exit 77; }
bin="$PAIRPOSE_BIN"
mpi=()
[ -n "${PAIRPOSE_MPIEXEC:-}" ] && mpi=("$PAIRPOSE_MPIEXEC" -n 2)
work=$(pwd)/evaluate_maps_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"
quiet() { "$@" >>log.txt 2>&1 || { cat log.txt; echo "FAIL: $*"; exit 1; }; }

quiet "$bin" phantom --set phantom.output=phantom.mrc --set phantom.box=40 \
  --set phantom.voxel_size=3 --set phantom.n_blobs=30 --set phantom.seed=4
quiet "$bin" simulate --set simulate.maps='["phantom.mrc"]' --set simulate.n_particles=1500 \
  --set simulate.output=sim.h5 --set simulate.seed=3
"$PY" - <<'PYTHON'
import h5py, numpy as np
def mul(a, b):
    w1, x1, y1, z1 = a.T; w2, x2, y2, z2 = b.T
    return np.stack([w1*w2 - x1*x2 - y1*y2 - z1*z2, w1*x2 + x1*w2 + y1*z2 - z1*y2,
                     w1*y2 - x1*z2 + y1*w2 + z1*x2, w1*z2 + x1*y2 - y1*x2 + z1*w2], axis=1)
with h5py.File("sim.h5", "r+") as f:
    q = f["particles/orientation"][:]
    b = np.array([[0.6, -0.3, 0.5, 0.5416]]); b /= np.linalg.norm(b)
    b_conj = b * np.array([1, -1, -1, -1])
    est = mul(q, np.repeat(b_conj, len(q), axis=0)) * np.array([1, -1, -1, 1])  # J·A·Bᵀ·J
    g = f.create_group("recover")
    g.create_dataset("quaternions", data=est)
    g.attrs["complete"] = np.int64(1)
PYTHON
quiet "$bin" reconstruct --set reconstruct.input=sim.h5 --set reconstruct.output=true/map.mrc
quiet "$bin" reconstruct --set reconstruct.input=sim.h5 --set reconstruct.orientations=recovered \
  --set reconstruct.output=moved/map.mrc

ev() { quiet "$@" --set evaluate.reference=phantom.mrc; }
ev "${mpi[@]}" "$bin" evaluate --set evaluate.map=moved/map.mrc --set evaluate.summary=search2.json \
  --set evaluate.plots=plots --set evaluate.aligned_map=aligned.mrc
ev "$bin" evaluate --set evaluate.map=moved/map.mrc --set evaluate.summary=search1.json \
  --set evaluate.dataset=sim.h5
ev "$bin" evaluate --set evaluate.map=moved/map.mrc --set evaluate.summary=orient.json \
  --set evaluate.dataset=sim.h5 --set evaluate.alignment=orientations
ev "$bin" evaluate --set evaluate.map=true/map.mrc --set evaluate.summary=none.json \
  --set evaluate.alignment=none

"$PY" - <<'PYTHON'
import json, os, sys
s2, s1, o, n = (json.load(open(f)) for f in ("search2.json", "search1.json", "orient.json", "none.json"))
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok &= bool(cond)
a2, a1 = s2["maps"]["reference"]["alignment"], s1["maps"]["reference"]["alignment"]
res = {k: v["maps"]["reference"]["resolution_angstrom"] for k, v in
       (("search2", s2), ("search1", s1), ("orient", o), ("none", n))}
print("alignment (2 ranks):", {k: a2[k] for k in ("mirrored", "rotation_angle_deg", "score",
                                                  "other_hand_score", "seconds")})
print("FSC-0.5 resolutions (A):", res)
check(a2["mirrored"] and a1["mirrored"], "search finds the mirror")
check(a1["orientation_fit"]["mirrored"], "physical-error fit finds the mirror")
check(a1["orientation_fit"]["angle_to_search_deg"] < 1.0,
      "search agrees with the orientations' fit: %.3f deg" % a1["orientation_fit"]["angle_to_search_deg"])
check(a1["rotation"] == a2["rotation"], "1 and 2 ranks: the same rotation")
curve = {k: v["maps"]["reference"]["curve"]["fsc"] for k, v in
         (("search2", s2), ("orient", o), ("none", n))}
for k in ("search2", "orient"):
    worst = min(a - b for a, b in zip(curve[k][1:20], curve["none"][1:20]))
    check(worst > -0.02, "%s: FSC within 0.02 of the true-orientation map's up to shell 19 "
          "(worst %.4f)" % (k, worst))
    check(abs(res[k] / res["none"] - 1) < 0.05, "%s: the same resolution" % k)
check(min(curve["none"][1:19]) > 0.99, "true-orientation map: FSC > 0.99 up to shell 18 of 20")
h = s2["maps"]["half_maps"]
check(h["resolution_angstrom"] < 12 and len(h["curve"]["fsc"]) == 21, "half-map FSC reported")
check(os.path.exists("aligned.mrc") and os.path.exists("aligned.mrc.params.toml"), "aligned map written")
for png in ("fsc.png", "slices.png"):
    check(os.path.exists(os.path.join("plots", png)), "plots/" + png)
sys.exit(0 if ok else 1)
PYTHON

# Bad input: an error naming the file, and no summary.
quiet "$bin" phantom --set phantom.output=ref_voxel2.mrc --set phantom.box=40 --set phantom.voxel_size=2
quiet "$bin" phantom --set phantom.output=ref_box48.mrc --set phantom.box=48 --set phantom.voxel_size=3
bad() { # bad PATTERN ARGS...
  if "$bin" evaluate --set evaluate.summary=bad.json "${@:2}" >bad.txt 2>&1; then
    echo "FAIL: succeeded: ${*:2}"; exit 1; fi
  grep -q -- "$1" bad.txt || { echo "FAIL: no '$1' in:"; cat bad.txt; exit 1; }
  [ ! -e bad.json ] || { echo "FAIL: summary written despite the error"; exit 1; }
  echo "ok   error: $1"
}
bad "ref_voxel2.mrc has a voxel size of 2" --set evaluate.map=true/map.mrc \
  --set evaluate.reference=ref_voxel2.mrc
bad "ref_box48.mrc is 48x48x48 voxels, expected 40x40x40" --set evaluate.map=true/map.mrc \
  --set evaluate.reference=ref_box48.mrc --set evaluate.reference_box=exact
bad "ref_box48.mrc is 48x48x48 voxels" --set evaluate.map=true/map.mrc \
  --set evaluate.half_maps='["true/map_half1.mrc", "ref_box48.mrc"]'
bad "nothing to evaluate"
bad "needs dataset" --set evaluate.map=true/map.mrc --set evaluate.reference=phantom.mrc \
  --set evaluate.alignment=orientations
echo "evaluate_maps: all checks passed"
