// Tensors, the CPU backend and bf16 conversion.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_map>

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

// A raw allocator with a limit: returns null past `limit` bytes held, as cudaMalloc fails.
struct LimitedMemory {
  explicit LimitedMemory(size_t l) : limit(l) {}
  size_t limit, held = 0;
  int calls = 0;
  std::unordered_map<void*, size_t> sizes;
  std::function<void*(size_t)> alloc() {
    return [this](size_t b) -> void* {
      ++calls;
      if (held + b > limit) return nullptr;
      held += b;
      void* p = std::malloc(b);
      sizes[p] = b;
      return p;
    };
  }
  std::function<void(void*)> free() {
    return [this](void* p) {
      held -= sizes.at(p);
      sizes.erase(p);
      std::free(p);
    };
  }
};

constexpr size_t kMiB = size_t{1} << 20;

TEST(CachingAllocator, ReusesFreedBlocksAndTracksPeaks) {
  LimitedMemory mem{size_t{1} << 30};
  CachingAllocator pool(mem.alloc(), mem.free());
  void* a = pool.allocate(1000);
  void* b = pool.allocate(3 * kMiB);
  EXPECT_EQ(mem.calls, 2);
  EXPECT_EQ(pool.stats().in_use, 1024u + 3 * kMiB);
  pool.deallocate(a);
  void* c = pool.allocate(900);  // same rounded size (1 KiB): the freed block comes back
  EXPECT_EQ(c, a);
  EXPECT_EQ(mem.calls, 2);
  pool.deallocate(b);
  pool.deallocate(c);
  MemoryStats s = pool.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.peak_in_use, 1024u + 3 * kMiB);
  EXPECT_EQ(s.cached, 1024u + 3 * kMiB);
  EXPECT_EQ(s.reserved, 1024u + 3 * kMiB);
  pool.release_cached();
  EXPECT_EQ(pool.stats().cached, 0u);
  EXPECT_EQ(pool.stats().reserved, 0u);
  EXPECT_EQ(mem.held, 0u);
  pool.reset_peaks();
  EXPECT_EQ(pool.stats().peak_reserved, 0u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1025), 1536u);
  EXPECT_EQ(CachingAllocator::round_size(kMiB + 1), kMiB + (128u << 10));
}

TEST(CachingAllocator, BestFitReusesALargerBlockWithinAQuarter) {
  LimitedMemory mem{size_t{1} << 30};
  CachingAllocator pool(mem.alloc(), mem.free());
  void* a = pool.allocate(10 * kMiB);
  pool.deallocate(a);
  EXPECT_EQ(pool.allocate(9 * kMiB), a) << "10 MiB serves 9 MiB (waste 1 ≤ 9/4)";
  EXPECT_EQ(mem.calls, 1);
  pool.deallocate(a);
  void* b = pool.allocate(4 * kMiB);  // 10 MiB would waste 6 > 4/4: a new block
  EXPECT_NE(b, a);
  EXPECT_EQ(mem.calls, 2);
}

// MoE buffers change size every step: with exact size classes each new size would be a new
// block, and the cache would fill the memory. Best fit reuses blocks, and when the system still
// refuses, the cache is released and the allocation retried.
TEST(CachingAllocator, VaryingSizesUnderALimitSucceedByReuseAndRetry) {
  LimitedMemory mem(64 * kMiB);
  CachingAllocator pool(mem.alloc(), mem.free());
  size_t asked = 0;
  for (int step = 0; step < 200; ++step) {
    const size_t a_bytes = (7 + (step * 13) % 23) * kMiB + 4096 * step;  // 7–30 MiB
    const size_t b_bytes = (3 + (step * 5) % 17) * kMiB;                 // 3–20 MiB
    void* a = pool.allocate(a_bytes);
    void* b = pool.allocate(b_bytes);
    asked += a_bytes + b_bytes;
    pool.deallocate(b);
    pool.deallocate(a);
    ASSERT_LE(mem.held, 64 * kMiB);
  }
  EXPECT_GT(asked, 50 * 64 * kMiB) << "the loop must ask for far more than the limit";
  EXPECT_GT(pool.stats().retries, 0) << "the retry path was not exercised";
  EXPECT_LE(pool.stats().peak_reserved, 64 * kMiB);
}

TEST(CachingAllocator, FailsWithWhatIsInUseCachedAndAsked) {
  LimitedMemory mem(16 * kMiB);
  CachingAllocator pool(mem.alloc(), mem.free(), StreamEvents{}, "GPU");
  void* a = pool.allocate(10 * kMiB);
  try {
    pool.allocate(8 * kMiB);
    FAIL() << "8 MiB more than a 16 MiB limit with 10 in use must fail";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of GPU memory: asked for 8.0 MiB"), std::string::npos) << m;
    EXPECT_NE(m.find("10.0 MiB in use"), std::string::npos) << m;
    EXPECT_NE(m.find("Reduce data.global_batch"), std::string::npos) << m;
  }
  EXPECT_EQ(pool.stats().retries, 1);
  pool.deallocate(a);
}

// Events under the test's control: "done" only when the test says so.
struct ManualEvents {
  std::vector<std::pair<void*, bool>> events;  // (stream, done)
  StreamEvents make() {
    StreamEvents e;
    e.record = [this](Stream s) -> void* {
      events.push_back({s.handle, false});
      return reinterpret_cast<void*>(events.size());
    };
    e.done = [this](void* ev) { return events[reinterpret_cast<size_t>(ev) - 1].second; };
    return e;
  }
};

TEST(CachingAllocator, ABlockUsedOnAnotherStreamComesBackOnlyWhenThatStreamIsDone) {
  LimitedMemory mem{size_t{1} << 30};
  ManualEvents ev;
  CachingAllocator pool(mem.alloc(), mem.free(), ev.make());
  Stream compute{nullptr}, comm{reinterpret_cast<void*>(0x1)};
  void* a = pool.allocate(kMiB, compute);
  pool.record_stream(a, comm);  // an exchange on the communication stream reads it
  pool.deallocate(a);           // freed by the host while that may still run
  ASSERT_EQ(ev.events.size(), 1u);
  EXPECT_EQ(ev.events[0].first, comm.handle);
  void* b = pool.allocate(kMiB, compute);
  EXPECT_NE(b, a) << "reused while the other stream may still use it";
  pool.deallocate(b);
  ev.events[0].second = true;  // the communication stream has passed the event
  void* c = pool.allocate(kMiB, compute);
  void* d = pool.allocate(kMiB, compute);
  EXPECT_TRUE((c == a && d == b) || (c == b && d == a)) << "both blocks are free again";
}

// On the CPU backend's own streams: work is synchronous, so a block used on another stream is
// free again as soon as it is freed (an odd size, so no block of an earlier test answers).
TEST(CachingAllocator, TheCpuBackendRecordsStreamsAndFreesAtOnce) {
  Backend& cpu = backend(DeviceType::kCPU);
  Stream s = cpu.create_stream();
  void* a = cpu.allocate(37 * kMiB);  // the default stream
  cpu.deallocate(a);
  Tensor t = Tensor::empty({static_cast<int64_t>(37 * kMiB / 4)}, DType::kF32);
  EXPECT_EQ(t.raw(), a) << "the default stream's own block comes back";
  t.record_stream(s);
  void* raw = t.raw();
  t = Tensor();  // freed: the CPU's work is done, so the block is free at once
  void* b = cpu.allocate(37 * kMiB);
  EXPECT_EQ(b, raw);
  cpu.deallocate(b);
  cpu.destroy_stream(s);
}

// A block the CPU backend takes from the system comes with its pages already touched (by the CPU
// threads, first touch): writing all of it afterwards page-faults on almost none of its pages.
TEST(CachingAllocator, TheCpuBackendTouchesFreshBlocksFirst) {
  Backend& cpu = backend(DeviceType::kCPU);
  cpu.release_cached_memory();
  const size_t bytes = 41 * kMiB, pages = bytes / 4096;  // an odd size: a fresh block
  auto minor_faults = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<size_t>(u.ru_minflt);
  };
  void* p = cpu.allocate(bytes);
  const size_t before = minor_faults();
  std::memset(p, 1, bytes);
  const size_t faults = minor_faults() - before;
  cpu.deallocate(p);
  EXPECT_LT(faults, pages / 100) << "of " << pages << " pages";
}

}  // namespace
}  // namespace sy
