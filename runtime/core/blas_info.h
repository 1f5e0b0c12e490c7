// Which BLAS runs the CPU GEMMs, and whether it uses this CPU well (issue 17): Debian's OpenBLAS
// 0.3.21 does not recognise some new CPUs and silently runs generic kernels 3–5× slower. The
// trainer and the benchmarks print the description at start and, when it applies, the advice —
// never setting anything behind the user's back.
#pragma once

#include <string>

namespace sy {

// "OpenBLAS 0.3.21 DYNAMIC_ARCH … (core Prescott, 2 threads)".
std::string blas_description();
// The advice for a BLAS core on a CPU with these features: empty when the core fits, else the
// environment variable and value that select the right kernels.
std::string blas_kernel_advice(const std::string& core, bool cpu_avx2, bool cpu_avx512);
// The advice for this process's BLAS and CPU.
std::string blas_kernel_advice();
// The cores this process's CPU affinity allows (0 where unknown).
int cores_this_process_may_use();
// The ranks the launcher started on this node (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's
// MPI_LOCALNRANKS, Slurm's SLURM_NTASKS_PER_NODE), 1 where none says.
int ranks_on_this_node();
// The advice when `ranks` ranks of `threads` CPU threads each ask for more than the node's `cores`
// (their threads then take turns on the cores, and every threaded op waits for its slowest
// part): empty when they fit or run one thread each (more ranks than cores is the launcher's
// choice), else the thread count per rank that fits and how to set it.
std::string oversubscription_advice(int ranks, int threads, int cores);
// Rank 0 prints "# BLAS: <description>", "# CPU ops: <cpu_ops_description()>" and, when they
// apply, warnings: the kernel advice, threads beyond the cores its affinity allows, and the
// node's ranks' threads beyond its cores.
void report_blas();

}  // namespace sy
