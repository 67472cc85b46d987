#!/usr/bin/env bash
# Sets up (installs missing packages, configures, builds) and runs the main job on the bundled
# default input, input/demo.toml, with 2 ranks: a phantom map made from a seed, its projections,
# pairwise distances, orientation recovery, evaluation against the truth and a reconstruction.
# Nothing outside the repository is needed. Outputs go to demo-output/.
#   jobs/demo.sh [extra --set overrides for every stage ...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
pairpose_install_packages
pairpose_mpi_environment
pairpose_build off >/dev/null
cd "$PAIRPOSE_ROOT"

ranks="${PAIRPOSE_RANKS:-2}"
run() { mpirun -n "$ranks" "$PAIRPOSE_BUILD/pairpose" "$1" input/demo.toml "${@:2}"; }
for stage in phantom simulate pairs recover evaluate reconstruct; do
  echo "=== pairpose $stage" >&2
  run "$stage" "$@"
done
echo "demo done: summary demo-output/evaluate.json, plots demo-output/plots/, map demo-output/reconstruct/map.mrc" >&2
