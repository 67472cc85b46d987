#!/usr/bin/env bash
# Figures of `pairpose evaluate`, maps part (docs/benchmarks.md, section "evaluate (maps)"):
# n noiseless projections of 5j0n at 116 px (3.667 Å voxels, pairpose simulate), and the
# orientations a gauge-fixed recovery could return: the true ones moved by a random right factor
# B and mirrored (Â_i = J·A_i·Bᵀ·J, written as recover/quaternions). Reconstructed from the true
# and from the moved orientations; the moved map is aligned back to 5j0n.mrc by the search (at 1
# and 2 ranks) and by the orientations' physical-error fit. Prints the recovered angle (against
# the fit and against B), the hands, FSC-0.5 resolutions (aligned, and the true-orientation map
# without alignment), half-map FSC-0.143, and the wall and CPU times of the searches.
#   jobs/bench-evaluate.sh [folder=/tmp/pairpose-bench-evaluate] [n_particles=5000] [seed=7]
# Environment: PAIRPOSE_BUILD_DIR (default build/), PAIRPOSE_SHARED_DATA (default ../shared/data),
# PAIRPOSE_SKIP_BUILD=1 to use the executable already built there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
folder="${1:-/tmp/pairpose-bench-evaluate}"
n_particles="${2:-5000}"
seed="${3:-7}"
pairpose_mpi_environment
build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build}"
data="${PAIRPOSE_SHARED_DATA:-$PAIRPOSE_ROOT/../shared/data}"
PY=/usr/bin/python3
if [ -z "${PAIRPOSE_SKIP_BUILD:-}" ]; then
  cmake -S "$PAIRPOSE_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}" --target pairpose >/dev/null
fi
bin="$build/pairpose"
mkdir -p "$folder" && cd "$folder"
run() { "$@" >>log.txt 2>&1 || { tail -20 log.txt; exit 1; }; }

run "$bin" simulate --set simulate.maps="[\"$data/5j0n.mrc\"]" --set simulate.image_size=116 \
  --set simulate.n_particles="$n_particles" --set simulate.seed="$seed" --set simulate.output=sim.h5
"$PY" - "$seed" <<'EOF'
import sys, h5py, numpy as np
def mul(a, b):
    w1, x1, y1, z1 = a.T; w2, x2, y2, z2 = b.T
    return np.stack([w1*w2 - x1*x2 - y1*y2 - z1*z2, w1*x2 + x1*w2 + y1*z2 - z1*y2,
                     w1*y2 - x1*z2 + y1*w2 + z1*x2, w1*z2 + x1*y2 - y1*x2 + z1*w2], axis=1)
b = np.random.default_rng(int(sys.argv[1])).normal(size=4)
b /= np.linalg.norm(b)
b *= np.sign(b[0])
with h5py.File("sim.h5", "r+") as f:
    q = f["particles/orientation"][:]
    est = mul(q, np.repeat([b * [1, -1, -1, -1]], len(q), axis=0)) * [1, -1, -1, 1]
    if "recover" in f:
        del f["recover"]
    g = f.create_group("recover")
    g.create_dataset("quaternions", data=est)
    g.attrs["complete"] = np.int64(1)
angle = np.degrees(2 * np.arccos(min(1.0, abs(b[0]))))
np.savetxt("b.txt", b)
print("B = (%.4f, %.4f, %.4f, %.4f), a rotation by %.2f deg, and the mirror" % (*b, angle))
EOF
run "$bin" reconstruct --set reconstruct.input=sim.h5 --set reconstruct.output=true/map.mrc
run "$bin" reconstruct --set reconstruct.input=sim.h5 --set reconstruct.orientations=recovered \
  --set reconstruct.output=moved/map.mrc

ev() { run "$@" --set evaluate.reference="$data/5j0n.mrc"; }
for np in 1 2; do
  ev mpiexec -n "$np" "$bin" evaluate --set evaluate.map=moved/map.mrc \
    --set evaluate.dataset=sim.h5 --set evaluate.summary="search_np$np.json" \
    --set evaluate.plots="plots_np$np" --set evaluate.aligned_map="aligned_np$np.mrc"
done
ev "$bin" evaluate --set evaluate.map=moved/map.mrc --set evaluate.dataset=sim.h5 \
  --set evaluate.alignment=orientations --set evaluate.summary=orientations.json
ev "$bin" evaluate --set evaluate.map=true/map.mrc --set evaluate.alignment=none \
  --set evaluate.summary=none.json --set evaluate.plots=plots_true

"$PY" - <<'EOF'
import json, numpy as np
b = np.loadtxt("b.txt")
w, x, y, z = b
B = np.array([[1 - 2*(y*y + z*z), 2*(x*y - w*z), 2*(x*z + w*y)],
              [2*(x*y + w*z), 1 - 2*(x*x + z*z), 2*(y*z - w*x)],
              [2*(x*z - w*y), 2*(y*z + w*x), 1 - 2*(x*x + y*y)]])
def ref(name):
    return json.load(open(name))["maps"]
for np_ in (1, 2):
    m = ref("search_np%d.json" % np_)
    a = m["reference"]["alignment"]
    R = np.array(a["rotation"]).reshape(3, 3)
    err = np.degrees(np.arccos(np.clip((np.trace(R.T @ B) - 1) / 2, -1, 1)))
    print("search, %d rank(s): mirrored %s, angle to B %.3f deg, to the orientations' fit %.3f deg;"
          " correlation %.4f (other hand %.4f); FSC-0.5 %.2f A; %.1f s wall, %.1f CPU s"
          % (np_, a["mirrored"], err, a["orientation_fit"]["angle_to_search_deg"], a["score"],
             a["other_hand_score"], m["reference"]["resolution_angstrom"], a["seconds"],
             a["cpu_seconds"]))
o, n = ref("orientations.json"), ref("none.json")
print("alignment from the orientations: FSC-0.5 %.2f A" % o["reference"]["resolution_angstrom"])
print("true orientations, no alignment: FSC-0.5 %.2f A; half-maps FSC-0.143 %.2f A"
      % (n["reference"]["resolution_angstrom"], n["half_maps"]["resolution_angstrom"]))
EOF
