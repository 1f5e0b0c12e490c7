#include "experts/tensor_exchange.h"

#include <cstring>

namespace sy {

namespace {
bool needs_staging(const Tensor& t, Communicator& comm) {
  return t.device().is_cuda() && std::strcmp(comm.backend_name(), "mpi") == 0;
}
}  // namespace

void exchange_rows(const Tensor& recv, const Tensor& send, const std::vector<size_t>& send_rows,
                   const std::vector<size_t>& recv_rows, Communicator& comm, HostStaging* staging) {
  // AllToAllLayout's packing works on any unit: here rows.
  RowLayout l = RowLayout::packed(send_rows, recv_rows);
  size_t so = 0, ro = 0;
  for (size_t r : send_rows) so += r;
  for (size_t r : recv_rows) ro += r;
  SY_CHECK(static_cast<int64_t>(so) == send.dim(0) && static_cast<int64_t>(ro) == recv.dim(0),
           "exchange_rows: the plan moves " << so << "/" << ro << " rows but the buffers hold "
                                            << send.dim(0) << "/" << recv.dim(0));
  exchange_rows(recv, send, l, comm, staging);
}

namespace {

// The byte layout of a row exchange, checked against the buffers.
AllToAllLayout byte_layout(const Tensor& recv, const Tensor& send, const RowLayout& l) {
  const size_t n = l.send_rows.size();
  const size_t row_bytes = static_cast<size_t>(send.cols()) * dtype_size(send.dtype());
  SY_CHECK(l.send_offsets.size() == n && l.recv_rows.size() == n && l.recv_offsets.size() == n,
           "exchange_rows: the layout needs one entry per peer");
  SY_CHECK(send.device() == recv.device(), "exchange_rows: send and recv are on different devices");
  for (size_t p = 0; p < n; ++p)
    SY_CHECK(static_cast<int64_t>(l.send_offsets[p] + l.send_rows[p]) <= send.dim(0) &&
                 static_cast<int64_t>(l.recv_offsets[p] + l.recv_rows[p]) <= recv.dim(0),
             "exchange_rows: peer " << p << "'s rows fall outside the buffers");
  AllToAllLayout bytes;
  for (size_t p = 0; p < n; ++p) {
    bytes.send_bytes.push_back(l.send_rows[p] * row_bytes);
    bytes.recv_bytes.push_back(l.recv_rows[p] * row_bytes);
    bytes.send_offsets.push_back(l.send_offsets[p] * row_bytes);
    bytes.recv_offsets.push_back(l.recv_offsets[p] * row_bytes);
  }
  return bytes;
}

}  // namespace

HostStaging::~HostStaging() {
  if (!send_ && !recv_) return;
  Backend& b = backend(DeviceType::kCUDA);
  b.deallocate_pinned(send_);
  b.deallocate_pinned(recv_);
}

void HostStaging::reserve(size_t send_bytes, size_t recv_bytes, Stream stream) {
  if (send_bytes <= send_cap_ && recv_bytes <= recv_cap_) return;
  Backend& b = backend(DeviceType::kCUDA);
  b.synchronize(stream);
  auto grow = [&](char*& buf, size_t& cap, size_t want) {
    if (want <= cap) return;
    b.deallocate_pinned(buf);
    buf = nullptr;
    cap = want + want / 4;  // headroom: chunk sizes vary from step to step
    buf = static_cast<char*>(b.allocate_pinned(cap));
  };
  grow(send_, send_cap_, send_bytes);
  grow(recv_, recv_cap_, recv_bytes);
}

void exchange_rows_on(const Tensor& recv, const Tensor& send, const RowLayout& l,
                      Communicator& comm, Stream stream, HostStaging& staging) {
  AllToAllLayout bytes = byte_layout(recv, send, l);
  if (!send.device().is_cuda()) {
    comm.all_to_all_v(send.raw(), recv.raw(), bytes);
    return;
  }
  if (comm.stream_ordered()) {
    comm.all_to_all_v_on(send.raw(), recv.raw(), bytes, stream);
    return;
  }
  // Stage through packed host buffers, copying back only the rows this exchange owns.
  AllToAllLayout packed = AllToAllLayout::packed(bytes.send_bytes, bytes.recv_bytes);
  staging.reserve(packed.total_send(), packed.total_recv(), stream);
  Backend& cuda = backend(DeviceType::kCUDA);
  const size_t n = bytes.send_bytes.size();
  for (size_t p = 0; p < n; ++p)
    cuda.copy(staging.send() + packed.send_offsets[p],
              static_cast<const char*>(send.raw()) + bytes.send_offsets[p], bytes.send_bytes[p],
              stream);
  // Also orders the previous exchange's copies out of staging.recv() before MPI overwrites it.
  cuda.synchronize(stream);
  comm.all_to_all_v(staging.send(), staging.recv(), packed);
  for (size_t p = 0; p < n; ++p)
    cuda.copy(static_cast<char*>(recv.raw()) + bytes.recv_offsets[p],
              staging.recv() + packed.recv_offsets[p], bytes.recv_bytes[p], stream);
}

void exchange_rows(const Tensor& recv, const Tensor& send, const RowLayout& l, Communicator& comm,
                   HostStaging* staging) {
  if (!send.device().is_cuda()) {
    comm.all_to_all_v(send.raw(), recv.raw(), byte_layout(recv, send, l));
    return;
  }
  if (comm.stream_ordered()) {
    // The blocking form starts after the default stream's queued work and waits for itself.
    comm.all_to_all_v(send.raw(), recv.raw(), byte_layout(recv, send, l));
    return;
  }
  // On the default stream, so the copies out start after the compute that wrote send.
  HostStaging own;
  exchange_rows_on(recv, send, l, comm, Stream{}, staging ? *staging : own);
  backend(DeviceType::kCUDA).synchronize(Stream{});
}

void all_reduce_sum(const Tensor& t, Communicator& comm) {
  if (comm.size() == 1 || t.numel() == 0) return;
  if (!needs_staging(t, comm)) {
    comm.all_reduce(t.raw(), static_cast<size_t>(t.numel()), t.dtype(), CommOp::kSum);
    return;
  }
  Tensor h = t.to(Device::cpu());
  comm.all_reduce(h.raw(), static_cast<size_t>(h.numel()), h.dtype(), CommOp::kSum);
  t.copy_from(h);
}

}  // namespace sy
