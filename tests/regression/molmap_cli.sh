#!/usr/bin/env bash
# The map-making stages through the pairpose executable: `phantom` and `molmap` from a TOML file,
# outputs checked with mrcfile (valid MRC2014, cubic box, voxel size, centring, mass), the same
# phantom from 1 and 2 ranks, and bad inputs (no model given, a missing model, a PDB without
# atoms) failing with a message that names the file and leaving no output behind.
# Skips (77) without python3 + numpy + mrcfile; the molmap part needs ../shared/data/1hpv.pdb.
set -uo pipefail
bin="$PAIRPOSE_BIN"
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MPIEXEC=${PAIRPOSE_MPIEXEC:-mpirun}
"$PY" -c 'import numpy, mrcfile' 2>/dev/null ||
  { echo "skipped: $PY with numpy and mrcfile is not available"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check_error() { # check_error NAME PATTERN OUTPUT COMMAND... : must fail, print PATTERN, no OUTPUT
  if "${@:4}" >"$work/out" 2>&1; then echo "FAIL: $1 succeeded"; fail=1; return; fi
  if ! grep -q -- "$2" "$work/out"; then echo "FAIL: $1: no '$2' in:"; cat "$work/out"; fail=1; fi
  if [ -e "$3" ] || [ -e "$3.part" ]; then echo "FAIL: $1 left $3 behind"; fail=1; fi
}

# --- phantom ----------------------------------------------------------------------------------
cat >"$work/phantom.toml" <<EOF
[phantom]
output = "$work/ph/phantom.mrc"
box = 40
voxel_size = 3.0
n_blobs = 30
seed = 5
EOF
"$bin" phantom "$work/phantom.toml" >"$work/out" 2>&1 || { echo "FAIL: phantom"; cat "$work/out"; fail=1; }
[ -f "$work/ph/phantom.mrc.params.toml" ] || { echo "FAIL: phantom sidecar missing"; fail=1; }
grep -q "seed = 5" "$work/ph/phantom.mrc.params.toml" || { echo "FAIL: sidecar lacks the seed"; fail=1; }
"$PY" - "$work/ph/phantom.mrc" <<'EOF' || fail=1
import sys, mrcfile, numpy as np
path = sys.argv[1]
ok = mrcfile.validate(path, print_file=open('/dev/null', 'w'))
with mrcfile.open(path) as m:
    d = m.data
    problems = []
    if not ok: problems.append('mrcfile.validate failed')
    if d.shape != (40, 40, 40): problems.append('shape %s' % (d.shape,))
    if abs(float(m.voxel_size.x) - 3.0) > 1e-6: problems.append('voxel %s' % m.voxel_size)
    if abs(d.max() - 1.0) > 1e-6: problems.append('max %g' % d.max())
    if (d > 0.1).sum() < 200: problems.append('only %d voxels above 0.1' % (d > 0.1).sum())
for p in problems: print('FAIL: phantom:', p)
sys.exit(1 if problems else 0)
EOF
"$bin" phantom "$work/phantom.toml" --set phantom.output="$work/ph/again.mrc" >/dev/null 2>&1
cmp -s "$work/ph/phantom.mrc" "$work/ph/again.mrc" || { echo "FAIL: phantom not deterministic"; fail=1; }
"$MPIEXEC" -n 2 --oversubscribe "$bin" phantom "$work/phantom.toml" \
  --set phantom.output="$work/ph/np2.mrc" >"$work/out" 2>&1 || { echo "FAIL: phantom on 2 ranks"; cat "$work/out"; fail=1; }
cmp -s "$work/ph/phantom.mrc" "$work/ph/np2.mrc" || { echo "FAIL: phantom differs on 2 ranks"; fail=1; }
"$bin" phantom "$work/phantom.toml" --set phantom.seed=6 --set phantom.output="$work/ph/s6.mrc" >/dev/null 2>&1
cmp -s "$work/ph/phantom.mrc" "$work/ph/s6.mrc" && { echo "FAIL: seeds 5 and 6 give the same phantom"; fail=1; }

# --- molmap -----------------------------------------------------------------------------------
pdb="${PAIRPOSE_SHARED_DATA:-}/1hpv.pdb"
if [ -f "$pdb" ]; then
  cat >"$work/molmap.toml" <<EOF
[molmap]
model = "$pdb"
output = "$work/mm/1hpv.mrc"
resolution = 6.0
voxel_size = 2.0
margin = 8.0
EOF
  "$bin" molmap "$work/molmap.toml" >"$work/out" 2>&1 || { echo "FAIL: molmap"; cat "$work/out"; fail=1; }
  [ -f "$work/mm/1hpv.mrc.params.toml" ] || { echo "FAIL: molmap sidecar missing"; fail=1; }
  "$PY" - "$work/mm/1hpv.mrc" "$pdb" <<'EOF' || fail=1
import sys, mrcfile, numpy as np
path, pdb = sys.argv[1:]
z = {'C': 6, 'N': 7, 'O': 8, 'S': 16}
total = sum(z[l[13]] for l in open(pdb) if l.startswith(('ATOM', 'HETATM')))
ok = mrcfile.validate(path, print_file=open('/dev/null', 'w'))
problems = [] if ok else ['mrcfile.validate failed']
with mrcfile.open(path) as m:
    d = m.data.astype(np.float64)
    n = d.shape[0]
    if d.shape != (n, n, n) or n % 2: problems.append('box %s' % (d.shape,))
    if abs(float(m.voxel_size.x) - 2.0) > 1e-6: problems.append('voxel %s' % m.voxel_size)
    mass = d.sum() * 2.0 ** 3
    if abs(mass / total - 1) > 1e-4: problems.append('mass %g, total Z %d' % (mass, total))
    idx = np.indices(d.shape)
    centre = [(d * idx[k]).sum() / d.sum() for k in range(3)]
    if max(abs(c - n / 2) for c in centre) > 0.1: problems.append('centroid %s, n %d' % (centre, n))
for p in problems: print('FAIL: molmap:', p)
sys.exit(1 if problems else 0)
EOF
else
  echo "note: $pdb absent, molmap output checks skipped"
fi

# --- bad input --------------------------------------------------------------------------------
check_error "no model" "molmap.model" "$work/bad/none.mrc" \
  "$bin" molmap --set molmap.output="$work/bad/none.mrc"
check_error "missing model" "$work/nosuch.pdb: atomic model file does not exist" "$work/bad/missing.mrc" \
  "$bin" molmap --set molmap.model="$work/nosuch.pdb" --set molmap.output="$work/bad/missing.mrc"
printf 'HEADER    EMPTY\nREMARK   nothing here\nEND\n' >"$work/empty.pdb"
check_error "no atoms" "$work/empty.pdb: no atoms" "$work/bad/empty.mrc" \
  "$bin" molmap --set molmap.model="$work/empty.pdb" --set molmap.output="$work/bad/empty.mrc"
check_error "no atoms, 2 ranks" "$work/empty.pdb: no atoms" "$work/bad/empty2.mrc" \
  "$MPIEXEC" -n 2 --oversubscribe "$bin" molmap --set molmap.model="$work/empty.pdb" \
  --set molmap.output="$work/bad/empty2.mrc"

[ $fail -eq 0 ] && echo "molmap_cli: all checks passed"
exit $fail
