#!/usr/bin/env bash
# Throughput of the parallel HDF5 dataset file (include/pairpose/io/dataset.hpp): writes and reads
# the metadata of 10^6 particles, N × 4 result rows, and 10^5 images of 128² (6.6 GB; the files
# are deleted afterwards).
#   jobs/bench-io.sh [ranks=2] [folder=/tmp/pairpose-bench-io] [n_metadata] [n_images] [size]
# Environment: PAIRPOSE_BUILD_DIR overrides the build folder (default build/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ranks="${1:-2}"
folder="${2:-/tmp/pairpose-bench-io}"
shift $(( $# < 2 ? $# : 2 ))
pairpose_mpi_environment
build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build}"
cmake -S "$PAIRPOSE_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}" --target bench_io_dataset >/dev/null
mkdir -p "$folder"
mpiexec -n "$ranks" "$build/tests/bench_io_dataset" "$folder" "$@"
