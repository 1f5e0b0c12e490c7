#!/usr/bin/env bash
# The papers' orderings at a size this machine trains (issue 13): every config in
# launch/configs/reproduce/ (a: sMLP vs gMLP vs Switch/BASE/HASH, all scored on the positions after
# sMLP's prefix; b: gMLP heads; c: MH-MoE vs the X-MoE baseline at E = 8 and 32; d: M2-GPT vs a
# Transformer of equal parameters, M2-BERT vs BERT) trained for the same tokens with each seed, on
# 2 ranks with ep = 2; then the mixer crossover (e) from `switchyard bench mixer`. Writes
# launch/results/reproduce/{table.md,*.png} (launch/reproduce_report.py) and keeps every run's
# log in runs/reproduce/.
#   launch/reproduce.sh [STEPS] [SEEDS]       (default 150 "1 2": about 70 minutes on 2 cores)
#   ONLY=c launch/reproduce.sh 100 1          (one claim's configs)
set -euo pipefail
SY_BUILD_TARGET=${SY_BUILD_TARGET:-switchyard}  # the command only, not the tests
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$sy_root"
steps=${1:-150}
seeds=${2:-"1 2"}
sy_prepare_fortunes
out=runs/reproduce
mkdir -p "$out"
shopt -s nullglob  # ONLY=e matches no config: only the mixer benchmark runs
for cfg in launch/configs/reproduce/${ONLY:-}*.pbtxt; do
  for seed in $seeds; do
    name="$(basename "$cfg" .pbtxt)-s$seed"
    echo "== $name"
    "${sy_mpirun[@]}" -np 2 -x OPENBLAS_NUM_THREADS=1 "$sy_build/launch/switchyard" train "$cfg" \
      --set name="$name" --set seed="$seed" --set parallel.ep=2 --set logging.dir="$out" \
      --set data.train_path=data/fortunes/train.bin --set data.val_path=data/fortunes/val.bin \
      --set data.global_batch=16 --set schedule.steps="$steps" \
      --set schedule.warmup_steps=$((steps / 10)) --set schedule.eval_every=$((steps / 4)) \
      --set schedule.eval_batches=8 --set optimizer.lr=3e-3 --set logging.log_every=10 \
      > "$out/$name.txt" 2>&1
    grep -E "val " "$out/$name.txt" | tail -1
  done
done
if [ -z "${ONLY:-}" ] || [ "${ONLY}" = e ]; then
  OPENBLAS_NUM_THREADS=1 "$sy_build/launch/switchyard" bench mixer -b 256 -e 4096 -n 2 |
    tee "$out/mixer.txt" | tail -3
fi
python3 launch/reproduce_report.py "$out" launch/results/reproduce "$steps"
