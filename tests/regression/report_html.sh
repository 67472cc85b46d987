#!/usr/bin/env bash
# pairpose report: a tiny pipeline without images (pairs on random true orientations, recover,
# evaluate with plots, report) run by pairpose run on 2 ranks; the page is checked offline with
# html.parser (scripts/report_check.py): well-formed, the section names, the wall times of the
# stage records and the evaluate figures present, at least one embedded PNG, no external URL or
# file. Also: the report alone (pairpose report) to another path, and an empty run folder refused.
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
check_page="$PAIRPOSE_SOURCE_DIR/scripts/report_check.py"
mpi=("$PAIRPOSE_MPIEXEC" -n 2 --oversubscribe)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
"$py" -c "import matplotlib, numpy" 2>/dev/null || { echo "skipped: $py lacks matplotlib"; exit 77; }

cat >run.toml <<'EOF2'
[run]
folder = "r"

[pairs]
dataset = "d.h5"
orientations = "random"
n_particles = 300
budget = 30
source = "exact+noise"
noise_sigma = 0.05

[recover]
dataset = "d.h5"
max_iterations = 40

[evaluate]
dataset = "d.h5"
summary = "evaluate.json"
plots = "plots"

[report]
title = "tiny <run> & report"
EOF2
if ! "${mpi[@]}" "$bin" run run.toml >out 2>&1; then echo "FAIL: the run"; cat out; exit 1; fi
[ -f r/report.html ] || { echo "FAIL: no r/report.html"; cat out; exit 1; }

# Start times and wall times ("0.4 s", "1 min 02 s") as the page shows them, from the records.
times=()
for s in pairs recover evaluate; do
  times+=("$(sed -n "s/^started = '\(.*\)'/\1/p" "r/stages/$s.toml")")
  times+=("$(sed -n 's/^wall_seconds = //p' "r/stages/$s.toml" | awk '{
    if ($1 < 60) { printf "%.1f s", $1; exit }
    t = int($1 + 0.5)
    if (t < 3600) printf "%d min %02d s", t / 60, t % 60; else printf "%d h %02d min", t / 3600, (t / 60) % 60 }')")
done
if ! "$py" "$check_page" r/report.html 1 "tiny <run> & report" pairs recover evaluate \
    "${times[@]}" "e_or.median_rad" "physical.median_deg" >check 2>&1; then
  echo "FAIL: report check"; cat check; fail=1
fi
n_png=$(ls plots/*.png | wc -l)
grep -q "$n_png image(s), 0 problem" check || { echo "FAIL: $n_png PNGs in plots/ but:"; cat check; fail=1; }

# The checker itself catches an external reference and a broken structure.
sed 's|</body>|<img src="http://example.org/x.png"></body>|' r/report.html >bad1.html
"$py" "$check_page" bad1.html 1 >/dev/null && { echo "FAIL: checker missed an external URL"; fail=1; }
sed 's|</table>||' r/report.html >bad2.html
"$py" "$check_page" bad2.html 1 >/dev/null && { echo "FAIL: checker missed a broken table"; fail=1; }

# The report alone, to another path; an empty run folder is refused.
if ! "$bin" report run.toml --set report.output=alone.html >out 2>&1 || [ ! -s alone.html ]; then
  echo "FAIL: pairpose report alone"; cat out; fail=1
fi
if "$bin" report --set report.run_folder=nothing >out 2>&1 || ! grep -q "nothing to report" out; then
  echo "FAIL: an empty run folder was not refused"; cat out; fail=1
fi
[ $fail -eq 0 ] && echo "report_html: all checks passed"
exit $fail
