#!/usr/bin/env bash
# pairpose reconstruct against relion_reconstruct on the same STAR + MRCS (method.md §8).
# A 64³ map of Gaussian blobs (2 Å voxels) is projected by relion_project at 1,500 random
# orientations with random origins (±6 Å), once without and once with a CTF. Both programs
# reconstruct each set (pairpose on 2 ranks without CTF, on 1 rank with CTF); the script requires
#  - FSC(pairpose, relion_reconstruct) ≥ 0.99 in every shell up to half Nyquist (shell n/4),
#  - correlation of pairpose's map with the true map ≥ 0.95 inside a sphere (no CTF),
#  - the half-maps written, with FSC(half 1, half 2) ≥ 0.9 up to half Nyquist.
# Skips (77) without RELION or python3 + numpy + mrcfile.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
for tool in relion_project relion_reconstruct; do
  command -v $tool >/dev/null 2>&1 || { echo "skipped: $tool is not on the PATH"; exit 77; }
done
"$PY" -c "import numpy, mrcfile" >/dev/null 2>&1 ||
  { echo "skipped: $PY with numpy and mrcfile is not available"; exit 77; }
: "${PAIRPOSE_BIN:?PAIRPOSE_BIN must name the pairpose executable}"
MPIEXEC=${PAIRPOSE_MPIEXEC:-mpirun}

work=$(pwd)/reconstruct_relion_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

# The map and the angles (RELION 3.1 STAR: optics + particles with angles, origins, CTF).
"$PY" - <<'EOF'
import numpy as np, mrcfile
n, apix, n_particles = 64, 2.0, 1500
rng = np.random.default_rng(3)
z, y, x = np.mgrid[0:n, 0:n, 0:n] - n / 2
v = np.zeros((n, n, n))
for c, s, a in [((8, -4, 5), 3.0, 1.0), ((-9, 6, -3), 4.0, 0.8), ((3, 10, 9), 2.5, 1.2),
                ((-4, -10, -8), 3.0, 0.9), ((1, 1, -12), 2.2, 1.1), ((10, 8, -6), 2.0, 0.7)]:
    v += a * np.exp(-((x - c[0])**2 + (y - c[1])**2 + (z - c[2])**2) / (2 * s * s))
with mrcfile.new("truth.mrc", overwrite=True) as m:
    m.set_data(v.astype(np.float32))
    m.voxel_size = apix
# Uniform orientations: rot, psi uniform, cos(tilt) uniform.
rot = rng.uniform(-180, 180, n_particles)
tilt = np.degrees(np.arccos(rng.uniform(-1, 1, n_particles)))
psi = rng.uniform(-180, 180, n_particles)
ox, oy = rng.uniform(-6, 6, (2, n_particles))
du = rng.uniform(8000, 20000, n_particles)
dv = du - rng.uniform(0, 400, n_particles)
da = rng.uniform(0, 180, n_particles)
optics = ("# version 30001\ndata_optics\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n"
          "_rlnImagePixelSize #3\n_rlnImageSize #4\n_rlnImageDimensionality #5\n_rlnVoltage #6\n"
          "_rlnSphericalAberration #7\n_rlnAmplitudeContrast #8\n"
          f"1 opticsGroup1 {apix} {n} 2 300 2.7 0.1\n\n")
for name, ctf in (("plain", False), ("ctf", True)):
    cols = ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst",
            "rlnOpticsGroup"] + (["rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"] if ctf else [])
    with open(f"{name}_angles.star", "w") as f:
        f.write(optics + "# version 30001\ndata_particles\nloop_\n")
        f.writelines(f"_{c} #{i + 1}\n" for i, c in enumerate(cols))
        for i in range(n_particles):
            row = [rot[i], tilt[i], psi[i], ox[i], oy[i], 1] + ([du[i], dv[i], da[i]] if ctf else [])
            f.write(" ".join(f"{r:.6f}" if isinstance(r, float) else str(r) for r in row) + "\n")
EOF

run() { "$@" > "$(basename "$1").$$.log" 2>&1 || { cat "$(basename "$1").$$.log"; echo "failed: $*"; exit 1; }; }
for set in plain ctf; do
  flag=""
  [ $set = ctf ] && flag="--ctf"
  run relion_project --i truth.mrc --o $set --ang ${set}_angles.star --angpix 2 $flag
  t0=$(date +%s.%N)
  run relion_reconstruct --i $set.star --o relion_$set.mrc --angpix 2 $flag
  t1=$(date +%s.%N)
  ranks=1
  [ $set = plain ] && ranks=2
  run "$MPIEXEC" -n $ranks --oversubscribe "$PAIRPOSE_BIN" reconstruct \
    --set reconstruct.input=$set.star --set reconstruct.output=pairpose_$set.mrc
  t2=$(date +%s.%N)
  echo "$set: relion_reconstruct $(echo "$t1 - $t0" | bc) s, pairpose ($ranks ranks) $(echo "$t2 - $t1" | bc) s"
done

"$PY" - <<'EOF'
import numpy as np, mrcfile, sys
def load(p): return mrcfile.open(p).data.astype(np.float64)
def fsc(a, b):
    n = a.shape[0]
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    k = np.fft.fftfreq(n) * n
    r = np.rint(np.sqrt(k[:, None, None]**2 + k[None, :, None]**2 + k[None, None, :]**2)).astype(int)
    num = np.bincount(r.ravel(), (fa * fb.conj()).real.ravel())
    den = np.sqrt(np.bincount(r.ravel(), (abs(fa)**2).ravel()) * np.bincount(r.ravel(), (abs(fb)**2).ravel()))
    return num[: n // 2] / den[: n // 2]
def masked_corr(a, b):
    n = a.shape[0]
    z, y, x = np.mgrid[0:n, 0:n, 0:n] - n / 2
    m = x * x + y * y + z * z <= (n / 2 - 4) ** 2
    return np.corrcoef(a[m], b[m])[0, 1]
ok = True
truth = load("truth.mrc")
for s in ("plain", "ctf"):
    p, r = load(f"pairpose_{s}.mrc"), load(f"relion_{s}.mrc")
    n = p.shape[0]
    f = fsc(p, r)[1 : n // 4 + 1]
    h = fsc(load(f"pairpose_{s}_half1.mrc"), load(f"pairpose_{s}_half2.mrc"))[1 : n // 4 + 1]
    c = masked_corr(p, truth)
    print(f"{s}: FSC(pairpose, relion) min {f.min():.4f} to shell {n // 4}; half-maps FSC min "
          f"{h.min():.4f}; correlation with truth {c:.4f} (relion {masked_corr(r, truth):.4f})")
    ok = ok and f.min() >= 0.99 and h.min() >= 0.9 and (s == "ctf" or c >= 0.95)
sys.exit(0 if ok else 1)
EOF
echo "pairpose reconstruct agrees with relion_reconstruct"
