#!/usr/bin/env bash
# Acceptance cases of issue #5 (the learned distance, end to end): runs one case from its
# parameter file input/learn-<case>.toml and prints its figures.
#
# Usage: jobs/accept-learn.sh <case> [build folder]     (case: noiseless, noise, ctf, unseen)
#   Work folder: $ACCEPT_WORK/<case> (default /tmp/pairpose-accept-learn/<case>); `data` in it
#   links to the shared data ($PAIRPOSE_SHARED_DATA, default ../shared/data beside the repo),
#   so the parameter files name maps as data/<file>.
#   RANKS (default 1): MPI ranks of every stage. STAGES (default all): the sections to run, e.g.
#   STAGES="pairs recover evaluate" to redo the recovery with a trained model.
#
# The file is run with `pairpose run` (sections in pipeline order: molmap*, simulate*, train*,
# embed*, pairs*, recover*, gauge*, refine*, reconstruct*, evaluate*; a labelled table [<stage>-<label>] is
# another instance of its stage). Records go to run/ in the work folder, so a second call skips
# the sections that finished with unchanged parameters and continues a stopped run.
#
# Figures printed (one line each, `figure: value`): wall seconds per section; training
# validation RMSE; test-pair RMSE of d_hat - d_q over all pairs of /pairs (radians); median and
# mean E_OR of the recovered orientations; with [gauge], [reconstruct] and evaluate's map part:
# the physical error after the gauge and the FSC resolutions, masked too (evaluate's summary);
# with [refine]: its physical error per iteration and its final half-map resolution.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case_name="${1:?usage: jobs/accept-learn.sh <case> [build folder]}"
build="$(cd "${2:-$src/build-learn}" && pwd)"
bin="$build/pairpose"
params="$src/input/learn-$case_name.toml"
data="$(cd "${PAIRPOSE_SHARED_DATA:-$src/../shared/data}" && pwd)"
work="${ACCEPT_WORK:-/tmp/pairpose-accept-learn}/$case_name"
ranks="${RANKS:-1}"
py=/usr/bin/python3
[ -f "$params" ] || { echo "no parameter file $params" >&2; exit 2; }
[ -x "$bin" ] || { echo "no pairpose executable in $build" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMP_NUM_THREADS=1 PAIRPOSE_SCRIPTS="$src/scripts"

mkdir -p "$work"
cd "$work"
ln -sfn "$data" data
cp "$params" case.toml

run_args=(--set run.folder=run)
if [ -n "${STAGES:-}" ]; then
  list=$(printf '"%s",' $STAGES)
  run_args+=(--set "run.stages=[${list%,}]" --set run.force=true)
fi
if ! mpiexec -n "$ranks" --oversubscribe "$bin" run case.toml "${run_args[@]}" >run.log 2>&1; then
  tail -20 run.log >&2
  echo "pairpose run failed (log: $work/run.log)" >&2
  exit 1
fi
for record in run/stages/*.toml; do
  [ -e "$record" ] || continue
  section=$(basename "$record" .toml)
  echo "wall_seconds[$section]: $(awk -F' *= *' '$1 == "wall_seconds" {print $2; exit}' "$record")"
done

# Figures from the outputs (the files the sections named).
"$py" - case.toml <<'EOF'
import csv, json, os, sys, tomllib
import h5py, numpy as np
p = tomllib.load(open(sys.argv[1], "rb"))
train = p.get("train", {})
folder = train.get("plots", "")
if folder and os.path.exists(f"{folder}/validation.csv"):
    rows = list(csv.DictReader(open(f"{folder}/validation.csv")))
    best = min(rows, key=lambda r: float(r["loss"]))
    print(f"validation_rmse_rad: {float(best['rmse']):.4f} (step {best['step']}, best loss)")
ds = p.get("pairs", {}).get("dataset", "")
if ds and os.path.exists(ds):
    with h5py.File(ds, "r") as f:
        if "pairs" in f and "orientation" in f["particles"]:
            q = f["particles/orientation"][:]
            ij = f["pairs/index"][:]
            d_hat = f["pairs/distance"][:, 0]
            dot = np.abs(np.einsum("ij,ij->i", q[ij[:, 0]], q[ij[:, 1]]))
            d_q = 2 * np.arccos(np.clip(dot, 0, 1))
            err = d_hat - d_q
            small = d_q < 0.5
            print(f"test_pair_rmse_rad: {np.sqrt(np.mean(err**2)):.4f} over {len(err)} pairs")
            print(f"test_pair_rmse_rad[d_q<0.5]: {np.sqrt(np.mean(err[small]**2)):.4f} "
                  f"over {int(small.sum())} pairs")
summary = p.get("evaluate", {}).get("summary", "")
if summary and os.path.exists(summary):
    e = json.load(open(summary))
    if "e_or" in e:
        print(f"median_E_OR_rad: {e['e_or']['median_rad']:.4f}")
        print(f"mean_E_OR_rad: {e['e_or']['mean_rad']:.4f}")
    physical = e.get("physical", {})
    if "median_deg" in physical:
        print(f"median_physical_error_deg: {physical['median_deg']:.3f}")
    for part in ("half_maps", "reference"):
        fsc = e.get("maps", {}).get(part, {})
        if "resolution_angstrom" in fsc:
            print(f"fsc_{part}_angstrom: {fsc['resolution_angstrom']:.2f}")
        if "resolution_angstrom" in fsc.get("masked", {}):
            print(f"fsc_{part}_masked_angstrom: {fsc['masked']['resolution_angstrom']:.2f}")
dataset = p.get("refine", {}).get("dataset", "")
if dataset and os.path.exists(dataset):
    import h5py
    with h5py.File(dataset, "r") as f:
        a = f["refine"].attrs if "refine" in f else {}
        text = lambda k: a[k].decode() if isinstance(a[k], bytes) else str(a[k])
        if "physical_error_median_deg" in a:
            print(f"refine_physical_error_median_deg: {text('physical_error_median_deg')} "
                  "(input, then per iteration)")
        if "final_resolution_angstrom" in a:
            print(f"refine_half_maps_angstrom: {text('final_resolution_angstrom')}")
EOF
