#include "experts/tensor_exchange.h"

#include <cstring>

namespace sy {

namespace {
bool needs_staging(const Tensor& t, Communicator& comm) {
  return t.device().is_cuda() && std::strcmp(comm.backend_name(), "mpi") == 0;
}
}  // namespace

void exchange_rows(const Tensor& recv, const Tensor& send, const std::vector<size_t>& send_rows,
                   const std::vector<size_t>& recv_rows, Communicator& comm) {
  // AllToAllLayout's packing works on any unit: here rows.
  RowLayout l = RowLayout::packed(send_rows, recv_rows);
  size_t so = 0, ro = 0;
  for (size_t r : send_rows) so += r;
  for (size_t r : recv_rows) ro += r;
  SY_CHECK(static_cast<int64_t>(so) == send.dim(0) && static_cast<int64_t>(ro) == recv.dim(0),
           "exchange_rows: the plan moves " << so << "/" << ro << " rows but the buffers hold "
                                            << send.dim(0) << "/" << recv.dim(0));
  exchange_rows(recv, send, l, comm);
}

void exchange_rows(const Tensor& recv, const Tensor& send, const RowLayout& l, Communicator& comm) {
  const size_t n = l.send_rows.size();
  const size_t row_bytes = static_cast<size_t>(send.cols()) * dtype_size(send.dtype());
  SY_CHECK(l.send_offsets.size() == n && l.recv_rows.size() == n && l.recv_offsets.size() == n,
           "exchange_rows: the layout needs one entry per peer");
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
  if (!needs_staging(send, comm)) {
    comm.all_to_all_v(send.raw(), recv.raw(), bytes);
    return;
  }
  // Stage through packed host buffers, copying back only the rows this exchange owns.
  AllToAllLayout packed = AllToAllLayout::packed(bytes.send_bytes, bytes.recv_bytes);
  std::vector<char> hs(packed.total_send()), hr(packed.total_recv());
  Backend& cuda = backend(DeviceType::kCUDA);
  for (size_t p = 0; p < n; ++p)
    cuda.copy(hs.data() + packed.send_offsets[p],
              static_cast<const char*>(send.raw()) + bytes.send_offsets[p], bytes.send_bytes[p],
              Stream{});
  cuda.synchronize(Stream{});
  comm.all_to_all_v(hs.data(), hr.data(), packed);
  for (size_t p = 0; p < n; ++p)
    cuda.copy(static_cast<char*>(recv.raw()) + bytes.recv_offsets[p],
              hr.data() + packed.recv_offsets[p], bytes.recv_bytes[p], Stream{});
  cuda.synchronize(Stream{});
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
