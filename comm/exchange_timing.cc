#include "comm/exchange_timing.h"

#include <algorithm>
#include <vector>

#include "runtime/core/clock.h"

namespace sy {

double time_all_to_all_s(Communicator& group, size_t per_peer, int reps) {
  const int n = group.size();
  std::vector<size_t> counts(n, per_peer);
  counts[group.rank()] = 0;
  const AllToAllLayout layout = AllToAllLayout::packed(counts, counts);
  std::vector<char> send(std::max<size_t>(layout.total_send(), 1)),
      recv(std::max<size_t>(layout.total_recv(), 1));
  group.all_to_all_v(send.data(), recv.data(), layout);  // warm-up
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    group.barrier();
    const double t0 = now_s();
    group.all_to_all_v(send.data(), recv.data(), layout);
    best = std::min(best, now_s() - t0);
  }
  group.all_reduce(&best, 1, DType::kF64, CommOp::kMax);
  return best;
}

}  // namespace sy
