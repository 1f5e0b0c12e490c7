#!/usr/bin/env bash
# Switchyard's MoE layer against the same layer in PyTorch eager (launch/torch_moe_peer.py) on
# this CPU, in interleaved rounds (issue 17): each round runs `switchyard bench moe-layer` on
# RANKS ranks × THREADS threads, then the PyTorch peer on RANKS·THREADS threads, over the same
# global tokens and shapes; prints each round and the median ratio with its range, and the
# Switchyard layer's GEMM-limit fraction.
#
#   launch/cpu_vs_torch.sh [-np RANKS] [-t THREADS] [-F D_EXPERT] [-r ROUNDS] [-T TOKENS] [-d D]
#
# Needs a Python with torch (PYTHON, default: the first of python3 and /usr/bin/python3 that
# imports torch; Debian: apt-get install python3-torch). The BLAS environment (OPENBLAS_CORETYPE,
# …) is passed to both as it is.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ranks=2 threads=1 hidden=1024 rounds=5 tokens=4096 d=512
while [[ $# -gt 0 ]]; do
  case "$1" in
    -np) ranks=$2 ;; -t) threads=$2 ;; -F) hidden=$2 ;; -r) rounds=$2 ;; -T) tokens=$2 ;;
    -d) d=$2 ;;
    *) echo "usage: $0 [-np RANKS] [-t THREADS] [-F D_EXPERT] [-r ROUNDS] [-T TOKENS] [-d D]" >&2
       exit 2 ;;
  esac
  shift 2
done
python=${PYTHON:-}
if [[ -z "$python" ]]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c "import torch" 2>/dev/null; then python=$p; break; fi
  done
fi
[[ -n "$python" ]] || { echo "$0: no Python with torch (apt-get install python3-torch)" >&2; exit 2; }
sy=${SWITCHYARD:-$here/../build/launch/switchyard}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for ((r = 0; r < rounds; ++r)); do
  OPENBLAS_NUM_THREADS=$threads "$here/run.sh" -np "$ranks" "$sy" bench moe-layer \
    --tokens $((tokens / ranks)) --set model.d_model=$d --set model.moe.d_expert=$hidden \
    -n 3 -w 1 --rounds 1 --json "$out/sy$r.json" > "$out/sy$r.log"
  "$python" "$here/torch_moe_peer.py" --device cpu --threads $((ranks * threads)) \
    --tokens "$tokens" --d-model "$d" --d-expert "$hidden" -n 3 -w 1 --json "$out/torch$r.json" \
    > "$out/torch$r.log"
done
"$python" - "$out" "$rounds" "$ranks" "$threads" <<'PY'
import json, statistics, sys
out, rounds, ranks, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ratios, fractions = [], []
for r in range(rounds):
    sy = json.load(open(f"{out}/sy{r}.json"))
    pt = json.load(open(f"{out}/torch{r}.json"))
    ratios.append(pt["layer_ms"] / sy["layer_ms"])
    fractions.append(sy.get("gemm_limit_fraction", 0))
    print(f"round {r}: switchyard {sy['layer_ms']:.1f} ms ({sy.get('cpu_kernels', '?')} kernels, "
          f"GEMM-limit fraction {fractions[-1]:.2f}), torch {pt['torch']} eager "
          f"{pt['layer_ms']:.1f} ms on {pt['threads']} threads: {ratios[-1]:.2f}x")
print(f"{ranks} ranks x {threads} threads: Switchyard {statistics.median(ratios):.2f}x PyTorch "
      f"eager (median of {rounds} rounds, range {min(ratios):.2f}-{max(ratios):.2f}); GEMM-limit "
      f"fraction median {statistics.median(fractions):.2f} "
      f"(range {min(fractions):.2f}-{max(fractions):.2f})")
PY
