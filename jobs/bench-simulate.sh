#!/usr/bin/env bash
# Benchmark of `pairpose simulate` against relion_project (issue "simulate"); results go to the
# "simulate" section of docs/benchmarks.md.
#
# For each image size n in SIZES: 5j0n is put in an n³ cube (padded, centred; for n below the
# map's 75 voxels it is first resampled to fit, with relion_image_handler --rescale_angpix), and
# both programs project that same file at n px with the same angles, shifts and CTFs (pairpose
# draws them and exports a STAR; relion_project reads that STAR) and white noise:
#  - pairpose simulate at 1 and 2 ranks (threads = 1): whole run (reading, 3D FFT, projecting,
#    noise, writing the HDF5 dataset) and the projector alone (its "project" timer, max over
#    ranks: slice + CTF + shift + inverse FFT);
#    and the stage alone (its "total" timer, max over ranks: the same work without mpiexec, process
#    start-up and MPI_Init/Finalize, which cost ~0.2 s a run here whatever the number of ranks);
#  - relion_project --ctf --add_noise --white_noise (single-threaded), whose time includes
#    writing its MRC stack, as pairpose's whole-run time includes writing its dataset.
# Rates are projections per second; per core = rate / ranks.
#
# Usage: jobs/bench-simulate.sh [build folder]   (env: N=2000 particles, SIZES="64 116 128",
#   REPEAT=3 interleaved runs of each program, medians reported; each run's times on stderr)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-sim}
bin=$build/pairpose
map=${PAIRPOSE_SHARED_DATA:-$here/../shared/data}/5j0n.mrc
py=/usr/bin/python3
n_particles=${N:-2000}
sizes=${SIZES:-"64 116 128"}
source "$here/jobs/setup.sh"
pairpose_mpi_environment # root, one node: pml ob1 + btl self,vader (see jobs/setup.sh)
export OMP_NUM_THREADS=1
work=${TMPDIR:-/tmp}/bench-simulate.$$
mkdir -p "$work" && cd "$work"
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
# cpu COMMAND...: runs it, appends "wall_s cpu_s" (CPU = user + system of it and its children,
# which includes every MPI rank started by mpiexec) to times.txt.
cpu() {
  local t0 t1
  t0=$(now)
  /usr/bin/time -f "%U %S" -o cpu.txt "$@"
  t1=$(now)
  echo "$("$py" -c "print($t1 - $t0)") $(awk '{print $1 + $2}' cpu.txt)" > times.txt
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
repeat=${REPEAT:-3}
rate() { "$py" -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):.0f}')" "$@"; }

echo "# bench-simulate: $(date -u '+%Y-%m-%d %H:%M UTC'), $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# MPI: pml $OMPI_MCA_pml, btl $OMPI_MCA_btl"
echo "# N = $n_particles particles, CTF + shifts (≤ 10 Å) + white noise (SNR 0.1)"
echo
echo "# rates: projections per wall-clock second (in brackets: per CPU second, all processes)"
echo "| n px | pairpose 1 rank, whole run | pairpose 1 rank, projector | pairpose 2 ranks, whole run | pairpose 2 ranks, projector | relion_project (1 core, incl. writing) | pairpose/relion per core, whole run (wall / CPU) | speed-up 1→2 ranks (projector / whole, wall) | stage alone, 1 / 2 ranks (speed-up) |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in $sizes; do
  "$py" - "$map" "$n" <<'PYTHON'
import sys, numpy as np, mrcfile
with mrcfile.open(sys.argv[1]) as f:
    m, voxel = f.data.astype(np.float32), float(f.voxel_size.x)
n = int(sys.argv[2])
side = max(n, max(m.shape) + 1)
side += side % 2
out = np.zeros((side, side, side), np.float32)
o = [side // 2 - s // 2 for s in m.shape]
out[o[0]:o[0] + m.shape[0], o[1]:o[1] + m.shape[1], o[2]:o[2] + m.shape[2]] = m
with mrcfile.new("padded.mrc", overwrite=True) as f:
    f.set_data(out)
    f.voxel_size = voxel
PYTHON
  side=$("$py" -c "import mrcfile; print(mrcfile.open('padded.mrc').data.shape[0])")
  if [ "$side" -gt "$n" ]; then
    angpix=$("$py" -c "import mrcfile; v=float(mrcfile.open('padded.mrc').voxel_size.x); print(v * $side / $n)")
    relion_image_handler --i padded.mrc --o cube.mrc --rescale_angpix "$angpix" --new_box "$n" \
      > /dev/null 2>&1
  else
    cp padded.mrc cube.mrc
  fi
  common=(--set simulate.maps='["cube.mrc"]' --set simulate.n_particles=$n_particles
          --set simulate.image_size=$n --set simulate.ctf=true --set simulate.astigmatism_max=1000
          --set simulate.shift_max=10 --set simulate.snr=0.1 --set simulate.threads=1)
  # The angles, shifts and CTFs for relion_project (untimed run with the same seed).
  "$bin" simulate "${common[@]}" --set simulate.output=star.h5 \
    --set simulate.export_star=angles.star > star.log 2>&1
  # REPEAT interleaved runs of each program (default 3); the median of each figure is reported
  # (the machine's memory speed varies from minute to minute by up to ±20 %).
  declare -A whole proj cpurate
  declare -A w_runs c_runs p_runs t_runs stage
  w_runs=() c_runs=() p_runs=() t_runs=()
  r_runs="" rc_runs=""
  angpix=$(awk '/^ *1 opticsGroup1/ {print $6}' angles.star)
  for ((rep = 1; rep <= repeat; rep++)); do
    for np in 1 2; do
      # Each run starts without the previous run's output (as relion_project's below): replacing
      # a file makes the new one take fresh page-cache memory while the old is still cached, and
      # on this VM first-touched memory costs ~3 ms per MB (docs/benchmarks.md, simulate).
      rm -f np$np.h5
      cpu mpiexec -np $np --oversubscribe "$bin" simulate "${common[@]}" \
        --set simulate.output=np$np.h5 > np$np.log 2>&1
      w_runs[$np]+=" $(cut -d' ' -f1 times.txt)"
      c_runs[$np]+=" $(cut -d' ' -f2 times.txt)"
      # "project" timer line: name, min over ranks, max over ranks.
      p_runs[$np]+=" $(awk '$1 == "project" {print $3}' np$np.log)"
      t_runs[$np]+=" $(awk '$1 == "total" {print $3}' np$np.log)"
    done
    sigma=$(grep -o "noise sigma [0-9.e+-]*" np1.log | awk '{print $3}')
    rm -f relion.mrcs relion.star
    cpu relion_project --i cube.mrc --o relion --ang angles.star --ctf --add_noise \
      --white_noise "$sigma" --angpix "$angpix" > relion.log 2>&1
    r_runs+=" $(cut -d' ' -f1 times.txt)"
    rc_runs+=" $(cut -d' ' -f2 times.txt)"
  done
  for np in 1 2; do
    whole[$np]=$(rate $n_particles "$(median ${w_runs[$np]})")
    cpurate[$np]=$(rate $n_particles "$(median ${c_runs[$np]})")
    proj[$np]=$(rate $n_particles "$(median ${p_runs[$np]})")
    stage[$np]=$(rate $n_particles "$(median ${t_runs[$np]})")
    echo "#   $n px, $np rank(s): wall s per run:${w_runs[$np]}; stage s:${t_runs[$np]}; projector s:${p_runs[$np]}" >&2
  done
  echo "#   $n px, relion_project: wall s per run:$r_runs" >&2
  relion=$(rate $n_particles "$(median $r_runs)")
  relion_cpu=$(rate $n_particles "$(median $rc_runs)")
  ratio=$("$py" -c "print(f'{${whole[1]} / $relion:.1f}x / {${cpurate[1]} / $relion_cpu:.1f}x')")
  speedup=$("$py" -c "print(f'{${proj[2]} / ${proj[1]}:.2f}x / {${whole[2]} / ${whole[1]}:.2f}x')")
  staged=$("$py" -c "print(f'{${stage[2]} / ${stage[1]}:.2f}x')")
  echo "| $n | ${whole[1]}/s (${cpurate[1]}) | ${proj[1]}/s | ${whole[2]}/s (${cpurate[2]}) | ${proj[2]}/s | $relion/s ($relion_cpu) | $ratio | $speedup | ${stage[1]}/s / ${stage[2]}/s ($staged) |"
done
echo
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
