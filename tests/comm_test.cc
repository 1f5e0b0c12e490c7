// The MPI communicator at np 1, 2 and 4: every received element is checked against the sender's
// provenance (source rank, destination, index), with uneven and zero counts.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "comm/forwarding_communicator.h"
#include "comm/process_groups.h"
#include "comm/tensor_exchange.h"
#include "runtime/core/error.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// Deterministic, uneven, sometimes zero: how many ints rank src sends to rank dst.
size_t count_for(int src, int dst, int round) {
  size_t c = static_cast<size_t>((src * 7 + dst * 13 + round * 5) % 11);
  if ((src + dst + round) % 4 == 0) c = 0;
  return c * 37 + (c % 3);
}

int32_t payload(int src, int dst, size_t i) {
  return static_cast<int32_t>(src * 1000003 + dst * 10007 + static_cast<int32_t>(i));
}

void check_all_to_all_v(Communicator& comm, int round) {
  int n = comm.size(), me = comm.rank();
  std::vector<size_t> sb(n), rb(n);
  for (int p = 0; p < n; ++p) {
    sb[p] = count_for(me, p, round) * sizeof(int32_t);
    rb[p] = count_for(p, me, round) * sizeof(int32_t);
  }
  AllToAllLayout l = AllToAllLayout::packed(sb, rb);
  std::vector<int32_t> send(l.total_send() / 4), recv(l.total_recv() / 4, -7);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < sb[p] / 4; ++i) send[l.send_offsets[p] / 4 + i] = payload(me, p, i);
  comm.all_to_all_v(send.data(), recv.data(), l);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < rb[p] / 4; ++i)
      ASSERT_EQ(recv[l.recv_offsets[p] / 4 + i], payload(p, me, i))
          << "round " << round << ": element " << i << " from rank " << p;
}

TEST(Comm, AllToAllVUnevenAndZeroCounts) {
  auto w = testing::world();
  for (int round = 0; round < 6; ++round) check_all_to_all_v(*w, round);
}

TEST(Comm, AllToAllVWithAllZeroCounts) {
  auto w = testing::world();
  std::vector<size_t> zero(w->size(), 0);
  w->all_to_all_v(nullptr, nullptr, AllToAllLayout::packed(zero, zero));
}

TEST(Comm, AllToAllVOneRankSendsNothing) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  // Rank 0 sends nothing; everyone else sends 5 ints to each peer (rank 0 included).
  std::vector<size_t> sb(n), rb(n);
  for (int p = 0; p < n; ++p) {
    sb[p] = me == 0 ? 0 : 20;
    rb[p] = p == 0 ? 0 : 20;
  }
  AllToAllLayout l = AllToAllLayout::packed(sb, rb);
  std::vector<int32_t> send(l.total_send() / 4), recv(l.total_recv() / 4);
  for (int p = 0; p < n; ++p)
    for (size_t i = 0; i < sb[p] / 4; ++i) send[l.send_offsets[p] / 4 + i] = payload(me, p, i);
  w->all_to_all_v(send.data(), recv.data(), l);
  for (int p = 1; p < n; ++p)
    for (size_t i = 0; i < 5; ++i) EXPECT_EQ(recv[l.recv_offsets[p] / 4 + i], payload(p, me, i));
}

TEST(Comm, AllToAllVRespectsNonPackedOffsets) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  // Blocks in reverse peer order with gaps: offsets need not follow rank order.
  AllToAllLayout l;
  for (int p = 0; p < n; ++p) {
    l.send_counts.push_back(8);
    l.recv_counts.push_back(8);
    l.send_offsets.push_back(static_cast<size_t>(n - 1 - p) * 16);
    l.recv_offsets.push_back(static_cast<size_t>(n - 1 - p) * 16 + 4);
  }
  std::vector<int32_t> send(4 * n, -1), recv(4 * n, -1);
  for (int p = 0; p < n; ++p) {
    send[(n - 1 - p) * 4] = payload(me, p, 0);
    send[(n - 1 - p) * 4 + 1] = payload(me, p, 1);
  }
  w->all_to_all_v(send.data(), recv.data(), l);
  for (int p = 0; p < n; ++p) {
    EXPECT_EQ(recv[(n - 1 - p) * 4 + 1], payload(p, me, 0));
    EXPECT_EQ(recv[(n - 1 - p) * 4 + 2], payload(p, me, 1));
    EXPECT_EQ(recv[(n - 1 - p) * 4], -1);  // the gap is untouched
  }
}

TEST(Comm, AllToAllFixedBlocksCarriesCounts) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  std::vector<int64_t> send(n), recv(n, -1);
  for (int p = 0; p < n; ++p) send[p] = me * 100 + p;
  w->all_to_all(send.data(), recv.data(), sizeof(int64_t));
  for (int p = 0; p < n; ++p) EXPECT_EQ(recv[p], p * 100 + me);
}

TEST(Comm, AllReduceSumAndMax) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  std::vector<float> f = {1.0f * me, 2.0f, -1.0f * me};
  w->all_reduce(f.data(), f.size(), DType::kF32, CommOp::kSum);
  float tri = n * (n - 1) / 2.0f;
  EXPECT_EQ(f, (std::vector<float>{tri, 2.0f * n, -tri}));
  std::vector<int64_t> m = {me, -me, int64_t{1} << 40};
  w->all_reduce(m.data(), m.size(), DType::kI64, CommOp::kMax);
  EXPECT_EQ(m, (std::vector<int64_t>{n - 1, 0, int64_t{1} << 40}));
  std::vector<int32_t> none;
  w->all_reduce(none.data(), 0, DType::kI32, CommOp::kSum);
  EXPECT_THROW(w->all_reduce(f.data(), 1, DType::kBF16, CommOp::kSum), Error);
}

TEST(Comm, AllGatherAndBroadcast) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  int32_t mine[2] = {me, me * me};
  std::vector<int32_t> all(2 * n, -1);
  w->all_gather(mine, all.data(), sizeof(mine));
  for (int p = 0; p < n; ++p) {
    EXPECT_EQ(all[2 * p], p);
    EXPECT_EQ(all[2 * p + 1], p * p);
  }
  for (int root = 0; root < n; ++root) {
    std::vector<double> buf(5, me == root ? 3.5 + root : -1.0);
    w->broadcast(buf.data(), buf.size() * sizeof(double), root);
    for (double v : buf) EXPECT_EQ(v, 3.5 + root);
  }
  EXPECT_THROW(w->broadcast(mine, 4, n), Error);
  w->barrier();
}

// Forwards to the MPI communicator everything but all_gather_v, so the base class's form (an
// all-to-all-v, what the NCCL backend uses) is tested on the CPU.
class DefaultGatherComm final : public ForwardingCommunicator {
 public:
  using ForwardingCommunicator::ForwardingCommunicator;
  void all_gather_v(const void* send, size_t send_bytes, void* recv,
                    const std::vector<size_t>& recv_bytes) override {
    Communicator::all_gather_v(send, send_bytes, recv, recv_bytes);
  }
};

TEST(Comm, AllGatherVOfUnevenAndEmptyBlocks) {
  auto w = testing::world();
  const int n = w->size(), me = w->rank();
  DefaultGatherComm fallback(w);
  for (Communicator* c :
       {static_cast<Communicator*>(w.get()), static_cast<Communicator*>(&fallback)}) {
    SCOPED_TRACE(c->backend_name());
    // Rank p sends p values p·100 + i: rank 0 sends nothing.
    std::vector<int32_t> mine(me);
    for (int i = 0; i < me; ++i) mine[i] = me * 100 + i;
    std::vector<size_t> counts;
    std::vector<char> all = all_gather_v(*c, mine.data(), mine.size() * sizeof(int32_t), &counts);
    ASSERT_EQ(counts.size(), static_cast<size_t>(n));
    std::vector<int32_t> got(all.size() / sizeof(int32_t));
    std::memcpy(got.data(), all.data(), all.size());
    size_t at = 0;
    for (int p = 0; p < n; ++p) {
      EXPECT_EQ(counts[p], p * sizeof(int32_t));
      for (int i = 0; i < p; ++i) EXPECT_EQ(got.at(at++), p * 100 + i) << "from rank " << p;
    }
    EXPECT_EQ(at, got.size());
  }
}

TEST(Comm, SplitIntoEvenAndOddRanks) {
  auto w = testing::world();
  int me = w->rank(), n = w->size();
  auto sub = w->split(me % 2, -me, "parity");  // reverse order inside each group
  int members = (n + 1 - me % 2) / 2;
  EXPECT_EQ(sub->size(), members);
  EXPECT_EQ(sub->name(), "parity");
  // With key -me, the highest world rank of the group is rank 0 of the group.
  int32_t top = me;
  sub->all_reduce(&top, 1, DType::kI32, CommOp::kMax);
  EXPECT_EQ(sub->rank(), (top - me) / 2);
  check_all_to_all_v(*sub, 1);
}

TEST(ProcessGroups, LayoutFollowsTheDocumentedRule) {
  auto w = testing::world();
  int n = w->size(), me = w->rank();
  for (int ep = 1; ep <= n; ++ep) {
    if (n % ep != 0) {
      EXPECT_THROW(make_process_groups(w, ep), Error);
      continue;
    }
    ProcessGroups g = make_process_groups(w, ep);
    EXPECT_EQ(g.ep_group->size(), ep);
    EXPECT_EQ(g.edp_group->size(), n / ep);
    EXPECT_EQ(g.ep_group->rank(), me % ep);
    EXPECT_EQ(g.edp_group->rank(), me / ep);
    // The members of my ep group are world ranks ⌊me/ep⌋·ep … +ep−1; of my edp group me mod ep +
    // k·ep.
    std::vector<int32_t> ep_members(ep), edp_members(n / ep);
    int32_t wr = me;
    g.ep_group->all_gather(&wr, ep_members.data(), sizeof(wr));
    g.edp_group->all_gather(&wr, edp_members.data(), sizeof(wr));
    for (int i = 0; i < ep; ++i) EXPECT_EQ(ep_members[i], (me / ep) * ep + i);
    for (int j = 0; j < n / ep; ++j) EXPECT_EQ(edp_members[j], me % ep + j * ep);
    check_all_to_all_v(*g.ep_group, ep);
    check_all_to_all_v(*g.edp_group, ep + 1);
  }
}

TEST(ProcessGroups, ExpertRangeShardsTheExpertsOverTheEpGroup) {
  auto w = testing::world();
  const int n = w->size(), me = w->rank();
  ProcessGroups g = make_process_groups(w, n);
  for (int per : {1, 3}) {
    ExpertRange r = g.expert_range(per * n);
    EXPECT_EQ(r.count, per);
    EXPECT_EQ(r.first, me * per);
  }
  if (n > 1) {
    EXPECT_THROW(g.expert_range(n + 1), Error);
  }
}

}  // namespace
}  // namespace sy
