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
  size_t row_bytes = static_cast<size_t>(send.cols()) * dtype_size(send.dtype());
  std::vector<size_t> sb(send_rows.size()), rb(recv_rows.size());
  for (size_t p = 0; p < sb.size(); ++p) {
    sb[p] = send_rows[p] * row_bytes;
    rb[p] = recv_rows[p] * row_bytes;
  }
  AllToAllLayout layout = AllToAllLayout::packed(sb, rb);
  SY_CHECK(layout.total_send() == send.nbytes() && layout.total_recv() == recv.nbytes(),
           "exchange_rows: the plan moves " << layout.total_send() << "/" << layout.total_recv()
                                            << " bytes but the buffers hold " << send.nbytes()
                                            << "/" << recv.nbytes());
  if (!needs_staging(send, comm)) {
    comm.all_to_all_v(send.raw(), recv.raw(), layout);
    return;
  }
  Tensor hs = send.to(Device::cpu());
  Tensor hr = Tensor::empty(recv.shape(), recv.dtype(), Device::cpu());
  comm.all_to_all_v(hs.raw(), hr.raw(), layout);
  recv.copy_from(hr);
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
