#!/usr/bin/env bash
# `pairpose train` killed (SIGKILL) half-way through its steps, after at least one checkpoint,
# then resumed (--set train.resume=true):
#  - while the killed run trains, a poller copies the model file and the checkpoint whenever they
#    are replaced (new inode); every copy must be a whole file (magic line, every record, the
#    FNV-1a checksum and nothing after it), i.e. neither is ever seen half-written under its name;
#  - after the kill, the model file and the checkpoint under their names are whole;
#  - the resumed run's model file equals an uninterrupted run's: the same tensors (bit-identical),
#    the same architecture and the same info records (loss and validation histories, best step,
#    figures) except the provenance, which records the resume=true setting.
# Training is deterministic at a fixed thread count (threads = 1): batches are drawn per step and
# item from the seed, and the checkpoint holds the network, the optimiser state and the step.
# Skipped (77) when the binary has no train stage (built without LibTorch).
set -uo pipefail
bin="$PAIRPOSE_BIN"
py="$PAIRPOSE_PYTHON"
"$py" -c "import mrcfile, numpy" 2>/dev/null || { echo "skipped: $py lacks mrcfile/numpy"; exit 77; }
"$bin" train --help >/dev/null 2>&1 || { echo "skipped: no train stage in $bin (no LibTorch)"; exit 77; }
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail=0

# A 24³ map of a few Gaussian blobs (an asymmetric object, so that distances are learnable).
"$py" - <<'PY'
import mrcfile, numpy as np
n = 24
z, y, x = np.mgrid[:n, :n, :n] - n / 2
m = np.zeros((n, n, n), np.float32)
for cx, cy, cz, s in [(0, 0, 0, 3), (5, 1, -2, 2), (-3, 6, 1, 2), (1, -4, 5, 1.5)]:
    m += np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * s * s))
with mrcfile.new("blobs.mrc", overwrite=True) as f:
    f.set_data(m)
    f.voxel_size = 2.0
PY

cat >run.toml <<'TOML'
[train]
source = "simulate"
maps = ["blobs.mrc"]
n_validation = 16
image_size = 16
channels = "8,16"
kernels = "3,3"
mlp_hidden = "16"
embedding_dim = 8
batch_size = 16
steps = 160
validate_every = 10
checkpoint_every = 10
n_plot_pairs = 0
threads = 1
seed = 7
TOML

# check_whole FILE...: every file is a complete model/checkpoint container (as write_model_file
# makes it); prints the failures.
cat >check_whole.py <<'PY'
import sys

def fnv1a(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

def records(b):
    magic = b"pairpose-learn 1\n"
    assert b.startswith(magic), "no magic line"
    pos, out = len(magic), {}
    while True:
        start = pos
        sp = b.index(b" ", pos)
        kind = b[pos:sp].decode()
        pos = sp + 1
        if kind == "end":
            nl = b.index(b"\n", pos)
            assert int(b[pos:nl]) == fnv1a(b[:start]), "checksum mismatch"
            assert nl + 1 == len(b), "bytes after the end record"
            return out
        assert kind in ("text", "tensor", "blob"), "unknown record " + kind
        sp = b.index(b" ", pos)
        n = int(b[pos:sp])
        name = b[sp + 1:sp + 1 + n].decode()
        pos = sp + 1 + n
        assert b[pos:pos + 1] == b" ", "bad record header"
        nl = b.index(b"\n", pos + 1)
        size = int(b[pos + 1:nl])
        payload = b[nl + 1:nl + 1 + size]
        assert len(payload) == size and b[nl + 1 + size:nl + 2 + size] == b"\n", "truncated"
        out[(kind, name)] = payload
        pos = nl + 2 + size

if __name__ == "__main__":
    bad = 0
    for path in sys.argv[1:]:
        try:
            records(open(path, "rb").read())
        except Exception as e:  # any parse failure means a partial file
            print(f"{path}: not whole: {e!r}")
            bad += 1
    sys.exit(1 if bad else 0)
PY

t0=$(date +%s%N)
"$bin" train run.toml --set train.output=ref.model >log 2>&1 || { cat log; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "uninterrupted train: 160 steps in ${ms} ms"
[ ! -e ref.model.checkpoint ] || echo "note: the checkpoint is kept after a finished run"

# The killed run: copies every new model file and checkpoint; SIGKILL half-way once at least one
# checkpoint exists.
"$bin" train run.toml --set train.output=run.model >killed.log 2>&1 &
victim=$!
pids+=($victim)
t0=$(date +%s%N)
n_copies=0 n_ckpt=0 last_model="" last_ckpt=""
while kill -0 $victim 2>/dev/null; do
  for f in run.model run.model.checkpoint; do
    [ -e "$f" ] || continue
    inode=$(stat -c %i "$f" 2>/dev/null) || continue
    if [ "$f" = run.model ] && [ "$inode" != "$last_model" ] && cp "$f" "copy$n_copies.model" 2>/dev/null; then
      last_model=$inode n_copies=$((n_copies + 1))
    fi
    if [ "$f" = run.model.checkpoint ] && [ "$inode" != "$last_ckpt" ] && cp "$f" "copy$n_copies.ckpt" 2>/dev/null; then
      last_ckpt=$inode n_copies=$((n_copies + 1)) n_ckpt=$((n_ckpt + 1))
    fi
  done
  if [ $(( ($(date +%s%N) - t0) / 1000000 )) -ge $((ms / 2)) ] && [ $n_ckpt -ge 1 ]; then
    kill -9 $victim
    break
  fi
  sleep 0.01
done
wait $victim 2>/dev/null
status=$?
echo "killed with status $status after $(( ($(date +%s%N) - t0) / 1000000 )) ms;" \
     "$n_copies copies ($n_ckpt checkpoints) taken while it ran"
[ $status -eq 137 ] || { echo "FAIL: the run ended by itself (status $status)"; cat killed.log; fail=1; }
[ $n_ckpt -ge 1 ] || { echo "FAIL: no checkpoint seen before the kill"; fail=1; }
if [ $n_copies -gt 0 ]; then
  "$py" check_whole.py copy* || { echo "FAIL: a file was seen half-written under its name"; fail=1; }
fi
"$py" check_whole.py run.model run.model.checkpoint ||
  { echo "FAIL: model or checkpoint not whole after the kill"; fail=1; }

"$bin" train run.toml --set train.output=run.model --set train.resume=true >log 2>&1 ||
  { echo "FAIL: resume"; cat log; fail=1; }
grep -m1 "resumed from" log

"$py" - <<'PY' || fail=1
import check_whole
ref = check_whole.records(open("ref.model", "rb").read())
run = check_whole.records(open("run.model", "rb").read())
skip = {("text", "info/provenance")}
assert set(ref) == set(run), f"records differ: {sorted(set(ref) ^ set(run))}"
tensors = [k for k in ref if k[0] == "tensor"]
assert tensors, "no tensors in the model"
for k in sorted(ref):
    if k in skip:
        continue
    assert ref[k] == run[k], f"{k[0]} record '{k[1]}' differs from the uninterrupted run's"
print(f"resumed model equals the uninterrupted run's: {len(tensors)} tensors bit-identical, "
      f"{len(ref) - len(tensors) - len(skip)} info records equal (provenance aside)")
PY
[ $fail -eq 0 ] && echo "killed_train: all checks passed"
exit $fail
