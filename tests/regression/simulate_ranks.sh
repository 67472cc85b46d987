#!/usr/bin/env bash
# pairpose simulate at 1 and 2 ranks writes byte-identical images (issue "simulate"): two maps
# (5j0n and a blob map) into one dataset, CTF, shifts and noise, small batches so that ranks
# write in several rounds. Compares every /particles array of the two HDF5 files, and the
# exported MRC stacks byte for byte; checks the map index is recorded (both maps used, names
# stored, rlnClassNumber exported) and that the noise is white at the requested SNR. Skips (77) without h5py/mrcfile or the shared map.
set -euo pipefail
PY=${PAIRPOSE_PYTHON:-/usr/bin/python3}
MAP=${PAIRPOSE_SHARED_DATA:-../shared/data}/5j0n.mrc
"$PY" -c "import numpy, mrcfile, h5py" 2>/dev/null || { echo "skipped: no numpy/mrcfile/h5py"; exit 77; }
[ -f "$MAP" ] || { echo "skipped: $MAP is absent"; exit 77; }

work=$(pwd)/simulate_ranks_work
rm -rf "$work" && mkdir -p "$work" && cd "$work"

"$PY" - <<'PYTHON'
import numpy as np, mrcfile
n = 60
z, y, x = np.mgrid[0:n, 0:n, 0:n] - n / 2
v = np.exp(-((x - 8)**2 + y**2 + (z + 5)**2) / 30) + 0.5 * np.exp(-((x + 6)**2 + (y - 9)**2 + z**2) / 12)
with mrcfile.new("blobs.mrc", overwrite=True) as f:
    f.set_data(v.astype(np.float32)); f.voxel_size = 275.0 / 75
PYTHON

for np in 1 2; do
  "$PAIRPOSE_MPIEXEC" -np $np --oversubscribe "$PAIRPOSE_BIN" simulate \
    --set simulate.maps="[\"$MAP\", \"blobs.mrc\"]" --set simulate.n_particles=301 \
    --set simulate.image_size=64 --set simulate.pixel_size=4.4 --set simulate.ctf=true \
    --set simulate.astigmatism_max=1500 --set simulate.shift_max=12 --set simulate.snr=0.3 \
    --set simulate.views=half --set simulate.batch_size=40 --set simulate.threads=2 \
    --set simulate.output=np$np.h5 --set simulate.export_star=np$np/particles.star
done
cmp np1/particles.mrcs np2/particles.mrcs
# The same particles without noise: the noise must be white at the requested SNR.
"$PAIRPOSE_BIN" simulate \
  --set simulate.maps="[\"$MAP\", \"blobs.mrc\"]" --set simulate.n_particles=301 \
  --set simulate.image_size=64 --set simulate.pixel_size=4.4 --set simulate.ctf=true \
  --set simulate.astigmatism_max=1500 --set simulate.shift_max=12 --set simulate.snr=0 \
  --set simulate.views=half --set simulate.output=clean.h5

"$PY" - <<'PYTHON'
import sys, h5py, numpy as np
a, b = h5py.File("np1.h5", "r"), h5py.File("np2.h5", "r")
ok = True
for key in a["particles"]:
    same = a["particles"][key][()].tobytes() == b["particles"][key][()].tobytes()
    print(f"/particles/{key}: {'identical' if same else 'DIFFERENT'}")
    ok &= same
maps = a["particles/map_index"][()].ravel()
counts = np.bincount(maps, minlength=2)
print(f"map index counts {counts.tolist()}")
ok &= len(counts) == 2 and counts.min() > 100
images = a["particles/images"][()]
ok &= images.shape == (301, 64, 64) and float(images.std()) > 0
clean = h5py.File("clean.h5", "r")["particles/images"][()].astype(np.float64)
noise = images.astype(np.float64) - clean
snr = clean.var() / noise.var()
lag = float((noise[:, :, 1:] * noise[:, :, :-1]).mean() / noise.var())
print(f"measured SNR {snr:.4f} (requested 0.3), neighbour correlation of the noise {lag:.4f}")
ok &= abs(snr / 0.3 - 1) < 0.05 and abs(lag) < 0.02
star = open("np1/particles.star").read()
ok &= "_rlnClassNumber" in star
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PYTHON
