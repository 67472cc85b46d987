#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs each for a while.
#   jobs/fuzz.sh [seconds] [reader ...]   seconds per target (default 60); readers default to all
#                                         (mrc star atomic_model toml)
# Each target starts from tests/fuzz/corpus/<reader>/ and grows a working corpus in
# build-fuzz/corpus/<reader>/ (kept between runs, so repeated runs add up). A crash stops that
# target; the input is saved as build-fuzz/crashes/<reader>/crash-*: add it to
# tests/fuzz/corpus/<reader>/ once fixed (the ctest entries fuzz_replay_* replay that folder).
# At the end, a table of executions per target (this run) is printed and appended to
# build-fuzz/fuzz-history.tsv (date, reader, seconds, executions, result).
# Environment: PAIRPOSE_FUZZ_BUILD (build folder), PAIRPOSE_JOBS (build parallelism),
# PAIRPOSE_FUZZ_SKIP_BUILD=1 (run the targets as built),
# PAIRPOSE_FUZZ_RSS_MB (memory limit per target, default 2048: larger allocations are findings).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(mrc star atomic_model toml)
build="${PAIRPOSE_FUZZ_BUILD:-$root/build-fuzz}"
rss="${PAIRPOSE_FUZZ_RSS_MB:-2048}"

command -v clang++ >/dev/null || { echo "jobs/fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }
if [ "${PAIRPOSE_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPAIRPOSE_FUZZ=ON -DPAIRPOSE_WITH_TORCH=OFF >/dev/null || exit 1
  cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}" \
    --target $(printf 'fuzz_%s ' "${readers[@]}") || exit 1
fi

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
summary=""
for r in "${readers[@]}"; do
  work="$build/corpus/$r" crashes="$build/crashes/$r"
  mkdir -p "$work" "$crashes"
  log="$build/fuzz-$r.log"
  echo "== fuzz_$r: ${seconds}s (log $log)"
  (cd "$crashes" && "$build/tests/fuzz/fuzz_$r" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -timeout=10 -print_final_stats=1 "$work" "$root/tests/fuzz/corpus/$r") >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc): $(ls -t "$crashes" 2>/dev/null | head -1)"
    grep -m3 -E "ERROR: |runtime error|terminate called|==ERROR" "$log"
    status=1
  fi
  line=$(printf '%s\t%s\t%s\t%s\t%s' "$(date -u +%FT%TZ)" "$r" "$seconds" "${execs:-0}" "$result")
  echo "$line" >>"$build/fuzz-history.tsv"
  summary+=$(printf '%-14s %8ss %12s executions  %s' "fuzz_$r" "$seconds" "${execs:-0}" "$result")$'\n'
done
echo
echo "executions per target (this run):"
printf '%s' "$summary"
echo "all runs so far: $build/fuzz-history.tsv"
exit $status
