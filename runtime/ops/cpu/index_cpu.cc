// Index ops: row gather and scatter (dispatch's permutes), the stable counting sort, the
// strided permute of dimensions, and the embedding gradient (a sort by id, then sums in order), on
// the CPU.
#include <cstring>
#include <vector>

#include "runtime/ops/cpu/ops_cpu.h"
#include "runtime/ops/cpu/vectorized.h"
#include "runtime/ops/shared/counting_sort_chunks.h"
#include "runtime/ops/shared/index_math.h"

namespace sy {
namespace cpu {

// Rows are copied by several threads at once (each row by one: the indices into out are distinct).
void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index) {
  size_t row_bytes = static_cast<size_t>(in.cols()) * dtype_size(in.dtype());
  const int32_t* idx = index.data<int32_t>();
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  for_row_chunks(out.dim(0), in.cols(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (idx[i] < 0)
        std::memset(dst + i * row_bytes, 0, row_bytes);
      else
        std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
    }
  });
}

void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index) {
  size_t row_bytes = static_cast<size_t>(in.cols()) * dtype_size(in.dtype());
  const int32_t* idx = index.data<int32_t>();
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  for_row_chunks(in.dim(0), in.cols(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (idx[i] >= 0) std::memcpy(dst + idx[i] * row_bytes, src + i * row_bytes, row_bytes);
  });
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

void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index) {
  size_t es = dtype_size(in.dtype());
  const char* src = static_cast<const char*>(in.raw());
  char* dst = static_cast<char*>(out.raw());
  int64_t n = out.numel();
  if (es == 4) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    for (int64_t o = 0; o < n; ++o) d[o] = s[kernels::permute_source(index, o)];
    return;
  }
  for (int64_t o = 0; o < n; ++o)
    std::memcpy(dst + o * es, src + kernels::permute_source(index, o) * es, es);
}

void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids) {
  int64_t n = ids.numel(), vocab = dtable.dim(0), cols = dtable.cols();
  Tensor order = Tensor::empty({n}, DType::kI32), counts = Tensor::empty({vocab}, DType::kI32);
  cpu::counting_sort(order, counts, ids, static_cast<int>(vocab));
  std::vector<int32_t> offsets(static_cast<size_t>(vocab) + 1, 0);
  for (int64_t v = 0; v < vocab; ++v) offsets[v + 1] = offsets[v] + counts.data<int32_t>()[v];
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t c = 0; c < cols; ++c)
      kernels::embedding_grad_element(dtable.data<float>(), dout.data<float>(),
                                      order.data<int32_t>(), offsets.data(), v, c, cols);
}

}  // namespace cpu
}  // namespace sy
