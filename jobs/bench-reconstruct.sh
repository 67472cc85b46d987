#!/usr/bin/env bash
# Benchmark of `pairpose reconstruct` against relion_reconstruct (docs/benchmarks.md, section
# "reconstruct"): 5,000 noiseless projections of 5j0n at 116 px (the map padded, centred, to a
# 116³ cube; 3.667 Å voxels) made by relion_project --nr_uniform; the same STAR + MRCS
# reconstructed by relion_reconstruct (1 process) and by pairpose at 1 and 2 ranks, wall times of
# the whole commands; then FSC(pairpose, relion) per shell and the largest difference between
# pairpose's 1- and 2-rank maps.
#   jobs/bench-reconstruct.sh [folder=/tmp/pairpose-bench-reconstruct] [n_particles=5000]
# REPEAT (default 3): runs of relion_reconstruct and of pairpose at 1 and 2 ranks, interleaved;
# the medians are compared.
# Environment: PAIRPOSE_BUILD_DIR (default build/), PAIRPOSE_SHARED_DATA (default ../shared/data),
# PAIRPOSE_SKIP_BUILD=1 to use the executable already built there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
folder="${1:-/tmp/pairpose-bench-reconstruct}"
n_particles="${2:-5000}"
pairpose_mpi_environment
build="${PAIRPOSE_BUILD_DIR:-$PAIRPOSE_ROOT/build}"
data="${PAIRPOSE_SHARED_DATA:-$PAIRPOSE_ROOT/../shared/data}"
PY=/usr/bin/python3
if [ -z "${PAIRPOSE_SKIP_BUILD:-}" ]; then
  cmake -S "$PAIRPOSE_ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "${PAIRPOSE_JOBS:-$(nproc)}" --target pairpose >/dev/null
fi
mkdir -p "$folder" && cd "$folder"

"$PY" - "$data/5j0n.mrc" <<'EOF'
import sys, numpy as np, mrcfile
with mrcfile.open(sys.argv[1]) as m:
    d, voxel = m.data.astype(np.float32), float(m.voxel_size.x)
n = 116
cube = np.zeros((n, n, n), np.float32)
lo = [n // 2 - s // 2 for s in d.shape]
cube[lo[0]:lo[0] + d.shape[0], lo[1]:lo[1] + d.shape[1], lo[2]:lo[2] + d.shape[2]] = d
with mrcfile.new("5j0n_116.mrc", overwrite=True) as m:
    m.set_data(cube)
    m.voxel_size = voxel
print(f"5j0n {d.shape[::-1]} -> {n}^3 cube, {voxel:.4f} A voxels")
EOF
angpix=$("$PY" -c "import mrcfile; print(float(mrcfile.open('5j0n_116.mrc').voxel_size.x))")

# Wall seconds of a command; its output goes to $log.
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
log=project.log
t_project=$(seconds relion_project --i 5j0n_116.mrc --o proj --nr_uniform "$n_particles" --angpix "$angpix")
# The memory system of this (virtual) machine varies from minute to minute: the same run can
# take 20 % more or less. Each program therefore runs REPEAT times (default 3), the runs
# interleaved, and the median wall time is reported next to every run's.
repeat="${REPEAT:-3}"
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
runs_relion=() runs_np1=() runs_np2=()
for ((rep = 1; rep <= repeat; rep++)); do
  log=relion.log
  runs_relion+=("$(seconds relion_reconstruct --i proj.star --o relion.mrc --angpix "$angpix")")
  for np in 1 2; do
    log=pairpose_np$np.log
    [ "$rep" -gt 1 ] && log=pairpose_np$np.rep$rep.log
    t=$(seconds mpiexec -n "$np" /usr/bin/time -f "cpu: user %U s" "$build/pairpose" reconstruct \
      --set reconstruct.input=proj.star --set reconstruct.output=pairpose_np$np.mrc)
    if [ "$np" = 1 ]; then runs_np1+=("$t"); else runs_np2+=("$t"); fi
  done
done
t_relion=$(median "${runs_relion[@]}")
t_np1=$(median "${runs_np1[@]}")
t_np2=$(median "${runs_np2[@]}")
log=pairpose_nopad.log
t_nopad=$(seconds mpiexec -n 1 "$build/pairpose" reconstruct --set reconstruct.input=proj.star \
  --set reconstruct.output=pairpose_nopad.mrc --set reconstruct.pad_images=false)

echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(date -u +%Y-%m-%d), $n_particles images of 116 px"
echo "relion_project:       $t_project s"
echo "wall seconds, median of $repeat interleaved runs (each run in brackets):"
echo "relion_reconstruct:   $t_relion s (${runs_relion[*]})"
echo "pairpose, 1 rank:     $t_np1 s (${runs_np1[*]})"
echo "pairpose, 2 ranks:    $t_np2 s (${runs_np2[*]}) (speed-up of the medians $(echo "scale=2; $t_np1 / $t_np2" | bc))"
echo "pairpose, 1 rank, pad_images = false: $t_nopad s"
# The machine is shared and the kernel groups a session's processes (autogroup), so a second
# rank need not get a second core: CPU seconds per rank show the speed-up the work allows.
cpu1=$(grep -o "cpu: user [0-9.]*" pairpose_np1.log | awk '{print $3}')
cpu2=$(grep -o "cpu: user [0-9.]*" pairpose_np2.log | awk '{print $3}' | sort -g | tail -n 1)
echo "pairpose CPU seconds: 1 rank $cpu1 s, 2 ranks $cpu2 s (busiest rank; speed-up $(echo "scale=2; $cpu1 / $cpu2" | bc))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for ranks in 1 2; do
  echo "pairpose timers ($ranks rank(s)):"
  grep -E "^ *(read|insert|finish|write) " pairpose_np$ranks.log || tail -n 8 pairpose_np$ranks.log
done
"$PY" - <<'EOF'
import numpy as np, mrcfile
def load(p): return mrcfile.open(p).data.astype(np.float64)
def fsc(a, b):
    n = a.shape[0]
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    k = np.fft.fftfreq(n) * n
    r = np.rint(np.sqrt(k[:, None, None]**2 + k[None, :, None]**2 + k[None, None, :]**2)).astype(int)
    num = np.bincount(r.ravel(), (fa * fb.conj()).real.ravel())
    den = np.sqrt(np.bincount(r.ravel(), (abs(fa)**2).ravel()) * np.bincount(r.ravel(), (abs(fb)**2).ravel()))
    return num[: n // 2 + 1] / den[: n // 2 + 1]
p1, p2, r = load("pairpose_np1.mrc"), load("pairpose_np2.mrc"), load("relion.mrc")
n = p1.shape[0]
f = fsc(p1, r)
for name, a, b in (("pairpose, relion", p1, r), ("pairpose pad_images=false, relion",
                   load("pairpose_nopad.mrc"), r), ("pairpose, true map", p1, load("5j0n_116.mrc")),
                   ("relion, true map", r, load("5j0n_116.mrc"))):
    g = fsc(a, b)
    print(f"FSC({name}): min {g[1:n // 4 + 1].min():.4f} up to half Nyquist (shell {n // 4}), "
          f"min {g[1:n // 2].min():.4f} up to Nyquist")
print("FSC by shell:", " ".join(f"{s}:{f[s]:.4f}" for s in range(0, n // 2 + 1, 4)))
print(f"max |map(1 rank) - map(2 ranks)| / max |map| = {abs(p1 - p2).max() / abs(p1).max():.2e}")
EOF
