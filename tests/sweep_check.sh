#!/usr/bin/env bash
# launch/sweep.sh end to end on a tiny MoE config at 1 and 2 ranks: every point measured and
# projected (a CSV row each, with positive times), and the two plots drawn. The plumbing only:
# no figure is asserted (timings belong to benchmarks, not tests).
set -euo pipefail
sy=$1 root=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$sy" prepare --out "$d/data" "$root/README.md" "$root/docs/ARCHITECTURE.md" >/dev/null
SWITCHYARD=$sy "$root/launch/sweep.sh" "$root/launch/configs/transformer_moe_tiny.pbtxt" \
  --ranks "1 2" --rounds 1 --out "$d/sweep" \
  --set data.train_path="$d/data/train.bin" --set data.val_path="$d/data/val.bin"
rows=$(tail -n +2 "$d/sweep/sweep.csv")
echo "$rows"
[[ $(wc -l <<<"$rows") == 4 ]] || { echo "FAILED: expected 4 points"; exit 1; }
awk -F, '$5 <= 0 || $6 <= 0 || $7 <= 0 || $8 <= 0 { bad = 1 } END { exit bad }' <<<"$rows" ||
  { echo "FAILED: a point without a positive time or rate"; exit 1; }
for png in throughput efficiency; do
  [[ -s $d/sweep/$png.png ]] || { echo "FAILED: no $png.png"; exit 1; }
done
echo "sweep: ok"
