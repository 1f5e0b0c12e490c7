#!/usr/bin/env bash
# Switchyard's MoE layer against the same layer in PyTorch eager on this CPU (issue 17): runs
# `switchyard bench moe-layer --torch-peer launch/torch_moe_peer.py` on RANKS ranks × THREADS
# threads over the same global tokens and shapes — each round times the layer, its GEMMs, then the
# peer on RANKS·THREADS threads — and prints the ratio and the GEMM-limit fraction (medians and
# ranges over the rounds).
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
export SY_PYTHON=$python OPENBLAS_NUM_THREADS=$threads
exec "$here/run.sh" -np "$ranks" -x SY_PYTHON "${SWITCHYARD:-$here/../build/launch/switchyard}" \
  bench moe-layer --tokens $((tokens / ranks)) --set model.d_model=$d \
  --set model.moe.d_expert=$hidden -n 3 -w 1 --rounds "$rounds" \
  --torch-peer "$here/torch_moe_peer.py"
