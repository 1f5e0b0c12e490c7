#include "runtime/ops/cpu/row_pieces.h"

#include <algorithm>

#include "runtime/core/cpu_threads.h"

namespace sy {
namespace cpu {

void for_row_pieces(const std::vector<int64_t>& starts, int64_t macs_per_row, const RowPiece& f) {
  const int64_t segments = static_cast<int64_t>(starts.size()) - 1;
  auto rows = [&](int64_t s) { return starts[s + 1] - starts[s]; };
  if (!gemms_on_cpu_threads()) {
    for (int64_t s = 0; s < segments; ++s)
      if (rows(s) > 0) f(s, 0, rows(s));
    return;
  }
  std::vector<int64_t> first_block(static_cast<size_t>(segments) + 1, 0);
  for (int64_t s = 0; s < segments; ++s)
    first_block[s + 1] = first_block[s] + (rows(s) + kRowBlock - 1) / kRowBlock;
  const int64_t macs_per_block = std::max<int64_t>(1, macs_per_row * kRowBlock);
  parallel_for(first_block.back(), std::max<int64_t>(1, kMinMacsPerPart / macs_per_block),
               [&](int64_t b0, int64_t b1) {
                 int64_t s = std::upper_bound(first_block.begin(), first_block.end(), b0) -
                             first_block.begin() - 1;
                 for (; s < segments && first_block[s] < b1; ++s) {
                   const int64_t lo = std::max(b0, first_block[s]) - first_block[s];
                   const int64_t hi = std::min(b1, first_block[s + 1]) - first_block[s];
                   if (hi > lo) f(s, lo * kRowBlock, std::min(hi * kRowBlock, rows(s)));
                 }
               });
}

}  // namespace cpu
}  // namespace sy
