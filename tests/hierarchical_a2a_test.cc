// The hierarchical all-to-all (comm/hierarchical_communicator.h) at np 1, 2 and 4 with emulated
// nodes: every byte lands where the flat all-to-all puts it — uneven and zero counts, blocks in
// scattered order with gaps between them (left untouched) — and a group whose nodes are not
// N ≥ 2 × L ≥ 2 consecutive ranks stays flat with the reason. (The MoE layer over it: the overlap
// test compares it bitwise with the flat exchange for every layer kind.)
#include <gtest/gtest.h>

#include <numeric>

#include "comm/hierarchical_communicator.h"
#include "comm/process_groups.h"
#include "tests/test_world.h"

namespace sy {
namespace {

// Bytes src sends dst in `round`: uneven, sometimes zero.
size_t bytes_for(int src, int dst, int round) {
  const size_t c = static_cast<size_t>((src * 7 + dst * 13 + round * 5) % 11);
  return (src + dst + round) % 4 == 0 ? 0 : c * 29 + (c % 3);
}

// A layout whose blocks sit in reverse peer order with a 5-byte gap before each.
AllToAllLayout scattered_layout(int me, int n, int round) {
  AllToAllLayout l;
  l.send_counts.resize(n), l.send_offsets.resize(n), l.recv_counts.resize(n),
      l.recv_offsets.resize(n);
  size_t s = 0, r = 0;
  for (int p = n - 1; p >= 0; --p) {
    l.send_counts[p] = bytes_for(me, p, round);
    l.recv_counts[p] = bytes_for(p, me, round);
    l.send_offsets[p] = s + 5;
    l.recv_offsets[p] = r + 5;
    s += 5 + l.send_counts[p];
    r += 5 + l.recv_counts[p];
  }
  return l;
}

// The receive buffer of one exchange over `comm` (gaps hold 0xAB).
std::vector<unsigned char> exchange(Communicator& comm, const AllToAllLayout& l, int round) {
  std::vector<unsigned char> send(l.total_send() + 5 * l.send_counts.size()),
      recv(l.total_recv() + 5 * l.recv_counts.size(), 0xAB);
  for (size_t p = 0; p < l.send_counts.size(); ++p)
    for (size_t i = 0; i < l.send_counts[p]; ++i)
      send[l.send_offsets[p] + i] =
          static_cast<unsigned char>(comm.rank() * 31 + p * 7 + i + round);
  comm.all_to_all_v(send.data(), recv.data(), l);
  return recv;
}

TEST(HierarchicalAllToAll, SameBytesAsFlatOnEmulatedNodes) {
  auto world = testing::world();
  const int w = world->size();
  for (int per_node = 1; per_node <= w; ++per_node) {
    if (w % per_node) continue;
    std::string why;
    auto h = HierarchicalCommunicator::wrap(world, world->rank() / per_node, &why);
    const bool two_level = per_node >= 2 && w / per_node >= 2;
    EXPECT_EQ(dynamic_cast<HierarchicalCommunicator*>(h.get()) != nullptr, two_level)
        << per_node << " ranks per node of " << w << ": " << why;
    EXPECT_EQ(why.empty(), two_level);
    for (int round = 0; round < 4; ++round) {
      const AllToAllLayout l = scattered_layout(world->rank(), w, round);
      EXPECT_EQ(exchange(*h, l, round), exchange(*world, l, round))
          << per_node << " ranks per node, round " << round;
    }
  }
}

TEST(HierarchicalAllToAll, IrregularNodesStayFlatWithTheReason) {
  auto world = testing::world();
  const int w = world->size();
  if (w < 4) GTEST_SKIP() << "needs 4 ranks to place two nodes in interleaved order";
  std::string why;
  auto h = HierarchicalCommunicator::wrap(world, world->rank() % 2, &why);  // nodes 0,1,0,1
  EXPECT_EQ(h.get(), world.get());
  EXPECT_NE(why.find("not consecutive"), std::string::npos) << why;
  why.clear();
  auto uneven = HierarchicalCommunicator::wrap(world, world->rank() == 0 ? 0 : 1, &why);
  EXPECT_EQ(uneven.get(), world.get());
  EXPECT_NE(why.find("different numbers"), std::string::npos) << why;
}

TEST(HierarchicalAllToAll, RunGroupsFollowTheTopology) {
  auto world = testing::world();
  const int w = world->size();
  ProcessGroups flat = make_run_groups(world, w, false, Topology{pb::FLAT, 0});
  EXPECT_EQ(dynamic_cast<HierarchicalCommunicator*>(flat.ep_group.get()), nullptr);
  ProcessGroups h = make_run_groups(world, w, false, Topology{pb::HIERARCHICAL, 2});
  EXPECT_EQ(dynamic_cast<HierarchicalCommunicator*>(h.ep_group.get()) != nullptr, w == 4)
      << "world " << w << " as nodes of 2 ranks";
  ProcessGroups a = make_run_groups(world, w, false, Topology{pb::AUTO, 2});
  EXPECT_EQ(dynamic_cast<HierarchicalCommunicator*>(a.ep_group.get()) != nullptr, w == 4);
}

// AUTO by measurement: whichever algorithm wins on this machine, every rank makes the same choice
// (a split choice would deadlock the first exchange), and the exchange gives the flat one's bytes.
TEST(HierarchicalAllToAll, AutoByMeasurementChoosesTheSameOnEveryRank) {
  auto world = testing::world();
  const int w = world->size();
  for (size_t probe : {size_t{256}, size_t{1} << 20}) {
    ProcessGroups a = make_run_groups(world, w, false, Topology{pb::AUTO, 2, probe});
    double hier = dynamic_cast<HierarchicalCommunicator*>(a.ep_group.get()) != nullptr ? 1 : 0;
    double sum = hier;
    world->all_reduce(&sum, 1, DType::kF64, CommOp::kSum);
    EXPECT_TRUE(sum == 0 || sum == w) << sum << " of " << w << " ranks chose hierarchical";
    if (w < 4) {
      EXPECT_EQ(hier, 0);  // one node of 2, or 1 rank: nothing to choose
    }
    const AllToAllLayout l = scattered_layout(world->rank(), w, 7);
    EXPECT_EQ(exchange(*a.ep_group, l, 7), exchange(*world, l, 7));
  }
}

}  // namespace
}  // namespace sy
