// Index kernels: row gather/scatter and the chunked stable counting sort of
// ops/shared/counting_sort_chunks.h (one thread per chunk, no atomics; the scan is CUB's, which is
// deterministic for integers).
#include <cub/device/device_scan.cuh>

#include "runtime/core/cuda_check.h"
#include "runtime/ops/cuda/ops_cuda.h"
#include "runtime/ops/shared/counting_sort_chunks.h"

namespace sy {
namespace cuda {

namespace {

constexpr unsigned kBlock = 256;

// Copies whole rows as words of type W (the widest that divides the row size).
template <typename W>
__global__ void gather_kernel(W* out, const W* in, const int32_t* idx, int64_t n, int64_t words) {
  int64_t total = n * words;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = t / words, w = t % words;
    int32_t src = idx[i];
    out[t] = src < 0 ? W{} : in[src * words + w];
  }
}

template <typename W>
__global__ void scatter_kernel(W* out, const W* in, const int32_t* idx, int64_t n, int64_t words) {
  int64_t total = n * words;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    int64_t i = t / words, w = t % words;
    int32_t dst = idx[i];
    if (dst >= 0) out[dst * words + w] = in[t];
  }
}

template <bool kScatter>
void launch_rows(void* out, const void* in, const int32_t* idx, int64_t n, size_t row_bytes,
                 Stream stream) {
  if (n == 0 || row_bytes == 0) return;
  cudaStream_t s = to_cuda(stream);
  auto go = [&](auto word) {
    using W = decltype(word);
    int64_t words = static_cast<int64_t>(row_bytes / sizeof(W));
    unsigned grid = grid_for(static_cast<size_t>(n * words), kBlock);
    if (kScatter)
      scatter_kernel<W>
          <<<grid, kBlock, 0, s>>>(static_cast<W*>(out), static_cast<const W*>(in), idx, n, words);
    else
      gather_kernel<W>
          <<<grid, kBlock, 0, s>>>(static_cast<W*>(out), static_cast<const W*>(in), idx, n, words);
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
  SY_CUDA_LAUNCH_CHECK();
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

  sort_count_kernel<<<grid_for(chunks, kBlock), kBlock, 0, s>>>(hist, keys.data<int32_t>(), n,
                                                                num_keys, chunks);
  SY_CUDA_LAUNCH_CHECK();
  sort_totals_kernel<<<grid_for(num_keys, kBlock), kBlock, 0, s>>>(counts.data<int32_t>(), hist,
                                                                   num_keys, chunks);
  SY_CUDA_LAUNCH_CHECK();
  SY_CUDA_CHECK(
      cub::DeviceScan::ExclusiveSum(tmp, scan_tmp, hist, pos, static_cast<int>(cells), s));
  sort_scatter_kernel<<<grid_for(chunks, kBlock), kBlock, 0, s>>>(
      order.data<int32_t>(), pos, keys.data<int32_t>(), n, num_keys, chunks);
  SY_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace sy
