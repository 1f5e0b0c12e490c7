// Tensor-level collectives on top of the Communicator: rows of a tensor between the ranks of a
// group, sums of tensors (gradients), and variable-size gathers of host data. Device tensors over a
// host communicator (MPI) pass through pinned host staging (comm/host_staging.h); with a
// stream-ordered communicator (NCCL) the device buffers go directly.
#pragma once

#include <vector>

#include "comm/communicator.h"
#include "comm/host_staging.h"
#include "comm/process_groups.h"
#include "runtime/core/param.h"
#include "runtime/core/tensor.h"

namespace sy {

// recv ← send over `rows`, an all-to-all layout counted in rows of the tensors (row p of
// rows.send_counts is how many rows go to peer p, from row send_offsets[p]); only those rows of
// recv are written (other rows may be in use meanwhile). Returns when recv holds the data, on every
// backend. Device tensors over host MPI pass through `staging` (null: buffers for this call only).
// Collective over comm.
void exchange_rows(const Tensor& recv, const Tensor& send, const AllToAllLayout& rows,
                   Communicator& comm, HostStaging* staging = nullptr);

// The stream-ordered form, the overlap pipeline's job (runtime/scheduler/exchange_pipeline.h).
// Host tensors: exchanges at once. Device tensors and a stream-ordered communicator (NCCL): the
// exchange is enqueued on `stream` and this returns at once. Device tensors and host MPI: copies
// the rows to `staging` on `stream`, waits for those copies, exchanges, and enqueues the copies
// back to recv on `stream` (they complete in stream order).
void exchange_rows_on(const Tensor& recv, const Tensor& send, const AllToAllLayout& rows,
                      Communicator& comm, Stream stream, HostStaging& staging);

// In place: t becomes the elementwise sum of t over comm.
void all_reduce_sum(const Tensor& t, Communicator& comm);

// The stream-ordered form, for gradient buckets reduced while backward goes on: host tensors are
// reduced at once; device tensors over NCCL are enqueued on `stream` (returns at once); device
// tensors over host MPI are copied to `staging` on `stream`, waited for, reduced, and copied back
// on `stream`.
void all_reduce_sum_on(const Tensor& t, Communicator& comm, Stream stream, HostStaging& staging);

// Sums each parameter's gradient over the ranks that hold a copy of it: expert parameters over the
// edp group, all others over the world (DESIGN.md contract 2).
void reduce_gradients(const std::vector<Param*>& params, const ProcessGroups& groups);

// Every rank's `bytes` host bytes, back to back in rank order; counts (if not null) gets each
// rank's byte count. Gathers the sizes first, then the data. Collective over comm (host buffers).
std::vector<char> all_gather_v(Communicator& comm, const void* data, size_t bytes,
                               std::vector<size_t>* counts = nullptr);

}  // namespace sy
