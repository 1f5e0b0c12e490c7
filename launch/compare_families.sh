#!/usr/bin/env bash
# A first small-scale look at the papers' claims: every config in launch/configs/compare/ trained
# for the same tokens (steps × global batch × T) at about the same forward FLOPs per token, on the
# default corpus, with ep = 4 on 4 ranks; prints the validation loss each reaches.
#   launch/compare_families.sh [STEPS]        (default 300)
set -euo pipefail
SY_BUILD_TARGET=${SY_BUILD_TARGET:-switchyard}  # the command only, not the tests
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$sy_root"
steps=${1:-300}
sy_prepare_fortunes
printf '%-28s %14s %12s %10s\n' config MFLOP/token val_loss ppl
for cfg in launch/configs/compare/*.pbtxt; do
  out=$("${sy_mpirun[@]}" -np 4 -x OPENBLAS_NUM_THREADS=1 "$sy_build/launch/switchyard" train "$cfg" \
        --set parallel.ep=4 --set data.train_path=data/fortunes/train.bin \
        --set data.val_path=data/fortunes/val.bin --set data.global_batch=16 \
        --set schedule.steps="$steps" --set schedule.warmup_steps=$((steps / 10)) \
        --set schedule.eval_every=0 --set schedule.eval_batches=8 --set optimizer.lr=3e-3 \
        --set logging.log_every=1000000 2>&1)
  flops=$(grep -o '[0-9.]* MFLOP per token' <<<"$out" | head -1 | cut -d' ' -f1)
  val=$(grep -o 'val [0-9.]* (ppl [0-9.]*)' <<<"$out" | tail -1)
  printf '%-28s %14s %12s %10s\n' "$(basename "$cfg" .pbtxt)" "$flops" "$(cut -d' ' -f2 <<<"$val")" \
    "$(cut -d' ' -f4 <<<"$val" | tr -d ')')"
done
