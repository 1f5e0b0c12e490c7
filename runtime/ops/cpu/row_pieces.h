// How the CPU GEMMs split their work over the CPU threads (runtime/core/cpu_threads.h).
//
// Row segments — one matrix, a grouped GEMM's groups, a batch's items: segment s has rows
// [starts[s], starts[s+1]) — split over the CPU threads when the GEMMs run there
// (gemms_on_cpu_threads()), each piece a single-threaded GEMM. f(s, r0, r1) computes rows [r0, r1)
// counted from segment s's start. Pieces are cut at multiples of kRowBlock from a segment's start,
// where OpenBLAS's kernels' blocks are cut too, so that every element is computed as in the whole
// call (bitwise, tested); a piece gets at least kMinMacsPerPart multiply-adds (`macs_per_row` per
// row), so that small GEMMs stay on the calling thread rather than pay a wake-up. Without the
// split, f(s, 0, rows) for every non-empty segment, OpenBLAS threading each call itself.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace sy {
namespace cpu {

constexpr int64_t kRowBlock = 64;
constexpr int64_t kMinMacsPerPart = int64_t{1} << 21;

using RowPiece = std::function<void(int64_t segment, int64_t r0, int64_t r1)>;

void for_row_pieces(const std::vector<int64_t>& starts, int64_t macs_per_row, const RowPiece& f);

}  // namespace cpu
}  // namespace sy
