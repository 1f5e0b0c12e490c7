#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

#include "runtime/core/deadline.h"
#include "runtime/core/error.h"

namespace sy {

namespace {

bool g_we_initialised = false;

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::kF32: return MPI_FLOAT;
    case DType::kI32: return MPI_INT32_T;
    case DType::kI64: return MPI_INT64_T;
    case DType::kU8: return MPI_UINT8_T;
    case DType::kF64: return MPI_DOUBLE;
    case DType::kBF16: break;
  }
  SY_THROW("the MPI communicator cannot reduce " << dtype_name(t)
                                                 << " values; reduce in f32 (cast first)");
}

// MPI counts are ints: messages above this many bytes go out as several messages with the same
// tag, which MPI delivers in order between one pair of ranks.
constexpr size_t kMaxMessage = size_t{1} << 30;
constexpr int kTagAllToAllV = 7301;

int as_int(size_t v, const char* what) {
  SY_CHECK(v <= static_cast<size_t>(INT_MAX), what << " = " << v << " exceeds MPI's int range");
  return static_cast<int>(v);
}

}  // namespace

int mpi_init(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  int provided = 0;
  if (!initialised) {
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    g_we_initialised = true;
  } else {
    MPI_Query_thread(&provided);
  }
  // Errors come back as return codes (checked by SY_MPI_CHECK), not as MPI's default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  set_process_rank(rank);
  return provided;
}

void mpi_finalize() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (g_we_initialised && initialised && !finalised) MPI_Finalize();
}

void mpi_abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "[rank %d] fatal: %s\n", process_rank(), message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s)
    : Communicator(std::move(name), timeout_s) {
  SY_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  SY_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  SY_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  SY_MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (comm_ != MPI_COMM_NULL && !finalised) MPI_Comm_free(&comm_);
}

namespace {

// f(node): what f reads from the communicator of this node's ranks (MPI_COMM_TYPE_SHARED), which
// is freed afterwards.
template <typename F>
int on_node_comm(F&& f) {
  MPI_Comm node;
  SY_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int rc = MPI_SUCCESS;
  const int value = f(node, rc);
  MPI_Comm_free(&node);
  SY_MPI_CHECK(rc);
  return value;
}

}  // namespace

int mpi_local_size() {
  return on_node_comm([](MPI_Comm node, int& rc) {
    int n = 1;
    rc = MPI_Comm_size(node, &n);
    return n;
  });
}

int mpi_node_id() {
  return on_node_comm([](MPI_Comm node, int& rc) {
    int me = 0, lowest = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    rc = MPI_Allreduce(&me, &lowest, 1, MPI_INT, MPI_MIN, node);
    return lowest;
  });
}

int mpi_local_rank() {
  return on_node_comm([](MPI_Comm node, int& rc) {
    int r = 0;
    rc = MPI_Comm_rank(node, &r);
    return r;
  });
}

std::unique_ptr<MpiCommunicator> mpi_world(double timeout_s) {
  return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, "world", timeout_s);
}

// "no data from ranks 1, 3 (world ranks 5, 7)": the peers whose receives are still pending.
std::string MpiCommunicator::missing_peers(std::vector<MPI_Request>& reqs,
                                           const std::vector<int>& recv_from) {
  std::vector<int> peers;
  for (size_t i = 0; i < reqs.size(); ++i) {
    int done = 1;
    if (recv_from[i] >= 0 && reqs[i] != MPI_REQUEST_NULL)
      MPI_Test(&reqs[i], &done, MPI_STATUS_IGNORE);
    if (!done && (peers.empty() || peers.back() != recv_from[i])) peers.push_back(recv_from[i]);
  }
  if (peers.empty()) return "";
  std::vector<int> world(peers.size());
  MPI_Group group, world_group;
  MPI_Comm_group(comm_, &group);
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  MPI_Group_translate_ranks(group, static_cast<int>(peers.size()), peers.data(), world_group,
                            world.data());
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);
  std::string text = "; no data from rank(s)", in_world = " (world rank(s)";
  for (size_t i = 0; i < peers.size(); ++i) {
    text += (i ? ", " : " ") + std::to_string(peers[i]);
    in_world += (i ? ", " : " ") + std::to_string(world[i]);
  }
  return text + in_world + ")";
}

void MpiCommunicator::wait_all(std::vector<MPI_Request>& reqs, const char* op,
                               const std::vector<int>* recv_from) {
  if (reqs.empty()) return;
  Deadline deadline(timeout_s());
  PollBackoff backoff;
  for (;;) {
    int done = 0;
    SY_MPI_CHECK(
        MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE));
    if (done) return;
    if (deadline.expired()) {
      int pending = 0;
      for (MPI_Request r : reqs) pending += r != MPI_REQUEST_NULL;
      // The requests stay posted: the job is about to be aborted by main, and freeing an active
      // request would only hide what was outstanding.
      const std::string peers = recv_from ? missing_peers(reqs, *recv_from) : "";
      throw TimeoutError(
          __FILE__, __LINE__,
          timeout_message(op, std::to_string(pending) + " of " + std::to_string(reqs.size()) +
                                  " requests still outstanding" + peers));
    }
    backoff.pause();
  }
}

void MpiCommunicator::all_to_all_v(const void* send, void* recv, const AllToAllLayout& l) {
  size_t n = static_cast<size_t>(size_);
  SY_CHECK(l.send_counts.size() == n && l.send_offsets.size() == n && l.recv_counts.size() == n &&
               l.recv_offsets.size() == n,
           "all_to_all_v on '" << name() << "': the layout must have " << n
                               << " entries per vector (one per peer)");
  std::vector<MPI_Request> reqs;
  std::vector<int> recv_from;  // per request: the peer it receives from, −1 for sends
  reqs.reserve(4 * n);
  const char* sp = static_cast<const char*>(send);
  char* rp = static_cast<char*>(recv);
  // Receives first (so arriving data lands directly), then sends; peers in rotated order starting
  // after this rank, so no single rank is everybody's first target.
  for (int step = 1; step < size_; ++step) {
    int peer = (rank_ + size_ - step) % size_;
    for (size_t off = 0; off < l.recv_counts[peer]; off += kMaxMessage) {
      size_t len = std::min(kMaxMessage, l.recv_counts[peer] - off);
      reqs.emplace_back();
      recv_from.push_back(peer);
      SY_MPI_CHECK(MPI_Irecv(rp + l.recv_offsets[peer] + off, static_cast<int>(len), MPI_BYTE, peer,
                             kTagAllToAllV, comm_, &reqs.back()));
    }
  }
  for (int step = 1; step < size_; ++step) {
    int peer = (rank_ + step) % size_;
    for (size_t off = 0; off < l.send_counts[peer]; off += kMaxMessage) {
      size_t len = std::min(kMaxMessage, l.send_counts[peer] - off);
      reqs.emplace_back();
      recv_from.push_back(-1);
      SY_MPI_CHECK(MPI_Isend(sp + l.send_offsets[peer] + off, static_cast<int>(len), MPI_BYTE, peer,
                             kTagAllToAllV, comm_, &reqs.back()));
    }
  }
  // This rank's own block is a local copy, done while the messages are in flight.
  SY_CHECK(l.send_counts[rank_] == l.recv_counts[rank_],
           "all_to_all_v on '" << name() << "': this rank sends itself " << l.send_counts[rank_]
                               << " bytes but expects " << l.recv_counts[rank_]);
  if (l.send_counts[rank_])
    std::memcpy(rp + l.recv_offsets[rank_], sp + l.send_offsets[rank_], l.send_counts[rank_]);
  wait_all(reqs, "all_to_all_v", &recv_from);
}

void MpiCommunicator::all_to_all(const void* send, void* recv, size_t block_bytes) {
  std::vector<MPI_Request> reqs(1);
  int b = as_int(block_bytes, "all_to_all block size");
  SY_MPI_CHECK(MPI_Ialltoall(send, b, MPI_BYTE, recv, b, MPI_BYTE, comm_, &reqs[0]));
  wait_all(reqs, "all_to_all");
}

void MpiCommunicator::all_reduce(void* buf, size_t count, DType dtype, CommOp op) {
  std::vector<MPI_Request> reqs(1);
  SY_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf, as_int(count, "all_reduce count"), mpi_type(dtype),
                              op == CommOp::kSum ? MPI_SUM : MPI_MAX, comm_, &reqs[0]));
  wait_all(reqs, "all_reduce");
}

void MpiCommunicator::all_gather(const void* send, void* recv, size_t bytes) {
  std::vector<MPI_Request> reqs(1);
  int b = as_int(bytes, "all_gather bytes");
  SY_MPI_CHECK(MPI_Iallgather(send, b, MPI_BYTE, recv, b, MPI_BYTE, comm_, &reqs[0]));
  wait_all(reqs, "all_gather");
}

void MpiCommunicator::all_gather_v(const void* send, size_t send_bytes, void* recv,
                                   const std::vector<size_t>& recv_bytes) {
  SY_CHECK(recv_bytes.size() == static_cast<size_t>(size_),
           "all_gather_v on '" << name() << "': " << recv_bytes.size() << " sizes for " << size_
                               << " ranks");
  std::vector<int> counts(size_), displs(size_);
  size_t at = 0;
  for (int p = 0; p < size_; ++p) {
    counts[p] = as_int(recv_bytes[p], "all_gather_v block");
    displs[p] = as_int(at, "all_gather_v offset");
    at += recv_bytes[p];
  }
  std::vector<MPI_Request> reqs(1);
  SY_MPI_CHECK(MPI_Iallgatherv(send, as_int(send_bytes, "all_gather_v bytes"), MPI_BYTE, recv,
                               counts.data(), displs.data(), MPI_BYTE, comm_, &reqs[0]));
  wait_all(reqs, "all_gather_v");
}

void MpiCommunicator::broadcast(void* buf, size_t bytes, int root) {
  SY_CHECK(root >= 0 && root < size_, "broadcast root " << root << " is not a rank of '" << name()
                                                        << "' (size " << size_ << ")");
  std::vector<MPI_Request> reqs(1);
  SY_MPI_CHECK(MPI_Ibcast(buf, as_int(bytes, "broadcast bytes"), MPI_BYTE, root, comm_, &reqs[0]));
  wait_all(reqs, "broadcast");
}

void MpiCommunicator::barrier() {
  std::vector<MPI_Request> reqs(1);
  SY_MPI_CHECK(MPI_Ibarrier(comm_, &reqs[0]));
  wait_all(reqs, "barrier");
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key, const std::string& name) {
  // MPI_Comm_split has no non-blocking form; a barrier with a deadline first makes sure every rank
  // has arrived, so the split itself cannot wait on a missing peer.
  barrier();
  MPI_Comm sub = MPI_COMM_NULL;
  SY_MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
  auto out = std::make_unique<MpiCommunicator>(sub, name, timeout_s());
  MPI_Comm_free(&sub);
  return out;
}

}  // namespace sy
