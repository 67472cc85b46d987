#!/usr/bin/env bash
# pairpose simulate against relion_project (issue "simulate"). Random angles and shifts are made
# by relion_project --nr_uniform; random astigmatic CTFs are added to its STAR; then both programs
# project the same cubic map (5j0n padded, centred, to 76³) at the same angles, shifts and CTFs.
# Every image pair must correlate ≥ 0.99, CTF on and off, while mismatched pairs must not (so the
# check can fail). Round trip as well: relion_project on pairpose's exported STAR reproduces
# pairpose's exported stack. Skips (77) without relion_project, python (numpy, mrcfile) or the
# shared map.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MAP=${PAIRPOSE_SHARED_DATA:-../shared/data}/5j0n.mrc
command -v relion_project >/dev/null 2>&1 || { echo "skipped: no relion_project"; exit 77; }
"$PY" -c "import numpy, mrcfile" 2>/dev/null || { echo "skipped: no numpy/mrcfile"; exit 77; }
[ -f "$MAP" ] || { echo "skipped: $MAP is absent"; exit 77; }

work=$(pwd)/simulate_relion_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

# The cubic map both programs read: 5j0n padded to 76³, voxel (nx/2, ny/2, nz/2) at 38.
"$PY" - "$MAP" <<'PYTHON'
import sys, numpy as np, mrcfile
with mrcfile.open(sys.argv[1]) as f:
    m, voxel = f.data.astype(np.float32), float(f.voxel_size.x)
n = 76
out = np.zeros((n, n, n), np.float32)
o = [n // 2 - s // 2 for s in m.shape]
out[o[0]:o[0] + m.shape[0], o[1]:o[1] + m.shape[1], o[2]:o[2] + m.shape[2]] = m
with mrcfile.new("cube.mrc", overwrite=True) as f:
    f.set_data(out)
    f.voxel_size = voxel
PYTHON

# Random angles and shifts (pixels) from RELION itself; rewrite as a RELION 3.1 STAR with shifts
# in Å and per-particle CTFs.
relion_project --i cube.mrc --o uniform --nr_uniform 40 --sigma_offset 3 > relion_uniform.log
"$PY" - <<'PYTHON'
import numpy as np
rng = np.random.default_rng(5)
text = open("uniform.star").read()
particles = text[text.index("data_particles"):]
labels = [l.split()[0][1:] for l in particles.splitlines() if l.strip().startswith("_rln")]
rows = [dict(zip(labels, l.split())) for l in particles.splitlines() if "@" in l]
pixel = 3.6666667
with open("angles.star", "w") as f:
    f.write("# version 30001\ndata_optics\nloop_\n_rlnOpticsGroup\n_rlnOpticsGroupName\n"
            "_rlnVoltage\n_rlnSphericalAberration\n_rlnAmplitudeContrast\n_rlnImagePixelSize\n"
            "_rlnImageSize\n_rlnImageDimensionality\n1 optics1 300.0 2.7 0.1 %.7f 76 2\n\n"
            "# version 30001\ndata_particles\nloop_\n" % pixel)
    for l in ("ImageName", "AngleRot", "AngleTilt", "AnglePsi", "OriginXAngst", "OriginYAngst",
              "DefocusU", "DefocusV", "DefocusAngle", "OpticsGroup"):
        f.write("_rln%s\n" % l)
    for r in rows:
        du = rng.uniform(10000, 25000)
        dv = du - rng.uniform(0, 2000)
        f.write("%s %s %s %s %.6f %.6f %.2f %.2f %.3f 1\n" % (
            r["rlnImageName"], r["rlnAngleRot"], r["rlnAngleTilt"], r["rlnAnglePsi"],
            float(r["rlnOriginX"]) * pixel, float(r["rlnOriginY"]) * pixel, du, dv,
            rng.uniform(0, 180)))
PYTHON

relion_project --i cube.mrc --o relion_ctf --ang angles.star --ctf > relion_ctf.log
relion_project --i cube.mrc --o relion_plain --ang angles.star > relion_plain.log
"$PAIRPOSE_BIN" simulate --set simulate.maps='["cube.mrc"]' --set simulate.star=angles.star \
  --set simulate.ctf=true --set simulate.output=ctf.h5 --set simulate.export_star=pp_ctf.star
"$PAIRPOSE_BIN" simulate --set simulate.maps='["cube.mrc"]' --set simulate.star=angles.star \
  --set simulate.ctf=false --set simulate.output=plain.h5 --set simulate.export_star=pp_plain.star
relion_project --i cube.mrc --o relion_roundtrip --ang pp_ctf.star --ctf > relion_roundtrip.log

"$PY" - <<'PYTHON'
import sys, numpy as np, mrcfile
def corr(a, b):
    a = a - a.mean(); b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
ok = True
for mine, theirs in (("pp_ctf.mrcs", "relion_ctf.mrcs"), ("pp_plain.mrcs", "relion_plain.mrcs"),
                     ("pp_ctf.mrcs", "relion_roundtrip.mrcs")):
    a = mrcfile.open(mine).data
    b = mrcfile.open(theirs).data
    if a.shape != b.shape or len(a) != 40:
        print(f"FAIL {mine} {a.shape} vs {theirs} {b.shape}")
        ok = False
        continue
    c = np.array([corr(a[i], b[i]) for i in range(len(a))])
    wrong = np.array([corr(a[i], b[(i + 1) % len(b)]) for i in range(len(a))])
    scale = float((a * b).sum() / (a * a).sum())
    print(f"{mine} vs {theirs}: {len(a)} images, correlation min {c.min():.6f} "
          f"mean {c.mean():.6f}; mismatched pairs max {wrong.max():.3f}; amplitude ratio "
          f"{scale:.4f}")
    ok &= bool(c.min() >= 0.99) and bool(wrong.max() < 0.99)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PYTHON
