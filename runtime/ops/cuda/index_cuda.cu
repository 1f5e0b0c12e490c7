// Index ops: row gather and scatter (dispatch's permutes), the stable counting sort, the
// strided permute of dimensions, and the embedding gradient (a sort by id, then sums in order), on
// the GPU.
// One thread per row word (gather/scatter) or per sort chunk, running the functions of
// ops/shared/index_math.h and counting_sort_chunks.h; no atomics, and CUB's integer scan is
// deterministic, so the permutation is the CPU's.
#include <cub/device/device_scan.cuh>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/counting_sort_chunks.h"
#include "runtime/ops/shared/index_math.h"

namespace sy {
namespace cuda {

namespace {

__global__ void offsets_kernel(int32_t* offsets, const int32_t* counts, int64_t vocab) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  offsets[0] = 0;
  for (int64_t v = 0; v < vocab; ++v) offsets[v + 1] = offsets[v] + counts[v];
}

__global__ void embedding_grad_kernel(float* dtable, const float* dout, const int32_t* order,
                                      const int32_t* offsets, int64_t vocab, int64_t cols) {
  SY_GRID_STRIDE(t, vocab * cols)
  kernels::embedding_grad_element(dtable, dout, order, offsets, t / cols, t % cols, cols);
}

template <typename T>
__global__ void permute_kernel(T* out, const T* in, kernels::PermuteIndex index, int64_t n) {
  SY_GRID_STRIDE(o, n) out[o] = in[kernels::permute_source(index, o)];
}

// Copies whole rows as words of type W (the widest that divides the row size).
template <typename W>
__global__ void gather_kernel(W* out, const W* in, const int32_t* idx, int64_t n, int64_t words) {
  SY_GRID_STRIDE(t, n * words) {
    const int32_t src = idx[t / words];
    out[t] = src < 0 ? W{} : in[src * words + t % words];
  }
}

template <typename W>
__global__ void scatter_kernel(W* out, const W* in, const int32_t* idx, int64_t n, int64_t words) {
  SY_GRID_STRIDE(t, n * words) {
    const int32_t dst = idx[t / words];
    if (dst >= 0) out[dst * words + t % words] = in[t];
  }
}

template <bool kScatter>
void launch_rows(void* out, const void* in, const int32_t* idx, int64_t n, size_t row_bytes,
                 Stream stream) {
  if (n == 0 || row_bytes == 0) return;
  auto go = [&](auto word) {
    using W = decltype(word);
    const int64_t words = static_cast<int64_t>(row_bytes / sizeof(W));
    launch(kScatter ? scatter_kernel<W> : gather_kernel<W>, n * words, stream, static_cast<W*>(out),
           static_cast<const W*>(in), idx, n, words);
  };
  if (row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
      reinterpret_cast<uintptr_t>(in) % 16 == 0)
    go(int4{});
  else if (row_bytes % 4 == 0)
    go(int32_t{});
  else if (row_bytes % 2 == 0)
    go(int16_t{});
  else
    go(int8_t{});
}

__global__ void sort_count_kernel(int32_t* hist, const int32_t* keys, int64_t n, int num_keys,
                                  int64_t chunks) {
  int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c < chunks) kernels::sort_count_chunk(hist, keys, n, num_keys, chunks, c);
}

__global__ void sort_totals_kernel(int32_t* counts, const int32_t* hist, int num_keys,
                                   int64_t chunks) {
  int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (k < num_keys) counts[k] = kernels::sort_key_total(hist, static_cast<int>(k), chunks);
}

__global__ void sort_scatter_kernel(int32_t* order, int32_t* pos, const int32_t* keys, int64_t n,
                                    int num_keys, int64_t chunks) {
  int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c < chunks) kernels::sort_scatter_chunk(order, pos, keys, n, num_keys, chunks, c);
}

}  // namespace

void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream) {
  launch_rows<false>(out.raw(), in.raw(), index.data<int32_t>(), out.dim(0),
                     static_cast<size_t>(in.cols()) * dtype_size(in.dtype()), stream);
}

void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream) {
  launch_rows<true>(out.raw(), in.raw(), index.data<int32_t>(), in.dim(0),
                    static_cast<size_t>(in.cols()) * dtype_size(in.dtype()), stream);
}

void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   Stream stream) {
  int64_t n = keys.numel();
  cudaStream_t s = to_cuda(stream);
  Backend& be = backend(DeviceType::kCUDA);
  be.fill(order.raw(), static_cast<size_t>(n), DType::kI32, -1.0, stream);
  if (num_keys == 0) return;
  // About 64 items per chunk, capped so the histogram (num_keys × chunks) stays under 16 MiB.
  int64_t chunks = (n + 63) / 64;
  int64_t cap = (int64_t{4} << 20) / num_keys;
  if (chunks > cap) chunks = cap;
  if (chunks < 1) chunks = 1;
  size_t cells = static_cast<size_t>(num_keys) * chunks;
  size_t scan_tmp = 0;
  SY_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_tmp, static_cast<int32_t*>(nullptr),
                                              static_cast<int32_t*>(nullptr),
                                              static_cast<int>(cells), s));
  size_t cells_bytes = (cells * sizeof(int32_t) + 255) / 256 * 256;
  char* ws = static_cast<char*>(cuda_workspace(2 * cells_bytes + scan_tmp, stream));
  auto* hist = reinterpret_cast<int32_t*>(ws);
  auto* pos = reinterpret_cast<int32_t*>(ws + cells_bytes);
  void* tmp = ws + 2 * cells_bytes;

  launch(sort_count_kernel, chunks, stream, hist, keys.data<int32_t>(), n, num_keys, chunks);
  launch(sort_totals_kernel, num_keys, stream, counts.data<int32_t>(), hist, num_keys, chunks);
  SY_CUDA_CHECK(
      cub::DeviceScan::ExclusiveSum(tmp, scan_tmp, hist, pos, static_cast<int>(cells), s));
  launch(sort_scatter_kernel, chunks, stream, order.data<int32_t>(), pos, keys.data<int32_t>(), n,
         num_keys, chunks);
}

void permute(const Tensor& out, const Tensor& in, const kernels::PermuteIndex& index,
             Stream stream) {
  const int64_t n = out.numel();
  auto go = [&](auto element) {
    using T = decltype(element);
    launch(permute_kernel<T>, n, stream, static_cast<T*>(out.raw()),
           static_cast<const T*>(in.raw()), index, n);
  };
  switch (dtype_size(in.dtype())) {
    case 1: go(uint8_t{}); break;
    case 2: go(uint16_t{}); break;
    case 4: go(uint32_t{}); break;
    default: go(uint64_t{}); break;
  }
}

void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids,
                        Stream stream) {
  int64_t n = ids.numel(), vocab = dtable.dim(0), cols = dtable.cols();
  Device d = ids.device();
  Tensor order = Tensor::empty({n}, DType::kI32, d),
         counts = Tensor::empty({vocab}, DType::kI32, d);
  Tensor offsets = Tensor::empty({vocab + 1}, DType::kI32, d);
  cuda::counting_sort(order, counts, ids, static_cast<int>(vocab), stream);
  launch(offsets_kernel, 1, stream, offsets.data<int32_t>(), counts.data<int32_t>(), vocab);
  launch(embedding_grad_kernel, vocab * cols, stream, dtable.data<float>(), dout.data<float>(),
         order.data<int32_t>(), offsets.data<int32_t>(), vocab, cols);
}

}  // namespace cuda
}  // namespace sy
