#!/usr/bin/env bash
# Installs what pairpose needs (Debian 12 packages; apt-get when run as root), then configures and
# builds it. Sourced by jobs/demo.sh and jobs/test.sh; can be run on its own.
#   jobs/setup.sh [--sanitize]     build folder: build/ (build-sanitize/ with --sanitize)
# Environment: PAIRPOSE_BUILD_DIR overrides the build folder; PAIRPOSE_JOBS the build parallelism.
set -euo pipefail

PAIRPOSE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PAIRPOSE_PACKAGES=(
  build-essential cmake pkg-config git ccache
  openmpi-bin libopenmpi-dev petsc-dev slepc-dev libopenblas0-pthread
  libfftw3-dev libfftw3-mpi-dev libhdf5-openmpi-dev libtorch-dev
  libboost-test-dev libtomlplusplus-dev libfmt-dev libeigen3-dev
  python3-numpy python3-mrcfile python3-h5py python3-matplotlib relion
)
# Needed by the tests only (jobs/test.sh adds them): a headless browser for the report test.
PAIRPOSE_TEST_PACKAGES=(chromium)

pairpose_install_packages() {
  local missing=()
  for p in "${PAIRPOSE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "pairpose setup: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "pairpose setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

pairpose_mpi_environment() {
  # OpenMPI refuses root without these; more ranks than cores need oversubscription.
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  export OMPI_MCA_rmaps_base_oversubscribe=1
  # These scripts run on one node: Open MPI's own shared-memory transport (pml ob1, btl
  # self,vader) starts in 0.1 s a process where the default probes UCX's network transports for
  # 0.3 s (docs/running.md). A value already set (a site's choice) is kept.
  export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}" OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader}"
  export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
}

pairpose_build() {
  local sanitize="${1:-off}"
  local build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build}"
  local flags=(-DCMAKE_BUILD_TYPE=Release)
  if [ "$sanitize" = on ]; then
    build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build-sanitize}"
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAIRPOSE_SANITIZE=ON)
  fi
  cmake -S "$PAIRPOSE_ROOT" -B "$build" "${flags[@]}" >/dev/null
  cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}"
  PAIRPOSE_BUILD="$build"
  export PAIRPOSE_BUILD
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  pairpose_install_packages
  pairpose_build "$([ "${1:-}" = --sanitize ] && echo on || echo off)"
  echo "pairpose built in $PAIRPOSE_BUILD"
fi
