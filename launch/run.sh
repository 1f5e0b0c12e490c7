#!/usr/bin/env bash
# mpirun with what this machine needs (launch/mpi.sh: root, oversubscription, containers), for the
# README's commands:
#   launch/run.sh -np 4 build/launch/switchyard train launch/configs/smlp_small.pbtxt --resume …
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/mpi.sh"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}  # one BLAS thread per rank unless told
# Open MPI binds each of 1-2 ranks to one core by default: a rank with several threads would run
# them all on that core. Unbound, they spread over the machine.
[[ "${OPENBLAS_NUM_THREADS}" != 1 || "${SY_CPU_THREADS:-1}" != 1 ]] && sy_mpirun+=(--bind-to none)
exec "${sy_mpirun[@]}" -x OPENBLAS_NUM_THREADS "$@"
