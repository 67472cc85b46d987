#!/usr/bin/env bash
# input/demo.toml (the default input of jobs/demo.sh) stays valid as the stages evolve: every
# section is checked against its stage's schema by `pairpose run`, which then runs its first
# section alone (outputs in a scratch folder).
set -uo pipefail
bin="$PAIRPOSE_BIN"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
demo="$PAIRPOSE_SOURCE_DIR/input/demo.toml"
if ! "$bin" run "$demo" --set run.stages=phantom --set run.folder="$work/run" \
    --set phantom.output="$work/phantom.mrc" >"$work/out" 2>&1; then
  echo "FAIL: input/demo.toml"; cat "$work/out"; exit 1
fi
[ -f "$work/phantom.mrc" ] && [ -f "$work/run/stages/phantom.toml" ] || { echo "FAIL: no outputs"; exit 1; }
echo "run_demo_input: input/demo.toml is valid"
