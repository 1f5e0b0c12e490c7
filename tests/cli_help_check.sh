#!/usr/bin/env bash
# Every command and subcommand of `switchyard` answers --help with its usage and exit code 0, and
# an unknown option with exit code 2 (the usage printed, no MPI abort).
set -uo pipefail
sy=$1
fail=0
while read -r cmd; do
  out=$($sy $cmd --help 2>&1); code=$?
  if [[ $code != 0 || $out != *usage:* ]]; then
    echo "FAILED: '$cmd --help' exited $code: ${out:0:200}"; fail=1
  fi
  out=$($sy $cmd --no-such-option 1 2>&1); code=$?
  if [[ $code != 2 || $out != *"unknown option"* || $out == *MPI_ABORT* ]]; then
    echo "FAILED: '$cmd --no-such-option' exited $code: ${out:0:200}"; fail=1
  fi
done <<'CMDS'
train
eval
generate
prepare
ckpt inspect
ckpt verify
ckpt export
bench alltoall
bench moe-layer
bench mixer
bench step
config check
plan
CMDS
[[ $fail == 0 ]] && echo "every command: --help and usage errors ok"
exit $fail
