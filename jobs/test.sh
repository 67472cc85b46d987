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
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  [ ${#args[@]} -eq 0 ] && args=(-L "unit|mpi")
fi
ctest --output-on-failure --timeout 1200 -j "$(nproc)" "${args[@]}"
