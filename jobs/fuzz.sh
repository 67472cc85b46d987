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
# PAIRPOSE_FUZZ_RSS_MB (memory limit per target, default 2048: larger allocations are findings),
# PAIRPOSE_FUZZ_PARALLEL=1 (run the targets at the same time instead of one after the other),
# PAIRPOSE_FUZZ_TIMEOUT (seconds an input may take, default 10; libFuzzer measures wall time, so
# raise it for runs at nice 19 on a loaded machine, where a starved process trips it falsely),
# PAIRPOSE_FUZZ_GOAL=N (stop a target once its executions over all runs in fuzz-history.tsv
# reach N; targets already there are skipped).
# Inputs are capped at a few KiB (-max_len, per reader below): the readers' logic is exercised by
# small files, and large ones only slow each execution down.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(mrc star atomic_model toml model_file)
build="${PAIRPOSE_FUZZ_BUILD:-$root/build-fuzz}"
rss="${PAIRPOSE_FUZZ_RSS_MB:-2048}"

command -v clang++ >/dev/null || { echo "jobs/fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }
if [ "${PAIRPOSE_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPAIRPOSE_FUZZ=ON -DPAIRPOSE_WITH_TORCH=OFF >/dev/null || exit 1
  cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}" \
    --target $(printf 'fuzz_%s ' "${readers[@]}") || exit 1
fi

# A smaller ASan quarantine (default 256 MiB) keeps use-after-free detection for recent frees and
# halves the kernel time spent faulting in fresh pages.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:quarantine_size_mb=32"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
history="$build/fuzz-history.tsv"
goal="${PAIRPOSE_FUZZ_GOAL:-0}"

max_len_of() {
  case "$1" in
  model_file) echo 4096 ;;
  toml) echo 1024 ;;
  *) echo 2048 ;;
  esac
}

total_of() { # executions of reader $1 over all runs recorded so far
  awk -F'\t' -v r="$1" '$2 == r { n += $4 } END { printf "%d", n }' "$history" 2>/dev/null || echo 0
}

# Runs one target; prints its summary line and returns non-zero on a finding.
run_target() {
  local r="$1" work="$build/corpus/$1" crashes="$build/crashes/$1" log="$build/fuzz-$1.log"
  local runs=-1
  if [ "$goal" -gt 0 ]; then
    runs=$((goal - $(total_of "$r")))
    if [ "$runs" -le 0 ]; then
      printf '%-16s goal of %s executions already reached\n' "fuzz_$r" "$goal"
      return 0
    fi
  fi
  mkdir -p "$work" "$crashes"
  echo "== fuzz_$r: ${seconds}s (log $log)" >&2
  (cd "$crashes" && "$build/tests/fuzz/fuzz_$r" -max_total_time="$seconds" -runs="$runs" \
    -rss_limit_mb="$rss" -max_len="$(max_len_of "$r")" -timeout="${PAIRPOSE_FUZZ_TIMEOUT:-10}" -print_final_stats=1 \
    "$work" "$root/tests/fuzz/corpus/$r") >"$log" 2>&1
  local rc=$? execs result=ok
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc): $(ls -t "$crashes" 2>/dev/null | head -1)"
    grep -m3 -E "ERROR: |runtime error|terminate called|==ERROR" "$log" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$r" "$seconds" "${execs:-0}" "$result" \
    >>"$history"
  printf '%-16s %8ss %12s executions  %s\n' "fuzz_$r" "$seconds" "${execs:-0}" "$result"
  [ "$result" = ok ]
}

status=0
summary=""
if [ "${PAIRPOSE_FUZZ_PARALLEL:-0}" = 1 ]; then
  out="$(mktemp -d)"
  pids=()
  for r in "${readers[@]}"; do
    run_target "$r" >"$out/$r" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  for r in "${readers[@]}"; do summary+=$(cat "$out/$r")$'\n'; done
  rm -rf "$out"
else
  for r in "${readers[@]}"; do
    line=$(run_target "$r") || status=1
    summary+="$line"$'\n'
  done
fi
echo
echo "executions per target (this run):"
printf '%s' "$summary"
echo "executions per target (all runs in $history):"
for r in "${readers[@]}"; do printf '%-16s %12s\n' "fuzz_$r" "$(total_of "$r")"; done
exit $status
