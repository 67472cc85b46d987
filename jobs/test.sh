#!/usr/bin/env bash
# Sets up (installs missing packages, configures, builds) and runs the whole test suite.
#   jobs/test.sh                 all tests (labels unit, mpi, regression)
#   jobs/test.sh --sanitize      AddressSanitizer + UBSan build in build-sanitize/, unit and mpi
#   jobs/test.sh -L unit         any further arguments go to ctest
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

sanitize=off
if [ "${1:-}" = --sanitize ]; then
  sanitize=on
  shift
fi
pairpose_install_packages
pairpose_mpi_environment
pairpose_build "$sanitize"
cd "$PAIRPOSE_BUILD"
args=("$@")
if [ "$sanitize" = on ]; then
  # Leak checking on; the only suppressions are for third-party libraries (OpenMPI, HDF5,
  # PETSc), each explained in tests/sanitizers/*.supp.
  supp="$PAIRPOSE_ROOT/tests/sanitizers"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:suppressions=$supp/asan.supp"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
  [ ${#args[@]} -eq 0 ] && args=(-L "unit|mpi")
fi
ctest --output-on-failure --timeout 1200 -j "$(nproc)" "${args[@]}"
