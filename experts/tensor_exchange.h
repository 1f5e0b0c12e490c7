// Tensor-level communication for the MoE layer: moves rows between the ranks of a group, and sums
// gradients. With the MPI backend and tensors on a GPU, the data is staged through host buffers
// (MPI here is not assumed CUDA-aware); with NCCL the device buffers go directly.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "experts/dispatch_plan.h"
#include "runtime/core/tensor.h"

namespace sy {

// send (Σ send_rows, C) → recv (Σ recv_rows, C): rows [Σ_{q<p} send_rows[q], +send_rows[p]) go to
// peer p; recv holds the peers' blocks in rank order. Collective over comm.
void exchange_rows(const Tensor& recv, const Tensor& send, const std::vector<size_t>& send_rows,
                   const std::vector<size_t>& recv_rows, Communicator& comm);

// The general form: layout gives rows and row offsets per peer in send and recv; only those rows
// of recv are written (other chunks' rows may be in use by the main thread meanwhile).
void exchange_rows(const Tensor& recv, const Tensor& send, const RowLayout& layout,
                   Communicator& comm);

// In place: t becomes the elementwise sum of t over comm.
void all_reduce_sum(const Tensor& t, Communicator& comm);

}  // namespace sy
