// Tensors, the CPU backend and bf16 conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "runtime/core/caching_allocator.h"
#include "runtime/core/tensor.h"

namespace sy {
namespace {

TEST(Tensor, ShapeRowsCols) {
  Tensor t = Tensor::zeros({2, 3, 5}, DType::kF32);
  EXPECT_EQ(t.numel(), 30);
  EXPECT_EQ(t.rows(), 6);
  EXPECT_EQ(t.cols(), 5);
  EXPECT_EQ(t.dim(-1), 5);
  EXPECT_EQ(t.nbytes(), 120u);
  EXPECT_THROW(t.dim(3), Error);
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, SliceRowsIsAViewOfTheSameMemory) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor v = t.slice_rows(1, 3);
  EXPECT_EQ(v.shape(), (Shape{2, 2}));
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{2, 3, 4, 5}));
  v.fill(9);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 9, 9, 9, 9, 6, 7}));
  EXPECT_THROW(t.slice_rows(3, 5), Error);
  EXPECT_EQ(t.slice_rows(4, 4).numel(), 0);
}

TEST(Tensor, ReshapeKeepsCountAndRejectsMismatch) {
  Tensor t = Tensor::zeros({4, 6}, DType::kI32);
  EXPECT_EQ(t.reshape({2, 12}).shape(), (Shape{2, 12}));
  EXPECT_THROW(t.reshape({5, 5}), Error);
}

TEST(Tensor, WrapDoesNotOwnAndCopyFromChecksTypes) {
  std::vector<int32_t> host = {1, 2, 3};
  {
    Tensor w = Tensor::wrap(host.data(), {3}, DType::kI32);
    Tensor c = w.to(Device::cpu());
    host[0] = 7;
    EXPECT_EQ(c.to_vector<int32_t>()[0], 1);  // a copy, not an alias
    EXPECT_THROW(Tensor::zeros({3}, DType::kF32).copy_from(w), Error);
    EXPECT_THROW(Tensor::zeros({4}, DType::kI32).copy_from(w), Error);
  }
  EXPECT_EQ(host[0], 7);  // wrap's destructor left the memory alone
}

TEST(Tensor, TypedAccessIsChecked) {
  Tensor t = Tensor::zeros({2}, DType::kF32);
  EXPECT_THROW(t.data<int32_t>(), Error);
}

TEST(Tensor, EmptyTensorsWork) {
  Tensor t = Tensor::empty({0, 7}, DType::kF32);
  EXPECT_EQ(t.numel(), 0);
  EXPECT_TRUE(t.to_vector<float>().empty());
  t.fill(1.0);
  EXPECT_THROW(Tensor::empty({-1}, DType::kF32), Error);
}

TEST(Bf16, RoundsToNearestEven) {
  // 1 + 2^-8 is exactly half-way between two bf16 values (1 and 1 + 2^-7): ties go to even (1).
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  // 1 + 3·2^-8 is half-way between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))),
            1.0f + std::ldexp(1.0f, -6));
  // Values that fit in 8 significant bits are exact.
  for (float v : {0.0f, -2.5f, 3.0f, 1024.0f, -0.15625f})
    EXPECT_EQ(bf16_to_float(float_to_bf16(v)), v);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  EXPECT_TRUE(std::isinf(bf16_to_float(float_to_bf16(INFINITY))));
  // 8 significant bits: the rounding error is at most half an ulp, 2^-8 relative.
  for (float v = -100.0f; v < 100.0f; v += 0.37f) {
    float r = bf16_to_float(float_to_bf16(v));
    EXPECT_LE(std::fabs(r - v), std::fabs(v) * std::ldexp(1.0f, -8) + 1e-30f) << v;
  }
}

TEST(Backend, CudaRequestsWorkOrFailClearly) {
  // With a GPU a CUDA tensor round-trips; without one the request fails with a message about CUDA.
  if (cuda_available()) {
    Tensor t = Tensor::full({4}, DType::kF32, 2.5, Device::cuda());
    EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f, 2.5f}));
    return;
  }
  try {
    Tensor::empty({4}, DType::kF32, Device::cuda());
    FAIL() << "allocating on CUDA without a GPU must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sy

namespace sy {
namespace {

TEST(CachingAllocator, ReusesFreedBlocksAndTracksPeak) {
  int raw_allocs = 0;
  CachingAllocator pool(
      [&](size_t b) {
        ++raw_allocs;
        return std::malloc(b);
      },
      [](void* p) { std::free(p); });
  void* a = pool.allocate(1000);
  void* b = pool.allocate(3 << 20);
  EXPECT_EQ(raw_allocs, 2);
  EXPECT_EQ(pool.bytes_in_use(), 1024u + (3u << 20));
  pool.deallocate(a);
  void* c = pool.allocate(900);  // same rounded size (1 KiB): the freed block comes back
  EXPECT_EQ(c, a);
  EXPECT_EQ(raw_allocs, 2);
  pool.deallocate(b);
  pool.deallocate(c);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  EXPECT_EQ(pool.peak_bytes_in_use(), 1024u + (3u << 20));
  EXPECT_EQ(pool.bytes_cached(), 1024u + (3u << 20));
  pool.release_cached();
  EXPECT_EQ(pool.bytes_cached(), 0u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size((1 << 20) + 1), 2u << 20);
}

}  // namespace
}  // namespace sy
