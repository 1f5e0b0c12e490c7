#!/usr/bin/env bash
# bench step --blas-threads-baseline on a corpus made here (no dependence on data/fortunes): the
# fourth setting's row appears. The plumbing only: no timing is asserted.
set -euo pipefail
sy=$1 root=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$sy" prepare --out "$d/data" "$root/README.md" "$root/docs/ARCHITECTURE.md" >/dev/null
SY_CPU_THREADS=2 "$sy" bench step "$root/launch/configs/transformer_moe_tiny.pbtxt" \
  --set parallel.ep=1 --set data.train_path="$d/data/train.bin" \
  --set data.val_path="$d/data/val.bin" -n 1 -w 0 --blas-threads-baseline
