#!/usr/bin/env bash
# The command line: help, version, the generated parameter reference, and errors for bad
# parameter files (unknown section or key, wrong type, out of range, syntax), each naming the file
# and line, exiting non-zero.
set -uo pipefail
bin="$PAIRPOSE_BIN"
src="$PAIRPOSE_SOURCE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # check NAME COMMAND... : expects success
  if ! "${@:2}" >"$work/out" 2>&1; then echo "FAIL: $1"; cat "$work/out"; fail=1; fi
}
check_error() { # check_error NAME PATTERN COMMAND... : expects failure whose output has PATTERN
  if "${@:3}" >"$work/out" 2>&1; then echo "FAIL: $1 succeeded"; fail=1; return; fi
  if ! grep -q -- "$2" "$work/out"; then echo "FAIL: $1: no '$2' in:"; cat "$work/out"; fail=1; fi
}

check "help" "$bin" --help
check "version" "$bin" --version
grep -q "pairpose" "$work/out" || { echo "FAIL: version text"; fail=1; }

# Every stage documents itself, and docs/parameters.md is the generated reference.
stages=$("$bin" --help | awk '/^stages:/{on=1; next} on && NF==0{on=0} on{print $1}')
[ -n "$stages" ] || { echo "FAIL: no stages listed"; fail=1; }
for s in $stages; do check "$s --help" "$bin" "$s" --help; done
"$bin" --markdown >"$work/parameters.md"
if ! echo "$stages" | grep -qx train; then
  echo "note: built without Torch (no train/embed stages): docs/parameters.md not compared"
elif ! diff -u "$src/docs/parameters.md" "$work/parameters.md"; then
  echo "FAIL: docs/parameters.md differs from 'pairpose --markdown' (regenerate it)"; fail=1
fi

check_error "unknown stage" "unknown stage 'nosuch'" "$bin" nosuch
check_error "missing file" "nofile.toml" "$bin" $(echo $stages | awk '{print $1}') "$work/nofile.toml"
first=$(echo $stages | awk '{print $1}')
printf '[%s]\n\nno_such_key = 1\n' "$first" >"$work/unknown.toml"
check_error "unknown key" "unknown.toml:3: unknown key 'no_such_key'" "$bin" "$first" "$work/unknown.toml"
printf '[nosection]\nx = 1\n' >"$work/section.toml"
check_error "unknown section" "section.toml:.*nosection" "$bin" "$first" "$work/section.toml"
printf '[%s\n' "$first" >"$work/syntax.toml"
check_error "syntax" "syntax.toml:1" "$bin" "$first" "$work/syntax.toml"
check_error "bad override" "expected section.key=value" "$bin" "$first" --set nonsense
check_error "unknown option" "unknown option '--bogus'" "$bin" "$first" --bogus

# A wrong type and an out-of-range value, on the first integer key of the first stage.
key=$("$bin" "$first" --help | awk '/\(integer/{print $1; exit}')
if [ -n "$key" ]; then
  printf '[%s]\n%s = "many"\n' "$first" "$key" >"$work/type.toml"
  check_error "wrong type" "type.toml:2: \[$first\] $key: expected integer" "$bin" "$first" "$work/type.toml"
  check_error "out of range" "out of range" "$bin" "$first" --set "$first.$key=-99999999999"
fi

# Errors are reported once at 2 ranks too, and the job exits non-zero.
if [ -n "${PAIRPOSE_MPIEXEC:-}" ]; then
  check_error "2 ranks" "unknown key 'no_such_key'" "$PAIRPOSE_MPIEXEC" -n 2 "$bin" "$first" "$work/unknown.toml"
  n=$(grep -c "unknown key" "$work/out")
  [ "$n" -eq 1 ] || { echo "FAIL: the error was printed $n times at 2 ranks"; fail=1; }
fi
[ $fail -eq 0 ] && echo "cli: all checks passed"
exit $fail
