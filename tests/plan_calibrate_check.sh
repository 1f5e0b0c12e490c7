#!/usr/bin/env bash
# `switchyard plan --calibrate` on 2 ranks writes a profile the planner loads, and `bench
# moe-layer --hardware` prints the planner's projection of the layer next to the measurement.
# The plumbing only: no figure is asserted (timings belong to benchmarks, not tests).
set -euo pipefail
switchyard=$1
shift  # the rest: the mpiexec command line prefix
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$@" "$switchyard" plan --calibrate --emulate-link 5,20 --out "$out/here.pbtxt"
grep -q 'inter_node_gbs: 5' "$out/here.pbtxt"
"$@" "$switchyard" bench moe-layer --tokens 256 -n 1 -w 0 --rounds 2 --emulate-link 5,20 \
  --hardware "$out/here.pbtxt" --json "$out/rec.json"
grep -q '"planner_ratio"' "$out/rec.json" || { echo "FAILED: no planner ratio in the record"; exit 1; }
