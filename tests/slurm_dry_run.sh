#!/usr/bin/env bash
# launch/slurm/train.sbatch without Slurm: a fake `srun` (runs the command under mpirun with
# SLURM_NTASKS ranks, or exits with FAKE_SRUN_EXIT) and a fake `scontrol` (records its arguments)
# on PATH. Checks: a first job trains and checkpoints; a second one resumes from the checkpoint; a
# job whose ranks exit 75 (stopped by the signal) is requeued, a failing one is not.
#   tests/slurm_dry_run.sh SWITCHYARD_BINARY "MPIRUN [FLAGS]"
set -euo pipefail
bin=$1
mpirun_cmd=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cat > "$work/bin/srun" <<FAKE
#!/usr/bin/env bash
[ -n "\${FAKE_SRUN_EXIT:-}" ] && exit "\$FAKE_SRUN_EXIT"
while [[ "\$1" == --* ]]; do shift; done   # srun's own options
exec $mpirun_cmd -np "\$SLURM_NTASKS" -x OPENBLAS_NUM_THREADS=1 "\$@"
FAKE
printf '#!/usr/bin/env bash\necho "$@" >> "%s/scontrol.log"\n' "$work" > "$work/bin/scontrol"
chmod +x "$work/bin/srun" "$work/bin/scontrol"
export PATH="$work/bin:$PATH" SLURM_JOB_ID=4242 SLURM_NTASKS=2 SY_BIN=$bin

text="$work/corpus.txt"
for i in $(seq 2000); do echo "the router sends token $i to an expert on another rank."; done > "$text"
"$bin" prepare --out "$work/data" "$text" > /dev/null
sets=(--set name=slurm-dry --set logging.dir="$work/runs" --set parallel.ep=2
      --set data.train_path="$work/data/train.bin" --set data.val_path="$work/data/val.bin"
      --set schedule.warmup_steps=1 --set logging.sample_tokens=0)
cfg="$root/launch/configs/transformer_moe_tiny.pbtxt"
fail() { echo "FAILED: $*"; exit 1; }

out=$(bash "$root/launch/slurm/train.sbatch" "$cfg" "${sets[@]}" --set schedule.steps=3 2>&1) ||
  fail "first job: $out"
[ -f "$work/runs/slurm-dry/checkpoints/step_3/manifest.pbtxt" ] || fail "no checkpoint: $out"
out=$(bash "$root/launch/slurm/train.sbatch" "$cfg" "${sets[@]}" --set schedule.steps=5 2>&1) ||
  fail "second job: $out"
grep -q "resumed from $work/runs/slurm-dry/checkpoints at step 3" <<<"$out" || fail "no resume: $out"
code=0
FAKE_SRUN_EXIT=75 bash "$root/launch/slurm/train.sbatch" "$cfg" "${sets[@]}" > /dev/null 2>&1 ||
  code=$?
[ "$code" = 75 ] && grep -qx "requeue 4242" "$work/scontrol.log" || fail "stopped job not requeued"
FAKE_SRUN_EXIT=1 bash "$root/launch/slurm/train.sbatch" "$cfg" "${sets[@]}" > /dev/null 2>&1 && fail "exit 1 hidden"
[ "$(wc -l < "$work/scontrol.log")" = 1 ] || fail "a failed job must not be requeued"
echo "slurm dry run: trained and checkpointed, resumed at step 3, requeued on exit 75 only"
