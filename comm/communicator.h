// The Communicator interface: collectives over a group of ranks, with a deadline on every blocking
// call (contract 7). Two backends implement it: MPI (host buffers; the CPU path and the reference)
// and NCCL (device buffers; one GPU per rank). The communicator knows nothing of experts: it moves
// bytes between ranks as the caller's layout says.
//
// Every call is collective over the group: every rank enters it, in the same order, even with
// nothing to send. Calls return when this rank's part is complete (its receive buffer is filled
// and its send buffer may be reused).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/dtype.h"
#include "runtime/core/error.h"

namespace sy {

enum class CommOp { kSum, kMax };

// Who sends what to whom in an all-to-all-v. Entry p of each vector is about peer p (the rank in
// this group); any count may be zero. Counts and offsets are in one unit: bytes for the
// communicator; a caller may keep a layout in its own unit (rows of a tensor, say) and convert it
// with in_bytes(). Offsets are into the send and receive buffers. packed() builds the common
// layout where peers' blocks sit back to back in rank order.
struct AllToAllLayout {
  std::vector<size_t> send_counts, send_offsets, recv_counts, recv_offsets;
  static AllToAllLayout packed(const std::vector<size_t>& send_counts,
                               const std::vector<size_t>& recv_counts);
  size_t total_send() const;
  size_t total_recv() const;
  // The exchange the other way: what was received is sent back to where it came from.
  AllToAllLayout reversed() const { return {recv_counts, recv_offsets, send_counts, send_offsets}; }
  // Every count and offset times `unit` (a layout in rows → in bytes).
  AllToAllLayout in_bytes(size_t unit) const;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The group's name as it appears in errors and logs: "world", "ep_group[1]", …
  const std::string& name() const { return name_; }
  virtual const char* backend_name() const = 0;

  // Each rank sends layout.send_counts[p] bytes from send + send_offsets[p] to peer p, and receives
  // layout.recv_counts[p] bytes from peer p into recv + recv_offsets[p]. The receive counts must
  // match what the peers send (exchange them first with all_to_all).
  virtual void all_to_all_v(const void* send, void* recv, const AllToAllLayout& layout) = 0;
  // Fixed-size blocks: block p of send (block_bytes each) goes to peer p; block p of recv comes
  // from peer p.
  virtual void all_to_all(const void* send, void* recv, size_t block_bytes) = 0;
  // In place: buf (count elements of dtype) becomes the elementwise sum or max over the group.
  virtual void all_reduce(void* buf, size_t count, DType dtype, CommOp op) = 0;
  // recv holds size() blocks of `bytes`; block p is peer p's send.
  virtual void all_gather(const void* send, void* recv, size_t bytes) = 0;
  // Blocks of different sizes: recv holds peer p's send_bytes (recv_bytes[p], as that peer sends)
  // at Σ_{q<p} recv_bytes[q]. The default is an all_to_all_v that sends the same block to every
  // peer; backends with a native form override it. (all_gather_v in comm/tensor_exchange.h
  // gathers the sizes first.)
  virtual void all_gather_v(const void* send, size_t send_bytes, void* recv,
                            const std::vector<size_t>& recv_bytes);
  virtual void broadcast(void* buf, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Collective: ranks with the same color form a new group, ordered by key (then by rank).
  virtual std::unique_ptr<Communicator> split(int color, int key, const std::string& name) = 0;

  // Stream-ordered communication, for backends that move device buffers on a GPU stream (NCCL).
  // all_to_all_v_on enqueues the exchange on `stream`, behind the work already queued there, and
  // returns without waiting for it: the data is in place once the stream reaches that point. The
  // caller orders it against other streams with events, and bounds it with wait_stream, which
  // waits for everything queued on `stream` within the deadline (and on expiry aborts the
  // communicator and throws TimeoutError, so no rank hangs on a stuck peer). Backends that are not
  // stream-ordered (MPI) throw: check stream_ordered() first.
  virtual bool stream_ordered() const { return false; }
  virtual void all_to_all_v_on(const void* send, void* recv, const AllToAllLayout& layout,
                               Stream stream);
  virtual void wait_stream(Stream stream, const char* op);
  // all_reduce enqueued on `stream` (device buffer), returning at once; the same rules as
  // all_to_all_v_on. Backends that are not stream-ordered throw.
  virtual void all_reduce_on(void* buf, size_t count, DType dtype, CommOp op, Stream stream);

  // The deadline, in seconds, of every blocking call on this communicator.
  double timeout_s() const { return timeout_s_; }

 protected:
  Communicator(std::string name, double timeout_s)
      : name_(std::move(name)), timeout_s_(timeout_s) {}
  // The message of a TimeoutError: names this rank, the operation and the group.
  std::string timeout_message(const char* op, const std::string& detail) const;

 private:
  std::string name_;
  double timeout_s_;
};

}  // namespace sy
