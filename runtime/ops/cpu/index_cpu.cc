// Index ops on the CPU: row gather/scatter (the permute and unpermute of dispatch) and the stable
// counting sort, run chunk by chunk with the functions the CUDA kernels use.
#include <cstring>
#include <vector>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/shared/counting_sort_chunks.h"

namespace sy {
namespace cpu {

void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index) {
  int64_t n = out.dim(0);
  size_t row_bytes = static_cast<size_t>(in.cols()) * dtype_size(in.dtype());
  const int32_t* idx = index.data<int32_t>();
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0)
      std::memset(dst + i * row_bytes, 0, row_bytes);
    else
      std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
  }
}

void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index) {
  int64_t n = in.dim(0);
  size_t row_bytes = static_cast<size_t>(in.cols()) * dtype_size(in.dtype());
  const int32_t* idx = index.data<int32_t>();
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] >= 0) std::memcpy(dst + idx[i] * row_bytes, src + i * row_bytes, row_bytes);
}

void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   int64_t num_chunks) {
  int64_t n = keys.numel();
  if (num_chunks < 1) num_chunks = 1;
  const int32_t* k = keys.data<int32_t>();
  int32_t* ord = order.data<int32_t>();
  int32_t* cnt = counts.data<int32_t>();
  std::vector<int32_t> hist(static_cast<size_t>(num_keys) * num_chunks);
  for (int64_t c = 0; c < num_chunks; ++c)
    kernels::sort_count_chunk(hist.data(), k, n, num_keys, num_chunks, c);
  for (int key = 0; key < num_keys; ++key)
    cnt[key] = kernels::sort_key_total(hist.data(), key, num_chunks);
  // Exclusive scan in key-major order turns the histogram into start positions.
  int32_t running = 0;
  for (auto& h : hist) {
    int32_t v = h;
    h = running;
    running += v;
  }
  for (int64_t i = 0; i < n; ++i) ord[i] = -1;
  for (int64_t c = 0; c < num_chunks; ++c)
    kernels::sort_scatter_chunk(ord, hist.data(), k, n, num_keys, num_chunks, c);
}

}  // namespace cpu
}  // namespace sy
