// The NCCL communicator with one rank per GPU. With a single GPU (the lent test machine) this runs
// at np 1: the self exchange and the collectives' plumbing; the multi-rank logic is covered by the
// MPI backend in comm_test. Skipped where the build has no NCCL or no GPU is visible.
#include <gtest/gtest.h>

#if defined(SY_WITH_NCCL)
#include "comm/nccl_communicator.h"
#endif
#include "runtime/core/tensor.h"
#include "tests/test_world.h"

namespace sy {
namespace {

TEST(Nccl, AllToAllVAndCollectivesOnDeviceBuffers) {
#if !defined(SY_WITH_NCCL)
  GTEST_SKIP() << "built without CUDA/NCCL";
#else
  if (!cuda_available()) GTEST_SKIP() << "no GPU visible";
  auto w = testing::world();
  cuda_set_device(mpi_local_rank());
  NcclCommunicator comm(w, "world", w->timeout_s());
  int n = comm.size(), me = comm.rank();
  std::vector<size_t> sb(n), rb(n);
  for (int p = 0; p < n; ++p) {
    sb[p] = 4 * static_cast<size_t>((me + 2 * p) % 3 + 1);
    rb[p] = 4 * static_cast<size_t>((p + 2 * me) % 3 + 1);
  }
  AllToAllLayout l = AllToAllLayout::packed(sb, rb);
  std::vector<int32_t> send(l.total_send() / 4);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < sb[p] / 4; ++i)
      send[l.send_offsets[p] / 4 + i] = me * 1000 + p * 10 + int(i);
  Tensor sd = Tensor::from_vector(send, {int64_t(send.size())}, Device::cuda());
  Tensor rd = Tensor::zeros({int64_t(l.total_recv() / 4)}, DType::kI32, Device::cuda());
  comm.all_to_all_v(sd.raw(), rd.raw(), l);
  auto recv = rd.to_vector<int32_t>();
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < rb[p] / 4; ++i)
      EXPECT_EQ(recv[l.recv_offsets[p] / 4 + i], p * 1000 + me * 10 + int(i));

  Tensor f = Tensor::full({3}, DType::kF32, me + 1.0, Device::cuda());
  comm.all_reduce(f.raw(), 3, DType::kF32, CommOp::kSum);
  for (float v : f.to_vector<float>()) EXPECT_EQ(v, n * (n + 1) / 2.0f);
  comm.barrier();
  auto sub = comm.split(0, me, "all");
  EXPECT_EQ(sub->size(), n);
#endif
}

}  // namespace
}  // namespace sy
