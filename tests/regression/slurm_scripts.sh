#!/usr/bin/env bash
# jobs/slurm/*.sbatch: every script parses (bash -n), carries the #SBATCH lines a site adapts
# (nodes, ranks, cpus-per-task, memory, time), sets OMP_NUM_THREADS from SLURM_CPUS_PER_TASK and
# OPENBLAS_NUM_THREADS=1, and launches pairpose with srun. Then each stage script of this build
# runs a tiny input as Slurm would, with a fake `srun` on PATH (mpiexec -n $SLURM_NTASKS) and
# SLURM_* set: simulate, pairs, recover, gauge, reconstruct, evaluate, and run.sbatch.
set -uo pipefail
bin="$PAIRPOSE_BIN"
slurm="$PAIRPOSE_SOURCE_DIR/jobs/slurm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0

scripts=$(ls "$slurm"/*.sbatch)
for f in $scripts; do
  name=$(basename "$f" .sbatch)
  bash -n "$f" || { echo "FAIL: $name.sbatch: syntax"; fail=1; }
  for pattern in '^#SBATCH --nodes=' '^#SBATCH --ntasks' '^#SBATCH --cpus-per-task=' \
      '^#SBATCH --mem' '^#SBATCH --time=' '^export OMP_NUM_THREADS=\${SLURM_CPUS_PER_TASK' \
      '^export OPENBLAS_NUM_THREADS=1$' '^# module load' "^srun \"\$PAIRPOSE_BIN\" $name "; do
    grep -q -- "$pattern" "$f" || { echo "FAIL: $name.sbatch lacks /$pattern/"; fail=1; }
  done
  # No command before the last #SBATCH line (sbatch stops reading options at the first one).
  last=$(grep -n '^#SBATCH' "$f" | tail -1 | cut -d: -f1)
  if head -n "$last" "$f" | grep -v '^#' | grep -q '[^[:space:]]'; then
    echo "FAIL: $name.sbatch has a command before its last #SBATCH line"; fail=1
  fi
done
for stage in simulate pairs recover gauge reconstruct evaluate train embed run; do
  [ -f "$slurm/$stage.sbatch" ] || { echo "FAIL: no jobs/slurm/$stage.sbatch"; fail=1; }
done

# A fake srun: what Slurm's would do on one node, plus a log of the environment it saw.
mkdir bin
cat >bin/srun <<EOF2
#!/usr/bin/env bash
echo "srun: ntasks=\$SLURM_NTASKS omp=\$OMP_NUM_THREADS openblas=\$OPENBLAS_NUM_THREADS \$*" >>"$work/srun.log"
exec "$PAIRPOSE_MPIEXEC" -n "\$SLURM_NTASKS" --oversubscribe "\$@"
EOF2
chmod +x bin/srun
export PATH="$work/bin:$PATH" SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=3 SLURM_JOB_ID=1234
export SLURM_SUBMIT_DIR="$work" PAIRPOSE_BIN="$bin"

cat >tiny.toml <<'EOF2'
[run]
folder = "r"
[phantom]
output = "phantom.mrc"
box = 24
voxel_size = 4.0
[simulate]
maps = ["phantom.mrc"]
output = "d.h5"
n_particles = 150
[pairs]
dataset = "d.h5"
budget = 20
source = "exact"
[recover]
dataset = "d.h5"
max_iterations = 30
[gauge]
dataset = "d.h5"
n_images = 60
n_pairs = 300
grid_spacing = 30.0
n_refine = 1
[reconstruct]
input = "d.h5"
output = "map.mrc"
[evaluate]
dataset = "d.h5"
summary = "evaluate.json"
map = "map.mrc"
EOF2
"$bin" phantom tiny.toml >out 2>&1 || { echo "FAIL: phantom"; cat out; exit 1; }
have=$("$bin" --help | awk '/^stages:/{on=1; next} on && NF==0{on=0} on{print $1}')
for stage in simulate pairs recover gauge reconstruct evaluate; do
  if ! echo "$have" | grep -qx "$stage"; then echo "note: no stage $stage in this build"; continue; fi
  if ! bash "$slurm/$stage.sbatch" tiny.toml >out 2>&1; then
    echo "FAIL: $stage.sbatch"; cat out; fail=1
  fi
done
[ -f map.mrc ] && [ -f evaluate.json ] || { echo "FAIL: the stage scripts left no map or summary"; fail=1; }
if ! bash "$slurm/run.sbatch" tiny.toml --set run.stages=phantom,simulate >out 2>&1 ||
    ! grep -q "pairpose run tiny.toml: done" out || [ ! -f r/stages/simulate.toml ]; then
  echo "FAIL: run.sbatch"; cat out; fail=1
fi
n=$(grep -c "ntasks=2 omp=3 openblas=1 " srun.log)
[ "$n" -ge 2 ] || { echo "FAIL: srun saw another environment:"; cat srun.log; fail=1; }
if bash "$slurm/recover.sbatch" >out 2>&1 || ! grep -q "usage: sbatch" out; then
  echo "FAIL: a script without a parameter file does not stop with its usage"; cat out; fail=1
fi
[ $fail -eq 0 ] && echo "slurm_scripts: all checks passed"
exit $fail
