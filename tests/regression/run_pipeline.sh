#!/usr/bin/env bash
# pairpose run: a tiny pipeline (phantom, simulate, a labelled [simulate-test], pairs, recover)
# from one file on 2 ranks, written out of order. Checks the pipeline order, one record per
# section, the skip logic (unchanged sections skipped without touching their outputs; a changed
# parameter, a missing output, a record left "running" by a killed run re-run that section and
# every later one), a failing section (non-zero exit, record "failed", the next run resumes
# there), --section for a labelled section, [run] stages, and configuration errors.
set -uo pipefail
bin="$PAIRPOSE_BIN"
mpi=("$PAIRPOSE_MPIEXEC" -n 2 --oversubscribe)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
check() { # check NAME COMMAND... : expects success
  if ! "${@:2}" >out 2>&1; then echo "FAIL: $1"; cat out; fail=1; fi
}
check_error() { # check_error NAME PATTERN COMMAND... : expects failure whose output has PATTERN
  if "${@:3}" >out 2>&1; then echo "FAIL: $1 succeeded"; cat out; fail=1; return; fi
  if ! grep -q -- "$2" out; then echo "FAIL: $1: no '$2' in:"; cat out; fail=1; fi
}
ran() { # ran "LIST OF SECTIONS THAT RAN" : compares with the summary of the last run (file out)
  local got
  got=$(awk '/: done$/{on=1; next} on && /ran in/{print $1}' out | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = "$1" ] || { echo "FAIL: sections run: '$got', expected '$1'"; cat out; fail=1; }
}
status() { sed -n "s/^status = '\(.*\)'/\1/p" "r/stages/$1.toml" 2>/dev/null; }

cat >run.toml <<'EOF2'
[run]
folder = "r"

[recover]
dataset = "d/train.h5"
max_iterations = 30

[pairs]
dataset = "d/train.h5"
budget = 16
source = "exact"

[simulate-test]
maps = ["d/phantom.mrc"]
output = "d/test.h5"
n_particles = 40
seed = 9

[simulate]
maps = ["d/phantom.mrc"]
output = "d/train.h5"
n_particles = 120
seed = 2

[phantom]
output = "d/phantom.mrc"
box = 24
voxel_size = 4.0
EOF2
all="phantom simulate simulate-test pairs recover"

# First run: every section, in pipeline order, each with a finished record.
check "first run" "${mpi[@]}" "$bin" run run.toml
ran "$all"
for s in $all; do
  [ "$(status $s)" = finished ] || { echo "FAIL: record of [$s]: status '$(status $s)'"; fail=1; }
  grep -q "^\[parameters\]" "r/stages/$s.toml" || { echo "FAIL: [$s] record lacks parameters"; fail=1; }
done
grep -q "^n_particles = 40$" r/stages/simulate-test.toml || { echo "FAIL: [simulate-test] parameters"; fail=1; }
[ -f d/test.h5 ] && [ -f d/train.h5 ] || { echo "FAIL: the simulate outputs are missing"; fail=1; }

# Unchanged: everything skipped, outputs untouched.
before=$(stat -c %Y.%s d/*.h5 d/phantom.mrc)
sleep 1
check "second run" "${mpi[@]}" "$bin" run run.toml
ran ""
n=$(grep -c "skipped: unchanged (record" out)
[ "$n" -eq 5 ] || { echo "FAIL: $n sections skipped, expected 5"; cat out; fail=1; }
[ "$before" = "$(stat -c %Y.%s d/*.h5 d/phantom.mrc)" ] || { echo "FAIL: a skipped section rewrote its output"; fail=1; }

# A changed parameter (--set) re-runs that section and every later one.
check "changed pairs" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12
ran "pairs recover"
# A missing output, and a record left "running" by a killed run.
rm d/test.h5
check "missing output" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12
ran "simulate-test pairs recover"
sed -i "s/^status = 'finished'/status = 'running'/" r/stages/pairs.toml
check "killed record" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12
ran "pairs recover"
# force = true runs everything.
check "force" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12 --set run.force=true
ran "$all"

# A failing section stops the run with its message; the next run resumes there.
check_error "failing section" "d/none.h5" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12 \
  --set recover.dataset=d/none.h5
[ "$(status recover)" = failed ] || { echo "FAIL: failed section's record: '$(status recover)'"; fail=1; }
grep -q "^error = .*d/none.h5" r/stages/recover.toml || { echo "FAIL: record lacks the error"; fail=1; }
check "resume" "${mpi[@]}" "$bin" run run.toml --set pairs.budget=12
ran "recover"

# [run] stages: a subset, in the order given.
check "stages list" "${mpi[@]}" "$bin" run run.toml --set run.stages=simulate-test,phantom --set run.force=true
ran "simulate-test phantom"

# A labelled section alone.
check "--section" "$bin" simulate run.toml --section simulate-test --set simulate-test.output=d/alone.h5
[ -f d/alone.h5 ] || { echo "FAIL: --section simulate-test wrote no d/alone.h5"; fail=1; }

# Configuration errors, before anything runs.
check_error "run key" "unknown key 'nosuch' in \[run\]" "$bin" run run.toml --set run.nosuch=1
check_error "stages entry" "\[run\] stages: 'nosuch'" "$bin" run run.toml --set run.stages=phantom,nosuch
check_error "stages twice" "listed twice" "$bin" run run.toml --set run.stages=phantom,phantom
check_error "labelled key" "unknown key 'nosuch' in \[simulate-test\]" "$bin" run run.toml \
  --set simulate-test.nosuch=1
printf '[nostage-x]\nseed = 1\n' >bad.toml
check_error "unknown labelled section" "unknown section or key 'nostage-x'" "$bin" run bad.toml
printf '["simulate-a/b"]\nseed = 1\n' >slash.toml
check_error "label with a slash" "unknown section or key 'simulate-a/b'" "$bin" run slash.toml
check_error "foreign --section" "not a section of stage 'simulate'" "$bin" simulate run.toml --section pairs
check_error "no file" "needs a parameter file" "$bin" run
if ! "$bin" --help | grep -qx "  train .*"; then
  printf '[train]\n' >torch.toml
  check_error "stage missing from build" "no stage 'train'" "$bin" run torch.toml
fi
[ $fail -eq 0 ] && echo "run_pipeline: all checks passed"
exit $fail
