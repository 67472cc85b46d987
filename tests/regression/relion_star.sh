#!/usr/bin/env bash
# RELION's conventions that pairpose's STAR files rely on (docs/conventions.md), measured on
# RELION itself: relion_project is given a map of one Gaussian blob and a RELION 3.1 STAR of
# angles and rlnOriginXAngst/YAngst; the script checks where the blob lands in each image.
#  - shift: the blob (the particle) lands at −origin / pixel size from the image centre (n/2);
#  - projection: a blob at p voxels from the box centre lands at (A·p)_x,y (method.md §2 test
#    vector: p = (12, −5, 7) at (rot, tilt, psi) = (30°, 50°, 70°) → (−9.81, −3.26));
#  - the output STAR is RELION 3.1 (data_optics + data_particles, names N@<--o>.mrcs).
# The pairpose side (reading relion_project's output, writing files relion_reconstruct accepts)
# is the unit test unit_io_star_relion. Skips (77) without relion_project or python3 + mrcfile.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
if ! command -v relion_project >/dev/null 2>&1; then
  echo "skipped: relion_project is not on the PATH"; exit 77
fi
if ! "$PY" -c "import numpy, mrcfile" >/dev/null 2>&1; then
  echo "skipped: $PY with numpy and mrcfile is not available"; exit 77
fi

work=$(pwd)/relion_star_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$PY" - <<'EOF'
import numpy as np, mrcfile
n = 32
z, y, x = np.mgrid[0:n, 0:n, 0:n] - n / 2
for name, c in (("centre", (0, 0, 0)), ("offset", (12, -5, 7))):
    v = np.exp(-((x - c[0])**2 + (y - c[1])**2 + (z - c[2])**2) / (2 * 1.5**2))
    with mrcfile.new(name + ".mrc", overwrite=True) as m:
        m.set_data(v.astype(np.float32))
        m.voxel_size = 2.0
EOF

cat > angles.star <<'EOF'
# version 30001
data_optics
loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnImagePixelSize #3
_rlnImageSize #4
_rlnImageDimensionality #5
_rlnVoltage #6
_rlnSphericalAberration #7
_rlnAmplitudeContrast #8
1 opticsGroup1 2.0 32 2 300 2.7 0.1

# version 30001
data_particles
loop_
_rlnAngleRot #1
_rlnAngleTilt #2
_rlnAnglePsi #3
_rlnOriginXAngst #4
_rlnOriginYAngst #5
_rlnOpticsGroup #6
0 0 0 6.0 0.0 1
0 0 0 0.0 -4.0 1
30 50 70 0 0 1
30 50 70 3.0 5.0 1
EOF

for map in centre offset; do
  relion_project --i $map.mrc --o $map --ang angles.star --angpix 2 > $map.log 2>&1 ||
    { cat $map.log; echo "relion_project failed on $map.mrc"; exit 1; }
done
grep -q '^data_optics' centre.star || { echo "relion_project wrote no data_optics"; exit 1; }
grep -q '000001@centre.mrcs' centre.star || { echo "unexpected image names"; exit 1; }

"$PY" - <<'EOF'
import numpy as np, mrcfile, sys
def peaks(path):
    d = mrcfile.open(path).data.astype(float)
    n = d.shape[-1]
    yy, xx = np.mgrid[0:n, 0:n] - n / 2
    out = []
    for im in d:
        w = np.where(im > 0.3 * im.max(), im, 0)
        out.append(((w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()))
    return np.array(out)
# Expected blob centres in pixels from the image centre: (A·p)_xy − origin / 2 Å.
expected = {
    "centre.mrcs": [(-3, 0), (0, 2), (0, 0), (-1.5, -2.5)],
    "offset.mrcs": [(12 - 3, -5), (12, -5 + 2), (-9.81, -3.26), (-9.81 - 1.5, -3.26 - 2.5)],
}
ok = True
for path, exp in expected.items():
    got = peaks(path)
    for i, (g, e) in enumerate(zip(got, exp)):
        good = np.hypot(*(g - np.array(e))) < 0.1
        ok = ok and good
        print(f"{path} image {i + 1}: blob at ({g[0]:+.2f}, {g[1]:+.2f}) px, expected "
              f"({e[0]:+.2f}, {e[1]:+.2f}) {'ok' if good else 'MISMATCH'}")
sys.exit(0 if ok else 1)
EOF
echo "RELION conventions confirmed"
