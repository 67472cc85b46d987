#!/usr/bin/env bash
# Sets up (installs missing packages, configures, builds) and runs the whole pipeline on the
# bundled default input, input/demo.toml, with 2 ranks: `pairpose run` makes a phantom map from a
# seed and its projections, recovers their orientations from pairwise distances, fixes their
# gauge from the images, reconstructs the map from those orientations (no ground truth used),
# evaluates orientations and map against the truth, and writes an HTML report.
# Nothing outside the repository is needed. Outputs go to demo-output/; a second run skips the
# stages whose parameters did not change (--set run.force=true runs them all).
#   jobs/demo.sh [--set section.key=value ...]      PAIRPOSE_RANKS: ranks (default 2)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
pairpose_install_packages
pairpose_mpi_environment
pairpose_build off >/dev/null
cd "$PAIRPOSE_ROOT"

ranks="${PAIRPOSE_RANKS:-2}"
start=$(date +%s)
mpirun -n "$ranks" "$PAIRPOSE_BUILD/pairpose" run input/demo.toml "$@"
echo "demo done in $(($(date +%s) - start)) s: summary demo-output/evaluate.json, plots demo-output/plots/," \
  "map demo-output/reconstruct/map.mrc" >&2
echo "report: $PAIRPOSE_ROOT/demo-output/run/report.html (open it in a browser)"
