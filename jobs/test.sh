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
PAIRPOSE_PACKAGES+=("${PAIRPOSE_TEST_PACKAGES[@]}")
pairpose_install_packages
pairpose_mpi_environment
pairpose_build "$sanitize"
cd "$PAIRPOSE_BUILD"
args=("$@")
if [ "$sanitize" = on ]; then
  # Leak checking on; the only suppressions are for third-party libraries (OpenMPI, HDF5,
  # PETSc), each explained in tests/sanitizers/*.supp. Full (slow) unwinding at malloc, so that
  # leaks from OpenMPI's unloaded plugins show the libraries that loaded them (docs/reliability.md).
  # PAIRPOSE_SANITIZE_LEAKS=0 skips leak checking and keeps fast unwinding (several times faster
  # on allocation-heavy tests).
  supp="$PAIRPOSE_ROOT/tests/sanitizers"
  leaks="detect_leaks=1:fast_unwind_on_malloc=0"
  [ "${PAIRPOSE_SANITIZE_LEAKS:-1}" = 0 ] && leaks="detect_leaks=0"
  export ASAN_OPTIONS="$leaks:abort_on_error=1:suppressions=$supp/asan.supp"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
  [ ${#args[@]} -eq 0 ] && args=(-L "unit|mpi")
fi
ctest --output-on-failure --timeout 1200 -j "$(nproc)" "${args[@]}"
