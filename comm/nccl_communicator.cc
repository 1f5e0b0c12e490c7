#include "comm/nccl_communicator.h"

#include "comm/nccl_check.h"

#include <cuda_runtime.h>

#include "runtime/core/cuda_check.h"
#include "runtime/core/deadline.h"
#include "runtime/core/error.h"

namespace sy {

namespace {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::kF32: return ncclFloat32;
    case DType::kBF16: return ncclBfloat16;
    case DType::kI32: return ncclInt32;
    case DType::kI64: return ncclInt64;
    case DType::kU8: return ncclUint8;
    case DType::kF64: return ncclFloat64;
  }
  SY_THROW("unknown dtype for NCCL");
}

ncclConfig_t nonblocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

// An NCCL group that is closed whatever happens inside it: a throw between ncclGroupStart and
// ncclGroupEnd would otherwise leave this thread inside an open group.
class NcclGroup {
 public:
  NcclGroup() { SY_NCCL_CHECK(ncclGroupStart()); }
  ~NcclGroup() {
    if (open_) ncclGroupEnd();
  }
  void end() {
    open_ = false;
    SY_NCCL_CHECK(ncclGroupEnd());
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

 private:
  bool open_ = true;
};

}  // namespace

NcclCommunicator::NcclCommunicator(std::shared_ptr<Communicator> bootstrap, std::string name,
                                   double timeout_s)
    : Communicator(std::move(name), timeout_s), bootstrap_(std::move(bootstrap)) {
  rank_ = bootstrap_->rank();
  size_ = bootstrap_->size();
  ncclUniqueId id;
  if (rank_ == 0) SY_NCCL_CHECK(ncclGetUniqueId(&id));
  bootstrap_->broadcast(&id, sizeof(id), 0);
  ncclConfig_t config = nonblocking_config();
  Deadline deadline(timeout_s);
  SY_NCCL_CHECK(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config));
  wait_comm_ready("ncclCommInitRankConfig", deadline);
  stream_ = backend(DeviceType::kCUDA).create_stream();
  default_done_ = backend(DeviceType::kCUDA).create_event();
  SY_CUDA_CHECK(cudaMalloc(&scratch_, 4));
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<Communicator> bootstrap, ncclComm_t comm,
                                   std::string name, double timeout_s)
    : Communicator(std::move(name), timeout_s), bootstrap_(std::move(bootstrap)), comm_(comm) {
  rank_ = bootstrap_->rank();
  size_ = bootstrap_->size();
  stream_ = backend(DeviceType::kCUDA).create_stream();
  default_done_ = backend(DeviceType::kCUDA).create_event();
  SY_CUDA_CHECK(cudaMalloc(&scratch_, 4));
}

NcclCommunicator::~NcclCommunicator() {
  close_comm();
  if (scratch_) cudaFree(scratch_);
  if (stream_.handle) cudaStreamDestroy(to_cuda(stream_));
  if (default_done_.handle) cudaEventDestroy(to_cuda(default_done_));
}

// Non-blocking communicators finalize asynchronously: destroying one before its finalize has
// completed is refused (NCCL 2.28). So: finalize, poll until it completes (within the deadline),
// destroy; on an error or an expired deadline, abort instead. Never throws (a destructor calls it).
void NcclCommunicator::close_comm() noexcept {
  if (!comm_) return;
  ncclResult_t state = ncclCommFinalize(comm_);
  Deadline deadline(timeout_s());
  PollBackoff backoff;
  while (state == ncclInProgress && !deadline.expired()) {
    backoff.pause();
    if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
  }
  if (state == ncclSuccess)
    ncclCommDestroy(comm_);
  else
    ncclCommAbort(comm_);
  comm_ = nullptr;
}

void NcclCommunicator::after_default_stream() {
  SY_CUDA_CHECK(cudaEventRecord(to_cuda(default_done_), 0));
  SY_CUDA_CHECK(cudaStreamWaitEvent(to_cuda(stream_), to_cuda(default_done_), 0));
}

bool NcclCommunicator::in_progress(const char* op) {
  ncclResult_t state = ncclSuccess;
  SY_NCCL_CHECK(ncclCommGetAsyncError(comm_, &state));
  if (state == ncclSuccess || state == ncclInProgress) return state == ncclInProgress;
  // An asynchronous error: the communicator cannot be used again; abort it so that no later call
  // (or the destructor) waits on it.
  const std::string last = ncclGetLastError(comm_);
  ncclCommAbort(comm_);
  comm_ = nullptr;
  SY_THROW(op << " on group '" << name() << "' failed: " << ncclGetErrorString(state) << " ("
              << last << "); the NCCL communicator was aborted");
}

void NcclCommunicator::abort_if_expired(const char* op, const Deadline& deadline) {
  if (!deadline.expired()) return;
  ncclCommAbort(comm_);
  comm_ = nullptr;
  throw TimeoutError(__FILE__, __LINE__, timeout_message(op, "NCCL communicator aborted"));
}

void NcclCommunicator::wait_comm_ready(const char* op, const Deadline& deadline) {
  PollBackoff backoff;
  while (in_progress(op)) {
    abort_if_expired(op, deadline);
    backoff.pause();
  }
}

void NcclCommunicator::wait_stream(Stream stream, const char* op) {
  SY_CHECK(comm_ != nullptr, op << " on group '" << name()
                                << "': the NCCL communicator was aborted after an earlier failure");
  Deadline deadline(timeout_s());
  wait_comm_ready(op, deadline);
  note_host_sync();
  PollBackoff backoff;
  for (;;) {
    cudaError_t rc = cudaStreamQuery(to_cuda(stream));
    if (rc == cudaSuccess) return;
    if (rc != cudaErrorNotReady) SY_CUDA_CHECK(rc);
    in_progress(op);  // throws on an asynchronous NCCL error
    abort_if_expired(op, deadline);
    backoff.pause();
  }
}

void NcclCommunicator::enqueue_all_to_all_v(const void* send, void* recv, const AllToAllLayout& l,
                                            Stream stream) {
  SY_CHECK(comm_ != nullptr,
           "all_to_all_v on group '"
               << name() << "': the NCCL communicator was aborted after an earlier failure");
  size_t n = static_cast<size_t>(size_);
  SY_CHECK(l.send_counts.size() == n && l.send_offsets.size() == n && l.recv_counts.size() == n &&
               l.recv_offsets.size() == n,
           "all_to_all_v on '" << name() << "': the layout must have " << n
                               << " entries per vector (one per peer)");
  const char* sp = static_cast<const char*>(send);
  char* rp = static_cast<char*>(recv);
  cudaStream_t s = to_cuda(stream);
  NcclGroup group;
  for (int p = 0; p < size_; ++p) {
    if (l.send_counts[p])
      SY_NCCL_CHECK(ncclSend(sp + l.send_offsets[p], l.send_counts[p], ncclUint8, p, comm_, s));
    if (l.recv_counts[p])
      SY_NCCL_CHECK(ncclRecv(rp + l.recv_offsets[p], l.recv_counts[p], ncclUint8, p, comm_, s));
  }
  // Non-blocking communicators may answer ncclInProgress: the group is enqueued once the
  // communicator reports ready (a host poll of NCCL's state, not a wait for the data).
  group.end();
  Deadline deadline(timeout_s());
  wait_comm_ready("all_to_all_v", deadline);
}

void NcclCommunicator::all_to_all_v(const void* send, void* recv, const AllToAllLayout& l) {
  after_default_stream();
  enqueue_all_to_all_v(send, recv, l, stream_);
  wait_own_stream("all_to_all_v");
}

void NcclCommunicator::all_to_all_v_on(const void* send, void* recv, const AllToAllLayout& l,
                                       Stream stream) {
  enqueue_all_to_all_v(send, recv, l, stream);
}

void NcclCommunicator::native_all_to_all(const void* send, void* recv, size_t block_bytes) {
  const char* sp = static_cast<const char*>(send);
  char* rp = static_cast<char*>(recv);
  cudaStream_t s = to_cuda(stream_);
  after_default_stream();
  NcclGroup group;
  for (int p = 0; p < size_; ++p) {
    SY_NCCL_CHECK(ncclSend(sp + p * block_bytes, block_bytes, ncclUint8, p, comm_, s));
    SY_NCCL_CHECK(ncclRecv(rp + p * block_bytes, block_bytes, ncclUint8, p, comm_, s));
  }
  group.end();
  wait_own_stream("native_all_to_all");
}

void NcclCommunicator::all_to_all(const void* send, void* recv, size_t block_bytes) {
  std::vector<size_t> counts(size_, block_bytes);
  all_to_all_v(send, recv, AllToAllLayout::packed(counts, counts));
}

void NcclCommunicator::all_reduce(void* buf, size_t count, DType dtype, CommOp op) {
  after_default_stream();
  all_reduce_on(buf, count, dtype, op, stream_);
  wait_own_stream("all_reduce");
}

void NcclCommunicator::all_reduce_on(void* buf, size_t count, DType dtype, CommOp op,
                                     Stream stream) {
  SY_CHECK(comm_ != nullptr,
           "all_reduce on group '"
               << name() << "': the NCCL communicator was aborted after an earlier failure");
  SY_NCCL_CHECK(ncclAllReduce(buf, buf, count, nccl_type(dtype),
                              op == CommOp::kSum ? ncclSum : ncclMax, comm_, to_cuda(stream)));
  Deadline deadline(timeout_s());
  wait_comm_ready("all_reduce", deadline);
}

void NcclCommunicator::all_gather(const void* send, void* recv, size_t bytes) {
  after_default_stream();
  SY_NCCL_CHECK(ncclAllGather(send, recv, bytes, ncclUint8, comm_, to_cuda(stream_)));
  wait_own_stream("all_gather");
}

void NcclCommunicator::broadcast(void* buf, size_t bytes, int root) {
  SY_CHECK(root >= 0 && root < size_,
           "broadcast root " << root << " is not a rank of '" << name() << "'");
  after_default_stream();
  SY_NCCL_CHECK(ncclBroadcast(buf, buf, bytes, ncclUint8, root, comm_, to_cuda(stream_)));
  wait_own_stream("broadcast");
}

void NcclCommunicator::barrier() {
  after_default_stream();
  SY_NCCL_CHECK(ncclAllReduce(scratch_, scratch_, 1, ncclInt32, ncclSum, comm_, to_cuda(stream_)));
  wait_own_stream("barrier");
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key, const std::string& name) {
  std::shared_ptr<Communicator> sub_bootstrap = bootstrap_->split(color, key, name);
  ncclConfig_t config = nonblocking_config();
  ncclComm_t sub = nullptr;
  SY_NCCL_CHECK(ncclCommSplit(comm_, color, key, &sub, &config));
  Deadline deadline(timeout_s());
  wait_comm_ready("ncclCommSplit", deadline);
  auto out = std::unique_ptr<NcclCommunicator>(
      new NcclCommunicator(sub_bootstrap, sub, name, timeout_s()));
  out->wait_comm_ready("ncclCommSplit", deadline);
  return out;
}

}  // namespace sy
