#!/usr/bin/env bash
# Ab-initio side by side (issue #6): pairpose's route from the images (embed -> pairs -> recover ->
# gauge -> refine -> reconstruct, with the case's trained network) against RELION 3.1's stochastic
# gradient descent (`relion_refine --denovo_3dref --sgd`, the flags of RELION's InitialModel job)
# on the same particles; both maps compared to the true 5j0n.mrc by `pairpose evaluate` (alignment =
# "search": frame and hand fitted, FSC 0.5, also under a soft spherical mask of the particle
# diameter). Prints one table: route, wall time, FSC 0.5.
#
#   jobs/bench-abinitio.sh [case=noiseless] [work folder=/tmp/pairpose-accept-learn/<case>]
#
# The work folder is that of jobs/accept-learn.sh <case> (it must hold test.h5 and the trained
# distance.model). Everything this script writes goes to <work>/abinitio/: the case's [simulate]
# is re-run there (same seed: the same orientations, CTFs and clean images) into particles.h5 with
# a RELION 3.1 STAR + MRCS copy (particles.star/.mrcs); both routes read these same images. The
# network is not retrained: its training time (from the case's logs) is reported separately.
#
# Environment:
#   PAIRPOSE_BUILD_DIR  build with Torch holding `pairpose` (default build-lead/); not rebuilt.
#   PAIRPOSE_SHARED_DATA  folder of 5j0n.mrc (default ../shared/data beside the repo).
#   RANKS               MPI ranks of pairpose's stages (default 2).
#   RELION_THREADS      relion_refine --j (default 2).
#   RELION_ITERS        "ini inbetween fin" SGD iterations (default "50 200 50", RELION's).
#   RELION_SUBSETS      "ini fin" mini-batch sizes (default "100 500", RELION's).
#   RELION_RESOL        "ini fin" resolution limits, Å (default "35 15", RELION's).
#   RELION_OFFSET       "range step" of the origin search, pixels (default "6 2", the GUI's).
#   RELION_DIAMETER     mask diameter, Å (default 260: 5j0n reaches 120 Å from the box centre).
#   RELION_EXTRA        further relion_refine flags (e.g. "--maxsig 100").
#   SKIP_RELION=1 / SKIP_PAIRPOSE=1  skip a route (its last result, if any, is still evaluated).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
pairpose_mpi_environment
case_name="${1:-noiseless}"
work="${2:-/tmp/pairpose-accept-learn/$case_name}"
build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build-lead}"
bin="$build/pairpose"
data="$(cd "${PAIRPOSE_SHARED_DATA:-$PAIRPOSE_ROOT/../shared/data}" && pwd)"
params="$PAIRPOSE_ROOT/input/learn-$case_name.toml"
ranks="${RANKS:-2}"
read -r sgd_ini sgd_mid sgd_fin <<<"${RELION_ITERS:-50 200 50}"
read -r subset_ini subset_fin <<<"${RELION_SUBSETS:-100 500}"
read -r resol_ini resol_fin <<<"${RELION_RESOL:-35 15}"
read -r offset_range offset_step <<<"${RELION_OFFSET:-6 2}"
diameter="${RELION_DIAMETER:-260}"
PY=/usr/bin/python3

[ -f "$params" ] || { echo "no parameter file $params" >&2; exit 2; }
[ -x "$bin" ] || { echo "no pairpose executable in $build (PAIRPOSE_BUILD_DIR)" >&2; exit 2; }
for f in test.h5 distance.model; do
  [ -f "$work/$f" ] || {
    echo "no $work/$f: run jobs/accept-learn.sh $case_name first (it trains the network)" >&2
    exit 2
  }
done
work="$(cd "$work" && pwd)"
mkdir -p "$work/abinitio" && cd "$work/abinitio"
ln -sfn "$data" data
ln -sfn ../distance.model distance.model

# Wall seconds of a command (run under /usr/bin/time; its output goes to $1).
timed() {
  local log="$1"
  shift
  /usr/bin/time -f "wall_seconds %e user %U sys %S" -o "$log.time" "$@" >"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    echo "failed: $* (log: $PWD/$log)" >&2
    exit 1
  }
  awk '$1 == "wall_seconds" {print $2}' "$log.time"
}
run_pairpose=(mpiexec -n "$ranks" --bind-to none "$bin")

# 1. The same particles as test.h5, as HDF5 and as RELION STAR + MRCS.
timed simulate.log "${run_pairpose[@]}" simulate "$params" --set simulate.output=particles.h5 \
  --set simulate.export_star=particles.star >/dev/null
"$PY" - <<'EOF'
import h5py, mrcfile, numpy as np
with h5py.File("particles.h5", "r") as a, h5py.File("../test.h5", "r") as b:
    for key in ("orientation", "shift", "ctf"):
        if key in a["particles"]:
            same = np.array_equal(a["particles"][key][:], b["particles"][key][:])
            assert same, f"particles/{key} differs from test.h5"
    images = a["particles/images"][:]
    diff = float(np.abs(images - b["particles/images"][:]).max())
stack = mrcfile.mmap("particles.mrcs", "r").data
assert np.array_equal(stack, images), "particles.mrcs differs from particles.h5"
print(f"particles.star/.mrcs = particles.h5 ({images.shape[0]} images of {images.shape[1]} px); "
      f"orientations, shifts, CTFs = test.h5's; images vs test.h5: max |difference| {diff:.3g}"
      + ("" if diff == 0 else " (noise drawn since by another generator; both routes read "
         "particles.h5's images)"))
EOF

# 2. pairpose's route from the images, stage by stage (records in run/stages/).
stages=(embed pairs recover gauge refine reconstruct)
if [ -z "${SKIP_PAIRPOSE:-}" ]; then
  list=$(printf '"%s",' "${stages[@]}")
  t_pairpose=$(timed pairpose.log "${run_pairpose[@]}" run "$params" --set run.folder=run \
    --set "run.stages=[${list%,}]" --set run.force=true \
    --set embed.dataset=particles.h5 --set pairs.dataset=particles.h5 \
    --set recover.dataset=particles.h5 --set gauge.dataset=particles.h5 \
    --set refine.dataset=particles.h5 --set reconstruct.input=particles.h5 --set reconstruct.output=pairpose/map.mrc)
  echo "$t_pairpose" >pairpose.wall
fi
t_pairpose=$(cat pairpose.wall)

# 3. RELION's SGD ab-initio (InitialModel job flags), threads in one process.
n_iter=$((sgd_ini + sgd_mid + sgd_fin))
relion_args=(--o relion/run --i particles.star --denovo_3dref --sgd
  --sgd_ini_iter "$sgd_ini" --sgd_inbetween_iter "$sgd_mid" --sgd_fin_iter "$sgd_fin"
  --sgd_write_iter 20 --sgd_ini_resol "$resol_ini" --sgd_fin_resol "$resol_fin"
  --sgd_ini_subset "$subset_ini" --sgd_fin_subset "$subset_fin"
  --K 1 --sym C1 --flatten_solvent --zero_mask --dont_combine_weights_via_disc --pool 3 --pad 1
  --skip_gridding --particle_diameter "$diameter" --oversampling 1 --healpix_order 1
  --offset_range "$offset_range" --offset_step "$offset_step" --j "${RELION_THREADS:-2}")
if awk '/^\[simulate\]/ {s = 1; next} /^\[/ {s = 0} s && /^ctf *= *true/ {f = 1} END {exit !f}' \
  "$params"; then
  relion_args+=(--ctf)
fi
# shellcheck disable=SC2206 # RELION_EXTRA is a list of flags
relion_args+=(${RELION_EXTRA:-})
if [ -z "${SKIP_RELION:-}" ]; then
  rm -rf relion && mkdir relion
  echo "relion_refine ${relion_args[*]}" >relion.command
  t_relion=$(timed relion.log relion_refine "${relion_args[@]}")
  echo "$t_relion" >relion.wall
fi
t_relion=$(cat relion.wall)
relion_map=$(printf 'relion/run_it%03d_class001.mrc' "$n_iter")
[ -f "$relion_map" ] || { echo "RELION wrote no $relion_map (log: $PWD/relion.log)" >&2; exit 1; }

# 4. Both maps against the true map, the same way.
for route in pairpose relion; do
  map=pairpose/map.mrc
  [ "$route" = relion ] && map="$relion_map"
  timed "evaluate-$route.log" "${run_pairpose[@]}" evaluate --set evaluate.map="$map" \
    --set evaluate.reference=data/5j0n.mrc --set evaluate.half_maps='[]' \
    --set evaluate.mask_diameter="$diameter" \
    --set evaluate.summary="evaluate-$route.json" \
    --set evaluate.aligned_map="aligned-$route.mrc" >/dev/null
done

echo "case $case_name, $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) cores," \
  "load $(cut -d' ' -f1-3 /proc/loadavg); work folder $PWD"
echo "pairpose ($ranks ranks), wall seconds per stage (records in run/stages/):"
for s in "${stages[@]}"; do
  printf '  %-12s %s\n' "$s" "$(awk -F' *= *' '$1 == "wall_seconds" {print $2; exit}' "run/stages/$s.toml")"
done
# Training time: the train stage's log (timer "total") or a /usr/bin/time -v log beside it.
train=$(awk '$1 == "total" {t = $2 " s (logs/train.log)"} END {print t}' ../logs/train.log \
  2>/dev/null || true)
[ -n "$train" ] || train=$(grep -h "Elapsed (wall clock)" ../train*.log 2>/dev/null |
  awk '{print $NF " (m:ss, /usr/bin/time)"}' | tail -n 1 || true)
echo "training (once, before; the network is reused for every dataset of its kind): ${train:-unknown}"
echo "RELION: $(cat relion.command)"
echo "RELION: $n_iter SGD iterations ($sgd_ini + $sgd_mid + $sgd_fin), mini-batches" \
  "$subset_ini -> $subset_fin, resolution $resol_ini -> $resol_fin Å; $(cat relion.log.time)"
"$PY" - "$t_pairpose" "$t_relion" "$relion_map" <<'EOF'
import json, sys
import mrcfile, numpy as np
t_pp, t_rel, relion_map = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

def residual_shift(path):
    """Translation (voxels) left between an aligned map and the centred true map."""
    a = mrcfile.open(path).data.astype(np.float64)
    ref = mrcfile.open("data/5j0n.mrc").data.astype(np.float64)
    n = a.shape[0]
    r = np.zeros_like(a)
    lo = [n // 2 - s // 2 for s in ref.shape]
    r[lo[0]:lo[0] + ref.shape[0], lo[1]:lo[1] + ref.shape[1], lo[2]:lo[2] + ref.shape[2]] = ref
    c = np.fft.ifftn(np.fft.fftn(a) * np.conj(np.fft.fftn(r))).real
    peak = np.array(np.unravel_index(np.argmax(c), c.shape))
    return np.linalg.norm(np.where(peak > n // 2, peak - n, peak))

rows = [("pairpose (embed..refine..reconstruct)", t_pp, "pairpose/map.mrc"), ("RELION SGD", t_rel, relion_map)]
print(f"| route | wall (s) | FSC 0.5 vs true map (Å) | the same, masked (Å) | residual shift (voxels) |")
print("|---|---|---|---|---|")
for (name, t, m), route in zip(rows, ("pairpose", "relion")):
    e = json.load(open(f"evaluate-{route}.json"))["maps"]["reference"]
    print(f"| {name}: {m} | {t:.1f} | {e['resolution_angstrom']:.2f} | "
          f"{e['masked']['resolution_angstrom']:.2f} | {residual_shift(f'aligned-{route}.mrc'):.1f} |")
EOF
