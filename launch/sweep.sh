#!/usr/bin/env bash
# Weak and strong scaling of one training step of a config on this machine, each point beside the
# planner's projection of it (issue 16):
#
#   launch/sweep.sh CONFIG [--ranks "1 2 4"] [--batch B] [--rounds R] [--out DIR]
#                          [--emulate-link GBPS,US] [--set path=value ...]
#
# For every rank count N: calibrates the machine at N ranks (`switchyard plan --calibrate`, with
# the link: every rank a node behind it), projects the step with that profile (`switchyard plan
# --json`), and measures it (`switchyard bench step`: the median of R rounds, gradients in buckets
# overlapped with backward) — strong scaling with the global batch fixed at B·max(N), weak with
# B·N; ep = N where the model's experts allow it (the largest valid ep ≤ N otherwise; 1 for a
# dense model). Writes DIR/sweep.csv, and DIR/throughput.png and DIR/efficiency.png through
# launch/plot.py --sweep. Efficiency: strong T1 / (N·TN), weak T1 / TN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
sy=${SWITCHYARD:-$root/build/launch/switchyard}
config=${1:?usage: launch/sweep.sh CONFIG [--ranks LIST] [--batch B] [--rounds R] [--out DIR] [--emulate-link GBPS,US] [--set path=value ...]}
shift
ranks="1 2 4" batch=1 rounds=3 out=runs/sweep link="" sets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --emulate-link) link=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "launch/sweep.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ -x $sy ]] || { echo "launch/sweep.sh: no $sy; build first (launch/train.sh or cmake)" >&2; exit 2; }
mkdir -p "$out"
max=$(tr ' ' '\n' <<<"$ranks" | sort -n | tail -1)
link_args=() ; [[ -n $link ]] && link_args=(--emulate-link "$link")
csv=$out/sweep.csv
echo "mode,ranks,global_batch,ep,measured_ms,projected_ms,measured_tokens_per_s,projected_tokens_per_s" >"$csv"

# The projection of N ranks with ep ≤ N for a global batch: prints "EP STEP_MS TOKENS_PER_S".
project() {
  local n=$1 gb=$2 nodes=1 per=$1
  [[ -n $link ]] && nodes=$n per=1
  "$sy" plan "$config" "${sets[@]}" --set data.global_batch="$gb" --hardware "$out/hw_$n.pbtxt" \
    --nodes "$nodes" --gpus-per-node "$per" --json "$out/plan_${n}_$gb.jsonl" >/dev/null
  python3 - "$out/plan_${n}_$gb.jsonl" "$n" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r.get("a2a", "FLAT") == "FLAT" and not r.get("overlap", False)]
n = int(sys.argv[2])
best = max((r for r in rows if int(r.get("ep", 1)) <= n), key=lambda r: int(r.get("ep", 1)))
print(best.get("ep", 1), best["step_ms"], best["tokens_per_s"])
PY
}

# bench step's median step time (buckets overlapped) with N ranks, ep and global batch.
measure() {
  local n=$1 ep=$2 gb=$3 json=$out/step_${1}_$3.json
  "$root/launch/run.sh" -np "$n" "$sy" bench step "$config" "${sets[@]}" --set parallel.ep="$ep" \
    --set data.global_batch="$gb" -n "$rounds" -w 1 "${link_args[@]}" --json "$json" >/dev/null
  python3 - "$json" <<'PY'
import json, sys
rec = json.loads(open(sys.argv[1]).readline())
print(next(r["step_ms"] for r in rec["reduction"] if r["setting"] == "buckets overlapped"))
PY
}

for n in $ranks; do
  echo "# $n rank(s): calibrating" >&2
  "$root/launch/run.sh" -np "$n" "$sy" plan --calibrate "${link_args[@]}" --out "$out/hw_$n.pbtxt" >/dev/null
  for mode in strong weak; do
    gb=$((batch * max))
    [[ $mode == weak ]] && gb=$((batch * n))
    read -r ep proj_ms proj_tps < <(project "$n" "$gb")
    ms=$(measure "$n" "$ep" "$gb")
    tokens=$(python3 -c "import sys; print($gb * int(sys.argv[1]))" \
      "$("$sy" config check "$config" "${sets[@]}" --world "$n" --set parallel.ep="$ep" \
          --set data.global_batch="$gb" | sed -n 's/^ *seq_len: *//p' | head -1)")
    tps=$(python3 -c "print($tokens / ($ms / 1e3))")
    echo "$mode,$n,$gb,$ep,$ms,$proj_ms,$tps,$proj_tps" | tee -a "$csv" >&2
  done
done
python3 "$here/plot.py" --sweep "$csv" --out "$out"
