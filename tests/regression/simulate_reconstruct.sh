#!/usr/bin/env bash
# pairpose simulate's RELION export is usable by RELION (issue "simulate"): 2,000 noiseless
# projections of 5j0n (uniform angles, shifts up to 10 Å) exported as RELION 3.1 STAR + MRCS,
# reconstructed by relion_reconstruct; the map's FSC with the input (padded to the same 76³ cube)
# must stay ≥ 0.9 up to half the Nyquist frequency (shell 19 of 38). A control reconstruction
# with the shifts' sign flipped in the STAR must fail the same criterion. FSC computed with numpy
# (independent of pairpose's evaluate/fsc). Skips (77) without relion_reconstruct, python or map.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MAP=${PAIRPOSE_SHARED_DATA:-../shared/data}/5j0n.mrc
command -v relion_reconstruct >/dev/null 2>&1 || { echo "skipped: no relion_reconstruct"; exit 77; }
"$PY" -c "import numpy, mrcfile" 2>/dev/null || { echo "skipped: no numpy/mrcfile"; exit 77; }
[ -f "$MAP" ] || { echo "skipped: $MAP is absent"; exit 77; }

work=$(pwd)/simulate_reconstruct_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$PAIRPOSE_BIN" simulate --set simulate.maps="[\"$MAP\"]" --set simulate.n_particles=2000 \
  --set simulate.image_size=76 --set simulate.shift_max=10 --set simulate.seed=11 \
  --set simulate.output=sim.h5 --set simulate.export_star=export/particles.star
[ -f sim.h5 ] && [ -f export/particles.star ] && [ -f export/particles.mrcs ]

# Control: the same STAR with the shifts negated (wrong sign convention) must reconstruct worse.
"$PY" - <<'PYTHON'
lines = open("export/particles.star").read().splitlines()
out, labels, in_particles = [], [], False
for l in lines:
    s = l.strip()
    if s.startswith("data_particles"):
        in_particles = True
    if in_particles and s.startswith("_rln"):
        labels.append(s.split()[0])
    if in_particles and "@" in s:
        v = s.split()
        for name in ("_rlnOriginXAngst", "_rlnOriginYAngst"):
            i = labels.index(name)
            v[i] = "%.6f" % -float(v[i])
        l = " ".join(v)
    out.append(l)
open("export/flipped.star", "w").write("\n".join(out) + "\n")
PYTHON

(cd export && relion_reconstruct --i particles.star --o ../rec.mrc > ../rec.log 2>&1)
(cd export && relion_reconstruct --i flipped.star --o ../flipped.mrc > ../flipped.log 2>&1)

"$PY" - "$MAP" <<'PYTHON'
import sys, numpy as np, mrcfile
with mrcfile.open(sys.argv[1]) as f:
    m = f.data.astype(np.float64)
n = 76
truth = np.zeros((n, n, n))
o = [n // 2 - s // 2 for s in m.shape]
truth[o[0]:o[0] + m.shape[0], o[1]:o[1] + m.shape[1], o[2]:o[2] + m.shape[2]] = m

def fsc(a, b):
    fa, fb = np.fft.rfftn(a), np.fft.rfftn(b)
    k = [np.fft.fftfreq(n) * n] * 2 + [np.fft.rfftfreq(n) * n]
    kz, ky, kx = np.meshgrid(*k, indexing="ij")
    shell = np.rint(np.sqrt(kx**2 + ky**2 + kz**2)).astype(int).ravel()
    keep = shell <= n // 2
    def per_shell(x):
        return np.bincount(shell[keep], x.ravel()[keep], minlength=n // 2 + 1)
    return per_shell((fa * fb.conj()).real) / np.sqrt(per_shell(abs(fa)**2) * per_shell(abs(fb)**2))

ok = True
for name, expect_pass in (("rec.mrc", True), ("flipped.mrc", False)):
    with mrcfile.open(name) as f:
        rec = f.data.astype(np.float64)
    curve = fsc(rec, truth)
    half = n // 4  # half of the Nyquist shell n/2
    worst = curve[1:half + 1].min()
    print(f"{name}: FSC with the input, min over shells 1..{half} = {worst:.4f}; "
          f"shells 5/10/15/19/25/38: " + " ".join(f"{curve[s]:.3f}" for s in (5, 10, 15, 19, 25, 38)))
    ok &= (worst >= 0.9) == expect_pass
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PYTHON
