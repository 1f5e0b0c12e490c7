#!/usr/bin/env bash
# The main job: on a fresh machine, installs what it needs, builds, prepares the default corpus
# (the text of Debian's `fortunes` package, byte-level) and trains a small sparse language model
# with expert parallelism (ep = 4) on 4 MPI ranks on the CPU, printing the loss falling and a
# generated sample at the end.
#
#   launch/train.sh                                  # the default: launch/configs/smlp_small.pbtxt
#   launch/train.sh launch/configs/gmlp_tiny.pbtxt   # another config (or your own)
#   launch/train.sh my.pbtxt --set schedule.steps=500 --set data.train_path=my/train.bin
#   SY_RANKS=8 launch/train.sh ...                   # rank count (default 4)
set -euo pipefail
SY_BUILD_TARGET=${SY_BUILD_TARGET:-switchyard}  # the command only, not the tests
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$sy_root"
config=${1:-launch/configs/smlp_small.pbtxt}
[ $# -gt 0 ] && shift
sy_prepare_fortunes
ranks=${SY_RANKS:-4}
exec "${sy_mpirun[@]}" -np "$ranks" -x OPENBLAS_NUM_THREADS=1 \
  "$sy_build/launch/switchyard" train "$config" "$@"
