# Sourced by launch/setup.sh and launch/run.sh: the mpirun command line that works here — as root
# (containers, CI, a fresh machine after installing packages), with more ranks than cores, and on
# shared memory without the single-copy mechanism that containers forbid.
sy_mpirun=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && sy_mpirun+=(--allow-run-as-root)
mpirun --version 2>/dev/null | grep -q "Open MPI\|OpenRTE" &&
  sy_mpirun+=(--mca btl_vader_single_copy_mechanism none)
