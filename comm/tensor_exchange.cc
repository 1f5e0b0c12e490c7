#include "comm/tensor_exchange.h"

namespace sy {

namespace {

// The byte layout of a row exchange, checked against the buffers.
AllToAllLayout byte_layout(const Tensor& recv, const Tensor& send, const AllToAllLayout& rows) {
  const size_t n = rows.send_counts.size();
  SY_CHECK(rows.send_offsets.size() == n && rows.recv_counts.size() == n &&
               rows.recv_offsets.size() == n,
           "exchange_rows: the layout needs one entry per peer");
  SY_CHECK(send.device() == recv.device(), "exchange_rows: send and recv are on different devices");
  for (size_t p = 0; p < n; ++p)
    SY_CHECK(static_cast<int64_t>(rows.send_offsets[p] + rows.send_counts[p]) <= send.dim(0) &&
                 static_cast<int64_t>(rows.recv_offsets[p] + rows.recv_counts[p]) <= recv.dim(0),
             "exchange_rows: peer " << p << "'s rows fall outside the buffers");
  return rows.in_bytes(static_cast<size_t>(send.cols()) * dtype_size(send.dtype()));
}

// Device rows through packed pinned host buffers, copying back only the rows this exchange owns.
void exchange_staged(const Tensor& recv, const Tensor& send, const AllToAllLayout& bytes,
                     Communicator& comm, Stream stream, HostStaging& staging) {
  AllToAllLayout packed = AllToAllLayout::packed(bytes.send_counts, bytes.recv_counts);
  staging.reserve(packed.total_send(), packed.total_recv(), stream);
  Backend& cuda = backend(DeviceType::kCUDA);
  const size_t n = bytes.send_counts.size();
  for (size_t p = 0; p < n; ++p)
    cuda.copy(staging.send() + packed.send_offsets[p],
              static_cast<const char*>(send.raw()) + bytes.send_offsets[p], bytes.send_counts[p],
              stream);
  // Also orders the previous exchange's copies out of staging.recv() before MPI overwrites it.
  cuda.synchronize(stream);
  comm.all_to_all_v(staging.send(), staging.recv(), packed);
  for (size_t p = 0; p < n; ++p)
    cuda.copy(static_cast<char*>(recv.raw()) + bytes.recv_offsets[p],
              staging.recv() + packed.recv_offsets[p], bytes.recv_counts[p], stream);
}

}  // namespace

void exchange_rows_on(const Tensor& recv, const Tensor& send, const AllToAllLayout& rows,
                      Communicator& comm, Stream stream, HostStaging& staging) {
  AllToAllLayout bytes = byte_layout(recv, send, rows);
  if (send.device().is_cuda()) {  // queued on `stream`: the buffers stay reserved until it is done
    send.record_stream(stream);
    recv.record_stream(stream);
  }
  if (needs_host_staging(send.device(), comm))
    exchange_staged(recv, send, bytes, comm, stream, staging);
  else if (send.device().is_cuda())
    comm.all_to_all_v_on(send.raw(), recv.raw(), bytes, stream);
  else
    comm.all_to_all_v(send.raw(), recv.raw(), bytes);
}

void exchange_rows(const Tensor& recv, const Tensor& send, const AllToAllLayout& rows,
                   Communicator& comm, HostStaging* staging) {
  if (!needs_host_staging(send.device(), comm)) {
    // Host buffers, or NCCL's blocking form, which starts after the default stream's queued work
    // and waits for itself.
    comm.all_to_all_v(send.raw(), recv.raw(), byte_layout(recv, send, rows));
    return;
  }
  // On the default stream, so the copies out start after the compute that wrote send.
  HostStaging own;
  exchange_rows_on(recv, send, rows, comm, Stream{}, staging ? *staging : own);
  backend(DeviceType::kCUDA).synchronize(Stream{});
}

void all_reduce_sum(const Tensor& t, Communicator& comm) {
  if (comm.size() == 1 || t.numel() == 0) return;
  if (!needs_host_staging(t.device(), comm)) {
    comm.all_reduce(t.raw(), static_cast<size_t>(t.numel()), t.dtype(), CommOp::kSum);
    return;
  }
  Tensor h = t.to(Device::cpu());
  comm.all_reduce(h.raw(), static_cast<size_t>(h.numel()), h.dtype(), CommOp::kSum);
  t.copy_from(h);
}

void all_reduce_sum_on(const Tensor& t, Communicator& comm, Stream stream, HostStaging& staging) {
  if (comm.size() == 1 || t.numel() == 0) return;
  const size_t count = static_cast<size_t>(t.numel());
  if (t.device().is_cuda()) t.record_stream(stream);
  if (t.device().is_cpu()) {
    comm.all_reduce(t.raw(), count, t.dtype(), CommOp::kSum);
  } else if (!needs_host_staging(t.device(), comm)) {
    comm.all_reduce_on(t.raw(), count, t.dtype(), CommOp::kSum, stream);
  } else {
    Backend& cuda = backend(DeviceType::kCUDA);
    staging.reserve(t.nbytes(), 0, stream);
    cuda.copy(staging.send(), t.raw(), t.nbytes(), stream);
    cuda.synchronize(stream);
    comm.all_reduce(staging.send(), count, t.dtype(), CommOp::kSum);
    cuda.copy(t.raw(), staging.send(), t.nbytes(), stream);
  }
}

void reduce_gradients(const std::vector<Param*>& params, const ProcessGroups& groups) {
  for (Param* p : params) all_reduce_sum(p->grad, p->is_expert ? *groups.edp_group : *groups.world);
}

std::vector<char> all_gather_v(Communicator& comm, const void* data, size_t bytes,
                               std::vector<size_t>* counts) {
  const int n = comm.size();
  std::vector<int64_t> sizes(n);
  const int64_t mine = static_cast<int64_t>(bytes);
  comm.all_gather(&mine, sizes.data(), sizeof(int64_t));
  std::vector<size_t> recv(sizes.begin(), sizes.end());
  size_t total = 0;
  for (size_t b : recv) total += b;
  std::vector<char> all(total);
  comm.all_gather_v(data, bytes, all.data(), recv);
  if (counts) *counts = recv;
  return all;
}

}  // namespace sy
