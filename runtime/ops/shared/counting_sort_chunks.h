// The stable counting sort, cut into chunks so that a GPU can run one thread per chunk without
// atomics, and shared verbatim with the CPU implementation (contract 12).
//
//   1. count:   every chunk c counts its keys into hist[key * C + c] (key-major, chunk-minor).
//   2. totals:  counts[key] = Σ_c hist[key * C + c].
//   3. scan:    pos = exclusive prefix sum of hist in that key-major order. pos[key * C + c] is
//   then
//               where chunk c's first item with that key goes: all smaller keys come first, and
//               within a key, earlier chunks first — which is what makes the sort stable.
//   4. scatter: every chunk walks its items in order and writes each to pos[key * C + c]++. Each
//               slot of pos belongs to exactly one chunk, so there are no races.
// Keys outside [0, num_keys) are skipped in every step.
#pragma once

#include <cstdint>

#include "runtime/core/hostdevice.h"

namespace sy {
namespace kernels {

SY_HD void sort_chunk_range(int64_t n, int64_t num_chunks, int64_t chunk, int64_t* begin,
                            int64_t* end) {
  int64_t per = (n + num_chunks - 1) / num_chunks;
  int64_t b = chunk * per;
  int64_t e = b + per;
  *begin = b < n ? b : n;
  *end = e < n ? e : n;
}

SY_HD void sort_count_chunk(int32_t* hist, const int32_t* keys, int64_t n, int num_keys,
                            int64_t num_chunks, int64_t chunk) {
  for (int k = 0; k < num_keys; ++k) hist[k * num_chunks + chunk] = 0;
  int64_t b, e;
  sort_chunk_range(n, num_chunks, chunk, &b, &e);
  for (int64_t i = b; i < e; ++i) {
    int32_t k = keys[i];
    if (k >= 0 && k < num_keys) ++hist[k * num_chunks + chunk];
  }
}

SY_HD int32_t sort_key_total(const int32_t* hist, int key, int64_t num_chunks) {
  int32_t s = 0;
  for (int64_t c = 0; c < num_chunks; ++c) s += hist[key * num_chunks + c];
  return s;
}

SY_HD void sort_scatter_chunk(int32_t* order, int32_t* pos, const int32_t* keys, int64_t n,
                              int num_keys, int64_t num_chunks, int64_t chunk) {
  int64_t b, e;
  sort_chunk_range(n, num_chunks, chunk, &b, &e);
  for (int64_t i = b; i < e; ++i) {
    int32_t k = keys[i];
    if (k >= 0 && k < num_keys) order[pos[k * num_chunks + chunk]++] = static_cast<int32_t>(i);
  }
}

}  // namespace kernels
}  // namespace sy
