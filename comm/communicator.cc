#include "comm/communicator.h"

#include <sstream>

#include "runtime/core/error.h"

namespace sy {

AllToAllLayout AllToAllLayout::packed(const std::vector<size_t>& send_counts,
                                      const std::vector<size_t>& recv_counts) {
  SY_CHECK(send_counts.size() == recv_counts.size(),
           "all-to-all layout: " << send_counts.size() << " send counts but " << recv_counts.size()
                                 << " receive counts");
  AllToAllLayout l;
  l.send_counts = send_counts;
  l.recv_counts = recv_counts;
  size_t s = 0, r = 0;
  for (size_t p = 0; p < send_counts.size(); ++p) {
    l.send_offsets.push_back(s);
    l.recv_offsets.push_back(r);
    s += send_counts[p];
    r += recv_counts[p];
  }
  return l;
}

size_t AllToAllLayout::total_send() const {
  size_t t = 0;
  for (size_t b : send_counts) t += b;
  return t;
}

size_t AllToAllLayout::total_recv() const {
  size_t t = 0;
  for (size_t b : recv_counts) t += b;
  return t;
}

AllToAllLayout AllToAllLayout::in_bytes(size_t unit) const {
  auto scale = [unit](std::vector<size_t> v) {
    for (size_t& x : v) x *= unit;
    return v;
  };
  return {scale(send_counts), scale(send_offsets), scale(recv_counts), scale(recv_offsets)};
}

void Communicator::all_gather_v(const void* send, size_t send_bytes, void* recv,
                                const std::vector<size_t>& recv_bytes) {
  AllToAllLayout l =
      AllToAllLayout::packed(std::vector<size_t>(recv_bytes.size(), send_bytes), recv_bytes);
  for (size_t& o : l.send_offsets) o = 0;  // the same block goes to every peer
  all_to_all_v(send, recv, l);
}

void Communicator::all_to_all_v_on(const void*, void*, const AllToAllLayout&, Stream) {
  SY_THROW("the " << backend_name() << " communicator '" << name_
                  << "' is not stream-ordered; use all_to_all_v on host buffers");
}

void Communicator::all_reduce_on(void*, size_t, DType, CommOp, Stream) {
  SY_THROW("the " << backend_name() << " communicator '" << name_
                  << "' is not stream-ordered; use all_reduce on host buffers");
}

void Communicator::wait_stream(Stream, const char* op) {
  SY_THROW("the " << backend_name() << " communicator '" << name_ << "' has no stream to wait for ("
                  << op << ")");
}

std::string Communicator::timeout_message(const char* op, const std::string& detail) const {
  std::ostringstream os;
  os << "deadline exceeded: " << op << " on group '" << name_ << "' (" << backend_name()
     << ", rank " << rank() << " of " << size() << ", world rank " << process_rank()
     << ") did not complete within " << timeout_s_ << " s";
  if (!detail.empty()) os << "; " << detail;
  os << ". A peer rank is missing, stuck or crashed: check the other ranks' output. Raise "
        "parallel.comm_timeout_s (or SY_COMM_TIMEOUT_S) only if the peers are just slow.";
  return os.str();
}

}  // namespace sy
